#!/usr/bin/env bash
# `make install` gives a usable library: install into a staging root, then build the README's
# example with nothing but pkg-config's flags, link it to the shared library, and run the tool.
set -euo pipefail
src=${DGRAM_SOURCE:?} build=${DGRAM_BUILD:?}
[ "${DGRAM_BACKEND:-epoll}" = epoll ] || { echo "install: checked once, on the epoll run"; exit 77; }
grep -q '^DGRAM_SANITIZE:BOOL=ON' "$build/CMakeCache.txt" && { echo "install: not under sanitizers"; exit 77; }
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
DESTDIR="$root" cmake --install "$build" >/dev/null
prefix=$(sed -n 's/^CMAKE_INSTALL_PREFIX:[A-Z]*=//p' "$build/CMakeCache.txt")
pcdir=$(dirname "$(find "$root" -name dgram.pc | head -n 1)")
export PKG_CONFIG_PATH="$pcdir" PKG_CONFIG_SYSROOT_DIR="$root"
[ "$(pkg-config --modversion dgram)" = "$(sed -n 's/^CMAKE_PROJECT_VERSION:[A-Z]*=//p' "$build/CMakeCache.txt")" ] \
    || { echo "FAIL: pkg-config version"; exit 1; }
awk '/^```c/{f=1;next} /^```/{f=0} f' "$src/README.md" > "$root/echo.c"
# shellcheck disable=SC2046
cc -std=c17 -Wall -Wextra -Wpedantic -Werror "$root/echo.c" $(pkg-config --cflags --libs dgram) -o "$root/echo"
libdir=$(pkg-config --variable=libdir dgram)
# ldd's output in full first: grep -q stops reading early, and under pipefail ldd's SIGPIPE would fail.
libs=$(LD_LIBRARY_PATH="$libdir" ldd "$root/echo")
grep -q "$libdir/libdgram.so" <<<"$libs" || { echo "FAIL: not linked to the installed libdgram.so: $libs"; exit 1; }
"$root$prefix/bin/dgram" --version
echo "install: header, libraries, dgram.pc and the tool installed under $prefix"
