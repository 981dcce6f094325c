// How long each fast-check property runs: a fixed number of cases by default (CI), and under `npm run soak`
// (EPOLLKIT_SOAK=1) for a time instead: EPOLLKIT_FUZZ_SECONDS per property (default 100, so that the six
// properties together fuzz for 10 minutes).
const SOAK = process.env.EPOLLKIT_SOAK === '1';
const SECONDS = Number(process.env.EPOLLKIT_FUZZ_SECONDS ?? 100);

/** fast-check options for a property worth `runs` cases in CI (an interrupted soak run is not a failure). */
export function fuzzRuns(runs: number): { numRuns: number; interruptAfterTimeLimit?: number } {
  return SOAK ? { numRuns: Number.MAX_SAFE_INTEGER, interruptAfterTimeLimit: SECONDS * 1000 } : { numRuns: runs };
}

/** The vitest timeout of a fuzzing test. */
export const fuzzTimeoutMs = SOAK ? (SECONDS + 60) * 1000 : 60_000;
