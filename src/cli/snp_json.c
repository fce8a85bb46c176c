/* SPDX-License-Identifier: Apache-2.0 */
#include <inttypes.h>
#include <stdlib.h>

#include "basic/codec.h"
#include "basic/secure.h"
#include "cli/snp_json.h"

json_t *cp_snp_hex_json(const uint8_t *p, size_t n) {
        char *s = malloc(2 * n + 1);
        if (!s)
                return NULL;
        cp_hex_encode(p, n, s);
        json_t *j = json_string(s);
        free(s);
        return j;
}

static json_t *hex64(uint64_t v) {
        char s[24];
        snprintf(s, sizeof(s), "0x%" PRIx64, v);
        return json_string(s);
}

json_t *cp_snp_tcb_to_json(uint64_t raw, cp_snp_generation gen) {
        char s[24];
        snprintf(s, sizeof(s), "%016" PRIx64, raw);
        json_t *o = json_pack("{s:s}", "raw", s);
        cp_snp_tcb t;
        if (gen != CP_SNP_GEN_UNKNOWN && cp_snp_tcb_decode(raw, gen, &t) == 0) {
                json_object_set_new(o, "bl", json_integer(t.bl));
                json_object_set_new(o, "tee", json_integer(t.tee));
                json_object_set_new(o, "snp", json_integer(t.snp));
                json_object_set_new(o, "ucode", json_integer(t.ucode));
                if (t.has_fmc)
                        json_object_set_new(o, "fmc", json_integer(t.fmc));
        } else if (gen != CP_SNP_GEN_UNKNOWN) {
                cp_error_clear();
                json_object_set_new(o, "error", json_string("reserved TCB bytes set for this generation"));
        }
        return o;
}

static json_t *policy_json(uint64_t p) {
        char abi[16];
        snprintf(abi, sizeof(abi), "%u.%u", CP_SNP_POLICY_ABI_MAJOR(p), CP_SNP_POLICY_ABI_MINOR(p));
        return json_pack("{s:o,s:s,s:b,s:b,s:b,s:b,s:b,s:b,s:b,s:b,s:b}", "raw", hex64(p), "abi_min", abi, "smt",
                         (p & CP_SNP_POLICY_SMT) != 0, "migrate_ma", (p & CP_SNP_POLICY_MIGRATE_MA) != 0, "debug",
                         (p & CP_SNP_POLICY_DEBUG) != 0, "single_socket", (p & CP_SNP_POLICY_SINGLE_SOCKET) != 0,
                         "cxl_allow", (p & CP_SNP_POLICY_CXL_ALLOW) != 0, "mem_aes_256_xts",
                         (p & CP_SNP_POLICY_MEM_AES_256_XTS) != 0, "rapl_dis", (p & CP_SNP_POLICY_RAPL_DIS) != 0,
                         "ciphertext_hiding", (p & CP_SNP_POLICY_CIPHERTEXT_HIDING) != 0, "page_swap_disable",
                         (p & CP_SNP_POLICY_PAGE_SWAP_DISABLE) != 0);
}

static json_t *platform_json(const cp_snp_report *r) {
        uint64_t p = r->platform_info;
        return json_pack("{s:o,s:b,s:b,s:b,s:b,s:b,s:b,s:b,s:o}", "raw", hex64(p), "smt_en",
                         (p & CP_SNP_PLATFORM_SMT_EN) != 0, "tsme_en", (p & CP_SNP_PLATFORM_TSME_EN) != 0, "ecc_en",
                         (p & CP_SNP_PLATFORM_ECC_EN) != 0, "rapl_dis", (p & CP_SNP_PLATFORM_RAPL_DIS) != 0,
                         "ciphertext_hiding_en", (p & CP_SNP_PLATFORM_CIPHERTEXT_HIDING) != 0,
                         "alias_check_complete", (p & CP_SNP_PLATFORM_ALIAS_CHECK_DONE) != 0, "tio_en",
                         (p & CP_SNP_PLATFORM_TIO_EN) != 0, "unknown_bits", hex64(r->unknown_platform_info_bits));
}

static const char *signing_key_name(uint8_t k) {
        switch (k) {
        case CP_SNP_SIGNING_KEY_VCEK:
                return "VCEK";
        case CP_SNP_SIGNING_KEY_VLEK:
                return "VLEK";
        case CP_SNP_SIGNING_KEY_NONE:
                return "none";
        default:
                return "reserved";
        }
}

json_t *cp_snp_report_to_json(const cp_snp_report *r, cp_snp_generation gen) {
        char ver[16], cver[16];
        snprintf(ver, sizeof(ver), "%u.%u.%u", r->current_major, r->current_minor, r->current_build);
        snprintf(cver, sizeof(cver), "%u.%u.%u", r->committed_major, r->committed_minor, r->committed_build);
        json_t *o = json_object();
        json_object_set_new(o, "version", json_integer(r->version));
        json_object_set_new(o, "guest_svn", json_integer(r->guest_svn));
        json_object_set_new(o, "policy", policy_json(r->policy));
        json_object_set_new(o, "family_id", cp_snp_hex_json(r->family_id, 16));
        json_object_set_new(o, "image_id", cp_snp_hex_json(r->image_id, 16));
        json_object_set_new(o, "vmpl", json_integer(r->vmpl));
        json_object_set_new(o, "signature_algo", json_integer(r->signature_algo));
        json_object_set_new(o, "current_tcb", cp_snp_tcb_to_json(r->current_tcb, gen));
        json_object_set_new(o, "platform_info", platform_json(r));
        json_object_set_new(o, "signer_info",
                            json_pack("{s:b,s:b,s:s}", "author_key_en", r->author_key_en, "mask_chip_key",
                                      r->mask_chip_key, "signing_key", signing_key_name(r->signing_key)));
        json_object_set_new(o, "report_data", cp_snp_hex_json(r->report_data, 64));
        json_object_set_new(o, "measurement", cp_snp_hex_json(r->measurement, 48));
        json_object_set_new(o, "host_data", cp_snp_hex_json(r->host_data, 32));
        json_object_set_new(o, "id_key_digest", cp_snp_hex_json(r->id_key_digest, 48));
        json_object_set_new(o, "author_key_digest", cp_snp_hex_json(r->author_key_digest, 48));
        json_object_set_new(o, "report_id", cp_snp_hex_json(r->report_id, 32));
        json_object_set_new(o, "report_id_ma", cp_snp_hex_json(r->report_id_ma, 32));
        json_object_set_new(o, "reported_tcb", cp_snp_tcb_to_json(r->reported_tcb, gen));
        if (r->has_cpuid)
                json_object_set_new(o, "cpuid",
                                    json_pack("{s:i,s:i,s:i,s:s}", "family", r->cpuid_fam_id, "model",
                                              r->cpuid_mod_id, "stepping", r->cpuid_step, "generation",
                                              cp_snp_generation_name(r->cpuid_generation)));
        json_object_set_new(o, "chip_id", cp_snp_hex_json(r->chip_id, 64));
        json_object_set_new(o, "committed_tcb", cp_snp_tcb_to_json(r->committed_tcb, gen));
        json_object_set_new(o, "current_version", json_string(ver));
        json_object_set_new(o, "committed_version", json_string(cver));
        json_object_set_new(o, "launch_tcb", cp_snp_tcb_to_json(r->launch_tcb, gen));
        if (r->has_mit_vectors) {
                json_object_set_new(o, "launch_mit_vector", hex64(r->launch_mit_vector));
                json_object_set_new(o, "current_mit_vector", hex64(r->current_mit_vector));
        }
        json_object_set_new(o, "generation", json_string(cp_snp_generation_name(gen)));
        return o;
}

static void print_hex(FILE *f, const char *name, const uint8_t *p, size_t n) {
        char buf[129];
        fprintf(f, "  %-20s ", name);
        if (cp_ct_is_zero(p, n)) {
                fprintf(f, "(zero)\n");
                return;
        }
        for (size_t off = 0; off < n; off += 32) {
                size_t k = n - off < 32 ? n - off : 32;
                cp_hex_encode(p + off, k, buf);
                fprintf(f, "%s%s\n", off ? "                       " : "", buf);
        }
}

static void print_tcb(FILE *f, const char *name, uint64_t raw, cp_snp_generation gen) {
        cp_snp_tcb t;
        fprintf(f, "  %-20s %016" PRIx64, name, raw);
        if (gen != CP_SNP_GEN_UNKNOWN && cp_snp_tcb_decode(raw, gen, &t) == 0) {
                fprintf(f, "  (bl %u, tee %u, snp %u, ucode %u", t.bl, t.tee, t.snp, t.ucode);
                if (t.has_fmc)
                        fprintf(f, ", fmc %u", t.fmc);
                fprintf(f, ")");
        } else
                cp_error_clear();
        fputc('\n', f);
}

void cp_snp_report_print(FILE *f, const cp_snp_report *r, cp_snp_generation gen) {
        fprintf(f, "SEV-SNP attestation report\n");
        fprintf(f, "  %-20s %u\n", "version", r->version);
        fprintf(f, "  %-20s %s\n", "generation", cp_snp_generation_name(gen));
        if (r->has_cpuid)
                fprintf(f, "  %-20s family 0x%02x model 0x%02x stepping 0x%02x\n", "cpuid", r->cpuid_fam_id,
                        r->cpuid_mod_id, r->cpuid_step);
        fprintf(f, "  %-20s %u\n", "guest_svn", r->guest_svn);
        fprintf(f, "  %-20s 0x%" PRIx64 " (abi >= %u.%u%s%s%s%s%s)\n", "policy", r->policy,
                CP_SNP_POLICY_ABI_MAJOR(r->policy), CP_SNP_POLICY_ABI_MINOR(r->policy),
                r->policy & CP_SNP_POLICY_SMT ? ", smt" : "", r->policy & CP_SNP_POLICY_MIGRATE_MA ? ", migrate-ma" : "",
                r->policy & CP_SNP_POLICY_DEBUG ? ", DEBUG" : "",
                r->policy & CP_SNP_POLICY_SINGLE_SOCKET ? ", single-socket" : "",
                r->policy & CP_SNP_POLICY_CXL_ALLOW ? ", cxl" : "");
        fprintf(f, "  %-20s %u\n", "vmpl", r->vmpl);
        fprintf(f, "  %-20s %s%s%s\n", "signing key", signing_key_name(r->signing_key),
                r->author_key_en ? ", author key" : "", r->mask_chip_key ? ", chip key masked" : "");
        fprintf(f, "  %-20s 0x%" PRIx64 "%s\n", "platform_info", r->platform_info,
                r->unknown_platform_info_bits ? " (has unknown bits)" : "");
        print_hex(f, "measurement", r->measurement, 48);
        print_hex(f, "report_data", r->report_data, 64);
        print_hex(f, "host_data", r->host_data, 32);
        print_hex(f, "family_id", r->family_id, 16);
        print_hex(f, "image_id", r->image_id, 16);
        print_hex(f, "id_key_digest", r->id_key_digest, 48);
        print_hex(f, "author_key_digest", r->author_key_digest, 48);
        print_hex(f, "report_id", r->report_id, 32);
        print_hex(f, "chip_id", r->chip_id, 64);
        print_tcb(f, "current_tcb", r->current_tcb, gen);
        print_tcb(f, "reported_tcb", r->reported_tcb, gen);
        print_tcb(f, "committed_tcb", r->committed_tcb, gen);
        print_tcb(f, "launch_tcb", r->launch_tcb, gen);
        fprintf(f, "  %-20s %u.%u.%u (committed %u.%u.%u)\n", "firmware", r->current_major, r->current_minor,
                r->current_build, r->committed_major, r->committed_minor, r->committed_build);
        if (r->has_mit_vectors)
                fprintf(f, "  %-20s launch 0x%" PRIx64 ", current 0x%" PRIx64 "\n", "mitigation vectors",
                        r->launch_mit_vector, r->current_mit_vector);
}
