/**
 * The models by name, for the CLI and the test matrix: `createServer('epoll-et', { name: 'http', root })`.
 * @module
 */
import { protocolFromSpec, type ProtocolSpec } from '../protocols/index';
import { BusyPollServer } from './busy-poll';
import { CoroutineServer } from './coroutine';
import { ForkingServer } from './forking';
import { IterativeServer } from './iterative';
import { EpollEtServer, EpollLtServer, PollServer, SelectServer } from './multiplexing';
import { PreforkServer } from './prefork';
import type { ServerOptions } from './reactor';
import { ThreadPoolServer } from './thread-pool';
import { ThreadingServer } from './threading';

/**
 * The node flags a model that forks runs under. `--single-threaded`: no V8 helper threads, whose locks a
 * child could inherit held (fork-safety.md). `--use-largepages=silent`: Node's code remapped onto huge
 * pages, which fork(2) copies as a few page-table entries and a child never faults in page by page
 * (the forking server's CPU per connection 2.23 → 1.87 ms, issue 6); silent where huge pages are missing.
 */
export const FORK_NODE_FLAGS = ['--single-threaded', '--use-largepages=silent'];

/** What every model offers, whatever its machinery. */
export interface ServerHandle {
  readonly port: number;
  /** Whether `start()` can attach it to Node's loop (select, poll and busy-poll can only block). */
  readonly attachable: boolean;
  /** Serves attached to Node's loop. */
  start?(): unknown;
  /** Blocking; absent for models that need Node's loop. */
  serveForever?(): void;
  close(): Promise<void>;
  stats(): object;
}

/**
 * What every model is built with; `workers` is the process count of prefork and the thread count of
 * thread-pool; `balance` is prefork's (see PreforkServerOptions), ignored by the others.
 */
export type ModelOptions = Omit<ServerOptions, 'protocol'> & { workers?: number; balance?: 'exclusive' | 'reuseport' };

/** A model: how to build it, and whether it needs `node --single-threaded` (fork-based). */
export interface ModelInfo {
  create(spec: ProtocolSpec, options: ModelOptions): ServerHandle;
  needsSingleThreaded?: boolean;
}

export const MODELS: Record<string, ModelInfo> = {
  iterative: { create: (spec, o) => new IterativeServer({ ...o, protocol: protocolFromSpec(spec) }) },
  coroutine: { create: (spec, o) => new CoroutineServer({ ...o, protocol: protocolFromSpec(spec) }) },
  'busy-poll': { create: (spec, o) => new BusyPollServer({ ...o, protocol: protocolFromSpec(spec), idleSleepUs: 200 }) },
  select: { create: (spec, o) => new SelectServer({ ...o, protocol: protocolFromSpec(spec) }) },
  poll: { create: (spec, o) => new PollServer({ ...o, protocol: protocolFromSpec(spec) }) },
  'epoll-lt': { create: (spec, o) => new EpollLtServer({ ...o, protocol: protocolFromSpec(spec) }) },
  'epoll-et': { create: (spec, o) => new EpollEtServer({ ...o, protocol: protocolFromSpec(spec) }) },
  threading: { create: (spec, o) => new ThreadingServer({ ...o, protocol: spec }) },
  'thread-pool': { create: (spec, { workers, ...o }) => new ThreadPoolServer({ ...o, threads: workers, protocol: spec }) },
  forking: { create: (spec, o) => new ForkingServer({ ...o, protocol: protocolFromSpec(spec) }), needsSingleThreaded: true },
  // 'exclusive' (the default): the parent listens before forking, so clients may come before the workers are ready.
  prefork: { create: (spec, o) => new PreforkServer({ ...o, protocol: protocolFromSpec(spec) }), needsSingleThreaded: true },
};

/** Builds `model` serving `spec`. */
export function createServer(model: string, spec: ProtocolSpec, options: ModelOptions = {}): ServerHandle {
  const info = MODELS[model];
  if (!info) throw new TypeError(`unknown model "${model}" (${Object.keys(MODELS).join(', ')})`);
  return info.create(spec, options);
}
