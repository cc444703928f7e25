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

# Runs pytest on a suite into a log of its own (WEBJOBS_BIN=bin).
pytest_into() {
	out=$1
	bin=$2
	where=$3
	shift 3
	# A TMPDIR of its own: a host's default --temp is
	# $TMPDIR/webjobs-{instance}, and the tests' hosts share one instance
	# id, so two suites at once would share their jobs' working copies.
	tmpd=$(mktemp -d /tmp/webjobs-check-XXXXXX) && chmod 1777 "$tmpd" # as /tmp: jobs run as nobody reach it
	TMPDIR=$tmpd WEBJOBS_BIN=$bin /usr/bin/python3 -m pytest -q -p no:cacheprovider "$@" "$where" \
		>"$out" 2>&1
	rm -rf "$tmpd"
}

# Prints the end of a suite's log and adds its counts to the totals.
tally() {
	echo "== black-box tests ($1)"
	tail -n 25 "$2" | grep -v '^$' | tail -n 12
	line=$(tail -n 1 "$2")
	p=$(echo "$line" | sed -n 's/.* \([0-9]*\) passed.*/\1/p; s/^\([0-9]*\) passed.*/\1/p' | head -n 1)
	f=$(echo "$line" | sed -n 's/.* \([0-9]*\) failed.*/\1/p; s/^\([0-9]*\) failed.*/\1/p' | head -n 1)
	e=$(echo "$line" | sed -n 's/.* \([0-9]*\) error.*/\1/p' | head -n 1)
	sk=$(echo "$line" | sed -n 's/.* \([0-9]*\) skipped.*/\1/p; s/^\([0-9]*\) skipped.*/\1/p' | head -n 1)
	[ -z "$p" ] && [ -z "$f" ] && [ -z "$e" ] && [ -z "$sk" ] && f=1
	passed=$((passed + ${p:-0}))
	failed=$((failed + ${f:-0} + ${e:-0}))
}

run_pytest() {
	label=$1
	shift
	pytest_into "$log" "$@"
	tally "$label" "$log"
}

# The two black-box runs go at once: they wait on their jobs' processes
# far more than they compute (user + sys of a whole check: ~2.5 of its ~9
# minutes, one after the other), and every host, home, port, cgroup and
# temporary folder of a test is its own (pytest_into's TMPDIR). The sanitizer build runs all of it; the optimised
# build all but the randomized, kill -9 and browser tests (they are there
# for the sanitizer; the browser's side does not depend on the build).
asan_log=$(mktemp)
trap 'rm -f "$log" "$asan_log"' EXIT
pytest_into "$asan_log" build/asan/webjobs tests/integration &
asan_pid=$!
pytest_into "$log" build/webjobs tests/integration --deselect tests/integration/test_chaos.py \
	--deselect tests/integration/test_torture.py --deselect tests/integration/test_dashboard.py
wait "$asan_pid"
tally "ASan+UBSan build" "$asan_log"
tally "gcc build" "$log"

# The scale-out suite's short part on a GlusterFS rig (it says why it
# skips where there is no root, FUSE or glusterd); all of it: make scaleout.
WEBJOBS_SCALEOUT_SHORT=1 run_pytest "scale-out rig, short" build/webjobs tests/scaleout -rs

echo "check: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
