#!/usr/bin/env bash
# Multiplexed transport and short-lived certificates: an originate tunnel
# takes no new stream from two PING periods before the peer certificate its
# handshake checked expires (GOAWAY). The peer has renewed by then, so the
# next connection opens a new tunnel that sees the new certificate; the
# stream already on the old tunnel goes on. Without this, new streams would
# keep riding a tunnel whose peer certificate expired, and the first reload
# after the expiry (any renewal or CRL fetch) would close them all
# (expired_after_reload).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/2_relay_lib.sh"
. "$(dirname "$0")/5_ops_lib.sh"

export WORKERS=1
pki_init
issue backend
# 12 s: long enough to start both proxies and open the first tunnel;
# under valgrind that alone takes longer.
ttl=12
[ "${COTAI_VALGRIND:-0}" = 1 ] && ttl=45
issue pg --ttl "${ttl}s"
chmod 711 "$T"
mkdir -p "$T/run"
if [ "$(id -u)" -eq 0 ]; then chown -R nobody "$T/certs" "$T/run"; fi
relay_peer echo
ops_config term terminate pg "$PEER_PORT" "allow: [backend]" "" \
    "    mux_ping: 1s"
ops_start term
term_pid=$PROXY_PID tp=$PORT
# No file watch on orig: the renewal below writes into the directory of its
# files too, and any reload of an originate route sends GOAWAY by itself.
OPS_RELOAD="reload: { watch: false }" \
    ops_config orig originate backend "$tp" "expect: pg" "" "    mux_ping: 1s"
ops_start orig
op=$PORT

echo "== a stream on the first tunnel"
exec 6<>"/dev/tcp/127.0.0.1/$op"
say 6 first
[ "$(metric term 'cotai_handshakes_total{route="term"}')" = 1 ] ||
    fail "term: not one handshake"

echo "== the terminate sidecar renews (a reload; its tunnel stays)"
"$CA" renew pg --ttl 1h --out "$T/certs" >"$T/renew.log" 2>&1 ||
    { cat "$T/renew.log"; fail renew; }
ops_own
kill -HUP "$term_pid"
wait_reloads term 1
exec 7<>"/dev/tcp/127.0.0.1/$op"
say 7 still-the-first-tunnel
exec 7>&-
[ "$(metric term 'cotai_handshakes_total{route="term"}')" = 1 ] ||
    fail "term: a new handshake before the old certificate's end was near"

echo "== near the old certificate's end: GOAWAY, new streams on a new tunnel"
wait_for "the expiry GOAWAY" $((20 * TMO)) grep -q \
    'tunnel to 127.0.0.1:[0-9]*: its peer certificate expires in' \
    "$T/orig.log"
exec 8<>"/dev/tcp/127.0.0.1/$op"
say 8 on-the-new-tunnel
[ "$(metric term 'cotai_handshakes_total{route="term"}')" = 2 ] ||
    fail "term: no new tunnel handshake after the GOAWAY"
new_serial=$(openssl x509 -in "$T/certs/pg.crt" -noout -serial | cut -d= -f2)
wait_for "orig's tunnel to the renewed peer" $((5 * TMO)) sh -c \
    "[ \$(grep -c 'event=close .*route=orig ' '$T/orig.log') -ge 1 ]"
exec 8>&-
wait_for "the new stream's close" $((5 * TMO)) grep -q \
    "event=close .*route=orig .*serial=$new_serial .*stream=[0-9]* .*reason=eof" \
    "$T/orig.log"

echo "== the stream on the old tunnel goes on past the old certificate's end"
sleep 3
say 6 after-the-end
exec 6>&-
wait_for "the old tunnel's close" $((10 * TMO)) grep -q \
    'event=tunnel_close .*route=orig side=originate .*reason=eof' "$T/orig.log"
assert_no_grep 'reason=(expired_after_reload|cert_expired)' "$T/orig.log"
echo "ok"
