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

int cp_cmd_snp_measure(int argc, char **argv) {
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
        const char *mode_s = NULL, *vcpu_type = NULL, *vmm_s = "QEMU", *ovmf_path = NULL, *kernel = NULL,
                   *initrd = NULL, *append = NULL, *ovmf_hash_s = NULL, *svsm_path = NULL, *vars_file = NULL;
        bool have_vcpus = false, have_sig = false, have_fam = false, have_model = false, have_step = false;
        bool base64 = false, verbose = false, dump = false, have_vars_size = false;
        uint32_t vcpus = 0, sig = 0, fam = 0, model = 0, step = 0;
        uint64_t features = CP_SNP_DEFAULT_GUEST_FEATURES, vars_size = 0;
        int c;
        optind = 1;
        while ((c = getopt_long(argc, argv, "vh", opts, NULL)) != -1) {
                switch (c) {
                case OPT_MODE:
                        mode_s = optarg;
                        break;
                case OPT_VCPUS:
                        if (parse_u32(optarg, &vcpus) < 0)
                                return usage_error("invalid --vcpus '%s'", optarg);
                        have_vcpus = true;
                        break;
                case OPT_VCPU_TYPE:
                        vcpu_type = optarg;
                        break;
                case OPT_VCPU_SIG:
                        if (parse_u32(optarg, &sig) < 0)
                                return usage_error("invalid --vcpu-sig '%s'", optarg);
                        have_sig = true;
                        break;
                case OPT_VCPU_FAMILY:
                        if (parse_u32(optarg, &fam) < 0)
                                return usage_error("invalid --vcpu-family '%s'", optarg);
                        have_fam = true;
                        break;
                case OPT_VCPU_MODEL:
                        if (parse_u32(optarg, &model) < 0)
                                return usage_error("invalid --vcpu-model '%s'", optarg);
                        have_model = true;
                        break;
                case OPT_VCPU_STEPPING:
                        if (parse_u32(optarg, &step) < 0)
                                return usage_error("invalid --vcpu-stepping '%s'", optarg);
                        have_step = true;
                        break;
                case OPT_VMM_TYPE:
                        vmm_s = optarg;
                        break;
                case OPT_OVMF:
                        ovmf_path = optarg;
                        break;
                case OPT_KERNEL:
                        kernel = optarg;
                        break;
                case OPT_INITRD:
                        initrd = optarg;
                        break;
                case OPT_APPEND:
                        append = optarg;
                        break;
                case OPT_GUEST_FEATURES:
                        if (parse_u64(optarg, &features) < 0)
                                return usage_error("invalid --guest-features '%s'", optarg);
                        break;
                case OPT_OUTPUT_FORMAT:
                        if (!strcmp(optarg, "base64"))
                                base64 = true;
                        else if (strcmp(optarg, "hex") != 0)
                                return usage_error("--output-format: '%s' is not hex or base64", optarg);
                        break;
                case OPT_SNP_OVMF_HASH:
                        ovmf_hash_s = optarg;
                        break;
                case OPT_DUMP_VMSA:
                        dump = true;
                        break;
                case OPT_SVSM:
                        svsm_path = optarg;
                        break;
                case OPT_VARS_SIZE:
                        if (parse_u64(optarg, &vars_size) < 0)
                                return usage_error("invalid --vars-size '%s'", optarg);
                        have_vars_size = true;
                        break;
                case OPT_VARS_FILE:
                        vars_file = optarg;
                        break;
                case 'v':
                        verbose = true;
                        break;
                case 'h':
                        measure_usage(stdout);
                        return CP_EXIT_OK;
                default:
                        measure_usage(stderr);
                        return CP_EXIT_USAGE;
                }
        }
        if (optind != argc)
                return usage_error("unexpected argument '%s'", argv[optind]);
        if (!mode_s)
                return usage_error("%s", "the following arguments are required: --mode");
        if (!ovmf_path)
                return usage_error("%s", "the following arguments are required: --ovmf");

        cp_snp_measure_params p;
        cp_snp_measure_params_init(&p);
        int r = cp_snp_measure_mode_from_name(mode_s, &p.mode);
        if (r < 0)
                return usage_error("--mode: invalid choice '%s' (sev, seves, snp, snp:ovmf-hash, snp:svsm)", mode_s);
        bool sev = p.mode == CP_SNP_MODE_SEV, sev_family = sev || p.mode == CP_SNP_MODE_SEV_ES;
        if (vcpu_type) {
                uint32_t s;
                if (cp_snp_vcpu_type_sig(vcpu_type, &s) < 0)
                        return usage_error("--vcpu-type: invalid choice '%s'", vcpu_type);
        }
        if (have_vars_size && vars_file)
                return usage_error("%s", "--vars-size and --vars-file are mutually exclusive");

        _cleanup_free_ uint8_t *ovmf = NULL;
        _cleanup_free_ uint8_t *svsm = NULL;
        uint8_t ld[CP_SNP_LD_SIZE], seed[CP_SNP_LD_SIZE];
        cp_snp_kernel_hashes kh;
        if (p.mode != CP_SNP_MODE_OVMF_HASH) {
                if (initrd && !kernel)
                        return usage_error("%s", "--kernel required when using --initrd");
                if (append && !kernel)
                        return usage_error("%s", "--kernel required when using --append");
                if (!have_vcpus && !sev)
                        return usage_error("missing --vcpus N in guest mode '%s'", mode_s);
                if (cp_snp_vmm_type_from_name(vmm_s, &p.vmm) < 0)
                        return usage_error("unknown VMM type '%s'", vmm_s);
                if (sev)
                        p.vcpu_sig = 0;
                else if (have_fam) {
                        if (!have_model || !have_step)
                                return usage_error("%s", "--vcpu-family needs --vcpu-model and --vcpu-stepping");
                        p.vcpu_sig = cp_snp_vcpu_sig(fam, model, step);
                } else if (have_sig)
                        p.vcpu_sig = sig;
                else if (vcpu_type) {
                        if (cp_snp_vcpu_type_sig(vcpu_type, &p.vcpu_sig) < 0)
                                return usage_error("--vcpu-type: invalid choice '%s'", vcpu_type);
                } else if (p.vmm == CP_SNP_VMM_QEMU)
                        return usage_error("missing --vcpu-type or --vcpu-sig or --vcpu-family in guest mode '%s'",
                                           mode_s);
                p.vcpus = sev ? 0 : vcpus;
                p.guest_features = features;
                if (p.mode == CP_SNP_MODE_SVSM) {
                        if (vars_file) {
                                struct stat st;
                                if (stat(vars_file, &st) < 0) {
                                        fprintf(stderr, "confpool snp measure: error: %s: %s\n", vars_file,
                                                strerror(errno));
                                        return CP_EXIT_FAILURE;
                                }
                                vars_size = (uint64_t) st.st_size;
                        }
                        if (vars_size == 0)
                                return usage_error("%s", "snp:svsm mode requires --vars-size or --vars-file");
                        p.vars_size = vars_size;
                        if (!svsm_path)
                                return usage_error("%s", "snp:svsm mode requires --svsm");
                        if ((r = cp_read_file(svsm_path, CP_MAX_FIRMWARE_SIZE, &svsm, &p.svsm_len)) < 0) {
                                cp_cli_error(svsm_path);
                                return cp_cli_exit_code(r) == CP_EXIT_USAGE ? CP_EXIT_FAILURE : cp_cli_exit_code(r);
                        }
                        p.svsm = svsm;
                }
                if (ovmf_hash_s) {
                        size_t n = 0;
                        if (p.mode != CP_SNP_MODE_SNP)
                                return usage_error("%s", "--snp-ovmf-hash is only accepted in mode snp");
                        if (cp_hex_decode(ovmf_hash_s, strlen(ovmf_hash_s), seed, sizeof(seed), &n) < 0 ||
                            n != sizeof(seed))
                                return usage_error("--snp-ovmf-hash: '%s' is not 48 bytes of hex", ovmf_hash_s);
                        p.ovmf_hash = seed;
                }
                if (dump && (sev || p.mode == CP_SNP_MODE_OVMF_HASH))
                        return usage_error("%s", "--dump-vmsa is not available in the selected mode");
        }
        if ((r = cp_read_file(ovmf_path, CP_MAX_FIRMWARE_SIZE, &ovmf, &p.ovmf_len)) < 0) {
                cp_cli_error(ovmf_path);
                return CP_EXIT_FAILURE;
        }
        p.ovmf = ovmf;
        if (p.mode != CP_SNP_MODE_OVMF_HASH && kernel) {
                if ((r = cp_snp_kernel_hashes_from_files(kernel, initrd, append, &kh)) < 0) {
                        cp_cli_error("measure");
                        return CP_EXIT_FAILURE;
                }
                p.kernel_hashes = &kh;
        }
        size_t ld_len = sev_family ? CP_SEV_LD_SIZE : CP_SNP_LD_SIZE;
        r = sev_family ? cp_sev_measure(&p, ld) : cp_snp_measure(&p, ld);
        if (r < 0) {
                cp_cli_error("measure");
                return cp_cli_exit_code(r);
        }
        if (dump && p.mode != CP_SNP_MODE_OVMF_HASH && (r = dump_vmsas(&p)) < 0) {
                cp_cli_error("--dump-vmsa");
                return CP_EXIT_FAILURE;
        }

        char out[CP_SNP_LD_SIZE * 2 + 1];
        /* like sev-snp-measure, snp:ovmf-hash always prints hex */
        if (base64 && p.mode != CP_SNP_MODE_OVMF_HASH)
                cp_b64_encode(ld, ld_len, CP_B64_STD, out);
        else
                cp_hex_encode(ld, ld_len, out);
        if (verbose && p.mode != CP_SNP_MODE_OVMF_HASH) {
                static const char *const mode_names[] = {
                        [CP_SNP_MODE_SNP] = "SEV_SNP", [CP_SNP_MODE_SVSM] = "SEV_SNP_SVSM",
                        [CP_SNP_MODE_SEV] = "SEV", [CP_SNP_MODE_SEV_ES] = "SEV_ES",
                };
                printf("Calculated %s guest measurement: %s\n", mode_names[p.mode], out);
        } else
                printf("%s\n", out);
        return CP_EXIT_OK;
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
