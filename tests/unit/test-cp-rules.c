/* SPDX-License-Identifier: Apache-2.0 */
/* confpoold rules: size catalogue, OS SKU x Kubernetes matrix (every row),
 * every invalid CVM combination with its code, system pools, names, quota,
 * retired node OS, node image names, configuration overrides. */
#include <stdlib.h>
#include <string.h>

#include "controlplane/cp-backend.h"
#include "controlplane/cp-rules.h"
#include "tests.h"

static const char *registered_features[4];

static bool features(void *ud, const char *f) {
        (void) ud;
        for (size_t i = 0; i < 4 && registered_features[i]; i++)
                if (strcmp(registered_features[i], f) == 0)
                        return true;
        return false;
}

static cp_rules *rules_with(const char *cfg) {
        cp_rules *r = NULL;
        if (cp_rules_new(&r) < 0)
                cp_test_fail(__FILE__, __LINE__, "cp_rules_new");
        if (cfg) {
                json_error_t je;
                json_t *j = json_loads(cfg, 0, &je);
                if (!j || cp_rules_load_json(r, j) < 0)
                        cp_test_fail(__FILE__, __LINE__, "config: %s", cp_error_message());
                json_decref(j);
        }
        return r;
}

/* All versions 1.24 .. 1.38 so every matrix row is reachable. */
static const char all_versions[] =
        "{\"kubernetesVersions\":[{\"version\":\"1.24.9\"},{\"version\":\"1.27.3\"},{\"version\":\"1.28.5\"},"
        "{\"version\":\"1.31.2\"},{\"version\":\"1.32.6\"},{\"version\":\"1.33.2\",\"default\":true},"
        "{\"version\":\"1.34.1\"},{\"version\":\"1.35.0\"},{\"version\":\"1.36.1\"},{\"version\":\"1.37.0\"},"
        "{\"version\":\"1.38.0\"},{\"version\":\"1.39.0\"}]}";

typedef struct vcase {
        const char *version;   /* cluster and pool version */
        const char *props;     /* JSON */
        const char *existing;  /* JSON properties of the existing pool or NULL */
        unsigned other_system;
        unsigned in_use;
} vcase;

/* Returns the error code ("" on success); image gets the nodeImageVersion. */
static const char *run(const cp_rules *r, const vcase *v, const char *name, char *image, size_t image_size,
                       cp_rule_error *err) {
        json_t *p = json_loads(v->props, 0, NULL), *ex = v->existing ? json_loads(v->existing, 0, NULL) : NULL;
        if (!p)
                cp_test_fail(__FILE__, __LINE__, "bad test JSON %s", v->props);
        cp_pool_context ctx = {.cluster_version = v->version,
                               .location = "eastus",
                               .existing = ex,
                               .other_system_pools = v->other_system,
                               .vcpus_in_use = v->in_use,
                               .feature_registered = features};
        memset(err, 0, sizeof *err);
        int k = cp_rules_validate_pool(r, &ctx, name, p, err);
        if (k == 0 && image)
                snprintf(image, image_size, "%s", json_string_value(json_object_get(p, "nodeImageVersion")));
        if (k < 0 && k != CP_EPOLICY)
                cp_test_fail(__FILE__, __LINE__, "unexpected error %d", k);
        cp_error_clear();
        json_decref(p);
        json_decref(ex);
        return k == 0 ? "" : err->code;
}

static void expect_image(const cp_rules *r, const char *version, const char *props, const char *prefix) {
        vcase v = {.version = version, .props = props};
        char img[128] = "";
        cp_rule_error err;
        const char *code = run(r, &v, "np", img, sizeof img, &err);
        if (*code)
                cp_test_fail(__FILE__, __LINE__, "%s %s: %s %s", version, props, code, err.message);
        if (strncmp(img, prefix, strlen(prefix)) != 0)
                cp_test_fail(__FILE__, __LINE__, "%s %s: image %s, expected %s*", version, props, img, prefix);
}

static void expect_code(const cp_rules *r, const vcase *v, const char *name, const char *code, const char *target) {
        cp_rule_error err;
        const char *got = run(r, v, name, NULL, 0, &err);
        if (strcmp(got, code) != 0)
                cp_test_fail(__FILE__, __LINE__, "%s: got '%s' (%s), expected '%s'", v->props, got, err.message, code);
        if (target && strcmp(err.target, target) != 0)
                cp_test_fail(__FILE__, __LINE__, "%s: target '%s', expected '%s'", v->props, err.target, target);
        if (*code)
                ASSERT_EQ(err.status, 400);
}

/* One validation: pool name, request, and the code ("" for none) and target
 * (NULL: any) it must give.  ctx: the rules. */
typedef struct code_case {
        const char *name;
        const char *pool;
        vcase v;
        const char *code, *target;
} code_case;

static void check_code_case(void *ctx, const void *row) {
        const code_case *c = row;
        expect_code(ctx, &c->v, c->pool, c->code, c->target);
}

TEST(size_catalogue) {
        cp_rules *r = rules_with(NULL);
        static const struct {
                const char *name;
                unsigned vcpus, mem;
                cp_tee tee;
                bool temp;
        } want[] = {
                {"Standard_DC2as_v5", 2, 8, CP_TEE_SEV_SNP, false},   {"Standard_DC4as_v5", 4, 16, CP_TEE_SEV_SNP, false},
                {"Standard_DC96as_v5", 96, 384, CP_TEE_SEV_SNP, false}, {"Standard_DC4ads_v5", 4, 16, CP_TEE_SEV_SNP, true},
                {"Standard_EC20as_v5", 20, 160, CP_TEE_SEV_SNP, false}, {"Standard_EC96ads_v5", 96, 672, CP_TEE_SEV_SNP, true},
                {"Standard_EC96iads_v5", 96, 672, CP_TEE_SEV_SNP, true}, {"Standard_DC8as_cc_v5", 8, 32, CP_TEE_SEV_SNP, false},
                {"Standard_DC48as_v6", 48, 192, CP_TEE_SEV_SNP, false}, {"Standard_EC64ads_v6", 64, 512, CP_TEE_SEV_SNP, true},
                {"Standard_DC2es_v5", 2, 8, CP_TEE_TDX, false},        {"Standard_EC128eds_v5", 128, 768, CP_TEE_TDX, true},
                {"Standard_DC128es_v6", 128, 512, CP_TEE_TDX, false},  {"Standard_EC64es_v6", 64, 512, CP_TEE_TDX, false},
                {"Standard_D2s_v3", 2, 8, CP_TEE_NONE, true},          {"Standard_DC4s_v3", 4, 32, CP_TEE_NONE, false},
                {"Standard_D4ps_v5", 4, 16, CP_TEE_NONE, false},       {"Standard_B2s", 2, 4, CP_TEE_NONE, true},
        };
        for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
                const cp_vm_size *s = cp_rules_find_size(r, want[i].name);
                if (!s)
                        cp_test_fail(__FILE__, __LINE__, "missing %s", want[i].name);
                ASSERT_EQ(s->vcpus, want[i].vcpus);
                ASSERT_EQ(s->mem_gib, want[i].mem);
                ASSERT_EQ(s->tee, want[i].tee);
                ASSERT_EQ(s->temp_gib > 0, want[i].temp);
        }
        ASSERT_TRUE(cp_rules_find_size(r, "standard_dc4as_v5") != NULL); /* case-insensitive */
        ASSERT_TRUE(cp_rules_find_size(r, "Standard_DC3as_v5") == NULL);
        ASSERT_TRUE(cp_rules_find_size(r, "Standard_EC20as_v6") == NULL); /* v6 EC has no 20 */
        ASSERT_TRUE(cp_rules_find_size(r, "Standard_D4ps_v5")->arm64);
        /* every catalogue entry agrees with the name-based classification,
         * which itself must not call SGX DCsv2/DCsv3 confidential VMs */
        size_t n = cp_rules_n_sizes(r), snp = 0, tdx = 0;
        for (size_t i = 0; i < n; i++) {
                const cp_vm_size *s = cp_rules_size_at(r, i);
                if (cp_tee_from_size_name(s->name) != s->tee)
                        cp_test_fail(__FILE__, __LINE__, "%s classified as %s", s->name,
                                     cp_tee_name(cp_tee_from_size_name(s->name)));
                snp += s->tee == CP_TEE_SEV_SNP;
                tdx += s->tee == CP_TEE_TDX;
        }
        /* 8+8+9+9 (v5) + 4*7 (cc) + 2 (isolated) + 8+8+8+8 (v6) */
        ASSERT_EQ(snp, 34 + 28 + 2 + 32);
        ASSERT_EQ(tdx, 8 + 8 + 8 + 8 + 9 + 9 + 7 + 7);
        ASSERT_EQ(cp_tee_from_size_name("Standard_DC2s_v2"), CP_TEE_NONE);
        ASSERT_EQ(cp_tee_from_size_name("Standard_DC4as_v4"), CP_TEE_NONE);
        cp_rules_free(r);
}

/* Each row of the OS SKU table (seed use-cvm, with our 1.34 choice). */
TEST(os_sku_matrix_cvm_rows) {
        cp_rules *r = rules_with(all_versions);
        const char *dc = "\"vmSize\":\"Standard_DC4as_v5\"";
        char p[256];
        /* Ubuntu: 20.04 CVM for 1.24-1.33, 24.04 from 1.34 */
        snprintf(p, sizeof p, "{%s}", dc);
        expect_image(r, "1.24.9", p, "AKSUbuntu-2004gen2CVMcontainerd-");
        expect_image(r, "1.28.5", p, "AKSUbuntu-2004gen2CVMcontainerd-");
        expect_image(r, "1.33.2", p, "AKSUbuntu-2004gen2CVMcontainerd-");
        expect_image(r, "1.34.1", p, "AKSUbuntu-2404gen2CVMcontainerd-");
        expect_image(r, "1.35.0", p, "AKSUbuntu-2404gen2CVMcontainerd-");
        expect_image(r, "1.38.0", p, "AKSUbuntu-2404gen2CVMcontainerd-");
        vcase v = {.version = "1.39.0", .props = p};
        expect_code(r, &v, "np", "CVMOSSKUVersionNotSupported", "properties.orchestratorVersion");
        /* explicit osSKU Ubuntu is the same row */
        snprintf(p, sizeof p, "{%s,\"osSKU\":\"Ubuntu\"}", dc);
        expect_image(r, "1.33.2", p, "AKSUbuntu-2004gen2CVMcontainerd-");
        /* Ubuntu2204: never CVM (the non-CVM default image is 22.04 -> fallback applies only to 'Ubuntu') */
        snprintf(p, sizeof p, "{%s,\"osSKU\":\"Ubuntu2204\"}", dc);
        v.version = "1.33.2";
        v.props = p;
        expect_code(r, &v, "np", "CVMOSSKUNotSupported", "properties.osSKU");
        /* Ubuntu2404: CVM on 1.32-1.38 */
        snprintf(p, sizeof p, "{%s,\"osSKU\":\"Ubuntu2404\"}", dc);
        expect_image(r, "1.32.6", p, "AKSUbuntu-2404gen2CVMcontainerd-");
        expect_image(r, "1.38.0", p, "AKSUbuntu-2404gen2CVMcontainerd-");
        v.version = "1.31.2";
        expect_code(r, &v, "np", "CVMOSSKUVersionNotSupported", NULL);
        v.version = "1.39.0";
        expect_code(r, &v, "np", "CVMOSSKUVersionNotSupported", NULL);
        /* AzureLinux: Azure Linux 3 CVM on 1.28-1.36, behind AzureLinuxCVMPreview */
        snprintf(p, sizeof p, "{%s,\"osSKU\":\"AzureLinux\"}", dc);
        v.version = "1.33.2";
        expect_code(r, &v, "np", "PreviewFeatureNotRegistered", "properties.osSKU");
        registered_features[0] = "Microsoft.ContainerService/AzureLinuxCVMPreview";
        expect_image(r, "1.28.5", p, "AKSAzureLinux-V3gen2CVM-");
        expect_image(r, "1.36.1", p, "AKSAzureLinux-V3gen2CVM-");
        v.version = "1.27.3";
        expect_code(r, &v, "np", "CVMOSSKUVersionNotSupported", NULL);
        v.version = "1.37.0";
        expect_code(r, &v, "np", "CVMOSSKUVersionNotSupported", NULL);
        snprintf(p, sizeof p, "{%s,\"osSKU\":\"AzureLinux3\"}", dc);
        expect_image(r, "1.33.2", p, "AKSAzureLinux-V3gen2CVM-");
        registered_features[0] = NULL;
        /* not supported: flatcar, AzureLinuxOSGuard, ACL, Ubuntu 26.04, Azure Linux 2 */
        static const char *const unsupported[] = {"flatcar", "AzureLinuxOSGuard", "AzureContainerLinux", "Ubuntu2604",
                                                  "CBLMariner", "Mariner"};
        for (size_t i = 0; i < sizeof unsupported / sizeof unsupported[0]; i++) {
                snprintf(p, sizeof p, "{%s,\"osSKU\":\"%s\"}", dc, unsupported[i]);
                v.version = "1.33.2";
                v.props = p;
                expect_code(r, &v, "np", "CVMOSSKUNotSupported", "properties.osSKU");
        }
        /* Windows (any SKU) */
        snprintf(p, sizeof p, "{%s,\"osType\":\"Windows\"}", dc);
        expect_code(r, &v, "win", "CVMWindowsNotSupported", "properties.osType");
        snprintf(p, sizeof p, "{%s,\"osType\":\"Windows\",\"osSKU\":\"Windows2019\"}", dc);
        expect_code(r, &v, "win", "CVMWindowsNotSupported", "properties.osType");
        cp_rules_free(r);
}

TEST(os_sku_matrix_non_cvm_rows) {
        cp_rules *r = rules_with(all_versions);
        expect_image(r, "1.33.2", "{\"vmSize\":\"Standard_D4s_v5\"}", "AKSUbuntu-2204gen2containerd-");
        expect_image(r, "1.35.0", "{\"vmSize\":\"Standard_D4s_v5\"}", "AKSUbuntu-2404gen2containerd-");
        expect_image(r, "1.33.2", "{\"vmSize\":\"Standard_D4s_v5\",\"osSKU\":\"AzureLinux\"}", "AKSAzureLinux-V3gen2-");
        expect_image(r, "1.33.2", "{\"vmSize\":\"Standard_D4s_v5\",\"osSKU\":\"Ubuntu2204\"}",
                     "AKSUbuntu-2204gen2containerd-");
        expect_image(r, "1.33.2", "{\"vmSize\":\"Standard_D4s_v5\",\"osType\":\"Windows\"}",
                     "AKSWindows-windows2022containerd-");
        /* SGX sizes are not CVMs: normal image, no CVM restrictions */
        expect_image(r, "1.33.2", "{\"vmSize\":\"Standard_DC4s_v3\",\"enableFIPS\":true}",
                     "AKSUbuntu-2204gen2containerd-");
        cp_rules_free(r);
}

TEST(cut_over_is_configurable) {
        cp_rules *r = rules_with("{\"ubuntuCvm2404From\":\"1.35\"}");
        expect_image(r, "1.34.1", "{\"vmSize\":\"Standard_DC4as_v5\"}", "AKSUbuntu-2004gen2CVMcontainerd-");
        expect_image(r, "1.35.0", "{\"vmSize\":\"Standard_DC4as_v5\"}", "AKSUbuntu-2404gen2CVMcontainerd-");
        cp_rules_free(r);
        r = rules_with("{\"legacyCvmImageSpelling\":true,\"nodeImageDate\":\"202507.02.0\"}");
        expect_image(r, "1.33.2", "{\"vmSize\":\"Standard_DC4as_v5\"}", "AKSUbuntu-2004cvmcontainerd-202507.02.0");
        cp_rules_free(r);
}

/* The seed's limitations, each with its own code and target. */
TEST(cvm_invalid_combinations) {
        cp_rules *r = rules_with("{\"sizes\":[{\"name\":\"Standard_DC4aps_v9\",\"vcpus\":4,\"memoryGiB\":16,"
                                 "\"tee\":\"SEV-SNP\",\"arch\":\"arm64\"}]}");
        static const struct {
                const char *props, *code, *target;
        } cases[] = {
                {"{\"vmSize\":\"Standard_DC4as_v5\",\"enableFIPS\":true}", "CVMNotSupportedWithFIPS", "properties.enableFIPS"},
                {"{\"vmSize\":\"Standard_DC4as_v5\",\"securityProfile\":{\"enableSecureBoot\":true}}",
                 "CVMNotSupportedWithTrustedLaunch", "properties.securityProfile.enableSecureBoot"},
                {"{\"vmSize\":\"Standard_EC8ads_v5\",\"securityProfile\":{\"enableVTPM\":true}}",
                 "CVMNotSupportedWithTrustedLaunch", "properties.securityProfile.enableVTPM"},
                {"{\"vmSize\":\"Standard_DC4as_v5\",\"workloadRuntime\":\"KataVmIsolation\"}",
                 "CVMWorkloadRuntimeNotSupported", "properties.workloadRuntime"},
                {"{\"vmSize\":\"Standard_DC4as_v5\",\"workloadRuntime\":\"KataCcIsolation\"}",
                 "CVMWorkloadRuntimeNotSupported", "properties.workloadRuntime"},
                {"{\"vmSize\":\"Standard_DC4aps_v9\"}", "CVMNotSupportedWithARM64", "properties.vmSize"},
                {"{\"vmSize\":\"Standard_DC4es_v5\"}", "PreviewFeatureNotRegistered", "properties.vmSize"},
                {"{\"vmSize\":\"Standard_DC4as_v5\",\"osDiskType\":\"Ephemeral\"}", "CVMEphemeralOSDiskNotSupported",
                 "properties.osDiskType"},
                {"{\"vmSize\":\"Standard_DC4as_v5\",\"osType\":\"Windows\",\"osSKU\":\"Windows2022\"}",
                 "CVMWindowsNotSupported", "properties.osType"},
                {"{\"vmSize\":\"Standard_DC4as_v5\",\"osSKU\":\"Ubuntu2204\"}", "CVMOSSKUNotSupported", "properties.osSKU"},
                {"{\"vmSize\":\"Standard_Nope_v1\"}", "VMSizeNotSupported", "properties.vmSize"},
                {"{\"vmSize\":\"Standard_D4s_v5\",\"workloadRuntime\":\"KataCcIsolation\"}", "WorkloadRuntimeRetired",
                 "properties.workloadRuntime"},
        };
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
                vcase v = {.version = "1.33.2", .props = cases[i].props};
                expect_code(r, &v, "np", cases[i].code, cases[i].target);
        }
        /* the valid neighbours pass */
        expect_image(r, "1.33.2", "{\"vmSize\":\"Standard_DC4ads_v5\",\"osDiskType\":\"Ephemeral\"}", "AKSUbuntu-2004gen2CVM");
        expect_image(r, "1.33.2", "{\"vmSize\":\"Standard_D4s_v5\",\"enableFIPS\":true}", "AKSUbuntu-2204");
        expect_image(r, "1.33.2", "{\"vmSize\":\"Standard_D4s_v5\",\"workloadRuntime\":\"KataVmIsolation\"}", "AKSUbuntu-2204");
        registered_features[0] = "Microsoft.ContainerService/ConfidentialTDXPreview";
        expect_image(r, "1.33.2", "{\"vmSize\":\"Standard_DC4es_v5\"}", "AKSUbuntu-2004gen2CVM");
        registered_features[0] = NULL;
        cp_rules_free(r);
}

#define V_EX_D4_UBUNTU                                                                                  \
        "{\"vmSize\":\"Standard_D4s_v5\",\"osType\":\"Linux\",\"count\":3,\"mode\":\"User\","               \
        "\"currentOrchestratorVersion\":\"1.33.2\",\"osSKU\":\"Ubuntu\"}"
#define V_EX_DC4 "{\"vmSize\":\"Standard_DC4as_v5\",\"osType\":\"Linux\",\"count\":3,\"mode\":\"User\"}"
#define V_EX_D4 "{\"vmSize\":\"Standard_D4s_v5\",\"osType\":\"Linux\",\"count\":3,\"mode\":\"User\"}"

static const code_case vm_size_cases[] = {
        { "to_cvm", "np", { .version = "1.33.2", .props = "{\"vmSize\":\"Standard_DC4as_v5\"}", .existing = V_EX_D4_UBUNTU },
          "CVMMigrationNotSupported", "properties.vmSize" },
        { "from_cvm", "np", { .version = "1.33.2", .props = "{\"vmSize\":\"Standard_D4s_v5\"}", .existing = V_EX_DC4 },
          "CVMResizeNotSupported", "properties.vmSize" },
        { "resize", "np", { .version = "1.33.2", .props = "{\"vmSize\":\"Standard_D8s_v5\"}", .existing = V_EX_D4 },
          "ChangingVMSizeNotAllowed", "properties.vmSize" },
        /* the same size in another case is not a change; omitted vmSize keeps the old one */
        { "same_size_other_case", "np",
          { .version = "1.33.2", .props = "{\"vmSize\":\"standard_d4s_v5\",\"count\":4}", .existing = V_EX_D4 }, "",
          NULL },
        { "size_omitted", "np", { .version = "1.33.2", .props = "{\"count\":5}", .existing = V_EX_D4 }, "", NULL },
        { "os_type", "np", { .version = "1.33.2", .props = "{\"osType\":\"Windows\"}", .existing = V_EX_D4 },
          "ChangingOSTypeNotAllowed", "properties.osType" },
};

TEST(vm_size_changes_refused_with_distinct_codes) {
        cp_rules *r = rules_with(NULL);
        TEST_TABLE(vm_size_cases, check_code_case, r);
        cp_rules_free(r);
}

#define V_EX_SYS "{\"vmSize\":\"Standard_D4s_v5\",\"osType\":\"Linux\",\"count\":3,\"mode\":\"System\"}"

static const code_case system_pool_cases[] = {
        { "too_small", "sys", { .version = "1.33.2", .props = "{\"vmSize\":\"Standard_B1s\",\"mode\":\"System\"}" },
          "SystemPoolVMSizeTooSmall", "properties.vmSize" },
        { "windows", "sys",
          { .version = "1.33.2", .props = "{\"vmSize\":\"Standard_D4s_v5\",\"mode\":\"System\",\"osType\":\"Windows\"}" },
          "SystemPoolMustBeLinux", "properties.mode" },
        { "spot", "sys",
          { .version = "1.33.2",
            .props = "{\"vmSize\":\"Standard_D4s_v5\",\"mode\":\"System\",\"scaleSetPriority\":\"Spot\"}" },
          "SystemPoolSpotNotAllowed", NULL },
        { "count_0", "sys", { .version = "1.33.2", .props = "{\"vmSize\":\"Standard_D4s_v5\",\"mode\":\"System\",\"count\":0}" },
          "InvalidParameter", "properties.count" },
        { "cvm", "sys", { .version = "1.33.2", .props = "{\"vmSize\":\"Standard_DC4as_v5\",\"mode\":\"System\"}" }, "",
          NULL }, /* CVM system pools are fine */
        { "last_system_to_user", "sys", { .version = "1.33.2", .props = "{\"mode\":\"User\"}", .existing = V_EX_SYS },
          "MustDefineAtLeastOneSystemPool", "properties.mode" },
        { "other_system_to_user", "sys",
          { .version = "1.33.2", .props = "{\"mode\":\"User\"}", .existing = V_EX_SYS, .other_system = 1 }, "", NULL },
        /* case-sensitive modes */
        { "mode_lower_case", "np",
          { .version = "1.33.2", .props = "{\"vmSize\":\"Standard_D4s_v5\",\"mode\":\"user\"}", .other_system = 1 },
          "InvalidParameter", "properties.mode" },
        { "mode_gateway", "np",
          { .version = "1.33.2", .props = "{\"vmSize\":\"Standard_D4s_v5\",\"mode\":\"Gateway\"}", .other_system = 1 },
          "", NULL },
};

TEST(system_pool_rules) {
        cp_rules *r = rules_with(NULL);
        TEST_TABLE(system_pool_cases, check_code_case, r);
        cp_rules_free(r);
}

#define V_D4(more) { .version = "1.33.2", .props = "{\"vmSize\":\"Standard_D4s_v5\"" more "}" }

static const code_case names_cases[] = {
        { "pool_upper_case", "CVM", V_D4(""), "InvalidAgentPoolName", "name" },
        { "pool_leading_digit", "1pool", V_D4(""), "InvalidAgentPoolName", "name" },
        { "pool_13_chars", "abcdefghijklm", V_D4(""), "InvalidAgentPoolName", "name" },
        { "pool_12_chars", "abcdefghijkl", V_D4(""), "", NULL },
        { "windows_pool_5_chars", "winpool", V_D4(",\"osType\":\"Windows\""), "InvalidAgentPoolName", "name" },
        { "windows_pool_4_chars", "winp", V_D4(",\"osType\":\"Windows\""), "", NULL },
        { "label_reserved", "np", V_D4(",\"nodeLabels\":{\"kubernetes.azure.com/security-type\":\"x\"}"),
          "ReservedNodeLabel", "properties.nodeLabels" },
        { "label_bad_key", "np", V_D4(",\"nodeLabels\":{\"bad key!\":\"x\"}"), "InvalidNodeLabel", NULL },
        { "labels_fine", "np", V_D4(",\"nodeLabels\":{\"example.com/tier\":\"front-end\",\"a\":\"\"}"), "", NULL },
        { "taint_effect", "np", V_D4(",\"nodeTaints\":[\"sku=gpu:NoSchedule\",\"x=y:Sometimes\"]"), "InvalidNodeTaint",
          "properties.nodeTaints" },
        { "count_1001", "np", V_D4(",\"count\":1001"), "InvalidParameter", "properties.count" },
        { "count_string", "np", V_D4(",\"count\":\"3\""), "InvalidParameter", "properties.count" },
        { "autoscaling_no_min", "np", V_D4(",\"enableAutoScaling\":true"), "InvalidParameter", "properties.minCount" },
        { "autoscaling_count_below_min", "np",
          V_D4(",\"enableAutoScaling\":true,\"minCount\":2,\"maxCount\":5,\"count\":1"), "InvalidParameter",
          "properties.count" },
        { "version_newer", "np", V_D4(",\"orchestratorVersion\":\"1.34\""), "AgentPoolK8sVersionNotSupported",
          "properties.orchestratorVersion" },
        { "version_too_old", "np", V_D4(",\"orchestratorVersion\":\"1.29\""), "AgentPoolK8sVersionNotSupported", NULL },
        { "version_older_fine", "np", V_D4(",\"orchestratorVersion\":\"1.31\""), "", NULL },
        { "version_v_prefix", "np", V_D4(",\"orchestratorVersion\":\"v1.33\""), "AgentPoolK8sVersionNotSupported",
          NULL },
        { "os_sku_debian", "np", V_D4(",\"osSKU\":\"Debian\""), "InvalidParameter", "properties.osSKU" },
        { "os_sku_windows", "np", V_D4(",\"osSKU\":\"Windows2022\""), "InvalidParameter", "properties.osSKU" },
};

TEST(names_labels_taints_counts_versions) {
        cp_rules *r = rules_with(NULL);
        TEST_TABLE(names_cases, check_code_case, r);
        ASSERT_TRUE(cp_name_cluster_ok("myAKSCluster"));
        ASSERT_TRUE(cp_name_cluster_ok("a"));
        ASSERT_FALSE(cp_name_cluster_ok("-a"));
        ASSERT_FALSE(cp_name_cluster_ok("a_"));
        ASSERT_TRUE(cp_name_rg_ok("my.Resource-Group_(1)"));
        ASSERT_FALSE(cp_name_rg_ok("rg."));
        ASSERT_FALSE(cp_name_rg_ok("r/g"));
        ASSERT_TRUE(cp_name_machine_ok("aks-cvmnodepool-12345678-vmss000000"));
        ASSERT_FALSE(cp_name_machine_ok("-x"));
        cp_rules_free(r);
}

TEST(quota_and_retired_node_os) {
        cp_rules *r = rules_with("{\"vcpuQuota\":{\"default\":100,\"westus\":8}}");
        vcase v = {.version = "1.33.2", .props = "{\"vmSize\":\"Standard_DC4as_v5\",\"count\":25}"};
        expect_code(r, &v, "np", "", NULL); /* 100 of 100 */
        v.in_use = 4;
        expect_code(r, &v, "np", "ErrCode_InsufficientVCPUQuota", "properties.count");
        ASSERT_EQ(cp_rules_vcpu_quota(r, "westus"), 8);
        cp_rules_free(r);

        /* Azure Linux 2.0 is retired (2026-03-31): no new pools, no scaling */
        r = rules_with("{\"now\":\"2026-11-25T00:00:00Z\"}");
        v = (vcase){.version = "1.31.10", .props = "{\"vmSize\":\"Standard_D4s_v5\",\"osSKU\":\"AzureLinux\"}"};
        expect_code(r, &v, "np", "NodeOSRetired", "properties.osSKU");
        cp_rules_free(r);
        /* Ubuntu 20.04 retires 2027-03-17: scaling an existing 20.04 CVM pool is refused, naming the migration */
        r = rules_with("{\"now\":\"2027-04-01T00:00:00Z\"}");
        const char *ex = "{\"vmSize\":\"Standard_DC4as_v5\",\"osType\":\"Linux\",\"osSKU\":\"Ubuntu\",\"count\":3,"
                         "\"mode\":\"User\",\"currentOrchestratorVersion\":\"1.33.2\","
                         "\"nodeImageVersion\":\"AKSUbuntu-2004gen2CVMcontainerd-202511.18.0\"}";
        v = (vcase){.version = "1.33.2", .props = "{\"count\":5}", .existing = ex};
        cp_rule_error err;
        ASSERT_STREQ(run(r, &v, "np", NULL, 0, &err), "NodeOSRetired");
        ASSERT_TRUE(strstr(err.message, "nodepool update --os-sku Ubuntu2404") != NULL);
        ASSERT_TRUE(strstr(err.message, "2027-03-17") != NULL);
        v.props = "{\"count\":3,\"tags\":{\"a\":\"b\"}}"; /* no scaling: allowed */
        expect_code(r, &v, "np", "", NULL);
        v.props = "{\"count\":3,\"osSKU\":\"Ubuntu2404\"}"; /* the migration itself */
        expect_code(r, &v, "np", "", NULL);
        json_t *p = json_loads(ex, 0, NULL);
        ASSERT_ERR(cp_rules_check_retired(r, p, &err), CP_EPOLICY);
        json_decref(p);
        cp_rules_free(r);
}

TEST(node_labels) {
        cp_rules *r = rules_with(NULL);
        json_t *p = json_pack("{s:s,s:s,s:s,s:s,s:{s:s}}", "vmSize", "Standard_DC4as_v5", "osType", "Linux", "osSKU",
                              "Ubuntu", "mode", "User", "nodeLabels", "team", "x");
        json_t *l = cp_rules_node_labels(r, "cvm", p);
        ASSERT_STREQ(json_string_value(json_object_get(l, "kubernetes.azure.com/security-type")), "ConfidentialVM");
        ASSERT_STREQ(json_string_value(json_object_get(l, "kubernetes.azure.com/agentpool")), "cvm");
        ASSERT_STREQ(json_string_value(json_object_get(l, "team")), "x");
        json_decref(l);
        json_object_set_new(p, "vmSize", json_string("Standard_D4s_v5"));
        l = cp_rules_node_labels(r, "cvm", p);
        ASSERT_TRUE(json_object_get(l, "kubernetes.azure.com/security-type") == NULL);
        json_decref(l);
        json_object_set_new(p, "securityProfile", json_pack("{s:b}", "enableVTPM", 1));
        l = cp_rules_node_labels(r, "cvm", p);
        ASSERT_STREQ(json_string_value(json_object_get(l, "kubernetes.azure.com/security-type")), "TrustedLaunch");
        json_decref(l);
        json_decref(p);
        cp_rules_free(r);
}

TEST(node_image_names) {
        cp_node_image im;
        ASSERT_OK(cp_node_image_parse("AKSUbuntu-2404gen2CVMcontainerd-202608.06.1", &im));
        ASSERT_STREQ(im.gallery, "AKSUbuntu");
        ASSERT_STREQ(im.definition, "2404gen2CVMcontainerd");
        ASSERT_STREQ(im.version, "202608.06.1");
        ASSERT_TRUE(im.cvm);
        ASSERT_FALSE(im.legacy_spelling);
        ASSERT_OK(cp_node_image_parse("AKSUbuntu-2004cvmcontainerd-202507.02.0", &im));
        ASSERT_STREQ(im.definition, "2004gen2CVMcontainerd");
        ASSERT_TRUE(im.legacy_spelling);
        ASSERT_TRUE(im.cvm);
        ASSERT_OK(cp_node_image_parse("AKSAzureLinux-V3gen2CVM-202512.18.0", &im));
        ASSERT_TRUE(im.cvm);
        ASSERT_OK(cp_node_image_parse("AKSUbuntu-2204gen2containerd-202511.18.12", &im));
        ASSERT_FALSE(im.cvm);
        static const char *const bad[] = {
                "", "AKSUbuntu", "AKSUbuntu-2404gen2CVMcontainerd", "AKSUbuntu--202608.06.1", "-x-202608.06.1",
                "AKSUbuntu-2404-gen2-202608.06.1", "AKSUbuntu-2404gen2CVMcontainerd-202613.06.1",
                "AKSUbuntu-2404gen2CVMcontainerd-202608.00.1", "AKSUbuntu-2404gen2CVMcontainerd-202608.32.1",
                "AKSUbuntu-2404gen2CVMcontainerd-2026O8.06.1", "AKSUbuntu-2404gen2CVMcontainerd-202608.06.1x",
                "AKSUbuntu-2404gen2CVMcontainerd-202608.06.12345", "AKS Ubuntu-2404-202608.06.1",
                "AKSUbuntu-2404gen2CVMcontainerd-202608-06.1",
        };
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
                if (cp_node_image_parse(bad[i], &im) >= 0)
                        cp_test_fail(__FILE__, __LINE__, "accepted '%s'", bad[i]);
        cp_error_clear();
        /* every truncation of a valid name is refused */
        const char *good = "AKSUbuntu-2004gen2CVMcontainerd-202505.27.0";
        char buf[64];
        for (size_t n = 0; n < strlen(good); n++) {
                memcpy(buf, good, n);
                buf[n] = 0;
                if (cp_node_image_parse(buf, &im) >= 0)
                        cp_test_fail(__FILE__, __LINE__, "accepted truncation '%s'", buf);
        }
        cp_error_clear();
        char longname[200];
        memset(longname, 'A', sizeof longname - 1);
        longname[sizeof longname - 1] = 0;
        ASSERT_ERR(cp_node_image_parse(longname, &im), CP_ETOOBIG);
}

TEST(versions_and_api_versions) {
        cp_rules *r = rules_with(NULL);
        unsigned a, b;
        int p;
        ASSERT_OK(cp_k8s_parse("1.33", &a, &b, &p));
        ASSERT_EQ(p, -1);
        ASSERT_OK(cp_k8s_parse("1.33.12", &a, &b, &p));
        ASSERT_EQ(p, 12);
        static const char *const badv[] = {"", "1", "1.", "1.33.", "01.33", "1.033", "v1.33", "1.33.2.1", "1.33a", "1..3"};
        for (size_t i = 0; i < sizeof badv / sizeof badv[0]; i++)
                ASSERT_ERR(cp_k8s_parse(badv[i], &a, &b, &p), CP_EFORMAT);
        ASSERT_STREQ(cp_rules_resolve_version(r, "1.33")->version, "1.33.2");
        ASSERT_TRUE(cp_rules_resolve_version(r, "1.33.1") == NULL);
        ASSERT_STREQ(cp_rules_default_version(r), "1.33.2");
        ASSERT_TRUE(cp_rules_api_version_ok(r, "Microsoft.ContainerService", "2026-01-01"));
        ASSERT_TRUE(cp_rules_api_version_ok(r, "Microsoft.ContainerService", "2022-11-01"));
        ASSERT_TRUE(cp_rules_api_version_ok(r, "Microsoft.ContainerService", "2025-10-01"));
        ASSERT_TRUE(cp_rules_api_version_ok(r, "Microsoft.ContainerService", "2026-02-02-preview"));
        ASSERT_FALSE(cp_rules_api_version_ok(r, "Microsoft.ContainerService", "2022-10-01"));
        ASSERT_FALSE(cp_rules_api_version_ok(r, "Microsoft.ContainerService", "2026-02-01"));
        ASSERT_FALSE(cp_rules_api_version_ok(r, "Microsoft.ContainerService", "2025-10-02"));
        ASSERT_FALSE(cp_rules_api_version_ok(r, "Microsoft.ContainerService", "2025-10-01-beta"));
        ASSERT_FALSE(cp_rules_api_version_ok(r, "Microsoft.ContainerService", "2025-13-01"));
        ASSERT_FALSE(cp_rules_api_version_ok(r, "Microsoft.ContainerService", "latest"));
        ASSERT_TRUE(cp_rules_api_version_ok(r, "Microsoft.Features", "2021-07-01"));
        ASSERT_FALSE(cp_rules_api_version_ok(r, "Microsoft.Features", "2026-01-01"));
        ASSERT_TRUE(cp_rules_api_version_ok(r, "Microsoft.Resources", "2021-04-01"));
        cp_rules_free(r);
}

TEST(config_is_strict) {
        static const char *const bad[] = {
                "[]",
                "{\"unknown\":1}",
                "{\"sizes\":[{\"name\":\"Standard_X\",\"vcpus\":0,\"memoryGiB\":1}]}",
                "{\"sizes\":[{\"name\":\"X\",\"vcpus\":2,\"memoryGiB\":1}]}",
                "{\"sizes\":[{\"name\":\"Standard_X\",\"vcpus\":2,\"memoryGiB\":1,\"tee\":\"SGX\"}]}",
                "{\"sizes\":[{\"name\":\"Standard_X\",\"vcpus\":2,\"memoryGiB\":1,\"extra\":1}]}",
                "{\"osImages\":[]}",
                ("{\"osImages\":[{\"osSku\":\"Ubuntu\",\"minKubernetes\":\"1.30\",\"maxKubernetes\":\"1.29\","
                 "\"gallery\":\"G\",\"definition\":\"D\"}]}"),
                "{\"kubernetesVersions\":[{\"version\":\"1.33\",\"default\":true}]}",
                "{\"kubernetesVersions\":[{\"version\":\"1.33.1\"}]}",
                "{\"nodeImageDate\":\"2025-11-18\"}",
                "{\"ubuntuCvm2404From\":\"1.34.1\"}",
                "{\"now\":\"yesterday\"}",
                "{\"vcpuQuota\":{\"eastus\":-1}}",
                "{\"fakeBackend\":{\"readyDelayMs\":\"1\"}}",
                "{\"fakeBackend\":{\"launchMeasurement\":\"00\"}}",
                "{\"fakeBackend\":{\"launchMeasurement\":1}}",
                ("{\"fakeBackend\":{\"launchMeasurement\":\"zz000000000000000000000000000000000000000000000"
                 "0000000000000000000000000000000000000000000000000\"}}"),
        };
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
                cp_rules *r = NULL;
                ASSERT_OK(cp_rules_new(&r));
                json_t *j = json_loads(bad[i], 0, NULL);
                ASSERT_TRUE(j != NULL);
                if (cp_rules_load_json(r, j) != CP_EFORMAT)
                        cp_test_fail(__FILE__, __LINE__, "config accepted: %s", bad[i]);
                json_decref(j);
                cp_rules_free(r);
        }
        cp_error_clear();
        /* a replaced OS image table is used as given */
        cp_rules *r = rules_with("{\"osImages\":[{\"osSku\":\"Ubuntu\",\"cvm\":true,\"minKubernetes\":\"1.30\","
                                 "\"maxKubernetes\":\"1.40\",\"gallery\":\"MyGallery\",\"definition\":\"cvmimage\"},"
                                 "{\"osSku\":\"Ubuntu\",\"minKubernetes\":\"1.30\",\"maxKubernetes\":\"1.40\","
                                 "\"gallery\":\"MyGallery\",\"definition\":\"plain\"}]}");
        expect_image(r, "1.33.2", "{\"vmSize\":\"Standard_DC4as_v5\"}", "MyGallery-cvmimage-");
        expect_image(r, "1.33.2", "{\"vmSize\":\"Standard_D4s_v5\"}", "MyGallery-plain-");
        ASSERT_EQ(cp_rules_n_images(r), 2);
        cp_rules_free(r);
}

/* fakeBackend.launchMeasurement (issue 19, bench-fleet): the fake backend's
 * nodes become attested ones: the measurement is the node image's, and a
 * node is Joining (not Ready) until it registers; without it, as before. */
TEST(fake_backend_attested_nodes) {
        char hex[97];
        for (int i = 0; i < 96; i++)
                hex[i] = "0123456789abcdef"[i % 16];
        hex[96] = 0;
        json_t *cfg = json_pack("{s:i,s:s}", "readyDelayMs", 0, "launchMeasurement", hex);
        cp_backend *b = NULL;
        ASSERT_OK(cp_backend_fake_from_config(cfg, &b));
        ASSERT_TRUE(b->ops->expected_measurement != NULL);
        cp_node_spec spec = {.pool_id = "/subscriptions/s/resourceGroups/g/providers/Microsoft.ContainerService/"
                                        "managedClusters/c/agentPools/p",
                             .name = "aks-p-1-vmss000000", .vm_size = "Standard_DC2as_v5"};
        uint8_t m[48];
        ASSERT_OK(b->ops->expected_measurement(b, &spec, m));
        ASSERT_EQ(m[0], 0x01);
        ASSERT_EQ(m[47], 0xef);
        char h[256], ip[48], err[128];
        cp_node_state st;
        ASSERT_OK(b->ops->create_node(b, &spec, h, sizeof h));
        ASSERT_OK(b->ops->node_status(b, h, &st, ip, sizeof ip, err, sizeof err));
        ASSERT_EQ(st, CP_NODE_JOINING);
        cp_backend_free(b);
        json_decref(cfg);
        /* without it: records that turn Ready, nothing attested */
        cfg = json_pack("{s:i}", "readyDelayMs", 0);
        ASSERT_OK(cp_backend_fake_from_config(cfg, &b));
        ASSERT_TRUE(b->ops->expected_measurement == NULL);
        ASSERT_OK(b->ops->create_node(b, &spec, h, sizeof h));
        ASSERT_OK(b->ops->node_status(b, h, &st, ip, sizeof ip, err, sizeof err));
        ASSERT_EQ(st, CP_NODE_READY);
        cp_backend_free(b);
        json_decref(cfg);
}
