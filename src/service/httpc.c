/* SPDX-License-Identifier: Apache-2.0 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "basic/limits.h"
#include "confpool/jwt.h"
#include "service/httpc.h"

typedef struct rx {
        cp_httpc_response *resp;
        size_t max;
        bool too_big;
} rx;

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *userdata) {
        rx *x = userdata;
        size_t n = size * nmemb;
        if (n > x->max - x->resp->body_len) {
                x->too_big = true;
                return 0;
        }
        uint8_t *nb = realloc(x->resp->body, x->resp->body_len + n + 1);
        if (!nb)
                return 0;
        x->resp->body = nb;
        memcpy(nb + x->resp->body_len, ptr, n);
        x->resp->body_len += n;
        nb[x->resp->body_len] = 0;
        return n;
}

/* Capture a header value: "Name: value\r\n" */
static void grab(const char *line, size_t len, const char *name, char **dst) {
        size_t nl = strlen(name);
        if (len <= nl + 1 || strncasecmp(line, name, nl) != 0 || line[nl] != ':')
                return;
        const char *v = line + nl + 1;
        size_t vl = len - nl - 1;
        while (vl && (*v == ' ' || *v == '\t')) {
                v++;
                vl--;
        }
        while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' '))
                vl--;
        free(*dst);
        *dst = strndup(v, vl);
}

static size_t on_header(char *buf, size_t size, size_t nitems, void *userdata) {
        rx *x = userdata;
        size_t n = size * nitems;
        /* a new status line (redirect / 100-continue) resets captured headers */
        if (n > 5 && strncmp(buf, "HTTP/", 5) == 0) {
                cp_httpc_response *r = x->resp;
                free(r->content_type);
                free(r->location);
                free(r->async_operation);
                free(r->retry_after);
                free(r->etag);
                free(r->issuer_chain);
                r->content_type = r->location = r->async_operation = r->retry_after = r->etag = NULL;
                r->issuer_chain = NULL;
        }
        grab(buf, n, "Content-Type", &x->resp->content_type);
        grab(buf, n, "Location", &x->resp->location);
        grab(buf, n, "Azure-AsyncOperation", &x->resp->async_operation);
        grab(buf, n, "Retry-After", &x->resp->retry_after);
        grab(buf, n, "ETag", &x->resp->etag);
        static const char *const chains[] = { "TCB-Info-Issuer-Chain", "SGX-Enclave-Identity-Issuer-Chain",
                                              "SGX-PCK-CRL-Issuer-Chain", "SGX-PCK-Certificate-Issuer-Chain" };
        for (size_t i = 0; i < sizeof(chains) / sizeof(chains[0]); i++)
                grab(buf, n, chains[i], &x->resp->issuer_chain);
        return n;
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static bool curl_ok;
static void curl_init_once(void) {
        curl_ok = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
}

/* Bearer tokens go only over https, or plain http to a loopback address. */
static bool url_allows_bearer(const char *url) {
        if (strncasecmp(url, "https://", 8) == 0)
                return true;
        if (strncasecmp(url, "http://", 7) != 0)
                return false;
        const char *host = url + 7;
        static const char *const loop[] = { "127.", "localhost:", "localhost/", "[::1]" };
        for (size_t i = 0; i < sizeof(loop) / sizeof(loop[0]); i++)
                if (strncasecmp(host, loop[i], strlen(loop[i])) == 0)
                        return true;
        return strcasecmp(host, "localhost") == 0;
}

void cp_httpc_response_clear(cp_httpc_response *r) {
        if (!r)
                return;
        free(r->body);
        free(r->content_type);
        free(r->location);
        free(r->async_operation);
        free(r->retry_after);
        free(r->etag);
        free(r->issuer_chain);
        memset(r, 0, sizeof(*r));
}

int cp_httpc_request(const cp_httpc_options *o, const char *method, const char *url,
                     const char *const *extra_headers, const void *body, size_t body_len, cp_httpc_response *ret) {
        static const cp_httpc_options none = { 0 };
        if (!o)
                o = &none;
        if (!method || !url || !ret)
                return CP_ERROR(CP_EINVAL, "cp_httpc_request: NULL argument");
        if (!o->client_cert_file != !o->client_key_file)
                return CP_ERROR(CP_EINVAL, "a TLS client certificate needs its key (and a key its certificate)");
        pthread_once(&curl_once, curl_init_once);
        if (!curl_ok)
                return CP_ERROR(CP_ENETWORK, "curl_global_init failed");
        cp_httpc_response resp = { 0 };
        rx x = { .resp = &resp, .max = o->max_response ? o->max_response : CP_MAX_HTTP_RESPONSE };
        CURL *h = curl_easy_init();
        if (!h)
                return CP_ERROR(CP_ENETWORK, "curl_easy_init failed");
        struct curl_slist *hdrs = NULL;
        char *auth = NULL; /* "Authorization: Bearer <token>", wiped after use */
        size_t auth_len = 0;
        int r = 0;
        if (o->bearer && (strchr(o->bearer, '\r') || strchr(o->bearer, '\n'))) {
                curl_easy_cleanup(h);
                return CP_ERROR(CP_EINVAL, "bearer token contains a line break");
        }
        if (o->bearer && !url_allows_bearer(url)) {
                curl_easy_cleanup(h);
                return CP_ERROR(CP_EINVAL, "refusing to send a bearer token over plain HTTP to a non-loopback host: %s",
                                url);
        }
        for (size_t i = 0; extra_headers && extra_headers[i]; i++)
                if (strchr(extra_headers[i], '\r') || strchr(extra_headers[i], '\n')) {
                        curl_easy_cleanup(h);
                        return CP_ERROR(CP_EINVAL, "request header contains a line break");
                }
        if (o->bearer) {
                size_t bl = strlen(o->bearer);
                if (bl > CP_JWT_MAX_TOKEN) {
                        curl_easy_cleanup(h);
                        return CP_ERROR(CP_ETOOBIG, "bearer token longer than %u bytes", CP_JWT_MAX_TOKEN);
                }
                auth_len = bl + sizeof("Authorization: Bearer ");
                auth = malloc(auth_len);
                if (!auth) {
                        curl_easy_cleanup(h);
                        return cp_error_oom();
                }
                snprintf(auth, auth_len, "Authorization: Bearer %s", o->bearer);
                hdrs = curl_slist_append(hdrs, auth);
        }
        bool own_type = false; /* a Content-Type among extra_headers replaces the default */
        for (size_t i = 0; extra_headers && extra_headers[i]; i++)
                own_type |= strncasecmp(extra_headers[i], "Content-Type:", 13) == 0;
        if (body && !own_type)
                hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
        for (size_t i = 0; extra_headers && extra_headers[i]; i++)
                hdrs = curl_slist_append(hdrs, extra_headers[i]);
        char errbuf[CURL_ERROR_SIZE] = "";
        long timeout = o->timeout_ms > 0 ? o->timeout_ms : 30000;
        curl_easy_setopt(h, CURLOPT_URL, url);
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
        if (!strcmp(method, "HEAD"))
                curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
        if (body) {
                curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
                curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) body_len);
        }
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, &x);
        curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(h, CURLOPT_HEADERDATA, &x);
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout);
        curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, timeout);
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
        curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(h, CURLOPT_USERAGENT, "confpool/0.1");
        /* A given CA replaces the system trust entirely (also the CA path). */
        if (o->ca_file || o->ca_pem)
                curl_easy_setopt(h, CURLOPT_CAPATH, NULL);
        if (o->ca_file)
                curl_easy_setopt(h, CURLOPT_CAINFO, o->ca_file);
        struct curl_blob blob;
        if (o->ca_pem) {
                blob.data = (void *) o->ca_pem;
                blob.len = strlen(o->ca_pem);
                blob.flags = CURL_BLOB_COPY;
                curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &blob);
        }
        if (o->client_cert_file) { /* checked above: with its key */
                curl_easy_setopt(h, CURLOPT_SSLCERT, o->client_cert_file);
                curl_easy_setopt(h, CURLOPT_SSLCERTTYPE, "PEM");
                curl_easy_setopt(h, CURLOPT_SSLKEY, o->client_key_file);
                curl_easy_setopt(h, CURLOPT_SSLKEYTYPE, "PEM");
        }
        CURLcode cc = curl_easy_perform(h);
        if (x.too_big)
                r = CP_ERROR(CP_ETOOBIG, "%s %s: response larger than %zu bytes", method, url, x.max);
        else if (cc != CURLE_OK)
                r = CP_ERROR(CP_ENETWORK, "%s %s: %s", method, url, errbuf[0] ? errbuf : curl_easy_strerror(cc));
        else
                curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp.status);
        curl_slist_free_all(hdrs);
        curl_easy_cleanup(h);
        if (o->bearer)
                explicit_bzero(auth, auth_len);
        free(auth);
        if (r < 0) {
                cp_httpc_response_clear(&resp);
                return r;
        }
        *ret = resp;
        return 0;
}

int cp_httpc_response_json(const cp_httpc_response *r, json_t **ret) {
        json_error_t err;
        if (!r->body || r->body_len == 0)
                return CP_ERROR(CP_EFORMAT, "empty response body (HTTP %ld)", r->status);
        json_t *j = json_loadb((const char *) r->body, r->body_len, JSON_REJECT_DUPLICATES, &err);
        if (!j)
                return CP_ERROR(CP_EFORMAT, "response is not JSON (HTTP %ld): %s at %d:%d", r->status, err.text,
                                err.line, err.column);
        *ret = j;
        return 0;
}
