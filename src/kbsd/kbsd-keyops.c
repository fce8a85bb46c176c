/* SPDX-License-Identifier: Apache-2.0 */
/* confpool-kbsd's key endpoints: create, import (BYOK), rotate, get, list,
 * versions, delete (soft), recover, purge. */

#include <stdlib.h>
#include <string.h>

#include "basic/cleanup.h"
#include "basic/codec.h"
#include "basic/secure.h"
#include "kbsd-internal.h"

static int fill_tags(const json_t *tags, cp_kbsd_keyrow *k) {
        const char *tk;
        json_t *tv;
        if (!tags) {
                k->tags = json_object();
                return k->tags ? 0 : cp_error_oom();
        }
        if (!json_is_object(tags) || json_object_size(tags) > 15)
                return CP_ERROR(CP_EINVAL, "tags must be an object of at most 15 strings");
        json_object_foreach((json_t *) tags, tk, tv)
                if (!json_is_string(tv) || strlen(tk) > 512 || json_string_length(tv) > 512)
                        return CP_ERROR(CP_EINVAL, "tag values must be strings");
        k->tags = json_deep_copy(tags);
        return k->tags ? 0 : cp_error_oom();
}

int cp_kbsd_policy_decode(const json_t *rp, const char *what, char **ret) {
        const char *d = json_string_value(json_object_get(rp, "data"));
        cp_release_policy *pol = NULL;
        uint8_t *pj;
        size_t pl;
        int r;
        if (!json_is_object(rp) || !d)
                return CP_ERROR(CP_EINVAL, "%s.data (base64url policy JSON) is required", what);
        if (strlen(d) > 2 * CP_RELEASE_POLICY_MAX)
                return CP_ERROR(CP_ETOOBIG, "%s too long", what);
        pj = malloc(cp_b64_decoded_max(strlen(d)) + 1);
        if (!pj)
                return cp_error_oom();
        if ((r = cp_b64_decode(d, strlen(d), CP_B64_URL_PADOPT, pj, cp_b64_decoded_max(strlen(d)), &pl)) < 0) {
                free(pj);
                return cp_error_wrap("%s.data: ", what);
        }
        r = cp_release_policy_parse((const char *) pj, pl, &pol);
        free(pj);
        if (r < 0)
                return r;
        r = cp_release_policy_to_json(pol, ret);
        cp_release_policy_free(pol);
        return r;
}

/* release_policy {"data": base64url(policy JSON), "immutable"}: validated, stored normalised. */
static int fill_policy(const json_t *rp, cp_kbsd_keyrow *k) {
        int r = cp_kbsd_policy_decode(rp, "release_policy", &k->policy);
        if (r < 0)
                return r;
        k->policy_immutable = json_is_true(json_object_get(rp, "immutable"));
        return 0;
}

/* Common attributes of create/import: attributes.exportable/enabled, tags, release_policy. */
static int fill_common(const json_t *body, cp_kbsd_keyrow *k) {
        const json_t *attr = json_object_get(body, "attributes"), *rp = json_object_get(body, "release_policy");
        int r;
        k->enabled = true;
        if (attr && !json_is_object(attr))
                return CP_ERROR(CP_EINVAL, "attributes must be an object");
        if (json_object_get(attr, "exportable"))
                k->exportable = json_is_true(json_object_get(attr, "exportable"));
        if (json_object_get(attr, "enabled"))
                k->enabled = json_is_true(json_object_get(attr, "enabled"));
        if ((r = fill_tags(json_object_get(body, "tags"), k)) < 0 || (rp && (r = fill_policy(rp, k)) < 0))
                return r;
        if (k->exportable && !k->policy)
                return CP_ERROR(CP_EINVAL, "an exportable key needs a release_policy");
        return 0;
}

static void set_spec(cp_kbsd_keyrow *k, const cp_kbsd_keyspec *ks) {
        snprintf(k->kty, sizeof(k->kty), "%s", ks->kty);
        snprintf(k->crv, sizeof(k->crv), "%s", ks->crv);
        k->key_size = ks->key_size;
}

/* Seal the material as a new version of k, store it, audit, answer its bundle. */
static void finish_key(cp_svc_call *c, cp_kbsd_keyrow *k, const uint8_t *mat, size_t ml, const char *op,
                       cp_kbsd_insert_mode mode) {
        cp_kbsd *s = cp_kbsd_of(c);
        int r;
        k->created = k->updated = cp_kbsd_now(s);
        if ((r = cp_kbsd_new_version(k->version)) < 0 ||
            (r = cp_kbsd_seal(s, k->name, k->version, mat, ml, &k->sealed, &k->sealed_len)) < 0 ||
            (r = cp_kbsd_key_insert(s, k, mode)) < 0) {
                cp_svc_reply_err(c, r);
                return;
        }
        cp_kbsd_audit(s, c->who, op, k->name, k->version, "ok", NULL, NULL);
        cp_svc_reply_json(c, 200, cp_kbsd_key_bundle(s, k, NULL));
}

/* Create and import: If-None-Match: * asks for a new name only (two
 * replicas asked at once: one key, one version; the other 409). */
static int insert_mode(const cp_svc_call *c, cp_kbsd_insert_mode *ret) {
        const char *inm = cp_http_req_header(c->req, "If-None-Match");
        if (inm && strcmp(inm, "*") != 0)
                return CP_ERROR(CP_EINVAL, "If-None-Match: only \"*\" (create only if the name is new) is supported");
        *ret = inm ? CP_KBSD_INSERT_NEW : CP_KBSD_INSERT_ANY;
        return 0;
}

/* A deleted key keeps its name until it is recovered or purged. */
static int name_free(cp_kbsd *s, const char *name) {
        cp_kbsd_keyrow k;
        if (cp_kbsd_key_load(s, name, NULL, true, &k) == 0) {
                cp_kbsd_keyrow_clear(&k);
                return CP_ERROR(CP_EBADSEQ, "a deleted key with this name exists (recover or purge it)");
        }
        return 0;
}

/* A new key, or (rotate_from) a new version with the type, attributes, tags and policy of the newest. */
static void create_key(cp_svc_call *c, const json_t *body, const cp_kbsd_keyrow *rotate_from) {
        const char *name = c->caps[0];
        cp_kbsd_keyrow k = { 0 };
        cp_kbsd_keyspec ks;
        cp_kbsd_insert_mode mode = CP_KBSD_INSERT_VERSION;
        uint8_t *mat = NULL;
        size_t ml = 0;
        int r;
        snprintf(k.name, sizeof(k.name), "%.127s", name);
        if ((r = name_free(cp_kbsd_of(c), name)) < 0 || (!rotate_from && (r = insert_mode(c, &mode)) < 0))
                goto fail;
        if (rotate_from) {
                if ((r = cp_kbsd_keyspec_parse(rotate_from->kty, rotate_from->key_size, rotate_from->crv, &ks)) < 0)
                        goto fail;
                k.exportable = rotate_from->exportable;
                k.enabled = true;
                k.tags = json_deep_copy(rotate_from->tags);
                k.policy = rotate_from->policy ? strdup(rotate_from->policy) : NULL;
                k.policy_immutable = rotate_from->policy_immutable;
        } else {
                const json_t *sz = json_object_get(body, "key_size");
                if ((r = cp_kbsd_keyspec_parse(json_string_value(json_object_get(body, "kty")),
                                               sz ? (int) json_integer_value(sz) : 0,
                                               json_string_value(json_object_get(body, "crv")), &ks)) < 0 ||
                    (r = fill_common(body, &k)) < 0)
                        goto fail;
        }
        set_spec(&k, &ks);
        if ((r = cp_kbsd_key_generate(&ks, &mat, &ml, &k.public_jwk)) < 0)
                goto fail;
        finish_key(c, &k, mat, ml, rotate_from ? "rotate" : "create", mode);
        goto done;
fail:
        cp_svc_reply_err(c, r);
done:
        if (mat)
                cp_wipe(mat, ml);
        free(mat);
        cp_kbsd_keyrow_clear(&k);
}

/* POST|PUT /keys/{name}/create */
void cp_kbsd_h_create(cp_svc_call *c) {
        json_t *body = NULL;
        if (!cp_kbsd_begin(c, &body))
                return;
        create_key(c, body, NULL);
        json_decref(body);
}

/* POST /keys/{name}/rotate */
void cp_kbsd_h_rotate(cp_svc_call *c) {
        cp_kbsd_keyrow k;
        json_t *body = NULL;
        int r;
        if (!cp_kbsd_begin(c, &body))
                return;
        if ((r = cp_kbsd_key_load(cp_kbsd_of(c), c->caps[0], NULL, false, &k)) < 0) {
                json_decref(body);
                cp_svc_reply_err(c, r);
                return;
        }
        create_key(c, body, &k);
        cp_kbsd_keyrow_clear(&k);
        json_decref(body);
}

/* PUT /keys/{name} {"key": <private JWK>, ...}: BYOK */
void cp_kbsd_h_import(cp_svc_call *c) {
        cp_kbsd_keyrow k = { 0 };
        cp_kbsd_keyspec ks;
        cp_kbsd_insert_mode mode = CP_KBSD_INSERT_ANY;
        json_t *body = NULL;
        uint8_t *mat = NULL;
        size_t ml = 0;
        int r;
        if (!cp_kbsd_begin(c, &body))
                return;
        snprintf(k.name, sizeof(k.name), "%.127s", c->caps[0]);
        const json_t *jwk = json_object_get(body, "key");
        if (!json_is_object(jwk)) {
                r = CP_ERROR(CP_EINVAL, "\"key\" (a private JWK) is required");
                goto fail;
        }
        if ((r = insert_mode(c, &mode)) < 0 || (r = name_free(cp_kbsd_of(c), k.name)) < 0 ||
            (r = fill_common(body, &k)) < 0 ||
            (r = cp_kbsd_key_import_jwk(jwk, &ks, &mat, &ml, &k.public_jwk)) < 0)
                goto fail;
        set_spec(&k, &ks);
        finish_key(c, &k, mat, ml, "import", mode);
        goto done;
fail:
        cp_svc_reply_err(c, r);
done:
        if (mat)
                cp_wipe(mat, ml);
        free(mat);
        json_decref(body);
        cp_kbsd_keyrow_clear(&k);
}

static void reply_key(cp_svc_call *c, const char *version, bool deleted) {
        cp_kbsd_keyrow k;
        int r;
        if (!cp_kbsd_name_ok(c))
                return;
        if ((r = cp_kbsd_key_load(cp_kbsd_of(c), c->caps[0], version, deleted, &k)) < 0) {
                cp_svc_reply_err(c, r);
                return;
        }
        cp_svc_reply_json(c, 200, cp_kbsd_key_bundle(cp_kbsd_of(c), &k, NULL));
        cp_kbsd_keyrow_clear(&k);
}

/* GET /keys/{name}[/{version}] */
void cp_kbsd_h_get(cp_svc_call *c) {
        reply_key(c, c->n_caps > 1 ? c->caps[1] : NULL, false);
}

/* GET /deletedkeys/{name} */
void cp_kbsd_h_get_deleted(cp_svc_call *c) {
        reply_key(c, NULL, true);
}

typedef struct list_ctx {
        const cp_kbsd *s;
        json_t *arr;
} list_ctx;

static int list_item(const cp_kbsd_keyrow *k, void *userdata) {
        list_ctx *l = userdata;
        json_t *b = cp_kbsd_key_bundle(l->s, k, NULL);
        json_t *item = json_pack("{s:O,s:O,s:O}", "kid", json_object_get(json_object_get(b, "key"), "kid"), "attributes",
                                 json_object_get(b, "attributes"), "tags", json_object_get(b, "tags"));
        json_array_append_new(l->arr, item);
        json_decref(b);
        return 0;
}

static void reply_list(cp_svc_call *c, const char *name, bool deleted) {
        list_ctx l = { .s = cp_kbsd_of(c), .arr = json_array() };
        int r = cp_kbsd_key_foreach(cp_kbsd_of(c), name, deleted, list_item, &l);
        if (r < 0) {
                json_decref(l.arr);
                cp_svc_reply_err(c, r);
                return;
        }
        cp_svc_reply_json(c, 200, json_pack("{s:o,s:n}", "value", l.arr, "nextLink"));
}

/* GET /keys */
void cp_kbsd_h_list(cp_svc_call *c) {
        reply_list(c, NULL, false);
}

/* GET /deletedkeys */
void cp_kbsd_h_list_deleted(cp_svc_call *c) {
        reply_list(c, NULL, true);
}

/* GET /keys/{name}/versions */
void cp_kbsd_h_versions(cp_svc_call *c) {
        if (cp_kbsd_name_ok(c))
                reply_list(c, c->caps[0], false);
}

/* DELETE /keys/{name}: soft delete, purgeable after the recovery days. */
void cp_kbsd_h_delete(cp_svc_call *c) {
        cp_kbsd *s = cp_kbsd_of(c);
        const char *name = c->caps[0];
        cp_kbsd_keyrow k;
        int r;
        if (!cp_kbsd_name_ok(c))
                return;
        if ((r = cp_kbsd_key_load(s, name, NULL, false, &k)) < 0) {
                cp_svc_reply_err(c, r);
                return;
        }
        int64_t now = cp_kbsd_now(s), purge = now + (int64_t) s->cfg.recovery_days * 86400;
        if ((r = cp_kbsd_key_soft_delete(s, name, now, purge)) <= 0) {
                /* 0 rows: another delete (here or on another replica) came first */
                cp_kbsd_keyrow_clear(&k);
                cp_svc_reply_err(c, r < 0 ? r : CP_ERROR(CP_ENOTFOUND, "key %s not found (deleted meanwhile)", name));
                return;
        }
        k.deleted = now;
        k.purge_at = purge;
        cp_kbsd_audit(s, c->who, "delete", name, NULL, "ok", NULL, NULL);
        cp_svc_reply_json(c, 200, cp_kbsd_key_bundle(s, &k, NULL));
        cp_kbsd_keyrow_clear(&k);
}

/* POST /deletedkeys/{name}/recover */
void cp_kbsd_h_recover(cp_svc_call *c) {
        cp_kbsd *s = cp_kbsd_of(c);
        const char *name = c->caps[0];
        json_t *body = NULL;
        int r;
        if (!cp_kbsd_begin(c, &body))
                return;
        json_decref(body);
        if ((r = cp_kbsd_key_recover(s, name)) <= 0) {
                cp_svc_reply_err(c, r < 0 ? r : CP_ERROR(CP_ENOTFOUND, "deleted key %s not found", name));
                return;
        }
        cp_kbsd_audit(s, c->who, "recover", name, NULL, "ok", NULL, NULL);
        reply_key(c, NULL, false);
}

/* DELETE /deletedkeys/{name}: crypto-erase. */
void cp_kbsd_h_purge(cp_svc_call *c) {
        cp_kbsd *s = cp_kbsd_of(c);
        const char *name = c->caps[0];
        if (!cp_kbsd_name_ok(c))
                return;
        int r = cp_kbsd_key_purge(s, name);
        if (r <= 0) {
                cp_svc_reply_err(c, r < 0 ? r : CP_ERROR(CP_ENOTFOUND, "deleted key %s not found", name));
                return;
        }
        cp_kbsd_audit(s, c->who, "purge", name, NULL, "ok", NULL, NULL);
        c->resp->status = 204;
}
