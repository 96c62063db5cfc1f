#!/usr/bin/env bash
# `make scan`: deploy/scan/scan.py over the images of the stack, with a
# Docker Engine started for it (deploy/test/dockerd.sh) when ENGINE is
# docker and none answers, and stopped again after. Arguments are passed
# to scan.py. The images, first found of:
#   SCAN_IMAGES   given by hand (the no-shell image: SCAN_NO_SHELL, else
#                 COTAI_IMAGE, else cotai:dev);
#   SCAN_RECORD   the record deploy/test/images.sh writes of the images it
#                 built, default $COTAI_CACHE/images-ENGINE-compose-test.env
#                 (so after `make compose-test` exactly the images the stack
#                 ran): every image in it but COTAI_BUILD_BASE (a build
#                 stage only), COTAI_IMAGE the no-shell one; a tag that
#                 names another image than the ID recorded is refused;
#   the image: keys of deploy/compose.yaml (${VAR:-default} taken as its
#                 default), for a deployment built and pulled by hand.
# An image that does not exist is reported NOT SCANNED, exit status 2.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
ENGINE=${ENGINE:-docker}
record=${SCAN_RECORD:-${COTAI_CACHE:-/var/cache/cotai}/images-$ENGINE-compose-test.env}
no_shell=${SCAN_NO_SHELL:-}
from_record=0
if [ -n "${SCAN_IMAGES:-}" ]; then
	images=$SCAN_IMAGES
	from="SCAN_IMAGES"
	no_shell=${no_shell:-${COTAI_IMAGE:-cotai:dev}}
elif [ -n "${SCAN_RECORD:-}" ] || [ -e "$record" ]; then
	[ -r "$record" ] || { echo "make scan: cannot read $record" >&2; exit 2; }
	# KEY=REFERENCE lines only; read, never sourced.
	images=$(sed -nE '/^COTAI_BUILD_BASE=/d; s/^[A-Z_]+=([^[:space:]]+)$/\1/p' \
	    "$record" | sort -u)
	cotai=$(sed -nE 's/^COTAI_IMAGE=([^[:space:]]+)$/\1/p' "$record")
	[ -n "$cotai" ] || { echo "make scan: $record has no COTAI_IMAGE" >&2; exit 2; }
	no_shell=${no_shell:-$cotai}
	from_record=1
	from="$record ($(date -u -r "$record" '+%F %T UTC'))"
else
	images=$(sed -nE 's/^[[:space:]]*image:[[:space:]]*//p' \
	    "$root/deploy/compose.yaml" | sed -E 's/\$\{[A-Za-z_]+:-([^}]*)\}/\1/' |
	    tr -d '"' | sort -u)
	from="deploy/compose.yaml's image: names ($record does not exist)"
	no_shell=${no_shell:-${COTAI_IMAGE:-cotai:dev}}
fi
[ -n "$images" ] || { echo "make scan: no images in $from" >&2; exit 2; }
echo "make scan: images from $from: $(printf '%s' "$images" | tr '\n' ' ')" >&2

state=""
if [ "$ENGINE" = docker ] && ! timeout 10 docker info >/dev/null 2>&1; then
	state=$(mktemp -d "${TMPDIR:-/tmp}/cotai-scan-dockerd.XXXXXX")
	"$root/deploy/test/dockerd.sh" start "$state"
	trap '"$root/deploy/test/dockerd.sh" stop "$state"; rm -rf "$state"' EXIT
fi
# A recorded image whose tag now names another image (a later build
# retagged it) is not the one the stack ran: refused, not scanned.
if [ "$from_record" = 1 ]; then
	stale=0
	for i in $images; do
		want=$(sed -nE "s|^# $i (sha256:[0-9a-f]+)\$|\1|p" "$record" | head -n1)
		[ -n "$want" ] || continue
		now=$("$ENGINE" image inspect -f '{{.Id}}' "$i" 2>/dev/null) || continue
		[ "$now" = "$want" ] || {
			echo "make scan: $i is now $now, not $want as recorded in $record:" \
			    "rebuilt since (make compose-test again)" >&2
			stale=1
		}
	done
	[ $stale = 0 ] || exit 2
fi
ns=()
for i in $no_shell; do ns+=(--no-shell "$i"); done
# shellcheck disable=SC2086
"$here/scan.py" --engine "$ENGINE" "${ns[@]}" "$@" $images
