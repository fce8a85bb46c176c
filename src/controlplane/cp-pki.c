/* SPDX-License-Identifier: Apache-2.0 */
#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "basic/fileio.h"
#include "basic/secure.h"
#include "controlplane/cp-pki.h"

#define CA_DAYS 3650
#define MAX_PEM (64 * 1024)

static int set_serial(X509 *x) {
        unsigned char serial[16];
        if (RAND_bytes(serial, sizeof serial) != 1)
                return CP_ERROR(CP_ECRYPTO, "RAND_bytes failed");
        serial[0] &= 0x7f;
        serial[0] |= 0x01; /* positive, no leading zero */
        BIGNUM *bn = BN_bin2bn(serial, sizeof serial, NULL);
        int ok = bn && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x));
        BN_free(bn);
        return ok ? 0 : CP_ERROR(CP_ECRYPTO, "cannot set a certificate serial");
}

static int add_ext(X509 *x, X509 *issuer, int nid, const char *value) {
        X509V3_CTX ctx;
        X509V3_set_ctx_nodb(&ctx);
        X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
        X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
        int ok = e && X509_add_ext(x, e, -1);
        X509_EXTENSION_free(e);
        return ok ? 0 : CP_ERROR(CP_ECRYPTO, "cannot add certificate extension %s", OBJ_nid2sn(nid));
}

static int to_pem(X509 *x, EVP_PKEY *k, char **ret_cert, char **ret_key) {
        BIO *cb = BIO_new(BIO_s_mem()), *kb = k ? BIO_new(BIO_s_secmem()) : NULL;
        int r = CP_ERROR(CP_ECRYPTO, "cannot encode PEM");
        char *cert = NULL, *key = NULL, *p;
        if (!cb || (k && !kb) || !PEM_write_bio_X509(cb, x) ||
            (k && !PEM_write_bio_PrivateKey(kb, k, NULL, NULL, 0, NULL, NULL)))
                goto out;
        long n = BIO_get_mem_data(cb, &p);
        cert = strndup(p, (size_t) n);
        if (k) {
                n = BIO_get_mem_data(kb, &p);
                key = strndup(p, (size_t) n);
        }
        if (!cert || (k && !key)) {
                r = cp_error_oom();
                goto out;
        }
        cp_error_clear();
        *ret_cert = cert;
        if (ret_key)
                *ret_key = key;
        cert = key = NULL;
        r = 0;
out:
        free(cert);
        if (key) {
                cp_wipe(key, strlen(key));
                free(key);
        }
        BIO_free(cb);
        BIO_free_all(kb);
        return r;
}

static X509 *new_cert(EVP_PKEY *pub, const char *cn, long days) {
        X509 *x = X509_new();
        if (!x)
                return NULL;
        X509_NAME *nm = X509_get_subject_name(x);
        if (!X509_set_version(x, 2) || set_serial(x) < 0 || !X509_gmtime_adj(X509_getm_notBefore(x), -300) ||
            !X509_gmtime_adj(X509_getm_notAfter(x), days * 86400) || !X509_set_pubkey(x, pub) ||
            !X509_NAME_add_entry_by_txt(nm, "O", MBSTRING_ASC, (const unsigned char *) "confpool", -1, -1, 0) ||
            !X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_ASC, (const unsigned char *) cn, -1, -1, 0)) {
                X509_free(x);
                return NULL;
        }
        return x;
}

/* Load ca.pem + ca-key.pem, or create both. */
static int load_or_create_ca(const char *dir, X509 **ret_ca, EVP_PKEY **ret_key) {
        char cp[4096], kp[4096];
        snprintf(cp, sizeof cp, "%s/ca.pem", dir);
        snprintf(kp, sizeof kp, "%s/ca-key.pem", dir);
        uint8_t *c = NULL, *k = NULL;
        size_t cl = 0, kl = 0;
        if (cp_read_file(cp, MAX_PEM, &c, &cl) >= 0 && cp_read_file(kp, MAX_PEM, &k, &kl) >= 0) {
                BIO *cb = BIO_new_mem_buf(c, (int) cl), *kb = BIO_new_mem_buf(k, (int) kl);
                X509 *ca = cb ? PEM_read_bio_X509(cb, NULL, NULL, NULL) : NULL;
                EVP_PKEY *key = kb ? PEM_read_bio_PrivateKey(kb, NULL, NULL, NULL) : NULL;
                BIO_free(cb);
                BIO_free(kb);
                free(c);
                cp_wipe(k, kl);
                free(k);
                if (!ca || !key || X509_check_private_key(ca, key) != 1 || X509_check_ca(ca) < 1) {
                        X509_free(ca);
                        EVP_PKEY_free(key);
                        return CP_ERROR(CP_EFORMAT, "%s / %s: not a CA certificate and its key", cp, kp);
                }
                *ret_ca = ca;
                *ret_key = key;
                return 0;
        }
        free(c);
        cp_error_clear();
        EVP_PKEY *key = EVP_EC_gen("P-256");
        X509 *ca = key ? new_cert(key, "confpoold local CA", CA_DAYS) : NULL;
        int r = ca ? 0 : CP_ERROR(CP_ECRYPTO, "cannot create the CA certificate");
        if (r >= 0)
                X509_set_issuer_name(ca, X509_get_subject_name(ca));
        if (r >= 0)
                r = add_ext(ca, ca, NID_basic_constraints, "critical,CA:TRUE,pathlen:0");
        if (r >= 0)
                r = add_ext(ca, ca, NID_key_usage, "critical,keyCertSign,cRLSign");
        if (r >= 0)
                r = add_ext(ca, ca, NID_subject_key_identifier, "hash");
        if (r >= 0 && !X509_sign(ca, key, EVP_sha256()))
                r = CP_ERROR(CP_ECRYPTO, "cannot sign the CA certificate");
        char *cpem = NULL, *kpem = NULL;
        if (r >= 0)
                r = to_pem(ca, key, &cpem, &kpem);
        if (r >= 0)
                r = cp_write_file(kp, kpem, strlen(kpem), 0600);
        if (r >= 0)
                r = cp_write_file(cp, cpem, strlen(cpem), 0644);
        free(cpem);
        if (kpem) {
                cp_wipe(kpem, strlen(kpem));
                free(kpem);
        }
        if (r < 0) {
                X509_free(ca);
                EVP_PKEY_free(key);
                return r;
        }
        *ret_ca = ca;
        *ret_key = key;
        return 0;
}

int cp_pki_server_cert(const char *dir, const char *listen, unsigned leaf_days, char **ret_chain_pem,
                       char **ret_key_pem) {
        X509 *ca = NULL, *leaf = NULL;
        EVP_PKEY *ca_key = NULL, *key = NULL;
        char *leaf_pem = NULL, *key_pem = NULL, *ca_pem = NULL, *chain = NULL;
        int r = load_or_create_ca(dir, &ca, &ca_key);
        if (r >= 0) {
                key = EVP_EC_gen("P-256");
                leaf = key ? new_cert(key, "localhost", leaf_days) : NULL;
                if (!leaf)
                        r = CP_ERROR(CP_ECRYPTO, "cannot create the server certificate");
        }
        if (r >= 0)
                X509_set_issuer_name(leaf, X509_get_subject_name(ca));
        /* SANs: the loopback names plus the listen address when it is another one */
        char san[512] = "DNS:localhost,IP:127.0.0.1,IP:0:0:0:0:0:0:0:1";
        if (listen && strcmp(listen, "127.0.0.1") != 0 && strcmp(listen, "::1") != 0 &&
            strcmp(listen, "localhost") != 0 && strlen(listen) < 200 && !strpbrk(listen, ",= \t\r\n")) {
                unsigned char ip[16];
                bool is_ip = inet_pton(AF_INET, listen, ip) == 1 || inet_pton(AF_INET6, listen, ip) == 1;
                size_t n = strlen(san);
                snprintf(san + n, sizeof san - n, ",%s:%s", is_ip ? "IP" : "DNS", listen);
        }
        if (r >= 0)
                r = add_ext(leaf, ca, NID_basic_constraints, "critical,CA:FALSE");
        if (r >= 0)
                r = add_ext(leaf, ca, NID_key_usage, "critical,digitalSignature");
        if (r >= 0)
                r = add_ext(leaf, ca, NID_ext_key_usage, "serverAuth");
        if (r >= 0)
                r = add_ext(leaf, ca, NID_subject_alt_name, san);
        if (r >= 0)
                r = add_ext(leaf, ca, NID_subject_key_identifier, "hash");
        if (r >= 0)
                r = add_ext(leaf, ca, NID_authority_key_identifier, "keyid:always");
        if (r >= 0 && !X509_sign(leaf, ca_key, EVP_sha256()))
                r = CP_ERROR(CP_ECRYPTO, "cannot sign the server certificate");
        if (r >= 0)
                r = to_pem(leaf, key, &leaf_pem, &key_pem);
        if (r >= 0)
                r = to_pem(ca, NULL, &ca_pem, NULL);
        if (r >= 0) {
                size_t a = strlen(leaf_pem), b = strlen(ca_pem);
                chain = malloc(a + b + 1);
                if (!chain)
                        r = cp_error_oom();
                else {
                        memcpy(chain, leaf_pem, a);
                        memcpy(chain + a, ca_pem, b + 1);
                }
        }
        char path[4096];
        if (r >= 0) {
                snprintf(path, sizeof path, "%s/tls-key.pem", dir);
                r = cp_write_file(path, key_pem, strlen(key_pem), 0600);
        }
        if (r >= 0) {
                snprintf(path, sizeof path, "%s/tls-cert.pem", dir);
                r = cp_write_file(path, chain, strlen(chain), 0644);
        }
        if (r >= 0) {
                *ret_chain_pem = chain;
                *ret_key_pem = key_pem;
                chain = key_pem = NULL;
        }
        free(leaf_pem);
        free(ca_pem);
        free(chain);
        if (key_pem) {
                cp_wipe(key_pem, strlen(key_pem));
                free(key_pem);
        }
        X509_free(ca);
        X509_free(leaf);
        EVP_PKEY_free(ca_key);
        EVP_PKEY_free(key);
        return r;
}

/* The subject's entries of nid: exactly one, equal to want. */
static bool name_is(X509_NAME *n, int nid, const char *want) {
        int i = X509_NAME_get_index_by_NID(n, nid, -1);
        if (i < 0 || X509_NAME_get_index_by_NID(n, nid, i) >= 0)
                return false;
        const ASN1_STRING *s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(n, i));
        return s && (size_t) ASN1_STRING_length(s) == strlen(want) &&
               memcmp(ASN1_STRING_get0_data(s), want, strlen(want)) == 0;
}

int cp_pki_kubelet_cert(const char *dir, const char *csr_pem, size_t len, const char *node, unsigned long seconds,
                        char **ret_pem, char *why, size_t why_size) {
        char cn[128];
        snprintf(cn, sizeof cn, "system:node:%s", node);
        BIO *b = BIO_new_mem_buf(csr_pem, (int) len);
        X509_REQ *req = b ? PEM_read_bio_X509_REQ(b, NULL, NULL, NULL) : NULL;
        BIO_free(b);
        EVP_PKEY *pub = req ? X509_REQ_get_pubkey(req) : NULL;
        X509_NAME *sn = req ? X509_REQ_get_subject_name(req) : NULL;
        int r = 0;
        if (!req || !pub || X509_REQ_verify(req, pub) != 1)
                snprintf(why, why_size, "spec.request is not a PEM certificate request signed by its key");
        else if (!name_is(sn, NID_commonName, cn) || !name_is(sn, NID_organizationName, "system:nodes") ||
                 X509_NAME_entry_count(sn) != 2)
                snprintf(why, why_size, "the request's subject must be exactly O=system:nodes, CN=%.100s (the "
                         "node this request authenticated as)", cn);
        else if (EVP_PKEY_get_base_id(pub) != EVP_PKEY_EC && EVP_PKEY_get_base_id(pub) != EVP_PKEY_RSA)
                snprintf(why, why_size, "the request's key must be EC or RSA");
        else
                why[0] = 0;
        X509 *ca = NULL, *x = NULL;
        EVP_PKEY *key = NULL;
        if (!why[0])
                r = load_or_create_ca(dir, &ca, &key);
        if (!why[0] && r >= 0) {
                x = X509_new();
                X509_NAME *nm = x ? X509_get_subject_name(x) : NULL;
                if (!x || !X509_set_version(x, 2) || set_serial(x) < 0 ||
                    /* backdated for clock skew: 5 min, or a tenth of a short lifetime
                     * (so that renewal at 70-90 % of it lies in the future) */
                    !X509_gmtime_adj(X509_getm_notBefore(x), -(long) (seconds / 10 < 300 ? seconds / 10 : 300)) ||
                    !X509_gmtime_adj(X509_getm_notAfter(x), (long) seconds) || !X509_set_pubkey(x, pub) ||
                    !X509_NAME_add_entry_by_txt(nm, "O", MBSTRING_ASC, (const unsigned char *) "system:nodes", -1, -1, 0) ||
                    !X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_ASC, (const unsigned char *) cn, -1, -1, 0) ||
                    !X509_set_issuer_name(x, X509_get_subject_name(ca)))
                        r = CP_ERROR(CP_ECRYPTO, "cannot build the kubelet client certificate");
                if (r >= 0)
                        r = add_ext(x, ca, NID_basic_constraints, "critical,CA:FALSE");
                if (r >= 0)
                        r = add_ext(x, ca, NID_key_usage, "critical,digitalSignature");
                if (r >= 0)
                        r = add_ext(x, ca, NID_ext_key_usage, "clientAuth");
                if (r >= 0)
                        r = add_ext(x, ca, NID_authority_key_identifier, "keyid");
                if (r >= 0 && !X509_sign(x, key, EVP_sha256()))
                        r = CP_ERROR(CP_ECRYPTO, "cannot sign the kubelet client certificate");
                BIO *o = r >= 0 ? BIO_new(BIO_s_mem()) : NULL;
                char *data = NULL;
                long n = o && PEM_write_bio_X509(o, x) ? BIO_get_mem_data(o, &data) : 0;
                if (r >= 0 && (n <= 0 || !(*ret_pem = strndup(data, (size_t) n))))
                        r = CP_ERROR(CP_ENOMEM, "cannot encode the kubelet client certificate");
                BIO_free(o);
        }
        X509_free(x);
        X509_free(ca);
        EVP_PKEY_free(key);
        EVP_PKEY_free(pub);
        X509_REQ_free(req);
        return why[0] ? CP_ERROR(CP_EPOLICY, "%s", why) : r;
}
