#!/usr/bin/env bash
# deploy/test/podman-net.sh: the "podman" that compose-test (ENGINE=podman)
# gives podman-compose 1.0.3 (--podman-path), for two things that version
# gets wrong in the shipped compose.yaml:
#  - `network_mode: service:X`: it passes `--network service:X` unchanged
#    (podman wants container:NAME) and then appends `--net NETS
#    --network-alias SERVICE`, which overrides it. Here, for `podman run`
#    or `create` with `--network service:X`, the network becomes
#    container:PROJECT_X_1 (podman-compose's name for X's container; the
#    project from its io.podman.compose.project label) and the appended
#    --net/--network-alias are dropped;
#  - network aliases (`networks: {mesh: {aliases: [A]}}`): ignored by it.
#    deploy/test/stack.py records them as the label
#    cotai.compose-test.aliases=A[,B...]; here each becomes
#    `--network-alias A` (podman gives an alias on every network of the
#    container: collector-sidecar's "collector" is also a name on
#    ca-collector-net, where only the CA is).
# Every other call is podman's own, unchanged.
set -euo pipefail
case "${1:-}" in
run | create) ;;
*) exec podman "$@" ;;
esac
proj='' share='' aliases=''
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
	case "${args[i]}" in
	io.podman.compose.project=*) proj=${args[i]#*=} ;;
	cotai.compose-test.aliases=*) aliases=${args[i]#*=} ;;
	--network)
		case "${args[i + 1]:-}" in
		service:*) share=${args[i + 1]#service:} ;;
		esac
		;;
	esac
done
if [ -n "$share" ] && [ -z "$proj" ]; then
	echo "podman-net.sh: --network service:$share without an" \
	    "io.podman.compose.project label" >&2
	exit 2
fi
out=()
for ((i = 0; i < ${#args[@]}; i++)); do
	a=${args[i]}
	if [ -n "$share" ]; then
		case "$a" in
		--network)
			out+=(--network "container:${proj}_${share}_1")
			i=$((i + 1))
			continue
			;;
		--net | --network-alias)
			i=$((i + 1))
			continue
			;;
		esac
	elif [ -n "$aliases" ] && [ "$a" = --network-alias ]; then
		out+=("$a" "${args[i + 1]}")
		IFS=, read -ra al <<<"$aliases"
		for x in "${al[@]}"; do
			out+=(--network-alias "$x")
		done
		i=$((i + 1))
		continue
	fi
	out+=("$a")
done
exec podman "${out[@]}"
