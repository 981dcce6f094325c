// Seed 001's server: the calculator, one forked child process per connection, on port 7070 — wire-compatible
// with the seed's C client (a request is `struct Oper {int op, op1, op2}`, 12 bytes; the reply one int).
//   npm run build:ts && node --single-threaded examples/forking-calculator.js [port]
// fork() needs --single-threaded on node's command line (not NODE_OPTIONS) and no worker threads. Try it:
//   node -e "const k=require('./dist');const s=require('net').connect(7070,'127.0.0.1',()=>s.end(Buffer.concat([k.encodeCalcRequest(k.CalcOp.MUL,6,7),k.encodeCalcRequest(k.CalcOp.QUIT,0,0)])));s.on('data',d=>console.log(d.readInt32LE(0)))"
// Ctrl-C stops accepting, lets the children finish (up to 5 s), and prints the counters.
'use strict';
const { ForkingServer, calculator, CALC_PORT } = require('../dist/index.js');

const server = new ForkingServer({
  protocol: calculator,
  host: '127.0.0.1',
  port: Number(process.argv[2] ?? CALC_PORT),
  maxChildren: 64, // more clients wait in the listen backlog
  ioTimeoutMs: 10 * 60_000, // the seed's client is a person typing: give them time between requests
  childTimeoutMs: 60 * 60_000,
}).start();
console.log(`calculator on 127.0.0.1:${server.port}, a process per connection (parent pid ${process.pid})`);

// Children forked after this inherit the listener: Ctrl-C reaches the whole process group, and as fork()
// stands a child passes its SIGINT on to the parent, which may so get it several times over.
let stopping = false;
process.on('SIGINT', () => {
  if (stopping) return;
  stopping = true;
  server.close().then(() => console.log(server.stats()));
});
