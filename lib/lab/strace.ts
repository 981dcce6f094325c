/**
 * `--verify-strace`: the same run traced by `strace -f`, its calls summed per syscall as `strace -c -f`
 * would, but for the server's own thread and its own epoll fds only. The addon's counters are per thread,
 * and Node makes a few epoll calls of its own — in helper threads, and in the main thread on libuv's epoll
 * fd at exit — which strace -c would add to the server's. libuv waits with epoll_pwait and the addon with
 * epoll_wait, which tells their epoll fds apart.
 * @module
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { Counters } from '../sys/counters';
import { markdownTable } from './report';

/** The syscalls the counters can be compared with. */
export const TRACED = [
  'epoll_wait', 'epoll_pwait', 'epoll_ctl', 'accept4', 'recvfrom', 'sendto', 'sendmsg', 'writev', 'sendfile', 'poll', 'ppoll',
  'select', 'pselect6',
];

/** True when `strace` is installed and may trace here (a container can forbid ptrace). */
export function haveStrace(): boolean {
  return spawnSync('strace', ['-f', '-qq', '-o', '/dev/null', 'true']).status === 0;
}

/** The argv prefix that traces a command into `file`: every thread, no string contents. */
export function straceArgv(file: string): string[] {
  return ['strace', '-f', '-qq', '-s', '0', '-o', file, '-e', `trace=${TRACED.join(',')}`];
}

/** Per syscall: calls, the sum of non-negative results (epoll_wait: events returned) and EAGAIN results. */
export interface SyscallSums {
  calls: number;
  returned: number;
  eagain: number;
}

/** Sums the calls of thread `tid` in a trace written by {@link straceArgv}. */
export function sumTrace(file: string, tid: number): Record<string, SyscallSums> {
  const sums: Record<string, SyscallSums> = {};
  const sum = (name: string): SyscallSums => (sums[name] ??= { calls: 0, returned: 0, eagain: 0 });
  const libuvFds = new Set<string>();
  const ctlByFd = new Map<string, number>();
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    // "PID name(args) = R [ERRNO (text)]", or split in two: "PID name(args <unfinished ...>" then
    // "PID <... name resumed>rest) = R".
    const m = /^(\d+)\s+(?:<\.\.\. (\w+) resumed>|(\w+)\((\d+)?)/.exec(line);
    if (!m || Number(m[1]) !== tid) continue;
    const name = m[2] ?? m[3];
    if (name === 'epoll_pwait') libuvFds.add(m[4]);
    if (name === 'epoll_ctl' && m[3]) ctlByFd.set(m[4], (ctlByFd.get(m[4]) ?? 0) + 1);
    if (m[3]) sum(name).calls++;
    const result = /\) += (-?\d+)(?: (E[A-Z0-9]+) \([^)]*\))?$/.exec(line);
    if (!result) continue;
    if (result[2] === 'EAGAIN') sum(name).eagain++;
    else if (Number(result[1]) >= 0) sum(name).returned += Number(result[1]);
  }
  for (const fd of libuvFds) if (ctlByFd.has(fd)) sum('epoll_ctl').calls -= ctlByFd.get(fd)!;
  delete sums.epoll_pwait;
  return sums;
}

/**
 * Several processes' counters beside their traces (file, pid), summed: a prefork run's workers as one.
 * @example
 * const rows = compareAll(workers.map((w) => ({ counters: w.counters, file: w.trace, pid: w.pid })));
 */
export function compareAll(runs: { counters: Counters; file: string; pid: number }[]): StraceRow[] {
  const counters = { ...runs[0].counters };
  for (const name of Object.keys(counters) as (keyof Counters)[]) counters[name] = runs.reduce((sum, r) => sum + r.counters[name], 0);
  const sums: Record<string, SyscallSums> = {};
  for (const run of runs) {
    for (const [name, x] of Object.entries(sumTrace(run.file, run.pid))) {
      const into = (sums[name] ??= { calls: 0, returned: 0, eagain: 0 });
      into.calls += x.calls;
      into.returned += x.returned;
      into.eagain += x.eagain;
    }
  }
  return compareWithStrace(counters, sums);
}

/** The side-by-side Markdown table of labelled comparisons, and the largest difference under it. */
export function straceMarkdown(runs: { label: string; rows: StraceRow[] }[]): string {
  const header = ['syscall', ...runs.flatMap((r) => [`${r.label} counters`, `${r.label} strace`])];
  const rows = runs[0].rows.map((row, i) => [row.what, ...runs.flatMap((r) => [r.rows[i].counters, r.rows[i].strace])]);
  const worst = Math.max(...runs.flatMap((r) => r.rows.map((x) => x.difference)));
  return `${markdownTable(header, rows)}\n\nLargest difference: ${(100 * worst).toFixed(2)}% (must be under 2%).`;
}

/** One line of the side-by-side comparison. */
export interface StraceRow {
  what: string;
  counters: number;
  strace: number;
  /** |counters − strace| / strace (0 when both are 0). */
  difference: number;
}

/**
 * The counters beside the trace's sums, matched by what the addon calls on x86-64 Linux: recv and send are
 * recvfrom and sendto there, and writev on a socket is sendmsg. The addon counts an EAGAIN result of any of
 * its calls (recv, send, accept4, writev...).
 */
export function compareWithStrace(c: Counters, s: Record<string, SyscallSums>): StraceRow[] {
  const get = (name: string): SyscallSums => s[name] ?? { calls: 0, returned: 0, eagain: 0 };
  const pairs: [string, number, number][] = [
    ['epoll_wait calls', c.epollWait, get('epoll_wait').calls],
    ['epoll_wait events', c.epollEvents, get('epoll_wait').returned],
    ['epoll_ctl', c.epollCtl, get('epoll_ctl').calls],
    ['accept4', c.accept4, get('accept4').calls],
    ['recv → recvfrom', c.recv + c.recvfrom, get('recvfrom').calls],
    ['send → sendto', c.send + c.sendto, get('sendto').calls],
    ['writev → sendmsg', c.writev, get('sendmsg').calls + get('writev').calls],
    ['sendfile', c.sendfile, get('sendfile').calls],
    ['poll', c.poll, get('poll').calls + get('ppoll').calls],
    ['select', c.select, get('select').calls + get('pselect6').calls],
    ['EAGAIN results', c.eagain, Object.values(s).reduce((sum, x) => sum + x.eagain, 0)],
  ];
  return pairs.map(([what, counters, strace]) => ({
    what,
    counters,
    strace,
    difference: strace === 0 ? (counters === 0 ? 0 : 1) : Math.abs(counters - strace) / strace,
  }));
}
