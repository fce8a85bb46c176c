/* SPDX-License-Identifier: Apache-2.0 */
/* confpool-attestd over HTTP on loopback with the real Azure vTPM evidence
 * from Trustee's test data. */
#include <fcntl.h>
#include <signal.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "attestd/attestd-internal.h"
#include "attestd/attestd.h"
#include "basic/cleanup.h"
#include "basic/codec.h"
#include "basic/fileio.h"
#include "confpool/azure.h"
#include "confpool/maa_policy.h"
#include "confpool/snp_report.h"
#include "confpool/tcg_eventlog.h"
#include "basic/limits.h"
#include "basic/json-depth.h"
#include "emu/amdsp.h"
#include "service/httpc.h"
#include "service/httpd.h"
#include "tests.h"

#define NOW INT64_C(1748736000) /* 2025-06-01, inside the VCEKs' validity */
#define TRUSTEE "snp/confidential-containers__trustee/az-snp-vtpm/"
#define ADMIN "s3cret-admin"

static cp_attestd *start(void) {
        cp_attestd_config cfg = { .now = NOW, .quiet = true, .admin_token = ADMIN, .threads = 2 };
        cp_attestd *s = NULL;
        ASSERT_OK(cp_attestd_new(&cfg, &s));
        ASSERT_OK(cp_attestd_start(s));
        return s;
}

static json_t *call(cp_attestd *s, const char *method, const char *path, const char *body, long *ret_status,
                    const char *bearer) {
        char url[512];
        cp_httpc_options o = { .timeout_ms = 20000, .bearer = bearer };
        cp_httpc_response r = { 0 };
        /* the data-plane routes require an api-version (the others ignore it) */
        snprintf(url, sizeof(url), "http://127.0.0.1:%u%s%s", (unsigned) cp_attestd_port(s), path,
                 strchr(path, '?') ? "" : "?api-version=2022-08-01");
        ASSERT_OK(cp_httpc_request(&o, method, url, NULL, body, body ? strlen(body) : 0, &r));
        *ret_status = r.status;
        json_t *j = json_loadb((const char *) r.body, r.body_len, 0, NULL);
        if (!j)
                j = json_string((const char *) r.body); /* text responses (metrics) */
        cp_httpc_response_clear(&r);
        return j;
}

static char *b64url(const void *p, size_t n) {
        char *s = malloc(cp_b64_encoded_len(n, CP_B64_URL) + 1);
        cp_b64_encode(p, n, CP_B64_URL, s);
        return s;
}

static json_t *load_json(const char *rel) {
        size_t len;
        uint8_t *b = cp_test_read(rel, &len);
        json_t *j = json_loadb((const char *) b, len, 0, NULL);
        ASSERT_TRUE(j);
        free(b);
        return j;
}

typedef struct ev_case {
        const char *file;
        const char *nonce_hex; /* NULL: the text "challenge" */
} ev_case;

static const ev_case cases[] = {
        { TRUSTEE "evidence-v0.json", NULL },
        { TRUSTEE "evidence-v1.json", NULL },
        { TRUSTEE "evidence-v2.json",
          "982f5c6e45df0ed3f10b6f60b02f0c8390e281300f3805e2279c16168cd6ae9aa398f647caa2338748cd0fd9f5f819ef" },
        { TRUSTEE "evidence-genoa.json",
          "0218488bae25d2509232bf676f1a66a30d7372add909109b36016ef136f2938ca05475f8b46094de6b64270ea35d950f" },
};

static char *nonce_of(const ev_case *c) {
        uint8_t n[64];
        size_t len = 9;
        if (!c->nonce_hex)
                memcpy(n, "challenge", 9);
        else
                ASSERT_OK(cp_hex_decode(c->nonce_hex, strlen(c->nonce_hex), n, sizeof(n), &len));
        return b64url(n, len);
}

static char *vtpm_body(json_t *evidence, const char *nonce) {
        json_t *b = json_pack("{s:O,s:s}", "evidence", evidence, "nonce", nonce);
        char *s = json_dumps(b, JSON_COMPACT);
        json_decref(b);
        return s;
}

static cp_jwt *validate_algs(cp_attestd *s, const char *token, unsigned algs) {
        long st;
        json_t *oid = call(s, "GET", "/.well-known/openid-configuration", NULL, &st, NULL);
        ASSERT_EQ(st, 200);
        json_t *jwks = call(s, "GET", "/certs", NULL, &st, NULL);
        ASSERT_EQ(st, 200);
        char *txt = json_dumps(jwks, 0);
        cp_jwks *set = NULL;
        ASSERT_OK(cp_jwks_parse(txt, strlen(txt), &set));
        cp_jwt_validate_options o = CP_JWT_VALIDATE_OPTIONS_INIT;
        o.jwks = set;
        o.issuer = json_string_value(json_object_get(oid, "issuer"));
        o.now = NOW + 1;
        o.algs = algs;
        cp_jwt *t = NULL;
        ASSERT_OK(cp_jwt_validate(token, strlen(token), &o, &t));
        cp_jwks_free(set);
        free(txt);
        json_decref(jwks);
        json_decref(oid);
        return t;
}

static cp_jwt *validate(cp_attestd *s, const char *token) {
        return validate_algs(s, token, CP_JWT_RS256);
}

static const char *claim_s(const cp_jwt *t, const char *name) {
        return json_string_value(json_object_get(cp_jwt_claims(t), name));
}

/* Every x-ms-sevsnpvm-* claim against the report's own bytes, read at the
 * offsets of the SEV-SNP ABI's ATTESTATION_REPORT (AMD 56860, table 22)
 * here, not through the parser under test; and no such claim is left
 * unchecked (issue 20 item 7). */
static uint64_t le_at(const uint8_t *rep, size_t off, size_t n) {
        uint64_t v = 0;
        for (size_t i = n; i-- > 0;)
                v = v << 8 | rep[off + i];
        return v;
}

static void check_snp_claims(const json_t *c, const uint8_t *rep) {
        static const struct {
                const char *name;
                size_t off, len;
        } hexes[] = {
                {"familyId", 0x10, 16},         {"imageId", 0x20, 16},        {"reportdata", 0x50, 64},
                {"launchmeasurement", 0x90, 48}, {"hostdata", 0xC0, 32},      {"idkeydigest", 0xE0, 48},
                {"authorkeydigest", 0x110, 48}, {"reportid", 0x140, 32},
        };
        uint64_t policy = le_at(rep, 0x08, 8);
        const uint8_t *tcb = rep + 0x180; /* REPORTED_TCB: bl, tee, 4 reserved, snp, ucode */
        const struct {
                const char *name;
                int64_t v;
        } ints[] = {
                {"guestsvn", (int64_t) le_at(rep, 0x04, 4)}, {"vmpl", (int64_t) le_at(rep, 0x30, 4)},
                {"bootloader-svn", tcb[0]}, {"tee-svn", tcb[1]}, {"snpfw-svn", tcb[6]}, {"microcode-svn", tcb[7]},
        };
        const struct {
                const char *name;
                bool v;
        } bools[] = {
                {"smt-allowed", (policy >> 16) & 1},
                {"migration-allowed", (policy >> 18) & 1},
                {"is-debuggable", (policy >> 19) & 1},
        };
        char n[64], hex[129];
        size_t checked = 0;
        for (size_t k = 0; k < CP_ELEMENTSOF(hexes); k++, checked++) {
                snprintf(n, sizeof n, "x-ms-sevsnpvm-%s", hexes[k].name);
                cp_hex_encode(rep + hexes[k].off, hexes[k].len, hex);
                const char *got = json_string_value(json_object_get(c, n));
                if (!got || strcmp(got, hex) != 0)
                        cp_test_fail(__FILE__, __LINE__, "%s: claim %s, report %s", n, got ? got : "(none)", hex);
        }
        for (size_t k = 0; k < CP_ELEMENTSOF(ints); k++, checked++) {
                snprintf(n, sizeof n, "x-ms-sevsnpvm-%s", ints[k].name);
                const json_t *v = json_object_get(c, n);
                if (!json_is_integer(v) || json_integer_value(v) != ints[k].v)
                        cp_test_fail(__FILE__, __LINE__, "%s: claim %lld, report %lld", n,
                                     (long long) json_integer_value(v), (long long) ints[k].v);
        }
        for (size_t k = 0; k < CP_ELEMENTSOF(bools); k++, checked++) {
                snprintf(n, sizeof n, "x-ms-sevsnpvm-%s", bools[k].name);
                const json_t *v = json_object_get(c, n);
                if (!json_is_boolean(v) || json_is_true(v) != bools[k].v)
                        cp_test_fail(__FILE__, __LINE__, "%s: claim is not the report's %s", n,
                                     bools[k].v ? "true" : "false");
        }
        /* nothing else under the prefix went unchecked */
        const char *key;
        const json_t *v;
        size_t present = 0;
        json_object_foreach((json_t *) c, key, v) present += !strncmp(key, "x-ms-sevsnpvm-", 14);
        ASSERT_EQ(present, checked);
}

/* The SNP report inside an Azure vTPM evidence file's HCL report: base64
 * "hcl_report" (v1, v2) or a byte array "report" (v0, genoa). */
static uint8_t *evidence_snp_report(const json_t *ev, uint8_t **ret_hcl) {
        const char *b = json_string_value(json_object_get(ev, "hcl_report"));
        const json_t *arr = json_object_get(ev, "report");
        size_t cap = b ? cp_b64_decoded_max(strlen(b)) : json_array_size(arr), len = 0;
        ASSERT_TRUE(cap > 0);
        uint8_t *hcl = malloc(cap);
        if (b)
                ASSERT_OK(cp_b64_decode(b, strlen(b), CP_B64_ANY, hcl, cap, &len));
        else
                for (; len < cap; len++)
                        hcl[len] = (uint8_t) json_integer_value(json_array_get(arr, len));
        ASSERT_TRUE(len >= 0x20 + CP_SNP_REPORT_SIZE);
        *ret_hcl = hcl;
        return hcl + 0x20; /* the hardware report follows the HCL header */
}

TEST(azure_vtpm_evidence_attests_with_maa_claims) {
        cp_attestd *s = start();
        for (size_t i = 0; i < CP_ELEMENTSOF(cases); i++) {
                json_t *ev = load_json(cases[i].file);
                char *nonce = nonce_of(&cases[i]), *body = vtpm_body(ev, nonce);
                long st;
                json_t *resp = call(s, "POST", "/attest/AzureSnpVtpm?api-version=2022-08-01", body, &st, NULL);
                if (st != 200)
                        cp_test_fail(__FILE__, __LINE__, "%s: %ld %s", cases[i].file, st, json_dumps(resp, 0));
                cp_jwt *t = validate(s, json_string_value(json_object_get(resp, "token")));
                const json_t *c = cp_jwt_claims(t);
                ASSERT_STREQ(claim_s(t, "x-ms-attestation-type"), "sevsnpvm");
                ASSERT_STREQ(claim_s(t, "x-ms-compliance-status"), "azure-compliant-cvm");
                ASSERT_STREQ(claim_s(t, "x-ms-ver"), "1.0");
                ASSERT_STREQ(claim_s(t, "nonce"), nonce);
                ASSERT_EQ(json_integer_value(json_object_get(c, "x-ms-sevsnpvm-vmpl")), 0);
                ASSERT_TRUE(json_is_false(json_object_get(c, "x-ms-sevsnpvm-is-debuggable")));
                ASSERT_TRUE(json_is_false(json_object_get(c, "x-ms-sevsnpvm-migration-allowed")));
                ASSERT_TRUE(json_is_true(json_object_get(c, "x-ms-sevsnpvm-smt-allowed")));
                static const char *names[] = { "authorkeydigest", "familyId", "hostdata", "idkeydigest", "imageId",
                                               "launchmeasurement", "reportdata", "reportid" };
                for (size_t k = 0; k < CP_ELEMENTSOF(names); k++) {
                        char n[64];
                        snprintf(n, sizeof(n), "x-ms-sevsnpvm-%s", names[k]);
                        ASSERT_TRUE(claim_s(t, n) != NULL);
                }
                static const char *ints[] = { "bootloader-svn", "guestsvn", "microcode-svn", "snpfw-svn", "tee-svn" };
                for (size_t k = 0; k < CP_ELEMENTSOF(ints); k++) {
                        char n[64];
                        snprintf(n, sizeof(n), "x-ms-sevsnpvm-%s", ints[k]);
                        ASSERT_TRUE(json_is_integer(json_object_get(c, n)));
                }
                ASSERT_EQ(strlen(claim_s(t, "x-ms-sevsnpvm-launchmeasurement")), 96);
                uint8_t *hcl = NULL;
                check_snp_claims(c, evidence_snp_report(ev, &hcl));
                free(hcl);
                /* the runtime data with the vTPM AK */
                const json_t *keys = json_object_get(json_object_get(c, "x-ms-runtime"), "keys");
                ASSERT_TRUE(json_array_size(keys) >= 1);
                ASSERT_STREQ(json_string_value(json_object_get(json_array_get(keys, 0), "kid")), "HCLAkPub");
                ASSERT_TRUE(json_array_size(json_object_get(c, "x-ms-azurevm-attested-pcrs")) > 0);
                /* policy hash of the default policy */
                ASSERT_EQ(strlen(claim_s(t, "x-ms-policy-hash")), 43);
                ASSERT_TRUE(json_integer_value(json_object_get(c, "exp")) - json_integer_value(json_object_get(c, "iat")) ==
                            28800);
                cp_jwt_free(t);
                json_decref(resp);
                free(body);
                free(nonce);
                json_decref(ev);
        }
        /* the same evidence again is warm: no new report verification */
        long st;
        json_t *m = call(s, "GET", "/metrics", NULL, &st, NULL);
        ASSERT_TRUE(strstr(json_string_value(m), "attestd_report_cache_hits_total 0") != NULL);
        json_decref(m);
        json_t *ev = load_json(cases[1].file);
        char *nonce = nonce_of(&cases[1]), *body = vtpm_body(ev, nonce);
        json_t *resp = call(s, "POST", "/attest/AzureSnpVtpm", body, &st, NULL);
        ASSERT_EQ(st, 200);
        json_decref(resp);
        m = call(s, "GET", "/metrics", NULL, &st, NULL);
        ASSERT_TRUE(strstr(json_string_value(m), "attestd_report_cache_hits_total 1") != NULL);
        ASSERT_TRUE(strstr(json_string_value(m), "attestd_attestations_total{type=\"AzureSnpVtpm\",result=\"success\"} 5") !=
                    NULL);
        json_decref(m);
        free(body);
        free(nonce);
        json_decref(ev);
        cp_attestd_free(s);
}

/* Apply f to a copy of the v1 evidence; expect a 400 with reason. */
static void expect_refused(cp_attestd *s, json_t *ev, const char *nonce, const char *reason) {
        char *body = vtpm_body(ev, nonce);
        long st;
        json_t *resp = call(s, "POST", "/attest/AzureSnpVtpm", body, &st, NULL);
        const char *msg = json_string_value(json_object_get(json_object_get(resp, "error"), "message"));
        if (st != 400 || !msg || !strstr(msg, reason))
                cp_test_fail(__FILE__, __LINE__, "expected 400 with %s, got %ld %s", reason, st, json_dumps(resp, 0));
        json_decref(resp);
        free(body);
}

static void flip_hex(json_t *obj, const char *member, size_t pos) {
        char *s = strdup(json_string_value(json_object_get(obj, member)));
        s[pos] = s[pos] == '0' ? '1' : '0';
        json_object_set_new(obj, member, json_string(s));
        free(s);
}

TEST(tampering_is_refused_with_a_reason) {
        cp_attestd *s = start();
        json_t *orig = load_json(cases[1].file);
        char *nonce = nonce_of(&cases[1]);
        json_t *ev;
        long st0;
        /* attest once first: every case below then also runs against a warm
         * report cache, which must not mask any check */
        char *good = vtpm_body(orig, nonce);
        json_t *g = call(s, "POST", "/attest/AzureSnpVtpm", good, &st0, NULL);
        ASSERT_EQ(st0, 200);
        json_decref(g);
        free(good);
        /* quote message: signature no longer verifies */
        ev = json_deep_copy(orig);
        flip_hex(json_object_get(ev, "tpm_quote"), "message", 100);
        expect_refused(s, ev, nonce, "CP_ESIG");
        json_decref(ev);
        /* quote signature */
        ev = json_deep_copy(orig);
        flip_hex(json_object_get(ev, "tpm_quote"), "signature", 10);
        expect_refused(s, ev, nonce, "CP_ESIG");
        json_decref(ev);
        /* a PCR value */
        ev = json_deep_copy(orig);
        json_t *pcrs = json_object_get(json_object_get(ev, "tpm_quote"), "pcrs");
        char *p = strdup(json_string_value(json_array_get(pcrs, 0)));
        p[0] = p[0] == 'a' ? 'b' : 'a';
        json_array_set_new(pcrs, 0, json_string(p));
        free(p);
        expect_refused(s, ev, nonce, "CP_EBINDING");
        json_decref(ev);
        /* the nonce */
        char *bad = b64url("challengf", 9);
        expect_refused(s, orig, bad, "CP_EBINDING");
        free(bad);
        /* HCL report: the SNP report (measurement) and the runtime data */
        const char *h = json_string_value(json_object_get(orig, "hcl_report"));
        size_t hl = strlen(h), n;
        uint8_t *hcl = malloc(hl);
        ASSERT_OK(cp_b64_decode(h, hl, CP_B64_URL_PADOPT, hcl, hl, &n));
        const size_t offs[] = { 0x20 + 0x90 /* MEASUREMENT */, 0x4D4 + 40 /* runtime data JSON */ };
        const char *reasons[] = { "CP_ESIG", "runtime data" };
        for (size_t k = 0; k < 2; k++) {
                hcl[offs[k]] ^= 0x01;
                char *e = b64url(hcl, n);
                ev = json_deep_copy(orig);
                json_object_set_new(ev, "hcl_report", json_string(e));
                expect_refused(s, ev, nonce, reasons[k]);
                json_decref(ev);
                free(e);
                hcl[offs[k]] ^= 0x01;
        }
        free(hcl);
        /* malformed requests: unknown member, wrong types, bad JSON, deep JSON, bad version */
        long st;
        json_t *r = call(s, "POST", "/attest/AzureSnpVtpm", "{\"evidence\":{},\"nonce\":\"YQ\",\"x\":1}", &st, NULL);
        ASSERT_EQ(st, 400);
        ASSERT_STREQ(json_string_value(json_object_get(json_object_get(r, "error"), "code")), "InvalidParameter");
        json_decref(r);
        r = call(s, "POST", "/attest/AzureSnpVtpm", "{\"evidence\":[],\"nonce\":\"YQ\"}", &st, NULL);
        ASSERT_EQ(st, 400);
        json_decref(r);
        r = call(s, "POST", "/attest/AzureSnpVtpm", "{\"evidence\":{},\"nonce\":5}", &st, NULL);
        ASSERT_EQ(st, 400);
        json_decref(r);
        r = call(s, "POST", "/attest/AzureSnpVtpm", "{\"evidence\":", &st, NULL);
        ASSERT_EQ(st, 400);
        json_decref(r);
        char deep[200];
        memset(deep, '[', sizeof(deep) - 1);
        deep[sizeof(deep) - 1] = '\0';
        r = call(s, "POST", "/attest/SevSnpVm", deep, &st, NULL);
        ASSERT_EQ(st, 400);
        json_decref(r);
        ev = json_deep_copy(orig);
        json_object_set_new(ev, "version", json_integer(7));
        expect_refused(s, ev, nonce, "version");
        json_decref(ev);
        /* oversized body */
        char *big = malloc(2u << 20);
        memset(big, ' ', (2u << 20) - 1);
        big[(2u << 20) - 1] = '\0';
        r = call(s, "POST", "/attest/SevSnpVm", big, &st, NULL);
        ASSERT_EQ(st, 413);
        json_decref(r);
        free(big);
        /* unknown endpoint / method */
        r = call(s, "GET", "/attest/SevSnpVm", NULL, &st, NULL);
        ASSERT_EQ(st, 405);
        json_decref(r);
        r = call(s, "POST", "/attest/Sgx", "{}", &st, NULL);
        ASSERT_EQ(st, 404);
        json_decref(r);
        free(nonce);
        json_decref(orig);
        cp_attestd_free(s);
}

/* The MAA SevSnpVm request built from the v1 evidence's HCL report. */
static char *maa_request(const char *nonce, const char *runtime_override, const char *init_data, const char *draft) {
        size_t hl, vl;
        uint8_t *h = cp_test_read(TRUSTEE "evidence-v1.hcl-report.bin", &hl);
        uint8_t *vcek = cp_test_read(TRUSTEE "evidence-v1.vcek.der", &vl);
        cp_hcl_report hcl;
        ASSERT_OK(cp_hcl_report_parse(h, hl, &hcl));
        char *rep = b64url(hcl.hw_report, hcl.hw_report_len), *chain = b64url(vcek, vl);
        json_t *inner = json_pack("{s:s,s:s}", "SnpReport", rep, "VcekCertChain", chain);
        char *inner_s = json_dumps(inner, JSON_COMPACT), *inner_b = b64url(inner_s, strlen(inner_s));
        char *rt = runtime_override ? b64url(runtime_override, strlen(runtime_override))
                                    : b64url(hcl.runtime_data, hcl.runtime_data_len);
        json_t *b = json_pack("{s:s,s:{s:s,s:s},s:s}", "report", inner_b, "runtimeData", "data", rt, "dataType", "JSON",
                              "nonce", nonce);
        if (init_data) {
                char *it = b64url(init_data, strlen(init_data));
                json_object_set_new(b, "initTimeData", json_pack("{s:s,s:s}", "data", it, "dataType", "Binary"));
                free(it);
        }
        if (draft)
                json_object_set_new(b, "draftPolicyForAttestation", json_string(draft));
        char *out = json_dumps(b, JSON_COMPACT);
        json_decref(b);
        json_decref(inner);
        free(inner_s);
        free(inner_b);
        free(rep);
        free(chain);
        free(rt);
        free(h);
        free(vcek);
        return out;
}

TEST(maa_sevsnpvm_request) {
        cp_attestd *s = start();
        long st;
        char *body = maa_request("noncesevsnp987", NULL, NULL, NULL);
        json_t *r = call(s, "POST", "/attest/SevSnpVm?api-version=2022-08-01", body, &st, NULL);
        if (st != 200)
                cp_test_fail(__FILE__, __LINE__, "%ld %s", st, json_dumps(r, 0));
        cp_jwt *t = validate(s, json_string_value(json_object_get(r, "token")));
        ASSERT_STREQ(claim_s(t, "nonce"), "noncesevsnp987");
        ASSERT_STREQ(claim_s(t, "x-ms-attestation-type"), "sevsnpvm");
        ASSERT_TRUE(json_is_object(json_object_get(cp_jwt_claims(t), "x-ms-runtime")));
        {
                size_t hl;
                uint8_t *h = cp_test_read(TRUSTEE "evidence-v1.hcl-report.bin", &hl);
                ASSERT_TRUE(hl >= 0x20 + CP_SNP_REPORT_SIZE);
                check_snp_claims(cp_jwt_claims(t), h + 0x20);
                free(h);
        }
        cp_jwt_free(t);
        json_decref(r);
        free(body);
        /* runtime data that REPORT_DATA does not bind */
        body = maa_request("n", "{\"keys\":[]}", NULL, NULL);
        r = call(s, "POST", "/attest/SevSnpVm", body, &st, NULL);
        ASSERT_EQ(st, 400);
        ASSERT_TRUE(strstr(json_string_value(json_object_get(json_object_get(r, "error"), "message")), "CP_EBINDING"));
        json_decref(r);
        free(body);
        /* init-time data that HOST_DATA does not bind */
        body = maa_request("n", NULL, "init", NULL);
        r = call(s, "POST", "/attest/SevSnpVm", body, &st, NULL);
        ASSERT_EQ(st, 400);
        ASSERT_TRUE(strstr(json_string_value(json_object_get(json_object_get(r, "error"), "message")), "HOST_DATA"));
        json_decref(r);
        free(body);
        /* draft policy: evaluated, token unsigned (alg none) */
        body = maa_request("n", NULL, NULL,
                           "version=1.0; authorizationrules { => permit(); }; issuancerules { "
                           "c:[type==\"x-ms-sevsnpvm-snpfw-svn\"] => issue(type=\"fw\", value=c.value); };");
        r = call(s, "POST", "/attest/SevSnpVm", body, &st, NULL);
        ASSERT_EQ(st, 200);
        const char *tok = json_string_value(json_object_get(r, "token"));
        uint8_t *pl = NULL;
        size_t pll;
        ASSERT_OK(cp_jws_decode_unsecured(tok, strlen(tok), &pl, &pll));
        json_t *pj = json_loadb((const char *) pl, pll, 0, NULL);
        ASSERT_EQ(json_integer_value(json_object_get(pj, "fw")), 24);
        json_decref(pj);
        free(pl);
        json_decref(r);
        free(body);
        /* a report field of the wrong type */
        r = call(s, "POST", "/attest/SevSnpVm", "{\"report\":123}", &st, NULL);
        ASSERT_EQ(st, 400);
        json_decref(r);
        cp_attestd_free(s);
}

static char *policy_jws(const char *text) {
        char *t = b64url(text, strlen(text));
        json_t *p = json_pack("{s:s}", "AttestationPolicy", t);
        char *ps = json_dumps(p, JSON_COMPACT), *pe = b64url(ps, strlen(ps));
        char *out = malloc(strlen(pe) + 64);
        sprintf(out, "eyJhbGciOiJub25lIn0.%s.", pe);
        free(t);
        free(ps);
        free(pe);
        json_decref(p);
        return out;
}

TEST(policy_management_and_enforcement) {
        cp_attestd *s = start();
        long st;
        json_t *r = call(s, "GET", "/policies/SevSnpVm", NULL, &st, NULL);
        ASSERT_EQ(st, 200);
        ASSERT_TRUE(strstr(json_string_value(json_object_get(r, "policy")), "is-debuggable") != NULL);
        json_decref(r);
        const char *text = "version=1.0; authorizationrules { [type==\"x-ms-sevsnpvm-snpfw-svn\", value>=8] => "
                           "permit(); }; issuancerules { c:[type==\"x-ms-sevsnpvm-hostdata\"] => "
                           "issue(type=\"pool-hostdata\", value=c.value); };";
        char *jws = policy_jws(text);
        r = call(s, "PUT", "/policies/SevSnpVm", jws, &st, NULL);
        ASSERT_EQ(st, 401);
        json_decref(r);
        r = call(s, "PUT", "/policies/SevSnpVm", jws, &st, "wrong");
        ASSERT_EQ(st, 401);
        json_decref(r);
        r = call(s, "PUT", "/policies/SevSnpVm", jws, &st, ADMIN);
        ASSERT_EQ(st, 200);
        char expected_hash[44];
        ASSERT_OK(cp_maa_policy_hash(text, strlen(text), expected_hash));
        ASSERT_STREQ(json_string_value(json_object_get(r, "x-ms-policy-hash")), expected_hash);
        json_decref(r);
        free(jws);

        char *body = maa_request("n1", NULL, NULL, NULL);
        r = call(s, "POST", "/attest/SevSnpVm", body, &st, NULL);
        ASSERT_EQ(st, 200);
        cp_jwt *t = validate(s, json_string_value(json_object_get(r, "token")));
        ASSERT_STREQ(claim_s(t, "pool-hostdata"), claim_s(t, "x-ms-sevsnpvm-hostdata"));
        ASSERT_STREQ(claim_s(t, "x-ms-policy-hash"), expected_hash);
        cp_jwt_free(t);
        json_decref(r);
        /* tenant isolation: another tenant still has the default policy */
        r = call(s, "POST", "/tenants/other/attest/SevSnpVm", body, &st, NULL);
        ASSERT_EQ(st, 200);
        t = validate(s, json_string_value(json_object_get(r, "token")));
        ASSERT_TRUE(claim_s(t, "pool-hostdata") == NULL);
        cp_jwt_free(t);
        json_decref(r);

        /* a policy that refuses */
        jws = policy_jws("version=1.0; authorizationrules { [type==\"x-ms-sevsnpvm-snpfw-svn\", value>=200] => permit(); };");
        r = call(s, "PUT", "/tenants/other/policies/SevSnpVm", jws, &st, ADMIN);
        ASSERT_EQ(st, 200);
        json_decref(r);
        free(jws);
        r = call(s, "POST", "/tenants/other/attest/SevSnpVm", body, &st, NULL);
        ASSERT_EQ(st, 400);
        ASSERT_STREQ(json_string_value(json_object_get(json_object_get(r, "error"), "code")), "PolicyRefused");
        json_decref(r);

        /* a malformed policy: 400 with line and column */
        jws = policy_jws("version=1.0;\nauthorizationrules {\n  [type=\"x\"] => permit();\n};");
        r = call(s, "PUT", "/policies/SevSnpVm", jws, &st, ADMIN);
        ASSERT_EQ(st, 400);
        ASSERT_EQ(json_integer_value(json_object_get(json_object_get(r, "error"), "line")), 3);
        ASSERT_EQ(json_integer_value(json_object_get(json_object_get(r, "error"), "column")), 8);
        json_decref(r);
        free(jws);
        /* policy text that is not UTF-8 (a claim type with byte 0xf7, found by
         * fuzz-attestd-routes: stored, it made every later answer a 500) */
        jws = policy_jws("version=1.0;\nauthorizationrules {\n  [type==\"x-ms-\xf7\", value==1] => permit();\n};");
        r = call(s, "PUT", "/policies/SevSnpVm", jws, &st, ADMIN);
        ASSERT_EQ(st, 400);
        ASSERT_STREQ(json_string_value(json_object_get(json_object_get(r, "error"), "code")), "InvalidPolicy");
        ASSERT_TRUE(strstr(json_string_value(json_object_get(json_object_get(r, "error"), "message")), "at byte 49"));
        json_decref(r);
        free(jws);
        r = call(s, "GET", "/policies/SevSnpVm", NULL, &st, NULL);
        ASSERT_EQ(st, 200);
        json_decref(r);
        /* a signed (not alg none) JWS is refused in unsigned mode */
        r = call(s, "PUT", "/policies/SevSnpVm", "eyJhbGciOiJSUzI1NiJ9.e30.AAAA", &st, ADMIN);
        ASSERT_EQ(st, 400);
        json_decref(r);

        /* reset: back to the default */
        r = call(s, "POST", "/tenants/other/policies/SevSnpVm:reset", NULL, &st, ADMIN);
        ASSERT_EQ(st, 200);
        json_decref(r);
        r = call(s, "POST", "/tenants/other/attest/SevSnpVm", body, &st, NULL);
        ASSERT_EQ(st, 200);
        json_decref(r);
        free(body);
        cp_attestd_free(s);
}

TEST(native_challenge_flow) {
        cp_attestd *s = start();
        long st;
        /* /challenge hands out fresh 32-byte nonces */
        json_t *c1 = call(s, "POST", "/challenge", NULL, &st, NULL);
        ASSERT_EQ(st, 200);
        json_t *c2 = call(s, "POST", "/challenge", NULL, &st, NULL);
        ASSERT_EQ(strlen(json_string_value(json_object_get(c1, "nonce"))), 43);
        ASSERT_TRUE(strcmp(json_string_value(json_object_get(c1, "nonce")), json_string_value(json_object_get(c2, "nonce"))));
        ASSERT_EQ(json_integer_value(json_object_get(c1, "expiresAt")), NOW + 300);

        /* the node's evidence: the v1 parts as a confpool node sends them */
        size_t hl, vl;
        uint8_t *h = cp_test_read(TRUSTEE "evidence-v1.hcl-report.bin", &hl);
        uint8_t *vcek = cp_test_read(TRUSTEE "evidence-v1.vcek.der", &vl);
        cp_hcl_report hcl;
        ASSERT_OK(cp_hcl_report_parse(h, hl, &hcl));
        json_t *ev = load_json(cases[1].file), *q = json_object_get(ev, "tpm_quote");
        uint8_t msg[1024], sig[512];
        size_t ml, sl;
        const char *mh = json_string_value(json_object_get(q, "message")), *sh = json_string_value(json_object_get(q, "signature"));
        ASSERT_OK(cp_hex_decode(mh, strlen(mh), msg, sizeof(msg), &ml));
        ASSERT_OK(cp_hex_decode(sh, strlen(sh), sig, sizeof(sig), &sl));
        char *rep = b64url(hcl.hw_report, hcl.hw_report_len), *chain = b64url(vcek, vl),
             *rt = b64url(hcl.runtime_data, hcl.runtime_data_len), *m64 = b64url(msg, ml), *s64 = b64url(sig, sl),
             *nonce = b64url("challenge", 9);
        json_t *b = json_pack("{s:s,s:s,s:s,s:s,s:{s:s,s:s,s:s,s:O}}", "nonce", nonce, "snpReport", rep,
                              "vcekCertChain", chain, "runtimeData", rt, "quote", "message", m64, "signature", s64,
                              "signatureFormat", "raw-rsassa-sha256", "pcrs", json_object_get(q, "pcrs"));
        char *body = json_dumps(b, JSON_COMPACT);

        /* not issued by us */
        json_t *r = call(s, "POST", "/attest/Native", body, &st, NULL);
        ASSERT_EQ(st, 400);
        ASSERT_TRUE(strstr(json_string_value(json_object_get(json_object_get(r, "error"), "message")), "CP_EBINDING"));
        json_decref(r);
        /* issued (out of band: the quote was made for "challenge") */
        ASSERT_OK(cp_attestd_nonce_register(s, (const uint8_t *) "challenge", 9, NOW + 60));
        ASSERT_ERR(cp_attestd_nonce_register(s, (const uint8_t *) "challenge", 9, NOW + 90), CP_EINVAL);
        r = call(s, "POST", "/attest/Native", body, &st, NULL);
        if (st != 200)
                cp_test_fail(__FILE__, __LINE__, "%ld %s", st, json_dumps(r, 0));
        cp_jwt *t = validate(s, json_string_value(json_object_get(r, "token")));
        ASSERT_STREQ(claim_s(t, "x-confpool-evidence-type"), "native");
        cp_jwt_free(t);
        json_decref(r);
        /* replayed */
        r = call(s, "POST", "/attest/Native", body, &st, NULL);
        ASSERT_EQ(st, 400);
        ASSERT_TRUE(strstr(json_string_value(json_object_get(json_object_get(r, "error"), "message")), "already used"));
        json_decref(r);
        /* expired */
        ASSERT_OK(cp_attestd_nonce_register(s, (const uint8_t *) "challenge", 9, NOW + 60));
        cp_attestd_set_now(s, NOW + 61);
        r = call(s, "POST", "/attest/Native", body, &st, NULL);
        ASSERT_EQ(st, 400);
        ASSERT_TRUE(strstr(json_string_value(json_object_get(json_object_get(r, "error"), "message")), "CP_EEXPIRED"));
        json_decref(r);
        cp_attestd_set_now(s, NOW);
        /* a fresh /challenge nonce does not match this quote */
        json_object_set(b, "nonce", json_object_get(c1, "nonce"));
        free(body);
        body = json_dumps(b, JSON_COMPACT);
        r = call(s, "POST", "/attest/Native", body, &st, NULL);
        ASSERT_EQ(st, 400);
        ASSERT_TRUE(strstr(json_string_value(json_object_get(json_object_get(r, "error"), "message")), "TPM quote"));
        json_decref(r);

        free(body);
        json_decref(b);
        free(rep);
        free(chain);
        free(rt);
        free(m64);
        free(s64);
        free(nonce);
        json_decref(ev);
        free(h);
        free(vcek);
        json_decref(c1);
        json_decref(c2);
        cp_attestd_free(s);
}

TEST(key_rotation_keeps_live_tokens_valid) {
        cp_attestd *s = start();
        long st;
        char *body = maa_request("n", NULL, NULL, NULL);
        json_t *r1 = call(s, "POST", "/attest/SevSnpVm", body, &st, NULL);
        ASSERT_EQ(st, 200);
        ASSERT_OK(cp_attestd_rotate_key(s));
        json_t *r2 = call(s, "POST", "/attest/SevSnpVm", body, &st, NULL);
        ASSERT_EQ(st, 200);
        cp_jwt *t1 = validate(s, json_string_value(json_object_get(r1, "token")));
        cp_jwt *t2 = validate(s, json_string_value(json_object_get(r2, "token")));
        ASSERT_TRUE(strcmp(json_string_value(json_object_get(cp_jwt_header(t1), "kid")),
                           json_string_value(json_object_get(cp_jwt_header(t2), "kid"))) != 0);
        json_t *jwks = call(s, "GET", "/certs", NULL, &st, NULL);
        ASSERT_EQ(json_array_size(json_object_get(jwks, "keys")), 2);
        ASSERT_TRUE(json_array_size(json_object_get(json_array_get(json_object_get(jwks, "keys"), 0), "x5c")) == 1);
        json_decref(jwks);
        /* once every token of the old key has expired, rotation drops it */
        cp_attestd_set_now(s, NOW + 28800 + 120);
        ASSERT_OK(cp_attestd_rotate_key(s));
        jwks = call(s, "GET", "/certs", NULL, &st, NULL);
        ASSERT_EQ(json_array_size(json_object_get(jwks, "keys")), 2);
        json_decref(jwks);
        cp_jwt_free(t1);
        cp_jwt_free(t2);
        json_decref(r1);
        json_decref(r2);
        free(body);
        cp_attestd_free(s);
}

TEST(daemon_binary_on_loopback) {
        const char *bin = getenv("CP_BIN_DIR");
        char path[1024], line[256];
        int out[2];
        ASSERT_TRUE(bin != NULL);
        snprintf(path, sizeof(path), "%s/confpool-attestd", bin);
        ASSERT_EQ(pipe(out), 0);
        pid_t pid = fork();
        ASSERT_TRUE(pid >= 0);
        if (pid == 0) {
                dup2(out[1], 1);
                close(out[0]);
                execl(path, path, "--port", "0", "--test-mode", "--now", "1748736000", "--quiet", (char *) NULL);
                _exit(127);
        }
        close(out[1]);
        FILE *f = fdopen(out[0], "r");
        ASSERT_TRUE(fgets(line, sizeof(line), f) != NULL);
        json_t *info = json_loads(line, 0, NULL);
        unsigned port = (unsigned) json_integer_value(json_object_get(info, "port"));
        ASSERT_TRUE(port > 0);
        char url[256];
        cp_httpc_options o = { .timeout_ms = 20000 };
        cp_httpc_response r = { 0 };
        snprintf(url, sizeof(url), "http://127.0.0.1:%u/healthz", port);
        ASSERT_OK(cp_httpc_request(&o, "GET", url, NULL, NULL, 0, &r));
        ASSERT_EQ(r.status, 200);
        cp_httpc_response_clear(&r);
        char *body = maa_request("n", NULL, NULL, NULL);
        snprintf(url, sizeof(url), "http://127.0.0.1:%u/attest/SevSnpVm?api-version=2022-08-01", port);
        ASSERT_OK(cp_httpc_request(&o, "POST", url, NULL, body, strlen(body), &r));
        ASSERT_EQ(r.status, 200);
        ASSERT_TRUE(strstr((const char *) r.body, "\"token\"") != NULL);
        cp_httpc_response_clear(&r);
        free(body);
        json_decref(info);
        kill(pid, SIGTERM);
        int status = 0;
        ASSERT_EQ(waitpid(pid, &status, 0), pid);
        ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        fclose(f);
}

/* A KDS stand-in: serves the v1 VCEK (DER) for any Milan VCEK path. */
static void fake_kds(void *userdata, const cp_http_request *req, cp_http_response *resp) {
        unsigned *hits = userdata;
        if (strncmp(req->path, "/vcek/v1/Milan/", 15) != 0) {
                if (cp_http_resp_text(resp, 404, "no") < 0)
                        resp->status = 500;
                return;
        }
        size_t vl;
        uint8_t *vcek = cp_test_read(TRUSTEE "evidence-v1.vcek.der", &vl);
        __atomic_add_fetch(hits, 1, __ATOMIC_SEQ_CST);
        if (cp_http_resp_bytes(resp, 200, "application/pkix-cert", vcek, vl) < 0)
                resp->status = 500;
        free(vcek);
}

TEST(vcek_from_kds_with_shared_cache) {
        unsigned hits = 0;
        cp_httpd_options ho = { .threads = 1 };
        cp_httpd *kds = NULL;
        ASSERT_OK(cp_httpd_start(&ho, fake_kds, &hits, &kds));
        char base[128], dir[] = "/tmp/attestd-kds-XXXXXX";
        ASSERT_TRUE(mkdtemp(dir) != NULL);
        snprintf(base, sizeof(base), "http://127.0.0.1:%u", (unsigned) cp_httpd_port(kds));
        cp_attestd_config cfg = { .now = NOW, .quiet = true, .kds_base_url = base, .kds_cache_dir = dir,
                                  .no_report_cache = true };
        cp_attestd *s = NULL;
        ASSERT_OK(cp_attestd_new(&cfg, &s));
        ASSERT_OK(cp_attestd_start(s));
        /* the MAA request without VcekCertChain */
        size_t hl;
        uint8_t *h = cp_test_read(TRUSTEE "evidence-v1.hcl-report.bin", &hl);
        cp_hcl_report hcl;
        ASSERT_OK(cp_hcl_report_parse(h, hl, &hcl));
        char *rep = b64url(hcl.hw_report, hcl.hw_report_len);
        json_t *inner = json_pack("{s:s}", "SnpReport", rep);
        char *inner_s = json_dumps(inner, JSON_COMPACT), *inner_b = b64url(inner_s, strlen(inner_s));
        json_t *b = json_pack("{s:s}", "report", inner_b);
        char *body = json_dumps(b, JSON_COMPACT);
        long st;
        for (int i = 0; i < 2; i++) {
                json_t *r = call(s, "POST", "/attest/SevSnpVm", body, &st, NULL);
                if (st != 200)
                        cp_test_fail(__FILE__, __LINE__, "%ld %s", st, json_dumps(r, 0));
                json_decref(r);
        }
        ASSERT_EQ(hits, 1); /* the second request was served from the cache */
        cp_attestd_free(s);
        /* no KDS and no chain: a clear refusal */
        s = start();
        json_t *r = call(s, "POST", "/attest/SevSnpVm", body, &st, NULL);
        ASSERT_EQ(st, 400);
        ASSERT_TRUE(strstr(json_string_value(json_object_get(json_object_get(r, "error"), "message")), "KDS") != NULL);
        json_decref(r);
        cp_attestd_free(s);
        cp_httpd_stop(kds);
        free(body);
        json_decref(b);
        free(inner_b);
        free(inner_s);
        json_decref(inner);
        free(rep);
        free(h);
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
        ASSERT_EQ(system(cmd), 0);
}

TEST(extra_arks_must_be_arks) {
        size_t vl;
        uint8_t *vcek = cp_test_read(TRUSTEE "evidence-v1.vcek.der", &vl);
        cp_attestd_config cfg = { .now = NOW, .quiet = true };
        cfg.extra_arks[0] = vcek;
        cfg.extra_ark_lens[0] = vl;
        cp_attestd *s = NULL;
        ASSERT_FAILS(cp_attestd_new(&cfg, &s));
        ASSERT_TRUE(s == NULL);
        free(vcek);
        /* off loopback without TLS: refused */
        cp_attestd_config c2 = { .quiet = true, .bind_addr = "0.0.0.0" };
        ASSERT_OK(cp_attestd_new(&c2, &s));
        ASSERT_ERR(cp_attestd_start(s), CP_EINVAL);
        cp_attestd_free(s);
}

TEST(signed_policy_mode) {
        cp_jwt_key *signer = NULL, *other = NULL;
        ASSERT_OK(cp_jwt_key_generate(CP_JWT_ES256, "policy signer", NOW, 30, &signer));
        ASSERT_OK(cp_jwt_key_generate(CP_JWT_ES256, "someone else", NOW, 30, &other));
        json_t *jwk = NULL;
        ASSERT_OK(cp_jwt_key_to_jwk(signer, &jwk));
        json_t *doc = json_pack("{s:[o]}", "keys", jwk);
        char *jwks = json_dumps(doc, JSON_COMPACT);
        cp_attestd_config cfg = { .now = NOW, .quiet = true, .admin_token = ADMIN, .policy_signers_jwks = jwks };
        cp_attestd *s = NULL;
        ASSERT_OK(cp_attestd_new(&cfg, &s));
        ASSERT_OK(cp_attestd_start(s));
        const char *text = "version=1.0; authorizationrules { => permit(); }; issuancerules { => issue(type=\"signed\", value=true); };";
        char *t64 = b64url(text, strlen(text));
        json_t *payload = json_pack("{s:s}", "AttestationPolicy", t64);
        char *good = NULL, *bad = NULL;
        ASSERT_OK(cp_jwt_sign(signer, payload, NULL, &good));
        ASSERT_OK(cp_jwt_sign(other, payload, NULL, &bad));
        long st;
        /* unsigned, or signed by a stranger: refused */
        char *unsigned_jws = policy_jws(text);
        json_t *r = call(s, "PUT", "/policies/SevSnpVm", unsigned_jws, &st, ADMIN);
        ASSERT_EQ(st, 400);
        json_decref(r);
        r = call(s, "PUT", "/policies/SevSnpVm", bad, &st, ADMIN);
        ASSERT_EQ(st, 400);
        json_decref(r);
        /* signed by the configured signer: accepted and in force */
        r = call(s, "PUT", "/policies/SevSnpVm", good, &st, ADMIN);
        ASSERT_EQ(st, 200);
        json_decref(r);
        char *body = maa_request("n", NULL, NULL, NULL);
        r = call(s, "POST", "/attest/SevSnpVm", body, &st, NULL);
        ASSERT_EQ(st, 200);
        cp_jwt *t = validate(s, json_string_value(json_object_get(r, "token")));
        ASSERT_TRUE(json_is_true(json_object_get(cp_jwt_claims(t), "signed")));
        cp_jwt_free(t);
        json_decref(r);
        free(body);
        free(unsigned_jws);
        free(good);
        free(bad);
        json_decref(payload);
        free(t64);
        cp_attestd_free(s);
        free(jwks);
        json_decref(doc);
        cp_jwt_key_free(signer);
        cp_jwt_key_free(other);
}

/* ---- native flow with a TCG event log: synthetic evidence from the software
 * AMD-SP (emulated Milan host), a generated RSA AK, a quote over PCRs 0..9
 * made here, and an event log built with cp_tcg_eventlog_builder ------------ */

typedef struct native_ev {
        char dir[64];
        cp_amdsp *sp;
        uint8_t *ark;
        size_t ark_len;
        char *chain_pem;
        EVP_PKEY *ak;
        char *rt;                      /* runtime data JSON */
        uint8_t report[CP_SNP_REPORT_SIZE];
        uint8_t pcr[24][32];
        uint8_t *log;
        size_t log_len;
} native_ev;

static char *der_to_pem(const uint8_t *der, size_t n) {
        const unsigned char *p = der;
        X509 *x = d2i_X509(NULL, &p, (long) n);
        BIO *b = BIO_new(BIO_s_mem());
        ASSERT_TRUE(x && b && PEM_write_bio_X509(b, x));
        char *data;
        long len = BIO_get_mem_data(b, &data);
        char *out = strndup(data, (size_t) len);
        BIO_free(b);
        X509_free(x);
        return out;
}

static void native_ev_setup(native_ev *e) {
        static const uint16_t banks[] = { CP_TPM_ALG_SHA1, CP_TPM_ALG_SHA256 };
        memset(e, 0, sizeof(*e));
        snprintf(e->dir, sizeof(e->dir), "/tmp/cp-attestd-evlog-XXXXXX");
        ASSERT_TRUE(mkdtemp(e->dir));
        char host[128];
        snprintf(host, sizeof(host), "%s/host", e->dir);
        cp_amdsp_config hc = { .generation = CP_SNP_GEN_MILAN, .tcb = { .bl = 3, .snp = 8, .ucode = 115 }, .now = NOW - 86400 };
        ASSERT_OK(cp_amdsp_open(host, &hc, &e->sp));
        ASSERT_OK(cp_amdsp_ca_cert(e->sp, CP_AMD_CERT_ARK, &e->ark, &e->ark_len));
        uint8_t *vcek, *chain;
        size_t vl, cl;
        ASSERT_OK(cp_amdsp_vcek(e->sp, NULL, &vcek, &vl));
        ASSERT_OK(cp_amdsp_cert_chain_pem(e->sp, CP_AMD_CERT_VCEK, &chain, &cl));
        char *vpem = der_to_pem(vcek, vl);
        e->chain_pem = malloc(strlen(vpem) + cl + 1);
        memcpy(e->chain_pem, vpem, strlen(vpem));
        memcpy(e->chain_pem + strlen(vpem), chain, cl);
        e->chain_pem[strlen(vpem) + cl] = '\0';
        free(vpem);
        free(vcek);
        free(chain);

        /* the vTPM's AK in the runtime data, bound by REPORT_DATA */
        e->ak = EVP_RSA_gen(2048);
        ASSERT_TRUE(e->ak);
        BIGNUM *n = NULL;
        ASSERT_TRUE(EVP_PKEY_get_bn_param(e->ak, "n", &n));
        uint8_t nb[256];
        ASSERT_EQ(BN_bn2binpad(n, nb, sizeof(nb)), 256);
        BN_free(n);
        char *n64 = b64url(nb, sizeof(nb));
        e->rt = malloc(1024);
        snprintf(e->rt, 1024,
                 "{\"keys\":[{\"kid\":\"HCLAkPub\",\"key_ops\":[\"sign\"],\"kty\":\"RSA\",\"e\":\"AQAB\",\"n\":\"%s\"}]}",
                 n64);
        free(n64);

        uint8_t secrets[CP_SNP_SECRETS_PAGE_SIZE], key[32], p[CP_SNP_MSG_REPORT_REQ_SIZE], msg[CP_MAX_SNP_GUEST_MSG],
                resp[CP_MAX_SNP_GUEST_MSG], plain[CP_MAX_SNP_GUEST_MSG];
        uint32_t h = 0, fw, st;
        uint64_t seq;
        size_t mn, rn, pn;
        cp_snp_msg_hdr hdr;
        cp_amdsp_launch l = { .policy = 0x30000 };
        ASSERT_OK(cp_amdsp_launch_guest(e->sp, &l, &h, secrets));
        ASSERT_OK(cp_snp_secrets_get(secrets, 0, key, &seq));
        cp_snp_report_req q = { .vmpl = 0, .key_sel = CP_SNP_KEY_SEL_VCEK };
        SHA256((const uint8_t *) e->rt, strlen(e->rt), q.report_data);
        cp_snp_report_req_encode(&q, p);
        ASSERT_OK(cp_snp_msg_seal(key, 0, seq + 1, CP_SNP_MSG_REPORT_REQ, 1, p, sizeof(p), msg, sizeof(msg), &mn));
        ASSERT_OK(cp_amdsp_guest_request(e->sp, h, msg, mn, resp, sizeof(resp), &rn, NULL, NULL, &fw));
        ASSERT_OK(cp_snp_msg_open(key, resp, rn, &hdr, plain, sizeof(plain), &pn));
        ASSERT_OK(cp_snp_report_rsp_parse(plain, pn, &st, e->report));
        ASSERT_EQ(st, 0);

        /* measured boot */
        cp_tcg_eventlog_builder *b = NULL;
        static const uint8_t sep[4] = { 0 };
        static const char cmdline[] = "kernel_cmdline: /vmlinuz-6.1 root=/dev/vda1 ro";
        ASSERT_OK(cp_tcg_eventlog_builder_new(banks, 2, &b));
        ASSERT_OK(cp_tcg_eventlog_builder_startup_locality(b, 3));
        ASSERT_OK(cp_tcg_eventlog_builder_add(b, 0, CP_EV_S_CRTM_VERSION, NULL, 0, "1\0.\0" "0\0\0\0", 8));
        ASSERT_OK(cp_tcg_eventlog_builder_add(b, 0, CP_EV_EFI_PLATFORM_FIRMWARE_BLOB, "ovmf", 4,
                                              "\0\0\xc0\xff\0\0\0\0\0\0\x40\0\0\0\0\0", 16));
        for (uint32_t i = 0; i < 8; i++)
                ASSERT_OK(cp_tcg_eventlog_builder_add(b, i, CP_EV_SEPARATOR, NULL, 0, sep, 4));
        ASSERT_OK(cp_tcg_eventlog_builder_add(b, 8, CP_EV_IPL, cmdline, sizeof(cmdline) - 1, cmdline, sizeof(cmdline)));
        ASSERT_OK(cp_tcg_eventlog_builder_add(b, 9, CP_EV_IPL, "initrd bytes", 12, "/initrd.img", 12));
        ASSERT_OK(cp_tcg_eventlog_builder_serialize(b, &e->log, &e->log_len));
        for (unsigned i = 0; i < 24; i++)
                ASSERT_OK(cp_tcg_eventlog_builder_pcr(b, CP_TPM_ALG_SHA256, i, e->pcr[i], 32));
        cp_tcg_eventlog_builder_free(b);
}

static void native_ev_free(native_ev *e) {
        char cmd[128];
        cp_amdsp_free(e->sp);
        free(e->ark);
        free(e->chain_pem);
        EVP_PKEY_free(e->ak);
        free(e->rt);
        free(e->log);
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", e->dir);
        if (system(cmd) != 0)
                fprintf(stderr, "cleanup failed\n");
}

/* TPMS_ATTEST quote over SHA-256 PCRs 0..9 with the given values, signed
 * RSASSA-SHA256 by the AK: body of POST /attest/Native. */
static char *native_body_n(native_ev *e, const void *nonce_bytes, size_t nl, const uint8_t pcr[24][32],
                           bool with_log) {
        const char *nonce = nonce_bytes;
        uint8_t q[512], d[32], sig[256];
        size_t n = 0, sl = sizeof(sig);
        uint8_t cat[10 * 32];
#define PUT8(v) q[n++] = (uint8_t) (v)
#define PUT16(v) (PUT8((v) >> 8), PUT8(v))
#define PUT32(v) (PUT16((v) >> 16), PUT16(v))
        PUT32(0xff544347u);
        PUT16(0x8018);
        PUT16(0);                     /* qualifiedSigner */
        PUT16(nl);                    /* extraData: the nonce text's bytes are what we register */
        memcpy(q + n, nonce, nl);
        n += nl;
        for (int i = 0; i < 8; i++)   /* clock */
                PUT8(0);
        PUT32(1);
        PUT32(0);
        PUT8(1);
        for (int i = 0; i < 8; i++)   /* firmwareVersion */
                PUT8(0);
        PUT32(1);                     /* one selection: SHA-256, PCRs 0..9 */
        PUT16(CP_TPM_ALG_SHA256);
        PUT8(3);
        PUT8(0xff);
        PUT8(0x03);
        PUT8(0);
        for (int i = 0; i < 10; i++)
                memcpy(cat + 32 * i, pcr[i], 32);
        SHA256(cat, sizeof(cat), d);
        PUT16(32);
        memcpy(q + n, d, 32);
        n += 32;
#undef PUT8
#undef PUT16
#undef PUT32
        EVP_MD_CTX *mc = EVP_MD_CTX_new();
        ASSERT_TRUE(EVP_DigestSignInit(mc, NULL, EVP_sha256(), NULL, e->ak) == 1 &&
                    EVP_DigestSign(mc, sig, &sl, q, n) == 1);
        EVP_MD_CTX_free(mc);
        char *rep = b64url(e->report, sizeof(e->report)), *chain = b64url(e->chain_pem, strlen(e->chain_pem)),
             *rt = b64url(e->rt, strlen(e->rt)), *m64 = b64url(q, n), *s64 = b64url(sig, sl),
             *n64 = b64url(nonce, nl), *l64 = with_log ? b64url(e->log, e->log_len) : NULL;
        json_t *pcrs = json_array();
        for (int i = 0; i < 24; i++) {
                char hex[65];
                cp_hex_encode(pcr[i], 32, hex);
                json_array_append_new(pcrs, i < 10 ? json_string(hex) : json_null()); /* the quoted ones */
        }
        json_t *b = json_pack("{s:s,s:s,s:s,s:s,s:{s:s,s:s,s:s,s:o}}", "nonce", n64, "snpReport", rep, "vcekCertChain",
                              chain, "runtimeData", rt, "quote", "message", m64, "signature", s64, "signatureFormat",
                              "raw-rsassa-sha256", "pcrs", pcrs);
        ASSERT_TRUE(b);
        if (l64)
                json_object_set_new(b, "eventLog", json_string(l64));
        char *out = json_dumps(b, JSON_COMPACT);
        json_decref(b);
        free(rep);
        free(chain);
        free(rt);
        free(m64);
        free(s64);
        free(n64);
        free(l64);
        return out;
}

static char *native_body(native_ev *e, const char *nonce, const uint8_t pcr[24][32], bool with_log) {
        return native_body_n(e, nonce, strlen(nonce), pcr, with_log);
}

static cp_attestd *start_emulated(native_ev *e) {
        cp_attestd_config cfg = { .now = NOW, .quiet = true, .threads = 2, .only_extra_arks = true };
        cfg.extra_arks[0] = e->ark;
        cfg.extra_ark_lens[0] = e->ark_len;
        cp_attestd *s = NULL;
        ASSERT_OK(cp_attestd_new(&cfg, &s));
        ASSERT_OK(cp_attestd_start(s));
        return s;
}

static json_t *attest_native_once(cp_attestd *s, native_ev *e, const char *nonce, const uint8_t pcr[24][32],
                                  bool with_log, long *st) {
        ASSERT_OK(cp_attestd_nonce_register(s, (const uint8_t *) nonce, strlen(nonce), NOW + 60));
        char *body = native_body(e, nonce, pcr, with_log);
        json_t *r = call(s, "POST", "/attest/Native", body, st, NULL);
        free(body);
        return r;
}

static const char *error_message(json_t *r) {
        return json_string_value(json_object_get(json_object_get(r, "error"), "message"));
}

TEST(native_flow_replays_the_event_log) {
        native_ev e;
        long st;
        native_ev_setup(&e);
        cp_attestd *s = start_emulated(&e);

        /* without a log: verified, but nothing replayed */
        json_t *r = attest_native_once(s, &e, "nonce-0", (const uint8_t(*)[32]) e.pcr, false, &st);
        if (st != 200)
                cp_test_fail(__FILE__, __LINE__, "%ld %s", st, json_dumps(r, 0));
        cp_jwt *t = validate(s, json_string_value(json_object_get(r, "token")));
        ASSERT_TRUE(json_is_false(json_object_get(cp_jwt_claims(t), "x-confpool-eventlog-replayed")));
        ASSERT_TRUE(json_object_get(cp_jwt_claims(t), "x-confpool-eventlog") == NULL);
        cp_jwt_free(t);
        json_decref(r);

        /* with the log: replayed, boot events are claims (cold and warm alike) */
        for (int round = 0; round < 2; round++) {
                char nonce[32];
                snprintf(nonce, sizeof(nonce), "nonce-log-%d", round);
                r = attest_native_once(s, &e, nonce, (const uint8_t(*)[32]) e.pcr, true, &st);
                if (st != 200)
                        cp_test_fail(__FILE__, __LINE__, "%ld %s", st, json_dumps(r, 0));
                t = validate(s, json_string_value(json_object_get(r, "token")));
                const json_t *c = cp_jwt_claims(t), *el = json_object_get(c, "x-confpool-eventlog");
                ASSERT_TRUE(json_is_true(json_object_get(c, "x-confpool-eventlog-replayed")));
                ASSERT_STREQ(json_string_value(json_object_get(el, "kernelCmdline")), "/vmlinuz-6.1 root=/dev/vda1 ro");
                ASSERT_EQ(json_array_size(json_object_get(el, "replayedPcrs")), 10);
                ASSERT_EQ(json_integer_value(json_object_get(el, "eventCount")), 13);
                ASSERT_EQ(json_integer_value(json_object_get(el, "unverifiedEvents")), 0);
                json_t *p0 = json_object_get(json_object_get(el, "pcrs"), "0");
                ASSERT_EQ(json_array_size(p0), 3); /* locality, CRTM version, firmware blob */
                ASSERT_EQ(json_array_size(json_object_get(el, "separators")), 8);
                ASSERT_STREQ(json_string_value(json_object_get(json_array_get(p0, 1), "type")), "EV_S_CRTM_VERSION");
                ASSERT_STREQ(json_string_value(json_object_get(json_array_get(p0, 1), "text")), "1.0");
                ASSERT_EQ(json_integer_value(json_object_get(json_array_get(p0, 2), "length")), 0x400000);
                char hex[65];
                cp_hex_encode(e.pcr[8], 32, hex);
                ASSERT_STREQ(json_string_value(json_object_get(json_object_get(c, "x-confpool-tpm-pcrs-sha256"), "8")), hex);
                cp_jwt_free(t);
                json_decref(r);
        }

        /* quoted PCRs that the log does not replay to: refused with the reason */
        uint8_t bad[24][32];
        memcpy(bad, e.pcr, sizeof(bad));
        bad[8][0] ^= 1;
        r = attest_native_once(s, &e, "nonce-bad-pcr", (const uint8_t(*)[32]) bad, true, &st);
        ASSERT_EQ(st, 400);
        ASSERT_TRUE(strstr(error_message(r), "CP_EBINDING"));
        ASSERT_TRUE(strstr(error_message(r), "PCR 8"));
        json_decref(r);
        /* a log with one event altered (the quote is fine) */
        e.log[e.log_len - 3] ^= 1; /* initrd path text: not covered by the replay, but the digest is */
        r = attest_native_once(s, &e, "nonce-text", (const uint8_t(*)[32]) e.pcr, true, &st);
        ASSERT_EQ(st, 200); /* event data that is not measured cannot be detected... */
        json_decref(r);
        e.log[e.log_len - 3] ^= 1;
        e.log[e.log_len - 20] ^= 1; /* ...a digest can: PCR 9 */
        r = attest_native_once(s, &e, "nonce-digest", (const uint8_t(*)[32]) e.pcr, true, &st);
        ASSERT_EQ(st, 400);
        ASSERT_TRUE(strstr(error_message(r), "PCR 9"));
        json_decref(r);
        e.log[e.log_len - 20] ^= 1;
        /* a malformed log */
        e.log_len -= 1;
        r = attest_native_once(s, &e, "nonce-trunc", (const uint8_t(*)[32]) e.pcr, true, &st);
        ASSERT_EQ(st, 400);
        ASSERT_TRUE(strstr(error_message(r), "event log"));
        json_decref(r);
        e.log_len += 1;

        cp_attestd_free(s);
        native_ev_free(&e);
}

/* Warm re-attestation (report cached, fast request path) issues exactly the
 * claims of a cold one, for every real evidence case; only the per-token
 * members (jti, and iat/nbf/exp in general) may differ. */
TEST(warm_tokens_carry_the_cold_claims) {
        cp_attestd *s = start();
        cp_attestd_config cfg = { .now = NOW, .quiet = true, .threads = 2, .no_report_cache = true };
        cp_attestd *cold = NULL;
        ASSERT_OK(cp_attestd_new(&cfg, &cold));
        ASSERT_OK(cp_attestd_start(cold));
        for (size_t i = 0; i < CP_ELEMENTSOF(cases); i++) {
                json_t *ev = load_json(cases[i].file);
                char *nonce = nonce_of(&cases[i]), *body = vtpm_body(ev, nonce);
                json_t *claims[3];
                for (int k = 0; k < 3; k++) {
                        long st;
                        cp_attestd *srv = k == 0 ? cold : s; /* cold service; then first (cold) and second (warm) */
                        json_t *resp = call(srv, "POST", "/attest/AzureSnpVtpm", body, &st, NULL);
                        ASSERT_EQ(st, 200);
                        cp_jwt *t = validate(srv, json_string_value(json_object_get(resp, "token")));
                        claims[k] = json_deep_copy(cp_jwt_claims(t));
                        ASSERT_TRUE(json_object_get(claims[k], "jti"));
                        json_object_del(claims[k], "jti");
                        json_object_del(claims[k], "iss"); /* the two services listen on different ports */
                        cp_jwt_free(t);
                        json_decref(resp);
                }
                ASSERT_TRUE(json_object_size(claims[0]) > 30);
                ASSERT_TRUE(json_equal(claims[0], claims[1]));
                ASSERT_TRUE(json_equal(claims[1], claims[2]));
                for (int k = 0; k < 3; k++)
                        json_decref(claims[k]);
                free(body);
                free(nonce);
                json_decref(ev);
        }
        /* the second request of each case was served from the cache */
        long st;
        json_t *m = call(s, "GET", "/metrics", NULL, &st, NULL);
        ASSERT_TRUE(strstr(json_string_value(m), "attestd_report_cache_hits_total 4"));
        json_decref(m);
        cp_attestd_free(cold);
        cp_attestd_free(s);
}

/* The fast body parser yields jansson's tree or defers to jansson, whose
 * errors the client then sees unchanged. */
TEST(request_bodies_outside_the_fast_path) {
        cp_attestd *s = start();
        json_t *ev = load_json(cases[1].file);
        char *nonce = nonce_of(&cases[1]), *body = vtpm_body(ev, nonce);
        long st;
        /* the same evidence with an escaped character and a real number in an unknown member */
        size_t n = strlen(body);
        char *esc = malloc(n + 256);
        memcpy(esc, body, n - 1);
        strcpy(esc + n - 1, ",\"draftPolicyForAttestation\":\"version=1.0;authorizationrules{=>permit();};"
                            "issuancerules{};\\n\"}");
        json_t *r = call(s, "POST", "/attest/AzureSnpVtpm", esc, &st, NULL);
        ASSERT_EQ(st, 200);
        json_decref(r);
        /* hcl_report in base64url, padded and not: same token claims; mixed alphabets
         * or non-zero trailing bits: refused, as by cp_b64_decode */
        {
                json_t *e2 = json_deep_copy(ev);
                const char *h = json_string_value(json_object_get(e2, "hcl_report"));
                size_t hl = strlen(h);
                char *u = strdup(h); /* evidence-v1 has it in base64url with padding */
                ASSERT_TRUE(strchr(u, '-') && !strchr(u, '+'));
                for (size_t i = 0; i < hl; i++)
                        u[i] = u[i] == '-' ? '+' : u[i] == '_' ? '/' : u[i]; /* standard alphabet */
                const char *variants[4];
                char *unpadded = strdup(h), *mixed = strdup(u), *bits = strdup(h);
                while (strlen(unpadded) && unpadded[strlen(unpadded) - 1] == '=')
                        unpadded[strlen(unpadded) - 1] = '\0';
                mixed[strchr(h, '-') - h] = '-'; /* one url character among standard ones */
                ASSERT_TRUE(bits[hl - 1] == '=');
                size_t last = bits[hl - 2] == '=' ? hl - 3 : hl - 2; /* last data character */
                bits[last] = bits[last] == 'A' ? 'B' : (char) (bits[last] ^ 1);
                variants[0] = u;
                variants[1] = unpadded;
                variants[2] = mixed;
                variants[3] = bits;
                for (int k = 0; k < 4; k++) {
                        json_object_set_new(e2, "hcl_report", json_string(variants[k]));
                        char *b2 = vtpm_body(e2, nonce);
                        r = call(s, "POST", "/attest/AzureSnpVtpm", b2, &st, NULL);
                        ASSERT_EQ(st, k < 2 ? 200 : 400);
                        json_decref(r);
                        free(b2);
                }
                free(u);
                free(unpadded);
                free(mixed);
                free(bits);
                json_decref(e2);
        }
        static const char *const bad[] = { "{\"nonce\":\"a\",\"nonce\":\"b\"}", "{\"evidence\":1.5}",
                                           "{\"evidence\":{}} x", "{\"evidence\":tru}", "{\"a\":01}",
                                           "[1]", "{\"evidence\":\"\xff\"}" };
        for (size_t i = 0; i < CP_ELEMENTSOF(bad); i++) {
                r = call(s, "POST", "/attest/AzureSnpVtpm", bad[i], &st, NULL);
                ASSERT_EQ(st, 400);
                json_decref(r);
        }
        r = call(s, "POST", "/attest/AzureSnpVtpm", "{\"nonce\":\"a\",\"nonce\":\"b\"}", &st, NULL);
        ASSERT_TRUE(strstr(json_string_value(json_object_get(json_object_get(r, "error"), "message")), "duplicate"));
        json_decref(r);
        free(esc);
        free(body);
        free(nonce);
        json_decref(ev);
        cp_attestd_free(s);
}

/* Differential test of the fast request-body parser and serializer against
 * jansson: on mutations of real and hand-made bodies, whatever the fast path
 * accepts, jansson (with the service's flags and depth limit) accepts as the
 * same tree, and the fast serializer writes json_dumps(JSON_COMPACT)'s bytes. */
TEST(fast_json_matches_jansson) {
        json_t *ev = load_json(cases[1].file);
        char *nonce = nonce_of(&cases[1]), *real = vtpm_body(ev, nonce);
        static const char *const seeds[] = {
                "{\"a\":[1,-2,0,true,false,null,{},[]],\"b\":{\"c\":\"d\",\"e\":[[[\"f\"]]]},\"g\":123456789012345678}",
                " {\"x\" : \"y\" , \"z\":[ 1 , 2 ]}\n",
                "{\"k\":{\"k\":{\"k\":{\"k\":{\"k\":{\"k\":{\"k\":{\"k\":{\"k\":{\"k\":1}}}}}}}}}}",
                "{\"min\":-9223372036854775808,\"big\":99999999999999999999,\"n18\":-999999999999999999}",
        };
        static const char pokes[] = "\"\\{}[],:0-e. tnf\x80\x1f" "a19";
        uint64_t rng = 0x9e3779b97f4a7c15ull;
        size_t accepted = 0, total = 0;
        for (size_t sidx = 0; sidx <= CP_ELEMENTSOF(seeds); sidx++) {
                const char *seed = sidx < CP_ELEMENTSOF(seeds) ? seeds[sidx] : real;
                size_t n = strlen(seed);
                char *buf = malloc(n + 1);
                for (int iter = 0; iter < (sidx < CP_ELEMENTSOF(seeds) ? 3000 : 600); iter++) {
                        size_t len = n;
                        memcpy(buf, seed, n);
                        for (int k = 0; k < (iter % 3); k++) {
                                rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
                                buf[rng % n] = pokes[(rng >> 32) % (sizeof(pokes) - 1)];
                        }
                        if (iter % 7 == 6) {
                                rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
                                len = rng % (n + 1);
                        }
                        total++;
                        json_t *fast = cp_json_load_plain(buf, len, 32);
                        if (!fast)
                                continue;
                        accepted++;
                        size_t off;
                        json_error_t jerr;
                        json_t *ref = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
                        if (!ref || !cp_json_depth_within(buf, len, 32, &off) || !json_equal(fast, ref))
                                cp_test_fail(__FILE__, __LINE__, "fast parser accepted what jansson did not: %.*s",
                                             (int) (len < 200 ? len : 200), buf);
                        char *a = cp_json_dumps_plain(fast), *b = json_dumps(ref, JSON_COMPACT);
                        ASSERT_STREQ(a, b);
                        free(a);
                        free(b);
                        json_decref(fast);
                        json_decref(ref);
                }
                free(buf);
        }
        ASSERT_TRUE(accepted > total / 5 && accepted < total);
        /* serializer fallbacks: escapes, non-ASCII, reals */
        json_t *o = json_pack("{s:s,s:s,s:f,s:[s]}", "q", "a\"b\\c\n", "u", "caf\xc3\xa9", "r", 1.5, "k\x01", "x");
        char *a = cp_json_dumps_plain(o), *b = json_dumps(o, JSON_COMPACT);
        ASSERT_STREQ(a, b);
        free(a);
        free(b);
        json_decref(o);
        free(real);
        free(nonce);
        json_decref(ev);
}

/* The fast parser's word-at-a-time string scan: every special byte at every
 * position of strings of 0..40 bytes is found (the fast parser then declines
 * or agrees with jansson), and plain strings of every length are accepted. */
TEST(json_fast_string_scan) {
        static const uint8_t specials[] = { '"', '\\', 0x00, 0x01, 0x1f, 0x7f, 0x80, 0xc3, 0xff, ' ', '~' };
        char buf[128];
        for (size_t len = 0; len <= 40; len++) {
                for (size_t pos = 0; pos <= len; pos++) {
                        for (size_t k = 0; k < sizeof(specials) + 1; k++) {
                                memset(buf, 'a', sizeof(buf));
                                memcpy(buf, "{\"k\":\"", 6);
                                if (k < sizeof(specials) && pos < len)
                                        buf[6 + pos] = (char) specials[k];
                                memcpy(buf + 6 + len, "\"}", 2);
                                size_t n = 6 + len + 2;
                                json_error_t jerr;
                                json_t *fast = cp_json_load_plain(buf, n, 32);
                                json_t *ref = json_loadb(buf, n, JSON_REJECT_DUPLICATES, &jerr);
                                bool plain = k == sizeof(specials) || pos == len || specials[k] == ' ' ||
                                             specials[k] == '~' || specials[k] == 0x7f;
                                if (plain)
                                        ASSERT_TRUE(fast != NULL);
                                if (fast && (!ref || !json_equal(fast, ref)))
                                        cp_test_fail(__FILE__, __LINE__, "len %zu pos %zu byte %zu: fast parser differs",
                                                     len, pos, k);
                                json_decref(fast);
                                json_decref(ref);
                        }
                }
        }
}

/* The PCR claims of a boot are kept per quoted values: a re-attestation of
 * the same boot with other PCR values carries those values, and returning
 * to the first ones carries them again. */
TEST(pcr_claims_follow_the_quoted_values) {
        native_ev e;
        long st;
        native_ev_setup(&e);
        cp_attestd *s = start_emulated(&e);
        uint8_t other[24][32];
        memcpy(other, e.pcr, sizeof(other));
        other[5][31] ^= 0x5a;
        const uint8_t(*rounds[])[32] = { (const uint8_t(*)[32]) e.pcr, (const uint8_t(*)[32]) other,
                                         (const uint8_t(*)[32]) other, (const uint8_t(*)[32]) e.pcr };
        for (size_t k = 0; k < CP_ELEMENTSOF(rounds); k++) {
                char nonce[32], hex[65];
                snprintf(nonce, sizeof(nonce), "nonce-pcr-%zu", k);
                json_t *r = attest_native_once(s, &e, nonce, rounds[k], false, &st);
                if (st != 200)
                        cp_test_fail(__FILE__, __LINE__, "%ld %s", st, json_dumps(r, 0));
                cp_jwt *t = validate(s, json_string_value(json_object_get(r, "token")));
                const json_t *c = cp_jwt_claims(t), *p = json_object_get(c, "x-confpool-tpm-pcrs-sha256");
                ASSERT_EQ(json_object_size(p), 10);
                ASSERT_EQ(json_array_size(json_object_get(c, "x-ms-azurevm-attested-pcrs")), 10);
                for (unsigned i = 0; i < 10; i++) {
                        char name[4];
                        snprintf(name, sizeof(name), "%u", i);
                        cp_hex_encode(rounds[k][i], 32, hex);
                        ASSERT_STREQ(json_string_value(json_object_get(p, name)), hex);
                }
                char *n64 = b64url(nonce, strlen(nonce));
                ASSERT_STREQ(json_string_value(json_object_get(c, "nonce")), n64);
                free(n64);
                cp_jwt_free(t);
                json_decref(r);
        }
        cp_attestd_free(s);
        native_ev_free(&e);
}

/* ---- revocation: KDS CRLs of the emulated AMD-SP's ARK ------------------- */

/* The value of an unlabelled (or fully labelled) counter in /metrics. */
static unsigned long metric(cp_attestd *s, const char *name) {
        long st;
        json_t *m = call(s, "GET", "/metrics", NULL, &st, NULL);
        ASSERT_EQ(st, 200);
        const char *txt = json_string_value(m);
        size_t n = strlen(name);
        unsigned long v = 0;
        bool found = false;
        for (const char *p = strstr(txt, name); p; p = strstr(p + 1, name))
                if ((p == txt || p[-1] == '\n') && p[n] == ' ') {
                        v = strtoul(p + n + 1, NULL, 10);
                        found = true;
                        break;
                }
        if (!found)
                cp_test_fail(__FILE__, __LINE__, "metric %s missing", name);
        json_decref(m);
        return v;
}

/* A native attestation whose challenge stays valid for 30 days (the tests
 * move the clock). */
static json_t *attest_native_at(cp_attestd *s, native_ev *e, const char *nonce, long *st) {
        ASSERT_OK(cp_attestd_nonce_register(s, (const uint8_t *) nonce, strlen(nonce), NOW + 30 * 86400));
        char *body = native_body(e, nonce, (const uint8_t(*)[32]) e->pcr, false);
        json_t *r = call(s, "POST", "/attest/Native", body, st, NULL);
        free(body);
        return r;
}

static void expect_attests(cp_attestd *s, native_ev *e, const char *nonce) {
        long st;
        json_t *r = attest_native_at(s, e, nonce, &st);
        if (st != 200)
                cp_test_fail(__FILE__, __LINE__, "%s: %ld %s", nonce, st, json_dumps(r, 0));
        json_decref(r);
}

/* Refused with CP_EREVOKED and a message containing what. */
static void expect_revoked(cp_attestd *s, native_ev *e, const char *nonce, const char *what) {
        long st;
        json_t *r = attest_native_at(s, e, nonce, &st);
        ASSERT_EQ(st, 400);
        const char *m = error_message(r);
        if (!m || !strstr(m, "CP_EREVOKED") || !strstr(m, what))
                cp_test_fail(__FILE__, __LINE__, "%s: expected CP_EREVOKED (%s), got %s", nonce, what, m ? m : "?");
        json_decref(r);
}

static cp_attestd *start_revocation(native_ev *e, const uint8_t *crl, size_t crl_len, const char *kds_url) {
        cp_attestd_config cfg = { .now = NOW, .quiet = true, .threads = 2, .only_extra_arks = true,
                                  .check_revocation = true, .kds_base_url = kds_url, .crl_max_age_s = 3600 };
        cfg.extra_arks[0] = e->ark;
        cfg.extra_ark_lens[0] = e->ark_len;
        cfg.crls[0] = crl;
        cfg.crl_lens[0] = crl_len;
        cp_attestd *s = NULL;
        ASSERT_OK(cp_attestd_new(&cfg, &s));
        ASSERT_OK(cp_attestd_start(s));
        return s;
}

static int new_with_crl(native_ev *e, const uint8_t *crl, size_t crl_len) {
        cp_attestd_config cfg = { .now = NOW, .quiet = true, .only_extra_arks = true, .check_revocation = true,
                                  .alg = CP_JWT_ES256 }; /* a cheap signing key: this runs often */
        cfg.extra_arks[0] = e->ark;
        cfg.extra_ark_lens[0] = e->ark_len;
        cfg.crls[0] = crl;
        cfg.crl_lens[0] = crl_len;
        cp_attestd *s = NULL;
        int r = cp_attestd_new(&cfg, &s);
        ASSERT_TRUE(r < 0 ? s == NULL : s != NULL);
        cp_attestd_free(s);
        return r;
}

/* A well-formed KDS-style CRL (v2, RSASSA-PSS SHA-384, salt 48) signed by a
 * fresh key that is not the trusted ARK's: issuer = the ARK's subject, or
 * CN=cn. */
static uint8_t *forged_crl(const uint8_t *ark_der, size_t ark_len, const char *cn, size_t *ret_len) {
        const unsigned char *p = ark_der;
        X509 *ark = ark_der ? d2i_X509(NULL, &p, (long) ark_len) : NULL;
        X509_NAME *name = X509_NAME_new();
        EVP_PKEY *k = EVP_RSA_gen(2048);
        X509_CRL *c = X509_CRL_new();
        ASN1_TIME *t1 = ASN1_TIME_set(NULL, (time_t) (NOW - 3600)), *t2 = ASN1_TIME_set(NULL, (time_t) (NOW + 86400));
        EVP_MD_CTX *mc = EVP_MD_CTX_new();
        EVP_PKEY_CTX *pc = NULL;
        ASSERT_TRUE(name && k && c && t1 && t2 && mc);
        if (cn)
                ASSERT_TRUE(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *) cn, -1, -1,
                                                       0) == 1);
        ASSERT_TRUE(X509_CRL_set_version(c, X509_CRL_VERSION_2) == 1 &&
                    X509_CRL_set_issuer_name(c, cn ? name : X509_get_subject_name(ark)) == 1 &&
                    X509_CRL_set1_lastUpdate(c, t1) == 1 && X509_CRL_set1_nextUpdate(c, t2) == 1);
        ASSERT_TRUE(EVP_DigestSignInit(mc, &pc, EVP_sha384(), NULL, k) == 1 &&
                    EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PSS_PADDING) == 1 &&
                    EVP_PKEY_CTX_set_rsa_pss_saltlen(pc, 48) == 1 && EVP_PKEY_CTX_set_rsa_mgf1_md(pc, EVP_sha384()) == 1 &&
                    X509_CRL_sign_ctx(c, mc) > 0);
        uint8_t *der = NULL;
        int n = i2d_X509_CRL(c, &der);
        ASSERT_TRUE(n > 0);
        uint8_t *out = malloc((size_t) n);
        memcpy(out, der, (size_t) n);
        OPENSSL_free(der);
        *ret_len = (size_t) n;
        EVP_MD_CTX_free(mc);
        ASN1_TIME_free(t1);
        ASN1_TIME_free(t2);
        X509_CRL_free(c);
        EVP_PKEY_free(k);
        X509_NAME_free(name);
        X509_free(ark);
        return out;
}

/* Configured CRLs are refused at load unless well-formed and signed by a
 * trusted ARK of their product. */
static void crl_load_refusals(native_ev *e, const uint8_t *crl, size_t crl_len) {
        static const char garbage[] = "this is not a certificate revocation list";
        ASSERT_ERR(new_with_crl(e, (const uint8_t *) garbage, sizeof(garbage) - 1), CP_EFORMAT);
        ASSERT_FAILS(new_with_crl(e, (const uint8_t *) "", 0));
        for (size_t n = 1; n < crl_len; n += n < 16 ? 1 : 97) /* truncated anywhere */
                ASSERT_FAILS(new_with_crl(e, crl, n));
        ASSERT_FAILS(new_with_crl(e, crl, crl_len - 1));
        uint8_t *trail = malloc(crl_len + 1);
        memcpy(trail, crl, crl_len);
        trail[crl_len] = 0;
        ASSERT_ERR(new_with_crl(e, trail, crl_len + 1), CP_ETRAILING);
        /* one flipped bit in the signature */
        memcpy(trail, crl, crl_len);
        trail[crl_len - 5] ^= 1;
        ASSERT_ERR(new_with_crl(e, trail, crl_len), CP_ESIG);
        free(trail);
        /* issued in the ARK's name by another key */
        size_t fl;
        uint8_t *forged = forged_crl(e->ark, e->ark_len, NULL, &fl);
        ASSERT_ERR(new_with_crl(e, forged, fl), CP_ESIG);
        ASSERT_TRUE(strstr(cp_error_message(), "CRL 0") && strstr(cp_error_message(), "ARK"));
        free(forged);
        /* by the ARK of a product that has no trusted ARK here */
        forged = forged_crl(NULL, 0, "ARK-Genoa", &fl);
        ASSERT_ERR(new_with_crl(e, forged, fl), CP_EUNTRUSTED);
        free(forged);
        /* PEM is accepted too */
        BIO *b = BIO_new(BIO_s_mem());
        const unsigned char *p = crl;
        X509_CRL *x = d2i_X509_CRL(NULL, &p, (long) crl_len);
        ASSERT_TRUE(b && x && PEM_write_bio_X509_CRL(b, x) == 1);
        char *pem;
        long pl = BIO_get_mem_data(b, &pem);
        ASSERT_OK(new_with_crl(e, (const uint8_t *) pem, (size_t) pl));
        X509_CRL_free(x);
        BIO_free(b);
}

/* A KDS stand-in serving the emulated host's CRL (issued at kds->now) on
 * both lines' paths. */
typedef struct crl_kds {
        cp_amdsp *sp;
        int64_t now;
        unsigned hits;
} crl_kds;

static void crl_kds_handler(void *userdata, const cp_http_request *req, cp_http_response *resp) {
        crl_kds *k = userdata;
        uint8_t *crl = NULL;
        size_t n = 0;
        if (strcmp(req->path, "/vcek/v1/Milan/crl") != 0 && strcmp(req->path, "/vlek/v1/Milan/crl") != 0) {
                if (cp_http_resp_text(resp, 404, "no") < 0)
                        resp->status = 500;
                return;
        }
        __atomic_add_fetch(&k->hits, 1, __ATOMIC_SEQ_CST);
        if (cp_amdsp_crl(k->sp, __atomic_load_n(&k->now, __ATOMIC_SEQ_CST), &crl, &n) < 0 ||
            cp_http_resp_bytes(resp, 200, "application/pkix-crl", crl, n) < 0)
                resp->status = 500;
        free(crl);
}

static void revoke_ask(native_ev *e) {
        uint8_t *der;
        size_t n;
        cp_amd_cert *ask = NULL;
        ASSERT_OK(cp_amdsp_ca_cert(e->sp, CP_AMD_CERT_ASK, &der, &n));
        ASSERT_OK(cp_amd_cert_load(der, n, &ask));
        const cp_amd_cert_info *ci = cp_amd_cert_info_get(ask);
        ASSERT_TRUE(ci->serial_len > 0 && ci->serial_len <= 20);
        ASSERT_OK(cp_amdsp_revoke(e->sp, ci->serial + sizeof(ci->serial) - ci->serial_len, ci->serial_len));
        cp_amd_cert_free(ask);
        free(der);
}

/* The confpool-attestd binary with --crl/--check-revocation: starts with a
 * CRL of the trusted ARK, exits 2 on a malformed file and 1 on a CRL of
 * another ARK. */
static int run_daemon(const char *const *args, bool expect_start) {
        const char *bin = getenv("CP_BIN_DIR");
        char path[1024], line[256];
        const char *argv[24] = { path };
        size_t n = 1;
        int out[2];
        ASSERT_TRUE(bin != NULL);
        snprintf(path, sizeof(path), "%s/confpool-attestd", bin);
        for (; args[n - 1]; n++)
                argv[n] = args[n - 1];
        argv[n] = NULL;
        ASSERT_EQ(pipe(out), 0);
        pid_t pid = fork();
        ASSERT_TRUE(pid >= 0);
        if (pid == 0) {
                dup2(out[1], 1);
                int devnull = open("/dev/null", O_WRONLY);
                if (devnull >= 0)
                        dup2(devnull, 2);
                close(out[0]);
                execv(path, (char *const *) argv);
                _exit(127);
        }
        close(out[1]);
        FILE *f = fdopen(out[0], "r");
        if (expect_start) {
                ASSERT_TRUE(fgets(line, sizeof(line), f) != NULL);
                ASSERT_TRUE(strstr(line, "\"port\":"));
                kill(pid, SIGTERM);
        }
        int status = 0;
        ASSERT_EQ(waitpid(pid, &status, 0), pid);
        fclose(f);
        ASSERT_TRUE(WIFEXITED(status));
        return WEXITSTATUS(status);
}

static void daemon_with_crl(native_ev *e, const uint8_t *crl, size_t crl_len) {
        char ark[128], good[128], bad[128];
        snprintf(ark, sizeof(ark), "%s/ark.der", e->dir);
        snprintf(good, sizeof(good), "%s/good.crl", e->dir);
        snprintf(bad, sizeof(bad), "%s/bad.crl", e->dir);
        ASSERT_OK(cp_write_file(ark, e->ark, e->ark_len, 0644));
        ASSERT_OK(cp_write_file(good, crl, crl_len, 0644));
        ASSERT_OK(cp_write_file(bad, crl, crl_len / 2, 0644));
        const char *ok[] = { "--port", "0", "--test-mode", "--now", "1748736000", "--quiet", "--only-extra-arks", "--extra-ark", ark,
                             "--crl", good, "--check-revocation", "--crl-max-age", "600", NULL };
        ASSERT_EQ(run_daemon(ok, true), 0);
        const char *trunc[] = { "--port", "0", "--quiet", "--crl", bad, "--check-revocation", NULL };
        ASSERT_EQ(run_daemon(trunc, false), 2);
        /* AMD's roots only: the emulated ARK's CRL is not trusted */
        const char *untrusted[] = { "--port", "0", "--test-mode", "--now", "1748736000", "--quiet", "--crl", good, NULL };
        ASSERT_EQ(run_daemon(untrusted, false), 1);
        const char *age[] = { "--port", "0", "--quiet", "--crl-max-age", "0", NULL };
        ASSERT_EQ(run_daemon(age, false), 2);
}

TEST(revocation_checking_with_crls_of_the_emulated_amdsp) {
        native_ev e;
        uint8_t *crl0 = NULL, *crl1 = NULL;
        size_t l0, l1;
        native_ev_setup(&e);
        ASSERT_OK(cp_amdsp_crl(e.sp, NOW, &crl0, &l0)); /* nothing revoked; valid NOW - 1 h .. NOW + 7 d */

        crl_load_refusals(&e, crl0, l0);
        daemon_with_crl(&e, crl0, l0);

        /* no CRL and no KDS: fail closed */
        cp_attestd *s = start_revocation(&e, NULL, 0, NULL);
        expect_revoked(s, &e, "no-crl", "no ASK CRL for Milan");
        ASSERT_EQ(metric(s, "attestd_revocation_refusals_total{reason=\"no_valid_crl\"}"), 1);
        cp_attestd_free(s);

        /* a configured CRL: cold, then warm */
        cp_attestd *cfgd = start_revocation(&e, crl0, l0, NULL);
        expect_attests(cfgd, &e, "cfg-1");
        expect_attests(cfgd, &e, "cfg-2");
        ASSERT_EQ(metric(cfgd, "attestd_report_cache_hits_total"), 1);
        /* past nextUpdate: refused, cached or not; valid again when the clock is back */
        cp_attestd_set_now(cfgd, NOW + 7 * 86400);
        expect_revoked(cfgd, &e, "cfg-stale", "past its nextUpdate");
        cp_attestd_set_now(cfgd, NOW);
        expect_attests(cfgd, &e, "cfg-3");
        ASSERT_EQ(metric(cfgd, "attestd_report_cache_hits_total"), 2);

        /* CRLs from a KDS on loopback, fetched once and shared, refetched after the maximum age */
        crl_kds k = { .sp = e.sp, .now = NOW };
        cp_httpd_options ho = { .threads = 1 };
        cp_httpd *kds = NULL;
        char base[64];
        ASSERT_OK(cp_httpd_start(&ho, crl_kds_handler, &k, &kds));
        snprintf(base, sizeof(base), "http://127.0.0.1:%u", (unsigned) cp_httpd_port(kds));
        s = start_revocation(&e, NULL, 0, base);
        expect_attests(s, &e, "kds-1");
        expect_attests(s, &e, "kds-2"); /* the entry of the request that installed a CRL is not used */
        expect_attests(s, &e, "kds-3");
        ASSERT_EQ(__atomic_load_n(&k.hits, __ATOMIC_SEQ_CST), 1);
        ASSERT_EQ(metric(s, "attestd_crl_fetches_total"), 1);
        ASSERT_EQ(metric(s, "attestd_report_verifications_total"), 2);
        ASSERT_EQ(metric(s, "attestd_report_cache_hits_total"), 1);
        /* the ASK is revoked; the next CRL (after the maximum age of 1 h) lists it */
        revoke_ask(&e);
        cp_attestd_set_now(s, NOW + 1800);
        expect_attests(s, &e, "kds-warm"); /* the CRL in force is still valid and does not list it */
        __atomic_store_n(&k.now, NOW + 3700, __ATOMIC_SEQ_CST);
        cp_attestd_set_now(s, NOW + 3700);
        expect_revoked(s, &e, "kds-revoked", "revoked");
        ASSERT_EQ(__atomic_load_n(&k.hits, __ATOMIC_SEQ_CST), 2);
        ASSERT_EQ(metric(s, "attestd_revocation_refusals_total{reason=\"revoked\"}"), 1);
        /* the KDS goes away: when the CRL is too old, refused with the fetch failure; no retry storm */
        cp_httpd_stop(kds);
        cp_attestd_set_now(s, NOW + 3700 + 3700);
        expect_revoked(s, &e, "kds-down", "the KDS fetch failed");
        expect_revoked(s, &e, "kds-down-2", "maximum age");
        ASSERT_EQ(metric(s, "attestd_crl_fetches_total"), 3);
        ASSERT_EQ(metric(s, "attestd_crl_fetch_failures_total"), 1);
        cp_attestd_free(s);

        /* a new CRL given to the running service: the report cached warm before is refused */
        ASSERT_OK(cp_amdsp_crl(e.sp, NOW + 60, &crl1, &l1));
        expect_attests(cfgd, &e, "cfg-4");
        unsigned long hits = metric(cfgd, "attestd_report_cache_hits_total");
        ASSERT_OK(cp_attestd_add_crl(cfgd, crl1, l1));
        expect_revoked(cfgd, &e, "cfg-revoked", "serial");
        expect_revoked(cfgd, &e, "cfg-revoked-2", "serial");
        ASSERT_EQ(metric(cfgd, "attestd_report_cache_hits_total"), hits);
        ASSERT_EQ(metric(cfgd, "attestd_crl_updates_total"), 2);
        /* no rollback to the older CRL */
        ASSERT_ERR(cp_attestd_add_crl(cfgd, crl0, l0), CP_EEXPIRED);
        expect_revoked(cfgd, &e, "cfg-revoked-3", "serial");
        cp_attestd_free(cfgd);

        /* a service started with the new CRL refuses from the first request */
        s = start_revocation(&e, crl1, l1, NULL);
        expect_revoked(s, &e, "new-revoked", "ASK-Milan serial");
        cp_attestd_free(s);

        free(crl0);
        free(crl1);
        native_ev_free(&e);
}

/* Tokens signed on the service's worker threads (each keeps its own signing
 * context) verify with every algorithm, also across a key rotation, and
 * carry distinct jti values (instance prefix, counter, time). */
TEST(tokens_from_worker_threads_across_rotation) {
        static const cp_jwt_alg algs[] = { CP_JWT_RS256, CP_JWT_ES256, CP_JWT_ES384 };
        json_t *ev = load_json(cases[0].file);
        char *nonce = nonce_of(&cases[0]), *body = vtpm_body(ev, nonce);
        char seen[40][65];
        size_t n_seen = 0;
        for (size_t a = 0; a < CP_ELEMENTSOF(algs); a++) {
                cp_attestd_config cfg = { .now = NOW, .quiet = true, .threads = 3, .alg = algs[a] };
                cp_attestd *s = NULL;
                ASSERT_OK(cp_attestd_new(&cfg, &s));
                ASSERT_OK(cp_attestd_start(s));
                const char *kid0 = NULL;
                char kid_first[128] = "";
                for (int i = 0; i < 12; i++) {
                        if (i == 6)
                                ASSERT_OK(cp_attestd_rotate_key(s));
                        long st;
                        json_t *r = call(s, "POST", "/attest/AzureSnpVtpm", body, &st, NULL);
                        ASSERT_EQ(st, 200);
                        const char *tok = json_string_value(json_object_get(r, "token"));
                        cp_jwt *t = validate_algs(s, tok, algs[a]);
                        kid0 = json_string_value(json_object_get(cp_jwt_header(t), "kid"));
                        ASSERT_EQ(cp_jwt_get_alg(t), algs[a]);
                        ASSERT_TRUE(kid0 != NULL);
                        if (i == 0)
                                snprintf(kid_first, sizeof(kid_first), "%s", kid0);
                        /* signed by the current key: the first before the rotation, the new one after */
                        ASSERT_TRUE((strcmp(kid0, kid_first) == 0) == (i < 6));
                        const char *jti = claim_s(t, "jti");
                        ASSERT_TRUE(jti && strlen(jti) == 64 && strspn(jti, "0123456789abcdef") == 64);
                        if (i % 2 == 0 && n_seen < CP_ELEMENTSOF(seen))
                                snprintf(seen[n_seen++], sizeof(seen[0]), "%s", jti);
                        cp_jwt_free(t);
                        json_decref(r);
                }
                cp_attestd_free(s);
        }
        for (size_t i = 0; i < n_seen; i++)
                for (size_t j = i + 1; j < n_seen; j++)
                        ASSERT_TRUE(strcmp(seen[i], seen[j]) != 0);
        free(body);
        free(nonce);
        json_decref(ev);
}

/* The route table, the /tenants/{tenant}/ prefix step and the answers the
 * skeleton gives around them (docs/attestation-service.md, "Endpoints"):
 * requests straight to the handler, so that the Allow header and the
 * metrics can be read; the admin routes over HTTP (the bearer token). */
TEST(routes_tenants_and_methods) {
        cp_attestd *s = start();
        static const struct {
                const char *method, *path, *body;
                unsigned status;
                const char *code, *allow;
        } reqs[] = {
                { "GET", "/healthz", NULL, 200, NULL, NULL },
                { "GET", "/tenants/blue/healthz", NULL, 200, NULL, NULL },
                { "GET", "/tenants/blue/healthz/", NULL, 200, NULL, NULL },
                { "GET", "/tenants/blue/policies/sevsnpvm", NULL, 200, NULL, NULL },
                { "GET", "/tenants/blue", NULL, 404, "NotFound", NULL },
                { "GET", "/tenants/a123456789a123456789a123456789a123456789a123456789a123456789abcde/healthz", NULL,
                  404, "NotFound", NULL },
                { "GET", "/tenants/bl!ue/healthz", NULL, 400, "InvalidParameter", NULL },
                { "GET", "/tenants//healthz", NULL, 400, "InvalidParameter", NULL },
                { "GET", "/tenants/blue/nothing", NULL, 404, "NotFound", NULL },
                { "GET", "/tenants/blue/tenants/red/healthz", NULL, 404, "NotFound", NULL },
                { "POST", "/attest/Sgx", "{}", 404, "NotFound", NULL },
                { "POST", "/attest/SevSnpVm/x", "{}", 404, "NotFound", NULL },
                { "GET", "/attest/SevSnpVm", NULL, 405, "MethodNotAllowed", "POST" },
                { "GET", "/challenge", NULL, 405, "MethodNotAllowed", "POST" },
                { "POST", "/certs", "{}", 405, "MethodNotAllowed", "GET" },
                { "DELETE", "/policies/SevSnpVm", NULL, 405, "MethodNotAllowed", "GET, PUT, POST" },
                { "GET", "/policies/Sgx", NULL, 404, "NotFound", NULL },
                { "GET", "/policies/SevSnpVm:undo", NULL, 404, "NotFound", NULL },
                { "GET", "/policies/SevSnpVm:reset", NULL, 405, "MethodNotAllowed", "POST" },
                { "POST", "/attest/SevSnpVm", "{}", 400, "InvalidParameter", NULL },
                { "POST", "/tenants/blue/attest/Native", "[1]", 400, "InvalidParameter", NULL },
        };
        unsigned long n4xx = 0;
        static const cp_http_pair q[] = { { "api-version", "2022-08-01" } };
        for (size_t i = 0; i < CP_ELEMENTSOF(reqs); i++) {
                cp_http_request req = { .method = reqs[i].method, .path = reqs[i].path,
                                        .body = (const uint8_t *) reqs[i].body,
                                        .body_len = reqs[i].body ? strlen(reqs[i].body) : 0, .remote_addr = "test",
                                        .query = q, .n_query = 1 };
                cp_http_response resp = { 0 };
                cp_attestd_handle(s, &req, &resp);
                if (resp.status != reqs[i].status)
                        cp_test_fail(__FILE__, __LINE__, "%s %s: %u, expected %u", reqs[i].method, reqs[i].path,
                                     resp.status, reqs[i].status);
                json_t *b = json_loadb((const char *) resp.body, resp.body_len, 0, NULL);
                if (reqs[i].code)
                        ASSERT_STREQ(json_string_value(json_object_get(json_object_get(b, "error"), "code")),
                                     reqs[i].code);
                const char *allow = NULL;
                for (size_t k = 0; k < resp.n_headers; k++)
                        if (strcmp(resp.header_names[k], "Allow") == 0)
                                allow = resp.header_values[k];
                if (reqs[i].allow)
                        ASSERT_STREQ(allow, reqs[i].allow);
                n4xx += resp.status >= 400;
                json_decref(b);
                free(resp.body);
                for (size_t k = 0; k < resp.n_headers; k++) {
                        free(resp.header_names[k]);
                        free(resp.header_values[k]);
                }
        }
        /* every answer counted, the refused attestations by type and reason */
        ASSERT_EQ(atomic_load(&s->m.http_requests), CP_ELEMENTSOF(reqs));
        ASSERT_EQ(atomic_load(&s->m.http_4xx), n4xx);
        ASSERT_EQ(atomic_load(&s->m.failure[ATT_SEVSNPVM][-CP_EFORMAT]), 1u);
        ASSERT_EQ(atomic_load(&s->m.failure[ATT_NATIVE][-CP_EFORMAT]), 1u);
        ASSERT_EQ(atomic_load(&s->m.requests[ATT_AZURE_VTPM]), 0u);

        /* the admin routes: authentication before the type and the operation */
        char *jws = policy_jws("version=1.0; authorizationrules { => permit(); }; issuancerules { };");
        static const struct {
                const char *method, *path;
                bool admin, body;
                long status;
                const char *code;
        } admin[] = {
                { "POST", "/policies/SevSnpVm:reset", false, false, 401, "Unauthorized" },
                { "POST", "/policies/Sgx:reset", false, false, 401, "Unauthorized" },
                { "PUT", "/tenants/blue/policies/SevSnpVm", false, true, 401, "Unauthorized" },
                { "PUT", "/policies/Sgx", true, true, 404, "NotFound" },
                { "PUT", "/policies/SevSnpVm:reset", true, true, 405, "MethodNotAllowed" },
                { "POST", "/policies/SevSnpVm", true, false, 405, "MethodNotAllowed" },
                { "POST", "/policies/SevSnpVm:undo", true, false, 404, "NotFound" },
                { "PUT", "/tenants/blue/policies/SevSnpVm", true, true, 200, NULL },
                { "POST", "/tenants/blue/policies/sevsnpvm:reset", true, false, 200, NULL },
        };
        for (size_t i = 0; i < CP_ELEMENTSOF(admin); i++) {
                long st;
                json_t *r = call(s, admin[i].method, admin[i].path, admin[i].body ? jws : NULL, &st,
                                 admin[i].admin ? ADMIN : NULL);
                if (st != admin[i].status)
                        cp_test_fail(__FILE__, __LINE__, "%s %s: %ld, expected %ld", admin[i].method, admin[i].path,
                                     st, admin[i].status);
                if (admin[i].code)
                        ASSERT_STREQ(json_string_value(json_object_get(json_object_get(r, "error"), "code")),
                                     admin[i].code);
                else
                        ASSERT_STREQ(json_string_value(json_object_get(r, "policyResolution")),
                                     admin[i].method[1] == 'U' ? "Updated" : "Removed");
                json_decref(r);
        }
        free(jws);
        cp_attestd_free(s);
}

/* ---- challenge flood (issue 13 item 5) ---------------------------------------------- */

/* POST /challenge in-process, as if from addr. */
static unsigned challenge_from(cp_attestd *s, const char *addr) {
        static const cp_http_pair q[] = { { "api-version", "2022-08-01" } };
        cp_http_request req = { .method = "POST", .path = "/challenge", .remote_addr = addr, .query = q,
                                .n_query = 1 };
        cp_http_response resp = { 0 };
        cp_attestd_handle(s, &req, &resp);
        unsigned st = resp.status;
        cp_http_resp_clear(&resp);
        return st;
}

/* The node flow over HTTP (from 127.0.0.1): POST /challenge, then native
 * evidence bound to that nonce.  flood_same_source: that many challenges
 * from 127.0.0.1 in between.  Returns the attest's status. */
static long legit_attest(cp_attestd *s, native_ev *e, unsigned flood_same_source, char *msg, size_t cap) {
        long st;
        json_t *c = call(s, "POST", "/challenge?api-version=2022-08-01", NULL, &st, NULL);
        if (st != 200) {
                json_decref(c);
                return st;
        }
        const char *txt = json_string_value(json_object_get(c, "nonce"));
        uint8_t nonce[64];
        size_t nl;
        ASSERT_OK(cp_b64_decode(txt, strlen(txt), CP_B64_URL, nonce, sizeof(nonce), &nl));
        json_decref(c);
        for (unsigned i = 0; i < flood_same_source; i++)
                ASSERT_EQ(challenge_from(s, "127.0.0.1"), 200);
        char *body = native_body_n(e, nonce, nl, e->pcr, false);
        json_t *r = call(s, "POST", "/attest/Native?api-version=2022-08-01", body, &st, NULL);
        snprintf(msg, cap, "%s", st == 200 ? "" : error_message(r) ? error_message(r) : "?");
        free(body);
        json_decref(r);
        return st;
}

typedef struct flooder {
        cp_attestd *s;
        atomic_bool stop;
        unsigned long sent, refused;
} flooder;

static void *flood_challenges(void *arg) {
        flooder *f = arg;
        while (!atomic_load(&f->stop)) {
                f->refused += challenge_from(f->s, "127.0.0.2") != 200;
                f->sent++;
        }
        return NULL;
}

/* ~16k unauthenticated challenges used to fill the table: attestd answered
 * 503 to every new one until they expired 300 s later.  Now a flooder only
 * recycles its own quota: every challenge is answered, the table stays
 * bounded, a node's challenge + native attest succeeds during a flood from
 * another address, and even from the same address (its challenge survives
 * ATTESTD_NONCE_PER_SOURCE - 1 newer ones); expired ones are reclaimed. */
TEST(challenge_flood_leaves_room) {
        native_ev e;
        native_ev_setup(&e);
        cp_attestd *s = start_emulated(&e);
        char msg[512];
        for (unsigned i = 0; i < ATTESTD_NONCE_SLOTS + 4000; i++)
                ASSERT_EQ(challenge_from(s, "127.0.0.2"), 200);
        ASSERT_TRUE(s->nonces.n <= ATTESTD_NONCE_PER_SOURCE);
        ASSERT_TRUE(atomic_load(&s->m.challenges_evicted) >= ATTESTD_NONCE_SLOTS + 4000 - ATTESTD_NONCE_PER_SOURCE);

        /* during a flood from another address */
        flooder f = { .s = s };
        pthread_t th;
        ASSERT_EQ(pthread_create(&th, NULL, flood_challenges, &f), 0);
        for (int i = 0; i < 3; i++) {
                long st = legit_attest(s, &e, 0, msg, sizeof(msg));
                if (st != 200)
                        cp_test_fail(__FILE__, __LINE__, "attest during a flood: %ld %s", st, msg);
        }
        atomic_store(&f.stop, true);
        pthread_join(th, NULL);
        ASSERT_EQ(f.refused, 0);
        ASSERT_TRUE(f.sent > 0);

        /* from the same address: survives PER_SOURCE - 1 newer challenges, not PER_SOURCE */
        ASSERT_EQ(legit_attest(s, &e, ATTESTD_NONCE_PER_SOURCE - 1, msg, sizeof(msg)), 200);
        ASSERT_EQ(legit_attest(s, &e, ATTESTD_NONCE_PER_SOURCE, msg, sizeof(msg)), 400);
        ASSERT_TRUE(strstr(msg, "unknown") != NULL);

        /* expired challenges are reclaimed */
        cp_attestd_set_now(s, NOW + 300 + ATTESTD_NONCE_GRACE_S + 1);
        ASSERT_EQ(challenge_from(s, "127.0.0.3"), 200);
        ASSERT_EQ(s->nonces.n, 1);
        ASSERT_TRUE(atomic_load(&s->m.challenges_expired) > 0);
        cp_attestd_set_now(s, NOW);
        cp_attestd_free(s);
        native_ev_free(&e);
}

/* ---- api-version (issue 13 item 12) -------------------------------------------------- */

typedef struct apiver_row {
        const char *name;
        const char *method, *path;
        unsigned status;
        const char *code; /* NULL: any answer but a 400 for the api-version */
} apiver_row;

static const apiver_row apiver_rows[] = {
        { "challenge without", "POST", "/challenge", 400, "MissingApiVersionParameter" },
        { "challenge empty", "POST", "/challenge?api-version=", 400, "MissingApiVersionParameter" },
        { "challenge unknown", "POST", "/challenge?api-version=2099-01-01", 400, "InvalidApiVersionParameter" },
        { "attest without", "POST", "/attest/SevSnpVm", 400, "MissingApiVersionParameter" },
        { "tenant attest unknown", "POST", "/tenants/t1/attest/Native?api-version=1", 400,
          "InvalidApiVersionParameter" },
        { "policy without", "GET", "/policies/SevSnpVm", 400, "MissingApiVersionParameter" },
        { "challenge 2020-10-01", "POST", "/challenge?api-version=2020-10-01", 200, NULL },
        { "policy 2022-08-01", "GET", "/policies/SevSnpVm?api-version=2022-08-01", 200, NULL },
        { "certs need none", "GET", "/certs", 200, NULL },
        { "openid need none", "GET", "/.well-known/openid-configuration", 200, NULL },
};

static void apiver_one(void *ctx, const void *row) {
        const apiver_row *r = row;
        cp_attestd *s = ctx;
        char url[256];
        cp_httpc_options o = { .timeout_ms = 20000 };
        cp_httpc_response resp = { 0 };
        snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", (unsigned) cp_attestd_port(s), r->path);
        ASSERT_OK(cp_httpc_request(&o, r->method, url, NULL, NULL, 0, &resp));
        ASSERT_EQ(resp.status, r->status);
        if (r->code) {
                json_t *j = json_loadb((const char *) resp.body, resp.body_len, 0, NULL);
                ASSERT_STREQ(json_string_value(json_object_get(json_object_get(j, "error"), "code")), r->code);
                /* the message names the path refused and the versions supported */
                const char *m = error_message(j);
                ASSERT_TRUE(m && strstr(m, "2022-08-01") && strstr(m, "/"));
                json_decref(j);
        }
        cp_httpc_response_clear(&resp);
}

/* attestd accepted any or no api-version; now, as MAA, the data-plane
 * routes require a supported one. */
TEST(api_version_required) {
        cp_attestd_config cfg = { .now = NOW, .quiet = true, .threads = 1 };
        cp_attestd *s = NULL;
        ASSERT_OK(cp_attestd_new(&cfg, &s));
        ASSERT_OK(cp_attestd_start(s));
        TEST_TABLE(apiver_rows, apiver_one, s);
        cp_attestd_free(s);
}

/* Refused requests wrote one access log line each; now a burst a window
 * and the rest counted (here in the line at exit). */
TEST(refused_request_log_rate_limited) {
        cp_attestd_config cfg = { .now = NOW, .quiet = false, .threads = 1 };
        cp_attestd *s = NULL;
        char path[] = "/tmp/cp-attestd-log-XXXXXX";
        int fd = mkstemp(path);
        ASSERT_TRUE(fd >= 0);
        fflush(stderr);
        int saved = dup(2);
        ASSERT_TRUE(saved >= 0 && dup2(fd, 2) == 2);
        close(fd);
        ASSERT_OK(cp_attestd_new(&cfg, &s));
        for (int i = 0; i < 500; i++) {
                cp_http_request req = { .method = "POST", .path = "/challenge", .remote_addr = "192.0.2.1" };
                cp_http_response resp = { 0 };
                cp_attestd_handle(s, &req, &resp);
                ASSERT_EQ(resp.status, 400); /* no api-version */
                cp_http_resp_clear(&resp);
        }
        cp_attestd_free(s);
        fflush(stderr);
        ASSERT_TRUE(dup2(saved, 2) == 2);
        close(saved);
        FILE *f = fopen(path, "r");
        ASSERT_TRUE(f != NULL);
        char line[2048];
        unsigned long lines = 0, more = 0, n;
        while (fgets(line, sizeof line, f)) {
                const char *p;
                if (strstr(line, "\"event\":\"http\""))
                        lines++;
                else if ((p = strstr(line, "\"refused\":")) && sscanf(p, "\"refused\":%lu", &n) == 1)
                        more += n;
                else if ((p = strstr(line, "\"lines\":")) && sscanf(p, "\"lines\":%lu", &n) == 1)
                        more += n;
        }
        fclose(f);
        unlink(path);
        ASSERT_TRUE(lines > 0 && lines <= 2 * CP_LOG_LIMIT_BURST);
        ASSERT_EQ(lines + more, 500);
}
