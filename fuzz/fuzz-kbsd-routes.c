/* SPDX-License-Identifier: Apache-2.0 */
/* confpool-kbsd's request handling end to end, in-process (no socket):
 * every route, its path parameters and body - key create/import (the JWK
 * importer cp_kbsd_key_import_jwk), disks, and secure key release (the
 * release body's "target"/"enc", the unverified issuer peek that picks the
 * authority, the token's claims against the key's release policy, the TEE
 * key from the token through cp_wrap_key_from_jwk, the wrap and the signed
 * response).  Input: fuzz-request.h.  Selector bits 0-1: no credential,
 * the admin token, the release token, a wrong token; bit 2: the body is a
 * token payload, signed here with the trusted authority's key, and sent as
 * {"target": token, "enc": <bits 3-4>} (so the claims reach the policy and
 * the TEE-key parser, not only the signature check).  Key creation with RSA
 * key generation is skipped (seconds per input; test-kbsd covers it).
 * Every response is well formed; no input is a 5xx. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "basic/codec.h"
#include "confpool/jwt.h"
#include "fuzz-request.h"
#include "kbsd/kbsd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ISSUER "https://attestd.fuzz"
#define NOW 1748736000

static cp_kbsd *kbs;
static cp_jwt_key *key; /* borrowed by the signer */
static cp_jwt_signer *signer;

static void call(const cp_http_request *rq) {
        cp_http_response r = { 0 };
        cp_kbsd_handle(kbs, rq, &r);
        fuzz_response_check(&r, NULL, false);
        cp_http_resp_clear(&r);
        cp_error_clear();
}

/* A key k1 (oct, exportable) released to this authority's SEV-SNP tokens. */
static void seed_key(void) {
        static const char pol[] = "{\"version\":\"1.0.0\",\"anyOf\":[{\"authority\":\"" ISSUER "\",\"allOf\":"
                                  "[{\"claim\":\"x-ms-attestation-type\",\"equals\":\"sevsnpvm\"}]}]}";
        char b64[512];
        cp_b64_encode((const uint8_t *) pol, strlen(pol), CP_B64_URL, b64);
        char *body = NULL;
        if (asprintf(&body, "{\"kty\":\"oct\",\"attributes\":{\"exportable\":true},\"release_policy\":{\"data\":\"%s\"}}",
                     b64) < 0)
                abort();
        const cp_http_pair h[] = { { "Authorization", "Bearer fuzz-admin-token-0123456789" },
                                   { "Content-Type", "application/json" } };
        cp_http_request rq = { .method = "POST", .path = "/keys/k1/create", .body = (uint8_t *) body,
                               .body_len = strlen(body), .headers = h, .n_headers = 2, .remote_addr = "127.0.0.1" };
        call(&rq);
        free(body);
}

static void init(void) {
        static uint8_t mk[32] = { 1, 2, 3 };
        static char dir[] = "/tmp/fuzz-kbsd-XXXXXX", db[64];
        json_t *jwk = NULL;
        if (!mkdtemp(dir) || cp_jwt_key_generate(CP_JWT_ES256, NULL, NOW, 30, &key) < 0 ||
            cp_jwt_key_to_jwk(key, &jwk) < 0 || cp_jwt_signer_new(key, NULL, &signer) < 0)
                abort();
        snprintf(db, sizeof db, "%s/kbs.db", dir);
        json_t *set = json_pack("{s:[o]}", "keys", jwk);
        char *jwks = json_dumps(set, JSON_COMPACT); /* lives as long as the process */
        json_decref(set);
        cp_kbsd_config cfg = { .db_path = db, .master_key = mk, .now = NOW, .quiet = true, .threads = 1,
                               .authorities = { { .issuer = ISSUER, .jwks_json = jwks } }, .n_authorities = 1,
                               .tokens = { { .name = "admin", .token = "fuzz-admin-token-0123456789",
                                             .scope = CP_KBSD_SCOPE_ADMIN },
                                           { .name = "release", .token = "fuzz-release-token-0123456789",
                                             .scope = CP_KBSD_SCOPE_RELEASE } },
                               .n_tokens = 2 };
        if (cp_kbsd_new(&cfg, &kbs) < 0)
                abort();
        seed_key();
}

/* Bit 2: the body becomes {"target": <the body signed by the authority>, "enc"}. */
static char *signed_release_body(const fuzz_request *f) {
        static const char *const encs[] = { NULL, "CKM_RSA_AES_KEY_WRAP", "RSA_AES_KEY_WRAP_256", "RSA_AES_KEY_WRAP_384" };
        char *tok = NULL;
        if (cp_jwt_signer_sign(signer, (const char *) f->body, f->rq.body_len, &tok) < 0) {
                cp_error_clear();
                return NULL;
        }
        const char *enc = encs[(f->selector >> 3) & 3];
        json_t *b = enc ? json_pack("{s:s,s:s}", "target", tok, "enc", enc) : json_pack("{s:s}", "target", tok);
        char *s = json_dumps(b, JSON_COMPACT);
        json_decref(b);
        free(tok);
        return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static const char *const auth[] = { NULL, "Bearer fuzz-admin-token-0123456789",
                                            "Bearer fuzz-release-token-0123456789", "Bearer wrong" };
        if (!kbs)
                init();
        fuzz_request f;
        if (!fuzz_request_parse(data, size, &f))
                return 0;
        if ((strstr(f.target, "create") || strstr(f.target, "rotate")) && strstr((const char *) f.body, "RSA")) {
                fuzz_request_free(&f);
                return 0; /* RSA key generation: seconds per input */
        }
        char *rel = (f.selector & 4) ? signed_release_body(&f) : NULL;
        if (rel) {
                f.rq.body = (const uint8_t *) rel;
                f.rq.body_len = strlen(rel);
        }
        cp_http_pair h[2] = { { "Content-Type", "application/json" } };
        f.rq.headers = h;
        f.rq.n_headers = 1;
        if (auth[f.selector & 3])
                h[f.rq.n_headers++] = (cp_http_pair){ "Authorization", auth[f.selector & 3] };
        call(&f.rq);
        free(rel);
        fuzz_request_free(&f);
        return 0;
}
