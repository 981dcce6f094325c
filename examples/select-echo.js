// Seeds 000 and 002's select(2) echo server: one reactor whose selector rebuilds its fd sets at every
// wait and stops at fd 1023 (a connection beyond is refused; the server goes on). select has no fd that
// Node's loop could watch, so the server blocks this thread: no JavaScript signal handler can run, and
// Ctrl-C ends the process. `npm run build:ts && node examples/select-echo.js [port]`, then
// `epollkit client echo 7000`.
'use strict';
const { SelectServer, echo } = require('epollkit');

const server = new SelectServer({ protocol: echo, port: Number(process.argv[2] ?? 7000) });
console.log(`select echo server listening on 127.0.0.1:${server.port}`);
server.serveForever();
