#!/bin/sh
# Make sure the Debian packages of the named groups (see mk/packages) are
# installed. As root, apt-get installs exactly the missing ones; otherwise the
# one command to run is printed and the script fails.
set -eu
here=$(dirname "$0")
[ $# -gt 0 ] || set -- build
missing=""
for group in "$@"; do
	for pkg in $(awk -v g="$group" '$1 == g { print $2 }' "$here/packages"); do
		st=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
		[ "$st" = installed ] || missing="$missing $pkg"
	done
done
[ -n "$missing" ] || exit 0
if [ "$(id -u)" -ne 0 ]; then
	echo "deps: missing Debian packages:$missing" >&2
	echo "deps: run: sudo apt-get install -y$missing" >&2
	exit 1
fi
echo "deps: installing:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get -o DPkg::Lock::Timeout=600 update -qq
# shellcheck disable=SC2086
apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends $missing >&2
