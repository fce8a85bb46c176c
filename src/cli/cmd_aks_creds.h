/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CP_CLI_CMD_AKS_CREDS_H
#define CP_CLI_CMD_AKS_CREDS_H

/* confpool aks get-credentials (cmd_aks_creds.c) and its kubeconfig helpers. */

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "basic/error.h"
#include "cli/cli-az.h"

extern const cp_az_cmd cp_aks_get_credentials_cmd;
int cp_aks_get_credentials(cp_az_ctx *ctx);

/* A kubeconfig (YAML or JSON; empty: an empty object) as a JSON tree;
 * CP_EFORMAT naming the line of a YAML error, aliases refused. */
CP_WUR int cp_kubeconfig_parse(const uint8_t *text, size_t len, json_t **ret);
/* Block YAML of a tree, every string double-quoted (malloc()ed). */
char *cp_kubeconfig_yaml(const json_t *doc, size_t *ret_len);
/* az's merge: add's clusters, users and contexts into existing (same name:
 * replaced when equal or overwrite, else CP_EBADSEQ with why "A different
 * object named X already exists in your kubeconfig file."), its
 * current-context set. */
CP_WUR int cp_kubeconfig_merge(json_t *existing, const json_t *add, bool overwrite, char *why, size_t why_size);

#endif
