/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz JWS/JWT validation, the unsecured-JWS decoder and JWKS parsing.
 * The input is tried as a compact token (validated against a fixed ES256
 * key, so the corpus token signed with it reaches the claim checks) and as
 * a JWKS document. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "confpool/jwt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char key_pem[] =
        "-----BEGIN PRIVATE KEY-----\n"
        "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgJdjGrpfnRHHziEXR\n"
        "Yt0SJ2N4P+z1MCO3PtRlAGPG2CKhRANCAASPgTKKfKCxujIYee8J462vsYx/2IDV\n"
        "RaQbq4BHXBobasTEkMe6bRfb+Uyd7i2c2ZqSaqyJKa3Ri9srd06olZ52\n"
        "-----END PRIVATE KEY-----\n";

static cp_jwks *jwks;

static void setup(void) {
        cp_jwt_key *k = NULL;
        if (jwks)
                return;
        if (cp_jwt_key_from_pem(CP_JWT_ES256, key_pem, sizeof(key_pem) - 1, NULL, 0, &k) < 0 ||
            cp_jwks_from_keys((const cp_jwt_key *const *) &k, 1, &jwks) < 0)
                abort();
        cp_jwt_key_free(k);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        setup();
        cp_jwt_validate_options o = CP_JWT_VALIDATE_OPTIONS_INIT;
        o.jwks = jwks;
        o.issuer = "https://fuzz.example";
        o.now = 1750000000;
        o.slack_s = 10;
        cp_jwt *t = NULL;
        if (cp_jwt_validate((const char *) data, size, &o, &t) == 0) {
                if (!json_is_object(cp_jwt_claims(t)) || !json_is_object(cp_jwt_header(t)))
                        abort();
                cp_jwt_free(t);
        }
        uint8_t *pl = NULL;
        size_t pll;
        if (cp_jws_verify((const char *) data, size, jwks, 0, &pl, &pll) == 0)
                free(pl);
        if (cp_jws_decode_unsecured((const char *) data, size, &pl, &pll) == 0)
                free(pl);
        cp_jwks *s = NULL;
        if (cp_jwks_parse((const char *) data, size, &s) == 0) {
                if (cp_jwks_count(s) == 0)
                        abort();
                /* rollover: the parsed set replacing the fixed one and back; every
                 * fresh key stays, the merged set is bounded */
                cp_jwks *m = NULL, *back = NULL, *gone = NULL;
                if (cp_jwks_rollover(jwks, s, 1000, 60, &m) == 0) {
                        if (cp_jwks_count(m) < cp_jwks_count(s) || cp_jwks_count(m) > CP_JWT_MAX_KEYS)
                                abort();
                        if (cp_jwks_rollover(m, jwks, 2000, 60, &back) == 0 &&
                            cp_jwks_rollover(back, jwks, 2060, 60, &gone) == 0 && cp_jwks_retired_count(gone) != 0)
                                abort(); /* s's keys retired at 2000, kept 60 s: gone at 2060 */
                        cp_jwks_free(gone);
                        cp_jwks_free(back);
                        cp_jwks_free(m);
                }
                cp_jwks_free(s);
        }
        return 0;
}
