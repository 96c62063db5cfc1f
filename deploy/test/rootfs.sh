#!/usr/bin/env bash
# deploy/test/rootfs.sh IMAGE PACKAGE...: make sure the local image
# localhost/IMAGE:<hash> exists in the engine $ENGINE (docker or podman,
# default podman), made from a Debian 12 minbase root filesystem with
# PACKAGE... installed (debootstrap from the Debian mirror apt already
# uses) and brought up to date with bookworm-updates and bookworm-security
# (the image's apt sources name all three, so `apt-get update && apt-get
# upgrade` inside it works too).
# The tarball is cached in $COTAI_CACHE (default /var/cache/cotai) so reruns
# skip debootstrap; a tarball older than $COTAI_ROOTFS_MAX_AGE days (default
# 7) is made again, so security updates keep arriving. The image tag is a
# hash of the package list, so changing the list builds a new one. Prints
# the full image reference on stdout. Needs root and debootstrap.
#
# Hardened for `make scan` (deploy/scan/): no file keeps a setuid or setgid
# bit (su, passwd, mount... are never used in a container, and a process
# that gains no privilege from them cannot abuse them either), no path is
# world-writable unless it is a sticky directory (/tmp), and with
# ROOTFS_USER=UID:GID the image runs as that user unless told otherwise
# (a Dockerfile FROM it says USER root for its RUN steps).
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: [ENGINE=docker|podman] $0 IMAGE PACKAGE..." >&2; exit 2; }
name=$1
shift
engine=${ENGINE:-podman}
case "$engine" in
docker | podman) ;;
*) echo "rootfs.sh: ENGINE must be docker or podman, not '$engine'" >&2; exit 2 ;;
esac
cache=${COTAI_CACHE:-/var/cache/cotai}
max_age=${COTAI_ROOTFS_MAX_AGE:-7}
suite=bookworm
# first_uri REGEX DEFAULT: the first apt source URI matching REGEX.
first_uri() {
	local u
	u=$({ grep -rhoE "$1" /etc/apt/sources.list.d/ /etc/apt/sources.list \
	    2>/dev/null || true; } | head -n1 | tr -d ' ')
	echo "${u:-$2}"
}
mirror=${COTAI_DEBIAN_MIRROR:-$(first_uri 'https?://[^ ]*/debian/?( |$)' \
    http://deb.debian.org/debian)}
security=${COTAI_DEBIAN_SECURITY_MIRROR:-$(first_uri \
    'https?://[^ ]*/debian-security/?( |$)' http://deb.debian.org/debian-security)}
pkgs=$(printf '%s\n' "$@" | sort -u | paste -sd, -)
user=${ROOTFS_USER:-}
case "$user" in
'' | [0-9]*:[0-9]*) ;;
*) echo "rootfs.sh: ROOTFS_USER must be UID:GID, not '$user'" >&2; exit 2 ;;
esac
tag=$(printf '%s %s +updates +security +nosuid user=%s' "$suite" "$pkgs" \
    "$user" | sha256sum | cut -c1-12)
ref=localhost/$name:$tag
tarball=$cache/$name-$tag.tar
exists() { "$engine" image inspect "$ref" >/dev/null 2>&1; }
# A stale tarball goes, and with it the image made from it.
if [ -s "$tarball" ] && [ -n "$(find "$tarball" -mtime +"$max_age")" ]; then
	echo "rootfs: $tarball is older than $max_age days: making it again" >&2
	rm -f "$tarball"
	! exists || "$engine" rmi "$ref" >/dev/null 2>&1 || true
fi
if [ -s "$tarball" ] && exists; then
	echo "$ref"
	exit 0
fi
mkdir -p "$cache"
if [ ! -s "$tarball" ]; then
	dir=$(mktemp -d "$cache/rootfs.XXXXXX")
	chmod 0755 "$dir" # the image's / must not be 0700
	trap 'umount "$dir/proc" 2>/dev/null || true; rm -rf "$dir"' EXIT
	log=$cache/$name-$tag.debootstrap.log
	echo "rootfs: debootstrap $name ($pkgs) from $mirror" >&2
	start=$(date +%s)
	debootstrap --variant=minbase --include="$pkgs" "$suite" "$dir" \
	    "$mirror" >"$log" 2>&1 || {
		tail -n 20 "$log" >&2
		exit 1
	}
	# Updates: the point releases' and the security archive's.
	cat >"$dir/etc/apt/sources.list" <<SRC
deb $mirror $suite main
deb $mirror $suite-updates main
deb $security $suite-security main
SRC
	# No service starts inside the chroot while packages are upgraded.
	printf '#!/bin/sh\nexit 101\n' >"$dir/usr/sbin/policy-rc.d"
	chmod 0755 "$dir/usr/sbin/policy-rc.d"
	mount -t proc proc "$dir/proc"
	{
		chroot "$dir" apt-get update &&
		    DEBIAN_FRONTEND=noninteractive chroot "$dir" apt-get \
		    -y -o Dpkg::Options::=--force-confold upgrade &&
		    chroot "$dir" apt-get -s upgrade
	} >>"$log" 2>&1 || {
		tail -n 20 "$log" >&2
		echo "rootfs: apt-get upgrade in $name failed (log: $log)" >&2
		exit 1
	}
	umount "$dir/proc"
	grep -E '^Inst ' "$log" >&2 && {
		echo "rootfs: packages left to upgrade in $name" >&2
		exit 1
	}
	echo "rootfs: $name: $(grep -c '^Setting up' "$log" || true) packages" \
	    "upgraded from $suite-updates and $suite-security" >&2
	rm -f "$dir/usr/sbin/policy-rc.d"
	# No setuid/setgid file, no world-writable path but sticky directories.
	# (/dev, /proc, /sys of the chroot are the engine's in a container).
	skip=(\( -path "$dir/dev" -o -path "$dir/proc" -o -path "$dir/sys" \) -prune -o)
	find "$dir" -xdev "${skip[@]}" -type f -perm /6000 -printf \
	    'rootfs: %p: setuid/setgid bits removed (%m)\n' -exec chmod ug-s {} + >>"$log"
	find "$dir" -xdev "${skip[@]}" \( -type f -o -type d \) -perm -0002 \
	    ! \( -type d -perm -1000 \) -printf \
	    'rootfs: %p: no longer world-writable (%m)\n' -exec chmod o-w {} + >>"$log"
	echo "rootfs: $name: $(grep -c ': setuid/setgid bits removed' "$log" || true)" \
	    "setuid/setgid files stripped" >&2
	# Smaller image: no apt lists or caches, no docs.
	rm -rf "$dir"/var/lib/apt/lists/* "$dir"/var/cache/apt/*.bin \
	    "$dir"/var/cache/apt/archives/*.deb "$dir"/usr/share/doc \
	    "$dir"/usr/share/man "$dir"/usr/share/locale
	tar -C "$dir" --numeric-owner -cf "$tarball.tmp" .
	mv "$tarball.tmp" "$tarball"
	echo "rootfs: $name built in $(($(date +%s) - start)) s" >&2
fi
change=(--change 'CMD ["/bin/bash"]')
[ -z "$user" ] || change+=(--change "USER $user")
"$engine" import "${change[@]}" "$tarball" "$ref" >/dev/null
echo "$ref"
