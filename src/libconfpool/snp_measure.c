/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The SNP launch digest: the PAGE_INFO SHA-384 chain of SNP_LAUNCH_UPDATE,
 * the measured-direct-boot hash table and the whole launch sequence of a
 * guest as sev-snp-measure computes it.
 *
 * Performance: each 4 KiB page costs SHA-384 over the page (33 compression
 * blocks) plus SHA-384 over the 112-byte PAGE_INFO (2 blocks), against 32
 * blocks per page for one SHA-384 over the whole image: ~0.914 of the raw
 * rate is the ceiling.  The two hashes per page use OpenSSL's one-call
 * SHA384_Init/Update/Final on a stack context: a reused EVP_MD_CTX (with a
 * pre-fetched EVP_MD) still costs a provider dispatch per init/update/final,
 * which measured 1.5-2 points slower (bench/bench-measure.c).  Those
 * functions are deprecated in OpenSSL 3 but shipped; the deprecation
 * attribute is suppressed for this file only.  Everything else uses EVP.
 *
 * Pipelining: the chain is sequential, but CONTENTS of page i does not
 * depend on it.  For long runs of NORMAL/VMSA pages (update_pages_pipelined)
 * one helper thread and the calling thread both claim pages from a shared
 * counter and hash their contents into a ring of PIPE_RING digests; the
 * calling thread alone chains, in page order, whenever the next digest is
 * ready, and hashes contents itself otherwise.  The result is the same
 * chain; memory is bounded by the ring (a page more than PIPE_RING ahead
 * of the chain is not claimed).
 */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/sha.h>

#include "basic/fileio.h"
#include "basic/cursor.h"
#include "basic/limits.h"
#include "basic/secure.h"
#include "confpool/snp_measure.h"
#include "ossl/ossl-util.h"

struct cp_snp_ld {
        uint8_t info[CP_SNP_PAGE_INFO_SIZE]; /* PAGE_INFO; [0, 48) is the current LD */
        uint64_t count;
        unsigned threads;      /* 0 auto, 1 single-threaded, 2 pipelined */
        unsigned threads_used; /* most threads any update used */
};

#define PI_DIGEST_CUR 0x00
#define PI_CONTENTS 0x30
#define PI_LENGTH 0x60
#define PI_PAGE_TYPE 0x62
#define PI_IMI 0x63
#define PI_VMPL3 0x64
#define PI_VMPL2 0x65
#define PI_VMPL1 0x66
#define PI_GPA 0x68

int cp_snp_ld_new(const uint8_t *seed, cp_snp_ld **ret) {
        if (!ret)
                return CP_ERROR(CP_EINVAL, "cp_snp_ld_new: NULL argument");
        cp_snp_ld *ld = calloc(1, sizeof(*ld));
        if (!ld)
                return cp_error_oom();
        if (seed)
                memcpy(ld->info + PI_DIGEST_CUR, seed, CP_SNP_LD_SIZE);
        ld->threads_used = 1;
        *ret = ld;
        return 0;
}

cp_snp_ld *cp_snp_ld_free(cp_snp_ld *ld) {
        if (!ld)
                return NULL;
        cp_wipe(ld, sizeof(*ld));
        free(ld);
        return NULL;
}

void cp_snp_ld_get(const cp_snp_ld *ld, uint8_t ret[CP_SNP_LD_SIZE]) {
        memcpy(ret, ld->info + PI_DIGEST_CUR, CP_SNP_LD_SIZE);
}

uint64_t cp_snp_ld_count(const cp_snp_ld *ld) {
        return ld->count;
}

int cp_snp_ld_set_threads(cp_snp_ld *ld, unsigned threads) {
        if (!ld)
                return CP_ERROR(CP_EINVAL, "cp_snp_ld_set_threads: NULL argument");
        if (threads > 2)
                return CP_ERROR(CP_EINVAL, "threads %u: 0 (automatic), 1 or 2", threads);
        ld->threads = threads;
        return 0;
}

unsigned cp_snp_ld_threads_used(const cp_snp_ld *ld) {
        return ld->threads_used;
}

static int sha384(const uint8_t *data, size_t len, uint8_t *out) {
        SHA512_CTX c;
        if (SHA384_Init(&c) != 1 || SHA384_Update(&c, data, len) != 1 || SHA384_Final(out, &c) != 1)
                return CP_ERROR(CP_ECRYPTO, "SHA-384 failed");
        return 0;
}

static bool page_type_valid(cp_snp_page_type t) {
        return t >= CP_SNP_PAGE_NORMAL && t <= CP_SNP_PAGE_CPUID;
}

static bool has_contents(cp_snp_page_type t) {
        return t == CP_SNP_PAGE_NORMAL || t == CP_SNP_PAGE_VMSA;
}

/* Fill everything but DIGEST_CUR and CONTENTS, then chain. */
static int chain(cp_snp_ld *ld, cp_snp_page_type type, bool imi, uint8_t vmpl3, uint8_t vmpl2, uint8_t vmpl1,
                 uint64_t gpa) {
        uint8_t *p = ld->info;
        p[PI_LENGTH] = CP_SNP_PAGE_INFO_SIZE;
        p[PI_LENGTH + 1] = 0;
        p[PI_PAGE_TYPE] = (uint8_t) type;
        p[PI_IMI] = imi ? 1 : 0;
        p[PI_VMPL3] = vmpl3;
        p[PI_VMPL2] = vmpl2;
        p[PI_VMPL1] = vmpl1;
        p[0x67] = 0;
        cp_put_le64(p + PI_GPA, gpa);
        int r = sha384(p, CP_SNP_PAGE_INFO_SIZE, p + PI_DIGEST_CUR);
        if (r < 0)
                return r;
        ld->count++;
        return 0;
}

static int check_gpa(uint64_t gpa) {
        if (gpa & (CP_SNP_PAGE_SIZE - 1))
                return CP_ERROR(CP_EINVAL, "GPA 0x%llx is not page aligned", (unsigned long long) gpa);
        return 0;
}

int cp_snp_ld_update(cp_snp_ld *ld, const cp_snp_page_info *info) {
        if (!ld || !info)
                return CP_ERROR(CP_EINVAL, "cp_snp_ld_update: NULL argument");
        if (!page_type_valid(info->type))
                return CP_ERROR(CP_EINVAL, "unknown page type %d", (int) info->type);
        int r = check_gpa(info->gpa);
        if (r < 0)
                return r;
        memcpy(ld->info + PI_CONTENTS, info->contents, CP_SNP_LD_SIZE);
        return chain(ld, info->type, info->imi_page, info->vmpl3_perms, info->vmpl2_perms, info->vmpl1_perms,
                     info->gpa);
}

static int update_page(cp_snp_ld *ld, cp_snp_page_type type, uint64_t gpa, const uint8_t *page) {
        int r;
        if (has_contents(type)) {
                if ((r = sha384(page, CP_SNP_PAGE_SIZE, ld->info + PI_CONTENTS)) < 0)
                        return r;
        } else
                memset(ld->info + PI_CONTENTS, 0, CP_SNP_LD_SIZE);
        return chain(ld, type, false, 0, 0, 0, gpa);
}

/* ---- pipelined contents hashing ---- */

#define PIPE_RING 256u /* contents digests in flight (12 KiB) */

typedef struct ld_pipe {
        const uint8_t *data;
        size_t n;                     /* pages in the run */
        atomic_size_t next;           /* next page to claim */
        atomic_size_t chained;        /* pages chained so far */
        atomic_int failed;
        atomic_size_t ready[PIPE_RING]; /* page index + 1 whose digest the slot holds */
        uint8_t digest[PIPE_RING][CP_SNP_LD_SIZE];
} ld_pipe;

static unsigned online_cpus(void) {
        cpu_set_t set;
        if (sched_getaffinity(0, sizeof(set), &set) == 0)
                return (unsigned) CPU_COUNT(&set);
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        return n > 0 ? (unsigned) n : 1;
}

static bool use_pipeline(const cp_snp_ld *ld, size_t pages) {
        switch (ld->threads) {
        case 1:
                return false;
        case 2:
                return pages >= 2;
        default:
                return pages >= CP_SNP_PIPELINE_MIN_PAGES && online_cpus() >= 2;
        }
}

/* Claim the lowest unclaimed page below limit. */
static bool pipe_claim(ld_pipe *p, size_t limit, size_t *ret) {
        size_t i = atomic_load_explicit(&p->next, memory_order_relaxed);
        do {
                if (i >= p->n || i >= limit)
                        return false;
        } while (!atomic_compare_exchange_weak_explicit(&p->next, &i, i + 1, memory_order_relaxed,
                                                        memory_order_relaxed));
        *ret = i;
        return true;
}

/* Hash page i into its slot and publish it.  No cp_error here: the helper
 * thread's error state would be lost. */
static bool pipe_hash(ld_pipe *p, size_t i) {
        size_t slot = i % PIPE_RING;
        SHA512_CTX c;
        if (SHA384_Init(&c) != 1 || SHA384_Update(&c, p->data + i * CP_SNP_PAGE_SIZE, CP_SNP_PAGE_SIZE) != 1 ||
            SHA384_Final(p->digest[slot], &c) != 1) {
                atomic_store(&p->failed, 1);
                return false;
        }
        atomic_store_explicit(&p->ready[slot], i + 1, memory_order_release);
        return true;
}

static void *pipe_helper(void *arg) {
        ld_pipe *p = arg;
        unsigned idle = 0;
        while (!atomic_load_explicit(&p->failed, memory_order_relaxed)) {
                size_t i;
                size_t limit = atomic_load_explicit(&p->chained, memory_order_acquire) + PIPE_RING;
                if (pipe_claim(p, limit, &i)) {
                        if (!pipe_hash(p, i))
                                break;
                        idle = 0;
                        continue;
                }
                if (atomic_load_explicit(&p->next, memory_order_relaxed) >= p->n)
                        break; /* everything claimed */
                /* the ring is full: the chaining thread is behind (descheduled) */
                if (++idle > 64)
                        sched_yield();
        }
        return NULL;
}

/* *ret_used: false (and nothing done) if the helper thread could not be
 * created; the caller then hashes single-threaded. */
static int update_pages_pipelined(cp_snp_ld *ld, cp_snp_page_type type, uint64_t gpa, const uint8_t *data,
                                  size_t n, bool *ret_used) {
        ld_pipe *p = calloc(1, sizeof(*p));
        pthread_t helper;
        int r = 0;

        *ret_used = false;
        if (!p)
                return 0; /* fall back: needs no memory */
        p->data = data;
        p->n = n;
        if (pthread_create(&helper, NULL, pipe_helper, p) != 0) {
                free(p);
                return 0;
        }
        *ret_used = true;
        unsigned idle = 0;
        for (size_t c = 0; c < n;) {
                size_t slot = c % PIPE_RING, i;
                if (atomic_load_explicit(&p->ready[slot], memory_order_acquire) == c + 1) {
                        memcpy(ld->info + PI_CONTENTS, p->digest[slot], CP_SNP_LD_SIZE);
                        if ((r = chain(ld, type, false, 0, 0, 0, gpa + (uint64_t) c * CP_SNP_PAGE_SIZE)) < 0)
                                break;
                        c++;
                        atomic_store_explicit(&p->chained, c, memory_order_release);
                        idle = 0;
                        continue;
                }
                if (atomic_load_explicit(&p->failed, memory_order_relaxed)) {
                        r = CP_ERROR(CP_ECRYPTO, "SHA-384 failed");
                        break;
                }
                /* page c is not hashed yet: hash the next unclaimed page
                 * (c itself if the helper has not got to it) */
                if (pipe_claim(p, c + PIPE_RING, &i)) {
                        if (!pipe_hash(p, i)) {
                                r = CP_ERROR(CP_ECRYPTO, "SHA-384 failed");
                                break;
                        }
                        continue;
                }
                /* the helper is hashing page c */
                if (++idle > 64)
                        sched_yield();
        }
        if (r < 0) { /* stop the helper */
                atomic_store(&p->failed, 1);
                atomic_store(&p->next, n);
        }
        pthread_join(helper, NULL);
        cp_wipe(p, sizeof(*p));
        free(p);
        return r;
}

int cp_snp_ld_update_page(cp_snp_ld *ld, cp_snp_page_type type, uint64_t gpa, const uint8_t *page) {
        return cp_snp_ld_update_pages(ld, type, gpa, page, CP_SNP_PAGE_SIZE);
}

int cp_snp_ld_update_pages(cp_snp_ld *ld, cp_snp_page_type type, uint64_t gpa, const uint8_t *data, size_t len) {
        if (!ld)
                return CP_ERROR(CP_EINVAL, "cp_snp_ld_update_pages: NULL argument");
        if (!page_type_valid(type))
                return CP_ERROR(CP_EINVAL, "unknown page type %d", (int) type);
        if (len % CP_SNP_PAGE_SIZE)
                return CP_ERROR(CP_EINVAL, "length %zu is not a multiple of 4096", len);
        if (has_contents(type) && !data && len > 0)
                return CP_ERROR(CP_EINVAL, "page type %d needs page contents", (int) type);
        int r = check_gpa(gpa);
        if (r < 0)
                return r;
        if (len / CP_SNP_PAGE_SIZE > 0 && gpa + (len - CP_SNP_PAGE_SIZE) < gpa)
                return CP_ERROR(CP_EINVAL, "page range wraps the address space");
        if (has_contents(type) && use_pipeline(ld, len / CP_SNP_PAGE_SIZE)) {
                bool used = false;
                r = update_pages_pipelined(ld, type, gpa, data, len / CP_SNP_PAGE_SIZE, &used);
                if (r < 0 || used) {
                        if (used && ld->threads_used < 2)
                                ld->threads_used = 2;
                        return r;
                }
                /* no helper thread could be created: single-threaded below */
        }
        for (size_t off = 0; off < len; off += CP_SNP_PAGE_SIZE) {
                /* data is only dereferenced for types with contents */
                if ((r = update_page(ld, type, gpa + off, has_contents(type) ? data + off : NULL)) < 0)
                        return r;
        }
        return 0;
}

/* ---- kernel hashes ---- */

static const uint8_t GUID_TABLE_HEADER[16] = { 0x06, 0xd6, 0x38, 0x94, 0x22, 0x4f, 0xc9, 0x4c,
                                               0xb4, 0x79, 0xa7, 0x93, 0xd4, 0x11, 0xfd, 0x21 };
static const uint8_t GUID_CMDLINE[16] = { 0xd8, 0x2d, 0xd0, 0x97, 0x20, 0xbd, 0x94, 0x4c,
                                          0xaa, 0x78, 0xe7, 0x71, 0x4d, 0x36, 0xab, 0x2a };
static const uint8_t GUID_INITRD[16] = { 0x31, 0xf7, 0xba, 0x44, 0x2f, 0x3a, 0xd7, 0x4b,
                                         0x9a, 0xf1, 0x41, 0xe2, 0x91, 0x69, 0x78, 0x1d };
static const uint8_t GUID_KERNEL[16] = { 0x37, 0x94, 0xe7, 0x4d, 0xd2, 0xab, 0x7f, 0x42,
                                         0xb8, 0x35, 0xd5, 0xb1, 0x72, 0xd2, 0x04, 0x5b };
#define HASH_ENTRY_SIZE 50u

static int sha256(const void *data, size_t len, uint8_t out[32]) {
        if (EVP_Digest(data, len, out, NULL, EVP_sha256(), NULL) != 1)
                return CP_OSSL_ERROR(CP_ECRYPTO, "SHA-256 failed");
        return 0;
}

int cp_snp_kernel_hashes_compute(const uint8_t *kernel, size_t kernel_len, const uint8_t *initrd, size_t initrd_len,
                                 const char *cmdline, cp_snp_kernel_hashes *ret) {
        if (!ret || (!kernel && kernel_len > 0) || (!initrd && initrd_len > 0))
                return CP_ERROR(CP_EINVAL, "cp_snp_kernel_hashes_compute: NULL argument");
        cp_snp_kernel_hashes h;
        const char *c = cmdline ? cmdline : "";
        int r;
        if ((r = sha256(kernel ? (const void *) kernel : "", kernel_len, h.kernel)) < 0 ||
            (r = sha256(initrd ? (const void *) initrd : "", initrd_len, h.initrd)) < 0 ||
            (r = sha256(c, strlen(c) + 1, h.cmdline)) < 0)
                return r;
        *ret = h;
        return 0;
}

static int sha256_file(const char *path, uint8_t out[32]) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return CP_ERROR(errno == ENOENT ? CP_ENOTFOUND : CP_EIO, "cannot open %s: %s", path, strerror(errno));
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        int r = 0;
        if (!ctx || EVP_DigestInit_ex2(ctx, EVP_sha256(), NULL) != 1) {
                r = CP_OSSL_ERROR(CP_ECRYPTO, "SHA-256 unavailable");
                goto out;
        }
        uint8_t buf[65536];
        char what[CP_ERROR_MESSAGE_MAX];
        snprintf(what, sizeof what, "cannot read %s", path);
        for (;;) {
                size_t n;
                if ((r = cp_read_full(fd, buf, sizeof(buf), what, &n)) < 0)
                        goto out;
                if (n == 0)
                        break;
                if (EVP_DigestUpdate(ctx, buf, n) != 1) {
                        r = CP_OSSL_ERROR(CP_ECRYPTO, "SHA-256 failed");
                        goto out;
                }
        }
        if (EVP_DigestFinal_ex(ctx, out, NULL) != 1)
                r = CP_OSSL_ERROR(CP_ECRYPTO, "SHA-256 failed");
out:
        EVP_MD_CTX_free(ctx);
        close(fd);
        return r;
}

int cp_snp_kernel_hashes_from_files(const char *kernel_path, const char *initrd_path, const char *cmdline,
                                    cp_snp_kernel_hashes *ret) {
        if (!kernel_path || !ret)
                return CP_ERROR(CP_EINVAL, "cp_snp_kernel_hashes_from_files: NULL argument");
        cp_snp_kernel_hashes h;
        const char *c = cmdline ? cmdline : "";
        int r;
        if ((r = sha256_file(kernel_path, h.kernel)) < 0)
                return r;
        if (initrd_path)
                r = sha256_file(initrd_path, h.initrd);
        else
                r = sha256("", 0, h.initrd);
        if (r < 0 || (r = sha256(c, strlen(c) + 1, h.cmdline)) < 0)
                return r;
        *ret = h;
        return 0;
}

static void put_entry(uint8_t *p, const uint8_t guid[16], const uint8_t hash[32]) {
        memcpy(p, guid, 16);
        p[16] = HASH_ENTRY_SIZE;
        p[17] = 0;
        memcpy(p + 18, hash, 32);
}

void cp_snp_kernel_hashes_table(const cp_snp_kernel_hashes *h, uint8_t ret[CP_SNP_HASH_TABLE_PADDED_SIZE]) {
        memset(ret, 0, CP_SNP_HASH_TABLE_PADDED_SIZE);
        memcpy(ret, GUID_TABLE_HEADER, 16);
        ret[16] = CP_SNP_HASH_TABLE_SIZE;
        ret[17] = 0;
        put_entry(ret + 0x12, GUID_CMDLINE, h->cmdline);
        put_entry(ret + 0x12 + HASH_ENTRY_SIZE, GUID_INITRD, h->initrd);
        put_entry(ret + 0x12 + 2 * HASH_ENTRY_SIZE, GUID_KERNEL, h->kernel);
}

/* ---- the whole launch ---- */

int cp_snp_measure_mode_from_name(const char *name, cp_snp_measure_mode *ret) {
        if (!name || !ret)
                return CP_ERROR(CP_EINVAL, "cp_snp_measure_mode_from_name: NULL argument");
        if (!strcmp(name, "snp"))
                *ret = CP_SNP_MODE_SNP;
        else if (!strcmp(name, "snp:ovmf-hash"))
                *ret = CP_SNP_MODE_OVMF_HASH;
        else if (!strcmp(name, "snp:svsm"))
                *ret = CP_SNP_MODE_SVSM;
        else if (!strcmp(name, "sev"))
                *ret = CP_SNP_MODE_SEV;
        else if (!strcmp(name, "seves"))
                *ret = CP_SNP_MODE_SEV_ES;
        else
                return CP_ERROR(CP_EINVAL, "unknown mode '%s' (snp, snp:ovmf-hash, snp:svsm, sev or seves)", name);
        return 0;
}

void cp_snp_measure_params_init(cp_snp_measure_params *p) {
        *p = (cp_snp_measure_params) {
                .mode = CP_SNP_MODE_SNP,
                .vmm = CP_SNP_VMM_QEMU,
                .vcpus = 1,
                .guest_features = CP_SNP_DEFAULT_GUEST_FEATURES,
        };
}

static int section_pages(const cp_ovmf_info *info, uint64_t *total) {
        for (size_t i = 0; i < info->n_sections; i++) {
                const cp_snp_section *s = &info->sections[i];
                bool single = s->type == CP_SNP_SECTION_SECRETS || s->type == CP_SNP_SECTION_CPUID;
                *total += single ? 1 : s->size / CP_SNP_PAGE_SIZE;
        }
        if (*total > CP_MAX_SNP_SECTION_PAGES)
                return CP_ERROR(CP_ETOOBIG, "SEV metadata sections cover %llu pages (limit %u)",
                                (unsigned long long) *total, CP_MAX_SNP_SECTION_PAGES);
        return 0;
}

static int find_section(const cp_ovmf_info *info, cp_snp_section_type t) {
        for (size_t i = 0; i < info->n_sections; i++)
                if (info->sections[i].type == t)
                        return (int) i;
        return -1;
}

/* Build the kernel-hashes page (4 KiB of zeros, table at the RV offset). */
static int kernel_hashes_page(const cp_ovmf_info *info, const cp_snp_kernel_hashes *kh, uint8_t *page) {
        if (find_section(info, CP_SNP_SECTION_KERNEL_HASHES) < 0)
                return CP_ERROR(CP_EFORMAT,
                                "Kernel specified but OVMF metadata doesn't include SNP_KERNEL_HASHES section");
        if (!info->has_hash_table)
                return CP_ERROR(CP_EFORMAT, "Kernel specified but OVMF has no SEV hash table entry");
        size_t off = info->hash_table_gpa & (CP_SNP_PAGE_SIZE - 1);
        if (off > CP_SNP_PAGE_SIZE - CP_SNP_HASH_TABLE_PADDED_SIZE)
                return CP_ERROR(CP_EFORMAT, "SEV hash table at page offset 0x%zx does not fit in its page", off);
        memset(page, 0, CP_SNP_PAGE_SIZE);
        cp_snp_kernel_hashes_table(kh, page + off);
        return 0;
}

/* Measure the metadata sections (sev-snp-measure's snp_update_metadata_pages). */
static int measure_sections(cp_snp_ld *ld, const cp_ovmf_info *info, cp_snp_vmm_type vmm, const uint8_t *khpage) {
        int r = 0;
        for (size_t i = 0; i < info->n_sections && r >= 0; i++) {
                const cp_snp_section *s = &info->sections[i];
                switch (s->type) {
                case CP_SNP_SECTION_SEC_MEM:
                        r = cp_snp_ld_update_pages(ld, vmm == CP_SNP_VMM_GCE ? CP_SNP_PAGE_UNMEASURED : CP_SNP_PAGE_ZERO,
                                                   s->gpa, NULL, s->size);
                        break;
                case CP_SNP_SECTION_SECRETS:
                        r = update_page(ld, CP_SNP_PAGE_SECRETS, s->gpa, NULL);
                        break;
                case CP_SNP_SECTION_CPUID:
                        if (vmm != CP_SNP_VMM_EC2)
                                r = update_page(ld, CP_SNP_PAGE_CPUID, s->gpa, NULL);
                        break;
                case CP_SNP_SECTION_SVSM_CAA:
                        r = cp_snp_ld_update_pages(ld, CP_SNP_PAGE_ZERO, s->gpa, NULL, s->size);
                        break;
                case CP_SNP_SECTION_KERNEL_HASHES:
                        if (khpage) {
                                if (s->size != CP_SNP_PAGE_SIZE)
                                        return CP_ERROR(CP_EFORMAT, "SNP_KERNEL_HASHES section size 0x%x is not 4096",
                                                        s->size);
                                r = update_page(ld, CP_SNP_PAGE_NORMAL, s->gpa, khpage);
                        } else
                                r = cp_snp_ld_update_pages(ld, CP_SNP_PAGE_ZERO, s->gpa, NULL, s->size);
                        break;
                }
        }
        /* EC2 measures the CPUID page(s) last. */
        if (vmm == CP_SNP_VMM_EC2)
                for (size_t i = 0; i < info->n_sections && r >= 0; i++)
                        if (info->sections[i].type == CP_SNP_SECTION_CPUID)
                                r = update_page(ld, CP_SNP_PAGE_CPUID, info->sections[i].gpa, NULL);
        return r;
}

static int measure_vmsas(cp_snp_ld *ld, const cp_snp_measure_params *p, cp_snp_vmsa_kind kind, uint32_t bsp_eip,
                         uint32_t ap_eip, uint64_t features) {
        uint8_t bsp[CP_SNP_PAGE_SIZE], ap[CP_SNP_PAGE_SIZE];
        int r = cp_snp_vmsa_build(kind, p->vmm, bsp_eip, p->vcpu_sig, features, bsp);
        if (r >= 0 && p->vcpus > 1)
                r = cp_snp_vmsa_build(kind, p->vmm, ap_eip, p->vcpu_sig, features, ap);
        if (r >= 0)
                r = update_page(ld, CP_SNP_PAGE_VMSA, CP_SNP_VMSA_GPA, bsp);
        /* All APs have the same VMSA: hash it once. */
        cp_snp_page_info info = { .type = CP_SNP_PAGE_VMSA, .gpa = CP_SNP_VMSA_GPA };
        if (r >= 0 && p->vcpus > 1)
                r = sha384(ap, CP_SNP_PAGE_SIZE, info.contents);
        for (unsigned i = 1; i < p->vcpus && r >= 0; i++)
                r = cp_snp_ld_update(ld, &info);
        return r;
}

static int check_params(const cp_snp_measure_params *p) {
        if (!p->ovmf || p->ovmf_len == 0)
                return CP_ERROR(CP_EINVAL, "no firmware image given");
        if (p->vmm != CP_SNP_VMM_QEMU && p->vmm != CP_SNP_VMM_EC2 && p->vmm != CP_SNP_VMM_GCE)
                return CP_ERROR(CP_EINVAL, "unknown VMM type %d", (int) p->vmm);
        if (p->mode != CP_SNP_MODE_SNP && p->mode != CP_SNP_MODE_OVMF_HASH && p->mode != CP_SNP_MODE_SVSM &&
            p->mode != CP_SNP_MODE_SEV && p->mode != CP_SNP_MODE_SEV_ES)
                return CP_ERROR(CP_EINVAL, "unknown measurement mode %d", (int) p->mode);
        if (p->ovmf_hash && p->mode != CP_SNP_MODE_SNP)
                return CP_ERROR(CP_EINVAL, "a precomputed OVMF hash is only accepted in mode snp");
        if (p->mode != CP_SNP_MODE_OVMF_HASH && p->mode != CP_SNP_MODE_SEV &&
            (p->vcpus < 1 || p->vcpus > CP_SNP_MAX_VCPUS))
                return CP_ERROR(CP_EINVAL, "vCPU count %u outside 1..%u", p->vcpus, CP_SNP_MAX_VCPUS);
        if (p->mode == CP_SNP_MODE_SVSM) {
                if (p->vmm != CP_SNP_VMM_QEMU)
                        return CP_ERROR(CP_EINVAL, "mode snp:svsm supports only the QEMU VMM type");
                if (!p->svsm || p->svsm_len == 0)
                        return CP_ERROR(CP_EINVAL, "mode snp:svsm needs an SVSM image");
                if (p->vars_size == 0 || p->vars_size % CP_SNP_PAGE_SIZE)
                        return CP_ERROR(CP_EINVAL, "mode snp:svsm needs a non-zero, page-aligned vars size");
                if (p->kernel_hashes)
                        return CP_ERROR(CP_EINVAL, "mode snp:svsm does not support measured direct boot");
        }
        return 0;
}

static int measure_snp(cp_snp_ld *ld, const cp_snp_measure_params *p, const cp_ovmf_info *info) {
        uint8_t khpage[CP_SNP_PAGE_SIZE];
        uint64_t pages = 0;
        int r;
        if (!info->has_reset_block)
                return CP_ERROR(CP_EFORMAT, "Can't find SEV_ES_RESET_BLOCK_GUID entry in OVMF table");
        if (p->vcpus > 1 && info->ap_reset_eip == 0)
                return CP_ERROR(CP_EFORMAT, "AP reset EIP is 0 but %u vCPUs were requested", p->vcpus);
        if ((r = section_pages(info, &pages)) < 0)
                return r;
        if (p->kernel_hashes && (r = kernel_hashes_page(info, p->kernel_hashes, khpage)) < 0)
                return r;
        if (!p->ovmf_hash &&
            (r = cp_snp_ld_update_pages(ld, CP_SNP_PAGE_NORMAL, UINT64_C(0x100000000) - p->ovmf_len, p->ovmf,
                                        p->ovmf_len)) < 0)
                return r;
        if ((r = measure_sections(ld, info, p->vmm, p->kernel_hashes ? khpage : NULL)) < 0)
                return r;
        return measure_vmsas(ld, p, CP_SNP_VMSA_RESET, CP_SNP_BSP_EIP, info->ap_reset_eip, p->guest_features);
}

static int measure_svsm(cp_snp_ld *ld, const cp_snp_measure_params *p) {
        cp_ovmf_info svsm;
        uint64_t pages = 0;
        int r = cp_ovmf_parse(p->svsm, p->svsm_len, &svsm);
        if (r < 0)
                return cp_error_wrap("SVSM image");
        if (!svsm.has_svsm_info)
                return CP_ERROR(CP_EFORMAT, "SVSM image has no SVSM info entry in its footer table");
        if ((r = section_pages(&svsm, &pages)) < 0)
                return r;
        uint64_t ovmf_gpa = UINT64_C(0x100000000) - p->ovmf_len;
        if (p->vars_size > ovmf_gpa || p->svsm_len > ovmf_gpa - p->vars_size)
                return CP_ERROR(CP_EINVAL, "OVMF, vars and SVSM images do not fit below 4 GiB");
        uint64_t svsm_gpa = ovmf_gpa - p->vars_size - p->svsm_len;
        uint64_t entry = svsm_gpa + svsm.svsm_entry_offset;
        if (entry > UINT32_MAX)
                return CP_ERROR(CP_EFORMAT, "SVSM entry point 0x%llx beyond 4 GiB", (unsigned long long) entry);
        if ((r = cp_snp_ld_update_pages(ld, CP_SNP_PAGE_NORMAL, ovmf_gpa, p->ovmf, p->ovmf_len)) < 0 ||
            (r = cp_snp_ld_update_pages(ld, CP_SNP_PAGE_NORMAL, svsm_gpa, p->svsm, p->svsm_len)) < 0 ||
            (r = measure_sections(ld, &svsm, CP_SNP_VMM_QEMU, NULL)) < 0)
                return r;
        return measure_vmsas(ld, p, CP_SNP_VMSA_SVSM, (uint32_t) entry, (uint32_t) entry, 0x1);
}

int cp_snp_measure(const cp_snp_measure_params *p, uint8_t ret[CP_SNP_LD_SIZE]) {
        return cp_snp_measure_ex(p, ret, NULL);
}

int cp_snp_measure_ex(const cp_snp_measure_params *p, uint8_t ret[CP_SNP_LD_SIZE], unsigned *ret_threads_used) {
        if (!p || !ret)
                return CP_ERROR(CP_EINVAL, "cp_snp_measure: NULL argument");
        int r = check_params(p);
        if (r < 0)
                return r;
        if (p->mode == CP_SNP_MODE_SEV || p->mode == CP_SNP_MODE_SEV_ES)
                return CP_ERROR(CP_EINVAL, "SEV and SEV-ES digests are SHA-256: use cp_sev_measure()");
        cp_ovmf_info info;
        if ((r = cp_ovmf_parse(p->ovmf, p->ovmf_len, &info)) < 0)
                return r;
        cp_snp_ld *ld = NULL;
        if ((r = cp_snp_ld_new(p->mode == CP_SNP_MODE_SNP ? p->ovmf_hash : NULL, &ld)) < 0)
                return r;
        if ((r = cp_snp_ld_set_threads(ld, p->threads)) < 0) {
                cp_snp_ld_free(ld);
                return r;
        }
        switch (p->mode) {
        case CP_SNP_MODE_OVMF_HASH:
                r = cp_snp_ld_update_pages(ld, CP_SNP_PAGE_NORMAL, UINT64_C(0x100000000) - p->ovmf_len, p->ovmf,
                                           p->ovmf_len);
                break;
        case CP_SNP_MODE_SNP:
                r = measure_snp(ld, p, &info);
                break;
        case CP_SNP_MODE_SVSM:
                r = measure_svsm(ld, p);
                break;
        default:
                r = CP_ERROR(CP_EINTERNAL, "unreachable mode");
                break;
        }
        if (r >= 0) {
                cp_snp_ld_get(ld, ret);
                if (ret_threads_used)
                        *ret_threads_used = cp_snp_ld_threads_used(ld);
        }
        cp_snp_ld_free(ld);
        return r;
}

/* ---- pre-SNP SEV / SEV-ES (SHA-256 over the launched bytes) ---- */

int cp_sev_measure(const cp_snp_measure_params *p, uint8_t ret[CP_SEV_LD_SIZE]) {
        if (!p || !ret)
                return CP_ERROR(CP_EINVAL, "cp_sev_measure: NULL argument");
        int r = check_params(p);
        if (r < 0)
                return r;
        if (p->mode != CP_SNP_MODE_SEV && p->mode != CP_SNP_MODE_SEV_ES)
                return CP_ERROR(CP_EINVAL, "cp_sev_measure: mode must be sev or seves");
        cp_ovmf_info info;
        if ((r = cp_ovmf_parse(p->ovmf, p->ovmf_len, &info)) < 0)
                return r;
        if (p->kernel_hashes && (!info.has_hash_table || info.hash_table_gpa == 0))
                return CP_ERROR(CP_EFORMAT, "Kernel specified but OVMF doesn't support kernel/initrd/cmdline measurement");
        bool es = p->mode == CP_SNP_MODE_SEV_ES;
        if (es && !info.has_reset_block)
                return CP_ERROR(CP_EFORMAT, "Can't find SEV_ES_RESET_BLOCK_GUID entry in OVMF table");
        if (es && p->vcpus > 1 && info.ap_reset_eip == 0)
                return CP_ERROR(CP_EFORMAT, "AP reset EIP is 0 but %u vCPUs were requested", p->vcpus);
        uint8_t bsp[CP_SNP_PAGE_SIZE], ap[CP_SNP_PAGE_SIZE], table[CP_SNP_HASH_TABLE_PADDED_SIZE];
        if (es && ((r = cp_snp_vmsa_build(CP_SNP_VMSA_RESET, p->vmm, CP_SNP_BSP_EIP, p->vcpu_sig, 0, bsp)) < 0 ||
                   (r = cp_snp_vmsa_build(CP_SNP_VMSA_RESET, p->vmm, info.ap_reset_eip, p->vcpu_sig, 0, ap)) < 0))
                return r;
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        bool ok = ctx && EVP_DigestInit_ex2(ctx, EVP_sha256(), NULL) == 1 &&
                  EVP_DigestUpdate(ctx, p->ovmf, p->ovmf_len) == 1;
        if (ok && p->kernel_hashes) {
                cp_snp_kernel_hashes_table(p->kernel_hashes, table);
                ok = EVP_DigestUpdate(ctx, table, sizeof(table)) == 1;
        }
        for (unsigned i = 0; ok && es && i < p->vcpus; i++)
                ok = EVP_DigestUpdate(ctx, i == 0 ? bsp : ap, CP_SNP_PAGE_SIZE) == 1;
        ok = ok && EVP_DigestFinal_ex(ctx, ret, NULL) == 1;
        EVP_MD_CTX_free(ctx);
        if (!ok)
                return CP_OSSL_ERROR(CP_ECRYPTO, "SHA-256 failed");
        return 0;
}
