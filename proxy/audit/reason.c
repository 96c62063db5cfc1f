/*
 * reason: see reason.h.
 */
#include "reason.h"

#include <stddef.h>

static const char *const reason_names[REASON__N] = {
    [REASON_NONE] = "none",
    [REASON_EOF] = "eof",
    [REASON_IDLE_TIMEOUT] = "idle_timeout",
    [REASON_CONNECT_TIMEOUT] = "connect_timeout",
    [REASON_HANDSHAKE_TIMEOUT] = "handshake_timeout",
    [REASON_HALFCLOSE_TIMEOUT] = "halfclose_timeout",
    [REASON_TLS_ERROR] = "tls_error",
    [REASON_NO_CLIENT_CERT] = "no_client_certificate",
    [REASON_TLS_VERSION] = "tls_version",
    [REASON_UNKNOWN_CA] = "unknown_ca",
    [REASON_CERT_EXPIRED] = "cert_expired",
    [REASON_CERT_NOT_YET_VALID] = "cert_not_yet_valid",
    [REASON_CERT_REVOKED] = "cert_revoked",
    [REASON_BAD_CERT] = "bad_certificate",
    [REASON_IDENTITY_NOT_ALLOWED] = "identity_not_allowed",
    [REASON_IDENTITY_NOT_EXPECTED] = "identity_not_expected",
    [REASON_UPSTREAM_REFUSED] = "upstream_refused",
    [REASON_UPSTREAM_UNREACHABLE] = "upstream_unreachable",
    [REASON_RESET] = "reset",
    [REASON_LIMIT] = "limit",
    [REASON_DRAIN] = "drain",
    [REASON_INTERNAL] = "internal",
    [REASON_PROTOCOL] = "protocol_error",
    [REASON_ROLE_NOT_ALLOWED] = "role_not_allowed",
    [REASON_UPSTREAM_NO_TLS] = "upstream_no_tls",
    [REASON_REVOKED_AFTER_RELOAD] = "revoked_after_reload",
    [REASON_EXPIRED_AFTER_RELOAD] = "expired_after_reload",
    [REASON_NOT_ALLOWED_AFTER_RELOAD] = "not_allowed_after_reload",
    [REASON_HANDSHAKE_SHED] = "handshake_shed",
};

const char *
reason_name(enum reason r)
{
	if ((unsigned)r >= REASON__N || reason_names[r] == NULL)
		return ("unknown");
	return (reason_names[r]);
}
