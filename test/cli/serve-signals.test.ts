// `epollkit serve` of a fork model runs node again with --single-threaded (the flag only works on the
// command line). The outer process passes SIGINT/SIGTERM/SIGHUP on and ends as the inner one did, so a
// signal to the only pid a supervisor knows stops the whole server: no process is left behind, by pid.
import { once } from 'node:events';
import * as net from 'node:net';
import { describe, expect, it } from 'vitest';
import { alive, childrenOf, waitUntil } from '../helpers/proc';
import { startCli } from '../servers/cli-server';

/** A connected client that has had one echo round trip, so its server process (or fork) is serving it. */
async function echoedClient(port: number): Promise<net.Socket> {
  const socket = net.connect(port, '127.0.0.1');
  await once(socket, 'connect');
  socket.write('ping');
  await once(socket, 'data');
  return socket;
}

describe('epollkit serve re-executed with --single-threaded', () => {
  it.each([
    ['forking', 'SIGTERM'],
    ['prefork', 'SIGTERM'],
    ['forking', 'SIGINT'],
    ['prefork', 'SIGHUP'],
  ] as const)('%s: %s to the outer process stops the inner one and its children, exit code 0', async (model, signal) => {
    const server = await startCli(model, 'echo', model === 'prefork' ? ['--workers', '2'] : []);
    const outer = server.child.pid!;
    const [inner] = childrenOf(outer);
    expect(inner).toBeGreaterThan(0);
    const client = await echoedClient(server.port);
    const closed = once(client, 'close');
    // forking: the connection's child; prefork: both workers.
    await waitUntil(() => childrenOf(inner).length === (model === 'prefork' ? 2 : 1), 'the inner server forked');
    const forked = childrenOf(inner);
    const exited = once(server.child, 'exit');
    server.child.kill(signal);
    client.end(); // a graceful close waits for this client's session to end
    expect(await exited).toEqual([0, null]);
    await closed;
    for (const pid of [inner, ...forked]) expect(alive(pid), `pid ${pid} still alive`).toBe(false);
  });

  it('dies by the signal that killed the inner process', async () => {
    const server = await startCli('forking', 'calc');
    const [inner] = childrenOf(server.child.pid!);
    const exited = once(server.child, 'exit');
    process.kill(inner, 'SIGKILL');
    expect(await exited).toEqual([null, 'SIGKILL']);
    expect(alive(inner)).toBe(false);
  });
});
