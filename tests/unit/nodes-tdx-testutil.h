/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers of the TDX node tests (test-nodes-tdx, test-nodes-tdx-hcl): a
 * DC4es_v5 pool, its machines and their attestation, and the MRTD the
 * local backend's TDs built from Debian's OVMF.fd must have.  Included
 * after nodes-fixture.h (NODES_FIXTURE_TEST_HELPERS) by a test that defines
 * its fixture E and reply R first. */
#ifndef CP_TEST_NODES_TDX_TESTUTIL_H
#define CP_TEST_NODES_TDX_TESTUTIL_H

#include <stdlib.h>

#include "basic/codec.h"
#include "basic/fileio.h"
#include "confpool/tdx_measure.h"

#define OVMF "/usr/share/ovmf/OVMF.fd"
#define TDX_SIZE "Standard_DC4es_v5"

/* PUT pool with count nodes of TDX_SIZE, mode User (200 or 201). */
static inline void put_tdx_pool(const char *name, int count) {
        char url[512], body[256];
        snprintf(url, sizeof url, AP "/%s" CS, name);
        snprintf(body, sizeof body, "{\"properties\":{\"count\":%d,\"vmSize\":\"" TDX_SIZE "\",\"mode\":\"User\"}}",
                 count);
        unsigned st = nodes_fixture_call_json(&E, "PUT", url, body, &R);
        if (st != 200 && st != 201)
                cp_test_fail(__FILE__, __LINE__, "PUT %s: HTTP %u", name, st);
}

/* The pool's machines (owned by R). */
static inline json_t *machines(const char *pool) {
        char url[512];
        snprintf(url, sizeof url, AP "/%s/machines" CS, pool);
        ASSERT_EQ(nodes_fixture_call_json(&E, "GET", url, NULL, &R), 200);
        return json_object_get(R.body, "value");
}

/* A string of a machine's properties.attestation. */
static inline const char *att_str(json_t *m, const char *k) {
        return json_string_value(json_object_get(json_object_get(json_object_get(m, "properties"), "attestation"), k));
}

static inline const char *node_state(json_t *m) {
        return json_string_value(
                json_object_get(json_object_get(json_object_get(m, "properties"), "status"), "nodeState"));
}

/* The MRTD of a TD built from OVMF (hex, computed here from its TDVF metadata). */
static inline void expected_mrtd(char hex[97]) {
        uint8_t *fw = NULL, mrtd[48];
        size_t len = 0;
        cp_tdvf_info info;
        ASSERT_OK(cp_read_file(OVMF, 64u << 20, &fw, &len));
        ASSERT_OK(cp_tdvf_parse(fw, len, &info));
        ASSERT_OK(cp_tdx_measure_mrtd(fw, len, &info, CP_TDX_ORDER_SINGLE_PASS, mrtd));
        free(fw);
        cp_hex_encode(mrtd, 48, hex);
        hex[96] = '\0';
}

#endif
