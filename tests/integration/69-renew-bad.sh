#!/usr/bin/env bash
# identity.renew refusals: configuration errors with FILE:LINE:COL; a CA
# server whose certificate does not verify against renew.ca (logged, retried,
# nothing written); a bad token (refused with the server's reason, the start
# fails, state_dir untouched); an expired certificate and no token (refused
# before any request); an expired certificate and a used token (refused, the
# old state kept byte for byte).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/2_relay_lib.sh"

pki_init
"$CA" issue est-server --dns localhost --out "$T/srv" >/dev/null
chmod 711 "$T"
mkdir -p "$T/run"
cp "$T/srv/ca.crt" "$T/run/est-ca.crt"
# Another CA's root, to trust in place of ours.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$T/run/other.key" -subj /CN=other -days 1 \
    -out "$T/run/other.crt" 2>/dev/null || fail "other CA"
if [ "$(id -u)" -eq 0 ]; then chown -R nobody "$T/run"; fi

spawn est "$CA" serve --tls-cert "$T/srv/est-server.crt" \
    --tls-key "$T/srv/est-server.key" --listen 127.0.0.1:0 \
    --port-file "$T/est.port" --ttl 3s --audit "$T/est-audit.log"
wait_file "$T/est.port"
EST_PORT=$(cut -d: -f2 "$T/est.port")

# conf NAME RENEW_BODY [TOP]: $T/run/NAME.yaml with identity.renew = BODY.
conf() {
	cat >"$T/run/$1.yaml" <<YAML
$(relay_user_line)
admin: { enabled: false }
${3:-}
identity:
  renew:
$2
routes:
  - name: web
    mode: terminate
    listen: 127.0.0.1:0
    target: 127.0.0.1:9
    allow: [api]
YAML
}
good="    url: https://localhost:$EST_PORT
    ca: $T/run/est-ca.crt
    state_dir: $T/state"

echo "== configuration errors name FILE:LINE:COL"
conf c1 "$good
    at: 3/2"
expect_status 1 "c1.yaml:9:9: identity.renew.at: invalid value \"3/2\"" \
    "$PROXY" --check -c "$T/run/c1.yaml"
conf c2 "    url: http://localhost:1
    ca: x
    state_dir: /x"
expect_status 1 'c2.yaml:6:10: identity.renew.url: invalid URL "http://localhost:1"' \
    "$PROXY" --check -c "$T/run/c2.yaml"
conf c3 "    url: https://localhost:1
    state_dir: /x"
expect_status 1 'c3.yaml:6:5: identity.renew.ca: missing required key' \
    "$PROXY" --check -c "$T/run/c3.yaml"
conf c4 "$good
    crl_interval: soon"
expect_status 1 'c4.yaml:9:19: identity.renew.crl_interval' \
    "$PROXY" --check -c "$T/run/c4.yaml"
conf c5 "$good
    tokenfile: /x"
expect_status 1 'c5.yaml:9:5: identity.renew.tokenfile: unknown key' \
    "$PROXY" --check -c "$T/run/c5.yaml"
cat >"$T/run/c6.yaml" <<YAML
identity:
  cert: /etc/x.crt
  renew:
$good
routes: [{ name: w, mode: terminate, listen: "127.0.0.1:0", target: "127.0.0.1:9", allow: [a] }]
YAML
expect_status 1 'c6.yaml:2:9: identity.cert: not with identity.renew' \
    "$PROXY" --check -c "$T/run/c6.yaml"
conf c7 "    url: https://localhost:1
    ca: x
    state_dir: relative/dir"
expect_status 1 'c7.yaml:8:16: identity.renew.state_dir: "relative/dir" is not an absolute path' \
    "$PROXY" --check -c "$T/run/c7.yaml"
# A route may not carry its own renewal block.
cat >"$T/run/c8.yaml" <<YAML
routes:
  - { name: w, mode: terminate, listen: "127.0.0.1:0", target: "127.0.0.1:9", allow: [a], identity: { renew: { url: "https://x" } } }
YAML
expect_status 1 'c8.yaml:2:.*identity.renew: unknown key' \
    "$PROXY" --check -c "$T/run/c8.yaml"

echo "== a CA server that does not verify against renew.ca: logged, retried, nothing written"
"$CA" token web --ttl 10m >"$T/run/web.token" 2>/dev/null
conf bad-anchor "    url: https://localhost:$EST_PORT
    ca: $T/run/other.crt
    state_dir: $T/state
    token_file: $T/run/web.token"
spawn bad-anchor "$PROXY" -c "$T/run/bad-anchor.yaml" --ports-file "$T/run/bad-anchor.ports"
pid=$LAST_PID
wait_for "the anchor refusal" 10 grep -q "the CA server's certificate is refused: .*check identity.renew.ca" "$T/bad-anchor.log"
wait_for "a retry" 10 grep -q 'renew: retrying in' "$T/bad-anchor.log"
[ ! -e "$T/run/bad-anchor.ports" ] || fail "serving without a certificate"
[ -z "$(ls -A "$T/state")" ] || fail "state written: $(ls -A "$T/state")"
kill -TERM "$pid"
wait_exit "$pid"
[ "$(wc -l <"$T/est-audit.log")" = 0 ] || fail "the CA server saw an enrollment"

echo "== a bad token: the server's reason, the start fails, nothing written"
echo 0000000000000000000000000000000000000000000000000000000000000000 >"$T/run/bad.token"
conf bad-token "$good
    token_file: $T/run/bad.token"
expect_status 1 'simpleenroll refused: 403 .*token' \
    "$PROXY" -c "$T/run/bad-token.yaml"
[ -z "$(ls -A "$T/state")" ] || fail "state written: $(ls -A "$T/state")"

echo "== an expired certificate and no token: refused before any request"
conf ok "$good
    token_file: $T/run/web.token"
spawn ok "$PROXY" -c "$T/run/ok.yaml" --ports-file "$T/run/ok.ports"
pid=$LAST_PID
wait_file "$T/state/crl.pem"
wait_for "the first certificate" 10 grep -q 'event=start ' "$T/ok.log"
kill -TERM "$pid"
wait_exit "$pid"
sum0=$(cd "$T/state" && sha256sum cert.pem key.pem)
wait_for "expiry of the 3 s certificate" 10 sh -c \
    "! openssl x509 -in '$T/state/cert.pem' -noout -checkend 0"
n=$(wc -l <"$T/est-audit.log")
conf no-token "$good"
expect_status 1 'has expired.*|cannot enroll' "$PROXY" -c "$T/run/no-token.yaml"
assert_grep 'token_file is not set: cannot enroll' "$T/expect.log"
[ "$(wc -l <"$T/est-audit.log")" = "$n" ] || fail "a request was sent"

echo "== an expired certificate and a used token: refused, old state kept"
expect_status 1 'simpleenroll refused: 403' "$PROXY" -c "$T/run/ok.yaml"
[ "$(cd "$T/state" && sha256sum cert.pem key.pem)" = "$sum0" ] ||
    fail "the state changed"
echo "ok"
