// Seed 000's loop server: an echo server that serves one client at a time; the next ones wait in the
// listen backlog until it leaves. `npm run build:ts && node examples/iterative-echo.js [port]`, then
// `epollkit client echo 7000` (or `nc 127.0.0.1 7000`) in two terminals: the second waits for the first.
// Ctrl-C (or SIGTERM) closes gracefully.
'use strict';
const { IterativeServer, echo } = require('epollkit');

const server = new IterativeServer({ protocol: echo, port: Number(process.argv[2] ?? 7000) }).start();
console.log(`iterative echo server listening on 127.0.0.1:${server.port}`);

const stop = () => server.close().then(() => console.log('closed', JSON.stringify(server.stats())));
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
