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

int cp_cmd_keyvault(int argc, char **argv) {
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
        const char *url = getenv("CONFPOOL_KBS_URL"), *name = NULL, *version = NULL, *kty = NULL, *curve = NULL,
                   *policy = NULL, *jwk = NULL, *att = NULL, *enc = NULL, *tee = NULL, *out = NULL;
        char *token = getenv("CONFPOOL_KBS_TOKEN") ? strdup(getenv("CONFPOOL_KBS_TOKEN")) : NULL;
        bool exportable = false, immutable = false;
        int size = 0, c, rc = CP_EXIT_USAGE;
        json_t *body = NULL, *resp = NULL;
        char path[512];
        if (argc < 3 || strcmp(argv[1], "key")) {
                kv_usage(argc > 1 && !strcmp(argv[1], "--help") ? stdout : stderr);
                free(token);
                return argc > 1 && !strcmp(argv[1], "--help") ? CP_EXIT_OK : CP_EXIT_USAGE;
        }
        const char *sub = argv[2];
        optind = 3;
        while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
                switch (c) {
                case 'u': url = optarg; break;
                case 't': free(token); token = slurp(optarg); if (!token) return CP_EXIT_FAILURE; break;
                case 'n': name = optarg; break;
                case 'v': version = optarg; break;
                case 'k': kty = optarg; break;
                case 's': size = atoi(optarg); break;
                case 'c': curve = optarg; break;
                case 'x': exportable = true; break;
                case 'p': policy = optarg; break;
                case 'I': immutable = true; break;
                case 'j': jwk = optarg; break;
                case 'a': att = optarg; break;
                case 'e': enc = optarg; break;
                case 'T': tee = optarg; break;
                case 'o': out = optarg; break;
                case 'h': kv_usage(stdout); free(token); return CP_EXIT_OK;
                default: goto usage;
                }
        }
        if (!url || (strcmp(sub, "list") && !name))
                goto usage;
        if (!strcmp(sub, "create") || !strcmp(sub, "import")) {
                body = json_pack("{s:{s:b}}", "attributes", "exportable", exportable);
                if (policy) {
                        char *pt = slurp(policy);
                        if (!pt)
                                goto fail;
                        char *pb = malloc(cp_b64_encoded_len(strlen(pt), CP_B64_URL) + 1);
                        cp_b64_encode((const uint8_t *) pt, strlen(pt), CP_B64_URL, pb);
                        json_object_set_new(body, "release_policy", json_pack("{s:s,s:b}", "data", pb, "immutable", immutable));
                        free(pb);
                        free(pt);
                }
                if (!strcmp(sub, "create")) {
                        if (!kty)
                                goto usage;
                        json_object_set_new(body, "kty", json_string(kty));
                        if (size)
                                json_object_set_new(body, "key_size", json_integer(size));
                        if (curve)
                                json_object_set_new(body, "crv", json_string(curve));
                        snprintf(path, sizeof(path), "/keys/%s/create", name);
                        rc = call(url, token, "POST", path, body, &resp);
                } else {
                        char *jt = jwk ? slurp(jwk) : NULL;
                        json_t *jj = jt ? json_loads(jt, 0, NULL) : NULL;
                        if (jt)
                                cp_wipe(jt, strlen(jt));
                        free(jt);
                        if (!jj)
                                goto usage;
                        json_object_set_new(body, "key", jj);
                        snprintf(path, sizeof(path), "/keys/%s", name);
                        rc = call(url, token, "PUT", path, body, &resp);
                }
        } else if (!strcmp(sub, "show")) {
                snprintf(path, sizeof(path), "/keys/%s%s%s", name, version ? "/" : "", version ? version : "");
                rc = call(url, token, "GET", path, NULL, &resp);
        } else if (!strcmp(sub, "list"))
                rc = call(url, token, "GET", "/keys", NULL, &resp);
        else if (!strcmp(sub, "delete")) {
                snprintf(path, sizeof(path), "/keys/%s", name);
                rc = call(url, token, "DELETE", path, NULL, &resp);
        } else if (!strcmp(sub, "release")) {
                char *t = att ? slurp(att) : NULL;
                if (!t || (tee && !out))
                        goto usage;
                body = json_pack("{s:s}", "target", t);
                free(t);
                if (enc)
                        json_object_set_new(body, "enc", json_string(enc));
                snprintf(path, sizeof(path), "/keys/%s%s%s/release", name, version ? "/" : "", version ? version : "");
                rc = call(url, token, "POST", path, body, &resp);
                if (rc == CP_EXIT_OK && tee)
                        rc = unwrap_local(resp, tee, out);
        } else
                goto usage;
        if (rc == CP_EXIT_OK && resp)
                print_json(resp);
        goto done;
usage:
        kv_usage(stderr);
        rc = CP_EXIT_USAGE;
        goto done;
fail:
        rc = CP_EXIT_FAILURE;
done:
        json_decref(body);
        json_decref(resp);
        if (token)
                cp_wipe(token, strlen(token));
        free(token);
        return rc;
}
