#!/usr/bin/env bash
# Runs the vitest suite against the prebuild that ships in the package (prebuilds/linux-x64/epollkit.node),
# not against build/Release: builds it with prebuildify, moves build/ aside so that node-gyp-build can only
# find the prebuild, proves which file is loaded, runs vitest, and puts build/ back (also on failure).
# Extra arguments go to vitest (e.g. --reporter=json --outputFile=...).
#   bash scripts/test-prebuilt.sh        # or: npm run test:prebuilt
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
unset EPOLLKIT_NATIVE PREBUILDS_ONLY

source scripts/build-aside.sh

bash scripts/prebuild.sh
[[ -f dist/index.js ]] || npm run --silent build:ts

resolved=$(node -p "require('node-gyp-build').path(process.cwd())")
echo "test-prebuilt: node-gyp-build resolves $resolved"
case "$resolved" in
  "$root"/prebuilds/linux-x64/*.node) ;;
  *) echo "test-prebuilt: FAIL: expected a file under prebuilds/linux-x64/" >&2; exit 1 ;;
esac
node -e '
  require("./dist/index.js");
  const maps = require("fs").readFileSync("/proc/self/maps", "utf8");
  const loaded = [...new Set(maps.split("\n").map((l) => l.split(/\s+/)[5]).filter((f) => f && f.endsWith(".node")))];
  console.log(`test-prebuilt: addon mapped by require("epollkit"): ${loaded.join(", ")}`);
  if (loaded.length !== 1 || loaded[0] !== process.argv[1]) process.exit(1);
' "$resolved"

node node_modules/vitest/vitest.mjs run "$@"
