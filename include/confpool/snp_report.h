/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CONFPOOL_SNP_REPORT_H
#define CONFPOOL_SNP_REPORT_H

/*
 * SEV-SNP ATTESTATION_REPORT (AMD SEV-SNP Firmware ABI spec #56860, table
 * "ATTESTATION_REPORT Structure"), the SNP_GET_EXT_REPORT certificate table
 * and TCB_VERSION decoding.  Parsers are allocation-free: the caller supplies
 * the output struct.  Nothing here verifies a signature; see snp_verify.h.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "confpool/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CP_SNP_REPORT_SIZE        0x4A0u /* 1184 */
#define CP_SNP_REPORT_SIGNED_SIZE 0x2A0u /* bytes covered by the signature */
#define CP_SNP_REPORT_MIN_VERSION 2u
#define CP_SNP_REPORT_MAX_VERSION 5u

typedef enum cp_snp_generation {
        CP_SNP_GEN_UNKNOWN = 0,
        CP_SNP_GEN_MILAN,
        CP_SNP_GEN_GENOA,
        CP_SNP_GEN_TURIN,
        _CP_SNP_GEN_MAX,
        _CP_SNP_GEN_INVALID = -1,
} cp_snp_generation;

/* "Milan", "Genoa", "Turin" (KDS product line names), "unknown". */
CP_API const char *cp_snp_generation_name(cp_snp_generation g);
/* Accepts the product line or a VCEK productName with stepping ("Milan-B0"):
 * case-sensitive, the stepping is 1-4 characters [A-Z0-9]; anything else is
 * CP_SNP_GEN_UNKNOWN. */
CP_API cp_snp_generation cp_snp_generation_from_name(const char *name);
/* From CPUID family/model (v3+ reports): 0x19/0x00-0x0F Milan, 0x19/0x10-0x1F
 * and 0xA0-0xAF Genoa, 0x1A/0x00-0x11 Turin; CP_SNP_GEN_UNKNOWN otherwise. */
CP_API cp_snp_generation cp_snp_generation_from_cpuid(uint8_t family, uint8_t model);

/* A decoded TCB_VERSION.  Milan/Genoa bytes: [bl, tee, 0,0,0,0, snp, ucode];
 * Turin: [fmc, bl, tee, snp, 0,0,0, ucode]. */
typedef struct cp_snp_tcb {
        uint8_t bl, tee, snp, ucode;
        uint8_t fmc;     /* Turin and later only; 0 otherwise */
        bool has_fmc;
} cp_snp_tcb;

/* Decode raw (little-endian u64 as read from the report).  CP_EMBZ if a
 * reserved byte of the generation's layout is non-zero; CP_EINVAL for
 * CP_SNP_GEN_UNKNOWN. */
CP_API CP_WUR int cp_snp_tcb_decode(uint64_t raw, cp_snp_generation gen, cp_snp_tcb *ret);
/* Inverse of decode (fmc is ignored for Milan/Genoa); 0 for an unknown
 * generation or NULL. */
CP_API uint64_t cp_snp_tcb_encode(const cp_snp_tcb *tcb, cp_snp_generation gen);
/* true if every component of a >= the matching component of b (a missing
 * fmc, has_fmc false, counts as 0); false if either is NULL. */
CP_API bool cp_snp_tcb_ge(const cp_snp_tcb *a, const cp_snp_tcb *b);

/* TCB text, as command lines and configuration write it:
 * "bl=N,tee=N,snp=N,ucode=N[,fmc=N]".  Components in any order, each exactly
 * once, N decimal 0-255 (1-3 digits, no sign or space), nothing before,
 * between or after but the commas.  fmc is Turin's component: for
 * CP_SNP_GEN_TURIN it may be given (has_fmc is true, fmc 0 when absent);
 * Milan and Genoa refuse it, and so does CP_SNP_GEN_UNKNOWN, which reads the
 * four components every generation has (e.g. a floor for any host).  CP_EFORMAT for a
 * missing, unknown or repeated component, a value out of range, an empty
 * field or trailing text (the message names which); CP_EINVAL for NULL or an
 * invalid generation.  *ret is untouched on failure. */
CP_API CP_WUR int cp_snp_tcb_parse(const char *s, cp_snp_generation gen, cp_snp_tcb *ret);
/* The text cp_snp_tcb_parse reads: "bl=N,tee=N,snp=N,ucode=N", then ",fmc=N"
 * when has_fmc.  CP_ETOOBIG if cap is too small (CP_SNP_TCB_TEXT_MAX always
 * suffices), CP_EINVAL for NULL. */
#define CP_SNP_TCB_TEXT_MAX 48u
CP_API CP_WUR int cp_snp_tcb_format(const cp_snp_tcb *tcb, char *out, size_t cap);

/* SIGNING_KEY values (signer info bits 4:2) */
enum {
        CP_SNP_SIGNING_KEY_VCEK = 0,
        CP_SNP_SIGNING_KEY_VLEK = 1,
        CP_SNP_SIGNING_KEY_NONE = 7,
};

/* GUEST_POLICY bits */
#define CP_SNP_POLICY_ABI_MINOR(p)        ((uint8_t) ((p) & 0xff))
#define CP_SNP_POLICY_ABI_MAJOR(p)        ((uint8_t) (((p) >> 8) & 0xff))
#define CP_SNP_POLICY_SMT                 (UINT64_C(1) << 16)
#define CP_SNP_POLICY_RESERVED_1          (UINT64_C(1) << 17) /* must be 1 */
#define CP_SNP_POLICY_MIGRATE_MA          (UINT64_C(1) << 18)
#define CP_SNP_POLICY_DEBUG               (UINT64_C(1) << 19)
#define CP_SNP_POLICY_SINGLE_SOCKET       (UINT64_C(1) << 20)
#define CP_SNP_POLICY_CXL_ALLOW           (UINT64_C(1) << 21)
#define CP_SNP_POLICY_MEM_AES_256_XTS     (UINT64_C(1) << 22)
#define CP_SNP_POLICY_RAPL_DIS            (UINT64_C(1) << 23)
#define CP_SNP_POLICY_CIPHERTEXT_HIDING   (UINT64_C(1) << 24)
#define CP_SNP_POLICY_PAGE_SWAP_DISABLE   (UINT64_C(1) << 25)
#define CP_SNP_POLICY_KNOWN_MASK          (UINT64_C(0x3ffffff))

/* PLATFORM_INFO bits */
#define CP_SNP_PLATFORM_SMT_EN            (UINT64_C(1) << 0)
#define CP_SNP_PLATFORM_TSME_EN           (UINT64_C(1) << 1)
#define CP_SNP_PLATFORM_ECC_EN            (UINT64_C(1) << 2)
#define CP_SNP_PLATFORM_RAPL_DIS          (UINT64_C(1) << 3)
#define CP_SNP_PLATFORM_CIPHERTEXT_HIDING (UINT64_C(1) << 4)
#define CP_SNP_PLATFORM_ALIAS_CHECK_DONE  (UINT64_C(1) << 5)
#define CP_SNP_PLATFORM_TIO_EN            (UINT64_C(1) << 7)
#define CP_SNP_PLATFORM_KNOWN_MASK        (UINT64_C(0xbf))

/* Parse flags */
#define CP_SNP_PARSE_ALLOW_NEWER (1u << 0) /* accept VERSION > 5, parsed with the v5 layout */

typedef struct cp_snp_report {
        uint32_t version;
        uint32_t guest_svn;
        uint64_t policy;
        uint8_t family_id[16];
        uint8_t image_id[16];
        uint32_t vmpl;
        uint32_t signature_algo;   /* 1 = ECDSA P-384 with SHA-384 */
        uint64_t current_tcb;      /* raw TCB_VERSION values */
        uint64_t platform_info;
        uint32_t signer_info;      /* raw word at 0x48 */
        bool author_key_en;        /* bit 0 */
        bool mask_chip_key;        /* bit 1 */
        uint8_t signing_key;       /* bits 4:2, CP_SNP_SIGNING_KEY_* */
        uint8_t report_data[64];
        uint8_t measurement[48];
        uint8_t host_data[32];
        uint8_t id_key_digest[48];
        uint8_t author_key_digest[48];
        uint8_t report_id[32];
        uint8_t report_id_ma[32];
        uint64_t reported_tcb;
        bool has_cpuid;            /* v3+ */
        uint8_t cpuid_fam_id, cpuid_mod_id, cpuid_step;
        uint8_t chip_id[64];
        uint64_t committed_tcb;
        uint8_t current_build, current_minor, current_major;
        uint8_t committed_build, committed_minor, committed_major;
        uint64_t launch_tcb;
        bool has_mit_vectors;      /* v5+ */
        uint64_t launch_mit_vector, current_mit_vector;
        uint8_t signature_r[72];   /* little-endian, as in the report */
        uint8_t signature_s[72];
        /* Derived at parse time */
        uint64_t unknown_platform_info_bits; /* set bits outside KNOWN_MASK (reported, not fatal) */
        cp_snp_generation cpuid_generation;  /* from the CPUID bytes (v3+), else UNKNOWN */
        /* The exact bytes parsed; the signature is verified over raw[0:0x2A0]. */
        uint8_t raw[CP_SNP_REPORT_SIZE];
} cp_snp_report;

/*
 * Parse exactly CP_SNP_REPORT_SIZE bytes.  Rejects: wrong length (CP_ETRUNC /
 * CP_ETRAILING), VERSION < 2 or > 5 unless CP_SNP_PARSE_ALLOW_NEWER
 * (CP_EVERSION; with the flag, VERSION > 5 is parsed with the v5 layout and
 * its reserved tail 0x208-0x29F is not checked), non-zero must-be-zero
 * ranges for the version, signer-info bits 31:5 and the unused upper 24
 * bytes of R and S (CP_EMBZ), SIGNATURE_ALGO other than 1 when a signature
 * is present, reserved SIGNING_KEY values 2-6, GUEST_POLICY bit 17 clear or
 * bits 63:26 set, and a non-zero signature area in an unsigned report
 * (SIGNING_KEY none or MASK_CHIP_KEY; SIGNATURE_ALGO may then be 0 or 1)
 * (CP_EFORMAT).  Unknown PLATFORM_INFO bits are reported in
 * unknown_platform_info_bits, not rejected.  VMPL is not range-checked.
 * *ret is written only on success.
 */
CP_API CP_WUR int cp_snp_report_parse(const uint8_t *buf, size_t len, unsigned flags, cp_snp_report *ret);
/* false if the firmware did not sign the report (SIGNING_KEY = none or
 * MASK_CHIP_KEY set: the signature area is all zero, which the parser
 * enforces).  A verifier must refuse such a report. */
CP_API bool cp_snp_report_has_signature(const cp_snp_report *r);

/* ---- SNP_GET_EXT_REPORT certificate table (GHCB spec, "certificate table") */

typedef enum cp_snp_cert_kind {
        CP_SNP_CERT_OTHER = 0,
        CP_SNP_CERT_ARK,   /* c0b406a4-a803-4952-9743-3fb6014cd0ae */
        CP_SNP_CERT_ASK,   /* 4ab7b379-bbac-4fe4-a02f-05aef327c782 (ASK or ASVK) */
        CP_SNP_CERT_VCEK,  /* 63da758d-e664-4564-adc5-f4b93be8accd */
        CP_SNP_CERT_VLEK,  /* a8074bc2-a25a-483e-aae6-39c045a0b8a1 */
        CP_SNP_CERT_EXTRA_PLATFORM_INFO, /* ecae0c0f-9502-43b1-afa2-0ae2e0d565b6 */
        _CP_SNP_CERT_KIND_MAX,
} cp_snp_cert_kind;

#define CP_SNP_CERTTABLE_MAX 32

typedef struct cp_snp_cert_entry {
        uint8_t guid[16];          /* RFC 4122 byte order, as in the table */
        cp_snp_cert_kind kind;
        const uint8_t *data;       /* borrowed from the parsed buffer */
        uint32_t offset, length;   /* as in the table */
} cp_snp_cert_entry;

typedef struct cp_snp_certtable {
        size_t n;
        cp_snp_cert_entry entries[CP_SNP_CERTTABLE_MAX];
} cp_snp_certtable;

/*
 * Parse a certificate table: 24-byte entries {GUID, u32 offset, u32 length}
 * terminated by an all-zero entry; offsets are relative to the table start
 * and must point past the terminator and inside the buffer.  Trailing zero
 * padding (page rounding) is accepted; duplicate GUIDs, zero lengths,
 * entries overlapping the header or each other, a missing terminator
 * (CP_EFORMAT), data past the end (CP_ETRUNC), more than
 * CP_SNP_CERTTABLE_MAX entries or more than CP_MAX_CERTTABLE_SIZE bytes
 * (CP_ETOOBIG) and non-zero bytes not covered by any entry (CP_ETRAILING)
 * are rejected.  Entries keep the table order; data points into buf.
 */
CP_API CP_WUR int cp_snp_certtable_parse(const uint8_t *buf, size_t len, cp_snp_certtable *ret);
CP_API const cp_snp_cert_entry *cp_snp_certtable_find(const cp_snp_certtable *t, cp_snp_cert_kind kind);
CP_API const char *cp_snp_cert_kind_name(cp_snp_cert_kind k);
/* The 16 GUID bytes of a known kind; NULL for CP_SNP_CERT_OTHER / invalid. */
CP_API const uint8_t *cp_snp_cert_kind_guid(cp_snp_cert_kind k);
/* The kind of a GUID (CP_SNP_CERT_OTHER if not one of the known ones). */
CP_API cp_snp_cert_kind cp_snp_cert_kind_from_guid(const uint8_t guid[16]);
/* Serialize (for the software AMD-SP and tests): the entry table with a
 * terminator, then each entry's data (length bytes) in the given order; the
 * input offsets are ignored and recomputed.  An entry whose guid is all zero
 * gets the GUID of its kind.  CP_EINVAL for a NULL data pointer, a zero
 * length, an all-zero GUID of kind OTHER, duplicate GUIDs or n >
 * CP_SNP_CERTTABLE_MAX; CP_ETOOBIG if the table would exceed
 * CP_MAX_CERTTABLE_SIZE.  *ret_len receives the size needed (also when cap
 * is too small, so out may be NULL with cap 0 to query the size); returns
 * CP_ETOOBIG if cap is too small. */
CP_API CP_WUR int cp_snp_certtable_build(const cp_snp_cert_entry *entries, size_t n, uint8_t *out, size_t cap,
                                         size_t *ret_len);

/* ---- serializer (software AMD-SP, tests) */

/* Write r as the 1184-byte ATTESTATION_REPORT, the exact inverse of
 * cp_snp_report_parse for versions 2..5: the signer-info word is composed
 * from author_key_en, mask_chip_key and signing_key (r->signer_info and the
 * derived fields are ignored), reserved ranges of the version are zero, R
 * and S keep their low 48 bytes (the 24-byte pads are written as zero), and
 * the signature area is all zero when the report is unsigned.  Nothing is
 * signed here.  CP_EVERSION for a version outside 2..5, CP_EINVAL for a
 * reserved SIGNING_KEY. */
CP_API CP_WUR int cp_snp_report_serialize(const cp_snp_report *r, uint8_t out[CP_SNP_REPORT_SIZE]);

#ifdef __cplusplus
}
#endif
#endif
