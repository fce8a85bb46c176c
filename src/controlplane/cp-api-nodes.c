/* SPDX-License-Identifier: Apache-2.0 */
/* The node agents' endpoints (register, heartbeat; cp-nodes.h): their own
 * authentication (an attestation token bound to the machine), then the
 * admission of cp-nodes.c. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "basic/limits.h"
#include "controlplane/cp-api.h"
#include "controlplane/cp-nodes.h"

#define NODE_PATH                                                                                                      \
        "/subscriptions/{s}/resourceGroups/{rg}/providers/Microsoft.ContainerService/managedClusters/{c}/agentPools/{p}" \
        "/machines/{m}/{action}"

static void respond(cp_api_response *resp, unsigned status, const char *code, const char *msg) {
        resp->status = status;
        resp->body = code ? json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", msg)
                          : json_pack("{s:s}", "state", msg);
}

bool cp_api_nodes_pre_auth(void *userdata, const cp_api_request *req, cp_api_response *resp) {
        cp_nodes *n = userdata;
        char k[6][256];
        if (!req->path || !cp_api_path_match(NODE_PATH, req->path, k, 6))
                return false;
        bool hb = strcasecmp(k[5], "heartbeat") == 0;
        if (!hb && strcasecmp(k[5], "register") != 0)
                return false;
        memset(resp, 0, sizeof *resp);
        if (!req->method || strcmp(req->method, "POST") != 0) {
                respond(resp, 405, "MethodNotAllowed", "Use POST.");
                return true;
        }
        const char *a = req->authorization;
        if (!a || strncasecmp(a, "Bearer ", 7) != 0 || strlen(a + 7) > CP_JWT_MAX_TOKEN) {
                respond(resp, 401, "AuthenticationFailed", "An attestation token is required.");
                return true;
        }
        cp_jwt *jwt = NULL;
        int r = cp_nodes_validate_token(n, a + 7, &jwt);
        if (r < 0) {
                char msg[300];
                snprintf(msg, sizeof msg, "The attestation token is invalid: %s", cp_error_message());
                cp_error_clear();
                respond(resp, 401, "InvalidAuthenticationToken", msg);
                return true;
        }
        const json_t *claims = cp_jwt_claims(jwt);
        /* the token must be this machine's: its runtime data names it */
        const char *uid = json_string_value(
                json_object_get(json_object_get(json_object_get(claims, "x-ms-runtime"), "vm-configuration"), "vmUniqueId"));
        if (!uid || strcmp(uid, k[4]) != 0) {
                cp_jwt_free(jwt);
                respond(resp, 401, "InvalidAuthenticationToken", "The attestation token belongs to another machine.");
                return true;
        }
        char pool_id[1400], why[768];
        snprintf(pool_id, sizeof pool_id,
                 "/subscriptions/%s/resourceGroups/%s/providers/Microsoft.ContainerService/managedClusters/%s/agentPools/%s",
                 k[0], k[1], k[2], k[3]);
        cp_admission adm = CP_ADMIT_NO_MACHINE;
        r = cp_nodes_admit(n, pool_id, k[4], hb, claims, &adm, why, sizeof why);
        cp_jwt_free(jwt);
        if (r < 0) {
                respond(resp, 500, "InternalServerError", cp_error_message());
                cp_error_clear();
        } else if (adm == CP_ADMIT_NO_MACHINE)
                respond(resp, 404, "NotFound", "No such machine.");
        else if (adm == CP_ADMIT_CONFLICT)
                respond(resp, 409, "Conflict", "The machine has failed or is quarantined.");
        else if (adm == CP_ADMIT_REFUSED)
                respond(resp, 403, "AttestationPolicyViolation", why);
        else
                respond(resp, 200, NULL, "Ready");
        return true;
}
