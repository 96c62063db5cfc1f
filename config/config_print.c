/*
 * config_print: the effective policy, as `cotai-proxy --check` shows it.
 */
#include "config.h"

#include <arpa/inet.h>

#include <openssl/ssl.h>

#include "duration.h"
#include "log.h"

static void
print_list(FILE *fp, const char *what, char *const *list, size_t n)
{
	fprintf(fp, "  %s:", what);
	for (size_t i = 0; i < n; i++)
		fprintf(fp, " %s%s", list[i], i + 1 < n ? "," : "");
	fprintf(fp, "\n");
}

static void
print_pg(FILE *fp, const struct config_route *r)
{
	if (r->mode == CONFIG_MODE_ORIGINATE)
		fprintf(fp, "  upstream: %s%s\n",
		    r->pg_upstream == CONFIG_PG_UP_SIDECAR ? "sidecar"
							   : "postgres",
		    r->pg_upstream == CONFIG_PG_UP_SIDECAR ? ""
			: r->pg_sslnegotiation == CONFIG_PG_SSLNEG_DIRECT
			? ", sslnegotiation: direct"
			: ", sslnegotiation: postgres");
	if (r->mode == CONFIG_MODE_ORIGINATE && r->pg_local_tls.cert != NULL)
		fprintf(fp,
		    "  local_tls: cert %s, key %s, min_version %s "
		    "(SSLRequest gets S)\n",
		    r->pg_local_tls.cert, r->pg_local_tls.key,
		    r->pg_local_tls.min_version == TLS1_2_VERSION ? "1.2"
								  : "1.3");
	else if (r->mode == CONFIG_MODE_ORIGINATE)
		fprintf(fp, "  local_tls: none (SSLRequest gets N)\n");
	else
		fprintf(fp, "  plaintext_cancel: %s\n",
		    r->pg_plaintext_cancel ? "relayed" : "dropped");
	if (r->nroles == 0) {
		fprintf(fp, "  roles: (no check)\n");
		return;
	}
	for (size_t i = 0; i < r->nroles; i++) {
		const struct config_pg_role *ro = &r->roles[i];
		char what[96];

		snprintf(what, sizeof(what), "roles[%s] users", ro->identity);
		print_list(fp, what, ro->users, ro->nusers);
		if (ro->ndatabases > 0) {
			snprintf(what, sizeof(what), "roles[%s] databases",
			    ro->identity);
			print_list(fp, what, ro->databases, ro->ndatabases);
		}
	}
}

/* A target that is looked up (a host name, not unix: or a literal). */
static bool
print_is_name(const struct config_addr *a)
{
	unsigned char buf[sizeof(struct in6_addr)];

	return (a->kind == CONFIG_ADDR_INET &&
	    inet_pton(AF_INET, a->host, buf) != 1 &&
	    inet_pton(AF_INET6, a->host, buf) != 1);
}

static void
print_route(FILE *fp, const struct config_route *r)
{
	const struct config_identity *id = &r->identity;
	char b1[32], b2[32], b3[32], b4[32];

	fprintf(fp, "route %s (line %d)\n", r->name, r->line);
	fprintf(fp, "  mode: %s, protocol: %s\n", config_mode_name(r->mode),
	    config_proto_name(r->protocol));
	fprintf(fp, "  %s %s -> %s %s\n",
	    r->mode == CONFIG_MODE_ORIGINATE ? "plaintext" : "mtls",
	    r->listen.text,
	    r->mode == CONFIG_MODE_ORIGINATE ? "mtls" : "plaintext",
	    r->target.text);
	if (r->mode == CONFIG_MODE_ORIGINATE)
		print_list(
		    fp, "expect (server identity)", r->expect, r->nexpect);
	else
		print_list(
		    fp, "allow (client identities)", r->allow, r->nallow);
	if (r->ntrust_domains > 0)
		print_list(fp,
		    r->trust_domains_set
			? "trust_domains (bare patterns; route key)"
			: "trust_domains (bare patterns; home)",
		    r->trust_domains, r->ntrust_domains);
	else
		fprintf(
		    fp, "  trust_domains: none (spiffe:// patterns only)\n");
	fprintf(fp, "  ca: %s\n  cert: %s\n  key: %s\n  crl: %s\n", id->ca,
	    id->cert, id->key, id->crl != NULL ? id->crl : "(none)");
	fprintf(fp,
	    "  timeouts: connect %s, handshake %s, idle %s, "
	    "half_close %s\n",
	    duration_format(r->timeouts.connect_ms, b1, sizeof(b1)),
	    duration_format(r->timeouts.handshake_ms, b2, sizeof(b2)),
	    r->timeouts.idle_ms == 0
		? "none"
		: duration_format(r->timeouts.idle_ms, b3, sizeof(b3)),
	    duration_format(r->timeouts.halfclose_ms, b4, sizeof(b4)));
	fprintf(fp, "  max_connections: %u, buffer_size: %u bytes\n",
	    r->max_connections, r->buffer_bytes);
	fprintf(fp, "  tls_min_version: %s\n",
	    r->tls_min_version == TLS1_2_VERSION ? "1.2" : "1.3");
	fprintf(fp, "  connect_retry: %u attempts, backoff %s\n",
	    r->retry.attempts,
	    duration_format(r->retry.backoff_ms, b1, sizeof(b1)));
	if (print_is_name(&r->target))
		fprintf(fp, "  resolve_interval: %s\n",
		    r->resolve_interval_ms == 0
			? "0 (only after a failed connect)"
			: duration_format(
			      r->resolve_interval_ms, b1, sizeof(b1)));
	if (r->plaintext_bind_any)
		fprintf(fp, "  plaintext_bind_any: true\n");
	if (!r->tls_resumption)
		fprintf(fp, "  tls_resumption: false\n");
	else if (r->mode == CONFIG_MODE_TERMINATE)
		fprintf(fp, "  tls_session_cache: %u sessions\n",
		    r->tls_session_cache);
	if (r->mux == CONFIG_MUX_OFF)
		fprintf(fp, "  mux: off\n");
	else
		fprintf(fp,
		    "  mux: %s, %u streams per tunnel, window %u bytes, "
		    "ping %s\n",
		    r->mux == CONFIG_MUX_ON ? "on" : "auto", r->mux_streams,
		    r->mux_window,
		    duration_format(r->mux_ping_ms, b1, sizeof(b1)));
	if (r->mux != CONFIG_MUX_OFF && r->mode == CONFIG_MODE_ORIGINATE)
		fprintf(fp, "  mux_tunnels: %u idle kept per worker\n",
		    r->mux_tunnels);
	if (r->protocol == CONFIG_PROTO_POSTGRES)
		print_pg(fp, r);
}

/* The audit sinks. */
static void
print_audit(FILE *fp, const struct config_audit *a)
{
	fprintf(fp, "audit: stderr %s, file %s\n", a->to_stderr ? "on" : "off",
	    a->file != NULL ? a->file : "(none)");
	if (a->target.text == NULL) {
		fprintf(fp, "  syslog: (none)\n");
		return;
	}
	fprintf(fp,
	    "  syslog: %s, expect %s, spool %s (%u bytes), queue %u\n"
	    "  syslog identity: ca %s, cert %s, key %s\n",
	    a->target.text, a->expect, a->spool, a->spool_bytes, a->queue,
	    a->identity.ca, a->identity.cert, a->identity.key);
}

void
config_print(const struct cotai_config *cfg, FILE *fp)
{
	static const char *const levels[] = {"debug", "info", "warn", "error"};
	char b[32];

	fprintf(fp, "config %s: %zu route%s\n", cfg->path, cfg->nroutes,
	    cfg->nroutes == 1 ? "" : "s");
	fprintf(fp, "admin: %s, ready_min_validity %s\n",
	    cfg->admin_enabled ? cfg->admin_listen.text : "disabled",
	    duration_format(cfg->ready_min_validity_ms, b, sizeof(b)));
	if (cfg->admin_enabled && cfg->admin_tls) {
		fprintf(fp, "  admin tls: allow");
		for (size_t i = 0; i < cfg->admin_route.nallow; i++)
			fprintf(fp, " %s", cfg->admin_route.allow[i]);
		fprintf(fp, "; cert %s, ca %s%s%s\n",
		    cfg->admin_route.identity.cert,
		    cfg->admin_route.identity.ca,
		    cfg->admin_route.identity.crl != NULL ? ", crl " : "",
		    cfg->admin_route.identity.crl != NULL
			? cfg->admin_route.identity.crl
			: "");
	} else if (cfg->admin_enabled && cfg->admin_plaintext_bind_any) {
		fprintf(fp, "  admin: plaintext_bind_any (unauthenticated)\n");
	}
	if (cfg->admin_enabled && cfg->admin_health_listen.text != NULL)
		fprintf(fp, "  admin health_listen: %s (/healthz, /readyz)\n",
		    cfg->admin_health_listen.text);
	fprintf(fp, "reload: watch %s, debounce %s, close_revoked %s\n",
	    cfg->reload_watch ? "on" : "off",
	    duration_format(cfg->reload_debounce_ms, b, sizeof(b)),
	    cfg->reload_close_revoked ? "on" : "off");
	fprintf(fp, "max_handshakes: %u\n", cfg->max_handshakes);
	fprintf(fp, "log: level %s, format %s\n",
	    cfg->log_level >= 0 && cfg->log_level <= LOG_L_ERROR
		? levels[cfg->log_level]
		: "?",
	    cfg->log_format == LOG_F_JSON ? "json" : "text");
	fprintf(fp, "workers: %u%s\n", cfg->workers,
	    cfg->workers_auto ? " (auto)" : "");
	fprintf(fp, "user: %s\n", cfg->user != NULL ? cfg->user : "(none)");
	fprintf(fp, "sandbox: %s\n", config_sandbox_name(cfg->sandbox));
	fprintf(fp, "drain_timeout: %s, max_connections: %u\n",
	    duration_format(cfg->drain_timeout_ms, b, sizeof(b)),
	    cfg->max_connections);
	fprintf(fp, "drain_delay: %s\n",
	    duration_format(cfg->drain_delay_ms, b, sizeof(b)));
	print_audit(fp, &cfg->audit);
	for (size_t i = 0; i < cfg->nroutes; i++)
		print_route(fp, &cfg->routes[i]);
}
