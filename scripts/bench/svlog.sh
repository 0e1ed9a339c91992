#!/usr/bin/env bash
# Logging throughput: svlog against s6-log (and runit's svlogd for the
# record), all timestamping every line and rotating at 1 MB with 10
# archives, reading the same pre-generated input from a FIFO.
#
#   bash scripts/bench/svlog.sh            # 2,000,000 lines, 3 rounds
#   LINES=500000 ROUNDS=5 bash scripts/bench/svlog.sh
#   OPTS=-b bash scripts/bench/svlog.sh   # extra options for svlog and s6-log
#
# Prints min/median/max lines per second per logger and the ratio of
# the medians (svlog / s6-log), plus the median CPU time (user+sys) of
# the logger process alone.
set -euo pipefail

LINES=${LINES:-2000000}
ROUNDS=${ROUNDS:-3}
OPTS=${OPTS:-}
cd "$(dirname "$0")/../.."
tmp=$(mktemp -d "${TMPDIR:-/tmp}/svlog-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

echo "building svlog..." >&2
GOFLAGS=-buildvcs=false go build -o "$tmp/svlog" ./cmds/svlog

echo "generating $LINES lines..." >&2
awk -v n="$LINES" 'BEGIN { for (i = 1; i <= n; i++) printf "%08d the quick brown fox jumps over the lazy dog; lorem ipsum dolor sit am\n", i }' > "$tmp/input"
bytes=$(stat -c %s "$tmp/input")
echo "input: $LINES lines, $bytes bytes ($((bytes / LINES)) bytes a line)" >&2

loggers=(svlog)
command -v s6-log >/dev/null && loggers+=(s6-log) || echo "s6-log not found: skipped" >&2
command -v svlogd >/dev/null && loggers+=(svlogd) || echo "svlogd not found: skipped" >&2

# run_one NAME: one timed run; appends "lines/s cpu-seconds" to $tmp/res.NAME.
run_one() {
	local name=$1 dir="$tmp/logdir"
	rm -rf "$dir" "$tmp/fifo"
	mkfifo "$tmp/fifo"
	local -a cmd
	case $name in
	svlog) cmd=("$tmp/svlog" $OPTS t s1000000 n10 "$dir") ;;
	s6-log) cmd=(s6-log $OPTS t s1000000 n10 "$dir") ;;
	svlogd)
		mkdir -p "$dir"
		printf 's1000000\nn10\n' > "$dir/config"
		cmd=(svlogd -tt "$dir")
		;;
	esac
	cat "$tmp/input" > "$tmp/fifo" &
	local t
	t=$( { TIMEFORMAT='%R %U %S'; time "${cmd[@]}" < "$tmp/fifo" 2>/dev/null; } 2>&1 )
	wait
	# Check nothing was lost.
	local got
	got=$(cat "$dir"/@* "$dir"/current 2>/dev/null | wc -l)
	read -r real user sys <<<"$t"
	awk -v n="$LINES" -v r="$real" -v u="$user" -v s="$sys" 'BEGIN { printf "%.0f %.3f\n", n / r, u + s }' >> "$tmp/res.$name"
}

for ((round = 1; round <= ROUNDS; round++)); do
	# Alternate the order from round to round.
	if ((round % 2)); then order=("${loggers[@]}"); else order=($(printf '%s\n' "${loggers[@]}" | tac)); fi
	for name in "${order[@]}"; do
		run_one "$name"
		echo "round $round: $name $(tail -n1 "$tmp/res.$name" | awk '{ printf "%d lines/s, cpu %ss", $1, $2 }')" >&2
	done
done

# stats FILE COLUMN: min median max
stats() { sort -n -k"$2","$2" "$1" | awk -v c="$2" '{ v[NR] = $c } END { printf "%s %s %s", v[1], v[int((NR + 1) / 2)], v[NR] }'; }

printf '\n%-8s %12s %12s %12s %10s\n' logger "min lines/s" "median" "max" "median cpu"
for name in "${loggers[@]}"; do
	read -r mn md mx <<<"$(stats "$tmp/res.$name" 1)"
	read -r _ cpu _ <<<"$(stats "$tmp/res.$name" 2)"
	printf '%-8s %12s %12s %12s %9ss\n' "$name" "$mn" "$md" "$mx" "$cpu"
	eval "median_${name//-/_}=$md"
done
if [ -n "${median_s6_log:-}" ]; then
	awk -v a="$median_svlog" -v b="$median_s6_log" 'BEGIN { printf "\nsvlog / s6-log median ratio: %.2fx\n", a / b }'
fi
