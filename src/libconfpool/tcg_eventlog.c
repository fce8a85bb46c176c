/* SPDX-License-Identifier: Apache-2.0 */
/* TCG PC Client crypto-agile firmware event logs: parsing, PCR replay,
 * comparison with quoted PCRs, claims, and a writer. */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "basic/cleanup.h"
#include "basic/codec.h"
#include "basic/cursor.h"
#include "basic/limits.h"
#include "basic/secure.h"
#include "confpool/tcg_eventlog.h"

_Static_assert(CP_TCG_PCR_COUNT == CP_TPM_PCR_COUNT, "PCR count");

static const uint8_t spec_id_sig[16] = "Spec ID Event03";   /* with the NUL */
static const uint8_t startup_locality_sig[16] = "StartupLocality"; /* with the NUL */

struct cp_tcg_eventlog {
        cp_tcg_spec_id spec;
        size_t n, cap;
        cp_tcg_event *ev;
        size_t padding;              /* CP_TCG_PARSE_PADDED: bytes of fill after the last event */
};

static const struct {
        uint32_t type;
        const char *name;
} type_names[] = {
        { CP_EV_PREBOOT_CERT, "EV_PREBOOT_CERT" },
        { CP_EV_POST_CODE, "EV_POST_CODE" },
        { CP_EV_UNUSED, "EV_UNUSED" },
        { CP_EV_NO_ACTION, "EV_NO_ACTION" },
        { CP_EV_SEPARATOR, "EV_SEPARATOR" },
        { CP_EV_ACTION, "EV_ACTION" },
        { CP_EV_EVENT_TAG, "EV_EVENT_TAG" },
        { CP_EV_S_CRTM_CONTENTS, "EV_S_CRTM_CONTENTS" },
        { CP_EV_S_CRTM_VERSION, "EV_S_CRTM_VERSION" },
        { CP_EV_CPU_MICROCODE, "EV_CPU_MICROCODE" },
        { CP_EV_PLATFORM_CONFIG_FLAGS, "EV_PLATFORM_CONFIG_FLAGS" },
        { CP_EV_TABLE_OF_DEVICES, "EV_TABLE_OF_DEVICES" },
        { CP_EV_COMPACT_HASH, "EV_COMPACT_HASH" },
        { CP_EV_IPL, "EV_IPL" },
        { CP_EV_IPL_PARTITION_DATA, "EV_IPL_PARTITION_DATA" },
        { CP_EV_NONHOST_CODE, "EV_NONHOST_CODE" },
        { CP_EV_NONHOST_CONFIG, "EV_NONHOST_CONFIG" },
        { CP_EV_NONHOST_INFO, "EV_NONHOST_INFO" },
        { CP_EV_OMIT_BOOT_DEVICE_EVENTS, "EV_OMIT_BOOT_DEVICE_EVENTS" },
        { CP_EV_POST_CODE2, "EV_POST_CODE2" },
        { CP_EV_EFI_EVENT_BASE, "EV_EFI_EVENT_BASE" },
        { CP_EV_EFI_VARIABLE_DRIVER_CONFIG, "EV_EFI_VARIABLE_DRIVER_CONFIG" },
        { CP_EV_EFI_VARIABLE_BOOT, "EV_EFI_VARIABLE_BOOT" },
        { CP_EV_EFI_BOOT_SERVICES_APPLICATION, "EV_EFI_BOOT_SERVICES_APPLICATION" },
        { CP_EV_EFI_BOOT_SERVICES_DRIVER, "EV_EFI_BOOT_SERVICES_DRIVER" },
        { CP_EV_EFI_RUNTIME_SERVICES_DRIVER, "EV_EFI_RUNTIME_SERVICES_DRIVER" },
        { CP_EV_EFI_GPT_EVENT, "EV_EFI_GPT_EVENT" },
        { CP_EV_EFI_ACTION, "EV_EFI_ACTION" },
        { CP_EV_EFI_PLATFORM_FIRMWARE_BLOB, "EV_EFI_PLATFORM_FIRMWARE_BLOB" },
        { CP_EV_EFI_HANDOFF_TABLES, "EV_EFI_HANDOFF_TABLES" },
        { CP_EV_EFI_PLATFORM_FIRMWARE_BLOB2, "EV_EFI_PLATFORM_FIRMWARE_BLOB2" },
        { CP_EV_EFI_HANDOFF_TABLES2, "EV_EFI_HANDOFF_TABLES2" },
        { CP_EV_EFI_VARIABLE_BOOT2, "EV_EFI_VARIABLE_BOOT2" },
        { CP_EV_EFI_GPT_EVENT2, "EV_EFI_GPT_EVENT2" },
        { CP_EV_EFI_HCRTM_EVENT, "EV_EFI_HCRTM_EVENT" },
        { CP_EV_EFI_VARIABLE_AUTHORITY, "EV_EFI_VARIABLE_AUTHORITY" },
        { CP_EV_EFI_SPDM_FIRMWARE_BLOB, "EV_EFI_SPDM_FIRMWARE_BLOB" },
        { CP_EV_EFI_SPDM_FIRMWARE_CONFIG, "EV_EFI_SPDM_FIRMWARE_CONFIG" },
        { CP_EV_EFI_SPDM_DEVICE_POLICY, "EV_EFI_SPDM_DEVICE_POLICY" },
        { CP_EV_EFI_SPDM_DEVICE_AUTHORITY, "EV_EFI_SPDM_DEVICE_AUTHORITY" },
};

const char *cp_tcg_event_type_name(uint32_t type) {
        for (size_t i = 0; i < CP_ELEMENTSOF(type_names); i++)
                if (type_names[i].type == type)
                        return type_names[i].name;
        return NULL;
}

static const EVP_MD *bank_md(uint16_t alg) {
        switch (alg) {
        case CP_TPM_ALG_SHA1:
                return EVP_sha1();
        case CP_TPM_ALG_SHA256:
                return EVP_sha256();
        case CP_TPM_ALG_SHA384:
                return EVP_sha384();
        case CP_TPM_ALG_SHA512:
                return EVP_sha512();
        default:
                return NULL;
        }
}

static const char *bank_name(uint16_t alg) {
        switch (alg) {
        case CP_TPM_ALG_SHA1:
                return "sha1";
        case CP_TPM_ALG_SHA256:
                return "sha256";
        case CP_TPM_ALG_SHA384:
                return "sha384";
        case CP_TPM_ALG_SHA512:
                return "sha512";
        default:
                return NULL;
        }
}

static int digest(uint16_t alg, const void *a, size_t alen, const void *b, size_t blen, uint8_t *out) {
        const EVP_MD *md = bank_md(alg);
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        int ok = md && ctx && EVP_DigestInit_ex(ctx, md, NULL) == 1 && EVP_DigestUpdate(ctx, a, alen) == 1 &&
                 (!blen || EVP_DigestUpdate(ctx, b, blen) == 1) && EVP_DigestFinal_ex(ctx, out, NULL) == 1;
        EVP_MD_CTX_free(ctx);
        return ok ? 0 : CP_ERROR(CP_ECRYPTO, "digest 0x%04x failed", alg);
}

/* ---- parser ------------------------------------------------------------------ */

static int parse_spec_id(cp_cursor *c, cp_tcg_spec_id *spec, unsigned flags) {
        uint32_t pcr, type, size, n;
        uint8_t sig[16], vlen;
        cp_cursor s;
        int r;

        if ((r = cp_cursor_le32(c, &pcr)) < 0 || (r = cp_cursor_le32(c, &type)) < 0)
                return r;
        if ((pcr != 0 && !(pcr == 1 && (flags & CP_TCG_PARSE_CCEL))) || type != CP_EV_NO_ACTION)
                return CP_ERROR(CP_EFORMAT, "first event is PCR %u type 0x%08x, not the Spec ID event (PCR 0 EV_NO_ACTION)",
                                pcr, type);
        if ((r = cp_cursor_zero(c, 20, "Spec ID event digest")) < 0 || (r = cp_cursor_le32(c, &size)) < 0 ||
            (r = cp_cursor_sub(c, size, &s)) < 0)
                return r;
        if ((r = cp_cursor_bytes(&s, sizeof(sig), sig)) < 0)
                return r;
        if (memcmp(sig, spec_id_sig, sizeof(sig)) != 0) {
                if (memcmp(sig, spec_id_sig, 13) == 0)
                        return CP_ERROR(CP_EVERSION, "Spec ID event signature \"%.15s\": not a crypto-agile log",
                                        (const char *) sig);
                return CP_ERROR(CP_EFORMAT, "first event is not a \"Spec ID Event03\" event");
        }
        if ((r = cp_cursor_le32(&s, &spec->platform_class)) < 0 || (r = cp_cursor_u8(&s, &spec->version_minor)) < 0 ||
            (r = cp_cursor_u8(&s, &spec->version_major)) < 0 || (r = cp_cursor_u8(&s, &spec->errata)) < 0 ||
            (r = cp_cursor_u8(&s, &spec->uintn_size)) < 0 || (r = cp_cursor_le32(&s, &n)) < 0)
                return r;
        if (spec->version_major != 2 || spec->version_minor != 0)
                return CP_ERROR(CP_EVERSION, "Spec ID version %u.%u, not 2.0", spec->version_major, spec->version_minor);
        if (spec->uintn_size != 1 && spec->uintn_size != 2)
                return CP_ERROR(CP_EFORMAT, "Spec ID uintnSize %u, not 1 or 2", spec->uintn_size);
        if (n == 0)
                return CP_ERROR(CP_EFORMAT, "Spec ID event declares no algorithms");
        if (n > CP_TCG_MAX_BANKS)
                return CP_ERROR(CP_ETOOBIG, "Spec ID event declares %u algorithms (at most %u)", n, CP_TCG_MAX_BANKS);
        for (uint32_t i = 0; i < n; i++) {
                cp_tcg_alg *a = &spec->algs[i];
                if ((r = cp_cursor_le16(&s, &a->alg)) < 0 || (r = cp_cursor_le16(&s, &a->size)) < 0)
                        return r;
                size_t want = cp_tpm_hash_size(a->alg);
                if (want ? a->size != want : (a->size == 0 || a->size > CP_TCG_DIGEST_MAX))
                        return CP_ERROR(CP_EFORMAT, "Spec ID: algorithm 0x%04x with digest size %u", a->alg, a->size);
                for (uint32_t k = 0; k < i; k++)
                        if (spec->algs[k].alg == a->alg)
                                return CP_ERROR(CP_EFORMAT, "Spec ID: algorithm 0x%04x declared twice", a->alg);
        }
        spec->n_algs = n;
        if ((r = cp_cursor_u8(&s, &vlen)) < 0 || (r = cp_cursor_ptr(&s, vlen, &spec->vendor_info)) < 0)
                return r;
        spec->vendor_info_len = vlen;
        return cp_cursor_end(&s, "Spec ID event");
}

static int parse_event(cp_cursor *c, const cp_tcg_spec_id *spec, cp_tcg_event *e) {
        uint32_t count, size;
        uint32_t seen = 0;
        int r;

        e->offset = cp_cursor_offset(c);
        if ((r = cp_cursor_le32(c, &e->pcr)) < 0 || (r = cp_cursor_le32(c, &e->type)) < 0 ||
            (r = cp_cursor_le32(c, &count)) < 0)
                return r;
        if (e->pcr >= CP_TCG_PCR_COUNT)
                return CP_ERROR(CP_EFORMAT, "event at offset %zu: PCR index %u", e->offset, e->pcr);
        if (count != spec->n_algs)
                return CP_ERROR(CP_EFORMAT, "event at offset %zu: %u digests, the Spec ID declares %zu", e->offset, count,
                                spec->n_algs);
        for (uint32_t i = 0; i < count; i++) {
                uint16_t alg;
                size_t k;
                if ((r = cp_cursor_le16(c, &alg)) < 0)
                        return r;
                for (k = 0; k < spec->n_algs; k++)
                        if (spec->algs[k].alg == alg)
                                break;
                if (k == spec->n_algs)
                        return CP_ERROR(CP_EFORMAT, "event at offset %zu: digest of undeclared algorithm 0x%04x",
                                        e->offset, alg);
                if (seen & (1u << k))
                        return CP_ERROR(CP_EFORMAT, "event at offset %zu: two digests of algorithm 0x%04x", e->offset,
                                        alg);
                seen |= 1u << k;
                e->digests[i].alg = alg;
                e->digests[i].len = spec->algs[k].size;
                if ((r = cp_cursor_ptr(c, spec->algs[k].size, &e->digests[i].digest)) < 0)
                        return r;
        }
        e->n_digests = count;
        if ((r = cp_cursor_le32(c, &size)) < 0 || (r = cp_cursor_ptr(c, size, &e->data)) < 0)
                return r;
        e->data_len = size;
        return 0;
}

/* At an event boundary: is the rest all 0xFF or all 0x00 (a fixed-size
 * log area's fill, as the CCEL's LAML region)? */
static bool only_fill(const cp_cursor *c) {
        size_t n = 0;
        const uint8_t *p = cp_cursor_view(c, &n);
        if (n == 0 || (p[0] != 0xff && p[0] != 0x00))
                return false;
        for (size_t i = 1; i < n; i++)
                if (p[i] != p[0])
                        return false;
        return true;
}

int cp_tcg_eventlog_parse(const uint8_t *data, size_t len, cp_tcg_eventlog **ret) {
        return cp_tcg_eventlog_parse_ex(data, len, 0, ret);
}

int cp_tcg_eventlog_parse_ex(const uint8_t *data, size_t len, unsigned flags, cp_tcg_eventlog **ret) {
        cp_cursor c = cp_cursor_make(data, len);
        cp_tcg_eventlog *l;
        int r;

        if (!data || !ret)
                return CP_ERROR(CP_EINVAL, "cp_tcg_eventlog_parse: bad arguments");
        if (len > CP_MAX_TCG_EVENTLOG)
                return CP_ERROR(CP_ETOOBIG, "event log of %zu bytes (at most %u)", len, CP_MAX_TCG_EVENTLOG);
        l = calloc(1, sizeof(*l));
        if (!l)
                return cp_error_oom();
        if ((r = parse_spec_id(&c, &l->spec, flags)) < 0)
                goto fail;
        while (cp_cursor_remaining(&c) > 0) {
                if ((flags & CP_TCG_PARSE_PADDED) && only_fill(&c)) {
                        l->padding = cp_cursor_remaining(&c);
                        break;
                }
                if (l->n == CP_MAX_TCG_EVENTS) {
                        r = CP_ERROR(CP_ETOOBIG, "more than %u events", CP_MAX_TCG_EVENTS);
                        goto fail;
                }
                if (l->n == l->cap) {
                        size_t cap = l->cap ? 2 * l->cap : 64;
                        cp_tcg_event *v = realloc(l->ev, cap * sizeof(*v));
                        if (!v) {
                                r = cp_error_oom();
                                goto fail;
                        }
                        l->ev = v;
                        l->cap = cap;
                }
                cp_tcg_event *e = &l->ev[l->n];
                memset(e, 0, sizeof(*e));
                if ((r = parse_event(&c, &l->spec, e)) < 0)
                        goto fail;
                l->n++;
        }
        *ret = l;
        return 0;
fail:
        cp_tcg_eventlog_free(l);
        return r;
}

cp_tcg_eventlog *cp_tcg_eventlog_free(cp_tcg_eventlog *l) {
        if (!l)
                return NULL;
        free(l->ev);
        free(l);
        return NULL;
}

const cp_tcg_spec_id *cp_tcg_eventlog_spec_id(const cp_tcg_eventlog *l) {
        return l ? &l->spec : NULL;
}

size_t cp_tcg_eventlog_padding(const cp_tcg_eventlog *l) {
        return l ? l->padding : 0;
}

size_t cp_tcg_eventlog_count(const cp_tcg_eventlog *l) {
        return l ? l->n : 0;
}

const cp_tcg_event *cp_tcg_eventlog_get(const cp_tcg_eventlog *l, size_t i) {
        return l && i < l->n ? &l->ev[i] : NULL;
}

const uint8_t *cp_tcg_event_digest(const cp_tcg_event *e, uint16_t alg) {
        for (size_t i = 0; e && i < e->n_digests; i++)
                if (e->digests[i].alg == alg)
                        return e->digests[i].digest;
        return NULL;
}

/* ---- replay ------------------------------------------------------------------ */

static bool is_startup_locality(const cp_tcg_event *e) {
        return e->type == CP_EV_NO_ACTION && e->data_len >= sizeof(startup_locality_sig) &&
               memcmp(e->data, startup_locality_sig, sizeof(startup_locality_sig)) == 0;
}

int cp_tcg_eventlog_replay(const cp_tcg_eventlog *l, uint16_t alg, cp_tcg_pcrs *ret) {
        cp_tcg_pcrs p;
        bool have = false, locality_seen = false;
        int r;

        if (!l || !ret)
                return CP_ERROR(CP_EINVAL, "cp_tcg_eventlog_replay: bad arguments");
        if (!bank_md(alg))
                return CP_ERROR(CP_EUNSUPPORTED, "cannot replay bank 0x%04x", alg);
        for (size_t i = 0; i < l->spec.n_algs; i++)
                have |= l->spec.algs[i].alg == alg;
        if (!have)
                return CP_ERROR(CP_ENOTFOUND, "event log has no bank 0x%04x", alg);
        memset(&p, 0, sizeof(p));
        p.alg = alg;
        p.digest_len = cp_tpm_hash_size(alg);
        for (size_t i = 0; i < l->n; i++) {
                const cp_tcg_event *e = &l->ev[i];
                if (is_startup_locality(e)) {
                        uint8_t loc;
                        cp_cursor c = cp_cursor_make(e->data, e->data_len);
                        if (e->pcr != 0 || locality_seen || (p.touched & 1u))
                                return CP_ERROR(CP_EFORMAT, "StartupLocality event at offset %zu is misplaced", e->offset);
                        if ((r = cp_cursor_skip(&c, sizeof(startup_locality_sig))) < 0 ||
                            (r = cp_cursor_u8(&c, &loc)) < 0 || (r = cp_cursor_end(&c, "StartupLocality event")) < 0)
                                return r;
                        locality_seen = true;
                        p.startup_locality = loc;
                        p.values[0][p.digest_len - 1] = loc;
                        p.touched |= 1u;
                        continue;
                }
                if (e->type == CP_EV_NO_ACTION)
                        continue;
                const uint8_t *d = cp_tcg_event_digest(e, alg);
                uint8_t out[CP_TCG_DIGEST_MAX];
                if ((r = digest(alg, p.values[e->pcr], p.digest_len, d, p.digest_len, out)) < 0)
                        return r;
                memcpy(p.values[e->pcr], out, p.digest_len);
                p.touched |= 1u << e->pcr;
        }
        *ret = p;
        return 0;
}

int cp_tcg_eventlog_check_pcrs(const cp_tcg_eventlog *l, const cp_tpm_pcr_bank *bank, uint32_t pcr_mask,
                               uint32_t *ret_checked) {
        cp_tcg_pcrs p;
        uint32_t checked = 0;
        int r;

        if (!l || !bank)
                return CP_ERROR(CP_EINVAL, "cp_tcg_eventlog_check_pcrs: bad arguments");
        if ((r = cp_tcg_eventlog_replay(l, bank->hash_alg, &p)) < 0)
                return r;
        for (unsigned i = 0; i < CP_TCG_PCR_COUNT; i++) {
                if (!(pcr_mask & p.touched & (1u << i)))
                        continue;
                if (!bank->values[i])
                        return CP_ERROR(CP_EINVAL, "no value supplied for PCR %u", i);
                if (!cp_ct_eq(p.values[i], bank->values[i], p.digest_len))
                        return CP_ERROR(CP_EBINDING, "event log replay of PCR %u (%s) differs from the quoted value", i,
                                        bank_name(bank->hash_alg));
                checked |= 1u << i;
        }
        if (!checked)
                return CP_ERROR(CP_ENOTFOUND, "the event log extends none of the quoted PCRs");
        if (ret_checked)
                *ret_checked = checked;
        return 0;
}

/* ---- claims ------------------------------------------------------------------ */

/* Printable ASCII of s[0:n] (stops at NUL), at most CP_MAX_TCG_EVENT_TEXT
 * characters; UCS-2LE text (every odd byte 0) when ucs2. */
static json_t *text_value(const uint8_t *s, size_t n, bool ucs2) {
        char buf[CP_MAX_TCG_EVENT_TEXT + 1];
        size_t w = 0, step = ucs2 ? 2 : 1;
        for (size_t i = 0; i + step <= n && w < CP_MAX_TCG_EVENT_TEXT; i += step) {
                uint8_t ch = s[i];
                if (ucs2 && s[i + 1] != 0)
                        ch = '?';
                if (ch == 0)
                        break;
                buf[w++] = (ch >= 0x20 && ch < 0x7f) ? (char) ch : '?';
        }
        buf[w] = '\0';
        return json_string(buf);
}

static bool looks_ucs2(const uint8_t *s, size_t n) {
        if (n < 2 || n % 2)
                return false;
        for (size_t i = 1; i < n; i += 2)
                if (s[i] != 0)
                        return false;
        return true;
}

static int obj_set(json_t *o, const char *k, json_t *v) {
        return json_object_set_new(o, k, v) < 0 ? cp_error_oom() : 0;
}

static json_t *guid_value(const uint8_t g[16]) {
        char buf[40];
        uint32_t d1 = (uint32_t) g[0] | (uint32_t) g[1] << 8 | (uint32_t) g[2] << 16 | (uint32_t) g[3] << 24;
        unsigned d2 = (unsigned) g[4] | (unsigned) g[5] << 8, d3 = (unsigned) g[6] | (unsigned) g[7] << 8;
        snprintf(buf, sizeof(buf), "%08x-%04x-%04x-%02x%02x-%02x%02x%02x%02x%02x%02x", d1, d2, d3, g[8], g[9], g[10],
                 g[11], g[12], g[13], g[14], g[15]);
        return json_string(buf);
}

static int cursor_uintn(cp_cursor *c, uint8_t uintn_size, uint64_t *ret) {
        uint32_t v32;
        int r;
        if (uintn_size == 2)
                return cp_cursor_le64(c, ret);
        if ((r = cp_cursor_le32(c, &v32)) < 0)
                return r;
        *ret = v32;
        return 0;
}

/* Best-effort decoding of well-known event data into o; <0 if malformed. */
static int summarize(const cp_tcg_spec_id *spec, const cp_tcg_event *e, json_t *o, bool *ret_secure_boot,
                     int *ret_sb_value) {
        cp_cursor c = cp_cursor_make(e->data, e->data_len);
        uint64_t a, b, d, n;
        uint32_t t32, s32;
        uint8_t u8, guid[16];
        const uint8_t *p;
        int r;

        switch (e->type) {
        case CP_EV_NO_ACTION: /* not extended: StartupLocality, SP800-155, NvIndexInstance, ... */
                if (is_startup_locality(e) && e->data_len == sizeof(startup_locality_sig) + 1)
                        return obj_set(o, "startupLocality", json_integer(e->data[sizeof(startup_locality_sig)]));
                return obj_set(o, "signature", text_value(e->data, e->data_len < 16 ? e->data_len : 16, false));
        case CP_EV_SEPARATOR:
                if (e->data_len != 4)
                        return -1;
                return obj_set(o, "value", json_integer((json_int_t) ((uint32_t) e->data[0] | (uint32_t) e->data[1] << 8 |
                                                                        (uint32_t) e->data[2] << 16 |
                                                                        (uint32_t) e->data[3] << 24)));
        case CP_EV_S_CRTM_VERSION:
        case CP_EV_POST_CODE:
        case CP_EV_IPL:
        case CP_EV_EFI_ACTION:
        case CP_EV_ACTION:
        case CP_EV_COMPACT_HASH:
        case CP_EV_OMIT_BOOT_DEVICE_EVENTS:
                if (e->type == CP_EV_POST_CODE && e->data_len == 16) { /* UEFI_PLATFORM_FIRMWARE_BLOB */
                        if (cp_cursor_le64(&c, &a) < 0 || cp_cursor_le64(&c, &b) < 0)
                                return -1;
                        return obj_set(o, "base", json_integer((json_int_t) (a & INT64_MAX))) < 0 ? -1
                               : obj_set(o, "length", json_integer((json_int_t) (b & INT64_MAX)));
                }
                return obj_set(o, "text", text_value(e->data, e->data_len, looks_ucs2(e->data, e->data_len)));
        case CP_EV_EVENT_TAG:
                if (cp_cursor_le32(&c, &t32) < 0 || cp_cursor_le32(&c, &s32) < 0 || cp_cursor_skip(&c, s32) < 0 ||
                    cp_cursor_end(&c, "tagged event") < 0)
                        return -1;
                if ((r = obj_set(o, "tagId", json_integer(t32))) < 0)
                        return r;
                return obj_set(o, "tagDataSize", json_integer(s32));
        case CP_EV_EFI_VARIABLE_DRIVER_CONFIG:
        case CP_EV_EFI_VARIABLE_BOOT:
        case CP_EV_EFI_VARIABLE_BOOT2:
        case CP_EV_EFI_VARIABLE_AUTHORITY: {
                /* UEFI_VARIABLE_DATA { GUID, u64 UnicodeNameLength, u64 VariableDataLength, CHAR16 name[], data[] } */
                if (cp_cursor_bytes(&c, 16, guid) < 0 || cp_cursor_le64(&c, &n) < 0 || cp_cursor_le64(&c, &d) < 0 ||
                    n > CP_MAX_TCG_EVENT_TEXT || cp_cursor_ptr(&c, (size_t) n * 2, &p) < 0 ||
                    d > cp_cursor_remaining(&c))
                        return -1;
                json_t *name = text_value(p, (size_t) n * 2, true);
                if ((r = obj_set(o, "guid", guid_value(guid))) < 0 || (r = obj_set(o, "name", name)) < 0 ||
                    (r = obj_set(o, "dataSize", json_integer((json_int_t) d))) < 0)
                        return r;
                /* EFI_GLOBAL_VARIABLE 8be4df61-93ca-11d2-aa0d-00e098032b8c SecureBoot */
                static const uint8_t global[16] = { 0x61, 0xdf, 0xe4, 0x8b, 0xca, 0x93, 0xd2, 0x11,
                                                    0xaa, 0x0d, 0x00, 0xe0, 0x98, 0x03, 0x2b, 0x8c };
                if (e->type == CP_EV_EFI_VARIABLE_DRIVER_CONFIG && e->pcr == 7 && memcmp(guid, global, 16) == 0 &&
                    strcmp(json_string_value(name), "SecureBoot") == 0 && d == 1 && cp_cursor_u8(&c, &u8) == 0) {
                        *ret_secure_boot = true;
                        *ret_sb_value = u8;
                        return obj_set(o, "value", json_integer(u8));
                }
                return 0;
        }
        case CP_EV_EFI_BOOT_SERVICES_APPLICATION:
        case CP_EV_EFI_BOOT_SERVICES_DRIVER:
        case CP_EV_EFI_RUNTIME_SERVICES_DRIVER:
                /* UEFI_IMAGE_LOAD_EVENT { u64 location, UINTN length, UINTN linkTimeAddress, UINTN devicePathLength, path } */
                if (cp_cursor_le64(&c, &a) < 0 || cursor_uintn(&c, spec->uintn_size, &b) < 0 ||
                    cursor_uintn(&c, spec->uintn_size, &d) < 0 || cursor_uintn(&c, spec->uintn_size, &n) < 0 ||
                    n != cp_cursor_remaining(&c))
                        return -1;
                if ((r = obj_set(o, "imageLength", json_integer((json_int_t) (b & INT64_MAX)))) < 0)
                        return r;
                return n ? obj_set(o, "devicePathLength", json_integer((json_int_t) n)) : 0;
        case CP_EV_EFI_PLATFORM_FIRMWARE_BLOB:
        case CP_EV_EFI_PLATFORM_FIRMWARE_BLOB2:
                if (e->type == CP_EV_EFI_PLATFORM_FIRMWARE_BLOB2) {
                        if (cp_cursor_u8(&c, &u8) < 0 || cp_cursor_ptr(&c, u8, &p) < 0)
                                return -1;
                        if ((r = obj_set(o, "description", text_value(p, u8, false))) < 0)
                                return r;
                }
                if (cp_cursor_le64(&c, &a) < 0 || cp_cursor_le64(&c, &b) < 0 || cp_cursor_end(&c, "blob") < 0)
                        return -1;
                if ((r = obj_set(o, "base", json_integer((json_int_t) (a & INT64_MAX)))) < 0)
                        return r;
                return obj_set(o, "length", json_integer((json_int_t) (b & INT64_MAX)));
        case CP_EV_EFI_HANDOFF_TABLES:
        case CP_EV_EFI_HANDOFF_TABLES2:
                if (e->type == CP_EV_EFI_HANDOFF_TABLES2) {
                        if (cp_cursor_u8(&c, &u8) < 0 || cp_cursor_ptr(&c, u8, &p) < 0)
                                return -1;
                        if ((r = obj_set(o, "description", text_value(p, u8, false))) < 0)
                                return r;
                }
                /* { UINTN count, count x { GUID, VOID * } } */
                if (cursor_uintn(&c, spec->uintn_size, &n) < 0 ||
                    n > cp_cursor_remaining(&c) / (16u + (spec->uintn_size == 2 ? 8u : 4u)))
                        return -1;
                return obj_set(o, "tables", json_integer((json_int_t) n));
        case CP_EV_EFI_GPT_EVENT:
                /* UEFI_GPT_DATA { EFI_PARTITION_TABLE_HEADER (92 bytes), UINTN count, partitions } */
                if (cp_cursor_skip(&c, 92) < 0 || cursor_uintn(&c, spec->uintn_size, &n) < 0 ||
                    n > cp_cursor_remaining(&c))
                        return -1;
                return obj_set(o, "partitions", json_integer((json_int_t) n));
        default:
                return 0;
        }
}

/* Does the event's shown digest cover its data (H(data), or H(data) without
 * a trailing NUL)? */
static bool data_verified(const cp_tcg_event *e, const cp_tcg_digest *dg) {
        uint8_t h[CP_TCG_DIGEST_MAX];
        if (!bank_md(dg->alg))
                return false;
        if (digest(dg->alg, e->data, e->data_len, NULL, 0, h) == 0 && cp_ct_eq(h, dg->digest, dg->len))
                return true;
        cp_error_clear();
        if (e->data_len > 0 && e->data[e->data_len - 1] == 0 &&
            digest(dg->alg, e->data, e->data_len - 1, NULL, 0, h) == 0 && cp_ct_eq(h, dg->digest, dg->len))
                return true;
        cp_error_clear();
        return false;
}

/* Is the shown text exactly the event data (less one trailing NUL)? */
static bool text_exact(const cp_tcg_event *e, const char *t) {
        size_t n = e->data_len, tl = strlen(t);
        if (n > 0 && e->data[n - 1] == 0)
                n--;
        return n == tl && memcmp(e->data, t, n) == 0;
}

int cp_tcg_eventlog_claims(const cp_tcg_eventlog *l, uint32_t pcr_mask, json_t **ret) {
        _cleanup_(json_decrefp) json_t *root = NULL;
        json_t *banks, *replayed, *pcrs, *seps;
        size_t unverified = 0;
        uint32_t present = 0;
        bool sb_seen = false;
        int sb_value = 0, r;

        if (!l || !ret)
                return CP_ERROR(CP_EINVAL, "cp_tcg_eventlog_claims: bad arguments");
        root = json_object();
        if (!root || obj_set(root, "banks", banks = json_array()) < 0 ||
            obj_set(root, "replayedPcrs", replayed = json_array()) < 0 || obj_set(root, "pcrs", pcrs = json_object()) < 0 ||
            obj_set(root, "separators", seps = json_array()) < 0 || !banks || !replayed || !pcrs || !seps)
                return cp_error_oom();
        for (size_t i = 0; i < l->spec.n_algs; i++) {
                const char *bn = bank_name(l->spec.algs[i].alg);
                char hex[8];
                if (!bn) {
                        snprintf(hex, sizeof(hex), "0x%04x", l->spec.algs[i].alg);
                        bn = hex;
                }
                if (json_array_append_new(banks, json_string(bn)) < 0)
                        return cp_error_oom();
        }
        for (size_t i = 0; i < l->n; i++) {
                const cp_tcg_event *e = &l->ev[i];
                char key[4], typebuf[16];
                if (!(pcr_mask & (1u << e->pcr))) {
                        unverified++;
                        continue;
                }
                present |= 1u << e->pcr;
                const cp_tcg_digest *dg = &e->digests[0];
                for (size_t k = 0; k < e->n_digests; k++)
                        if (e->digests[k].alg == CP_TPM_ALG_SHA256)
                                dg = &e->digests[k];
                /* the usual separator (00000000, digest of exactly that) is listed compactly */
                static const uint8_t zero4[4];
                if (e->type == CP_EV_SEPARATOR && e->data_len == 4 && memcmp(e->data, zero4, 4) == 0 &&
                    data_verified(e, dg)) {
                        if (json_array_append_new(seps, json_integer(e->pcr)) < 0)
                                return cp_error_oom();
                        continue;
                }
                snprintf(key, sizeof(key), "%u", e->pcr);
                json_t *list = json_object_get(pcrs, key);
                if (!list && obj_set(pcrs, key, list = json_array()) < 0)
                        return cp_error_oom();
                const char *tn = cp_tcg_event_type_name(e->type);
                if (!tn) {
                        snprintf(typebuf, sizeof(typebuf), "0x%08x", e->type);
                        tn = typebuf;
                }
                json_t *ev = json_pack("{s:s}", "type", tn);
                if (!ev || json_array_append_new(list, ev) < 0)
                        return cp_error_oom();
                if (summarize(&l->spec, e, ev, &sb_seen, &sb_value) < 0) {
                        if (obj_set(ev, "malformed", json_true()) < 0)
                                return cp_error_oom();
                        cp_error_clear();
                }
                bool show_digest = e->type != CP_EV_NO_ACTION; /* its digests are zero */
                json_t *text = json_object_get(ev, "text");
                if (text) {
                        bool v = data_verified(e, dg);
                        const char *t = json_string_value(text);
                        /* the text is the measured data itself: its digest says nothing more
                         * (a text without "digest" is measured; with one, dataVerified says) */
                        show_digest = !(v && text_exact(e, t));
                        if (show_digest && obj_set(ev, "dataVerified", json_boolean(v)) < 0)
                                return cp_error_oom();
                        if (e->type == CP_EV_IPL && v && strncmp(t, "kernel_cmdline: ", 16) == 0 &&
                            (r = obj_set(root, "kernelCmdline", json_string(t + 16))) < 0)
                                return r;
                }
                char hex[2 * CP_TCG_DIGEST_MAX + 1];
                cp_hex_encode(dg->digest, dg->len, hex);
                if ((show_digest && obj_set(ev, "digest", json_string(hex)) < 0) ||
                    (json_object_size(ev) == 1 && obj_set(ev, "size", json_integer((json_int_t) e->data_len)) < 0))
                        return cp_error_oom();
        }
        for (unsigned i = 0; i < CP_TCG_PCR_COUNT; i++)
                if ((present & (1u << i)) && json_array_append_new(replayed, json_integer(i)) < 0)
                        return cp_error_oom();
        if (obj_set(root, "eventCount", json_integer((json_int_t) l->n)) < 0 ||
            obj_set(root, "unverifiedEvents", json_integer((json_int_t) unverified)) < 0 ||
            (sb_seen && obj_set(root, "secureBoot", json_boolean(sb_value == 1)) < 0))
                return cp_error_oom();
        *ret = TAKE_PTR(root);
        return 0;
}

/* ---- writer ------------------------------------------------------------------ */

struct cp_tcg_eventlog_builder {
        size_t n_algs;
        uint16_t algs[CP_TCG_MAX_BANKS];
        uint8_t pcrs[CP_TCG_MAX_BANKS][CP_TCG_PCR_COUNT][CP_TCG_DIGEST_MAX];
        bool pcr0_measured;
        cp_writer w; /* the log so far */
};

int cp_tcg_eventlog_builder_new(const uint16_t *algs, size_t n_algs, cp_tcg_eventlog_builder **ret) {
        static const uint8_t zero[20];
        cp_tcg_eventlog_builder *b;
        int r;

        if (!algs || !ret || n_algs == 0 || n_algs > CP_TCG_MAX_BANKS)
                return CP_ERROR(CP_EINVAL, "event log builder needs 1..%u banks", CP_TCG_MAX_BANKS);
        for (size_t i = 0; i < n_algs; i++) {
                if (!bank_md(algs[i]))
                        return CP_ERROR(CP_EUNSUPPORTED, "bank 0x%04x", algs[i]);
                for (size_t k = 0; k < i; k++)
                        if (algs[k] == algs[i])
                                return CP_ERROR(CP_EINVAL, "bank 0x%04x given twice", algs[i]);
        }
        b = calloc(1, sizeof(*b));
        if (!b)
                return cp_error_oom();
        b->w = cp_writer_make_growable(CP_MAX_TCG_EVENTLOG);
        b->n_algs = n_algs;
        memcpy(b->algs, algs, n_algs * sizeof(*algs));
        /* TCG_PCR_EVENT header carrying TCG_EfiSpecIDEvent */
        uint32_t size = 16 + 4 + 4 + 4 + 4 * (uint32_t) n_algs + 1;
        uint8_t ver[4] = { 0 /* minor */, 2 /* major */, 0 /* errata */, 2 /* uintnSize: 64-bit */ };
        cp_writer *w = &b->w;
        if ((r = cp_writer_le32(w, 0)) < 0 || (r = cp_writer_le32(w, CP_EV_NO_ACTION)) < 0 ||
            (r = cp_writer_bytes(w, zero, 20)) < 0 || (r = cp_writer_le32(w, size)) < 0 ||
            (r = cp_writer_bytes(w, spec_id_sig, 16)) < 0 || (r = cp_writer_le32(w, 0)) < 0 ||
            (r = cp_writer_bytes(w, ver, 4)) < 0 || (r = cp_writer_le32(w, (uint32_t) n_algs)) < 0)
                goto fail;
        for (size_t i = 0; i < n_algs; i++)
                if ((r = cp_writer_le16(w, algs[i])) < 0 ||
                    (r = cp_writer_le16(w, (uint16_t) cp_tpm_hash_size(algs[i]))) < 0)
                        goto fail;
        if ((r = cp_writer_bytes(w, zero, 1)) < 0) /* vendorInfoSize */
                goto fail;
        *ret = b;
        return 0;
fail:
        cp_tcg_eventlog_builder_free(b);
        return r;
}

cp_tcg_eventlog_builder *cp_tcg_eventlog_builder_free(cp_tcg_eventlog_builder *b) {
        if (!b)
                return NULL;
        cp_writer_done(&b->w);
        free(b);
        return NULL;
}

static int append(cp_tcg_eventlog_builder *b, uint32_t pcr, uint32_t type, const cp_tcg_digest *dg, size_t n,
                  const void *event, size_t event_len) {
        cp_writer *w = &b->w;
        size_t mark = cp_writer_offset(w);
        int r;
        if (event_len > UINT32_MAX)
                return CP_ERROR(CP_ETOOBIG, "event data of %zu bytes", event_len);
        if ((r = cp_writer_le32(w, pcr)) < 0 || (r = cp_writer_le32(w, type)) < 0 ||
            (r = cp_writer_le32(w, (uint32_t) n)) < 0)
                goto fail;
        for (size_t i = 0; i < n; i++)
                if ((r = cp_writer_le16(w, dg[i].alg)) < 0 || (r = cp_writer_bytes(w, dg[i].digest, dg[i].len)) < 0)
                        goto fail;
        if ((r = cp_writer_le32(w, (uint32_t) event_len)) < 0 || (r = cp_writer_bytes(w, event, event_len)) < 0)
                goto fail;
        return 0;
fail:
        cp_writer_rewind(w, mark);
        return r;
}

/* Extend the builder's PCRs (after the event was appended). */
static int extend(cp_tcg_eventlog_builder *b, uint32_t pcr, const cp_tcg_digest *dg, size_t n) {
        for (size_t i = 0; i < n; i++)
                for (size_t k = 0; k < b->n_algs; k++) {
                        if (b->algs[k] != dg[i].alg)
                                continue;
                        uint8_t out[CP_TCG_DIGEST_MAX];
                        int r = digest(dg[i].alg, b->pcrs[k][pcr], dg[i].len, dg[i].digest, dg[i].len, out);
                        if (r < 0)
                                return r;
                        memcpy(b->pcrs[k][pcr], out, dg[i].len);
                }
        if (pcr == 0)
                b->pcr0_measured = true;
        return 0;
}

int cp_tcg_eventlog_builder_startup_locality(cp_tcg_eventlog_builder *b, uint8_t locality) {
        static const uint8_t zero[CP_TCG_DIGEST_MAX];
        cp_tcg_digest dg[CP_TCG_MAX_BANKS];
        uint8_t data[17];
        int r;
        if (!b)
                return CP_ERROR(CP_EINVAL, "no builder");
        if (b->pcr0_measured)
                return CP_ERROR(CP_EBADSEQ, "StartupLocality after a PCR 0 measurement");
        for (size_t i = 0; i < b->n_algs; i++)
                dg[i] = (cp_tcg_digest){ .alg = b->algs[i], .digest = zero, .len = cp_tpm_hash_size(b->algs[i]) };
        memcpy(data, startup_locality_sig, 16);
        data[16] = locality;
        if ((r = append(b, 0, CP_EV_NO_ACTION, dg, b->n_algs, data, sizeof(data))) < 0)
                return r;
        for (size_t k = 0; k < b->n_algs; k++)
                b->pcrs[k][0][cp_tpm_hash_size(b->algs[k]) - 1] = locality;
        b->pcr0_measured = true; /* at most one */
        return 0;
}

int cp_tcg_eventlog_builder_add_digests(cp_tcg_eventlog_builder *b, uint32_t pcr, uint32_t type,
                                        const cp_tcg_digest *digests, size_t n_digests, const void *event,
                                        size_t event_len) {
        uint32_t seen = 0;
        int r;
        if (!b || !digests || (!event && event_len))
                return CP_ERROR(CP_EINVAL, "cp_tcg_eventlog_builder_add_digests: bad arguments");
        if (pcr >= CP_TCG_PCR_COUNT)
                return CP_ERROR(CP_EINVAL, "PCR %u", pcr);
        if (n_digests != b->n_algs)
                return CP_ERROR(CP_EINVAL, "%zu digests for %zu banks", n_digests, b->n_algs);
        for (size_t i = 0; i < n_digests; i++) {
                size_t k;
                for (k = 0; k < b->n_algs; k++)
                        if (b->algs[k] == digests[i].alg)
                                break;
                if (k == b->n_algs || (seen & (1u << k)) || !digests[i].digest ||
                    digests[i].len != cp_tpm_hash_size(digests[i].alg))
                        return CP_ERROR(CP_EINVAL, "digest %zu (algorithm 0x%04x) does not fit the banks", i,
                                        digests[i].alg);
                seen |= 1u << k;
        }
        if ((r = append(b, pcr, type, digests, n_digests, event, event_len)) < 0)
                return r;
        return type == CP_EV_NO_ACTION ? 0 : extend(b, pcr, digests, n_digests);
}

int cp_tcg_eventlog_builder_add(cp_tcg_eventlog_builder *b, uint32_t pcr, uint32_t type, const void *measured,
                                size_t measured_len, const void *event, size_t event_len) {
        static const uint8_t zero[CP_TCG_DIGEST_MAX];
        uint8_t d[CP_TCG_MAX_BANKS][CP_TCG_DIGEST_MAX];
        cp_tcg_digest dg[CP_TCG_MAX_BANKS];
        int r;
        if (!b || (!measured && measured_len) || (!event && event_len))
                return CP_ERROR(CP_EINVAL, "cp_tcg_eventlog_builder_add: bad arguments");
        if (!measured) {
                measured = event;
                measured_len = event_len;
        }
        for (size_t i = 0; i < b->n_algs; i++) {
                size_t hl = cp_tpm_hash_size(b->algs[i]);
                if (type == CP_EV_NO_ACTION)
                        memcpy(d[i], zero, hl);
                else if ((r = digest(b->algs[i], measured ? measured : "", measured_len, NULL, 0, d[i])) < 0)
                        return r;
                dg[i] = (cp_tcg_digest){ .alg = b->algs[i], .digest = d[i], .len = hl };
        }
        return cp_tcg_eventlog_builder_add_digests(b, pcr, type, dg, b->n_algs, event, event_len);
}

int cp_tcg_eventlog_builder_serialize(const cp_tcg_eventlog_builder *b, uint8_t **ret, size_t *ret_len) {
        if (!b || !ret || !ret_len)
                return CP_ERROR(CP_EINVAL, "cp_tcg_eventlog_builder_serialize: bad arguments");
        uint8_t *p = malloc(b->w.off);
        if (!p)
                return cp_error_oom();
        memcpy(p, b->w.p, b->w.off);
        *ret = p;
        *ret_len = b->w.off;
        return 0;
}

int cp_tcg_eventlog_builder_pcr(const cp_tcg_eventlog_builder *b, uint16_t alg, unsigned pcr, uint8_t *ret,
                                size_t ret_size) {
        if (!b || !ret || pcr >= CP_TCG_PCR_COUNT)
                return CP_ERROR(CP_EINVAL, "cp_tcg_eventlog_builder_pcr: bad arguments");
        for (size_t k = 0; k < b->n_algs; k++)
                if (b->algs[k] == alg) {
                        size_t hl = cp_tpm_hash_size(alg);
                        if (ret_size < hl)
                                return CP_ERROR(CP_EINVAL, "buffer of %zu bytes for a %zu-byte PCR", ret_size, hl);
                        memcpy(ret, b->pcrs[k][pcr], hl);
                        return 0;
                }
        return CP_ERROR(CP_ENOTFOUND, "builder has no bank 0x%04x", alg);
}
