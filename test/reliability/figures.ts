// The reliability tests' measured figures: one JSON line per record in results/reliability/figures.jsonl
// (what `npm run soak` leaves for the README's "Reliability" table) and a one-line summary on stderr.
import { appendFileSync, mkdirSync } from 'node:fs';
import * as path from 'node:path';

const dir = path.resolve(__dirname, '../../results/reliability');

/** Whether the tests run at the full scale (`npm run soak`) rather than CI's short version. */
export const SOAK = process.env.EPOLLKIT_SOAK === '1';

/**
 * Whether the servers under test run with AddressSanitizer preloaded (CI's asan run): its allocator keeps
 * freed memory in quarantine and pads every block, so memory bounds are reported there, not asserted.
 */
export const ASAN = /libasan/.test(process.env.LD_PRELOAD ?? '');

/** Records `figures` under `name` (e.g. `leaks/epoll-et/echo`). */
export function record(name: string, figures: Record<string, number | string | boolean>): void {
  mkdirSync(dir, { recursive: true });
  appendFileSync(path.join(dir, 'figures.jsonl'), `${JSON.stringify({ name, soak: SOAK, asan: ASAN, at: new Date().toISOString(), ...figures })}\n`);
  const summary = Object.entries(figures)
    .map(([k, v]) => `${k}=${typeof v === 'number' && !Number.isInteger(v) ? v.toFixed(2) : v}`)
    .join(' ');
  process.stderr.write(`reliability ${name}: ${summary}\n`);
}
