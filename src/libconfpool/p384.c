/* SPDX-License-Identifier: Apache-2.0 */
#include <stdlib.h>
#include <string.h>

#include <gmp.h>
#include <nettle/ecc-curve.h>
#include <nettle/ecc.h>
#include <nettle/ecdsa.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include "libconfpool/p384.h"

struct cp_p384_pub {
        struct ecc_point nettle_pub;
        EVP_PKEY *ossl_pub;
};

cp_p384_pub *cp_p384_pub_free(cp_p384_pub *p) {
        if (!p)
                return NULL;
        ecc_point_clear(&p->nettle_pub);
        EVP_PKEY_free(p->ossl_pub);
        free(p);
        return NULL;
}

static int ossl_pub_from_xy(const uint8_t x[48], const uint8_t y[48], EVP_PKEY **ret) {
        uint8_t point[97];
        point[0] = 0x04;
        memcpy(point + 1, x, 48);
        memcpy(point + 49, y, 48);
        OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
        OSSL_PARAM *params = NULL;
        EVP_PKEY_CTX *ctx = NULL;
        EVP_PKEY *pkey = NULL;
        int r = CP_ECRYPTO;
        if (!bld || !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "secp384r1", 0) ||
            !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point)))
                goto out;
        params = OSSL_PARAM_BLD_to_param(bld);
        ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
        if (!params || !ctx || EVP_PKEY_fromdata_init(ctx) <= 0)
                goto out;
        if (EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0) {
                r = CP_ECERT;
                goto out;
        }
        *ret = pkey;
        pkey = NULL;
        r = 0;
out:
        EVP_PKEY_free(pkey);
        EVP_PKEY_CTX_free(ctx);
        OSSL_PARAM_free(params);
        OSSL_PARAM_BLD_free(bld);
        return r;
}

int cp_p384_pub_new(const uint8_t x[48], const uint8_t y[48], cp_p384_pub **ret) {
        cp_p384_pub *p = calloc(1, sizeof(*p));
        if (!p)
                return cp_error_oom();
        ecc_point_init(&p->nettle_pub, nettle_get_secp_384r1());
        mpz_t mx, my;
        mpz_init(mx);
        mpz_init(my);
        mpz_import(mx, 48, 1, 1, 1, 0, x);
        mpz_import(my, 48, 1, 1, 1, 0, y);
        int ok = ecc_point_set(&p->nettle_pub, mx, my);
        mpz_clear(mx);
        mpz_clear(my);
        if (!ok) {
                cp_p384_pub_free(p);
                return CP_ERROR(CP_ECERT, "public key is not a point on P-384");
        }
        int r = ossl_pub_from_xy(x, y, &p->ossl_pub);
        if (r < 0) {
                cp_p384_pub_free(p);
                return CP_ERROR(r, "OpenSSL rejected the P-384 public key");
        }
        *ret = p;
        return 0;
}

static int verify_nettle(const cp_p384_pub *pub, const uint8_t digest[48], const uint8_t r[48],
                         const uint8_t s[48]) {
        struct dsa_signature sig;
        dsa_signature_init(&sig);
        mpz_import(sig.r, 48, 1, 1, 1, 0, r);
        mpz_import(sig.s, 48, 1, 1, 1, 0, s);
        int ok = ecdsa_verify(&pub->nettle_pub, 48, digest, &sig);
        dsa_signature_clear(&sig);
        return ok ? 0 : CP_ERROR(CP_ESIG, "ECDSA P-384 signature does not verify");
}

static int verify_openssl(const cp_p384_pub *pub, const uint8_t digest[48], const uint8_t r[48],
                          const uint8_t s[48]) {
        ECDSA_SIG *sig = ECDSA_SIG_new();
        BIGNUM *br = BN_bin2bn(r, 48, NULL), *bs = BN_bin2bn(s, 48, NULL);
        unsigned char *der = NULL;
        EVP_PKEY_CTX *ctx = NULL;
        int rc = CP_ECRYPTO;
        if (!sig || !br || !bs || !ECDSA_SIG_set0(sig, br, bs)) {
                BN_free(br);
                BN_free(bs);
                goto out;
        }
        int derlen = i2d_ECDSA_SIG(sig, &der);
        if (derlen <= 0)
                goto out;
        ctx = EVP_PKEY_CTX_new(pub->ossl_pub, NULL);
        if (!ctx || EVP_PKEY_verify_init(ctx) <= 0)
                goto out;
        int v = EVP_PKEY_verify(ctx, der, (size_t) derlen, digest, 48);
        rc = v == 1 ? 0 : CP_ERROR(CP_ESIG, "ECDSA P-384 signature does not verify");
out:
        if (rc == CP_ECRYPTO)
                CP_ERROR(CP_ECRYPTO, "OpenSSL failure while verifying ECDSA P-384");
        EVP_PKEY_CTX_free(ctx);
        OPENSSL_free(der);
        ECDSA_SIG_free(sig);
        return rc;
}

int cp_p384_verify(const cp_p384_pub *pub, cp_p384_backend backend, const uint8_t digest[48],
                   const uint8_t r[48], const uint8_t s[48]) {
        switch (backend) {
        case CP_P384_BACKEND_NETTLE:
                return verify_nettle(pub, digest, r, s);
        case CP_P384_BACKEND_OPENSSL:
                return verify_openssl(pub, digest, r, s);
        default:
                return CP_ERROR(CP_EINVAL, "unknown P-384 backend %d", (int) backend);
        }
}
