/**
 * Processes: fork(2), _exit(2), waitpid(2), kill(2), getpid(2), and the blocking I/O a forked child runs on.
 *
 * Forking Node is safe only under the rules of shared/research/fork-safety.md, which {@link fork} enforces:
 * node must run with `--single-threaded` (on the command line: NODE_OPTIONS refuses it), no worker thread
 * may exist, and the child must run synchronously and leave through {@link _exit} (never `process.exit`,
 * never `await`, never timers). The parent reaps only its own pids with {@link waitpid}.
 * @module
 */
import * as diagnostics from 'node:diagnostics_channel';
import { isMainThread, type Worker } from 'node:worker_threads';
import { constant, native, type WaitStatus } from '../binding';
import { misuse } from '../errors';

export type { WaitStatus };

// Workers started after this module loaded are counted through Node's 'worker_threads' channel.
let liveWorkers = 0;
diagnostics.subscribe('worker_threads', (message) => {
  const worker = (message as { worker: Worker }).worker;
  liveWorkers++;
  worker.once('exit', () => liveWorkers--);
});

// Workers created before this module loaded are invisible to the channel: until one fork() has found
// none alive, ask process.report (about 10 ms, so only until then; later workers are all counted).
let sawNoEarlyWorkers = false;
function workersBeforeLoad(): boolean {
  if (sawNoEarlyWorkers) return false;
  const report = process.report?.getReport() as { workers?: unknown[] } | undefined;
  if ((report?.workers?.length ?? 0) > 0) return true;
  sawNoEarlyWorkers = true;
  return false;
}

/**
 * Forks the process and returns the child's pid in the parent and 0 in the child. One native call first
 * undoes Node's MADV_DONTFORK on the V8 heap, then forks; the parent's event loop is blocked for the
 * length of the call (about 1 ms at 50 MB RSS, growing with RSS).
 *
 * Signals in the child: every signal the parent catches (each `process.on('SIGTERM')`, child_process's
 * SIGCHLD: libuv's handlers) is reset to its default action and no signal is blocked, so `kill(pid,
 * SIGTERM)` ends the child with SIGTERM whatever handlers the parent has. Ignored signals stay ignored
 * (Node ignores SIGPIPE). Without the reset the child would run libuv's handler, which writes to a pipe
 * it shares with the parent: the child would survive the signal and the parent would see one it never
 * got. The reset happens inside the native call, with signals blocked across fork(2), so a signal sent
 * to the child as soon as its pid is known already meets the default action. A Ctrl-C at the terminal
 * (SIGINT to the whole process group) therefore ends forked children at once, as it ends a C server's.
 *
 * Throws `ERR_EPOLLKIT_FORK_NOT_SINGLE_THREADED` unless node runs with `--single-threaded` (without it
 * about half of allocating children deadlock in V8), and `ERR_EPOLLKIT_FORK_WORKERS` in a worker thread
 * or while workers live (their threads would be missing in the child, holding locks).
 *
 * `watch`: an epoll fd (epollCreate1) in which the parent also registers a pidfd for the child, in the same
 * call — readable once the child has ended; {@link reapEnded} reaps what it reports. No SIGCHLD, no object
 * per child. Best effort (needs Linux 5.3, {@link pidfdSupported}; EMFILE skips it): keep a sweep that
 * waitpids what was not watched. A child inherits `watch` and its siblings' pidfds: it must not
 * epoll_ctl `watch` (close it raw).
 * @example
 * const pid = fork();
 * if (pid === 0) {
 *   try { serveOne(fd); } finally { _exit(0); }
 * }
 */
export function fork(watch?: number): number {
  assertForkable('fork()');
  return native.fork(watch);
}

/**
 * Throws unless a fork can work in this process now — the rules {@link fork} and {@link acceptFork} enforce
 * before each call (fork-safety.md, A and B), and that a forking server checks at construction rather than
 * at its first client. `who` names the caller in the message (`'fork()'`, `'ForkingServer'`).
 * @internal
 */
export function assertForkable(who: string): void {
  if (!process.execArgv.includes('--single-threaded')) {
    misuse(
      'ERR_EPOLLKIT_FORK_NOT_SINGLE_THREADED',
      `${who} needs node started with --single-threaded on its command line (\`node --single-threaded app.js\`; ` +
        'NODE_OPTIONS cannot carry it): with V8 helper threads about half of forked children deadlock',
    );
  }
  if (!isMainThread || liveWorkers > 0 || workersBeforeLoad()) {
    misuse(
      'ERR_EPOLLKIT_FORK_WORKERS',
      `${who} cannot fork while worker threads exist (or from one): the child would inherit their locks ` +
        'without their threads. Fork before starting workers, or use a thread model instead',
    );
  }
}

/**
 * A forking server's whole per-connection path, for every pending connection up to `max`, in one native
 * call: accept4(2) on the nonblocking `listenFd`, {@link fork}`(watch)`, and in the parent close(2) of its
 * copy of the connection. In the parent it returns how many children it forked (their pids in
 * `out[2..2 + n)`); in each child it returns `~fd` (negative: `~result` is the connection's fd), and the
 * child must serve it and leave through {@link _exit}, as after fork().
 *
 * `out[0]` tells what ended the batch: 0 when it took `max` (at most 64 and `out.length - 2`), else the -errno of
 * the accept4 that stopped it — -EAGAIN when the queue is empty; EMFILE, ECONNABORTED... are the caller's
 * to handle as after its own accept4. `out[1]` is the errno of a failed fork (EAGAIN, ENOMEM: a process
 * limit), 0 if none: that client's connection was closed unserved and the batch stopped. `noDelay` sets
 * TCP_NODELAY on the connection in the child (TCP only; the parent does not pay the syscall).
 *
 * Why: after each fork every page the parent writes costs a copy-on-write fault, and the JS a parent runs
 * between two forks wrote ~30 pages per connection; within one call it writes a handful. Same signal
 * handling and same refusals as {@link fork} (checked before anything is accepted); counts accept4 calls.
 * @example
 * const n = acceptFork(listenFd, watch, out, 64, true);
 * if (n < 0) serveAndExit(~n); // the child
 * for (let i = 0; i < n; i++) track(out[2 + i]);
 */
export function acceptFork(listenFd: number, watch: number, out: Int32Array, max: number, noDelay = false): number {
  assertForkable('acceptFork()');
  return native.acceptFork(listenFd, watch, out, max, noDelay ? 1 : 0);
}

/**
 * Ends the calling process at once with `code` (0..255), without running Node's exit path — the only
 * way a forked child may leave. Output still buffered in Node streams is lost: use {@link writeAll}.
 * @example
 * _exit(0);
 */
export const _exit: (code?: number) => never = native._exit;

/**
 * Reaps one child of yours: `{pid, exitCode, signal}` once it has ended, or null while it runs (with
 * WNOHANG, the default). Only a positive pid is accepted (`ERR_EPOLLKIT_WAITPID_PID`): waiting on any
 * child would steal the exits that `child_process` waits for. Throws ECHILD for a pid that is not your
 * child or was already reaped.
 * @example
 * const status = waitpid(pid); // null while running
 */
export const waitpid: (pid: number, options?: number) => WaitStatus | null = native.waitpid;

/** Whether the kernel has pidfd_open(2) (Linux 5.3), which {@link fork}'s `watch` needs. */
export const pidfdSupported: () => boolean = native.pidfdSupported;

/**
 * Reaps the children of `fork(watch)` that have ended: for each ready pidfd in the epoll fd `watch`,
 * waitpid(pid, WNOHANG), then the pidfd is unregistered and closed. Writes `(pid, exitCode, signal)`
 * triples into `out` — exitCode -1 when a signal ended it (signal is its number) or when someone else
 * had reaped it already (signal 0); skip a triple whose pid is 0 — and returns how many (or -errno).
 * One call per batch of exits, no object per child.
 * @example
 * const n = reapEnded(watch, out);
 * for (let i = 0; i < n; i++) if (out[3 * i] > 0) onExit(out[3 * i], out[3 * i + 1], out[3 * i + 2]);
 */
export const reapEnded: (watch: number, out: Int32Array) => number = native.reapEnded;

/**
 * Sends `signal` (default SIGTERM) to one process (`pid` > 0). Throws ESRCH when it is gone.
 * @example
 * kill(pid, SIGKILL);
 */
export const kill: (pid: number, signal?: number) => void = native.kill;

/**
 * The calling process's pid, asked of the kernel. In a forked child `process.pid` still holds the parent's.
 * @example
 * getpid() !== process.pid; // true in a forked child
 */
export const getpid: () => number = native.getpid;

/**
 * The parent's pid.
 * @example
 * getppid();
 */
export const getppid: () => number = native.getppid;

/**
 * Blocking read of exactly `length` bytes (fewer only at end of stream) within `timeoutMs` (-1: none).
 * On EAGAIN it polls rather than clearing O_NONBLOCK, which the fd shares with the parent. Throws
 * ETIMEDOUT at the deadline.
 * @example
 * const n = readFull(fd, frame, 0, 12, 5000); // n < 12 means the peer closed
 */
export const readFull: (fd: number, buffer: Uint8Array, offset?: number, length?: number, timeoutMs?: number) => number =
  native.readFull;

/**
 * Blocking read of at least one byte (0 at end of stream), at most `length`, within `timeoutMs`.
 * @example
 * const n = readSome(fd, buf, 0, buf.length, 5000);
 */
export const readSome: (fd: number, buffer: Uint8Array, offset?: number, length?: number, timeoutMs?: number) => number =
  native.readSome;

/**
 * Blocking write of all of `buffer[offset, offset + length)` within `timeoutMs`; sockets with
 * MSG_NOSIGNAL, pipes and files with write(2). Returns the byte count; throws ETIMEDOUT, EPIPE...
 * @example
 * writeAll(fd, reply, 0, reply.length, 5000);
 */
export const writeAll: (fd: number, buffer: Uint8Array, offset?: number, length?: number, timeoutMs?: number) => number =
  native.writeAll;

export const WNOHANG = constant('WNOHANG');
export const WUNTRACED = constant('WUNTRACED');
export const WCONTINUED = constant('WCONTINUED');
export const SIGTERM = constant('SIGTERM');
export const SIGKILL = constant('SIGKILL');
export const SIGINT = constant('SIGINT');
export const SIGHUP = constant('SIGHUP');
export const SIGCHLD = constant('SIGCHLD');
export const SIGSEGV = constant('SIGSEGV');
export const SIGABRT = constant('SIGABRT');
export const SIGUSR1 = constant('SIGUSR1');
export const SIGUSR2 = constant('SIGUSR2');
export const SIGSTOP = constant('SIGSTOP');
export const SIGCONT = constant('SIGCONT');
