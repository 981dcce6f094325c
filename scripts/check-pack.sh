#!/usr/bin/env bash
# Packs epollkit as it would be published and installs the tarball into an empty scratch project where no
# compiler is reachable, then checks that require('epollkit') and import('epollkit') both load the
# shipped prebuild and work. Prints PASS/FAIL lines; exits non-zero if anything failed.
#   bash scripts/check-pack.sh           # or: npm run check:pack
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
unset EPOLLKIT_NATIVE

failed=0
pass() { echo "PASS $*"; }
fail() { echo "FAIL $*"; failed=$((failed + 1)); }
check() { local what=$1; shift; if "$@"; then pass "$what"; else fail "$what"; fi; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/epollkit-pack.XXXXXX")
[[ -n "${KEEP_TMP:-}" ]] || trap 'rm -rf "$tmp"' EXIT

# 1. Pack. `prepack` compiles the TypeScript and builds prebuilds/ first.
if ! npm pack --silent --pack-destination "$tmp" >"$tmp/pack.log" 2>&1; then
  cat "$tmp/pack.log"
  fail "npm pack"
  echo "check-pack: $failed failed"
  exit 1
fi
tarball=$(ls "$tmp"/epollkit-*.tgz)
pass "npm pack -> $(basename "$tarball") ($(du -k "$tarball" | cut -f1) kB)"

tar tzf "$tarball" | sed 's|^package/||' | sort >"$tmp/contents"
for f in package.json README.md binding.gyp CMakeLists.txt dist/index.js dist/index.mjs dist/index.d.ts \
  prebuilds/linux-x64/epollkit.node native/addon.cc native/common.h; do
  check "tarball contains $f" grep -qx "$f" "$tmp/contents"
done
check "tarball holds no tests, build/ or node_modules/" bash -c "! grep -qE '^(test|build|build-asan|node_modules|lib)/' '$tmp/contents'"
# tsc never deletes: a dist/*.js whose lib/*.ts is gone would ship stale code.
stale=$(sed -n 's|^dist/\(.*\)\.js$|\1|p' "$tmp/contents" | while read -r m; do [[ -f "lib/$m.ts" ]] || echo "dist/$m.js"; done)
check "every dist/*.js in the tarball has its lib/*.ts${stale:+ (stale: $(echo $stale))}" test -z "$stale"

# 2. Install into an empty project with a PATH that reaches node and a shell, and nothing to compile with.
app="$tmp/app"
bin="$tmp/bin"
mkdir -p "$app" "$bin"
ln -s "$(command -v node)" "$bin/node"
for tool in sh bash env; do ln -s "$(command -v "$tool")" "$bin/$tool"; done
npm_cli=$(node -p "require.resolve('npm/bin/npm-cli.js', { paths: [require('path').dirname(process.execPath) + '/../lib/node_modules'] })" 2>/dev/null) ||
  npm_cli=$(readlink -f "$(command -v npm)")
cat >"$app/package.json" <<'JSON'
{ "name": "epollkit-scratch", "version": "1.0.0", "private": true }
JSON

nocc=1
for tool in cc gcc g++ c++ make python3 python cmake; do
  if PATH="$bin" command -v "$tool" >/dev/null 2>&1; then nocc=0; echo "  reachable: $tool"; fi
done
check "no compiler, make or python on the install PATH" test "$nocc" = 1

if (cd "$app" && PATH="$bin" node "$npm_cli" install --no-audit --no-fund --foreground-scripts "$tarball") >"$tmp/install.log" 2>&1; then
  pass "npm install <tarball> without a compiler"
else
  sed 's/^/  | /' "$tmp/install.log"
  fail "npm install <tarball> without a compiler"
fi
pkg="$app/node_modules/epollkit"
check "no build/ directory in node_modules/epollkit (node-gyp did not run)" test ! -e "$pkg/build"
check "install log shows no node-gyp run" bash -c "! grep -qE 'gyp (info|ERR)|node-gyp rebuild' '$tmp/install.log'"
check "node-gyp-build resolves the shipped prebuild" bash -c \
  "cd '$app' && [[ \$(PATH='$bin' node -p \"require('node-gyp-build').path('$pkg')\") == '$pkg/prebuilds/linux-x64/epollkit.node' ]]"

# 3. Use it from CommonJS and from ESM: an epoll fd, a socketpair, ET readiness, send/recv, close.
cat >"$app/use.cjs" <<'JS'
const k = require('epollkit');
const fs = require('fs');
const epfd = k.epollCreate1();
const [a, b] = k.socketpair(k.AF_UNIX, k.SOCK_STREAM | k.SOCK_NONBLOCK);
k.epollCtl(epfd, k.EPOLL_CTL_ADD, a, k.EPOLLIN | k.EPOLLET);
const events = new Int32Array(2 * 8);
if (k.epollWait(epfd, events, 0) !== 0) throw new Error('ready before any data');
if (k.send(b, Buffer.from('ping')) !== 4) throw new Error('send');
if (k.epollWait(epfd, events, 1000) !== 1 || events[0] !== a || !(events[1] & k.EPOLLIN)) throw new Error('epollWait');
const buf = Buffer.alloc(16);
const n = k.recv(a, buf);
if (buf.toString('latin1', 0, n) !== 'ping') throw new Error('recv ' + n);
if (k.recv(a, buf) !== -k.errno.EAGAIN) throw new Error('drained socket should give -EAGAIN');
for (const fd of [a, b, epfd]) k.close(fd);
let threw = false;
try { k.close(epfd); } catch (e) { threw = e.code === 'EBADF' && e.syscall === 'close'; }
if (!threw) throw new Error('close of a closed fd should throw EBADF');
const mapped = fs.readFileSync('/proc/self/maps', 'utf8').split('\n').map((l) => l.split(/\s+/)[5]).filter((f) => f && f.endsWith('.node'));
console.log('cjs ok: ' + require.resolve('epollkit') + ' addon ' + [...new Set(mapped)].join(','));
JS
cat >"$app/use.mjs" <<'JS'
import { createRequire } from 'node:module';
import * as k from 'epollkit';
import kDefault from 'epollkit';
const dyn = await import('epollkit');
const cjs = createRequire(import.meta.url)('epollkit');
if (dyn.epollWait !== cjs.epollWait || kDefault.recv !== k.recv) throw new Error('ESM and CJS faces differ');
const epfd = k.epollCreate1();
const [a, b] = k.socketpair(k.AF_UNIX, k.SOCK_STREAM | k.SOCK_NONBLOCK);
k.epollCtl(epfd, k.EPOLL_CTL_ADD, a, k.EPOLLIN);
k.send(b, new TextEncoder().encode('pong'));
const events = new Int32Array(2 * 8);
if (k.epollWait(epfd, events, 1000) !== 1 || events[0] !== a) throw new Error('epollWait');
const buf = new Uint8Array(16);
const n = k.recv(a, buf);
if (new TextDecoder().decode(buf.subarray(0, n)) !== 'pong') throw new Error('recv ' + n);
for (const fd of [a, b, epfd]) k.close(fd);
console.log('esm ok: ' + import.meta.resolve('epollkit'));
JS
for face in cjs mjs; do
  if out=$(cd "$app" && PATH="$bin" node "use.$face" 2>&1); then
    pass "$([[ $face == cjs ]] && echo "require('epollkit')" || echo "import('epollkit')") works: $out"
  else
    echo "$out" | sed 's/^/  | /'
    fail "$([[ $face == cjs ]] && echo "require('epollkit')" || echo "import('epollkit')") works"
  fi
done

if ((failed)); then echo "check-pack: $failed check(s) FAILED"; exit 1; fi
echo "check-pack: all checks passed"
