/* SPDX-License-Identifier: Apache-2.0 */
/*
 * TDX validation policy: what a verified quote must also satisfy
 * (docs/tdx.md "Policy").  Reject by default: a debug TD is refused unless
 * allow_debug, only UpToDate is accepted unless accepted_tcb says more.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "basic/cleanup.h"
#include "basic/codec.h"
#include "basic/json-depth.h"
#include "confpool/tdx_verify.h"

static int policy_hex(json_t *v, const char *key, uint8_t *out, size_t n) {
        const char *s = json_string_value(v);
        size_t got;
        if (!s || strlen(s) != 2 * n || cp_hex_decode(s, 2 * n, out, n, &got) < 0 || got != n)
                return CP_ERROR(CP_EFORMAT, "TDX policy: \"%s\" is not %zu hex bytes", key, n);
        return 0;
}

static int policy_u64(json_t *v, const char *key, uint64_t *ret) {
        const char *s = json_string_value(v);
        char *end;
        if (!s || !*s || strlen(s) > 18)
                return CP_ERROR(CP_EFORMAT, "TDX policy: \"%s\" is not a hex string", key);
        unsigned long long x = strtoull(s, &end, 16);
        if (*end)
                return CP_ERROR(CP_EFORMAT, "TDX policy: \"%s\" is not a hex string", key);
        *ret = x;
        return 0;
}

static int policy_statuses(json_t *v, unsigned *ret) {
        json_t *e;
        size_t i;
        if (!json_is_array(v))
                return CP_ERROR(CP_EFORMAT, "TDX policy: \"accepted_tcb_status\" is not an array");
        *ret = 0;
        json_array_foreach(v, i, e) {
                cp_tdx_tcb_status s = cp_tdx_tcb_status_from_name(json_string_value(e));
                if (s == CP_TDX_TCB_UNKNOWN)
                        return CP_ERROR(CP_EFORMAT, "TDX policy: accepted_tcb_status[%zu] is not an Intel TCB status", i);
                *ret |= 1u << s;
        }
        return 0;
}

static int policy_mrtd(json_t *v, cp_tdx_policy *p) {
        json_t *e;
        size_t i;
        int k;
        if (!json_is_array(v) || json_array_size(v) > CP_TDX_MAX_MRTD)
                return CP_ERROR(CP_EFORMAT, "TDX policy: \"mrtd\" is not an array of at most %d", CP_TDX_MAX_MRTD);
        json_array_foreach(v, i, e) if ((k = policy_hex(e, "mrtd", p->mrtd[i], 48)) < 0) return k;
        p->n_mrtd = json_array_size(v);
        return 0;
}

static int policy_key(const char *key, json_t *v, cp_tdx_policy *p) {
        static const char *const rtmr[4] = { "rtmr0", "rtmr1", "rtmr2", "rtmr3" };
        for (unsigned i = 0; i < 4; i++)
                if (!strcmp(key, rtmr[i])) {
                        p->has_rtmr[i] = true;
                        return policy_hex(v, key, p->rtmr[i], 48);
                }
        if (!strcmp(key, "allow_debug") || !strcmp(key, "require_revocation")) {
                if (!json_is_boolean(v))
                        return CP_ERROR(CP_EFORMAT, "TDX policy: \"%s\" is not a boolean", key);
                *(key[0] == 'a' ? &p->allow_debug : &p->require_revocation) = json_is_true(v);
                return 0;
        }
        if (!strcmp(key, "accepted_tcb_status"))
                return policy_statuses(v, &p->accepted_tcb);
        if (!strcmp(key, "min_tee_tcb_svn"))
                return p->has_min_tee_tcb_svn = true, policy_hex(v, key, p->min_tee_tcb_svn, 16);
        if (!strcmp(key, "mrtd"))
                return policy_mrtd(v, p);
        if (!strcmp(key, "mrconfigid"))
                return p->has_mrconfigid = true, policy_hex(v, key, p->mrconfigid, 48);
        if (!strcmp(key, "mrowner"))
                return p->has_mrowner = true, policy_hex(v, key, p->mrowner, 48);
        if (!strcmp(key, "report_data"))
                return p->has_report_data = true, policy_hex(v, key, p->report_data, 64);
        if (!strcmp(key, "xfam"))
                return p->has_xfam = true, policy_u64(v, key, &p->xfam);
        if (!strcmp(key, "xfam_mask"))
                return policy_u64(v, key, &p->xfam_mask);
        return CP_ERROR(CP_EFORMAT, "TDX policy: unknown key \"%s\"", key);
}

int cp_tdx_policy_from_json(const char *json, size_t len, cp_tdx_policy *ret) {
        cp_tdx_policy p = { 0 };
        json_error_t err;
        const char *key;
        json_t *v;
        size_t at;
        int k = 0;
        if (!json || !ret)
                return CP_ERROR(CP_EINVAL, "cp_tdx_policy_from_json: NULL argument");
        if (!cp_json_depth_within(json, len, 8, &at))
                return CP_ERROR(CP_EFORMAT, "TDX policy nests too deep at offset %zu", at);
        json_t *j = json_loadb(json, len, JSON_REJECT_DUPLICATES, &err);
        if (!json_is_object(j)) {
                json_decref(j);
                return CP_ERROR(CP_EFORMAT, "TDX policy is not a JSON object%s%s", j ? "" : ": ", j ? "" : err.text);
        }
        p.xfam_mask = UINT64_MAX;
        json_object_foreach(j, key, v) if ((k = policy_key(key, v, &p)) < 0) break;
        json_decref(j);
        if (k < 0)
                return k;
        if (p.has_xfam && (p.xfam & ~p.xfam_mask))
                return CP_ERROR(CP_EFORMAT, "TDX policy: xfam has bits outside xfam_mask");
        *ret = p;
        return 0;
}

static int measurement(bool has, const uint8_t *want, const uint8_t *got, size_t n, const char *what) {
        if (has && memcmp(want, got, n) != 0)
                return CP_ERROR(CP_EPOLICY, "%s differs from the policy's", what);
        return 0;
}

int cp_tdx_policy_check(const cp_tdx_policy *p, const cp_tdx_verify_result *r) {
        const cp_tdx_body *b = &r->quote.body;
        static const char *const rtmr[4] = { "RTMR0", "RTMR1", "RTMR2", "RTMR3" };
        int k;
        if (!p || !r)
                return CP_ERROR(CP_EINVAL, "cp_tdx_policy_check: NULL argument");
        if ((b->td_attributes & CP_TDX_TDATTR_DEBUG) && !p->allow_debug)
                return CP_ERROR(CP_EPOLICY, "the TD is a debug TD (TDATTRIBUTES.DEBUG) and the policy does not allow debug");
        unsigned accepted = p->accepted_tcb ? p->accepted_tcb : 1u << CP_TDX_TCB_UP_TO_DATE;
        if (!(accepted & (1u << r->tcb_status)))
                return CP_ERROR(CP_EPOLICY, "TCB status %s is not accepted by the policy", cp_tdx_tcb_status_name(r->tcb_status));
        if (p->require_revocation && !r->revocation_checked)
                return CP_ERROR(CP_EPOLICY, "the policy requires revocation checks and no PCK / Root CA CRL was given");
        for (unsigned i = 0; p->has_min_tee_tcb_svn && i < 16; i++)
                if (b->tee_tcb_svn[i] < p->min_tee_tcb_svn[i])
                        return CP_ERROR(CP_EPOLICY, "TEE_TCB_SVN[%u] = %u is below the policy's minimum %u", i,
                                        b->tee_tcb_svn[i], p->min_tee_tcb_svn[i]);
        bool mrtd_ok = p->n_mrtd == 0;
        for (size_t i = 0; i < p->n_mrtd && !mrtd_ok; i++)
                mrtd_ok = memcmp(p->mrtd[i], b->mrtd, 48) == 0;
        if (!mrtd_ok)
                return CP_ERROR(CP_EPOLICY, "MRTD is not one of the policy's %zu values", p->n_mrtd);
        for (unsigned i = 0; i < 4; i++)
                if ((k = measurement(p->has_rtmr[i], p->rtmr[i], b->rtmr[i], 48, rtmr[i])) < 0)
                        return k;
        if ((k = measurement(p->has_mrconfigid, p->mrconfigid, b->mrconfigid, 48, "MRCONFIGID")) < 0 ||
            (k = measurement(p->has_mrowner, p->mrowner, b->mrowner, 48, "MROWNER")) < 0 ||
            (k = measurement(p->has_report_data, p->report_data, b->report_data, 64, "REPORTDATA")) < 0)
                return k;
        if (p->has_xfam && (b->xfam & p->xfam_mask) != p->xfam)
                return CP_ERROR(CP_EPOLICY, "XFAM 0x%016llx does not match the policy's 0x%016llx under mask 0x%016llx",
                                (unsigned long long) b->xfam, (unsigned long long) p->xfam,
                                (unsigned long long) p->xfam_mask);
        return 0;
}
