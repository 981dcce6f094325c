// Seed 002's single-process nonblocking server: no multiplexer, just every socket tried in turn, over and
// over. With `idleSleepUs` it sleeps that long after a pass that found nothing, so that it need not burn
// a core; with 0 it is the seed's (a core at 100% while idle). It blocks this thread: Ctrl-C ends it.
//   npm run build:ts && node examples/busy-poll-echo.js [port] [idleSleepUs]
'use strict';
const { BusyPollServer, echo } = require('epollkit');

const server = new BusyPollServer({
  protocol: echo,
  port: Number(process.argv[2] ?? 7000),
  idleSleepUs: Number(process.argv[3] ?? 200),
});
console.log(`busy-poll echo server listening on 127.0.0.1:${server.port}`);
server.serveForever();
