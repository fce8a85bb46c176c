/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target: cp_snp_certtable_parse; an accepted table is rebuilt with
 * cp_snp_certtable_build and must parse back to the same entries. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "basic/limits.h"
#include "confpool/snp_report.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static cp_snp_certtable t, t2;
        static uint8_t out[CP_MAX_CERTTABLE_SIZE];
        size_t len = 0;

        if (cp_snp_certtable_parse(data, size, &t) < 0)
                return 0;
        if (t.n > CP_SNP_CERTTABLE_MAX)
                abort();
        for (size_t i = 0; i < t.n; i++) {
                const cp_snp_cert_entry *e = &t.entries[i];
                /* borrowed data lies inside the input, at the entry's offset */
                if (e->length == 0 || e->offset > size || e->length > size - e->offset || e->data != data + e->offset)
                        abort();
                if (cp_snp_cert_kind_from_guid(e->guid) != e->kind)
                        abort();
                if (cp_snp_certtable_find(&t, e->kind) == NULL)
                        abort();
                (void) cp_snp_cert_kind_name(e->kind);
        }

        /* the canonical re-serialization is never larger than the input */
        if (cp_snp_certtable_build(t.entries, t.n, out, sizeof(out), &len) < 0)
                abort();
        if (len > size)
                abort();
        if (cp_snp_certtable_parse(out, len, &t2) < 0 || t2.n != t.n)
                abort();
        for (size_t i = 0; i < t.n; i++)
                if (memcmp(t.entries[i].guid, t2.entries[i].guid, 16) != 0 || t.entries[i].kind != t2.entries[i].kind ||
                    t.entries[i].length != t2.entries[i].length ||
                    memcmp(t.entries[i].data, t2.entries[i].data, t.entries[i].length) != 0)
                        abort();
        return 0;
}
