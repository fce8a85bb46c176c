/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CP_CLI_AZ_H
#define CP_CLI_AZ_H

/*
 * Plumbing of the az-compatible commands (group, aks, aks nodepool,
 * feature, provider, login/configure): a declarative argument table parsed
 * with argparse/knack's rules (long and short flags, "--flag value" and
 * "--flag=value", space-separated lists, case-insensitive enum choices),
 * az's global arguments, az-style help, connection settings (config
 * directory + environment), ARM calls with LRO polling, and output / error
 * printing as az does.  See docs/cli.md.
 *
 * Exit codes of these commands (az's, the CP_EXIT_* of cli.h): 0 success
 * (CP_EXIT_OK), 1 error from the service or the runtime (CP_EXIT_FAILURE),
 * 2 usage / argument error (CP_EXIT_USAGE), 3 resource not found on show
 * (CP_EXIT_NOT_FOUND).
 */

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "cli/exit.h"
#include "cli/output/azout.h"
#include "cli/output/jmespath.h"
#include "service/httpc.h"

#define CP_AZ_API_CS "2026-01-01"        /* Microsoft.ContainerService */
#define CP_AZ_API_RESOURCES "2022-09-01" /* resource groups, providers */
#define CP_AZ_API_FEATURES "2021-07-01"  /* Microsoft.Features */
#define CP_AZ_DEFAULT_SUBSCRIPTION "00000000-0000-0000-0000-000000000000"

typedef enum cp_az_argtype {
        CP_AZ_STR,
        CP_AZ_INT,
        CP_AZ_FLOAT,
        CP_AZ_FLAG, /* no value */
        CP_AZ_LIST, /* one or more values up to the next flag (nargs='+') */
} cp_az_argtype;

typedef struct cp_az_arg {
        const char *names;           /* "--node-vm-size -s": the first is the canonical name */
        cp_az_argtype type;
        bool required;
        const char *def;             /* default value (applied when absent, shown in help) */
        const char *const *choices;  /* NULL-terminated; matched case-insensitively */
        const char *help;
} cp_az_arg;

typedef struct cp_az_cmd {
        const char *name;     /* "aks nodepool add" */
        const char *summary;
        const cp_az_arg *args;
        size_t n_args;
        const char *examples; /* optional, printed under "Examples" */
} cp_az_cmd;

#define CP_AZ_MAX_ARGS 80

typedef struct cp_az_val {
        bool set;        /* given on the command line (or defaulted) */
        bool given;      /* given on the command line */
        const char *str; /* STR/INT/FLOAT: the text; choices: the canonical choice */
        long long num;
        double real;
        char **list;     /* LIST: values (borrowed from argv) */
        size_t n_list;
} cp_az_val;

typedef struct cp_az_conn {
        char *endpoint;      /* https://host:port (no trailing slash) */
        char *token;         /* bearer token (secret: wiped on free) */
        char *ca_file;
        char *subscription;
} cp_az_conn;

typedef struct cp_az_ctx {
        const cp_az_cmd *cmd;
        cp_az_val vals[CP_AZ_MAX_ARGS];
        /* global arguments */
        cp_azout_format format;
        cp_jmespath *query;
        bool only_show_errors, verbose, debug;
        const char *subscription_arg;
        /* connection, loaded lazily by cp_az_connect() */
        cp_az_conn conn;
        bool connected;
} cp_az_ctx;

/* A command implementation: ctx holds the parsed arguments. Returns an exit code. */
typedef int (*cp_az_fn)(cp_az_ctx *ctx);

typedef struct cp_az_entry {
        const char *name;                 /* "add" or a subgroup name */
        const cp_az_cmd *cmd;             /* a command ... */
        cp_az_fn fn;
        const struct cp_az_group *group;  /* ... or a subgroup */
} cp_az_entry;

typedef struct cp_az_group {
        const char *name;      /* "aks nodepool" */
        const char *summary;
        const cp_az_entry *entries;
        size_t n_entries;
} cp_az_group;

/* Dispatch argv (argv[0] is the group's last word) into a group's command
 * or subgroup; prints group help for -h/--help or a missing command. */
int cp_az_run_group(const cp_az_group *g, int argc, char **argv);

/* Parse a command's arguments (argv[0] is the command word).  Returns 0 on
 * success; 1 when help was printed (exit 0); -1 after printing a usage
 * error (exit 2). */
int cp_az_parse(const cp_az_cmd *cmd, int argc, char **argv, cp_az_ctx *ctx);
void cp_az_ctx_done(cp_az_ctx *ctx);
void cp_az_print_help(FILE *f, const cp_az_cmd *cmd);

/* Values by canonical long name ("--node-count"); NULL/unset when absent. */
const cp_az_val *cp_az_get(const cp_az_ctx *ctx, const char *name);
const char *cp_az_str(const cp_az_ctx *ctx, const char *name);
bool cp_az_flag(const cp_az_ctx *ctx, const char *name);
bool cp_az_given(const cp_az_ctx *ctx, const char *name);

/* Messages as az prints them on stderr ("ERROR: ...", "WARNING: ..."). */
void cp_az_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void cp_az_warn(const cp_az_ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void cp_az_debug(const cp_az_ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A client-side validation failure: prints the message, returns CP_EXIT_USAGE. */
int cp_az_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Connection settings: $CONFPOOL_CONFIG_DIR (default ~/.confpool)/config,
 * overridden by CONFPOOL_ENDPOINT / CONFPOOL_TOKEN / CONFPOOL_TOKEN_FILE /
 * CONFPOOL_CA_FILE / CONFPOOL_SUBSCRIPTION, and --subscription. */
CP_WUR int cp_az_config_dir(char *buf, size_t size);
CP_WUR int cp_az_load_conn(const char *subscription_arg, cp_az_conn *ret);
void cp_az_conn_clear(cp_az_conn *c);
/* Load the connection into ctx; prints the error and returns an exit code
 * (0 on success). */
int cp_az_connect(cp_az_ctx *ctx);

/* Simple "key = value" config file with [sections]: value of section.key
 * (malloc'd) or NULL. */
char *cp_az_config_get(const char *text, const char *section, const char *key);
/* Return text with section.key set to value (NULL value removes it). */
char *cp_az_config_set(const char *text, const char *section, const char *key, const char *value);

/* Percent-encode one path segment into a malloc'd string. */
char *cp_az_escape(const char *segment);
/* "<endpoint>/subscriptions/<sub>" + suffix (already escaped) */
char *cp_az_url(const cp_az_ctx *ctx, const char *path, const char *api_version, const char *extra_query);

/* One ARM call.  body may be NULL.  *ret_json: parsed body (NULL if empty
 * or not JSON).  Transport errors print an error and return 1; any HTTP
 * status is returned in ret->status (0 on success of the call). */
int cp_az_call(cp_az_ctx *ctx, const char *method, const char *url, json_t *body, const char *const *headers,
               cp_httpc_response *ret, json_t **ret_json);

/* Print the ARM error of a failed response as az does and return the exit
 * code (1, or 3 when not_found_exit3 and status is 404). */
int cp_az_service_error(const cp_httpc_response *r, const json_t *body, bool not_found_exit3);
/* Print an ARM error object {code, message, target, details}. */
void cp_az_print_arm_error(const json_t *err);

/* Progress callback called between LRO polls (may print). */
typedef void (*cp_az_progress_fn)(cp_az_ctx *ctx, void *userdata, bool final);

/* Follow a long-running operation started by resp (201/200/202 with
 * Azure-AsyncOperation / Location, or a resource whose provisioningState is
 * in progress) to a terminal state, then GET resource_url (unless NULL)
 * and return it in *ret_final.  Prints errors; returns an exit code. */
int cp_az_lro(cp_az_ctx *ctx, const cp_httpc_response *resp, const char *resource_url, cp_az_progress_fn progress,
              void *userdata, json_t **ret_final);

/* --query, then the output format.  result borrowed (NULL prints nothing). */
int cp_az_output(cp_az_ctx *ctx, json_t *result, const cp_azout_table_spec *table);

/* Ask "msg (y/n): " unless yes; returns true to proceed. Prints az's error
 * when no tty is available. */
bool cp_az_confirm(bool yes, const char *msg, int *ret_exit);

/* Flatten marker: REST -> CLI shape without renames. */
extern const cp_azout_renames cp_az_no_renames;

/* Space-separated "key[=value]" tags (az --tags): an object, NULL when the
 * argument is unset; "" alone clears (empty object). Prints usage errors. */
int cp_az_parse_tags(const cp_az_val *v, json_t **ret);
/* Flatten a REST resource (flatten NULL: copy). */
json_t *cp_az_shape(json_t *rest, const cp_azout_renames *flatten);
/* One call whose JSON response is the command's result (non-LRO): errors
 * printed (404 exit 3 when show), result shaped and printed. */
int cp_az_simple(cp_az_ctx *ctx, const char *method, const char *url, json_t *body, bool show,
                 const cp_azout_renames *flatten, const cp_azout_table_spec *table);
/* GET a pageable list ({value, nextLink}), each element shaped. */
int cp_az_list(cp_az_ctx *ctx, const char *url, const cp_azout_renames *flatten, json_t **ret);
/* DELETE with --no-wait handling and LRO polling; 204 is success. */
int cp_az_delete(cp_az_ctx *ctx, const char *url, const char *const *headers);

/* Sleep used by LRO polling (tests set CONFPOOL_POLL_MAX_MS to bound it). */
void cp_az_sleep_ms(long ms);

/* Command groups (cmd_*.c). */
int cp_cmd_group(int argc, char **argv);
int cp_cmd_aks(int argc, char **argv);
int cp_cmd_feature(int argc, char **argv);
int cp_cmd_provider(int argc, char **argv);
int cp_cmd_login(int argc, char **argv);
int cp_cmd_configure(int argc, char **argv);

/* Client-side validators of az (aks-api.md 2.4): 0, or the usage-error
 * exit code after printing az's message. */
int cp_az_validate_nodepool_name(const char *name);
int cp_az_validate_cluster_name(const char *name);
int cp_az_validate_k8s_version(const char *v);
int cp_az_validate_count_range(const char *flag, const cp_az_val *v);
int cp_az_validate_taints(const char *taints);
int cp_az_validate_label(const char *label);
int cp_az_validate_max_surge(const char *v);
int cp_az_validate_arm_id(const char *flag, const char *id);
/* Space-separated labels -> object (NULL when unset; "" clears). */
int cp_az_parse_labels(const cp_az_val *v, json_t **ret);
/* Comma-separated taints -> array ("" clears). */
int cp_az_parse_taints(const char *s, json_t **ret);

/* aks nodepool lives in cmd_nodepool.c */
extern const cp_az_group cp_az_group_nodepool;
extern const cp_az_group cp_az_group_machine; /* cmd_machine.c */
extern const cp_az_group cp_az_group_attest_policy; /* cmd_attest_policy.c */

#endif
