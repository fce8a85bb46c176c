/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Azure TDX evidence: the HCL report's TDREPORT matched field by field with
 * the DCAP quote Azure's host made for it.  TDREPORT layout (Intel TDX
 * module ABI, TDG.MR.REPORT): REPORTMACSTRUCT (256 bytes) at 0, TEE_TCB_INFO
 * (239) at 256, 17 reserved, TDINFO (512) at 512.
 */
#include <string.h>

#include <openssl/evp.h>

#include "basic/cursor.h"
#include "confpool/azure.h"
#include "confpool/tdx_verify.h"
#include "ossl/ossl-util.h"

#define TDREPORT_SIZE 1024u
#define TEE_TCB_INFO_SIZE 239u
#define TD_INFO_SIZE 512u

static int read_mac_struct(cp_cursor *c, cp_tdx_tdreport *t) {
        uint8_t type;
        int k;
        if ((k = cp_cursor_u8(c, &type)) < 0)
                return k;
        if (type != CP_TDX_TEE_TYPE)
                return CP_ERROR(CP_EFORMAT, "TDREPORT type 0x%02x is not TDX (0x81)", type);
        if ((k = cp_cursor_skip(c, 3 + 12)) < 0 || (k = cp_cursor_bytes(c, 16, t->cpusvn)) < 0 ||
            (k = cp_cursor_bytes(c, 48, t->tee_tcb_info_hash)) < 0 || (k = cp_cursor_bytes(c, 48, t->tee_info_hash)) < 0 ||
            (k = cp_cursor_bytes(c, 64, t->report_data)) < 0 || (k = cp_cursor_skip(c, 32 + 32)) < 0)
                return k;
        return 0;
}

static int read_tee_tcb_info(cp_cursor *c, cp_tdx_tdreport *t) {
        int k;
        if ((k = cp_cursor_ptr(c, TEE_TCB_INFO_SIZE, &t->tee_tcb_info)) < 0)
                return k;
        cp_cursor i = cp_cursor_make(t->tee_tcb_info, TEE_TCB_INFO_SIZE);
        if ((k = cp_cursor_skip(&i, 8)) < 0 || (k = cp_cursor_bytes(&i, 16, t->body.tee_tcb_svn)) < 0 ||
            (k = cp_cursor_bytes(&i, 48, t->body.mrseam)) < 0 || (k = cp_cursor_bytes(&i, 48, t->body.mrsignerseam)) < 0 ||
            (k = cp_cursor_le64(&i, &t->body.seam_attributes)) < 0)
                return k;
        return cp_cursor_skip(c, 17);
}

static int read_td_info(cp_cursor *c, cp_tdx_tdreport *t) {
        cp_tdx_body *b = &t->body;
        int k;
        if ((k = cp_cursor_ptr(c, TD_INFO_SIZE, &t->td_info)) < 0)
                return k;
        cp_cursor i = cp_cursor_make(t->td_info, TD_INFO_SIZE);
        if ((k = cp_cursor_le64(&i, &b->td_attributes)) < 0 || (k = cp_cursor_le64(&i, &b->xfam)) < 0 ||
            (k = cp_cursor_bytes(&i, 48, b->mrtd)) < 0 || (k = cp_cursor_bytes(&i, 48, b->mrconfigid)) < 0 ||
            (k = cp_cursor_bytes(&i, 48, b->mrowner)) < 0 || (k = cp_cursor_bytes(&i, 48, b->mrownerconfig)) < 0)
                return k;
        for (unsigned r = 0; r < 4; r++)
                if ((k = cp_cursor_bytes(&i, 48, b->rtmr[r])) < 0)
                        return k;
        return 0;
}

int cp_tdx_tdreport_parse(const uint8_t *buf, size_t len, cp_tdx_tdreport *ret) {
        cp_cursor c = cp_cursor_make(buf, len);
        cp_tdx_tdreport t = { 0 };
        int k;
        if (!ret)
                return CP_ERROR(CP_EINVAL, "cp_tdx_tdreport_parse: NULL output");
        if ((k = read_mac_struct(&c, &t)) < 0 || (k = read_tee_tcb_info(&c, &t)) < 0 || (k = read_td_info(&c, &t)) < 0 ||
            (k = cp_cursor_end(&c, "TDREPORT")) < 0)
                return k;
        memcpy(t.body.report_data, t.report_data, 64);
        *ret = t;
        return 0;
}

static int sha384_is(const uint8_t *data, size_t len, const uint8_t want[48], const char *what) {
        uint8_t h[48];
        unsigned n = 0;
        if (EVP_Digest(data, len, h, &n, EVP_sha384(), NULL) != 1 || n != 48)
                return CP_OSSL_ERROR(CP_ECRYPTO, "SHA-384 failed");
        if (memcmp(h, want, 48) != 0)
                return CP_ERROR(CP_EBINDING, "TDREPORT %s is not the SHA-384 of its contents", what);
        return 0;
}

static int field(const void *a, const void *b, size_t n, const char *what) {
        if (memcmp(a, b, n) != 0)
                return CP_ERROR(CP_EBINDING, "TDREPORT %s differs from the TD quote's", what);
        return 0;
}

static int match_quote(const cp_tdx_tdreport *t, const cp_tdx_body *q) {
        const cp_tdx_body *b = &t->body;
        static const char *const rtmr[4] = { "RTMR0", "RTMR1", "RTMR2", "RTMR3" };
        int k;
        if ((k = field(b->tee_tcb_svn, q->tee_tcb_svn, 16, "TEE_TCB_SVN")) < 0 ||
            (k = field(b->mrseam, q->mrseam, 48, "MRSEAM")) < 0 ||
            (k = field(b->mrsignerseam, q->mrsignerseam, 48, "MRSIGNERSEAM")) < 0 ||
            (k = field(&b->seam_attributes, &q->seam_attributes, 8, "SEAMATTRIBUTES")) < 0 ||
            (k = field(&b->td_attributes, &q->td_attributes, 8, "TDATTRIBUTES")) < 0 ||
            (k = field(&b->xfam, &q->xfam, 8, "XFAM")) < 0 || (k = field(b->mrtd, q->mrtd, 48, "MRTD")) < 0 ||
            (k = field(b->mrconfigid, q->mrconfigid, 48, "MRCONFIGID")) < 0 ||
            (k = field(b->mrowner, q->mrowner, 48, "MROWNER")) < 0 ||
            (k = field(b->mrownerconfig, q->mrownerconfig, 48, "MROWNERCONFIG")) < 0 ||
            (k = field(b->report_data, q->report_data, 64, "REPORTDATA")) < 0)
                return k;
        for (unsigned i = 0; i < 4; i++)
                if ((k = field(b->rtmr[i], q->rtmr[i], 48, rtmr[i])) < 0)
                        return k;
        return 0;
}

int cp_tdx_azure_hcl_check(const uint8_t *hcl, size_t hcl_len, const cp_tdx_body *quote_body, cp_hcl_report *ret_hcl,
                           cp_tdx_tdreport *ret_td) {
        cp_hcl_report h;
        cp_tdx_tdreport t;
        int k;
        if (!hcl)
                return CP_ERROR(CP_EINVAL, "cp_tdx_azure_hcl_check: NULL report");
        if ((k = cp_hcl_report_parse(hcl, hcl_len, &h)) < 0)
                return k;
        if (h.report_type != CP_HCL_REPORT_TDX)
                return CP_ERROR(CP_EFORMAT, "HCL report carries a %s report, not a TDX TDREPORT",
                                cp_hcl_report_type_name(h.report_type));
        if ((k = cp_tdx_tdreport_parse(h.hw_report, h.hw_report_len, &t)) < 0 ||
            (k = sha384_is(t.tee_tcb_info, TEE_TCB_INFO_SIZE, t.tee_tcb_info_hash, "TEE_TCB_INFO_HASH")) < 0 ||
            (k = sha384_is(t.td_info, TD_INFO_SIZE, t.tee_info_hash, "TEE_INFO_HASH")) < 0 ||
            (k = cp_hcl_report_check_binding(&h)) < 0)
                return k;
        if (quote_body && (k = match_quote(&t, quote_body)) < 0)
                return k;
        if (ret_hcl)
                *ret_hcl = h;
        if (ret_td)
                *ret_td = t;
        return 0;
}

int cp_tdx_verify_azure_hcl(const uint8_t *hcl, size_t hcl_len, const uint8_t *td_quote, size_t td_quote_len,
                            const cp_tdx_collateral *col, const cp_tdx_verify_options *opts,
                            cp_tdx_verify_result *ret) {
        int k;
        if (!hcl || !ret)
                return CP_ERROR(CP_EINVAL, "cp_tdx_verify_azure_hcl: NULL report or result");
        if ((k = cp_tdx_azure_hcl_check(hcl, hcl_len, NULL, NULL, NULL)) < 0)
                return k;
        if (!td_quote)
                return CP_ERROR(CP_ENOTFOUND, "no TD quote for the HCL report's TDREPORT: its MAC can only be checked on "
                                              "the platform, so only a quote binds it to Intel (--td-quote)");
        if ((k = cp_tdx_verify(td_quote, td_quote_len, col, opts, ret)) < 0)
                return k;
        return cp_tdx_azure_hcl_check(hcl, hcl_len, &ret->quote.body, NULL, NULL);
}
