/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The software TDX (src/emu/tdx_emu.h): a TD built from a TDVF image by the
 * software TDX module, its TDREPORT quoted by the software QE, verified by
 * cp_tdx_verify with the emulated root and refused with Intel's pinned one;
 * the emulated PCS driving every Intel TCB status; TDVF parsing and MRTD
 * (the module and cp_tdx_measure_mrtd agree; malformed metadata refused).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "basic/cleanup.h"
#include "basic/fileio.h"
#include "confpool/tdx_measure.h"
#include "confpool/tdx_verify.h"
#include "emu/tdx-emu-internal.h"
#include "tdvf-testutil.h"
#include "tests.h"

#define OVMF_FD "/usr/share/ovmf/OVMF.fd"

typedef struct emu {
        cp_tdx_pcs *pcs;
        cp_tdx_host *host;
        cp_tdx_td *td;
        char *root;
        size_t root_len;
        uint8_t *img;
        size_t img_len;
        int64_t now;
} emu;

static void emu_up(emu *e, uint64_t attributes) {
        memset(e, 0, sizeof(*e));
        e->now = (int64_t) time(NULL);
        ASSERT_OK(cp_tdx_pcs_new(&(cp_tdx_pcs_config) { .now = e->now }, &e->pcs));
        ASSERT_OK(cp_tdx_host_new(e->pcs, &(cp_tdx_host_config) { .now = e->now }, &e->host));
        ASSERT_OK(cp_tdx_pcs_root_pem(e->pcs, &e->root, &e->root_len));
        e->img = t_tdvf_build(t_tdvf_default, CP_ELEMENTSOF(t_tdvf_default), &e->img_len);
        cp_tdx_td_params p = { .attributes = attributes };
        memset(p.mrconfigid, 0xc1, 48);
        ASSERT_OK(cp_tdx_td_create(e->host, &p, &e->td));
        ASSERT_OK(cp_tdx_td_load_tdvf(e->td, e->img, e->img_len, CP_TDX_ORDER_SINGLE_PASS));
        ASSERT_OK(cp_tdx_td_finalize(e->td));
}

static void emu_down(emu *e) {
        cp_tdx_td_free(e->td);
        cp_tdx_host_free(e->host);
        cp_tdx_pcs_free(e->pcs);
        free(e->root);
        free(e->img);
}

static void quote_for(emu *e, uint8_t fill, uint8_t **q, size_t *ql) {
        uint8_t rd[64], rep[CP_TDX_TDREPORT_SIZE];
        memset(rd, fill, sizeof(rd));
        ASSERT_OK(cp_tdx_td_report(e->td, rd, rep));
        ASSERT_OK(cp_tdx_host_quote(e->host, rep, q, ql));
}

/* verify q with the PCS's current collateral at e->now (+ skew) */
static int verify(emu *e, const uint8_t *q, size_t ql, bool emulated_root, cp_tdx_verify_result *r) {
        cp_tdx_pcs_collateral c;
        cp_tdx_collateral col;
        ASSERT_OK(cp_tdx_pcs_collateral_get(e->pcs, e->now, &c));
        cp_tdx_pcs_collateral_view(&c, &col);
        cp_tdx_verify_options o = CP_TDX_VERIFY_OPTIONS_INIT;
        o.now = e->now + 60;
        if (emulated_root) {
                o.trust_root = (const uint8_t *) e->root;
                o.trust_root_len = e->root_len;
        }
        int k = cp_tdx_verify(q, ql, &col, &o, r);
        cp_tdx_pcs_collateral_free(&c);
        return k;
}

TEST(quote_verifies_with_emulated_root_only) {
        emu e;
        _cleanup_free_ uint8_t *q = NULL;
        size_t ql;
        cp_tdx_verify_result r;
        uint8_t mrtd[48], want[48], rd[64], digest[48];
        cp_tdvf_info info;
        emu_up(&e, CP_TDX_TDATTR_SEPT_VE_DISABLE);
        memset(digest, 0x5a, 48);
        ASSERT_OK(cp_tdx_td_rtmr_extend(e.td, 2, digest));
        quote_for(&e, 0xab, &q, &ql);
        ASSERT_OK(verify(&e, q, ql, true, &r));
        ASSERT_EQ(r.tcb_status, CP_TDX_TCB_UP_TO_DATE);
        ASSERT_TRUE(r.revocation_checked);
        ASSERT_STREQ(r.module_id, "TDX_01");
        memset(rd, 0xab, 64);
        ASSERT_MEMEQ(r.quote.body.report_data, rd, 64);
        ASSERT_U64_EQ(r.quote.body.td_attributes, CP_TDX_TDATTR_SEPT_VE_DISABLE);
        /* the MRTD the module reported is the one measured from the image */
        cp_tdx_td_mrtd(e.td, mrtd);
        ASSERT_OK(cp_tdvf_parse(e.img, e.img_len, &info));
        ASSERT_OK(cp_tdx_measure_mrtd(e.img, e.img_len, &info, CP_TDX_ORDER_SINGLE_PASS, want));
        ASSERT_MEMEQ(mrtd, want, 48);
        ASSERT_MEMEQ(r.quote.body.mrtd, want, 48);
        /* RTMR2 = SHA-384(0^48 || digest) */
        uint8_t rtmr[48] = { 0 };
        ASSERT_OK(cp_tdx_rtmr_extend(rtmr, digest));
        ASSERT_MEMEQ(r.quote.body.rtmr[2], rtmr, 48);
        /* Intel's pinned root refuses the emulated chain */
        ASSERT_ERR(verify(&e, q, ql, false, &r), CP_EUNTRUSTED);
        emu_down(&e);
}

TEST(quote_every_bit_of_body_and_signatures_refused) {
        emu e;
        _cleanup_free_ uint8_t *q = NULL;
        size_t ql;
        cp_tdx_verify_result r;
        emu_up(&e, 0);
        quote_for(&e, 1, &q, &ql);
        /* header + body, the signature, the attestation key, the QE report and its signature */
        size_t ends[] = { 48 + 584, 48 + 584 + 4 + 64 + 64 + 6 + 384 + 64 };
        for (size_t byte = 0; byte < ends[1]; byte += 7) {
                if (byte >= ends[0] && byte < ends[0] + 4)
                        continue; /* the signature data length: a parse error, tested elsewhere */
                if (byte >= ends[0] + 4 + 128 && byte < ends[0] + 4 + 128 + 6)
                        continue;
                q[byte] ^= 0x10;
                ASSERT_FAILS(verify(&e, q, ql, true, &r));
                q[byte] ^= 0x10;
        }
        ASSERT_OK(verify(&e, q, ql, true, &r));
        emu_down(&e);
}

TEST(qe_refuses_altered_or_foreign_report) {
        emu e, other;
        uint8_t rd[64] = { 0 }, rep[CP_TDX_TDREPORT_SIZE];
        uint8_t *q = NULL;
        size_t ql = 0;
        emu_up(&e, 0);
        emu_up(&other, 0);
        ASSERT_OK(cp_tdx_td_report(e.td, rd, rep));
        for (size_t i = 0; i < CP_TDX_TDREPORT_SIZE; i += 13) {
                rep[i] ^= 1;
                ASSERT_FAILS(cp_tdx_host_quote(e.host, rep, &q, &ql));
                rep[i] ^= 1;
        }
        /* a report of another platform: its module key differs */
        ASSERT_ERR(cp_tdx_host_quote(other.host, rep, &q, &ql), CP_ESIG);
        ASSERT_OK(cp_tdx_host_quote(e.host, rep, &q, &ql));
        free(q);
        emu_down(&e);
        emu_down(&other);
}

TEST(tdreport_layout) {
        emu e;
        uint8_t rd[64], rep[CP_TDX_TDREPORT_SIZE], mrtd[48];
        cp_tdx_tdreport t;
        emu_up(&e, CP_TDX_TDATTR_DEBUG);
        memset(rd, 0x77, 64);
        ASSERT_OK(cp_tdx_td_report(e.td, rd, rep));
        ASSERT_OK(cp_tdx_tdreport_parse(rep, sizeof(rep), &t));
        ASSERT_EQ(rep[0], 0x81);
        cp_tdx_td_mrtd(e.td, mrtd);
        ASSERT_MEMEQ(t.body.mrtd, mrtd, 48);
        ASSERT_MEMEQ(t.report_data, rd, 64);
        ASSERT_U64_EQ(t.body.td_attributes, CP_TDX_TDATTR_DEBUG);
        ASSERT_U64_EQ(t.body.xfam, 0x61ae7);
        ASSERT_EQ(t.body.tee_tcb_svn[1], 1);
        uint8_t c1[48];
        memset(c1, 0xc1, 48);
        ASSERT_MEMEQ(t.body.mrconfigid, c1, 48);
        ASSERT_ERR(cp_tdx_tdreport_parse(rep, sizeof(rep) - 1, &t), CP_ETRUNC);
        uint8_t longer[CP_TDX_TDREPORT_SIZE + 1] = { 0 };
        memcpy(longer, rep, sizeof(rep));
        ASSERT_ERR(cp_tdx_tdreport_parse(longer, sizeof(longer), &t), CP_ETRAILING);
        rep[0] = 0x00; /* an SGX report type */
        ASSERT_ERR(cp_tdx_tdreport_parse(rep, sizeof(rep), &t), CP_EFORMAT);
        emu_down(&e);
}

typedef struct status_row {
        const char *name;
        cp_tdx_tcb_status set;
        int want_err;
} status_row;

static const status_row status_rows[] = {
        { "UpToDate", CP_TDX_TCB_UP_TO_DATE, 0 },
        { "SWHardeningNeeded", CP_TDX_TCB_SW_HARDENING_NEEDED, 0 },
        { "ConfigurationNeeded", CP_TDX_TCB_CONFIGURATION_NEEDED, 0 },
        { "ConfigurationAndSWHardeningNeeded", CP_TDX_TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED, 0 },
        { "OutOfDate", CP_TDX_TCB_OUT_OF_DATE, 0 },
        { "OutOfDateConfigurationNeeded", CP_TDX_TCB_OUT_OF_DATE_CONFIGURATION_NEEDED, 0 },
        { "Revoked", CP_TDX_TCB_REVOKED, CP_EREVOKED },
};

static void status_case(void *ctx, const void *row) {
        emu *e = ctx;
        const status_row *s = row;
        _cleanup_free_ uint8_t *q = NULL;
        size_t ql;
        cp_tdx_verify_result r;
        ASSERT_OK(cp_tdx_pcs_set_status(e->pcs, 0, s->set, s->set == CP_TDX_TCB_UP_TO_DATE ? NULL : "INTEL-SA-01010"));
        quote_for(e, 2, &q, &ql);
        int k = verify(e, q, ql, true, &r);
        ASSERT_EQ(k, s->want_err);
        ASSERT_EQ(r.platform_status, s->set);
        if (k == 0) {
                ASSERT_EQ(r.tcb_status, s->set);
                ASSERT_STREQ(cp_tdx_tcb_status_name(r.tcb_status), s->name);
                ASSERT_EQ(r.n_advisories, s->set == CP_TDX_TCB_UP_TO_DATE ? 0 : 1);
        }
}

TEST(pcs_drives_every_tcb_status) {
        emu e;
        emu_up(&e, 0);
        TEST_TABLE(status_rows, status_case, &e);
        emu_down(&e);
}

TEST(tcb_recovery_then_update) {
        emu e;
        _cleanup_free_ uint8_t *q = NULL, *q2 = NULL;
        size_t ql, ql2;
        cp_tdx_verify_result r;
        cp_tdx_tcb t;
        emu_up(&e, 0);
        quote_for(&e, 3, &q, &ql);
        ASSERT_OK(verify(&e, q, ql, true, &r));
        ASSERT_EQ(r.tcb_status, CP_TDX_TCB_UP_TO_DATE);
        unsigned eval = r.tcb_evaluation_data_number;
        cp_tdx_pcs_default_tcb(e.pcs, &t);
        t.sgx[0]++;
        t.tdx[2]++;
        ASSERT_OK(cp_tdx_pcs_tcb_recovery(e.pcs, &t, "INTEL-SA-00960"));
        ASSERT_OK(verify(&e, q, ql, true, &r));
        ASSERT_EQ(r.tcb_status, CP_TDX_TCB_OUT_OF_DATE);
        ASSERT_EQ(r.n_advisories, 1);
        ASSERT_STREQ(r.advisories[0], "INTEL-SA-00960");
        ASSERT_TRUE(r.tcb_evaluation_data_number > eval);
        /* the platform takes the update: new PCK, new TEE_TCB_SVN */
        ASSERT_OK(cp_tdx_host_set_tcb(e.host, &t, e.now));
        quote_for(&e, 3, &q2, &ql2);
        ASSERT_OK(verify(&e, q2, ql2, true, &r));
        ASSERT_EQ(r.tcb_status, CP_TDX_TCB_UP_TO_DATE);
        emu_down(&e);
}

TEST(revoked_pck_refused) {
        emu e;
        _cleanup_free_ uint8_t *q = NULL;
        size_t ql, sl;
        uint8_t serial[20];
        cp_tdx_verify_result r;
        emu_up(&e, 0);
        quote_for(&e, 4, &q, &ql);
        ASSERT_OK(cp_tdx_host_pck_serial(e.host, serial, sizeof(serial), &sl));
        ASSERT_OK(cp_tdx_pcs_revoke_pck(e.pcs, serial, sl));
        ASSERT_ERR(verify(&e, q, ql, true, &r), CP_EREVOKED);
        emu_down(&e);
}

TEST(module_call_sequence) {
        emu e;
        uint8_t chunk[256] = { 0 }, rd[64] = { 0 }, rep[CP_TDX_TDREPORT_SIZE], d[48] = { 0 };
        cp_tdx_td *td = NULL;
        emu_up(&e, 0);
        ASSERT_OK(cp_tdx_td_create(e.host, NULL, &td));
        ASSERT_ERR(cp_tdx_td_report(td, rd, rep), CP_EBADSEQ);
        ASSERT_ERR(cp_tdx_td_rtmr_extend(td, 0, d), CP_EBADSEQ);
        ASSERT_ERR(cp_tdx_td_page_add(td, 0x1001), CP_EINVAL);
        ASSERT_OK(cp_tdx_td_page_add(td, 0x1000));
        ASSERT_ERR(cp_tdx_td_page_add(td, 0x1000), CP_EINVAL);
        ASSERT_ERR(cp_tdx_td_mr_extend(td, 0x2000, chunk), CP_EINVAL); /* not added */
        ASSERT_ERR(cp_tdx_td_mr_extend(td, 0x1080, chunk), CP_EINVAL); /* not 256-aligned */
        ASSERT_OK(cp_tdx_td_page_aug(td, 0x3000));
        ASSERT_ERR(cp_tdx_td_mr_extend(td, 0x3000, chunk), CP_EINVAL); /* AUG pages are not measured */
        ASSERT_OK(cp_tdx_td_mr_extend(td, 0x1100, chunk));
        ASSERT_OK(cp_tdx_td_finalize(td));
        ASSERT_ERR(cp_tdx_td_finalize(td), CP_EBADSEQ);
        ASSERT_ERR(cp_tdx_td_page_add(td, 0x4000), CP_EBADSEQ);
        ASSERT_ERR(cp_tdx_td_rtmr_extend(td, 4, d), CP_EINVAL);
        ASSERT_OK(cp_tdx_td_rtmr_extend(td, 3, d));
        cp_tdx_td_free(td);
        emu_down(&e);
}

/* The real TDVF metadata of Debian's OVMF.fd: parsed, and the module agrees
 * with cp_tdx_measure_mrtd in both page orders (which differ). */
TEST(real_ovmf_tdvf) {
        _cleanup_free_ uint8_t *fw = NULL;
        size_t len = 0;
        cp_tdvf_info info;
        uint8_t a[48], b[48], m[48];
        if (cp_read_file(OVMF_FD, 64u << 20, &fw, &len) < 0)
                TEST_SKIP("%s not installed", OVMF_FD);
        ASSERT_OK(cp_tdvf_parse(fw, len, &info));
        ASSERT_EQ(info.n_sections, 6);
        ASSERT_EQ(info.sections[0].type, CP_TDVF_BFV);
        ASSERT_EQ(info.sections[0].attributes, CP_TDVF_ATTR_MR_EXTEND);
        ASSERT_EQ(info.sections[1].type, CP_TDVF_CFV);
        ASSERT_OK(cp_tdx_measure_mrtd(fw, len, &info, CP_TDX_ORDER_SINGLE_PASS, a));
        ASSERT_OK(cp_tdx_measure_mrtd(fw, len, &info, CP_TDX_ORDER_TWO_PASS, b));
        ASSERT_TRUE(memcmp(a, b, 48) != 0);
        emu e;
        emu_up(&e, 0);
        for (int order = 0; order < 2; order++) {
                cp_tdx_td *td = NULL;
                ASSERT_OK(cp_tdx_td_create(e.host, NULL, &td));
                ASSERT_OK(cp_tdx_td_load_tdvf(td, fw, len, (cp_tdx_page_order) order));
                ASSERT_OK(cp_tdx_td_finalize(td));
                cp_tdx_td_mrtd(td, m);
                ASSERT_MEMEQ(m, order ? b : a, 48);
                cp_tdx_td_free(td);
        }
        emu_down(&e);
}

typedef struct tdvf_row {
        const char *name;
        size_t off;         /* byte offset into the image (descriptor-relative if < 0x1000) */
        uint32_t value;     /* le32 written there */
        int want;
} tdvf_row;

#define D(x) (T_TDVF_DESC_OFF + (x))
#define S0(x) (T_TDVF_DESC_OFF + 16 + (x))
static const tdvf_row tdvf_rows[] = {
        { "bad signature", D(0), 0x46564455, CP_EFORMAT },
        { "bad length", D(4), 16 + 32 * 4 + 1, CP_EFORMAT },
        { "version 2", D(8), 2, CP_EVERSION },
        { "too many sections", D(12), 33, CP_ETOOBIG },
        { "one section more than the length", D(12), 5, CP_EFORMAT },
        { "unaligned GPA", S0(8), 0xfffe0100, CP_EFORMAT },
        { "unaligned size", S0(16), 0x2100, CP_EFORMAT },
        { "zero size", S0(16), 0, CP_EFORMAT },
        { "raw larger than memory", S0(4), 0x3000, CP_EFORMAT },
        { "data outside the image", S0(0), T_TDVF_SIZE - 0x1000, CP_EFORMAT },
        { "unknown type", S0(24), 7, CP_EFORMAT },
        { "unknown attribute", S0(28), 4, CP_EFORMAT },
        { "MR.EXTEND and PAGE.AUG", S0(28), 3, CP_EFORMAT },
        { "overlapping sections", S0(8), 0xfffd0000, CP_EFORMAT },
        { "offset beyond the image", T_TDVF_SIZE - 50 - 22, T_TDVF_SIZE + 4096, CP_EFORMAT },
        { "offset past the descriptor header", T_TDVF_SIZE - 50 - 22, 8, CP_EFORMAT },
        { "entry length too small", T_TDVF_SIZE - 50 - 22 + 4, 0x6510 + 17, CP_EFORMAT },
        { "footer length too large", T_TDVF_SIZE - 50, 0x8296 * 0 + 0x82deffff, CP_EFORMAT },
};

static void tdvf_case(void *ctx, const void *row) {
        const tdvf_row *r = row;
        size_t len;
        cp_tdvf_info info;
        (void) ctx;
        uint8_t *img = t_tdvf_build(t_tdvf_default, CP_ELEMENTSOF(t_tdvf_default), &len);
        ASSERT_OK(cp_tdvf_parse(img, len, &info));
        cp_put_le32(img + r->off, r->value);
        int k = cp_tdvf_parse(img, len, &info);
        free(img);
        ASSERT_ERR(k, r->want);
}

TEST(tdvf_malformed_refused) {
        TEST_TABLE(tdvf_rows, tdvf_case, NULL);
}

TEST(tdvf_truncated_and_foreign_refused) {
        size_t len;
        cp_tdvf_info info;
        _cleanup_free_ uint8_t *img = t_tdvf_build(t_tdvf_default, CP_ELEMENTSOF(t_tdvf_default), &len);
        ASSERT_OK(cp_tdvf_parse(img, len, &info));
        ASSERT_EQ(info.n_sections, 4);
        ASSERT_ERR(cp_tdvf_parse(img, len - 1, &info), CP_EFORMAT);
        ASSERT_ERR(cp_tdvf_parse(img, 0, &info), CP_EFORMAT);
        /* cut the image at a page boundary: the footer is gone */
        ASSERT_FAILS(cp_tdvf_parse(img, len - 4096, &info));
        /* a footer table without the TDX entry (an SEV-only OVMF) */
        img[len - 50 - 22 + 6] ^= 0xff;
        ASSERT_ERR(cp_tdvf_parse(img, len, &info), CP_ENOTFOUND);
        img[len - 50 - 22 + 6] ^= 0xff;
        img[len - 48] ^= 0xff; /* no footer GUID */
        ASSERT_ERR(cp_tdvf_parse(img, len, &info), CP_ENOTFOUND);
}

/* The guest interfaces as Linux has them, against the emulated kernel. */
TEST(guest_configfs_tsm_and_report0) {
        emu e;
        char root[] = "/tmp/cp-tdx-tsm-XXXXXX";
        uint8_t rd[64], rep[CP_TDX_TDREPORT_SIZE];
        _cleanup_free_ uint8_t *q = NULL;
        size_t ql = 0;
        cp_tdx_verify_result r;
        cp_tdx_tdreport t;
        emu_up(&e, 0);
        ASSERT_TRUE(mkdtemp(root) != NULL);
        cp_tdx_emu k = { .host = e.host, .td = e.td };
        cp_tdx_guest_options o = { .tsm_root = root, .tsm_hook = cp_tdx_emu_tsm_hook, .tsm_userdata = &k,
                                   .device = "/dev/null", .ioctl_fn = cp_tdx_emu_ioctl, .ioctl_userdata = &k };
        memset(rd, 0x42, 64);
        ASSERT_OK(cp_tdx_guest_get_quote(&o, rd, &q, &ql));
        ASSERT_OK(verify(&e, q, ql, true, &r));
        ASSERT_MEMEQ(r.quote.body.report_data, rd, 64);
        ASSERT_OK(cp_tdx_guest_get_report0(&o, rd, rep));
        ASSERT_OK(cp_tdx_tdreport_parse(rep, sizeof(rep), &t));
        ASSERT_MEMEQ(t.report_data, rd, 64);
        ASSERT_MEMEQ(t.body.mrtd, r.quote.body.mrtd, 48);
        /* no kernel behind the tree: no provider file */
        cp_tdx_guest_options bare = { .tsm_root = root };
        free(q);
        q = NULL;
        ASSERT_FAILS(cp_tdx_guest_get_quote(&bare, rd, &q, &ql));
        cp_tdx_guest_options none = { .tsm_root = "/nonexistent-tsm", .device = "/nonexistent-tdx-guest" };
        ASSERT_ERR(cp_tdx_guest_get_quote(&none, rd, &q, &ql), CP_ENOTFOUND);
        ASSERT_ERR(cp_tdx_guest_get_report0(&none, rd, rep), CP_ENOTFOUND);
        ASSERT_OK(rmdir(root));
        emu_down(&e);
}

static const char *q_get(void *ud, const char *name) {
        const char *const *kv = ud;
        for (size_t i = 0; kv && kv[i]; i += 2)
                if (strcmp(kv[i], name) == 0)
                        return kv[i + 1];
        return NULL;
}

/* PCS API v4 routes in-process: the answers and Intel's issuer-chain headers. */
TEST(pcs_routes) {
        emu e;
        cp_tdx_pcs_answer a;
        char fm[13];
        uint8_t f[6];
        emu_up(&e, 0);
        cp_tdx_pcs_fmspc(e.pcs, f);
        snprintf(fm, sizeof(fm), "%02x%02x%02x%02x%02x%02x", f[0], f[1], f[2], f[3], f[4], f[5]);
        const char *tcb_q[] = { "fmspc", fm, NULL }, *bad_q[] = { "fmspc", "0011", NULL },
                   *other_q[] = { "fmspc", "000000000001", NULL }, *crl_q[] = { "ca", "platform", NULL },
                   *pck_q[] = { "pceid", "0000", NULL }, *pck_bad[] = { "pceid", "0100", NULL };
        ASSERT_OK(cp_tdx_pcs_get(e.pcs, "/tdx/certification/v4/tcb", q_get, tcb_q, 0, &a));
        ASSERT_EQ(a.status, 200);
        ASSERT_STREQ(a.header_name, "TCB-Info-Issuer-Chain");
        ASSERT_TRUE(strstr(a.header_value, "BEGIN%20CERTIFICATE") != NULL);
        ASSERT_TRUE(memcmp(a.body, "{\"tcbInfo\":{\"id\":\"TDX\",\"version\":3", 34) == 0);
        cp_tdx_pcs_answer_free(&a);
        ASSERT_OK(cp_tdx_pcs_get(e.pcs, "/tdx/certification/v4/tcb", q_get, bad_q, 0, &a));
        ASSERT_EQ(a.status, 400);
        cp_tdx_pcs_answer_free(&a);
        ASSERT_OK(cp_tdx_pcs_get(e.pcs, "/tdx/certification/v4/tcb", q_get, other_q, 0, &a));
        ASSERT_EQ(a.status, 404);
        cp_tdx_pcs_answer_free(&a);
        ASSERT_OK(cp_tdx_pcs_get(e.pcs, "/tdx/certification/v4/qe/identity", q_get, NULL, 0, &a));
        ASSERT_EQ(a.status, 200);
        ASSERT_STREQ(a.header_name, "SGX-Enclave-Identity-Issuer-Chain");
        cp_tdx_pcs_answer_free(&a);
        ASSERT_OK(cp_tdx_pcs_get(e.pcs, "/sgx/certification/v4/pckcrl", q_get, crl_q, 0, &a));
        ASSERT_EQ(a.status, 200);
        ASSERT_STREQ(a.content_type, "application/pkix-crl");
        cp_tdx_pcs_answer_free(&a);
        ASSERT_OK(cp_tdx_pcs_get(e.pcs, "/sgx/certification/v4/pckcrl", q_get, NULL, 0, &a));
        ASSERT_EQ(a.status, 400);
        cp_tdx_pcs_answer_free(&a);
        ASSERT_OK(cp_tdx_pcs_get(e.pcs, "/sgx/certification/v4/pckcert", q_get, pck_q, 0, &a));
        ASSERT_EQ(a.status, 200);
        ASSERT_TRUE(strstr((const char *) a.body, "BEGIN CERTIFICATE") != NULL);
        cp_tdx_pcs_answer_free(&a);
        ASSERT_OK(cp_tdx_pcs_get(e.pcs, "/sgx/certification/v4/pckcert", q_get, pck_bad, 0, &a));
        ASSERT_EQ(a.status, 404);
        cp_tdx_pcs_answer_free(&a);
        ASSERT_OK(cp_tdx_pcs_get(e.pcs, "/sgx/certification/v4/rootcacrl", q_get, NULL, 0, &a));
        ASSERT_EQ(a.status, 200);
        cp_tdx_pcs_answer_free(&a);
        ASSERT_OK(cp_tdx_pcs_get(e.pcs, "/sgx/certification/v3/pckcrl", q_get, NULL, 0, &a));
        ASSERT_EQ(a.status, 404);
        cp_tdx_pcs_answer_free(&a);
        emu_down(&e);
}

/* Collateral past its nextUpdate is refused; PCS levels out of range are refused. */
TEST(pcs_collateral_expiry_and_bad_levels) {
        emu e;
        _cleanup_free_ uint8_t *q = NULL;
        size_t ql;
        cp_tdx_verify_result r;
        cp_tdx_pcs_level none = { 0 };
        emu_up(&e, 0);
        quote_for(&e, 5, &q, &ql);
        int64_t now = e.now;
        e.now = now - 31 * 86400; /* collateral issued 31 days before the check */
        cp_tdx_pcs_collateral c;
        cp_tdx_collateral col;
        ASSERT_OK(cp_tdx_pcs_collateral_get(e.pcs, e.now, &c));
        cp_tdx_pcs_collateral_view(&c, &col);
        cp_tdx_verify_options o = CP_TDX_VERIFY_OPTIONS_INIT;
        o.now = now;
        o.trust_root = (const uint8_t *) e.root;
        o.trust_root_len = e.root_len;
        ASSERT_ERR(cp_tdx_verify(q, ql, &col, &o, &r), CP_EEXPIRED);
        cp_tdx_pcs_collateral_free(&c);
        e.now = now;
        ASSERT_ERR(cp_tdx_pcs_set_levels(e.pcs, &none, 1), CP_EINVAL);
        ASSERT_ERR(cp_tdx_pcs_set_levels(e.pcs, &none, 0), CP_EINVAL);
        ASSERT_ERR(cp_tdx_pcs_set_status(e.pcs, 5, CP_TDX_TCB_UP_TO_DATE, NULL), CP_EINVAL);
        ASSERT_ERR(cp_tdx_pcs_set_status(e.pcs, 0, CP_TDX_TCB_UNKNOWN, NULL), CP_EINVAL);
        /* a level table where the platform matches nothing: no TCB level */
        cp_tdx_pcs_level high = { .status = CP_TDX_TCB_UP_TO_DATE };
        memset(high.tcb.sgx, 0xff, 16);
        ASSERT_OK(cp_tdx_pcs_set_levels(e.pcs, &high, 1));
        ASSERT_ERR(verify(&e, q, ql, true, &r), CP_ETCB);
        emu_down(&e);
}

/* The emulated channel: a guest in another process asks its TD's socket for
 * a report and a quote; malformed frames are refused. */
TEST(guest_emulated_channel) {
        emu e;
        char dir[] = "/tmp/cp-tdx-chan-XXXXXX", path[64];
        uint8_t rd[64], rep[CP_TDX_TDREPORT_SIZE];
        _cleanup_free_ uint8_t *q = NULL;
        size_t ql = 0;
        cp_tdx_verify_result r;
        cp_tdx_chan *ch = NULL;
        emu_up(&e, 0);
        ASSERT_TRUE(mkdtemp(dir) != NULL);
        snprintf(path, sizeof(path), "%s/td.sock", dir);
        cp_tdx_emu k = { .host = e.host, .td = e.td };
        ASSERT_OK(cp_tdx_chan_start(&k, path, &ch));
        cp_tdx_guest_options o = { .socket_path = path };
        memset(rd, 0x99, 64);
        ASSERT_OK(cp_tdx_guest_get_quote(&o, rd, &q, &ql));
        ASSERT_OK(verify(&e, q, ql, true, &r));
        ASSERT_MEMEQ(r.quote.body.report_data, rd, 64);
        ASSERT_OK(cp_tdx_guest_get_report0(&o, rd, rep));
        ASSERT_EQ(rep[0], 0x81);
        /* raw frames: a wrong op, a wrong length, a bad magic: no answer */
        int sv[2];
        uint8_t frame[CP_TDX_CHAN_HDR_SIZE + 64] = { 0 };
        static const uint32_t bad[][4] = { { CP_TDX_CHAN_REQ_MAGIC, 1, 3, 64 }, { CP_TDX_CHAN_REQ_MAGIC, 1, 1, 63 },
                                           { CP_TDX_CHAN_REQ_MAGIC + 1, 1, 1, 64 }, { CP_TDX_CHAN_REQ_MAGIC, 2, 1, 64 } };
        for (size_t i = 0; i < CP_ELEMENTSOF(bad); i++) {
                for (int j = 0; j < 4; j++)
                        cp_put_le32(frame + 4 * j, bad[i][j]);
                ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
                ASSERT_EQ(write(sv[0], frame, sizeof(frame)), (long) sizeof(frame));
                ASSERT_ERR(cp_tdx_emu_serve_conn(&k, sv[1]), CP_EFORMAT);
                close(sv[0]);
                close(sv[1]);
        }
        /* a TDREPORT of another TD's platform: the QE's refusal comes back as a status */
        emu other;
        emu_up(&other, 0);
        ASSERT_OK(cp_tdx_td_report(other.td, rd, rep));
        uint8_t *oq = NULL;
        size_t oql = 0;
        ASSERT_ERR(tdx_chan_call(path, CP_TDX_CHAN_QUOTE, rep, sizeof(rep), 1 << 20, &oq, &oql), CP_EIO);
        ASSERT_TRUE(strstr(cp_error_message(), "CP_ESIG") != NULL);
        emu_down(&other);
        cp_tdx_chan_stop(ch);
        ASSERT_OK(rmdir(dir));
        emu_down(&e);
}

/* cp_tdx_host_launch: create, TDVF load and finalize in one call. */
TEST(host_launch) {
        emu e;
        cp_tdx_td *td = NULL;
        uint8_t a[48], b[48];
        emu_up(&e, 0);
        ASSERT_OK(cp_tdx_host_launch(e.host, NULL, e.img, e.img_len, CP_TDX_ORDER_SINGLE_PASS, &td));
        cp_tdx_td_mrtd(td, a);
        cp_tdx_td_mrtd(e.td, b);
        ASSERT_MEMEQ(a, b, 48);
        ASSERT_ERR(cp_tdx_td_page_add(td, 0x100000), CP_EBADSEQ); /* finalized */
        cp_tdx_td_free(td);
        td = NULL;
        ASSERT_ERR(cp_tdx_host_launch(e.host, NULL, e.img, e.img_len - 1, CP_TDX_ORDER_SINGLE_PASS, &td), CP_EFORMAT);
        ASSERT_TRUE(td == NULL);
        emu_down(&e);
}

/* ---- persistence (issue 16): a restarted stack keeps its emulated Intel ---- */

static void rm_state(const char *dir) {
        char cmd[600];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        ASSERT_EQ(system(cmd), 0);
}

TEST(pcs_and_host_persist_across_reopen) {
        char dir[] = "/tmp/cp-tdx-state-XXXXXX", pd[300], hd[300];
        ASSERT_TRUE(mkdtemp(dir) != NULL);
        snprintf(pd, sizeof(pd), "%s/pcs", dir);
        snprintf(hd, sizeof(hd), "%s/host", dir);
        int64_t now = (int64_t) time(NULL);
        cp_tdx_pcs *pcs = NULL;
        cp_tdx_host *h = NULL;
        _cleanup_free_ char *root = NULL, *root2 = NULL;
        _cleanup_free_ uint8_t *q = NULL, *q2 = NULL;
        size_t rl, rl2, ql, ql2;
        ASSERT_OK(cp_tdx_pcs_open(pd, &(cp_tdx_pcs_config) { .now = now }, &pcs));
        ASSERT_OK(cp_tdx_host_open(pcs, hd, NULL, &h));
        ASSERT_OK(cp_tdx_pcs_root_pem(pcs, &root, &rl));
        /* a TCB recovery and a revocation are state too */
        cp_tdx_tcb t;
        cp_tdx_pcs_default_tcb(pcs, &t);
        t.tdx[2]++;
        ASSERT_OK(cp_tdx_pcs_tcb_recovery(pcs, &t, "INTEL-SA-00111"));
        uint8_t mrtd[48];
        cp_tdx_td *td = NULL;
        size_t img_len;
        _cleanup_free_ uint8_t *img = t_tdvf_build(t_tdvf_default, CP_ELEMENTSOF(t_tdvf_default), &img_len);
        ASSERT_OK(cp_tdx_host_launch(h, &(cp_tdx_td_params) { 0 }, img, img_len, CP_TDX_ORDER_SINGLE_PASS, &td));
        cp_tdx_td_mrtd(td, mrtd);
        uint8_t rd[64] = { 7 }, rep[CP_TDX_TDREPORT_SIZE];
        ASSERT_OK(cp_tdx_td_report(td, rd, rep));
        cp_tdx_td_free(td);
        cp_tdx_host_free(h);
        cp_tdx_pcs_free(pcs);
        /* the state files are the platform's secrets */
        struct stat st;
        char f[400];
        snprintf(f, sizeof(f), "%s/pcs.json", pd);
        ASSERT_OK(stat(f, &st) < 0 ? -1 : 0);
        ASSERT_EQ(st.st_mode & 0777, 0600);
        snprintf(f, sizeof(f), "%s/host.json", hd);
        ASSERT_OK(stat(f, &st) < 0 ? -1 : 0);
        ASSERT_EQ(st.st_mode & 0777, 0600);

        /* reopened: the same root, levels and module key (the old TDREPORT
         * still passes the QE's MAC check), the quote verifies with the root */
        ASSERT_OK(cp_tdx_pcs_open(pd, NULL, &pcs));
        ASSERT_OK(cp_tdx_host_open(pcs, hd, NULL, &h));
        ASSERT_OK(cp_tdx_pcs_root_pem(pcs, &root2, &rl2));
        ASSERT_EQ(rl, rl2);
        ASSERT_TRUE(memcmp(root, root2, rl) == 0);
        ASSERT_OK(cp_tdx_host_quote(h, rep, &q, &ql));
        cp_tdx_pcs_collateral c;
        cp_tdx_collateral col;
        ASSERT_OK(cp_tdx_pcs_collateral_get(pcs, now, &c));
        cp_tdx_pcs_collateral_view(&c, &col);
        cp_tdx_verify_options o = CP_TDX_VERIFY_OPTIONS_INIT;
        o.now = now + 60;
        o.trust_root = (const uint8_t *) root2;
        o.trust_root_len = rl2;
        cp_tdx_verify_result r;
        ASSERT_OK(cp_tdx_verify(q, ql, &col, &o, &r));
        ASSERT_TRUE(memcmp(r.quote.body.mrtd, mrtd, 48) == 0);
        /* the host did not follow the recovery: OutOfDate with its advisory */
        ASSERT_EQ(r.tcb_status, CP_TDX_TCB_OUT_OF_DATE);
        ASSERT_STREQ(r.advisories[0], "INTEL-SA-00111");
        cp_tdx_tcb ht;
        cp_tdx_host_tcb(h, &ht);
        ASSERT_EQ(cp_tdx_pcs_tcb_status(pcs, &ht), CP_TDX_TCB_OUT_OF_DATE);
        ASSERT_OK(cp_tdx_host_set_tcb(h, &t, now));
        cp_tdx_host_tcb(h, &ht);
        ASSERT_EQ(cp_tdx_pcs_tcb_status(pcs, &ht), CP_TDX_TCB_UP_TO_DATE);
        cp_tdx_pcs_collateral_free(&c);
        cp_tdx_host_free(h);
        cp_tdx_pcs_free(pcs);
        /* the update was kept too */
        ASSERT_OK(cp_tdx_pcs_open(pd, NULL, &pcs));
        ASSERT_OK(cp_tdx_host_open(pcs, hd, NULL, &h));
        cp_tdx_host_tcb(h, &ht);
        ASSERT_EQ(cp_tdx_pcs_tcb_status(pcs, &ht), CP_TDX_TCB_UP_TO_DATE);
        cp_tdx_host_free(h);
        cp_tdx_pcs_free(pcs);
        (void) q2;
        (void) ql2;
        rm_state(dir);
}

/* A state file that is not what was written is refused, naming what. */
typedef struct state_row {
        const char *name;
        const char *file;  /* pcs.json or host.json */
        const char *from, *to; /* textual edit */
        const char *needle;
} state_row;

static const state_row state_rows[] = {
        { "pcs_version", "pcs.json", "\"version\": 1", "\"version\": 2", "not a software TDX PCS state" },
        { "pcs_fmspc", "pcs.json", "\"fmspc\": \"", "\"fmspc\": \"zz", "\"fmspc\" must be 6 bytes" },
        { "pcs_status", "pcs.json", "\"status\": \"UpToDate\"", "\"status\": \"Fine\"", "bad status" },
        { "pcs_key", "pcs.json", "BEGIN PRIVATE KEY", "BEGIN PUBLIC KEY", "missing or malformed" },
        { "pcs_not_json", "pcs.json", "{", "[", "pcs.json: ']' expected" },
        { "host_mac_key", "host.json", "\"mac_key\": \"", "\"mac_key\": \"00", "\"mac_key\" must be 32 bytes" },
        { "host_qe_svn", "host.json", "\"qe_isvsvn\": ", "\"qe_isvsvn\": -", "not a software TDX host state" },
        { "host_duplicate", "host.json", "\"version\": 1", "\"version\": 1, \"version\": 1", "duplicate" },
};

static void state_case(void *ctx, const void *row) {
        const state_row *s = row;
        (void) ctx;
        char dir[] = "/tmp/cp-tdx-bad-XXXXXX", pd[300], hd[300], f[400];
        ASSERT_TRUE(mkdtemp(dir) != NULL);
        snprintf(pd, sizeof(pd), "%s/pcs", dir);
        snprintf(hd, sizeof(hd), "%s/host", dir);
        cp_tdx_pcs *pcs = NULL;
        cp_tdx_host *h = NULL;
        ASSERT_OK(cp_tdx_pcs_open(pd, NULL, &pcs));
        ASSERT_OK(cp_tdx_host_open(pcs, hd, NULL, &h));
        cp_tdx_host_free(h);
        bool is_pcs = strcmp(s->file, "pcs.json") == 0;
        if (is_pcs)
                cp_tdx_pcs_free(pcs);
        snprintf(f, sizeof(f), "%s/%s", is_pcs ? pd : hd, s->file);
        uint8_t *buf = NULL;
        size_t len = 0;
        ASSERT_OK(cp_read_file(f, 1u << 20, &buf, &len));
        char *txt = (char *) buf, *at = strstr(txt, s->from);
        ASSERT_TRUE(at != NULL);
        size_t fl = strlen(s->from), tl = strlen(s->to), pre = (size_t) (at - txt);
        char *out = malloc(len - fl + tl + 1);
        ASSERT_TRUE(out != NULL);
        memcpy(out, txt, pre);
        memcpy(out + pre, s->to, tl);
        memcpy(out + pre + tl, at + fl, len - pre - fl);
        ASSERT_OK(cp_write_file(f, out, len - fl + tl, 0600));
        free(out);
        free(buf);
        int r = is_pcs ? cp_tdx_pcs_open(pd, NULL, &pcs) : cp_tdx_host_open(pcs, hd, NULL, &h);
        ASSERT_TRUE(r < 0);
        if (!strstr(cp_error_message(), s->needle))
                cp_test_fail(__FILE__, __LINE__, "%s: '%s' lacks '%s'", s->from, cp_error_message(), s->needle);
        cp_error_clear();
        if (!is_pcs)
                cp_tdx_pcs_free(pcs);
        rm_state(dir);
}

TEST(persisted_state_tampered_refused) {
        TEST_TABLE(state_rows, state_case, NULL);
}

/* ---- a TD's state across a VMM restart (issue 16 restart adoption) ---- */

static void edit_file(const char *f, const char *from, const char *to) {
        uint8_t *buf = NULL;
        size_t len = 0;
        ASSERT_OK(cp_read_file(f, 1u << 20, &buf, &len));
        char *txt = (char *) buf, *at = strstr(txt, from);
        ASSERT_TRUE(at != NULL);
        size_t fl = strlen(from), tl = strlen(to), pre = (size_t) (at - txt);
        char *out = malloc(len - fl + tl + 1);
        ASSERT_TRUE(out != NULL);
        memcpy(out, txt, pre);
        memcpy(out + pre, to, tl);
        memcpy(out + pre + tl, at + fl, len - pre - fl);
        ASSERT_OK(cp_write_file(f, out, len - fl + tl, 0600));
        free(out);
        free(buf);
}

/* A TD persisted after launch and after each RTMR extend is resumed by its
 * platform with the same TDREPORT (MRTD, RTMRs, attributes, MAC); an
 * altered RTMR, another platform, a missing or malformed file are refused. */
TEST(td_state_persist_and_resume) {
        emu e, other;
        char dir[] = "/tmp/cp-tdx-td-XXXXXX", f[300], sub[300], g[340];
        uint8_t rd[64], rep1[CP_TDX_TDREPORT_SIZE], rep2[CP_TDX_TDREPORT_SIZE], d[48];
        cp_tdx_td *td2 = NULL, *td3 = NULL, *fresh = NULL;
        emu_up(&e, 0);
        emu_up(&other, 0);
        ASSERT_TRUE(mkdtemp(dir) != NULL);
        snprintf(f, sizeof(f), "%s/td.json", dir);
        ASSERT_OK(cp_tdx_td_create(e.host, NULL, &fresh));
        ASSERT_ERR(cp_tdx_td_persist(fresh, f), CP_EBADSEQ); /* not finalized */
        cp_tdx_td_free(fresh);
        ASSERT_OK(cp_tdx_td_persist(e.td, f));
        struct stat st;
        ASSERT_OK(stat(f, &st) < 0 ? -1 : 0);
        ASSERT_EQ(st.st_mode & 0777, 0600);
        memset(d, 0x5a, 48);
        ASSERT_OK(cp_tdx_td_rtmr_extend(e.td, 2, d)); /* after the persist: written again */
        memset(rd, 0x42, 64);
        ASSERT_OK(cp_tdx_td_report(e.td, rd, rep1));
        /* "the daemon restarts": the TD re-created from the file alone */
        ASSERT_OK(cp_tdx_td_resume(e.host, f, &td2));
        ASSERT_OK(cp_tdx_td_report(td2, rd, rep2));
        ASSERT_MEMEQ(rep1, rep2, CP_TDX_TDREPORT_SIZE);
        _cleanup_free_ uint8_t *q = NULL;
        size_t ql = 0;
        cp_tdx_verify_result r;
        ASSERT_OK(cp_tdx_host_quote(e.host, rep2, &q, &ql));
        ASSERT_OK(verify(&e, q, ql, true, &r));
        ASSERT_MEMEQ(r.quote.body.rtmr[2], rep1 + 512 + 208 + 2 * 48, 48);
        /* an extend after the resume is kept too */
        ASSERT_OK(cp_tdx_td_rtmr_extend(td2, 3, d));
        ASSERT_OK(cp_tdx_td_resume(e.host, f, &td3));
        ASSERT_OK(cp_tdx_td_report(td3, rd, rep1));
        ASSERT_OK(cp_tdx_td_report(td2, rd, rep2));
        ASSERT_MEMEQ(rep1, rep2, CP_TDX_TDREPORT_SIZE);
        cp_tdx_td_free(td3);
        td3 = NULL;
        /* another platform cannot resume it */
        ASSERT_ERR(cp_tdx_td_resume(other.host, f, &td3), CP_ESIG);
        /* a malformed RTMR is refused naming it; an RTMR rolled back (RTMR2
         * set to zeros, well formed): refused by the MAC */
        char zeros[97];
        memset(zeros, '0', 96);
        zeros[96] = '\0';
        edit_file(f, "\"rtmr2\": \"", "\"rtmr2\": \"00");
        ASSERT_ERR(cp_tdx_td_resume(e.host, f, &td3), CP_EFORMAT); /* 49 bytes */
        ASSERT_TRUE(strstr(cp_error_message(), "\"rtmr2\"") != NULL);
        ASSERT_OK(cp_tdx_td_persist(td2, f));
        uint8_t *buf = NULL;
        size_t len = 0;
        ASSERT_OK(cp_read_file(f, 1u << 20, &buf, &len));
        char *at = strstr((char *) buf, "\"rtmr2\": \"");
        ASSERT_TRUE(at != NULL);
        char old[97];
        memcpy(old, at + 10, 96);
        old[96] = '\0';
        free(buf);
        edit_file(f, old, zeros);
        ASSERT_ERR(cp_tdx_td_resume(e.host, f, &td3), CP_ESIG);
        ASSERT_TRUE(strstr(cp_error_message(), "MAC does not verify") != NULL);
        ASSERT_TRUE(td3 == NULL);
        ASSERT_OK(cp_write_file(f, "{", 1, 0600));
        ASSERT_ERR(cp_tdx_td_resume(e.host, f, &td3), CP_EFORMAT);
        ASSERT_OK(unlink(f));
        ASSERT_ERR(cp_tdx_td_resume(e.host, f, &td3), CP_ENOTFOUND);
        /* an extend whose state cannot be written is undone and fails */
        snprintf(sub, sizeof(sub), "%s/gone", dir);
        ASSERT_OK(mkdir(sub, 0700));
        snprintf(g, sizeof(g), "%s/td.json", sub);
        ASSERT_OK(cp_tdx_td_persist(td2, g));
        ASSERT_OK(unlink(g));
        ASSERT_OK(rmdir(sub));
        ASSERT_OK(cp_tdx_td_report(td2, rd, rep1));
        ASSERT_TRUE(cp_tdx_td_rtmr_extend(td2, 3, d) < 0);
        cp_error_clear();
        ASSERT_OK(cp_tdx_td_report(td2, rd, rep2));
        ASSERT_MEMEQ(rep1, rep2, CP_TDX_TDREPORT_SIZE);
        cp_tdx_td_free(td2);
        rm_state(dir);
        emu_down(&other);
        emu_down(&e);
}

/* A TD's next VMM binds the channel's path while the old one still runs
 * (a deposed leader detaching): the old one's stop leaves the new socket. */
TEST(chan_stop_keeps_a_successors_socket) {
        emu e;
        char dir[] = "/tmp/cp-tdx-chan2-XXXXXX", path[64];
        uint8_t rd[64] = { 3 }, rep[CP_TDX_TDREPORT_SIZE];
        cp_tdx_chan *old = NULL, *next = NULL;
        emu_up(&e, 0);
        ASSERT_TRUE(mkdtemp(dir) != NULL);
        snprintf(path, sizeof(path), "%s/td.sock", dir);
        cp_tdx_emu k = { .host = e.host, .td = e.td };
        ASSERT_OK(cp_tdx_chan_start(&k, path, &old));
        ASSERT_OK(cp_tdx_chan_start(&k, path, &next));
        cp_tdx_chan_stop(old);
        ASSERT_OK(access(path, F_OK));
        cp_tdx_guest_options o = { .socket_path = path };
        ASSERT_OK(cp_tdx_guest_get_report0(&o, rd, rep));
        cp_tdx_chan_stop(next);
        ASSERT_TRUE(access(path, F_OK) != 0); /* its own socket: removed */
        ASSERT_OK(rmdir(dir));
        emu_down(&e);
}

/* The guest side across its host's restart: no socket yet (or nobody
 * listening), then the host's channel comes up: the call succeeds after
 * its bounded retries; a host that never comes back is an error after ~3 s
 * (CP_ENOTFOUND / CP_EIO, which the agent defers on). */
typedef struct late_chan {
        cp_tdx_emu *k;
        const char *path;
        cp_tdx_chan *ch;
} late_chan;

static void *start_late(void *arg) {
        late_chan *l = arg;
        nanosleep(&(struct timespec) { 0, 400L * 1000000L }, NULL);
        if (cp_tdx_chan_start(l->k, l->path, &l->ch) < 0)
                l->ch = NULL;
        return NULL;
}

TEST(guest_channel_retries_a_restarting_host) {
        emu e;
        char dir[] = "/tmp/cp-tdx-chan3-XXXXXX", path[64];
        uint8_t rd[64] = { 5 }, rep[CP_TDX_TDREPORT_SIZE];
        pthread_t t;
        emu_up(&e, 0);
        ASSERT_TRUE(mkdtemp(dir) != NULL);
        snprintf(path, sizeof(path), "%s/td.sock", dir);
        cp_tdx_emu k = { .host = e.host, .td = e.td };
        cp_tdx_guest_options o = { .socket_path = path };
        /* a stale socket file nobody listens on (the killed VMM's), then the new VMM */
        int fd = socket(AF_UNIX, SOCK_STREAM, 0);
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        strcpy(sa.sun_path, path);
        ASSERT_OK(bind(fd, (struct sockaddr *) &sa, sizeof(sa)));
        close(fd);
        late_chan l = { .k = &k, .path = path };
        ASSERT_EQ(pthread_create(&t, NULL, start_late, &l), 0);
        ASSERT_OK(cp_tdx_guest_get_report0(&o, rd, rep));
        pthread_join(t, NULL);
        ASSERT_TRUE(l.ch != NULL);
        cp_tdx_chan_stop(l.ch);
        /* nobody ever: an error naming the socket */
        ASSERT_ERR(cp_tdx_guest_get_report0(&o, rd, rep), CP_ENOTFOUND);
        ASSERT_TRUE(strstr(cp_error_message(), path) != NULL);
        ASSERT_OK(rmdir(dir));
        emu_down(&e);
}

/* Platforms of two FMSPCs (Sapphire and Emerald Rapids) under one emulated
 * Intel: each PCK names its platform's FMSPC, the PCS serves TCB Info for
 * each (and 404 for others), a quote verifies only with its own FMSPC's
 * TCB Info, and the PCS keeps the FMSPCs across a reopen. */
TEST(pcs_serves_each_platforms_fmspc) {
        static const uint8_t emr[6] = { 0xc0, 0x80, 0x6f, 0x00, 0x00, 0x00 }, unknown[6] = { 0xaa, 1, 2, 3, 4, 5 };
        char dir[] = "/tmp/cp-tdx-fmspc-XXXXXX", pd[300], hd[300];
        ASSERT_TRUE(mkdtemp(dir) != NULL);
        snprintf(pd, sizeof(pd), "%s/pcs", dir);
        snprintf(hd, sizeof(hd), "%s/emr", dir);
        int64_t now = (int64_t) time(NULL);
        cp_tdx_pcs *pcs = NULL;
        cp_tdx_host *spr = NULL, *h = NULL;
        cp_tdx_td *td = NULL;
        _cleanup_free_ char *root = NULL;
        _cleanup_free_ uint8_t *q = NULL;
        size_t rl = 0, ql = 0, img_len = 0;
        uint8_t own[6], rd[64] = { 9 }, rep[CP_TDX_TDREPORT_SIZE];
        ASSERT_OK(cp_tdx_pcs_open(pd, &(cp_tdx_pcs_config) { .now = now }, &pcs));
        ASSERT_OK(cp_tdx_host_new(pcs, &(cp_tdx_host_config) { .now = now }, &spr));
        cp_tdx_host_config c = { .now = now };
        memcpy(c.fmspc, emr, 6);
        ASSERT_OK(cp_tdx_host_open(pcs, hd, &c, &h));
        ASSERT_OK(cp_tdx_pcs_root_pem(pcs, &root, &rl));
        _cleanup_free_ uint8_t *img = t_tdvf_build(t_tdvf_default, CP_ELEMENTSOF(t_tdvf_default), &img_len);
        ASSERT_OK(cp_tdx_host_launch(h, NULL, img, img_len, CP_TDX_ORDER_SINGLE_PASS, &td));
        ASSERT_OK(cp_tdx_td_report(td, rd, rep));
        ASSERT_OK(cp_tdx_host_quote(h, rep, &q, &ql));
        cp_tdx_verify_options o = CP_TDX_VERIFY_OPTIONS_INIT;
        o.now = now + 60;
        o.trust_root = (const uint8_t *) root;
        o.trust_root_len = rl;
        cp_tdx_verify_result r;
        cp_tdx_pcs_collateral col;
        cp_tdx_collateral v;
        /* the PCS's own FMSPC's TCB Info does not fit an Emerald Rapids quote */
        ASSERT_OK(cp_tdx_pcs_collateral_get(pcs, now, &col));
        cp_tdx_pcs_collateral_view(&col, &v);
        ASSERT_TRUE(cp_tdx_verify(q, ql, &v, &o, &r) < 0);
        cp_error_clear();
        cp_tdx_pcs_collateral_free(&col);
        ASSERT_OK(cp_tdx_pcs_collateral_get_for(pcs, emr, now, &col));
        cp_tdx_pcs_collateral_view(&col, &v);
        ASSERT_OK(cp_tdx_verify(q, ql, &v, &o, &r));
        ASSERT_MEMEQ(r.pck.fmspc, emr, 6);
        ASSERT_EQ(r.tcb_status, CP_TDX_TCB_UP_TO_DATE);
        cp_tdx_pcs_collateral_free(&col);
        ASSERT_ERR(cp_tdx_pcs_collateral_get_for(pcs, unknown, now, &col), CP_ENOTFOUND);
        /* the route: TCB Info for each platform's FMSPC, 404 for others */
        cp_tdx_pcs_answer a;
        const char *emr_q[] = { "fmspc", "c0806f000000", NULL }, *spr_q[] = { "fmspc", "90c06f000000", NULL },
                   *other_q[] = { "fmspc", "aa0102030405", NULL };
        ASSERT_OK(cp_tdx_pcs_get(pcs, "/tdx/certification/v4/tcb", q_get, emr_q, 0, &a));
        ASSERT_EQ(a.status, 200);
        ASSERT_TRUE(strcasestr((const char *) a.body, "\"fmspc\":\"c0806f000000\"") != NULL);
        cp_tdx_pcs_answer_free(&a);
        ASSERT_OK(cp_tdx_pcs_get(pcs, "/tdx/certification/v4/tcb", q_get, spr_q, 0, &a));
        ASSERT_EQ(a.status, 200);
        ASSERT_TRUE(strcasestr((const char *) a.body, "\"fmspc\":\"90c06f000000\"") != NULL);
        cp_tdx_pcs_answer_free(&a);
        ASSERT_OK(cp_tdx_pcs_get(pcs, "/tdx/certification/v4/tcb", q_get, other_q, 0, &a));
        ASSERT_EQ(a.status, 404);
        cp_tdx_pcs_answer_free(&a);
        cp_tdx_td_free(td);
        cp_tdx_host_free(h);
        cp_tdx_host_free(spr);
        cp_tdx_pcs_free(pcs);
        /* reopened: the PCS still serves the Emerald Rapids FMSPC, the host keeps it */
        ASSERT_OK(cp_tdx_pcs_open(pd, NULL, &pcs));
        ASSERT_TRUE(cp_tdx_pcs_knows_fmspc(pcs, emr));
        cp_tdx_pcs_fmspc(pcs, own);
        ASSERT_TRUE(memcmp(own, emr, 6) != 0);
        ASSERT_OK(cp_tdx_host_open(pcs, hd, NULL, &h));
        ASSERT_OK(cp_tdx_host_launch(h, NULL, img, img_len, CP_TDX_ORDER_SINGLE_PASS, &td));
        ASSERT_OK(cp_tdx_td_report(td, rd, rep));
        free(q);
        q = NULL;
        ASSERT_OK(cp_tdx_host_quote(h, rep, &q, &ql));
        ASSERT_OK(cp_tdx_pcs_collateral_get_for(pcs, emr, now, &col));
        cp_tdx_pcs_collateral_view(&col, &v);
        ASSERT_OK(cp_tdx_verify(q, ql, &v, &o, &r));
        cp_tdx_pcs_collateral_free(&col);
        cp_tdx_td_free(td);
        cp_tdx_host_free(h);
        cp_tdx_pcs_free(pcs);
        rm_state(dir);
}
