// Seed 001's calculator with seed 002's threading model: a worker thread per connection, the accepted fd
// handed to it. Wire-compatible with the seed's C client (12-byte `struct Oper` requests, 4-byte replies).
//   npm run build:ts && node examples/threading-calculator.js [port]
// then `epollkit client calc 7070` and type `add 3, 4`. Ctrl-C (or SIGTERM) closes gracefully.
'use strict';
const { ThreadingServer, CALC_PORT } = require('epollkit');

const server = new ThreadingServer({
  port: Number(process.argv[2] ?? CALC_PORT),
  protocol: { name: 'calc' }, // a spec, not the protocol object: each thread builds its own
  connection: { idleTimeoutMs: 10 * 60_000 }, // a person typing at the seed's client is slow
}).start();
console.log(`threading calculator listening on 127.0.0.1:${server.port}, a thread per connection`);

const stop = () => server.close().then(() => console.log('closed', JSON.stringify(server.stats())));
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
