/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CP_EMU_TDX_EMU_H
#define CP_EMU_TDX_EMU_H

/*
 * Software TDX (docs/tdx.md "Software TDX"): byte-exact Intel formats over
 * roots of its own, never trusted in production (cp_tdx_verify refuses all
 * of it unless the emulated root is passed as opts->trust_root).
 *
 *   - cp_tdx_pcs: an emulated Intel: SGX Root CA, PCK Platform CA, TCB
 *     Signing certificate (ECDSA P-256, Intel's profile), PCK certificates
 *     with Intel's SGX extensions, CRLs, TCB Info v3 (id "TDX") and QE
 *     Identity v2 (id "TD_QE") signed as Intel's PCS signs them, TCB levels
 *     with every Intel status and TCB-recovery events, served at Intel's PCS
 *     API v4 URL shapes (files or HTTP on the service skeleton);
 *   - cp_tdx_host: one platform: the software TDX module (TD build with
 *     MRTD over TDH.MEM.PAGE.ADD / TDH.MR.EXTEND, RTMRs, TDG.MR.REPORT with
 *     a MAC under a per-module HMAC-SHA-256 key) and the quoting enclave
 *     (TDREPORT -> DCAP quote v4 with the PCK chain of its PCS);
 *   - the guest interfaces as Linux exposes them: configfs-tsm (provider
 *     tdx_guest) and /dev/tdx_guest TDX_CMD_GET_REPORT0 (tdx_guest.c).
 * Objects are in memory; every call locks its object.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "basic/cleanup.h"
#include "confpool/tdx_measure.h"
#include "confpool/tdx_verify.h"

#define CP_TDX_TDREPORT_SIZE 1024u
#define CP_TDX_REPORTMAC_SIZE 256u
#define CP_TDX_TEE_TCB_INFO_SIZE 239u
#define CP_TDX_TDINFO_SIZE 512u
#define CP_TDX_MAC_OFFSET 224u         /* MAC: HMAC-SHA-256 over bytes 0..223 of REPORTMACSTRUCT */

/* A platform's TCB: the SGX TCB components and PCESVN of its PCK
 * certificate, and TEE_TCB_SVN (the TDX components; [0] the module's minor
 * SVN, [1] its major version). */
typedef struct cp_tdx_tcb {
        uint8_t sgx[16];
        uint16_t pcesvn;
        uint8_t tdx[16];
} cp_tdx_tcb;

/* ---- the emulated PCS ---------------------------------------------------- */

typedef struct cp_tdx_pcs cp_tdx_pcs;

typedef struct cp_tdx_pcs_config {
        int64_t now;                /* CA validity start (- 1 day); 0: time(NULL) */
        uint8_t fmspc[6];           /* all zero: 90c06f000000 (Sapphire Rapids) */
        cp_tdx_tcb tcb;             /* the UpToDate level; all zero: a default */
        uint16_t qe_isvsvn;         /* the TD_QE UpToDate level; 0: 4 */
} cp_tdx_pcs_config;

CP_WUR int cp_tdx_pcs_new(const cp_tdx_pcs_config *c, cp_tdx_pcs **ret);
/* A PCS whose state (keys, certificates, TCB levels, revocations) lives in
 * dir/pcs.json (0600; dir created 0700): loaded when it exists (c ignored),
 * else created from c and written; every later change is written too, so
 * a restarted stack keeps its emulated root (issue 16). */
CP_WUR int cp_tdx_pcs_open(const char *dir, const cp_tdx_pcs_config *c, cp_tdx_pcs **ret);
cp_tdx_pcs *cp_tdx_pcs_free(cp_tdx_pcs *p);
CP_DEFINE_FREEP(cp_tdx_pcs, cp_tdx_pcs_free)

/* The emulated Intel SGX Root CA (PEM, malloc()ed, NUL-terminated): the
 * trust_root to verify this PCS's quotes with. */
CP_WUR int cp_tdx_pcs_root_pem(cp_tdx_pcs *p, char **ret, size_t *ret_len);
void cp_tdx_pcs_fmspc(const cp_tdx_pcs *p, uint8_t ret[6]);
void cp_tdx_pcs_default_tcb(const cp_tdx_pcs *p, cp_tdx_tcb *ret);

/* Collateral as Intel's PCS serves it, issued at now (0: time(NULL)) and
 * valid 30 days: TCB Info and QE Identity ({"tcbInfo": .., "signature":
 * ..}), the TCB Signing chain (PEM, signing certificate then root), the PCK
 * CRL (DER, by the Platform CA) and the Root CA CRL (DER).  Free with
 * cp_tdx_pcs_collateral_free. */
typedef struct cp_tdx_pcs_collateral {
        uint8_t *tcb_info, *qe_identity, *tcb_signing_chain, *pck_crl, *root_ca_crl;
        size_t tcb_info_len, qe_identity_len, tcb_signing_chain_len, pck_crl_len, root_ca_crl_len;
} cp_tdx_pcs_collateral;
CP_WUR int cp_tdx_pcs_collateral_get(cp_tdx_pcs *p, int64_t now, cp_tdx_pcs_collateral *ret);
/* Platforms of other FMSPCs (Emerald Rapids beside Sapphire Rapids): the
 * PCS serves TCB Info (the same levels, that FMSPC) for each FMSPC added
 * (at most CP_TDX_PCS_MAX_FMSPCS besides its own; kept in pcs.json).
 * collateral_get_for: CP_ENOTFOUND for an FMSPC it does not know. */
#define CP_TDX_PCS_MAX_FMSPCS 4
CP_WUR int cp_tdx_pcs_add_fmspc(cp_tdx_pcs *p, const uint8_t fmspc[6]);
bool cp_tdx_pcs_knows_fmspc(cp_tdx_pcs *p, const uint8_t fmspc[6]);
CP_WUR int cp_tdx_pcs_collateral_get_for(cp_tdx_pcs *p, const uint8_t fmspc[6], int64_t now,
                                         cp_tdx_pcs_collateral *ret);
void cp_tdx_pcs_collateral_free(cp_tdx_pcs_collateral *c);
/* As the verifier takes it (borrows c). */
void cp_tdx_pcs_collateral_view(const cp_tdx_pcs_collateral *c, cp_tdx_collateral *ret);

/* TCB levels of the TCB Info, first match wins (as Intel orders them).
 * The initial table: the config's TCB UpToDate, then all-zero OutOfDate. */
#define CP_TDX_PCS_MAX_LEVELS 16
typedef struct cp_tdx_pcs_level {
        cp_tdx_tcb tcb;
        cp_tdx_tcb_status status;
        char advisory[24];          /* "" or one advisory ID (INTEL-SA-...) */
} cp_tdx_pcs_level;
/* Replace the table (1..CP_TDX_PCS_MAX_LEVELS levels, status not Unknown). */
CP_WUR int cp_tdx_pcs_set_levels(cp_tdx_pcs *p, const cp_tdx_pcs_level *levels, size_t n);
/* Set the status (and advisory, may be NULL) of level idx. */
CP_WUR int cp_tdx_pcs_set_status(cp_tdx_pcs *p, size_t idx, cp_tdx_tcb_status s, const char *advisory);
/* A TCB-recovery event: Intel publishes new_tcb as the UpToDate level (with
 * the advisory that caused it); every level that was UpToDate or
 * SWHardeningNeeded becomes OutOfDate, ConfigurationNeeded and
 * ConfigurationAndSWHardeningNeeded become OutOfDateConfigurationNeeded
 * (with the advisory); tcbEvaluationDataNumber grows by one. */
CP_WUR int cp_tdx_pcs_tcb_recovery(cp_tdx_pcs *p, const cp_tdx_tcb *new_tcb, const char *advisory);
/* Intel publishes a newer TDX module: the TCB Info's module identity gains
 * an UpToDate level at isvsvn (above the platform's TEE_TCB_SVN[0]) and its
 * old level becomes OutOfDate (with the advisory).  In memory only (not in
 * pcs.json). */
CP_WUR int cp_tdx_pcs_module_update(cp_tdx_pcs *p, uint8_t isvsvn, const char *advisory);
/* The status the PCS's TCB Info gives a platform of TCB t (QVL's level
 * rule; Unknown: no level). */
cp_tdx_tcb_status cp_tdx_pcs_tcb_status(cp_tdx_pcs *p, const cp_tdx_tcb *t);
/* Revoke a PCK certificate (its serial appears on the next PCK CRL). */
CP_WUR int cp_tdx_pcs_revoke_pck(cp_tdx_pcs *p, const uint8_t *serial, size_t len);

/* Intel's PCS API v4 routes: GET /sgx/certification/v4/pckcert (query
 * pceid, cpusvn, pcesvn: the PCK of the platform registered with that
 * PCE-ID and best TCB), /sgx/certification/v4/pckcrl?ca=platform
 * [&encoding=der], /tdx/certification/v4/tcb?fmspc=.., 
 * /tdx/certification/v4/qe/identity, /sgx/certification/v4/rootcacrl.
 * Issuer chains go in Intel's headers (TCB-Info-Issuer-Chain,
 * SGX-Enclave-Identity-Issuer-Chain, SGX-PCK-CRL-Issuer-Chain,
 * SGX-PCK-Certificate-Issuer-Chain: URL-encoded PEM). */
typedef const char *(*cp_tdx_pcs_query_fn)(void *ud, const char *name);
typedef struct cp_tdx_pcs_answer {
        unsigned status;
        const char *content_type;
        uint8_t *body;
        size_t len;
        const char *header_name;    /* NULL or the issuer chain header */
        char *header_value;         /* malloc()ed */
} cp_tdx_pcs_answer;
CP_WUR int cp_tdx_pcs_get(cp_tdx_pcs *p, const char *path, cp_tdx_pcs_query_fn query, void *ud, int64_t now,
                          cp_tdx_pcs_answer *ret);
void cp_tdx_pcs_answer_free(cp_tdx_pcs_answer *a);
typedef struct cp_httpd cp_httpd;
/* Serve those routes (bind_addr NULL: 127.0.0.1; port 0: ephemeral).  Stop
 * with cp_httpd_stop before freeing the PCS. */
CP_WUR int cp_tdx_pcs_start(cp_tdx_pcs *p, const char *bind_addr, uint16_t port, cp_httpd **ret);

/* ---- a platform: the TDX module and the quoting enclave ----------------- */

typedef struct cp_tdx_host cp_tdx_host;
typedef struct cp_tdx_td cp_tdx_td;

typedef struct cp_tdx_host_config {
        cp_tdx_tcb tcb;             /* all zero: the PCS's UpToDate level */
        uint16_t qe_isvsvn;         /* 0: the PCS's TD_QE level */
        uint64_t seam_attributes;   /* SEAMATTRIBUTES (0 for a production module) */
        int64_t now;                /* PCK validity start; 0: time(NULL) */
        uint8_t fmspc[6];           /* all zero: the PCS's; else added to the PCS (cp_tdx_pcs_add_fmspc) */
} cp_tdx_host_config;

/* A platform registered with pcs: a random module HMAC key, MRSEAM of the
 * software module, MRSIGNERSEAM zero (as Intel's), a P-256 PCK key and its
 * PCK certificate issued by pcs, the QE's attestation key.  pcs must
 * outlive the host. */
CP_WUR int cp_tdx_host_new(cp_tdx_pcs *pcs, const cp_tdx_host_config *c, cp_tdx_host **ret);
/* A platform kept in dir/host.json (0600): its module MAC key, PPID, QE
 * ID, PCK and attestation keys, TCB and QE SVN are loaded when the file
 * exists (c ignored; a new PCK certificate is issued for the same key),
 * else created from c and written; cp_tdx_host_set_tcb writes it again. */
CP_WUR int cp_tdx_host_open(cp_tdx_pcs *pcs, const char *dir, const cp_tdx_host_config *c, cp_tdx_host **ret);
cp_tdx_host *cp_tdx_host_free(cp_tdx_host *h);
/* The platform's current TCB. */
void cp_tdx_host_tcb(cp_tdx_host *h, cp_tdx_tcb *ret);
CP_DEFINE_FREEP(cp_tdx_host, cp_tdx_host_free)
/* A TCB update (microcode, module): new TEE_TCB_SVN / SGX TCB, a new PCK
 * certificate from the PCS for it. */
CP_WUR int cp_tdx_host_set_tcb(cp_tdx_host *h, const cp_tdx_tcb *tcb, int64_t now);
/* A TD-preserving TDX module update (TDX 1.5): the platform now runs module
 * ISVSVN isvsvn while its TDs keep the TEE_TCB_SVN of the module they were
 * launched on; TD 1.5 quotes carry the running module's SVN as
 * TEE_TCB_SVN2 (the case Intel's QVL grades TDRelaunchAdvised).  In memory
 * only; TDs launched afterwards are not modelled. */
CP_WUR int cp_tdx_host_module_update(cp_tdx_host *h, uint8_t isvsvn);
/* The current PCK chain (PEM: PCK, Platform CA, root) and the PCK serial. */
CP_WUR int cp_tdx_host_pck_chain(cp_tdx_host *h, char **ret, size_t *ret_len);
CP_WUR int cp_tdx_host_pck_serial(cp_tdx_host *h, uint8_t *ret, size_t cap, size_t *ret_len);

typedef struct cp_tdx_td_params {
        uint64_t attributes;        /* TDATTRIBUTES (bit 0 DEBUG, bit 28 SEPT_VE_DISABLE) */
        uint64_t xfam;              /* 0: 0x61ae7 (x87, SSE, AVX, AVX-512, PKRU, ...) */
        uint8_t mrconfigid[48], mrowner[48], mrownerconfig[48];
} cp_tdx_td_params;

/* TDH.MNG.CREATE + TDH.MNG.INIT. */
CP_WUR int cp_tdx_td_create(cp_tdx_host *h, const cp_tdx_td_params *p, cp_tdx_td **ret);
cp_tdx_td *cp_tdx_td_free(cp_tdx_td *td);
CP_DEFINE_FREEP(cp_tdx_td, cp_tdx_td_free)
/* TDH.MEM.PAGE.ADD: MRTD += SHA-384 block "MEM.PAGE.ADD" || GPA.  Refused
 * after finalize (CP_EBADSEQ), an unaligned GPA or a page added twice
 * (CP_EINVAL). */
CP_WUR int cp_tdx_td_page_add(cp_tdx_td *td, uint64_t gpa);
/* TDH.MEM.PAGE.AUG: not measured. */
CP_WUR int cp_tdx_td_page_aug(cp_tdx_td *td, uint64_t gpa);
/* TDH.MR.EXTEND: "MR.EXTEND" || GPA, then the 256 bytes.  The GPA must be
 * 256-byte aligned in a page added with PAGE.ADD. */
CP_WUR int cp_tdx_td_mr_extend(cp_tdx_td *td, uint64_t gpa, const uint8_t chunk[256]);
/* Add (and extend) every TDVF section of fw in order, as the VMM does. */
CP_WUR int cp_tdx_td_load_tdvf(cp_tdx_td *td, const uint8_t *fw, size_t len, cp_tdx_page_order order);
/* A launch as a VMM does it: create, load fw's TDVF sections (fw NULL: no
 * pages), finalize.  *ret only on success. */
CP_WUR int cp_tdx_host_launch(cp_tdx_host *h, const cp_tdx_td_params *p, const uint8_t *fw, size_t len,
                              cp_tdx_page_order order, cp_tdx_td **ret);
/* TDH.MR.FINALIZE: MRTD is fixed, the TD may run. */
CP_WUR int cp_tdx_td_finalize(cp_tdx_td *td);
void cp_tdx_td_mrtd(cp_tdx_td *td, uint8_t ret[48]);
/* TDG.MR.RTMR.EXTEND (index 0..3) after finalize. */
CP_WUR int cp_tdx_td_rtmr_extend(cp_tdx_td *td, unsigned idx, const uint8_t digest[48]);
/* The TD's boot as TDVF and the Linux EFI stub run it: every event of the
 * CC event log ccel (cp_tdx_boot_measure's, or any CCEL) extended into
 * its RTMR with TDG.MR.RTMR.EXTEND, in log order.  The log is parsed first
 * (cp_ccel_parse: refused as a whole, nothing extended, if malformed). */
CP_WUR int cp_tdx_td_boot(cp_tdx_td *td, const uint8_t *ccel, size_t ccel_len);
/* TDG.MR.REPORT: the 1024-byte TDREPORT_STRUCT for report_data. */
CP_WUR int cp_tdx_td_report(cp_tdx_td *td, const uint8_t report_data[64], uint8_t ret[CP_TDX_TDREPORT_SIZE]);

/* A TD's state kept across a VMM restart that leaves the TD running (issue
 * 16): path (0600, written through path.tmp and renamed) holds ATTRIBUTES,
 * XFAM, MRCONFIGID, MROWNER, MROWNERCONFIG, MRTD and RTMR0-3 under an
 * HMAC-SHA-256 keyed from the platform's module key.  cp_tdx_td_persist
 * (after finalize) writes it now and after every RTMR extend (an extend
 * whose write fails is undone and fails).  cp_tdx_td_resume re-creates the
 * finalized TD on the platform that wrote it: CP_ENOTFOUND no file,
 * CP_EFORMAT a malformed one (naming the field), CP_ESIG a file changed
 * since (an RTMR, MRTD, ...) or written by another platform. */
CP_WUR int cp_tdx_td_persist(cp_tdx_td *td, const char *path);
CP_WUR int cp_tdx_td_resume(cp_tdx_host *h, const char *path, cp_tdx_td **ret);

/* The quoting enclave: checks the TDREPORT's MAC with this platform's
 * module key (as EVERIFYREPORT2 does; CP_ESIG for a report of another
 * platform or altered) and returns a DCAP quote v4 (malloc()ed): header,
 * TD 1.0 body, ECDSA P-256 signature by the attestation key, certification
 * data type 6 (QE report signed by the PCK key binding SHA-256(attestation
 * key || QE auth data), QE auth data, nested type 5 PCK chain). */
CP_WUR int cp_tdx_host_quote(cp_tdx_host *h, const uint8_t tdreport[CP_TDX_TDREPORT_SIZE], uint8_t **ret,
                             size_t *ret_len);
/* The same as a quote of version 4 (body type 2) or 5 with body type 2
 * (TD 1.0) or 3 (TD 1.5: TEE_TCB_SVN2 = TEE_TCB_SVN, as no module update
 * happens under a running software TD, and MRSERVICETD = the TDINFO's
 * SERVTD_HASH); v5 signs header || body type || body size || body. */
CP_WUR int cp_tdx_host_quote_ex(cp_tdx_host *h, const uint8_t tdreport[CP_TDX_TDREPORT_SIZE], uint16_t version,
                                uint16_t body_type, uint8_t **ret, size_t *ret_len);

/* ---- guest interfaces (tdx_guest.c) ------------------------------------- */

/* Linux include/uapi/linux/tdx-guest.h */
struct cp_tdx_report_req {
        uint8_t reportdata[64];
        uint8_t tdreport[CP_TDX_TDREPORT_SIZE];
};
#define CP_TDX_CMD_GET_REPORT0 0xC4405401ul /* _IOWR('T', 1, struct tdx_report_req) */

typedef int (*cp_tdx_ioctl_fn)(int fd, unsigned long request, void *arg, void *userdata);

/* configfs-tsm hook events (as snp_guest.h's): the emulated kernel acts there */
enum {
        CP_TDX_TSM_EVENT_CREATED = 1, /* after mkdir of the entry: the kernel's attribute files appear */
        CP_TDX_TSM_EVENT_WRITTEN,     /* after inblob was written: the kernel bumps generation */
        CP_TDX_TSM_EVENT_READING,     /* before outblob is read: the kernel makes the quote */
        CP_TDX_TSM_EVENT_REMOVING,    /* before rmdir */
};
typedef void (*cp_tdx_tsm_hook_fn)(const char *entry_dir, int event, void *userdata);

typedef struct cp_tdx_guest_options {
        const char *tsm_root;        /* NULL: /sys/kernel/config/tsm/report */
        cp_tdx_tsm_hook_fn tsm_hook; /* emulates the kernel (cp_tdx_emu_tsm_hook); NULL normally */
        void *tsm_userdata;
        const char *device;          /* NULL: /dev/tdx_guest */
        cp_tdx_ioctl_fn ioctl_fn;    /* NULL: ioctl(2) (cp_tdx_emu_ioctl emulates it) */
        void *ioctl_userdata;
        const char *socket_path;     /* set: the emulated channel below instead of configfs / the device */
} cp_tdx_guest_options;

/* A quote over configfs-tsm: mkdir an entry, the provider must be
 * "tdx_guest"; write inblob (64 bytes), read outblob, generation must have
 * moved by exactly one (else a concurrent writer: CP_EBADSEQ), rmdir.
 * CP_ENOTFOUND no configfs-tsm, CP_EUNSUPPORTED another provider,
 * CP_EFORMAT/CP_ETRUNC an outblob that does not parse as a TDX quote. */
CP_WUR int cp_tdx_guest_get_quote(const cp_tdx_guest_options *o, const uint8_t report_data[64], uint8_t **ret,
                                  size_t *ret_len);
/* A TDREPORT over /dev/tdx_guest TDX_CMD_GET_REPORT0 (CP_ENOTFOUND without
 * the device, CP_EIO when the ioctl fails). */
CP_WUR int cp_tdx_guest_get_report0(const cp_tdx_guest_options *o, const uint8_t report_data[64],
                                    uint8_t ret[CP_TDX_TDREPORT_SIZE]);

/* The kernel side, emulated for one TD of a software host: the configfs-tsm
 * hook (userdata: the cp_tdx_emu) writes provider "tdx_guest" and
 * generation on mkdir, bumps generation on writes, and on the outblob read
 * runs TDG.MR.REPORT then the host's QE (the GetQuote path); the ioctl
 * answers TDX_CMD_GET_REPORT0 with TDG.MR.REPORT.  h and td are borrowed. */
typedef struct cp_tdx_emu {
        cp_tdx_host *host;
        cp_tdx_td *td;
} cp_tdx_emu;
void cp_tdx_emu_tsm_hook(const char *entry_dir, int event, void *userdata);
int cp_tdx_emu_ioctl(int fd, unsigned long request, void *arg, void *userdata);

/*
 * The emulated channel of one TD (tdx_chan.c), for a guest in another
 * process (the agents of issue 16): one framed request and response per
 * unix socket connection; the socket's path and mode are the TD boundary.
 * All integers little-endian:
 *   request:  "CPTQ" u32 version=1, u32 op, u32 len, payload
 *             op 1 TDG.MR.REPORT: 64 bytes REPORTDATA -> the TDREPORT
 *             op 2 GetQuote: a 1024-byte TDREPORT -> the DCAP quote (the
 *                  host's quoting service; the QE checks the MAC)
 *   response: "CPTR" u32 status (0, or the negated cp_err), u32 len, payload
 * Refused without an answer: a bad magic, version or op, a length that is
 * not the op's (CP_EFORMAT), a short frame (CP_ETRUNC).
 */
#define CP_TDX_CHAN_REQ_MAGIC 0x51545043u /* "CPTQ" */
#define CP_TDX_CHAN_RSP_MAGIC 0x52545043u /* "CPTR" */
#define CP_TDX_CHAN_HDR_SIZE 16u
#define CP_TDX_CHAN_RSP_HDR_SIZE 12u
enum { CP_TDX_CHAN_REPORT = 1, CP_TDX_CHAN_QUOTE = 2 };
CP_WUR int cp_tdx_emu_serve_conn(cp_tdx_emu *e, int fd);
/* Listen on path (replaced, mode 0600) and serve each connection in a
 * thread until cp_tdx_chan_stop (which removes the socket).  e is borrowed. */
typedef struct cp_tdx_chan cp_tdx_chan;
CP_WUR int cp_tdx_chan_start(cp_tdx_emu *e, const char *path, cp_tdx_chan **ret);
cp_tdx_chan *cp_tdx_chan_stop(cp_tdx_chan *c);

/*
 * The host's quote endpoint of an Azure TDX CVM, emulated (issue 16): what
 * Azure's IMDS answers at http://169.254.169.254/acc/tdquote, served for
 * one software TDX host h (its QE) on bind_addr:port (0: ephemeral):
 *   POST /acc/tdquote  {"report": base64url(TDREPORT, 1024 bytes)}
 *   -> 200 {"quote": base64url(DCAP quote v4)}
 * A TDREPORT whose MAC is not this host's (another platform's, or changed)
 * is refused (400), as the host's QE refuses it.  h is borrowed and must
 * outlive the endpoint.
 */
typedef struct cp_tdx_imds cp_tdx_imds;
CP_WUR int cp_tdx_imds_start(cp_tdx_host *h, const char *bind_addr, uint16_t port, cp_tdx_imds **ret);
uint16_t cp_tdx_imds_port(const cp_tdx_imds *m);
cp_tdx_imds *cp_tdx_imds_stop(cp_tdx_imds *m);
#define CP_TDX_IMDS_PATH "/acc/tdquote"

#endif
