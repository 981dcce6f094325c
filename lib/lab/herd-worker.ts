/**
 * One prefork worker of `epollkit lab herd`: `node herd-worker.js shared|exclusive|reuseport PORT`. It blocks
 * in epoll_wait (level-triggered) on a listener — the one it inherited as fd 3 ('shared', or 'exclusive':
 * registered with EPOLLEXCLUSIVE), or its own SO_REUSEPORT socket on PORT ('reuseport') — and accepts and
 * closes every connection. Commands on fd 0, as lab-server.ts: `r` resets, `s` reports, `q` exits, `f` reports
 * the counters of its whole life and exits (for `--verify-strace`).
 * A report counts its wakeups two ways: epoll_wait returns that carried the listener (what the program
 * sees), and the main thread's voluntary context switches (every time the kernel woke it, including the
 * wakeups after which epoll_wait found nothing ready and slept again without returning).
 * @module
 */
import { readFileSync, readSync, writeSync } from 'node:fs';
import { EventLoop } from '../loop/event-loop';
import { Listener } from '../loop/listener';
import { Interest } from '../loop/selector';
import { COUNTER_NAMES, readCounters, resetCounters } from '../sys/counters';
import * as sys from '../sys/socket';
import { TallyingSelector } from './lab-server';

/** How the workers share the port. */
export type HerdMode = 'shared' | 'exclusive' | 'reuseport';

/** One worker's report. */
export interface HerdWorkerReport {
  pid: number;
  accepted: number;
  accept4: number;
  /** epoll_wait returns that reported the listener. */
  listenerWakeups: number;
  /** Times the main thread blocked and was woken, not counting the command that asked for this report. */
  sleeps: number;
}

/** Voluntary context switches of this process's main thread so far. */
function voluntarySwitches(): number {
  const status = readFileSync(`/proc/self/task/${process.pid}/status`, 'utf8');
  return Number(/voluntary_ctxt_switches:\s+(\d+)/.exec(status)![1]);
}

function main(mode: HerdMode, port: number): void {
  const selector = new TallyingSelector();
  const loop = new EventLoop({ selector });
  // The kernel's own behaviour: accept until EAGAIN, no requeue (PreforkServer's listeners do both otherwise).
  const listener = new Listener(loop, (fd) => sys.close(fd), mode === 'reuseport' ? { port, reusePort: true } : { fd: 3, borrowed: true, exclusive: mode === 'exclusive', acceptBatch: 64, requeue: false });
  selector.listenerFd = listener.fd;
  let switches0 = voluntarySwitches();
  let accepted0 = 0;
  // What the resets took away, so that `f` can report the whole life (what strace sees).
  const before = readCounters();
  for (const name of COUNTER_NAMES) before[name] = 0;
  const command = Buffer.alloc(1);
  loop.add(
    0,
    Interest.READABLE,
    () => {
      const n = readSync(0, command, 0, 1, null);
      const c = String.fromCharCode(command[0]);
      if (n === 0 || c === 'q' || c === 'f') {
        listener.close(); // before the last report: its epoll_ctl is part of the life strace sees
        if (mode !== 'reuseport') sys.close(3);
        if (c === 'f') {
          const now = readCounters();
          for (const name of COUNTER_NAMES) now[name] += before[name];
          writeSync(1, JSON.stringify({ pid: process.pid, counters: now }) + '\n');
        }
        return void process.exit(0);
      }
      if (c === 'r') {
        const now = readCounters();
        for (const name of COUNTER_NAMES) before[name] += now[name];
        resetCounters();
        selector.tally.listenerEvents = 0;
        accepted0 = listener.accepted;
        switches0 = voluntarySwitches();
        writeSync(1, '{}\n');
        return;
      }
      const report: HerdWorkerReport = {
        pid: process.pid,
        accepted: listener.accepted - accepted0,
        accept4: readCounters().accept4,
        listenerWakeups: selector.tally.listenerEvents,
        // The last sleep was ended by this command.
        sleeps: voluntarySwitches() - switches0 - 1,
      };
      writeSync(1, JSON.stringify(report) + '\n');
    },
    { owned: false },
  );
  writeSync(1, `ready ${listener.port} ${process.pid}\n`);
  loop.run();
}

if (require.main === module) main(process.argv[2] as HerdMode, Number(process.argv[3] ?? 0));
