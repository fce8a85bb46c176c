/* SPDX-License-Identifier: Apache-2.0 */
/* confpoold's service-principal identity (cp-aad.c): the form parser, the
 * principal store (hashed secrets), token issue and validation (expiry,
 * signature, audience, issuer), and the API with JWT callers: /adfs
 * metadata and token endpoint, /subscriptions, /tenants, subscription
 * scoping, 401 codes, systemData. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "basic/codec.h"
#include "basic/limits.h"
#include "controlplane/cp-aad.h"
#include "controlplane/cp-api.h"
#include "cp-api-testutil.h"
#include "controlplane/cp-store.h"
#include "test-db.h"
#include "tests.h"

typedef struct env {
        char dir[64];
        cp_store *store;
        cp_rules *rules;
        cp_aad *aad;
        cp_api *api;
        char op_auth[128];
} env;

static void env_setup(env *e) {
        memset(e, 0, sizeof *e);
        snprintf(e->dir, sizeof e->dir, "/tmp/cp-aad-XXXXXX");
        ASSERT_TRUE(mkdtemp(e->dir) != NULL);
        char db[128];
        snprintf(db, sizeof db, "%s/confpoold.db", e->dir);
        ASSERT_OK(cp_cpstore_open(cp_test_db(db), &e->store));
        ASSERT_OK(cp_rules_new(&e->rules));
        ASSERT_OK(cp_aad_new(e->store, e->dir, &e->aad));
        const char *hosts[] = {"localhost", "127.0.0.1", "::1"};
        ASSERT_OK(cp_aad_set_endpoint(e->aad, "https://localhost:8443", hosts, 3, 8443));
        cp_api_options o = {.store = e->store, .rules = e->rules, .state_dir = e->dir, .tls = true,
                            .base_url = "https://localhost:8443", .aad = e->aad};
        ASSERT_OK(cp_api_new(&o, &e->api));
        char tp[128], t[100] = "";
        snprintf(tp, sizeof tp, "%s/operator.token", e->dir);
        FILE *f = fopen(tp, "r");
        ASSERT_TRUE(f != NULL);
        ASSERT_TRUE(fscanf(f, "%99s", t) == 1);
        fclose(f);
        snprintf(e->op_auth, sizeof e->op_auth, "Bearer %s", t);
}

static void env_teardown(env *e) {
        cp_api_free(e->api);
        cp_aad_free(e->aad);
        cp_store_close(e->store);
        cp_rules_free(e->rules);
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf %s", e->dir);
        if (system(cmd) != 0)
                fprintf(stderr, "cleanup failed\n");
}

static cp_api_reply R;

static unsigned call(env *e, const char *auth, const char *method, const char *path, const char *ver,
                     const char *body) {
        cp_api_call_headers h = { .authorization = auth, .host = "localhost:8443" };
        cp_api_call(e->api, &R, method, path, ver, &h, body);
        if (R.http.body_len)
                ASSERT_TRUE(R.body != NULL);
        return R.status;
}

static const char *err_code(void) {
        return json_string_value(json_object_get(json_object_get(R.body, "error"), "code"));
}

/* ---- form parser ---- */

TEST(form_parse_decodes) {
        static const char body[] = "grant_type=client_credentials&client_id=a%2Db&scope=https%3A%2F%2Fx%2F%2F.default"
                                   "&&flag&sp=a+b";
        cp_form f;
        ASSERT_OK(cp_form_parse((const uint8_t *) body, strlen(body), &f));
        ASSERT_EQ(f.n, 5u);
        ASSERT_STREQ(cp_form_get(&f, "grant_type"), "client_credentials");
        ASSERT_STREQ(cp_form_get(&f, "client_id"), "a-b");
        ASSERT_STREQ(cp_form_get(&f, "scope"), "https://x//.default");
        ASSERT_STREQ(cp_form_get(&f, "flag"), "");
        ASSERT_STREQ(cp_form_get(&f, "sp"), "a b");
        ASSERT_TRUE(cp_form_get(&f, "missing") == NULL);
        cp_form_clear(&f);
        ASSERT_OK(cp_form_parse(NULL, 0, &f));
        ASSERT_EQ(f.n, 0u);
}

TEST(form_parse_rejects) {
        cp_form f;
        static const char *const bad_format[] = {"a=1&a=2", "a=%zz", "a=%00", "=x", "a%3D=1&a%3d=2"};
        for (size_t i = 0; i < sizeof bad_format / sizeof *bad_format; i++)
                ASSERT_ERR(cp_form_parse((const uint8_t *) bad_format[i], strlen(bad_format[i]), &f), CP_EFORMAT);
        /* a %-escape cut at every length */
        static const char esc[] = "client_secret=ab%41";
        for (size_t n = strlen(esc) - 2; n < strlen(esc); n++)
                ASSERT_ERR(cp_form_parse((const uint8_t *) esc, n, &f), CP_ETRUNC);
        ASSERT_OK(cp_form_parse((const uint8_t *) esc, strlen(esc), &f));
        ASSERT_STREQ(cp_form_get(&f, "client_secret"), "abA");
        cp_form_clear(&f);
        /* every prefix of a valid body parses or fails cleanly */
        static const char full[] = "grant_type=client_credentials&client_id=x&client_secret=%41%42";
        for (size_t n = 0; n <= strlen(full); n++) {
                int r = cp_form_parse((const uint8_t *) full, n, &f);
                if (r >= 0)
                        cp_form_clear(&f);
                else
                        ASSERT_EQ(r, CP_ETRUNC);
        }
        /* limits */
        char many[CP_FORM_MAX_FIELDS * 8 + 16] = "";
        for (unsigned i = 0; i <= CP_FORM_MAX_FIELDS; i++) {
                char p[12];
                snprintf(p, sizeof p, "%sf%u=1", i ? "&" : "", i);
                strcat(many, p);
        }
        ASSERT_ERR(cp_form_parse((const uint8_t *) many, strlen(many), &f), CP_ETOOBIG);
        char *big = malloc(CP_FORM_MAX_VALUE + 8);
        ASSERT_TRUE(big != NULL);
        memcpy(big, "a=", 2);
        memset(big + 2, 'x', CP_FORM_MAX_VALUE);
        ASSERT_ERR(cp_form_parse((const uint8_t *) big, CP_FORM_MAX_VALUE + 2, &f), CP_ETOOBIG);
        ASSERT_OK(cp_form_parse((const uint8_t *) big, CP_FORM_MAX_VALUE + 1, &f)); /* 2047 bytes: fits */
        cp_form_clear(&f);
        free(big);
        char longname[80];
        memset(longname, 'n', 70);
        strcpy(longname + 70, "=1");
        ASSERT_ERR(cp_form_parse((const uint8_t *) longname, strlen(longname), &f), CP_ETOOBIG);
}

/* ---- principals and tokens ---- */

TEST(issue_and_validate) {
        env e;
        env_setup(&e);
        cp_principal p, q;
        char secret[CP_AAD_SECRET_LEN];
        ASSERT_OK(cp_aad_principal_create(e.aad, "deployer", NULL, &p, secret));
        ASSERT_STREQ(p.subscription, cp_aad_default_subscription(e.aad));
        ASSERT_TRUE(strncmp(secret, "cps_", 4) == 0 && strlen(secret) == 47);
        ASSERT_ERR(cp_aad_principal_create(e.aad, "bad name", NULL, &q, secret), CP_EINVAL);
        ASSERT_ERR(cp_aad_principal_create(e.aad, "x", "not-a-guid", &q, secret), CP_EINVAL);
        cp_principal *all = NULL;
        size_t n = 0;
        ASSERT_OK(cp_aad_principal_list(e.aad, &all, &n));
        ASSERT_EQ(n, 1u);
        ASSERT_STREQ(all[0].app_id, p.app_id);
        free(all);

        int64_t now = (int64_t) time(NULL);
        char *tok = NULL;
        ASSERT_OK(cp_aad_issue(e.aad, p.app_id, secret, "https://localhost:8443/", now, &tok, &q));
        ASSERT_STREQ(q.app_id, p.app_id);
        ASSERT_OK(cp_aad_validate(e.aad, tok, now, &q));
        ASSERT_STREQ(q.name, "deployer");
        ASSERT_FALSE(q.is_operator);
        /* expired: just past exp + 60 s slack; not yet valid before nbf - slack */
        ASSERT_ERR(cp_aad_validate(e.aad, tok, now + CP_AAD_TOKEN_LIFETIME_S + 61, &q), CP_EEXPIRED);
        ASSERT_OK(cp_aad_validate(e.aad, tok, now + CP_AAD_TOKEN_LIFETIME_S + 59, &q));
        ASSERT_ERR(cp_aad_validate(e.aad, tok, now - 200, &q), CP_EEXPIRED);
        /* a flipped signature byte */
        size_t L = strlen(tok);
        tok[L - 5] = tok[L - 5] == 'A' ? 'B' : 'A';
        ASSERT_ERR(cp_aad_validate(e.aad, tok, now, &q), CP_ESIG);
        free(tok);
        /* another audience host of ours */
        ASSERT_OK(cp_aad_issue(e.aad, p.app_id, secret, "https://[::1]:8443", now, &tok, &q));
        ASSERT_OK(cp_aad_validate(e.aad, tok, now, &q));
        free(tok);
        /* wrong secret, unknown client, secret of another length: one error */
        char wrong[CP_AAD_SECRET_LEN];
        memcpy(wrong, secret, sizeof wrong);
        wrong[10] = wrong[10] == 'a' ? 'b' : 'a';
        ASSERT_ERR(cp_aad_issue(e.aad, p.app_id, wrong, "https://localhost:8443/", now, &tok, &q), CP_EUNTRUSTED);
        ASSERT_ERR(cp_aad_issue(e.aad, "00000000-0000-4000-8000-000000000000", secret, "https://localhost:8443/", now,
                                &tok, &q),
                   CP_EUNTRUSTED);
        ASSERT_ERR(cp_aad_issue(e.aad, p.app_id, "", "https://localhost:8443/", now, &tok, &q), CP_EUNTRUSTED);
        /* a resource that is not ours */
        ASSERT_ERR(cp_aad_issue(e.aad, p.app_id, secret, "https://management.azure.com/", now, &tok, &q), CP_EBINDING);
        ASSERT_ERR(cp_aad_issue(e.aad, p.app_id, secret, "https://localhost:9999/", now, &tok, &q), CP_EBINDING);

        /* a second identity provider (another state dir: another key, tenant) */
        env e2;
        env_setup(&e2);
        cp_principal p2;
        char s2[CP_AAD_SECRET_LEN];
        ASSERT_OK(cp_aad_principal_create(e2.aad, "other", NULL, &p2, s2));
        ASSERT_TRUE(strcmp(cp_aad_tenant(e.aad), cp_aad_tenant(e2.aad)) != 0);
        ASSERT_OK(cp_aad_issue(e2.aad, p2.app_id, s2, "https://localhost:8443/", now, &tok, &q));
        ASSERT_ERR(cp_aad_validate(e.aad, tok, now, &q), CP_ENOTFOUND); /* its kid is unknown here */
        free(tok);
        /* the same key, another issuer / audience configuration */
        const char *h2[] = {"example.test"};
        ASSERT_OK(cp_aad_set_endpoint(e2.aad, "https://localhost:8443", h2, 1, 8443));
        ASSERT_OK(cp_aad_issue(e2.aad, p2.app_id, s2, "https://example.test:8443/", now, &tok, &q));
        const char *h1[] = {"localhost"};
        ASSERT_OK(cp_aad_set_endpoint(e2.aad, "https://localhost:8443", h1, 1, 8443));
        ASSERT_ERR(cp_aad_validate(e2.aad, tok, now, &q), CP_EBINDING);
        ASSERT_OK(cp_aad_set_endpoint(e2.aad, "https://elsewhere:8443", h2, 1, 8443));
        ASSERT_ERR(cp_aad_validate(e2.aad, tok, now, &q), CP_EUNTRUSTED); /* issuer */
        free(tok);
        env_teardown(&e2);
        /* the key persists: a restarted daemon accepts earlier tokens */
        ASSERT_OK(cp_aad_issue(e.aad, p.app_id, secret, "https://localhost:8443/", now, &tok, &q));
        cp_aad *again = NULL;
        ASSERT_OK(cp_aad_new(e.store, e.dir, &again));
        const char *hosts[] = {"localhost"};
        ASSERT_OK(cp_aad_set_endpoint(again, "https://localhost:8443", hosts, 1, 8443));
        ASSERT_STREQ(cp_aad_tenant(again), cp_aad_tenant(e.aad));
        ASSERT_OK(cp_aad_validate(again, tok, now, &q));
        cp_aad_free(again);
        free(tok);
        env_teardown(&e);
}

/* ---- the API with service principals ---- */

TEST(api_endpoints) {
        env e;
        env_setup(&e);
        cp_principal p, other;
        char secret[CP_AAD_SECRET_LEN], s2[CP_AAD_SECRET_LEN];
        ASSERT_OK(cp_aad_principal_create(e.aad, "deployer", NULL, &p, secret));
        ASSERT_OK(cp_aad_principal_create(e.aad, "other", "11111111-2222-4333-8444-555555555555", &other, s2));

        /* metadata: unauthenticated, every alias az uses */
        ASSERT_EQ(call(&e, NULL, "GET", "/adfs/.well-known/openid-configuration", NULL, NULL), 200);
        ASSERT_STREQ(json_string_value(json_object_get(R.body, "issuer")), "https://localhost:8443/adfs");
        ASSERT_STREQ(json_string_value(json_object_get(R.body, "token_endpoint")), "https://localhost:8443/adfs/oauth2/token");
        ASSERT_EQ(call(&e, NULL, "GET", "/adfs/adfs/.well-known/openid-configuration", NULL, NULL), 200);
        char path[256];
        snprintf(path, sizeof path, "/adfs/%s/.well-known/openid-configuration", cp_aad_tenant(e.aad));
        ASSERT_EQ(call(&e, NULL, "GET", path, NULL, NULL), 200);
        ASSERT_EQ(call(&e, NULL, "GET", "/adfs/other/.well-known/openid-configuration", NULL, NULL), 404);
        ASSERT_EQ(call(&e, NULL, "POST", "/adfs/.well-known/openid-configuration", NULL, NULL), 405);
        ASSERT_STREQ(err_code(), "MethodNotAllowed"); /* the skeleton's 405, ARM envelope, no credentials needed */
        /* an unknown /adfs path is like any unknown path: 401 to a stranger */
        ASSERT_EQ(call(&e, NULL, "GET", "/adfs/nothing", NULL, NULL), 401);
        ASSERT_STREQ(err_code(), "AuthenticationFailed");
        ASSERT_EQ(call(&e, NULL, "GET", "/adfs/discovery/keys", NULL, NULL), 200);
        ASSERT_STREQ(json_string_value(json_object_get(json_array_get(json_object_get(R.body, "keys"), 0), "kty")), "RSA");
        ASSERT_TRUE(json_object_get(json_array_get(json_object_get(R.body, "keys"), 0), "d") == NULL);

        /* token endpoint */
        char body[512];
        snprintf(body, sizeof body,
                 "grant_type=client_credentials&client_id=%s&client_secret=%s&scope=https%%3A%%2F%%2Flocalhost%%3A8443%%2F%%2F.default",
                 p.app_id, secret);
        ASSERT_EQ(call(&e, NULL, "POST", "/adfs/oauth2/token", NULL, body), 200);
        ASSERT_STREQ(json_string_value(json_object_get(R.body, "token_type")), "Bearer");
        ASSERT_EQ(json_integer_value(json_object_get(R.body, "expires_in")), (json_int_t) CP_AAD_TOKEN_LIFETIME_S);
        ASSERT_STREQ(cp_api_reply_header(&R, "Cache-Control"), "no-store");
        char auth[4096];
        snprintf(auth, sizeof auth, "Bearer %s", json_string_value(json_object_get(R.body, "access_token")));
        snprintf(body, sizeof body, "grant_type=client_credentials&client_id=%s&client_secret=x%s&resource=https://localhost:8443/",
                 p.app_id, secret);
        ASSERT_EQ(call(&e, NULL, "POST", "/adfs/oauth2/token", NULL, body), 401);
        ASSERT_STREQ(json_string_value(json_object_get(R.body, "error")), "invalid_client");
        ASSERT_EQ(call(&e, NULL, "POST", "/adfs/oauth2/token", NULL, "grant_type=password&username=a&password=b"), 400);
        ASSERT_STREQ(json_string_value(json_object_get(R.body, "error")), "unsupported_grant_type");
        snprintf(body, sizeof body, "grant_type=client_credentials&client_id=%s&client_secret=%s&scope=https://localhost:8443/", p.app_id, secret);
        ASSERT_EQ(call(&e, NULL, "POST", "/adfs/oauth2/token", NULL, body), 400);
        ASSERT_STREQ(json_string_value(json_object_get(R.body, "error")), "invalid_scope");
        snprintf(body, sizeof body, "grant_type=client_credentials&client_id=%s&client_secret=%s&resource=https://evil.test/", p.app_id, secret);
        ASSERT_EQ(call(&e, NULL, "POST", "/adfs/oauth2/token", NULL, body), 400);
        ASSERT_EQ(call(&e, NULL, "POST", "/adfs/oauth2/token", NULL, "grant_type=client_credentials&a=%"), 400);
        ASSERT_EQ(call(&e, NULL, "GET", "/adfs/oauth2/token", NULL, NULL), 405);

        /* tenant-level ARM routes */
        ASSERT_EQ(call(&e, auth, "GET", "/subscriptions", "2019-11-01", NULL), 200);
        json_t *v = json_object_get(R.body, "value");
        ASSERT_EQ(json_array_size(v), 1u);
        ASSERT_STREQ(json_string_value(json_object_get(json_array_get(v, 0), "subscriptionId")), p.subscription);
        ASSERT_STREQ(json_string_value(json_object_get(json_array_get(v, 0), "tenantId")), cp_aad_tenant(e.aad));
        ASSERT_EQ(call(&e, e.op_auth, "GET", "/subscriptions", "2019-11-01", NULL), 200);
        ASSERT_EQ(json_array_size(json_object_get(R.body, "value")), 2u); /* default + other's */
        ASSERT_EQ(call(&e, auth, "GET", "/subscriptions", NULL, NULL), 400);
        ASSERT_STREQ(err_code(), "MissingApiVersionParameter");
        ASSERT_EQ(call(&e, auth, "GET", "/tenants", "2019-11-01", NULL), 200);
        ASSERT_STREQ(json_string_value(json_object_get(json_array_get(json_object_get(R.body, "value"), 0), "tenantId")),
                     cp_aad_tenant(e.aad));
        snprintf(path, sizeof path, "/subscriptions/%s", p.subscription);
        ASSERT_EQ(call(&e, auth, "GET", path, "2019-11-01", NULL), 200);
        ASSERT_STREQ(json_string_value(json_object_get(R.body, "state")), "Enabled");

        /* writes carry the principal; other subscriptions are out of reach */
        snprintf(path, sizeof path, "/subscriptions/%s/resourcegroups/rg1", p.subscription);
        ASSERT_EQ(call(&e, auth, "PUT", path, "2021-04-01", "{\"location\":\"eastus\"}"), 201);
        snprintf(path, sizeof path, "/subscriptions/%s/resourcegroups/rg1", other.subscription);
        ASSERT_EQ(call(&e, auth, "PUT", path, "2021-04-01", "{\"location\":\"eastus\"}"), 403);
        ASSERT_STREQ(err_code(), "AuthorizationFailed");
        /* authorization runs for routed requests: another subscription's unknown path is 404 */
        char unknown[160];
        snprintf(unknown, sizeof unknown, "/subscriptions/%s/nothing", other.subscription);
        ASSERT_EQ(call(&e, auth, "GET", unknown, "2021-04-01", NULL), 404);
        ASSERT_EQ(call(&e, auth, "GET", "/subscriptions/11111111-2222-4333-8444-555555555555", "2019-11-01", NULL), 403);
        ASSERT_EQ(call(&e, e.op_auth, "PUT", path, "2021-04-01", "{\"location\":\"eastus\"}"), 201);

        /* 401s with ARM codes */
        int64_t now = (int64_t) time(NULL);
        char *tok = NULL;
        cp_principal q;
        ASSERT_OK(cp_aad_issue(e.aad, p.app_id, secret, "https://localhost:8443/", now - 2 * CP_AAD_TOKEN_LIFETIME_S,
                               &tok, &q));
        snprintf(auth, sizeof auth, "Bearer %s", tok);
        free(tok);
        ASSERT_EQ(call(&e, auth, "GET", "/subscriptions", "2019-11-01", NULL), 401);
        ASSERT_STREQ(err_code(), "ExpiredAuthenticationToken");
        ASSERT_TRUE(strstr(cp_api_reply_header(&R, "WWW-Authenticate"), "Bearer") != NULL);
        ASSERT_EQ(call(&e, "Bearer a.b.c", "GET", "/subscriptions", "2019-11-01", NULL), 401);
        ASSERT_STREQ(err_code(), "InvalidAuthenticationToken");
        ASSERT_EQ(call(&e, NULL, "GET", "/subscriptions", "2019-11-01", NULL), 401);
        ASSERT_STREQ(err_code(), "AuthenticationFailed");
        ASSERT_EQ(call(&e, NULL, "GET", "/tenants", "2019-11-01", NULL), 401);
        char *huge = malloc(CP_MAX_API_JWT + 64);
        ASSERT_TRUE(huge != NULL);
        strcpy(huge, "Bearer ");
        memset(huge + 7, 'a', CP_MAX_API_JWT + 1);
        huge[7 + CP_MAX_API_JWT + 1] = 0;
        huge[20] = '.';
        ASSERT_EQ(call(&e, huge, "GET", "/subscriptions", "2019-11-01", NULL), 401);
        free(huge);
        cp_api_reply_clear(&R);
        env_teardown(&e);
}
