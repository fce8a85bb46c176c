/* SPDX-License-Identifier: Apache-2.0 */
/*
 * confpool snp measure   — the SNP launch measurement, with the options of
 *                          virtee's sev-snp-measure (same names, defaults,
 *                          output and usage errors), see docs/measure.md.
 * confpool snp id-block  — ID block + ID_AUTH (snp-create-id-block output),
 *                          and `id-block verify`.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "basic/cleanup.h"
#include "basic/codec.h"
#include "basic/fileio.h"
#include "basic/limits.h"
#include "basic/secure.h"
#include "cli/cli.h"
#include "cli/cmd_snp_measure.h"
#include "confpool/snp_idblock.h"
#include "confpool/snp_measure.h"

static void measure_usage(FILE *f) {
        fputs("usage: confpool snp measure --mode MODE --ovmf PATH [options]\n"
              "\n"
              "Calculate the AMD SEV-SNP guest launch measurement (compatible with sev-snp-measure).\n"
              "\n"
              "  --mode MODE             sev, seves, snp, snp:ovmf-hash or snp:svsm\n"
              "  --vcpus N               number of guest vCPUs (required except for sev, snp:ovmf-hash)\n"
              "  --vcpu-type CPUTYPE     EPYC, EPYC-v1..v4, EPYC-IBPB, EPYC-Rome[-v1..v3], EPYC-Milan[-v1,-v2],\n"
              "                          EPYC-Genoa[-v1], EPYC-Turin\n"
              "  --vcpu-sig VALUE        vCPU signature (CPUID Fn0000_0001 EAX; any base)\n"
              "  --vcpu-family F --vcpu-model M --vcpu-stepping S\n"
              "                          vCPU signature from family/model/stepping\n"
              "  --vmm-type VMMTYPE      QEMU (default), ec2 or gce\n"
              "  --ovmf PATH             OVMF firmware image\n"
              "  --kernel PATH           kernel (measured direct boot; needs SNP_KERNEL_HASHES in OVMF)\n"
              "  --initrd PATH           initrd (with --kernel)\n"
              "  --append CMDLINE        kernel command line (with --kernel)\n"
              "  --guest-features VALUE  SEV_FEATURES of the VMSAs (default 0x1)\n"
              "  --output-format FMT     hex (default) or base64\n"
              "  --snp-ovmf-hash HASH    precalculated OVMF hash (hex; mode snp)\n"
              "  --dump-vmsa             write the measured VMSAs to vmsa<N>.bin\n"
              "  --svsm PATH             Coconut-SVSM image (snp:svsm)\n"
              "  --vars-size SIZE        size of the OVMF_VARS file (snp:svsm)\n"
              "  --vars-file PATH        OVMF_VARS file (snp:svsm)\n"
              "  -v, --verbose           print \"Calculated SEV_SNP guest measurement: ...\"\n"
              "\n"
              "exit codes: 0 ok, 1 error (firmware, files), 2 usage\n",
              f);
}

static int usage_error(const char *fmt, const char *arg) {
        fputs("confpool snp measure: error: ", stderr);
        fprintf(stderr, fmt, arg);
        fputc('\n', stderr);
        return CP_EXIT_USAGE;
}

/* Python int(x, 0)-like: decimal, 0x / 0o / 0b prefixes. */
static int parse_u64(const char *s, uint64_t *ret) {
        int base = 10;
        const char *p = s;
        if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
                base = 16, p += 2;
        else if (p[0] == '0' && (p[1] == 'o' || p[1] == 'O'))
                base = 8, p += 2;
        else if (p[0] == '0' && (p[1] == 'b' || p[1] == 'B'))
                base = 2, p += 2;
        if (!*p || *p == '-' || *p == '+' || *p == ' ')
                return -1;
        char *end;
        errno = 0;
        unsigned long long v = strtoull(p, &end, base);
        if (errno || *end)
                return -1;
        *ret = v;
        return 0;
}

static int parse_u32(const char *s, uint32_t *ret) {
        uint64_t v;
        if (parse_u64(s, &v) < 0 || v > UINT32_MAX)
                return -1;
        *ret = (uint32_t) v;
        return 0;
}

static int dump_vmsas(const cp_snp_measure_params *p) {
        cp_ovmf_info info;
        cp_snp_vmsa_kind kind = CP_SNP_VMSA_RESET;
        uint32_t bsp = CP_SNP_BSP_EIP, ap;
        uint64_t features = p->mode == CP_SNP_MODE_SEV_ES ? 0 : p->guest_features;
        int r;
        if (p->mode == CP_SNP_MODE_SVSM) {
                if ((r = cp_ovmf_parse(p->svsm, p->svsm_len, &info)) < 0)
                        return r;
                uint64_t gpa = UINT64_C(0x100000000) - p->ovmf_len - p->vars_size - p->svsm_len;
                kind = CP_SNP_VMSA_SVSM;
                bsp = ap = (uint32_t) (gpa + info.svsm_entry_offset);
                features = 0x1;
        } else {
                if ((r = cp_ovmf_parse(p->ovmf, p->ovmf_len, &info)) < 0)
                        return r;
                ap = info.ap_reset_eip;
        }
        for (unsigned i = 0; i < p->vcpus; i++) {
                uint8_t page[CP_SNP_PAGE_SIZE];
                char name[32];
                if ((r = cp_snp_vmsa_build(kind, p->vmm, i == 0 ? bsp : ap, p->vcpu_sig, features, page)) < 0)
                        return r;
                snprintf(name, sizeof(name), "vmsa%u.bin", i);
                if ((r = cp_write_file(name, page, sizeof(page), 0644)) < 0)
                        return r;
        }
        return 0;
}

enum {
        OPT_MODE = 0x100,
        OPT_VCPUS,
        OPT_VCPU_TYPE,
        OPT_VCPU_SIG,
        OPT_VCPU_FAMILY,
        OPT_VCPU_MODEL,
        OPT_VCPU_STEPPING,
        OPT_VMM_TYPE,
        OPT_OVMF,
        OPT_KERNEL,
        OPT_INITRD,
        OPT_APPEND,
        OPT_GUEST_FEATURES,
        OPT_OUTPUT_FORMAT,
        OPT_SNP_OVMF_HASH,
        OPT_DUMP_VMSA,
        OPT_SVSM,
        OPT_VARS_SIZE,
        OPT_VARS_FILE,
};

/* The parsed command line, and what the measurement reads. */
typedef struct measure_args {
        const char *mode_s, *vcpu_type, *vmm_s, *ovmf_path, *kernel, *initrd, *append, *ovmf_hash_s, *svsm_path,
                *vars_file;
        bool have_vcpus, have_sig, have_fam, have_model, have_step;
        bool base64, verbose, dump, have_vars_size;
        uint32_t vcpus, sig, fam, model, step;
        uint64_t features, vars_size;
        /* owned by the run */
        uint8_t *ovmf, *svsm;
        uint8_t seed[CP_SNP_LD_SIZE];
        cp_snp_kernel_hashes kh;
} measure_args;

/* The steps' "no exit yet": anything else is the command's exit code. */
#define GO_ON (-1)

static int invalid_value(const char *opt, const char *arg) {
        fprintf(stderr, "confpool snp measure: error: invalid %s '%s'\n", opt, arg);
        return CP_EXIT_USAGE;
}

/* The numeric options: where each goes, and the flag saying it was given. */
static int numeric_opt(measure_args *a, int c, const char *arg) {
        static const struct {
                int opt;
                const char *name;
                size_t value, given; /* offsets in measure_args; given 0: none */
                bool wide;
        } table[] = {
                { OPT_VCPUS, "--vcpus", offsetof(measure_args, vcpus), offsetof(measure_args, have_vcpus), false },
                { OPT_VCPU_SIG, "--vcpu-sig", offsetof(measure_args, sig), offsetof(measure_args, have_sig), false },
                { OPT_VCPU_FAMILY, "--vcpu-family", offsetof(measure_args, fam), offsetof(measure_args, have_fam),
                  false },
                { OPT_VCPU_MODEL, "--vcpu-model", offsetof(measure_args, model),
                  offsetof(measure_args, have_model), false },
                { OPT_VCPU_STEPPING, "--vcpu-stepping", offsetof(measure_args, step),
                  offsetof(measure_args, have_step), false },
                { OPT_GUEST_FEATURES, "--guest-features", offsetof(measure_args, features), 0, true },
                { OPT_VARS_SIZE, "--vars-size", offsetof(measure_args, vars_size),
                  offsetof(measure_args, have_vars_size), true },
        };
        for (size_t i = 0; i < CP_ELEMENTSOF(table); i++) {
                if (table[i].opt != c)
                        continue;
                char *base = (char *) a;
                int r = table[i].wide ? parse_u64(arg, (uint64_t *) (void *) (base + table[i].value))
                                      : parse_u32(arg, (uint32_t *) (void *) (base + table[i].value));
                if (r < 0)
                        return invalid_value(table[i].name, arg);
                if (table[i].given)
                        *(bool *) (base + table[i].given) = true;
                return GO_ON;
        }
        return CP_EXIT_USAGE;
}

/* One option of getopt_long: GO_ON or an exit code. */
static int measure_opt(measure_args *a, int c, const char *arg) {
        switch (c) {
        case OPT_MODE: a->mode_s = arg; break;
        case OPT_VCPU_TYPE: a->vcpu_type = arg; break;
        case OPT_VMM_TYPE: a->vmm_s = arg; break;
        case OPT_OVMF: a->ovmf_path = arg; break;
        case OPT_KERNEL: a->kernel = arg; break;
        case OPT_INITRD: a->initrd = arg; break;
        case OPT_APPEND: a->append = arg; break;
        case OPT_SNP_OVMF_HASH: a->ovmf_hash_s = arg; break;
        case OPT_DUMP_VMSA: a->dump = true; break;
        case OPT_SVSM: a->svsm_path = arg; break;
        case OPT_VARS_FILE: a->vars_file = arg; break;
        case 'v': a->verbose = true; break;
        case OPT_VCPUS:
        case OPT_VCPU_SIG:
        case OPT_VCPU_FAMILY:
        case OPT_VCPU_MODEL:
        case OPT_VCPU_STEPPING:
        case OPT_GUEST_FEATURES:
        case OPT_VARS_SIZE:
                return numeric_opt(a, c, arg);
        case OPT_OUTPUT_FORMAT:
                if (!strcmp(arg, "base64"))
                        a->base64 = true;
                else if (strcmp(arg, "hex") != 0)
                        return usage_error("--output-format: '%s' is not hex or base64", arg);
                break;
        case 'h':
                measure_usage(stdout);
                return CP_EXIT_OK;
        default:
                measure_usage(stderr);
                return CP_EXIT_USAGE;
        }
        return GO_ON;
}

static int parse_measure_args(int argc, char **argv, measure_args *a) {
        static const struct option opts[] = {
                { "mode", required_argument, NULL, OPT_MODE },
                { "vcpus", required_argument, NULL, OPT_VCPUS },
                { "vcpu-type", required_argument, NULL, OPT_VCPU_TYPE },
                { "vcpu-sig", required_argument, NULL, OPT_VCPU_SIG },
                { "vcpu-family", required_argument, NULL, OPT_VCPU_FAMILY },
                { "vcpu-model", required_argument, NULL, OPT_VCPU_MODEL },
                { "vcpu-stepping", required_argument, NULL, OPT_VCPU_STEPPING },
                { "vmm-type", required_argument, NULL, OPT_VMM_TYPE },
                { "ovmf", required_argument, NULL, OPT_OVMF },
                { "kernel", required_argument, NULL, OPT_KERNEL },
                { "initrd", required_argument, NULL, OPT_INITRD },
                { "append", required_argument, NULL, OPT_APPEND },
                { "guest-features", required_argument, NULL, OPT_GUEST_FEATURES },
                { "output-format", required_argument, NULL, OPT_OUTPUT_FORMAT },
                { "snp-ovmf-hash", required_argument, NULL, OPT_SNP_OVMF_HASH },
                { "dump-vmsa", no_argument, NULL, OPT_DUMP_VMSA },
                { "svsm", required_argument, NULL, OPT_SVSM },
                { "vars-size", required_argument, NULL, OPT_VARS_SIZE },
                { "vars-file", required_argument, NULL, OPT_VARS_FILE },
                { "verbose", no_argument, NULL, 'v' },
                { "help", no_argument, NULL, 'h' },
                { 0 },
        };
        int c, r;
        optind = 1;
        while ((c = getopt_long(argc, argv, "vh", opts, NULL)) != -1)
                if ((r = measure_opt(a, c, optarg)) != GO_ON)
                        return r;
        if (optind != argc)
                return usage_error("unexpected argument '%s'", argv[optind]);
        if (!a->mode_s)
                return usage_error("%s", "the following arguments are required: --mode");
        if (!a->ovmf_path)
                return usage_error("%s", "the following arguments are required: --ovmf");
        return GO_ON;
}

/* The guest's vCPU signature: family/model/stepping, --vcpu-sig, --vcpu-type. */
static int resolve_vcpu_sig(const measure_args *a, bool sev, cp_snp_measure_params *p) {
        if (sev)
                p->vcpu_sig = 0;
        else if (a->have_fam) {
                if (!a->have_model || !a->have_step)
                        return usage_error("%s", "--vcpu-family needs --vcpu-model and --vcpu-stepping");
                p->vcpu_sig = cp_snp_vcpu_sig(a->fam, a->model, a->step);
        } else if (a->have_sig)
                p->vcpu_sig = a->sig;
        else if (a->vcpu_type) {
                if (cp_snp_vcpu_type_sig(a->vcpu_type, &p->vcpu_sig) < 0)
                        return usage_error("--vcpu-type: invalid choice '%s'", a->vcpu_type);
        } else if (p->vmm == CP_SNP_VMM_QEMU)
                return usage_error("missing --vcpu-type or --vcpu-sig or --vcpu-family in guest mode '%s'",
                                   a->mode_s);
        return GO_ON;
}

/* snp:svsm: the OVMF_VARS size and the SVSM image. */
static int load_svsm(measure_args *a, cp_snp_measure_params *p) {
        uint64_t vars_size = a->vars_size;
        if (a->vars_file) {
                struct stat st;
                if (stat(a->vars_file, &st) < 0) {
                        fprintf(stderr, "confpool snp measure: error: %s: %s\n", a->vars_file, strerror(errno));
                        return CP_EXIT_FAILURE;
                }
                vars_size = (uint64_t) st.st_size;
        }
        if (vars_size == 0)
                return usage_error("%s", "snp:svsm mode requires --vars-size or --vars-file");
        p->vars_size = vars_size;
        if (!a->svsm_path)
                return usage_error("%s", "snp:svsm mode requires --svsm");
        int r = cp_read_file(a->svsm_path, CP_MAX_FIRMWARE_SIZE, &a->svsm, &p->svsm_len);
        if (r < 0) {
                cp_cli_error(a->svsm_path);
                return cp_cli_exit_code(r) == CP_EXIT_USAGE ? CP_EXIT_FAILURE : cp_cli_exit_code(r);
        }
        p->svsm = a->svsm;
        return GO_ON;
}

/* The guest-mode options (every mode but snp:ovmf-hash) into p. */
static int guest_params(measure_args *a, bool sev, cp_snp_measure_params *p) {
        int r;
        if (a->initrd && !a->kernel)
                return usage_error("%s", "--kernel required when using --initrd");
        if (a->append && !a->kernel)
                return usage_error("%s", "--kernel required when using --append");
        if (!a->have_vcpus && !sev)
                return usage_error("missing --vcpus N in guest mode '%s'", a->mode_s);
        if (cp_snp_vmm_type_from_name(a->vmm_s, &p->vmm) < 0)
                return usage_error("unknown VMM type '%s'", a->vmm_s);
        if ((r = resolve_vcpu_sig(a, sev, p)) != GO_ON)
                return r;
        p->vcpus = sev ? 0 : a->vcpus;
        p->guest_features = a->features;
        if (p->mode == CP_SNP_MODE_SVSM && (r = load_svsm(a, p)) != GO_ON)
                return r;
        if (a->ovmf_hash_s) {
                size_t n = 0;
                if (p->mode != CP_SNP_MODE_SNP)
                        return usage_error("%s", "--snp-ovmf-hash is only accepted in mode snp");
                if (cp_hex_decode(a->ovmf_hash_s, strlen(a->ovmf_hash_s), a->seed, sizeof(a->seed), &n) < 0 ||
                    n != sizeof(a->seed))
                        return usage_error("--snp-ovmf-hash: '%s' is not 48 bytes of hex", a->ovmf_hash_s);
                p->ovmf_hash = a->seed;
        }
        if (a->dump && (sev || p->mode == CP_SNP_MODE_OVMF_HASH))
                return usage_error("%s", "--dump-vmsa is not available in the selected mode");
        return GO_ON;
}

/* The whole validated parameter set, firmware and kernel hashes read. */
static int measure_params(measure_args *a, cp_snp_measure_params *p) {
        cp_snp_measure_params_init(p);
        if (cp_snp_measure_mode_from_name(a->mode_s, &p->mode) < 0)
                return usage_error("--mode: invalid choice '%s' (sev, seves, snp, snp:ovmf-hash, snp:svsm)",
                                   a->mode_s);
        bool sev = p->mode == CP_SNP_MODE_SEV;
        uint32_t s;
        if (a->vcpu_type && cp_snp_vcpu_type_sig(a->vcpu_type, &s) < 0)
                return usage_error("--vcpu-type: invalid choice '%s'", a->vcpu_type);
        if (a->have_vars_size && a->vars_file)
                return usage_error("%s", "--vars-size and --vars-file are mutually exclusive");
        int r;
        if (p->mode != CP_SNP_MODE_OVMF_HASH && (r = guest_params(a, sev, p)) != GO_ON)
                return r;
        if (cp_read_file(a->ovmf_path, CP_MAX_FIRMWARE_SIZE, &a->ovmf, &p->ovmf_len) < 0) {
                cp_cli_error(a->ovmf_path);
                return CP_EXIT_FAILURE;
        }
        p->ovmf = a->ovmf;
        if (p->mode != CP_SNP_MODE_OVMF_HASH && a->kernel) {
                if (cp_snp_kernel_hashes_from_files(a->kernel, a->initrd, a->append, &a->kh) < 0) {
                        cp_cli_error("measure");
                        return CP_EXIT_FAILURE;
                }
                p->kernel_hashes = &a->kh;
        }
        return GO_ON;
}

static void print_measurement(const measure_args *a, const cp_snp_measure_params *p, const uint8_t *ld,
                              size_t ld_len) {
        char out[CP_SNP_LD_SIZE * 2 + 1];
        /* like sev-snp-measure, snp:ovmf-hash always prints hex */
        if (a->base64 && p->mode != CP_SNP_MODE_OVMF_HASH)
                cp_b64_encode(ld, ld_len, CP_B64_STD, out);
        else
                cp_hex_encode(ld, ld_len, out);
        if (a->verbose && p->mode != CP_SNP_MODE_OVMF_HASH) {
                static const char *const mode_names[] = {
                        [CP_SNP_MODE_SNP] = "SEV_SNP", [CP_SNP_MODE_SVSM] = "SEV_SNP_SVSM",
                        [CP_SNP_MODE_SEV] = "SEV", [CP_SNP_MODE_SEV_ES] = "SEV_ES",
                };
                printf("Calculated %s guest measurement: %s\n", mode_names[p->mode], out);
        } else
                printf("%s\n", out);
}

static int measure_run(measure_args *a, cp_snp_measure_params *p) {
        uint8_t ld[CP_SNP_LD_SIZE];
        bool sev_family = p->mode == CP_SNP_MODE_SEV || p->mode == CP_SNP_MODE_SEV_ES;
        size_t ld_len = sev_family ? CP_SEV_LD_SIZE : CP_SNP_LD_SIZE;
        int r = sev_family ? cp_sev_measure(p, ld) : cp_snp_measure(p, ld);
        if (r < 0) {
                cp_cli_error("measure");
                return cp_cli_exit_code(r);
        }
        if (a->dump && p->mode != CP_SNP_MODE_OVMF_HASH && dump_vmsas(p) < 0) {
                cp_cli_error("--dump-vmsa");
                return CP_EXIT_FAILURE;
        }
        print_measurement(a, p, ld, ld_len);
        return CP_EXIT_OK;
}

int cp_cmd_snp_measure(int argc, char **argv) {
        measure_args a = { .vmm_s = "QEMU", .features = CP_SNP_DEFAULT_GUEST_FEATURES };
        cp_snp_measure_params p;
        int r = parse_measure_args(argc, argv, &a);
        if (r == GO_ON)
                r = measure_params(&a, &p);
        if (r == GO_ON)
                r = measure_run(&a, &p);
        free(a.ovmf);
        free(a.svsm);
        return r;
}

/* ---- id-block ---- */

static void id_block_usage(FILE *f) {
        fputs("usage: confpool snp id-block [create] --measurement B64 --idkey PEM [--authorkey PEM]\n"
              "                               [--family-id HEX] [--image-id HEX] [--guest-svn N] [--policy N]\n"
              "       confpool snp id-block verify --id-block B64 --id-auth B64 [--measurement B64]\n"
              "\n"
              "create prints, like snp-create-id-block:\n"
              "  id-block=<base64>,id-auth=<base64>   (QEMU sev-snp-guest properties)\n"
              "  id_key_hash: <base64 SHA-384 of the ID public key>\n"
              "  author_key: <base64 SHA-384 of the author public key>\n"
              "Keys are EC P-384 private keys in PEM.  The policy must equal the guest's launch\n"
              "policy (default 0x30000, QEMU's default).\n"
              "\n"
              "verify checks both signatures and (with --measurement) the launch digest.\n"
              "exit codes: 0 ok, 1 error, 2 usage, 3 signature or measurement mismatch\n",
              f);
}

static int load_key(const char *path, cp_snp_id_key **ret) {
        uint8_t *pem = NULL;
        size_t len = 0;
        int r = cp_read_file(path, 64 * 1024, &pem, &len);
        if (r < 0) {
                cp_cli_error(path);
                return r;
        }
        r = cp_snp_id_key_load_pem(pem, len, ret);
        cp_wipe(pem, len);
        free(pem);
        if (r < 0)
                cp_cli_error(path);
        return r;
}

static int decode_b64(const char *what, const char *s, uint8_t *out, size_t want) {
        size_t n = 0;
        if (cp_b64_decode(s, strlen(s), CP_B64_STD, out, want, &n) < 0 || n != want) {
                fprintf(stderr, "confpool snp id-block: error: %s must be %zu bytes in base64\n", what, want);
                return -1;
        }
        return 0;
}

static int decode_hex16(const char *what, const char *s, uint8_t out[16]) {
        size_t n = 0;
        if (cp_hex_decode(s, strlen(s), out, 16, &n) < 0 || n != 16) {
                fprintf(stderr, "confpool snp id-block: error: %s must be 16 bytes of hex\n", what);
                return -1;
        }
        return 0;
}

static int id_block_verify(const char *block_s, const char *auth_s, const char *ld_s) {
        uint8_t block[CP_SNP_ID_BLOCK_SIZE], ld[CP_SNP_LD_SIZE];
        _cleanup_free_ uint8_t *auth = malloc(CP_SNP_ID_AUTH_SIZE + 3);
        size_t n = 0;
        if (!auth)
                return CP_EXIT_FAILURE;
        if (!block_s || !auth_s) {
                id_block_usage(stderr);
                return CP_EXIT_USAGE;
        }
        if (decode_b64("--id-block", block_s, block, sizeof(block)) < 0 || (ld_s && decode_b64("--measurement", ld_s, ld, sizeof(ld)) < 0))
                return CP_EXIT_USAGE;
        if (cp_b64_decode(auth_s, strlen(auth_s), CP_B64_STD, auth, CP_SNP_ID_AUTH_SIZE + 3, &n) < 0) {
                fprintf(stderr, "confpool snp id-block: error: --id-auth is not base64\n");
                return CP_EXIT_USAGE;
        }
        cp_snp_id_auth_result res;
        int r = cp_snp_id_auth_verify(block, sizeof(block), auth, n, ld_s ? ld : NULL, &res);
        if (r < 0) {
                cp_cli_error("id-block verify");
                return cp_cli_exit_code(r);
        }
        char b64[CP_SNP_LD_SIZE * 2], hex[97];
        cp_hex_encode(res.block.ld, sizeof(res.block.ld), hex);
        printf("verified\nmeasurement: %s\n", hex);
        cp_b64_encode(res.id_key_digest, 48, CP_B64_STD, b64);
        printf("id_key_hash: %s\n", b64);
        if (res.has_author_key) {
                cp_b64_encode(res.author_key_digest, 48, CP_B64_STD, b64);
                printf("author_key: %s\n", b64);
        } else
                printf("author_key: none\n");
        printf("policy: 0x%" PRIx64 "\nguest_svn: %" PRIu32 "\n", res.block.policy, res.block.guest_svn);
        return CP_EXIT_OK;
}

int cp_cmd_snp_id_block(int argc, char **argv) {
        static const struct option opts[] = {
                { "measurement", required_argument, NULL, 'm' }, { "idkey", required_argument, NULL, 'i' },
                { "authorkey", required_argument, NULL, 'a' },   { "family-id", required_argument, NULL, 'f' },
                { "image-id", required_argument, NULL, 'g' },    { "guest-svn", required_argument, NULL, 's' },
                { "policy", required_argument, NULL, 'p' },      { "id-block", required_argument, NULL, 'b' },
                { "id-auth", required_argument, NULL, 'u' },     { "help", no_argument, NULL, 'h' },
                { 0 },
        };
        bool verify = false;
        if (argc >= 2 && (!strcmp(argv[1], "verify") || !strcmp(argv[1], "create"))) {
                verify = !strcmp(argv[1], "verify");
                argc--;
                argv++;
        }
        const char *ld_s = NULL, *idkey = NULL, *authorkey = NULL, *family = NULL, *image = NULL, *block_s = NULL,
                   *auth_s = NULL;
        uint32_t svn = 0;
        uint64_t policy = CP_SNP_ID_BLOCK_DEFAULT_POLICY;
        int c;
        optind = 1;
        while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
                switch (c) {
                case 'm':
                        ld_s = optarg;
                        break;
                case 'i':
                        idkey = optarg;
                        break;
                case 'a':
                        authorkey = optarg;
                        break;
                case 'f':
                        family = optarg;
                        break;
                case 'g':
                        image = optarg;
                        break;
                case 's':
                        if (parse_u32(optarg, &svn) < 0) {
                                fprintf(stderr, "confpool snp id-block: error: invalid --guest-svn '%s'\n", optarg);
                                return CP_EXIT_USAGE;
                        }
                        break;
                case 'p':
                        if (parse_u64(optarg, &policy) < 0) {
                                fprintf(stderr, "confpool snp id-block: error: invalid --policy '%s'\n", optarg);
                                return CP_EXIT_USAGE;
                        }
                        break;
                case 'b':
                        block_s = optarg;
                        break;
                case 'u':
                        auth_s = optarg;
                        break;
                case 'h':
                        id_block_usage(stdout);
                        return CP_EXIT_OK;
                default:
                        id_block_usage(stderr);
                        return CP_EXIT_USAGE;
                }
        }
        if (optind != argc) {
                id_block_usage(stderr);
                return CP_EXIT_USAGE;
        }
        if (verify)
                return id_block_verify(block_s, auth_s, ld_s);
        if (!ld_s || !idkey) {
                id_block_usage(stderr);
                return CP_EXIT_USAGE;
        }
        cp_snp_id_block b;
        cp_snp_id_block_init(&b, NULL);
        b.guest_svn = svn;
        b.policy = policy;
        if (decode_b64("--measurement", ld_s, b.ld, sizeof(b.ld)) < 0 ||
            (family && decode_hex16("--family-id", family, b.family_id) < 0) ||
            (image && decode_hex16("--image-id", image, b.image_id) < 0))
                return CP_EXIT_USAGE;

        cp_snp_id_key *ik = NULL, *ak = NULL;
        uint8_t block[CP_SNP_ID_BLOCK_SIZE];
        _cleanup_free_ uint8_t *auth = malloc(CP_SNP_ID_AUTH_SIZE);
        _cleanup_free_ char *auth_b64 = malloc(cp_b64_encoded_len(CP_SNP_ID_AUTH_SIZE, CP_B64_STD) + 1);
        int r = CP_ENOMEM;
        if (!auth || !auth_b64)
                goto fail;
        if ((r = load_key(idkey, &ik)) < 0 || (authorkey && (r = load_key(authorkey, &ak)) < 0))
                goto done;
        if ((r = cp_snp_id_auth_create(&b, ik, ak, block, auth)) < 0)
                goto fail;
        char block_b64[CP_SNP_ID_BLOCK_SIZE * 2], d64[CP_SNP_LD_SIZE * 2];
        uint8_t d[48];
        cp_b64_encode(block, sizeof(block), CP_B64_STD, block_b64);
        cp_b64_encode(auth, CP_SNP_ID_AUTH_SIZE, CP_B64_STD, auth_b64);
        printf("id-block=%s,id-auth=%s\n", block_b64, auth_b64);
        cp_snp_id_key_digest(ik, d);
        cp_b64_encode(d, sizeof(d), CP_B64_STD, d64);
        printf("id_key_hash: %s\n", d64);
        if (ak) {
                cp_snp_id_key_digest(ak, d);
                cp_b64_encode(d, sizeof(d), CP_B64_STD, d64);
                printf("author_key: %s\n", d64);
        }
        r = 0;
        goto done;
fail:
        cp_cli_error("id-block");
done:
        cp_snp_id_key_free(ik);
        cp_snp_id_key_free(ak);
        return r < 0 ? (cp_cli_exit_code(r) == CP_EXIT_USAGE ? CP_EXIT_FAILURE : cp_cli_exit_code(r)) : CP_EXIT_OK;
}
