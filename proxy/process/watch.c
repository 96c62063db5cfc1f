/*
 * watch: see watch.h. One inotify descriptor for the process's life; a new
 * set adds the new directories before removing the ones no longer needed,
 * so no change between two sets is missed.
 */
#include "watch.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <time.h>
#include <unistd.h>

#include "debounce.h"
#include "duration.h"
#include "log.h"

#define WATCH_MAX 64 /* directories and names */
#define WATCH_MASK                                                             \
	(IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE |            \
	    IN_DELETE | IN_ATTRIB | IN_ONLYDIR)

struct watch {
	int fd;
	struct event *ev, *timer;
	struct debounce db;
	void (*fire)(struct reload *);
	struct reload *rl;
	int wds[WATCH_MAX];
	size_t nwds;
	char *names[WATCH_MAX];
	size_t nnames;
};

bool
watch_name_matches(char *const *names, size_t n, const char *name)
{
	if (strncmp(name, "..", 2) == 0)
		return (true);
	for (size_t i = 0; i < n; i++)
		if (strcmp(names[i], name) == 0)
			return (true);
	return (false);
}

/* Wait for the burst to end, or fire now. */
static void
watch_arm(struct watch *w)
{
	uint64_t left = debounce_due(&w->db, duration_now_ms());
	struct timeval tv;

	if (left == DEBOUNCE_NONE)
		return;
	if (left == 0) {
		w->fire(w->rl);
		return;
	}
	tv.tv_sec = (time_t)(left / 1000);
	tv.tv_usec = (suseconds_t)(left % 1000) * 1000;
	evtimer_add(w->timer, &tv);
}

static void
watch_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	watch_arm(arg);
}

static void
watch_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct watch *w = arg;
	char buf[8192]
	    __attribute__((aligned(__alignof__(struct inotify_event))));
	const struct inotify_event *ev;
	bool hit = false;
	ssize_t n;

	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + n; p += sizeof(*ev) + ev->len) {
			ev = (const struct inotify_event *)(void *)p;
			if ((ev->mask & IN_Q_OVERFLOW) ||
			    (ev->len > 0 &&
				watch_name_matches(
				    w->names, w->nnames, ev->name)))
				hit = true;
		}
	}
	if (!hit)
		return;
	debounce_event(&w->db, duration_now_ms());
	watch_arm(w);
}

void
watch_settle(struct watch *w)
{
	char buf[4096]
	    __attribute__((aligned(__alignof__(struct inotify_event))));

	if (w == NULL)
		return;
	while (read(w->fd, buf, sizeof(buf)) > 0)
		;
	debounce_init(&w->db, w->db.quiet_ms);
	evtimer_del(w->timer);
}

struct watch *
watch_new(struct event_base *base, uint32_t quiet_ms,
    void (*fire)(struct reload *), struct reload *rl)
{
	struct watch *w;

	if ((w = calloc(1, sizeof(*w))) == NULL) {
		log_errno("calloc");
		return (NULL);
	}
	w->fire = fire;
	w->rl = rl;
	debounce_init(&w->db, quiet_ms);
	if ((w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) < 0) {
		log_errno("inotify_init1");
		free(w);
		return (NULL);
	}
	w->ev = event_new(base, w->fd, EV_READ | EV_PERSIST, watch_read_cb, w);
	w->timer = evtimer_new(base, watch_timer_cb, w);
	if (w->ev == NULL || w->timer == NULL || event_add(w->ev, NULL) != 0) {
		log_error("watch: cannot set up events");
		watch_free(w);
		return (NULL);
	}
	return (w);
}

/*
 * Add PATH's directory and name to the new set (WDS, NAMES). -1 when the
 * directory cannot be watched (logged).
 */
static int
watch_add(struct watch *w, const char *path, int *wds, size_t *nwds,
    char **names, size_t *nnames)
{
	char dir[PATH_MAX], *slash;
	int wd;

	if (path == NULL || strlen(path) >= sizeof(dir) || *nwds == WATCH_MAX ||
	    *nnames == WATCH_MAX)
		return (0);
	strcpy(dir, path);
	slash = strrchr(dir, '/');
	if (slash == NULL)
		strcpy(dir, ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	for (size_t i = 0; i < *nnames; i++)
		if (strcmp(names[i],
			strrchr(path, '/') != NULL ? strrchr(path, '/') + 1
						   : path) == 0)
			goto dir;
	if ((names[*nnames] = strdup(
		 strrchr(path, '/') != NULL ? strrchr(path, '/') + 1 : path)) !=
	    NULL)
		(*nnames)++;
dir:
	if ((wd = inotify_add_watch(w->fd, dir, WATCH_MASK)) < 0) {
		log_errno("watch %s", dir);
		return (-1);
	}
	for (size_t i = 0; i < *nwds; i++)
		if (wds[i] == wd)
			return (0);
	wds[(*nwds)++] = wd;
	return (0);
}

/* PATH, and where it points to when it is a symlink. -1: not all watched. */
static int
watch_add_path(struct watch *w, const char *path, int *wds, size_t *nwds,
    char **names, size_t *nnames)
{
	char real[PATH_MAX];
	int rc;

	if (path == NULL)
		return (0);
	rc = watch_add(w, path, wds, nwds, names, nnames);
	if (realpath(path, real) != NULL && strcmp(real, path) != 0 &&
	    watch_add(w, real, wds, nwds, names, nnames) != 0)
		rc = -1;
	return (rc);
}

/*
 * The old watches not in the new set (WDS): removed, unless a directory
 * could not be watched this time (FAILED): then they all stay, since one
 * of them may be that directory's (watches are ids, not names), and a
 * stale one only costs an event filtered by name.
 */
static void
watch_drop_old(struct watch *w, int *wds, size_t *nwds, bool failed)
{
	for (size_t i = 0; i < w->nwds; i++) {
		bool kept = false;

		for (size_t k = 0; k < *nwds; k++)
			kept = kept || wds[k] == w->wds[i];
		if (kept)
			continue;
		if (failed && *nwds < WATCH_MAX)
			wds[(*nwds)++] = w->wds[i];
		else
			(void)inotify_rm_watch(w->fd, w->wds[i]);
	}
}

int
watch_set(struct watch *w, const struct cotai_config *cfg)
{
	int wds[WATCH_MAX];
	char *names[WATCH_MAX];
	size_t nwds = 0, nnames = 0;
	bool failed;

	failed = watch_add_path(w, cfg->path, wds, &nwds, names, &nnames) != 0;
	/* The admin endpoint's files are reloaded like a route's. */
	for (size_t i = 0; i <= cfg->nroutes; i++) {
		const struct config_route *r =
		    i < cfg->nroutes ? &cfg->routes[i] : &cfg->admin_route;
		const struct config_identity *id = &r->identity;
		const struct config_local_tls *lt = &r->pg_local_tls;
		const char *files[] = {
		    id->ca, id->cert, id->key, id->crl, lt->cert, lt->key};

		for (size_t k = 0; k < sizeof(files) / sizeof(files[0]); k++)
			if (watch_add_path(
				w, files[k], wds, &nwds, names, &nnames) != 0)
				failed = true;
	}
	if (failed)
		log_warn("watch: a directory could not be watched; the "
			 "previous watches stay (SIGHUP reloads in any case)");
	watch_drop_old(w, wds, &nwds, failed);
	for (size_t i = 0; i < w->nnames; i++)
		free(w->names[i]);
	memcpy(w->wds, wds, nwds * sizeof(wds[0]));
	memcpy(w->names, names, nnames * sizeof(names[0]));
	w->nwds = nwds;
	w->nnames = nnames;
	return (nwds > 0 ? 0 : -1);
}

void
watch_free(struct watch *w)
{
	if (w == NULL)
		return;
	if (w->ev != NULL)
		event_free(w->ev);
	if (w->timer != NULL)
		event_free(w->timer);
	for (size_t i = 0; i < w->nnames; i++)
		free(w->names[i]);
	close(w->fd);
	free(w);
}
