#!/bin/sh
# image.sh: image generator benchmark.
#  - warm-cache build time of images/default.yaml with mkimage, against the
#    plain mkuimage command building the same command set, alternating
#    ROUNDS rounds (default 3) after one warm-up each; both write an
#    uncompressed cpio so the ratio compares the same work; mkimage's time
#    for the real (xz) image is reported too;
#  - xz sizes: default image, default without kernel modules, minimal image,
#    the LinuxBoot image (images/linuxboot.yaml).
# Usage: scripts/bench/image.sh   (ROUNDS=N to change the round count)
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
rounds=${ROUNDS:-3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
export GOFLAGS=-buildvcs=false GOAMD64=v1

./scripts/kernel.sh -q >/dev/null
go build -o "$tmp/mkimage" ./cmds/mkimage
go build -o "$tmp/mkuimage" github.com/u-root/mkuimage/cmd/mkuimage
pkgs=$("$tmp/mkimage" check -p images/default.yaml)

now() { date +%s.%N; }
t_mkimage() {
	s=$(now); "$tmp/mkimage" -c none -o "$tmp/a.cpio" images/default.yaml >/dev/null 2>"$tmp/err" || { cat "$tmp/err" >&2; exit 1; }; e=$(now)
	echo "$e - $s" | bc
}
t_mkimage_xz() {
	s=$(now); "$tmp/mkimage" -o "$tmp/a.cpio.xz" images/default.yaml >/dev/null 2>"$tmp/err" || { cat "$tmp/err" >&2; exit 1; }; e=$(now)
	echo "$e - $s" | bc
}
t_mkuimage() {
	# shellcheck disable=SC2086
	s=$(now); "$tmp/mkuimage" -o "$tmp/b.cpio" -initcmd=uinit -defaultsh=gosh -uinitcmd= -skip-ldd $pkgs >/dev/null 2>"$tmp/err" || { cat "$tmp/err" >&2; exit 1; }; e=$(now)
	echo "$e - $s" | bc
}

echo "image.sh: warm-up builds ($(echo "$pkgs" | wc -l) commands)" >&2
t_mkimage >/dev/null
t_mkuimage >/dev/null
sum_a=0; sum_b=0; sum_x=0
i=1
while [ "$i" -le "$rounds" ]; do
	a=$(t_mkimage); b=$(t_mkuimage); x=$(t_mkimage_xz)
	printf 'round %d: mkimage %.2fs  mkuimage %.2fs  mkimage (xz) %.2fs\n' "$i" "$a" "$b" "$x"
	sum_a=$(echo "$sum_a + $a" | bc); sum_b=$(echo "$sum_b + $b" | bc); sum_x=$(echo "$sum_x + $x" | bc)
	i=$((i + 1))
done
avg_a=$(echo "scale=3; $sum_a / $rounds" | bc)
avg_b=$(echo "scale=3; $sum_b / $rounds" | bc)
avg_x=$(echo "scale=3; $sum_x / $rounds" | bc)
printf 'build (warm cache, mean of %d): mkimage %.2fs, mkuimage %.2fs, ratio mkimage/mkuimage %.2f; mkimage with xz %.2fs\n' \
	"$rounds" "$avg_a" "$avg_b" "$(echo "scale=3; $avg_a / $avg_b" | bc)" "$avg_x"

# Sizes.
size() { stat -c %s "$1"; }
"$tmp/mkimage" -o "$tmp/default.cpio.xz" images/default.yaml >/dev/null 2>&1
# The default definition without its kernel, modules and stage2 keys.
awk '/^[^ #\t]/ { skip = ($1 == "kernel:" || $1 == "modules:" || $1 == "stage2:") } !skip' images/default.yaml > "$tmp/nomod.yaml"
"$tmp/mkimage" -C "$root" -o "$tmp/nomod.cpio.xz" "$tmp/nomod.yaml" >/dev/null 2>&1
"$tmp/mkimage" -o "$tmp/minimal.cpio.xz" images/minimal.yaml >/dev/null 2>&1
d=$(size "$tmp/default.cpio.xz"); n=$(size "$tmp/nomod.cpio.xz"); m=$(size "$tmp/minimal.cpio.xz")
printf 'size (xz): default %d bytes (%.2f MiB); default without modules %d bytes (%.2f MiB, target <= 4 MB: %s); minimal %d bytes (%.2f MiB)\n' \
	"$d" "$(echo "scale=3; $d / 1048576" | bc)" "$n" "$(echo "scale=3; $n / 1048576" | bc)" \
	"$([ "$n" -le 4000000 ] && echo met || echo MISSED)" "$m" "$(echo "scale=3; $m / 1048576" | bc)"
# The LinuxBoot payload (no kernel modules): its flash budget is 6 MiB.
"$tmp/mkimage" -o "$tmp/linuxboot.cpio.xz" images/linuxboot.yaml >/dev/null 2>&1
l=$(size "$tmp/linuxboot.cpio.xz")
printf 'size (xz): linuxboot %d bytes (%.2f MiB, target < 6 MiB: %s)\n' \
	"$l" "$(echo "scale=3; $l / 1048576" | bc)" "$([ "$l" -lt 6291456 ] && echo met || echo MISSED)"
