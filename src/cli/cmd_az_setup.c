/* SPDX-License-Identifier: Apache-2.0 */
/*
 * confpool az-setup [--state-dir DIR] [--url URL] [--cloud NAME] [--app-id ID]
 *                   [--secret-file FILE] [--run]
 *
 * Prints (or, with --run, runs) what points the real Azure CLI at a running
 * confpoold: the REQUESTS_CA_BUNDLE export (the daemon's CA), `az cloud
 * register` with the daemon's endpoints (the active-directory endpoint ends
 * in /adfs, so az and MSAL skip Microsoft's instance discovery), `az cloud
 * set` and `az login --service-principal`.  The secret comes from
 * --secret-file or $CONFPOOL_SP_SECRET; printed commands refer to
 * "$CONFPOOL_SP_SECRET" instead of showing it.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "basic/fileio.h"
#include "basic/secure.h"
#include "cli/cli.h"
#include "service/proc.h"

static void usage(FILE *f) {
        fputs("usage: confpool az-setup [--state-dir DIR] [--url URL] [--cloud NAME] [--app-id ID]\n"
              "                         [--secret-file FILE] [--run]\n"
              "\n"
              "Prints the commands that make the Azure CLI (az) talk to the confpoold whose\n"
              "state directory is DIR (its URL from DIR/confpoold.url, its CA DIR/ca.pem;\n"
              "default: the embedded stack's, ~/.confpool/stack/cp; a stack directory of\n"
              "'confpool up --state-dir' is taken for its confpoold's).  --run without\n"
              "--app-id logs az in as the stack's own service principal 'confpool-az',\n"
              "created on first use and kept in DIR/az-sp.json (0600):\n"
              "  export REQUESTS_CA_BUNDLE=DIR/ca.pem\n"
              "  az cloud register -n NAME --endpoint-resource-manager URL/ ...\n"
              "  az cloud set -n NAME\n"
              "  az login --service-principal -u ID -p \"$CONFPOOL_SP_SECRET\" --tenant adfs\n"
              "\n"
              "  --url URL           the daemon's https URL (default: DIR/confpoold.url)\n"
              "  --cloud NAME        the az cloud name (default confpool)\n"
              "  --app-id ID         service principal (from 'confpoold sp create')\n"
              "  --secret-file FILE  its secret (default: $CONFPOOL_SP_SECRET)\n"
              "  --run               run the commands (az from $AZ or PATH) instead of printing them\n",
              f);
}

/* Characters that need no shell quoting. */
static bool plain(const char *s) {
        return *s && strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/:._-+=@,[]") == strlen(s);
}

static void print_arg(const char *s) {
        if (plain(s)) {
                fputs(s, stdout);
                return;
        }
        putchar('\'');
        for (; *s; s++)
                if (*s == '\'')
                        fputs("'\\''", stdout);
                else
                        putchar(*s);
        putchar('\'');
}

static int run(char *const argv[], bool quiet_fail) {
        cp_proc_options o = {
                .err = quiet_fail ? CP_PROC_DEVNULL : CP_PROC_INHERIT,
                .search_path = true,
        };
        pid_t pid;
        int st, r;
        fflush(stdout);
        if ((r = cp_proc_spawn(argv, &o, &pid)) < 0 || (r = cp_proc_wait(pid, &st)) < 0)
                return r;
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
                return CP_ERROR(CP_EIO, "'%s %s %s' failed (exit %d)", argv[0], argv[1], argv[2] ? argv[2] : "",
                                WIFEXITED(st) ? WEXITSTATUS(st) : -1);
        return 0;
}

/* The steps return GO_ON (no exit yet) or the command's exit code. */
#define GO_ON (-1)

typedef struct setup_args {
        const char *dir, *url_arg, *cloud, *app, *secret_file;
        bool do_run;
        char ca[PATH_MAX], url[512];
        char secret[512];
        char dir_buf[PATH_MAX - 64], app_buf[64];
} setup_args;

/* No --state-dir: the embedded stack's confpoold (~/.confpool/stack/cp,
 * as `confpool up` without --state-dir); a stack directory (DIR/cp/ca.pem)
 * stands for its confpoold's. */
static int default_dir(setup_args *a) {
        char probe[PATH_MAX];
        if (!a->dir) {
                const char *home = getenv("HOME");
                if (!home || !*home) {
                        fprintf(stderr, "confpool: error: HOME is not set: give --state-dir\n");
                        return CP_EXIT_USAGE;
                }
                snprintf(a->dir_buf, sizeof a->dir_buf, "%s/.confpool/stack/cp", home);
                a->dir = a->dir_buf;
        } else {
                snprintf(probe, sizeof probe, "%s/cp/ca.pem", a->dir);
                if (access(probe, R_OK) == 0) {
                        snprintf(a->dir_buf, sizeof a->dir_buf, "%s/cp", a->dir);
                        a->dir = a->dir_buf;
                }
        }
        return GO_ON;
}

static int parse_setup_args(int argc, char **argv, setup_args *a) {
        static const struct option opts[] = {
                {"state-dir", required_argument, NULL, 's'}, {"url", required_argument, NULL, 'u'},
                {"cloud", required_argument, NULL, 'c'},     {"app-id", required_argument, NULL, 'a'},
                {"secret-file", required_argument, NULL, 'S'}, {"run", no_argument, NULL, 'r'},
                {"help", no_argument, NULL, 'h'},            {0},
        };
        int c;
        optind = 1;
        while ((c = getopt_long(argc, argv, "s:u:c:a:S:rh", opts, NULL)) != -1) {
                switch (c) {
                case 's': a->dir = optarg; break;
                case 'u': a->url_arg = optarg; break;
                case 'c': a->cloud = optarg; break;
                case 'a': a->app = optarg; break;
                case 'S': a->secret_file = optarg; break;
                case 'r': a->do_run = true; break;
                case 'h': usage(stdout); return CP_EXIT_OK;
                default: usage(stderr); return CP_EXIT_USAGE;
                }
        }
        if (optind != argc || !plain(a->cloud)) {
                usage(stderr);
                return CP_EXIT_USAGE;
        }
        return default_dir(a);
}

/* DIR/ca.pem, and the daemon's https URL (--url or DIR/confpoold.url). */
static int resolve_daemon(setup_args *a) {
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/ca.pem", a->dir);
        if (!realpath(path, a->ca)) {
                fprintf(stderr, "confpool: error: %s: %s (is confpoold running with TLS on this state directory?)\n",
                        path, strerror(errno));
                return CP_EXIT_FAILURE;
        }
        if (a->url_arg)
                snprintf(a->url, sizeof a->url, "%s", a->url_arg);
        else {
                uint8_t *b = NULL;
                size_t n = 0;
                snprintf(path, sizeof path, "%s/confpoold.url", a->dir);
                if (cp_read_file(path, sizeof a->url - 1, &b, &n) < 0) {
                        cp_cli_error("reading the daemon URL");
                        return CP_EXIT_FAILURE;
                }
                snprintf(a->url, sizeof a->url, "%.*s", (int) n, (const char *) b);
                free(b);
        }
        a->url[strcspn(a->url, "\r\n")] = 0;
        size_t ul = strlen(a->url);
        while (ul && a->url[ul - 1] == '/')
                a->url[--ul] = 0;
        if (strncmp(a->url, "https://", 8) != 0 || !plain(a->url)) {
                fprintf(stderr, "confpool: error: '%s' is not an https URL (az needs TLS: start confpoold with --tls)\n",
                        a->url);
                return CP_EXIT_USAGE;
        }
        return GO_ON;
}

/* --run --app-id: the secret from --secret-file or $CONFPOOL_SP_SECRET. */
static int read_secret(setup_args *a) {
        if (a->secret_file) {
                uint8_t *b = NULL;
                size_t n = 0;
                if (cp_read_file(a->secret_file, sizeof a->secret - 1, &b, &n) < 0) {
                        cp_cli_error("reading the secret");
                        return CP_EXIT_FAILURE;
                }
                snprintf(a->secret, sizeof a->secret, "%.*s", (int) n, (const char *) b);
                cp_wipe(b, n);
                free(b);
        } else if (getenv("CONFPOOL_SP_SECRET"))
                snprintf(a->secret, sizeof a->secret, "%s", getenv("CONFPOOL_SP_SECRET"));
        a->secret[strcspn(a->secret, "\r\n")] = 0;
        if (!*a->secret) {
                fprintf(stderr, "confpool: error: --run with --app-id needs --secret-file or $CONFPOOL_SP_SECRET\n");
                return CP_EXIT_USAGE;
        }
        return GO_ON;
}

/* --run without --app-id: the stack's own service principal for az,
 * created once with `confpoold sp create --name confpool-az` (confpoold
 * beside this binary, else from PATH) and kept in DIR/az-sp.json (0600:
 * it holds the secret), reused by every later run. */
static int own_principal(setup_args *a) {
        char path[PATH_MAX + 16], tmp[PATH_MAX + 32], bin[PATH_MAX];
        snprintf(path, sizeof path, "%s/az-sp.json", a->dir);
        if (access(path, R_OK) != 0) {
                ssize_t n = readlink("/proc/self/exe", bin, sizeof bin - 16);
                bin[n > 0 ? n : 0] = 0;
                char *sl = strrchr(bin, '/');
                snprintf(sl ? sl + 1 : bin, sizeof bin - (size_t) (sl ? sl + 1 - bin : 0), "confpoold");
                if (access(bin, X_OK) != 0)
                        snprintf(bin, sizeof bin, "confpoold");
                snprintf(tmp, sizeof tmp, "%s.new", path);
                char *argv[] = {bin, "sp", "create", "--state-dir", (char *) a->dir, "--name", "confpool-az", NULL};
                cp_proc_options o = {.out = CP_PROC_TRUNCATE, .out_path = tmp, .search_path = true};
                pid_t pid;
                int st, r;
                if ((r = cp_proc_spawn(argv, &o, &pid)) < 0 || (r = cp_proc_wait(pid, &st)) < 0) {
                        cp_cli_error("creating az's service principal");
                        return CP_EXIT_FAILURE;
                }
                if (!WIFEXITED(st) || WEXITSTATUS(st) != 0 || rename(tmp, path) < 0) {
                        unlink(tmp);
                        fprintf(stderr, "confpool: error: 'confpoold sp create --state-dir %s' failed\n", a->dir);
                        return CP_EXIT_FAILURE;
                }
        }
        json_t *j = json_load_file(path, JSON_REJECT_DUPLICATES, NULL);
        const char *app = json_string_value(json_object_get(j, "appId"));
        const char *pw = json_string_value(json_object_get(j, "password"));
        if (!app || !pw || strlen(app) >= sizeof a->app_buf || strlen(pw) >= sizeof a->secret) {
                json_decref(j);
                fprintf(stderr, "confpool: error: %s holds no service principal (appId, password); remove it to "
                                "create another\n", path);
                return CP_EXIT_FAILURE;
        }
        snprintf(a->app_buf, sizeof a->app_buf, "%s", app);
        snprintf(a->secret, sizeof a->secret, "%s", pw);
        a->app = a->app_buf;
        json_decref(j);
        return GO_ON;
}

/* The commands, up to their "-o none", the secret as "$CONFPOOL_SP_SECRET". */
static void print_commands(const setup_args *a, char **cmds[3]) {
        printf("export REQUESTS_CA_BUNDLE=");
        print_arg(a->ca);
        putchar('\n');
        for (size_t i = 0; i < 3; i++) {
                for (size_t j = 0; cmds[i][j] && strcmp(cmds[i][j], "-o") != 0; j++) {
                        if (j)
                                putchar(' ');
                        if (i == 2 && j == 6)
                                fputs("\"$CONFPOOL_SP_SECRET\"", stdout);
                        else
                                print_arg(cmds[i][j]);
                }
                putchar('\n');
        }
}

/* register (or update an existing registration: a restarted daemon, a new
 * port), set, and log in if there is a service principal. */
static int run_commands(const setup_args *a, char *reg[], char *set[], char *login[]) {
        const char *az = getenv("AZ");
        if (az && *az)
                reg[0] = set[0] = login[0] = (char *) az;
        if (setenv("REQUESTS_CA_BUNDLE", a->ca, 1) < 0) {
                fprintf(stderr, "confpool: error: setenv: %s\n", strerror(errno));
                return CP_EXIT_FAILURE;
        }
        int r = run(reg, true);
        if (r < 0) {
                cp_error_clear();
                reg[2] = "update";
                r = run(reg, false);
        }
        if (r >= 0)
                r = run(set, false);
        if (r >= 0 && a->app)
                r = run(login, false);
        if (r < 0) {
                cp_cli_error(NULL);
                return CP_EXIT_FAILURE;
        }
        printf("az now targets %s (cloud '%s'); export REQUESTS_CA_BUNDLE=", a->url, a->cloud);
        print_arg(a->ca);
        printf(" in your shell before running az.\n");
        return CP_EXIT_OK;
}

static int setup(setup_args *a) {
        int r;
        if ((r = resolve_daemon(a)) != GO_ON)
                return r;
        char rm[600], ad[600], adr[600], graph[600];
        snprintf(rm, sizeof rm, "%s/", a->url);
        snprintf(ad, sizeof ad, "%s/adfs", a->url);
        snprintf(adr, sizeof adr, "%s/", a->url);
        snprintf(graph, sizeof graph, "%s/graph/", a->url);
        char *reg[] = {"az", "cloud", "register", "-n", (char *) a->cloud, "--endpoint-resource-manager", rm,
                       "--endpoint-active-directory", ad, "--endpoint-active-directory-resource-id", adr,
                       "--endpoint-active-directory-graph-resource-id", graph, "--endpoint-management", rm,
                       "-o", "none", NULL};
        char *set[] = {"az", "cloud", "set", "-n", (char *) a->cloud, "-o", "none", NULL};
        if (a->do_run && a->app && (r = read_secret(a)) != GO_ON)
                return r;
        if (a->do_run && !a->app && (r = own_principal(a)) != GO_ON)
                return r;
        char *login[] = {"az", "login", "--service-principal", "-u", (char *) (a->app ? a->app : "<APP_ID>"), "-p",
                         a->do_run ? a->secret : "$CONFPOOL_SP_SECRET", "--tenant", "adfs", "-o", "none", NULL};
        if (!a->do_run) {
                char **cmds[] = {reg, set, login};
                print_commands(a, cmds);
                return CP_EXIT_OK;
        }
        return run_commands(a, reg, set, login);
}

int cp_cmd_az_setup(int argc, char **argv) {
        setup_args a = {.cloud = "confpool"};
        int r = parse_setup_args(argc, argv, &a);
        if (r == GO_ON)
                r = setup(&a);
        cp_wipe(a.secret, sizeof a.secret);
        return r;
}
