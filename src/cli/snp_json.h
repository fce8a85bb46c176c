/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CP_SHARED_SNP_JSON_H
#define CP_SHARED_SNP_JSON_H

/* Readable and JSON renderings of SEV-SNP reports and verification results
 * (used by the CLI and, as claims, by the attestation service). */

#include <jansson.h>
#include <stdio.h>

#include "confpool/snp_report.h"
#include "confpool/snp_verify.h"

/* gen may be CP_SNP_GEN_UNKNOWN: TCB values are then shown raw only. */
json_t *cp_snp_report_to_json(const cp_snp_report *r, cp_snp_generation gen);
void cp_snp_report_print(FILE *f, const cp_snp_report *r, cp_snp_generation gen);
json_t *cp_snp_tcb_to_json(uint64_t raw, cp_snp_generation gen);
json_t *cp_snp_hex_json(const uint8_t *p, size_t n);

#endif
