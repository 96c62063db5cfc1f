/*
 * conn_audit: the one audit line per connection, written by conn_close(),
 * and the counters a close moves (by reason, bytes, PostgreSQL cancels).
 */
#include "conn_priv.h"

#include <arpa/inet.h>
#include <stdio.h>

#include "audit.h"
#include "mux.h"

static const char *const conn_by_names[] = {"proxy", "client", "upstream"};

/* Reasons that refuse a peer at the handshake (or its identity). */
static bool
conn_refusal(enum reason why)
{
	switch (why) {
	case REASON_NO_CLIENT_CERT:
	case REASON_TLS_VERSION:
	case REASON_UNKNOWN_CA:
	case REASON_CERT_EXPIRED:
	case REASON_CERT_NOT_YET_VALID:
	case REASON_CERT_REVOKED:
	case REASON_BAD_CERT:
	case REASON_IDENTITY_NOT_ALLOWED:
	case REASON_IDENTITY_NOT_EXPECTED:
	case REASON_ROLE_NOT_ALLOWED:
		return (true);
	default:
		return (false);
	}
}

/* The "refused" record: who was turned away, from where, why. */
static void
conn_audit_refused(struct conn *c, enum reason why, const char *detail)
{
	const struct identity *id = tls_peer_identity(&c->peer);
	struct audit_rec a;

	audit_begin(&a, "refused");
	audit_str(&a, "route", c->r->cfg->name);
	audit_str(&a, "mode", config_mode_name(c->r->cfg->mode));
	audit_str(&a, "client", c->client);
	audit_str(&a, "peer", id->name != NULL ? id->name : "-");
	audit_str(&a, "spiffe", id->spiffe != NULL ? id->spiffe : "-");
	audit_str(&a, "serial", id->serial[0] != '\0' ? id->serial : "-");
	audit_str(&a, "reason", reason_name(why));
	if (detail != NULL && detail[0] != '\0')
		audit_str(&a, "detail", detail);
	audit_end(&a);
}

/* Write the connection's audit record (and a refusal's). */
void
conn_audit(struct conn *c, enum reason why, enum conn_by by, const char *detail)
{
	const struct identity *id = tls_peer_identity(&c->peer);
	SSL *ssl = c->tl != NULL ? c->tl->ssl
	    : c->cl.ms != NULL   ? mux_stream_ssl(&c->cl)
				 : mux_stream_ssl(&c->up);
	int32_t sid =
	    c->cl.ms != NULL ? mux_stream_id(&c->cl) : mux_stream_id(&c->up);
	bool tls = c->handshaken && ssl != NULL;
	struct audit_rec a;

	if (conn_refusal(why))
		conn_audit_refused(c, why, detail);
	audit_begin(&a, "close");
	audit_str(&a, "route", c->r->cfg->name);
	audit_str(&a, "client", c->client);
	audit_str(&a, "peer", id->name != NULL ? id->name : "-");
	audit_str(&a, "spiffe", id->spiffe != NULL ? id->spiffe : "-");
	audit_str(&a, "serial", id->serial[0] != '\0' ? id->serial : "-");
	audit_str(&a, "tls_version", tls ? SSL_get_version(ssl) : "-");
	audit_str(&a, "cipher", tls ? SSL_get_cipher_name(ssl) : "-");
	audit_bool(&a, "resumed", tls && SSL_session_reused(ssl));
	if (sid > 0) /* carried as a stream of a tunnel (mux.h) */
		audit_u64(&a, "stream", (uint64_t)sid);
	audit_u64(&a, "bytes_up", c->up.bytes_out);
	audit_u64(&a, "bytes_down", c->cl.bytes_out);
	audit_u64(&a, "duration_ms", conn_now() - c->t_start);
	audit_str(&a, "closed_by", conn_by_names[by]);
	audit_str(&a, "reason", reason_name(why));
	if (detail != NULL && detail[0] != '\0')
		audit_str(&a, "detail", detail);
	proto_conn_audit(c->proto, &a);
	audit_end(&a);
}

/* Count a PostgreSQL CancelRequest that ends for WHY. */
static void
conn_count_cancel(struct conn *c, enum reason why)
{
	enum route_cancel res;
	bool tls, refused;

	if (!proto_conn_cancel_info(c->proto, &tls, &refused))
		return;
	res = refused           ? ROUTE_CANCEL_REFUSED
	    : why == REASON_EOF ? ROUTE_CANCEL_RELAYED
				: ROUTE_CANCEL_FAILED;
	atomic_fetch_add_explicit(
	    &c->r->stats->pg_cancels[tls][res], 1, memory_order_relaxed);
}

void
conn_count_close(struct conn *c, enum reason why)
{
	struct route_stats *st = c->r->stats;

	if (!c->adopted)
		atomic_fetch_add_explicit(
		    &st->closed[why], 1, memory_order_relaxed);
	else /* counts as a tunnel; each stream counts as accepted */
		atomic_fetch_sub_explicit(
		    &st->accepted, 1, memory_order_relaxed);
	atomic_fetch_sub_explicit(&st->active, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(
	    &st->bytes_up, c->up.bytes_out, memory_order_relaxed);
	atomic_fetch_add_explicit(
	    &st->bytes_down, c->cl.bytes_out, memory_order_relaxed);
	atomic_fetch_sub_explicit(c->t->active, 1, memory_order_relaxed);
	conn_count_cancel(c, why);
}

/* Format the peer address of an accepted socket. */
void
conn_format_client(struct conn *c, const struct sockaddr *sa)
{
	char host[INET6_ADDRSTRLEN] = "?";

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

		inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		snprintf(c->client, sizeof(c->client), "%s:%u", host,
		    ntohs(in->sin_port));
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 =
		    (const struct sockaddr_in6 *)sa;

		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
		snprintf(c->client, sizeof(c->client), "[%s]:%u", host,
		    ntohs(in6->sin6_port));
	} else {
		snprintf(c->client, sizeof(c->client), "unix");
	}
}
