/**
 * The epollkit static HTTP server as `epollkit bench http` runs it: `node dist/lab/http-server.js
 * BACKEND ROOT PORT [MAX_CACHED_FILE_BYTES]`, a {@link ReactorServer} over the backend's selector on a
 * blocking loop that owns the thread (no Node loop underneath). `MAX_CACHED_FILE_BYTES` moves the
 * memory/sendfile crossover (0: every file by sendfile), which is how the bench measures it. Prints
 * `listening PORT` once ready; SIGTERM ends it.
 * @module
 */
import { EventLoop } from '../loop/event-loop';
import { httpStatic } from '../protocols/http/static';
import { ReactorServer } from '../servers/reactor';
import { selectorFor } from './echo-server';

if (require.main === module) {
  const [backend = 'epoll-et', root = '.', port = '0', maxCached] = process.argv.slice(2);
  const loop = new EventLoop({ selector: selectorFor(backend) });
  const cache = maxCached === undefined ? undefined : { maxFileBytes: Number(maxCached) };
  const server = new ReactorServer({ loop, protocol: httpStatic({ root, cache }), port: Number(port), connection: { idleTimeoutMs: 60_000 } });
  process.stdout.write(`listening ${server.port}\n`);
  loop.run();
}
