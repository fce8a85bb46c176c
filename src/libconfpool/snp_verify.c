/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Orchestrates SEV-SNP verification (see confpool/snp_verify.h and
 * docs/verifier.md).  Order: parse -> signer -> endorsement chain (cached)
 * -> generation -> TCB -> CHIP_ID -> signature -> revocation -> policy.
 * Every step rejects by default; nothing here logs.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "basic/cleanup.h"
#include "basic/limits.h"
#include "basic/secure.h"
#include "confpool/snp_verify.h"
#include "libconfpool/ecfb.h"
#include "libconfpool/p384.h"

#define CHAIN_CACHE_SLOTS 1024u /* power of two */

typedef struct chain_entry {
        atomic_uint refs;
        uint8_t key[64]; /* SHA-256(leaf bytes) || SHA-256(intermediate bytes or nothing) */
        cp_amd_cert *leaf;
        cp_amd_cert *inter_owned;          /* the supplied ASK/ASVK, if one was supplied */
        const cp_amd_cert *inter;          /* the ASK/ASVK the leaf was verified under (owned or the trust store's) */
        cp_snp_generation gen;
        int64_t valid_from, valid_until;
        cp_p384_pub *pub;
        uint8_t pub_xy[96];                /* the leaf's key, for the fixed-base table cache */
} chain_entry;

typedef struct crl_slot {
        cp_amd_crl *crl;
} crl_slot;

struct cp_snp_verifier {
        cp_amd_trust *trust;
        pthread_mutex_t lock;
        chain_entry *cache[CHAIN_CACHE_SLOTS];
        crl_slot crls[_CP_SNP_GEN_MAX][2]; /* [gen][0 = VCEK line, 1 = VLEK line] */
        cp_ecfb_cache *fb;                 /* fixed-base tables of repeat VCEK/VLEK keys (issue 19) */
};

const char *cp_p384_backend_name(cp_p384_backend b) {
        switch (b) {
        case CP_P384_BACKEND_DEFAULT:
                return "default (fixed-base table for a repeat key, else nettle)";
        case CP_P384_BACKEND_NETTLE:
                return "nettle";
        case CP_P384_BACKEND_OPENSSL:
                return "openssl";
        default:
                return "invalid";
        }
}

static void entry_unref(chain_entry *e) {
        if (!e)
                return;
        if (atomic_fetch_sub(&e->refs, 1) != 1)
                return;
        cp_amd_cert_free(e->leaf);
        cp_amd_cert_free(e->inter_owned);
        cp_p384_pub_free(e->pub);
        free(e);
}

int cp_snp_verifier_new(cp_amd_trust *trust, cp_snp_verifier **ret) {
        cp_snp_verifier *v = calloc(1, sizeof(*v));
        if (!v) {
                cp_amd_trust_free(trust);
                return cp_error_oom();
        }
        if (!trust) {
                int r = cp_amd_trust_new_builtin(&trust);
                if (r < 0) {
                        free(v);
                        return r;
                }
        }
        int r = cp_ecfb_cache_new(CP_ECFB_CACHE_DEFAULT_CAPACITY, CP_ECFB_CACHE_DEFAULT_BUILD_AFTER, &v->fb);
        if (r < 0) {
                cp_amd_trust_free(trust);
                free(v);
                return r;
        }
        v->trust = trust;
        pthread_mutex_init(&v->lock, NULL);
        *ret = v;
        return 0;
}

cp_snp_verifier *cp_snp_verifier_free(cp_snp_verifier *v) {
        if (!v)
                return NULL;
        for (size_t i = 0; i < CHAIN_CACHE_SLOTS; i++)
                entry_unref(v->cache[i]);
        for (size_t g = 0; g < _CP_SNP_GEN_MAX; g++)
                for (size_t k = 0; k < 2; k++)
                        cp_amd_crl_free(v->crls[g][k].crl);
        cp_amd_trust_free(v->trust);
        cp_ecfb_cache_free(v->fb);
        pthread_mutex_destroy(&v->lock);
        free(v);
        return NULL;
}

void cp_snp_verifier_ecfb_stats(cp_snp_verifier *v, cp_ecfb_stats *ret) {
        cp_ecfb_cache_stats(v ? v->fb : NULL, ret);
}

const cp_amd_trust *cp_snp_verifier_trust(const cp_snp_verifier *v) {
        return v ? v->trust : NULL;
}

int cp_snp_verifier_add_crl(cp_snp_verifier *v, cp_snp_generation g, cp_amd_cert_kind kind, cp_amd_crl *crl) {
        if (!v || !crl || g <= CP_SNP_GEN_UNKNOWN || g >= _CP_SNP_GEN_MAX ||
            (kind != CP_AMD_CERT_ASK && kind != CP_AMD_CERT_ASVK)) {
                cp_amd_crl_free(crl);
                return CP_ERROR(CP_EINVAL, "cp_snp_verifier_add_crl: invalid arguments");
        }
        size_t line = kind == CP_AMD_CERT_ASVK;
        pthread_mutex_lock(&v->lock);
        cp_amd_crl *old = v->crls[g][line].crl;
        v->crls[g][line].crl = crl;
        pthread_mutex_unlock(&v->lock);
        /* Concurrent verifications hold the lock while using a CRL. */
        cp_amd_crl_free(old);
        return 0;
}

static int sha256(const uint8_t *p, size_t n, uint8_t out[32]) {
        unsigned int len = 32;
        if (!p || !n) {
                memset(out, 0, 32);
                return 0;
        }
        if (EVP_Digest(p, n, out, &len, EVP_sha256(), NULL) != 1)
                return CP_ERROR(CP_ECRYPTO, "SHA-256 failed");
        return 0;
}

static chain_entry *cache_lookup(cp_snp_verifier *v, const uint8_t key[64]) {
        size_t slot = ((size_t) key[0] | (size_t) key[1] << 8) & (CHAIN_CACHE_SLOTS - 1);
        chain_entry *e = NULL;
        pthread_mutex_lock(&v->lock);
        if (v->cache[slot] && cp_ct_eq(v->cache[slot]->key, key, 64)) {
                e = v->cache[slot];
                atomic_fetch_add(&e->refs, 1);
        }
        pthread_mutex_unlock(&v->lock);
        return e;
}

static void cache_insert(cp_snp_verifier *v, chain_entry *e) {
        size_t slot = ((size_t) e->key[0] | (size_t) e->key[1] << 8) & (CHAIN_CACHE_SLOTS - 1);
        atomic_fetch_add(&e->refs, 1);
        pthread_mutex_lock(&v->lock);
        chain_entry *old = v->cache[slot];
        v->cache[slot] = e;
        pthread_mutex_unlock(&v->lock);
        entry_unref(old);
}

/* Load an intermediate given as one certificate or as a cert_chain bundle. */
static int load_intermediate(const uint8_t *buf, size_t len, cp_amd_cert **ret) {
        cp_amd_cert *c = NULL;
        int r = cp_amd_cert_load(buf, len, &c);
        if (r == 0) {
                *ret = c;
                return 0;
        }
        r = cp_amd_cert_load_chain(buf, len, &c, NULL);
        if (r < 0)
                return cp_error_wrap("intermediate certificate");
        *ret = c;
        return 0;
}

/* The leaf may come alone or as a bundle with its issuer (as some tools
 * write vcek.pem); a bundle's ASK/ASVK is returned in *ret_inter if wanted. */
static int load_leaf(const uint8_t *buf, size_t len, cp_amd_cert **ret, cp_amd_cert **ret_inter) {
        cp_amd_cert *c = NULL;
        int r = cp_amd_cert_load(buf, len, &c);
        if (r == 0) {
                *ret = c;
                return 0;
        }
        if (r != CP_ETRAILING)
                return r;
        cp_amd_cert *all[CP_MAX_CHAIN_DEPTH] = { NULL };
        size_t n = 0;
        r = cp_amd_cert_load_bundle(buf, len, all, CP_ELEMENTSOF(all), &n);
        if (r < 0)
                return r;
        cp_amd_cert *leaf = NULL, *inter = NULL;
        for (size_t i = 0; i < n; i++) {
                cp_amd_cert_kind k = cp_amd_cert_info_get(all[i])->kind;
                if ((k == CP_AMD_CERT_VCEK || k == CP_AMD_CERT_VLEK) && !leaf)
                        leaf = TAKE_PTR(all[i]);
                else if ((k == CP_AMD_CERT_ASK || k == CP_AMD_CERT_ASVK) && !inter && ret_inter)
                        inter = TAKE_PTR(all[i]);
        }
        for (size_t i = 0; i < n; i++)
                cp_amd_cert_free(all[i]);
        if (!leaf) {
                cp_amd_cert_free(inter);
                return CP_ERROR(CP_ECERT, "certificate bundle holds no VCEK or VLEK");
        }
        *ret = leaf;
        if (ret_inter)
                *ret_inter = inter;
        return 0;
}

static void widen_window(const cp_amd_cert *c, int64_t *from, int64_t *until) {
        if (!c)
                return;
        const cp_amd_cert_info *i = cp_amd_cert_info_get(c);
        if (i->not_before > *from)
                *from = i->not_before;
        if (i->not_after < *until)
                *until = i->not_after;
}

/* Build (or fetch from cache) the verified endorsement chain. */
static int get_chain(cp_snp_verifier *v, const uint8_t *leaf_buf, size_t leaf_len, const uint8_t *int_buf,
                     size_t int_len, int64_t now, chain_entry **ret, bool *ret_hit) {
        uint8_t key[64];
        int r = sha256(leaf_buf, leaf_len, key);
        if (r == 0)
                r = sha256(int_buf, int_len, key + 32);
        if (r < 0)
                return r;

        chain_entry *e = cache_lookup(v, key);
        if (e) {
                if (now >= e->valid_from && now <= e->valid_until) {
                        *ret = e;
                        *ret_hit = true;
                        return 0;
                }
                entry_unref(e); /* outside the window: full verification gives the precise error */
        }

        cp_amd_cert *leaf = NULL, *inter = NULL;
        r = load_leaf(leaf_buf, leaf_len, &leaf, int_buf ? NULL : &inter);
        if (r < 0)
                return cp_error_wrap("endorsement key certificate");
        if (int_buf) {
                r = load_intermediate(int_buf, int_len, &inter);
                if (r < 0)
                        goto fail;
        }
        cp_snp_generation gen = CP_SNP_GEN_UNKNOWN;
        r = cp_amd_verify_chain(v->trust, leaf, inter, now, &gen);
        if (r == CP_ESIG) { /* a certificate signature: report it as a chain failure */
                char msg[CP_ERROR_MESSAGE_MAX];
                memcpy(msg, cp_error_message(), sizeof(msg));
                r = CP_ERROR(CP_ECERT, "%s", msg);
        }
        if (r < 0)
                goto fail;
        const cp_amd_cert_info *li = cp_amd_cert_info_get(leaf);
        e = calloc(1, sizeof(*e));
        if (!e) {
                r = cp_error_oom();
                goto fail;
        }
        atomic_init(&e->refs, 1);
        memcpy(e->key, key, sizeof(key));
        e->gen = gen;
        e->valid_from = INT64_MIN;
        e->valid_until = INT64_MAX;
        e->inter = inter ? inter
                         : cp_amd_trust_intermediate(v->trust, gen,
                                                     li->kind == CP_AMD_CERT_VLEK ? CP_AMD_CERT_ASVK : CP_AMD_CERT_ASK);
        widen_window(leaf, &e->valid_from, &e->valid_until);
        widen_window(e->inter, &e->valid_from, &e->valid_until);
        widen_window(cp_amd_trust_ark(v->trust, gen), &e->valid_from, &e->valid_until);
        uint8_t x[48], y[48];
        r = cp_amd_cert_p384_pubkey(leaf, x, y);
        if (r == 0)
                r = cp_p384_pub_new(x, y, &e->pub);
        if (r == 0) {
                memcpy(e->pub_xy, x, 48);
                memcpy(e->pub_xy + 48, y, 48);
        }
        if (r < 0) {
                free(e);
                goto fail;
        }
        e->leaf = leaf;
        e->inter_owned = inter;
        cache_insert(v, e);
        *ret = e;
        *ret_hit = false;
        return 0;
fail:
        cp_amd_cert_free(leaf);
        cp_amd_cert_free(inter);
        return r;
}

static bool tcb_equal(const cp_snp_tcb *a, const cp_snp_tcb *b, bool with_fmc) {
        return a->bl == b->bl && a->tee == b->tee && a->snp == b->snp && a->ucode == b->ucode &&
               (!with_fmc || a->fmc == b->fmc);
}

static void le_to_be48(const uint8_t le[72], uint8_t be[48]) {
        for (size_t i = 0; i < 48; i++)
                be[i] = le[47 - i];
}

/* The KDS CRL is issued by the ARK and lists revoked ASKs/ASVKs; it is
 * checked against the intermediate this leaf was actually verified under
 * (which may have come from the evidence).  VCEK serials are not looked up:
 * they are issued by the ASK (all real VCEKs have serial 0) and AMD
 * supersedes them by TCB updates instead of revoking them. */
static int check_revocation(cp_snp_verifier *v, cp_snp_generation gen, const chain_entry *e, int64_t now) {
        const cp_amd_cert_info *li = cp_amd_cert_info_get(e->leaf);
        bool vlek = li->kind == CP_AMD_CERT_VLEK;
        const cp_amd_cert *ark = cp_amd_trust_ark(v->trust, gen);
        int r;
        pthread_mutex_lock(&v->lock);
        const cp_amd_crl *crl = v->crls[gen][vlek].crl;
        if (!crl)
                r = CP_ERROR(CP_EREVOKED, "revocation check required but no %s CRL for %s was provided",
                             vlek ? "VLEK" : "VCEK", cp_snp_generation_name(gen));
        else if (!ark)
                r = CP_ERROR(CP_EUNTRUSTED, "no trusted ARK for %s", cp_snp_generation_name(gen));
        else if (!e->inter)
                r = CP_ERROR(CP_EREVOKED, "revocation check required but the %s is unknown",
                             vlek ? "ASVK" : "ASK");
        else
                r = cp_amd_crl_check(crl, ark, e->inter, now);
        pthread_mutex_unlock(&v->lock);
        return r;
}

/* The endorsement certificates of ev: explicit, else from its certificate
 * table, else the caller's get_leaf callback. */
static int find_endorsement(const cp_snp_evidence *ev, const cp_snp_verify_options *opts, const cp_snp_report *rep,
                            cp_amd_cert_kind want, const uint8_t **ret_leaf, size_t *ret_leaf_len,
                            const uint8_t **ret_int, size_t *ret_int_len) {
        const uint8_t *leaf_buf = ev->leaf, *int_buf = ev->intermediate;
        size_t leaf_len = ev->leaf_len, int_len = ev->intermediate_len;
        int r;
        if (ev->certtable) {
                cp_snp_certtable t;
                r = cp_snp_certtable_parse(ev->certtable, ev->certtable_len, &t);
                if (r < 0)
                        return cp_error_wrap("certificate table");
                const cp_snp_cert_entry *le =
                        cp_snp_certtable_find(&t, want == CP_AMD_CERT_VLEK ? CP_SNP_CERT_VLEK : CP_SNP_CERT_VCEK);
                const cp_snp_cert_entry *ie = cp_snp_certtable_find(&t, CP_SNP_CERT_ASK);
                if (!leaf_buf && le) {
                        leaf_buf = le->data;
                        leaf_len = le->length;
                }
                if (!int_buf && ie) {
                        int_buf = ie->data;
                        int_len = ie->length;
                }
        }
        if (!leaf_buf && opts->get_leaf && (r = opts->get_leaf(opts->userdata, rep, &leaf_buf, &leaf_len)) < 0)
                return r;
        if (!leaf_buf)
                return CP_ERROR(CP_ENOTFOUND, "no %s certificate supplied (fetch it from the KDS: confpool snp fetch vcek)",
                                cp_amd_cert_kind_name(want));
        *ret_leaf = leaf_buf;
        *ret_leaf_len = leaf_len;
        *ret_int = int_buf;
        *ret_int_len = int_len;
        return 0;
}

/* The certificate is the kind the report names, for the generation its
 * CPUID (v3+) names and the caller requires. */
static int check_signer(const cp_snp_report *rep, const cp_amd_cert_info *li, cp_amd_cert_kind want,
                        cp_snp_generation gen, cp_snp_generation product) {
        if (li->kind != want)
                return CP_ERROR(CP_ECERT, "report is signed by the %s but the certificate is a %s",
                                cp_amd_cert_kind_name(want), cp_amd_cert_kind_name(li->kind));
        if (rep->cpuid_generation != CP_SNP_GEN_UNKNOWN && rep->cpuid_generation != gen)
                return CP_ERROR(CP_ECERT, "report CPUID says %s but the certificate is for %s",
                                cp_snp_generation_name(rep->cpuid_generation), cp_snp_generation_name(gen));
        if (product != CP_SNP_GEN_UNKNOWN && product != gen)
                return CP_ERROR(CP_ECERT, "product %s required but the certificate is for %s",
                                cp_snp_generation_name(product), cp_snp_generation_name(gen));
        return 0;
}

/* The report's four TCB_VERSIONs decoded into res; the certificate's SPLs
 * equal REPORTED_TCB and are not newer than CURRENT_TCB. */
static int check_tcb(const cp_snp_report *rep, const cp_amd_cert_info *li, cp_snp_generation gen,
                     cp_snp_verify_result *res) {
        if (cp_snp_tcb_decode(rep->reported_tcb, gen, &res->reported_tcb) < 0 ||
            cp_snp_tcb_decode(rep->current_tcb, gen, &res->current_tcb) < 0 ||
            cp_snp_tcb_decode(rep->committed_tcb, gen, &res->committed_tcb) < 0 ||
            cp_snp_tcb_decode(rep->launch_tcb, gen, &res->launch_tcb) < 0)
                return cp_error_wrap("TCB_VERSION for %s", cp_snp_generation_name(gen));
        if (!li->has_tcb)
                return CP_ERROR(CP_ECERT, "endorsement certificate carries no TCB extensions");
        if (!tcb_equal(&li->tcb, &res->reported_tcb, gen == CP_SNP_GEN_TURIN))
                return CP_ERROR(CP_ETCB,
                                "certificate TCB (bl %u tee %u snp %u ucode %u fmc %u) differs from REPORTED_TCB "
                                "(bl %u tee %u snp %u ucode %u fmc %u)",
                                li->tcb.bl, li->tcb.tee, li->tcb.snp, li->tcb.ucode, li->tcb.fmc,
                                res->reported_tcb.bl, res->reported_tcb.tee, res->reported_tcb.snp,
                                res->reported_tcb.ucode, res->reported_tcb.fmc);
        if (!cp_snp_tcb_ge(&res->current_tcb, &li->tcb))
                return CP_ERROR(CP_ETCB, "certificate TCB is newer than CURRENT_TCB");
        return 0;
}

/* CHIP_ID == the VCEK's hwID (unless the chip ID is masked); *ret_checked
 * tells whether there was one to compare. */
static int check_chip_id(const cp_snp_report *rep, const cp_amd_cert_info *li, cp_amd_cert_kind want,
                         cp_snp_generation gen, bool *ret_checked) {
        *ret_checked = false;
        if (want != CP_AMD_CERT_VCEK || cp_ct_is_zero(rep->chip_id, sizeof(rep->chip_id)))
                return 0;
        size_t n = li->hwid_len, expect = gen == CP_SNP_GEN_TURIN ? 8u : 64u;
        if (n != expect)
                return CP_ERROR(CP_ECERT, "VCEK hwID has %zu bytes, %s expects %zu", n, cp_snp_generation_name(gen),
                                expect);
        if (!cp_ct_eq(li->hwid, rep->chip_id, n) || (n < 64 && !cp_ct_is_zero(rep->chip_id + n, 64 - n)))
                return CP_ERROR(CP_ECHIPID, "CHIP_ID does not match the VCEK's hwID");
        *ret_checked = true;
        return 0;
}

/* The ECDSA P-384 signature over bytes 0x000-0x29F. */
static int check_signature(cp_snp_verifier *v, const cp_snp_report *rep, const chain_entry *e,
                           cp_p384_backend backend, cp_amd_cert_kind want) {
        uint8_t digest[48], sr[48], ss[48];
        unsigned int dlen = sizeof(digest);
        if (EVP_Digest(rep->raw, CP_SNP_REPORT_SIGNED_SIZE, digest, &dlen, EVP_sha384(), NULL) != 1)
                return CP_ERROR(CP_ECRYPTO, "SHA-384 failed");
        le_to_be48(rep->signature_r, sr);
        le_to_be48(rep->signature_s, ss);
        /* the default: the key's fixed-base table once it has been seen
         * before (built from this validated certificate's key), else nettle */
        cp_ecfb_table *t = backend == CP_P384_BACKEND_DEFAULT ? cp_ecfb_cache_get(v->fb, CP_ECFB_P384, e->pub_xy) : NULL;
        int r = t ? cp_ecfb_verify(t, digest, sizeof(digest), sr, ss)
                  : cp_p384_verify(e->pub, backend == CP_P384_BACKEND_DEFAULT ? CP_P384_BACKEND_NETTLE : backend,
                                   digest, sr, ss);
        cp_ecfb_table_unref(t);
        if (r < 0)
                return cp_error_wrap("report signature (%s)", cp_amd_cert_kind_name(want));
        return 0;
}

/* Everything after the chain is known: signer, TCB, chip ID, signature,
 * revocation, policy; fills res. */
static int verify_with_chain(cp_snp_verifier *v, const cp_snp_verify_options *opts, chain_entry *e,
                             cp_amd_cert_kind want, cp_p384_backend backend, int64_t now, cp_snp_verify_result *res) {
        const cp_snp_report *rep = &res->report;
        const cp_amd_cert_info *li = cp_amd_cert_info_get(e->leaf);
        cp_snp_generation gen = e->gen;
        int r;
        if ((r = check_signer(rep, li, want, gen, opts->product)) < 0)
                return r;
        if (opts->check_revocation && opts->prepare_revocation &&
            (r = opts->prepare_revocation(opts->userdata, gen, li->kind)) < 0)
                return r;
        if ((r = check_tcb(rep, li, gen, res)) < 0 ||
            (r = check_chip_id(rep, li, want, gen, &res->chip_id_checked)) < 0 ||
            (r = check_signature(v, rep, e, backend, want)) < 0)
                return r;
        if (opts->check_revocation) {
                if ((r = check_revocation(v, gen, e, now)) < 0)
                        return r;
                res->revocation_checked = true;
        }
        if (opts->policy) {
                if ((r = cp_snp_policy_check(opts->policy, rep, gen)) < 0)
                        return r;
                res->policy_checked = true;
        }
        res->generation = gen;
        res->signer = li->kind;
        memcpy(res->product_name, li->product_name, sizeof(res->product_name));
        memcpy(res->csp_id, li->csp_id, sizeof(res->csp_id));
        res->valid_from = e->valid_from;
        res->valid_until = e->valid_until;
        return 0;
}

int cp_snp_verify(cp_snp_verifier *v, const cp_snp_evidence *ev, const cp_snp_verify_options *opts,
                  cp_snp_verify_result *ret) {
        static const cp_snp_verify_options defaults = CP_SNP_VERIFY_OPTIONS_INIT;
        if (!v || !ev || !ret)
                return CP_ERROR(CP_EINVAL, "cp_snp_verify: NULL argument");
        if (!opts)
                opts = &defaults;
        if (opts->version != CP_SNP_VERIFY_OPTIONS_VERSION)
                return CP_ERROR(CP_EINVAL, "cp_snp_verify: options version %u, expected %u", opts->version,
                                CP_SNP_VERIFY_OPTIONS_VERSION);
        /* DEFAULT: fixed-base tables for repeat keys, nettle (the faster
         * library on x86_64, bench/bench-verify) for the others */
        cp_p384_backend backend = opts->backend;
        int64_t now = opts->now ? opts->now : (int64_t) time(NULL);

        /* The result is large (it holds the report); build it on the heap. */
        _cleanup_free_ cp_snp_verify_result *res = calloc(1, sizeof(*res));
        if (!res)
                return cp_error_oom();

        int r = cp_snp_report_parse(ev->report, ev->report_len, opts->parse_flags, &res->report);
        if (r < 0)
                return cp_error_wrap("attestation report");
        const cp_snp_report *rep = &res->report;
        if (rep->signing_key == CP_SNP_SIGNING_KEY_NONE)
                return CP_ERROR(CP_ESIG, "report is not signed (SIGNING_KEY = none)");
        if (rep->mask_chip_key)
                return CP_ERROR(CP_ESIG, "report signature is masked (MASK_CHIP_KEY set)");
        cp_amd_cert_kind want = rep->signing_key == CP_SNP_SIGNING_KEY_VLEK ? CP_AMD_CERT_VLEK : CP_AMD_CERT_VCEK;

        const uint8_t *leaf, *inter;
        size_t leaf_len, int_len;
        if ((r = find_endorsement(ev, opts, rep, want, &leaf, &leaf_len, &inter, &int_len)) < 0)
                return r;
        chain_entry *e = NULL;
        if ((r = get_chain(v, leaf, leaf_len, inter, int_len, now, &e, &res->cache_hit)) < 0)
                return r;
        r = verify_with_chain(v, opts, e, want, backend, now, res);
        entry_unref(e);
        if (r < 0)
                return r;
        memcpy(ret, res, sizeof(*res));
        return 0;
}
