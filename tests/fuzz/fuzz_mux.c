/*
 * fuzz_mux: the frames a terminate sidecar reads on a tunnel
 * (proxy/relay/mux.c), from an authenticated peer that sends anything at all:
 * the bytes are written into one end of a socketpair whose other end is a real
 * tunnel made by mux_tunnel_adopt() on a terminate route, so the nghttp2 server
 * session is the one cotai configures (its SETTINGS, windows, header-list
 * bound, no automatic WINDOW_UPDATE) with cotai's callbacks: the CONNECT
 * check, the :authority copy, the pending list, DATA into stream buffers,
 * stream and tunnel close. The tunnel's own event loop reads them; the
 * harness then ends the input (EOF), which closes the tunnel and fails its
 * streams. What the tunnel writes back is drained and fed to an nghttp2
 * client session, which must parse it (cotai's own frames are valid HTTP/2).
 *
 * The plaintext socket stands in for TLS (the tunnel reads through the
 * same leg operations either way). The conn layer is replaced by
 * conn_mux_accept() below, which checks what the mux layer hands over and
 * either binds the stream to a leg that reads everything and answers 200
 * (authority "bind"), or rejects it as a refused CONNECT does. After every
 * input no tunnel, stream or buffer is left (ASan's leak check).
 *
 * Checks: a stream handed over has a NUL-terminated :authority shorter
 * than MUX_AUTH_MAX, and "valid" only for a CONNECT with one; the tunnel
 * closes once its input ends; cotai's answer parses as HTTP/2.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "conn.h"
#include "fuzz.h"
#include "log.h"
#include "mux_priv.h"
#include "route.h"
#include "worker_priv.h" /* until the conn table (worker_priv.h) */

#define MAX_LEGS 8

static struct event_base *base;
static struct worker wk;
static struct route *rt;
static struct route_stats stats;
static struct config_route rcfg;

/* Bound streams: a leg and its event storage each. */
static struct leg legs[MAX_LEGS];
static unsigned char *evs[MAX_LEGS];
static bool used[MAX_LEGS];

uint64_t
conn_now(void)
{
	return (0);
}

static void
leg_done(size_t i, enum reason why)
{
	event_del((struct event *)evs[i]);
	mux_stream_close(&legs[i], why);
	used[i] = false;
}

/* A bound stream's conn: read all, echo a little, finish at EOF. */
static void
leg_cb(evutil_socket_t fd, short what, void *arg)
{
	size_t i = (size_t)(uintptr_t)arg, n, w;
	char buf[4096];

	for (;;) {
		switch (mux_stream_read(&legs[i], buf, sizeof(buf), &n)) {
		case LEG_OK:
			(void)mux_stream_write(
			    &legs[i], buf, n < 64 ? n : 64, &w);
			continue;
		case LEG_AGAIN:
			mux_stream_watch(&legs[i], EV_READ);
			return;
		case LEG_EOF:
			(void)mux_stream_shutdown(&legs[i]);
			leg_done(i, REASON_EOF);
			return;
		default:
			leg_done(i, REASON_RESET);
			return;
		}
	}
}

void
conn_mux_accept(struct worker *w, struct route *r, struct mux_stream *s,
    struct tls_peer *tpeer, const char *client, bool valid)
{
	const char *auth = mux_stream_authority(s);
	size_t i;

	CHECK(w == &wk && r == rt);
	CHECK(memchr(auth, '\0', MUX_AUTH_MAX) != NULL);
	CHECK(!valid || (s->is_connect && auth[0] != '\0'));
	CHECK(s->headers_done && s->leg == NULL);
	if (!valid || strcmp(auth, "bind") != 0) {
		mux_stream_reject(s);
		return;
	}
	for (i = 0; i < MAX_LEGS && used[i]; i++)
		;
	if (i == MAX_LEGS) {
		mux_stream_reject(s);
		return;
	}
	used[i] = true;
	mux_stream_bind(
	    s, &legs[i], (struct event *)evs[i], leg_cb, (void *)(uintptr_t)i);
	mux_stream_respond(s);
	mux_stream_watch(&legs[i], EV_READ);
}

static void
setup(void)
{
	size_t evsz = event_get_struct_event_size();

	if (base != NULL)
		return;
	signal(SIGPIPE, SIG_IGN);
	log_setup("fuzz_mux", LOG_L_ERROR, LOG_F_TEXT);
	CHECK((base = event_base_new()) != NULL);
	wk.base = base;
	TAILQ_INIT(&wk.tunnels);
	TAILQ_INIT(&wk.conns);
	rcfg.name = "fuzz";
	rcfg.mode = CONFIG_MODE_TERMINATE;
	rcfg.protocol = CONFIG_PROTO_TCP;
	rcfg.mux = CONFIG_MUX_AUTO;
	rcfg.mux_streams = 16;
	rcfg.mux_tunnels = 2;
	rcfg.mux_window = 16384;
	rcfg.mux_ping_ms = 10000;
	CHECK((rt = calloc(1, sizeof(*rt))) != NULL);
	rt->cfg = &rcfg;
	rt->stats = &stats;
	atomic_init(&rt->refs, 1); /* ours: never dropped */
	for (size_t i = 0; i < MAX_LEGS; i++)
		CHECK((evs[i] = calloc(1, evsz)) != NULL);
}

static void
noop_cb(evutil_socket_t fd, short what, void *arg)
{
}

/*
 * One seed: what cotai's originate side (mux_stream_open, the stream leg
 * operations, mux_stream_close) writes on a new tunnel for streams to
 * AUTH[0..N) each carrying MSG, finished with WHY (REASON_EOF: FIN, so
 * END_STREAM; else a reset, so RST_STREAM).
 */
static void
capture(const char *dir, const char *name, const char *const *auth, size_t n,
    const char *msg, enum reason why)
{
	static uint8_t out[65536];
	struct tls_peer peer = {.server = false};
	struct leg l, sl[4];
	struct mux_tunnel *t;
	unsigned char *ev = calloc(1, event_get_struct_event_size());
	unsigned char *sev[4];
	char path[512];
	size_t olen = 0, keep = 0, w;
	ssize_t r;
	FILE *f;
	int sv[2];

	CHECK(ev != NULL && n <= 4);
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == 0);
	leg_init(&l);
	leg_open(&l, (struct event *)ev, base, sv[0], NULL, NULL);
	CHECK(
	    (t = mux_tunnel_adopt(&wk, rt, &l, &peer, "seed", false)) != NULL);
	for (size_t i = 0; i < n; i++) {
		CHECK((sev[i] = calloc(1, event_get_struct_event_size())) !=
		    NULL);
		leg_init(&sl[i]);
		CHECK(mux_stream_open(t, auth[i], &sl[i],
			  (struct event *)sev[i], noop_cb, NULL) == 0);
		CHECK(
		    mux_stream_write(&sl[i], msg, strlen(msg), &w) == LEG_OK &&
		    w == strlen(msg));
		if (why == REASON_EOF)
			(void)mux_stream_shutdown(&sl[i]);
	}
	for (int k = 0; k < 8; k++) {
		(void)event_base_loop(base, EVLOOP_NONBLOCK);
		while ((r = read(sv[1], out + olen, sizeof(out) - olen)) > 0)
			olen += (size_t)r;
	}
	/* A FIN seed ends here: the frames the CONNECTs' answers would
	 * follow; a reset seed goes on with the RST_STREAMs. */
	if (why == REASON_EOF)
		keep = olen;
	for (size_t i = 0; i < n; i++) {
		event_del((struct event *)sev[i]);
		mux_stream_close(&sl[i], why);
	}
	for (int k = 0; k < 8; k++) {
		(void)event_base_loop(base, EVLOOP_NONBLOCK);
		while ((r = read(sv[1], out + olen, sizeof(out) - olen)) > 0)
			olen += (size_t)r;
	}
	mux_tunnel_close(t, REASON_EOF, NULL);
	for (size_t i = 0; i < n; i++)
		free(sev[i]);
	free(ev);
	close(sv[1]);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	CHECK((f = fopen(path, "wb")) != NULL);
	if (keep == 0)
		keep = olen;
	CHECK(fwrite(out, 1, keep, f) == keep && fclose(f) == 0);
	printf("%s: %zu bytes\n", path, keep);
}

/*
 * FUZZ_MUX_SEEDS=DIR: write the seed corpus (frames captured from cotai's
 * own originate side) into DIR and exit, instead of fuzzing.
 */
int LLVMFuzzerInitialize(int *argc, char ***argv);
int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *dir = getenv("FUZZ_MUX_SEEDS");
	static const char *const bind[] = {"bind"}, *const other[] = {"fuzz"},
				 *const two[] = {"bind", "bind"},
				 *const bad[] = {"x:1"};

	if (dir == NULL)
		return (0);
	setup();
	capture(
	    dir, "connect-data-fin", bind, 1, "hello, tunnel\n", REASON_EOF);
	capture(dir, "connect-refused", other, 1, "to a route not there",
	    REASON_EOF);
	capture(dir, "two-streams-fin", two, 2, "0123456789abcdef", REASON_EOF);
	capture(dir, "connect-reset", bind, 1, "aborted", REASON_RESET);
	capture(dir, "connect-bad-authority", bad, 1, "", REASON_EOF);
	exit(0);
}

/* Parse what the tunnel wrote as a client would; 0 if it is HTTP/2. */
static int
parse_answer(const uint8_t *p, size_t n)
{
	nghttp2_session_callbacks *cb;
	nghttp2_session *h2;
	ssize_t rv;

	CHECK(nghttp2_session_callbacks_new(&cb) == 0);
	CHECK(nghttp2_session_client_new(&h2, cb, NULL) == 0);
	rv = nghttp2_session_mem_recv(h2, p, n);
	nghttp2_session_del(h2);
	nghttp2_session_callbacks_del(cb);
	return (rv < 0 ? -1 : 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t out[1 << 20];
	struct tls_peer peer = {.server = true};
	struct leg l;
	unsigned char *ev;
	int sv[2];
	size_t off = 0, olen = 0;
	ssize_t n;
	int rounds, fin = 4;
	bool overflow = false;

	setup();
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == 0);
	CHECK((ev = calloc(1, event_get_struct_event_size())) != NULL);
	leg_init(&l);
	leg_open(&l, (struct event *)ev, base, sv[0], NULL, NULL);
	CHECK(mux_tunnel_adopt(&wk, rt, &l, &peer, "fuzz", true) != NULL);
	CHECK(l.fd == -1);
	/*
	 * Feed the input, running the tunnel while the socket is full; once
	 * it is all in and the tunnel has run a few times more (so the
	 * bound streams read their data), end it.
	 */
	for (rounds = 0; rounds < 10000 && !TAILQ_EMPTY(&wk.tunnels);
	     rounds++) {
		if (off < size) {
			n = write(sv[1], data + off, size - off);
			if (n > 0)
				off += (size_t)n;
			else if (errno != EAGAIN) /* closed: rest unread */
				off = size;
			if (off == size)
				fin = rounds + 4;
		} else if (rounds == fin) {
			(void)shutdown(sv[1], SHUT_WR);
		}
		(void)event_base_loop(base, EVLOOP_NONBLOCK);
		while ((n = read(sv[1], out + olen, sizeof(out) - olen)) > 0)
			olen += (size_t)n;
		if (olen == sizeof(out)) {
			olen = 0; /* keep draining; skip the parse */
			overflow = true;
		}
	}
	/* After EOF the tunnel closes (no PING timer is needed for it), and
	 * its streams' legs learn it from their events. */
	CHECK(TAILQ_EMPTY(&wk.tunnels));
	for (rounds = 0; rounds < 4; rounds++)
		(void)event_base_loop(base, EVLOOP_NONBLOCK);
	for (size_t i = 0; i < MAX_LEGS; i++)
		CHECK(!used[i]);
	if (!overflow)
		CHECK(parse_answer(out, olen) == 0);
	close(sv[1]);
	free(ev);
	return (0);
}
