/**
 * A standalone echo server on the blocking loop, for benchmarks: `node dist/lab/echo-server.js
 * <epoll-lt|epoll-et|poll|select> PORT`. Prints `listening PORT` once ready; SIGTERM ends it.
 * @module
 */
import { EventLoop } from '../loop/event-loop';
import { EpollSelector } from '../loop/epoll-selector';
import { PollSelector } from '../loop/poll-selector';
import { SelectSelector } from '../loop/select-selector';
import type { Registration } from '../loop/event-loop';
import type { Selector } from '../loop/selector';
import { echo } from '../protocols/echo';
import { ReactorServer } from '../servers/reactor';

/** The selector for a backend name. */
export function selectorFor(backend: string): Selector<Registration> {
  switch (backend) {
    case 'epoll-lt':
      return new EpollSelector({ trigger: 'level' });
    case 'epoll-et':
      return new EpollSelector({ trigger: 'edge' });
    case 'poll':
      return new PollSelector();
    case 'select':
      return new SelectSelector();
    default:
      throw new TypeError(`unknown backend "${backend}" (epoll-lt, epoll-et, poll, select)`);
  }
}

if (require.main === module) {
  const [backend = 'epoll-lt', port = '0'] = process.argv.slice(2);
  const loop = new EventLoop({ selector: selectorFor(backend) });
  const server = new ReactorServer({ loop, protocol: echo, port: Number(port) });
  process.stdout.write(`listening ${server.port}\n`);
  loop.run();
}
