/* SPDX-License-Identifier: Apache-2.0 */
/*
 * SEV-SNP guest messages (AMD SEV-SNP Firmware ABI, "Guest Messages"):
 * the 0x60-byte header, AES-256-GCM payload protection, MSG_REPORT_REQ/RSP
 * payloads and the secrets page's VMPCKs and counters.  Used by the
 * software AMD-SP and by the guest client.
 *
 * Header:  0x00 AUTHTAG[32] (16 used), 0x20 MSG_SEQNO u64, 0x28 rsvd[8],
 *          0x30 ALGO u8, 0x31 HDR_VERSION u8, 0x32 HDR_SIZE u16,
 *          0x34 MSG_TYPE u8, 0x35 MSG_VERSION u8, 0x36 MSG_SIZE u16,
 *          0x38 rsvd u32, 0x3C MSG_VMPCK u8, 0x3D rsvd[35].
 * IV = MSG_SEQNO (8 bytes LE) || 0000; AAD = bytes 0x30-0x5F.
 */
#include <string.h>

#include <openssl/evp.h>

#include "basic/cleanup.h"
#include "basic/cursor.h"
#include "basic/limits.h"
#include "basic/secure.h"
#include "ossl/ossl-util.h"
#include "emu/amdsp.h"


static bool known_type(uint8_t t) {
        return t >= CP_SNP_MSG_KEY_REQ && t <= CP_SNP_MSG_REPORT_RSP;
}

int cp_snp_msg_parse(const uint8_t *msg, size_t len, cp_snp_msg_hdr *ret) {
        cp_snp_msg_hdr h = { 0 };
        cp_cursor c = cp_cursor_make(msg, len);
        int r;

        if (!ret || (!msg && len))
                return CP_ERROR(CP_EINVAL, "cp_snp_msg_parse: invalid arguments");
        if (len > CP_MAX_SNP_GUEST_MSG)
                return CP_ERROR(CP_ETOOBIG, "guest message of %zu bytes exceeds %u", len, CP_MAX_SNP_GUEST_MSG);
        if ((r = cp_cursor_bytes(&c, 16, h.authtag)) < 0 ||
            (r = cp_cursor_zero(&c, 16, "guest message AUTHTAG[16:32]")) < 0 ||
            (r = cp_cursor_le64(&c, &h.seqno)) < 0 || (r = cp_cursor_zero(&c, 8, "guest message reserved 0x28")) < 0 ||
            (r = cp_cursor_u8(&c, &h.algo)) < 0 || (r = cp_cursor_u8(&c, &h.hdr_version)) < 0 ||
            (r = cp_cursor_le16(&c, &h.hdr_size)) < 0 || (r = cp_cursor_u8(&c, &h.msg_type)) < 0 ||
            (r = cp_cursor_u8(&c, &h.msg_version)) < 0 || (r = cp_cursor_le16(&c, &h.msg_size)) < 0 ||
            (r = cp_cursor_zero(&c, 4, "guest message reserved 0x38")) < 0 || (r = cp_cursor_u8(&c, &h.vmpck)) < 0 ||
            (r = cp_cursor_zero(&c, 35, "guest message reserved 0x3D")) < 0)
                return r;
        if (h.hdr_version != CP_SNP_MSG_HDR_VERSION)
                return CP_ERROR(CP_EVERSION, "guest message HDR_VERSION %u, expected 1", h.hdr_version);
        if (h.hdr_size != CP_SNP_MSG_HDR_SIZE)
                return CP_ERROR(CP_EFORMAT, "guest message HDR_SIZE 0x%x, expected 0x60", h.hdr_size);
        if (h.algo != CP_SNP_MSG_ALGO_AES256GCM)
                return CP_ERROR(CP_EFORMAT, "guest message ALGO %u is not AES-256-GCM (1)", h.algo);
        if (h.vmpck >= CP_SNP_VMPCK_COUNT)
                return CP_ERROR(CP_EFORMAT, "guest message MSG_VMPCK %u is not 0..3", h.vmpck);
        if (!known_type(h.msg_type))
                return CP_ERROR(CP_EFORMAT, "guest message MSG_TYPE %u is unknown", h.msg_type);
        if (h.msg_version == 0)
                return CP_ERROR(CP_EVERSION, "guest message MSG_VERSION 0");
        if (h.msg_size == 0)
                return CP_ERROR(CP_EFORMAT, "guest message MSG_SIZE 0");
        if (h.msg_size > cp_cursor_remaining(&c))
                return CP_ERROR(CP_ETRUNC, "guest message payload truncated: MSG_SIZE %u, %zu bytes present",
                                h.msg_size, cp_cursor_remaining(&c));
        if ((r = cp_cursor_skip(&c, h.msg_size)) < 0 || (r = cp_cursor_end(&c, "guest message")) < 0)
                return r;
        *ret = h;
        return 0;
}

static void encode_hdr(const cp_snp_msg_hdr *h, uint8_t out[CP_SNP_MSG_HDR_SIZE]) {
        memset(out, 0, CP_SNP_MSG_HDR_SIZE);
        memcpy(out, h->authtag, 16);
        cp_put_le64(out + 0x20, h->seqno);
        out[0x30] = h->algo;
        out[0x31] = h->hdr_version;
        cp_put_le16(out + 0x32, h->hdr_size);
        out[0x34] = h->msg_type;
        out[0x35] = h->msg_version;
        cp_put_le16(out + 0x36, h->msg_size);
        out[0x3c] = h->vmpck;
}

static void make_iv(uint64_t seqno, uint8_t iv[12]) {
        memset(iv, 0, 12);
        cp_put_le64(iv, seqno);
}

int cp_snp_msg_seal(const uint8_t key[CP_SNP_VMPCK_LEN], uint8_t vmpck, uint64_t seqno, uint8_t msg_type,
                    uint8_t msg_version, const uint8_t *payload, size_t plen, uint8_t *out, size_t cap,
                    size_t *ret_len) {
        _cleanup_(cp_EVP_CIPHER_CTX_freep) EVP_CIPHER_CTX *ctx = NULL;
        cp_snp_msg_hdr h = { 0 };
        uint8_t iv[12];
        int n = 0;

        if (!key || !out || !ret_len || (!payload && plen) || plen == 0 || seqno == 0 || vmpck >= CP_SNP_VMPCK_COUNT ||
            !known_type(msg_type) || msg_version == 0)
                return CP_ERROR(CP_EINVAL, "cp_snp_msg_seal: invalid arguments");
        if (plen > CP_MAX_SNP_GUEST_MSG - CP_SNP_MSG_HDR_SIZE)
                return CP_ERROR(CP_ETOOBIG, "guest message payload of %zu bytes too big", plen);
        if (cap < CP_SNP_MSG_HDR_SIZE + plen)
                return CP_ERROR(CP_ETOOBIG, "guest message buffer too small");
        h = (cp_snp_msg_hdr){
                .seqno = seqno, .algo = CP_SNP_MSG_ALGO_AES256GCM, .hdr_version = CP_SNP_MSG_HDR_VERSION,
                .hdr_size = CP_SNP_MSG_HDR_SIZE, .msg_type = msg_type, .msg_version = msg_version,
                .msg_size = (uint16_t) plen, .vmpck = vmpck,
        };
        encode_hdr(&h, out);
        make_iv(seqno, iv);
        ctx = EVP_CIPHER_CTX_new();
        if (!ctx || EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, iv) != 1 ||
            EVP_EncryptUpdate(ctx, NULL, &n, out + CP_SNP_MSG_AAD_OFFSET, CP_SNP_MSG_AAD_SIZE) != 1 ||
            EVP_EncryptUpdate(ctx, out + CP_SNP_MSG_HDR_SIZE, &n, payload, (int) plen) != 1 || (size_t) n != plen ||
            EVP_EncryptFinal_ex(ctx, out + CP_SNP_MSG_HDR_SIZE + plen, &n) != 1 ||
            EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, CP_SNP_MSG_TAG_SIZE, out) != 1)
                return CP_OSSL_ERROR(CP_ECRYPTO, "AES-256-GCM encryption failed");
        *ret_len = CP_SNP_MSG_HDR_SIZE + plen;
        return 0;
}

int cp_snp_msg_open(const uint8_t key[CP_SNP_VMPCK_LEN], const uint8_t *msg, size_t len, cp_snp_msg_hdr *ret_hdr,
                    uint8_t *out, size_t cap, size_t *ret_len) {
        _cleanup_(cp_EVP_CIPHER_CTX_freep) EVP_CIPHER_CTX *ctx = NULL;
        cp_snp_msg_hdr h;
        cp_cursor c = cp_cursor_make(msg, len);
        const uint8_t *aad = NULL, *ct = NULL;
        uint8_t iv[12], tag[16];
        int n = 0, r;

        if (!key || !ret_hdr || !out || !ret_len)
                return CP_ERROR(CP_EINVAL, "cp_snp_msg_open: invalid arguments");
        r = cp_snp_msg_parse(msg, len, &h);
        if (r < 0)
                return r;
        if (cap < h.msg_size)
                return CP_ERROR(CP_ETOOBIG, "guest message plaintext buffer too small");
        if ((r = cp_cursor_skip(&c, CP_SNP_MSG_AAD_OFFSET)) < 0 || (r = cp_cursor_ptr(&c, CP_SNP_MSG_AAD_SIZE, &aad)) < 0 ||
            (r = cp_cursor_ptr(&c, h.msg_size, &ct)) < 0)
                return r;
        memcpy(tag, h.authtag, sizeof(tag));
        make_iv(h.seqno, iv);
        ctx = EVP_CIPHER_CTX_new();
        if (!ctx || EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, iv) != 1 ||
            EVP_DecryptUpdate(ctx, NULL, &n, aad, CP_SNP_MSG_AAD_SIZE) != 1 ||
            EVP_DecryptUpdate(ctx, out, &n, ct, h.msg_size) != 1 ||
            EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, sizeof(tag), tag) != 1) {
                cp_wipe(out, h.msg_size);
                return CP_OSSL_ERROR(CP_ECRYPTO, "AES-256-GCM decryption failed");
        }
        if (EVP_DecryptFinal_ex(ctx, out + n, &n) != 1) {
                cp_ossl_clear();
                cp_wipe(out, h.msg_size);
                return CP_ERROR(CP_ESIG, "guest message (seqno %llu, VMPCK %u) failed authentication",
                                (unsigned long long) h.seqno, h.vmpck);
        }
        *ret_hdr = h;
        *ret_len = h.msg_size;
        return 0;
}

void cp_snp_report_req_encode(const cp_snp_report_req *r, uint8_t out[CP_SNP_MSG_REPORT_REQ_SIZE]) {
        memset(out, 0, CP_SNP_MSG_REPORT_REQ_SIZE);
        memcpy(out, r->report_data, 64);
        cp_put_le32(out + 0x40, r->vmpl);
        cp_put_le32(out + 0x44, r->key_sel);
}

int cp_snp_report_req_parse(const uint8_t *p, size_t n, cp_snp_report_req *ret) {
        cp_snp_report_req q = { 0 };
        cp_cursor c = cp_cursor_make(p, n);
        int r;

        if (!ret)
                return CP_ERROR(CP_EINVAL, "cp_snp_report_req_parse: NULL argument");
        if ((r = cp_cursor_bytes(&c, 64, q.report_data)) < 0 || (r = cp_cursor_le32(&c, &q.vmpl)) < 0 ||
            (r = cp_cursor_le32(&c, &q.key_sel)) < 0 || (r = cp_cursor_zero(&c, 24, "MSG_REPORT_REQ reserved")) < 0 ||
            (r = cp_cursor_end(&c, "MSG_REPORT_REQ")) < 0)
                return r;
        if (q.key_sel & ~UINT32_C(3))
                return CP_ERROR(CP_EMBZ, "MSG_REPORT_REQ KEY_SEL 0x%x: bits 31:2 must be zero", q.key_sel);
        *ret = q;
        return 0;
}

int cp_snp_report_rsp_parse(const uint8_t *p, size_t n, uint32_t *ret_status, uint8_t report[CP_SNP_REPORT_SIZE]) {
        cp_cursor c = cp_cursor_make(p, n);
        uint32_t status = 0, size = 0;
        int r;

        if (!ret_status || !report)
                return CP_ERROR(CP_EINVAL, "cp_snp_report_rsp_parse: NULL argument");
        if ((r = cp_cursor_le32(&c, &status)) < 0 || (r = cp_cursor_le32(&c, &size)) < 0 ||
            (r = cp_cursor_zero(&c, 24, "MSG_REPORT_RSP reserved")) < 0)
                return r;
        if (status == CP_SNP_FW_SUCCESS && size != CP_SNP_REPORT_SIZE)
                return CP_ERROR(CP_EFORMAT, "MSG_REPORT_RSP REPORT_SIZE %u, expected %u", size, CP_SNP_REPORT_SIZE);
        if (size != 0 && size != CP_SNP_REPORT_SIZE)
                return CP_ERROR(CP_EFORMAT, "MSG_REPORT_RSP REPORT_SIZE %u", size);
        /* The response always carries the report area (zero on failure). */
        if (cp_cursor_remaining(&c) != CP_SNP_REPORT_SIZE)
                return CP_ERROR(cp_cursor_remaining(&c) < CP_SNP_REPORT_SIZE ? CP_ETRUNC : CP_ETRAILING,
                                "MSG_REPORT_RSP is %zu bytes, expected %u", n, CP_SNP_MSG_REPORT_RSP_SIZE);
        if (status == CP_SNP_FW_SUCCESS) {
                if ((r = cp_cursor_bytes(&c, CP_SNP_REPORT_SIZE, report)) < 0)
                        return r;
        }
        *ret_status = status;
        return 0;
}

int cp_snp_secrets_get(const uint8_t page[CP_SNP_SECRETS_PAGE_SIZE], unsigned vmpck, uint8_t key[CP_SNP_VMPCK_LEN],
                       uint64_t *ret_seqno) {
        cp_cursor c = cp_cursor_make(page, CP_SNP_SECRETS_PAGE_SIZE), w;
        uint32_t seq = 0;
        uint8_t k[CP_SNP_VMPCK_LEN];
        int r;

        if (!page || !key || !ret_seqno || vmpck >= CP_SNP_VMPCK_COUNT)
                return CP_ERROR(CP_EINVAL, "cp_snp_secrets_get: invalid arguments");
        if ((r = cp_cursor_window(&c, CP_SNP_SECRETS_VMPCK_OFF + vmpck * CP_SNP_VMPCK_LEN, CP_SNP_VMPCK_LEN, &w)) < 0 ||
            (r = cp_cursor_bytes(&w, CP_SNP_VMPCK_LEN, k)) < 0 ||
            (r = cp_cursor_window(&c, CP_SNP_SECRETS_OS_AREA + 4 * vmpck, 4, &w)) < 0 ||
            (r = cp_cursor_le32(&w, &seq)) < 0)
                return r;
        if (cp_ct_is_zero(k, sizeof(k))) {
                cp_wipe(k, sizeof(k));
                return CP_ERROR(CP_ENOTFOUND, "VMPCK%u is not available in this secrets page (zeroed)", vmpck);
        }
        memcpy(key, k, sizeof(k));
        cp_wipe(k, sizeof(k));
        *ret_seqno = seq;
        return 0;
}

int cp_snp_secrets_set_seqno(uint8_t page[CP_SNP_SECRETS_PAGE_SIZE], unsigned vmpck, uint64_t seqno) {
        if (!page || vmpck >= CP_SNP_VMPCK_COUNT)
                return CP_ERROR(CP_EINVAL, "cp_snp_secrets_set_seqno: invalid arguments");
        if (seqno > UINT32_MAX)
                return CP_ERROR(CP_EINVAL, "sequence number of VMPCK%u exhausted the 32-bit counter", vmpck);
        cp_put_le32(page + CP_SNP_SECRETS_OS_AREA + 4 * vmpck, (uint32_t) seqno);
        return 0;
}
