/**
 * Reaping one's own children, the only safe way beside child_process (fork-safety.md, G): waitpid(2) on
 * each pid we forked, never -1, after every SIGCHLD (signals coalesce, so every pid is asked) and on a
 * periodic sweep that catches what a lost signal would leave behind. Shared by the fork-based models.
 * @module
 */
import * as proc from '../sys/process';

/** waitpid(pid, WNOHANG); a pid someone else already reaped (ECHILD) counts as ended, with no status. */
export function reapOne(pid: number): proc.WaitStatus | null {
  try {
    return proc.waitpid(pid);
  } catch {
    return { pid, exitCode: null, signal: null };
  }
}

/** Calls `reap` on every SIGCHLD and every `sweepMs`; returns the function that stops it. */
export function watchChildren(reap: () => void, sweepMs = 150): () => void {
  const onSigchld = (): void => reap();
  process.on('SIGCHLD', onSigchld);
  const sweep = setInterval(reap, sweepMs);
  return () => {
    clearInterval(sweep);
    process.off('SIGCHLD', onSigchld);
  };
}
