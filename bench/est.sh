#!/usr/bin/env bash
# bench/est.sh: reenrollments per second and latency of `cotai-ca serve`.
#
#   COTAI_BUILD=/abs/build bench/est.sh [CLIENTS] [ROUNDS]
#
# CLIENTS (default 50) workloads each renew their certificate ROUNDS times
# (default 10) in a row, all at once: curl presents the current certificate
# and POSTs a CSR for a new key (made beforehand with `openssl req`, so key
# generation is not timed), the answer is read with `openssl pkcs7` and
# becomes the certificate of the next round. A renewal counts only when
# the server answered 200 and the new certificate verifies against the CA.
#
# Prints: renewals, failures, wall time, renewals/s, and the p50/p90/p99
# and max of curl's time_total (TCP + TLS 1.3 handshake with the client
# certificate + request + issuance under the CA's lock + answer). The rate
# includes the clients' own process start-ups (curl, openssl) on the same
# machine, so it is a lower bound for the server; the server's own CPU time
# per renewal is printed too, with the load average.
set -euo pipefail
: "${COTAI_BUILD:?set COTAI_BUILD to the absolute build directory}"
export LC_ALL=C
CLIENTS=${1:-50}
ROUNDS=${2:-10}
CA=$COTAI_BUILD/cotai-ca
W=$(mktemp -d "${TMPDIR:-/tmp}/cotai-est-bench.XXXXXX")
chmod 700 "$W"
export COTAI_CA_DIR=$W/pki
pid=""
cleanup() {
	[ -z "$pid" ] || kill "$pid" 2>/dev/null || true
	[ -z "$pid" ] || wait "$pid" 2>/dev/null || true
	[ "${KEEP_TMP:-0}" = 1 ] && echo "kept $W" >&2 || rm -rf "$W"
}
trap cleanup EXIT

"$CA" init --trust-domain bench.test --passphrase-file <(echo bench) >/dev/null
"$CA" issue est-server --dns localhost --out "$W/srv" >/dev/null
for c in $(seq "$CLIENTS"); do
	"$CA" issue "c$c" --ttl 1d --out "$W/c$c" >/dev/null
	for r in $(seq "$ROUNDS"); do
		openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
		    -nodes -keyout "$W/c$c/$r.key" -subj "/CN=c$c" \
		    -outform DER 2>/dev/null | base64 >"$W/c$c/$r.csr"
	done
done
"$CA" serve --tls-cert "$W/srv/est-server.crt" --tls-key "$W/srv/est-server.key" \
    --listen 127.0.0.1:0 --port-file "$W/port" --rate 100000 \
    --max-connections 1024 --audit "$W/audit.log" 2>"$W/serve.log" &
pid=$!
for _ in $(seq 100); do [ -s "$W/port" ] && break; sleep 0.05; done
URL=https://localhost:$(cut -d: -f2 "$W/port")/.well-known/est/simplereenroll

# client N: ROUNDS renewals in a row; one "code seconds" line each.
client() {
	local d=$W/c$1 crt key r code
	crt=$d/c$1.crt
	key=$d/c$1.key
	for r in $(seq "$ROUNDS"); do
		out=$(curl -sS --cacert "$W/srv/ca.crt" --cert "$crt" --key "$key" \
		    --data-binary @"$d/$r.csr" -o "$d/$r.p7" \
		    -w '%{http_code} %{time_total}' "$URL" 2>/dev/null) ||
		    out="000 0"
		code=${out%% *}
		if [ "$code" = 200 ] &&
		    base64 -d "$d/$r.p7" | openssl pkcs7 -inform DER \
		    -print_certs >"$d/$r.crt" 2>/dev/null &&
		    openssl verify -CAfile "$W/srv/ca.crt" -untrusted "$d/$r.crt" \
		    "$d/$r.crt" >/dev/null 2>&1; then
			echo "ok ${out#* }"
			crt=$d/$r.crt
			key=$d/$r.key
		else
			echo "fail $out"
		fi
	done >"$d/times"
}

start=$(date +%s.%N)
for c in $(seq "$CLIENTS"); do client "$c" & done
wait $(jobs -p | grep -v "^$pid$") 2>/dev/null || true
end=$(date +%s.%N)

# The server's own CPU time (utime + stime, clock ticks): the figure that
# does not depend on how loaded the machine is.
cpu_ms=$(awk -v hz="$(getconf CLK_TCK)" '{printf "%.0f", ($14 + $15) * 1000 / hz}' "/proc/$pid/stat")
cat "$W"/c*/times >"$W/all"
ok=$(grep -c '^ok' "$W/all" || true)
bad=$(grep -vc '^ok' "$W/all" || true)
wall=$(echo "$end - $start" | bc -l)
grep '^ok' "$W/all" | awk '{print $2}' | sort -n >"$W/lat"
pct() { awk -v p="$1" '{a[NR]=$1} END {i=int(NR*p+0.999); if (i<1) i=1; printf "%.1f", a[i]*1000}' "$W/lat"; }
serials=$(awk '$1 == "V" || $1 == "S" || $1 == "R" {print $2}' "$COTAI_CA_DIR/index" | sort | uniq -d | wc -l)
printf 'clients %d rounds %d: %d renewals, %d failed, %.1f s, %.1f renewals/s\n' \
    "$CLIENTS" "$ROUNDS" "$ok" "$bad" "$wall" "$(echo "$ok / $wall" | bc -l)"
printf 'latency ms: p50 %s p90 %s p99 %s max %s\n' "$(pct 0.5)" "$(pct 0.9)" \
    "$(pct 0.99)" "$(pct 1)"
printf 'server CPU: %d ms in all, %.2f ms per renewal; load average %s\n' \
    "$cpu_ms" "$(echo "$cpu_ms / ($ok + 0.0001)" | bc -l)" "$(cut -d' ' -f1-3 /proc/loadavg)"
printf 'index: %d entries, %d duplicate serials; audit lines: %d\n' \
    "$(grep -c '^[VSR] ' "$COTAI_CA_DIR/index")" "$serials" "$(wc -l <"$W/audit.log")"
[ "$bad" = 0 ] && [ "$serials" = 0 ]
