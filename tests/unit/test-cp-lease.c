/* SPDX-License-Identifier: Apache-2.0 */
/* The leader lease of confpoold replicas (cp-lease.h, issue 17): one
 * leader at a time, takeover of an expired lease with a higher term, and
 * fencing: a deposed leader's reconciler writes are refused.  Two store
 * connections stand for two replicas; with CP_TEST_DB (cli-store-suites-pg)
 * they are two PostgreSQL connections. */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "controlplane/cp-backend.h"
#include "controlplane/cp-lease.h"
#include "controlplane/cp-reconciler.h"
#include "controlplane/cp-rules.h"
#include "controlplane/cp-store.h"
#include "test-db.h"
#include "tests.h"

static const char *db_path(void) {
        static char path[256];
        char dir[] = "/tmp/cp-lease-XXXXXX";
        if (!mkdtemp(dir))
                cp_test_fail(__FILE__, __LINE__, "mkdtemp");
        snprintf(path, sizeof path, "%s/cp.db", dir);
        const char *db = cp_test_db(path);
        if (db != path)
                snprintf(path, sizeof path, "%s", db);
        return path;
}

static void sleep_ms(unsigned ms) {
        struct timespec ts = {ms / 1000, (long) (ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
}

TEST(one_leader_takeover_and_fencing) {
        const char *db = db_path();
        cp_store *sa = NULL, *sb = NULL;
        ASSERT_OK(cp_cpstore_open(db, &sa));
        ASSERT_OK(cp_cpstore_open(db, &sb));
        cp_lease *a = NULL, *b = NULL;
        ASSERT_OK(cp_lease_new(sa, "replica-a", 300, &a));
        ASSERT_OK(cp_lease_new(sb, "replica-b", 300, &b));
        bool became = false;
        uint64_t term = 0;
        ASSERT_OK(cp_lease_tick(a, &became));
        ASSERT_TRUE(became && cp_lease_is_leader(a, &term) && term == 1);
        ASSERT_OK(cp_lease_tick(b, &became));
        ASSERT_TRUE(!became && !cp_lease_is_leader(b, NULL)); /* a holds it */
        /* a renews: still term 1, b still follows */
        sleep_ms(150);
        ASSERT_OK(cp_lease_tick(a, &became));
        ASSERT_TRUE(!became && cp_lease_is_leader(a, &term) && term == 1);
        ASSERT_OK(cp_lease_tick(b, &became));
        ASSERT_FALSE(cp_lease_is_leader(b, NULL));
        char holder[128];
        ASSERT_OK(cp_lease_holder(b, holder, sizeof holder));
        ASSERT_STREQ(holder, "replica-a");
        /* a stops renewing (a pause, a kill -9): b takes over with term 2 */
        sleep_ms(450);
        ASSERT_OK(cp_lease_tick(b, &became));
        ASSERT_TRUE(became && cp_lease_is_leader(b, &term) && term == 2);
        /* a still believes it leads; its next write transaction is fenced */
        ASSERT_TRUE(cp_lease_is_leader(a, NULL));
        ASSERT_OK(cp_store_begin(sa));
        ASSERT_ERR(cp_lease_check(a), CP_EFENCED);
        cp_store_rollback(sa);
        ASSERT_FALSE(cp_lease_is_leader(a, NULL)); /* and it stepped down */
        ASSERT_OK(cp_store_begin(sb));
        ASSERT_OK(cp_lease_check(b));
        ASSERT_OK(cp_store_commit(sb));
        /* a's tick now follows; b's release hands over at once */
        ASSERT_OK(cp_lease_tick(a, &became));
        ASSERT_FALSE(cp_lease_is_leader(a, NULL));
        cp_lease_release(b);
        ASSERT_OK(cp_lease_tick(a, &became));
        ASSERT_TRUE(became && cp_lease_is_leader(a, &term) && term == 3);
        cp_lease_free(a);
        cp_lease_free(b);
        cp_store_close(sa);
        cp_store_close(sb);
        cp_error_clear();
}

/* The reconciler of a deposed leader: its pass is refused (CP_EFENCED) and
 * writes nothing, while the leader's pass finishes the operation. */
TEST(deposed_reconciler_writes_nothing) {
        const char *db = db_path();
        cp_store *sa = NULL, *sb = NULL;
        ASSERT_OK(cp_cpstore_open(db, &sa));
        ASSERT_OK(cp_cpstore_open(db, &sb));
        cp_rules *rules = NULL;
        ASSERT_OK(cp_rules_new(&rules));
        cp_backend *ba = NULL, *bb = NULL;
        ASSERT_OK(cp_backend_fake_new(0, NULL, NULL, &ba));
        ASSERT_OK(cp_backend_fake_new(0, NULL, NULL, &bb));
        cp_reconciler *ra = NULL, *rb = NULL;
        ASSERT_OK(cp_reconciler_new(sa, rules, ba, &ra));
        ASSERT_OK(cp_reconciler_new(sb, rules, bb, &rb));
        cp_lease *a = NULL, *b = NULL;
        ASSERT_OK(cp_lease_new(sa, "replica-a", 200, &a));
        ASSERT_OK(cp_lease_new(sb, "replica-b", 200, &b));
        cp_reconciler_set_lease(ra, a);
        cp_reconciler_set_lease(rb, b);
        bool became;
        ASSERT_OK(cp_lease_tick(a, &became));
        sleep_ms(300);
        ASSERT_OK(cp_lease_tick(b, &became));
        ASSERT_TRUE(became);
        /* an operation on a resource group: one reconciler pass finishes it */
        json_t *body = json_pack("{s:s,s:s}", "name", "rg", "location", "eastus");
        cp_res_key k = {.id = "/subscriptions/s/resourceGroups/rg", .kind = "rg", .sub = "s", .rg = "rg",
                        .name = "rg", .location = "eastus"};
        ASSERT_OK(cp_res_put(sa, &k, body, "e1"));
        json_decref(body);
        cp_op op = {.id = "op1", .sub = "s", .location = "eastus", .kind = "rg", .action = "delete",
                    .status = "InProgress", .start = "t0"};
        snprintf(op.resource, sizeof op.resource, "%s", k.id);
        ASSERT_OK(cp_op_insert(sa, &op));
        size_t active = 0;
        ASSERT_ERR(cp_reconciler_run_once(ra, &active), CP_EFENCED);
        cp_op got;
        ASSERT_OK(cp_op_get(sa, "op1", &got));
        ASSERT_STREQ(got.status, "InProgress"); /* the deposed one wrote nothing */
        ASSERT_OK(cp_reconciler_run_once(rb, &active));
        ASSERT_OK(cp_op_get(sa, "op1", &got));
        ASSERT_TRUE(strcmp(got.status, "InProgress") != 0);
        cp_reconciler_free(ra);
        cp_reconciler_free(rb);
        cp_lease_free(a);
        cp_lease_free(b);
        cp_backend_free(ba);
        cp_backend_free(bb);
        cp_rules_free(rules);
        cp_store_close(sa);
        cp_store_close(sb);
        cp_error_clear();
}
