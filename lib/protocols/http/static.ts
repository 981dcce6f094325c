/**
 * A static-file HTTP/1.1 responder (seed 002's web server), sans-IO: requests in, header bytes and
 * file ranges (sendfile) out. GET and HEAD; keep-alive and pipelining (responses leave in request order
 * because the transport's queue is FIFO); `/` and directories serve index.html; Content-Type by
 * extension; ETag/Last-Modified with 304; one byte range with 206/416; 405 with Allow for other methods.
 *
 * Timeouts: the whole request head must arrive within `headerTimeoutMs` of its first byte (408 and close
 * otherwise), through the transport's timer: a slowloris that sends a byte every few seconds is never idle,
 * so the server's idle timeout alone would keep it forever. Between requests only the idle timeout runs.
 *
 * Paths are refused in every spelling that could leave the root: `..` segments (raw or percent-encoded),
 * encoded slashes and backslashes, NUL, invalid or overlong UTF-8, and symlinks resolving outside the root.
 * @module
 */
// Node's global Buffer is an accessor (a call per use in hot code); the module's binding is a plain load.
import { Buffer } from 'node:buffer';
import { closeSync, fstatSync, openSync, realpathSync, statSync, type Stats } from 'node:fs';
import * as path from 'node:path';
import type { Protocol, Session, Transport } from '../protocol';
import { FileCache, type CachedFile, type FileCacheOptions, type FileMeta } from './file-cache';
import { contentType } from './mime';
import { HttpError, RequestParser, type RequestHead } from './parser';

/** Options of {@link httpStatic}. */
export interface HttpStaticOptions {
  /** The document root. */
  root: string;
  /** Called with one Common Log Format line per response (off by default). */
  accessLog?: (line: string) => void;
  /** The Server header (default "epollkit"). */
  serverName?: string;
  /**
   * A request head must be complete this long after its first byte arrived, or the connection gets 408 and
   * closes (default 10 000 ms; 0: no limit). Needs a transport with a timer (both of epollkit's have one).
   */
  headerTimeoutMs?: number;
  /** What to keep in memory (see {@link FileCache}). */
  cache?: FileCacheOptions;
}

const REASONS: Record<number, string> = {
  200: 'OK', 206: 'Partial Content', 301: 'Moved Permanently', 304: 'Not Modified', 400: 'Bad Request',
  403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed', 408: 'Request Timeout', 411: 'Length Required',
  414: 'URI Too Long', 416: 'Range Not Satisfiable', 417: 'Expectation Failed',
  431: 'Request Header Fields Too Large', 500: 'Internal Server Error',
};

let dateSecond = 0;
let dateValue = '';
/** The Date header value, formatted at most once per second (always 29 characters: it is patched in place). */
function httpDate(now = Date.now()): string {
  const second = Math.floor(now / 1000);
  if (second !== dateSecond) {
    dateSecond = second;
    dateValue = new Date(second * 1000).toUTCString();
  }
  return dateValue;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const two = (n: number): string => (n < 10 ? `0${n}` : `${n}`);
/** A Common Log Format time: `23/Nov/2026:14:20:00 +0000`. */
function clfDate(d = new Date()): string {
  return `${two(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} +0000`;
}

const CONTINUE = Buffer.from('HTTP/1.1 100 Continue\r\n\r\n', 'latin1');

/** A directory asked for without its trailing slash. */
class Redirect extends HttpError {
  constructor(readonly location: string) {
    super(301, 'directory without a trailing slash');
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Maps a request target to a path below `root` (not yet checked for symlinks), or throws HttpError. */
export function resolveTarget(root: string, target: string): string {
  let p = target;
  if (/^https?:\/\//i.test(p)) p = p.replace(/^https?:\/\/[^/]*/i, '') || '/';
  if (!p.startsWith('/')) throw new HttpError(400, 'request target must be a path');
  const q = p.search(/[?#]/);
  if (q >= 0) p = p.slice(0, q);
  if (p.includes('\\') || /%(2f|5c|00)/i.test(p)) throw new HttpError(403, 'encoded separator or NUL in path');
  if (/%(?![0-9a-f]{2})/i.test(p)) throw new HttpError(400, 'bad percent-encoding');
  let decoded: string;
  try {
    // Percent-decode to bytes, then require valid UTF-8: overlong forms (%c0%ae for '.') are invalid.
    decoded = utf8.decode(Buffer.from(p.replace(/%([0-9a-f]{2})/gi, (_, h: string) => String.fromCharCode(parseInt(h, 16))), 'latin1'));
  } catch {
    throw new HttpError(400, 'path is not valid UTF-8');
  }
  if (/[\0\\]/.test(decoded)) throw new HttpError(403, 'NUL or backslash in path');
  const segments = decoded.split('/');
  if (segments.some((s) => s === '..' || s === '.')) throw new HttpError(403, 'dot segment in path');
  return path.join(root, ...segments);
}

/** The request target without its query or fragment: the file cache's key. */
function pathKey(target: string): string {
  const q = target.indexOf('?');
  const h = target.indexOf('#');
  const end = q < 0 ? h : h < 0 ? q : Math.min(q, h);
  return end < 0 ? target : target.slice(0, end);
}

function metaOf(file: string, st: Stats): FileMeta {
  const mtime = Math.floor(st.mtimeMs / 1000);
  return {
    path: file,
    size: st.size,
    mtimeMs: st.mtimeMs,
    etag: `"${st.size.toString(16)}-${Math.floor(st.mtimeMs).toString(16)}"`,
    lastModified: new Date(mtime * 1000).toUTCString(),
    contentType: contentType(file),
  };
}

/** Whether If-None-Match (or, without it, If-Modified-Since) says the client's copy is current. */
function notModified(req: RequestHead, file: FileMeta): boolean {
  const inm = req.headers.ifNoneMatch;
  if (inm !== undefined) return inm === '*' || inm.split(/\s*,\s*/).some((t) => t.replace(/^W\//, '') === file.etag);
  const ims = req.headers.ifModifiedSince;
  return ims !== undefined && Date.parse(ims) >= Math.floor(file.mtimeMs / 1000) * 1000;
}

/** The static-file protocol. */
export function httpStatic(options: HttpStaticOptions): Protocol {
  const root = realpathSync(options.root);
  const serverName = options.serverName ?? 'epollkit';
  const headerTimeoutMs = options.headerTimeoutMs ?? 10_000;
  const accessLog = options.accessLog;
  const cache = new FileCache(options.cache);

  const headOf = (status: number, fields: string, keepAlive: boolean): string =>
    `HTTP/1.1 ${status} ${REASONS[status] ?? 'Unknown'}\r\nServer: ${serverName}\r\nDate: ${httpDate()}\r\n${fields}` +
    `Connection: ${keepAlive ? 'keep-alive' : 'close'}\r\n\r\n`;

  const fieldsOf = (file: FileMeta, length: number): string =>
    `Content-Type: ${file.contentType}\r\nContent-Length: ${length}\r\nAccept-Ranges: bytes\r\n` +
    `ETag: ${file.etag}\r\nLast-Modified: ${file.lastModified}\r\n`;

  /** The plain 200 keep-alive reply of a cached file, its Date patched in place once a second. */
  const replyOf = (file: CachedFile, now: number): Buffer => {
    const date = httpDate(now);
    if (file.reply === undefined) {
      const head = headOf(200, fieldsOf(file, file.body!.length), true);
      file.reply = Buffer.concat([Buffer.from(head, 'latin1'), file.body!]);
      file.dateOffset = head.indexOf('\r\nDate: ') + 8;
      file.dateSecond = dateSecond;
    } else if (file.dateSecond !== dateSecond) {
      // Transports never keep the buffer past write(), so rewriting it in place is safe.
      file.reply.write(date, file.dateOffset, 'latin1');
      file.dateSecond = dateSecond;
    }
    return file.reply;
  };

  /** The file a target names, from the cache or resolved, checked and cached; throws HttpError otherwise. */
  const find = (target: string, now: number): CachedFile => {
    const key = pathKey(target);
    const hit = cache.fresh(key, now);
    if (hit !== undefined) return hit;
    let file = resolveTarget(root, target);
    let fd: number;
    try {
      let st = statSync(file);
      if (st.isDirectory()) {
        if (!key.endsWith('/')) throw new Redirect(`${key}/`);
        file = path.join(file, 'index.html');
        st = statSync(file);
      }
      file = realpathSync(file);
      if (file !== root && !file.startsWith(root + path.sep)) throw new HttpError(403, 'symlink out of the root');
      if (!st.isFile()) throw new HttpError(404, 'not a file');
      fd = openSync(file, 'r');
    } catch (error) {
      cache.delete(key);
      if (error instanceof HttpError) throw error;
      throw new HttpError(404, 'no such file');
    }
    try {
      const st = fstatSync(fd);
      return cache.update(key, metaOf(file, st), fd, st, now);
    } finally {
      closeSync(fd);
    }
  };

  /**
   * One connection's state. A class, so that its methods exist once (on the prototype) rather than as
   * closures made per connection: an idle keep-alive connection holds only these five fields.
   */
  class HttpSession implements Session {
    readonly #transport: Transport;
    readonly #parser = new RequestParser();
    #done = false;
    #timing = false; // the header timer is armed
    #peerEnded = false;

    constructor(transport: Transport) {
      this.#transport = transport;
    }

    #log(req: RequestHead | undefined, status: number, bytes: number): void {
      if (!accessLog || this.#transport.rehearsal) return;
      const line = req ? `${req.method} ${req.target} HTTP/1.${req.minor}` : '-';
      accessLog(`${this.#transport.peerAddress?.() ?? '-'} - - [${clfDate()}] "${line}" ${status} ${bytes > 0 ? bytes : '-'}`);
    }

    #simple(req: RequestHead | undefined, status: number, keepAlive: boolean, extra = ''): void {
      const body = status === 304 ? '' : `<!doctype html><title>${status} ${REASONS[status]}</title><h1>${status} ${REASONS[status]}</h1>\n`;
      const sendBody = req?.method !== 'HEAD' && body.length > 0;
      const fields = `${extra}${body ? `Content-Type: text/html; charset=utf-8\r\nContent-Length: ${body.length}\r\n` : ''}`;
      this.#transport.write(Buffer.from(headOf(status, fields, keepAlive) + (sendBody ? body : ''), 'latin1'));
      this.#log(req, status, sendBody ? body.length : 0);
    }

    // Answers one request; returns false when the connection must close afterwards.
    #respond(req: RequestHead): boolean {
      const connection = req.headers.connection;
      const keepAlive =
        connection === undefined ? req.minor === 1
        : req.minor === 1 ? !/\bclose\b/i.test(connection)
        : /\bkeep-alive\b/i.test(connection);
      // One clock reading serves the cache and the Date header (the loop's, read once per round, where there is one).
      const now = this.#transport.now?.() ?? Date.now();
      let sendContinue = false;
      const expect = req.headers.expect;
      // RFC 9110 §10.1.1: an HTTP/1.0 request's expectation is ignored; an unknown one is 417.
      if (expect !== undefined && req.minor === 1) {
        if (expect.toLowerCase() !== '100-continue') return this.#simple(req, 417, false), false;
        sendContinue = req.bodyLength > 0;
      }
      // A refusal is a final status without the 100. The client may send its body now or never, so
      // nothing after it can be framed for sure: close then.
      const keepAfterRefusal = keepAlive && !sendContinue;
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        return this.#simple(req, 405, keepAfterRefusal, 'Allow: GET, HEAD\r\n'), keepAfterRefusal;
      }
      let file: CachedFile;
      try {
        file = find(req.target, now);
      } catch (error) {
        if (!(error instanceof HttpError)) throw error;
        const extra = error instanceof Redirect ? `Location: ${error.location}\r\n` : '';
        return this.#simple(req, error.status, keepAfterRefusal, extra), keepAfterRefusal;
      }
      // The body will be read (and dropped): tell the client to send it, then answer.
      if (sendContinue) this.#transport.write(CONTINUE);
      const h = req.headers;
      const conditional = h.ifNoneMatch !== undefined || h.ifModifiedSince !== undefined || h.range !== undefined;
      if (!conditional && file.body !== undefined && keepAlive && req.method === 'GET') {
        this.#transport.write(replyOf(file, now));
        this.#log(req, 200, file.body.length);
        return true;
      }
      return this.#sendFile(req, file, keepAlive, now);
    }

    #sendFile(req: RequestHead, file: CachedFile, keepAlive: boolean, now: number): boolean {
      // A large file is sent from a fresh descriptor with sendfile, never through memory. It may have
      // changed since it was checked (a growing log): its fstat, not the cache, decides the length.
      let fd = -1;
      if (file.body === undefined) {
        try {
          fd = openSync(file.path, 'r');
        } catch {
          file.checkedAt = -Infinity; // look again on the next request
          return this.#simple(req, 404, keepAlive), keepAlive;
        }
        const st = fstatSync(fd);
        if (st.size !== file.size || st.mtimeMs !== file.mtimeMs) Object.assign(file, metaOf(file.path, st), { checkedAt: now });
      }
      let handedOver = false; // to this.#transport.sendFile, which closes it when sent
      try {
        if (notModified(req, file)) {
          return this.#simple(req, 304, keepAlive, `ETag: ${file.etag}\r\nLast-Modified: ${file.lastModified}\r\n`), keepAlive;
        }
        const size = file.size;
        let start = 0;
        let end = size; // exclusive
        let status = 200;
        let rangeField = '';
        const range = req.headers.range;
        const m = range === undefined ? null : /^bytes=(\d*)-(\d*)$/.exec(range.trim());
        if (m !== null) {
          const [, a, b] = m;
          if (a === '' && b !== '') start = Math.max(0, size - Number(b));
          else if (a !== '') {
            start = Number(a);
            end = b === '' ? size : Math.min(size, Number(b) + 1);
          }
          if ((a === '' && b === '') || start >= size || start >= end) {
            return this.#simple(req, 416, keepAlive, `Content-Range: bytes */${size}\r\n`), keepAlive;
          }
          status = 206;
          rangeField = `Content-Range: bytes ${start}-${end - 1}/${size}\r\n`;
        }
        const length = end - start;
        const head = Buffer.from(headOf(status, `${fieldsOf(file, length)}${rangeField}`, keepAlive), 'latin1');
        const bytes = req.method === 'HEAD' ? 0 : length;
        if (bytes === 0) this.#transport.write(head);
        else if (file.body !== undefined) this.#transport.write(Buffer.concat([head, file.body.subarray(start, end)]));
        else {
          this.#transport.write(head);
          handedOver = true;
          this.#transport.sendFile(fd, start, length, () => closeSync(fd));
        }
        this.#log(req, status, bytes);
        return keepAlive;
      } finally {
        if (fd >= 0 && !handedOver) closeSync(fd);
      }
    }

    #onHeaderTimeout(): void {
      this.#timing = false;
      if (this.#done) return;
      this.#done = true;
      this.#simple(undefined, 408, false);
      this.#transport.close();
    }

    onData(chunk: Uint8Array): void {
      if (this.#done) return;
      this.#parser.feed(chunk);
      this.#serve();
    }

    // Output drained below the low-water mark: answer the pipelined requests left waiting.
    onDrain(): void {
      if (!this.#done && (this.#parser.buffered > 0 || this.#peerEnded)) this.#serve();
    }

    // Answers the complete requests buffered, in order, until the transport holds more output than its
    // high-water mark: the rest stay in the parser (a client that pipelines and never reads costs the
    // server the mark, not a reply per request it sent) until onDrain.
    #serve(): void {
      const parser = this.#parser;
      const transport = this.#transport;
      try {
        for (let req = parser.next(); req; req = this.#done || transport.writableNeedDrain ? null : parser.next()) {
          if (!this.#respond(req)) this.#done = true;
        }
      } catch (error) {
        if (!(error instanceof HttpError)) throw error;
        this.#simple(undefined, error.status, false);
        this.#done = true;
      }
      parser.release();
      // After the peer's end, whatever is left once the answers went out is an unfinished head.
      if (this.#done || (this.#peerEnded && !transport.writableNeedDrain)) return transport.close();
      // The head clock starts with a head's first byte and stops when no partial head is left; it does not
      // run while the requests wait for our own output to drain (that wait is ours, not the client's).
      if (parser.buffered > 0 && !transport.writableNeedDrain) {
        if (!this.#timing && headerTimeoutMs > 0 && transport.setTimer) {
          transport.setTimer(headerTimeoutMs, () => this.#onHeaderTimeout());
          this.#timing = true;
        }
      } else if (this.#timing) {
        transport.clearTimer?.();
        this.#timing = false;
      }
    }

    onEnd(): void {
      // Requests may still wait for our output to drain: they are answered before the close.
      this.#peerEnded = true;
      this.#serve();
    }

    onClose(): void {
      if (this.#timing) this.#transport.clearTimer?.();
    }
  }

  return {
    name: 'http',
    // The index page, as a browser's first request: it also loads a small index.html into the file cache,
    // which the children then inherit.
    sample: Buffer.from('GET / HTTP/1.1\r\nHost: localhost\r\n\r\n', 'latin1'),
    open: (transport: Transport): Session => new HttpSession(transport),
  };
}
