// What a reliability test reads about a server running in another process: its open fds, memory and
// children, from /proc — without touching the server.
import { readdirSync, readFileSync } from 'node:fs';
import { processTree, processTreeMemoryKb } from '../../lib/lab/tools';
import { childrenOf } from '../helpers/proc';
import type { CliServer } from '../servers/cli-server';

/** One reading of a server process (the process that serves, not a CLI shadow in front of it). */
export interface ServerReading {
  /** Open fds of the serving process itself. */
  fds: number;
  /** Open fds summed over the process and its descendants (prefork workers, forking children). */
  treeFds: number;
  /** RSS and PSS of the process tree, KiB. */
  rssKb: number;
  pssKb: number;
  /** Descendants in state Z (exited, not reaped). */
  zombies: number;
  /** Live descendants (not zombies). */
  children: number;
}

function fdCount(pid: number): number {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return 0;
  }
}

function state(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  } catch {
    return undefined;
  }
}

/**
 * The pid that serves: for a model that needs `--single-threaded` the CLI runs node again and stays in
 * front as a shadow, so the server is its only child.
 */
export function servingPid(server: CliServer): number {
  const pid = server.child.pid!;
  const inner = childrenOf(pid);
  const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  if (argv.includes('--single-threaded') || inner.length === 0) return pid;
  if (inner.length !== 1) throw new Error(`expected one inner server process below ${pid}, found ${inner.length}`);
  return inner[0];
}

/** Reads fds, memory and children of the serving process `pid` and its descendants. */
export function readServer(pid: number): ServerReading {
  const tree = processTree(pid);
  const descendants = tree.slice(1).map((p) => state(p));
  const memory = processTreeMemoryKb(pid);
  return {
    fds: fdCount(pid),
    treeFds: tree.reduce((sum, p) => sum + fdCount(p), 0),
    rssKb: memory.rss,
    pssKb: memory.pss,
    zombies: descendants.filter((s) => s === 'Z').length,
    children: descendants.filter((s) => s !== undefined && s !== 'Z').length,
  };
}
