#!/usr/bin/env bash
# Regenerates dev.guestmem.linux with the real jextract (JDK 22+ jextract, https://jdk.java.net/jextract/).
# jextract is NOT installed in guestmem's build environment and this script has not been run there;
# the committed sources come from standin/gen_bindings.py, which emits the same shape plus the
# post-processing listed in ../README.md (errno capture, critical calls, fixed variadic shapes).
#
#   usage: jextract/regenerate.sh [OUTPUT_DIR]     (run from native-bindings/; default: a temp dir,
#          so the result can be diffed against src/main/java before anything is replaced)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
OUT="${1:-$(mktemp -d)}"
ARGS="$(mktemp)"
trap 'rm -f "$ARGS"' EXIT
# symbols.txt holds one "--include-xxx name" per line, with # comments; jextract's @argfile does not
# take comments, so strip them.
sed -e 's/#.*//' -e '/^[[:space:]]*$/d' jextract/symbols.txt > "$ARGS"

jextract \
  --output "$OUT" \
  --target-package dev.guestmem.linux \
  --header-class-name Linux \
  -I /usr/include \
  @"$ARGS" \
  jextract/guestmem_linux.h

echo "jextract wrote $OUT/dev/guestmem/linux; diff it with src/main/java/dev/guestmem/linux" >&2
