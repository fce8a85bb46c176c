/* SPDX-License-Identifier: Apache-2.0 */
/*
 * confpool-agent's "azure-hcl" evidence mode (src/node/azure_cvm.c) on a
 * swtpm playing an Azure CVM's vTPM: the HCL report in NV 0x01400001, the
 * paravisor's AK persistent at 0x81000003, the SNP report from the emulated
 * AMD-SP, verified by an in-process attestd (POST /attest/AzureSnpVtpm).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/sha.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "attestd/attestd.h"
#include "basic/codec.h"
#include "basic/cursor.h"
#include "basic/fileio.h"
#include "basic/limits.h"
#include "confpool/azure.h"
#include "confpool/jwt.h"
#include "emu/amdsp.h"
#include "node/azure_cvm.h"
#include "service/httpc.h"
#include "service/httpd.h"
#include "node/vtpm.h"
#include "swtpm-testutil.h"
#include "tests.h"

#define REC "snp/confidential-containers__trustee/az-snp-vtpm/"

/* ---- a swtpm on loopback ------------------------------------------------ */

typedef struct tpm_env {
        char dir[64];
        pid_t pid;
        char tcti[96];
        cp_vtpm *t;
} tpm_env;

static void tpm_start(tpm_env *e) {
        uint16_t port;
        memset(e, 0, sizeof(*e));
        snprintf(e->dir, sizeof(e->dir), "/tmp/cp-azcvm-XXXXXX");
        ASSERT_TRUE(mkdtemp(e->dir));
        swtpm_test_start(e->dir, &port, &e->pid, e->tcti, sizeof(e->tcti));
        ASSERT_OK(cp_vtpm_open(e->tcti, &e->t));
}

static void tpm_stop(tpm_env *e) {
        e->t = cp_vtpm_close(e->t);
        kill(e->pid, SIGTERM);
        waitpid(e->pid, NULL, 0);
        char cmd[96];
        snprintf(cmd, sizeof(cmd), "rm -rf %s", e->dir);
        ASSERT_EQ(system(cmd), 0);
}

/* ---- an HCL report as the paravisor lays it out (azure.h) --------------- */

/* HCL report v2 around an SNP report and runtime data, zero-padded to size. */
static uint8_t *hcl_build(const uint8_t snp[CP_SNP_REPORT_SIZE], const char *rt, size_t size, size_t *ret_len) {
        size_t rl = strlen(rt), len = CP_HCL_VARIABLE_DATA_OFFSET + rl;
        ASSERT_TRUE(size >= len);
        uint8_t *b = calloc(1, size);
        cp_put_le32(b, CP_HCL_SIGNATURE);
        cp_put_le32(b + 4, 2);
        cp_put_le32(b + 8, (uint32_t) len);
        cp_put_le32(b + 12, CP_HCL_REQUEST_AK_CERT);
        memcpy(b + CP_HCL_HW_REPORT_OFFSET, snp, CP_SNP_REPORT_SIZE);
        uint8_t *q = b + CP_HCL_REQUEST_DATA_OFFSET;
        cp_put_le32(q, (uint32_t) (CP_HCL_REQUEST_DATA_FIXED + rl));
        cp_put_le32(q + 4, 1);
        cp_put_le32(q + 8, CP_HCL_REPORT_SNP);
        cp_put_le32(q + 12, CP_HCL_HASH_SHA256);
        cp_put_le32(q + 16, (uint32_t) rl);
        memcpy(b + CP_HCL_VARIABLE_DATA_OFFSET, rt, rl);
        *ret_len = size;
        return b;
}

/* ---- the emulated AMD-SP ------------------------------------------------ */

typedef struct sp_env {
        char dir[64];
        cp_amdsp *sp;
        uint8_t *ark, *vcek;    /* vcek: VCEK, ASK, ARK in PEM */
        size_t ark_len, vcek_len, vcek_only_len; /* the VCEK's own PEM: the first vcek_only_len bytes */
} sp_env;

static void sp_stop(sp_env *e);
static sp_env shared_sp; /* one emulated host for all tests: its RSA-4096 ARK/ASK take seconds */

static void sp_stop_shared(void) {
        sp_stop(&shared_sp);
}

static void sp_start(sp_env *e) {
        memset(e, 0, sizeof(*e));
        snprintf(e->dir, sizeof(e->dir), "/tmp/cp-azcvm-sp-XXXXXX");
        ASSERT_TRUE(mkdtemp(e->dir));
        char host[96];
        snprintf(host, sizeof(host), "%s/host", e->dir);
        cp_amdsp_config hc = { .generation = CP_SNP_GEN_MILAN, .tcb = { .bl = 3, .snp = 8, .ucode = 115 },
                               .now = (int64_t) time(NULL) - 86400 };
        ASSERT_OK(cp_amdsp_open(host, &hc, &e->sp));
        ASSERT_OK(cp_amdsp_ca_cert(e->sp, CP_AMD_CERT_ARK, &e->ark, &e->ark_len));
        /* what Azure's THIM endpoint hands out: the VCEK, then ASK and ARK, in PEM */
        uint8_t *der, *chain;
        size_t dl, cl;
        ASSERT_OK(cp_amdsp_vcek(e->sp, NULL, &der, &dl));
        ASSERT_OK(cp_amdsp_cert_chain_pem(e->sp, CP_AMD_CERT_VCEK, &chain, &cl));
        const unsigned char *pp = der;
        X509 *x = d2i_X509(NULL, &pp, (long) dl);
        BIO *b = BIO_new(BIO_s_mem());
        ASSERT_TRUE(x && b && PEM_write_bio_X509(b, x) == 1);
        e->vcek_only_len = (size_t) BIO_pending(b);
        ASSERT_TRUE(BIO_write(b, chain, (int) cl) == (int) cl);
        char *mem;
        long ml = BIO_get_mem_data(b, &mem);
        e->vcek = malloc((size_t) ml);
        memcpy(e->vcek, mem, (size_t) ml);
        e->vcek_len = (size_t) ml;
        BIO_free(b);
        X509_free(x);
        free(der);
        free(chain);
}

static void sp_stop(sp_env *e) {
        cp_amdsp_free(e->sp);
        free(e->ark);
        free(e->vcek);
        char cmd[96];
        snprintf(cmd, sizeof(cmd), "rm -rf %s", e->dir);
        ASSERT_EQ(system(cmd), 0);
}

/* An SNP report (VMPL 0, VCEK-signed) of a fresh guest with REPORT_DATA =
 * SHA-256(rt) || zeros: what the paravisor asks the AMD-SP for. */
static void sp_report(sp_env *e, const char *rt, uint8_t out[CP_SNP_REPORT_SIZE]) {
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
        SHA256((const uint8_t *) rt, strlen(rt), q.report_data);
        cp_snp_report_req_encode(&q, p);
        ASSERT_OK(cp_snp_msg_seal(key, 0, seq + 1, CP_SNP_MSG_REPORT_REQ, 1, p, sizeof(p), msg, sizeof(msg), &mn));
        ASSERT_OK(cp_amdsp_guest_request(e->sp, h, msg, mn, resp, sizeof(resp), &rn, NULL, NULL, &fw));
        ASSERT_OK(cp_snp_msg_open(key, resp, rn, &hdr, plain, sizeof(plain), &pn));
        ASSERT_OK(cp_snp_report_rsp_parse(plain, pn, &st, out));
        ASSERT_EQ(st, 0);
}

static char *b64url(const uint8_t *p, size_t n) {
        char *s = malloc(cp_b64_encoded_len(n, CP_B64_URL) + 1);
        cp_b64_encode(p, n, CP_B64_URL, s);
        return s;
}

/* Runtime data as the paravisor writes it: HCLAkPub = (n, e), optional user-data. */
static char *runtime_data(const uint8_t *n, size_t nl, uint32_t e, const uint8_t *user_data) {
        uint8_t eb[4];
        cp_put_be32(eb, e);
        size_t skip = 0;
        while (skip < 3 && eb[skip] == 0)
                skip++;
        char *n64 = b64url(n, nl), *e64 = b64url(eb + skip, 4 - skip), ud[2 * 64 + 1] = "";
        if (user_data)
                cp_hex_encode(user_data, 64, ud);
        char *rt = malloc(2048);
        snprintf(rt, 2048,
                 "{\"keys\":[{\"e\":\"%s\",\"key_ops\":[\"sign\"],\"kid\":\"HCLAkPub\",\"kty\":\"RSA\",\"n\":\"%s\"}],"
                 "\"vm-configuration\":{\"console-enabled\":false,\"secure-boot\":true,\"tpm-enabled\":true,"
                 "\"vmUniqueId\":\"AZ-CVM-0001\"}%s%s%s}",
                 e64, n64, user_data ? ",\"user-data\":\"" : "", ud, user_data ? "\"" : "");
        free(n64);
        free(e64);
        return rt;
}

/* ---- (a) NV reads of recorded and emulated reports ---------------------- */

TEST(nv_read_write_are_chunked_and_exact) {
        tpm_env te;
        tpm_start(&te);
        size_t rec_len, len;
        uint8_t *rec = cp_test_read(REC "evidence-v1.hcl-report.bin", &rec_len), *got = NULL;
        ASSERT_EQ(rec_len, 2600);
        /* swtpm 0.7 (libtpms 0.9) caps an NV index at 2048 bytes (TPM2_PT_NV_INDEX_MAX),
         * below the real 2600-byte index: store the recording's first 2048 bytes */
        ASSERT_ERR(cp_vtpm_nv_define(te.t, CP_HCL_NV_INDEX, rec_len), CP_EIO);
        ASSERT_OK(cp_vtpm_nv_define(te.t, CP_HCL_NV_INDEX, 2048));
        ASSERT_OK(cp_vtpm_nv_write(te.t, CP_HCL_NV_INDEX, rec, 2048)); /* two NV_Write chunks of 1024 */
        ASSERT_ERR(cp_vtpm_nv_write(te.t, CP_HCL_NV_INDEX, rec, 2049), CP_ETOOBIG);
        ASSERT_OK(cp_vtpm_nv_read(te.t, CP_HCL_NV_INDEX, CP_MAX_HCL_REPORT, &got, &len));
        ASSERT_EQ(len, 2048);
        ASSERT_MEMEQ(got, rec, 2048);
        free(got);
        ASSERT_ERR(cp_vtpm_nv_read(te.t, CP_HCL_NV_INDEX, 2047, &got, &len), CP_ETOOBIG);
        /* the recording declares 0x92A bytes: a 2048-byte prefix is refused as truncated */
        ASSERT_ERR(cp_azure_cvm_read_report(te.t, CP_HCL_NV_INDEX, &got, &len), CP_ETRUNC);
        ASSERT_ERR(cp_vtpm_nv_read(te.t, 0x01400005, 4096, &got, &len), CP_ENOTFOUND);
        size_t sz;
        ASSERT_ERR(cp_vtpm_nv_size(te.t, 0x01400005, &sz), CP_ENOTFOUND);
        ASSERT_OK(cp_vtpm_nv_size(te.t, CP_HCL_NV_INDEX, &sz));
        ASSERT_EQ(sz, 2048);
        free(rec);
        tpm_stop(&te);
}

TEST(nv_read_returns_a_report_the_parser_accepts) {
        /* the recorded SNP report inside an HCL report whose runtime data fits 2048 bytes:
         * the NV read returns the stored bytes exactly and they parse back to the recording */
        tpm_env te;
        tpm_start(&te);
        size_t snp_len, len, blen;
        uint8_t *snp = cp_test_read(REC "evidence-v1.hcl-report.snp-report.bin", &snp_len), *got = NULL, n[256];
        ASSERT_EQ(snp_len, CP_SNP_REPORT_SIZE);
        memset(n, 0xA5, sizeof(n));
        char *rt = runtime_data(n, sizeof(n), 65537, NULL);
        uint8_t *hcl = hcl_build(snp, rt, 2048, &blen);
        ASSERT_OK(cp_vtpm_nv_define(te.t, CP_HCL_NV_INDEX, blen));
        ASSERT_OK(cp_vtpm_nv_write(te.t, CP_HCL_NV_INDEX, hcl, blen));
        ASSERT_OK(cp_azure_cvm_read_report(te.t, CP_HCL_NV_INDEX, &got, &len));
        ASSERT_EQ(len, blen);
        ASSERT_MEMEQ(got, hcl, blen);
        cp_hcl_report rep;
        ASSERT_OK(cp_hcl_report_parse(got, len, &rep));
        ASSERT_EQ(rep.version, 2);
        ASSERT_EQ(rep.report_type, CP_HCL_REPORT_SNP);
        ASSERT_EQ(rep.hw_report_len, CP_SNP_REPORT_SIZE);
        ASSERT_MEMEQ(rep.hw_report, snp, CP_SNP_REPORT_SIZE);
        ASSERT_EQ(rep.runtime_data_len, strlen(rt));
        ASSERT_MEMEQ(rep.runtime_data, rt, strlen(rt));
        /* the recorded report is not bound to this runtime data, and the builder is only as good as the parser */
        ASSERT_ERR(cp_hcl_report_check_binding(&rep), CP_EBINDING);
        cp_azure_runtime_data *rd = NULL;
        ASSERT_OK(cp_azure_runtime_data_parse(rep.runtime_data, rep.runtime_data_len, &rd));
        ASSERT_STREQ(cp_azure_runtime_data_vm_config(rd)->vm_unique_id, "AZ-CVM-0001");
        cp_azure_runtime_data_free(rd);
        /* the recorded full report parses the same way the agent's read would */
        size_t rec_len;
        uint8_t *rec = cp_test_read(REC "evidence-v1.hcl-report.bin", &rec_len);
        ASSERT_OK(cp_hcl_report_parse(rec, rec_len, &rep));
        ASSERT_MEMEQ(rep.hw_report, snp, CP_SNP_REPORT_SIZE);
        ASSERT_OK(cp_hcl_report_check_binding(&rep));
        free(rec);
        free(got);
        free(hcl);
        free(rt);
        free(snp);
        tpm_stop(&te);
}

/* ---- (b) an emulated Azure CVM against attestd -------------------------- */

typedef struct cvm {
        tpm_env te;
        sp_env se;
        cp_attestd *ad;
        uint8_t ak_n[256];
        uint32_t ak_e;
        char *rt;
} cvm;

/* The paravisor's side: the AK persistent at 0x81000003, the HCL report
 * (runtime data naming ak_n, or another key if wrong_ak) in NV 0x01400001. */
static void cvm_report(cvm *c, const uint8_t *user_data, bool wrong_ak) {
        uint8_t snp[CP_SNP_REPORT_SIZE], other[256];
        size_t blen, sz;
        memset(other, 0xC3, sizeof(other));
        free(c->rt);
        c->rt = wrong_ak ? runtime_data(other, sizeof(other), 65537, user_data)
                         : runtime_data(c->ak_n, sizeof(c->ak_n), c->ak_e, user_data);
        sp_report(&c->se, c->rt, snp);
        uint8_t *hcl = hcl_build(snp, c->rt, 2048, &blen);
        if (cp_vtpm_nv_size(c->te.t, CP_HCL_NV_INDEX, &sz) < 0) {
                cp_error_clear();
                ASSERT_OK(cp_vtpm_nv_define(c->te.t, CP_HCL_NV_INDEX, blen));
        }
        ASSERT_OK(cp_vtpm_nv_write(c->te.t, CP_HCL_NV_INDEX, hcl, blen));
        free(hcl);
}

static void cvm_start(cvm *c) {
        memset(c, 0, sizeof(*c));
        tpm_start(&c->te);
        if (!shared_sp.sp) {
                sp_start(&shared_sp);
                atexit(sp_stop_shared);
        }
        c->se = shared_sp;
        ASSERT_OK(cp_vtpm_create_ak(c->te.t, c->ak_n, &c->ak_e));
        ASSERT_OK(cp_vtpm_persist_ak(c->te.t, CP_AZURE_AK_HANDLE));
        cp_attestd_config cfg = { .quiet = true, .threads = 2, .only_extra_arks = true };
        cfg.extra_arks[0] = c->se.ark;
        cfg.extra_ark_lens[0] = c->se.ark_len;
        ASSERT_OK(cp_attestd_new(&cfg, &c->ad));
        ASSERT_OK(cp_attestd_start(c->ad));
}

static void cvm_stop(cvm *c) {
        cp_attestd_free(c->ad);
        free(c->rt);
        tpm_stop(&c->te);
}

static json_t *post(cvm *c, const char *path, json_t *body, long *st) {
        char url[256], *txt = json_dumps(body, JSON_COMPACT);
        cp_httpc_options o = { .timeout_ms = 20000 };
        cp_httpc_response r = { 0 };
        snprintf(url, sizeof(url), "http://127.0.0.1:%u%s?api-version=2022-08-01", (unsigned) cp_attestd_port(c->ad),
                 path);
        ASSERT_OK(cp_httpc_request(&o, "POST", url, NULL, txt, strlen(txt), &r));
        *st = r.status;
        json_t *j = json_loadb((const char *) r.body, r.body_len, 0, NULL);
        ASSERT_TRUE(j);
        cp_httpc_response_clear(&r);
        free(txt);
        return j;
}

static json_t *get(cvm *c, const char *path) {
        char url[256];
        cp_httpc_options o = { .timeout_ms = 20000 };
        cp_httpc_response r = { 0 };
        snprintf(url, sizeof(url), "http://127.0.0.1:%u%s?api-version=2022-08-01", (unsigned) cp_attestd_port(c->ad),
                 path);
        ASSERT_OK(cp_httpc_request(&o, "GET", url, NULL, NULL, 0, &r));
        ASSERT_EQ(r.status, 200);
        json_t *j = json_loadb((const char *) r.body, r.body_len, 0, NULL);
        ASSERT_TRUE(j);
        cp_httpc_response_clear(&r);
        return j;
}

/* POST /challenge: the nonce text and its bytes. */
static char *challenge(cvm *c, uint8_t nonce[64], size_t *ret_len) {
        long st;
        json_t *e = json_object(), *r = post(c, "/challenge", e, &st);
        ASSERT_EQ(st, 200);
        const char *t = json_string_value(json_object_get(r, "nonce"));
        ASSERT_TRUE(t);
        ASSERT_OK(cp_b64_decode(t, strlen(t), CP_B64_URL, nonce, 64, ret_len));
        char *copy = strdup(t);
        json_decref(r);
        json_decref(e);
        return copy;
}

/* The agent's evidence for a fresh challenge, posted to /attest/AzureSnpVtpm. */
static json_t *attest(cvm *c, const cp_azure_cvm_options *o, long *st, int *ret_err) {
        uint8_t nonce[64];
        size_t nl;
        char *nt = challenge(c, nonce, &nl);
        json_t *ev = NULL;
        *ret_err = cp_azure_cvm_evidence(c->te.t, o, nonce, nl, &ev);
        if (*ret_err < 0) {
                free(nt);
                return NULL;
        }
        json_t *body = json_pack("{s:o,s:s}", "evidence", ev, "nonce", nt);
        json_t *r = post(c, "/attest/AzureSnpVtpm", body, st);
        json_decref(body);
        free(nt);
        return r;
}

static cp_jwt *validate(cvm *c, const char *token) {
        ASSERT_TRUE(token);
        json_t *jwks = get(c, "/certs");
        char *txt = json_dumps(jwks, 0);
        cp_jwks *set = NULL;
        ASSERT_OK(cp_jwks_parse(txt, strlen(txt), &set));
        cp_jwt_validate_options o = CP_JWT_VALIDATE_OPTIONS_INIT;
        o.jwks = set;
        o.issuer = cp_attestd_issuer(c->ad);
        o.now = (int64_t) time(NULL);
        cp_jwt *t = NULL;
        ASSERT_OK(cp_jwt_validate(token, strlen(token), &o, &t));
        cp_jwks_free(set);
        free(txt);
        json_decref(jwks);
        return t;
}

TEST(azure_hcl_evidence_gets_a_token) {
        cvm c;
        cvm_start(&c);
        cvm_report(&c, NULL, false);
        cp_azure_cvm_options o = { .vcek = c.se.vcek, .vcek_len = c.se.vcek_len };
        long st;
        int err;
        json_t *r = attest(&c, &o, &st, &err);
        ASSERT_OK(err);
        if (st != 200)
                cp_test_fail(__FILE__, __LINE__, "HTTP %ld: %s", st, json_dumps(r, 0));
        cp_jwt *t = validate(&c, json_string_value(json_object_get(r, "token")));
        const json_t *cl = cp_jwt_claims(t);
        ASSERT_STREQ(json_string_value(json_object_get(cl, "x-confpool-evidence-type")), "azure-snp-vtpm");
        ASSERT_STREQ(json_string_value(json_object_get(cl, "x-ms-attestation-type")), "sevsnpvm");
        /* REPORT_DATA is SHA-256 of the runtime data the paravisor wrote */
        uint8_t rd[64] = { 0 };
        char hex[129];
        SHA256((const uint8_t *) c.rt, strlen(c.rt), rd);
        cp_hex_encode(rd, 64, hex);
        ASSERT_STREQ(json_string_value(json_object_get(cl, "x-ms-sevsnpvm-reportdata")), hex);
        ASSERT_EQ(json_integer_value(json_object_get(cl, "x-ms-sevsnpvm-vmpl")), 0);
        const json_t *rtc = json_object_get(cl, "x-ms-runtime");
        ASSERT_STREQ(json_string_value(json_object_get(json_object_get(rtc, "vm-configuration"), "vmUniqueId")),
                     "AZ-CVM-0001");
        /* the AK in the token is the swtpm's persistent key */
        char *n64 = b64url(c.ak_n, sizeof(c.ak_n));
        ASSERT_STREQ(json_string_value(json_object_get(json_array_get(json_object_get(rtc, "keys"), 0), "n")), n64);
        free(n64);
        /* the quoted PCRs are the vTPM's */
        uint8_t pcrs[CP_VTPM_PCRS][32];
        ASSERT_OK(cp_vtpm_pcr_read(c.te.t, pcrs));
        cp_hex_encode(pcrs[0], 32, hex);
        ASSERT_STREQ(json_string_value(json_object_get(json_object_get(cl, "x-confpool-tpm-pcrs-sha256"), "0")), hex);
        cp_jwt_free(t);
        json_decref(r);

        /* the same evidence with a PCR changed after the quote: attestd refuses it */
        uint8_t nonce[64], d[32] = { 1 };
        size_t nl;
        char *nt = challenge(&c, nonce, &nl);
        json_t *ev = NULL;
        ASSERT_OK(cp_azure_cvm_evidence(c.te.t, &o, nonce, nl, &ev));
        json_t *pa = json_object_get(json_object_get(ev, "tpm_quote"), "pcrs");
        ASSERT_EQ(json_array_size(pa), 24);
        ASSERT_OK(cp_vtpm_extend(c.te.t, 16, d));
        ASSERT_OK(cp_vtpm_pcr_read(c.te.t, pcrs));
        cp_hex_encode(pcrs[16], 32, hex);
        json_array_set_new(pa, 16, json_string(hex));
        json_t *body = json_pack("{s:o,s:s}", "evidence", ev, "nonce", nt);
        r = post(&c, "/attest/AzureSnpVtpm", body, &st);
        ASSERT_EQ(st, 400);
        json_decref(r);
        json_decref(body);
        free(nt);
        cvm_stop(&c);
}

TEST(azure_hcl_user_data_refresh) {
        cvm c;
        cvm_start(&c);
        cvm_report(&c, NULL, false);
        cp_azure_cvm_options o = { .vcek = c.se.vcek, .vcek_len = c.se.vcek_len, .refresh_user_data = true };
        uint8_t nonce[64], ud[64] = { 0 }, *got = NULL;
        size_t nl, len;
        char *nt = challenge(&c, nonce, &nl);
        json_t *ev = NULL;
        /* no paravisor refreshes the swtpm's report: the agent notices and stops */
        ASSERT_ERR(cp_azure_cvm_evidence(c.te.t, &o, nonce, nl, &ev), CP_EBINDING);
        ASSERT_TRUE(strstr(cp_error_message(), "user-data"));
        /* ... after defining and writing the user-data index with nonce || zeros */
        memcpy(ud, nonce, nl);
        ASSERT_OK(cp_vtpm_nv_read(c.te.t, CP_HCL_USER_DATA_NV_INDEX, 64, &got, &len));
        ASSERT_EQ(len, 64);
        ASSERT_MEMEQ(got, ud, 64);
        free(got);
        /* the paravisor's answer, emulated: the report carries the nonce; attestd checks it (v2) */
        cvm_report(&c, ud, false);
        ASSERT_OK(cp_azure_cvm_evidence(c.te.t, &o, nonce, nl, &ev));
        ASSERT_EQ(json_integer_value(json_object_get(ev, "version")), 2);
        long st;
        json_t *body = json_pack("{s:o,s:s}", "evidence", ev, "nonce", nt);
        json_t *r = post(&c, "/attest/AzureSnpVtpm", body, &st);
        if (st != 200)
                cp_test_fail(__FILE__, __LINE__, "HTTP %ld: %s", st, json_dumps(r, 0));
        cp_jwt *t = validate(&c, json_string_value(json_object_get(r, "token")));
        char hex[129];
        cp_hex_encode(ud, 64, hex);
        ASSERT_STREQ(json_string_value(json_object_get(json_object_get(cp_jwt_claims(t), "x-ms-runtime"), "user-data")),
                     hex);
        cp_jwt_free(t);
        json_decref(r);
        json_decref(body);
        free(nt);
        cvm_stop(&c);
}

TEST(azure_hcl_refusals) {
        cvm c;
        cvm_start(&c);
        cp_azure_cvm_options o = { .vcek = c.se.vcek, .vcek_len = c.se.vcek_len };
        uint8_t nonce[32] = { 7 };
        json_t *ev = NULL;
        /* no HCL report in the vTPM */
        ASSERT_ERR(cp_azure_cvm_evidence(c.te.t, &o, nonce, sizeof(nonce), &ev), CP_ENOTFOUND);
        /* the runtime data names another AK than the vTPM's persistent key: refused before quoting */
        cvm_report(&c, NULL, true);
        ASSERT_ERR(cp_azure_cvm_evidence(c.te.t, &o, nonce, sizeof(nonce), &ev), CP_EBINDING);
        fprintf(stderr, "    (expected) %s\n", cp_error_message());
        ASSERT_TRUE(strstr(cp_error_message(), "HCLAkPub that is not the vTPM key at 0x81000003"));
        /* no persistent key at the handle */
        cvm_report(&c, NULL, false);
        o.ak_handle = 0x81000004;
        ASSERT_ERR(cp_azure_cvm_evidence(c.te.t, &o, nonce, sizeof(nonce), &ev), CP_ENOTFOUND);
        o.ak_handle = 0;
        /* a corrupted report (the binding no longer holds) */
        uint8_t *hcl = NULL;
        size_t len;
        ASSERT_OK(cp_vtpm_nv_read(c.te.t, CP_HCL_NV_INDEX, 4096, &hcl, &len));
        hcl[CP_HCL_VARIABLE_DATA_OFFSET + 2] ^= 0x20;
        ASSERT_OK(cp_vtpm_nv_write(c.te.t, CP_HCL_NV_INDEX, hcl, len));
        ASSERT_ERR(cp_azure_cvm_evidence(c.te.t, &o, nonce, sizeof(nonce), &ev), CP_EBINDING);
        hcl[CP_HCL_VARIABLE_DATA_OFFSET + 2] ^= 0x20;
        /* non-zero padding after the report */
        hcl[len - 1] = 1;
        ASSERT_OK(cp_vtpm_nv_write(c.te.t, CP_HCL_NV_INDEX, hcl, len));
        ASSERT_ERR(cp_azure_cvm_evidence(c.te.t, &o, nonce, sizeof(nonce), &ev), CP_ETRAILING);
        hcl[len - 1] = 0;
        ASSERT_OK(cp_vtpm_nv_write(c.te.t, CP_HCL_NV_INDEX, hcl, len));
        free(hcl);
        /* arguments */
        ASSERT_ERR(cp_azure_cvm_evidence(c.te.t, &o, nonce, 0, &ev), CP_EINVAL);
        uint8_t big[65] = { 0 };
        ASSERT_ERR(cp_azure_cvm_evidence(c.te.t, &o, big, sizeof(big), &ev), CP_EINVAL);
        o.vcek = NULL;
        ASSERT_ERR(cp_azure_cvm_evidence(c.te.t, &o, nonce, sizeof(nonce), &ev), CP_EINVAL);
        o.vcek = c.se.vcek;
        /* and now it goes through */
        ASSERT_OK(cp_azure_cvm_evidence(c.te.t, &o, nonce, sizeof(nonce), &ev));
        json_decref(ev);
        cvm_stop(&c);
}


/* ---- Azure's IMDS THIM endpoint, emulated ------------------------------- */

typedef struct thim {
        sp_env *sp;
        int calls;
        int mode; /* 0 good, 1 not JSON, 2 no vcekCert, 3 HTTP 500 */
} thim;

static void thim_handler(void *ud, const cp_http_request *req, cp_http_response *resp) {
        thim *t = ud;
        const char *md = cp_http_req_header(req, "Metadata");
        t->calls++;
        if (strcmp(req->method, "GET") != 0 || strcmp(req->path, "/metadata/THIM/amd/certification") != 0 || !md ||
            strcmp(md, "true") != 0 || t->mode == 3) {
                if (cp_http_resp_text(resp, t->mode == 3 ? 500 : 400, "bad request") < 0)
                        cp_error_clear();
                return;
        }
        if (t->mode == 1) {
                if (cp_http_resp_text(resp, 200, "{\"vcekCert\":") < 0)
                        cp_error_clear();
                return;
        }
        char *v = strndup((const char *) t->sp->vcek, t->sp->vcek_only_len),
             *ch = strndup((const char *) t->sp->vcek + t->sp->vcek_only_len, t->sp->vcek_len - t->sp->vcek_only_len);
        json_t *j = t->mode == 2 ? json_pack("{s:s}", "certificateChain", ch)
                                 : json_pack("{s:s,s:s,s:s}", "vcekCert", v, "certificateChain", ch, "tcbm", "0B000000000003");
        free(v);
        free(ch);
        if (cp_http_resp_json(resp, 200, j) < 0)
                cp_error_clear();
}

TEST(thim_vcek) {
        sp_env *e;
        if (!shared_sp.sp) {
                sp_start(&shared_sp);
                atexit(sp_stop_shared);
        }
        e = &shared_sp;
        thim th = { .sp = e };
        cp_httpd_options ho = { .threads = 1 };
        cp_httpd *d = NULL;
        ASSERT_OK(cp_httpd_start(&ho, thim_handler, &th, &d));
        char url[128];
        snprintf(url, sizeof(url), "http://127.0.0.1:%u/metadata/THIM/amd/certification", (unsigned) cp_httpd_port(d));
        uint8_t *b = NULL;
        size_t len;
        ASSERT_OK(cp_azure_thim_vcek(url, &b, &len));
        /* the VCEK, a newline, then ASK and ARK: the bundle attestd loads */
        ASSERT_EQ(len, e->vcek_len + 1);
        ASSERT_MEMEQ(b, e->vcek, e->vcek_only_len);
        ASSERT_EQ(b[e->vcek_only_len], '\n');
        ASSERT_MEMEQ(b + e->vcek_only_len + 1, e->vcek + e->vcek_only_len, e->vcek_len - e->vcek_only_len);
        free(b);
        th.mode = 1;
        ASSERT_ERR(cp_azure_thim_vcek(url, &b, &len), CP_EFORMAT);
        th.mode = 2;
        ASSERT_ERR(cp_azure_thim_vcek(url, &b, &len), CP_EFORMAT);
        th.mode = 3;
        ASSERT_ERR(cp_azure_thim_vcek(url, &b, &len), CP_ENETWORK);
        th.mode = 0;
        snprintf(url, sizeof(url), "http://127.0.0.1:%u/other", (unsigned) cp_httpd_port(d));
        ASSERT_ERR(cp_azure_thim_vcek(url, &b, &len), CP_ENETWORK);
        ASSERT_EQ(th.calls, 5);
        cp_httpd_stop(d);
}

/* ---- the confpool-agent program in azure-hcl mode ----------------------- */

/* Run confpool-agent on the cvm's swtpm (the test lets go of it: swtpm
 * serves one client) and return its status.json. */
static json_t *run_agent(cvm *c, const char *azure) {
        char dir[64], f[160], cmd[512];
        snprintf(dir, sizeof(dir), "/tmp/cp-azcvm-node-XXXXXX");
        ASSERT_TRUE(mkdtemp(dir));
        snprintf(f, sizeof(f), "%s/vcek.pem", dir);
        ASSERT_OK(cp_write_file(f, c->se.vcek, c->se.vcek_len, 0600));
        char *cfg = malloc(2048);
        int n = snprintf(cfg, 2048,
                         "{\"name\":\"az-node-0\",\"pool\":\"/pools/p\",\"attestd\":\"http://127.0.0.1:%u\","
                         "\"controlplane\":\"http://127.0.0.1:1\",\"tcti\":\"%s\",\"evidence\":\"azure-hcl\","
                         "\"azure\":{%s}}",
                         (unsigned) cp_attestd_port(c->ad), c->te.tcti, azure);
        snprintf(f, sizeof(f), "%s/node.json", dir);
        ASSERT_OK(cp_write_file(f, cfg, (size_t) n, 0600));
        free(cfg);
        c->te.t = cp_vtpm_close(c->te.t);
        snprintf(cmd, sizeof(cmd), "TSS2_LOG=all+none %s --node-dir %s 2>/dev/null", CP_AGENT_PATH, dir);
        /* exit status 1: it fails (after the token: no disk key in this node dir), and
         * nothing else (a sanitizer build reports leaks with another status) */
        int ws = system(cmd);
        ASSERT_TRUE(WIFEXITED(ws) && WEXITSTATUS(ws) == 1);
        ASSERT_OK(cp_vtpm_open(c->te.tcti, &c->te.t));
        snprintf(f, sizeof(f), "%s/status.json", dir);
        json_t *st = json_load_file(f, 0, NULL);
        ASSERT_TRUE(st);
        snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
        ASSERT_EQ(system(cmd), 0);
        return st;
}

TEST(agent_program_attests_in_azure_hcl_mode) {
        cvm c;
        cvm_start(&c);
        cvm_report(&c, NULL, false);
        /* token obtained (the "token" phase is recorded), then the next step (disk key) fails */
        json_t *st = run_agent(&c, "\"vcek\":\"vcek.pem\"");
        const char *why = json_string_value(json_object_get(st, "reason"));
        ASSERT_STREQ(json_string_value(json_object_get(st, "state")), "Failed");
        ASSERT_TRUE(json_object_get(json_object_get(st, "times"), "token") != NULL);
        ASSERT_TRUE(strncmp(why, "disk key", 8) == 0);
        json_decref(st);
        /* the runtime data names another AK: the agent refuses before sending anything */
        cvm_report(&c, NULL, true);
        st = run_agent(&c, "\"vcek\":\"vcek.pem\"");
        why = json_string_value(json_object_get(st, "reason"));
        ASSERT_STREQ(json_string_value(json_object_get(st, "state")), "Failed");
        ASSERT_TRUE(json_object_get(json_object_get(st, "times"), "token") == NULL);
        fprintf(stderr, "    (expected) %s\n", why);
        ASSERT_TRUE(strstr(why, "attestation: Azure HCL evidence: the HCL report's runtime data names an HCLAkPub"));
        json_decref(st);
        /* the AK handle from node.json */
        cvm_report(&c, NULL, false);
        st = run_agent(&c, "\"vcek\":\"vcek.pem\",\"akHandle\":2164260868");
        ASSERT_TRUE(strstr(json_string_value(json_object_get(st, "reason")), "0x81000004 is not defined"));
        json_decref(st);
        /* the VCEK from a THIM endpoint instead of a file */
        thim th = { .sp = &c.se };
        cp_httpd_options ho = { .threads = 1 };
        cp_httpd *d = NULL;
        ASSERT_OK(cp_httpd_start(&ho, thim_handler, &th, &d));
        char az[256];
        snprintf(az, sizeof(az), "\"vcekUrl\":\"http://127.0.0.1:%u/metadata/THIM/amd/certification\"",
                 (unsigned) cp_httpd_port(d));
        st = run_agent(&c, az);
        ASSERT_STREQ(json_string_value(json_object_get(st, "state")), "Failed");
        ASSERT_TRUE(json_object_get(json_object_get(st, "times"), "token") != NULL);
        json_decref(st);
        ASSERT_EQ(th.calls, 1);
        /* neither or both: refused */
        st = run_agent(&c, "\"vcek\":\"vcek.pem\",\"vcekUrl\":\"http://127.0.0.1:1/\"");
        ASSERT_TRUE(strstr(json_string_value(json_object_get(st, "reason")), "needs one of azure.vcek"));
        json_decref(st);
        cp_httpd_stop(d);
        cvm_stop(&c);
}
