/* SPDX-License-Identifier: Apache-2.0 */
/*
 * confpool aks get-credentials -g RG -n NAME [--admin] [--file F]
 *                              [--overwrite-existing] [--context NAME]
 * as az does it: POST listClusterUserCredential (or ...AdminCredential),
 * then the kubeconfig merged into F (default ~/.kube/config, "-" prints
 * it): its cluster, user and context replace entries of the same name when
 * equal or with --overwrite-existing, else the command fails naming the
 * entry ("A different object named X already exists ..."); current-context
 * becomes the new context; the file is written 0600.  Existing files are
 * read with libyaml (YAML or JSON); the result is written as YAML with
 * every string double-quoted.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <yaml.h>

#include "basic/cleanup.h"
#include "basic/codec.h"
#include "basic/fileio.h"
#include "basic/secure.h"
#include "cli/cli-az.h"
#include "cli/cmd_aks_creds.h"

/* ---- YAML in (libyaml events to a JSON tree) ---- */

static json_t *scalar_value(const yaml_event_t *e) {
        const char *v = (const char *) e->data.scalar.value;
        if (e->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
                if (!strcmp(v, "true") || !strcmp(v, "True"))
                        return json_true();
                if (!strcmp(v, "false") || !strcmp(v, "False"))
                        return json_false();
                if (!strcmp(v, "null") || !strcmp(v, "~") || !*v)
                        return json_null();
                char *end;
                long long n = strtoll(v, &end, 10);
                if (*end == 0 && end != v)
                        return json_integer(n);
        }
        return json_stringn(v, e->data.scalar.length);
}

/* One node starting at event e (already parsed); depth-bounded. */
static int yaml_node(yaml_parser_t *p, yaml_event_t *e, int depth, json_t **ret) {
        if (depth > 64)
                return CP_ERROR(CP_EFORMAT, "kubeconfig nested too deeply");
        if (e->type == YAML_SCALAR_EVENT) {
                *ret = scalar_value(e);
                return *ret ? 0 : cp_error_oom();
        }
        if (e->type == YAML_ALIAS_EVENT)
                return CP_ERROR(CP_EFORMAT, "kubeconfig: YAML aliases are not supported");
        bool map = e->type == YAML_MAPPING_START_EVENT;
        if (!map && e->type != YAML_SEQUENCE_START_EVENT)
                return CP_ERROR(CP_EFORMAT, "kubeconfig: unexpected YAML event %d", (int) e->type);
        json_t *out = map ? json_object() : json_array();
        char *key = NULL;
        for (;;) {
                yaml_event_t ev;
                if (!yaml_parser_parse(p, &ev)) {
                        free(key);
                        json_decref(out);
                        return CP_ERROR(CP_EFORMAT, "kubeconfig: %s at line %zu", p->problem ? p->problem : "bad YAML",
                                        p->problem_mark.line + 1);
                }
                if (ev.type == YAML_MAPPING_END_EVENT || ev.type == YAML_SEQUENCE_END_EVENT) {
                        yaml_event_delete(&ev);
                        break;
                }
                int r = 0;
                if (map && !key) {
                        if (ev.type != YAML_SCALAR_EVENT)
                                r = CP_ERROR(CP_EFORMAT, "kubeconfig: a mapping key is not a scalar");
                        else if (!(key = strdup((const char *) ev.data.scalar.value)))
                                r = cp_error_oom();
                } else {
                        json_t *v = NULL;
                        r = yaml_node(p, &ev, depth + 1, &v);
                        if (r >= 0)
                                r = (map ? json_object_set_new(out, key, v) : json_array_append_new(out, v)) < 0
                                            ? cp_error_oom() : 0;
                        free(key);
                        key = NULL;
                }
                yaml_event_delete(&ev);
                if (r < 0) {
                        free(key);
                        json_decref(out);
                        return r;
                }
        }
        free(key);
        *ret = out;
        return 0;
}

int cp_kubeconfig_parse(const uint8_t *text, size_t len, json_t **ret) {
        yaml_parser_t p;
        if (!yaml_parser_initialize(&p))
                return cp_error_oom();
        yaml_parser_set_input_string(&p, text, len);
        json_t *doc = NULL;
        int r = 0;
        for (;;) {
                yaml_event_t e;
                if (!yaml_parser_parse(&p, &e)) {
                        r = CP_ERROR(CP_EFORMAT, "kubeconfig: %s at line %zu", p.problem ? p.problem : "bad YAML",
                                     p.problem_mark.line + 1);
                        break;
                }
                yaml_event_type_t t = e.type;
                if (t == YAML_MAPPING_START_EVENT || t == YAML_SEQUENCE_START_EVENT || t == YAML_SCALAR_EVENT) {
                        if (doc)
                                r = CP_ERROR(CP_EFORMAT, "kubeconfig: more than one document");
                        else
                                r = yaml_node(&p, &e, 0, &doc);
                }
                yaml_event_delete(&e);
                if (r < 0 || t == YAML_STREAM_END_EVENT)
                        break;
        }
        yaml_parser_delete(&p);
        if (r >= 0 && doc && json_is_null(doc)) {
                json_decref(doc);
                doc = NULL;
        }
        if (r >= 0 && doc && !json_is_object(doc))
                r = CP_ERROR(CP_EFORMAT, "kubeconfig: not a mapping");
        if (r < 0) {
                json_decref(doc);
                return r;
        }
        *ret = doc ? doc : json_object();
        return *ret ? 0 : cp_error_oom();
}

/* ---- YAML out ---- */

static void put_scalar(FILE *f, const json_t *v) {
        if (json_is_string(v)) {
                char *s = json_dumps(v, JSON_ENCODE_ANY);
                fputs(s ? s : "\"\"", f);
                free(s);
        } else if (json_is_true(v) || json_is_false(v))
                fputs(json_is_true(v) ? "true" : "false", f);
        else if (json_is_integer(v))
                fprintf(f, "%lld", (long long) json_integer_value(v));
        else if (json_is_real(v))
                fprintf(f, "%.17g", json_real_value(v));
        else
                fputs("null", f);
}

static void put_node(FILE *f, const json_t *v, int indent, bool in_seq);

static void put_map(FILE *f, const json_t *m, int indent, bool first_inline) {
        const char *k;
        json_t *v;
        bool first = true;
        json_object_foreach((json_t *) m, k, v) {
                if (!(first && first_inline))
                        fprintf(f, "%*s", indent, "");
                first = false;
                json_t *key = json_string(k);
                put_scalar(f, key);
                json_decref(key);
                fputc(':', f);
                if ((json_is_object(v) && json_object_size(v)) || (json_is_array(v) && json_array_size(v))) {
                        fputc('\n', f);
                        put_node(f, v, json_is_array(v) ? indent : indent + 2, false);
                } else {
                        fputc(' ', f);
                        if (json_is_object(v))
                                fputs("{}", f);
                        else if (json_is_array(v))
                                fputs("[]", f);
                        else
                                put_scalar(f, v);
                        fputc('\n', f);
                }
        }
}

static void put_node(FILE *f, const json_t *v, int indent, bool in_seq) {
        (void) in_seq;
        if (json_is_object(v)) {
                put_map(f, v, indent, false);
                return;
        }
        size_t i;
        json_t *e;
        json_array_foreach((json_t *) v, i, e) {
                fprintf(f, "%*s- ", indent, "");
                if (json_is_object(e) && json_object_size(e))
                        put_map(f, e, indent + 2, true);
                else {
                        put_scalar(f, e);
                        fputc('\n', f);
                }
        }
}

char *cp_kubeconfig_yaml(const json_t *doc, size_t *ret_len) {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        if (!f)
                return NULL;
        put_node(f, doc, 0, false);
        if (fclose(f) != 0) {
                free(buf);
                return NULL;
        }
        if (ret_len)
                *ret_len = len;
        return buf;
}

/* ---- merge ---- */

static json_t *by_name(json_t *list, const char *name, size_t *idx) {
        size_t i;
        json_t *e;
        json_array_foreach(list, i, e) {
                const char *n = json_string_value(json_object_get(e, "name"));
                if (n && !strcmp(n, name)) {
                        *idx = i;
                        return e;
                }
        }
        return NULL;
}

int cp_kubeconfig_merge(json_t *existing, const json_t *add, bool overwrite, char *why, size_t why_size) {
        static const char *const keys[] = {"clusters", "users", "contexts"};
        for (size_t k = 0; k < 3; k++) {
                json_t *have = json_object_get(existing, keys[k]);
                if (!json_is_array(have)) {
                        have = json_array();
                        if (!have || json_object_set_new(existing, keys[k], have) < 0)
                                return cp_error_oom();
                }
                size_t i;
                json_t *e;
                json_array_foreach(json_object_get(add, keys[k]), i, e) {
                        const char *name = json_string_value(json_object_get(e, "name"));
                        size_t at;
                        json_t *old = name ? by_name(have, name, &at) : NULL;
                        if (!name)
                                return CP_ERROR(CP_EFORMAT, "kubeconfig: an entry of %s has no name", keys[k]);
                        if (old && !overwrite && !json_equal(old, e)) {
                                snprintf(why, why_size, "A different object named %s already exists in your kubeconfig "
                                         "file.", name);
                                return CP_ERROR(CP_EBADSEQ, "%s", why);
                        }
                        if (old)
                                json_array_remove(have, at);
                        if (json_array_append_new(have, json_deep_copy(e)) < 0)
                                return cp_error_oom();
                }
        }
        const json_t *cc = json_object_get(add, "current-context");
        if (cc)
                json_object_set(existing, "current-context", (json_t *) cc);
        if (!json_object_get(existing, "apiVersion"))
                json_object_set_new(existing, "apiVersion", json_string("v1"));
        if (!json_object_get(existing, "kind"))
                json_object_set_new(existing, "kind", json_string("Config"));
        if (!json_object_get(existing, "preferences"))
                json_object_set_new(existing, "preferences", json_object());
        return 0;
}

/* ---- the command ---- */

static const cp_az_arg getcreds_args[] = {
        {"--resource-group -g", CP_AZ_STR, true, NULL, NULL, "Name of resource group."},
        {"--name -n", CP_AZ_STR, true, NULL, NULL, "Name of the managed cluster."},
        {"--admin -a", CP_AZ_FLAG, false, NULL, NULL, "Get cluster administrator credentials."},
        {"--file -f", CP_AZ_STR, false, NULL, NULL, "Kubernetes configuration file to update. Use \"-\" to print "
                                                     "YAML to stdout instead. Default: ~/.kube/config."},
        {"--overwrite-existing", CP_AZ_FLAG, false, NULL, NULL, "Overwrite any existing cluster entry with the same "
                                                                "name."},
        {"--context", CP_AZ_STR, false, NULL, NULL, "If specified, overwrite the default context name."},
};
const cp_az_cmd cp_aks_get_credentials_cmd = {
        "aks get-credentials", "Get access credentials for a managed Kubernetes cluster.", getcreds_args,
        CP_ELEMENTSOF(getcreds_args),
        "    Merge the cluster's user credentials into ~/.kube/config and use them.\n"
        "        confpool aks get-credentials -g myResourceGroup -n myAKSCluster\n"};

/* The kubeconfig text of the cluster (malloc()ed, secret); an exit code. */
static int fetch(cp_az_ctx *ctx, char **ret, size_t *ret_len) {
        _cleanup_free_ char *rg = cp_az_escape(cp_az_str(ctx, "--resource-group"));
        _cleanup_free_ char *n = cp_az_escape(cp_az_str(ctx, "--name"));
        _cleanup_free_ char *path = NULL, *url = NULL;
        bool admin = cp_az_flag(ctx, "--admin");
        if (!rg || !n ||
            asprintf(&path, "/resourceGroups/%s/providers/Microsoft.ContainerService/managedClusters/%s/%s", rg, n,
                     admin ? "listClusterAdminCredential" : "listClusterUserCredential") < 0 ||
            !(url = cp_az_url(ctx, path, CP_AZ_API_CS, NULL))) {
                cp_az_error("out of memory");
                return CP_EXIT_FAILURE;
        }
        cp_httpc_response resp;
        json_t *j = NULL;
        int r = cp_az_call(ctx, "POST", url, NULL, NULL, &resp, &j);
        if (r != 0)
                return r;
        const char *v = json_string_value(json_object_get(json_array_get(json_object_get(j, "kubeconfigs"), 0), "value"));
        if (resp.status != 200)
                r = cp_az_service_error(&resp, j, true);
        else if (!v) {
                cp_az_error("the service answered no kubeconfig");
                r = CP_EXIT_FAILURE;
        } else {
                size_t cap = cp_b64_decoded_max(strlen(v)) + 1;
                uint8_t *out = malloc(cap);
                size_t len = 0;
                if (!out || cp_b64_decode(v, strlen(v), CP_B64_STD, out, cap, &len) < 0) {
                        cp_az_error("the service's kubeconfig is not base64");
                        free(out);
                        r = CP_EXIT_FAILURE;
                } else {
                        out[len] = 0;
                        *ret = (char *) out;
                        *ret_len = len;
                }
        }
        json_decref(j);
        cp_httpc_response_clear(&resp);
        return r;
}

/* --context NAME: the new context (and current-context) renamed. */
static void rename_context(json_t *kc, const char *name) {
        json_t *ctx = json_array_get(json_object_get(kc, "contexts"), 0);
        if (ctx)
                json_object_set_new(ctx, "name", json_string(name));
        json_object_set_new(kc, "current-context", json_string(name));
}

static int write_merged(cp_az_ctx *ctx, const char *file, json_t *add) {
        uint8_t *old = NULL;
        size_t old_len = 0;
        json_t *existing = NULL;
        int r = cp_read_file(file, 4 * 1024 * 1024, &old, &old_len);
        if (r == CP_ENOTFOUND) {
                cp_error_clear();
                r = cp_kubeconfig_parse((const uint8_t *) "", 0, &existing);
        } else if (r >= 0)
                r = cp_kubeconfig_parse(old, old_len, &existing);
        if (old)
                cp_wipe(old, old_len);
        free(old);
        char why[400] = "";
        if (r >= 0)
                r = cp_kubeconfig_merge(existing, add, cp_az_flag(ctx, "--overwrite-existing"), why, sizeof why);
        size_t len = 0;
        char *text = r >= 0 ? cp_kubeconfig_yaml(existing, &len) : NULL;
        if (r >= 0 && !text)
                r = cp_error_oom();
        if (r >= 0)
                r = cp_write_file(file, text, len, 0600);
        if (text)
                cp_wipe(text, len);
        free(text);
        if (r < 0)
                cp_az_error("%s: %s", file, *why ? why : cp_error_message());
        else
                printf("Merged \"%s\" as current context in %s\n",
                       json_string_value(json_object_get(existing, "current-context")), file);
        json_decref(existing);
        return r < 0 ? CP_EXIT_FAILURE : 0;
}

int cp_aks_get_credentials(cp_az_ctx *ctx) {
        int r;
        if ((r = cp_az_connect(ctx)) != 0)
                return r;
        char *text = NULL, path[4096];
        size_t len = 0;
        if ((r = fetch(ctx, &text, &len)) != 0)
                return r;
        const char *file = cp_az_str(ctx, "--file");
        if (file && !strcmp(file, "-") && !cp_az_given(ctx, "--context")) {
                fwrite(text, 1, len, stdout);
                cp_wipe(text, len);
                free(text);
                return 0;
        }
        json_t *add = NULL;
        if (cp_kubeconfig_parse((const uint8_t *) text, len, &add) < 0) {
                cp_az_error("the service's kubeconfig: %s", cp_error_message());
                r = CP_EXIT_FAILURE;
        }
        cp_wipe(text, len);
        free(text);
        if (r == 0 && cp_az_given(ctx, "--context"))
                rename_context(add, cp_az_str(ctx, "--context"));
        if (r == 0 && file && !strcmp(file, "-")) {
                char *y = cp_kubeconfig_yaml(add, &len);
                if (y)
                        fwrite(y, 1, len, stdout);
                free(y);
        } else if (r == 0) {
                const char *home = getenv("HOME");
                if (!file) {
                        snprintf(path, sizeof path, "%s/.kube", home ? home : ".");
                        if (mkdir(path, 0700) < 0 && errno != EEXIST) {
                                cp_az_error("cannot create %s: %s", path, strerror(errno));
                                json_decref(add);
                                return CP_EXIT_FAILURE;
                        }
                        snprintf(path, sizeof path, "%s/.kube/config", home ? home : ".");
                        file = path;
                }
                r = write_merged(ctx, file, add);
        }
        json_decref(add);
        return r;
}
