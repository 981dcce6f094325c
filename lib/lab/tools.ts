/**
 * What the benchmarks and labs share: building the C programs in bench/ into a cache, pinning processes
 * to cores with taskset, reading a process's CPU time from /proc, and a median.
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
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return (ticks * 1000) / clockTicks();
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
