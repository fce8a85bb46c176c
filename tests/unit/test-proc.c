/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for src/shared/proc.c: spawning (output redirection, PATH lookup,
 * session, process group, niceness, descriptors), waiting, stopping (with
 * SIGKILL escalation) and pid files. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "basic/fileio.h"
#include "service/proc.h"
#include "tests.h"

static char tmp[64];

static const char *tmpdir(void) {
        if (!tmp[0]) {
                snprintf(tmp, sizeof tmp, "/tmp/cp-test-proc-XXXXXX");
                ASSERT_TRUE(mkdtemp(tmp) != NULL);
        }
        return tmp;
}

static void path(char *out, size_t size, const char *name) {
        snprintf(out, size, "%s/%s", tmpdir(), name);
}

/* The file's text (NUL-terminated; "" if missing); caller frees. */
static char *slurp(const char *p) {
        uint8_t *buf = NULL;
        size_t len = 0;
        if (cp_read_file(p, 1 << 16, &buf, &len) < 0) {
                cp_error_clear();
                return strdup("");
        }
        return (char *) buf;
}

/* Run sh -c script with o; returns cp_proc_status_code of its end. */
static int sh(const char *script, const cp_proc_options *o) {
        char *argv[] = {"/bin/sh", "-c", (char *) script, NULL};
        pid_t pid;
        int st;
        ASSERT_OK(cp_proc_spawn(argv, o, &pid));
        ASSERT_OK(cp_proc_wait(pid, &st));
        return cp_proc_status_code(st);
}

static void nap_ms(unsigned ms) {
        struct timespec ts = {ms / 1000, (long) (ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
}

TEST(spawn_truncates_stdout_and_appends_stderr) {
        char out[128], err[128];
        path(out, sizeof out, "out");
        path(err, sizeof err, "err");
        ASSERT_OK(cp_write_file(out, "old out\n", 8, 0600));
        ASSERT_OK(cp_write_file(err, "old err\n", 8, 0600));
        cp_proc_options o = {.out = CP_PROC_TRUNCATE, .out_path = out, .err = CP_PROC_APPEND, .err_path = err};
        ASSERT_EQ(sh("echo to-out; echo to-err >&2", &o), 0);
        char *a = slurp(out), *b = slurp(err);
        ASSERT_STREQ(a, "to-out\n");
        ASSERT_STREQ(b, "old err\nto-err\n");
        free(a);
        free(b);
        struct stat st;
        unlink(out);
        ASSERT_EQ(sh("true", &o), 0);
        ASSERT_OK(stat(out, &st));
        ASSERT_EQ(st.st_mode & 0777, 0600);
        unlink(out);
        unlink(err);
}

TEST(spawn_stderr_as_stdout_and_append) {
        char log[128];
        path(log, sizeof log, "log");
        ASSERT_OK(cp_write_file(log, "first\n", 6, 0600));
        cp_proc_options o = {.out = CP_PROC_APPEND, .out_path = log, .err = CP_PROC_AS_STDOUT};
        ASSERT_EQ(sh("echo a; echo b >&2", &o), 0);
        char *t = slurp(log);
        ASSERT_STREQ(t, "first\na\nb\n");
        free(t);
        unlink(log);
}

TEST(spawn_devnull_and_stdin_null) {
        char out[128];
        path(out, sizeof out, "in");
        cp_proc_options o = {.out = CP_PROC_TRUNCATE, .out_path = out, .err = CP_PROC_DEVNULL, .stdin_null = true};
        /* stdin is /dev/null: cat ends at once and prints nothing */
        ASSERT_EQ(sh("cat; echo done; echo hidden >&2", &o), 0);
        char *t = slurp(out);
        ASSERT_STREQ(t, "done\n");
        free(t);
        unlink(out);
}

TEST(spawn_output_open_error) {
        cp_proc_options o = {.out = CP_PROC_TRUNCATE, .out_path = "/nonexistent-dir/x"};
        char *argv[] = {"/bin/true", NULL};
        pid_t pid = 0;
        ASSERT_ERR(cp_proc_spawn(argv, &o, &pid), CP_EIO);
        ASSERT_TRUE(strstr(cp_error_message(), "cannot open /nonexistent-dir/x") != NULL);
        o = (cp_proc_options) {.out = CP_PROC_AS_STDOUT};
        ASSERT_ERR(cp_proc_spawn(argv, &o, &pid), CP_EINVAL);
        cp_error_clear();
}

TEST(spawn_path_lookup_and_exec_failure) {
        char err[128];
        path(err, sizeof err, "exec-err");
        /* without search_path, argv[0] is taken as a path: no child, an error naming it */
        char *argv[] = {"sh", "-c", "exit 3", NULL};
        pid_t pid = 0;
        int st;
        cp_proc_options o = {.err = CP_PROC_TRUNCATE, .err_path = err};
        ASSERT_ERR(cp_proc_spawn(argv, &o, &pid), CP_ENOTFOUND);
        ASSERT_TRUE(strncmp(cp_error_message(), "cannot run sh: ", 15) == 0);
        cp_error_clear();
        ASSERT_EQ(pid, 0);
        /* with it, sh is found in $PATH */
        o.search_path = true;
        ASSERT_OK(cp_proc_spawn(argv, &o, &pid));
        ASSERT_OK(cp_proc_wait(pid, &st));
        ASSERT_EQ(cp_proc_status_code(st), 3);
        /* a path that is not there, and one that is not executable */
        char *bad[] = {"/nonexistent/program", NULL};
        ASSERT_ERR(cp_proc_spawn(bad, &o, &pid), CP_ENOTFOUND);
        ASSERT_TRUE(strstr(cp_error_message(), "/nonexistent/program") != NULL);
        cp_error_clear();
        char *noexec[] = {err, NULL}; /* the (0600) output file */
        o.search_path = false;
        ASSERT_ERR(cp_proc_spawn(noexec, &o, &pid), CP_ENOTFOUND);
        cp_error_clear();
        char *t = slurp(err);
        ASSERT_STREQ(t, "");
        free(t);
        unlink(err);
}

/* Spawning from several threads at once (the daemons' boot workers): each
 * child gets its own output and niceness, and exits as told. */
typedef struct spawn_many_arg {
        int i;
        int bad;
} spawn_many_arg;

static void *spawn_many(void *ud) {
        spawn_many_arg *a = ud;
        for (int k = 0; k < 10 && !a->bad; k++) {
                char out[160], script[96], want[32];
                snprintf(out, sizeof out, "%s/cc-%d-%d", tmpdir(), a->i, k);
                snprintf(script, sizeof script, "echo %d-%d $(cut -d' ' -f19 /proc/self/stat); exit %d", a->i, k, k);
                char *argv[] = {"/bin/sh", "-c", script, NULL};
                cp_proc_options o = {.out = CP_PROC_TRUNCATE, .out_path = out, .niceness = k % 2 ? 3 : 0,
                                     .close_fds = true};
                pid_t pid;
                int st;
                if (cp_proc_spawn(argv, &o, &pid) < 0 || cp_proc_wait(pid, &st) < 0 || cp_proc_status_code(st) != k) {
                        a->bad = 1;
                        break;
                }
                int base = getpriority(PRIO_PROCESS, 0);
                int nice = k % 2 ? (base + 3 > 19 ? 19 : base + 3) : base;
                snprintf(want, sizeof want, "%d-%d %d\n", a->i, k, nice);
                uint8_t *t = NULL;
                size_t tl = 0;
                if (cp_read_file(out, 4096, &t, &tl) < 0 || tl != strlen(want) || memcmp(t, want, tl) != 0)
                        a->bad = 2;
                free(t);
                unlink(out);
        }
        return NULL;
}

TEST(spawn_concurrent_from_threads) {
        enum { T = 6 };
        pthread_t th[T];
        spawn_many_arg args[T];
        for (int i = 0; i < T; i++) {
                args[i] = (spawn_many_arg) {.i = i};
                ASSERT_EQ(pthread_create(&th[i], NULL, spawn_many, &args[i]), 0);
        }
        for (int i = 0; i < T; i++) {
                ASSERT_EQ(pthread_join(th[i], NULL), 0);
                ASSERT_EQ(args[i].bad, 0);
        }
}

TEST(spawn_session_and_group) {
        cp_proc_options o = {.new_session = true};
        char *argv[] = {"/bin/sh", "-c", "sleep 0.2", NULL};
        pid_t pid;
        int st;
        ASSERT_OK(cp_proc_spawn(argv, &o, &pid));
        nap_ms(50);
        ASSERT_EQ(getsid(pid), pid);
        ASSERT_EQ(getpgid(pid), pid);
        ASSERT_OK(cp_proc_wait(pid, &st));
        o = (cp_proc_options) {.new_group = true};
        ASSERT_OK(cp_proc_spawn(argv, &o, &pid));
        nap_ms(50);
        ASSERT_EQ(getsid(pid), getsid(0));
        ASSERT_EQ(getpgid(pid), pid);
        ASSERT_OK(cp_proc_wait(pid, &st));
        o = (cp_proc_options) {0};
        ASSERT_OK(cp_proc_spawn(argv, &o, &pid));
        nap_ms(50);
        ASSERT_EQ(getpgid(pid), getpgid(0));
        ASSERT_OK(cp_proc_wait(pid, &st));
}

TEST(spawn_closes_fds_and_nices) {
        char out[128];
        path(out, sizeof out, "fds");
        int fd = open("/dev/null", O_RDONLY); /* no O_CLOEXEC */
        ASSERT_TRUE(fd > 2);
        char script[128];
        snprintf(script, sizeof script, "if [ -e /proc/self/fd/%d ]; then echo open; else echo closed; fi", fd);
        cp_proc_options o = {.out = CP_PROC_TRUNCATE, .out_path = out};
        ASSERT_EQ(sh(script, &o), 0);
        char *t = slurp(out);
        ASSERT_STREQ(t, "open\n");
        free(t);
        o.close_fds = true;
        ASSERT_EQ(sh(script, &o), 0);
        t = slurp(out);
        ASSERT_STREQ(t, "closed\n");
        free(t);
        close(fd);
        /* niceness: relative to ours */
        int base = getpriority(PRIO_PROCESS, 0);
        o = (cp_proc_options) {.out = CP_PROC_TRUNCATE, .out_path = out, .niceness = 5};
        ASSERT_EQ(sh("cut -d' ' -f19 /proc/self/stat", &o), 0);
        t = slurp(out);
        ASSERT_EQ(atoi(t), base + 5 > 19 ? 19 : base + 5);
        free(t);
        unlink(out);
}

TEST(spawn_signal_state) {
        char out[128];
        path(out, sizeof out, "sig");
        /* an ignored SIGPIPE stays ignored across exec unless reset */
        void (*old)(int) = signal(SIGPIPE, SIG_IGN);
        sigset_t block, prev;
        sigemptyset(&block);
        sigaddset(&block, SIGUSR1);
        sigprocmask(SIG_BLOCK, &block, &prev);
        /* grep itself (a shell may change its signal mask) */
        char *argv[] = {"grep", "-E", "^(SigIgn|SigBlk)", "/proc/self/status", NULL};
        cp_proc_options o = {.out = CP_PROC_TRUNCATE, .out_path = out, .search_path = true};
        pid_t pid;
        int st;
        ASSERT_OK(cp_proc_spawn(argv, &o, &pid));
        ASSERT_OK(cp_proc_wait(pid, &st));
        ASSERT_EQ(st, 0);
        char *t = slurp(out);
        /* SIGPIPE is 13: bit 12 (0x1000); SIGUSR1 is 10: bit 9 (0x200) */
        char *ign = strstr(t, "SigIgn:"), *blk = strstr(t, "SigBlk:");
        ASSERT_TRUE(ign && blk);
        ASSERT_TRUE(strtoull(ign + 7, NULL, 16) & 0x1000);
        ASSERT_TRUE(strtoull(blk + 7, NULL, 16) & 0x200);
        free(t);
        o.sigpipe_default = true;
        o.unblock_signals = true;
        ASSERT_OK(cp_proc_spawn(argv, &o, &pid));
        ASSERT_OK(cp_proc_wait(pid, &st));
        ASSERT_EQ(st, 0);
        t = slurp(out);
        ign = strstr(t, "SigIgn:");
        blk = strstr(t, "SigBlk:");
        ASSERT_TRUE(ign && blk);
        ASSERT_FALSE(strtoull(ign + 7, NULL, 16) & 0x1000);
        ASSERT_EQ(strtoull(blk + 7, NULL, 16), 0);
        free(t);
        sigprocmask(SIG_SETMASK, &prev, NULL);
        signal(SIGPIPE, old);
        unlink(out);
}

TEST(exited_and_status_codes) {
        char *argv[] = {"/bin/sh", "-c", "sleep 0.1; exit 4", NULL};
        pid_t pid;
        int code = -1;
        ASSERT_OK(cp_proc_spawn(argv, NULL, &pid));
        ASSERT_FALSE(cp_proc_exited(pid, &code));
        for (int i = 0; i < 500 && !cp_proc_exited(pid, &code); i++)
                nap_ms(10);
        ASSERT_EQ(code, 4);
        ASSERT_FALSE(cp_proc_exited(0, &code));
        ASSERT_FALSE(cp_proc_exited(-1, NULL));
        char *kill_self[] = {"/bin/sh", "-c", "kill -9 $$", NULL};
        int st;
        ASSERT_OK(cp_proc_spawn(kill_self, NULL, &pid));
        ASSERT_OK(cp_proc_wait(pid, &st));
        ASSERT_EQ(cp_proc_status_code(st), 128 + SIGKILL);
        ASSERT_ERR(cp_proc_wait(pid, &st), CP_EIO);
        cp_error_clear();
}

TEST(stop_child_terminates_and_escalates) {
        /* a child that exits on SIGTERM */
        char *argv[] = {"/bin/sh", "-c", "exec sleep 30", NULL};
        pid_t pid;
        ASSERT_OK(cp_proc_spawn(argv, NULL, &pid));
        uint64_t t0 = cp_proc_clock_ms();
        cp_proc_stop_child(&pid, 5000);
        ASSERT_EQ(pid, 0);
        ASSERT_TRUE(cp_proc_clock_ms() - t0 < 4000);
        /* a stopped child gets SIGCONT with SIGTERM */
        ASSERT_OK(cp_proc_spawn(argv, NULL, &pid));
        kill(pid, SIGSTOP);
        t0 = cp_proc_clock_ms();
        cp_proc_stop_child(&pid, 5000);
        ASSERT_EQ(pid, 0);
        ASSERT_TRUE(cp_proc_clock_ms() - t0 < 4000);
        /* one that ignores SIGTERM is killed after the timeout */
        char *stubborn[] = {"/bin/sh", "-c", "trap '' TERM; while :; do sleep 0.05; done", NULL};
        ASSERT_OK(cp_proc_spawn(stubborn, NULL, &pid));
        nap_ms(100);
        t0 = cp_proc_clock_ms();
        cp_proc_stop_child(&pid, 300);
        uint64_t took = cp_proc_clock_ms() - t0;
        ASSERT_EQ(pid, 0);
        ASSERT_TRUE(took >= 300);
        ASSERT_TRUE(took < 3000);
        /* deadline 0: SIGKILL at once */
        ASSERT_OK(cp_proc_spawn(stubborn, NULL, &pid));
        pid_t was = pid;
        cp_proc_terminate(pid);
        cp_proc_reap(&pid, 0);
        ASSERT_EQ(pid, 0);
        ASSERT_TRUE(kill(was, 0) < 0 && errno == ESRCH);
        /* nothing to do */
        pid = 0;
        cp_proc_stop_child(&pid, 100);
        cp_proc_terminate(0);
}

TEST(pidfiles_and_markers) {
        char f[128], marker[160];
        path(f, sizeof f, "x.pid");
        pid_t got = 0;
        ASSERT_ERR(cp_proc_read_pidfile(f, &got), CP_ENOTFOUND);
        cp_error_clear();
        /* the marker is the shell's $0; it ends on SIGTERM after its current nap */
        snprintf(marker, sizeof marker, "%s/marker", tmpdir());
        char *argv[] = {"/bin/sh", "-c", "trap 'exit 0' TERM; while :; do sleep 0.05; done", marker, NULL};
        pid_t pid;
        ASSERT_OK(cp_proc_spawn(argv, NULL, &pid));
        ASSERT_OK(cp_proc_write_pidfile(f, pid));
        struct stat st;
        ASSERT_OK(stat(f, &st));
        ASSERT_EQ(st.st_mode & 0777, 0600);
        ASSERT_OK(cp_proc_read_pidfile(f, &got));
        ASSERT_EQ(got, pid);
        nap_ms(50);
        ASSERT_TRUE(cp_proc_matches(pid, tmpdir()));
        ASSERT_FALSE(cp_proc_matches(pid, "no-such-marker-xyz"));
        ASSERT_EQ(cp_proc_stop_pidfile(f, "no-such-marker-xyz", 1000), 0);
        ASSERT_EQ(cp_proc_stop_pidfile(f, tmpdir(), 2000), 1);
        ASSERT_FALSE(cp_proc_matches(pid, tmpdir()));
        ASSERT_OK(cp_write_file(f, "junk\n", 5, 0600));
        ASSERT_ERR(cp_proc_read_pidfile(f, &got), CP_EFORMAT);
        cp_error_clear();
        unlink(f);
        rmdir(tmpdir());
}
