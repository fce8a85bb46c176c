/* SPDX-License-Identifier: Apache-2.0 */
/* The "kbs" disk-key provider: secure key release from confpool-kbsd
 * (see diskkey.h, docs/nodes.md, docs/key-broker.md). */
#include <openssl/bio.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "agent/diskkey.h"
#include "basic/cleanup.h"
#include "basic/codec.h"
#include "basic/secure.h"
#include "confpool/jwt.h"
#include "confpool/keyrelease.h"
#include "service/httpc.h"

/* The TEE private key as a cp_wrap_key (through PEM in secure memory). */
static int tee_wrap_key(EVP_PKEY *tee, cp_wrap_key **ret) {
        BIO *b = BIO_new(BIO_s_secmem());
        char *p;
        long l;
        if (!b || !PEM_write_bio_PrivateKey(b, tee, NULL, NULL, 0, NULL, NULL) || (l = BIO_get_mem_data(b, &p)) <= 0) {
                BIO_free(b);
                return CP_ERROR(CP_ECRYPTO, "TEE key export");
        }
        int r = cp_wrap_key_from_pem(p, (size_t) l, ret);
        BIO_free(b); /* secure memory: cleared on free */
        return r;
}

/* The payload of the broker's JWS response, read without verifying its
 * signature: what matters is that the key unwraps with our TEE key (only
 * the broker saw its public half, inside the attestation token) and that
 * the result opens the disk. */
static int response_key_hsm(const char *jws, char **ret) {
        const char *d1 = strchr(jws, '.');
        const char *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
        if (!d1 || !d2 || (size_t) (d2 - d1 - 1) > CP_JWT_MAX_TOKEN)
                return CP_ERROR(CP_EFORMAT, "key broker response is not a JWS");
        size_t n = (size_t) (d2 - d1 - 1), cap = cp_b64_decoded_max(n), len;
        _cleanup_free_ uint8_t *buf = malloc(cap + 1);
        if (!buf)
                return cp_error_oom();
        int r = cp_b64_decode(d1 + 1, n, CP_B64_URL, buf, cap, &len);
        if (r < 0)
                return r;
        json_t *j = json_loadb((const char *) buf, len, JSON_REJECT_DUPLICATES, NULL);
        const char *hsm = json_string_value(
                json_object_get(json_object_get(json_object_get(json_object_get(j, "response"), "key"), "key"), "key_hsm"));
        char *out = hsm ? strdup(hsm) : NULL;
        json_decref(j);
        if (!out)
                return CP_ERROR(CP_EFORMAT, "key broker response has no response.key.key.key_hsm");
        *ret = out;
        return 0;
}

static int kbs_release_once(cp_diskkey_kbs_config *c, const char *token, uint8_t ret_key[CP_DISK_KEY_LEN]) {
        char url[1024];
        snprintf(url, sizeof url, "%s/disks/%s/release", c->url, c->disk_id);
        json_t *body = json_pack("{s:s,s:s}", "target", token, "enc", "RSA_AES_KEY_WRAP_256");
        char *txt = body ? json_dumps(body, JSON_COMPACT) : NULL;
        json_decref(body);
        if (!txt)
                return cp_error_oom();
        cp_httpc_options ho = {.timeout_ms = 15000, .bearer = c->release_token};
        cp_httpc_response resp = {0};
        int r = cp_httpc_request(&ho, "POST", url, NULL, txt, strlen(txt), &resp);
        free(txt);
        if (r < 0)
                return r;
        json_t *j = NULL;
        if (cp_httpc_response_json(&resp, &j) < 0)
                cp_error_clear();
        long st = resp.status;
        cp_httpc_response_clear(&resp);
        const char *v = json_string_value(json_object_get(j, "value"));
        if (st != 200 || !v) {
                const char *m = json_string_value(json_object_get(json_object_get(j, "error"), "message"));
                /* busy or not ready (429, 5xx: the broker restarting, the authority's keys not fetched
                 * yet) says nothing about the node: CP_ENETWORK, the caller tries again */
                if (st == 429 || st >= 500)
                        r = CP_ERROR(CP_ENETWORK, "key broker unavailable for disk %s (HTTP %ld): %s", c->disk_id, st,
                                     m ? m : "no message");
                else
                        r = CP_ERROR(CP_EPOLICY, "key broker refused the release of disk %s (HTTP %ld): %s",
                                     c->disk_id, st, m ? m : "no message");
                json_decref(j);
                return r;
        }
        _cleanup_free_ char *hsm = NULL;
        _cleanup_free_ uint8_t *w = NULL;
        uint8_t *plain = NULL;
        size_t wl = 0, pl = 0;
        cp_keywrap_alg alg;
        cp_wrap_key *k = NULL;
        r = response_key_hsm(v, &hsm);
        json_decref(j);
        if (r < 0 || (r = cp_keyrelease_key_hsm_decode(hsm, strlen(hsm), &alg, &w, &wl)) < 0)
                return r;
        if (alg != CP_KEYWRAP_RSA_AES_256)
                return CP_ERROR(CP_EFORMAT, "key broker wrapped with %s, not the requested RSA_AES_KEY_WRAP_256",
                                cp_keywrap_alg_name(alg));
        if ((r = tee_wrap_key(c->tee, &k)) < 0)
                return r;
        r = cp_keywrap_unwrap(k, alg, w, wl, &plain, &pl);
        cp_wrap_key_free(k);
        if (r < 0)
                return r;
        if (pl != CP_DISK_KEY_LEN)
                r = CP_ERROR(CP_EFORMAT, "released disk key of %zu bytes", pl);
        else
                memcpy(ret_key, plain, CP_DISK_KEY_LEN);
        cp_wipe(plain, pl);
        free(plain);
        return r;
}

static int kbs_release(void *userdata, const char *token, const char *name, uint8_t ret_key[CP_DISK_KEY_LEN]) {
        cp_diskkey_kbs_config *c = userdata;
        unsigned tries = c->tries ? c->tries : 1;
        for (unsigned i = 1;; i++) {
                int r = kbs_release_once(c, token, ret_key);
                if (r != CP_ENETWORK || i >= tries || (c->stop && *c->stop))
                        return r;
                fprintf(stderr, "confpool-agent %s: key release of %s deferred (%u/%u): %s\n", name, c->disk_id, i,
                        tries, cp_error_message());
                cp_error_clear();
                struct timespec ts = {1, 0};
                nanosleep(&ts, NULL); /* a signal ends it early */
                if (c->stop && *c->stop)
                        return CP_ERROR(CP_ENETWORK, "key release of %s: stopped", c->disk_id);
        }
}

void cp_diskkey_kbs(cp_diskkey_kbs_config *cfg, cp_diskkey_provider *ret) {
        ret->name = "kbs";
        ret->release = kbs_release;
        ret->userdata = cfg;
}
