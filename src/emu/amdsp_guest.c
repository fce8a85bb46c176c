/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Software AMD-SP: guest launch (secrets page with VMPCK0-3), the guest
 * request handler (MSG_REPORT_REQ -> MSG_REPORT_RSP under the VMPCK, with
 * per-VMPCK sequence numbers) and report construction + VCEK/VLEK signing.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>
#include <openssl/ec.h>
#include <openssl/rand.h>

#include "basic/cleanup.h"
#include "basic/codec.h"
#include "basic/fileio.h"
#include "basic/limits.h"
#include "confpool/snp_idblock.h"
#include "ossl/ossl-util.h"
#include "emu/amdsp-internal.h"

static inline void amdsp_json_decrefp(json_t **p) {
        json_decref(*p);
}
CP_OSSL_DEFINE_FREEP(ECDSA_SIG, ECDSA_SIG_free)

static void guest_free(amdsp_guest *g) {
        if (!g)
                return;
        cp_wipe(g, sizeof(*g));
        free(g);
}

void amdsp_guests_free(cp_amdsp *sp) {
        for (size_t i = 0; i < sp->n_guests; i++)
                guest_free(sp->guests[i]);
        free(sp->guests);
        sp->guests = NULL;
        sp->n_guests = 0;
}

static int guest_path(const cp_amdsp *sp, uint32_t handle, char *out, size_t cap) {
        int n = snprintf(out, cap, "%s/guests/%u.json", sp->dir, handle);
        if (n < 0 || (size_t) n >= cap)
                return CP_ERROR(CP_EINVAL, "guest path too long");
        return 0;
}

static int put_hex(json_t *o, const char *key, const uint8_t *p, size_t n) {
        char buf[2 * 64 + 1];
        cp_hex_encode(p, n, buf);
        int r = json_object_set_new(o, key, json_string(buf)) < 0 ? cp_error_oom() : 0;
        cp_wipe(buf, sizeof(buf));
        return r;
}

static int get_hex(json_t *o, const char *key, uint8_t *out, size_t n) {
        const char *s = json_string_value(json_object_get(o, key));
        size_t got = 0;
        if (!s || cp_hex_decode(s, strlen(s), out, n, &got) < 0 || got != n)
                return CP_ERROR(CP_EFORMAT, "guest state: \"%s\" is not %zu hex bytes", key, n);
        return 0;
}

static int get_uint(json_t *o, const char *key, uint64_t max, uint64_t *ret) {
        json_t *v = json_object_get(o, key);
        if (!json_is_integer(v) || json_integer_value(v) < 0 || (uint64_t) json_integer_value(v) > max)
                return CP_ERROR(CP_EFORMAT, "guest state: \"%s\" missing or out of range", key);
        *ret = (uint64_t) json_integer_value(v);
        return 0;
}

/* A TCB_VERSION is a full 64-bit value (Milan's microcode SVN is its top
 * byte: 213 sets bit 63), beyond a JSON integer: 16 hex digits.  Files
 * written before held it as a (then negative) integer: read as the same
 * 64 bits. */
static int put_u64_hex(json_t *o, const char *key, uint64_t v) {
        char buf[17];
        snprintf(buf, sizeof(buf), "%016llx", (unsigned long long) v);
        return json_object_set_new(o, key, json_string(buf)) < 0 ? cp_error_oom() : 0;
}

static int get_u64_hex(json_t *o, const char *key, uint64_t *ret) {
        json_t *v = json_object_get(o, key);
        const char *s = json_string_value(v);
        if (json_is_integer(v)) {
                *ret = (uint64_t) json_integer_value(v);
                return 0;
        }
        char *end = NULL;
        if (!s || strlen(s) != 16 || strspn(s, "0123456789abcdef") != 16)
                return CP_ERROR(CP_EFORMAT, "guest state: \"%s\" is not 16 lower-case hex digits", key);
        *ret = (uint64_t) strtoull(s, &end, 16);
        return 0;
}

static int save_guest(cp_amdsp *sp, const amdsp_guest *g) {
        _cleanup_(amdsp_json_decrefp) json_t *o = json_object(), *seq = json_array();
        const cp_amdsp_launch *l = &g->launch;
        char path[4096];
        int r;

        if (!o || !seq)
                return cp_error_oom();
        for (unsigned i = 0; i < CP_SNP_VMPCK_COUNT; i++) {
                char key[16];
                snprintf(key, sizeof(key), "vmpck%u", i);
                if ((r = put_hex(o, key, g->vmpck[i], CP_SNP_VMPCK_LEN)) < 0)
                        return r;
                if (json_array_append_new(seq, json_integer((json_int_t) g->last_seqno[i])) < 0)
                        return cp_error_oom();
        }
        if (json_object_set_new(o, "handle", json_integer(g->handle)) < 0 ||
            json_object_set_new(o, "policy", json_integer((json_int_t) l->policy)) < 0 ||
            json_object_set_new(o, "has_id_block", json_boolean(l->has_id_block)) < 0 ||
            json_object_set_new(o, "author_key_en", json_boolean(l->author_key_en)) < 0 ||
            json_object_set_new(o, "guest_svn", json_integer(l->guest_svn)) < 0 ||
            json_object_set_new(o, "min_vmpl", json_integer(l->min_vmpl)) < 0 ||
            json_object_set(o, "last_seqno", seq) < 0)
                return cp_error_oom();
        if ((r = put_u64_hex(o, "launch_tcb", g->launch_tcb)) < 0)
                return r;
        if ((r = put_hex(o, "measurement", l->measurement, 48)) < 0 || (r = put_hex(o, "host_data", l->host_data, 32)) < 0 ||
            (r = put_hex(o, "id_key_digest", l->id_key_digest, 48)) < 0 ||
            (r = put_hex(o, "author_key_digest", l->author_key_digest, 48)) < 0 ||
            (r = put_hex(o, "family_id", l->family_id, 16)) < 0 || (r = put_hex(o, "image_id", l->image_id, 16)) < 0 ||
            (r = put_hex(o, "report_id", g->report_id, 32)) < 0)
                return r;
        char *text = json_dumps(o, JSON_INDENT(2) | JSON_SORT_KEYS);
        if (!text)
                return cp_error_oom();
        r = guest_path(sp, g->handle, path, sizeof(path));
        if (r >= 0)
                r = cp_write_file(path, text, strlen(text), 0600);
        cp_wipe(text, strlen(text));
        free(text);
        return r;
}

static int load_guest(cp_amdsp *sp, uint32_t handle, amdsp_guest **ret) {
        char path[4096];
        _cleanup_free_ uint8_t *data = NULL;
        size_t n = 0;
        json_error_t jerr;
        uint64_t v;
        int r;

        if ((r = guest_path(sp, handle, path, sizeof(path))) < 0 || (r = cp_read_file(path, 64 * 1024, &data, &n)) < 0)
                return r;
        _cleanup_(amdsp_json_decrefp) json_t *o = json_loadb((const char *) data, n, JSON_REJECT_DUPLICATES, &jerr);
        cp_wipe(data, n);
        if (!json_is_object(o))
                return CP_ERROR(CP_EFORMAT, "%s: %s", path, jerr.text);
        amdsp_guest *g = calloc(1, sizeof(*g));
        if (!g)
                return cp_error_oom();
        cp_amdsp_launch *l = &g->launch;
        g->handle = handle;
        json_t *seq = json_object_get(o, "last_seqno");
        if ((r = get_uint(o, "handle", UINT32_MAX, &v)) < 0 || v != handle)
                goto fail;
        if ((r = get_uint(o, "policy", INT64_MAX, &l->policy)) < 0 || (r = get_uint(o, "guest_svn", UINT32_MAX, &v)) < 0)
                goto fail;
        l->guest_svn = (uint32_t) v;
        if ((r = get_uint(o, "min_vmpl", 3, &v)) < 0)
                goto fail;
        l->min_vmpl = (unsigned) v;
        if ((r = get_u64_hex(o, "launch_tcb", &g->launch_tcb)) < 0)
                goto fail;
        l->has_id_block = json_is_true(json_object_get(o, "has_id_block"));
        l->author_key_en = json_is_true(json_object_get(o, "author_key_en"));
        if ((r = get_hex(o, "measurement", l->measurement, 48)) < 0 || (r = get_hex(o, "host_data", l->host_data, 32)) < 0 ||
            (r = get_hex(o, "id_key_digest", l->id_key_digest, 48)) < 0 ||
            (r = get_hex(o, "author_key_digest", l->author_key_digest, 48)) < 0 ||
            (r = get_hex(o, "family_id", l->family_id, 16)) < 0 || (r = get_hex(o, "image_id", l->image_id, 16)) < 0 ||
            (r = get_hex(o, "report_id", g->report_id, 32)) < 0)
                goto fail;
        if (!json_is_array(seq) || json_array_size(seq) != CP_SNP_VMPCK_COUNT) {
                r = CP_ERROR(CP_EFORMAT, "%s: bad last_seqno", path);
                goto fail;
        }
        for (unsigned i = 0; i < CP_SNP_VMPCK_COUNT; i++) {
                char key[16];
                json_t *s = json_array_get(seq, i);
                snprintf(key, sizeof(key), "vmpck%u", i);
                if ((r = get_hex(o, key, g->vmpck[i], CP_SNP_VMPCK_LEN)) < 0)
                        goto fail;
                if (!json_is_integer(s) || json_integer_value(s) < 0) {
                        r = CP_ERROR(CP_EFORMAT, "%s: bad last_seqno", path);
                        goto fail;
                }
                g->last_seqno[i] = (uint64_t) json_integer_value(s);
        }
        *ret = g;
        return 0;
fail:
        guest_free(g);
        return r;
}

static int add_guest(cp_amdsp *sp, amdsp_guest *g) {
        if (sp->n_guests >= CP_MAX_AMDSP_GUESTS)
                return CP_ERROR(CP_ETOOBIG, "more than %u guests", CP_MAX_AMDSP_GUESTS);
        amdsp_guest **n = realloc(sp->guests, (sp->n_guests + 1) * sizeof(*n));
        if (!n)
                return cp_error_oom();
        sp->guests = n;
        sp->guests[sp->n_guests++] = g;
        return 0;
}

/* The guest, from memory or (launched by another process) from disk. */
static int find_guest(cp_amdsp *sp, uint32_t handle, amdsp_guest **ret) {
        for (size_t i = 0; i < sp->n_guests; i++)
                if (sp->guests[i]->handle == handle) {
                        *ret = sp->guests[i];
                        return 0;
                }
        amdsp_guest *g = NULL;
        int r = load_guest(sp, handle, &g);
        if (r == CP_ENOTFOUND)
                return CP_ERROR(CP_ENOTFOUND, "no guest with handle %u", handle);
        if (r < 0)
                return r;
        if ((r = add_guest(sp, g)) < 0) {
                guest_free(g);
                return r;
        }
        *ret = g;
        return 0;
}

static int next_handle(cp_amdsp *sp, uint32_t *ret) {
        char dir[4096];
        uint32_t max = 0;
        snprintf(dir, sizeof(dir), "%s/guests", sp->dir);
        DIR *d = opendir(dir);
        if (d) {
                struct dirent *de;
                while ((de = readdir(d))) {
                        char *end = NULL;
                        unsigned long v = strtoul(de->d_name, &end, 10);
                        if (end && strcmp(end, ".json") == 0 && v > max && v < UINT32_MAX)
                                max = (uint32_t) v;
                }
                closedir(d);
        }
        for (size_t i = 0; i < sp->n_guests; i++)
                if (sp->guests[i]->handle > max)
                        max = sp->guests[i]->handle;
        if (max >= CP_MAX_AMDSP_GUESTS)
                return CP_ERROR(CP_ETOOBIG, "guest handles exhausted");
        *ret = max + 1;
        return 0;
}

static bool all_zero(const uint8_t *p, size_t n) {
        uint8_t acc = 0;
        for (size_t i = 0; i < n; i++)
                acc |= p[i];
        return acc == 0;
}

/* SNP_LAUNCH_UPDATE: the launch digest from the image and launch parameters. */
static int launch_measure(const cp_amdsp_launch *l, uint8_t ret[48]) {
        _cleanup_free_ uint8_t *fw = NULL;
        cp_snp_measure_params p = *l->measure;
        int r;

        if (!all_zero(l->measurement, sizeof(l->measurement)))
                return CP_ERROR(CP_EINVAL, "launch: both a claimed measurement and measurement parameters given");
        if (p.mode == CP_SNP_MODE_SEV || p.mode == CP_SNP_MODE_SEV_ES)
                return CP_ERROR(CP_EINVAL, "launch: an SNP guest needs mode snp, snp:ovmf-hash or snp:svsm");
        if (!p.ovmf) {
                if (!l->ovmf_path)
                        return CP_ERROR(CP_EINVAL, "launch: no firmware image (measure->ovmf or ovmf_path)");
                if ((r = cp_read_file(l->ovmf_path, CP_MAX_FIRMWARE_SIZE, &fw, &p.ovmf_len)) < 0)
                        return r;
                p.ovmf = fw;
        }
        if ((r = cp_snp_measure(&p, ret)) < 0)
                return cp_error_wrap("launch measurement");
        return 0;
}

/* SNP_LAUNCH_FINISH: verify the ID block against the launch digest and
 * policy; on success *out carries the reported ID fields. */
static int launch_id_block(const cp_amdsp_launch *l, cp_amdsp_launch *out) {
        cp_snp_id_auth_result res;
        int r;

        if (!l->id_block || !l->id_auth)
                return CP_ERROR(CP_EINVAL, "launch: an ID block needs its ID authentication information and vice versa");
        if (l->has_id_block || !all_zero(l->id_key_digest, 48) || !all_zero(l->author_key_digest, 48))
                return CP_ERROR(CP_EINVAL, "launch: both a claimed and a signed ID block given");
        r = cp_snp_id_auth_verify(l->id_block, l->id_block_len, l->id_auth, l->id_auth_len, out->measurement, &res);
        if (r < 0)
                return cp_error_wrap("launch refused: ID block does not verify");
        if (res.block.policy != l->policy)
                return CP_ERROR(CP_EPOLICY, "launch refused: ID block policy 0x%llx differs from the launch policy 0x%llx",
                                (unsigned long long) res.block.policy, (unsigned long long) l->policy);
        if ((!all_zero(l->family_id, 16) && !cp_ct_eq(l->family_id, res.block.family_id, 16)) ||
            (!all_zero(l->image_id, 16) && !cp_ct_eq(l->image_id, res.block.image_id, 16)) ||
            (l->guest_svn != 0 && l->guest_svn != res.block.guest_svn))
                return CP_ERROR(CP_EBINDING, "launch refused: family ID, image ID or guest SVN differ from the ID block");
        out->has_id_block = true;
        memcpy(out->id_key_digest, res.id_key_digest, 48);
        out->author_key_en = res.has_author_key;
        memcpy(out->author_key_digest, res.author_key_digest, 48);
        memcpy(out->family_id, res.block.family_id, 16);
        memcpy(out->image_id, res.block.image_id, 16);
        out->guest_svn = res.block.guest_svn;
        return 0;
}

int cp_amdsp_launch_guest(cp_amdsp *sp, const cp_amdsp_launch *l, uint32_t *ret_handle,
                          uint8_t ret_secrets[CP_SNP_SECRETS_PAGE_SIZE]) {
        char dir[4096];
        int r;

        if (!sp || !l || !ret_handle || !ret_secrets)
                return CP_ERROR(CP_EINVAL, "cp_amdsp_launch_guest: NULL argument");
        if (!(l->policy & CP_SNP_POLICY_RESERVED_1) || (l->policy & ~CP_SNP_POLICY_KNOWN_MASK))
                return CP_ERROR(CP_EINVAL, "guest policy 0x%llx: bit 17 must be set and bits 63:26 clear",
                                (unsigned long long) l->policy);
        if (l->min_vmpl > 3)
                return CP_ERROR(CP_EINVAL, "guest VMPL %u (0..3)", l->min_vmpl);
        if (CP_SNP_POLICY_ABI_MAJOR(l->policy) > sp->fw_major ||
            (CP_SNP_POLICY_ABI_MAJOR(l->policy) == sp->fw_major && CP_SNP_POLICY_ABI_MINOR(l->policy) > sp->fw_minor))
                return CP_ERROR(CP_EPOLICY, "guest policy requires firmware ABI %u.%u, host has %u.%u",
                                CP_SNP_POLICY_ABI_MAJOR(l->policy), CP_SNP_POLICY_ABI_MINOR(l->policy), sp->fw_major,
                                sp->fw_minor);
        if ((l->policy & CP_SNP_POLICY_SMT) == 0 && (sp->platform_info & CP_SNP_PLATFORM_SMT_EN))
                return CP_ERROR(CP_EPOLICY, "guest policy forbids SMT, which the host has enabled");

        if (!l->measure && l->ovmf_path)
                return CP_ERROR(CP_EINVAL, "launch: ovmf_path without measurement parameters");

        /* Resolve the launch before taking the lock: hashing the image is the
         * slow part.  The stored copy holds no borrowed pointers. */
        cp_amdsp_launch rl = *l;
        rl.measure = NULL;
        rl.ovmf_path = NULL;
        rl.id_block = rl.id_auth = NULL;
        rl.id_block_len = rl.id_auth_len = 0;
        if (l->measure && (r = launch_measure(l, rl.measurement)) < 0)
                return r;
        if ((l->id_block || l->id_auth) && (r = launch_id_block(l, &rl)) < 0)
                return r;

        amdsp_guest *g = calloc(1, sizeof(*g));
        if (!g)
                return cp_error_oom();
        g->launch = rl;
        if (!rl.has_id_block) {
                memset(g->launch.id_key_digest, 0, 48);
                memset(g->launch.author_key_digest, 0, 48);
                memset(g->launch.family_id, 0, 16);
                memset(g->launch.image_id, 0, 16);
                g->launch.author_key_en = false;
                g->launch.guest_svn = 0;
        } else if (!rl.author_key_en)
                memset(g->launch.author_key_digest, 0, 48);
        pthread_mutex_lock(&sp->lock);
        g->launch_tcb = amdsp_tcb_raw(sp);
        snprintf(dir, sizeof(dir), "%s/guests", sp->dir);
        if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
                r = CP_ERROR(CP_EIO, "cannot create '%s': %s", dir, strerror(errno));
                goto fail;
        }
        if ((r = next_handle(sp, &g->handle)) < 0)
                goto fail;
        if (RAND_priv_bytes((uint8_t *) g->vmpck, sizeof(g->vmpck)) != 1 ||
            RAND_bytes(g->report_id, sizeof(g->report_id)) != 1) {
                r = CP_OSSL_ERROR(CP_ECRYPTO, "RAND_bytes");
                goto fail;
        }
        if ((r = save_guest(sp, g)) < 0 || (r = add_guest(sp, g)) < 0)
                goto fail;
        /* Secrets page (Linux struct snp_secrets_page): VERSION 2, VMPCK0-3 at
         * 0x20; the guest OS area (sequence counters) starts zero.  VMPCKs
         * below the guest OS's VMPL are withheld as an SVSM does. */
        memset(ret_secrets, 0, CP_SNP_SECRETS_PAGE_SIZE);
        ret_secrets[0] = 2;
        for (unsigned i = l->min_vmpl; i < CP_SNP_VMPCK_COUNT; i++)
                memcpy(ret_secrets + CP_SNP_SECRETS_VMPCK_OFF + i * CP_SNP_VMPCK_LEN, g->vmpck[i], CP_SNP_VMPCK_LEN);
        *ret_handle = g->handle;
        pthread_mutex_unlock(&sp->lock);
        return 0;
fail:
        pthread_mutex_unlock(&sp->lock);
        guest_free(g);
        return r;
}

/* ---- reports ----------------------------------------------------------------- */

static void cpuid_of(cp_snp_generation g, uint8_t *fam, uint8_t *mod, uint8_t *step) {
        switch (g) {
        case CP_SNP_GEN_MILAN:
                *fam = 0x19, *mod = 0x01, *step = 1;
                break;
        case CP_SNP_GEN_GENOA:
                *fam = 0x19, *mod = 0x11, *step = 1;
                break;
        default:
                *fam = 0x1a, *mod = 0x02, *step = 1;
                break;
        }
}

static int sign_report(EVP_PKEY *key, const uint8_t body[CP_SNP_REPORT_SIGNED_SIZE], uint8_t r_le[72],
                       uint8_t s_le[72]) {
        _cleanup_evp_md_ctx_ EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        uint8_t der[128], be[48];
        size_t dlen = sizeof(der);
        if (!ctx || EVP_DigestSignInit(ctx, NULL, EVP_sha384(), NULL, key) != 1 ||
            EVP_DigestSign(ctx, der, &dlen, body, CP_SNP_REPORT_SIGNED_SIZE) != 1)
                return CP_OSSL_ERROR(CP_ECRYPTO, "ECDSA P-384 signature");
        const unsigned char *p = der;
        _cleanup_(cp_ECDSA_SIG_freep) ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &p, (long) dlen);
        if (!sig)
                return CP_OSSL_ERROR(CP_ECRYPTO, "ECDSA signature decoding");
        const BIGNUM *r = ECDSA_SIG_get0_r(sig), *s = ECDSA_SIG_get0_s(sig);
        memset(r_le, 0, 72);
        memset(s_le, 0, 72);
        if (BN_bn2binpad(r, be, 48) != 48)
                return CP_ERROR(CP_ECRYPTO, "ECDSA r too long");
        for (size_t i = 0; i < 48; i++)
                r_le[i] = be[47 - i];
        if (BN_bn2binpad(s, be, 48) != 48)
                return CP_ERROR(CP_ECRYPTO, "ECDSA s too long");
        for (size_t i = 0; i < 48; i++)
                s_le[i] = be[47 - i];
        return 0;
}

static int build_report(cp_amdsp *sp, const amdsp_guest *g, const cp_snp_report_req *q, bool vlek,
                        uint8_t out[CP_SNP_REPORT_SIZE]) {
        _cleanup_free_ cp_snp_report *r = calloc(1, sizeof(*r));
        const cp_amdsp_launch *l = &g->launch;
        uint64_t tcb = amdsp_tcb_raw(sp);
        int k;

        if (!r)
                return cp_error_oom();
        r->version = sp->report_version;
        r->guest_svn = l->guest_svn;
        r->policy = l->policy;
        memcpy(r->family_id, l->family_id, 16);
        memcpy(r->image_id, l->image_id, 16);
        r->vmpl = q->vmpl;
        r->signature_algo = 1;
        r->current_tcb = tcb;
        r->platform_info = sp->platform_info;
        r->author_key_en = l->has_id_block && l->author_key_en;
        r->mask_chip_key = sp->mask_chip_key;
        r->signing_key = vlek ? CP_SNP_SIGNING_KEY_VLEK : CP_SNP_SIGNING_KEY_VCEK;
        memcpy(r->report_data, q->report_data, 64);
        memcpy(r->measurement, l->measurement, 48);
        memcpy(r->host_data, l->host_data, 32);
        memcpy(r->id_key_digest, l->id_key_digest, 48);
        memcpy(r->author_key_digest, l->author_key_digest, 48);
        memcpy(r->report_id, g->report_id, 32);
        memset(r->report_id_ma, 0xff, 32); /* no migration agent */
        r->reported_tcb = tcb;
        if (r->version >= 3)
                cpuid_of(sp->gen, &r->cpuid_fam_id, &r->cpuid_mod_id, &r->cpuid_step);
        if (!sp->mask_chip_id)
                memcpy(r->chip_id, sp->chip_id, 64);
        r->committed_tcb = tcb;
        r->current_build = r->committed_build = sp->fw_build;
        r->current_minor = r->committed_minor = sp->fw_minor;
        r->current_major = r->committed_major = sp->fw_major;
        r->launch_tcb = g->launch_tcb;
        if (r->version >= 5) {
                /* as a real Genoa (firmware 1.55.43) reports them: bit 0 set in both */
                r->has_mit_vectors = true;
                r->launch_mit_vector = r->current_mit_vector = AMDSP_MIT_VECTOR;
        }
        if ((k = cp_snp_report_serialize(r, out)) < 0)
                return k;
        if (sp->mask_chip_key)
                return 0;
        EVP_PKEY *key = NULL;
        if ((k = amdsp_signing_key(sp, vlek, &key)) < 0 || (k = sign_report(key, out, r->signature_r, r->signature_s)) < 0)
                return k;
        return cp_snp_report_serialize(r, out);
}

static int make_certtable(cp_amdsp *sp, bool vlek, uint8_t **ret, size_t *ret_len) {
        _cleanup_free_ uint8_t *leaf = NULL, *inter = NULL, *ark = NULL;
        size_t ll = 0, il = 0, al = 0, need = 0;
        int r;
        if ((r = amdsp_leaf_der(sp, vlek, amdsp_tcb_raw(sp), &leaf, &ll)) < 0 ||
            (r = amdsp_x509_der(vlek ? sp->asvk : sp->ask, &inter, &il)) < 0 || (r = amdsp_x509_der(sp->ark, &ark, &al)) < 0)
                return r;
        cp_snp_cert_entry e[3] = {
                { .kind = vlek ? CP_SNP_CERT_VLEK : CP_SNP_CERT_VCEK, .data = leaf, .length = (uint32_t) ll },
                { .kind = CP_SNP_CERT_ASK, .data = inter, .length = (uint32_t) il },
                { .kind = CP_SNP_CERT_ARK, .data = ark, .length = (uint32_t) al },
        };
        for (size_t i = 0; i < 3; i++)
                memcpy(e[i].guid, cp_snp_cert_kind_guid(e[i].kind), 16);
        r = cp_snp_certtable_build(e, 3, NULL, 0, &need);
        if (r < 0 && r != CP_ETOOBIG)
                return r;
        cp_error_clear();
        uint8_t *out = malloc(need);
        if (!out)
                return cp_error_oom();
        if ((r = cp_snp_certtable_build(e, 3, out, need, &need)) < 0) {
                free(out);
                return r;
        }
        *ret = out;
        *ret_len = need;
        return 0;
}

int cp_amdsp_guest_request(cp_amdsp *sp, uint32_t handle, const uint8_t *req, size_t req_len, uint8_t *resp,
                           size_t resp_cap, size_t *ret_resp_len, uint8_t **certs, size_t *certs_len,
                           uint32_t *ret_fw_error) {
        uint8_t key[CP_SNP_VMPCK_LEN], plain[CP_MAX_SNP_GUEST_MSG], rsp[CP_SNP_MSG_REPORT_RSP_SIZE];
        cp_snp_msg_hdr h;
        cp_snp_report_req q;
        amdsp_guest *g = NULL;
        size_t plen = 0;
        uint32_t status = CP_SNP_FW_SUCCESS;
        bool vlek = false;
        int r;

        if (!sp || !req || !resp || !ret_resp_len || !ret_fw_error || (certs && !certs_len))
                return CP_ERROR(CP_EINVAL, "cp_amdsp_guest_request: NULL argument");
        *ret_fw_error = CP_SNP_FW_INVALID_PARAM;
        pthread_mutex_lock(&sp->lock);
        if ((r = find_guest(sp, handle, &g)) < 0 || (r = cp_snp_msg_parse(req, req_len, &h)) < 0)
                goto out;
        memcpy(key, g->vmpck[h.vmpck], sizeof(key));
        r = cp_snp_msg_open(key, req, req_len, &h, plain, sizeof(plain), &plen);
        if (r < 0)
                goto out;
        /* Sequence numbers: requests are odd, strictly above the last response. */
        if (h.seqno <= g->last_seqno[h.vmpck] || (h.seqno & 1) == 0) {
                r = CP_ERROR(CP_EBADSEQ, "guest %u VMPCK%u: sequence number %llu refused (last %llu): replay or "
                                         "out of order",
                             handle, h.vmpck, (unsigned long long) h.seqno,
                             (unsigned long long) g->last_seqno[h.vmpck]);
                goto out;
        }
        if (h.seqno == UINT64_MAX) {
                *ret_fw_error = CP_SNP_FW_AEAD_OFLOW;
                r = CP_ERROR(CP_EBADSEQ, "sequence number space exhausted");
                goto out;
        }
        if (h.msg_type != CP_SNP_MSG_REPORT_REQ || h.msg_version != 1) {
                r = CP_ERROR(CP_EUNSUPPORTED, "guest message type %u version %u is not supported", h.msg_type,
                             h.msg_version);
                goto out;
        }

        memset(rsp, 0, sizeof(rsp));
        if (cp_snp_report_req_parse(plain, plen, &q) < 0) {
                cp_error_clear();
                status = CP_SNP_FW_INVALID_PARAM;
        } else if (q.vmpl > 3 || q.vmpl < h.vmpck) {
                status = CP_SNP_FW_INVALID_PARAM; /* VMPCK n may only ask for VMPL >= n */
        } else if (q.key_sel == 3 || (q.key_sel == CP_SNP_KEY_SEL_VLEK && !sp->has_vlek)) {
                status = CP_SNP_FW_INVALID_PARAM;
        } else {
                vlek = q.key_sel == CP_SNP_KEY_SEL_VLEK || (q.key_sel == CP_SNP_KEY_SEL_DEFAULT && sp->has_vlek);
                r = build_report(sp, g, &q, vlek, rsp + 0x20);
                if (r < 0)
                        goto out;
                rsp[4] = CP_SNP_REPORT_SIZE & 0xff;
                rsp[5] = CP_SNP_REPORT_SIZE >> 8;
        }
        rsp[0] = (uint8_t) status;
        r = cp_snp_msg_seal(key, h.vmpck, h.seqno + 1, CP_SNP_MSG_REPORT_RSP, 1, rsp, sizeof(rsp), resp, resp_cap,
                            ret_resp_len);
        if (r < 0)
                goto out;
        uint64_t old = g->last_seqno[h.vmpck];
        g->last_seqno[h.vmpck] = h.seqno + 1;
        if ((r = save_guest(sp, g)) < 0) {
                g->last_seqno[h.vmpck] = old;
                goto out;
        }
        if (certs) {
                *certs = NULL;
                *certs_len = 0;
                if (status == CP_SNP_FW_SUCCESS && (r = make_certtable(sp, vlek, certs, certs_len)) < 0)
                        goto out;
        }
        *ret_fw_error = CP_SNP_FW_SUCCESS;
        r = 0;
out:
        pthread_mutex_unlock(&sp->lock);
        cp_wipe(key, sizeof(key));
        cp_wipe(plain, sizeof(plain));
        return r;
}
