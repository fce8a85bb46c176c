/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A cluster's OIDC issuer (docs/az-cli.md; issue 14):
 *   properties.oidcIssuerProfile {enabled} of a cluster PUT
 *        (az aks create / update --enable-oidc-issuer): {enabled, issuerURL}
 *        with issuerURL <public base>/oidc/<resourceUID>/; once enabled it
 *        stays enabled (as AKS)
 *   POST .../rotateServiceAccountSigningKeys   (az aks oidc-issuer rotate-signing-keys):
 *        a new signing key; the one before stays in the JWKS (tokens it
 *        signed verify until the next rotation), older ones are deleted
 *   GET  /oidc/{uid}/.well-known/openid-configuration, /oidc/{uid}/openid/v1/jwks
 *        (public, as AKS's issuer: discovery and the public keys)
 * The keys are RSA-2048 (RS256, what Kubernetes signs service-account
 * tokens with), PEM in the store's sa_keys table; only their public JWKs
 * ever leave it.  What signs with them is the Kubernetes API issue's work.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "basic/secure.h"
#include "confpool/jwt.h"
#include "controlplane/cp-api-internal.h"
#include "libconfpool/rsagen.h"

#define SA_KEYS_KEPT 2

/* A new signing key for the issuer uid (in the caller's transaction); the
 * oldest beyond SA_KEYS_KEPT are deleted. */
static int sa_key_new(cp_store *s, const char *uid, const char *cluster_id) {
        char lc[1024], now[40];
        cp_id_lower(cluster_id, lc, sizeof lc);
        cp_now_rfc3339(now);
        EVP_PKEY *k = NULL;
        if (cp_rsa_generate(2048, &k) < 0)
                cp_error_clear(); /* reported below */
        BIO *b = BIO_new(BIO_s_secmem());
        char *pem = NULL;
        long n = 0;
        if (!k || !b || !PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL) ||
            (n = BIO_get_mem_data(b, &pem)) <= 0) {
                EVP_PKEY_free(k);
                BIO_free(b);
                return CP_ERROR(CP_ECRYPTO, "cannot generate a service-account signing key");
        }
        _cleanup_stmt_ cp_stmt *ins = NULL, *del = NULL;
        int r = cp_store_prepare(s,
                                 "INSERT INTO sa_keys(uid, cluster_lc, seq, pem, created) VALUES (?1, ?2, "
                                 "(SELECT COALESCE(MAX(seq), 0) + 1 FROM sa_keys WHERE uid = ?1), ?3, ?4)",
                                 &ins);
        if (r >= 0) {
                cp_stmt_bind_text(ins, 1, uid);
                cp_stmt_bind_text(ins, 2, lc);
                cp_stmt_bind_textn(ins, 3, pem, (size_t) n);
                cp_stmt_bind_text(ins, 4, now);
                r = cp_store_step(s, ins);
        }
        if (r >= 0 && (r = cp_store_prepare(s,
                                            "DELETE FROM sa_keys WHERE uid = ?1 AND seq <= (SELECT MAX(seq) FROM "
                                            "sa_keys WHERE uid = ?1) - ?2",
                                            &del)) >= 0) {
                cp_stmt_bind_text(del, 1, uid);
                cp_stmt_bind_int64(del, 2, SA_KEYS_KEPT);
                r = cp_store_step(s, del);
        }
        BIO_free(b); /* secure memory: cleared on free */
        EVP_PKEY_free(k);
        return r < 0 ? r : 0;
}

int api_cluster_oidc(api_ctx *c, json_t *doc) {
        const json_t *in = json_object_get(json_object_get(c->body, "properties"), "oidcIssuerProfile");
        json_t *props = json_object_get(doc, "properties");
        bool was = json_is_true(json_object_get(json_object_get(props, "oidcIssuerProfile"), "enabled"));
        if (!in || json_is_null(in))
                return 0;
        const json_t *en = json_object_get(in, "enabled");
        if (!json_is_object(in) || (en && !json_is_boolean(en)))
                return api_error(c, 400, "InvalidParameter", "properties.oidcIssuerProfile.enabled",
                                 "The value of parameter oidcIssuerProfile.enabled is invalid: a boolean is required.");
        if (was && !json_is_true(en))
                return api_error(c, 400, "InvalidParameter", "properties.oidcIssuerProfile.enabled",
                                 "The OIDC issuer of managed cluster '%s' cannot be disabled once enabled.",
                                 json_string_value(json_object_get(doc, "name")));
        if (was || !json_is_true(en))
                return was || json_object_set_new(props, "oidcIssuerProfile", json_pack("{s:b}", "enabled", false)) >= 0
                               ? 0
                               : cp_error_oom();
        const char *uid = json_string_value(json_object_get(props, "resourceUID"));
        const char *id = json_string_value(json_object_get(doc, "id"));
        char url[400];
        if (!uid || !id)
                return CP_ERROR(CP_EFORMAT, "cluster without resourceUID or id");
        snprintf(url, sizeof url, "%s/oidc/%s/", c->base, uid);
        int r = sa_key_new(c->api->store, uid, id);
        if (r >= 0 && json_object_set_new(props, "oidcIssuerProfile",
                                          json_pack("{s:b,s:s}", "enabled", true, "issuerURL", url)) < 0)
                r = cp_error_oom();
        return r < 0 ? r : 0;
}

int api_cluster_oidc_forget(api_ctx *c, const char *cluster_id) {
        char lc[1024];
        cp_id_lower(cluster_id, lc, sizeof lc);
        _cleanup_stmt_ cp_stmt *st = NULL;
        int r = cp_store_prepare(c->api->store, "DELETE FROM sa_keys WHERE cluster_lc = ?", &st);
        if (r >= 0) {
                cp_stmt_bind_text(st, 1, lc);
                r = cp_store_step(c->api->store, st);
        }
        return r < 0 ? r : 0;
}

/* POST .../rotateServiceAccountSigningKeys: 202 and the operation's links. */
static int rotate_keys(api_ctx *c, const char *sub, const char *rg, const char *name) {
        json_t *doc = NULL;
        int r = api_cluster_action_doc(c, sub, rg, name, &doc);
        if (r != 0)
                return r;
        json_t *props = json_object_get(doc, "properties");
        const char *id = json_string_value(json_object_get(doc, "id"));
        const char *uid = json_string_value(json_object_get(props, "resourceUID"));
        cp_op op;
        if (!json_is_true(json_object_get(json_object_get(props, "oidcIssuerProfile"), "enabled")) || !uid) {
                json_decref(doc);
                return api_error(c, 400, "BadRequest", NULL,
                                 "The OIDC issuer is not enabled on managed cluster '%s': there is no signing key to "
                                 "rotate (enable it with az aks update --enable-oidc-issuer).",
                                 name);
        }
        char etag[37];
        api_uuid(etag);
        json_object_set_new(props, "provisioningState", json_string("Updating"));
        json_object_set_new(doc, "eTag", json_string(etag));
        if ((r = sa_key_new(c->api->store, uid, id)) >= 0 && (r = cp_res_update(c->api->store, id, doc, etag)) >= 0)
                r = api_new_op(c, "cluster", "rotateServiceAccountSigningKeys", id, sub,
                               json_string_value(json_object_get(doc, "location")), &op);
        json_decref(doc);
        if (r < 0)
                return r;
        api_json(c, 202, NULL);
        api_lro_headers(c, &op, true);
        return 1;
}

/* ---- the public issuer endpoints ------------------------------------------ */

static void answer(cp_http_response *resp, unsigned status, json_t *body) {
        if (!body || cp_http_resp_json(resp, status, body) < 0) {
                cp_error_clear();
                if (cp_http_resp_text(resp, 500, "{\"error\":\"server_error\"}") < 0)
                        cp_error_clear();
        }
}

/* The issuer URL of uid's cluster, if it exists and has its issuer on; store locked. */
static bool issuer_of(cp_store *s, const char *uid, char *out, size_t size) {
        _cleanup_stmt_ cp_stmt *st = NULL;
        json_t *doc = NULL;
        bool ok = false;
        if (strlen(uid) == 36 && strspn(uid, "0123456789abcdef-") == 36 &&
            cp_store_prepare(s, "SELECT cluster_lc FROM sa_keys WHERE uid = ? LIMIT 1", &st) >= 0) {
                cp_stmt_bind_text(st, 1, uid);
                if (cp_store_step(s, st) == 1 &&
                    cp_res_get(s, cp_stmt_text(st, 0), &doc, NULL) >= 0) {
                        json_t *p = json_object_get(json_object_get(doc, "properties"), "oidcIssuerProfile");
                        const char *url = json_string_value(json_object_get(p, "issuerURL"));
                        ok = json_is_true(json_object_get(p, "enabled")) && url;
                        if (ok)
                                snprintf(out, size, "%s", url);
                }
        }
        json_decref(doc);
        cp_error_clear();
        return ok;
}

static json_t *jwks_of(cp_store *s, const char *uid) {
        _cleanup_stmt_ cp_stmt *st = NULL;
        json_t *keys = json_array();
        if (!keys || cp_store_prepare(s, "SELECT pem FROM sa_keys WHERE uid = ? ORDER BY seq DESC", &st) < 0) {
                json_decref(keys);
                return NULL;
        }
        cp_stmt_bind_text(st, 1, uid);
        int r;
        while ((r = cp_store_step(s, st)) == 1) {
                cp_jwt_key *k = NULL;
                json_t *jwk = NULL;
                const char *pem = cp_stmt_text(st, 0);
                if (cp_jwt_key_from_pem(CP_JWT_RS256, pem, (size_t) cp_stmt_bytes(st, 0), NULL, 0, &k) < 0 ||
                    cp_jwt_key_to_jwk(k, &jwk) < 0)
                        r = -1;
                cp_jwt_key_free(k);
                json_object_del(jwk, "x5c"); /* a self-signed certificate of no use to a relying party */
                json_object_set_new(jwk, "use", json_string("sig"));
                if (r < 0 || json_array_append_new(keys, jwk) < 0)
                        break;
        }
        if (r < 0) {
                json_decref(keys);
                return NULL;
        }
        return json_pack("{s:o}", "keys", keys);
}

static void oidc_public(cp_svc_call *sc, bool jwks) {
        cp_api *api = sc->userdata;
        char iss[400];
        const char *uid = sc->n_caps == 1 ? sc->caps[0] : "";
        cp_store_lock(api->store);
        bool ok = issuer_of(api->store, uid, iss, sizeof iss);
        json_t *body = NULL;
        if (ok && jwks)
                body = jwks_of(api->store, uid);
        cp_store_unlock(api->store);
        cp_error_clear();
        if (!ok)
                return answer(sc->resp, 404, json_pack("{s:s}", "error", "No OIDC issuer here."));
        if (!jwks) {
                char ju[450];
                snprintf(ju, sizeof ju, "%sopenid/v1/jwks", iss);
                body = json_pack("{s:s,s:s,s:[s],s:[s],s:[s]}", "issuer", iss, "jwks_uri", ju,
                                 "response_types_supported", "id_token", "subject_types_supported", "public",
                                 "id_token_signing_alg_values_supported", "RS256");
        }
        answer(sc->resp, 200, body);
}

static void discovery(cp_svc_call *sc) {
        oidc_public(sc, false);
}

static void jwks(cp_svc_call *sc) {
        oidc_public(sc, true);
}

#define PC "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.ContainerService/managedClusters"

API_CAPS_ROUTE(rotate_fn, rotate_keys(c, k[0], k[1], k[2]))

const cp_svc_route cp_api_oidc_routes[] = {
        {"POST", PC "/{c}/rotateServiceAccountSigningKeys", rotate_fn_route, 0},
        {"GET", "/oidc/{uid}/.well-known/openid-configuration", discovery, CP_ROUTE_PUBLIC},
        {"GET", "/oidc/{uid}/openid/v1/jwks", jwks, CP_ROUTE_PUBLIC},
};
const size_t cp_api_n_oidc_routes = CP_ELEMENTSOF(cp_api_oidc_routes);
