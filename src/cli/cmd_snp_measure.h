/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CP_CLI_CMD_SNP_MEASURE_H
#define CP_CLI_CMD_SNP_MEASURE_H

/* confpool snp measure ... (sev-snp-measure compatible) */
int cp_cmd_snp_measure(int argc, char **argv);
/* confpool snp id-block [create] ... | confpool snp id-block verify ... */
int cp_cmd_snp_id_block(int argc, char **argv);

#endif
