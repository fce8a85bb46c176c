/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The software TDX module (tdx_emu.h): a TD's measurement registers as the
 * TDX module ABI defines them.  MRTD is a running SHA-384 over
 *   TDH.MEM.PAGE.ADD: 128 bytes "MEM.PAGE.ADD" (12) 0 (4) GPA (8, LE) 0 (104)
 *   TDH.MR.EXTEND:    128 bytes "MR.EXTEND" (9) 0 (7) GPA (8, LE) 0 (104),
 *                     then the 256 bytes of the chunk
 * finalized by TDH.MR.FINALIZE; RTMR[i] = SHA-384(RTMR[i] || data48).
 * TDG.MR.REPORT writes TDREPORT_STRUCT (1024 bytes):
 *   REPORTMACSTRUCT (256): REPORTTYPE {0x81, subtype 0, version 0, 0},
 *     reserved 12, CPUSVN 16, TEE_TCB_INFO_HASH 48, TEE_INFO_HASH 48,
 *     REPORTDATA 64, reserved 32, MAC 32
 *   TEE_TCB_INFO (239): VALID 8, TEE_TCB_SVN 16, MRSEAM 48, MRSIGNERSEAM 48,
 *     ATTRIBUTES 8, reserved 111;  reserved 17
 *   TDINFO (512): ATTRIBUTES 8, XFAM 8, MRTD, MRCONFIGID, MROWNER,
 *     MROWNERCONFIG, RTMR0..3 (48 each), SERVTD_HASH 48, reserved 64.
 * The MAC is HMAC-SHA-256 under the module's key over REPORTMACSTRUCT bytes
 * 0..223 (hardware uses a CPU-internal key and MAC; only this platform's QE
 * can check it, which is the property that matters).
 */
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/crypto.h>
#include <openssl/hmac.h>

#include "basic/cleanup.h"
#include "basic/cursor.h"
#include "basic/secure.h"
#include "emu/tdx-module-internal.h"
#include "ossl/ossl-util.h"

#define MAX_PAGES CP_TDVF_MAX_MEASURED_PAGES

struct cp_tdx_td {
        pthread_mutex_t lock;       /* every public call holds it */
        tdx_module *m;              /* the host's module (outlives the TD) */
        cp_tdx_td_params p;
        EVP_MD_CTX *mrtd_ctx;
        bool finalized;
        uint8_t mrtd[48];
        uint8_t rtmr[4][48];
        char *state_path;           /* cp_tdx_td_persist: written after finalize and every RTMR extend */
        uint64_t *pages;            /* sorted GPAs added with PAGE.ADD or AUG */
        bool *measured;             /* parallel: added with PAGE.ADD */
        size_t n_pages, cap_pages;
};

static int page_find(const cp_tdx_td *td, uint64_t gpa, size_t *pos) {
        size_t lo = 0, hi = td->n_pages;
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (td->pages[mid] < gpa)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        *pos = lo;
        return lo < td->n_pages && td->pages[lo] == gpa;
}

static int page_insert(cp_tdx_td *td, uint64_t gpa, bool measured) {
        size_t pos;
        if (td->finalized)
                return CP_ERROR(CP_EBADSEQ, "TD is finalized: no page may be added (GPA 0x%llx)", (unsigned long long) gpa);
        if (gpa & (CP_TDX_PAGE_SIZE - 1))
                return CP_ERROR(CP_EINVAL, "GPA 0x%llx is not page aligned", (unsigned long long) gpa);
        if (page_find(td, gpa, &pos))
                return CP_ERROR(CP_EINVAL, "page at GPA 0x%llx was already added", (unsigned long long) gpa);
        if (td->n_pages >= MAX_PAGES)
                return CP_ERROR(CP_ETOOBIG, "TD has %u pages already", MAX_PAGES);
        if (td->n_pages == td->cap_pages) {
                size_t nc = td->cap_pages ? 2 * td->cap_pages : 256;
                uint64_t *np = realloc(td->pages, nc * sizeof(*np));
                if (!np)
                        return cp_error_oom();
                td->pages = np;
                bool *nm = realloc(td->measured, nc * sizeof(*nm));
                if (!nm)
                        return cp_error_oom();
                td->measured = nm;
                td->cap_pages = nc;
        }
        memmove(td->pages + pos + 1, td->pages + pos, (td->n_pages - pos) * sizeof(*td->pages));
        memmove(td->measured + pos + 1, td->measured + pos, (td->n_pages - pos) * sizeof(*td->measured));
        td->pages[pos] = gpa;
        td->measured[pos] = measured;
        td->n_pages++;
        return 0;
}

static int mrtd_update(cp_tdx_td *td, const char *tag, uint64_t gpa, const uint8_t *chunk) {
        uint8_t b[CP_TDX_MR_BUF_SIZE] = { 0 };
        memcpy(b, tag, strlen(tag));
        cp_put_le64(b + 16, gpa);
        if (EVP_DigestUpdate(td->mrtd_ctx, b, sizeof(b)) != 1 ||
            (chunk && EVP_DigestUpdate(td->mrtd_ctx, chunk, CP_TDX_MR_EXTEND_CHUNK) != 1))
                return CP_OSSL_ERROR(CP_ECRYPTO, "SHA-384 failed");
        return 0;
}

int cp_tdx_td_create(cp_tdx_host *h, const cp_tdx_td_params *p, cp_tdx_td **ret) {
        static const cp_tdx_td_params none;
        if (!h || !ret)
                return CP_ERROR(CP_EINVAL, "cp_tdx_td_create: NULL argument");
        cp_tdx_td *td = calloc(1, sizeof(*td));
        if (!td)
                return cp_error_oom();
        pthread_mutex_init(&td->lock, NULL);
        td->m = tdx_host_module(h);
        td->p = p ? *p : none;
        if (!td->p.xfam)
                td->p.xfam = 0x61ae7;
        td->mrtd_ctx = EVP_MD_CTX_new();
        if (!td->mrtd_ctx || EVP_DigestInit_ex(td->mrtd_ctx, EVP_sha384(), NULL) != 1) {
                cp_tdx_td_free(td);
                return CP_OSSL_ERROR(CP_ECRYPTO, "SHA-384 failed");
        }
        *ret = td;
        return 0;
}

cp_tdx_td *cp_tdx_td_free(cp_tdx_td *td) {
        if (!td)
                return NULL;
        EVP_MD_CTX_free(td->mrtd_ctx);
        pthread_mutex_destroy(&td->lock);
        free(td->state_path);
        free(td->pages);
        free(td->measured);
        free(td);
        return NULL;
}

static int td_page_add(cp_tdx_td *td, uint64_t gpa) {
        int k = page_insert(td, gpa, true);
        return k < 0 ? k : mrtd_update(td, "MEM.PAGE.ADD", gpa, NULL);
}

static int td_page_aug(cp_tdx_td *td, uint64_t gpa) {
        return page_insert(td, gpa, false);
}

static int td_mr_extend(cp_tdx_td *td, uint64_t gpa, const uint8_t chunk[256]) {
        size_t pos;
        if (!td || !chunk)
                return CP_ERROR(CP_EINVAL, "cp_tdx_td_mr_extend: NULL argument");
        if (td->finalized)
                return CP_ERROR(CP_EBADSEQ, "TD is finalized: MR.EXTEND refused");
        if (gpa % CP_TDX_MR_EXTEND_CHUNK)
                return CP_ERROR(CP_EINVAL, "MR.EXTEND GPA 0x%llx is not 256-byte aligned", (unsigned long long) gpa);
        if (!page_find(td, gpa & ~(uint64_t) (CP_TDX_PAGE_SIZE - 1), &pos) || !td->measured[pos])
                return CP_ERROR(CP_EINVAL, "MR.EXTEND GPA 0x%llx is not in a page added with PAGE.ADD",
                                (unsigned long long) gpa);
        return mrtd_update(td, "MR.EXTEND", gpa, chunk);
}

/* PAGE.ADD (or PAGE.AUG) of every page of s. */
static int add_section_pages(cp_tdx_td *td, const cp_tdvf_section *s) {
        uint64_t pages = s->mem_size / CP_TDX_PAGE_SIZE;
        bool aug = s->attributes & CP_TDVF_ATTR_PAGE_AUG;
        int k;
        for (uint64_t pg = 0; pg < pages; pg++) {
                uint64_t gpa = s->gpa + pg * CP_TDX_PAGE_SIZE;
                if ((k = aug ? td_page_aug(td, gpa) : td_page_add(td, gpa)) < 0)
                        return k;
        }
        return 0;
}

/* The 16 chunks of page pg of s: image bytes up to raw_size, then zeros. */
static int extend_page(cp_tdx_td *td, const uint8_t *fw, const cp_tdvf_section *s, uint64_t pg) {
        int k;
        for (uint64_t c = 0; c < CP_TDX_PAGE_SIZE; c += CP_TDX_MR_EXTEND_CHUNK) {
                uint8_t chunk[CP_TDX_MR_EXTEND_CHUNK] = { 0 };
                uint64_t at = pg * CP_TDX_PAGE_SIZE + c;
                if (at < s->raw_size)
                        memcpy(chunk, fw + s->data_offset + at,
                               (size_t) (s->raw_size - at < sizeof(chunk) ? s->raw_size - at : sizeof(chunk)));
                if ((k = td_mr_extend(td, s->gpa + at, chunk)) < 0)
                        return k;
        }
        return 0;
}

static int td_load_tdvf(cp_tdx_td *td, const uint8_t *fw, size_t len, cp_tdx_page_order order) {
        cp_tdvf_info info;
        int k;
        if (!td || !fw)
                return CP_ERROR(CP_EINVAL, "cp_tdx_td_load_tdvf: NULL argument");
        if ((k = cp_tdvf_parse(fw, len, &info)) < 0)
                return k;
        for (size_t i = 0; i < info.n_sections; i++) {
                const cp_tdvf_section *s = &info.sections[i];
                bool ext = s->attributes & CP_TDVF_ATTR_MR_EXTEND;
                uint64_t pages = s->mem_size / CP_TDX_PAGE_SIZE;
                if (order == CP_TDX_ORDER_TWO_PASS || !ext) {
                        if ((k = add_section_pages(td, s)) < 0)
                                return k;
                        for (uint64_t pg = 0; ext && pg < pages; pg++)
                                if ((k = extend_page(td, fw, s, pg)) < 0)
                                        return k;
                        continue;
                }
                for (uint64_t pg = 0; pg < pages; pg++)
                        if ((k = td_page_add(td, s->gpa + pg * CP_TDX_PAGE_SIZE)) < 0 ||
                            (k = extend_page(td, fw, s, pg)) < 0)
                                return k;
        }
        return 0;
}

static int td_finalize(cp_tdx_td *td) {
        unsigned n = 0;
        if (!td)
                return CP_ERROR(CP_EINVAL, "cp_tdx_td_finalize: NULL argument");
        if (td->finalized)
                return CP_ERROR(CP_EBADSEQ, "TD is already finalized");
        if (EVP_DigestFinal_ex(td->mrtd_ctx, td->mrtd, &n) != 1 || n != 48)
                return CP_OSSL_ERROR(CP_ECRYPTO, "SHA-384 failed");
        td->finalized = true;
        return 0;
}

void cp_tdx_td_mrtd(cp_tdx_td *td, uint8_t ret[48]) {
        pthread_mutex_lock(&td->lock);
        memcpy(ret, td->mrtd, 48);
        pthread_mutex_unlock(&td->lock);
}

static int td_state_write(cp_tdx_td *td);

static int td_rtmr_extend(cp_tdx_td *td, unsigned idx, const uint8_t digest[48]) {
        uint8_t old[48];
        if (!td || !digest || idx > 3)
                return CP_ERROR(CP_EINVAL, "RTMR index %u is not 0..3", idx);
        if (!td->finalized)
                return CP_ERROR(CP_EBADSEQ, "TD is not finalized: RTMR.EXTEND is a guest call");
        memcpy(old, td->rtmr[idx], 48);
        int k = cp_tdx_rtmr_extend(td->rtmr[idx], digest);
        if (k >= 0 && td->state_path && (k = td_state_write(td)) < 0)
                memcpy(td->rtmr[idx], old, 48); /* not kept: the extend did not happen */
        return k;
}

static int sha384(const uint8_t *p, size_t n, uint8_t out[48]) {
        unsigned l = 0;
        if (EVP_Digest(p, n, out, &l, EVP_sha384(), NULL) != 1 || l != 48)
                return CP_OSSL_ERROR(CP_ECRYPTO, "SHA-384 failed");
        return 0;
}

int tdx_module_mac(const tdx_module *m, const uint8_t *data, size_t len, uint8_t out[32]) {
        unsigned l = 0;
        if (!HMAC(EVP_sha256(), m->mac_key, sizeof(m->mac_key), data, len, out, &l) || l != 32)
                return CP_OSSL_ERROR(CP_ECRYPTO, "HMAC-SHA-256 failed");
        return 0;
}

static void tee_tcb_info(const tdx_module *m, uint8_t out[CP_TDX_TEE_TCB_INFO_SIZE]) {
        memset(out, 0, CP_TDX_TEE_TCB_INFO_SIZE);
        cp_put_le64(out, 0x1ff);              /* VALID: the fields below */
        memcpy(out + 8, m->tee_tcb_svn, 16);
        memcpy(out + 24, m->mrseam, 48);
        memcpy(out + 72, m->mrsignerseam, 48);
        cp_put_le64(out + 120, m->seam_attributes);
}

static void td_info(const cp_tdx_td *td, uint8_t out[CP_TDX_TDINFO_SIZE]) {
        memset(out, 0, CP_TDX_TDINFO_SIZE);
        cp_put_le64(out, td->p.attributes);
        cp_put_le64(out + 8, td->p.xfam);
        memcpy(out + 16, td->mrtd, 48);
        memcpy(out + 64, td->p.mrconfigid, 48);
        memcpy(out + 112, td->p.mrowner, 48);
        memcpy(out + 160, td->p.mrownerconfig, 48);
        memcpy(out + 208, td->rtmr, 4 * 48);
        /* SERVTD_HASH (out + 400) zero: no service TD bound */
}

static int td_report(cp_tdx_td *td, const uint8_t report_data[64], uint8_t ret[CP_TDX_TDREPORT_SIZE]) {
        int k;
        if (!td || !report_data || !ret)
                return CP_ERROR(CP_EINVAL, "cp_tdx_td_report: NULL argument");
        if (!td->finalized)
                return CP_ERROR(CP_EBADSEQ, "TD is not finalized: TDG.MR.REPORT is a guest call");
        memset(ret, 0, CP_TDX_TDREPORT_SIZE);
        uint8_t *mac = ret, *tcb = ret + CP_TDX_REPORTMAC_SIZE, *info = ret + 512;
        tee_tcb_info(td->m, tcb);
        td_info(td, info);
        mac[0] = 0x81; /* TDX; subtype 0, version 0 */
        memcpy(mac + 16, td->m->cpusvn, 16);
        if ((k = sha384(tcb, CP_TDX_TEE_TCB_INFO_SIZE, mac + 32)) < 0 || (k = sha384(info, CP_TDX_TDINFO_SIZE, mac + 80)) < 0)
                return k;
        memcpy(mac + 128, report_data, 64);
        return tdx_module_mac(td->m, mac, CP_TDX_MAC_OFFSET, mac + CP_TDX_MAC_OFFSET);
}

/* ---- the public calls: one at a time per TD */

#define LOCKED(td, call)                                                        \
        do {                                                                    \
                if (!(td))                                                      \
                        return CP_ERROR(CP_EINVAL, "NULL TD");                  \
                pthread_mutex_lock(&(td)->lock);                                \
                int _k = (call);                                                \
                pthread_mutex_unlock(&(td)->lock);                              \
                return _k;                                                      \
        } while (0)

int cp_tdx_td_page_add(cp_tdx_td *td, uint64_t gpa) {
        LOCKED(td, td_page_add(td, gpa));
}

int cp_tdx_td_page_aug(cp_tdx_td *td, uint64_t gpa) {
        LOCKED(td, td_page_aug(td, gpa));
}

int cp_tdx_td_mr_extend(cp_tdx_td *td, uint64_t gpa, const uint8_t chunk[256]) {
        LOCKED(td, td_mr_extend(td, gpa, chunk));
}

int cp_tdx_td_load_tdvf(cp_tdx_td *td, const uint8_t *fw, size_t len, cp_tdx_page_order order) {
        LOCKED(td, td_load_tdvf(td, fw, len, order));
}

int cp_tdx_td_finalize(cp_tdx_td *td) {
        LOCKED(td, td_finalize(td));
}

int cp_tdx_td_rtmr_extend(cp_tdx_td *td, unsigned idx, const uint8_t digest[48]) {
        LOCKED(td, td_rtmr_extend(td, idx, digest));
}

int cp_tdx_td_report(cp_tdx_td *td, const uint8_t report_data[64], uint8_t ret[CP_TDX_TDREPORT_SIZE]) {
        LOCKED(td, td_report(td, report_data, ret));
}

int cp_tdx_host_launch(cp_tdx_host *h, const cp_tdx_td_params *p, const uint8_t *fw, size_t len,
                       cp_tdx_page_order order, cp_tdx_td **ret) {
        cp_tdx_td *td = NULL;
        int k;
        if (!ret)
                return CP_ERROR(CP_EINVAL, "cp_tdx_host_launch: NULL argument");
        if ((k = cp_tdx_td_create(h, p, &td)) < 0)
                return k;
        if ((fw && (k = cp_tdx_td_load_tdvf(td, fw, len, order)) < 0) || (k = cp_tdx_td_finalize(td)) < 0) {
                cp_tdx_td_free(td);
                return k;
        }
        *ret = td;
        return 0;
}

/* ---- a TD's state kept across a VMM restart (issue 16) ----
 *
 * A host's TDX module keeps a running TD's control structures in memory
 * the VMM cannot read or change; a VMM that restarts finds the TD still
 * there.  The software module lives in the VMM's (confpoold's) memory, so
 * it writes what a TD needs to resume to a file: TDINFO's inputs
 * (ATTRIBUTES, XFAM, MRCONFIGID, MROWNER, MROWNERCONFIG), MRTD and the four
 * RTMRs, under an HMAC-SHA-256 with a key derived from the platform's
 * module key: only the platform that wrote it resumes it, and a file
 * changed by anyone else (an RTMR rolled back, another MRTD) is refused. */

#define TD_STATE_LABEL "confpool software TDX: TD state v1"
#define TD_STATE_INPUT (sizeof(TD_STATE_LABEL) - 1 + 16 + 4 * 48 + 4 * 48)

static int td_state_mac(const tdx_module *m, const cp_tdx_td_params *p, const uint8_t mrtd[48],
                        const uint8_t rtmr[4][48], uint8_t out[32]) {
        static const char key_label[] = "confpool software TDX: TD state key";
        uint8_t key[32], in[TD_STATE_INPUT];
        unsigned l = 0;
        size_t o = sizeof(TD_STATE_LABEL) - 1;
        int k = tdx_module_mac(m, (const uint8_t *) key_label, sizeof(key_label) - 1, key);
        if (k < 0)
                return k;
        memcpy(in, TD_STATE_LABEL, o);
        cp_put_le64(in + o, p->attributes);
        cp_put_le64(in + o + 8, p->xfam);
        o += 16;
        memcpy(in + o, p->mrconfigid, 48);
        memcpy(in + o + 48, p->mrowner, 48);
        memcpy(in + o + 96, p->mrownerconfig, 48);
        memcpy(in + o + 144, mrtd, 48);
        memcpy(in + o + 192, rtmr, 4 * 48);
        bool ok = HMAC(EVP_sha256(), key, sizeof(key), in, sizeof(in), out, &l) && l == 32;
        cp_wipe(key, sizeof(key));
        return ok ? 0 : CP_OSSL_ERROR(CP_ECRYPTO, "HMAC-SHA-256 failed");
}

/* Lock held. */
static int td_state_write(cp_tdx_td *td) {
        uint8_t mac[32], le[8];
        int k = td_state_mac(td->m, &td->p, td->mrtd, (const uint8_t(*)[48]) td->rtmr, mac);
        if (k < 0)
                return k;
        json_t *o = json_pack("{s:I}", "version", (json_int_t) 1);
        static const char *const rn[4] = { "rtmr0", "rtmr1", "rtmr2", "rtmr3" };
        cp_put_le64(le, td->p.attributes);
        bool ok = o && tdx_emu_hex_to_json(o, "attributes", le, 8) >= 0;
        cp_put_le64(le, td->p.xfam);
        ok = ok && tdx_emu_hex_to_json(o, "xfam", le, 8) >= 0 &&
             tdx_emu_hex_to_json(o, "mrconfigid", td->p.mrconfigid, 48) >= 0 &&
             tdx_emu_hex_to_json(o, "mrowner", td->p.mrowner, 48) >= 0 &&
             tdx_emu_hex_to_json(o, "mrownerconfig", td->p.mrownerconfig, 48) >= 0 &&
             tdx_emu_hex_to_json(o, "mrtd", td->mrtd, 48) >= 0 && tdx_emu_hex_to_json(o, "mac", mac, 32) >= 0;
        for (unsigned i = 0; ok && i < 4; i++)
                ok = tdx_emu_hex_to_json(o, rn[i], td->rtmr[i], 48) >= 0;
        if (!ok) {
                json_decref(o);
                return cp_error_oom();
        }
        return tdx_emu_write_json(td->state_path, o) < 0 ? cp_error_wrap("TD state %s", td->state_path) : 0;
}

int cp_tdx_td_persist(cp_tdx_td *td, const char *path) {
        if (!td || !path || !*path)
                return CP_ERROR(CP_EINVAL, "cp_tdx_td_persist: a TD and a path are needed");
        pthread_mutex_lock(&td->lock);
        int k = 0;
        char *old = td->state_path;
        if (!td->finalized)
                k = CP_ERROR(CP_EBADSEQ, "TD is not finalized: nothing to persist yet");
        else if (!(td->state_path = strdup(path)))
                k = cp_error_oom();
        else if ((k = td_state_write(td)) < 0) {
                free(td->state_path);
                td->state_path = NULL;
        }
        if (k < 0)
                td->state_path = old;
        else
                free(old);
        pthread_mutex_unlock(&td->lock);
        return k;
}

static uint64_t le64(const uint8_t b[8]) {
        uint64_t v = 0;
        for (int i = 7; i >= 0; i--)
                v = v << 8 | b[i];
        return v;
}

static void json_decrefp_(json_t **p) {
        json_decref(*p);
}

/* The fields of a TD state file into td (not yet checked). */
static int td_state_parse(cp_tdx_td *td, const char *path, uint8_t mac[32]) {
        static const char *const rn[4] = { "rtmr0", "rtmr1", "rtmr2", "rtmr3" };
        json_error_t je;
        uint8_t le[8];
        int k;
        _cleanup_(json_decrefp_) json_t *o = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
        if (!o)
                return access(path, F_OK) != 0 ? CP_ERROR(CP_ENOTFOUND, "no TD state %s", path)
                                               : CP_ERROR(CP_EFORMAT, "TD state %s: %s", path, je.text);
        if (json_integer_value(json_object_get(o, "version")) != 1)
                return CP_ERROR(CP_EFORMAT, "TD state %s: not a software TDX TD state of version 1", path);
        if ((k = tdx_emu_hex_from_json(o, "attributes", le, 8)) < 0)
                return cp_error_wrap("TD state %s", path);
        td->p.attributes = le64(le);
        if ((k = tdx_emu_hex_from_json(o, "xfam", le, 8)) < 0)
                return cp_error_wrap("TD state %s", path);
        td->p.xfam = le64(le);
        if ((k = tdx_emu_hex_from_json(o, "mrconfigid", td->p.mrconfigid, 48)) < 0 ||
            (k = tdx_emu_hex_from_json(o, "mrowner", td->p.mrowner, 48)) < 0 ||
            (k = tdx_emu_hex_from_json(o, "mrownerconfig", td->p.mrownerconfig, 48)) < 0 ||
            (k = tdx_emu_hex_from_json(o, "mrtd", td->mrtd, 48)) < 0 ||
            (k = tdx_emu_hex_from_json(o, "mac", mac, 32)) < 0)
                return cp_error_wrap("TD state %s", path);
        for (unsigned i = 0; i < 4; i++)
                if ((k = tdx_emu_hex_from_json(o, rn[i], td->rtmr[i], 48)) < 0)
                        return cp_error_wrap("TD state %s", path);
        return 0;
}

int cp_tdx_td_resume(cp_tdx_host *h, const char *path, cp_tdx_td **ret) {
        uint8_t mac[32], want[32];
        int k;
        if (!h || !path || !ret)
                return CP_ERROR(CP_EINVAL, "cp_tdx_td_resume: NULL argument");
        cp_tdx_td *td = calloc(1, sizeof(*td));
        if (!td)
                return cp_error_oom();
        pthread_mutex_init(&td->lock, NULL);
        td->m = tdx_host_module(h);
        td->finalized = true;
        if ((k = td_state_parse(td, path, mac)) < 0 ||
            (k = td_state_mac(td->m, &td->p, td->mrtd, (const uint8_t(*)[48]) td->rtmr, want)) < 0 ||
            (CRYPTO_memcmp(mac, want, 32) != 0 &&
             (k = CP_ERROR(CP_ESIG, "TD state %s: its MAC does not verify under this platform's module key (altered, "
                                    "or written by another platform)", path)) < 0) ||
            (!(td->state_path = strdup(path)) && (k = cp_error_oom()) < 0)) {
                cp_tdx_td_free(td);
                return k;
        }
        *ret = td;
        return 0;
}
