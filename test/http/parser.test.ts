// The request parser's header fields (slots for the fields a server acts on, a Map for the rest) and its
// reuse of the previous request's strings on a keep-alive connection, which must never hand back a stale
// value: same length, different bytes is the case that matters.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fuzzRuns } from '../helpers/fuzz';
import { RequestParser, type RequestHead } from '../../lib/protocols/http/parser';

function parseAll(text: string, parser = new RequestParser()): RequestHead[] {
  parser.feed(Buffer.from(text, 'latin1'));
  const heads: RequestHead[] = [];
  for (let head = parser.next(); head; head = parser.next()) heads.push(head);
  parser.release();
  return heads;
}

describe('RequestHeaders', () => {
  it('reads like a Map: lower-cased names, repeated fields joined with ", ", unknown fields kept in order', () => {
    const [head] = parseAll(
      'GET /a HTTP/1.1\r\nHOST: x\r\nX-One: 1\r\nAccept: a\r\nRange: bytes=0-1\r\naccept: b\r\nX-Two: 2\r\nConnection: close\r\n\r\n',
    );
    const h = head.headers;
    expect(h.get('host')).toBe('x');
    expect(h.host).toBe('x');
    expect(h.get('accept')).toBe('a, b');
    expect(h.range).toBe('bytes=0-1');
    expect(h.connection).toBe('close');
    expect(h.has('x-one')).toBe(true);
    expect(h.has('if-none-match')).toBe(false);
    expect(h.get('X-One')).toBeUndefined(); // names are looked up lower-case, as they are stored
    expect([...h]).toEqual([
      ['host', 'x'],
      ['connection', 'close'],
      ['range', 'bytes=0-1'],
      ['x-one', '1'],
      ['accept', 'a, b'],
      ['x-two', '2'],
    ]);
    expect(h.size).toBe(6);
  });

  it('Content-Length and Transfer-Encoding still frame the body or refuse it', () => {
    const parser = new RequestParser();
    const [head, next] = parseAll('GET /a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabcGET /b HTTP/1.1\r\nHost: x\r\n\r\n', parser);
    expect([head.bodyLength, head.headers.contentLength, next.target]).toEqual([3, '3', '/b']);
    expect(() => parseAll('GET /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n')).toThrow(expect.objectContaining({ status: 411 }));
    expect(() => parseAll('GET /a HTTP/1.1\r\n\r\n')).toThrow(expect.objectContaining({ status: 400 }));
  });
});

describe('strings reused across the requests of a connection', () => {
  it('the same bytes give the same string; the same length with other bytes gives the new value', () => {
    const parser = new RequestParser();
    const [a] = parseAll('GET /index.html HTTP/1.1\r\nHost: a.example\r\nUser-Agent: t/1\r\n\r\n', parser);
    const [b] = parseAll('GET /index.html HTTP/1.1\r\nHost: a.example\r\nUser-Agent: t/1\r\n\r\n', parser);
    const [c] = parseAll('GET /indeX.html HTTP/1.1\r\nHost: b.example\r\nUser-Agent: t/2\r\n\r\n', parser);
    const [d] = parseAll('GET /index.htm HTTP/1.1\r\nHost: a.example.org\r\nUser-Agent: t/1\r\n\r\n', parser);
    expect([b.target, b.headers.host, b.headers.get('user-agent')]).toEqual([a.target, a.headers.host, a.headers.get('user-agent')]);
    expect([c.target, c.headers.host, c.headers.get('user-agent')]).toEqual(['/indeX.html', 'b.example', 't/2']);
    expect([d.target, d.headers.host, d.headers.get('user-agent')]).toEqual(['/index.htm', 'a.example.org', 't/1']);
    // A byte above 0x7f decodes as latin1 either way.
    const [e] = parseAll('GET /\xe9 HTTP/1.1\r\nHost: \xe9\r\n\r\n', parser);
    const [f] = parseAll('GET /\xe8 HTTP/1.1\r\nHost: \xe8\r\n\r\n', parser);
    expect([e.target, e.headers.host, f.target, f.headers.host]).toEqual(['/\xe9', '\xe9', '/\xe8', '\xe8']);
  });

  it('values stay right when a client invents more fields than the parser keeps strings for (8), and long ones', () => {
    const parser = new RequestParser();
    for (let round = 0; round < 3; round++) {
      const fields = Array.from({ length: 90 }, (_, i) => `X-F${round}-${i}: v${i}\r\n`).join('') + `X-Long: ${'y'.repeat(200 + round)}\r\n`;
      const [head] = parseAll(`GET / HTTP/1.1\r\nHost: x\r\n${fields}\r\n`, parser);
      expect(head.headers.get(`x-f${round}-89`)).toBe('v89');
      expect(head.headers.get(`x-f${round}-0`)).toBe('v0');
      expect(head.headers.get('x-long')).toBe('y'.repeat(200 + round));
      expect(head.headers.size).toBe(92);
    }
  });
});

describe('a repeated value is taken only for the same bytes ending the field', () => {
  const snapshot = (h: RequestHead) => ({ method: h.method, target: h.target, minor: h.minor, bodyLength: h.bodyLength, headers: [...h.headers] });

  it('near misses of the previous value (longer, shorter, trailing blanks, other bytes) read as themselves', () => {
    const parser = new RequestParser();
    const seen = ['a.example', 'a.example  ', 'a.examplex', 'a.exampl', '', 'b.example', 'a.example\t', 'a.example'].map((host) => {
      const [head] = parseAll(`GET /index.html HTTP/1.1\r\nHost: ${host}\r\nAccept: */*\r\n\r\n`, parser);
      return head.headers.host;
    });
    expect(seen).toEqual(['a.example', 'a.example', 'a.examplex', 'a.exampl', '', 'b.example', 'a.example', 'a.example']);
    // The same holds for the target, which a space ends.
    const targets = ['/index.html', '/index.htmlx', '/index.htm', '/index.html?q', '/index.html'].map(
      (t) => parseAll(`GET ${t} HTTP/1.1\r\nHost: x\r\n\r\n`, parser)[0].target,
    );
    expect(targets).toEqual(['/index.html', '/index.htmlx', '/index.htm', '/index.html?q', '/index.html']);
    // A control byte right after the old value is still refused, and so is a head cut short after it.
    expect(() => parseAll('GET /index.html HTTP/1.1\r\nHost: a.example\x01\r\n\r\n', parser)).toThrow(expect.objectContaining({ status: 400 }));
    const cut = new RequestParser();
    parseAll('GET /index.html HTTP/1.1\r\nHost: a.example\r\n\r\n', cut);
    cut.feed(Buffer.from('GET /index.html HTTP/1.1\r\nHost: a.example', 'latin1'));
    expect(cut.next()).toBeNull();
    cut.feed(Buffer.from('\r\n\r\n', 'latin1'));
    expect(cut.next()?.headers.host).toBe('a.example');
  });

  it('a long-lived parser reading request after request agrees with a fresh parser for each (fast-check)', () => {
    const value = fc.constantFrom('a.example', 'b.example', 'a.example ', 'a.examplex', 'a.exampl', '', ' a.example', 'a.ex\tample', '\xe9\xe9', 'close', 'keep-alive');
    const name = fc.constantFrom('Host', 'host', 'Connection', 'User-Agent', 'Accept', 'X-A', 'X-B', 'Range', 'If-None-Match');
    const request = fc
      .tuple(
        fc.constantFrom('GET', 'HEAD', 'POST'),
        fc.constantFrom('/index.html', '/indeX.html', '/index.htm', '/index.html?x', '/', '/\xe9'),
        fc.constantFrom('1.1', '1.0'),
        fc.array(fc.tuple(name, value), { maxLength: 5 }),
      )
      .map(([m, t, v, fields]) => `${m} ${t} HTTP/${v}\r\nHost: h\r\n${fields.map(([n, x]) => `${n}: ${x}\r\n`).join('')}\r\n`);
    const read = (requests: string[], parserFor: () => RequestParser) => {
      const out: unknown[] = [];
      try {
        for (const r of requests) out.push(...parseAll(r, parserFor()).map(snapshot));
      } catch (error) {
        out.push((error as { status: number }).status);
      }
      return out;
    };
    fc.assert(
      fc.property(fc.array(request, { minLength: 1, maxLength: 8 }), (requests) => {
        const longLived = new RequestParser();
        expect(read(requests, () => longLived)).toEqual(read(requests, () => new RequestParser()));
      }),
      fuzzRuns(300),
    );
  });
});
