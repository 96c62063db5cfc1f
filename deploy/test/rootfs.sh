#!/usr/bin/env bash
# deploy/test/rootfs.sh IMAGE PACKAGE...: make sure the local podman image
# IMAGE:<hash> exists, built from a Debian 12 minbase root filesystem with
# PACKAGE... installed (debootstrap from the Debian mirror apt already uses).
# The tarball is cached in $COTAI_CACHE (default /var/cache/cotai) so reruns
# skip debootstrap; the image tag is a hash of the package list, so changing
# the list builds a new one. Prints the full image reference on stdout.
# Needs root, debootstrap and podman.
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: $0 IMAGE PACKAGE..." >&2; exit 2; }
name=$1
shift
cache=${COTAI_CACHE:-/var/cache/cotai}
suite=bookworm
mirror=${COTAI_DEBIAN_MIRROR:-}
if [ -z "$mirror" ]; then
	# The first Debian mirror apt is configured with (deb822 or one-line).
	mirror=$({ grep -rhoE 'https?://[^ ]*/debian/?( |$)' \
	    /etc/apt/sources.list.d/ /etc/apt/sources.list 2>/dev/null ||
	    true; } | head -n1 | tr -d ' ')
	mirror=${mirror:-http://deb.debian.org/debian}
fi
pkgs=$(printf '%s\n' "$@" | sort -u | paste -sd, -)
tag=$(printf '%s %s' "$suite" "$pkgs" | sha256sum | cut -c1-12)
ref=localhost/$name:$tag
if podman image exists "$ref"; then
	echo "$ref"
	exit 0
fi
mkdir -p "$cache"
tarball=$cache/$name-$tag.tar
if [ ! -s "$tarball" ]; then
	dir=$(mktemp -d "$cache/rootfs.XXXXXX")
	chmod 0755 "$dir" # the image's / must not be 0700
	trap 'rm -rf "$dir"' EXIT
	echo "rootfs: debootstrap $name ($pkgs) from $mirror" >&2
	start=$(date +%s)
	debootstrap --variant=minbase --include="$pkgs" "$suite" "$dir" \
	    "$mirror" >"$cache/$name-$tag.debootstrap.log" 2>&1 || {
		tail -n 20 "$cache/$name-$tag.debootstrap.log" >&2
		exit 1
	}
	# Smaller image: no apt lists or caches, no docs.
	rm -rf "$dir"/var/lib/apt/lists/* "$dir"/var/cache/apt/*.bin \
	    "$dir"/var/cache/apt/archives/*.deb "$dir"/usr/share/doc \
	    "$dir"/usr/share/man "$dir"/usr/share/locale
	tar -C "$dir" --numeric-owner -cf "$tarball.tmp" .
	mv "$tarball.tmp" "$tarball"
	echo "rootfs: $name built in $(($(date +%s) - start)) s" >&2
fi
podman import --change 'CMD ["/bin/bash"]' "$tarball" "$ref" >/dev/null
echo "$ref"
