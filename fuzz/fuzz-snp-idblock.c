/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target: ID block + ID_AUTH verification.  The first 96 bytes are the
 * ID block, the rest the ID_AUTH structure (any length).  Accepted input
 * must re-encode to the same ID block and carry consistent key digests.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "confpool/snp_idblock.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        size_t nb = size < CP_SNP_ID_BLOCK_SIZE ? size : CP_SNP_ID_BLOCK_SIZE;
        cp_snp_id_block b;
        int r = cp_snp_id_block_parse(data, nb, &b);
        if (r == 0) {
                uint8_t enc[CP_SNP_ID_BLOCK_SIZE];
                cp_snp_id_block_encode(&b, enc);
                if (memcmp(enc, data, CP_SNP_ID_BLOCK_SIZE) != 0)
                        abort();
        }
        cp_snp_id_auth_result res;
        r = cp_snp_id_auth_verify(data, nb, size > nb ? data + nb : NULL, size - nb, NULL, &res);
        if (r < 0) {
                if (r != CP_ETRUNC && r != CP_ETRAILING && r != CP_EVERSION && r != CP_EFORMAT && r != CP_EMBZ &&
                    r != CP_EUNSUPPORTED && r != CP_ESIG)
                        abort();
                return 0;
        }
        uint8_t d[48];
        if (size != CP_SNP_ID_BLOCK_SIZE + CP_SNP_ID_AUTH_SIZE ||
            cp_snp_pubkey_digest(data + nb + 0x240, d) < 0 || memcmp(d, res.id_key_digest, 48) != 0)
                abort();
        return 0;
}
