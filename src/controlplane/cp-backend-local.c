/* SPDX-License-Identifier: Apache-2.0 */
/* The local compute backend: see cp-backend-local.h and docs/nodes.md. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <ftw.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "basic/clock.h"
#include "basic/cleanup.h"
#include "basic/codec.h"
#include "basic/cursor.h"
#include "basic/fileio.h"
#include "basic/secure.h"
#include "confpool/snp_measure.h"
#include "confpool/tdx_measure.h"
#include "controlplane/cp-backend-local.h"
#include "controlplane/cp-rules.h"
#include "emu/amdsp.h"
#include "emu/tdx_emu.h"
#include "service/httpd.h"
#include "node/azure_cvm.h"
#include "node/node_evlog.h"
#include "node/node_tdxboot.h"
#include "service/proc.h"
#include "node/vtpm.h"

#define MAX_HOSTS 16
#define MAX_BOOT_WORKERS 8
#define PATH_MAX_ 4096

/* A host's kind: an SNP generation (cp_snp_generation), or a TDX one. */
#define KIND_TDX_SPR 100 /* Sapphire Rapids (DCesv5 / ECesv5) */
#define KIND_TDX_EMR 101 /* Emerald Rapids (DCesv6 / ECesv6) */
#define KIND_IS_TDX(k) ((k) == KIND_TDX_SPR || (k) == KIND_TDX_EMR)
#define KIND_NONE 200    /* a non-confidential size: no TEE (the vTPM only, as Trusted Launch) */

typedef struct host {
        char name[32];
        int gen;         /* the kind: cp_snp_generation or KIND_TDX_* */
        cp_amdsp *sp;    /* SNP: the software AMD-SP */
        cp_tdx_host *td; /* TDX: the software TDX module + QE (its PCS: the backend's) */
        cp_tdx_imds *imds; /* TDX: the host's quote endpoint for Azure TDX CVMs (started on first use) */
        uint16_t imds_deferred;    /* its kept port, held by another process: tried again (deferred_retry) */
        long long imds_tried_at;   /* cp_proc_clock_ms of the last try */
        char sock[PATH_MAX_];
        int listen_fd;
        pthread_t thread;
        atomic_bool running; /* cleared by local_free while host_thread polls it */
        unsigned nodes;
} host;

/* A node's boot: queued by create_node (or recovery), run by a boot
 * worker outside the backend's lock, then up (agent running) or failed.
 * While QUEUED or BOOTING only the worker touches the node's processes. */
typedef enum node_phase {
        NODE_QUEUED,
        NODE_BOOTING,
        NODE_UP,
        NODE_FAILED,
        NODE_STOPPED, /* stop_node: no processes; its directory (disk, vTPM) kept, the file "stopped" says so */
} node_phase;

typedef struct node {
        char name[64];
        char handle[128];
        char dir[1200];
        int host;
        pid_t agent, swtpm;
        uint16_t tpm_port; /* swtpm's server port (its TPM2_Shutdown at the stop) */
        int exit_status; /* -1 while running */
        node_phase phase;
        bool cancel;  /* deleted (or the backend freed) while queued or booting */
        bool reboot;  /* queued by restart recovery */
        bool adopted; /* left running by a previous daemon and kept: agent and
                       * swtpm are not our children (liveness: cp_proc_matches) */
        char *pool_id, *vm_size, *image; /* the spec, owned */
        char version[24];                /* the spec's Kubernetes version ("" none) */
        bool confidential;
        /* TDX nodes: the TD on its host (in this daemon's memory) and its
         * emulated guest channel (the socket the agent talks to) */
        cp_tdx_td *td;
        cp_tdx_emu tdemu;
        cp_tdx_chan *tdchan;
        long long t_queued; /* Unix ms (bootTimes "queued") */
        struct node *next;
        struct node *qnext; /* the boot queue */
} node;

typedef struct local_backend {
        cp_backend base;
        cp_local_options o;
        char state_dir[1024], hosts_dir[1024], agent[PATH_MAX_], swtpm[PATH_MAX_], ovmf[PATH_MAX_];
        char attestd[512], cp_url[512];
        char cp_ca[PATH_MAX_]; /* the CA of an https control plane ("": none) */
        pthread_mutex_t lock;
        host hosts[MAX_HOSTS];
        size_t n_hosts;
        node *nodes;
        bool stop;              /* lock held: the workers end */
        bool detaching;         /* lock held: cp_backend_local_detach runs (boots stop, nothing written) */
        /* the boot workers: create_node only queues (it must not block) */
        pthread_cond_t work;    /* a boot was queued, or stop */
        pthread_cond_t booted;  /* a boot ended */
        node *queue_head, *queue_tail;
        pthread_t workers[MAX_BOOT_WORKERS];
        size_t n_workers;
        /* the pre-provisioned vTPMs (cp_local_options.vtpm_pool), under lock */
        char pool_dir[1100];
        pthread_t pool_workers[MAX_BOOT_WORKERS];
        size_t n_pool_workers;
        unsigned pool_ready, pool_busy;
        pthread_cond_t pool_cond; /* a state was taken, or stop */
        unsigned booting;          /* boot workers inside boot_node */
        long long last_boot_ms;    /* when the last boot ended (now_ms) */
        /* the port pairs of swtpms starting (picked, not yet listening):
         * free_port skips them, so that boots start their swtpms in
         * parallel (issue 19: the lock was held across the spawn and the
         * wait for the listen) */
        pthread_mutex_t port_lock;
        uint16_t starting[2 * MAX_BOOT_WORKERS];
        /* expected measurements of the node images (every register and
         * heartbeat asks; images never change once written) */
        struct expected_entry {
                char image[128];
                int gen;
                unsigned vcpus;
                uint8_t digest[48];
        } expected[16];
        size_t n_expected, next_expected;
        /* the stack's emulated Intel (one root, one PCS; hosts/tdx/) served
         * to the attestation service on a port kept in hosts/tdx/pcs.port */
        cp_tdx_pcs *tdx_pcs;
        cp_httpd *tdx_httpd;
        char tdx_url[64];
        uint16_t tdx_port;     /* kept in hosts/tdx/pcs.port */
        bool tdx_deferred;     /* the kept port held by another process: tdx_pcs_retry */
        long long tdx_listen_at;
        /* what every boot derives from its image's firmware file
         * (image_firmware), while the file is the same (path, device, inode,
         * size, mtime, ctime): its SHA-256 and length (measured boot) and
         * its SNP launch digests per generation and vCPU count (issue 19: a
         * 2 MiB read, hash and page-by-page SHA-384 per boot, twice); a few
         * files (images), the least recently used one replaced */
        struct fw_cache {
                char path[PATH_MAX_ + 16];
                struct stat id;
                unsigned long long used;
                bool valid, has_sha;
                uint8_t sha256[32];
                size_t len;
                struct {
                        int gen;
                        unsigned vcpus;
                        uint8_t ld[48];
                } ld[8];
                size_t n_ld;
        } fw[4];
        unsigned long long fw_uses;
} local_backend;

/* ---- hosts ---------------------------------------------------------------- */

static void *host_thread(void *ud) {
        host *h = ud;
        for (;;) {
                struct pollfd p = {.fd = h->listen_fd, .events = POLLIN};
                int n = poll(&p, 1, 100);
                if (!atomic_load(&h->running))
                        break;
                if (n <= 0)
                        continue;
                int fd = accept4(h->listen_fd, NULL, NULL, SOCK_CLOEXEC);
                if (fd < 0)
                        continue;
                if (cp_amdsp_serve_conn(h->sp, fd) < 0)
                        cp_error_clear();
                close(fd);
        }
        return NULL;
}

static const char *gen_name(int g) {
        if (g == KIND_NONE)
                return "std";
        if (KIND_IS_TDX(g))
                return g == KIND_TDX_EMR ? "emr" : "spr";
        return g == CP_SNP_GEN_GENOA ? "genoa" : g == CP_SNP_GEN_TURIN ? "turin" : "milan";
}

/* ---- the software TDX platform (issue 16) ----------------------------- */

/* The port kept in file path (a decimal line written when it was first
 * bound), 0 when there is none or it is not a port. */
static uint16_t kept_port(const char *path) {
        _cleanup_free_ uint8_t *buf = NULL;
        size_t len = 0;
        char t[16] = {0};
        if (cp_read_file(path, sizeof t, &buf, &len) < 0 || len == 0 || len >= sizeof t) {
                cp_error_clear();
                return 0;
        }
        memcpy(t, buf, len);
        unsigned long port = strtoul(t, NULL, 10);
        return port > 65535 ? 0 : (uint16_t) port;
}

/* The PCS's listener on its kept port (hosts/tdx/pcs.port, the URL attestd
 * was given; a free one the first time); lock held. */
static int tdx_pcs_listen(local_backend *b) {
        char f[PATH_MAX_ + 32];
        snprintf(f, sizeof f, "%s/tdx/pcs.port", b->hosts_dir);
        b->tdx_listen_at = (long long) cp_proc_clock_ms();
        int r = cp_tdx_pcs_start(b->tdx_pcs, "127.0.0.1", b->tdx_port, &b->tdx_httpd);
        if (r < 0)
                return CP_ERROR(r, "software TDX PCS: cannot listen on 127.0.0.1:%u (kept in %s: the attestation "
                                   "service fetches collateral there)", b->tdx_port, f);
        b->tdx_port = cp_httpd_port(b->tdx_httpd);
        snprintf(b->tdx_url, sizeof b->tdx_url, "http://127.0.0.1:%u", b->tdx_port);
        char txt[16];
        int n = snprintf(txt, sizeof txt, "%u\n", b->tdx_port);
        if (b->tdx_deferred)
                fprintf(stderr, "local backend: software TDX PCS: listening on its kept port %u again\n", b->tdx_port);
        b->tdx_deferred = false;
        return cp_write_file(f, txt, (size_t) n, 0600);
}

/* The PCS of the stack, opened (created on first use) and served on its
 * kept port; lock held.  A kept port another process holds (a leader
 * deposed while paused keeps its sockets until it runs again and detaches,
 * issues 16 + 17) defers the listener, not the platform: the hosts, their
 * modules and the TDs they adopt need pcs.json only; the listener is tried
 * again at the next call and once a second (deferred_retry). */
static int tdx_platform(local_backend *b) {
        char dir[PATH_MAX_], f[PATH_MAX_ + 32];
        snprintf(dir, sizeof dir, "%s/tdx", b->hosts_dir);
        if (!b->tdx_pcs) {
                int r = cp_tdx_pcs_open(dir, NULL, &b->tdx_pcs);
                if (r < 0)
                        return cp_error_wrap("software TDX PCS");
                snprintf(f, sizeof f, "%s/pcs.port", dir);
                b->tdx_port = kept_port(f);
                snprintf(b->tdx_url, sizeof b->tdx_url, "http://127.0.0.1:%u", b->tdx_port);
                _cleanup_free_ char *pem = NULL;
                size_t pem_len = 0;
                snprintf(f, sizeof f, "%s/root.pem", dir);
                if ((r = cp_tdx_pcs_root_pem(b->tdx_pcs, &pem, &pem_len)) < 0 ||
                    (r = cp_write_file(f, pem, pem_len, 0644)) < 0) {
                        b->tdx_pcs = cp_tdx_pcs_free(b->tdx_pcs);
                        return r;
                }
        }
        int r = b->tdx_httpd ? 0 : tdx_pcs_listen(b);
        if (r >= 0)
                return 0;
        if (!b->tdx_port) { /* no port kept: nothing to wait for */
                b->tdx_pcs = cp_tdx_pcs_free(b->tdx_pcs);
                return r;
        }
        if (!b->tdx_deferred)
                fprintf(stderr, "local backend: %s; the platform is up without it, listening tried again every "
                                "second\n", cp_error_message());
        cp_error_clear();
        b->tdx_deferred = true;
        return 0;
}

static int host_imds(local_backend *b, host *h, uint16_t *ret_port);

/* Deferred listeners (the PCS's, the hosts' quote endpoints) tried again,
 * each at most once a second; lock held. */
static void deferred_retry(local_backend *b) {
        long long now = (long long) cp_proc_clock_ms();
        if (b->tdx_pcs && !b->tdx_httpd && now - b->tdx_listen_at >= 1000 && tdx_pcs_listen(b) < 0)
                cp_error_clear();
        for (size_t i = 0; i < b->n_hosts; i++)
                if (b->hosts[i].imds_deferred && now - b->hosts[i].imds_tried_at >= 1000 &&
                    host_imds(b, &b->hosts[i], NULL) < 0)
                        cp_error_clear();
}

/* A TDX host: a platform of the stack's PCS, kept in hosts/host-<gen>-<i>/;
 * Emerald Rapids hosts have their own FMSPC (c0806f000000, Sapphire
 * Rapids' is the PCS's 90c06f000000), so verifiers fetch and cache TCB
 * Info per FMSPC (a host kept before keeps the FMSPC it has). */
static int tdx_host_start(local_backend *b, int gen, unsigned idx, host *h) {
        static const uint8_t emr[6] = {0xc0, 0x80, 0x6f, 0x00, 0x00, 0x00};
        cp_tdx_host_config cfg = {0};
        char dir[PATH_MAX_];
        if (gen == KIND_TDX_EMR)
                memcpy(cfg.fmspc, emr, 6);
        memset(h, 0, sizeof *h);
        h->listen_fd = -1;
        h->gen = gen;
        snprintf(h->name, sizeof h->name, "host-%s-%u", gen_name(gen), idx);
        snprintf(dir, sizeof dir, "%s/%s", b->hosts_dir, h->name);
        int r = tdx_platform(b);
        if (r < 0)
                return r;
        if ((r = cp_tdx_host_open(b->tdx_pcs, dir, &cfg, &h->td)) < 0)
                return cp_error_wrap("TDX host %s", h->name);
        return 0;
}

/* A TDX host's TCB is UpToDate in the PCS's current TCB Info: where new
 * TDX nodes are placed (after a TCB recovery, not on a host left behind). */
static bool tdx_host_current(local_backend *b, const host *h) {
        cp_tdx_tcb t;
        cp_tdx_host_tcb(h->td, &t);
        return cp_tdx_pcs_tcb_status(b->tdx_pcs, &t) == CP_TDX_TCB_UP_TO_DATE;
}

/* Default TCBs of freshly created hosts (typical released firmware). */
static cp_snp_tcb default_tcb(cp_snp_generation g) {
        if (g == CP_SNP_GEN_GENOA)
                return (cp_snp_tcb){.bl = 9, .tee = 0, .snp = 21, .ucode = 72};
        return (cp_snp_tcb){.bl = 4, .tee = 0, .snp = 22, .ucode = 213};
}

static int host_start(local_backend *b, int gen, unsigned idx, host *h) {
        char dir[PATH_MAX_];
        if (KIND_IS_TDX(gen))
                return tdx_host_start(b, gen, idx, h);
        if (gen == KIND_NONE) { /* a host without a TEE: nothing to start */
                memset(h, 0, sizeof *h);
                h->listen_fd = -1;
                h->gen = gen;
                snprintf(h->name, sizeof h->name, "host-%s-%u", gen_name(gen), idx);
                return 0;
        }
        memset(h, 0, sizeof *h);
        h->listen_fd = -1;
        h->gen = gen;
        snprintf(h->name, sizeof h->name, "host-%s-%u", gen_name(gen), idx);
        snprintf(dir, sizeof dir, "%s/%s", b->hosts_dir, h->name);
        /* hosts of one generation share its ARK/ASK (as AMD's chips do) and
         * differ in chip ID and VCEKs: the first one creates them */
        char ca[PATH_MAX_];
        snprintf(ca, sizeof ca, "%s/host-%s-0", b->hosts_dir, gen_name(gen));
        cp_amdsp_config cfg = {.generation = (cp_snp_generation) gen, .tcb = default_tcb((cp_snp_generation) gen),
                               .ca_dir = idx > 0 ? ca : NULL};
        int r = cp_amdsp_open(dir, &cfg, &h->sp);
        if (r < 0)
                return r;
        int n = snprintf(h->sock, sizeof h->sock, "%s/nodes/.sp-%s.sock", b->state_dir, h->name);
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        if (n < 0 || (size_t) n >= sizeof sa.sun_path) {
                h->sp = cp_amdsp_free(h->sp);
                return CP_ERROR(CP_ETOOBIG, "socket path too long: %s", h->sock);
        }
        memcpy(sa.sun_path, h->sock, (size_t) n + 1);
        unlink(h->sock);
        h->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (h->listen_fd < 0 || bind(h->listen_fd, (struct sockaddr *) &sa, sizeof sa) < 0 ||
            listen(h->listen_fd, 64) < 0) {
                r = CP_ERROR(CP_EIO, "AMD-SP socket %s: %s", h->sock, strerror(errno));
                if (h->listen_fd >= 0)
                        close(h->listen_fd);
                h->sp = cp_amdsp_free(h->sp);
                return r;
        }
        atomic_store(&h->running, true);
        if (pthread_create(&h->thread, NULL, host_thread, h) != 0) {
                atomic_store(&h->running, false);
                close(h->listen_fd);
                h->sp = cp_amdsp_free(h->sp);
                return CP_ERROR(CP_EINTERNAL, "cannot start the AMD-SP thread");
        }
        return 0;
}

/* Opens (creating on first use) the hosts of a generation; lock held. */
static int hosts_of(local_backend *b, int gen, size_t *ret_first) {
        for (size_t i = 0; i < b->n_hosts; i++)
                if (b->hosts[i].gen == gen) {
                        *ret_first = i;
                        return 0;
                }
        unsigned n = b->o.hosts_per_generation ? b->o.hosts_per_generation : 2;
        if (b->n_hosts + n > MAX_HOSTS)
                return CP_ERROR(CP_ETOOBIG, "too many hosts");
        size_t first = b->n_hosts;
        for (unsigned i = 0; i < n; i++) {
                int r = host_start(b, gen, i, &b->hosts[b->n_hosts]);
                if (r < 0)
                        return r;
                b->n_hosts++;
        }
        *ret_first = first;
        return 0;
}

/* The host kind of a size: TDX sizes (DCes/ECes) on Sapphire Rapids (v5)
 * or Emerald Rapids (v6); the others on Genoa (v6) or Milan (v5). */
static int size_gen(const char *vm_size) {
        bool v6 = vm_size && strstr(vm_size, "_v6");
        cp_tee t = vm_size && *vm_size ? cp_tee_from_size_name(vm_size) : CP_TEE_SEV_SNP;
        if (t == CP_TEE_TDX)
                return v6 ? KIND_TDX_EMR : KIND_TDX_SPR;
        if (t == CP_TEE_NONE) /* general purpose (and ARM64) sizes: no TEE evidence at all */
                return KIND_NONE;
        return v6 ? CP_SNP_GEN_GENOA : CP_SNP_GEN_MILAN;
}

/* vCPUs from the size name: the digits after the family letters. */
static unsigned size_vcpus(const char *vm_size) {
        const char *p = vm_size ? strchr(vm_size, '_') : NULL;
        if (!p)
                return 2;
        while (*p && (*p < '0' || *p > '9'))
                p++;
        unsigned v = (unsigned) strtoul(p, NULL, 10);
        return v >= 1 && v <= 64 ? v : 2;
}

/* ---- the node image ------------------------------------------------------- */

/* images/<version>/{bootloader,kernel,initrd,cmdline}: small deterministic
 * stand-ins for a real node image, generated on first use. */
static int image_dir(local_backend *b, const char *image, char *out, size_t size) {
        char safe[128];
        size_t j = 0;
        for (const char *p = image && *image ? image : "default"; *p && j < sizeof safe - 1; p++)
                safe[j++] = (char) ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                                                    *p == '.' || *p == '-'
                                            ? *p
                                            : '_');
        safe[j] = 0;
        snprintf(out, size, "%s/images/%s", b->state_dir, safe);
        char f[PATH_MAX_ + 32];
        snprintf(f, sizeof f, "%s/cmdline", out);
        if (access(f, R_OK) == 0)
                return 0;
        char d[PATH_MAX_];
        snprintf(d, sizeof d, "%s/images", b->state_dir);
        if ((mkdir(d, 0755) < 0 && errno != EEXIST) || (mkdir(out, 0755) < 0 && errno != EEXIST))
                return CP_ERROR(CP_EIO, "cannot create %s: %s", out, strerror(errno));
        static const char *const parts[] = {"bootloader", "kernel", "initrd"};
        static const size_t sizes[] = {16384, 65536, 32768};
        for (size_t i = 0; i < 3; i++) {
                uint8_t *buf = malloc(sizes[i]);
                if (!buf)
                        return cp_error_oom();
                /* SHA-256 counter stream seeded by part and image version */
                for (size_t off = 0; off < sizes[i]; off += 32) {
                        char seed[256];
                        int n = snprintf(seed, sizeof seed, "confpool-node-%s:%s:%zu", parts[i], safe, off);
                        uint8_t blk[32];
                        SHA256((const uint8_t *) seed, (size_t) n, blk);
                        memcpy(buf + off, blk, sizes[i] - off < 32 ? sizes[i] - off : 32);
                }
                snprintf(f, sizeof f, "%s/%s", out, parts[i]);
                /* the kernel is an EFI (PE) image, as a real one: TDX measures its Authenticode digest */
                uint8_t *pe = NULL;
                size_t pe_len = sizes[i];
                int r = i == 1 ? cp_node_pe_wrap(buf, sizes[i], &pe, &pe_len) : 0;
                if (r >= 0)
                        r = cp_write_file(f, pe ? pe : buf, pe_len, 0644);
                free(pe);
                free(buf);
                if (r < 0)
                        return r;
        }
        char cmd[256];
        int n = snprintf(cmd, sizeof cmd, "console=ttyS0 root=/dev/mapper/cproot ro confpool.image=%s", safe);
        snprintf(f, sizeof f, "%s/cmdline", out);
        return cp_write_file(f, cmd, (size_t) n, 0644);
}

static int read_all(const char *dir, const char *name, uint8_t **ret, size_t *ret_len) {
        char f[PATH_MAX_ + 32];
        snprintf(f, sizeof f, "%s/%s", dir, name);
        return cp_read_file(f, 64u << 20, ret, ret_len);
}

/*
 * The launch measurement of OVMF + kernel/initrd/cmdline.  Debian's OVMF
 * has no SNP_KERNEL_HASHES section, so the kernel-hash table (QEMU's 176-byte
 * layout) is measured as one extra NORMAL page at GPA 0x810000 after the
 * firmware's digest (cp_snp_measure with the generation's vCPU signature).
 */
/* A TD's MRTD: the TDVF (Debian's OVMF.fd carries TDVF metadata) loaded
 * page by page as KVM does (single pass). */
static int tdvf_mrtd(const char *path, uint8_t ret[48]) {
        _cleanup_free_ uint8_t *fw = NULL;
        size_t fw_len;
        cp_tdvf_info info;
        int r = cp_read_file(path, 64u << 20, &fw, &fw_len);
        if (r < 0 || (r = cp_tdvf_parse(fw, fw_len, &info)) < 0 ||
            (r = cp_tdx_measure_mrtd(fw, fw_len, &info, CP_TDX_ORDER_SINGLE_PASS, ret)) < 0)
                return cp_error_wrap("TDVF %s", path);
        return 0;
}

/* The firmware a node image's nodes boot, SEV-SNP VMs and TDs alike:
 * images/<v>/firmware.fd, the stack's firmware (OVMF.fd, confpoold --ovmf)
 * as it was when the image was first used, kept with the image: an image
 * keeps its launch measurement (SNP) and MRTD (TDX) when the stack's
 * firmware changes, so running, adopted and rebooting nodes of an image
 * keep matching its expected measurement, and an image published with
 * newer firmware has a new one (a node-image upgrade rolls pools onto it).
 * images/<v>/tdvf.fd, the name earlier versions gave a TD image's copy, is
 * used when present.  Written beside and renamed (concurrent first uses
 * write the same bytes). */
static int image_firmware(local_backend *b, const char *img, char *out, size_t size) {
        _cleanup_free_ uint8_t *fw = NULL;
        size_t len = 0;
        if ((size_t) snprintf(out, size, "%s/firmware.fd", img) >= size)
                return CP_ERROR(CP_ETOOBIG, "image directory %s: path too long", img);
        snprintf(out, size, "%s/tdvf.fd", img); /* not longer */
        if (access(out, R_OK) == 0)
                return 0;
        snprintf(out, size, "%s/firmware.fd", img);
        if (access(out, R_OK) == 0)
                return 0;
        int r = cp_read_file(b->ovmf, 64u << 20, &fw, &len);
        return r < 0 ? cp_error_wrap("the stack's firmware") : cp_write_file(out, fw, len, 0644);
}

static bool same_file(const struct stat *a, const struct stat *b) {
        return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
               a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
               a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

/* The cache entry of firmware file path as it is now (lock held): NULL if
 * it cannot be read; a new (emptied) entry if it is not cached or changed
 * since. */
static struct fw_cache *fw_current(local_backend *b, const char *path, struct stat *now) {
        if (stat(path, now) < 0)
                return NULL;
        struct fw_cache *e = NULL, *lru = &b->fw[0];
        for (size_t i = 0; i < CP_ELEMENTSOF(b->fw) && !e; i++) {
                if (b->fw[i].valid && strcmp(b->fw[i].path, path) == 0)
                        e = &b->fw[i];
                else if (!b->fw[i].valid || (lru->valid && b->fw[i].used < lru->used))
                        lru = &b->fw[i];
        }
        if (!e || !same_file(&e->id, now)) {
                e = e ? e : lru;
                memset(e, 0, sizeof *e);
                snprintf(e->path, sizeof e->path, "%s", path);
                e->id = *now;
                e->valid = true;
        }
        e->used = ++b->fw_uses;
        return e;
}

/* The firmware file read whole (1: it changed while it was read: used, not
 * to be cached). */
static int fw_read(const char *path, const struct stat *before, uint8_t **ret, size_t *ret_len) {
        int r = cp_read_file(path, 64u << 20, ret, ret_len);
        struct stat after;
        if (r >= 0 && (stat(path, &after) < 0 || !same_file(before, &after)))
                return 1;
        return r;
}

/* What the cache holds for firmware file path as it is now: its SHA-256
 * and length (gen < 0) or its launch digest for (gen, vcpus); true on a
 * hit.  *st and *cur say which file the caller then reads (fw_remember). */
#define FW_SHA256 (-1)
static bool fw_cached(local_backend *b, const char *path, int gen, unsigned vcpus, uint8_t *ret, size_t *ret_len,
                      struct stat *st, bool *cur) {
        bool hit = false;
        pthread_mutex_lock(&b->lock);
        struct fw_cache *e = fw_current(b, path, st);
        *cur = e != NULL;
        if (e && gen == FW_SHA256 && e->has_sha) {
                memcpy(ret, e->sha256, 32);
                *ret_len = e->len;
                hit = true;
        }
        for (size_t i = 0; e && gen != FW_SHA256 && i < e->n_ld && !hit; i++)
                if (e->ld[i].gen == gen && e->ld[i].vcpus == vcpus) {
                        memcpy(ret, e->ld[i].ld, 48);
                        hit = true;
                }
        pthread_mutex_unlock(&b->lock);
        return hit;
}

/* Note what was derived from the file read (read_r: fw_read's result, 1 if
 * the file changed while it was read), if it is still the cached one. */
static void fw_remember(local_backend *b, const char *path, int gen, unsigned vcpus, const uint8_t *v, size_t len,
                        const struct stat *st, bool cur, int read_r) {
        pthread_mutex_lock(&b->lock);
        for (size_t i = 0; read_r == 0 && cur && i < CP_ELEMENTSOF(b->fw); i++) {
                struct fw_cache *e = &b->fw[i];
                if (!e->valid || strcmp(e->path, path) != 0 || !same_file(&e->id, st))
                        continue;
                if (gen == FW_SHA256) {
                        memcpy(e->sha256, v, 32);
                        e->len = len;
                        e->has_sha = true;
                } else if (e->n_ld < CP_ELEMENTSOF(e->ld)) {
                        e->ld[e->n_ld].gen = gen;
                        e->ld[e->n_ld].vcpus = vcpus;
                        memcpy(e->ld[e->n_ld++].ld, v, 48);
                }
        }
        pthread_mutex_unlock(&b->lock);
}

/* SHA-256 and length of a firmware file (measured boot's event). */
static int fw_digest(local_backend *b, const char *path, uint8_t ret[32], size_t *ret_len) {
        struct stat st;
        bool cur;
        if (fw_cached(b, path, FW_SHA256, 0, ret, ret_len, &st, &cur))
                return 0;
        _cleanup_free_ uint8_t *fw = NULL;
        size_t len = 0;
        int r = fw_read(path, &st, &fw, &len);
        if (r < 0)
                return r;
        SHA256(fw, len, ret);
        *ret_len = len;
        fw_remember(b, path, FW_SHA256, 0, ret, len, &st, cur, r);
        return 0;
}

/* The launch digest of a firmware file alone for (generation, vCPUs). */
static int fw_launch_digest(local_backend *b, const char *path, int gen, unsigned vcpus, uint8_t ret[48]) {
        struct stat st;
        bool cur;
        size_t unused;
        if (fw_cached(b, path, gen, vcpus, ret, &unused, &st, &cur))
                return 0;
        _cleanup_free_ uint8_t *fw = NULL;
        size_t fw_len = 0;
        int r = fw_read(path, &st, &fw, &fw_len);
        if (r < 0)
                return r;
        cp_snp_measure_params p;
        cp_snp_measure_params_init(&p);
        p.mode = CP_SNP_MODE_SNP;
        p.vcpus = vcpus;
        p.vcpu_sig = gen == CP_SNP_GEN_GENOA ? cp_snp_vcpu_sig(0x19, 0x11, 0) : cp_snp_vcpu_sig(0x19, 0x01, 1);
        p.ovmf = fw;
        p.ovmf_len = fw_len;
        int m = cp_snp_measure(&p, ret);
        if (m < 0)
                return m;
        fw_remember(b, path, gen, vcpus, ret, 48, &st, cur, r);
        return 0;
}

/* The launch measurement (SNP) or MRTD (TDX) of a boot of firmware fw. */
static int measure(local_backend *b, int gen, unsigned vcpus, const char *fw, const char *kernel_path,
                   const char *initrd_path, const char *cmdline, uint8_t ret[48]) {
        if (KIND_IS_TDX(gen))
                return tdvf_mrtd(fw, ret);
        if (gen == KIND_NONE) { /* no launch measurement: nothing a token could match */
                memset(ret, 0, 48);
                return 0;
        }
        uint8_t ld[48];
        int r = fw_launch_digest(b, fw, gen, vcpus, ld);
        if (r < 0)
                return r;
        cp_snp_kernel_hashes kh;
        if ((r = cp_snp_kernel_hashes_from_files(kernel_path, initrd_path, cmdline, &kh)) < 0)
                return r;
        uint8_t page[4096] = {0};
        cp_snp_kernel_hashes_table(&kh, page);
        cp_snp_ld *chain = NULL;
        if ((r = cp_snp_ld_new(ld, &chain)) < 0)
                return r;
        r = cp_snp_ld_update_page(chain, CP_SNP_PAGE_NORMAL, 0x810000, page);
        if (r >= 0)
                cp_snp_ld_get(chain, ret);
        cp_snp_ld_free(chain);
        return r;
}

/* The expected launch measurement of an image for a generation and vCPU
 * count: from the cache, else measured (without the lock) and cached. */
static int image_expected(local_backend *b, const char *image, int gen, unsigned vcpus,
                          uint8_t ret[48]) {
        char dir[PATH_MAX_], k[PATH_MAX_ + 16], i[PATH_MAX_ + 16], fw[PATH_MAX_ + 16];
        const char *key = image ? image : "";
        pthread_mutex_lock(&b->lock);
        for (size_t j = 0; j < b->n_expected; j++) {
                struct expected_entry *x = &b->expected[j];
                if (x->gen == gen && x->vcpus == vcpus && strcmp(x->image, key) == 0) {
                        memcpy(ret, x->digest, 48);
                        pthread_mutex_unlock(&b->lock);
                        return 0;
                }
        }
        int r = image_dir(b, image, dir, sizeof dir);
        pthread_mutex_unlock(&b->lock);
        _cleanup_free_ uint8_t *cmd = NULL;
        size_t cl;
        if (r >= 0)
                r = read_all(dir, "cmdline", &cmd, &cl);
        if (r >= 0)
                r = image_firmware(b, dir, fw, sizeof fw);
        if (r < 0)
                return r;
        snprintf(k, sizeof k, "%s/kernel", dir);
        snprintf(i, sizeof i, "%s/initrd", dir);
        uint8_t d[48];
        if ((r = measure(b, gen, vcpus, fw, k, i, (const char *) cmd, d)) < 0)
                return r;
        if (strlen(key) < sizeof b->expected[0].image) {
                pthread_mutex_lock(&b->lock);
                size_t slot = b->n_expected < CP_ELEMENTSOF(b->expected) ? b->n_expected++
                                                                         : b->next_expected++ % CP_ELEMENTSOF(b->expected);
                struct expected_entry *x = &b->expected[slot];
                snprintf(x->image, sizeof x->image, "%s", key);
                x->gen = gen;
                x->vcpus = vcpus;
                memcpy(x->digest, d, 48);
                pthread_mutex_unlock(&b->lock);
        }
        memcpy(ret, d, 48);
        return 0;
}

static int local_expected(cp_backend *bb, const cp_node_spec *spec, uint8_t ret[48]) {
        local_backend *b = (local_backend *) bb;
        return image_expected(b, spec->image, size_gen(spec->vm_size), size_vcpus(spec->vm_size), ret);
}

/* ---- processes ------------------------------------------------------------ */

/* stdout and stderr appended to logfile, in a process group of its own,
 * niced; nothing else of the daemon's open: other threads' descriptors
 * without CLOEXEC (the tss2 swtpm TCTI's sockets of a concurrent boot)
 * would keep their connections open in the child. */
static int spawn(char *const argv[], const char *logfile, int niceness, pid_t *ret) {
        cp_proc_options o = {
                .out = CP_PROC_APPEND,
                .out_path = logfile,
                .err = CP_PROC_AS_STDOUT,
                .stdin_null = true,
                .search_path = true,
                .new_group = true,
                .close_fds = true,
                .unblock_signals = true,
                .sigpipe_default = true,
                .niceness = niceness,
        };
        return cp_proc_spawn(argv, &o, ret);
}

static void stop_process(pid_t *pid) {
        cp_proc_stop_child(pid, 2000);
}

/* Before a swtpm is stopped: TPM2_Shutdown(TPM_SU_STATE), so that its next
 * start finds an orderly shutdown (a stop without one, after a DA-protected
 * key was used, counts as a failed authorization: docs/nodes.md).  The
 * agent is stopped first (swtpm serves one connection at a time; the agent
 * sends its own Shutdown at exit); each answer waited for at most 1 s, a
 * swtpm that does not answer is stopped anyway. */
static void swtpm_shutdown(node *nd) {
        char tcti[64];
        if (nd->swtpm <= 0 || nd->tpm_port == 0)
                return;
        snprintf(tcti, sizeof tcti, "swtpm:host=127.0.0.1,port=%u", nd->tpm_port);
        if (cp_vtpm_shutdown_tcti(tcti, 1000) < 0) {
                fprintf(stderr, "local backend: %s: swtpm stopped without TPM2_Shutdown: %s\n", nd->name,
                        cp_error_message());
                cp_error_clear();
        }
}

static int bind_port(uint16_t want, uint16_t *ret) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(want),
                                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t sl = sizeof sa;
        bool ok = fd >= 0 && bind(fd, (struct sockaddr *) &sa, sizeof sa) == 0 &&
                  getsockname(fd, (struct sockaddr *) &sa, &sl) == 0;
        if (fd >= 0)
                close(fd);
        if (ok)
                *ret = ntohs(sa.sin_port);
        return ok ? 0 : -1;
}

/* Two free consecutive ports: swtpm's server P and control channel P+1
 * (the swtpm TCTI expects the control channel there).  Picked below Linux's
 * default ephemeral range (32768-60999), so that the outgoing connections of
 * hundreds of agents cannot take one between this check and swtpm's bind
 * (it did, once in ~300 boots at 1,000 nodes); else from the ephemeral range. */
static bool port_starting(const uint16_t *starting, uint16_t p) {
        for (size_t i = 0; starting && i < 2 * MAX_BOOT_WORKERS; i++)
                if (starting[i] && (starting[i] == p || starting[i] + 1 == p || starting[i] == p + 1))
                        return true;
        return false;
}

static int free_port(const uint16_t *starting, uint16_t *ret) {
        for (int i = 0; i < 128; i++) {
                uint32_t rnd;
                if (RAND_bytes((uint8_t *) &rnd, sizeof rnd) != 1)
                        break;
                uint16_t p = (uint16_t) (20000 + 2 * (rnd % 6000)), q;
                if (!port_starting(starting, p) && bind_port(p, &q) == 0 && bind_port((uint16_t) (p + 1), &q) == 0) {
                        *ret = p;
                        return 0;
                }
        }
        for (int i = 0; i < 64; i++) {
                uint16_t p, q;
                if (bind_port(0, &p) == 0 && p < 65535 && !port_starting(starting, p) &&
                    bind_port((uint16_t) (p + 1), &q) == 0) {
                        *ret = p;
                        return 0;
                }
        }
        return CP_ERROR(CP_EIO, "no free port pair for swtpm");
}

/* Until the swtpm listens; *pid = 0 once it exited (reaped). */
static int wait_port(uint16_t port, pid_t *pid) {
        for (int i = 0; i < 1000; i++) { /* 10 s: a niced swtpm on a busy machine */
                int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
                struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port),
                                         .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
                int ok = fd >= 0 && connect(fd, (struct sockaddr *) &sa, sizeof sa) == 0;
                if (fd >= 0)
                        close(fd);
                if (ok)
                        return 0;
                if (cp_proc_exited(*pid, NULL)) {
                        *pid = 0;
                        return CP_ERROR(CP_EIO, "swtpm exited during start (port %u)", port);
                }
                struct timespec ts = {0, 10 * 1000000L};
                nanosleep(&ts, NULL);
        }
        return CP_ERROR(CP_EIO, "swtpm did not listen on port %u", port);
}

/* The node table on disk: <node dir>/{agent,swtpm}.pid next to node.json,
 * so that a restarted daemon (cp_backend_local_recover) or `confpool down`
 * can find and stop processes a killed daemon left behind. */
static int write_pid(const char *dir, const char *name, pid_t pid) {
        char f[PATH_MAX_ + 32];
        snprintf(f, sizeof f, "%s/%s", dir, name);
        return cp_proc_write_pidfile(f, pid);
}

/* ---- measured boot -------------------------------------------------------- */

static int measure_event(cp_vtpm *t, cp_node_evlog *log, unsigned pcr, uint32_t type, const uint8_t digest[32],
                         const void *data, size_t len) {
        int r = cp_vtpm_extend(t, pcr, digest);
        return r < 0 ? r : cp_node_evlog_add(log, pcr, type, digest, data, len);
}

/* The boot chain as firmware and bootloader measure it (docs/nodes.md). */
static int measured_boot(local_backend *b, const char *tcti, const char *dir, const char *firmware,
                         const char *kernel_path, const char *identity) {
        _cleanup_free_ uint8_t *bl = NULL, *kern = NULL, *initrd = NULL, *cmd = NULL;
        size_t fw_len, bl_len, kern_len, initrd_len, cmd_len;
        uint8_t fw_sha[32];
        int r = fw_digest(b, firmware, fw_sha, &fw_len);
        if (r >= 0)
                r = read_all(dir, "bootloader", &bl, &bl_len);
        if (r >= 0)
                r = cp_read_file(kernel_path, 64u << 20, &kern, &kern_len);
        if (r >= 0)
                r = read_all(dir, "initrd", &initrd, &initrd_len);
        if (r >= 0)
                r = read_all(dir, "cmdline", &cmd, &cmd_len);
        if (r < 0)
                return r;
        cp_vtpm *t = NULL;
        cp_node_evlog log;
        if ((r = cp_vtpm_open(tcti, &t)) < 0)
                return r;
        if ((r = cp_node_evlog_init(&log)) < 0) {
                cp_vtpm_close(t);
                return r;
        }
        uint8_t d[32], blob[16], image_ev[32] = {0};
        memcpy(d, fw_sha, 32);
        cp_put_le64(blob, 0x100000000ull - fw_len);
        cp_put_le64(blob + 8, fw_len);
        r = measure_event(t, &log, 0, CP_EV_EFI_PLATFORM_FIRMWARE_BLOB, d, blob, sizeof blob);
        static const uint8_t sep[4] = {0};
        SHA256(sep, sizeof sep, d);
        for (unsigned pcr = 0; pcr < 8 && r >= 0; pcr++)
                r = measure_event(t, &log, pcr, CP_EV_SEPARATOR, d, sep, sizeof sep);
        /* UEFI_IMAGE_LOAD_EVENT without a device path */
        if (r >= 0) {
                cp_put_le64(image_ev + 8, bl_len);
                SHA256(bl, bl_len, d);
                r = measure_event(t, &log, 4, CP_EV_EFI_BOOT_SERVICES_APPLICATION, d, image_ev, sizeof image_ev);
        }
        if (r >= 0) {
                cp_put_le64(image_ev + 8, kern_len);
                SHA256(kern, kern_len, d);
                r = measure_event(t, &log, 4, CP_EV_EFI_BOOT_SERVICES_APPLICATION, d, image_ev, sizeof image_ev);
        }
        if (r >= 0) {
                SHA256(cmd, cmd_len, d);
                r = measure_event(t, &log, 8, CP_EV_IPL, d, cmd, cmd_len);
        }
        if (r >= 0) {
                SHA256(initrd, initrd_len, d);
                r = measure_event(t, &log, 9, CP_EV_IPL, d, "initrd", 7);
        }
        if (r >= 0) {
                SHA256((const uint8_t *) identity, strlen(identity), d);
                r = measure_event(t, &log, 15, CP_EV_IPL, d, identity, strlen(identity));
        }
        cp_vtpm_close(t);
        if (r >= 0) {
                char f[PATH_MAX_ + 32];
                snprintf(f, sizeof f, "%s/eventlog.bin", dir);
                r = cp_write_file(f, log.buf, log.len, 0644);
        }
        cp_node_evlog_done(&log);
        return r;
}

/* ---- nodes ---------------------------------------------------------------- */

/* What a node's processes have in their command lines (the final argument
 * ends with a space: cp_proc_matches joins them with spaces). */
static void agent_marker(const char *dir, char *out, size_t size) {
        snprintf(out, size, "--node-dir %s ", dir);
}

static void swtpm_marker(const char *dir, char *out, size_t size) {
        snprintf(out, size, "dir=%s/tpm ", dir);
}

/* A node's handle "local:<scope>/<name>" and directory
 * "<state>/nodes/<scope>-<name>" (scope: cp_node_scope of its pool id): a
 * node is found by (pool id, name), never by its name alone, so machines of
 * the same name in two pools never touch each other.  Either output may be
 * NULL. */
static int node_paths(const local_backend *b, const char *pool_id, const char *name, char *ret_handle,
                      size_t handle_size, char *ret_dir, size_t dir_size) {
        char scope[17];
        if (!pool_id || !pool_id[0])
                return CP_ERROR(CP_EINVAL, "node %.64s: the pool id is required", name ? name : "");
        if (!name || !name[0] || strlen(name) >= 64 || strchr(name, '/') || name[0] == '.')
                return CP_ERROR(CP_EINVAL, "bad node name '%.64s' (1-63 characters, no '/', not starting with '.')",
                                name ? name : "");
        cp_node_scope(pool_id, scope);
        int n = ret_handle ? snprintf(ret_handle, handle_size, "local:%s/%s", scope, name) : 0;
        int m = ret_dir ? snprintf(ret_dir, dir_size, "%s/nodes/%s-%s", b->state_dir, scope, name) : 0;
        if (n < 0 || m < 0 || (ret_handle && (size_t) n >= handle_size) || (ret_dir && (size_t) m >= dir_size))
                return CP_ERROR(CP_ETOOBIG, "handle or directory of node %s too long", name);
        return 0;
}

static node *find_node(local_backend *b, const char *handle) {
        for (node *n = b->nodes; n; n = n->next)
                if (strcmp(n->handle, handle) == 0)
                        return n;
        return NULL;
}

static int copy_file(const char *from_dir, const char *to_dir, const char *name) {
        _cleanup_free_ uint8_t *buf = NULL;
        size_t len;
        int r = read_all(from_dir, name, &buf, &len);
        if (r < 0)
                return r;
        char f[PATH_MAX_ + 32];
        snprintf(f, sizeof f, "%s/%s", to_dir, name);
        return cp_write_file(f, buf, len, 0644);
}

/*
 * The OS disk: a header "CPDISK01" || HMAC-SHA256(key, "confpool-disk:" name)
 * then the (sparse) volume.  The key comes from a local STAND-IN
 * (disk-key.standin, 0600) until the key broker (issue 6) provides the
 * encryption and secure key release; see docs/nodes.md.
 */
static int make_disk(const char *dir, const char *name) {
        uint8_t key[32], hdr[40];
        if (RAND_bytes(key, sizeof key) != 1)
                return CP_ERROR(CP_ECRYPTO, "RAND_bytes");
        char f[PATH_MAX_ + 32], msg[128];
        int n = snprintf(msg, sizeof msg, "confpool-disk:%s", name);
        unsigned hl = 32;
        memcpy(hdr, "CPDISK01", 8);
        HMAC(EVP_sha256(), key, sizeof key, (const uint8_t *) msg, (size_t) n, hdr + 8, &hl);
        snprintf(f, sizeof f, "%s/disk-key.standin", dir);
        int r = cp_write_file(f, key, sizeof key, 0600);
        cp_wipe(key, sizeof key);
        if (r < 0)
                return r;
        /* beside, then renamed: a disk.img is always whole (disk_kept) */
        char img[PATH_MAX_ + 32];
        snprintf(f, sizeof f, "%s/disk.img.tmp", dir);
        snprintf(img, sizeof img, "%s/disk.img", dir);
        int fd = open(f, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0)
                return CP_ERROR(CP_EIO, "%s: %s", f, strerror(errno));
        bool ok = write(fd, hdr, sizeof hdr) == (ssize_t) sizeof hdr && ftruncate(fd, 16 << 20) == 0 &&
                  fsync(fd) == 0;
        close(fd);
        ok = ok && rename(f, img) == 0;
        if (!ok)
                unlink(f);
        return ok ? 0 : CP_ERROR(CP_EIO, "cannot write %s", img);
}

/* A node rebooted by restart recovery keeps the OS disk it has (1): its
 * image is whole (written beside and renamed) and its key is in the
 * broker, or in the stand-in key file beside it without a broker.  A node
 * without a disk gets one (0), and so does a stand-in disk once the daemon
 * runs with a key broker (the migration to broker keys: the stand-in disk
 * held no data a node needs across boots).  A broker disk without a broker
 * is refused (negative): it is not overwritten, the node fails to boot
 * with the reason, and a daemon started with the broker again boots it. */
static int disk_kept(const local_backend *b, const node *nd) {
        char f[PATH_MAX_ + 32];
        snprintf(f, sizeof f, "%s/disk.img", nd->dir);
        if (!nd->reboot || access(f, F_OK) != 0)
                return 0;
        snprintf(f, sizeof f, "%s/disk-key.standin", nd->dir);
        bool standin = access(f, F_OK) == 0;
        if (b->o.diskkeys && standin)
                return unlink(f) == 0 ? 0 : CP_ERROR(CP_EIO, "cannot remove %s: %s", f, strerror(errno));
        if (!b->o.diskkeys && !standin)
                return CP_ERROR(CP_EBADSEQ, "the OS disk of %s is encrypted under a key of the key broker, and this "
                                            "daemon runs without one (--kbs-url): the disk is kept, not booted",
                                nd->name);
        return 1;
}

/* ---- disk keys from the key broker (cp-diskkeys.h) ---------------------- */


/* The RTMRs a TD booting the image's files shows (launch_td): RTMR1 and
 * RTMR2 of its boot as `confpool tdx measure --kernel --initrd --cmdline`
 * derives them (node/node_tdxboot.h); RTMR0 (the firmware's) and RTMR3 zero. */
static int image_rtmrs(const char *dir, uint8_t ret[4][48]) {
        char k[PATH_MAX_ + 16], i[PATH_MAX_ + 16], c[PATH_MAX_ + 16];
        cp_tdx_boot_result res;
        snprintf(k, sizeof k, "%s/kernel", dir);
        snprintf(i, sizeof i, "%s/initrd", dir);
        snprintf(c, sizeof c, "%s/cmdline", dir);
        int r = cp_node_tdx_boot(NULL, 0, k, i, c, &res);
        if (r < 0)
                return r;
        memset(ret, 0, 4 * 48);
        memcpy(ret[1], res.rtmr[1], 48);
        memcpy(ret[2], res.rtmr[2], 48);
        cp_tdx_boot_result_done(&res);
        return 0;
}

/* The OS disk encrypted before first boot under the node's broker disk key,
 * whose release policy names the node image's expected measurement. */
static int broker_disk(local_backend *b, const cp_node_spec *spec, int gen, const char *dir) {
        char f[PATH_MAX_ + 32];
        uint8_t expected[48];
        int r;
        snprintf(f, sizeof f, "%s/disk.img", dir);
        if ((r = image_expected(b, spec->image, gen, size_vcpus(spec->vm_size), expected)) < 0)
                return r;
        cp_diskkey_expect x = {.tee = KIND_IS_TDX(gen) ? CP_DISKKEY_TEE_TDX : CP_DISKKEY_TEE_SNP};
        memcpy(x.measurement, expected, 48);
        if (KIND_IS_TDX(gen)) {
                char img[PATH_MAX_];
                pthread_mutex_lock(&b->lock);
                r = image_dir(b, spec->image, img, sizeof img);
                pthread_mutex_unlock(&b->lock);
                if (r < 0 || (r = image_rtmrs(img, x.rtmr)) < 0)
                        return r;
                x.has_rtmr = true;
        }
        return cp_diskkeys_provision(b->o.diskkeys, spec->pool_id, spec->name, &x, f);
}

static int broker_node_config(local_backend *b, const cp_node_spec *spec, json_t *cfg) {
        char disk_id[160];
        int r = cp_diskkeys_disk_id(spec->pool_id, spec->name, disk_id, sizeof disk_id);
        if (r < 0)
                return r;
        json_t *dk = json_pack("{s:s,s:s,s:s,s:s}", "provider", "kbs", "url", cp_diskkeys_url(b->o.diskkeys),
                               "diskId", disk_id, "releaseToken", cp_diskkeys_release_token(b->o.diskkeys));
        if (!dk || json_object_set_new(cfg, "diskKey", dk) < 0 || json_object_del(cfg, "diskKeyStandin") < 0)
                return cp_error_oom();
        return 0;
}

/* Crypto-erase of a deleted node's disk key; lock held. */
static int broker_erase(local_backend *b, const node *nd) {
        char disk_id[160];
        if (!b->o.diskkeys)
                return 0;
        int r = cp_diskkeys_disk_id(nd->pool_id, nd->name, disk_id, sizeof disk_id);
        return r < 0 ? r : cp_diskkeys_erase(b->o.diskkeys, disk_id);
}

/* Unix ms: the boot phases' timestamps (node.json "bootTimes"; bench/bench-nodes.c). */
static json_int_t now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (json_int_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A boot stops at its next step once its node is deleted or the backend freed. */
static int boot_step(local_backend *b, const node *nd) {
        pthread_mutex_lock(&b->lock);
        bool cancel = nd->cancel || b->stop || b->detaching;
        pthread_mutex_unlock(&b->lock);
        return cancel ? CP_ERROR(CP_EBADSEQ, "cancelled (the node was deleted or the backend stopped)") : 0;
}

/* What a boot has so far: the agent's configuration gathers it. */
typedef struct boot_state {
        char attestd[512], cp_url[512], cp_ca[PATH_MAX_];
        char tcti[128];
        char identity[800];
        int gen;
        host *h;
        char tdsock[PATH_MAX_];
        char tdquote_url[96]; /* azure-hcl TDX nodes: the host's quote endpoint */
        char firmware[PATH_MAX_]; /* the image's (image_firmware) */
        uint32_t ghandle;
        cp_local_launch launch;
        uint32_t ak_handle; /* the pre-provisioned vTPM's AK (0: none, the agent creates one) */
        int swtpm_nice;     /* > 0: instead of node_nice (the vTPM pool's: 19) */
        json_int_t t_create, t_swtpm, t_boot, t_launch, t_disk;
} boot_state;

/* The node directory with the image's boot files (and the prepare hook's say). */
static int boot_files(local_backend *b, const cp_node_spec *spec, node *nd, boot_state *bs) {
        char img[PATH_MAX_];
        pthread_mutex_lock(&b->lock);
        int r = image_dir(b, spec->image, img, sizeof img);
        snprintf(bs->attestd, sizeof bs->attestd, "%s", b->attestd);
        snprintf(bs->cp_url, sizeof bs->cp_url, "%s", b->cp_url);
        snprintf(bs->cp_ca, sizeof bs->cp_ca, "%s", b->cp_ca);
        pthread_mutex_unlock(&b->lock);
        if (r < 0)
                return r;
        if (mkdir(nd->dir, 0700) < 0 && errno != EEXIST)
                return CP_ERROR(CP_EIO, "cannot create %s: %s", nd->dir, strerror(errno));
        static const char *const parts[] = {"bootloader", "kernel", "initrd", "cmdline"};
        for (size_t i = 0; i < 4; i++)
                if ((r = copy_file(img, nd->dir, parts[i])) < 0)
                        return r;
        bs->launch = (cp_local_launch) {.debug = false, .azure_hcl = b->o.tdx_azure_hcl};
        snprintf(bs->launch.kernel_path, sizeof bs->launch.kernel_path, "%s/kernel", nd->dir);
        /* the image's firmware (a TD's: the hook may name another) */
        if ((r = image_firmware(b, img, bs->firmware, sizeof bs->firmware)) < 0)
                return r;
        if (KIND_IS_TDX(size_gen(spec->vm_size)))
                snprintf(bs->launch.tdvf_path, sizeof bs->launch.tdvf_path, "%s", bs->firmware);
        if (b->o.prepare)
                b->o.prepare(b->o.prepare_userdata, spec, nd->dir, &bs->launch);
        return boot_step(b, nd);
}

/* placement: the least loaded host of the size's generation (counted from
 * here on, so that concurrent boots spread) */
static int place_node(local_backend *b, const cp_node_spec *spec, node *nd, boot_state *bs) {
        size_t first;
        bs->gen = size_gen(spec->vm_size);
        pthread_mutex_lock(&b->lock);
        int r = hosts_of(b, bs->gen, &first);
        size_t best = first;
        bool tdx = KIND_IS_TDX(bs->gen), best_cur = tdx && r >= 0 && tdx_host_current(b, &b->hosts[first]);
        for (size_t i = first; r >= 0 && i < b->n_hosts && b->hosts[i].gen == bs->gen; i++) {
                /* TDX: a host whose TCB is not UpToDate (a TCB recovery it did not follow) last */
                bool cur = tdx && tdx_host_current(b, &b->hosts[i]);
                if ((cur && !best_cur) || (cur == best_cur && b->hosts[i].nodes < b->hosts[best].nodes)) {
                        best = i;
                        best_cur = cur;
                }
        }
        bs->h = &b->hosts[best];
        if (r >= 0) {
                bs->h->nodes++;
                nd->host = (int) best;
        }
        pthread_mutex_unlock(&b->lock);
        return r;
}

/* the vTPM: swtpm on a free port pair, its pid recorded */
static int start_swtpm(local_backend *b, node *nd, boot_state *bs) {
        uint16_t port = 0;
        char state[PATH_MAX_ + 16], server[64], ctrl[64], f[PATH_MAX_ + 64];
        int r = 0;
        snprintf(state, sizeof state, "dir=%s/tpm", nd->dir);
        snprintf(f, sizeof f, "%s/tpm", nd->dir);
        if (mkdir(f, 0700) < 0 && errno != EEXIST)
                return CP_ERROR(CP_EIO, "cannot create %s: %s", f, strerror(errno));
        /* a port taken between the check and swtpm's bind: another pair */
        for (int attempt = 0; attempt < 3; attempt++) {
                if (attempt > 0) {
                        cp_error_clear();
                        stop_process(&nd->swtpm);
                }
                size_t slot = 2 * MAX_BOOT_WORKERS;
                pthread_mutex_lock(&b->port_lock);
                r = free_port(b->starting, &port);
                for (size_t i = 0; r >= 0 && i < 2 * MAX_BOOT_WORKERS && slot == 2 * MAX_BOOT_WORKERS; i++)
                        if (!b->starting[i])
                                b->starting[slot = i] = port;
                pthread_mutex_unlock(&b->port_lock);
                if (r >= 0) {
                        snprintf(server, sizeof server, "type=tcp,port=%u,bindaddr=127.0.0.1", port);
                        snprintf(ctrl, sizeof ctrl, "type=tcp,port=%u,bindaddr=127.0.0.1", port + 1u);
                        char *const sargv[] = {b->swtpm, "socket", "--tpm2",   "--tpmstate",
                                               state,    "--server", server, "--ctrl",
                                               ctrl,     "--flags", "not-need-init,startup-clear", NULL};
                        snprintf(f, sizeof f, "%s/swtpm.log", nd->dir);
                        r = spawn(sargv, f, bs->swtpm_nice > 0 ? bs->swtpm_nice : b->o.node_nice, &nd->swtpm);
                        if (r >= 0)
                                r = wait_port(port, &nd->swtpm);
                }
                pthread_mutex_lock(&b->port_lock);
                if (slot < 2 * MAX_BOOT_WORKERS)
                        b->starting[slot] = 0;
                pthread_mutex_unlock(&b->port_lock);
                if (r >= 0)
                        break;
        }
        if (r < 0 || (r = write_pid(nd->dir, "swtpm.pid", nd->swtpm)) < 0)
                return r;
        nd->tpm_port = port;
        snprintf(bs->tcti, sizeof bs->tcti, "swtpm:host=127.0.0.1,port=%u", port);
        return 0;
}


/* A TD's guest channel: nodes/.td-<16 hex of SHA-256(handle)>.sock (a
 * short path: sun_path has 108 bytes). */
static void td_sock_path(const local_backend *b, const node *nd, char *out, size_t size) {
        uint8_t hd[32];
        char hex[65];
        SHA256((const uint8_t *) nd->handle, strlen(nd->handle), hd);
        cp_hex_encode(hd, 32, hex);
        hex[16] = '\0';
        snprintf(out, size, "%s/nodes/.td-%s.sock", b->state_dir, hex);
}

/* The TD on a TDX host: built from the TDVF (the image's OVMF.fd, or the
 * test hook's), TDATTRIBUTES SEPT_VE_DISABLE (DEBUG only via the test
 * hook), MRCONFIGID = SHA-256(node identity) || 16 zero bytes (set by the
 * host, as HOST_DATA on SNP); the boot's measurements into RTMRs as TDVF
 * and the boot loader do (RTMR1 the kernel, RTMR2 the command line and the
 * initrd); its guest channel on a socket of its own (mode 0600). */
static int launch_td(local_backend *b, node *nd, boot_state *bs) {
        const char *fwp = bs->launch.tdvf_path[0] ? bs->launch.tdvf_path : b->ovmf;
        _cleanup_free_ uint8_t *fw = NULL;
        size_t len = 0;
        char f[PATH_MAX_ + 16];
        int r = cp_read_file(fwp, 64u << 20, &fw, &len);
        if (r < 0)
                return cp_error_wrap("TDVF");
        cp_tdx_td_params p = {.attributes = (1ull << 28) | (bs->launch.debug ? 1ull : 0)};
        SHA256((const uint8_t *) bs->identity, strlen(bs->identity), p.mrconfigid);
        cp_tdx_td *td = NULL;
        if ((r = cp_tdx_host_launch(bs->h->td, &p, fw, len, CP_TDX_ORDER_SINGLE_PASS, &td)) < 0)
                return cp_error_wrap("TD launch on %s", bs->h->name);
        nd->td = td;
        /* the TD's state kept beside the node, as the host's module keeps it
         * across a VMM restart (adopt_td); rewritten after each RTMR extend */
        snprintf(f, sizeof f, "%s/td.json", nd->dir);
        if ((r = cp_tdx_td_persist(td, f)) < 0)
                return r;
        /* the boot TDVF and the kernel's EFI stub run, event for event as
         * `confpool tdx measure` predicts it (node/node_tdxboot.h); its CCEL kept */
        char i[PATH_MAX_ + 16], c[PATH_MAX_ + 16];
        cp_tdx_boot_result res;
        snprintf(i, sizeof i, "%s/initrd", nd->dir);
        snprintf(c, sizeof c, "%s/cmdline", nd->dir);
        snprintf(f, sizeof f, "%s/ccel.bin", nd->dir);
        if ((r = cp_node_tdx_boot(fw, len, bs->launch.kernel_path, i, c, &res)) < 0)
                return cp_error_wrap("TD boot of %s", nd->name);
        if ((r = cp_tdx_td_boot(td, res.ccel, res.ccel_len)) >= 0)
                r = cp_write_file(f, res.ccel, res.ccel_len, 0600);
        cp_tdx_boot_result_done(&res);
        if (r < 0)
                return r;
        td_sock_path(b, nd, bs->tdsock, sizeof bs->tdsock);
        nd->tdemu = (cp_tdx_emu) {.host = bs->h->td, .td = td};
        if ((r = cp_tdx_chan_start(&nd->tdemu, bs->tdsock, &nd->tdchan)) < 0)
                return cp_error_wrap("TD guest channel");
        bs->t_launch = now_ms();
        return 0;
}

static int td_hw_report(void *ud, const uint8_t report_data[64], uint8_t *out, size_t out_len) {
        if (out_len != CP_TDX_TDREPORT_SIZE)
                return CP_ERROR(CP_EINVAL, "a TDREPORT is %u bytes, not %zu", CP_TDX_TDREPORT_SIZE, out_len);
        return cp_tdx_td_report(ud, report_data, out);
}

/* The host's quote endpoint for Azure TDX CVMs (IMDS /acc/tdquote):
 * started on first use, on the port kept in hosts/<host>/imds.port so that
 * agents a restarted daemon adopts still reach it.  A kept port another
 * process holds (a leader deposed while paused keeps its sockets until it
 * runs again and detaches, issues 16 + 17) defers the listener, as the
 * PCS's: the host, its TDs and their adoption go on, the agents' quote
 * requests fail (the agent defers a re-attestation that fails so) until the
 * listener is up, tried again once a second (deferred_retry).  Lock held. */
static int host_imds(local_backend *b, host *h, uint16_t *ret_port) {
        char f[PATH_MAX_ + 64], txt[16];
        int r = 0;
        if (!h->imds) {
                snprintf(f, sizeof f, "%s/%s/imds.port", b->hosts_dir, h->name);
                uint16_t kept = kept_port(f);
                h->imds_tried_at = (long long) cp_proc_clock_ms();
                r = cp_tdx_imds_start(h->td, "127.0.0.1", kept, &h->imds);
                if (r < 0 && kept) {
                        if (!h->imds_deferred)
                                fprintf(stderr, "local backend: TD quote endpoint of %s: %s; the host is up without it, "
                                                "listening tried again every second\n", h->name, cp_error_message());
                        cp_error_clear();
                        h->imds_deferred = kept;
                        if (ret_port)
                                *ret_port = kept;
                        return 0;
                }
                int n = r >= 0 ? snprintf(txt, sizeof txt, "%u\n", cp_tdx_imds_port(h->imds)) : 0;
                if (r >= 0 && (r = cp_write_file(f, txt, (size_t) n, 0600)) < 0)
                        h->imds = cp_tdx_imds_stop(h->imds);
                if (r >= 0)
                        h->imds_deferred = 0;
        }
        if (r < 0)
                return cp_error_wrap("TD quote endpoint of %s: ", h->name);
        if (ret_port)
                *ret_port = cp_tdx_imds_port(h->imds);
        return 0;
}

/* An Azure TDX CVM (issue 16): the host's quote endpoint, then the
 * software paravisor's boot: its AK, runtime data and HCL report (the TD's
 * TDREPORT) in the node's vTPM (node/azure_cvm.h). */
static int azure_paravisor(local_backend *b, const cp_node_spec *spec, node *nd, boot_state *bs) {
        uint16_t port = 0;
        pthread_mutex_lock(&b->lock);
        int r = host_imds(b, bs->h, &port);
        pthread_mutex_unlock(&b->lock);
        if (r < 0)
                return r;
        snprintf(bs->tdquote_url, sizeof bs->tdquote_url, "http://127.0.0.1:%u" CP_TDX_IMDS_PATH, (unsigned) port);
        cp_vtpm *t = NULL;
        if ((r = cp_vtpm_open(bs->tcti, &t)) < 0)
                return r;
        cp_azure_paravisor p = {.report_type = CP_HCL_REPORT_TDX, .hw_report = td_hw_report, .userdata = nd->td,
                                .vm_unique_id = spec->name, .alter_runtime_data = bs->launch.hcl_alter_runtime_data};
        r = cp_azure_paravisor_provision(t, &p);
        cp_vtpm_close(t);
        return r < 0 ? cp_error_wrap("software paravisor: ") : 0;
}

/* A TDX node: the TD (under the software paravisor for an Azure TDX CVM),
 * then the disk (its key's release policy names the MRTD). */
static int launch_tdx_node(local_backend *b, const cp_node_spec *spec, node *nd, boot_state *bs) {
        int r;
        if ((r = launch_td(b, nd, bs)) < 0 || (bs->launch.azure_hcl && (r = azure_paravisor(b, spec, nd, bs)) < 0) ||
            (r = disk_kept(b, nd)) < 0)
                return r;
        if (r == 0 &&
            (r = b->o.diskkeys ? broker_disk(b, spec, bs->gen, nd->dir) : make_disk(nd->dir, spec->name)) < 0)
                return r;
        return boot_step(b, nd);
}

/* A node of a non-confidential size: no TEE launch, no key release (no TEE
 * key to release to: its OS disk key is the platform's, as Azure's
 * platform-managed keys, beside the disk); a fresh bootstrap token (0600)
 * it registers with instead of an attestation token. */
static int launch_std_node(local_backend *b, const cp_node_spec *spec, node *nd, boot_state *bs) {
        char f[PATH_MAX_ + 64], hex[65];
        uint8_t tok[32];
        int r;
        (void) b;
        bs->t_launch = now_ms();
        snprintf(f, sizeof f, "%s/disk.img", nd->dir);
        if (access(f, F_OK) != 0 && (r = make_disk(nd->dir, spec->name)) < 0)
                return r;
        if (RAND_bytes(tok, sizeof tok) != 1)
                return CP_ERROR(CP_ECRYPTO, "random bytes for the bootstrap token");
        cp_hex_encode(tok, sizeof tok, hex);
        cp_wipe(tok, sizeof tok);
        char line[80];
        int n = snprintf(line, sizeof line, "cpboot.%.64s", hex);
        cp_wipe(hex, sizeof hex);
        snprintf(f, sizeof f, "%s/bootstrap.token", nd->dir);
        r = cp_write_file(f, line, (size_t) n, 0600);
        cp_wipe(line, sizeof line);
        return r < 0 ? r : boot_step(b, nd);
}

/* the SNP launch on the host (measurement of what this node boots), its
 * secrets page, and the node's disk */
static int launch_node(local_backend *b, const cp_node_spec *spec, node *nd, boot_state *bs) {
        if (KIND_IS_TDX(bs->gen))
                return launch_tdx_node(b, spec, nd, bs);
        if (bs->gen == KIND_NONE)
                return launch_std_node(b, spec, nd, bs);
        char f[PATH_MAX_ + 64], initrd[PATH_MAX_ + 16];
        cp_amdsp_launch l = {.policy = 0x30000u | (bs->launch.debug ? (1u << 19) : 0)};
        _cleanup_free_ uint8_t *cmd = NULL;
        size_t cl;
        int r;
        snprintf(initrd, sizeof initrd, "%s/initrd", nd->dir);
        if ((r = read_all(nd->dir, "cmdline", &cmd, &cl)) < 0 ||
            (r = measure(b, bs->gen, size_vcpus(spec->vm_size), bs->firmware, bs->launch.kernel_path, initrd,
                         (const char *) cmd, l.measurement)) < 0)
                return r;
        SHA256((const uint8_t *) bs->identity, strlen(bs->identity), l.host_data);
        uint8_t secrets[CP_SNP_SECRETS_PAGE_SIZE];
        if ((r = cp_amdsp_launch_guest(bs->h->sp, &l, &bs->ghandle, secrets)) < 0)
                return r;
        bs->t_launch = now_ms();
        snprintf(f, sizeof f, "%s/secrets", nd->dir);
        r = cp_write_file(f, secrets, sizeof secrets, 0600);
        cp_wipe(secrets, sizeof secrets);
        if (r < 0 || (r = disk_kept(b, nd)) < 0)
                return r;
        if (r == 0 &&
            (r = b->o.diskkeys ? broker_disk(b, spec, bs->gen, nd->dir) : make_disk(nd->dir, spec->name)) < 0)
                return r;
        return boot_step(b, nd);
}

/* the agent's configuration (node.json) and the agent */
static int start_agent(local_backend *b, const cp_node_spec *spec, node *nd, const boot_state *bs) {
        char f[PATH_MAX_ + 64];
        int r;
        const host *h = bs->h;
        json_t *cfg = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:I,s:s,s:s,s:s,s:s,s:I,s:I,s:s,s:s,s:s}", "name", spec->name, "pool",
                                spec->pool_id, "attestd", bs->attestd, "controlplane", bs->cp_url, "tcti", bs->tcti,
                                "amdspSocket", h->sock, "guestHandle", (json_int_t) bs->ghandle, "secrets", "secrets",
                                "eventLog", "eventlog.bin", "disk", "disk.img", "diskKeyStandin", "disk-key.standin",
                                "heartbeatMs", (json_int_t) (b->o.heartbeat_ms ? b->o.heartbeat_ms : 5000),
                                "reattestS", (json_int_t) (b->o.reattest_s ? b->o.reattest_s : 3600), "host", h->name,
                                "vmSize", spec->vm_size ? spec->vm_size : "", "image", spec->image ? spec->image : "");
        if (cfg && bs->cp_ca[0])
                json_object_set_new(cfg, "controlplaneCaFile", json_string(bs->cp_ca));
        if (cfg && bs->gen == KIND_NONE) {
                /* no TEE: the vTPM only; the platform's disk key; the bootstrap token */
                json_object_del(cfg, "amdspSocket");
                json_object_del(cfg, "guestHandle");
                json_object_del(cfg, "secrets");
                json_object_set_new(cfg, "tee", json_string("none"));
                json_object_set_new(cfg, "bootstrapToken", json_string("bootstrap.token"));
        }
        if (cfg && KIND_IS_TDX(bs->gen)) {
                /* a TD: its guest channel instead of the AMD-SP's (tdx_chan.c) */
                json_object_del(cfg, "amdspSocket");
                json_object_del(cfg, "guestHandle");
                json_object_del(cfg, "secrets");
                json_object_set_new(cfg, "tee", json_string("tdx"));
                if (bs->launch.azure_hcl) {
                        /* under the paravisor the guest has its vTPM and the host's endpoint, not the TD's channel */
                        json_object_set_new(cfg, "evidence", json_string("azure-hcl"));
                        json_object_set_new(cfg, "azure", json_pack("{s:s}", "tdQuoteUrl", bs->tdquote_url));
                } else
                        json_object_set_new(cfg, "tdxSocket", json_string(bs->tdsock));
                /* what restart adoption holds the persisted TD to (adopt_td) */
                uint8_t mrtd[48];
                char hex[97];
                cp_tdx_td_mrtd(nd->td, mrtd);
                cp_hex_encode(mrtd, 48, hex);
                hex[96] = '\0';
                json_object_set_new(cfg, "tdxMrtd", json_string(hex));
        }
        if (cfg && spec->version)
                json_object_set_new(cfg, "orchestratorVersion", json_string(spec->version));
        if (cfg && bs->ak_handle)
                json_object_set_new(cfg, "akHandle", json_integer(bs->ak_handle));
        if (cfg && b->o.diskkeys && bs->gen != KIND_NONE && (r = broker_node_config(b, spec, cfg)) < 0) {
                json_decref(cfg);
                return r;
        }
        if (cfg)
                json_object_set_new(cfg, "bootTimes",
                                    json_pack("{s:I,s:I,s:I,s:I,s:I,s:I}", "queued", (json_int_t) nd->t_queued,
                                              "create", bs->t_create, "swtpm", bs->t_swtpm, "measuredBoot",
                                              bs->t_boot, "launch", bs->t_launch, "disk", bs->t_disk));
        char *txt = cfg ? json_dumps(cfg, JSON_SORT_KEYS) : NULL;
        json_decref(cfg);
        if (!txt)
                return cp_error_oom();
        snprintf(f, sizeof f, "%s/node.json", nd->dir);
        r = cp_write_file(f, txt, strlen(txt), 0600);
        free(txt);
        if (r < 0)
                return r;
        char *const aargv[] = {b->agent, "--node-dir", nd->dir, NULL};
        snprintf(f, sizeof f, "%s/agent.log", nd->dir);
        if ((r = spawn(aargv, f, b->o.node_nice, &nd->agent)) < 0)
                return r;
        return write_pid(nd->dir, "agent.pid", nd->agent);
}

static uint32_t vtpm_pool_take(local_backend *b, const char *node_dir);

/* One node's boot, on a boot worker, without the backend's lock (taken for
 * the shared parts: image, placement, URLs). */
static int boot_node(local_backend *b, const cp_node_spec *spec, node *nd) {
        boot_state bs = {.t_create = now_ms()};
        int r;
        if ((r = boot_files(b, spec, nd, &bs)) < 0 || (r = place_node(b, spec, nd, &bs)) < 0)
                return r;
        bs.ak_handle = vtpm_pool_take(b, nd->dir);
        if ((r = start_swtpm(b, nd, &bs)) < 0)
                return r;
        bs.t_swtpm = now_ms();
        /* firmware: measured boot into the vTPM */
        if ((r = cp_node_identity(spec->pool_id, spec->name, bs.identity, sizeof bs.identity)) < 0 ||
            (r = measured_boot(b, bs.tcti, nd->dir, bs.firmware, bs.launch.kernel_path, bs.identity)) < 0 ||
            (r = boot_step(b, nd)) < 0)
                return r;
        bs.t_boot = now_ms();
        if ((r = launch_node(b, spec, nd, &bs)) < 0)
                return r;
        bs.t_disk = now_ms();
        return start_agent(b, spec, nd, &bs);
}

/* A node that failed to boot stays listed: its status says why. */
static void mark_failed(node *nd, const char *what) {
        char f[PATH_MAX_ + 32], msg[600];
        snprintf(msg, sizeof msg, "%s: %s", what, cp_error_message());
        cp_error_clear();
        json_t *st = json_pack("{s:s,s:s}", "state", "Failed", "reason", msg);
        char *txt = st ? json_dumps(st, 0) : NULL;
        snprintf(f, sizeof f, "%s/status.json", nd->dir);
        if (txt && cp_write_file(f, txt, strlen(txt), 0644) < 0)
                cp_error_clear();
        free(txt);
        json_decref(st);
        stop_process(&nd->agent);
        swtpm_shutdown(nd);
        stop_process(&nd->swtpm);
}

/* A TD ends with its node: its channel first (no report after), then the
 * TD, and with ended (the node's processes stopped: node_reap) its
 * persisted state too (nothing left to resume: the next boot is a new TD).
 * A node left running (cp_backend_local_detach) keeps it, as a daemon
 * killed with -9 does: the next daemon adopts the TD. */
static void td_end(node *nd, bool ended) {
        char f[PATH_MAX_ + 16];
        nd->tdchan = cp_tdx_chan_stop(nd->tdchan);
        if (nd->td && ended) {
                snprintf(f, sizeof f, "%s/td.json", nd->dir);
                (void) unlink(f);
        }
        nd->td = cp_tdx_td_free(nd->td);
}

static node *node_free(node *nd) {
        if (nd) {
                td_end(nd, false);
                free(nd->pool_id);
                free(nd->vm_size);
                free(nd->image);
                free(nd);
        }
        return NULL;
}

/* A node entry for a boot (not yet listed or queued). */
static int node_new(local_backend *b, const char *name, const char *pool_id, const char *vm_size, const char *image,
                    bool confidential, node **ret) {
        node *nd = calloc(1, sizeof *nd);
        if (!nd)
                return cp_error_oom();
        int r = node_paths(b, pool_id, name, nd->handle, sizeof nd->handle, nd->dir, sizeof nd->dir);
        if (r < 0) {
                free(nd);
                return r;
        }
        snprintf(nd->name, sizeof nd->name, "%s", name);
        nd->exit_status = -1;
        nd->host = -1;
        nd->phase = NODE_QUEUED;
        nd->confidential = confidential;
        nd->pool_id = strdup(pool_id ? pool_id : "");
        nd->vm_size = strdup(vm_size ? vm_size : "");
        nd->image = strdup(image ? image : "");
        if (!nd->pool_id || !nd->vm_size || !nd->image) {
                node_free(nd);
                return cp_error_oom();
        }
        *ret = nd;
        return 0;
}

/* Queue a listed node's boot; lock held. */
static void queue_push(local_backend *b, node *nd) {
        nd->phase = NODE_QUEUED;
        nd->t_queued = (long long) now_ms(); /* Unix ms, as the other bootTimes */
        nd->qnext = NULL;
        if (b->queue_tail)
                b->queue_tail->qnext = nd;
        else
                b->queue_head = nd;
        b->queue_tail = nd;
        pthread_cond_signal(&b->work);
}

/* List the node and queue its boot; lock held. */
static void node_enqueue(local_backend *b, node *nd) {
        nd->next = b->nodes;
        b->nodes = nd;
        queue_push(b, nd);
}

/* Take a node off the boot queue; lock held. */
static void queue_remove(local_backend *b, node *nd) {
        node *prev = NULL;
        for (node *q = b->queue_head; q; prev = q, q = q->qnext)
                if (q == nd) {
                        if (prev)
                                prev->qnext = q->qnext;
                        else
                                b->queue_head = q->qnext;
                        if (b->queue_tail == q)
                                b->queue_tail = prev;
                        q->qnext = NULL;
                        return;
                }
}

static void *boot_worker(void *ud) {
        local_backend *b = ud;
        pthread_mutex_lock(&b->lock);
        for (;;) {
                while (!b->stop && !b->queue_head)
                        pthread_cond_wait(&b->work, &b->lock);
                if (b->stop)
                        break;
                node *nd = b->queue_head;
                queue_remove(b, nd);
                nd->phase = NODE_BOOTING;
                b->booting++;
                cp_node_spec spec = {.pool_id = nd->pool_id, .name = nd->name, .vm_size = nd->vm_size,
                                     .image = nd->image, .version = nd->version[0] ? nd->version : NULL,
                                     .confidential = nd->confidential};
                pthread_mutex_unlock(&b->lock);
                int r = boot_node(b, &spec, nd);
                pthread_mutex_lock(&b->lock);
                bool detaching = b->detaching;
                pthread_mutex_unlock(&b->lock);
                /* a node that failed to boot stays listed: its status says why;
                 * a boot cut by the detach (a deposed leader) writes nothing:
                 * the node is the next leader's, which boots it again */
                if (r < 0 && detaching) {
                        cp_error_clear();
                        stop_process(&nd->agent);
                        stop_process(&nd->swtpm);
                } else if (r < 0)
                        mark_failed(nd, nd->reboot ? "reboot" : "boot");
                pthread_mutex_lock(&b->lock);
                nd->phase = r < 0 ? NODE_FAILED : NODE_UP;
                b->booting--;
                b->last_boot_ms = (long long) cp_proc_clock_ms();
                pthread_cond_broadcast(&b->booted);
        }
        pthread_mutex_unlock(&b->lock);
        return NULL;
}

/* The spec, next to the node's boot: restart recovery boots a node that
 * had not finished booting from it (node.json comes at the end of a boot). */
static int write_spec(const node *nd) {
        char f[PATH_MAX_ + 32];
        if (mkdir(nd->dir, 0700) < 0 && errno != EEXIST)
                return CP_ERROR(CP_EIO, "cannot create %s: %s", nd->dir, strerror(errno));
        json_t *j = json_pack("{s:s,s:s,s:s,s:s,s:b,s:s}", "name", nd->name, "pool", nd->pool_id, "vmSize", nd->vm_size,
                              "image", nd->image, "confidential", nd->confidential, "orchestratorVersion", nd->version);
        char *txt = j ? json_dumps(j, JSON_SORT_KEYS) : NULL;
        json_decref(j);
        if (!txt)
                return cp_error_oom();
        snprintf(f, sizeof f, "%s/spec.json", nd->dir);
        int r = cp_write_file(f, txt, strlen(txt), 0600);
        free(txt);
        return r;
}

/* Queues the boot (a boot worker runs it) and returns: Provisioning until it
 * ends.  Idempotent by (pool id, name) (the handle is local:<scope>/<name>). */
static int local_create(cp_backend *bb, const cp_node_spec *spec, char *ret_handle, size_t size) {
        local_backend *b = (local_backend *) bb;
        char handle[128];
        int r = node_paths(b, spec->pool_id, spec->name, handle, sizeof handle, NULL, 0);
        if (r < 0)
                return r;
        size_t n = strlen(handle);
        if (n >= size)
                return CP_ERROR(CP_ETOOBIG, "handle too long");
        pthread_mutex_lock(&b->lock);
        if (!find_node(b, handle)) {
                node *nd = NULL;
                r = node_new(b, spec->name, spec->pool_id, spec->vm_size, spec->image, spec->confidential, &nd);
                if (r >= 0)
                        snprintf(nd->version, sizeof nd->version, "%s", spec->version ? spec->version : "");
                if (r >= 0 && (r = write_spec(nd)) < 0)
                        node_free(nd);
                if (r >= 0)
                        node_enqueue(b, nd);
        }
        pthread_mutex_unlock(&b->lock);
        if (r >= 0)
                memcpy(ret_handle, handle, n + 1);
        return r;
}

static int local_status(cp_backend *bb, const char *handle, cp_node_state *ret_state, char *ret_ip, size_t ip_size,
                        char *ret_error, size_t error_size) {
        local_backend *b = (local_backend *) bb;
        pthread_mutex_lock(&b->lock);
        deferred_retry(b);
        node *nd = find_node(b, handle);
        if (!nd) {
                pthread_mutex_unlock(&b->lock);
                *ret_state = CP_NODE_GONE;
                snprintf(ret_error, error_size, "the node is unknown to the local backend");
                return 0;
        }
        if (nd->phase == NODE_STOPPED) {
                pthread_mutex_unlock(&b->lock);
                *ret_state = CP_NODE_STOPPED;
                snprintf(ret_ip, ip_size, "%s", "");
                return 0;
        }
        if (nd->phase == NODE_QUEUED || nd->phase == NODE_BOOTING) {
                pthread_mutex_unlock(&b->lock);
                *ret_state = CP_NODE_PROVISIONING;
                snprintf(ret_ip, ip_size, "127.0.0.1");
                return 0;
        }
        if (nd->agent > 0 && nd->exit_status < 0 && nd->adopted) {
                char marker[PATH_MAX_ + 32];
                agent_marker(nd->dir, marker, sizeof marker);
                if (!cp_proc_matches(nd->agent, marker))
                        nd->exit_status = 255; /* not our child: its status is unknown */
        } else if (nd->agent > 0 && nd->exit_status < 0)
                (void) cp_proc_exited(nd->agent, &nd->exit_status);
        char f[PATH_MAX_ + 32];
        snprintf(f, sizeof f, "%s/status.json", nd->dir);
        bool exited = nd->agent <= 0 || nd->exit_status >= 0;
        int code = nd->exit_status;
        pthread_mutex_unlock(&b->lock);

        snprintf(ret_ip, ip_size, "127.0.0.1");
        uint8_t *buf = NULL;
        size_t len;
        json_t *j = NULL;
        if (cp_read_file(f, 64 * 1024, &buf, &len) >= 0)
                j = json_loadb((const char *) buf, len, 0, NULL);
        else
                cp_error_clear();
        free(buf);
        const char *s = json_string_value(json_object_get(j, "state"));
        const char *why = json_string_value(json_object_get(j, "reason"));
        if (s && strcmp(s, "Failed") == 0) {
                *ret_state = CP_NODE_FAILED;
                snprintf(ret_error, error_size, "%s", why ? why : "the node agent failed");
        } else if (exited) {
                *ret_state = CP_NODE_FAILED;
                snprintf(ret_error, error_size, "the node agent exited (status %d)", code);
        } else if (!s || strcmp(s, "Provisioning") == 0)
                *ret_state = CP_NODE_PROVISIONING;
        else if (strcmp(s, "Attesting") == 0)
                *ret_state = CP_NODE_ATTESTING;
        else if (strcmp(s, "Unlocking") == 0)
                *ret_state = CP_NODE_UNLOCKING;
        else
                *ret_state = CP_NODE_JOINING; /* Joining or Ready: Ready is the control plane's to grant */
        json_decref(j);
        return 0;
}

static int rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        (void) st;
        (void) flag;
        (void) ftw;
        return remove(path) < 0 && errno != ENOENT ? -1 : 0;
}

/* Stopping a node: SIGTERM to its agent (node_term); reaping it (SIGKILL
 * after the deadline), the orderly shutdown of its swtpm (swtpm_shutdown)
 * and SIGTERM to the swtpm (node_halt); reaping the swtpm (node_reap).
 * Apart, so that many nodes stop in parallel (local_free). */
static void node_term(node *nd) {
        if (nd->exit_status < 0)
                cp_proc_terminate(nd->agent);
}

/* the agent reaped, then SIGTERM to the swtpm (after its TPM2_Shutdown if
 * orderly) */
static void node_halt(node *nd, uint64_t deadline_ms, bool orderly) {
        if (nd->exit_status < 0)
                cp_proc_reap(&nd->agent, deadline_ms);
        else
                (void) cp_proc_exited(nd->agent, NULL);
        nd->agent = 0;
        if (orderly)
                swtpm_shutdown(nd);
        cp_proc_terminate(nd->swtpm);
}

static void node_reap(local_backend *b, node *nd, uint64_t deadline_ms) {
        cp_proc_reap(&nd->swtpm, deadline_ms);
        td_end(nd, true);
        if (nd->host >= 0 && b->hosts[nd->host].nodes > 0)
                b->hosts[nd->host].nodes--;
        nd->host = -1;
}

/* A deleted node is powered off: SIGKILL at once (its TPM state goes with
 * it: no TPM2_Shutdown).  A graceful SIGTERM waited up to 2 s per node
 * whose agent was inside a heartbeat, which waits for the store the
 * reconciler holds while it deletes (a pool delete of 100 nodes took a
 * minute). */
static void node_stop(local_backend *b, node *nd) {
        node_halt(nd, 0, false);
        node_reap(b, nd, 0);
}

/* Delete of a node still booting: a queued boot is dropped, a running one
 * cancelled at its next step (waited for: one step, not a whole boot);
 * then as any node.  Lock held (released while waiting). */
static void cancel_boot(local_backend *b, node *nd) {
        if (nd->phase == NODE_QUEUED) {
                queue_remove(b, nd);
                nd->phase = NODE_FAILED;
                return;
        }
        nd->cancel = true;
        while (nd->phase == NODE_BOOTING)
                pthread_cond_wait(&b->booted, &b->lock);
}

static int local_delete(cp_backend *bb, const char *handle) {
        local_backend *b = (local_backend *) bb;
        pthread_mutex_lock(&b->lock);
        node *target = find_node(b, handle);
        if (target)
                cancel_boot(b, target);
        for (node **p = &b->nodes; *p; p = &(*p)->next) {
                node *nd = *p;
                if (strcmp(nd->handle, handle) != 0)
                        continue;
                int r = broker_erase(b, nd);
                if (r < 0) { /* keep the node: the delete is retried */
                        pthread_mutex_unlock(&b->lock);
                        return r;
                }
                *p = nd->next;
                node_stop(b, nd);
                if (nftw(nd->dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS) < 0 && errno != ENOENT)
                        fprintf(stderr, "local backend: cannot remove %s\n", nd->dir);
                node_free(nd);
                break;
        }
        pthread_mutex_unlock(&b->lock);
        return 0;
}

/* The marker of a stopped node (kept across daemon restarts: recovery
 * lists the node stopped instead of booting it). */
static void stopped_path(const node *nd, char *out, size_t size) {
        snprintf(out, size, "%s/stopped", nd->dir);
}

static int local_stop(cp_backend *bb, const char *handle) {
        local_backend *b = (local_backend *) bb;
        char f[PATH_MAX_ + 32];
        pthread_mutex_lock(&b->lock);
        node *nd = find_node(b, handle);
        int r = 0;
        if (nd && nd->phase != NODE_STOPPED) {
                cancel_boot(b, nd); /* a queued or booting node stops before its next step */
                stopped_path(nd, f, sizeof f);
                r = cp_write_file(f, "stopped\n", 8, 0600);
                if (r >= 0) {
                        /* an orderly stop, as at the daemon's exit: TPM2_Shutdown kept */
                        node_term(nd);
                        uint64_t deadline = cp_proc_clock_ms() + 2000;
                        node_halt(nd, deadline, true);
                        node_reap(b, nd, deadline);
                        nd->exit_status = -1;
                        nd->adopted = false;
                        nd->cancel = false;
                        nd->phase = NODE_STOPPED;
                        snprintf(f, sizeof f, "%s/status.json", nd->dir);
                        unlink(f);
                }
        } else if (!nd)
                r = CP_ERROR(CP_ENOTFOUND, "no node %s in the local backend", handle);
        pthread_mutex_unlock(&b->lock);
        return r;
}

static int local_start(cp_backend *bb, const char *handle) {
        local_backend *b = (local_backend *) bb;
        char f[PATH_MAX_ + 32];
        pthread_mutex_lock(&b->lock);
        node *nd = find_node(b, handle);
        int r = nd ? 0 : CP_ERROR(CP_ENOTFOUND, "no node %s in the local backend", handle);
        if (nd && nd->phase == NODE_STOPPED) {
                stopped_path(nd, f, sizeof f);
                if (unlink(f) < 0 && errno != ENOENT)
                        r = CP_ERROR(CP_EIO, "cannot remove %s: %s", f, strerror(errno));
                if (r >= 0) {
                        /* the same node booted again on its kept disk (disk_kept) */
                        nd->reboot = true;
                        queue_push(b, nd);
                }
        }
        pthread_mutex_unlock(&b->lock);
        return r;
}

static int local_host(cp_backend *bb, const char *handle, char *ret, size_t size) {
        local_backend *b = (local_backend *) bb;
        pthread_mutex_lock(&b->lock);
        node *nd = find_node(b, handle);
        int r = nd && nd->host >= 0 ? 0 : CP_ERROR(CP_ENOTFOUND, "no such node");
        if (r >= 0)
                snprintf(ret, size, "%s", b->hosts[nd->host].name);
        pthread_mutex_unlock(&b->lock);
        return r;
}

/* ---- pre-provisioned vTPMs (issue 19) --------------------------------------
 * <state>/vtpm-pool/ready-<hex>: a swtpm state directory whose TPM has an
 * AK persistent at CP_POOL_AK (made by a pool worker: swtpm started on it,
 * cp_vtpm_create_ak, cp_vtpm_persist_ak, TPM2_Shutdown, swtpm stopped);
 * tmp-<hex>: one being made (removed at start).  A boot moves one ready
 * state to <node>/tpm with rename(2): each state is used by one node only,
 * and each has its own seeds (libtpms made them at its first start). */
#define CP_POOL_AK 0x81000003u
#define POOL_REFILL_IDLE_MS 3000

static int vtpm_provision(local_backend *b, const char *hex) {
        node tmp = {.swtpm = 0};
        boot_state bs = {.swtpm_nice = 19}; /* made while the machine idles: boots go first */
        char from[PATH_MAX_ + 64], to[PATH_MAX_ + 64];
        snprintf(tmp.dir, sizeof tmp.dir, "%s/tmp-%s", b->pool_dir, hex);
        if (mkdir(tmp.dir, 0700) < 0)
                return CP_ERROR(CP_EIO, "cannot create %s: %s", tmp.dir, strerror(errno));
        int r = start_swtpm(b, &tmp, &bs);
        cp_vtpm *t = NULL;
        uint8_t n[256];
        uint32_t e;
        if (r >= 0 && (r = cp_vtpm_open(bs.tcti, &t)) >= 0) {
                if ((r = cp_vtpm_create_ak(t, n, &e)) >= 0 && (r = cp_vtpm_persist_ak(t, CP_POOL_AK)) >= 0)
                        r = cp_vtpm_shutdown(t);
                t = cp_vtpm_close(t);
        }
        stop_process(&tmp.swtpm);
        if (r >= 0) {
                snprintf(from, sizeof from, "%s/tpm", tmp.dir);
                snprintf(to, sizeof to, "%s/ready-%s", b->pool_dir, hex);
                if (rename(from, to) < 0)
                        r = CP_ERROR(CP_EIO, "cannot move %s to %s: %s", from, to, strerror(errno));
        }
        (void) nftw(tmp.dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
        return r;
}

static void *vtpm_pool_worker(void *ud) {
        local_backend *b = ud;
        pthread_mutex_lock(&b->lock);
        while (!b->stop) {
                if (b->pool_ready + b->pool_busy >= b->o.vtpm_pool) {
                        pthread_cond_wait(&b->pool_cond, &b->lock);
                        continue;
                }
                /* boots go first: no AK is made while a boot is queued or
                 * running, nor in the seconds after one (its agent attests
                 * and unlocks its disk then); a pool's boots are not slowed
                 * by refilling the pool they drain (issue 19) */
                long long idle_ms = (long long) cp_proc_clock_ms() - b->last_boot_ms;
                if (b->queue_head || b->booting || idle_ms < POOL_REFILL_IDLE_MS) {
                        struct timespec ts = cp_realtime_in_ms(250);
                        pthread_cond_timedwait(&b->pool_cond, &b->lock, &ts);
                        continue;
                }
                b->pool_busy++;
                pthread_mutex_unlock(&b->lock);
                uint8_t rnd[8];
                char hex[17];
                int r = RAND_bytes(rnd, sizeof rnd) == 1 ? 0 : CP_ERROR(CP_ECRYPTO, "random bytes");
                cp_hex_encode(rnd, sizeof rnd, hex);
                if (r >= 0)
                        r = vtpm_provision(b, hex);
                if (r < 0) {
                        fprintf(stderr, "local backend: vTPM pool: %s\n", cp_error_message());
                        cp_error_clear();
                        sleep(1);
                }
                pthread_mutex_lock(&b->lock);
                b->pool_busy--;
                b->pool_ready += r >= 0;
        }
        pthread_mutex_unlock(&b->lock);
        return NULL;
}

/* A ready state moved to <node_dir>/tpm: the AK's handle, or 0 (none
 * ready, or the node has a vTPM already: a restarted node keeps its own). */
static uint32_t vtpm_pool_take(local_backend *b, const char *node_dir) {
        char to[PATH_MAX_ + 16], from[PATH_MAX_ + 300], mark[PATH_MAX_ + 16];
        snprintf(to, sizeof to, "%s/tpm", node_dir);
        snprintf(mark, sizeof mark, "%s/tpm.pooled", node_dir);
        if (access(to, F_OK) == 0) /* a reboot: its own vTPM, with the pool's AK if it came from there */
                return access(mark, F_OK) == 0 ? CP_POOL_AK : 0;
        if (!b->o.vtpm_pool)
                return 0;
        pthread_mutex_lock(&b->lock);
        bool any = b->pool_ready > 0;
        b->pool_ready -= any;
        pthread_cond_broadcast(&b->pool_cond);
        pthread_mutex_unlock(&b->lock);
        DIR *d = any ? opendir(b->pool_dir) : NULL;
        struct dirent *de;
        uint32_t got = 0;
        while (d && !got && (de = readdir(d))) {
                if (strncmp(de->d_name, "ready-", 6) != 0)
                        continue;
                snprintf(from, sizeof from, "%s/%s", b->pool_dir, de->d_name);
                if (rename(from, to) == 0) /* another boot may have moved it first: the next one */
                        got = CP_POOL_AK;
        }
        if (got && cp_write_file(mark, "0x81000003\n", 11, 0600) < 0) {
                fprintf(stderr, "local backend: %s: %s\n", mark, cp_error_message());
                cp_error_clear(); /* this boot has the AK's handle; a reboot would make its own AK */
        }
        if (d)
                closedir(d);
        return got;
}

/* The pool's directory (states left ready by a previous daemon count; ones
 * half made are removed) and its workers. */
static int vtpm_pool_start(local_backend *b) {
        snprintf(b->pool_dir, sizeof b->pool_dir, "%s/vtpm-pool", b->state_dir);
        if (!b->o.vtpm_pool)
                return 0;
        if (mkdir(b->pool_dir, 0700) < 0 && errno != EEXIST)
                return CP_ERROR(CP_EIO, "cannot create %s: %s", b->pool_dir, strerror(errno));
        DIR *d = opendir(b->pool_dir);
        struct dirent *de;
        char f[PATH_MAX_ + 300];
        while (d && (de = readdir(d))) {
                snprintf(f, sizeof f, "%s/%s", b->pool_dir, de->d_name);
                if (strncmp(de->d_name, "ready-", 6) == 0)
                        b->pool_ready++;
                else if (strncmp(de->d_name, "tmp-", 4) == 0)
                        (void) nftw(f, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
        }
        if (d)
                closedir(d);
        long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
        unsigned w = b->o.vtpm_pool_workers ? b->o.vtpm_pool_workers : ncpu > 0 ? (unsigned) ncpu : 1;
        for (unsigned i = 0; i < w && i < MAX_BOOT_WORKERS; i++) {
                if (pthread_create(&b->pool_workers[b->n_pool_workers], NULL, vtpm_pool_worker, b) != 0)
                        return CP_ERROR(CP_EINTERNAL, "local backend: cannot start its vTPM pool workers");
                b->n_pool_workers++;
        }
        return 0;
}

size_t cp_backend_local_vtpm_pool_ready(cp_backend *bb) {
        local_backend *b = (local_backend *) bb;
        pthread_mutex_lock(&b->lock);
        size_t n = b->pool_ready;
        pthread_mutex_unlock(&b->lock);
        return n;
}

/* A host's thread ended and what it holds freed: the guest socket (its path
 * unlinked only with unlink_sock: a successor daemon may have bound it),
 * the software AMD-SP or TDX module, the TDX quote endpoint (its port free
 * for a successor); the slot left empty. */
static void host_close(host *h, bool unlink_sock) {
        if (atomic_load(&h->running)) {
                atomic_store(&h->running, false);
                pthread_join(h->thread, NULL);
        }
        if (h->listen_fd >= 0)
                close(h->listen_fd);
        if (unlink_sock && h->sock[0])
                unlink(h->sock);
        cp_amdsp_free(h->sp);
        h->imds = cp_tdx_imds_stop(h->imds);
        cp_tdx_host_free(h->td);
        memset(h, 0, sizeof *h);
        h->listen_fd = -1;
}

static void local_free(cp_backend *bb) {
        local_backend *b = (local_backend *) bb;
        /* running boots stop at their next step; queued ones stay on disk
         * (spec.json) for the next daemon's recovery */
        pthread_mutex_lock(&b->lock);
        b->stop = true;
        pthread_cond_broadcast(&b->work);
        pthread_cond_broadcast(&b->pool_cond);
        pthread_mutex_unlock(&b->lock);
        for (size_t i = 0; i < b->n_workers; i++)
                pthread_join(b->workers[i], NULL);
        b->n_workers = 0;
        for (size_t i = 0; i < b->n_pool_workers; i++)
                pthread_join(b->pool_workers[i], NULL);
        b->n_pool_workers = 0;
        for (node *nd = b->nodes; nd; nd = nd->next)
                node_term(nd);
        uint64_t deadline = cp_proc_clock_ms() + 2000;
        for (node *nd = b->nodes; nd; nd = nd->next)
                node_halt(nd, deadline, true);
        while (b->nodes) {
                node *nd = b->nodes;
                b->nodes = nd->next;
                node_reap(b, nd, deadline);
                node_free(nd);
        }
        for (size_t i = 0; i < b->n_hosts; i++)
                host_close(&b->hosts[i], true);
        b->tdx_httpd = cp_httpd_stop(b->tdx_httpd);
        b->tdx_pcs = cp_tdx_pcs_free(b->tdx_pcs);
        pthread_cond_destroy(&b->work);
        pthread_cond_destroy(&b->booted);
        pthread_cond_destroy(&b->pool_cond);
        pthread_mutex_destroy(&b->port_lock);
        pthread_mutex_destroy(&b->lock);
        free(b);
}

static int local_check_bootstrap(cp_backend *bb, const char *handle, const char *token) {
        local_backend *b = (local_backend *) bb;
        char f[PATH_MAX_ + 32];
        pthread_mutex_lock(&b->lock);
        node *nd = find_node(b, handle);
        bool std = nd && size_gen(nd->vm_size) == KIND_NONE;
        if (nd)
                snprintf(f, sizeof f, "%s/bootstrap.token", nd->dir);
        pthread_mutex_unlock(&b->lock);
        if (!std)
                return CP_ERROR(CP_EBINDING, "no node of a non-confidential size %s", handle);
        _cleanup_free_ uint8_t *buf = NULL;
        size_t len = 0;
        int r = cp_read_file(f, 128, &buf, &len);
        size_t tl = strlen(token);
        bool ok = r >= 0 && len == 71 && tl == 71 && cp_ct_eq(buf, token, 71);
        if (buf)
                cp_wipe(buf, len);
        cp_error_clear();
        return ok ? 0 : CP_ERROR(CP_EBINDING, "the bootstrap token is not the node's");
}

static const cp_backend_ops local_ops = {
        .name = "local",
        .create_node = local_create,
        .node_status = local_status,
        .delete_node = local_delete,
        .free = local_free,
        .expected_measurement = local_expected,
        .node_host = local_host,
        .stop_node = local_stop,
        .start_node = local_start,
        .check_bootstrap = local_check_bootstrap,
};

int cp_backend_local_new(const cp_local_options *o, cp_backend **ret) {
        if (!o || !o->state_dir || !o->agent_path)
                return CP_ERROR(CP_EINVAL, "local backend: state_dir and agent_path are required");
        if (strlen(o->state_dir) > 900 || (o->hosts_dir && strlen(o->hosts_dir) > 900))
                return CP_ERROR(CP_ETOOBIG, "local backend: directory names too long");
        local_backend *b = calloc(1, sizeof *b);
        if (!b)
                return cp_error_oom();
        b->base.ops = &local_ops;
        b->o = *o;
        snprintf(b->state_dir, sizeof b->state_dir, "%s", o->state_dir);
        if (o->hosts_dir)
                snprintf(b->hosts_dir, sizeof b->hosts_dir, "%s", o->hosts_dir);
        else
                snprintf(b->hosts_dir, sizeof b->hosts_dir, "%s/hosts", o->state_dir);
        snprintf(b->agent, sizeof b->agent, "%s", o->agent_path);
        snprintf(b->swtpm, sizeof b->swtpm, "%s", o->swtpm_path ? o->swtpm_path : "swtpm");
        snprintf(b->ovmf, sizeof b->ovmf, "%s", o->ovmf_path ? o->ovmf_path : "/usr/share/ovmf/OVMF.fd");
        snprintf(b->attestd, sizeof b->attestd, "%s", o->attestd_url ? o->attestd_url : "");
        snprintf(b->cp_url, sizeof b->cp_url, "%s", o->controlplane_url ? o->controlplane_url : "");
        pthread_mutex_init(&b->lock, NULL);
        pthread_mutex_init(&b->port_lock, NULL);
        pthread_cond_init(&b->work, NULL);
        pthread_cond_init(&b->booted, NULL);
        pthread_cond_init(&b->pool_cond, NULL);
        b->o.state_dir = b->o.hosts_dir = b->o.agent_path = b->o.swtpm_path = b->o.ovmf_path = NULL;
        b->o.attestd_url = b->o.controlplane_url = NULL;
        char d[PATH_MAX_ + 16];
        snprintf(d, sizeof d, "%s/nodes", b->state_dir);
        if ((mkdir(b->state_dir, 0700) < 0 && errno != EEXIST) || (mkdir(b->hosts_dir, 0700) < 0 && errno != EEXIST) ||
            (mkdir(d, 0700) < 0 && errno != EEXIST)) {
                int r = CP_ERROR(CP_EIO, "local backend: cannot create its directories: %s", strerror(errno));
                local_free(&b->base);
                return r;
        }
        if (o->node_nice < 0 || o->node_nice > 19) {
                local_free(&b->base);
                return CP_ERROR(CP_EINVAL, "local backend: node_nice must be 0..19");
        }
        /* 0: twice the online CPUs (a boot mostly waits for its swtpm and
         * the disk), at least 3 */
        long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
        unsigned workers = o->boot_workers ? o->boot_workers : ncpu > 1 ? (unsigned) (2 * ncpu) : 3;
        if (workers < 3 && !o->boot_workers)
                workers = 3;
        if (workers > MAX_BOOT_WORKERS)
                workers = MAX_BOOT_WORKERS;
        for (unsigned i = 0; i < workers; i++) {
                if (pthread_create(&b->workers[b->n_workers], NULL, boot_worker, b) != 0) {
                        int r = CP_ERROR(CP_EINTERNAL, "local backend: cannot start its boot workers");
                        local_free(&b->base);
                        return r;
                }
                b->n_workers++;
        }
        int pr = vtpm_pool_start(b);
        if (pr < 0) {
                local_free(&b->base);
                return pr;
        }
        *ret = &b->base;
        return 0;
}

int cp_backend_local_set_controlplane_url(cp_backend *bb, const char *url) {
        if (bb->ops != &local_ops)
                return CP_ERROR(CP_EINVAL, "not the local backend");
        local_backend *b = (local_backend *) bb;
        pthread_mutex_lock(&b->lock);
        snprintf(b->cp_url, sizeof b->cp_url, "%s", url);
        pthread_mutex_unlock(&b->lock);
        return 0;
}

int cp_backend_local_set_controlplane_ca(cp_backend *bb, const char *ca_file) {
        if (bb->ops != &local_ops)
                return CP_ERROR(CP_EINVAL, "not the local backend");
        local_backend *b = (local_backend *) bb;
        if (ca_file && (ca_file[0] != '/' || strlen(ca_file) >= sizeof b->cp_ca))
                return CP_ERROR(CP_EINVAL, "the control plane's CA file must be an absolute path: %.200s", ca_file);
        pthread_mutex_lock(&b->lock);
        snprintf(b->cp_ca, sizeof b->cp_ca, "%s", ca_file ? ca_file : "");
        pthread_mutex_unlock(&b->lock);
        return 0;
}

int cp_backend_local_set_attestd_url(cp_backend *bb, const char *url) {
        if (bb->ops != &local_ops)
                return CP_ERROR(CP_EINVAL, "not the local backend");
        local_backend *b = (local_backend *) bb;
        pthread_mutex_lock(&b->lock);
        snprintf(b->attestd, sizeof b->attestd, "%s", url);
        pthread_mutex_unlock(&b->lock);
        return 0;
}

int cp_backend_local_ark(cp_backend *bb, cp_snp_generation gen, uint8_t **ret, size_t *ret_len) {
        if (bb->ops != &local_ops)
                return CP_ERROR(CP_EINVAL, "not the local backend");
        local_backend *b = (local_backend *) bb;
        size_t first;
        pthread_mutex_lock(&b->lock);
        int r = hosts_of(b, gen, &first);
        if (r >= 0)
                r = cp_amdsp_ca_cert(b->hosts[first].sp, CP_AMD_CERT_ARK, ret, ret_len);
        pthread_mutex_unlock(&b->lock);
        return r;
}

int cp_backend_local_set_host_tcb(cp_backend *bb, cp_snp_generation gen, const cp_snp_tcb *tcb) {
        if (bb->ops != &local_ops)
                return CP_ERROR(CP_EINVAL, "not the local backend");
        local_backend *b = (local_backend *) bb;
        size_t first;
        pthread_mutex_lock(&b->lock);
        int r = hosts_of(b, gen, &first);
        for (size_t i = first; r >= 0 && i < b->n_hosts && b->hosts[i].gen == gen; i++)
                r = cp_amdsp_set_tcb(b->hosts[i].sp, tcb);
        pthread_mutex_unlock(&b->lock);
        return r;
}

int cp_backend_local_tdx_platform(cp_backend *bb, char **ret_root_pem, size_t *ret_len, char *ret_url,
                                  size_t url_size) {
        if (bb->ops != &local_ops)
                return CP_ERROR(CP_EINVAL, "not a local backend");
        local_backend *b = (local_backend *) bb;
        pthread_mutex_lock(&b->lock);
        int r = tdx_platform(b);
        if (r >= 0 && ret_url)
                snprintf(ret_url, url_size, "%s", b->tdx_url);
        if (r >= 0 && ret_root_pem)
                r = cp_tdx_pcs_root_pem(b->tdx_pcs, ret_root_pem, ret_len);
        pthread_mutex_unlock(&b->lock);
        return r;
}

int cp_backend_local_tdx_recovery(cp_backend *bb, const char *advisory, const char *update_host) {
        if (bb->ops != &local_ops)
                return CP_ERROR(CP_EINVAL, "not a local backend");
        local_backend *b = (local_backend *) bb;
        size_t first;
        pthread_mutex_lock(&b->lock);
        int r = hosts_of(b, KIND_TDX_SPR, &first);
        cp_tdx_tcb t = {0};
        if (r >= 0) {
                /* the raised TCB: TDX TCB component 2 one above the best host's (components
                 * 0 and 1, the module's SVN and version, are graded by the module identity,
                 * not the platform level: docs/tdx.md) */
                cp_tdx_pcs_default_tcb(b->tdx_pcs, &t);
                for (size_t i = 0; i < b->n_hosts; i++)
                        if (KIND_IS_TDX(b->hosts[i].gen)) {
                                cp_tdx_tcb h;
                                cp_tdx_host_tcb(b->hosts[i].td, &h);
                                if (h.tdx[2] > t.tdx[2])
                                        t = h;
                        }
                t.tdx[2]++;
                r = cp_tdx_pcs_tcb_recovery(b->tdx_pcs, &t, advisory);
        }
        for (size_t i = 0; r >= 0 && update_host && i < b->n_hosts; i++)
                if (KIND_IS_TDX(b->hosts[i].gen) && strcmp(b->hosts[i].name, update_host) == 0)
                        r = cp_tdx_host_set_tcb(b->hosts[i].td, &t, 0);
        pthread_mutex_unlock(&b->lock);
        return r;
}

int cp_backend_local_signal(cp_backend *bb, const char *handle, int sig) {
        if (bb->ops != &local_ops)
                return CP_ERROR(CP_EINVAL, "not the local backend");
        local_backend *b = (local_backend *) bb;
        pthread_mutex_lock(&b->lock);
        node *nd = find_node(b, handle);
        int r = nd && nd->phase == NODE_UP && nd->agent > 0 && nd->exit_status < 0
                        ? 0
                        : CP_ERROR(CP_ENOTFOUND, "no running agent for %s", handle);
        if (r >= 0 && kill(nd->agent, sig) < 0)
                r = CP_ERROR(CP_EIO, "kill: %s", strerror(errno));
        pthread_mutex_unlock(&b->lock);
        return r;
}

int cp_backend_local_open_hosts(cp_backend *bb, char ***ret_paths, size_t *ret_n) {
        if (bb->ops != &local_ops)
                return CP_ERROR(CP_EINVAL, "not the local backend");
        local_backend *b = (local_backend *) bb;
        static const cp_snp_generation gens[] = {CP_SNP_GEN_MILAN, CP_SNP_GEN_GENOA};
        size_t first;
        pthread_mutex_lock(&b->lock);
        int r = 0;
        for (size_t i = 0; i < CP_ELEMENTSOF(gens) && r >= 0; i++)
                r = hosts_of(b, gens[i], &first);
        char **v = r >= 0 ? calloc(CP_ELEMENTSOF(gens) + 1, sizeof *v) : NULL;
        if (r >= 0 && !v)
                r = cp_error_oom();
        size_t n = 0;
        /* one ARK per generation: its hosts share it */
        for (size_t i = 0; r >= 0 && i < CP_ELEMENTSOF(gens); i++) {
                size_t len = strlen(b->hosts_dir) + 64;
                if (!(v[n] = malloc(len)))
                        r = cp_error_oom();
                else
                        snprintf(v[n++], len, "%s/host-%s-0/ark.der", b->hosts_dir, gen_name(gens[i]));
        }
        pthread_mutex_unlock(&b->lock);
        if (r < 0) {
                for (size_t i = 0; v && i < n; i++)
                        free(v[i]);
                free(v);
                return r;
        }
        *ret_paths = v;
        *ret_n = n;
        return 0;
}

/* A node's persisted description: its node.json (the boot finished), else
 * its spec.json; NULL if neither parses. */
static json_t *node_record(const char *dir, bool *ret_booted) {
        static const char *const files[] = {"node.json", "spec.json"};
        for (size_t i = 0; i < CP_ELEMENTSOF(files); i++) {
                char f[1300];
                uint8_t *buf = NULL;
                size_t len;
                snprintf(f, sizeof f, "%s/%s", dir, files[i]);
                json_t *j = NULL;
                if (cp_read_file(f, 64 * 1024, &buf, &len) >= 0)
                        j = json_loadb((const char *) buf, len, 0, NULL);
                cp_error_clear();
                free(buf);
                if (j) {
                        *ret_booted = i == 0;
                        return j;
                }
        }
        return NULL;
}

/* The pid a pid file names if that process is alive and still this node's
 * (its command line holds marker); 0 otherwise. */
static pid_t live_pid(const char *dir, const char *file, const char *marker) {
        char f[1300];
        pid_t pid = 0;
        snprintf(f, sizeof f, "%s/%s", dir, file);
        if (cp_proc_read_pidfile(f, &pid) < 0) {
                cp_error_clear();
                return 0;
        }
        return cp_proc_matches(pid, marker) ? pid : 0;
}

/* The TD of a TDX node a previous daemon (killed) left running, taken back
 * as a VMM restarted on its host finds its TDs (issue 16): resumed from
 * td.json by the host's module (refused unless its MAC verifies under that
 * platform's key: not altered, not another host's), its MRTD the one
 * node.json names, its MRCONFIGID this node's identity, its guest channel
 * reopened on the path node.json gave the agent.  Lock held. */
static int adopt_td(local_backend *b, node *nd, const json_t *j, int hidx) {
        char f[PATH_MAX_ + 16], sock[PATH_MAX_], identity[800], hex[97];
        uint8_t want[48], mrtd[48], id[32], rd[64] = {0}, rep[CP_TDX_TDREPORT_SIZE];
        const char *jm = json_string_value(json_object_get(j, "tdxMrtd"));
        const char *js = json_string_value(json_object_get(j, "tdxSocket"));
        size_t n = 0;
        if (!jm || strlen(jm) != 96 || cp_hex_decode(jm, 96, want, 48, &n) < 0 || n != 48)
                return CP_ERROR(CP_EFORMAT, "its node.json names no tdxMrtd (48 bytes of hex)");
        const char *ev = json_string_value(json_object_get(j, "evidence"));
        bool hcl = ev && strcmp(ev, "azure-hcl") == 0; /* under the paravisor: no channel given to the agent */
        td_sock_path(b, nd, sock, sizeof sock);
        if (!hcl && (!js || strcmp(js, sock) != 0))
                return CP_ERROR(CP_EFORMAT, "its node.json's tdxSocket is not the node's channel %s", sock);
        snprintf(f, sizeof f, "%s/td.json", nd->dir);
        cp_tdx_td *td = NULL;
        int r = cp_tdx_td_resume(b->hosts[hidx].td, f, &td);
        if (r < 0)
                return cp_error_wrap("on %s", b->hosts[hidx].name);
        cp_tdx_td_mrtd(td, mrtd);
        if ((r = cp_node_identity(nd->pool_id, nd->name, identity, sizeof identity)) >= 0)
                r = cp_tdx_td_report(td, rd, rep);
        SHA256((const uint8_t *) identity, strlen(identity), id);
        static const uint8_t zero[16];
        if (r >= 0 && memcmp(mrtd, want, 48) != 0) {
                cp_hex_encode(mrtd, 48, hex);
                hex[96] = '\0';
                r = CP_ERROR(CP_EPOLICY, "the persisted TD's MRTD %s is not the %s node.json names", hex, jm);
        } else if (r >= 0 && (memcmp(rep + 512 + 64, id, 32) != 0 || memcmp(rep + 512 + 96, zero, 16) != 0))
                r = CP_ERROR(CP_EPOLICY, "the persisted TD's MRCONFIGID is not this node's identity");
        if (r < 0) {
                cp_tdx_td_free(td);
                return r;
        }
        nd->td = td;
        nd->tdemu = (cp_tdx_emu) {.host = b->hosts[hidx].td, .td = td};
        if ((r = cp_tdx_chan_start(&nd->tdemu, sock, &nd->tdchan)) < 0) {
                nd->td = cp_tdx_td_free(nd->td);
                return cp_error_wrap("TD guest channel");
        }
        return hcl ? host_imds(b, &b->hosts[hidx], NULL) : 0;
}

/* Whether two comma-separated URL lists (the control plane's URLs an agent
 * is given: one, or every replica's) name the same set, in any order. */
static bool url_set_has_all(const char *a, const char *b) {
        for (const char *p = a; *p;) {
                size_t n = strcspn(p, ",");
                bool found = false;
                for (const char *q = b; *q && !found;) {
                        size_t m = strcspn(q, ",");
                        found = m == n && strncmp(p, q, n) == 0;
                        q += m + (q[m] == ',');
                }
                if (!found)
                        return false;
                p += n + (p[n] == ',');
        }
        return true;
}

static bool url_set_eq(const char *a, const char *b) {
        return url_set_has_all(a, b) && url_set_has_all(b, a);
}

/* Adopt a node a previous daemon (killed, not stopped) left running: its
 * boot finished (node.json), its agent and swtpm are alive, it talks to
 * the URLs this daemon has, and its host is one of ours.  The node keeps
 * running, Ready as it was, heartbeating to the same URL; nothing is
 * restarted.  Lock held; false (nothing changed) if it cannot be adopted. */
static bool adopt_node(local_backend *b, node *nd, const json_t *j) {
        char am[PATH_MAX_ + 32], sm[PATH_MAX_ + 32];
        const char *cp = json_string_value(json_object_get(j, "controlplane"));
        const char *att = json_string_value(json_object_get(j, "attestd"));
        const char *hname = json_string_value(json_object_get(j, "host"));
        const char *tcti = json_string_value(json_object_get(j, "tcti"));
        const char *port = tcti ? strstr(tcti, ",port=") : NULL;
        if (!cp || !att || !hname || !port || !url_set_eq(cp, b->cp_url) || strcmp(att, b->attestd) != 0)
                return false;
        unsigned long tp = strtoul(port + 6, NULL, 10);
        size_t first;
        if (tp == 0 || tp > 65534 || hosts_of(b, size_gen(nd->vm_size), &first) < 0) {
                cp_error_clear();
                return false;
        }
        int hidx = -1;
        for (size_t i = 0; i < b->n_hosts && hidx < 0; i++)
                if (strcmp(b->hosts[i].name, hname) == 0)
                        hidx = (int) i;
        agent_marker(nd->dir, am, sizeof am);
        swtpm_marker(nd->dir, sm, sizeof sm);
        pid_t agent = live_pid(nd->dir, "agent.pid", am), swtpm = live_pid(nd->dir, "swtpm.pid", sm);
        if (hidx < 0 || agent <= 0 || swtpm <= 0)
                return false;
        if (KIND_IS_TDX(b->hosts[hidx].gen) && adopt_td(b, nd, j, hidx) < 0) {
                /* booted again (a new TD, the same MRTD and RTMRs) on its kept disk */
                fprintf(stderr, "local backend: %s: TDX node not adopted, booted again on its kept disk: %s\n",
                        nd->name, cp_error_message());
                cp_error_clear();
                return false;
        }
        nd->agent = agent;
        nd->swtpm = swtpm;
        nd->tpm_port = (uint16_t) tp;
        nd->host = hidx;
        b->hosts[hidx].nodes++;
        nd->adopted = true;
        nd->phase = NODE_UP;
        nd->t_queued = (long long) now_ms(); /* Unix ms, as the other bootTimes */
        nd->next = b->nodes;
        b->nodes = nd;
        return true;
}

/* What a previous daemon left running of a node it did not keep: its
 * agent and swtpm (pid files; a daemon killed between spawning and
 * recording leaves none: matched by command line). */
static void stop_leftovers(const char *dir) {
        char f[1300], marker[1300];
        agent_marker(dir, marker, sizeof marker);
        snprintf(f, sizeof f, "%s/agent.pid", dir);
        cp_proc_stop_pidfile(f, marker, 2000);
        cp_proc_stop_matching(marker, 2000);
        swtpm_marker(dir, marker, sizeof marker);
        snprintf(f, sizeof f, "%s/swtpm.pid", dir);
        cp_proc_stop_pidfile(f, marker, 2000);
        cp_proc_stop_matching(marker, 2000);
}

/* One persisted node: adopted if it is still running (adopt_node), else
 * what a previous daemon left of it is stopped and its boot queued again
 * from its node.json (or, for a node whose boot had not finished, its
 * spec.json), keeping its OS disk (disk_kept); lock held. */
static int recover_node(local_backend *b, const char *name, unsigned *adopted, unsigned *restarted) {
        char dir[1200], f[1300];
        snprintf(dir, sizeof dir, "%.1024s/nodes/%.81s", b->state_dir, name);
        bool booted = false;
        json_t *j = node_record(dir, &booted);
        const char *pool = json_string_value(json_object_get(j, "pool"));
        const char *mname = json_string_value(json_object_get(j, "name"));
        const char *size = json_string_value(json_object_get(j, "vmSize"));
        const char *image = json_string_value(json_object_get(j, "image"));
        char handle[128], want[1200];
        bool valid = pool && mname && size && image &&
                     node_paths(b, pool, mname, handle, sizeof handle, want, sizeof want) >= 0 &&
                     strcmp(want, dir) == 0;
        cp_error_clear();
        node *nd = NULL;
        int r = 0;
        if (valid && !find_node(b, handle)) {
                if ((r = node_new(b, mname, pool, size, image, true, &nd)) < 0) {
                        json_decref(j);
                        return r;
                }
                const char *ver = json_string_value(json_object_get(j, "orchestratorVersion"));
                snprintf(nd->version, sizeof nd->version, "%s", ver ? ver : "");
                snprintf(f, sizeof f, "%s/stopped", dir);
                if (access(f, F_OK) == 0) {
                        /* stopped (deallocated; a daemon killed while stopping it
                         * may have left its processes): listed, not booted */
                        json_decref(j);
                        stop_leftovers(dir);
                        nd->phase = NODE_STOPPED;
                        nd->next = b->nodes;
                        b->nodes = nd;
                        return 0;
                }
                if (booted && adopt_node(b, nd, j)) {
                        (*adopted)++;
                        json_decref(j);
                        return 0;
                }
        }
        json_decref(j);
        stop_leftovers(dir);
        if (!valid) {
                /* not even a spec (the daemon died in create), or a directory
                 * not under its (pool, name) path (the unscoped layout of
                 * before issue 13: its machine is replaced): nothing to keep */
                if (nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS) < 0 && errno != ENOENT)
                        return CP_ERROR(CP_EIO, "cannot remove %s", dir);
                return 0;
        }
        if (nd) {
                snprintf(f, sizeof f, "%s/status.json", dir);
                unlink(f);
                nd->reboot = true;
                node_enqueue(b, nd);
                (*restarted)++;
        }
        return 0;
}

int cp_backend_local_recover(cp_backend *bb, unsigned *ret_adopted, unsigned *ret_restarted) {
        if (bb->ops != &local_ops)
                return CP_ERROR(CP_EINVAL, "not the local backend");
        local_backend *b = (local_backend *) bb;
        char d[PATH_MAX_ + 16];
        snprintf(d, sizeof d, "%s/nodes", b->state_dir);
        DIR *dp = opendir(d);
        if (!dp)
                return CP_ERROR(CP_EIO, "cannot open %s: %s", d, strerror(errno));
        unsigned restarted = 0, adopted = 0;
        int r = 0;
        pthread_mutex_lock(&b->lock);
        struct dirent *de;
        while (r >= 0 && (de = readdir(dp))) {
                if (de->d_name[0] == '.' || strlen(de->d_name) >= 81)
                        continue;
                r = recover_node(b, de->d_name, &adopted, &restarted);
        }
        pthread_mutex_unlock(&b->lock);
        closedir(dp);
        if (r >= 0 && ret_restarted)
                *ret_restarted = restarted;
        if (r >= 0 && ret_adopted)
                *ret_adopted = adopted;
        return r;
}

/* The hosts closed without touching what their sockets' paths now name (a
 * successor may have bound them already); lock held. */
static void hosts_close(local_backend *b) {
        for (size_t i = 0; i < b->n_hosts; i++)
                host_close(&b->hosts[i], false);
        b->n_hosts = 0;
}

int cp_backend_local_detach(cp_backend *bb, unsigned *ret_left) {
        if (bb->ops != &local_ops)
                return CP_ERROR(CP_EINVAL, "not the local backend");
        local_backend *b = (local_backend *) bb;
        unsigned left = 0;
        pthread_mutex_lock(&b->lock);
        b->detaching = true;
        b->queue_head = b->queue_tail = NULL; /* queued boots: on disk (spec.json) */
        for (;;) {
                bool booting = false;
                for (node *nd = b->nodes; nd && !booting; nd = nd->next)
                        booting = nd->phase == NODE_BOOTING;
                if (!booting)
                        break;
                pthread_cond_wait(&b->booted, &b->lock);
        }
        while (b->nodes) {
                node *nd = b->nodes;
                b->nodes = nd->next;
                left += nd->phase == NODE_UP;
                node_free(nd); /* its processes keep running: not stopped, not reaped */
        }
        hosts_close(b);
        /* the stack's emulated Intel PCS too: its kept port (hosts/tdx/pcs.port,
         * the one attestd was given) is the successor's to bind, and pcs.json
         * is read again should this daemon lead again (a successor's TCB
         * recovery changed it meanwhile) */
        b->tdx_httpd = cp_httpd_stop(b->tdx_httpd);
        b->tdx_pcs = cp_tdx_pcs_free(b->tdx_pcs);
        b->detaching = false;
        pthread_mutex_unlock(&b->lock);
        if (ret_left)
                *ret_left = left;
        return 0;
}
