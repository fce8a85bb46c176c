/* SPDX-License-Identifier: Apache-2.0 */
/* Platform-managed disk keys from the key broker: see cp-diskkeys.h. */
#include <openssl/sha.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "basic/clock.h"
#include "basic/cleanup.h"
#include "basic/codec.h"
#include "basic/secure.h"
#include "confpool/keyrelease.h"
#include "controlplane/cp-backend.h"
#include "controlplane/cp-diskkeys.h"
#include "service/httpc.h"
#include "node/nodedisk.h"

/* The RSA key the broker wraps a new disk's key to (POST /disks/{id}/create
 * "wrap_key"): made in memory, never stored, shared by the disk creations
 * of WRAP_KEY_MAX_AGE_MS or WRAP_KEY_MAX_USES, whichever comes first, then
 * replaced (the last user frees it).  Issue 19: one RSA-2048 generation per
 * disk was a third of the control plane's CPU in a pool's boot; what a
 * recorded broker answer can be opened with is bounded by that window. */
#define WRAP_KEY_MAX_AGE_MS (10 * 60 * 1000)
#define WRAP_KEY_MAX_USES 1000u
typedef struct wrap_ref {
        cp_wrap_key *key;
        unsigned refs; /* users, + 1 while it is the current one */
        unsigned uses;
        int64_t born_ms;
} wrap_ref;

struct cp_diskkeys {
        char *url, *admin, *release, *authority;
        pthread_mutex_t lock; /* one master key creation at a time */
        pthread_mutex_t wrap_lock;
        wrap_ref *wrap; /* under wrap_lock; NULL until the first disk */
};

static void wrap_put(cp_diskkeys *d, wrap_ref *w) {
        if (!w)
                return;
        pthread_mutex_lock(&d->wrap_lock);
        bool last = --w->refs == 0;
        pthread_mutex_unlock(&d->wrap_lock);
        if (last) {
                cp_wrap_key_free(w->key);
                free(w);
        }
}

/* The current wrapping key, referenced (wrap_put when done); a new one
 * when there is none or the current one is too old or too used. */
static int wrap_get(cp_diskkeys *d, wrap_ref **ret) {
        int64_t now = cp_monotonic_ms();
        pthread_mutex_lock(&d->wrap_lock);
        wrap_ref *w = d->wrap, *old = NULL;
        if (!w || w->uses >= WRAP_KEY_MAX_USES || now - w->born_ms >= WRAP_KEY_MAX_AGE_MS) {
                wrap_ref *n = calloc(1, sizeof *n);
                int r = n ? cp_wrap_key_generate(2048, &n->key) : cp_error_oom();
                if (r < 0) {
                        free(n);
                        pthread_mutex_unlock(&d->wrap_lock);
                        return r;
                }
                n->refs = 1;
                n->born_ms = now;
                old = w;
                d->wrap = w = n;
        }
        w->refs++;
        w->uses++;
        pthread_mutex_unlock(&d->wrap_lock);
        wrap_put(d, old); /* no longer current */
        *ret = w;
        return 0;
}

int cp_diskkeys_new(const cp_diskkeys_options *o, cp_diskkeys **ret) {
        if (!o || !o->kbs_url || !o->admin_token || !o->release_token || !o->authority)
                return CP_ERROR(CP_EINVAL, "disk keys: broker URL, admin and release tokens and authority are required");
        cp_diskkeys *d = calloc(1, sizeof *d);
        if (!d)
                return cp_error_oom();
        d->url = strdup(o->kbs_url);
        d->admin = strdup(o->admin_token);
        d->release = strdup(o->release_token);
        d->authority = strdup(o->authority);
        pthread_mutex_init(&d->lock, NULL);
        pthread_mutex_init(&d->wrap_lock, NULL);
        if (!d->url || !d->admin || !d->release || !d->authority) {
                cp_diskkeys_free(d);
                return cp_error_oom();
        }
        size_t n = strlen(d->url);
        while (n && d->url[n - 1] == '/')
                d->url[--n] = 0;
        *ret = d;
        return 0;
}

static void free_secret(char *s) {
        if (s)
                cp_wipe(s, strlen(s));
        free(s);
}

cp_diskkeys *cp_diskkeys_free(cp_diskkeys *d) {
        if (!d)
                return NULL;
        free(d->url);
        free_secret(d->admin);
        free_secret(d->release);
        free(d->authority);
        wrap_put(d, d->wrap);
        pthread_mutex_destroy(&d->lock);
        pthread_mutex_destroy(&d->wrap_lock);
        free(d);
        return NULL;
}

const char *cp_diskkeys_url(const cp_diskkeys *d) {
        return d->url;
}

const char *cp_diskkeys_release_token(const cp_diskkeys *d) {
        return d->release;
}

/* node names: 1..100 of a-z, A-Z, 0-9, - (what the broker accepts in an id) */
static int check_node_name(const char *node_name) {
        size_t l = node_name ? strlen(node_name) : 0;
        if (l == 0 || l > 100)
                return CP_ERROR(CP_EINVAL, "node name missing or too long for a disk id");
        for (size_t i = 0; i < l; i++) {
                char c = node_name[i];
                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-'))
                        return CP_ERROR(CP_EINVAL, "node name '%s' is not a valid disk id", node_name);
        }
        return 0;
}

int cp_diskkeys_disk_id(const char *pool_id, const char *node_name, char *ret, size_t size) {
        char scope[17];
        int r = check_node_name(node_name);
        if (r < 0)
                return r;
        if (!pool_id || !pool_id[0])
                return CP_ERROR(CP_EINVAL, "disk id of %s: the pool id is required", node_name);
        cp_node_scope(pool_id, scope);
        int n = snprintf(ret, size, "osdisk-%s-%s", scope, node_name);
        return n > 0 && (size_t) n < size ? 0 : CP_ERROR(CP_ETOOBIG, "disk id buffer");
}

/* method url [body]; *ret_status, *ret_json (object, maybe empty). */
static int call_h(cp_diskkeys *d, const char *method, const char *path, const char *const *headers, json_t *body,
                  long *ret_status, json_t **ret_json) {
        char url[1024];
        snprintf(url, sizeof url, "%s%s", d->url, path);
        char *txt = body ? json_dumps(body, JSON_COMPACT) : NULL;
        if (body && !txt)
                return cp_error_oom();
        cp_httpc_options ho = {.timeout_ms = 15000, .bearer = d->admin};
        cp_httpc_response resp = {0};
        int r = cp_httpc_request(&ho, method, url, headers, txt, txt ? strlen(txt) : 0, &resp);
        free(txt);
        if (r < 0)
                return cp_error_wrap("key broker: ");
        json_t *j = NULL;
        if (resp.body_len == 0 || cp_httpc_response_json(&resp, &j) < 0) {
                cp_error_clear();
                j = json_object();
        }
        *ret_status = resp.status;
        cp_httpc_response_clear(&resp);
        if (ret_json)
                *ret_json = j;
        else
                json_decref(j);
        return 0;
}

static int call(cp_diskkeys *d, const char *method, const char *path, json_t *body, long *ret_status, json_t **ret_json) {
        return call_h(d, method, path, NULL, body, ret_status, ret_json);
}

static const char *broker_message(const json_t *j) {
        const char *m = json_string_value(json_object_get(json_object_get(j, "error"), "message"));
        return m ? m : "no message";
}

/* {"data": base64url(policy)} of a release policy document (NULL on OOM). */
static json_t *policy_member(json_t *pol) {
        char *ptxt = pol ? json_dumps(pol, JSON_COMPACT) : NULL;
        json_decref(pol);
        char *pb = ptxt ? malloc(cp_b64_encoded_len(strlen(ptxt), CP_B64_URL) + 1) : NULL;
        if (pb)
                cp_b64_encode((const uint8_t *) ptxt, strlen(ptxt), CP_B64_URL, pb);
        free(ptxt);
        json_t *m = pb ? json_pack("{s:s}", "data", pb) : NULL;
        free(pb);
        return m;
}

/* 1: the key name exists in the broker, 0: it does not (404). */
static int master_exists(cp_diskkeys *d, const char *name) {
        char path[256];
        long st = 0;
        snprintf(path, sizeof path, "/keys/%s", name);
        int r = call(d, "GET", path, NULL, &st, NULL);
        if (r < 0)
                return r;
        if (st != 200 && st != 404)
                return CP_ERROR(CP_ENETWORK, "key broker: GET %s: HTTP %ld", path, st);
        return st == 200;
}

/* The pool master key of a measurement, made when create is set and it is
 * not there.  Never a second version: the disks' keys derive from the
 * latest, so the create asks for a new name only (If-None-Match: *); of
 * two processes making it at once (two replicas, a deposed leader still
 * booting), the other's 409 finds it made.  Without create (a node's
 * Kubernetes bootstrap) a missing master is an error: it was retired with
 * its measurement, and making it again would make a key whose policy
 * accepts a measurement the pool no longer does, which nothing retires. */
static int ensure_master(cp_diskkeys *d, const char *name, cp_diskkey_tee tee, const uint8_t measurement[48],
                         bool create) {
        char path[256];
        long st = 0;
        json_t *j = NULL;
        int r = master_exists(d, name);
        if (r != 0)
                return r < 0 ? r : 0;
        if (!create)
                return CP_ERROR(CP_ENOTFOUND, "pool master key %s is not in the key broker (retired with its measurement)",
                                name);
        char hex[97];
        cp_hex_encode(measurement, 48, hex);
        /* AKV's release-policy grammar over MAA's claims of the TEE: SEV-SNP's
         * launch measurement, or TDX's MRTD (issue 16), never debuggable */
        bool tdx = tee == CP_DISKKEY_TEE_TDX;
        json_t *pol = json_pack("{s:s,s:[{s:s,s:[{s:s,s:s},{s:s,s:b},{s:s,s:s}]}]}", "version", "1.0.0", "anyOf",
                                "authority", d->authority, "allOf", "claim", "x-ms-attestation-type", "equals",
                                tdx ? "tdxvm" : "sevsnpvm", "claim",
                                tdx ? "tdx_td_attributes_debug" : "x-ms-sevsnpvm-is-debuggable", "equals", 0, "claim",
                                tdx ? "tdx_mrtd" : "x-ms-sevsnpvm-launchmeasurement", "equals", hex);
        /* an Azure TDX CVM's token (AzureGuest, issue 16): the same TD claims under x-ms-isolation-tee */
        json_t *guest = tdx && pol ? json_pack("{s:s,s:[{s:s,s:s},{s:s,s:s},{s:s,s:b},{s:s,s:s}]}", "authority",
                                               d->authority, "allOf", "claim", "x-ms-attestation-type", "equals",
                                               "azurevm", "claim", "x-ms-isolation-tee.x-ms-attestation-type", "equals",
                                               "tdxvm", "claim", "x-ms-isolation-tee.tdx_td_attributes_debug",
                                               "equals", 0, "claim", "x-ms-isolation-tee.tdx_mrtd", "equals", hex)
                                   : NULL;
        if (guest && json_array_append_new(json_object_get(pol, "anyOf"), guest) < 0) {
                json_decref(pol);
                return cp_error_oom();
        }
        json_t *rp = policy_member(pol);
        if (rp)
                json_object_set_new(rp, "immutable", json_true());
        json_t *body = rp ? json_pack("{s:s,s:i,s:{s:b},s:{s:s},s:o}", "kty", "oct", "key_size", 256, "attributes",
                                      "exportable", 1, "tags", "purpose", "confpool pool disk master",
                                      "release_policy", rp)
                          : NULL;
        if (!body)
                return cp_error_oom();
        snprintf(path, sizeof path, "/keys/%s/create", name);
        static const char *const new_name_only[] = {"If-None-Match: *", NULL};
        r = call_h(d, "POST", path, new_name_only, body, &st, &j);
        json_decref(body);
        if (r < 0)
                return r;
        if (st == 409 && (r = master_exists(d, name)) != 0) {
                json_decref(j);
                return r < 0 ? r : 0; /* made meanwhile by another process */
        }
        if (st != 200 && st != 201) {
                r = CP_ERROR(CP_ENETWORK, "key broker: creating pool master key %s: HTTP %ld: %s", name, st,
                             broker_message(j));
                json_decref(j);
                return r;
        }
        json_decref(j);
        return 0;
}

/* One alternative of a TDX disk's policy: MRCONFIGID and the boot's RTMRs,
 * the claims named with prefix ("" for TdxVm tokens, "x-ms-isolation-tee."
 * for an Azure TDX CVM's AzureGuest token, issue 16). */
static json_t *tdx_binding(const cp_diskkeys *d, const char *prefix, const char *mc_hex, const uint8_t (*rtmr)[48]) {
        char name[64], rh[97];
        snprintf(name, sizeof name, "%stdx_mrconfigid", prefix);
        json_t *alt = json_pack("{s:s,s:[{s:s,s:s}]}", "authority", d->authority, "allOf", "claim", name, "equals",
                                mc_hex);
        json_t *all = json_object_get(alt, "allOf");
        /* the boot the image's RTMRs record (kernel in RTMR1, command line
         * and initrd in RTMR2): MRTD alone is the firmware's, not the kernel's */
        for (unsigned i = 1; rtmr && all && i <= 2; i++) {
                snprintf(name, sizeof name, "%stdx_rtmr%u", prefix, i);
                cp_hex_encode(rtmr[i], 48, rh);
                rh[96] = '\0';
                if (json_array_append_new(all, json_pack("{s:s,s:s}", "claim", name, "equals", rh)) < 0) {
                        json_decref(alt);
                        return NULL;
                }
        }
        return alt;
}

/* The disk's own release policy: the node's HOST_DATA (its identity), from
 * the authority that issues node tokens. */
static json_t *node_binding(const cp_diskkeys *d, cp_diskkey_tee tee, const uint8_t host_data[32],
                            const uint8_t (*rtmr)[48]) {
        char hex[97];
        cp_hex_encode(host_data, 32, hex);
        if (tee != CP_DISKKEY_TEE_TDX) {
                hex[64] = '\0';
                return policy_member(json_pack("{s:s,s:[{s:s,s:[{s:s,s:s}]}]}", "version", "1.0.0", "allOf",
                                               "authority", d->authority, "allOf", "claim", "x-ms-sevsnpvm-hostdata",
                                               "equals", hex));
        }
        /* TDX: the identity is MRCONFIGID = SHA-256(identity) || 16 zero bytes,
         * in a TdxVm token or under an AzureGuest token's x-ms-isolation-tee */
        memset(hex + 64, '0', 32);
        hex[96] = '\0';
        json_t *a = tdx_binding(d, "", hex, rtmr), *b = tdx_binding(d, "x-ms-isolation-tee.", hex, rtmr);
        if (!a || !b) {
                json_decref(a);
                json_decref(b);
                return NULL;
        }
        return policy_member(json_pack("{s:s,s:[o,o]}", "version", "1.0.0", "anyOf", a, b));
}

/* POST /disks/{id}/create with our wrapping key; 1 created, 0 conflict. */
static int create_disk(cp_diskkeys *d, const char *master, const char *disk_id, const cp_diskkey_expect *x,
                       const uint8_t host_data[32], uint8_t ret_key[32]) {
        wrap_ref *wr = NULL;
        json_t *jwk = NULL, *j = NULL;
        int r;
        if ((r = wrap_get(d, &wr)) < 0 || (r = cp_wrap_key_to_jwk(wr->key, &jwk)) < 0) {
                wrap_put(d, wr);
                return r;
        }
        const cp_wrap_key *wk = wr->key;
        json_t *bind = node_binding(d, x->tee, host_data, x->has_rtmr ? x->rtmr : NULL);
        json_t *body = bind ? json_pack("{s:s,s:s,s:o,s:s,s:o}", "mode", "platform", "key", master, "wrap_key", jwk,
                                        "enc", "RSA_AES_KEY_WRAP_256", "release_policy", bind)
                            : NULL;
        if (!bind)
                json_decref(jwk);
        char path[256];
        long st = 0;
        snprintf(path, sizeof path, "/disks/%s/create", disk_id);
        r = body ? call(d, "POST", path, body, &st, &j) : cp_error_oom();
        json_decref(body);
        if (r >= 0 && st == 409)
                r = 0;
        else if (r >= 0 && st != 200)
                r = CP_ERROR(CP_ENETWORK, "key broker: creating disk %s: HTTP %ld: %s", disk_id, st, broker_message(j));
        else if (r >= 0) {
                const char *hsm = json_string_value(json_object_get(j, "key_hsm"));
                cp_keywrap_alg alg;
                _cleanup_free_ uint8_t *w = NULL;
                uint8_t *plain = NULL;
                size_t wl = 0, pl = 0;
                if (!hsm)
                        r = CP_ERROR(CP_EFORMAT, "key broker: no key_hsm in the disk creation response");
                else if ((r = cp_keyrelease_key_hsm_decode(hsm, strlen(hsm), &alg, &w, &wl)) >= 0 &&
                         (r = cp_keywrap_unwrap(wk, alg, w, wl, &plain, &pl)) >= 0) {
                        if (pl != 32)
                                r = CP_ERROR(CP_EFORMAT, "key broker: disk key of %zu bytes", pl);
                        else {
                                memcpy(ret_key, plain, 32);
                                r = 1;
                        }
                        cp_wipe(plain, pl);
                        free(plain);
                }
        }
        json_decref(j);
        wrap_put(d, wr);
        return r;
}

/* "pm-<32 hex of SHA-256(pool id, 0, measurement)>" */
static int master_name(const char *pool_id, const uint8_t measurement[48], char ret[80]) {
        uint8_t h[32];
        char hex[65];
        size_t pl = strlen(pool_id);
        uint8_t *buf = malloc(pl + 1 + 48);
        if (!buf)
                return cp_error_oom();
        memcpy(buf, pool_id, pl + 1); /* with its NUL: an unambiguous separator */
        memcpy(buf + pl + 1, measurement, 48);
        SHA256(buf, pl + 1 + 48, h);
        free(buf);
        cp_hex_encode(h, 16, hex);
        snprintf(ret, 80, "pm-%s", hex);
        return 0;
}

int cp_diskkeys_master_name(const char *pool_id, const uint8_t measurement[48], char *ret, size_t size) {
        char m[80];
        if (!pool_id || size < 36)
                return CP_ERROR(CP_EINVAL, "master key name: pool id and a 36-byte buffer are required");
        int r = master_name(pool_id, measurement, m);
        if (r < 0)
                return r;
        snprintf(ret, size, "%s", m);
        return 0;
}

int cp_diskkeys_retire(cp_diskkeys *d, const char *pool_id, const uint8_t measurement[48]) {
        char master[80], path[256];
        long st = 0;
        json_t *j = NULL;
        int r = master_name(pool_id, measurement, master);
        if (r < 0)
                return r;
        pthread_mutex_lock(&d->lock); /* not while a disk creation ensures it */
        /* soft delete, then purge (the broker overwrites the sealed material) */
        snprintf(path, sizeof path, "/keys/%s", master);
        r = call(d, "DELETE", path, NULL, &st, &j);
        if (r >= 0 && st != 200 && st != 204 && st != 404)
                r = CP_ERROR(CP_ENETWORK, "key broker: deleting pool master key %s: HTTP %ld: %s", master, st,
                             broker_message(j));
        json_decref(j);
        j = NULL;
        snprintf(path, sizeof path, "/deletedkeys/%s", master);
        if (r >= 0)
                r = call(d, "DELETE", path, NULL, &st, &j);
        if (r >= 0 && st != 200 && st != 204 && st != 404)
                r = CP_ERROR(CP_ENETWORK, "key broker: purging pool master key %s: HTTP %ld: %s", master, st,
                             broker_message(j));
        json_decref(j);
        pthread_mutex_unlock(&d->lock);
        return r < 0 ? r : 0;
}

int cp_diskkeys_provision(cp_diskkeys *d, const char *pool_id, const char *node_name, const cp_diskkey_expect *x,
                          const char *image_path) {
        const uint8_t *measurement = x->measurement;
        uint8_t key[32], host_data[32];
        char master[80], disk_id[160], legacy[160];
        int r;
        if ((r = cp_diskkeys_disk_id(pool_id, node_name, disk_id, sizeof disk_id)) < 0 ||
            (r = cp_node_host_data(pool_id, node_name, host_data)) < 0 || (r = master_name(pool_id, measurement, master)) < 0)
                return r;
        pthread_mutex_lock(&d->lock);
        r = ensure_master(d, master, x->tee, measurement, true);
        pthread_mutex_unlock(&d->lock);
        /* the unscoped, unbound disk id of before: nothing boots from it any
         * more (not for a name shaped like a scope: that id is another pool's) */
        snprintf(legacy, sizeof legacy, "osdisk-%s", node_name);
        bool scope_shaped = strlen(node_name) > 16 && node_name[16] == '-' &&
                            strspn(node_name, "0123456789abcdef") >= 16;
        if (r < 0 || (!scope_shaped && (r = cp_diskkeys_erase(d, legacy)) < 0))
                return r;
        r = create_disk(d, master, disk_id, x, host_data, key);
        if (r == 0 && (r = cp_diskkeys_erase(d, disk_id)) >= 0) {
                r = create_disk(d, master, disk_id, x, host_data, key);
                if (r == 0)
                        r = CP_ERROR(CP_ENETWORK, "key broker: disk %s exists after its crypto-erase", disk_id);
        }
        if (r > 0)
                r = cp_nodedisk_write(image_path, disk_id, key);
        cp_wipe(key, sizeof key);
        return r;
}

int cp_diskkeys_erase(cp_diskkeys *d, const char *disk_id) {
        char path[256];
        long st = 0;
        json_t *j = NULL;
        snprintf(path, sizeof path, "/disks/%s", disk_id);
        int r = call(d, "DELETE", path, NULL, &st, &j);
        if (r >= 0 && st != 204 && st != 200 && st != 404)
                r = CP_ERROR(CP_ENETWORK, "key broker: crypto-erase of %s: HTTP %ld: %s", disk_id, st, broker_message(j));
        json_decref(j);
        return r < 0 ? r : 0;
}

int cp_diskkeys_bootstrap_id(const char *pool_id, const char *node_name, char *ret, size_t size) {
        char scope[17];
        int r = check_node_name(node_name);
        if (r < 0)
                return r;
        cp_node_scope(pool_id, scope);
        if ((size_t) snprintf(ret, size, "k8sboot-%s-%s", scope, node_name) >= size)
                return CP_ERROR(CP_ETOOBIG, "bootstrap id of node %.64s too long", node_name);
        return 0;
}

int cp_diskkeys_bootstrap(cp_diskkeys *d, const char *pool_id, const char *node_name, cp_diskkey_tee tee,
                          const uint8_t measurement[48], uint8_t ret_token[32]) {
        uint8_t host_data[32];
        char master[80], id[160];
        int r;
        /* bound to the node's identity (HOST_DATA, or TDX's MRCONFIGID), under the pool's master */
        cp_diskkey_expect x = {.tee = tee};
        memcpy(x.measurement, measurement, 48);
        if ((r = cp_diskkeys_bootstrap_id(pool_id, node_name, id, sizeof id)) < 0 ||
            (r = cp_node_host_data(pool_id, node_name, host_data)) < 0 || (r = master_name(pool_id, measurement, master)) < 0)
                return r;
        pthread_mutex_lock(&d->lock);
        r = ensure_master(d, master, tee, measurement, false);
        pthread_mutex_unlock(&d->lock);
        /* a new token at every registration: the old one is crypto-erased first */
        if (r >= 0)
                r = cp_diskkeys_erase(d, id);
        if (r >= 0)
                r = create_disk(d, master, id, &x, host_data, ret_token);
        if (r == 0)
                r = CP_ERROR(CP_ENETWORK, "key broker: bootstrap key %s exists after its crypto-erase", id);
        return r < 0 ? r : 0;
}
