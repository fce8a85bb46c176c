/* SPDX-License-Identifier: Apache-2.0 */
/* Revocation checking for the attestation service: the KDS CRLs of the
 * trusted ARKs (configured files, or fetched from the KDS when missing or
 * stale), one per product and line (VCEK line: ASK CRL, VLEK line: ASVK
 * CRL), installed into the SNP verifier.  Every replacement bumps a CRL
 * generation that the verified-report cache compares on each hit. */

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509v3.h>

#include "attestd/attestd-internal.h"
#include "basic/cleanup.h"
#include "basic/codec.h"

#define CRL_RETRY_S 30 /* after a failed fetch, refuse without asking the KDS again for this long */

static const char *line_name(unsigned line) {
        return line ? "VLEK" : "VCEK";
}

static const char *ca_name(unsigned line) {
        return line ? "ASVK" : "ASK";
}

static void iso(int64_t t, char *buf, size_t cap) {
        struct tm tm;
        time_t tt = (time_t) t;
        if (!gmtime_r(&tt, &tm) || strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
                snprintf(buf, cap, "%lld", (long long) t);
}

/* Copy text into a JSON log string: printable ASCII without quotes and
 * backslashes, truncated. */
static void log_text(const char *in, char *out, size_t cap) {
        size_t i;
        for (i = 0; i + 1 < cap && in[i]; i++) {
                char ch = in[i];
                out[i] = (ch >= 0x20 && ch < 0x7f && ch != '"' && ch != '\\') ? ch : '?';
        }
        out[i] = '\0';
}

static bool fetch_enabled(const cp_attestd *s) {
        return s->kds && s->cfg.kds_base_url && !s->cfg.kds_offline;
}

static int64_t asn1_time_unix(const ASN1_TIME *t) {
        struct tm tm;
        if (!t || ASN1_TIME_to_tm(t, &tm) != 1)
                return INT64_MIN;
        return (int64_t) timegm(&tm);
}

static void x509_crl_freep(X509_CRL **p) {
        X509_CRL_free(*p);
}

static void amd_crl_freep(cp_amd_crl **p) {
        cp_amd_crl_free(*p);
}

/* thisUpdate, nextUpdate, the CRL number (-1: none) and the number of
 * revoked entries of a CRL that cp_amd_crl_load() has accepted (so the bytes
 * are one well-formed CRL, DER or PEM; OpenSSL only reads its fields here). */
static int crl_fields(const uint8_t *buf, size_t len, int64_t *ret_this, int64_t *ret_next, int64_t *ret_number,
                      int *ret_revoked) {
        _cleanup_(x509_crl_freep) X509_CRL *x = NULL;
        const unsigned char *p = buf;
        x = d2i_X509_CRL(NULL, &p, (long) len);
        if (!x) {
                BIO *b = BIO_new_mem_buf(buf, (int) len);
                if (b)
                        x = PEM_read_bio_X509_CRL(b, NULL, NULL, NULL);
                BIO_free(b);
        }
        ERR_clear_error();
        if (!x)
                return CP_ERROR(CP_EFORMAT, "CRL: cannot read its fields");
        int64_t tu = asn1_time_unix(X509_CRL_get0_lastUpdate(x)), nu = asn1_time_unix(X509_CRL_get0_nextUpdate(x));
        if (tu == INT64_MIN || nu == INT64_MIN)
                return CP_ERROR(CP_EFORMAT, "CRL: unreadable thisUpdate or nextUpdate");
        int64_t number = -1;
        ASN1_INTEGER *n = X509_CRL_get_ext_d2i(x, NID_crl_number, NULL, NULL);
        if (n && ASN1_INTEGER_get_int64(&number, n) != 1)
                number = -1;
        ASN1_INTEGER_free(n);
        ERR_clear_error();
        STACK_OF(X509_REVOKED) *rv = X509_CRL_get_REVOKED(x);
        *ret_this = tu;
        *ret_next = nu;
        *ret_number = number;
        *ret_revoked = rv ? sk_X509_REVOKED_num(rv) : 0;
        return 0;
}

/* The product whose trusted ARK signed crl.  A CRL of a product without a
 * trusted ARK, or one whose signature does not verify under the ARK it
 * names, is refused.  Validity at now is not required here. */
static int crl_product(cp_attestd *s, const cp_amd_crl *crl, int64_t now, cp_snp_generation *ret_gen) {
        const cp_amd_trust *t = cp_snp_verifier_trust(s->verifier);
        char why[512] = "";
        int best = 0;
        for (int g = CP_SNP_GEN_UNKNOWN + 1; g < _CP_SNP_GEN_MAX; g++) {
                const cp_amd_cert *ark = cp_amd_trust_ark(t, (cp_snp_generation) g);
                if (!ark)
                        continue;
                /* the ARK as the looked-up certificate: a product-consistent dummy */
                int r = cp_amd_crl_check(crl, ark, ark, now);
                if (r == 0 || r == CP_EEXPIRED || r == CP_EREVOKED) {
                        cp_error_clear();
                        *ret_gen = (cp_snp_generation) g;
                        return 0;
                }
                /* CP_ECERT is mostly "issued by another ARK": keep a more telling verdict */
                if (best == 0 || (best == CP_ECERT && r != CP_ECERT)) {
                        best = r;
                        snprintf(why, sizeof(why), "%s", cp_error_message());
                }
        }
        if (best == 0 || best == CP_ECERT)
                return CP_ERROR(CP_EUNTRUSTED, "CRL is not issued by a trusted ARK%s%s", why[0] ? ": " : "", why);
        return CP_ERROR(best, "CRL is not signed by a trusted ARK: %s", why);
}

static void log_install(const cp_attestd *s, cp_snp_generation g, unsigned lines, const crl_line *l,
                        const char *source) {
        char tu[32], nu[32], hex[65];
        if (s->cfg.quiet)
                return;
        iso(l->this_update, tu, sizeof(tu));
        iso(l->next_update, nu, sizeof(nu));
        cp_hex_encode(l->sha256, 32, hex);
        fprintf(stderr,
                "{\"event\":\"crl\",\"action\":\"installed\",\"product\":\"%s\",\"lines\":\"%s\",\"source\":\"%s\","
                "\"thisUpdate\":\"%s\",\"nextUpdate\":\"%s\",\"number\":%lld,\"revoked\":%d,\"sha256\":\"%s\"}\n",
                cp_snp_generation_name(g), lines == 3 ? "VCEK,VLEK" : line_name(lines == 2), source, tu, nu,
                (long long) l->number, l->n_revoked, hex);
}

/* Load, verify and install a CRL for the lines in mask (bit 0: VCEK, bit 1:
 * VLEK) of its product (which must be want unless that is UNKNOWN).  Called
 * with crl_lock held. */
static int install_locked(cp_attestd *s, const uint8_t *buf, size_t len, unsigned mask, cp_snp_generation want,
                          const char *source, int64_t now) {
        _cleanup_(amd_crl_freep) cp_amd_crl *probe = NULL;
        cp_snp_generation g = CP_SNP_GEN_UNKNOWN;
        int64_t tu = 0, nu = 0, number = -1;
        int n_revoked = 0, r;
        uint8_t digest[32];

        if ((r = cp_amd_crl_load(buf, len, &probe)) < 0 || (r = crl_product(s, probe, now, &g)) < 0 ||
            (r = crl_fields(buf, len, &tu, &nu, &number, &n_revoked)) < 0)
                return r;
        if (want != CP_SNP_GEN_UNKNOWN && g != want)
                return CP_ERROR(CP_ECERT, "expected the CRL of %s, got one issued by ARK-%s",
                                cp_snp_generation_name(want), cp_snp_generation_name(g));
        if (nu <= tu)
                return CP_ERROR(CP_EFORMAT, "CRL nextUpdate is not after thisUpdate");
        /* no rollback within this process: a replacement must not be older */
        for (unsigned line = 0; line < 2; line++) {
                const crl_line *l = &s->crls[g][line];
                if (!(mask & (1u << line)) || !l->present)
                        continue;
                if (tu < l->this_update || (number >= 0 && l->number >= 0 && number < l->number))
                        return CP_ERROR(CP_EEXPIRED,
                                        "CRL of %s (number %lld) is older than the installed one (number %lld)",
                                        cp_snp_generation_name(g), (long long) number, (long long) l->number);
        }
        SHA256(buf, len, digest);
        for (unsigned line = 0; line < 2; line++) {
                cp_amd_crl *crl = NULL;
                if (!(mask & (1u << line)))
                        continue;
                /* the verifier takes one object per line */
                if ((r = cp_amd_crl_load(buf, len, &crl)) < 0 ||
                    (r = cp_snp_verifier_add_crl(s->verifier, g, line ? CP_AMD_CERT_ASVK : CP_AMD_CERT_ASK, crl)) < 0)
                        return r;
                crl_line *l = &s->crls[g][line];
                l->present = true;
                l->obtained_at = now;
                l->this_update = tu;
                l->next_update = nu;
                l->number = number;
                l->n_revoked = n_revoked;
                memcpy(l->sha256, digest, sizeof(l->sha256));
                snprintf(l->source, sizeof(l->source), "%s", source);
        }
        /* after the verifier has the new CRL: cached reports verified before are misses from now on */
        atomic_fetch_add_explicit(&s->crl_gen, 1, memory_order_acq_rel);
        atomic_fetch_add(&s->m.crl_updates, 1);
        log_install(s, g, mask, &s->crls[g][(mask & 1u) ? 0 : 1], source);
        return 0;
}

int attestd_crl_init(cp_attestd *s) {
        int64_t now = attestd_now(s);
        int r;
        s->crl_max_age = s->cfg.crl_max_age_s ? (int64_t) s->cfg.crl_max_age_s : 86400;
        for (size_t i = 0; i < CP_ATTESTD_MAX_CRLS; i++) {
                if (!s->cfg.crls[i])
                        continue;
                char src[16];
                snprintf(src, sizeof(src), "config[%zu]", i);
                pthread_mutex_lock(&s->crl_lock);
                r = install_locked(s, s->cfg.crls[i], s->cfg.crl_lens[i], 3, CP_SNP_GEN_UNKNOWN, src, now);
                pthread_mutex_unlock(&s->crl_lock);
                if (r < 0)
                        return cp_error_wrap("CRL %zu", i);
        }
        if (s->cfg.check_revocation && !s->cfg.quiet && !fetch_enabled(s)) {
                bool any = false;
                for (int g = 0; g < _CP_SNP_GEN_MAX; g++)
                        any = any || s->crls[g][0].present || s->crls[g][1].present;
                if (!any)
                        fprintf(stderr, "{\"event\":\"crl\",\"action\":\"warning\",\"message\":\"revocation checking "
                                        "is on but no CRL is configured and no KDS to fetch one: every attestation "
                                        "will be refused\"}\n");
        }
        return 0;
}

int cp_attestd_add_crl(cp_attestd *s, const uint8_t *buf, size_t len) {
        int r;
        if (!s || !buf)
                return CP_ERROR(CP_EINVAL, "cp_attestd_add_crl: NULL argument");
        pthread_mutex_lock(&s->crl_lock);
        r = install_locked(s, buf, len, 3, CP_SNP_GEN_UNKNOWN, "api", attestd_now(s));
        pthread_mutex_unlock(&s->crl_lock);
        return r;
}

static bool line_fresh(const cp_attestd *s, const crl_line *l, int64_t now) {
        return l->present && now >= l->this_update && now < l->next_update &&
               (!fetch_enabled(s) || now - l->obtained_at <= s->crl_max_age);
}

int attestd_crl_ensure(cp_attestd *s, cp_snp_generation g, bool vlek, int64_t now, int64_t *ret_deadline) {
        char why[384] = "";
        unsigned line = vlek;
        int r = 0;

        if (g <= CP_SNP_GEN_UNKNOWN || g >= _CP_SNP_GEN_MAX) {
                atomic_fetch_add(&s->m.revocation_refusals[1], 1);
                return CP_ERROR(CP_EREVOKED, "revocation check required but the report's product is unknown");
        }
        pthread_mutex_lock(&s->crl_lock);
        crl_line *l = &s->crls[g][line];
        if (!line_fresh(s, l, now) && fetch_enabled(s) && now >= l->retry_after) {
                _cleanup_free_ uint8_t *buf = NULL;
                size_t len = 0;
                atomic_fetch_add(&s->m.crl_fetches, 1);
                pthread_mutex_lock(&s->kds_lock);
                r = cp_kds_fetch_crl(s->kds, g, vlek ? CP_AMD_CERT_VLEK : CP_AMD_CERT_VCEK, &buf, &len);
                pthread_mutex_unlock(&s->kds_lock);
                if (r >= 0)
                        r = install_locked(s, buf, len, 1u << line, g, "kds", now);
                if (r < 0) {
                        atomic_fetch_add(&s->m.crl_fetch_failures, 1);
                        l->retry_after = now + CRL_RETRY_S;
                        snprintf(l->last_error, sizeof(l->last_error), "%s", cp_error_message());
                        if (!s->cfg.quiet) {
                                char msg[300];
                                log_text(l->last_error, msg, sizeof(msg));
                                fprintf(stderr,
                                        "{\"event\":\"crl\",\"action\":\"fetch_failed\",\"product\":\"%s\","
                                        "\"line\":\"%s\",\"error\":\"%s\",\"message\":\"%s\"}\n",
                                        cp_snp_generation_name(g), line_name(line), cp_err_name(r), msg);
                        }
                        cp_error_clear();
                } else {
                        l->retry_after = 0;
                        l->last_error[0] = '\0';
                }
        }
        if (line_fresh(s, l, now)) {
                int64_t d = l->next_update - 1;
                if (fetch_enabled(s) && l->obtained_at + s->crl_max_age < d)
                        d = l->obtained_at + s->crl_max_age;
                pthread_mutex_unlock(&s->crl_lock);
                *ret_deadline = d;
                return 0;
        }
        if (!l->present)
                snprintf(why, sizeof(why), "no %s CRL for %s", ca_name(line), cp_snp_generation_name(g));
        else {
                char t1[32], t2[32];
                iso(l->this_update, t1, sizeof(t1));
                iso(l->next_update, t2, sizeof(t2));
                if (now < l->this_update || now >= l->next_update)
                        snprintf(why, sizeof(why), "the %s CRL for %s is %s (thisUpdate %s, nextUpdate %s)",
                                 ca_name(line), cp_snp_generation_name(g),
                                 now < l->this_update ? "not yet valid" : "past its nextUpdate", t1, t2);
                else
                        snprintf(why, sizeof(why), "the %s CRL for %s was obtained %llds ago, more than the maximum "
                                 "age %llds", ca_name(line), cp_snp_generation_name(g),
                                 (long long) (now - l->obtained_at), (long long) s->crl_max_age);
        }
        if (l->last_error[0]) {
                size_t n = strlen(why);
                snprintf(why + n, sizeof(why) - n, "; the KDS fetch failed: %s", l->last_error);
        }
        pthread_mutex_unlock(&s->crl_lock);
        atomic_fetch_add(&s->m.revocation_refusals[1], 1);
        return CP_ERROR(CP_EREVOKED, "revocation check required: %s", why);
}
