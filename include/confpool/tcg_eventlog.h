/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CONFPOOL_TCG_EVENTLOG_H
#define CONFPOOL_TCG_EVENTLOG_H

/*
 * TCG PC Client platform firmware event logs in the crypto-agile format
 * (TCG PC Client Platform Firmware Profile, "PFP", section 10), as UEFI
 * firmware hands them to the OS (/sys/kernel/security/tpm0/binary_bios_measurements).
 * All integers are little-endian:
 *
 *   first event, TCG_PCR_EVENT (SHA-1 format):
 *     u32 PCRIndex (0), u32 EventType (EV_NO_ACTION), u8 Digest[20] (zero),
 *     u32 EventSize, TCG_EfiSpecIDEvent {
 *         u8 Signature[16] = "Spec ID Event03\0", u32 platformClass,
 *         u8 specVersionMinor (0), u8 specVersionMajor (2), u8 specErrata,
 *         u8 uintnSize (1: 32-bit, 2: 64-bit), u32 numberOfAlgorithms,
 *         numberOfAlgorithms x { u16 algorithmId, u16 digestSize },
 *         u8 vendorInfoSize, u8 vendorInfo[vendorInfoSize] }
 *   then TCG_PCR_EVENT2 entries:
 *     u32 PCRIndex, u32 EventType,
 *     TPML_DIGEST_VALUES { u32 count, count x { u16 hashAlg, u8 digest[size] } },
 *     u32 EventSize, u8 Event[EventSize]
 *
 * Checks (reject by default): the Spec ID header exactly as above (version
 * 2.0, uintnSize 1 or 2, 1..CP_TCG_MAX_BANKS algorithms, no duplicates,
 * digestSize equal to the algorithm's for known ones, 1..64 for unknown
 * ones, no trailing bytes in the header event); every TCG_PCR_EVENT2 carries
 * exactly one digest for every algorithm of the header, in any order, and
 * no other; PCRIndex < 24; sizes within the remaining input (CP_ETRUNC);
 * at most CP_MAX_TCG_EVENTS events and CP_MAX_TCG_EVENTLOG bytes.
 *
 * Replay: every bank starts at zero, except PCR 0 when an EV_NO_ACTION
 * "StartupLocality" event (PFP 10.4.5.3: "StartupLocality\0" + u8 locality)
 * precedes the first PCR 0 measurement: then PCR 0 starts at
 * 00..00 || locality.  Every other event extends new = H(old || digest);
 * EV_NO_ACTION events are never extended.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "confpool/error.h"
#include "confpool/tpm_quote.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Event types (PFP 10.4.1) */
#define CP_EV_PREBOOT_CERT                  0x00000000u
#define CP_EV_POST_CODE                     0x00000001u
#define CP_EV_UNUSED                        0x00000002u
#define CP_EV_NO_ACTION                     0x00000003u
#define CP_EV_SEPARATOR                     0x00000004u
#define CP_EV_ACTION                        0x00000005u
#define CP_EV_EVENT_TAG                     0x00000006u
#define CP_EV_S_CRTM_CONTENTS               0x00000007u
#define CP_EV_S_CRTM_VERSION                0x00000008u
#define CP_EV_CPU_MICROCODE                 0x00000009u
#define CP_EV_PLATFORM_CONFIG_FLAGS         0x0000000Au
#define CP_EV_TABLE_OF_DEVICES              0x0000000Bu
#define CP_EV_COMPACT_HASH                  0x0000000Cu
#define CP_EV_IPL                           0x0000000Du
#define CP_EV_IPL_PARTITION_DATA            0x0000000Eu
#define CP_EV_NONHOST_CODE                  0x0000000Fu
#define CP_EV_NONHOST_CONFIG                0x00000010u
#define CP_EV_NONHOST_INFO                  0x00000011u
#define CP_EV_OMIT_BOOT_DEVICE_EVENTS       0x00000012u
#define CP_EV_POST_CODE2                    0x00000013u
#define CP_EV_EFI_EVENT_BASE                0x80000000u
#define CP_EV_EFI_VARIABLE_DRIVER_CONFIG    0x80000001u
#define CP_EV_EFI_VARIABLE_BOOT             0x80000002u
#define CP_EV_EFI_BOOT_SERVICES_APPLICATION 0x80000003u
#define CP_EV_EFI_BOOT_SERVICES_DRIVER      0x80000004u
#define CP_EV_EFI_RUNTIME_SERVICES_DRIVER   0x80000005u
#define CP_EV_EFI_GPT_EVENT                 0x80000006u
#define CP_EV_EFI_ACTION                    0x80000007u
#define CP_EV_EFI_PLATFORM_FIRMWARE_BLOB    0x80000008u
#define CP_EV_EFI_HANDOFF_TABLES            0x80000009u
#define CP_EV_EFI_PLATFORM_FIRMWARE_BLOB2   0x8000000Au
#define CP_EV_EFI_HANDOFF_TABLES2           0x8000000Bu
#define CP_EV_EFI_VARIABLE_BOOT2            0x8000000Cu
#define CP_EV_EFI_GPT_EVENT2                0x8000000Du
#define CP_EV_EFI_HCRTM_EVENT               0x80000010u
#define CP_EV_EFI_VARIABLE_AUTHORITY        0x800000E0u
#define CP_EV_EFI_SPDM_FIRMWARE_BLOB        0x800000E1u
#define CP_EV_EFI_SPDM_FIRMWARE_CONFIG      0x800000E2u
#define CP_EV_EFI_SPDM_DEVICE_POLICY        0x800000E3u
#define CP_EV_EFI_SPDM_DEVICE_AUTHORITY     0x800000E4u

#define CP_TCG_MAX_BANKS   8u   /* algorithms in the Spec ID event */
#define CP_TCG_PCR_COUNT   24u
#define CP_TCG_DIGEST_MAX  64u

/* Name of an event type ("EV_IPL"), NULL if unknown. */
CP_API const char *cp_tcg_event_type_name(uint32_t type);

typedef struct cp_tcg_alg {
        uint16_t alg;            /* TPM_ALG_ID (CP_TPM_ALG_SHA*) */
        uint16_t size;           /* digest size */
} cp_tcg_alg;

typedef struct cp_tcg_spec_id {
        uint32_t platform_class;
        uint8_t version_minor, version_major, errata, uintn_size;
        size_t n_algs;
        cp_tcg_alg algs[CP_TCG_MAX_BANKS];
        const uint8_t *vendor_info;  /* into the parsed buffer */
        size_t vendor_info_len;
} cp_tcg_spec_id;

typedef struct cp_tcg_digest {
        uint16_t alg;
        const uint8_t *digest;       /* into the parsed buffer; size of the alg */
        size_t len;
} cp_tcg_digest;

/* One TCG_PCR_EVENT2.  Pointers point into the buffer given to
 * cp_tcg_eventlog_parse() and are valid as long as it is. */
typedef struct cp_tcg_event {
        uint32_t pcr;
        uint32_t type;
        size_t n_digests;            /* = the Spec ID's n_algs, in the event's order */
        cp_tcg_digest digests[CP_TCG_MAX_BANKS];
        const uint8_t *data;
        size_t data_len;
        size_t offset;               /* of the event in the log */
} cp_tcg_event;

typedef struct cp_tcg_eventlog cp_tcg_eventlog;

/* Parse a crypto-agile event log (checks above).  Borrows data: keep it
 * alive as long as the result.  Errors: CP_ETRUNC, CP_ETRAILING (bytes after
 * the Spec ID structure in its event), CP_ETOOBIG, CP_EFORMAT (header,
 * counts, PCR index, digest list), CP_EVERSION (spec version / signature
 * "Spec ID Event02" i.e. a SHA-1-only log), CP_EUNSUPPORTED. */
CP_API CP_WUR int cp_tcg_eventlog_parse(const uint8_t *data, size_t len, cp_tcg_eventlog **ret);
/* Parse flags */
enum {
        /* The log sits in a fixed-size area (the CCEL's LAML region): at an
         * event boundary, a rest made only of 0xFF bytes or only of 0x00
         * bytes is fill, not events (counted by cp_tcg_eventlog_padding).
         * Any other byte there is parsed as an event and refused if it is
         * not one. */
        CP_TCG_PARSE_PADDED = 1u << 0,
        /* A CC event log: the Spec ID event may carry index 1 (TDVF writes
         * its MR index for RTMR0 there), besides 0. */
        CP_TCG_PARSE_CCEL = 1u << 1,
};
CP_API CP_WUR int cp_tcg_eventlog_parse_ex(const uint8_t *data, size_t len, unsigned flags, cp_tcg_eventlog **ret);
/* Bytes of fill after the last event (CP_TCG_PARSE_PADDED), else 0. */
CP_API size_t cp_tcg_eventlog_padding(const cp_tcg_eventlog *l);
CP_API cp_tcg_eventlog *cp_tcg_eventlog_free(cp_tcg_eventlog *l);
CP_API const cp_tcg_spec_id *cp_tcg_eventlog_spec_id(const cp_tcg_eventlog *l);
/* TCG_PCR_EVENT2 entries, the Spec ID event not included. */
CP_API size_t cp_tcg_eventlog_count(const cp_tcg_eventlog *l);
CP_API const cp_tcg_event *cp_tcg_eventlog_get(const cp_tcg_eventlog *l, size_t i);
/* The event's digest in bank alg, NULL if none. */
CP_API const uint8_t *cp_tcg_event_digest(const cp_tcg_event *e, uint16_t alg);

typedef struct cp_tcg_pcrs {
        uint16_t alg;
        size_t digest_len;
        uint32_t touched;                /* bit i: PCR i extended (or locality-initialised) by the log */
        uint8_t startup_locality;        /* 0 unless a StartupLocality event set it */
        uint8_t values[CP_TCG_PCR_COUNT][CP_TCG_DIGEST_MAX];
} cp_tcg_pcrs;

/* Replay bank alg (SHA-1/256/384/512).  CP_ENOTFOUND if the log has no
 * such bank, CP_EUNSUPPORTED for other algorithms, CP_EFORMAT for a
 * malformed or misplaced StartupLocality event. */
CP_API CP_WUR int cp_tcg_eventlog_replay(const cp_tcg_eventlog *l, uint16_t alg, cp_tcg_pcrs *ret);

/* Replay bank->hash_alg and compare, in constant time, every PCR in
 * pcr_mask (bit i = PCR i; e.g. the quote's selection) that the log
 * touches with bank->values[i].  *ret_checked gets the PCRs compared.
 * CP_EBINDING names the first PCR that differs; CP_EINVAL if a compared
 * PCR has no supplied value; CP_ENOTFOUND if no PCR could be compared. */
CP_API CP_WUR int cp_tcg_eventlog_check_pcrs(const cp_tcg_eventlog *l, const cp_tpm_pcr_bank *bank, uint32_t pcr_mask,
                                             uint32_t *ret_checked);

/* Claims from the boot events of the PCRs in pcr_mask (events of other PCRs
 * are only counted): {"banks": [...], "replayedPcrs": [...], "separators":
 * [PCRs with a plain 00000000 separator], "pcrs": {"<i>": [{"type", summary
 * members, "digest" (SHA-256 hex if present, else the first bank's; left out
 * for a text that is itself the measured data and for EV_NO_ACTION)}...]},
 * "kernelCmdline"?, "secureBoot"?, "eventCount": n, "unverifiedEvents": n}.
 * Summaries are best-effort decodings of the event data (strings, UEFI
 * variable names, image/blob sizes, ...); a string shown next to a digest
 * says "dataVerified" (whether the digest covers it).  Untrusted text is
 * reduced to printable ASCII.  See docs/attestation-service.md. */
CP_API CP_WUR int cp_tcg_eventlog_claims(const cp_tcg_eventlog *l, uint32_t pcr_mask, json_t **ret);

/* ---- writer ---------------------------------------------------------------- */

typedef struct cp_tcg_eventlog_builder cp_tcg_eventlog_builder;

/* A builder for a log with the given banks (SHA-1/256/384/512, 1..8, no
 * duplicates), e.g. { CP_TPM_ALG_SHA256 } or { SHA1, SHA256, SHA384 }.
 * uintnSize 2, platformClass 0 (client), errata 0, no vendor info. */
CP_API CP_WUR int cp_tcg_eventlog_builder_new(const uint16_t *algs, size_t n_algs, cp_tcg_eventlog_builder **ret);
CP_API cp_tcg_eventlog_builder *cp_tcg_eventlog_builder_free(cp_tcg_eventlog_builder *b);
/* Record the EV_NO_ACTION StartupLocality event: PCR 0 starts at
 * 0..0||locality.  Only before any PCR 0 measurement (CP_EBADSEQ). */
CP_API CP_WUR int cp_tcg_eventlog_builder_startup_locality(cp_tcg_eventlog_builder *b, uint8_t locality);
/* Append an event whose digests are H(measured) in every bank (measured
 * NULL: H(event data), as for EV_IPL strings and EV_SEPARATOR).  For
 * EV_NO_ACTION the digests are zero and nothing is extended. */
CP_API CP_WUR int cp_tcg_eventlog_builder_add(cp_tcg_eventlog_builder *b, uint32_t pcr, uint32_t type,
                                              const void *measured, size_t measured_len, const void *event,
                                              size_t event_len);
/* Append an event with given digests (one per bank of the builder, in any
 * order), as extended into a TPM by someone else. */
CP_API CP_WUR int cp_tcg_eventlog_builder_add_digests(cp_tcg_eventlog_builder *b, uint32_t pcr, uint32_t type,
                                                      const cp_tcg_digest *digests, size_t n_digests,
                                                      const void *event, size_t event_len);
/* The log so far in the exact TCG format (malloc()ed). */
CP_API CP_WUR int cp_tcg_eventlog_builder_serialize(const cp_tcg_eventlog_builder *b, uint8_t **ret, size_t *ret_len);
/* The value PCR pcr of bank alg has after the events so far. */
CP_API CP_WUR int cp_tcg_eventlog_builder_pcr(const cp_tcg_eventlog_builder *b, uint16_t alg, unsigned pcr,
                                              uint8_t *ret, size_t ret_size);

#ifdef __cplusplus
}
#endif
#endif
