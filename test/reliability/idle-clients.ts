// Drives bench/idle_client.c: HTTP keep-alive connections held idle by several client processes (an fd
// limit of 20,000 per process), and a few active clients that measure request latency.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface, type Interface } from 'node:readline';
import { buildC } from '../../lib/lab/tools';

/** Connections per client process: under the 20,000-fd limit with room for stdio and the epoll fd. */
export const PER_PROCESS = 15_000;

interface Holder {
  child: ChildProcess;
  lines: Interface;
}

/** Idle keep-alive connections held open by client processes until {@link IdleClients.close}. */
export interface IdleClients {
  /** Connections that made their request, got a whole 200 reply and are now idle. */
  established: number;
  errors: number;
  /** Longest setup of one client process, ms. */
  setupMs: number;
  /** Asks every client process how many of its connections are still open and how many the server closed. */
  status(): Promise<{ alive: number; closed: number }>;
  /** Closes every connection (end of stdin) and waits for the client processes to exit. */
  close(): Promise<void>;
}

function nextLine(holder: Holder): Promise<string> {
  return new Promise((resolve, reject) => {
    const onExit = (): void => reject(new Error(`idle_client ${holder.child.pid} exited`));
    holder.child.once('exit', onExit);
    holder.lines.once('line', (line) => {
      holder.child.off('exit', onExit);
      resolve(line);
    });
  });
}

/** key=value pairs of one output line, as numbers. */
export function fields(line: string): Record<string, number> {
  return Object.fromEntries([...line.matchAll(/(\w+)=(-?[\d.]+)/g)].map(([, k, v]) => [k, Number(v)]));
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await once(child, 'exit');
  clearTimeout(timer);
}

/**
 * Opens `count` idle connections to 127.0.0.1:`port` from ceil(count / PER_PROCESS) processes started
 * together; `addressOffset` shifts their spread over the source addresses 127.0.0.2-9. Each process keeps at
 * most `inFlight` connects unanswered, so that all of them together stay inside the server's backlog.
 */
export async function openIdle(port: number, count: number, { addressOffset = 0, inFlight = 64 } = {}): Promise<IdleClients> {
  const exe = buildC('idle_client');
  const holders: Holder[] = [];
  const processes = Math.ceil(count / PER_PROCESS);
  try {
    for (let i = 0; i < processes; i++) {
      const share = Math.floor(count / processes) + (i < count % processes ? 1 : 0);
      const args = ['-c', String(share), '-o', String(addressOffset + i), '-q', String(inFlight), String(port)];
      const child = spawn(exe, args, { stdio: ['pipe', 'pipe', 'inherit'] });
      holders.push({ child, lines: createInterface({ input: child.stdout! }) });
    }
    const reports = (await Promise.all(holders.map(nextLine))).map(fields);
    const sum = (key: string): number => reports.reduce((s, r) => s + (r[key] ?? 0), 0);
    return {
      established: sum('established'),
      errors: sum('errors'),
      setupMs: Math.max(...reports.map((r) => r.setup_ms)),
      async status() {
        const replies = await Promise.all(
          holders.map((h) => {
            const line = nextLine(h);
            h.child.stdin!.write('status\n');
            return line.then(fields);
          }),
        );
        return { alive: replies.reduce((s, r) => s + r.alive, 0), closed: replies.reduce((s, r) => s + r.closed, 0) };
      },
      async close() {
        for (const h of holders) h.child.stdin!.end();
        await Promise.all(holders.map((h) => stop(h.child)));
      },
    };
  } catch (error) {
    for (const h of holders) h.child.kill('SIGKILL');
    await Promise.all(holders.map((h) => stop(h.child)));
    throw error;
  }
}

/** What {@link runActive} measured. */
export interface ActiveResult {
  requests: number;
  errors: number;
  unanswered: number;
  p50Us: number;
  p99Us: number;
  maxUs: number;
}

/**
 * `connections` keep-alive clients, each making a GET every `intervalMs` (0: as soon as the last reply is
 * in) for `seconds`; latency counts from when a request was due.
 */
export async function runActive(port: number, connections: number, seconds: number, intervalMs: number): Promise<ActiveResult> {
  const child = spawn(buildC('idle_client'), ['-A', String(connections), '-d', String(seconds), '-i', String(intervalMs), String(port)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    const line = await nextLine({ child, lines: createInterface({ input: child.stdout! }) });
    const r = fields(line);
    return { requests: r.requests, errors: r.errors, unanswered: r.unanswered, p50Us: r.p50_us, p99Us: r.p99_us, maxUs: r.max_us };
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await stop(child);
  }
}
