/*
 * conn_audit: the one audit line per connection, written by conn_close(),
 * and the count of PostgreSQL cancels it closes.
 */
#include "conn_priv.h"

#include <arpa/inet.h>
#include <stdio.h>

#include "log.h"

static const char *const conn_by_names[] = {"proxy", "client", "upstream"};

/* Write the audit line. */
void
conn_audit(struct conn *c, enum reason why, enum conn_by by, const char *detail)
{
	const struct identity *id = tls_peer_identity(&c->peer);
	SSL *ssl = c->tl != NULL ? c->tl->ssl : NULL;
	struct log_rec rec;

	if (!log_begin(&rec, LOG_L_INFO, "close"))
		return;
	log_str(&rec, "route", c->r->cfg->name);
	log_str(&rec, "client", c->client);
	log_str(&rec, "peer", id->name != NULL ? id->name : "-");
	log_str(&rec, "spiffe", id->spiffe != NULL ? id->spiffe : "-");
	log_str(&rec, "serial", id->serial[0] != '\0' ? id->serial : "-");
	log_str(
	    &rec, "tls_version", c->handshaken ? SSL_get_version(ssl) : "-");
	log_str(&rec, "cipher", c->handshaken ? SSL_get_cipher_name(ssl) : "-");
	log_bool(&rec, "resumed", c->handshaken && SSL_session_reused(ssl));
	log_u64(&rec, "bytes_up", c->up.bytes_out);
	log_u64(&rec, "bytes_down", c->cl.bytes_out);
	log_u64(&rec, "duration_ms", conn_now() - c->t_start);
	log_str(&rec, "closed_by", conn_by_names[by]);
	log_str(&rec, "reason", reason_name(why));
	if (detail != NULL && detail[0] != '\0')
		log_str(&rec, "detail", detail);
	pgconn_audit(c->pg, &rec);
	log_end(&rec);
}

void
conn_count_cancel(struct conn *c, enum reason why)
{
	enum route_cancel res;
	bool tls, refused;

	if (!pgconn_cancel_info(c->pg, &tls, &refused))
		return;
	res = refused           ? ROUTE_CANCEL_REFUSED
	    : why == REASON_EOF ? ROUTE_CANCEL_RELAYED
				: ROUTE_CANCEL_FAILED;
	atomic_fetch_add_explicit(
	    &c->r->stats->pg_cancels[tls][res], 1, memory_order_relaxed);
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
