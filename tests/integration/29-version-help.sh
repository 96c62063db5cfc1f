#!/usr/bin/env bash
# --version and -h of both programs. --version prints the Makefile's
# VERSION and the commit the binary was built from. -h must name every verb
# and every long option the programs really dispatch: the lists are taken
# from the sources (the verb table and strcmp(argv[1], ...) of the main.c
# files, every getopt_long table), so adding a verb or a flag without
# documenting it in the usage text fails here; and each verb -h names must
# be accepted by the binary (no usage line for a verb that is gone).
. "$(dirname "$0")/lib.sh"

src=$(cd "$(dirname "$0")/../.." && pwd)
version=$(sed -n 's/^VERSION := *//p' "$src/Makefile")
[ -n "$version" ] || fail "no VERSION in the Makefile"
commit_re='[0-9a-f]{7,40}(-dirty)?|unknown'
if git -C "$src" rev-parse HEAD >/dev/null 2>&1 &&
	[ -z "${COTAI_COMMIT:-}" ]; then
	commit_re="$(git -C "$src" rev-parse --short=12 HEAD)(-dirty)?"
fi

# --version (and -V): one line "PROG VERSION (commit C)", then libraries.
for prog in proxy ca; do
	bin=$COTAI_BUILD/cotai-$prog
	for flag in --version -V; do
		"$bin" $flag >"$T/$prog.version" 2>&1 ||
			fail "cotai-$prog $flag exited $?"
		head -n 1 "$T/$prog.version" >"$T/$prog.v1"
		assert_grep "^cotai-$prog ${version//./\\.} \\(commit ($commit_re)\\)\$" \
			"$T/$prog.v1" "cotai-$prog $flag: $(cat "$T/$prog.version")"
		assert_grep '^OpenSSL 3\.' "$T/$prog.version"
	done
done
assert_grep 'libevent 2\.[0-9.]+.*libyaml [0-9.]+' "$T/proxy.version"

# Long option names of every getopt_long table in FILES.
long_opts() {
	sed -nE 's/^[[:space:]]*\{"([a-z-]+)", *(no|required|optional)_argument.*/\1/p' "$@" |
		sort -u
}

# cotai-proxy: verbs are the strcmp(argv[1], "VERB") in main().
"$PROXY" -h >"$T/proxy.help" || fail "cotai-proxy -h exited $?"
"$PROXY" --help | cmp -s - "$T/proxy.help" || fail "-h and --help differ"
verbs=$(sed -nE 's/.*strcmp\(argv\[1\], "([a-z-]+)"\).*/\1/p' \
	"$src/proxy/main.c")
[ -n "$verbs" ] || fail "found no verb in proxy/main.c"
for v in $verbs; do
	assert_grep "^ +$v( |\$)" "$T/proxy.help" "cotai-proxy -h misses verb $v"
	"$PROXY" "$v" -h >"$T/proxy.$v.help" ||
		fail "cotai-proxy $v -h exited $?"
done
n=0
for o in $(long_opts "$src/proxy/main.c"); do
	assert_grep "--$o([] ,=:)]|\$)" "$T/proxy.help" \
		"cotai-proxy -h misses --$o"
	n=$((n + 1))
done
[ $n -ge 7 ] || fail "found only $n long options in proxy/main.c"
# Usage errors go to stderr with status 2.
rc=0
"$PROXY" --no-such-flag >"$T/bad.out" 2>"$T/bad.err" || rc=$?
[ $rc -eq 2 ] || fail "cotai-proxy --no-such-flag exited $rc, not 2"
assert_grep '^usage: cotai-proxy' "$T/bad.err"

# cotai-ca: verbs are the {"VERB", ca_cmd_...} rows of main_verbs; every
# verb's options are listed in the top-level -h too.
"$CA" -h >"$T/ca.help" || fail "cotai-ca -h exited $?"
verbs=$(sed -nE 's/^[[:space:]]*\{"([a-z-]+)", *ca_cmd_[a-z_]+\},.*/\1/p' \
	"$src/ca/main.c")
[ "$(echo "$verbs" | wc -w)" -ge 8 ] || fail "verb table not found: $verbs"
for v in $verbs; do
	assert_grep "^  $v( |\$)" "$T/ca.help" "cotai-ca -h misses verb $v"
done
# Conversely, each verb -h lists is dispatched (its own --help works).
for v in $(sed -nE '/^verbs:/,/^$/s/^  ([a-z-]+)( .*)?$/\1/p' "$T/ca.help"); do
	echo "$verbs" | grep -qx "$v" || fail "cotai-ca -h lists $v, not a verb"
	"$CA" "$v" --help >"$T/ca.$v.help" 2>&1 ||
		fail "cotai-ca $v --help exited $?: $(cat "$T/ca.$v.help")"
	assert_grep "^usage: cotai-ca .*$v" "$T/ca.$v.help"
done
n=0
for o in $(long_opts "$src"/ca/*.c); do
	# init's --passphrase exists only to refuse a passphrase in argv.
	[ "$o" = passphrase ] && continue
	[ "$o" = help ] && { assert_grep '--help' "$T/ca.help"; continue; }
	assert_grep "--$o([] ,=:)]|\$)" "$T/ca.help" "cotai-ca -h misses --$o"
	n=$((n + 1))
done
[ $n -ge 12 ] || fail "found only $n long options in ca/*.c"
for o in --dir --version; do
	assert_grep "$o" "$T/ca.help" "cotai-ca -h misses $o"
done
echo ok
