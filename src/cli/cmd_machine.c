/* SPDX-License-Identifier: Apache-2.0 */
/*
 * confpool aks machine list|show (az aks machine): the machines of a node
 * pool through the machines API (GET .../agentPools/{p}/machines[/{m}]),
 * with each node's attestation (docs/nodes.md): state, host, reported TCB,
 * launch measurement, last attestation and token expiry.  The times are
 * added as RFC 3339 strings (lastAttestationTime, tokenExpiryTime) next to
 * the service's Unix times; the table shows one row per machine.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "basic/cleanup.h"
#include "cli/cli-az.h"

#define ARG_RG { "--resource-group -g", CP_AZ_STR, true, NULL, NULL, "Name of resource group." }
#define ARG_CLUSTER { "--cluster-name", CP_AZ_STR, true, NULL, NULL, "The cluster name." }
#define ARG_POOL { "--nodepool-name", CP_AZ_STR, true, NULL, NULL, "Name of the agentpool of a managed cluster." }

static const cp_az_arg list_args[] = { ARG_RG, ARG_CLUSTER, ARG_POOL };
static const cp_az_arg show_args[] = {
        ARG_RG, ARG_CLUSTER, ARG_POOL,
        { "--machine-name", CP_AZ_STR, true, NULL, NULL, "Get a specific machine in an agentpool." },
};
static const cp_az_cmd list_cmd = {
        "aks machine list", "Get information about the machines (nodes) in a node pool and their attestation.",
        list_args, CP_ELEMENTSOF(list_args),
        "    List the machines of a node pool with their attestation summary\n"
        "        confpool aks machine list -g MyResourceGroup --cluster-name MyCluster --nodepool-name cvmpool -o table\n",
};
static const cp_az_cmd show_cmd = {
        "aks machine show", "Show a machine (node) of a node pool and its attestation.", show_args,
        CP_ELEMENTSOF(show_args),
        "    Show one machine's attestation\n"
        "        confpool aks machine show -g MyResourceGroup --cluster-name MyCluster --nodepool-name cvmpool \\\n"
        "            --machine-name aks-cvmpool-12345678-vmss000000 --query properties.attestation\n",
};

static char *machines_url(cp_az_ctx *ctx, const char *machine) {
        _cleanup_free_ char *rg = cp_az_escape(cp_az_str(ctx, "--resource-group"));
        _cleanup_free_ char *cl = cp_az_escape(cp_az_str(ctx, "--cluster-name"));
        _cleanup_free_ char *np = cp_az_escape(cp_az_str(ctx, "--nodepool-name"));
        _cleanup_free_ char *m = machine ? cp_az_escape(machine) : NULL;
        _cleanup_free_ char *path = NULL;
        if (!rg || !cl || !np || (machine && !m))
                return NULL;
        if (asprintf(&path,
                     "/resourceGroups/%s/providers/Microsoft.ContainerService/managedClusters/%s/agentPools/%s/machines%s%s",
                     rg, cl, np, m ? "/" : "", m ? m : "") < 0)
                return NULL;
        return cp_az_url(ctx, path, CP_AZ_API_CS, NULL);
}

static json_t *rfc3339(json_int_t t) {
        if (t <= 0)
                return json_null();
        time_t tt = (time_t) t;
        struct tm tm;
        char buf[32];
        if (!gmtime_r(&tt, &tm) || !strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm))
                return json_null();
        return json_string(buf);
}

/* Readable times next to the Unix ones. */
static void add_times(json_t *machine) {
        json_t *att = json_object_get(json_object_get(machine, "properties"), "attestation");
        if (!json_is_object(att))
                return;
        json_object_set_new(att, "lastAttestationTime", rfc3339(json_integer_value(json_object_get(att, "lastAttestation"))));
        json_object_set_new(att, "tokenExpiryTime", rfc3339(json_integer_value(json_object_get(att, "tokenExpiry"))));
}

static const char *str_at(const json_t *j, const char *a, const char *b, const char *c) {
        const json_t *v = json_object_get(j, a);
        if (b)
                v = json_object_get(v, b);
        if (c)
                v = json_object_get(v, c);
        const char *s = json_string_value(v);
        return s && *s ? s : "";
}

/* One table row: name, state, Kubernetes version, host, TCB, measurement (prefix), times. */
static json_t *row(const json_t *m) {
        const char *lm = str_at(m, "properties", "attestation", "launchMeasurement");
        char meas[24];
        snprintf(meas, sizeof meas, "%.16s%s", lm, strlen(lm) > 16 ? "..." : "");
        const char *reason = str_at(m, "properties", "attestation", "reason");
        return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "name", str_at(m, "name", NULL, NULL), "state",
                         str_at(m, "properties", "status", "nodeState"), "version",
                         str_at(m, "properties", "kubernetes", "orchestratorVersion"), "host",
                         str_at(m, "properties", "attestation", "host"), "tcb",
                         str_at(m, "properties", "attestation", "reportedTcb"), "measurement", meas, "lastAttestation",
                         str_at(m, "properties", "attestation", "lastAttestationTime"), "tokenExpiry",
                         str_at(m, "properties", "attestation", "tokenExpiryTime"), "reason", reason);
}

static int output(cp_az_ctx *ctx, json_t *v) {
        if (ctx->format != CP_AZOUT_TABLE || ctx->query)
                return cp_az_output(ctx, v, NULL);
        json_t *rows = json_array();
        if (json_is_array(v)) {
                size_t i;
                json_t *m;
                json_array_foreach(v, i, m) json_array_append_new(rows, row(m));
        } else
                json_array_append_new(rows, row(v));
        int r = cp_az_output(ctx, rows, NULL);
        json_decref(rows);
        return r;
}

static int machine_list(cp_az_ctx *ctx) {
        int r;
        if ((r = cp_az_connect(ctx)) != 0)
                return r;
        _cleanup_free_ char *url = machines_url(ctx, NULL);
        if (!url)
                return CP_EXIT_FAILURE;
        json_t *list = NULL;
        if ((r = cp_az_list(ctx, url, NULL, &list)) != 0)
                return r;
        size_t i;
        json_t *m;
        json_array_foreach(list, i, m) add_times(m);
        r = output(ctx, list);
        json_decref(list);
        return r;
}

static int machine_show(cp_az_ctx *ctx) {
        int r;
        if ((r = cp_az_connect(ctx)) != 0)
                return r;
        _cleanup_free_ char *url = machines_url(ctx, cp_az_str(ctx, "--machine-name"));
        if (!url)
                return CP_EXIT_FAILURE;
        cp_httpc_response resp;
        json_t *j = NULL;
        if ((r = cp_az_call(ctx, "GET", url, NULL, NULL, &resp, &j)) != 0)
                return r;
        if (resp.status != 200 || !json_is_object(j))
                r = cp_az_service_error(&resp, j, true);
        else {
                add_times(j);
                r = output(ctx, j);
        }
        json_decref(j);
        cp_httpc_response_clear(&resp);
        return r;
}

static const cp_az_entry entries[] = {
        { "list", &list_cmd, machine_list, NULL },
        { "show", &show_cmd, machine_show, NULL },
};
const cp_az_group cp_az_group_machine = { "aks machine", "Get information about machines in a nodepool of a managed "
                                                         "clusters.",
                                          entries, CP_ELEMENTSOF(entries) };
