#!/bin/sh
# Runs every test of `make check` and ends with one summary line:
#   unit tests (cmocka, sanitizer build), the fuzz seed corpora replayed,
#   the black-box suite against the sanitizer build and the gcc build.
# Exits non-zero when anything failed.
set -u
cd "$(dirname "$0")/.."

passed=0
failed=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT
export ASAN_OPTIONS="abort_on_error=0:detect_leaks=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"

echo "== unit tests"
for t in build/unit/test_*; do
	if "$t" >"$log" 2>&1; then :; else
		cat "$log"
	fi
	p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log")
	f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$log")
	[ -z "$p" ] && [ -z "$f" ] && f=1
	echo "$(basename "$t"): ${p:-0} passed, ${f:-0} failed"
	passed=$((passed + ${p:-0}))
	failed=$((failed + ${f:-0}))
done

echo "== fuzz seed corpora"
for fz in build/fuzz/fuzz_*; do
	name=$(basename "$fz")
	n=$(ls "fuzz/corpus/$name" | wc -l)
	if "$fz" -runs=0 "fuzz/corpus/$name" >"$log" 2>&1; then
		echo "$name: $n inputs replayed"
		passed=$((passed + n))
	else
		cat "$log"
		echo "$name: FAILED"
		failed=$((failed + 1))
	fi
done

run_pytest() {
	label=$1
	shift
	bin=$1
	where=$2
	shift 2
	echo "== black-box tests ($label)"
	WEBJOBS_BIN=$bin /usr/bin/python3 -m pytest -q -p no:cacheprovider "$@" "$where" >"$log" 2>&1
	tail -n 25 "$log" | grep -v '^$' | tail -n 12
	line=$(tail -n 1 "$log")
	p=$(echo "$line" | sed -n 's/.* \([0-9]*\) passed.*/\1/p; s/^\([0-9]*\) passed.*/\1/p' | head -n 1)
	f=$(echo "$line" | sed -n 's/.* \([0-9]*\) failed.*/\1/p; s/^\([0-9]*\) failed.*/\1/p' | head -n 1)
	e=$(echo "$line" | sed -n 's/.* \([0-9]*\) error.*/\1/p' | head -n 1)
	sk=$(echo "$line" | sed -n 's/.* \([0-9]*\) skipped.*/\1/p; s/^\([0-9]*\) skipped.*/\1/p' | head -n 1)
	[ -z "$p" ] && [ -z "$f" ] && [ -z "$e" ] && [ -z "$sk" ] && f=1
	passed=$((passed + ${p:-0}))
	failed=$((failed + ${f:-0} + ${e:-0}))
}
run_pytest "ASan+UBSan build" build/asan/webjobs tests/integration
# The optimised build again, but for the randomized, kill -9 and browser
# tests: they are there for the sanitizer (and the browser's side does not
# depend on the build); the 10-minute budget of make check keeps them once.
run_pytest "gcc build" build/webjobs tests/integration --deselect tests/integration/test_chaos.py \
	--deselect tests/integration/test_torture.py --deselect tests/integration/test_dashboard.py

# The scale-out suite's short part on a GlusterFS rig (it says why it
# skips where there is no root, FUSE or glusterd); all of it: make scaleout.
WEBJOBS_SCALEOUT_SHORT=1 run_pytest "scale-out rig, short" build/webjobs tests/scaleout -rs

echo "check: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
