/* SPDX-License-Identifier: Apache-2.0 */
/* A pool's attestation policy override (docs/control-plane.md "Attestation
 * policy"): the check against token claims (cp_nodes_policy_check), strict
 * validation, and the ARM resource <pool>/attestationPolicy/default through
 * the API router with the fake backend (GET/PUT/DELETE, eTags, persistence
 * across a store reopen, removal with the pool). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "basic/codec.h"
#include "controlplane/cp-api.h"
#include "cp-api-testutil.h"
#include "controlplane/cp-nodes.h"
#include "controlplane/cp-reconciler.h"
#include "controlplane/cp-store.h"
#include "test-db.h"
#include "tests.h"

/* ---- the check (pure) ------------------------------------------------------ */

#define M_A "aa0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f"
#define M_B "bb0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f"
#define M_C "cc0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f"
#define HD "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

static json_t *claims(const char *lm, bool debug, int bl, int tee, int snp, int ucode) {
        json_t *c = json_pack("{s:s,s:s,s:b,s:i,s:i,s:i,s:i,s:s,s:b}", "x-confpool-evidence-type", "native",
                              "x-ms-sevsnpvm-launchmeasurement", lm, "x-ms-sevsnpvm-is-debuggable", debug,
                              "x-ms-sevsnpvm-bootloader-svn", bl, "x-ms-sevsnpvm-tee-svn", tee,
                              "x-ms-sevsnpvm-snpfw-svn", snp, "x-ms-sevsnpvm-microcode-svn", ucode,
                              "x-ms-sevsnpvm-hostdata", HD, "x-confpool-eventlog-replayed", true);
        ASSERT_TRUE(c != NULL);
        return c;
}

static cp_pool_measurement acc_of(const char *hex, const char *image, bool previous) {
        cp_pool_measurement m = {0};
        size_t n = 0;
        ASSERT_OK(cp_hex_decode(hex, 96, m.measurement, 48, &n));
        snprintf(m.image, sizeof m.image, "%s", image);
        m.previous = previous;
        return m;
}

static void policy_of(const char *json, cp_attest_policy *ret) {
        json_t *j = json_loads(json, JSON_REJECT_DUPLICATES, NULL);
        ASSERT_TRUE(j != NULL);
        cp_rule_error err = {0};
        int r = cp_attest_policy_parse(j, ret, &err);
        json_decref(j);
        if (r < 0)
                cp_test_fail(__FILE__, __LINE__, "parse '%s': %s", json, err.message);
}

static char why[768];

static bool check(const json_t *c, const cp_pool_measurement *acc, size_t n, const cp_snp_tcb *floor,
                  const cp_attest_policy *ov) {
        why[0] = 0;
        bool ok = cp_nodes_policy_check(c, acc, n, floor, ov, why, sizeof why);
        ASSERT_TRUE(ok == (why[0] == 0));
        return ok;
}

static void why_has(const char *s) {
        if (!strstr(why, s))
                cp_test_fail(__FILE__, __LINE__, "reason '%s' lacks '%s'", why, s);
}

TEST(check_default_policy) {
        cp_pool_measurement acc[2] = {acc_of(M_A, "img-new", false), acc_of(M_B, "img-old", true)};
        cp_snp_tcb floor = {.bl = 1, .snp = 10, .ucode = 100};
        json_t *c = claims(M_B, false, 4, 0, 22, 213);
        ASSERT_TRUE(check(c, acc, 2, &floor, NULL)); /* the roll's previous image */
        ASSERT_FALSE(check(c, acc, 1, &floor, NULL));
        why_has("is not accepted by the pool's policy (aa01020304050607... of img-new)");
        json_decref(c);
        c = claims(M_A, true, 4, 0, 22, 213);
        ASSERT_FALSE(check(c, acc, 2, &floor, NULL));
        ASSERT_STREQ(why, "the guest policy allows debugging");
        json_decref(c);
        c = claims(M_A, false, 4, 0, 9, 213);
        ASSERT_FALSE(check(c, acc, 2, &floor, NULL));
        ASSERT_STREQ(why, "reported TCB below the policy: x-ms-sevsnpvm-snpfw-svn 9 < 10 (--min-tcb)");
        /* no floor: nothing below */
        ASSERT_TRUE(check(c, acc, 2, NULL, NULL));
        /* HOST_DATA and replay are not part of the default */
        json_object_del(c, "x-ms-sevsnpvm-hostdata");
        json_object_del(c, "x-confpool-eventlog-replayed");
        ASSERT_TRUE(check(c, acc, 2, NULL, NULL));
        /* not native evidence, no measurement */
        json_object_set_new(c, "x-confpool-evidence-type", json_string("maa"));
        ASSERT_FALSE(check(c, acc, 2, NULL, NULL));
        why_has("not from confpool's node attestation (native or azure-hcl)");
        json_object_set_new(c, "x-confpool-evidence-type", json_string("native"));
        json_object_set_new(c, "x-ms-sevsnpvm-launchmeasurement", json_string(M_A "00"));
        ASSERT_FALSE(check(c, acc, 2, NULL, NULL));
        ASSERT_STREQ(why, "the token carries no launch measurement");
        json_decref(c);
}

TEST(check_override_measurements_replace_the_image_set) {
        cp_pool_measurement acc[2] = {acc_of(M_A, "img-new", false), acc_of(M_B, "img-old", true)};
        cp_attest_policy ov;
        policy_of("{\"launchMeasurements\":[\"" M_C "\",\"" M_B "\"]}", &ov);
        ASSERT_EQ(ov.n_measurements, 2);
        json_t *c = claims(M_A, false, 4, 0, 22, 213);
        /* the image's target measurement is no longer accepted */
        ASSERT_FALSE(check(c, acc, 2, NULL, &ov));
        why_has("is not in the launchMeasurements of the pool's attestation policy (cc01020304050607..., "
                "bb01020304050607...)");
        json_object_set_new(c, "x-ms-sevsnpvm-launchmeasurement", json_string(M_C));
        ASSERT_TRUE(check(c, acc, 2, NULL, &ov)); /* not the image's, but listed */
        /* upper-case hex in the token decodes to the same bytes */
        char upper[97];
        snprintf(upper, sizeof upper, "%s", M_B);
        for (char *p = upper; *p; p++)
                if (*p >= 'a' && *p <= 'f')
                        *p = (char) (*p - 'a' + 'A');
        json_object_set_new(c, "x-ms-sevsnpvm-launchmeasurement", json_string(upper));
        ASSERT_TRUE(check(c, acc, 2, NULL, &ov));
        /* an override without launchMeasurements keeps the image's set (old + new) */
        policy_of("{\"allowDebug\":false}", &ov);
        json_object_set_new(c, "x-ms-sevsnpvm-launchmeasurement", json_string(M_B));
        ASSERT_TRUE(check(c, acc, 2, NULL, &ov));
        json_object_set_new(c, "x-ms-sevsnpvm-launchmeasurement", json_string(M_C));
        ASSERT_FALSE(check(c, acc, 2, NULL, &ov));
        why_has("is not accepted by the pool's policy");
        json_decref(c);
}

TEST(check_override_debug_tcb_hostdata_replay) {
        cp_pool_measurement acc[1] = {acc_of(M_A, "img", false)};
        cp_snp_tcb floor = {.bl = 1, .snp = 10, .ucode = 100};
        cp_attest_policy ov;
        json_t *c = claims(M_A, true, 4, 0, 22, 213);
        policy_of("{\"allowDebug\":true}", &ov);
        ASSERT_TRUE(check(c, acc, 1, &floor, &ov));
        json_object_set_new(c, "x-ms-sevsnpvm-is-debuggable", json_false());
        ASSERT_TRUE(check(c, acc, 1, &floor, &ov));
        json_object_del(c, "x-ms-sevsnpvm-is-debuggable");
        ASSERT_FALSE(check(c, acc, 1, &floor, &ov));
        ASSERT_STREQ(why, "the token does not say whether the guest is debuggable");
        ASSERT_FALSE(check(c, acc, 1, &floor, NULL)); /* the default: must be false */
        json_object_set_new(c, "x-ms-sevsnpvm-is-debuggable", json_true());
        policy_of("{\"allowDebug\":false}", &ov);
        ASSERT_FALSE(check(c, acc, 1, &floor, &ov));
        ASSERT_STREQ(why, "the guest policy allows debugging");
        json_object_set_new(c, "x-ms-sevsnpvm-is-debuggable", json_false());

        /* minimumTcb raises the floor per component, never lowers it */
        policy_of("{\"minimumTcb\":{\"tee\":1,\"snp\":5}}", &ov);
        ASSERT_FALSE(check(c, acc, 1, &floor, &ov));
        ASSERT_STREQ(why, "reported TCB below the policy: x-ms-sevsnpvm-tee-svn 0 < 1 (the pool's minimumTcb)");
        json_object_set_new(c, "x-ms-sevsnpvm-tee-svn", json_integer(1));
        ASSERT_TRUE(check(c, acc, 1, &floor, &ov));
        json_object_set_new(c, "x-ms-sevsnpvm-snpfw-svn", json_integer(7)); /* >= pool's 5, < the floor's 10 */
        ASSERT_FALSE(check(c, acc, 1, &floor, &ov));
        ASSERT_STREQ(why, "reported TCB below the policy: x-ms-sevsnpvm-snpfw-svn 7 < 10 (--min-tcb)");
        json_object_set_new(c, "x-ms-sevsnpvm-snpfw-svn", json_integer(22));
        policy_of("{\"minimumTcb\":{\"bootloader\":4,\"tee\":1,\"snp\":22,\"microcode\":214}}", &ov);
        ASSERT_FALSE(check(c, acc, 1, &floor, &ov));
        ASSERT_STREQ(why, "reported TCB below the policy: x-ms-sevsnpvm-microcode-svn 213 < 214 (the pool's minimumTcb)");
        json_object_del(c, "x-ms-sevsnpvm-bootloader-svn");
        ASSERT_FALSE(check(c, acc, 1, &floor, &ov));
        why_has("x-ms-sevsnpvm-bootloader-svn -1 < 4");
        json_object_set_new(c, "x-ms-sevsnpvm-bootloader-svn", json_integer(4));
        json_object_set_new(c, "x-ms-sevsnpvm-microcode-svn", json_integer(214));
        ASSERT_TRUE(check(c, acc, 1, &floor, &ov));

        /* hostData */
        policy_of("{\"hostData\":\"" HD "\"}", &ov);
        ASSERT_TRUE(check(c, acc, 1, &floor, &ov));
        policy_of("{\"hostData\":\"" HD "\"}", &ov);
        ov.host_data[31] ^= 1;
        ASSERT_FALSE(check(c, acc, 1, &floor, &ov));
        ASSERT_STREQ(why, "HOST_DATA " HD " is not the policy's hostData "
                          "00112233445566778899aabbccddeeff00112233445566778899aabbccddeefe");
        json_object_del(c, "x-ms-sevsnpvm-hostdata");
        ASSERT_FALSE(check(c, acc, 1, &floor, &ov));
        why_has("the token carries no HOST_DATA");
        json_object_set_new(c, "x-ms-sevsnpvm-hostdata", json_string("0011"));
        ASSERT_FALSE(check(c, acc, 1, &floor, &ov));
        why_has("the token carries no HOST_DATA");
        json_object_set_new(c, "x-ms-sevsnpvm-hostdata", json_string(HD));

        /* event-log replay */
        policy_of("{\"requireEventLogReplay\":true}", &ov);
        ASSERT_TRUE(check(c, acc, 1, &floor, &ov));
        json_object_set_new(c, "x-confpool-eventlog-replayed", json_false());
        ASSERT_FALSE(check(c, acc, 1, &floor, &ov));
        why_has("requires event-log replay");
        json_object_del(c, "x-confpool-eventlog-replayed");
        ASSERT_FALSE(check(c, acc, 1, &floor, &ov));
        json_object_set_new(c, "x-confpool-eventlog-replayed", json_string("true")); /* not the JSON true */
        ASSERT_FALSE(check(c, acc, 1, &floor, &ov));
        policy_of("{\"requireEventLogReplay\":false}", &ov);
        ASSERT_TRUE(check(c, acc, 1, &floor, &ov));
        json_decref(c);
}

static void bad(const char *json, const char *needle) {
        json_t *j = json_loads(json, 0, NULL);
        ASSERT_TRUE(j != NULL);
        cp_rule_error err = {0};
        cp_attest_policy p;
        memset(&p, 0x5a, sizeof p);
        unsigned char before[sizeof p];
        memcpy(before, &p, sizeof p);
        ASSERT_ERR(cp_attest_policy_parse(j, &p, &err), CP_EPOLICY);
        cp_error_clear();
        json_decref(j);
        ASSERT_EQ(err.status, 400);
        ASSERT_STREQ(err.code, "InvalidParameter");
        ASSERT_TRUE(strncmp(err.target, "properties", 10) == 0);
        if (!strstr(err.message, needle))
                cp_test_fail(__FILE__, __LINE__, "'%s': message '%s' lacks '%s'", json, err.message, needle);
        ASSERT_MEMEQ(before, &p, sizeof p); /* ret untouched on failure */
}

TEST(parse_strict) {
        bad("[]", "must be an object");
        bad("{\"launchMeasurement\":[]}", "Unknown member 'launchMeasurement'");
        bad("{\"launchMeasurements\":\"" M_A "\"}", "must be an array");
        bad("{\"launchMeasurements\":[]}", "is empty");
        bad("{\"launchMeasurements\":[\"" M_A "0\"]}", "launchMeasurements[0] is not a launch measurement");
        bad("{\"launchMeasurements\":[\"" M_A "\",\"aa\"]}", "launchMeasurements[1] is not");
        bad("{\"launchMeasurements\":[\"" M_A "\",1]}", "launchMeasurements[1] is not");
        bad("{\"launchMeasurements\":[\"zz" M_A "\"]}", "launchMeasurements[0] is not");
        bad("{\"launchMeasurements\":[\"" M_B "\",\"" M_A "\",\"" M_B "\"]}",
            "launchMeasurements[2] repeats launchMeasurements[0]");
        /* upper/lower case of the same bytes is a duplicate too */
        bad("{\"launchMeasurements\":[\"" M_A "\",\"AA0102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F"
            "202122232425262728292A2B2C2D2E2F\"]}",
            "repeats");
        bad("{\"allowDebug\":\"false\"}", "allowDebug must be true or false");
        bad("{\"allowDebug\":0}", "allowDebug must be true or false");
        bad("{\"requireEventLogReplay\":null}", "requireEventLogReplay must be true or false");
        bad("{\"hostData\":\"" HD "00\"}", "hostData must be 64 hex digits");
        bad("{\"hostData\":\"0011\"}", "hostData must be 64 hex digits");
        bad("{\"hostData\":7}", "hostData must be 64 hex digits");
        bad("{\"minimumTcb\":{}}", "minimumTcb must be an object");
        bad("{\"minimumTcb\":5}", "minimumTcb must be an object");
        bad("{\"minimumTcb\":{\"ucode\":1}}", "unknown member 'ucode'");
        bad("{\"minimumTcb\":{\"tee\":256}}", "minimumTcb.tee must be an integer from 0 to 255");
        bad("{\"minimumTcb\":{\"snp\":-1}}", "minimumTcb.snp must be");
        bad("{\"minimumTcb\":{\"snp\":1.0}}", "minimumTcb.snp must be");
        bad("{\"minimumTcb\":{\"snp\":\"1\"}}", "minimumTcb.snp must be");
        /* the limit */
        char big[(CP_MAX_POLICY_MEASUREMENTS + 1) * 100 + 64];
        int off = snprintf(big, sizeof big, "{\"launchMeasurements\":[");
        for (unsigned i = 0; i <= CP_MAX_POLICY_MEASUREMENTS; i++)
                off += snprintf(big + off, sizeof big - (size_t) off, "%s\"%02x%.94s\"", i ? "," : "", i, &M_A[2]);
        snprintf(big + off, sizeof big - (size_t) off, "]}");
        bad(big, "at most 16 are allowed");
        /* exactly the limit is fine; canonical form: lower-case hex */
        big[strlen(big) - 2 - 99] = 0; /* drop the last ',"<96>"' */
        strcat(big, "]}");
        cp_attest_policy p;
        policy_of(big, &p);
        ASSERT_EQ(p.n_measurements, CP_MAX_POLICY_MEASUREMENTS);
        policy_of("{\"launchMeasurements\":[\"AA0102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F"
                  "202122232425262728292A2B2C2D2E2F\"],\"minimumTcb\":{\"snp\":3},\"hostData\":\"" HD "\","
                  "\"allowDebug\":true,\"requireEventLogReplay\":true,\"isDefault\":false,\"eTag\":\"x\"}",
                  &p);
        json_t *j = cp_attest_policy_to_json(&p);
        char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
        ASSERT_STREQ(s, "{\"allowDebug\":true,\"hostData\":\"" HD "\",\"launchMeasurements\":[\"" M_A "\"],"
                        "\"minimumTcb\":{\"bootloader\":0,\"microcode\":0,\"snp\":3,\"tee\":0},"
                        "\"requireEventLogReplay\":true}");
        free(s);
        json_decref(j);
}

/* ---- TDX tokens (issue 16) ------------------------------------------------- */

static json_t *tdx_claims(const char *mrtd, bool debug, const char *status) {
        json_t *c = json_pack("{s:s,s:s,s:s,s:b,s:s,s:s,s:[s]}", "x-confpool-evidence-type", "native",
                              "x-ms-attestation-type", "tdxvm", "tdx_mrtd", mrtd, "tdx_td_attributes_debug", debug,
                              "attester_tcb_status", status, "tdx_mrconfigid", HD "00000000000000000000000000000000",
                              "attester_advisory_ids", "INTEL-SA-00837");
        ASSERT_TRUE(c != NULL);
        return c;
}

TEST(check_tdx_tokens) {
        cp_pool_measurement acc[1] = {acc_of(M_A, "img-1", false)};
        cp_snp_tcb floor = {.bl = 200, .snp = 200, .ucode = 200}; /* SNP's floor does not apply to TDX */
        json_t *c = tdx_claims(M_A, false, "UpToDate");
        ASSERT_TRUE(check(c, acc, 1, &floor, NULL));
        json_decref(c);
        c = tdx_claims(M_B, false, "UpToDate");
        ASSERT_FALSE(check(c, acc, 1, &floor, NULL));
        why_has("launch measurement " M_B " is not accepted");
        json_decref(c);
        c = tdx_claims(M_A, true, "UpToDate");
        ASSERT_FALSE(check(c, acc, 1, &floor, NULL));
        why_has("the TD is a debug TD (TDATTRIBUTES.DEBUG)");
        json_decref(c);
        c = tdx_claims(M_A, false, "OutOfDate");
        ASSERT_FALSE(check(c, acc, 1, &floor, NULL));
        why_has("TDX TCB status OutOfDate is not accepted by the pool's policy (accepted: UpToDate); advisories: "
                "INTEL-SA-00837");
        /* the override's tdxTcbStatuses widen (or narrow) the accepted set */
        cp_attest_policy ov;
        policy_of("{\"tdxTcbStatuses\":[\"SWHardeningNeeded\",\"OutOfDate\"]}", &ov);
        ASSERT_TRUE(check(c, acc, 1, &floor, &ov));
        json_object_set_new(c, "attester_tcb_status", json_string("UpToDate"));
        ASSERT_FALSE(check(c, acc, 1, &floor, &ov));
        why_has("(accepted: SWHardeningNeeded, OutOfDate)");
        json_object_set_new(c, "attester_tcb_status", json_string("Revoked"));
        ASSERT_FALSE(check(c, acc, 1, &floor, &ov));
        json_object_del(c, "attester_tcb_status");
        ASSERT_FALSE(check(c, acc, 1, &floor, &ov));
        why_has("TDX TCB status (none)");
        json_decref(c);
        /* hostData is MRCONFIGID's first 32 bytes, the rest zero */
        c = tdx_claims(M_A, false, "UpToDate");
        policy_of("{\"hostData\":\"" HD "\"}", &ov);
        ASSERT_TRUE(check(c, acc, 1, &floor, &ov));
        json_object_set_new(c, "tdx_mrconfigid", json_string(HD "00000000000000000000000000000001"));
        ASSERT_FALSE(check(c, acc, 1, &floor, &ov));
        why_has("no HOST_DATA (tdx_mrconfigid)");
        json_decref(c);
}

static void bad(const char *json, const char *needle);

TEST(parse_tdx_statuses) {
        bad("{\"tdxTcbStatuses\":[]}", "tdxTcbStatuses must be a non-empty array");
        bad("{\"tdxTcbStatuses\":\"UpToDate\"}", "tdxTcbStatuses must be a non-empty array");
        bad("{\"tdxTcbStatuses\":[\"Revoked\"]}", "tdxTcbStatuses[0] is not an accepted Intel TCB status");
        bad("{\"tdxTcbStatuses\":[\"uptodate\"]}", "tdxTcbStatuses[0] is not");
        bad("{\"tdxTcbStatuses\":[\"UpToDate\",7]}", "tdxTcbStatuses[1] is not");
        bad("{\"tdxTcbStatuses\":[\"UpToDate\",\"UpToDate\"]}", "tdxTcbStatuses[1] repeats UpToDate");
        cp_attest_policy p;
        policy_of("{\"tdxTcbStatuses\":[\"OutOfDate\",\"UpToDate\"]}", &p);
        json_t *j = cp_attest_policy_to_json(&p);
        char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
        ASSERT_STREQ(s, "{\"allowDebug\":false,\"requireEventLogReplay\":false,\"tdxTcbStatuses\":[\"UpToDate\","
                        "\"OutOfDate\"]}");
        free(s);
        json_decref(j);
}

/* ---- the ARM resource ------------------------------------------------------ */

#define SUB "6a8b4c2e-1f3d-4e5a-9b7c-0d1e2f3a4b5c"
#define RGP "/subscriptions/" SUB "/resourceGroups/myResourceGroup"
#define MC RGP "/providers/Microsoft.ContainerService/managedClusters/myAKSCluster"
#define AP MC "/agentPools"
#define POL AP "/cvmpool/attestationPolicy/default"
#define CS "?api-version=2026-01-01"
#define RS "?api-version=2021-04-01"

static struct {
        char dir[64];
        cp_store *store;
        cp_rules *rules;
        cp_backend *backend;
        cp_api *api;
        cp_reconciler *rec;
        char auth[128];
} E;
static cp_api_reply R;
static const char *if_match, *if_none_match;

static void open_env(void) {
        char db[128];
        snprintf(db, sizeof db, "%s/confpoold.db", E.dir);
        ASSERT_OK(cp_cpstore_open(cp_test_db(db), &E.store));
        ASSERT_OK(cp_rules_new(&E.rules));
        json_t *j = json_loads("{\"fakeBackend\":{\"readyDelayMs\":0}}", 0, NULL);
        ASSERT_OK(cp_rules_load_json(E.rules, j));
        json_decref(j);
        ASSERT_OK(cp_backend_fake_new(0, NULL, NULL, &E.backend));
        cp_api_options o = {.store = E.store, .rules = E.rules, .state_dir = E.dir, .base_url = "http://cp.test"};
        ASSERT_OK(cp_api_new(&o, &E.api));
        ASSERT_OK(cp_reconciler_new(E.store, E.rules, E.backend, &E.rec));
        char tp[128], t[100] = "";
        snprintf(tp, sizeof tp, "%s/operator.token", E.dir);
        FILE *f = fopen(tp, "r");
        ASSERT_TRUE(f != NULL);
        ASSERT_TRUE(fscanf(f, "%99s", t) == 1);
        fclose(f);
        snprintf(E.auth, sizeof E.auth, "Bearer %s", t);
}

static void close_env(void) {
        cp_api_reply_clear(&R);
        cp_reconciler_free(E.rec);
        cp_api_free(E.api);
        cp_backend_free(E.backend);
        cp_store_close(E.store);
        cp_rules_free(E.rules);
}

static unsigned call(const char *method, const char *url, const char *body) {
        cp_api_call_headers h = { .authorization = E.auth, .if_match = if_match, .if_none_match = if_none_match,
                                  .host = "cp.test:443" };
        cp_api_call(E.api, &R, method, url, NULL, &h, body);
        if (R.http.body_len)
                ASSERT_TRUE(R.body != NULL);
        return R.status;
}

static const char *code(void) {
        return json_string_value(json_object_get(json_object_get(R.body, "error"), "code"));
}

static const char *err_target(void) {
        return json_string_value(json_object_get(json_object_get(R.body, "error"), "target"));
}

static const json_t *pprop(const char *k) {
        return json_object_get(json_object_get(R.body, "properties"), k);
}

static void reconcile(void) {
        size_t active;
        for (int i = 0; i < 10; i++) {
                ASSERT_OK(cp_reconciler_run_once(E.rec, &active));
                if (active == 0)
                        return;
        }
}

static void put_bad(const char *body, const char *tgt, const char *needle) {
        ASSERT_EQ(call("PUT", POL CS, body), 400);
        ASSERT_STREQ(code(), "InvalidParameter");
        ASSERT_STREQ(err_target(), tgt);
        const char *msg = json_string_value(json_object_get(json_object_get(R.body, "error"), "message"));
        if (!msg || !strstr(msg, needle))
                cp_test_fail(__FILE__, __LINE__, "message '%s' lacks '%s'", msg ? msg : "(none)", needle);
}

#define POOL_BODY "{\"properties\":{\"count\":1,\"vmSize\":\"Standard_DC4as_v5\",\"mode\":\"User\"}}"

/* No cluster, no pool: 404s; then the cluster and the pool cvmpool. */
static void api_make_pool(void) {
        ASSERT_EQ(call("GET", POL CS, NULL), 404);
        ASSERT_STREQ(code(), "ResourceNotFound");
        ASSERT_EQ(call("PUT", RGP RS, "{\"location\":\"eastus\"}"), 201);
        ASSERT_EQ(call("PUT", MC CS,
                       "{\"location\":\"eastus\",\"properties\":{\"agentPoolProfiles\":[{\"name\":\"nodepool1\","
                       "\"count\":1,\"vmSize\":\"Standard_DC4as_v5\",\"mode\":\"System\"}]}}"),
                  201);
        reconcile();
        ASSERT_EQ(call("GET", POL CS, NULL), 404);
        ASSERT_EQ(call("PUT", AP "/cvmpool" CS, POOL_BODY), 201);
        reconcile();
}

/* api-version handling is the API's; then the default policy's view. */
static void api_default_view(void) {
        ASSERT_EQ(call("GET", POL, NULL), 400);
        ASSERT_STREQ(code(), "MissingApiVersionParameter");
        ASSERT_EQ(call("GET", POL "?api-version=2001-01-01", NULL), 400);
        ASSERT_STREQ(code(), "InvalidApiVersionParameter");
        ASSERT_EQ(call("POST", POL CS, "{}"), 405);
        ASSERT_EQ(call("GET", AP "/cvmpool/attestationPolicy/other" CS, NULL), 404);

        if (call("GET", POL CS, NULL) != 200)
                cp_test_fail(__FILE__, __LINE__, "GET: %u %s", R.status,
                             json_string_value(json_object_get(json_object_get(R.body, "error"), "message")));
        ASSERT_STREQ(json_string_value(json_object_get(R.body, "id")), POL);
        ASSERT_STREQ(json_string_value(json_object_get(R.body, "name")), "default");
        ASSERT_STREQ(json_string_value(json_object_get(R.body, "type")),
                     "Microsoft.ContainerService/managedClusters/agentPools/attestationPolicy");
        ASSERT_TRUE(json_is_true(pprop("isDefault")));
        ASSERT_TRUE(json_is_false(pprop("allowDebug")));
        ASSERT_TRUE(json_is_false(pprop("requireEventLogReplay")));
        ASSERT_TRUE(pprop("launchMeasurements") == NULL);
        ASSERT_TRUE(cp_api_reply_header(&R, "ETag") == NULL);
}

typedef struct put_bad_case {
        const char *name;
        const char *body;
        const char *target;
        const char *needle; /* in the error message */
} put_bad_case;

static const put_bad_case put_bad_cases[] = {
        { "empty", "{}", "properties", "Required parameter properties" },
        { "properties_array", "{\"properties\":[]}", "properties", "Required parameter properties" },
        { "location", "{\"properties\":{},\"location\":\"eastus\"}", "location", "Unknown member 'location'" },
        { "member_case", "{\"properties\":{\"allowdebug\":true}}", "properties", "Unknown member 'allowdebug'" },
        { "measurement_repeats", "{\"properties\":{\"launchMeasurements\":[\"" M_A "\",\"" M_A "\"]}}",
          "properties.launchMeasurements", "repeats" },
        { "host_data", "{\"properties\":{\"hostData\":\"xyz\"}}", "properties.hostData", "64 hex digits" },
        { "tcb_tee", "{\"properties\":{\"minimumTcb\":{\"tee\":true}}}", "properties.minimumTcb", "minimumTcb.tee" },
};

static void check_put_bad(void *ctx, const void *row) {
        const put_bad_case *c = row;
        (void) ctx;
        put_bad(c->body, c->target, c->needle);
}

static void api_validation(void) {
        TEST_TABLE(put_bad_cases, check_put_bad, NULL);
        ASSERT_EQ(call("PUT", POL CS, "{\"properties\":{\"allowDebug\":true,\"allowDebug\":false}}"), 400);
        ASSERT_STREQ(code(), "InvalidRequestContent"); /* duplicate member */
        ASSERT_EQ(call("GET", POL CS, NULL), 200);
        ASSERT_TRUE(json_is_true(pprop("isDefault"))); /* nothing stored by a 400 */
}

/* Create: 201 with eTag; If-Match on a missing override: 412.  The eTag in
 * etag, quoted in quoted. */
static void api_create(char etag[64], char quoted[80]) {
        const char *body = "{\"properties\":{\"launchMeasurements\":[\"" M_B "\",\"" M_A "\"],"
                           "\"minimumTcb\":{\"snp\":12},\"hostData\":\"" HD "\",\"requireEventLogReplay\":true}}";
        if_match = "\"nope\"";
        ASSERT_EQ(call("PUT", POL CS, body), 412);
        ASSERT_STREQ(code(), "PreconditionFailed");
        if_match = NULL;
        ASSERT_EQ(call("PUT", POL CS, body), 201);
        snprintf(etag, 64, "%s", json_string_value(pprop("eTag")));
        ASSERT_EQ(strlen(etag), 36);
        snprintf(quoted, 80, "\"%s\"", etag);
        ASSERT_STREQ(cp_api_reply_header(&R, "ETag"), quoted);
        ASSERT_TRUE(json_is_false(pprop("isDefault")));
        ASSERT_TRUE(json_is_false(pprop("allowDebug"))); /* default false, stated */
        ASSERT_EQ(json_array_size(pprop("launchMeasurements")), 2);
        ASSERT_STREQ(json_string_value(json_array_get(pprop("launchMeasurements"), 0)), M_B);
        ASSERT_EQ(json_integer_value(json_object_get(pprop("minimumTcb"), "snp")), 12);
        ASSERT_STREQ(json_string_value(json_object_get(json_object_get(R.body, "systemData"), "createdByType")), "User");
        ASSERT_EQ(call("GET", POL CS, NULL), 200);
        ASSERT_STREQ(json_string_value(pprop("eTag")), etag);
        ASSERT_STREQ(json_string_value(pprop("hostData")), HD);
        ASSERT_TRUE(json_is_true(pprop("requireEventLogReplay")));
        /* the machines view shows the override's accepted set */
        ASSERT_EQ(call("GET", AP "/cvmpool/machines" CS, NULL), 200);
        const json_t *accs = json_object_get(
                json_object_get(json_object_get(json_array_get(json_object_get(R.body, "value"), 0), "properties"),
                                "attestation"),
                "acceptedLaunchMeasurements");
        ASSERT_EQ(json_array_size(accs), 2);
        ASSERT_STREQ(json_string_value(json_object_get(json_array_get(accs, 1), "launchMeasurement")), M_A);
        ASSERT_STREQ(json_string_value(json_object_get(json_array_get(accs, 1), "role")), "attestationPolicy");
}

/* What enforcement reads. */
static void api_enforcement_view(const char *etag) {
        cp_attest_policy p;
        char et2[40];
        cp_store_lock(E.store);
        int r = cp_attest_policy_get(E.store, AP "/CVMPOOL", &p, NULL, et2); /* ids are case-insensitive */
        cp_store_unlock(E.store);
        ASSERT_OK(r);
        ASSERT_EQ(p.n_measurements, 2);
        ASSERT_TRUE(p.has_host_data && p.has_min_tcb && p.require_eventlog_replay && !p.allow_debug);
        ASSERT_EQ(p.min_tcb.snp, 12);
        ASSERT_STREQ(et2, etag);
}

/* If-None-Match * on an existing one; If-Match with a stale eTag; then a
 * replace (a PUT replaces the whole policy): 200, new eTag (into etag); a
 * GET body round-trips. */
static void api_replace(char etag[64], const char *quoted) {
        if_none_match = "*";
        ASSERT_EQ(call("PUT", POL CS, "{\"properties\":{}}"), 412);
        if_none_match = NULL;
        if_match = "\"00000000-0000-0000-0000-000000000000\"";
        ASSERT_EQ(call("PUT", POL CS, "{\"properties\":{}}"), 412);
        ASSERT_EQ(call("DELETE", POL CS, NULL), 412);
        if_match = quoted;
        ASSERT_EQ(call("GET", POL CS, NULL), 200);
        json_object_set_new(json_object_get(R.body, "properties"), "allowDebug", json_true());
        json_object_del(json_object_get(R.body, "properties"), "hostData");
        char *echo = json_dumps(R.body, JSON_COMPACT);
        ASSERT_EQ(call("PUT", POL CS, echo), 200);
        free(echo);
        if_match = NULL;
        ASSERT_TRUE(json_is_true(pprop("allowDebug")));
        ASSERT_TRUE(pprop("hostData") == NULL);
        ASSERT_EQ(json_array_size(pprop("launchMeasurements")), 2);
        ASSERT_TRUE(strcmp(json_string_value(pprop("eTag")), etag) != 0);
        snprintf(etag, 64, "%s", json_string_value(pprop("eTag")));
}

/* Survives a restart (store reopened). */
static void api_restart(const char *etag) {
        close_env();
        open_env();
        ASSERT_EQ(call("GET", POL CS, NULL), 200);
        ASSERT_STREQ(json_string_value(pprop("eTag")), etag);
        ASSERT_TRUE(json_is_true(pprop("allowDebug")));
        ASSERT_TRUE(json_is_true(pprop("requireEventLogReplay")));
}

/* DELETE: back to the default (200 with the default view), then 204. */
static void api_delete(void) {
        cp_attest_policy p;
        ASSERT_EQ(call("DELETE", POL CS, NULL), 200);
        ASSERT_TRUE(json_is_true(pprop("isDefault")));
        ASSERT_EQ(call("GET", POL CS, NULL), 200);
        ASSERT_TRUE(json_is_true(pprop("isDefault")));
        ASSERT_TRUE(json_is_false(pprop("allowDebug")));
        ASSERT_EQ(call("DELETE", POL CS, NULL), 204);
        cp_store_lock(E.store);
        int r = cp_attest_policy_get(E.store, AP "/cvmpool", &p, NULL, NULL);
        cp_store_unlock(E.store);
        ASSERT_ERR(r, CP_ENOTFOUND);
        cp_error_clear();
}

/* The override goes with its pool: a new pool of the same name starts at the default. */
static void api_pool_recreated(void) {
        ASSERT_EQ(call("PUT", POL CS, "{\"properties\":{\"allowDebug\":true}}"), 201);
        unsigned st = call("DELETE", AP "/cvmpool" CS, NULL);
        ASSERT_TRUE(st == 200 || st == 202);
        ASSERT_EQ(call("PUT", POL CS, "{\"properties\":{}}"), 409); /* Deleting */
        ASSERT_STREQ(code(), "OperationNotAllowed");
        reconcile();
        ASSERT_EQ(call("GET", POL CS, NULL), 404);
        ASSERT_EQ(call("PUT", AP "/cvmpool" CS, POOL_BODY), 201);
        reconcile();
        ASSERT_EQ(call("GET", POL CS, NULL), 200);
        ASSERT_TRUE(json_is_true(pprop("isDefault")));
}

TEST(api_resource) {
        char etag[64], quoted[80];
        memset(&E, 0, sizeof E);
        snprintf(E.dir, sizeof E.dir, "/tmp/cp-apol-XXXXXX");
        ASSERT_TRUE(mkdtemp(E.dir) != NULL);
        open_env();
        api_make_pool();
        api_default_view();
        api_validation();
        api_create(etag, quoted);
        api_enforcement_view(etag);
        api_replace(etag, quoted);
        api_restart(etag);
        api_delete();
        api_pool_recreated();

        close_env();
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf %s", E.dir);
        if (system(cmd) != 0)
                fprintf(stderr, "cleanup failed\n");
}
