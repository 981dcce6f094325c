#!/usr/bin/env bash
# Builds the addon with AddressSanitizer + UndefinedBehaviorSanitizer (cmake-js, build-asan/) and runs the
# vitest suite against it: EPOLLKIT_NATIVE makes lib/binding.ts load that file instead of build/Release,
# and libasan is preloaded into node (and inherited by every worker and child node) because node itself
# is not instrumented. Extra arguments go to vitest (e.g. --reporter=json --outputFile=...).
#   bash scripts/test-asan.sh            # or: npm run test:asan
#   SKIP_BUILD=1 bash scripts/test-asan.sh   # reuse build-asan/
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

if [[ -z "${SKIP_BUILD:-}" ]]; then
  npm run --silent build:asan
fi
[[ -f dist/index.js ]] || npm run --silent build:ts

addon="$root/build-asan/Release/epollkit.node"
[[ -f "$addon" ]] || { echo "test-asan: $addon was not built" >&2; exit 1; }

libasan=$(gcc -print-file-name=libasan.so)
[[ "$libasan" == /* && -e "$libasan" ]] || { echo "test-asan: libasan.so not found (gcc -print-file-name=libasan.so)" >&2; exit 1; }
libasan=$(readlink -f "$libasan")

export EPOLLKIT_NATIVE="$addon"
# V8 keeps memory until exit by design: leak detection would report it, not our bugs.
export ASAN_OPTIONS="detect_leaks=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"

# Prove what is loaded: the sanitized addon, and libasan, in a node started the way vitest's will be.
LD_PRELOAD="$libasan" node -e '
  require("./dist/index.js");
  const maps = require("fs").readFileSync("/proc/self/maps", "utf8");
  const addon = maps.includes(process.env.EPOLLKIT_NATIVE), asan = /libasan\.so/.test(maps);
  console.log(`test-asan: addon ${process.env.EPOLLKIT_NATIVE} mapped: ${addon}; libasan mapped: ${asan}`);
  if (!addon || !asan) process.exit(1);
'

# LD_PRELOAD reaches every child the tests start. Most tools run fine with libasan preloaded, but curl
# deadlocks at start-up (glibc's setlocale lock, seen with Debian 12's gcc 12 libasan): such tools run
# through a wrapper, first on PATH, that drops LD_PRELOAD. None of them starts node.
nopreload="$root/build-asan/no-preload-bin"
rm -rf "$nopreload"
mkdir -p "$nopreload"
for tool in curl; do
  real=$(command -v "$tool" || true)
  [[ -n "$real" ]] || continue
  printf '#!/bin/sh\nunset LD_PRELOAD\nexec %q "$@"\n' "$real" >"$nopreload/$tool"
  chmod +x "$nopreload/$tool"
done

PATH="$nopreload:$PATH" LD_PRELOAD="$libasan" node node_modules/vitest/vitest.mjs run "$@"
