#!/usr/bin/env bash
# deploy/certs.sh (make certs): everything deploy/compose.yaml needs, in one
# idempotent command. Run it as root (sudo make certs).
#
#   deploy/certs.sh            create what is missing, renew what is due
#   deploy/certs.sh --renew    renew every certificate now (rotation)
#
# What it makes, under $COTAI_SECRETS (default deploy/secrets, 0711 root):
#   ca/                 the cotai-ca state directory (0700, UID 10001); its
#                       root passphrase is ca/ca.pass (see README: keep the
#                       root offline in production)
#   NAME/               for each workload (backend postgres redis mongo
#                       prometheus collector):
#                       NAME.crt (leaf + intermediate), NAME.key (0600),
#                       ca.crt, crl.pem; directory 0700, all owned by 10001
#   db-password         PostgreSQL password, owner 10001 group 999, 0440
#                       (read by the backend, UID 10001, and by postgres,
#                       GID 999 in the official image)
#
# Ownership: Compose file secrets keep the host's owner and mode (`mode:` is
# ignored for them), and the sidecars run as UID 10001 with no
# capabilities. So cotai-ca itself runs as UID 10001 (setpriv, or the cotai
# image with --user 10001): every file it writes, including the ones a
# renewal swaps in by atomic rename, is already owned by 10001 and readable
# by the sidecar, with no chown afterwards and no window where a sidecar
# could see a root-owned key.
#
# Certificate names: CN and spiffe://TRUST_DOMAIN/NAME, DNS SANs NAME and
# NAME-sidecar (the host name the mesh uses). The intermediate only permits
# those DNS names (plus $COTAI_PERMIT_DNS).
#
# Environment:
#   COTAI_SECRETS       output directory (default: deploy/secrets)
#   COTAI_TRUST_DOMAIN  SPIFFE trust domain (default: cotai.internal)
#   COTAI_WORKLOADS     names (default: "backend postgres redis mongo
#                       prometheus collector")
#   COTAI_PERMIT_DNS    extra DNS names the CA may certify (space separated)
#   COTAI_TTL           leaf lifetime (default: cotai-ca's, 7d)
#   COTAI_CA            the cotai-ca binary (default: build/cotai-ca, then PATH)
#   COTAI_CA_IMAGE      run cotai-ca from this image instead (docker/podman;
#                       COTAI_ENGINE picks one), secrets mounted at the same
#                       path so the directories cotai-ca records stay valid
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
uid=10001
db_gid=999

renew_all=0
case "${1:-}" in
--renew) renew_all=1 ;;
"") ;;
-h | --help)
	sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
	exit 0
	;;
*)
	echo "usage: $0 [--renew]" >&2
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
read -r -a names <<<"${COTAI_WORKLOADS:-backend postgres redis mongo prometheus collector}"

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

if [ ! -s "$S/ca/ca.crt" ]; then
	permit=()
	for n in "${names[@]}" ${COTAI_PERMIT_DNS:-}; do
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
# Renew whatever is due and refresh the CRL in every output directory.
ca renew --all --if-due

if [ ! -s "$S/db-password" ]; then
	umask 077
	head -c 32 /dev/urandom | base64 | tr -d '/+=\n' | head -c 32 \
	    >"$S/db-password"
fi
chown "$uid:$db_gid" "$S/db-password"
chmod 0440 "$S/db-password"

ca list
echo "certs: ready in $S"
