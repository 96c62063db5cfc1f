#!/usr/bin/env bash
# `make scan`: deploy/scan/scan.py over the images of the stack, with a
# Docker Engine started for it (deploy/test/dockerd.sh) when ENGINE is
# docker and none answers, and stopped again after. Arguments are passed
# to scan.py; the images come from SCAN_IMAGES, else from the image: keys
# of deploy/compose.yaml (${VAR:-default} taken as its default).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
ENGINE=${ENGINE:-docker}
images=${SCAN_IMAGES:-$(sed -nE 's/^[[:space:]]*image:[[:space:]]*//p' \
	"$root/deploy/compose.yaml" | sed -E 's/\$\{[A-Za-z_]+:-([^}]*)\}/\1/' |
	tr -d '"' | sort -u)}
[ -n "$images" ] || { echo "make scan: no images" >&2; exit 2; }

state=""
if [ "$ENGINE" = docker ] && ! timeout 10 docker info >/dev/null 2>&1; then
	state=$(mktemp -d "${TMPDIR:-/tmp}/cotai-scan-dockerd.XXXXXX")
	"$root/deploy/test/dockerd.sh" start "$state"
	trap '"$root/deploy/test/dockerd.sh" stop "$state"; rm -rf "$state"' EXIT
fi
# shellcheck disable=SC2086
"$here/scan.py" --engine "$ENGINE" "$@" $images
