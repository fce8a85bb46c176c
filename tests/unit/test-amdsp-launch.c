/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Software AMD-SP guest launch: MEASUREMENT computed by the AMD-SP from the
 * image and launch parameters (Debian's OVMF; measured direct boot with a
 * kernel/initrd/cmdline on an AmdSev OVMF), reports verified through
 * cp_snp_verify with the emulated ARK trusted and a policy pinning the
 * measurement, and the ID block verified at launch (SNP_LAUNCH_FINISH).
 * One Milan host is created once (RSA-4096 generation is slow).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "basic/fileio.h"
#include "basic/limits.h"
#include "confpool/snp_idblock.h"
#include "confpool/snp_measure.h"
#include "confpool/snp_verify.h"
#include "emu/amdsp.h"
#include "tests.h"

#define DEBIAN_OVMF "/usr/share/ovmf/OVMF.fd"

static char tmpdir[64];
static cp_amdsp *host;
static uint8_t *debian_ovmf, *amdsev_ovmf;
static size_t debian_len, amdsev_len;

static void cleanup_tmp(void) {
        char cmd[128];
        host = cp_amdsp_free(host);
        free(debian_ovmf);
        free(amdsev_ovmf);
        if (tmpdir[0]) {
                snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
                if (system(cmd) != 0)
                        fprintf(stderr, "cleanup failed\n");
        }
}

static const char *tmp_path(const char *name) {
        static char buf[4][128];
        static int k;
        if (!tmpdir[0]) {
                snprintf(tmpdir, sizeof(tmpdir), "/tmp/cp-amdsp-launch-XXXXXX");
                ASSERT_TRUE(mkdtemp(tmpdir) != NULL);
                atexit(cleanup_tmp);
        }
        k = (k + 1) % 4;
        snprintf(buf[k], sizeof(buf[k]), "%s/%s", tmpdir, name);
        return buf[k];
}

static cp_amdsp *get_host(void) {
        if (!host) {
                cp_amdsp_config c = { .generation = CP_SNP_GEN_MILAN,
                                      .tcb = { .bl = 3, .tee = 0, .snp = 8, .ucode = 115 } };
                ASSERT_OK(cp_amdsp_open(tmp_path("host"), &c, &host));
                ASSERT_OK(cp_read_file(DEBIAN_OVMF, CP_MAX_FIRMWARE_SIZE, &debian_ovmf, &debian_len));
                amdsev_ovmf = cp_test_read("measure/ovmf_AmdSev_suffix.bin", &amdsev_len);
        }
        return host;
}

/* The guest's first MSG_REPORT_REQ under VMPCK0, in process. */
static int get_report(cp_amdsp *sp, uint32_t h, uint8_t *secrets, uint8_t report[CP_SNP_REPORT_SIZE], uint8_t **certs,
                      size_t *certs_len) {
        uint8_t key[32], p[CP_SNP_MSG_REPORT_REQ_SIZE], msg[CP_MAX_SNP_GUEST_MSG], resp[CP_MAX_SNP_GUEST_MSG],
                plain[CP_MAX_SNP_GUEST_MSG];
        uint64_t seq;
        size_t n, rn, pn;
        uint32_t fw, st;
        cp_snp_msg_hdr hdr;
        ASSERT_OK(cp_snp_secrets_get(secrets, 0, key, &seq));
        cp_snp_report_req q = { .vmpl = 0, .key_sel = CP_SNP_KEY_SEL_VCEK };
        memset(q.report_data, 0x5a, 64);
        cp_snp_report_req_encode(&q, p);
        ASSERT_OK(cp_snp_msg_seal(key, 0, seq + 1, CP_SNP_MSG_REPORT_REQ, 1, p, sizeof(p), msg, sizeof(msg), &n));
        int r = cp_amdsp_guest_request(sp, h, msg, n, resp, sizeof(resp), &rn, certs, certs_len, &fw);
        if (r < 0)
                return r;
        ASSERT_OK(cp_snp_secrets_set_seqno(secrets, 0, seq + 2));
        ASSERT_OK(cp_snp_msg_open(key, resp, rn, &hdr, plain, sizeof(plain), &pn));
        ASSERT_OK(cp_snp_report_rsp_parse(plain, pn, &st, report));
        ASSERT_EQ(st, 0);
        return 0;
}

static cp_snp_verifier *emulated_verifier(cp_amdsp *sp) {
        cp_amd_trust *t = NULL;
        cp_snp_verifier *v = NULL;
        cp_amd_cert *ark = NULL;
        uint8_t *der;
        size_t n;
        ASSERT_OK(cp_amdsp_ca_cert(sp, CP_AMD_CERT_ARK, &der, &n));
        ASSERT_OK(cp_amd_cert_load(der, n, &ark));
        free(der);
        ASSERT_OK(cp_amd_trust_new_empty(&t));
        ASSERT_OK(cp_amd_trust_add_ark(t, ark));
        cp_amd_cert_free(ark);
        ASSERT_OK(cp_snp_verifier_new(t, &v));
        return v;
}

/* Launch, fetch an extended report and verify it with the emulated ARK
 * trusted under policy (NULL: cryptographic checks only).  The parsed
 * report goes to *ret. */
static int launch_and_verify(const cp_amdsp_launch *l, const cp_snp_policy *policy, cp_snp_report *ret) {
        cp_amdsp *sp = get_host();
        uint8_t secrets[CP_SNP_SECRETS_PAGE_SIZE], report[CP_SNP_REPORT_SIZE], *certs = NULL;
        size_t certs_len = 0;
        uint32_t h = 0;
        int r = cp_amdsp_launch_guest(sp, l, &h, secrets);
        if (r < 0)
                return r;
        ASSERT_OK(get_report(sp, h, secrets, report, &certs, &certs_len));
        cp_snp_verifier *v = emulated_verifier(sp);
        cp_snp_verify_options o = CP_SNP_VERIFY_OPTIONS_INIT;
        o.policy = policy;
        cp_snp_verify_result *res = calloc(1, sizeof(*res));
        cp_snp_evidence ev = { .report = report, .report_len = CP_SNP_REPORT_SIZE, .certtable = certs,
                               .certtable_len = certs_len };
        r = cp_snp_verify(v, &ev, &o, res);
        ASSERT_OK(cp_snp_report_parse(report, sizeof(report), 0, ret));
        if (r == 0)
                ASSERT_MEMEQ(res->report.measurement, ret->measurement, 48);
        free(res);
        free(certs);
        cp_snp_verifier_free(v);
        return r;
}

static void pin(cp_snp_policy *p, const uint8_t m[48]) {
        cp_snp_policy_init(p);
        ASSERT_OK(cp_snp_bytes_set_add(&p->measurements, m, 48));
}

TEST(debian_ovmf_measured_by_the_amdsp) {
        get_host();
        cp_snp_measure_params mp;
        cp_snp_measure_params_init(&mp);
        mp.ovmf = debian_ovmf;
        mp.ovmf_len = debian_len;
        mp.vcpus = 4;
        ASSERT_OK(cp_snp_vcpu_type_sig("EPYC-Milan-v2", &mp.vcpu_sig));
        uint8_t want[48];
        ASSERT_OK(cp_snp_measure(&mp, want));

        /* firmware bytes given */
        cp_amdsp_launch l = { .policy = 0x30000, .measure = &mp };
        cp_snp_policy pol;
        pin(&pol, want);
        cp_snp_report rep;
        ASSERT_OK(launch_and_verify(&l, &pol, &rep));
        ASSERT_MEMEQ(rep.measurement, want, 48);
        /* firmware read from a path by the AMD-SP */
        cp_snp_measure_params byfile = mp;
        byfile.ovmf = NULL;
        byfile.ovmf_len = 0;
        l.measure = &byfile;
        l.ovmf_path = DEBIAN_OVMF;
        ASSERT_OK(launch_and_verify(&l, &pol, &rep));
        ASSERT_MEMEQ(rep.measurement, want, 48);

        /* another vCPU count is another launch: the pinned policy refuses it */
        mp.vcpus = 2;
        l.measure = &mp;
        l.ovmf_path = NULL;
        ASSERT_ERR(launch_and_verify(&l, &pol, &rep), CP_EPOLICY);
        ASSERT_FALSE(memcmp(rep.measurement, want, 48) == 0);
        cp_snp_policy_clear(&pol);

        /* snp:ovmf-hash: the firmware pages alone */
        cp_snp_measure_params_init(&mp);
        mp.mode = CP_SNP_MODE_OVMF_HASH;
        mp.ovmf = debian_ovmf;
        mp.ovmf_len = debian_len;
        ASSERT_OK(cp_snp_measure(&mp, want));
        ASSERT_OK(launch_and_verify(&l, NULL, &rep));
        ASSERT_MEMEQ(rep.measurement, want, 48);

        /* Debian's OVMF.fd has no SNP_KERNEL_HASHES section: measured direct
         * boot cannot be launched from it */
        cp_snp_kernel_hashes kh;
        ASSERT_OK(cp_snp_kernel_hashes_compute((const uint8_t *) "k", 1, NULL, 0, "x", &kh));
        cp_snp_measure_params_init(&mp);
        mp.ovmf = debian_ovmf;
        mp.ovmf_len = debian_len;
        mp.kernel_hashes = &kh;
        ASSERT_ERR(launch_and_verify(&l, NULL, &rep), CP_EFORMAT);
}

static void write_boot_files(void) {
        static const char kernel[] = "MZ\x90\x00 a tiny test kernel image that is not a kernel";
        static const char initrd[] = "070701 a tiny initrd";
        ASSERT_OK(cp_write_file(tmp_path("vmlinuz"), kernel, sizeof(kernel) - 1, 0644));
        ASSERT_OK(cp_write_file(tmp_path("initrd"), initrd, sizeof(initrd) - 1, 0644));
}

TEST(measured_direct_boot_cmdline_is_bound) {
        get_host();
        write_boot_files();
        cp_snp_kernel_hashes kh;
        ASSERT_OK(cp_snp_kernel_hashes_from_files(tmp_path("vmlinuz"), tmp_path("initrd"), "console=ttyS0 ro", &kh));
        cp_snp_measure_params mp;
        cp_snp_measure_params_init(&mp);
        mp.ovmf = amdsev_ovmf;
        mp.ovmf_len = amdsev_len;
        mp.vcpus = 2;
        mp.kernel_hashes = &kh;
        ASSERT_OK(cp_snp_vcpu_type_sig("EPYC-v4", &mp.vcpu_sig));
        uint8_t want[48];
        ASSERT_OK(cp_snp_measure(&mp, want));
        cp_amdsp_launch l = { .policy = 0x30000, .measure = &mp };
        cp_snp_policy pol;
        pin(&pol, want);
        cp_snp_report rep;
        ASSERT_OK(launch_and_verify(&l, &pol, &rep));
        ASSERT_MEMEQ(rep.measurement, want, 48);

        /* a changed command line: another measurement, refused by the policy */
        ASSERT_OK(cp_snp_kernel_hashes_from_files(tmp_path("vmlinuz"), tmp_path("initrd"), "console=ttyS0 rw", &kh));
        ASSERT_ERR(launch_and_verify(&l, &pol, &rep), CP_EPOLICY);
        ASSERT_FALSE(memcmp(rep.measurement, want, 48) == 0);
        uint8_t other[48];
        ASSERT_OK(cp_snp_measure(&mp, other));
        ASSERT_MEMEQ(rep.measurement, other, 48);
        cp_snp_policy_clear(&pol);
}

TEST(launch_argument_refusals) {
        cp_amdsp *sp = get_host();
        uint8_t secrets[CP_SNP_SECRETS_PAGE_SIZE];
        uint32_t h = 0;
        cp_snp_measure_params mp;
        cp_snp_measure_params_init(&mp);
        mp.ovmf = debian_ovmf;
        mp.ovmf_len = debian_len;
        mp.vcpu_sig = 0xa00f11;
        cp_amdsp_launch l = { .policy = 0x30000, .measure = &mp };
        /* a claimed digest and parameters at once */
        l.measurement[0] = 1;
        ASSERT_ERR(cp_amdsp_launch_guest(sp, &l, &h, secrets), CP_EINVAL);
        l.measurement[0] = 0;
        /* pre-SNP modes are not SNP launches */
        mp.mode = CP_SNP_MODE_SEV_ES;
        ASSERT_ERR(cp_amdsp_launch_guest(sp, &l, &h, secrets), CP_EINVAL);
        mp.mode = CP_SNP_MODE_SNP;
        /* bad parameters are refused by the measurement */
        mp.vcpus = 0;
        ASSERT_ERR(cp_amdsp_launch_guest(sp, &l, &h, secrets), CP_EINVAL);
        mp.vcpus = 1;
        /* no firmware at all, a path that does not exist, a path without parameters */
        mp.ovmf = NULL;
        ASSERT_ERR(cp_amdsp_launch_guest(sp, &l, &h, secrets), CP_EINVAL);
        l.ovmf_path = tmp_path("no-such-ovmf.fd");
        ASSERT_ERR(cp_amdsp_launch_guest(sp, &l, &h, secrets), CP_ENOTFOUND);
        l.measure = NULL;
        ASSERT_ERR(cp_amdsp_launch_guest(sp, &l, &h, secrets), CP_EINVAL);
        /* firmware that is not page aligned */
        l.measure = &mp;
        l.ovmf_path = NULL;
        mp.ovmf = debian_ovmf;
        mp.ovmf_len = debian_len - 1;
        ASSERT_TRUE(cp_amdsp_launch_guest(sp, &l, &h, secrets) < 0);
}

typedef struct idkeys {
        cp_snp_id_key *id, *author;
        uint8_t id_digest[48], author_digest[48];
} idkeys;

static void load_keys(idkeys *k) {
        size_t n;
        uint8_t *pem = cp_test_read("measure/id_key_test.pem", &n);
        ASSERT_OK(cp_snp_id_key_load_pem(pem, n, &k->id));
        free(pem);
        pem = cp_test_read("measure/author_key_test.pem", &n);
        ASSERT_OK(cp_snp_id_key_load_pem(pem, n, &k->author));
        free(pem);
        cp_snp_id_key_digest(k->id, k->id_digest);
        cp_snp_id_key_digest(k->author, k->author_digest);
}

TEST(id_block_verified_at_launch) {
        get_host();
        idkeys k;
        load_keys(&k);
        cp_snp_measure_params mp;
        cp_snp_measure_params_init(&mp);
        mp.ovmf = debian_ovmf;
        mp.ovmf_len = debian_len;
        mp.vcpus = 2;
        ASSERT_OK(cp_snp_vcpu_type_sig("EPYC-Milan", &mp.vcpu_sig));
        uint8_t ld[48], blk[CP_SNP_ID_BLOCK_SIZE], *auth = malloc(CP_SNP_ID_AUTH_SIZE);
        ASSERT_TRUE(auth != NULL);
        ASSERT_OK(cp_snp_measure(&mp, ld));
        cp_snp_id_block b;
        cp_snp_id_block_init(&b, ld);
        memset(b.family_id, 0xfa, 16);
        memset(b.image_id, 0x1a, 16);
        b.guest_svn = 3;
        cp_amdsp_launch l = { .policy = CP_SNP_ID_BLOCK_DEFAULT_POLICY, .measure = &mp, .id_block = blk,
                              .id_block_len = sizeof(blk), .id_auth = auth, .id_auth_len = CP_SNP_ID_AUTH_SIZE };
        cp_snp_report rep;

        /* signed for another measurement: refused at launch */
        cp_snp_id_block wrong = b;
        wrong.ld[0] ^= 1;
        ASSERT_OK(cp_snp_id_auth_create(&wrong, k.id, k.author, blk, auth));
        ASSERT_ERR(launch_and_verify(&l, NULL, &rep), CP_EBINDING);
        /* signed for this measurement but another vCPU count launched */
        ASSERT_OK(cp_snp_id_auth_create(&b, k.id, k.author, blk, auth));
        mp.vcpus = 3;
        ASSERT_ERR(launch_and_verify(&l, NULL, &rep), CP_EBINDING);
        mp.vcpus = 2;
        /* a launch policy other than the block's */
        l.policy = 0x30000 | (1u << 19); /* + debug */
        ASSERT_ERR(launch_and_verify(&l, NULL, &rep), CP_EPOLICY);
        l.policy = CP_SNP_ID_BLOCK_DEFAULT_POLICY;
        /* tampered block or signature */
        blk[50] ^= 1; /* FAMILY_ID */
        ASSERT_ERR(launch_and_verify(&l, NULL, &rep), CP_ESIG);
        blk[50] ^= 1;
        auth[0x40 + 3] ^= 1; /* ID_BLOCK_SIG.R */
        ASSERT_ERR(launch_and_verify(&l, NULL, &rep), CP_ESIG);
        auth[0x40 + 3] ^= 1;
        /* truncated structures, half a pair */
        l.id_block_len = CP_SNP_ID_BLOCK_SIZE - 1;
        ASSERT_ERR(launch_and_verify(&l, NULL, &rep), CP_ETRUNC);
        l.id_block_len = CP_SNP_ID_BLOCK_SIZE;
        l.id_auth_len = CP_SNP_ID_AUTH_SIZE - 1;
        ASSERT_TRUE(launch_and_verify(&l, NULL, &rep) < 0);
        l.id_auth_len = CP_SNP_ID_AUTH_SIZE;
        l.id_auth = NULL;
        ASSERT_ERR(launch_and_verify(&l, NULL, &rep), CP_EINVAL);
        l.id_auth = auth;
        /* claimed key digests next to a signed block; claimed IDs that differ */
        l.has_id_block = true;
        ASSERT_ERR(launch_and_verify(&l, NULL, &rep), CP_EINVAL);
        l.has_id_block = false;
        memset(l.image_id, 0x2b, 16);
        ASSERT_ERR(launch_and_verify(&l, NULL, &rep), CP_EBINDING);
        memset(l.image_id, 0x1a, 16); /* equal: accepted */
        l.guest_svn = 4;
        ASSERT_ERR(launch_and_verify(&l, NULL, &rep), CP_EBINDING);
        l.guest_svn = 0;

        /* the good one: reported, and accepted by a policy trusting the keys */
        cp_snp_policy pol;
        pin(&pol, ld);
        ASSERT_OK(cp_snp_bytes_set_add(&pol.trusted_id_key_digests, k.id_digest, 48));
        ASSERT_OK(cp_snp_bytes_set_add(&pol.trusted_author_key_digests, k.author_digest, 48));
        pol.require_id_block = pol.require_author_key = true;
        ASSERT_OK(launch_and_verify(&l, &pol, &rep));
        ASSERT_MEMEQ(rep.measurement, ld, 48);
        ASSERT_MEMEQ(rep.id_key_digest, k.id_digest, 48);
        ASSERT_MEMEQ(rep.author_key_digest, k.author_digest, 48);
        ASSERT_TRUE(rep.author_key_en);
        ASSERT_MEMEQ(rep.family_id, b.family_id, 16);
        ASSERT_MEMEQ(rep.image_id, b.image_id, 16);
        ASSERT_EQ(rep.guest_svn, 3);
        ASSERT_U64_EQ(rep.policy, CP_SNP_ID_BLOCK_DEFAULT_POLICY);

        /* a policy trusting another ID key refuses it */
        cp_snp_policy other;
        pin(&other, ld);
        ASSERT_OK(cp_snp_bytes_set_add(&other.trusted_id_key_digests, k.author_digest, 48));
        other.require_id_block = true;
        ASSERT_ERR(launch_and_verify(&l, &other, &rep), CP_EPOLICY);
        cp_snp_policy_clear(&other);

        /* without an author key: AUTHOR_KEY_EN 0, refused by require_author_key */
        ASSERT_OK(cp_snp_id_auth_create(&b, k.id, NULL, blk, auth));
        ASSERT_ERR(launch_and_verify(&l, &pol, &rep), CP_EPOLICY);
        ASSERT_FALSE(rep.author_key_en);
        ASSERT_MEMEQ(rep.id_key_digest, k.id_digest, 48);
        uint8_t zero[48] = { 0 };
        ASSERT_MEMEQ(rep.author_key_digest, zero, 48);
        pol.require_author_key = false;
        ASSERT_OK(launch_and_verify(&l, &pol, &rep));

        /* no ID block: refused by require_id_block */
        l.id_block = l.id_auth = NULL;
        ASSERT_ERR(launch_and_verify(&l, &pol, &rep), CP_EPOLICY);
        ASSERT_MEMEQ(rep.id_key_digest, zero, 48);
        cp_snp_policy_clear(&pol);
        cp_snp_id_key_free(k.id);
        cp_snp_id_key_free(k.author);
        free(auth);
}

TEST(launch_state_persists) {
        cp_amdsp *sp = get_host();
        idkeys k;
        load_keys(&k);
        cp_snp_measure_params mp;
        cp_snp_measure_params_init(&mp);
        mp.ovmf = debian_ovmf;
        mp.ovmf_len = debian_len;
        mp.vcpu_sig = 0xa00f11;
        uint8_t ld[48], blk[CP_SNP_ID_BLOCK_SIZE], *auth = malloc(CP_SNP_ID_AUTH_SIZE);
        ASSERT_TRUE(auth != NULL);
        ASSERT_OK(cp_snp_measure(&mp, ld));
        cp_snp_id_block b;
        cp_snp_id_block_init(&b, ld);
        b.guest_svn = 9;
        ASSERT_OK(cp_snp_id_auth_create(&b, k.id, k.author, blk, auth));
        cp_amdsp_launch l = { .policy = CP_SNP_ID_BLOCK_DEFAULT_POLICY, .measure = &mp, .id_block = blk,
                              .id_block_len = sizeof(blk), .id_auth = auth, .id_auth_len = CP_SNP_ID_AUTH_SIZE };
        uint8_t secrets[CP_SNP_SECRETS_PAGE_SIZE], report[CP_SNP_REPORT_SIZE];
        uint32_t h = 0;
        ASSERT_OK(cp_amdsp_launch_guest(sp, &l, &h, secrets));
        free(auth);
        /* another process (a fresh open of the same host) serves the guest */
        cp_amdsp *again = NULL;
        ASSERT_OK(cp_amdsp_open(tmp_path("host"), NULL, &again));
        ASSERT_OK(get_report(again, h, secrets, report, NULL, NULL));
        cp_snp_report rep;
        ASSERT_OK(cp_snp_report_parse(report, sizeof(report), 0, &rep));
        ASSERT_MEMEQ(rep.measurement, ld, 48);
        ASSERT_MEMEQ(rep.id_key_digest, k.id_digest, 48);
        ASSERT_MEMEQ(rep.author_key_digest, k.author_digest, 48);
        ASSERT_TRUE(rep.author_key_en);
        ASSERT_EQ(rep.guest_svn, 9);
        cp_amdsp_free(again);
        cp_snp_id_key_free(k.id);
        cp_snp_id_key_free(k.author);
}
