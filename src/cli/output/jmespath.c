/* SPDX-License-Identifier: Apache-2.0 */
/*
 * JMESPath: lexer (through cp_cursor), Pratt parser with the specification's
 * binding powers, tree-walking evaluator over jansson values, and the
 * built-in function library.  See jmespath.h and docs/cli-output.md.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "basic/cleanup.h"
#include "basic/cursor.h"
#include "basic/limits.h"
#include "cli/output/jmespath.h"

/* ------------------------------------------------------------------ errors */

static _Thread_local cp_jmespath_errtype last_errtype;

static const char *const errtype_names[_CP_JMESPATH_ERR_MAX] = {
        [CP_JMESPATH_ERR_NONE] = "",
        [CP_JMESPATH_ERR_SYNTAX] = "syntax",
        [CP_JMESPATH_ERR_INVALID_TYPE] = "invalid-type",
        [CP_JMESPATH_ERR_INVALID_VALUE] = "invalid-value",
        [CP_JMESPATH_ERR_INVALID_ARITY] = "invalid-arity",
        [CP_JMESPATH_ERR_UNKNOWN_FUNCTION] = "unknown-function",
        [CP_JMESPATH_ERR_LIMIT] = "limit",
};

cp_jmespath_errtype cp_jmespath_last_error_type(void) {
        return last_errtype;
}

const char *cp_jmespath_errtype_name(cp_jmespath_errtype t) {
        if ((unsigned) t >= _CP_JMESPATH_ERR_MAX)
                return "";
        return errtype_names[t];
}

__attribute__((format(printf, 3, 4)))
static int jp_error(cp_jmespath_errtype t, size_t pos, const char *fmt, ...) {
        char msg[256];
        va_list ap;
        int code;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        switch (t) {
        case CP_JMESPATH_ERR_SYNTAX:
        case CP_JMESPATH_ERR_INVALID_ARITY:
        case CP_JMESPATH_ERR_UNKNOWN_FUNCTION:
                code = CP_EFORMAT;
                break;
        case CP_JMESPATH_ERR_LIMIT:
                code = CP_ETOOBIG;
                break;
        default:
                code = CP_EINVAL;
                break;
        }
        last_errtype = t;
        return cp_error_set_at(__FILE__, __LINE__, code, "jmespath %s error at position %zu: %s",
                               cp_jmespath_errtype_name(t), pos, msg);
}

static int jp_oom(void) {
        last_errtype = CP_JMESPATH_ERR_NONE;
        return cp_error_oom();
}

/* ------------------------------------------------------------------ tokens */

typedef enum tok_type {
        TOK_EOF,
        TOK_UNQUOTED,
        TOK_QUOTED,
        TOK_RAWSTR,
        TOK_LITERAL,
        TOK_NUMBER,
        TOK_DOT,
        TOK_STAR,
        TOK_FLATTEN,
        TOK_FILTER,
        TOK_LBRACKET,
        TOK_RBRACKET,
        TOK_LBRACE,
        TOK_RBRACE,
        TOK_LPAREN,
        TOK_RPAREN,
        TOK_COMMA,
        TOK_COLON,
        TOK_PIPE,
        TOK_OR,
        TOK_AND,
        TOK_NOT,
        TOK_EXPREF,
        TOK_CURRENT,
        TOK_EQ,
        TOK_NE,
        TOK_LT,
        TOK_LE,
        TOK_GT,
        TOK_GE,
        _TOK_MAX,
} tok_type;

static const char *const tok_names[_TOK_MAX] = {
        [TOK_EOF] = "end of expression", [TOK_UNQUOTED] = "identifier",
        [TOK_QUOTED] = "quoted identifier", [TOK_RAWSTR] = "raw string",
        [TOK_LITERAL] = "literal", [TOK_NUMBER] = "number", [TOK_DOT] = "'.'",
        [TOK_STAR] = "'*'", [TOK_FLATTEN] = "'[]'", [TOK_FILTER] = "'[?'",
        [TOK_LBRACKET] = "'['", [TOK_RBRACKET] = "']'", [TOK_LBRACE] = "'{'",
        [TOK_RBRACE] = "'}'", [TOK_LPAREN] = "'('", [TOK_RPAREN] = "')'",
        [TOK_COMMA] = "','", [TOK_COLON] = "':'", [TOK_PIPE] = "'|'", [TOK_OR] = "'||'",
        [TOK_AND] = "'&&'", [TOK_NOT] = "'!'", [TOK_EXPREF] = "'&'", [TOK_CURRENT] = "'@'",
        [TOK_EQ] = "'=='", [TOK_NE] = "'!='", [TOK_LT] = "'<'", [TOK_LE] = "'<='",
        [TOK_GT] = "'>'", [TOK_GE] = "'>='",
};

/* Binding powers of the specification's reference parser. */
static const int tok_bp[_TOK_MAX] = {
        [TOK_PIPE] = 1, [TOK_OR] = 2, [TOK_AND] = 3,
        [TOK_EQ] = 5, [TOK_NE] = 5, [TOK_LT] = 5, [TOK_LE] = 5, [TOK_GT] = 5, [TOK_GE] = 5,
        [TOK_FLATTEN] = 9, [TOK_STAR] = 20, [TOK_FILTER] = 21, [TOK_DOT] = 40, [TOK_NOT] = 45,
        [TOK_LBRACE] = 50, [TOK_LBRACKET] = 55, [TOK_LPAREN] = 60,
};
#define PROJECTION_STOP 10

typedef struct token {
        tok_type type;
        size_t pos;
        char *str; /* identifiers and raw strings (may contain NUL) */
        size_t len;
        json_t *lit;
        long long num;
} token;

typedef struct lexer {
        cp_cursor c;
        token *toks;
        size_t n, cap;
} lexer;

static int peek(const cp_cursor *c, size_t ahead) {
        cp_cursor t = *c;
        uint8_t b;

        if (cp_cursor_remaining(c) <= ahead)
                return -1;
        if (cp_cursor_skip(&t, ahead) < 0 || cp_cursor_u8(&t, &b) < 0)
                return -1;
        return b;
}

static void advance(cp_cursor *c, size_t n) {
        if (cp_cursor_skip(c, n) < 0)
                c->off = c->len;
}

static int lex_push(lexer *lx, tok_type t, size_t pos, token **ret) {
        if (lx->n == lx->cap) {
                size_t ncap = lx->cap ? lx->cap * 2 : 16;
                token *nt = realloc(lx->toks, ncap * sizeof(*nt));
                if (!nt)
                        return jp_oom();
                lx->toks = nt;
                lx->cap = ncap;
        }
        lx->toks[lx->n] = (token) { .type = t, .pos = pos };
        *ret = &lx->toks[lx->n++];
        return 0;
}

/* Consume up to the unescaped delimiter; a backslash escapes the next byte
 * for the purpose of finding the end.  Returns the raw span (without the
 * delimiters) as a pointer into the input. */
static int lex_delimited(lexer *lx, uint8_t delim, size_t start, const uint8_t **ret_p, size_t *ret_len) {
        size_t begin, len;
        const uint8_t *p;
        int ch;

        advance(&lx->c, 1);
        begin = cp_cursor_tell(&lx->c);
        for (;;) {
                ch = peek(&lx->c, 0);
                if (ch < 0)
                        return jp_error(CP_JMESPATH_ERR_SYNTAX, start, "unterminated %c", delim);
                if (ch == delim)
                        break;
                if (ch == '\\' && peek(&lx->c, 1) >= 0)
                        advance(&lx->c, 2);
                else
                        advance(&lx->c, 1);
        }
        len = cp_cursor_tell(&lx->c) - begin;
        cp_cursor_rewind(&lx->c, begin);
        if (cp_cursor_ptr(&lx->c, len, &p) < 0)
                return jp_error(CP_JMESPATH_ERR_SYNTAX, start, "internal lexer error");
        advance(&lx->c, 1); /* closing delimiter */
        *ret_p = p;
        *ret_len = len;
        return 0;
}

/* Copy span, replacing the two-byte sequence "\<delim>" by delim. */
static char *unescape_delim(const uint8_t *p, size_t len, uint8_t delim, size_t *ret_len) {
        char *s = malloc(len + 1);
        size_t o = 0;

        if (!s)
                return NULL;
        for (size_t i = 0; i < len; i++) {
                if (p[i] == '\\' && i + 1 < len && p[i + 1] == delim) {
                        s[o++] = (char) delim;
                        i++;
                } else
                        s[o++] = (char) p[i];
        }
        s[o] = 0;
        *ret_len = o;
        return s;
}

static int lex_quoted(lexer *lx, token *t) {
        const uint8_t *p;
        size_t len;
        _cleanup_free_ char *buf = NULL;
        json_t *js;
        json_error_t jerr;
        int r;

        r = lex_delimited(lx, '"', t->pos, &p, &len);
        if (r < 0)
                return r;
        buf = malloc(len + 3);
        if (!buf)
                return jp_oom();
        buf[0] = '"';
        memcpy(buf + 1, p, len);
        buf[len + 1] = '"';
        buf[len + 2] = 0;
        js = json_loadb(buf, len + 2, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
        if (!js || !json_is_string(js)) {
                json_decref(js);
                return jp_error(CP_JMESPATH_ERR_SYNTAX, t->pos, "invalid quoted identifier");
        }
        t->len = json_string_length(js);
        t->str = malloc(t->len + 1);
        if (!t->str) {
                json_decref(js);
                return jp_oom();
        }
        memcpy(t->str, json_string_value(js), t->len + 1);
        json_decref(js);
        return 0;
}

static int lex_literal(lexer *lx, token *t) {
        const uint8_t *p;
        size_t len, slen;
        _cleanup_free_ char *s = NULL;
        json_error_t jerr;
        int r;

        r = lex_delimited(lx, '`', t->pos, &p, &len);
        if (r < 0)
                return r;
        s = unescape_delim(p, len, '`', &slen);
        if (!s)
                return jp_oom();
        t->lit = json_loadb(s, slen, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
        if (!t->lit) {
                /* Legacy form: `foo` is the string "foo" (deprecated by the
                 * specification, still accepted by the reference). */
                _cleanup_free_ char *q = NULL;
                size_t off = 0;
                while (off < slen && (s[off] == ' ' || s[off] == '\t' || s[off] == '\n' || s[off] == '\r'))
                        off++;
                q = malloc(slen - off + 3);
                if (!q)
                        return jp_oom();
                q[0] = '"';
                memcpy(q + 1, s + off, slen - off);
                q[slen - off + 1] = '"';
                q[slen - off + 2] = 0;
                t->lit = json_loadb(q, slen - off + 2, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
                if (!t->lit)
                        return jp_error(CP_JMESPATH_ERR_SYNTAX, t->pos, "invalid JSON literal");
        }
        return 0;
}

static int lex_rawstr(lexer *lx, token *t) {
        const uint8_t *p;
        size_t len;
        int r;

        r = lex_delimited(lx, '\'', t->pos, &p, &len);
        if (r < 0)
                return r;
        t->str = unescape_delim(p, len, '\'', &t->len);
        if (!t->str)
                return jp_oom();
        return 0;
}

static bool is_ident_start(int ch) {
        return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_';
}

static bool is_digit(int ch) {
        return ch >= '0' && ch <= '9';
}

static int lex_number(lexer *lx, token *t) {
        long long v = 0;
        bool neg = false;
        int ch;

        if (peek(&lx->c, 0) == '-') {
                neg = true;
                advance(&lx->c, 1);
        }
        if (!is_digit(peek(&lx->c, 0)))
                return jp_error(CP_JMESPATH_ERR_SYNTAX, t->pos, "'-' must be followed by digits");
        while (is_digit(ch = peek(&lx->c, 0))) {
                if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, ch - '0', &v))
                        return jp_error(CP_JMESPATH_ERR_SYNTAX, t->pos, "number out of range");
                advance(&lx->c, 1);
        }
        t->num = neg ? -v : v;
        return 0;
}

static int lex_all(lexer *lx) {
        for (;;) {
                size_t pos = cp_cursor_tell(&lx->c);
                int ch = peek(&lx->c, 0), nx = peek(&lx->c, 1);
                tok_type simple = _TOK_MAX;
                size_t adv = 1;
                token *t;
                int r;

                if (ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r') {
                        advance(&lx->c, 1);
                        continue;
                }
                switch (ch) {
                case -1:
                        return lex_push(lx, TOK_EOF, pos, &t);
                case '.': simple = TOK_DOT; break;
                case '*': simple = TOK_STAR; break;
                case '@': simple = TOK_CURRENT; break;
                case ']': simple = TOK_RBRACKET; break;
                case '{': simple = TOK_LBRACE; break;
                case '}': simple = TOK_RBRACE; break;
                case '(': simple = TOK_LPAREN; break;
                case ')': simple = TOK_RPAREN; break;
                case ',': simple = TOK_COMMA; break;
                case ':': simple = TOK_COLON; break;
                case '[':
                        if (nx == ']') {
                                simple = TOK_FLATTEN;
                                adv = 2;
                        } else if (nx == '?') {
                                simple = TOK_FILTER;
                                adv = 2;
                        } else
                                simple = TOK_LBRACKET;
                        break;
                case '|':
                        simple = nx == '|' ? TOK_OR : TOK_PIPE;
                        adv = nx == '|' ? 2 : 1;
                        break;
                case '&':
                        simple = nx == '&' ? TOK_AND : TOK_EXPREF;
                        adv = nx == '&' ? 2 : 1;
                        break;
                case '!':
                        simple = nx == '=' ? TOK_NE : TOK_NOT;
                        adv = nx == '=' ? 2 : 1;
                        break;
                case '<':
                        simple = nx == '=' ? TOK_LE : TOK_LT;
                        adv = nx == '=' ? 2 : 1;
                        break;
                case '>':
                        simple = nx == '=' ? TOK_GE : TOK_GT;
                        adv = nx == '=' ? 2 : 1;
                        break;
                case '=':
                        if (nx != '=')
                                return jp_error(CP_JMESPATH_ERR_SYNTAX, pos, "'=' must be '=='");
                        simple = TOK_EQ;
                        adv = 2;
                        break;
                default:
                        break;
                }
                if (simple != _TOK_MAX) {
                        advance(&lx->c, adv);
                        r = lex_push(lx, simple, pos, &t);
                        if (r < 0)
                                return r;
                        continue;
                }
                if (is_ident_start(ch)) {
                        size_t len = 0;
                        const uint8_t *p;
                        while (is_ident_start(peek(&lx->c, len)) || is_digit(peek(&lx->c, len)))
                                len++;
                        r = lex_push(lx, TOK_UNQUOTED, pos, &t);
                        if (r < 0)
                                return r;
                        if (cp_cursor_ptr(&lx->c, len, &p) < 0)
                                return jp_error(CP_JMESPATH_ERR_SYNTAX, pos, "internal lexer error");
                        t->str = malloc(len + 1);
                        if (!t->str)
                                return jp_oom();
                        memcpy(t->str, p, len);
                        t->str[len] = 0;
                        t->len = len;
                        continue;
                }
                if (ch == '-' || is_digit(ch)) {
                        r = lex_push(lx, TOK_NUMBER, pos, &t);
                        if (r < 0)
                                return r;
                        r = lex_number(lx, t);
                } else if (ch == '"') {
                        r = lex_push(lx, TOK_QUOTED, pos, &t);
                        if (r < 0)
                                return r;
                        r = lex_quoted(lx, t);
                } else if (ch == '`') {
                        r = lex_push(lx, TOK_LITERAL, pos, &t);
                        if (r < 0)
                                return r;
                        r = lex_literal(lx, t);
                } else if (ch == '\'') {
                        r = lex_push(lx, TOK_RAWSTR, pos, &t);
                        if (r < 0)
                                return r;
                        r = lex_rawstr(lx, t);
                } else
                        r = jp_error(CP_JMESPATH_ERR_SYNTAX, pos, "unexpected character 0x%02x", (unsigned) ch);
                if (r < 0)
                        return r;
        }
}

static void lexer_done(lexer *lx) {
        for (size_t i = 0; i < lx->n; i++) {
                free(lx->toks[i].str);
                json_decref(lx->toks[i].lit);
        }
        free(lx->toks);
}

/* -------------------------------------------------------------------- AST */

typedef enum node_type {
        N_FIELD,
        N_CURRENT,
        N_LITERAL,
        N_INDEX,
        N_SLICE,
        N_SUBEXPR,      /* kids evaluated left to right, each on the previous result */
        N_INDEX_EXPR,   /* same, for a[0][1] chains */
        N_PROJECTION,   /* kids[0] = left, kids[1] = right */
        N_VALUE_PROJECTION,
        N_FILTER,       /* kids[0] = left, kids[1] = right, kids[2] = condition */
        N_FLATTEN,      /* kids[0] */
        N_MULTI_LIST,
        N_MULTI_HASH,   /* keys[i] names kids[i] */
        N_PIPE,
        N_OR,
        N_AND,
        N_NOT,
        N_CMP,
        N_FUNCTION,
        N_EXPREF,
} node_type;

typedef enum cmp_op { CMP_EQ, CMP_NE, CMP_LT, CMP_LE, CMP_GT, CMP_GE } cmp_op;

struct jp_fn;

typedef struct node {
        node_type type;
        size_t pos;
        unsigned depth;
        struct node **kids;
        size_t n, cap;
        char *name; /* field name (may contain NUL) */
        size_t name_len;
        char **keys; /* multi-select hash */
        size_t *key_lens;
        json_t *lit;
        long long idx;
        long long slice[3];
        bool has[3];
        cmp_op op;
        const struct jp_fn *fn;
} node;

struct cp_jmespath {
        node *root;
        char *text;
};

static node *node_free(node *n) {
        if (!n)
                return NULL;
        for (size_t i = 0; i < n->n; i++) {
                node_free(n->kids[i]);
                if (n->keys)
                        free(n->keys[i]);
        }
        free(n->kids);
        free(n->keys);
        free(n->key_lens);
        free(n->name);
        json_decref(n->lit);
        free(n);
        return NULL;
}

static int node_new(node_type t, size_t pos, node **ret) {
        node *n = calloc(1, sizeof(*n));
        if (!n)
                return jp_oom();
        n->type = t;
        n->pos = pos;
        n->depth = 1;
        *ret = n;
        return 0;
}

/* Takes ownership of kid in every case. */
static int node_add(node *n, node *kid) {
        if (n->n == n->cap) {
                size_t ncap = n->cap ? n->cap * 2 : 4;
                node **nk = realloc(n->kids, ncap * sizeof(*nk));
                if (!nk) {
                        node_free(kid);
                        return jp_oom();
                }
                n->kids = nk;
                if (n->type == N_MULTI_HASH) {
                        char **nkeys = realloc(n->keys, ncap * sizeof(*nkeys));
                        size_t *nlens;
                        if (!nkeys) {
                                node_free(kid);
                                return jp_oom();
                        }
                        n->keys = nkeys;
                        nlens = realloc(n->key_lens, ncap * sizeof(*nlens));
                        if (!nlens) {
                                node_free(kid);
                                return jp_oom();
                        }
                        n->key_lens = nlens;
                }
                n->cap = ncap;
        }
        if (n->keys) {
                n->keys[n->n] = NULL;
                n->key_lens[n->n] = 0;
        }
        n->kids[n->n++] = kid;
        if (kid->depth + 1 > n->depth)
                n->depth = kid->depth + 1;
        if (n->depth > CP_MAX_JMESPATH_DEPTH)
                return jp_error(CP_JMESPATH_ERR_LIMIT, n->pos, "expression nested deeper than %u",
                                CP_MAX_JMESPATH_DEPTH);
        return 0;
}

/* A node of type t with kids a and b (either may be NULL); consumes them. */
static int node_make2(node_type t, size_t pos, node *a, node *b, node **ret) {
        node *n = NULL;
        int r = node_new(t, pos, &n);
        if (r < 0) {
                node_free(a);
                node_free(b);
                return r;
        }
        if (a && (r = node_add(n, a)) < 0) {
                node_free(b);
                node_free(n);
                return r;
        }
        if (b && (r = node_add(n, b)) < 0) {
                node_free(n);
                return r;
        }
        *ret = n;
        return 0;
}

/* -------------------------------------------------------------- functions */

enum {
        A_NUM = 1u << 0,
        A_STR = 1u << 1,
        A_BOOL = 1u << 2,
        A_NULL = 1u << 3,
        A_ARR = 1u << 4,
        A_OBJ = 1u << 5,
        A_EXPREF = 1u << 6,
        A_ARR_NUM = 1u << 7,
        A_ARR_STR = 1u << 8,
        A_ANY = A_NUM | A_STR | A_BOOL | A_NULL | A_ARR | A_OBJ,
};

typedef struct jp_arg {
        json_t *v;
        const node *ref; /* for &expr arguments */
} jp_arg;

typedef struct ctx {
        size_t work;
} ctx;

typedef json_t *(*jp_impl)(ctx *c, const node *call, jp_arg *a, size_t n);

typedef struct jp_fn {
        const char *name;
        int min, max; /* max -1: variadic */
        unsigned types[3];
        jp_impl impl;
} jp_fn;

static const jp_fn *fn_lookup(const char *name, size_t len);

/* ----------------------------------------------------------------- parser */

typedef struct parser {
        token *toks;
        size_t n, i;
        unsigned depth;
} parser;

static tok_type cur(const parser *p) {
        return p->toks[p->i].type;
}

static tok_type la(const parser *p, size_t k) {
        return p->i + k < p->n ? p->toks[p->i + k].type : TOK_EOF;
}

static token *curtok(parser *p) {
        return &p->toks[p->i];
}

static void padv(parser *p) {
        if (p->i + 1 < p->n)
                p->i++;
}

static int unexpected(parser *p) {
        token *t = curtok(p);
        return jp_error(CP_JMESPATH_ERR_SYNTAX, t->pos, "unexpected %s", tok_names[t->type]);
}

static int pmatch(parser *p, tok_type t) {
        if (cur(p) != t) {
                token *tk = curtok(p);
                return jp_error(CP_JMESPATH_ERR_SYNTAX, tk->pos, "expected %s, got %s", tok_names[t],
                                tok_names[tk->type]);
        }
        padv(p);
        return 0;
}

static int parse_expr(parser *p, int rbp, node **ret);
static int parse_dot_rhs(parser *p, int rbp, node **ret);
static int parse_multi_list(parser *p, size_t pos, node **ret);
static int parse_multi_hash(parser *p, size_t pos, node **ret);

static int make_field(token *t, node **ret) {
        node *n = NULL;
        int r = node_new(N_FIELD, t->pos, &n);
        if (r < 0)
                return r;
        n->name = TAKE_PTR(t->str);
        n->name_len = t->len;
        *ret = n;
        return 0;
}

static int make_current(size_t pos, node **ret) {
        return node_new(N_CURRENT, pos, ret);
}

static int parse_projection_rhs(parser *p, int rbp, node **ret) {
        tok_type t = cur(p);

        if (tok_bp[t] < PROJECTION_STOP)
                return make_current(curtok(p)->pos, ret);
        if (t == TOK_LBRACKET || t == TOK_FILTER)
                return parse_expr(p, rbp, ret);
        if (t == TOK_DOT) {
                padv(p);
                return parse_dot_rhs(p, rbp, ret);
        }
        return unexpected(p);
}

/* After '.': an identifier, '*', or a multi-select list / hash (a '['
 * here never starts an index or slice). */
static int parse_dot_rhs(parser *p, int rbp, node **ret) {
        tok_type t = cur(p);
        size_t pos = curtok(p)->pos;

        if (t == TOK_QUOTED || t == TOK_UNQUOTED || t == TOK_STAR)
                return parse_expr(p, rbp, ret);
        if (t == TOK_LBRACKET) {
                padv(p);
                return parse_multi_list(p, pos, ret);
        }
        if (t == TOK_LBRACE) {
                padv(p);
                return parse_multi_hash(p, pos, ret);
        }
        return unexpected(p);
}

/* After '[' (consumed): a number or a slice. */
static int parse_index(parser *p, node **ret) {
        size_t pos = curtok(p)->pos;
        node *n = NULL;
        int r;

        if (cur(p) == TOK_COLON || la(p, 1) == TOK_COLON) {
                int part = 0;
                r = node_new(N_SLICE, pos, &n);
                if (r < 0)
                        return r;
                while (cur(p) != TOK_RBRACKET && part < 3) {
                        if (cur(p) == TOK_COLON) {
                                part++;
                                if (part == 3) {
                                        node_free(n);
                                        return unexpected(p);
                                }
                                padv(p);
                        } else if (cur(p) == TOK_NUMBER) {
                                if (n->has[part]) {
                                        node_free(n);
                                        return unexpected(p);
                                }
                                n->slice[part] = curtok(p)->num;
                                n->has[part] = true;
                                padv(p);
                        } else {
                                node_free(n);
                                return unexpected(p);
                        }
                }
                r = pmatch(p, TOK_RBRACKET);
                if (r < 0) {
                        node_free(n);
                        return r;
                }
                if (n->has[2] && n->slice[2] == 0) {
                        node_free(n);
                        return jp_error(CP_JMESPATH_ERR_INVALID_VALUE, pos, "slice step cannot be 0");
                }
                *ret = n;
                return 0;
        }
        if (cur(p) != TOK_NUMBER)
                return unexpected(p);
        r = node_new(N_INDEX, pos, &n);
        if (r < 0)
                return r;
        n->idx = curtok(p)->num;
        padv(p);
        r = pmatch(p, TOK_RBRACKET);
        if (r < 0) {
                node_free(n);
                return r;
        }
        *ret = n;
        return 0;
}

static int project_if_slice(parser *p, node *left, node *right, node **ret) {
        bool slice = right->type == N_SLICE;
        size_t pos = right->pos;
        node *ie = NULL, *rhs = NULL;
        int r;

        if (!slice && left->type == N_INDEX_EXPR) {
                r = node_add(left, right);
                if (r < 0) {
                        node_free(left);
                        return r;
                }
                *ret = left;
                return 0;
        }
        r = node_make2(N_INDEX_EXPR, pos, left, right, &ie);
        if (r < 0)
                return r;
        if (!slice) {
                *ret = ie;
                return 0;
        }
        r = parse_projection_rhs(p, tok_bp[TOK_STAR], &rhs);
        if (r < 0) {
                node_free(ie);
                return r;
        }
        return node_make2(N_PROJECTION, pos, ie, rhs, ret);
}

static int parse_multi_list(parser *p, size_t pos, node **ret) {
        node *n = NULL, *e = NULL;
        int r = node_new(N_MULTI_LIST, pos, &n);
        if (r < 0)
                return r;
        for (;;) {
                r = parse_expr(p, 0, &e);
                if (r < 0)
                        goto fail;
                r = node_add(n, e);
                if (r < 0)
                        goto fail;
                if (cur(p) == TOK_RBRACKET)
                        break;
                r = pmatch(p, TOK_COMMA);
                if (r < 0)
                        goto fail;
        }
        padv(p);
        *ret = n;
        return 0;
fail:
        node_free(n);
        return r;
}

static int parse_multi_hash(parser *p, size_t pos, node **ret) {
        node *n = NULL, *e = NULL;
        int r = node_new(N_MULTI_HASH, pos, &n);
        if (r < 0)
                return r;
        for (;;) {
                token *kt = curtok(p);
                char *key;
                size_t klen;

                if (kt->type != TOK_QUOTED && kt->type != TOK_UNQUOTED) {
                        r = unexpected(p);
                        goto fail;
                }
                key = TAKE_PTR(kt->str);
                klen = kt->len;
                padv(p);
                r = pmatch(p, TOK_COLON);
                if (r >= 0)
                        r = parse_expr(p, 0, &e);
                if (r >= 0)
                        r = node_add(n, e);
                if (r < 0) {
                        free(key);
                        goto fail;
                }
                n->keys[n->n - 1] = key;
                n->key_lens[n->n - 1] = klen;
                if (cur(p) == TOK_RBRACE)
                        break;
                r = pmatch(p, TOK_COMMA);
                if (r < 0)
                        goto fail;
        }
        padv(p);
        *ret = n;
        return 0;
fail:
        node_free(n);
        return r;
}

static int parse_filter(parser *p, node *left, size_t pos, node **ret) {
        node *cond = NULL, *right = NULL, *n;
        int r;

        r = parse_expr(p, 0, &cond);
        if (r < 0)
                goto fail;
        r = pmatch(p, TOK_RBRACKET);
        if (r < 0)
                goto fail;
        if (cur(p) == TOK_FLATTEN)
                r = make_current(curtok(p)->pos, &right);
        else
                r = parse_projection_rhs(p, tok_bp[TOK_FILTER], &right);
        if (r < 0)
                goto fail;
        r = node_make2(N_FILTER, pos, left, right, &n);
        left = right = NULL;
        if (r < 0)
                goto fail;
        r = node_add(n, cond);
        cond = NULL;
        if (r < 0) {
                node_free(n);
                goto fail;
        }
        *ret = n;
        return 0;
fail:
        node_free(left);
        node_free(right);
        node_free(cond);
        return r;
}

static int parse_nud(parser *p, node **ret) {
        token *t = curtok(p);
        size_t pos = t->pos;
        size_t save = p->i;
        node *left = NULL, *right = NULL, *n = NULL;
        int r;

        padv(p);
        switch (t->type) {
        case TOK_LITERAL:
                r = node_new(N_LITERAL, pos, &n);
                if (r < 0)
                        return r;
                n->lit = TAKE_PTR(t->lit);
                *ret = n;
                return 0;
        case TOK_RAWSTR:
                r = node_new(N_LITERAL, pos, &n);
                if (r < 0)
                        return r;
                n->lit = json_stringn_nocheck(t->str, t->len);
                if (!n->lit) {
                        node_free(n);
                        return jp_oom();
                }
                *ret = n;
                return 0;
        case TOK_UNQUOTED:
                return make_field(t, ret);
        case TOK_QUOTED:
                if (cur(p) == TOK_LPAREN)
                        return jp_error(CP_JMESPATH_ERR_SYNTAX, pos, "quoted identifier cannot name a function");
                return make_field(t, ret);
        case TOK_STAR:
                r = make_current(pos, &left);
                if (r < 0)
                        return r;
                if (cur(p) == TOK_RBRACKET)
                        r = make_current(pos, &right);
                else
                        r = parse_projection_rhs(p, tok_bp[TOK_STAR], &right);
                if (r < 0) {
                        node_free(left);
                        return r;
                }
                return node_make2(N_VALUE_PROJECTION, pos, left, right, ret);
        case TOK_FILTER:
                r = make_current(pos, &left);
                if (r < 0)
                        return r;
                return parse_filter(p, left, pos, ret);
        case TOK_LBRACE:
                return parse_multi_hash(p, pos, ret);
        case TOK_LPAREN:
                r = parse_expr(p, 0, &n);
                if (r < 0)
                        return r;
                r = pmatch(p, TOK_RPAREN);
                if (r < 0) {
                        node_free(n);
                        return r;
                }
                *ret = n;
                return 0;
        case TOK_FLATTEN:
                r = make_current(pos, &left);
                if (r < 0)
                        return r;
                r = node_make2(N_FLATTEN, pos, left, NULL, &left);
                if (r < 0)
                        return r;
                r = parse_projection_rhs(p, tok_bp[TOK_FLATTEN], &right);
                if (r < 0) {
                        node_free(left);
                        return r;
                }
                return node_make2(N_PROJECTION, pos, left, right, ret);
        case TOK_NOT:
                r = parse_expr(p, tok_bp[TOK_NOT], &n);
                if (r < 0)
                        return r;
                return node_make2(N_NOT, pos, n, NULL, ret);
        case TOK_LBRACKET:
                if (cur(p) == TOK_NUMBER || cur(p) == TOK_COLON) {
                        r = parse_index(p, &right);
                        if (r < 0)
                                return r;
                        r = make_current(pos, &left);
                        if (r < 0) {
                                node_free(right);
                                return r;
                        }
                        return project_if_slice(p, left, right, ret);
                }
                if (cur(p) == TOK_STAR && la(p, 1) == TOK_RBRACKET) {
                        padv(p);
                        padv(p);
                        r = make_current(pos, &left);
                        if (r < 0)
                                return r;
                        r = parse_projection_rhs(p, tok_bp[TOK_STAR], &right);
                        if (r < 0) {
                                node_free(left);
                                return r;
                        }
                        return node_make2(N_PROJECTION, pos, left, right, ret);
                }
                return parse_multi_list(p, pos, ret);
        case TOK_CURRENT:
                return make_current(pos, ret);
        case TOK_EXPREF:
                r = parse_expr(p, 0 /* bp of '&' */, &n);
                if (r < 0)
                        return r;
                return node_make2(N_EXPREF, pos, n, NULL, ret);
        default:
                p->i = save;
                return unexpected(p);
        }
}

static int parse_function(parser *p, node *left, size_t pos, node **ret) {
        const jp_fn *fn;
        node *n = NULL, *arg = NULL;
        int r;

        if (left->type != N_FIELD) {
                node_free(left);
                return jp_error(CP_JMESPATH_ERR_SYNTAX, pos, "invalid function name");
        }
        fn = fn_lookup(left->name, left->name_len);
        if (!fn) {
                r = jp_error(CP_JMESPATH_ERR_UNKNOWN_FUNCTION, left->pos, "unknown function %s()", left->name);
                node_free(left);
                return r;
        }
        pos = left->pos;
        node_free(left);
        r = node_new(N_FUNCTION, pos, &n);
        if (r < 0)
                return r;
        n->fn = fn;
        if (cur(p) != TOK_RPAREN) {
                for (;;) {
                        r = parse_expr(p, 0, &arg);
                        if (r < 0)
                                goto fail;
                        r = node_add(n, arg);
                        if (r < 0)
                                goto fail;
                        if (cur(p) == TOK_RPAREN)
                                break;
                        r = pmatch(p, TOK_COMMA);
                        if (r < 0)
                                goto fail;
                }
        }
        padv(p);
        if ((int) n->n < fn->min || (fn->max >= 0 && (int) n->n > fn->max)) {
                r = jp_error(CP_JMESPATH_ERR_INVALID_ARITY, pos, "%s() takes %s%d argument%s, got %zu", fn->name,
                             fn->max < 0 ? "at least " : "", fn->min, fn->min == 1 ? "" : "s", n->n);
                goto fail;
        }
        *ret = n;
        return 0;
fail:
        node_free(n);
        return r;
}

static int parse_led(parser *p, node *left, node **ret) {
        token *t = curtok(p);
        tok_type type = t->type;
        size_t pos = t->pos, save = p->i;
        node *right = NULL, *n = NULL;
        int r;

        padv(p);
        switch (type) {
        case TOK_DOT:
                if (cur(p) != TOK_STAR) {
                        r = parse_dot_rhs(p, tok_bp[TOK_DOT], &right);
                        if (r < 0)
                                break;
                        if (left->type == N_SUBEXPR) {
                                r = node_add(left, right);
                                if (r < 0)
                                        break;
                                *ret = left;
                                return 0;
                        }
                        return node_make2(N_SUBEXPR, pos, left, right, ret);
                }
                padv(p);
                r = parse_projection_rhs(p, tok_bp[TOK_DOT], &right);
                if (r < 0)
                        break;
                return node_make2(N_VALUE_PROJECTION, pos, left, right, ret);
        case TOK_PIPE:
        case TOK_OR:
        case TOK_AND:
                r = parse_expr(p, tok_bp[type], &right);
                if (r < 0)
                        break;
                /* left-associative chains stay flat (n-ary nodes) */
                if (left->type == (type == TOK_PIPE ? N_PIPE : type == TOK_OR ? N_OR : N_AND)) {
                        r = node_add(left, right);
                        if (r < 0)
                                break;
                        *ret = left;
                        return 0;
                }
                return node_make2(type == TOK_PIPE ? N_PIPE : type == TOK_OR ? N_OR : N_AND, pos, left, right,
                                  ret);
        case TOK_EQ:
        case TOK_NE:
        case TOK_LT:
        case TOK_LE:
        case TOK_GT:
        case TOK_GE:
                r = parse_expr(p, tok_bp[type], &right);
                if (r < 0)
                        break;
                r = node_make2(N_CMP, pos, left, right, &n);
                if (r < 0)
                        return r;
                n->op = type == TOK_EQ ? CMP_EQ : type == TOK_NE ? CMP_NE : type == TOK_LT ? CMP_LT :
                        type == TOK_LE ? CMP_LE : type == TOK_GT ? CMP_GT : CMP_GE;
                *ret = n;
                return 0;
        case TOK_LPAREN:
                return parse_function(p, left, pos, ret);
        case TOK_FILTER:
                return parse_filter(p, left, pos, ret);
        case TOK_FLATTEN:
                r = node_make2(N_FLATTEN, pos, left, NULL, &left);
                if (r < 0)
                        return r;
                r = parse_projection_rhs(p, tok_bp[TOK_FLATTEN], &right);
                if (r < 0)
                        break;
                return node_make2(N_PROJECTION, pos, left, right, ret);
        case TOK_LBRACKET:
                if (cur(p) == TOK_NUMBER || cur(p) == TOK_COLON) {
                        r = parse_index(p, &right);
                        if (r < 0)
                                break;
                        return project_if_slice(p, left, right, ret);
                }
                r = pmatch(p, TOK_STAR);
                if (r >= 0)
                        r = pmatch(p, TOK_RBRACKET);
                if (r >= 0)
                        r = parse_projection_rhs(p, tok_bp[TOK_STAR], &right);
                if (r < 0)
                        break;
                return node_make2(N_PROJECTION, pos, left, right, ret);
        default:
                p->i = save;
                r = unexpected(p);
                break;
        }
        node_free(left);
        return r;
}

static int parse_expr(parser *p, int rbp, node **ret) {
        node *left = NULL;
        int r;

        if (++p->depth > CP_MAX_JMESPATH_DEPTH) {
                p->depth--;
                return jp_error(CP_JMESPATH_ERR_LIMIT, curtok(p)->pos, "expression nested deeper than %u",
                                CP_MAX_JMESPATH_DEPTH);
        }
        r = parse_nud(p, &left);
        while (r >= 0 && rbp < tok_bp[cur(p)])
                r = parse_led(p, left, &left);
        p->depth--;
        if (r < 0)
                return r;
        *ret = left;
        return 0;
}

int cp_jmespath_compile(const char *expr, cp_jmespath **ret) {
        lexer lx = { 0 };
        parser p = { 0 };
        cp_jmespath *e;
        node *root = NULL;
        size_t len;
        int r;

        last_errtype = CP_JMESPATH_ERR_NONE;
        if (!expr || !ret)
                return CP_ERROR(CP_EINVAL, "jmespath: NULL argument");
        len = strnlen(expr, CP_MAX_JMESPATH_EXPR + 1);
        if (len > CP_MAX_JMESPATH_EXPR)
                return jp_error(CP_JMESPATH_ERR_LIMIT, 0, "expression longer than %u bytes", CP_MAX_JMESPATH_EXPR);
        lx.c = cp_cursor_make(expr, len);
        r = lex_all(&lx);
        if (r < 0)
                goto out;
        p.toks = lx.toks;
        p.n = lx.n;
        r = parse_expr(&p, 0, &root);
        if (r < 0)
                goto out;
        if (cur(&p) != TOK_EOF) {
                r = unexpected(&p);
                goto out;
        }
        e = calloc(1, sizeof(*e));
        if (!e || !(e->text = strdup(expr))) {
                free(e);
                r = jp_oom();
                goto out;
        }
        e->root = TAKE_PTR(root);
        *ret = e;
        r = 0;
out:
        node_free(root);
        lexer_done(&lx);
        return r;
}

cp_jmespath *cp_jmespath_free(cp_jmespath *e) {
        if (!e)
                return NULL;
        node_free(e->root);
        free(e->text);
        free(e);
        return NULL;
}

const char *cp_jmespath_expression(const cp_jmespath *e) {
        return e ? e->text : NULL;
}

/* ------------------------------------------------------- value helpers */

static bool truthy(const json_t *v) {
        switch (json_typeof(v)) {
        case JSON_NULL:
        case JSON_FALSE:
                return false;
        case JSON_STRING:
                return json_string_length(v) > 0;
        case JSON_ARRAY:
                return json_array_size(v) > 0;
        case JSON_OBJECT:
                return json_object_size(v) > 0;
        default:
                return true;
        }
}

static const char *type_name(const json_t *v) {
        switch (json_typeof(v)) {
        case JSON_OBJECT: return "object";
        case JSON_ARRAY: return "array";
        case JSON_STRING: return "string";
        case JSON_INTEGER:
        case JSON_REAL: return "number";
        case JSON_TRUE:
        case JSON_FALSE: return "boolean";
        default: return "null";
        }
}

static int num_cmp(const json_t *a, const json_t *b) {
        if (json_is_integer(a) && json_is_integer(b)) {
                json_int_t x = json_integer_value(a), y = json_integer_value(b);
                return x < y ? -1 : x > y ? 1 : 0;
        }
        double x = json_number_value(a), y = json_number_value(b);
        return x < y ? -1 : x > y ? 1 : 0;
}

static int str_cmp(const json_t *a, const json_t *b) {
        size_t la_ = json_string_length(a), lb = json_string_length(b);
        int c = memcmp(json_string_value(a), json_string_value(b), la_ < lb ? la_ : lb);
        if (c)
                return c < 0 ? -1 : 1;
        return la_ < lb ? -1 : la_ > lb ? 1 : 0;
}

/* 1 equal, 0 not, <0 error (depth). */
static int deep_equal(const json_t *a, const json_t *b, unsigned depth) {
        if (depth > CP_MAX_JMESPATH_DATA_DEPTH)
                return jp_error(CP_JMESPATH_ERR_LIMIT, 0, "JSON nested deeper than %u", CP_MAX_JMESPATH_DATA_DEPTH);
        if (a == b)
                return 1;
        if (json_is_number(a) && json_is_number(b))
                return num_cmp(a, b) == 0;
        if (json_typeof(a) != json_typeof(b))
                return 0;
        switch (json_typeof(a)) {
        case JSON_STRING:
                return str_cmp(a, b) == 0;
        case JSON_ARRAY: {
                size_t n = json_array_size(a);
                if (n != json_array_size(b))
                        return 0;
                for (size_t i = 0; i < n; i++) {
                        int r = deep_equal(json_array_get(a, i), json_array_get(b, i), depth + 1);
                        if (r <= 0)
                                return r;
                }
                return 1;
        }
        case JSON_OBJECT: {
                const char *k;
                size_t klen;
                json_t *va;
                void *it;
                if (json_object_size(a) != json_object_size(b))
                        return 0;
                for (it = json_object_iter((json_t *) a); it; it = json_object_iter_next((json_t *) a, it)) {
                        k = json_object_iter_key(it);
                        klen = json_object_iter_key_len(it);
                        va = json_object_iter_value(it);
                        json_t *vb = json_object_getn(b, k, klen);
                        if (!vb)
                                return 0;
                        int r = deep_equal(va, vb, depth + 1);
                        if (r <= 0)
                                return r;
                }
                return 1;
        }
        default:
                return 1; /* true/true, false/false, null/null */
        }
}

int cp_jmespath_equal(const json_t *a, const json_t *b) {
        if (!a || !b)
                return a == b;
        return deep_equal(a, b, 0);
}

static int charge(ctx *c, size_t n, size_t pos) {
        if (n > CP_MAX_JMESPATH_WORK || c->work > CP_MAX_JMESPATH_WORK - n)
                return jp_error(CP_JMESPATH_ERR_LIMIT, pos, "search exceeds %u work units", CP_MAX_JMESPATH_WORK);
        c->work += n;
        return 0;
}

/* Append (stealing v); on failure v is released. */
static int arr_append(ctx *c, json_t *arr, json_t *v, size_t pos) {
        int r = charge(c, 1, pos);
        if (r < 0) {
                json_decref(v);
                return r;
        }
        if (json_array_append_new(arr, v) < 0)
                return jp_oom();
        return 0;
}

static json_t *new_array(void) {
        json_t *a = json_array();
        if (!a)
                jp_oom();
        return a;
}

/* -------------------------------------------------- number formatting */

size_t cp_jmespath_format_real(double d, char *buf, size_t size) {
        char tmp[40], digits[24];
        int nd = 0, exp10, o = 0;
        bool neg;
        char out[64];

        if (!buf || size == 0)
                return 0;
        if (isnan(d))
                return (size_t) snprintf(buf, size, "NaN");
        if (isinf(d))
                return (size_t) snprintf(buf, size, d < 0 ? "-Infinity" : "Infinity");
        for (int prec = 0; prec < 17; prec++) {
                snprintf(tmp, sizeof(tmp), "%.*e", prec, d);
                if (strtod(tmp, NULL) == d)
                        break;
        }
        /* tmp: [-]d[.ddd]e[+-]xx */
        neg = tmp[0] == '-';
        const char *s = tmp + (neg ? 1 : 0);
        for (; *s && *s != 'e'; s++)
                if (is_digit(*s) && nd < (int) sizeof(digits) - 1)
                        digits[nd++] = *s;
        digits[nd] = 0;
        exp10 = *s == 'e' ? atoi(s + 1) : 0;
        while (nd > 1 && digits[nd - 1] == '0')
                digits[--nd] = 0;
        if (neg)
                out[o++] = '-';
        if (exp10 >= -4 && exp10 < 16) {
                if (exp10 >= 0) {
                        for (int i = 0; i <= exp10; i++)
                                out[o++] = i < nd ? digits[i] : '0';
                        out[o++] = '.';
                        if (nd > exp10 + 1)
                                for (int i = exp10 + 1; i < nd; i++)
                                        out[o++] = digits[i];
                        else
                                out[o++] = '0';
                } else {
                        out[o++] = '0';
                        out[o++] = '.';
                        for (int i = 0; i < -exp10 - 1; i++)
                                out[o++] = '0';
                        for (int i = 0; i < nd; i++)
                                out[o++] = digits[i];
                }
                out[o] = 0;
        } else {
                out[o++] = digits[0];
                if (nd > 1) {
                        out[o++] = '.';
                        for (int i = 1; i < nd; i++)
                                out[o++] = digits[i];
                }
                snprintf(out + o, sizeof(out) - (size_t) o, "e%c%02d", exp10 < 0 ? '-' : '+',
                         exp10 < 0 ? -exp10 : exp10);
        }
        return (size_t) snprintf(buf, size, "%s", out);
}

/* ------------------------------------------------------------ JSON dump */

typedef struct sbuf {
        char *p;
        size_t len, cap, limit;
} sbuf;

static int sb_put(sbuf *b, const char *s, size_t n) {
        if (n > b->limit || b->len > b->limit - n)
                return jp_error(CP_JMESPATH_ERR_LIMIT, 0, "string longer than %zu bytes", b->limit);
        if (b->len + n + 1 > b->cap) {
                size_t ncap = b->cap ? b->cap : 64;
                while (ncap < b->len + n + 1)
                        ncap *= 2;
                char *np = realloc(b->p, ncap);
                if (!np)
                        return jp_oom();
                b->p = np;
                b->cap = ncap;
        }
        memcpy(b->p + b->len, s, n);
        b->len += n;
        b->p[b->len] = 0;
        return 0;
}

static int sb_puts(sbuf *b, const char *s) {
        return sb_put(b, s, strlen(s));
}

static int sb_json_string(sbuf *b, const char *s, size_t n) {
        int r = sb_put(b, "\"", 1);
        size_t run = 0;
        for (size_t i = 0; r >= 0 && i < n; i++) {
                unsigned char ch = (unsigned char) s[i];
                char esc[8];
                const char *e = NULL;
                if (ch == '"')
                        e = "\\\"";
                else if (ch == '\\')
                        e = "\\\\";
                else if (ch == '\n')
                        e = "\\n";
                else if (ch == '\r')
                        e = "\\r";
                else if (ch == '\t')
                        e = "\\t";
                else if (ch == '\b')
                        e = "\\b";
                else if (ch == '\f')
                        e = "\\f";
                else if (ch < 0x20) {
                        snprintf(esc, sizeof(esc), "\\u%04x", ch);
                        e = esc;
                }
                if (!e) {
                        run++;
                        continue;
                }
                r = sb_put(b, s + i - run, run);
                run = 0;
                if (r >= 0)
                        r = sb_puts(b, e);
        }
        if (r >= 0)
                r = sb_put(b, s + n - run, run);
        if (r >= 0)
                r = sb_put(b, "\"", 1);
        return r;
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

static int sb_indent(sbuf *b, int indent, unsigned level) {
        int r = sb_put(b, "\n", 1);
        for (unsigned i = 0; r >= 0 && i < level * (unsigned) indent; i++)
                r = sb_put(b, " ", 1);
        return r;
}

static int dump_value(sbuf *b, const json_t *v, int indent, bool sort, unsigned level) {
        char num[40];
        int r = 0;

        if (level > CP_MAX_JMESPATH_DATA_DEPTH)
                return jp_error(CP_JMESPATH_ERR_LIMIT, 0, "JSON nested deeper than %u", CP_MAX_JMESPATH_DATA_DEPTH);
        switch (json_typeof(v)) {
        case JSON_NULL:
                return sb_puts(b, "null");
        case JSON_TRUE:
                return sb_puts(b, "true");
        case JSON_FALSE:
                return sb_puts(b, "false");
        case JSON_INTEGER:
                snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
                return sb_puts(b, num);
        case JSON_REAL:
                cp_jmespath_format_real(json_real_value(v), num, sizeof(num));
                return sb_puts(b, num);
        case JSON_STRING:
                return sb_json_string(b, json_string_value(v), json_string_length(v));
        case JSON_ARRAY: {
                size_t n = json_array_size(v);
                if (n == 0)
                        return sb_puts(b, "[]");
                r = sb_puts(b, "[");
                for (size_t i = 0; r >= 0 && i < n; i++) {
                        if (i > 0)
                                r = sb_puts(b, ",");
                        if (r >= 0 && indent >= 0)
                                r = sb_indent(b, indent, level + 1);
                        if (r >= 0)
                                r = dump_value(b, json_array_get(v, i), indent, sort, level + 1);
                }
                if (r >= 0 && indent >= 0)
                        r = sb_indent(b, indent, level);
                if (r >= 0)
                        r = sb_puts(b, "]");
                return r;
        }
        case JSON_OBJECT: {
                size_t n = json_object_size(v), i = 0;
                _cleanup_free_ kv *items = NULL;
                void *it;
                if (n == 0)
                        return sb_puts(b, "{}");
                items = calloc(n, sizeof(*items));
                if (!items)
                        return jp_oom();
                for (it = json_object_iter((json_t *) v); it && i < n; it = json_object_iter_next((json_t *) v, it), i++)
                        items[i] = (kv) { json_object_iter_key(it), json_object_iter_key_len(it),
                                          json_object_iter_value(it) };
                if (sort)
                        qsort(items, n, sizeof(*items), kv_cmp);
                r = sb_puts(b, "{");
                for (i = 0; r >= 0 && i < n; i++) {
                        if (i > 0)
                                r = sb_puts(b, ",");
                        if (r >= 0 && indent >= 0)
                                r = sb_indent(b, indent, level + 1);
                        if (r >= 0)
                                r = sb_json_string(b, items[i].k, items[i].klen);
                        if (r >= 0)
                                r = sb_puts(b, indent >= 0 ? ": " : ":");
                        if (r >= 0)
                                r = dump_value(b, items[i].v, indent, sort, level + 1);
                }
                if (r >= 0 && indent >= 0)
                        r = sb_indent(b, indent, level);
                if (r >= 0)
                        r = sb_puts(b, "}");
                return r;
        }
        default:
                return CP_ERROR(CP_EINVAL, "jmespath: unknown JSON type");
        }
}

static int dump_limited(const json_t *v, int indent, int sort_keys, size_t limit, char **ret, size_t *ret_len) {
        sbuf b = { .limit = limit };
        int r = dump_value(&b, v, indent, sort_keys, 0);
        if (r >= 0 && !b.p)
                r = sb_put(&b, "", 0);
        if (r < 0) {
                free(b.p);
                return r;
        }
        *ret = b.p;
        if (ret_len)
                *ret_len = b.len;
        return 0;
}

int cp_jmespath_dump(const json_t *v, int indent, int sort_keys, char **ret) {
        if (!v || !ret)
                return CP_ERROR(CP_EINVAL, "jmespath: NULL argument");
        return dump_limited(v, indent, sort_keys, SIZE_MAX / 2, ret, NULL);
}

/* ------------------------------------------------------------- evaluator */

static json_t *eval(ctx *c, const node *n, json_t *v);

static json_t *eval_slice(ctx *c, const node *n, json_t *v) {
        long long len, start, stop, step, i;
        json_t *out;

        if (!json_is_array(v))
                return json_null();
        len = (long long) json_array_size(v);
        step = n->has[2] ? n->slice[2] : 1;
        if (n->has[0]) {
                start = n->slice[0];
                if (start < 0) {
                        start += len;
                        if (start < 0)
                                start = step < 0 ? -1 : 0;
                } else if (start >= len)
                        start = step < 0 ? len - 1 : len;
        } else
                start = step < 0 ? len - 1 : 0;
        if (n->has[1]) {
                stop = n->slice[1];
                if (stop < 0) {
                        stop += len;
                        if (stop < 0)
                                stop = step < 0 ? -1 : 0;
                } else if (stop >= len)
                        stop = step < 0 ? len - 1 : len;
        } else
                stop = step < 0 ? -1 : len;
        out = new_array();
        if (!out)
                return NULL;
        for (i = start; step > 0 ? i < stop : i > stop; i += step) {
                if (arr_append(c, out, json_incref(json_array_get(v, (size_t) i)), n->pos) < 0) {
                        json_decref(out);
                        return NULL;
                }
                if ((step > 0 && i > LLONG_MAX - step) || (step < 0 && i < LLONG_MIN - step))
                        break;
        }
        return out;
}

/* Apply right to every element in elems (borrowed array), keeping non-null. */
static json_t *project(ctx *c, const node *right, json_t *elems, size_t pos) {
        json_t *out = new_array();
        size_t i;
        json_t *e;

        if (!out)
                return NULL;
        json_array_foreach(elems, i, e) {
                json_t *r = eval(c, right, e);
                if (!r) {
                        json_decref(out);
                        return NULL;
                }
                if (json_is_null(r))
                        continue;
                if (arr_append(c, out, r, pos) < 0) {
                        json_decref(out);
                        return NULL;
                }
        }
        return out;
}

static json_t *eval_cmp(ctx *c, const node *n, json_t *v) {
        json_t *a = NULL, *b = NULL, *res = NULL;
        int eq, cmp;

        a = eval(c, n->kids[0], v);
        if (!a)
                return NULL;
        b = eval(c, n->kids[1], v);
        if (!b)
                goto out;
        if (n->op == CMP_EQ || n->op == CMP_NE) {
                if (charge(c, 1, n->pos) < 0)
                        goto out;
                eq = deep_equal(a, b, 0);
                if (eq < 0)
                        goto out;
                res = json_boolean(n->op == CMP_EQ ? eq : !eq);
                goto out;
        }
        if (!json_is_number(a) || !json_is_number(b)) {
                res = json_null();
                goto out;
        }
        cmp = num_cmp(a, b);
        switch (n->op) {
        case CMP_LT: res = json_boolean(cmp < 0); break;
        case CMP_LE: res = json_boolean(cmp <= 0); break;
        case CMP_GT: res = json_boolean(cmp > 0); break;
        default: res = json_boolean(cmp >= 0); break;
        }
out:
        json_decref(a);
        json_decref(b);
        return res;
}

static json_t *eval_function(ctx *c, const node *n, json_t *v);

static json_t *eval(ctx *c, const node *n, json_t *v) {
        json_t *l, *out, *e;
        size_t i;

        switch (n->type) {
        case N_FIELD:
                if (!json_is_object(v))
                        return json_null();
                e = json_object_getn(v, n->name, n->name_len);
                return e ? json_incref(e) : json_null();
        case N_CURRENT:
                return json_incref(v);
        case N_LITERAL:
                return json_incref(n->lit);
        case N_INDEX: {
                long long idx = n->idx, len;
                if (!json_is_array(v))
                        return json_null();
                len = (long long) json_array_size(v);
                if (idx < 0)
                        idx += len;
                if (idx < 0 || idx >= len)
                        return json_null();
                return json_incref(json_array_get(v, (size_t) idx));
        }
        case N_SLICE:
                return eval_slice(c, n, v);
        case N_SUBEXPR:
        case N_INDEX_EXPR:
        case N_PIPE:
                l = json_incref(v);
                for (i = 0; i < n->n; i++) {
                        json_t *next = eval(c, n->kids[i], l);
                        json_decref(l);
                        if (!next)
                                return NULL;
                        l = next;
                }
                return l;
        case N_PROJECTION:
                l = eval(c, n->kids[0], v);
                if (!l)
                        return NULL;
                if (!json_is_array(l)) {
                        json_decref(l);
                        return json_null();
                }
                out = project(c, n->kids[1], l, n->pos);
                json_decref(l);
                return out;
        case N_VALUE_PROJECTION: {
                json_t *vals;
                const char *k;
                l = eval(c, n->kids[0], v);
                if (!l)
                        return NULL;
                if (!json_is_object(l)) {
                        json_decref(l);
                        return json_null();
                }
                vals = new_array();
                if (!vals) {
                        json_decref(l);
                        return NULL;
                }
                json_object_foreach(l, k, e) {
                        if (arr_append(c, vals, json_incref(e), n->pos) < 0) {
                                json_decref(vals);
                                json_decref(l);
                                return NULL;
                        }
                }
                json_decref(l);
                out = project(c, n->kids[1], vals, n->pos);
                json_decref(vals);
                return out;
        }
        case N_FILTER:
                l = eval(c, n->kids[0], v);
                if (!l)
                        return NULL;
                if (!json_is_array(l)) {
                        json_decref(l);
                        return json_null();
                }
                out = new_array();
                if (!out) {
                        json_decref(l);
                        return NULL;
                }
                json_array_foreach(l, i, e) {
                        json_t *cond = eval(c, n->kids[2], e), *r;
                        bool keep;
                        if (!cond)
                                goto filter_fail;
                        keep = truthy(cond);
                        json_decref(cond);
                        if (!keep)
                                continue;
                        r = eval(c, n->kids[1], e);
                        if (!r)
                                goto filter_fail;
                        if (json_is_null(r))
                                continue;
                        if (arr_append(c, out, r, n->pos) < 0)
                                goto filter_fail;
                }
                json_decref(l);
                return out;
filter_fail:
                json_decref(l);
                json_decref(out);
                return NULL;
        case N_FLATTEN:
                l = eval(c, n->kids[0], v);
                if (!l)
                        return NULL;
                if (!json_is_array(l)) {
                        json_decref(l);
                        return json_null();
                }
                out = new_array();
                if (!out) {
                        json_decref(l);
                        return NULL;
                }
                json_array_foreach(l, i, e) {
                        if (json_is_array(e)) {
                                size_t j;
                                json_t *x;
                                json_array_foreach(e, j, x) {
                                        if (arr_append(c, out, json_incref(x), n->pos) < 0)
                                                goto flatten_fail;
                                }
                        } else if (arr_append(c, out, json_incref(e), n->pos) < 0)
                                goto flatten_fail;
                }
                json_decref(l);
                return out;
flatten_fail:
                json_decref(l);
                json_decref(out);
                return NULL;
        case N_MULTI_LIST:
                if (json_is_null(v))
                        return json_null();
                out = new_array();
                if (!out)
                        return NULL;
                for (i = 0; i < n->n; i++) {
                        e = eval(c, n->kids[i], v);
                        if (!e || arr_append(c, out, e, n->pos) < 0) {
                                json_decref(out);
                                return NULL;
                        }
                }
                return out;
        case N_MULTI_HASH:
                if (json_is_null(v))
                        return json_null();
                out = json_object();
                if (!out) {
                        jp_oom();
                        return NULL;
                }
                for (i = 0; i < n->n; i++) {
                        e = eval(c, n->kids[i], v);
                        if (!e || charge(c, 1, n->pos) < 0) {
                                json_decref(e);
                                json_decref(out);
                                return NULL;
                        }
                        if (json_object_setn_new_nocheck(out, n->keys[i], n->key_lens[i], e) < 0) {
                                json_decref(out);
                                jp_oom();
                                return NULL;
                        }
                }
                return out;
        case N_OR:
        case N_AND:
                /* or: the first truthy operand, else the last; and: the
                 * first falsy operand, else the last */
                for (i = 0;; i++) {
                        l = eval(c, n->kids[i], v);
                        if (!l || i + 1 == n->n || (n->type == N_OR) == truthy(l))
                                return l;
                        json_decref(l);
                }
        case N_NOT: {
                bool t;
                l = eval(c, n->kids[0], v);
                if (!l)
                        return NULL;
                t = truthy(l);
                json_decref(l);
                return json_boolean(!t);
        }
        case N_CMP:
                return eval_cmp(c, n, v);
        case N_FUNCTION:
                return eval_function(c, n, v);
        case N_EXPREF:
                /* Only meaningful as a function argument. */
                return json_null();
        }
        CP_ERROR(CP_EINTERNAL, "jmespath: bad node");
        return NULL;
}

/* Count the nodes of a result tree (shared subtrees counted every time they
 * occur, i.e. the size of the printed result), up to the limit. */
static int result_size(const json_t *v, size_t *count, unsigned depth) {
        if (++*count > CP_MAX_JMESPATH_RESULT)
                return jp_error(CP_JMESPATH_ERR_LIMIT, 0, "result has more than %u values", CP_MAX_JMESPATH_RESULT);
        if (depth > CP_MAX_JMESPATH_DATA_DEPTH)
                return jp_error(CP_JMESPATH_ERR_LIMIT, 0, "result nested deeper than %u", CP_MAX_JMESPATH_DATA_DEPTH);
        if (json_is_array(v)) {
                size_t i;
                json_t *e;
                json_array_foreach(v, i, e) {
                        int r = result_size(e, count, depth + 1);
                        if (r < 0)
                                return r;
                }
        } else if (json_is_object(v)) {
                const char *k;
                json_t *e;
                json_object_foreach((json_t *) v, k, e) {
                        int r = result_size(e, count, depth + 1);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

int cp_jmespath_search(const cp_jmespath *e, json_t *data, json_t **ret) {
        ctx c = { 0 };
        size_t count = 0;
        json_t *res;
        int r;

        last_errtype = CP_JMESPATH_ERR_NONE;
        if (!e || !ret)
                return CP_ERROR(CP_EINVAL, "jmespath: NULL argument");
        if (!data)
                data = json_null();
        res = eval(&c, e->root, data);
        if (!res) {
                r = cp_error_last()->code;
                return r < 0 ? r : CP_ERROR(CP_EINTERNAL, "jmespath: evaluation failed without an error");
        }
        r = result_size(res, &count, 0);
        if (r < 0) {
                json_decref(res);
                return r;
        }
        *ret = res;
        return 0;
}

/* ------------------------------------------------------ function library */

static json_t *fail_type(const node *call, size_t argi, const char *want, const json_t *got) {
        jp_error(CP_JMESPATH_ERR_INVALID_TYPE, call->pos, "%s() argument %zu: expected %s, got %s", call->fn->name,
                 argi + 1, want, got ? type_name(got) : "expression");
        return NULL;
}

static bool all_of(const json_t *arr, bool (*pred)(const json_t *)) {
        size_t i;
        json_t *e;
        json_array_foreach(arr, i, e) {
                if (!pred(e))
                        return false;
        }
        return true;
}

static bool is_num(const json_t *v) {
        return json_is_number(v);
}

static bool is_str(const json_t *v) {
        return json_is_string(v);
}

static bool arg_ok(unsigned spec, const jp_arg *a) {
        if (a->ref)
                return spec & A_EXPREF;
        switch (json_typeof(a->v)) {
        case JSON_INTEGER:
        case JSON_REAL: return spec & A_NUM;
        case JSON_STRING: return spec & A_STR;
        case JSON_TRUE:
        case JSON_FALSE: return spec & A_BOOL;
        case JSON_NULL: return spec & A_NULL;
        case JSON_OBJECT: return spec & A_OBJ;
        case JSON_ARRAY:
                if (spec & A_ARR)
                        return true;
                if ((spec & A_ARR_NUM) && all_of(a->v, is_num))
                        return true;
                if ((spec & A_ARR_STR) && all_of(a->v, is_str))
                        return true;
                return false;
        }
        return false;
}

static const char *spec_name(unsigned spec) {
        static const struct {
                unsigned spec;
                const char *name;
        } names[] = {
                { A_NUM, "number" }, { A_STR, "string" }, { A_ARR, "array" }, { A_OBJ, "object" },
                { A_EXPREF, "expression" }, { A_ARR_NUM, "array of numbers" },
                { A_ARR_NUM | A_ARR_STR, "array of numbers or of strings" }, { A_ARR | A_STR, "array or string" },
                { A_ARR | A_STR | A_OBJ, "string, array or object" },
        };
        for (size_t i = 0; i < CP_ELEMENTSOF(names); i++)
                if (names[i].spec == spec)
                        return names[i].name;
        return "another type";
}

static json_t *eval_function(ctx *c, const node *n, json_t *v) {
        const jp_fn *fn = n->fn;
        jp_arg args[16] = { 0 }, *a = args;
        _cleanup_free_ jp_arg *heap = NULL;
        json_t *res = NULL;
        size_t i;

        if (n->n > CP_ELEMENTSOF(args)) {
                heap = calloc(n->n, sizeof(*heap));
                if (!heap) {
                        jp_oom();
                        return NULL;
                }
                a = heap;
        }
        for (i = 0; i < n->n; i++) {
                if (n->kids[i]->type == N_EXPREF) {
                        a[i].ref = n->kids[i]->kids[0];
                        continue;
                }
                a[i].v = eval(c, n->kids[i], v);
                if (!a[i].v)
                        goto out;
        }
        for (i = 0; i < n->n; i++) {
                unsigned spec = fn->types[i < 3 ? i : 2];
                if (fn->max < 0 && i >= (size_t) fn->min)
                        spec = fn->types[fn->min - 1 < 2 ? fn->min - 1 : 2];
                if (!arg_ok(spec, &a[i])) {
                        fail_type(n, i, spec_name(spec), a[i].v);
                        goto out;
                }
        }
        res = fn->impl(c, n, a, n->n);
out:
        for (i = 0; i < n->n; i++)
                json_decref(a[i].v);
        return res;
}

static json_t *mk_real(double d, const node *call) {
        json_t *r;
        if (!isfinite(d)) {
                jp_error(CP_JMESPATH_ERR_INVALID_VALUE, call->pos, "%s(): result is not a finite number",
                         call->fn->name);
                return NULL;
        }
        r = json_real(d);
        if (!r)
                jp_oom();
        return r;
}

static json_t *mk_int(json_int_t i) {
        json_t *r = json_integer(i);
        if (!r)
                jp_oom();
        return r;
}

/* An integral double as an integer when it fits, else a real. */
static json_t *mk_integral(double d, const node *call) {
        if (d >= -9007199254740992.0 && d <= 9007199254740992.0)
                return mk_int((json_int_t) d);
        return mk_real(d, call);
}

/* floor/ceil without libm (2^52 and beyond are integral already). */
static double jp_floor(double d) {
        double t;
        if (!(d > -4503599627370496.0 && d < 4503599627370496.0))
                return d;
        t = (double) (long long) d;
        return t > d ? t - 1 : t;
}

static double jp_ceil(double d) {
        double t;
        if (!(d > -4503599627370496.0 && d < 4503599627370496.0))
                return d;
        t = (double) (long long) d;
        return t < d ? t + 1 : t;
}

static json_t *fn_abs(ctx *c, const node *call, jp_arg *a, size_t n) {
        (void) c;
        (void) n;
        if (json_is_integer(a[0].v)) {
                json_int_t x = json_integer_value(a[0].v);
                if (x == INT64_MIN)
                        return mk_real(-(double) x, call);
                return mk_int(x < 0 ? -x : x);
        }
        return mk_real(json_real_value(a[0].v) < 0 ? -json_real_value(a[0].v) : json_real_value(a[0].v), call);
}

static json_t *fn_sum_avg(const node *call, json_t *arr, bool avg) {
        size_t i, cnt = json_array_size(arr);
        json_t *e;
        json_int_t isum = 0;
        double dsum = 0;
        bool ints = true;

        if (avg && cnt == 0)
                return json_null();
        json_array_foreach(arr, i, e) {
                json_int_t t;
                if (ints && json_is_integer(e) && !__builtin_add_overflow(isum, json_integer_value(e), &t)) {
                        isum = t;
                        continue;
                }
                if (ints) {
                        dsum = (double) isum;
                        ints = false;
                }
                dsum += json_number_value(e);
        }
        if (ints && !avg)
                return mk_int(isum);
        if (ints)
                dsum = (double) isum;
        if (avg)
                return mk_real(dsum / (double) cnt, call);
        return mk_real(dsum, call);
}

static json_t *fn_avg(ctx *c, const node *call, jp_arg *a, size_t n) {
        (void) c;
        (void) n;
        return fn_sum_avg(call, a[0].v, true);
}

static json_t *fn_sum(ctx *c, const node *call, jp_arg *a, size_t n) {
        (void) c;
        (void) n;
        return fn_sum_avg(call, a[0].v, false);
}

static json_t *fn_ceil(ctx *c, const node *call, jp_arg *a, size_t n) {
        (void) c;
        (void) n;
        if (json_is_integer(a[0].v))
                return json_incref(a[0].v);
        return mk_integral(jp_ceil(json_real_value(a[0].v)), call);
}

static json_t *fn_floor(ctx *c, const node *call, jp_arg *a, size_t n) {
        (void) c;
        (void) n;
        if (json_is_integer(a[0].v))
                return json_incref(a[0].v);
        return mk_integral(jp_floor(json_real_value(a[0].v)), call);
}

static bool mem_find(const char *h, size_t hl, const char *nd, size_t nl) {
        if (nl == 0)
                return true;
        if (nl > hl)
                return false;
        return memmem(h, hl, nd, nl) != NULL;
}

static json_t *fn_contains(ctx *c, const node *call, jp_arg *a, size_t n) {
        (void) n;
        if (json_is_string(a[0].v)) {
                if (!json_is_string(a[1].v))
                        return json_false();
                return json_boolean(mem_find(json_string_value(a[0].v), json_string_length(a[0].v),
                                             json_string_value(a[1].v), json_string_length(a[1].v)));
        }
        size_t i;
        json_t *e;
        json_array_foreach(a[0].v, i, e) {
                int r;
                if (charge(c, 1, call->pos) < 0)
                        return NULL;
                r = deep_equal(e, a[1].v, 0);
                if (r < 0)
                        return NULL;
                if (r)
                        return json_true();
        }
        return json_false();
}

static json_t *fn_starts_with(ctx *c, const node *call, jp_arg *a, size_t n) {
        size_t hl = json_string_length(a[0].v), nl = json_string_length(a[1].v);
        (void) c;
        (void) call;
        (void) n;
        return json_boolean(nl <= hl && memcmp(json_string_value(a[0].v), json_string_value(a[1].v), nl) == 0);
}

static json_t *fn_ends_with(ctx *c, const node *call, jp_arg *a, size_t n) {
        size_t hl = json_string_length(a[0].v), nl = json_string_length(a[1].v);
        (void) c;
        (void) call;
        (void) n;
        return json_boolean(nl <= hl &&
                            memcmp(json_string_value(a[0].v) + hl - nl, json_string_value(a[1].v), nl) == 0);
}

static json_t *mk_string(ctx *c, const node *call, const char *s, size_t len) {
        json_t *r;
        if (charge(c, len / 16 + 1, call->pos) < 0)
                return NULL;
        r = json_stringn_nocheck(s, len);
        if (!r)
                jp_oom();
        return r;
}

static json_t *fn_join(ctx *c, const node *call, jp_arg *a, size_t n) {
        sbuf b = { .limit = CP_MAX_JMESPATH_RESULT };
        size_t i;
        json_t *e, *res;
        int r = 0;
        (void) n;

        json_array_foreach(a[1].v, i, e) {
                if (i > 0)
                        r = sb_put(&b, json_string_value(a[0].v), json_string_length(a[0].v));
                if (r >= 0)
                        r = sb_put(&b, json_string_value(e), json_string_length(e));
                if (r < 0) {
                        free(b.p);
                        return NULL;
                }
        }
        res = mk_string(c, call, b.p ? b.p : "", b.len);
        free(b.p);
        return res;
}

static json_t *fn_keys(ctx *c, const node *call, jp_arg *a, size_t n) {
        json_t *out = new_array(), *e;
        const char *k;
        size_t klen;
        (void) n;
        if (!out)
                return NULL;
        json_object_keylen_foreach(a[0].v, k, klen, e) {
                json_t *s = json_stringn_nocheck(k, klen);
                if (!s || arr_append(c, out, s, call->pos) < 0) {
                        if (!s)
                                jp_oom();
                        json_decref(out);
                        return NULL;
                }
        }
        return out;
}

static json_t *fn_values(ctx *c, const node *call, jp_arg *a, size_t n) {
        json_t *out = new_array(), *e;
        const char *k;
        (void) n;
        if (!out)
                return NULL;
        json_object_foreach(a[0].v, k, e) {
                if (arr_append(c, out, json_incref(e), call->pos) < 0) {
                        json_decref(out);
                        return NULL;
                }
        }
        return out;
}

static size_t utf8_count(const char *s, size_t len) {
        size_t cnt = 0;
        for (size_t i = 0; i < len; i++)
                if (((unsigned char) s[i] & 0xc0) != 0x80)
                        cnt++;
        return cnt;
}

static json_t *fn_length(ctx *c, const node *call, jp_arg *a, size_t n) {
        (void) c;
        (void) call;
        (void) n;
        if (json_is_string(a[0].v))
                return mk_int((json_int_t) utf8_count(json_string_value(a[0].v), json_string_length(a[0].v)));
        if (json_is_array(a[0].v))
                return mk_int((json_int_t) json_array_size(a[0].v));
        return mk_int((json_int_t) json_object_size(a[0].v));
}

static json_t *fn_map(ctx *c, const node *call, jp_arg *a, size_t n) {
        json_t *out = new_array(), *e;
        size_t i;
        (void) n;
        if (!out)
                return NULL;
        json_array_foreach(a[1].v, i, e) {
                json_t *r = eval(c, a[0].ref, e);
                if (!r || arr_append(c, out, r, call->pos) < 0) {
                        json_decref(out);
                        return NULL;
                }
        }
        return out;
}

static json_t *minmax(const node *call, json_t *arr, bool want_max) {
        json_t *best = NULL, *e;
        size_t i;
        (void) call;
        json_array_foreach(arr, i, e) {
                int cmp;
                if (!best) {
                        best = e;
                        continue;
                }
                cmp = json_is_string(e) ? str_cmp(e, best) : num_cmp(e, best);
                if (want_max ? cmp > 0 : cmp < 0)
                        best = e;
        }
        return best ? json_incref(best) : json_null();
}

static json_t *fn_max(ctx *c, const node *call, jp_arg *a, size_t n) {
        (void) c;
        (void) n;
        return minmax(call, a[0].v, true);
}

static json_t *fn_min(ctx *c, const node *call, jp_arg *a, size_t n) {
        (void) c;
        (void) n;
        return minmax(call, a[0].v, false);
}

typedef struct sort_item {
        json_t *key;
        json_t *v;
        size_t i;
} sort_item;

static int key_cmp(const json_t *a, const json_t *b) {
        return json_is_string(a) ? str_cmp(a, b) : num_cmp(a, b);
}

static int sort_item_cmp(const void *x, const void *y) {
        const sort_item *a = x, *b = y;
        int cmp = key_cmp(a->key, b->key);
        if (cmp)
                return cmp;
        return a->i < b->i ? -1 : a->i > b->i ? 1 : 0;
}

/* Compute &expr keys for every element; all numbers or all strings. */
static sort_item *keyed_items(ctx *c, const node *call, jp_arg *a, size_t *ret_n) {
        json_t *arr = a[0].v, *e;
        size_t cnt = json_array_size(arr), i;
        sort_item *items = calloc(cnt ? cnt : 1, sizeof(*items));
        bool nums = false, strs = false;

        if (!items) {
                jp_oom();
                return NULL;
        }
        json_array_foreach(arr, i, e) {
                json_t *k = a[1].ref ? eval(c, a[1].ref, e) : json_incref(e);
                if (!k || charge(c, 1, call->pos) < 0)
                        goto fail;
                items[i] = (sort_item) { k, e, i };
                if (json_is_number(k))
                        nums = true;
                else if (json_is_string(k))
                        strs = true;
                else {
                        jp_error(CP_JMESPATH_ERR_INVALID_TYPE, call->pos,
                                 "%s(): expression must give numbers or strings, got %s", call->fn->name,
                                 type_name(k));
                        goto fail;
                }
                if (nums && strs) {
                        jp_error(CP_JMESPATH_ERR_INVALID_TYPE, call->pos,
                                 "%s(): expression gives both numbers and strings", call->fn->name);
                        goto fail;
                }
        }
        *ret_n = cnt;
        return items;
fail:
        for (size_t j = 0; j < cnt; j++)
                json_decref(items[j].key);
        free(items);
        return NULL;
}

static void free_items(sort_item *items, size_t cnt) {
        for (size_t j = 0; j < cnt; j++)
                json_decref(items[j].key);
        free(items);
}

static json_t *by_minmax(ctx *c, const node *call, jp_arg *a, bool want_max) {
        size_t cnt, best = 0;
        sort_item *items = keyed_items(c, call, a, &cnt);
        json_t *res;
        if (!items)
                return NULL;
        if (cnt == 0) {
                free_items(items, cnt);
                return json_null();
        }
        /* ties: the first occurrence wins */
        for (size_t i = 1; i < cnt; i++) {
                int cmp = key_cmp(items[i].key, items[best].key);
                if (want_max ? cmp > 0 : cmp < 0)
                        best = i;
        }
        res = json_incref(items[best].v);
        free_items(items, cnt);
        return res;
}

static json_t *fn_max_by(ctx *c, const node *call, jp_arg *a, size_t n) {
        (void) n;
        return by_minmax(c, call, a, true);
}

static json_t *fn_min_by(ctx *c, const node *call, jp_arg *a, size_t n) {
        (void) n;
        return by_minmax(c, call, a, false);
}

static json_t *sorted(ctx *c, const node *call, jp_arg *a) {
        size_t cnt;
        sort_item *items = keyed_items(c, call, a, &cnt);
        json_t *out;
        if (!items)
                return NULL;
        if (cnt > 1 && charge(c, cnt, call->pos) < 0) {
                free_items(items, cnt);
                return NULL;
        }
        qsort(items, cnt, sizeof(*items), sort_item_cmp);
        out = new_array();
        for (size_t i = 0; out && i < cnt; i++)
                if (json_array_append(out, items[i].v) < 0) {
                        json_decref(out);
                        out = NULL;
                        jp_oom();
                }
        free_items(items, cnt);
        return out;
}

static json_t *fn_sort(ctx *c, const node *call, jp_arg *a, size_t n) {
        jp_arg b[2] = { a[0], { NULL, NULL } };
        (void) n;
        return sorted(c, call, b);
}

static json_t *fn_sort_by(ctx *c, const node *call, jp_arg *a, size_t n) {
        (void) n;
        return sorted(c, call, a);
}

static json_t *fn_merge(ctx *c, const node *call, jp_arg *a, size_t n) {
        json_t *out = json_object();
        if (!out) {
                jp_oom();
                return NULL;
        }
        for (size_t i = 0; i < n; i++) {
                if (charge(c, json_object_size(a[i].v) + 1, call->pos) < 0 || json_object_update(out, a[i].v) < 0) {
                        if (cp_error_last()->code == 0)
                                jp_oom();
                        json_decref(out);
                        return NULL;
                }
        }
        return out;
}

static json_t *fn_not_null(ctx *c, const node *call, jp_arg *a, size_t n) {
        (void) c;
        (void) call;
        for (size_t i = 0; i < n; i++)
                if (!json_is_null(a[i].v))
                        return json_incref(a[i].v);
        return json_null();
}

static json_t *fn_reverse(ctx *c, const node *call, jp_arg *a, size_t n) {
        (void) n;
        if (json_is_string(a[0].v)) {
                const char *s = json_string_value(a[0].v);
                size_t len = json_string_length(a[0].v), o = len, i = 0;
                _cleanup_free_ char *buf = malloc(len + 1);
                if (!buf) {
                        jp_oom();
                        return NULL;
                }
                while (i < len) {
                        size_t cl = 1;
                        while (i + cl < len && ((unsigned char) s[i + cl] & 0xc0) == 0x80)
                                cl++;
                        o -= cl;
                        memcpy(buf + o, s + i, cl);
                        i += cl;
                }
                return mk_string(c, call, buf, len);
        }
        json_t *out = new_array();
        size_t cnt = json_array_size(a[0].v);
        for (size_t i = cnt; out && i > 0; i--)
                if (arr_append(c, out, json_incref(json_array_get(a[0].v, i - 1)), call->pos) < 0) {
                        json_decref(out);
                        return NULL;
                }
        return out;
}

static json_t *fn_to_array(ctx *c, const node *call, jp_arg *a, size_t n) {
        json_t *out;
        (void) n;
        if (json_is_array(a[0].v))
                return json_incref(a[0].v);
        out = new_array();
        if (out && arr_append(c, out, json_incref(a[0].v), call->pos) < 0) {
                json_decref(out);
                return NULL;
        }
        return out;
}

static json_t *fn_to_string(ctx *c, const node *call, jp_arg *a, size_t n) {
        char *s;
        size_t len;
        json_t *res;
        (void) n;
        if (json_is_string(a[0].v))
                return json_incref(a[0].v);
        if (dump_limited(a[0].v, -1, false, CP_MAX_JMESPATH_RESULT, &s, &len) < 0)
                return NULL;
        res = mk_string(c, call, s, len);
        free(s);
        return res;
}

/* JSON number grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static bool json_number_syntax(const char *s, size_t len, bool *ret_int) {
        size_t i = 0;
        bool integral = true;
        if (i < len && s[i] == '-')
                i++;
        if (i >= len || !is_digit(s[i]))
                return false;
        if (s[i] == '0')
                i++;
        else
                while (i < len && is_digit(s[i]))
                        i++;
        if (i < len && s[i] == '.') {
                integral = false;
                i++;
                if (i >= len || !is_digit(s[i]))
                        return false;
                while (i < len && is_digit(s[i]))
                        i++;
        }
        if (i < len && (s[i] == 'e' || s[i] == 'E')) {
                integral = false;
                i++;
                if (i < len && (s[i] == '+' || s[i] == '-'))
                        i++;
                if (i >= len || !is_digit(s[i]))
                        return false;
                while (i < len && is_digit(s[i]))
                        i++;
        }
        *ret_int = integral;
        return i == len;
}

static json_t *fn_to_number(ctx *c, const node *call, jp_arg *a, size_t n) {
        const char *s;
        size_t len;
        bool integral;
        char buf[128];
        (void) c;
        (void) n;
        if (json_is_number(a[0].v))
                return json_incref(a[0].v);
        if (!json_is_string(a[0].v))
                return json_null();
        s = json_string_value(a[0].v);
        len = json_string_length(a[0].v);
        if (len >= sizeof(buf) || !json_number_syntax(s, len, &integral))
                return json_null();
        memcpy(buf, s, len);
        buf[len] = 0;
        if (integral) {
                errno = 0;
                long long v = strtoll(buf, NULL, 10);
                if (errno == 0)
                        return mk_int(v);
        }
        double d = strtod(buf, NULL);
        if (!isfinite(d))
                return json_null();
        return mk_real(d, call);
}

static json_t *fn_type(ctx *c, const node *call, jp_arg *a, size_t n) {
        json_t *r;
        (void) c;
        (void) call;
        (void) n;
        r = json_string(type_name(a[0].v));
        if (!r)
                jp_oom();
        return r;
}

static const jp_fn functions[] = {
        { "abs", 1, 1, { A_NUM }, fn_abs },
        { "avg", 1, 1, { A_ARR_NUM }, fn_avg },
        { "ceil", 1, 1, { A_NUM }, fn_ceil },
        { "contains", 2, 2, { A_ARR | A_STR, A_ANY }, fn_contains },
        { "ends_with", 2, 2, { A_STR, A_STR }, fn_ends_with },
        { "floor", 1, 1, { A_NUM }, fn_floor },
        { "join", 2, 2, { A_STR, A_ARR_STR }, fn_join },
        { "keys", 1, 1, { A_OBJ }, fn_keys },
        { "length", 1, 1, { A_ARR | A_STR | A_OBJ }, fn_length },
        { "map", 2, 2, { A_EXPREF, A_ARR }, fn_map },
        { "max", 1, 1, { A_ARR_NUM | A_ARR_STR }, fn_max },
        { "max_by", 2, 2, { A_ARR, A_EXPREF }, fn_max_by },
        { "merge", 1, -1, { A_OBJ }, fn_merge },
        { "min", 1, 1, { A_ARR_NUM | A_ARR_STR }, fn_min },
        { "min_by", 2, 2, { A_ARR, A_EXPREF }, fn_min_by },
        { "not_null", 1, -1, { A_ANY }, fn_not_null },
        { "reverse", 1, 1, { A_ARR | A_STR }, fn_reverse },
        { "sort", 1, 1, { A_ARR_NUM | A_ARR_STR }, fn_sort },
        { "sort_by", 2, 2, { A_ARR, A_EXPREF }, fn_sort_by },
        { "starts_with", 2, 2, { A_STR, A_STR }, fn_starts_with },
        { "sum", 1, 1, { A_ARR_NUM }, fn_sum },
        { "to_array", 1, 1, { A_ANY }, fn_to_array },
        { "to_number", 1, 1, { A_ANY }, fn_to_number },
        { "to_string", 1, 1, { A_ANY }, fn_to_string },
        { "type", 1, 1, { A_ANY }, fn_type },
        { "values", 1, 1, { A_OBJ }, fn_values },
};

static const jp_fn *fn_lookup(const char *name, size_t len) {
        for (size_t i = 0; i < CP_ELEMENTSOF(functions); i++)
                if (strlen(functions[i].name) == len && memcmp(functions[i].name, name, len) == 0)
                        return &functions[i];
        return NULL;
}
