#!/usr/bin/env bash
# deploy/test/dockerd.sh start|stop [STATE_DIR]: a Docker Engine for the
# tests, started only when none answers, and stopped (with the host's
# network state put back as it was) only when this script started it.
#
#   start  installs docker.io if missing (apt-get), and when no engine
#          answers `docker info`: records the host's network state
#          (net.ipv4.ip_forward, the iptables rules, the network links),
#          starts dockerd with its default flags in the background (log in
#          STATE_DIR/dockerd.log, PID in STATE_DIR/dockerd.pid) and waits
#          for it to answer. An engine that already answers is left alone.
#   stop   only if STATE_DIR/dockerd.pid exists (this script started it):
#          SIGTERM to that PID (dockerd stops its containerd and proxies),
#          waits up to 30 s (then SIGKILL), then restores what dockerd
#          changed and does not undo itself: ip_forward, the iptables
#          rules (FORWARD policy DROP, the DOCKER chains) and the bridges
#          and veths it created (docker0, docker_gwbridge, br-*).
#          /var/lib/docker (images, the build cache) stays: it is a cache.
#
# STATE_DIR defaults to /run/cotai-dockerd. Exit status 0 on success.
set -euo pipefail
cmd=${1:-}
S=${2:-/run/cotai-dockerd}

say() { echo "dockerd.sh: $*" >&2; }
answers() { timeout 10 docker info >/dev/null 2>&1; }

links() { ip -o link show 2>/dev/null | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }' | sort; }

start() {
	[ "$(id -u)" -eq 0 ] || { say "run as root"; return 1; }
	if ! command -v dockerd >/dev/null 2>&1; then
		say "installing docker.io"
		export DEBIAN_FRONTEND=noninteractive
		apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
		    --no-install-recommends docker.io >&2 || {
			apt-get -o DPkg::Lock::Timeout=600 update -qq >&2
			apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
			    --no-install-recommends docker.io >&2
		}
	fi
	if answers; then
		say "an engine already answers: using it, leaving it running"
		return 0
	fi
	if [ -s "$S/dockerd.pid" ] && kill -0 "$(cat "$S/dockerd.pid")" 2>/dev/null; then
		say "dockerd $(cat "$S/dockerd.pid") of an earlier start does not answer"
		return 1
	fi
	mkdir -p "$S"
	chmod 0700 "$S"
	sysctl -n net.ipv4.ip_forward >"$S/ip_forward"
	if command -v iptables-save >/dev/null 2>&1; then
		iptables-save >"$S/iptables" 2>/dev/null || : >"$S/iptables"
	else
		: >"$S/iptables"
	fi
	links >"$S/links"
	# setsid: the engine is not in the caller's process group, so a ^C to
	# the test does not kill it half-way; stop() ends it by PID.
	setsid dockerd >"$S/dockerd.log" 2>&1 </dev/null &
	echo $! >"$S/dockerd.pid"
	local t=0
	until answers; do
		if ! kill -0 "$(cat "$S/dockerd.pid")" 2>/dev/null; then
			tail -n 20 "$S/dockerd.log" >&2
			say "dockerd exited"
			stop
			return 1
		fi
		t=$((t + 1))
		if [ $t -ge 120 ]; then
			tail -n 20 "$S/dockerd.log" >&2
			say "dockerd did not answer within 60 s"
			stop
			return 1
		fi
		sleep 0.5
	done
	say "started dockerd $(cat "$S/dockerd.pid") ($(docker version -f '{{.Server.Version}}' 2>/dev/null))"
}

stop() {
	if [ ! -s "$S/dockerd.pid" ]; then
		say "no dockerd started by this script: nothing to stop"
		return 0
	fi
	local pid t=0
	pid=$(cat "$S/dockerd.pid")
	if kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid"
		while kill -0 "$pid" 2>/dev/null && [ $t -lt 60 ]; do
			sleep 0.5
			t=$((t + 1))
		done
		if kill -0 "$pid" 2>/dev/null; then
			say "dockerd $pid still running after 30 s: SIGKILL"
			kill -KILL "$pid" 2>/dev/null || true
		fi
	fi
	# The network state as it was before start.
	if [ -f "$S/ip_forward" ]; then
		sysctl -q -w "net.ipv4.ip_forward=$(cat "$S/ip_forward")" || true
	fi
	if command -v iptables >/dev/null 2>&1; then
		local tb
		for tb in filter nat; do
			iptables -t "$tb" -F 2>/dev/null || true
			iptables -t "$tb" -X 2>/dev/null || true
		done
		for ch in INPUT FORWARD OUTPUT; do
			iptables -t filter -P "$ch" ACCEPT 2>/dev/null || true
		done
		if [ -s "$S/iptables" ]; then
			iptables-restore <"$S/iptables" || say "iptables-restore failed"
		elif command -v nft >/dev/null 2>&1; then
			# There were no tables at all: remove the empty ones too.
			nft delete table ip filter 2>/dev/null || true
			nft delete table ip nat 2>/dev/null || true
		fi
	fi
	if [ -f "$S/links" ]; then
		local l
		for l in $(links | comm -13 "$S/links" -); do
			case "$l" in
			docker0 | docker_gwbridge | br-* | veth*)
				ip link delete "$l" 2>/dev/null || true
				;;
			esac
		done
	fi
	say "stopped dockerd $pid; network state restored"
	rm -f "$S/dockerd.pid" "$S/ip_forward" "$S/iptables" "$S/links" \
	    "$S/dockerd.log"
	rmdir "$S" 2>/dev/null || true
}

case "$cmd" in
start) start ;;
stop) stop ;;
*)
	echo "usage: $0 start|stop [STATE_DIR]" >&2
	exit 2
	;;
esac
