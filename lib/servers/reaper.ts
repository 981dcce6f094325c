/**
 * Reaping one's own children, the only safe way beside child_process (fork-safety.md, G): waitpid(2) on
 * each pid we forked, never -1, after every SIGCHLD (signals coalesce, so every pid is asked) and on a
 * periodic sweep that catches what a lost signal would leave behind. Shared by the fork-based models; the
 * forking server learns of most exits from pidfds instead (`fork(watch)`, `reapEnded`) and keeps the sweep.
 * @module
 */
import { constants } from 'node:os';
import * as proc from '../sys/process';

/** waitpid(pid, WNOHANG); a pid someone else already reaped (ECHILD) counts as ended, with no status. */
export function reapOne(pid: number): proc.WaitStatus | null {
  try {
    return proc.waitpid(pid);
  } catch {
    return { pid, exitCode: null, signal: null };
  }
}

/**
 * Calls `reap` every `sweepMs`, and on every SIGCHLD unless `signal` is false (the caller learns of exits
 * another way, as the forking server does with pidfds); returns the function that stops it.
 */
export function watchChildren(reap: () => void, sweepMs = 150, signal = true): () => void {
  const onSigchld = (): void => reap();
  if (signal) process.on('SIGCHLD', onSigchld);
  const sweep = setInterval(reap, sweepMs);
  return () => {
    clearInterval(sweep);
    if (signal) process.off('SIGCHLD', onSigchld);
  };
}

const SIGNAL_NAMES = new Map<number, string>();
for (const [name, number] of Object.entries(constants.signals)) if (!SIGNAL_NAMES.has(number)) SIGNAL_NAMES.set(number, name);

/** A signal's name from its number ('SIGSEGV'), as waitpid reports it. */
export function signalName(signal: number): string {
  return SIGNAL_NAMES.get(signal) ?? String(signal);
}
