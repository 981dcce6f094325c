// Shared socket helpers for the raw-layer tests: fd bookkeeping (every fd a test opens is closed after
// it), loopback listeners and connected pairs, bounded waits with poll(2), and the built package for
// child processes and worker threads.
import { execFileSync, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, rmdirSync, statSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { Worker } from 'node:worker_threads';
import * as path from 'node:path';
import { afterEach } from 'vitest';
import * as k from '../../lib/index';

/** The repository root. */
export const root = path.resolve(__dirname, '..', '..');

/** The fds a test opened; registers an afterEach (in the calling file) that closes whatever is left. */
export interface Fds {
  /** Remembers `fd` (or each fd of an array) to be closed after the test; returns it. */
  track<T extends number | readonly number[]>(fds: T): T;
  /** Closes `fd` now and forgets it. */
  close(fd: number): void;
  /** Forgets `fd` without closing it (its ownership went elsewhere, e.g. to a net.Socket). */
  release(fd: number): number;
}

export function useFds(): Fds {
  const open = new Set<number>();
  afterEach(() => {
    const fds = [...open];
    open.clear();
    for (const fd of fds) k.close(fd);
  });
  return {
    track(fds) {
      for (const fd of ([] as number[]).concat(fds as number | number[])) open.add(fd);
      return fds;
    },
    close(fd) {
      open.delete(fd);
      k.close(fd);
    },
    release(fd) {
      open.delete(fd);
      return fd;
    },
  };
}

/** Waits up to `timeoutMs` for `events` on `fd`; returns the revents (0 on timeout). */
export function waitFor(fd: number, events: number, timeoutMs = 2000): number {
  const set = new Int32Array([fd, events, 0]);
  const n = k.poll(set, 1, timeoutMs);
  if (n < 0) throw k.errnoError(n, 'poll');
  return set[2];
}

export function waitReadable(fd: number, timeoutMs = 2000): void {
  if (!(waitFor(fd, k.POLLIN, timeoutMs) & (k.POLLIN | k.POLLHUP | k.POLLERR))) {
    throw new Error(`fd ${fd} not readable within ${timeoutMs} ms`);
  }
}

/** A listening TCP socket on loopback (nonblocking, port from the kernel). */
export function listenTcp(fds: Fds, host = '127.0.0.1'): { fd: number; port: number } {
  const fd = fds.track(k.socket(host.includes(':') ? k.AF_INET6 : k.AF_INET, k.SOCK_STREAM | k.SOCK_NONBLOCK));
  k.bind(fd, host, 0);
  k.listen(fd, 128);
  return { fd, port: k.getsockname(fd).port! };
}

/** Accepts one connection, waiting up to 2 s for it to arrive. */
export function acceptOne(listener: number, flags = k.SOCK_NONBLOCK, peer?: Partial<k.SocketAddress>): number {
  waitReadable(listener);
  const fd = k.accept4(listener, flags, peer);
  if (fd < 0) throw k.errnoError(fd, 'accept4');
  return fd;
}

/** A connected TCP pair on loopback, both ends nonblocking; the listener is closed again. */
export function tcpPair(fds: Fds, host = '127.0.0.1'): { client: number; server: number; port: number } {
  const listener = listenTcp(fds, host);
  const client = fds.track(k.socket(host.includes(':') ? k.AF_INET6 : k.AF_INET, k.SOCK_STREAM | k.SOCK_NONBLOCK));
  const rc = k.connect(client, host, listener.port);
  if (rc !== 0 && rc !== -k.errno.EINPROGRESS) throw k.errnoError(rc, 'connect');
  const server = fds.track(acceptOne(listener.fd));
  if (!(waitFor(client, k.POLLOUT) & k.POLLOUT)) throw new Error('connect did not complete');
  fds.close(listener.fd);
  return { client, server, port: listener.port };
}

/** A nonblocking AF_UNIX stream socketpair. */
export function unixPair(fds: Fds, type = k.SOCK_STREAM): [number, number] {
  return fds.track(k.socketpair(k.AF_UNIX, type | k.SOCK_NONBLOCK));
}

/** Sends all of `data` on a nonblocking socket (waiting for POLLOUT when the buffer is full). */
export function sendAll(fd: number, data: Uint8Array): void {
  let off = 0;
  while (off < data.length) {
    const n = k.send(fd, data, off, data.length - off);
    if (n === -k.errno.EAGAIN) waitFor(fd, k.POLLOUT);
    else if (n < 0) throw k.errnoError(n, 'send', { fd });
    else off += n;
  }
}

/** Reads exactly `length` bytes (fewer if the peer closes) from a nonblocking socket within 2 s. */
export function recvExactly(fd: number, length: number, timeoutMs = 2000): Buffer {
  const out = Buffer.alloc(length);
  let got = 0;
  const deadline = Date.now() + timeoutMs;
  while (got < length) {
    const n = k.recv(fd, out, got, length - got);
    if (n === 0) break;
    if (n === -k.errno.EAGAIN) {
      const left = deadline - Date.now();
      if (left <= 0 || waitFor(fd, k.POLLIN, left) === 0) throw new Error(`recv timed out after ${got}/${length} bytes`);
    } else if (n < 0) {
      throw k.errnoError(n, 'recv', { fd });
    } else {
      got += n;
    }
  }
  return out.subarray(0, got);
}

/** Sends on a nonblocking socket until the kernel says EAGAIN; returns the bytes queued. */
export function fillUntilEagain(fd: number): number {
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  let total = 0;
  for (;;) {
    const n = k.send(fd, chunk);
    if (n === -k.errno.EAGAIN) return total;
    if (n < 0) throw k.errnoError(n, 'send', { fd });
    total += n;
  }
}

/** Reads whatever is queued on a nonblocking socket until EAGAIN or EOF; returns the byte count. */
export function drain(fd: number): number {
  const buf = Buffer.alloc(64 * 1024);
  let total = 0;
  for (;;) {
    const n = k.recv(fd, buf);
    if (n <= 0) return total;
    total += n;
  }
}

export function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** A fresh temp directory, removed with everything in it by the returned function. */
export function tempDir(): { dir: string; remove: () => void } {
  const dir = mkdtempSync(path.join(tmpdir(), 'epollkit-test-'));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A name in the abstract AF_UNIX namespace, unique to this run. */
export function abstractName(): string {
  return `\0epollkit-test-${process.pid}-${randomBytes(6).toString('hex')}`;
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(full) : statSync(full).mtimeMs);
  }
  return newest;
}

/**
 * The absolute path of the built package (dist/index.js), for worker threads and child `node` processes,
 * which cannot load lib/*.ts. `npm test` builds it first; when it is missing or older than lib/, it is
 * built here, under a lock so that parallel test files do not build at once.
 */
export function distIndex(): string {
  const index = path.join(root, 'dist', 'index.js');
  const fresh = (): boolean => {
    try {
      return statSync(index).mtimeMs >= newestMtime(path.join(root, 'lib'));
    } catch {
      return false;
    }
  };
  if (fresh()) return index;
  const lock = path.join(tmpdir(), `epollkit-build-${createHash('sha1').update(root).digest('hex').slice(0, 8)}.lock`);
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      if (Date.now() > deadline) break; // a stale lock: build anyway
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100);
    }
  }
  try {
    if (!fresh()) {
      try {
        execFileSync(process.execPath, [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], {
          cwd: root,
          stdio: 'pipe',
        });
      } catch (error) {
        // tsc still emits on type errors elsewhere in lib/; only a missing output is fatal.
        if (!existsSync(index)) throw error;
      }
      execFileSync(process.execPath, [path.join(root, 'scripts', 'esm-entry.mjs')], { cwd: root, stdio: 'pipe' });
    }
  } finally {
    try {
      rmdirSync(lock);
    } catch {
      // another process removed a stale lock
    }
  }
  return index;
}

/**
 * Runs `script` in a child `node` process with `EPOLLKIT` set to the built package's path (the script
 * does `require(process.env.EPOLLKIT)`), under a timeout.
 */
export function runNode(script: string, args: string[] = [], timeoutMs = 15_000): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [...args, '-e', script], {
    env: { ...process.env, EPOLLKIT: distIndex() },
    encoding: 'utf8',
    timeout: timeoutMs,
  });
}

/** The last line of a child's stdout, parsed as JSON. */
export function lastJson<T = Record<string, unknown>>(stdout: string): T {
  const lines = stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]) as T;
}

/** `promise`, or a rejection after `ms`: a callback or worker that never answers fails its test fast. */
export function within<T>(promise: Promise<T>, what: string, ms = 5000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: nothing within ${ms} ms`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

/** A worker thread running `body` with `k` (the built package), `parentPort` and `workerData` in scope. */
export interface StartedWorker {
  worker: Worker;
  /** Every 'error' the worker emitted. */
  errors: unknown[];
  /** Its first message; rejects if it exits first or stays silent for `ms` (then it is terminated). */
  firstMessage<T = unknown>(ms?: number): Promise<T>;
  /** Its exit code, within `ms` (then it is terminated and this rejects). */
  exited(ms?: number): Promise<number>;
}

export function startWorker(body: string, data: Record<string, unknown> = {}): StartedWorker {
  const script = `const { parentPort, workerData } = require('node:worker_threads');
const k = require(workerData.dist);
${body}`;
  const worker = new Worker(script, { eval: true, workerData: { dist: distIndex(), ...data } });
  const errors: unknown[] = [];
  worker.on('error', (e) => errors.push(e));
  // Listen at once, so neither the first message nor the exit can be missed.
  const exited = new Promise<number>((resolve) => worker.once('exit', resolve));
  const first = new Promise<unknown>((resolve, reject) => {
    worker.once('message', resolve);
    void exited.then((code) =>
      reject(new Error(`worker exited with code ${code} before posting a message ${errors.map(String).join('; ')}`)),
    );
  });
  first.catch(() => {}); // observed by firstMessage() when a test asks for it
  const guard = async <T>(promise: Promise<T>, what: string, ms: number): Promise<T> => {
    try {
      return await within(promise, what, ms);
    } catch (error) {
      await worker.terminate();
      throw error;
    }
  };
  return {
    worker,
    errors,
    firstMessage: <T>(ms = 5000) => guard(first as Promise<T>, 'message from the worker', ms),
    exited: (ms = 5000) => guard(exited, 'worker exit', ms),
  };
}

/** A loopback TCP port nothing listens on: the kernel's choice, bound and closed again. */
export async function unusedPort(): Promise<number> {
  const server = net.createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  server.close();
  await once(server, 'close');
  return port;
}
