/* SPDX-License-Identifier: Apache-2.0 */
/*
 * confpool-amdspd: one emulated AMD-SP host (see docs/amdsp.md).
 *
 *   confpool-amdspd init     --state-dir D --generation G --tcb SPEC [--vlek-csp ID] [--report-version N]
 *   confpool-amdspd launch   --state-dir D --secrets-out F [--policy P] [--host-data HEX] [--vmpl N]
 *                            (--ovmf F --vcpus N --vcpu-type T|--vcpu-sig S [--mode M] [--vmm-type V]
 *                             [--kernel F [--initrd F] [--append S]] [--guest-features N]
 *                             | --measurement HEX)
 *                            [--id-block F --id-auth F
 *                             | --id-key-digest HEX --author-key-digest HEX --family-id HEX
 *                               --image-id HEX --guest-svn N]    (prints the guest handle)
 *   confpool-amdspd set-tcb  --state-dir D --tcb SPEC
 *   confpool-amdspd mask     --state-dir D [--chip-key] [--chip-id]
 *   confpool-amdspd revoke   --state-dir D --serial HEX
 *   confpool-amdspd export   --state-dir D --ark F [--ask F] [--vcek F] [--crl F]
 *   confpool-amdspd serve    --state-dir D [--kds-port P] [--socket PATH] [--port-file F]
 *
 * TCB SPEC: bl=N,tee=N,snp=N,ucode=N[,fmc=N] (fmc on Turin only).
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "basic/cleanup.h"
#include "basic/codec.h"
#include "basic/fileio.h"
#include "basic/secure.h"
#include "confpool/snp_idblock.h"
#include "emu/amdsp.h"
#include "service/httpd.h"

enum {
        O_OVMF = 0x100,
        O_MODE,
        O_VCPUS,
        O_VCPU_TYPE,
        O_VCPU_SIG,
        O_VMM_TYPE,
        O_KERNEL,
        O_INITRD,
        O_APPEND,
        O_FEATURES,
        O_ID_BLOCK,
        O_ID_AUTH,
};

static volatile sig_atomic_t stop;

static void on_signal(int sig) {
        (void) sig;
        stop = 1;
}

static int fail(const char *what) {
        fprintf(stderr, "confpool-amdspd: %s: %s\n", what, cp_error_message());
        return 1;
}

static int usage(void) {
        fputs("usage: confpool-amdspd init|launch|set-tcb|mask|revoke|export|serve --state-dir DIR [options]\n"
              "  init:    --generation Milan|Genoa|Turin --tcb bl=N,tee=N,snp=N,ucode=N[,fmc=N]\n"
              "           [--vlek-csp ID] [--report-version 2|3|5]\n"
              "  launch:  --secrets-out FILE [--policy 0x30000] [--host-data HEX] [--vmpl N]\n"
              "           measured by the AMD-SP (options as `confpool snp measure`):\n"
              "             --ovmf FILE --vcpus N (--vcpu-type T | --vcpu-sig S) [--mode snp|snp:ovmf-hash]\n"
              "             [--vmm-type QEMU|ec2|gce] [--kernel F [--initrd F] [--append CMDLINE]]\n"
              "             [--guest-features N]\n"
              "           or a claimed digest: --measurement HEX(48 bytes)\n"
              "           ID block verified at launch: --id-block FILE --id-auth FILE (raw, base64 or the\n"
              "             output of `confpool snp id-block`), or claimed: --id-key-digest HEX\n"
              "             [--author-key-digest HEX] [--family-id HEX] [--image-id HEX] [--guest-svn N]\n"
              "  set-tcb: --tcb SPEC          mask: [--chip-key] [--chip-id]     revoke: --serial HEX\n"
              "  export:  [--ark F] [--ask F] [--vcek F] [--crl F]\n"
              "  serve:   [--kds-port P] [--socket PATH] [--port-file F]\n",
              stderr);
        return 2;
}

static int parse_tcb(const char *s, cp_snp_generation g, cp_snp_tcb *ret) {
        cp_snp_tcb t = { .has_fmc = g == CP_SNP_GEN_TURIN };
        unsigned seen = 0;
        char buf[128];
        snprintf(buf, sizeof(buf), "%s", s);
        for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
                char *eq = strchr(tok, '='), *end = NULL;
                if (!eq)
                        return -1;
                *eq = 0;
                unsigned long v = strtoul(eq + 1, &end, 10);
                if (!eq[1] || *end || v > 255)
                        return -1;
                if (!strcmp(tok, "bl"))
                        t.bl = (uint8_t) v, seen |= 1;
                else if (!strcmp(tok, "tee"))
                        t.tee = (uint8_t) v, seen |= 2;
                else if (!strcmp(tok, "snp"))
                        t.snp = (uint8_t) v, seen |= 4;
                else if (!strcmp(tok, "ucode"))
                        t.ucode = (uint8_t) v, seen |= 8;
                else if (!strcmp(tok, "fmc") && t.has_fmc)
                        t.fmc = (uint8_t) v, seen |= 16;
                else
                        return -1;
        }
        if ((seen & 15) != 15)
                return -1;
        *ret = t;
        return 0;
}

static int parse_hex(const char *s, uint8_t *out, size_t n) {
        size_t got = 0;
        if (strlen(s) != 2 * n || cp_hex_decode(s, strlen(s), out, n, &got) < 0 || got != n) {
                cp_error_clear();
                fprintf(stderr, "confpool-amdspd: expected %zu hex bytes\n", n);
                return -1;
        }
        return 0;
}

/* Strict unsigned number (any base), as `confpool snp measure` parses them. */
static int parse_num(const char *what, const char *s, uint64_t max, uint64_t *ret) {
        char *end = NULL;
        errno = 0;
        unsigned long long v = strtoull(s, &end, 0);
        if (!*s || *s == '-' || *end || errno || v > max) {
                fprintf(stderr, "confpool-amdspd: invalid %s '%s'\n", what, s);
                return -1;
        }
        *ret = v;
        return 0;
}

/* An ID block / ID auth file: the raw structure (exactly `want` bytes),
 * base64 text, or the `id-block=B64,id-auth=B64` line printed by
 * `confpool snp id-block` (key selects the field).  The decoded length is
 * returned as is: cp_snp_id_auth_verify() rejects wrong sizes. */
static int read_id_file(const char *path, const char *key, size_t want, uint8_t **ret, size_t *ret_len) {
        _cleanup_free_ uint8_t *d = NULL;
        size_t n = 0;
        if (cp_read_file(path, 64 * 1024, &d, &n) < 0)
                return fail(path) ? -1 : -1;
        if (n == want) {
                *ret = TAKE_PTR(d);
                *ret_len = n;
                return 0;
        }
        _cleanup_free_ char *text = malloc(n + 1);
        if (!text)
                return -1;
        memcpy(text, d, n);
        text[n] = 0;
        char prefix[32];
        snprintf(prefix, sizeof(prefix), "%s=", key);
        const char *b = strstr(text, prefix);
        b = b ? b + strlen(prefix) : text;
        while (*b == ' ' || *b == '\t' || *b == '\n' || *b == '\r')
                b++;
        size_t len = strcspn(b, ", \t\r\n");
        uint8_t *out = malloc(cp_b64_decoded_max(len) + 1);
        size_t got = 0;
        if (!out)
                return -1;
        if (cp_b64_decode(b, len, CP_B64_STD, out, cp_b64_decoded_max(len) + 1, &got) < 0) {
                free(out);
                fprintf(stderr, "confpool-amdspd: %s: not a %zu-byte %s (raw or base64)\n", path, want, key);
                return -1;
        }
        *ret = out;
        *ret_len = got;
        return 0;
}

static int write_out(const char *path, const uint8_t *d, size_t n) {
        if (cp_write_file(path, d, n, 0644) < 0)
                return fail(path);
        return 0;
}

/* what: 0 ARK, 1 ASK, 2 current VCEK, 3 fresh CRL */
static int export_one(cp_amdsp *sp, int what, const char *path) {
        _cleanup_free_ uint8_t *d = NULL;
        size_t n = 0;
        int r = what == 0   ? cp_amdsp_ca_cert(sp, CP_AMD_CERT_ARK, &d, &n)
                : what == 1 ? cp_amdsp_ca_cert(sp, CP_AMD_CERT_ASK, &d, &n)
                : what == 2 ? cp_amdsp_vcek(sp, NULL, &d, &n)
                            : cp_amdsp_crl(sp, 0, &d, &n);
        if (r < 0)
                return fail(path) ? -1 : -1;
        return write_out(path, d, n) ? -1 : 0;
}

static int serve(cp_amdsp *sp, long kds_port, const char *sock_path, const char *port_file) {
        cp_httpd *d = NULL;
        int lfd = -1, rc = 1;
        struct sigaction sa = { .sa_handler = on_signal };
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGINT, &sa, NULL);
        signal(SIGPIPE, SIG_IGN);

        if (kds_port >= 0 && cp_amdsp_kds_start(sp, NULL, (uint16_t) kds_port, &d) < 0)
                return fail("KDS endpoint");
        if (sock_path) {
                struct sockaddr_un un = { .sun_family = AF_UNIX };
                if (strlen(sock_path) >= sizeof(un.sun_path)) {
                        fprintf(stderr, "confpool-amdspd: socket path too long\n");
                        goto out;
                }
                strcpy(un.sun_path, sock_path);
                (void) unlink(sock_path);
                lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
                if (lfd < 0 || bind(lfd, (struct sockaddr *) &un, sizeof(un)) < 0 || listen(lfd, 16) < 0) {
                        fprintf(stderr, "confpool-amdspd: %s: %s\n", sock_path, strerror(errno));
                        goto out;
                }
        }
        if (port_file) {
                char buf[32];
                int n = snprintf(buf, sizeof(buf), "%u\n", d ? cp_httpd_port(d) : 0);
                if (cp_write_file(port_file, buf, (size_t) n, 0644) < 0) {
                        fail(port_file);
                        goto out;
                }
        }
        fprintf(stderr, "confpool-amdspd: serving (KDS port %u, socket %s)\n", d ? cp_httpd_port(d) : 0,
                sock_path ? sock_path : "none");
        while (!stop) {
                struct pollfd p = { .fd = lfd, .events = POLLIN };
                int k = poll(&p, lfd >= 0 ? 1 : 0, 500);
                if (k <= 0)
                        continue;
                int cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
                if (cfd < 0)
                        continue;
                struct timeval tv = { .tv_sec = 5 };
                setsockopt(cfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
                if (cp_amdsp_serve_conn(sp, cfd) < 0)
                        fprintf(stderr, "confpool-amdspd: request refused: %s\n", cp_error_message());
                close(cfd);
        }
        rc = 0;
out:
        if (lfd >= 0) {
                close(lfd);
                (void) unlink(sock_path);
        }
        cp_httpd_stop(d);
        return rc;
}

int main(int argc, char **argv) {
        static const struct option opts[] = {
                { "state-dir", required_argument, NULL, 'd' },   { "generation", required_argument, NULL, 'G' },
                { "tcb", required_argument, NULL, 't' },         { "vlek-csp", required_argument, NULL, 'V' },
                { "report-version", required_argument, NULL, 'R' }, { "measurement", required_argument, NULL, 'm' },
                { "secrets-out", required_argument, NULL, 'o' }, { "policy", required_argument, NULL, 'p' },
                { "host-data", required_argument, NULL, 'H' },   { "id-key-digest", required_argument, NULL, 'i' },
                { "author-key-digest", required_argument, NULL, 'a' }, { "family-id", required_argument, NULL, 'f' },
                { "image-id", required_argument, NULL, 'I' },    { "guest-svn", required_argument, NULL, 's' },
                { "vmpl", required_argument, NULL, 'v' },        { "chip-key", no_argument, NULL, 'K' },
                { "chip-id", no_argument, NULL, 'C' },           { "serial", required_argument, NULL, 'S' },
                { "ark", required_argument, NULL, 'A' },         { "ask", required_argument, NULL, 'B' },
                { "vcek", required_argument, NULL, 'E' },        { "crl", required_argument, NULL, 'L' },
                { "kds-port", required_argument, NULL, 'P' },    { "socket", required_argument, NULL, 'U' },
                { "port-file", required_argument, NULL, 'F' },   { "ovmf", required_argument, NULL, O_OVMF },
                { "mode", required_argument, NULL, O_MODE },     { "vcpus", required_argument, NULL, O_VCPUS },
                { "vcpu-type", required_argument, NULL, O_VCPU_TYPE }, { "vcpu-sig", required_argument, NULL, O_VCPU_SIG },
                { "vmm-type", required_argument, NULL, O_VMM_TYPE }, { "kernel", required_argument, NULL, O_KERNEL },
                { "initrd", required_argument, NULL, O_INITRD }, { "append", required_argument, NULL, O_APPEND },
                { "guest-features", required_argument, NULL, O_FEATURES },
                { "id-block", required_argument, NULL, O_ID_BLOCK }, { "id-auth", required_argument, NULL, O_ID_AUTH },
                { 0 },
        };
        const char *ovmf = NULL, *mode_s = NULL, *vcpu_type = NULL, *vmm_s = NULL, *kernel = NULL, *initrd = NULL,
                   *append = NULL, *id_block = NULL, *id_auth = NULL;
        uint64_t vcpus = 0, vcpu_sig = 0, features = CP_SNP_DEFAULT_GUEST_FEATURES, num = 0;
        bool have_vcpus = false, have_sig = false, have_features = false, claimed_keys = false;
        const char *dir = NULL, *gen = NULL, *tcb = NULL, *csp = NULL, *meas = NULL, *secrets_out = NULL,
                   *serial = NULL, *ark = NULL, *ask = NULL, *vcek = NULL, *crl = NULL, *sock = NULL, *port_file = NULL;
        cp_amdsp_launch l = { .policy = 0x30000 };
        bool mask_key = false, mask_id = false;
        unsigned long rv = 0;
        long kds_port = -1;
        int c;

        if (argc < 2)
                return usage();
        const char *cmd = argv[1];
        optind = 2;
        while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
                switch (c) {
                case 'd': dir = optarg; break;
                case 'G': gen = optarg; break;
                case 't': tcb = optarg; break;
                case 'V': csp = optarg; break;
                case 'R': rv = strtoul(optarg, NULL, 10); break;
                case 'm': meas = optarg; break;
                case 'o': secrets_out = optarg; break;
                case 'p': l.policy = strtoull(optarg, NULL, 0); break;
                case 'H': if (parse_hex(optarg, l.host_data, 32) < 0) return 2; break;
                case 'i':
                        if (parse_hex(optarg, l.id_key_digest, 48) < 0)
                                return 2;
                        l.has_id_block = claimed_keys = true;
                        break;
                case 'a':
                        if (parse_hex(optarg, l.author_key_digest, 48) < 0)
                                return 2;
                        l.author_key_en = l.has_id_block = claimed_keys = true;
                        break;
                case 'f': if (parse_hex(optarg, l.family_id, 16) < 0) return 2; l.has_id_block = true; break;
                case 'I': if (parse_hex(optarg, l.image_id, 16) < 0) return 2; l.has_id_block = true; break;
                case 's':
                        if (parse_num("--guest-svn", optarg, UINT32_MAX, &num) < 0)
                                return 2;
                        l.guest_svn = (uint32_t) num;
                        break;
                case 'v': l.min_vmpl = (unsigned) strtoul(optarg, NULL, 10); break;
                case 'K': mask_key = true; break;
                case 'C': mask_id = true; break;
                case 'S': serial = optarg; break;
                case 'A': ark = optarg; break;
                case 'B': ask = optarg; break;
                case 'E': vcek = optarg; break;
                case 'L': crl = optarg; break;
                case 'P': kds_port = strtol(optarg, NULL, 10); break;
                case 'U': sock = optarg; break;
                case 'F': port_file = optarg; break;
                case O_OVMF: ovmf = optarg; break;
                case O_MODE: mode_s = optarg; break;
                case O_VCPUS:
                        if (parse_num("--vcpus", optarg, CP_SNP_MAX_VCPUS, &vcpus) < 0)
                                return 2;
                        have_vcpus = true;
                        break;
                case O_VCPU_TYPE: vcpu_type = optarg; break;
                case O_VCPU_SIG:
                        if (parse_num("--vcpu-sig", optarg, UINT32_MAX, &vcpu_sig) < 0)
                                return 2;
                        have_sig = true;
                        break;
                case O_VMM_TYPE: vmm_s = optarg; break;
                case O_KERNEL: kernel = optarg; break;
                case O_INITRD: initrd = optarg; break;
                case O_APPEND: append = optarg; break;
                case O_FEATURES:
                        if (parse_num("--guest-features", optarg, UINT64_MAX, &features) < 0)
                                return 2;
                        have_features = true;
                        break;
                case O_ID_BLOCK: id_block = optarg; break;
                case O_ID_AUTH: id_auth = optarg; break;
                default: return usage();
                }
        }
        if (!dir || optind != argc)
                return usage();

        _cleanup_(cp_amdsp_freep) cp_amdsp *sp = NULL;
        if (!strcmp(cmd, "init")) {
                cp_amdsp_config cfg = { .generation = cp_snp_generation_from_name(gen), .vlek_csp_id = csp,
                                        .report_version = (uint32_t) rv };
                if (!tcb || parse_tcb(tcb, cfg.generation, &cfg.tcb) < 0) {
                        fprintf(stderr, "confpool-amdspd: init needs --generation and a valid --tcb\n");
                        return 2;
                }
                if (cp_amdsp_open(dir, &cfg, &sp) < 0)
                        return fail(dir);
                uint8_t chip[64];
                char hex[129];
                cp_amdsp_chip_id(sp, chip);
                cp_hex_encode(chip, 64, hex);
                printf("%s %s\n", cp_snp_generation_name(cp_amdsp_generation(sp)), hex);
                return 0;
        }
        if (cp_amdsp_open(dir, NULL, &sp) < 0)
                return fail(dir);
        if (!strcmp(cmd, "launch")) {
                uint8_t page[CP_SNP_SECRETS_PAGE_SIZE];
                _cleanup_free_ uint8_t *blk = NULL, *auth = NULL;
                cp_snp_measure_params mp;
                cp_snp_kernel_hashes kh;
                uint32_t h;
                if (!secrets_out || (!meas == !ovmf)) {
                        fprintf(stderr, "confpool-amdspd: launch needs --secrets-out and either --ovmf (measured "
                                        "by the AMD-SP) or --measurement (96 hex)\n");
                        return 2;
                }
                if (meas && parse_hex(meas, l.measurement, 48) < 0)
                        return 2;
                if (meas && (mode_s || have_vcpus || vcpu_type || have_sig || vmm_s || kernel || initrd || append ||
                             have_features)) {
                        fprintf(stderr, "confpool-amdspd: measurement options need --ovmf, not --measurement\n");
                        return 2;
                }
                if (ovmf) {
                        cp_snp_measure_params_init(&mp);
                        if (mode_s && cp_snp_measure_mode_from_name(mode_s, &mp.mode) < 0)
                                return fail("--mode");
                        if (vmm_s && cp_snp_vmm_type_from_name(vmm_s, &mp.vmm) < 0)
                                return fail("--vmm-type");
                        if ((initrd || append) && !kernel) {
                                fprintf(stderr, "confpool-amdspd: --initrd and --append need --kernel\n");
                                return 2;
                        }
                        if (mp.mode != CP_SNP_MODE_OVMF_HASH) {
                                if (!have_vcpus) {
                                        fprintf(stderr, "confpool-amdspd: missing --vcpus N\n");
                                        return 2;
                                }
                                mp.vcpus = (unsigned) vcpus;
                                if (have_sig)
                                        mp.vcpu_sig = (uint32_t) vcpu_sig;
                                else if (vcpu_type) {
                                        if (cp_snp_vcpu_type_sig(vcpu_type, &mp.vcpu_sig) < 0)
                                                return fail("--vcpu-type");
                                } else if (mp.vmm == CP_SNP_VMM_QEMU) {
                                        fprintf(stderr, "confpool-amdspd: missing --vcpu-type or --vcpu-sig\n");
                                        return 2;
                                }
                                mp.guest_features = features;
                                if (kernel) {
                                        if (cp_snp_kernel_hashes_from_files(kernel, initrd, append, &kh) < 0)
                                                return fail("--kernel");
                                        mp.kernel_hashes = &kh;
                                }
                        }
                        l.measure = &mp;
                        l.ovmf_path = ovmf;
                }
                if (!id_block != !id_auth) {
                        fprintf(stderr, "confpool-amdspd: --id-block and --id-auth go together\n");
                        return 2;
                }
                if (id_block) {
                        if (claimed_keys) {
                                fprintf(stderr, "confpool-amdspd: --id-block excludes --id-key-digest / "
                                                "--author-key-digest\n");
                                return 2;
                        }
                        /* --family-id / --image-id / --guest-svn must then match the block */
                        l.has_id_block = false;
                        if (read_id_file(id_block, "id-block", CP_SNP_ID_BLOCK_SIZE, &blk, &l.id_block_len) < 0 ||
                            read_id_file(id_auth, "id-auth", CP_SNP_ID_AUTH_SIZE, &auth, &l.id_auth_len) < 0)
                                return 1;
                        l.id_block = blk;
                        l.id_auth = auth;
                }
                if (cp_amdsp_launch_guest(sp, &l, &h, page) < 0)
                        return fail("launch");
                int r = cp_write_file(secrets_out, page, sizeof(page), 0600);
                cp_wipe(page, sizeof(page));
                if (r < 0)
                        return fail(secrets_out);
                printf("%u\n", h);
                return 0;
        }
        if (!strcmp(cmd, "set-tcb")) {
                cp_snp_tcb t;
                if (!tcb || parse_tcb(tcb, cp_amdsp_generation(sp), &t) < 0)
                        return usage();
                return cp_amdsp_set_tcb(sp, &t) < 0 ? fail("set-tcb") : 0;
        }
        if (!strcmp(cmd, "mask"))
                return cp_amdsp_set_mask(sp, mask_key, mask_id) < 0 ? fail("mask") : 0;
        if (!strcmp(cmd, "revoke")) {
                uint8_t s[20];
                size_t n = 0;
                if (!serial || cp_hex_decode(serial, strlen(serial), s, sizeof(s), &n) < 0 || n == 0)
                        return usage();
                return cp_amdsp_revoke(sp, s, n) < 0 ? fail("revoke") : 0;
        }
        if (!strcmp(cmd, "export")) {
                if ((ark && export_one(sp, 0, ark) < 0) || (ask && export_one(sp, 1, ask) < 0) ||
                    (vcek && export_one(sp, 2, vcek) < 0) || (crl && export_one(sp, 3, crl) < 0))
                        return 1;
                return 0;
        }
        if (!strcmp(cmd, "serve"))
                return serve(sp, kds_port, sock, port_file);
        return usage();
}
