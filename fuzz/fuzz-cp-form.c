/* SPDX-License-Identifier: Apache-2.0 */
/* The token endpoint's form parser (cp_form_parse) and, for inputs whose
 * first byte is 'T', access-token validation (cp_aad_validate) of the rest
 * against an identity provider set up once in a temporary state dir. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controlplane/cp-aad.h"
#include "controlplane/cp-store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static cp_store *store;
static cp_aad *aad;
static char dir[] = "/tmp/fuzz-cp-form-XXXXXX";

static void teardown(void) {
        aad = cp_aad_free(aad);
        store = cp_store_close(store);
        char cmd[64];
        snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
        if (system(cmd) != 0)
                fprintf(stderr, "cleanup of %s failed\n", dir);
}

static void setup(void) {
        char db[64];
        if (!mkdtemp(dir))
                abort();
        atexit(teardown);
        snprintf(db, sizeof db, "%s/confpoold.db", dir);
        const char *hosts[] = {"localhost"};
        if (cp_cpstore_open(db, &store) < 0 || cp_aad_new(store, dir, &aad) < 0 ||
            cp_aad_set_endpoint(aad, "https://localhost:8443", hosts, 1, 8443) < 0)
                abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (!aad)
                setup();
        if (size > 0 && data[0] == 'T') {
                char *tok = malloc(size);
                if (!tok)
                        return 0;
                memcpy(tok, data + 1, size - 1);
                tok[size - 1] = 0;
                cp_principal p;
                if (cp_aad_validate(aad, tok, 0, &p) >= 0)
                        abort(); /* nothing fuzzed can carry our signature */
                cp_error_clear();
                free(tok);
                return 0;
        }
        cp_form f;
        if (cp_form_parse(data, size, &f) < 0) {
                cp_error_clear();
                return 0;
        }
        if (f.n > CP_FORM_MAX_FIELDS)
                abort();
        for (size_t i = 0; i < f.n; i++) {
                if (!f.name[i][0] || strlen(f.value[i]) >= CP_FORM_MAX_VALUE || cp_form_get(&f, f.name[i]) != f.value[i])
                        abort();
        }
        cp_form_clear(&f);
        return 0;
}
