// The iterative UDP server (lib/servers/udp.ts) answering every datagram with itself, in its own process,
// for the leak test: UDP has no CLI model (`epollkit serve` is TCP). Prints "... listening on 127.0.0.1:PORT"
// like the CLI, and stops on SIGTERM.
//   node udp-echo-server.js
'use strict';
const path = require('node:path');
const { EventLoop, IterativeUdpServer } = require(path.join(__dirname, '../../dist/index.js'));

const loop = new EventLoop().attach();
// The request is valid only during the call, and the server sends the reply within it: echo it as is.
const server = new IterativeUdpServer(loop, { port: 0, handler: (request) => request });
process.stdout.write(`epollkit udp echo server (iterative-udp) listening on 127.0.0.1:${server.port}\n`);
process.once('SIGTERM', () => {
  server.close();
  loop.close();
});
