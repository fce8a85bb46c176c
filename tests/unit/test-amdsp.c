/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Software AMD-SP: host state, certificate profile, VCEK derivation, reports
 * verified through the same verifier as real ones (cp_snp_verify), message
 * refusals, MASK_CHIP_KEY, TCB updates, CRL revocation and the KDS handler.
 * One Milan host (with VLEK) and one Turin host are created once (RSA-4096
 * generation is slow) and shared by all test cases.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "basic/cleanup.h"
#include "basic/codec.h"
#include "basic/limits.h"
#include "confpool/snp_verify.h"
#include "emu/amdsp.h"
#include "service/httpd.h"
#include "service/httpc.h"
#include "service/kds.h"
#include "tests.h"

static char tmpdir[64];
static cp_amdsp *milan, *turin;

static void cleanup_tmp(void) {
        char cmd[128];
        milan = cp_amdsp_free(milan);
        turin = cp_amdsp_free(turin);
        if (tmpdir[0]) {
                snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
                if (system(cmd) != 0)
                        fprintf(stderr, "cleanup failed\n");
        }
}

static const cp_snp_tcb milan_tcb0 = { .bl = 3, .tee = 0, .snp = 8, .ucode = 115 };
static const cp_snp_tcb turin_tcb0 = { .fmc = 0, .bl = 1, .tee = 0, .snp = 2, .ucode = 71, .has_fmc = true };

static char *host_dir(const char *name) {
        static char buf[2][128];
        static int k;
        if (!tmpdir[0]) {
                snprintf(tmpdir, sizeof(tmpdir), "/tmp/cp-amdsp-test-XXXXXX");
                ASSERT_TRUE(mkdtemp(tmpdir) != NULL);
                atexit(cleanup_tmp);
        }
        k ^= 1;
        snprintf(buf[k], sizeof(buf[k]), "%s/%s", tmpdir, name);
        return buf[k];
}

static cp_amdsp *get_milan(void) {
        if (!milan) {
                cp_amdsp_config c = { .generation = CP_SNP_GEN_MILAN, .tcb = milan_tcb0, .vlek_csp_id = "emulated-csp",
                                      .fw_build = 21 };
                ASSERT_OK(cp_amdsp_open(host_dir("milan"), &c, &milan));
        }
        return milan;
}

static cp_amdsp *get_turin(void) {
        if (!turin) {
                cp_amdsp_config c = { .generation = CP_SNP_GEN_TURIN, .tcb = turin_tcb0 };
                ASSERT_OK(cp_amdsp_open(host_dir("turin"), &c, &turin));
        }
        return turin;
}

static uint32_t launch(cp_amdsp *sp, unsigned min_vmpl, uint8_t secrets[CP_SNP_SECRETS_PAGE_SIZE]) {
        cp_amdsp_launch l = { .policy = 0x30000, .has_id_block = true, .author_key_en = true, .guest_svn = 7,
                              .min_vmpl = min_vmpl };
        memset(l.measurement, 0x11, 48);
        memset(l.host_data, 0x22, 32);
        memset(l.id_key_digest, 0x33, 48);
        memset(l.author_key_digest, 0x44, 48);
        memset(l.family_id, 0x55, 16);
        memset(l.image_id, 0x66, 16);
        uint32_t h = 0;
        ASSERT_OK(cp_amdsp_launch_guest(sp, &l, &h, secrets));
        return h;
}

/* Guest side in-process: seal, request, open.  Returns the host's verdict or
 * the response status as CP_EINVAL. */
static int request(cp_amdsp *sp, uint32_t h, uint8_t *secrets, unsigned vmpck, uint32_t vmpl, uint32_t key_sel,
                   uint8_t rd_byte, uint8_t report[CP_SNP_REPORT_SIZE], uint8_t **certs, size_t *certs_len) {
        uint8_t key[32], p[CP_SNP_MSG_REPORT_REQ_SIZE], msg[CP_MAX_SNP_GUEST_MSG], resp[CP_MAX_SNP_GUEST_MSG],
                plain[CP_MAX_SNP_GUEST_MSG];
        uint64_t seq;
        size_t n, rn, pn;
        uint32_t fw, st;
        cp_snp_msg_hdr hdr;
        ASSERT_OK(cp_snp_secrets_get(secrets, vmpck, key, &seq));
        cp_snp_report_req q = { .vmpl = vmpl, .key_sel = key_sel };
        memset(q.report_data, rd_byte, 64);
        cp_snp_report_req_encode(&q, p);
        ASSERT_OK(cp_snp_msg_seal(key, (uint8_t) vmpck, seq + 1, CP_SNP_MSG_REPORT_REQ, 1, p, sizeof(p), msg,
                                  sizeof(msg), &n));
        int r = cp_amdsp_guest_request(sp, h, msg, n, resp, sizeof(resp), &rn, certs, certs_len, &fw);
        if (r < 0)
                return r;
        ASSERT_EQ(fw, 0);
        ASSERT_OK(cp_snp_secrets_set_seqno(secrets, vmpck, seq + 2));
        ASSERT_OK(cp_snp_msg_open(key, resp, rn, &hdr, plain, sizeof(plain), &pn));
        ASSERT_EQ(hdr.seqno, seq + 2);
        ASSERT_EQ(hdr.msg_type, CP_SNP_MSG_REPORT_RSP);
        ASSERT_OK(cp_snp_report_rsp_parse(plain, pn, &st, report));
        return st == 0 ? 0 : CP_EINVAL;
}

static cp_amd_cert *load_ca(cp_amdsp *sp, cp_amd_cert_kind k) {
        uint8_t *der;
        size_t n;
        cp_amd_cert *c = NULL;
        ASSERT_OK(cp_amdsp_ca_cert(sp, k, &der, &n));
        ASSERT_OK(cp_amd_cert_load(der, n, &c));
        free(der);
        return c;
}

static cp_snp_verifier *emulated_verifier(cp_amdsp *sp) {
        cp_amd_trust *t = NULL;
        cp_snp_verifier *v = NULL;
        ASSERT_OK(cp_amd_trust_new_empty(&t));
        cp_amd_cert *ark = load_ca(sp, CP_AMD_CERT_ARK);
        ASSERT_OK(cp_amd_trust_add_ark(t, ark));
        cp_amd_cert_free(ark);
        ASSERT_OK(cp_snp_verifier_new(t, &v));
        return v;
}

static int verify_ext(cp_snp_verifier *v, const uint8_t *report, const uint8_t *certs, size_t certs_len,
                      const cp_snp_verify_options *o, cp_snp_verify_result *res) {
        cp_snp_evidence ev = { .report = report, .report_len = CP_SNP_REPORT_SIZE, .certtable = certs,
                               .certtable_len = certs_len };
        return cp_snp_verify(v, &ev, o, res);
}

TEST(host_state_persisted_and_deterministic) {
        cp_amdsp *sp = get_milan();
        struct stat st;
        char p[256];
        const char *files[] = { "host-secret", "ark-key.pem", "ask-key.pem", "asvk-key.pem" };
        for (size_t i = 0; i < 4; i++) {
                snprintf(p, sizeof(p), "%s/milan/%s", tmpdir, files[i]);
                ASSERT_EQ(stat(p, &st), 0);
                ASSERT_EQ(st.st_mode & 0777, 0600);
        }
        uint8_t *v1, *v2;
        size_t n1, n2;
        ASSERT_OK(cp_amdsp_vcek(sp, NULL, &v1, &n1));
        /* reopen: same chip, same VCEK bytes, and a re-derived key equal to the certificate's */
        cp_amdsp *again = NULL;
        ASSERT_OK(cp_amdsp_open(host_dir("milan"), NULL, &again));
        uint8_t c1[64], c2[64];
        cp_amdsp_chip_id(sp, c1);
        cp_amdsp_chip_id(again, c2);
        ASSERT_MEMEQ(c1, c2, 64);
        ASSERT_OK(cp_amdsp_vcek(again, NULL, &v2, &n2));
        ASSERT_EQ(n1, n2);
        ASSERT_MEMEQ(v1, v2, n1);
        free(v2);
        /* delete the cached certificate: a re-issued VCEK has the same key (derived, not stored) */
        snprintf(p, sizeof(p), "%s/milan/vcek-%016llx.der", tmpdir,
                 (unsigned long long) cp_snp_tcb_encode(&milan_tcb0, CP_SNP_GEN_MILAN));
        ASSERT_EQ(unlink(p), 0);
        ASSERT_OK(cp_amdsp_vcek(again, NULL, &v2, &n2));
        cp_amd_cert *a = NULL, *b = NULL;
        ASSERT_OK(cp_amd_cert_load(v1, n1, &a));
        ASSERT_OK(cp_amd_cert_load(v2, n2, &b));
        uint8_t ax[48], ay[48], bx[48], by[48];
        ASSERT_OK(cp_amd_cert_p384_pubkey(a, ax, ay));
        ASSERT_OK(cp_amd_cert_p384_pubkey(b, bx, by));
        ASSERT_MEMEQ(ax, bx, 48);
        ASSERT_MEMEQ(ay, by, 48);
        cp_amd_cert_free(a);
        cp_amd_cert_free(b);
        free(v1);
        free(v2);
        cp_amdsp_free(again);
        /* no host and no config */
        cp_amdsp *none = NULL;
        ASSERT_ERR(cp_amdsp_open(host_dir("nothing"), NULL, &none), CP_ENOTFOUND);
        cp_amdsp_config bad = { .generation = CP_SNP_GEN_MILAN, .tcb = turin_tcb0 };
        ASSERT_ERR(cp_amdsp_open(host_dir("bad"), &bad, &none), CP_EINVAL);
}

TEST(certificate_profile) {
        cp_amdsp *sp = get_milan();
        cp_amd_cert *ark = load_ca(sp, CP_AMD_CERT_ARK), *ask = load_ca(sp, CP_AMD_CERT_ASK),
                    *asvk = load_ca(sp, CP_AMD_CERT_ASVK);
        ASSERT_EQ(cp_amd_cert_info_get(ark)->kind, CP_AMD_CERT_ARK);
        ASSERT_EQ(cp_amd_cert_info_get(ask)->kind, CP_AMD_CERT_ASK);
        ASSERT_EQ(cp_amd_cert_info_get(asvk)->kind, CP_AMD_CERT_ASVK);
        ASSERT_EQ(cp_amd_cert_info_get(ark)->generation, CP_SNP_GEN_MILAN);
        uint8_t *der;
        size_t n;
        cp_amd_cert *vcek = NULL;
        ASSERT_OK(cp_amdsp_vcek(sp, &milan_tcb0, &der, &n));
        ASSERT_OK(cp_amd_cert_load(der, n, &vcek));
        free(der);
        const cp_amd_cert_info *i = cp_amd_cert_info_get(vcek);
        ASSERT_EQ(i->kind, CP_AMD_CERT_VCEK);
        ASSERT_STREQ(i->product_name, "Milan-B0");
        ASSERT_EQ(i->hwid_len, 64);
        ASSERT_FALSE(i->hwid_der_wrapped);
        uint8_t chip[64];
        cp_amdsp_chip_id(sp, chip);
        ASSERT_MEMEQ(i->hwid, chip, 64);
        ASSERT_EQ(i->tcb.bl, 3);
        ASSERT_EQ(i->tcb.snp, 8);
        ASSERT_EQ(i->tcb.ucode, 115);
        ASSERT_TRUE(i->has_struct_version && i->struct_version == 0); /* AMD: 0 on Milan/Genoa */
        cp_amd_trust *t = NULL;
        ASSERT_OK(cp_amd_trust_new_empty(&t));
        ASSERT_OK(cp_amd_trust_add_ark(t, ark));
        cp_snp_generation g;
        ASSERT_OK(cp_amd_verify_chain(t, vcek, ask, time(NULL), &g));
        ASSERT_EQ(g, CP_SNP_GEN_MILAN);
        /* the emulated ARK is not AMD's: refused next to the builtin Milan ARK, and an
         * emulated ASK does not chain to AMD's ARK */
        cp_amd_trust *bt = NULL;
        ASSERT_OK(cp_amd_trust_new_builtin(&bt));
        ASSERT_ERR(cp_amd_trust_add_ark(bt, ark), CP_EINVAL);
        ASSERT_ERR(cp_amd_verify_chain(bt, vcek, ask, time(NULL), &g), CP_EUNTRUSTED);
        /* ASVK/VLEK */
        cp_amd_cert *vlek = NULL;
        ASSERT_OK(cp_amdsp_vlek(sp, NULL, &der, &n));
        ASSERT_OK(cp_amd_cert_load(der, n, &vlek));
        free(der);
        ASSERT_EQ(cp_amd_cert_info_get(vlek)->kind, CP_AMD_CERT_VLEK);
        ASSERT_STREQ(cp_amd_cert_info_get(vlek)->csp_id, "emulated-csp");
        ASSERT_OK(cp_amd_verify_chain(t, vlek, asvk, time(NULL), &g));
        /* a TCB the host never ran at is not served */
        cp_snp_tcb future = milan_tcb0;
        future.snp = 99;
        ASSERT_ERR(cp_amdsp_vcek(sp, &future, &der, &n), CP_ENOTFOUND);
        cp_amd_trust_free(t);
        cp_amd_trust_free(bt);
        cp_amd_cert_free(ark);
        cp_amd_cert_free(ask);
        cp_amd_cert_free(asvk);
        cp_amd_cert_free(vcek);
        cp_amd_cert_free(vlek);
}

TEST(report_verifies_like_hardware) {
        cp_amdsp *sp = get_milan();
        uint8_t secrets[CP_SNP_SECRETS_PAGE_SIZE], report[CP_SNP_REPORT_SIZE], *certs = NULL;
        size_t certs_len = 0;
        uint32_t h = launch(sp, 0, secrets);
        ASSERT_OK(request(sp, h, secrets, 0, 0, CP_SNP_KEY_SEL_VCEK, 0xab, report, &certs, &certs_len));
        cp_snp_report rep;
        ASSERT_OK(cp_snp_report_parse(report, sizeof(report), 0, &rep));
        ASSERT_EQ(rep.version, 5);
        ASSERT_EQ(rep.report_data[0], 0xab);
        ASSERT_EQ(rep.measurement[47], 0x11);
        ASSERT_EQ(rep.host_data[0], 0x22);
        ASSERT_EQ(rep.id_key_digest[0], 0x33);
        ASSERT_EQ(rep.author_key_digest[0], 0x44);
        ASSERT_TRUE(rep.author_key_en);
        ASSERT_EQ(rep.guest_svn, 7);
        ASSERT_EQ(rep.policy, 0x30000);
        ASSERT_EQ(rep.cpuid_generation, CP_SNP_GEN_MILAN);
        ASSERT_EQ(rep.signing_key, CP_SNP_SIGNING_KEY_VCEK);
        ASSERT_U64_EQ(rep.reported_tcb, cp_snp_tcb_encode(&milan_tcb0, CP_SNP_GEN_MILAN));
        ASSERT_EQ(rep.current_major, 1);
        ASSERT_EQ(rep.current_minor, 55);
        ASSERT_EQ(rep.current_build, 21);
        /* byte-exact format: serializing the parsed report gives the same bytes */
        uint8_t again[CP_SNP_REPORT_SIZE];
        ASSERT_OK(cp_snp_report_serialize(&rep, again));
        ASSERT_MEMEQ(again, report, sizeof(report));

        cp_snp_certtable tab;
        ASSERT_OK(cp_snp_certtable_parse(certs, certs_len, &tab));
        ASSERT_EQ(tab.n, 3);
        ASSERT_TRUE(cp_snp_certtable_find(&tab, CP_SNP_CERT_VCEK) && cp_snp_certtable_find(&tab, CP_SNP_CERT_ASK) &&
                    cp_snp_certtable_find(&tab, CP_SNP_CERT_ARK));

        cp_snp_verifier *v = emulated_verifier(sp);
        cp_snp_verify_options o = CP_SNP_VERIFY_OPTIONS_INIT;
        cp_snp_verify_result *res = calloc(1, sizeof(*res));
        ASSERT_OK(verify_ext(v, report, certs, certs_len, &o, res));
        ASSERT_EQ(res->generation, CP_SNP_GEN_MILAN);
        ASSERT_EQ(res->signer, CP_AMD_CERT_VCEK);
        ASSERT_TRUE(res->chip_id_checked);
        /* every single-bit flip of the signed area is caught */
        uint8_t t[CP_SNP_REPORT_SIZE];
        for (size_t bit = 0; bit < 8 * CP_SNP_REPORT_SIGNED_SIZE; bit += 37) {
                memcpy(t, report, sizeof(t));
                t[bit / 8] ^= (uint8_t) (1u << (bit % 8));
                ASSERT_TRUE(verify_ext(v, t, certs, certs_len, &o, res) < 0);
        }
        cp_snp_verifier_free(v);

        /* only AMD's roots: rejected */
        cp_snp_verifier *amd = NULL;
        ASSERT_OK(cp_snp_verifier_new(NULL, &amd));
        ASSERT_ERR(verify_ext(amd, report, certs, certs_len, &o, res), CP_EUNTRUSTED);
        cp_snp_verifier_free(amd);
        cp_amd_trust *empty = NULL;
        ASSERT_OK(cp_amd_trust_new_empty(&empty));
        ASSERT_OK(cp_snp_verifier_new(empty, &amd));
        ASSERT_ERR(verify_ext(amd, report, certs, certs_len, &o, res), CP_EUNTRUSTED);
        cp_snp_verifier_free(amd);
        free(res);
        free(certs);
}

TEST(vlek_signed_report) {
        cp_amdsp *sp = get_milan();
        uint8_t secrets[CP_SNP_SECRETS_PAGE_SIZE], report[CP_SNP_REPORT_SIZE], *certs = NULL;
        size_t certs_len = 0;
        uint32_t h = launch(sp, 0, secrets);
        /* KEY_SEL 0 selects the VLEK when one is installed */
        ASSERT_OK(request(sp, h, secrets, 0, 0, CP_SNP_KEY_SEL_DEFAULT, 1, report, &certs, &certs_len));
        cp_snp_verifier *v = emulated_verifier(sp);
        cp_snp_verify_options o = CP_SNP_VERIFY_OPTIONS_INIT;
        cp_snp_verify_result *res = calloc(1, sizeof(*res));
        ASSERT_OK(verify_ext(v, report, certs, certs_len, &o, res));
        ASSERT_EQ(res->signer, CP_AMD_CERT_VLEK);
        ASSERT_STREQ(res->csp_id, "emulated-csp");
        free(certs);
        /* KEY_SEL 3 is reserved */
        ASSERT_ERR(request(sp, h, secrets, 0, 0, 3, 1, report, NULL, NULL), CP_EINVAL);
        cp_snp_verifier_free(v);
        free(res);
}

TEST(refused_messages) {
        cp_amdsp *sp = get_milan();
        uint8_t secrets[CP_SNP_SECRETS_PAGE_SIZE], report[CP_SNP_REPORT_SIZE];
        uint8_t key[32], p[CP_SNP_MSG_REPORT_REQ_SIZE], msg[CP_MAX_SNP_GUEST_MSG], resp[CP_MAX_SNP_GUEST_MSG];
        size_t n, rn;
        uint32_t fw;
        uint64_t seq;
        uint32_t h = launch(sp, 0, secrets);
        cp_snp_report_req q = { .vmpl = 0, .key_sel = 1 };
        cp_snp_report_req_encode(&q, p);
        ASSERT_OK(cp_snp_secrets_get(secrets, 0, key, &seq));
        ASSERT_OK(cp_snp_msg_seal(key, 0, 1, CP_SNP_MSG_REPORT_REQ, 1, p, sizeof(p), msg, sizeof(msg), &n));
        /* tampered: any bit of the tag, seqno, AAD or ciphertext */
        size_t offs[] = { 0, 15, 0x20, 0x36, 0x60, 0xbf };
        for (size_t i = 0; i < CP_ELEMENTSOF(offs); i++) {
                uint8_t t[CP_MAX_SNP_GUEST_MSG];
                memcpy(t, msg, n);
                t[offs[i]] ^= 0x10;
                ASSERT_TRUE(cp_amdsp_guest_request(sp, h, t, n, resp, sizeof(resp), &rn, NULL, NULL, &fw) < 0);
                ASSERT_EQ(fw, CP_SNP_FW_INVALID_PARAM);
        }
        /* wrong key: VMPCK1's key under the VMPCK0 header; another guest's message */
        uint8_t k1[32], wrong[CP_MAX_SNP_GUEST_MSG];
        ASSERT_OK(cp_snp_secrets_get(secrets, 1, k1, &seq));
        ASSERT_OK(cp_snp_msg_seal(k1, 0, 1, CP_SNP_MSG_REPORT_REQ, 1, p, sizeof(p), wrong, sizeof(wrong), &n));
        ASSERT_ERR(cp_amdsp_guest_request(sp, h, wrong, n, resp, sizeof(resp), &rn, NULL, NULL, &fw), CP_ESIG);
        uint8_t other[CP_SNP_SECRETS_PAGE_SIZE];
        uint32_t h2 = launch(sp, 0, other);
        ASSERT_ERR(cp_amdsp_guest_request(sp, h2, msg, n, resp, sizeof(resp), &rn, NULL, NULL, &fw), CP_ESIG);
        ASSERT_ERR(cp_amdsp_guest_request(sp, 99999, msg, n, resp, sizeof(resp), &rn, NULL, NULL, &fw), CP_ENOTFOUND);
        /* the genuine one is accepted once, then refused as a replay */
        ASSERT_OK(cp_amdsp_guest_request(sp, h, msg, n, resp, sizeof(resp), &rn, NULL, NULL, &fw));
        ASSERT_EQ(fw, 0);
        ASSERT_ERR(cp_amdsp_guest_request(sp, h, msg, n, resp, sizeof(resp), &rn, NULL, NULL, &fw), CP_EBADSEQ);
        /* seqno 2 (even, equal to the last response) and 3 out of order after 5 */
        ASSERT_OK(cp_snp_msg_seal(key, 0, 2, CP_SNP_MSG_REPORT_REQ, 1, p, sizeof(p), msg, sizeof(msg), &n));
        ASSERT_ERR(cp_amdsp_guest_request(sp, h, msg, n, resp, sizeof(resp), &rn, NULL, NULL, &fw), CP_EBADSEQ);
        ASSERT_OK(cp_snp_msg_seal(key, 0, 5, CP_SNP_MSG_REPORT_REQ, 1, p, sizeof(p), msg, sizeof(msg), &n));
        ASSERT_OK(cp_amdsp_guest_request(sp, h, msg, n, resp, sizeof(resp), &rn, NULL, NULL, &fw));
        ASSERT_OK(cp_snp_msg_seal(key, 0, 3, CP_SNP_MSG_REPORT_REQ, 1, p, sizeof(p), msg, sizeof(msg), &n));
        ASSERT_ERR(cp_amdsp_guest_request(sp, h, msg, n, resp, sizeof(resp), &rn, NULL, NULL, &fw), CP_EBADSEQ);
        /* the counters survive a restart of the AMD-SP */
        cp_amdsp *again = NULL;
        ASSERT_OK(cp_amdsp_open(host_dir("milan"), NULL, &again));
        ASSERT_OK(cp_snp_msg_seal(key, 0, 5, CP_SNP_MSG_REPORT_REQ, 1, p, sizeof(p), msg, sizeof(msg), &n));
        ASSERT_ERR(cp_amdsp_guest_request(again, h, msg, n, resp, sizeof(resp), &rn, NULL, NULL, &fw), CP_EBADSEQ);
        cp_amdsp_free(again);
        /* VMPL-specific keys: VMPCK2 may ask for VMPL 2 and 3, not 0 or 1 */
        ASSERT_OK(cp_snp_secrets_set_seqno(secrets, 2, 0));
        ASSERT_ERR(request(sp, h, secrets, 2, 1, 1, 0, report, NULL, NULL), CP_EINVAL);
        ASSERT_OK(request(sp, h, secrets, 2, 2, 1, 0, report, NULL, NULL));
        cp_snp_report rep;
        ASSERT_OK(cp_snp_report_parse(report, sizeof(report), 0, &rep));
        ASSERT_EQ(rep.vmpl, 2);
        ASSERT_ERR(request(sp, h, secrets, 2, 4, 1, 0, report, NULL, NULL), CP_EINVAL);
        /* a guest OS at VMPL 1 gets no VMPCK0 */
        uint8_t s1[CP_SNP_SECRETS_PAGE_SIZE];
        (void) launch(sp, 1, s1);
        ASSERT_ERR(cp_snp_secrets_get(s1, 0, key, &seq), CP_ENOTFOUND);
        ASSERT_OK(cp_snp_secrets_get(s1, 1, key, &seq));
}

TEST(mask_chip_key_and_id) {
        cp_amdsp *sp = get_milan();
        uint8_t secrets[CP_SNP_SECRETS_PAGE_SIZE], report[CP_SNP_REPORT_SIZE], *certs = NULL;
        size_t certs_len = 0;
        uint32_t h = launch(sp, 0, secrets);
        ASSERT_OK(cp_amdsp_set_mask(sp, true, true));
        int r = request(sp, h, secrets, 0, 0, 1, 9, report, &certs, &certs_len);
        ASSERT_OK(cp_amdsp_set_mask(sp, false, false));
        ASSERT_OK(r);
        cp_snp_report rep;
        ASSERT_OK(cp_snp_report_parse(report, sizeof(report), 0, &rep));
        ASSERT_TRUE(rep.mask_chip_key);
        ASSERT_FALSE(cp_snp_report_has_signature(&rep));
        for (size_t i = 0; i < 64; i++)
                ASSERT_EQ(rep.chip_id[i], 0);
        for (size_t i = 0x2a0; i < CP_SNP_REPORT_SIZE; i++)
                ASSERT_EQ(report[i], 0);
        cp_snp_verifier *v = emulated_verifier(sp);
        cp_snp_verify_options o = CP_SNP_VERIFY_OPTIONS_INIT;
        cp_snp_verify_result *res = calloc(1, sizeof(*res));
        ASSERT_ERR(verify_ext(v, report, certs, certs_len, &o, res), CP_ESIG);
        cp_snp_verifier_free(v);
        free(res);
        free(certs);
}

/* A guest launched at a TCB with bit 63 set (Milan microcode SVN 213, the
 * local backend's default) is served again by a restarted AMD-SP: its
 * launch TCB was once persisted as a negative JSON integer that the reload
 * refused (INVALID_PARAM to every request after a confpoold restart). */
TEST(guest_at_high_tcb_survives_sp_restart) {
        cp_amdsp_config c = { .generation = CP_SNP_GEN_MILAN, .tcb = { .bl = 4, .tee = 0, .snp = 22, .ucode = 213 } };
        cp_amdsp *sp = NULL, *again = NULL;
        ASSERT_OK(cp_amdsp_open(host_dir("milan-hi"), &c, &sp));
        uint8_t secrets[CP_SNP_SECRETS_PAGE_SIZE], report[CP_SNP_REPORT_SIZE];
        uint32_t h = launch(sp, 0, secrets);
        ASSERT_OK(request(sp, h, secrets, 0, 0, 1, 0, report, NULL, NULL));
        cp_amdsp_free(sp);
        ASSERT_OK(cp_amdsp_open(host_dir("milan-hi"), NULL, &again));
        ASSERT_OK(request(again, h, secrets, 0, 0, 1, 0, report, NULL, NULL));
        cp_snp_report rep;
        ASSERT_OK(cp_snp_report_parse(report, sizeof(report), 0, &rep));
        ASSERT_U64_EQ(rep.launch_tcb, cp_snp_tcb_encode(&c.tcb, CP_SNP_GEN_MILAN));
        ASSERT_TRUE(rep.launch_tcb >> 63);
        /* the state file: 16 hex digits; one from before (a negative integer) still loads */
        char p[256];
        snprintf(p, sizeof(p), "%s/milan-hi/guests/%u.json", tmpdir, (unsigned) h);
        json_t *j = json_load_file(p, 0, NULL);
        ASSERT_TRUE(j != NULL);
        ASSERT_EQ(strlen(json_string_value(json_object_get(j, "launch_tcb"))), 16);
        json_object_set_new(j, "launch_tcb", json_integer((json_int_t) rep.launch_tcb));
        ASSERT_EQ(json_dump_file(j, p, 0), 0);
        json_object_set_new(j, "launch_tcb", json_string("not-hex-digits!!"));
        char bad[300];
        snprintf(bad, sizeof(bad), "%s/milan-hi/guests/%u.json", tmpdir, (unsigned) h + 100);
        json_object_set_new(j, "handle", json_integer(h + 100));
        ASSERT_EQ(json_dump_file(j, bad, 0), 0);
        json_decref(j);
        cp_amdsp_free(again);
        ASSERT_OK(cp_amdsp_open(host_dir("milan-hi"), NULL, &again));
        ASSERT_OK(request(again, h, secrets, 0, 0, 1, 0, report, NULL, NULL));
        ASSERT_ERR(request(again, h + 100, secrets, 0, 0, 1, 0, report, NULL, NULL), CP_EFORMAT);
        cp_amdsp_free(again);
}

static void make_report(cp_amdsp *sp, uint32_t h, uint8_t *secrets, uint8_t report[CP_SNP_REPORT_SIZE],
                        uint8_t **certs, size_t *len) {
        ASSERT_OK(request(sp, h, secrets, 0, 0, CP_SNP_KEY_SEL_VCEK, 3, report, certs, len));
}

TEST(tcb_update_rotates_vcek) {
        /* its own host so that other tests keep the initial TCB */
        cp_amdsp_config c = { .generation = CP_SNP_GEN_GENOA, .tcb = { .bl = 7, .tee = 0, .snp = 14, .ucode = 72 } };
        cp_amdsp *sp = NULL;
        ASSERT_OK(cp_amdsp_open(host_dir("genoa"), &c, &sp));
        uint8_t secrets[CP_SNP_SECRETS_PAGE_SIZE], old_rep[CP_SNP_REPORT_SIZE], new_rep[CP_SNP_REPORT_SIZE];
        uint8_t *old_certs = NULL, *new_certs = NULL, *old_vcek = NULL, *new_vcek = NULL;
        size_t ol = 0, nl = 0, ovl, nvl;
        uint32_t h = launch(sp, 0, secrets);
        make_report(sp, h, secrets, old_rep, &old_certs, &ol);
        ASSERT_OK(cp_amdsp_vcek(sp, NULL, &old_vcek, &ovl));

        cp_snp_tcb t1 = { .bl = 9, .tee = 0, .snp = 21, .ucode = 72 };
        ASSERT_OK(cp_amdsp_set_tcb(sp, &t1));
        make_report(sp, h, secrets, new_rep, &new_certs, &nl);
        ASSERT_OK(cp_amdsp_vcek(sp, NULL, &new_vcek, &nvl));
        cp_amd_cert *a = NULL, *b = NULL;
        ASSERT_OK(cp_amd_cert_load(old_vcek, ovl, &a));
        ASSERT_OK(cp_amd_cert_load(new_vcek, nvl, &b));
        uint8_t ax[48], ay[48], bx[48], by[48];
        ASSERT_OK(cp_amd_cert_p384_pubkey(a, ax, ay));
        ASSERT_OK(cp_amd_cert_p384_pubkey(b, bx, by));
        ASSERT_TRUE(memcmp(ax, bx, 48) != 0); /* new TCB, new key */
        ASSERT_EQ(cp_amd_cert_info_get(b)->tcb.snp, 21);
        /* the old VCEK is still available for the old TCB */
        uint8_t *again;
        size_t al;
        ASSERT_OK(cp_amdsp_vcek(sp, &c.tcb, &again, &al));
        ASSERT_EQ(al, ovl);
        ASSERT_MEMEQ(again, old_vcek, al);
        free(again);

        cp_snp_report nr;
        ASSERT_OK(cp_snp_report_parse(new_rep, sizeof(new_rep), 0, &nr));
        ASSERT_U64_EQ(nr.launch_tcb, cp_snp_tcb_encode(&c.tcb, CP_SNP_GEN_GENOA)); /* launched before the update */
        ASSERT_U64_EQ(nr.reported_tcb, cp_snp_tcb_encode(&t1, CP_SNP_GEN_GENOA));

        cp_snp_verifier *v = emulated_verifier(sp);
        cp_snp_policy pol;
        cp_snp_policy_init(&pol);
        pol.has_min_tcb = true;
        pol.min_tcb = t1;
        cp_snp_verify_options o = CP_SNP_VERIFY_OPTIONS_INIT;
        cp_snp_verify_result *res = calloc(1, sizeof(*res));
        /* both verify cryptographically, each with its own VCEK */
        ASSERT_OK(verify_ext(v, old_rep, old_certs, ol, &o, res));
        ASSERT_OK(verify_ext(v, new_rep, new_certs, nl, &o, res));
        /* the old report with the new VCEK: TCB mismatch */
        cp_snp_evidence ev = { .report = old_rep, .report_len = sizeof(old_rep), .leaf = new_vcek, .leaf_len = nvl,
                               .certtable = old_certs, .certtable_len = ol };
        ASSERT_ERR(cp_snp_verify(v, &ev, &o, res), CP_ETCB);
        /* min_tcb at the new TCB: the old report is refused, the new accepted */
        o.policy = &pol;
        ASSERT_ERR(verify_ext(v, old_rep, old_certs, ol, &o, res), CP_EPOLICY);
        ASSERT_OK(verify_ext(v, new_rep, new_certs, nl, &o, res));
        /* min_launch_tcb at the new TCB refuses the guest launched before the update */
        pol.has_min_tcb = false;
        pol.has_min_launch_tcb = true;
        pol.min_launch_tcb = t1;
        ASSERT_ERR(verify_ext(v, new_rep, new_certs, nl, &o, res), CP_EPOLICY);
        cp_snp_policy_clear(&pol);
        cp_snp_verifier_free(v);
        cp_amd_cert_free(a);
        cp_amd_cert_free(b);
        free(res);
        free(old_certs);
        free(new_certs);
        free(old_vcek);
        free(new_vcek);
        cp_amdsp_free(sp);
}

TEST(crl_revokes_when_told) {
        cp_amdsp *sp = get_turin();
        uint8_t secrets[CP_SNP_SECRETS_PAGE_SIZE], report[CP_SNP_REPORT_SIZE], *certs = NULL, *crl_der;
        size_t certs_len = 0, crl_len;
        uint32_t h = launch(sp, 0, secrets);
        make_report(sp, h, secrets, report, &certs, &certs_len);
        cp_snp_verifier *v = emulated_verifier(sp);
        cp_snp_verify_options o = CP_SNP_VERIFY_OPTIONS_INIT;
        o.check_revocation = true;
        cp_snp_verify_result *res = calloc(1, sizeof(*res));
        ASSERT_ERR(verify_ext(v, report, certs, certs_len, &o, res), CP_EREVOKED); /* no CRL yet */
        cp_amd_crl *crl = NULL;
        ASSERT_OK(cp_amdsp_crl(sp, 0, &crl_der, &crl_len));
        ASSERT_OK(cp_amd_crl_load(crl_der, crl_len, &crl));
        free(crl_der);
        ASSERT_OK(cp_snp_verifier_add_crl(v, CP_SNP_GEN_TURIN, CP_AMD_CERT_ASK, crl));
        ASSERT_OK(verify_ext(v, report, certs, certs_len, &o, res));
        ASSERT_TRUE(res->revocation_checked);
        ASSERT_EQ(res->generation, CP_SNP_GEN_TURIN);
        /* revoke the ASK (the KDS CRL is issued by the ARK and lists ASKs; AMD supersedes
         * VCEKs by TCB updates rather than revoking them) */
        cp_amd_cert *askc = load_ca(sp, CP_AMD_CERT_ASK);
        const cp_amd_cert_info *ai = cp_amd_cert_info_get(askc);
        ASSERT_OK(cp_amdsp_revoke(sp, ai->serial + sizeof(ai->serial) - ai->serial_len, ai->serial_len));
        cp_amd_cert_free(askc);
        ASSERT_OK(cp_amdsp_crl(sp, 0, &crl_der, &crl_len));
        ASSERT_OK(cp_amd_crl_load(crl_der, crl_len, &crl));
        free(crl_der);
        ASSERT_OK(cp_snp_verifier_add_crl(v, CP_SNP_GEN_TURIN, CP_AMD_CERT_ASK, crl));
        ASSERT_ERR(verify_ext(v, report, certs, certs_len, &o, res), CP_EREVOKED);
        /* an expired CRL is not accepted either */
        ASSERT_OK(cp_amdsp_crl(sp, (int64_t) time(NULL) - 30 * 86400, &crl_der, &crl_len));
        ASSERT_OK(cp_amd_crl_load(crl_der, crl_len, &crl));
        free(crl_der);
        cp_amd_cert *ark = load_ca(sp, CP_AMD_CERT_ARK), *ask = load_ca(sp, CP_AMD_CERT_ASK);
        ASSERT_ERR(cp_amd_crl_check(crl, ark, ask, time(NULL)), CP_EEXPIRED);
        cp_amd_crl_free(crl);
        cp_amd_cert_free(ark);
        cp_amd_cert_free(ask);
        cp_snp_verifier_free(v);
        free(res);
        free(certs);
}

TEST(turin_profile) {
        cp_amdsp *sp = get_turin();
        uint8_t *der;
        size_t n;
        cp_amd_cert *c = NULL;
        ASSERT_OK(cp_amdsp_vcek(sp, NULL, &der, &n));
        ASSERT_OK(cp_amd_cert_load(der, n, &c));
        free(der);
        const cp_amd_cert_info *i = cp_amd_cert_info_get(c);
        ASSERT_STREQ(i->product_name, "Turin");
        ASSERT_EQ(i->hwid_len, 8);
        ASSERT_TRUE(i->tcb.has_fmc);
        ASSERT_EQ(i->tcb.ucode, 71);
        uint8_t chip[64];
        cp_amdsp_chip_id(sp, chip);
        for (size_t k = 8; k < 64; k++)
                ASSERT_EQ(chip[k], 0);
        cp_amd_cert_free(c);
}

typedef struct q {
        const char *names[6], *values[6];
} q;

static const char *qget(void *ud, const char *name) {
        q *x = ud;
        for (size_t i = 0; i < 6 && x->names[i]; i++)
                if (!strcmp(x->names[i], name))
                        return x->values[i];
        return NULL;
}

TEST(kds_handler) {
        cp_amdsp *sp = get_milan();
        uint8_t chip[64], *body;
        char hw[129], path[256];
        size_t n;
        unsigned st;
        const char *ct;
        cp_amdsp_chip_id(sp, chip);
        cp_hex_encode(chip, 64, hw);
        snprintf(path, sizeof(path), "/vcek/v1/Milan/%s", hw);
        q good = { { "blSPL", "teeSPL", "snpSPL", "ucodeSPL" }, { "3", "0", "8", "115" } };
        ASSERT_OK(cp_amdsp_kds_get(sp, path, qget, &good, &st, &ct, &body, &n));
        ASSERT_EQ(st, 200);
        uint8_t *direct;
        size_t dn;
        ASSERT_OK(cp_amdsp_vcek(sp, NULL, &direct, &dn));
        ASSERT_EQ(n, dn);
        ASSERT_MEMEQ(body, direct, n);
        free(direct);
        free(body);
        q bad = { { "blSPL", "teeSPL", "snpSPL", "ucodeSPL" }, { "3", "0", "8", "x" } };
        ASSERT_OK(cp_amdsp_kds_get(sp, path, qget, &bad, &st, &ct, &body, &n));
        ASSERT_EQ(st, 400);
        free(body);
        q other = { { "blSPL", "teeSPL", "snpSPL", "ucodeSPL" }, { "3", "0", "9", "115" } };
        ASSERT_OK(cp_amdsp_kds_get(sp, path, qget, &other, &st, &ct, &body, &n));
        ASSERT_EQ(st, 404);
        free(body);
        const char *nf[] = { "/vcek/v1/Genoa/cert_chain", "/vcek/v2/Milan/cert_chain", "/x", "",
                             "/vcek/v1/Milan/cert_chain/x", "/vcek/v1/Milan/" };
        for (size_t i = 0; i < CP_ELEMENTSOF(nf); i++) {
                ASSERT_OK(cp_amdsp_kds_get(sp, nf[i], qget, &good, &st, &ct, &body, &n));
                ASSERT_TRUE(st == 404 || st == 400);
                free(body);
        }
        ASSERT_OK(cp_amdsp_kds_get(sp, "/vcek/v1/Milan/cert_chain", NULL, NULL, &st, &ct, &body, &n));
        ASSERT_EQ(st, 200);
        cp_amd_cert *ask = NULL, *ark = NULL;
        ASSERT_OK(cp_amd_cert_load_chain(body, n, &ask, &ark));
        ASSERT_EQ(cp_amd_cert_info_get(ask)->kind, CP_AMD_CERT_ASK);
        ASSERT_EQ(cp_amd_cert_info_get(ark)->kind, CP_AMD_CERT_ARK);
        free(body);
        ASSERT_OK(cp_amdsp_kds_get(sp, "/vlek/v1/Milan/cert_chain", NULL, NULL, &st, &ct, &body, &n));
        ASSERT_EQ(st, 200);
        free(body);
        ASSERT_OK(cp_amdsp_kds_get(sp, "/vcek/v1/Milan/crl", NULL, NULL, &st, &ct, &body, &n));
        ASSERT_EQ(st, 200);
        cp_amd_crl *crl = NULL;
        ASSERT_OK(cp_amd_crl_load(body, n, &crl));
        ASSERT_OK(cp_amd_crl_check(crl, ark, ask, time(NULL)));
        cp_amd_crl_free(crl);
        free(body);
        cp_amd_cert_free(ask);
        cp_amd_cert_free(ark);
}

static unsigned http_get(const char *method, const char *base, const char *path, char *body, size_t cap) {
        char url[512];
        cp_httpc_response r;
        snprintf(url, sizeof(url), "%s%s", base, path);
        ASSERT_OK(cp_httpc_request(NULL, method, url, NULL, NULL, 0, &r));
        size_t n = r.body_len < cap ? r.body_len : cap - 1;
        snprintf(body, cap, "%.*s", (int) n, r.body ? (const char *) r.body : "");
        unsigned st = r.status;
        cp_httpc_response_clear(&r);
        return st;
}

/* Over HTTP: the KDS's own answers are AMD's (plain text); a path no route
 * knows and another method are the service skeleton's (the one error body). */
static void kds_http_answers(const char *base, const uint8_t chip[64], const cp_snp_tcb *tcb) {
        char hw[129], path[512], body[512];
        cp_hex_encode(chip, 64, hw);
        snprintf(path, sizeof(path), "/vcek/v1/Milan/%s?blSPL=%u&teeSPL=%u&snpSPL=%u&ucodeSPL=x", hw, tcb->bl,
                 tcb->tee, tcb->snp);
        ASSERT_EQ(http_get("GET", base, path, body, sizeof(body)), 400);
        ASSERT_STREQ(body, "missing or bad SPL parameters\n");
        snprintf(path, sizeof(path), "/vcek/v1/Milan/%.20s", hw);
        ASSERT_EQ(http_get("GET", base, path, body, sizeof(body)), 400);
        ASSERT_STREQ(body, "malformed hwid\n");
        ASSERT_EQ(http_get("GET", base, "/vcek/v1/Genoa/cert_chain", body, sizeof(body)), 404);
        ASSERT_STREQ(body, "not found\n");
        ASSERT_EQ(http_get("GET", base, "/vcek/v1/Milan/cert_chain/", body, sizeof(body)), 404);
        ASSERT_STREQ(body, "not found\n");
        ASSERT_EQ(http_get("GET", base, "/vlek/v1/Milan/0011", body, sizeof(body)), 403);
        ASSERT_EQ(http_get("GET", base, "/vcek/v1/Milan/crl", body, sizeof(body)), 200);
        /* the skeleton's: 404 for an unknown path, 405 for another method */
        ASSERT_EQ(http_get("GET", base, "/vcek/v2/Milan/cert_chain", body, sizeof(body)), 404);
        ASSERT_TRUE(strstr(body, "\"NotFound\"") != NULL);
        ASSERT_EQ(http_get("POST", base, "/vcek/v1/Milan/cert_chain", body, sizeof(body)), 405);
        ASSERT_TRUE(strstr(body, "\"MethodNotAllowed\"") != NULL);
}

/* The verifier's KDS client, unchanged, against the emulated endpoint. */
TEST(kds_client_against_emulated_endpoint) {
        cp_amdsp *sp = get_milan();
        cp_httpd *d = NULL;
        ASSERT_OK(cp_amdsp_kds_start(sp, NULL, 0, &d));
        char base[64];
        snprintf(base, sizeof(base), "http://127.0.0.1:%u", cp_httpd_port(d));
        cp_kds_options ko = { .base_url = base };
        cp_kds_client *kc = NULL;
        ASSERT_OK(cp_kds_client_new(&ko, &kc));

        uint8_t secrets[CP_SNP_SECRETS_PAGE_SIZE], report[CP_SNP_REPORT_SIZE];
        uint32_t h = launch(sp, 0, secrets);
        ASSERT_OK(request(sp, h, secrets, 0, 0, CP_SNP_KEY_SEL_VCEK, 0x42, report, NULL, NULL));
        cp_snp_report rep;
        ASSERT_OK(cp_snp_report_parse(report, sizeof(report), 0, &rep));
        cp_snp_tcb tcb;
        ASSERT_OK(cp_snp_tcb_decode(rep.reported_tcb, CP_SNP_GEN_MILAN, &tcb));
        uint8_t *vcek, *chain, *crl_der;
        size_t vl, cl, rl;
        ASSERT_OK(cp_kds_fetch_vcek(kc, CP_SNP_GEN_MILAN, rep.chip_id, &tcb, &vcek, &vl));
        ASSERT_OK(cp_kds_fetch_chain(kc, CP_SNP_GEN_MILAN, CP_AMD_CERT_VCEK, &chain, &cl));
        ASSERT_OK(cp_kds_fetch_crl(kc, CP_SNP_GEN_MILAN, CP_AMD_CERT_VCEK, &crl_der, &rl));
        ASSERT_EQ(cp_kds_client_requests(kc), 3);

        /* a plain (non-extended) report plus what the KDS served verifies, with revocation */
        cp_snp_verifier *v = emulated_verifier(sp);
        cp_amd_crl *crl = NULL;
        ASSERT_OK(cp_amd_crl_load(crl_der, rl, &crl));
        ASSERT_OK(cp_snp_verifier_add_crl(v, CP_SNP_GEN_MILAN, CP_AMD_CERT_ASK, crl));
        cp_snp_evidence ev = { .report = report, .report_len = sizeof(report), .leaf = vcek, .leaf_len = vl,
                               .intermediate = chain, .intermediate_len = cl };
        cp_snp_verify_options o = CP_SNP_VERIFY_OPTIONS_INIT;
        o.check_revocation = true;
        cp_snp_verify_result *res = calloc(1, sizeof(*res));
        ASSERT_OK(cp_snp_verify(v, &ev, &o, res));
        ASSERT_TRUE(res->revocation_checked);
        ASSERT_TRUE(res->chip_id_checked);
        /* an unknown chip is a 404 -> error from the client */
        uint8_t other[64];
        memcpy(other, rep.chip_id, 64);
        other[0] ^= 1;
        uint8_t *x;
        size_t xl;
        ASSERT_TRUE(cp_kds_fetch_vcek(kc, CP_SNP_GEN_MILAN, other, &tcb, &x, &xl) < 0);
        kds_http_answers(base, rep.chip_id, &tcb);
        cp_snp_verifier_free(v);
        free(res);
        free(vcek);
        free(chain);
        free(crl_der);
        cp_kds_client_free(kc);
        cp_httpd_stop(d);
}
