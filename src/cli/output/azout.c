/* SPDX-License-Identifier: Apache-2.0 */
/*
 * az output formats (knack output.py semantics), see azout.h and
 * docs/cli-output.md.
 */
#include <pthread.h>
#include <regex.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "basic/cleanup.h"
#include "basic/limits.h"
#include "cli/output/azout.h"
#include "cli/output/jmespath.h"

CP_DEFINE_FREEP(cp_jmespath, cp_jmespath_free)

const cp_azout_table_spec cp_azout_table_agentpool = {
        .row_expr = "{name: name, osType: osType, kubernetesVersion: orchestratorVersion, vmSize: vmSize, "
                    "osDiskSizeGB: osDiskSizeGB, count: count, maxPods: maxPods, "
                    "provisioningState: provisioningState, mode: mode}",
};

const cp_azout_table_spec cp_azout_table_cluster = {
        .row_expr = "{name: name, location: location, resourceGroup: resourceGroup, "
                    "kubernetesVersion: kubernetesVersion, currentKubernetesVersion: currentKubernetesVersion, "
                    "provisioningState: provisioningState, fqdn: fqdn || privateFqdn}",
};

static const char *const format_names[_CP_AZOUT_FORMAT_MAX] = {
        [CP_AZOUT_JSON] = "json", [CP_AZOUT_JSONC] = "jsonc", [CP_AZOUT_TABLE] = "table",
        [CP_AZOUT_TSV] = "tsv",   [CP_AZOUT_YAML] = "yaml",   [CP_AZOUT_YAMLC] = "yamlc",
        [CP_AZOUT_NONE] = "none",
};

int cp_azout_format_from_string(const char *s, cp_azout_format *ret) {
        if (!s || !ret)
                return CP_ERROR(CP_EINVAL, "azout: NULL argument");
        for (int i = 0; i < _CP_AZOUT_FORMAT_MAX; i++)
                if (strcmp(s, format_names[i]) == 0) {
                        *ret = (cp_azout_format) i;
                        return 0;
                }
        return CP_ERROR(CP_EINVAL, "argument --output/-o: invalid choice: '%s' (choose from 'json', 'jsonc', "
                                   "'none', 'table', 'tsv', 'yaml', 'yamlc')",
                        s);
}

const char *cp_azout_format_to_string(cp_azout_format fmt) {
        if ((unsigned) fmt >= _CP_AZOUT_FORMAT_MAX)
                return NULL;
        return format_names[fmt];
}

/* ------------------------------------------------------------ buffer */

typedef struct obuf {
        char *p;
        size_t len, cap;
        int err;
} obuf;

static void ob_put(obuf *b, const char *s, size_t n) {
        if (b->err)
                return;
        if (b->len + n + 1 > b->cap) {
                size_t ncap = b->cap ? b->cap : 256;
                while (ncap < b->len + n + 1)
                        ncap *= 2;
                char *np = realloc(b->p, ncap);
                if (!np) {
                        b->err = cp_error_oom();
                        return;
                }
                b->p = np;
                b->cap = ncap;
        }
        memcpy(b->p + b->len, s, n);
        b->len += n;
        b->p[b->len] = 0;
}

static void ob_puts(obuf *b, const char *s) {
        ob_put(b, s, strlen(s));
}

static void ob_spaces(obuf *b, size_t n) {
        for (size_t i = 0; i < n; i++)
                ob_put(b, " ", 1);
}

__attribute__((format(printf, 2, 3)))
static void ob_printf(obuf *b, const char *fmt, ...) {
        char tmp[64];
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
        va_end(ap);
        if (n > 0)
                ob_put(b, tmp, (size_t) n < sizeof(tmp) ? (size_t) n : sizeof(tmp) - 1);
}

static int depth_error(void) {
        return CP_ERROR(CP_ETOOBIG, "azout: value nested deeper than %u", CP_MAX_AZOUT_DEPTH);
}

/* Decode one UTF-8 code point (lenient: invalid bytes are returned as
 * themselves, length 1). */
static uint32_t utf8_next(const char *s, size_t len, size_t *i) {
        unsigned char c = (unsigned char) s[*i];
        uint32_t cp;
        size_t n;
        if (c < 0x80) {
                (*i)++;
                return c;
        }
        n = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
        if (n == 1 || *i + n > len) {
                (*i)++;
                return c;
        }
        cp = c & (0x7f >> n);
        for (size_t k = 1; k < n; k++)
                cp = (cp << 6) | ((unsigned char) s[*i + k] & 0x3f);
        *i += n;
        return cp;
}

static size_t utf8_width(const char *s, size_t len) {
        size_t n = 0;
        for (size_t i = 0; i < len;) {
                utf8_next(s, len, &i);
                n++;
        }
        return n;
}

/* --------------------------------------------------------------- colours */

#define C_RESET "\x1b[39m"
#define C_KEY "\x1b[94m"    /* keys: bright blue */
#define C_STRING "\x1b[33m" /* strings: yellow */
#define C_NUMBER "\x1b[34m" /* numbers: blue */
#define C_LITERAL "\x1b[36m" /* true/false/null: cyan */

/* ------------------------------------------------------------------ json */

static void json_str(obuf *b, const char *s, size_t n) {
        char *tmp = NULL;
        json_t *v = json_stringn_nocheck(s, n);
        if (!v) {
                b->err = cp_error_oom();
                return;
        }
        if (cp_jmespath_dump(v, -1, 0, &tmp) < 0)
                b->err = cp_error_last()->code;
        else
                ob_puts(b, tmp);
        free(tmp);
        json_decref(v);
}

typedef struct kv {
        const char *k;
        size_t klen;
        json_t *v;
} kv;

static int kv_cmp(const void *a, const void *b) {
        const kv *x = a, *y = b;
        int c = memcmp(x->k, y->k, x->klen < y->klen ? x->klen : y->klen);
        if (c)
                return c;
        return x->klen < y->klen ? -1 : x->klen > y->klen ? 1 : 0;
}

/* Items of an object, sorted by key when sort. */
static kv *object_items(json_t *o, bool sort, size_t *ret_n) {
        size_t n = json_object_size(o), i = 0;
        kv *items = calloc(n ? n : 1, sizeof(*items));
        const char *k;
        size_t klen;
        json_t *v;
        if (!items) {
                cp_error_oom();
                return NULL;
        }
        json_object_keylen_foreach(o, k, klen, v) {
                if (i < n)
                        items[i++] = (kv) { k, klen, v };
        }
        if (sort)
                qsort(items, i, sizeof(*items), kv_cmp);
        *ret_n = i;
        return items;
}

static void scalar_text(obuf *b, json_t *v) {
        char num[40];
        switch (json_typeof(v)) {
        case JSON_INTEGER:
                ob_printf(b, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
                break;
        case JSON_REAL:
                cp_jmespath_format_real(json_real_value(v), num, sizeof(num));
                ob_puts(b, num);
                break;
        default:
                break;
        }
}

static void emit_json(obuf *b, json_t *v, unsigned level, bool color) {
        if (level > CP_MAX_AZOUT_DEPTH) {
                if (!b->err)
                        b->err = depth_error();
                return;
        }
        switch (json_typeof(v)) {
        case JSON_OBJECT: {
                size_t n;
                _cleanup_free_ kv *items = NULL;
                if (json_object_size(v) == 0) {
                        ob_puts(b, "{}");
                        return;
                }
                items = object_items(v, true, &n);
                if (!items) {
                        b->err = CP_ENOMEM;
                        return;
                }
                ob_puts(b, "{");
                for (size_t i = 0; i < n; i++) {
                        ob_puts(b, i ? ",\n" : "\n");
                        ob_spaces(b, 2 * (level + 1));
                        if (color)
                                ob_puts(b, C_KEY);
                        json_str(b, items[i].k, items[i].klen);
                        if (color)
                                ob_puts(b, C_RESET);
                        ob_puts(b, ": ");
                        emit_json(b, items[i].v, level + 1, color);
                }
                ob_puts(b, "\n");
                ob_spaces(b, 2 * level);
                ob_puts(b, "}");
                return;
        }
        case JSON_ARRAY: {
                size_t i;
                json_t *e;
                if (json_array_size(v) == 0) {
                        ob_puts(b, "[]");
                        return;
                }
                ob_puts(b, "[");
                json_array_foreach(v, i, e) {
                        ob_puts(b, i ? ",\n" : "\n");
                        ob_spaces(b, 2 * (level + 1));
                        emit_json(b, e, level + 1, color);
                }
                ob_puts(b, "\n");
                ob_spaces(b, 2 * level);
                ob_puts(b, "]");
                return;
        }
        case JSON_STRING:
                if (color)
                        ob_puts(b, C_STRING);
                json_str(b, json_string_value(v), json_string_length(v));
                break;
        case JSON_INTEGER:
        case JSON_REAL:
                if (color)
                        ob_puts(b, C_NUMBER);
                scalar_text(b, v);
                break;
        default:
                if (color)
                        ob_puts(b, C_LITERAL);
                ob_puts(b, json_is_true(v) ? "true" : json_is_false(v) ? "false" : "null");
                break;
        }
        if (color)
                ob_puts(b, C_RESET);
}

/* ------------------------------------------------------- Python str() */

static void py_repr(obuf *b, json_t *v, unsigned level);

static void py_repr_str(obuf *b, const char *s, size_t n) {
        bool has_sq = memchr(s, '\'', n) != NULL, has_dq = memchr(s, '"', n) != NULL;
        char q = has_sq && !has_dq ? '"' : '\'';
        ob_put(b, &q, 1);
        for (size_t i = 0; i < n;) {
                size_t st = i;
                uint32_t cp = utf8_next(s, n, &i);
                if (cp == (uint32_t) q || cp == '\\') {
                        ob_puts(b, "\\");
                        ob_put(b, s + st, 1);
                } else if (cp == '\n')
                        ob_puts(b, "\\n");
                else if (cp == '\r')
                        ob_puts(b, "\\r");
                else if (cp == '\t')
                        ob_puts(b, "\\t");
                else if (cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp < 0xa0))
                        ob_printf(b, "\\x%02x", cp);
                else
                        ob_put(b, s + st, i - st);
        }
        ob_put(b, &q, 1);
}

/* Python's str() of a JSON value as knack/tabulate print it. */
static void py_str(obuf *b, json_t *v, unsigned level) {
        switch (json_typeof(v)) {
        case JSON_STRING:
                ob_put(b, json_string_value(v), json_string_length(v));
                return;
        case JSON_TRUE:
                ob_puts(b, "True");
                return;
        case JSON_FALSE:
                ob_puts(b, "False");
                return;
        case JSON_NULL:
                ob_puts(b, "None");
                return;
        case JSON_INTEGER:
        case JSON_REAL:
                scalar_text(b, v);
                return;
        default:
                py_repr(b, v, level);
        }
}

static void py_repr(obuf *b, json_t *v, unsigned level) {
        if (level > CP_MAX_AZOUT_DEPTH) {
                if (!b->err)
                        b->err = depth_error();
                return;
        }
        if (json_is_string(v)) {
                py_repr_str(b, json_string_value(v), json_string_length(v));
        } else if (json_is_array(v)) {
                size_t i;
                json_t *e;
                ob_puts(b, "[");
                json_array_foreach(v, i, e) {
                        if (i)
                                ob_puts(b, ", ");
                        py_repr(b, e, level + 1);
                }
                ob_puts(b, "]");
        } else if (json_is_object(v)) {
                const char *k;
                size_t klen;
                json_t *e;
                bool first = true;
                ob_puts(b, "{");
                json_object_keylen_foreach(v, k, klen, e) {
                        if (!first)
                                ob_puts(b, ", ");
                        first = false;
                        py_repr_str(b, k, klen);
                        ob_puts(b, ": ");
                        py_repr(b, e, level + 1);
                }
                ob_puts(b, "}");
        } else
                py_str(b, v, level);
}

/* ----------------------------------------------------------------- table */

typedef struct trow {
        json_t *obj; /* ordered: column name -> value */
} trow;

static int cap_first(const char *k, size_t klen, char **ret) {
        char *s = malloc(klen + 1);
        if (!s)
                return cp_error_oom();
        memcpy(s, k, klen);
        s[klen] = 0;
        if (klen > 0 && s[0] >= 'a' && s[0] <= 'z')
                s[0] = (char) (s[0] - 'a' + 'A');
        *ret = s;
        return 0;
}

static bool skip_key(const char *k, size_t klen) {
        return (klen == 2 && memcmp(k, "id", 2) == 0) || (klen == 4 && memcmp(k, "type", 4) == 0) ||
               (klen == 4 && memcmp(k, "etag", 4) == 0);
}

/* knack TableOutput._auto_table_item */
static int table_item(json_t *item, bool sort, json_t **ret) {
        json_t *row = json_object();
        int r = 0;
        if (!row)
                return cp_error_oom();
        if (json_is_object(item)) {
                size_t n;
                _cleanup_free_ kv *items = object_items(item, sort, &n);
                if (!items) {
                        json_decref(row);
                        return CP_ENOMEM;
                }
                for (size_t i = 0; r >= 0 && i < n; i++) {
                        char *h = NULL;
                        json_t *v = items[i].v;
                        if (skip_key(items[i].k, items[i].klen) || json_is_null(v) || json_is_array(v) ||
                            json_is_object(v))
                                continue;
                        r = cap_first(items[i].k, items[i].klen, &h);
                        if (r >= 0 && json_object_setn(row, h, strlen(h), v) < 0)
                                r = cp_error_oom();
                        free(h);
                }
        } else if (json_is_array(item)) {
                size_t i;
                json_t *e;
                json_array_foreach(item, i, e) {
                        char h[32];
                        snprintf(h, sizeof(h), "Column%zu", i + 1);
                        if (json_object_set(row, h, e) < 0) {
                                r = cp_error_oom();
                                break;
                        }
                }
        } else if (json_object_set(row, "Result", item) < 0)
                r = cp_error_oom();
        if (r < 0) {
                json_decref(row);
                return r;
        }
        *ret = row;
        return 0;
}

typedef struct tcol {
        const char *name;
        size_t width;
} tcol;

/* The table's rows: each item of value (or value itself), through the spec's
 * row expression when no --query is active, as table_item flattens it. */
static int table_rows(json_t *value, const cp_azout_table_spec *cols, const cp_azout_opts *o, json_t *rows) {
        _cleanup_(cp_jmespath_freep) cp_jmespath *xf = NULL;
        bool use_xf = cols && cols->row_expr && !o->query_active;
        json_t *list, *e;
        size_t i;
        int r = 0;

        if (use_xf) {
                r = cp_jmespath_compile(cols->row_expr, &xf);
                if (r < 0)
                        return r;
        }
        list = json_is_array(value) ? json_incref(value) : json_pack("[O]", value);
        if (!list)
                return cp_error_oom();
        json_array_foreach(list, i, e) {
                json_t *item = NULL, *row = NULL;
                if (xf) {
                        r = cp_jmespath_search(xf, e, &item);
                        if (r < 0) {
                                r = CP_ERROR(CP_EUNSUPPORTED, "Table output unavailable. Use the --query option to "
                                                              "specify an appropriate query. Use --debug for more "
                                                              "info.");
                                break;
                        }
                } else
                        item = json_incref(e);
                r = table_item(item, !o->query_active && !use_xf, &row);
                json_decref(item);
                if (r < 0)
                        break;
                if (json_array_append_new(rows, row) < 0) {
                        r = cp_error_oom();
                        break;
                }
        }
        json_decref(list);
        return r;
}

/* The columns: keys in order of first appearance (tabulate headers="keys"),
 * each as wide as its name and two spaces.  *ret_tc is allocated (to free)
 * even when there are none. */
static int table_columns(json_t *rows, tcol **ret_tc, size_t *ret_ncols) {
        tcol *tc = calloc(1, sizeof(*tc));
        size_t ncols = 0, i;
        json_t *e;
        if (!tc)
                return cp_error_oom();
        json_array_foreach(rows, i, e) {
                const char *k;
                json_t *v;
                json_object_foreach(e, k, v) {
                        size_t j;
                        for (j = 0; j < ncols; j++)
                                if (strcmp(tc[j].name, k) == 0)
                                        break;
                        if (j < ncols)
                                continue;
                        tcol *nt = realloc(tc, (ncols + 1) * sizeof(*nt));
                        if (!nt) {
                                free(tc);
                                return cp_error_oom();
                        }
                        tc = nt;
                        tc[ncols++] = (tcol) { k, utf8_width(k, strlen(k)) + 2 };
                }
        }
        *ret_tc = tc;
        *ret_ncols = ncols;
        return 0;
}

/* The cell texts, row by row, widening the columns to fit them. */
static void table_cells(obuf *b, json_t *rows, tcol *tc, size_t ncols, obuf *cells) {
        size_t nrows = json_array_size(rows);
        for (size_t ri = 0; ri < nrows; ri++)
                for (size_t ci = 0; ci < ncols; ci++) {
                        obuf *cb = &cells[ri * ncols + ci];
                        json_t *v = json_object_get(json_array_get(rows, ri), tc[ci].name);
                        ob_puts(cb, "");
                        if (v && !json_is_null(v))
                                py_str(cb, v, 0);
                        if (cb->err && !b->err)
                                b->err = cb->err;
                        size_t w = utf8_width(cb->p ? cb->p : "", cb->len);
                        if (w > tc[ci].width)
                                tc[ci].width = w;
                }
}

/* One line (0: the names, 1: the dashes, then the rows): cells padded,
 * joined by two spaces, right-stripped. */
static void table_line(obuf *b, size_t line, const tcol *tc, size_t ncols, const obuf *cells) {
        obuf lb = { 0 };
        ob_puts(&lb, "");
        for (size_t ci = 0; ci < ncols; ci++) {
                const char *txt;
                size_t tlen;
                if (ci)
                        ob_puts(&lb, "  ");
                if (line == 1) {
                        for (size_t k = 0; k < tc[ci].width; k++)
                                ob_put(&lb, "-", 1);
                        continue;
                }
                if (line == 0) {
                        txt = tc[ci].name;
                        tlen = strlen(txt);
                } else {
                        const obuf *cb = &cells[(line - 2) * ncols + ci];
                        txt = cb->p ? cb->p : "";
                        tlen = cb->len;
                }
                ob_put(&lb, txt, tlen);
                ob_spaces(&lb, tc[ci].width - utf8_width(txt, tlen));
        }
        while (lb.len > 0 && lb.p[lb.len - 1] == ' ')
                lb.p[--lb.len] = 0;
        if (lb.err && !b->err)
                b->err = lb.err;
        ob_put(b, lb.p ? lb.p : "", lb.len);
        ob_puts(b, "\n");
        free(lb.p);
}

static int render_table(obuf *b, json_t *value, const cp_azout_table_spec *cols, const cp_azout_opts *o) {
        json_t *rows = json_array();
        tcol *tc = NULL;
        obuf *cells = NULL;
        size_t ncols = 0, nrows;
        int r;

        if (!rows)
                return cp_error_oom();
        r = table_rows(value, cols, o, rows);
        if (r < 0)
                goto out;
        r = table_columns(rows, &tc, &ncols);
        if (r < 0 || ncols == 0)
                goto out;
        nrows = json_array_size(rows);
        cells = calloc(nrows * ncols + 1, sizeof(*cells));
        if (!cells) {
                r = cp_error_oom();
                goto out;
        }
        table_cells(b, rows, tc, ncols, cells);
        for (size_t line = 0; line < nrows + 2; line++)
                table_line(b, line, tc, ncols, cells);
        for (size_t k = 0; k < nrows * ncols; k++)
                free(cells[k].p);
        free(cells);
        r = b->err;
out:
        free(tc);
        json_decref(rows);
        return r;
}

/* ------------------------------------------------------------------- tsv */

static void tsv_obj(obuf *b, json_t *v) {
        if (json_is_array(v))
                ob_printf(b, "%zu", json_array_size(v));
        else if (json_is_object(v))
                return;
        else
                py_str(b, v, 0);
}

static int render_tsv(obuf *b, json_t *value, const cp_azout_opts *o) {
        json_t *list = json_is_array(value) ? json_incref(value) : json_pack("[O]", value);
        size_t i;
        json_t *row;

        if (!list)
                return cp_error_oom();
        json_array_foreach(list, i, row) {
                if (json_is_object(row)) {
                        size_t n;
                        _cleanup_free_ kv *items = object_items(row, !o->query_active, &n);
                        if (!items) {
                                json_decref(list);
                                return CP_ENOMEM;
                        }
                        for (size_t k = 0; k < n; k++) {
                                if (k)
                                        ob_puts(b, "\t");
                                tsv_obj(b, items[k].v);
                        }
                } else if (json_is_array(row)) {
                        size_t k;
                        json_t *e;
                        json_array_foreach(row, k, e) {
                                if (k)
                                        ob_puts(b, "\t");
                                tsv_obj(b, e);
                        }
                } else if (json_is_boolean(row))
                        ob_puts(b, json_is_true(row) ? "true" : "false");
                else
                        tsv_obj(b, row);
                ob_puts(b, "\n");
        }
        json_decref(list);
        return b->err;
}

/* ------------------------------------------------------------------ yaml */

/* PyYAML's YAML 1.1 implicit resolvers: a plain scalar matching one of these
 * would not read back as a string. */
static const char *const yaml_implicit_res[] = {
        /* bool */
        "^(yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$",
        /* float */
        "^([-+]?([0-9][0-9_]*)\\.[0-9_]*([eE][-+][0-9]+)?|\\.[0-9_]+([eE][-+][0-9]+)?"
        "|[-+]?[0-9][0-9_]*(:[0-5]?[0-9])+\\.[0-9_]*|[-+]?\\.(inf|Inf|INF)|\\.(nan|NaN|NAN))$",
        /* int */
        "^([-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+"
        "|[-+]?[1-9][0-9_]*(:[0-5]?[0-9])+)$",
        /* merge, null, value */
        "^(<<|~|null|Null|NULL|=)$",
        /* timestamp */
        "^([0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]|[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?"
        "([Tt]|[ \t]+)[0-9][0-9]?:[0-9][0-9]:[0-9][0-9](\\.[0-9]*)?([ \t]*(Z|[-+][0-9][0-9]?(:[0-9][0-9])?))?)$",
};
/* First characters each resolver is registered for (PyYAML looks resolvers
 * up by the first character). */
static const char *const yaml_implicit_first[] = {
        "yYnNtTfFoO", "-+0123456789.", "-+0123456789", "<~nN=", "0123456789",
};

static regex_t yaml_res[CP_ELEMENTSOF(yaml_implicit_res)];
static bool yaml_res_ok;
static pthread_once_t yaml_once = PTHREAD_ONCE_INIT;

static void yaml_init(void) {
        for (size_t i = 0; i < CP_ELEMENTSOF(yaml_implicit_res); i++)
                if (regcomp(&yaml_res[i], yaml_implicit_res[i], REG_EXTENDED | REG_NOSUB) != 0)
                        return;
        yaml_res_ok = true;
}

static bool yaml_resolves_non_str(const char *s, size_t n) {
        if (n == 0)
                return true; /* null */
        if (memchr(s, 0, n))
                return false;
        /* Python's '$' also matches before a final newline */
        for (size_t i = 0; i < CP_ELEMENTSOF(yaml_implicit_res); i++) {
                if (!strchr(yaml_implicit_first[i], s[0]))
                        continue;
                if (regexec(&yaml_res[i], s, 0, NULL, 0) == 0)
                        return true;
                if (n > 1 && s[n - 1] == '\n') {
                        char *t = strndup(s, n - 1);
                        bool m = t && regexec(&yaml_res[i], t, 0, NULL, 0) == 0;
                        free(t);
                        if (m)
                                return true;
                }
        }
        return false;
}

typedef struct yanalysis {
        bool empty, multiline, allow_block_plain, allow_single_quoted;
} yanalysis;

static bool is_break(uint32_t c) {
        return c == '\n' || c == 0x85 || c == 0x2028 || c == 0x2029;
}

static bool is_ws0(uint32_t c) {
        return c == 0 || c == ' ' || c == '\t' || c == '\r' || is_break(c);
}

/* PyYAML Emitter.analyze_scalar (allow_unicode=True), block context only. */
static yanalysis yaml_analyze(const char *s, size_t n) {
        yanalysis a = { 0 };
        bool block_ind = false, line_breaks = false, special = false, lead_space = false, lead_break = false,
             trail_space = false, trail_break = false, break_space = false, space_break = false;
        bool prev_space = false, prev_break = false, preceded_ws = true, followed_ws;
        size_t ncp = 0, idx = 0;
        uint32_t *cps;

        if (n == 0) {
                a.empty = true;
                a.allow_block_plain = true;
                a.allow_single_quoted = true;
                return a;
        }
        cps = malloc((n + 1) * sizeof(*cps));
        if (!cps)
                return a; /* everything false: double-quoted */
        for (size_t i = 0; i < n;)
                cps[ncp++] = utf8_next(s, n, &i);
        if ((n >= 3 && memcmp(s, "---", 3) == 0) || (n >= 3 && memcmp(s, "...", 3) == 0))
                block_ind = true;
        followed_ws = ncp == 1 || is_ws0(cps[1]);
        for (idx = 0; idx < ncp; idx++) {
                uint32_t ch = cps[idx];
                if (idx == 0) {
                        if (ch < 0x80 && strchr("#,[]{}&*!|>'\"%@`", (int) ch) && ch)
                                block_ind = true;
                        if ((ch == '?' || ch == ':') && followed_ws)
                                block_ind = true;
                        if (ch == '-' && followed_ws)
                                block_ind = true;
                } else {
                        if (ch == ':' && followed_ws)
                                block_ind = true;
                        if (ch == '#' && preceded_ws)
                                block_ind = true;
                }
                if (is_break(ch))
                        line_breaks = true;
                if (!(ch == '\n' || (ch >= 0x20 && ch <= 0x7e))) {
                        if ((ch == 0x85 || (ch >= 0xa0 && ch <= 0xd7ff) || (ch >= 0xe000 && ch <= 0xfffd) ||
                             (ch >= 0x10000 && ch < 0x10ffff)) &&
                            ch != 0xfeff) {
                                /* unicode allowed */
                        } else
                                special = true;
                }
                if (ch == ' ') {
                        if (idx == 0)
                                lead_space = true;
                        if (idx == ncp - 1)
                                trail_space = true;
                        if (prev_break)
                                break_space = true;
                        prev_space = true;
                        prev_break = false;
                } else if (is_break(ch)) {
                        if (idx == 0)
                                lead_break = true;
                        if (idx == ncp - 1)
                                trail_break = true;
                        if (prev_space)
                                space_break = true;
                        prev_space = false;
                        prev_break = true;
                } else {
                        prev_space = false;
                        prev_break = false;
                }
                preceded_ws = is_ws0(ch);
                followed_ws = idx + 2 >= ncp || is_ws0(cps[idx + 2]);
        }
        free(cps);
        a.allow_block_plain = true;
        a.allow_single_quoted = true;
        if (lead_space || lead_break || trail_space || trail_break)
                a.allow_block_plain = false;
        if (break_space)
                a.allow_block_plain = a.allow_single_quoted = false;
        if (space_break || special)
                a.allow_block_plain = a.allow_single_quoted = false;
        if (line_breaks) {
                a.allow_block_plain = false;
                a.multiline = true;
        }
        if (block_ind)
                a.allow_block_plain = false;
        return a;
}

#define YAML_WIDTH 80

typedef struct yemit {
        obuf *b;
        size_t column;
        bool color;
        bool open_ended;
} yemit;

static void y_write(yemit *y, const char *s, size_t n) {
        ob_put(y->b, s, n);
        for (size_t i = 0; i < n;) {
                uint32_t c = utf8_next(s, n, &i);
                if (c == '\n')
                        y->column = 0;
                else
                        y->column++;
        }
}

static void y_puts(yemit *y, const char *s) {
        y_write(y, s, strlen(s));
}

static void y_indent(yemit *y, size_t indent) {
        ob_puts(y->b, "\n");
        ob_spaces(y->b, indent);
        y->column = indent;
}

/* Split text into code point offsets for the scalar writers. */
static size_t *cp_offsets(const char *s, size_t n, size_t *ret_ncp) {
        size_t *off = malloc((n + 2) * sizeof(*off)), k = 0;
        if (!off)
                return NULL;
        for (size_t i = 0; i < n;) {
                off[k++] = i;
                utf8_next(s, n, &i);
        }
        off[k] = n;
        *ret_ncp = k;
        return off;
}

static uint32_t cp_at(const char *s, const size_t *off, size_t i) {
        size_t p = off[i];
        return utf8_next(s, off[i + 1], &p);
}

/* PyYAML write_plain (block context): single spaces fold past column 80. */
static void y_plain(yemit *y, const char *s, size_t n, size_t indent, bool split) {
        size_t ncp, start = 0, end = 0;
        size_t *off = cp_offsets(s, n, &ncp);
        bool spaces = false;
        if (!off) {
                y->b->err = cp_error_oom();
                return;
        }
        while (end <= ncp) {
                uint32_t ch = end < ncp ? cp_at(s, off, end) : 0;
                bool none = end >= ncp;
                if (spaces) {
                        if (none || ch != ' ') {
                                if (start + 1 == end && y->column > YAML_WIDTH && split)
                                        y_indent(y, indent);
                                else
                                        y_write(y, s + off[start], off[end] - off[start]);
                                start = end;
                        }
                } else if (none || ch == ' ' || is_break(ch)) {
                        y_write(y, s + off[start], off[end] - off[start]);
                        start = end;
                }
                if (!none)
                        spaces = ch == ' ';
                end++;
        }
        free(off);
}

/* PyYAML write_single_quoted. */
static void y_single(yemit *y, const char *s, size_t n, size_t indent, bool split) {
        size_t ncp, start = 0, end = 0;
        size_t *off = cp_offsets(s, n, &ncp);
        bool spaces = false, breaks = false;
        if (!off) {
                y->b->err = cp_error_oom();
                return;
        }
        y_puts(y, "'");
        while (end <= ncp) {
                bool none = end >= ncp;
                uint32_t ch = none ? 0 : cp_at(s, off, end);
                if (spaces) {
                        if (none || ch != ' ') {
                                if (start + 1 == end && y->column > YAML_WIDTH && split && start != 0 && end != ncp)
                                        y_indent(y, indent);
                                else
                                        y_write(y, s + off[start], off[end] - off[start]);
                                start = end;
                        }
                } else if (breaks) {
                        if (none || !is_break(ch)) {
                                if (cp_at(s, off, start) == '\n')
                                        y_puts(y, "\n");
                                for (size_t k = start; k < end; k++) {
                                        uint32_t br = cp_at(s, off, k);
                                        if (br == '\n')
                                                y_puts(y, "\n");
                                        else
                                                y_write(y, s + off[k], off[k + 1] - off[k]);
                                }
                                ob_spaces(y->b, indent);
                                y->column = indent;
                                start = end;
                        }
                } else if (none || ch == ' ' || is_break(ch) || ch == '\'') {
                        if (start < end) {
                                y_write(y, s + off[start], off[end] - off[start]);
                                start = end;
                        }
                }
                if (!none && ch == '\'') {
                        y_puts(y, "''");
                        start = end + 1;
                }
                if (!none) {
                        spaces = ch == ' ';
                        breaks = is_break(ch);
                }
                end++;
        }
        y_puts(y, "'");
        free(off);
}

/* PyYAML write_double_quoted (allow_unicode). */
static void y_double(yemit *y, const char *s, size_t n, size_t indent, bool split) {
        size_t ncp, start = 0, end = 0;
        size_t *off = cp_offsets(s, n, &ncp);
        if (!off) {
                y->b->err = cp_error_oom();
                return;
        }
        y_puts(y, "\"");
        while (end <= ncp) {
                bool none = end >= ncp;
                uint32_t ch = none ? 0 : cp_at(s, off, end);
                bool esc = none || ch == '"' || ch == '\\' || ch == 0x85 || ch == 0x2028 || ch == 0x2029 ||
                           ch == 0xfeff ||
                           !((ch >= 0x20 && ch <= 0x7e) || (ch >= 0xa0 && ch <= 0xd7ff) ||
                             (ch >= 0xe000 && ch <= 0xfffd));
                if (esc) {
                        if (start < end) {
                                y_write(y, s + off[start], off[end] - off[start]);
                                start = end;
                        }
                        if (!none) {
                                const char *rep = NULL;
                                char buf[16];
                                switch (ch) {
                                case 0: rep = "0"; break;
                                case 0x07: rep = "a"; break;
                                case 0x08: rep = "b"; break;
                                case 0x09: rep = "t"; break;
                                case 0x0a: rep = "n"; break;
                                case 0x0b: rep = "v"; break;
                                case 0x0c: rep = "f"; break;
                                case 0x0d: rep = "r"; break;
                                case 0x1b: rep = "e"; break;
                                case '"': rep = "\""; break;
                                case '\\': rep = "\\"; break;
                                case 0x85: rep = "N"; break;
                                case 0xa0: rep = "_"; break;
                                case 0x2028: rep = "L"; break;
                                case 0x2029: rep = "P"; break;
                                default: break;
                                }
                                if (rep)
                                        snprintf(buf, sizeof(buf), "\\%s", rep);
                                else if (ch <= 0xff)
                                        snprintf(buf, sizeof(buf), "\\x%02X", ch);
                                else if (ch <= 0xffff)
                                        snprintf(buf, sizeof(buf), "\\u%04X", ch);
                                else
                                        snprintf(buf, sizeof(buf), "\\U%08X", ch);
                                y_puts(y, buf);
                                start = end + 1;
                        }
                }
                if (end > 0 && end + 1 < ncp && (ch == ' ' || start >= end) &&
                    y->column + (end - start) > YAML_WIDTH && split) {
                        if (start < end)
                                y_write(y, s + off[start], off[end] - off[start]);
                        y_puts(y, "\\");
                        if (start < end)
                                start = end;
                        y_indent(y, indent);
                        if (cp_at(s, off, start) == ' ')
                                y_puts(y, "\\");
                }
                end++;
        }
        y_puts(y, "\"");
        free(off);
}

static void y_string_c(yemit *y, const char *s, size_t n, size_t indent, bool key, bool root, bool keycolor) {
        yanalysis a = yaml_analyze(s, n);
        bool implicit = !yaml_resolves_non_str(s, n);
        if (y->color)
                ob_puts(y->b, keycolor ? C_KEY : C_STRING);
        if (implicit && !(key && (a.empty || a.multiline)) && a.allow_block_plain) {
                if (root)
                        y->open_ended = true;
                y_plain(y, s, n, indent, !key);
        } else if (a.allow_single_quoted && !(key && a.multiline))
                y_single(y, s, n, indent, !key);
        else
                y_double(y, s, n, indent, !key);
        if (y->color)
                ob_puts(y->b, C_RESET);
}

static void y_string(yemit *y, const char *s, size_t n, size_t indent, bool key, bool root) {
        y_string_c(y, s, n, indent, key, root, key);
}

static void y_scalar(yemit *y, json_t *v, size_t indent, bool root) {
        char num[48];
        const char *txt = NULL;
        switch (json_typeof(v)) {
        case JSON_STRING:
                y_string(y, json_string_value(v), json_string_length(v), indent, false, root);
                return;
        case JSON_INTEGER:
                snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
                txt = num;
                break;
        case JSON_REAL: {
                /* PyYAML represent_float: repr().lower(), ".0" added before
                 * an exponent when there is no '.' */
                char r[40];
                cp_jmespath_format_real(json_real_value(v), r, sizeof(r));
                char *e = strchr(r, 'e');
                if (e && !strchr(r, '.'))
                        snprintf(num, sizeof(num), "%.*s.0%s", (int) (e - r), r, e);
                else
                        snprintf(num, sizeof(num), "%s", r);
                txt = num;
                break;
        }
        case JSON_TRUE: txt = "true"; break;
        case JSON_FALSE: txt = "false"; break;
        default: txt = "null"; break;
        }
        if (root)
                y->open_ended = true;
        if (y->color)
                ob_puts(y->b, json_is_number(v) ? C_NUMBER : C_LITERAL);
        y_puts(y, txt);
        if (y->color)
                ob_puts(y->b, C_RESET);
}

static bool y_is_collection(json_t *v) {
        return (json_is_object(v) && json_object_size(v) > 0) || (json_is_array(v) && json_array_size(v) > 0);
}

static void y_node(yemit *y, json_t *v, size_t indent, unsigned level, bool root);

/* Block mapping whose keys sit at column `indent`; the first key is written
 * at the current position (after "- " or at the start of a line). */
static void y_mapping(yemit *y, json_t *o, size_t indent, unsigned level) {
        size_t n;
        _cleanup_free_ kv *items = object_items(o, true, &n);
        if (!items) {
                y->b->err = CP_ENOMEM;
                return;
        }
        for (size_t i = 0; i < n; i++) {
                json_t *v = items[i].v;
                if (i > 0 || y->column != indent)
                        y_indent(y, indent);
                if (memchr(items[i].k, '\n', items[i].klen) || utf8_width(items[i].k, items[i].klen) >= 128 ||
                    yaml_analyze(items[i].k, items[i].klen).multiline) {
                        /* not a simple key: "? key" / ": value" */
                        y_puts(y, "? ");
                        y_string_c(y, items[i].k, items[i].klen, indent + 2, false, false, true);
                        y_indent(y, indent);
                        y_puts(y, ":");
                        if (y_is_collection(v)) {
                                y_indent(y, indent + 2);
                                y_node(y, v, indent + 2, level + 1, false);
                        } else {
                                y_puts(y, " ");
                                y_node(y, v, indent + 2, level + 1, false);
                        }
                        continue;
                }
                y_string(y, items[i].k, items[i].klen, indent + 2, true, false);
                y_puts(y, ":");
                if (json_is_object(v) && json_object_size(v) > 0) {
                        y_indent(y, indent + 2);
                        y_node(y, v, indent + 2, level + 1, false);
                } else if (json_is_array(v) && json_array_size(v) > 0) {
                        /* indentless sequence */
                        y_indent(y, indent);
                        y_node(y, v, indent, level + 1, false);
                } else {
                        y_puts(y, " ");
                        y_node(y, v, indent + 2, level + 1, false);
                }
        }
}

static void y_sequence(yemit *y, json_t *a, size_t indent, unsigned level) {
        size_t i;
        json_t *e;
        json_array_foreach(a, i, e) {
                if (i > 0 || y->column != indent)
                        y_indent(y, indent);
                y_puts(y, "-");
                y_puts(y, " ");
                y_node(y, e, indent + 2, level + 1, false);
        }
}

static void y_node(yemit *y, json_t *v, size_t indent, unsigned level, bool root) {
        if (level > CP_MAX_AZOUT_DEPTH) {
                if (!y->b->err)
                        y->b->err = depth_error();
                return;
        }
        if (json_is_object(v)) {
                if (json_object_size(v) == 0)
                        y_puts(y, "{}");
                else
                        y_mapping(y, v, indent, level);
        } else if (json_is_array(v)) {
                if (json_array_size(v) == 0)
                        y_puts(y, "[]");
                else
                        y_sequence(y, v, indent, level);
        } else
                y_scalar(y, v, indent, root);
}

static int render_yaml(obuf *b, json_t *value, bool color) {
        yemit y = { .b = b, .color = color };
        pthread_once(&yaml_once, yaml_init);
        if (!yaml_res_ok)
                return CP_ERROR(CP_EINTERNAL, "azout: YAML resolver patterns failed to compile");
        /* root: collections at indent 0, a scalar continues at indent 2 */
        y_node(&y, value, y_is_collection(value) ? 0 : 2, 0, true);
        y_puts(&y, "\n");
        if (y.open_ended)
                y_puts(&y, "...\n");
        return b->err;
}

/* ------------------------------------------------------------ entry points */

int cp_azout_render(json_t *value, cp_azout_format fmt, const cp_azout_table_spec *cols, const cp_azout_opts *opts,
                    char **ret) {
        cp_azout_opts o = opts ? *opts : (cp_azout_opts) { .color = 0 };
        obuf b = { 0 };
        int r = 0;

        if (!ret || (unsigned) fmt >= _CP_AZOUT_FORMAT_MAX)
                return CP_ERROR(CP_EINVAL, "azout: bad argument");
        ob_puts(&b, "");
        if (value && !json_is_null(value)) {
                switch (fmt) {
                case CP_AZOUT_JSON:
                case CP_AZOUT_JSONC:
                        emit_json(&b, value, 0, fmt == CP_AZOUT_JSONC && o.color > 0);
                        ob_puts(&b, "\n");
                        r = b.err;
                        break;
                case CP_AZOUT_TABLE:
                        r = render_table(&b, value, cols, &o);
                        break;
                case CP_AZOUT_TSV:
                        r = render_tsv(&b, value, &o);
                        break;
                case CP_AZOUT_YAML:
                case CP_AZOUT_YAMLC:
                        r = render_yaml(&b, value, fmt == CP_AZOUT_YAMLC && o.color > 0);
                        break;
                default:
                        break;
                }
        }
        if (r == 0)
                r = b.err;
        if (r < 0) {
                free(b.p);
                return r;
        }
        *ret = b.p;
        return 0;
}

int cp_azout_print_opts(FILE *f, json_t *value, cp_azout_format fmt, const cp_azout_table_spec *cols,
                        const cp_azout_opts *opts) {
        cp_azout_opts o = opts ? *opts : (cp_azout_opts) { .color = -1 };
        _cleanup_free_ char *s = NULL;
        size_t len;
        int r;

        if (!f)
                return CP_ERROR(CP_EINVAL, "azout: NULL stream");
        if (o.color < 0)
                o.color = isatty(fileno(f)) ? 1 : 0;
        r = cp_azout_render(value, fmt, cols, &o, &s);
        if (r < 0)
                return r;
        len = strlen(s);
        if (len > 0 && fwrite(s, 1, len, f) != len)
                return CP_ERROR(CP_EIO, "azout: write failed");
        return 0;
}

int cp_azout_print(FILE *f, json_t *value, cp_azout_format fmt, const cp_azout_table_spec *cols) {
        return cp_azout_print_opts(f, value, fmt, cols, NULL);
}

/* ------------------------------------------------------------- flattening */

static const cp_azout_rename agentpool_renames[] = {
        { "osDiskSizeGB", "osDiskSizeGb" },
        { "osSKU", "osSku" },
        { "enableFIPS", "enableFips" },
        { "enableNodePublicIP", "enableNodePublicIp" },
        { "nodePublicIPPrefixID", "nodePublicIpPrefixId" },
        { "vnetSubnetID", "vnetSubnetId" },
        { "podSubnetID", "podSubnetId" },
        { "podIPAllocationMode", "podIpAllocationMode" },
        { "enableUltraSSD", "enableUltraSsd" },
        { "proximityPlacementGroupID", "proximityPlacementGroupId" },
        { "capacityReservationGroupID", "capacityReservationGroupId" },
        { "hostGroupID", "hostGroupId" },
        { "linuxOSConfig", "linuxOsConfig" },
        { "securityProfile.enableVTPM", "enableVtpm" },
        { "networkProfile.nodePublicIPTags", "nodePublicIpTags" },
        { "type", "typePropertiesType" },
};

static const char *const agentpool_fields[] = {
        "availabilityZones", "capacityReservationGroupId", "count", "creationData", "currentOrchestratorVersion",
        "eTag", "enableAutoScaling", "enableEncryptionAtHost", "enableFips", "enableNodePublicIp", "enableUltraSsd",
        "gatewayProfile", "gpuInstanceProfile", "gpuProfile", "hostGroupId", "id", "kubeletConfig",
        "kubeletDiskType", "linuxOsConfig", "maxCount", "maxPods", "messageOfTheDay", "minCount", "mode", "name",
        "networkProfile", "nodeImageVersion", "nodeLabels", "nodePublicIpPrefixId", "nodeTaints",
        "orchestratorVersion", "osDiskSizeGb", "osDiskType", "osSku", "osType", "podIpAllocationMode",
        "podSubnetId", "powerState", "provisioningState", "proximityPlacementGroupId", "resourceGroup",
        "scaleDownMode", "scaleSetEvictionPolicy", "scaleSetPriority", "securityProfile", "spotMaxPrice", "status",
        "systemData", "tags", "type", "typePropertiesType", "upgradeSettings", "virtualMachineNodesStatus",
        "virtualMachinesProfile", "vnetSubnetId", "windowsProfile", "workloadRuntime",
};

const cp_azout_renames cp_azout_renames_agentpool = {
        .renames = agentpool_renames,
        .n_renames = CP_ELEMENTSOF(agentpool_renames),
        .fields = agentpool_fields,
        .n_fields = CP_ELEMENTSOF(agentpool_fields),
};

/* New name for key at path prefix (dotted, "" at the properties level). */
static const char *rename_of(const cp_azout_renames *t, const char *prefix, const char *key) {
        size_t pl = strlen(prefix);
        for (size_t i = 0; t && i < t->n_renames; i++) {
                const char *from = t->renames[i].from;
                if (pl) {
                        if (strncmp(from, prefix, pl) != 0 || from[pl] != '.')
                                continue;
                        from += pl + 1;
                } else if (strchr(from, '.'))
                        continue;
                if (strcmp(from, key) == 0)
                        return t->renames[i].to;
        }
        return key;
}

/* Deep copy with keys sorted and renames applied below prefix. */
static json_t *copy_sorted(json_t *v, const cp_azout_renames *t, const char *prefix, unsigned level) {
        if (level > CP_MAX_AZOUT_DEPTH) {
                depth_error();
                return NULL;
        }
        if (json_is_object(v)) {
                size_t n;
                _cleanup_free_ kv *items = object_items(v, true, &n);
                json_t *o = json_object();
                if (!items || !o) {
                        json_decref(o);
                        if (items)
                                cp_error_oom();
                        return NULL;
                }
                /* renamed keys may change the order: collect, then sort again */
                json_t *tmp = json_object();
                if (!tmp) {
                        json_decref(o);
                        cp_error_oom();
                        return NULL;
                }
                for (size_t i = 0; i < n; i++) {
                        _cleanup_free_ char *path = NULL;
                        const char *name = items[i].k;
                        if (prefix) {
                                name = rename_of(t, prefix, items[i].k);
                                if (asprintf(&path, "%s%s%s", prefix, *prefix ? "." : "", items[i].k) < 0) {
                                        path = NULL;
                                        goto oom;
                                }
                        }
                        json_t *c = copy_sorted(items[i].v, t, path, level + 1);
                        if (!c || json_object_set_new(tmp, name, c) < 0)
                                goto fail;
                }
                {
                        size_t m;
                        _cleanup_free_ kv *s = object_items(tmp, true, &m);
                        if (!s)
                                goto fail;
                        for (size_t i = 0; i < m; i++)
                                if (json_object_setn(o, s[i].k, s[i].klen, s[i].v) < 0)
                                        goto oom;
                }
                json_decref(tmp);
                return o;
oom:
                cp_error_oom();
fail:
                json_decref(tmp);
                json_decref(o);
                return NULL;
        }
        if (json_is_array(v)) {
                json_t *a = json_array(), *e;
                size_t i;
                if (!a) {
                        cp_error_oom();
                        return NULL;
                }
                json_array_foreach(v, i, e) {
                        json_t *c = copy_sorted(e, t, prefix, level + 1);
                        if (!c || json_array_append_new(a, c) < 0) {
                                json_decref(a);
                                return NULL;
                        }
                }
                return a;
        }
        return json_deep_copy(v);
}

/* "/subscriptions/s/resourceGroups/RG/providers/..." -> "RG" */
static json_t *resource_group_of(const char *id) {
        const char *p = id;
        while (p && *p) {
                const char *seg = p[0] == '/' ? p + 1 : p;
                const char *end = strchr(seg, '/');
                if (!end)
                        break;
                if ((size_t) (end - seg) == strlen("resourceGroups") &&
                    strncasecmp(seg, "resourceGroups", (size_t) (end - seg)) == 0) {
                        const char *rg = end + 1, *rend = strchr(rg, '/');
                        size_t len = rend ? (size_t) (rend - rg) : strlen(rg);
                        return len ? json_stringn(rg, len) : NULL;
                }
                p = end;
        }
        return NULL;
}

json_t *cp_azout_flatten_arm(json_t *rest, const cp_azout_renames *table) {
        json_t *flat = NULL, *props, *out = NULL, *v;
        const char *k;

        if (!json_is_object(rest)) {
                CP_ERROR(CP_EINVAL, "azout: REST resource is not an object");
                return NULL;
        }
        flat = json_object();
        if (!flat) {
                cp_error_oom();
                return NULL;
        }
        json_object_foreach(rest, k, v) {
                if (strcmp(k, "properties") == 0)
                        continue;
                if (json_object_set(flat, k, v) < 0)
                        goto oom;
        }
        props = json_object_get(rest, "properties");
        if (json_is_object(props)) {
                json_object_foreach(props, k, v) {
                        if (json_object_set(flat, rename_of(table, "", k), v) < 0)
                                goto oom;
                }
        }
        if (json_is_string(json_object_get(rest, "id"))) {
                json_t *rg = resource_group_of(json_string_value(json_object_get(rest, "id")));
                if (rg && json_object_set_new(flat, "resourceGroup", rg) < 0)
                        goto oom;
        }
        for (size_t i = 0; table && i < table->n_fields; i++)
                if (!json_object_get(flat, table->fields[i]) && json_object_set(flat, table->fields[i], json_null()) < 0)
                        goto oom;
        /* sort and apply nested renames: the nested path of a top-level key
         * is its REST name, so map renamed top-level keys back first */
        out = json_object();
        if (!out)
                goto oom;
        {
                size_t n;
                _cleanup_free_ kv *items = object_items(flat, true, &n);
                if (!items)
                        goto fail;
                for (size_t i = 0; i < n; i++) {
                        const char *rest_name = items[i].k;
                        for (size_t j = 0; table && j < table->n_renames; j++)
                                if (!strchr(table->renames[j].from, '.') &&
                                    strcmp(table->renames[j].to, items[i].k) == 0)
                                        rest_name = table->renames[j].from;
                        bool from_props = json_is_object(props) && json_object_get(props, rest_name) &&
                                          json_object_get(props, rest_name) == items[i].v;
                        json_t *c = copy_sorted(items[i].v, table, from_props ? rest_name : NULL, 1);
                        if (!c || json_object_set_new(out, items[i].k, c) < 0)
                                goto fail;
                }
        }
        json_decref(flat);
        return out;
oom:
        cp_error_oom();
fail:
        json_decref(out);
        json_decref(flat);
        return NULL;
}
