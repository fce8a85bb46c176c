/* SPDX-License-Identifier: Apache-2.0 */
/* Claim sets for the MAA policy evaluator, and the policy hash. */

#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "basic/cleanup.h"
#include "basic/codec.h"
#include "maa_policy-internal.h"

#define FLATTEN_DEPTH 4
#define TYPE_MAX 256u

struct cp_maa_claims {
        size_t n, cap;
        cp_maa_claim *v;
};

int cp_maa_claims_new(cp_maa_claims **ret) {
        cp_maa_claims *c = calloc(1, sizeof(*c));
        if (!c)
                return cp_error_oom();
        *ret = c;
        return 0;
}

/* The two issuers nearly every claim has are shared, not copied. */
static const char issuer_service[] = "AttestationService", issuer_policy[] = "AttestationPolicy";

static char *issuer_dup(const char *issuer) {
        if (!issuer || strcmp(issuer, issuer_service) == 0)
                return (char *) issuer_service;
        if (strcmp(issuer, issuer_policy) == 0)
                return (char *) issuer_policy;
        return strdup(issuer);
}

static void issuer_free(char *issuer) {
        if (issuer != issuer_service && issuer != issuer_policy)
                free(issuer);
}

cp_maa_claims *cp_maa_claims_free(cp_maa_claims *c) {
        if (!c)
                return NULL;
        for (size_t i = 0; i < c->n; i++) {
                free(c->v[i].type);
                issuer_free(c->v[i].issuer);
                free(c->v[i].s);
        }
        free(c->v);
        free(c);
        return NULL;
}

size_t cp_maa_claims_count(const cp_maa_claims *c) {
        return c ? c->n : 0;
}

const cp_maa_claim *cp_maa_claims_get(const cp_maa_claims *c, size_t i) {
        return c && i < c->n ? &c->v[i] : NULL;
}

const cp_maa_claim *cp_maa_claims_find(const cp_maa_claims *c, const char *type) {
        for (size_t i = 0; c && type && i < c->n; i++)
                if (strcmp(c->v[i].type, type) == 0)
                        return &c->v[i];
        return NULL;
}

/* Append a claim; s is copied when vtype is STRING. */
int cp_maa_claims_push(cp_maa_claims *c, const char *type, const char *issuer, cp_maa_value_type vtype,
                       const char *s, int64_t i, bool b) {
        if (!c || !type)
                return CP_ERROR(CP_EINVAL, "claim without a type");
        if (c->n >= CP_MAA_MAX_CLAIMS)
                return CP_ERROR(CP_ETOOBIG, "more than %u claims", CP_MAA_MAX_CLAIMS);
        if (strlen(type) > TYPE_MAX || (vtype == CP_MAA_STRING && (!s || strlen(s) > CP_MAA_MAX_STRING)))
                return CP_ERROR(CP_ETOOBIG, "claim type or value too long");
        if (c->n == c->cap) {
                size_t nc = c->cap ? c->cap * 2 : 32;
                cp_maa_claim *nv = realloc(c->v, nc * sizeof(*nv));
                if (!nv)
                        return cp_error_oom();
                c->v = nv;
                c->cap = nc;
        }
        cp_maa_claim *e = &c->v[c->n];
        memset(e, 0, sizeof(*e));
        e->type = strdup(type);
        e->issuer = issuer_dup(issuer);
        e->vtype = vtype;
        e->s = vtype == CP_MAA_STRING ? strdup(s) : NULL;
        e->i = i;
        e->b = b;
        if (!e->type || !e->issuer || (vtype == CP_MAA_STRING && !e->s)) {
                free(e->type);
                issuer_free(e->issuer);
                free(e->s);
                return cp_error_oom();
        }
        c->n++;
        return 0;
}

int cp_maa_claims_add_string(cp_maa_claims *c, const char *type, const char *issuer, const char *v) {
        return cp_maa_claims_push(c, type, issuer, CP_MAA_STRING, v, 0, false);
}

int cp_maa_claims_add_int(cp_maa_claims *c, const char *type, const char *issuer, int64_t v) {
        return cp_maa_claims_push(c, type, issuer, CP_MAA_INTEGER, NULL, v, false);
}

int cp_maa_claims_add_bool(cp_maa_claims *c, const char *type, const char *issuer, bool v) {
        return cp_maa_claims_push(c, type, issuer, CP_MAA_BOOLEAN, NULL, 0, v);
}

static int add_json(cp_maa_claims *c, const char *type, const char *issuer, const json_t *v, unsigned depth,
                    bool in_array) {
        int r;
        switch (json_typeof(v)) {
        case JSON_STRING:
                return cp_maa_claims_add_string(c, type, issuer, json_string_value(v));
        case JSON_INTEGER:
                return cp_maa_claims_add_int(c, type, issuer, (int64_t) json_integer_value(v));
        case JSON_TRUE:
        case JSON_FALSE:
                return cp_maa_claims_add_bool(c, type, issuer, json_is_true(v));
        case JSON_ARRAY:
                if (in_array)
                        return 0;
                for (size_t i = 0; i < json_array_size(v); i++)
                        if ((r = add_json(c, type, issuer, json_array_get(v, i), depth, true)) < 0)
                                return r;
                return 0;
        case JSON_OBJECT: {
                if (in_array || depth >= FLATTEN_DEPTH)
                        return 0;
                const char *k;
                const json_t *m;
                json_object_foreach((json_t *) v, k, m) {
                        char name[TYPE_MAX + 1];
                        int n = snprintf(name, sizeof(name), "%s.%s", type, k);
                        if (n < 0 || (size_t) n >= sizeof(name))
                                continue;
                        if ((r = add_json(c, name, issuer, m, depth + 1, false)) < 0)
                                return r;
                }
                return 0;
        }
        default:
                return 0;
        }
}

int cp_maa_claims_add_json(cp_maa_claims *c, const char *type, const char *issuer, const json_t *v) {
        if (!c || !type || !v)
                return CP_ERROR(CP_EINVAL, "cp_maa_claims_add_json: bad arguments");
        return add_json(c, type, issuer, v, 0, false);
}

int cp_maa_policy_hash(const char *text, size_t len, char ret[44]) {
        size_t elen = cp_b64_encoded_len(len, CP_B64_URL);
        char *enc;
        uint8_t d[SHA256_DIGEST_LENGTH];
        if (!text || len > CP_MAA_POLICY_MAX)
                return CP_ERROR(CP_EINVAL, "policy text missing or too long");
        enc = malloc(elen + 1);
        if (!enc)
                return cp_error_oom();
        cp_b64_encode((const uint8_t *) text, len, CP_B64_URL, enc);
        SHA256((const uint8_t *) enc, elen, d);
        free(enc);
        cp_b64_encode(d, sizeof(d), CP_B64_URL, ret);
        return 0;
}
