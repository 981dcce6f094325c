// uWebSockets.js (HTTP parsing and its own epoll loop in C++, the fastest HTTP server a Node user can
// install) answering every GET with one file held in memory. usage: node uws_http.js FILE PORT
// Needs the devDependency @trufflesuite/uws-js-unofficial (a packaged build that loads on glibc 2.36).
const uWS = require('@trufflesuite/uws-js-unofficial');
const body = require('fs').readFileSync(process.argv[2]);
uWS
  .App()
  .get('/*', (res) => void res.writeHeader('Content-Type', 'text/html').end(body))
  .listen('127.0.0.1', +process.argv[3], (token) => {
    if (!token) {
      console.error('uws: listen failed');
      process.exit(1);
    }
  });
