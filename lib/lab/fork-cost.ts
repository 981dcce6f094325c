/**
 * What one fork costs a Node process of a forking server's size: `node --single-threaded
 * dist/lab/fork-cost.js [FORKS]` forks, lets the child `_exit` at once and reaps it (waitpid(2), blocking),
 * FORKS times, and prints one line of JSON: per cycle, the wall time, the parent's CPU and the children's
 * (their cutime + cstime, counted once reaped), and the RSS it ran at. The inverse of the parent's CPU per
 * fork is the most connections/s that Node's fork cost lets a forking server's parent reach (fork-safety.md, E;
 * issue 6 asks ForkingServer for 0.8 of it).
 * @module
 */
import * as proc from '../sys/process';
import { processTreeCpuMs } from './tools';
import { ForkingServer } from '../servers/forking';
import { echo } from '../protocols/echo';

if (require.main === module) {
  const forks = Number(process.argv[2] ?? 200);
  // Load what the forking server loads (and open its listener) so that the heap and mappings are alike.
  const server = new ForkingServer({ protocol: echo, port: 0 });
  // The tree's total less the root's own time: the CPU of the children reaped so far (cutime + cstime).
  const childrenMs = (): number => {
    const { total, self } = processTreeCpuMs(process.pid);
    return total - self;
  };
  const children0 = childrenMs();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < forks; i++) {
    const pid = proc.fork();
    if (pid === 0) proc._exit(0);
    proc.waitpid(pid, 0);
  }
  const wallUs = ((performance.now() - t0) * 1000) / forks;
  const cpu = process.cpuUsage(cpu0);
  const parentCpuUs = (cpu.user + cpu.system) / forks;
  const childCpuUs = ((childrenMs() - children0) * 1000) / forks;
  const rssKb = Math.round(process.memoryUsage().rss / 1024);
  process.stdout.write(`${JSON.stringify({ forks, wallUs, parentCpuUs, childCpuUs, rssKb })}\n`);
  void server.close();
}
