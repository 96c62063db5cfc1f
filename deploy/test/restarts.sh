# deploy/test/restarts.sh: compose-test steps 8 and 9, containers that
# come back: postgres-sidecar at a new address is followed by the backend's
# sidecar without SIGHUP and goes on from its identity volume (no second
# enrollment); collector-sidecar restarted strands the collector in its old
# network namespace, which the collector's healthcheck must report, and a
# restart of the collector rejoins it. Sourced by deploy/compose-test.sh,
# whose functions (say, fail, pm, cid, healthy, within, probe, frame,
# backend_creds) and variables (W, BK, ...) it uses.
# shellcheck shell=bash disable=SC2154
# ---------------------------------------------------------------------------
say "8. postgres-sidecar comes back at a new address: followed without SIGHUP"
# Stop it, let a placeholder take its address so that it must get another,
# start it again: the backend's sidecar still has the old address until its
# next lookup (resolve_interval, or at once when a connect fails).
sc=$(cid postgres-sidecar)
pm stop -t 5 "$sc" >/dev/null
# Docker gives --ip only on networks with a subnet set by hand; its
# allocator hands out the next free address after the last one anyway.
ipopt=(--ip "$pgsc_ip")
[ "$E" = podman ] || ipopt=()
pm run -d --name "${P}-squatter" --label "cotai.compose-test=$P" \
    --network "${P}_mesh" "${ipopt[@]}" --read-only --cap-drop ALL \
    --entrypoint sleep "$test_base" 600 >/dev/null ||
    fail "cannot start a placeholder on $pgsc_ip"
pm start "$sc" >/dev/null
new_ip=$(ip_on "$sc" "${P}_mesh")
[ -n "$new_ip" ] && [ "$new_ip" != "$pgsc_ip" ] ||
    fail "postgres-sidecar did not get a new address ($pgsc_ip -> $new_ip)"
echo "postgres-sidecar: $pgsc_ip -> $new_ip"
ok=0
for _ in $(seq 30); do
	if healthy postgres-sidecar >/dev/null 2>&1 &&
	    pm exec "$(cid backend)" cotai-backend check >"$W/check3.out" 2>&1 &&
	    grep -q 'check=postgres result=ok' "$W/check3.out"; then
		ok=1
		break
	fi
	sleep 1
done
cat "$W/check3.out"
[ $ok = 1 ] || fail "the backend lost PostgreSQL after postgres-sidecar moved"
pm logs "$(cid backend-sidecar)" 2>&1 | grep 'now resolves to' |
    grep -F "$new_ip" || fail "the backend's sidecar did not log the move"
[ "$(pm inspect -f '{{.RestartCount}}' "$(cid backend-sidecar)")" = 0 ] ||
    fail "the backend's sidecar restarted"
[ "$(pm logs "$sc" 2>&1 | grep -c 'renew: enrolling')" = 1 ] ||
    fail "postgres-sidecar enrolled again after its restart"
echo "postgres-sidecar restarted from its identity volume (one enrollment, token spent)"

# ---------------------------------------------------------------------------
say "9. collector-sidecar restarted: the collector's healthcheck sees it stranded, a restart rejoins it"
# The collector lives in collector-sidecar's network namespace; a restarted
# sidecar gets a new one and leaves the collector in the old, with loopback
# only. Its healthcheck (which also asks the sidecar's /healthz on
# loopback) must say so; `restart collector` joins it again, and audit
# frames arrive again.
t9=$(date +%s)
pm restart -t 5 "$(cid collector-sidecar)" >/dev/null
ok=0
for _ in $(seq 20); do
	healthy collector-sidecar >/dev/null 2>&1 && { ok=1; break; }
	sleep 1
done
[ $ok = 1 ] || fail "collector-sidecar not healthy after its restart"
! healthy collector >"$W/hc9.out" 2>&1 ||
    fail "the collector's healthcheck passes in a stranded namespace"
echo "collector-sidecar restarted: the collector's healthcheck fails (stranded)"
pm restart -t 5 "$(cid collector)" >/dev/null
ok=0
for _ in $(seq 20); do
	healthy collector >/dev/null 2>&1 && { ok=1; break; }
	sleep 1
done
[ $ok = 1 ] || fail "the collector's healthcheck after its restart"
backend_creds
again() {
	probe "${BK[@]}" --send "$(frame CONTROL-AGAIN-RECORD)" collector 6514 \
	    >/dev/null 2>&1 || true
	pm exec "$(cid collector)" grep -q CONTROL-AGAIN-RECORD \
	    /var/lib/cotai-collector/audit.jsonl
}
if ! within 20 "a frame at the collector after both restarts" again; then
	# What the mesh's name service says against where the sidecar is (a
	# podman run failed here: is the alias stale after the restart?).
	echo "the probe resolves collector to:" \
	    "$(pm exec "$(cid probe)" getent ahosts collector 2>&1 |
		awk '{ print $1 }' | sort -u | tr '\n' ' ')"
	echo "collector-sidecar is at $(ip_on "$(cid collector-sidecar)" "${P}_mesh") on the mesh"
	probe "${BK[@]}" --send "$(frame CONTROL-AGAIN-RECORD)" collector 6514 || true
	exit 1
fi
[ "$(pm logs "$(cid collector-sidecar)" 2>&1 | grep -c 'renew: enrolling')" = 1 ] ||
    fail "collector-sidecar enrolled again after its restart"
echo "the collector restarted: healthy, and takes frames again (9 took" \
    "$(($(date +%s) - t9)) s; collector-sidecar went on from its identity volume)"

