#!/usr/bin/env bash
# Runs every racefree benchmark side by side with the alternatives (os.Root,
# filepath-securejoin's pathrs-lite, renameio, naive path calls, the raw
# system calls), counts syscalls per operation with strace, and, from that
# one run, writes bench/RESULTS.md, the plots in bench/plots/ and the
# measured block of README.md. Raw data goes to bench/results/. The cases
# themselves are in bench/internal/cases.
#
# Needs Linux, Go and strace (installed with apt-get when missing and run as
# root). As root, with mkfs.ext4, everything runs on a fresh ext4 filesystem
# on a loop device backed by RAM (/dev/shm): the numbers are the
# filesystem's and the system calls' CPU cost, not a disk's, and the disk
# traffic of other work on the machine does not reach them. Otherwise, or
# with BENCH_DIR set, they run in BENCH_DIR (default $TMPDIR or /tmp).
#
# The operations that wait for the filesystem's journal (WriteFile,
# Install, RemoveIfSame, RenameIfSame, ReplaceSymlink) and the tree and
# archive jobs (WalkDir, ChownTree, CopyTree, Extract) are measured once
# more on a disk-backed filesystem, DISK_DIR (default /var/tmp), whose
# waits a RAM-backed image hides; skipped, saying so, when DISK_DIR is on a
# RAM filesystem.
#
# Environment: COUNT (rounds, default 4), BENCHTIME (go test -benchtime,
# default 300ms), BENCH_DIR, DISK_DIR. About 45 minutes as root on 2 cores (2026-12-06:
# 8 for the RAM image, 29 for the disk-backed pass, 8 for the syscall counts).
set -euo pipefail

cd "$(dirname "$0")/.."
COUNT=${COUNT:-4}
BENCHTIME=${BENCHTIME:-300ms}
# golang.org/x/perf, pinned (v0.0.0-20250106171221-62ad9bd1b8a8 is not served by the module proxy).
BENCHSTAT_VERSION=v0.0.0-20260908200009-22c9c6c9d4da
OUT=bench/results
WORK=$(mktemp -d)
MOUNTED=
cleanup() {
	if [ -n "$MOUNTED" ]; then umount "$MOUNTED"; fi
	rm -rf "$WORK"
	if [ -n "${IMAGE:-}" ]; then rm -f "$IMAGE"; fi
}
trap cleanup EXIT
start=$(date +%s)
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
load_start=$(loadavg)

if ! command -v strace >/dev/null; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq strace >/dev/null
	else
		echo "run.sh: strace is missing (apt-get install strace)" >&2
		exit 1
	fi
fi

if [ -n "${BENCH_DIR:-}" ]; then
	FS=$(mktemp -d "$BENCH_DIR/racefree-bench-XXXXXX")
	FS_DESC="$(df -T "$FS" | awk 'NR==2{print $2}') ($BENCH_DIR, BENCH_DIR)"
elif [ "$(id -u)" = 0 ] && PATH="$PATH:/usr/sbin:/sbin" command -v mkfs.ext4 >/dev/null && [ -d /dev/shm ]; then
	IMAGE=$(mktemp /dev/shm/racefree-bench-XXXXXX.img)
	# Room for the 100,000-entry trees and their copies (an inode each,
	# more than mkfs's default ratio gives) and a 1 GiB extraction; only
	# the blocks written take RAM.
	truncate -s 6G "$IMAGE"
	PATH="$PATH:/usr/sbin:/sbin" mkfs.ext4 -q -F -i 8192 "$IMAGE"
	mkdir "$WORK/fs"
	mount -o loop "$IMAGE" "$WORK/fs"
	MOUNTED="$WORK/fs"
	FS="$WORK/fs"
	FS_DESC="ext4, fresh, on a loop device backed by RAM (/dev/shm)"
else
	FS=$(mktemp -d "${TMPDIR:-/tmp}/racefree-bench-XXXXXX")
	FS_DESC="$(df -T "$FS" | awk 'NR==2{print $2}') (${TMPDIR:-/tmp}; not root, or no mkfs.ext4)"
fi

DISK_DIR=${DISK_DIR:-/var/tmp}
DISK_FS=
disk_type=$(df -T "$DISK_DIR" 2>/dev/null | awk 'NR==2{print $2}')
case "$disk_type" in
"" | tmpfs | ramfs) echo "run.sh: $DISK_DIR is ${disk_type:-unknown}, not disk-backed: no disk-backed pass" ;;
*)
	DISK_FS=$(mktemp -d "$DISK_DIR/racefree-bench-XXXXXX")
	DISK_DESC="$disk_type ($DISK_DIR, $(df "$DISK_DIR" | awk 'NR==2{print $1}'))"
	;;
esac
cleanup_disk() { if [ -n "$DISK_FS" ]; then rm -rf "$DISK_FS"; fi; }
trap 'cleanup; cleanup_disk' EXIT

rm -rf "$OUT"
mkdir -p "$OUT/strace/openat2" "$OUT/strace/walk"

echo "building"
go test -c -o "$WORK/bench.test" ./bench
go build -o "$WORK/syscount" ./bench/cmd/syscount
go build -o "$WORK/report" ./bench/cmd/report
GOBIN="$WORK" go install "golang.org/x/perf/cmd/benchstat@$BENCHSTAT_VERSION"

# The operations, and those whose racefree cost depends on the resolver,
# from the cases themselves.
"$WORK/syscount" -list >"$WORK/cases"
ops=$(awk '{split($1, a, "/"); if (!seen[a[1]]++) printf "%s%s", (n++ ? "|" : ""), a[1]}' "$WORK/cases")
walk_ops=$(awk '$3 == 1 {split($1, a, "/"); if (!seen[a[1]]++) printf "%s%s", (n++ ? "|" : ""), a[1]}' "$WORK/cases")

# The repository's packages the benchmarks link, whose uncommitted changes
# the results would include.
mapfile -t libdirs < <(go list -deps -f '{{if .Module}}{{if eq .Module.Path "github.com/racefree/racefree"}}{{.Dir}}{{end}}{{end}}' ./bench/internal/cases | grep -v '/bench')
dirty=$(git status --porcelain -- "${libdirs[@]}" ':!*_test.go' | awk '{print $2}' | tr '\n' ' ' | sed 's/ *$//')
{
	echo "date:       $(date -u +%Y-%m-%dT%H:%MZ)"
	echo "kernel:     $(uname -sr)"
	echo "cpu:        $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //') x $(nproc)"
	echo "go:         $(go env GOVERSION)"
	echo "filesystem: $FS_DESC"
	echo "disk:       ${DISK_DESC:-none}"
	echo "commit:     $(git rev-parse --short HEAD), changes not committed in the library code measured: ${dirty:-none}"
	echo "benchmarks: $COUNT rounds x -test.count=1 -test.benchtime=$BENCHTIME, openat2 and walk profiles alternating"
	echo "syscalls:   strace -f -c attached to bench/cmd/syscount once set up: N operations (per case) minus none"
} >"$OUT/meta.txt"
cat "$OUT/meta.txt"

# -count=$COUNT, taken as $COUNT rounds of -count=1 that alternate the two
# profiles: slow drift of the machine (other tenants, thermal) then hits
# every implementation and both profiles alike instead of whichever ran
# during it. Each round also starts each operation with a different
# implementation (RACEFREE_BENCH_ROUND, see bench_test.go).
: >"$OUT/bench-openat2.txt"
: >"$OUT/bench-walk.txt"
for round in $(seq "$COUNT"); do
	echo "benchmarks: round $round/$COUNT ($(($(date +%s) - start))s, load $(loadavg))"
	(cd bench && TMPDIR="$FS" RACEFREE_BENCH_ROUND="$round" env -u RACEFREE_DISABLE "$WORK/bench.test" -test.run '^$' \
		-test.bench "^Benchmark($ops)\$" -test.count 1 -test.benchtime "$BENCHTIME") >>"$OUT/bench-openat2.txt"
	(cd bench && TMPDIR="$FS" RACEFREE_BENCH_ROUND="$round" RACEFREE_DISABLE=openat2 "$WORK/bench.test" -test.run '^$' \
		-test.bench "^Benchmark($walk_ops)\$" -test.count 1 -test.benchtime "$BENCHTIME") >>"$OUT/bench-walk.txt"
done
if [ -n "$DISK_FS" ]; then
	disk_ops=$("$WORK/report" -disk-ops)
	: >"$OUT/bench-disk.txt"
	for round in $(seq "$COUNT"); do
		echo "benchmarks on disk: round $round/$COUNT ($(($(date +%s) - start))s, load $(loadavg))"
		(cd bench && TMPDIR="$DISK_FS" RACEFREE_BENCH_ROUND="$round" env -u RACEFREE_DISABLE "$WORK/bench.test" -test.run '^$' \
			-test.bench "^Benchmark($disk_ops)\$" -test.count 1 -test.benchtime "$BENCHTIME") >>"$OUT/bench-disk.txt"
	done
fi
grep -q 'racefree-resolver: openat2' "$OUT/bench-openat2.txt" || { echo "openat2 profile did not use openat2" >&2; exit 1; }
grep -q 'racefree-resolver: walk' "$OUT/bench-walk.txt" || { echo "walk profile did not walk" >&2; exit 1; }

echo "benchstat"
benchstat() { "$WORK/benchstat" "$@"; }
for op in ${ops//|/ }; do
	benchstat -filter ".name:$op" -col /impl "$OUT/bench-openat2.txt" >"$OUT/benchstat-openat2-$op.txt"
done
for op in ${walk_ops//|/ }; do
	benchstat -filter ".name:$op" -col /impl "$OUT/bench-walk.txt" >"$OUT/benchstat-walk-$op.txt"
done
if [ -n "$DISK_FS" ]; then
	for op in ${disk_ops//|/ }; do
		benchstat -filter ".name:$op" -col /impl "$OUT/bench-disk.txt" >"$OUT/benchstat-disk-$op.txt"
	done
fi
benchstat -ignore racefree-resolver -filter "/impl:racefree" -col .file \
	openat2="$OUT/bench-openat2.txt" walk="$OUT/bench-walk.txt" >"$OUT/benchstat-profiles.txt"

echo "syscall counts ($(($(date +%s) - start))s, load $(loadavg))"
mkdir "$FS/syscount"
"$WORK/syscount" -build "$FS/syscount"
# wait_for PATTERN FILE: until FILE holds PATTERN (at most 60 s).
wait_for() {
	local i
	for i in $(seq 3000); do
		grep -q "$1" "$2" 2>/dev/null && return 0
		sleep 0.02
	done
	echo "run.sh: no '$1' in $2 after 60s" >&2
	cat "$2" >&2
	return 1
}
# count PROFILE CASE N: strace -c of the case's N operations (file .run.txt)
# and of the same process performing none (.skip.txt). syscount pauses once
# everything is set up and prepared; strace attaches then, so that only the
# operations (and the exit, which both runs share) are counted.
count() {
	local p=$1 name=$2 n=$3 file run pid spid
	file="$OUT/strace/$p/${name//\//_}"
	for run in run skip; do
		local args=(-root "$FS/syscount" -case "$name" -n "$n")
		[ "$run" = skip ] && args+=(-skip)
		rm -f "$WORK/ready" "$WORK/strace.err"
		if [ "$p" = walk ]; then
			RACEFREE_DISABLE=openat2 GOMAXPROCS=1 "$WORK/syscount" "${args[@]}" >"$WORK/ready" &
		else
			env -u RACEFREE_DISABLE GOMAXPROCS=1 "$WORK/syscount" "${args[@]}" >"$WORK/ready" &
		fi
		pid=$!
		wait_for ready "$WORK/ready"
		strace -f -c -o "$file.$run.txt" -p "$pid" 2>"$WORK/strace.err" &
		spid=$!
		wait_for attached "$WORK/strace.err"
		kill -USR1 "$pid"
		wait "$pid"
		wait "$spid"
		"$WORK/syscount" -clean "$FS/syscount"
	done
}
while read -r name n walk; do
	count openat2 "$name" "$n"
	if [ "$walk" = 1 ] && [ "${name##*/}" = impl=racefree ]; then
		count walk "$name" "$n"
	fi
done <"$WORK/cases"

echo "load avg:   $(loadavg) at end, $load_start at start; $(($(date +%s) - start))s for the benchmarks and counts" >>"$OUT/meta.txt"
mkdir -p bench/plots
"$WORK/report" -dir "$OUT" -results bench/RESULTS.md -plots bench/plots -readme README.md
echo "wrote bench/RESULTS.md, bench/plots/ and README.md's measured block in $(($(date +%s) - start))s"
