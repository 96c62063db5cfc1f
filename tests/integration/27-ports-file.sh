#!/usr/bin/env bash
# --ports-file is written without following symbolic links (issue 11):
# the file is first written as root, in a directory others may write to.
#  1. A link planted at the old predictable temporary name (PORTS.tmp.PID,
#     made before the proxy starts, at start-up as root, and again before
#     a reload) is never written through; the ports file is still written.
#  2. A ports file that is a symbolic link is refused with a clear error:
#     at start-up the proxy exits, at reload it keeps running and says the
#     file is stale; the link's target is never written.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/2_relay_lib.sh"
. "$(dirname "$0")/5_ops_lib.sh"

ops_pki
relay_peer echo
ops_config term terminate pg "$PEER_PORT" "allow: [backend]"
R=$T/run
victim() {
	echo precious >"$R/$1"
	if [ "$(id -u)" -eq 0 ]; then chown nobody "$R/$1"; fi
	chmod 666 "$R/$1"
}
untouched() {
	[ "$(cat "$R/$1")" = precious ] || fail "$1 was written through a link: $(cat "$R/$1")"
}

echo "== 1. a link at the temporary name (start-up as root, then reload)"
victim v1
victim v2
# exec keeps the PID, so the link sits at the exact name the old code used.
spawn term sh -c "ln -s '$R/v1' '$R/term.ports.tmp.'\$\$ &&
    exec '$PROXY' -c '$R/term.yaml' --ports-file '$R/term.ports'"
pid=$LAST_PID
wait_file "$R/term.ports" $((30 * TMO))
untouched v1
[ -L "$R/term.ports.tmp.$pid" ] || fail "the planted link is gone"
[ ! -L "$R/term.ports" ] || fail "the ports file is a link"
assert_grep '^term 127\.0\.0\.1:[0-9]+$' "$R/term.ports"
assert_grep '^admin 127\.0\.0\.1:[0-9]+$' "$R/term.ports"
# Before a reload: links at that name and at every name a guesser might try.
rm -f "$R/term.ports.tmp.$pid"
ln -s "$R/v2" "$R/term.ports.tmp.$pid"
rm "$R/term.ports"
kill -HUP "$pid"
wait_reloads term 1
wait_file "$R/term.ports" $((10 * TMO))
untouched v2
[ ! -L "$R/term.ports" ] || fail "the ports file is a link after reload"
assert_grep '^term 127\.0\.0\.1:[0-9]+$' "$R/term.ports"
ls "$R" | grep -E '^term\.ports\.' | grep -v "^term.ports.tmp.$pid\$" &&
    fail "temporary files left behind"

echo "== 2. the ports file is a link: refused at reload, then at start-up"
victim v3
rm "$R/term.ports"
ln -s "$R/v3" "$R/term.ports"
kill -HUP "$pid"
wait_reloads term 2
untouched v3
[ -L "$R/term.ports" ] || fail "the link was replaced"
assert_grep "refusing to write the ports file $R/term.ports: it is a symbolic link" \
    "$T/term.log"
assert_grep "the ports file $R/term.ports is stale" "$T/term.log"
kill -0 "$pid" || fail "the proxy died at reload"
rc=0
timeout $((30 * TMO)) "$PROXY" -c "$R/term.yaml" --ports-file "$R/term.ports" \
    >"$T/start.log" 2>&1 || rc=$?
[ $rc -ne 0 ] && [ $rc -ne 124 ] || fail "start with a linked ports file exited $rc"
assert_grep "refusing to write the ports file $R/term.ports: it is a symbolic link" \
    "$T/start.log"
untouched v3
echo PASS
