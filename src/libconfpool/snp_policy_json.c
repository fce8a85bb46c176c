/* SPDX-License-Identifier: Apache-2.0 */
/*
 * JSON form of the SEV-SNP validation policy (schema: docs/policy.md).
 *
 * Parsing is strict and table driven: every object is walked key by key,
 * each key must be in the table of its level (else "<path>: unknown key"),
 * and each value must have exactly the documented type and range.  jansson
 * does the tokenising (with JSON_REJECT_DUPLICATES and its default
 * end-of-input check, so trailing garbage is refused); a pre-scan bounds
 * the nesting depth before jansson sees the input.
 */
#include <inttypes.h>
#include <jansson.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "basic/cleanup.h"
#include "basic/codec.h"
#include "basic/cursor.h"
#include "basic/limits.h"
#include "confpool/snp_policy.h"
#include "basic/json-depth.h"

#define DIGEST_WIDTH 48u
#define PATH_MAX_LEN 128u
#define KEY_SHOWN_MAX 40u

typedef enum field_kind {
        K_FORMAT_VERSION, /* integer, must be CP_SNP_POLICY_VERSION */
        K_OBJECT,         /* nested object described by sub */
        K_BOOL,
        K_U8,             /* integer 0..255 */
        K_U32,            /* integer 0..2^32-1 */
        K_VERSION_PAIR,   /* "major.minor", each 0..255: off = major, off2 = minor */
        K_TCB,            /* null or {"bl","tee","snp","ucode"[,"fmc"]}: off = cp_snp_tcb, off2 = has */
        K_HEX,            /* null or exactly 2*len hex digits: off = bytes, off2 = has */
        K_VMPL,           /* null or integer 0..3: off = uint32_t, off2 = has */
        K_SET,            /* array of 96-hex-digit strings: off = cp_snp_bytes_set */
        K_SIGNING_KEYS,   /* array of "VCEK" / "VLEK" */
        K_GENERATION,     /* null or "Milan" / "Genoa" / "Turin" */
        K_MIT,            /* "0x" + 1..16 hex digits: off = uint64_t */
} field_kind;

typedef struct field {
        const char *name;
        field_kind kind;
        size_t off, off2, len;
        const struct field *sub;
} field;

#define OFF(f) offsetof(cp_snp_policy, f)
#define F_BOOL(n, f) { n, K_BOOL, OFF(f), 0, 0, NULL }
#define F_HEX(f) { #f, K_HEX, OFF(f), OFF(has_##f), sizeof(((cp_snp_policy *) 0)->f), NULL }
#define F_SET(f) { #f, K_SET, OFF(f), 0, 0, NULL }

static const field guest_policy_fields[] = {
        F_BOOL("check", check_guest_policy),
        { "min_abi", K_VERSION_PAIR, OFF(min_abi_major), OFF(min_abi_minor), 0, NULL },
        F_BOOL("allow_smt", allow_smt),
        F_BOOL("allow_migrate_ma", allow_migrate_ma),
        F_BOOL("allow_debug", allow_debug),
        F_BOOL("allow_cxl", allow_cxl),
        F_BOOL("require_single_socket", require_single_socket),
        F_BOOL("require_mem_aes_256_xts", require_mem_aes_256_xts),
        F_BOOL("require_rapl_dis", require_rapl_dis),
        F_BOOL("require_ciphertext_hiding", require_ciphertext_hiding),
        F_BOOL("require_page_swap_disable", require_page_swap_disable),
        { NULL, 0, 0, 0, 0, NULL },
};

static const field platform_info_fields[] = {
        F_BOOL("check", check_platform_info),
        F_BOOL("allow_smt", platform_allow_smt),
        F_BOOL("allow_tsme", platform_allow_tsme),
        F_BOOL("allow_tio", platform_allow_tio),
        F_BOOL("require_ecc", platform_require_ecc),
        F_BOOL("require_rapl_dis", platform_require_rapl_dis),
        F_BOOL("require_ciphertext_hiding", platform_require_ciphertext_hiding),
        F_BOOL("require_alias_check", platform_require_alias_check),
        F_BOOL("allow_unknown_bits", platform_allow_unknown_bits),
        { NULL, 0, 0, 0, 0, NULL },
};

static const field root_fields[] = {
        { "version", K_FORMAT_VERSION, OFF(version), 0, 0, NULL },
        { "guest_policy", K_OBJECT, 0, 0, 0, guest_policy_fields },
        { "platform_info", K_OBJECT, 0, 0, 0, platform_info_fields },
        { "min_guest_svn", K_U32, OFF(min_guest_svn), 0, 0, NULL },
        { "min_build", K_U8, OFF(min_build), 0, 0, NULL },
        { "min_version", K_VERSION_PAIR, OFF(min_version_major), OFF(min_version_minor), 0, NULL },
        { "min_tcb", K_TCB, OFF(min_tcb), OFF(has_min_tcb), 0, NULL },
        { "min_launch_tcb", K_TCB, OFF(min_launch_tcb), OFF(has_min_launch_tcb), 0, NULL },
        F_BOOL("permit_provisional_firmware", permit_provisional_firmware),
        F_HEX(report_data),
        F_HEX(host_data),
        F_HEX(family_id),
        F_HEX(image_id),
        F_HEX(report_id),
        F_HEX(report_id_ma),
        F_HEX(chip_id),
        { "vmpl", K_VMPL, OFF(vmpl), OFF(has_vmpl), 0, NULL },
        F_SET(measurements),
        F_SET(trusted_id_key_digests),
        F_SET(trusted_author_key_digests),
        F_BOOL("require_id_block", require_id_block),
        F_BOOL("require_author_key", require_author_key),
        { "signing_keys", K_SIGNING_KEYS, 0, 0, 0, NULL },
        { "generation", K_GENERATION, 0, 0, 0, NULL },
        { "min_launch_mit_vector", K_MIT, OFF(min_launch_mit_vector), 0, 0, NULL },
        { "min_current_mit_vector", K_MIT, OFF(min_current_mit_vector), 0, 0, NULL },
        { NULL, 0, 0, 0, 0, NULL },
};

#undef OFF
#undef F_BOOL
#undef F_HEX
#undef F_SET

static const struct {
        const char *name;
        cp_snp_generation gen;
} generations[] = {
        { "Milan", CP_SNP_GEN_MILAN },
        { "Genoa", CP_SNP_GEN_GENOA },
        { "Turin", CP_SNP_GEN_TURIN },
};

#define MEMBER(p, off, type) ((type *) ((uint8_t *) (p) + (off)))
#define CMEMBER(p, off, type) ((const type *) ((const uint8_t *) (p) + (off)))

/* ---- paths for error messages (keys are attacker-controlled: printable
 * ASCII only, truncated) */

static void path_key(char *out, size_t cap, const char *parent, const char *key) {
        char k[KEY_SHOWN_MAX + 1];
        size_t i = 0, j = 0;
        for (; key[i] && j < KEY_SHOWN_MAX; i++)
                k[j++] = (key[i] >= 0x20 && key[i] < 0x7f) ? key[i] : '?';
        k[j] = '\0';
        snprintf(out, cap, "%s.%s%s", parent, k, key[i] ? "..." : "");
}

static void path_index(char *out, size_t cap, const char *parent, size_t idx) {
        snprintf(out, cap, "%s[%zu]", parent, idx);
}

static const char *type_name(const json_t *v) {
        switch (json_typeof(v)) {
        case JSON_OBJECT:
                return "object";
        case JSON_ARRAY:
                return "array";
        case JSON_STRING:
                return "string";
        case JSON_INTEGER:
                return "integer";
        case JSON_REAL:
                return "real";
        case JSON_TRUE:
        case JSON_FALSE:
                return "boolean";
        case JSON_NULL:
                return "null";
        }
        return "unknown";
}

static int type_error(const char *path, const char *expected, const json_t *v) {
        return CP_ERROR(CP_EFORMAT, "%s: expected %s, got %s", path, expected, type_name(v));
}

/* ---- value parsers */

static int parse_uint(const char *path, const json_t *v, uint64_t max, uint64_t *ret) {
        if (!json_is_integer(v))
                return type_error(path, "integer", v);
        json_int_t i = json_integer_value(v);
        if (i < 0 || (uint64_t) i > max)
                return CP_ERROR(CP_EFORMAT, "%s: %" JSON_INTEGER_FORMAT " out of range 0..%" PRIu64, path, i, max);
        *ret = (uint64_t) i;
        return 0;
}

/* "major.minor", each 1-3 decimal digits with value <= 255. */
static int parse_version_pair(const char *path, const json_t *v, uint8_t *ret_major, uint8_t *ret_minor) {
        if (!json_is_string(v))
                return type_error(path, "string \"major.minor\"", v);
        const char *s = json_string_value(v);
        size_t len = json_string_length(v), i = 0;
        unsigned part[2] = { 0, 0 };
        for (unsigned n = 0; n < 2; n++) {
                size_t digits = 0;
                while (i < len && s[i] >= '0' && s[i] <= '9' && digits < 4) {
                        part[n] = part[n] * 10 + (unsigned) (s[i] - '0');
                        i++;
                        digits++;
                }
                if (digits == 0 || digits > 3 || part[n] > 255)
                        return CP_ERROR(CP_EFORMAT, "%s: expected \"major.minor\" with numbers 0..255", path);
                if (n == 0) {
                        if (i >= len || s[i] != '.')
                                return CP_ERROR(CP_EFORMAT, "%s: expected \"major.minor\" with numbers 0..255",
                                                path);
                        i++;
                }
        }
        if (i != len)
                return CP_ERROR(CP_EFORMAT, "%s: expected \"major.minor\" with numbers 0..255", path);
        *ret_major = (uint8_t) part[0];
        *ret_minor = (uint8_t) part[1];
        return 0;
}

static int parse_hex_fixed(const char *path, const json_t *v, uint8_t *out, size_t n) {
        if (!json_is_string(v))
                return type_error(path, "hex string", v);
        size_t len = json_string_length(v), got;
        if (len != 2 * n)
                return CP_ERROR(CP_EFORMAT, "%s: expected %zu hex digits (%zu bytes), got %zu characters", path,
                                2 * n, n, len);
        if (cp_hex_decode(json_string_value(v), len, out, n, &got) < 0 || got != n)
                return CP_ERROR(CP_EFORMAT, "%s: invalid hex string", path);
        return 0;
}

static int parse_mit(const char *path, const json_t *v, uint64_t *ret) {
        if (!json_is_string(v))
                return type_error(path, "string \"0x<hex>\"", v);
        const char *s = json_string_value(v);
        size_t len = json_string_length(v);
        if (len < 3 || len > 18 || s[0] != '0' || s[1] != 'x')
                return CP_ERROR(CP_EFORMAT, "%s: expected \"0x\" followed by 1 to 16 hex digits", path);
        uint64_t x = 0;
        for (size_t i = 2; i < len; i++) {
                char c = s[i];
                unsigned d;
                if (c >= '0' && c <= '9')
                        d = (unsigned) (c - '0');
                else if (c >= 'a' && c <= 'f')
                        d = (unsigned) (c - 'a' + 10);
                else if (c >= 'A' && c <= 'F')
                        d = (unsigned) (c - 'A' + 10);
                else
                        return CP_ERROR(CP_EFORMAT, "%s: invalid hex digit", path);
                x = x << 4 | d;
        }
        *ret = x;
        return 0;
}

static int parse_tcb(const char *path, const json_t *v, bool *ret_has, cp_snp_tcb *ret) {
        static const char *const names[] = { "bl", "tee", "snp", "ucode", "fmc" };
        char sub[PATH_MAX_LEN];
        uint8_t vals[5] = { 0 };
        bool seen[5] = { false };
        const char *key;
        json_t *val;

        if (json_is_null(v)) {
                *ret_has = false;
                *ret = (cp_snp_tcb) { 0 };
                return 0;
        }
        if (!json_is_object(v))
                return type_error(path, "object or null", v);
        json_object_foreach((json_t *) v, key, val) {
                size_t i;
                path_key(sub, sizeof(sub), path, key);
                for (i = 0; i < CP_ELEMENTSOF(names); i++)
                        if (strcmp(key, names[i]) == 0)
                                break;
                if (i == CP_ELEMENTSOF(names))
                        return CP_ERROR(CP_EFORMAT, "%s: unknown key", sub);
                uint64_t x = 0;
                int k = parse_uint(sub, val, UINT8_MAX, &x);
                if (k < 0)
                        return k;
                vals[i] = (uint8_t) x;
                seen[i] = true;
        }
        for (size_t i = 0; i < 4; i++)
                if (!seen[i])
                        return CP_ERROR(CP_EFORMAT, "%s: missing key \"%s\"", path, names[i]);
        *ret = (cp_snp_tcb) { .bl = vals[0], .tee = vals[1], .snp = vals[2], .ucode = vals[3], .fmc = vals[4],
                              .has_fmc = seen[4] };
        *ret_has = true;
        return 0;
}

static int parse_set(const char *path, const json_t *v, cp_snp_bytes_set *s) {
        char sub[PATH_MAX_LEN];
        uint8_t item[DIGEST_WIDTH];
        size_t i;
        json_t *e;

        if (!json_is_array(v))
                return type_error(path, "array", v);
        if (json_array_size(v) > CP_MAX_POLICY_SET)
                return CP_ERROR(CP_ETOOBIG, "%s: %zu items, at most %u allowed", path, json_array_size(v),
                                CP_MAX_POLICY_SET);
        /* Keys are unique (JSON_REJECT_DUPLICATES), so the set still holds
         * the (empty) default; start from scratch anyway. */
        free(s->items);
        *s = (cp_snp_bytes_set) { .width = DIGEST_WIDTH };
        json_array_foreach(v, i, e) {
                path_index(sub, sizeof(sub), path, i);
                int k = parse_hex_fixed(sub, e, item, sizeof(item));
                if (k < 0)
                        return k;
                k = cp_snp_bytes_set_add(s, item, sizeof(item));
                if (k < 0)
                        return k;
        }
        return 0;
}

static int parse_signing_keys(const char *path, const json_t *v, cp_snp_policy *p) {
        char sub[PATH_MAX_LEN];
        bool vcek = false, vlek = false;
        size_t i;
        json_t *e;

        if (!json_is_array(v))
                return type_error(path, "array", v);
        json_array_foreach(v, i, e) {
                path_index(sub, sizeof(sub), path, i);
                if (!json_is_string(e))
                        return type_error(sub, "string \"VCEK\" or \"VLEK\"", e);
                bool *slot;
                if (strcmp(json_string_value(e), "VCEK") == 0)
                        slot = &vcek;
                else if (strcmp(json_string_value(e), "VLEK") == 0)
                        slot = &vlek;
                else
                        return CP_ERROR(CP_EFORMAT, "%s: expected \"VCEK\" or \"VLEK\"", sub);
                if (*slot)
                        return CP_ERROR(CP_EFORMAT, "%s: duplicate entry", sub);
                *slot = true;
        }
        p->allow_vcek = vcek;
        p->allow_vlek = vlek;
        return 0;
}

static int parse_generation(const char *path, const json_t *v, cp_snp_policy *p) {
        if (json_is_null(v)) {
                p->has_generation = false;
                p->generation = CP_SNP_GEN_UNKNOWN;
                return 0;
        }
        if (!json_is_string(v))
                return type_error(path, "string or null", v);
        for (size_t i = 0; i < CP_ELEMENTSOF(generations); i++)
                if (strcmp(json_string_value(v), generations[i].name) == 0) {
                        p->has_generation = true;
                        p->generation = generations[i].gen;
                        return 0;
                }
        return CP_ERROR(CP_EFORMAT, "%s: expected \"Milan\", \"Genoa\" or \"Turin\"", path);
}

static int parse_object(const char *path, const json_t *obj, const field *table, cp_snp_policy *p);

static int parse_field(const char *path, const field *f, const json_t *v, cp_snp_policy *p) {
        uint64_t x = 0;
        int k;

        switch (f->kind) {
        case K_FORMAT_VERSION:
                if ((k = parse_uint(path, v, UINT32_MAX, &x)) < 0)
                        return k;
                if (x != CP_SNP_POLICY_VERSION)
                        return CP_ERROR(CP_EVERSION, "%s: unsupported policy version %" PRIu64 " (expected %u)",
                                        path, x, CP_SNP_POLICY_VERSION);
                *MEMBER(p, f->off, unsigned) = (unsigned) x;
                return 0;
        case K_OBJECT:
                return parse_object(path, v, f->sub, p);
        case K_BOOL:
                if (!json_is_boolean(v))
                        return type_error(path, "boolean", v);
                *MEMBER(p, f->off, bool) = json_is_true(v);
                return 0;
        case K_U8:
                if ((k = parse_uint(path, v, UINT8_MAX, &x)) < 0)
                        return k;
                *MEMBER(p, f->off, uint8_t) = (uint8_t) x;
                return 0;
        case K_U32:
                if ((k = parse_uint(path, v, UINT32_MAX, &x)) < 0)
                        return k;
                *MEMBER(p, f->off, uint32_t) = (uint32_t) x;
                return 0;
        case K_VERSION_PAIR:
                return parse_version_pair(path, v, MEMBER(p, f->off, uint8_t), MEMBER(p, f->off2, uint8_t));
        case K_TCB:
                return parse_tcb(path, v, MEMBER(p, f->off2, bool), MEMBER(p, f->off, cp_snp_tcb));
        case K_HEX:
                if (json_is_null(v)) {
                        *MEMBER(p, f->off2, bool) = false;
                        memset(MEMBER(p, f->off, uint8_t), 0, f->len);
                        return 0;
                }
                if ((k = parse_hex_fixed(path, v, MEMBER(p, f->off, uint8_t), f->len)) < 0)
                        return k;
                *MEMBER(p, f->off2, bool) = true;
                return 0;
        case K_VMPL:
                if (json_is_null(v)) {
                        *MEMBER(p, f->off2, bool) = false;
                        *MEMBER(p, f->off, uint32_t) = 0;
                        return 0;
                }
                if (!json_is_integer(v))
                        return type_error(path, "integer or null", v);
                if ((k = parse_uint(path, v, 3, &x)) < 0)
                        return k;
                *MEMBER(p, f->off2, bool) = true;
                *MEMBER(p, f->off, uint32_t) = (uint32_t) x;
                return 0;
        case K_SET:
                return parse_set(path, v, MEMBER(p, f->off, cp_snp_bytes_set));
        case K_SIGNING_KEYS:
                return parse_signing_keys(path, v, p);
        case K_GENERATION:
                return parse_generation(path, v, p);
        case K_MIT:
                return parse_mit(path, v, MEMBER(p, f->off, uint64_t));
        }
        return CP_ERROR(CP_EINTERNAL, "%s: unhandled field kind", path);
}

static int parse_object(const char *path, const json_t *obj, const field *table, cp_snp_policy *p) {
        char sub[PATH_MAX_LEN];
        const char *key;
        json_t *val;

        if (!json_is_object(obj))
                return type_error(path, "object", obj);
        json_object_foreach((json_t *) obj, key, val) {
                const field *f;
                path_key(sub, sizeof(sub), path, key);
                for (f = table; f->name; f++)
                        if (strcmp(f->name, key) == 0)
                                break;
                if (!f->name)
                        return CP_ERROR(CP_EFORMAT, "%s: unknown key", sub);
                int k = parse_field(sub, f, val, p);
                if (k < 0)
                        return k;
        }
        return 0;
}

static int check_depth(const char *json, size_t len) {
        size_t off = 0;
        if (!cp_json_depth_within(json, len, CP_MAX_JSON_DEPTH, &off))
                return CP_ERROR(CP_ETOOBIG, "policy JSON: nesting deeper than %u at offset %zu", CP_MAX_JSON_DEPTH,
                                off);
        return 0;
}

static void json_unrefp(json_t **j) {
        if (*j)
                json_decref(*j);
}

int cp_snp_policy_from_json(const char *json, size_t len, cp_snp_policy *ret) {
        _cleanup_(json_unrefp) json_t *root = NULL;
        json_error_t jerr;
        cp_snp_policy p;
        int k;

        if (!json || !ret)
                return CP_ERROR(CP_EINVAL, "policy JSON: invalid argument");
        if (len > CP_MAX_POLICY_JSON)
                return CP_ERROR(CP_ETOOBIG, "policy JSON: %zu bytes, at most %u allowed", len, CP_MAX_POLICY_JSON);
        if ((k = check_depth(json, len)) < 0)
                return k;

        root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
        if (!root)
                return CP_ERROR(CP_EFORMAT, "policy JSON: line %d column %d: %s", jerr.line, jerr.column, jerr.text);
        if (!json_is_object(root))
                return type_error("$", "object", root);
        json_t *version = json_object_get(root, "version");
        if (!version)
                return CP_ERROR(CP_EFORMAT, "$.version: missing (required)");

        cp_snp_policy_init(&p);
        /* Check the version before anything else so that a newer document
         * fails with CP_EVERSION rather than on its first new key. */
        k = parse_field("$.version", &root_fields[0], version, &p);
        if (k >= 0)
                k = parse_object("$", root, root_fields, &p);
        if (k < 0) {
                cp_snp_policy_clear(&p);
                return k;
        }
        *ret = p;
        return 0;
}

/* ---- serialisation */

static int set_new(json_t *obj, const char *key, json_t *v) {
        /* json_object_set_new() consumes v even on failure and fails on NULL. */
        if (!v || json_object_set_new(obj, key, v) < 0)
                return cp_error_oom();
        return 0;
}

static json_t *hex_string(const uint8_t *b, size_t n) {
        char buf[2 * 64 + 1];
        if (n > 64)
                return NULL;
        cp_hex_encode(b, n, buf);
        return json_string(buf);
}

static json_t *version_pair(uint8_t major, uint8_t minor) {
        char buf[16];
        snprintf(buf, sizeof(buf), "%u.%u", major, minor);
        return json_string(buf);
}

static json_t *tcb_json(const cp_snp_tcb *t) {
        json_t *o = json_object();
        if (!o)
                return NULL;
        if (set_new(o, "bl", json_integer(t->bl)) < 0 || set_new(o, "tee", json_integer(t->tee)) < 0 ||
            set_new(o, "snp", json_integer(t->snp)) < 0 || set_new(o, "ucode", json_integer(t->ucode)) < 0 ||
            (t->has_fmc && set_new(o, "fmc", json_integer(t->fmc)) < 0)) {
                json_decref(o);
                return NULL;
        }
        return o;
}

static json_t *set_json(const cp_snp_bytes_set *s) {
        json_t *a = json_array();
        if (!a)
                return NULL;
        for (size_t i = 0; i < s->n; i++)
                if (json_array_append_new(a, hex_string(s->items + i * s->width, s->width)) < 0) {
                        json_decref(a);
                        return NULL;
                }
        return a;
}

static json_t *signing_keys_json(const cp_snp_policy *p) {
        json_t *a = json_array();
        if (!a)
                return NULL;
        if ((p->allow_vcek && json_array_append_new(a, json_string("VCEK")) < 0) ||
            (p->allow_vlek && json_array_append_new(a, json_string("VLEK")) < 0)) {
                json_decref(a);
                return NULL;
        }
        return a;
}

static json_t *generation_json(const cp_snp_policy *p) {
        if (!p->has_generation)
                return json_null();
        for (size_t i = 0; i < CP_ELEMENTSOF(generations); i++)
                if (generations[i].gen == p->generation)
                        return json_string(generations[i].name);
        return NULL;
}

static json_t *mit_json(uint64_t v) {
        char buf[24];
        snprintf(buf, sizeof(buf), "0x%" PRIx64, v);
        return json_string(buf);
}

static json_t *field_json(const field *f, const cp_snp_policy *p);

static json_t *object_json(const field *table, const cp_snp_policy *p) {
        json_t *o = json_object();
        if (!o)
                return NULL;
        for (const field *f = table; f->name; f++)
                if (set_new(o, f->name, field_json(f, p)) < 0) {
                        json_decref(o);
                        return NULL;
                }
        return o;
}

static json_t *field_json(const field *f, const cp_snp_policy *p) {
        switch (f->kind) {
        case K_FORMAT_VERSION:
                return json_integer(*CMEMBER(p, f->off, unsigned));
        case K_OBJECT:
                return object_json(f->sub, p);
        case K_BOOL:
                return json_boolean(*CMEMBER(p, f->off, bool));
        case K_U8:
                return json_integer(*CMEMBER(p, f->off, uint8_t));
        case K_U32:
                return json_integer(*CMEMBER(p, f->off, uint32_t));
        case K_VERSION_PAIR:
                return version_pair(*CMEMBER(p, f->off, uint8_t), *CMEMBER(p, f->off2, uint8_t));
        case K_TCB:
                return *CMEMBER(p, f->off2, bool) ? tcb_json(CMEMBER(p, f->off, cp_snp_tcb)) : json_null();
        case K_HEX:
                return *CMEMBER(p, f->off2, bool) ? hex_string(CMEMBER(p, f->off, uint8_t), f->len) : json_null();
        case K_VMPL:
                return *CMEMBER(p, f->off2, bool) ? json_integer(*CMEMBER(p, f->off, uint32_t)) : json_null();
        case K_SET:
                return set_json(CMEMBER(p, f->off, cp_snp_bytes_set));
        case K_SIGNING_KEYS:
                return signing_keys_json(p);
        case K_GENERATION:
                return generation_json(p);
        case K_MIT:
                return mit_json(*CMEMBER(p, f->off, uint64_t));
        }
        return NULL;
}

/* Refuse to serialise what from_json could not read back. */
static int validate_for_json(const cp_snp_policy *p) {
        const cp_snp_bytes_set *sets[] = { &p->measurements, &p->trusted_id_key_digests,
                                           &p->trusted_author_key_digests };
        if (p->version != CP_SNP_POLICY_VERSION)
                return CP_ERROR(CP_EINVAL, "policy version %u is not supported", p->version);
        for (size_t i = 0; i < CP_ELEMENTSOF(sets); i++)
                if (sets[i]->n > 0 && (sets[i]->width != DIGEST_WIDTH || !sets[i]->items ||
                                       sets[i]->n > CP_MAX_POLICY_SET))
                        return CP_ERROR(CP_EINVAL, "policy set %zu: %zu items of width %zu not representable", i,
                                        sets[i]->n, sets[i]->width);
        if (p->has_vmpl && p->vmpl > 3)
                return CP_ERROR(CP_EINVAL, "policy vmpl %" PRIu32 " out of range 0..3", p->vmpl);
        if (p->has_generation && p->generation != CP_SNP_GEN_MILAN && p->generation != CP_SNP_GEN_GENOA &&
            p->generation != CP_SNP_GEN_TURIN)
                return CP_ERROR(CP_EINVAL, "policy generation %d not representable", (int) p->generation);
        return 0;
}

int cp_snp_policy_to_json(const cp_snp_policy *p, char **ret) {
        _cleanup_(json_unrefp) json_t *root = NULL;
        int k;

        if (!p || !ret)
                return CP_ERROR(CP_EINVAL, "policy JSON: invalid argument");
        if ((k = validate_for_json(p)) < 0)
                return k;
        root = object_json(root_fields, p);
        if (!root)
                return cp_error_oom();
        char *s = json_dumps(root, JSON_INDENT(2));
        if (!s)
                return cp_error_oom();
        *ret = s;
        return 0;
}
