#!/bin/sh
# deps.sh: make sure the Debian packages the tests need are installed
# (make test runs it first; make run asks for QEMU only).
#
# Nothing missing: prints nothing. Missing packages, as root on Debian:
# apt-get update, then apt-get install of exactly those. As another user
# (or without apt-get): prints the one apt-get install line to run and
# exits 1 at once, before any test runs.
#
# The tests fail, naming the package, when one of these is missing:
#   s6, execline, runit  s6 compatibility tests, reference tools
#   qemu-system-x86      boot tests (qemu-system-x86_64)
#   cpio xz-utils zstd lz4  checking images with the reference tools
#   kmod                 depmod, to check our modules.dep against it
#   util-linux procps    mount, kill, ps in host and benchmark scripts
#   e2fsprogs dosfstools xfsprogs btrfs-progs gdisk fdisk busybox-static
#                        disk images for the real-root tests (pkg/rootfs,
#                        integration/boot TestRealRoot), built unprivileged
# dpkg, apt, coreutils, dash and gzip are essential on Debian: always there.
set -eu

PACKAGES="s6 execline runit qemu-system-x86 cpio xz-utils zstd lz4 kmod util-linux procps e2fsprogs dosfstools xfsprogs btrfs-progs gdisk fdisk busybox-static"
# With arguments: those packages only (make run: qemu-system-x86).
[ $# -gt 0 ] && PACKAGES="$*"

need=
for p in $PACKAGES; do
	case $(dpkg-query -W -f '${db:Status-Status}' "$p" 2>/dev/null) in
	installed) ;;
	*) need="$need $p" ;;
	esac
done
[ -z "$need" ] && exit 0

if ! command -v apt-get >/dev/null 2>&1 || ! command -v dpkg-query >/dev/null 2>&1; then
	echo "deps.sh: needs the Debian packages$need (this is not a Debian system: no apt-get/dpkg-query)" >&2
	exit 1
fi
if [ "$(id -u)" != 0 ]; then
	echo "deps.sh: needs Debian packages that are not installed. As root, run:" >&2
	echo "    apt-get install -y --no-install-recommends$need" >&2
	exit 1
fi
echo "deps.sh: installing$need"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq </dev/null || echo "deps.sh: apt-get update failed; trying the install with the package lists there are" >&2
apt-get install -y -qq --no-install-recommends$need </dev/null
