/* SPDX-License-Identifier: Apache-2.0 */
/* The in-process node stack (nodes-fixture.h). */
#include "nodes-fixture.h"

#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "basic/cleanup.h"
#include "confpool/error.h"
#include "test-db.h"

/* The hosts' ARK first: from a backend without disk keys when the real one
 * needs the broker, which needs the attestation service; then that service,
 * trusting only that ARK. */
static int fixture_start_attestd(const nodes_fixture_options *o, const cp_local_options *lo, nodes_fixture *f) {
        int r;
        cp_backend *probe = NULL;
        r = cp_backend_local_new(lo, o->with_kbs ? &probe : &f->backend);
        if (r < 0)
                return r;
        uint8_t *ark = NULL;
        size_t ark_len;
        char *tdx_root = NULL, pcs[64] = "";
        size_t tdx_root_len = 0;
        r = cp_backend_local_ark(o->with_kbs ? probe : f->backend, CP_SNP_GEN_MILAN, &ark, &ark_len);
        /* the software TDX platform: its emulated root and PCS (issue 16) */
        if (r >= 0 && o->with_tdx)
                r = cp_backend_local_tdx_platform(o->with_kbs ? probe : f->backend, &tdx_root, &tdx_root_len, pcs,
                                                  sizeof pcs);
        cp_backend_free(probe);
        if (r < 0) {
                free(ark);
                free(tdx_root);
                return r;
        }
        cp_attestd_config ac = {.quiet = true, .only_extra_arks = true, .extra_arks = {ark}, .extra_ark_lens = {ark_len},
                                .tdx_trust_root = (const uint8_t *) tdx_root, .tdx_trust_root_len = tdx_root_len,
                                .tdx_pcs_url = pcs[0] ? pcs : NULL, .tdx_collateral_max_age_s = o->tdx_collateral_max_age_s};
        r = cp_attestd_new(&ac, &f->attestd);
        free(ark);
        free(tdx_root);
        if (r < 0)
                return r;
        return cp_attestd_start(f->attestd);
}

/* The key broker, trusting the attestation service that issues node tokens;
 * the platform's disk keys on it; the real backend, with those keys. */
static int fixture_start_kbs(cp_local_options *lo, nodes_fixture *f) {
        int r;
        const char *issuer = cp_attestd_issuer(f->attestd);
        char *jwks = NULL;
        r = cp_attestd_jwks_json(f->attestd, &jwks);
        if (r < 0)
                return r;
        uint8_t mk[CP_KBSD_MASTER_KEY_LEN];
        char db[256];
        memset(mk, 0x5a, sizeof mk);
        snprintf(db, sizeof db, "%s/kbsd.db", f->dir);
        cp_kbsd_config kc = {
                .db_path = cp_test_db(db), .master_key = mk, .quiet = true, .n_authorities = 1, .n_tokens = 2,
                .authorities = {{.issuer = issuer, .jwks_json = jwks}},
                .tokens = {{.name = "platform", .token = NODES_FIXTURE_ADMIN_TOKEN, .scope = CP_KBSD_SCOPE_ADMIN},
                           {.name = "nodes", .token = NODES_FIXTURE_RELEASE_TOKEN,
                            .scope = CP_KBSD_SCOPE_RELEASE}}};
        r = cp_kbsd_new(&kc, &f->kbsd);
        free(jwks);
        if (r < 0)
                return r;
        r = cp_kbsd_start(f->kbsd);
        if (r < 0)
                return r;
        snprintf(f->kbs_url, sizeof f->kbs_url, "http://127.0.0.1:%u", cp_kbsd_port(f->kbsd));
        cp_diskkeys_options dko = {.kbs_url = f->kbs_url, .admin_token = NODES_FIXTURE_ADMIN_TOKEN,
                                   .release_token = NODES_FIXTURE_RELEASE_TOKEN, .authority = issuer};
        r = cp_diskkeys_new(&dko, &f->diskkeys);
        if (r < 0)
                return r;
        lo->diskkeys = f->diskkeys;
        return cp_backend_local_new(lo, &f->backend);
}

/* confpoold's store, rules, node endpoints and API over loopback HTTP, and
 * the reconciler. */
static int fixture_start_controlplane(const nodes_fixture_options *o, nodes_fixture *f) {
        int r;
        const char *issuer = cp_attestd_issuer(f->attestd);
        char p[256];
        snprintf(p, sizeof p, "%s/confpoold.db", f->dir);
        r = cp_cpstore_open(cp_test_db(p), &f->store);
        if (r < 0)
                return r;
        r = cp_rules_new(&f->rules);
        if (r < 0)
                return r;
        if (o->vcpu_quota > 0) {
                json_t *quota = json_pack("{s:{s:I}}", "vcpuQuota", "default", (json_int_t) o->vcpu_quota);
                if (!quota)
                        return CP_ERROR(CP_ENOMEM, "out of memory");
                r = cp_rules_load_json(f->rules, quota);
                json_decref(quota);
                if (r < 0)
                        return r;
        }
        cp_nodes_options no = {.store = f->store, .backend = f->backend, .attestd_url = issuer,
                               .min_tcb = {.bl = 1, .snp = 10, .ucode = 100}};
        r = cp_nodes_new(&no, &f->nodes);
        if (r < 0)
                return r;
        cp_api_options ao = {.store = f->store, .rules = f->rules, .state_dir = f->dir, .base_url = "http://127.0.0.1",
                             .nodes = f->nodes};
        r = cp_api_new(&ao, &f->api);
        if (r < 0)
                return r;
        cp_httpd_options ho = {.bind_addr = "127.0.0.1", .threads = 4, .max_body = 1 << 20};
        r = cp_httpd_start(&ho, cp_api_handle, f->api, &f->httpd);
        if (r < 0)
                return r;
        char base[64];
        snprintf(base, sizeof base, "http://127.0.0.1:%u", cp_httpd_port(f->httpd));
        r = cp_backend_local_set_controlplane_url(f->backend, base);
        if (r < 0)
                return r;
        r = cp_reconciler_new(f->store, f->rules, f->backend, &f->rec);
        if (r < 0)
                return r;
        if (o->heartbeat_deadline_ms)
                cp_reconciler_set_heartbeat_deadline(f->rec, o->heartbeat_deadline_ms);
        cp_reconciler_set_nodes(f->rec, f->nodes); /* batched heartbeat times, as confpoold */
        if (f->diskkeys) /* old masters retired after a node-image roll, as confpoold does */
                cp_reconciler_set_diskkeys(f->rec, f->diskkeys);
        return 0;
}

/* The operator token the API wrote, as f->auth. */
static int fixture_read_operator_token(nodes_fixture *f) {
        char p[256];
        snprintf(p, sizeof p, "%s/operator.token", f->dir);
        FILE *tf = fopen(p, "r");
        if (!tf)
                return CP_ERROR(CP_EIO, "no operator token in %s", f->dir);
        char t[100] = "";
        int n = fscanf(tf, "%99s", t);
        fclose(tf);
        if (n != 1)
                return CP_ERROR(CP_EFORMAT, "empty operator token in %s", f->dir);
        snprintf(f->auth, sizeof f->auth, "Bearer %s", t);
        return 0;
}

int nodes_fixture_start(const nodes_fixture_options *o, nodes_fixture *f) {
        int r;
        /* as confpoold (confpoold-main.c): a write to a peer that went away (a
         * node's swtpm stopped while a boot talks to it over its TCTI socket)
         * is an error of that write, not the end of the process */
        signal(SIGPIPE, SIG_IGN);
        memset(f, 0, sizeof *f);
        snprintf(f->dir, sizeof f->dir, "%s", o->dir_template);
        if (!mkdtemp(f->dir))
                return CP_ERROR(CP_EIO, "mkdtemp %s failed", o->dir_template);
        f->up = true;
        char p[256], hosts[256];
        snprintf(p, sizeof p, "%s/local", f->dir);
        snprintf(hosts, sizeof hosts, "%s/hosts", f->dir);
        cp_local_options lo = {.state_dir = p, .hosts_dir = hosts, .agent_path = CP_AGENT_PATH,
                               .hosts_per_generation = o->hosts_per_generation, .heartbeat_ms = o->heartbeat_ms,
                               .prepare = o->prepare, .prepare_userdata = o->prepare_userdata,
                               .boot_workers = o->boot_workers, .node_nice = o->node_nice,
                               .tdx_azure_hcl = o->tdx_azure_hcl, .vtpm_pool = o->vtpm_pool};
        r = fixture_start_attestd(o, &lo, f);
        if (r < 0)
                return r;
        if (o->with_kbs) {
                r = fixture_start_kbs(&lo, f);
                if (r < 0)
                        return r;
        }
        /* a backend made after the probe serves the TDX PCS again (its port is kept) */
        if (r >= 0 && o->with_tdx)
                r = cp_backend_local_tdx_platform(f->backend, NULL, NULL, NULL, 0);
        if (r >= 0)
                r = cp_backend_local_set_attestd_url(f->backend, cp_attestd_issuer(f->attestd));
        if (r < 0)
                return r;
        r = fixture_start_controlplane(o, f);
        if (r < 0)
                return r;
        return fixture_read_operator_token(f);
}

void nodes_fixture_stop(nodes_fixture *f) {
        if (!f->up)
                return;
        cp_httpd_stop(f->httpd);
        cp_reconciler_free(f->rec);
        cp_api_free(f->api);
        cp_nodes_free(f->nodes);
        cp_backend_free(f->backend); /* stops every agent and swtpm it started */
        cp_diskkeys_free(f->diskkeys);
        cp_kbsd_free(f->kbsd);
        cp_attestd_free(f->attestd);
        cp_store_close(f->store);
        cp_rules_free(f->rules);
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
        if (system(cmd) != 0)
                fprintf(stderr, "nodes-fixture: cleanup of %s failed\n", f->dir);
        memset(f, 0, sizeof *f);
}

unsigned nodes_fixture_call(nodes_fixture *f, const char *method, const char *url, const char *body,
                            cp_api_reply *resp) {
        cp_api_call_headers h = { .authorization = f->auth, .host = "cp.test" };
        return cp_api_call(f->api, resp, method, url, NULL, &h, body);
}

int nodes_fixture_reconcile(nodes_fixture *f, double limit_s, long pause_ms) {
        struct timespec t0, t;
        size_t active = 1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (;;) {
                int r = cp_reconciler_run_once(f->rec, &active);
                if (r < 0)
                        return r;
                if (!active)
                        return 0;
                clock_gettime(CLOCK_MONOTONIC, &t);
                if ((double) (t.tv_sec - t0.tv_sec) + (double) (t.tv_nsec - t0.tv_nsec) / 1e9 > limit_s)
                        return 1;
                struct timespec ts = {pause_ms / 1000, (pause_ms % 1000) * 1000000L};
                nanosleep(&ts, NULL);
        }
}
