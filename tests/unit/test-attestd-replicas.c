/* SPDX-License-Identifier: Apache-2.0 */
/* Attestation-service replicas sharing token-signing keys through a key
 * directory (issue 17, --signing-key-dir): both publish the same key, a
 * rotation on one is published by the other before anyone signs with it
 * (overlap), and the replaced key stays listed while its tokens live. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "attestd/attestd.h"
#include "tests.h"

#define T0 1748736000

/* The kids of a JWKS text, comma-joined in order. */
static void kids(cp_attestd *s, char *out, size_t size) {
        char *j = NULL;
        if (cp_attestd_jwks_json(s, &j) < 0)
                cp_test_fail(__FILE__, __LINE__, "jwks: %s", cp_error_message());
        json_t *doc = json_loads(j, 0, NULL);
        free(j);
        out[0] = 0;
        size_t i;
        json_t *k;
        json_array_foreach(json_object_get(doc, "keys"), i, k) {
                strncat(out, json_string_value(json_object_get(k, "kid")), size - strlen(out) - 2);
                strncat(out, ",", size - strlen(out) - 1);
        }
        json_decref(doc);
}

static cp_attestd *replica_at(const char *dir, int64_t now) {
        cp_attestd_config cfg = {.now = now, .quiet = true, .signing_key_dir = dir, .token_lifetime_s = 600,
                                 .issuer = "https://attest.example"};
        cp_attestd *s = NULL;
        if (cp_attestd_new(&cfg, &s) < 0)
                cp_test_fail(__FILE__, __LINE__, "cp_attestd_new: %s", cp_error_message());
        return s;
}

static cp_attestd *replica(const char *dir) {
        return replica_at(dir, T0);
}

TEST(replicas_share_keys_and_rotate_with_overlap) {
        char dir[] = "/tmp/attestd-keys-XXXXXX";
        ASSERT_TRUE(mkdtemp(dir) != NULL);
        cp_attestd *a = replica(dir), *b = replica(dir);
        char ka[1024], kb[1024];
        kids(a, ka, sizeof ka);
        kids(b, kb, sizeof kb);
        ASSERT_TRUE(strlen(ka) > 10 && strchr(ka, ',') == strrchr(ka, ',')); /* one key */
        ASSERT_STREQ(ka, kb);                                                /* the same one */
        char first[128];
        snprintf(first, sizeof first, "%.*s", (int) (strchr(ka, ',') - ka), ka);
        /* the key file is the replicas' secret: 0600 */
        char cmd[256];
        snprintf(cmd, sizeof cmd, "test \"$(stat -c %%a %s/key-*.pem)\" = 600", dir);
        ASSERT_EQ(system(cmd), 0);
        /* rotation on a: b lists the new key at its next read (5 s), while
         * both still sign with the old one until the overlap (10 s) passed */
        cp_attestd_set_now(a, T0 + 100);
        ASSERT_OK(cp_attestd_rotate_key(a));
        cp_attestd_set_now(b, T0 + 106);
        kids(a, ka, sizeof ka);
        kids(b, kb, sizeof kb);
        ASSERT_STREQ(ka, kb);
        ASSERT_EQ(strlen(ka), 2 * strlen(first) + 2); /* two keys, the current one last */
        ASSERT_TRUE(strncmp(ka + strlen(ka) - strlen(first) - 1, first, strlen(first)) == 0); /* old signs */
        /* past the overlap the new key signs; the old one stays listed */
        cp_attestd_set_now(a, T0 + 120);
        cp_attestd_set_now(b, T0 + 120);
        kids(a, ka, sizeof ka);
        kids(b, kb, sizeof kb);
        ASSERT_STREQ(ka, kb);
        ASSERT_TRUE(strncmp(ka, first, strlen(first)) == 0); /* old first, new last */
        /* once every token of the old key expired (600 s + 60 s), it is dropped */
        cp_attestd_set_now(a, T0 + 120 + 700);
        kids(a, ka, sizeof ka);
        ASSERT_TRUE(strstr(ka, first) == NULL && strchr(ka, ',') == strrchr(ka, ','));
        cp_attestd_free(a);
        cp_attestd_free(b);
        snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
        ASSERT_EQ(system(cmd), 0);
}

/* `confpool-attestd rotate-signing-key --signing-key-dir DIR` (an operator,
 * not a replica): the running replicas list the new key at their next read
 * and sign with it after the overlap; the old one stays listed.  The
 * replicas' clock is ahead of the operator's (the directory's newest key is
 * "younger" than the rotation): the new key is still named after it (before,
 * named by the operator's clock it sorted first, was taken for the old one
 * and signed at once, without the overlap; so did a rotation within the same
 * second as the first key, at random: the ASan run caught it).  A missing
 * directory is an error. */
TEST(rotation_from_outside_the_replicas) {
        char dir[] = "/tmp/attestd-keys-XXXXXX";
        ASSERT_TRUE(mkdtemp(dir) != NULL);
        int64_t now = (int64_t) time(NULL) + 1000;
        cp_attestd *a = replica_at(dir, now), *b = replica_at(dir, now);
        char ka[1024], kb[1024], first[128];
        kids(a, ka, sizeof ka);
        snprintf(first, sizeof first, "%.*s", (int) (strchr(ka, ',') - ka), ka);
        ASSERT_OK(cp_attestd_keydir_rotate(dir, 0));
        /* the new key is named now + 1: listed from now + 6, signing from now + 11 */
        cp_attestd_set_now(a, now + 7);
        cp_attestd_set_now(b, now + 7);
        kids(a, ka, sizeof ka);
        kids(b, kb, sizeof kb);
        ASSERT_STREQ(ka, kb);
        ASSERT_EQ(strlen(ka), 2 * strlen(first) + 2);
        ASSERT_TRUE(strncmp(ka + strlen(ka) - strlen(first) - 1, first, strlen(first)) == 0); /* old still signs */
        cp_attestd_set_now(a, now + 21);
        cp_attestd_set_now(b, now + 21);
        kids(a, ka, sizeof ka);
        kids(b, kb, sizeof kb);
        ASSERT_STREQ(ka, kb);
        ASSERT_TRUE(strncmp(ka, first, strlen(first)) == 0); /* old listed first, the new one signs */
        ASSERT_ERR(cp_attestd_keydir_rotate("/nonexistent/keys", 0), CP_ENOTFOUND);
        /* a rotation of another algorithm than the replicas' keys is refused, nothing
         * written (every replica would skip that key) */
        char cmd[256];
        snprintf(cmd, sizeof cmd, "test $(ls %s | grep -c '^key-') = 2", dir);
        ASSERT_EQ(system(cmd), 0);
        ASSERT_ERR(cp_attestd_keydir_rotate(dir, CP_JWT_ES256), CP_EUNSUPPORTED);
        ASSERT_TRUE(strstr(cp_error_message(), "--alg") != NULL);
        ASSERT_EQ(system(cmd), 0);
        /* a key file a replica cannot read is skipped, the others still served */
        snprintf(cmd, sizeof cmd, "printf 'not a key' > %s/key-%016lld-00000000.pem", dir, (long long) now - 5);
        ASSERT_EQ(system(cmd), 0);
        cp_attestd_set_now(a, now + 40);
        kids(a, ka, sizeof ka);
        ASSERT_EQ(strlen(ka), 2 * strlen(first) + 2);
        cp_attestd_free(a);
        cp_attestd_free(b);
        snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
        ASSERT_EQ(system(cmd), 0);
}
