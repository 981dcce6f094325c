// Seed 002's conclusion, nginx's model: N forked workers, each an epoll reactor, serving examples/html on
// one port. Connections are spread by EPOLLEXCLUSIVE on one shared socket, or by SO_REUSEPORT.
//   npm run build:ts && node --single-threaded examples/prefork-http.js [port] [workers] [exclusive|reuseport]
// fork() needs --single-threaded on node's command line (not NODE_OPTIONS) and no worker threads.
// Ctrl-C or SIGTERM shuts down and prints each worker's accepted count.
'use strict';
const path = require('node:path');
const { PreforkServer, httpStatic } = require('epollkit');

const [port = 8080, workers, balance = 'exclusive'] = process.argv.slice(2);
let server;

// Ctrl-C sends SIGINT to the whole process group: the workers, which start with the default action for
// every signal, die at once, and the parent closes and reaps them. `kill <parent pid>` (SIGTERM to the
// parent alone) is the graceful way: the workers finish the replies in flight first.
let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await server.close();
  for (const w of server.stats().perWorker) console.log(`worker slot ${w.slot}: ${w.accepted} connections accepted`);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);

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
