/* SPDX-License-Identifier: Apache-2.0 */
/*
 * TCB level matching for TDX as Intel's Quote Verification Library does it
 * (docs/tdx.md "TCB status"):
 *   - the platform level is the first TCB Info level whose 16
 *     sgxtcbcomponents and pcesvn are <= the PCK certificate's and whose
 *     tdxtcbcomponents are <= TEE_TCB_SVN; when TEE_TCB_SVN[1] (the TDX
 *     module's major version) is non-zero, indices 0 and 1 are skipped, and
 *     the module is graded by the tdxModuleIdentities entry "TDX_%02X" of
 *     TEE_TCB_SVN[1] (MRSIGNERSEAM and masked SEAMATTRIBUTES must match, the
 *     first level with isvsvn <= TEE_TCB_SVN[0] gives its status); with
 *     TEE_TCB_SVN[1] = 0 the identity is tcbInfo.tdxModule;
 *   - the QE must match the TD_QE identity (MRSIGNER, ISVPRODID, masked
 *     MISCSELECT / ATTRIBUTES), its status is the first level with isvsvn
 *     <= the QE's ISVSVN;
 *   - an OutOfDate module or QE turns the platform status OutOfDate (or
 *     OutOfDateConfigurationNeeded), a Revoked one Revoked.
 */
#include <stdio.h>
#include <string.h>

#include "libconfpool/tdx-internal.h"

static const char *const status_names[_CP_TDX_TCB_MAX] = {
        [CP_TDX_TCB_UNKNOWN] = "Unknown",
        [CP_TDX_TCB_UP_TO_DATE] = "UpToDate",
        [CP_TDX_TCB_SW_HARDENING_NEEDED] = "SWHardeningNeeded",
        [CP_TDX_TCB_CONFIGURATION_NEEDED] = "ConfigurationNeeded",
        [CP_TDX_TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED] = "ConfigurationAndSWHardeningNeeded",
        [CP_TDX_TCB_OUT_OF_DATE] = "OutOfDate",
        [CP_TDX_TCB_OUT_OF_DATE_CONFIGURATION_NEEDED] = "OutOfDateConfigurationNeeded",
        [CP_TDX_TCB_REVOKED] = "Revoked",
        [CP_TDX_TCB_TD_RELAUNCH_ADVISED] = "TDRelaunchAdvised",
        [CP_TDX_TCB_TD_RELAUNCH_ADVISED_CONFIGURATION_NEEDED] = "TDRelaunchAdvisedConfigurationNeeded",
};

const char *cp_tdx_tcb_status_name(cp_tdx_tcb_status s) {
        if (s <= CP_TDX_TCB_UNKNOWN || s >= _CP_TDX_TCB_MAX)
                return status_names[CP_TDX_TCB_UNKNOWN];
        return status_names[s];
}

cp_tdx_tcb_status cp_tdx_tcb_status_from_name(const char *name) {
        for (int s = CP_TDX_TCB_UP_TO_DATE; name && s < _CP_TDX_TCB_MAX; s++)
                if (strcmp(name, status_names[s]) == 0)
                        return (cp_tdx_tcb_status) s;
        return CP_TDX_TCB_UNKNOWN;
}

static void add_advisories(cp_tdx_verify_result *r, const char (*adv)[24], size_t n) {
        for (size_t i = 0; i < n; i++) {
                bool dup = false;
                for (size_t j = 0; j < r->n_advisories && !dup; j++)
                        dup = strcmp(r->advisories[j], adv[i]) == 0;
                if (!dup && r->n_advisories < CP_TDX_MAX_ADVISORIES)
                        snprintf(r->advisories[r->n_advisories++], 24, "%s", adv[i]);
        }
}

/* Intel's convergence of the platform status with a module or QE status. */
static cp_tdx_tcb_status converge(cp_tdx_tcb_status platform, cp_tdx_tcb_status other) {
        if (other == CP_TDX_TCB_REVOKED || platform == CP_TDX_TCB_REVOKED)
                return CP_TDX_TCB_REVOKED;
        if (other != CP_TDX_TCB_OUT_OF_DATE)
                return platform;
        switch (platform) {
        case CP_TDX_TCB_UP_TO_DATE:
        case CP_TDX_TCB_SW_HARDENING_NEEDED:
                return CP_TDX_TCB_OUT_OF_DATE;
        case CP_TDX_TCB_CONFIGURATION_NEEDED:
        case CP_TDX_TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED:
                return CP_TDX_TCB_OUT_OF_DATE_CONFIGURATION_NEEDED;
        default:
                return platform;
        }
}

static const tdx_tcb_level *platform_level(const tdx_tcb_info *ti, const cp_tdx_quote *q, const cp_tdx_pck_ext *pck) {
        const uint8_t *svn = q->body.tee_tcb_svn;
        unsigned start = svn[1] > 0 ? 2 : 0;
        for (size_t l = 0; l < ti->n_levels; l++) {
                const tdx_tcb_level *lv = &ti->levels[l];
                bool ok = lv->pcesvn <= pck->pcesvn;
                for (unsigned i = 0; i < 16 && ok; i++)
                        ok = lv->sgx[i] <= pck->tcb_comp[i];
                for (unsigned i = start; i < 16 && ok; i++)
                        ok = lv->tdx[i] <= svn[i];
                if (ok)
                        return lv;
        }
        return NULL;
}

/* the first level matching the PCK's SGX components and PCESVN alone
 * (QVL's sgxTcbLevel) */
static const tdx_tcb_level *sgx_level(const tdx_tcb_info *ti, const cp_tdx_pck_ext *pck) {
        for (size_t l = 0; l < ti->n_levels; l++) {
                const tdx_tcb_level *lv = &ti->levels[l];
                bool ok = lv->pcesvn <= pck->pcesvn;
                for (unsigned i = 0; i < 16 && ok; i++)
                        ok = lv->sgx[i] <= pck->tcb_comp[i];
                if (ok)
                        return lv;
        }
        return NULL;
}

static bool config_needed(cp_tdx_tcb_status s) {
        return s == CP_TDX_TCB_CONFIGURATION_NEEDED || s == CP_TDX_TCB_OUT_OF_DATE_CONFIGURATION_NEEDED ||
               s == CP_TDX_TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED ||
               s == CP_TDX_TCB_TD_RELAUNCH_ADVISED_CONFIGURATION_NEEDED;
}

/* Intel's QVL TDRelaunchCheck (TD 1.5 bodies): the SGX TCB and the QE are
 * fine, the TDX TCB is out of date because of the TD's module (TEE_TCB_SVN),
 * and the platform's current module (TEE_TCB_SVN2) meets the newest TCB
 * level (and module identity level): a relaunch would be up to date. */
static int relaunch_check(const tdx_tcb_info *ti, const cp_tdx_quote *q, const cp_tdx_pck_ext *pck,
                          cp_tdx_verify_result *r, cp_tdx_tcb_status *tdx_status) {
        const uint8_t *svn2 = q->body.tee_tcb_svn2;
        const tdx_tcb_level *sl = sgx_level(ti, pck);
        cp_tdx_tcb_status sgx = sl ? sl->status : CP_TDX_TCB_UNKNOWN;
        if (r->qe_status == CP_TDX_TCB_OUT_OF_DATE || r->qe_status == CP_TDX_TCB_REVOKED ||
            !(sgx == CP_TDX_TCB_UP_TO_DATE || sgx == CP_TDX_TCB_SW_HARDENING_NEEDED || sgx == CP_TDX_TCB_CONFIGURATION_NEEDED ||
              sgx == CP_TDX_TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED) ||
            !(*tdx_status == CP_TDX_TCB_OUT_OF_DATE || *tdx_status == CP_TDX_TCB_OUT_OF_DATE_CONFIGURATION_NEEDED) ||
            r->module_status != CP_TDX_TCB_OUT_OF_DATE || ti->n_levels == 0)
                return 0;
        const tdx_tcb_level *latest = &ti->levels[0];
        unsigned min0 = latest->tdx[0];
        if (svn2[1] != 0) {
                const tdx_module_identity *mi = NULL;
                char id[16];
                snprintf(id, sizeof(id), "TDX_%02X", svn2[1]);
                for (size_t i = 0; i < ti->n_modules && !mi; i++)
                        if (strcmp(ti->modules[i].id, id) == 0)
                                mi = &ti->modules[i];
                if (!mi)
                        return CP_ERROR(CP_ETCB, "TCB Info has no TDX module identity %s (TEE_TCB_SVN2[1] = %u)", id, svn2[1]);
                if (mi->n_levels == 0)
                        return CP_ERROR(CP_ETCB, "TDX module identity %s has no TCB level", id);
                min0 = mi->levels[0].isvsvn;
        }
        if (svn2[0] >= min0 && svn2[2] >= latest->tdx[2])
                *tdx_status = config_needed(sgx) || config_needed(*tdx_status)
                                      ? CP_TDX_TCB_TD_RELAUNCH_ADVISED_CONFIGURATION_NEEDED
                                      : CP_TDX_TCB_TD_RELAUNCH_ADVISED;
        return 0;
}

static int module_check(const tdx_tcb_info *ti, const cp_tdx_quote *q, cp_tdx_verify_result *r) {
        const cp_tdx_body *b = &q->body;
        const tdx_module_identity *mi = NULL;
        char id[16];

        r->module_status = CP_TDX_TCB_UP_TO_DATE;
        r->module_id[0] = '\0';
        if (b->tee_tcb_svn[1] > 0 && ti->n_modules > 0) {
                snprintf(id, sizeof(id), "TDX_%02X", b->tee_tcb_svn[1]);
                for (size_t i = 0; i < ti->n_modules && !mi; i++)
                        if (strcmp(ti->modules[i].id, id) == 0)
                                mi = &ti->modules[i];
                if (!mi)
                        return CP_ERROR(CP_ETCB, "TCB Info has no TDX module identity %s (TEE_TCB_SVN[1] = %u)", id,
                                        b->tee_tcb_svn[1]);
                if (memcmp(mi->mrsigner, b->mrsignerseam, 48) != 0 ||
                    (b->seam_attributes & mi->attributes_mask) != mi->attributes)
                        return CP_ERROR(CP_ETCB, "TDX module %s: MRSIGNERSEAM or SEAMATTRIBUTES differ from Intel's", id);
                snprintf(r->module_id, sizeof(r->module_id), "%s", id);
                for (size_t l = 0; l < mi->n_levels; l++)
                        if (mi->levels[l].isvsvn <= b->tee_tcb_svn[0]) {
                                r->module_status = mi->levels[l].status;
                                add_advisories(r, (const char(*)[24]) mi->levels[l].advisories,
                                               mi->levels[l].n_advisories);
                                return 0;
                        }
                return CP_ERROR(CP_ETCB, "TDX module %s: no TCB level for ISVSVN %u (TEE_TCB_SVN[0])", id,
                                b->tee_tcb_svn[0]);
        }
        if (!ti->has_module)
                return CP_ERROR(CP_ETCB, "TCB Info has no tdxModule for TEE_TCB_SVN[1] = %u", b->tee_tcb_svn[1]);
        if (memcmp(ti->module_mrsigner, b->mrsignerseam, 48) != 0 ||
            (b->seam_attributes & ti->module_attributes_mask) != ti->module_attributes)
                return CP_ERROR(CP_ETCB, "TDX module: MRSIGNERSEAM or SEAMATTRIBUTES differ from the TCB Info's tdxModule");
        return 0;
}

static int qe_check(const tdx_qe_identity *qi, const cp_tdx_sgx_report *qe, cp_tdx_verify_result *r) {
        if (memcmp(qi->mrsigner, qe->mrsigner, 32) != 0)
                return CP_ERROR(CP_ETCB, "QE report MRSIGNER differs from the TD_QE identity's");
        if (qi->isvprodid != qe->isvprodid)
                return CP_ERROR(CP_ETCB, "QE report ISVPRODID %u is not the TD_QE identity's %u", qe->isvprodid,
                                qi->isvprodid);
        if ((qe->miscselect & qi->miscselect_mask) != qi->miscselect)
                return CP_ERROR(CP_ETCB, "QE report MISCSELECT 0x%08x does not match the TD_QE identity", qe->miscselect);
        for (unsigned i = 0; i < 16; i++)
                if ((qe->attributes[i] & qi->attributes_mask[i]) != qi->attributes[i])
                        return CP_ERROR(CP_ETCB, "QE report ATTRIBUTES byte %u does not match the TD_QE identity", i);
        for (size_t l = 0; l < qi->n_levels; l++)
                if (qi->levels[l].isvsvn <= qe->isvsvn) {
                        r->qe_status = qi->levels[l].status;
                        add_advisories(r, (const char(*)[24]) qi->levels[l].advisories, qi->levels[l].n_advisories);
                        return 0;
                }
        return CP_ERROR(CP_ETCB, "TD_QE identity has no TCB level for QE ISVSVN %u", qe->isvsvn);
}

int tdx_tcb_evaluate(const tdx_tcb_info *ti, const tdx_qe_identity *qi, const cp_tdx_quote *q,
                     const cp_tdx_pck_ext *pck, cp_tdx_verify_result *r) {
        int k;
        r->n_advisories = 0;
        if (!q->cert.has_qe_report)
                return CP_ERROR(CP_ETCB, "quote has no QE report (certification data type 5): the QE cannot be graded");
        if ((k = qe_check(qi, &q->cert.qe_report, r)) < 0)
                return k;
        const tdx_tcb_level *lv = platform_level(ti, q, pck);
        if (!lv)
                return CP_ERROR(CP_ETCB,
                                "no TCB level of the TCB Info matches the platform (PCK SGX TCB and PCESVN %u, "
                                "TEE_TCB_SVN): the platform TCB is not supported",
                                pck->pcesvn);
        r->platform_status = lv->status;
        snprintf(r->platform_tcb_date, sizeof(r->platform_tcb_date), "%s", lv->date);
        add_advisories(r, (const char(*)[24]) lv->advisories, lv->n_advisories);
        if ((k = module_check(ti, q, r)) < 0)
                return k;
        cp_tdx_tcb_status tdx_status = converge(r->platform_status, r->module_status);
        if (q->body.type == 3 && q->body.has_15 && tdx_status != CP_TDX_TCB_REVOKED &&
            (k = relaunch_check(ti, q, pck, r, &tdx_status)) < 0)
                return k;
        r->tcb_status = converge(tdx_status, r->qe_status);
        r->tcb_evaluation_data_number = ti->eval_number < qi->eval_number ? ti->eval_number : qi->eval_number;
        return 0;
}
