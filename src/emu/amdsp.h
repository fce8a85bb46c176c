/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CP_SHARED_AMDSP_H
#define CP_SHARED_AMDSP_H

/*
 * Software AMD-SP: an emulated SEV-SNP host platform (see docs/amdsp.md).
 *
 * Per host (a state directory): a chip ID, a TCB in the generation's layout,
 * an ARK/ASK (and optionally ASVK) of its own with AMD's certificate profile,
 * VCEKs derived deterministically from a host secret per TCB, an optional
 * VLEK, a KDS-compatible endpoint, guest launch with a secrets page
 * (VMPCK0-3), and the SNP guest-request protocol (AES-256-GCM messages with
 * the firmware ABI's 0x60-byte header and sequence numbers).
 *
 * The guest-message codec (cp_snp_msg_*) is used by both sides: the host
 * here and the guest client in snp_guest.c.
 *
 * All functions taking a cp_amdsp lock it: one host may be shared between
 * the KDS HTTP threads and the guest-request loop.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "basic/cleanup.h"
#include "confpool/snp_cert.h"
#include "confpool/snp_measure.h"
#include "confpool/snp_report.h"

/* ---- guest messages (SEV-SNP Firmware ABI, "Guest Messages") ----------- */

#define CP_SNP_MSG_HDR_SIZE       0x60u
#define CP_SNP_MSG_AAD_OFFSET     0x30u
#define CP_SNP_MSG_AAD_SIZE       0x30u
#define CP_SNP_MSG_HDR_VERSION    1u
#define CP_SNP_MSG_ALGO_AES256GCM 1u
#define CP_SNP_MSG_TAG_SIZE       16u
#define CP_SNP_VMPCK_LEN          32u
#define CP_SNP_VMPCK_COUNT        4u

enum {
        CP_SNP_MSG_KEY_REQ = 3,
        CP_SNP_MSG_KEY_RSP = 4,
        CP_SNP_MSG_REPORT_REQ = 5,
        CP_SNP_MSG_REPORT_RSP = 6,
};

#define CP_SNP_MSG_REPORT_REQ_SIZE 0x60u                        /* REPORT_DATA, VMPL, KEY_SEL, rsvd */
#define CP_SNP_MSG_REPORT_RSP_SIZE (0x20u + CP_SNP_REPORT_SIZE) /* STATUS, REPORT_SIZE, rsvd, REPORT */

/* MSG_REPORT_RSP STATUS / firmware status codes used here */
#define CP_SNP_FW_SUCCESS       0x00u
#define CP_SNP_FW_INVALID_PARAM 0x16u
#define CP_SNP_FW_AEAD_OFLOW    0x1du

/* KEY_SEL (MSG_REPORT_REQ bits 1:0) */
enum {
        CP_SNP_KEY_SEL_DEFAULT = 0, /* VLEK if one is installed, else VCEK */
        CP_SNP_KEY_SEL_VCEK = 1,
        CP_SNP_KEY_SEL_VLEK = 2,
};

typedef struct cp_snp_msg_hdr {
        uint8_t authtag[32]; /* first 16 bytes: the AES-GCM tag */
        uint64_t seqno;
        uint8_t algo;
        uint8_t hdr_version;
        uint16_t hdr_size;
        uint8_t msg_type;
        uint8_t msg_version;
        uint16_t msg_size;
        uint8_t vmpck;
} cp_snp_msg_hdr;

/* Parse a whole message (header + payload) without decrypting: rejects
 * lengths other than 0x60 + MSG_SIZE (CP_ETRUNC / CP_ETRAILING), non-zero
 * reserved bytes incl. AUTHTAG[16:32] (CP_EMBZ), ALGO != 1, HDR_VERSION != 1,
 * HDR_SIZE != 0x60, VMPCK > 3, an unknown MSG_TYPE, MSG_SIZE 0 or above
 * CP_MAX_SNP_GUEST_MSG - 0x60 (CP_EFORMAT / CP_EVERSION / CP_ETOOBIG). */
CP_WUR int cp_snp_msg_parse(const uint8_t *msg, size_t len, cp_snp_msg_hdr *ret);
/* Encrypt payload under key (AES-256-GCM, IV = seqno little-endian padded to
 * 12 bytes, AAD = header bytes 0x30-0x5F) into out: header then ciphertext.
 * seqno 0 is refused (CP_EINVAL).  *ret_len = 0x60 + plen. */
CP_WUR int cp_snp_msg_seal(const uint8_t key[CP_SNP_VMPCK_LEN], uint8_t vmpck, uint64_t seqno, uint8_t msg_type,
                           uint8_t msg_version, const uint8_t *payload, size_t plen, uint8_t *out, size_t cap,
                           size_t *ret_len);
/* Parse and authenticate-decrypt.  CP_ESIG if the tag does not verify (the
 * header, its AAD part or the ciphertext was changed, or the key is wrong).
 * Plaintext goes to out (cap >= MSG_SIZE). */
CP_WUR int cp_snp_msg_open(const uint8_t key[CP_SNP_VMPCK_LEN], const uint8_t *msg, size_t len, cp_snp_msg_hdr *ret_hdr,
                           uint8_t *out, size_t cap, size_t *ret_len);

typedef struct cp_snp_report_req {
        uint8_t report_data[64];
        uint32_t vmpl;
        uint32_t key_sel; /* CP_SNP_KEY_SEL_* */
} cp_snp_report_req;

void cp_snp_report_req_encode(const cp_snp_report_req *r, uint8_t out[CP_SNP_MSG_REPORT_REQ_SIZE]);
/* Exactly 0x60 bytes; KEY_SEL bits 31:2 and the reserved tail must be zero. */
CP_WUR int cp_snp_report_req_parse(const uint8_t *p, size_t n, cp_snp_report_req *ret);
/* MSG_REPORT_RSP: 0x20 bytes of header then REPORT_SIZE bytes.  Returns 0
 * and *ret_status; on status 0 the report is copied to report (REPORT_SIZE
 * must be 0x4A0), otherwise REPORT_SIZE must be 0 or 0x4A0 and report is
 * left untouched.  Reserved bytes must be zero. */
CP_WUR int cp_snp_report_rsp_parse(const uint8_t *p, size_t n, uint32_t *ret_status,
                                   uint8_t report[CP_SNP_REPORT_SIZE]);

/* ---- secrets page (Linux struct snp_secrets_page layout) ---------------- */

#define CP_SNP_SECRETS_PAGE_SIZE 4096u
#define CP_SNP_SECRETS_VMPCK_OFF 0x20u /* VMPCK0..3, 32 bytes each */
#define CP_SNP_SECRETS_OS_AREA   0xa0u /* msg_seqno_0..3 (u32 each): the guest OS's counters */

/* Read VMPCK n and the guest's last used sequence number for it. */
CP_WUR int cp_snp_secrets_get(const uint8_t page[CP_SNP_SECRETS_PAGE_SIZE], unsigned vmpck,
                              uint8_t key[CP_SNP_VMPCK_LEN], uint64_t *ret_seqno);
/* Store the guest's counter for VMPCK n (CP_EINVAL above UINT32_MAX). */
CP_WUR int cp_snp_secrets_set_seqno(uint8_t page[CP_SNP_SECRETS_PAGE_SIZE], unsigned vmpck, uint64_t seqno);

/* ---- the host ----------------------------------------------------------- */

typedef struct cp_amdsp cp_amdsp;

typedef struct cp_amdsp_config {
        cp_snp_generation generation;  /* required */
        cp_snp_tcb tcb;                /* initial TCB (has_fmc must match the generation) */
        uint8_t fw_major, fw_minor;    /* firmware API version reported; 0.0: 1.55 */
        uint8_t fw_build;
        uint64_t platform_info;        /* PLATFORM_INFO bits; 0: SMT_EN | TSME_EN */
        uint32_t report_version;       /* 2, 3 or 5; 0: 5 */
        const char *vlek_csp_id;       /* NULL: no VLEK; else ASVK + VLEK with this csp_id */
        int64_t now;                   /* creation time (certificate validity); 0: time(NULL) */
        const char *ca_dir;            /* NULL: an ARK/ASK of its own; else share those of the host in
                                        * this directory (hosts of one generation share AMD's roots) */
} cp_amdsp_config;

/* Open the host in dir.  If dir holds no host: create one from *create
 * (CP_ENOTFOUND if create is NULL): a random 64-byte host secret and chip ID
 * (Turin: 8 bytes, rest zero), RSA-4096 ARK/ASK (and ASVK) - this takes
 * seconds - persisted with secrets at mode 0600. */
CP_WUR int cp_amdsp_open(const char *dir, const cp_amdsp_config *create, cp_amdsp **ret);
cp_amdsp *cp_amdsp_free(cp_amdsp *sp);
CP_DEFINE_FREEP(cp_amdsp, cp_amdsp_free)

cp_snp_generation cp_amdsp_generation(const cp_amdsp *sp);
void cp_amdsp_chip_id(const cp_amdsp *sp, uint8_t ret[64]);
void cp_amdsp_get_tcb(const cp_amdsp *sp, cp_snp_tcb *ret);
/* Firmware update: the new TCB becomes CURRENT/COMMITTED/REPORTED for every
 * later report (signed by the VCEK of that TCB); VCEKs of earlier TCBs stay
 * available from the KDS endpoint.  Persisted. */
CP_WUR int cp_amdsp_set_tcb(cp_amdsp *sp, const cp_snp_tcb *tcb);
/* SNP_CONFIG-like host options.  MASK_CHIP_KEY: reports carry no signature
 * (signer info bit 1, zero signature area).  MASK_CHIP_ID: CHIP_ID zero. */
CP_WUR int cp_amdsp_set_mask(cp_amdsp *sp, bool mask_chip_key, bool mask_chip_id);

/* Certificates (DER, malloc()ed).  kind: ARK, ASK, ASVK (CP_ENOTFOUND
 * without a VLEK). */
CP_WUR int cp_amdsp_ca_cert(cp_amdsp *sp, cp_amd_cert_kind kind, uint8_t **ret, size_t *ret_len);
/* The VCEK of tcb (NULL: the current one), issued on first use and then
 * kept (the same bytes every time).  CP_ENOTFOUND for a TCB this host never
 * ran at. */
CP_WUR int cp_amdsp_vcek(cp_amdsp *sp, const cp_snp_tcb *tcb, uint8_t **ret, size_t *ret_len);
CP_WUR int cp_amdsp_vlek(cp_amdsp *sp, const cp_snp_tcb *tcb, uint8_t **ret, size_t *ret_len);
/* PEM "ASK then ARK" (leaf_kind VCEK) or "ASVK then ARK" (VLEK). */
CP_WUR int cp_amdsp_cert_chain_pem(cp_amdsp *sp, cp_amd_cert_kind leaf_kind, uint8_t **ret, size_t *ret_len);
/* A fresh X.509 v2 CRL (DER) issued by the ARK, RSASSA-PSS SHA-384, listing
 * the revoked serials; thisUpdate now - 1 h, nextUpdate now + 7 days
 * (now 0: time(NULL)). */
CP_WUR int cp_amdsp_crl(cp_amdsp *sp, int64_t now, uint8_t **ret, size_t *ret_len);
/* Revoke a certificate serial (big-endian bytes, 1..20).  Persisted. */
CP_WUR int cp_amdsp_revoke(cp_amdsp *sp, const uint8_t *serial, size_t len);

/* KDS: answer GET path (with query accessor) like kdsintf.amd.com for this
 * host's product: /vcek/v1/<P>/<hwid>?blSPL=.., /vcek/v1/<P>/cert_chain,
 * /vcek/v1/<P>/crl, /vlek/v1/<P>/cert_chain, /vlek/v1/<P>/crl.  Always
 * returns 0 with an HTTP status and a malloc()ed body, except on internal
 * failure. */
typedef const char *(*cp_amdsp_query_fn)(void *ud, const char *name);
CP_WUR int cp_amdsp_kds_get(cp_amdsp *sp, const char *path, cp_amdsp_query_fn query, void *ud, unsigned *ret_status,
                            const char **ret_content_type, uint8_t **ret_body, size_t *ret_len);

/* Serve the KDS endpoint over HTTP: the same routes on the service skeleton
 * (service.h; bind_addr NULL: 127.0.0.1, port 0: ephemeral, see
 * cp_httpd_port).  A path no KDS route knows is the skeleton's 404, another
 * method than GET its 405, an internal failure the cp_err map's status, all
 * in the one error body; what a route answers is cp_amdsp_kds_get's.  Stop
 * with cp_httpd_stop before freeing the host. */
typedef struct cp_httpd cp_httpd;
CP_WUR int cp_amdsp_kds_start(cp_amdsp *sp, const char *bind_addr, uint16_t port, cp_httpd **ret);

/* ---- guests ------------------------------------------------------------- */

/*
 * A launch, as the hypervisor describes it to SNP_LAUNCH_START /
 * SNP_LAUNCH_UPDATE / SNP_LAUNCH_FINISH.
 *
 * MEASUREMENT: with `measure` set, the AMD-SP computes the launch digest
 * itself with cp_snp_measure() from the image and launch parameters (modes
 * snp, snp:ovmf-hash, snp:svsm), the way the firmware hashes the pages the
 * hypervisor adds; `measurement` must then be all zero (CP_EINVAL).  If
 * measure->ovmf is NULL the firmware is read from ovmf_path.  Without
 * `measure`, `measurement` is taken as given: it is the caller's claim, and
 * nothing binds it to any image.
 *
 * ID block: with id_block / id_auth set (the 96-byte ID block and the
 * 4096-byte ID authentication information of snp_idblock.h), the AMD-SP
 * verifies them as SNP_LAUNCH_FINISH does (cp_snp_id_auth_verify against the
 * launch digest; the block's POLICY must equal `policy`) and reports
 * ID_KEY_DIGEST, AUTHOR_KEY_DIGEST, AUTHOR_KEY_EN (set when the ID auth
 * carries an author key), FAMILY_ID, IMAGE_ID and GUEST_SVN from them.  The
 * direct fields below (has_id_block .. guest_svn) are then ignored unless
 * non-zero, in which case they must equal the verified values (CP_EBINDING).
 * Without id_block, has_id_block and the digests are the caller's claim,
 * reported unchecked.
 */
typedef struct cp_amdsp_launch {
        uint64_t policy;               /* GUEST_POLICY (bit 17 must be set) */
        const cp_snp_measure_params *measure; /* borrowed; NULL: use measurement[] */
        const char *ovmf_path;         /* firmware file when measure->ovmf is NULL */
        uint8_t measurement[48];       /* launch digest claimed by the caller (measure NULL) */
        uint8_t host_data[32];
        const uint8_t *id_block;       /* CP_SNP_ID_BLOCK_SIZE bytes, or NULL */
        size_t id_block_len;
        const uint8_t *id_auth;        /* CP_SNP_ID_AUTH_SIZE bytes, or NULL */
        size_t id_auth_len;
        bool has_id_block;             /* claimed ID block (id_block NULL): digests below are reported */
        uint8_t id_key_digest[48];
        uint8_t author_key_digest[48];
        bool author_key_en;
        uint8_t family_id[16];
        uint8_t image_id[16];
        uint32_t guest_svn;
        unsigned min_vmpl;             /* VMPL of the guest OS: VMPCKs below it are zeroed in the
                                        * secrets page handed out (as an SVSM does with VMPCK0) */
} cp_amdsp_launch;

/* Launch a guest: MEASUREMENT and ID block as above, random VMPCK0-3 and
 * REPORT_ID, LAUNCH_TCB = current TCB.  Persisted in dir/guests/<handle>.json
 * (0600; the resulting digests and IDs, not the borrowed inputs).
 * ret_secrets receives the guest's secrets page.  Refusals: CP_EINVAL (bad
 * policy or arguments, SEV/SEV-ES mode, an ID block without ID auth or vice
 * versa), measurement errors of cp_snp_measure(), ID block errors of
 * cp_snp_id_auth_verify() (CP_ESIG bad signature, CP_EBINDING the block was
 * signed for another launch digest, CP_EFORMAT/CP_EMBZ/CP_EVERSION/...
 * malformed), CP_EPOLICY (ID block policy differs from the launch policy, or
 * the policy needs what the host lacks). */
CP_WUR int cp_amdsp_launch_guest(cp_amdsp *sp, const cp_amdsp_launch *l, uint32_t *ret_handle,
                                 uint8_t ret_secrets[CP_SNP_SECRETS_PAGE_SIZE]);

/* One SNP_GUEST_REQUEST from guest `handle`: req is the encrypted message.
 * On success resp holds the encrypted response (sequence number + 1) and,
 * if certs is non-NULL and the request was MSG_REPORT_REQ, *certs the
 * extended-report certificate table (malloc()ed, delivered in the clear by
 * the hypervisor as on hardware).  Refusals (the firmware returns no
 * message): CP_ENOTFOUND unknown guest, CP_EFORMAT/CP_EMBZ/... bad header,
 * CP_ESIG authentication failure (tampered / wrong key), CP_EBADSEQ replayed
 * or non-increasing sequence number (even seqno too).  *ret_fw_error gets the
 * firmware status for the wire. */
CP_WUR int cp_amdsp_guest_request(cp_amdsp *sp, uint32_t handle, const uint8_t *req, size_t req_len, uint8_t *resp,
                                  size_t resp_cap, size_t *ret_resp_len, uint8_t **certs, size_t *certs_len,
                                  uint32_t *ret_fw_error);

/* ---- the emulated channel (unix socket) --------------------------------- */

/*
 * Frames (all integers little-endian), one request and one response per
 * connection:
 *   request:  "CPSP" u32 version=1, u32 guest handle, u32 flags (bit 0: want
 *             certificates), u32 certs capacity, u32 msg_len, msg
 *   response: "CPSR" u32 fw_error, u32 vmm_error (1 = certificate buffer too
 *             small), u32 certs_len (needed size when vmm_error 1),
 *             u32 msg_len, msg, certs
 */
#define CP_AMDSP_FRAME_REQ_MAGIC 0x50535043u /* "CPSP" */
#define CP_AMDSP_FRAME_RSP_MAGIC 0x52535043u /* "CPSR" */
#define CP_AMDSP_FRAME_HDR_SIZE  24u
#define CP_AMDSP_FRAME_WANT_CERTS 1u
#define CP_AMDSP_VMM_ERR_INVALID_LEN 1u

/* Serve one connection on fd (read a request frame, answer it). */
CP_WUR int cp_amdsp_serve_conn(cp_amdsp *sp, int fd);

#endif
