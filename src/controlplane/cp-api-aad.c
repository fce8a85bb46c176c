/* SPDX-License-Identifier: Apache-2.0 */
/* The /adfs endpoints of confpoold's identity provider (cp-aad.h): OpenID
 * metadata, the signing keys and the client-credentials token endpoint. */
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "basic/cleanup.h"
#include "basic/codec.h"
#include "basic/secure.h"
#include "controlplane/cp-aad.h"
#include "controlplane/cp-api-internal.h"
#include "controlplane/cp-store.h"


/* OAuth answers are not ARM's: their own body, written as is. */
static void resp_json(cp_http_response *resp, unsigned status, json_t *body) {
        if (!body || cp_http_resp_json(resp, status, body) < 0) {
                cp_error_clear();
                if (cp_http_resp_text(resp, 500, "{\"error\":\"server_error\"}") < 0)
                        cp_error_clear();
        }
}

static void resp_header(cp_http_response *resp, const char *name, const char *value) {
        if (cp_http_resp_set_header(resp, name, value) < 0)
                cp_error_clear();
}

static void oauth_error(cp_http_response *resp, unsigned status, const char *error, const char *description) {
        char now[40], trace[37];
        cp_now_rfc3339(now);
        uint8_t b[16];
        if (RAND_bytes(b, sizeof b) != 1)
                memset(b, 0, sizeof b);
        char h[33];
        cp_hex_encode(b, sizeof b, h);
        snprintf(trace, sizeof trace, "%.8s-%.4s-%.4s-%.4s-%.12s", h, h + 8, h + 12, h + 16, h + 20);
        resp_json(resp, status,
                  json_pack("{s:s,s:s,s:[],s:s,s:s,s:s}", "error", error, "error_description", description,
                            "error_codes", "timestamp", now, "trace_id", trace, "correlation_id", trace));
        resp_header(resp, "Cache-Control", "no-store");
        if (status == 401)
                resp_header(resp, "WWW-Authenticate", "Basic realm=\"confpoold\"");
}

static void base_of(const char *issuer, const cp_http_request *req, char *out, size_t size) {
        const char *host = cp_http_req_header(req, "Host");
        if (host && *host && strlen(host) < 200 && !strpbrk(host, " /\\\"\r\n@?#"))
                snprintf(out, size, "https://%s", host);
        else
                snprintf(out, size, "%.*s", (int) (strlen(issuer) - 5), issuer);
}

static void token_endpoint(cp_aad *a, const cp_http_request *req, cp_http_response *resp) {
        cp_form f = {0};
        if (cp_form_parse(req->body, req->body_len, &f) < 0) {
                oauth_error(resp, 400, "invalid_request", cp_error_message());
                cp_error_clear();
                return;
        }
        const char *grant = cp_form_get(&f, "grant_type"), *id = cp_form_get(&f, "client_id"),
                   *secret = cp_form_get(&f, "client_secret"), *scope = cp_form_get(&f, "scope"),
                   *resource = cp_form_get(&f, "resource");
        char res[512] = "";
        if (!grant)
                oauth_error(resp, 400, "invalid_request", "The request must contain grant_type.");
        else if (strcmp(grant, "client_credentials") != 0)
                oauth_error(resp, 400, "unsupported_grant_type", "Only the client_credentials grant is supported.");
        else if (!id || !secret)
                oauth_error(resp, 401, "invalid_client", "client_id and client_secret are required.");
        else if (!!scope == !!resource)
                oauth_error(resp, 400, "invalid_request", "Exactly one of scope and resource is required.");
        else {
                if (scope) {
                        /* one scope "<resource>/.default" */
                        size_t n = strlen(scope);
                        if (n <= 9 || n >= sizeof res + 9 || strchr(scope, ' ') ||
                            strcmp(scope + n - 9, "/.default") != 0) {
                                oauth_error(resp, 400, "invalid_scope", "The scope must be '<resource>/.default'.");
                                goto out;
                        }
                        snprintf(res, sizeof res, "%.*s", (int) (n - 9), scope);
                } else if (strlen(resource) < sizeof res)
                        snprintf(res, sizeof res, "%s", resource);
                char *token = NULL;
                cp_principal p;
                int r = cp_aad_issue(a, id, secret, res, 0, &token, &p);
                if (r == CP_EUNTRUSTED) {
                        cp_error_clear();
                        oauth_error(resp, 401, "invalid_client",
                                    "Invalid client secret provided, or no such client. Check the application ID "
                                    "and the secret of the service principal.");
                        fprintf(stderr, "confpoold: audit: token refused for client %.40s: invalid client\n",
                                strspn(id, "0123456789abcdefABCDEF-") == strlen(id) ? id : "(malformed)");
                } else if (r == CP_EBINDING || r == CP_EINVAL) {
                        cp_error_clear();
                        oauth_error(resp, 400, "invalid_resource", "The requested resource is not served here.");
                } else if (r < 0) {
                        oauth_error(resp, 500, "server_error", "The token could not be issued.");
                        cp_error_clear();
                } else {
                        resp_json(resp, 200,
                                  json_pack("{s:s,s:i,s:i,s:i,s:s,s:s}", "token_type", "Bearer", "expires_in",
                                            (int) CP_AAD_TOKEN_LIFETIME_S, "ext_expires_in",
                                            (int) CP_AAD_TOKEN_LIFETIME_S, "refresh_in",
                                            (int) CP_AAD_TOKEN_LIFETIME_S / 2, "resource", res, "access_token",
                                            token));
                        resp_header(resp, "Cache-Control", "no-store");
                        resp_header(resp, "Pragma", "no-cache");
                        fprintf(stderr, "confpoold: audit: token issued to %s (%s) for %s\n", p.app_id, p.name, res);
                        cp_wipe(token, strlen(token));
                        free(token);
                }
        }
out:
        cp_form_clear(&f);
}

static void openid_configuration(cp_svc_call *sc) {
        cp_aad *a = ((cp_api *) sc->userdata)->aad;
        char base[300], iss[300];
        cp_aad_issuer(a, iss);
        base_of(iss, sc->req, base, sizeof base);
        /* az login --tenant NAME resolves NAME through <authority>/NAME/.well-known/openid-configuration
         * (the issuer's 4th "/" field is the tenant): "adfs" and our tenant GUID are aliases */
        if (sc->n_caps == 1 && strcasecmp(sc->caps[0], "adfs") != 0 && strcasecmp(sc->caps[0], cp_aad_tenant(a)) != 0)
                return oauth_error(sc->resp, 404, "invalid_request", "No such endpoint.");
        char te[400], ae[400], ju[400];
        snprintf(te, sizeof te, "%s/adfs/oauth2/token", base);
        snprintf(ae, sizeof ae, "%s/adfs/oauth2/authorize", base);
        snprintf(ju, sizeof ju, "%s/adfs/discovery/keys", base);
        resp_json(sc->resp, 200,
                  json_pack("{s:s,s:s,s:s,s:s,s:[s],s:[s],s:[s],s:[s],s:[s],s:[s],s:s}", "issuer", iss,
                            "token_endpoint", te, "authorization_endpoint", ae, "jwks_uri", ju,
                            "response_types_supported", "token", "subject_types_supported", "pairwise",
                            "id_token_signing_alg_values_supported", "RS256", "token_endpoint_auth_methods_supported",
                            "client_secret_post", "grant_types_supported", "client_credentials", "scopes_supported",
                            "openid", "access_token_issuer", iss));
}

static void discovery_keys(cp_svc_call *sc) {
        json_t *jwks = NULL;
        if (cp_aad_jwks(((cp_api *) sc->userdata)->aad, &jwks) < 0) {
                cp_error_clear();
                oauth_error(sc->resp, 500, "server_error", "The keys are unavailable.");
        } else
                resp_json(sc->resp, 200, jwks);
}

static void token(cp_svc_call *sc) {
        token_endpoint(((cp_api *) sc->userdata)->aad, sc->req, sc->resp);
}

const cp_svc_route cp_api_aad_routes[] = {
        {"GET", "/adfs/.well-known/openid-configuration", openid_configuration, CP_ROUTE_PUBLIC},
        {"GET", "/adfs/{t}/.well-known/openid-configuration", openid_configuration, CP_ROUTE_PUBLIC},
        {"GET", "/adfs/discovery/keys", discovery_keys, CP_ROUTE_PUBLIC},
        {"POST", "/adfs/oauth2/token", token, CP_ROUTE_PUBLIC | CP_ROUTE_ANY_BODY}, /* a form */
};
const size_t cp_api_n_aad_routes = CP_ELEMENTSOF(cp_api_aad_routes);
