// Runs one of the leak and integrity tests' load clients (a C program from bench/, or a Node script beside
// this file) to its end in a child process — the vitest worker only waits on a pipe — and reads the
// key=value figures of its last line.
import { execFile } from 'node:child_process';
import * as path from 'node:path';
import { buildC } from '../../lib/lab/tools';

/** A finished client: its figures (numbers only) and what it wrote on stderr (its complaints). */
export interface ClientRun {
  figures: Record<string, number>;
  stderr: string;
}

/** Runs `argv` to its end (SIGKILL after `timeoutMs`); rejects on a non-zero exit or a missing figure line. */
export function runClient(argv: string[], timeoutMs: number): Promise<ClientRun> {
  return new Promise((resolve, reject) => {
    execFile(argv[0], argv.slice(1), { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 16 << 20 }, (error, stdout, stderr) => {
      const last = stdout.trim().split('\n').pop() ?? '';
      const figures = Object.fromEntries([...last.matchAll(/(\w+)=(-?[\d.]+)/g)].map((m) => [m[1], Number(m[2])]));
      if (error || Object.keys(figures).length === 0) reject(new Error(`${path.basename(argv[0])} failed (${error?.message ?? 'no figures'}):\n${stdout}${stderr}`));
      else resolve({ figures, stderr });
    });
  });
}

/** `node <script>` for a client script in this directory. */
export function nodeScript(name: string): string[] {
  return [process.execPath, path.join(__dirname, name)];
}

/** The compiled bench/<name>.c (built once per source version). */
export const cClient = (name: string): string[] => [buildC(name)];
