/* SPDX-License-Identifier: Apache-2.0 */
/*
 * confpool login --endpoint URL --token-file F [--ca-file F] [--subscription ID]
 * confpool configure [--endpoint URL] [--token-file F] [--ca-file F] [--defaults subscription=ID]
 *
 * Connection settings live in $CONFPOOL_CONFIG_DIR/config (default
 * ~/.confpool/config, mode 0600, directory 0700), like az keeps ~/.azure.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "basic/cleanup.h"
#include "basic/fileio.h"
#include "basic/secure.h"
#include "cli/cli-az.h"

static const cp_az_arg login_args[] = {
        { "--endpoint", CP_AZ_STR, true, NULL, NULL, "Base URL of confpoold, e.g. https://127.0.0.1:8443." },
        { "--token-file", CP_AZ_STR, true, NULL, NULL, "File holding the bearer token (confpoold's operator.token)." },
        { "--ca-file", CP_AZ_STR, false, NULL, NULL, "PEM CA bundle that signs confpoold's TLS certificate." },
        { "--no-verify", CP_AZ_FLAG, false, NULL, NULL, "Save the settings without a test request." },
};
static const cp_az_cmd login_cmd = {
        "login", "Log in to a confpoold endpoint (saves the connection settings).", login_args,
        CP_ELEMENTSOF(login_args),
        "    Log in to a local confpoold\n"
        "        confpool login --endpoint http://127.0.0.1:8080 --token-file /var/lib/confpoold/operator.token\n",
};

static const cp_az_arg configure_args[] = {
        { "--endpoint", CP_AZ_STR, false, NULL, NULL, "Base URL of confpoold." },
        { "--token-file", CP_AZ_STR, false, NULL, NULL, "File holding the bearer token." },
        { "--ca-file", CP_AZ_STR, false, NULL, NULL, "PEM CA bundle for confpoold's TLS certificate (\"\" removes it)." },
        { "--defaults -d", CP_AZ_LIST, false, NULL, NULL, "Space-separated 'name=value' defaults: subscription=ID (\"subscription=\" removes it)." },
};
static const cp_az_cmd configure_cmd = { "configure", "Show or change the saved connection settings.", configure_args,
                                         CP_ELEMENTSOF(configure_args), NULL };

static int abs_path(const char *flag, const char *p, char **ret) {
        char buf[PATH_MAX];
        if (!realpath(p, buf)) {
                cp_az_error("%s: cannot access '%s': %s", flag, p, strerror(errno));
                return CP_EXIT_FAILURE;
        }
        *ret = strdup(buf);
        return *ret ? 0 : CP_EXIT_FAILURE;
}

static int load_config(char *path, size_t size, char **ret_text) {
        char dir[4096];
        if (cp_az_config_dir(dir, sizeof dir) < 0) {
                cp_az_error("%s", cp_error_message());
                return CP_EXIT_FAILURE;
        }
        if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
                cp_az_error("cannot create %s: %s", dir, strerror(errno));
                return CP_EXIT_FAILURE;
        }
        snprintf(path, size, "%s/config", dir);
        uint8_t *data = NULL;
        size_t len = 0;
        if (cp_read_file(path, 256 * 1024, &data, &len) < 0) {
                cp_error_clear();
                data = (uint8_t *) strdup("");
                if (!data)
                        return CP_EXIT_FAILURE;
        }
        *ret_text = (char *) data;
        return 0;
}

static int set_key(char **text, const char *section, const char *key, const char *value) {
        char *n = cp_az_config_set(*text, section, key, value && *value ? value : NULL);
        if (!n) {
                cp_az_error("out of memory");
                return CP_EXIT_FAILURE;
        }
        free(*text);
        *text = n;
        return 0;
}

static int save_config(const char *path, const char *text) {
        if (cp_write_file(path, text, strlen(text), 0600) < 0) {
                cp_az_error("cannot write %s: %s", path, cp_error_message());
                return CP_EXIT_FAILURE;
        }
        if (chmod(path, 0600) < 0) {
                cp_az_error("cannot chmod %s: %s", path, strerror(errno));
                return CP_EXIT_FAILURE;
        }
        return 0;
}

static bool good_endpoint(const char *e) {
        return !strncasecmp(e, "https://", 8) || !strncasecmp(e, "http://", 7);
}

static int login(cp_az_ctx *ctx) {
        const char *endpoint = cp_az_str(ctx, "--endpoint");
        if (!good_endpoint(endpoint))
                return cp_az_usage_error("--endpoint must be an http:// or https:// URL");
        _cleanup_free_ char *token_file = NULL, *ca_file = NULL, *text = NULL;
        int r;
        if ((r = abs_path("--token-file", cp_az_str(ctx, "--token-file"), &token_file)) != 0)
                return r;
        if (cp_az_str(ctx, "--ca-file") && (r = abs_path("--ca-file", cp_az_str(ctx, "--ca-file"), &ca_file)) != 0)
                return r;
        const char *sub = ctx->subscription_arg ? ctx->subscription_arg : CP_AZ_DEFAULT_SUBSCRIPTION;
        if (!cp_az_flag(ctx, "--no-verify")) {
                /* a test request with exactly these settings */
                uint8_t *tok = NULL;
                size_t tl = 0;
                if (cp_read_file(token_file, 64 * 1024, &tok, &tl) < 0) {
                        cp_az_error("--token-file: %s", cp_error_message());
                        return CP_EXIT_FAILURE;
                }
                while (tl && (tok[tl - 1] == '\n' || tok[tl - 1] == '\r' || tok[tl - 1] == ' '))
                        tl--;
                ctx->conn.token = strndup((const char *) tok, tl);
                cp_wipe(tok, tl);
                free(tok);
                ctx->conn.endpoint = strdup(endpoint);
                ctx->conn.subscription = strdup(sub);
                ctx->conn.ca_file = ca_file ? strdup(ca_file) : NULL;
                if (!ctx->conn.token || !ctx->conn.endpoint || !ctx->conn.subscription)
                        return CP_EXIT_FAILURE;
                size_t el = strlen(ctx->conn.endpoint);
                while (el && ctx->conn.endpoint[el - 1] == '/')
                        ctx->conn.endpoint[--el] = 0;
                ctx->connected = true;
                _cleanup_free_ char *url = cp_az_url(ctx, "/resourcegroups", CP_AZ_API_RESOURCES, NULL);
                cp_httpc_response resp;
                json_t *j = NULL;
                if ((r = cp_az_call(ctx, "GET", url, NULL, NULL, &resp, &j)) != 0)
                        return r;
                if (resp.status != 200)
                        r = cp_az_service_error(&resp, j, false);
                json_decref(j);
                cp_httpc_response_clear(&resp);
                if (r)
                        return r;
        }
        char path[4200];
        if ((r = load_config(path, sizeof path, &text)) != 0)
                return r;
        if ((r = set_key(&text, "cloud", "endpoint", endpoint)) != 0 ||
            (r = set_key(&text, "cloud", "ca_file", ca_file)) != 0 ||
            (r = set_key(&text, "auth", "token_file", token_file)) != 0 ||
            (r = set_key(&text, "defaults", "subscription", sub)) != 0 || (r = save_config(path, text)) != 0)
                return r;
        json_t *out = json_pack("[{s:s,s:s,s:b,s:s,s:s}]", "cloudName", "confpool", "id", sub, "isDefault", 1, "name",
                                endpoint, "state", "Enabled");
        r = cp_az_output(ctx, out, NULL);
        json_decref(out);
        return r;
}

static int configure(cp_az_ctx *ctx) {
        _cleanup_free_ char *text = NULL, *token_file = NULL, *ca_file = NULL;
        char path[4200];
        int r;
        if ((r = load_config(path, sizeof path, &text)) != 0)
                return r;
        bool changed = false;
        if (cp_az_str(ctx, "--endpoint")) {
                if (!good_endpoint(cp_az_str(ctx, "--endpoint")))
                        return cp_az_usage_error("--endpoint must be an http:// or https:// URL");
                if ((r = set_key(&text, "cloud", "endpoint", cp_az_str(ctx, "--endpoint"))) != 0)
                        return r;
                changed = true;
        }
        if (cp_az_str(ctx, "--token-file")) {
                if ((r = abs_path("--token-file", cp_az_str(ctx, "--token-file"), &token_file)) != 0 ||
                    (r = set_key(&text, "auth", "token_file", token_file)) != 0)
                        return r;
                changed = true;
        }
        if (cp_az_get(ctx, "--ca-file")->set) {
                const char *c = cp_az_str(ctx, "--ca-file");
                if (*c && (r = abs_path("--ca-file", c, &ca_file)) != 0)
                        return r;
                if ((r = set_key(&text, "cloud", "ca_file", ca_file)) != 0)
                        return r;
                changed = true;
        }
        const cp_az_val *d = cp_az_get(ctx, "--defaults");
        for (size_t i = 0; d->set && i < d->n_list; i++) {
                const char *eq = strchr(d->list[i], '=');
                if (!eq || strncmp(d->list[i], "subscription", (size_t) (eq - d->list[i])) != 0 ||
                    eq - d->list[i] != (long) strlen("subscription"))
                        return cp_az_usage_error("usage error: --defaults: only 'subscription=ID' is supported, got '%s'",
                                                 d->list[i]);
                if ((r = set_key(&text, "defaults", "subscription", eq + 1)) != 0)
                        return r;
                changed = true;
        }
        if (changed)
                return save_config(path, text);
        /* no change: show the effective settings (never the token) */
        _cleanup_free_ char *e = cp_az_config_get(text, "cloud", "endpoint");
        _cleanup_free_ char *tf = cp_az_config_get(text, "auth", "token_file");
        _cleanup_free_ char *cf = cp_az_config_get(text, "cloud", "ca_file");
        _cleanup_free_ char *s = cp_az_config_get(text, "defaults", "subscription");
        const char *ee = getenv("CONFPOOL_ENDPOINT"), *es = getenv("CONFPOOL_SUBSCRIPTION");
        const char *ec = getenv("CONFPOOL_CA_FILE"), *et = getenv("CONFPOOL_TOKEN_FILE");
        json_t *out = json_pack("{s:s?,s:s?,s:s?,s:s?,s:s,s:b}", "endpoint", ee && *ee ? ee : e, "tokenFile",
                                et && *et ? et : tf, "caFile", ec && *ec ? ec : cf, "subscription", es && *es ? es : s,
                                "configFile", path, "tokenFromEnvironment", getenv("CONFPOOL_TOKEN") != NULL);
        r = cp_az_output(ctx, out, NULL);
        json_decref(out);
        return r;
}

int cp_cmd_login(int argc, char **argv) {
        cp_az_ctx ctx;
        int r = cp_az_parse(&login_cmd, argc, argv, &ctx);
        r = r == 0 ? login(&ctx) : r > 0 ? CP_EXIT_OK : CP_EXIT_USAGE;
        cp_az_ctx_done(&ctx);
        return r;
}

int cp_cmd_configure(int argc, char **argv) {
        cp_az_ctx ctx;
        int r = cp_az_parse(&configure_cmd, argc, argv, &ctx);
        r = r == 0 ? configure(&ctx) : r > 0 ? CP_EXIT_OK : CP_EXIT_USAGE;
        cp_az_ctx_done(&ctx);
        return r;
}
