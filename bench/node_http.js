// Node's http module answering every request with one file read once into memory, the "Node http" row of
// `epollkit bench http`. usage: node node_http.js FILE PORT
const http = require('http');
const body = require('fs').readFileSync(process.argv[2]);
http
  .createServer((req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html', 'Content-Length': body.length });
    res.end(body);
  })
  .listen(+process.argv[3], '127.0.0.1');
