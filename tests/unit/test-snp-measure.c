/* SPDX-License-Identifier: Apache-2.0 */
/*
 * SNP launch measurement: the published sev-snp-measure test vectors
 * (../shared/reference/snp-measure.md §2, §5, §6, §10) over the peer's
 * edk2-stable202405 fixtures, Debian's OVMF for 1-64 vCPUs and every vCPU
 * and VMM type, seeding, SVSM mode and error cases on synthetic images.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "basic/cleanup.h"
#include "basic/codec.h"
#include "basic/fileio.h"
#include "basic/limits.h"
#include "confpool/snp_measure.h"
#include "ovmf-testutil.h"
#include "tests.h"

#define DEBIAN_OVMF "/usr/share/ovmf/OVMF.fd"

static void hex48(const char *hex, uint8_t out[48]) {
        size_t n = 0;
        if (cp_hex_decode(hex, strlen(hex), out, 48, &n) < 0 || n != 48)
                cp_test_fail(__FILE__, __LINE__, "bad test vector %s", hex);
}

#define ASSERT_LD(ld, hex)                                                                     \
        do {                                                                                   \
                uint8_t _want[48];                                                             \
                char _got[97];                                                                 \
                hex48((hex), _want);                                                           \
                cp_hex_encode((ld), 48, _got);                                                 \
                if (memcmp((ld), _want, 48) != 0)                                              \
                        cp_test_fail(__FILE__, __LINE__, "digest %s, expected %s", _got, (hex)); \
        } while (0)

static void sha384(const uint8_t *p, size_t n, uint8_t out[48]) {
        if (EVP_Digest(p, n, out, NULL, EVP_sha384(), NULL) != 1)
                cp_test_fail(__FILE__, __LINE__, "SHA-384 failed");
}

/* ---- §2: one PAGE_INFO update ---- */

TEST(single_page_and_ovmf_hash) {
        size_t len;
        _cleanup_free_ uint8_t *fw = cp_test_read("measure/ovmf_AmdSev_suffix.bin", &len);
        ASSERT_EQ(len, 4096);
        uint8_t c[48], ld[48];
        sha384(fw, len, c);
        uint8_t want_prefix[8] = { 0x16, 0x1a, 0xce, 0x08, 0x48, 0x59, 0x67, 0x4d };
        ASSERT_MEMEQ(c, want_prefix, 8);

        cp_snp_ld *l = NULL;
        ASSERT_OK(cp_snp_ld_new(NULL, &l));
        ASSERT_OK(cp_snp_ld_update_page(l, CP_SNP_PAGE_NORMAL, 0xfffff000, fw));
        cp_snp_ld_get(l, ld);
        ASSERT_LD(ld, "086e2e9149ebf45abdc3445fba5b2da8270bdbb04094d7a2c37faaa4b24af3aa16aff8c374c2a55c467a50da6d466b74");
        ASSERT_EQ(cp_snp_ld_count(l), 1);
        l = cp_snp_ld_free(l);

        /* the same through cp_snp_ld_update() with an explicit PAGE_INFO */
        ASSERT_OK(cp_snp_ld_new(NULL, &l));
        cp_snp_page_info pi = { .type = CP_SNP_PAGE_NORMAL, .gpa = 0xfffff000 };
        memcpy(pi.contents, c, 48);
        ASSERT_OK(cp_snp_ld_update(l, &pi));
        uint8_t ld2[48];
        cp_snp_ld_get(l, ld2);
        ASSERT_MEMEQ(ld, ld2, 48);
        /* VMPL permissions and IMI are part of the record */
        pi.vmpl1_perms = 1;
        ASSERT_OK(cp_snp_ld_update(l, &pi));
        cp_snp_ld_get(l, ld2);
        ASSERT_FALSE(memcmp(ld, ld2, 48) == 0);
        l = cp_snp_ld_free(l);

        /* snp:ovmf-hash mode */
        cp_snp_measure_params p;
        cp_snp_measure_params_init(&p);
        p.mode = CP_SNP_MODE_OVMF_HASH;
        p.ovmf = fw;
        p.ovmf_len = len;
        ASSERT_OK(cp_snp_measure(&p, ld2));
        ASSERT_MEMEQ(ld, ld2, 48);
}

TEST(ld_errors) {
        cp_snp_ld *l = NULL;
        uint8_t page[4096] = { 0 };
        ASSERT_OK(cp_snp_ld_new(NULL, &l));
        ASSERT_ERR(cp_snp_ld_update_page(l, 0, 0, page), CP_EINVAL);
        ASSERT_ERR(cp_snp_ld_update_page(l, 7, 0, page), CP_EINVAL);
        ASSERT_ERR(cp_snp_ld_update_page(l, CP_SNP_PAGE_NORMAL, 0x800, page), CP_EINVAL);
        ASSERT_ERR(cp_snp_ld_update_page(l, CP_SNP_PAGE_NORMAL, 0, NULL), CP_EINVAL);
        ASSERT_ERR(cp_snp_ld_update_pages(l, CP_SNP_PAGE_ZERO, 0, NULL, 100), CP_EINVAL);
        ASSERT_ERR(cp_snp_ld_update_pages(l, CP_SNP_PAGE_ZERO, UINT64_MAX - 0xfff, NULL, 8192), CP_EINVAL);
        cp_snp_page_info pi = { .type = CP_SNP_PAGE_ZERO, .gpa = 1 };
        ASSERT_ERR(cp_snp_ld_update(l, &pi), CP_EINVAL);
        ASSERT_EQ(cp_snp_ld_count(l), 0);
        /* no-contents types ignore the page */
        ASSERT_OK(cp_snp_ld_update_page(l, CP_SNP_PAGE_SECRETS, 0x1000, NULL));
        ASSERT_EQ(cp_snp_ld_count(l), 1);
        cp_snp_ld_free(l);
        ASSERT_TRUE(cp_snp_ld_free(NULL) == NULL);
}

/* ---- §5: kernel hash table page ---- */

TEST(kernel_hashes_page) {
        cp_snp_kernel_hashes h;
        ASSERT_OK(cp_snp_kernel_hashes_compute(NULL, 0, NULL, 0, "console=ttyS0 loglevel=7", &h));
        uint8_t page[4096] = { 0 }, d[48];
        cp_snp_kernel_hashes_table(&h, page + 0xc00);
        sha384(page, sizeof(page), d);
        ASSERT_LD(d, "adbef9bc7385f7a6dcb8774523cf024b403f193a47962309b277c4109aa70b4ba0355d1657b50e9625d5bd1129e7fd27");
        /* empty initrd and empty command line */
        ASSERT_OK(cp_snp_kernel_hashes_compute((const uint8_t *) "k", 1, NULL, 0, NULL, &h));
        uint8_t e3[4] = { 0xe3, 0xb0, 0xc4, 0x42 }, c6[4] = { 0x6e, 0x34, 0x0b, 0x9c };
        ASSERT_MEMEQ(h.initrd, e3, 4);
        ASSERT_MEMEQ(h.cmdline, c6, 4);

        /* files agree with memory */
        char kp[] = "/tmp/cp-kernel-XXXXXX";
        int fd = mkstemp(kp);
        ASSERT_TRUE(fd >= 0);
        close(fd);
        uint8_t big[100000];
        for (size_t i = 0; i < sizeof(big); i++)
                big[i] = (uint8_t) (i * 31);
        ASSERT_OK(cp_write_file(kp, big, sizeof(big), 0600));
        cp_snp_kernel_hashes a, b;
        ASSERT_OK(cp_snp_kernel_hashes_compute(big, sizeof(big), big, 1000, "x y", &a));
        ASSERT_OK(cp_snp_kernel_hashes_from_files(kp, "/dev/null", "x y", &b));
        ASSERT_MEMEQ(a.kernel, b.kernel, 32);
        ASSERT_MEMEQ(a.cmdline, b.cmdline, 32);
        ASSERT_MEMEQ(h.initrd, b.initrd, 32);
        ASSERT_ERR(cp_snp_kernel_hashes_from_files("/nonexistent/kernel", NULL, NULL, &b), CP_ENOTFOUND);
        unlink(kp);
}

/* ---- §6: VMSA pages ---- */

TEST(vmsa_published_hashes) {
        static const struct {
                uint64_t gf;
                const char *type, *bsp, *ap;
        } v[] = {
                { 0x1, "EPYC-Rome",
                  "34f43cbd622a2c18c3e042a6d30358628c35d97690fb5d3566644b45b26f7c907c7c20b959a53c74eb6e47414e68bb78",
                  "ef83e68cc616fd4d3ea2d64f4b8de7ba13de044bd205042df48504ddd0cb58f3064fb7e3def8cf5f221f9eb0815df223" },
                { 0x1, "EPYC-Turin",
                  "49ddacf0393b6d9401ac505250ec615e923bc580ff6ce0a0b4c5f2e261b0a972cd4facec381e17ad503ce64f4de8a83e",
                  "47e5109e4f9565bf1ad1f664a7924f996d8e651ccd8a16b4bc43d8986873ba443726708b2beb263f8f9178c9ad30ea78" },
                { 0x21, "EPYC-Rome",
                  "7198dba2f23398bd4c0b34dd0385314025b80d7daaeb771117878710955171cea6b61715dd7a8b7d2904612edb6d3982",
                  "48d308f72ef8c800d5bb558817e3f75a42809d21b45564630b802bf6b0b20fb7dfded31ffffdd296eb1e65cfb61a78da" },
                { 0x21, "EPYC-Turin",
                  "3e58103ac68fdac8f71f591f0846d462ecda9cb6a64b856a3769a9b6ab1a9975bf80b492d532d4fcd3a699aede59e72a",
                  "a6998d78d87012af0de3b37665bc6e72250b9947bccb6d8ba9bdb032d1a5b20639b4e80253e1ebb55a157799166135a2" },
        };
        for (size_t i = 0; i < CP_ELEMENTSOF(v); i++) {
                uint32_t sig;
                uint8_t page[4096], d[48];
                ASSERT_OK(cp_snp_vcpu_type_sig(v[i].type, &sig));
                ASSERT_OK(cp_snp_vmsa_build(CP_SNP_VMSA_RESET, CP_SNP_VMM_QEMU, CP_SNP_BSP_EIP, sig, v[i].gf, page));
                sha384(page, sizeof(page), d);
                ASSERT_LD(d, v[i].bsp);
                ASSERT_OK(cp_snp_vmsa_build(CP_SNP_VMSA_RESET, CP_SNP_VMM_QEMU, 0x80b004, sig, v[i].gf, page));
                sha384(page, sizeof(page), d);
                ASSERT_LD(d, v[i].ap);
        }
}

TEST(vmsa_fields) {
        uint8_t page[4096];
        /* AP split: CS.base = EIP & 0xffff0000, RIP = EIP & 0xffff */
        ASSERT_OK(cp_snp_vmsa_build(CP_SNP_VMSA_RESET, CP_SNP_VMM_QEMU, 0x80b004, 0x800f12, 0x1, page));
        ASSERT_EQ(page[0x10] | page[0x11] << 8, 0xf000);
        ASSERT_EQ(page[0x18] | page[0x19] << 8 | page[0x1a] << 16, 0x800000);
        ASSERT_EQ(page[0x178] | page[0x179] << 8, 0xb004);
        ASSERT_EQ(page[0x310] | page[0x311] << 8 | page[0x312] << 16, 0x800f12);
        /* EC2: BSP CS attrib 0x9a, AP 0x9b, RDX 0x600 whatever the signature */
        ASSERT_OK(cp_snp_vmsa_build(CP_SNP_VMSA_RESET, CP_SNP_VMM_EC2, CP_SNP_BSP_EIP, 0x800f12, 0x1, page));
        ASSERT_EQ(page[0x12], 0x9a);
        ASSERT_EQ(page[0x310] | page[0x311] << 8, 0x600);
        ASSERT_EQ(page[0x408], 0);
        ASSERT_OK(cp_snp_vmsa_build(CP_SNP_VMSA_RESET, CP_SNP_VMM_EC2, 0x80b004, 0x800f12, 0x1, page));
        ASSERT_EQ(page[0x12], 0x9b);
        /* GCE: short G_PAT */
        ASSERT_OK(cp_snp_vmsa_build(CP_SNP_VMSA_RESET, CP_SNP_VMM_GCE, CP_SNP_BSP_EIP, 0, 0x1, page));
        ASSERT_EQ(page[0x268] | page[0x269] << 8 | page[0x26a] << 16, 0x070106);
        ASSERT_EQ(page[0x26c], 0);
        /* SVSM: full RIP, CR0 0x11, FCW 0 */
        ASSERT_OK(cp_snp_vmsa_build(CP_SNP_VMSA_SVSM, CP_SNP_VMM_QEMU, 0xffa01234, 0xa00f11, 0x21, page));
        ASSERT_EQ((uint32_t) (page[0x178] | page[0x179] << 8 | page[0x17a] << 16 | (uint32_t) page[0x17b] << 24),
                  0xffa01234u);
        ASSERT_EQ(page[0x158], 0x11);
        ASSERT_EQ(page[0x3b0], 0x1);
        ASSERT_EQ(page[0x410], 0);
        ASSERT_EQ(page[0x408] | page[0x409] << 8, 0x1f80);
        ASSERT_ERR(cp_snp_vmsa_build(CP_SNP_VMSA_SVSM, CP_SNP_VMM_EC2, 0, 0, 0, page), CP_EINVAL);
        ASSERT_ERR(cp_snp_vmsa_build(CP_SNP_VMSA_RESET, 9, 0, 0, 0, page), CP_EINVAL);
        ASSERT_ERR(cp_snp_vmsa_build(7, CP_SNP_VMM_QEMU, 0, 0, 0, page), CP_EINVAL);
}

/* QEMU CPU model names and their CPUID signatures. */
typedef struct vcpu_type_case {
        const char *name;
        uint32_t sig;
} vcpu_type_case;

static const vcpu_type_case vcpu_type_cases[] = {
        { "EPYC", 0x00800F12 },       { "EPYC-v4", 0x00800F12 },      { "EPYC-IBPB", 0x00800F12 },
        { "EPYC-Rome", 0x00830F10 },  { "EPYC-Rome-v3", 0x00830F10 }, { "EPYC-Milan", 0x00A00F11 },
        { "EPYC-Milan-v2", 0x00A00F11 }, { "EPYC-Genoa", 0x00A10F10 }, { "EPYC-Genoa-v1", 0x00A10F10 },
        { "EPYC-Turin", 0x00B00F00 },
};

static void check_vcpu_type(void *ctx, const void *row) {
        const vcpu_type_case *c = row;
        uint32_t s = 0;
        (void) ctx;
        ASSERT_OK(cp_snp_vcpu_type_sig(c->name, &s));
        ASSERT_U64_EQ(s, c->sig);
}

/* A VMM type name or a measurement mode name: the value it maps to, or the
 * error it gives. */
typedef struct enum_name_case {
        const char *name;
        bool mode; /* cp_snp_measure_mode_from_name, else cp_snp_vmm_type_from_name */
        int value;
        int want;
} enum_name_case;

static const enum_name_case enum_name_cases[] = {
        { "qemu", false, CP_SNP_VMM_QEMU, 0 },
        { "ec2", false, CP_SNP_VMM_EC2, 0 },
        { "GCE", false, CP_SNP_VMM_GCE, 0 },
        { "azure", false, 0, CP_EINVAL },
        { "snp:svsm", true, CP_SNP_MODE_SVSM, 0 },
        { "seves", true, CP_SNP_MODE_SEV_ES, 0 },
        { "sev", true, CP_SNP_MODE_SEV, 0 },
        { "SNP", true, 0, CP_EINVAL },
};

static int enum_from_name(const enum_name_case *c, int *ret) {
        int r;
        if (c->mode) {
                cp_snp_measure_mode m = 0;
                r = cp_snp_measure_mode_from_name(c->name, &m);
                *ret = (int) m;
        } else {
                cp_snp_vmm_type t = 0;
                r = cp_snp_vmm_type_from_name(c->name, &t);
                *ret = (int) t;
        }
        return r;
}

static void check_enum_name(void *ctx, const void *row) {
        const enum_name_case *c = row;
        int v;
        (void) ctx;
        if (c->want) {
                ASSERT_ERR(enum_from_name(c, &v), c->want);
                return;
        }
        ASSERT_OK(enum_from_name(c, &v));
        ASSERT_EQ(v, c->value);
}

TEST(vcpu_sig_and_types) {
        ASSERT_U64_EQ(cp_snp_vcpu_sig(14, 1, 2), 0x0E12);
        ASSERT_U64_EQ(cp_snp_vcpu_sig(23, 1, 2), 0x800F12);
        TEST_TABLE(vcpu_type_cases, check_vcpu_type, NULL);
        uint32_t s;
        ASSERT_ERR(cp_snp_vcpu_type_sig("EPYC-Venice", &s), CP_ENOTFOUND);
        ASSERT_ERR(cp_snp_vcpu_type_sig("epyc", &s), CP_ENOTFOUND);
        size_t n = 0;
        while (cp_snp_vcpu_type_name(n))
                n++;
        ASSERT_EQ(n, 16);
        TEST_TABLE(enum_name_cases, check_enum_name, NULL);
}

/* ---- §10: the peer's own test vectors ---- */

typedef struct vector {
        const char *name, *fw;
        unsigned vcpus;
        int kernel;            /* 0 none, 1 null/null/append */
        const char *append;
        uint64_t gf;
        cp_snp_vmm_type vmm;
        int seeded;            /* use the AmdSev ovmf hash as seed */
        const char *expect;
} vector;

static const vector vectors[] = {
        { "snp_default", "AmdSev", 1, 1, "console=ttyS0 loglevel=7", 0x21, CP_SNP_VMM_QEMU, 0,
          "803f691094946e42068aaa3a8f9e26a5c89f36f7b73ecfb28c653360fe4b3aba7e534442e7e1e17895dfe778d0228977" },
        { "snp_default_seeded", "AmdSev", 1, 1, "console=ttyS0 loglevel=7", 0x21, CP_SNP_VMM_QEMU, 1,
          "803f691094946e42068aaa3a8f9e26a5c89f36f7b73ecfb28c653360fe4b3aba7e534442e7e1e17895dfe778d0228977" },
        { "snp_only", "AmdSev", 1, 1, "console=ttyS0 loglevel=7", 0x1, CP_SNP_VMM_QEMU, 0,
          "6d287813eb5222d770f75005c664e34c204f385ce832cc2ce7d0d6f354454362f390ef83a92046c042e706363b4b08fa" },
        { "ovmf_hash_gen_default", "AmdSev", 1, 1, "", 0x21, CP_SNP_VMM_QEMU, 1,
          "329c8ce0972ae52343b64d34a434a86f245dfd74f5ed7aae15d22efc78fb9683632b9b50e4e1d7fa41179ef98a7ef198" },
        { "ovmf_hash_gen_snp_only", "AmdSev", 1, 1, "", 0x1, CP_SNP_VMM_QEMU, 1,
          "ddc5224521617a536ee7ce9dd6224d1b58a8d4fda1c741f3ac99fc4bfa04ba6e9fc98646d4a07a9079397fa3852819b5" },
        { "ec2_default", "AmdSev", 1, 1, "", 0x21, CP_SNP_VMM_EC2, 0,
          "0ce9ccc06bab55eebe8abc234f3df6514883977a68a591b71052498ab52b2f1aa415db338033946ef93aa8278c0d67fb" },
        { "ec2_snp_only", "AmdSev", 1, 1, "", 0x1, CP_SNP_VMM_EC2, 0,
          "0883bd0eeb716e65b7b977a321c278d1e51b33b5c655fab985443bbcc65c086b9c15e8a0bd8811050dec7e24964e5056" },
        { "gce_default", "AmdSev", 1, 1, "", 0x1, CP_SNP_VMM_GCE, 0,
          "5da7106cf14cf46b1725ebab123eb9e53bd46a1e9f400cd0c08e7827b04b688ea8b4e403c8404efed4397ea5d5d0722e" },
        { "gce_4_vcpus", "AmdSev", 4, 1, "", 0x1, CP_SNP_VMM_GCE, 0,
          "5c5debf100fc339f90276e761ee1f1658d08922c3b20e2a2e6c7a6c3370b2452a15a00eae11886a93d6fd1e7ab81e29d" },
        { "without_kernel_default", "AmdSev", 1, 0, NULL, 0x21, CP_SNP_VMM_QEMU, 0,
          "e1e1ca029dd7973ab9513295be68198472dcd4fc834bd9af9b63f6e8a1674dbf281a9278a4a2ebe0eed9f22adbcd0e2b" },
        { "without_kernel_snp_only", "AmdSev", 1, 0, NULL, 0x1, CP_SNP_VMM_QEMU, 0,
          "19358ba9a7615534a9a1e2f0dfc29384dcd4dcb7062ff9c6013b26869a5fc6ecabe033c48dd6f6db5d6d76e7c5df632d" },
        { "4_vcpus_default", "AmdSev", 4, 1, "", 0x21, CP_SNP_VMM_QEMU, 0,
          "4953b1fb416fa874980e8442b3706d345926d5f38879134e00813c5d7abcbe78eafe7b422907be0b4698e2414a631942" },
        { "4_vcpus_snp_only", "AmdSev", 4, 1, "", 0x1, CP_SNP_VMM_QEMU, 0,
          "5061fffb019493a903613d56d54b94912a1a2f9e4502385f5c194616753720a92441310ba6c4933de877c36e23046ad5" },
        { "ovmfx64_default", "OvmfX64", 1, 0, NULL, 0x21, CP_SNP_VMM_QEMU, 0,
          "28797ae0afaba4005a81e629acebfb59e6687949d6be44007cd5506823b0dd66f146aaae26ff291eed7b493d8a64c385" },
        { "ovmfx64_snp_only", "OvmfX64", 1, 0, NULL, 0x1, CP_SNP_VMM_QEMU, 0,
          "da0296de8193586a5512078dcd719eccecbd87e2b825ad4148c44f665dc87df21e5b49e21523a9ad993afdb6a30b4005" },
};

static uint8_t *read_fixture(const char *name, size_t *len) {
        char rel[128];
        snprintf(rel, sizeof(rel), "measure/ovmf_%s_suffix.bin", name);
        return cp_test_read(rel, len);
}

TEST(published_vectors) {
        uint8_t seed[48];
        hex48("086e2e9149ebf45abdc3445fba5b2da8270bdbb04094d7a2c37faaa4b24af3aa16aff8c374c2a55c467a50da6d466b74", seed);
        uint32_t epyc_v4;
        ASSERT_OK(cp_snp_vcpu_type_sig("EPYC-v4", &epyc_v4));
        for (size_t i = 0; i < CP_ELEMENTSOF(vectors); i++) {
                const vector *v = &vectors[i];
                size_t len;
                _cleanup_free_ uint8_t *fw = read_fixture(v->fw, &len);
                cp_snp_kernel_hashes kh;
                cp_snp_measure_params p;
                cp_snp_measure_params_init(&p);
                p.ovmf = fw;
                p.ovmf_len = len;
                p.vcpus = v->vcpus;
                p.vmm = v->vmm;
                p.vcpu_sig = v->vmm == CP_SNP_VMM_QEMU ? epyc_v4 : 0;
                p.guest_features = v->gf;
                p.ovmf_hash = v->seeded ? seed : NULL;
                if (v->kernel) {
                        ASSERT_OK(cp_snp_kernel_hashes_compute(NULL, 0, NULL, 0, v->append, &kh));
                        p.kernel_hashes = &kh;
                }
                uint8_t ld[48];
                int r = cp_snp_measure(&p, ld);
                if (r < 0)
                        cp_test_fail(__FILE__, __LINE__, "%s: %s", v->name, cp_error_message());
                ASSERT_LD(ld, v->expect);
        }
}

TEST(ovmfx64_with_kernel_fails) {
        size_t len;
        _cleanup_free_ uint8_t *fw = read_fixture("OvmfX64", &len);
        cp_snp_kernel_hashes kh;
        ASSERT_OK(cp_snp_kernel_hashes_compute(NULL, 0, NULL, 0, "", &kh));
        cp_snp_measure_params p;
        cp_snp_measure_params_init(&p);
        p.ovmf = fw;
        p.ovmf_len = len;
        p.kernel_hashes = &kh;
        uint8_t ld[48];
        ASSERT_ERR(cp_snp_measure(&p, ld), CP_EFORMAT);
        ASSERT_TRUE(strstr(cp_error_message(), "SNP_KERNEL_HASHES") != NULL);
}

/* The partial trace of test_snp_guest_feature_snp_only (§10), rebuilt with
 * the page-level API the software AMD-SP uses. */
static void expect_prefix(const uint8_t ld[48], const char *head, const char *tail, int line) {
        char hex[97];
        cp_hex_encode(ld, 48, hex);
        if (strncmp(hex, head, 8) != 0 || strcmp(hex + 92, tail) != 0)
                cp_test_fail(__FILE__, line, "trace: %s, expected %s...%s", hex, head, tail);
}

TEST(trace_with_page_api) {
        size_t len;
        _cleanup_free_ uint8_t *fw = read_fixture("AmdSev", &len);
        cp_ovmf_info info;
        ASSERT_OK(cp_ovmf_parse(fw, len, &info));
        cp_snp_ld *l = NULL;
        uint8_t ld[48], page[4096] = { 0 };
        ASSERT_OK(cp_snp_ld_new(NULL, &l));
        ASSERT_OK(cp_snp_ld_update_pages(l, CP_SNP_PAGE_NORMAL, 0x100000000ull - len, fw, len));
        cp_snp_ld_get(l, ld);
        expect_prefix(ld, "086e2e91", "6b74", __LINE__);
        ASSERT_OK(cp_snp_ld_update_page(l, CP_SNP_PAGE_ZERO, 0x800000, NULL));
        cp_snp_ld_get(l, ld);
        expect_prefix(ld, "cb97f2e2", "736a", __LINE__);
        ASSERT_OK(cp_snp_ld_update_pages(l, CP_SNP_PAGE_ZERO, 0x801000, NULL, 0x8000));
        ASSERT_OK(cp_snp_ld_update_pages(l, CP_SNP_PAGE_ZERO, 0x80a000, NULL, 0x3000));
        ASSERT_EQ(cp_snp_ld_count(l), 13);
        ASSERT_OK(cp_snp_ld_update_page(l, CP_SNP_PAGE_SECRETS, 0x80d000, NULL));
        cp_snp_ld_get(l, ld);
        expect_prefix(ld, "230c0542", "46d8", __LINE__);
        ASSERT_OK(cp_snp_ld_update_page(l, CP_SNP_PAGE_CPUID, 0x80e000, NULL));
        cp_snp_ld_get(l, ld);
        expect_prefix(ld, "17af371b", "5574", __LINE__);
        ASSERT_OK(cp_snp_ld_update_page(l, CP_SNP_PAGE_ZERO, 0x80f000, NULL));
        cp_snp_ld_get(l, ld);
        expect_prefix(ld, "1de7f0d8", "e4e9", __LINE__);
        cp_snp_kernel_hashes kh;
        ASSERT_OK(cp_snp_kernel_hashes_compute(NULL, 0, NULL, 0, "console=ttyS0 loglevel=7", &kh));
        ASSERT_TRUE(info.has_hash_table);
        cp_snp_kernel_hashes_table(&kh, page + (info.hash_table_gpa & 0xfff));
        ASSERT_OK(cp_snp_ld_update_page(l, CP_SNP_PAGE_NORMAL, 0x810000, page));
        cp_snp_ld_get(l, ld);
        expect_prefix(ld, "ce06e9d6", "528e", __LINE__);
        ASSERT_OK(cp_snp_ld_update_pages(l, CP_SNP_PAGE_ZERO, 0x811000, NULL, 0xf000));
        ASSERT_EQ(cp_snp_ld_count(l), 32);
        cp_snp_ld_get(l, ld);
        expect_prefix(ld, "36fcd572", "2f43", __LINE__);
        uint32_t sig;
        ASSERT_OK(cp_snp_vcpu_type_sig("EPYC-v4", &sig));
        ASSERT_OK(cp_snp_vmsa_build(CP_SNP_VMSA_RESET, CP_SNP_VMM_QEMU, CP_SNP_BSP_EIP, sig, 0x1, page));
        ASSERT_OK(cp_snp_ld_update_page(l, CP_SNP_PAGE_VMSA, CP_SNP_VMSA_GPA, page));
        cp_snp_ld_get(l, ld);
        ASSERT_LD(ld, "6d287813eb5222d770f75005c664e34c204f385ce832cc2ce7d0d6f354454362f390ef83a92046c042e706363b4b08fa");
        ASSERT_EQ(cp_snp_ld_count(l), 33);
        cp_snp_ld_free(l);
}

/* ---- Debian OVMF: 1-64 vCPUs, every vCPU type and VMM type ---- */

static uint8_t *read_debian(size_t *len) {
        uint8_t *fw = NULL;
        if (cp_read_file(DEBIAN_OVMF, CP_MAX_FIRMWARE_SIZE, &fw, len) < 0)
                cp_test_fail(__FILE__, __LINE__, "%s: %s (install the Debian package ovmf)", DEBIAN_OVMF,
                             cp_error_message());
        return fw;
}

TEST(debian_ovmf_all_vcpus_and_types) {
        size_t len;
        _cleanup_free_ uint8_t *fw = read_debian(&len);
        cp_snp_measure_params p;
        cp_snp_measure_params_init(&p);
        p.ovmf = fw;
        p.ovmf_len = len;
        uint8_t seed[48], ld[48], prev[48] = { 0 };
        p.mode = CP_SNP_MODE_OVMF_HASH;
        ASSERT_OK(cp_snp_measure(&p, seed));
        p.mode = CP_SNP_MODE_SNP;
        ASSERT_OK(cp_snp_vcpu_type_sig("EPYC-Milan", &p.vcpu_sig));

        /* full measurement for every vCPU count; seeding gives the same value;
         * every count gives a different digest */
        for (unsigned n = 1; n <= 64; n++) {
                p.vcpus = n;
                p.ovmf_hash = NULL;
                ASSERT_OK(cp_snp_measure(&p, ld));
                ASSERT_FALSE(memcmp(ld, prev, 48) == 0);
                memcpy(prev, ld, 48);
                uint8_t seeded[48];
                p.ovmf_hash = seed;
                ASSERT_OK(cp_snp_measure(&p, seeded));
                ASSERT_MEMEQ(ld, seeded, 48);
        }
        /* every vCPU type x VMM type x vCPU count (seeded, to keep it fast) */
        p.ovmf_hash = seed;
        for (size_t t = 0; cp_snp_vcpu_type_name(t); t++) {
                ASSERT_OK(cp_snp_vcpu_type_sig(cp_snp_vcpu_type_name(t), &p.vcpu_sig));
                for (int vmm = CP_SNP_VMM_QEMU; vmm <= CP_SNP_VMM_GCE; vmm++)
                        for (unsigned n = 1; n <= 64; n++) {
                                p.vmm = (cp_snp_vmm_type) vmm;
                                p.vcpus = n;
                                ASSERT_OK(cp_snp_measure(&p, ld));
                        }
        }
        /* Debian's OVMF has no SNP_KERNEL_HASHES section */
        cp_snp_kernel_hashes kh;
        ASSERT_OK(cp_snp_kernel_hashes_compute(NULL, 0, NULL, 0, NULL, &kh));
        p.kernel_hashes = &kh;
        ASSERT_ERR(cp_snp_measure(&p, ld), CP_EFORMAT);
}

/* The vCPU type matters for QEMU, not for EC2/GCE (RDX fixed to 0x600). */
TEST(vcpu_type_effect_by_vmm) {
        size_t len;
        _cleanup_free_ uint8_t *fw = read_fixture("AmdSev", &len);
        cp_snp_measure_params p;
        cp_snp_measure_params_init(&p);
        p.ovmf = fw;
        p.ovmf_len = len;
        p.vcpus = 2;
        for (int vmm = CP_SNP_VMM_QEMU; vmm <= CP_SNP_VMM_GCE; vmm++) {
                uint8_t a[48], b[48];
                p.vmm = (cp_snp_vmm_type) vmm;
                p.vcpu_sig = 0x800f12;
                ASSERT_OK(cp_snp_measure(&p, a));
                p.vcpu_sig = 0xa00f11;
                ASSERT_OK(cp_snp_measure(&p, b));
                ASSERT_EQ(memcmp(a, b, 48) == 0, vmm != CP_SNP_VMM_QEMU);
        }
}

/* ---- synthetic firmware: section rules, errors, SVSM ---- */

static const cp_snp_section syn_sections[] = {
        { 0x800000, 0x2000, CP_SNP_SECTION_SEC_MEM }, { 0x802000, 0x1000, CP_SNP_SECTION_SECRETS },
        { 0x803000, 0x1000, CP_SNP_SECTION_CPUID },   { 0x804000, 0x1000, CP_SNP_SECTION_SVSM_CAA },
        { 0x805000, 0x1000, CP_SNP_SECTION_KERNEL_HASHES }, { 0x806000, 0x1000, CP_SNP_SECTION_SEC_MEM },
};

/* The expected sequence, spelled out with the page API. */
static void expected_synthetic(const uint8_t *fw, size_t len, cp_snp_vmm_type vmm, const cp_snp_kernel_hashes *kh,
                               unsigned vcpus, uint32_t ap_eip, uint8_t out[48]) {
        cp_snp_ld *l = NULL;
        uint8_t page[4096] = { 0 };
        cp_snp_page_type zero_or_unmeasured = vmm == CP_SNP_VMM_GCE ? CP_SNP_PAGE_UNMEASURED : CP_SNP_PAGE_ZERO;
        ASSERT_OK(cp_snp_ld_new(NULL, &l));
        ASSERT_OK(cp_snp_ld_update_pages(l, CP_SNP_PAGE_NORMAL, 0x100000000ull - len, fw, len));
        ASSERT_OK(cp_snp_ld_update_pages(l, zero_or_unmeasured, 0x800000, NULL, 0x2000));
        ASSERT_OK(cp_snp_ld_update_page(l, CP_SNP_PAGE_SECRETS, 0x802000, NULL));
        if (vmm != CP_SNP_VMM_EC2)
                ASSERT_OK(cp_snp_ld_update_page(l, CP_SNP_PAGE_CPUID, 0x803000, NULL));
        ASSERT_OK(cp_snp_ld_update_page(l, CP_SNP_PAGE_ZERO, 0x804000, NULL));
        if (kh) {
                cp_snp_kernel_hashes_table(kh, page + 0x100);
                ASSERT_OK(cp_snp_ld_update_page(l, CP_SNP_PAGE_NORMAL, 0x805000, page));
        } else
                ASSERT_OK(cp_snp_ld_update_page(l, CP_SNP_PAGE_ZERO, 0x805000, NULL));
        ASSERT_OK(cp_snp_ld_update_page(l, zero_or_unmeasured, 0x806000, NULL));
        if (vmm == CP_SNP_VMM_EC2)
                ASSERT_OK(cp_snp_ld_update_page(l, CP_SNP_PAGE_CPUID, 0x803000, NULL));
        for (unsigned i = 0; i < vcpus; i++) {
                ASSERT_OK(cp_snp_vmsa_build(CP_SNP_VMSA_RESET, vmm, i ? ap_eip : CP_SNP_BSP_EIP, 0xa10f10, 0x1, page));
                ASSERT_OK(cp_snp_ld_update_page(l, CP_SNP_PAGE_VMSA, CP_SNP_VMSA_GPA, page));
        }
        cp_snp_ld_get(l, out);
        cp_snp_ld_free(l);
}

TEST(synthetic_section_rules) {
        t_entry e[] = { { T_GUID_HASHTABLE, { 0x805100, 0x400 }, 2 }, { T_GUID_RESET, { 0x801004 }, 1 } };
        t_image d = { .size = 3 * 4096, .entries = e, .n_entries = 2, .sections = syn_sections,
                      .n_sections = CP_ELEMENTSOF(syn_sections), .with_metadata = 1 };
        _cleanup_free_ uint8_t *fw = t_build(&d, NULL, NULL);
        cp_snp_kernel_hashes kh;
        ASSERT_OK(cp_snp_kernel_hashes_compute((const uint8_t *) "kernel", 6, NULL, 0, "root=/dev/vda", &kh));
        for (int vmm = CP_SNP_VMM_QEMU; vmm <= CP_SNP_VMM_GCE; vmm++)
                for (int k = 0; k < 2; k++)
                        for (unsigned n = 1; n <= 3; n++) {
                                cp_snp_measure_params p;
                                cp_snp_measure_params_init(&p);
                                p.ovmf = fw;
                                p.ovmf_len = d.size;
                                p.vmm = (cp_snp_vmm_type) vmm;
                                p.vcpus = n;
                                p.vcpu_sig = 0xa10f10;
                                p.kernel_hashes = k ? &kh : NULL;
                                uint8_t got[48], want[48];
                                ASSERT_OK(cp_snp_measure(&p, got));
                                expected_synthetic(fw, d.size, p.vmm, p.kernel_hashes, n, 0x801004, want);
                                ASSERT_MEMEQ(got, want, 48);
                        }
}

TEST(synthetic_errors) {
        uint8_t ld[48];
        cp_snp_measure_params p;
        cp_snp_kernel_hashes kh;
        ASSERT_OK(cp_snp_kernel_hashes_compute(NULL, 0, NULL, 0, NULL, &kh));

        /* no reset block: error even for one vCPU; fine for ovmf-hash */
        t_image d = { .size = 2 * 4096, .sections = syn_sections, .n_sections = 2, .with_metadata = 1 };
        _cleanup_free_ uint8_t *fw = t_build(&d, NULL, NULL);
        cp_snp_measure_params_init(&p);
        p.ovmf = fw;
        p.ovmf_len = d.size;
        ASSERT_ERR(cp_snp_measure(&p, ld), CP_EFORMAT);
        ASSERT_TRUE(strstr(cp_error_message(), "SEV_ES_RESET_BLOCK") != NULL);
        p.mode = CP_SNP_MODE_OVMF_HASH;
        ASSERT_OK(cp_snp_measure(&p, ld));

        /* AP EIP 0 with more than one vCPU */
        t_entry e0[] = { { T_GUID_RESET, { 0 }, 1 } };
        t_image d0 = { .size = 4096, .entries = e0, .n_entries = 1 };
        _cleanup_free_ uint8_t *fw0 = t_build(&d0, NULL, NULL);
        cp_snp_measure_params_init(&p);
        p.ovmf = fw0;
        p.ovmf_len = d0.size;
        ASSERT_OK(cp_snp_measure(&p, ld)); /* no metadata: firmware + VMSA only */
        p.vcpus = 2;
        ASSERT_ERR(cp_snp_measure(&p, ld), CP_EFORMAT);

        /* kernel hashes: section present but no hash-table entry; wrong section size; table past the page */
        cp_snp_section ks[] = { { 0x805000, 0x2000, CP_SNP_SECTION_KERNEL_HASHES } };
        cp_snp_section ks1[] = { { 0x805000, 0x1000, CP_SNP_SECTION_KERNEL_HASHES } };
        t_entry e1[] = { { T_GUID_RESET, { 0x801004 }, 1 } };
        t_entry e2[] = { { T_GUID_RESET, { 0x801004 }, 1 }, { T_GUID_HASHTABLE, { 0x805000, 0x400 }, 2 } };
        t_entry e3[] = { { T_GUID_RESET, { 0x801004 }, 1 }, { T_GUID_HASHTABLE, { 0x805f60, 0x400 }, 2 } };
        struct {
                const t_entry *e;
                const cp_snp_section *s;
        } bad[] = { { e1, ks1 }, { e2, ks }, { e3, ks1 } };
        for (size_t i = 0; i < CP_ELEMENTSOF(bad); i++) {
                t_image di = { .size = 4096, .entries = bad[i].e, .n_entries = i == 0 ? 1 : 2, .sections = bad[i].s,
                               .n_sections = 1, .with_metadata = 1 };
                _cleanup_free_ uint8_t *f = t_build(&di, NULL, NULL);
                cp_snp_measure_params_init(&p);
                p.ovmf = f;
                p.ovmf_len = di.size;
                p.kernel_hashes = &kh;
                ASSERT_ERR(cp_snp_measure(&p, ld), CP_EFORMAT);
                p.kernel_hashes = NULL;
                ASSERT_OK(cp_snp_measure(&p, ld));
        }

        /* metadata covering too many pages */
        cp_snp_section huge[] = { { 0, 0xfffff000, CP_SNP_SECTION_SEC_MEM } };
        t_image dh = { .size = 4096, .entries = e1, .n_entries = 1, .sections = huge, .n_sections = 1,
                       .with_metadata = 1 };
        _cleanup_free_ uint8_t *fh = t_build(&dh, NULL, NULL);
        cp_snp_measure_params_init(&p);
        p.ovmf = fh;
        p.ovmf_len = dh.size;
        ASSERT_ERR(cp_snp_measure(&p, ld), CP_ETOOBIG);

        /* parameters */
        cp_snp_measure_params_init(&p);
        ASSERT_ERR(cp_snp_measure(&p, ld), CP_EINVAL);
        p.ovmf = fw0;
        p.ovmf_len = 4096;
        p.vcpus = 0;
        ASSERT_ERR(cp_snp_measure(&p, ld), CP_EINVAL);
        p.vcpus = CP_SNP_MAX_VCPUS + 1;
        ASSERT_ERR(cp_snp_measure(&p, ld), CP_EINVAL);
        p.vcpus = 1;
        p.vmm = 0;
        ASSERT_ERR(cp_snp_measure(&p, ld), CP_EINVAL);
        p.vmm = CP_SNP_VMM_QEMU;
        p.mode = CP_SNP_MODE_OVMF_HASH;
        p.ovmf_hash = ld;
        ASSERT_ERR(cp_snp_measure(&p, ld), CP_EINVAL);
        p.mode = CP_SNP_MODE_SNP;
        p.ovmf_hash = NULL;
        p.ovmf_len = 4095;
        ASSERT_ERR(cp_snp_measure(&p, ld), CP_EFORMAT);
        ASSERT_ERR(cp_snp_measure(NULL, ld), CP_EINVAL);
}

TEST(svsm_mode_synthetic) {
        /* OVMF (any firmware) and an SVSM image with SVSM info + metadata */
        t_entry oe[] = { { T_GUID_RESET, { 0x801004 }, 1 } };
        t_image od = { .size = 4 * 4096, .entries = oe, .n_entries = 1, .fill = 7 };
        _cleanup_free_ uint8_t *ovmf = t_build(&od, NULL, NULL);
        cp_snp_section ss[] = { { 0x0, 0x3000, CP_SNP_SECTION_SEC_MEM },
                                { 0x3000, 0x1000, CP_SNP_SECTION_SECRETS },
                                { 0x4000, 0x1000, CP_SNP_SECTION_CPUID },
                                { 0x5000, 0x1000, CP_SNP_SECTION_KERNEL_HASHES } };
        t_entry se[] = { { T_GUID_SVSM_INFO, { 0x1234 }, 1 } };
        t_image sd = { .size = 2 * 4096, .entries = se, .n_entries = 1, .sections = ss, .n_sections = 4,
                       .with_metadata = 1, .fill = 99 };
        _cleanup_free_ uint8_t *svsm = t_build(&sd, NULL, NULL);
        uint64_t vars = 0x84000;

        cp_snp_measure_params p;
        cp_snp_measure_params_init(&p);
        p.mode = CP_SNP_MODE_SVSM;
        p.ovmf = ovmf;
        p.ovmf_len = od.size;
        p.svsm = svsm;
        p.svsm_len = sd.size;
        p.vars_size = vars;
        p.vcpus = 3;
        p.vcpu_sig = 0xa00f11;
        p.guest_features = 0x21; /* ignored in SVSM mode */
        uint8_t got[48], want[48], page[4096];
        ASSERT_OK(cp_snp_measure(&p, got));

        uint64_t ovmf_gpa = 0x100000000ull - od.size, svsm_gpa = ovmf_gpa - vars - sd.size;
        cp_snp_ld *l = NULL;
        ASSERT_OK(cp_snp_ld_new(NULL, &l));
        ASSERT_OK(cp_snp_ld_update_pages(l, CP_SNP_PAGE_NORMAL, ovmf_gpa, ovmf, od.size));
        ASSERT_OK(cp_snp_ld_update_pages(l, CP_SNP_PAGE_NORMAL, svsm_gpa, svsm, sd.size));
        ASSERT_OK(cp_snp_ld_update_pages(l, CP_SNP_PAGE_ZERO, 0, NULL, 0x3000));
        ASSERT_OK(cp_snp_ld_update_page(l, CP_SNP_PAGE_SECRETS, 0x3000, NULL));
        ASSERT_OK(cp_snp_ld_update_page(l, CP_SNP_PAGE_CPUID, 0x4000, NULL));
        ASSERT_OK(cp_snp_ld_update_page(l, CP_SNP_PAGE_ZERO, 0x5000, NULL));
        ASSERT_OK(cp_snp_vmsa_build(CP_SNP_VMSA_SVSM, CP_SNP_VMM_QEMU, (uint32_t) (svsm_gpa + 0x1234), 0xa00f11, 0,
                                    page));
        for (int i = 0; i < 3; i++)
                ASSERT_OK(cp_snp_ld_update_page(l, CP_SNP_PAGE_VMSA, CP_SNP_VMSA_GPA, page));
        cp_snp_ld_get(l, want);
        cp_snp_ld_free(l);
        ASSERT_MEMEQ(got, want, 48);

        /* errors */
        p.vmm = CP_SNP_VMM_EC2;
        ASSERT_ERR(cp_snp_measure(&p, got), CP_EINVAL);
        p.vmm = CP_SNP_VMM_QEMU;
        p.vars_size = 0;
        ASSERT_ERR(cp_snp_measure(&p, got), CP_EINVAL);
        p.vars_size = 0x100000000ull;
        ASSERT_ERR(cp_snp_measure(&p, got), CP_EINVAL);
        p.vars_size = vars;
        p.svsm = NULL;
        ASSERT_ERR(cp_snp_measure(&p, got), CP_EINVAL);
        p.svsm = ovmf; /* an image without SVSM info */
        p.svsm_len = od.size;
        ASSERT_ERR(cp_snp_measure(&p, got), CP_EFORMAT);
}

/* ---- §9/§10: pre-SNP SEV and SEV-ES digests (SHA-256) ---- */

TEST(sev_and_seves_published) {
        static const struct {
                const char *fw;
                cp_snp_measure_mode mode;
                unsigned vcpus;
                int kernel; /* 0 none, 1 kernel only, 2 null/null/append */
                const char *append, *expect;
        } v[] = {
                { "AmdSev", CP_SNP_MODE_SEV_ES, 1, 2, "", "13810ae661ea11e2bb205621f582fee268f0367c8f97bc297b7fadef3e12002c" },
                { "AmdSev", CP_SNP_MODE_SEV_ES, 4, 2, "", "0dccbcaba8e90b261bd0d2e1863a2f9da714768b7b2a19363cd6ae35aa90de91" },
                { "AmdSev", CP_SNP_MODE_SEV, 0, 2, "console=ttyS0 loglevel=7",
                  "82a3ee5d537c3620628270c292ae30cb40c3c878666a7890ee7ef2a08fb535ff" },
                { "AmdSev", CP_SNP_MODE_SEV, 0, 1, NULL, "77f613d7bbcdf12a73782ea9e88b0172aeda50d1a54201cb903594ff52846898" },
                { "OvmfX64", CP_SNP_MODE_SEV, 0, 0, NULL, "b4c021e085fb83ceffe6571a3d357b4a98773c83c474e47f76c876708fe316da" },
        };
        for (size_t i = 0; i < CP_ELEMENTSOF(v); i++) {
                size_t len;
                _cleanup_free_ uint8_t *fw = read_fixture(v[i].fw, &len);
                cp_snp_kernel_hashes kh;
                cp_snp_measure_params p;
                cp_snp_measure_params_init(&p);
                p.mode = v[i].mode;
                p.ovmf = fw;
                p.ovmf_len = len;
                p.vcpus = v[i].vcpus;
                ASSERT_OK(cp_snp_vcpu_type_sig("EPYC-v4", &p.vcpu_sig));
                if (v[i].kernel) {
                        ASSERT_OK(cp_snp_kernel_hashes_compute(NULL, 0, NULL, 0, v[i].append, &kh));
                        p.kernel_hashes = &kh;
                }
                uint8_t d[32], want[32];
                size_t n = 0;
                ASSERT_OK(cp_sev_measure(&p, d));
                ASSERT_OK(cp_hex_decode(v[i].expect, 64, want, sizeof(want), &n));
                ASSERT_MEMEQ(d, want, 32);
                /* the SNP entry point refuses SHA-256 modes */
                uint8_t ld[48];
                ASSERT_ERR(cp_snp_measure(&p, ld), CP_EINVAL);
        }
}

TEST(sev_errors) {
        size_t len;
        _cleanup_free_ uint8_t *fw = read_debian(&len);
        cp_snp_kernel_hashes kh;
        ASSERT_OK(cp_snp_kernel_hashes_compute(NULL, 0, NULL, 0, NULL, &kh));
        cp_snp_measure_params p;
        cp_snp_measure_params_init(&p);
        p.ovmf = fw;
        p.ovmf_len = len;
        uint8_t d[32];
        ASSERT_ERR(cp_sev_measure(&p, d), CP_EINVAL); /* mode snp */
        p.mode = CP_SNP_MODE_SEV;
        ASSERT_OK(cp_sev_measure(&p, d));
        p.kernel_hashes = &kh; /* Debian's hash-table entry has GPA 0 */
        ASSERT_ERR(cp_sev_measure(&p, d), CP_EFORMAT);
        p.kernel_hashes = NULL;
        p.mode = CP_SNP_MODE_SEV_ES;
        p.vcpus = 64;
        ASSERT_OK(cp_sev_measure(&p, d));
        /* no reset block */
        t_image di = { .size = 4096 };
        _cleanup_free_ uint8_t *f = t_build(&di, NULL, NULL);
        p.ovmf = f;
        p.ovmf_len = di.size;
        ASSERT_ERR(cp_sev_measure(&p, d), CP_EFORMAT);
        p.mode = CP_SNP_MODE_SEV;
        ASSERT_OK(cp_sev_measure(&p, d));
}

/* ---- pipelined contents hashing: byte-identical to single-threaded ---- */

static void ld_run(unsigned threads, const uint8_t *seed, cp_snp_page_type type, const uint8_t *data, size_t pages,
                   uint8_t out[48], unsigned *used) {
        cp_snp_ld *ld = NULL;
        ASSERT_OK(cp_snp_ld_new(seed, &ld));
        ASSERT_OK(cp_snp_ld_set_threads(ld, threads));
        /* a page before and after the run, so the run starts and ends mid-chain */
        ASSERT_OK(cp_snp_ld_update_page(ld, CP_SNP_PAGE_ZERO, 0x1000, NULL));
        ASSERT_OK(cp_snp_ld_update_pages(ld, type, UINT64_C(0x200000), data, pages * CP_SNP_PAGE_SIZE));
        ASSERT_OK(cp_snp_ld_update_page(ld, CP_SNP_PAGE_NORMAL, 0x2000, data));
        ASSERT_U64_EQ(cp_snp_ld_count(ld), pages + 2);
        cp_snp_ld_get(ld, out);
        *used = cp_snp_ld_threads_used(ld);
        cp_snp_ld_free(ld);
}

TEST(pipelined_odd_sizes) {
        static const size_t sizes[] = { 1, 2, 3, 17, 63, 64, 65, 255, 256, 257, 511, 513, 777, 1025 };
        size_t max = 1025 * CP_SNP_PAGE_SIZE;
        uint8_t *data = malloc(max), seed[48], a[48], b[48], c[48];
        ASSERT_TRUE(data != NULL);
        uint64_t x = 0x243f6a8885a308d3ull;
        for (size_t i = 0; i < max; i++) {
                x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                data[i] = (uint8_t) x;
        }
        memset(seed, 0xa5, sizeof(seed));
        for (size_t k = 0; k < CP_ELEMENTSOF(sizes); k++) {
                size_t n = sizes[k];
                unsigned u1, u2, u0;
                cp_snp_page_type t = k % 2 ? CP_SNP_PAGE_VMSA : CP_SNP_PAGE_NORMAL;
                ld_run(1, k % 3 ? seed : NULL, t, data, n, a, &u1);
                ld_run(2, k % 3 ? seed : NULL, t, data, n, b, &u2);
                ld_run(0, k % 3 ? seed : NULL, t, data, n, c, &u0);
                ASSERT_MEMEQ(a, b, 48);
                ASSERT_MEMEQ(a, c, 48);
                ASSERT_EQ(u1, 1);
                ASSERT_EQ(u2, n >= 2 ? 2 : 1);
                if (n < CP_SNP_PIPELINE_MIN_PAGES)
                        ASSERT_EQ(u0, 1);
                /* and the same as hashing page by page through cp_snp_ld_update */
                cp_snp_ld *ld = NULL;
                ASSERT_OK(cp_snp_ld_new(k % 3 ? seed : NULL, &ld));
                ASSERT_OK(cp_snp_ld_update_page(ld, CP_SNP_PAGE_ZERO, 0x1000, NULL));
                for (size_t i = 0; i < n; i++) {
                        cp_snp_page_info pi = { .type = t, .gpa = 0x200000 + i * CP_SNP_PAGE_SIZE };
                        sha384(data + i * CP_SNP_PAGE_SIZE, CP_SNP_PAGE_SIZE, pi.contents);
                        ASSERT_OK(cp_snp_ld_update(ld, &pi));
                }
                ASSERT_OK(cp_snp_ld_update_page(ld, CP_SNP_PAGE_NORMAL, 0x2000, data));
                cp_snp_ld_get(ld, c);
                cp_snp_ld_free(ld);
                ASSERT_MEMEQ(a, c, 48);
        }
        /* pages without contents never start a helper */
        cp_snp_ld *ld = NULL;
        ASSERT_OK(cp_snp_ld_new(NULL, &ld));
        ASSERT_OK(cp_snp_ld_set_threads(ld, 2));
        ASSERT_OK(cp_snp_ld_update_pages(ld, CP_SNP_PAGE_ZERO, 0, NULL, 300 * CP_SNP_PAGE_SIZE));
        ASSERT_EQ(cp_snp_ld_threads_used(ld), 1);
        ASSERT_ERR(cp_snp_ld_set_threads(ld, 3), CP_EINVAL);
        ASSERT_ERR(cp_snp_ld_set_threads(NULL, 1), CP_EINVAL);
        cp_snp_ld_free(ld);
        free(data);
}

TEST(pipelined_debian_ovmf) {
        size_t len = 0;
        uint8_t *fw = read_debian(&len);
        cp_snp_measure_params p;
        cp_snp_measure_params_init(&p);
        p.ovmf = fw;
        p.ovmf_len = len;
        p.vcpu_sig = 0x00a00f11;
        static const struct {
                cp_snp_measure_mode mode;
                unsigned vcpus;
        } cases[] = { { CP_SNP_MODE_SNP, 1 }, { CP_SNP_MODE_SNP, 64 }, { CP_SNP_MODE_OVMF_HASH, 1 } };
        for (size_t k = 0; k < CP_ELEMENTSOF(cases); k++) {
                uint8_t one[48], two[48], aut[48];
                unsigned u1 = 0, u2 = 0, u0 = 0;
                p.mode = cases[k].mode;
                p.vcpus = cases[k].vcpus;
                p.threads = 1;
                ASSERT_OK(cp_snp_measure_ex(&p, one, &u1));
                p.threads = 2;
                ASSERT_OK(cp_snp_measure_ex(&p, two, &u2));
                p.threads = 0;
                ASSERT_OK(cp_snp_measure_ex(&p, aut, &u0));
                ASSERT_MEMEQ(one, two, 48);
                ASSERT_MEMEQ(one, aut, 48);
                ASSERT_EQ(u1, 1);
                ASSERT_EQ(u2, 2);
                ASSERT_TRUE(u0 == 1 || u0 == 2);
        }
        p.threads = 3;
        uint8_t d[48];
        ASSERT_ERR(cp_snp_measure(&p, d), CP_EINVAL);
        free(fw);
}
