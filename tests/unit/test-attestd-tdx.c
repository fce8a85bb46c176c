/* SPDX-License-Identifier: Apache-2.0 */
/* confpool-attestd's POST /attest/TdxVm (issue 16) over HTTP on loopback:
 * quotes of a software TDX platform verified with its emulated root and
 * collateral fetched from its emulated PCS (served on loopback), MAA's TDX
 * claims in the token, and every malformed or unbound request refused with
 * a message naming what. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/sha.h>

#include "attestd/attestd.h"
#include "basic/cleanup.h"
#include "basic/codec.h"
#include "confpool/jwt.h"
#include "emu/tdx_emu.h"
#include "service/httpc.h"
#include "service/httpd.h"
#include "tdvf-testutil.h"
#include "tests.h"

typedef struct plat {
        cp_tdx_pcs *pcs;
        cp_httpd *pcs_httpd;
        cp_tdx_host *host;
        char *root;
        size_t root_len;
        char url[64];
} plat;

static plat P;
static cp_attestd *S;
static const char RT[] = "{\"keys\":[],\"vm-configuration\":{\"vmUniqueId\":\"td-1\"}}";

static void plat_up(plat *p) {
        ASSERT_OK(cp_tdx_pcs_new(NULL, &p->pcs));
        ASSERT_OK(cp_tdx_pcs_start(p->pcs, "127.0.0.1", 0, &p->pcs_httpd));
        snprintf(p->url, sizeof(p->url), "http://127.0.0.1:%u", cp_httpd_port(p->pcs_httpd));
        ASSERT_OK(cp_tdx_host_new(p->pcs, NULL, &p->host));
        ASSERT_OK(cp_tdx_pcs_root_pem(p->pcs, &p->root, &p->root_len));
}

static void plat_down(plat *p) {
        p->pcs_httpd = cp_httpd_stop(p->pcs_httpd);
        cp_tdx_host_free(p->host);
        cp_tdx_pcs_free(p->pcs);
        free(p->root);
        memset(p, 0, sizeof(*p));
}

static cp_attestd *attestd_for(const plat *p, bool with_pcs) {
        cp_attestd_config c = { .quiet = true, .threads = 2,
                                .tdx_trust_root = (const uint8_t *) p->root, .tdx_trust_root_len = p->root_len,
                                .tdx_pcs_url = with_pcs ? p->url : NULL, .tdx_collateral_max_age_s = 1 };
        cp_attestd *s = NULL;
        ASSERT_OK(cp_attestd_new(&c, &s));
        ASSERT_OK(cp_attestd_start(s));
        return s;
}

static void teardown(void) {
        cp_attestd_free(S);
        plat_down(&P);
}

static void setup(void) {
        if (S)
                return;
        plat_up(&P);
        S = attestd_for(&P, true);
        atexit(teardown);
}

/* A quote of a TD (attributes) whose REPORTDATA binds rt (NULL: 64 x fill). */
static char *quote_b64(plat *p, uint64_t attributes, const char *rt, uint8_t mrtd[48], size_t *raw_len) {
        size_t img_len;
        _cleanup_free_ uint8_t *img = t_tdvf_build(t_tdvf_default, CP_ELEMENTSOF(t_tdvf_default), &img_len);
        cp_tdx_td *td = NULL;
        cp_tdx_td_params tp = { .attributes = attributes };
        memset(tp.mrconfigid, 0xc1, 48);
        ASSERT_OK(cp_tdx_host_launch(p->host, &tp, img, img_len, CP_TDX_ORDER_SINGLE_PASS, &td));
        if (mrtd)
                cp_tdx_td_mrtd(td, mrtd);
        uint8_t rd[64] = { 0 }, rep[CP_TDX_TDREPORT_SIZE];
        if (rt)
                SHA256((const uint8_t *) rt, strlen(rt), rd);
        else
                memset(rd, 0x5a, sizeof(rd));
        ASSERT_OK(cp_tdx_td_report(td, rd, rep));
        cp_tdx_td_free(td);
        _cleanup_free_ uint8_t *q = NULL;
        size_t ql;
        ASSERT_OK(cp_tdx_host_quote(p->host, rep, &q, &ql));
        if (raw_len)
                *raw_len = ql;
        char *b = malloc(cp_b64_encoded_len(ql, CP_B64_URL) + 1);
        cp_b64_encode(q, ql, CP_B64_URL, b);
        return b;
}

static char *b64(const char *s) {
        char *b = malloc(cp_b64_encoded_len(strlen(s), CP_B64_URL) + 1);
        cp_b64_encode((const uint8_t *) s, strlen(s), CP_B64_URL, b);
        return b;
}

static json_t *post(cp_attestd *s, const char *body, long *status) {
        char url[128];
        snprintf(url, sizeof(url), "http://127.0.0.1:%u/attest/TdxVm?api-version=2022-08-01",
                 (unsigned) cp_attestd_port(s));
        cp_httpc_options o = { .timeout_ms = 20000 };
        cp_httpc_response r = { 0 };
        ASSERT_OK(cp_httpc_request(&o, "POST", url, NULL, body, strlen(body), &r));
        *status = r.status;
        json_t *j = json_loadb((const char *) r.body, r.body_len, 0, NULL);
        cp_httpc_response_clear(&r);
        ASSERT_TRUE(j != NULL);
        return j;
}

/* The token's payload (signature checked against the service's JWKS). */
static json_t *claims_of(cp_attestd *s, json_t *resp) {
        const char *tok = json_string_value(json_object_get(resp, "token"));
        ASSERT_TRUE(tok != NULL);
        _cleanup_free_ char *jwks = NULL;
        ASSERT_OK(cp_attestd_jwks_json(s, &jwks));
        cp_jwks *ks = NULL;
        ASSERT_OK(cp_jwks_parse(jwks, strlen(jwks), &ks));
        cp_jwt *t = NULL;
        cp_jwt_validate_options vo = CP_JWT_VALIDATE_OPTIONS_INIT;
        vo.jwks = ks;
        vo.issuer = cp_attestd_issuer(s);
        ASSERT_OK(cp_jwt_validate(tok, strlen(tok), &vo, &t));
        json_t *c = json_deep_copy(cp_jwt_claims(t));
        cp_jwt_free(t);
        cp_jwks_free(ks);
        return c;
}

static const char *error_of(json_t *r) {
        const char *m = json_string_value(json_object_get(json_object_get(r, "error"), "message"));
        return m ? m : "";
}

TEST(maa_tdxvm_request_with_runtime_data) {
        setup();
        uint8_t mrtd[48];
        _cleanup_free_ char *q = quote_b64(&P, 1ull << 28, RT, mrtd, NULL), *rt = b64(RT);
        _cleanup_free_ char *body = malloc(strlen(q) + strlen(rt) + 256);
        sprintf(body, "{\"quote\":\"%s\",\"runtimeData\":{\"data\":\"%s\",\"dataType\":\"JSON\"},\"nonce\":\"n-1\"}", q,
                rt);
        long st;
        json_t *r = post(S, body, &st);
        if (st != 200)
                cp_test_fail(__FILE__, __LINE__, "HTTP %ld: %s", st, error_of(r));
        json_t *c = claims_of(S, r);
        char hex[97];
        cp_hex_encode(mrtd, 48, hex);
        hex[96] = '\0';
        ASSERT_STREQ(json_string_value(json_object_get(c, "x-ms-attestation-type")), "tdxvm");
        ASSERT_STREQ(json_string_value(json_object_get(c, "tdx_mrtd")), hex);
        ASSERT_STREQ(json_string_value(json_object_get(c, "attester_tcb_status")), "UpToDate");
        ASSERT_TRUE(json_is_false(json_object_get(c, "tdx_td_attributes_debug")));
        ASSERT_TRUE(json_is_true(json_object_get(c, "tdx_td_attributes_septve_disable")));
        ASSERT_STREQ(json_string_value(json_object_get(c, "x-confpool-tdx-fmspc")), "90c06f000000");
        ASSERT_STREQ(json_string_value(json_object_get(c, "nonce")), "n-1");
        ASSERT_STREQ(json_string_value(json_object_get(c, "x-ms-compliance-status")), "confpool-verified-tdx");
        ASSERT_STREQ(json_string_value(json_object_get(json_object_get(json_object_get(c, "x-ms-runtime"),
                                                                       "vm-configuration"),
                                                       "vmUniqueId")),
                     "td-1");
        for (int i = 0; i < 4; i++) {
                char k[16];
                snprintf(k, sizeof(k), "tdx_rtmr%d", i);
                ASSERT_EQ(strlen(json_string_value(json_object_get(c, k))), 96);
        }
        /* not the node flow: no evidence type for the control plane */
        ASSERT_TRUE(json_object_get(c, "x-confpool-evidence-type") == NULL);
        json_decref(c);
        json_decref(r);
        /* the same quote again: the verifier's cache (warm) */
        r = post(S, body, &st);
        ASSERT_EQ(st, 200);
        json_decref(r);
}

TEST(out_of_date_platform_gets_a_token_saying_so) {
        setup();
        plat p2;
        plat_up(&p2);
        cp_attestd *s = attestd_for(&p2, true);
        cp_tdx_tcb t;
        cp_tdx_pcs_default_tcb(p2.pcs, &t);
        t.tdx[2]++;
        ASSERT_OK(cp_tdx_pcs_tcb_recovery(p2.pcs, &t, "INTEL-SA-01234"));
        _cleanup_free_ char *q = quote_b64(&p2, 0, NULL, NULL, NULL);
        _cleanup_free_ char *body = malloc(strlen(q) + 64);
        sprintf(body, "{\"quote\":\"%s\"}", q);
        long st;
        json_t *r = post(s, body, &st);
        ASSERT_EQ(st, 200);
        json_t *c = claims_of(s, r);
        /* MAA's rule: a verified quote gets a token; the status is the relying party's */
        ASSERT_STREQ(json_string_value(json_object_get(c, "attester_tcb_status")), "OutOfDate");
        ASSERT_STREQ(json_string_value(json_array_get(json_object_get(c, "attester_advisory_ids"), 0)),
                     "INTEL-SA-01234");
        json_decref(c);
        json_decref(r);
        cp_attestd_free(s);
        plat_down(&p2);
}

TEST(foreign_root_and_no_pcs_refused) {
        setup();
        plat p2;
        plat_up(&p2);
        /* a quote of another emulated Intel: its PCK chain does not reach S's root */
        _cleanup_free_ char *q = quote_b64(&p2, 0, NULL, NULL, NULL);
        _cleanup_free_ char *body = malloc(strlen(q) + 64);
        sprintf(body, "{\"quote\":\"%s\"}", q);
        long st;
        json_t *r = post(S, body, &st);
        ASSERT_TRUE(st >= 400 && st < 500);
        if (!strstr(error_of(r), "TDX quote"))
                cp_test_fail(__FILE__, __LINE__, "'%s'", error_of(r));
        json_decref(r);
        /* an attestation service without a PCS refuses TDX, saying why */
        cp_attestd *s = attestd_for(&p2, false);
        r = post(s, body, &st);
        ASSERT_TRUE(st >= 400 && st < 600 && st != 200);
        if (!strstr(error_of(r), "no PCS configured"))
                cp_test_fail(__FILE__, __LINE__, "'%s'", error_of(r));
        json_decref(r);
        cp_attestd_free(s);
        plat_down(&p2);
}

TEST(debug_td_refused_by_the_default_policy) {
        setup();
        _cleanup_free_ char *q = quote_b64(&P, 1, NULL, NULL, NULL);
        _cleanup_free_ char *body = malloc(strlen(q) + 64);
        sprintf(body, "{\"quote\":\"%s\"}", q);
        long st;
        json_t *r = post(S, body, &st);
        ASSERT_TRUE(st >= 400 && st < 500);
        json_decref(r);
        /* the TdxVm default policy is served as such */
        char url[128];
        snprintf(url, sizeof(url), "http://127.0.0.1:%u/policies/TdxVm?api-version=2022-08-01",
                 (unsigned) cp_attestd_port(S));
        cp_httpc_options o = { .timeout_ms = 5000 };
        cp_httpc_response resp = { 0 };
        ASSERT_OK(cp_httpc_request(&o, "GET", url, NULL, NULL, 0, &resp));
        ASSERT_EQ(resp.status, 200);
        ASSERT_TRUE(strstr((const char *) resp.body, "tdx_td_attributes_debug") != NULL);
        cp_httpc_response_clear(&resp);
}

/* ---- malformed or unbound requests ---------------------------------------- */

typedef struct bad_row {
        const char *name;
        const char *fmt;    /* %1$s: a valid quote (base64url); %2$s: the runtime data (base64url) */
        const char *needle; /* in the error message */
} bad_row;

static const bad_row bad_rows[] = {
        { "no_quote", "{\"runtimeData\":{\"data\":\"%2$s\",\"dataType\":\"JSON\"}}", "quote" },
        { "quote_not_b64", "{\"quote\":\"%%%%%%\"}", "quote" },
        { "quote_truncated", "{\"quote\":\"AAAA\"}", "TDX quote" },
        { "unknown_member", "{\"quote\":\"%1$s\",\"evidence\":1}", "evidence" },
        { "runtime_unbound", "{\"quote\":\"%1$s\",\"runtimeData\":{\"data\":\"e30\",\"dataType\":\"JSON\"}}",
          "REPORTDATA does not bind" },
        { "runtime_bad_type", "{\"quote\":\"%1$s\",\"runtimeData\":{\"data\":\"%2$s\",\"dataType\":\"XML\"}}",
          "dataType" },
        { "tpm_quote_without_nonce", "{\"quote\":\"%1$s\",\"tpmQuote\":{\"message\":\"AA\",\"signature\":\"AA\"}}",
          "nonce" },
        { "tpm_quote_not_object", "{\"quote\":\"%1$s\",\"nonce\":\"AAAA\",\"tpmQuote\":[1]}", "tpmQuote" },
        { "tpm_quote_bad_format",
          "{\"quote\":\"%1$s\",\"nonce\":\"AAAA\",\"tpmQuote\":{\"message\":\"AA\",\"signature\":\"AA\","
          "\"signatureFormat\":\"pem\",\"pcrs\":[]}}",
          "signatureFormat" },
        { "tpm_quote_unknown_nonce",
          "{\"quote\":\"%1$s\",\"nonce\":\"AAAA\",\"runtimeData\":{\"data\":\"%2$s\",\"dataType\":\"JSON\"},"
          "\"tpmQuote\":{\"message\":\"AA\",\"signature\":\"AA\",\"pcrs\":[]}}",
          "nonce" },
        { "event_log_without_tpm_quote", "{\"quote\":\"%1$s\",\"eventLog\":\"AAAA\"}", "tpmQuote" },
        { "init_time_data_unbound",
          "{\"quote\":\"%1$s\",\"initTimeData\":{\"data\":\"AAAA\",\"dataType\":\"Binary\"}}", "MRCONFIGID" },
        { "nonce_too_long", "{\"quote\":\"%1$s\",\"nonce\":\"%3$s\"}", "nonce" },
};

static void bad_case(void *ctx, const void *row) {
        const bad_row *b = row;
        const char *q = ctx;
        _cleanup_free_ char *rt = b64(RT), *longn = malloc(5001);
        memset(longn, 'A', 5000);
        longn[5000] = '\0';
        size_t cap = strlen(b->fmt) + strlen(q) + strlen(rt) + 5100;
        _cleanup_free_ char *body = malloc(cap);
        snprintf(body, cap, b->fmt, q, rt, longn);
        long st;
        json_t *r = post(S, body, &st);
        if (st < 400 || st >= 500 || !strstr(error_of(r), b->needle))
                cp_test_fail(__FILE__, __LINE__, "HTTP %ld '%s' lacks '%s'", st, error_of(r), b->needle);
        json_decref(r);
}

TEST(malformed_requests_refused) {
        setup();
        _cleanup_free_ char *q = quote_b64(&P, 1ull << 28, RT, NULL, NULL);
        TEST_TABLE(bad_rows, bad_case, q);
}

TEST(every_byte_of_the_body_and_signature_matters) {
        setup();
        size_t ql;
        _cleanup_free_ char *q = quote_b64(&P, 0, NULL, NULL, &ql);
        uint8_t raw[8192];
        size_t n = 0;
        ASSERT_OK(cp_b64_decode(q, strlen(q), CP_B64_URL, raw, sizeof(raw), &n));
        ASSERT_EQ(n, ql);
        /* one flip in the header, the body (MRTD, REPORTDATA), the signature */
        static const size_t offs[] = { 20, 48 + 136, 48 + 520, 48 + 584 + 4 + 10 };
        for (size_t i = 0; i < CP_ELEMENTSOF(offs); i++) {
                uint8_t t[8192];
                memcpy(t, raw, n);
                t[offs[i]] ^= 0x10;
                char *b = malloc(cp_b64_encoded_len(n, CP_B64_URL) + 32);
                strcpy(b, "{\"quote\":\"");
                cp_b64_encode(t, n, CP_B64_URL, b + 10);
                strcat(b, "\"}");
                long st;
                json_t *r = post(S, b, &st);
                if (st == 200)
                        cp_test_fail(__FILE__, __LINE__, "flip at %zu accepted", offs[i]);
                json_decref(r);
                free(b);
        }
}
