/* SPDX-License-Identifier: Apache-2.0 */
#include <stdbool.h>
#include <stdlib.h>

#include <gmp.h>
#include <nettle/rsa.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/params.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

#include "basic/secure.h"
#include "libconfpool/rsagen.h"
#include "ossl/ossl-util.h"

/* nettle's random callback cannot fail: a failure of the DRBG is noted
 * and the generation's result refused. */
static void drbg(void *ctx, size_t len, uint8_t *dst) {
        bool *failed = ctx;
        while (len > 0 && !*failed) {
                int n = len > (1u << 30) ? 1 << 30 : (int) len;
                if (RAND_priv_bytes(dst, n) != 1)
                        *failed = true;
                dst += n;
                len -= (size_t) n;
        }
        if (*failed)
                cp_wipe(dst, len); /* defined bytes; the result is refused */
}

static void mpz_wipe(mpz_t x) {
        size_t n = mpz_size(x);
        if (n)
                cp_wipe(mpz_limbs_modify(x, (mp_size_t) n), n * sizeof(mp_limb_t));
        mpz_set_ui(x, 0);
}

/* A GMP integer as an OpenSSL BIGNUM in secure-cleared memory. */
static BIGNUM *to_bn(const mpz_t x) {
        size_t len = (mpz_sizeinbase(x, 2) + 7) / 8;
        uint8_t *buf = malloc(len ? len : 1);
        if (!buf)
                return NULL;
        size_t got = 0;
        mpz_export(buf, &got, 1, 1, 1, 0, x);
        BIGNUM *bn = BN_secure_new();
        if (bn && !BN_bin2bn(buf, (int) got, bn)) {
                BN_clear_free(bn);
                bn = NULL;
        }
        cp_wipe(buf, len);
        free(buf);
        return bn;
}

static int to_pkey(const struct rsa_public_key *pub, const struct rsa_private_key *key, EVP_PKEY **ret) {
        /* OpenSSL's names: factors p, q; exponents d mod (p-1), d mod (q-1);
         * coefficient q^-1 mod p (nettle's a, b, c) */
        const mpz_srcptr v[] = {pub->n, pub->e, key->d, key->p, key->q, key->a, key->b, key->c};
        static const char *const names[] = {OSSL_PKEY_PARAM_RSA_N,         OSSL_PKEY_PARAM_RSA_E,
                                            OSSL_PKEY_PARAM_RSA_D,         OSSL_PKEY_PARAM_RSA_FACTOR1,
                                            OSSL_PKEY_PARAM_RSA_FACTOR2,   OSSL_PKEY_PARAM_RSA_EXPONENT1,
                                            OSSL_PKEY_PARAM_RSA_EXPONENT2, OSSL_PKEY_PARAM_RSA_COEFFICIENT1};
        BIGNUM *bn[8] = {0};
        OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
        OSSL_PARAM *params = NULL;
        EVP_PKEY_CTX *ctx = NULL;
        int r = bld ? 0 : cp_error_oom();
        for (size_t i = 0; i < 8 && r >= 0; i++)
                if (!(bn[i] = to_bn(v[i])) || !OSSL_PARAM_BLD_push_BN(bld, names[i], bn[i]))
                        r = CP_OSSL_ERROR(CP_ECRYPTO, "RSA key parameters");
        if (r >= 0 && !(params = OSSL_PARAM_BLD_to_param(bld)))
                r = CP_OSSL_ERROR(CP_ECRYPTO, "RSA key parameters");
        if (r >= 0 && (!(ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL)) || EVP_PKEY_fromdata_init(ctx) != 1 ||
                       EVP_PKEY_fromdata(ctx, ret, EVP_PKEY_KEYPAIR, params) != 1))
                r = CP_OSSL_ERROR(CP_ECRYPTO, "RSA key from its parameters");
        EVP_PKEY_CTX_free(ctx);
        OSSL_PARAM_free(params); /* its secure block (the BNs were secure) is cleared */
        OSSL_PARAM_BLD_free(bld);
        for (size_t i = 0; i < 8; i++)
                BN_clear_free(bn[i]);
        return r;
}

/* A pairwise consistency test (FIPS 140-3's PCT for a signing key): one
 * RSASSA-PKCS1-v1_5 signature made with the private key (CRT: p, q, dp, dq,
 * qinv) and verified with the public one.  OpenSSL's EVP_PKEY_pairwise_check
 * (SP 800-56B's key-pair checks) costs ~38 ms here, most of a generation. */
static int pairwise(EVP_PKEY *pkey, unsigned bits) {
        static const uint8_t digest[32] = {0x63, 0x6f, 0x6e, 0x66, 0x70, 0x6f, 0x6f, 0x6c}; /* "confpool" */
        uint8_t sig[512];
        size_t sl = sizeof sig;
        EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
        bool ok = c && EVP_PKEY_sign_init(c) == 1 && EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_PADDING) == 1 &&
                  EVP_PKEY_CTX_set_signature_md(c, EVP_sha256()) == 1 &&
                  EVP_PKEY_sign(c, sig, &sl, digest, sizeof digest) == 1 && sl == bits / 8 &&
                  EVP_PKEY_verify_init(c) == 1 && EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_PADDING) == 1 &&
                  EVP_PKEY_CTX_set_signature_md(c, EVP_sha256()) == 1 &&
                  EVP_PKEY_verify(c, sig, sl, digest, sizeof digest) == 1;
        EVP_PKEY_CTX_free(c);
        return ok ? 0 : CP_OSSL_ERROR(CP_ECRYPTO, "generated RSA-%u key fails its pairwise test", bits);
}

int cp_rsa_generate(unsigned bits, EVP_PKEY **ret) {
        if (!ret || (bits != 2048 && bits != 3072 && bits != 4096))
                return CP_ERROR(CP_EINVAL, "RSA size %u (2048, 3072 or 4096)", bits);
        struct rsa_public_key pub;
        struct rsa_private_key key;
        rsa_public_key_init(&pub);
        rsa_private_key_init(&key);
        mpz_set_ui(pub.e, 65537);
        bool failed = false;
        int r = rsa_generate_keypair(&pub, &key, &failed, drbg, NULL, NULL, bits, 0) && !failed
                        ? 0
                        : CP_ERROR(CP_ECRYPTO, "RSA-%u generation failed%s", bits,
                                   failed ? " (no random bytes from the DRBG)" : "");
        EVP_PKEY *pkey = NULL;
        if (r >= 0 && mpz_sizeinbase(pub.n, 2) != bits)
                r = CP_ERROR(CP_ECRYPTO, "RSA-%u generation gave a %zu-bit modulus", bits, mpz_sizeinbase(pub.n, 2));
        if (r >= 0)
                r = to_pkey(&pub, &key, &pkey);
        if (r >= 0)
                r = pairwise(pkey, bits);
        mpz_srcptr secrets[] = {key.d, key.p, key.q, key.a, key.b, key.c};
        for (size_t i = 0; i < sizeof secrets / sizeof *secrets; i++)
                mpz_wipe((mpz_ptr) secrets[i]);
        rsa_private_key_clear(&key);
        rsa_public_key_clear(&pub);
        if (r < 0) {
                EVP_PKEY_free(pkey);
                return r;
        }
        *ret = pkey;
        return 0;
}
