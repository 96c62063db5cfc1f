/*
 * ca_serve_run: the "serve" verb: options, configuration, the TLS context,
 * the listener and the event loop (see ca_serve.h).
 */
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>
#include <openssl/err.h>

#include "ca_cert.h"
#include "ca_cmd.h"
#include "ca_crl.h"
#include "ca_serve.h"
#include "ca_util.h"

static const char ca_serve_usage[] =
    "usage: cotai-ca [--dir DIR] serve [-c|--config FILE] [--check]\n"
    "                [--listen A:P] [--tls-cert F] [--tls-key F] [--ttl DUR]\n"
    "                [--timeout DUR] [--max-body N] [--max-connections N]\n"
    "                [--rate N] [--crl-max-age DUR] [--rollover-delay DUR]\n"
    "                [--audit F] [--port-file F]\n"
    "Serve EST (RFC 7030) over TLS 1.3: GET /.well-known/est/cacerts,\n"
    "POST /.well-known/est/simpleenroll (Authorization: Bearer TOKEN from\n"
    "\"cotai-ca token\"), POST /.well-known/est/simplereenroll (the client\n"
    "certificate being replaced), GET /crl (DER) and GET /crl.pem (every\n"
    "intermediate's CRL). Flags win over FILE (YAML,\n"
    "the same keys with '_'). --check validates, prints the effective\n"
    "configuration and exits. SIGHUP reloads tls_cert and tls_key.\n"
    "See ca/README.md.\n";

/*
 * Accept any client certificate during the handshake: the decision is
 * made per request from SSL_get_verify_result() and the CA's index, so
 * that a refused peer gets a logged, audited answer instead of a failed
 * handshake. Requests that need no certificate (cacerts, crl, enroll)
 * ignore it.
 */
static int
ca_serve_verify_cb(int ok, X509_STORE_CTX *x)
{
	return (1);
}

static SSL_CTX *
ca_serve_tls(struct ca_serve *s)
{
	static const unsigned char sid[] = "cotai-ca serve";
	const struct ca_serve_conf *c = s->conf;
	X509_STORE *st;
	SSL_CTX *ctx;

	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL ||
	    !SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) ||
	    !SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION))
		goto err;
	if (SSL_CTX_use_certificate_chain_file(ctx, c->tls_cert) != 1) {
		ca_util_err_ssl("tls_cert %s", c->tls_cert);
		goto out;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, c->tls_key, SSL_FILETYPE_PEM) !=
		1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		ca_util_err_ssl("tls_key %s", c->tls_key);
		goto out;
	}
	st = SSL_CTX_get_cert_store(ctx);
	if (X509_STORE_add_cert(st, s->ca.root) != 1 ||
	    X509_STORE_add_cert(st, s->ca.inter) != 1 ||
	    (s->ca.old != NULL && X509_STORE_add_cert(st, s->ca.old) != 1) ||
	    !SSL_CTX_set_session_id_context(ctx, sid, sizeof(sid) - 1))
		goto err;
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, ca_serve_verify_cb);
	return (ctx);
err:
	ca_util_err_ssl("TLS context");
out:
	SSL_CTX_free(ctx);
	return (NULL);
}

/* Bind conf->listen and hand the listener to evhttp; write port_file. */
static int
ca_serve_bind(struct ca_serve *s)
{
	char host[256], *colon, bound[NI_MAXHOST + NI_MAXSERV + 8],
	    h[NI_MAXHOST], p[NI_MAXSERV];
	struct addrinfo hints, *ai = NULL;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int rc = -1, e;

	snprintf(host, sizeof(host), "%s", s->conf->listen);
	colon = strrchr(host, ':');
	*colon = '\0';
	if (host[0] == '[' && colon[-1] == ']') {
		colon[-1] = '\0';
		memmove(host, host + 1, strlen(host));
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if ((e = getaddrinfo(host, colon + 1, &hints, &ai)) != 0) {
		ca_util_err("listen %s: %s", s->conf->listen, gai_strerror(e));
		return (-1);
	}
	s->lis = evconnlistener_new_bind(s->base, NULL, NULL,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC,
	    128, ai->ai_addr, (int)ai->ai_addrlen);
	if (s->lis == NULL) {
		ca_util_err("listen %s: %s", s->conf->listen, strerror(errno));
		goto out;
	}
	if (evhttp_bind_listener(s->http, s->lis) == NULL) {
		evconnlistener_free(s->lis);
		s->lis = NULL;
		ca_util_err("listen %s: evhttp", s->conf->listen);
		goto out;
	}
	if (getsockname(evconnlistener_get_fd(s->lis), (struct sockaddr *)&ss,
		&sl) == -1 ||
	    getnameinfo((struct sockaddr *)&ss, sl, h, sizeof(h), p, sizeof(p),
		NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
		ca_util_err("getsockname: %s", strerror(errno));
		goto out;
	}
	snprintf(bound, sizeof(bound), "%s%s%s:%s\n",
	    strchr(h, ':') != NULL ? "[" : "", h,
	    strchr(h, ':') != NULL ? "]" : "", p);
	fprintf(stderr, "cotai-ca: serve: listening on %s", bound);
	if (s->conf->port_file[0] != '\0' &&
	    ca_store_write_atomic(
		s->conf->port_file, bound, strlen(bound), 0644) != 0)
		goto out;
	rc = 0;
out:
	freeaddrinfo(ai);
	return (rc);
}

static void
ca_serve_on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct ca_serve *s = arg;
	SSL_CTX *ctx;

	if (sig != SIGHUP) {
		fprintf(
		    stderr, "cotai-ca: serve: signal %d, exiting\n", (int)sig);
		event_base_loopexit(s->base, NULL);
		return;
	}
	/* Live connections keep the old context through their SSL. */
	if ((ctx = ca_serve_tls(s)) == NULL) {
		fprintf(stderr,
		    "cotai-ca: serve: SIGHUP: reload failed, "
		    "keeping the current certificate\n");
		return;
	}
	SSL_CTX_free(s->ssl);
	s->ssl = ctx;
	fprintf(stderr, "cotai-ca: serve: SIGHUP: reloaded %s\n",
	    s->conf->tls_cert);
}

void
ca_serve_fid_of(struct ca_serve *s, const char *file, struct ca_serve_fid *f)
{
	char path[PATH_MAX];
	struct stat st;

	memset(f, 0, sizeof(*f));
	f->size = -1;
	if (ca_store_path(s->ca.store, file, path, sizeof(path)) != 0 ||
	    stat(path, &st) != 0)
		return;
	f->dev = st.st_dev;
	f->ino = st.st_ino;
	f->size = st.st_size;
	f->mtime_ns =
	    (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
}

void
ca_serve_ca_check(struct ca_serve *s)
{
	struct ca_serve_fid fi, fo;
	struct ca_ctx n;
	SSL_CTX *ctx;
	char a[CA_CERT_SERIAL_HEX], b[CA_CERT_SERIAL_HEX];
	int rc;

	ca_serve_fid_of(s, "intermediate.crt", &fi);
	ca_serve_fid_of(s, CA_CTX_OLD_CRT, &fo);
	if (memcmp(&fi, &s->inter_file, sizeof(fi)) == 0 &&
	    memcmp(&fo, &s->old_file, sizeof(fo)) == 0)
		return;
	/* Noted before trying: a CA that does not open is reported once
	 * per change, not on every request. */
	s->inter_file = fi;
	s->old_file = fo;
	if (ca_store_lock(s->ca.store) != 0)
		return;
	rc = ca_ctx_open(&n, s->state_dir, CA_CTX_KEY);
	ca_store_unlock(s->ca.store);
	if (rc != 0) {
		ca_ctx_close(&n);
		fprintf(stderr,
		    "cotai-ca: serve: the intermediate changed but "
		    "the CA does not open: the current one stays\n");
		return;
	}
	ca_ctx_close(&s->ca);
	s->ca = n;
	free(s->cacerts);
	s->cacerts = NULL;
	if (ca_serve_build_cacerts(s) != 0)
		fprintf(stderr, "cotai-ca: serve: cacerts not rebuilt\n");
	if ((ctx = ca_serve_tls(s)) != NULL) {
		SSL_CTX_free(s->ssl);
		s->ssl = ctx;
	}
	ca_cert_serial_hex(s->ca.inter, a, sizeof(a));
	b[0] = '\0';
	if (s->ca.old != NULL)
		ca_cert_serial_hex(s->ca.old, b, sizeof(b));
	fprintf(stderr,
	    "cotai-ca: serve: issuing intermediate %s%s%s (loaded again)\n", a,
	    s->ca.old != NULL ? ", previous one still published: " : "", b);
}

/*
 * Keep the CRL fresh without cron: when less than half of its validity is
 * left at the CA's clock, sign a new one (under the lock, like "cotai-ca
 * crl": DIR/crl.pem and every output directory). Runs at start and every
 * CA_SERVE_CRL_CHECK seconds; a failure is logged and retried next time.
 */
#define CA_SERVE_CRL_CHECK 600

static void
ca_serve_crl_refresh(struct ca_serve *s)
{
	int64_t now = ca_util_now();

	if (ca_serve_crl_load(s) == 0 &&
	    s->crl_next_update - now > CA_CRL_VALIDITY / 2)
		return;
	if (ca_store_lock(s->ca.store) != 0)
		return;
	s->ca.now = now;
	if (ca_ctx_reload_index(&s->ca) == 0 &&
	    ca_ctx_publish_crl(&s->ca, NULL, 1) == 0)
		fprintf(stderr, "cotai-ca: serve: signed a new CRL\n");
	ca_store_unlock(s->ca.store);
	ca_serve_crl_load(s);
}

static void
ca_serve_on_crl_timer(evutil_socket_t fd, short what, void *arg)
{
	ca_serve_ca_check(arg);
	ca_serve_crl_refresh(arg);
}

/* Parse the flags into C (CONFIG gets -c); 1 to exit 0 (help). */
static int
ca_serve_args(int argc, char **argv, struct ca_serve_conf *c,
    const char **config, int *check)
{
	static const struct option longopts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"check", no_argument, NULL, 'k'},
	    {"help", no_argument, NULL, 'h'},
	    {"listen", required_argument, NULL, 0},
	    {"tls-cert", required_argument, NULL, 0},
	    {"tls-key", required_argument, NULL, 0},
	    {"ttl", required_argument, NULL, 0},
	    {"timeout", required_argument, NULL, 0},
	    {"max-body", required_argument, NULL, 0},
	    {"max-connections", required_argument, NULL, 0},
	    {"rate", required_argument, NULL, 0},
	    {"crl-max-age", required_argument, NULL, 0},
	    {"rollover-delay", required_argument, NULL, 0},
	    {"audit", required_argument, NULL, 0},
	    {"port-file", required_argument, NULL, 0},
	    {NULL, 0, NULL, 0},
	};
	char key[32], err[512];
	int ch, li;

	optind = 0;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "c:h", longopts, &li)) != -1) {
		switch (ch) {
		case 'c':
			*config = optarg;
			break;
		case 'k':
			*check = 1;
			break;
		case 'h':
			fputs(ca_serve_usage, stdout);
			return (1);
		case 0:
			snprintf(key, sizeof(key), "%s", longopts[li].name);
			for (char *p = key; *p != '\0'; p++)
				if (*p == '-')
					*p = '_';
			if (ca_serve_conf_set(
				c, key, optarg, err, sizeof(err)) != 0)
				return (ca_cmd_usage_error(ca_serve_usage,
				    "--%s: %s", longopts[li].name, err));
			break;
		default:
			return (ca_cmd_bad_option(
			    ca_serve_usage, argv, optind, optopt));
		}
	}
	if (optind < argc)
		return (ca_cmd_usage_error(
		    ca_serve_usage, "unexpected argument: %s", argv[optind]));
	return (0);
}

/* Everything but the loop; 0 or -1 after printing the error. */
static int
ca_serve_setup(struct ca_serve *s, const char *dir)
{
	if (ca_ctx_open(&s->ca, dir, CA_CTX_KEY) != 0)
		return (-1);
	if (realpath(dir, s->state_dir) == NULL) {
		ca_util_err("%s: %s", dir, strerror(errno));
		return (-1);
	}
	if ((s->ssl = ca_serve_tls(s)) == NULL)
		return (-1);
	if ((s->keys = ca_keyset_new()) == NULL ||
	    (s->rate = calloc(CA_SERVE_RATE_SLOTS, sizeof(*s->rate))) == NULL) {
		ca_util_err("out of memory");
		return (-1);
	}
	if (ca_serve_est_keys_sync(s) != 0 || ca_serve_build_cacerts(s) != 0)
		return (-1);
	ca_serve_fid_of(s, "intermediate.crt", &s->inter_file);
	ca_serve_fid_of(s, CA_CTX_OLD_CRT, &s->old_file);
	if (ca_serve_exidx == -1 &&
	    (ca_serve_exidx = CRYPTO_get_ex_new_index(CRYPTO_EX_INDEX_SSL, 0,
		 NULL, NULL, NULL, ca_serve_conn_gone)) < 0) {
		ca_util_err_ssl("ex_data index");
		return (-1);
	}
	return (0);
}

/* Open the audit file, build the HTTP server, bind; 0 or -1. */
static int
ca_serve_start(struct ca_serve *s)
{
	const struct ca_serve_conf *c = s->conf;

	if (c->audit[0] == '\0')
		s->audit = stdout;
	else if ((s->audit = fopen(c->audit, "ae")) == NULL) {
		ca_util_err("audit %s: %s", c->audit, strerror(errno));
		return (-1);
	}
	setvbuf(s->audit, NULL, _IOLBF, 0);
	if ((s->base = event_base_new()) == NULL ||
	    (s->http = evhttp_new(s->base)) == NULL) {
		ca_util_err("libevent setup failed");
		return (-1);
	}
	evhttp_set_max_body_size(s->http, (ev_ssize_t)c->max_body);
	evhttp_set_max_headers_size(s->http, 16384);
	evhttp_set_timeout(s->http, (int)c->timeout);
	evhttp_set_allowed_methods(s->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST);
	evhttp_set_bevcb(s->http, ca_serve_bevcb, s);
	evhttp_set_gencb(s->http, ca_serve_dispatch, s);
	return (ca_serve_bind(s));
}

static void
ca_serve_free(struct ca_serve *s)
{
	/* Connections (and their SSL objects) go before what they count. */
	if (s->crl_timer != NULL)
		event_free(s->crl_timer);
	if (s->http != NULL)
		evhttp_free(s->http);
	s->lis = NULL;
	if (s->base != NULL)
		event_base_free(s->base);
	if (s->audit != NULL && s->audit != stdout)
		fclose(s->audit);
	SSL_CTX_free(s->ssl);
	ca_keyset_free(s->keys);
	free(s->rate);
	free(s->cacerts);
	free(s->crl);
	free(s->crls);
	ca_ctx_close(&s->ca);
}

int
ca_cmd_serve(const char *dir, int argc, char **argv)
{
	static struct ca_serve_conf conf;
	struct ca_serve s;
	struct event *sig_term = NULL, *sig_int = NULL, *sig_hup = NULL;
	const char *config = NULL;
	char err[PATH_MAX + 512];
	int check = 0, rc;

	memset(&s, 0, sizeof(s));
	ca_serve_conf_init(&conf);
	if ((rc = ca_serve_args(argc, argv, &conf, &config, &check)) != 0)
		return (rc == 1 ? CA_CMD_OK : rc);
	if ((config != NULL &&
		ca_serve_conf_load(&conf, config, 1, err, sizeof(err)) != 0) ||
	    ca_serve_conf_finish(&conf, err, sizeof(err)) != 0) {
		ca_util_err("%s", err);
		return (CA_CMD_FAIL);
	}
	s.conf = &conf;
	rc = CA_CMD_FAIL;
	if (ca_serve_setup(&s, dir) != 0)
		goto out;
	if (check) {
		ca_serve_conf_print(&conf);
		printf("ok: CA %s, trust domain %s\n", s.state_dir, s.ca.td);
		rc = CA_CMD_OK;
		goto out;
	}
	signal(SIGPIPE, SIG_IGN);
	if (ca_serve_start(&s) != 0)
		goto out;
	if ((sig_term = evsignal_new(
		 s.base, SIGTERM, ca_serve_on_signal, &s)) == NULL ||
	    (sig_int = evsignal_new(s.base, SIGINT, ca_serve_on_signal, &s)) ==
		NULL ||
	    (sig_hup = evsignal_new(s.base, SIGHUP, ca_serve_on_signal, &s)) ==
		NULL ||
	    event_add(sig_term, NULL) != 0 || event_add(sig_int, NULL) != 0 ||
	    event_add(sig_hup, NULL) != 0) {
		ca_util_err("signal setup failed");
		goto out;
	}
	ca_serve_crl_refresh(&s);
	if ((s.crl_timer = event_new(
		 s.base, -1, EV_PERSIST, ca_serve_on_crl_timer, &s)) == NULL ||
	    event_add(s.crl_timer, &(struct timeval){CA_SERVE_CRL_CHECK, 0}) !=
		0) {
		ca_util_err("timer setup failed");
		goto out;
	}
	if (event_base_dispatch(s.base) == 0)
		rc = CA_CMD_OK;
out:
	if (sig_term != NULL)
		event_free(sig_term);
	if (sig_int != NULL)
		event_free(sig_int);
	if (sig_hup != NULL)
		event_free(sig_hup);
	ca_serve_free(&s);
	return (rc);
}
