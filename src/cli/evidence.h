/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CP_SHARED_EVIDENCE_H
#define CP_SHARED_EVIDENCE_H

/* Loading SEV-SNP evidence files in the three shapes users have: a bare
 * report (1184 bytes), an extended report (report || SNP_GET_EXT_REPORT
 * certificate table, as go-sev-guest and the configfs-tsm outblob+auxblob
 * produce) and an Azure HCL report (vTPM NV index 0x01400001). */

#include <jansson.h>
#include <stdio.h>

#include "confpool/azure.h"
#include "confpool/snp_report.h"
#include "confpool/snp_verify.h"

typedef enum cp_evidence_format {
        CP_EVIDENCE_BARE = 0,
        CP_EVIDENCE_EXTENDED,
        CP_EVIDENCE_HCL,
        _CP_EVIDENCE_FORMAT_MAX,
} cp_evidence_format;

typedef struct cp_evidence_file {
        uint8_t *buf; /* owned file contents */
        size_t len;
        cp_evidence_format format;
        cp_snp_evidence snp; /* report (+ certtable) pointing into buf */
        cp_hcl_report hcl;   /* format == CP_EVIDENCE_HCL */
} cp_evidence_file;

const char *cp_evidence_format_name(cp_evidence_format f);
/* Detect the format of buf (borrowed by ret). */
CP_WUR int cp_evidence_parse(const uint8_t *buf, size_t len, cp_evidence_file *ret);
/* Read and detect; ret owns the buffer (cp_evidence_file_clear). */
CP_WUR int cp_evidence_file_load(const char *path, cp_evidence_file *ret);
void cp_evidence_file_clear(cp_evidence_file *ev);
/* true if the certificate table carries the leaf for this signing key. */
bool cp_evidence_has_leaf(const cp_evidence_file *ev, uint8_t signing_key);
/* For HCL evidence: REPORT_DATA must bind the runtime data (CP_EBINDING).
 * Other formats: 0. */
CP_WUR int cp_evidence_check_binding(const cp_evidence_file *ev, const cp_snp_report *rep);
json_t *cp_evidence_certs_json(const cp_evidence_file *ev);
json_t *cp_evidence_extra_json(const cp_evidence_file *ev);
void cp_evidence_print_extra(FILE *f, const cp_evidence_file *ev);

#endif
