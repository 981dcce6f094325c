// HTTP/1.1 load for the leak test: COUNT connections, CONCURRENCY at a time, each one GET of a file of the
// document root with "Connection: close", the reply's status and body compared byte for byte with the file.
// Prints one key=value line like bench/load_client.c.
//   node http-client.js PORT COUNT CONCURRENCY ROOT
'use strict';
const net = require('node:net');
const { readFileSync } = require('node:fs');
const path = require('node:path');

const [port, count, concurrency] = process.argv.slice(2, 5).map(Number);
const root = process.argv[5];
const files = ['/', '/style.css', '/img/logo.svg', '/docs/models.html'].map((url) => ({
  request: Buffer.from(`GET ${url} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n`),
  body: readFileSync(path.join(root, url === '/' ? 'index.html' : url)),
}));
const totals = { connects: 0, answered: 0, wrong: 0, errors: 0 };

function exchange(file) {
  return new Promise((resolve) => {
    const chunks = [];
    const socket = net.connect(port, '127.0.0.1', () => socket.write(file.request));
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', () => (totals.errors++, resolve()));
    socket.on('close', (hadError) => {
      if (hadError) return;
      const reply = Buffer.concat(chunks);
      const head = reply.indexOf('\r\n\r\n');
      const right = reply.subarray(0, 15).toString() === 'HTTP/1.1 200 OK' && reply.subarray(head + 4).equals(file.body);
      totals[right ? 'answered' : 'wrong']++;
      resolve();
    });
    socket.setTimeout(20_000, () => socket.destroy(new Error('timed out')));
  });
}

async function lane() {
  while (totals.connects < count) await exchange(files[totals.connects++ % files.length]);
}

const start = process.hrtime.bigint();
Promise.all(Array.from({ length: concurrency }, lane)).then(() => {
  const secs = Number(process.hrtime.bigint() - start) / 1e9;
  const fields = { ...totals, lost: 0, drained: 0, unanswered: 0, secs: secs.toFixed(3), rate: Math.round(totals.answered / secs) };
  console.log(Object.entries(fields).map(([k, v]) => `${k}=${v}`).join(' '));
});
