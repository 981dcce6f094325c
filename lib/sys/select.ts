/**
 * select(2). An fd_set holds fds 0..FD_SETSIZE-1 (1023); any other fd is refused with
 * `ERR_EPOLLKIT_FD_SETSIZE` before a set is touched (FD_SET past the set is undefined behaviour).
 * @module
 */
import { constant, native } from '../binding';
import '../errors';

/**
 * The raw call. Like select(2)'s own value-result sets, the ready fds of each array are moved to its
 * front and their numbers written to `readyCounts[0..2]`. Returns the total, or `-errno`.
 * `timeoutMs` -1 waits forever.
 * @example
 * const r = new Int32Array([a, b]), counts = new Int32Array(3);
 * select(r, null, null, 100, counts); // r.subarray(0, counts[0]) are readable
 */
export const select: (
  readFds: Int32Array | null,
  writeFds: Int32Array | null,
  exceptFds: Int32Array | null,
  timeoutMs: number,
  readyCounts: Int32Array,
) => number = native.select;

/** The ready fds of each list, as {@link selectFds} returns them. */
export interface SelectResult {
  read: number[];
  write: number[];
  except: number[];
}

/**
 * The convenient form (allocates): fd lists in, ready lists out, like Python's `select.select`.
 * A negative result (EINTR) is returned as `-errno`.
 * @example
 * const { read } = selectFds([fd], [], [], 0) as SelectResult;
 */
export function selectFds(
  read: readonly number[],
  write: readonly number[],
  except: readonly number[],
  timeoutMs: number,
): SelectResult | number {
  const sets = [Int32Array.from(read), Int32Array.from(write), Int32Array.from(except)];
  const counts = new Int32Array(3);
  const n = native.select(sets[0], sets[1], sets[2], timeoutMs, counts);
  if (n < 0) return n;
  const [r, w, x] = sets.map((set, i) => Array.from(set.subarray(0, counts[i])));
  return { read: r, write: w, except: x };
}

/** 1024 on Linux: select cannot watch an fd at or above it. */
export const FD_SETSIZE = constant('FD_SETSIZE');
