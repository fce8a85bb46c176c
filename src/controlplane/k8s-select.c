/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Label and field selectors as kube-apiserver parses them
 * (k8s.io/apimachinery/pkg/labels and fields): requirements separated by
 * commas; labels: k=v, k==v, k!=v, k in (a,b), k notin (a,b), k, !k;
 * fields: =, ==, != only.  Keys and values are bounded; anything else is
 * refused with a message naming it.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "controlplane/k8s.h"

static bool key_char(char c) {
        return isalnum((unsigned char) c) || c == '-' || c == '_' || c == '.' || c == '/';
}

static bool value_ok(const char *v, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (!isalnum((unsigned char) v[i]) && v[i] != '-' && v[i] != '_' && v[i] != '.')
                        return false;
        return true;
}

static const char *skip_ws(const char *p) {
        while (*p == ' ')
                p++;
        return p;
}

/* Copy p[0..n) into out (size) after checks; CP_EFORMAT when too long or bad. */
static int take(const char *what, const char *p, size_t n, char *out, size_t size, bool is_key) {
        if (n >= size)
                return CP_ERROR(CP_EFORMAT, "selector %s too long (%zu bytes)", what, n);
        if (is_key ? n == 0 : !value_ok(p, n))
                return CP_ERROR(CP_EFORMAT, "invalid selector %s: '%.*s'", what, (int) (n > 64 ? 64 : n), p);
        memcpy(out, p, n);
        out[n] = 0;
        return 0;
}

/* "(a,b)" at *pp into r's values. */
static int parse_set(const char **pp, cp_k8s_req *r) {
        const char *p = skip_ws(*pp);
        if (*p != '(')
                return CP_ERROR(CP_EFORMAT, "selector: expected '(' after 'in' or 'notin' for key '%s'", r->key);
        p++;
        for (;;) {
                p = skip_ws(p);
                size_t n = strcspn(p, ",) ");
                if (r->n_values == CP_K8S_MAX_VALUES)
                        return CP_ERROR(CP_EFORMAT, "selector: more than %d values for key '%s'", CP_K8S_MAX_VALUES,
                                        r->key);
                int e = take("value", p, n, r->values[r->n_values++], sizeof r->values[0], false);
                if (e < 0)
                        return e;
                p = skip_ws(p + n);
                if (*p == ')')
                        break;
                if (*p != ',')
                        return CP_ERROR(CP_EFORMAT, "selector: unterminated set for key '%s'", r->key);
                p++;
        }
        *pp = p + 1;
        return 0;
}

static int parse_req(const char **pp, bool fields, cp_k8s_req *r) {
        const char *p = skip_ws(*pp);
        bool neg = !fields && *p == '!';
        if (neg)
                p = skip_ws(p + 1);
        size_t n = 0;
        while (key_char(p[n]))
                n++;
        int e = take("key", p, n, r->key, sizeof r->key, true);
        if (e < 0)
                return e;
        p = skip_ws(p + n);
        if (neg || *p == ',' || *p == 0) {
                if (fields)
                        return CP_ERROR(CP_EFORMAT, "invalid field selector: '%s' needs an operator", r->key);
                r->op = neg ? CP_K8S_ABSENT : CP_K8S_EXISTS;
                *pp = p;
                return 0;
        }
        if (p[0] == '!' && p[1] == '=') {
                r->op = CP_K8S_NE;
                p += 2;
        } else if (p[0] == '=') {
                r->op = CP_K8S_EQ;
                p += p[1] == '=' ? 2 : 1;
        } else if (!fields && strncmp(p, "in", 2) == 0 && (p[2] == ' ' || p[2] == '(')) {
                r->op = CP_K8S_IN;
                p += 2;
        } else if (!fields && strncmp(p, "notin", 5) == 0 && (p[5] == ' ' || p[5] == '(')) {
                r->op = CP_K8S_NOTIN;
                p += 5;
        } else
                return CP_ERROR(CP_EFORMAT, "invalid selector: unknown operator after key '%s'", r->key);
        if (r->op == CP_K8S_IN || r->op == CP_K8S_NOTIN) {
                e = parse_set(&p, r);
        } else {
                p = skip_ws(p);
                n = strcspn(p, ", ");
                r->n_values = 1;
                e = fields ? (n < sizeof r->values[0] ? (memcpy(r->values[0], p, n), r->values[0][n] = 0, 0)
                                                      : CP_ERROR(CP_EFORMAT, "field selector value too long"))
                           : take("value", p, n, r->values[0], sizeof r->values[0], false);
                p += n;
        }
        *pp = skip_ws(p);
        return e;
}

static int parse(const char *s, bool fields, cp_k8s_selector *ret) {
        memset(ret, 0, sizeof *ret);
        if (!s)
                return 0;
        const char *p = skip_ws(s);
        while (*p) {
                if (ret->n == CP_K8S_MAX_REQS)
                        return CP_ERROR(CP_EFORMAT, "selector has more than %d requirements", CP_K8S_MAX_REQS);
                int e = parse_req(&p, fields, &ret->reqs[ret->n++]);
                if (e < 0)
                        return e;
                if (*p == ',')
                        p = skip_ws(p + 1);
                else if (*p)
                        return CP_ERROR(CP_EFORMAT, "invalid selector: unexpected '%c'", *p);
        }
        return 0;
}

int cp_k8s_label_selector_parse(const char *s, cp_k8s_selector *ret) {
        return parse(s, false, ret);
}

int cp_k8s_field_selector_parse(const char *s, cp_k8s_selector *ret) {
        return parse(s, true, ret);
}

static bool req_match(const cp_k8s_req *r, const char *have) {
        bool in = false;
        for (size_t i = 0; have && i < r->n_values; i++)
                in |= strcmp(have, r->values[i]) == 0;
        switch (r->op) {
        case CP_K8S_EQ:
        case CP_K8S_IN: return have && in;
        case CP_K8S_NE:
        case CP_K8S_NOTIN: return !in;
        case CP_K8S_EXISTS: return have != NULL;
        case CP_K8S_ABSENT: return have == NULL;
        }
        return false;
}

bool cp_k8s_labels_match(const cp_k8s_selector *sel, const json_t *labels) {
        for (size_t i = 0; i < sel->n; i++)
                if (!req_match(&sel->reqs[i], json_string_value(json_object_get(labels, sel->reqs[i].key))))
                        return false;
        return true;
}

/* The value of a supported field of kind's object ("" for an absent one). */
static bool field_of(const char *kind, const json_t *o, const char *key, char *buf, size_t size) {
        const json_t *md = json_object_get(o, "metadata");
        const char *v = NULL;
        if (strcmp(key, "metadata.name") == 0)
                v = json_string_value(json_object_get(md, "name"));
        else if (strcmp(key, "metadata.namespace") == 0)
                v = json_string_value(json_object_get(md, "namespace"));
        else if (strcmp(kind, "Node") == 0 && strcmp(key, "spec.unschedulable") == 0)
                v = json_is_true(json_object_get(json_object_get(o, "spec"), "unschedulable")) ? "true" : "false";
        else if (strcmp(kind, "Event") == 0 && strncmp(key, "involvedObject.", 15) == 0) {
                const char *f = key + 15;
                if (strcmp(f, "kind") && strcmp(f, "name") && strcmp(f, "namespace") && strcmp(f, "uid") &&
                    strcmp(f, "apiVersion") && strcmp(f, "resourceVersion") && strcmp(f, "fieldPath"))
                        return false;
                v = json_string_value(json_object_get(json_object_get(o, "involvedObject"), f));
        } else if (strcmp(kind, "Event") == 0 && (strcmp(key, "reason") == 0 || strcmp(key, "type") == 0))
                v = json_string_value(json_object_get(o, key));
        else if (strcmp(kind, "Pod") == 0 && (strcmp(key, "spec.nodeName") == 0 || strcmp(key, "status.phase") == 0))
                v = "";
        else if (strcmp(kind, "Namespace") == 0 && strcmp(key, "status.phase") == 0)
                v = "Active";
        else
                return false;
        snprintf(buf, size, "%s", v ? v : "");
        return true;
}

bool cp_k8s_fields_match(const cp_k8s_selector *sel, const char *kind, const json_t *obj, const char **unsupported) {
        bool ok = true;
        *unsupported = NULL;
        for (size_t i = 0; i < sel->n; i++) {
                char v[320];
                if (!field_of(kind, obj, sel->reqs[i].key, v, sizeof v)) {
                        *unsupported = sel->reqs[i].key;
                        return false;
                }
                ok = ok && req_match(&sel->reqs[i], v);
        }
        return ok;
}
