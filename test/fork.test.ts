// fork(), _exit, waitpid, kill and the child's blocking I/O, under the rules of
// shared/research/fork-safety.md. Everything that forks runs in a child `node --single-threaded` process
// (test/fixtures/*.js, which load the built package from dist/ and print one JSON line) under a timeout
// that SIGKILLs its whole process group, forked grandchildren included: never inside this vitest worker.
// Needs `npm run build:ts` first (npm test does it).
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import * as k from '../lib/index';

const FIXTURES = path.join(__dirname, 'fixtures');

interface WaitResult {
  status: k.WaitStatus;
  hung: boolean;
}

interface Run {
  /** The fixture's JSON result line (the last line of its stdout), if it printed one. */
  json: any;
  stdout: string;
  stderr: string;
  code: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  /** Processes of the fixture's group still alive after it exited (forked children it failed to reap). */
  strays: boolean;
  ms: number;
}

/**
 * Runs test/fixtures/<name> as `node --single-threaded <name> ...args` in a new process group, with core
 * dumps off. At `timeoutMs` the whole group gets SIGKILL.
 */
function runFixture(
  name: string,
  args: Array<string | number> = [],
  { timeoutMs = 20_000, nodeArgs = ['--single-threaded'] }: { timeoutMs?: number; nodeArgs?: string[] } = {},
): Promise<Run> {
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  const started = Date.now();
  const child = spawn(
    '/bin/sh',
    ['-c', 'ulimit -c 0; exec "$@"', 'sh', process.execPath, ...nodeArgs, path.join(FIXTURES, name), ...args.map(String)],
    { detached: true, stdio: ['ignore', 'pipe', 'pipe'], env },
  );
  const pgid = child.pid as number;
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
  child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      // the group is gone already
    }
  }, timeoutMs);
  return new Promise((resolve, reject) => {
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      let strays = false;
      try {
        process.kill(-pgid, 0);
        strays = true;
        process.kill(-pgid, 'SIGKILL');
      } catch {
        // no process left in the group: the fixture reaped all it forked
      }
      const stdout = Buffer.concat(out).toString();
      const lines = stdout.split('\n').filter((line) => line.trim() !== '');
      let json: unknown;
      try {
        json = JSON.parse(lines[lines.length - 1] ?? '');
      } catch {
        json = undefined;
      }
      resolve({ json, stdout, stderr: Buffer.concat(err).toString(), code, signal, timedOut, strays, ms: Date.now() - started });
    });
  });
}

/** What to print when an assertion on a run fails. */
function describeRun(run: Run): string {
  const tail = (s: string) => (s.length > 3000 ? `...${s.slice(-3000)}` : s);
  return `exit ${run.code} signal ${run.signal} timedOut ${run.timedOut} strays ${run.strays} after ${run.ms} ms\nstdout: ${tail(run.stdout)}\nstderr: ${tail(run.stderr)}`;
}

/** The fixture ended by itself, cleanly, and reported a result. */
function expectCompleted(run: Run): void {
  expect({ timedOut: run.timedOut, code: run.code, signal: run.signal, strays: run.strays }, describeRun(run)).toEqual({
    timedOut: false,
    code: 0,
    signal: null,
    strays: false,
  });
  expect(run.json, describeRun(run)).toBeTypeOf('object');
  expect(run.json.error, describeRun(run)).toBeUndefined();
}

function exited(code: number): WaitResult {
  return { status: { pid: expect.any(Number), exitCode: code, signal: null }, hung: false } as WaitResult;
}

function killedBy(signal: string): WaitResult {
  return { status: { pid: expect.any(Number), exitCode: null, signal }, hung: false } as WaitResult;
}

describe('fork: refusals', () => {
  it('throws ERR_EPOLLKIT_FORK_NOT_SINGLE_THREADED without --single-threaded (here, in the vitest worker)', () => {
    expect(process.execArgv).not.toContain('--single-threaded');
    expect(() => k.fork()).toThrow(expect.objectContaining({ code: 'ERR_EPOLLKIT_FORK_NOT_SINGLE_THREADED' }));
  });

  it('throws ERR_EPOLLKIT_FORK_NOT_SINGLE_THREADED in a plain `node` too', async () => {
    const run = await runFixture('fork-identity.js', [], { nodeArgs: [] });
    expect(run.timedOut, describeRun(run)).toBe(false);
    expect(run.code, describeRun(run)).toBe(1);
    expect(run.json.code, describeRun(run)).toBe('ERR_EPOLLKIT_FORK_NOT_SINGLE_THREADED');
    expect(run.strays).toBe(false);
  });

  it('throws ERR_EPOLLKIT_FORK_WORKERS while a worker lives and inside a worker; forks again once they exit', async () => {
    const run = await runFixture('fork-workers.js');
    expectCompleted(run);
    expect(run.json).toEqual({
      execArgv: ['--single-threaded'],
      withLiveWorker: 'ERR_EPOLLKIT_FORK_WORKERS',
      insideWorker: 'ERR_EPOLLKIT_FORK_WORKERS',
      afterWorkersExited: exited(5),
      zombies: 0,
    });
  });

  // BUG (lib/sys/process.ts): workers are counted through the 'worker_threads' diagnostics channel,
  // which only sees workers created after epollkit was loaded; an earlier worker goes unnoticed and
  // fork() goes ahead with a live worker thread.
  it('throws ERR_EPOLLKIT_FORK_WORKERS for a worker started before epollkit was loaded', async () => {
    const run = await runFixture('fork-early-worker.js');
    expectCompleted(run);
    expect(run.json).toEqual({ withEarlyWorker: 'ERR_EPOLLKIT_FORK_WORKERS', zombies: 0 });
  });
});

describe('fork: children', () => {
  it('the child sees its own getpid() and the parent as getppid(); process.pid still holds the parent pid', async () => {
    const run = await runFixture('fork-identity.js');
    expectCompleted(run);
    const { parentPid, parentGetpid, forkReturned, child, status, hung, zombies } = run.json;
    expect(parentGetpid).toBe(parentPid);
    expect(child.getpid).toBe(forkReturned);
    expect(child.getpid).not.toBe(parentPid);
    expect(child.getppid).toBe(parentPid);
    // The documented trap: process.pid is cached at startup, so a forked child reads the parent's.
    expect(child.processPid).toBe(parentPid);
    expect(child.processPpid).toBe(parentPid);
    expect({ status, hung }).toEqual(exited(0));
    expect(zombies).toBe(0);
  });

  it('200 forks of an allocating child, 2 in flight, parent churning: 0 crashes, 0 hangs, exit codes via _exit', async () => {
    // count inflight hangMs rounds objectsPerRound: each child allocates ~30 MB (2 x 40k small objects
    // with strings and arrays, 2 x 256 KiB of Buffers, base64, JSON, a Map) and runs its own GCs.
    // Nominal ~15 s on an idle 2-core machine; the long backstop is for a loaded CI box (hangs are
    // caught per child by the fixture's 5 s watchdog, not by this timeout).
    const run = await runFixture('fork-alloc.js', [200, 2, 5000, 2, 40000], { timeoutMs: 110_000 });
    expectCompleted(run);
    expect(run.json).toMatchObject({
      count: 200,
      ok: 200,
      crashed: 0,
      hung: 0,
      wrongExitCode: 0,
      badChecksum: 0,
      badReply: 0,
      signals: {},
      zombies: 0,
      fdDelta: 0,
    });
  }, 120_000);

  it('waitpid reports signals: SIGSEGV, SIGABRT, SIGTERM, a WUNTRACED stop; process.exit() in a child crashes', async () => {
    const run = await runFixture('fork-crash.js');
    expectCompleted(run);
    expect(run.json).toEqual({
      segv: killedBy('SIGSEGV'),
      abort: killedBy('SIGABRT'),
      terminated: killedBy('SIGTERM'),
      // The documented trap (DESIGN.md, fork rule 3): Node's exit path joins threads the child does not
      // have. If this starts passing with an exit code, the rule can be revisited.
      processExit: killedBy('SIGSEGV'),
      stopped: { pid: expect.any(Number), exitCode: null, signal: 'SIGSTOP', stopped: true },
      killedAfterStop: killedBy('SIGKILL'),
      zombies: 0,
    });
  });

  it("a child dies by SIGTERM although the parent catches it: caught signals reset to SIG_DFL, SIGPIPE still ignored, none blocked", async () => {
    const run = await runFixture('fork-signals.js');
    expectCompleted(run);
    expect(run.json).toEqual({
      parentCatchesTerm: true,
      parentIgnoresPipe: true,
      ready: 1,
      childCaughtStandard: '0',
      childBlocked: '0',
      childIgnoresPipe: true,
      running: killedBy('SIGTERM'),
      early: killedBy('SIGTERM'),
      parentGot: 0,
      zombies: 0,
    });
  });

  it('SIGCHLD + waitpid over our own pids + a sweep: 100 child_process.spawn exit codes stay right', async () => {
    const run = await runFixture('fork-sigchld.js', [300, 100, 3, 4]);
    expectCompleted(run);
    expect(run.json).toMatchObject({
      forks: 300,
      forksOk: 300,
      forksWrongCode: [],
      forksCrashed: 0,
      forksHung: 0,
      spawns: 100,
      spawnsOk: 100,
      spawnsWrong: [],
      spawnsMissing: 0,
      spawnErrors: [],
      zombies: 0,
      ownLeft: 0,
    });
    expect(run.json.sigchldEvents).toBeGreaterThan(0);
  });
});

describe('fork(watch) and reapEnded: pidfds instead of SIGCHLD', () => {
  it('every child\'s end is reported once with its code or signal, pidfds released, no zombie, no SIGCHLD', async () => {
    const run = await runFixture('fork-watch.js');
    expectCompleted(run);
    expect(run.json).toEqual({
      supported: true,
      children: 23,
      reported: 23,
      wrong: [],
      sweptStatus: expect.objectContaining({ exitCode: 7 }),
      severalCalls: true,
      afterAll: 0,
      zombies: 0,
      fdsLeaked: 0,
    });
  });

  it('reapEnded refuses a negative fd and anything but an Int32Array of a triple or more; EINVAL for a non-epoll fd', () => {
    expect(() => k.reapEnded(-1, new Int32Array(3))).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    expect(() => k.reapEnded(0, new Uint8Array(3) as unknown as Int32Array)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    expect(() => k.reapEnded(0, new Int32Array(2))).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    const notEpoll = k.eventfd();
    try {
      expect(k.reapEnded(notEpoll, new Int32Array(3))).toBe(-k.errno.EINVAL);
    } finally {
      k.close(notEpoll);
    }
  });
});

describe('acceptFork: accept4, fork and close per pending connection in one call', () => {
  it('takes the backlog in batches up to max; each child gets its connection (TCP_NODELAY set); the parent keeps no connection fd, reaps all', async () => {
    const run = await runFixture('fork-accept.js');
    expectCompleted(run);
    expect(run.json).toEqual({
      errors: {
        negativeFd: { code: 'ERR_OUT_OF_RANGE' },
        notInt32Array: { code: 'ERR_INVALID_ARG_TYPE' },
        outTooShort: { code: 'ERR_OUT_OF_RANGE' },
        maxZero: { code: 'ERR_OUT_OF_RANGE' },
      },
      notListening: [0, -k.errno.EINVAL, 0],
      nothingPending: [0, -k.errno.EAGAIN, 0],
      batches: [
        { n: 5, end: 0, forkErrno: 0 },
        { n: 7, end: -k.errno.EAGAIN, forkErrno: 0 },
      ],
      accept4Calls: 13,
      // The listener, the watch fd, the 12 clients and a pidfd per live child: no accepted connection.
      fdsWhileServing: 2 + 12 + 12,
      pidsServed: true,
      distinctPids: 12,
      noDelay: Array(12).fill(1),
      exitCodes: Array(12).fill(0),
      reapedAll: true,
      zombies: 0,
      fdsLeaked: 0,
    });
  });

  it('throws ERR_EPOLLKIT_FORK_NOT_SINGLE_THREADED without --single-threaded, before accepting anything', () => {
    expect(() => k.acceptFork(0, -1, new Int32Array(3), 1)).toThrow(expect.objectContaining({ code: 'ERR_EPOLLKIT_FORK_NOT_SINGLE_THREADED' }));
  });
});

describe('waitpid / kill errors', () => {
  it('refuses waitpid(-1), waitpid(0), kill(0) and kill(-pgid) with ERR_EPOLLKIT_* codes', () => {
    expect(() => k.waitpid(-1)).toThrow(expect.objectContaining({ code: 'ERR_EPOLLKIT_WAITPID_PID' }));
    expect(() => k.waitpid(0)).toThrow(expect.objectContaining({ code: 'ERR_EPOLLKIT_WAITPID_PID' }));
    expect(() => k.kill(0)).toThrow(expect.objectContaining({ code: 'ERR_EPOLLKIT_KILL_PID' }));
    expect(() => k.kill(0, 0)).toThrow(expect.objectContaining({ code: 'ERR_EPOLLKIT_KILL_PID' }));
    expect(() => k.kill(-process.pid, 0)).toThrow(expect.objectContaining({ code: 'ERR_EPOLLKIT_KILL_PID' }));
  });

  // BUG (native/errors.cc): ThrowErrno names errors with uv_err_name, and libuv has no ECHILD, so the
  // code comes out as 'Unknown system error -10'.
  it('waitpid of a pid that is not our child throws ECHILD', () => {
    expect(() => k.waitpid(process.ppid)).toThrow(
      expect.objectContaining({ code: 'ECHILD', errno: -k.errno.ECHILD, syscall: 'waitpid' }),
    );
  });

  it('after a child is reaped: kill throws ESRCH and waitpid throws ECHILD', async () => {
    const run = await runFixture('fork-errors.js');
    expectCompleted(run);
    const { first, killReaped, killReapedTerm, waitpidMinusOne, waitpidZero, killZero, killGroup, zombies } = run.json;
    expect(first).toEqual(exited(3));
    expect(killReaped).toEqual({ code: 'ESRCH', syscall: 'kill', errno: -k.errno.ESRCH });
    expect(killReapedTerm).toEqual({ code: 'ESRCH', syscall: 'kill', errno: -k.errno.ESRCH });
    expect(waitpidMinusOne).toEqual({ code: 'ERR_EPOLLKIT_WAITPID_PID' });
    expect(waitpidZero).toEqual({ code: 'ERR_EPOLLKIT_WAITPID_PID' });
    expect(killZero).toEqual({ code: 'ERR_EPOLLKIT_KILL_PID' });
    expect(killGroup).toEqual({ code: 'ERR_EPOLLKIT_KILL_PID' });
    expect(zombies).toBe(0);
    // Last, as it fails today on the ECHILD name (see above).
    expect(run.json.waitpidReaped).toEqual({ code: 'ECHILD', syscall: 'waitpid', errno: -k.errno.ECHILD });
    expect(run.json.waitpidNotChild).toEqual({ code: 'ECHILD', syscall: 'waitpid', errno: -k.errno.ECHILD });
  });
});

describe("the child's blocking I/O", () => {
  it('echoes 1 MiB over an inherited nonblocking socketpair end; deadlines; short count at EOF', async () => {
    const run = await runFixture('fork-io.js');
    expectCompleted(run);
    const { inheritedNonBlocking, echo, ready, deadlines, deadlinesExit, zombies, fdDelta } = run.json;
    expect(inheritedNonBlocking).toBe(true);
    expect(echo.bytes).toBe(1 << 20);
    expect(echo.echoedSha256).toBe(echo.sentSha256);
    // Exit 0 = O_NONBLOCK still set in the child after readFull/readSome/writeAll (10 = cleared).
    expect({ status: echo.status, hung: echo.hung }).toEqual(exited(0));
    expect(echo.parentNonBlocking).toBe(true);
    expect(ready).toBe('ready\n');
    expect(deadlines).toMatchObject({
      readFullTimeout: { code: 'ETIMEDOUT' },
      readSomeTimeout: { code: 'ETIMEDOUT' },
      writeAllTimeout: { code: 'ETIMEDOUT' },
      shortCount: 5,
      shortData: 'hello',
      afterEof: 0,
      nonBlocking: true,
      stuffedNonBlocking: true,
    });
    // The deadlines hold: not early, not far late (generous upper bounds for a loaded CI machine).
    expect(deadlines.readFullTimeout.ms).toBeGreaterThanOrEqual(295);
    expect(deadlines.readFullTimeout.ms).toBeLessThan(2000);
    expect(deadlines.readSomeTimeout.ms).toBeGreaterThanOrEqual(95);
    expect(deadlines.writeAllTimeout.ms).toBeGreaterThanOrEqual(195);
    expect(deadlines.writeAllTimeout.ms).toBeLessThan(2000);
    expect(deadlinesExit).toEqual(exited(0));
    expect(zombies).toBe(0);
    expect(fdDelta).toBe(0);
  });

  it('a writeAll of 1 MiB to a nonblocking pipe (the child stdout) arrives complete before _exit', async () => {
    const run = await runFixture('fork-pipe.js');
    expectCompleted(run);
    const { stdoutNonBlocking, payloadBytes, payloadSha256, status, hung, zombies } = run.json;
    expect(stdoutNonBlocking).toBe(true);
    expect({ status, hung }).toEqual(exited(0));
    expect(zombies).toBe(0);
    const lines = run.stdout.split('\n');
    expect(lines).toHaveLength(3); // payload, JSON, ''
    expect(lines[0].length).toBe(payloadBytes);
    expect(payloadBytes).toBe(1 << 20);
    expect(createHash('sha256').update(lines[0]).digest('hex')).toBe(payloadSha256);
  });

  // BUG (native/process.cc): the deadline is only checked after EAGAIN, so on a blocking fd read(2),
  // send(2) and write(2) block with no limit and timeoutMs is ignored.
  it('readFull/readSome/writeAll keep their deadline on a blocking fd too', async () => {
    const run = await runFixture('fork-io-blocking.js', [2000]);
    expectCompleted(run);
    expect(run.json).toMatchObject({
      readFull: { blocking: true, outcome: 'ETIMEDOUT' },
      readSome: { blocking: true, outcome: 'ETIMEDOUT' },
      writeAll: { blocking: true, outcome: 'ETIMEDOUT' },
      zombies: 0,
      fdDelta: 0,
    });
  });
});
