#!/usr/bin/env bash
# deploy/test/images.sh ENGINE [TAG]: the images of the test stack, built
# here in ENGINE (docker or podman) without any registry:
#
#   localhost/cotai-build-base:H  Debian 12 minbase + the build packages
#   localhost/cotai-test-base:H   Debian 12 minbase + PostgreSQL 15, Redis 7,
#                                 Python and its client libraries (the
#                                 databases, the backend's base, the probes)
#       both made by rootfs.sh (debootstrap, bookworm-updates and
#       bookworm-security applied, cached in $COTAI_CACHE)
#   localhost/cotai:TAG           deploy/Dockerfile, BUILD_BASE the above
#   localhost/cotai-backend:TAG   deploy/backend, BASE the test base
#   localhost/cotai-ops-base:H    Debian 12 minbase + prometheus, rsyslog,
#                                 rsyslog-openssl (rootfs.sh likewise)
#   localhost/cotai-prometheus:TAG  deploy/prometheus, BASE the ops base
#   localhost/cotai-collector:TAG   deploy/collector, BASE the ops base
#
# TAG defaults to compose-test. The cotai image is built from the sources
# of the last commit (COMPOSE_TEST_SOURCE=worktree: the working tree as it
# is), with --build-arg COTAI_COMMIT for its --version. Checks that the
# cotai image has no shell and runs as 10001:10001. Progress goes to
# stderr; stdout gets the references as shell assignments (COTAI_IMAGE,
# COTAI_BACKEND_IMAGE, COTAI_BUILD_BASE, COTAI_TEST_BASE,
# COTAI_PROMETHEUS_IMAGE, COTAI_COLLECTOR_IMAGE) to eval, all of them
# also recorded with their image IDs in $COTAI_CACHE/images-ENGINE-TAG.env,
# where `make scan` reads the images the stack runs. The test base runs as nobody (65534) unless a
# service names its user.
# Needs root and debootstrap.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
repo=$(cd "$here/.." && pwd)
engine=${1:-}
tag=${2:-compose-test}
case "$engine" in
docker | podman) ;;
*) echo "usage: $0 docker|podman [TAG]" >&2; exit 2 ;;
esac
export ENGINE=$engine
T0=$(date +%s)
TEST_PKGS="libssl3 libevent-2.1-7 libevent-openssl-2.1-7 libevent-pthreads-2.1-7 libnghttp2-14
libyaml-0-2 postgresql-15 postgresql-client-15 redis-server redis-tools
python3 python3-psycopg2 python3-redis python3-pymongo openssl"
BUILD_PKGS="gcc make pkg-config libc6-dev libssl-dev libevent-dev libyaml-dev libnghttp2-dev"
OPS_PKGS="prometheus rsyslog rsyslog-openssl"
say() { echo "images.sh: $*" >&2; }
fail() { say "FAIL: $*"; exit 1; }
W=$(mktemp -d /tmp/cotai-images.XXXXXX)
trap 'rm -rf "$W"' EXIT

command -v debootstrap >/dev/null 2>&1 || fail "debootstrap is not installed"
# The bases in parallel (each takes about two minutes the first time).
# shellcheck disable=SC2086
"$here/test/rootfs.sh" cotai-build-base $BUILD_PKGS >"$W/base-build" &
b1=$!
# shellcheck disable=SC2086
ROOTFS_USER=65534:65534 "$here/test/rootfs.sh" cotai-test-base $TEST_PKGS >"$W/base-test" &
b2=$!
# shellcheck disable=SC2086
"$here/test/rootfs.sh" cotai-ops-base $OPS_PKGS >"$W/base-ops" &
b3=$!
wait $b1 || fail "the build base"
wait $b2 || fail "the test base"
wait $b3 || fail "the ops base (prometheus, rsyslog)"
build_base=$(cat "$W/base-build")
test_base=$(cat "$W/base-test")
ops_base=$(cat "$W/base-ops")
say "bases: $build_base $test_base $ops_base ($(($(date +%s) - T0)) s)"

# The sources: the last commit (a tree others are editing may not compile
# at this moment), or the working tree. Only what deploy/Dockerfile copies,
# so the context is small for every builder (the legacy docker builder
# ignores deploy/Dockerfile.dockerignore).
ctx=$W/src
mkdir -p "$ctx"
commit=unknown
if [ "${COMPOSE_TEST_SOURCE:-head}" = head ] &&
    git -C "$repo" rev-parse --verify -q HEAD >/dev/null 2>&1; then
	git -C "$repo" archive --format=tar HEAD Makefile mk lib config proxy ca |
	    tar -x -C "$ctx"
	commit=$(git -C "$repo" rev-parse --short=12 HEAD)
	say "sources: commit $commit (COMPOSE_TEST_SOURCE=worktree for the working tree)"
else
	tar -C "$repo" --exclude='build*' -cf - Makefile mk lib config proxy ca |
	    tar -x -C "$ctx"
	if c=$(git -C "$repo" rev-parse --short=12 HEAD 2>/dev/null); then
		commit=$c
		git -C "$repo" diff --quiet HEAD 2>/dev/null || commit=$c-dirty
	fi
	say "sources: the working tree ($commit)"
fi
fmt=()
[ "$engine" = docker ] || fmt=(--format docker)
t=$(date +%s)
"$engine" build -q "${fmt[@]}" --build-arg BUILD_BASE="$build_base" \
    --build-arg COTAI_COMMIT="$commit" -f "$here/Dockerfile" \
    -t "localhost/cotai:$tag" "$ctx" >"$W/build-cotai.log" 2>&1 ||
    { tail -n 30 "$W/build-cotai.log" >&2; fail "building deploy/Dockerfile"; }
say "localhost/cotai:$tag: $("$engine" image inspect -f '{{.Size}}' \
    "localhost/cotai:$tag" | awk '{ printf "%.1f MB", $1 / 1e6 }')" \
    "($(($(date +%s) - t)) s)"
t=$(date +%s)
"$engine" build -q "${fmt[@]}" --build-arg BASE="$test_base" \
    -t "localhost/cotai-backend:$tag" "$here/backend" >"$W/build-backend.log" 2>&1 ||
    { tail -n 30 "$W/build-backend.log" >&2; fail "building deploy/backend"; }
say "localhost/cotai-backend:$tag ($(($(date +%s) - t)) s)"
for img in prometheus collector; do
	t=$(date +%s)
	"$engine" build -q "${fmt[@]}" --build-arg BASE="$ops_base" \
	    -t "localhost/cotai-$img:$tag" "$here/$img" >"$W/build-$img.log" 2>&1 ||
	    { tail -n 30 "$W/build-$img.log" >&2; fail "building deploy/$img"; }
	# Neither runs as root.
	[ "$("$engine" image inspect -f '{{.Config.User}}' "localhost/cotai-$img:$tag")" = \
	    "10001:10001" ] || fail "localhost/cotai-$img:$tag does not run as 10001"
	say "localhost/cotai-$img:$tag ($(($(date +%s) - t)) s)"
done
# The runtime image has no shell at all, and does not run as root.
if "$engine" run --rm --entrypoint /bin/sh "localhost/cotai:$tag" -c true \
    >/dev/null 2>&1; then
	fail "the cotai image has a shell"
fi
[ "$("$engine" image inspect -f '{{.Config.User}}' "localhost/cotai:$tag")" = \
    "10001:10001" ] || fail "the cotai image does not run as 10001"
say "done in $(($(date +%s) - T0)) s"
printf 'COTAI_IMAGE=%s\nCOTAI_BACKEND_IMAGE=%s\nCOTAI_BUILD_BASE=%s\nCOTAI_TEST_BASE=%s\n' \
    "localhost/cotai:$tag" "localhost/cotai-backend:$tag" "$build_base" \
    "$test_base" >"$W/images.env"
printf 'COTAI_PROMETHEUS_IMAGE=%s\nCOTAI_COLLECTOR_IMAGE=%s\n' \
    "localhost/cotai-prometheus:$tag" "localhost/cotai-collector:$tag" \
    >>"$W/images.env"
# The record: the same lines, and "# REFERENCE ID" of each, so make scan
# can tell when a tag names another image since (another run retagged it).
record=${COTAI_CACHE:-/var/cache/cotai}/images-$engine-$tag.env
cp "$W/images.env" "$record.tmp"
while IFS='=' read -r _ ref; do
	printf '# %s %s\n' "$ref" "$("$engine" image inspect -f '{{.Id}}' "$ref")"
done <"$W/images.env" >>"$record.tmp"
mv "$record.tmp" "$record"
cat "$W/images.env"
