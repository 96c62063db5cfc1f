#!/usr/bin/env bash
# Ten concurrent `issue` runs (then ten concurrent `renew` runs) lose no
# index entry: the index is rewritten under the state directory's flock.
. "$(dirname "$0")/lib.sh"

pki_init
pids=()
for i in $(seq 0 9); do
	"$CA" issue "svc$i" --out "$T/c" >"$T/issue$i.log" 2>&1 &
	pids+=($!)
done
for i in $(seq 0 9); do
	wait "${pids[$i]}" || { cat "$T/issue$i.log"; fail "issue svc$i failed"; }
done
[ "$(grep -c '^V ' "$COTAI_CA_DIR/index")" = 10 ] ||
    fail "index has $(grep -c '^V ' "$COTAI_CA_DIR/index") entries, not 10"
for i in $(seq 0 9); do
	grep -q " svc$i $T/c\$" "$COTAI_CA_DIR/index" || fail "svc$i lost"
	ca_verify "$T/c" "svc$i" -crl_check >/dev/null || fail "svc$i verify"
done
[ "$(awk '!/^#/ { print $2 }' "$COTAI_CA_DIR/index" | sort -u | wc -l)" = 10 ] ||
    fail "duplicate serials"
# No temporary files left behind.
[ -z "$(find "$COTAI_CA_DIR" "$T/c" -name '.*.??????')" ] ||
    fail "temporary files left: $(find "$COTAI_CA_DIR" "$T/c" -name '.*')"

pids=()
for i in $(seq 0 9); do
	"$CA" renew "svc$i" >"$T/renew$i.log" 2>&1 &
	pids+=($!)
done
for i in $(seq 0 9); do
	wait "${pids[$i]}" || { cat "$T/renew$i.log"; fail "renew svc$i failed"; }
done
[ "$(grep -c '^V ' "$COTAI_CA_DIR/index")" = 10 ] || fail "V after renew"
[ "$(grep -c '^S ' "$COTAI_CA_DIR/index")" = 10 ] || fail "S after renew"
for i in $(seq 0 9); do
	ca_verify "$T/c" "svc$i" -crl_check >/dev/null || fail "svc$i renewed"
done
"$CA" check >/dev/null || fail "check after concurrent renewals"
echo "15-ca-concurrent: ok"
