/* SPDX-License-Identifier: Apache-2.0 */
/* Replays a fuzz target's corpus (files in a directory, or single files)
 * through LLVMFuzzerTestOneInput, so every build exercises the targets. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "basic/fileio.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* Optional, as in libFuzzer: one-time setup outside any input's time limit. */
__attribute__((weak)) int LLVMFuzzerInitialize(int *argc, char ***argv);

static int run_file(const char *path, unsigned *count) {
        uint8_t *buf = NULL;
        size_t len = 0;
        if (cp_read_file(path, 16u << 20, &buf, &len) < 0) {
                fprintf(stderr, "cannot read %s: %s\n", path, cp_error_message());
                return -1;
        }
        LLVMFuzzerTestOneInput(buf, len);
        free(buf);
        (*count)++;
        return 0;
}

int main(int argc, char **argv) {
        unsigned count = 0;
        if (LLVMFuzzerInitialize && LLVMFuzzerInitialize(&argc, &argv) != 0)
                return 1;
        for (int i = 1; i < argc; i++) {
                struct stat st;
                if (stat(argv[i], &st) < 0) {
                        fprintf(stderr, "%s: missing corpus\n", argv[i]);
                        return 1;
                }
                if (!S_ISDIR(st.st_mode)) {
                        if (run_file(argv[i], &count) < 0)
                                return 1;
                        continue;
                }
                DIR *d = opendir(argv[i]);
                if (!d)
                        return 1;
                struct dirent *de;
                while ((de = readdir(d))) {
                        if (de->d_name[0] == '.')
                                continue;
                        char path[4096];
                        snprintf(path, sizeof(path), "%s/%s", argv[i], de->d_name);
                        if (run_file(path, &count) < 0) {
                                closedir(d);
                                return 1;
                        }
                }
                closedir(d);
        }
        if (count == 0) {
                fprintf(stderr, "no corpus inputs replayed\n");
                return 1;
        }
        printf("replayed %u inputs\n", count);
        return 0;
}
