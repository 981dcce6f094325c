/**
 * The forking server of seeds 000, 001 and 003: one child process per connection. fork(2), _exit(2),
 * waitpid(2), kill(2), signal(7). Invariant: node runs with `--single-threaded` and no worker threads, and a
 * child never returns to Node's loop — it serves its connection synchronously and leaves through _exit(2).
 * @module
 */
import { EpollkitError, errnoError } from '../errors';
import { EventLoop } from '../loop/event-loop';
import { Listener } from '../loop/listener';
import * as proc from '../sys/process';
import { reapOne, signalName, watchChildren } from './reaper';
import { Interest } from '../loop/selector';
import * as epoll from '../sys/epoll';
import * as sys from '../sys/socket';
import { serveBlocking } from './blocking-transport';
import { admits, type ServerOptions } from './reactor';

/** Options of {@link ForkingServer}. */
export interface ForkingServerOptions extends ServerOptions {
  /**
   * Live (not yet reaped) children at most (default 64). At the cap the listener pauses, so further
   * connections wait in the kernel's backlog, and resumes when a child is reaped.
   */
  maxChildren?: number;
  /** A child still alive this long after its fork is killed with SIGKILL and reaped (default 5 min). */
  childTimeoutMs?: number;
  /**
   * The longest one blocking read or write in a child waits for its peer (default
   * `connection.idleTimeoutMs ?? connection.readTimeoutMs ?? 30 s`): an idle client cannot hold a process
   * for long. When it passes the child closes the connection and exits with code 1. 0: no limit.
   */
  ioTimeoutMs?: number;
  /** Period of the reaping sweep that backs up the pidfds (or SIGCHLD) and enforces `childTimeoutMs` (default 150 ms). */
  sweepIntervalMs?: number;
  /**
   * Sessions of the protocol's `sample` the parent runs at `start()` over a socketpair (default 16; 0:
   * none), so that the children inherit the request path compiled instead of each compiling it again.
   */
  rehearsals?: number;
}

/** Counters of a {@link ForkingServer}. */
export interface ForkingStats {
  /** Connections handed to a child. */
  accepted: number;
  /** Connections closed unserved: `verifyRequest`, `maxConnections`, closing, or a failed fork. */
  rejected: number;
  /** Children forked and not yet reaped. */
  liveChildren: number;
  /** The most live children there ever were (never above `maxChildren`). */
  peakChildren: number;
  /** Children reaped. */
  reaped: number;
  /** Children that ended by a signal the server did not send (a crash). */
  crashed: number;
  /** Children the server killed: past `childTimeoutMs`, or still running at the end of `close()`. */
  killed: number;
  /** Children that exited with a non-zero code: 1 for an I/O error (reset, timeout), 2 when the protocol threw. */
  failed: number;
}

interface Child {
  deadline: number;
  killed: boolean;
}

/**
 * Writes one line to stderr with a blocking write (a forked child has no event loop to flush a stream).
 * @internal
 */
export function childLog(line: string): void {
  try {
    proc.writeAll(2, Buffer.from(`${line}\n`), 0, undefined, 1000);
  } catch {
    // nothing left to tell it with
  }
}

/**
 * Serves each connection in a child process of its own (socketserver's ForkingMixIn, seed 001's C server).
 *
 * The parent accepts on an epoll loop attached to Node's, forks once per connection and closes its copy of
 * the connection at once (a raw close, never a shutdown, which would end the child's socket too) — without
 * `verifyRequest`, all three for every pending connection in one native call (`acceptFork`). The child
 * closes the inherited listening socket and the parent's epoll fd raw (an epoll instance is shared across
 * fork: one epoll_ctl from a child would change the parent's), serves the connection with blocking I/O and
 * deadlines ({@link serveBlocking}), and leaves through `_exit` — 0 when the session ended normally, 1 on an
 * I/O error, 2 when the protocol threw. A crash costs one client only.
 *
 * The parent reaps only its own pids — waitpid(pid, WNOHANG) when the child's pidfd turns readable
 * (fork(watch), reapEnded; SIGCHLD on a kernel without pidfd_open), plus a periodic sweep — and caps live
 * children at `maxChildren`. A child past `childTimeoutMs` is killed with SIGKILL (a child runs no event loop,
 * so no JS handler for a gentler signal). `close()` stops accepting, gives the children `shutdownTimeoutMs`,
 * kills the rest and resolves when none is left.
 *
 * Needs `node --single-threaded` (the constructor throws `ERR_EPOLLKIT_FORK_NOT_SINGLE_THREADED` without
 * it) and no worker threads (each fork throws `ERR_EPOLLKIT_FORK_WORKERS`; the client is refused). The
 * child runs the protocol synchronously: no await, timers or Node streams in a session; `handleError` runs
 * in the child for I/O errors (synchronously) and in the parent for crashed children. Each child has its own
 * copy of the protocol object, so state shared between connections (the session store) does not carry
 * over. Keep the parent small: a fork costs about 1 ms of the parent's loop at 50 MB RSS, growing with RSS.
 * @example
 * // node --single-threaded server.js
 * const server = new ForkingServer({ protocol: calculator, port: 7070, maxChildren: 32 }).start();
 * process.on('SIGINT', () => server.close().then(() => console.log(server.stats())));
 */
export class ForkingServer {
  readonly loop: EventLoop;
  readonly listener: Listener;
  /** The parent serves attached to Node's loop (it needs timers, and SIGCHLD on a kernel without pidfds). */
  readonly attachable = true;
  readonly #options: ForkingServerOptions;
  readonly #children = new Map<number, Child>();
  readonly #maxChildren: number;
  readonly #childTimeoutMs: number;
  readonly #stats = { accepted: 0, rejected: 0, peakChildren: 0, reaped: 0, crashed: 0, killed: 0, failed: 0 };
  #stopReaping: (() => void) | undefined;
  /**
   * An epoll instance holding a pidfd per child (fork(watch)), registered in the loop: readable when a child
   * has ended. -1 on a kernel without pidfd_open, where SIGCHLD does its work. Measured against SIGCHLD:
   * the signal went to whichever of Node's idle helper threads did not block it (a thread woken per exit,
   * a signal frame written), and each signal asked every live pid.
   */
  readonly #watch: number;
  /** (pid, exit code, signal) triples from reapEnded, allocated once. */
  readonly #ended = new Int32Array(3 * 64);
  /** What acceptFork reports: how its batch ended, then the pids it forked (64 at most per call). */
  readonly #forked = new Int32Array(2 + 64);
  /** What a child reads into, allocated once here so that a child does not malloc its own. */
  readonly #readBuffer: Buffer;
  #started = false;
  #pausedAtCap = false;
  #forkBackoff: NodeJS.Timeout | undefined;
  #closing: Promise<void> | undefined;
  #finish: (() => void) | undefined;
  #killTimer: NodeJS.Timeout | undefined;

  constructor(options: ForkingServerOptions) {
    proc.assertForkable('ForkingServer');
    this.#options = options;
    this.#maxChildren = Math.max(1, options.maxChildren ?? 64);
    this.#childTimeoutMs = options.childTimeoutMs ?? 5 * 60_000;
    this.#readBuffer = Buffer.allocUnsafe(options.connection?.readBufferSize ?? 64 * 1024);
    this.loop = new EventLoop();
    this.#watch = proc.pidfdSupported() ? epoll.epollCreate1(epoll.EPOLL_CLOEXEC) : -1;
    if (this.#watch >= 0) this.loop.add(this.#watch, Interest.READABLE, () => this.#reapEnded());
    try {
      this.listener = new Listener(this.loop, (fd) => this.#accept(fd), options);
      // verifyRequest must see each client before its fork: then every connection takes the path through JS.
      if (!options.verifyRequest) this.listener.acceptMany = (max) => this.#acceptFork(max);
    } catch (error) {
      this.loop.close();
      throw error;
    }
    options.signal?.addEventListener('abort', () => void this.close(), { once: true });
  }

  get port(): number {
    return this.listener.port;
  }

  /** Starts accepting, attached to Node's loop, and starts reaping. */
  start(): this {
    if (this.#started || this.#closing) return this;
    this.#started = true;
    this.#stopReaping = watchChildren(() => this.#reap(), this.#options.sweepIntervalMs, this.#watch < 0);
    this.#rehearse(this.#options.rehearsals ?? 16);
    this.loop.attach();
    return this;
  }

  stats(): ForkingStats {
    return { ...this.#stats, liveChildren: this.#children.size };
  }

  /**
   * Stops accepting (connections still in the backlog are refused), gives the children `shutdownTimeoutMs`
   * (default 5 s) to finish their clients, kills the rest with SIGKILL, and resolves once every child is
   * reaped and the parent's fds are closed.
   */
  close(): Promise<void> {
    if (this.#closing) return this.#closing;
    let resolve!: () => void;
    this.#closing = new Promise<void>((r) => (resolve = r));
    this.listener.close();
    clearTimeout(this.#forkBackoff);
    this.#finish = () => {
      this.#finish = undefined;
      clearTimeout(this.#killTimer);
      this.#stopReaping?.();
      this.loop.detach();
      // The pidfds of children the sweep reaped are still registered (all ended, so all ready): release them.
      while (this.#watch >= 0 && proc.reapEnded(this.#watch, this.#ended) > 0);
      // Not from inside a dispatch of the loop (close() may be called from a callback of it).
      setImmediate(() => {
        this.loop.close();
        resolve();
      });
    };
    this.#killTimer = setTimeout(() => {
      for (const [pid, child] of this.#children) this.#kill(pid, child);
    }, this.#options.shutdownTimeoutMs ?? 5000);
    this.#reap();
    return this.#closing;
  }

  #accept(fd: number): void {
    const o = this.#options;
    if (!admits(o, fd, this.#children.size, this.#closing !== undefined)) {
      this.#stats.rejected++;
      sys.close(fd);
      return;
    }
    let pid: number;
    try {
      pid = proc.fork(this.#watch);
    } catch (error) {
      sys.close(fd);
      this.#forkFailed(error as Error);
      return;
    }
    if (pid === 0) this.#child(fd);
    sys.close(fd); // the parent's copy only: the child's stays open
    this.#forkedOne(pid, performance.now() + this.#childTimeoutMs);
    this.#afterFork();
  }

  // The listener's batch when no client needs asking (no verifyRequest): accept4, fork and close for every
  // pending connection up to the room left, in one native call (proc.acceptFork), TCP_NODELAY set by the
  // child. Measured on the CLI's forking echo server (issue 6; pinned, 4 interleaved runs, medians): the
  // parent's copy-on-write faults per connection 28 → 8, its CPU per connection 500 → 430 µs (Node's bare
  // fork: 395–408 µs), connections/s +8%. Returns what ended the batch, or undefined to let the listener
  // take the next client the ordinary way (#accept refuses it, and says why).
  #acceptFork(max: number): number | undefined {
    const room = Math.min(this.#maxChildren, this.#options.maxConnections ?? Infinity) - this.#children.size;
    if (room <= 0 || this.#closing) return undefined;
    const out = this.#forked;
    let n: number;
    try {
      n = proc.acceptFork(this.listener.fd, this.#watch, out, Math.min(max, room), this.listener.noDelay);
    } catch {
      return undefined; // fork() is refused here (worker threads); nothing was accepted
    }
    if (n < 0) this.#child(~n);
    const deadline = performance.now() + this.#childTimeoutMs;
    for (let i = 0; i < n; i++) this.#forkedOne(out[2 + i], deadline);
    this.listener.accepted += out[1] === 0 ? n : n + 1;
    // The failed fork's client was closed unserved.
    if (out[1] !== 0) this.#forkFailed(errnoError(-out[1], 'fork'));
    this.#afterFork();
    return out[0];
  }

  #forkedOne(pid: number, deadline: number): void {
    this.#children.set(pid, { deadline, killed: false });
    this.#stats.accepted++;
  }

  #afterFork(): void {
    if (this.#children.size > this.#stats.peakChildren) this.#stats.peakChildren = this.#children.size;
    if (this.#children.size >= this.#maxChildren) {
      this.#pausedAtCap = true;
      this.listener.pause();
    }
  }

  // EAGAIN/ENOMEM (a process limit) or worker threads: this client was refused; pause accepting a moment.
  #forkFailed(error: Error): void {
    this.#stats.rejected++;
    this.#options.handleError?.(error, 'error');
    this.#pauseForFork();
  }

  // In the child: never returns.
  #child(fd: number): never {
    let code = 2;
    try {
      // Raw closes: the child must not epoll_ctl the parent's epoll instance (it is shared), nor keep the port.
      sys.close(this.listener.fd);
      sys.close(this.loop.selector.fd);
      if (this.#watch >= 0) sys.close(this.#watch);
      code = this.#serve(fd, false);
    } finally {
      proc._exit(code);
    }
  }

  // Serves one connection with blocking I/O and closes it; returns the child's exit code.
  #serve(fd: number, rehearsal: boolean): number {
    const o = this.#options;
    try {
      // A connection timeout of 0 means "never", as in the reactor's ConnectionOptions.
      const ioTimeoutMs = o.ioTimeoutMs ?? (o.connection?.idleTimeoutMs || o.connection?.readTimeoutMs || 30_000);
      const outcome = serveBlocking(fd, o.protocol, {
        ioTimeoutMs: rehearsal ? 100 : ioTimeoutMs > 0 ? ioTimeoutMs : -1,
        deadline: performance.now() + this.#childTimeoutMs,
        buffer: this.#readBuffer,
        lingerMs: rehearsal ? 0 : undefined,
        rehearsal,
      });
      if (outcome.error && !rehearsal) o.handleError?.(outcome.error, outcome.reason);
      return outcome.error ? 1 : 0;
    } catch (error) {
      if (rehearsal) return 2;
      if (o.handleError) o.handleError(error as Error, 'error');
      else childLog(`epollkit: ForkingServer child ${proc.getpid()}: ${(error as Error)?.stack ?? error}`);
      return 2;
    }
  }

  // Runs the child's code path in the parent, `sessions` times, on a socketpair fed the protocol's sample:
  // V8 compiles a function on its first call, and code compiled before fork() is shared by every child.
  // Measured with the echo sample: a child's serving took 0.78 ms without, 0.29 ms with.
  #rehearse(sessions: number): void {
    const sample = this.#options.protocol.sample ?? new Uint8Array(0);
    // The client end is drained after the session ended, so the session's read buffer serves it too.
    const reply = this.#readBuffer;
    for (let i = 0; i < sessions; i++) {
      const [client, server] = sys.socketpair(sys.AF_UNIX, sys.SOCK_STREAM);
      let served = false;
      try {
        // One thread plays both ends, so a request or reply larger than the socketpair's buffer (~200 KiB)
        // cannot complete: a write times out (100 ms) and the rehearsals stop there. Whatever ran is compiled.
        if (sample.length) proc.writeAll(client, sample, 0, sample.length, 100);
        sys.shutdown(client, sys.SHUT_WR);
        served = true; // serveBlocking closes `server` from here on
        const code = this.#serve(server, true);
        while (proc.readSome(client, reply, 0, reply.length, 100) > 0);
        if (code !== 0) break;
      } catch {
        break;
      } finally {
        if (!served) sys.close(server);
        sys.close(client);
      }
    }
  }

  #pauseForFork(): void {
    if (this.#forkBackoff || this.#closing) return;
    this.listener.pause();
    this.#forkBackoff = setTimeout(() => {
      this.#forkBackoff = undefined;
      if (!this.#closing && !this.#pausedAtCap) this.listener.resume();
    }, 100);
  }

  #kill(pid: number, child: Child): void {
    if (child.killed) return;
    child.killed = true;
    try {
      proc.kill(pid, proc.SIGKILL);
    } catch {
      // ESRCH: it has just ended; the next reap collects it
    }
  }

  // Children whose pidfds turned readable: ended. A pid the sweep has reaped meanwhile is no longer ours.
  #reapEnded(): void {
    const out = this.#ended;
    let n: number;
    do {
      n = proc.reapEnded(this.#watch, out);
      for (let i = 0; i < n; i++) {
        const child = this.#children.get(out[3 * i]);
        if (child) this.#collect(out[3 * i], child, out[3 * i + 1] >= 0 ? out[3 * i + 1] : null, out[3 * i + 2] > 0 ? signalName(out[3 * i + 2]) : null);
      }
    } while (n === out.length / 3); // a full batch: there may be more
    this.#afterReap();
  }

  // Waits on our own pids only (waitpid(-1) would steal child_process's children): every live pid is asked
  // on the sweep (which also kills the children past their deadline), and after SIGCHLD where there are no
  // pidfds (signals coalesce).
  #reap(): void {
    const now = performance.now();
    for (const [pid, child] of this.#children) {
      const status = reapOne(pid);
      if (status) this.#collect(pid, child, status.exitCode, status.signal);
      else if (now >= child.deadline) this.#kill(pid, child);
    }
    this.#afterReap();
  }

  #collect(pid: number, child: Child, exitCode: number | null, signal: string | null): void {
    this.#children.delete(pid);
    this.#stats.reaped++;
    if (child.killed) this.#stats.killed++;
    else if (signal) {
      this.#stats.crashed++;
      const error = Object.assign(new EpollkitError(`child ${pid} ended by ${signal}`, 'ERR_EPOLLKIT_CHILD_CRASHED'), { pid, signal });
      this.#options.handleError?.(error, 'error');
    } else if (exitCode !== 0) this.#stats.failed++;
  }

  #afterReap(): void {
    if (this.#pausedAtCap && this.#children.size < this.#maxChildren) {
      this.#pausedAtCap = false;
      if (!this.#closing && !this.#forkBackoff) this.listener.resume();
    }
    if (this.#closing && this.#children.size === 0) this.#finish?.();
  }
}
