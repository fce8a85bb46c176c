/* SPDX-License-Identifier: Apache-2.0 */
/* confpool provider register|show (az provider ...). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "basic/cleanup.h"
#include "cli/cli-az.h"

static const cp_az_arg register_args[] = {
        { "--namespace -n", CP_AZ_STR, true, NULL, NULL, "The resource namespace, aka 'provider'." },
        { "--wait", CP_AZ_FLAG, false, NULL, NULL, "Wait for the registration to finish." },
        { "--consent-to-permissions", CP_AZ_FLAG, false, NULL, NULL, "Accepted for compatibility." },
};
static const cp_az_cmd register_cmd = {
        "provider register", "Register a provider.", register_args, CP_ELEMENTSOF(register_args),
        "    Register a provider\n        confpool provider register --namespace Microsoft.ContainerService\n",
};

static const cp_az_arg show_args[] = {
        { "--namespace -n", CP_AZ_STR, true, NULL, NULL, "The resource namespace, aka 'provider'." },
        { "--expand", CP_AZ_STR, false, NULL, NULL, "Accepted for compatibility." },
};
static const cp_az_cmd show_cmd = { "provider show", "Gets the specified resource provider.", show_args,
                                    CP_ELEMENTSOF(show_args), NULL };

static const cp_azout_table_spec provider_table = {
        "{Namespace:namespace, RegistrationPolicy:registrationPolicy, RegistrationState:registrationState}"
};

static char *provider_url(cp_az_ctx *ctx, const char *action) {
        _cleanup_free_ char *ns = cp_az_escape(cp_az_str(ctx, "--namespace"));
        _cleanup_free_ char *path = NULL;
        if (!ns || asprintf(&path, "/providers/%s%s%s", ns, action ? "/" : "", action ? action : "") < 0)
                return NULL;
        return cp_az_url(ctx, path, CP_AZ_API_RESOURCES, NULL);
}

static int provider_register(cp_az_ctx *ctx) {
        int r = cp_az_connect(ctx);
        if (r)
                return r;
        _cleanup_free_ char *url = provider_url(ctx, "register");
        cp_httpc_response resp;
        json_t *j = NULL;
        if ((r = cp_az_call(ctx, "POST", url, NULL, NULL, &resp, &j)) != 0)
                return r;
        if (resp.status >= 300)
                r = cp_az_service_error(&resp, j, false);
        json_decref(j);
        cp_httpc_response_clear(&resp);
        if (r || !cp_az_flag(ctx, "--wait"))
                return r; /* az prints nothing */
        _cleanup_free_ char *get = provider_url(ctx, NULL);
        time_t deadline = time(NULL) + 3600;
        for (;;) {
                if ((r = cp_az_call(ctx, "GET", get, NULL, NULL, &resp, &j)) != 0)
                        return r;
                const char *st = json_string_value(json_object_get(j, "registrationState"));
                bool done = resp.status != 200 || (st && !strcasecmp(st, "Registered"));
                if (resp.status != 200)
                        r = cp_az_service_error(&resp, j, false);
                json_decref(j);
                cp_httpc_response_clear(&resp);
                if (done)
                        return r;
                if (time(NULL) > deadline) {
                        cp_az_error("Timed out waiting for the provider registration.");
                        return CP_EXIT_FAILURE;
                }
                cp_az_sleep_ms(2000);
        }
}

static int provider_show(cp_az_ctx *ctx) {
        int r = cp_az_connect(ctx);
        if (r)
                return r;
        _cleanup_free_ char *url = provider_url(ctx, NULL);
        return cp_az_simple(ctx, "GET", url, NULL, true, NULL, &provider_table);
}

static const cp_az_entry entries[] = {
        { "register", &register_cmd, provider_register, NULL },
        { "show", &show_cmd, provider_show, NULL },
};
static const cp_az_group provider_group = { "provider", "Manage resource providers.", entries,
                                            CP_ELEMENTSOF(entries) };

int cp_cmd_provider(int argc, char **argv) {
        return cp_az_run_group(&provider_group, argc, argv);
}
