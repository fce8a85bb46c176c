/* SPDX-License-Identifier: Apache-2.0 */
/* confpool-amdspd launch: a guest launched by the AMD-SP (docs/amdsp.md). */
#include <stdlib.h>
#include <string.h>

#include "amdspd/amdspd.h"
#include "basic/cleanup.h"
#include "basic/codec.h"
#include "basic/fileio.h"
#include "basic/secure.h"
#include "confpool/snp_idblock.h"

enum {
        O_SECRETS_OUT = 0x100,
        O_POLICY,
        O_HOST_DATA,
        O_VMPL,
        O_MEASUREMENT,
        O_OVMF,
        O_MODE,
        O_VCPUS,
        O_VCPU_TYPE,
        O_VCPU_SIG,
        O_VMM_TYPE,
        O_KERNEL,
        O_INITRD,
        O_APPEND,
        O_FEATURES,
        O_ID_BLOCK,
        O_ID_AUTH,
        O_ID_KEY_DIGEST,
        O_AUTHOR_KEY_DIGEST,
        O_FAMILY_ID,
        O_IMAGE_ID,
        O_GUEST_SVN,
};

typedef struct launch_args {
        const char *secrets_out, *meas;
        const char *ovmf, *mode, *vcpu_type, *vmm, *kernel, *initrd, *append; /* measured by the AMD-SP */
        uint64_t vcpus, vcpu_sig, features;
        bool have_vcpus, have_sig, have_features;
        const char *id_block, *id_auth; /* verified at launch */
        bool claimed_keys;              /* --id-key-digest / --author-key-digest */
        cp_amdsp_launch l;
} launch_args;

/* One option of launch's own: 0, or the exit status of a bad value. */
static int launch_option(launch_args *la, int c, const char *v) {
        cp_amdsp_launch *l = &la->l;
        uint64_t num = 0;
        int r = 0;
        switch (c) {
        case O_SECRETS_OUT: la->secrets_out = v; break;
        case O_POLICY: l->policy = strtoull(v, NULL, 0); break;
        case O_HOST_DATA: r = cp_amdspd_parse_hex(v, l->host_data, 32); break;
        case O_VMPL: l->min_vmpl = (unsigned) strtoul(v, NULL, 10); break;
        case O_MEASUREMENT: la->meas = v; break;
        case O_OVMF: la->ovmf = v; break;
        case O_MODE: la->mode = v; break;
        case O_VCPUS:
                r = cp_amdspd_parse_num("--vcpus", v, CP_SNP_MAX_VCPUS, &la->vcpus);
                la->have_vcpus = true;
                break;
        case O_VCPU_TYPE: la->vcpu_type = v; break;
        case O_VCPU_SIG:
                r = cp_amdspd_parse_num("--vcpu-sig", v, UINT32_MAX, &la->vcpu_sig);
                la->have_sig = true;
                break;
        case O_VMM_TYPE: la->vmm = v; break;
        case O_KERNEL: la->kernel = v; break;
        case O_INITRD: la->initrd = v; break;
        case O_APPEND: la->append = v; break;
        case O_FEATURES:
                r = cp_amdspd_parse_num("--guest-features", v, UINT64_MAX, &la->features);
                la->have_features = true;
                break;
        case O_ID_BLOCK: la->id_block = v; break;
        case O_ID_AUTH: la->id_auth = v; break;
        case O_ID_KEY_DIGEST:
                r = cp_amdspd_parse_hex(v, l->id_key_digest, 48);
                l->has_id_block = la->claimed_keys = true;
                break;
        case O_AUTHOR_KEY_DIGEST:
                r = cp_amdspd_parse_hex(v, l->author_key_digest, 48);
                l->author_key_en = l->has_id_block = la->claimed_keys = true;
                break;
        case O_FAMILY_ID:
                r = cp_amdspd_parse_hex(v, l->family_id, 16);
                l->has_id_block = true;
                break;
        case O_IMAGE_ID:
                r = cp_amdspd_parse_hex(v, l->image_id, 16);
                l->has_id_block = true;
                break;
        case O_GUEST_SVN:
                r = cp_amdspd_parse_num("--guest-svn", v, UINT32_MAX, &num);
                l->guest_svn = (uint32_t) num;
                break;
        }
        return r < 0 ? CP_AMDSPD_EXIT_USAGE : 0;
}

static int usage_error(const char *msg) {
        fprintf(stderr, "confpool-amdspd: %s\n", msg);
        return CP_AMDSPD_EXIT_USAGE;
}

/* The launch parameters the AMD-SP measures (--ovmf and what goes with it):
 * 0, or the exit status. */
static int measure_params(launch_args *la, cp_snp_measure_params *mp, cp_snp_kernel_hashes *kh) {
        cp_snp_measure_params_init(mp);
        if (la->mode && cp_snp_measure_mode_from_name(la->mode, &mp->mode) < 0)
                return cp_amdspd_fail("--mode");
        if (la->vmm && cp_snp_vmm_type_from_name(la->vmm, &mp->vmm) < 0)
                return cp_amdspd_fail("--vmm-type");
        if ((la->initrd || la->append) && !la->kernel)
                return usage_error("--initrd and --append need --kernel");
        if (mp->mode != CP_SNP_MODE_OVMF_HASH) {
                if (!la->have_vcpus)
                        return usage_error("missing --vcpus N");
                mp->vcpus = (unsigned) la->vcpus;
                if (la->have_sig)
                        mp->vcpu_sig = (uint32_t) la->vcpu_sig;
                else if (la->vcpu_type) {
                        if (cp_snp_vcpu_type_sig(la->vcpu_type, &mp->vcpu_sig) < 0)
                                return cp_amdspd_fail("--vcpu-type");
                } else if (mp->vmm == CP_SNP_VMM_QEMU)
                        return usage_error("missing --vcpu-type or --vcpu-sig");
                mp->guest_features = la->features;
                if (la->kernel) {
                        if (cp_snp_kernel_hashes_from_files(la->kernel, la->initrd, la->append, kh) < 0)
                                return cp_amdspd_fail("--kernel");
                        mp->kernel_hashes = kh;
                }
        }
        la->l.measure = mp;
        la->l.ovmf_path = la->ovmf;
        return 0;
}

/* An ID block / ID auth file: the raw structure (exactly `want` bytes),
 * base64 text, or the `id-block=B64,id-auth=B64` line printed by
 * `confpool snp id-block` (key selects the field).  The decoded length is
 * returned as is: cp_snp_id_auth_verify() rejects wrong sizes. */
static int read_id_file(const char *path, const char *key, size_t want, uint8_t **ret, size_t *ret_len) {
        _cleanup_free_ uint8_t *d = NULL;
        size_t n = 0;
        if (cp_read_file(path, 64 * 1024, &d, &n) < 0) {
                cp_amdspd_fail(path);
                return -1;
        }
        if (n == want) {
                *ret = TAKE_PTR(d);
                *ret_len = n;
                return 0;
        }
        _cleanup_free_ char *text = malloc(n + 1);
        if (!text)
                return -1;
        memcpy(text, d, n);
        text[n] = 0;
        char prefix[32];
        snprintf(prefix, sizeof(prefix), "%s=", key);
        const char *b = strstr(text, prefix);
        b = b ? b + strlen(prefix) : text;
        while (*b == ' ' || *b == '\t' || *b == '\n' || *b == '\r')
                b++;
        size_t len = strcspn(b, ", \t\r\n");
        uint8_t *out = malloc(cp_b64_decoded_max(len) + 1);
        size_t got = 0;
        if (!out)
                return -1;
        if (cp_b64_decode(b, len, CP_B64_STD, out, cp_b64_decoded_max(len) + 1, &got) < 0) {
                free(out);
                fprintf(stderr, "confpool-amdspd: %s: not a %zu-byte %s (raw or base64)\n", path, want, key);
                return -1;
        }
        *ret = out;
        *ret_len = got;
        return 0;
}

/* --id-block / --id-auth, verified at launch: 0, or the exit status. */
static int id_files(launch_args *la, uint8_t **blk, uint8_t **auth) {
        if (!la->id_block != !la->id_auth)
                return usage_error("--id-block and --id-auth go together");
        if (!la->id_block)
                return 0;
        if (la->claimed_keys)
                return usage_error("--id-block excludes --id-key-digest / --author-key-digest");
        /* --family-id / --image-id / --guest-svn must then match the block */
        la->l.has_id_block = false;
        if (read_id_file(la->id_block, "id-block", CP_SNP_ID_BLOCK_SIZE, blk, &la->l.id_block_len) < 0 ||
            read_id_file(la->id_auth, "id-auth", CP_SNP_ID_AUTH_SIZE, auth, &la->l.id_auth_len) < 0)
                return CP_AMDSPD_EXIT_FAILURE;
        la->l.id_block = *blk;
        la->l.id_auth = *auth;
        return 0;
}

/* The launch's other options, checked once the host is open: 0, or the exit status. */
static int launch_check(launch_args *la) {
        if (!la->secrets_out || (!la->meas == !la->ovmf))
                return usage_error("launch needs --secrets-out and either --ovmf (measured by the AMD-SP) or "
                                   "--measurement (96 hex)");
        if (la->meas && cp_amdspd_parse_hex(la->meas, la->l.measurement, 48) < 0)
                return CP_AMDSPD_EXIT_USAGE;
        if (la->meas && (la->mode || la->have_vcpus || la->vcpu_type || la->have_sig || la->vmm || la->kernel ||
                         la->initrd || la->append || la->have_features))
                return usage_error("measurement options need --ovmf, not --measurement");
        return 0;
}

int cp_amdspd_cmd_launch(int argc, char **argv) {
        static const struct option opts[] = {
                { "secrets-out", required_argument, NULL, O_SECRETS_OUT },
                { "policy", required_argument, NULL, O_POLICY },
                { "host-data", required_argument, NULL, O_HOST_DATA },
                { "vmpl", required_argument, NULL, O_VMPL },
                { "measurement", required_argument, NULL, O_MEASUREMENT },
                { "ovmf", required_argument, NULL, O_OVMF },
                { "mode", required_argument, NULL, O_MODE },
                { "vcpus", required_argument, NULL, O_VCPUS },
                { "vcpu-type", required_argument, NULL, O_VCPU_TYPE },
                { "vcpu-sig", required_argument, NULL, O_VCPU_SIG },
                { "vmm-type", required_argument, NULL, O_VMM_TYPE },
                { "kernel", required_argument, NULL, O_KERNEL },
                { "initrd", required_argument, NULL, O_INITRD },
                { "append", required_argument, NULL, O_APPEND },
                { "guest-features", required_argument, NULL, O_FEATURES },
                { "id-block", required_argument, NULL, O_ID_BLOCK },
                { "id-auth", required_argument, NULL, O_ID_AUTH },
                { "id-key-digest", required_argument, NULL, O_ID_KEY_DIGEST },
                { "author-key-digest", required_argument, NULL, O_AUTHOR_KEY_DIGEST },
                { "family-id", required_argument, NULL, O_FAMILY_ID },
                { "image-id", required_argument, NULL, O_IMAGE_ID },
                { "guest-svn", required_argument, NULL, O_GUEST_SVN },
                CP_AMDSPD_COMMON_OPTIONS,
        };
        launch_args la = { .features = CP_SNP_DEFAULT_GUEST_FEATURES, .l = { .policy = 0x30000 } };
        cp_amdspd_args a;
        int c, r;

        cp_amdspd_args_init(&a, argc, argv);
        while ((c = cp_amdspd_next(&a, opts)) > 0)
                if ((r = launch_option(&la, c, optarg)) != 0)
                        return r;
        if (c < 0)
                return a.exit;
        _cleanup_(cp_amdsp_freep) cp_amdsp *sp = NULL;
        if (cp_amdspd_open(a.state_dir, &sp) < 0)
                return CP_AMDSPD_EXIT_FAILURE;
        uint8_t page[CP_SNP_SECRETS_PAGE_SIZE];
        _cleanup_free_ uint8_t *blk = NULL, *auth = NULL;
        cp_snp_measure_params mp;
        cp_snp_kernel_hashes kh;
        uint32_t h;
        if ((r = launch_check(&la)) != 0 || (la.ovmf && (r = measure_params(&la, &mp, &kh)) != 0) ||
            (r = id_files(&la, &blk, &auth)) != 0)
                return r;
        if (cp_amdsp_launch_guest(sp, &la.l, &h, page) < 0)
                return cp_amdspd_fail("launch");
        r = cp_write_file(la.secrets_out, page, sizeof(page), 0600);
        cp_wipe(page, sizeof(page));
        if (r < 0)
                return cp_amdspd_fail(la.secrets_out);
        printf("%u\n", h);
        return CP_AMDSPD_EXIT_OK;
}
