/* SPDX-License-Identifier: Apache-2.0 */
/* confpool feature register|unregister|show|list (az feature ..., Microsoft.Features). */
#include <stdlib.h>
#include <string.h>

#include "basic/cleanup.h"
#include "cli/cli-az.h"

static const cp_az_arg one_args[] = {
        { "--namespace", CP_AZ_STR, true, NULL, NULL, "The resource namespace, aka 'provider'." },
        { "--name -n", CP_AZ_STR, true, NULL, NULL, "The feature name." },
};
static const cp_az_cmd register_cmd = {
        "feature register", "Register a preview feature.", one_args, CP_ELEMENTSOF(one_args),
        "    register the \"AzureLinuxCVMPreview\" feature of \"Microsoft.ContainerService\"\n"
        "        confpool feature register --namespace Microsoft.ContainerService --name AzureLinuxCVMPreview\n",
};
static const cp_az_cmd unregister_cmd = { "feature unregister", "Unregister a preview feature.", one_args,
                                          CP_ELEMENTSOF(one_args), NULL };
static const cp_az_cmd show_cmd = { "feature show", "Get the feature.", one_args, CP_ELEMENTSOF(one_args), NULL };

static const cp_az_arg list_args[] = {
        { "--namespace", CP_AZ_STR, false, NULL, NULL, "The resource namespace, aka 'provider'." },
};
static const cp_az_cmd list_cmd = { "feature list", "List preview features.", list_args, CP_ELEMENTSOF(list_args),
                                    NULL };

static const cp_azout_table_spec feature_table = { "{Name:name, RegistrationState:properties.state}" };

static char *feature_url(cp_az_ctx *ctx, const char *action) {
        _cleanup_free_ char *ns = cp_az_escape(cp_az_str(ctx, "--namespace"));
        _cleanup_free_ char *f = cp_az_escape(cp_az_str(ctx, "--name"));
        _cleanup_free_ char *path = NULL;
        if (!ns || !f ||
            asprintf(&path, "/providers/Microsoft.Features/providers/%s/features/%s%s%s", ns, f, action ? "/" : "",
                     action ? action : "") < 0)
                return NULL;
        return cp_az_url(ctx, path, CP_AZ_API_FEATURES, NULL);
}

static int feature_action(cp_az_ctx *ctx, const char *action) {
        int r = cp_az_connect(ctx);
        if (r)
                return r;
        _cleanup_free_ char *url = feature_url(ctx, action);
        cp_httpc_response resp;
        json_t *j = NULL;
        if ((r = cp_az_call(ctx, "POST", url, NULL, NULL, &resp, &j)) != 0)
                return r;
        if (resp.status >= 300)
                r = cp_az_service_error(&resp, j, false);
        else {
                cp_az_warn(ctx,
                           "Once the feature '%s' is %s, invoking 'confpool provider register -n %s' is required to get "
                           "the change propagated",
                           cp_az_str(ctx, "--name"), strcmp(action, "register") ? "unregistered" : "registered",
                           cp_az_str(ctx, "--namespace"));
                r = cp_az_output(ctx, j, &feature_table);
        }
        json_decref(j);
        cp_httpc_response_clear(&resp);
        return r;
}

static int feature_register(cp_az_ctx *ctx) {
        return feature_action(ctx, "register");
}

static int feature_unregister(cp_az_ctx *ctx) {
        return feature_action(ctx, "unregister");
}

static int feature_show(cp_az_ctx *ctx) {
        int r = cp_az_connect(ctx);
        if (r)
                return r;
        _cleanup_free_ char *url = feature_url(ctx, NULL);
        return cp_az_simple(ctx, "GET", url, NULL, true, NULL, &feature_table);
}

static int feature_list(cp_az_ctx *ctx) {
        int r = cp_az_connect(ctx);
        if (r)
                return r;
        _cleanup_free_ char *url = NULL;
        if (cp_az_str(ctx, "--namespace")) {
                _cleanup_free_ char *ns = cp_az_escape(cp_az_str(ctx, "--namespace"));
                _cleanup_free_ char *path = NULL;
                if (ns && asprintf(&path, "/providers/Microsoft.Features/providers/%s/features", ns) >= 0)
                        url = cp_az_url(ctx, path, CP_AZ_API_FEATURES, NULL);
        } else
                url = cp_az_url(ctx, "/providers/Microsoft.Features/features", CP_AZ_API_FEATURES, NULL);
        json_t *list = NULL;
        if ((r = cp_az_list(ctx, url, NULL, &list)) != 0)
                return r;
        r = cp_az_output(ctx, list, &feature_table);
        json_decref(list);
        return r;
}

static const cp_az_entry entries[] = {
        { "list", &list_cmd, feature_list, NULL },
        { "register", &register_cmd, feature_register, NULL },
        { "show", &show_cmd, feature_show, NULL },
        { "unregister", &unregister_cmd, feature_unregister, NULL },
};
static const cp_az_group feature_group = { "feature", "Manage resource provider features.", entries,
                                           CP_ELEMENTSOF(entries) };

int cp_cmd_feature(int argc, char **argv) {
        return cp_az_run_group(&feature_group, argc, argv);
}
