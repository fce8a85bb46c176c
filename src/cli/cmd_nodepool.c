/* SPDX-License-Identifier: Apache-2.0 */
/*
 * confpool aks nodepool add|show|list|update|scale|upgrade|delete|
 *                       get-upgrades|wait|start|stop, attestation-policy (cmd_attest_policy.c)
 * (az aks nodepool ..., aks-api.md 2.1-2.4).  CVM rules are the server's:
 * the CLI only runs az's client-side validators.
 */
#include <ctype.h>
#include <math.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "basic/cleanup.h"
#include "basic/codec.h"
#include "basic/fileio.h"
#include "cli/cli-az.h"

CP_DEFINE_FREEP(cp_jmespath, cp_jmespath_free);

/* ---- validators ---------------------------------------------------------------- */

static bool np_re_match(const char *pattern, const char *s) {
        regex_t re;
        if (regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB) != 0)
                return false;
        bool m = regexec(&re, s, 0, NULL, 0) == 0;
        regfree(&re);
        return m;
}

int cp_az_validate_nodepool_name(const char *name) {
        if (!name || !*name)
                return 0;
        if (strlen(name) > 12)
                return cp_az_usage_error("--nodepool-name can contain at most 12 characters");
        for (const char *p = name; *p; p++)
                if (!isalnum((unsigned char) *p))
                        return cp_az_usage_error("--nodepool-name should contain only alphanumeric characters");
        return 0;
}

int cp_az_validate_cluster_name(const char *name) {
        if (!np_re_match("^[a-zA-Z0-9]$|^[a-zA-Z0-9][-_a-zA-Z0-9]{0,61}[a-zA-Z0-9]$", name))
                return cp_az_usage_error("--name should contain 1 to 63 characters: alphanumerics, underscores and "
                                         "hyphens, starting and ending with an alphanumeric character");
        return 0;
}

int cp_az_validate_k8s_version(const char *v) {
        if (v && *v && !np_re_match("^[vV]?[0-9]+\\.[0-9]+(\\.[0-9]+)?$", v))
                return cp_az_usage_error("--kubernetes-version should be the full version number or major.minor "
                                         "version number, such as \"1.7.12\" or \"1.7\"");
        return 0;
}

int cp_az_validate_count_range(const char *flag, const cp_az_val *v) {
        if (v->set && (v->num < 0 || v->num > 1000))
                return cp_az_usage_error("%s must be in the range [0,1000]", flag);
        return 0;
}

int cp_az_validate_taints(const char *taints) {
        if (!taints || !*taints)
                return 0;
        _cleanup_free_ char *copy = strdup(taints);
        if (!copy)
                return cp_az_usage_error("out of memory");
        char *save = NULL;
        for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
                if (!np_re_match("^[a-zA-Z0-9][A-Za-z0-9_./-]{0,252}=[a-zA-Z0-9][A-Za-z0-9_.-]{0,62}:"
                              "(NoSchedule|PreferNoSchedule|NoExecute)$",
                              t))
                        return cp_az_usage_error("Invalid node taint: %s. Expected format key=value:Effect with "
                                                 "Effect one of NoSchedule, PreferNoSchedule, NoExecute "
                                                 "(e.g. \"special=true:NoSchedule\").",
                                                 t);
        }
        return 0;
}

#define QNAME_MSG                                                                                                   \
        "A qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with " \
        "an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc') with an optional DNS subdomain "  \
        "prefix and '/' (e.g. 'example.com/MyName')"

int cp_az_validate_label(const char *label) {
        const char *eq = strchr(label, '=');
        if (!eq || strchr(eq + 1, '='))
                return cp_az_usage_error("Invalid label: %s. Label definition must be of format name=value.", label);
        _cleanup_free_ char *key = strndup(label, (size_t) (eq - label));
        const char *value = eq + 1;
        if (!key)
                return cp_az_usage_error("out of memory");
        char *name = key, *slash = strchr(key, '/');
        if (slash) {
                if (strchr(slash + 1, '/'))
                        return cp_az_usage_error("Invalid label: %s. " QNAME_MSG, label);
                *slash = 0;
                name = slash + 1;
                if (strlen(key) > 253)
                        return cp_az_usage_error("Invalid label: %s. Label prefix can't be longer than 253 chars.",
                                                 label);
                if (!np_re_match("^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$", key))
                        return cp_az_usage_error("Invalid label: %s. Prefix part a DNS-1123 label must consist of lower "
                                                 "case alphanumeric characters or '-', and must start and end with "
                                                 "an alphanumeric character",
                                                 label);
        }
        if (strlen(name) > 63)
                return cp_az_usage_error("Invalid label: %s. Label must not be more than 63 chars.", label);
        if (!np_re_match("^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$", name))
                return cp_az_usage_error("Invalid label: %s. " QNAME_MSG, label);
        if (strlen(value) > 63)
                return cp_az_usage_error("Invalid label: %s. Label must not be more than 63 chars.", label);
        if (*value && !np_re_match("^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$", value))
                return cp_az_usage_error("Invalid label: %s. A valid label must be an empty string or consist of "
                                         "alphanumeric characters, '-', '_' or '.', and must start and end with an "
                                         "alphanumeric character.",
                                         label);
        return 0;
}

int cp_az_validate_max_surge(const char *v) {
        if (!v || !*v)
                return 0;
        size_t n = strlen(v);
        _cleanup_free_ char *num = strndup(v, v[n - 1] == '%' ? n - 1 : n);
        char *end;
        if (!num || !*num)
                return cp_az_usage_error("--max-surge should be int or percentage");
        long long x = strtoll(num, &end, 10);
        if (*end)
                return cp_az_usage_error("--max-surge should be int or percentage");
        if (x < 0)
                return cp_az_usage_error("--max-surge must be positive");
        return 0;
}

int cp_az_validate_arm_id(const char *flag, const char *id) {
        if (id && !np_re_match("^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/[^/]+/[^/]+/[^/]+(/[^/]+/[^/]+)*$",
                            id) &&
            !np_re_match("^/subscriptions/[^/]+/resourcegroups/[^/]+/providers/[^/]+/[^/]+/[^/]+(/[^/]+/[^/]+)*$", id))
                return cp_az_usage_error("%s is not a valid Azure resource ID.", flag);
        return 0;
}

int cp_az_parse_labels(const cp_az_val *v, json_t **ret) {
        *ret = NULL;
        if (!v || !v->set)
                return 0;
        json_t *o = json_object();
        for (size_t i = 0; o && i < v->n_list; i++) {
                if (!*v->list[i] && v->n_list == 1)
                        break;
                int r = cp_az_validate_label(v->list[i]);
                if (r) {
                        json_decref(o);
                        return r;
                }
                const char *eq = strchr(v->list[i], '=');
                _cleanup_free_ char *k = strndup(v->list[i], (size_t) (eq - v->list[i]));
                if (!k || json_object_set_new(o, k, json_string(eq + 1)) < 0) {
                        json_decref(o);
                        return cp_az_usage_error("Invalid label: %s. Labels must be valid UTF-8.", v->list[i]);
                }
        }
        if (!o)
                return cp_az_usage_error("out of memory");
        *ret = o;
        return 0;
}

int cp_az_parse_taints(const char *s, json_t **ret) {
        int r = cp_az_validate_taints(s);
        if (r)
                return r;
        json_t *a = json_array();
        _cleanup_free_ char *copy = strdup(s);
        if (!a || !copy) {
                json_decref(a);
                return cp_az_usage_error("out of memory");
        }
        char *save = NULL;
        for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
                json_array_append_new(a, json_string(t));
        *ret = a;
        return 0;
}

/* ---- argument tables ---------------------------------------------------------- */

static const char *const os_sku_add[] = { "AzureLinux", "AzureLinux3", "CBLMariner", "Mariner", "Ubuntu",
                                          "Ubuntu2204", "Ubuntu2404", "Windows2019", "Windows2022", NULL };
static const char *const os_sku_update[] = { "AzureLinux", "AzureLinux3", "Ubuntu", "Ubuntu2204", "Ubuntu2404", NULL };
static const char *const os_types[] = { "Linux", "Windows", NULL };
static const char *const modes[] = { "System", "User", "Gateway", NULL };
static const char *const disk_types[] = { "Managed", "Ephemeral", NULL };
static const char *const scale_down[] = { "Delete", "Deallocate", NULL };
static const char *const priorities[] = { "Regular", "Spot", NULL };
static const char *const evictions[] = { "Delete", "Deallocate", NULL };
static const char *const undrainable[] = { "Cordon", "Schedule", NULL };
static const char *const vm_set_types[] = { "VirtualMachineScaleSets", "AvailabilitySet", "VirtualMachines", NULL };
static const char *const runtimes[] = { "OCIContainer", "WasmWasi", "KataVmIsolation", NULL };
static const char *const gpu_profiles[] = { "MIG1g", "MIG2g", "MIG3g", "MIG4g", "MIG7g", NULL };
static const char *const gpu_drivers[] = { "Install", "None", NULL };
static const char *const pod_ip_modes[] = { "DynamicIndividual", "StaticBlock", NULL };

#define ARG_RG { "--resource-group -g", CP_AZ_STR, true, NULL, NULL, "Name of resource group." }
#define ARG_CLUSTER { "--cluster-name", CP_AZ_STR, true, NULL, NULL, "The cluster name." }
#define ARG_NAME { "--name --nodepool-name -n", CP_AZ_STR, true, NULL, NULL, "The node pool name." }
#define ARG_NO_WAIT { "--no-wait", CP_AZ_FLAG, false, NULL, NULL, "Do not wait for the long-running operation to finish." }
#define ARG_SURGE                                                                                                   \
        { "--max-surge", CP_AZ_STR, false, NULL, NULL, "Extra nodes used to speedup upgrade. When specified, it "  \
                                                       "represents the number or percent used, eg. 5 or 33%." },   \
        { "--max-unavailable", CP_AZ_STR, false, NULL, NULL,                                                        \
          "The maximum number or percentage of nodes that can be simultaneously unavailable during upgrade." },     \
        { "--drain-timeout", CP_AZ_INT, false, NULL, NULL,                                                          \
          "When nodes are drained how many minutes to wait for all pods to be evicted." },                         \
        { "--node-soak-duration", CP_AZ_INT, false, NULL, NULL,                                                     \
          "The amount of time (in minutes) to wait after draining a node and before reimaging it." },               \
        { "--undrainable-node-behavior", CP_AZ_STR, false, NULL, undrainable,                                       \
          "Define the behavior for undrainable nodes during upgrade." }

static const cp_az_arg add_args[] = {
        ARG_RG, ARG_CLUSTER, ARG_NAME,
        { "--node-vm-size -s", CP_AZ_STR, false, NULL, NULL,
          "Size of Virtual Machines to create as Kubernetes nodes (a confidential size such as Standard_DC4as_v5 "
          "makes a CVM node pool)." },
        { "--node-count -c", CP_AZ_INT, false, "3", NULL, "Number of nodes in the Kubernetes agent pool." },
        { "--kubernetes-version -k", CP_AZ_STR, false, NULL, NULL,
          "Version of Kubernetes to use for creating the cluster, such as \"1.7.12\" or \"1.8.7\"." },
        { "--os-type", CP_AZ_STR, false, NULL, os_types, "The OS Type. Linux or Windows." },
        { "--os-sku", CP_AZ_STR, false, NULL, os_sku_add, "The OS SKU of the agent node pool." },
        { "--mode", CP_AZ_STR, false, "User", modes, "The mode for a node pool which defines a node pool's primary function." },
        { "--max-pods -m", CP_AZ_INT, false, NULL, NULL,
          "The maximum number of pods deployable to a node (server default: 30 azure, 110 kubenet, 250 none)." },
        { "--node-osdisk-size", CP_AZ_INT, false, NULL, NULL,
          "Size in GiB of the OS disk for each node in the agent pool. Minimum 30 GiB." },
        { "--node-osdisk-type", CP_AZ_STR, false, NULL, disk_types, "OS disk type to be used for machines in a given agent pool." },
        { "--zones -z", CP_AZ_LIST, false, NULL, NULL, "Space-separated list of availability zones where agent nodes will be placed." },
        { "--enable-cluster-autoscaler -e", CP_AZ_FLAG, false, NULL, NULL, "Enable cluster autoscaler." },
        { "--min-count", CP_AZ_INT, false, NULL, NULL, "Minimum nodes count used for autoscaler, when \"--enable-cluster-autoscaler\" specified. Please specify the value in the range of [0, 1000]." },
        { "--max-count", CP_AZ_INT, false, NULL, NULL, "Maximum nodes count used for autoscaler, when \"--enable-cluster-autoscaler\" specified. Please specify the value in the range of [0, 1000]." },
        { "--scale-down-mode", CP_AZ_STR, false, NULL, scale_down, "Describes how VMs are added to or removed from nodepools." },
        { "--priority", CP_AZ_STR, false, "Regular", priorities, "The priority of the node pool." },
        { "--eviction-policy", CP_AZ_STR, false, NULL, evictions, "The eviction policy of the Spot node pool. It can only be set when --priority is Spot." },
        { "--spot-max-price", CP_AZ_FLOAT, false, NULL, NULL, "It can only be set when --priority is Spot. Specify the maximum price you are willing to pay in US Dollars. Possible values are any decimal value greater than zero or -1 which indicates default price to be up-to on-demand. It can only include up to 5 decimal places." },
        { "--labels", CP_AZ_LIST, false, NULL, NULL, "The node labels for the node pool: space-separated labels in key=value format." },
        { "--node-taints", CP_AZ_STR, false, NULL, NULL, "The node taints for the node pool: comma-separated key=value:Effect." },
        { "--tags", CP_AZ_LIST, false, NULL, NULL, "Space-separated tags: key[=value] [key[=value] ...]." },
        { "--vnet-subnet-id", CP_AZ_STR, false, NULL, NULL, "The ID of a subnet in an existing VNet into which to deploy the cluster." },
        { "--pod-subnet-id", CP_AZ_STR, false, NULL, NULL, "The ID of a subnet in an existing VNet into which to assign pods in the cluster (requires azure network-plugin)." },
        { "--pod-ip-allocation-mode", CP_AZ_STR, false, NULL, pod_ip_modes, "Set the ip allocation mode for how Pod IPs from the Azure Pod Subnet are allocated to the nodes in the AKS cluster." },
        { "--enable-node-public-ip", CP_AZ_FLAG, false, NULL, NULL, "Enable VMSS node public IP." },
        { "--node-public-ip-prefix-id", CP_AZ_STR, false, NULL, NULL, "Public IP prefix ID used to assign public IPs to VMSS nodes." },
        ARG_SURGE,
        { "--vm-set-type", CP_AZ_STR, false, NULL, vm_set_types, "Agent pool vm set type." },
        { "--enable-fips-image", CP_AZ_FLAG, false, NULL, NULL, "Use FIPS-enabled OS on agent nodes." },
        { "--enable-secure-boot", CP_AZ_FLAG, false, NULL, NULL, "Enable Secure Boot on Trusted Launch enabled agent pools." },
        { "--enable-vtpm", CP_AZ_FLAG, false, NULL, NULL, "Enable vTPM on Trusted Launch enabled agent pools." },
        { "--enable-encryption-at-host", CP_AZ_FLAG, false, NULL, NULL, "Enable EncryptionAtHost." },
        { "--enable-ultra-ssd", CP_AZ_FLAG, false, NULL, NULL, "Enable UltraSSD on agent node pool." },
        { "--workload-runtime", CP_AZ_STR, false, NULL, runtimes, "Determines the type of workload a node can run." },
        { "--gpu-instance-profile", CP_AZ_STR, false, NULL, gpu_profiles, "GPU instance profile to partition multi-gpu Nvidia GPUs." },
        { "--gpu-driver", CP_AZ_STR, false, NULL, gpu_drivers, "Whether to install GPU drivers." },
        { "--kubelet-config", CP_AZ_STR, false, NULL, NULL, "Path to a JSON file with the Kubelet configuration for agent nodes." },
        { "--linux-os-config", CP_AZ_STR, false, NULL, NULL, "Path to a JSON file with the OS configuration for Linux agent nodes." },
        { "--message-of-the-day", CP_AZ_STR, false, NULL, NULL, "Path to a file containing the desired message of the day (Linux nodes only)." },
        { "--snapshot-id", CP_AZ_STR, false, NULL, NULL, "The source snapshot id used to create this nodepool." },
        { "--ppg", CP_AZ_STR, false, NULL, NULL, "The ID of a PPG." },
        { "--host-group-id", CP_AZ_STR, false, NULL, NULL, "The fully qualified dedicated host group id used to provision agent node pool." },
        { "--crg-id", CP_AZ_STR, false, NULL, NULL, "The crg id used to associate the new nodepool with the existed Capacity Reservation Group resource." },
        { "--if-match", CP_AZ_STR, false, NULL, NULL, "The value provided will be compared to the ETag of the node pool; the request proceeds only if they match." },
        { "--if-none-match", CP_AZ_STR, false, NULL, NULL, "Set to '*' to allow a new node pool to be created, but to prevent updating an existing one." },
        ARG_NO_WAIT,
};
static const cp_az_cmd add_cmd = {
        "aks nodepool add", "Add a node pool to the managed Kubernetes cluster.", add_args, CP_ELEMENTSOF(add_args),
        "    Create a confidential VM (AMD SEV-SNP) node pool with 3 nodes.\n"
        "        confpool aks nodepool add --resource-group myResourceGroup --cluster-name myAKSCluster \\\n"
        "            --name cvmnodepool --node-count 3 --node-vm-size Standard_DC4as_v5\n",
};

static const cp_az_arg show_args[] = { ARG_RG, ARG_CLUSTER, ARG_NAME };
static const cp_az_cmd show_cmd = { "aks nodepool show", "Show the details for a node pool in the managed Kubernetes cluster.",
                                    show_args, CP_ELEMENTSOF(show_args), NULL };

static const cp_az_arg list_args[] = {
        ARG_RG, ARG_CLUSTER,
        { "--name --nodepool-name -n", CP_AZ_STR, false, NULL, NULL,
          "confpool extension (az rejects it): only this node pool, printed as an object." },
};
static const cp_az_cmd list_cmd = { "aks nodepool list", "List node pools in the managed Kubernetes cluster.",
                                    list_args, CP_ELEMENTSOF(list_args), NULL };

static const cp_az_arg update_args[] = {
        ARG_RG, ARG_CLUSTER, ARG_NAME,
        { "--enable-cluster-autoscaler -e", CP_AZ_FLAG, false, NULL, NULL, "Enable cluster autoscaler." },
        { "--disable-cluster-autoscaler -d", CP_AZ_FLAG, false, NULL, NULL, "Disable cluster autoscaler." },
        { "--update-cluster-autoscaler -u", CP_AZ_FLAG, false, NULL, NULL, "Update min-count or max-count for cluster autoscaler." },
        { "--min-count", CP_AZ_INT, false, NULL, NULL, "Minimum nodes count used for autoscaler. Please specify the value in the range of [0, 1000]." },
        { "--max-count", CP_AZ_INT, false, NULL, NULL, "Maximum nodes count used for autoscaler. Please specify the value in the range of [0, 1000]." },
        { "--labels", CP_AZ_LIST, false, NULL, NULL, "The node labels for the node pool. Use \"\" to clear existing labels." },
        { "--tags", CP_AZ_LIST, false, NULL, NULL, "Space-separated tags: key[=value] [key[=value] ...]. Use \"\" to clear existing tags." },
        { "--node-taints", CP_AZ_STR, false, NULL, NULL, "The node taints for the node pool. Use \"\" to clear existing taints." },
        ARG_SURGE,
        { "--mode", CP_AZ_STR, false, NULL, modes, "The mode for a node pool which defines a node pool's primary function." },
        { "--scale-down-mode", CP_AZ_STR, false, NULL, scale_down, "Describes how VMs are added to or removed from nodepools." },
        { "--os-sku", CP_AZ_STR, false, NULL, os_sku_update, "The os-sku of the agent node pool (e.g. Ubuntu2404 to move a CVM pool off Ubuntu 20.04)." },
        { "--enable-fips-image", CP_AZ_FLAG, false, NULL, NULL, "Switch to use FIPS-enabled OS on agent nodes." },
        { "--disable-fips-image", CP_AZ_FLAG, false, NULL, NULL, "Switch to use non-FIPS-enabled OS on agent nodes." },
        { "--enable-vtpm", CP_AZ_FLAG, false, NULL, NULL, "Enable vTPM on agent node pool. Must use VMSS agent pool type." },
        { "--disable-vtpm", CP_AZ_FLAG, false, NULL, NULL, "Disable vTPM on agent node pool." },
        { "--enable-secure-boot", CP_AZ_FLAG, false, NULL, NULL, "Enable Secure Boot on agent node pool. Must use VMSS agent pool type." },
        { "--disable-secure-boot", CP_AZ_FLAG, false, NULL, NULL, "Disable Secure Boot on agent node pool." },
        { "--if-match", CP_AZ_STR, false, NULL, NULL, "The value provided will be compared to the ETag of the node pool." },
        ARG_NO_WAIT,
};
static const cp_az_cmd update_cmd = { "aks nodepool update", "Update a node pool properties.", update_args,
                                      CP_ELEMENTSOF(update_args), NULL };

static const cp_az_arg scale_args[] = {
        ARG_RG, ARG_CLUSTER, ARG_NAME,
        { "--node-count -c", CP_AZ_INT, false, "3", NULL, "Number of nodes in the Kubernetes node pool." },
        ARG_NO_WAIT,
};
static const cp_az_cmd scale_cmd = { "aks nodepool scale", "Scale the node pool in a managed Kubernetes cluster.",
                                     scale_args, CP_ELEMENTSOF(scale_args), NULL };

static const cp_az_arg upgrade_args[] = {
        ARG_RG, ARG_CLUSTER, ARG_NAME,
        { "--kubernetes-version -k", CP_AZ_STR, false, "", NULL, "Version of Kubernetes to upgrade the node pool to, such as \"1.16.9\"." },
        { "--node-image-only", CP_AZ_FLAG, false, NULL, NULL, "Only upgrade agent pool's node image." },
        ARG_SURGE,
        { "--snapshot-id", CP_AZ_STR, false, NULL, NULL, "The source snapshot id used to upgrade this nodepool." },
        { "--yes -y", CP_AZ_FLAG, false, NULL, NULL, "Do not prompt for confirmation." },
        ARG_NO_WAIT,
};
static const cp_az_cmd upgrade_cmd = { "aks nodepool upgrade", "Upgrade the node pool in a managed Kubernetes cluster.",
                                       upgrade_args, CP_ELEMENTSOF(upgrade_args), NULL };

static const cp_az_arg delete_args[] = {
        ARG_RG, ARG_CLUSTER, ARG_NAME,
        { "--ignore-pdb -i", CP_AZ_FLAG, false, NULL, NULL, "Delete an existing nodepool without considering Pod Disruption Budget." },
        { "--if-match", CP_AZ_STR, false, NULL, NULL, "The value provided will be compared to the ETag of the node pool." },
        ARG_NO_WAIT,
};
static const cp_az_cmd delete_cmd = { "aks nodepool delete", "Delete the agent pool in the managed Kubernetes cluster.",
                                      delete_args, CP_ELEMENTSOF(delete_args), NULL };

static const cp_az_cmd upgrades_cmd = { "aks nodepool get-upgrades", "Get the available upgrade versions for an agent pool of the managed Kubernetes cluster.",
                                        show_args, CP_ELEMENTSOF(show_args), NULL };

static const cp_az_arg wait_args[] = {
        ARG_RG, ARG_CLUSTER, ARG_NAME,
        { "--created", CP_AZ_FLAG, false, NULL, NULL, "Wait until created with 'provisioningState' at 'Succeeded'." },
        { "--updated", CP_AZ_FLAG, false, NULL, NULL, "Wait until updated with provisioningState at 'Succeeded'." },
        { "--deleted", CP_AZ_FLAG, false, NULL, NULL, "Wait until deleted." },
        { "--exists", CP_AZ_FLAG, false, NULL, NULL, "Wait until the resource exists." },
        { "--custom", CP_AZ_STR, false, NULL, NULL, "Wait until the condition satisfies a custom JMESPath query. E.g. provisioningState!='InProgress', instanceView.statuses[?code=='PowerState/running']." },
        { "--interval", CP_AZ_INT, false, "30", NULL, "Polling interval in seconds." },
        { "--timeout", CP_AZ_INT, false, "3600", NULL, "Maximum wait in seconds." },
};
static const cp_az_cmd wait_cmd = { "aks nodepool wait", "Wait for a node pool to reach a desired state.", wait_args,
                                    CP_ELEMENTSOF(wait_args), NULL };

static const cp_az_arg startstop_args[] = { ARG_RG, ARG_CLUSTER, ARG_NAME, ARG_NO_WAIT };
static const cp_az_cmd start_cmd = { "aks nodepool start", "Start stopped agent pool in the managed Kubernetes cluster.",
                                     startstop_args, CP_ELEMENTSOF(startstop_args), NULL };
static const cp_az_cmd stop_cmd = { "aks nodepool stop", "Stop running agent pool in the managed Kubernetes cluster.",
                                    startstop_args, CP_ELEMENTSOF(startstop_args), NULL };

/* ---- helpers ------------------------------------------------------------------ */

/* pools URL (name NULL: the collection) + suffix */
static char *pool_url(cp_az_ctx *ctx, const char *name, const char *suffix, const char *query) {
        _cleanup_free_ char *rg = cp_az_escape(cp_az_str(ctx, "--resource-group"));
        _cleanup_free_ char *cl = cp_az_escape(cp_az_str(ctx, "--cluster-name"));
        _cleanup_free_ char *np = name ? cp_az_escape(name) : NULL;
        _cleanup_free_ char *path = NULL;
        if (!rg || !cl || (name && !np))
                return NULL;
        if (asprintf(&path, "/resourceGroups/%s/providers/Microsoft.ContainerService/managedClusters/%s/agentPools%s%s%s",
                     rg, cl, np ? "/" : "", np ? np : "", suffix ? suffix : "") < 0)
                return NULL;
        return cp_az_url(ctx, path, CP_AZ_API_CS, query);
}

static int validate_common(cp_az_ctx *ctx) {
        return cp_az_validate_nodepool_name(cp_az_str(ctx, "--name"));
}

/* GET the pool (REST shape). 404: prints the error (exit 3 when show). */
static int get_pool(cp_az_ctx *ctx, const char *url, bool show, json_t **ret) {
        cp_httpc_response resp;
        json_t *j = NULL;
        int r = cp_az_call(ctx, "GET", url, NULL, NULL, &resp, &j);
        *ret = NULL;
        if (r)
                return r;
        if (resp.status != 200 || !json_is_object(j)) {
                r = resp.status == 200 ? (cp_az_error("The node pool response is not a JSON object."), CP_EXIT_FAILURE)
                                       : cp_az_service_error(&resp, j, show);
                json_decref(j);
        } else
                *ret = j;
        cp_httpc_response_clear(&resp);
        return r;
}

/* The handlers' prologue: the name checked, connected. */
static int validate_connect(cp_az_ctx *ctx) {
        int r = validate_common(ctx);
        return r != 0 ? r : cp_az_connect(ctx);
}

/* The prologue of the handlers of one existing pool: validate_connect, then
 * the pool's URL and its REST shape (404: exit 3 when show). */
static int open_pool(cp_az_ctx *ctx, bool show, char **ret_url, json_t **ret_pool) {
        int r;
        *ret_url = NULL;
        *ret_pool = NULL;
        if ((r = validate_connect(ctx)) != 0)
                return r;
        *ret_url = pool_url(ctx, cp_az_str(ctx, "--name"), NULL, NULL);
        return get_pool(ctx, *ret_url, show, ret_pool);
}

static int print_pool(cp_az_ctx *ctx, json_t *rest) {
        json_t *flat = cp_azout_flatten_arm(rest, &cp_azout_renames_agentpool);
        if (!flat) {
                cp_az_error("%s", cp_error_message());
                return CP_EXIT_FAILURE;
        }
        int r = cp_az_output(ctx, flat, &cp_azout_table_agentpool);
        json_decref(flat);
        return r;
}

/* progress while nodes come up */
typedef struct progress {
        char *pool_url, *machines_url;
        const char *name;
        char last[256];
        bool tty, started, drawn;
} progress;

static void show_progress(cp_az_ctx *ctx, void *userdata, bool final) {
        progress *p = userdata;
        if (ctx->only_show_errors)
                return;
        if (!p->started) {
                p->started = true;
                if (!p->tty)
                        fputs("Running ..\n", stderr);
        }
        cp_httpc_response resp;
        json_t *pool = NULL, *machines = NULL;
        const char *state = NULL;
        long long want = -1, ready = 0, total = 0;
        if (cp_az_call(ctx, "GET", p->pool_url, NULL, NULL, &resp, &pool) != 0)
                return;
        if (resp.status == 200) {
                json_t *props = json_object_get(pool, "properties");
                state = json_string_value(json_object_get(props, "provisioningState"));
                if (json_is_integer(json_object_get(props, "count")))
                        want = json_integer_value(json_object_get(props, "count"));
        }
        cp_httpc_response_clear(&resp);
        if (cp_az_call(ctx, "GET", p->machines_url, NULL, NULL, &resp, &machines) == 0) {
                size_t i;
                json_t *m;
                if (resp.status == 200)
                        json_array_foreach(json_object_get(machines, "value"), i, m) {
                                json_t *mp = json_object_get(m, "properties");
                                const char *ms = json_string_value(
                                        json_object_get(json_object_get(mp, "status"), "provisioningState"));
                                total++;
                                if (ms && !strcasecmp(ms, "Succeeded"))
                                        ready++;
                        }
                cp_httpc_response_clear(&resp);
        }
        if (want < 0)
                want = total;
        char line[256];
        snprintf(line, sizeof line, "%s: %s, %lld/%lld nodes ready", p->name, state ? state : "Unknown", ready, want);
        if (p->tty) {
                int width = 30, fill = want > 0 ? (int) (ready * width / want) : (final ? width : 0);
                if (fill > width)
                        fill = width;
                fprintf(stderr, "\r[");
                for (int i = 0; i < width; i++)
                        fputc(i < fill ? '#' : '-', stderr);
                fprintf(stderr, "] %s\033[K", line);
                if (final)
                        fputc('\n', stderr);
                p->drawn = true;
        } else if (strcmp(line, p->last) != 0) {
                fprintf(stderr, "%s\n", line);
        }
        fflush(stderr);
        snprintf(p->last, sizeof p->last, "%s", line);
        json_decref(pool);
        json_decref(machines);
}

/* PUT (or POST) the pool, then --no-wait or LRO and print the pool. */
static int send_pool(cp_az_ctx *ctx, const char *method, const char *url, const char *pool_get_url, json_t *body,
                     const char *const *headers, bool with_progress) {
        cp_httpc_response resp;
        json_t *j = NULL, *fin = NULL;
        int r = cp_az_call(ctx, method, url, body, headers, &resp, &j);
        if (r)
                return r;
        if (resp.status >= 300) {
                r = cp_az_service_error(&resp, j, false);
                goto out;
        }
        if (cp_az_flag(ctx, "--no-wait"))
                goto out;
        progress p = { .name = cp_az_str(ctx, "--name"), .tty = isatty(STDERR_FILENO) };
        if (with_progress) {
                p.pool_url = strdup(pool_get_url);
                p.machines_url = pool_url(ctx, cp_az_str(ctx, "--name"), "/machines", NULL);
        }
        bool prog = with_progress && p.pool_url && p.machines_url;
        r = cp_az_lro(ctx, &resp, pool_get_url, prog ? show_progress : NULL, &p, &fin);
        free(p.pool_url);
        free(p.machines_url);
        if (r == 0)
                r = fin ? print_pool(ctx, fin) : 0;
out:
        json_decref(fin);
        json_decref(j);
        cp_httpc_response_clear(&resp);
        return r;
}

static json_t *props_of(json_t *pool) {
        json_t *p = json_object_get(pool, "properties");
        if (!json_is_object(p)) {
                p = json_object();
                json_object_set_new(pool, "properties", p);
        }
        return p;
}

static json_t *sub_object(json_t *o, const char *key) {
        json_t *p = json_object_get(o, key);
        if (!json_is_object(p)) {
                p = json_object();
                json_object_set_new(o, key, p);
        }
        return p;
}

static int read_json_file(const char *flag, const char *path, json_t **ret) {
        json_error_t je;
        uint8_t *data = NULL;
        size_t len = 0;
        if (cp_read_file(path, 1024 * 1024, &data, &len) < 0)
                return cp_az_usage_error("%s: %s", flag, cp_error_message());
        json_t *j = json_loadb((const char *) data, len, 0, &je);
        free(data);
        if (!json_is_object(j)) {
                json_decref(j);
                return cp_az_usage_error("%s: %s is not a JSON object", flag, path);
        }
        *ret = j;
        return 0;
}

/* upgradeSettings flags shared by add/update/upgrade */
static int apply_upgrade_settings(cp_az_ctx *ctx, json_t *props) {
        int r;
        if ((r = cp_az_validate_max_surge(cp_az_str(ctx, "--max-surge"))) != 0)
                return r;
        if ((r = cp_az_validate_max_surge(cp_az_str(ctx, "--max-unavailable"))) != 0)
                return r;
        if (!cp_az_given(ctx, "--max-surge") && !cp_az_given(ctx, "--max-unavailable") &&
            !cp_az_given(ctx, "--drain-timeout") && !cp_az_given(ctx, "--node-soak-duration") &&
            !cp_az_given(ctx, "--undrainable-node-behavior"))
                return 0;
        json_t *us = sub_object(props, "upgradeSettings");
        if (cp_az_given(ctx, "--max-surge"))
                json_object_set_new(us, "maxSurge", json_string(cp_az_str(ctx, "--max-surge")));
        if (cp_az_given(ctx, "--max-unavailable"))
                json_object_set_new(us, "maxUnavailable", json_string(cp_az_str(ctx, "--max-unavailable")));
        if (cp_az_given(ctx, "--drain-timeout"))
                json_object_set_new(us, "drainTimeoutInMinutes", json_integer(cp_az_get(ctx, "--drain-timeout")->num));
        if (cp_az_given(ctx, "--node-soak-duration"))
                json_object_set_new(us, "nodeSoakDurationInMinutes",
                                    json_integer(cp_az_get(ctx, "--node-soak-duration")->num));
        if (cp_az_given(ctx, "--undrainable-node-behavior"))
                json_object_set_new(us, "undrainableNodeBehavior", json_string(cp_az_str(ctx, "--undrainable-node-behavior")));
        return 0;
}

static void set_str(json_t *o, const char *key, cp_az_ctx *ctx, const char *flag) {
        const char *v = cp_az_str(ctx, flag);
        if (v)
                json_object_set_new(o, key, json_string(v));
}

static void set_int(json_t *o, const char *key, cp_az_ctx *ctx, const char *flag) {
        const cp_az_val *v = cp_az_get(ctx, flag);
        if (v->set)
                json_object_set_new(o, key, json_integer(v->num));
}

static void set_true(json_t *o, const char *key, cp_az_ctx *ctx, const char *flag) {
        if (cp_az_flag(ctx, flag))
                json_object_set_new(o, key, json_true());
}

/* ---- add ------------------------------------------------------------------------ */

static int validate_autoscaler(cp_az_ctx *ctx, bool enable, long long count, bool check_count) {
        const cp_az_val *mn = cp_az_get(ctx, "--min-count"), *mx = cp_az_get(ctx, "--max-count");
        int r;
        if ((r = cp_az_validate_count_range("--min-count", mn)) != 0 ||
            (r = cp_az_validate_count_range("--max-count", mx)) != 0)
                return r;
        if (!enable) {
                if (mn->set || mx->set)
                        return cp_az_usage_error("min-count and max-count are required for --enable-cluster-autoscaler, "
                                                 "please use the flag");
                return 0;
        }
        if (!mn->set || !mx->set)
                return cp_az_usage_error("Please specify both min-count and max-count when --enable-cluster-autoscaler "
                                         "enabled");
        if (mn->num > mx->num)
                return cp_az_usage_error("Value of min-count should be less than or equal to value of max-count");
        if (check_count && (count < mn->num || count > mx->num))
                return cp_az_usage_error("node-count is not in the range of min-count and max-count");
        return 0;
}

static int validate_spot(cp_az_ctx *ctx) {
        bool spot = !strcmp(cp_az_str(ctx, "--priority"), "Spot");
        if (cp_az_given(ctx, "--eviction-policy") && !spot)
                return cp_az_usage_error("--eviction-policy can only be set when --priority is Spot");
        const cp_az_val *p = cp_az_get(ctx, "--spot-max-price");
        if (!p->set)
                return 0;
        if (!spot)
                return cp_az_usage_error("--spot_max_price can only be set when --priority is Spot");
        const char *dot = strchr(p->str, '.');
        if (dot && strlen(dot + 1) > 5)
                return cp_az_usage_error("--spot_max_price can only be in the format ##.#####, e.g. 0.12345 (up to 5 "
                                         "decimal places)");
        if (p->real <= 0 && fabs(p->real + 1.0) > 1e-6)
                return cp_az_usage_error("--spot_max_price can only be any decimal value greater than zero, or -1 which "
                                         "indicates default price to be up-to on-demand");
        return 0;
}

/* az's duplicate-name check: GET the list first. 0: absent, 1: exists. */
static int pool_exists(cp_az_ctx *ctx, const char *name, int *ret_exit) {
        _cleanup_free_ char *url = pool_url(ctx, NULL, NULL, NULL);
        json_t *list = NULL;
        int r = cp_az_list(ctx, url, NULL, &list);
        if (r) {
                *ret_exit = r;
                return -1;
        }
        size_t i;
        json_t *p;
        int found = 0;
        json_array_foreach(list, i, p) {
                const char *n = json_string_value(json_object_get(p, "name"));
                if (n && !strcasecmp(n, name))
                        found = 1;
        }
        json_decref(list);
        return found;
}

static int validate_add(cp_az_ctx *ctx) {
        int r;
        if ((r = validate_common(ctx)) != 0 || (r = cp_az_validate_k8s_version(cp_az_str(ctx, "--kubernetes-version"))) != 0)
                return r;
        long long count = cp_az_get(ctx, "--node-count")->num;
        bool autoscale = cp_az_flag(ctx, "--enable-cluster-autoscaler");
        if ((r = validate_autoscaler(ctx, autoscale, count, true)) != 0 || (r = validate_spot(ctx)) != 0)
                return r;
        static const char *const ids[] = { "--vnet-subnet-id", "--pod-subnet-id", "--node-public-ip-prefix-id",
                                           "--snapshot-id",    "--ppg",           "--host-group-id",
                                           "--crg-id" };
        for (size_t i = 0; i < CP_ELEMENTSOF(ids); i++)
                if ((r = cp_az_validate_arm_id(ids[i], cp_az_str(ctx, ids[i]))) != 0)
                        return r;
        return 0;
}

/* Size, version, OS, disk, zones, scaling and priority of a new pool. */
static void add_compute_props(cp_az_ctx *ctx, json_t *props) {
        json_object_set_new(props, "count", json_integer(cp_az_get(ctx, "--node-count")->num));
        set_str(props, "vmSize", ctx, "--node-vm-size");
        const char *k = cp_az_str(ctx, "--kubernetes-version");
        if (k)
                json_object_set_new(props, "orchestratorVersion", json_string(k[0] == 'v' || k[0] == 'V' ? k + 1 : k));
        set_str(props, "osType", ctx, "--os-type");
        set_str(props, "osSKU", ctx, "--os-sku");
        set_str(props, "mode", ctx, "--mode");
        set_int(props, "maxPods", ctx, "--max-pods");
        set_int(props, "osDiskSizeGB", ctx, "--node-osdisk-size");
        set_str(props, "osDiskType", ctx, "--node-osdisk-type");
        const cp_az_val *z = cp_az_get(ctx, "--zones");
        if (z->set) {
                json_t *a = json_array();
                for (size_t i = 0; i < z->n_list; i++)
                        json_array_append_new(a, json_string(z->list[i]));
                json_object_set_new(props, "availabilityZones", a);
        }
        if (cp_az_flag(ctx, "--enable-cluster-autoscaler")) {
                json_object_set_new(props, "enableAutoScaling", json_true());
                set_int(props, "minCount", ctx, "--min-count");
                set_int(props, "maxCount", ctx, "--max-count");
        }
        set_str(props, "scaleDownMode", ctx, "--scale-down-mode");
        set_str(props, "scaleSetPriority", ctx, "--priority");
        if (!strcmp(cp_az_str(ctx, "--priority"), "Spot")) {
                json_object_set_new(props, "scaleSetEvictionPolicy",
                                    json_string(cp_az_str(ctx, "--eviction-policy") ? cp_az_str(ctx, "--eviction-policy")
                                                                                    : "Delete"));
                const cp_az_val *p = cp_az_get(ctx, "--spot-max-price");
                json_object_set_new(props, "spotMaxPrice", json_real(p->set ? p->real : -1.0));
        }
}

/* --labels, --node-taints, --tags */
static int add_label_props(cp_az_ctx *ctx, json_t *props) {
        json_t *tmp = NULL;
        int r;
        if ((r = cp_az_parse_labels(cp_az_get(ctx, "--labels"), &tmp)) != 0)
                return r;
        if (tmp)
                json_object_set_new(props, "nodeLabels", tmp);
        tmp = NULL;
        if (cp_az_str(ctx, "--node-taints")) {
                if ((r = cp_az_parse_taints(cp_az_str(ctx, "--node-taints"), &tmp)) != 0)
                        return r;
                json_object_set_new(props, "nodeTaints", tmp);
                tmp = NULL;
        }
        if ((r = cp_az_parse_tags(cp_az_get(ctx, "--tags"), &tmp)) != 0)
                return r;
        if (tmp)
                json_object_set_new(props, "tags", tmp);
        return 0;
}

/* Network, upgrade settings, security and hardware options. */
static int add_platform_props(cp_az_ctx *ctx, json_t *props) {
        int r;
        set_str(props, "vnetSubnetID", ctx, "--vnet-subnet-id");
        set_str(props, "podSubnetID", ctx, "--pod-subnet-id");
        set_str(props, "podIPAllocationMode", ctx, "--pod-ip-allocation-mode");
        set_true(props, "enableNodePublicIP", ctx, "--enable-node-public-ip");
        set_str(props, "nodePublicIPPrefixID", ctx, "--node-public-ip-prefix-id");
        if ((r = apply_upgrade_settings(ctx, props)) != 0)
                return r;
        set_str(props, "type", ctx, "--vm-set-type");
        set_true(props, "enableFIPS", ctx, "--enable-fips-image");
        if (cp_az_flag(ctx, "--enable-secure-boot") || cp_az_flag(ctx, "--enable-vtpm")) {
                json_t *sp = sub_object(props, "securityProfile");
                set_true(sp, "enableSecureBoot", ctx, "--enable-secure-boot");
                set_true(sp, "enableVTPM", ctx, "--enable-vtpm");
        }
        set_true(props, "enableEncryptionAtHost", ctx, "--enable-encryption-at-host");
        set_true(props, "enableUltraSSD", ctx, "--enable-ultra-ssd");
        set_str(props, "workloadRuntime", ctx, "--workload-runtime");
        set_str(props, "gpuInstanceProfile", ctx, "--gpu-instance-profile");
        if (cp_az_str(ctx, "--gpu-driver"))
                json_object_set_new(sub_object(props, "gpuProfile"), "driver", json_string(cp_az_str(ctx, "--gpu-driver")));
        return 0;
}

/* A JSON file option (--kubelet-config, --linux-os-config) as props' key. */
static int add_json_file_prop(cp_az_ctx *ctx, json_t *props, const char *key, const char *flag) {
        json_t *tmp = NULL;
        int r;
        if (!cp_az_str(ctx, flag))
                return 0;
        if ((r = read_json_file(flag, cp_az_str(ctx, flag), &tmp)) != 0)
                return r;
        json_object_set_new(props, key, tmp);
        return 0;
}

/* --message-of-the-day FILE: its bytes in base64. */
static int add_motd_prop(cp_az_ctx *ctx, json_t *props) {
        const char *path = cp_az_str(ctx, "--message-of-the-day");
        if (!path)
                return 0;
        uint8_t *data = NULL;
        size_t len = 0;
        if (cp_read_file(path, 64 * 1024, &data, &len) < 0)
                return cp_az_usage_error("--message-of-the-day: %s", cp_error_message());
        char *b64 = malloc(cp_b64_encoded_len(len, CP_B64_STD) + 1);
        if (!b64) {
                free(data);
                return cp_az_usage_error("out of memory");
        }
        cp_b64_encode(data, len, CP_B64_STD, b64);
        free(data);
        json_object_set_new(props, "messageOfTheDay", json_string(b64));
        free(b64);
        return 0;
}

/* Configuration files, the snapshot and the placement groups. */
static int add_config_props(cp_az_ctx *ctx, json_t *props) {
        int r;
        if ((r = add_json_file_prop(ctx, props, "kubeletConfig", "--kubelet-config")) != 0 ||
            (r = add_json_file_prop(ctx, props, "linuxOSConfig", "--linux-os-config")) != 0 ||
            (r = add_motd_prop(ctx, props)) != 0)
                return r;
        if (cp_az_str(ctx, "--snapshot-id"))
                json_object_set_new(sub_object(props, "creationData"), "sourceResourceId",
                                    json_string(cp_az_str(ctx, "--snapshot-id")));
        set_str(props, "proximityPlacementGroupID", ctx, "--ppg");
        set_str(props, "hostGroupID", ctx, "--host-group-id");
        set_str(props, "capacityReservationGroupID", ctx, "--crg-id");
        return 0;
}

/* Connect, refuse a duplicate name (az checks the list first), PUT. */
static int put_new_pool(cp_az_ctx *ctx, json_t *body) {
        const char *name = cp_az_str(ctx, "--name"), *sku = cp_az_str(ctx, "--os-sku");
        int r;
        if ((r = cp_az_connect(ctx)) != 0)
                return r;
        if (sku && (!strcmp(sku, "CBLMariner") || !strcmp(sku, "Mariner")))
                cp_az_warn(ctx, "The osSKU '%s' is deprecated; use 'AzureLinux' instead.", sku);
        int ex = 0, found = pool_exists(ctx, name, &ex);
        if (found < 0)
                return ex;
        if (found) {
                cp_az_error("Node pool %s already exists, please try a different name, use 'aks nodepool list' to get "
                            "current list of node pool",
                            name);
                return CP_EXIT_FAILURE;
        }
        _cleanup_free_ char *url = pool_url(ctx, name, NULL, NULL);
        char h1[600], h2[600];
        const char *headers[3] = { NULL, NULL, NULL };
        size_t nh = 0;
        if (cp_az_str(ctx, "--if-match")) {
                snprintf(h1, sizeof h1, "If-Match: %s", cp_az_str(ctx, "--if-match"));
                headers[nh++] = h1;
        }
        if (cp_az_str(ctx, "--if-none-match")) {
                snprintf(h2, sizeof h2, "If-None-Match: %s", cp_az_str(ctx, "--if-none-match"));
                headers[nh++] = h2;
        }
        return send_pool(ctx, "PUT", url, url, body, nh ? headers : NULL, true);
}

static int np_add(cp_az_ctx *ctx) {
        int r;
        if ((r = validate_add(ctx)) != 0)
                return r;
        json_t *body = json_object(), *props = props_of(body);
        add_compute_props(ctx, props);
        if ((r = add_label_props(ctx, props)) == 0 && (r = add_platform_props(ctx, props)) == 0 &&
            (r = add_config_props(ctx, props)) == 0)
                r = put_new_pool(ctx, body);
        json_decref(body);
        return r;
}

/* ---- show / list ------------------------------------------------------------------ */

static int np_show(cp_az_ctx *ctx) {
        _cleanup_free_ char *url = NULL;
        json_t *pool = NULL;
        int r = open_pool(ctx, true, &url, &pool);
        if (r != 0)
                return r;
        r = print_pool(ctx, pool);
        json_decref(pool);
        return r;
}

static int np_list(cp_az_ctx *ctx) {
        int r;
        if ((r = validate_connect(ctx)) != 0)
                return r;
        _cleanup_free_ char *url = pool_url(ctx, NULL, NULL, NULL);
        json_t *list = NULL;
        if ((r = cp_az_list(ctx, url, &cp_azout_renames_agentpool, &list)) != 0)
                return r;
        const char *name = cp_az_str(ctx, "--name");
        if (name) {
                /* the use-cvm document runs "nodepool list --name X --query nodeImageVersion" */
                json_t *one = NULL;
                size_t i;
                json_t *p;
                json_array_foreach(list, i, p) {
                        const char *n = json_string_value(json_object_get(p, "name"));
                        if (n && !strcasecmp(n, name))
                                one = json_incref(p);
                }
                json_decref(list);
                if (!one) {
                        cp_az_error("Node pool %s doesnt exist, use 'aks nodepool list' to get current node pool list",
                                    name);
                        return CP_EXIT_NOT_FOUND;
                }
                list = one;
        }
        r = cp_az_output(ctx, list, &cp_azout_table_agentpool);
        json_decref(list);
        return r;
}

/* ---- update / scale / upgrade / start / stop ----------------------------------------- */

static int flag_pair(cp_az_ctx *ctx, const char *en, const char *dis, json_t *o, const char *key) {
        if (cp_az_flag(ctx, en) && cp_az_flag(ctx, dis))
                return cp_az_usage_error("Cannot specify %s and %s at the same time.", en, dis);
        if (cp_az_flag(ctx, en))
                json_object_set_new(o, key, json_true());
        if (cp_az_flag(ctx, dis))
                json_object_set_new(o, key, json_false());
        return 0;
}

static int np_update(cp_az_ctx *ctx) {
        int r;
        if ((r = validate_common(ctx)) != 0)
                return r;
        bool en = cp_az_flag(ctx, "--enable-cluster-autoscaler"), dis = cp_az_flag(ctx, "--disable-cluster-autoscaler"),
             upd = cp_az_flag(ctx, "--update-cluster-autoscaler");
        if (en + dis + upd > 1)
                return cp_az_usage_error("Please specify one or more of \"--enable-cluster-autoscaler\" or "
                                         "\"--disable-cluster-autoscaler\" or \"--update-cluster-autoscaler\"");
        if ((r = validate_autoscaler(ctx, en || upd, 0, false)) != 0)
                return r;
        json_t *labels = NULL, *tags = NULL, *taints = NULL, *pool = NULL;
        _cleanup_free_ char *url = NULL;
        if ((r = cp_az_parse_labels(cp_az_get(ctx, "--labels"), &labels)) != 0)
                return r;
        if ((r = cp_az_parse_tags(cp_az_get(ctx, "--tags"), &tags)) != 0)
                goto out0;
        if (cp_az_given(ctx, "--node-taints") && (r = cp_az_parse_taints(cp_az_str(ctx, "--node-taints"), &taints)) != 0)
                goto out0;
        if ((r = cp_az_connect(ctx)) != 0)
                goto out0;
        url = pool_url(ctx, cp_az_str(ctx, "--name"), NULL, NULL);
        if ((r = get_pool(ctx, url, false, &pool)) != 0)
                goto out0;
        json_t *props = props_of(pool);
        bool enabled = json_is_true(json_object_get(props, "enableAutoScaling"));
        if (en && enabled) {
                cp_az_warn(ctx, "Cluster autoscaler is already enabled for this node pool.\nPlease run \"confpool aks "
                                "nodepool update --update-cluster-autoscaler\" if you want to update min-count or max-count.");
                goto out;
        }
        if (upd && !enabled) {
                cp_az_error("Cluster autoscaler is not enabled for this node pool.\nRun \"confpool aks nodepool update "
                            "--enable-cluster-autoscaler\" to enable cluster with min-count and max-count.");
                r = CP_EXIT_FAILURE;
                goto out;
        }
        if (dis && !enabled) {
                cp_az_warn(ctx, "Cluster autoscaler is already disabled for this node pool.");
                goto out;
        }
        if (en || upd) {
                json_object_set_new(props, "enableAutoScaling", json_true());
                set_int(props, "minCount", ctx, "--min-count");
                set_int(props, "maxCount", ctx, "--max-count");
        }
        if (dis) {
                json_object_set_new(props, "enableAutoScaling", json_false());
                json_object_set_new(props, "minCount", json_null());
                json_object_set_new(props, "maxCount", json_null());
        }
        if (labels)
                json_object_set(props, "nodeLabels", labels);
        if (tags)
                json_object_set(props, "tags", tags);
        if (taints)
                json_object_set(props, "nodeTaints", taints);
        if ((r = apply_upgrade_settings(ctx, props)) != 0)
                goto out;
        set_str(props, "mode", ctx, "--mode");
        set_str(props, "scaleDownMode", ctx, "--scale-down-mode");
        set_str(props, "osSKU", ctx, "--os-sku");
        if ((r = flag_pair(ctx, "--enable-fips-image", "--disable-fips-image", props, "enableFIPS")) != 0)
                goto out;
        if (cp_az_flag(ctx, "--enable-vtpm") || cp_az_flag(ctx, "--disable-vtpm") || cp_az_flag(ctx, "--enable-secure-boot") ||
            cp_az_flag(ctx, "--disable-secure-boot")) {
                json_t *sp = sub_object(props, "securityProfile");
                if ((r = flag_pair(ctx, "--enable-vtpm", "--disable-vtpm", sp, "enableVTPM")) != 0 ||
                    (r = flag_pair(ctx, "--enable-secure-boot", "--disable-secure-boot", sp, "enableSecureBoot")) != 0)
                        goto out;
        }
        {
                char h[600];
                const char *headers[2] = { NULL, NULL };
                if (cp_az_str(ctx, "--if-match")) {
                        snprintf(h, sizeof h, "If-Match: %s", cp_az_str(ctx, "--if-match"));
                        headers[0] = h;
                }
                r = send_pool(ctx, "PUT", url, url, pool, headers[0] ? headers : NULL, false);
        }
out:
        json_decref(pool);
out0:
        json_decref(labels);
        json_decref(tags);
        json_decref(taints);
        return r;
}

static int np_scale(cp_az_ctx *ctx) {
        _cleanup_free_ char *url = NULL;
        json_t *pool = NULL;
        int r = open_pool(ctx, false, &url, &pool);
        if (r != 0)
                return r;
        json_t *props = props_of(pool);
        long long count = cp_az_get(ctx, "--node-count")->num;
        if (json_is_true(json_object_get(props, "enableAutoScaling"))) {
                cp_az_error("Cannot scale cluster autoscaler enabled node pool.");
                r = CP_EXIT_FAILURE;
        } else if (json_integer_value(json_object_get(props, "count")) == count) {
                cp_az_error("The new node count is the same as the current node count.");
                r = CP_EXIT_FAILURE;
        } else {
                json_object_set_new(props, "count", json_integer(count));
                r = send_pool(ctx, "PUT", url, url, pool, NULL, true);
        }
        json_decref(pool);
        return r;
}

static int np_upgrade(cp_az_ctx *ctx) {
        int r;
        if ((r = validate_common(ctx)) != 0 || (r = cp_az_validate_k8s_version(cp_az_str(ctx, "--kubernetes-version"))) != 0)
                return r;
        const char *k = cp_az_str(ctx, "--kubernetes-version");
        bool image_only = cp_az_flag(ctx, "--node-image-only");
        if (image_only && k && *k)
                return cp_az_usage_error("Conflicting flags. Upgrading the Kubernetes version will also upgrade node "
                                         "image version. If you only want to upgrade the node version please use the "
                                         "\"--node-image-only\" option only.");
        if (image_only && (cp_az_given(ctx, "--max-surge") || cp_az_given(ctx, "--drain-timeout") ||
                           cp_az_given(ctx, "--node-soak-duration") || cp_az_given(ctx, "--max-unavailable") ||
                           cp_az_given(ctx, "--undrainable-node-behavior")))
                return cp_az_usage_error("Conflicting flags. Unable to specify max-surge/drain-timeout/"
                                         "node-soak-duration/max-unavailable/undrainable-node-behavior with "
                                         "node-image-only. If you want to use them, please set them in the agent "
                                         "pool profile and run node image upgrade without them.");
        if ((r = cp_az_connect(ctx)) != 0)
                return r;
        _cleanup_free_ char *url = pool_url(ctx, cp_az_str(ctx, "--name"), NULL, NULL);
        if (image_only) {
                _cleanup_free_ char *post = pool_url(ctx, cp_az_str(ctx, "--name"), "/upgradeNodeImageVersion", NULL);
                return send_pool(ctx, "POST", post, url, NULL, NULL, false);
        }
        json_t *pool = NULL;
        if ((r = get_pool(ctx, url, false, &pool)) != 0)
                return r;
        json_t *props = props_of(pool);
        if (k && (k[0] == 'v' || k[0] == 'V'))
                k++;
        const char *cur0 = json_string_value(json_object_get(props, "orchestratorVersion"));
        _cleanup_free_ char *cur = cur0 ? strdup(cur0) : NULL; /* the value is replaced below */
        if (!k || !*k) {
                /* default: the cluster's version */
                _cleanup_free_ char *rg = cp_az_escape(cp_az_str(ctx, "--resource-group"));
                _cleanup_free_ char *cl = cp_az_escape(cp_az_str(ctx, "--cluster-name"));
                _cleanup_free_ char *path = NULL, *curl = NULL;
                if (rg && cl &&
                    asprintf(&path, "/resourceGroups/%s/providers/Microsoft.ContainerService/managedClusters/%s", rg, cl) >= 0)
                        curl = cp_az_url(ctx, path, CP_AZ_API_CS, NULL);
                json_t *cluster = NULL;
                if ((r = get_pool(ctx, curl, false, &cluster)) != 0) {
                        json_decref(pool);
                        return r;
                }
                const char *cv = json_string_value(json_object_get(json_object_get(cluster, "properties"), "kubernetesVersion"));
                json_object_set_new(props, "orchestratorVersion", json_string(cv ? cv : ""));
                json_decref(cluster);
        } else
                json_object_set_new(props, "orchestratorVersion", json_string(k));
        const char *target = json_string_value(json_object_get(props, "orchestratorVersion"));
        if (cur && target && !strcmp(cur, target)) {
                const char *st = json_string_value(json_object_get(props, "provisioningState"));
                char msg[512];
                if (st && !strcasecmp(st, "Failed"))
                        snprintf(msg, sizeof msg,
                                 "Cluster currently in failed state. Proceeding with upgrade to existing version %s to "
                                 "attempt resolution of failed cluster state.",
                                 cur);
                else
                        snprintf(msg, sizeof msg,
                                 "The cluster is already on version %s and is not in a failed state. No operations will "
                                 "occur when upgrading to the same version.",
                                 cur);
                if (!cp_az_confirm(cp_az_flag(ctx, "--yes"), msg, &r)) {
                        json_decref(pool);
                        return r;
                }
        }
        if ((r = apply_upgrade_settings(ctx, props)) == 0) {
                if (cp_az_str(ctx, "--snapshot-id"))
                        json_object_set_new(sub_object(props, "creationData"), "sourceResourceId",
                                            json_string(cp_az_str(ctx, "--snapshot-id")));
                r = send_pool(ctx, "PUT", url, url, pool, NULL, false);
        }
        json_decref(pool);
        return r;
}

static int power(cp_az_ctx *ctx, const char *code) {
        _cleanup_free_ char *url = NULL;
        json_t *pool = NULL;
        int r = open_pool(ctx, false, &url, &pool);
        if (r != 0)
                return r;
        json_object_set_new(props_of(pool), "powerState", json_pack("{s:s}", "code", code));
        r = send_pool(ctx, "PUT", url, url, pool, NULL, false);
        json_decref(pool);
        return r;
}

static int np_start(cp_az_ctx *ctx) {
        return power(ctx, "Running");
}

static int np_stop(cp_az_ctx *ctx) {
        return power(ctx, "Stopped");
}

/* ---- delete / get-upgrades / wait ------------------------------------------------ */

static int np_delete(cp_az_ctx *ctx) {
        int r;
        const char *name = cp_az_str(ctx, "--name");
        if ((r = validate_connect(ctx)) != 0)
                return r;
        int ex = 0, found = pool_exists(ctx, name, &ex);
        if (found < 0)
                return ex;
        if (!found) {
                cp_az_error("Node pool %s doesnt exist, use 'aks nodepool list' to get current node pool list", name);
                return CP_EXIT_FAILURE;
        }
        _cleanup_free_ char *url =
                pool_url(ctx, name, NULL, cp_az_flag(ctx, "--ignore-pdb") ? "ignore-pod-disruption-budget=true" : NULL);
        char h[600];
        const char *headers[2] = { NULL, NULL };
        if (cp_az_str(ctx, "--if-match")) {
                snprintf(h, sizeof h, "If-Match: %s", cp_az_str(ctx, "--if-match"));
                headers[0] = h;
        }
        return cp_az_delete(ctx, url, headers[0] ? headers : NULL);
}

static int np_get_upgrades(cp_az_ctx *ctx) {
        int r;
        if ((r = validate_connect(ctx)) != 0)
                return r;
        _cleanup_free_ char *url = pool_url(ctx, cp_az_str(ctx, "--name"), "/upgradeProfiles/default", NULL);
        return cp_az_simple(ctx, "GET", url, NULL, false, &cp_az_no_renames, NULL);
}

static int np_wait(cp_az_ctx *ctx) {
        int r;
        if ((r = validate_common(ctx)) != 0)
                return r;
        bool created = cp_az_flag(ctx, "--created"), updated = cp_az_flag(ctx, "--updated"),
             deleted = cp_az_flag(ctx, "--deleted"), exists = cp_az_flag(ctx, "--exists");
        const char *custom = cp_az_str(ctx, "--custom");
        if (created + updated + deleted + exists + (custom != NULL) != 1)
                return cp_az_usage_error("incorrect usage: --created | --updated | --deleted | --exists | --custom JMESPATH");
        long long interval = cp_az_get(ctx, "--interval")->num, timeout = cp_az_get(ctx, "--timeout")->num;
        if (interval < 0 || timeout < 0)
                return cp_az_usage_error("--interval and --timeout must not be negative");
        _cleanup_(cp_jmespath_freep) cp_jmespath *cq = NULL;
        if (custom && cp_jmespath_compile(custom, &cq) < 0)
                return cp_az_usage_error("argument --custom: invalid jmespath_type value: '%s'", custom);
        if ((r = cp_az_connect(ctx)) != 0)
                return r;
        _cleanup_free_ char *url = pool_url(ctx, cp_az_str(ctx, "--name"), NULL, NULL);
        time_t start = time(NULL);
        for (;;) {
                cp_httpc_response resp;
                json_t *j = NULL;
                bool done = false;
                if ((r = cp_az_call(ctx, "GET", url, NULL, NULL, &resp, &j)) != 0)
                        return r;
                if (resp.status == 404) {
                        done = deleted;
                } else if (resp.status == 200) {
                        const char *st = json_string_value(json_object_get(json_object_get(j, "properties"), "provisioningState"));
                        if (exists)
                                done = true;
                        else if (created || updated)
                                done = st && !strcasecmp(st, "Succeeded");
                        else if (cq) {
                                json_t *flat = cp_azout_flatten_arm(j, &cp_azout_renames_agentpool), *res = NULL;
                                if (flat && cp_jmespath_search(cq, flat, &res) == 0)
                                        done = !(json_is_null(res) || json_is_false(res) ||
                                                 (json_is_string(res) && !*json_string_value(res)) ||
                                                 (json_is_array(res) && !json_array_size(res)) ||
                                                 (json_is_object(res) && !json_object_size(res)));
                                json_decref(res);
                                json_decref(flat);
                        }
                        if (st && !strcasecmp(st, "Failed") && (created || updated)) {
                                cp_az_error("The node pool is in provisioning state 'Failed'.");
                                r = CP_EXIT_FAILURE;
                                done = true;
                        }
                } else {
                        r = cp_az_service_error(&resp, j, false);
                        done = true;
                }
                json_decref(j);
                cp_httpc_response_clear(&resp);
                if (done)
                        return r;
                if (time(NULL) - start >= timeout) {
                        cp_az_error("Wait operation timed-out after %lld seconds", timeout);
                        return CP_EXIT_FAILURE;
                }
                cp_az_sleep_ms(interval * 1000 < 50 ? 50 : (long) (interval * 1000));
        }
}

static const cp_az_entry entries[] = {
        { "add", &add_cmd, np_add, NULL },
        { "attestation-policy", NULL, NULL, &cp_az_group_attest_policy },
        { "delete", &delete_cmd, np_delete, NULL },
        { "get-upgrades", &upgrades_cmd, np_get_upgrades, NULL },
        { "list", &list_cmd, np_list, NULL },
        { "scale", &scale_cmd, np_scale, NULL },
        { "show", &show_cmd, np_show, NULL },
        { "start", &start_cmd, np_start, NULL },
        { "stop", &stop_cmd, np_stop, NULL },
        { "update", &update_cmd, np_update, NULL },
        { "upgrade", &upgrade_cmd, np_upgrade, NULL },
        { "wait", &wait_cmd, np_wait, NULL },
};

const cp_az_group cp_az_group_nodepool = {
        "aks nodepool", "Commands to manage node pools in Kubernetes kubernetes cluster.", entries, CP_ELEMENTSOF(entries),
};
