#!/usr/bin/env bash
# Every refusal gives its one-line error ("cotai-ca: VERB: ...") and exit
# status: bad permissions, symlinks, duplicate issue, bad SANs, malformed
# names, re-init, usage errors (2), and --help for every verb (0).
. "$(dirname "$0")/lib.sh"

pki_init
issue backend

# Duplicate issue of a valid name.
expect_status 1 '^cotai-ca: issue: backend already has a valid certificate' \
    "$CA" issue backend --out "$T/certs"
# Malformed names and SANs (usage errors, exit 2, nothing issued).
for bad in Backend -db db- a..b a_b a/b '' 'db svc' ../x; do
	expect_status 2 "^cotai-ca: issue: (malformed name|NAME is required)" \
	    "$CA" issue --out "$T/certs" -- "$bad"
done
expect_status 2 '^cotai-ca: issue: bad DNS name for --dns: "bad_host"' \
    "$CA" issue web --dns bad_host
expect_status 2 '^cotai-ca: issue: bad DNS name for --dns' \
    "$CA" issue web --dns '*.example.com'
expect_status 2 '^cotai-ca: issue: bad IP address for --ip: "300.1.1.1"' \
    "$CA" issue web --ip 300.1.1.1
expect_status 2 '^cotai-ca: issue: bad --ttl' "$CA" issue web --ttl 7x
expect_status 2 '^cotai-ca: issue: bad --ttl' "$CA" issue web --ttl 400d
expect_status 2 '^cotai-ca: issue: bad --key-type' "$CA" issue web \
    --key-type dsa
expect_status 2 '^cotai-ca: issue: unknown option' "$CA" issue web --bogus
expect_status 2 '^cotai-ca: issue: unknown option or missing argument' \
    "$CA" issue web --dns
[ ! -e "$COTAI_CA_DIR/issued/web" ] || fail "a refused issue wrote files"
[ "$(grep -c '^V ' "$COTAI_CA_DIR/index")" = 1 ] || fail "index changed"

# No passphrase on the command line: there is no such option.
expect_status 2 "never taken on the command line" "$CA" --dir "$T/p3" init \
    --trust-domain x.test --passphrase secret
expect_status 2 'bad trust domain' "$CA" --dir "$T/p3" init \
    --trust-domain 'Bad Domain'
expect_status 2 '--trust-domain is required' "$CA" --dir "$T/p3" init
expect_status 2 'bad --permit-dns' "$CA" --dir "$T/p3" init \
    --trust-domain x.test --permit-dns 'a_b'
# Re-init refuses to overwrite.
expect_status 1 '^cotai-ca: init: .*refusing to overwrite' "$CA" init \
    --trust-domain cotai.test --passphrase-file <(echo x)
# An empty passphrase file is refused.
expect_status 1 '^cotai-ca: init: passphrase file .* is empty' "$CA" \
    --dir "$T/p4" init --trust-domain x.test --passphrase-file /dev/null

# Usage errors and help.
expect_status 2 '^cotai-ca: no verb given' "$CA"
expect_status 2 '^cotai-ca: unknown verb: frobnicate' "$CA" frobnicate
expect_status 2 '^cotai-ca: unknown option: --bogus' "$CA" --bogus list
expect_status 0 '^usage: cotai-ca' "$CA" --help
for v in init issue renew revoke crl list verify check; do
	expect_status 0 "^usage: cotai-ca \[--dir DIR\] $v" "$CA" "$v" --help
done
expect_status 2 'give either NAME or --serial' "$CA" revoke
expect_status 2 'NAME is required' "$CA" renew
expect_status 2 'all takes no NAME' "$CA" renew backend --all
expect_status 2 'give exactly one CERT' "$CA" verify
expect_status 2 'unexpected argument' "$CA" list extra

# A missing CA, --dir and $COTAI_CA_DIR precedence.
expect_status 1 '^cotai-ca: list: .*nope' "$CA" --dir "$T/nope" list
expect_status 0 'backend' "$CA" --dir "$COTAI_CA_DIR" list
(cd "$T" && env -u COTAI_CA_DIR "$CA" list) | grep -q "^backend " ||
    fail "./pki is not the default"
(cd "$T" && COTAI_CA_DIR=$T/nope "$CA" --dir pki list) | grep -q "^backend " ||
    fail "--dir does not override \$COTAI_CA_DIR"

# Group/world-accessible state directory or key, and symlinks.
chmod 750 "$COTAI_CA_DIR"
expect_status 1 "^cotai-ca: issue: .* is accessible by group or others \(mode 0750\)" \
    "$CA" issue web
expect_status 1 'accessible by group or others' "$CA" list
chmod 700 "$COTAI_CA_DIR"
chmod 640 "$COTAI_CA_DIR/intermediate.key"
expect_status 1 "^cotai-ca: issue: .*intermediate.key is accessible by group or others" \
    "$CA" issue web
chmod 600 "$COTAI_CA_DIR/intermediate.key"
ln -s "$COTAI_CA_DIR" "$T/pki-symlink"
expect_status 1 "^cotai-ca: issue: .*pki-symlink is a symlink" \
    "$CA" --dir "$T/pki-symlink" issue web
mv "$COTAI_CA_DIR/intermediate.key" "$T/ikey"
ln -s "$T/ikey" "$COTAI_CA_DIR/intermediate.key"
expect_status 1 "^cotai-ca: issue: .*intermediate.key is a symlink" \
    "$CA" issue web
rm "$COTAI_CA_DIR/intermediate.key"
mv "$T/ikey" "$COTAI_CA_DIR/intermediate.key"
"$CA" issue web >/dev/null || fail "issue after restoring permissions"

# A corrupt index is refused with its line number, and nothing is written.
cp "$COTAI_CA_DIR/index" "$T/index.good"
echo "V garbage" >>"$COTAI_CA_DIR/index"
expect_status 1 '^cotai-ca: issue: index line 4: ' "$CA" issue web2
expect_status 1 '^cotai-ca: list: index line 4: ' "$CA" list
cp "$T/index.good" "$COTAI_CA_DIR/index"

# The state directory is never an output directory (NAME.key could
# replace intermediate.key).
expect_status 1 "must not be the state directory" "$CA" issue intermediate \
    --out "$COTAI_CA_DIR/."

# Out-of-constraint names are refused by issue (see 16-ca-constraints.sh).
echo "14-ca-refusals: ok"
