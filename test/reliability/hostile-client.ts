// The reliability tests' side of bench/hostile_client.c (built once by buildC): runs it against a port,
// reads its key=value lines; the document root whose files it checks byte for byte; and what the tests read
// of a server under attack: its peaks while it lasts, and its rest before and after.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { buildC } from '../../lib/lab/tools';
import { expect } from 'vitest';
import { tempDir } from '../helpers/net';
import { waitUntil } from '../helpers/proc';
import { readServer, type ServerReading } from './server-probe';

/** How many clients of each kind, and how they behave (see the head of bench/hostile_client.c). */
export interface HostileOptions {
  protocol: 'echo' | 'http';
  /** Run this long; without it, until {@link HostileClient.stop}. */
  seconds?: number;
  slow?: number;
  slowIntervalMs?: number;
  idle?: number;
  noread?: number;
  reset?: number;
  halfClose?: number;
  flood?: number;
  floodConcurrency?: number;
  good?: number;
  thinkMs?: number;
  held?: number;
  /** Size of /big.bin in the root the server serves (what the half-closer checks). */
  bigBytes?: number;
  cyclePauseMs?: number;
}

/** One line of the program: its first word and its key=value figures. */
export type Figures = Record<string, number>;

export interface HostileClient {
  /** The first line starting with `word` that arrives from now on and whose figures satisfy `until`. */
  line(word: string, until?: (f: Figures) => boolean, timeoutMs?: number): Promise<Figures>;
  /** The "result" line, once the program ends. */
  readonly result: Promise<Figures>;
  /** Ends a run without `seconds` (closes its stdin). */
  stop(): void;
  /** SIGKILL, for finally blocks. */
  kill(): void;
}

const FLAGS: [keyof HostileOptions, string][] = [
  ['seconds', '-d'], ['slow', '-S'], ['slowIntervalMs', '-i'], ['idle', '-I'], ['noread', '-N'], ['reset', '-R'],
  ['halfClose', '-H'], ['flood', '-F'], ['floodConcurrency', '-f'], ['good', '-G'], ['thinkMs', '-t'], ['held', '-T'],
  ['bigBytes', '-b'], ['cyclePauseMs', '-c'],
];

function figuresOf(line: string): Figures {
  return Object.fromEntries(
    line
      .split(' ')
      .slice(1)
      .map((kv) => kv.split('='))
      .map(([k, v]) => [k, Number(v)]),
  );
}

/** Starts hostile_client against 127.0.0.1:`port`. */
export function startHostile(port: number, options: HostileOptions): HostileClient {
  const args = ['-p', options.protocol, ...(options.seconds === undefined ? ['-e'] : [])];
  for (const [key, flag] of FLAGS) if (options[key] !== undefined) args.push(flag, String(options[key]));
  const child = spawn(buildC('hostile_client'), [...args, String(port)], { stdio: ['pipe', 'pipe', 'inherit'] });
  child.stdin!.on('error', () => {}); // EPIPE once it has gone
  const seen: string[] = [];
  const waiters = new Set<() => void>();
  let ended = false;
  createInterface({ input: child.stdout! }).on('line', (l) => {
    seen.push(l);
    for (const w of waiters) w();
  });
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  void exited.then(() => {
    ended = true;
    for (const w of waiters) w();
  });
  const line = (word: string, until: (f: Figures) => boolean = () => true, timeoutMs = 20_000): Promise<Figures> =>
    new Promise((resolve, reject) => {
      let next = seen.length;
      const check = (): void => {
        for (; next < seen.length; next++) {
          if (!seen[next].startsWith(`${word} `)) continue;
          const figures = figuresOf(seen[next]);
          if (until(figures)) return done(() => resolve(figures));
        }
        if (ended) done(() => reject(new Error(`hostile_client ended without a matching "${word}" line:\n${seen.slice(-3).join('\n')}`)));
      };
      const timer = setTimeout(() => done(() => reject(new Error(`no matching "${word}" line within ${timeoutMs} ms`))), timeoutMs);
      const done = (settle: () => void): void => {
        clearTimeout(timer);
        waiters.delete(check);
        settle();
      };
      waiters.add(check);
      check();
    });
  const result = line('result', undefined, (options.seconds ?? 600) * 1000 + 30_000);
  result.catch(() => {}); // a test that failed earlier and killed the program never awaits it
  return {
    line,
    result,
    stop: () => child.stdin!.end(),
    kill: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}

/**
 * Makes a fresh server make what it makes once (thread-pool's and prefork's workers, shared buffers, the file
 * cache) before a baseline is read: four good connections, each answered at least once (a worker still
 * starting — the CLI prints its port first — answers nothing, so this waits for it), every byte right.
 */
export async function warmUp(port: number, protocol: HostileOptions['protocol'], bigBytes?: number): Promise<void> {
  const warm = await startHostile(port, { protocol, seconds: 0.2, good: 4, thinkMs: 1, bigBytes }).result;
  expect(warm).toMatchObject({ good_errors: 0, good_wrong: 0 });
  expect(warm.good_done).toBeGreaterThanOrEqual(4);
}

/** `length` bytes of hostile_client's pattern: byte i is the top byte of i * 2654435761 (mod 2^32). */
export function patternBytes(length: number): Buffer {
  const b = Buffer.alloc(length);
  for (let i = 0; i < length; i++) b[i] = Math.imul(i, 2654435761) >>> 24;
  return b;
}

/** A document root with /big.bin (`bigBytes`) and /small.bin (1 KiB), both in the pattern; remove() deletes it. */
export function patternRoot(bigBytes: number): { dir: string; remove: () => void } {
  const root = tempDir();
  writeFileSync(path.join(root.dir, 'big.bin'), patternBytes(bigBytes));
  writeFileSync(path.join(root.dir, 'small.bin'), patternBytes(1024));
  return root;
}

/** Samples a server (readServer) every `everyMs` until stop(), which returns the peaks seen. */
export function sampleServer(pid: number, everyMs = 100): { stop(): { peakPssKb: number; peakRssKb: number; peakChildren: number } } {
  const peaks = { peakPssKb: 0, peakRssKb: 0, peakChildren: 0 };
  const take = (r: ServerReading): void => {
    peaks.peakPssKb = Math.max(peaks.peakPssKb, r.pssKb);
    peaks.peakRssKb = Math.max(peaks.peakRssKb, r.rssKb);
    peaks.peakChildren = Math.max(peaks.peakChildren, r.children + r.zombies);
  };
  const timer = setInterval(() => take(readServer(pid)), everyMs);
  return {
    stop() {
      clearInterval(timer);
      take(readServer(pid));
      return peaks;
    },
  };
}

/**
 * Waits for the server at rest — no zombie, and the same fds and children for 300 ms — and returns that
 * reading; with `expected`, at rest with its fds and children, or fails showing the last reading. 300 ms
 * outlasts the listener's 100 ms EMFILE back-off: a server flushing a backlog of departed clients passes
 * through its starting fd count without being done.
 */
export async function atRest(pid: number, expected?: ServerReading): Promise<ServerReading> {
  const shape = (r: ServerReading): string => `fds=${r.treeFds} children=${r.children} zombies=${r.zombies}`;
  const want = expected && shape({ ...expected, zombies: 0 });
  let last = readServer(pid);
  let since = performance.now();
  const rested = (): boolean => last.zombies === 0 && (!want || shape(last) === want) && performance.now() - since >= 300;
  await waitUntil(() => {
    const now = readServer(pid);
    if (shape(now) !== shape(last)) since = performance.now();
    last = now;
    return rested();
  }, 'the server at rest').catch(() => {});
  expect(rested() ? 'at rest' : shape(last), `the server did not come to rest${want ? ` at ${want}` : ''}`).toBe('at rest');
  return last;
}
