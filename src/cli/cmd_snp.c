/* SPDX-License-Identifier: Apache-2.0 */
/*
 * confpool snp show FILE [-o json|text]
 * confpool snp verify FILE [--vcek F] [--ask F] [--certs DIR] [--policy F] [--now T]
 *                          [--product P] [--crl F] [--check-revocation] [--offline]
 *                          [--kds-url URL] [--cache DIR] [--trust-ark F] [-o json|text]
 * confpool snp fetch ca|vcek|crl ...
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "basic/cleanup.h"
#include "basic/fileio.h"
#include "basic/limits.h"
#include "cli/cli.h"
#include "cli/cmd_snp_measure.h"
#include "confpool/snp_cert.h"
#include "confpool/snp_policy.h"
#include "confpool/snp_verify.h"
#include "cli/evidence.h"
#include "service/kds.h"
#include "cli/snp_json.h"

static void snp_usage(FILE *f) {
        fputs("usage: confpool snp show FILE [-o text|json]\n"
              "       confpool snp verify FILE [options]\n"
              "       confpool snp fetch ca|crl --product NAME [--vlek] [-O FILE] [--kds-url URL] [--cache DIR]\n"
              "       confpool snp fetch vcek FILE [--product NAME] [-O FILE] [--kds-url URL] [--cache DIR]\n"
              "       confpool snp report OUT [options]   (guest side: get a report; see --help)\n"
              "       confpool snp measure --mode MODE --ovmf PATH [options]   (see 'snp measure --help')\n"
              "       confpool snp id-block [create|verify] [options]          (see 'snp id-block --help')\n"
              "\n"
              "FILE is a bare report (1184 bytes), an extended report (report followed by the\n"
              "SNP_GET_EXT_REPORT certificate table) or an Azure HCL report (vTPM NV 0x01400001).\n"
              "\n"
              "verify options:\n"
              "  --vcek FILE         VCEK or VLEK certificate (DER or PEM)\n"
              "  --ask FILE          ASK/ASVK certificate or KDS cert_chain bundle\n"
              "  --certs DIR         directory with vcek.{der,pem} / vlek.{der,pem} / ask.pem / cert_chain.pem / crl.der\n"
              "  --policy FILE       validation policy (JSON, see docs/policy.md)\n"
              "  --now TIME          check validity at TIME (Unix seconds or YYYY-MM-DD[THH:MM:SSZ])\n"
              "  --product NAME      require Milan, Genoa or Turin (needed for some v2 reports)\n"
              "  --crl FILE          KDS CRL (DER) for the product; implies --check-revocation\n"
              "  --check-revocation  require a valid CRL (fetched from the KDS unless --offline)\n"
              "  --offline           never fetch; use given files and the cache only\n"
              "  --kds-url URL       KDS base URL (default https://kdsintf.amd.com)\n"
              "  --cache DIR         KDS cache directory (default $XDG_CACHE_HOME/confpool/kds)\n"
              "  --trust-ark FILE    trust this ARK instead of AMD's (emulated AMD-SP); never for production\n"
              "  --backend NAME      nettle or openssl (P-384 verification backend)\n"
              "  -o, --output FMT    text (default) or json\n"
              "\n"
              "exit codes: 0 verified, 1 error, 2 usage, 3 signature/binding, 4 certificate/TCB/chip,\n"
              "            5 revocation, 6 policy, 7 network\n",
              f);
}

static int parse_output(const char *s, bool *json) {
        if (!strcmp(s, "json"))
                *json = true;
        else if (!strcmp(s, "text"))
                *json = false;
        else {
                fprintf(stderr, "confpool: error: unknown output format '%s' (text or json)\n", s);
                return -1;
        }
        return 0;
}

/* Unix seconds, or YYYY-MM-DD, or YYYY-MM-DDTHH:MM:SSZ (UTC). */
static int parse_time(const char *s, int64_t *ret) {
        char *end;
        errno = 0;
        long long v = strtoll(s, &end, 10);
        if (errno == 0 && *end == '\0' && end != s && v > 0) {
                *ret = v;
                return 0;
        }
        struct tm tm = { 0 };
        const char *p = strptime(s, "%Y-%m-%d", &tm);
        if (p && *p == 'T')
                p = strptime(p, "T%H:%M:%SZ", &tm);
        if (!p || *p != '\0') {
                fprintf(stderr, "confpool: error: invalid time '%s' (Unix seconds or YYYY-MM-DD[THH:MM:SSZ])\n", s);
                return -1;
        }
        *ret = (int64_t) timegm(&tm);
        return 0;
}

static int parse_product(const char *s, cp_snp_generation *ret) {
        cp_snp_generation g = cp_snp_generation_from_name(s);
        if (g == CP_SNP_GEN_UNKNOWN) {
                fprintf(stderr, "confpool: error: unknown product '%s' (Milan, Genoa or Turin)\n", s);
                return -1;
        }
        *ret = g;
        return 0;
}

/* The per-user KDS cache; NULL (no cache) when there is no home, rather
 * than a shared directory another user could pre-seed. */
static const char *default_cache_dir(char *out, size_t cap) {
        const char *x = secure_getenv("XDG_CACHE_HOME");
        const char *home = secure_getenv("HOME");
        if (x && *x)
                snprintf(out, cap, "%s/confpool/kds", x);
        else if (home && *home)
                snprintf(out, cap, "%s/.cache/confpool/kds", home);
        else
                return NULL;
        return out;
}

static int print_json(json_t *j) {
        if (!j)
                return CP_EXIT_FAILURE;
        char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        json_decref(j);
        if (!s)
                return CP_EXIT_FAILURE;
        puts(s);
        free(s);
        return CP_EXIT_OK;
}

/* ---- show ------------------------------------------------------------- */

static int cmd_show(int argc, char **argv) {
        static const struct option opts[] = {
                { "output", required_argument, NULL, 'o' },
                { "help", no_argument, NULL, 'h' },
                { 0 },
        };
        bool json = false;
        int c;
        optind = 1;
        while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
                switch (c) {
                case 'o':
                        if (parse_output(optarg, &json) < 0)
                                return CP_EXIT_USAGE;
                        break;
                case 'h':
                        snp_usage(stdout);
                        return CP_EXIT_OK;
                default:
                        snp_usage(stderr);
                        return CP_EXIT_USAGE;
                }
        }
        if (optind != argc - 1) {
                fprintf(stderr, "confpool snp show: expected exactly one FILE\n");
                return CP_EXIT_USAGE;
        }
        cp_evidence_file ev;
        int r = cp_evidence_file_load(argv[optind], &ev);
        if (r < 0) {
                cp_cli_error(argv[optind]);
                return cp_cli_exit_code(r);
        }
        cp_snp_report rep;
        r = cp_snp_report_parse(ev.snp.report, ev.snp.report_len, CP_SNP_PARSE_ALLOW_NEWER, &rep);
        if (r < 0) {
                cp_cli_error("attestation report");
                cp_evidence_file_clear(&ev);
                return cp_cli_exit_code(r);
        }
        cp_snp_generation gen = rep.cpuid_generation;
        if (json) {
                json_t *o = json_object();
                json_object_set_new(o, "format", json_string(cp_evidence_format_name(ev.format)));
                json_object_set_new(o, "report", cp_snp_report_to_json(&rep, gen));
                json_t *certs = cp_evidence_certs_json(&ev);
                if (certs)
                        json_object_set_new(o, "certificates", certs);
                json_t *extra = cp_evidence_extra_json(&ev);
                if (extra)
                        json_object_set_new(o, "hcl", extra);
                cp_evidence_file_clear(&ev);
                return print_json(o);
        }
        printf("format: %s\n", cp_evidence_format_name(ev.format));
        cp_snp_report_print(stdout, &rep, gen);
        cp_evidence_print_extra(stdout, &ev);
        cp_evidence_file_clear(&ev);
        return CP_EXIT_OK;
}

/* ---- verify ----------------------------------------------------------- */

typedef struct verify_args {
        const char *file, *vcek, *ask, *certs, *policy, *crl, *kds_url, *cache, *trust_ark;
        bool offline, check_revocation, json;
        int64_t now;
        cp_snp_generation product;
        cp_p384_backend backend;
} verify_args;

/* Find DIR/name.{der,pem} etc.; returns a malloc()ed path or NULL. */
static char *find_in_dir(const char *dir, const char *const *names) {
        for (size_t i = 0; names[i]; i++) {
                size_t n = strlen(dir) + strlen(names[i]) + 2;
                char *p = malloc(n);
                if (!p)
                        return NULL;
                snprintf(p, n, "%s/%s", dir, names[i]);
                if (access(p, R_OK) == 0)
                        return p;
                free(p);
        }
        return NULL;
}

static int read_opt_file(const char *path, size_t max, uint8_t **buf, size_t *len) {
        if (!path)
                return 0;
        int r = cp_read_file(path, max, buf, len);
        if (r < 0)
                cp_cli_error(NULL);
        return r;
}

static json_t *result_json(const cp_snp_verify_result *res) {
        json_t *o = json_object();
        json_object_set_new(o, "verified", json_true());
        json_object_set_new(o, "generation", json_string(cp_snp_generation_name(res->generation)));
        json_object_set_new(o, "signer", json_string(cp_amd_cert_kind_name(res->signer)));
        json_object_set_new(o, "product_name", json_string(res->product_name));
        if (res->csp_id[0])
                json_object_set_new(o, "csp_id", json_string(res->csp_id));
        json_object_set_new(o, "chip_id_checked", json_boolean(res->chip_id_checked));
        json_object_set_new(o, "revocation_checked", json_boolean(res->revocation_checked));
        json_object_set_new(o, "policy_checked", json_boolean(res->policy_checked));
        json_object_set_new(o, "report", cp_snp_report_to_json(&res->report, res->generation));
        return o;
}

/* One verification's state; the steps return GO_ON or the exit code. */
#define GO_ON (-1)

typedef struct verify_run {
        const verify_args *a;
        cp_evidence_file ev;
        uint8_t *vcek, *ask, *pol, *crlb, *arkb;
        size_t vcek_len, ask_len, pol_len, crl_len, ark_len;
        char *vcek_path, *ask_path, *crl_path;
        const char *crl_file; /* --crl, or the one of --certs */
        cp_snp_policy policy;
        cp_snp_verifier *v;
        cp_kds_client *kds;
        cp_snp_report rep;
        cp_snp_generation gen;
} verify_run;

static void verify_run_clear(verify_run *x) {
        free(x->vcek);
        free(x->ask);
        free(x->pol);
        free(x->crlb);
        free(x->arkb);
        free(x->vcek_path);
        free(x->ask_path);
        free(x->crl_path);
        cp_kds_client_free(x->kds);
        cp_snp_verifier_free(x->v);
        cp_snp_policy_clear(&x->policy);
        cp_evidence_file_clear(&x->ev);
}

/* The certificates, policy, CRL and ARK given (or found in --certs). */
static int verify_read_inputs(verify_run *x) {
        const verify_args *a = x->a;
        if (a->certs) {
                static const char *const leafs[] = { "vcek.der", "vcek.pem", "vcek.crt", "vlek.der", "vlek.pem", NULL };
                static const char *const asks[] = { "cert_chain.pem", "cert_chain", "ask.pem", "ask.der", "asvk.pem",
                                                    "asvk.der", NULL };
                static const char *const crls[] = { "crl.der", "crl.pem", NULL };
                x->vcek_path = find_in_dir(a->certs, leafs);
                x->ask_path = find_in_dir(a->certs, asks);
                x->crl_path = find_in_dir(a->certs, crls);
        }
        const char *vp = a->vcek ? a->vcek : x->vcek_path;
        const char *ap = a->ask ? a->ask : x->ask_path;
        x->crl_file = a->crl ? a->crl : x->crl_path;
        if (read_opt_file(vp, CP_MAX_CERT_DER * 4, &x->vcek, &x->vcek_len) < 0 ||
            read_opt_file(ap, CP_MAX_CERT_DER * 4, &x->ask, &x->ask_len) < 0 ||
            read_opt_file(a->policy, CP_MAX_POLICY_JSON, &x->pol, &x->pol_len) < 0 ||
            read_opt_file(x->crl_file, CP_MAX_CRL_DER, &x->crlb, &x->crl_len) < 0 ||
            read_opt_file(a->trust_ark, CP_MAX_CERT_DER * 4, &x->arkb, &x->ark_len) < 0)
                return CP_EXIT_FAILURE;
        if (x->pol && cp_snp_policy_from_json((const char *) x->pol, x->pol_len, &x->policy) < 0) {
                cp_cli_error(a->policy);
                return CP_EXIT_USAGE;
        }
        return GO_ON;
}

/* The verifier, trusting AMD's ARKs or only --trust-ark's. */
static int verify_make_verifier(verify_run *x) {
        cp_amd_trust *trust = NULL;
        int r;
        if ((r = x->arkb ? cp_amd_trust_new_empty(&trust) : cp_amd_trust_new_builtin(&trust)) < 0) {
                cp_cli_error("trust store");
                return CP_EXIT_FAILURE;
        }
        if (x->arkb) {
                cp_amd_cert *ark = NULL;
                r = cp_amd_cert_load(x->arkb, x->ark_len, &ark);
                if (r == 0)
                        r = cp_amd_trust_add_ark(trust, ark);
                cp_amd_cert_free(ark);
                if (r < 0) {
                        cp_cli_error(x->a->trust_ark);
                        cp_amd_trust_free(trust);
                        return cp_cli_exit_code(r);
                }
        }
        if (cp_snp_verifier_new(trust, &x->v) < 0) {
                cp_cli_error("verifier");
                return CP_EXIT_FAILURE;
        }
        return GO_ON;
}

/* What is missing from the KDS: the VCEK (not given, not in the evidence)
 * and the CRL (revocation asked for, none given). */
static int verify_fetch(verify_run *x, bool need_leaf, bool need_crl) {
        const verify_args *a = x->a;
        int r;
        char cache[1024];
        cp_kds_options ko = { .base_url = a->kds_url,
                              .cache_dir = a->cache ? a->cache : default_cache_dir(cache, sizeof(cache)),
                              .offline = a->offline, .retries = 2 };
        if (cp_kds_client_new(&ko, &x->kds) < 0) {
                cp_cli_error("KDS client");
                return CP_EXIT_FAILURE;
        }
        if (x->gen == CP_SNP_GEN_UNKNOWN) {
                fprintf(stderr, "confpool: error: the report does not name its product (v2 report); "
                                "pass --product or supply the VCEK with --vcek\n");
                return CP_EXIT_USAGE;
        }
        if (need_leaf) {
                if (x->rep.signing_key != CP_SNP_SIGNING_KEY_VCEK) {
                        fprintf(stderr, "confpool: error: the report is signed by a VLEK, which the KDS does not "
                                        "hand out; supply it with --vcek\n");
                        return CP_EXIT_USAGE;
                }
                cp_snp_tcb tcb;
                if ((r = cp_snp_tcb_decode(x->rep.reported_tcb, x->gen, &tcb)) < 0 ||
                    (r = cp_kds_fetch_vcek(x->kds, x->gen, x->rep.chip_id, &tcb, &x->vcek, &x->vcek_len)) < 0) {
                        cp_cli_error("fetching the VCEK");
                        return cp_cli_exit_code(r);
                }
        }
        bool vlek = x->rep.signing_key == CP_SNP_SIGNING_KEY_VLEK;
        if (need_crl &&
            (r = cp_kds_fetch_crl(x->kds, x->gen, vlek ? CP_AMD_CERT_VLEK : CP_AMD_CERT_VCEK, &x->crlb,
                                  &x->crl_len)) < 0) {
                cp_cli_error("fetching the CRL");
                return r == CP_ENOTFOUND || r == CP_ENETWORK ? CP_EXIT_REVOKED : cp_cli_exit_code(r);
        }
        return GO_ON;
}

/* The report parsed for its product, signer and TCB; missing pieces
 * fetched; the CRL handed to the verifier. */
static int verify_prepare(verify_run *x) {
        const verify_args *a = x->a;
        int r;
        if ((r = cp_snp_report_parse(x->ev.snp.report, x->ev.snp.report_len, 0, &x->rep)) < 0) {
                cp_cli_error("attestation report");
                return cp_cli_exit_code(r);
        }
        x->gen = a->product != CP_SNP_GEN_UNKNOWN ? a->product : x->rep.cpuid_generation;
        bool need_leaf = !x->vcek && !cp_evidence_has_leaf(&x->ev, x->rep.signing_key);
        bool need_crl = (a->check_revocation || x->crl_file) && !x->crlb;
        if ((need_leaf || need_crl) && (r = verify_fetch(x, need_leaf, need_crl)) != GO_ON)
                return r;
        if (!x->crlb)
                return GO_ON;
        if (x->gen == CP_SNP_GEN_UNKNOWN) {
                fprintf(stderr, "confpool: error: pass --product to use a CRL with a v2 report\n");
                return CP_EXIT_USAGE;
        }
        cp_amd_crl *crl = NULL;
        bool vlek = x->rep.signing_key == CP_SNP_SIGNING_KEY_VLEK;
        if (cp_amd_crl_load(x->crlb, x->crl_len, &crl) < 0 ||
            cp_snp_verifier_add_crl(x->v, x->gen, vlek ? CP_AMD_CERT_ASVK : CP_AMD_CERT_ASK, crl) < 0) {
                cp_cli_error("CRL");
                return CP_EXIT_REVOKED;
        }
        return GO_ON;
}

static int print_verified(const verify_run *x, const cp_snp_verify_result *res) {
        if (x->a->json) {
                json_t *o = result_json(res);
                json_object_set_new(o, "format", json_string(cp_evidence_format_name(x->ev.format)));
                return print_json(o);
        }
        const cp_snp_tcb *t = &res->reported_tcb;
        printf("%s: verified (SEV-SNP v%u %s, %s, signed by %s, TCB bl %u tee %u snp %u ucode %u%s%s%s%s)\n",
               x->a->file, res->report.version, cp_evidence_format_name(x->ev.format),
               cp_snp_generation_name(res->generation), cp_amd_cert_kind_name(res->signer), t->bl, t->tee, t->snp,
               t->ucode, res->chip_id_checked ? ", chip bound" : "",
               x->ev.format == CP_EVIDENCE_HCL ? ", runtime data bound" : "",
               res->revocation_checked ? ", not revoked" : "", res->policy_checked ? ", policy satisfied" : "");
        return CP_EXIT_OK;
}

/* The verification itself (given certificates in place of the evidence's)
 * and the binding of HCL runtime data. */
static int verify_evidence(verify_run *x) {
        const verify_args *a = x->a;
        cp_snp_evidence sev = x->ev.snp;
        if (x->vcek) {
                sev.leaf = x->vcek;
                sev.leaf_len = x->vcek_len;
        }
        if (x->ask) {
                sev.intermediate = x->ask;
                sev.intermediate_len = x->ask_len;
        }
        cp_snp_verify_options vo = CP_SNP_VERIFY_OPTIONS_INIT;
        vo.now = a->now;
        vo.product = a->product;
        vo.check_revocation = a->check_revocation || x->crlb;
        vo.policy = x->pol ? &x->policy : NULL;
        vo.backend = a->backend;
        _cleanup_free_ cp_snp_verify_result *res = calloc(1, sizeof(*res));
        if (!res) {
                cp_error_oom();
                cp_cli_error(NULL);
                return CP_EXIT_FAILURE;
        }
        int r = cp_snp_verify(x->v, &sev, &vo, res);
        if (r == 0)
                r = cp_evidence_check_binding(&x->ev, &res->report);
        if (r < 0) {
                if (a->json) {
                        json_t *o = json_pack("{s:b,s:s,s:s,s:s}", "verified", 0, "error", cp_err_name(r), "category",
                                              cp_err_category_name(cp_err_category_of(r)), "message",
                                              cp_error_message());
                        print_json(o);
                }
                cp_cli_error("verification failed");
                return cp_cli_exit_code(r);
        }
        return print_verified(x, res);
}

static int do_verify(const verify_args *a) {
        verify_run x = { .a = a };
        cp_snp_policy_init(&x.policy);
        int r = cp_evidence_file_load(a->file, &x.ev);
        if (r < 0) {
                cp_cli_error(a->file);
                return cp_cli_exit_code(r);
        }
        r = verify_read_inputs(&x);
        if (r == GO_ON)
                r = verify_make_verifier(&x);
        if (r == GO_ON)
                r = verify_prepare(&x);
        if (r == GO_ON)
                r = verify_evidence(&x);
        verify_run_clear(&x);
        return r;
}

static int cmd_verify(int argc, char **argv) {
        static const struct option opts[] = {
                { "vcek", required_argument, NULL, 'v' },      { "ask", required_argument, NULL, 'a' },
                { "certs", required_argument, NULL, 'c' },     { "policy", required_argument, NULL, 'p' },
                { "now", required_argument, NULL, 'n' },       { "product", required_argument, NULL, 'P' },
                { "crl", required_argument, NULL, 'r' },       { "check-revocation", no_argument, NULL, 'R' },
                { "offline", no_argument, NULL, 'f' },         { "kds-url", required_argument, NULL, 'k' },
                { "cache", required_argument, NULL, 'C' },     { "trust-ark", required_argument, NULL, 't' },
                { "backend", required_argument, NULL, 'b' },   { "output", required_argument, NULL, 'o' },
                { "help", no_argument, NULL, 'h' },            { 0 },
        };
        verify_args a = { 0 };
        int c;
        optind = 1;
        while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
                switch (c) {
                case 'v': a.vcek = optarg; break;
                case 'a': a.ask = optarg; break;
                case 'c': a.certs = optarg; break;
                case 'p': a.policy = optarg; break;
                case 'n':
                        if (parse_time(optarg, &a.now) < 0)
                                return CP_EXIT_USAGE;
                        break;
                case 'P':
                        if (parse_product(optarg, &a.product) < 0)
                                return CP_EXIT_USAGE;
                        break;
                case 'r': a.crl = optarg; break;
                case 'R': a.check_revocation = true; break;
                case 'f': a.offline = true; break;
                case 'k': a.kds_url = optarg; break;
                case 'C': a.cache = optarg; break;
                case 't': a.trust_ark = optarg; break;
                case 'b':
                        if (!strcmp(optarg, "nettle"))
                                a.backend = CP_P384_BACKEND_NETTLE;
                        else if (!strcmp(optarg, "openssl"))
                                a.backend = CP_P384_BACKEND_OPENSSL;
                        else {
                                fprintf(stderr, "confpool: error: unknown backend '%s' (nettle or openssl)\n", optarg);
                                return CP_EXIT_USAGE;
                        }
                        break;
                case 'o':
                        if (parse_output(optarg, &a.json) < 0)
                                return CP_EXIT_USAGE;
                        break;
                case 'h':
                        snp_usage(stdout);
                        return CP_EXIT_OK;
                default:
                        snp_usage(stderr);
                        return CP_EXIT_USAGE;
                }
        }
        if (optind != argc - 1) {
                fprintf(stderr, "confpool snp verify: expected exactly one FILE\n");
                return CP_EXIT_USAGE;
        }
        a.file = argv[optind];
        return do_verify(&a);
}

/* ---- fetch ------------------------------------------------------------ */

static int write_out(const char *path, const uint8_t *buf, size_t len) {
        if (!path || !strcmp(path, "-")) {
                if (fwrite(buf, 1, len, stdout) != len)
                        return CP_EXIT_FAILURE;
                return CP_EXIT_OK;
        }
        int r = cp_write_file(path, buf, len, 0644);
        if (r < 0) {
                cp_cli_error(NULL);
                return CP_EXIT_FAILURE;
        }
        fprintf(stderr, "wrote %zu bytes to %s\n", len, path);
        return CP_EXIT_OK;
}

static int cmd_fetch(int argc, char **argv) {
        static const struct option opts[] = {
                { "product", required_argument, NULL, 'P' }, { "vlek", no_argument, NULL, 'l' },
                { "output-file", required_argument, NULL, 'O' }, { "kds-url", required_argument, NULL, 'k' },
                { "cache", required_argument, NULL, 'C' },   { "offline", no_argument, NULL, 'f' },
                { "help", no_argument, NULL, 'h' },          { 0 },
        };
        cp_snp_generation product = CP_SNP_GEN_UNKNOWN;
        bool vlek = false, offline = false;
        const char *out = NULL, *kds_url = NULL, *cache_opt = NULL;
        int c;
        optind = 1;
        while ((c = getopt_long(argc, argv, "O:h", opts, NULL)) != -1) {
                switch (c) {
                case 'P':
                        if (parse_product(optarg, &product) < 0)
                                return CP_EXIT_USAGE;
                        break;
                case 'l': vlek = true; break;
                case 'O': out = optarg; break;
                case 'k': kds_url = optarg; break;
                case 'C': cache_opt = optarg; break;
                case 'f': offline = true; break;
                case 'h':
                        snp_usage(stdout);
                        return CP_EXIT_OK;
                default:
                        snp_usage(stderr);
                        return CP_EXIT_USAGE;
                }
        }
        if (optind >= argc) {
                fprintf(stderr, "confpool snp fetch: expected ca, vcek or crl\n");
                return CP_EXIT_USAGE;
        }
        const char *what = argv[optind++];
        char cache[1024];
        cp_kds_options ko = { .base_url = kds_url,
                              .cache_dir = cache_opt ? cache_opt : default_cache_dir(cache, sizeof(cache)),
                              .offline = offline,
                              .retries = 2 };
        cp_kds_client *kds = NULL;
        int r;
        uint8_t *buf = NULL;
        size_t len = 0;
        int exit_code;
        cp_amd_cert_kind kind = vlek ? CP_AMD_CERT_VLEK : CP_AMD_CERT_VCEK;

        if (!strcmp(what, "ca") || !strcmp(what, "crl")) {
                if (optind != argc || product == CP_SNP_GEN_UNKNOWN) {
                        fprintf(stderr, "confpool snp fetch %s: --product is required and takes no FILE\n", what);
                        return CP_EXIT_USAGE;
                }
                if ((r = cp_kds_client_new(&ko, &kds)) < 0)
                        goto fail;
                r = !strcmp(what, "ca") ? cp_kds_fetch_chain(kds, product, kind, &buf, &len)
                                        : cp_kds_fetch_crl(kds, product, kind, &buf, &len);
                if (r < 0)
                        goto fail;
        } else if (!strcmp(what, "vcek")) {
                if (optind != argc - 1) {
                        fprintf(stderr, "confpool snp fetch vcek: expected the report FILE\n");
                        return CP_EXIT_USAGE;
                }
                cp_evidence_file ev;
                cp_snp_report rep;
                if ((r = cp_evidence_file_load(argv[optind], &ev)) < 0)
                        goto fail;
                r = cp_snp_report_parse(ev.snp.report, ev.snp.report_len, 0, &rep);
                cp_evidence_file_clear(&ev);
                if (r < 0)
                        goto fail;
                cp_snp_generation g = product != CP_SNP_GEN_UNKNOWN ? product : rep.cpuid_generation;
                if (g == CP_SNP_GEN_UNKNOWN) {
                        fprintf(stderr, "confpool snp fetch vcek: v2 report: pass --product\n");
                        return CP_EXIT_USAGE;
                }
                cp_snp_tcb tcb;
                if ((r = cp_snp_tcb_decode(rep.reported_tcb, g, &tcb)) < 0 ||
                    (r = cp_kds_client_new(&ko, &kds)) < 0 ||
                    (r = cp_kds_fetch_vcek(kds, g, rep.chip_id, &tcb, &buf, &len)) < 0)
                        goto fail;
        } else {
                fprintf(stderr, "confpool snp fetch: unknown object '%s' (ca, vcek or crl)\n", what);
                return CP_EXIT_USAGE;
        }
        exit_code = write_out(out, buf, len);
        free(buf);
        cp_kds_client_free(kds);
        return exit_code;
fail:
        cp_cli_error("fetch");
        free(buf);
        cp_kds_client_free(kds);
        return cp_cli_exit_code(r);
}

int cp_cmd_snp(int argc, char **argv) {
        if (argc < 2) {
                snp_usage(stderr);
                return CP_EXIT_USAGE;
        }
        if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
                snp_usage(stdout);
                return CP_EXIT_OK;
        }
        if (!strcmp(argv[1], "show"))
                return cmd_show(argc - 1, argv + 1);
        if (!strcmp(argv[1], "verify"))
                return cmd_verify(argc - 1, argv + 1);
        if (!strcmp(argv[1], "fetch"))
                return cmd_fetch(argc - 1, argv + 1);
        if (!strcmp(argv[1], "report"))
                return cp_cmd_snp_report(argc - 1, argv + 1);
        if (!strcmp(argv[1], "measure"))
                return cp_cmd_snp_measure(argc - 1, argv + 1);
        if (!strcmp(argv[1], "id-block"))
                return cp_cmd_snp_id_block(argc - 1, argv + 1);
        fprintf(stderr, "confpool snp: unknown subcommand '%s'\n", argv[1]);
        snp_usage(stderr);
        return CP_EXIT_USAGE;
}
