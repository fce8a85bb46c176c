/* SPDX-License-Identifier: Apache-2.0 */
/* confpool-kbsd command line. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "basic/codec.h"
#include "basic/fileio.h"
#include "basic/secure.h"
#include "kbsd/kbsd.h"
#include "service/testmode.h"

static volatile sig_atomic_t stop;
static void on_signal(int sig) {
        (void) sig;
        stop = 1;
}

static void usage(void) {
        puts("Usage: confpool-kbsd [options]\n"
             "       confpool-kbsd rotate-master-key --db FILE --master-key-file F --new-master-key-file F\n"
             "  --db FILE|URL             the store: a SQLite file (sqlite:PATH or PATH), or postgresql://...\n"
             "                            shared by several replicas (docs/scale-out.md) (required)\n"
             "  --master-key-file F       32-byte master key, hex (file mode 0600 required)\n"
             "                            or CONFPOOL_KBSD_MASTER_KEY=<64 hex digits>\n"
             "  --bind ADDR --port N      listen address (default 127.0.0.1, ephemeral port)\n"
             "  --tls-cert F --tls-key F  TLS (required off loopback)\n"
             "  --authority ISSUER=SRC    trusted attestation authority; SRC a JWKS file or an\n"
             "                            http(s) URL of its /certs, fetched in the background and\n"
             "                            refreshed (key rollover; repeatable)\n"
             "  --admin-token-file F      bearer secret with admin scope\n"
             "  --release-token-file F    bearer secret with release scope\n"
             "  --signing-key F           PEM RSA key signing release responses (default: generated)\n"
             "  --audit-file F            JSON-lines copy of the audit log\n"
             "  --recovery-days N         soft-delete retention (default 90)\n"
             "  --test-mode               allow test-only options (logged as a warning; loopback only)\n"
             "  --now UNIX                with --test-mode: freeze the clock (tokens, audit)\n"
             "  --quiet");
}

static char *read_text(const char *path) {
        uint8_t *b = NULL;
        size_t n;
        if (cp_read_file(path, 1 << 20, &b, &n) < 0) {
                fprintf(stderr, "confpool-kbsd: cannot read %s: %s\n", path, cp_error_message());
                exit(1);
        }
        while (n && (b[n - 1] == '\n' || b[n - 1] == '\r'))
                b[--n] = 0;
        return (char *) b;
}

static int load_master(const char *path, const char *env, uint8_t out[32]) {
        char *txt = NULL;
        size_t n;
        int r;
        if (path) {
                struct stat st;
                if (stat(path, &st) < 0 || (st.st_mode & 077)) {
                        fprintf(stderr, "confpool-kbsd: master key file %s must exist with mode 0600\n", path);
                        return -1;
                }
                txt = read_text(path);
        } else if (env && getenv(env))
                txt = strdup(getenv(env));
        if (!txt) {
                fprintf(stderr, "confpool-kbsd: no master key (--master-key-file or %s)\n", env ? env : "");
                return -1;
        }
        r = cp_hex_decode(txt, strlen(txt), out, 32, &n);
        cp_wipe(txt, strlen(txt));
        free(txt);
        if (r < 0 || n != 32) {
                fprintf(stderr, "confpool-kbsd: the master key must be 64 hex digits\n");
                return -1;
        }
        return 0;
}

/* --authority ISSUER=JWKS-FILE|URL.  arg is not split in place: that
 * would change /proc/PID/cmdline, from which an operator (and
 * tests/cli/key-rotation.sh) restarts the daemon with its command line.
 * The issuer copy lives as long as the process. */
static int add_authority(cp_kbsd_config *cfg, const char *arg) {
        const char *eq = strchr(arg, '=');
        char *issuer = eq ? strndup(arg, (size_t) (eq - arg)) : NULL;
        if (!issuer || cfg->n_authorities >= CP_KBSD_MAX_AUTHORITIES) {
                fprintf(stderr, "confpool-kbsd: --authority ISSUER=JWKS-FILE|URL\n");
                free(issuer);
                return -1;
        }
        cfg->authorities[cfg->n_authorities].issuer = issuer;
        /* a URL is fetched in the background (the authority may be down now) and refreshed */
        if (strncmp(eq + 1, "http", 4) == 0)
                cfg->authorities[cfg->n_authorities].jwks_url = eq + 1;
        else
                cfg->authorities[cfg->n_authorities].jwks_json = read_text(eq + 1);
        cfg->n_authorities++;
        return 0;
}

/* rotate-master-key: re-seal the database offline; mk is wiped. */
static int rotate_master_key(const char *db_path, uint8_t mk[32], const char *nk_file) {
        uint8_t nk[32];
        if (!nk_file || load_master(nk_file, NULL, nk) < 0) {
                cp_wipe(mk, 32);
                return 2;
        }
        int r = cp_kbsd_rekey_db(db_path, mk, nk);
        cp_wipe(mk, 32);
        cp_wipe(nk, 32);
        if (r < 0) {
                fprintf(stderr, "confpool-kbsd: rotate-master-key: %s\n", cp_error_message());
                return 1;
        }
        puts("{\"rotated\":true}");
        return 0;
}

int main(int argc, char **argv) {
        cp_kbsd_config cfg = { 0 };
        uint8_t mk[32];
        const char *mk_file = NULL, *nk_file = NULL;
        char *admin = NULL, *rel = NULL, *cert = NULL, *key = NULL, *sign = NULL;
        bool test_mode = false;
        bool rotate = argc > 1 && !strcmp(argv[1], "rotate-master-key");
        static const struct option opts[] = {
                { "db", required_argument, NULL, 'd' },         { "master-key-file", required_argument, NULL, 'm' },
                { "new-master-key-file", required_argument, NULL, 'M' },
                { "bind", required_argument, NULL, 'b' },       { "port", required_argument, NULL, 'p' },
                { "tls-cert", required_argument, NULL, 'c' },   { "tls-key", required_argument, NULL, 'k' },
                { "authority", required_argument, NULL, 'a' },  { "admin-token-file", required_argument, NULL, 'A' },
                { "release-token-file", required_argument, NULL, 'R' },
                { "signing-key", required_argument, NULL, 's' }, { "audit-file", required_argument, NULL, 'l' },
                { "recovery-days", required_argument, NULL, 'r' }, { "now", required_argument, NULL, 'n' },
                { "test-mode", no_argument, NULL, 'X' },
                { "quiet", no_argument, NULL, 'q' },            { "help", no_argument, NULL, 'h' },
                { 0 },
        };
        int c;
        if (rotate) {
                argc--;
                argv++;
        }
        while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
                switch (c) {
                case 'd': cfg.db_path = optarg; break;
                case 'm': mk_file = optarg; break;
                case 'M': nk_file = optarg; break;
                case 'b': cfg.bind_addr = optarg; break;
                case 'p': cfg.port = (uint16_t) atoi(optarg); break;
                case 'c': cfg.tls_cert_pem = cert = read_text(optarg); break;
                case 'k': cfg.tls_key_pem = key = read_text(optarg); break;
                case 'a':
                        if (add_authority(&cfg, optarg) < 0)
                                return 2;
                        break;
                case 'A': admin = read_text(optarg); break;
                case 'R': rel = read_text(optarg); break;
                case 's': cfg.signing_key_pem = sign = read_text(optarg); break;
                case 'l': cfg.audit_path = optarg; break;
                case 'r': cfg.recovery_days = (unsigned) atoi(optarg); break;
                case 'n':
                        if (cp_test_mode_parse_now("confpool-kbsd", optarg, &cfg.now) < 0)
                                return 2;
                        break;
                case 'X': test_mode = true; break;
                case 'q': cfg.quiet = true; break;
                case 'h': usage(); return 0;
                default: usage(); return 2;
                }
        }
        if (!cfg.db_path) {
                usage();
                return 2;
        }
        if (cp_test_mode_check("confpool-kbsd", test_mode, cfg.bind_addr, cfg.now) < 0)
                return 2;
        if (load_master(mk_file, "CONFPOOL_KBSD_MASTER_KEY", mk) < 0)
                return 1;
        if (rotate)
                return rotate_master_key(cfg.db_path, mk, nk_file);
        cfg.master_key = mk;
        if (admin)
                cfg.tokens[cfg.n_tokens++] = (cp_kbsd_token){ .name = "admin", .token = admin, .scope = CP_KBSD_SCOPE_ADMIN };
        if (rel)
                cfg.tokens[cfg.n_tokens++] = (cp_kbsd_token){ .name = "release", .token = rel, .scope = CP_KBSD_SCOPE_RELEASE };
        cp_kbsd *s = NULL;
        int rc = 0;
        if (cp_kbsd_new(&cfg, &s) < 0 || cp_kbsd_start(s) < 0) {
                /* refused (e.g. a database of another program's schema): the
                 * keys and tokens read are wiped and freed as on a stop */
                fprintf(stderr, "confpool-kbsd: %s\n", cp_error_message());
                rc = 1;
        }
        cp_wipe(mk, 32);
        if (admin)
                cp_wipe(admin, strlen(admin));
        if (rel)
                cp_wipe(rel, strlen(rel));
        if (rc == 0) {
                signal(SIGINT, on_signal);
                signal(SIGTERM, on_signal);
                printf("{\"port\":%u}\n", (unsigned) cp_kbsd_port(s));
                fflush(stdout);
                while (!stop)
                        pause();
        }
        cp_kbsd_free(s);
        free(admin);
        free(rel);
        free(cert);
        if (key)
                cp_wipe(key, strlen(key));
        free(key);
        free(sign);
        return rc;
}
