/* SPDX-License-Identifier: Apache-2.0 */
/* TPM 2.0 quote (TPMS_ATTEST / TPMT_SIGNATURE) parsing and verification. */

#include <pthread.h>
#include <string.h>

#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "basic/cleanup.h"
#include "basic/cursor.h"
#include "basic/limits.h"
#include "basic/secure.h"
#include "confpool/tpm_quote.h"

_Static_assert(CP_TPM_PCR_BANKS_MAX == CP_MAX_TPM_PCR_BANKS, "bank limit");
_Static_assert(CP_TPM_PCR_COUNT == CP_MAX_TPM_PCRS, "PCR limit");
_Static_assert(CP_TPM_PCR_SELECT_MAX * 8 >= CP_TPM_PCR_COUNT, "selection size");

#define TPM_RSA_SIG_MAX   512u  /* RSA-4096 */
#define TPM_ECC_PARAM_MAX 66u   /* P-521 */
#define AK_RSA_MIN_BITS   2048

size_t cp_tpm_hash_size(uint16_t hash_alg) {
        switch (hash_alg) {
        case CP_TPM_ALG_SHA1:
                return 20;
        case CP_TPM_ALG_SHA256:
                return 32;
        case CP_TPM_ALG_SHA384:
                return 48;
        case CP_TPM_ALG_SHA512:
                return 64;
        default:
                return 0;
        }
}

/* Hashes accepted for signatures and the PCR digest (no SHA-1). */
/* Digests fetched once: OpenSSL 3 looks a legacy EVP_sha256() up in its
 * provider tables on every EVP_DigestVerifyInit/EVP_Digest. */
static EVP_MD *md_fetched[3];
static pthread_once_t md_once = PTHREAD_ONCE_INIT;

static void md_fetch(void) {
        md_fetched[0] = EVP_MD_fetch(NULL, "SHA256", NULL);
        md_fetched[1] = EVP_MD_fetch(NULL, "SHA384", NULL);
        md_fetched[2] = EVP_MD_fetch(NULL, "SHA512", NULL);
}

static const EVP_MD *tpm_md(uint16_t hash_alg) {
        pthread_once(&md_once, md_fetch);
        switch (hash_alg) {
        case CP_TPM_ALG_SHA256:
                return md_fetched[0] ? md_fetched[0] : EVP_sha256();
        case CP_TPM_ALG_SHA384:
                return md_fetched[1] ? md_fetched[1] : EVP_sha384();
        case CP_TPM_ALG_SHA512:
                return md_fetched[2] ? md_fetched[2] : EVP_sha512();
        default:
                return NULL;
        }
}

bool cp_tpm_pcr_selected(const cp_tpm_pcr_selection *sel, unsigned index) {
        if (!sel || index >= CP_TPM_PCR_COUNT || index / 8 >= sel->size_of_select)
                return false;
        return (sel->select[index / 8] >> (index % 8)) & 1;
}

/* TPM2B: u16 size then size bytes, size <= max. */
static int read_tpm2b(cp_cursor *c, size_t max, const char *what, const uint8_t **ret, size_t *ret_len) {
        uint16_t size;
        int k;

        k = cp_cursor_be16(c, &size);
        if (k < 0)
                return cp_error_wrap("%s size: ", what);
        if (size > max)
                return CP_ERROR(CP_EFORMAT, "%s: size %u exceeds %zu", what, size, max);
        k = cp_cursor_ptr(c, size, ret);
        if (k < 0)
                return cp_error_wrap("%s: ", what);
        *ret_len = size;
        return 0;
}

static int parse_pcr_selection(cp_cursor *c, cp_tpm_quote *q) {
        uint32_t count;
        int k;

        k = cp_cursor_be32(c, &count);
        if (k < 0)
                return cp_error_wrap("TPML_PCR_SELECTION count: ");
        if (count > CP_TPM_PCR_BANKS_MAX)
                return CP_ERROR(CP_EUNSUPPORTED, "TPML_PCR_SELECTION: %u banks, at most %u", count,
                                CP_TPM_PCR_BANKS_MAX);
        for (uint32_t i = 0; i < count; i++) {
                cp_tpm_pcr_selection *s = &q->selections[i];

                k = cp_cursor_be16(c, &s->hash_alg);
                if (k < 0)
                        return cp_error_wrap("TPMS_PCR_SELECTION hash: ");
                if (cp_tpm_hash_size(s->hash_alg) == 0)
                        return CP_ERROR(CP_EUNSUPPORTED, "TPMS_PCR_SELECTION: unknown bank hash 0x%04x",
                                        s->hash_alg);
                for (uint32_t j = 0; j < i; j++)
                        if (q->selections[j].hash_alg == s->hash_alg)
                                return CP_ERROR(CP_EFORMAT, "TPML_PCR_SELECTION: bank 0x%04x selected twice",
                                                s->hash_alg);
                k = cp_cursor_u8(c, &s->size_of_select);
                if (k < 0)
                        return cp_error_wrap("TPMS_PCR_SELECTION sizeofSelect: ");
                if (s->size_of_select > CP_TPM_PCR_SELECT_MAX)
                        return CP_ERROR(CP_EUNSUPPORTED, "TPMS_PCR_SELECTION: sizeofSelect %u exceeds %u",
                                        s->size_of_select, CP_TPM_PCR_SELECT_MAX);
                k = cp_cursor_bytes(c, s->size_of_select, s->select);
                if (k < 0)
                        return cp_error_wrap("TPMS_PCR_SELECTION pcrSelect: ");
                for (unsigned b = CP_TPM_PCR_COUNT; b < 8u * s->size_of_select; b++)
                        if ((s->select[b / 8] >> (b % 8)) & 1)
                                return CP_ERROR(CP_EUNSUPPORTED, "TPMS_PCR_SELECTION: PCR %u selected", b);
        }
        q->n_selections = count;
        return 0;
}

int cp_tpm_quote_parse(const uint8_t *data, size_t len, cp_tpm_quote *ret) {
        cp_tpm_quote q = {};
        cp_cursor c;
        uint8_t safe;
        int k;

        if (!ret || (!data && len > 0))
                return CP_ERROR(CP_EINVAL, "cp_tpm_quote_parse: NULL argument");
        if (len > CP_MAX_TPM_ATTEST)
                return CP_ERROR(CP_ETOOBIG, "TPMS_ATTEST of %zu bytes exceeds %u", len, CP_MAX_TPM_ATTEST);

        c = cp_cursor_make(data, len);
        k = cp_cursor_be32(&c, &q.magic);
        if (k < 0)
                return cp_error_wrap("TPMS_ATTEST magic: ");
        if (q.magic != CP_TPM_GENERATED_VALUE)
                return CP_ERROR(CP_EFORMAT, "TPMS_ATTEST: magic 0x%08x is not TPM_GENERATED_VALUE", q.magic);
        k = cp_cursor_be16(&c, &q.type);
        if (k < 0)
                return cp_error_wrap("TPMS_ATTEST type: ");
        if (q.type != CP_TPM_ST_ATTEST_QUOTE)
                return CP_ERROR(CP_EFORMAT, "TPMS_ATTEST: type 0x%04x is not TPM_ST_ATTEST_QUOTE", q.type);
        k = read_tpm2b(&c, CP_TPM_NAME_MAX, "TPMS_ATTEST qualifiedSigner", &q.qualified_signer,
                       &q.qualified_signer_len);
        if (k < 0)
                return k;
        k = read_tpm2b(&c, CP_TPM_DIGEST_MAX, "TPMS_ATTEST extraData", &q.extra_data, &q.extra_data_len);
        if (k < 0)
                return k;
        if ((k = cp_cursor_be64(&c, &q.clock)) < 0 || (k = cp_cursor_be32(&c, &q.reset_count)) < 0 ||
            (k = cp_cursor_be32(&c, &q.restart_count)) < 0 || (k = cp_cursor_u8(&c, &safe)) < 0)
                return cp_error_wrap("TPMS_CLOCK_INFO: ");
        if (safe > 1)
                return CP_ERROR(CP_EFORMAT, "TPMS_CLOCK_INFO: safe is %u, not a TPMI_YES_NO", safe);
        q.safe = safe;
        k = cp_cursor_be64(&c, &q.firmware_version);
        if (k < 0)
                return cp_error_wrap("TPMS_ATTEST firmwareVersion: ");
        k = parse_pcr_selection(&c, &q);
        if (k < 0)
                return k;
        k = read_tpm2b(&c, CP_TPM_DIGEST_MAX, "TPMS_QUOTE_INFO pcrDigest", &q.pcr_digest, &q.pcr_digest_len);
        if (k < 0)
                return k;
        k = cp_cursor_end(&c, "TPMS_ATTEST");
        if (k < 0)
                return k;

        q.attest = data;
        q.attest_len = len;
        *ret = q;
        return 0;
}

int cp_tpm_signature_parse(const uint8_t *data, size_t len, cp_tpm_signature *ret) {
        cp_tpm_signature s = {};
        cp_cursor c;
        int k;

        if (!ret || (!data && len > 0))
                return CP_ERROR(CP_EINVAL, "cp_tpm_signature_parse: NULL argument");
        if (len > CP_MAX_TPM_SIGNATURE)
                return CP_ERROR(CP_ETOOBIG, "TPMT_SIGNATURE of %zu bytes exceeds %u", len, CP_MAX_TPM_SIGNATURE);

        c = cp_cursor_make(data, len);
        k = cp_cursor_be16(&c, &s.sig_alg);
        if (k < 0)
                return cp_error_wrap("TPMT_SIGNATURE sigAlg: ");
        if (s.sig_alg != CP_TPM_ALG_RSASSA && s.sig_alg != CP_TPM_ALG_RSAPSS && s.sig_alg != CP_TPM_ALG_ECDSA)
                return CP_ERROR(CP_EUNSUPPORTED, "TPMT_SIGNATURE: unsupported sigAlg 0x%04x", s.sig_alg);
        k = cp_cursor_be16(&c, &s.hash_alg);
        if (k < 0)
                return cp_error_wrap("TPMT_SIGNATURE hash: ");
        if (!tpm_md(s.hash_alg))
                return CP_ERROR(CP_EUNSUPPORTED, "TPMT_SIGNATURE: unsupported hash 0x%04x", s.hash_alg);
        if (s.sig_alg == CP_TPM_ALG_ECDSA) {
                k = read_tpm2b(&c, TPM_ECC_PARAM_MAX, "TPMS_SIGNATURE_ECDSA signatureR", &s.ecdsa_r,
                               &s.ecdsa_r_len);
                if (k < 0)
                        return k;
                k = read_tpm2b(&c, TPM_ECC_PARAM_MAX, "TPMS_SIGNATURE_ECDSA signatureS", &s.ecdsa_s,
                               &s.ecdsa_s_len);
                if (k < 0)
                        return k;
                if (s.ecdsa_r_len == 0 || s.ecdsa_s_len == 0)
                        return CP_ERROR(CP_EFORMAT, "TPMS_SIGNATURE_ECDSA: empty r or s");
        } else {
                k = read_tpm2b(&c, TPM_RSA_SIG_MAX, "TPMS_SIGNATURE_RSA sig", &s.sig, &s.sig_len);
                if (k < 0)
                        return k;
                if (s.sig_len == 0)
                        return CP_ERROR(CP_EFORMAT, "TPMS_SIGNATURE_RSA: empty signature");
        }
        k = cp_cursor_end(&c, "TPMT_SIGNATURE");
        if (k < 0)
                return k;
        *ret = s;
        return 0;
}

int cp_tpm_signature_from_raw(const uint8_t *sig, size_t len, uint16_t sig_alg, uint16_t hash_alg,
                              cp_tpm_signature *ret) {
        if (!ret || !sig)
                return CP_ERROR(CP_EINVAL, "cp_tpm_signature_from_raw: NULL argument");
        if (sig_alg != CP_TPM_ALG_RSASSA && sig_alg != CP_TPM_ALG_RSAPSS)
                return CP_ERROR(CP_EUNSUPPORTED, "raw signatures must be RSASSA or RSAPSS, not 0x%04x", sig_alg);
        if (!tpm_md(hash_alg))
                return CP_ERROR(CP_EUNSUPPORTED, "unsupported signature hash 0x%04x", hash_alg);
        if (len == 0 || len > TPM_RSA_SIG_MAX)
                return CP_ERROR(CP_EFORMAT, "raw RSA signature of %zu bytes (want 1..%u)", len, TPM_RSA_SIG_MAX);
        *ret = (cp_tpm_signature) {
                .sig_alg = sig_alg,
                .hash_alg = hash_alg,
                .sig = sig,
                .sig_len = len,
        };
        return 0;
}

static inline void md_ctx_freep(EVP_MD_CTX **p) {
        EVP_MD_CTX_free(*p);
}

static inline void ecdsa_sig_freep(ECDSA_SIG **p) {
        ECDSA_SIG_free(*p);
}

static inline void opensslfreep(unsigned char **p) {
        OPENSSL_free(*p);
}

/* DER-encode (r, s) for EVP_DigestVerify. */
static int ecdsa_der(const cp_tpm_signature *sig, unsigned char **ret, size_t *ret_len) {
        _cleanup_(ecdsa_sig_freep) ECDSA_SIG *es = NULL;
        BIGNUM *r, *s;
        unsigned char *der = NULL;
        int n;

        es = ECDSA_SIG_new();
        r = BN_bin2bn(sig->ecdsa_r, (int) sig->ecdsa_r_len, NULL);
        s = BN_bin2bn(sig->ecdsa_s, (int) sig->ecdsa_s_len, NULL);
        if (!es || !r || !s || ECDSA_SIG_set0(es, r, s) != 1) {
                BN_free(r);
                BN_free(s);
                return cp_error_oom();
        }
        n = i2d_ECDSA_SIG(es, &der);
        if (n <= 0)
                return CP_ERROR(CP_ECRYPTO, "i2d_ECDSA_SIG failed");
        *ret = der;
        *ret_len = (size_t) n;
        return 0;
}

static int check_key(EVP_PKEY *pkey, uint16_t sig_alg) {
        if (sig_alg == CP_TPM_ALG_ECDSA) {
                char group[64];
                if (!EVP_PKEY_is_a(pkey, "EC"))
                        return CP_ERROR(CP_ESIG, "ECDSA quote signature but the AK is not an EC key");
                if (EVP_PKEY_get_group_name(pkey, group, sizeof(group), NULL) != 1)
                        return CP_ERROR(CP_EUNSUPPORTED, "AK: EC key without a named curve");
                if (strcmp(group, "prime256v1") != 0 && strcmp(group, "secp384r1") != 0 &&
                    strcmp(group, "secp521r1") != 0)
                        return CP_ERROR(CP_EUNSUPPORTED, "AK: unsupported curve %s", group);
                return 0;
        }
        if (!EVP_PKEY_is_a(pkey, "RSA") && !(sig_alg == CP_TPM_ALG_RSAPSS && EVP_PKEY_is_a(pkey, "RSA-PSS")))
                return CP_ERROR(CP_ESIG, "RSA quote signature but the AK is not an RSA key");
        if (EVP_PKEY_get_bits(pkey) < AK_RSA_MIN_BITS)
                return CP_ERROR(CP_EUNSUPPORTED, "AK: %d-bit RSA key below %d bits", EVP_PKEY_get_bits(pkey),
                                AK_RSA_MIN_BITS);
        return 0;
}

int cp_tpm_quote_verify_signature(const cp_tpm_quote *quote, const cp_tpm_signature *sig, const void *ak_pkey) {
        _cleanup_(md_ctx_freep) EVP_MD_CTX *mctx = NULL;
        _cleanup_(opensslfreep) unsigned char *der = NULL;
        EVP_PKEY *pkey = (EVP_PKEY *) ak_pkey;
        EVP_PKEY_CTX *pctx = NULL;
        const unsigned char *sbuf;
        size_t slen = 0;
        const EVP_MD *md;
        int k, v;

        if (!quote || !sig || !ak_pkey || !quote->attest)
                return CP_ERROR(CP_EINVAL, "cp_tpm_quote_verify_signature: NULL argument");
        md = tpm_md(sig->hash_alg);
        if (!md)
                return CP_ERROR(CP_EUNSUPPORTED, "unsupported signature hash 0x%04x", sig->hash_alg);
        if (sig->sig_alg != CP_TPM_ALG_RSASSA && sig->sig_alg != CP_TPM_ALG_RSAPSS &&
            sig->sig_alg != CP_TPM_ALG_ECDSA)
                return CP_ERROR(CP_EUNSUPPORTED, "unsupported signature scheme 0x%04x", sig->sig_alg);
        k = check_key(pkey, sig->sig_alg);
        if (k < 0)
                return k;

        if (sig->sig_alg == CP_TPM_ALG_ECDSA) {
                if (!sig->ecdsa_r || !sig->ecdsa_s || sig->ecdsa_r_len == 0 || sig->ecdsa_s_len == 0 ||
                    sig->ecdsa_r_len > TPM_ECC_PARAM_MAX || sig->ecdsa_s_len > TPM_ECC_PARAM_MAX)
                        return CP_ERROR(CP_ESIG, "malformed ECDSA signature");
                k = ecdsa_der(sig, &der, &slen);
                if (k < 0)
                        return k;
                sbuf = der;
        } else {
                if (!sig->sig || sig->sig_len == 0 || sig->sig_len != (size_t) EVP_PKEY_get_size(pkey))
                        return CP_ERROR(CP_ESIG, "RSA signature of %zu bytes for a %d-byte modulus", sig->sig_len,
                                        EVP_PKEY_get_size(pkey));
                sbuf = sig->sig;
                slen = sig->sig_len;
        }

        mctx = EVP_MD_CTX_new();
        if (!mctx)
                return cp_error_oom();
        if (EVP_DigestVerifyInit(mctx, &pctx, md, NULL, pkey) != 1) {
                ERR_clear_error();
                return CP_ERROR(CP_ECRYPTO, "EVP_DigestVerifyInit failed");
        }
        if (sig->sig_alg == CP_TPM_ALG_RSASSA) {
                if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1) {
                        ERR_clear_error();
                        return CP_ERROR(CP_ECRYPTO, "cannot select PKCS#1 v1.5 padding");
                }
        } else if (sig->sig_alg == CP_TPM_ALG_RSAPSS) {
                if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
                    EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, md) != 1 ||
                    EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_AUTO) != 1) {
                        ERR_clear_error();
                        return CP_ERROR(CP_ECRYPTO, "cannot select PSS padding");
                }
        }
        v = EVP_DigestVerify(mctx, sbuf, slen, quote->attest, quote->attest_len);
        ERR_clear_error();
        if (v != 1)
                return CP_ERROR(CP_ESIG, "quote signature does not verify with the AK");
        return 0;
}

int cp_tpm_quote_check_nonce(const cp_tpm_quote *quote, const uint8_t *nonce, size_t nonce_len) {
        if (!quote || (!nonce && nonce_len > 0))
                return CP_ERROR(CP_EINVAL, "cp_tpm_quote_check_nonce: NULL argument");
        if (quote->extra_data_len != nonce_len)
                return CP_ERROR(CP_EBINDING, "quote extraData has %zu bytes, nonce has %zu", quote->extra_data_len,
                                nonce_len);
        if (nonce_len > 0 && !cp_ct_eq(quote->extra_data, nonce, nonce_len))
                return CP_ERROR(CP_EBINDING, "quote extraData differs from the nonce");
        return 0;
}

static const cp_tpm_pcr_bank *find_bank(const cp_tpm_pcr_bank *banks, size_t n_banks, uint16_t alg) {
        for (size_t i = 0; i < n_banks; i++)
                if (banks[i].hash_alg == alg)
                        return &banks[i];
        return NULL;
}

int cp_tpm_quote_check_pcrs(const cp_tpm_quote *quote, uint16_t digest_alg, const cp_tpm_pcr_bank *banks,
                            size_t n_banks) {
        _cleanup_(md_ctx_freep) EVP_MD_CTX *mctx = NULL;
        uint8_t digest[EVP_MAX_MD_SIZE];
        unsigned int dlen = 0;
        const EVP_MD *md;

        if (!quote || (!banks && n_banks > 0))
                return CP_ERROR(CP_EINVAL, "cp_tpm_quote_check_pcrs: NULL argument");
        if (quote->n_selections > CP_TPM_PCR_BANKS_MAX)
                return CP_ERROR(CP_EINVAL, "cp_tpm_quote_check_pcrs: corrupt quote");
        md = tpm_md(digest_alg);
        if (!md)
                return CP_ERROR(CP_EUNSUPPORTED, "unsupported PCR digest hash 0x%04x", digest_alg);

        mctx = EVP_MD_CTX_new();
        if (!mctx)
                return cp_error_oom();
        if (EVP_DigestInit_ex(mctx, md, NULL) != 1)
                return CP_ERROR(CP_ECRYPTO, "EVP_DigestInit_ex failed");
        for (size_t i = 0; i < quote->n_selections; i++) {
                const cp_tpm_pcr_selection *sel = &quote->selections[i];
                const cp_tpm_pcr_bank *bank = find_bank(banks, n_banks, sel->hash_alg);
                size_t vlen = cp_tpm_hash_size(sel->hash_alg);

                if (vlen == 0)
                        return CP_ERROR(CP_EINVAL, "cp_tpm_quote_check_pcrs: corrupt quote");
                for (unsigned idx = 0; idx < CP_TPM_PCR_COUNT; idx++) {
                        if (!cp_tpm_pcr_selected(sel, idx))
                                continue;
                        if (!bank)
                                return CP_ERROR(CP_EINVAL, "quote selects PCR bank 0x%04x but no values were given",
                                                sel->hash_alg);
                        if (!bank->values[idx])
                                return CP_ERROR(CP_EINVAL, "quote selects PCR %u of bank 0x%04x but no value was given",
                                                idx, sel->hash_alg);
                        if (EVP_DigestUpdate(mctx, bank->values[idx], vlen) != 1)
                                return CP_ERROR(CP_ECRYPTO, "EVP_DigestUpdate failed");
                }
        }
        /* Every value the caller supplied must be covered by the quote: a
         * value the quote does not select would otherwise pass unchecked. */
        unsigned covered = 0;
        for (size_t b = 0; b < n_banks; b++) {
                const cp_tpm_pcr_selection *sel = NULL;
                for (size_t i = 0; i < quote->n_selections; i++)
                        if (quote->selections[i].hash_alg == banks[b].hash_alg)
                                sel = &quote->selections[i];
                for (unsigned idx = 0; idx < CP_TPM_PCR_COUNT; idx++) {
                        if (!banks[b].values[idx])
                                continue;
                        if (!sel || !cp_tpm_pcr_selected(sel, idx))
                                return CP_ERROR(CP_EBINDING,
                                                "PCR %u of bank 0x%04x was supplied but the quote does not cover it",
                                                idx, banks[b].hash_alg);
                        covered++;
                }
        }
        if (covered == 0)
                return CP_ERROR(CP_EBINDING, "the quote covers no supplied PCR value");
        if (EVP_DigestFinal_ex(mctx, digest, &dlen) != 1)
                return CP_ERROR(CP_ECRYPTO, "EVP_DigestFinal_ex failed");
        if (quote->pcr_digest_len != dlen || !quote->pcr_digest)
                return CP_ERROR(CP_EBINDING, "quote pcrDigest has %zu bytes, expected %u", quote->pcr_digest_len,
                                dlen);
        if (!cp_ct_eq(quote->pcr_digest, digest, dlen))
                return CP_ERROR(CP_EBINDING, "PCR values do not match the quote's pcrDigest");
        return 0;
}

int cp_tpm_quote_verify(const cp_tpm_quote *quote, const cp_tpm_signature *sig, const void *ak_pkey,
                        const uint8_t *nonce, size_t nonce_len, const cp_tpm_pcr_bank *banks, size_t n_banks) {
        int k;

        if (!quote || !sig || !ak_pkey || !nonce || nonce_len == 0 || !banks || n_banks == 0)
                return CP_ERROR(CP_EINVAL, "cp_tpm_quote_verify: missing argument (a nonce is required)");
        k = cp_tpm_quote_verify_signature(quote, sig, ak_pkey);
        if (k < 0)
                return k;
        k = cp_tpm_quote_check_nonce(quote, nonce, nonce_len);
        if (k < 0)
                return k;
        return cp_tpm_quote_check_pcrs(quote, sig->hash_alg, banks, n_banks);
}
