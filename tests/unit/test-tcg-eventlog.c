/* SPDX-License-Identifier: Apache-2.0 */
/* TCG crypto-agile event logs.  No real firmware log is in the shared real
 * data, so logs are built twice: by hand in this file (its own little-endian
 * writer and OpenSSL one-shot digests, the PCRs extended here independently)
 * and with cp_tcg_eventlog_builder; both must be byte-identical and replay
 * to the independently computed PCRs. */

#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "basic/cleanup.h"
#include "basic/cursor.h"
#include "basic/limits.h"
#include "confpool/tcg_eventlog.h"
#include "tests.h"

/* ---- an independent writer ---------------------------------------------------- */

typedef struct hbuf {
        uint8_t b[16384];
        size_t n;
} hbuf;

static void h_put(hbuf *h, const void *p, size_t n) {
        if (h->n + n > sizeof(h->b))
                abort();
        memcpy(h->b + h->n, p, n);
        h->n += n;
}
static void h_u8(hbuf *h, uint8_t v) {
        h_put(h, &v, 1);
}
static void h_le16(hbuf *h, uint16_t v) {
        uint8_t b[2];
        cp_put_le16(b, v);
        h_put(h, b, sizeof(b));
}
static void h_le32(hbuf *h, uint32_t v) {
        uint8_t b[4];
        cp_put_le32(b, v);
        h_put(h, b, sizeof(b));
}
static void h_le64(hbuf *h, uint64_t v) {
        uint8_t b[8];
        cp_put_le64(b, v);
        h_put(h, b, sizeof(b));
}

/* the three banks used here: SHA-1, SHA-256, SHA-384 */
static const uint16_t ALGS[3] = { 0x0004, 0x000B, 0x000C };
static const size_t SIZES[3] = { 20, 32, 48 };

static void h_hash(int bank, const void *a, size_t an, const void *b, size_t bn, uint8_t *out) {
        uint8_t tmp[2 * 48 + 4096];
        memcpy(tmp, a, an);
        if (bn)
                memcpy(tmp + an, b, bn);
        if (bank == 0)
                SHA1(tmp, an + bn, out);
        else if (bank == 1)
                SHA256(tmp, an + bn, out);
        else
                SHA384(tmp, an + bn, out);
}

typedef struct hlog {
        hbuf buf;
        uint8_t pcr[3][24][48];
        size_t boundaries[64]; /* lengths at which the log is complete */
        size_t n_boundaries;
} hlog;

static void h_header(hlog *l) {
        hbuf *h = &l->buf;
        memset(l, 0, sizeof(*l));
        h_le32(h, 0);
        h_le32(h, 3);
        for (int i = 0; i < 20; i++)
                h_u8(h, 0);
        h_le32(h, 16 + 4 + 4 + 4 + 3 * 4 + 1);
        h_put(h, "Spec ID Event03", 16);
        h_le32(h, 0);
        h_u8(h, 0);
        h_u8(h, 2);
        h_u8(h, 0);
        h_u8(h, 2);
        h_le32(h, 3);
        for (int i = 0; i < 3; i++) {
                h_le16(h, ALGS[i]);
                h_le16(h, (uint16_t) SIZES[i]);
        }
        h_u8(h, 0);
        l->boundaries[l->n_boundaries++] = h->n;
}

/* event whose digests are H(measured) (or zero for EV_NO_ACTION) */
static void h_event(hlog *l, uint32_t pcr, uint32_t type, const void *measured, size_t mlen, const void *ev,
                    size_t elen) {
        hbuf *h = &l->buf;
        h_le32(h, pcr);
        h_le32(h, type);
        h_le32(h, 3);
        for (int i = 0; i < 3; i++) {
                uint8_t d[48] = { 0 };
                if (type != 3)
                        h_hash(i, measured, mlen, NULL, 0, d);
                h_le16(h, ALGS[i]);
                h_put(h, d, SIZES[i]);
                if (type != 3)
                        h_hash(i, l->pcr[i][pcr], SIZES[i], d, SIZES[i], l->pcr[i][pcr]);
        }
        h_le32(h, (uint32_t) elen);
        h_put(h, ev, elen);
        l->boundaries[l->n_boundaries++] = h->n;
}

/* UEFI_VARIABLE_DATA */
static size_t uefi_var(uint8_t *out, const uint8_t guid[16], const char *name, const void *data, size_t dlen) {
        hbuf h = { .n = 0 };
        size_t nl = strlen(name);
        h_put(&h, guid, 16);
        h_le64(&h, nl);
        h_le64(&h, dlen);
        for (size_t i = 0; i < nl; i++)
                h_le16(&h, (uint16_t) name[i]);
        h_put(&h, data, dlen);
        memcpy(out, h.b, h.n);
        return h.n;
}

static const uint8_t GLOBAL_GUID[16] = { 0x61, 0xdf, 0xe4, 0x8b, 0xca, 0x93, 0xd2, 0x11,
                                         0xaa, 0x0d, 0x00, 0xe0, 0x98, 0x03, 0x2b, 0x8c };

typedef struct evspec {
        uint32_t pcr, type;
        const void *measured;
        size_t mlen;
        const void *ev;
        size_t elen;
} evspec;

static const char CMDLINE[] = "kernel_cmdline: /vmlinuz root=/dev/vda1 ro console=ttyS0";
static const char GRUBCMD[] = "grub_cmd: linux /vmlinuz root=/dev/vda1";
static const uint8_t SEP[4] = { 0, 0, 0, 0 };
static const uint8_t CRTM[] = { 'E', 0, 'D', 0, 'K', 0, ' ', 0, 'I', 0, 'I', 0, 0, 0 };
static const uint8_t FIRMWARE[] = "pretend this is the firmware volume";
static const uint8_t KERNEL[] = "pretend this is a PE image";

static size_t n_events(evspec *out, uint8_t *varbuf, uint8_t *blob, uint8_t *image, uint8_t *tag) {
        size_t n = 0;
        uint8_t sb = 1;
        size_t vl = uefi_var(varbuf, GLOBAL_GUID, "SecureBoot", &sb, 1);
        hbuf h = { .n = 0 };
        h_le64(&h, 0xffc00000u);
        h_le64(&h, 0x00400000u);
        memcpy(blob, h.b, 16);
        h.n = 0;
        h_le64(&h, 0x7e000000u);
        h_le64(&h, sizeof(KERNEL));
        h_le64(&h, 0);
        h_le64(&h, 4);
        h_put(&h, "\x7f\xff\x04\x00", 4); /* end-of-device-path node */
        memcpy(image, h.b, h.n);
        size_t il = h.n;
        h.n = 0;
        h_le32(&h, 0x1234);
        h_le32(&h, 3);
        h_put(&h, "abc", 3);
        memcpy(tag, h.b, h.n);
        size_t tl = h.n;

        out[n++] = (evspec){ 0, 0x00000008, CRTM, sizeof(CRTM), CRTM, sizeof(CRTM) };
        out[n++] = (evspec){ 0, 0x80000008, FIRMWARE, sizeof(FIRMWARE), blob, 16 };
        out[n++] = (evspec){ 7, 0x80000001, varbuf, vl, varbuf, vl };
        for (uint32_t p = 0; p < 8; p++)
                out[n++] = (evspec){ p, 0x00000004, SEP, 4, SEP, 4 };
        out[n++] = (evspec){ 4, 0x80000003, KERNEL, sizeof(KERNEL), image, il };
        out[n++] = (evspec){ 8, 0x0000000D, GRUBCMD, sizeof(GRUBCMD) - 1, GRUBCMD, sizeof(GRUBCMD) };
        out[n++] = (evspec){ 8, 0x0000000D, CMDLINE, sizeof(CMDLINE) - 1, CMDLINE, sizeof(CMDLINE) };
        out[n++] = (evspec){ 5, 0x80000007, "Exit Boot Services Invocation", 29, "Exit Boot Services Invocation", 29 };
        out[n++] = (evspec){ 6, 0x00000006, tag, tl, tag, tl };
        out[n++] = (evspec){ 1, 0x00000003, NULL, 0, "SP800-155 Event", 16 }; /* EV_NO_ACTION, not extended */
        return n;
}

/* the full test log by hand, with StartupLocality 3 first */
static void build_by_hand(hlog *l, evspec *ev, size_t n) {
        static const uint8_t loc[17] = "StartupLocality\0\3";
        h_header(l);
        h_event(l, 0, 3, NULL, 0, loc, 17);
        for (int i = 0; i < 3; i++)
                l->pcr[i][0][SIZES[i] - 1] = 3;
        for (size_t i = 0; i < n; i++)
                h_event(l, ev[i].pcr, ev[i].type, ev[i].measured, ev[i].mlen, ev[i].ev, ev[i].elen);
}

static void builder_free(cp_tcg_eventlog_builder **b) {
        cp_tcg_eventlog_builder_free(*b);
}
static void log_free(cp_tcg_eventlog **l) {
        cp_tcg_eventlog_free(*l);
}

typedef struct fixture {
        hlog hand;
        evspec ev[32];
        size_t n;
        uint8_t var[256], blob[16], image[64], tag[16];
} fixture;

static fixture *fixture_new(void) {
        fixture *f = calloc(1, sizeof(*f));
        ASSERT_TRUE(f);
        f->n = n_events(f->ev, f->var, f->blob, f->image, f->tag);
        build_by_hand(&f->hand, f->ev, f->n);
        return f;
}

TEST(builder_matches_hand_written_log_and_replay) {
        _cleanup_free_ fixture *f = fixture_new();
        _cleanup_(builder_free) cp_tcg_eventlog_builder *b = NULL;
        _cleanup_(log_free) cp_tcg_eventlog *l = NULL;
        _cleanup_free_ uint8_t *bytes = NULL;
        size_t len;

        ASSERT_OK(cp_tcg_eventlog_builder_new(ALGS, 3, &b));
        ASSERT_OK(cp_tcg_eventlog_builder_startup_locality(b, 3));
        for (size_t i = 0; i < f->n; i++)
                ASSERT_OK(cp_tcg_eventlog_builder_add(b, f->ev[i].pcr, f->ev[i].type, f->ev[i].measured, f->ev[i].mlen,
                                                      f->ev[i].ev, f->ev[i].elen));
        ASSERT_OK(cp_tcg_eventlog_builder_serialize(b, &bytes, &len));
        ASSERT_EQ(len, f->hand.buf.n);
        ASSERT_MEMEQ(bytes, f->hand.buf.b, len);

        ASSERT_OK(cp_tcg_eventlog_parse(bytes, len, &l));
        ASSERT_EQ(cp_tcg_eventlog_count(l), f->n + 1);
        const cp_tcg_spec_id *s = cp_tcg_eventlog_spec_id(l);
        ASSERT_EQ(s->n_algs, 3);
        ASSERT_EQ(s->uintn_size, 2);
        ASSERT_EQ(s->algs[2].alg, 0x000C);
        ASSERT_EQ(s->algs[2].size, 48);
        const cp_tcg_event *e = cp_tcg_eventlog_get(l, 2);
        ASSERT_EQ(e->type, CP_EV_EFI_PLATFORM_FIRMWARE_BLOB);
        ASSERT_EQ(e->data_len, 16);
        ASSERT_TRUE(cp_tcg_eventlog_get(l, f->n + 1) == NULL);

        for (int bank = 0; bank < 3; bank++) {
                cp_tcg_pcrs p;
                ASSERT_OK(cp_tcg_eventlog_replay(l, ALGS[bank], &p));
                ASSERT_EQ(p.digest_len, SIZES[bank]);
                ASSERT_EQ(p.startup_locality, 3);
                ASSERT_EQ(p.touched, 0x1ffu); /* PCRs 0..8; PCR 1's EV_NO_ACTION does not count */
                for (unsigned i = 0; i < 24; i++) {
                        uint8_t bv[48];
                        ASSERT_MEMEQ(p.values[i], f->hand.pcr[bank][i], SIZES[bank]);
                        ASSERT_OK(cp_tcg_eventlog_builder_pcr(b, ALGS[bank], i, bv, sizeof(bv)));
                        ASSERT_MEMEQ(bv, f->hand.pcr[bank][i], SIZES[bank]);
                }
        }
        /* PCR 0 really starts at 0..03: one SHA-256 extend of the S-CRTM version by hand */
        uint8_t start[32] = { 0 }, d[32], buf[64], want[32];
        start[31] = 3;
        SHA256(CRTM, sizeof(CRTM), d);
        memcpy(buf, start, 32);
        memcpy(buf + 32, d, 32);
        SHA256(buf, 64, want);
        memcpy(buf, want, 32);
        SHA256(FIRMWARE, sizeof(FIRMWARE), d);
        memcpy(buf + 32, d, 32);
        SHA256(buf, 64, want);
        memcpy(buf, want, 32);
        SHA256(SEP, 4, d);
        memcpy(buf + 32, d, 32);
        SHA256(buf, 64, want);
        cp_tcg_pcrs p;
        ASSERT_OK(cp_tcg_eventlog_replay(l, CP_TPM_ALG_SHA256, &p));
        ASSERT_MEMEQ(p.values[0], want, 32);
        ASSERT_ERR(cp_tcg_eventlog_replay(l, CP_TPM_ALG_SHA512, &p), CP_ENOTFOUND);
        ASSERT_ERR(cp_tcg_eventlog_replay(l, 0x0012, &p), CP_EUNSUPPORTED);
}

TEST(check_pcrs_against_quoted_values) {
        _cleanup_free_ fixture *f = fixture_new();
        _cleanup_(log_free) cp_tcg_eventlog *l = NULL;
        uint8_t vals[24][32];
        cp_tpm_pcr_bank bank = { .hash_alg = CP_TPM_ALG_SHA256 };
        uint32_t checked = 0;

        ASSERT_OK(cp_tcg_eventlog_parse(f->hand.buf.b, f->hand.buf.n, &l));
        for (unsigned i = 0; i < 24; i++) {
                memcpy(vals[i], f->hand.pcr[1][i], 32);
                bank.values[i] = vals[i];
        }
        ASSERT_OK(cp_tcg_eventlog_check_pcrs(l, &bank, 0xffffffu, &checked));
        ASSERT_EQ(checked, 0x1ffu);
        /* PCRs 10.. (not in the log) may hold anything */
        vals[10][0] ^= 1;
        ASSERT_OK(cp_tcg_eventlog_check_pcrs(l, &bank, 0xffffffu, &checked));
        /* every replayed PCR is compared */
        for (unsigned i = 0; i < 9; i++) {
                vals[i][31] ^= 0x80;
                ASSERT_ERR(cp_tcg_eventlog_check_pcrs(l, &bank, 0xffffffu, &checked), CP_EBINDING);
                /* not in the quote's selection: not compared */
                ASSERT_OK(cp_tcg_eventlog_check_pcrs(l, &bank, 0xffffffu & ~(1u << i), &checked));
                ASSERT_EQ(checked, 0x1ffu & ~(1u << i));
                vals[i][31] ^= 0x80;
        }
        bank.values[4] = NULL;
        ASSERT_ERR(cp_tcg_eventlog_check_pcrs(l, &bank, 1u << 4, &checked), CP_EINVAL);
        ASSERT_ERR(cp_tcg_eventlog_check_pcrs(l, &bank, 1u << 12, &checked), CP_ENOTFOUND);
        bank.values[4] = vals[4];
        /* the SHA-1 bank against SHA-256 values */
        cp_tpm_pcr_bank b1 = bank;
        b1.hash_alg = CP_TPM_ALG_SHA1;
        ASSERT_ERR(cp_tcg_eventlog_check_pcrs(l, &b1, 0xffffffu, &checked), CP_EBINDING);
}

TEST(claims_from_boot_events) {
        _cleanup_free_ fixture *f = fixture_new();
        _cleanup_(log_free) cp_tcg_eventlog *l = NULL;
        json_t *c = NULL;

        ASSERT_OK(cp_tcg_eventlog_parse(f->hand.buf.b, f->hand.buf.n, &l));
        ASSERT_OK(cp_tcg_eventlog_claims(l, 0xffffffu & ~(1u << 6), &c));
        ASSERT_EQ(json_integer_value(json_object_get(c, "eventCount")), f->n + 1);
        ASSERT_EQ(json_integer_value(json_object_get(c, "unverifiedEvents")), 2); /* PCR 6: separator + tag */
        ASSERT_STREQ(json_string_value(json_array_get(json_object_get(c, "banks"), 1)), "sha256");
        ASSERT_STREQ(json_string_value(json_object_get(c, "kernelCmdline")), "/vmlinuz root=/dev/vda1 ro console=ttyS0");
        ASSERT_TRUE(json_is_true(json_object_get(c, "secureBoot")));
        json_t *rp = json_object_get(c, "replayedPcrs");
        ASSERT_EQ(json_array_size(rp), 8); /* 0..5, 7, 8 */
        /* plain separators are listed compactly, PCR 6's is not verified */
        json_t *seps = json_object_get(c, "separators");
        ASSERT_EQ(json_array_size(seps), 7);
        ASSERT_EQ(json_integer_value(json_array_get(seps, 6)), 7);
        json_t *pcrs = json_object_get(c, "pcrs");
        ASSERT_TRUE(json_object_get(pcrs, "6") == NULL);
        ASSERT_EQ(json_array_size(json_object_get(pcrs, "1")), 1); /* the EV_NO_ACTION event; its separator is compact */
        json_t *p8 = json_object_get(pcrs, "8");
        ASSERT_EQ(json_array_size(p8), 2);
        /* measured text: shown without its digest */
        ASSERT_STREQ(json_string_value(json_object_get(json_array_get(p8, 0), "text")), GRUBCMD);
        ASSERT_TRUE(json_object_get(json_array_get(p8, 0), "digest") == NULL);
        json_t *p0 = json_object_get(pcrs, "0");
        ASSERT_EQ(json_array_size(p0), 3); /* locality, CRTM version, blob (the separator is listed compactly) */
        ASSERT_STREQ(json_string_value(json_object_get(json_array_get(p0, 0), "type")), "EV_NO_ACTION");
        ASSERT_EQ(json_integer_value(json_object_get(json_array_get(p0, 0), "startupLocality")), 3);
        ASSERT_TRUE(json_object_get(json_array_get(p0, 0), "digest") == NULL);
        ASSERT_STREQ(json_string_value(json_object_get(json_array_get(json_object_get(pcrs, "1"), 0), "signature")),
                     "SP800-155 Event");
        json_t *crtm = json_array_get(p0, 1);
        ASSERT_STREQ(json_string_value(json_object_get(crtm, "type")), "EV_S_CRTM_VERSION");
        ASSERT_STREQ(json_string_value(json_object_get(crtm, "text")), "EDK II");
        ASSERT_TRUE(json_is_true(json_object_get(crtm, "dataVerified"))); /* UCS-2: the digest stays */
        uint8_t d[32];
        char hex[65];
        SHA256(CRTM, sizeof(CRTM), d);
        for (int i = 0; i < 32; i++)
                snprintf(hex + 2 * i, 3, "%02x", d[i]);
        ASSERT_STREQ(json_string_value(json_object_get(crtm, "digest")), hex);
        json_t *blob = json_array_get(p0, 2);
        ASSERT_EQ(json_integer_value(json_object_get(blob, "base")), 0xffc00000);
        ASSERT_EQ(json_integer_value(json_object_get(blob, "length")), 0x00400000);
        SHA256(FIRMWARE, sizeof(FIRMWARE), d);
        for (int i = 0; i < 32; i++)
                snprintf(hex + 2 * i, 3, "%02x", d[i]);
        ASSERT_STREQ(json_string_value(json_object_get(blob, "digest")), hex);
        json_t *sb = json_array_get(json_object_get(pcrs, "7"), 0);
        ASSERT_STREQ(json_string_value(json_object_get(sb, "name")), "SecureBoot");
        ASSERT_STREQ(json_string_value(json_object_get(sb, "guid")), "8be4df61-93ca-11d2-aa0d-00e098032b8c");
        json_t *img = json_array_get(json_object_get(pcrs, "4"), 0);
        ASSERT_EQ(json_integer_value(json_object_get(img, "imageLength")), sizeof(KERNEL));
        ASSERT_EQ(json_integer_value(json_object_get(img, "devicePathLength")), 4);
        json_t *act = json_array_get(json_object_get(pcrs, "5"), 0);
        ASSERT_STREQ(json_string_value(json_object_get(act, "text")), "Exit Boot Services Invocation");
        json_decref(c);
        ASSERT_STREQ(cp_tcg_event_type_name(CP_EV_EFI_HANDOFF_TABLES), "EV_EFI_HANDOFF_TABLES");
        ASSERT_STREQ(cp_tcg_event_type_name(CP_EV_EFI_PLATFORM_FIRMWARE_BLOB2), "EV_EFI_PLATFORM_FIRMWARE_BLOB2");
        ASSERT_TRUE(cp_tcg_event_type_name(0x7fffffffu) == NULL);
}

TEST(unverified_text_is_marked_and_sanitized) {
        _cleanup_(builder_free) cp_tcg_eventlog_builder *b = NULL;
        _cleanup_(log_free) cp_tcg_eventlog *l = NULL;
        _cleanup_free_ uint8_t *bytes = NULL;
        size_t len;
        json_t *c = NULL;
        const uint16_t a = CP_TPM_ALG_SHA256;
        ASSERT_OK(cp_tcg_eventlog_builder_new(&a, 1, &b));
        /* EV_IPL whose digest is of something else: the text is not trusted */
        ASSERT_OK(cp_tcg_eventlog_builder_add(b, 8, CP_EV_IPL, "other", 5, "kernel_cmdline: evil\x01\"x", 23));
        ASSERT_OK(cp_tcg_eventlog_builder_serialize(b, &bytes, &len));
        ASSERT_OK(cp_tcg_eventlog_parse(bytes, len, &l));
        ASSERT_OK(cp_tcg_eventlog_claims(l, 1u << 8, &c));
        json_t *d = json_array_get(json_object_get(json_object_get(c, "pcrs"), "8"), 0);
        ASSERT_STREQ(json_string_value(json_object_get(d, "text")), "kernel_cmdline: evil?\"x");
        ASSERT_TRUE(json_is_false(json_object_get(d, "dataVerified")));
        ASSERT_TRUE(json_object_get(d, "digest") != NULL);
        ASSERT_TRUE(json_object_get(c, "kernelCmdline") == NULL);
        json_decref(c);
}

/* ---- negative ------------------------------------------------------------------ */

static int parse(const uint8_t *p, size_t n) {
        cp_tcg_eventlog *l = NULL;
        int r = cp_tcg_eventlog_parse(p, n, &l);
        cp_tcg_eventlog_free(l);
        return r;
}

TEST(truncation_at_every_length) {
        _cleanup_free_ fixture *f = fixture_new();
        size_t k = 0;
        for (size_t n = 0; n < f->hand.buf.n; n++) {
                if (k < f->hand.n_boundaries && f->hand.boundaries[k] == n) {
                        cp_tcg_eventlog *l = NULL;
                        ASSERT_OK(cp_tcg_eventlog_parse(f->hand.buf.b, n, &l));
                        ASSERT_EQ(cp_tcg_eventlog_count(l), k);
                        cp_tcg_eventlog_free(l);
                        k++;
                } else
                        ASSERT_ERR(parse(f->hand.buf.b, n), CP_ETRUNC);
        }
        ASSERT_EQ(k, f->hand.n_boundaries - 1);
        ASSERT_OK(parse(f->hand.buf.b, f->hand.buf.n));
}

/* offsets in the hand-built header */
#define OFF_HDR_SIZE   28
#define OFF_SIG        32
#define OFF_MINOR      52
#define OFF_MAJOR      53
#define OFF_UINTN      55
#define OFF_NALGS      56
#define OFF_ALG0       60
#define HDR_END        (OFF_ALG0 + 12 + 1)

TEST(bad_headers) {
        _cleanup_free_ fixture *f = fixture_new();
        _cleanup_free_ uint8_t *m = malloc(f->hand.buf.n + 8);
        const size_t n = f->hand.buf.n;
#define RESET() memcpy(m, f->hand.buf.b, n)
        RESET();
        ASSERT_EQ(f->hand.boundaries[0], HDR_END);
        ASSERT_OK(parse(m, n));
        m[0] = 1; /* Spec ID event not in PCR 0 */
        ASSERT_ERR(parse(m, n), CP_EFORMAT);
        RESET();
        m[4] = 4; /* not EV_NO_ACTION */
        ASSERT_ERR(parse(m, n), CP_EFORMAT);
        RESET();
        m[8 + 19] = 1; /* digest must be zero */
        ASSERT_ERR(parse(m, n), CP_EMBZ);
        RESET();
        memcpy(m + OFF_SIG, "Spec ID Event02", 16);
        ASSERT_ERR(parse(m, n), CP_EVERSION);
        RESET();
        memcpy(m + OFF_SIG, "Spec XD Event03", 16);
        ASSERT_ERR(parse(m, n), CP_EFORMAT);
        RESET();
        m[OFF_MAJOR] = 1;
        m[OFF_MINOR] = 2;
        ASSERT_ERR(parse(m, n), CP_EVERSION);
        RESET();
        m[OFF_UINTN] = 3;
        ASSERT_ERR(parse(m, n), CP_EFORMAT);
        RESET();
        cp_put_le32(m + OFF_NALGS, 0);
        ASSERT_ERR(parse(m, n), CP_EFORMAT);
        RESET();
        cp_put_le32(m + OFF_NALGS, 9);
        ASSERT_ERR(parse(m, n), CP_ETOOBIG);
        RESET();
        cp_put_le32(m + OFF_NALGS, 0xffffffffu);
        ASSERT_ERR(parse(m, n), CP_ETOOBIG);
        RESET();
        m[OFF_ALG0 + 2] = 32; /* SHA-1 with 32-byte digests */
        ASSERT_ERR(parse(m, n), CP_EFORMAT);
        RESET();
        m[OFF_ALG0 + 4] = 0x04; /* SHA-1 twice */
        m[OFF_ALG0 + 6] = 20;
        ASSERT_ERR(parse(m, n), CP_EFORMAT);
        RESET();
        m[OFF_ALG0] = 0x12; /* unknown algorithm (SM3_256) declared with size 0 */
        m[OFF_ALG0 + 2] = 0;
        ASSERT_ERR(parse(m, n), CP_EFORMAT);
        m[OFF_ALG0 + 2] = 65;
        ASSERT_ERR(parse(m, n), CP_EFORMAT);
        /* an unknown algorithm with a sane size is skipped by size: this log's events
         * then carry a digest of the undeclared SHA-1 */
        m[OFF_ALG0 + 2] = 20;
        ASSERT_ERR(parse(m, n), CP_EFORMAT);
        RESET();
        /* header eventSize: one more (vendor info eats into the next event) / less / huge */
        cp_put_le32(m + OFF_HDR_SIZE, HDR_END - OFF_SIG + 1);
        ASSERT_ERR(parse(m, n), CP_ETRAILING);
        cp_put_le32(m + OFF_HDR_SIZE, HDR_END - OFF_SIG - 1);
        ASSERT_ERR(parse(m, n), CP_ETRUNC);
        cp_put_le32(m + OFF_HDR_SIZE, 0xffffffffu);
        ASSERT_ERR(parse(m, n), CP_ETRUNC);
        RESET();
        m[HDR_END - 1] = 200; /* vendorInfoSize beyond the event */
        ASSERT_ERR(parse(m, n), CP_ETRUNC);
        RESET();
        /* trailing garbage after the last event */
        m[n] = 0;
        ASSERT_ERR(parse(m, n + 1), CP_ETRUNC);
        ASSERT_ERR(cp_tcg_eventlog_parse(m, CP_MAX_TCG_EVENTLOG + 1, &(cp_tcg_eventlog *){ NULL }), CP_ETOOBIG);
#undef RESET
}

TEST(bad_events) {
        _cleanup_free_ fixture *f = fixture_new();
        _cleanup_free_ uint8_t *m = malloc(f->hand.buf.n);
        const size_t n = f->hand.buf.n, e = HDR_END; /* first event: PCR 0 StartupLocality */
#define RESET() memcpy(m, f->hand.buf.b, n)
        RESET();
        cp_put_le32(m + e, 24); /* PCR index */
        ASSERT_ERR(parse(m, n), CP_EFORMAT);
        RESET();
        cp_put_le32(m + e + 8, 2); /* digest count */
        ASSERT_ERR(parse(m, n), CP_EFORMAT);
        cp_put_le32(m + e + 8, 4);
        ASSERT_ERR(parse(m, n), CP_EFORMAT);
        cp_put_le32(m + e + 8, 0);
        ASSERT_ERR(parse(m, n), CP_EFORMAT);
        RESET();
        m[e + 12] = 0x0D; /* SHA-512 digest: undeclared */
        ASSERT_ERR(parse(m, n), CP_EFORMAT);
        RESET();
        m[e + 12] = 0x99; /* unknown algorithm */
        ASSERT_ERR(parse(m, n), CP_EFORMAT);
        RESET();
        m[e + 12 + 2 + 20] = 0x04; /* SHA-256 slot says SHA-1 again */
        ASSERT_ERR(parse(m, n), CP_EFORMAT);
        RESET();
        size_t esz = e + 12 + 2 + 20 + 2 + 32 + 2 + 48;
        cp_put_le32(m + esz, 0xffffffffu); /* eventSize overflowing */
        ASSERT_ERR(parse(m, n), CP_ETRUNC);
        cp_put_le32(m + esz, 0x80000000u);
        ASSERT_ERR(parse(m, n), CP_ETRUNC);
        cp_put_le32(m + esz, 18); /* one byte into the next event */
        ASSERT_FAILS(parse(m, n));
        RESET();
        /* StartupLocality in PCR 1, or after a PCR 0 measurement */
        cp_tcg_eventlog *l = NULL;
        cp_tcg_pcrs p;
        cp_put_le32(m + e, 1);
        ASSERT_OK(cp_tcg_eventlog_parse(m, n, &l));
        ASSERT_ERR(cp_tcg_eventlog_replay(l, CP_TPM_ALG_SHA256, &p), CP_EFORMAT);
        l = cp_tcg_eventlog_free(l);
#undef RESET
        _cleanup_(builder_free) cp_tcg_eventlog_builder *b = NULL;
        ASSERT_OK(cp_tcg_eventlog_builder_new(ALGS + 1, 1, &b));
        ASSERT_OK(cp_tcg_eventlog_builder_add(b, 0, CP_EV_SEPARATOR, NULL, 0, SEP, 4));
        ASSERT_ERR(cp_tcg_eventlog_builder_startup_locality(b, 3), CP_EBADSEQ);
        /* a misplaced locality event (written with add_digests) is refused by the replay */
        static const uint8_t zero[32], loc[17] = "StartupLocality\0\3";
        cp_tcg_digest dg = { .alg = CP_TPM_ALG_SHA256, .digest = zero, .len = 32 };
        ASSERT_OK(cp_tcg_eventlog_builder_add_digests(b, 0, CP_EV_NO_ACTION, &dg, 1, loc, 17));
        _cleanup_free_ uint8_t *bytes = NULL;
        size_t len;
        ASSERT_OK(cp_tcg_eventlog_builder_serialize(b, &bytes, &len));
        ASSERT_OK(cp_tcg_eventlog_parse(bytes, len, &l));
        ASSERT_ERR(cp_tcg_eventlog_replay(l, CP_TPM_ALG_SHA256, &p), CP_EFORMAT);
        cp_tcg_eventlog_free(l);
        /* builder argument checks */
        ASSERT_ERR(cp_tcg_eventlog_builder_add(b, 24, CP_EV_IPL, NULL, 0, "x", 1), CP_EINVAL);
        dg.alg = CP_TPM_ALG_SHA1;
        ASSERT_ERR(cp_tcg_eventlog_builder_add_digests(b, 1, CP_EV_IPL, &dg, 1, "x", 1), CP_EINVAL);
        const uint16_t dup[2] = { CP_TPM_ALG_SHA256, CP_TPM_ALG_SHA256 }, bad = 0x0012;
        cp_tcg_eventlog_builder *b2 = NULL;
        ASSERT_ERR(cp_tcg_eventlog_builder_new(dup, 2, &b2), CP_EINVAL);
        ASSERT_ERR(cp_tcg_eventlog_builder_new(&bad, 1, &b2), CP_EUNSUPPORTED);
        ASSERT_ERR(cp_tcg_eventlog_builder_new(dup, 0, &b2), CP_EINVAL);
}

TEST(malformed_event_data_is_flagged_not_fatal) {
        _cleanup_(builder_free) cp_tcg_eventlog_builder *b = NULL;
        _cleanup_(log_free) cp_tcg_eventlog *l = NULL;
        _cleanup_free_ uint8_t *bytes = NULL;
        size_t len;
        json_t *c = NULL;
        const uint16_t a = CP_TPM_ALG_SHA256;
        uint8_t junk[40];
        memset(junk, 0xff, sizeof(junk));
        ASSERT_OK(cp_tcg_eventlog_builder_new(&a, 1, &b));
        const uint32_t types[] = { CP_EV_EFI_VARIABLE_DRIVER_CONFIG, CP_EV_EFI_BOOT_SERVICES_APPLICATION,
                                   CP_EV_EFI_PLATFORM_FIRMWARE_BLOB, CP_EV_EFI_PLATFORM_FIRMWARE_BLOB2,
                                   CP_EV_EFI_HANDOFF_TABLES, CP_EV_EFI_GPT_EVENT, CP_EV_EVENT_TAG, CP_EV_SEPARATOR };
        for (size_t i = 0; i < CP_ELEMENTSOF(types); i++)
                ASSERT_OK(cp_tcg_eventlog_builder_add(b, 2, types[i], NULL, 0, junk, sizeof(junk)));
        ASSERT_OK(cp_tcg_eventlog_builder_serialize(b, &bytes, &len));
        ASSERT_OK(cp_tcg_eventlog_parse(bytes, len, &l));
        ASSERT_OK(cp_tcg_eventlog_claims(l, 1u << 2, &c));
        json_t *list = json_object_get(json_object_get(c, "pcrs"), "2");
        ASSERT_EQ(json_array_size(list), CP_ELEMENTSOF(types));
        for (size_t i = 0; i < CP_ELEMENTSOF(types); i++)
                ASSERT_TRUE(json_is_true(json_object_get(json_array_get(list, i), "malformed")));
        json_decref(c);
}
