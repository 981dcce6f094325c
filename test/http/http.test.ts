// The static HTTP/1.1 server against curl, Node's http client and raw sockets.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync, mkdirSync } from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as k from '../../lib/index';

let loop: k.EventLoop;
let server: k.ReactorServer;
let root: string;
let outside: string;
let base: string;
const big = Buffer.alloc(3 * 1024 * 1024 + 17, 7).map((_, i) => (i * 31) & 0xff);

beforeAll(() => {
  root = mkdtempSync(path.join(os.tmpdir(), 'epollkit-www-'));
  outside = mkdtempSync(path.join(os.tmpdir(), 'epollkit-secret-'));
  writeFileSync(path.join(outside, 'secret.txt'), 'SECRET');
  writeFileSync(path.join(root, 'index.html'), '<h1>home</h1>');
  writeFileSync(path.join(root, 'style.css'), 'body{}');
  writeFileSync(path.join(root, 'big.bin'), big);
  writeFileSync(path.join(root, 'ünï.txt'), 'unicode');
  mkdirSync(path.join(root, 'sub'));
  writeFileSync(path.join(root, 'sub', 'index.html'), '<h1>sub</h1>');
  symlinkSync(path.join(outside, 'secret.txt'), path.join(root, 'escape.txt'));
  symlinkSync(outside, path.join(root, 'escape-dir'));
  loop = new k.EventLoop({ selector: new k.EpollSelector({ trigger: 'edge' }) }).attach();
  server = new k.ReactorServer({ loop, protocol: k.httpStatic({ root }) });
  base = `http://127.0.0.1:${server.port}`;
});

afterAll(() => {
  server.close();
  loop.close();
  rmSync(root, { recursive: true, force: true });
  rmSync(outside, { recursive: true, force: true });
});

/** Sends raw bytes and collects everything until the server closes or `idleMs` passes quietly. */
function raw(request: string | Buffer, idleMs = 300): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(server.port, '127.0.0.1', () => s.write(request));
    let text = '';
    let timer = setTimeout(() => s.destroy(), idleMs);
    s.on('data', (c) => {
      text += c.toString('latin1');
      clearTimeout(timer);
      timer = setTimeout(() => s.destroy(), idleMs);
    });
    s.on('close', () => (clearTimeout(timer), resolve(text)));
    s.on('error', reject);
  });
}

// Asynchronous on purpose: the server runs on this thread's loop, which a synchronous child would block.
const run = promisify(execFile);
async function curl(...args: string[]): Promise<string> {
  return (await run('curl', ['-s', '--max-time', '10', ...args], { encoding: 'latin1' })).stdout;
}
async function curlBytes(...args: string[]): Promise<Buffer> {
  return (await run('curl', ['-s', '--max-time', '10', ...args], { encoding: 'buffer', maxBuffer: 64 << 20 })).stdout;
}

function statusOf(response: string): number {
  return Number(/^HTTP\/1\.1 (\d{3})/.exec(response)?.[1]);
}

describe('static files', () => {
  it('serves / as index.html with the right headers, and HEAD without a body', async () => {
    const out = await curl('-i', `${base}/`);
    expect(statusOf(out)).toBe(200);
    expect(out).toMatch(/\r\nContent-Type: text\/html; charset=utf-8\r\n/);
    expect(out).toMatch(/\r\nContent-Length: 13\r\n/);
    expect(out).toMatch(/\r\nDate: .+ GMT\r\n/);
    expect(out.endsWith('<h1>home</h1>')).toBe(true);
    const head = await curl('-I', `${base}/style.css`);
    expect(head).toMatch(/Content-Type: text\/css/);
    expect(head).toMatch(/Content-Length: 6\r\n/);
  });

  it('sends a large file intact (sendfile), by hash', async () => {
    const body = await curlBytes(`${base}/big.bin`);
    expect(createHash('sha256').update(body).digest('hex')).toBe(createHash('sha256').update(big).digest('hex'));
  });

  it('redirects a directory without a slash, serves its index with one; 404 for missing; percent-decoded names', async () => {
    expect(await curl('-o', '/dev/null', '-w', '%{http_code} %{redirect_url}', `${base}/sub`)).toBe(`301 ${base}/sub/`);
    expect(await curl(`${base}/sub/`)).toBe('<h1>sub</h1>');
    expect(await curl('-o', '/dev/null', '-w', '%{http_code}', `${base}/missing.html`)).toBe('404');
    expect(await curl(`${base}/%C3%BCn%C3%AF.txt`)).toBe('unicode');
  });

  it('reuses one keep-alive connection for several requests (curl)', async () => {
    expect(await curl(`${base}/`, `${base}/style.css`, `${base}/sub/`)).toBe('<h1>home</h1>body{}<h1>sub</h1>');
    const verbose = (await run('sh', ['-c', `curl -sv ${base}/ ${base}/style.css -o /dev/null -o /dev/null 2>&1`], { encoding: 'utf8' })).stdout;
    expect(verbose).toMatch(/Re-using existing connection|Reusing existing connection/);
  });

  it('answers ranges (206, suffix, open-ended) and refuses unsatisfiable ones (416)', async () => {
    expect(await curl('-r', '2-4', `${base}/style.css`)).toBe('dy{');
    expect(await curl('-r', '-2', `${base}/style.css`)).toBe('{}');
    expect(await curl('-r', '4-', `${base}/style.css`)).toBe('{}');
    const part = await curl('-i', '-r', '0-0', `${base}/style.css`);
    expect(statusOf(part)).toBe(206);
    expect(part).toMatch(/Content-Range: bytes 0-0\/6/);
    const bad = await curl('-i', '-r', '100-200', `${base}/style.css`);
    expect(statusOf(bad)).toBe(416);
    expect(bad).toMatch(/Content-Range: bytes \*\/6/);
  });

  it('answers conditional requests with 304 (ETag and Last-Modified)', async () => {
    const head = await curl('-I', `${base}/style.css`);
    const etag = /ETag: (".*")/.exec(head)![1];
    const lastModified = /Last-Modified: (.*)\r/.exec(head)![1];
    expect(await curl('-o', '/dev/null', '-w', '%{http_code}', '-H', `If-None-Match: ${etag}`, `${base}/style.css`)).toBe('304');
    expect(await curl('-o', '/dev/null', '-w', '%{http_code}', '-H', `If-Modified-Since: ${lastModified}`, `${base}/style.css`)).toBe('304');
    expect(await curl('-o', '/dev/null', '-w', '%{http_code}', '-H', 'If-None-Match: "other"', `${base}/style.css`)).toBe('200');
  });

  it('works with Node\'s http client and its keep-alive agent', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const get = (p: string) =>
      new Promise<[number, string, number]>((resolve, reject) => {
        http.get(`${base}${p}`, { agent }, (res) => {
          const localPort = res.socket.localPort!;
          let body = '';
          res.setEncoding('latin1');
          res.on('data', (c) => (body += c));
          res.on('end', () => resolve([res.statusCode!, body, localPort]));
        }).on('error', reject);
      });
    const results = await Promise.all([get('/'), get('/style.css'), get('/nope')]);
    expect(results.map((r) => r[0])).toEqual([200, 200, 404]);
    expect(new Set(results.map((r) => r[2])).size).toBe(1); // one connection
    agent.destroy();
  });
});

describe('raw requests', () => {
  it('answers pipelined requests in order', async () => {
    const req = (p: string) => `GET ${p} HTTP/1.1\r\nHost: x\r\n\r\n`;
    const out = await raw(req('/style.css') + req('/missing') + req('/') + 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    const statuses = [...out.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => Number(m[1]));
    expect(statuses).toEqual([200, 404, 200, 200]);
    expect(out.indexOf('body{}')).toBeLessThan(out.indexOf('404 Not Found</h1>'));
  });

  it('405 with Allow for other methods, 400 for malformed, 414 and 431 for oversized', async () => {
    const post = await raw('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello');
    expect(statusOf(post)).toBe(405);
    expect(post).toMatch(/\r\nAllow: GET, HEAD\r\n/);
    expect(statusOf(await raw('GARBAGE\r\n\r\n'))).toBe(400);
    expect(statusOf(await raw('GET / HTTP/1.1\r\n\r\n'))).toBe(400); // no Host
    expect(statusOf(await raw('GET / HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n'))).toBe(400);
    expect(statusOf(await raw(`GET /${'a'.repeat(9000)} HTTP/1.1\r\nHost: x\r\n\r\n`))).toBe(414);
    expect(statusOf(await raw(`GET / HTTP/1.1\r\nHost: x\r\n${'X-A: b\r\n'.repeat(101)}\r\n`))).toBe(431);
    expect(statusOf(await raw(`GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'b'.repeat(17000)}\r\n\r\n`))).toBe(431);
    expect(statusOf(await raw('GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'))).toBe(411);
  });

  it('discards a request body and serves the next request on the same connection', async () => {
    const out = await raw('GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nABCDGET /style.css HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect([...out.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => m[1])).toEqual(['200', '200']);
    expect(out.endsWith('body{}')).toBe(true);
  });

  it('HTTP/1.0 closes unless asked to keep alive', async () => {
    const out = await raw('GET /style.css HTTP/1.0\r\n\r\n', 2000);
    expect(out).toMatch(/Connection: close/);
    const kept = await raw('GET /style.css HTTP/1.0\r\nConnection: keep-alive\r\n\r\n', 200);
    expect(kept).toMatch(/Connection: keep-alive/);
  });

  // At least 20 spellings of a way out of the root; none may return the secret.
  const traversals = [
    '/../secret.txt', '/..%2fsecret.txt', '/%2e%2e/secret.txt', '/%2E%2E/%2E%2E/etc/passwd', '/..%5csecret.txt',
    '/%2e%2e%2f%2e%2e%2fetc%2fpasswd', '/sub/../../etc/passwd', '/sub/%2e%2e/%2e%2e/etc/passwd', '/.%2e/etc/passwd',
    '/%2e./etc/passwd', '/..\\..\\etc\\passwd', '/%c0%ae%c0%ae/etc/passwd', '/%c0%af..%c0%afetc/passwd',
    '/%e0%80%ae%e0%80%ae/etc/passwd', '/index.html%00.css', '/%00', '/escape.txt', '/escape-dir/secret.txt',
    '/./../etc/passwd', '/sub/./../../etc/passwd', '//etc/passwd', '/%252e%252e/etc/passwd', '/..;/etc/passwd',
  ];
  it.each(traversals)('refuses %s', async (target) => {
    const out = await raw(`GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`, 2000);
    expect([400, 403, 404]).toContain(statusOf(out));
    expect(out).not.toContain('SECRET');
    expect(out).not.toContain('root:');
  });
});

describe('bad input loses nothing', () => {
  it('a malformed request on one connection does not disturb another', async () => {
    const [bad, good] = await Promise.all([raw('\x00\x01\x02 nonsense\r\n\r\n'), raw('GET /style.css HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', 2000)]);
    expect(statusOf(bad)).toBe(400);
    expect(good.endsWith('body{}')).toBe(true);
    expect(readFileSync(path.join(root, 'style.css'), 'utf8')).toBe('body{}');
  });
});
