/* SPDX-License-Identifier: Apache-2.0 */
/* confpool group create|show|list|delete (az group ...). */
#include <stdlib.h>
#include <string.h>

#include "basic/cleanup.h"
#include "cli/cli-az.h"

static const cp_az_arg create_args[] = {
        { "--name --resource-group -n -g", CP_AZ_STR, true, NULL, NULL, "Name of the new resource group." },
        { "--location -l", CP_AZ_STR, true, NULL, NULL, "Location, e.g. westus." },
        { "--tags", CP_AZ_LIST, false, NULL, NULL,
          "Space-separated tags: key[=value] [key[=value] ...]. Use \"\" to clear existing tags." },
        { "--managed-by", CP_AZ_STR, false, NULL, NULL, "The ID of the resource that manages this resource group." },
};
static const cp_az_cmd create_cmd = {
        "group create", "Create a new resource group.", create_args, CP_ELEMENTSOF(create_args),
        "    Create a new resource group in the West US region.\n"
        "        confpool group create -l westus -n MyResourceGroup\n",
};

static const cp_az_arg name_args[] = {
        { "--name --resource-group -n -g", CP_AZ_STR, true, NULL, NULL, "Name of resource group." },
};
static const cp_az_cmd show_cmd = { "group show", "Gets a resource group.", name_args, CP_ELEMENTSOF(name_args), NULL };

static const cp_az_arg list_args[] = {
        { "--tag", CP_AZ_STR, false, NULL, NULL, "A single tag in 'key[=value]' format." },
};
static const cp_az_cmd list_cmd = { "group list", "List resource groups.", list_args, CP_ELEMENTSOF(list_args), NULL };

static const cp_az_arg delete_args[] = {
        { "--name --resource-group -n -g", CP_AZ_STR, true, NULL, NULL, "Name of resource group." },
        { "--no-wait", CP_AZ_FLAG, false, NULL, NULL, "Do not wait for the long-running operation to finish." },
        { "--yes -y", CP_AZ_FLAG, false, NULL, NULL, "Do not prompt for confirmation." },
};
static const cp_az_cmd delete_cmd = { "group delete", "Delete a resource group.", delete_args,
                                      CP_ELEMENTSOF(delete_args), NULL };

static const cp_azout_table_spec group_table = { "{Name:name, Location:location, Status:properties.provisioningState}" };

static char *group_url(cp_az_ctx *ctx) {
        _cleanup_free_ char *rg = cp_az_escape(cp_az_str(ctx, "--name"));
        _cleanup_free_ char *path = NULL;
        if (!rg || asprintf(&path, "/resourcegroups/%s", rg) < 0)
                return NULL;
        return cp_az_url(ctx, path, CP_AZ_API_RESOURCES, NULL);
}

static int group_create(cp_az_ctx *ctx) {
        int r = cp_az_connect(ctx);
        if (r)
                return r;
        json_t *tags = NULL;
        if ((r = cp_az_parse_tags(cp_az_get(ctx, "--tags"), &tags)) != 0)
                return r;
        json_t *body = json_pack("{s:s}", "location", cp_az_str(ctx, "--location"));
        if (tags)
                json_object_set_new(body, "tags", tags);
        if (cp_az_str(ctx, "--managed-by"))
                json_object_set_new(body, "managedBy", json_string(cp_az_str(ctx, "--managed-by")));
        _cleanup_free_ char *url = group_url(ctx);
        r = cp_az_simple(ctx, "PUT", url, body, false, NULL, &group_table);
        json_decref(body);
        return r;
}

static int group_show(cp_az_ctx *ctx) {
        int r = cp_az_connect(ctx);
        if (r)
                return r;
        _cleanup_free_ char *url = group_url(ctx);
        return cp_az_simple(ctx, "GET", url, NULL, true, NULL, &group_table);
}

static int group_list(cp_az_ctx *ctx) {
        int r = cp_az_connect(ctx);
        if (r)
                return r;
        _cleanup_free_ char *url = cp_az_url(ctx, "/resourcegroups", CP_AZ_API_RESOURCES, NULL);
        json_t *list = NULL;
        if ((r = cp_az_list(ctx, url, NULL, &list)) != 0)
                return r;
        const char *tag = cp_az_str(ctx, "--tag");
        if (tag) {
                /* key[=value]: keep the groups carrying that tag */
                _cleanup_free_ char *k = strdup(tag);
                char *eq = k ? strchr(k, '=') : NULL;
                if (eq)
                        *eq++ = 0;
                json_t *kept = json_array();
                size_t i;
                json_t *g;
                json_array_foreach(list, i, g) {
                        json_t *tv = json_object_get(json_object_get(g, "tags"), k ? k : "");
                        if (tv && (!eq || (json_is_string(tv) && !strcmp(json_string_value(tv), eq))))
                                json_array_append(kept, g);
                }
                json_decref(list);
                list = kept;
        }
        r = cp_az_output(ctx, list, &group_table);
        json_decref(list);
        return r;
}

static int group_delete(cp_az_ctx *ctx) {
        int r = cp_az_connect(ctx);
        if (r)
                return r;
        if (!cp_az_confirm(cp_az_flag(ctx, "--yes"), "Are you sure you want to perform this operation?", &r))
                return r;
        _cleanup_free_ char *url = group_url(ctx);
        return cp_az_delete(ctx, url, NULL);
}

static const cp_az_entry entries[] = {
        { "create", &create_cmd, group_create, NULL },
        { "delete", &delete_cmd, group_delete, NULL },
        { "list", &list_cmd, group_list, NULL },
        { "show", &show_cmd, group_show, NULL },
};
static const cp_az_group group_group = { "group", "Manage resource groups.", entries, CP_ELEMENTSOF(entries) };

int cp_cmd_group(int argc, char **argv) {
        return cp_az_run_group(&group_group, argc, argv);
}
