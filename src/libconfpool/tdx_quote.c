/* SPDX-License-Identifier: Apache-2.0 */
/*
 * DCAP TDX quote parsing (v4, v5), through one bounds-checked cursor over
 * the whole quote so that every offset in an error message is a quote
 * offset.  Layout: Intel "TDX DCAP Quoting Library API", appendix A.3 (v4)
 * and A.4 (v5); the QE report is an SGX REPORTBODY (SDM vol. 3D 38.15).
 */
#include <string.h>

#include "basic/cursor.h"
#include "confpool/tdx_quote.h"

const uint8_t cp_tdx_intel_qe_vendor_id[16] = { 0x93, 0x9a, 0x72, 0x33, 0xf7, 0x9c, 0x4c, 0xa9,
                                                0x94, 0x0a, 0x0d, 0xb3, 0x95, 0x7f, 0x06, 0x07 };

int cp_tdx_sgx_report_parse(const uint8_t *buf, size_t len, cp_tdx_sgx_report *ret) {
        cp_cursor c = cp_cursor_make(buf, len);
        cp_tdx_sgx_report r = { 0 };
        int k;

        if (!ret)
                return CP_ERROR(CP_EINVAL, "cp_tdx_sgx_report_parse: NULL output");
        if ((k = cp_cursor_bytes(&c, 16, r.cpusvn)) < 0 || (k = cp_cursor_le32(&c, &r.miscselect)) < 0 ||
            (k = cp_cursor_skip(&c, 28)) < 0 || (k = cp_cursor_bytes(&c, 16, r.attributes)) < 0 ||
            (k = cp_cursor_bytes(&c, 32, r.mrenclave)) < 0 || (k = cp_cursor_skip(&c, 32)) < 0 ||
            (k = cp_cursor_bytes(&c, 32, r.mrsigner)) < 0 || (k = cp_cursor_skip(&c, 96)) < 0 ||
            (k = cp_cursor_le16(&c, &r.isvprodid)) < 0 || (k = cp_cursor_le16(&c, &r.isvsvn)) < 0 ||
            (k = cp_cursor_skip(&c, 60)) < 0 || (k = cp_cursor_bytes(&c, 64, r.report_data)) < 0)
                return k;
        if ((k = cp_cursor_end(&c, "QE report")) < 0)
                return k;
        *ret = r;
        return 0;
}

/* A cursor over the next n bytes of c that keeps c's offsets (so messages
 * name quote offsets); c itself does not move. */
static int limit(const cp_cursor *c, size_t n, const char *what, cp_cursor *ret) {
        if (n > cp_cursor_remaining(c))
                return CP_ERROR(CP_ETRUNC, "%s length %zu at offset %zu exceeds the %zu bytes left", what, n,
                                cp_cursor_offset(c), cp_cursor_remaining(c));
        *ret = (cp_cursor) { .p = c->p, .len = c->off + n, .off = c->off };
        return 0;
}

/* Type 5 data: the PCK chain, which must not be empty. */
static int parse_pck_chain(cp_cursor *c, uint32_t size, cp_tdx_cert_data *ret) {
        int k;
        if (size == 0)
                return CP_ERROR(CP_EFORMAT, "certification data type 5 at offset %zu is empty (no PCK chain)",
                                cp_cursor_offset(c));
        if ((k = cp_cursor_ptr(c, size, &ret->pck_chain)) < 0)
                return k;
        ret->pck_chain_len = size;
        return 0;
}

/* Type 6 data: QE report, its signature, QE auth data, then type 5. */
static int parse_qe_report_cert(cp_cursor *c, cp_tdx_cert_data *ret) {
        uint16_t auth_len, inner_type;
        uint32_t inner_size;
        int k;

        if ((k = cp_cursor_ptr(c, CP_TDX_SGX_REPORT_SIZE, &ret->qe_report_raw)) < 0)
                return k;
        if ((k = cp_tdx_sgx_report_parse(ret->qe_report_raw, CP_TDX_SGX_REPORT_SIZE, &ret->qe_report)) < 0)
                return k;
        if ((k = cp_cursor_ptr(c, 64, &ret->qe_report_sig)) < 0 || (k = cp_cursor_le16(c, &auth_len)) < 0 ||
            (k = cp_cursor_ptr(c, auth_len, &ret->qe_auth_data)) < 0)
                return k;
        ret->qe_auth_data_len = auth_len;
        size_t type_at = cp_cursor_offset(c);
        if ((k = cp_cursor_le16(c, &inner_type)) < 0 || (k = cp_cursor_le32(c, &inner_size)) < 0)
                return k;
        if (inner_type != CP_TDX_CERT_PCK_CHAIN)
                return CP_ERROR(CP_EFORMAT,
                                "certification data inside the QE report data at offset %zu has type %u, not 5 (PCK chain)",
                                type_at, inner_type);
        ret->has_qe_report = true;
        return parse_pck_chain(c, inner_size, ret);
}

/* type u16, size u32, data[size]: the size must cover the data exactly. */
static int parse_cert_data(cp_cursor *c, cp_tdx_cert_data *ret) {
        cp_tdx_cert_data d = { 0 };
        uint32_t size;
        cp_cursor sub;
        int k;

        size_t at = cp_cursor_offset(c);
        if ((k = cp_cursor_le16(c, &d.type)) < 0 || (k = cp_cursor_le32(c, &size)) < 0)
                return k;
        if ((k = limit(c, size, "certification data", &sub)) < 0)
                return k;
        switch (d.type) {
        case CP_TDX_CERT_PCK_CHAIN:
                k = parse_pck_chain(&sub, size, &d);
                break;
        case CP_TDX_CERT_QE_REPORT:
                k = parse_qe_report_cert(&sub, &d);
                break;
        default:
                return CP_ERROR(CP_EFORMAT, "certification data type %u at offset %zu is not supported (5 or 6)",
                                d.type, at);
        }
        if (k < 0)
                return k;
        if ((k = cp_cursor_end(&sub, "certification data")) < 0 || (k = cp_cursor_skip(c, size)) < 0)
                return k;
        *ret = d;
        return 0;
}

int cp_tdx_cert_data_parse(const uint8_t *buf, size_t len, cp_tdx_cert_data *ret) {
        cp_cursor c = cp_cursor_make(buf, len);
        int k;
        if (!ret)
                return CP_ERROR(CP_EINVAL, "cp_tdx_cert_data_parse: NULL output");
        if ((k = parse_cert_data(&c, ret)) < 0)
                return k;
        return cp_cursor_end(&c, "certification data");
}

static int parse_header(cp_cursor *c, cp_tdx_quote *q) {
        int k;
        if ((k = cp_cursor_le16(c, &q->version)) < 0 || (k = cp_cursor_le16(c, &q->att_key_type)) < 0 ||
            (k = cp_cursor_le32(c, &q->tee_type)) < 0 || (k = cp_cursor_le16(c, &q->qe_svn)) < 0 ||
            (k = cp_cursor_le16(c, &q->pce_svn)) < 0 || (k = cp_cursor_bytes(c, 16, q->qe_vendor_id)) < 0 ||
            (k = cp_cursor_bytes(c, 20, q->user_data)) < 0)
                return k;
        if (q->version != 4 && q->version != 5)
                return CP_ERROR(CP_EVERSION, "quote version %u is not supported (4 or 5)", q->version);
        if (q->att_key_type != CP_TDX_ATT_KEY_ECDSA_P256)
                return CP_ERROR(CP_EFORMAT, "attestation key type %u is not supported (2, ECDSA P-256)",
                                q->att_key_type);
        if (q->tee_type != CP_TDX_TEE_TYPE)
                return CP_ERROR(CP_EFORMAT, "TEE type 0x%x is not TDX (0x81)", q->tee_type);
        return 0;
}

static int parse_body(cp_cursor *c, uint16_t type, cp_tdx_body *b) {
        int k;
        b->type = type;
        if ((k = cp_cursor_bytes(c, 16, b->tee_tcb_svn)) < 0 || (k = cp_cursor_bytes(c, 48, b->mrseam)) < 0 ||
            (k = cp_cursor_bytes(c, 48, b->mrsignerseam)) < 0 || (k = cp_cursor_le64(c, &b->seam_attributes)) < 0 ||
            (k = cp_cursor_le64(c, &b->td_attributes)) < 0 || (k = cp_cursor_le64(c, &b->xfam)) < 0 ||
            (k = cp_cursor_bytes(c, 48, b->mrtd)) < 0 || (k = cp_cursor_bytes(c, 48, b->mrconfigid)) < 0 ||
            (k = cp_cursor_bytes(c, 48, b->mrowner)) < 0 || (k = cp_cursor_bytes(c, 48, b->mrownerconfig)) < 0)
                return k;
        for (unsigned i = 0; i < 4; i++)
                if ((k = cp_cursor_bytes(c, 48, b->rtmr[i])) < 0)
                        return k;
        if ((k = cp_cursor_bytes(c, 64, b->report_data)) < 0)
                return k;
        if (type == 3) {
                b->has_15 = true;
                if ((k = cp_cursor_bytes(c, 16, b->tee_tcb_svn2)) < 0 || (k = cp_cursor_bytes(c, 48, b->mrservicetd)) < 0)
                        return k;
        }
        return 0;
}

/* v5: body type u16 and body size u32 precede the body. */
static int parse_v5_body(cp_cursor *c, cp_tdx_body *b) {
        uint16_t type;
        uint32_t size;
        int k;
        size_t at = cp_cursor_offset(c);
        if ((k = cp_cursor_le16(c, &type)) < 0 || (k = cp_cursor_le32(c, &size)) < 0)
                return k;
        if (type != 2 && type != 3)
                return CP_ERROR(CP_EVERSION, "quote v5 body type %u at offset %zu is not TDX (2: TD 1.0, 3: TD 1.5)",
                                type, at);
        uint32_t want = type == 2 ? CP_TDX_BODY_10_SIZE : CP_TDX_BODY_15_SIZE;
        if (size != want)
                return CP_ERROR(CP_EFORMAT, "quote v5 body size %u at offset %zu is not %u for body type %u", size,
                                at + 2, want, type);
        return parse_body(c, type, b);
}

int cp_tdx_quote_parse(const uint8_t *buf, size_t len, unsigned flags, cp_tdx_quote *ret) {
        cp_cursor c = cp_cursor_make(buf, len);
        cp_tdx_quote q = { 0 };
        uint32_t sig_len;
        cp_cursor sig;
        int k;

        if (!ret)
                return CP_ERROR(CP_EINVAL, "cp_tdx_quote_parse: NULL output");
        if (len > CP_TDX_MAX_QUOTE_SIZE)
                return CP_ERROR(CP_ETOOBIG, "quote of %zu bytes exceeds %u", len, CP_TDX_MAX_QUOTE_SIZE);
        if ((k = parse_header(&c, &q)) < 0)
                return k;
        k = q.version == 4 ? parse_body(&c, 2, &q.body) : parse_v5_body(&c, &q.body);
        if (k < 0)
                return k;
        q.signed_data = buf;
        q.signed_len = cp_cursor_offset(&c);
        size_t sig_at = cp_cursor_offset(&c);
        if ((k = cp_cursor_le32(&c, &sig_len)) < 0)
                return k;
        if ((k = limit(&c, sig_len, "signature data", &sig)) < 0)
                return CP_ERROR(k, "signature data length %u at offset %zu exceeds the %zu bytes left", sig_len,
                                sig_at, cp_cursor_remaining(&c));
        if ((k = cp_cursor_ptr(&sig, 64, &q.signature)) < 0 || (k = cp_cursor_ptr(&sig, 64, &q.attest_key)) < 0 ||
            (k = parse_cert_data(&sig, &q.cert)) < 0)
                return k;
        if ((k = cp_cursor_end(&sig, "quote signature data")) < 0)
                return k;
        if ((k = cp_cursor_skip(&c, sig_len)) < 0)
                return k;
        q.quote_len = cp_cursor_offset(&c);
        q.trailing_len = cp_cursor_remaining(&c);
        if ((flags & CP_TDX_PARSE_STRICT) && (k = cp_cursor_end(&c, "quote")) < 0)
                return k;
        *ret = q;
        return 0;
}
