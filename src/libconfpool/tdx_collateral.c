/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Intel's TDX collateral JSON: TCB Info v3 (id "TDX") and QE Identity v2
 * (id "TD_QE") as Intel's PCS API v4 returns them,
 * {"tcbInfo": {...}, "signature": "<r||s hex>"}.  The signature covers the
 * exact bytes of the member's value in the file; those bytes are located by
 * a scan of the (already validated) document and then parsed on their own,
 * so what is interpreted is exactly what was signed.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "basic/cleanup.h"
#include "basic/codec.h"
#include "basic/cursor.h"
#include "basic/json-depth.h"
#include "libconfpool/tdx-internal.h"

#define TDX_JSON_MAX_DEPTH 16
#define TDX_JSON_MAX (1u << 20)

#define _cleanup_json_ _cleanup_(json_decrefp)

/* ---- time */

int tdx_parse_time(const char *s, int64_t *ret) {
        struct tm tm = { 0 };
        int y, mo, d, h, mi, se, n = 0;
        if (!s || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2dZ%n", &y, &mo, &d, &h, &mi, &se, &n) != 6 || n != 20 ||
            s[n] != '\0')
                return CP_ERROR(CP_EFORMAT, "time '%s' is not YYYY-MM-DDTHH:MM:SSZ", s ? s : "(null)");
        if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60 || y < 1970)
                return CP_ERROR(CP_EFORMAT, "time '%s' is out of range", s);
        tm.tm_year = y - 1900;
        tm.tm_mon = mo - 1;
        tm.tm_mday = d;
        tm.tm_hour = h;
        tm.tm_min = mi;
        tm.tm_sec = se;
        *ret = (int64_t) timegm(&tm);
        return 0;
}

/* ---- locating the signed bytes */

static void skip_ws(cp_cursor *c) {
        int ch;
        while ((ch = cp_cursor_peek(c)) == ' ' || ch == '\t' || ch == '\n' || ch == '\r')
                cp_cursor_advance(c);
}

/* Past one string (cursor on its opening quote). */
static int skip_string(cp_cursor *c) {
        cp_cursor_advance(c);
        for (;;) {
                int ch = cp_cursor_peek(c);
                if (ch < 0)
                        return CP_ERROR(CP_EFORMAT, "unterminated JSON string");
                cp_cursor_advance(c);
                if (ch == '\\')
                        cp_cursor_advance(c);
                else if (ch == '"')
                        return 0;
        }
}

/* Past one value of a valid document. */
static int skip_value(cp_cursor *c) {
        int ch = cp_cursor_peek(c);
        unsigned depth = 0;
        if (ch == '"')
                return skip_string(c);
        if (ch != '{' && ch != '[') {
                while ((ch = cp_cursor_peek(c)) >= 0 && ch != ',' && ch != '}' && ch != ']' && ch != ' ' &&
                       ch != '\n' && ch != '\r' && ch != '\t')
                        cp_cursor_advance(c);
                return 0;
        }
        do {
                ch = cp_cursor_peek(c);
                if (ch < 0)
                        return CP_ERROR(CP_EFORMAT, "unterminated JSON value");
                if (ch == '"') {
                        int k = skip_string(c);
                        if (k < 0)
                                return k;
                        continue;
                }
                if (ch == '{' || ch == '[')
                        depth++;
                else if (ch == '}' || ch == ']')
                        depth--;
                cp_cursor_advance(c);
        } while (depth > 0);
        return 0;
}

static int find_member(const uint8_t *json, size_t len, const char *member, const uint8_t **ret, size_t *ret_len) {
        cp_cursor c = cp_cursor_make(json, len);
        size_t mlen = strlen(member);
        int k;

        skip_ws(&c);
        if (cp_cursor_peek(&c) != '{')
                return CP_ERROR(CP_EFORMAT, "collateral is not a JSON object");
        cp_cursor_advance(&c);
        for (;;) {
                const uint8_t *key, *val;
                skip_ws(&c);
                size_t kat = cp_cursor_offset(&c);
                if (cp_cursor_peek(&c) != '"')
                        break;
                if ((k = skip_string(&c)) < 0)
                        return k;
                size_t klen = cp_cursor_offset(&c) - kat;
                cp_cursor_rewind(&c, kat);
                if ((k = cp_cursor_ptr(&c, klen, &key)) < 0)
                        return k;
                skip_ws(&c);
                if (cp_cursor_peek(&c) != ':')
                        break;
                cp_cursor_advance(&c);
                skip_ws(&c);
                size_t vat = cp_cursor_offset(&c);
                if ((k = skip_value(&c)) < 0)
                        return k;
                size_t vlen = cp_cursor_offset(&c) - vat;
                if (klen == mlen + 2 && memcmp(key + 1, member, mlen) == 0) {
                        cp_cursor_rewind(&c, vat);
                        if ((k = cp_cursor_ptr(&c, vlen, &val)) < 0)
                                return k;
                        *ret = val;
                        *ret_len = vlen;
                        return 0;
                }
                skip_ws(&c);
                if (cp_cursor_peek(&c) != ',')
                        break;
                cp_cursor_advance(&c);
        }
        return CP_ERROR(CP_ENOTFOUND, "collateral has no \"%s\" member", member);
}

static int hex_field(json_t *o, const char *key, uint8_t *out, size_t n, const char *what) {
        json_t *v = json_object_get(o, key);
        size_t got;
        const char *s = json_string_value(v);
        if (!s)
                return CP_ERROR(CP_EFORMAT, "%s: \"%s\" missing or not a string", what, key);
        if (strlen(s) != 2 * n || cp_hex_decode(s, 2 * n, out, n, &got) < 0 || got != n)
                return CP_ERROR(CP_EFORMAT, "%s: \"%s\" is not %zu hex bytes", what, key, n);
        return 0;
}

static int hex_u64(json_t *o, const char *key, uint64_t *ret, const char *what) {
        uint8_t b[8];
        int k = hex_field(o, key, b, 8, what);
        if (k < 0)
                return k;
        /* Intel writes the little-endian bytes of the field */
        uint64_t v = 0;
        for (unsigned i = 0; i < 8; i++)
                v |= (uint64_t) b[i] << (8 * i);
        *ret = v;
        return 0;
}

static int int_field(json_t *o, const char *key, long long max, long long *ret, const char *what) {
        json_t *v = json_object_get(o, key);
        if (!json_is_integer(v))
                return CP_ERROR(CP_EFORMAT, "%s: \"%s\" missing or not an integer", what, key);
        long long x = json_integer_value(v);
        if (x < 0 || x > max)
                return CP_ERROR(CP_EFORMAT, "%s: \"%s\" %lld is out of range 0..%lld", what, key, x, max);
        *ret = x;
        return 0;
}

static int time_field(json_t *o, const char *key, int64_t *ret, const char *what) {
        const char *s = json_string_value(json_object_get(o, key));
        if (!s)
                return CP_ERROR(CP_EFORMAT, "%s: \"%s\" missing or not a string", what, key);
        int k = tdx_parse_time(s, ret);
        if (k < 0)
                return CP_ERROR(k, "%s: \"%s\" is not a YYYY-MM-DDTHH:MM:SSZ time", what, key);
        return 0;
}

static int status_field(json_t *lvl, cp_tdx_tcb_status *ret, const char *what) {
        const char *s = json_string_value(json_object_get(lvl, "tcbStatus"));
        cp_tdx_tcb_status st = cp_tdx_tcb_status_from_name(s);
        if (st == CP_TDX_TCB_UNKNOWN || st > CP_TDX_TCB_LEVEL_MAX)
                return CP_ERROR(CP_EFORMAT, "%s: tcbStatus '%s' is not one of Intel's TCB level statuses", what,
                                s ? s : "(missing)");
        *ret = st;
        return 0;
}

static int advisories_field(json_t *lvl, char (*adv)[24], size_t *n, const char *what) {
        json_t *a = json_object_get(lvl, "advisoryIDs"), *v;
        size_t i;
        *n = 0;
        if (!a)
                return 0;
        if (!json_is_array(a) || json_array_size(a) > CP_TDX_MAX_ADVISORIES)
                return CP_ERROR(CP_EFORMAT, "%s: advisoryIDs is not an array of at most %d", what, CP_TDX_MAX_ADVISORIES);
        json_array_foreach(a, i, v) {
                const char *s = json_string_value(v);
                if (!s || strlen(s) >= 24)
                        return CP_ERROR(CP_EFORMAT, "%s: advisory ID %zu is not a short string", what, i);
                snprintf(adv[(*n)++], 24, "%s", s);
        }
        return 0;
}

static int date_field(json_t *lvl, char *out, const char *what) {
        const char *s = json_string_value(json_object_get(lvl, "tcbDate"));
        int64_t t;
        if (!s || tdx_parse_time(s, &t) < 0)
                return CP_ERROR(CP_EFORMAT, "%s: tcbDate missing or not a time", what);
        snprintf(out, 32, "%s", s);
        return 0;
}

/* [{"tcb":{"isvsvn":N},"tcbDate":..,"tcbStatus":..}, ...] */
static int isv_levels(json_t *arr, tdx_isv_level *levels, size_t max, size_t *n, const char *what) {
        json_t *lvl;
        size_t i;
        long long v;
        int k;
        if (!json_is_array(arr) || json_array_size(arr) == 0 || json_array_size(arr) > max)
                return CP_ERROR(CP_EFORMAT, "%s: tcbLevels is not an array of 1..%zu levels", what, max);
        json_array_foreach(arr, i, lvl) {
                tdx_isv_level *l = &levels[i];
                if ((k = int_field(json_object_get(lvl, "tcb"), "isvsvn", 65535, &v, what)) < 0 ||
                    (k = status_field(lvl, &l->status, what)) < 0 || (k = date_field(lvl, l->date, what)) < 0 ||
                    (k = advisories_field(lvl, l->advisories, &l->n_advisories, what)) < 0)
                        return k;
                l->isvsvn = (uint16_t) v;
        }
        *n = json_array_size(arr);
        return 0;
}

static int svn_components(json_t *arr, uint8_t out[16], const char *key, const char *what) {
        json_t *e;
        size_t i;
        long long v;
        int k;
        if (!json_is_array(arr) || json_array_size(arr) != 16)
                return CP_ERROR(CP_EFORMAT, "%s: %s is not an array of 16 components", what, key);
        json_array_foreach(arr, i, e) {
                if ((k = int_field(e, "svn", 255, &v, what)) < 0)
                        return k;
                out[i] = (uint8_t) v;
        }
        return 0;
}

static int platform_levels(json_t *arr, tdx_tcb_info *ti) {
        const char *what = "TCB Info";
        json_t *lvl;
        size_t i;
        long long v;
        int k;
        if (!json_is_array(arr) || json_array_size(arr) == 0 || json_array_size(arr) > CP_TDX_MAX_LEVELS)
                return CP_ERROR(CP_EFORMAT, "TCB Info: tcbLevels is not an array of 1..%d levels", CP_TDX_MAX_LEVELS);
        json_array_foreach(arr, i, lvl) {
                tdx_tcb_level *l = &ti->levels[i];
                json_t *tcb = json_object_get(lvl, "tcb");
                if ((k = svn_components(json_object_get(tcb, "sgxtcbcomponents"), l->sgx, "sgxtcbcomponents", what)) < 0 ||
                    (k = int_field(tcb, "pcesvn", 65535, &v, what)) < 0)
                        return k;
                l->pcesvn = (uint16_t) v;
                if ((k = svn_components(json_object_get(tcb, "tdxtcbcomponents"), l->tdx, "tdxtcbcomponents", what)) < 0)
                        return k;
                l->has_tdx = true;
                if ((k = status_field(lvl, &l->status, what)) < 0 || (k = date_field(lvl, l->date, what)) < 0 ||
                    (k = advisories_field(lvl, l->advisories, &l->n_advisories, what)) < 0)
                        return k;
        }
        ti->n_levels = json_array_size(arr);
        return 0;
}

static int module_identities(json_t *arr, tdx_tcb_info *ti) {
        const char *what = "TCB Info tdxModuleIdentities";
        json_t *m;
        size_t i;
        int k;
        if (!arr)
                return 0;
        if (!json_is_array(arr) || json_array_size(arr) > CP_TDX_MAX_MODULES)
                return CP_ERROR(CP_EFORMAT, "%s is not an array of at most %d", what, CP_TDX_MAX_MODULES);
        json_array_foreach(arr, i, m) {
                tdx_module_identity *mi = &ti->modules[i];
                const char *id = json_string_value(json_object_get(m, "id"));
                if (!id || strlen(id) >= sizeof(mi->id))
                        return CP_ERROR(CP_EFORMAT, "%s: id %zu missing or too long", what, i);
                snprintf(mi->id, sizeof(mi->id), "%s", id);
                if ((k = hex_field(m, "mrsigner", mi->mrsigner, 48, what)) < 0 ||
                    (k = hex_u64(m, "attributes", &mi->attributes, what)) < 0 ||
                    (k = hex_u64(m, "attributesMask", &mi->attributes_mask, what)) < 0 ||
                    (k = isv_levels(json_object_get(m, "tcbLevels"), mi->levels, CP_TDX_MAX_MODULE_LEVELS, &mi->n_levels, what)) < 0)
                        return k;
        }
        ti->n_modules = json_array_size(arr);
        return 0;
}

static int load_body(const uint8_t *body, size_t len, const char *what, json_t **ret) {
        json_error_t err;
        size_t at;
        if (len > TDX_JSON_MAX)
                return CP_ERROR(CP_ETOOBIG, "%s of %zu bytes exceeds %u", what, len, TDX_JSON_MAX);
        if (!cp_json_depth_within(body, len, TDX_JSON_MAX_DEPTH, &at))
                return CP_ERROR(CP_EFORMAT, "%s nests deeper than %d at offset %zu", what, TDX_JSON_MAX_DEPTH, at);
        json_t *j = json_loadb((const char *) body, len, JSON_REJECT_DUPLICATES, &err);
        if (!j)
                return CP_ERROR(CP_EFORMAT, "%s is not valid JSON: %s (line %d)", what, err.text, err.line);
        if (!json_is_object(j)) {
                json_decref(j);
                return CP_ERROR(CP_EFORMAT, "%s is not a JSON object", what);
        }
        *ret = j;
        return 0;
}

int tdx_signed_json_split(const uint8_t *json, size_t len, const char *member, const uint8_t **ret_body,
                          size_t *ret_body_len, uint8_t ret_sig[64]) {
        _cleanup_json_ json_t *doc = NULL;
        int k;
        if ((k = load_body(json, len, member, &doc)) < 0)
                return k;
        if (json_object_size(doc) != 2 || !json_is_object(json_object_get(doc, member)))
                return CP_ERROR(CP_EFORMAT, "collateral is not {\"%s\": {...}, \"signature\": \"...\"}", member);
        if ((k = hex_field(doc, "signature", ret_sig, 64, member)) < 0)
                return k;
        return find_member(json, len, member, ret_body, ret_body_len);
}

static int tcb_info_header(json_t *j, tdx_tcb_info *ti) {
        const char *what = "TCB Info";
        long long v;
        int k;
        const char *id = json_string_value(json_object_get(j, "id"));
        if (!id || strcmp(id, "TDX") != 0)
                return CP_ERROR(CP_EFORMAT, "TCB Info id '%s' is not \"TDX\"", id ? id : "(missing)");
        if ((k = int_field(j, "version", 1000, &v, what)) < 0)
                return k;
        if (v != 3)
                return CP_ERROR(CP_EVERSION, "TCB Info version %lld is not 3", v);
        if ((k = time_field(j, "issueDate", &ti->issue_date, what)) < 0 ||
            (k = time_field(j, "nextUpdate", &ti->next_update, what)) < 0 ||
            (k = hex_field(j, "fmspc", ti->fmspc, 6, what)) < 0 || (k = hex_field(j, "pceId", ti->pceid, 2, what)) < 0 ||
            (k = int_field(j, "tcbType", 0, &v, what)) < 0 ||
            (k = int_field(j, "tcbEvaluationDataNumber", UINT32_MAX, &v, what)) < 0)
                return k;
        ti->eval_number = (unsigned) v;
        return 0;
}

int tdx_tcb_info_parse(const uint8_t *body, size_t len, tdx_tcb_info *ti) {
        _cleanup_json_ json_t *j = NULL;
        int k;
        memset(ti, 0, sizeof(*ti));
        if ((k = load_body(body, len, "TCB Info", &j)) < 0 || (k = tcb_info_header(j, ti)) < 0)
                return k;
        json_t *m = json_object_get(j, "tdxModule");
        if (m) {
                if ((k = hex_field(m, "mrsigner", ti->module_mrsigner, 48, "TCB Info tdxModule")) < 0 ||
                    (k = hex_u64(m, "attributes", &ti->module_attributes, "TCB Info tdxModule")) < 0 ||
                    (k = hex_u64(m, "attributesMask", &ti->module_attributes_mask, "TCB Info tdxModule")) < 0)
                        return k;
                ti->has_module = true;
        }
        if ((k = module_identities(json_object_get(j, "tdxModuleIdentities"), ti)) < 0)
                return k;
        return platform_levels(json_object_get(j, "tcbLevels"), ti);
}

int tdx_qe_identity_parse(const uint8_t *body, size_t len, tdx_qe_identity *qi) {
        const char *what = "QE Identity";
        _cleanup_json_ json_t *j = NULL;
        uint8_t b4[4];
        long long v;
        int k;
        memset(qi, 0, sizeof(*qi));
        if ((k = load_body(body, len, what, &j)) < 0)
                return k;
        const char *id = json_string_value(json_object_get(j, "id"));
        if (!id || strcmp(id, "TD_QE") != 0)
                return CP_ERROR(CP_EFORMAT, "QE Identity id '%s' is not \"TD_QE\"", id ? id : "(missing)");
        if ((k = int_field(j, "version", 1000, &v, what)) < 0)
                return k;
        if (v != 2)
                return CP_ERROR(CP_EVERSION, "QE Identity version %lld is not 2", v);
        if ((k = time_field(j, "issueDate", &qi->issue_date, what)) < 0 ||
            (k = time_field(j, "nextUpdate", &qi->next_update, what)) < 0 ||
            (k = int_field(j, "tcbEvaluationDataNumber", UINT32_MAX, &v, what)) < 0)
                return k;
        qi->eval_number = (unsigned) v;
        /* miscselect is written as the big-endian value */
        if ((k = hex_field(j, "miscselect", b4, 4, what)) < 0)
                return k;
        qi->miscselect = (uint32_t) b4[0] << 24 | (uint32_t) b4[1] << 16 | (uint32_t) b4[2] << 8 | b4[3];
        if ((k = hex_field(j, "miscselectMask", b4, 4, what)) < 0)
                return k;
        qi->miscselect_mask = (uint32_t) b4[0] << 24 | (uint32_t) b4[1] << 16 | (uint32_t) b4[2] << 8 | b4[3];
        if ((k = hex_field(j, "attributes", qi->attributes, 16, what)) < 0 ||
            (k = hex_field(j, "attributesMask", qi->attributes_mask, 16, what)) < 0 ||
            (k = hex_field(j, "mrsigner", qi->mrsigner, 32, what)) < 0 ||
            (k = int_field(j, "isvprodid", 65535, &v, what)) < 0)
                return k;
        qi->isvprodid = (uint16_t) v;
        return isv_levels(json_object_get(j, "tcbLevels"), qi->levels, CP_TDX_MAX_LEVELS, &qi->n_levels, what);
}
