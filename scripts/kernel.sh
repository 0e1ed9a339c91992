#!/bin/sh
# kernel.sh: fetch and cache the Debian amd64 kernel used to boot svinit images.
#
# Usage: scripts/kernel.sh [-q] [-m]
#   prints the path of the cached vmlinuz on stdout (with -m: the modules tree
#   /lib/modules/<version> instead). Idempotent: a second run only prints the path.
#   Needs apt-get and dpkg-deb; no root, no stdin (works with CI=true).
# Environment:
#   SVINIT_KERNEL_PKG   concrete package name (default: what linux-image-amd64 depends on)
#   SVINIT_CACHE        cache directory (default: <repo>/.cache)
set -eu

quiet=false
want=vmlinuz
for a in "$@"; do
	case "$a" in
	-q) quiet=true ;;
	-m) want=modules ;;
	-h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "kernel.sh: unknown argument: $a (usage: kernel.sh [-q] [-m])" >&2; exit 100 ;;
	esac
done

root=$(cd "$(dirname "$0")/.." && pwd)
cache=${SVINIT_CACHE:-$root/.cache}
dest=$cache/kernel
log() { $quiet || echo "kernel.sh: $*" >&2; }

print_result() {
	v=$(cat "$dest/version")
	if [ "$want" = modules ]; then
		echo "$dest/root/lib/modules/$v"
	else
		echo "$dest/root/boot/vmlinuz-$v"
	fi
}

if [ -f "$dest/version" ] && [ -f "$dest/root/boot/vmlinuz-$(cat "$dest/version")" ]; then
	print_result
	exit 0
fi

command -v apt-get >/dev/null 2>&1 || { echo "kernel.sh: apt-get not found: this script needs a Debian host" >&2; exit 111; }
command -v dpkg-deb >/dev/null 2>&1 || { echo "kernel.sh: dpkg-deb not found: install dpkg" >&2; exit 111; }

# One download at a time (parallel test packages may all ask for the kernel).
mkdir -p "$cache"
if command -v flock >/dev/null 2>&1; then
	exec 9>"$cache/kernel.lock"
	flock 9
	if [ -f "$dest/version" ] && [ -f "$dest/root/boot/vmlinuz-$(cat "$dest/version")" ]; then
		print_result
		exit 0
	fi
fi

pkg=${SVINIT_KERNEL_PKG:-}
if [ -z "$pkg" ]; then
	pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | sed -n 's/^ *Depends: \(linux-image-[0-9].*-amd64\)$/\1/p' | head -n1)
	if [ -z "$pkg" ]; then
		log "linux-image-amd64 unknown to apt; running apt-get update"
		apt-get update -qq </dev/null >&2 || true
		pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | sed -n 's/^ *Depends: \(linux-image-[0-9].*-amd64\)$/\1/p' | head -n1)
	fi
fi
[ -n "$pkg" ] || { echo "kernel.sh: cannot find the package linux-image-amd64 depends on (set SVINIT_KERNEL_PKG)" >&2; exit 111; }

tmp=$(mktemp -d "$cache/kernel.tmp.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM HUP
# apt-get download drops to the _apt user when that user can write the
# directory, and warns otherwise.
chown _apt "$tmp" 2>/dev/null || true
log "downloading $pkg"
if ! (cd "$tmp" && apt-get download -q "$pkg" </dev/null >&2); then
	# Stale package lists name a version the archive no longer has.
	log "download failed; running apt-get update and retrying"
	apt-get update -qq </dev/null >&2 || true
	[ -n "${SVINIT_KERNEL_PKG:-}" ] || pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | sed -n 's/^ *Depends: \(linux-image-[0-9].*-amd64\)$/\1/p' | head -n1)
	(cd "$tmp" && apt-get download -q "$pkg" </dev/null >&2) || { echo "kernel.sh: apt-get download $pkg failed" >&2; exit 111; }
fi
deb=$(ls "$tmp"/*.deb | head -n1)
log "unpacking $(basename "$deb")"
mkdir "$tmp/root"
dpkg-deb -x "$deb" "$tmp/root"
v=$(ls "$tmp/root/lib/modules" | head -n1)
[ -n "$v" ] && [ -f "$tmp/root/boot/vmlinuz-$v" ] || { echo "kernel.sh: $deb holds no boot/vmlinuz-<version>" >&2; exit 111; }
echo "$v" > "$tmp/version"
rm -f "$deb"
mkdir "$tmp/kernel"
mv "$tmp/root" "$tmp/version" "$tmp/kernel/"
rm -rf "$dest"
mv "$tmp/kernel" "$dest"
log "cached kernel $v in $dest"
print_result
