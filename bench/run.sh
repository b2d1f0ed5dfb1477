#!/usr/bin/env bash
# Runs the racefree benchmarks side by side with os.Root, filepath-securejoin
# (pathrs-lite), raw openat2 and naive path calls, under both resolver
# profiles, counts syscalls per operation with strace, and writes
# bench/RESULTS.md. Raw data goes to bench/results/.
#
# Environment: COUNT (samples per benchmark, default 6), BENCHTIME (default
# 300ms), N (operations per syscall-counter run, default 1000).
# Takes about 4 minutes on 2 cores. The replace, WriteFile and Install
# benchmarks (replace_test.go, writefile_test.go, install_test.go) are run
# on their own with go test -bench; see their comments.
set -euo pipefail

cd "$(dirname "$0")/.."
COUNT=${COUNT:-6}
BENCHTIME=${BENCHTIME:-300ms}
N=${N:-1000}
# golang.org/x/perf, pinned (v0.0.0-20250106171221-62ad9bd1b8a8 is not served by the module proxy).
BENCHSTAT_VERSION=v0.0.0-20260908200009-22c9c6c9d4da
OUT=bench/results
BIN=$(mktemp -d)
TREE=$(mktemp -d)
trap 'rm -rf "$BIN" "$TREE"' EXIT

if ! command -v strace >/dev/null; then
	if [ "$(id -u)" = 0 ]; then
		apt-get update -qq && apt-get install -y -qq strace >/dev/null
	else
		echo "run.sh: strace is missing (apt-get install strace)" >&2
		exit 1
	fi
fi

rm -rf "$OUT"
mkdir -p "$OUT/strace"
start=$(date +%s)

{
	echo "date:       $(date -u +%Y-%m-%dT%H:%MZ)"
	echo "kernel:     $(uname -sr)"
	echo "cpu:        $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //') x $(nproc)"
	echo "go:         $(go env GOVERSION)"
	echo "tree on:    $(df -T "${TMPDIR:-/tmp}" | awk 'NR==2{print $2}') (${TMPDIR:-/tmp})"
	echo "commit:     $(git rev-parse --short HEAD), dirfd changes not committed: $(git status --porcelain -- dirfd | tr '\n' ' ' | sed 's/ *$//;s/^$/none/')"
	echo "benchmarks: $COUNT rounds x -test.count=1 -test.benchtime=$BENCHTIME per profile, rounds interleaved"
	echo "syscalls:   N=$N per strace run"
	echo "load avg:   $(cut -d' ' -f1-3 /proc/loadavg) at start"
} >"$OUT/meta.txt"
cat "$OUT/meta.txt"

go test -c -o "$BIN/bench.test" ./bench
go build -o "$BIN/syscount" ./bench/cmd/syscount

# -count=$COUNT, taken as $COUNT rounds of -count=1 that alternate the two
# profiles: slow drift of the machine (other tenants, thermal) then hits
# every implementation and both profiles alike instead of whichever ran
# during it.
: >"$OUT/bench-openat2.txt"
: >"$OUT/bench-walk.txt"
for round in $(seq "$COUNT"); do
	echo "benchmarks: round $round/$COUNT"
	(cd bench && env -u RACEFREE_DISABLE "$BIN/bench.test" -test.run '^$' -test.bench '^Benchmark(Open|Stat)$' \
		-test.count 1 -test.benchtime "$BENCHTIME") >>"$OUT/bench-openat2.txt"
	(cd bench && RACEFREE_DISABLE=openat2 "$BIN/bench.test" -test.run '^$' -test.bench '^Benchmark(Open|Stat)$' \
		-test.count 1 -test.benchtime "$BENCHTIME") >>"$OUT/bench-walk.txt"
done
grep -q 'racefree-resolver: openat2' "$OUT/bench-openat2.txt" || { echo "openat2 profile did not use openat2" >&2; exit 1; }
grep -q 'racefree-resolver: walk' "$OUT/bench-walk.txt" || { echo "walk profile did not walk" >&2; exit 1; }

benchstat() { go run "golang.org/x/perf/cmd/benchstat@$BENCHSTAT_VERSION" "$@"; }
benchstat -col /impl "$OUT/bench-openat2.txt" >"$OUT/benchstat-openat2.txt"
benchstat -col /impl "$OUT/bench-walk.txt" >"$OUT/benchstat-walk.txt"
benchstat -ignore racefree-resolver -filter '/impl:racefree' -col .file \
	openat2="$OUT/bench-openat2.txt" walk="$OUT/bench-walk.txt" >"$OUT/benchstat-profiles.txt"

echo "syscall counts"
"$BIN/syscount" -build "$TREE"
count() { # profile op impl depth
	local p=$1 op=$2 impl=$3 depth=$4 envset=()
	[ "$p" = walk ] && envset=(RACEFREE_DISABLE=openat2)
	for n in 0 "$N"; do
		env -u RACEFREE_DISABLE "${envset[@]}" GOMAXPROCS=1 \
			strace -f -c -o "$OUT/strace/${p}_${op}_${impl}_${depth}_${n}.txt" \
			"$BIN/syscount" -root "$TREE" -op "$op" -impl "$impl" -depth "$depth" -n "$n"
	done
}
for depth in 1 8 32; do
	for impl in racefree osroot securejoin openat2 naive; do
		count openat2 open "$impl" "$depth"
	done
	for impl in racefree osroot openat2 naive; do
		count openat2 stat "$impl" "$depth"
	done
	count walk open racefree "$depth"
	count walk stat racefree "$depth"
done

echo "load avg:   $(cut -d' ' -f1-3 /proc/loadavg) at end ($(($(date +%s) - start))s)" >>"$OUT/meta.txt"
go run ./bench/cmd/report -dir "$OUT" -n "$N" -analysis bench/ANALYSIS.md >bench/RESULTS.md
echo "wrote bench/RESULTS.md in $(($(date +%s) - start))s"
