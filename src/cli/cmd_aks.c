/* SPDX-License-Identifier: Apache-2.0 */
/* confpool aks create|show|list|delete and the aks nodepool subgroup (az aks ...). */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "basic/cleanup.h"
#include "cli/cli-az.h"
#include "cli/cmd_aks_creds.h"

static const char *const os_skus[] = { "AzureLinux", "AzureLinux3", "CBLMariner", "Mariner", "Ubuntu",
                                       "Ubuntu2204", "Ubuntu2404", NULL };
static const char *const tiers[] = { "free", "standard", "premium", NULL };
static const char *const plugins[] = { "azure", "kubenet", "none", NULL };

static const cp_az_arg create_args[] = {
        { "--resource-group -g", CP_AZ_STR, true, NULL, NULL, "Name of resource group." },
        { "--name -n", CP_AZ_STR, true, NULL, NULL, "Name of the managed cluster." },
        { "--location -l", CP_AZ_STR, false, NULL, NULL, "Location. Default: the location of the resource group." },
        { "--node-vm-size -s", CP_AZ_STR, false, NULL, NULL,
          "Size of Virtual Machines to create as Kubernetes nodes (e.g. Standard_DC4as_v5 for confidential VMs)." },
        { "--node-count -c", CP_AZ_INT, false, "3", NULL, "Number of nodes in the Kubernetes node pool." },
        { "--kubernetes-version -k", CP_AZ_STR, false, NULL, NULL, "Version of Kubernetes to use for creating the cluster, such as \"1.7.12\" or \"1.8.7\"." },
        { "--nodepool-name", CP_AZ_STR, false, "nodepool1", NULL, "Node pool name, up to 12 alphanumeric characters." },
        { "--nodepool-labels", CP_AZ_LIST, false, NULL, NULL, "The node labels for all node pools: space-separated labels in key=value format." },
        { "--nodepool-tags", CP_AZ_LIST, false, NULL, NULL, "Space-separated tags: key[=value] [key[=value] ...]." },
        { "--dns-name-prefix -p", CP_AZ_STR, false, NULL, NULL, "Prefix for hostnames that are created. If not specified, generate a hostname using the managed cluster and resource group names." },
        { "--os-sku", CP_AZ_STR, false, NULL, os_skus, "The OS SKU of the agent node pool." },
        { "--max-pods -m", CP_AZ_INT, false, NULL, NULL, "The maximum number of pods deployable to a node." },
        { "--node-osdisk-size", CP_AZ_INT, false, NULL, NULL, "Size in GiB of the OS disk for each node in the node pool. Minimum 30 GiB." },
        { "--enable-fips-image", CP_AZ_FLAG, false, NULL, NULL, "Use FIPS-enabled OS on agent nodes." },
        { "--tier", CP_AZ_STR, false, NULL, tiers, "Specify SKU tier for managed clusters." },
        { "--network-plugin", CP_AZ_STR, false, NULL, plugins, "The Kubernetes network plugin to use." },
        { "--tags", CP_AZ_LIST, false, NULL, NULL, "Space-separated tags: key[=value] [key[=value] ...]." },
        { "--generate-ssh-keys", CP_AZ_FLAG, false, NULL, NULL, "Accepted for compatibility (no SSH keys are generated)." },
        { "--ssh-key-value", CP_AZ_STR, false, NULL, NULL, "Public key path or key contents to install on node VMs for SSH access." },
        { "--admin-username -u", CP_AZ_STR, false, "azureuser", NULL, "User account to create on node VMs for SSH access." },
        { "--no-wait", CP_AZ_FLAG, false, NULL, NULL, "Do not wait for the long-running operation to finish." },
};
static const cp_az_cmd create_cmd = {
        "aks create", "Create a new managed Kubernetes cluster.", create_args, CP_ELEMENTSOF(create_args),
        "    Create a cluster whose system pool runs on AMD SEV-SNP confidential VMs.\n"
        "        confpool aks create -g myResourceGroup -n myAKSCluster -s Standard_DC4as_v5\n",
};

static const cp_az_arg show_args[] = {
        { "--resource-group -g", CP_AZ_STR, true, NULL, NULL, "Name of resource group." },
        { "--name -n", CP_AZ_STR, true, NULL, NULL, "Name of the managed cluster." },
};
static const cp_az_cmd show_cmd = { "aks show", "Show the details for a managed Kubernetes cluster.", show_args,
                                    CP_ELEMENTSOF(show_args), NULL };

static const cp_az_arg list_args[] = {
        { "--resource-group -g", CP_AZ_STR, false, NULL, NULL, "Name of resource group." },
};
static const cp_az_cmd list_cmd = { "aks list", "List managed Kubernetes clusters.", list_args, CP_ELEMENTSOF(list_args),
                                    NULL };

static const cp_az_arg delete_args[] = {
        { "--resource-group -g", CP_AZ_STR, true, NULL, NULL, "Name of resource group." },
        { "--name -n", CP_AZ_STR, true, NULL, NULL, "Name of the managed cluster." },
        { "--yes -y", CP_AZ_FLAG, false, NULL, NULL, "Do not prompt for confirmation." },
        { "--no-wait", CP_AZ_FLAG, false, NULL, NULL, "Do not wait for the long-running operation to finish." },
};
static const cp_az_cmd delete_cmd = { "aks delete", "Delete a managed Kubernetes cluster.", delete_args,
                                      CP_ELEMENTSOF(delete_args), NULL };

/* Managed cluster REST -> CLI key renames (SDK attribute names). */
static const cp_azout_rename cluster_renames[] = {
        { "privateFQDN", "privateFqdn" },
        { "azurePortalFQDN", "azurePortalFqdn" },
        { "enableRBAC", "enableRbac" },
        { "fqdnSubdomain", "fqdnSubdomain" },
};
static const char *const cluster_fields[] = {
        "agentPoolProfiles", "dnsPrefix", "fqdn", "kubernetesVersion", "currentKubernetesVersion", "location",
        "nodeResourceGroup", "powerState", "privateFqdn", "provisioningState", "tags",
};
static const cp_azout_renames cluster_table = {
        cluster_renames, CP_ELEMENTSOF(cluster_renames), cluster_fields, CP_ELEMENTSOF(cluster_fields),
};

/* Flatten a cluster; its agentPoolProfiles get the agent pool renames. */
static json_t *shape_cluster(json_t *rest) {
        json_t *flat = cp_azout_flatten_arm(rest, &cluster_table);
        json_t *profiles = json_object_get(flat, "agentPoolProfiles");
        if (!flat || !json_is_array(profiles))
                return flat;
        json_t *out = json_array();
        size_t i;
        json_t *p;
        json_array_foreach(profiles, i, p) {
                json_t *wrap = json_pack("{s:O}", "properties", p);
                json_t *fp = wrap ? cp_azout_flatten_arm(wrap, &cp_azout_renames_agentpool) : NULL;
                json_decref(wrap);
                if (!fp) {
                        json_decref(out);
                        json_decref(flat);
                        return NULL;
                }
                json_array_append_new(out, fp);
        }
        json_object_set_new(flat, "agentPoolProfiles", out);
        return flat;
}

static char *cluster_url(cp_az_ctx *ctx, bool with_name) {
        _cleanup_free_ char *rg = cp_az_escape(cp_az_str(ctx, "--resource-group"));
        _cleanup_free_ char *n = with_name ? cp_az_escape(cp_az_str(ctx, "--name")) : NULL;
        _cleanup_free_ char *path = NULL;
        if (!rg || (with_name && !n))
                return NULL;
        if (asprintf(&path, "/resourceGroups/%s/providers/Microsoft.ContainerService/managedClusters%s%s", rg,
                     n ? "/" : "", n ? n : "") < 0)
                return NULL;
        return cp_az_url(ctx, path, CP_AZ_API_CS, NULL);
}

static int print_cluster(cp_az_ctx *ctx, json_t *rest) {
        json_t *c = shape_cluster(rest);
        if (!c) {
                cp_az_error("%s", cp_error_message());
                return CP_EXIT_FAILURE;
        }
        int r = cp_az_output(ctx, c, &cp_azout_table_cluster);
        json_decref(c);
        return r;
}

/* az's default DNS prefix: name[:10]-rg[:16]-sub[:6] with [A-Za-z0-9-] only. */
static void default_dns_prefix(const char *name, const char *rg, const char *sub, char *buf, size_t size) {
        char np[12] = "", rp[17] = "";
        size_t n = 0;
        for (const char *p = name; *p && n < 10; p++)
                if (isalnum((unsigned char) *p) || *p == '-')
                        np[n++] = *p;
        np[n] = 0;
        if (!isalpha((unsigned char) np[0])) {
                memmove(np + 1, np, sizeof np - 2);
                np[0] = 'a';
                np[10] = 0;
        }
        n = 0;
        for (const char *p = rg; *p && n < 16; p++)
                if (isalnum((unsigned char) *p) || *p == '-')
                        rp[n++] = *p;
        rp[n] = 0;
        snprintf(buf, size, "%s-%s-%.6s", np, rp, sub);
}

static int aks_create(cp_az_ctx *ctx) {
        int r;
        const char *name = cp_az_str(ctx, "--name");
        if ((r = cp_az_validate_cluster_name(name)) != 0 ||
            (r = cp_az_validate_nodepool_name(cp_az_str(ctx, "--nodepool-name"))) != 0 ||
            (r = cp_az_validate_k8s_version(cp_az_str(ctx, "--kubernetes-version"))) != 0)
                return r;
        json_t *labels = NULL, *ptags = NULL, *tags = NULL, *body = NULL;
        _cleanup_free_ char *rg_loc = NULL;
        if ((r = cp_az_parse_labels(cp_az_get(ctx, "--nodepool-labels"), &labels)) != 0 ||
            (r = cp_az_parse_tags(cp_az_get(ctx, "--nodepool-tags"), &ptags)) != 0 ||
            (r = cp_az_parse_tags(cp_az_get(ctx, "--tags"), &tags)) != 0)
                goto out;
        if ((r = cp_az_connect(ctx)) != 0)
                goto out;
        const char *loc = cp_az_str(ctx, "--location");
        if (!loc) {
                /* az uses the resource group's location */
                _cleanup_free_ char *rg = cp_az_escape(cp_az_str(ctx, "--resource-group"));
                _cleanup_free_ char *path = NULL, *url = NULL;
                if (rg && asprintf(&path, "/resourcegroups/%s", rg) >= 0)
                        url = cp_az_url(ctx, path, CP_AZ_API_RESOURCES, NULL);
                cp_httpc_response resp;
                json_t *g = NULL;
                if ((r = cp_az_call(ctx, "GET", url, NULL, NULL, &resp, &g)) != 0)
                        goto out;
                if (resp.status != 200)
                        r = cp_az_service_error(&resp, g, false);
                else if (json_is_string(json_object_get(g, "location")))
                        rg_loc = strdup(json_string_value(json_object_get(g, "location")));
                json_decref(g);
                cp_httpc_response_clear(&resp);
                if (r)
                        goto out;
                if (!rg_loc) {
                        cp_az_error("The resource group has no location; use --location.");
                        r = CP_EXIT_FAILURE;
                        goto out;
                }
                loc = rg_loc;
        }
        char dns[64];
        if (cp_az_str(ctx, "--dns-name-prefix"))
                snprintf(dns, sizeof dns, "%s", cp_az_str(ctx, "--dns-name-prefix"));
        else
                default_dns_prefix(name, cp_az_str(ctx, "--resource-group"), ctx->conn.subscription, dns, sizeof dns);
        json_t *pool = json_pack("{s:s,s:I,s:s,s:s,s:s}", "name", cp_az_str(ctx, "--nodepool-name"), "count",
                                 (json_int_t) cp_az_get(ctx, "--node-count")->num, "osType", "Linux", "mode", "System",
                                 "type", "VirtualMachineScaleSets");
        if (cp_az_str(ctx, "--node-vm-size"))
                json_object_set_new(pool, "vmSize", json_string(cp_az_str(ctx, "--node-vm-size")));
        if (cp_az_str(ctx, "--os-sku"))
                json_object_set_new(pool, "osSKU", json_string(cp_az_str(ctx, "--os-sku")));
        if (cp_az_get(ctx, "--max-pods")->set)
                json_object_set_new(pool, "maxPods", json_integer(cp_az_get(ctx, "--max-pods")->num));
        if (cp_az_get(ctx, "--node-osdisk-size")->set)
                json_object_set_new(pool, "osDiskSizeGB", json_integer(cp_az_get(ctx, "--node-osdisk-size")->num));
        if (cp_az_flag(ctx, "--enable-fips-image"))
                json_object_set_new(pool, "enableFIPS", json_true());
        if (labels)
                json_object_set(pool, "nodeLabels", labels);
        if (ptags)
                json_object_set(pool, "tags", ptags);
        const char *k = cp_az_str(ctx, "--kubernetes-version");
        if (k && (k[0] == 'v' || k[0] == 'V'))
                k++;
        if (k)
                json_object_set_new(pool, "orchestratorVersion", json_string(k));
        json_t *props = json_pack("{s:s,s:[o],s:b}", "dnsPrefix", dns, "agentPoolProfiles", pool, "enableRBAC", 1);
        if (k)
                json_object_set_new(props, "kubernetesVersion", json_string(k));
        if (cp_az_str(ctx, "--network-plugin"))
                json_object_set_new(props, "networkProfile",
                                    json_pack("{s:s}", "networkPlugin", cp_az_str(ctx, "--network-plugin")));
        if (cp_az_str(ctx, "--ssh-key-value"))
                json_object_set_new(props, "linuxProfile",
                                    json_pack("{s:s,s:{s:[{s:s}]}}", "adminUsername", cp_az_str(ctx, "--admin-username"),
                                              "ssh", "publicKeys", "keyData", cp_az_str(ctx, "--ssh-key-value")));
        body = json_pack("{s:s,s:o}", "location", loc, "properties", props);
        if (tags)
                json_object_set(body, "tags", tags);
        if (cp_az_str(ctx, "--tier")) {
                char tier[16];
                snprintf(tier, sizeof tier, "%s", cp_az_str(ctx, "--tier"));
                tier[0] = (char) toupper((unsigned char) tier[0]);
                json_object_set_new(body, "sku", json_pack("{s:s,s:s}", "name", "Base", "tier", tier));
        }
        {
                _cleanup_free_ char *url = cluster_url(ctx, true);
                cp_httpc_response resp;
                json_t *j = NULL, *fin = NULL;
                if ((r = cp_az_call(ctx, "PUT", url, body, NULL, &resp, &j)) != 0)
                        goto out;
                if (resp.status >= 300)
                        r = cp_az_service_error(&resp, j, false);
                else if (!cp_az_flag(ctx, "--no-wait")) {
                        r = cp_az_lro(ctx, &resp, url, NULL, NULL, &fin);
                        if (r == 0 && fin)
                                r = print_cluster(ctx, fin);
                }
                json_decref(fin);
                json_decref(j);
                cp_httpc_response_clear(&resp);
        }
out:
        json_decref(labels);
        json_decref(ptags);
        json_decref(tags);
        json_decref(body);
        return r;
}

static int aks_show(cp_az_ctx *ctx) {
        int r;
        if ((r = cp_az_connect(ctx)) != 0)
                return r;
        _cleanup_free_ char *url = cluster_url(ctx, true);
        cp_httpc_response resp;
        json_t *j = NULL;
        if ((r = cp_az_call(ctx, "GET", url, NULL, NULL, &resp, &j)) != 0)
                return r;
        if (resp.status != 200)
                r = cp_az_service_error(&resp, j, true);
        else
                r = print_cluster(ctx, j);
        json_decref(j);
        cp_httpc_response_clear(&resp);
        return r;
}

static int aks_list(cp_az_ctx *ctx) {
        int r;
        if ((r = cp_az_connect(ctx)) != 0)
                return r;
        _cleanup_free_ char *url = cp_az_str(ctx, "--resource-group")
                                           ? cluster_url(ctx, false)
                                           : cp_az_url(ctx, "/providers/Microsoft.ContainerService/managedClusters",
                                                       CP_AZ_API_CS, NULL);
        json_t *list = NULL;
        if ((r = cp_az_list(ctx, url, NULL, &list)) != 0)
                return r;
        json_t *out = json_array();
        size_t i;
        json_t *c;
        json_array_foreach(list, i, c) {
                json_t *s = shape_cluster(c);
                if (!s) {
                        cp_az_error("%s", cp_error_message());
                        json_decref(out);
                        json_decref(list);
                        return CP_EXIT_FAILURE;
                }
                json_array_append_new(out, s);
        }
        json_decref(list);
        r = cp_az_output(ctx, out, &cp_azout_table_cluster);
        json_decref(out);
        return r;
}

static int aks_delete(cp_az_ctx *ctx) {
        int r;
        if ((r = cp_az_connect(ctx)) != 0)
                return r;
        if (!cp_az_confirm(cp_az_flag(ctx, "--yes"), "Are you sure you want to perform this operation?", &r))
                return r;
        _cleanup_free_ char *url = cluster_url(ctx, true);
        return cp_az_delete(ctx, url, NULL);
}

static const cp_az_entry entries[] = {
        { "create", &create_cmd, aks_create, NULL },
        { "delete", &delete_cmd, aks_delete, NULL },
        { "get-credentials", &cp_aks_get_credentials_cmd, cp_aks_get_credentials, NULL },
        { "list", &list_cmd, aks_list, NULL },
        { "machine", NULL, NULL, &cp_az_group_machine },
        { "nodepool", NULL, NULL, &cp_az_group_nodepool },
        { "show", &show_cmd, aks_show, NULL },
};
static const cp_az_group aks_group = { "aks", "Manage Azure Kubernetes Services.", entries, CP_ELEMENTSOF(entries) };

int cp_cmd_aks(int argc, char **argv) {
        return cp_az_run_group(&aks_group, argc, argv);
}
