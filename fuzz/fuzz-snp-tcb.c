/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target: TCB text (cp_snp_tcb_parse) for every generation.  Accepted
 * text must format back to text that parses to the same TCB, and a refusal
 * must be CP_EFORMAT.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "confpool/snp_report.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size > 4096)
                return 0;
        char *s = malloc(size + 1);
        if (!s)
                return 0;
        memcpy(s, data, size);
        s[size] = '\0';
        for (int g = CP_SNP_GEN_UNKNOWN; g < _CP_SNP_GEN_MAX; g++) {
                cp_snp_tcb t, back;
                char text[CP_SNP_TCB_TEXT_MAX];
                int r = cp_snp_tcb_parse(s, (cp_snp_generation) g, &t);
                if (r < 0) {
                        if (r != CP_EFORMAT)
                                abort();
                        continue;
                }
                if (t.has_fmc != (g == CP_SNP_GEN_TURIN) || (!t.has_fmc && t.fmc != 0))
                        abort();
                if (cp_snp_tcb_format(&t, text, sizeof(text)) < 0 ||
                    cp_snp_tcb_parse(text, (cp_snp_generation) g, &back) < 0 || memcmp(&t, &back, sizeof(t)) != 0)
                        abort();
        }
        free(s);
        return 0;
}
