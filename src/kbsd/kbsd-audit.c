/* SPDX-License-Identifier: Apache-2.0 */
/* confpool-kbsd's audit log: one row a decision in the append-only audit
 * table (triggers refuse UPDATE and DELETE), and optionally a JSON line in
 * the audit file.  Never secrets: names, versions, decisions, reasons, jti. */

#include <stdlib.h>

#include "basic/cleanup.h"
#include "kbsd-internal.h"

static void audit_row(cp_kbsd *s, int64_t ts, const char *who, const char *op, const char *key, const char *version,
                      const char *decision, const char *reason, const char *jti) {
        _cleanup_stmt_ cp_stmt *st = NULL;
        cp_store_lock(s->store);
        if (cp_store_prepare(s->store,
                             "INSERT INTO audit (ts, who, op, key, version, decision, reason, jti) VALUES (?,?,?,?,?,?,?,?)",
                             &st) == 0) {
                cp_stmt_bind_int64(st, 1, ts);
                cp_stmt_bind_text(st, 2, who);
                cp_stmt_bind_text(st, 3, op);
                cp_stmt_bind_text(st, 4, key);
                cp_stmt_bind_text(st, 5, version);
                cp_stmt_bind_text(st, 6, decision);
                cp_stmt_bind_text(st, 7, reason);
                cp_stmt_bind_text(st, 8, jti);
                if (cp_store_step(s->store, st) < 0 && !s->cfg.quiet)
                        fprintf(stderr, "kbsd: audit insert failed: %s\n", cp_error_message());
        }
        cp_store_unlock(s->store);
}

void cp_kbsd_audit(cp_kbsd *s, const char *who, const char *op, const char *key, const char *version,
                   const char *decision, const char *reason, const char *jti) {
        int64_t ts = cp_kbsd_now(s);
        if (!who)
                who = "-";
        audit_row(s, ts, who, op, key, version, decision, reason, jti);
        if (!s->audit_file)
                return;
        json_t *o = json_pack("{s:I,s:s,s:s,s:s?,s:s?,s:s,s:s?,s:s?}", "ts", (json_int_t) ts, "who", who, "op", op,
                              "key", key, "version", version, "decision", decision, "reason", reason, "jti", jti);
        char *line = o ? json_dumps(o, JSON_COMPACT) : NULL;
        if (line) {
                pthread_mutex_lock(&s->audit_mu);
                fprintf(s->audit_file, "%s\n", line);
                fflush(s->audit_file);
                pthread_mutex_unlock(&s->audit_mu);
        }
        free(line);
        json_decref(o);
}

int cp_kbsd_audit_count(cp_kbsd *s, const char *decision, long *ret) {
        _cleanup_stmt_ cp_stmt *st = NULL;
        int r;
        cp_store_lock(s->store);
        if ((r = cp_store_prepare(s->store, "SELECT count(*) FROM audit WHERE decision = ?", &st)) == 0) {
                cp_stmt_bind_text(st, 1, decision);
                if ((r = cp_store_step(s->store, st)) == 1) {
                        *ret = (long) cp_stmt_int64(st, 0);
                        r = 0;
                }
        }
        cp_store_unlock(s->store);
        return r;
}
