/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The attested join (kubelet TLS bootstrap, docs/kubernetes.md):
 *   1. a machine registers with its attestation token; confpoold asks the
 *      key broker for a new bootstrap key bound to the node like its disk
 *      key (cp_diskkeys_bootstrap: the node's HOST_DATA, the pool master's
 *      measurement and debug policy) and keeps only SHA-256 of the token
 *      (hex of the 32 bytes) in k8s_bootstrap; the register answer names
 *      the broker id and the cluster's API;
 *   2. the agent releases the key from the broker with its attestation
 *      token, and POSTs a certificates.k8s.io/v1 CertificateSigningRequest
 *      (signer kubernetes.io/kube-apiserver-client-kubelet, O=system:nodes,
 *      CN=system:node:<machine>) with the token as bearer;
 *   3. the token is spent at its first use; the CSR is approved only for
 *      the token's own machine while it is Ready (attested), and signed by
 *      the cluster CA (confpoold's, the kubeconfigs' CA).
 * Refused with a reason: a token never issued or already used (401), a
 * machine that is not attested (403), a CSR naming another node (403).
 * Rotation: a node authenticated by its current client certificate (the
 * Node authorizer's checks: issued by this cluster to that node, the one
 * recorded, its machine attested) may POST a new CSR for its own name, as
 * kubelet rotates its certificate and kube-controller-manager approves a
 * "selfnodeclient" request; the new certificate replaces the recorded one,
 * so the old one is refused from then on.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/bn.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include "basic/codec.h"
#include "basic/secure.h"
#include "controlplane/cp-diskkeys.h"
#include "controlplane/cp-pki.h"
#include "controlplane/k8s-internal.h"

#define SIGNER "kubernetes.io/kube-apiserver-client-kubelet"

int k8s_bootstrap_schema(cp_store *s) {
        return cp_store_exec(s, "CREATE TABLE IF NOT EXISTS k8s_bootstrap (cluster TEXT NOT NULL, machine TEXT NOT NULL, "
                                "pool TEXT NOT NULL, token_sha256 TEXT NOT NULL, used INTEGER NOT NULL DEFAULT 0, "
                                "PRIMARY KEY (cluster, machine));"
                                /* the client certificate issued to each node: the one the
                                 * API accepts (k8s-node.c); a new registration removes it */
                                "CREATE TABLE IF NOT EXISTS k8s_node_cert (cluster TEXT NOT NULL, machine TEXT NOT NULL, "
                                "pool TEXT NOT NULL, sha256 TEXT NOT NULL, serial TEXT NOT NULL, "
                                "PRIMARY KEY (cluster, machine));"
                                /* a renewed certificate not used yet: the recorded one
                                 * stays accepted until the node first uses this one */
                                "CREATE TABLE IF NOT EXISTS k8s_node_cert_next (cluster TEXT NOT NULL, "
                                "machine TEXT NOT NULL, sha256 TEXT NOT NULL, serial TEXT NOT NULL, "
                                "PRIMARY KEY (cluster, machine));"
                                /* what nodes reported over mTLS: lease renewals, heartbeats */
                                "CREATE TABLE IF NOT EXISTS k8s_node_self (cluster TEXT NOT NULL, name TEXT NOT NULL, "
                                "doc TEXT NOT NULL, PRIMARY KEY (cluster, name));"
                                /* the highest resourceVersion compacted away (k8s-gc.c) */
                                "CREATE TABLE IF NOT EXISTS k8s_meta (key TEXT PRIMARY KEY, value BIGINT NOT NULL)");
}

/* A new registration revokes the node's certificate (it gets a new one by
 * its new bootstrap token). */
static int delete_cert(cp_store *s, const char *table, const char *cluster, const char *machine) {
        char sql[96];
        snprintf(sql, sizeof sql, "DELETE FROM %s WHERE cluster=? AND machine=?", table);
        _cleanup_stmt_ cp_stmt *st = NULL;
        int r = cp_store_prepare(s, sql, &st);
        if (r < 0)
                return r;
        cp_stmt_bind_text(st, 1, cluster);
        cp_stmt_bind_text(st, 2, machine);
        r = cp_store_step(s, st);
        return r < 0 ? r : 0;
}

int k8s_node_cert_forget(cp_store *s, const char *cluster, const char *machine) {
        int r = delete_cert(s, "k8s_node_cert", cluster, machine);
        return r < 0 ? r : delete_cert(s, "k8s_node_cert_next", cluster, machine);
}

/* Record the certificate issued to machine: SHA-256 of its DER and serial;
 * a renewal's as the next one (k8s_node_cert_next), else as the one. */
static int cert_record(k8s_ctx *c, const char *machine, const char *pool, const char *pem, bool renewal) {
        BIO *b = BIO_new_mem_buf(pem, -1);
        X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
        BIO_free(b);
        uint8_t *der = NULL;
        int n = x ? i2d_X509(x, &der) : -1;
        char fp[65], serial[80] = "";
        uint8_t h[32];
        BIGNUM *bn = x ? ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL) : NULL;
        char *hex = bn ? BN_bn2hex(bn) : NULL;
        if (hex)
                snprintf(serial, sizeof serial, "%.79s", hex);
        OPENSSL_free(hex);
        BN_free(bn);
        X509_free(x);
        if (n <= 0) {
                OPENSSL_free(der);
                return CP_ERROR(CP_ECRYPTO, "the issued certificate of %s cannot be read back", machine);
        }
        SHA256(der, (size_t) n, h);
        OPENSSL_free(der);
        cp_hex_encode(h, 32, fp);
        _cleanup_stmt_ cp_stmt *st = NULL;
        int r = cp_store_prepare(c->api->store, renewal ? "INSERT INTO k8s_node_cert_next(cluster, machine, sha256, serial) "
                                                          "VALUES (?,?,?,?) ON CONFLICT(cluster, machine) DO UPDATE "
                                                          "SET sha256=excluded.sha256, serial=excluded.serial"
                                                        : "INSERT INTO k8s_node_cert(cluster, machine, sha256, serial, pool) "
                                                          "VALUES (?,?,?,?,?) ON CONFLICT(cluster, machine) DO UPDATE "
                                                          "SET pool=excluded.pool, sha256=excluded.sha256, "
                                                          "serial=excluded.serial",
                                 &st);
        if (r < 0)
                return r;
        cp_stmt_bind_text(st, 1, c->uid);
        cp_stmt_bind_text(st, 2, machine);
        cp_stmt_bind_text(st, 3, fp);
        cp_stmt_bind_text(st, 4, serial);
        if (!renewal)
                cp_stmt_bind_text(st, 5, pool);
        r = cp_store_step(c->api->store, st);
        if (r >= 0 && !renewal) /* a new join: no renewal of an earlier certificate is pending */
                r = delete_cert(c->api->store, "k8s_node_cert_next", c->uid, machine);
        return r < 0 ? r : 0;
}

int k8s_bootstrap_put(cp_store *s, const char *cluster, const char *pool, const char *machine,
                      const uint8_t token[32]) {
        char hex[65], tok[65];
        uint8_t h[32];
        cp_hex_encode(token, 32, tok);
        SHA256((const uint8_t *) tok, 64, h);
        cp_wipe(tok, sizeof tok);
        cp_hex_encode(h, 32, hex);
        _cleanup_stmt_ cp_stmt *st = NULL;
        int r = cp_store_prepare(s, "INSERT INTO k8s_bootstrap(cluster, machine, pool, token_sha256, used) "
                                    "VALUES (?,?,?,?,0) ON CONFLICT(cluster, machine) DO UPDATE SET "
                                    "pool=excluded.pool, token_sha256=excluded.token_sha256, used=0", &st);
        if (r < 0)
                return r;
        cp_stmt_bind_text(st, 1, cluster);
        cp_stmt_bind_text(st, 2, machine);
        cp_stmt_bind_text(st, 3, pool);
        cp_stmt_bind_text(st, 4, hex);
        r = cp_store_step(s, st);
        return r < 0 ? r : k8s_node_cert_forget(s, cluster, machine);
}

int k8s_bootstrap_issue(cp_api *api, const char *pool_id, const char *machine, const json_t *claims, json_t **ret) {
        *ret = NULL;
        if (!api->diskkeys)
                return 0;
        /* the TEE of the token (issue 16): SNP's launch measurement or TDX's MRTD */
        const char *at = json_string_value(json_object_get(claims, "x-ms-attestation-type"));
        bool tdx = at && strcmp(at, "tdxvm") == 0;
        const char *lm = json_string_value(json_object_get(claims, tdx ? "tdx_mrtd" : "x-ms-sevsnpvm-launchmeasurement"));
        uint8_t m[48], token[32];
        size_t n = 0;
        char id[160];
        if (!lm || strlen(lm) != 96 || cp_hex_decode(lm, 96, m, sizeof m, &n) < 0 || n != 48)
                return CP_ERROR(CP_EFORMAT, "the attestation token has no launch measurement");
        json_t *pool = NULL, *cluster = NULL;
        int r = cp_diskkeys_bootstrap_id(pool_id, machine, id, sizeof id);
        if (r >= 0)
                r = cp_diskkeys_bootstrap(api->diskkeys, pool_id, machine, tdx ? CP_DISKKEY_TEE_TDX : CP_DISKKEY_TEE_SNP, m,
                                          token); /* network: no transaction */
        if (r < 0)
                return r;
        if ((r = cp_store_begin(api->store)) < 0) {
                cp_wipe(token, sizeof token);
                return r;
        }
        char etag[40];
        r = cp_res_get(api->store, pool_id, &pool, etag);
        const char *cid = r >= 0 ? json_string_value(json_object_get(pool, "parent")) : NULL;
        if (r >= 0 && !cid) {
                /* the pool's cluster: its id is the pool id up to /agentPools */
                char c[1400];
                const char *ap = strstr(pool_id, "/agentPools/");
                snprintf(c, sizeof c, "%.*s", ap ? (int) (ap - pool_id) : 0, pool_id);
                r = cp_res_get(api->store, c, &cluster, etag);
        }
        const char *uid = json_string_value(json_object_get(json_object_get(cluster, "properties"), "resourceUID"));
        if (r >= 0 && !uid)
                r = CP_ERROR(CP_ENOTFOUND, "the machine's cluster has no resourceUID");
        if (r >= 0)
                r = k8s_bootstrap_put(api->store, uid, pool_id, machine, token);
        char server[512];
        if (r >= 0) {
                snprintf(server, sizeof server, "%s/k8s/%s", api->base_url, uid);
                *ret = json_pack("{s:s,s:s}", "server", server, "bootstrapKeyId", id);
        }
        if (r < 0)
                cp_store_rollback(api->store);
        else
                r = cp_store_commit(api->store);
        cp_wipe(token, sizeof token);
        json_decref(pool);
        json_decref(cluster);
        return r;
}

/* The machine and pool of a bootstrap token of this cluster (constant-time
 * compare of the hashes); 1 found, 0 not, negative error. */
static int token_lookup(k8s_ctx *c, const char *tok, char *machine, size_t msize, char *pool, size_t psize,
                        bool *used) {
        uint8_t h[32];
        char hex[65];
        SHA256((const uint8_t *) tok, strlen(tok), h);
        cp_hex_encode(h, 32, hex);
        _cleanup_stmt_ cp_stmt *st = NULL;
        int r = cp_store_prepare(c->api->store, "SELECT machine, pool, token_sha256, used FROM k8s_bootstrap WHERE "
                                                "cluster=?", &st);
        if (r < 0)
                return r;
        cp_stmt_bind_text(st, 1, c->uid);
        int found = 0;
        while ((r = cp_store_step(c->api->store, st)) == 1) {
                const char *th = cp_stmt_text(st, 2);
                if (th && strlen(th) == 64 && cp_ct_eq(th, hex, 64) && !found) {
                        snprintf(machine, msize, "%s", cp_stmt_text(st, 0));
                        snprintf(pool, psize, "%s", cp_stmt_text(st, 1));
                        *used = cp_stmt_int(st, 3) != 0;
                        found = 1;
                }
        }
        return r < 0 ? r : found;
}

static int spend(k8s_ctx *c, const char *machine) {
        _cleanup_stmt_ cp_stmt *st = NULL;
        int r = cp_store_prepare(c->api->store, "UPDATE k8s_bootstrap SET used=1 WHERE cluster=? AND machine=?", &st);
        if (r < 0)
                return r;
        cp_stmt_bind_text(st, 1, c->uid);
        cp_stmt_bind_text(st, 2, machine);
        r = cp_store_step(c->api->store, st);
        return r < 0 ? r : 0;
}

/* The CSR's PEM (malloc()ed) after the request's checks; NULL with why. */
static char *csr_pem(const json_t *body, size_t *len, char *why, size_t size) {
        const json_t *spec = json_object_get(body, "spec");
        const char *kind = json_string_value(json_object_get(body, "kind"));
        const char *signer = json_string_value(json_object_get(spec, "signerName"));
        const char *req = json_string_value(json_object_get(spec, "request"));
        if (!kind || strcmp(kind, "CertificateSigningRequest") || !req) {
                snprintf(why, size, "the body must be a CertificateSigningRequest with spec.request");
                return NULL;
        }
        if (!signer || strcmp(signer, SIGNER)) {
                snprintf(why, size, "spec.signerName must be %s", SIGNER);
                return NULL;
        }
        size_t cap = cp_b64_decoded_max(strlen(req)) + 1;
        char *pem = malloc(cap);
        if (!pem || cp_b64_decode(req, strlen(req), CP_B64_STD, (uint8_t *) pem, cap - 1, len) < 0) {
                cp_error_clear();
                free(pem);
                snprintf(why, size, "spec.request is not base64");
                return NULL;
        }
        pem[*len] = 0;
        return pem;
}

static void csr_answer(k8s_ctx *c, const json_t *body, const char *cert, const char *machine, const char *why_ok) {
        char *b64 = malloc(cp_b64_encoded_len(strlen(cert), CP_B64_STD) + 1);
        if (b64)
                cp_b64_encode((const uint8_t *) cert, strlen(cert), CP_B64_STD, b64);
        char name[80], uid[37];
        api_uuid(uid);
        const char *given = json_string_value(json_object_get(json_object_get(body, "metadata"), "name"));
        snprintf(name, sizeof name, "%.64s", given ? given : "");
        if (!given)
                snprintf(name, sizeof name, "node-csr-%.12s", uid + 24);
        json_t *o = json_pack("{s:s,s:s,s:{s:s,s:s},s:O,s:{s:[{s:s,s:s,s:s,s:s}],s:s}}", "kind",
                              "CertificateSigningRequest", "apiVersion", "certificates.k8s.io/v1", "metadata", "name",
                              name, "uid", uid, "spec", json_object_get(body, "spec"), "status", "conditions", "type",
                              "Approved", "status", "True", "reason", "AutoApproved", "message", why_ok, "certificate",
                              b64 ? b64 : "");
        free(b64);
        fprintf(stderr, "confpoold: k8s: kubelet client certificate issued to %.64s (%s)\n", machine, why_ok);
        k8s_reply(c, 201, o);
}

/* Parse, check and sign the request's CSR for machine of pool, record the
 * certificate (replacing any earlier one) and answer 201, else a Status. */
static void csr_issue(k8s_ctx *c, const char *machine, const char *pool, bool renewal, const char *why_ok) {
        json_t *body = NULL;
        size_t len = 0;
        char *pem = NULL, *cert = NULL, why[400] = "";
        int r = 0;
        if (cp_svc_json_parse(c->req->body, c->req->body_len, 32, &body) < 0) {
                snprintf(why, sizeof why, "the body is not a JSON object: %s", cp_error_message());
                cp_error_clear();
        } else if ((pem = csr_pem(body, &len, why, sizeof why)) != NULL) {
                char dir[1024];
                snprintf(dir, sizeof dir, "%.*s", (int) (strlen(c->api->ca_file) > 7 ? strlen(c->api->ca_file) - 7 : 0),
                         c->api->ca_file);
                if (!c->api->ca_file[0])
                        snprintf(why, sizeof why, "this control plane has no CA (TLS off)");
                else if ((r = cp_pki_kubelet_cert(dir, pem, len, machine, c->api->node_cert_seconds, &cert, why, sizeof why)) ==
                         CP_EPOLICY)
                        r = 0;
                else if (r >= 0)
                        r = cert_record(c, machine, pool, cert, renewal);
                cp_error_clear();
        }
        if (r < 0) {
                cp_error_clear();
                k8s_status(c, 500, "InternalError", NULL, NULL, "the certificate could not be issued");
        } else if (why[0])
                k8s_status(c, 403, "Forbidden", "certificatesigningrequests", NULL,
                           "certificatesigningrequests is forbidden: %s", why);
        else
                csr_answer(c, body, cert, machine, why_ok);
        free(pem);
        free(cert);
        json_decref(body);
}

bool k8s_csr_bootstrap(k8s_ctx *c) {
        if (strcmp(c->req->method, "POST") || strcmp(c->path, K8S_CSR_PATH))
                return false;
        const char *h = cp_http_req_header(c->req, "Authorization");
        const char *tok = h && strncasecmp(h, "Bearer ", 7) == 0 ? h + 7 : NULL;
        char machine[64], pool[700];
        bool used = false;
        if (!tok || strlen(tok) != 64 || token_lookup(c, tok, machine, sizeof machine, pool, sizeof pool, &used) != 1) {
                cp_error_clear();
                return false;
        }
        if (used) {
                k8s_status(c, 401, "Unauthorized", NULL, NULL, "Unauthorized: the bootstrap token of node %s was "
                           "used already", machine);
                return true;
        }
        int r = spend(c, machine); /* once, whatever the outcome */
        cp_machine m;
        if (r >= 0 && (cp_machine_get(c->api->store, pool, machine, &m) < 0 || strcmp(m.state, "Ready"))) {
                cp_error_clear();
                k8s_status(c, 403, "Forbidden", "certificatesigningrequests", NULL, "certificatesigningrequests is "
                           "forbidden: machine %s is not attested (not Ready)", machine);
                return true;
        }
        if (r >= 0)
                csr_issue(c, machine, pool, false, "approved: the bootstrap token was released to this attested machine");
        else {
                cp_error_clear();
                k8s_status(c, 500, "InternalError", NULL, NULL, "the certificate could not be issued");
        }
        return true;
}

void k8s_csr_renew(k8s_ctx *c) {
        /* k8s_node_authenticate checked the certificate is the one recorded
         * for c->node in c->node_pool and that its machine is Ready */
        csr_issue(c, c->node, c->node_pool, true, "approved: renewal by the node's current client certificate "
                                           "(selfnodeclient)");
}
