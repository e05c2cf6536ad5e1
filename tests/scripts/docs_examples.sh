#!/usr/bin/env bash
# Every complete C program shown in README.md and docs/*.md (a ```c block with a main) compiles as it
# stands, warning-free, against the library just built.
set -euo pipefail
src=${DGRAM_SOURCE:?} build=${DGRAM_BUILD:?}
# The compiler and sanitizer flags the library was built with, or it will not link.
cc=$(sed -n 's/^CMAKE_C_COMPILER:[A-Z]*=//p' "$build/CMakeCache.txt")
extra=()
grep -q '^DGRAM_SANITIZE:BOOL=ON' "$build/CMakeCache.txt" && extra=(-fsanitize=address,undefined)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0
for doc in "$src"/README.md "$src"/docs/*.md; do
    [ -f "$doc" ] || continue
    # Split the document's ```c blocks into block-N.c files.
    awk -v dir="$tmp" -v base="$(basename "$doc" .md)" '
        /^```c[[:space:]]*$/ { k++; f = dir "/" base "-" k ".c"; inblock = 1; next }
        /^```/ && inblock { inblock = 0; close(f); next }
        inblock { print > f }' "$doc"
done
for f in "$tmp"/*.c; do
    [ -e "$f" ] || continue
    grep -q 'int main' "$f" || continue
    "$cc" -std=c17 -Wall -Wextra -Wpedantic -Werror -I"$src/include" "${extra[@]}" "$f" "$build/src/libdgram.a" \
        -lpthread -lm -o "${f%.c}" || { echo "FAIL: $(basename "$f") does not compile"; exit 1; }
    n=$((n + 1))
done
[ "$n" -gt 0 ] || { echo "FAIL: no C program found in the docs"; exit 1; }
echo "docs_examples: $n programs compiled"
