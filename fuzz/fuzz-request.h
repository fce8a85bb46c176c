/* SPDX-License-Identifier: Apache-2.0 */
/* The request format of the daemon-router fuzz targets (fuzz-attestd-routes,
 * fuzz-kbsd-routes, fuzz-cp-nodes): byte 0 picks the method, byte 1 is the
 * target's own selector (which credential, which mode), then a request
 * target line "PATH[?QUERY]" up to '\n', then the body.  The request is
 * built in-process as the HTTP glue builds it: path and query are
 * NUL-free (an HTTP server never passes NUL), query pairs split on '&' and
 * '=' (not decoded), the body NUL-terminated and not counted. */
#ifndef CP_FUZZ_REQUEST_H
#define CP_FUZZ_REQUEST_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "service/httpd.h"

#define FUZZ_MAX_TARGET 1024
#define FUZZ_MAX_QUERY 8

typedef struct fuzz_request {
        uint8_t selector;
        char target[FUZZ_MAX_TARGET + 1];
        cp_http_pair query[FUZZ_MAX_QUERY];
        cp_http_request rq;
        uint8_t *body; /* malloc()ed, NUL-terminated */
} fuzz_request;

/* false: too short, or a NUL in the target (skip the input). */
static inline bool fuzz_request_parse(const uint8_t *data, size_t size, fuzz_request *f) {
        static const char *const methods[] = { "GET", "PUT", "POST", "DELETE", "PATCH", "HEAD" };
        memset(f, 0, sizeof(*f));
        if (size < 2)
                return false;
        f->rq.method = methods[data[0] % 6];
        f->selector = data[1];
        size_t i = 2;
        while (i < size && data[i] != '\n' && i - 2 < FUZZ_MAX_TARGET)
                i++;
        size_t tl = i - 2;
        if (memchr(data + 2, 0, tl))
                return false;
        memcpy(f->target, data + 2, tl);
        f->target[tl] = 0;
        const uint8_t *body = i < size ? data + i + 1 : data + size;
        size_t blen = (size_t) (data + size - body);
        f->body = malloc(blen + 1);
        if (!f->body)
                abort();
        memcpy(f->body, body, blen);
        f->body[blen] = 0;
        f->rq.body = blen ? f->body : NULL;
        f->rq.body_len = blen;
        f->rq.remote_addr = "127.0.0.1";
        /* "PATH?k=v&k2=v2" */
        char *q = strchr(f->target, '?');
        if (q) {
                *q++ = 0;
                while (q && *q && f->rq.n_query < FUZZ_MAX_QUERY) {
                        char *amp = strchr(q, '&'), *eq;
                        if (amp)
                                *amp++ = 0;
                        eq = strchr(q, '=');
                        if (eq)
                                *eq++ = 0;
                        f->query[f->rq.n_query++] = (cp_http_pair){ q, eq ? eq : "" };
                        q = amp;
                }
                f->rq.query = f->query;
        }
        f->rq.path = f->target;
        return true;
}

static inline void fuzz_request_free(fuzz_request *f) {
        free(f->body);
        f->body = NULL;
}

/* The error envelope an error body must carry where path is served:
 * under a cluster's Kubernetes API (/k8s/...) kube-apiserver's Status
 * ({"kind":"Status","code":<the HTTP status>, ...}), elsewhere ARM's
 * {"error":{"code","message"}}. */
static inline bool fuzz_error_envelope_ok(const json_t *j, const char *path, unsigned status) {
        if (path && strncmp(path, "/k8s/", 5) == 0) {
                const char *kind = json_string_value(json_object_get(j, "kind"));
                return kind && strcmp(kind, "Status") == 0 &&
                       json_integer_value(json_object_get(j, "code")) == (json_int_t) status &&
                       json_is_string(json_object_get(j, "message"));
        }
        const json_t *e = json_object_get(j, "error");
        return json_is_object(e) && json_is_string(json_object_get(e, "code")) &&
               json_is_string(json_object_get(e, "message"));
}

/* Every response: a status in 200..599, a JSON body when it says JSON,
 * and the error envelope of path (fuzz_error_envelope_ok) on every
 * 4xx/5xx JSON body.  5xx only where allow_5xx (a dependency down, not
 * bad input). */
static inline void fuzz_response_check(const cp_http_response *r, const char *path, bool allow_5xx) {
        /* FUZZ_TRACE=1: each answer on stderr (how deep do the seeds get) */
        if (getenv("FUZZ_TRACE"))
                fprintf(stderr, "fuzz: %u %.*s\n", r->status, (int) (r->body_len < 300 ? r->body_len : 300),
                        r->body ? (const char *) r->body : "");
        if (r->status < 200 || r->status > 599)
                abort();
        if (r->status >= 500 && !allow_5xx)
                abort();
        if (!r->body_len || !strstr(r->content_type, "json"))
                return;
        json_t *j = json_loadb((const char *) r->body, r->body_len, 0, NULL);
        if (!j)
                abort();
        if (r->status >= 400 && !fuzz_error_envelope_ok(j, path, r->status))
                abort();
        json_decref(j);
}

#endif
