# deploy/test/rotation.sh: compose-test step 7, automatic rotation under
# load: while the backend queries PostgreSQL and Redis every second, every
# sidecar renews (60 s certificates renewed at a third), the CA stopped
# until a renewal attempt failed costs only failed attempts and renewals
# resume when it is back, and `cotai-ca revoke prometheus` takes every
# scrape down within the CRL interval; no container restarts. Sourced by
# deploy/compose-test.sh (unless COMPOSE_TEST_ROTATION=0), whose functions
# (say, fail, pm, cid, prom, within, probe, backend_creds) and variables
# (W, LABEL, BK, qpid: its cleanup stops the query loop) it uses.
# shellcheck shell=bash
say "7. automatic rotation under load: renewals, the CA stopped, a revocation"
t7=$(date +%s)
# The service sidecars and the collector's; prometheus-sidecar is
# counted on its own (its certificate is revoked below, after which it
# cannot renew).
SC="backend-sidecar postgres-sidecar redis-sidecar collector-sidecar"
# Every container's start time and restart count, but the ca's (this
# step stops and starts it on purpose).
started() {
	# shellcheck disable=SC2046
	pm inspect -f '{{.Name}} {{.State.StartedAt}} {{.RestartCount}}' \
	    $(pm ps -q --filter "label=$LABEL") |
	    grep -Ev '^/?[^ ]*[-_]ca[-_]1 ' | sort
}
started >"$W/started.before"
count() { # SERVICE PATTERN: lines of SERVICE's log matching PATTERN
	pm logs "$(cid "$1")" 2>&1 | grep -c -- "$2" || true
}
declare -A r0
for s in $SC prometheus-sidecar; do r0[$s]=$(count "$s" 'renew: renewed'); done
backend_creds
serial0=$(probe "${BK[@]}" --serial redis-sidecar 6380) ||
    fail "redis-sidecar's serial: $serial0"
# The backend's queries, one round (PostgreSQL and Redis) a second,
# for the whole step; any failure fails the test at the end.
(
	while :; do
		if pm exec "$(cid backend)" cotai-backend check >"$W/q.out" 2>&1 &&
		    grep -q 'check=postgres result=ok' "$W/q.out" &&
		    grep -q 'check=redis result=ok' "$W/q.out"; then
			echo "ok $(date +%s)"
		else
			echo "FAILED $(date +%s) $(tr '\n' ' ' <"$W/q.out")"
		fi
		sleep 1
	done
) >"$W/queries.log" 2>&1 &
qpid=$!
renewed_since() { # N: every sidecar renewed N times since the start of 7
	local s
	for s in $SC; do
		[ $(($(count "$s" 'renew: renewed') - r0[$s])) -ge "$1" ] ||
		    return 1
	done
}
within 40 "a renewal of every sidecar" renewed_since 1 || exit 1
echo "every sidecar renewed once ($(($(date +%s) - t7)) s into 7)"

# The CA stopped until a renewal attempt has failed (each sidecar
# starts one within 20 s; a request fails within 15 s, name lookup
# included): the attempts fail (counted, retried with backoff), the
# current certificates go on serving (40 s left at each renewal), and
# renewals resume when the CA is back.
declare -A f0 r1
for s in $SC; do f0[$s]=$(count "$s" 'renewal failed'); done
pm stop -t 5 "$(cid ca)" >/dev/null
tstop=$(date +%s)
failed_some() {
	local s
	for s in $SC; do
		[ "$(count "$s" 'renewal failed')" -gt "${f0[$s]}" ] && return 0
	done
	return 1
}
within 40 "a failed renewal attempt while the CA is stopped" failed_some ||
    exit 1
for s in $SC; do r1[$s]=$(count "$s" 'renew: renewed'); done
pm start "$(cid ca)" >/dev/null
echo "the CA was stopped for $(($(date +%s) - tstop)) s; failed attempts:" \
    "$(for s in $SC; do printf '%s %s ' "$s" $(($(count "$s" 'renewal failed') - f0[$s])); done)"
resumed() {
	local s
	for s in $SC; do
		[ "$(count "$s" 'renew: renewed')" -gt "${r1[$s]}" ] || return 1
	done
}
# renew_lines: what each sidecar's renewal did (for a failure's report).
renew_lines() {
	local s
	for s in $SC; do
		echo "--- $s: renewal lines (last 12)"
		pm logs "$(cid "$s")" 2>&1 | grep -E 'renew|cert_change' |
		    tail -n 12 | cut -c1-400
	done
}
within 60 "renewals resumed on every sidecar after the CA came back" \
    resumed || { renew_lines; exit 1; }
echo "renewals resumed on every sidecar ($(($(date +%s) - tstop)) s after the stop)"

# A revocation on the live mesh: Prometheus's certificate (its
# sidecar's), revoked in the ca container; every sidecar fetches the
# CRL (crl_interval 20 s) and refuses it, so every target on the mesh
# goes down (prometheus-sidecar's own /metrics, on loopback, stays up).
pr=$(($(count prometheus-sidecar "renew: renewed") - ${r0[prometheus-sidecar]}))
[ "$pr" -ge 1 ] || fail "prometheus-sidecar did not renew during 7"
echo "prometheus-sidecar renewed $pr times so far in 7"
trev=$(date +%s)
pm exec "$(cid ca)" cotai-ca --dir /var/lib/cotai-ca revoke prometheus \
    >"$W/revoke.out" 2>&1 || { cat "$W/revoke.out"; fail "revoke prometheus"; }
all_down() {
	prom /api/v1/targets >"$W/targets2.json" || return 1
	python3 - "$W/targets2.json" <<'PY2'
import json, sys
t = json.load(open(sys.argv[1]))["data"]["activeTargets"]
own = "prometheus-sidecar:9901"
mesh = [x for x in t if x["labels"]["instance"] != own]
down = [x for x in mesh if x["health"] == "down"]
for x in t:
    print("  %-24s %-5s %s" % (x["labels"]["instance"], x["health"],
                               x.get("lastError", "")))
up_own = [x for x in t if x["labels"]["instance"] == own and x["health"] == "up"]
sys.exit(0 if mesh and len(down) == len(mesh) and up_own else 1)
PY2
}
within 45 "every scrape refused after the revocation" all_down \
    >"$W/down.out" || { cat "$W/down.out"; exit 1; }
tail -n 5 "$W/down.out"
echo "prometheus revoked: every sidecar refuses it $(($(date +%s) - trev)) s later"

within 90 "three renewals of every sidecar" renewed_since 3 || exit 1
kill "$qpid" 2>/dev/null || true
wait "$qpid" 2>/dev/null || true
qpid=""
ok=$(grep -c '^ok' "$W/queries.log" || true)
bad=$(grep -c '^FAILED' "$W/queries.log" || true)
echo "renewals during 7: $(for s in $SC prometheus-sidecar; do printf '%s %s ' "$s" $(($(count "$s" 'renew: renewed') - r0[$s])); done)"
echo "backend queries (PostgreSQL + Redis) during 7: $ok rounds ok, $bad failed"
[ "$bad" = 0 ] || { grep '^FAILED' "$W/queries.log" | head -n 5; fail "failed queries during rotation"; }
# Enough rounds, and spread over the whole step (a docker exec takes
# 1-3 s on a loaded machine: a count alone fails there for no fault).
tq=$(date +%s)
first=$(awk '$1 == "ok" { print $2; exit }' "$W/queries.log")
last=$(awk '$1 == "ok" { t = $2 } END { print t }' "$W/queries.log")
[ "$ok" -ge 15 ] || fail "only $ok query rounds"
[ $((first - t7)) -le 15 ] && [ $((tq - last)) -le 15 ] ||
    fail "query rounds from $((first - t7)) s to $((last - t7)) s of a $((tq - t7)) s step"
echo "query rounds from $((first - t7)) s to $((last - t7)) s into 7 (it lasted $((tq - t7)) s)"
backend_creds
serial1=$(probe "${BK[@]}" --serial redis-sidecar 6380) ||
    fail "redis-sidecar's serial: $serial1"
[ "$serial1" != "$serial0" ] || fail "redis-sidecar still serves $serial0"
echo "redis-sidecar serves $serial1 (was $serial0)"
# Never revoked (or unknown); "due" is a valid certificate past the CA's
# renewal mark that its sidecar has not replaced yet (seen on a slow run).
! pm exec "$(cid ca)" cotai-ca --dir /var/lib/cotai-ca list |
    grep -E '^(backend|postgres|redis) ' | grep -v -E 'valid|due|superseded|expired' ||
    fail "a sidecar certificate in an unexpected state in the CA's index"
started >"$W/started.after"
diff "$W/started.before" "$W/started.after" ||
    fail "a container restarted during rotation"
echo "no container restarted (the ca aside, stopped on purpose); 7 took $(($(date +%s) - t7)) s"
