/* SPDX-License-Identifier: Apache-2.0 */
/* confpool-attestd: command line, configuration, signal handling. */

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "attestd/attestd.h"
#include "basic/fileio.h"
#include "basic/limits.h"
#include "confpool/snp_cert.h"
#include "service/testmode.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig) {
        (void) sig;
        stop = 1;
}

static char *read_text(const char *path) {
        uint8_t *buf = NULL;
        size_t len;
        if (cp_read_file(path, CP_MAX_INPUT_FILE, &buf, &len) < 0) {
                fprintf(stderr, "confpool-attestd: %s: %s\n", path, cp_error_message());
                exit(2);
        }
        return (char *) buf;
}

/* Everything main() read from files (borrowed by the service: free after it). */
static void config_free(cp_attestd_config *cfg) {
        for (size_t i = 0; i < CP_ATTESTD_MAX_EXTRA_ARKS; i++)
                free((void *) cfg->extra_arks[i]);
        for (size_t i = 0; i < CP_ATTESTD_MAX_CRLS; i++)
                free((void *) cfg->crls[i]);
        free((void *) cfg->tls_cert_pem);
        free((void *) cfg->tls_key_pem);
        free((void *) cfg->admin_token);
        free((void *) cfg->policy_signers_jwks);
        free((void *) cfg->tdx_trust_root);
}

static void usage(void) {
        puts("Usage: confpool-attestd [options]\n"
             "       confpool-attestd rotate-signing-key --signing-key-dir DIR [--alg ALG]\n"
             "  --bind ADDR            listen address (default 127.0.0.1; TLS required elsewhere)\n"
             "  --port N               port (default 0: ephemeral, printed on stdout)\n"
             "  --threads N            worker threads (default 4)\n"
             "  --issuer URL           token issuer (default http(s)://ADDR:PORT)\n"
             "  --token-lifetime S     token lifetime in seconds (default 28800)\n"
             "  --alg RS256|ES256|ES384  token signing algorithm (default RS256)\n"
             "  --signing-key-dir DIR  signing keys shared by replicas (PEM files; all live keys in /certs)\n"
             "  --tls-cert FILE --tls-key FILE  PEM certificate and key\n"
             "  --extra-ark FILE       also trust this ARK (emulated hosts, PEM or DER); repeatable\n"
             "  --only-extra-arks      trust the extra ARKs only, not AMD's (an emulated fleet)\n"
             "  --kds-url URL          fetch missing VCEKs from this KDS\n"
             "  --kds-cache DIR        VCEK and CRL cache directory\n"
             "  --crl FILE             KDS CRL (DER or PEM) of a trusted ARK, for both lines; repeatable\n"
             "  --check-revocation     refuse reports whose ASK/ASVK is revoked or has no valid CRL\n"
             "  --crl-max-age S        with --kds-url: refetch CRLs older than S seconds (default 86400)\n"
             "  --tdx-root FILE        trust this Intel SGX Root CA (PEM; an emulated TDX fleet) instead of Intel's\n"
             "  --tdx-pcs-url URL      PCS for TDX collateral (Intel's API v4 URL shapes; TdxVm refused without)\n"
             "  --tdx-collateral-max-age S  refetch TDX collateral older than S seconds (default 60)\n"
             "  --admin-token-file F   bearer token for policy management\n"
             "  --policy-signers F     JWKS: policy uploads must be signed by one of these keys\n"
             "  --test-mode            allow test-only options (logged as a warning; loopback only)\n"
             "  --now UNIX             with --test-mode: freeze the clock for certificates and tokens\n"
             "  --quiet                no request logs");
}

static const struct option options[] = {
        { "bind", required_argument, NULL, 'b' },         { "port", required_argument, NULL, 'p' },
        { "threads", required_argument, NULL, 't' },      { "issuer", required_argument, NULL, 'i' },
        { "token-lifetime", required_argument, NULL, 'l' }, { "alg", required_argument, NULL, 'a' },
        { "tls-cert", required_argument, NULL, 'C' },     { "tls-key", required_argument, NULL, 'K' },
        { "extra-ark", required_argument, NULL, 'A' },    { "kds-url", required_argument, NULL, 'U' },
        { "kds-cache", required_argument, NULL, 'D' },    { "admin-token-file", required_argument, NULL, 'T' },
        { "policy-signers", required_argument, NULL, 'S' }, { "now", required_argument, NULL, 'n' },
        { "quiet", no_argument, NULL, 'q' },
        { "only-extra-arks", no_argument, NULL, 'O' },              { "help", no_argument, NULL, 'h' },
        { "crl", required_argument, NULL, 'R' },          { "check-revocation", no_argument, NULL, 'V' },
        { "crl-max-age", required_argument, NULL, 'M' }, { "test-mode", no_argument, NULL, 'X' },
        { "tdx-root", required_argument, NULL, 'I' },     { "tdx-pcs-url", required_argument, NULL, 'P' },
        { "tdx-collateral-max-age", required_argument, NULL, 'Y' },
        { "signing-key-dir", required_argument, NULL, 'G' },
        { 0 },
};

/* --extra-ark: PEM or DER (DER holds NUL bytes, so the length is the file's). */
static int add_ark(cp_attestd_config *cfg, size_t *n_arks, const char *path) {
        uint8_t *ark = NULL;
        size_t ark_len = 0;
        if (*n_arks == CP_ATTESTD_MAX_EXTRA_ARKS) {
                fprintf(stderr, "confpool-attestd: at most %d extra ARKs\n", CP_ATTESTD_MAX_EXTRA_ARKS);
                return -1;
        }
        if (cp_read_file(path, CP_MAX_INPUT_FILE, &ark, &ark_len) < 0) {
                fprintf(stderr, "confpool-attestd: %s: %s\n", path, cp_error_message());
                return -1;
        }
        cfg->extra_arks[*n_arks] = ark;
        cfg->extra_ark_lens[(*n_arks)++] = ark_len;
        return 0;
}

/* --crl: the format is checked here, with the file's name; trust when the service starts. */
static int add_crl(cp_attestd_config *cfg, size_t *n_crls, const char *path) {
        uint8_t *crl = NULL;
        size_t crl_len = 0;
        cp_amd_crl *probe = NULL;
        if (*n_crls == CP_ATTESTD_MAX_CRLS) {
                fprintf(stderr, "confpool-attestd: at most %d CRLs\n", CP_ATTESTD_MAX_CRLS);
                return -1;
        }
        if (cp_read_file(path, CP_MAX_INPUT_FILE, &crl, &crl_len) < 0 || cp_amd_crl_load(crl, crl_len, &probe) < 0) {
                fprintf(stderr, "confpool-attestd: CRL %s: %s\n", path, cp_error_message());
                free(crl);
                return -1;
        }
        cp_amd_crl_free(probe);
        cfg->crls[*n_crls] = crl;
        cfg->crl_lens[(*n_crls)++] = crl_len;
        return 0;
}

/* --tdx-root: one PEM certificate (checked when a quote is verified). */
static int read_tdx_root(cp_attestd_config *cfg, const char *path) {
        uint8_t *pem = NULL;
        size_t len = 0;
        if (cfg->tdx_trust_root) {
                fprintf(stderr, "confpool-attestd: --tdx-root given twice\n");
                return -1;
        }
        if (cp_read_file(path, CP_MAX_INPUT_FILE, &pem, &len) < 0 || len < 27 ||
            memmem(pem, len, "-----BEGIN CERTIFICATE-----", 27) == NULL) {
                fprintf(stderr, "confpool-attestd: --tdx-root %s: %s\n", path,
                        pem ? "not a PEM certificate" : cp_error_message());
                free(pem);
                return -1;
        }
        cfg->tdx_trust_root = pem;
        cfg->tdx_trust_root_len = len;
        return 0;
}

static int parse_max_age(const char *arg, unsigned *ret) {
        char *end = NULL;
        unsigned long v = strtoul(arg, &end, 10);
        if (!end || *end || v == 0 || v > 365ul * 86400) {
                fprintf(stderr, "confpool-attestd: --crl-max-age: 1..31536000 seconds\n");
                return -1;
        }
        *ret = (unsigned) v;
        return 0;
}

/* The configuration from the command line: 0, 1 after --help, -1 on a bad
 * argument (reported). */
static int parse_args(int argc, char **argv, cp_attestd_config *cfg) {
        size_t n_arks = 0, n_crls = 0;
        bool test_mode = false;
        int c, r = 0;
        while (r == 0 && (c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
                switch (c) {
                case 'b': cfg->bind_addr = optarg; break;
                case 'p': cfg->port = (uint16_t) atoi(optarg); break;
                case 't': cfg->threads = (unsigned) atoi(optarg); break;
                case 'i': cfg->issuer = optarg; break;
                case 'l': cfg->token_lifetime_s = (unsigned) atoi(optarg); break;
                case 'a':
                        if (cp_jwt_alg_from_name(optarg, &cfg->alg) < 0) {
                                fprintf(stderr, "confpool-attestd: %s\n", cp_error_message());
                                r = -1;
                        }
                        break;
                case 'C': cfg->tls_cert_pem = read_text(optarg); break;
                case 'K': cfg->tls_key_pem = read_text(optarg); break;
                case 'A': r = add_ark(cfg, &n_arks, optarg); break;
                case 'O': cfg->only_extra_arks = true; break;
                case 'R': r = add_crl(cfg, &n_crls, optarg); break;
                case 'V': cfg->check_revocation = true; break;
                case 'M': r = parse_max_age(optarg, &cfg->crl_max_age_s); break;
                case 'U': cfg->kds_base_url = optarg; break;
                case 'I': r = read_tdx_root(cfg, optarg); break;
                case 'P': cfg->tdx_pcs_url = optarg; break;
                case 'Y': r = parse_max_age(optarg, &cfg->tdx_collateral_max_age_s); break;
                case 'G': cfg->signing_key_dir = optarg; break;
                case 'D': cfg->kds_cache_dir = optarg; break;
                case 'T': {
                        char *t = read_text(optarg);
                        t[strcspn(t, "\r\n")] = '\0';
                        cfg->admin_token = t;
                        break;
                }
                case 'S': cfg->policy_signers_jwks = read_text(optarg); break;
                case 'n': r = cp_test_mode_parse_now("confpool-attestd", optarg, &cfg->now); break;
                case 'X': test_mode = true; break;
                case 'q': cfg->quiet = true; break;
                case 'h': usage(); return 1;
                default: usage(); return -1;
                }
        }
        if (r == 0 && optind < argc) {
                fprintf(stderr, "confpool-attestd: unexpected argument %s\n", argv[optind]);
                r = -1;
        }
        if (r == 0)
                r = cp_test_mode_check("confpool-attestd", test_mode, cfg->bind_addr, cfg->now);
        return r;
}

/* confpool-attestd rotate-signing-key --signing-key-dir DIR [--alg ALG]:
 * a new key for the replicas of DIR (they sign with it within 15 s). */
static int rotate_signing_key(int argc, char **argv) {
        static const struct option opts[] = {
                { "signing-key-dir", required_argument, NULL, 'G' },
                { "alg", required_argument, NULL, 'a' },
                { "help", no_argument, NULL, 'h' },
                { NULL, 0, NULL, 0 },
        };
        const char *dir = NULL;
        cp_jwt_alg alg = CP_JWT_RS256;
        int c;
        optind = 2;
        while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
                switch (c) {
                case 'G': dir = optarg; break;
                case 'a':
                        if (cp_jwt_alg_from_name(optarg, &alg) < 0) {
                                fprintf(stderr, "confpool-attestd: %s\n", cp_error_message());
                                return 2;
                        }
                        break;
                case 'h':
                        puts("Usage: confpool-attestd rotate-signing-key --signing-key-dir DIR [--alg RS256|ES256|ES384]\n"
                             "  a new token-signing key for the replicas of DIR (the --alg they run with): listed in\n"
                             "  their /certs within 5 s, signing once 10 s old; the old key stays listed while its\n"
                             "  tokens live");
                        return 0;
                default: return 2;
                }
        }
        if (!dir || optind < argc) {
                fprintf(stderr, "confpool-attestd: rotate-signing-key --signing-key-dir DIR [--alg ALG]\n");
                return 2;
        }
        if (cp_attestd_keydir_rotate(dir, alg) < 0) {
                fprintf(stderr, "confpool-attestd: rotate-signing-key: %s\n", cp_error_message());
                return 1;
        }
        puts("{\"rotated\":true}");
        return 0;
}

int main(int argc, char **argv) {
        cp_attestd_config cfg = { 0 };
        if (argc > 1 && !strcmp(argv[1], "rotate-signing-key"))
                return rotate_signing_key(argc, argv);
        int r = parse_args(argc, argv, &cfg);
        if (r != 0) {
                config_free(&cfg);
                return r > 0 ? 0 : 2;
        }
        /* SIGINT/SIGTERM blocked before the server threads exist (they inherit the mask) and
         * delivered only inside sigsuspend: no lost wake-up between the test and the wait, and
         * none taken by a server thread */
        sigset_t block, old;
        sigemptyset(&block);
        sigaddset(&block, SIGINT);
        sigaddset(&block, SIGTERM);
        sigprocmask(SIG_BLOCK, &block, &old);
        sigdelset(&old, SIGINT);
        sigdelset(&old, SIGTERM);
        signal(SIGINT, on_signal);
        signal(SIGTERM, on_signal);
        cp_attestd *s = NULL;
        if (cp_attestd_new(&cfg, &s) < 0 || cp_attestd_start(s) < 0) {
                fprintf(stderr, "confpool-attestd: %s\n", cp_error_message());
                cp_attestd_free(s);
                config_free(&cfg);
                return 1;
        }
        printf("{\"port\":%u,\"issuer\":\"%s\"}\n", (unsigned) cp_attestd_port(s), cp_attestd_issuer(s));
        fflush(stdout);
        while (!stop)
                sigsuspend(&old);
        cp_attestd_free(s);
        config_free(&cfg);
        return 0;
}
