/* SPDX-License-Identifier: Apache-2.0 */
/* MAA policy evaluation over a claim set. */

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "basic/cleanup.h"
#include "maa_policy-internal.h"

#define POLICY_ISSUER "AttestationPolicy"

/* A resolved value (borrowed). */
typedef struct val {
        cp_maa_value_type vtype;
        const char *s;
        int64_t i;
        bool b;
} val;

/* One firing of add()/issue(), resolved while the bindings are live and
 * applied after the rule's enumeration (the claim set must not move while
 * bindings point into it). */
typedef struct pending {
        char *type;
        val v;
        char *s; /* owned copy of v.s */
} pending;

/* The claims a rule sees: the caller's sets, in order, then the claims
 * add() produced (working).  Nothing is copied. */
#define MAX_SETS (CP_MAA_MAX_CLAIM_SETS + 1)

typedef struct eval {
        const maa_rule *rule;
        const cp_maa_claims *sets[MAX_SETS];
        size_t n_sets;
        const cp_maa_claim *bind[CP_MAA_POLICY_MAX_CONDS];
        unsigned firings;
        pending pend[CP_MAA_MAX_FIRINGS];
        size_t n_pend;
} eval;

static val prop_of(const cp_maa_claim *c, maa_prop p) {
        val v = { .vtype = CP_MAA_STRING };
        if (p == PROP_TYPE)
                v.s = c->type;
        else if (p == PROP_ISSUER)
                v.s = c->issuer;
        else {
                v.vtype = c->vtype;
                v.s = c->s;
                v.i = c->i;
                v.b = c->b;
        }
        return v;
}

static val resolve(const eval *e, const maa_operand *o) {
        if (o->is_ref)
                return prop_of(e->bind[o->ref_cond], o->ref_prop);
        val v = { .vtype = o->vtype, .s = o->s, .i = o->i, .b = o->b };
        return v;
}

/* Values of different types never compare (every operator is false). */
static bool compare(const val *a, maa_op op, const val *b) {
        if (a->vtype != b->vtype)
                return false;
        switch (a->vtype) {
        case CP_MAA_STRING: {
                int c = strcmp(a->s, b->s);
                return op == OP_EQ ? c == 0 : op == OP_NE ? c != 0 : false;
        }
        case CP_MAA_BOOLEAN:
                return op == OP_EQ ? a->b == b->b : op == OP_NE ? a->b != b->b : false;
        case CP_MAA_INTEGER:
                switch (op) {
                case OP_EQ: return a->i == b->i;
                case OP_NE: return a->i != b->i;
                case OP_LT: return a->i < b->i;
                case OP_LE: return a->i <= b->i;
                case OP_GT: return a->i > b->i;
                case OP_GE: return a->i >= b->i;
                }
        }
        return false;
}

static bool claim_matches(const eval *e, const maa_cond *c, const cp_maa_claim *claim) {
        for (size_t t = 0; t < c->n_tests; t++) {
                val lhs = prop_of(claim, c->tests[t].prop), rhs = resolve(e, &c->tests[t].rhs);
                if (!compare(&lhs, c->tests[t].op, &rhs))
                        return false;
        }
        return true;
}

static int fire(eval *e) {
        const maa_action *a = &e->rule->action;
        if (e->firings >= CP_MAA_MAX_FIRINGS)
                return CP_ERROR(CP_ETOOBIG, "rule at line %u fires more than %u times", e->rule->line,
                                CP_MAA_MAX_FIRINGS);
        e->firings++;
        if (a->kind == ACT_PERMIT || a->kind == ACT_DENY)
                return 0;
        pending *pd = &e->pend[e->n_pend];
        val type, v;
        if (a->kind == ACT_ISSUE_CLAIM) {
                const cp_maa_claim *c = e->bind[a->claim_cond];
                type = prop_of(c, PROP_TYPE);
                v = prop_of(c, PROP_VALUE);
        } else {
                type = resolve(e, &a->type);
                v = resolve(e, &a->value);
        }
        if (type.vtype != CP_MAA_STRING)
                return CP_ERROR(CP_EINTERNAL, "non-string claim type");
        pd->type = strdup(type.s);
        pd->v = v;
        pd->s = v.vtype == CP_MAA_STRING ? strdup(v.s) : NULL;
        if (!pd->type || (v.vtype == CP_MAA_STRING && !pd->s)) {
                free(pd->type);
                free(pd->s);
                return cp_error_oom();
        }
        pd->v.s = pd->s;
        e->n_pend++;
        return 0;
}

/* Try conditions from index ci on with the current bindings. */
static int enumerate(eval *e, size_t ci) {
        int r;
        if (ci == e->rule->n_conds)
                return fire(e);
        const maa_cond *c = &e->rule->conds[ci];
        if (c->negated) {
                for (size_t si = 0; si < e->n_sets; si++)
                        for (size_t k = 0, n = cp_maa_claims_count(e->sets[si]); k < n; k++)
                                if (claim_matches(e, c, cp_maa_claims_get(e->sets[si], k)))
                                        return 0;
                return enumerate(e, ci + 1);
        }
        for (size_t si = 0; si < e->n_sets; si++)
                for (size_t k = 0, n = cp_maa_claims_count(e->sets[si]); k < n; k++) {
                        const cp_maa_claim *claim = cp_maa_claims_get(e->sets[si], k);
                        if (!claim_matches(e, c, claim))
                                continue;
                        e->bind[ci] = claim;
                        if ((r = enumerate(e, ci + 1)) < 0)
                                return r;
                        if (!c->binds)
                                return 0; /* existential: one witness is enough */
                }
        return 0;
}

static void pend_clear(eval *e) {
        for (size_t k = 0; k < e->n_pend; k++) {
                free(e->pend[k].type);
                free(e->pend[k].s);
        }
        e->n_pend = 0;
}

static int apply(eval *e, cp_maa_claims *to, const char *issuer) {
        int r = 0;
        for (size_t k = 0; k < e->n_pend && r == 0; k++) {
                const pending *pd = &e->pend[k];
                r = cp_maa_claims_push(to, pd->type, issuer, pd->v.vtype, pd->v.s, pd->v.i, pd->v.b);
        }
        pend_clear(e);
        return r;
}

static void claims_freep(cp_maa_claims **p) {
        cp_maa_claims_free(*p);
}

/* Run one rule; *ret_fired = number of firings.  e->sets ends with working. */
static int run_rule(eval *e, const maa_rule *rule, cp_maa_claims *working, cp_maa_claims *issued,
                    unsigned *ret_fired) {
        int r;
        e->rule = rule;
        e->firings = 0;
        e->n_pend = 0;
        r = enumerate(e, 0);
        if (r < 0) {
                pend_clear(e);
                return r;
        }
        *ret_fired = e->firings;
        if (rule->action.kind == ACT_ADD)
                return apply(e, working, POLICY_ISSUER);
        if (rule->action.kind == ACT_ISSUE || rule->action.kind == ACT_ISSUE_CLAIM)
                return apply(e, issued, POLICY_ISSUER);
        return 0;
}

int cp_maa_policy_evaluate_sets(const cp_maa_policy *p, const cp_maa_claims *const *incoming, size_t n_incoming,
                                cp_maa_claims **ret_issued) {
        _cleanup_(claims_freep) cp_maa_claims *working = NULL, *issued = NULL;
        _cleanup_free_ eval *e = NULL;
        bool permitted = false;
        unsigned fired;
        int r;

        if (!p || (!incoming && n_incoming) || n_incoming > CP_MAA_MAX_CLAIM_SETS)
                return CP_ERROR(CP_EINVAL, "cp_maa_policy_evaluate: bad arguments");
        size_t total = 0;
        for (size_t i = 0; i < n_incoming; i++) {
                if (!incoming[i])
                        return CP_ERROR(CP_EINVAL, "cp_maa_policy_evaluate: NULL claim set");
                total += cp_maa_claims_count(incoming[i]);
        }
        if (total > CP_MAA_MAX_CLAIMS)
                return CP_ERROR(CP_ETOOBIG, "more than %u claims", CP_MAA_MAX_CLAIMS);
        /* one evaluation state for every rule (its pending array is large) */
        e = malloc(sizeof(*e));
        if (!e || (r = cp_maa_claims_new(&working)) < 0 || (r = cp_maa_claims_new(&issued)) < 0)
                return e ? r : cp_error_oom();
        memset(e, 0, offsetof(eval, pend));
        for (size_t i = 0; i < n_incoming; i++)
                e->sets[e->n_sets++] = incoming[i];
        e->sets[e->n_sets++] = working;
        for (size_t i = 0; i < p->n_auth; i++) {
                const maa_rule *rule = &p->auth[i];
                if ((r = run_rule(e, rule, working, issued, &fired)) < 0)
                        return r;
                if (fired && rule->action.kind == ACT_DENY)
                        return CP_ERROR(CP_EPOLICY, "denied by the authorization rule at line %u", rule->line);
                if (fired && rule->action.kind == ACT_PERMIT)
                        permitted = true;
        }
        if (!permitted)
                return CP_ERROR(CP_EPOLICY, "no authorization rule permitted the claims");
        for (size_t i = 0; i < p->n_iss; i++)
                if ((r = run_rule(e, &p->iss[i], working, issued, &fired)) < 0)
                        return r;
        if (ret_issued)
                *ret_issued = TAKE_PTR(issued);
        return 0;
}

int cp_maa_policy_evaluate(const cp_maa_policy *p, const cp_maa_claims *incoming, cp_maa_claims **ret_issued) {
        if (!incoming)
                return CP_ERROR(CP_EINVAL, "cp_maa_policy_evaluate: bad arguments");
        return cp_maa_policy_evaluate_sets(p, &incoming, 1, ret_issued);
}
