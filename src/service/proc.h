/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CP_SHARED_PROC_H
#define CP_SHARED_PROC_H

/*
 * Processes recorded in pid files (the embedded stack, the local backend's
 * node table): a pid is only signalled when /proc/<pid>/cmdline still
 * contains the expected marker (a node directory, a state directory), so a
 * recycled pid of an unrelated process is never killed.
 */

#include <stdbool.h>
#include <sys/types.h>

#include "confpool/error.h"

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
