/* SPDX-License-Identifier: Apache-2.0 */
/* Key Vault secure-key-release policies (grammar version 1.0.0): strict
 * validation of the document and evaluation against token claims. */

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "basic/cleanup.h"
#include "confpool/keyrelease.h"
#include "basic/json-depth.h"

struct cp_release_policy {
        json_t *doc;   /* validated; evaluated directly */
        bool all;      /* top level allOf (else anyOf) */
        size_t n;
        const char **authorities; /* borrowed from doc */
};

CP_DEFINE_FREEP(cp_release_policy, cp_release_policy_free)

typedef enum pol_op {
        OP_EQUALS,
        OP_NOT_EQUALS,
        OP_LESS,
        OP_LESS_EQ,
        OP_GREATER,
        OP_GREATER_EQ,
        OP_EXISTS,
        _OP_MAX,
} pol_op;

static const char *const op_names[_OP_MAX] = {
        [OP_EQUALS] = "equals",           [OP_NOT_EQUALS] = "notEquals", [OP_LESS] = "less",
        [OP_LESS_EQ] = "lessOrEquals",    [OP_GREATER] = "greater",      [OP_GREATER_EQ] = "greaterOrEquals",
        [OP_EXISTS] = "exists",
};

static int op_from_name(const char *s) {
        for (int i = 0; i < _OP_MAX; i++)
                if (!strcmp(s, op_names[i]))
                        return i;
        return -1;
}

/* ---- validation ---------------------------------------------------------- */

typedef struct vctx {
        size_t nodes;
} vctx;

static int check_claim_path(const char *s, const char *where) {
        size_t n = strlen(s);
        if (n == 0)
                return CP_ERROR(CP_EFORMAT, "%s.claim: empty", where);
        if (n > CP_RELEASE_CLAIM_MAX)
                return CP_ERROR(CP_EFORMAT, "%s.claim: longer than %u bytes", where, CP_RELEASE_CLAIM_MAX);
        if (s[0] == '.' || s[n - 1] == '.' || strstr(s, ".."))
                return CP_ERROR(CP_EFORMAT, "%s.claim: \"%s\" has an empty path segment", where, s);
        return 0;
}

static int validate_group(vctx *v, const json_t *arr, const char *where, unsigned depth);

/* A condition or a nested group.  where is the JSON path for messages. */
static int validate_condition(vctx *v, const json_t *c, const char *where, unsigned depth) {
        const char *key;
        const json_t *val;
        const json_t *claim = NULL, *group = NULL, *opval = NULL;
        int the_op = -1;
        char sub[256];

        if (++v->nodes > CP_RELEASE_POLICY_MAX_NODES)
                return CP_ERROR(CP_ETOOBIG, "policy has more than %u conditions", CP_RELEASE_POLICY_MAX_NODES);
        if (!json_is_object(c))
                return CP_ERROR(CP_EFORMAT, "%s: a condition must be an object", where);
        json_object_foreach((json_t *) c, key, val) {
                int o;
                if (!strcmp(key, "claim"))
                        claim = val;
                else if (!strcmp(key, "anyOf") || !strcmp(key, "allOf")) {
                        if (group)
                                return CP_ERROR(CP_EFORMAT, "%s: both anyOf and allOf", where);
                        group = val;
                        if (snprintf(sub, sizeof(sub), "%s.%s", where, key) >= (int) sizeof(sub))
                                return CP_ERROR(CP_ETOOBIG, "policy nested too deeply");
                } else if ((o = op_from_name(key)) >= 0) {
                        if (opval)
                                return CP_ERROR(CP_EFORMAT, "%s: more than one operator (%s and %s)", where,
                                                op_names[the_op], key);
                        the_op = o;
                        opval = val;
                } else
                        return CP_ERROR(CP_EFORMAT, "%s: unknown member \"%s\"", where, key);
        }
        if (group) {
                if (claim || opval)
                        return CP_ERROR(CP_EFORMAT, "%s: a group (anyOf/allOf) cannot also have claim or an operator",
                                        where);
                return validate_group(v, group, sub, depth + 1);
        }
        if (!claim)
                return CP_ERROR(CP_EFORMAT, "%s: condition without \"claim\"", where);
        if (!json_is_string(claim))
                return CP_ERROR(CP_EFORMAT, "%s.claim: must be a string", where);
        int r = check_claim_path(json_string_value(claim), where);
        if (r < 0)
                return r;
        if (!opval)
                return CP_ERROR(CP_EFORMAT, "%s: condition on \"%s\" has no operator", where,
                                json_string_value(claim));
        switch ((pol_op) the_op) {
        case OP_EQUALS:
        case OP_NOT_EQUALS:
                if (!json_is_string(opval) && !json_is_number(opval) && !json_is_boolean(opval))
                        return CP_ERROR(CP_EFORMAT, "%s.%s: must be a string, number or boolean", where,
                                        op_names[the_op]);
                break;
        case OP_EXISTS:
                if (!json_is_boolean(opval))
                        return CP_ERROR(CP_EFORMAT, "%s.exists: must be a boolean", where);
                break;
        default:
                if (!json_is_number(opval))
                        return CP_ERROR(CP_EFORMAT, "%s.%s: must be a number", where, op_names[the_op]);
                if (json_is_real(opval) && !isfinite(json_real_value(opval)))
                        return CP_ERROR(CP_EFORMAT, "%s.%s: not a finite number", where, op_names[the_op]);
                break;
        }
        return 0;
}

static int validate_group(vctx *v, const json_t *arr, const char *where, unsigned depth) {
        size_t i;
        const json_t *c;
        char sub[256];
        if (depth > CP_RELEASE_POLICY_MAX_DEPTH)
                return CP_ERROR(CP_ETOOBIG, "%s: nested deeper than %u", where, CP_RELEASE_POLICY_MAX_DEPTH);
        if (!json_is_array(arr))
                return CP_ERROR(CP_EFORMAT, "%s: must be an array", where);
        if (json_array_size(arr) == 0)
                return CP_ERROR(CP_EFORMAT, "%s: empty", where);
        json_array_foreach((json_t *) arr, i, c) {
                int r;
                if (snprintf(sub, sizeof(sub), "%s[%zu]", where, i) >= (int) sizeof(sub))
                                return CP_ERROR(CP_ETOOBIG, "policy nested too deeply");
                if ((r = validate_condition(v, c, sub, depth)) < 0)
                        return r;
        }
        return 0;
}

static int validate_authority(vctx *v, const json_t *a, const char *where, const char **ret_url) {
        const char *key;
        const json_t *val, *url = NULL, *group = NULL;
        char sub[256];
        if (++v->nodes > CP_RELEASE_POLICY_MAX_NODES)
                return CP_ERROR(CP_ETOOBIG, "policy has more than %u conditions", CP_RELEASE_POLICY_MAX_NODES);
        if (!json_is_object(a))
                return CP_ERROR(CP_EFORMAT, "%s: an authority must be an object", where);
        json_object_foreach((json_t *) a, key, val) {
                if (!strcmp(key, "authority"))
                        url = val;
                else if (!strcmp(key, "anyOf") || !strcmp(key, "allOf")) {
                        if (group)
                                return CP_ERROR(CP_EFORMAT, "%s: both anyOf and allOf", where);
                        group = val;
                        if (snprintf(sub, sizeof(sub), "%s.%s", where, key) >= (int) sizeof(sub))
                                return CP_ERROR(CP_ETOOBIG, "policy nested too deeply");
                } else
                        return CP_ERROR(CP_EFORMAT, "%s: unknown member \"%s\"", where, key);
        }
        if (!url)
                return CP_ERROR(CP_EFORMAT, "%s: \"authority\" is missing", where);
        if (!json_is_string(url) || json_string_length(url) == 0 || json_string_length(url) > 2048)
                return CP_ERROR(CP_EFORMAT, "%s.authority: must be a non-empty string", where);
        if (!group)
                return CP_ERROR(CP_EFORMAT, "%s: needs \"anyOf\" or \"allOf\"", where);
        int r = validate_group(v, group, sub, 1);
        if (r < 0)
                return r;
        *ret_url = json_string_value(url);
        return 0;
}

int cp_release_policy_parse(const char *json, size_t len, cp_release_policy **ret) {
        json_error_t jerr;
        vctx v = { 0 };
        const char *key;
        const json_t *val, *ver = NULL, *group = NULL;
        const char *gname = NULL;
        int r;

        if (!json || !ret)
                return CP_ERROR(CP_EINVAL, "no policy");
        if (len > CP_RELEASE_POLICY_MAX)
                return CP_ERROR(CP_ETOOBIG, "policy longer than %u bytes", CP_RELEASE_POLICY_MAX);
        if (!cp_json_depth_within(json, len, 2 * CP_RELEASE_POLICY_MAX_DEPTH + 4, NULL))
                return CP_ERROR(CP_ETOOBIG, "policy nested too deeply");
        json_t *doc = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
        if (!doc)
                return CP_ERROR(CP_EFORMAT, "policy is not JSON: %s (line %d column %d)", jerr.text, jerr.line,
                                jerr.column);
        _cleanup_(cp_release_policy_freep) cp_release_policy *p = calloc(1, sizeof(*p));
        if (!p) {
                json_decref(doc);
                return cp_error_oom();
        }
        p->doc = doc;
        if (!json_is_object(doc))
                return CP_ERROR(CP_EFORMAT, "policy: must be a JSON object");
        json_object_foreach(doc, key, val) {
                if (!strcmp(key, "version"))
                        ver = val;
                else if (!strcmp(key, "anyOf") || !strcmp(key, "allOf")) {
                        if (group)
                                return CP_ERROR(CP_EFORMAT, "policy: both anyOf and allOf at the top level");
                        group = val;
                        gname = key;
                } else
                        return CP_ERROR(CP_EFORMAT, "policy: unknown member \"%s\"", key);
        }
        if (!ver)
                return CP_ERROR(CP_EFORMAT, "policy: \"version\" is missing");
        if (!json_is_string(ver))
                return CP_ERROR(CP_EFORMAT, "policy.version: must be a string");
        if (strcmp(json_string_value(ver), "1.0.0"))
                return CP_ERROR(CP_EVERSION, "policy.version: \"%s\" is not supported (only 1.0.0)",
                                json_string_value(ver));
        if (!group)
                return CP_ERROR(CP_EFORMAT, "policy: needs \"anyOf\" or \"allOf\" of authorities");
        if (!json_is_array(group) || json_array_size(group) == 0)
                return CP_ERROR(CP_EFORMAT, "policy.%s: must be a non-empty array", gname);
        p->all = !strcmp(gname, "allOf");
        p->n = json_array_size(group);
        p->authorities = calloc(p->n, sizeof(*p->authorities));
        if (!p->authorities)
                return cp_error_oom();
        for (size_t i = 0; i < p->n; i++) {
                char where[64];
                if (snprintf(where, sizeof(where), "policy.%s[%zu]", gname, i) >= (int) sizeof(where))
                        return CP_ERROR(CP_ETOOBIG, "policy too big");
                if ((r = validate_authority(&v, json_array_get(group, i), where, &p->authorities[i])) < 0)
                        return r;
        }
        *ret = TAKE_PTR(p);
        return 0;
}

cp_release_policy *cp_release_policy_free(cp_release_policy *p) {
        if (!p)
                return NULL;
        free(p->authorities);
        json_decref(p->doc);
        free(p);
        return NULL;
}

int cp_release_policy_to_json(const cp_release_policy *p, char **ret) {
        if (!p || !ret)
                return CP_ERROR(CP_EINVAL, "no policy");
        char *s = json_dumps(p->doc, JSON_COMPACT | JSON_SORT_KEYS);
        if (!s)
                return cp_error_oom();
        *ret = s;
        return 0;
}

size_t cp_release_policy_n_authorities(const cp_release_policy *p) {
        return p ? p->n : 0;
}

const char *cp_release_policy_authority(const cp_release_policy *p, size_t i) {
        return p && i < p->n ? p->authorities[i] : NULL;
}

/* ---- evaluation ------------------------------------------------------------ */

typedef struct ectx {
        char *reason;
        size_t cap;
        /* conditions met so far in the current top-level alternative, and in
         * the one whose failure the reason names: of several anyOf
         * alternatives, the reason is the one that got furthest (a TDX key
         * that takes TdxVm and AzureGuest tokens names the MRTD that
         * differs, not the other token shape) */
        int met, best;
} ectx;

static void why(ectx *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void why(ectx *e, const char *fmt, ...) {
        if (!e->reason || e->cap == 0)
                return;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->reason, e->cap, fmt, ap);
        va_end(ap);
}

static const json_t *lookup_claim(const json_t *claims, const char *path) {
        const json_t *cur = claims;
        char seg[CP_RELEASE_CLAIM_MAX + 1];
        const char *s = path;
        while (cur) {
                const char *dot = strchr(s, '.');
                size_t n = dot ? (size_t) (dot - s) : strlen(s);
                if (n >= sizeof(seg) || !json_is_object(cur))
                        return NULL;
                memcpy(seg, s, n);
                seg[n] = 0;
                cur = json_object_get(cur, seg);
                if (!dot)
                        return cur;
                s = dot + 1;
        }
        return NULL;
}

/* -1, 0, 1 for numbers a and b */
static int num_cmp(const json_t *a, const json_t *b) {
        if (json_is_integer(a) && json_is_integer(b)) {
                json_int_t x = json_integer_value(a), y = json_integer_value(b);
                return x < y ? -1 : x > y;
        }
        double x = json_number_value(a), y = json_number_value(b);
        return x < y ? -1 : x > y;
}

static bool scalar_equal(const json_t *a, const json_t *b) {
        if (json_is_number(a) && json_is_number(b))
                return num_cmp(a, b) == 0;
        if (json_is_string(a) && json_is_string(b))
                return json_string_length(a) == json_string_length(b) &&
                       memcmp(json_string_value(a), json_string_value(b), json_string_length(a)) == 0;
        if (json_is_boolean(a) && json_is_boolean(b))
                return json_is_true(a) == json_is_true(b);
        return false;
}

static void describe(const json_t *v, char *buf, size_t cap) {
        char *s = v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
        snprintf(buf, cap, "%.64s%s", s ? s : "(missing)", s && strlen(s) > 64 ? "..." : "");
        free(s);
}

static bool eval_condition(ectx *e, const json_t *c, const json_t *claims);

static bool eval_group(ectx *e, const json_t *c, const json_t *claims) {
        const json_t *arr;
        bool any = (arr = json_object_get(c, "anyOf")) != NULL;
        size_t i;
        const json_t *x;
        if (!any)
                arr = json_object_get(c, "allOf");
        json_array_foreach((json_t *) arr, i, x) {
                bool ok = eval_condition(e, x, claims);
                if (any && ok)
                        return true;
                if (!any && !ok)
                        return false;
        }
        return !any;
}

static bool eval_condition(ectx *e, const json_t *c, const json_t *claims) {
        if (json_object_get(c, "anyOf") || json_object_get(c, "allOf"))
                return eval_group(e, c, claims);
        const char *path = json_string_value(json_object_get(c, "claim"));
        const char *key;
        const json_t *val, *want = NULL;
        int o = -1;
        json_object_foreach((json_t *) c, key, val)
                if ((o = op_from_name(key)) >= 0) {
                        want = val;
                        break;
                }
        const json_t *have = lookup_claim(claims, path);
        bool ok;
        char hv[80], wv[80];
        switch ((pol_op) o) {
        case OP_EXISTS:
                ok = json_is_true(want) ? have != NULL : have == NULL;
                break;
        case OP_EQUALS:
                ok = have && scalar_equal(have, want);
                break;
        case OP_NOT_EQUALS:
                ok = have && (json_is_string(have) || json_is_number(have) || json_is_boolean(have)) &&
                     !scalar_equal(have, want);
                break;
        default: {
                if (!have || !json_is_number(have) || (json_is_real(have) && !isfinite(json_real_value(have)))) {
                        ok = false;
                        break;
                }
                int k = num_cmp(have, want);
                ok = o == OP_LESS ? k < 0 : o == OP_LESS_EQ ? k <= 0 : o == OP_GREATER ? k > 0 : k >= 0;
                break;
        }
        }
        if (ok)
                e->met++;
        else if (e->met > e->best) {
                e->best = e->met;
                describe(have, hv, sizeof(hv));
                describe(want, wv, sizeof(wv));
                why(e, "claim \"%s\" %s %s not satisfied (token has %s)", path, o >= 0 ? op_names[o] : "?", wv, hv);
        }
        return ok;
}

static bool issuer_matches(const char *a, const char *b) {
        size_t la = strlen(a), lb = strlen(b);
        if (la && a[la - 1] == '/')
                la--;
        if (lb && b[lb - 1] == '/')
                lb--;
        return la == lb && memcmp(a, b, la) == 0;
}

int cp_release_policy_evaluate(const cp_release_policy *p, const char *iss, const json_t *claims, char *reason,
                               size_t reason_cap) {
        ectx e = { .reason = reason, .cap = reason_cap, .best = -1 };
        if (reason && reason_cap)
                reason[0] = 0;
        if (!p || !iss || !json_is_object(claims))
                return CP_ERROR(CP_EINVAL, "policy, issuer and claims are required");
        const json_t *group = json_object_get(p->doc, p->all ? "allOf" : "anyOf");
        size_t matched = 0;
        for (size_t i = 0; i < p->n; i++) {
                const json_t *a = json_array_get(group, i);
                if (!issuer_matches(p->authorities[i], iss)) {
                        if (p->all) {
                                why(&e, "authority %.200s does not match token issuer", p->authorities[i]);
                                return CP_ERROR(CP_EPOLICY, "release policy: %s", reason ? reason : "issuer");
                        }
                        continue;
                }
                matched++;
                e.met = 0;
                bool ok = eval_group(&e, a, claims);
                if (ok && !p->all)
                        return 0;
                if (!ok && p->all)
                        break;
        }
        if (matched == 0) {
                why(&e, "no authority in the policy matches token issuer %.200s", iss);
                return CP_ERROR(CP_EPOLICY, "release policy: no authority matches the token issuer");
        }
        if (p->all && matched == p->n && (!reason || !reason[0]))
                return 0;
        return CP_ERROR(CP_EPOLICY, "release policy not satisfied: %s", reason ? reason : "");
}

/* ---- TEE key ------------------------------------------------------------- */

int cp_release_find_tee_key(const json_t *claims, const json_t **ret_jwk) {
        const json_t *rt = json_object_get(claims, "x-ms-runtime");
        const json_t *keys = json_object_get(rt, "keys"), *k;
        size_t i;
        if (!json_is_array(keys))
                return CP_ERROR(CP_ENOTFOUND, "token has no x-ms-runtime.keys");
        json_array_foreach((json_t *) keys, i, k) {
                const json_t *ops = json_object_get(k, "key_ops"), *op;
                size_t j;
                bool enc = false;
                if (!json_is_object(k) || !json_is_string(json_object_get(k, "kty")) ||
                    strcmp(json_string_value(json_object_get(k, "kty")), "RSA"))
                        continue;
                if (json_is_array(ops))
                        json_array_foreach((json_t *) ops, j, op) if (json_is_string(op) &&
                                                                       !strcmp(json_string_value(op), "encrypt")) enc = true;
                const json_t *use = json_object_get(k, "use");
                if (json_is_string(use) && !strcmp(json_string_value(use), "enc"))
                        enc = true;
                if (enc) {
                        *ret_jwk = k;
                        return 0;
                }
        }
        return CP_ERROR(CP_ENOTFOUND, "no RSA key with key_ops \"encrypt\" in x-ms-runtime.keys");
}
