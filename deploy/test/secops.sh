# deploy/test/secops.sh: compose-test step 6d, security operations:
# Prometheus scrapes every sidecar's admin endpoint over mTLS; a rogue
# container (a certificate from a CA of its own, claiming the backend's
# name) makes CotaiIdentityRefused fire; the audit collector holds the
# backend's close records and the refusals, and took no frame from a
# client without a certificate. Sourced by deploy/compose-test.sh, whose
# functions (say, fail, pm, cid, prom, within, probe, backend_creds) and
# variables (W, P, E, here, test_base, BK, PING) it uses.
# shellcheck shell=bash disable=SC2154 # here, test_base: compose-test.sh
say "6d. security operations: Prometheus over mTLS, an alert, the audit collector"
t6d=$(date +%s)
# Every target up: each sidecar's admin endpoint (instance NAME-sidecar:9901,
# as the alert rules name it) scraped on loopback through prometheus-sidecar,
# and prometheus-sidecar's own.
targets_up() {
	prom /api/v1/targets >"$W/targets.json" || return 1
	python3 - "$W/targets.json" <<'PY2'
import json, sys
t = json.load(open(sys.argv[1]))["data"]["activeTargets"]
want = {"backend-sidecar:9901", "postgres-sidecar:9901", "redis-sidecar:9901",
        "collector-sidecar:9901", "prometheus-sidecar:9901"}
up = {x["labels"]["instance"] for x in t
      if x["health"] == "up" and x["scrapeUrl"].startswith("http://127.0.0.1:")
      and x["labels"]["job"].startswith("cotai")}
for x in sorted(t, key=lambda x: x["labels"]["instance"]):
    print("  %-24s %-5s %-24s %s %s" % (x["labels"]["instance"], x["health"],
          x["labels"]["job"], x["scrapeUrl"], x.get("lastError", "")))
sys.exit(0 if want <= up and len(t) == len(want) else 1)
PY2
}
within 30 "every sidecar's admin endpoint up in Prometheus (through its sidecar)" \
    targets_up >"$W/targets.out" || { tail -n 5 "$W/targets.out"; exit 1; }
tail -n 5 "$W/targets.out"
# ... and every one of those scrapes left prometheus-sidecar as mTLS to the
# identity its route expects (the sidecar's close records).
scraped_tls() {
	pm logs "$(cid prometheus-sidecar)" 2>&1 | python3 -c '
import json, sys
want = {"metrics-backend": "backend", "metrics-postgres": "postgres",
        "metrics-redis": "redis", "metrics-collector": "collector"}
seen = {}
for line in sys.stdin:
    if not line.startswith("{"):
        continue
    try:
        r = json.loads(line)
    except ValueError:
        continue
    if (r.get("event") == "close" and r.get("route") in want
            and r.get("tls_version") == "TLSv1.3"
            and r.get("spiffe") == "spiffe://compose.test/" + want[r["route"]]):
        seen[r["route"]] = seen.get(r["route"], 0) + 1
print("prometheus-sidecar: mTLS scrape connections by route:",
      ", ".join("%s %d" % (k, seen.get(k, 0)) for k in sorted(want)))
sys.exit(0 if all(seen.get(k) for k in want) else 1)'
}
within 20 "prometheus-sidecar's mTLS scrape connections" scraped_tls \
    >"$W/scraped.out" || { cat "$W/scraped.out"; exit 1; }
tail -n 1 "$W/scraped.out"
echo "Prometheus scrapes all 4 sidecars through its own over mTLS, and that" \
    "sidecar ($(($(date +%s) - t6d)) s)"
# The rogue: a container of its own on the mesh, claiming to be the backend
# with a certificate from a CA of its own (made here with openssl), so its
# refusals (unknown_ca) can come from nothing else in this test.
mkdir -p "$W/rogue"
(
	cd "$W/rogue"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	    -subj "/CN=rogue CA" -days 1 -keyout ca.key -out ca.crt \
	    -addext basicConstraints=critical,CA:TRUE \
	    -addext keyUsage=critical,keyCertSign,cRLSign
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	    -subj /CN=backend -keyout rogue.key -out rogue.csr
	printf 'subjectAltName=DNS:backend,URI:spiffe://compose.test/backend\nextendedKeyUsage=clientAuth\n' >ext
	openssl x509 -req -in rogue.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
	    -days 1 -extfile ext -out rogue.crt
	chmod 0644 rogue.key # the rogue container's user reads it
) >"$W/rogue.log" 2>&1 || { cat "$W/rogue.log"; fail "making the rogue's certificate"; }
# refused_seen: how many unknown_ca refusals of redis-sidecar Prometheus has
# scraped ("none" before the series exists).
refused_seen() {
	prom '/api/v1/query?query=sum(cotai_connections_closed_total%7Binstance%3D%22redis-sidecar%3A9901%22%2Creason%3D%22unknown_ca%22%7D)' |
	    python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(int(float(r[0]["value"][1])) if r else "none")'
}
rogue() {
	pm run --rm --label "cotai.compose-test=$P" --network "${P}_mesh" \
	    --read-only --cap-drop ALL --user 10001:10001 \
	    -v "$here/test/probe.py:/probe.py:ro" \
	    -v "$W/secrets/ca.crt:/certs/ca.crt:ro" \
	    -v "$W/intruder:/certs/intruder:ro" \
	    -v "$W/rogue:/certs/rogue:ro" \
	    --entrypoint python3 "$test_base" /probe.py "$@"
}
RG=(--tls /certs/ca.crt --cert /certs/rogue/rogue.crt
    --key /certs/rogue/rogue.key)
# The "intruder": a certificate from the cotai CA for a name no one allows.
IR=(--tls /certs/ca.crt --cert /certs/intruder/intruder.crt
    --key /certs/intruder/intruder.key)
fired() {
	prom /api/v1/alerts >"$W/alerts.json" || return 1
	python3 - "$W/alerts.json" <<'PY2'
import json, sys
a = json.load(open(sys.argv[1]))["data"]["alerts"]
hit = [x for x in a if x["labels"].get("alertname") == "CotaiIdentityRefused"
       and x["labels"].get("instance") == "redis-sidecar:9901"
       and x["labels"].get("reason") == "unknown_ca"
       and x["state"] == "firing"]
for x in hit:
    print("  firing: %s (%s)" % (x["annotations"].get("summary", ""), x["activeAt"]))
sys.exit(0 if hit else 1)
PY2
}
# Nothing before refused a certificate from an unknown CA: not firing yet.
! fired >/dev/null ||
    fail "CotaiIdentityRefused (unknown_ca, redis-sidecar) fired before the rogue"
rounds=0
while :; do
	before=$(refused_seen)
	out=$(rogue "${RG[@]}" --send "$PING" --expect +PONG redis-sidecar 6380) &&
	    fail "the rogue got an answer: $out"
	echo "rogue container -> redis-sidecar:6380: $out"
	rounds=$((rounds + 1))
	seen_more() { [ "$(refused_seen)" != "$before" ]; }
	within 20 "Prometheus scraping the rogue's refusal" seen_more || exit 1
	# A series that did not exist yet only starts here: one more attempt.
	[ "$before" = none ] && [ $rounds -lt 2 ] || break
done
echo "Prometheus counted it: $before -> $(refused_seen) unknown_ca refusals"
within 30 "CotaiIdentityRefused firing" fired >"$W/fired.out" ||
    { cat "$W/alerts.json"; echo; exit 1; }
cat "$W/fired.out"
echo "CotaiIdentityRefused fired ($(($(date +%s) - t6d)) s into 6d)"
# The rogue also tries to write into the audit trail without a certificate:
# refused at the handshake. The same frame with the backend's certificate
# (control) is taken. With its "intruder" certificate (chains to the cotai
# CA, names no sidecar workload) it is refused too: collector-sidecar's
# allow list, enforced at the handshake (rsyslog's PermittedPeer, which
# Debian 12's rsyslog did not reliably enforce, is gone; see README).
frame() { # MARKER: an RFC 5425 frame (octet count, RFC 5424 message), in hex
	local m="<13>1 - probe x - - - $1"
	printf '%d %s' "${#m}" "$m" | od -An -tx1 | tr -d ' \n'
}
rogue --tls /certs/ca.crt --send "$(frame ROGUE-AUDIT-RECORD)" collector 6514 >/dev/null || true
rogue "${IR[@]}" --send "$(frame INTRUDER-AUDIT-RECORD)" collector 6514 >/dev/null || true
backend_creds
probe "${BK[@]}" --send "$(frame CONTROL-AUDIT-RECORD)" collector 6514 >/dev/null || true
collected() {
	pm exec "$(cid collector)" cat /var/lib/cotai-collector/audit.jsonl \
	    >"$W/collected.jsonl" || return 1
	python3 - "$W/collected.jsonl" <<'PY2'
import json, sys
backend = "spiffe://compose.test/backend"
intruder = "spiffe://compose.test/intruder"
close = refused = rogue = 0
for line in open(sys.argv[1]):
    line = line.strip()
    if not line.startswith("{"):
        continue
    r = json.loads(line)
    if r.get("event") == "close" and r.get("spiffe") == backend:
        close += 1
    if (r.get("event") == "refused" and r.get("spiffe") == intruder
            and r.get("reason") == "identity_not_allowed"):
        refused += 1
    if (r.get("event") == "refused" and r.get("route") == "redis-in"
            and r.get("reason") == "unknown_ca"):
        rogue += 1
print("collector: %d close records of the backend (%s), %d refusals of the "
      "intruder, %d of the rogue (unknown_ca)" % (close, backend, refused, rogue))
control = any("CONTROL-AUDIT-RECORD" in l for l in open(sys.argv[1]))
sys.exit(0 if close > 0 and refused > 0 and rogue > 0 and control else 1)
PY2
}
within 30 "the backend's and the rogue's audit records at the collector" \
    collected >"$W/collected.out" || { cat "$W/collected.out"; exit 1; }
tail -n 1 "$W/collected.out"
! grep -q ROGUE-AUDIT-RECORD "$W/collected.jsonl" ||
    fail "the collector took a record from the rogue without a certificate"
echo "the collector took the backend certificate's frame (control), not the" \
    "certificate-less rogue's"
! grep -q INTRUDER-AUDIT-RECORD "$W/collected.jsonl" ||
    fail "the collector took a frame from the 'intruder' certificate"
pm logs "$(cid collector-sidecar)" 2>&1 |
    grep '"event":"refused"' | grep '"route":"collector-in"' |
    grep '"reason":"identity_not_allowed"' |
    grep -F '"spiffe":"spiffe://compose.test/intruder"' | tail -n 1 ||
    fail "collector-sidecar logged no refusal of the 'intruder'"
echo "the collector did not take the 'intruder' certificate's frame:" \
    "collector-sidecar refused it (allow list)"
