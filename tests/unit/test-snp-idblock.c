/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ID block and ID_AUTH: sev-snp-measure's published id-block test vector
 * (snp-measure.md §10: block encoding and both key digests from the peer's
 * test keys), create/verify round trips with and without an author key,
 * every-byte tampering, truncation, wrong keys, and the digest's fit with
 * cp_snp_policy's trusted_id_key_digests.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "basic/cleanup.h"
#include "basic/codec.h"
#include "basic/secure.h"
#include "confpool/snp_idblock.h"
#include "confpool/snp_policy.h"
#include "tests.h"

#define LD_B64 "B28FLQi9p6cAqipgjFyqawDrrSl7bWioWkWx5mmlWLZ+G5HShKMB/mPE+gdQRn7t"

static cp_snp_id_key *load_key(const char *rel) {
        size_t len;
        _cleanup_free_ uint8_t *pem = cp_test_read(rel, &len);
        cp_snp_id_key *k = NULL;
        int r = cp_snp_id_key_load_pem(pem, len, &k);
        if (r < 0)
                cp_test_fail(__FILE__, __LINE__, "%s: %s", rel, cp_error_message());
        return k;
}

static void b64(const uint8_t *p, size_t n, char *out) {
        cp_b64_encode(p, n, CP_B64_STD, out);
}

TEST(published_vector) {
        uint8_t ld[48];
        size_t n = 0;
        ASSERT_OK(cp_b64_decode(LD_B64, strlen(LD_B64), CP_B64_STD, ld, sizeof(ld), &n));
        ASSERT_EQ(n, 48);
        cp_snp_id_key *idk = load_key("measure/id_key_test.pem");
        cp_snp_id_key *ak = load_key("measure/author_key_test.pem");
        cp_snp_id_block b;
        cp_snp_id_block_init(&b, ld);
        uint8_t block[CP_SNP_ID_BLOCK_SIZE], auth[CP_SNP_ID_AUTH_SIZE];
        ASSERT_OK(cp_snp_id_auth_create(&b, idk, ak, block, auth));

        char s[256];
        b64(block, sizeof(block), s);
        char want[256];
        snprintf(want, sizeof(want), "%s%s%s", LD_B64, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                 "AAABAAAAAAAAAAAAAwAAAAAA");
        ASSERT_STREQ(s, want);

        uint8_t d[48];
        cp_snp_id_key_digest(idk, d);
        b64(d, 48, s);
        ASSERT_STREQ(s, "hwt+NcU/inLQ0yL3WrKvgmJ5Kq9leWIs5BMcPyHyied8sFYKXjuQs5MuZ07HCcsU");
        cp_snp_id_key_digest(ak, d);
        b64(d, 48, s);
        ASSERT_STREQ(s, "YxEcNLv8Ckk4+aAJvQdJgNgXIyPmFZnJ/TNtqGcySOHcqY0L6PdjdqEGuK/UwKBX");

        /* the signatures verify and report the same digests */
        cp_snp_id_auth_result res;
        ASSERT_OK(cp_snp_id_auth_verify(block, sizeof(block), auth, sizeof(auth), ld, &res));
        ASSERT_TRUE(res.has_author_key);
        ASSERT_MEMEQ(res.author_key_digest, d, 48);
        cp_snp_id_key_digest(idk, d);
        ASSERT_MEMEQ(res.id_key_digest, d, 48);
        ASSERT_U64_EQ(res.block.policy, 0x30000);
        ASSERT_EQ(res.block.version, 1);

        /* the public key structure: curve 2, LE coordinates, zero padding */
        uint8_t pub[CP_SNP_ECC_PUBKEY_SIZE], pd[48];
        cp_snp_id_key_public(idk, pub);
        ASSERT_EQ(pub[0], 2);
        ASSERT_OK(cp_snp_pubkey_digest(pub, pd));
        ASSERT_MEMEQ(pd, d, 48);
        static const uint8_t zero[880];
        ASSERT_MEMEQ(pub + 4 + 144, zero, 880);
        ASSERT_MEMEQ(pub + 4 + 48, zero, 24);

        /* ECDSA nonces are random: a second ID_AUTH differs and verifies too */
        uint8_t block2[CP_SNP_ID_BLOCK_SIZE], auth2[CP_SNP_ID_AUTH_SIZE];
        ASSERT_OK(cp_snp_id_auth_create(&b, idk, ak, block2, auth2));
        ASSERT_MEMEQ(block, block2, sizeof(block));
        ASSERT_FALSE(memcmp(auth, auth2, sizeof(auth)) == 0);
        ASSERT_OK(cp_snp_id_auth_verify(block2, sizeof(block2), auth2, sizeof(auth2), NULL, &res));

        cp_snp_id_key_free(idk);
        cp_snp_id_key_free(ak);
}

TEST(policy_digest_fits) {
        cp_snp_id_key *idk = load_key("measure/id_key_test.pem");
        uint8_t d[48];
        cp_snp_id_key_digest(idk, d);
        cp_snp_policy p;
        cp_snp_policy_init(&p);
        ASSERT_OK(cp_snp_bytes_set_add(&p.trusted_id_key_digests, d, 48));
        uint8_t block[CP_SNP_ID_BLOCK_SIZE], auth[CP_SNP_ID_AUTH_SIZE];
        cp_snp_id_block b;
        cp_snp_id_block_init(&b, NULL);
        ASSERT_OK(cp_snp_id_auth_create(&b, idk, NULL, block, auth));
        cp_snp_id_auth_result res;
        ASSERT_OK(cp_snp_id_auth_verify(block, sizeof(block), auth, sizeof(auth), NULL, &res));
        ASSERT_TRUE(cp_snp_bytes_set_contains(&p.trusted_id_key_digests, res.id_key_digest));
        cp_snp_policy_clear(&p);
        cp_snp_id_key_free(idk);
}

TEST(roundtrip_fields_and_no_author) {
        cp_snp_id_key *idk = NULL, *ak = NULL;
        ASSERT_OK(cp_snp_id_key_generate(&idk));
        ASSERT_OK(cp_snp_id_key_generate(&ak));
        cp_snp_id_block b;
        uint8_t ld[48];
        for (int i = 0; i < 48; i++)
                ld[i] = (uint8_t) i;
        cp_snp_id_block_init(&b, ld);
        memset(b.family_id, 0xaa, 16);
        memset(b.image_id, 0xbb, 16);
        b.guest_svn = 7;
        b.policy = 0x00000001000b0000ull;
        uint8_t block[CP_SNP_ID_BLOCK_SIZE], auth[CP_SNP_ID_AUTH_SIZE];
        ASSERT_OK(cp_snp_id_auth_create(&b, idk, NULL, block, auth));
        cp_snp_id_auth_result res;
        ASSERT_OK(cp_snp_id_auth_verify(block, sizeof(block), auth, sizeof(auth), ld, &res));
        ASSERT_FALSE(res.has_author_key);
        static const uint8_t zero48[48];
        ASSERT_MEMEQ(res.author_key_digest, zero48, 48);
        ASSERT_MEMEQ(res.block.family_id, b.family_id, 16);
        ASSERT_MEMEQ(res.block.image_id, b.image_id, 16);
        ASSERT_EQ(res.block.guest_svn, 7);
        ASSERT_U64_EQ(res.block.policy, b.policy);

        /* wrong expected LD */
        ld[0] ^= 1;
        ASSERT_ERR(cp_snp_id_auth_verify(block, sizeof(block), auth, sizeof(auth), ld, &res), CP_EBINDING);

        /* PEM round trip of a generated key gives the same public key */
        _cleanup_free_ char *pem = NULL;
        size_t pem_len = 0;
        ASSERT_OK(cp_snp_id_key_to_pem(idk, &pem, &pem_len));
        cp_snp_id_key *again = NULL;
        ASSERT_OK(cp_snp_id_key_load_pem((const uint8_t *) pem, pem_len, &again));
        uint8_t p1[CP_SNP_ECC_PUBKEY_SIZE], p2[CP_SNP_ECC_PUBKEY_SIZE];
        cp_snp_id_key_public(idk, p1);
        cp_snp_id_key_public(again, p2);
        ASSERT_MEMEQ(p1, p2, sizeof(p1));
        cp_wipe(pem, pem_len);

        /* signed by another ID key: ID_BLOCK_SIG fails */
        uint8_t auth2[CP_SNP_ID_AUTH_SIZE], block2[CP_SNP_ID_BLOCK_SIZE];
        ASSERT_OK(cp_snp_id_auth_create(&b, ak, idk, block2, auth2));
        memcpy(auth2 + 0x240, auth + 0x240, CP_SNP_ECC_PUBKEY_SIZE); /* swap in the other ID key */
        ASSERT_ERR(cp_snp_id_auth_verify(block2, sizeof(block2), auth2, sizeof(auth2), NULL, &res), CP_ESIG);

        cp_snp_id_key_free(again);
        cp_snp_id_key_free(idk);
        cp_snp_id_key_free(ak);
}

TEST(tamper_every_byte) {
        cp_snp_id_key *idk = load_key("measure/id_key_test.pem");
        cp_snp_id_key *ak = load_key("measure/author_key_test.pem");
        cp_snp_id_block b;
        cp_snp_id_block_init(&b, NULL);
        uint8_t block[CP_SNP_ID_BLOCK_SIZE], auth[CP_SNP_ID_AUTH_SIZE];
        ASSERT_OK(cp_snp_id_auth_create(&b, idk, ak, block, auth));
        cp_snp_id_auth_result res;
        for (size_t i = 0; i < sizeof(block); i++) {
                block[i] ^= 0x01;
                ASSERT_FAILS(cp_snp_id_auth_verify(block, sizeof(block), auth, sizeof(auth), NULL, &res));
                block[i] ^= 0x01;
        }
        /* every byte of ID_AUTH matters (every 3rd byte, to stay fast, plus all
         * structure boundaries) */
        for (size_t i = 0; i < sizeof(auth); i++) {
                bool boundary = i < 8 || (i >= 0x3c && i < 0x44) || (i >= 0x240 && i < 0x248) ||
                                (i >= 0x880 && i < 0x888) || i == sizeof(auth) - 1;
                if (i % 3 && !boundary)
                        continue;
                auth[i] ^= 0x80;
                int r = cp_snp_id_auth_verify(block, sizeof(block), auth, sizeof(auth), NULL, &res);
                if (r >= 0)
                        cp_test_fail(__FILE__, __LINE__, "flip at ID_AUTH offset 0x%zx accepted", i);
                auth[i] ^= 0x80;
        }
        ASSERT_OK(cp_snp_id_auth_verify(block, sizeof(block), auth, sizeof(auth), NULL, &res));

        /* truncation and trailing bytes */
        uint8_t big[CP_SNP_ID_AUTH_SIZE + 1] = { 0 };
        memcpy(big, auth, sizeof(auth));
        for (size_t n = 0; n < sizeof(block); n++)
                ASSERT_ERR(cp_snp_id_auth_verify(block, n, auth, sizeof(auth), NULL, &res), CP_ETRUNC);
        uint8_t block_plus[CP_SNP_ID_BLOCK_SIZE + 1] = { 0 };
        memcpy(block_plus, block, sizeof(block));
        ASSERT_ERR(cp_snp_id_auth_verify(block_plus, sizeof(block_plus), auth, sizeof(auth), NULL, &res), CP_ETRAILING);
        for (size_t n = 0; n < sizeof(auth); n += 97)
                ASSERT_ERR(cp_snp_id_auth_verify(block, sizeof(block), auth, n, NULL, &res), CP_ETRUNC);
        ASSERT_ERR(cp_snp_id_auth_verify(block, sizeof(block), auth, sizeof(auth) - 1, NULL, &res), CP_ETRUNC);
        ASSERT_ERR(cp_snp_id_auth_verify(block, sizeof(block), big, sizeof(big), NULL, &res), CP_ETRAILING);

        /* version, algorithms, curve */
        cp_snp_id_block bad = b;
        bad.version = 2;
        uint8_t badblock[CP_SNP_ID_BLOCK_SIZE];
        cp_snp_id_block_encode(&bad, badblock);
        ASSERT_ERR(cp_snp_id_block_parse(badblock, sizeof(badblock), &bad), CP_EVERSION);
        auth[0] = 2;
        ASSERT_ERR(cp_snp_id_auth_verify(block, sizeof(block), auth, sizeof(auth), NULL, &res), CP_EUNSUPPORTED);
        auth[0] = 1;
        auth[0x240] = 3;
        ASSERT_ERR(cp_snp_id_auth_verify(block, sizeof(block), auth, sizeof(auth), NULL, &res), CP_EUNSUPPORTED);
        auth[0x240] = 2;
        auth[0x20] = 1;
        ASSERT_ERR(cp_snp_id_auth_verify(block, sizeof(block), auth, sizeof(auth), NULL, &res), CP_EMBZ);
        auth[0x20] = 0;
        /* an author signature without an author key */
        memset(auth + 0x880, 0, CP_SNP_ECC_PUBKEY_SIZE);
        ASSERT_ERR(cp_snp_id_auth_verify(block, sizeof(block), auth, sizeof(auth), NULL, &res), CP_EFORMAT);
        cp_snp_id_key_free(idk);
        cp_snp_id_key_free(ak);
}

TEST(key_loading_errors) {
        cp_snp_id_key *k = NULL;
        ASSERT_ERR(cp_snp_id_key_load_pem((const uint8_t *) "garbage", 7, &k), CP_EFORMAT);
        /* a P-256 key is refused */
        EVP_PKEY *p256 = EVP_EC_gen("P-256");
        ASSERT_TRUE(p256 != NULL);
        BIO *bio = BIO_new(BIO_s_mem());
        ASSERT_TRUE(PEM_write_bio_PrivateKey(bio, p256, NULL, NULL, 0, NULL, NULL) == 1);
        char *data = NULL;
        long n = BIO_get_mem_data(bio, &data);
        ASSERT_ERR(cp_snp_id_key_load_pem((const uint8_t *) data, (size_t) n, &k), CP_EUNSUPPORTED);
        BIO_free(bio);
        EVP_PKEY_free(p256);
        /* a public key only is refused */
        size_t len;
        _cleanup_free_ uint8_t *pem = cp_test_read("measure/id_key_test.pem", &len);
        ASSERT_OK(cp_snp_id_key_load_pem(pem, len, &k));
        ASSERT_ERR(cp_snp_id_key_load_pem(pem, len / 2, &k), CP_EFORMAT);
        cp_snp_id_key_free(k);
        ASSERT_TRUE(cp_snp_id_key_free(NULL) == NULL);
}
