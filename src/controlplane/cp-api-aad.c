/* SPDX-License-Identifier: Apache-2.0 */
/* The /adfs endpoints of confpoold's identity provider (cp-aad.h): OpenID
 * metadata, the signing keys and the client-credentials token endpoint. */
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "basic/codec.h"
#include "basic/secure.h"
#include "controlplane/cp-aad.h"
#include "controlplane/cp-api.h"
#include "controlplane/cp-store.h"


static void resp_json(cp_api_response *resp, unsigned status, json_t *body) {
        json_decref(resp->body);
        resp->status = status;
        resp->body = body;
}

static void resp_header(cp_api_response *resp, const char *name, const char *value) {
        if (resp->n_headers == CP_API_MAX_HEADERS)
                return;
        snprintf(resp->header_names[resp->n_headers], sizeof resp->header_names[0], "%s", name);
        snprintf(resp->header_values[resp->n_headers], sizeof resp->header_values[0], "%s", value);
        resp->n_headers++;
}

static void oauth_error(cp_api_response *resp, unsigned status, const char *error, const char *description) {
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

static void base_of(const char *issuer, const cp_api_request *req, char *out, size_t size) {
        if (req->host && *req->host && strlen(req->host) < 200 && !strpbrk(req->host, " /\\\"\r\n@?#"))
                snprintf(out, size, "https://%s", req->host);
        else
                snprintf(out, size, "%.*s", (int) (strlen(issuer) - 5), issuer);
}

static void token_endpoint(cp_aad *a, const cp_api_request *req, cp_api_response *resp) {
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

bool cp_api_aad_handle(cp_aad *a, const cp_api_request *req, cp_api_response *resp) {
        if (!req->path || strncasecmp(req->path, "/adfs", 5) != 0 || (req->path[5] && req->path[5] != '/'))
                return false;
        memset(resp, 0, sizeof *resp);
        char base[300], iss[300];
        cp_aad_issuer(a, iss);
        base_of(iss, req, base, sizeof base);
        bool get = req->method && strcmp(req->method, "GET") == 0;
        bool post = req->method && strcmp(req->method, "POST") == 0;
        char caps[1][256];
        /* az login --tenant NAME resolves NAME through <authority>/NAME/.well-known/openid-configuration
         * (the issuer's 4th "/" field is the tenant): "adfs" and our tenant GUID are aliases */
        bool tenant_alias = cp_api_path_match("/adfs/{t}/.well-known/openid-configuration", req->path, caps, 1) &&
                            (strcasecmp(caps[0], "adfs") == 0 || strcasecmp(caps[0], cp_aad_tenant(a)) == 0);
        if ((tenant_alias || cp_api_path_match("/adfs/.well-known/openid-configuration", req->path, caps, 1)) && get) {
                char te[400], ae[400], ju[400];
                snprintf(te, sizeof te, "%s/adfs/oauth2/token", base);
                snprintf(ae, sizeof ae, "%s/adfs/oauth2/authorize", base);
                snprintf(ju, sizeof ju, "%s/adfs/discovery/keys", base);
                resp_json(resp, 200,
                          json_pack("{s:s,s:s,s:s,s:s,s:[s],s:[s],s:[s],s:[s],s:[s],s:[s],s:s}", "issuer", iss,
                                    "token_endpoint", te, "authorization_endpoint", ae, "jwks_uri", ju,
                                    "response_types_supported", "token", "subject_types_supported", "pairwise",
                                    "id_token_signing_alg_values_supported", "RS256",
                                    "token_endpoint_auth_methods_supported", "client_secret_post",
                                    "grant_types_supported", "client_credentials", "scopes_supported", "openid",
                                    "access_token_issuer", iss));
        } else if (cp_api_path_match("/adfs/discovery/keys", req->path, caps, 1) && get) {
                json_t *jwks = NULL;
                if (cp_aad_jwks(a, &jwks) < 0) {
                        cp_error_clear();
                        oauth_error(resp, 500, "server_error", "The keys are unavailable.");
                } else
                        resp_json(resp, 200, jwks);
        } else if (cp_api_path_match("/adfs/oauth2/token", req->path, caps, 1) && post) {
                token_endpoint(a, req, resp);
        } else if (cp_api_path_match("/adfs/oauth2/token", req->path, caps, 1) ||
                   cp_api_path_match("/adfs/discovery/keys", req->path, caps, 1) ||
                   cp_api_path_match("/adfs/.well-known/openid-configuration", req->path, caps, 1)) {
                oauth_error(resp, 405, "invalid_request", "Method not allowed.");
        } else
                oauth_error(resp, 404, "invalid_request", "No such endpoint.");
        if (!resp->body) /* json_pack failed */
                oauth_error(resp, 500, "server_error", "Out of memory.");
        return true;
}
