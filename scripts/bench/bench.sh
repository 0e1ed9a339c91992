#!/usr/bin/env bash
# bench.sh: every benchmark, side by side with the reference
# implementations in one run (make bench).
#
#   scripts/bench/bench.sh
#   ROUNDS=5 scripts/bench/bench.sh            # rounds per scenario (>= 3 recommended)
#   ROUNDS_1000=2 ROUNDS_RUNIT=1 ...           # N=1000 and runit rounds
#   SKIP_IMAGE=1 SKIP_SVLOG=1 SKIP_SVRC=1 ...  # leave a family out
#
# Supervision (scan-to-up, memory, sequential population, restart, control):
# scripts/bench/svbench against s6 and runit. Logging: scripts/bench/svlog.sh.
# Image: scripts/bench/image.sh. Service manager (svrc against its
# critical-path bound): scripts/bench/svrcbench. Boot: out/boot-time.txt,
# out/boot-realroot.txt and out/boot-keeproot.txt
# when the boot tests wrote them. Writes out/bench.json and docs/benchmarks.md and prints the table.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
OUT=${OUT:-out}
ROUNDS=${ROUNDS:-3}
ROUNDS_1000=${ROUNDS_1000:-$ROUNDS}
ROUNDS_RUNIT=${ROUNDS_RUNIT:-1}
SVLOG_LINES=${SVLOG_LINES:-2000000}
export GOFLAGS=-buildvcs=false
start=$(date +%s)
mkdir -p "$OUT"

# The reference implementations.
need=()
for t in s6-svscan:s6 execlineb:execline runsvdir:runit; do
	command -v "${t%%:*}" >/dev/null || need+=("${t#*:}")
done
if [ ${#need[@]} -gt 0 ]; then
	echo "bench: installing ${need[*]}" >&2
	apt-get install -y "${need[@]}" >&2 || { apt-get update >&2 && apt-get install -y "${need[@]}" >&2; }
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
echo "bench: building svscan, svscanctl, svc, svrc, svbench, svrcbench" >&2
go build -o "$tmp/bin/" ./cmds/svscan ./cmds/svscanctl ./cmds/svc ./cmds/svrc
go build -o "$tmp/svbench" ./scripts/bench/svbench
go build -o "$tmp/svrcbench" ./scripts/bench/svrcbench

# Scan directories live on tmpfs, as /run/service does in the image (on
# a disk file system, inode allocation dominates every supervisor).
scanfs=/dev/shm
if [ "$(stat -f -c %T /dev/shm 2>/dev/null)" != tmpfs ]; then
	scanfs=$tmp/tmpfs
	mkdir -p "$scanfs"
	mount -t tmpfs -o size=1g svbench "$scanfs"
	trap 'umount "$scanfs" 2>/dev/null; rm -rf "$tmp"' EXIT
fi
load=$(cut -d' ' -f1-3 /proc/loadavg)

echo "bench: supervision (rounds: $ROUNDS, N=1000: $ROUNDS_1000, runit: $ROUNDS_RUNIT)" >&2
TMPDIR=$scanfs "$tmp/svbench" run -bin "$tmp/bin" -rounds "$ROUNDS" -rounds-1000 "$ROUNDS_1000" \
	-rounds-runit "$ROUNDS_RUNIT" -o "$OUT/bench-supervision.json"

svlog_args=()
if [ -z "${SKIP_SVLOG:-}" ]; then
	echo "bench: logging (scripts/bench/svlog.sh, $SVLOG_LINES lines)" >&2
	LINES=$SVLOG_LINES ROUNDS=$ROUNDS bash scripts/bench/svlog.sh > "$OUT/bench-svlog.txt" 2>&1 || { cat "$OUT/bench-svlog.txt" >&2; exit 1; }
	cat "$OUT/bench-svlog.txt" >&2
	svlog_args=(-svlog "$OUT/bench-svlog.txt")
fi

image_args=()
if [ -z "${SKIP_IMAGE:-}" ]; then
	echo "bench: image (scripts/bench/image.sh)" >&2
	ROUNDS=$ROUNDS sh scripts/bench/image.sh > "$OUT/bench-image.txt" 2>&1 || { cat "$OUT/bench-image.txt" >&2; exit 1; }
	cat "$OUT/bench-image.txt" >&2
	image_args=(-image "$OUT/bench-image.txt")
fi

svrc_args=()
if [ -z "${SKIP_SVRC:-}" ]; then
	echo "bench: service manager (scripts/bench/svrcbench)" >&2
	TMPDIR=$scanfs "$tmp/svrcbench" -bin "$tmp/bin" -rounds "$ROUNDS" -o "$OUT/bench-svrc.json" >&2
	svrc_args=(-svrc "$OUT/bench-svrc.json")
fi

end=$(date +%s)
# Boot figures: the boot tests' files, those that exist (boot time; the
# real root's two modes, TestRealRoot and TestKeepRoot).
cat "$OUT/boot-time.txt" "$OUT/boot-realroot.txt" "$OUT/boot-keeproot.txt" > "$tmp/boot.txt" 2>/dev/null || true
"$tmp/svbench" report -supervision "$OUT/bench-supervision.json" "${svlog_args[@]}" "${image_args[@]}" "${svrc_args[@]}" \
	-boot "$tmp/boot.txt" -json "$OUT/bench.json" -md docs/benchmarks.md \
	-fs "tmpfs ($scanfs)" -load "$load" -elapsed "$(((end - start) / 60)) min $(((end - start) % 60)) s" \
	-rounds "$ROUNDS (N=1000: $ROUNDS_1000; runit: $ROUNDS_RUNIT, as its runsvdir/runsv wait ~1 s per change)"
echo "bench: wrote $OUT/bench.json and docs/benchmarks.md" >&2
