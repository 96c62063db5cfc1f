#!/bin/sh
# Run one libFuzzer target for a bounded time over a scratch copy of its
# committed seed corpus (see README.md; `make fuzz` calls this).
#   tests/fuzz/run.sh FUZZ_DIR TARGET SECONDS [libFuzzer options...]
# New inputs go to FUZZ_DIR/corpus/TARGET, crashes to FUZZ_DIR/artifacts/
# TARGET, the whole log to FUZZ_DIR/TARGET.log. Exits non-zero when the
# target fails (crash, leak, timeout, failed check).
set -u
dir=$1 t=$2 secs=$3
shift 3
corpus=$dir/corpus/$t
art=$dir/artifacts/$t
log=$dir/$t.log
mkdir -p "$corpus" "$art"
cp tests/fuzz/corpus/"$t"/* "$corpus"/
echo "fuzz: $t for ${secs}s"
"$dir/fuzz_$t" -max_total_time="$secs" -timeout=10 -print_final_stats=1 \
	-artifact_prefix="$art/" "$@" "$corpus" </dev/null >"$log" 2>&1
rc=$?
grep -E '^#[0-9]+.*(INITED|DONE)|stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)' \
	"$log" | sed "s/^/fuzz: $t: /"
if [ $rc -ne 0 ]; then
	tail -n 40 "$log"
	echo "fuzz: $t FAILED (log $log, inputs in $art/)"
fi
exit $rc
