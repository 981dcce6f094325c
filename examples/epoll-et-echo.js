// Seed 002's epoll ET echo server, as a reactor: one thread, an edge-triggered epoll loop attached to
// Node's, every read drained to EAGAIN by the Connection. (raw-epoll-echo.js is the same server written
// on the raw syscalls.) `npm run build:ts && node examples/epoll-et-echo.js [port]`, then
// `epollkit client echo 7000`. Ctrl-C (or SIGTERM) closes gracefully: replies in flight are finished.
'use strict';
const { EpollEtServer, echo } = require('epollkit');

const server = new EpollEtServer({ protocol: echo, port: Number(process.argv[2] ?? 7000) }).start();
console.log(`epoll ET echo server listening on 127.0.0.1:${server.port}`);

const stop = () => server.close().then(() => console.log('closed', JSON.stringify(server.stats())));
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
