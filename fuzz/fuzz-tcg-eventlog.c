/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz TCG crypto-agile event-log parsing, replay of every bank, the
 * comparison with (all-zero) quoted PCRs, and the claims built from the
 * events.  Input: the raw event log. */
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "confpool/tcg_eventlog.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile int sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static const uint8_t zero[64];
        static const uint16_t algs[] = { CP_TPM_ALG_SHA1, CP_TPM_ALG_SHA256, CP_TPM_ALG_SHA384, CP_TPM_ALG_SHA512 };
        cp_tcg_eventlog *l = NULL;
        cp_tcg_pcrs p;
        json_t *c = NULL;
        uint32_t checked = 0;

        if (cp_tcg_eventlog_parse(data, size, &l) < 0)
                return 0;
        for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
                cp_tpm_pcr_bank bank = { .hash_alg = algs[i] };
                for (unsigned k = 0; k < CP_TPM_PCR_COUNT; k++)
                        bank.values[k] = zero;
                sink = cp_tcg_eventlog_replay(l, algs[i], &p);
                sink = cp_tcg_eventlog_check_pcrs(l, &bank, 0xffffffu, &checked);
        }
        for (size_t i = 0; i < cp_tcg_eventlog_count(l); i++)
                sink = cp_tcg_event_type_name(cp_tcg_eventlog_get(l, i)->type) != NULL;
        if (cp_tcg_eventlog_claims(l, 0xffffffu, &c) == 0)
                json_decref(c);
        cp_tcg_eventlog_free(l);
        return 0;
}
