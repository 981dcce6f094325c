// Seed 001's server: the calculator, one forked child process per connection, on port 7070 — wire-compatible
// with the seed's C client (a request is `struct Oper {int op, op1, op2}`, 12 bytes; the reply one int).
//   npm run build:ts && node --single-threaded examples/forking-calculator.js [port]
// fork() needs --single-threaded on node's command line (not NODE_OPTIONS) and no worker threads. Try it:
//   node dist/cli.js client calc 7070      (then type `mul 6, 7`, or pipe lines in: `echo 'mul 6, 7' | ...`)
// SIGTERM stops accepting, lets the children finish (up to 5 s), and prints the counters.
'use strict';
const { ForkingServer, calculator, CALC_PORT } = require('epollkit');

const server = new ForkingServer({
  protocol: calculator,
  host: '127.0.0.1',
  port: Number(process.argv[2] ?? CALC_PORT),
  maxChildren: 64, // more clients wait in the listen backlog
  ioTimeoutMs: 10 * 60_000, // the seed's client is a person typing: give them time between requests
  childTimeoutMs: 60 * 60_000,
}).start();
console.log(`calculator on 127.0.0.1:${server.port}, a process per connection (parent pid ${process.pid})`);

// Ctrl-C sends SIGINT to the whole process group: the children, which start with the default action for
// every signal, end at once (as the seed's C children do) and the parent closes. `kill <parent pid>`
// (SIGTERM to the parent alone) lets the children finish their clients first.
let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  server.close().then(() => console.log(server.stats()));
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
