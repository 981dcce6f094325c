/**
 * Seed 002's multi-thread web server, with worker threads: the main thread accepts on an attached epoll
 * loop and hands each accepted fd to a worker. An fd number is process-wide, so the number *is* the
 * handover: the main thread posts it and forgets it (never closes it), the worker registers it on its own
 * attached {@link EventLoop} — which declares it owned (`ownFd`), so a worker that dies closes it — and
 * serves it with the protocol, rebuilt in the worker from a {@link ProtocolSpec} (a protocol is a JS
 * object and cannot cross threads; a spec is plain data).
 *
 * - {@link ThreadingServer}: a new worker per connection, which ends when its connection closes — the
 *   seed's `threading.Thread(target=server_client, args=(new_socket,))`. Isolation per connection, at the
 *   price of a thread start (milliseconds: a Node worker is a whole JS environment). `maxThreads` caps
 *   the live workers: at the cap the listener pauses and connections wait in the kernel's backlog.
 * - {@link ThreadPoolServer} (thread-pool.ts): N workers made at `start()`, each a reactor serving many
 *   connections; the acceptor spreads connections to the least loaded.
 *
 * The worker is dist/servers/thread-worker.js (lib/servers/thread-worker.ts compiled): it runs a
 * {@link ReactorServer} made with `listen: false` and serves what it is given with `adopt(fd)`.
 *
 * **Handover and failure.** The worker acknowledges each fd before it takes it; until then the fd is the
 * acceptor's. A worker that dies (an exception in the protocol, a crash) loses the connections it had
 * taken — its environment closes them — and nothing else: fds it had not yet taken are closed (threading)
 * or handed to another worker (pool), the error goes to `handleError`, a pool worker is replaced.
 * A protocol that throws ends its thread, as an uncaught exception ends any Node thread.
 * @module
 */
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { packageRoot } from '../binding';
import type { CloseReason, ConnectionOptions } from '../loop/connection';
import { EventLoop } from '../loop/event-loop';
import { Listener } from '../loop/listener';
import { protocolFromSpec, type ProtocolSpec } from '../protocols/index';
import type { Protocol } from '../protocols/protocol';
import * as sys from '../sys/socket';
import type { ServerOptions } from './reactor';

/**
 * A protocol of your own, for worker threads: a CommonJS module (absolute path, or relative to the
 * current directory) whose export (`export`, else `default`, else the module itself) is a Protocol, or a
 * function that takes `options` (plain data) and returns one. Each worker loads it once.
 */
export interface ModuleProtocolSpec {
  name: 'module';
  path: string;
  export?: string;
  options?: unknown;
}

/** What a worker-thread model can run: a built-in protocol by spec, or a module of yours. */
export type WorkerProtocolSpec = ProtocolSpec | ModuleProtocolSpec;

/** Options of the worker-thread models: a server's options with the protocol as a spec. */
export interface ThreadServerOptions extends Omit<ServerOptions, 'protocol'> {
  protocol: WorkerProtocolSpec;
  /** The workers' epoll trigger (default 'level'). */
  trigger?: 'level' | 'edge';
}

/** Builds the protocol a spec names; in a worker, or anywhere. */
export function workerProtocol(spec: WorkerProtocolSpec): Protocol {
  if (spec.name !== 'module') return protocolFromSpec(spec);
  const where = `${spec.path}${spec.export ? `#${spec.export}` : ''}`;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const mod = require(path.resolve(spec.path)) as Record<string, unknown>;
  let exported: unknown = spec.export ? mod[spec.export] : (mod.default ?? mod);
  if (typeof exported === 'function') exported = (exported as (options: unknown) => unknown)(spec.options);
  if (!exported || typeof (exported as Protocol).open !== 'function') {
    throw new TypeError(`${where} exports no protocol (an object with open(transport), or a function returning one)`);
  }
  return exported as Protocol;
}

/** The compiled worker script: dist/servers/thread-worker.js under the package root (from lib/ or dist/). */
export function threadWorkerScript(): string {
  return path.join(packageRoot, 'dist', 'servers', 'thread-worker.js');
}

/** What a worker is started with (plain data). @internal */
export interface ThreadWorkerData {
  kind: 'epollkit-thread-worker';
  /** 'connection': serve `fd`, then end; 'pool': serve the fds posted to it until told to close. */
  mode: 'connection' | 'pool';
  fd?: number;
  protocol: WorkerProtocolSpec;
  connection?: ConnectionOptions;
  shutdownTimeoutMs?: number;
  trigger: 'level' | 'edge';
}

/** An error, as plain data, for postMessage (structured clone drops `code`, `errno`, `syscall`). @internal */
export interface WireError {
  name: string;
  message: string;
  stack?: string;
  code?: unknown;
  errno?: unknown;
  syscall?: unknown;
}

/** Acceptor → worker. @internal */
export type ToWorker = { type: 'adopt'; fd: number } | { type: 'close' };

/** Worker → acceptor. @internal */
export type FromWorker =
  | { type: 'ready' }
  | { type: 'adopted'; fd: number } // the worker owns `fd` from now on
  | { type: 'closed' } // one of its connections closed (or was refused)
  | { type: 'error'; error: WireError; reason: CloseReason };

/** @internal */
export function toWire(error: unknown): WireError {
  const e = error instanceof Error ? error : new Error(String(error));
  const extra = e as Error & { code?: unknown; errno?: unknown; syscall?: unknown };
  return { name: e.name, message: e.message, stack: e.stack, code: extra.code, errno: extra.errno, syscall: extra.syscall };
}

/** @internal */
export function fromWire(wire: WireError): Error {
  const error = new Error(wire.message);
  error.name = wire.name;
  if (wire.stack) error.stack = wire.stack;
  for (const key of ['code', 'errno', 'syscall'] as const) if (wire[key] !== undefined) Object.assign(error, { [key]: wire[key] });
  return error;
}

/** One worker thread, as the acceptor sees it. */
export interface ThreadState {
  readonly worker: Worker;
  readonly threadId: number;
  /** fds posted and not yet acknowledged (fd → times posted): still the acceptor's if the worker dies. */
  readonly pending: Map<number, number>;
  /** Connections given to it and not yet closed. */
  connections: number;
  /** Connections it has finished. */
  served: number;
  /** It has built its protocol and loop (pool workers say so). */
  ready: boolean;
  /** The uncaught exception that ended it, if one did. */
  error: Error | undefined;
  /** Ended by `terminate()` after the shutdown deadline. */
  terminated: boolean;
}

/**
 * What both worker-thread models share: the acceptor (an attached loop and a Listener on the main
 * thread), refusal (`maxConnections`, `verifyRequest`, closing), the handover bookkeeping, errors from
 * workers to `handleError`, and the graceful `close()`. A model says how to dispatch an fd.
 */
export abstract class WorkerServer {
  /** The acceptor's loop, on the main thread; the workers have their own. */
  readonly loop: EventLoop;
  readonly listener: Listener;
  /** Always: the acceptor lives on Node's loop (it must, to hear from its workers). */
  readonly attachable = true;
  protected readonly options: ThreadServerOptions;
  protected readonly threads = new Set<ThreadState>();
  protected closing = false;
  /** Connections the workers have finished. */
  protected served = 0;
  readonly #script: string;
  #refused = 0;
  #port = 0;
  #waiting: number[] = [];
  #paused = false;
  #closed: Promise<void> | undefined;
  #onIdle: (() => void) | undefined;

  constructor(options: ThreadServerOptions) {
    const spec = options.protocol.name === 'module' ? { ...options.protocol, path: path.resolve(options.protocol.path) } : options.protocol;
    if (spec.name === 'module') require.resolve(spec.path);
    else protocolFromSpec(spec); // a bad spec (an http root that is not there) fails here, not in every worker
    this.options = { ...options, protocol: spec };
    this.#script = threadWorkerScript();
    if (!existsSync(this.#script)) {
      throw new Error(`${this.#script} is missing: worker threads run the compiled package; build it (npm run build:ts)`);
    }
    this.loop = new EventLoop(); // after the checks above: nothing to close when they throw
    try {
      this.listener = new Listener(this.loop, (fd) => this.#accept(fd), options);
      this.#port = this.listener.port;
    } catch (error) {
      this.loop.close();
      throw error;
    }
    options.signal?.addEventListener('abort', () => void this.close(), { once: true });
  }

  /** The bound port (TCP), still known after close(). */
  get port(): number {
    return this.#port;
  }

  /** Serves: attaches the acceptor to Node's loop (and starts the model's workers). */
  start(): this {
    this.loop.attach();
    this.onStart();
    return this;
  }

  /**
   * Graceful shutdown: stops accepting, tells every worker to close (each finishes the replies it has
   * queued, stops reading, and closes what is left after `shutdownTimeoutMs`), and resolves when every
   * worker has exited. A worker still alive 2 s after that deadline is terminated.
   */
  close(): Promise<void> {
    this.#closed ??= new Promise<void>((resolve) => {
      this.closing = true;
      this.listener.close();
      for (const fd of this.#waiting) sys.close(fd);
      this.#waiting = [];
      this.onClose();
      for (const t of this.threads) t.worker.postMessage({ type: 'close' } satisfies ToWorker);
      const backstop = setTimeout(() => {
        for (const t of this.threads) {
          t.terminated = true;
          void t.worker.terminate();
        }
      }, (this.options.shutdownTimeoutMs ?? 5000) + 2000);
      this.#onIdle = () => {
        clearTimeout(backstop);
        // close() may be called from inside the loop's own dispatch (a verifyRequest): close after it.
        if (this.loop.attached) this.loop.callSoon(() => this.loop.close());
        else this.loop.close();
        resolve();
      };
      if (this.threads.size === 0) this.#onIdle();
    });
    return this.#closed;
  }

  /** Connections accepted and not finished: in workers, on their way to one, or waiting for one. */
  protected get connectionCount(): number {
    let n = this.#waiting.length;
    for (const t of this.threads) n += t.connections;
    return n;
  }

  /** Counters every model reports. */
  protected baseStats(): { connections: number; accepted: number; rejected: number; served: number } {
    return { connections: this.connectionCount, accepted: this.listener.accepted, rejected: this.listener.rejected + this.#refused, served: this.served };
  }

  /** Called by start(). */
  protected abstract onStart(): void;
  /** Whether an fd can be dispatched now (else it waits and the listener pauses). */
  protected abstract canDispatch(): boolean;
  /** Hands `fd` to a worker (`post` or `spawn` it). Called only when `canDispatch()`. */
  protected abstract dispatch(fd: number): void;
  /** A worker ended; `orphans` are fds posted to it and never taken: close them or `requeue` them. */
  protected abstract onThreadExit(thread: ThreadState, code: number, orphans: number[]): void;
  /** Called once by close(), before the workers are told. */
  protected onClose(): void {}
  /** A worker said it is ready. */
  protected onReady(_thread: ThreadState): void {}

  /** Starts a worker with `data`; undefined (and the error reported) if the thread cannot start. */
  protected spawn(data: Pick<ThreadWorkerData, 'mode' | 'fd'>): ThreadState | undefined {
    const o = this.options;
    const workerData: ThreadWorkerData = {
      kind: 'epollkit-thread-worker',
      ...data,
      protocol: o.protocol,
      connection: o.connection,
      shutdownTimeoutMs: o.shutdownTimeoutMs,
      trigger: o.trigger ?? 'level',
    };
    let worker: Worker;
    try {
      worker = new Worker(this.#script, { workerData });
    } catch (error) {
      this.reportError(error as Error, 'error');
      return undefined;
    }
    const thread: ThreadState = {
      worker,
      threadId: worker.threadId,
      pending: new Map(),
      connections: 0,
      served: 0,
      ready: false,
      error: undefined,
      terminated: false,
    };
    this.threads.add(thread);
    worker.on('message', (m: FromWorker) => this.#message(thread, m));
    worker.on('error', (error) => (thread.error = error));
    worker.on('exit', (code) => this.#exit(thread, code));
    return thread;
  }

  /** Posts `fd` to a running worker; it is the acceptor's until the worker acknowledges it. */
  protected post(thread: ThreadState, fd: number): void {
    thread.pending.set(fd, (thread.pending.get(fd) ?? 0) + 1);
    thread.connections++;
    thread.worker.postMessage({ type: 'adopt', fd } satisfies ToWorker);
  }

  /** Records `fd` as given to `thread` by workerData (a per-connection worker). */
  protected given(thread: ThreadState, fd: number): void {
    thread.pending.set(fd, 1);
    thread.connections++;
  }

  /** Puts accepted fds back in line for a worker (dispatched now if one can take them). */
  protected requeue(fds: number[]): void {
    if (this.closing) {
      for (const fd of fds) sys.close(fd);
      return;
    }
    this.#waiting.push(...fds);
    this.drain();
  }

  /** Dispatches waiting fds while a worker can take them; resumes accepting when none is left waiting. */
  protected drain(): void {
    while (this.#waiting.length > 0 && !this.closing && this.canDispatch()) this.dispatch(this.#waiting.shift()!);
    if (this.#waiting.length === 0 && this.canDispatch()) this.#resume();
    else this.#pause();
  }

  // Only a pause of ours is lifted here: the listener's own EMFILE back-off keeps its timing.
  #pause(): void {
    if (this.#paused || this.closing) return;
    this.#paused = true;
    this.listener.pause();
  }

  #resume(): void {
    if (!this.#paused || this.closing) return;
    this.#paused = false;
    this.listener.resume();
  }

  /** Closes an accepted fd unanswered, and counts it. */
  protected refuse(fd: number): void {
    this.#refused++;
    sys.close(fd);
  }

  protected reportError(error: Error, reason: CloseReason): void {
    this.options.handleError?.(error, reason);
  }

  #accept(fd: number): void {
    const o = this.options;
    if (this.closing || this.connectionCount >= (o.maxConnections ?? Infinity) || !this.#verify(fd)) return this.refuse(fd);
    if (this.#waiting.length > 0 || !this.canDispatch()) {
      this.#waiting.push(fd);
      this.#pause();
      return;
    }
    this.dispatch(fd);
    if (!this.canDispatch()) this.#pause();
  }

  #verify(fd: number): boolean {
    const verify = this.options.verifyRequest;
    if (!verify) return true;
    try {
      return verify(sys.getpeername(fd));
    } catch (error) {
      // getpeername fails for a client that already reset; a throwing verifyRequest refuses too.
      if ((error as { code?: unknown }).code !== 'ENOTCONN') this.reportError(error as Error, 'error');
      return false;
    }
  }

  #message(thread: ThreadState, m: FromWorker): void {
    switch (m.type) {
      case 'ready':
        thread.ready = true;
        this.onReady(thread);
        break;
      case 'adopted': {
        const n = thread.pending.get(m.fd) ?? 0;
        if (n <= 1) thread.pending.delete(m.fd);
        else thread.pending.set(m.fd, n - 1);
        break;
      }
      case 'closed':
        thread.connections--;
        thread.served++;
        this.served++;
        this.drain();
        break;
      case 'error':
        this.reportError(fromWire(m.error), m.reason);
        break;
    }
  }

  // Node delivers every message a worker posted before its 'exit': `pending` is exact here.
  #exit(thread: ThreadState, code: number): void {
    this.threads.delete(thread);
    const orphans = [...thread.pending.keys()];
    thread.pending.clear();
    // The connections it had taken died with it (its environment closed the fds it owned).
    thread.connections = 0;
    if (thread.error) this.reportError(thread.error, 'error');
    else if (code !== 0 && !thread.terminated) this.reportError(new Error(`worker thread ${thread.threadId} exited with code ${code}`), 'error');
    this.onThreadExit(thread, code, orphans);
    if (!this.closing) this.drain();
    else if (this.threads.size === 0) this.#onIdle?.();
  }
}

/** Options of {@link ThreadingServer}. */
export interface ThreadingServerOptions extends ThreadServerOptions {
  /** Live worker threads at most (default 64): at the cap, accepting pauses and clients wait in the backlog. */
  maxThreads?: number;
}

/** A worker thread per connection (seed 002's multi-thread server). */
export class ThreadingServer extends WorkerServer {
  readonly maxThreads: number;
  #peakThreads = 0;
  #crashed = 0;

  constructor(options: ThreadingServerOptions) {
    super(options);
    this.maxThreads = Math.max(1, options.maxThreads ?? 64);
  }

  /**
   * `connections`/`threads`: live now (one each per connection); `peakThreads`: the most at once;
   * `crashed`: workers that ended with an error (their connection lost).
   */
  stats(): { connections: number; accepted: number; rejected: number; served: number; threads: number; peakThreads: number; maxThreads: number; crashed: number } {
    return { ...this.baseStats(), threads: this.threads.size, peakThreads: this.#peakThreads, maxThreads: this.maxThreads, crashed: this.#crashed };
  }

  protected onStart(): void {}

  protected canDispatch(): boolean {
    return this.threads.size < this.maxThreads;
  }

  protected dispatch(fd: number): void {
    const thread = this.spawn({ mode: 'connection', fd });
    if (!thread) return this.refuse(fd);
    this.given(thread, fd);
    this.#peakThreads = Math.max(this.#peakThreads, this.threads.size);
  }

  protected onThreadExit(thread: ThreadState, code: number, orphans: number[]): void {
    if (thread.error || (code !== 0 && !thread.terminated)) this.#crashed++;
    // A worker that died before taking its fd: that client is lost, retrying would likely fail again.
    for (const fd of orphans) this.refuse(fd);
  }
}
