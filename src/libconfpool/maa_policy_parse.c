/* SPDX-License-Identifier: Apache-2.0 */
/* MAA policy language v1.0: lexer and recursive-descent parser with
 * line:column error positions. */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "basic/cleanup.h"
#include "basic/cursor.h"
#include "maa_policy-internal.h"

typedef enum tok_kind {
        T_EOF,
        T_IDENT,
        T_STRING,
        T_INT,
        T_DECIMAL, /* 1.0 */
        T_SEMI,
        T_ASSIGN,  /* = */
        T_EQ,
        T_NE,
        T_LT,
        T_LE,
        T_GT,
        T_GE,
        T_NOT,
        T_AND,
        T_ARROW,   /* => */
        T_LBRACK,
        T_RBRACK,
        T_LBRACE,
        T_RBRACE,
        T_LPAREN,
        T_RPAREN,
        T_COMMA,
        T_COLON,
        T_DOT,
} tok_kind;

typedef struct token {
        tok_kind kind;
        unsigned line, col;
        char *text;    /* IDENT, STRING (unescaped), DECIMAL */
        int64_t i;
} token;

typedef struct parser {
        cp_cursor c;
        unsigned line, col;
        token tok;      /* current token */
        cp_maa_parse_error *err;
        int code;       /* first error */
} parser;

static int fail_at(parser *p, unsigned line, unsigned col, int code, const char *fmt, ...)
        __attribute__((format(printf, 5, 6)));
static int fail_at(parser *p, unsigned line, unsigned col, int code, const char *fmt, ...) {
        char msg[200];
        va_list ap;
        va_start(ap, fmt);
        if (vsnprintf(msg, sizeof(msg), fmt, ap) < 0)
                msg[0] = '\0';
        va_end(ap);
        if (p->err) {
                p->err->line = line;
                p->err->column = col;
                snprintf(p->err->message, sizeof(p->err->message), "%s", msg);
        }
        p->code = code;
        return cp_error_set_at(__FILE__, __LINE__, code, "policy %u:%u: %s", line, col, msg);
}
#define FAIL(p, ...) fail_at((p), (p)->tok.line, (p)->tok.col, CP_EFORMAT, __VA_ARGS__)

static int peekc(parser *p, size_t ahead) {
        if (cp_cursor_remaining(&p->c) <= ahead)
                return -1;
        cp_cursor w;
        uint8_t ch;
        if (cp_cursor_window(&p->c, cp_cursor_offset(&p->c) + ahead, 1, &w) < 0 || cp_cursor_u8(&w, &ch) < 0)
                return -1;
        return ch;
}

static void advc(parser *p) {
        uint8_t ch;
        if (cp_cursor_u8(&p->c, &ch) < 0)
                return;
        if (ch == '\n') {
                p->line++;
                p->col = 1;
        } else
                p->col++;
}

static bool is_alpha(int ch) {
        return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_';
}
static bool is_digit(int ch) {
        return ch >= '0' && ch <= '9';
}

static int skip_space(parser *p) {
        for (;;) {
                int ch = peekc(p, 0);
                if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n')
                        advc(p);
                else if (ch == '/' && peekc(p, 1) == '/') {
                        while ((ch = peekc(p, 0)) >= 0 && ch != '\n')
                                advc(p);
                } else if (ch == '/' && peekc(p, 1) == '*') {
                        unsigned l = p->line, c = p->col;
                        advc(p);
                        advc(p);
                        for (;;) {
                                ch = peekc(p, 0);
                                if (ch < 0)
                                        return fail_at(p, l, c, CP_EFORMAT, "unterminated comment");
                                if (ch == '*' && peekc(p, 1) == '/') {
                                        advc(p);
                                        advc(p);
                                        break;
                                }
                                advc(p);
                        }
                } else
                        return 0;
        }
}

static int next(parser *p) {
        token *t = &p->tok;
        int r;
        free(t->text);
        memset(t, 0, sizeof(*t));
        if ((r = skip_space(p)) < 0)
                return r;
        t->line = p->line;
        t->col = p->col;
        int ch = peekc(p, 0);
        if (ch < 0) {
                t->kind = T_EOF;
                return 0;
        }
        if (is_alpha(ch)) {
                char buf[MAA_VAR_MAX * 2 + 1];
                size_t n = 0;
                while (is_alpha(ch = peekc(p, 0)) || is_digit(ch)) {
                        if (n + 1 >= sizeof(buf))
                                return fail_at(p, t->line, t->col, CP_EFORMAT, "identifier too long");
                        buf[n++] = (char) ch;
                        advc(p);
                }
                buf[n] = '\0';
                t->kind = T_IDENT;
                t->text = strdup(buf);
                return t->text ? 0 : cp_error_oom();
        }
        if (is_digit(ch) || (ch == '-' && is_digit(peekc(p, 1)))) {
                char buf[32];
                size_t n = 0;
                bool dot = false;
                if (ch == '-') {
                        buf[n++] = '-';
                        advc(p);
                }
                while (is_digit(ch = peekc(p, 0)) || (ch == '.' && !dot && is_digit(peekc(p, 1)))) {
                        if (n + 1 >= sizeof(buf))
                                return fail_at(p, t->line, t->col, CP_EFORMAT, "number too long");
                        if (ch == '.')
                                dot = true;
                        buf[n++] = (char) ch;
                        advc(p);
                }
                buf[n] = '\0';
                if (is_alpha(ch))
                        return fail_at(p, p->line, p->col, CP_EFORMAT, "letter directly after a number");
                if (dot) {
                        t->kind = T_DECIMAL;
                        t->text = strdup(buf);
                        return t->text ? 0 : cp_error_oom();
                }
                errno = 0;
                char *end;
                long long v = strtoll(buf, &end, 10);
                if (errno != 0 || *end != '\0')
                        return fail_at(p, t->line, t->col, CP_EFORMAT, "integer out of range");
                t->kind = T_INT;
                t->i = (int64_t) v;
                return 0;
        }
        if (ch == '"') {
                size_t cap = 64, n = 0;
                char *s = malloc(cap);
                if (!s)
                        return cp_error_oom();
                advc(p);
                for (;;) {
                        ch = peekc(p, 0);
                        if (ch < 0 || ch == '\n') {
                                free(s);
                                return fail_at(p, t->line, t->col, CP_EFORMAT, "unterminated string");
                        }
                        advc(p);
                        if (ch == '"')
                                break;
                        if (ch == '\\') {
                                int e = peekc(p, 0);
                                if (e != '"' && e != '\\') {
                                        free(s);
                                        return fail_at(p, p->line, p->col, CP_EFORMAT,
                                                       "only \\\" and \\\\ escapes are allowed");
                                }
                                advc(p);
                                ch = e;
                        } else if (ch < 0x20) {
                                free(s);
                                return fail_at(p, p->line, p->col - 1, CP_EFORMAT, "control character in string");
                        }
                        if (n + 2 > cap) {
                                if (cap > CP_MAA_MAX_STRING) {
                                        free(s);
                                        return fail_at(p, t->line, t->col, CP_ETOOBIG, "string literal too long");
                                }
                                cap *= 2;
                                char *ns = realloc(s, cap);
                                if (!ns) {
                                        free(s);
                                        return cp_error_oom();
                                }
                                s = ns;
                        }
                        s[n++] = (char) ch;
                }
                s[n] = '\0';
                t->kind = T_STRING;
                t->text = s;
                return 0;
        }
        int c2 = peekc(p, 1);
        tok_kind k;
        size_t w = 1;
        switch (ch) {
        case ';': k = T_SEMI; break;
        case '[': k = T_LBRACK; break;
        case ']': k = T_RBRACK; break;
        case '{': k = T_LBRACE; break;
        case '}': k = T_RBRACE; break;
        case '(': k = T_LPAREN; break;
        case ')': k = T_RPAREN; break;
        case ',': k = T_COMMA; break;
        case ':': k = T_COLON; break;
        case '.': k = T_DOT; break;
        case '=':
                k = c2 == '=' ? T_EQ : c2 == '>' ? T_ARROW : T_ASSIGN;
                w = c2 == '=' || c2 == '>' ? 2 : 1;
                break;
        case '!':
                k = c2 == '=' ? T_NE : T_NOT;
                w = c2 == '=' ? 2 : 1;
                break;
        case '<':
                k = c2 == '=' ? T_LE : T_LT;
                w = c2 == '=' ? 2 : 1;
                break;
        case '>':
                k = c2 == '=' ? T_GE : T_GT;
                w = c2 == '=' ? 2 : 1;
                break;
        case '&':
                if (c2 != '&')
                        return fail_at(p, t->line, t->col, CP_EFORMAT, "expected \"&&\"");
                k = T_AND;
                w = 2;
                break;
        default:
                if (ch >= 0x20 && ch < 0x7f)
                        return fail_at(p, t->line, t->col, CP_EFORMAT, "unexpected character '%c'", ch);
                return fail_at(p, t->line, t->col, CP_EFORMAT, "unexpected byte 0x%02x", (unsigned) ch);
        }
        for (size_t i = 0; i < w; i++)
                advc(p);
        t->kind = k;
        return 0;
}

static const char *tok_desc(const token *t) {
        static const char *names[] = {
                [T_EOF] = "end of input", [T_IDENT] = "identifier", [T_STRING] = "string", [T_INT] = "integer",
                [T_DECIMAL] = "number", [T_SEMI] = "';'", [T_ASSIGN] = "'='", [T_EQ] = "'=='", [T_NE] = "'!='",
                [T_LT] = "'<'", [T_LE] = "'<='", [T_GT] = "'>'", [T_GE] = "'>='", [T_NOT] = "'!'",
                [T_AND] = "'&&'", [T_ARROW] = "'=>'", [T_LBRACK] = "'['", [T_RBRACK] = "']'", [T_LBRACE] = "'{'",
                [T_RBRACE] = "'}'", [T_LPAREN] = "'('", [T_RPAREN] = "')'", [T_COMMA] = "','", [T_COLON] = "':'",
                [T_DOT] = "'.'",
        };
        return names[t->kind];
}

static int expect(parser *p, tok_kind k, const char *what) {
        if (p->tok.kind != k)
                return FAIL(p, "expected %s, found %s", what, tok_desc(&p->tok));
        return next(p);
}

static bool is_ident(const parser *p, const char *word) {
        return p->tok.kind == T_IDENT && strcmp(p->tok.text, word) == 0;
}

static int parse_prop(parser *p, const char *name, maa_prop *ret) {
        if (strcmp(name, "type") == 0)
                *ret = PROP_TYPE;
        else if (strcmp(name, "value") == 0)
                *ret = PROP_VALUE;
        else if (strcmp(name, "issuer") == 0)
                *ret = PROP_ISSUER;
        else
                return FAIL(p, "unknown claim property \"%s\" (type, value or issuer)", name);
        return 0;
}

/* Operand: literal or var.prop naming a condition bound before index
 * upto. */
static int parse_operand(parser *p, const maa_rule *rule, size_t upto, maa_operand *ret) {
        maa_operand o = { 0 };
        int r;
        switch (p->tok.kind) {
        case T_STRING:
                o.vtype = CP_MAA_STRING;
                o.s = TAKE_PTR(p->tok.text);
                break;
        case T_INT:
                o.vtype = CP_MAA_INTEGER;
                o.i = p->tok.i;
                break;
        case T_IDENT:
                if (strcmp(p->tok.text, "true") == 0 || strcmp(p->tok.text, "false") == 0) {
                        o.vtype = CP_MAA_BOOLEAN;
                        o.b = p->tok.text[0] == 't';
                        break;
                }
                {
                        size_t k;
                        for (k = 0; k < upto; k++)
                                if (rule->conds[k].binds && strcmp(rule->conds[k].var, p->tok.text) == 0)
                                        break;
                        if (k == upto)
                                return FAIL(p, "\"%s\" is not a claim bound by an earlier condition", p->tok.text);
                        o.is_ref = true;
                        o.ref_cond = (unsigned) k;
                        if ((r = next(p)) < 0 || (r = expect(p, T_DOT, "'.' after a claim variable")) < 0)
                                return r;
                        if (p->tok.kind != T_IDENT)
                                return FAIL(p, "expected a claim property after '.'");
                        if ((r = parse_prop(p, p->tok.text, &o.ref_prop)) < 0)
                                return r;
                }
                break;
        default:
                return FAIL(p, "expected a value (string, integer, true, false or claim.property), found %s",
                            tok_desc(&p->tok));
        }
        *ret = o;
        return next(p);
}

static void operand_clear(maa_operand *o) {
        free(o->s);
        o->s = NULL;
}

static void operand_clear(maa_operand *o);

static int parse_cond(parser *p, maa_rule *rule) {
        maa_cond *c = &rule->conds[rule->n_conds];
        int r;
        memset(c, 0, sizeof(*c));
        if (p->tok.kind == T_IDENT) {
                if (strlen(p->tok.text) > MAA_VAR_MAX)
                        return FAIL(p, "claim variable name too long");
                for (size_t k = 0; k < rule->n_conds; k++)
                        if (rule->conds[k].binds && strcmp(rule->conds[k].var, p->tok.text) == 0)
                                return FAIL(p, "claim variable \"%s\" bound twice", p->tok.text);
                if (strcmp(p->tok.text, "true") == 0 || strcmp(p->tok.text, "false") == 0)
                        return FAIL(p, "\"%s\" cannot name a claim variable", p->tok.text);
                c->binds = true;
                strcpy(c->var, p->tok.text);
                if ((r = next(p)) < 0 || (r = expect(p, T_COLON, "':' after a claim variable")) < 0)
                        return r;
        }
        if (p->tok.kind == T_NOT) {
                if (c->binds)
                        return FAIL(p, "a negated condition cannot bind a claim");
                c->negated = true;
                if ((r = next(p)) < 0)
                        return r;
        }
        rule->n_conds++; /* owned from here (tests freed with the rule) */
        if ((r = expect(p, T_LBRACK, "'[' to open a condition")) < 0)
                return r;
        for (;;) {
                if (c->n_tests == CP_MAA_POLICY_MAX_TESTS)
                        return fail_at(p, p->tok.line, p->tok.col, CP_ETOOBIG, "more than %u tests in a condition",
                                       CP_MAA_POLICY_MAX_TESTS);
                maa_test *t = &c->tests[c->n_tests];
                unsigned l = p->tok.line, col = p->tok.col;
                if (p->tok.kind != T_IDENT)
                        return FAIL(p, "expected type, value or issuer, found %s", tok_desc(&p->tok));
                if ((r = parse_prop(p, p->tok.text, &t->prop)) < 0 || (r = next(p)) < 0)
                        return r;
                switch (p->tok.kind) {
                case T_EQ: t->op = OP_EQ; break;
                case T_NE: t->op = OP_NE; break;
                case T_LT: t->op = OP_LT; break;
                case T_LE: t->op = OP_LE; break;
                case T_GT: t->op = OP_GT; break;
                case T_GE: t->op = OP_GE; break;
                case T_ASSIGN:
                        return FAIL(p, "'=' in a condition: comparisons use '=='");
                default:
                        return FAIL(p, "expected a comparison operator, found %s", tok_desc(&p->tok));
                }
                unsigned opl = p->tok.line, opc = p->tok.col;
                memset(&t->rhs, 0, sizeof(t->rhs));
                if ((r = next(p)) < 0)
                        return r;
                if ((r = parse_operand(p, rule, rule->n_conds - 1, &t->rhs)) < 0) {
                        operand_clear(&t->rhs);
                        return r;
                }
                c->n_tests++;
                bool ordering = t->op >= OP_LT;
                if (t->prop != PROP_VALUE && ((!t->rhs.is_ref && t->rhs.vtype != CP_MAA_STRING) ||
                                              (t->rhs.is_ref && t->rhs.ref_prop == PROP_VALUE)))
                        return fail_at(p, l, col, CP_EFORMAT, "type and issuer compare with strings only");
                if (ordering && (t->prop != PROP_VALUE ||
                                 (!t->rhs.is_ref && t->rhs.vtype != CP_MAA_INTEGER) ||
                                 (t->rhs.is_ref && t->rhs.ref_prop != PROP_VALUE)))
                        return fail_at(p, opl, opc, CP_EFORMAT, "< <= > >= compare integer values only");
                for (size_t k = 0; k + 1 < c->n_tests; k++)
                        if (c->tests[k].prop == t->prop && c->tests[k].op == OP_EQ && t->op == OP_EQ &&
                            t->prop == PROP_TYPE)
                                return fail_at(p, l, col, CP_EFORMAT, "type tested twice");
                if (p->tok.kind == T_COMMA) {
                        if ((r = next(p)) < 0)
                                return r;
                        continue;
                }
                return expect(p, T_RBRACK, "',' or ']'");
        }
}

static int parse_action(parser *p, maa_rule *rule, bool authorization) {
        maa_action *a = &rule->action;
        unsigned l = p->tok.line, col = p->tok.col;
        int r;
        if (p->tok.kind != T_IDENT)
                return FAIL(p, "expected an action (permit, deny, add, issue), found %s", tok_desc(&p->tok));
        if (is_ident(p, "permit") || is_ident(p, "deny")) {
                if (!authorization)
                        return FAIL(p, "%s() is only allowed in authorizationrules", p->tok.text);
                a->kind = is_ident(p, "permit") ? ACT_PERMIT : ACT_DENY;
                if ((r = next(p)) < 0 || (r = expect(p, T_LPAREN, "'('")) < 0)
                        return r;
                return expect(p, T_RPAREN, "')' (permit and deny take no arguments)");
        }
        if (is_ident(p, "issue")) {
                if (authorization)
                        return FAIL(p, "issue() is only allowed in issuancerules");
                a->kind = ACT_ISSUE;
        } else if (is_ident(p, "add"))
                a->kind = ACT_ADD;
        else
                return FAIL(p, "unknown action \"%s\"", p->tok.text);
        if ((r = next(p)) < 0 || (r = expect(p, T_LPAREN, "'('")) < 0)
                return r;
        bool has_type = false, has_value = false, has_claim = false;
        for (;;) {
                if (p->tok.kind != T_IDENT)
                        return FAIL(p, "expected an argument name (type, value, claim), found %s", tok_desc(&p->tok));
                unsigned al = p->tok.line, ac = p->tok.col;
                if (is_ident(p, "claim")) {
                        if (a->kind != ACT_ISSUE || has_claim)
                                return FAIL(p, "claim= is allowed once and in issue() only");
                        has_claim = true;
                        if ((r = next(p)) < 0 || (r = expect(p, T_ASSIGN, "'='")) < 0)
                                return r;
                        size_t k;
                        if (p->tok.kind != T_IDENT)
                                return FAIL(p, "claim= needs a claim variable");
                        for (k = 0; k < rule->n_conds; k++)
                                if (rule->conds[k].binds && strcmp(rule->conds[k].var, p->tok.text) == 0)
                                        break;
                        if (k == rule->n_conds)
                                return FAIL(p, "\"%s\" is not a bound claim variable", p->tok.text);
                        a->claim_cond = (unsigned) k;
                        if ((r = next(p)) < 0)
                                return r;
                } else if (is_ident(p, "type") || is_ident(p, "value")) {
                        bool is_type = is_ident(p, "type");
                        if (is_type ? has_type : has_value)
                                return FAIL(p, "%s= given twice", p->tok.text);
                        if ((r = next(p)) < 0 || (r = expect(p, T_ASSIGN, "'='")) < 0)
                                return r;
                        maa_operand *o = is_type ? &a->type : &a->value;
                        if ((r = parse_operand(p, rule, rule->n_conds, o)) < 0)
                                return r;
                        if (is_type) {
                                has_type = true;
                                if ((!o->is_ref && o->vtype != CP_MAA_STRING) ||
                                    (o->is_ref && o->ref_prop == PROP_VALUE))
                                        return fail_at(p, al, ac, CP_EFORMAT, "type= must be a string");
                        } else
                                has_value = true;
                } else
                        return FAIL(p, "unknown argument \"%s\"", p->tok.text);
                if (p->tok.kind == T_COMMA) {
                        if ((r = next(p)) < 0)
                                return r;
                        continue;
                }
                break;
        }
        if (has_claim) {
                if (has_type || has_value)
                        return fail_at(p, l, col, CP_EFORMAT, "issue(claim=...) takes no type= or value=");
                a->kind = ACT_ISSUE_CLAIM;
        } else if (!has_type || !has_value)
                return fail_at(p, l, col, CP_EFORMAT, "%s() needs type= and value=",
                               a->kind == ACT_ADD ? "add" : "issue");
        return expect(p, T_RPAREN, "')' or ','");
}

static void rule_clear(maa_rule *rule) {
        for (size_t k = 0; k < rule->n_conds; k++)
                for (size_t t = 0; t < rule->conds[k].n_tests; t++)
                        operand_clear(&rule->conds[k].tests[t].rhs);
        free(rule->conds);
        operand_clear(&rule->action.type);
        operand_clear(&rule->action.value);
        memset(rule, 0, sizeof(*rule));
}

static int parse_rule(parser *p, maa_rule *rule, bool authorization) {
        int r;
        rule->line = p->tok.line;
        rule->conds = calloc(CP_MAA_POLICY_MAX_CONDS, sizeof(*rule->conds));
        if (!rule->conds)
                return cp_error_oom();
        if (p->tok.kind != T_ARROW)
                for (;;) {
                        if (rule->n_conds == CP_MAA_POLICY_MAX_CONDS)
                                return fail_at(p, p->tok.line, p->tok.col, CP_ETOOBIG,
                                               "more than %u conditions in a rule", CP_MAA_POLICY_MAX_CONDS);
                        if ((r = parse_cond(p, rule)) < 0)
                                return r;
                        if (p->tok.kind != T_AND)
                                break;
                        if ((r = next(p)) < 0)
                                return r;
                }
        if ((r = expect(p, T_ARROW, "'&&' or '=>'")) < 0 || (r = parse_action(p, rule, authorization)) < 0)
                return r;
        return expect(p, T_SEMI, "';' after the action");
}

static int parse_section(parser *p, maa_rule **rules, size_t *n, bool authorization) {
        int r;
        if ((r = next(p)) < 0 || (r = expect(p, T_LBRACE, "'{'")) < 0)
                return r;
        while (p->tok.kind != T_RBRACE) {
                if (p->tok.kind == T_EOF)
                        return FAIL(p, "unterminated rules section (missing '}')");
                if (*n == CP_MAA_POLICY_MAX_RULES)
                        return fail_at(p, p->tok.line, p->tok.col, CP_ETOOBIG, "more than %u rules",
                                       CP_MAA_POLICY_MAX_RULES);
                if (*n % 16 == 0) {
                        maa_rule *nr = realloc(*rules, (*n + 16) * sizeof(**rules));
                        if (!nr)
                                return cp_error_oom();
                        *rules = nr;
                }
                memset(&(*rules)[*n], 0, sizeof(**rules));
                (*n)++;
                if ((r = parse_rule(p, &(*rules)[*n - 1], authorization)) < 0)
                        return r;
        }
        if ((r = next(p)) < 0)
                return r;
        return expect(p, T_SEMI, "';' after '}'");
}

cp_maa_policy *cp_maa_policy_free(cp_maa_policy *pol) {
        if (!pol)
                return NULL;
        for (size_t i = 0; i < pol->n_auth; i++)
                rule_clear(&pol->auth[i]);
        for (size_t i = 0; i < pol->n_iss; i++)
                rule_clear(&pol->iss[i]);
        free(pol->auth);
        free(pol->iss);
        free(pol);
        return NULL;
}
CP_DEFINE_FREEP(cp_maa_policy, cp_maa_policy_free)

static int parse_policy(parser *p, cp_maa_policy *pol) {
        int r;
        bool seen_auth = false, seen_iss = false;
        if ((r = next(p)) < 0)
                return r;
        if (!is_ident(p, "version"))
                return FAIL(p, "a policy starts with \"version=1.0;\"");
        if ((r = next(p)) < 0 || (r = expect(p, T_ASSIGN, "'='")) < 0)
                return r;
        if (p->tok.kind != T_DECIMAL)
                return FAIL(p, "expected a version number such as 1.0");
        if (strcmp(p->tok.text, "1.0") != 0)
                return fail_at(p, p->tok.line, p->tok.col, CP_EUNSUPPORTED, "policy version %s is not supported (1.0)",
                               p->tok.text);
        if ((r = next(p)) < 0 || (r = expect(p, T_SEMI, "';' after the version")) < 0)
                return r;
        while (p->tok.kind != T_EOF) {
                if (is_ident(p, "authorizationrules")) {
                        if (seen_auth)
                                return FAIL(p, "authorizationrules given twice");
                        if (seen_iss)
                                return FAIL(p, "authorizationrules must come before issuancerules");
                        seen_auth = true;
                        if ((r = parse_section(p, &pol->auth, &pol->n_auth, true)) < 0)
                                return r;
                } else if (is_ident(p, "issuancerules")) {
                        if (seen_iss)
                                return FAIL(p, "issuancerules given twice");
                        seen_iss = true;
                        if ((r = parse_section(p, &pol->iss, &pol->n_iss, false)) < 0)
                                return r;
                } else if (is_ident(p, "configurationrules"))
                        return fail_at(p, p->tok.line, p->tok.col, CP_EUNSUPPORTED,
                                       "configurationrules need policy version 1.1");
                else
                        return FAIL(p, "expected authorizationrules or issuancerules, found %s", tok_desc(&p->tok));
        }
        if (!seen_auth)
                return FAIL(p, "the policy has no authorizationrules section");
        return 0;
}

int cp_maa_policy_parse(const char *text, size_t len, cp_maa_policy **ret, cp_maa_parse_error *ret_err) {
        _cleanup_(cp_maa_policy_freep) cp_maa_policy *pol = NULL;
        parser p = { .line = 1, .col = 1, .err = ret_err };
        int r;

        if (ret_err)
                memset(ret_err, 0, sizeof(*ret_err));
        if (!text)
                return CP_ERROR(CP_EINVAL, "no policy text");
        if (len > CP_MAA_POLICY_MAX)
                return fail_at(&p, 1, 1, CP_ETOOBIG, "policy of %zu bytes exceeds %u", len, CP_MAA_POLICY_MAX);
        if (memchr(text, '\0', len))
                return fail_at(&p, 1, 1, CP_EFORMAT, "policy contains a NUL byte");
        pol = calloc(1, sizeof(*pol));
        if (!pol)
                return cp_error_oom();
        p.c = cp_cursor_make(text, len);
        r = parse_policy(&p, pol);
        free(p.tok.text);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(pol);
        return 0;
}

size_t cp_maa_policy_n_authorization_rules(const cp_maa_policy *pol) {
        return pol ? pol->n_auth : 0;
}

size_t cp_maa_policy_n_issuance_rules(const cp_maa_policy *pol) {
        return pol ? pol->n_iss : 0;
}
