/**
 * The addon's own syscall counts, per thread: epoll_wait calls and events returned, epoll_ctl, accept4,
 * recv/send calls and bytes, recvfrom, sendto, writev (made as sendmsg(2) on sockets, so that it can carry
 * MSG_NOSIGNAL: strace lists it as sendmsg), sendfile, poll, select, and EAGAIN results.
 * Every call the addon makes on these paths is counted exactly once, so the figures agree with
 * `strace -c` on the same run; the labs are built on them.
 * @module
 */
import { native } from '../binding';

/** The name of one counter. */
export type CounterName =
  | 'epollWait'
  | 'epollEvents'
  | 'epollCtl'
  | 'accept4'
  | 'recv'
  | 'recvBytes'
  | 'send'
  | 'sendBytes'
  | 'recvfrom'
  | 'sendto'
  | 'writev'
  | 'sendfile'
  | 'sendfileBytes'
  | 'poll'
  | 'select'
  | 'eagain';

/** A snapshot of every counter. */
export type Counters = Record<CounterName, number>;

/** The counters in the addon's order. */
export const COUNTER_NAMES = native.COUNTER_NAMES as readonly CounterName[];
const scratch = new Float64Array(COUNTER_NAMES.length);

/**
 * The current values for this thread.
 * @example
 * resetCounters(); runWorkload(); const { epollWait, recv } = readCounters();
 */
export function readCounters(): Counters {
  native.countersRead(scratch);
  const out = {} as Counters;
  COUNTER_NAMES.forEach((name, i) => (out[name] = scratch[i]));
  return out;
}

/**
 * Fills `out` with the values in {@link COUNTER_NAMES} order, allocating nothing.
 * @example
 * const v = new Float64Array(COUNTER_NAMES.length); readCountersInto(v);
 */
export function readCountersInto(out: Float64Array): void {
  native.countersRead(out);
}

/**
 * Sets every counter of this thread to 0.
 * @example
 * resetCounters();
 */
export function resetCounters(): void {
  native.countersReset();
}

/**
 * Turns counting on or off for this thread (on by default) and returns the previous setting; the labs
 * measure their own overhead with it.
 * @example
 * const was = setCountersEnabled(false);
 */
export function setCountersEnabled(on: boolean): boolean {
  return native.countersEnable(on);
}
