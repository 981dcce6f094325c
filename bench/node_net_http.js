// A hand-written HTTP/1.1 keep-alive responder on Node's net: counts request ends ("\r\n\r\n") across chunks
// and writes one prebuilt response (header + file) per request, pipelining included. What Node alone can
// do at best, the "Node net" row of `epollkit bench http`. usage: node node_net_http.js FILE PORT
const net = require('net');
const body = require('fs').readFileSync(process.argv[2]);
const reply = Buffer.concat([
  Buffer.from(`HTTP/1.1 200 OK\r\nServer: nodenet\r\nContent-Type: text/html\r\nContent-Length: ${body.length}\r\nConnection: keep-alive\r\n\r\n`),
  body,
]);
net
  .createServer({ noDelay: true }, (socket) => {
    let m = 0; // bytes of "\r\n\r\n" matched so far
    socket.on('data', (chunk) => {
      let n = 0;
      for (let i = 0; i < chunk.length; i++) {
        const c = chunk[i];
        if (c === 13) m = m === 2 ? 3 : 1;
        else if (c === 10 && (m === 1 || m === 3)) {
          if (m === 3) {
            n++;
            m = 0;
          } else m = 2;
        } else m = 0;
      }
      if (n === 1) socket.write(reply);
      else if (n > 1) socket.write(Buffer.concat(new Array(n).fill(reply)));
    });
    socket.on('error', () => {});
  })
  .listen(+process.argv[3], '127.0.0.1');
