// Seed 002's gevent server, in async/await: one coroutine per connection, written as if it blocked, each
// `await` a yield to the event loop. `npm run build:ts && node examples/coroutine-echo.js [port]`, then
// `epollkit client echo 7000`. Ctrl-C (or SIGTERM) closes gracefully.
'use strict';
const { CoroutineServer } = require('epollkit');

const server = new CoroutineServer({
  port: Number(process.argv[2] ?? 7000),
  async handler(conn) {
    // Each chunk as it comes; write() waits while the client reads slower than it sends.
    for await (const chunk of conn) await conn.write(chunk);
    await conn.end();
  },
}).start();
console.log(`coroutine echo server listening on 127.0.0.1:${server.port}`);

const stop = () => server.close().then(() => console.log('closed', JSON.stringify(server.stats())));
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
