/**
 * The thread pool of seed 002's conclusion ("multiplexing + a pool of threads"): N worker threads made
 * at `start()`, each running its own attached epoll reactor (a {@link ReactorServer} without a listener);
 * the main thread accepts and posts each fd to the least loaded worker (ties go round-robin). A thread
 * start is paid N times, not once per connection, and N reactors use N cores.
 *
 * A worker that dies (a protocol exception, a crash) costs the connections it had taken; fds posted to it
 * and not yet taken go to another worker, and a replacement starts at once — after a back-off, growing to
 * 5 s, if the dead one never became ready (a pool whose workers cannot start does not spin).
 * @module
 */
import * as os from 'node:os';
import { WorkerServer, type ThreadServerOptions, type ThreadState } from './threading';

/** Options of {@link ThreadPoolServer}. */
export interface ThreadPoolServerOptions extends ThreadServerOptions {
  /** Worker threads (default `os.cpus().length`). */
  threads?: number;
}

/** One worker in {@link ThreadPoolServer.stats}. */
export interface PoolWorkerStats {
  threadId: number;
  /** Connections it serves now (or that are on their way to it). */
  connections: number;
  /** Connections it has finished. */
  served: number;
  ready: boolean;
}

/** N worker threads, each a reactor over many connections. */
export class ThreadPoolServer extends WorkerServer {
  /** The number of workers it keeps. */
  readonly size: number;
  #next = 0;
  #replaced = 0;
  #startFailures = 0;
  #respawn: NodeJS.Timeout | undefined;
  #readyWaiters: (() => void)[] = [];

  constructor(options: ThreadPoolServerOptions) {
    super(options);
    this.size = Math.max(1, options.threads ?? os.cpus().length);
  }

  /** Resolves once `size` workers have built their protocol and loop (connections are taken before, too). */
  ready(): Promise<void> {
    if (this.#readyCount() >= this.size) return Promise.resolve();
    return new Promise((resolve) => this.#readyWaiters.push(resolve));
  }

  /** Per-worker connection counts; `replaced`: workers that died and were replaced. */
  stats(): { connections: number; accepted: number; rejected: number; served: number; threads: number; replaced: number; workers: PoolWorkerStats[] } {
    const workers = [...this.threads].map((t) => ({ threadId: t.threadId, connections: t.connections, served: t.served, ready: t.ready }));
    return { ...this.baseStats(), threads: this.threads.size, replaced: this.#replaced, workers };
  }

  protected onStart(): void {
    while (this.threads.size < this.size && !this.closing) if (!this.spawn({ mode: 'pool' })) break;
  }

  protected canDispatch(): boolean {
    return this.threads.size > 0;
  }

  protected dispatch(fd: number): void {
    const threads = [...this.threads];
    let best: ThreadState | undefined;
    for (let i = 0; i < threads.length; i++) {
      const t = threads[(this.#next + i) % threads.length];
      if (!best || t.connections < best.connections) best = t;
    }
    this.#next = (this.#next + 1) % threads.length;
    this.post(best!, fd);
  }

  protected override onReady(): void {
    this.#startFailures = 0;
    if (this.#readyCount() >= this.size) for (const resolve of this.#readyWaiters.splice(0)) resolve();
  }

  protected onThreadExit(thread: ThreadState, _code: number, orphans: number[]): void {
    if (!this.closing) {
      this.#replaced++;
      if (thread.ready) this.onStart();
      else {
        // It died starting up: the next one probably will too. Back off rather than spin.
        const delay = Math.min(5000, 100 * 2 ** this.#startFailures++);
        clearTimeout(this.#respawn);
        this.#respawn = setTimeout(() => {
          this.#respawn = undefined;
          this.onStart();
          this.drain();
        }, delay);
      }
    }
    // Posted, never taken: another worker serves them (or they are closed if the pool is closing).
    this.requeue(orphans);
  }

  protected override onClose(): void {
    clearTimeout(this.#respawn);
    this.#respawn = undefined;
    for (const resolve of this.#readyWaiters.splice(0)) resolve();
  }

  #readyCount(): number {
    let n = 0;
    for (const t of this.threads) if (t.ready) n++;
    return n;
  }
}
