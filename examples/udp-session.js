// Seed 004's connectionless, stateful service: a running total per client over UDP, one 16-byte request
// per datagram (the wire format is in README.md). A client is known by its endpoint (ip:port), which
// changes when it rebinds, or by a handle the server issued (OPEN), which does not; every request carries
// an id, and a retry (a lost reply, a duplicated datagram) is answered from a reply cache, not applied
// twice. State expires after 60 s without a request.
//   npm run build:ts && node examples/udp-session.js [port]
// Ctrl-C (or SIGTERM) stops it.
'use strict';
const { EventLoop, IterativeUdpServer, SessionStore, sessionDatagram } = require('epollkit');

const store = new SessionStore({ ttlMs: 60_000 });
const loop = new EventLoop().attach();
const server = new IterativeUdpServer(loop, {
  port: Number(process.argv[2] ?? 7000),
  // A datagram that is not one whole frame gets no reply.
  handler: (request, peer) => sessionDatagram(store, request, `${peer.address}:${peer.port}`),
});
// Expiry happens at lookup too; the sweep frees the memory of clients that never come back.
loop.setInterval(() => store.sweep(), 10_000);
console.log(`UDP session server listening on 127.0.0.1:${server.port}`);

const stop = () => {
  server.close();
  loop.close();
  console.log(`closed: ${server.received} datagrams, ${store.replayed} retries answered from the cache`);
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
