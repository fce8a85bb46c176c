/* SPDX-License-Identifier: Apache-2.0 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/time.h>
#include <unistd.h>
#include <time.h>

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

/* The certificate and its key in one PEM file (0600, atomic), as kubelet
 * keeps /var/lib/kubelet/pki/kubelet-client-current.pem. */
static int write_pair(const char *path, const char *cert_pem, EVP_PKEY *k) {
        BIO *b = BIO_new(BIO_s_mem());
        char *data = NULL;
        long len = b && BIO_puts(b, cert_pem) > 0 && PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL)
                           ? BIO_get_mem_data(b, &data)
                           : 0;
        int r = len > 0 ? cp_write_file(path, data, (size_t) len, 0600)
                        : CP_ERROR(CP_ECRYPTO, "cannot encode the kubelet client certificate and key");
        if (len > 0)
                cp_wipe(data, (size_t) len);
        BIO_free(b);
        return r;
}

/* POST the CSR with a bearer (the bootstrap token) or, renewing, as the
 * node with its current client certificate (pair: certificate + key file);
 * the issued certificate's PEM (malloc()ed). */
static int submit(const json_t *kube, const char *bearer, const char *pair, const char *ca_file, const char *name,
                  const char *csr, char **ret_cert) {
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
        cp_httpc_options ho = {.timeout_ms = 15000, .bearer = bearer, .ca_file = ca_file, .client_cert_file = pair,
                               .client_key_file = pair};
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

/* A new key and CSR, submitted (bootstrap token, or the current pair),
 * the issued certificate and the key written to dir/file. */
static int request_pair(const json_t *kube, const char *bearer, const char *pair, const char *ca_file, const char *name,
                        const char *dir, const char *file) {
        EVP_PKEY *k = NULL;
        char *csr = NULL, *cert = NULL, path[4400];
        int r = make_csr(name, &k, &csr);
        if (r >= 0)
                r = submit(kube, bearer, pair, ca_file, name, csr, &cert);
        if (r >= 0) {
                snprintf(path, sizeof path, "%s/%s", dir, file);
                r = write_pair(path, cert, k);
        }
        free(csr);
        free(cert);
        EVP_PKEY_free(k);
        return r;
}

int cp_kubelet_bootstrap(const json_t *kube, const cp_diskkey_kbs_config *kc, const char *attestation_token,
                         const char *name, const char *ca_file, const char *out_dir) {
        const char *id = json_string_value(json_object_get(kube, "bootstrapKeyId"));
        if (!id || !json_string_value(json_object_get(kube, "server")))
                return CP_ERROR(CP_EFORMAT, "the control plane named no bootstrap key or server");
        cp_diskkey_kbs_config bc = *kc;
        bc.disk_id = id;
        /* one try: the node is registered and its first heartbeat is due; retries
         * (the boot's disk key takes up to 20) could outlast the heartbeat deadline
         * and get a Ready node replaced.  A failure leaves it Ready without a
         * Kubernetes credential (logged by the caller). */
        bc.tries = 1;
        cp_diskkey_provider p;
        cp_diskkey_kbs(&bc, &p);
        uint8_t key[CP_DISK_KEY_LEN];
        char token[2 * CP_DISK_KEY_LEN + 1];
        int r = p.release(p.userdata, attestation_token, name, key);
        if (r < 0)
                return r;
        cp_hex_encode(key, sizeof key, token);
        cp_wipe(key, sizeof key);
        r = request_pair(kube, token, NULL, ca_file, name, out_dir, CP_KUBELET_CURRENT);
        cp_wipe(token, sizeof token);
        return r;
}

/* PATCH url with a merge-type body as the node; HTTP 200 else why. */
static int patch_as_node(const cp_httpc_options *ho, const char *url, const char *ctype, const char *body,
                         const char *what) {
        char h[120];
        snprintf(h, sizeof h, "Content-Type: %s", ctype);
        const char *hdrs[] = {h, "Accept: application/json", NULL};
        cp_httpc_response resp = {0};
        int r = cp_httpc_request(ho, "PATCH", url, hdrs, body, strlen(body), &resp);
        if (r >= 0 && resp.status != 200) {
                json_t *j = NULL;
                if (cp_httpc_response_json(&resp, &j) < 0)
                        cp_error_clear();
                const char *msg = json_string_value(json_object_get(j, "message"));
                r = CP_ERROR(resp.status == 401 || resp.status == 403 ? CP_EPOLICY : CP_EIO, "%s refused (HTTP %ld): "
                             "%.300s", what, resp.status, msg ? msg : "no message");
                json_decref(j);
        }
        cp_httpc_response_clear(&resp);
        return r;
}

/* The Lease and Node status heartbeat as the node with the pair file. */
static int heartbeat(const char *server, const char *name, const char *ca_file, const char *pair) {
        char url[1400], body[400], now[48], sec[32];
        struct timeval tv;
        gettimeofday(&tv, NULL);
        struct tm tm;
        time_t t = tv.tv_sec;
        gmtime_r(&t, &tm);
        strftime(sec, sizeof sec, "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(now, sizeof now, "%s.%06ldZ", sec, (long) tv.tv_usec);
        cp_httpc_options ho = {.timeout_ms = 10000, .ca_file = ca_file, .client_cert_file = pair,
                               .client_key_file = pair};
        snprintf(url, sizeof url, "%s/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/%s", server, name);
        snprintf(body, sizeof body, "{\"spec\":{\"holderIdentity\":\"%s\",\"renewTime\":\"%s\","
                 "\"leaseDurationSeconds\":40}}", name, now);
        int r = patch_as_node(&ho, url, "application/merge-patch+json", body, "the lease renewal");
        if (r < 0)
                return r;
        snprintf(url, sizeof url, "%s/api/v1/nodes/%s/status", server, name);
        snprintf(body, sizeof body, "{\"status\":{\"conditions\":[{\"type\":\"Ready\",\"lastHeartbeatTime\":\"%sZ\"}]}}",
                 sec);
        return patch_as_node(&ho, url, "application/strategic-merge-patch+json", body, "the node status update");
}

static int64_t asn1_seconds(const ASN1_TIME *a) {
        struct tm tm;
        return a && ASN1_TIME_to_tm(a, &tm) == 1 ? (int64_t) timegm(&tm) : -1;
}

int cp_kubelet_rotation_due(const char *pair, int64_t now, int64_t *ret_at) {
        BIO *b = BIO_new_file(pair, "r");
        X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
        BIO_free(b);
        if (!x)
                return CP_ERROR(CP_EFORMAT, "%s holds no certificate", pair);
        int64_t nb = asn1_seconds(X509_get0_notBefore(x)), na = asn1_seconds(X509_get0_notAfter(x));
        /* kubelet renews at a random 70-90 % of the lifetime; here the point is
         * drawn from the certificate (its serial), so it does not move between
         * heartbeats and differs between nodes */
        const ASN1_INTEGER *sn = X509_get0_serialNumber(x);
        unsigned h = 2166136261u;
        for (int i = 0; sn && i < sn->length; i++)
                h = (h ^ sn->data[i]) * 16777619u;
        X509_free(x);
        if (nb < 0 || na <= nb)
                return CP_ERROR(CP_EFORMAT, "%s: the certificate's validity cannot be read", pair);
        int64_t at = nb + (na - nb) * (700 + (int64_t) (h % 201)) / 1000;
        if (ret_at)
                *ret_at = at;
        return now >= at;
}

int cp_kubelet_renew(const json_t *kube, const char *name, const char *ca_file, const char *node_dir) {
        const char *server = json_string_value(json_object_get(kube, "server"));
        if (!server)
                return CP_ERROR(CP_EFORMAT, "the control plane named no Kubernetes API server");
        char cur[4400], next[4400];
        snprintf(cur, sizeof cur, "%s/%s", node_dir, CP_KUBELET_CURRENT);
        snprintf(next, sizeof next, "%s/%s", node_dir, CP_KUBELET_NEXT);
        int r;
        if (access(next, F_OK) == 0) {
                /* a renewed pair not in use yet: its first use makes it the one
                 * (the old one is refused from then on), then it replaces it */
                r = heartbeat(server, name, ca_file, next);
                if (r >= 0) {
                        if (rename(next, cur) < 0)
                                return CP_ERROR(CP_EIO, "cannot replace %s: %s", cur, strerror(errno));
                        fprintf(stderr, "confpool-agent %s: kubelet: client certificate rotated\n", name);
                        return 0;
                }
                if (r != CP_EPOLICY)
                        return r;
                fprintf(stderr, "confpool-agent %s: kubelet: the renewed certificate was refused (%s); dropped\n", name,
                        cp_error_message());
                cp_error_clear();
                unlink(next);
        }
        if ((r = heartbeat(server, name, ca_file, cur)) < 0)
                return r;
        int due = cp_kubelet_rotation_due(cur, (int64_t) time(NULL), NULL);
        if (due > 0 && (r = request_pair(kube, NULL, cur, ca_file, name, node_dir, CP_KUBELET_NEXT)) < 0) {
                /* the heartbeat went through: retried at the next one */
                fprintf(stderr, "confpool-agent %s: kubelet: certificate renewal: %s\n", name, cp_error_message());
                cp_error_clear();
        } else if (due < 0)
                cp_error_clear();
        return 0;
}
