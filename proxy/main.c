/*
 * cotai-proxy: the mutual-TLS sidecar. See DESIGN.md and issue 3.
 *
 *	cotai-proxy -c FILE [--ports-file PATH]
 *	cotai-proxy --check -c FILE
 *
 * Start-up order matters: load the config and all key material and bind
 * every listening socket first (these may need root), write the ports
 * file, then drop to cfg->user, then start the worker threads. The main
 * thread afterwards only handles signals: SIGTERM/SIGINT drain and exit 0,
 * SIGHUP is logged (reload comes later).
 */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <event2/event.h>

#include "config.h"
#include "log.h"
#include "tls.h"
#include "worker.h"

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: cotai-proxy -c FILE [--ports-file PATH]\n"
	    "       cotai-proxy --check -c FILE\n"
	    "\n"
	    "  -c, --config FILE   the YAML configuration\n"
	    "      --check         validate FILE, print the effective policy, "
	    "exit 0/1\n"
	    "      --ports-file P  once bound, write \"ROUTE HOST:PORT\" "
	    "lines to P\n"
	    "  -h, --help          this text\n");
}

/* Switch to USER for good (root only). 0 or -1, logged. */
static int
drop_privileges(const char *user)
{
	struct passwd *pw;

	if (geteuid() != 0) {
		if (user != NULL)
			log_warn("not root: staying uid %ld, ignoring user %s",
			    (long)getuid(), user);
		return (0);
	}
	if (user == NULL) {
		log_error(
		    "refusing to run as root: set \"user:\" in the config");
		return (-1);
	}
	if ((pw = getpwnam(user)) == NULL) {
		log_error("unknown user %s", user);
		return (-1);
	}
	if (pw->pw_uid == 0) {
		log_error("user %s is root", user);
		return (-1);
	}
	if (initgroups(pw->pw_name, pw->pw_gid) != 0 ||
	    setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0) {
		log_errno("cannot switch to user %s", user);
		return (-1);
	}
	if (setuid(0) == 0) {
		log_error("could regain root after dropping it");
		return (-1);
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
		log_errno("PR_SET_NO_NEW_PRIVS");
		return (-1);
	}
	return (0);
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct event_base *base = arg;

	if (sig == SIGHUP) {
		log_warn("SIGHUP: reload not implemented yet");
		return;
	}
	log_info("signal %d: draining", (int)sig);
	event_base_loopbreak(base);
}

/*
 * The main thread's event base, with SIGTERM/SIGINT/SIGHUP handled from
 * before the ports file is written (a test may signal us right after).
 */
struct signals {
	struct event_base *base;
	struct event *ev[3];
};

static int
signals_init(struct signals *sg)
{
	static const int sigs[] = {SIGTERM, SIGINT, SIGHUP};

	if ((sg->base = event_base_new()) == NULL) {
		log_error("event_base_new failed");
		return (-1);
	}
	for (size_t i = 0; i < 3; i++) {
		sg->ev[i] =
		    evsignal_new(sg->base, sigs[i], on_signal, sg->base);
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
	if (sg->base != NULL)
		event_base_free(sg->base);
}

/* Run POOL until SIGTERM/SIGINT, then drain. 0 or -1. */
static int
serve(struct worker_pool *pool, struct signals *sg)
{
	if (worker_pool_start(pool) != 0) {
		worker_pool_join(pool);
		return (-1);
	}
	log_info("ready: %zu routes, %zu workers", pool->nroutes, pool->nw);
	event_base_dispatch(sg->base);
	worker_pool_drain(pool);
	worker_pool_join(pool);
	log_info("stopped");
	return (0);
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"check", no_argument, NULL, 'C'},
	    {"ports-file", required_argument, NULL, 'p'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct cotai_config *cfg = NULL;
	struct worker_pool *pool = NULL;
	struct signals sg = {NULL, {NULL, NULL, NULL}};
	const char *path = NULL, *ports = NULL;
	char err[1024];
	int ch, check = 0, ret = EXIT_FAILURE;

	while ((ch = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			path = optarg;
			break;
		case 'C':
			check = 1;
			break;
		case 'p':
			ports = optarg;
			break;
		case 'h':
			usage(stdout);
			return (EXIT_SUCCESS);
		default:
			usage(stderr);
			return (2);
		}
	}
	if (path == NULL || optind != argc) {
		usage(stderr);
		return (2);
	}
	signal(SIGPIPE, SIG_IGN);
	log_setup("cotai-proxy", LOG_L_INFO, LOG_F_TEXT);
	if (config_load(path, &cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "cotai-proxy: %s\n", err);
		goto out;
	}
	if (check) {
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
	if (signals_init(&sg) != 0 || tls_init() != 0 ||
	    (pool = worker_pool_new(cfg)) == NULL)
		goto out;
	if (ports != NULL && worker_pool_write_ports(pool, ports) != 0)
		goto out;
	if (drop_privileges(cfg->user) != 0)
		goto out;
	if (serve(pool, &sg) == 0)
		ret = EXIT_SUCCESS;
out:
	worker_pool_free(pool);
	signals_clear(&sg);
	config_free(cfg);
	libevent_global_shutdown();
	return (ret);
}
