// Every model x every protocol, through the real CLI, with real clients and bytes checked. Concurrent
// models get 50 concurrent clients; the iterative one gets them in sequence. forking and prefork run in
// the `node --single-threaded` process the CLI starts for them.
import { describe, expect, it } from 'vitest';
import { calcClient, echoClient, httpClient, runClients, sessionClient } from './clients';
import { htmlRoot, startCli } from './cli-server';

const models = ['iterative', 'coroutine', 'busy-poll', 'select', 'poll', 'epoll-lt', 'epoll-et', 'threading', 'thread-pool', 'forking', 'prefork'];
const extraArgs: Record<string, string[]> = { prefork: ['--workers', '2'] };
const blocking = ['busy-poll', 'select', 'poll'];
const clients: Record<string, (port: number) => Promise<boolean>> = {
  echo: echoClient,
  calc: calcClient,
  session: sessionClient,
  http: httpClient(htmlRoot),
};

describe.each(models)('%s model', (model) => {
  it.each(Object.keys(clients))('serves %s', async (protocol) => {
    const server = await startCli(model, protocol, extraArgs[model]);
    try {
      const concurrency = model === 'iterative' ? 1 : 50;
      const failed = await runClients(100, concurrency, () => clients[protocol](server.port));
      expect(failed).toBe(0);
    } finally {
      // SIGTERM is a graceful close (exit 0), except for the models that block the thread: no JavaScript
      // signal handler can run there. forking and prefork: the outer CLI process ends as the inner one did.
      expect(await server.stop()).toBe(blocking.includes(model) ? 'SIGTERM' : 0);
    }
  });
});
