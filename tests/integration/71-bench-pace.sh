#!/usr/bin/env bash
# bench/benchtool hol's optional pace (the hol-paced scenario of
# bench/run.sh): with BULK_MBS the bulk connection moves that many MB/s
# (a token bucket, two 64 KiB blocks of burst at most), without it as much
# as the loopback echo takes; a pace that is not a number >= 0 is a usage
# error. Built here as bench/lib.sh builds it; no proxy involved.
# itest: runs no cotai binary
# itest: alone (it asserts rates)
. "$(dirname "$0")/lib.sh"

src=$(cd "$(dirname "$0")/../.." && pwd)
BT=$T/benchtool
${CC:-cc} -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror -o "$BT" \
	"$src/bench/benchtool.c" "$src"/bench/bt_*.c ||
	fail "benchtool does not build"

spawn echo "$BT" echo "$T/echo.port"
wait_file "$T/echo.port"
port=$(cat "$T/echo.port")

# kv KEY FILE: the value of KEY in FILE's key=value line.
kv() { tr ' ' '\n' <"$2" | awk -F= -v k="$1" '$1 == k { print $2 }'; }

# 3000 round trips keep the bulk connection going for 0.3 s + their time.
"$BT" hol "$port" 3000 20 >"$T/paced.out" || fail "hol paced: exit $?"
"$BT" hol "$port" 3000 >"$T/unpaced.out" || fail "hol unpaced: exit $?"
"$BT" hol "$port" 3000 0 >"$T/zero.out" || fail "hol pace 0: exit $?"
paced=$(kv bulk_mbs "$T/paced.out")
unpaced=$(kv bulk_mbs "$T/unpaced.out")
zero=$(kv bulk_mbs "$T/zero.out")
for k in p50_idle_us p99_idle_us p50_bulk_us p99_bulk_us bulk_mbs; do
	assert_grep "(^| )$k=[0-9.]+( |\$)" "$T/paced.out" \
		"hol paced: no $k in: $(cat "$T/paced.out")"
done
# 20 MB/s: the bucket's burst (128 KiB) and a late start are < 1 MB/s
# over the run either way; the lower bound leaves room for a loaded
# machine's late wake-ups.
awk -v r="$paced" 'BEGIN { exit !(r >= 14 && r <= 22) }' ||
	fail "hol paced to 20 MB/s moved $paced MB/s"
# Unpaced (no argument or 0), loopback moves far more than that.
awk -v r="$unpaced" -v z="$zero" 'BEGIN { exit !(r > 60 && z > 60) }' ||
	fail "hol unpaced moved $unpaced MB/s, with pace 0 $zero MB/s"

# A pace that is not a number >= 0: usage, exit 2, nothing measured.
for bad in -5 abc; do
	rc=0
	"$BT" hol "$port" 10 "$bad" >"$T/bad.out" 2>&1 || rc=$?
	[ "$rc" = 2 ] || fail "hol pace '$bad': exit $rc, not 2"
	assert_grep '^usage: .*hol PORT COUNT \[BULK_MBS\]' "$T/bad.out"
done
echo "ok: hol paced $paced MB/s (asked 20), unpaced $unpaced, pace 0 $zero"
