/* SPDX-License-Identifier: Apache-2.0 */
/*
 * confpool tdx show QUOTE [-o text|json]
 * confpool tdx verify QUOTE [--td-quote F] [--pck-chain F] [--tcb-info F] [--qe-identity F]
 *                           [--tcb-signing-chain F] [--pck-crl F] [--root-ca-crl F] [--now T]
 *                           [--offline] [--policy F] [-o text|json]
 * QUOTE is a DCAP quote (v4/v5) or an Azure HCL report carrying a TDREPORT
 * (detected by its "HCLA" signature; then --td-quote is the quote Azure's
 * host made for it).  Exit codes as `snp verify` (cli/exit.h).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "basic/cleanup.h"
#include "basic/codec.h"
#include "basic/fileio.h"
#include "cli/cli.h"
#include "cli/cmd_tdx_emu.h"
#include "confpool/azure.h"
#include "confpool/tdx_quote.h"
#include "confpool/tdx_verify.h"

#define TDX_FILE_MAX (4u << 20)

static void tdx_usage(FILE *f) {
        fputs("usage: confpool tdx show QUOTE [-o text|json]\n"
              "       confpool tdx verify QUOTE [options]\n"
              "       confpool tdx measure --tdvf IMAGE [--two-pass] [--rtmr I:HEX]... [-o text|json]\n"
              "       confpool tdx fetch --fmspc HEX12 [--pcs-url URL] [--out DIR] [--max-age S] [--offline]\n"
              "       confpool tdx quote --out FILE [--report-data HEX128] [--report0] [--socket PATH] (in a TD)\n"
              "       confpool tdx emu --out DIR [...]   (software TDX, emulated root: tests only)\n"
              "\n"
              "QUOTE is an Intel DCAP quote (v4 or v5, TDX) or an Azure HCL report carrying a\n"
              "TDREPORT (vTPM NV 0x01400001; then --td-quote gives the quote Azure's host made for it).\n"
              "\n"
              "verify options (collateral as Intel's PCS returns it; certificates and CRLs PEM or DER):\n"
              "  --td-quote FILE           the DCAP quote of an Azure HCL report's TDREPORT\n"
              "  --pck-chain FILE          PCK certificate chain (default: the chain in the quote)\n"
              "  --tcb-info FILE           TCB Info ({\"tcbInfo\": ..., \"signature\": ...}, id TDX)\n"
              "  --qe-identity FILE        QE Identity ({\"enclaveIdentity\": ..., \"signature\": ...}, id TD_QE)\n"
              "  --tcb-signing-chain FILE  Intel SGX TCB Signing certificate (and root)\n"
              "  --pck-crl FILE            PCK CRL (Platform or Processor CA)\n"
              "  --root-ca-crl FILE        Intel SGX Root CA CRL\n"
              "  --now TIME                check validity at TIME (Unix seconds or YYYY-MM-DD[THH:MM:SSZ])\n"
              "  --offline                 never fetch (nothing is fetched yet: collateral comes from files)\n"
              "  --policy FILE             TDX validation policy (JSON, see docs/tdx.md)\n"
              "  --trust-root FILE         trust this root instead of Intel's SGX Root CA (the software\n"
              "                            TDX's emulated root, for tests: never in production)\n"
              "  -o, --output FMT          text (default) or json\n"
              "\n"
              "exit codes: 0 verified, 1 error, 2 usage, 3 signature/binding, 4 certificate/TCB,\n"
              "            5 revocation, 6 policy\n",
              f);
}

static int parse_output(const char *s, bool *json) {
        if (!strcmp(s, "json") || !strcmp(s, "text")) {
                *json = !strcmp(s, "json");
                return 0;
        }
        fprintf(stderr, "confpool: error: unknown output format '%s' (text or json)\n", s);
        return -1;
}

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

static int print_json(json_t *j) {
        char *s = j ? json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
        json_decref(j);
        if (!s)
                return CP_EXIT_FAILURE;
        puts(s);
        free(s);
        return CP_EXIT_OK;
}

static json_t *hexj(const uint8_t *p, size_t n) {
        char buf[2 * 64 + 1];
        cp_hex_encode(p, n, buf);
        buf[2 * n] = '\0';
        return json_string(buf);
}

static json_t *u64j(uint64_t v) {
        char buf[19];
        snprintf(buf, sizeof(buf), "%016llx", (unsigned long long) v);
        return json_string(buf);
}

static json_t *body_json(const cp_tdx_body *b) {
        json_t *o = json_object();
        json_object_set_new(o, "tee_tcb_svn", hexj(b->tee_tcb_svn, 16));
        json_object_set_new(o, "mrseam", hexj(b->mrseam, 48));
        json_object_set_new(o, "mrsignerseam", hexj(b->mrsignerseam, 48));
        json_object_set_new(o, "seam_attributes", u64j(b->seam_attributes));
        json_object_set_new(o, "td_attributes", u64j(b->td_attributes));
        json_object_set_new(o, "debug", json_boolean(b->td_attributes & CP_TDX_TDATTR_DEBUG));
        json_object_set_new(o, "sept_ve_disable", json_boolean(b->td_attributes & CP_TDX_TDATTR_SEPT_VE_DISABLE));
        json_object_set_new(o, "xfam", u64j(b->xfam));
        json_object_set_new(o, "mrtd", hexj(b->mrtd, 48));
        json_object_set_new(o, "mrconfigid", hexj(b->mrconfigid, 48));
        json_object_set_new(o, "mrowner", hexj(b->mrowner, 48));
        json_object_set_new(o, "mrownerconfig", hexj(b->mrownerconfig, 48));
        for (unsigned i = 0; i < 4; i++) {
                char k[8];
                snprintf(k, sizeof(k), "rtmr%u", i);
                json_object_set_new(o, k, hexj(b->rtmr[i], 48));
        }
        json_object_set_new(o, "report_data", hexj(b->report_data, 64));
        if (b->has_15) {
                json_object_set_new(o, "tee_tcb_svn2", hexj(b->tee_tcb_svn2, 16));
                json_object_set_new(o, "mrservicetd", hexj(b->mrservicetd, 48));
        }
        return o;
}

static json_t *quote_json(const cp_tdx_quote *q) {
        json_t *o = json_object();
        json_object_set_new(o, "version", json_integer(q->version));
        json_object_set_new(o, "body_type", json_integer(q->body.type));
        json_object_set_new(o, "certification_data_type", json_integer(q->cert.type));
        if (q->cert.has_qe_report) {
                json_object_set_new(o, "qe_isvsvn", json_integer(q->cert.qe_report.isvsvn));
                json_object_set_new(o, "qe_isvprodid", json_integer(q->cert.qe_report.isvprodid));
        }
        json_object_set_new(o, "trailing_bytes", json_integer((json_int_t) q->trailing_len));
        json_object_set_new(o, "td", body_json(&q->body));
        return o;
}

static void print_body_text(const cp_tdx_body *b) {
        json_t *o = body_json(b);
        const char *k;
        json_t *v;
        json_object_foreach(o, k, v) {
                if (json_is_string(v))
                        printf("  %-16s %s\n", k, json_string_value(v));
                else
                        printf("  %-16s %s\n", k, json_is_true(v) ? "yes" : "no");
        }
        json_decref(o);
}

/* A file's bytes; an HCL report's TDREPORT body goes to *is_hcl. */
static int load(const char *path, uint8_t **buf, size_t *len) {
        if (!path)
                return 0;
        int r = cp_read_file(path, TDX_FILE_MAX, buf, len);
        if (r < 0)
                cp_cli_error(path);
        return r;
}

static bool is_hcl(const uint8_t *p, size_t n) {
        return n >= 4 && p[0] == 'H' && p[1] == 'C' && p[2] == 'L' && p[3] == 'A';
}

static int cmd_show(int argc, char **argv) {
        static const struct option opts[] = { { "output", required_argument, NULL, 'o' },
                                              { "help", no_argument, NULL, 'h' },
                                              { 0 } };
        bool json = false;
        int c;
        optind = 1;
        while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
                if (c == 'o' && parse_output(optarg, &json) == 0)
                        continue;
                tdx_usage(c == 'h' ? stdout : stderr);
                return c == 'h' ? CP_EXIT_OK : CP_EXIT_USAGE;
        }
        if (optind != argc - 1) {
                fprintf(stderr, "confpool tdx show: expected exactly one QUOTE\n");
                return CP_EXIT_USAGE;
        }
        _cleanup_free_ uint8_t *buf = NULL;
        size_t len = 0;
        if (load(argv[optind], &buf, &len) < 0)
                return CP_EXIT_FAILURE;
        if (is_hcl(buf, len)) {
                cp_hcl_report h;
                cp_tdx_tdreport t;
                int r = cp_hcl_report_parse(buf, len, &h);
                if (r == 0 && h.report_type != CP_HCL_REPORT_TDX)
                        r = CP_ERROR(CP_EFORMAT, "HCL report carries no TDREPORT");
                if (r == 0)
                        r = cp_tdx_tdreport_parse(h.hw_report, h.hw_report_len, &t);
                if (r < 0) {
                        cp_cli_error(argv[optind]);
                        return cp_cli_exit_code(r);
                }
                if (json) {
                        json_t *o = json_pack("{s:s,s:o}", "format", "azure-hcl-tdreport", "td", body_json(&t.body));
                        return print_json(o);
                }
                printf("%s: Azure HCL report with a TDREPORT (unsigned: verify it with its TD quote)\n", argv[optind]);
                print_body_text(&t.body);
                return CP_EXIT_OK;
        }
        cp_tdx_quote q;
        int r = cp_tdx_quote_parse(buf, len, 0, &q);
        if (r < 0) {
                cp_cli_error(argv[optind]);
                return cp_cli_exit_code(r);
        }
        if (json)
                return print_json(quote_json(&q));
        printf("%s: DCAP quote v%u, TDX %s body, certification data type %u%s\n", argv[optind], q.version,
               q.body.has_15 ? "1.5" : "1.0", q.cert.type, q.trailing_len ? " (trailing bytes ignored)" : "");
        print_body_text(&q.body);
        return CP_EXIT_OK;
}

/* ---- verify */

typedef struct verify_args {
        const char *file, *td_quote, *pck_chain, *tcb_info, *qe_identity, *signing, *pck_crl, *root_crl, *policy, *root;
        int64_t now;
        bool json;
} verify_args;

typedef struct verify_files {
        uint8_t *quote, *td_quote, *pck_chain, *tcb_info, *qe_identity, *signing, *pck_crl, *root_crl, *policy, *root;
        size_t quote_len, td_quote_len, pck_chain_len, tcb_info_len, qe_identity_len, signing_len, pck_crl_len,
                root_crl_len, policy_len, root_len;
} verify_files;

static void files_free(verify_files *f) {
        free(f->quote);
        free(f->td_quote);
        free(f->pck_chain);
        free(f->tcb_info);
        free(f->qe_identity);
        free(f->signing);
        free(f->pck_crl);
        free(f->root_crl);
        free(f->policy);
        free(f->root);
}

static int files_load(const verify_args *a, verify_files *f) {
        if (load(a->file, &f->quote, &f->quote_len) < 0 || load(a->td_quote, &f->td_quote, &f->td_quote_len) < 0 ||
            load(a->pck_chain, &f->pck_chain, &f->pck_chain_len) < 0 ||
            load(a->tcb_info, &f->tcb_info, &f->tcb_info_len) < 0 ||
            load(a->qe_identity, &f->qe_identity, &f->qe_identity_len) < 0 ||
            load(a->signing, &f->signing, &f->signing_len) < 0 || load(a->pck_crl, &f->pck_crl, &f->pck_crl_len) < 0 ||
            load(a->root_crl, &f->root_crl, &f->root_crl_len) < 0 || load(a->policy, &f->policy, &f->policy_len) < 0 ||
            load(a->root, &f->root, &f->root_len) < 0)
                return -1;
        return 0;
}

static json_t *result_json(const cp_tdx_verify_result *r) {
        char from[32], until[32], fmspc[13];
        json_t *adv = json_array();
        for (size_t i = 0; i < r->n_advisories; i++)
                json_array_append_new(adv, json_string(r->advisories[i]));
        snprintf(from, sizeof(from), "%lld", (long long) r->valid_from);
        snprintf(until, sizeof(until), "%lld", (long long) r->valid_until);
        cp_hex_encode(r->pck.fmspc, 6, fmspc);
        fmspc[12] = '\0';
        json_t *o = json_pack("{s:b,s:s,s:s,s:s,s:s,s:s,s:s,s:o,s:s,s:i,s:i,s:b,s:b,s:I,s:I}", "verified", 1,
                              "tcb_status", cp_tdx_tcb_status_name(r->tcb_status), "platform_tcb_status",
                              cp_tdx_tcb_status_name(r->platform_status), "platform_tcb_date", r->platform_tcb_date,
                              "tdx_module", r->module_id[0] ? r->module_id : "tdxModule", "tdx_module_tcb_status",
                              cp_tdx_tcb_status_name(r->module_status), "qe_tcb_status",
                              cp_tdx_tcb_status_name(r->qe_status), "advisory_ids", adv, "fmspc", fmspc, "pcesvn",
                              (int) r->pck.pcesvn, "tcb_evaluation_data_number", (int) r->tcb_evaluation_data_number,
                              "revocation_checked", r->revocation_checked, "policy_checked", r->policy_checked,
                              "valid_from", (json_int_t) r->valid_from, "valid_until", (json_int_t) r->valid_until);
        json_object_set_new(o, "quote", quote_json(&r->quote));
        return o;
}

static int report(const verify_args *a, int r, const cp_tdx_verify_result *res) {
        if (r < 0) {
                if (a->json)
                        print_json(json_pack("{s:b,s:s,s:s,s:s}", "verified", 0, "error", cp_err_name(r), "category",
                                             cp_err_category_name(cp_err_category_of(r)), "message",
                                             cp_error_message()));
                cp_cli_error("verification failed");
                return cp_cli_exit_code(r);
        }
        if (a->json)
                return print_json(result_json(res));
        printf("%s: verified (DCAP quote v%u, TDX %s, TCB %s", a->file, res->quote.version,
               res->quote.body.has_15 ? "1.5" : "1.0", cp_tdx_tcb_status_name(res->tcb_status));
        for (size_t i = 0; i < res->n_advisories; i++)
                printf("%s%s", i ? ", " : " (", res->advisories[i]);
        printf("%s%s%s%s)\n", res->n_advisories ? ")" : "", res->revocation_checked ? ", not revoked" : ", CRLs not checked",
               (res->quote.body.td_attributes & CP_TDX_TDATTR_DEBUG) ? ", DEBUG TD" : "",
               res->policy_checked ? ", policy satisfied" : "");
        return CP_EXIT_OK;
}

static int do_verify(const verify_args *a) {
        verify_files f = { 0 };
        cp_tdx_policy policy;
        int r;
        _cleanup_free_ cp_tdx_verify_result *res = calloc(1, sizeof(*res));
        if (!res || files_load(a, &f) < 0) {
                files_free(&f);
                return CP_EXIT_FAILURE;
        }
        cp_tdx_verify_options o = CP_TDX_VERIFY_OPTIONS_INIT;
        o.now = a->now;
        o.trust_root = f.root;
        o.trust_root_len = f.root_len;
        if (f.root)
                fprintf(stderr, "confpool: warning: trusting %s instead of Intel's SGX Root CA\n", a->root);
        if (f.policy && (r = cp_tdx_policy_from_json((const char *) f.policy, f.policy_len, &policy)) < 0) {
                cp_cli_error(a->policy);
                files_free(&f);
                return CP_EXIT_USAGE;
        }
        o.policy = f.policy ? &policy : NULL;
        cp_tdx_collateral col = { .pck_chain = f.pck_chain, .pck_chain_len = f.pck_chain_len, .tcb_info = f.tcb_info,
                                  .tcb_info_len = f.tcb_info_len, .qe_identity = f.qe_identity,
                                  .qe_identity_len = f.qe_identity_len, .tcb_signing_chain = f.signing,
                                  .tcb_signing_chain_len = f.signing_len, .pck_crl = f.pck_crl,
                                  .pck_crl_len = f.pck_crl_len, .root_ca_crl = f.root_crl,
                                  .root_ca_crl_len = f.root_crl_len };
        if (is_hcl(f.quote, f.quote_len))
                r = cp_tdx_verify_azure_hcl(f.quote, f.quote_len, f.td_quote, f.td_quote_len, &col, &o, res);
        else if (a->td_quote)
                r = CP_ERROR(CP_EINVAL, "--td-quote is for an Azure HCL report, and %s is not one", a->file);
        else
                r = cp_tdx_verify(f.quote, f.quote_len, &col, &o, res);
        r = report(a, r, res);
        files_free(&f);
        return r;
}

static int cmd_verify(int argc, char **argv) {
        static const struct option opts[] = {
                { "td-quote", required_argument, NULL, 'd' },  { "pck-chain", required_argument, NULL, 'c' },
                { "tcb-info", required_argument, NULL, 't' },  { "qe-identity", required_argument, NULL, 'q' },
                { "tcb-signing-chain", required_argument, NULL, 's' }, { "pck-crl", required_argument, NULL, 'r' },
                { "root-ca-crl", required_argument, NULL, 'R' }, { "now", required_argument, NULL, 'n' },
                { "offline", no_argument, NULL, 'f' },         { "policy", required_argument, NULL, 'p' },
                { "output", required_argument, NULL, 'o' },    { "help", no_argument, NULL, 'h' },
                { "trust-root", required_argument, NULL, 'T' }, { 0 },
        };
        verify_args a = { 0 };
        int c;
        optind = 1;
        while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
                switch (c) {
                case 'd': a.td_quote = optarg; break;
                case 'c': a.pck_chain = optarg; break;
                case 't': a.tcb_info = optarg; break;
                case 'q': a.qe_identity = optarg; break;
                case 's': a.signing = optarg; break;
                case 'r': a.pck_crl = optarg; break;
                case 'R': a.root_crl = optarg; break;
                case 'p': a.policy = optarg; break;
                case 'T': a.root = optarg; break;
                case 'f': break; /* nothing is fetched: collateral comes from files */
                case 'n':
                        if (parse_time(optarg, &a.now) < 0)
                                return CP_EXIT_USAGE;
                        break;
                case 'o':
                        if (parse_output(optarg, &a.json) < 0)
                                return CP_EXIT_USAGE;
                        break;
                case 'h':
                        tdx_usage(stdout);
                        return CP_EXIT_OK;
                default:
                        tdx_usage(stderr);
                        return CP_EXIT_USAGE;
                }
        }
        if (optind != argc - 1) {
                fprintf(stderr, "confpool tdx verify: expected exactly one QUOTE\n");
                return CP_EXIT_USAGE;
        }
        a.file = argv[optind];
        return do_verify(&a);
}

int cp_cmd_tdx(int argc, char **argv) {
        if (argc < 2) {
                tdx_usage(stderr);
                return CP_EXIT_USAGE;
        }
        if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
                tdx_usage(stdout);
                return CP_EXIT_OK;
        }
        if (!strcmp(argv[1], "show"))
                return cmd_show(argc - 1, argv + 1);
        if (!strcmp(argv[1], "verify"))
                return cmd_verify(argc - 1, argv + 1);
        if (!strcmp(argv[1], "measure"))
                return cp_cmd_tdx_measure(argc - 1, argv + 1);
        if (!strcmp(argv[1], "fetch"))
                return cp_cmd_tdx_fetch(argc - 1, argv + 1);
        if (!strcmp(argv[1], "emu"))
                return cp_cmd_tdx_emu(argc - 1, argv + 1);
        if (!strcmp(argv[1], "quote"))
                return cp_cmd_tdx_quote(argc - 1, argv + 1);
        fprintf(stderr, "confpool tdx: unknown subcommand '%s'\n", argv[1]);
        tdx_usage(stderr);
        return CP_EXIT_USAGE;
}
