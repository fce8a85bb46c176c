/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A node's vTPM across restarts of its swtpm (the hardening issue "nodes do
 * not survive control-plane restarts"): swtpm on loopback with a state
 * directory kept between runs, stopped as the local backend stops it
 * (SIGTERM, cp-backend-local.c) and started again on the same state, the AK
 * created and used for a quote as confpool-agent does after every start.
 * libtpms counts a stop without TPM2_Shutdown after a DA-protected object
 * was used as one failed authorization (maxTries 3): an AK without NODA
 * put the TPM into DA lockout at the third restart, every quote then
 * failing with TPM_RC_LOCKOUT.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <tss2/tss2_esys.h>
#include <tss2/tss2_tctildr.h>
#include <unistd.h>

#include "node/vtpm.h"
#include "swtpm-testutil.h"
#include "tests.h"

#define RESTARTS 6
#define LEGACY_AK 0x81000003u

typedef struct tpm_env {
        char dir[64];
        uint16_t port;
        pid_t pid;
        char tcti[96];
} tpm_env;

/* swtpm on a free port pair with e->dir as its state, as the local backend
 * starts it (not-need-init,startup-clear). */
static void swtpm_start(tpm_env *e) {
        swtpm_test_start(e->dir, &e->port, &e->pid, e->tcti, sizeof(e->tcti));
}

/* as cp-backend-local.c's node_term/node_reap: SIGTERM, reaped */
static void swtpm_kill(tpm_env *e) {
        ASSERT_EQ(kill(e->pid, SIGTERM), 0);
        ASSERT_EQ(waitpid(e->pid, NULL, 0), e->pid);
        e->pid = 0;
}

static void env_new(tpm_env *e) {
        memset(e, 0, sizeof(*e));
        snprintf(e->dir, sizeof(e->dir), "/tmp/cp-vtpm-restart-XXXXXX");
        ASSERT_TRUE(mkdtemp(e->dir));
}

static void env_free(tpm_env *e) {
        char cmd[96];
        snprintf(cmd, sizeof(cmd), "rm -rf %s", e->dir);
        ASSERT_EQ(system(cmd), 0);
}

/* What confpool-agent does with its vTPM after every start: the AK, a quote. */
static int agent_quote(cp_vtpm *t) {
        uint8_t n[256], nonce[32] = { 1, 2, 3 }, *att = NULL, *sig = NULL;
        uint32_t e;
        size_t al, sl;
        int r = cp_vtpm_create_ak(t, n, &e);
        if (r >= 0)
                r = cp_vtpm_quote(t, nonce, sizeof(nonce), &att, &al, &sig, &sl);
        free(att);
        free(sig);
        return r;
}

/* The node stack stopped the way the local backend stopped it before the
 * fix (the agent's connection closed, swtpm SIGTERMed) and started again,
 * RESTARTS times: every start's quote succeeds. */
TEST(quotes_survive_restarts_without_shutdown) {
        tpm_env e;
        env_new(&e);
        for (int i = 0; i <= RESTARTS; i++) {
                swtpm_start(&e);
                cp_vtpm *t = NULL;
                ASSERT_OK(cp_vtpm_open(e.tcti, &t));
                int r = agent_quote(t);
                if (r < 0)
                        fprintf(stderr, "    start %d: %s\n", i, cp_error_message());
                ASSERT_OK(r);
                cp_vtpm_close(t);
                swtpm_kill(&e);
        }
        env_free(&e);
}

/* The AK as created before the fix (and as a paravisor may have made its
 * persistent one): a restricted RSASSA-SHA256 signing key without NODA,
 * here a primary of the owner hierarchy made persistent at LEGACY_AK. */
static void legacy_ak_persist(const char *tcti) {
        TSS2_TCTI_CONTEXT *tc = NULL;
        ESYS_CONTEXT *es = NULL;
        ASSERT_EQ(Tss2_TctiLdr_Initialize(tcti, &tc), TSS2_RC_SUCCESS);
        ASSERT_EQ(Esys_Initialize(&es, tc, NULL), TSS2_RC_SUCCESS);
        TPM2B_SENSITIVE_CREATE sens = { 0 };
        TPM2B_DATA outside = { 0 };
        TPML_PCR_SELECTION none = { 0 };
        TPM2B_PUBLIC tmpl = {
                .publicArea = {
                        .type = TPM2_ALG_RSA,
                        .nameAlg = TPM2_ALG_SHA256,
                        .objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
                                            TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH |
                                            TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_SIGN_ENCRYPT,
                        .parameters.rsaDetail = {
                                .symmetric = { .algorithm = TPM2_ALG_NULL },
                                .scheme = { .scheme = TPM2_ALG_RSASSA, .details.rsassa.hashAlg = TPM2_ALG_SHA256 },
                                .keyBits = 2048,
                        },
                },
        };
        ESYS_TR key = ESYS_TR_NONE, out = ESYS_TR_NONE;
        TPM2B_PUBLIC *pub = NULL;
        TPM2B_CREATION_DATA *cd = NULL;
        TPM2B_DIGEST *ch = NULL;
        TPMT_TK_CREATION *tk = NULL;
        ASSERT_EQ(Esys_CreatePrimary(es, ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &sens, &tmpl,
                                     &outside, &none, &key, &pub, &cd, &ch, &tk),
                  TSS2_RC_SUCCESS);
        ASSERT_FALSE(pub->publicArea.objectAttributes & TPMA_OBJECT_NODA);
        Esys_Free(pub);
        Esys_Free(cd);
        Esys_Free(ch);
        Esys_Free(tk);
        ASSERT_EQ(Esys_EvictControl(es, ESYS_TR_RH_OWNER, key, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, LEGACY_AK,
                                    &out),
                  TSS2_RC_SUCCESS);
        ASSERT_EQ(Esys_FlushContext(es, key), TSS2_RC_SUCCESS);
        Esys_Finalize(&es);
        Tss2_TctiLdr_Finalize(&tc);
}

/* A quote by the persistent legacy AK (the agent's azure-hcl path). */
static int legacy_quote(cp_vtpm *t) {
        uint8_t n[512], nonce[32] = { 4, 5, 6 }, *att = NULL, *sig = NULL;
        size_t nl, al, sl;
        uint32_t e;
        int r = cp_vtpm_load_persistent_ak(t, LEGACY_AK, n, &nl, &e);
        if (r >= 0)
                r = cp_vtpm_quote(t, nonce, sizeof(nonce), &att, &al, &sig, &sl);
        free(att);
        free(sig);
        return r;
}

static uint32_t lockout_counter(cp_vtpm *t) {
        uint32_t n = 99;
        ASSERT_OK(cp_vtpm_lockout_counter(t, &n));
        return n;
}

/* The agent's exit (cp_vtpm_shutdown on its own connection) and the local
 * backend's stop path (cp_vtpm_shutdown_tcti after the agent is gone),
 * each before the SIGTERM: even a key without NODA, used at every start,
 * never counts a failed try. */
TEST(orderly_shutdown_counts_no_failed_try) {
        tpm_env e;
        env_new(&e);
        swtpm_start(&e);
        legacy_ak_persist(e.tcti);
        for (int i = 0; i <= RESTARTS; i++) {
                cp_vtpm *t = NULL;
                ASSERT_OK(cp_vtpm_open(e.tcti, &t));
                ASSERT_EQ(lockout_counter(t), 0);
                ASSERT_OK(legacy_quote(t));
                ASSERT_OK(agent_quote(t));
                if (i % 2 == 0) /* the agent's exit */
                        ASSERT_OK(cp_vtpm_shutdown(t));
                cp_vtpm_close(t);
                if (i % 2 == 1) /* the backend's stop path (an agent killed) */
                        ASSERT_OK(cp_vtpm_shutdown_tcti(e.tcti, 1000));
                swtpm_kill(&e);
                swtpm_start(&e);
        }
        swtpm_kill(&e);
        /* a swtpm gone already: an error, nothing waited for */
        ASSERT_FAILS(cp_vtpm_shutdown_tcti(e.tcti, 1000));
        cp_error_clear();
        env_free(&e);
}

/* State from before the fix: the persistent legacy AK used and swtpm
 * killed until the TPM is in DA lockout; cp_vtpm_da_recover (confpool-agent
 * at every native start) resets it with the empty lockoutAuth.  The NODA AK
 * quotes in lockout too. */
TEST(da_lockout_of_old_state_is_reset) {
        tpm_env e;
        env_new(&e);
        swtpm_start(&e);
        legacy_ak_persist(e.tcti);
        int locked_at = -1;
        for (int i = 0; i <= RESTARTS && locked_at < 0; i++) {
                cp_vtpm *t = NULL;
                ASSERT_OK(cp_vtpm_open(e.tcti, &t));
                if (legacy_quote(t) < 0) {
                        ASSERT_TRUE(strstr(cp_error_message(), "lockout"));
                        cp_error_clear();
                        locked_at = i;
                } else
                        cp_vtpm_close(t);
                if (locked_at < 0) {
                        swtpm_kill(&e);
                        swtpm_start(&e);
                        continue;
                }
                ASSERT_EQ(lockout_counter(t), 3);
                ASSERT_OK(agent_quote(t));
                uint32_t failed = 0;
                ASSERT_OK(cp_vtpm_da_recover(t, &failed));
                ASSERT_EQ(failed, 3);
                ASSERT_EQ(lockout_counter(t), 0);
                ASSERT_OK(legacy_quote(t));
                ASSERT_OK(cp_vtpm_da_recover(t, &failed));
                ASSERT_EQ(failed, 0);
                cp_vtpm_close(t);
        }
        ASSERT_EQ(locked_at, 3);
        swtpm_kill(&e);
        env_free(&e);
}
