/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CP_CONTROLPLANE_HTTPD_H
#define CP_CONTROLPLANE_HTTPD_H

#include "controlplane/cp-api.h"
#include "service/httpd.h"

/* The cp_http_handler that feeds the shared HTTP server's requests to the
 * API router; userdata is the cp_api. */
void cp_api_http_handler(void *userdata, const cp_http_request *req, cp_http_response *resp);

#endif
