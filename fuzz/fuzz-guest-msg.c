/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Guest-message parser fuzz target: the 0x60-byte header parser and
 * authenticated decryption (cp_snp_msg_parse / cp_snp_msg_open), the
 * MSG_REPORT_REQ / MSG_REPORT_RSP payload parsers, with a fixed key.  Round
 * trips: whatever parses as a request is re-encoded byte-identically, and
 * any input sealed as a payload opens to itself.
 */
#include <stdlib.h>
#include <string.h>

#include "emu/amdsp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t key[32] = { 0x42 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static uint8_t plain[4096], rep[CP_SNP_REPORT_SIZE], enc[CP_SNP_MSG_REPORT_REQ_SIZE];
        cp_snp_msg_hdr h;
        size_t n = 0;
        uint32_t st = 0;

        if (cp_snp_msg_parse(data, size, &h) == 0) {
                if (h.msg_size + CP_SNP_MSG_HDR_SIZE != size || h.vmpck > 3 || h.algo != 1)
                        abort();
                if (cp_snp_msg_open(key, data, size, &h, plain, sizeof(plain), &n) == 0 && n != h.msg_size)
                        abort();
        }
        cp_snp_report_req q;
        if (cp_snp_report_req_parse(data, size, &q) == 0) {
                cp_snp_report_req_encode(&q, enc);
                if (size != sizeof(enc) || memcmp(enc, data, size) != 0)
                        abort();
        }
        if (cp_snp_report_rsp_parse(data, size, &st, rep) == 0 && size != CP_SNP_MSG_REPORT_RSP_SIZE)
                abort();
        /* Seal what we got as a payload and open it again. */
        if (size > 0 && size <= 4096 - CP_SNP_MSG_HDR_SIZE) {
                static uint8_t msg[4096];
                size_t ml = 0;
                if (cp_snp_msg_seal(key, 1, 1, CP_SNP_MSG_REPORT_REQ, 1, data, size, msg, sizeof(msg), &ml) == 0) {
                        if (cp_snp_msg_open(key, msg, ml, &h, plain, sizeof(plain), &n) != 0 || n != size ||
                            memcmp(plain, data, size) != 0)
                                abort();
                }
        }
        cp_error_clear();
        return 0;
}
