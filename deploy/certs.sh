#!/usr/bin/env bash
# deploy/certs.sh (make certs): everything deploy/compose.yaml needs, in one
# idempotent command. Run it as root (sudo make certs).
#
#   deploy/certs.sh            create what is missing (automatic mode)
#   deploy/certs.sh --tokens   also mint new tokens for every sidecar (one
#                              that lost its identity volume needs one)
#   deploy/certs.sh --files    file mode: certificates for the sidecars too
#                              (deploy/compose.files.yaml); from cron it
#                              renews what is due
#   deploy/certs.sh --renew    file mode: renew every certificate now
#
# Automatic mode (the default) makes, under $COTAI_SECRETS (default
# deploy/secrets, 0711 root), no key of any workload:
#   ca/                 the cotai-ca state directory (0700, UID 10001),
#                       mounted only by the ca service; its root passphrase
#                       is ca/ca.pass (see README: keep the root offline in
#                       production); ca/server/ holds the CA server's own
#                       certificate (ca-server, DNS name "ca", 365 days
#                       capped at the intermediate: renew it with the
#                       intermediate, see ca/README.md)
#   ca.crt              the root certificate (0444): the sidecars' trust
#                       anchor for the CA server
#   tokens/NAME         for each sidecar (backend postgres redis mongo
#                       prometheus collector: Prometheus and rsyslog have
#                       no EST client, so each runs in the network
#                       namespace of a sidecar of its own): a one-time
#                       enrollment token for NAME (0400, UID 10001), valid
#                       $COTAI_TOKEN_TTL (default 1d): start the stack
#                       within that time
#   db-password         PostgreSQL password, owner 10001 group 999, 0440
#                       (read by the backend, UID 10001, and by postgres,
#                       GID 999 in the official image)
# That is all: no key, certificate or directory of any workload (the
# only private keys under $COTAI_SECRETS are the CA's own, in ca/).
# With --files (the file mode) each sidecar, and each of COTAI_WORKLOADS,
# gets NAME/: NAME.crt (leaf + intermediate), NAME.key (0600), ca.crt,
# crl.pem; directory 0700, all owned by 10001; renewed by running this
# again (cron) when due. The tokens are minted all the same (compose.yaml
# names them).
#
# Ownership: Compose file secrets keep the host's owner and mode (`mode:` is
# ignored for them), and the sidecars run as UID 10001 with no
# capabilities. So cotai-ca itself runs as UID 10001 (setpriv, or the cotai
# image with --user 10001): every file it writes, including the ones a
# renewal swaps in by atomic rename, is already owned by 10001 and readable
# by the sidecar, with no chown afterwards and no window where a sidecar
# could see a root-owned key.
#
# Certificate names: CN and spiffe://TRUST_DOMAIN/NAME, DNS SAN NAME (and
# NAME-sidecar for what this script issues). The intermediate only permits
# those DNS names, ca and ca-server (plus $COTAI_PERMIT_DNS).
#
# Environment:
#   COTAI_SECRETS       output directory (default: deploy/secrets)
#   COTAI_TRUST_DOMAIN  SPIFFE trust domain (default: cotai.internal)
#   COTAI_SIDECARS      the sidecars (default: "backend postgres redis mongo
#                       prometheus collector")
#   COTAI_WORKLOADS     with --files only: more names that get certificate
#                       files and no token (default: none); refused in the
#                       automatic mode, which writes no workload key
#   COTAI_PERMIT_DNS    extra DNS names the CA may certify (space separated)
#   COTAI_TTL           lifetime of the certificate files (default:
#                       cotai-ca's, 7d); the sidecars' own comes from the ca
#                       service (COTAI_CERT_TTL, default 24h)
#   COTAI_TOKEN_TTL     lifetime of the enrollment tokens (default 1d)
#   COTAI_CA            the cotai-ca binary (default: build/cotai-ca, then PATH)
#   COTAI_CA_IMAGE      run cotai-ca from this image instead (docker/podman;
#                       COTAI_ENGINE picks one), secrets mounted at the same
#                       path so the directories cotai-ca records stay valid
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
uid=10001
db_gid=999

renew_all=0 files=0 new_tokens=0
case "${1:-}" in
--renew) renew_all=1 files=1 ;;
--files) files=1 ;;
--tokens) new_tokens=1 ;;
"") ;;
-h | --help)
	sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
	exit 0
	;;
*)
	echo "usage: $0 [--tokens | --files | --renew]" >&2
	exit 2
	;;
esac

if [ "$(id -u)" -ne 0 ]; then
	echo "certs: run as root (sudo make certs): the files must belong to" \
	    "UID $uid, the sidecars' user" >&2
	exit 1
fi

S=${COTAI_SECRETS:-$here/secrets}
mkdir -p "$S"
S=$(cd "$S" && pwd)
TD=${COTAI_TRUST_DOMAIN:-cotai.internal}
read -r -a sidecars <<<"${COTAI_SIDECARS:-backend postgres redis mongo prometheus collector}"
read -r -a workloads <<<"${COTAI_WORKLOADS:-}"
if [ $files = 0 ] && [ ${#workloads[@]} -gt 0 ]; then
	echo "certs: COTAI_WORKLOADS (${workloads[*]}): the automatic mode" \
	    "writes no workload key; give each a sidecar (COTAI_SIDECARS: a" \
	    "token each) or use --files" >&2
	exit 2
fi
# The names that get certificate files.
if [ $files = 1 ]; then
	names=("${sidecars[@]}" "${workloads[@]}")
else
	names=("${workloads[@]}")
fi

# ca ARGS...: cotai-ca as UID 10001 with the state directory $S/ca.
if [ -n "${COTAI_CA_IMAGE:-}" ]; then
	engine=${COTAI_ENGINE:-}
	if [ -z "$engine" ]; then
		if docker info >/dev/null 2>&1; then
			engine=docker
		elif command -v podman >/dev/null; then
			engine=podman
		else
			echo "certs: no Docker engine and no podman" >&2
			exit 1
		fi
	fi
	ca() {
		"$engine" run --rm --no-healthcheck --network none --read-only \
		    --user "$uid:$uid" --cap-drop ALL \
		    --security-opt no-new-privileges:true \
		    -v "$S:$S" --entrypoint /usr/local/bin/cotai-ca \
		    "$COTAI_CA_IMAGE" --dir "$S/ca" "$@"
	}
else
	CA=${COTAI_CA:-$repo/build/cotai-ca}
	if [ ! -x "$CA" ]; then
		CA=$(command -v cotai-ca || true)
	fi
	[ -n "$CA" ] && [ -x "$CA" ] || {
		echo "certs: no cotai-ca: run make first, or set COTAI_CA or" \
		    "COTAI_CA_IMAGE" >&2
		exit 1
	}
	command -v setpriv >/dev/null || {
		echo "certs: setpriv (util-linux) is needed" >&2
		exit 1
	}
	ca() {
		setpriv --reuid="$uid" --regid="$uid" --clear-groups \
		    --inh-caps=-all --reset-env "$CA" --dir "$S/ca" "$@"
	}
	# UID 10001 must be able to reach $S (and run the binary).
	if ! setpriv --reuid="$uid" --regid="$uid" --clear-groups \
	    test -x "$S" -a -x "$CA" 2>/dev/null; then
		echo "certs: UID $uid cannot reach $S or $CA (a 0700 home" \
		    "directory above it?); set COTAI_SECRETS elsewhere, or use" \
		    "COTAI_CA_IMAGE" >&2
		exit 1
	fi
fi

# Directories: $S itself root 0711 (nobody lists it), the rest 10001 0700.
chown root:root "$S"
chmod 0711 "$S"
for d in ca "${names[@]}"; do
	install -d -o "$uid" -g "$uid" -m 0700 "$S/$d"
done
install -d -o root -g root -m 0700 "$S/tokens"
# Key files an older certs.sh (prometheus, collector) or the file mode left:
# the automatic mode neither reads nor renews them.
if [ $files = 0 ]; then
	for n in "${sidecars[@]}"; do
		[ ! -e "$S/$n/$n.key" ] ||
		    echo "certs: WARNING: $S/$n/ holds a key (the file mode, or an" \
		        "older certs.sh) that the automatic mode does not use:" \
		        "$n-sidecar enrolls with a token; delete the directory" >&2
	done
fi

if [ ! -s "$S/ca/ca.crt" ]; then
	permit=(--permit-dns ca --permit-dns ca-server)
	for n in "${sidecars[@]}" "${workloads[@]}" ${COTAI_PERMIT_DNS:-}; do
		permit+=(--permit-dns "$n")
		case "$n" in *-sidecar) ;; *) permit+=(--permit-dns "$n-sidecar") ;; esac
	done
	echo "certs: new CA for trust domain $TD in $S/ca"
	ca init --trust-domain "$TD" "${permit[@]}"
fi

ttl=()
[ -z "${COTAI_TTL:-}" ] || ttl=(--ttl "$COTAI_TTL")
for n in "${names[@]}"; do
	if [ ! -s "$S/$n/$n.crt" ]; then
		echo "certs: issuing $n"
		ca issue "$n" --dns "$n-sidecar" "${ttl[@]}" --out "$S/$n" ||
		    ca renew "$n" "${ttl[@]}" --out "$S/$n"
	elif [ $renew_all = 1 ]; then
		echo "certs: renewing $n"
		ca renew "$n" "${ttl[@]}"
	fi
done
# Renew what is due among the files this script made, and refresh the CRL
# in every output directory. Not `renew --all`: that would also renew the
# sidecars' certificates, which they renew themselves from the CA server
# (it would write a key into the CA's directory and supersede theirs).
for n in "${names[@]}"; do
	ca renew "$n" --if-due >/dev/null
done
[ ! -s "$S/ca/server/ca-server.crt" ] || ca renew ca-server --if-due >/dev/null
ca crl >/dev/null

# The CA server's own certificate, the root for the sidecars, the tokens.
if [ ! -s "$S/ca/server/ca-server.crt" ]; then
	echo "certs: the CA server's certificate (ca-server, DNS ca)"
	ca issue ca-server --dns ca --ttl 365d --out "$S/ca/server" >/dev/null
fi
install -o root -g root -m 0444 "$S/ca/ca.crt" "$S/ca.crt"
for n in "${sidecars[@]}"; do
	if [ ! -s "$S/tokens/$n" ] || [ $new_tokens = 1 ]; then
		echo "certs: enrollment token for $n (${COTAI_TOKEN_TTL:-1d})"
		ca token "$n" --ttl "${COTAI_TOKEN_TTL:-1d}" >"$S/tokens/.$n" 2>/dev/null
		[ -s "$S/tokens/.$n" ] || { echo "certs: token $n failed" >&2; exit 1; }
		chown "$uid:$uid" "$S/tokens/.$n"
		chmod 0400 "$S/tokens/.$n"
		mv -f "$S/tokens/.$n" "$S/tokens/$n"
	fi
done

if [ ! -s "$S/db-password" ]; then
	umask 077
	head -c 32 /dev/urandom | base64 | tr -d '/+=\n' | head -c 32 \
	    >"$S/db-password"
fi
chown "$uid:$db_gid" "$S/db-password"
chmod 0440 "$S/db-password"

ca list
echo "certs: ready in $S"
