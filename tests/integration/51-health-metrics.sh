#!/usr/bin/env bash
# Admin endpoint and `cotai-proxy health`: the bound admin address is in
# the ports file; /healthz and /readyz answer 200, /metrics lists every
# family with label values from the config only; unknown paths get 404 and
# junk 400; health exits 0 (by --admin and by -c FILE) and 1 when nothing
# listens; a certificate expiring within admin.ready_min_validity makes
# /readyz (and health --ready) fail; while draining /healthz answers 503.
. "$(dirname "$0")/lib.sh"
# One TLS connection per connection, so that the handshake series below
# count connections (with mux they count tunnels: 64-mux).
COTAI_MUX=off
. "$(dirname "$0")/2_relay_lib.sh"
. "$(dirname "$0")/5_ops_lib.sh"

ops_pki
ops_chain
assert_grep '^admin 127\.0\.0\.1:[0-9]+$' "$T/run/term.ports"

echo "== healthz, readyz, 404, 400"
http_get "$ta" /healthz >"$T/h.out"
assert_grep '^HTTP/1.0 200' "$T/h.out"
http_get "$ta" /readyz >"$T/r.out"
assert_grep '^HTTP/1.0 200' "$T/r.out"
assert_grep '^ready' "$T/r.out"
http_get "$ta" /nope >"$T/n.out"
assert_grep '^HTTP/1.0 404' "$T/n.out"
exec {fd}<>"/dev/tcp/${ta%:*}/${ta##*:}"
printf 'BREW /coffee HTCPCP/1.0\r\n\r\n' >&$fd
head -n 1 <&$fd >"$T/b.out" || true
exec {fd}>&-
assert_grep '^HTTP/1.0 (400|405)' "$T/b.out"

echo "== cotai-proxy health"
"$PROXY" health --admin "$ta" | grep -q healthy || fail "health --admin"
"$PROXY" health --admin "$ta" --ready >/dev/null || fail "health --ready"
sed "s/127.0.0.1:0\"/$ta\"/" "$T/run/term.yaml" >"$T/run/probe.yaml"
assert_grep "listen: \"$ta\"" "$T/run/probe.yaml"
"$PROXY" health -c "$T/run/probe.yaml" >/dev/null || fail "health -c"
rc=0
"$PROXY" health --admin 127.0.0.1:1 >"$T/dead.out" 2>&1 || rc=$?
[ "$rc" = 1 ] || fail "health against nothing exited $rc"
assert_grep '^unhealthy' "$T/dead.out"

echo "== metrics"
timeout $((30 * TMO)) "$TOOLS/client" -p "$op" -n 100000 -c 3 >/dev/null ||
    fail "client"
wait_audit term 3
http_get "$ta" /metrics >"$T/m.out"
for fam in cotai_open_connections cotai_reloads_total \
    cotai_connections_active cotai_connections_accepted_total \
    cotai_handshakes_total cotai_handshakes_resumed_total \
    cotai_upstream_retries_total cotai_handshake_duration_seconds \
    cotai_handshake_failures_total cotai_connections_closed_total \
    cotai_bytes_total cotai_cert_expiry_timestamp_seconds \
    cotai_tls_sessions_cached cotai_mux_tunnels cotai_mux_tunnels_total \
    cotai_mux_streams_total cotai_mux_flow_stalls_total; do
	assert_grep "^# TYPE $fam " "$T/m.out" "metrics: no $fam"
done
assert_grep '^cotai_connections_accepted_total\{route="term"\} 3$' "$T/m.out"
assert_grep '^cotai_handshakes_total\{route="term"\} 3$' "$T/m.out"
assert_grep '^cotai_handshake_duration_seconds_count\{route="term"\} 3$' "$T/m.out"
assert_grep '^cotai_handshake_duration_seconds_bucket\{route="term",le="\+Inf"\} 3$' "$T/m.out"
assert_grep '^cotai_bytes_total\{route="term",direction="up"\} 300000$' "$T/m.out"
assert_grep '^cotai_connections_closed_total\{route="term",reason="eof"\} 3$' "$T/m.out"
assert_grep '^cotai_reloads_total\{result="ok"\} 0$' "$T/m.out"
assert_grep '^cotai_tls_sessions_cached\{route="term"\} [1-9][0-9]*$' "$T/m.out"
# Every label value is a route name, a fixed reason or result, a bucket.
grep -o '[a-z_]*="[^"]*"' "$T/m.out" | sort -u >"$T/labels"
assert_no_grep '"[^"]*(backend|pg|spiffe|127\.0)[^"]*"' "$T/labels"
# A failed handshake is counted by reason.
exec {fd}<>"/dev/tcp/127.0.0.1/$(port_of "$T/run/term.ports" term)"
printf 'not a client hello\r\n' >&$fd
cat <&$fd >/dev/null 2>&1 || true
exec {fd}>&-
wait_for "a tls_error handshake failure" $((10 * TMO)) sh -c \
    "grep -q 'reason=tls_error' '$T/term.log'"
[ "$(metric term 'cotai_handshake_failures_total{route="term",reason="tls_error"}')" = 1 ] ||
    fail "handshake failure not counted"

echo "== readyz: a certificate expiring within the window"
issue short --ttl 1h
ops_own
ops_config early terminate short "$PEER_PORT" "allow: [backend]"
sed -i 's/^admin: { listen: "127.0.0.1:0" }/admin: { listen: "127.0.0.1:0", ready_min_validity: 2h }/' \
    "$T/run/early.yaml"
ops_start early
http_get "$ADMIN" /readyz >"$T/e.out"
assert_grep '^HTTP/1.0 503' "$T/e.out"
assert_grep 'certificate expires in' "$T/e.out"
http_get "$ADMIN" /healthz | grep -q '^HTTP/1.0 200' || fail "healthz while not ready"
rc=0
"$PROXY" health --admin "$ADMIN" --ready >/dev/null || rc=$?
[ "$rc" = 1 ] || fail "health --ready exited $rc for a proxy that is not ready"

echo "== draining: 503"
exec 3<>"/dev/tcp/127.0.0.1/$op" # holds orig's drain open for 2 s
echo x >&3
read -r -t $((10 * TMO)) _ <&3
orig_admin=$(awk '$1 == "admin" { print $2 }' "$T/run/orig.ports")
kill -TERM "$orig_pid"
wait_for "healthz 503 while draining" $((5 * TMO)) sh -c \
    "'$PROXY' health --admin '$orig_admin' | grep -q 'HTTP 503'"
exec 3>&-
kill -0 "$term_pid" || fail "terminate died"
echo ok
