/* SPDX-License-Identifier: Apache-2.0 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "basic/codec.h"
#include "controlplane/cp-backend.h"
#include "controlplane/cp-store.h"

typedef struct fake_backend {
        cp_backend base;
        unsigned delay_ms;
        cp_fake_fail_fn fail;
        void *userdata;
        json_t *fail_sizes; /* from the configuration (cp_backend_fake_from_config) */
        /* "launchMeasurement" configured: the nodes are attested (issue 19,
         * bench/bench-fleet.c): Joining until they register, the node image's
         * launch digest is this one */
        bool attested;
        uint8_t measurement[48];
} fake_backend;

static int fake_create(cp_backend *b, const cp_node_spec *spec, char *ret_handle, size_t size) {
        fake_backend *f = (fake_backend *) b;
        bool fail = f->fail && f->fail(f->userdata, spec->vm_size);
        char scope[17];
        cp_node_scope(spec->pool_id, scope); /* (pool, name): as every backend's handle */
        int n = snprintf(ret_handle, size, "fake:%" PRId64 ":%d:%s/%s", cp_now_ms(), fail ? 1 : 0, scope, spec->name);
        if (n < 0 || (size_t) n >= size)
                return CP_ERROR(CP_ETOOBIG, "handle too long");
        return 0;
}

static int fake_status(cp_backend *b, const char *handle, cp_node_state *ret_state, char *ret_ip, size_t ip_size,
                       char *ret_error, size_t error_size) {
        fake_backend *f = (fake_backend *) b;
        long long created;
        int fail, off = 0;
        if (sscanf(handle, "fake:%lld:%d:%n", &created, &fail, &off) != 2 || off == 0)
                return CP_ERROR(CP_EFORMAT, "not a fake backend handle");
        /* a stable private address per node name */
        unsigned h = 2166136261u;
        for (const char *p = handle + off; *p; p++)
                h = (h ^ (unsigned char) *p) * 16777619u;
        snprintf(ret_ip, ip_size, "10.224.%u.%u", (h >> 8) % 254 + 1, h % 253 + 2);
        if (cp_now_ms() - created < (int64_t) f->delay_ms)
                *ret_state = CP_NODE_PROVISIONING;
        else if (fail) {
                *ret_state = CP_NODE_FAILED;
                snprintf(ret_error, error_size, "the fake backend was configured to fail this VM size");
        } else /* an attested node is Ready only once it registered (the control plane's record) */
                *ret_state = f->attested ? CP_NODE_JOINING : CP_NODE_READY;
        return 0;
}

static int fake_delete(cp_backend *b, const char *handle) {
        (void) b;
        (void) handle;
        return 0;
}

static void fake_free(cp_backend *b) {
        json_decref(((fake_backend *) b)->fail_sizes);
        free(b);
}

static int fake_expected_measurement(cp_backend *b, const cp_node_spec *spec, uint8_t ret[48]) {
        (void) spec;
        memcpy(ret, ((fake_backend *) b)->measurement, 48);
        return 0;
}

static const cp_backend_ops fake_ops = {
        .name = "fake",
        .create_node = fake_create,
        .node_status = fake_status,
        .delete_node = fake_delete,
        .free = fake_free,
};

/* With "launchMeasurement": nodes that attest and register (the node
 * endpoints, the pool policy and the health checks apply). */
static const cp_backend_ops fake_attested_ops = {
        .name = "fake",
        .create_node = fake_create,
        .node_status = fake_status,
        .delete_node = fake_delete,
        .free = fake_free,
        .expected_measurement = fake_expected_measurement,
};

int cp_backend_fake_new(unsigned ready_delay_ms, cp_fake_fail_fn fail, void *userdata, cp_backend **ret) {
        fake_backend *f = calloc(1, sizeof *f);
        if (!f)
                return cp_error_oom();
        f->base.ops = &fake_ops;
        f->delay_ms = ready_delay_ms;
        f->fail = fail;
        f->userdata = userdata;
        *ret = &f->base;
        return 0;
}

/* ---- the knobs ---------------------------------------------------------- */

#define FAKE_DEFAULT_READY_DELAY_MS 500u
#define FAKE_MAX_READY_DELAY_MS 3600000u

int cp_backend_fake_check_config(const json_t *cfg) {
        const char *k;
        const json_t *v;
        if (!cfg)
                return 0;
        if (!json_is_object(cfg))
                return CP_ERROR(CP_EFORMAT, "config: fakeBackend must be an object");
        json_object_foreach((json_t *) cfg, k, v) {
                if (strcmp(k, "readyDelayMs") == 0) {
                        if (!json_is_integer(v) || json_integer_value(v) < 0 ||
                            json_integer_value(v) > (json_int_t) FAKE_MAX_READY_DELAY_MS)
                                return CP_ERROR(CP_EFORMAT, "config: \"readyDelayMs\" must be an integer in [0,%u]",
                                                FAKE_MAX_READY_DELAY_MS);
                } else if (strcmp(k, "launchMeasurement") == 0) {
                        uint8_t m[48];
                        size_t n = 0;
                        const char *h = json_string_value(v);
                        if (!h || strlen(h) != 96 || cp_hex_decode(h, 96, m, sizeof m, &n) < 0 || n != 48) {
                                cp_error_clear();
                                return CP_ERROR(CP_EFORMAT, "config: \"launchMeasurement\" in fakeBackend must be "
                                                            "96 hex digits (48 bytes)");
                        }
                } else if (strcmp(k, "failSizes") == 0) {
                        size_t i;
                        const json_t *e;
                        if (!json_is_array(v))
                                return CP_ERROR(CP_EFORMAT, "config: failSizes must be an array");
                        json_array_foreach(v, i, e) if (!json_is_string(e)) return CP_ERROR(
                                CP_EFORMAT, "config: failSizes must hold strings");
                } else
                        return CP_ERROR(CP_EFORMAT, "config: unknown key \"%s\" in fakeBackend", k);
        }
        return 0;
}

static bool size_fails(void *userdata, const char *size) {
        const fake_backend *f = userdata;
        size_t i;
        const json_t *e;
        json_array_foreach(f->fail_sizes, i, e) if (size && strcasecmp(json_string_value(e), size) == 0) return true;
        return false;
}

int cp_backend_fake_from_config(const json_t *cfg, cp_backend **ret) {
        int r = cp_backend_fake_check_config(cfg);
        if (r < 0)
                return r;
        const json_t *d = json_object_get(cfg, "readyDelayMs");
        const json_t *fs = json_object_get(cfg, "failSizes");
        cp_backend *b = NULL;
        r = cp_backend_fake_new(d ? (unsigned) json_integer_value(d) : FAKE_DEFAULT_READY_DELAY_MS, size_fails, NULL,
                                &b);
        if (r < 0)
                return r;
        fake_backend *f = (fake_backend *) b;
        f->userdata = f;
        const char *lm = json_string_value(json_object_get(cfg, "launchMeasurement"));
        size_t n = 0;
        if (lm && cp_hex_decode(lm, 96, f->measurement, sizeof f->measurement, &n) >= 0 && n == 48) {
                f->attested = true;
                f->base.ops = &fake_attested_ops;
        }
        f->fail_sizes = fs ? json_deep_copy(fs) : json_array();
        if (!f->fail_sizes) {
                cp_backend_free(b);
                return cp_error_oom();
        }
        *ret = b;
        return 0;
}

cp_backend *cp_backend_free(cp_backend *b) {
        if (b)
                b->ops->free(b);
        return NULL;
}
