/**
 * The prefork server (seed 002's conclusion, nginx's model): N forked workers, each a blocking epoll reactor.
 * fork(2), _exit(2), waitpid(2), epoll(7) EPOLLEXCLUSIVE, socket(7) SO_REUSEPORT, socketpair(2). Invariant:
 * node runs with `--single-threaded` and no worker threads, and a worker never returns to Node's loop.
 * @module
 */
import { availableParallelism, cpus } from 'node:os';
import { EpollkitError, errno } from '../errors';
import { EpollSelector } from '../loop/epoll-selector';
import { EventLoop } from '../loop/event-loop';
import { Listener, type ListenerOptions } from '../loop/listener';
import { Interest, type Trigger } from '../loop/selector';
import * as proc from '../sys/process';
import { reapOne, watchChildren } from './reaper';
import * as sys from '../sys/socket';
import { childLog } from './forking';
import { ReactorServer, type ServerOptions } from './reactor';

/** Options of {@link PreforkServer}. */
export interface PreforkServerOptions extends ServerOptions {
  /** Worker processes (default: the CPUs this process may run on). */
  workers?: number;
  /**
   * How connections are spread (default 'exclusive'):
   * - 'exclusive': one listening socket, made by the parent before forking; each worker registers it in its
   *   own epoll with EPOLLEXCLUSIVE, so a connection wakes one idle worker rather than all (no thundering herd).
   * - 'reuseport': each worker listens on a socket of its own with SO_REUSEPORT on the same port; the kernel
   *   hashes each connection to one of them. The parent reserves the port with a bound, non-listening socket.
   */
  balance?: 'exclusive' | 'reuseport';
  /** The workers' epoll trigger (default 'level'). */
  trigger?: Trigger;
  /**
   * A worker that dies sooner than this after its start is crash-looping (default 1000 ms): its
   * replacement waits, 100 ms at first and twice as long after each such death, up to `maxRespawnDelayMs`.
   */
  minUptimeMs?: number;
  /** The longest a crash-looping worker waits to be replaced (default 5000 ms). */
  maxRespawnDelayMs?: number;
  /** Period of the reaping sweep that backs up SIGCHLD (default 150 ms). */
  sweepIntervalMs?: number;
}

/** One worker slot, as last reported. */
export interface PreforkWorkerStats {
  /** The slot (0..workers-1); a replacement takes the slot of the worker it replaces. */
  slot: number;
  /** The live worker's pid, or 0 while it waits to be replaced. */
  pid: number;
  /** Its loop runs and its listener is registered. */
  ready: boolean;
  /** Connections the slot's workers accepted, all incarnations (as of their last report). */
  accepted: number;
  /** Connections open in the live worker (as of its last report). */
  connections: number;
  /** Connections the slot's workers refused (maxConnections, verifyRequest). */
  rejected: number;
}

/** Counters of a {@link PreforkServer}. */
export interface PreforkStats {
  /** The pids of the live workers. */
  workers: number[];
  /** Workers started to replace one that died. */
  respawned: number;
  /** Workers that died while the server was not closing (a signal or an exit). */
  died: number;
  /** Connections accepted by all workers (as of their last reports: see `refreshStats`). */
  accepted: number;
  perWorker: PreforkWorkerStats[];
}

interface Slot {
  index: number;
  pid: number;
  /** The parent's end of the control socketpair, or -1. */
  ctl: number;
  ready: boolean;
  startedAt: number;
  backoffMs: number;
  respawnTimer: NodeJS.Timeout | undefined;
  inbox: string;
  acceptedBefore: number;
  rejectedBefore: number;
  accepted: number;
  rejected: number;
  connections: number;
  waiters: (() => void)[];
}

const STATS_REQUEST = 0x53; // 'S'

/**
 * Serves with N forked worker processes, each running a {@link ReactorServer} on a blocking epoll loop of
 * its own — nginx's architecture, and the way to use every core from one Node program.
 *
 * The parent only supervises: it creates the listening socket ('exclusive') or reserves the port
 * ('reuseport'), forks the workers, replaces one that dies (SIGCHLD plus a sweep, waitpid over its own
 * pids; with a back-off when they die young), and talks to each over a socketpair: a worker reports
 * `ready` and its counters there, and reads end of file there as the order to stop — the parent half-closes
 * its end on `close()`, and a parent that dies closes it too, so orphaned workers stop by themselves.
 * A stopping worker closes its listener, lets its connections write out the replies they have queued
 * (ReactorServer's graceful close, `shutdownTimeoutMs`), reports its final counters and leaves through
 * `_exit`; the parent kills a worker still alive `shutdownTimeoutMs` + 2 s later.
 *
 * Needs `node --single-threaded` (the constructor throws `ERR_EPOLLKIT_FORK_NOT_SINGLE_THREADED`) and no
 * worker threads. Everything the options hold (the protocol, handleError, verifyRequest) runs in the
 * workers, synchronously, each with its own copy; `maxConnections` applies per worker. Stop workers with
 * `close()`, not with signals: a worker runs no Node loop, so no JS signal handler, and it starts with the
 * default action for every signal (see `fork`): a SIGINT or SIGTERM ends it at once, replies in flight
 * lost. Other fds the parent holds at `start()` are inherited by the workers.
 * @example
 * // node --single-threaded server.js
 * const server = new PreforkServer({ protocol: httpStatic({ root: 'public' }), port: 8080, workers: 4, balance: 'reuseport' });
 * await server.start().ready();
 * process.on('SIGINT', () => server.close());
 */
export class PreforkServer {
  /** The parent's loop: it watches the control sockets only. */
  readonly loop: EventLoop;
  readonly balance: 'exclusive' | 'reuseport';
  /** The parent serves attached to Node's loop. */
  readonly attachable = true;
  readonly #options: PreforkServerOptions;
  readonly #slots: Slot[];
  /** 'exclusive': the shared listening socket; 'reuseport': the bound, non-listening placeholder. */
  #fd: number;
  readonly #ownsFd: boolean;
  readonly #port: number;
  readonly #host: string;
  readonly #readBuffer = Buffer.allocUnsafe(4096);
  #stopReaping: (() => void) | undefined;
  #started = false;
  #respawned = 0;
  #died = 0;
  #readyWaiters: { resolve: () => void; reject: (error: Error) => void }[] = [];
  #closing: Promise<void> | undefined;
  #finish: (() => void) | undefined;
  #killTimer: NodeJS.Timeout | undefined;

  constructor(options: PreforkServerOptions) {
    proc.assertForkable('PreforkServer');
    this.#options = options;
    this.balance = options.balance ?? 'exclusive';
    if (this.balance !== 'exclusive' && this.balance !== 'reuseport') {
      throw invalid(`balance must be 'exclusive' or 'reuseport', not ${JSON.stringify(options.balance)}`);
    }
    const workers = options.workers ?? (availableParallelism() || cpus().length || 1);
    if (!Number.isInteger(workers) || workers < 1) {
      throw Object.assign(new RangeError(`workers must be a positive integer, not ${workers}`), { code: 'ERR_OUT_OF_RANGE' });
    }
    this.#host = options.host ?? '127.0.0.1';
    if (this.balance === 'reuseport' && !this.#host.includes(':') && !/^[\d.]+$/.test(this.#host)) {
      throw invalid(`balance 'reuseport' needs a TCP address (an IP literal), not ${JSON.stringify(this.#host)}`);
    }
    this.#ownsFd = this.balance === 'reuseport' || options.fd === undefined || !options.borrowed;
    this.loop = new EventLoop();
    try {
      if (this.balance === 'exclusive') this.#fd = options.fd ?? Listener.open(options);
      else this.#fd = reservePort(this.#host, options.port ?? 0);
      this.#port = sys.getsockname(this.#fd).port ?? 0;
    } catch (error) {
      this.loop.close();
      throw error;
    }
    this.#slots = Array.from({ length: workers }, (_, index) => ({
      index,
      pid: 0,
      ctl: -1,
      ready: false,
      startedAt: 0,
      backoffMs: 0,
      respawnTimer: undefined,
      inbox: '',
      acceptedBefore: 0,
      rejectedBefore: 0,
      accepted: 0,
      rejected: 0,
      connections: 0,
      waiters: [],
    }));
    options.signal?.addEventListener('abort', () => void this.close(), { once: true });
  }

  get port(): number {
    return this.#port;
  }

  /** Forks the workers (once); they start accepting as soon as each is ready (see {@link ready}). */
  start(): this {
    if (this.#started || this.#closing) return this;
    this.#started = true;
    this.#stopReaping = watchChildren(() => this.#reap(), this.#options.sweepIntervalMs);
    this.loop.attach();
    for (const slot of this.#slots) this.#spawn(slot);
    return this;
  }

  /**
   * Resolves when every worker has reported ready (its listener is registered). Needed before the first
   * client in 'reuseport' mode, where no socket listens until a worker does; in 'exclusive' mode early
   * clients simply wait in the backlog. Rejects with the worker's error if one fails before it is ready
   * (its replacement is still tried, after a back-off); resolves if the server closes first.
   */
  ready(): Promise<this> {
    return new Promise((resolve, reject) => {
      if (this.#allReady() || this.#closing) return resolve(this);
      this.#readyWaiters.push({ resolve: () => resolve(this), reject });
    });
  }

  /** Counters as last reported by the workers (cheap, no round trip; see {@link refreshStats}). */
  stats(): PreforkStats {
    const perWorker = this.#slots.map((s) => ({
      slot: s.index,
      pid: s.pid,
      ready: s.ready,
      accepted: s.acceptedBefore + s.accepted,
      connections: s.connections,
      rejected: s.rejectedBefore + s.rejected,
    }));
    return {
      workers: this.#slots.filter((s) => s.pid > 0).map((s) => s.pid),
      respawned: this.#respawned,
      died: this.#died,
      accepted: perWorker.reduce((sum, w) => sum + w.accepted, 0),
      perWorker,
    };
  }

  /** Asks every ready worker for its counters (one byte each way) and resolves with fresh stats, or after `timeoutMs`. */
  async refreshStats(timeoutMs = 1000): Promise<PreforkStats> {
    const asked = this.#slots.filter((s) => s.pid > 0 && s.ctl >= 0 && s.ready);
    if (asked.length > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.all(
          asked.map(
            (slot) =>
              new Promise<void>((resolve) => {
                slot.waiters.push(resolve);
                if (sys.send(slot.ctl, Buffer.of(STATS_REQUEST)) !== 1) resolve(); // gone, or its buffer is full
              }),
          ),
        ),
        new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs))),
      ]);
      clearTimeout(timer);
    }
    return this.stats();
  }

  /**
   * Graceful shutdown: the parent stops respawning and half-closes every control socket; each worker closes
   * its listener, finishes the replies it has queued (`shutdownTimeoutMs`, default 5 s), reports and exits.
   * Workers still alive 2 s after that are killed. Resolves when all are reaped and the parent's fds closed.
   */
  close(): Promise<void> {
    if (this.#closing) return this.#closing;
    let resolve!: () => void;
    this.#closing = new Promise<void>((r) => (resolve = r));
    for (const slot of this.#slots) clearTimeout(slot.respawnTimer);
    // 'exclusive': the workers hold their own copies of the listening socket until they stop, then it is gone.
    if (this.balance === 'exclusive' && this.#ownsFd && this.#fd >= 0) {
      sys.close(this.#fd);
      this.#fd = -1;
    }
    for (const slot of this.#slots) {
      if (slot.pid <= 0 || slot.ctl < 0) continue;
      try {
        sys.shutdown(slot.ctl, sys.SHUT_WR); // end of file: the order to stop
      } catch {
        // the worker is gone already
      }
    }
    this.#finish = () => {
      this.#finish = undefined;
      clearTimeout(this.#killTimer);
      this.#stopReaping?.();
      if (this.#fd >= 0 && this.#ownsFd) sys.close(this.#fd);
      this.#fd = -1;
      this.loop.detach();
      for (const waiter of this.#readyWaiters.splice(0)) waiter.resolve();
      setImmediate(() => {
        this.loop.close();
        resolve();
      });
    };
    this.#killTimer = setTimeout(() => {
      for (const slot of this.#slots) if (slot.pid > 0) killQuietly(slot.pid);
    }, (this.#options.shutdownTimeoutMs ?? 5000) + 2000);
    this.#reap();
    return this.#closing;
  }

  #allReady(): boolean {
    return this.#started && this.#slots.every((s) => s.ready);
  }

  #spawn(slot: Slot): void {
    const [parentEnd, workerEnd] = sys.socketpair(sys.AF_UNIX, sys.SOCK_STREAM | sys.SOCK_NONBLOCK);
    let pid: number;
    try {
      pid = proc.fork();
    } catch (error) {
      sys.close(parentEnd);
      sys.close(workerEnd);
      this.#options.handleError?.(error as Error, 'error');
      slot.startedAt = performance.now();
      this.#respawnLater(slot, true);
      return;
    }
    if (pid === 0) this.#worker(workerEnd, parentEnd);
    sys.close(workerEnd);
    Object.assign(slot, { pid, ctl: parentEnd, ready: false, startedAt: performance.now(), inbox: '' });
    Object.assign(slot, { accepted: 0, rejected: 0, connections: 0 });
    this.loop.add(parentEnd, Interest.READABLE, () => this.#readControl(slot), { owned: false });
  }

  // In the worker: never returns.
  #worker(ctl: number, parentEnd: number): never {
    let code = 1;
    try {
      // Inherited fds that are not the worker's, closed raw: the parent's epoll instance (shared: never
      // epoll_ctl it), the parent's control ends (a copy kept here would hide the parent's EOF from the
      // others), and the port placeholder.
      sys.close(this.loop.selector.fd);
      sys.close(parentEnd);
      for (const slot of this.#slots) if (slot.ctl >= 0) sys.close(slot.ctl);
      const listen: ListenerOptions =
        this.balance === 'exclusive'
          ? { fd: this.#fd, borrowed: true, exclusive: true }
          : { fd: undefined, borrowed: false, exclusive: false, host: this.#host, port: this.#port, reusePort: true };
      if (this.balance === 'reuseport') sys.close(this.#fd);
      code = runWorker(this.#options, listen, ctl);
    } catch (error) {
      childLog(`epollkit: PreforkServer worker ${proc.getpid()}: ${(error as Error)?.stack ?? error}`);
      // Tell the parent why (it rejects ready() when this happens before the worker was ready).
      const { message, code } = (error ?? {}) as { message?: string; code?: string };
      const line = Buffer.from(`${JSON.stringify({ t: 'error', message: message ?? String(error), code })}\n`);
      try {
        proc.writeAll(ctl, line, 0, line.length, 1000);
      } catch {
        // the parent is gone
      }
    } finally {
      proc._exit(code);
    }
  }

  #readControl(slot: Slot): void {
    if (slot.ctl < 0) return;
    const buffer = this.#readBuffer;
    for (;;) {
      const n = sys.recv(slot.ctl, buffer);
      if (n > 0) {
        slot.inbox += buffer.toString('latin1', 0, n);
        for (let nl = slot.inbox.indexOf('\n'); nl >= 0; nl = slot.inbox.indexOf('\n')) {
          const line = slot.inbox.slice(0, nl);
          slot.inbox = slot.inbox.slice(nl + 1);
          this.#onReport(slot, line);
        }
        continue;
      }
      if (n === -errno.EAGAIN) return;
      // End of file (or an error): the worker is leaving. Stop watching; the fd is closed when it is reaped.
      if (this.loop.selector.get(slot.ctl)) this.loop.remove(slot.ctl);
      return;
    }
  }

  #onReport(slot: Slot, line: string): void {
    let report: { t?: string; accepted?: number; rejected?: number; connections?: number; message?: string; code?: string };
    try {
      report = JSON.parse(line);
    } catch {
      return;
    }
    slot.accepted = report.accepted ?? slot.accepted;
    slot.rejected = report.rejected ?? slot.rejected;
    slot.connections = report.connections ?? slot.connections;
    if (report.t === 'ready') {
      slot.ready = true;
      if (this.#allReady()) for (const waiter of this.#readyWaiters.splice(0)) waiter.resolve();
    } else if (report.t === 'error') {
      // The code is the worker's own (EADDRINUSE...) when it had one.
      const message = `PreforkServer worker ${slot.pid} failed: ${report.message}`;
      const error = Object.assign(new EpollkitError(message, report.code ?? 'ERR_EPOLLKIT_WORKER_FAILED'), { pid: slot.pid });
      this.#options.handleError?.(error, 'error');
      if (!slot.ready) for (const waiter of this.#readyWaiters.splice(0)) waiter.reject(error);
    }
    for (const waiter of slot.waiters.splice(0)) waiter();
  }

  // Waits on the workers' pids only (never waitpid(-1), which would steal child_process's children).
  #reap(): void {
    for (const slot of this.#slots) {
      if (slot.pid <= 0) continue;
      const status = reapOne(slot.pid);
      if (!status) continue;
      this.#readControl(slot); // its last report (or error) may still be in the socket
      if (status.signal && !this.#closing) {
        const error = new EpollkitError(`PreforkServer worker ${slot.pid} ended by ${status.signal}`, 'ERR_EPOLLKIT_WORKER_DIED');
        this.#options.handleError?.(Object.assign(error, { pid: slot.pid, signal: status.signal }), 'error');
      }
      if (slot.ctl >= 0) {
        if (this.loop.selector.get(slot.ctl)) this.loop.remove(slot.ctl);
        sys.close(slot.ctl);
      }
      Object.assign(slot, {
        pid: 0,
        ctl: -1,
        ready: false,
        acceptedBefore: slot.acceptedBefore + slot.accepted,
        rejectedBefore: slot.rejectedBefore + slot.rejected,
        accepted: 0,
        rejected: 0,
        connections: 0,
      });
      for (const waiter of slot.waiters.splice(0)) waiter();
      if (!this.#closing) {
        this.#died++;
        this.#respawnLater(slot, false);
      }
    }
    if (this.#closing && this.#slots.every((s) => s.pid <= 0)) this.#finish?.();
  }

  #respawnLater(slot: Slot, failedFork: boolean): void {
    const o = this.#options;
    const young = failedFork || performance.now() - slot.startedAt < (o.minUptimeMs ?? 1000);
    slot.backoffMs = young ? Math.min(o.maxRespawnDelayMs ?? 5000, slot.backoffMs > 0 ? slot.backoffMs * 2 : 100) : 0;
    const respawn = (): void => {
      slot.respawnTimer = undefined;
      if (this.#closing) return;
      this.#respawned++;
      this.#spawn(slot);
    };
    if (slot.backoffMs === 0) respawn();
    else slot.respawnTimer = setTimeout(respawn, slot.backoffMs);
  }
}

function invalid(message: string): TypeError {
  return Object.assign(new TypeError(message), { code: 'ERR_INVALID_ARG_VALUE' });
}

/** Binds (without listening) a socket with SO_REUSEPORT: the port is ours, and no connection is queued on it. */
function reservePort(host: string, port: number): number {
  const fd = sys.socket(host.includes(':') ? sys.AF_INET6 : sys.AF_INET, sys.SOCK_STREAM | sys.SOCK_NONBLOCK);
  try {
    sys.setsockopt(fd, sys.SOL_SOCKET, sys.SO_REUSEADDR, 1);
    sys.setsockopt(fd, sys.SOL_SOCKET, sys.SO_REUSEPORT, 1);
    sys.bind(fd, host, port);
  } catch (error) {
    sys.close(fd);
    throw error;
  }
  return fd;
}

function killQuietly(pid: number): void {
  try {
    proc.kill(pid, proc.SIGKILL);
  } catch {
    // ESRCH: it has just ended
  }
}

/**
 * A worker's life: a ReactorServer on a blocking epoll loop of its own, plus the control socket. On the
 * parent's EOF it closes its listener gracefully; the loop runs until the last connection is gone.
 */
function runWorker(options: PreforkServerOptions, listen: ListenerOptions, ctl: number): number {
  const loop = new EventLoop({ selector: new EpollSelector({ trigger: options.trigger ?? 'level' }) });
  const server = new ReactorServer({ ...options, ...listen, loop, signal: undefined });
  const report = (t: string): void => {
    const { accepted, rejected, connections } = server.stats();
    const line = Buffer.from(`${JSON.stringify({ t, pid: proc.getpid(), accepted, rejected, connections })}\n`);
    try {
      proc.writeAll(ctl, line, 0, line.length, 1000);
    } catch {
      // the parent is gone or not reading: counters are best effort
    }
  };
  const buffer = Buffer.allocUnsafe(64);
  let stopping = false;
  loop.add(
    ctl,
    Interest.READABLE,
    () => {
      for (;;) {
        const n = sys.recv(ctl, buffer);
        if (n > 0) {
          if (buffer.subarray(0, n).includes(STATS_REQUEST)) report('stats');
          continue;
        }
        if (n === -errno.EAGAIN || stopping) return;
        // End of file: the parent closed its end (close(), or it died). Stop accepting, finish, leave.
        stopping = true;
        loop.remove(ctl);
        void server.close();
        if (listen.borrowed && listen.fd !== undefined) sys.close(listen.fd); // our copy of the shared socket
        return;
      }
    },
    { owned: false },
  );
  report('ready');
  loop.run(); // until the listener is closed and the last connection is gone
  report('final');
  loop.close();
  sys.close(ctl);
  return 0;
}
