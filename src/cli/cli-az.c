/* SPDX-License-Identifier: Apache-2.0 */
/* Plumbing of the az-compatible commands: see cli-az.h and docs/cli.md. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "basic/cleanup.h"
#include "basic/fileio.h"
#include "basic/secure.h"
#include "cli/cli-az.h"
#include "confpool/error.h"

/* ---- messages ----------------------------------------------------------- */

void cp_az_error(const char *fmt, ...) {
        va_list ap;
        fflush(stdout);
        fputs("ERROR: ", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
}

int cp_az_usage_error(const char *fmt, ...) {
        va_list ap;
        fflush(stdout);
        fputs("ERROR: ", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
        return CP_EXIT_USAGE;
}

void cp_az_warn(const cp_az_ctx *ctx, const char *fmt, ...) {
        va_list ap;
        if (ctx && ctx->only_show_errors)
                return;
        fputs("WARNING: ", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
}

void cp_az_debug(const cp_az_ctx *ctx, const char *fmt, ...) {
        va_list ap;
        if (!ctx || !ctx->debug)
                return;
        fputs("DEBUG: ", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
}

/* ---- argument tables ------------------------------------------------------ */

static const char *const output_choices[] = { "json", "jsonc", "none", "table", "tsv", "yaml", "yamlc", NULL };

static const cp_az_arg global_args[] = {
        { "--debug", CP_AZ_FLAG, false, NULL, NULL, "Increase logging verbosity to show all debug logs." },
        { "--help -h", CP_AZ_FLAG, false, NULL, NULL, "Show this help message and exit." },
        { "--only-show-errors", CP_AZ_FLAG, false, NULL, NULL, "Only show errors, suppressing warnings." },
        { "--output -o", CP_AZ_STR, false, "json", output_choices, "Output format." },
        { "--query", CP_AZ_STR, false, NULL, NULL,
          "JMESPath query string. See http://jmespath.org/ for more information and examples." },
        { "--subscription", CP_AZ_STR, false, NULL, NULL,
          "ID of subscription. You can configure the default subscription using `confpool login --subscription ID`." },
        { "--verbose", CP_AZ_FLAG, false, NULL, NULL, "Increase logging verbosity. Use --debug for full debug logs." },
};
#define N_GLOBAL CP_ELEMENTSOF(global_args)

/* Does the space-separated name list contain name? */
static bool names_have(const char *names, const char *name, size_t name_len) {
        const char *p = names;
        while (*p) {
                size_t l = strcspn(p, " ");
                if (l == name_len && strncmp(p, name, l) == 0)
                        return true;
                p += l;
                while (*p == ' ')
                        p++;
        }
        return false;
}

/* "--name --nodepool-name -n" -> "--name/--nodepool-name/-n" */
static void names_slash(const char *names, char *buf, size_t size) {
        size_t i = 0;
        for (; names[i] && i + 1 < size; i++)
                buf[i] = names[i] == ' ' ? '/' : names[i];
        buf[i] = 0;
}

static size_t canonical_len(const char *names) {
        return strcspn(names, " ");
}

static bool looks_like_flag(const char *s) {
        if (s[0] != '-' || s[1] == 0)
                return false;
        /* a negative number is a value, as in argparse */
        char *end;
        errno = 0;
        (void) strtod(s, &end);
        return !(end != s && *end == 0);
}

const cp_az_val *cp_az_get(const cp_az_ctx *ctx, const char *name) {
        static const cp_az_val unset;
        size_t nl = strlen(name);
        for (size_t i = 0; i < ctx->cmd->n_args; i++)
                if (canonical_len(ctx->cmd->args[i].names) == nl && !strncmp(ctx->cmd->args[i].names, name, nl))
                        return &ctx->vals[i];
        return &unset;
}

const char *cp_az_str(const cp_az_ctx *ctx, const char *name) {
        const cp_az_val *v = cp_az_get(ctx, name);
        return v->set ? v->str : NULL;
}

bool cp_az_flag(const cp_az_ctx *ctx, const char *name) {
        return cp_az_get(ctx, name)->set;
}

bool cp_az_given(const cp_az_ctx *ctx, const char *name) {
        return cp_az_get(ctx, name)->given;
}

/* Store text into v per the arg's type; prints argparse's error. */
static int store_value(const cp_az_arg *a, cp_az_val *v, const char *text) {
        char nm[160];
        names_slash(a->names, nm, sizeof nm);
        if (a->choices) {
                const char *match = NULL;
                for (size_t i = 0; a->choices[i]; i++)
                        if (strcasecmp(a->choices[i], text) == 0)
                                match = a->choices[i];
                if (!match) {
                        fflush(stdout);
                        fprintf(stderr, "ERROR: argument %s: invalid choice: '%s' (choose from ", nm, text);
                        for (size_t i = 0; a->choices[i]; i++)
                                fprintf(stderr, "%s'%s'", i ? ", " : "", a->choices[i]);
                        fputs(")\n", stderr);
                        return -1;
                }
                text = match;
        }
        char *end;
        errno = 0;
        switch (a->type) {
        case CP_AZ_INT:
                v->num = strtoll(text, &end, 10);
                if (errno || end == text || *end) {
                        cp_az_error("argument %s: invalid int value: '%s'", nm, text);
                        return -1;
                }
                break;
        case CP_AZ_FLOAT:
                v->real = strtod(text, &end);
                if (errno || end == text || *end) {
                        cp_az_error("argument %s: invalid float value: '%s'", nm, text);
                        return -1;
                }
                break;
        default:
                break;
        }
        v->str = text;
        v->set = true;
        return 0;
}

void cp_az_ctx_done(cp_az_ctx *ctx) {
        if (!ctx)
                return;
        for (size_t i = 0; i < CP_AZ_MAX_ARGS; i++) {
                free(ctx->vals[i].list);
                ctx->vals[i].list = NULL;
        }
        ctx->query = cp_jmespath_free(ctx->query);
        cp_az_conn_clear(&ctx->conn);
}

/* The name part of a flag token and its attached value: "--name=value",
 * "-nvalue", "-n=value". */
static size_t split_flag(const char *tok, const char **ret_attached) {
        *ret_attached = NULL;
        if (tok[1] == '-') {
                const char *eq = strchr(tok, '=');
                *ret_attached = eq ? eq + 1 : NULL;
                return eq ? (size_t) (eq - tok) : strlen(tok);
        }
        if (tok[2])
                *ret_attached = tok[2] == '=' ? tok + 3 : tok + 2;
        return 2;
}

/* The command's argument named by tok, else the global one; NULL if none. */
static const cp_az_arg *find_arg(cp_az_ctx *ctx, cp_az_val *gvals, const char *tok, size_t nl, cp_az_val **ret) {
        const cp_az_cmd *cmd = ctx->cmd;
        for (size_t k = 0; k < cmd->n_args; k++)
                if (names_have(cmd->args[k].names, tok, nl)) {
                        *ret = &ctx->vals[k];
                        return &cmd->args[k];
                }
        for (size_t k = 0; k < N_GLOBAL; k++)
                if (names_have(global_args[k].names, tok, nl)) {
                        *ret = &gvals[k];
                        return &global_args[k];
                }
        return NULL;
}

/* A list argument: the attached value and every following non-flag token. */
static int take_list(const char *nm, cp_az_val *v, const char *attached, int argc, char **argv, int *i) {
        free(v->list);
        v->list = calloc((size_t) argc, sizeof(char *));
        v->n_list = 0;
        if (!v->list) {
                cp_az_error("out of memory");
                return -1;
        }
        if (attached)
                v->list[v->n_list++] = (char *) attached;
        while (*i + 1 < argc && !looks_like_flag(argv[*i + 1]))
                v->list[v->n_list++] = argv[++*i];
        if (v->n_list == 0) {
                cp_az_error("argument %s: expected at least one argument", nm);
                return -1;
        }
        v->set = v->given = true;
        v->str = v->list[0];
        return 0;
}

/* The flag at argv[*i] (and its values, *i moved past them): 0, 1 for
 * --help (printed), -1 after printing an error, 2 if it is not ours. */
static int take_flag(cp_az_ctx *ctx, cp_az_val *gvals, int argc, char **argv, int *i) {
        const char *tok = argv[*i], *attached;
        size_t nl = split_flag(tok, &attached);
        cp_az_val *v = NULL;
        const cp_az_arg *a = find_arg(ctx, gvals, tok, nl, &v);
        if (!a)
                return 2;
        if (a == &global_args[1]) { /* --help */
                cp_az_print_help(stdout, ctx->cmd);
                return 1;
        }
        char nm[160];
        names_slash(a->names, nm, sizeof nm);
        if (a->type == CP_AZ_FLAG) {
                if (attached) {
                        cp_az_error("argument %s: ignored explicit argument '%s'", nm, attached);
                        return -1;
                }
                v->set = v->given = true;
                return 0;
        }
        if (a->type == CP_AZ_LIST)
                return take_list(nm, v, attached, argc, argv, i);
        const char *val = attached;
        if (!val) {
                if (*i + 1 >= argc || looks_like_flag(argv[*i + 1])) {
                        cp_az_error("argument %s: expected one argument", nm);
                        return -1;
                }
                val = argv[++*i];
        }
        if (store_value(a, v, val) < 0)
                return -1;
        v->given = true;
        return 0;
}

/* Required arguments, in table order (argparse), then unrecognized ones. */
static int check_given(const cp_az_ctx *ctx, char **unrec, size_t n_unrec) {
        const cp_az_cmd *cmd = ctx->cmd;
        char missing[1024] = "";
        size_t off = 0;
        for (size_t k = 0; k < cmd->n_args; k++) {
                if (!cmd->args[k].required || ctx->vals[k].given)
                        continue;
                char nm[160];
                names_slash(cmd->args[k].names, nm, sizeof nm);
                int n = snprintf(missing + off, sizeof missing - off, "%s%s", off ? ", " : "", nm);
                if (n > 0 && (size_t) n < sizeof missing - off)
                        off += (size_t) n;
        }
        if (off) {
                cp_az_error("the following arguments are required: %s", missing);
                return -1;
        }
        if (n_unrec) {
                fflush(stdout);
                fputs("ERROR: unrecognized arguments:", stderr);
                for (size_t k = 0; k < n_unrec; k++)
                        fprintf(stderr, " %s", unrec[k]);
                fputc('\n', stderr);
                return -1;
        }
        return 0;
}

/* Defaults of what was not given, then the globals: debug, help,
 * only-show-errors, output, query, subscription, verbose. */
static int apply_defaults_and_globals(cp_az_ctx *ctx, const cp_az_val *gvals) {
        const cp_az_cmd *cmd = ctx->cmd;
        for (size_t k = 0; k < cmd->n_args; k++)
                if (!ctx->vals[k].set && cmd->args[k].def && cmd->args[k].type != CP_AZ_FLAG &&
                    cmd->args[k].type != CP_AZ_LIST) {
                        if (store_value(&cmd->args[k], &ctx->vals[k], cmd->args[k].def) < 0)
                                return -1;
                }
        ctx->debug = gvals[0].set;
        ctx->only_show_errors = gvals[2].set;
        if (gvals[3].set && cp_azout_format_from_string(gvals[3].str, &ctx->format) < 0) {
                cp_az_error("argument --output/-o: invalid choice: '%s'", gvals[3].str);
                return -1;
        }
        if (gvals[4].set) {
                if (cp_jmespath_compile(gvals[4].str, &ctx->query) < 0) {
                        cp_az_error("argument --query: invalid jmespath_type value: '%s'", gvals[4].str);
                        cp_az_debug(ctx, "%s", cp_error_message());
                        return -1;
                }
        }
        ctx->subscription_arg = gvals[5].set ? gvals[5].str : NULL;
        ctx->verbose = gvals[6].set || ctx->debug;
        return 0;
}

int cp_az_parse(const cp_az_cmd *cmd, int argc, char **argv, cp_az_ctx *ctx) {
        cp_az_val gvals[N_GLOBAL];
        _cleanup_free_ char **unrec = calloc((size_t) argc + 1, sizeof(char *));
        size_t n_unrec = 0;

        memset(ctx, 0, sizeof *ctx);
        memset(gvals, 0, sizeof gvals);
        ctx->cmd = cmd;
        ctx->format = CP_AZOUT_JSON;
        if (!unrec || cmd->n_args > CP_AZ_MAX_ARGS) {
                cp_az_error("out of memory");
                return -1;
        }
        for (int i = 1; i < argc; i++) {
                int r = looks_like_flag(argv[i]) ? take_flag(ctx, gvals, argc, argv, &i) : 2;
                if (r == 2)
                        unrec[n_unrec++] = argv[i];
                else if (r != 0)
                        return r;
        }
        if (check_given(ctx, unrec, n_unrec) < 0)
                return -1;
        return apply_defaults_and_globals(ctx, gvals);
}

/* ---- help ------------------------------------------------------------------ */

static void help_arg(FILE *f, const cp_az_arg *a, int width) {
        fprintf(f, "    %-*s %s : %s", width, a->names, a->required ? "[Required]" : "          ", a->help ? a->help : "");
        if (a->choices) {
                fputs("  Allowed values: ", f);
                for (size_t i = 0; a->choices[i]; i++)
                        fprintf(f, "%s%s", i ? ", " : "", a->choices[i]);
                fputc('.', f);
        }
        if (a->def)
                fprintf(f, "  Default: %s.", a->def);
        fputc('\n', f);
}

static int cmp_arg(const void *x, const void *y) {
        const cp_az_arg *a = *(const cp_az_arg *const *) x, *b = *(const cp_az_arg *const *) y;
        if (a->required != b->required)
                return a->required ? -1 : 1;
        return strcmp(a->names, b->names);
}

void cp_az_print_help(FILE *f, const cp_az_cmd *cmd) {
        int width = 0;
        const cp_az_arg *sorted[CP_AZ_MAX_ARGS];
        size_t n = cmd->n_args < CP_AZ_MAX_ARGS ? cmd->n_args : CP_AZ_MAX_ARGS;
        for (size_t i = 0; i < n; i++) {
                sorted[i] = &cmd->args[i];
                if ((int) strlen(cmd->args[i].names) > width)
                        width = (int) strlen(cmd->args[i].names);
        }
        for (size_t i = 0; i < N_GLOBAL; i++)
                if ((int) strlen(global_args[i].names) > width)
                        width = (int) strlen(global_args[i].names);
        qsort(sorted, n, sizeof sorted[0], cmp_arg);
        fprintf(f, "\nCommand\n    confpool %s : %s\n", cmd->name, cmd->summary);
        if (n) {
                fputs("\nArguments\n", f);
                for (size_t i = 0; i < n; i++)
                        help_arg(f, sorted[i], width);
        }
        fputs("\nGlobal Arguments\n", f);
        for (size_t i = 0; i < N_GLOBAL; i++)
                help_arg(f, &global_args[i], width);
        if (cmd->examples)
                fprintf(f, "\nExamples\n%s", cmd->examples);
        fputc('\n', f);
}

static void group_help(FILE *f, const cp_az_group *g) {
        int width = 0;
        for (size_t i = 0; i < g->n_entries; i++)
                if ((int) strlen(g->entries[i].name) > width)
                        width = (int) strlen(g->entries[i].name);
        fprintf(f, "\nGroup\n    confpool %s : %s\n", g->name, g->summary);
        for (int pass = 0; pass < 2; pass++) {
                bool any = false;
                for (size_t i = 0; i < g->n_entries; i++) {
                        const cp_az_entry *e = &g->entries[i];
                        if ((pass == 0) != (e->group != NULL))
                                continue;
                        if (!any)
                                fputs(pass == 0 ? "\nSubgroups:\n" : "\nCommands:\n", f);
                        any = true;
                        fprintf(f, "    %-*s : %s\n", width, e->name, e->group ? e->group->summary : e->cmd->summary);
                }
        }
        fputs("\nFor more specific examples, use: confpool find \"confpool ", f);
        fprintf(f, "%s\"\n\n", g->name);
}

int cp_az_run_group(const cp_az_group *g, int argc, char **argv) {
        if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
                group_help(argc < 2 ? stderr : stdout, g);
                return argc < 2 ? CP_EXIT_USAGE : CP_EXIT_OK;
        }
        for (size_t i = 0; i < g->n_entries; i++) {
                const cp_az_entry *e = &g->entries[i];
                if (strcmp(argv[1], e->name) != 0)
                        continue;
                if (e->group)
                        return cp_az_run_group(e->group, argc - 1, argv + 1);
                cp_az_ctx ctx;
                int r = cp_az_parse(e->cmd, argc - 1, argv + 1, &ctx);
                if (r == 0)
                        r = e->fn(&ctx);
                else
                        r = r > 0 ? CP_EXIT_OK : CP_EXIT_USAGE;
                fflush(stdout);
                cp_az_ctx_done(&ctx);
                return r;
        }
        cp_az_error("'%s' is misspelled or not recognized by the system.", argv[1]);
        fprintf(stderr, "\nExamples from AI knowledge base:\nconfpool %s --help\n", g->name);
        return CP_EXIT_USAGE;
}

/* ---- configuration ----------------------------------------------------------- */

int cp_az_config_dir(char *buf, size_t size) {
        const char *d = getenv("CONFPOOL_CONFIG_DIR");
        int n;
        if (d && *d)
                n = snprintf(buf, size, "%s", d);
        else {
                const char *home = getenv("HOME");
                if (!home || !*home)
                        return CP_ERROR(CP_EINVAL, "neither CONFPOOL_CONFIG_DIR nor HOME is set");
                n = snprintf(buf, size, "%s/.confpool", home);
        }
        if (n < 0 || (size_t) n >= size)
                return CP_ERROR(CP_ETOOBIG, "configuration directory path too long");
        return 0;
}

static bool is_ws(char c) {
        return c == ' ' || c == '\t' || c == '\r';
}

/* Calls fn for each line with its section; stops when fn returns true. */
typedef struct cfg_line {
        const char *start;   /* the line */
        size_t len;          /* without '\n' */
        char section[64];
        bool is_header;
        const char *key, *value;
        size_t key_len, value_len;
} cfg_line;

static bool cfg_next(const char **p, cfg_line *l) {
        if (!**p)
                return false;
        l->start = *p;
        const char *nl = strchr(*p, '\n');
        l->len = nl ? (size_t) (nl - *p) : strlen(*p);
        *p = nl ? nl + 1 : *p + l->len;
        l->is_header = false;
        l->key = l->value = NULL;
        l->key_len = l->value_len = 0;
        const char *s = l->start, *e = l->start + l->len;
        while (s < e && is_ws(*s))
                s++;
        while (e > s && is_ws(e[-1]))
                e--;
        if (s < e && *s == '[' && e[-1] == ']') {
                size_t n = (size_t) (e - s - 2);
                if (n >= sizeof l->section)
                        n = sizeof l->section - 1;
                memcpy(l->section, s + 1, n);
                l->section[n] = 0;
                l->is_header = true;
                return true;
        }
        if (s == e || *s == '#' || *s == ';')
                return true;
        const char *eq = memchr(s, '=', (size_t) (e - s));
        if (!eq)
                return true;
        const char *ke = eq;
        while (ke > s && is_ws(ke[-1]))
                ke--;
        const char *vs = eq + 1;
        while (vs < e && is_ws(*vs))
                vs++;
        l->key = s;
        l->key_len = (size_t) (ke - s);
        l->value = vs;
        l->value_len = (size_t) (e - vs);
        return true;
}

char *cp_az_config_get(const char *text, const char *section, const char *key) {
        cfg_line l = { .section = "" };
        const char *p = text ? text : "";
        char *found = NULL;
        while (cfg_next(&p, &l)) {
                if (l.key && strcmp(l.section, section) == 0 && l.key_len == strlen(key) &&
                    strncmp(l.key, key, l.key_len) == 0) {
                        free(found);
                        found = strndup(l.value, l.value_len);
                }
        }
        return found;
}

char *cp_az_config_set(const char *text, const char *section, const char *key, const char *value) {
        char *out = NULL;
        size_t out_len = 0;
        FILE *f = open_memstream(&out, &out_len);
        if (!f)
                return NULL;
        cfg_line l = { .section = "" };
        const char *p = text ? text : "";
        bool done = false, in_section = false;
        while (cfg_next(&p, &l)) {
                if (l.is_header) {
                        if (in_section && !done && value) {
                                fprintf(f, "%s = %s\n", key, value);
                                done = true;
                        }
                        in_section = strcmp(l.section, section) == 0;
                }
                if (l.key && in_section && l.key_len == strlen(key) && strncmp(l.key, key, l.key_len) == 0) {
                        if (!done && value)
                                fprintf(f, "%s = %s\n", key, value);
                        done = true;
                        continue;
                }
                fwrite(l.start, 1, l.len, f);
                fputc('\n', f);
        }
        if (!done && value) {
                if (!in_section)
                        fprintf(f, "[%s]\n", section);
                fprintf(f, "%s = %s\n", key, value);
        }
        if (fclose(f) != 0) {
                free(out);
                return NULL;
        }
        return out;
}

void cp_az_conn_clear(cp_az_conn *c) {
        if (!c)
                return;
        free(c->endpoint);
        if (c->token) {
                cp_wipe(c->token, strlen(c->token));
                free(c->token);
        }
        free(c->ca_file);
        free(c->subscription);
        memset(c, 0, sizeof *c);
}

static char *env_dup(const char *name) {
        const char *v = getenv(name);
        return v && *v ? strdup(v) : NULL;
}

static int read_token_file(const char *path, char **ret) {
        uint8_t *data = NULL;
        size_t len = 0;
        int r = cp_read_file(path, 64 * 1024, &data, &len);
        if (r < 0)
                return r;
        while (len && isspace(data[len - 1]))
                len--;
        size_t s = 0;
        while (s < len && isspace(data[s]))
                s++;
        bool ok = len > s;
        for (size_t i = s; i < len; i++)
                if (data[i] < 0x21 || data[i] > 0x7e)
                        ok = false;
        char *t = ok ? strndup((const char *) data + s, len - s) : NULL;
        cp_wipe(data, len);
        free(data);
        if (!ok)
                return CP_ERROR(CP_EFORMAT, "token file %s is empty or holds characters not allowed in a bearer token",
                                path);
        if (!t)
                return cp_error_oom();
        *ret = t;
        return 0;
}

static bool is_guid(const char *s) {
        static const char pat[] = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";
        if (strlen(s) != sizeof pat - 1)
                return false;
        for (size_t i = 0; pat[i]; i++)
                if (pat[i] == '-' ? s[i] != '-' : !isxdigit((unsigned char) s[i]))
                        return false;
        return true;
}

int cp_az_load_conn(const char *subscription_arg, cp_az_conn *ret) {
        char dir[4096], path[4200];
        _cleanup_free_ uint8_t *text = NULL;
        size_t len = 0;
        cp_az_conn c = { 0 };
        int r;

        if ((r = cp_az_config_dir(dir, sizeof dir)) < 0)
                return r;
        snprintf(path, sizeof path, "%s/config", dir);
        r = cp_read_file(path, 256 * 1024, &text, &len);
        if (r < 0 && r != CP_ENOTFOUND && r != CP_EIO)
                return r;
        cp_error_clear();
        const char *t = text ? (const char *) text : "";

        c.endpoint = env_dup("CONFPOOL_ENDPOINT");
        if (!c.endpoint)
                c.endpoint = cp_az_config_get(t, "cloud", "endpoint");
        c.ca_file = env_dup("CONFPOOL_CA_FILE");
        if (!c.ca_file)
                c.ca_file = cp_az_config_get(t, "cloud", "ca_file");
        c.subscription = subscription_arg ? strdup(subscription_arg) : env_dup("CONFPOOL_SUBSCRIPTION");
        if (!c.subscription)
                c.subscription = cp_az_config_get(t, "defaults", "subscription");
        if (!c.subscription)
                c.subscription = strdup(CP_AZ_DEFAULT_SUBSCRIPTION);
        const char *tok = getenv("CONFPOOL_TOKEN");
        if (tok && *tok) {
                c.token = strdup(tok);
        } else {
                _cleanup_free_ char *tf = env_dup("CONFPOOL_TOKEN_FILE");
                if (!tf)
                        tf = cp_az_config_get(t, "auth", "token_file");
                if (tf && (r = read_token_file(tf, &c.token)) < 0) {
                        cp_az_conn_clear(&c);
                        return r;
                }
        }
        if (!c.endpoint) {
                cp_az_conn_clear(&c);
                return CP_ERROR(CP_ENOTFOUND, "Please run 'confpool login' to setup account.");
        }
        size_t el = strlen(c.endpoint);
        while (el && c.endpoint[el - 1] == '/')
                c.endpoint[--el] = 0;
        if (strncasecmp(c.endpoint, "https://", 8) != 0 && strncasecmp(c.endpoint, "http://", 7) != 0) {
                r = CP_ERROR(CP_EINVAL, "The endpoint '%s' is not an http(s) URL.", c.endpoint);
                cp_az_conn_clear(&c);
                return r;
        }
        if (!c.token) {
                cp_az_conn_clear(&c);
                return CP_ERROR(CP_ENOTFOUND, "No access token configured. Please run 'confpool login' to setup account.");
        }
        if (!is_guid(c.subscription)) {
                r = CP_ERROR(CP_EINVAL, "Subscription '%s' not found. Check the spelling and casing and try again.",
                             c.subscription);
                cp_az_conn_clear(&c);
                return r;
        }
        *ret = c;
        return 0;
}

int cp_az_connect(cp_az_ctx *ctx) {
        if (ctx->connected)
                return 0;
        if (cp_az_load_conn(ctx->subscription_arg, &ctx->conn) < 0) {
                cp_az_error("%s", cp_error_message());
                return CP_EXIT_FAILURE;
        }
        ctx->connected = true;
        cp_az_debug(ctx, "endpoint %s, subscription %s", ctx->conn.endpoint, ctx->conn.subscription);
        return 0;
}

/* ---- HTTP ------------------------------------------------------------------------ */

char *cp_az_escape(const char *s) {
        size_t n = strlen(s);
        char *o = malloc(3 * n + 1), *q = o;
        if (!o)
                return NULL;
        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char) s[i];
                if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || c == '(' || c == ')')
                        *q++ = (char) c;
                else
                        q += sprintf(q, "%%%02X", c);
        }
        *q = 0;
        return o;
}

char *cp_az_url(const cp_az_ctx *ctx, const char *path, const char *api_version, const char *extra_query) {
        char *u = NULL;
        if (asprintf(&u, "%s/subscriptions/%s%s?api-version=%s%s%s", ctx->conn.endpoint, ctx->conn.subscription, path,
                     api_version, extra_query ? "&" : "", extra_query ? extra_query : "") < 0)
                return NULL;
        return u;
}

/* URLs from the server (LRO, nextLink) must stay on the configured endpoint:
 * the bearer token is never sent elsewhere. */
static bool same_origin(const cp_az_ctx *ctx, const char *url) {
        size_t n = strlen(ctx->conn.endpoint);
        return strncasecmp(url, ctx->conn.endpoint, n) == 0 && url[n] == '/';
}

int cp_az_call(cp_az_ctx *ctx, const char *method, const char *url, json_t *body, const char *const *headers,
               cp_httpc_response *ret, json_t **ret_json) {
        _cleanup_free_ char *text = NULL;
        memset(ret, 0, sizeof *ret);
        if (ret_json)
                *ret_json = NULL;
        if (!url) {
                cp_az_error("out of memory");
                return CP_EXIT_FAILURE;
        }
        if (!same_origin(ctx, url)) {
                cp_az_error("refusing to follow '%s': not on the configured endpoint %s", url, ctx->conn.endpoint);
                return CP_EXIT_FAILURE;
        }
        if (body) {
                text = json_dumps(body, JSON_COMPACT);
                if (!text) {
                        cp_az_error("out of memory");
                        return CP_EXIT_FAILURE;
                }
        }
        cp_httpc_options o = { .ca_file = ctx->conn.ca_file, .bearer = ctx->conn.token, .timeout_ms = 60000 };
        cp_az_debug(ctx, "Request URL: '%s'", url);
        cp_az_debug(ctx, "Request method: '%s'", method);
        cp_az_debug(ctx, "Request headers: 'Authorization': '*****'");
        if (text)
                cp_az_debug(ctx, "Request body: %s", text);
        if (cp_httpc_request(&o, method, url, headers, text, text ? strlen(text) : 0, ret) < 0) {
                cp_az_error("%s", cp_error_message());
                return CP_EXIT_FAILURE;
        }
        cp_az_debug(ctx, "Response status: %ld", ret->status);
        if (ret->body_len)
                cp_az_debug(ctx, "Response content: %s", (const char *) ret->body);
        if (ret_json && ret->body_len) {
                json_error_t je;
                *ret_json = json_loadb((const char *) ret->body, ret->body_len, 0, &je);
        }
        return 0;
}

static const char *reason_phrase(long status) {
        switch (status) {
        case 400: return "Bad Request";
        case 401: return "Unauthorized";
        case 403: return "Forbidden";
        case 404: return "Not Found";
        case 405: return "Method Not Allowed";
        case 409: return "Conflict";
        case 412: return "Precondition Failed";
        case 413: return "Request Entity Too Large";
        case 429: return "Too Many Requests";
        case 500: return "Internal Server Error";
        case 502: return "Bad Gateway";
        case 503: return "Service Unavailable";
        default: return "Unknown";
        }
}

/* Control characters from the server are not echoed raw to the terminal. */
static void put_clean(FILE *f, const char *s) {
        for (; *s; s++) {
                unsigned char c = (unsigned char) *s;
                if (c < 0x20 && c != '\n' && c != '\t')
                        fprintf(f, "\\x%02x", c);
                else if (c == 0x7f)
                        fputs("\\x7f", f);
                else
                        fputc(c, f);
        }
}

static void print_error_lines(FILE *f, const json_t *err, const char *indent) {
        const char *code = json_string_value(json_object_get(err, "code"));
        const char *msg = json_string_value(json_object_get(err, "message"));
        const char *target = json_string_value(json_object_get(err, "target"));
        fprintf(f, "%sCode: ", indent);
        put_clean(f, code ? code : "None");
        fprintf(f, "\n%sMessage: ", indent);
        put_clean(f, msg ? msg : "");
        fputc('\n', f);
        if (target && *target) {
                fprintf(f, "%sTarget: ", indent);
                put_clean(f, target);
                fputc('\n', f);
        }
}

void cp_az_print_arm_error(const json_t *err) {
        const char *code = json_string_value(json_object_get(err, "code"));
        const char *msg = json_string_value(json_object_get(err, "message"));
        fflush(stdout);
        fputs("ERROR: (", stderr);
        put_clean(stderr, code ? code : "None");
        fputs(") ", stderr);
        put_clean(stderr, msg ? msg : "");
        fputc('\n', stderr);
        print_error_lines(stderr, err, "");
        const json_t *details = json_object_get(err, "details");
        size_t i;
        const json_t *d;
        if (json_is_array(details) && json_array_size(details)) {
                fputs("Exception Details:", stderr);
                json_array_foreach(details, i, d) {
                        const char *dc = json_string_value(json_object_get(d, "code"));
                        const char *dm = json_string_value(json_object_get(d, "message"));
                        fputs("\t(", stderr);
                        put_clean(stderr, dc ? dc : "None");
                        fputs(") ", stderr);
                        put_clean(stderr, dm ? dm : "");
                        fputc('\n', stderr);
                        print_error_lines(stderr, d, "\t");
                }
        }
}

int cp_az_service_error(const cp_httpc_response *r, const json_t *body, bool not_found_exit3) {
        /* the spec form {"error": {...}} and AKS's flat form {"code", "message"} */
        const json_t *err = json_object_get(body, "error");
        if (!json_is_object(err))
                err = body;
        if (json_is_object(err) && json_is_string(json_object_get(err, "code")))
                cp_az_print_arm_error(err);
        else
                cp_az_error("Operation returned an invalid status '%s'", reason_phrase(r->status));
        return not_found_exit3 && r->status == 404 ? CP_EXIT_NOT_FOUND : CP_EXIT_FAILURE;
}

/* ---- long-running operations ----------------------------------------------------- */

void cp_az_sleep_ms(long ms) {
        if (ms <= 0)
                return;
        struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

static long poll_delay_ms(const char *retry_after) {
        long cap = 30000, ms = 5000;
        const char *e = getenv("CONFPOOL_POLL_MAX_MS");
        if (e && *e)
                cap = strtol(e, NULL, 10);
        if (retry_after) {
                char *end;
                long v = strtol(retry_after, &end, 10);
                if (end != retry_after && *end == 0 && v >= 0)
                        ms = v > 86400 ? 86400000L : v * 1000;
        }
        if (ms > cap)
                ms = cap;
        return ms < 50 ? 50 : ms;
}

static bool terminal(const char *s) {
        return s && (!strcasecmp(s, "Succeeded") || !strcasecmp(s, "Failed") || !strcasecmp(s, "Canceled"));
}

static const char *prov_state(const json_t *resource) {
        const char *s = json_string_value(json_object_get(json_object_get(resource, "properties"), "provisioningState"));
        return s ? s : json_string_value(json_object_get(resource, "provisioningState"));
}

int cp_az_lro(cp_az_ctx *ctx, const cp_httpc_response *resp, const char *resource_url, cp_az_progress_fn progress,
              void *userdata, json_t **ret_final) {
        _cleanup_free_ char *op_url = resp->async_operation ? strdup(resp->async_operation) : NULL;
        _cleanup_free_ char *loc_url = resp->location ? strdup(resp->location) : NULL;
        _cleanup_free_ char *retry = resp->retry_after ? strdup(resp->retry_after) : NULL;
        json_t *failure = NULL;
        int r = 0;
        time_t deadline = time(NULL) + 2 * 3600;

        *ret_final = NULL;
        if (resp->status == 204 || (!op_url && !loc_url && !resource_url))
                goto done;
        if (!op_url && !loc_url && resp->status == 200) {
                /* synchronous completion unless the body says otherwise */
                json_t *b = NULL;
                json_error_t je;
                if (resp->body_len)
                        b = json_loadb((const char *) resp->body, resp->body_len, 0, &je);
                const char *st = prov_state(b);
                bool fin = !st || terminal(st);
                json_decref(b);
                if (fin)
                        goto done;
        }
        for (;;) {
                if (progress)
                        progress(ctx, userdata, false);
                if (time(NULL) > deadline) {
                        cp_az_error("Long-running operation did not finish within 2 hours.");
                        return CP_EXIT_FAILURE;
                }
                cp_az_sleep_ms(poll_delay_ms(retry));
                cp_httpc_response pr;
                json_t *pj = NULL;
                const char *url = op_url ? op_url : loc_url ? loc_url : resource_url;
                if ((r = cp_az_call(ctx, "GET", url, NULL, NULL, &pr, &pj)) != 0)
                        return r;
                free(retry);
                retry = pr.retry_after ? strdup(pr.retry_after) : NULL;
                bool fin = false;
                if (op_url) {
                        if (pr.status != 200) {
                                r = cp_az_service_error(&pr, pj, false);
                        } else {
                                const char *st = json_string_value(json_object_get(pj, "status"));
                                if (terminal(st)) {
                                        fin = true;
                                        if (strcasecmp(st, "Succeeded") != 0) {
                                                failure = json_incref(json_object_get(pj, "error"));
                                                if (!failure)
                                                        failure = json_pack("{s:s,s:s}", "code", st, "message",
                                                                            "The operation did not succeed.");
                                        }
                                }
                        }
                } else if (loc_url) {
                        if (pr.status == 202)
                                ;
                        else if (pr.status == 200 || pr.status == 204 || pr.status == 201)
                                fin = true;
                        else
                                r = cp_az_service_error(&pr, pj, false);
                } else {
                        if (pr.status != 200) {
                                r = cp_az_service_error(&pr, pj, false);
                        } else {
                                const char *st = prov_state(pj);
                                if (!st || terminal(st)) {
                                        fin = true;
                                        if (st && strcasecmp(st, "Succeeded") != 0)
                                                failure = json_pack("{s:s,s:s}", "code", st, "message",
                                                                    "The operation did not succeed.");
                                }
                        }
                }
                cp_httpc_response_clear(&pr);
                json_decref(pj);
                if (r)
                        return r;
                if (fin)
                        break;
        }
done:
        if (progress)
                progress(ctx, userdata, true);
        if (failure) {
                cp_az_print_arm_error(failure);
                json_decref(failure);
                return CP_EXIT_FAILURE;
        }
        if (resource_url) {
                cp_httpc_response fr;
                json_t *fj = NULL;
                if ((r = cp_az_call(ctx, "GET", resource_url, NULL, NULL, &fr, &fj)) != 0)
                        return r;
                if (fr.status != 200) {
                        r = cp_az_service_error(&fr, fj, false);
                        json_decref(fj);
                } else
                        *ret_final = fj;
                cp_httpc_response_clear(&fr);
                return r;
        }
        return 0;
}

/* ---- output -------------------------------------------------------------------- */

int cp_az_output(cp_az_ctx *ctx, json_t *result, const cp_azout_table_spec *table) {
        json_t *v = result ? json_incref(result) : NULL;
        cp_azout_opts opts = { .query_active = ctx->query != NULL, .color = -1 };
        if (ctx->query && v) {
                json_t *q = NULL;
                if (cp_jmespath_search(ctx->query, v, &q) < 0) {
                        json_decref(v);
                        cp_az_error("%s", cp_error_message());
                        return CP_EXIT_FAILURE;
                }
                json_decref(v);
                v = q;
        }
        int r = cp_azout_print_opts(stdout, v, ctx->format, table, &opts);
        json_decref(v);
        fflush(stdout);
        if (r < 0) {
                cp_az_error("%s", cp_error_message());
                return CP_EXIT_FAILURE;
        }
        return CP_EXIT_OK;
}

bool cp_az_confirm(bool yes, const char *msg, int *ret_exit) {
        if (yes)
                return true;
        if (!isatty(STDIN_FILENO)) {
                cp_az_error("Unable to prompt for confirmation as no tty available. Use --yes.");
                *ret_exit = CP_EXIT_FAILURE;
                return false;
        }
        fprintf(stderr, "%s (y/n): ", msg);
        fflush(stderr);
        char line[32];
        if (!fgets(line, sizeof line, stdin) || (line[0] != 'y' && line[0] != 'Y')) {
                *ret_exit = CP_EXIT_OK;
                return false;
        }
        return true;
}

/* ---- common command shapes --------------------------------------------------- */

const cp_azout_renames cp_az_no_renames = { NULL, 0, NULL, 0 };

int cp_az_parse_tags(const cp_az_val *v, json_t **ret) {
        *ret = NULL;
        if (!v || !v->set)
                return 0;
        json_t *o = json_object();
        if (!o) {
                cp_az_error("out of memory");
                return CP_EXIT_FAILURE;
        }
        for (size_t i = 0; i < v->n_list; i++) {
                const char *t = v->list[i];
                if (!*t && v->n_list == 1)
                        break; /* "" clears */
                const char *eq = strchr(t, '=');
                size_t kl = eq ? (size_t) (eq - t) : strlen(t);
                if (kl == 0) {
                        json_decref(o);
                        return cp_az_usage_error("usage error: --tags: tag key must not be empty in '%s'", t);
                }
                _cleanup_free_ char *k = strndup(t, kl);
                if (!k || json_object_set_new(o, k, json_string(eq ? eq + 1 : "")) < 0) {
                        json_decref(o);
                        return cp_az_usage_error("Invalid tag '%s': tags must be valid UTF-8", t);
                }
        }
        *ret = o;
        return 0;
}

json_t *cp_az_shape(json_t *rest, const cp_azout_renames *flatten) {
        if (!flatten)
                return json_incref(rest);
        return cp_azout_flatten_arm(rest, flatten == &cp_az_no_renames ? NULL : flatten);
}

int cp_az_simple(cp_az_ctx *ctx, const char *method, const char *url, json_t *body, bool show,
                 const cp_azout_renames *flatten, const cp_azout_table_spec *table) {
        cp_httpc_response resp;
        json_t *j = NULL;
        int r = cp_az_call(ctx, method, url, body, NULL, &resp, &j);
        if (r)
                return r;
        if (resp.status >= 300)
                r = cp_az_service_error(&resp, j, show);
        else {
                json_t *out = j ? cp_az_shape(j, flatten) : NULL;
                if (j && !out) {
                        cp_az_error("%s", cp_error_message());
                        r = CP_EXIT_FAILURE;
                } else
                        r = cp_az_output(ctx, out, table);
                json_decref(out);
        }
        json_decref(j);
        cp_httpc_response_clear(&resp);
        return r;
}

int cp_az_list(cp_az_ctx *ctx, const char *url, const cp_azout_renames *flatten, json_t **ret) {
        json_t *all = json_array();
        char *next = url ? strdup(url) : NULL;
        int r = 0;
        size_t pages = 0;
        *ret = NULL;
        if (!all || !next) {
                json_decref(all);
                free(next);
                cp_az_error("out of memory");
                return CP_EXIT_FAILURE;
        }
        while (next && r == 0) {
                cp_httpc_response resp;
                json_t *j = NULL;
                if (++pages > 10000) {
                        cp_az_error("too many pages in list response");
                        r = CP_EXIT_FAILURE;
                        break;
                }
                r = cp_az_call(ctx, "GET", next, NULL, NULL, &resp, &j);
                free(next);
                next = NULL;
                if (r)
                        break;
                if (resp.status != 200)
                        r = cp_az_service_error(&resp, j, false);
                else if (!json_is_array(json_object_get(j, "value"))) {
                        cp_az_error("The list response has no 'value' array.");
                        r = CP_EXIT_FAILURE;
                } else {
                        size_t i;
                        json_t *e;
                        json_array_foreach(json_object_get(j, "value"), i, e) {
                                json_t *s = cp_az_shape(e, flatten);
                                if (!s || json_array_append_new(all, s) < 0) {
                                        cp_az_error("%s", cp_error_message());
                                        r = CP_EXIT_FAILURE;
                                        break;
                                }
                        }
                        const char *nl = json_string_value(json_object_get(j, "nextLink"));
                        if (r == 0 && nl && *nl && !(next = strdup(nl))) {
                                cp_az_error("out of memory");
                                r = CP_EXIT_FAILURE;
                        }
                }
                json_decref(j);
                cp_httpc_response_clear(&resp);
        }
        free(next);
        if (r) {
                json_decref(all);
                return r;
        }
        *ret = all;
        return 0;
}

int cp_az_delete(cp_az_ctx *ctx, const char *url, const char *const *headers) {
        cp_httpc_response resp;
        json_t *j = NULL, *fin = NULL;
        int r = cp_az_call(ctx, "DELETE", url, NULL, headers, &resp, &j);
        if (r)
                return r;
        if (resp.status == 204 || resp.status == 200)
                r = 0;
        else if (resp.status != 202)
                r = cp_az_service_error(&resp, j, false);
        else if (!cp_az_flag(ctx, "--no-wait"))
                r = cp_az_lro(ctx, &resp, NULL, NULL, NULL, &fin);
        json_decref(fin);
        json_decref(j);
        cp_httpc_response_clear(&resp);
        return r;
}
