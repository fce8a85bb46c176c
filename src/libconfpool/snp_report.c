/* SPDX-License-Identifier: Apache-2.0 */
/*
 * SEV-SNP ATTESTATION_REPORT parsing, TCB_VERSION decoding and processor
 * generation helpers.  Layout: AMD SEV-SNP Firmware ABI spec #56860, table
 * "ATTESTATION_REPORT Structure" (see /work/shared/reference/snp-anchors.md
 * §1a for the per-version offsets).  The report is read sequentially through
 * one cp_cursor over the whole 1184 bytes, so every offset in an error
 * message is an absolute report offset.
 */
#include <string.h>

#include "basic/cursor.h"
#include "confpool/snp_report.h"

/* ---- generations */

static const char *const generation_names[_CP_SNP_GEN_MAX] = {
        [CP_SNP_GEN_UNKNOWN] = "unknown",
        [CP_SNP_GEN_MILAN] = "Milan",
        [CP_SNP_GEN_GENOA] = "Genoa",
        [CP_SNP_GEN_TURIN] = "Turin",
};

const char *cp_snp_generation_name(cp_snp_generation g) {
        if (g <= CP_SNP_GEN_UNKNOWN || g >= _CP_SNP_GEN_MAX)
                return generation_names[CP_SNP_GEN_UNKNOWN];
        return generation_names[g];
}

static bool is_stepping(const char *s) {
        /* A stepping such as "B0", "B1", "A0": 1-4 upper-case letters or digits. */
        size_t n = 0;
        for (; s[n]; n++) {
                if (n >= 4)
                        return false;
                if (!((s[n] >= 'A' && s[n] <= 'Z') || (s[n] >= '0' && s[n] <= '9')))
                        return false;
        }
        return n > 0;
}

cp_snp_generation cp_snp_generation_from_name(const char *name) {
        if (!name)
                return CP_SNP_GEN_UNKNOWN;
        for (int g = CP_SNP_GEN_MILAN; g < _CP_SNP_GEN_MAX; g++) {
                const char *line = generation_names[g];
                size_t n = strlen(line);
                if (strncmp(name, line, n) != 0)
                        continue;
                if (name[n] == '\0')
                        return (cp_snp_generation) g;
                if (name[n] == '-' && is_stepping(name + n + 1))
                        return (cp_snp_generation) g;
                return CP_SNP_GEN_UNKNOWN;
        }
        return CP_SNP_GEN_UNKNOWN;
}

cp_snp_generation cp_snp_generation_from_cpuid(uint8_t family, uint8_t model) {
        if (family == 0x19) {
                if (model <= 0x0f)
                        return CP_SNP_GEN_MILAN;
                if ((model >= 0x10 && model <= 0x1f) || (model >= 0xa0 && model <= 0xaf))
                        return CP_SNP_GEN_GENOA;
        } else if (family == 0x1a) {
                if (model <= 0x11)
                        return CP_SNP_GEN_TURIN;
        }
        return CP_SNP_GEN_UNKNOWN;
}

/* ---- TCB_VERSION */

static uint8_t tcb_byte(uint64_t raw, unsigned i) {
        return (uint8_t) (raw >> (8u * i));
}

int cp_snp_tcb_decode(uint64_t raw, cp_snp_generation gen, cp_snp_tcb *ret) {
        cp_snp_tcb t = { 0 };
        uint64_t reserved;

        if (!ret)
                return CP_ERROR(CP_EINVAL, "cp_snp_tcb_decode: NULL output");

        switch (gen) {
        case CP_SNP_GEN_MILAN:
        case CP_SNP_GEN_GENOA:
                /* bytes [bl, tee, 0, 0, 0, 0, snp, ucode] */
                reserved = raw & UINT64_C(0x0000ffffffff0000);
                t.bl = tcb_byte(raw, 0);
                t.tee = tcb_byte(raw, 1);
                t.snp = tcb_byte(raw, 6);
                t.ucode = tcb_byte(raw, 7);
                break;
        case CP_SNP_GEN_TURIN:
                /* bytes [fmc, bl, tee, snp, 0, 0, 0, ucode] */
                reserved = raw & UINT64_C(0x00ffffff00000000);
                t.fmc = tcb_byte(raw, 0);
                t.bl = tcb_byte(raw, 1);
                t.tee = tcb_byte(raw, 2);
                t.snp = tcb_byte(raw, 3);
                t.ucode = tcb_byte(raw, 7);
                t.has_fmc = true;
                break;
        default:
                return CP_ERROR(CP_EINVAL, "cannot decode TCB_VERSION 0x%016llx for processor generation %s",
                                (unsigned long long) raw, cp_snp_generation_name(gen));
        }
        if (reserved != 0)
                return CP_ERROR(CP_EMBZ, "TCB_VERSION 0x%016llx has non-zero reserved bytes for %s (mask 0x%016llx)",
                                (unsigned long long) raw, cp_snp_generation_name(gen),
                                (unsigned long long) reserved);
        *ret = t;
        return 0;
}

uint64_t cp_snp_tcb_encode(const cp_snp_tcb *tcb, cp_snp_generation gen) {
        if (!tcb)
                return 0;
        switch (gen) {
        case CP_SNP_GEN_MILAN:
        case CP_SNP_GEN_GENOA:
                return (uint64_t) tcb->bl | (uint64_t) tcb->tee << 8 | (uint64_t) tcb->snp << 48 |
                       (uint64_t) tcb->ucode << 56;
        case CP_SNP_GEN_TURIN:
                return (uint64_t) tcb->fmc | (uint64_t) tcb->bl << 8 | (uint64_t) tcb->tee << 16 |
                       (uint64_t) tcb->snp << 24 | (uint64_t) tcb->ucode << 56;
        default:
                return 0;
        }
}

bool cp_snp_tcb_ge(const cp_snp_tcb *a, const cp_snp_tcb *b) {
        if (!a || !b)
                return false;
        /* A missing FMC component counts as 0. */
        uint8_t afmc = a->has_fmc ? a->fmc : 0, bfmc = b->has_fmc ? b->fmc : 0;
        return a->bl >= b->bl && a->tee >= b->tee && a->snp >= b->snp && a->ucode >= b->ucode && afmc >= bfmc;
}

/* ---- ATTESTATION_REPORT */

#define SIGNER_INFO_AUTHOR_KEY_EN  UINT32_C(0x1)
#define SIGNER_INFO_MASK_CHIP_KEY  UINT32_C(0x2)
#define SIGNER_INFO_SIGNING_KEY(x) (((x) >> 2) & 0x7u)
#define SIGNER_INFO_MBZ            UINT32_C(0xffffffe0)

#define POLICY_MBZ UINT64_C(0xfffffffffc000000) /* bits 63:26 */

#define SIG_ALGO_ECDSA_P384_SHA384 1u
#define SIG_COMPONENT_SIZE         72u /* R and S fields */
#define SIG_COMPONENT_SIGNIFICANT  48u /* P-384 scalar */
#define SIG_AREA_SIZE              (CP_SNP_REPORT_SIZE - CP_SNP_REPORT_SIGNED_SIZE)

/* Reads the fields at 0x000-0x29F.  Checks everything that needs only these
 * bytes except the signature-related rules (done by the caller). */
static int parse_body(cp_cursor *c, unsigned flags, cp_snp_report *r) {
        int k;

        /* 0x000 */
        if ((k = cp_cursor_le32(c, &r->version)) < 0)
                return k;
        if (r->version < CP_SNP_REPORT_MIN_VERSION)
                return CP_ERROR(CP_EVERSION, "SNP report version %u is not supported (minimum %u)", r->version,
                                CP_SNP_REPORT_MIN_VERSION);
        if (r->version > CP_SNP_REPORT_MAX_VERSION && !(flags & CP_SNP_PARSE_ALLOW_NEWER))
                return CP_ERROR(CP_EVERSION,
                                "SNP report version %u is newer than the newest supported version %u "
                                "(CP_SNP_PARSE_ALLOW_NEWER parses it with the version %u layout)",
                                r->version, CP_SNP_REPORT_MAX_VERSION, CP_SNP_REPORT_MAX_VERSION);

        /* 0x004-0x04F */
        if ((k = cp_cursor_le32(c, &r->guest_svn)) < 0 || (k = cp_cursor_le64(c, &r->policy)) < 0 ||
            (k = cp_cursor_bytes(c, sizeof(r->family_id), r->family_id)) < 0 ||
            (k = cp_cursor_bytes(c, sizeof(r->image_id), r->image_id)) < 0 ||
            (k = cp_cursor_le32(c, &r->vmpl)) < 0 || (k = cp_cursor_le32(c, &r->signature_algo)) < 0 ||
            (k = cp_cursor_le64(c, &r->current_tcb)) < 0 || (k = cp_cursor_le64(c, &r->platform_info)) < 0 ||
            (k = cp_cursor_le32(c, &r->signer_info)) < 0 || (k = cp_cursor_zero(c, 4, "SNP report reserved 0x04C")) < 0)
                return k;

        if (!(r->policy & CP_SNP_POLICY_RESERVED_1))
                return CP_ERROR(CP_EFORMAT, "SNP report GUEST_POLICY 0x%llx: reserved bit 17 must be 1",
                                (unsigned long long) r->policy);
        if (r->policy & POLICY_MBZ)
                return CP_ERROR(CP_EFORMAT, "SNP report GUEST_POLICY 0x%llx: reserved bits 63:26 must be 0",
                                (unsigned long long) r->policy);

        if (r->signer_info & SIGNER_INFO_MBZ)
                return CP_ERROR(CP_EMBZ, "SNP report signer info 0x%08x at 0x048: reserved bits 31:5 must be 0",
                                r->signer_info);
        r->author_key_en = r->signer_info & SIGNER_INFO_AUTHOR_KEY_EN;
        r->mask_chip_key = r->signer_info & SIGNER_INFO_MASK_CHIP_KEY;
        r->signing_key = (uint8_t) SIGNER_INFO_SIGNING_KEY(r->signer_info);
        if (r->signing_key != CP_SNP_SIGNING_KEY_VCEK && r->signing_key != CP_SNP_SIGNING_KEY_VLEK &&
            r->signing_key != CP_SNP_SIGNING_KEY_NONE)
                return CP_ERROR(CP_EFORMAT, "SNP report SIGNING_KEY %u is reserved", r->signing_key);

        r->unknown_platform_info_bits = r->platform_info & ~CP_SNP_PLATFORM_KNOWN_MASK;

        /* 0x050-0x187 */
        if ((k = cp_cursor_bytes(c, sizeof(r->report_data), r->report_data)) < 0 ||
            (k = cp_cursor_bytes(c, sizeof(r->measurement), r->measurement)) < 0 ||
            (k = cp_cursor_bytes(c, sizeof(r->host_data), r->host_data)) < 0 ||
            (k = cp_cursor_bytes(c, sizeof(r->id_key_digest), r->id_key_digest)) < 0 ||
            (k = cp_cursor_bytes(c, sizeof(r->author_key_digest), r->author_key_digest)) < 0 ||
            (k = cp_cursor_bytes(c, sizeof(r->report_id), r->report_id)) < 0 ||
            (k = cp_cursor_bytes(c, sizeof(r->report_id_ma), r->report_id_ma)) < 0 ||
            (k = cp_cursor_le64(c, &r->reported_tcb)) < 0)
                return k;

        /* 0x188-0x19F */
        if (r->version >= 3) {
                if ((k = cp_cursor_u8(c, &r->cpuid_fam_id)) < 0 || (k = cp_cursor_u8(c, &r->cpuid_mod_id)) < 0 ||
                    (k = cp_cursor_u8(c, &r->cpuid_step)) < 0 ||
                    (k = cp_cursor_zero(c, 0x1a0 - 0x18b, "SNP report reserved 0x18B-0x19F")) < 0)
                        return k;
                r->has_cpuid = true;
                r->cpuid_generation = cp_snp_generation_from_cpuid(r->cpuid_fam_id, r->cpuid_mod_id);
        } else {
                if ((k = cp_cursor_zero(c, 0x1a0 - 0x188, "SNP report v2 reserved 0x188-0x19F")) < 0)
                        return k;
                r->cpuid_generation = CP_SNP_GEN_UNKNOWN;
        }

        /* 0x1A0-0x1F7 */
        if ((k = cp_cursor_bytes(c, sizeof(r->chip_id), r->chip_id)) < 0 ||
            (k = cp_cursor_le64(c, &r->committed_tcb)) < 0 || (k = cp_cursor_u8(c, &r->current_build)) < 0 ||
            (k = cp_cursor_u8(c, &r->current_minor)) < 0 || (k = cp_cursor_u8(c, &r->current_major)) < 0 ||
            (k = cp_cursor_zero(c, 1, "SNP report reserved 0x1EB")) < 0 ||
            (k = cp_cursor_u8(c, &r->committed_build)) < 0 || (k = cp_cursor_u8(c, &r->committed_minor)) < 0 ||
            (k = cp_cursor_u8(c, &r->committed_major)) < 0 ||
            (k = cp_cursor_zero(c, 1, "SNP report reserved 0x1EF")) < 0 ||
            (k = cp_cursor_le64(c, &r->launch_tcb)) < 0)
                return k;

        /* 0x1F8-0x29F */
        if (r->version >= 5) {
                if ((k = cp_cursor_le64(c, &r->launch_mit_vector)) < 0 ||
                    (k = cp_cursor_le64(c, &r->current_mit_vector)) < 0)
                        return k;
                r->has_mit_vectors = true;
                if (r->version == 5)
                        k = cp_cursor_zero(c, CP_SNP_REPORT_SIGNED_SIZE - 0x208, "SNP report reserved 0x208-0x29F");
                else /* newer layout: these bytes may carry fields we do not know */
                        k = cp_cursor_skip(c, CP_SNP_REPORT_SIGNED_SIZE - 0x208);
        } else
                k = cp_cursor_zero(c, CP_SNP_REPORT_SIGNED_SIZE - 0x1f8, "SNP report reserved 0x1F8-0x29F");
        if (k < 0)
                return k;

        if (cp_cursor_offset(c) != CP_SNP_REPORT_SIGNED_SIZE)
                return CP_ERROR(CP_EINTERNAL, "SNP report body parsed to 0x%zx", cp_cursor_offset(c));
        return 0;
}

/* Reads the signature area 0x2A0-0x49F. */
static int parse_signature(cp_cursor *c, cp_snp_report *r) {
        cp_cursor sig;
        int k;

        if ((k = cp_cursor_window(c, CP_SNP_REPORT_SIGNED_SIZE, SIG_AREA_SIZE, &sig)) < 0)
                return k;

        if (!cp_snp_report_has_signature(r)) {
                /* Unsigned: the firmware zero-fills the whole area.  The
                 * algorithm field is either 0 or the usual 1. */
                if (r->signature_algo != 0 && r->signature_algo != SIG_ALGO_ECDSA_P384_SHA384)
                        return CP_ERROR(CP_EFORMAT, "SNP report SIGNATURE_ALGO %u is not supported",
                                        r->signature_algo);
                k = cp_cursor_zero(c, SIG_AREA_SIZE, "SNP report signature of an unsigned report");
                if (k == CP_EMBZ)
                        return CP_ERROR(CP_EFORMAT, "SNP report is unsigned (%s) but its signature area is not zero",
                                        r->signing_key == CP_SNP_SIGNING_KEY_NONE ? "SIGNING_KEY none"
                                                                                   : "MASK_CHIP_KEY set");
                return k;
        }

        if (r->signature_algo != SIG_ALGO_ECDSA_P384_SHA384)
                return CP_ERROR(CP_EFORMAT, "SNP report SIGNATURE_ALGO %u is not supported (expected 1, ECDSA P-384 SHA-384)",
                                r->signature_algo);

        if ((k = cp_cursor_bytes(c, SIG_COMPONENT_SIGNIFICANT, r->signature_r)) < 0 ||
            (k = cp_cursor_zero(c, SIG_COMPONENT_SIZE - SIG_COMPONENT_SIGNIFICANT, "SNP report signature R padding")) < 0 ||
            (k = cp_cursor_bytes(c, SIG_COMPONENT_SIGNIFICANT, r->signature_s)) < 0 ||
            (k = cp_cursor_zero(c, SIG_COMPONENT_SIZE - SIG_COMPONENT_SIGNIFICANT, "SNP report signature S padding")) < 0 ||
            (k = cp_cursor_zero(c, SIG_AREA_SIZE - 2 * SIG_COMPONENT_SIZE, "SNP report reserved 0x330-0x49F")) < 0)
                return k;
        return 0;
}

bool cp_snp_report_has_signature(const cp_snp_report *r) {
        return r && r->signing_key != CP_SNP_SIGNING_KEY_NONE && !r->mask_chip_key;
}

int cp_snp_report_parse(const uint8_t *buf, size_t len, unsigned flags, cp_snp_report *ret) {
        cp_snp_report r;
        cp_cursor c;
        int k;

        if (!ret || (!buf && len > 0))
                return CP_ERROR(CP_EINVAL, "cp_snp_report_parse: invalid arguments");
        if (flags & ~CP_SNP_PARSE_ALLOW_NEWER)
                return CP_ERROR(CP_EINVAL, "cp_snp_report_parse: unknown flags 0x%x", flags);
        if (len < CP_SNP_REPORT_SIZE)
                return CP_ERROR(CP_ETRUNC, "SNP report truncated: %zu bytes, need %u", len, CP_SNP_REPORT_SIZE);
        if (len > CP_SNP_REPORT_SIZE)
                return CP_ERROR(CP_ETRAILING, "SNP report has %zu trailing bytes after %u", len - CP_SNP_REPORT_SIZE,
                                CP_SNP_REPORT_SIZE);

        memset(&r, 0, sizeof(r));
        c = cp_cursor_make(buf, len);
        if ((k = parse_body(&c, flags, &r)) < 0 || (k = parse_signature(&c, &r)) < 0)
                return k;
        if ((k = cp_cursor_end(&c, "SNP report")) < 0)
                return k;

        /* Keep the exact bytes for signature verification. */
        c = cp_cursor_make(buf, len);
        if ((k = cp_cursor_bytes(&c, CP_SNP_REPORT_SIZE, r.raw)) < 0)
                return k;

        *ret = r;
        return 0;
}
