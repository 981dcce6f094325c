// Expect: 100-continue (RFC 9110 §10.1.1): an interim 100 and then the final response when the request
// will be served; a final status and no 100 when it is refused (and then the connection closes, since the
// client may or may not send its body). Raw sockets against an in-process epoll ET server, and curl.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import * as k from '../../lib/index';

let loop: k.EventLoop;
let server: k.ReactorServer;
let root: string;

beforeEach(() => {
  root = mkdtempSync(path.join(os.tmpdir(), 'epollkit-expect-'));
  writeFileSync(path.join(root, 'index.html'), '<h1>home</h1>');
  loop = new k.EventLoop({ selector: new k.EpollSelector({ trigger: 'edge' }) }).attach();
  server = new k.ReactorServer({ loop, protocol: k.httpStatic({ root }) });
});

afterEach(async () => {
  await server.close();
  loop.close();
  rmSync(root, { recursive: true, force: true });
});

/** A raw client: send, wait for a pattern in what came back, send more; collects until the server closes. */
class Raw {
  readonly socket: net.Socket;
  text = '';
  readonly closed: Promise<void>;
  #waiters: (() => void)[] = [];

  constructor(port: number) {
    this.socket = net.connect(port, '127.0.0.1');
    this.socket.on('data', (c) => {
      this.text += c.toString('latin1');
      for (const w of this.#waiters.splice(0)) w();
    });
    this.closed = new Promise((resolve) => this.socket.on('close', () => resolve()));
    this.socket.on('error', () => {});
  }

  async until(pattern: RegExp): Promise<void> {
    while (!pattern.test(this.text)) {
      await Promise.race([new Promise<void>((r) => this.#waiters.push(r)), this.closed]);
      if (this.socket.destroyed && !pattern.test(this.text)) throw new Error(`closed before ${pattern}: ${JSON.stringify(this.text)}`);
    }
  }
}

const statuses = (text: string) => [...text.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => Number(m[1]));

/** Sends `request` on a new connection; everything until the server closes. */
async function exchange(request: string): Promise<string> {
  const c = new Raw(server.port);
  c.socket.write(request);
  await c.closed;
  return c.text;
}

describe('Expect: 100-continue', () => {
  it('sends 100 Continue before the body, then the final response, and keeps the connection', async () => {
    const c = new Raw(server.port);
    c.socket.write('GET / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n');
    await c.until(/^HTTP\/1\.1 100 Continue\r\n\r\n/);
    c.socket.write('hello'); // the body, read and dropped
    c.socket.write('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    await c.closed;
    expect(statuses(c.text)).toEqual([100, 200, 200]);
    expect(c.text.split('<h1>home</h1>').length).toBe(3);
  });

  it('answers a refused request (405) with its final status, no 100, and closes', async () => {
    // Closes without waiting for the megabyte the client never sent.
    const text = await exchange('POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 1000000\r\n\r\n');
    expect(statuses(text)).toEqual([405]);
    expect(text).toMatch(/\r\nConnection: close\r\n/);
  });

  it('answers a missing file (404) without 100 and closes', async () => {
    expect(statuses(await exchange('GET /nope HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 10\r\n\r\n'))).toEqual([404]);
  });

  it('sends no 100 for a request without a body, and 417 for an unknown expectation', async () => {
    expect(statuses(await exchange('GET / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n'))).toEqual([200]);
    expect(statuses(await exchange('GET / HTTP/1.1\r\nHost: x\r\nExpect: teapot\r\n\r\n'))).toEqual([417]);
  });

  it('ignores the expectation of an HTTP/1.0 request (RFC 9110)', async () => {
    expect(statuses(await exchange('GET / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc'))).toEqual([200]);
  });

  it('curl: a POST with Expect gets its 405 at once, without 100', async () => {
    const out = await promisify(execFile)(
      'curl',
      ['-s', '-i', '--max-time', '10', '-H', 'Expect: 100-continue', '--data-binary', 'x'.repeat(5000), `http://127.0.0.1:${server.port}/`],
      { encoding: 'latin1' },
    );
    expect(statuses(out.stdout)).toEqual([405]);
  });
});
