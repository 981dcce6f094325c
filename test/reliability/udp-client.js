// Datagram load for the leak test's UDP server: COUNT exchanges, CONCURRENCY at a time, each from a fresh
// socket (a new endpoint, as a new "connection" would be) with a random payload of 1..1472 bytes, the echo
// compared byte for byte. A datagram may be lost on the way (UDP): it is sent again after 500 ms, at most
// 4 times. Prints one key=value line like bench/load_client.c.
//   node udp-client.js PORT COUNT CONCURRENCY
'use strict';
const dgram = require('node:dgram');
const { randomBytes, randomInt } = require('node:crypto');

const [port, count, concurrency] = process.argv.slice(2).map(Number);
const totals = { connects: 0, answered: 0, wrong: 0, errors: 0, lost: 0, retries: 0 };

function exchange() {
  return new Promise((resolve) => {
    const payload = randomBytes(randomInt(1, 1473));
    const socket = dgram.createSocket('udp4');
    let tries = 0;
    let timer;
    const done = (outcome) => {
      clearTimeout(timer);
      totals[outcome]++;
      socket.close(resolve);
    };
    const send = () => {
      if (tries++ === 4) return done('lost');
      if (tries > 1) totals.retries++;
      socket.send(payload, port, '127.0.0.1');
      timer = setTimeout(send, 500);
    };
    socket.on('message', (reply) => done(reply.equals(payload) ? 'answered' : 'wrong'));
    socket.on('error', () => done('errors'));
    totals.connects++;
    send();
  });
}

async function lane() {
  while (totals.connects < count) await exchange();
}

const start = process.hrtime.bigint();
Promise.all(Array.from({ length: concurrency }, lane)).then(() => {
  const secs = Number(process.hrtime.bigint() - start) / 1e9;
  const fields = { ...totals, drained: 0, unanswered: 0, secs: secs.toFixed(3), rate: Math.round(totals.answered / secs) };
  console.log(Object.entries(fields).map(([k, v]) => `${k}=${v}`).join(' '));
});
