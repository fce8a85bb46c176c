/* SPDX-License-Identifier: Apache-2.0 */
/* confpool-kbsd secure key release: the attestation token checked against
 * its authority and the key's release policy, the material wrapped to the
 * token's TEE key in a signed Key Vault release response. */

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "basic/cleanup.h"
#include "basic/codec.h"
#include "basic/secure.h"
#include "kbsd-internal.h"

/* "iss" of an unverified token, only to pick the authority whose keys and
 * issuer the token is then validated against. */
static int peek_issuer(const char *tok, char *out, size_t cap) {
        const char *d1 = strchr(tok, '.'), *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
        if (!d2 || (size_t) (d2 - d1 - 1) > CP_JWT_MAX_TOKEN)
                return CP_ERROR(CP_EFORMAT, "attestation token is not a compact JWS");
        size_t n = (size_t) (d2 - d1 - 1), pl;
        _cleanup_free_ uint8_t *p = malloc(cp_b64_decoded_max(n) + 1);
        if (!p)
                return cp_error_oom();
        if (cp_b64_decode(d1 + 1, n, CP_B64_URL, p, cp_b64_decoded_max(n), &pl) < 0)
                return CP_ERROR(CP_EFORMAT, "attestation token payload is not base64url");
        json_t *j = json_loadb((const char *) p, pl, 0, NULL);
        const char *iss = json_string_value(json_object_get(j, "iss"));
        int r = iss && strlen(iss) < cap ? 0 : CP_ERROR(CP_EFORMAT, "attestation token has no usable \"iss\"");
        if (r == 0)
                memcpy(out, iss, strlen(iss) + 1);
        json_decref(j);
        return r;
}

static int deny(cp_kbsd_refusal *o, unsigned status, const char *code, int r, const char *fmt, ...)
        __attribute__((format(printf, 5, 6)));
static int deny(cp_kbsd_refusal *o, unsigned status, const char *code, int r, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(o->reason, sizeof(o->reason), fmt, ap);
        va_end(ap);
        o->status = status;
        o->code = code;
        return r;
}

const char *cp_kbsd_refusal_decision(const cp_kbsd_refusal *o) {
        return o->status == 503 ? "unavailable" : "denied";
}

void cp_kbsd_reply_refusal(cp_svc_call *c, const cp_kbsd_refusal *o) {
        cp_svc_reply_error(c, o->status ? o->status : 403, o->code ? o->code : "Forbidden", "%s", o->reason);
}

/* The token, validated against the authority that issued it. */
static int validate_token(cp_kbsd *s, const char *token, cp_kbsd_refusal *o, char *iss, size_t iss_cap, cp_jwt **ret) {
        const cp_kbsd_trusted *a = NULL;
        int r;
        if ((r = peek_issuer(token, iss, iss_cap)) < 0)
                return deny(o, 400, "BadParameter", r, "%s", cp_error_message());
        for (size_t i = 0; i < s->n_auth; i++)
                if (!strcmp(s->auth[i].issuer, iss))
                        a = &s->auth[i];
        if (!a)
                return deny(o, 403, "Forbidden", CP_EUNTRUSTED, "token issuer %.200s is not a trusted attestation authority",
                            iss);
        cp_jwt_validate_options vo = CP_JWT_VALIDATE_OPTIONS_INIT;
        vo.jwks = a->jwks;
        vo.issuer = a->issuer;
        vo.now = cp_kbsd_now(s);
        vo.slack_s = s->cfg.slack_s;
        r = a->cache ? cp_jwks_cache_validate(a->cache, token, &vo, ret) : cp_jwt_validate(token, strlen(token), &vo, ret);
        if (r == CP_EAGAIN) /* the authority's keys cannot say yet: not a verdict */
                return deny(o, 503, "ServiceUnavailable", r, "attestation token not checked now (%s): %s", cp_err_name(r),
                            cp_error_message());
        if (r < 0)
                return deny(o, 403, "Forbidden", r, "attestation token rejected (%s): %s", cp_err_name(r),
                            cp_error_message());
        return 0;
}

int cp_kbsd_release_check(cp_kbsd *s, const char *policy, const char *token, cp_kbsd_refusal *o, cp_jwt **ret_jwt,
                          cp_wrap_key **ret_tee) {
        char iss[512];
        cp_jwt *t = NULL;
        cp_release_policy *pol = NULL;
        const json_t *tee;
        int r;
        if ((r = validate_token(s, token, o, iss, sizeof(iss), &t)) < 0)
                return r;
        const char *jti = json_string_value(json_object_get(cp_jwt_claims(t), "jti"));
        snprintf(o->jti, sizeof(o->jti), "%s", jti ? jti : "");
        if (!policy)
                r = deny(o, 403, "Forbidden", CP_EPOLICY, "key has no release policy");
        else if ((r = cp_release_policy_parse(policy, strlen(policy), &pol)) < 0)
                r = deny(o, 500, "InternalError", r, "stored policy: %s", cp_error_message());
        else {
                r = cp_release_policy_evaluate(pol, iss, cp_jwt_claims(t), o->reason, sizeof(o->reason));
                cp_release_policy_free(pol);
                if (r < 0) {
                        o->status = 403;
                        o->code = "Forbidden";
                } else if ((r = cp_release_find_tee_key(cp_jwt_claims(t), &tee)) < 0 ||
                           (r = cp_wrap_key_from_jwk(tee, ret_tee)) < 0)
                        r = deny(o, 400, "BadParameter", r, "token runtime key: %s", cp_error_message());
        }
        if (r < 0) {
                cp_jwt_free(t);
                return r;
        }
        *ret_jwt = t;
        return 0;
}

int cp_kbsd_release_response(cp_kbsd *s, const cp_kbsd_keyrow *k, const cp_jwt *t, cp_wrap_key *tee, cp_keywrap_alg alg,
                             const uint8_t *mat, size_t ml, char **ret) {
        _cleanup_free_ uint8_t *w = NULL;
        _cleanup_free_ char *hsm = NULL;
        const json_t *tee_jwk;
        size_t wl;
        int r;
        if (cp_release_find_tee_key(cp_jwt_claims(t), &tee_jwk) < 0)
                tee_jwk = NULL;
        if ((r = cp_keywrap_wrap(tee, alg, mat, ml, &w, &wl)) < 0 ||
            (r = cp_keyrelease_key_hsm_encode(json_string_value(json_object_get(tee_jwk, "kid")), alg, w, wl, &hsm)) < 0)
                return r;
        json_t *bundle = cp_kbsd_key_bundle(s, k, hsm);
        json_t *claims = json_pack("{s:{s:s,s:s,s:O},s:{s:o}}", "request", "api-version", "7.4", "enc",
                                   cp_keywrap_alg_name(alg), "kid", json_object_get(json_object_get(bundle, "key"), "kid"),
                                   "response", "key", bundle);
        if (!claims)
                return cp_error_oom();
        r = cp_jwt_sign(s->signer, claims, NULL, ret);
        json_decref(claims);
        return r;
}

int cp_kbsd_release_body(const json_t *body, const char **ret_target, cp_keywrap_alg *ret_alg) {
        const char *target = json_string_value(json_object_get(body, "target"));
        const char *enc = json_string_value(json_object_get(body, "enc"));
        int r;
        if (!target)
                return CP_ERROR(CP_EINVAL, "\"target\" (the attestation token) is required");
        if (strlen(target) > CP_JWT_MAX_TOKEN)
                return CP_ERROR(CP_ETOOBIG, "attestation token too long");
        if (!enc)
                *ret_alg = CP_KEYWRAP_CKM_RSA_AES;
        else if ((r = cp_keywrap_alg_from_name(enc, ret_alg)) < 0)
                return r;
        *ret_target = target;
        return 0;
}

/* Release the key version once the checks passed: unseal, wrap, sign, answer. */
static void release_granted(cp_svc_call *c, const cp_kbsd_keyrow *k, const cp_jwt *t, cp_wrap_key *tee,
                            cp_keywrap_alg alg, const char *jti) {
        cp_kbsd *s = cp_kbsd_of(c);
        uint8_t *mat = NULL;
        size_t ml = 0;
        char *jws = NULL;
        int r;
        if ((r = cp_kbsd_unseal(s, k, &mat, &ml)) < 0 ||
            (r = cp_kbsd_release_response(s, k, t, tee, alg, mat, ml, &jws)) < 0) {
                cp_kbsd_audit(s, c->who, "release", k->name, k->version, "error", cp_error_message(), jti);
                cp_svc_reply_err(c, r);
        } else {
                cp_kbsd_audit(s, c->who, "release", k->name, k->version, "allowed", NULL, jti);
                cp_svc_reply_json(c, 200, json_pack("{s:s}", "value", jws));
        }
        if (mat)
                cp_wipe(mat, ml);
        free(mat);
        free(jws);
}

/* POST /keys/{name}[/{version}]/release {"target": <attestation token>, "enc"?} */
void cp_kbsd_h_release(cp_svc_call *c) {
        cp_kbsd *s = cp_kbsd_of(c);
        const char *name = c->caps[0], *version = c->n_caps > 1 ? c->caps[1] : NULL;
        cp_kbsd_keyrow k = { 0 };
        cp_kbsd_refusal o = { 0 };
        json_t *body = NULL;
        const char *target;
        cp_keywrap_alg alg;
        cp_jwt *t = NULL;
        cp_wrap_key *tee = NULL;
        int r;
        if (!cp_kbsd_begin(c, &body))
                return;
        if ((r = cp_kbsd_release_body(body, &target, &alg)) < 0) {
                cp_kbsd_audit(s, c->who, "release", name, version, "denied", cp_error_message(), NULL);
                cp_svc_reply_err(c, r);
        } else if ((r = cp_kbsd_key_load(s, name, version, false, &k)) < 0) {
                cp_kbsd_audit(s, c->who, "release", name, version, "denied", "key not found", NULL);
                cp_svc_reply_err(c, r);
        } else if ((r = !k.enabled      ? deny(&o, 403, "Forbidden", CP_EPOLICY, "key is disabled")
                        : !k.exportable ? deny(&o, 403, "Forbidden", CP_EPOLICY, "key is not exportable")
                                        : cp_kbsd_release_check(s, k.policy, target, &o, &t, &tee)) < 0) {
                cp_kbsd_audit(s, c->who, "release", name, k.version, cp_kbsd_refusal_decision(&o), o.reason,
                              o.jti[0] ? o.jti : NULL);
                cp_kbsd_reply_refusal(c, &o);
        } else
                release_granted(c, &k, t, tee, alg, o.jti);
        json_decref(body);
        cp_jwt_free(t);
        cp_wrap_key_free(tee);
        cp_kbsd_keyrow_clear(&k);
}
