/* SPDX-License-Identifier: Apache-2.0 */
#include <ctype.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "basic/cleanup.h"
#include "controlplane/cp-backend.h"
#include "controlplane/cp-rules.h"

/* ---- built-in tables ---------------------------------------------------- */

typedef struct size_series {
        const char *fmt; /* printf format with one %u (vCPUs) */
        cp_tee tee;
        bool temp;       /* local temp disk: 37.5 GiB per vCPU (75 GiB per 2 vCPUs) */
        bool arm64;
        unsigned pairs[12][2]; /* vCPU, GiB; zero-terminated */
} size_series;

#define DC_V5 {{2, 8}, {4, 16}, {8, 32}, {16, 64}, {32, 128}, {48, 192}, {64, 256}, {96, 384}}
#define EC_V5 {{2, 16}, {4, 32}, {8, 64}, {16, 128}, {20, 160}, {32, 256}, {48, 384}, {64, 512}, {96, 672}}
#define DC_CC {{4, 16}, {8, 32}, {16, 64}, {32, 128}, {48, 192}, {64, 256}, {96, 384}}
#define EC_CC {{4, 32}, {8, 64}, {16, 128}, {32, 256}, {48, 384}, {64, 512}, {96, 672}}
#define EC_V6 {{2, 16}, {4, 32}, {8, 64}, {16, 128}, {32, 256}, {48, 384}, {64, 512}, {96, 672}}
#define ECE_V5 {{2, 16}, {4, 32}, {8, 64}, {16, 128}, {32, 256}, {48, 384}, {64, 512}, {128, 768}}
#define DCE_V6 {{2, 8}, {4, 16}, {8, 32}, {16, 64}, {32, 128}, {48, 192}, {64, 256}, {96, 384}, {128, 512}}
#define ECE_V6 {{2, 16}, {4, 32}, {8, 64}, {16, 128}, {32, 256}, {48, 384}, {64, 512}}

static const size_series builtin_series[] = {
        /* AMD SEV-SNP, 3rd gen EPYC (v5): supported on AKS */
        {"Standard_DC%uas_v5", CP_TEE_SEV_SNP, false, false, DC_V5},
        {"Standard_DC%uads_v5", CP_TEE_SEV_SNP, true, false, DC_V5},
        {"Standard_EC%uas_v5", CP_TEE_SEV_SNP, false, false, EC_V5},
        {"Standard_EC%uads_v5", CP_TEE_SEV_SNP, true, false, EC_V5},
        {"Standard_DC%uas_cc_v5", CP_TEE_SEV_SNP, false, false, DC_CC},
        {"Standard_DC%uads_cc_v5", CP_TEE_SEV_SNP, true, false, DC_CC},
        {"Standard_EC%uas_cc_v5", CP_TEE_SEV_SNP, false, false, EC_CC},
        {"Standard_EC%uads_cc_v5", CP_TEE_SEV_SNP, true, false, EC_CC},
        {"Standard_EC%uias_v5", CP_TEE_SEV_SNP, false, false, {{96, 672}}},
        {"Standard_EC%uiads_v5", CP_TEE_SEV_SNP, true, false, {{96, 672}}},
        /* AMD SEV-SNP, 4th gen EPYC (v6) */
        {"Standard_DC%uas_v6", CP_TEE_SEV_SNP, false, false, DC_V5},
        {"Standard_DC%uads_v6", CP_TEE_SEV_SNP, true, false, DC_V5},
        {"Standard_EC%uas_v6", CP_TEE_SEV_SNP, false, false, EC_V6},
        {"Standard_EC%uads_v6", CP_TEE_SEV_SNP, true, false, EC_V6},
        /* Intel TDX: behind ConfidentialTDXPreview */
        {"Standard_DC%ues_v5", CP_TEE_TDX, false, false, DC_V5},
        {"Standard_DC%ueds_v5", CP_TEE_TDX, true, false, DC_V5},
        {"Standard_EC%ues_v5", CP_TEE_TDX, false, false, ECE_V5},
        {"Standard_EC%ueds_v5", CP_TEE_TDX, true, false, ECE_V5},
        {"Standard_DC%ues_v6", CP_TEE_TDX, false, false, DCE_V6},
        {"Standard_DC%ueds_v6", CP_TEE_TDX, true, false, DCE_V6},
        {"Standard_EC%ues_v6", CP_TEE_TDX, false, false, ECE_V6},
        {"Standard_EC%ueds_v6", CP_TEE_TDX, true, false, ECE_V6},
        /* common non-confidential sizes */
        {"Standard_D%us_v3", CP_TEE_NONE, true, false, {{2, 8}, {4, 16}, {8, 32}, {16, 64}, {32, 128}}},
        {"Standard_D%us_v5", CP_TEE_NONE, false, false, {{2, 8}, {4, 16}, {8, 32}, {16, 64}, {32, 128}}},
        {"Standard_D%uads_v5", CP_TEE_NONE, true, false, {{2, 8}, {4, 16}, {8, 32}, {16, 64}}},
        {"Standard_D%uas_v5", CP_TEE_NONE, false, false, {{2, 8}, {4, 16}, {8, 32}, {16, 64}}},
        {"Standard_D%us_v6", CP_TEE_NONE, false, false, {{2, 8}, {4, 16}, {8, 32}}},
        {"Standard_E%us_v5", CP_TEE_NONE, false, false, {{2, 16}, {4, 32}, {8, 64}, {16, 128}}},
        {"Standard_B%ums", CP_TEE_NONE, false, false, {{2, 8}, {4, 16}, {8, 32}}},
        {"Standard_D%ups_v5", CP_TEE_NONE, false, true, {{2, 8}, {4, 16}, {8, 32}, {16, 64}}},
        {"Standard_D%upds_v5", CP_TEE_NONE, true, true, {{2, 8}, {4, 16}, {8, 32}}},
        {"Standard_E%ups_v5", CP_TEE_NONE, false, true, {{2, 16}, {4, 32}, {8, 64}}},
        /* Intel SGX (not CVM; the DC prefix alone must not classify as CVM) */
        {"Standard_DC%us_v2", CP_TEE_NONE, true, false, {{1, 4}, {2, 8}, {4, 16}, {8, 32}}},
        {"Standard_DC%us_v3", CP_TEE_NONE, false, false, {{2, 16}, {4, 32}, {8, 64}}},
};

static const cp_vm_size builtin_single[] = {
        {"Standard_B2s", 2, 4, 8, CP_TEE_NONE, false},
        {"Standard_B1s", 1, 1, 4, CP_TEE_NONE, false},
        {"Standard_DS2_v2", 2, 7, 14, CP_TEE_NONE, false},
        {"Standard_DS3_v2", 4, 14, 28, CP_TEE_NONE, false},
        {"Standard_A2_v2", 2, 4, 20, CP_TEE_NONE, false},
};

/* OS image matrix.  CVM rows implement the seed table (use-cvm, 2025-06-26):
 * Ubuntu -> 20.04 CVM for 1.24-1.33, 24.04 CVM from the cut-over (1.34 by
 * our choice: the seed is silent on 1.34; Azure/AKS#4874 says 1.34+ -> 24.04),
 * Ubuntu2404 CVM 1.32-1.38, AzureLinux (3.0) CVM 1.28-1.36 behind
 * AzureLinuxCVMPreview; everything else has no CVM row. */
static const cp_os_image builtin_images[] = {
        {"Ubuntu", true, 24, 33, "AKSUbuntu", "2004gen2CVMcontainerd", "Ubuntu 20.04", "", "2027-03-17",
         "Ubuntu2404"},
        {"Ubuntu", true, 34, 38, "AKSUbuntu", "2404gen2CVMcontainerd", "Ubuntu 24.04", "", "", ""},
        {"Ubuntu2404", true, 32, 38, "AKSUbuntu", "2404gen2CVMcontainerd", "Ubuntu 24.04", "", "", ""},
        {"AzureLinux", true, 28, 36, "AKSAzureLinux", "V3gen2CVM", "Azure Linux 3.0", "AzureLinuxCVMPreview", "",
         ""},
        {"AzureLinux3", true, 28, 36, "AKSAzureLinux", "V3gen2CVM", "Azure Linux 3.0", "AzureLinuxCVMPreview", "",
         ""},
        {"Ubuntu", false, 24, 24, "AKSUbuntu", "1804gen2containerd", "Ubuntu 18.04", "", "2025-03-17",
         "Ubuntu2204"},
        {"Ubuntu", false, 25, 34, "AKSUbuntu", "2204gen2containerd", "Ubuntu 22.04", "", "", ""},
        {"Ubuntu", false, 35, 38, "AKSUbuntu", "2404gen2containerd", "Ubuntu 24.04", "", "", ""},
        {"Ubuntu2204", false, 25, 36, "AKSUbuntu", "2204gen2containerd", "Ubuntu 22.04", "", "", ""},
        {"Ubuntu2404", false, 32, 38, "AKSUbuntu", "2404gen2containerd", "Ubuntu 24.04", "", "", ""},
        {"Ubuntu2604", false, 36, 38, "AKSUbuntu", "2604gen2containerd", "Ubuntu 26.04", "Ubuntu2604Preview", "",
         ""},
        {"AzureLinux", false, 24, 31, "AKSCBLMariner", "V2gen2", "Azure Linux 2.0", "", "2026-03-31",
         "AzureLinux3"},
        {"AzureLinux", false, 32, 38, "AKSAzureLinux", "V3gen2", "Azure Linux 3.0", "", "", ""},
        {"AzureLinux3", false, 28, 38, "AKSAzureLinux", "V3gen2", "Azure Linux 3.0", "", "", ""},
        {"CBLMariner", false, 24, 31, "AKSCBLMariner", "V2gen2", "Azure Linux 2.0", "", "2026-03-31",
         "AzureLinux3"},
        {"Mariner", false, 24, 31, "AKSCBLMariner", "V2gen2", "Azure Linux 2.0", "", "2026-03-31", "AzureLinux3"},
        {"AzureLinuxOSGuard", false, 32, 38, "AKSAzureLinux", "V3gen2fips", "Azure Linux OS Guard", "", "", ""},
        {"AzureContainerLinux", false, 32, 38, "AKSAzureContainerLinux", "V1gen2", "Azure Container Linux", "", "",
         ""},
        {"flatcar", false, 31, 38, "AKSFlatcar", "gen2", "Flatcar", "", "", ""},
        {"Windows2019", false, 24, 32, "AKSWindows", "windows2019containerd", "Windows Server 2019", "",
         "2026-03-01", "Windows2022"},
        {"Windows2022", false, 25, 38, "AKSWindows", "windows2022containerd", "Windows Server 2022", "", "", ""},
        {"Windows2025", false, 32, 38, "AKSWindows", "windows2025containerd", "Windows Server 2025", "", "", ""},
};

static const cp_k8s_version builtin_versions[] = {
        {"1.30.14", false, false}, {"1.31.10", false, false}, {"1.32.6", false, false},
        {"1.33.2", true, false},   {"1.34.1", false, false},  {"1.35.0", false, true},
};

/* osSKU values the API knows (open enum; anything else is InvalidParameter). */
static const char *const known_os_skus[] = {
        "Ubuntu",      "Ubuntu2204",  "Ubuntu2404",  "Ubuntu2604",        "AzureLinux",          "AzureLinux3",
        "CBLMariner",  "Mariner",     "Windows2019", "Windows2022",       "Windows2025",         "WindowsAnnual",
        "flatcar",     "Flatcar",     "AzureLinuxOSGuard", "AzureContainerLinux",
};

struct cp_rules {
        cp_vm_size *sizes;
        size_t n_sizes;
        cp_os_image *images;
        size_t n_images;
        cp_k8s_version *versions;
        size_t n_versions;
        char image_date[16];
        bool legacy_spelling;
        unsigned quota_default;
        json_t *quota_by_location;
        time_t now_override; /* 0: real clock */
        unsigned retry_after;
        unsigned feature_delay_ms;
        json_t *fake_backend; /* the "fakeBackend" member, checked by the fake backend, or NULL */
        bool allow_snp_v6;
};

static int add_size(cp_rules *r, const cp_vm_size *s) {
        for (size_t i = 0; i < r->n_sizes; i++)
                if (strcasecmp(r->sizes[i].name, s->name) == 0) {
                        r->sizes[i] = *s;
                        return 0;
                }
        cp_vm_size *n = realloc(r->sizes, (r->n_sizes + 1) * sizeof *n);
        if (!n)
                return cp_error_oom();
        r->sizes = n;
        r->sizes[r->n_sizes++] = *s;
        return 0;
}

int cp_rules_new(cp_rules **ret) {
        cp_rules *r = calloc(1, sizeof *r);
        if (!r)
                return cp_error_oom();
        int k = 0;
        for (size_t i = 0; i < CP_ELEMENTSOF(builtin_series) && k >= 0; i++) {
                const size_series *ser = &builtin_series[i];
                for (size_t j = 0; j < CP_ELEMENTSOF(ser->pairs) && ser->pairs[j][0] && k >= 0; j++) {
                        cp_vm_size s = {.vcpus = ser->pairs[j][0],
                                        .mem_gib = ser->pairs[j][1],
                                        .temp_gib = ser->temp ? ser->pairs[j][0] * 75 / 2 : 0,
                                        .tee = ser->tee,
                                        .arm64 = ser->arm64};
                        snprintf(s.name, sizeof s.name, ser->fmt, ser->pairs[j][0]);
                        k = add_size(r, &s);
                }
        }
        for (size_t i = 0; i < CP_ELEMENTSOF(builtin_single) && k >= 0; i++)
                k = add_size(r, &builtin_single[i]);
        r->images = malloc(sizeof builtin_images);
        r->versions = malloc(sizeof builtin_versions);
        r->quota_by_location = json_object();
        if (k < 0 || !r->images || !r->versions || !r->quota_by_location) {
                cp_rules_free(r);
                return k < 0 ? k : cp_error_oom();
        }
        memcpy(r->images, builtin_images, sizeof builtin_images);
        r->n_images = CP_ELEMENTSOF(builtin_images);
        memcpy(r->versions, builtin_versions, sizeof builtin_versions);
        r->n_versions = CP_ELEMENTSOF(builtin_versions);
        snprintf(r->image_date, sizeof r->image_date, "202511.18.0");
        r->quota_default = 200;
        r->retry_after = 1;
        r->feature_delay_ms = 0;
        r->allow_snp_v6 = true;
        *ret = r;
        return 0;
}

cp_rules *cp_rules_free(cp_rules *r) {
        if (!r)
                return NULL;
        free(r->sizes);
        free(r->images);
        free(r->versions);
        json_decref(r->quota_by_location);
        json_decref(r->fake_backend);
        free(r);
        return NULL;
}

/* ---- config ------------------------------------------------------------- */

static int cfg_str(const json_t *o, const char *key, char *buf, size_t size, bool required) {
        const json_t *v = json_object_get(o, key);
        if (!v) {
                if (required)
                        return CP_ERROR(CP_EFORMAT, "config: missing \"%s\"", key);
                return 0;
        }
        if (!json_is_string(v) || json_string_length(v) >= size)
                return CP_ERROR(CP_EFORMAT, "config: \"%s\" must be a string shorter than %zu", key, size);
        memcpy(buf, json_string_value(v), json_string_length(v) + 1);
        return 0;
}

static int cfg_uint(const json_t *o, const char *key, unsigned max, unsigned *ret, bool required) {
        const json_t *v = json_object_get(o, key);
        if (!v) {
                if (required)
                        return CP_ERROR(CP_EFORMAT, "config: missing \"%s\"", key);
                return 0;
        }
        if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > (json_int_t) max)
                return CP_ERROR(CP_EFORMAT, "config: \"%s\" must be an integer in [0,%u]", key, max);
        *ret = (unsigned) json_integer_value(v);
        return 0;
}

static int cfg_bool(const json_t *o, const char *key, bool *ret) {
        const json_t *v = json_object_get(o, key);
        if (!v)
                return 0;
        if (!json_is_boolean(v))
                return CP_ERROR(CP_EFORMAT, "config: \"%s\" must be a boolean", key);
        *ret = json_is_true(v);
        return 0;
}

static int cfg_check_keys(const json_t *o, const char *const *keys, size_t n, const char *where) {
        const char *k;
        const json_t *v;
        json_object_foreach((json_t *) o, k, v) {
                bool ok = false;
                for (size_t i = 0; i < n && !ok; i++)
                        ok = strcmp(k, keys[i]) == 0;
                if (!ok)
                        return CP_ERROR(CP_EFORMAT, "config: unknown key \"%s\" in %s", k, where);
        }
        return 0;
}

static int parse_tee(const char *s, cp_tee *ret) {
        if (strcmp(s, "none") == 0)
                *ret = CP_TEE_NONE;
        else if (strcmp(s, "SEV-SNP") == 0)
                *ret = CP_TEE_SEV_SNP;
        else if (strcmp(s, "TDX") == 0)
                *ret = CP_TEE_TDX;
        else
                return CP_ERROR(CP_EFORMAT, "config: tee must be none, SEV-SNP or TDX");
        return 0;
}

static int parse_minor(const char *s, unsigned *ret) {
        unsigned maj, min;
        int patch;
        int r = cp_k8s_parse(s, &maj, &min, &patch);
        if (r < 0)
                return r;
        if (maj != 1 || patch >= 0)
                return CP_ERROR(CP_EFORMAT, "config: expected a 1.<minor> version, got '%s'", s);
        *ret = min;
        return 0;
}

static int load_sizes(cp_rules *r, const json_t *a) {
        static const char *const keys[] = {"name", "vcpus", "memoryGiB", "tempDiskGiB", "tee", "arch"};
        if (!json_is_array(a))
                return CP_ERROR(CP_EFORMAT, "config: \"sizes\" must be an array");
        size_t i;
        const json_t *e;
        json_array_foreach(a, i, e) {
                if (!json_is_object(e))
                        return CP_ERROR(CP_EFORMAT, "config: sizes[%zu] must be an object", i);
                cp_vm_size s = {0};
                char tee[16] = "none", arch[16] = "x64";
                int k = cfg_check_keys(e, keys, CP_ELEMENTSOF(keys), "sizes[]");
                if (k >= 0)
                        k = cfg_str(e, "name", s.name, sizeof s.name, true);
                if (k >= 0)
                        k = cfg_uint(e, "vcpus", 4096, &s.vcpus, true);
                if (k >= 0)
                        k = cfg_uint(e, "memoryGiB", 1u << 20, &s.mem_gib, true);
                if (k >= 0)
                        k = cfg_uint(e, "tempDiskGiB", 1u << 20, &s.temp_gib, false);
                if (k >= 0)
                        k = cfg_str(e, "tee", tee, sizeof tee, false);
                if (k >= 0)
                        k = cfg_str(e, "arch", arch, sizeof arch, false);
                if (k >= 0)
                        k = parse_tee(tee, &s.tee);
                if (k < 0)
                        return k;
                if (strcmp(arch, "x64") != 0 && strcmp(arch, "arm64") != 0)
                        return CP_ERROR(CP_EFORMAT, "config: arch must be x64 or arm64");
                s.arm64 = strcmp(arch, "arm64") == 0;
                if (s.vcpus == 0 || s.mem_gib == 0 || strncmp(s.name, "Standard_", 9) != 0)
                        return CP_ERROR(CP_EFORMAT, "config: sizes[%zu] is invalid", i);
                k = add_size(r, &s);
                if (k < 0)
                        return k;
        }
        return 0;
}

static int load_images(cp_rules *r, const json_t *a) {
        static const char *const keys[] = {"osSku", "cvm",     "minKubernetes", "maxKubernetes", "gallery",
                                           "definition", "osName", "feature", "retired", "migrateTo"};
        if (!json_is_array(a) || json_array_size(a) == 0 || json_array_size(a) > 1024)
                return CP_ERROR(CP_EFORMAT, "config: \"osImages\" must be a non-empty array");
        cp_os_image *n = calloc(json_array_size(a), sizeof *n);
        if (!n)
                return cp_error_oom();
        size_t i;
        const json_t *e;
        json_array_foreach(a, i, e) {
                cp_os_image *m = &n[i];
                char minv[16] = "", maxv[16] = "";
                int k = json_is_object(e) ? cfg_check_keys(e, keys, CP_ELEMENTSOF(keys), "osImages[]")
                                          : CP_ERROR(CP_EFORMAT, "config: osImages[%zu] must be an object", i);
                if (k >= 0)
                        k = cfg_str(e, "osSku", m->os_sku, sizeof m->os_sku, true);
                if (k >= 0)
                        k = cfg_bool(e, "cvm", &m->cvm);
                if (k >= 0)
                        k = cfg_str(e, "minKubernetes", minv, sizeof minv, true);
                if (k >= 0)
                        k = cfg_str(e, "maxKubernetes", maxv, sizeof maxv, true);
                if (k >= 0)
                        k = cfg_str(e, "gallery", m->gallery, sizeof m->gallery, true);
                if (k >= 0)
                        k = cfg_str(e, "definition", m->definition, sizeof m->definition, true);
                if (k >= 0)
                        k = cfg_str(e, "osName", m->os_name, sizeof m->os_name, false);
                if (k >= 0)
                        k = cfg_str(e, "feature", m->feature, sizeof m->feature, false);
                if (k >= 0)
                        k = cfg_str(e, "retired", m->retired, sizeof m->retired, false);
                if (k >= 0)
                        k = cfg_str(e, "migrateTo", m->migrate_to, sizeof m->migrate_to, false);
                if (k >= 0)
                        k = parse_minor(minv, &m->min_minor);
                if (k >= 0)
                        k = parse_minor(maxv, &m->max_minor);
                if (k >= 0 && m->min_minor > m->max_minor)
                        k = CP_ERROR(CP_EFORMAT, "config: osImages[%zu]: min > max", i);
                if (k < 0) {
                        free(n);
                        return k;
                }
        }
        free(r->images);
        r->images = n;
        r->n_images = json_array_size(a);
        return 0;
}

/* Move the Ubuntu CVM cut-over (20.04 -> 24.04) to 1.<minor>. */
static int set_cutover(cp_rules *r, unsigned minor) {
        for (size_t i = 0; i < r->n_images; i++) {
                cp_os_image *m = &r->images[i];
                if (!m->cvm || strcmp(m->os_sku, "Ubuntu") != 0)
                        continue;
                if (strstr(m->definition, "2004"))
                        m->max_minor = minor - 1;
                else if (strstr(m->definition, "2404"))
                        m->min_minor = minor;
        }
        return 0;
}

static int load_versions(cp_rules *r, const json_t *a) {
        if (!json_is_array(a) || json_array_size(a) == 0 || json_array_size(a) > 256)
                return CP_ERROR(CP_EFORMAT, "config: \"kubernetesVersions\" must be a non-empty array");
        cp_k8s_version *n = calloc(json_array_size(a), sizeof *n);
        if (!n)
                return cp_error_oom();
        size_t i, defaults = 0;
        const json_t *e;
        json_array_foreach(a, i, e) {
                static const char *const keys[] = {"version", "default", "preview"};
                int k = json_is_object(e) ? cfg_check_keys(e, keys, CP_ELEMENTSOF(keys), "kubernetesVersions[]")
                                          : CP_ERROR(CP_EFORMAT, "config: kubernetesVersions[%zu]", i);
                if (k >= 0)
                        k = cfg_str(e, "version", n[i].version, sizeof n[i].version, true);
                if (k >= 0)
                        k = cfg_bool(e, "default", &n[i].is_default);
                if (k >= 0)
                        k = cfg_bool(e, "preview", &n[i].preview);
                unsigned maj, min;
                int patch = -1;
                if (k >= 0)
                        k = cp_k8s_parse(n[i].version, &maj, &min, &patch);
                if (k >= 0 && patch < 0)
                        k = CP_ERROR(CP_EFORMAT, "config: kubernetes versions need a patch level");
                if (k < 0) {
                        free(n);
                        return k;
                }
                defaults += n[i].is_default;
        }
        if (defaults != 1) {
                free(n);
                return CP_ERROR(CP_EFORMAT, "config: exactly one kubernetes version must be the default");
        }
        free(r->versions);
        r->versions = n;
        r->n_versions = json_array_size(a);
        return 0;
}

int cp_rules_load_json(cp_rules *r, const json_t *cfg) {
        static const char *const keys[] = {
                "sizes",        "osImages",         "ubuntuCvm2404From", "kubernetesVersions", "nodeImageDate",
                "legacyCvmImageSpelling", "vcpuQuota", "now",           "retryAfterSeconds", "fakeBackend",
                "featureRegistrationDelayMs", "allowSnpV6"};
        if (!json_is_object(cfg))
                return CP_ERROR(CP_EFORMAT, "config: must be a JSON object");
        int k = cfg_check_keys(cfg, keys, CP_ELEMENTSOF(keys), "the config");
        if (k < 0)
                return k;
        const json_t *v;
        if ((v = json_object_get(cfg, "sizes")) && (k = load_sizes(r, v)) < 0)
                return k;
        if ((v = json_object_get(cfg, "osImages")) && (k = load_images(r, v)) < 0)
                return k;
        if ((v = json_object_get(cfg, "ubuntuCvm2404From"))) {
                unsigned m;
                if (!json_is_string(v))
                        return CP_ERROR(CP_EFORMAT, "config: ubuntuCvm2404From must be a string");
                if ((k = parse_minor(json_string_value(v), &m)) < 0)
                        return k;
                if (m < 25 || m > 99)
                        return CP_ERROR(CP_EFORMAT, "config: ubuntuCvm2404From out of range");
                set_cutover(r, m);
        }
        if ((v = json_object_get(cfg, "kubernetesVersions")) && (k = load_versions(r, v)) < 0)
                return k;
        char date[16] = "";
        if ((k = cfg_str(cfg, "nodeImageDate", date, sizeof date, false)) < 0)
                return k;
        if (date[0]) {
                cp_node_image probe;
                char img[64];
                snprintf(img, sizeof img, "A-B-%s", date);
                if (cp_node_image_parse(img, &probe) < 0)
                        return CP_ERROR(CP_EFORMAT, "config: nodeImageDate must be YYYYMM.DD.patch");
                memcpy(r->image_date, date, sizeof date);
        }
        if ((k = cfg_bool(cfg, "legacyCvmImageSpelling", &r->legacy_spelling)) < 0 ||
            (k = cfg_bool(cfg, "allowSnpV6", &r->allow_snp_v6)) < 0 ||
            (k = cfg_uint(cfg, "retryAfterSeconds", 3600, &r->retry_after, false)) < 0 ||
            (k = cfg_uint(cfg, "featureRegistrationDelayMs", 86400000, &r->feature_delay_ms, false)) < 0)
                return k;
        if ((v = json_object_get(cfg, "vcpuQuota"))) {
                const char *loc;
                const json_t *q;
                if (!json_is_object(v))
                        return CP_ERROR(CP_EFORMAT, "config: vcpuQuota must be an object");
                json_object_foreach((json_t *) v, loc, q) {
                        if (!json_is_integer(q) || json_integer_value(q) < 0 || json_integer_value(q) > 10000000)
                                return CP_ERROR(CP_EFORMAT, "config: vcpuQuota values must be integers");
                        if (strcmp(loc, "default") == 0)
                                r->quota_default = (unsigned) json_integer_value(q);
                        else if (json_object_set(r->quota_by_location, loc, (json_t *) q) < 0)
                                return cp_error_oom();
                }
        }
        if ((v = json_object_get(cfg, "now"))) {
                struct tm tm = {0};
                const char *end = json_is_string(v) ? strptime(json_string_value(v), "%Y-%m-%dT%H:%M:%SZ", &tm) : NULL;
                if (!end || *end)
                        return CP_ERROR(CP_EFORMAT, "config: now must be YYYY-MM-DDTHH:MM:SSZ");
                r->now_override = timegm(&tm);
        }
        if ((v = json_object_get(cfg, "fakeBackend"))) {
                /* the fake backend's knobs are its own (cp-backend-fake.c): checked
                 * here so that a bad file fails at load, kept for the backend */
                if ((k = cp_backend_fake_check_config(v)) < 0)
                        return k;
                json_decref(r->fake_backend);
                r->fake_backend = json_deep_copy(v);
                if (!r->fake_backend)
                        return cp_error_oom();
        }
        return 0;
}

/* ---- accessors ---------------------------------------------------------- */

const cp_vm_size *cp_rules_find_size(const cp_rules *r, const char *name) {
        for (size_t i = 0; name && i < r->n_sizes; i++)
                if (strcasecmp(r->sizes[i].name, name) == 0)
                        return &r->sizes[i];
        return NULL;
}
size_t cp_rules_n_sizes(const cp_rules *r) {
        return r->n_sizes;
}
const cp_vm_size *cp_rules_size_at(const cp_rules *r, size_t i) {
        return i < r->n_sizes ? &r->sizes[i] : NULL;
}
size_t cp_rules_n_images(const cp_rules *r) {
        return r->n_images;
}
const cp_os_image *cp_rules_image_at(const cp_rules *r, size_t i) {
        return i < r->n_images ? &r->images[i] : NULL;
}
size_t cp_rules_n_versions(const cp_rules *r) {
        return r->n_versions;
}
const cp_k8s_version *cp_rules_version_at(const cp_rules *r, size_t i) {
        return i < r->n_versions ? &r->versions[i] : NULL;
}
const char *cp_rules_default_version(const cp_rules *r) {
        for (size_t i = 0; i < r->n_versions; i++)
                if (r->versions[i].is_default)
                        return r->versions[i].version;
        return r->versions[0].version;
}
const char *cp_rules_image_date(const cp_rules *r) {
        return r->image_date;
}
unsigned cp_rules_vcpu_quota(const cp_rules *r, const char *location) {
        const json_t *q = location ? json_object_get(r->quota_by_location, location) : NULL;
        return q ? (unsigned) json_integer_value(q) : r->quota_default;
}
time_t cp_rules_now(const cp_rules *r) {
        return r->now_override ? r->now_override : time(NULL);
}
unsigned cp_rules_retry_after(const cp_rules *r) {
        return r->retry_after;
}
const json_t *cp_rules_fake_backend(const cp_rules *r) {
        return r->fake_backend;
}
unsigned cp_rules_feature_delay_ms(const cp_rules *r) {
        return r->feature_delay_ms;
}

/* api-versions: Microsoft.ContainerService accepts the stable monthly
 * versions 2022-11-01 .. 2026-01-01 and previews up to 2026-02-02-preview;
 * Microsoft.Features 2015-12-01 and 2021-07-01; Microsoft.Resources
 * 2019-05-01 .. 2025-04-01. */
bool cp_rules_api_version_ok(const cp_rules *r, const char *ns, const char *v) {
        (void) r;
        unsigned y, m, d;
        char tail[16] = "";
        int n = 0;
        if (!v || strlen(v) > 24 || sscanf(v, "%4u-%2u-%2u%n", &y, &m, &d, &n) != 3 || n != 10)
                return false;
        if (v[4] != '-' || v[7] != '-' || !isdigit((unsigned char) v[0]) || !isdigit((unsigned char) v[5]) ||
            !isdigit((unsigned char) v[8]))
                return false;
        snprintf(tail, sizeof tail, "%s", v + 10);
        bool preview = strcmp(tail, "-preview") == 0;
        if (tail[0] && !preview)
                return false;
        if (m < 1 || m > 12 || d < 1 || d > 31)
                return false;
        unsigned date = y * 10000 + m * 100 + d;
        if (strcasecmp(ns, "Microsoft.Features") == 0)
                return !preview && (date == 20151201 || date == 20210701);
        if (strcasecmp(ns, "Microsoft.Resources") == 0)
                return !preview && date >= 20190501 && date <= 20250401;
        if (preview)
                return date >= 20221101 && date <= 20260202;
        return d == 1 && date >= 20221101 && date <= 20260101;
}

/* ---- classification, versions, images ----------------------------------- */

cp_tee cp_tee_from_size_name(const char *name) {
        static const char snp[] = "^Standard_(DC|EC)[0-9]+(a|ia)(d)?s(_cc)?_v[56]$";
        static const char tdx[] = "^Standard_(DC|EC)[0-9]+e(d)?s_v[56]$";
        regex_t re;
        cp_tee t = CP_TEE_NONE;
        if (regcomp(&re, snp, REG_EXTENDED | REG_NOSUB | REG_ICASE) == 0) {
                if (regexec(&re, name, 0, NULL, 0) == 0)
                        t = CP_TEE_SEV_SNP;
                regfree(&re);
        }
        if (t == CP_TEE_NONE && regcomp(&re, tdx, REG_EXTENDED | REG_NOSUB | REG_ICASE) == 0) {
                if (regexec(&re, name, 0, NULL, 0) == 0)
                        t = CP_TEE_TDX;
                regfree(&re);
        }
        return t;
}

const char *cp_tee_name(cp_tee t) {
        return t == CP_TEE_SEV_SNP ? "SEV-SNP" : t == CP_TEE_TDX ? "TDX" : "none";
}

static int parse_uint_part(const char **p, unsigned max, unsigned *ret) {
        const char *s = *p;
        unsigned v = 0;
        size_t n = 0;
        if (!isdigit((unsigned char) *s))
                return -1;
        if (s[0] == '0' && isdigit((unsigned char) s[1]))
                return -1;
        while (isdigit((unsigned char) *s)) {
                v = v * 10 + (unsigned) (*s - '0');
                if (++n > 6 || v > max)
                        return -1;
                s++;
        }
        *p = s;
        *ret = v;
        return 0;
}

int cp_k8s_parse(const char *s, unsigned *ret_major, unsigned *ret_minor, int *ret_patch) {
        const char *p = s;
        unsigned maj, min, pat = 0;
        bool has_patch = false;
        if (!s || parse_uint_part(&p, 99, &maj) < 0 || *p++ != '.' || parse_uint_part(&p, 999, &min) < 0)
                return CP_ERROR(CP_EFORMAT, "invalid Kubernetes version");
        if (*p == '.') {
                p++;
                if (parse_uint_part(&p, 9999, &pat) < 0)
                        return CP_ERROR(CP_EFORMAT, "invalid Kubernetes version");
                has_patch = true;
        }
        if (*p)
                return CP_ERROR(CP_EFORMAT, "invalid Kubernetes version");
        *ret_major = maj;
        *ret_minor = min;
        *ret_patch = has_patch ? (int) pat : -1;
        return 0;
}

const cp_k8s_version *cp_rules_resolve_version(const cp_rules *r, const char *v) {
        unsigned maj, min;
        int patch;
        if (cp_k8s_parse(v, &maj, &min, &patch) < 0) {
                cp_error_clear();
                return NULL;
        }
        const cp_k8s_version *best = NULL;
        int best_patch = -1;
        for (size_t i = 0; i < r->n_versions; i++) {
                unsigned a, b;
                int c;
                if (cp_k8s_parse(r->versions[i].version, &a, &b, &c) < 0)
                        continue;
                if (a != maj || b != min)
                        continue;
                if (patch >= 0 && c == patch)
                        return &r->versions[i];
                if (patch < 0 && c > best_patch) {
                        best = &r->versions[i];
                        best_patch = c;
                }
        }
        return patch < 0 ? best : NULL;
}

static bool all_alnum(const char *s, size_t n) {
        if (n == 0)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!isalnum((unsigned char) s[i]))
                        return false;
        return true;
}

int cp_node_image_parse(const char *s, cp_node_image *ret) {
        if (!s)
                return CP_ERROR(CP_EINVAL, "NULL node image");
        size_t len = strnlen(s, 128);
        if (len >= 128)
                return CP_ERROR(CP_ETOOBIG, "node image version too long");
        const char *d1 = strchr(s, '-'), *d2 = strrchr(s, '-');
        if (!d1 || d1 == d2)
                return CP_ERROR(CP_EFORMAT, "node image version needs <Gallery>-<Definition>-<version>");
        cp_node_image im = {0};
        size_t gl = (size_t) (d1 - s), dl = (size_t) (d2 - d1 - 1), vl = len - (size_t) (d2 - s) - 1;
        if (gl >= sizeof im.gallery || !all_alnum(s, gl))
                return CP_ERROR(CP_EFORMAT, "bad gallery in node image version");
        if (dl >= sizeof im.definition || !all_alnum(d1 + 1, dl))
                return CP_ERROR(CP_EFORMAT, "bad image definition in node image version");
        /* YYYYMM.DD.patch */
        const char *v = d2 + 1;
        if (vl < 11 || vl > 14)
                return CP_ERROR(CP_EFORMAT, "bad image version in node image version");
        for (size_t i = 0; i < 6; i++)
                if (!isdigit((unsigned char) v[i]))
                        return CP_ERROR(CP_EFORMAT, "bad image version date");
        if (v[6] != '.' || !isdigit((unsigned char) v[7]) || !isdigit((unsigned char) v[8]) || v[9] != '.')
                return CP_ERROR(CP_EFORMAT, "bad image version date");
        for (size_t i = 10; i < vl; i++)
                if (!isdigit((unsigned char) v[i]))
                        return CP_ERROR(CP_EFORMAT, "bad image patch number");
        unsigned month = (unsigned) (v[4] - '0') * 10 + (unsigned) (v[5] - '0');
        unsigned day = (unsigned) (v[7] - '0') * 10 + (unsigned) (v[8] - '0');
        if (month < 1 || month > 12 || day < 1 || day > 31)
                return CP_ERROR(CP_EFORMAT, "bad image version date");
        memcpy(im.gallery, s, gl);
        memcpy(im.version, v, vl);
        char def[48] = {0};
        memcpy(def, d1 + 1, dl);
        /* legacy "2004cvmcontainerd" / "2404cvmcontainerd" */
        if (dl == 17 && isdigit((unsigned char) def[0]) && strcmp(def + 4, "cvmcontainerd") == 0) {
                snprintf(im.definition, sizeof im.definition, "%.4sgen2CVMcontainerd", def);
                im.legacy_spelling = true;
        } else
                memcpy(im.definition, def, sizeof def);
        im.cvm = strstr(im.definition, "CVM") != NULL;
        *ret = im;
        return 0;
}

const cp_os_image *cp_rules_image_for(const cp_rules *r, const char *os_sku, bool cvm, unsigned minor) {
        for (size_t i = 0; i < r->n_images; i++) {
                const cp_os_image *m = &r->images[i];
                if (m->cvm == cvm && strcasecmp(m->os_sku, os_sku) == 0 && minor >= m->min_minor &&
                    minor <= m->max_minor)
                        return m;
        }
        return NULL;
}

static const cp_os_image *any_image(const cp_rules *r, const char *os_sku, bool cvm, unsigned *ret_min,
                                    unsigned *ret_max) {
        const cp_os_image *f = NULL;
        unsigned lo = ~0u, hi = 0;
        for (size_t i = 0; i < r->n_images; i++) {
                const cp_os_image *m = &r->images[i];
                if (m->cvm != cvm || strcasecmp(m->os_sku, os_sku) != 0)
                        continue;
                f = f ? f : m;
                lo = m->min_minor < lo ? m->min_minor : lo;
                hi = m->max_minor > hi ? m->max_minor : hi;
        }
        *ret_min = lo;
        *ret_max = hi;
        return f;
}

/* ---- names -------------------------------------------------------------- */

bool cp_name_pool_ok(const char *s) {
        size_t n = s ? strlen(s) : 0;
        if (n < 1 || n > 12 || !islower((unsigned char) s[0]))
                return false;
        for (size_t i = 0; i < n; i++)
                if (!islower((unsigned char) s[i]) && !isdigit((unsigned char) s[i]))
                        return false;
        return true;
}

bool cp_name_cluster_ok(const char *s) {
        size_t n = s ? strlen(s) : 0;
        if (n < 1 || n > 63 || !isalnum((unsigned char) s[0]) || !isalnum((unsigned char) s[n - 1]))
                return false;
        for (size_t i = 0; i < n; i++)
                if (!isalnum((unsigned char) s[i]) && s[i] != '-' && s[i] != '_')
                        return false;
        return true;
}

bool cp_name_rg_ok(const char *s) {
        size_t n = s ? strlen(s) : 0;
        if (n < 1 || n > 90 || s[n - 1] == '.')
                return false;
        for (size_t i = 0; i < n; i++)
                if (!isalnum((unsigned char) s[i]) && !strchr("-_.()", s[i]))
                        return false;
        return true;
}

bool cp_name_machine_ok(const char *s) {
        if (cp_name_pool_ok(s))
                return true;
        size_t n = s ? strlen(s) : 0;
        if (n < 1 || n > 40 || !isalnum((unsigned char) s[0]))
                return false;
        for (size_t i = 0; i < n; i++)
                if (!isalnum((unsigned char) s[i]) && s[i] != '-' && s[i] != '_')
                        return false;
        return true;
}

/* ---- validation --------------------------------------------------------- */

int cp_rule_fail(cp_rule_error *e, unsigned status, const char *code, const char *target, const char *fmt, ...) {
        va_list ap;
        e->status = status;
        snprintf(e->code, sizeof e->code, "%s", code);
        snprintf(e->target, sizeof e->target, "%s", target ? target : "");
        va_start(ap, fmt);
        vsnprintf(e->message, sizeof e->message, fmt, ap);
        va_end(ap);
        return CP_ERROR(CP_EPOLICY, "%s: %s", e->code, e->message);
}

static const char *get_str(const json_t *o, const char *k) {
        return json_string_value(json_object_get(o, k));
}

static bool get_true(const json_t *o, const char *k) {
        return json_is_true(json_object_get(o, k));
}

static bool in_list(const char *v, const char *const *list, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (strcmp(v, list[i]) == 0)
                        return true;
        return false;
}

/* Check an optional enum-valued string property. */
static int check_enum(const json_t *props, const char *key, const char *const *vals, size_t n, cp_rule_error *e) {
        const json_t *v = json_object_get(props, key);
        if (!v || json_is_null(v))
                return 0;
        char target[96];
        snprintf(target, sizeof target, "properties.%s", key);
        if (!json_is_string(v))
                return cp_rule_fail(e, 400, "InvalidParameter", target, "The value of parameter %s must be a string.",
                                    key);
        if (!in_list(json_string_value(v), vals, n))
                return cp_rule_fail(e, 400, "InvalidParameter", target,
                                    "The value of parameter %s is invalid: '%s'.", key, json_string_value(v));
        return 0;
}

static int check_type(const json_t *props, const char *key, int type, cp_rule_error *e) {
        const json_t *v = json_object_get(props, key);
        if (!v || json_is_null(v))
                return 0;
        bool ok = type == JSON_INTEGER ? json_is_integer(v)
                : type == JSON_TRUE    ? json_is_boolean(v)
                : type == JSON_REAL    ? json_is_number(v)
                                       : (int) json_typeof(v) == type;
        if (ok)
                return 0;
        char target[96];
        snprintf(target, sizeof target, "properties.%s", key);
        return cp_rule_fail(e, 400, "InvalidParameter", target, "The value of parameter %s has the wrong type.",
                            key);
}

static bool label_name_ok(const char *s, size_t n) {
        if (n < 1 || n > 63 || !isalnum((unsigned char) s[0]) || !isalnum((unsigned char) s[n - 1]))
                return false;
        for (size_t i = 0; i < n; i++)
                if (!isalnum((unsigned char) s[i]) && !strchr("-_.", s[i]))
                        return false;
        return true;
}

static bool dns_subdomain_ok(const char *s, size_t n) {
        if (n < 1 || n > 253 || !isalnum((unsigned char) s[0]) || !isalnum((unsigned char) s[n - 1]))
                return false;
        for (size_t i = 0; i < n; i++)
                if (!(islower((unsigned char) s[i]) || isdigit((unsigned char) s[i]) || s[i] == '-' || s[i] == '.'))
                        return false;
        return true;
}

static bool label_key_ok(const char *k) {
        const char *slash = strchr(k, '/');
        if (!slash)
                return label_name_ok(k, strlen(k));
        return dns_subdomain_ok(k, (size_t) (slash - k)) && label_name_ok(slash + 1, strlen(slash + 1));
}

static bool label_value_ok(const char *v) {
        size_t n = strlen(v);
        return n == 0 || label_name_ok(v, n);
}

static bool reserved_label(const char *k) {
        static const char *const prefixes[] = {"kubernetes.azure.com/", "kubernetes.io/", "k8s.io/",
                                               "node.kubernetes.io/", "topology.kubernetes.io/"};
        for (size_t i = 0; i < CP_ELEMENTSOF(prefixes); i++)
                if (strncmp(k, prefixes[i], strlen(prefixes[i])) == 0)
                        return true;
        return false;
}

static bool taint_ok(const char *t) {
        regex_t re;
        static const char pat[] = "^[a-zA-Z0-9][-a-zA-Z0-9_./]{0,252}=[a-zA-Z0-9][-a-zA-Z0-9_.]{0,62}:"
                                  "(NoSchedule|PreferNoSchedule|NoExecute)$";
        if (regcomp(&re, pat, REG_EXTENDED | REG_NOSUB) != 0)
                return false;
        bool ok = regexec(&re, t, 0, NULL, 0) == 0;
        regfree(&re);
        return ok;
}

static int set_str(json_t *o, const char *k, const char *v) {
        return json_object_set_new(o, k, json_string(v)) < 0 ? cp_error_oom() : 0;
}

static int set_default(json_t *o, const char *k, json_t *v) {
        if (json_object_get(o, k) && !json_is_null(json_object_get(o, k))) {
                json_decref(v);
                return 0;
        }
        return json_object_set_new(o, k, v) < 0 ? cp_error_oom() : 0;
}

static void format_date(time_t t, char buf[16]) {
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(buf, 16, "%Y-%m-%d", &tm);
}

static bool is_retired(const cp_rules *r, const cp_os_image *img) {
        if (!img || !img->retired[0])
                return false;
        char today[16];
        format_date(cp_rules_now(r), today);
        return strcmp(today, img->retired) >= 0;
}

static const cp_os_image *image_of_props(const cp_rules *r, const json_t *props) {
        const char *sku = get_str(props, "osSKU"), *ver = get_str(props, "currentOrchestratorVersion");
        const cp_vm_size *size = cp_rules_find_size(r, get_str(props, "vmSize"));
        unsigned maj, min;
        int patch;
        if (!sku || !ver || !size || cp_k8s_parse(ver, &maj, &min, &patch) < 0) {
                cp_error_clear();
                return NULL;
        }
        return cp_rules_image_for(r, sku, size->tee != CP_TEE_NONE, min);
}

int cp_rules_check_retired(const cp_rules *r, const json_t *props, cp_rule_error *err) {
        const cp_os_image *img = image_of_props(r, props);
        if (!is_retired(r, img))
                return 0;
        return cp_rule_fail(err, 400, "NodeOSRetired", "properties.count",
                            "%s node images were retired on %s; node pools on it can no longer be scaled or created. "
                            "Migrate with 'confpool aks nodepool update --os-sku %s' (or upgrade to a Kubernetes "
                            "version whose default %s image is supported).",
                            img->os_name, img->retired, img->migrate_to[0] ? img->migrate_to : "<supported SKU>",
                            img->os_sku);
}

static const char *const os_types[] = {"Linux", "Windows"};
static const char *const modes[] = {"System", "User", "Gateway"};
static const char *const pool_types[] = {"VirtualMachineScaleSets", "AvailabilitySet", "VirtualMachines"};
static const char *const disk_types[] = {"Managed", "Ephemeral"};
static const char *const kubelet_disk_types[] = {"OS", "Temporary"};
static const char *const runtimes[] = {"OCIContainer", "WasmWasi", "KataVmIsolation", "KataCcIsolation",
                                       "KataMshvVmIsolation"};
static const char *const priorities[] = {"Regular", "Spot"};
static const char *const evictions[] = {"Delete", "Deallocate"};
static const char *const scale_down[] = {"Delete", "Deallocate"};

static int validate_counts(const json_t *p, bool system, cp_rule_error *e) {
        json_int_t count = json_integer_value(json_object_get(p, "count"));
        if (count < (system ? 1 : 0) || count > 1000)
                return cp_rule_fail(e, 400, "InvalidParameter", "properties.count",
                                    "The value of count must be in the range [%d, 1000] for a %s pool, got %lld.",
                                    system ? 1 : 0, system ? "System" : "User", (long long) count);
        if (get_true(p, "enableAutoScaling")) {
                const json_t *mn = json_object_get(p, "minCount"), *mx = json_object_get(p, "maxCount");
                if (!json_is_integer(mn) || !json_is_integer(mx))
                        return cp_rule_fail(e, 400, "InvalidParameter", "properties.minCount",
                                            "minCount and maxCount are required when enableAutoScaling is true.");
                json_int_t a = json_integer_value(mn), b = json_integer_value(mx);
                if (a < 0 || b > 1000 || a > b)
                        return cp_rule_fail(e, 400, "InvalidParameter", "properties.minCount",
                                            "minCount (%lld) must be <= maxCount (%lld), both in [0, 1000].",
                                            (long long) a, (long long) b);
                if (count < a || count > b)
                        return cp_rule_fail(e, 400, "InvalidParameter", "properties.count",
                                            "count %lld is not in the range of minCount and maxCount.",
                                            (long long) count);
        }
        return 0;
}

static int validate_labels_taints(const json_t *p, cp_rule_error *e) {
        const json_t *labels = json_object_get(p, "nodeLabels");
        if (labels && !json_is_null(labels)) {
                const char *k;
                const json_t *v;
                if (!json_is_object(labels))
                        return cp_rule_fail(e, 400, "InvalidParameter", "properties.nodeLabels",
                                            "nodeLabels must be an object.");
                json_object_foreach((json_t *) labels, k, v) {
                        if (!json_is_string(v) || !label_key_ok(k) || !label_value_ok(json_string_value(v)))
                                return cp_rule_fail(e, 400, "InvalidNodeLabel", "properties.nodeLabels",
                                                    "Invalid node label '%s'.", k);
                        if (reserved_label(k))
                                return cp_rule_fail(e, 400, "ReservedNodeLabel", "properties.nodeLabels",
                                                    "Node label '%s' uses a reserved prefix and is set by the "
                                                    "service.",
                                                    k);
                }
        }
        const json_t *taints = json_object_get(p, "nodeTaints");
        if (taints && !json_is_null(taints)) {
                size_t i;
                const json_t *t;
                if (!json_is_array(taints))
                        return cp_rule_fail(e, 400, "InvalidParameter", "properties.nodeTaints",
                                            "nodeTaints must be an array.");
                json_array_foreach(taints, i, t) {
                        if (!json_is_string(t) || !taint_ok(json_string_value(t)))
                                return cp_rule_fail(e, 400, "InvalidNodeTaint", "properties.nodeTaints",
                                                    "Invalid node taint '%s'; expected key=value:NoSchedule|"
                                                    "PreferNoSchedule|NoExecute.",
                                                    json_is_string(t) ? json_string_value(t) : "?");
                }
        }
        return 0;
}

/* Rules that apply because vmSize is a confidential size (aks-api.md 3.3). */
static int validate_cvm(const cp_rules *r, const cp_pool_context *ctx, const cp_vm_size *size, const json_t *p,
                        const char *sku, unsigned minor, cp_rule_error *e) {
        if (size->tee == CP_TEE_TDX && !(ctx->feature_registered &&
                                         ctx->feature_registered(ctx->userdata,
                                                                 "Microsoft.ContainerService/ConfidentialTDXPreview")))
                return cp_rule_fail(e, 400, "PreviewFeatureNotRegistered", "properties.vmSize",
                                    "Preview feature Microsoft.ContainerService/ConfidentialTDXPreview not registered. "
                                    "Intel TDX size '%s' is not supported for node pools without it.",
                                    size->name);
        if (size->tee == CP_TEE_SEV_SNP && !r->allow_snp_v6 && strstr(size->name, "_v6"))
                return cp_rule_fail(e, 400, "VMSizeNotSupported", "properties.vmSize",
                                    "The VM size '%s' is not supported for confidential node pools in this "
                                    "deployment.",
                                    size->name);
        if (size->arm64)
                return cp_rule_fail(e, 400, "CVMNotSupportedWithARM64", "properties.vmSize",
                                    "Confidential VM node pools do not support ARM64 VM sizes.");
        if (strcmp(get_str(p, "osType"), "Windows") == 0)
                return cp_rule_fail(e, 400, "CVMWindowsNotSupported", "properties.osType",
                                    "Confidential VM sizes are not supported with Windows node pools.");
        if (get_true(p, "enableFIPS"))
                return cp_rule_fail(e, 400, "CVMNotSupportedWithFIPS", "properties.enableFIPS",
                                    "FIPS-enabled node images are not supported with confidential VM sizes.");
        const json_t *sec = json_object_get(p, "securityProfile");
        if (get_true(sec, "enableSecureBoot") || get_true(sec, "enableVTPM"))
                return cp_rule_fail(e, 400, "CVMNotSupportedWithTrustedLaunch",
                                    get_true(sec, "enableSecureBoot") ? "properties.securityProfile.enableSecureBoot"
                                                                      : "properties.securityProfile.enableVTPM",
                                    "Trusted Launch (secure boot / vTPM settings) cannot be combined with "
                                    "confidential VM sizes; confidential VMs bring their own secure boot and vTPM.");
        const char *rt = get_str(p, "workloadRuntime");
        if (rt && (strcmp(rt, "KataVmIsolation") == 0 || strcmp(rt, "KataMshvVmIsolation") == 0 ||
                   strcmp(rt, "KataCcIsolation") == 0))
                return cp_rule_fail(e, 400, "CVMWorkloadRuntimeNotSupported", "properties.workloadRuntime",
                                    "Pod Sandboxing (workloadRuntime %s) is not supported with confidential VM "
                                    "sizes.",
                                    rt);
        unsigned lo, hi;
        if (!any_image(r, sku, true, &lo, &hi))
                return cp_rule_fail(e, 400, "CVMOSSKUNotSupported", "properties.osSKU",
                                    "OS SKU '%s' does not support confidential VM node pools; supported: Ubuntu, "
                                    "Ubuntu2404, AzureLinux.",
                                    sku);
        const cp_os_image *img = cp_rules_image_for(r, sku, true, minor);
        if (!img)
                return cp_rule_fail(e, 400, "CVMOSSKUVersionNotSupported", "properties.orchestratorVersion",
                                    "Confidential VM node pools with OS SKU '%s' require Kubernetes 1.%u to 1.%u; "
                                    "the pool would run 1.%u.",
                                    sku, lo, hi, minor);
        if (get_str(p, "osDiskType") && strcmp(get_str(p, "osDiskType"), "Ephemeral") == 0 && size->temp_gib == 0)
                return cp_rule_fail(e, 400, "CVMEphemeralOSDiskNotSupported", "properties.osDiskType",
                                    "VM size '%s' has no local temp disk and does not support Ephemeral OS disks.",
                                    size->name);
        return 0;
}

/* Member types and enumerations. */
static int pool_check_types(json_t *p, cp_rule_error *e) {
        static const struct {
                const char *k;
                int t;
        } types[] = {{"count", JSON_INTEGER},        {"vmSize", JSON_STRING},       {"osDiskSizeGB", JSON_INTEGER},
                     {"maxPods", JSON_INTEGER},      {"osSKU", JSON_STRING},        {"minCount", JSON_INTEGER},
                     {"maxCount", JSON_INTEGER},     {"enableAutoScaling", JSON_TRUE},
                     {"orchestratorVersion", JSON_STRING}, {"enableFIPS", JSON_TRUE}, {"tags", JSON_OBJECT},
                     {"availabilityZones", JSON_ARRAY}, {"securityProfile", JSON_OBJECT},
                     {"upgradeSettings", JSON_OBJECT}, {"powerState", JSON_OBJECT}, {"spotMaxPrice", JSON_REAL},
                     {"enableNodePublicIP", JSON_TRUE}};
        int k;
        for (size_t i = 0; i < CP_ELEMENTSOF(types); i++)
                if ((k = check_type(p, types[i].k, types[i].t, e)) < 0)
                        return k;
        if ((k = check_enum(p, "osType", os_types, CP_ELEMENTSOF(os_types), e)) < 0 ||
            (k = check_enum(p, "mode", modes, CP_ELEMENTSOF(modes), e)) < 0 ||
            (k = check_enum(p, "type", pool_types, CP_ELEMENTSOF(pool_types), e)) < 0 ||
            (k = check_enum(p, "osDiskType", disk_types, CP_ELEMENTSOF(disk_types), e)) < 0 ||
            (k = check_enum(p, "kubeletDiskType", kubelet_disk_types, CP_ELEMENTSOF(kubelet_disk_types), e)) < 0 ||
            (k = check_enum(p, "workloadRuntime", runtimes, CP_ELEMENTSOF(runtimes), e)) < 0 ||
            (k = check_enum(p, "scaleSetPriority", priorities, CP_ELEMENTSOF(priorities), e)) < 0 ||
            (k = check_enum(p, "scaleSetEvictionPolicy", evictions, CP_ELEMENTSOF(evictions), e)) < 0 ||
            (k = check_enum(p, "scaleDownMode", scale_down, CP_ELEMENTSOF(scale_down), e)) < 0 ||
            (k = check_enum(p, "osSKU", known_os_skus, CP_ELEMENTSOF(known_os_skus), e)) < 0)
                return k;
        return 0;
}

/* Immutable fields of an existing pool: carried over when absent, changes refused. */
static int pool_check_immutable(const cp_rules *r, const json_t *ex, const char *name, json_t *p, cp_rule_error *e) {
        static const char *const keep[] = {"vmSize", "osType", "osSKU", "osDiskSizeGB", "osDiskType",
                                           "mode", "count", "orchestratorVersion", "maxPods", "type",
                                           "enableFIPS", "workloadRuntime", "kubeletDiskType",
                                           "scaleSetPriority", "scaleSetEvictionPolicy"};
        for (size_t i = 0; i < CP_ELEMENTSOF(keep); i++) {
                const json_t *v = json_object_get(ex, keep[i]);
                if (v && (!json_object_get(p, keep[i]) || json_is_null(json_object_get(p, keep[i]))) &&
                    json_object_set(p, keep[i], (json_t *) v) < 0)
                        return cp_error_oom();
        }
        const char *ov = get_str(ex, "vmSize"), *nv = get_str(p, "vmSize");
        if (ov && nv && strcasecmp(ov, nv) != 0) {
                const cp_vm_size *os = cp_rules_find_size(r, ov), *ns = cp_rules_find_size(r, nv);
                bool ocvm = os && os->tee != CP_TEE_NONE, ncvm = ns && ns->tee != CP_TEE_NONE;
                if (ncvm && !ocvm)
                        return cp_rule_fail(e, 400, "CVMMigrationNotSupported", "properties.vmSize",
                                            "An existing node pool cannot be changed to the confidential VM "
                                            "size '%s'. Create a new node pool with that size and migrate "
                                            "the workloads (resize node pool procedure).",
                                            nv);
                if (ocvm)
                        return cp_rule_fail(e, 400, "CVMResizeNotSupported", "properties.vmSize",
                                            "The VM size of confidential node pool '%s' cannot be changed "
                                            "from '%s'; create a new node pool instead.",
                                            name, ov);
                return cp_rule_fail(e, 400, "ChangingVMSizeNotAllowed", "properties.vmSize",
                                    "Changing the VM size of an existing node pool is not allowed "
                                    "('%s' -> '%s').",
                                    ov, nv);
        }
        const char *ot = get_str(ex, "osType"), *nt = get_str(p, "osType");
        if (ot && nt && strcmp(ot, nt) != 0)
                return cp_rule_fail(e, 400, "ChangingOSTypeNotAllowed", "properties.osType",
                                    "Changing the OS type of an existing node pool is not allowed.");
        const char *od = get_str(ex, "osDiskType"), *nd = get_str(p, "osDiskType");
        if (od && nd && strcmp(od, nd) != 0)
                return cp_rule_fail(e, 400, "ChangingOSDiskTypeNotAllowed", "properties.osDiskType",
                                    "Changing the OS disk type of an existing node pool is not allowed.");
        return 0;
}

/* Defaults, then the OS type against the OS SKU and the power state. */
static int pool_apply_defaults(const char *name, json_t *p, cp_rule_error *e) {
        int k;
        if ((k = set_default(p, "osType", json_string("Linux"))) < 0 ||
            (k = set_default(p, "mode", json_string("User"))) < 0 ||
            (k = set_default(p, "count", json_integer(1))) < 0 ||
            (k = set_default(p, "vmSize", json_string("Standard_D2s_v3"))) < 0 ||
            (k = set_default(p, "type", json_string("VirtualMachineScaleSets"))) < 0)
                return k;
        bool windows = strcmp(get_str(p, "osType"), "Windows") == 0;
        if ((k = set_default(p, "osSKU", json_string(windows ? "Windows2022" : "Ubuntu"))) < 0 ||
            (k = set_default(p, "maxPods", json_integer(110))) < 0 ||
            (k = set_default(p, "osDiskSizeGB", json_integer(128))) < 0 ||
            (k = set_default(p, "kubeletDiskType", json_string("OS"))) < 0 ||
            (k = set_default(p, "workloadRuntime", json_string("OCIContainer"))) < 0 ||
            (k = set_default(p, "scaleSetPriority", json_string("Regular"))) < 0 ||
            (k = set_default(p, "scaleDownMode", json_string("Delete"))) < 0 ||
            (k = set_default(p, "enableFIPS", json_false())) < 0 ||
            (k = set_default(p, "enableAutoScaling", json_false())) < 0 ||
            (k = set_default(p, "enableNodePublicIP", json_false())) < 0 ||
            (k = set_default(p, "nodeLabels", json_object())) < 0 ||
            (k = set_default(p, "tags", json_object())) < 0 ||
            (k = set_default(p, "upgradeSettings", json_pack("{s:s}", "maxSurge", "10%"))) < 0 ||
            (k = set_default(p, "powerState", json_pack("{s:s}", "code", "Running"))) < 0)
                return k;
        if (strcmp(get_str(p, "scaleSetPriority"), "Spot") == 0 &&
            (k = set_default(p, "scaleSetEvictionPolicy", json_string("Delete"))) < 0)
                return k;
        const char *sku = get_str(p, "osSKU");
        bool windows_sku = strncmp(sku, "Windows", 7) == 0;
        if (windows != windows_sku)
                return cp_rule_fail(e, 400, "InvalidParameter", "properties.osSKU",
                                    "OS SKU '%s' does not match osType '%s'.", sku, get_str(p, "osType"));
        if (windows && strlen(name) > 6)
                return cp_rule_fail(e, 400, "InvalidAgentPoolName", "name",
                                    "Windows agent pool name '%s' can not be longer than 6 characters.", name);
        const char *pc = get_str(json_object_get(p, "powerState"), "code");
        if (!pc || (strcmp(pc, "Running") != 0 && strcmp(pc, "Stopped") != 0))
                return cp_rule_fail(e, 400, "InvalidParameter", "properties.powerState.code",
                                    "powerState.code must be Running or Stopped.");
        return 0;
}

/* The VM size (canonical spelling), the OS disk and maxPods. */
static int pool_check_size(const cp_rules *r, const cp_pool_context *ctx, const char *name, json_t *p,
                           const cp_vm_size **ret, cp_rule_error *e) {
        const char *vm = get_str(p, "vmSize");
        const cp_vm_size *size = cp_rules_find_size(r, vm);
        int k;
        if (!size)
                return cp_rule_fail(e, 400, "VMSizeNotSupported", "properties.vmSize",
                                    "The VM size of AgentPoolProfile:%s ('%s') is not allowed in location '%s'.", name,
                                    vm, ctx->location ? ctx->location : "");
        if ((k = set_str(p, "vmSize", size->name)) < 0)
                return k;
        const json_t *dsz = json_object_get(p, "osDiskSizeGB");
        if (json_integer_value(dsz) != 0 &&
            (json_integer_value(dsz) < 30 || json_integer_value(dsz) > 2048))
                return cp_rule_fail(e, 400, "InvalidParameter", "properties.osDiskSizeGB",
                                    "osDiskSizeGB must be 0 or in the range [30, 2048].");
        if (!json_object_get(p, "osDiskType"))
                if ((k = set_str(p, "osDiskType",
                                 size->temp_gib >= (unsigned) json_integer_value(dsz) ? "Ephemeral" : "Managed")) < 0)
                        return k;
        json_int_t mp = json_integer_value(json_object_get(p, "maxPods"));
        if (mp < 10 || mp > 250)
                return cp_rule_fail(e, 400, "InvalidParameter", "properties.maxPods",
                                    "maxPods must be in the range [10, 250].");
        *ret = size;
        return 0;
}

/* System pools (Linux, big enough, not Spot; the last one stays System),
 * counts, labels and taints. */
static int pool_check_mode(const cp_pool_context *ctx, const char *name, const cp_vm_size *size, json_t *p,
                           cp_rule_error *e) {
        const json_t *ex = ctx->existing;
        bool windows = strcmp(get_str(p, "osType"), "Windows") == 0;
        bool system = strcmp(get_str(p, "mode"), "System") == 0;
        int k;
        if (system) {
                if (windows)
                        return cp_rule_fail(e, 400, "SystemPoolMustBeLinux", "properties.mode",
                                            "System node pools must use the Linux OS type. Nodepool name: %s.", name);
                if (size->vcpus < 2 || size->mem_gib < 4)
                        return cp_rule_fail(e, 400, "SystemPoolVMSizeTooSmall", "properties.vmSize",
                                            "System node pool must use VM sku with more than 2 cores and 4GB memory. "
                                            "Nodepool name: %s.",
                                            name);
                if (strcmp(get_str(p, "scaleSetPriority"), "Spot") == 0)
                        return cp_rule_fail(e, 400, "SystemPoolSpotNotAllowed", "properties.scaleSetPriority",
                                            "System node pools cannot use Spot priority.");
        } else if (ex && strcmp(get_str(ex, "mode") ? get_str(ex, "mode") : "", "System") == 0 &&
                   ctx->other_system_pools == 0)
                return cp_rule_fail(e, 400, "MustDefineAtLeastOneSystemPool", "properties.mode",
                                    "Must define at least one system pool. Pool '%s' is the last System pool.", name);
        if ((k = validate_counts(p, system, e)) < 0)
                return k;
        return validate_labels_taints(p, e);
}

/* The Kubernetes version against the cluster's (no downgrade); *ret_kv the
 * resolved version, *ret_maj / *ret_min the requested one's. */
static int pool_check_version(const cp_rules *r, const cp_pool_context *ctx, json_t *p, const cp_k8s_version **ret_kv,
                              unsigned *ret_maj, unsigned *ret_min, cp_rule_error *e) {
        const json_t *ex = ctx->existing;
        unsigned cmaj, cmin, maj, min;
        int cpatch, patch, k;
        if (cp_k8s_parse(ctx->cluster_version, &cmaj, &cmin, &cpatch) < 0)
                return cp_rule_fail(e, 500, "InternalError", NULL, "cluster version is invalid");
        if ((k = set_default(p, "orchestratorVersion", json_string(ctx->cluster_version))) < 0)
                return k;
        const char *ov = get_str(p, "orchestratorVersion");
        const cp_k8s_version *kv = cp_rules_resolve_version(r, ov);
        if (cp_k8s_parse(ov, &maj, &min, &patch) < 0 || !kv) {
                cp_error_clear();
                return cp_rule_fail(e, 400, "AgentPoolK8sVersionNotSupported", "properties.orchestratorVersion",
                                    "Version %s is not supported in this region.", ov);
        }
        if (maj != cmaj || min > cmin || min + 2 < cmin ||
            (min == cmin && strcmp(kv->version, ctx->cluster_version) != 0 && patch >= 0 && patch > cpatch))
                return cp_rule_fail(e, 400, "AgentPoolK8sVersionNotSupported", "properties.orchestratorVersion",
                                    "Node pool version %s must be at most the control plane version %s and at most "
                                    "two minor versions older.",
                                    ov, ctx->cluster_version);
        if (ex) {
                unsigned emaj, emin;
                int epatch;
                const char *ev = get_str(ex, "currentOrchestratorVersion");
                if (ev && cp_k8s_parse(ev, &emaj, &emin, &epatch) >= 0 && (min < emin))
                        return cp_rule_fail(e, 400, "NotAllowedAgentPoolVersionDowngrade",
                                            "properties.orchestratorVersion",
                                            "Downgrading a node pool from %s to %s is not allowed.", ev, ov);
                if (ev && cp_k8s_parse(ev, &emaj, &emin, &epatch) >= 0 && min > emin + 1)
                        return cp_rule_fail(e, 400, "UpgradeVersionSkipNotAllowed", "properties.orchestratorVersion",
                                            "Upgrading a node pool from %s to %s skips a minor version: upgrade to "
                                            "%u.%u first.",
                                            ev, ov, emaj, emin + 1);
                cp_error_clear();
        }
        if ((k = set_str(p, "currentOrchestratorVersion", kv->version)) < 0)
                return k;
        *ret_kv = kv;
        *ret_maj = maj;
        *ret_min = min;
        return 0;
}

/* The OS image: confidential VM rules, the image for the SKU and version,
 * its preview feature, retired images (no new pools, no scaling). */
static int pool_check_image(const cp_rules *r, const cp_pool_context *ctx, const cp_vm_size *size, json_t *p,
                            unsigned maj, unsigned min, const cp_os_image **ret, cp_rule_error *e) {
        const json_t *ex = ctx->existing;
        const char *sku = get_str(p, "osSKU");
        bool cvm = size->tee != CP_TEE_NONE;
        int k;
        if (cvm && (k = validate_cvm(r, ctx, size, p, sku, min, e)) < 0)
                return k;
        if (!cvm && get_str(p, "workloadRuntime") && strcmp(get_str(p, "workloadRuntime"), "KataCcIsolation") == 0)
                return cp_rule_fail(e, 400, "WorkloadRuntimeRetired", "properties.workloadRuntime",
                                    "KataCcIsolation (Confidential Containers preview) was retired in March 2026.");
        const cp_os_image *img = cp_rules_image_for(r, sku, cvm, min);
        if (!img)
                return cp_rule_fail(e, 400, "OSSKUNotSupportedForVersion", "properties.osSKU",
                                    "OS SKU '%s' is not available for Kubernetes %u.%u.", sku, maj, min);
        if (img->feature[0]) {
                char feat[128];
                snprintf(feat, sizeof feat, "Microsoft.ContainerService/%s", img->feature);
                if (!ctx->feature_registered || !ctx->feature_registered(ctx->userdata, feat))
                        return cp_rule_fail(e, 400, "PreviewFeatureNotRegistered", "properties.osSKU",
                                            "Preview feature %s not registered.", feat);
        }
        if (is_retired(r, img)) {
                bool scaling = !ex || json_integer_value(json_object_get(ex, "count")) !=
                                              json_integer_value(json_object_get(p, "count"));
                if (scaling)
                        return cp_rule_fail(e, 400, "NodeOSRetired", ex ? "properties.count" : "properties.osSKU",
                                            "%s node images were retired on %s; node pools on it can no longer be "
                                            "created or scaled. Migrate with 'confpool aks nodepool update "
                                            "--os-sku %s'.",
                                            img->os_name, img->retired,
                                            img->migrate_to[0] ? img->migrate_to : "<supported SKU>");
        }
        *ret = img;
        return 0;
}

/* vCPU quota (the whole pool's vCPUs vs what is left). */
static int pool_check_quota(const cp_rules *r, const cp_pool_context *ctx, const cp_vm_size *size, const json_t *p,
                            cp_rule_error *e) {
        unsigned quota = cp_rules_vcpu_quota(r, ctx->location);
        unsigned long long want = (unsigned long long) json_integer_value(json_object_get(p, "count")) * size->vcpus;
        unsigned left = quota > ctx->vcpus_in_use ? quota - ctx->vcpus_in_use : 0;
        if (want > left)
                return cp_rule_fail(e, 400, "ErrCode_InsufficientVCPUQuota", "properties.count",
                                    "Insufficient regional vcpu quota left for location %s. left regional vcpu quota "
                                    "%u, requested quota %llu.",
                                    ctx->location ? ctx->location : "", left, want);
        return 0;
}

/* Node image version: keep the existing image unless the OS image changed. */
static int pool_set_image_version(const cp_rules *r, const json_t *ex, const cp_os_image *img, json_t *p) {
        char image[128];
        snprintf(image, sizeof image, "%s-%s-%s", img->gallery,
                 (r->legacy_spelling && img->cvm && strstr(img->definition, "gen2CVMcontainerd"))
                         ? (strstr(img->definition, "2004") ? "2004cvmcontainerd" : "2404cvmcontainerd")
                         : img->definition,
                 r->image_date);
        const char *old_img = ex ? get_str(ex, "nodeImageVersion") : NULL;
        cp_node_image a, b;
        if (old_img && cp_node_image_parse(old_img, &a) >= 0 && cp_node_image_parse(image, &b) >= 0 &&
            strcmp(a.gallery, b.gallery) == 0 && strcmp(a.definition, b.definition) == 0)
                snprintf(image, sizeof image, "%s", old_img);
        cp_error_clear();
        return set_str(p, "nodeImageVersion", image);
}

int cp_rules_validate_pool(const cp_rules *r, const cp_pool_context *ctx, const char *name, json_t *p,
                           cp_rule_error *e) {
        static const char *const ro[] = {"provisioningState", "currentOrchestratorVersion", "nodeImageVersion",
                                         "eTag", "status", "virtualMachineNodesStatus"};
        const cp_vm_size *size = NULL;
        const cp_k8s_version *kv = NULL;
        const cp_os_image *img = NULL;
        unsigned maj = 0, min = 0;
        int k;

        if (!json_is_object(p))
                return cp_rule_fail(e, 400, "InvalidParameter", "properties", "properties must be an object.");
        if (!cp_name_pool_ok(name))
                return cp_rule_fail(e, 400, "InvalidAgentPoolName", "name",
                                    "Agent pool name '%s' is invalid: 1-12 characters, lowercase letters and digits, "
                                    "starting with a letter.",
                                    name);
        for (size_t i = 0; i < CP_ELEMENTSOF(ro); i++)
                json_object_del(p, ro[i]);
        if ((k = pool_check_types(p, e)) < 0 ||
            (ctx->existing && (k = pool_check_immutable(r, ctx->existing, name, p, e)) < 0) ||
            (k = pool_apply_defaults(name, p, e)) < 0 || (k = pool_check_size(r, ctx, name, p, &size, e)) < 0 ||
            (k = pool_check_mode(ctx, name, size, p, e)) < 0 ||
            (k = pool_check_version(r, ctx, p, &kv, &maj, &min, e)) < 0 ||
            (k = pool_check_image(r, ctx, size, p, maj, min, &img, e)) < 0 ||
            (k = pool_check_quota(r, ctx, size, p, e)) < 0)
                return k;
        return pool_set_image_version(r, ctx->existing, img, p);
}

json_t *cp_rules_node_labels(const cp_rules *r, const char *pool, const json_t *p) {
        const cp_vm_size *size = cp_rules_find_size(r, get_str(p, "vmSize"));
        json_t *l = json_object();
        if (!l)
                return NULL;
        const json_t *user = json_object_get(p, "nodeLabels");
        if (json_is_object(user))
                json_object_update(l, (json_t *) user);
        const char *os = get_str(p, "osType");
        json_object_set_new(l, "kubernetes.azure.com/agentpool", json_string(pool));
        json_object_set_new(l, "kubernetes.azure.com/mode", json_string(get_str(p, "mode") ? get_str(p, "mode") : ""));
        json_object_set_new(l, "kubernetes.azure.com/role", json_string("agent"));
        json_object_set_new(l, "kubernetes.azure.com/os-sku", json_string(get_str(p, "osSKU") ? get_str(p, "osSKU") : ""));
        json_object_set_new(l, "kubernetes.azure.com/node-image-version",
                            json_string(get_str(p, "nodeImageVersion") ? get_str(p, "nodeImageVersion") : ""));
        json_object_set_new(l, "node.kubernetes.io/instance-type", json_string(size ? size->name : ""));
        json_object_set_new(l, "kubernetes.io/os", json_string(os && strcmp(os, "Windows") == 0 ? "windows" : "linux"));
        json_object_set_new(l, "kubernetes.io/arch", json_string(size && size->arm64 ? "arm64" : "amd64"));
        if (size && size->tee != CP_TEE_NONE) {
                json_object_set_new(l, "kubernetes.azure.com/security-type", json_string("ConfidentialVM"));
                json_object_set_new(l, "kubernetes.azure.com/confidential-tee", json_string(cp_tee_name(size->tee)));
        } else {
                const json_t *sec = json_object_get(p, "securityProfile");
                if (get_true(sec, "enableSecureBoot") || get_true(sec, "enableVTPM"))
                        json_object_set_new(l, "kubernetes.azure.com/security-type", json_string("TrustedLaunch"));
        }
        return l;
}
