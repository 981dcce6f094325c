// Seed 002's conclusion, nginx's model: N forked workers, each an epoll reactor, serving examples/html on
// one port. Connections are spread by EPOLLEXCLUSIVE on one shared socket, or by SO_REUSEPORT.
//   npm run build:ts && node --single-threaded examples/prefork-http.js [port] [workers] [exclusive|reuseport]
// fork() needs --single-threaded on node's command line (not NODE_OPTIONS) and no worker threads.
// Ctrl-C shuts down gracefully (replies in flight finish) and prints each worker's accepted count.
'use strict';
const path = require('node:path');
const { PreforkServer, httpStatic } = require('../dist/index.js');

const [port = 8080, workers, balance = 'exclusive'] = process.argv.slice(2);
let server;

// Installed before start(), so that the workers inherit it: as fork() stands, a worker then passes Ctrl-C's
// SIGINT (sent to the whole process group) on to the parent instead of dying mid-reply. The parent may get
// it several times over.
let stopping = false;
process.on('SIGINT', async () => {
  if (stopping) return;
  stopping = true;
  await server.close();
  for (const w of server.stats().perWorker) console.log(`worker slot ${w.slot}: ${w.accepted} connections accepted`);
});

server = new PreforkServer({
  protocol: httpStatic({ root: path.join(__dirname, 'html') }),
  host: '127.0.0.1',
  port: Number(port),
  workers: workers === undefined ? undefined : Number(workers),
  balance,
});

server
  .start()
  .ready()
  .then(() => {
    console.log(`http://127.0.0.1:${server.port}/ — ${server.stats().workers.length} workers (${balance}), parent pid ${process.pid}`);
  });
