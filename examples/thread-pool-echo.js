// Seed 002's conclusion, "multiplexing + a pool of threads", as an echo server: the main thread accepts
// on an epoll loop attached to Node's, and hands each connection's fd to one of N worker threads, each
// running its own epoll reactor. `npm run build:ts && node examples/thread-pool-echo.js [port] [threads]`,
// then `nc 127.0.0.1 7000`. Ctrl-C closes gracefully: replies in flight are finished first.
'use strict';
const { ThreadPoolServer } = require('epollkit');

const port = Number(process.argv[2] ?? 7000);
const threads = process.argv[3] === undefined ? undefined : Number(process.argv[3]);

const server = new ThreadPoolServer({
  port,
  threads, // default: one per CPU
  protocol: { name: 'echo' }, // a spec, not the protocol object: each worker builds its own
  handleError: (error, reason) => console.error(`[${reason}] ${error.message}`),
}).start();
console.log(`echo server (thread pool of ${server.size}) listening on 127.0.0.1:${server.port}`);

// Every 5 s, if anything changed: how the acceptor spread the connections among the threads.
let last = '';
const report = setInterval(() => {
  const { connections, served, workers } = server.stats();
  const each = workers.map((w) => `thread ${w.threadId}: ${w.connections} now, ${w.served} served`).join('; ');
  const line = `${connections} connections, ${served} served (${each})`;
  if (served + connections > 0 && line !== last) console.log((last = line));
}, 5000);

const stop = () => {
  clearInterval(report);
  server.close().then(() => console.log('closed', JSON.stringify(server.stats())));
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
