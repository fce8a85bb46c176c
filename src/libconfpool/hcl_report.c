/* SPDX-License-Identifier: Apache-2.0 */
/* Azure HCL report (vTPM NV index 0x01400001) parser and REPORT_DATA binding. */

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "basic/cursor.h"
#include "basic/limits.h"
#include "basic/secure.h"
#include "confpool/azure.h"

_Static_assert(CP_HCL_VARIABLE_DATA_OFFSET == CP_HCL_REQUEST_DATA_OFFSET + CP_HCL_REQUEST_DATA_FIXED,
               "IGVM_REQUEST_DATA layout");
_Static_assert(CP_HCL_REQUEST_DATA_OFFSET == CP_HCL_HW_REPORT_OFFSET + CP_HCL_HW_REPORT_AREA,
               "HCL report layout");

const char *cp_hcl_report_type_name(int report_type) {
        switch (report_type) {
        case CP_HCL_REPORT_SNP:
                return "snp";
        case CP_HCL_REPORT_TDX:
                return "tdx";
        default:
                return "unknown";
        }
}

size_t cp_hcl_hash_size(int hash_type) {
        switch (hash_type) {
        case CP_HCL_HASH_SHA256:
                return 32;
        case CP_HCL_HASH_SHA384:
                return 48;
        case CP_HCL_HASH_SHA512:
                return 64;
        default:
                return 0;
        }
}

static const EVP_MD *hcl_hash_md(int hash_type) {
        switch (hash_type) {
        case CP_HCL_HASH_SHA256:
                return EVP_sha256();
        case CP_HCL_HASH_SHA384:
                return EVP_sha384();
        case CP_HCL_HASH_SHA512:
                return EVP_sha512();
        default:
                return NULL;
        }
}

static int parse_header(cp_cursor *c, cp_hcl_report *r) {
        uint32_t sig, reserved;
        int k;

        k = cp_cursor_le32(c, &sig);
        if (k < 0)
                return k;
        if (sig != CP_HCL_SIGNATURE)
                return CP_ERROR(CP_EFORMAT, "HCL report: bad signature 0x%08x (want \"HCLA\")", sig);
        k = cp_cursor_le32(c, &r->version);
        if (k < 0)
                return k;
        if (r->version != 1 && r->version != 2)
                return CP_ERROR(CP_EVERSION, "HCL report: unknown version %u", r->version);
        k = cp_cursor_le32(c, &r->report_size);
        if (k < 0)
                return k;
        k = cp_cursor_le32(c, &r->request_type);
        if (k < 0)
                return k;
        if (r->request_type != CP_HCL_REQUEST_KEY_RELEASE && r->request_type != CP_HCL_REQUEST_AK_CERT)
                return CP_ERROR(CP_EUNSUPPORTED, "HCL report: unknown request type %u", r->request_type);
        k = cp_cursor_le32(c, &r->status);
        if (k < 0)
                return k;
        if (r->status != 0)
                return CP_ERROR(CP_EFORMAT, "HCL report: status 0x%08x is not success", r->status);
        for (unsigned i = 0; i < 3; i++) {
                k = cp_cursor_le32(c, &reserved);
                if (k < 0)
                        return k;
                if (reserved != 0)
                        return CP_ERROR(CP_EMBZ, "HCL report: reserved header word %u is 0x%08x", i, reserved);
        }
        return 0;
}

static int parse_request_data(cp_cursor *c, cp_hcl_report *r, uint32_t *ret_var_size) {
        uint32_t data_size, report_type, hash_type, var_size;
        int k;

        k = cp_cursor_le32(c, &data_size);
        if (k < 0)
                return k;
        k = cp_cursor_le32(c, &r->request_data_version);
        if (k < 0)
                return k;
        if (r->request_data_version != 1)
                return CP_ERROR(CP_EVERSION, "HCL report: unknown IGVM_REQUEST_DATA version %u",
                                r->request_data_version);
        k = cp_cursor_le32(c, &report_type);
        if (k < 0)
                return k;
        if (report_type != CP_HCL_REPORT_SNP && report_type != CP_HCL_REPORT_TDX)
                return CP_ERROR(CP_EUNSUPPORTED, "HCL report: unsupported report type %u", report_type);
        k = cp_cursor_le32(c, &hash_type);
        if (k < 0)
                return k;
        if (cp_hcl_hash_size((int) hash_type) == 0)
                return CP_ERROR(CP_EUNSUPPORTED, "HCL report: unknown report-data hash type %u", hash_type);
        k = cp_cursor_le32(c, &var_size);
        if (k < 0)
                return k;
        if (var_size > CP_MAX_RUNTIME_DATA)
                return CP_ERROR(CP_ETOOBIG, "HCL report: variable data of %u bytes exceeds %u", var_size,
                                CP_MAX_RUNTIME_DATA);
        /* var_size is bounded above, so the sum cannot overflow. */
        if (data_size != CP_HCL_REQUEST_DATA_FIXED + var_size)
                return CP_ERROR(CP_EFORMAT, "HCL report: DataSize %u != %u + VariableDataSize %u", data_size,
                                CP_HCL_REQUEST_DATA_FIXED, var_size);
        r->report_type = (cp_hcl_report_type) report_type;
        r->hash_type = (cp_hcl_hash_type) hash_type;
        *ret_var_size = var_size;
        return 0;
}

int cp_hcl_report_parse(const uint8_t *data, size_t len, cp_hcl_report *ret) {
        cp_hcl_report r = {};
        cp_cursor c, hdr, hw, req, var;
        uint32_t var_size = 0;
        int k;

        if (!ret || (!data && len > 0))
                return CP_ERROR(CP_EINVAL, "cp_hcl_report_parse: NULL argument");
        if (len > CP_MAX_HCL_REPORT)
                return CP_ERROR(CP_ETOOBIG, "HCL report of %zu bytes exceeds %u", len, CP_MAX_HCL_REPORT);

        c = cp_cursor_make(data, len);

        k = cp_cursor_sub(&c, CP_HCL_HEADER_SIZE, &hdr);
        if (k < 0)
                return cp_error_wrap("HCL report header: ");
        k = parse_header(&hdr, &r);
        if (k < 0)
                return k;

        k = cp_cursor_sub(&c, CP_HCL_HW_REPORT_AREA, &hw);
        if (k < 0)
                return cp_error_wrap("HCL report hardware report: ");

        k = cp_cursor_sub(&c, CP_HCL_REQUEST_DATA_FIXED, &req);
        if (k < 0)
                return cp_error_wrap("HCL report IGVM_REQUEST_DATA: ");
        k = parse_request_data(&req, &r, &var_size);
        if (k < 0)
                return k;

        if (r.report_size != CP_HCL_VARIABLE_DATA_OFFSET + var_size)
                return CP_ERROR(CP_EFORMAT, "HCL report: ReportSize %u != 0x%x + VariableDataSize %u",
                                r.report_size, CP_HCL_VARIABLE_DATA_OFFSET, var_size);

        k = cp_cursor_sub(&c, var_size, &var);
        if (k < 0)
                return cp_error_wrap("HCL report variable data: ");
        k = cp_cursor_ptr(&var, var_size, &r.runtime_data);
        if (k < 0)
                return k;
        r.runtime_data_len = var_size;

        /* The NV area is larger than the report: the rest must be zero. */
        const uint8_t *tail;
        size_t tail_off = cp_cursor_offset(&c), tail_len = cp_cursor_remaining(&c);
        k = cp_cursor_ptr(&c, tail_len, &tail);
        if (k < 0)
                return k;
        if (tail_len > 0 && !cp_ct_is_zero(tail, tail_len))
                return CP_ERROR(CP_ETRAILING, "HCL report: non-zero bytes after the report (from offset 0x%zx)",
                                tail_off);

        if (r.report_type == CP_HCL_REPORT_SNP) {
                k = cp_cursor_ptr(&hw, CP_HCL_SNP_REPORT_SIZE, &r.hw_report);
                if (k < 0)
                        return k;
                r.hw_report_len = CP_HCL_SNP_REPORT_SIZE;
                cp_cursor rd;
                k = cp_cursor_window(&hw, CP_HCL_SNP_REPORT_DATA_OFFSET, sizeof(r.report_data), &rd);
                if (k < 0)
                        return k;
                k = cp_cursor_bytes(&rd, sizeof(r.report_data), r.report_data);
                if (k < 0)
                        return k;
        } else {
                k = cp_cursor_ptr(&hw, CP_HCL_TDX_REPORT_SIZE, &r.hw_report);
                if (k < 0)
                        return k;
                r.hw_report_len = CP_HCL_TDX_REPORT_SIZE;
                k = cp_cursor_zero(&hw, CP_HCL_HW_REPORT_AREA - CP_HCL_TDX_REPORT_SIZE, "TDX report padding");
                if (k < 0)
                        return cp_error_wrap("HCL report: ");
                cp_cursor rd;
                k = cp_cursor_window(&hw, CP_HCL_TDX_REPORT_DATA_OFFSET, sizeof(r.report_data), &rd);
                if (k < 0)
                        return k;
                k = cp_cursor_bytes(&rd, sizeof(r.report_data), r.report_data);
                if (k < 0)
                        return k;
        }

        *ret = r;
        return 0;
}

int cp_azure_check_binding(const uint8_t report_data[64], int hash_type, const uint8_t *runtime_data,
                           size_t len) {
        uint8_t expect[64] = {};
        unsigned int dlen = 0;
        const EVP_MD *md;

        if (!report_data || (!runtime_data && len > 0))
                return CP_ERROR(CP_EINVAL, "cp_azure_check_binding: NULL argument");
        md = hcl_hash_md(hash_type);
        if (!md)
                return CP_ERROR(CP_EUNSUPPORTED, "unknown report-data hash type %d", hash_type);
        if (EVP_Digest(runtime_data ? (const void *) runtime_data : (const void *) "", len, expect, &dlen, md,
                       NULL) != 1 ||
            dlen != cp_hcl_hash_size(hash_type))
                return CP_ERROR(CP_ECRYPTO, "runtime-data digest failed");
        /* expect[dlen:64] is zero: one constant-time comparison covers both
         * the digest and the zero tail. */
        if (!cp_ct_eq(report_data, expect, sizeof(expect)))
                return CP_ERROR(CP_EBINDING, "REPORT_DATA does not bind the runtime data (hash type %d)",
                                hash_type);
        return 0;
}

int cp_hcl_report_check_binding(const cp_hcl_report *report) {
        if (!report)
                return CP_ERROR(CP_EINVAL, "cp_hcl_report_check_binding: NULL argument");
        return cp_azure_check_binding(report->report_data, report->hash_type, report->runtime_data,
                                      report->runtime_data_len);
}

int cp_hcl_report_write(uint32_t request_type, cp_hcl_report_type report_type, cp_hcl_hash_type hash_type,
                        const uint8_t *hw_report, size_t hw_len, const uint8_t *rt, size_t rt_len, size_t nv_size,
                        uint8_t **ret, size_t *ret_len) {
        size_t want = report_type == CP_HCL_REPORT_SNP ? CP_HCL_SNP_REPORT_SIZE
                      : report_type == CP_HCL_REPORT_TDX ? CP_HCL_TDX_REPORT_SIZE
                                                         : 0;
        if (!hw_report || !ret || !ret_len || (!rt && rt_len > 0))
                return CP_ERROR(CP_EINVAL, "cp_hcl_report_write: NULL argument");
        if (want == 0 || hw_len != want)
                return CP_ERROR(CP_EINVAL, "HCL report: a %s hardware report of %zu bytes (want %zu)",
                                cp_hcl_report_type_name(report_type), hw_len, want);
        if (request_type != CP_HCL_REQUEST_KEY_RELEASE && request_type != CP_HCL_REQUEST_AK_CERT)
                return CP_ERROR(CP_EINVAL, "HCL report: request type %u", request_type);
        if (cp_hcl_hash_size(hash_type) == 0)
                return CP_ERROR(CP_EINVAL, "HCL report: hash type %d", (int) hash_type);
        if (rt_len > CP_MAX_RUNTIME_DATA)
                return CP_ERROR(CP_ETOOBIG, "HCL report: runtime data of %zu bytes exceeds %u", rt_len,
                                CP_MAX_RUNTIME_DATA);
        size_t len = CP_HCL_VARIABLE_DATA_OFFSET + rt_len, total = nv_size > len ? nv_size : len;
        if (nv_size && len > nv_size)
                return CP_ERROR(CP_ETOOBIG, "HCL report of %zu bytes does not fit the NV area of %zu", len, nv_size);
        if (total > CP_MAX_HCL_REPORT)
                return CP_ERROR(CP_ETOOBIG, "HCL report of %zu bytes exceeds %u", total, CP_MAX_HCL_REPORT);
        uint8_t *b = calloc(1, total);
        if (!b)
                return cp_error_oom();
        cp_writer w = cp_writer_make(b, total);
        int k;
        if ((k = cp_writer_le32(&w, CP_HCL_SIGNATURE)) < 0 || (k = cp_writer_le32(&w, 2)) < 0 ||
            (k = cp_writer_le32(&w, (uint32_t) len)) < 0 || (k = cp_writer_le32(&w, request_type)) < 0) {
                free(b);
                return k;
        }
        memcpy(b + CP_HCL_HW_REPORT_OFFSET, hw_report, hw_len);
        w = cp_writer_make(b + CP_HCL_REQUEST_DATA_OFFSET, total - CP_HCL_REQUEST_DATA_OFFSET);
        if ((k = cp_writer_le32(&w, (uint32_t) (CP_HCL_REQUEST_DATA_FIXED + rt_len))) < 0 ||
            (k = cp_writer_le32(&w, 1)) < 0 || (k = cp_writer_le32(&w, (uint32_t) report_type)) < 0 ||
            (k = cp_writer_le32(&w, (uint32_t) hash_type)) < 0 || (k = cp_writer_le32(&w, (uint32_t) rt_len)) < 0) {
                free(b);
                return k;
        }
        if (rt_len)
                memcpy(b + CP_HCL_VARIABLE_DATA_OFFSET, rt, rt_len);
        *ret = b;
        *ret_len = total;
        return 0;
}
