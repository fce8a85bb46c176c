/* SPDX-License-Identifier: Apache-2.0 */
/* confpool disk encrypt|open|info: LUKS2 images in user space. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "basic/fileio.h"
#include "basic/secure.h"
#include "cli/cli.h"
#include "confpool/luks2.h"

static void disk_usage(FILE *f) {
        fprintf(f, "usage: confpool disk encrypt --in PLAIN --out IMAGE --key-file F [--iterations N] [--label L]\n"
                   "       confpool disk open --in IMAGE --key-file F --out PLAIN\n"
                   "       confpool disk info IMAGE\n");
}

static int read_key(const char *path, uint8_t **ret, size_t *ret_len) {
        int r = cp_read_file(path, 8192, ret, ret_len);
        if (r < 0)
                cp_cli_error("key file");
        return r;
}

static int disk_info(const char *path) {
        uint8_t *buf = NULL;
        size_t n;
        cp_luks2_info info;
        int r;
        FILE *f = fopen(path, "rb");
        if (!f) {
                fprintf(stderr, "confpool: error: cannot open %s\n", path);
                return CP_EXIT_FAILURE;
        }
        buf = malloc(2 * CP_LUKS2_MAX_HDR_SIZE);
        n = buf ? fread(buf, 1, 2 * CP_LUKS2_MAX_HDR_SIZE, f) : 0;
        fclose(f);
        if (!buf)
                return CP_EXIT_FAILURE;
        r = cp_luks2_parse(buf, n, &info);
        free(buf);
        if (r < 0) {
                cp_cli_error(path);
                return cp_cli_exit_code(r);
        }
        json_t *ks = json_array();
        for (size_t i = 0; i < info.n_keyslots; i++) {
                const cp_luks2_keyslot *k = &info.keyslots[i];
                json_array_append_new(ks, json_pack("{s:i,s:s,s:i,s:i,s:s,s:I}", "id", (int) k->id, "kdf",
                                                    k->kdf == CP_LUKS2_KDF_PBKDF2 ? "pbkdf2" : "argon2", "iterations",
                                                    (int) k->iterations, "stripes", (int) k->stripes, "cipher", k->area_cipher,
                                                    "offset", (json_int_t) k->area_offset));
        }
        json_t *o = json_pack("{s:i,s:s,s:s,s:I,s:I,s:s,s:i,s:I,s:b,s:o}", "version", 2, "uuid", info.uuid, "label",
                              info.label, "hdrSize", (json_int_t) info.hdr_size, "seqid", (json_int_t) info.seqid, "cipher",
                              info.cipher, "sectorSize", (int) info.sector_size, "dataOffset", (json_int_t) info.data_offset,
                              "fromSecondaryHeader", info.from_secondary, "keyslots", ks);
        json_dumpf(o, stdout, JSON_INDENT(2));
        putchar('\n');
        json_decref(o);
        return CP_EXIT_OK;
}

int cp_cmd_disk(int argc, char **argv) {
        static const struct option opts[] = {
                { "in", required_argument, NULL, 'i' },  { "out", required_argument, NULL, 'o' },
                { "key-file", required_argument, NULL, 'k' }, { "iterations", required_argument, NULL, 'n' },
                { "label", required_argument, NULL, 'l' }, { "help", no_argument, NULL, 'h' }, { 0 },
        };
        const char *in = NULL, *out = NULL, *kf = NULL, *label = NULL;
        unsigned long iter = 0;
        int c, r;
        if (argc < 2) {
                disk_usage(stderr);
                return CP_EXIT_USAGE;
        }
        const char *sub = argv[1];
        if (!strcmp(sub, "--help")) {
                disk_usage(stdout);
                return CP_EXIT_OK;
        }
        if (!strcmp(sub, "info")) {
                if (argc != 3) {
                        disk_usage(stderr);
                        return CP_EXIT_USAGE;
                }
                return disk_info(argv[2]);
        }
        optind = 2;
        while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
                switch (c) {
                case 'i': in = optarg; break;
                case 'o': out = optarg; break;
                case 'k': kf = optarg; break;
                case 'n': iter = strtoul(optarg, NULL, 10); break;
                case 'l': label = optarg; break;
                case 'h': disk_usage(stdout); return CP_EXIT_OK;
                default: disk_usage(stderr); return CP_EXIT_USAGE;
                }
        }
        if (!in || !out || !kf || (strcmp(sub, "encrypt") && strcmp(sub, "open"))) {
                disk_usage(stderr);
                return CP_EXIT_USAGE;
        }
        uint8_t *key;
        size_t kl;
        if ((r = read_key(kf, &key, &kl)) < 0)
                return cp_cli_exit_code(r);
        if (!strcmp(sub, "encrypt")) {
                cp_luks2_format_options o = CP_LUKS2_FORMAT_OPTIONS_INIT;
                o.iterations = (uint32_t) iter;
                o.label = label;
                r = cp_luks2_encrypt_image(in, out, &o, key, kl, NULL);
        } else
                r = cp_luks2_decrypt_image(in, key, kl, out);
        cp_wipe(key, kl);
        free(key);
        if (r < 0) {
                cp_cli_error(sub);
                return cp_cli_exit_code(r);
        }
        return CP_EXIT_OK;
}
