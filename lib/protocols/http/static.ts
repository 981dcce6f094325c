/**
 * A static-file HTTP/1.1 responder (seed 002's web server), sans-IO: requests in, header bytes and
 * file ranges (sendfile) out. GET and HEAD; keep-alive and pipelining (responses leave in request order
 * because the transport's queue is FIFO); `/` and directories serve index.html; Content-Type by
 * extension; ETag/Last-Modified with 304; one byte range with 206/416; 405 with Allow for other methods.
 *
 * Paths are refused in every spelling that could leave the root: `..` segments (raw or percent-encoded),
 * encoded slashes and backslashes, NUL, invalid or overlong UTF-8, and symlinks resolving outside the root.
 * @module
 */
import { closeSync, fstatSync, openSync, realpathSync, statSync } from 'node:fs';
import * as path from 'node:path';
import type { Protocol, Session, Transport } from '../protocol';
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
}

const REASONS: Record<number, string> = {
  200: 'OK', 206: 'Partial Content', 301: 'Moved Permanently', 304: 'Not Modified', 400: 'Bad Request',
  403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed', 411: 'Length Required',
  414: 'URI Too Long', 416: 'Range Not Satisfiable', 417: 'Expectation Failed',
  431: 'Request Header Fields Too Large', 500: 'Internal Server Error',
};

let dateSecond = 0;
let dateValue = '';
/** The Date header value, formatted at most once per second. */
function httpDate(): string {
  const now = Date.now();
  const second = Math.floor(now / 1000);
  if (second !== dateSecond) {
    dateSecond = second;
    dateValue = new Date(second * 1000).toUTCString();
  }
  return dateValue;
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

/** The static-file protocol. */
export function httpStatic(options: HttpStaticOptions): Protocol {
  const root = realpathSync(options.root);
  const serverName = options.serverName ?? 'epollkit';
  return {
    name: 'http',
    open(transport: Transport): Session {
      const parser = new RequestParser();
      let done = false;

      const log = (req: RequestHead | undefined, status: number, bytes: number): void => {
        if (!options.accessLog) return;
        const when = new Date().toUTCString();
        const line = req ? `${req.method} ${req.target} HTTP/1.${req.minor}` : '-';
        options.accessLog(`- - - [${when}] "${line}" ${status} ${bytes}`);
      };

      const head = (status: number, fields: string, keepAlive: boolean): Buffer =>
        Buffer.from(
          `HTTP/1.1 ${status} ${REASONS[status] ?? 'Unknown'}\r\nServer: ${serverName}\r\nDate: ${httpDate()}\r\n${fields}` +
            `Connection: ${keepAlive ? 'keep-alive' : 'close'}\r\n\r\n`,
          'latin1',
        );

      const simple = (req: RequestHead | undefined, status: number, keepAlive: boolean, extra = ''): void => {
        const body = status === 304 ? '' : `<!doctype html><title>${status} ${REASONS[status]}</title><h1>${status} ${REASONS[status]}</h1>\n`;
        const sendBody = req?.method !== 'HEAD' && body.length > 0;
        transport.write(head(status, `${extra}${body ? `Content-Type: text/html; charset=utf-8\r\nContent-Length: ${body.length}\r\n` : ''}`, keepAlive));
        if (sendBody) transport.write(Buffer.from(body));
        log(req, status, sendBody ? body.length : 0);
      };

      // Answers one request; returns false when the connection must close afterwards.
      const respond = (req: RequestHead): boolean => {
        const connection = (req.headers.get('connection') ?? '').toLowerCase();
        const keepAlive = req.minor === 1 ? !/\bclose\b/.test(connection) : /\bkeep-alive\b/.test(connection);
        const expect = req.headers.get('expect');
        if (expect !== undefined) {
          if (expect.toLowerCase() !== '100-continue') return simple(req, 417, false), false;
          if (req.bodyLength > 0) transport.write(Buffer.from('HTTP/1.1 100 Continue\r\n\r\n'));
        }
        if (req.method !== 'GET' && req.method !== 'HEAD') return simple(req, 405, keepAlive, 'Allow: GET, HEAD\r\n'), keepAlive;
        let file: string;
        try {
          file = resolveTarget(root, req.target);
        } catch (error) {
          if (!(error instanceof HttpError)) throw error;
          return simple(req, error.status, keepAlive), keepAlive;
        }
        let fd: number;
        try {
          let st = statSync(file);
          if (st.isDirectory()) {
            const bare = req.target.split(/[?#]/)[0];
            if (!bare.endsWith('/')) return simple(req, 301, keepAlive, `Location: ${bare}/\r\n`), keepAlive;
            file = path.join(file, 'index.html');
            st = statSync(file);
          }
          const real = realpathSync(file);
          if (real !== root && !real.startsWith(root + path.sep)) return simple(req, 403, keepAlive), keepAlive;
          if (!st.isFile()) return simple(req, 404, keepAlive), keepAlive;
          fd = openSync(real, 'r');
        } catch {
          return simple(req, 404, keepAlive), keepAlive;
        }
        try {
          return sendFile(req, fd, keepAlive, file);
        } catch (error) {
          closeSync(fd);
          throw error;
        }
      };

      const sendFile = (req: RequestHead, fd: number, keepAlive: boolean, file: string): boolean => {
        const st = fstatSync(fd);
        const size = st.size;
        const mtime = Math.floor(st.mtimeMs / 1000);
        const etag = `"${size.toString(16)}-${Math.floor(st.mtimeMs).toString(16)}"`;
        const validators = `ETag: ${etag}\r\nLast-Modified: ${new Date(mtime * 1000).toUTCString()}\r\n`;
        const inm = req.headers.get('if-none-match');
        const ims = req.headers.get('if-modified-since');
        const notModified =
          inm !== undefined ? inm === '*' || inm.split(/\s*,\s*/).some((t) => t.replace(/^W\//, '') === etag)
          : ims !== undefined && Date.parse(ims) >= mtime * 1000;
        if (notModified) {
          closeSync(fd);
          return simple(req, 304, keepAlive, validators), keepAlive;
        }
        let start = 0;
        let end = size; // exclusive
        let status = 200;
        let rangeField = '';
        const range = req.headers.get('range');
        if (range !== undefined && /^bytes=\d*-\d*$/.test(range.trim())) {
          const [, a, b] = /^bytes=(\d*)-(\d*)$/.exec(range.trim())!;
          if (a === '' && b !== '') start = Math.max(0, size - Number(b));
          else if (a !== '') {
            start = Number(a);
            end = b === '' ? size : Math.min(size, Number(b) + 1);
          }
          if ((a === '' && b === '') || start >= size || start >= end) {
            closeSync(fd);
            return simple(req, 416, keepAlive, `Content-Range: bytes */${size}\r\n`), keepAlive;
          }
          status = 206;
          rangeField = `Content-Range: bytes ${start}-${end - 1}/${size}\r\n`;
        }
        const length = end - start;
        transport.write(
          head(status, `Content-Type: ${contentType(file)}\r\nContent-Length: ${length}\r\nAccept-Ranges: bytes\r\n${rangeField}${validators}`, keepAlive),
        );
        if (req.method === 'HEAD' || length === 0) closeSync(fd);
        else transport.sendFile(fd, start, length, () => closeSync(fd));
        log(req, status, req.method === 'HEAD' ? 0 : length);
        return keepAlive;
      };

      return {
        onData(chunk) {
          if (done) return;
          parser.feed(chunk);
          try {
            for (let req = parser.next(); req; req = done ? null : parser.next()) {
              if (!respond(req)) done = true;
            }
          } catch (error) {
            if (!(error instanceof HttpError)) throw error;
            simple(undefined, error.status, false);
            done = true;
          }
          parser.release();
          if (done) transport.close();
        },
        onEnd: () => transport.close(),
      };
    },
  };
}
