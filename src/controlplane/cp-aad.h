/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CP_CONTROLPLANE_AAD_H
#define CP_CONTROLPLANE_AAD_H

/*
 * confpoold's identity provider for service principals, shaped like the
 * ADFS authority the Azure CLI (MSAL) talks to when a cloud's
 * active-directory endpoint ends in "/adfs":
 *
 *   GET  /adfs/.well-known/openid-configuration   OpenID provider metadata
 *   GET  /adfs/discovery/keys                     JWKS (the RS256 signing key)
 *   POST /adfs/oauth2/token                       client_credentials grant
 *
 * (those endpoints are served by cp-api-aad.c; this module is the
 * principals, the keys and the tokens, without HTTP)
 *
 * Service principals (appId GUID + secret "cps_<base64url 32 bytes>") are
 * created by the operator (`confpoold sp create`); only PBKDF2-HMAC-SHA256
 * (random 16-byte salt, CP_AAD_PBKDF2_ITER iterations) of the secret is
 * stored, compared in constant time; an unknown appId costs the same KDF.
 * Access tokens are RS256 JWTs (kid = RFC 7638 thumbprint) with iss, aud (the
 * requested resource, which must be one of this server's own URLs), sub /
 * appid / oid (the appId), tid, iat, nbf, exp; the API accepts them after
 * checking signature, issuer, audience, expiry and that the subject still
 * exists.
 */

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "service/store.h"

#define CP_AAD_PBKDF2_ITER 100000u
#define CP_AAD_TOKEN_LIFETIME_S 3600u
#define CP_AAD_SECRET_LEN 48 /* "cps_" + 43 base64url + NUL */
#define CP_AAD_MAX_AUDIENCES 16

typedef struct cp_principal {
        char app_id[40];
        char name[128];
        char subscription[40];
        bool is_operator; /* authenticated by the operator token */
} cp_principal;

typedef struct cp_aad cp_aad;

/* Loads <state_dir>/aad-signing-key.pem (RSA-2048, 0600), creating it on
 * first use.  The tenant ID and the default subscription ID are derived
 * from the key (stable for a state directory). */
CP_WUR int cp_aad_new(cp_store *store, const char *state_dir, cp_aad **ret);
cp_aad *cp_aad_free(cp_aad *a);

/* The issuer is "<issuer_base>/adfs"; the accepted audiences are
 * "https://<host>:<port>/" (with and without the trailing slash) for each
 * host.  Call before serving. */
CP_WUR int cp_aad_set_endpoint(cp_aad *a, const char *issuer_base, const char *const *hosts, size_t n_hosts,
                               uint16_t port);
const char *cp_aad_tenant(const cp_aad *a);
const char *cp_aad_default_subscription(const cp_aad *a);

/* Create a service principal; subscription NULL: the default one.
 * ret_secret receives the only copy of the secret. */
CP_WUR int cp_aad_principal_create(cp_aad *a, const char *name, const char *subscription, cp_principal *ret,
                                   char ret_secret[CP_AAD_SECRET_LEN]);
/* All principals (for GET /subscriptions as the operator); malloc()ed. */
CP_WUR int cp_aad_principal_list(cp_aad *a, cp_principal **ret, size_t *ret_n);

/* Client-credentials grant: CP_EUNTRUSTED for an unknown client or a wrong
 * secret, CP_EBINDING for a resource that is not ours.  now 0: current time.
 * *ret_token is malloc()ed. */
CP_WUR int cp_aad_issue(cp_aad *a, const char *client_id, const char *client_secret, const char *resource,
                        int64_t now, char **ret_token, cp_principal *ret);
/* Validate an access token (the part after "Bearer ").  now 0: current
 * time.  Errors as cp_jwt_validate(), CP_EBINDING for a foreign audience,
 * CP_EUNTRUSTED for an unknown subject or tenant. */
CP_WUR int cp_aad_validate(cp_aad *a, const char *token, int64_t now, cp_principal *ret);

/* The issuer ("<issuer_base>/adfs"), copied (it may change while serving). */
void cp_aad_issuer(cp_aad *a, char out[300]);
/* The JWKS document of the signing key, {"keys": [jwk]}. */
CP_WUR int cp_aad_jwks(cp_aad *a, json_t **ret);

/* application/x-www-form-urlencoded: up to CP_FORM_MAX_FIELDS name=value
 * pairs, '+' and %XX decoded, names and values each < CP_FORM_MAX_VALUE
 * bytes, no NUL, duplicate names refused (CP_EFORMAT), CP_ETOOBIG past the
 * limits. */
#define CP_FORM_MAX_FIELDS 16
#define CP_FORM_MAX_VALUE 2048
typedef struct cp_form {
        size_t n;
        char name[CP_FORM_MAX_FIELDS][64];
        char *value[CP_FORM_MAX_FIELDS]; /* malloc()ed */
} cp_form;
CP_WUR int cp_form_parse(const uint8_t *body, size_t len, cp_form *ret);
const char *cp_form_get(const cp_form *f, const char *name);
/* Wipes (values may be secrets) and frees the values. */
void cp_form_clear(cp_form *f);

#endif
