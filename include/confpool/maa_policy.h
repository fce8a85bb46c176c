/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CONFPOOL_MAA_POLICY_H
#define CONFPOOL_MAA_POLICY_H

/*
 * Attestation policies in the Microsoft Azure Attestation claim-rule
 * language, version 1.0:
 *
 *   version=1.0;
 *   authorizationrules {
 *       [type=="x-ms-sevsnpvm-is-debuggable", value==true] => deny();
 *       c:[type=="x-ms-sevsnpvm-snpfw-svn", value>=8] && ![type=="revoked"] => permit();
 *   };
 *   issuancerules {
 *       c:[type=="x-ms-sevsnpvm-hostdata"] => issue(type="pool-hostdata", value=c.value);
 *       => issue(type="policy-version", value=3);
 *   };
 *
 * Conditions `[...]` hold property tests on one claim: type / value /
 * issuer compared with == != (strings, booleans, integers) or < <= > >=
 * (integers only) against a literal (string "...", integer, true, false)
 * or a property of an earlier bound claim (c.value, c.type, c.issuer).
 * A condition holds when at least one claim passes every test; `!`
 * negates (no claim passes); `id:` binds the matching claim.  With
 * bindings every combination of matching claims is tried, so an issue()
 * may produce one claim per match.  Conditions are joined with &&; an
 * empty condition list is always true.  Comments: // to end of line and
 * slash-star blocks.
 *
 * Actions: permit() and deny() (authorizationrules only), add(type=, value=)
 * (adds to the incoming claim set, visible to later rules, issuer
 * "AttestationPolicy"), issue(type=, value=) and issue(claim=c) (issuancerules
 * only: adds to the outgoing set).
 *
 * Semantics (ours, documented in docs/attestation-service.md): rules run in
 * order; a deny() that fires ends evaluation with a refusal; authorization
 * succeeds iff some permit() fired and no deny() did (fail closed: an empty
 * authorizationrules section refuses); issuance rules cannot refuse.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "confpool/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CP_MAA_POLICY_MAX        (64u * 1024u)  /* policy text bytes */
#define CP_MAA_POLICY_MAX_RULES  256u           /* rules per policy */
#define CP_MAA_POLICY_MAX_CONDS  16u            /* conditions per rule */
#define CP_MAA_POLICY_MAX_TESTS  8u             /* property tests per condition */
#define CP_MAA_MAX_CLAIMS        1024u          /* claims in a set */
#define CP_MAA_MAX_STRING        4096u          /* string literal / claim value bytes */
#define CP_MAA_MAX_FIRINGS       256u           /* actions fired by one rule (binding combinations) */
#define CP_MAA_MAX_CLAIM_SETS    4u             /* incoming sets of one evaluation */

typedef enum cp_maa_value_type {
        CP_MAA_STRING = 1,
        CP_MAA_INTEGER,
        CP_MAA_BOOLEAN,
} cp_maa_value_type;

typedef struct cp_maa_claim {
        char *type;
        char *issuer;            /* "AttestationService", "AttestationPolicy", ... */
        cp_maa_value_type vtype;
        char *s;                 /* CP_MAA_STRING */
        int64_t i;               /* CP_MAA_INTEGER */
        bool b;                  /* CP_MAA_BOOLEAN */
} cp_maa_claim;

/* An ordered claim multiset (the same type may occur several times). */
typedef struct cp_maa_claims cp_maa_claims;

CP_API CP_WUR int cp_maa_claims_new(cp_maa_claims **ret);
CP_API cp_maa_claims *cp_maa_claims_free(cp_maa_claims *c);
/* issuer NULL = "AttestationService".  CP_ETOOBIG past CP_MAA_MAX_CLAIMS or
 * CP_MAA_MAX_STRING. */
CP_API CP_WUR int cp_maa_claims_add_string(cp_maa_claims *c, const char *type, const char *issuer, const char *v);
CP_API CP_WUR int cp_maa_claims_add_int(cp_maa_claims *c, const char *type, const char *issuer, int64_t v);
CP_API CP_WUR int cp_maa_claims_add_bool(cp_maa_claims *c, const char *type, const char *issuer, bool v);
/* Add a JSON value: strings, integers and booleans as one claim of that
 * type; objects flattened to "type.member" (recursively, at most 4 levels);
 * arrays of scalars as one claim per element; reals and nulls skipped. */
CP_API CP_WUR int cp_maa_claims_add_json(cp_maa_claims *c, const char *type, const char *issuer, const json_t *v);
CP_API size_t cp_maa_claims_count(const cp_maa_claims *c);
CP_API const cp_maa_claim *cp_maa_claims_get(const cp_maa_claims *c, size_t i);
/* The first claim of a type, or NULL. */
CP_API const cp_maa_claim *cp_maa_claims_find(const cp_maa_claims *c, const char *type);

typedef struct cp_maa_policy cp_maa_policy;

/* Where parsing failed: 1-based line and column (in bytes) and a message. */
typedef struct cp_maa_parse_error {
        unsigned line, column;
        char message[256];
} cp_maa_parse_error;

/* Parse policy text (UTF-8, at most CP_MAA_POLICY_MAX bytes, no NUL bytes).
 * On failure returns CP_EFORMAT (CP_ETOOBIG for size limits,
 * CP_EUNSUPPORTED for another version), fills *ret_err when given, and the
 * last-error message carries "line:column: message". */
CP_API CP_WUR int cp_maa_policy_parse(const char *text, size_t len, cp_maa_policy **ret,
                                      cp_maa_parse_error *ret_err);
CP_API cp_maa_policy *cp_maa_policy_free(cp_maa_policy *p);
CP_API size_t cp_maa_policy_n_authorization_rules(const cp_maa_policy *p);
CP_API size_t cp_maa_policy_n_issuance_rules(const cp_maa_policy *p);

/* Evaluate over incoming claims (not modified; add() works on a copy).
 * Returns 0 when authorized, with *ret_issued (optional) the outgoing
 * claims; CP_EPOLICY when refused, the message naming the deny rule's line
 * or saying that no permit() fired. */
CP_API CP_WUR int cp_maa_policy_evaluate(const cp_maa_policy *p, const cp_maa_claims *incoming,
                                         cp_maa_claims **ret_issued);

/* The same over the concatenation of n incoming sets (in order; at most
 * CP_MAA_MAX_CLAIM_SETS, CP_MAA_MAX_CLAIMS claims in all), none of which is
 * copied or modified: a service keeps the claims that are the same on every
 * request in one set built once and adds a small per-request set. */
CP_API CP_WUR int cp_maa_policy_evaluate_sets(const cp_maa_policy *p, const cp_maa_claims *const *incoming,
                                              size_t n_incoming, cp_maa_claims **ret_issued);

/* x-ms-policy-hash as MAA defines it:
 * BASE64URL(SHA-256(BASE64URL(policy text bytes))), 43 characters + NUL. */
CP_API CP_WUR int cp_maa_policy_hash(const char *text, size_t len, char ret[44]);

#ifdef __cplusplus
}
#endif
#endif
