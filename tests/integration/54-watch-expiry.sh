#!/usr/bin/env bash
# File watching and expiry. (1) Certificates published the Kubernetes way
# (files are symlinks through a "..data" symlink that is swapped with a
# rename) are reloaded without a signal once the swap happens. (2) After
# a reload, a live connection whose client certificate has expired since
# it connected is closed with reason expired_after_reload. (3) As root: a
# reload that cannot watch a directory keeps the watches it had.
# itest: alone (it asserts how long things take)
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/2_relay_lib.sh"
. "$(dirname "$0")/5_ops_lib.sh"

TTL=3
[ "${COTAI_VALGRIND:-0}" = 1 ] && TTL=30 # handshakes take seconds there
ops_pki
relay_peer echo

echo "== a ..data symlink swap reloads"
k=$T/k8s
mkdir -p "$k/..v1"
cp "$T/certs/ca.crt" "$T/certs/crl.pem" "$T/certs/pg.crt" "$T/certs/pg.key" "$k/..v1/"
ln -s ..v1 "$k/..data"
for f in ca.crt crl.pem pg.crt pg.key; do ln -s "..data/$f" "$k/$f"; done
if [ "$(id -u)" -eq 0 ]; then chown -R nobody "$k"; chown -h nobody "$k"/* "$k"/..data; fi
ops_config term terminate pg "$PEER_PORT" "allow: [backend]"
sed -i "s|$T/certs/ca.crt|$k/ca.crt|; s|$T/certs/pg|$k/pg|g; s|$T/certs/crl.pem|$k/crl.pem|" \
    "$T/run/term.yaml"
assert_grep "cert: $k/pg.crt" "$T/run/term.yaml"
ops_start term
term_pid=$PROXY_PID
tp=$PORT
before=$(metric term 'cotai_cert_expiry_timestamp_seconds{route="term"}')
"$CA" renew pg --ttl 3d --out "$T/stage" >"$T/renew.log" 2>&1 ||
    { cat "$T/renew.log"; fail "renew"; }
mkdir "$k/..v2"
cp "$T/certs/ca.crt" "$T/certs/crl.pem" "$T/stage/pg.crt" "$T/stage/pg.key" "$k/..v2/"
if [ "$(id -u)" -eq 0 ]; then chown -R nobody "$k/..v2"; fi
ln -s ..v2 "$k/..data_tmp"
mv -T "$k/..data_tmp" "$k/..data"
wait_reloads term 1
after=$(metric term 'cotai_cert_expiry_timestamp_seconds{route="term"}')
echo "term certificate notAfter: $before -> $after"
[ "$after" -lt "$before" ] || fail "the swapped certificate is not in use"
assert_grep 'reload \(files changed\)' "$T/term.log"

if [ "$(id -u)" -eq 0 ]; then
	echo "== a directory the proxy cannot read during one reload stays watched"
	n=$(reloads term)
	chown root "$k"
	chmod 700 "$k" # nobody can no longer look inside
	kill -HUP "$term_pid"
	wait_for "the failed reload" $((10 * TMO)) \
	    grep -q 'reload failed' "$T/term.log"
	assert_grep 'previous watches stay' "$T/term.log"
	chown nobody "$k"
	chmod 755 "$k"
	mkdir "$k/..v3"
	cp "$k/..v1/"* "$k/..v3/"
	chown -R nobody "$k/..v3"
	ln -s ..v3 "$k/..data_tmp"
	mv -T "$k/..data_tmp" "$k/..data"
	wait_reloads term $((n + 1))
	back=$(metric term 'cotai_cert_expiry_timestamp_seconds{route="term"}')
	[ "$back" = "$before" ] || fail "the ..v3 swap was not seen: $back"
fi

echo "== expired_after_reload"
"$CA" renew backend --ttl "${TTL}s" --out "$T/certs" >>"$T/renew.log" 2>&1 ||
    { cat "$T/renew.log"; fail "renew backend"; }
ops_own
ops_config orig originate backend "$tp" "expect: pg"
ops_start orig
exec 3<>"/dev/tcp/127.0.0.1/$PORT"
echo hello >&3
read -r -t $((10 * TMO)) line <&3 || fail "no echo"
# The scenario needs the certificate to run out while connected.
sleep $((TTL + 1))
n=$(reloads term)
kill -HUP "$term_pid"
wait_reloads term $((n + 1))
wait_for "expired_after_reload" $((10 * TMO)) sh -c \
    "grep -q 'reason=expired_after_reload' '$T/term.log'"
assert_grep 'peer=backend .*reason=expired_after_reload' "$T/term.log"
exec 3>&-
echo ok
