/* SPDX-License-Identifier: Apache-2.0 */
/* confpool keyvault key create|import|show|list|delete|release: a client of
 * confpool-kbsd (URL from --url or CONFPOOL_KBS_URL, bearer secret from
 * --token-file or CONFPOOL_KBS_TOKEN). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "basic/codec.h"
#include "basic/fileio.h"
#include "basic/secure.h"
#include "cli/cli.h"
#include "confpool/jwt.h"
#include "confpool/keyrelease.h"
#include "service/httpc.h"

static void kv_usage(FILE *f) {
        fprintf(f, "usage: confpool keyvault key <create|import|show|list|delete|release> [options]\n"
                   "  common:  --url URL (or CONFPOOL_KBS_URL)  --token-file F (or CONFPOOL_KBS_TOKEN)\n"
                   "  create:  --name N --kty RSA|EC|oct [--size BITS] [--curve P-256|P-384] [--exportable]\n"
                   "           [--policy FILE] [--immutable]\n"
                   "  import:  --name N --jwk FILE [--exportable] [--policy FILE] [--immutable]\n"
                   "  show:    --name N [--version V]      list\n"
                   "  delete:  --name N\n"
                   "  release: --name N [--version V] --attestation-token FILE [--enc ALG]\n"
                   "           [--tee-key PEM --out FILE]  (unwrap locally with the TEE private key)\n");
}

static char *slurp(const char *path) {
        uint8_t *b = NULL;
        size_t n;
        if (cp_read_file(path, 1 << 20, &b, &n) < 0) {
                cp_cli_error(path);
                return NULL;
        }
        while (n && (b[n - 1] == '\n' || b[n - 1] == '\r'))
                b[--n] = 0;
        return (char *) b;
}

static int call(const char *url, const char *token, const char *method, const char *path, json_t *body, json_t **ret) {
        char full[2048];
        cp_httpc_options o = { .timeout_ms = 30000, .bearer = token };
        cp_httpc_response r = { 0 };
        char *b = body ? json_dumps(body, JSON_COMPACT) : NULL;
        snprintf(full, sizeof(full), "%s%s", url, path);
        int rc = cp_httpc_request(&o, method, full, NULL, b, b ? strlen(b) : 0, &r);
        free(b);
        if (rc < 0) {
                cp_cli_error("request");
                return cp_cli_exit_code(rc);
        }
        json_t *j = r.body_len ? json_loadb((const char *) r.body, r.body_len, 0, NULL) : json_object();
        long st = r.status;
        cp_httpc_response_clear(&r);
        if (st < 200 || st >= 300) {
                const char *m = json_string_value(json_object_get(json_object_get(j, "error"), "message"));
                fprintf(stderr, "confpool: error: HTTP %ld: %s\n", st, m ? m : "");
                json_decref(j);
                return st == 403 ? CP_EXIT_POLICY : CP_EXIT_FAILURE;
        }
        *ret = j ? j : json_object();
        return CP_EXIT_OK;
}

static void print_json(json_t *j) {
        json_dumpf(j, stdout, JSON_INDENT(2));
        putchar('\n');
}

/* Unwrap the key_hsm of a release response with the TEE private key. */
static int unwrap_local(json_t *resp, const char *tee_pem_path, const char *out) {
        const char *jws = json_string_value(json_object_get(resp, "value"));
        const char *d1 = jws ? strchr(jws, '.') : NULL, *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
        if (!d2)
                return CP_EXIT_FAILURE;
        size_t n = (size_t) (d2 - d1 - 1), pl;
        uint8_t *p = malloc(cp_b64_decoded_max(n) + 1);
        if (!p || cp_b64_decode(d1 + 1, n, CP_B64_URL, p, cp_b64_decoded_max(n), &pl) < 0) {
                free(p);
                return CP_EXIT_FAILURE;
        }
        json_t *pj = json_loadb((const char *) p, pl, 0, NULL);
        free(p);
        const char *hsm = json_string_value(json_object_get(
                json_object_get(json_object_get(json_object_get(pj, "response"), "key"), "key"), "key_hsm"));
        char *pem = slurp(tee_pem_path);
        cp_wrap_key *k = NULL;
        cp_keywrap_alg alg;
        uint8_t *w = NULL, *m = NULL;
        size_t wl, ml;
        int r = -1;
        if (hsm && pem && cp_wrap_key_from_pem(pem, strlen(pem), &k) == 0 &&
            cp_keyrelease_key_hsm_decode(hsm, strlen(hsm), &alg, &w, &wl) == 0 && cp_keywrap_unwrap(k, alg, w, wl, &m, &ml) == 0)
                r = cp_write_file(out, m, ml, 0600);
        if (r < 0)
                cp_cli_error("unwrap");
        if (m)
                cp_wipe(m, ml);
        if (pem)
                cp_wipe(pem, strlen(pem));
        free(m);
        free(w);
        free(pem);
        cp_wrap_key_free(k);
        json_decref(pj);
        return r < 0 ? CP_EXIT_FAILURE : CP_EXIT_OK;
}

/* The command line; the steps return an exit code, GO_ON (no exit yet) or
 * BAD_USAGE (print the usage, exit 2). */
#define GO_ON (-1)
#define BAD_USAGE (-2)

typedef struct kv_args {
        const char *sub, *url, *name, *version, *kty, *curve, *policy, *jwk, *att, *enc, *tee, *out;
        char *token; /* owned, wiped */
        bool exportable, immutable;
        int size;
} kv_args;

static int kv_opt(kv_args *a, int c, const char *arg) {
        switch (c) {
        case 'u': a->url = arg; break;
        case 't':
                free(a->token);
                a->token = slurp(arg);
                if (!a->token)
                        return CP_EXIT_FAILURE;
                break;
        case 'n': a->name = arg; break;
        case 'v': a->version = arg; break;
        case 'k': a->kty = arg; break;
        case 's': a->size = atoi(arg); break;
        case 'c': a->curve = arg; break;
        case 'x': a->exportable = true; break;
        case 'p': a->policy = arg; break;
        case 'I': a->immutable = true; break;
        case 'j': a->jwk = arg; break;
        case 'a': a->att = arg; break;
        case 'e': a->enc = arg; break;
        case 'T': a->tee = arg; break;
        case 'o': a->out = arg; break;
        case 'h': kv_usage(stdout); return CP_EXIT_OK;
        default: return BAD_USAGE;
        }
        return GO_ON;
}

static int parse_kv_args(int argc, char **argv, kv_args *a) {
        static const struct option opts[] = {
                { "url", required_argument, NULL, 'u' },   { "token-file", required_argument, NULL, 't' },
                { "name", required_argument, NULL, 'n' },  { "version", required_argument, NULL, 'v' },
                { "kty", required_argument, NULL, 'k' },   { "size", required_argument, NULL, 's' },
                { "curve", required_argument, NULL, 'c' }, { "exportable", no_argument, NULL, 'x' },
                { "policy", required_argument, NULL, 'p' }, { "immutable", no_argument, NULL, 'I' },
                { "jwk", required_argument, NULL, 'j' },   { "attestation-token", required_argument, NULL, 'a' },
                { "enc", required_argument, NULL, 'e' },   { "tee-key", required_argument, NULL, 'T' },
                { "out", required_argument, NULL, 'o' },   { "help", no_argument, NULL, 'h' }, { 0 },
        };
        int c, r;
        if (argc < 3 || strcmp(argv[1], "key")) {
                bool help = argc > 1 && !strcmp(argv[1], "--help");
                kv_usage(help ? stdout : stderr);
                return help ? CP_EXIT_OK : CP_EXIT_USAGE;
        }
        a->sub = argv[2];
        optind = 3;
        while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1)
                if ((r = kv_opt(a, c, optarg)) != GO_ON)
                        return r;
        if (!a->url || (strcmp(a->sub, "list") && !a->name))
                return BAD_USAGE;
        return GO_ON;
}

/* key create / key import: the attributes, the release policy, then the
 * key's type or its JWK. */
static int kv_create(const kv_args *a, json_t **body, json_t **resp) {
        char path[512];
        *body = json_pack("{s:{s:b}}", "attributes", "exportable", a->exportable);
        if (a->policy) {
                char *pt = slurp(a->policy);
                if (!pt)
                        return CP_EXIT_FAILURE;
                char *pb = malloc(cp_b64_encoded_len(strlen(pt), CP_B64_URL) + 1);
                cp_b64_encode((const uint8_t *) pt, strlen(pt), CP_B64_URL, pb);
                json_object_set_new(*body, "release_policy",
                                    json_pack("{s:s,s:b}", "data", pb, "immutable", a->immutable));
                free(pb);
                free(pt);
        }
        if (!strcmp(a->sub, "create")) {
                if (!a->kty)
                        return BAD_USAGE;
                json_object_set_new(*body, "kty", json_string(a->kty));
                if (a->size)
                        json_object_set_new(*body, "key_size", json_integer(a->size));
                if (a->curve)
                        json_object_set_new(*body, "crv", json_string(a->curve));
                snprintf(path, sizeof(path), "/keys/%s/create", a->name);
                return call(a->url, a->token, "POST", path, *body, resp);
        }
        char *jt = a->jwk ? slurp(a->jwk) : NULL;
        json_t *jj = jt ? json_loads(jt, 0, NULL) : NULL;
        if (jt)
                cp_wipe(jt, strlen(jt));
        free(jt);
        if (!jj)
                return BAD_USAGE;
        json_object_set_new(*body, "key", jj);
        snprintf(path, sizeof(path), "/keys/%s", a->name);
        return call(a->url, a->token, "PUT", path, *body, resp);
}

/* key release: with --tee-key, the wrapped key is unwrapped into --out. */
static int kv_release(const kv_args *a, json_t **body, json_t **resp) {
        char path[512];
        char *t = a->att ? slurp(a->att) : NULL;
        if (!t || (a->tee && !a->out))
                return BAD_USAGE;
        *body = json_pack("{s:s}", "target", t);
        free(t);
        if (a->enc)
                json_object_set_new(*body, "enc", json_string(a->enc));
        snprintf(path, sizeof(path), "/keys/%s%s%s/release", a->name, a->version ? "/" : "",
                 a->version ? a->version : "");
        int rc = call(a->url, a->token, "POST", path, *body, resp);
        if (rc == CP_EXIT_OK && a->tee)
                rc = unwrap_local(*resp, a->tee, a->out);
        return rc;
}

static int kv_run(const kv_args *a, json_t **body, json_t **resp) {
        char path[512];
        const char *sub = a->sub;
        if (!strcmp(sub, "create") || !strcmp(sub, "import"))
                return kv_create(a, body, resp);
        if (!strcmp(sub, "show")) {
                snprintf(path, sizeof(path), "/keys/%s%s%s", a->name, a->version ? "/" : "",
                         a->version ? a->version : "");
                return call(a->url, a->token, "GET", path, NULL, resp);
        }
        if (!strcmp(sub, "list"))
                return call(a->url, a->token, "GET", "/keys", NULL, resp);
        if (!strcmp(sub, "delete")) {
                snprintf(path, sizeof(path), "/keys/%s", a->name);
                return call(a->url, a->token, "DELETE", path, NULL, resp);
        }
        if (!strcmp(sub, "release"))
                return kv_release(a, body, resp);
        return BAD_USAGE;
}

int cp_cmd_keyvault(int argc, char **argv) {
        kv_args a = { .url = getenv("CONFPOOL_KBS_URL") };
        json_t *body = NULL, *resp = NULL;
        a.token = getenv("CONFPOOL_KBS_TOKEN") ? strdup(getenv("CONFPOOL_KBS_TOKEN")) : NULL;
        int rc = parse_kv_args(argc, argv, &a);
        if (rc == GO_ON) {
                rc = kv_run(&a, &body, &resp);
                if (rc == CP_EXIT_OK && resp)
                        print_json(resp);
        }
        if (rc == BAD_USAGE) {
                kv_usage(stderr);
                rc = CP_EXIT_USAGE;
        }
        json_decref(body);
        json_decref(resp);
        if (a.token)
                cp_wipe(a.token, strlen(a.token));
        free(a.token);
        return rc;
}
