/* SPDX-License-Identifier: Apache-2.0 */
/* SEV-SNP ID block / ID_AUTH creation and verification (see snp_idblock.h). */
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "basic/cursor.h"
#include "basic/secure.h"
#include "confpool/snp_idblock.h"
#include "ossl/ossl-util.h"
#include "libconfpool/p384.h"

#define ALGO_ECDSA_P384_SHA384 1u
#define CURVE_P384 2u
#define COORD_SIZE 72u   /* little-endian field in AMD structures */
#define P384_SIZE 48u    /* significant bytes */

#define AUTH_ID_BLOCK_SIG 0x040u
#define AUTH_ID_KEY 0x240u
#define AUTH_RESERVED2 0x644u
#define AUTH_ID_KEY_SIG 0x680u
#define AUTH_AUTHOR_KEY 0x880u
#define AUTH_RESERVED3 0xC84u

struct cp_snp_id_key {
        EVP_PKEY *pkey;
        uint8_t pub[CP_SNP_ECC_PUBKEY_SIZE];
};

/* ---- ID block ---- */

void cp_snp_id_block_init(cp_snp_id_block *b, const uint8_t ld[48]) {
        *b = (cp_snp_id_block) { .version = CP_SNP_ID_BLOCK_VERSION, .policy = CP_SNP_ID_BLOCK_DEFAULT_POLICY };
        if (ld)
                memcpy(b->ld, ld, 48);
}

void cp_snp_id_block_encode(const cp_snp_id_block *b, uint8_t ret[CP_SNP_ID_BLOCK_SIZE]) {
        memcpy(ret, b->ld, 48);
        memcpy(ret + 0x30, b->family_id, 16);
        memcpy(ret + 0x40, b->image_id, 16);
        cp_put_le32(ret + 0x50, b->version);
        cp_put_le32(ret + 0x54, b->guest_svn);
        cp_put_le64(ret + 0x58, b->policy);
}

int cp_snp_id_block_parse(const uint8_t *data, size_t len, cp_snp_id_block *ret) {
        if (!ret)
                return CP_ERROR(CP_EINVAL, "cp_snp_id_block_parse: NULL argument");
        cp_cursor c = cp_cursor_make(data, len);
        cp_snp_id_block b;
        int r;
        if ((r = cp_cursor_bytes(&c, 48, b.ld)) < 0 || (r = cp_cursor_bytes(&c, 16, b.family_id)) < 0 ||
            (r = cp_cursor_bytes(&c, 16, b.image_id)) < 0 || (r = cp_cursor_le32(&c, &b.version)) < 0 ||
            (r = cp_cursor_le32(&c, &b.guest_svn)) < 0 || (r = cp_cursor_le64(&c, &b.policy)) < 0)
                return cp_error_wrap("ID block");
        if ((r = cp_cursor_end(&c, "ID block")) < 0)
                return r;
        if (b.version != CP_SNP_ID_BLOCK_VERSION)
                return CP_ERROR(CP_EVERSION, "ID block version %u (expected %u)", b.version, CP_SNP_ID_BLOCK_VERSION);
        *ret = b;
        return 0;
}

/* ---- keys ---- */

static int bn_to_le72(const BIGNUM *bn, uint8_t out[COORD_SIZE]) {
        if (BN_num_bytes(bn) > (int) P384_SIZE || BN_bn2lebinpad(bn, out, COORD_SIZE) != (int) COORD_SIZE)
                return CP_ERROR(CP_ECRYPTO, "P-384 value out of range");
        return 0;
}

static int key_from_pkey(EVP_PKEY *pkey, cp_snp_id_key **ret) {
        char group[64] = "";
        if (EVP_PKEY_get_base_id(pkey) != EVP_PKEY_EC ||
            EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group), NULL) != 1 ||
            strcmp(group, "secp384r1") != 0) {
                cp_ossl_clear();
                return CP_ERROR(CP_EUNSUPPORTED, "ID and author keys must be EC P-384 keys");
        }
        _cleanup_bn_ BIGNUM *x = NULL;
        _cleanup_bn_ BIGNUM *y = NULL;
        if (EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_X, &x) != 1 ||
            EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_Y, &y) != 1)
                return CP_OSSL_ERROR(CP_ECRYPTO, "cannot read the public key");
        cp_snp_id_key *k = calloc(1, sizeof(*k));
        if (!k)
                return cp_error_oom();
        cp_put_le32(k->pub, CURVE_P384);
        int r;
        if ((r = bn_to_le72(x, k->pub + 4)) < 0 || (r = bn_to_le72(y, k->pub + 4 + COORD_SIZE)) < 0) {
                free(k);
                return r;
        }
        k->pkey = pkey;
        *ret = k;
        return 0;
}

int cp_snp_id_key_load_pem(const uint8_t *pem, size_t len, cp_snp_id_key **ret) {
        if (!pem || !ret || len > INT32_MAX)
                return CP_ERROR(CP_EINVAL, "cp_snp_id_key_load_pem: bad argument");
        _cleanup_bio_ BIO *bio = BIO_new_mem_buf(pem, (int) len);
        if (!bio)
                return cp_error_oom();
        EVP_PKEY *pkey = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
        if (!pkey)
                return CP_OSSL_ERROR(CP_EFORMAT, "not a PEM private key");
        int r = key_from_pkey(pkey, ret);
        if (r < 0)
                EVP_PKEY_free(pkey);
        return r;
}

int cp_snp_id_key_generate(cp_snp_id_key **ret) {
        if (!ret)
                return CP_ERROR(CP_EINVAL, "cp_snp_id_key_generate: NULL argument");
        EVP_PKEY *pkey = EVP_EC_gen("P-384");
        if (!pkey)
                return CP_OSSL_ERROR(CP_ECRYPTO, "P-384 key generation failed");
        int r = key_from_pkey(pkey, ret);
        if (r < 0)
                EVP_PKEY_free(pkey);
        return r;
}

int cp_snp_id_key_to_pem(const cp_snp_id_key *k, char **ret, size_t *ret_len) {
        if (!k || !ret)
                return CP_ERROR(CP_EINVAL, "cp_snp_id_key_to_pem: NULL argument");
        _cleanup_bio_ BIO *bio = BIO_new(BIO_s_secmem());
        if (!bio || PEM_write_bio_PrivateKey(bio, k->pkey, NULL, NULL, 0, NULL, NULL) != 1)
                return CP_OSSL_ERROR(CP_ECRYPTO, "cannot encode the private key");
        char *data = NULL;
        long n = BIO_get_mem_data(bio, &data);
        if (n <= 0 || !data)
                return CP_OSSL_ERROR(CP_ECRYPTO, "cannot encode the private key");
        char *out = malloc((size_t) n + 1);
        if (!out)
                return cp_error_oom();
        memcpy(out, data, (size_t) n);
        out[n] = '\0';
        *ret = out;
        if (ret_len)
                *ret_len = (size_t) n;
        return 0;
}

cp_snp_id_key *cp_snp_id_key_free(cp_snp_id_key *k) {
        if (!k)
                return NULL;
        EVP_PKEY_free(k->pkey);
        free(k);
        return NULL;
}

void cp_snp_id_key_public(const cp_snp_id_key *k, uint8_t ret[CP_SNP_ECC_PUBKEY_SIZE]) {
        memcpy(ret, k->pub, CP_SNP_ECC_PUBKEY_SIZE);
}

static int sha384(const uint8_t *p, size_t n, uint8_t out[48]) {
        if (EVP_Digest(p, n, out, NULL, EVP_sha384(), NULL) != 1)
                return CP_OSSL_ERROR(CP_ECRYPTO, "SHA-384 failed");
        return 0;
}

int cp_snp_pubkey_digest(const uint8_t pub[CP_SNP_ECC_PUBKEY_SIZE], uint8_t ret[48]) {
        if (!pub || !ret)
                return CP_ERROR(CP_EINVAL, "cp_snp_pubkey_digest: NULL argument");
        return sha384(pub, CP_SNP_ECC_PUBKEY_SIZE, ret);
}

void cp_snp_id_key_digest(const cp_snp_id_key *k, uint8_t ret[48]) {
        /* SHA-384 cannot fail on a working OpenSSL; keep the void API. */
        if (sha384(k->pub, CP_SNP_ECC_PUBKEY_SIZE, ret) < 0)
                memset(ret, 0, 48);
}

/* ---- signatures ---- */

/* ECDSA-P384-SHA384 over data into AMD's 512-byte signature structure. */
static int sign_amd(const cp_snp_id_key *k, const uint8_t *data, size_t len, uint8_t out[CP_SNP_ECC_SIG_SIZE]) {
        _cleanup_evp_md_ctx_ EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        uint8_t der[128];
        size_t der_len = sizeof(der);
        if (!ctx || EVP_DigestSignInit(ctx, NULL, EVP_sha384(), NULL, k->pkey) != 1 ||
            EVP_DigestSign(ctx, der, &der_len, data, len) != 1)
                return CP_OSSL_ERROR(CP_ECRYPTO, "ECDSA P-384 signing failed");
        const unsigned char *p = der;
        ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &p, (long) der_len);
        if (!sig)
                return CP_OSSL_ERROR(CP_ECRYPTO, "cannot decode the ECDSA signature");
        memset(out, 0, CP_SNP_ECC_SIG_SIZE);
        int r = bn_to_le72(ECDSA_SIG_get0_r(sig), out);
        if (r >= 0)
                r = bn_to_le72(ECDSA_SIG_get0_s(sig), out + COORD_SIZE);
        ECDSA_SIG_free(sig);
        return r;
}

int cp_snp_id_auth_create(const cp_snp_id_block *b, const cp_snp_id_key *id_key, const cp_snp_id_key *author_key,
                          uint8_t ret_id_block[CP_SNP_ID_BLOCK_SIZE], uint8_t ret_id_auth[CP_SNP_ID_AUTH_SIZE]) {
        if (!b || !id_key || !ret_id_block || !ret_id_auth)
                return CP_ERROR(CP_EINVAL, "cp_snp_id_auth_create: NULL argument");
        uint8_t block[CP_SNP_ID_BLOCK_SIZE];
        _cleanup_free_ uint8_t *auth = calloc(1, CP_SNP_ID_AUTH_SIZE);
        if (!auth)
                return cp_error_oom();
        cp_snp_id_block_encode(b, block);
        cp_put_le32(auth, ALGO_ECDSA_P384_SHA384);
        int r = sign_amd(id_key, block, sizeof(block), auth + AUTH_ID_BLOCK_SIG);
        if (r < 0)
                return r;
        memcpy(auth + AUTH_ID_KEY, id_key->pub, CP_SNP_ECC_PUBKEY_SIZE);
        if (author_key) {
                cp_put_le32(auth + 4, ALGO_ECDSA_P384_SHA384);
                if ((r = sign_amd(author_key, id_key->pub, CP_SNP_ECC_PUBKEY_SIZE, auth + AUTH_ID_KEY_SIG)) < 0)
                        return r;
                memcpy(auth + AUTH_AUTHOR_KEY, author_key->pub, CP_SNP_ECC_PUBKEY_SIZE);
        }
        memcpy(ret_id_block, block, sizeof(block));
        memcpy(ret_id_auth, auth, CP_SNP_ID_AUTH_SIZE);
        return 0;
}

/* A little-endian 72-byte field whose top 24 bytes are zero, as 48 big-endian bytes. */
static int read_le72(cp_cursor *c, const char *what, uint8_t be[P384_SIZE]) {
        uint8_t le[P384_SIZE];
        int r = cp_cursor_bytes(c, P384_SIZE, le);
        if (r < 0 || (r = cp_cursor_zero(c, COORD_SIZE - P384_SIZE, what)) < 0)
                return r;
        for (unsigned i = 0; i < P384_SIZE; i++)
                be[i] = le[P384_SIZE - 1 - i];
        return 0;
}

static int parse_pubkey(cp_cursor *c, const char *what, cp_p384_pub **ret) {
        uint32_t curve;
        uint8_t x[P384_SIZE], y[P384_SIZE];
        int r;
        if ((r = cp_cursor_le32(c, &curve)) < 0)
                return r;
        if (curve != CURVE_P384)
                return CP_ERROR(CP_EUNSUPPORTED, "%s: curve %u (only 2, P-384, is supported)", what, curve);
        if ((r = read_le72(c, what, x)) < 0 || (r = read_le72(c, what, y)) < 0 ||
            (r = cp_cursor_zero(c, CP_SNP_ECC_PUBKEY_SIZE - 4 - 2 * COORD_SIZE, what)) < 0)
                return r;
        if ((r = cp_p384_pub_new(x, y, ret)) < 0)
                return CP_ERROR(CP_ESIG, "%s is not a point on P-384", what);
        return 0;
}

/* Borrow [off, off+n) of the whole input. */
static int borrow(const cp_cursor *all, size_t off, size_t n, const uint8_t **ret) {
        cp_cursor w;
        int r = cp_cursor_window(all, off, n, &w);
        if (r < 0)
                return r;
        return cp_cursor_ptr(&w, n, ret);
}

static int verify_amd(cp_cursor *c, const char *what, const cp_p384_pub *pub, const uint8_t *data, size_t len) {
        uint8_t rr[P384_SIZE], ss[P384_SIZE], digest[48];
        int r;
        if ((r = read_le72(c, what, rr)) < 0 || (r = read_le72(c, what, ss)) < 0 ||
            (r = cp_cursor_zero(c, CP_SNP_ECC_SIG_SIZE - 2 * COORD_SIZE, what)) < 0)
                return r;
        if ((r = sha384(data, len, digest)) < 0)
                return r;
        /* nettle, as the report verifier (the faster backend, bench-verify) */
        r = cp_p384_verify(pub, CP_P384_BACKEND_NETTLE, digest, rr, ss);
        if (r == CP_ESIG)
                return CP_ERROR(CP_ESIG, "%s does not verify", what);
        return r;
}

int cp_snp_id_auth_verify(const uint8_t *id_block, size_t id_block_len, const uint8_t *id_auth, size_t id_auth_len,
                          const uint8_t *expected_ld, cp_snp_id_auth_result *ret) {
        if (!ret)
                return CP_ERROR(CP_EINVAL, "cp_snp_id_auth_verify: NULL argument");
        cp_snp_id_auth_result res = { 0 };
        int r = cp_snp_id_block_parse(id_block, id_block_len, &res.block);
        if (r < 0)
                return r;
        cp_cursor all = cp_cursor_make(id_auth, id_auth_len);
        if (id_auth_len < CP_SNP_ID_AUTH_SIZE)
                return CP_ERROR(CP_ETRUNC, "ID_AUTH of %zu bytes, expected %u", id_auth_len, CP_SNP_ID_AUTH_SIZE);
        if (id_auth_len > CP_SNP_ID_AUTH_SIZE)
                return CP_ERROR(CP_ETRAILING, "ID_AUTH of %zu bytes, expected %u", id_auth_len, CP_SNP_ID_AUTH_SIZE);
        uint32_t id_algo, auth_algo;
        cp_cursor c = all;
        if ((r = cp_cursor_le32(&c, &id_algo)) < 0 || (r = cp_cursor_le32(&c, &auth_algo)) < 0 ||
            (r = cp_cursor_zero(&c, AUTH_ID_BLOCK_SIG - 8, "ID_AUTH reserved")) < 0)
                return r;
        if (id_algo != ALGO_ECDSA_P384_SHA384)
                return CP_ERROR(CP_EUNSUPPORTED, "ID_KEY_ALGO %u (only 1, ECDSA P-384 SHA-384)", id_algo);

        cp_cursor w;
        cp_p384_pub *id_pub = NULL, *author_pub = NULL;
        if ((r = cp_cursor_window(&all, AUTH_ID_KEY, CP_SNP_ECC_PUBKEY_SIZE, &w)) < 0 ||
            (r = parse_pubkey(&w, "ID_KEY", &id_pub)) < 0)
                goto out;
        if ((r = cp_cursor_window(&all, AUTH_RESERVED2, AUTH_ID_KEY_SIG - AUTH_RESERVED2, &w)) < 0 ||
            (r = cp_cursor_zero(&w, AUTH_ID_KEY_SIG - AUTH_RESERVED2, "ID_AUTH reserved")) < 0 ||
            (r = cp_cursor_window(&all, AUTH_RESERVED3, CP_SNP_ID_AUTH_SIZE - AUTH_RESERVED3, &w)) < 0 ||
            (r = cp_cursor_zero(&w, CP_SNP_ID_AUTH_SIZE - AUTH_RESERVED3, "ID_AUTH reserved")) < 0)
                goto out;
        if ((r = cp_cursor_window(&all, AUTH_ID_BLOCK_SIG, CP_SNP_ECC_SIG_SIZE, &w)) < 0 ||
            (r = verify_amd(&w, "ID_BLOCK_SIG", id_pub, id_block, CP_SNP_ID_BLOCK_SIZE)) < 0)
                goto out;
        const uint8_t *id_key_raw, *author_key_raw, *id_key_sig_raw;
        if ((r = borrow(&all, AUTH_ID_KEY, CP_SNP_ECC_PUBKEY_SIZE, &id_key_raw)) < 0 ||
            (r = borrow(&all, AUTH_AUTHOR_KEY, CP_SNP_ECC_PUBKEY_SIZE, &author_key_raw)) < 0 ||
            (r = borrow(&all, AUTH_ID_KEY_SIG, CP_SNP_ECC_SIG_SIZE, &id_key_sig_raw)) < 0 ||
            (r = sha384(id_key_raw, CP_SNP_ECC_PUBKEY_SIZE, res.id_key_digest)) < 0)
                goto out;

        /* The author key is optional: all zero (and AUTH_KEY_ALGO 0) means absent. */
        cp_cursor ak, aks;
        if ((r = cp_cursor_window(&all, AUTH_AUTHOR_KEY, CP_SNP_ECC_PUBKEY_SIZE, &ak)) < 0 ||
            (r = cp_cursor_window(&all, AUTH_ID_KEY_SIG, CP_SNP_ECC_SIG_SIZE, &aks)) < 0)
                goto out;
        bool author_zero = cp_ct_is_zero(author_key_raw, CP_SNP_ECC_PUBKEY_SIZE);
        if (author_zero) {
                if (auth_algo != 0 || !cp_ct_is_zero(id_key_sig_raw, CP_SNP_ECC_SIG_SIZE)) {
                        r = CP_ERROR(CP_EFORMAT, "ID_AUTH: author-key fields set without an AUTHOR_KEY");
                        goto out;
                }
        } else {
                if (auth_algo != ALGO_ECDSA_P384_SHA384) {
                        r = CP_ERROR(CP_EUNSUPPORTED, "AUTH_KEY_ALGO %u (only 1, ECDSA P-384 SHA-384)", auth_algo);
                        goto out;
                }
                if ((r = parse_pubkey(&ak, "AUTHOR_KEY", &author_pub)) < 0 ||
                    (r = verify_amd(&aks, "ID_KEY_SIG", author_pub, id_key_raw, CP_SNP_ECC_PUBKEY_SIZE)) < 0 ||
                    (r = sha384(author_key_raw, CP_SNP_ECC_PUBKEY_SIZE, res.author_key_digest)) < 0)
                        goto out;
                res.has_author_key = true;
        }
        if (expected_ld && !cp_ct_eq(expected_ld, res.block.ld, 48)) {
                r = CP_ERROR(CP_EBINDING, "ID block launch digest differs from the expected measurement");
                goto out;
        }
        *ret = res;
        r = 0;
out:
        cp_p384_pub_free(id_pub);
        cp_p384_pub_free(author_pub);
        return r;
}
