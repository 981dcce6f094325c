// An edge-triggered epoll echo server on epollkit's raw layer (seed 002's "epoll ET echo"), in one
// blocking loop: `npm run build:ts && node examples/raw-epoll-echo.js [port]`, then `nc 127.0.0.1 7000`.
// The same code is the first example of README.md. Ctrl-C stops it.
'use strict';
const k = require('epollkit');

const lfd = k.socket(k.AF_INET, k.SOCK_STREAM | k.SOCK_NONBLOCK);
k.setsockopt(lfd, k.SOL_SOCKET, k.SO_REUSEADDR, 1);
k.bind(lfd, '127.0.0.1', Number(process.argv[2] ?? 7000));
k.listen(lfd, 128);
const epfd = k.epollCreate1();
k.epollCtl(epfd, k.EPOLL_CTL_ADD, lfd, k.EPOLLIN | k.EPOLLET);
console.log(`echo server on 127.0.0.1:${k.getsockname(lfd).port}`);

const events = new Int32Array(2 * 64); // (fd, mask) pairs, filled in place
const buf = Buffer.alloc(64 * 1024);
for (;;) {
  const n = k.epollWait(epfd, events, -1); // blocks this thread; -EINTR after a signal
  for (let i = 0; i < n; i++) {
    const fd = events[2 * i];
    if (fd === lfd) {
      // Edge-triggered: one event may stand for many connections, so accept until -EAGAIN.
      for (let cfd; (cfd = k.accept4(lfd)) >= 0; ) k.epollCtl(epfd, k.EPOLL_CTL_ADD, cfd, k.EPOLLIN | k.EPOLLET);
      continue;
    }
    // Edge-triggered: drain to -EAGAIN, or this fd is never reported again.
    for (;;) {
      const r = k.recv(fd, buf);
      if (r === -k.errno.EAGAIN) break;
      if (r <= 0) { k.close(fd); break; } // 0: peer closed; < 0: an error such as -ECONNRESET
      // Simplest correct write: block until all is sent (lib/loop's Connection buffers instead).
      try { k.writeAll(fd, buf, 0, r, 5000); } catch { k.close(fd); break; }
    }
  }
}
