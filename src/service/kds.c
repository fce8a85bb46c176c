/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "basic/fileio.h"
#include "basic/limits.h"
#include "service/kds.h"

struct cp_kds_client {
        char *base_url;
        char *cache_dir;
        bool offline;
        long timeout_ms;
        unsigned retries;
        long crl_max_age;
        char *ca_file;
        unsigned requests;
};

static char *dup_or_null(const char *s) {
        return s ? strdup(s) : NULL;
}

int cp_kds_client_new(const cp_kds_options *o, cp_kds_client **ret) {
        static const cp_kds_options none = { 0 };
        if (!o)
                o = &none;
        cp_kds_client *c = calloc(1, sizeof(*c));
        if (!c)
                return cp_error_oom();
        c->base_url = strdup(o->base_url ? o->base_url : CP_KDS_DEFAULT_BASE);
        c->cache_dir = dup_or_null(o->cache_dir);
        c->ca_file = dup_or_null(o->ca_file);
        if (!c->base_url || (o->cache_dir && !c->cache_dir) || (o->ca_file && !c->ca_file)) {
                cp_kds_client_free(c);
                return cp_error_oom();
        }
        /* strip trailing slashes of the base */
        for (size_t n = strlen(c->base_url); n > 0 && c->base_url[n - 1] == '/'; n--)
                c->base_url[n - 1] = '\0';
        c->offline = o->offline;
        c->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 15000;
        c->retries = o->retries;
        c->crl_max_age = o->crl_max_age > 0 ? o->crl_max_age : 86400;
        if (!c->offline && curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
                cp_kds_client_free(c);
                return CP_ERROR(CP_ENETWORK, "curl_global_init failed");
        }
        *ret = c;
        return 0;
}

cp_kds_client *cp_kds_client_free(cp_kds_client *c) {
        if (!c)
                return NULL;
        free(c->base_url);
        free(c->cache_dir);
        free(c->ca_file);
        free(c);
        return NULL;
}

unsigned cp_kds_client_requests(const cp_kds_client *c) {
        return c ? c->requests : 0;
}

/* Cache file name: the URL path with every byte outside [A-Za-z0-9.-]
 * replaced by '_' (so "/vcek/v1/Milan/ab..?blSPL=3" is one flat file). */
static int cache_path(const cp_kds_client *c, const char *path, char *out, size_t cap) {
        int n = snprintf(out, cap, "%s/", c->cache_dir);
        if (n < 0 || (size_t) n >= cap)
                return CP_ERROR(CP_ETOOBIG, "cache path too long");
        size_t o = (size_t) n;
        for (const char *p = path; *p; p++) {
                if (o + 1 >= cap)
                        return CP_ERROR(CP_ETOOBIG, "cache path too long");
                char ch = *p;
                bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                          ch == '.' || ch == '-';
                out[o++] = ok ? ch : '_';
        }
        out[o] = '\0';
        return 0;
}

static int mkdir_p(const char *dir) {
        char tmp[4096];
        size_t n = strlen(dir);
        if (n == 0 || n >= sizeof(tmp))
                return CP_ERROR(CP_EINVAL, "bad cache directory");
        memcpy(tmp, dir, n + 1);
        for (size_t i = 1; i <= n; i++) {
                if (tmp[i] == '/' || tmp[i] == '\0') {
                        char save = tmp[i];
                        tmp[i] = '\0';
                        if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
                                return CP_ERROR(CP_EIO, "cannot create '%s': %s", tmp, strerror(errno));
                        tmp[i] = save;
                }
        }
        return 0;
}

typedef struct body {
        uint8_t *p;
        size_t len;
        bool too_big;
} body;

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *userdata) {
        body *b = userdata;
        size_t n = size * nmemb;
        if (n > CP_MAX_HTTP_RESPONSE - b->len) {
                b->too_big = true;
                return 0;
        }
        uint8_t *np = realloc(b->p, b->len + n + 1);
        if (!np)
                return 0;
        b->p = np;
        memcpy(b->p + b->len, ptr, n);
        b->len += n;
        b->p[b->len] = 0;
        return n;
}

static int http_get(cp_kds_client *c, const char *url, uint8_t **ret, size_t *ret_len) {
        int r = CP_ENETWORK;
        for (unsigned attempt = 0; attempt <= c->retries; attempt++) {
                if (attempt > 0) {
                        /* 200 ms, 400 ms, 800 ms, then 1.6 s */
                        long ms = 200L << (attempt > 4 ? 3 : attempt - 1);
                        struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };
                        nanosleep(&ts, NULL);
                }
                CURL *h = curl_easy_init();
                if (!h)
                        return CP_ERROR(CP_ENETWORK, "curl_easy_init failed");
                body b = { 0 };
                char errbuf[CURL_ERROR_SIZE] = "";
                curl_easy_setopt(h, CURLOPT_URL, url);
                curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
                curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
                curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, c->timeout_ms);
                curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, c->timeout_ms);
                curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
                curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
                curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
                curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
                curl_easy_setopt(h, CURLOPT_USERAGENT, "confpool/0.1");
                if (c->ca_file) { /* the given CA replaces the system trust */
                        curl_easy_setopt(h, CURLOPT_CAPATH, NULL);
                        curl_easy_setopt(h, CURLOPT_CAINFO, c->ca_file);
                }
                c->requests++;
                CURLcode cc = curl_easy_perform(h);
                long status = 0;
                curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
                curl_easy_cleanup(h);
                if (b.too_big) {
                        free(b.p);
                        return CP_ERROR(CP_ETOOBIG, "GET %s: response larger than %u bytes", url,
                                        CP_MAX_HTTP_RESPONSE);
                }
                if (cc != CURLE_OK) {
                        free(b.p);
                        r = CP_ERROR(CP_ENETWORK, "GET %s: %s", url, errbuf[0] ? errbuf : curl_easy_strerror(cc));
                        continue;
                }
                if (status == 200) {
                        if (!b.p) { /* empty body */
                                return CP_ERROR(CP_ENETWORK, "GET %s: empty response", url);
                        }
                        *ret = b.p;
                        *ret_len = b.len;
                        return 0;
                }
                free(b.p);
                if (status == 404)
                        return CP_ERROR(CP_ENOTFOUND, "GET %s: 404 Not Found", url);
                r = CP_ERROR(CP_ENETWORK, "GET %s: HTTP status %ld", url, status);
                if (status != 429 && status < 500)
                        return r;
        }
        return r;
}

typedef enum kds_kind {
        KDS_RAW,
        KDS_CERTS, /* one certificate or a PEM/DER bundle of AMD certificates */
        KDS_CRL,
} kds_kind;

/* Only well-formed AMD certificates / CRLs are cached (or taken from the
 * cache), so a garbage response cannot poison later verifications.  This is
 * a format check; trust comes from the verifier. */
static bool well_formed(kds_kind kind, const uint8_t *buf, size_t len) {
        int r = 0;
        if (kind == KDS_CERTS) {
                cp_amd_cert *certs[4] = { NULL };
                size_t n = 0;
                r = cp_amd_cert_load_bundle(buf, len, certs, 4, &n);
                for (size_t i = 0; i < n; i++)
                        cp_amd_cert_free(certs[i]);
        } else if (kind == KDS_CRL) {
                cp_amd_crl *crl = NULL;
                r = cp_amd_crl_load(buf, len, &crl);
                cp_amd_crl_free(crl);
        }
        return r == 0;
}

static int kds_get(cp_kds_client *c, const char *path, bool mutable_resource, kds_kind kind, uint8_t **ret,
                   size_t *ret_len, bool *ret_from_cache) {
        if (!c || !path || path[0] != '/')
                return CP_ERROR(CP_EINVAL, "cp_kds_get: path must start with '/'");
        char cpath[4096];
        bool have_cache = c->cache_dir != NULL;
        if (have_cache) {
                int r = cache_path(c, path, cpath, sizeof(cpath));
                if (r < 0)
                        return r;
                struct stat st;
                bool fresh = stat(cpath, &st) == 0 &&
                             (!mutable_resource || c->offline || time(NULL) - st.st_mtime < c->crl_max_age);
                if (fresh) {
                        uint8_t *cb = NULL;
                        size_t cl = 0;
                        r = cp_read_file(cpath, CP_MAX_HTTP_RESPONSE, &cb, &cl);
                        if (r == 0 && well_formed(kind, cb, cl)) {
                                if (ret_from_cache)
                                        *ret_from_cache = true;
                                *ret = cb;
                                *ret_len = cl;
                                return 0;
                        }
                        free(cb); /* unreadable or malformed cache entry: fetch again */
                        cp_error_clear();
                }
        }
        if (c->offline)
                return CP_ERROR(CP_ENOTFOUND, "offline mode: %s is not in the cache%s", path,
                                have_cache ? "" : " (no cache directory configured)");
        size_t n = strlen(c->base_url) + strlen(path) + 1;
        char *url = malloc(n);
        if (!url)
                return cp_error_oom();
        snprintf(url, n, "%s%s", c->base_url, path);
        uint8_t *buf = NULL;
        size_t len = 0;
        int r = http_get(c, url, &buf, &len);
        if (r == 0 && !well_formed(kind, buf, len)) {
                r = cp_error_wrap("GET %s: the response is not a well-formed %s", url,
                                  kind == KDS_CRL ? "CRL" : "AMD certificate");
                free(buf);
        }
        free(url);
        if (r < 0)
                return r;
        if (have_cache) {
                /* A cache write failure is not fatal for the fetch itself. */
                if (mkdir_p(c->cache_dir) == 0 && cp_write_file(cpath, buf, len, 0644) < 0)
                        cp_error_clear();
        }
        if (ret_from_cache)
                *ret_from_cache = false;
        *ret = buf;
        *ret_len = len;
        return 0;
}

int cp_kds_get(cp_kds_client *c, const char *path, bool mutable_resource, uint8_t **ret, size_t *ret_len,
               bool *ret_from_cache) {
        return kds_get(c, path, mutable_resource, KDS_RAW, ret, ret_len, ret_from_cache);
}

int cp_kds_fetch_vcek(cp_kds_client *c, cp_snp_generation g, const uint8_t chip_id[64], const cp_snp_tcb *tcb,
                      uint8_t **ret, size_t *ret_len) {
        char url[1024];
        int r = cp_kds_vcek_url(c->base_url, g, chip_id, tcb, url, sizeof(url));
        if (r < 0)
                return r;
        return kds_get(c, url + strlen(c->base_url), false, KDS_CERTS, ret, ret_len, NULL);
}

int cp_kds_fetch_chain(cp_kds_client *c, cp_snp_generation g, cp_amd_cert_kind leaf_kind, uint8_t **ret,
                       size_t *ret_len) {
        char url[1024];
        int r = cp_kds_chain_url(c->base_url, g, leaf_kind, url, sizeof(url));
        if (r < 0)
                return r;
        return kds_get(c, url + strlen(c->base_url), false, KDS_CERTS, ret, ret_len, NULL);
}

int cp_kds_fetch_crl(cp_kds_client *c, cp_snp_generation g, cp_amd_cert_kind leaf_kind, uint8_t **ret,
                     size_t *ret_len) {
        char url[1024];
        int r = cp_kds_crl_url(c->base_url, g, leaf_kind, url, sizeof(url));
        if (r < 0)
                return r;
        return kds_get(c, url + strlen(c->base_url), true, KDS_CRL, ret, ret_len, NULL);
}
