/* SPDX-License-Identifier: Apache-2.0 */
#include <stdlib.h>
#include <string.h>

#include "basic/fileio.h"
#include "basic/limits.h"
#include "cli/evidence.h"

const char *cp_evidence_format_name(cp_evidence_format f) {
        switch (f) {
        case CP_EVIDENCE_BARE:
                return "bare-report";
        case CP_EVIDENCE_EXTENDED:
                return "extended-report";
        case CP_EVIDENCE_HCL:
                return "azure-hcl-report";
        default:
                return "unknown";
        }
}

int cp_evidence_parse(const uint8_t *buf, size_t len, cp_evidence_file *ret) {
        cp_evidence_file ev = { .buf = NULL, .len = len };
        int r;
        if (len >= 4 && buf[0] == 'H' && buf[1] == 'C' && buf[2] == 'L' && buf[3] == 'A') {
                r = cp_hcl_report_parse(buf, len, &ev.hcl);
                if (r < 0)
                        return cp_error_wrap("Azure HCL report");
                if (ev.hcl.report_type != CP_HCL_REPORT_SNP)
                        return CP_ERROR(CP_EUNSUPPORTED, "HCL report carries a %s report, not SEV-SNP",
                                        cp_hcl_report_type_name(ev.hcl.report_type));
                ev.format = CP_EVIDENCE_HCL;
                ev.snp.report = ev.hcl.hw_report;
                ev.snp.report_len = ev.hcl.hw_report_len;
        } else if (len > CP_SNP_REPORT_SIZE) {
                cp_snp_certtable t;
                r = cp_snp_certtable_parse(buf + CP_SNP_REPORT_SIZE, len - CP_SNP_REPORT_SIZE, &t);
                if (r < 0)
                        return cp_error_wrap("%zu bytes after the 1184-byte report are not a certificate table",
                                             len - CP_SNP_REPORT_SIZE);
                ev.format = CP_EVIDENCE_EXTENDED;
                ev.snp.report = buf;
                ev.snp.report_len = CP_SNP_REPORT_SIZE;
                ev.snp.certtable = buf + CP_SNP_REPORT_SIZE;
                ev.snp.certtable_len = len - CP_SNP_REPORT_SIZE;
        } else {
                ev.format = CP_EVIDENCE_BARE;
                ev.snp.report = buf;
                ev.snp.report_len = len; /* the report parser names a wrong length */
        }
        *ret = ev;
        return 0;
}

int cp_evidence_file_load(const char *path, cp_evidence_file *ret) {
        uint8_t *buf = NULL;
        size_t len = 0;
        int r = cp_read_file(path, CP_MAX_HCL_REPORT, &buf, &len);
        if (r < 0)
                return r;
        r = cp_evidence_parse(buf, len, ret);
        if (r < 0) {
                free(buf);
                return r;
        }
        ret->buf = buf;
        return 0;
}

void cp_evidence_file_clear(cp_evidence_file *ev) {
        if (!ev)
                return;
        free(ev->buf);
        memset(ev, 0, sizeof(*ev));
}

bool cp_evidence_has_leaf(const cp_evidence_file *ev, uint8_t signing_key) {
        cp_snp_certtable t;
        if (!ev->snp.certtable || cp_snp_certtable_parse(ev->snp.certtable, ev->snp.certtable_len, &t) < 0)
                return false;
        return cp_snp_certtable_find(&t, signing_key == CP_SNP_SIGNING_KEY_VLEK ? CP_SNP_CERT_VLEK
                                                                                 : CP_SNP_CERT_VCEK) != NULL;
}

int cp_evidence_check_binding(const cp_evidence_file *ev, const cp_snp_report *rep) {
        if (ev->format != CP_EVIDENCE_HCL)
                return 0;
        int r = cp_azure_check_binding(rep->report_data, ev->hcl.hash_type, ev->hcl.runtime_data,
                                       ev->hcl.runtime_data_len);
        if (r < 0)
                return cp_error_wrap("HCL runtime data is not bound to REPORT_DATA");
        return 0;
}

json_t *cp_evidence_certs_json(const cp_evidence_file *ev) {
        cp_snp_certtable t;
        if (!ev->snp.certtable || cp_snp_certtable_parse(ev->snp.certtable, ev->snp.certtable_len, &t) < 0)
                return NULL;
        json_t *a = json_array();
        for (size_t i = 0; i < t.n; i++) {
                char guid[37];
                const uint8_t *g = t.entries[i].guid;
                snprintf(guid, sizeof(guid),
                         "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", g[0], g[1], g[2],
                         g[3], g[4], g[5], g[6], g[7], g[8], g[9], g[10], g[11], g[12], g[13], g[14], g[15]);
                json_array_append_new(a, json_pack("{s:s,s:s,s:i}", "guid", guid, "kind",
                                                   cp_snp_cert_kind_name(t.entries[i].kind), "length",
                                                   (json_int_t) t.entries[i].length));
        }
        return a;
}

json_t *cp_evidence_extra_json(const cp_evidence_file *ev) {
        if (ev->format != CP_EVIDENCE_HCL)
                return NULL;
        json_t *o = json_pack("{s:i,s:i,s:i,s:i,s:i}", "version", (json_int_t) ev->hcl.version, "report_size",
                              (json_int_t) ev->hcl.report_size, "request_type", (json_int_t) ev->hcl.request_type,
                              "report_data_hash_type", (json_int_t) ev->hcl.hash_type, "runtime_data_length",
                              (json_int_t) ev->hcl.runtime_data_len);
        json_error_t err;
        json_t *rt = json_loadb((const char *) ev->hcl.runtime_data, ev->hcl.runtime_data_len, 0, &err);
        if (rt)
                json_object_set_new(o, "runtime_data", rt);
        return o;
}

void cp_evidence_print_extra(FILE *f, const cp_evidence_file *ev) {
        json_t *certs = cp_evidence_certs_json(ev);
        if (certs) {
                size_t i;
                json_t *e;
                fprintf(f, "certificate table\n");
                json_array_foreach(certs, i, e)
                        fprintf(f, "  %-8s %s (%lld bytes)\n", json_string_value(json_object_get(e, "kind")),
                                json_string_value(json_object_get(e, "guid")),
                                (long long) json_integer_value(json_object_get(e, "length")));
                json_decref(certs);
        }
        if (ev->format == CP_EVIDENCE_HCL) {
                fprintf(f, "Azure HCL report\n");
                fprintf(f, "  %-20s %u\n", "version", ev->hcl.version);
                fprintf(f, "  %-20s %u\n", "request type", ev->hcl.request_type);
                fprintf(f, "  %-20s %u (1 = SHA-256)\n", "report data hash", (unsigned) ev->hcl.hash_type);
                /* untrusted bytes: printable ASCII only, everything else escaped */
                fprintf(f, "  %-20s ", "runtime data");
                for (size_t i = 0; i < ev->hcl.runtime_data_len; i++) {
                        uint8_t ch = ev->hcl.runtime_data[i];
                        if (ch >= 0x20 && ch < 0x7f && ch != '\\')
                                fputc(ch, f);
                        else
                                fprintf(f, "\\x%02x", ch);
                }
                fputc('\n', f);
        }
}
