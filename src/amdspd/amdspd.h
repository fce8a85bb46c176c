/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CP_AMDSPD_H
#define CP_AMDSPD_H

/*
 * confpool-amdspd: one emulated AMD-SP host as a daemon (docs/amdsp.md).
 * A command table as the CLI's: cp_amdspd_main() picks the command, each
 * command parses its own options (always --state-dir DIR and --help) and
 * answers with an exit status: 0 done, 1 the AMD-SP refused or I/O failed,
 * 2 a usage error.
 */

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "emu/amdsp.h"

enum {
        CP_AMDSPD_EXIT_OK = 0,
        CP_AMDSPD_EXIT_FAILURE = 1,
        CP_AMDSPD_EXIT_USAGE = 2,
};

/* A command: argv[0] is its name, options follow. */
typedef int (*cp_amdspd_fn)(int argc, char **argv);

int cp_amdspd_main(int argc, char **argv);

int cp_amdspd_cmd_init(int argc, char **argv);
int cp_amdspd_cmd_launch(int argc, char **argv);
int cp_amdspd_cmd_set_tcb(int argc, char **argv);
int cp_amdspd_cmd_mask(int argc, char **argv);
int cp_amdspd_cmd_revoke(int argc, char **argv);
int cp_amdspd_cmd_export(int argc, char **argv);
int cp_amdspd_cmd_serve(int argc, char **argv);

/* ---- helpers shared by the commands ---------------------------------------- */

/* Every command's options end with these two. */
#define CP_AMDSPD_COMMON_OPTIONS                                                                   \
        { "state-dir", required_argument, NULL, 'd' }, { "help", no_argument, NULL, 'h' }, { 0 }

/* One command's option scan. */
typedef struct cp_amdspd_args {
        int argc;
        char **argv;
        const char *state_dir;
        int exit; /* the status to return when cp_amdspd_next() gives -1 */
} cp_amdspd_args;

void cp_amdspd_args_init(cp_amdspd_args *a, int argc, char **argv);
/* The next option of the command's own (getopt_long's value, optarg set), 0
 * when the options are done, -1 when the command is to return a->exit: after
 * --help (usage on stdout, 0), a bad or incomplete option, a stray argument
 * or no --state-dir (usage on stderr, 2). */
int cp_amdspd_next(cp_amdspd_args *a, const struct option *opts);

/* The usage of command name on f (the command table's text). */
void cp_amdspd_usage(const char *name, FILE *f);
/* "confpool-amdspd: what: <last error>" on stderr; returns 1. */
int cp_amdspd_fail(const char *what);
/* Open the host in dir (it must exist); on failure the error is printed. */
int cp_amdspd_open(const char *dir, cp_amdsp **ret);
/* Exactly n bytes of hex; a message on stderr otherwise (-1). */
int cp_amdspd_parse_hex(const char *s, uint8_t *out, size_t n);
/* A strict unsigned number (any base) up to max, as `confpool snp measure`
 * parses them; a message naming what on stderr otherwise (-1). */
int cp_amdspd_parse_num(const char *what, const char *s, uint64_t max, uint64_t *ret);

#endif
