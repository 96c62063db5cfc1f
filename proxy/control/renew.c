/*
 * renew: see renew.h. The state directory holds cert.pem (the leaf and
 * its chain), key.pem (0600), bundle.pem (cacerts) and crl.pem; the routes
 * read them as any identity files, so applying a change is a reload.
 */
#include "renew_priv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "audit.h"
#include "log.h"
#include "reload.h"

#define RENEW_BACKOFF_MIN 1   /* seconds, first retry */
#define RENEW_BACKOFF_MAX 300 /* seconds */
#define RENEW_JITTER 0.05     /* of the lifetime, either way */

/* A uniform double in [0, 1). */
static double
renew_rand(void)
{
	uint32_t v = 0;

	(void)RAND_bytes((unsigned char *)&v, sizeof(v));
	return ((double)v / 4294967296.0);
}

/* The certificate and key in state_dir, when they load and match. */
static X509 *
renew_state_cert(const struct renew *rn, EVP_PKEY **keyp)
{
	size_t len;
	char *c = renew_read(rn->dir, "cert.pem", &len);
	char *k = renew_read(rn->dir, "key.pem", &len);
	X509 *x = NULL;
	EVP_PKEY *pk = NULL;
	BIO *b;

	if (c != NULL && (b = BIO_new_mem_buf(c, -1)) != NULL) {
		x = PEM_read_bio_X509(b, NULL, NULL, NULL);
		BIO_free(b);
	}
	if (k != NULL && (b = BIO_new_mem_buf(k, -1)) != NULL) {
		pk = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
		BIO_free(b);
	}
	if (k != NULL)
		OPENSSL_cleanse(k, strlen(k));
	free(c);
	free(k);
	if (x == NULL || pk == NULL || X509_check_private_key(x, pk) != 1) {
		X509_free(x);
		x = NULL;
	}
	if (keyp != NULL && x != NULL)
		*keyp = pk;
	else
		EVP_PKEY_free(pk);
	return (x);
}

/* Seconds from the epoch of an ASN1_TIME. */
static time_t
renew_time(const ASN1_TIME *t)
{
	struct tm tm;

	if (ASN1_TIME_to_tm(t, &tm) != 1)
		return (0);
	return (timegm(&tm));
}

/*
 * The first attempt's time for X: at_frac of its lifetime, +- jitter. The
 * lifetime starts at notBefore, or at FROM (when X was received) if later:
 * the CA backdates notBefore for clock skew, which must not eat the
 * lifetime of a short-lived certificate.
 */
static time_t
renew_when(const struct renew *rn, X509 *x, time_t from)
{
	time_t nb = renew_time(X509_get0_notBefore(x));
	time_t na = renew_time(X509_get0_notAfter(x));
	double life;

	if (from > nb && from < na)
		nb = from;
	life = (double)(na - nb);
	double j = (renew_rand() * 2 - 1) * RENEW_JITTER * life;

	return (nb + (time_t)(rn->at * life + j));
}

/* Arm the renewal timer for unix time T (now when past). */
static void
renew_arm(struct renew *rn, time_t t)
{
	time_t now = time(NULL);
	struct timeval tv = {t > now ? t - now : 0, 0};

	rn->next = t > now ? t : now;
	if (rn->ev_renew != NULL)
		event_add(rn->ev_renew, &tv);
}

/* A failed attempt: count it, wait longer (doubling, with jitter). */
static void
renew_retry(struct renew *rn, const char *why)
{
	uint32_t wait;

	rn->failed++;
	rn->backoff = rn->backoff == 0             ? RENEW_BACKOFF_MIN
	    : rn->backoff >= RENEW_BACKOFF_MAX / 2 ? RENEW_BACKOFF_MAX
						   : rn->backoff * 2;
	wait = rn->backoff + (uint32_t)(renew_rand() * rn->backoff / 2);
	log_error("renew: renewal failed (%s): the current certificate "
		  "stays; next attempt in %us",
	    why, wait);
	renew_arm(rn, time(NULL) + wait);
}

/* The "renewal" audit record. */
static void
renew_audit(const char *op, const char *result, X509 *x, const char *why)
{
	struct audit_rec a;
	char serial[80] = "-";
	BIGNUM *bn;
	char *hex;

	if (x != NULL &&
	    (bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL)) !=
		NULL) {
		if ((hex = BN_bn2hex(bn)) != NULL)
			snprintf(serial, sizeof(serial), "%s", hex);
		OPENSSL_free(hex);
		BN_free(bn);
	}
	audit_begin(&a, "renewal");
	audit_str(&a, "op", op);
	audit_str(&a, "result", result);
	audit_str(&a, "serial", serial);
	if (why != NULL)
		audit_str(&a, "detail", why);
	audit_end(&a);
}

/*
 * Does LEAF (with the answer's CHAIN) verify against state_dir's bundle?
 * Before the first cacerts there is none: the answer came over TLS from
 * the server renew.ca vouches for. 0 or -1 (logged).
 */
static int
renew_verify(const struct renew *rn, X509 *leaf, STACK_OF(X509) * chain)
{
	X509_STORE *st = NULL;
	X509_STORE_CTX *xs = NULL;
	char path[4096];
	int ok = 0;

	snprintf(path, sizeof(path), "%s/bundle.pem", rn->dir);
	if (access(path, R_OK) != 0)
		return (0);
	if ((st = X509_STORE_new()) != NULL &&
	    X509_STORE_load_file(st, path) == 1 &&
	    (xs = X509_STORE_CTX_new()) != NULL &&
	    X509_STORE_CTX_init(xs, st, leaf, chain) == 1)
		ok = X509_verify_cert(xs) == 1;
	if (!ok)
		log_error("renew: the new certificate does not verify against "
			  "%s: %s; the current one stays",
		    path,
		    xs != NULL ? X509_verify_cert_error_string(
				     X509_STORE_CTX_get_error(xs))
			       : "cannot load it");
	X509_STORE_CTX_free(xs);
	X509_STORE_free(st);
	return (ok ? 0 : -1);
}

/*
 * Keep an enrollment's answer: the leaf (the certificate of our new key)
 * first, then the rest of the chain; write key.pem then cert.pem. The
 * leaf must verify against the bundle we trust (bundle.pem, or the
 * answer's own chain before the first cacerts). 0 or -1 (logged).
 */
static int
renew_keep(struct renew *rn, struct evbuffer *body, X509 **leafp)
{
	STACK_OF(X509) *certs = renew_p7_certs(body);
	char *pem = NULL, *kpem = NULL;
	size_t len, klen;
	int i, rc = -1;

	if (certs == NULL)
		return (-1);
	for (i = 0; i < sk_X509_num(certs); i++)
		if (X509_check_private_key(
			sk_X509_value(certs, i), rn->newkey) == 1)
			break;
	if (i == sk_X509_num(certs)) {
		log_error("renew: the answer holds no certificate of our key");
		goto out;
	}
	if (i != 0) {
		X509 *leaf = sk_X509_delete(certs, i);

		(void)sk_X509_unshift(certs, leaf);
	}
	if (renew_verify(rn, sk_X509_value(certs, 0), certs) != 0)
		goto out;
	if ((pem = renew_pem(certs, NULL, &len)) == NULL ||
	    (kpem = renew_pem(NULL, rn->newkey, &klen)) == NULL)
		goto out;
	if (renew_write(rn->dir, "key.pem", kpem, klen, "private key") != 0 ||
	    renew_write(rn->dir, "cert.pem", pem, len, "certificate") != 0)
		goto out;
	*leafp = sk_X509_value(certs, 0);
	X509_up_ref(*leafp);
	rc = 0;
out:
	if (kpem != NULL)
		OPENSSL_cleanse(kpem, klen);
	free(kpem);
	free(pem);
	sk_X509_pop_free(certs, X509_free);
	return (rc);
}

/* The server's reason for a refusal, one line, for the log. */
static void
renew_reason(struct evbuffer *body, char *buf, size_t len)
{
	size_t n = body == NULL ? 0 : evbuffer_get_length(body);

	if (n >= len)
		n = len - 1;
	if (n > 0)
		evbuffer_copyout(body, buf, n);
	buf[n] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
}

int
renew_apply(struct renew *rn, const char *trigger)
{
	if (rn->rl == NULL)
		return (0);
	return (reload_run(rn->rl, trigger) == POOL_RELOAD_OK ? 0 : -1);
}

static void
renew_on_reenroll(
    struct renew *rn, int status, struct evbuffer *body, const char *etag)
{
	X509 *leaf = NULL;
	char why[256];

	rn->busy_renew = false;
	if (status != 200) {
		renew_reason(body, why, sizeof(why));
		if (status != 0)
			log_error("renew: simplereenroll refused: %d %s",
			    status, why);
		renew_audit("simplereenroll", "error", NULL,
		    status == 0 ? "no answer" : why);
		renew_retry(rn, status == 0 ? "no answer" : "refused");
		goto out;
	}
	if (renew_keep(rn, body, &leaf) != 0) {
		renew_audit("simplereenroll", "error", NULL, "bad answer");
		renew_retry(rn, "bad answer");
		goto out;
	}
	if (renew_apply(rn, "renewal") != 0) {
		renew_audit("simplereenroll", "error", leaf, "reload failed");
		renew_retry(rn, "the new certificate did not load");
		goto out;
	}
	rn->ok++;
	rn->backoff = 0;
	renew_audit("simplereenroll", "ok", leaf, NULL);
	renew_arm(rn, renew_when(rn, leaf, time(NULL)));
	log_info("renew: renewed; next renewal at %lld", (long long)rn->next);
out:
	X509_free(leaf);
	EVP_PKEY_free(rn->newkey);
	rn->newkey = NULL;
}

static void
renew_on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct renew *rn = arg;
	struct evbuffer *csr;

	if (rn->busy_renew)
		return;
	if ((rn->newkey = renew_keygen(&csr)) == NULL) {
		renew_retry(rn, "key generation");
		return;
	}
	log_info(
	    "renew: renewing with the CA server %s:%s", rn->host, rn->port);
	if (renew_http(rn, true, "/.well-known/est/simplereenroll", true, NULL,
		NULL, csr, renew_on_reenroll) != 0) {
		EVP_PKEY_free(rn->newkey);
		rn->newkey = NULL;
		renew_retry(rn, "request");
		return;
	}
	rn->busy_renew = true;
}

/* Bootstrap: the enrollment's answer; then the CRL and bundle. */
static void
renew_on_enroll(
    struct renew *rn, int status, struct evbuffer *body, const char *etag)
{
	X509 *leaf = NULL;
	char why[256];

	if (status != 200) {
		renew_reason(body, why, sizeof(why));
		if (status != 0) {
			log_error(
			    "renew: simpleenroll refused: %d %s", status, why);
			renew_audit("simpleenroll", "error", NULL, why);
			rn->failed++;
			rn->boot = -1;
		}
		event_base_loopbreak(rn->base);
		goto out;
	}
	if (renew_keep(rn, body, &leaf) != 0) {
		rn->boot = -1;
		event_base_loopbreak(rn->base);
		goto out;
	}
	rn->ok++;
	rn->enrolled_at = time(NULL);
	renew_audit("simpleenroll", "ok", leaf, NULL);
	rn->crl_etag[0] = '\0';
	renew_crl_fetch(rn);
out:
	X509_free(leaf);
	EVP_PKEY_free(rn->newkey);
	rn->newkey = NULL;
}

/* One bootstrap attempt on a fresh loop: 1 done, -1 refused, 0 retry. */
static int
renew_boot_once(struct renew *rn, bool enroll)
{
	struct evbuffer *csr;
	char *auth = NULL;
	int rc;

	rn->boot = 0;
	if ((rn->base = event_base_new()) == NULL)
		return (-1);
	renew_dns_start(rn);
	if (!enroll) {
		renew_crl_fetch(rn);
	} else if ((auth = renew_token(rn)) == NULL ||
	    (rn->newkey = renew_keygen(&csr)) == NULL) {
		rn->boot = -1;
	} else if (renew_http(rn, true, "/.well-known/est/simpleenroll", false,
		       auth, NULL, csr, renew_on_enroll) != 0) {
		EVP_PKEY_free(rn->newkey);
		rn->newkey = NULL;
	}
	if (auth != NULL)
		OPENSSL_cleanse(auth, strlen(auth));
	free(auth);
	if (rn->boot == 0 && (enroll ? rn->newkey != NULL : rn->busy_crl))
		event_base_dispatch(rn->base);
	rc = rn->boot;
	rn->busy_crl = false;
	renew_reap_all(rn);
	renew_dns_stop(rn);
	event_base_free(rn->base);
	rn->base = NULL;
	return (rc);
}

/* Does state_dir need an enrollment (no valid certificate)? */
static bool
renew_need_enroll(const struct renew *rn)
{
	X509 *x = renew_state_cert(rn, NULL);
	bool expired =
	    x != NULL && X509_cmp_current_time(X509_get0_notAfter(x)) <= 0;

	if (expired)
		log_warn("renew: the certificate in %s has expired", rn->dir);
	X509_free(x);
	return (x == NULL || expired);
}

int
renew_bootstrap(struct renew *rn)
{
	const struct config_renew st = {.url = rn->host, .state_dir = rn->dir};
	unsigned wait = RENEW_BACKOFF_MIN;
	bool enroll;
	int rc;

	for (;;) {
		enroll = renew_need_enroll(rn);
		if (!enroll && !config_renew_pending(&st))
			return (0);
		if (enroll && rn->token_file == NULL) {
			log_error("renew: %s has no valid certificate and "
				  "identity.renew.token_file is not set: "
				  "cannot enroll",
			    rn->dir);
			return (-1);
		}
		log_info("renew: %s with the CA server %s:%s",
		    enroll ? "enrolling" : "fetching the CRL and bundle",
		    rn->host, rn->port);
		if ((rc = renew_boot_once(rn, enroll)) != 0)
			break;
		log_warn("renew: retrying in %us", wait);
		sleep(wait);
		wait = wait >= RENEW_BACKOFF_MAX / 2 ? RENEW_BACKOFF_MAX
						     : wait * 2;
	}
	if (rc < 0)
		log_error("renew: enrollment refused: the state directory %s "
			  "keeps what it had",
		    rn->dir);
	return (rc > 0 ? 0 : -1);
}

int
renew_start(struct renew *rn, struct event_base *base, struct reload *rl)
{
	struct timeval crl = {rn->crl_ms / 1000, (rn->crl_ms % 1000) * 1000};
	X509 *x;

	rn->base = base;
	rn->rl = rl;
	renew_dns_start(rn);
	rn->ev_renew = evtimer_new(base, renew_on_timer, rn);
	rn->ev_crl = event_new(base, -1, EV_PERSIST, renew_on_crl_timer, rn);
	if (rn->ev_renew == NULL || rn->ev_crl == NULL ||
	    event_add(rn->ev_crl, &crl) != 0) {
		log_error("renew: cannot start the timers");
		return (-1);
	}
	if ((x = renew_state_cert(rn, NULL)) == NULL) {
		log_error("renew: no certificate in %s", rn->dir);
		return (-1);
	}
	renew_arm(rn, renew_when(rn, x, rn->enrolled_at));
	log_info("renew: next renewal at %lld (in %llds)", (long long)rn->next,
	    (long long)(rn->next - time(NULL)));
	X509_free(x);
	return (0);
}

void
renew_metrics(const struct renew *rn, struct evbuffer *out)
{
	if (rn == NULL)
		return;
	evbuffer_add_printf(out,
	    "# HELP cotai_renewals_total Enrollments and renewals with the "
	    "CA server, by result.\n"
	    "# TYPE cotai_renewals_total counter\n"
	    "cotai_renewals_total{result=\"ok\"} %llu\n"
	    "cotai_renewals_total{result=\"error\"} %llu\n"
	    "# HELP cotai_renewal_next_seconds When the next renewal attempt "
	    "is due (unix time).\n"
	    "# TYPE cotai_renewal_next_seconds gauge\n"
	    "cotai_renewal_next_seconds %lld\n"
	    "# HELP cotai_renewal_crl_checked_seconds When the CA server last "
	    "answered for the CRL (unix time; 0: never).\n"
	    "# TYPE cotai_renewal_crl_checked_seconds gauge\n"
	    "cotai_renewal_crl_checked_seconds %lld\n",
	    (unsigned long long)rn->ok, (unsigned long long)rn->failed,
	    (long long)rn->next, (long long)rn->crl_checked);
}

static char *
renew_dup(const char *s, bool *bad)
{
	char *d;

	if (s == NULL)
		return (NULL);
	if ((d = strdup(s)) == NULL)
		*bad = true;
	return (d);
}

struct renew *
renew_new(const struct config_renew *cfg, const char *user)
{
	const struct passwd *pw = NULL;
	struct renew *rn = calloc(1, sizeof(*rn));
	struct stat st;
	bool bad = false;

	if (rn == NULL) {
		log_errno("calloc");
		return (NULL);
	}
	rn->host = renew_dup(cfg->host, &bad);
	rn->port = renew_dup(cfg->port, &bad);
	rn->ca = renew_dup(cfg->ca, &bad);
	rn->dir = renew_dup(cfg->state_dir, &bad);
	rn->token_file = renew_dup(cfg->token_file, &bad);
	rn->at = cfg->at_frac;
	rn->crl_ms = cfg->crl_interval_ms;
	if (bad) {
		log_errno("strdup");
		goto fail;
	}
	if (mkdir(rn->dir, 0700) != 0 && errno != EEXIST) {
		log_errno("renew: cannot create %s", rn->dir);
		goto fail;
	}
	/* As root with "user:", the files are that user's: it renews them
	 * after the privileges are dropped. */
	if (geteuid() == 0 && user != NULL &&
	    ((pw = getpwnam(user)) == NULL ||
		chown(rn->dir, pw->pw_uid, pw->pw_gid) != 0)) {
		log_errno("renew: cannot give %s to %s", rn->dir, user);
		goto fail;
	}
	if (lstat(rn->dir, &st) != 0 || !S_ISDIR(st.st_mode) ||
	    (st.st_mode & 022) != 0) {
		log_error("renew: state_dir %s must be a directory (not a "
			  "symlink), not writable by group or others",
		    rn->dir);
		goto fail;
	}
	if ((rn->ctx = renew_ctx_new(rn->ca)) == NULL)
		goto fail;
	return (rn);
fail:
	renew_free(rn);
	return (NULL);
}

void
renew_free(struct renew *rn)
{
	if (rn == NULL)
		return;
	renew_reap_all(rn);
	renew_dns_stop(rn);
	if (rn->ev_renew != NULL)
		event_free(rn->ev_renew);
	if (rn->ev_crl != NULL)
		event_free(rn->ev_crl);
	EVP_PKEY_free(rn->newkey);
	SSL_CTX_free(rn->ctx);
	free(rn->host);
	free(rn->port);
	free(rn->ca);
	free(rn->dir);
	free(rn->token_file);
	free(rn);
}
