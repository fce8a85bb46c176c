/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz the LUKS2 header parser (both headers, checksums, JSON schema) and,
 * for headers that parse, keyslot unlock with a fixed passphrase.  The
 * first byte selects whether the input is used as is or with a freshly
 * computed primary checksum (so the JSON schema is reached). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "confpool/luks2.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        cp_luks2_info info;
        uint8_t vk[CP_LUKS2_KEY_SIZE];
        if (size < 1)
                return 0;
        bool fix = data[0] & 1;
        size--;
        uint8_t *buf = malloc(size ? size : 1);
        if (!buf)
                return 0;
        memcpy(buf, data + 1, size);
        if (fix && size >= 16384) {
                memset(buf + 448, 0, 64);
                SHA256(buf, 16384, buf + 448);
        }
        if (cp_luks2_parse(buf, size, &info) == 0) {
                if (info.n_keyslots > CP_LUKS2_MAX_KEYSLOTS || info.hdr_size < 16384)
                        abort();
                /* keep unlock cheap: only low iteration counts */
                bool cheap = info.digest_iterations <= 2000;
                for (size_t i = 0; i < info.n_keyslots; i++)
                        if (info.keyslots[i].iterations > 2000)
                                cheap = false;
                if (cheap)
                        (void) !cp_luks2_unlock(&info, buf, size, (const uint8_t *) "fuzz", 4, vk, NULL);
        }
        free(buf);
        return 0;
}
