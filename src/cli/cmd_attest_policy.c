/* SPDX-License-Identifier: Apache-2.0 */
/*
 * confpool aks nodepool attestation-policy show|set|reset (confpool
 * extension, no az equivalent): a node pool's attestation policy override,
 * GET/PUT/DELETE .../agentPools/{p}/attestationPolicy/default
 * (docs/control-plane.md "Attestation policy").  `set` replaces the whole
 * policy (what is not given goes back to its default); `reset` returns the
 * pool to the default policy.  The CLI checks the forms (hex lengths, the
 * TCB spec, booleans) so mistakes are usage errors (exit 2); the service
 * validates again.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "basic/cleanup.h"
#include "basic/limits.h"
#include "cli/cli-az.h"

#define ARG_RG { "--resource-group -g", CP_AZ_STR, true, NULL, NULL, "Name of resource group." }
#define ARG_CLUSTER { "--cluster-name", CP_AZ_STR, true, NULL, NULL, "The cluster name." }
#define ARG_NAME { "--name --nodepool-name -n", CP_AZ_STR, true, NULL, NULL, "The node pool name." }

static const char *const booleans[] = { "true", "false", NULL };

static const cp_az_arg show_args[] = { ARG_RG, ARG_CLUSTER, ARG_NAME };
static const cp_az_arg reset_args[] = {
        ARG_RG, ARG_CLUSTER, ARG_NAME,
        { "--if-match", CP_AZ_STR, false, NULL, NULL, "The eTag of the policy to reset (If-Match)." },
};
static const cp_az_arg set_args[] = {
        ARG_RG, ARG_CLUSTER, ARG_NAME,
        { "--launch-measurements", CP_AZ_LIST, false, NULL, NULL,
          "Space-separated launch measurements (96 hex digits each) accepted instead of the node image's expected "
          "measurement(s). Default: the image's (during a node-image upgrade the old and the new)." },
        { "--allow-debug", CP_AZ_STR, false, NULL, booleans,
          "Admit guests whose SEV-SNP policy allows debugging. Default: false." },
        { "--min-tcb", CP_AZ_STR, false, NULL, NULL,
          "Minimum reported TCB, any of bl=N,tee=N,snp=N,ucode=N (0-255). It can only raise confpoold's --min-tcb "
          "(the higher of the two applies per component)." },
        { "--host-data", CP_AZ_STR, false, NULL, NULL, "HOST_DATA the nodes' reports must carry (64 hex digits)." },
        { "--require-eventlog-replay", CP_AZ_STR, false, NULL, booleans,
          "Admit only tokens whose measured-boot event log was replayed against the quoted PCRs. Default: false." },
        { "--if-match", CP_AZ_STR, false, NULL, NULL, "Replace only if the policy's eTag matches (If-Match)." },
        { "--if-none-match", CP_AZ_FLAG, false, NULL, NULL, "Set only if the pool has no override yet (If-None-Match: *)." },
};

static const cp_az_cmd show_cmd = {
        "aks nodepool attestation-policy show",
        "Show the attestation policy of a node pool (the default or the operator's override).", show_args,
        CP_ELEMENTSOF(show_args),
        "    Show the policy of a node pool\n"
        "        confpool aks nodepool attestation-policy show -g MyResourceGroup --cluster-name MyCluster -n cvmpool\n",
};
static const cp_az_cmd set_cmd = {
        "aks nodepool attestation-policy set",
        "Replace the attestation policy of a node pool. Nodes that do not meet it are quarantined at their next "
        "heartbeat and replaced.",
        set_args, CP_ELEMENTSOF(set_args),
        "    Require a minimum SNP firmware and microcode and a replayed event log\n"
        "        confpool aks nodepool attestation-policy set -g MyResourceGroup --cluster-name MyCluster -n cvmpool \\\n"
        "            --min-tcb snp=22,ucode=213 --require-eventlog-replay true\n"
        "    Accept exactly one launch measurement\n"
        "        confpool aks nodepool attestation-policy set -g MyResourceGroup --cluster-name MyCluster -n cvmpool \\\n"
        "            --launch-measurements <96 hex digits>\n",
};
static const cp_az_cmd reset_cmd = {
        "aks nodepool attestation-policy reset",
        "Return a node pool to the default attestation policy (the node image's expected measurement, debugging "
        "refused, confpoold's --min-tcb).",
        reset_args, CP_ELEMENTSOF(reset_args), NULL,
};

static char *policy_url(cp_az_ctx *ctx) {
        _cleanup_free_ char *rg = cp_az_escape(cp_az_str(ctx, "--resource-group"));
        _cleanup_free_ char *cl = cp_az_escape(cp_az_str(ctx, "--cluster-name"));
        _cleanup_free_ char *np = cp_az_escape(cp_az_str(ctx, "--name"));
        _cleanup_free_ char *path = NULL;
        if (!rg || !cl || !np)
                return NULL;
        if (asprintf(&path,
                     "/resourceGroups/%s/providers/Microsoft.ContainerService/managedClusters/%s/agentPools/%s"
                     "/attestationPolicy/default",
                     rg, cl, np) < 0)
                return NULL;
        return cp_az_url(ctx, path, CP_AZ_API_CS, NULL);
}

static bool is_hex(const char *s, size_t len) {
        if (strlen(s) != len)
                return false;
        for (size_t i = 0; i < len; i++)
                if (!strchr("0123456789abcdefABCDEF", s[i]))
                        return false;
        return true;
}

/* "bl=N,tee=N,snp=N,ucode=N", any non-empty subset in any order */
static int parse_min_tcb(const char *s, json_t **ret) {
        static const char *const keys[] = { "bl", "tee", "snp", "ucode" };
        static const char *const members[] = { "bootloader", "tee", "snp", "microcode" };
        json_t *o = json_object();
        if (!o)
                return CP_EXIT_FAILURE;
        const char *p = s;
        while (*p) {
                size_t n = strcspn(p, ",");
                const char *eq = memchr(p, '=', n);
                size_t k = 0;
                while (eq && k < CP_ELEMENTSOF(keys) &&
                       !(strlen(keys[k]) == (size_t) (eq - p) && strncmp(p, keys[k], (size_t) (eq - p)) == 0))
                        k++;
                char num[8];
                size_t vl = eq ? n - (size_t) (eq + 1 - p) : 0;
                char *end = NULL;
                unsigned long v = 0;
                if (eq && vl > 0 && vl < sizeof num) {
                        memcpy(num, eq + 1, vl);
                        num[vl] = 0;
                        if (strspn(num, "0123456789") == vl)
                                v = strtoul(num, &end, 10);
                }
                if (!eq || k == CP_ELEMENTSOF(keys) || !end || *end || v > 255 ||
                    json_object_get(o, members[k])) {
                        json_decref(o);
                        return cp_az_usage_error("argument --min-tcb: expected bl=N,tee=N,snp=N,ucode=N (any of "
                                                 "them, each once, N from 0 to 255), got '%s'",
                                                 s);
                }
                json_object_set_new(o, members[k], json_integer((json_int_t) v));
                p += n;
                if (*p == ',' && *++p == 0) {
                        json_decref(o);
                        return cp_az_usage_error("argument --min-tcb: trailing comma in '%s'", s);
                }
        }
        if (json_object_size(o) == 0) {
                json_decref(o);
                return cp_az_usage_error("argument --min-tcb: expected bl=N,tee=N,snp=N,ucode=N");
        }
        *ret = o;
        return 0;
}

/* One row for -o table: the measurements as 16-digit prefixes. */
static json_t *row(const json_t *p) {
        const json_t *lm = json_object_get(p, "launchMeasurements");
        char meas[CP_MAX_POLICY_MEASUREMENTS * 22 + 16] = "";
        size_t off = 0, i;
        const json_t *v;
        json_array_foreach(lm, i, v) {
                int w = snprintf(meas + off, sizeof meas - off, "%s%.16s...", i ? " " : "", json_string_value(v));
                if (w < 0 || (size_t) w >= sizeof meas - off)
                        break;
                off += (size_t) w;
        }
        const json_t *t = json_object_get(p, "minimumTcb");
        char tcb[64] = "";
        if (t)
                snprintf(tcb, sizeof tcb, "bl=%lld,tee=%lld,snp=%lld,ucode=%lld",
                         (long long) json_integer_value(json_object_get(t, "bootloader")),
                         (long long) json_integer_value(json_object_get(t, "tee")),
                         (long long) json_integer_value(json_object_get(t, "snp")),
                         (long long) json_integer_value(json_object_get(t, "microcode")));
        const char *hd = json_string_value(json_object_get(p, "hostData"));
        return json_pack("{s:O,s:O,s:s,s:O,s:s,s:s,s:O}", "isDefault", json_object_get(p, "isDefault"),
                         "allowDebug", json_object_get(p, "allowDebug"), "launchMeasurements",
                         off ? meas : "(image)", "requireEventLogReplay", json_object_get(p, "requireEventLogReplay"),
                         "minimumTcb", tcb[0] ? tcb : "(--min-tcb)", "hostData", hd ? hd : "", "eTag",
                         json_object_get(p, "eTag") ? json_object_get(p, "eTag") : json_null());
}

/* Print a policy resource: flattened like az (properties hoisted). */
static int print_policy(cp_az_ctx *ctx, json_t *rest) {
        json_t *flat = cp_az_shape(rest, &cp_az_no_renames);
        if (!flat) {
                cp_az_error("%s", cp_error_message());
                return CP_EXIT_FAILURE;
        }
        int r;
        if (ctx->format == CP_AZOUT_TABLE && !ctx->query) {
                json_t *rw = row(flat);
                r = rw ? cp_az_output(ctx, rw, NULL) : CP_EXIT_FAILURE;
                json_decref(rw);
        } else
                r = cp_az_output(ctx, flat, NULL);
        json_decref(flat);
        return r;
}

/* One call; a 2xx JSON body is the policy to print (404 exit 3 when show). */
static int call_print(cp_az_ctx *ctx, const char *method, const char *url, json_t *body, const char *const *headers,
                      bool show) {
        cp_httpc_response resp;
        json_t *j = NULL;
        int r = cp_az_call(ctx, method, url, body, headers, &resp, &j);
        if (r)
                return r;
        if (resp.status >= 300 || (resp.status != 204 && !json_is_object(j)))
                r = resp.status >= 300 ? cp_az_service_error(&resp, j, show)
                                       : (cp_az_error("The attestation policy response is not a JSON object."),
                                          CP_EXIT_FAILURE);
        else if (resp.status == 204)
                r = call_print(ctx, "GET", url, NULL, NULL, show); /* already the default: show it */
        else
                r = print_policy(ctx, j);
        json_decref(j);
        cp_httpc_response_clear(&resp);
        return r;
}

/* The prologue of show and reset: the pool name checked, connected, the
 * policy's URL. */
static int open_policy(cp_az_ctx *ctx, char **ret_url) {
        int r;
        *ret_url = NULL;
        if ((r = cp_az_validate_nodepool_name(cp_az_str(ctx, "--name"))) != 0 || (r = cp_az_connect(ctx)) != 0)
                return r;
        *ret_url = policy_url(ctx);
        return *ret_url ? 0 : CP_EXIT_FAILURE;
}

static int ap_show(cp_az_ctx *ctx) {
        _cleanup_free_ char *url = NULL;
        int r = open_policy(ctx, &url);
        return r != 0 ? r : call_print(ctx, "GET", url, NULL, NULL, true);
}

static int ap_set(cp_az_ctx *ctx) {
        int r;
        if ((r = cp_az_validate_nodepool_name(cp_az_str(ctx, "--name"))) != 0)
                return r;
        json_t *props = json_object();
        if (!props)
                return CP_EXIT_FAILURE;
        const cp_az_val *lm = cp_az_get(ctx, "--launch-measurements");
        if (lm && lm->given) {
                if (lm->n_list > CP_MAX_POLICY_MEASUREMENTS) {
                        json_decref(props);
                        return cp_az_usage_error("argument --launch-measurements: at most %u measurements",
                                                 CP_MAX_POLICY_MEASUREMENTS);
                }
                json_t *a = json_array();
                for (size_t i = 0; i < lm->n_list; i++) {
                        if (!is_hex(lm->list[i], 96)) {
                                json_decref(a);
                                json_decref(props);
                                return cp_az_usage_error("argument --launch-measurements: '%s' is not 96 hex digits "
                                                         "(a SHA-384 launch measurement)",
                                                         lm->list[i]);
                        }
                        json_array_append_new(a, json_string(lm->list[i]));
                }
                json_object_set_new(props, "launchMeasurements", a);
        }
        const char *s;
        if ((s = cp_az_str(ctx, "--allow-debug")))
                json_object_set_new(props, "allowDebug", json_boolean(strcasecmp(s, "true") == 0));
        if ((s = cp_az_str(ctx, "--require-eventlog-replay")))
                json_object_set_new(props, "requireEventLogReplay", json_boolean(strcasecmp(s, "true") == 0));
        if ((s = cp_az_str(ctx, "--host-data"))) {
                if (!is_hex(s, 64)) {
                        json_decref(props);
                        return cp_az_usage_error("argument --host-data: '%s' is not 64 hex digits (HOST_DATA)", s);
                }
                json_object_set_new(props, "hostData", json_string(s));
        }
        if ((s = cp_az_str(ctx, "--min-tcb"))) {
                json_t *t = NULL;
                if ((r = parse_min_tcb(s, &t)) != 0) {
                        json_decref(props);
                        return r;
                }
                json_object_set_new(props, "minimumTcb", t);
        }
        json_t *body = json_pack("{s:o}", "properties", props);
        if (!body)
                return CP_EXIT_FAILURE;
        if ((r = cp_az_connect(ctx)) != 0) {
                json_decref(body);
                return r;
        }
        _cleanup_free_ char *url = policy_url(ctx);
        char h[300];
        const char *headers[2] = { NULL, NULL };
        if (cp_az_str(ctx, "--if-match")) {
                snprintf(h, sizeof h, "If-Match: %s", cp_az_str(ctx, "--if-match"));
                headers[0] = h;
        } else if (cp_az_flag(ctx, "--if-none-match"))
                headers[0] = "If-None-Match: *";
        r = url ? call_print(ctx, "PUT", url, body, headers[0] ? headers : NULL, false) : CP_EXIT_FAILURE;
        json_decref(body);
        return r;
}

static int ap_reset(cp_az_ctx *ctx) {
        _cleanup_free_ char *url = NULL;
        int r = open_policy(ctx, &url);
        if (r != 0)
                return r;
        char h[300];
        const char *headers[2] = { NULL, NULL };
        if (cp_az_str(ctx, "--if-match")) {
                snprintf(h, sizeof h, "If-Match: %s", cp_az_str(ctx, "--if-match"));
                headers[0] = h;
        }
        return call_print(ctx, "DELETE", url, NULL, headers[0] ? headers : NULL, false);
}

static const cp_az_entry entries[] = {
        { "reset", &reset_cmd, ap_reset, NULL },
        { "set", &set_cmd, ap_set, NULL },
        { "show", &show_cmd, ap_show, NULL },
};

const cp_az_group cp_az_group_attest_policy = {
        "aks nodepool attestation-policy",
        "confpool extension: the attestation policy nodes of a pool must meet at registration and every heartbeat.",
        entries, CP_ELEMENTSOF(entries),
};
