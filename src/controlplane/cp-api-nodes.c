/* SPDX-License-Identifier: Apache-2.0 */
/* The node agents' endpoints (register, heartbeat; cp-nodes.h): their own
 * authentication (an attestation token bound to the machine), then the
 * admission of cp-nodes.c. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "basic/limits.h"
#include "controlplane/cp-api-internal.h"
#include "controlplane/cp-nodes.h"

#define NODE_PATH                                                                                                      \
        "/subscriptions/{s}/resourceGroups/{rg}/providers/Microsoft.ContainerService/managedClusters/{c}/agentPools/{p}" \
        "/machines/{m}"

static void respond(cp_svc_call *sc, unsigned status, const char *code, const char *msg) {
        if (code)
                cp_svc_reply_error(sc, status, code, "%s", msg);
        else
                cp_svc_reply_json(sc, status, json_pack("{s:s}", "state", msg));
}

/* Register (hb false) or heartbeat: the caller's attestation token, then admission. */
static void node_call(cp_svc_call *sc, bool hb) {
        cp_nodes *n = ((cp_api *) sc->userdata)->nodes;
        char(*k)[CP_SVC_CAP_MAX] = sc->caps;
        const char *a = cp_http_req_header(sc->req, "Authorization");
        if (!a || strncasecmp(a, "Bearer ", 7) != 0 || strlen(a + 7) > CP_JWT_MAX_TOKEN)
                return respond(sc, 401, "AuthenticationFailed", "An attestation token is required.");
        char pool_id[1400], why[768];
        snprintf(pool_id, sizeof pool_id,
                 "/subscriptions/%s/resourceGroups/%s/providers/Microsoft.ContainerService/managedClusters/%s/agentPools/%s",
                 k[0], k[1], k[2], k[3]);
        cp_admission adm = CP_ADMIT_NO_MACHINE;
        cp_jwt *jwt = NULL;
        json_t *kube = NULL;
        int r;
        /* a node of a non-confidential size: its backend's bootstrap token (issue 16) */
        if (strncmp(a + 7, "cpboot.", 7) == 0) {
                r = cp_nodes_admit_bootstrap(n, pool_id, k[4], hb, a + 7, &adm, why, sizeof why);
                goto answer;
        }
        r = cp_nodes_validate_token(n, a + 7, &jwt);
        if (r == CP_EAGAIN) {
                /* the attestation service's keys cannot say yet: not a verdict (the agent tries again) */
                char msg[400];
                snprintf(msg, sizeof msg, "The attestation token cannot be checked now: %s", cp_error_message());
                cp_error_clear();
                return respond(sc, 503, "ServiceUnavailable", msg);
        }
        if (r < 0) {
                char msg[300];
                snprintf(msg, sizeof msg, "The attestation token is invalid: %s", cp_error_message());
                cp_error_clear();
                return respond(sc, 401, "InvalidAuthenticationToken", msg);
        }
        /* an Azure TDX CVM's token: its TEE's claims are under x-ms-isolation-tee (issue 16) */
        json_t *view = cp_nodes_claims_view(cp_jwt_claims(jwt));
        if (!view) {
                cp_jwt_free(jwt);
                return respond(sc, 500, "InternalServerError", "out of memory");
        }
        const json_t *claims = view;
        /* the token must be this machine's: its runtime data names it */
        const char *uid = json_string_value(
                json_object_get(json_object_get(json_object_get(claims, "x-ms-runtime"), "vm-configuration"), "vmUniqueId"));
        if (!uid || strcmp(uid, k[4]) != 0) {
                json_decref(view);
                cp_jwt_free(jwt);
                return respond(sc, 401, "InvalidAuthenticationToken",
                               "The attestation token belongs to another machine.");
        }
        r = cp_nodes_admit(n, pool_id, k[4], hb, claims, &adm, why, sizeof why);
        if (r >= 0 && adm == CP_ADMIT_READY && !hb && k8s_bootstrap_issue(sc->userdata, pool_id, k[4], claims, &kube) < 0) {
                /* the node is admitted; it only has no Kubernetes credential (logged) */
                fprintf(stderr, "confpoold: k8s: no bootstrap token for %.64s: %s\n", k[4], cp_error_message());
                cp_error_clear();
        }
        json_decref(view);
        cp_jwt_free(jwt);
answer:
        if (r < 0) {
                respond(sc, 500, "InternalServerError", cp_error_message());
                cp_error_clear();
        } else if (adm == CP_ADMIT_NO_MACHINE)
                respond(sc, 404, "NotFound", "No such machine.");
        else if (adm == CP_ADMIT_WRONG_NODE)
                respond(sc, 401, "InvalidAuthenticationToken", why);
        else if (adm == CP_ADMIT_CONFLICT)
                respond(sc, 409, "Conflict", "The machine has failed or is quarantined.");
        else if (adm == CP_ADMIT_REFUSED)
                respond(sc, 403, "AttestationPolicyViolation", why);
        else if (kube)
                cp_svc_reply_json(sc, 200, json_pack("{s:s,s:O}", "state", "Ready", "kubernetes", kube));
        else
                respond(sc, 200, NULL, "Ready");
        json_decref(kube);
}

static void node_register(cp_svc_call *sc) {
        node_call(sc, false);
}

static void node_heartbeat(cp_svc_call *sc) {
        node_call(sc, true);
}

const cp_svc_route cp_api_node_routes[] = {
        {"POST", NODE_PATH "/register", node_register, CP_ROUTE_PUBLIC},
        {"POST", NODE_PATH "/heartbeat", node_heartbeat, CP_ROUTE_PUBLIC},
};
const size_t cp_api_n_node_routes = CP_ELEMENTSOF(cp_api_node_routes);
