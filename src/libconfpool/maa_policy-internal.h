/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CP_LIBCONFPOOL_MAA_POLICY_INTERNAL_H
#define CP_LIBCONFPOOL_MAA_POLICY_INTERNAL_H

#include "confpool/maa_policy.h"

#define MAA_VAR_MAX 32u /* identifier length */

typedef enum maa_prop { PROP_TYPE, PROP_VALUE, PROP_ISSUER } maa_prop;
typedef enum maa_op { OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE } maa_op;

/* A literal, or a property of a claim bound by an earlier condition. */
typedef struct maa_operand {
        bool is_ref;
        unsigned ref_cond;       /* index of the binding condition */
        maa_prop ref_prop;
        cp_maa_value_type vtype; /* literal type */
        char *s;
        int64_t i;
        bool b;
} maa_operand;

typedef struct maa_test {
        maa_prop prop;
        maa_op op;
        maa_operand rhs;
} maa_test;

typedef struct maa_cond {
        bool binds;
        char var[MAA_VAR_MAX + 1];
        bool negated;
        size_t n_tests;
        maa_test tests[CP_MAA_POLICY_MAX_TESTS];
} maa_cond;

typedef enum maa_action_kind { ACT_PERMIT, ACT_DENY, ACT_ADD, ACT_ISSUE, ACT_ISSUE_CLAIM } maa_action_kind;

typedef struct maa_action {
        maa_action_kind kind;
        maa_operand type, value; /* ACT_ADD, ACT_ISSUE */
        unsigned claim_cond;     /* ACT_ISSUE_CLAIM */
} maa_action;

typedef struct maa_rule {
        unsigned line;
        size_t n_conds;
        maa_cond *conds;
        maa_action action;
} maa_rule;

struct cp_maa_policy {
        size_t n_auth, n_iss;
        maa_rule *auth, *iss;
};

CP_WUR int cp_maa_claims_push(cp_maa_claims *c, const char *type, const char *issuer, cp_maa_value_type vtype,
                              const char *s, int64_t i, bool b);

#endif
