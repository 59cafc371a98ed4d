#!/bin/sh
# Install the Debian packages the tests and references need, only when missing.
#
# Each entry is "command-or-file package": the package is installed when the
# command is not on PATH (or the file does not exist). Runs apt-get update (retried once)
# and only when something is missing, so a prepared machine pays nothing.
set -eu

NEEDS="
sqlite3 sqlite3
gcc gcc
g++ g++
git git
clang-format clang-format
valgrind valgrind
/usr/include/seccomp.h libseccomp-dev
/usr/lib/gcc/x86_64-linux-gnu/12/32/libgcc.a gcc-multilib
/usr/lib32/crt1.o gcc-multilib
/usr/lib/i386-linux-gnu/libseccomp.so libseccomp-dev:i386
clang clang
/usr/lib/llvm-14/lib/clang/14.0.6/lib/linux/libclang_rt.fuzzer-x86_64.a libclang-rt-14-dev
/usr/lib/x86_64-linux-gnu/libjemalloc.so.2 libjemalloc2
/usr/lib/x86_64-linux-gnu/libmimalloc.so.2 libmimalloc2.0
/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4 libtcmalloc-minimal4
"

missing=""
for_each() {
    echo "$NEEDS" | while read -r probe package; do
        [ -n "$probe" ] || continue
        case "$probe" in
            /*) [ -e "$probe" ] || echo "$package" ;;
            *) command -v "$probe" >/dev/null 2>&1 || echo "$package" ;;
        esac
    done
}
missing=$(for_each | sort -u | tr '\n' ' ')
[ -n "$(echo "$missing" | tr -d ' ')" ] || exit 0

if [ "$(id -u)" != 0 ]; then
    echo "system-deps: missing Debian packages: $missing(run as root: apt-get install $missing)" >&2
    exit 1
fi
echo "system-deps: installing $missing"
export DEBIAN_FRONTEND=noninteractive
# A package of another architecture (the 32-bit engine's libseccomp) needs it known to dpkg.
case "$missing" in
    *:i386*) dpkg --print-foreign-architectures | grep -qx i386 || dpkg --add-architecture i386 ;;
esac
# A mirror caught mid-sync fails one index or another (seen: bookworm-security's i386 list); the
# packages usually come from the others, so that is a warning, and the install says what is lacking.
if ! apt-get update -qq; then
    sleep 10
    apt-get update -qq || echo "system-deps: apt-get update failed; installing from the package lists it has" >&2
fi
# shellcheck disable=SC2086
apt-get install -y -qq $missing >/dev/null
