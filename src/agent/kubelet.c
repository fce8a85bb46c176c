/* SPDX-License-Identifier: Apache-2.0 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "agent/kubelet.h"
#include "basic/codec.h"
#include "basic/fileio.h"
#include "basic/secure.h"
#include "service/httpc.h"

/* A PEM CSR for the node (malloc()ed) and its key. */
static int make_csr(const char *name, EVP_PKEY **ret_key, char **ret_pem) {
        char cn[128];
        snprintf(cn, sizeof cn, "system:node:%s", name);
        EVP_PKEY *k = EVP_EC_gen("P-256");
        X509_REQ *req = X509_REQ_new();
        X509_NAME *n = req ? X509_REQ_get_subject_name(req) : NULL;
        BIO *b = BIO_new(BIO_s_mem());
        char *data = NULL;
        int r = 0;
        if (!k || !req || !b || !X509_REQ_set_version(req, 0) ||
            !X509_NAME_add_entry_by_txt(n, "O", MBSTRING_ASC, (const unsigned char *) "system:nodes", -1, -1, 0) ||
            !X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *) cn, -1, -1, 0) ||
            !X509_REQ_set_pubkey(req, k) || !X509_REQ_sign(req, k, EVP_sha256()) || !PEM_write_bio_X509_REQ(b, req))
                r = CP_ERROR(CP_ECRYPTO, "cannot make the kubelet's certificate request");
        long len = r >= 0 ? BIO_get_mem_data(b, &data) : 0;
        if (r >= 0 && (len <= 0 || !(*ret_pem = strndup(data, (size_t) len))))
                r = cp_error_oom();
        BIO_free(b);
        X509_REQ_free(req);
        if (r < 0) {
                EVP_PKEY_free(k);
                return r;
        }
        *ret_key = k;
        return 0;
}

static int write_key(const char *path, EVP_PKEY *k) {
        BIO *b = BIO_new(BIO_s_mem());
        char *data = NULL;
        long len = b && PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL) ? BIO_get_mem_data(b, &data) : 0;
        int r = len > 0 ? cp_write_file(path, data, (size_t) len, 0600) : CP_ERROR(CP_ECRYPTO, "cannot encode the key");
        if (len > 0)
                cp_wipe(data, (size_t) len);
        BIO_free(b);
        return r;
}

/* POST the CSR; the issued certificate's PEM (malloc()ed). */
static int submit(const json_t *kube, const char *bearer, const char *ca_file, const char *name, const char *csr,
                  char **ret_cert) {
        char url[1200];
        snprintf(url, sizeof url, "%s/apis/certificates.k8s.io/v1/certificatesigningrequests",
                 json_string_value(json_object_get(kube, "server")));
        char *b64 = malloc(cp_b64_encoded_len(strlen(csr), CP_B64_STD) + 1);
        if (!b64)
                return cp_error_oom();
        cp_b64_encode((const uint8_t *) csr, strlen(csr), CP_B64_STD, b64);
        char csr_name[120];
        snprintf(csr_name, sizeof csr_name, "node-csr-%.64s", name);
        json_t *body = json_pack("{s:s,s:s,s:{s:s},s:{s:s,s:s,s:[s,s]}}", "apiVersion", "certificates.k8s.io/v1", "kind",
                                 "CertificateSigningRequest", "metadata", "name", csr_name, "spec", "request", b64,
                                 "signerName", "kubernetes.io/kube-apiserver-client-kubelet", "usages",
                                 "digital signature", "client auth");
        free(b64);
        char *txt = body ? json_dumps(body, JSON_COMPACT) : NULL;
        json_decref(body);
        if (!txt)
                return cp_error_oom();
        cp_httpc_options ho = {.timeout_ms = 15000, .bearer = bearer, .ca_file = ca_file};
        cp_httpc_response resp = {0};
        int r = cp_httpc_request(&ho, "POST", url, NULL, txt, strlen(txt), &resp);
        free(txt);
        json_t *j = NULL;
        if (r >= 0 && cp_httpc_response_json(&resp, &j) < 0)
                cp_error_clear();
        const char *cert = json_string_value(json_object_get(json_object_get(j, "status"), "certificate"));
        const char *msg = json_string_value(json_object_get(j, "message"));
        if (r >= 0 && (resp.status != 201 || !cert))
                r = CP_ERROR(CP_EPOLICY, "certificate request refused (HTTP %ld): %.300s", resp.status,
                             msg ? msg : "no message");
        if (r >= 0) {
                size_t cap = cp_b64_decoded_max(strlen(cert)) + 1, n = 0;
                char *pem = malloc(cap);
                if (!pem || cp_b64_decode(cert, strlen(cert), CP_B64_STD, (uint8_t *) pem, cap - 1, &n) < 0) {
                        free(pem);
                        r = CP_ERROR(CP_EFORMAT, "the issued certificate is not base64");
                } else {
                        pem[n] = 0;
                        *ret_cert = pem;
                }
        }
        json_decref(j);
        cp_httpc_response_clear(&resp);
        return r;
}

int cp_kubelet_bootstrap(const json_t *kube, const cp_diskkey_kbs_config *kc, const char *attestation_token,
                         const char *name, const char *ca_file, const char *out_dir) {
        const char *id = json_string_value(json_object_get(kube, "bootstrapKeyId"));
        if (!id || !json_string_value(json_object_get(kube, "server")))
                return CP_ERROR(CP_EFORMAT, "the control plane named no bootstrap key or server");
        cp_diskkey_kbs_config bc = *kc;
        bc.disk_id = id;
        cp_diskkey_provider p;
        cp_diskkey_kbs(&bc, &p);
        uint8_t key[CP_DISK_KEY_LEN];
        char token[2 * CP_DISK_KEY_LEN + 1], path[4400];
        int r = p.release(p.userdata, attestation_token, name, key);
        if (r < 0)
                return r;
        cp_hex_encode(key, sizeof key, token);
        cp_wipe(key, sizeof key);
        EVP_PKEY *k = NULL;
        char *csr = NULL, *cert = NULL;
        r = make_csr(name, &k, &csr);
        if (r >= 0)
                r = submit(kube, token, ca_file, name, csr, &cert);
        cp_wipe(token, sizeof token);
        if (r >= 0) {
                snprintf(path, sizeof path, "%s/kubelet-client-key.pem", out_dir);
                r = write_key(path, k);
        }
        if (r >= 0) {
                snprintf(path, sizeof path, "%s/kubelet-client.pem", out_dir);
                r = cp_write_file(path, cert, strlen(cert), 0644);
        }
        free(csr);
        free(cert);
        EVP_PKEY_free(k);
        return r;
}
