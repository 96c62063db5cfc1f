/*
 * cotai-proxy: the mutual-TLS sidecar. See proxy/DESIGN.md and issue 3.
 *
 *	cotai-proxy -c FILE [--ports-file PATH]
 *	cotai-proxy --check -c FILE
 *	cotai-proxy health [-c FILE | --admin ADDR] [--ready]
 *	cotai-proxy --version | -h
 *
 * Start-up order matters: load the config and all key material and bind
 * every listening socket first (these may need root), write the ports
 * file, then drop to cfg->user, then apply the sandbox (sandbox.h) while
 * the main thread is still the only one, so that the worker threads
 * started next inherit it, then start the worker threads. The main
 * thread afterwards runs the admin endpoint (admin.h) and handles signals:
 * SIGTERM/SIGINT drain (the admin endpoint answers 503 meanwhile) and exit
 * 0, SIGHUP reloads (reload.h), as do changes to the watched files. With
 * drain_delay, the listeners keep accepting for that long after the first
 * SIGTERM/SIGINT before the drain starts (a second one starts it at once):
 * time for clients to stop using this address (an orchestrator has taken
 * it out of DNS), so none of them is refused meanwhile.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/crypto.h>
#include <yaml.h>

#include "admin.h"
#include "audit.h"
#include "config.h"
#include "duration.h"
#include "log.h"
#include "privs.h"
#include "probe.h"
#include "reload.h"
#include "renew.h"
#include "sandbox.h"
#include "tls.h"
#include "version.h"
#include "worker.h"

#define HEALTH_DEFAULT_ADMIN "127.0.0.1:9901"
#define HEALTH_TIMEOUT_MS 3000

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: cotai-proxy -c FILE [--ports-file PATH]\n"
	    "       cotai-proxy --check -c FILE\n"
	    "       cotai-proxy health [-c FILE | --admin ADDR] [--ready]\n"
	    "       cotai-proxy --version | -h\n"
	    "\n"
	    "  -c, --config FILE   the YAML configuration\n"
	    "      --check         validate FILE, print the effective policy, "
	    "exit 0/1\n"
	    "      --ports-file P  once bound, write \"ROUTE HOST:PORT\" "
	    "lines to P\n"
	    "                      (and \"admin HOST:PORT\")\n"
	    "  health              ask a running proxy's admin endpoint "
	    "(admin.listen of\n"
	    "                      -c FILE, or ADDR, default "
	    "127.0.0.1:9901) for /healthz\n"
	    "                      (--ready: /readyz); exit 0 healthy, "
	    "1 not; with\n"
	    "                      admin.tls it asks admin.health_listen\n"
	    "  -V, --version       print the version, commit and libraries\n"
	    "  -h, --help          this text\n");
}

/* `--version`: ours (build/version.h) and the libraries' at run time. */
static void
version(void)
{
	printf("cotai-proxy %s (commit %s)\n", COTAI_VERSION, COTAI_COMMIT);
	printf("%s, libevent %s, libyaml %s\n",
	    OpenSSL_version(OPENSSL_VERSION), event_get_version(),
	    yaml_get_version_string());
}

/*
 * The main thread's event base, with SIGTERM/SIGINT/SIGHUP handled from
 * before the ports file is written (a test may signal us right after).
 * POOL, RL and AD are set once they exist.
 */
struct signals {
	struct event_base *base;
	struct event *ev[3];
	struct event *ev_poll;  /* draining: have the workers finished? */
	struct event *ev_delay; /* drain_delay: when the drain starts */
	struct event *ev_sweep; /* expired TLS sessions out of the caches */
	struct worker_pool *pool;
	struct reload *rl;
	struct admin *ad;
	struct admin *health; /* admin.health_listen, or NULL */
	bool draining;
	bool delaying; /* within drain_delay */
};

static void
on_drain_poll(evutil_socket_t fd, short what, void *arg)
{
	struct signals *sg = arg;

	if (sg->pool == NULL || worker_pool_finished(sg->pool))
		event_base_loopbreak(sg->base);
}

/*
 * Every minute, expired sessions leave the terminate routes' caches also
 * when no handshake runs (OpenSSL's own sweep rides on every 255th new
 * session).
 */
#define SESSION_SWEEP_S 60

static void
on_session_sweep(evutil_socket_t fd, short what, void *arg)
{
	struct signals *sg = arg;

	worker_pool_sweep_sessions(sg->pool);
}

/* SIGTERM/SIGINT (after drain_delay): stop accepting, keep answering the
 * admin endpoint (503) until the workers are done. */
static void
start_drain(struct signals *sg)
{
	struct timeval tv = {0, 50 * 1000};

	sg->draining = true;
	sg->delaying = false;
	admin_set_draining(sg->ad);
	admin_set_draining(sg->health);
	reload_stop(sg->rl);
	if (sg->pool != NULL)
		worker_pool_drain(sg->pool);
	sg->ev_poll = event_new(sg->base, -1, EV_PERSIST, on_drain_poll, sg);
	if (sg->ev_poll == NULL || event_add(sg->ev_poll, &tv) != 0)
		event_base_loopbreak(sg->base);
}

static void
on_drain_delay(evutil_socket_t fd, short what, void *arg)
{
	struct signals *sg = arg;

	log_info("drain_delay over: draining");
	start_drain(sg);
}

/*
 * The first SIGTERM/SIGINT with a drain_delay: go on accepting (and
 * relaying) for that long, but answer 503 on the admin endpoint and stop
 * reloading. 0, or -1 when the timer cannot be set (drain at once).
 */
static int
start_delay(struct signals *sg, uint32_t ms)
{
	struct timeval tv = {
	    (time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};

	sg->ev_delay = evtimer_new(sg->base, on_drain_delay, sg);
	if (sg->ev_delay == NULL || evtimer_add(sg->ev_delay, &tv) != 0) {
		log_error("cannot set the drain_delay timer: draining now");
		return (-1);
	}
	sg->delaying = true;
	admin_set_draining(sg->ad);
	reload_stop(sg->rl);
	return (0);
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct signals *sg = arg;
	uint32_t delay;
	char b[32];

	if (sig == SIGHUP) {
		if (sg->rl != NULL && !sg->draining && !sg->delaying)
			(void)reload_run(sg->rl, "SIGHUP");
		return;
	}
	if (sg->draining)
		return;
	if (sg->delaying) {
		log_info("signal %d again: draining now", (int)sig);
		(void)event_del(sg->ev_delay);
		start_drain(sg);
		return;
	}
	delay =
	    sg->pool != NULL ? worker_pool_config(sg->pool)->drain_delay_ms : 0;
	if (delay > 0) {
		log_info("signal %d: still accepting for drain_delay %s, "
			 "then draining",
		    (int)sig, duration_format(delay, b, sizeof(b)));
		if (start_delay(sg, delay) == 0)
			return;
	} else
		log_info("signal %d: draining", (int)sig);
	start_drain(sg);
}

static int
signals_init(struct signals *sg)
{
	static const int sigs[] = {SIGTERM, SIGINT, SIGHUP};

	if ((sg->base = event_base_new()) == NULL) {
		log_error("event_base_new failed");
		return (-1);
	}
	for (size_t i = 0; i < 3; i++) {
		sg->ev[i] = evsignal_new(sg->base, sigs[i], on_signal, sg);
		if (sg->ev[i] == NULL || evsignal_add(sg->ev[i], NULL) != 0) {
			log_error("cannot handle signal %d", sigs[i]);
			return (-1);
		}
	}
	return (0);
}

static void
signals_clear(struct signals *sg)
{
	for (size_t i = 0; i < 3; i++)
		if (sg->ev[i] != NULL)
			event_free(sg->ev[i]);
	if (sg->ev_poll != NULL)
		event_free(sg->ev_poll);
	if (sg->ev_delay != NULL)
		event_free(sg->ev_delay);
	if (sg->ev_sweep != NULL)
		event_free(sg->ev_sweep);
	reload_free(sg->rl);
	admin_free(sg->ad);
	admin_free(sg->health);
	if (sg->base != NULL)
		event_base_free(sg->base);
}

/*
 * `cotai-proxy health`: GET /healthz (or /readyz) from the admin endpoint
 * named by --admin, by -c FILE's admin.health_listen or admin.listen (not
 * when that is mTLS), or the default. 0 or 1.
 */
static int
health_main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"admin", required_argument, NULL, 'a'},
	    {"ready", no_argument, NULL, 'r'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct cotai_config *cfg = NULL;
	const char *addr = HEALTH_DEFAULT_ADMIN, *path = NULL;
	const char *what = "/healthz";
	char err[1024], why[256];
	int ch, code = -1;

	while ((ch = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		if (ch == 'c')
			path = optarg;
		else if (ch == 'a')
			addr = optarg;
		else if (ch == 'r')
			what = "/readyz";
		else if (ch == 'h') {
			usage(stdout);
			return (0);
		} else {
			usage(stderr);
			return (2);
		}
	}
	if (optind != argc) {
		usage(stderr);
		return (2);
	}
	if (path != NULL) {
		if (config_load(path, &cfg, err, sizeof(err)) != 0) {
			fprintf(stderr, "cotai-proxy health: %s\n", err);
			return (1);
		}
		if (!cfg->admin_enabled) {
			fprintf(stderr,
			    "cotai-proxy health: admin disabled "
			    "in %s\n",
			    path);
			config_free(cfg);
			return (1);
		}
		/* An mTLS endpoint would want a certificate: ask the plain
		 * loopback health listener instead. */
		addr = cfg->admin_health_listen.text != NULL
		    ? cfg->admin_health_listen.text
		    : cfg->admin_listen.text;
		if (cfg->admin_tls && cfg->admin_health_listen.text == NULL) {
			fprintf(stderr,
			    "cotai-proxy health: the admin endpoint of %s "
			    "is mTLS only; set admin.health_listen (a "
			    "loopback address) for health checks\n",
			    path);
			config_free(cfg);
			return (1);
		}
	}
	code = probe_http(addr, what, HEALTH_TIMEOUT_MS, why, sizeof(why));
	if (code == 200)
		printf("healthy: %s %s\n", addr, what);
	else
		printf("unhealthy: %s %s: %s\n", addr, what, why);
	config_free(cfg);
	return (code == 200 ? 0 : 1);
}

/* Run POOL until SIGTERM/SIGINT, then drain. 0 or -1. */
static int
serve(struct worker_pool *pool, struct signals *sg)
{
	if (worker_pool_start(pool) != 0) {
		worker_pool_join(pool);
		return (-1);
	}
	log_info("ready: %zu routes, %zu workers", worker_pool_nroutes(pool),
	    worker_pool_nworkers(pool));
	event_base_dispatch(sg->base);
	if (!sg->draining)
		worker_pool_drain(pool);
	worker_pool_join(pool);
	log_info("stopped");
	return (0);
}

/* The "start" audit record: each route and the certificate it presents. */
static void
audit_started(const struct worker_pool *pool)
{
	for (size_t i = 0; i < worker_pool_nroutes(pool); i++) {
		const struct route *r = worker_pool_route(pool, i);
		struct audit_rec a;
		char serial[80];

		audit_ctx_serial(r->ssl_ctx, serial, sizeof(serial));
		audit_begin(&a, "start");
		audit_str(&a, "route", r->cfg->name);
		audit_str(&a, "mode", config_mode_name(r->cfg->mode));
		audit_str(&a, "cert_serial", serial);
		audit_end(&a);
	}
}

/*
 * What needs privileges after the pool: the admin endpoint, the file
 * watch, the ports file; then drop them and apply the sandbox. Threads
 * start only after this (serve()), so Landlock covers them all. 0 or -1
 * (logged).
 */
static int
start(struct worker_pool *pool, struct signals *sg, const char *ports,
    const struct renew *rn)
{
	const struct cotai_config *cfg = worker_pool_config(pool);
	const struct admin_opts aopts = {.tls = cfg->admin_tls, .renew = rn};
	const struct admin_opts hopts = {.health_only = true};

	sg->pool = pool;
	if (cfg->admin_enabled) {
		if ((sg->ad = admin_new(
			 sg->base, &cfg->admin_listen, pool, &aopts)) == NULL)
			return (-1);
		if (!cfg->admin_tls && cfg->admin_plaintext_bind_any &&
		    !config_addr_is_local(&cfg->admin_listen))
			log_warn("admin: %s serves /metrics without "
				 "authentication (admin.plaintext_bind_any)",
			    cfg->admin_listen.text);
	}
	if (cfg->admin_enabled && cfg->admin_health_listen.text != NULL &&
	    (sg->health = admin_new(
		 sg->base, &cfg->admin_health_listen, pool, &hopts)) == NULL)
		return (-1);
	worker_pool_set_admin_bound(pool,
	    sg->ad != NULL ? admin_bound(sg->ad) : NULL,
	    sg->health != NULL ? admin_bound(sg->health) : NULL);
	if ((sg->rl = reload_new(sg->base, pool, ports)) == NULL ||
	    audit_start(sg->base) != 0)
		return (-1);
	audit_started(pool);
	sg->ev_sweep =
	    event_new(sg->base, -1, EV_PERSIST, on_session_sweep, sg);
	if (sg->ev_sweep == NULL ||
	    event_add(sg->ev_sweep, &(struct timeval){SESSION_SWEEP_S, 0}) !=
		0) {
		log_error("cannot start the session sweep");
		return (-1);
	}
	if (ports != NULL && worker_pool_write_ports(pool, ports) != 0)
		return (-1);
	if (privs_drop(cfg->user) != 0)
		return (-1);
	return (sandbox_apply(cfg, ports));
}

/*
 * identity.renew: make the state directory complete (enrolling with the
 * token when needed), then load the configuration at PATH again, now that
 * its files exist, into *CFG. The renewal client, or NULL (logged).
 */
static struct renew *
renew_bootstrap_config(const char *path, struct cotai_config **cfg)
{
	struct renew *rn = renew_new(&(*cfg)->identity.renew, (*cfg)->user);
	char err[1024];

	if (rn == NULL || renew_bootstrap(rn) != 0) {
		renew_free(rn);
		return (NULL);
	}
	config_free(*cfg);
	if (config_load(path, cfg, err, sizeof(err)) != 0) {
		log_error("%s", err);
		renew_free(rn);
		return (NULL);
	}
	return (rn);
}

struct args {
	const char *path;  /* -c */
	const char *ports; /* --ports-file */
	bool check;        /* --check */
};

/* Parse the command line into A: -1 to go on, or the exit status. */
static int
args_parse(int argc, char **argv, struct args *a)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"check", no_argument, NULL, 'C'},
	    {"ports-file", required_argument, NULL, 'p'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	int ch;

	memset(a, 0, sizeof(*a));
	while ((ch = getopt_long(argc, argv, "c:hV", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			a->path = optarg;
			break;
		case 'C':
			a->check = true;
			break;
		case 'p':
			a->ports = optarg;
			break;
		case 'h':
			usage(stdout);
			return (EXIT_SUCCESS);
		case 'V':
			version();
			return (EXIT_SUCCESS);
		default:
			usage(stderr);
			return (2);
		}
	}
	if (a->path == NULL || optind != argc) {
		usage(stderr);
		return (2);
	}
	return (-1);
}

int
main(int argc, char **argv)
{
	struct cotai_config *cfg = NULL;
	struct route_config *rc = NULL;
	struct worker_pool *pool = NULL;
	struct renew *rn = NULL;
	struct signals sg;
	struct args a;
	char err[1024];
	int ret;

	memset(&sg, 0, sizeof(sg));
	if (argc > 1 && strcmp(argv[1], "health") == 0) {
		log_setup("cotai-proxy", LOG_L_WARN, LOG_F_TEXT);
		return (health_main(argc - 1, argv + 1));
	}
	if ((ret = args_parse(argc, argv, &a)) >= 0)
		return (ret);
	ret = EXIT_FAILURE;
	signal(SIGPIPE, SIG_IGN);
	log_setup("cotai-proxy", LOG_L_INFO, LOG_F_TEXT);
	if (config_load(a.path, &cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "cotai-proxy: %s\n", err);
		goto out;
	}
	if (a.check) {
		config_print(cfg, stdout);
		ret = EXIT_SUCCESS;
		goto out;
	}
	log_setup("cotai-proxy", (enum log_level)cfg->log_level,
	    (enum log_format)cfg->log_format);
	if (geteuid() == 0 && cfg->user == NULL) {
		log_error(
		    "refusing to run as root: set \"user:\" in the config");
		goto out;
	}
	if (audit_setup(&cfg->audit) != 0)
		goto out;
	if (cfg->identity.renew.url != NULL &&
	    (rn = renew_bootstrap_config(a.path, &cfg)) == NULL)
		goto out;
	rc = route_config_new(cfg);
	cfg = NULL;
	if (rc == NULL || signals_init(&sg) != 0 || tls_init() != 0 ||
	    (pool = worker_pool_new(rc)) == NULL)
		goto out;
	if (start(pool, &sg, a.ports, rn) == 0 &&
	    (rn == NULL || renew_start(rn, sg.base, sg.rl) == 0) &&
	    serve(pool, &sg) == 0)
		ret = EXIT_SUCCESS;
out:
	/* The admin endpoint and reloads read the pool: free them first. */
	reload_free(sg.rl);
	sg.rl = NULL;
	admin_free(sg.ad);
	sg.ad = NULL;
	admin_free(sg.health);
	sg.health = NULL;
	worker_pool_free(pool);
	renew_free(rn);
	audit_shutdown();
	signals_clear(&sg);
	route_config_unref(rc);
	config_free(cfg);
	sandbox_clear();
	libevent_global_shutdown();
	return (ret);
}
