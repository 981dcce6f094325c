/**
 * What the benchmarks and labs share: building the C programs in bench/ into a cache, pinning processes
 * to cores with taskset, reading the CPU time and memory of a process (or of its whole tree) from /proc, and a median.
 * @module
 */
import { spawnSync, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { packageRoot } from '../binding';

const CFLAGS = ['-O2', '-Wall'];

/** Where compiled helpers are cached: node_modules/.cache/epollkit of the package, else the temp dir. */
export function cacheDir(): string {
  const modules = path.join(packageRoot, 'node_modules');
  return existsSync(modules) ? path.join(modules, '.cache', 'epollkit') : path.join(os.tmpdir(), 'epollkit-cache');
}

/**
 * Compiles bench/<name>.c with `cc` (default `$CC`, else `cc`) once per source version and returns the
 * binary's path. Extra flags (e.g. `-pthread`) are part of the cache key.
 * @example
 * const client = buildC('echo_client');
 */
export function buildC(name: string, extraFlags: string[] = [], cc = process.env.CC ?? 'cc'): string {
  const source = path.join(packageRoot, 'bench', `${name}.c`);
  const flags = [...CFLAGS, ...extraFlags];
  const hash = createHash('sha256').update(readFileSync(source)).update(cc).update(flags.join(' '));
  // Headers beside the source are part of what gets built.
  for (const file of readdirSync(path.dirname(source)).sort()) {
    if (file.endsWith('.h')) hash.update(readFileSync(path.join(path.dirname(source), file)));
  }
  const key = hash.digest('hex').slice(0, 16);
  const dir = cacheDir();
  const base = name.replace(/\//g, '-');
  const exe = path.join(dir, `${base}-${key}`);
  if (existsSync(exe)) return exe;
  mkdirSync(dir, { recursive: true });
  const tmp = `${exe}.tmp${process.pid}`;
  const built = spawnSync(cc, [...flags, '-o', tmp, source], { encoding: 'utf8' });
  if (built.error) throw new Error(`cannot run the C compiler "${cc}": ${built.error.message}`);
  if (built.status !== 0) throw new Error(`${cc} failed on ${source}:\n${built.stderr}`);
  renameSync(tmp, exe);
  // Binaries of older versions of the source are dead weight.
  for (const file of readdirSync(dir)) {
    if (file.startsWith(`${base}-`) && path.join(dir, file) !== exe) rmSync(path.join(dir, file), { force: true });
  }
  return exe;
}

/** True when `taskset` exists and the machine has at least two cores. */
export function canPin(): boolean {
  return os.cpus().length >= 2 && spawnSync('taskset', ['-V']).status === 0;
}

/** `[taskset, -c, cpu]` to prefix a command with, or nothing when pinning is not possible. */
export function pinned(cpu: number | undefined): string[] {
  return cpu !== undefined && canPin() ? ['taskset', '-c', String(cpu)] : [];
}

/** CPU time (user + system) of a process and all its threads so far, in milliseconds. */
export function processCpuMs(pid: number): number {
  const fields = statFields(pid);
  if (!fields) throw new Error(`no process ${pid}`);
  const ticks = Number(fields[11]) + Number(fields[12]);
  return (ticks * 1000) / clockTicks();
}

/** The fields of /proc/PID/stat after the command name (fields[0] is the state, [1] the ppid), or undefined once it is gone. */
function statFields(pid: number | string): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** When a process started, in clock ticks since boot (with its pid, it names one process for good), or undefined once it is gone. */
export function processStartTicks(pid: number): number | undefined {
  const fields = statFields(pid);
  return fields && Number(fields[19]);
}

let ticksPerSecond: number | undefined;
function clockTicks(): number {
  ticksPerSecond ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  return ticksPerSecond;
}

/** The median of `values` (NaN for none). */
export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/**
 * The lower and upper quartiles of `values` (Tukey's hinges: the medians of the lower and the upper half, the
 * middle value left out of both when the count is odd); NaN for none.
 */
export function quartiles(values: readonly number[]): [number, number] {
  const sorted = [...values].sort((a, b) => a - b);
  const half = sorted.length >> 1;
  return [median(sorted.slice(0, half)), median(sorted.slice(sorted.length - half))];
}

/** `pid` and every process below it (children of children too), from the ppid fields of /proc. */
export function processTree(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    const fields = /^\d+$/.test(entry) ? statFields(entry) : undefined;
    if (!fields) continue; // not a process, or it ended while we looked
    const ppid = Number(fields[1]);
    children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
  }
  const tree = [pid];
  for (let i = 0; i < tree.length; i++) tree.push(...(children.get(tree[i]) ?? []));
  return tree;
}

/**
 * CPU time (in ms) of `pid`, its live descendants, and the children they have reaped (cutime + cstime):
 * what a forking or prefork server costs as a whole. A child reaped between two readings moves from the
 * live sum to its parent's cutime, so differences of two readings stay right. `self` is the root process's
 * own time, without children (a forking parent's share).
 *
 * /proc/PID/stat counts in clock ticks (10 ms) per process, which summed over 50 short-lived children
 * would lose up to half a second; a descendant's time is read instead from its threads' schedstat (ns).
 * The root's comes from stat, which also holds the time of its threads that have ended.
 */
export function processTreeCpuMs(pid: number): { total: number; self: number } {
  const ms = (ticks: string): number => (Number(ticks) * 1000) / clockTicks();
  for (let attempt = 1; ; attempt++) {
    // Deepest first, the root last: a child reaped before it is read is already in its parent's cutime.
    const descendants = processTree(pid).slice(1).reverse();
    let total = 0;
    const read: number[] = [];
    for (const p of descendants) {
      const f = statFields(p);
      const live = f && threadsCpuMs(p);
      if (!f || live === undefined) continue;
      total += live + ms(f[13]) + ms(f[14]);
      read.push(p);
    }
    const root = statFields(pid);
    if (!root) throw new Error(`no process ${pid}`);
    const self = ms(root[11]) + ms(root[12]);
    total += self + ms(root[13]) + ms(root[14]);
    // A child reaped after it was read may be counted twice (live, and in the cutime read later): read again.
    if (attempt === 10 || read.every((p) => statFields(p))) return { total, self };
  }
}

/** The run time of a process's threads, from /proc/PID/task/TID/schedstat (ns), or undefined once it is gone. */
function threadsCpuMs(pid: number): number | undefined {
  try {
    let ns = 0;
    for (const tid of readdirSync(`/proc/${pid}/task`)) ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    return ns / 1e6;
  } catch {
    return undefined;
  }
}

/**
 * Memory of `pid` and its live descendants, in KiB: `rss` summed (pages shared after fork count once per
 * process) and `pss` summed (each shared page divided among its sharers: a tree's sum is what it really holds).
 */
export function processTreeMemoryKb(pid: number): { rss: number; pss: number } {
  let rss = 0;
  let pss = 0;
  for (const p of processTree(pid)) {
    try {
      const rollup = readFileSync(`/proc/${p}/smaps_rollup`, 'utf8');
      rss += Number(/^Rss:\s+(\d+)/m.exec(rollup)?.[1] ?? 0);
      pss += Number(/^Pss:\s+(\d+)/m.exec(rollup)?.[1] ?? 0);
    } catch {
      // it ended while we looked
    }
  }
  return { rss, pss };
}
