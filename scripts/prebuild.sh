#!/usr/bin/env bash
# Builds the N-API prebuild shipped in the package, prebuilds/linux-x64/epollkit.node, with
# `npm run prebuildify` (prebuildify --napi --strip), against the running node's own headers (offline),
# and leaves an existing build/ untouched (prebuildify rebuilds build/ and moves its addon out of it).
# Used by `npm pack` (prepack) and scripts/test-prebuilt.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

# With no nodedir configured, node-gyp would download headers; the running node's are enough (N-API).
if [[ -z "${npm_config_nodedir:-}" ]]; then
  prefix=$(node -p "require('path').dirname(require('path').dirname(process.execPath))")
  [[ -f "$prefix/include/node/common.gypi" ]] && export npm_config_nodedir="$prefix"
fi

source scripts/build-aside.sh

rm -rf prebuilds
npm run --silent prebuildify >/dev/null
ls prebuilds/linux-x64/*.node >/dev/null
echo "prebuild: $(cd prebuilds/linux-x64 && ls -1 *.node | sed "s|^|prebuilds/linux-x64/|")"
