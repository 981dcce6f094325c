/**
 * The worker thread of {@link ThreadingServer} and {@link ThreadPoolServer} (compiled to
 * dist/servers/thread-worker.js; it does nothing unless started by them). It rebuilds the protocol from
 * its spec, runs a {@link ReactorServer} without a listener on its own attached epoll loop, and serves
 * the fds it is given with `adopt(fd)`:
 * - mode 'connection': the one fd of its workerData; when that connection closes, it closes its server
 *   (and loop) and the thread ends.
 * - mode 'pool': every fd posted to it, until told to close.
 * Each fd is acknowledged before it is taken (see threading.ts); each finished connection is reported,
 * so the acceptor knows the worker's load.
 * @module
 */
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { EpollSelector } from '../loop/epoll-selector';
import type { Protocol, Session } from '../protocols/protocol';
import { ReactorServer } from './reactor';
import { toWire, workerProtocol, type FromWorker, type ThreadWorkerData, type ToWorker } from './threading';

/** `session`, with `onClosed` called after its own onClose (presence of the optional hooks kept). */
function observed(session: Session, onClosed: () => void): Session {
  const out: Session = { onData: (chunk) => session.onData(chunk) };
  if (session.onOpen) out.onOpen = () => session.onOpen!();
  if (session.onEnd) out.onEnd = () => session.onEnd!();
  out.onClose = () => {
    try {
      session.onClose?.();
    } finally {
      onClosed();
    }
  };
  return out;
}

function serve(port: MessagePort, data: ThreadWorkerData): void {
  const post = (message: FromWorker): void => port.postMessage(message);
  const inner = workerProtocol(data.protocol);
  let opened = false;
  const connectionMode = data.mode === 'connection';
  const protocol: Protocol = {
    name: inner.name,
    open(transport) {
      opened = true;
      return observed(inner.open(transport), () => {
        post({ type: 'closed' });
        // Its one connection is done: close the server (and its loop) after this round; the thread ends.
        if (connectionMode) server.loop.callSoon(() => void server.close());
      });
    },
  };
  const server: ReactorServer = new ReactorServer({
    listen: false,
    protocol,
    connection: data.connection,
    shutdownTimeoutMs: data.shutdownTimeoutMs,
    // A thread-per-connection worker has one fd: nothing to batch reads over, and the read-ahead's buffer
    // would be one more 256 KiB allocation per connection for the thread's malloc arena to keep.
    selector: new EpollSelector({ trigger: data.trigger, readAhead: !connectionMode }),
    handleError: (error, reason) => post({ type: 'error', error: toWire(error), reason }),
  }).start();

  const adopt = (fd: number): void => {
    // Acknowledge first: from here on the fd is this thread's (the loop declares it owned), and a crash
    // after this line must not make the acceptor close an fd this thread's teardown closes too.
    post({ type: 'adopted', fd });
    opened = false;
    server.adopt(fd);
    if (!opened) {
      // Refused, or the selector could not hold it: closed already.
      post({ type: 'closed' });
      if (connectionMode) void server.close();
    }
  };

  port.on('message', (message: ToWorker) => {
    if (message.type === 'adopt') adopt(message.fd);
    else if (message.type === 'close') void server.close().then(() => port.close());
  });
  if (connectionMode) {
    // The thread lives as long as its connection (the loop keeps it alive), not as long as its port.
    port.unref();
    adopt(data.fd!);
  } else {
    post({ type: 'ready' });
  }
}

const data = workerData as ThreadWorkerData | undefined;
if (parentPort && data?.kind === 'epollkit-thread-worker') serve(parentPort, data);
