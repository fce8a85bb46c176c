/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target: the fixed-base ECDSA verifier (src/libconfpool/ecfb.c, issue
 * 19) against OpenSSL's verify on fuzzer-chosen inputs.  Input: byte 0
 * chooses the curve (bit 0), whether (r, s) are made as a valid signature
 * with a fuzzer-chosen nonce (bit 1) and then XORed with the input's mask
 * (bit 2), and whether the key is the raw point from the input instead of
 * d G (bit 3: then the table must be refused exactly when OpenSSL refuses
 * the point).  Then d (or x || y), digest, r (or nonce), s (or mask), each
 * one coordinate long.  Any verdict that differs from OpenSSL's aborts. */
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "libconfpool/ecfb.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static EVP_PKEY *ossl_pub(const char *group, const uint8_t *xy, size_t cl) {
        uint8_t pt[97];
        pt[0] = 4;
        memcpy(pt + 1, xy, 2 * cl);
        OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
        OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, group, 0);
        OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pt, 1 + 2 * cl);
        OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
        EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
        EVP_PKEY *pk = NULL;
        if (EVP_PKEY_fromdata_init(ctx) <= 0 || EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_PUBLIC_KEY, params) <= 0)
                pk = NULL;
        EVP_PKEY_CTX_free(ctx);
        OSSL_PARAM_free(params);
        OSSL_PARAM_BLD_free(bld);
        return pk;
}

static int ossl_verify(EVP_PKEY *pk, const uint8_t *dg, size_t dl, const uint8_t *r, const uint8_t *s, size_t cl) {
        ECDSA_SIG *sig = ECDSA_SIG_new();
        ECDSA_SIG_set0(sig, BN_bin2bn(r, (int) cl, NULL), BN_bin2bn(s, (int) cl, NULL));
        unsigned char *der = NULL;
        int derlen = i2d_ECDSA_SIG(sig, &der);
        EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(pk, NULL);
        int v = derlen > 0 && ctx && EVP_PKEY_verify_init(ctx) == 1 &&
                EVP_PKEY_verify(ctx, der, (size_t) derlen, dg, dl) == 1;
        EVP_PKEY_CTX_free(ctx);
        OPENSSL_free(der);
        ECDSA_SIG_free(sig);
        return v;
}

/* xy = d G; (r, s) = a signature of e with nonce k when k != 0. */
static int make_key_and_sig(EC_GROUP *g, const uint8_t *db, const uint8_t *dg, uint8_t *r, uint8_t *s, bool sign,
                            size_t cl, uint8_t *xy) {
        BN_CTX *bc = BN_CTX_new();
        const BIGNUM *n = EC_GROUP_get0_order(g);
        BIGNUM *d = BN_bin2bn(db, (int) cl, NULL), *k = BN_bin2bn(r, (int) cl, NULL), *x = BN_new(), *y = BN_new();
        BIGNUM *e = BN_bin2bn(dg, (int) cl, NULL), *t = BN_new();
        EC_POINT *q = EC_POINT_new(g);
        int ok = BN_nnmod(d, d, n, bc) && !BN_is_zero(d) && EC_POINT_mul(g, q, d, NULL, NULL, bc) &&
                 EC_POINT_get_affine_coordinates(g, q, x, y, bc) && BN_bn2binpad(x, xy, (int) cl) > 0 &&
                 BN_bn2binpad(y, xy + cl, (int) cl) > 0;
        if (ok && sign && BN_nnmod(k, k, n, bc) && !BN_is_zero(k)) {
                ok = EC_POINT_mul(g, q, k, NULL, NULL, bc) && EC_POINT_get_affine_coordinates(g, q, x, NULL, bc) &&
                     BN_nnmod(x, x, n, bc) && BN_mod_mul(t, x, d, n, bc) && BN_mod_add(t, t, e, n, bc) &&
                     BN_mod_inverse(k, k, n, bc) && BN_mod_mul(t, t, k, n, bc) &&
                     BN_bn2binpad(x, r, (int) cl) > 0 && BN_bn2binpad(t, s, (int) cl) > 0;
        }
        BN_free(d), BN_free(k), BN_free(x), BN_free(y), BN_free(e), BN_free(t);
        EC_POINT_free(q);
        BN_CTX_free(bc);
        return ok;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size < 1)
                return 0;
        cp_ecfb_curve curve = data[0] & 1 ? CP_ECFB_P384 : CP_ECFB_P256;
        size_t cl = cp_ecfb_coord_len(curve), keylen = data[0] & 8 ? 2 * cl : cl;
        if (size < 1 + keylen + 3 * cl)
                return 0;
        const uint8_t *key = data + 1, *dg = key + keylen;
        uint8_t r[48], s[48], xy[96];
        memcpy(r, dg + cl, cl);
        memcpy(s, dg + 2 * cl, cl);
        EC_GROUP *g = EC_GROUP_new_by_curve_name(curve == CP_ECFB_P256 ? NID_X9_62_prime256v1 : NID_secp384r1);
        const char *gname = curve == CP_ECFB_P256 ? "prime256v1" : "secp384r1";
        if (data[0] & 8)
                memcpy(xy, key, 2 * cl);
        else if (!make_key_and_sig(g, key, dg, r, s, data[0] & 2, cl, xy)) {
                EC_GROUP_free(g);
                return 0;
        }
        if ((data[0] & 6) == 6)
                for (size_t i = 0; i < cl; i++)
                        r[i] ^= dg[2 * cl + i] & dg[i]; /* a sparse mask */
        EVP_PKEY *pk = ossl_pub(gname, xy, cl);
        /* the last key's table is kept: mutations often keep the key */
        static cp_ecfb_curve last_curve;
        static uint8_t last_xy[96];
        static cp_ecfb_table *last_t;
        static int last_tk = 1;
        if (last_tk == 1 || last_curve != curve || memcmp(last_xy, xy, 2 * cl) != 0) {
                cp_ecfb_table_unref(last_t);
                last_t = NULL;
                last_tk = cp_ecfb_table_new(curve, xy, &last_t);
                last_curve = curve;
                memcpy(last_xy, xy, 2 * cl);
        }
        cp_ecfb_table *t = last_t;
        int tk = last_tk;
        if ((tk == 0) != (pk != NULL))
                abort(); /* the point check disagrees with OpenSSL's */
        if (tk == 0) {
                int mine = cp_ecfb_verify(t, dg, cl, r, s) == 0;
                if (mine != ossl_verify(pk, dg, cl, r, s, cl))
                        abort();
        } else if (tk != CP_ECERT)
                abort();
        EVP_PKEY_free(pk);
        EC_GROUP_free(g);
        return 0;
}
