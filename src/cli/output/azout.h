/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CP_SHARED_AZOUT_H
#define CP_SHARED_AZOUT_H

/*
 * Azure-CLI ("az", knack) output formatting of a command result, after the
 * optional --query (see docs/cli-output.md):
 *   json   2-space indent, keys sorted, non-ASCII kept, Python float repr
 *   jsonc  json with ANSI colours (plain when colour is off / not a tty)
 *   table  knack's auto table via a tabulate "simple" layout; optional
 *          per-command row transformer (a JMESPath expression per row)
 *   tsv    knack's TsvOutput rules
 *   yaml   PyYAML safe_dump(default_flow_style=False, allow_unicode=True)
 *   yamlc  yaml with ANSI colours
 *   none   nothing
 * A null result prints nothing in every format.
 */

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

#include "confpool/error.h"

typedef enum cp_azout_format {
        CP_AZOUT_JSON,
        CP_AZOUT_JSONC,
        CP_AZOUT_TABLE,
        CP_AZOUT_TSV,
        CP_AZOUT_YAML,
        CP_AZOUT_YAMLC,
        CP_AZOUT_NONE,
        _CP_AZOUT_FORMAT_MAX,
} cp_azout_format;

/* A command's table transformer: a JMESPath expression evaluated on every
 * row (every element when the result is a list), normally a multi-select
 * hash whose key order gives the column order. */
typedef struct cp_azout_table_spec {
        const char *row_expr;
} cp_azout_table_spec;

/* az aks nodepool show/list and az aks show/list transformers (S6 _format.py). */
extern const cp_azout_table_spec cp_azout_table_agentpool;
extern const cp_azout_table_spec cp_azout_table_cluster;

typedef struct cp_azout_opts {
        /* --query was given: the table transformer is not applied, table keys
         * are not sorted and tsv keeps object key order. */
        bool query_active;
        /* jsonc / yamlc colouring: -1 when f is a tty, 0 never, 1 always. */
        int color;
} cp_azout_opts;

/* "json", "jsonc", "table", "tsv", "yaml", "yamlc", "none" (exact, as az). */
CP_WUR int cp_azout_format_from_string(const char *s, cp_azout_format *ret);
const char *cp_azout_format_to_string(cp_azout_format fmt);

/* Render value (borrowed; NULL or json null renders as "") into a malloc'd
 * NUL-terminated string.  CP_EUNSUPPORTED for table output that az would
 * refuse ("Table output unavailable..."), CP_ETOOBIG past the nesting limit. */
CP_WUR int cp_azout_render(json_t *value, cp_azout_format fmt, const cp_azout_table_spec *cols,
                           const cp_azout_opts *opts, char **ret);
/* Render and write to f; opts NULL = no query, colour when f is a tty. */
CP_WUR int cp_azout_print_opts(FILE *f, json_t *value, cp_azout_format fmt, const cp_azout_table_spec *cols,
                               const cp_azout_opts *opts);
CP_WUR int cp_azout_print(FILE *f, json_t *value, cp_azout_format fmt, const cp_azout_table_spec *cols);

/* REST shape -> CLI shape. */
typedef struct cp_azout_rename {
        const char *from; /* dotted path below "properties", e.g. "securityProfile.enableVTPM" */
        const char *to;   /* new name of the last component */
} cp_azout_rename;

typedef struct cp_azout_renames {
        const cp_azout_rename *renames;
        size_t n_renames;
        /* CLI keys that are always present (null when the REST body lacks them) */
        const char *const *fields;
        size_t n_fields;
} cp_azout_renames;

/* Agent pool table from aks-api.md 2.6. */
extern const cp_azout_renames cp_azout_renames_agentpool;

/* New object: the resource's top-level keys except "properties", every
 * property moved to the top level under its renamed key (nested renames
 * applied), "resourceGroup" taken from "id", missing fields as null, and all
 * object keys sorted.  NULL (with the error set) on failure or when
 * rest_resource is not an object. */
json_t *cp_azout_flatten_arm(json_t *rest_resource, const cp_azout_renames *table);

#endif
