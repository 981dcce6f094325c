/**
 * The server process of `epollkit lab et-vs-lt`: an echo server (Listener + Connection) on a blocking epoll loop,
 * configured by one JSON argument ({@link LabServerConfig}), so that its counters (thread-local in the
 * addon) and its CPU time are its own. It prints `listening PORT`, then obeys one-byte commands on fd 0
 * (the socketpair Node gives a child for a 'pipe' stdio), each answered by one JSON line on fd 1:
 * `r` resets the counters and tallies, `s` reports them, `q` reports and exits — each once every connection
 * has closed — `k` reports at once and exits (for a run that leaves connections stuck), and `0` / `1` turn
 * the counters off / on (the lab's measure of what counting costs, in one warm process). Commands are read
 * with read(2) and answered with write(2), which the addon does not count; only the epoll event that brings
 * a command is counted, and it is tallied apart (`controlEvents`).
 * @module
 */
import { readSync, writeSync } from 'node:fs';
import { EpollSelector } from '../loop/epoll-selector';
import { EventLoop, type Registration } from '../loop/event-loop';
import { Interest, type InterestMask, type SelectorKey } from '../loop/selector';
import { Connection, type ConnectionHandlers, type ConnectionOptions } from '../loop/connection';
import { Listener } from '../loop/listener';
import { readCounters, resetCounters, setCountersEnabled, type Counters } from '../sys/counters';

/** How the lab server reads and waits. */
export interface LabServerConfig {
  trigger: 'level' | 'edge';
  /** EPOLLONESHOT: connections and the listener re-arm their fd (EPOLL_CTL_MOD) after each event. */
  oneshot?: boolean;
  /** Connection read mode (default: the trigger). 'level' under an edge trigger is the "forgot to drain" bug. */
  readMode?: 'level' | 'edge';
  /** Level read mode: recv calls per readable event (default 1). */
  readsPerEvent?: number;
  /** Edge read mode: bytes per event before the other fds get a turn (default: drain). */
  readBudget?: number;
  /** Edge read mode: what ends an event's reading, a short read (the default) or EAGAIN. */
  edgeDrain?: 'short-read' | 'eagain';
  /** Size of one recv (default 64 KiB). */
  readBufferSize?: number;
}

/** What the server tallies itself, beside the addon's counters. */
export interface LabTally {
  /** epoll events by fd: the listener, the control socket, connections (readable or hangup), connections writable only. */
  listenerEvents: number;
  controlEvents: number;
  readableEvents: number;
  writableOnlyEvents: number;
  /** epoll_wait calls whose only events were control commands (not part of the workload). */
  controlOnlyWaits: number;
  /** EPOLL_CTL_MOD calls under EPOLLONESHOT: each re-arms its key (a change of interest at EOF included). */
  rearms: number;
  /** recv calls that returned data (one onData each), and that returned 0 (end of stream). */
  dataReads: number;
  /** Reads shorter than the buffer in events without a hangup: under ET with edgeDrain 'short-read', each ends its event. */
  shortReads: number;
  eofReads: number;
  /** Echo writes (one Connection.write each). */
  writes: number;
  /** Echo writes that joined the same connection's previous write in the loop's send batch (one send for both). */
  coalescedWrites: number;
  accepted: number;
  closed: number;
}

/** One report line. */
export interface LabServerReport {
  counters: Counters;
  tally: LabTally;
  /** Process CPU time (user + system, every thread) since the last reset, in microseconds. */
  cpuUs: number;
  /** The most output any connection held queued (0: every send took all it was given, none hit EAGAIN). */
  peakQueuedBytes: number;
}

function emptyTally(): LabTally {
  return {
    listenerEvents: 0, controlEvents: 0, readableEvents: 0, writableOnlyEvents: 0, controlOnlyWaits: 0, rearms: 0,
    dataReads: 0, shortReads: 0, eofReads: 0, writes: 0, coalescedWrites: 0, accepted: 0, closed: 0,
  };
}

/** An epoll selector that tallies its events by kind and, when one-shot, the re-arms (every modify). */
export class TallyingSelector extends EpollSelector<Registration> {
  listenerFd = -1;
  tally = emptyTally();
  /** The fds whose event in the current batch reported a hangup. */
  readonly hangups = new Set<number>();

  override modify(fd: number, interest: InterestMask, data?: Registration): SelectorKey<Registration> {
    if (this.oneshot) this.tally.rearms++;
    return super.modify(fd, interest, data);
  }

  override select(timeoutMs: number): readonly SelectorKey<Registration>[] {
    const keys = super.select(timeoutMs);
    const t = this.tally;
    let control = 0;
    this.hangups.clear();
    for (const key of keys) {
      if (key.hangup) this.hangups.add(key.fd);
      if (key.fd === 0) control++;
      else if (key.fd === this.listenerFd) t.listenerEvents++;
      else if (key.readable || key.hangup) t.readableEvents++;
      else t.writableOnlyEvents++;
    }
    t.controlEvents += control;
    if (control > 0 && control === keys.length) t.controlOnlyWaits++;
    return keys;
  }
}

function main(config: LabServerConfig): void {
  const selector = new TallyingSelector({ trigger: config.trigger, oneshot: config.oneshot });
  const loop = new EventLoop({ selector });
  const options: ConnectionOptions = {
    readMode: config.readMode,
    readsPerEvent: config.readsPerEvent,
    readBudget: config.readBudget,
    readBufferSize: config.readBufferSize,
    edgeDrain: config.edgeDrain,
  };
  const readSize = config.readBufferSize ?? 64 * 1024;
  let live = 0;
  let peakQueuedBytes = 0;
  let pending: string | undefined;
  let cpu0 = process.cpuUsage();
  let coalesced0 = loop.sends.coalesced;
  const reply = (line: object): void => void writeSync(1, JSON.stringify(line) + '\n');
  // Runs the pending command; every command but 'k' waits until no connection is left (the warm-up's
  // closes are not the workload's, and a report must not cut a connection's life in two).
  const obey = (): void => {
    const c = pending;
    pending = undefined;
    if (c === '0' || c === '1') {
      setCountersEnabled(c === '1');
      return reply({ ok: true });
    }
    if (c === 'r') {
      resetCounters();
      selector.tally = emptyTally();
      peakQueuedBytes = 0;
      cpu0 = process.cpuUsage();
      coalesced0 = loop.sends.coalesced;
      return reply({ ok: true });
    }
    const cpu = process.cpuUsage(cpu0);
    const tally = { ...selector.tally, coalescedWrites: loop.sends.coalesced - coalesced0 };
    reply({ counters: readCounters(), tally, cpuUs: cpu.user + cpu.system, peakQueuedBytes });
    if (c !== 's') process.exit(0); // no further syscall of the addon: a strace of this process ends here
  };
  // An echo server written with the loop's own pieces, so that every callback knows its fd and the tally
  // can tell a read that ended its event.
  const handlers: ConnectionHandlers = {
    onData(chunk, connection) {
      const t = selector.tally;
      t.dataReads++;
      // A short read ends an edge-triggered event unless that event also reported a hangup (connection.ts).
      if (chunk.length < readSize && !selector.hangups.has(connection.fd)) t.shortReads++;
      t.writes++;
      connection.write(chunk);
    },
    onEnd(connection) {
      selector.tally.eofReads++;
      connection.end();
    },
    onClose(_reason, _error, connection) {
      selector.tally.closed++;
      peakQueuedBytes = Math.max(peakQueuedBytes, connection.peakWritableLength);
      if (--live === 0 && pending) obey();
    },
  };
  const listener = new Listener(loop, (fd) => {
    selector.tally.accepted++;
    live++;
    new Connection(loop, fd, handlers, options);
  });
  selector.listenerFd = listener.fd;
  const command = Buffer.alloc(1);
  loop.add(
    0,
    Interest.READABLE,
    () => {
      let n: number;
      try {
        n = readSync(0, command, 0, 1, null);
      } catch {
        return; // nothing after all (a spurious wakeup)
      }
      if (n === 0) return void process.exit(0); // the parent is gone
      pending = String.fromCharCode(command[0]);
      if (live === 0 || pending === 'k') obey();
      if (selector.oneshot) loop.modify(0, Interest.READABLE);
    },
    { owned: false },
  );
  writeSync(1, `listening ${listener.port} ${process.pid}\n`);
  loop.run();
}

if (require.main === module) main(JSON.parse(process.argv[2] ?? '{"trigger":"level"}') as LabServerConfig);
