/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CP_SHARED_PROC_H
#define CP_SHARED_PROC_H

/*
 * Child processes: spawning (cp_proc_spawn), waiting and stopping them
 * (`confpool up`'s daemons, `confpool az-setup --run`'s az, the local
 * backend's swtpm and agents).
 *
 * Processes recorded in pid files (the embedded stack, the local backend's
 * node table): a pid is only signalled when /proc/<pid>/cmdline still
 * contains the expected marker (a node directory, a state directory), so a
 * recycled pid of an unrelated process is never killed.
 */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "confpool/error.h"

/* Where a child's stdout or stderr goes. */
typedef enum cp_proc_output {
        CP_PROC_INHERIT = 0, /* the caller's descriptor */
        CP_PROC_DEVNULL,     /* /dev/null */
        CP_PROC_TRUNCATE,    /* the file at *_path, created (0600) or truncated */
        CP_PROC_APPEND,      /* the file at *_path, created (0600) or appended to */
        CP_PROC_AS_STDOUT,   /* stderr only: wherever stdout goes */
} cp_proc_output;

typedef struct cp_proc_options {
        cp_proc_output out, err;
        const char *out_path, *err_path;
        bool stdin_null;         /* stdin from /dev/null (else inherited) */
        bool search_path;        /* argv[0] looked up in $PATH (execvp), else taken as is (execv) */
        bool new_session;        /* setsid(): detached from the terminal and its signals */
        bool new_group;          /* setpgid(0, 0) */
        bool close_fds;          /* close every descriptor above 2 (one without O_CLOEXEC
                                  * from another thread would stay open in the child) */
        bool unblock_signals;    /* an empty signal mask (the caller's threads may block some) */
        bool sigpipe_default;    /* SIGPIPE back to SIG_DFL even if the caller ignores it */
        int niceness;            /* > 0: that much lower a priority than the caller's thread
                                  * (CP_EIO "cannot lower the priority" if it cannot be) */
} cp_proc_options;

/* posix_spawn of argv (NULL-terminated) as o says (NULL: all defaults): no
 * fork of the caller's memory.  Output files are opened first: CP_EIO
 * "cannot open PATH: ..." if one cannot be.  A program that cannot be run
 * is an error here, not a child: CP_ENOTFOUND "cannot run ARGV0: ..." (not
 * found, not executable), CP_EIO otherwise. */
CP_WUR int cp_proc_spawn(char *const argv[], const cp_proc_options *o, pid_t *ret);
/* Wait for a child (retrying on EINTR); *ret_wstatus is waitpid()'s status. */
CP_WUR int cp_proc_wait(pid_t pid, int *ret_wstatus);
/* A wait status as one number: the exit status, or 128 + the signal. */
int cp_proc_status_code(int wstatus);
/* Non-blocking: true if the child exited (and is now reaped); then
 * *ret_code (if not NULL) is its cp_proc_status_code(). */
bool cp_proc_exited(pid_t pid, int *ret_code);
/* Ask a child to terminate: SIGTERM, and SIGCONT (a stopped process handles
 * SIGTERM once continued).  Nothing if pid <= 0. */
void cp_proc_terminate(pid_t pid);
/* The monotonic clock in ms, for cp_proc_reap()'s deadline. */
uint64_t cp_proc_clock_ms(void);
/* Reap a child told to terminate, polling every 10 ms until deadline_ms
 * (cp_proc_clock_ms()), then SIGKILL and wait; *pid = 0 after.  Nothing if
 * *pid <= 0.  A deadline of 0 kills at once.  Also for a process that is
 * not our child (one adopted from a previous daemon, whose liveness the
 * caller checked with cp_proc_matches): then polled until it is gone. */
void cp_proc_reap(pid_t *pid, uint64_t deadline_ms);
/* cp_proc_terminate + cp_proc_reap with timeout_ms. */
void cp_proc_stop_child(pid_t *pid, unsigned timeout_ms);

/* Write a pid file ("<decimal>\n", mode 0600, atomically). */
CP_WUR int cp_proc_write_pidfile(const char *path, pid_t pid);

/* true if pid is alive and its command line (arguments joined by spaces)
 * contains marker. */
bool cp_proc_matches(pid_t pid, const char *marker);
/* Read a pid file ("<decimal>\n"); CP_ENOTFOUND if missing, CP_EFORMAT if
 * it holds no pid. */
CP_WUR int cp_proc_read_pidfile(const char *path, pid_t *ret);
/* Stop the process of a pid file if it still matches marker: SIGTERM, wait
 * up to timeout_ms, then SIGKILL (and wait for it to go).  Works for
 * processes that are not our children.  Returns 1 if a process was
 * stopped, 0 if there was none (or it did not match). */
int cp_proc_stop_pidfile(const char *path, const char *marker, unsigned timeout_ms);
/* Stop every process (other than this one) whose command line contains
 * marker, as above; for processes whose pid file was never written (a
 * daemon killed between spawning them and recording them).  Returns how
 * many were stopped. */
unsigned cp_proc_stop_matching(const char *marker, unsigned timeout_ms);

#endif
