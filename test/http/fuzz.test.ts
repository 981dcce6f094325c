// Property-based fuzzing of the HTTP parser and responder (fast-check), with a fixed number of runs:
// - sans-IO: for any bytes, cut anywhere, no exception escapes and every write starts with a valid status line;
// - over a real socket: after each malformed request, a valid request on the same port is answered.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';
import { fuzzRuns, fuzzTimeoutMs } from '../helpers/fuzz';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as k from '../../lib/index';
import { feedInPieces } from '../protocols/recorder';

const RUNS = 400;
const STATUS_LINE = /^HTTP\/1\.1 [1-5]\d\d [A-Za-z -]+\r\n/;

let root: string;
beforeAll(() => {
  root = mkdtempSync(path.join(os.tmpdir(), 'epollkit-fuzz-'));
  writeFileSync(path.join(root, 'index.html'), '<h1>fuzz</h1>');
  writeFileSync(path.join(root, 'big.bin'), Buffer.alloc(200_000, 1)); // beyond the memory cache: sendfile
  mkdirSync(path.join(root, 'sub'));
  writeFileSync(path.join(root, 'sub', 'index.html'), 'sub');
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

// Requests near the grammar, so the fuzzer reaches deep into the parser, plus plain noise.
const text = (chars: string, maxLength: number) => fc.string({ unit: fc.constantFrom(...chars), maxLength });
const noise = text('\r\n :/%.?#\\\0\t\x7fa-z\x80\xffHTTP', 40);
const method = fc.oneof(fc.constantFrom('GET', 'HEAD', 'POST', 'PUT', 'OPTIONS', 'get', 'G T', ''), noise);
const target = fc.oneof(
  fc.constantFrom('/', '/index.html', '/big.bin', '/sub', '/sub/', '/missing', '/../etc/passwd', '/%2e%2e/x', '/%zz', '/%c0%ae', '*', 'http://h/sub/?q#f'),
  noise,
);
const version = fc.oneof(fc.constantFrom('HTTP/1.1', 'HTTP/1.0', 'HTTP/2.0', 'http/1.1', 'HTTP/1.1 ', ''), noise);
const headerName = fc.oneof(
  fc.constantFrom('Host', 'Connection', 'Range', 'If-None-Match', 'If-Modified-Since', 'Expect', 'Content-Length', 'Transfer-Encoding', 'X-A', 'Bad Name', ''),
  noise,
);
const headerValue = fc.oneof(
  fc.constantFrom('x', 'close', 'keep-alive', 'bytes=0-3', 'bytes=-2', 'bytes=9-', 'bytes=x', '*', '"abc"', '100-continue', '0', '5', '-1', 'chunked', 'Mon, 01 Jan 2001 00:00:00 GMT'),
  noise,
);
const eol = fc.constantFrom('\r\n', '\r\n', '\r\n', '\n', '\r', '');
const request = fc
  .tuple(method, target, version, fc.array(fc.tuple(headerName, headerValue, eol), { maxLength: 6 }), eol, noise)
  .map(([m, t, v, headers, end, body]) => `${m} ${t} ${v}\r\n${headers.map(([n, val, e]) => `${n}: ${val}${e}`).join('')}${end}${body}`);
const bytes = fc.oneof(
  { weight: 4, arbitrary: fc.array(request, { minLength: 1, maxLength: 3 }).map((rs) => Buffer.from(rs.join(''), 'latin1')) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)) },
);

describe('HTTP parser and responder, sans-IO', () => {
  it('never throws, and every write begins with a valid status line', () => {
    fc.assert(
      fc.property(bytes, fc.array(fc.nat({ max: 400 }), { maxLength: 8 }), (input, cuts) => {
        const recorder = feedInPieces(k.httpStatic({ root }), input, cuts);
        for (const action of recorder.actions) {
          if (action.kind === 'write') expect(action.data.toString('latin1')).toMatch(STATUS_LINE);
        }
        // A file range is only ever sent after the head that announces it.
        recorder.actions.forEach((a, i) => {
          if (a.kind === 'sendFile') expect(recorder.actions[i - 1]?.kind).toBe('write');
        });
      }),
      fuzzRuns(RUNS),
    );
  }, fuzzTimeoutMs);

  it('the parser reads the same heads however the bytes are cut', () => {
    const heads = (input: Buffer, cuts: number[]) => {
      const parser = new k.RequestParser();
      const out: unknown[] = [];
      const points = [...new Set(cuts.filter((c) => c < input.length))].sort((a, b) => a - b);
      let from = 0;
      try {
        for (const to of [...points, input.length]) {
          const piece = Buffer.from(input.subarray(from, to)); // a fresh buffer, scribbled over after release
          from = to;
          parser.feed(piece);
          for (let h = parser.next(); h; h = parser.next()) out.push({ ...h, headers: [...h.headers] });
          parser.release();
          piece.fill(0);
        }
      } catch (error) {
        out.push((error as k.HttpError).status);
      }
      return out;
    };
    fc.assert(
      fc.property(bytes, fc.array(fc.nat({ max: 400 }), { maxLength: 8 }), (input, cuts) => {
        expect(heads(input, cuts)).toEqual(heads(input, []));
      }),
      fuzzRuns(RUNS),
    );
  }, fuzzTimeoutMs);

  it('the parser alone throws nothing but HttpError', () => {
    fc.assert(
      fc.property(bytes, (input) => {
        const parser = new k.RequestParser();
        parser.feed(input);
        try {
          while (parser.next()) {
            // drain every complete head
          }
        } catch (error) {
          expect(error).toBeInstanceOf(k.HttpError);
          expect([400, 411, 414, 431]).toContain((error as k.HttpError).status);
        }
      }),
      fuzzRuns(RUNS),
    );
  }, fuzzTimeoutMs);
});

describe('HTTP over a real socket', () => {
  /** Sends `data`, half-closes, and collects the reply until the server closes. */
  const exchange = (port: number, data: Buffer): Promise<string> =>
    new Promise((resolve, reject) => {
      let out = '';
      const s = net.connect(port, '127.0.0.1', () => s.end(data));
      s.on('data', (c) => (out += c.toString('latin1')));
      s.on('close', () => resolve(out));
      s.on('error', (e: NodeJS.ErrnoException) => (e.code === 'ECONNRESET' || e.code === 'EPIPE' ? undefined : reject(e)));
    });

  it('after each malformed request, a valid one on the same port is answered', async () => {
    const loop = new k.EventLoop({ selector: new k.EpollSelector({ trigger: 'edge' }) }).attach();
    const errors: Error[] = [];
    const server = new k.ReactorServer({ loop, protocol: k.httpStatic({ root }), handleError: (e) => errors.push(e) });
    try {
      await fc.assert(
        fc.asyncProperty(bytes, async (input) => {
          const reply = await exchange(server.port, input);
          if (reply.length > 0) expect(reply).toMatch(STATUS_LINE);
          const valid = await exchange(server.port, Buffer.from('GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n'));
          expect(valid).toMatch(/^HTTP\/1\.1 200 OK\r\n[^]*\r\n\r\n<h1>fuzz<\/h1>$/);
        }),
        fuzzRuns(Math.ceil(RUNS / 4)),
      );
    } finally {
      await server.close();
      loop.close();
    }
    // Only the peers' own trouble (resets) may be reported, never a protocol failure.
    for (const e of errors) expect((e as NodeJS.ErrnoException).code).toMatch(/^(ECONNRESET|EPIPE)$/);
  }, fuzzTimeoutMs);
});
