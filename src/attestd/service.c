/* SPDX-License-Identifier: Apache-2.0 */
/* confpool-attestd: service object, signing keys, nonces, policies, tokens,
 * metrics. */

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>
#include <openssl/sha.h>

#include "attestd/attestd-internal.h"
#include "basic/cleanup.h"
#include "basic/codec.h"
#include "basic/secure.h"

const char attestd_default_policy[] = "version=1.0;\n"
                                      "authorizationrules {\n"
                                      "    [type==\"x-ms-sevsnpvm-is-debuggable\", value==true] => deny();\n"
                                      "    [type==\"x-ms-sevsnpvm-is-debuggable\", value==false] => permit();\n"
                                      "};\n"
                                      "issuancerules {\n"
                                      "};\n";

/* TdxVm's default (issue 16): a debug TD is refused, everything else
 * verified is permitted (attester_tcb_status is for the relying party, as
 * MAA leaves it; the control plane's pool policy accepts UpToDate only). */
const char attestd_default_policy_tdx[] = "version=1.0;\n"
                                          "authorizationrules {\n"
                                          "    [type==\"tdx_td_attributes_debug\", value==true] => deny();\n"
                                          "    [type==\"tdx_td_attributes_debug\", value==false] => permit();\n"
                                          "};\n"
                                          "issuancerules {\n"
                                          "};\n";

/* AzureGuest's default (issue 16): the TEE's claims are under
 * x-ms-isolation-tee, as MAA issues them; a debug TD is refused. */
const char attestd_default_policy_guest[] = "version=1.0;\n"
                                            "authorizationrules {\n"
                                            "    [type==\"x-ms-isolation-tee.tdx_td_attributes_debug\", value==true] => "
                                            "deny();\n"
                                            "    [type==\"x-ms-isolation-tee.tdx_td_attributes_debug\", value==false] => "
                                            "permit();\n"
                                            "};\n"
                                            "issuancerules {\n"
                                            "};\n";

static const char *type_names[_ATT_MAX] = {
        [ATT_SEVSNPVM] = "SevSnpVm",
        [ATT_AZURE_VTPM] = "AzureSnpVtpm",
        [ATT_NATIVE] = "Native",
        [ATT_TDXVM] = "TdxVm",
        [ATT_AZURE_GUEST] = "AzureGuest",
};

const char *attestd_type_name(attestd_type t) {
        return t < _ATT_MAX ? type_names[t] : "unknown";
}

int64_t attestd_now(const cp_attestd *s) {
        int64_t n = atomic_load(&((cp_attestd *) s)->now);
        return n ? n : (int64_t) time(NULL);
}

void cp_attestd_set_now(cp_attestd *s, int64_t now) {
        atomic_store(&s->now, now);
}

/* ---- keys ------------------------------------------------------------------ */

/* The prepared signer of a key for the current issuer: the header as
 * cp_jwt_sign writes it (alg, kid, typ) plus jku. */
static int make_signer(const cp_attestd *s, const signing_key *key, cp_jwt_signer **ret) {
        char jku[300];
        snprintf(jku, sizeof(jku), "%s/certs", s->issuer);
        json_t *extra = json_pack("{s:s}", "jku", jku);
        if (!extra)
                return cp_error_oom();
        int r = cp_jwt_signer_new(key->key, extra, ret);
        json_decref(extra);
        return r;
}

/* Prepare the signer of every key for the current issuer; keys_lock held for writing. */
void attestd_cache_signers(cp_attestd *s) {
        for (size_t i = 0; i < s->n_keys; i++) {
                signing_key *e = &s->keys[i];
                if (e->signer && strcmp(e->signer_issuer, s->issuer) == 0)
                        continue;
                e->signer = cp_jwt_signer_free(e->signer);
                if (make_signer(s, e, &e->signer) < 0)
                        cp_error_clear(); /* issue_token prepares one per request then */
                else
                        snprintf(e->signer_issuer, sizeof(e->signer_issuer), "%s", s->issuer);
        }
}

static int add_key(cp_attestd *s) {
        cp_jwt_key *k = NULL;
        int64_t now = attestd_now(s);
        int r = cp_jwt_key_generate(s->cfg.alg ? s->cfg.alg : CP_JWT_RS256, "confpool-attestd token signing", now, 365,
                                    &k);
        if (r < 0)
                return r;
        pthread_rwlock_wrlock(&s->keys_lock);
        /* retire the current key; drop retired keys whose tokens have all expired */
        size_t w = 0;
        for (size_t i = 0; i < s->n_keys; i++) {
                signing_key *e = &s->keys[i];
                if (e->retired_at == 0)
                        e->retired_at = now;
                bool expired = e->retired_at + (int64_t) s->cfg.token_lifetime_s + 60 < now;
                bool make_room = s->n_keys == ATTESTD_MAX_KEYS && i == 0; /* drop the oldest */
                if (expired || make_room) {
                        cp_jwt_signer_free(e->signer);
                        cp_jwt_key_free(e->key);
                        continue;
                }
                s->keys[w++] = *e;
        }
        s->n_keys = w;
        s->keys[s->n_keys] = (signing_key){ .key = k };
        s->n_keys++;
        attestd_cache_signers(s);
        pthread_rwlock_unlock(&s->keys_lock);
        return 0;
}

int cp_attestd_rotate_key(cp_attestd *s) {
        if (s->cfg.signing_key_dir) {
                pthread_mutex_lock(&s->keydir_lock);
                int r = attestd_keydir_sync(s, true);
                pthread_mutex_unlock(&s->keydir_lock);
                return r;
        }
        return add_key(s);
}

int cp_attestd_jwks_json(cp_attestd *s, char **ret) {
        json_t *keys = json_array();
        int r = 0;
        if (!keys)
                return cp_error_oom();
        attestd_keydir_refresh(s);
        pthread_rwlock_rdlock(&s->keys_lock);
        for (size_t i = 0; i < s->n_keys && r == 0; i++) {
                json_t *jwk = NULL;
                if ((r = cp_jwt_key_to_jwk(s->keys[i].key, &jwk)) == 0)
                        json_array_append_new(keys, jwk);
        }
        pthread_rwlock_unlock(&s->keys_lock);
        json_t *doc = json_pack("{s:o}", "keys", keys);
        if (r < 0 || !doc) {
                json_decref(doc);
                return r < 0 ? r : cp_error_oom();
        }
        char *txt = json_dumps(doc, JSON_COMPACT);
        json_decref(doc);
        if (!txt)
                return cp_error_oom();
        *ret = txt;
        return 0;
}

/* ---- policies -------------------------------------------------------------- */

/* Find the slot of (tenant, type); with create, a free slot. */
static policy_slot *policy_find(cp_attestd *s, const char *tenant, attestd_type type, bool create) {
        policy_slot *free_slot = NULL;
        for (size_t i = 0; i < ATTESTD_POLICY_SLOTS; i++) {
                policy_slot *p = &s->policies[i];
                if (p->used && p->type == type && strcmp(p->tenant, tenant) == 0)
                        return p;
                if (!p->used && !free_slot)
                        free_slot = p;
        }
        return create ? free_slot : NULL;
}

static int policy_set(cp_attestd *s, const char *tenant, attestd_type type, const char *text, size_t len,
                      cp_maa_parse_error *err) {
        cp_maa_policy *pol = NULL;
        char *copy = NULL;
        int r;
        char hash[44];
        if (text) {
                if ((r = cp_maa_policy_parse(text, len, &pol, err)) < 0)
                        return r;
                if ((r = cp_maa_policy_hash(text, len, hash)) < 0) {
                        cp_maa_policy_free(pol);
                        return r;
                }
                copy = strndup(text, len);
                if (!copy) {
                        cp_maa_policy_free(pol);
                        return cp_error_oom();
                }
        }
        pthread_rwlock_wrlock(&s->policy_lock);
        policy_slot *p = policy_find(s, tenant, type, text != NULL);
        if (!p) {
                pthread_rwlock_unlock(&s->policy_lock);
                cp_maa_policy_free(pol);
                free(copy);
                return text ? CP_ERROR(CP_ETOOBIG, "policy store full") : 0;
        }
        cp_maa_policy_free(p->policy);
        free(p->text);
        if (text) {
                p->used = true;
                snprintf(p->tenant, sizeof(p->tenant), "%s", tenant);
                p->type = type;
                p->text = copy;
                memcpy(p->hash, hash, sizeof(hash));
                p->policy = pol;
        } else
                memset(p, 0, sizeof(*p));
        pthread_rwlock_unlock(&s->policy_lock);
        return 0;
}

static json_t *claims_to_json_value(const cp_maa_claim *c) {
        switch (c->vtype) {
        case CP_MAA_STRING:
                return json_string(c->s);
        case CP_MAA_INTEGER:
                return json_integer(c->i);
        default:
                return json_boolean(c->b);
        }
}

/* ---- tokens ------------------------------------------------------------------ */

int attestd_tmpl_new(json_t *claims, claims_tmpl **ret) {
        claims_tmpl *t = calloc(1, sizeof(*t));
        char *txt = cp_json_dumps_plain(claims);
        const char *k;
        json_t *v;
        int r = !t || !txt ? cp_error_oom() : cp_maa_claims_new(&t->maa);
        if (r >= 0)
                json_object_foreach(claims, k, v) {
                        if ((r = cp_maa_claims_add_json(t->maa, k, NULL, v)) < 0)
                                break;
                }
        if (r < 0) {
                if (t)
                        cp_maa_claims_free(t->maa);
                free(t);
                free(txt);
                json_decref(claims);
                return r;
        }
        atomic_init(&t->ref, 1);
        t->claims = claims;
        /* strip the braces: "{...}" -> "..." */
        size_t n = strlen(txt);
        memmove(txt, txt + 1, n - 2);
        txt[n - 2] = '\0';
        t->json = txt;
        t->json_len = n - 2;
        *ret = t;
        return 0;
}

void attestd_tmpl_unref(claims_tmpl *t) {
        if (!t || atomic_fetch_sub(&t->ref, 1) != 1)
                return;
        json_decref(t->claims);
        free(t->json);
        cp_maa_claims_free(t->maa);
        free(t->key);
        free(t);
}

void attestd_tmpl_set_clear(tmpl_set *ts) {
        for (size_t i = 0; ts && i < ts->n; i++)
                attestd_tmpl_unref(ts->t[i]);
        if (ts)
                ts->n = 0;
}

static int append(char **buf, size_t *len, size_t *cap, const char *p, size_t n) {
        if (*len + n + 1 > *cap) {
                size_t nc = (*len + n + 1) * 2;
                char *b = realloc(*buf, nc);
                if (!b)
                        return cp_error_oom();
                *buf = b;
                *cap = nc;
        }
        memcpy(*buf + *len, p, n);
        *len += n;
        (*buf)[*len] = '\0';
        return 0;
}

/* Digests fetched once (an implicit fetch per signature costs a lock and a
 * lookup in the provider store). */
static EVP_MD *md_sha256, *md_sha384;
static pthread_once_t md_once = PTHREAD_ONCE_INIT;

static void md_fetch(void) {
        md_sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
        md_sha384 = EVP_MD_fetch(NULL, "SHA384", NULL);
}

void attestd_digest(bool sha384, const void *in, size_t len, uint8_t *out) {
        pthread_once(&md_once, md_fetch);
        const EVP_MD *md = sha384 ? md_sha384 : md_sha256;
        if (!md || EVP_Digest(in, len, out, NULL, md, NULL) != 1) {
                if (sha384)
                        SHA384(in, len, out);
                else
                        SHA256(in, len, out);
        }
}

/* The service's own claims: x-ms-policy-hash, x-ms-ver, iss, iat, nbf, exp, jti. */
static int token_members(cp_attestd *s, int64_t now, const char *hash, json_t *claims) {
        char jti_hex[65];
        uint8_t jti[32];
        /* jti: unique without a DRBG call per token: the instance's random
         * prefix, a counter, the time */
        uint64_t ctr = atomic_fetch_add(&s->jti_counter, 1);
        memcpy(jti, s->jti_prefix, 16);
        for (int i = 0; i < 8; i++) {
                jti[16 + i] = (uint8_t) (ctr >> (56 - 8 * i));
                jti[24 + i] = (uint8_t) ((uint64_t) now >> (56 - 8 * i));
        }
        cp_hex_encode(jti, sizeof(jti), jti_hex);
        json_int_t life = s->cfg.token_lifetime_s;
        if (json_object_set_new(claims, "x-ms-policy-hash", json_string(hash)) < 0 ||
            json_object_set_new(claims, "x-ms-ver", json_string("1.0")) < 0 ||
            json_object_set_new(claims, "iss", json_string(s->issuer)) < 0 ||
            json_object_set_new(claims, "iat", json_integer(now)) < 0 ||
            json_object_set_new(claims, "nbf", json_integer(now)) < 0 ||
            json_object_set_new(claims, "exp", json_integer(now + life)) < 0 ||
            json_object_set_new(claims, "jti", json_string(jti_hex)) < 0)
                return cp_error_oom();
        return 0;
}

/* Sign with the current key's signer for this issuer (prepared once per key
 * and issuer). */
static int sign_payload(cp_attestd *s, const char *pl, size_t pl_len, char **ret_token) {
        int r;
        attestd_keydir_refresh(s);
        pthread_rwlock_rdlock(&s->keys_lock); /* signers run concurrently; rotation waits */
        const signing_key *key = &s->keys[s->n_keys - 1];
        if (key->signer && strcmp(key->signer_issuer, s->issuer) == 0)
                r = cp_jwt_signer_sign(key->signer, pl, pl_len, ret_token);
        else {
                cp_jwt_signer *signer = NULL;
                if ((r = make_signer(s, key, &signer)) == 0)
                        r = cp_jwt_signer_sign(signer, pl, pl_len, ret_token);
                cp_jwt_signer_free(signer);
        }
        pthread_rwlock_unlock(&s->keys_lock);
        return r;
}

int attestd_issue_token(cp_attestd *s, const char *tenant, attestd_type type, const tmpl_set *ts, json_t *claims,
                        const char *draft_policy, char **ret_token) {
        _cleanup_free_ char *dyn = NULL, *pl = NULL;
        cp_maa_claims *in = NULL, *out = NULL;
        cp_maa_policy *draft = NULL;
        char hash[44];
        int64_t now = attestd_now(s);
        size_t pl_len = 0, pl_cap = 0;
        int r;
        const char *k;
        json_t *v;

        /* the policy sees the template's claims (built once) followed by this request's */
        if ((r = cp_maa_claims_new(&in)) < 0)
                return r;
        const cp_maa_claims *sets[CP_ELEMENTSOF(ts->t) + 1];
        size_t n_sets = 0, n_tmpl = ts ? ts->n : 0;
        for (size_t i = 0; i < n_tmpl; i++)
                sets[n_sets++] = ts->t[i]->maa;
        sets[n_sets++] = in;
        json_object_foreach(claims, k, v) {
                if ((r = cp_maa_claims_add_json(in, k, NULL, v)) < 0) {
                        cp_maa_claims_free(in);
                        return r;
                }
        }
        if (draft_policy) {
                cp_maa_parse_error perr;
                if ((r = cp_maa_policy_parse(draft_policy, strlen(draft_policy), &draft, &perr)) < 0) {
                        cp_maa_claims_free(in);
                        return r;
                }
                r = cp_maa_policy_evaluate_sets(draft, sets, n_sets, &out);
                cp_maa_policy_free(draft);
                if (r == 0 && (r = cp_maa_policy_hash(draft_policy, strlen(draft_policy), hash)) < 0)
                        out = cp_maa_claims_free(out);
        } else {
                pthread_rwlock_rdlock(&s->policy_lock);
                policy_slot *p = policy_find(s, tenant, type, false);
                bool tdx = type == ATT_TDXVM, guest = type == ATT_AZURE_GUEST;
                r = cp_maa_policy_evaluate_sets(p       ? p->policy
                                                : tdx   ? s->default_policy_tdx
                                                : guest ? s->default_policy_guest
                                                        : s->default_policy,
                                                sets, n_sets, &out);
                memcpy(hash, p ? p->hash : tdx ? s->default_hash_tdx : guest ? s->default_hash_guest : s->default_hash,
                       sizeof(hash));
                pthread_rwlock_unlock(&s->policy_lock);
        }
        cp_maa_claims_free(in);
        if (r < 0)
                return r;
        /* policy-issued claims never override the service's own */
        for (size_t i = 0; i < cp_maa_claims_count(out); i++) {
                const cp_maa_claim *c = cp_maa_claims_get(out, i);
                bool own = json_object_get(claims, c->type) != NULL;
                for (size_t t = 0; t < n_tmpl && !own; t++)
                        own = json_object_get(ts->t[t]->claims, c->type) != NULL;
                if (!own)
                        json_object_set_new(claims, c->type, claims_to_json_value(c));
        }
        cp_maa_claims_free(out);
        if ((r = token_members(s, now, hash, claims)) < 0)
                return r;

        /* payload: {<template>,<per-request claims>} */
        dyn = cp_json_dumps_plain(claims);
        if (!dyn)
                return cp_error_oom();
        size_t dl = strlen(dyn); /* "{...}" with at least the members above */
        if ((r = append(&pl, &pl_len, &pl_cap, "{", 1)) < 0)
                return r;
        for (size_t t = 0; t < n_tmpl; t++)
                if (ts->t[t]->json_len && ((r = append(&pl, &pl_len, &pl_cap, ts->t[t]->json, ts->t[t]->json_len)) < 0 ||
                                           (r = append(&pl, &pl_len, &pl_cap, ",", 1)) < 0))
                        return r;
        if ((r = append(&pl, &pl_len, &pl_cap, dyn + 1, dl - 1)) < 0)
                return r;

        /* MAA: a draft-policy token is not signed (alg none) */
        if (draft_policy)
                return cp_jws_encode_unsecured(pl, pl_len, ret_token);
        return sign_payload(s, pl, pl_len, ret_token);
}

/* ---- lifecycle ----------------------------------------------------------------- */

static bool is_loopback(const char *a) {
        return !a || strcmp(a, "127.0.0.1") == 0 || strcmp(a, "::1") == 0 || strncmp(a, "127.", 4) == 0;
}

int cp_attestd_new(const cp_attestd_config *cfg, cp_attestd **ret) {
        cp_attestd *s;
        cp_amd_trust *trust = NULL;
        int r;

        if (!cfg)
                return CP_ERROR(CP_EINVAL, "no configuration");
        s = calloc(1, sizeof(*s));
        if (!s)
                return cp_error_oom();
        s->cfg = *cfg;
        if (!s->cfg.token_lifetime_s)
                s->cfg.token_lifetime_s = 28800;
        if (!s->cfg.nonce_ttl_s)
                s->cfg.nonce_ttl_s = 300;
        s->cache_size = cfg->report_cache_size ? cfg->report_cache_size : 4096;
        atomic_store(&s->now, cfg->now);
        pthread_mutex_init(&s->kds_lock, NULL);
        pthread_mutex_init(&s->keydir_lock, NULL);
        pthread_mutex_init(&s->crl_lock, NULL);
        pthread_rwlock_init(&s->keys_lock, NULL);
        pthread_mutex_init(&s->cache_lock, NULL);
        pthread_mutex_init(&s->nonce_lock, NULL);
        cp_log_limit_init(&s->refused_log, 0, 0);
        cp_log_limit_init(&s->challenge_log, 0, 0);
        pthread_rwlock_init(&s->policy_lock, NULL);
        if (cfg->issuer) {
                snprintf(s->issuer, sizeof(s->issuer), "%s", cfg->issuer);
                s->issuer_fixed = true;
        }

        s->cache = calloc(s->cache_size, sizeof(*s->cache));
        if (!s->cache || attestd_nonces_init(&s->nonces) < 0) {
                cp_attestd_free(s);
                return cp_error_oom();
        }
        if (RAND_bytes(s->jti_prefix, sizeof(s->jti_prefix)) != 1) {
                cp_attestd_free(s);
                return CP_ERROR(CP_ECRYPTO, "RAND_bytes");
        }
        /* trust: AMD's roots, plus configured extra ARKs (emulated hosts) */
        if ((r = cfg->only_extra_arks ? cp_amd_trust_new_empty(&trust) : cp_amd_trust_new_builtin(&trust)) < 0)
                goto fail;
        for (size_t i = 0; i < CP_ATTESTD_MAX_EXTRA_ARKS; i++) {
                cp_amd_cert *ark = NULL;
                if (!cfg->extra_arks[i])
                        continue;
                if ((r = cp_amd_cert_load(cfg->extra_arks[i], cfg->extra_ark_lens[i], &ark)) < 0 ||
                    (r = cp_amd_trust_add_ark(trust, ark)) < 0) {
                        cp_amd_cert_free(ark);
                        cp_amd_trust_free(trust);
                        cp_error_wrap("extra ARK %zu: ", i);
                        goto fail;
                }
                cp_amd_cert_free(ark);
        }
        if ((r = cp_snp_verifier_new(trust, &s->verifier)) < 0)
                goto fail;
        if (cfg->kds_base_url || cfg->kds_cache_dir) {
                cp_kds_options ko = { .base_url = cfg->kds_base_url, .cache_dir = cfg->kds_cache_dir,
                                      .offline = cfg->kds_offline || !cfg->kds_base_url,
                                      .crl_max_age = cfg->crl_max_age_s ? (long) cfg->crl_max_age_s : 86400 };
                if ((r = cp_kds_client_new(&ko, &s->kds)) < 0)
                        goto fail;
        }
        if ((r = attestd_crl_init(s)) < 0)
                goto fail;
        if (cfg->policy_signers_jwks &&
            (r = cp_jwks_parse(cfg->policy_signers_jwks, strlen(cfg->policy_signers_jwks), &s->policy_signers)) < 0)
                goto fail;
        if ((r = cp_maa_policy_parse(attestd_default_policy, strlen(attestd_default_policy), &s->default_policy,
                                     NULL)) < 0 ||
            (r = cp_maa_policy_hash(attestd_default_policy, strlen(attestd_default_policy), s->default_hash)) < 0 ||
            (r = cp_maa_policy_parse(attestd_default_policy_tdx, strlen(attestd_default_policy_tdx),
                                     &s->default_policy_tdx, NULL)) < 0 ||
            (r = cp_maa_policy_hash(attestd_default_policy_tdx, strlen(attestd_default_policy_tdx),
                                    s->default_hash_tdx)) < 0 ||
            (r = cp_maa_policy_parse(attestd_default_policy_guest, strlen(attestd_default_policy_guest),
                                     &s->default_policy_guest, NULL)) < 0 ||
            (r = cp_maa_policy_hash(attestd_default_policy_guest, strlen(attestd_default_policy_guest),
                                    s->default_hash_guest)) < 0 ||
            (r = attestd_tdx_init(s)) < 0 ||
            (r = cfg->signing_key_dir ? attestd_keydir_sync(s, false) : add_key(s)) < 0 ||
            (r = attestd_routes_new(s, &s->svc)) < 0)
                goto fail;
        *ret = s;
        return 0;
fail:
        cp_attestd_free(s);
        return r;
}

/* The HTTP server's handler: the server answers before cp_attestd_start has
 * written the issuer (it names the port the server bound), so nothing is
 * served until then (503, Retry-After). */
static void http_handle(void *userdata, const cp_http_request *req, cp_http_response *resp) {
        cp_attestd *s = userdata;
        if (atomic_load_explicit(&s->ready, memory_order_acquire)) {
                cp_attestd_handle(s, req, resp);
                return;
        }
        if (cp_http_resp_json(resp, 503,
                              json_pack("{s:{s:s,s:s}}", "error", "code", "ServiceUnavailable", "message",
                                        "the attestation service is starting (its issuer is not set yet)")) < 0 ||
            cp_http_resp_header(resp, "Retry-After", "1") < 0)
                resp->status = 503;
}

int cp_attestd_start(cp_attestd *s) {
        bool loop = is_loopback(s->cfg.bind_addr);
        bool tls = s->cfg.tls_cert_pem && s->cfg.tls_key_pem;
        if (!loop && !tls)
                return CP_ERROR(CP_EINVAL, "TLS certificate and key are required off loopback");
        cp_httpd_options o = {
                .bind_addr = s->cfg.bind_addr, .port = s->cfg.port, .threads = s->cfg.threads,
                .max_body = s->cfg.max_body, .tls_cert_pem = s->cfg.tls_cert_pem, .tls_key_pem = s->cfg.tls_key_pem,
                /* request heads carry at most the policy admin's bearer token; bodies are
                 * collected outside this buffer */
                .header_memory = 32 * 1024,
        };
        int r = cp_httpd_start(&o, http_handle, s, &s->httpd);
        if (r < 0)
                return r;
        if (!s->issuer_fixed) {
                const char *b = s->cfg.bind_addr ? s->cfg.bind_addr : "127.0.0.1";
                bool v6 = strchr(b, ':') != NULL;
                snprintf(s->issuer, sizeof(s->issuer), "%s://%s%s%s:%u", tls ? "https" : "http", v6 ? "[" : "", b,
                         v6 ? "]" : "", (unsigned) cp_httpd_port(s->httpd));
                pthread_rwlock_wrlock(&s->keys_lock);
                attestd_cache_signers(s);
                pthread_rwlock_unlock(&s->keys_lock);
        }
        atomic_store_explicit(&s->ready, true, memory_order_release);
        return 0;
}

uint16_t cp_attestd_port(const cp_attestd *s) {
        return s ? cp_httpd_port(s->httpd) : 0;
}

const char *cp_attestd_issuer(const cp_attestd *s) {
        return s ? s->issuer : NULL;
}

cp_attestd *cp_attestd_free(cp_attestd *s) {
        if (!s)
                return NULL;
        s->httpd = cp_httpd_stop(s->httpd);
        s->svc = cp_svc_free(s->svc);
        for (size_t i = 0; i < s->n_keys; i++) {
                cp_jwt_signer_free(s->keys[i].signer);
                cp_jwt_key_free(s->keys[i].key);
        }
        for (size_t i = 0; i < ATTESTD_POLICY_SLOTS; i++) {
                cp_maa_policy_free(s->policies[i].policy);
                free(s->policies[i].text);
        }
        cp_maa_policy_free(s->default_policy);
        cp_maa_policy_free(s->default_policy_tdx);
        cp_maa_policy_free(s->default_policy_guest);
        attestd_tdx_free(s);
        cp_jwks_free(s->policy_signers);
        cp_kds_client_free(s->kds);
        cp_snp_verifier_free(s->verifier);
        for (size_t i = 0; s->cache && i < s->cache_size; i++)
                attestd_rt_unref(s->cache[i].rt);
        free(s->cache);
        attestd_nonces_free(&s->nonces);
        pthread_mutex_destroy(&s->kds_lock);
        pthread_mutex_destroy(&s->keydir_lock);
        pthread_mutex_destroy(&s->crl_lock);
        pthread_rwlock_destroy(&s->keys_lock);
        pthread_mutex_destroy(&s->cache_lock);
        pthread_mutex_destroy(&s->nonce_lock);
        unsigned long missed = cp_log_limit_flush(&s->refused_log), missed_c = cp_log_limit_flush(&s->challenge_log);
        if ((missed || missed_c) && !s->cfg.quiet)
                fprintf(stderr, "{\"event\":\"http-suppressed\",\"refused\":%lu,\"challenges\":%lu}\n", missed, missed_c);
        cp_log_limit_destroy(&s->refused_log);
        cp_log_limit_destroy(&s->challenge_log);
        pthread_rwlock_destroy(&s->policy_lock);
        free(s);
        return NULL;
}

int attestd_policy_set(cp_attestd *s, const char *tenant, attestd_type type, const char *text, size_t len,
                       cp_maa_parse_error *err) {
        return policy_set(s, tenant, type, text, len, err);
}

char *attestd_policy_get(cp_attestd *s, const char *tenant, attestd_type type) {
        pthread_rwlock_rdlock(&s->policy_lock);
        policy_slot *p = policy_find(s, tenant, type, false);
        char *t = strdup(p                           ? p->text
                         : type == ATT_TDXVM         ? attestd_default_policy_tdx
                         : type == ATT_AZURE_GUEST   ? attestd_default_policy_guest
                                                     : attestd_default_policy);
        pthread_rwlock_unlock(&s->policy_lock);
        return t;
}

