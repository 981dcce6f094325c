/**
 * A sans-IO HTTP/1.1 request-head parser (RFC 9112): bytes in, complete request heads out, with the
 * limits a server in front of browsers needs — request line over 8 KiB is 414, header section over
 * 16 KiB or 100 fields is 431, anything malformed is 400 (and the connection closes: after a framing
 * error nothing later on it can be trusted).
 * @module
 */

export const MAX_REQUEST_LINE = 8 * 1024;
export const MAX_HEADER_BYTES = 16 * 1024;
export const MAX_HEADER_FIELDS = 100;

/** One parsed request head. Header names are lower-cased; repeated fields are joined with ", ". */
export interface RequestHead {
  method: string;
  target: string;
  /** 0 for HTTP/1.0, 1 for HTTP/1.1. */
  minor: number;
  headers: Map<string, string>;
  /** Body bytes that follow the head (Content-Length), to be skipped. */
  bodyLength: number;
}

/** A request that cannot be served, with the status to answer it with. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
const CRLFCRLF = Buffer.from('\r\n\r\n');

/**
 * Feeds bytes; `next()` returns complete heads one at a time (pipelining), or null when more bytes are
 * needed. Throws {@link HttpError} on a request that must be refused.
 */
export class RequestParser {
  #buffer: Buffer = Buffer.alloc(0);
  #borrowed = false;
  #skip = 0;

  /**
   * Takes bytes. The common case — nothing pending — parses straight from the caller's chunk without a
   * copy; call {@link RequestParser.release} before the chunk is reused, which copies any remainder.
   */
  feed(chunk: Uint8Array): void {
    if (this.#skip > 0) {
      const n = Math.min(this.#skip, chunk.length);
      this.#skip -= n;
      chunk = chunk.subarray(n);
    }
    if (chunk.length === 0) return;
    const view = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length);
    if (this.#buffer.length === 0) {
      this.#buffer = view;
      this.#borrowed = true;
    } else {
      this.#buffer = Buffer.concat([this.#buffer, view]);
      this.#borrowed = false;
    }
  }

  /** Copies what remains of a borrowed chunk, so the caller may reuse it. */
  release(): void {
    if (this.#borrowed && this.#buffer.length > 0) this.#buffer = Buffer.from(this.#buffer);
    this.#borrowed = false;
  }

  /** Bytes waiting that do not yet form a complete head. */
  get buffered(): number {
    return this.#buffer.length;
  }

  next(): RequestHead | null {
    const buf = this.#buffer;
    // Tolerate the empty lines some clients send between pipelined requests (RFC 9112 §2.2).
    let start = 0;
    while (start + 1 < buf.length && buf[start] === 13 && buf[start + 1] === 10) start += 2;
    const end = buf.indexOf(CRLFCRLF, start);
    if (end < 0) {
      const lineEnd = buf.indexOf(10, start);
      if ((lineEnd < 0 ? buf.length - start : lineEnd - start) > MAX_REQUEST_LINE) throw new HttpError(414, 'request line too long');
      if (buf.length - start > MAX_HEADER_BYTES + MAX_REQUEST_LINE) throw new HttpError(431, 'header section too large');
      return null;
    }
    const head = buf.toString('latin1', start, end);
    this.#buffer = buf.subarray(end + 4);
    const lines = head.split('\r\n');
    const requestLine = lines[0];
    if (requestLine.length > MAX_REQUEST_LINE) throw new HttpError(414, 'request line too long');
    if (end - start - requestLine.length > MAX_HEADER_BYTES) throw new HttpError(431, 'header section too large');
    if (lines.length - 1 > MAX_HEADER_FIELDS) throw new HttpError(431, 'too many header fields');
    const m = /^([^ ]+) ([^ ]+) HTTP\/1\.([01])$/.exec(requestLine);
    if (!m || !TOKEN.test(m[1])) throw new HttpError(400, 'malformed request line');
    const headers = new Map<string, string>();
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i];
      const colon = line.indexOf(':');
      const name = colon > 0 ? line.slice(0, colon) : '';
      // No whitespace before the colon, no obsolete line folding, no bare CR or LF (request smuggling).
      if (!TOKEN.test(name)) throw new HttpError(400, 'malformed header field');
      const value = line.slice(colon + 1).trim();
      if (!FIELD_VALUE.test(value)) throw new HttpError(400, 'malformed header value');
      const key = name.toLowerCase();
      const prior = headers.get(key);
      headers.set(key, prior === undefined ? value : `${prior}, ${value}`);
    }
    if (m[3] === '1' && !headers.has('host')) throw new HttpError(400, 'HTTP/1.1 request without Host');
    let bodyLength = 0;
    const te = headers.get('transfer-encoding');
    const cl = headers.get('content-length');
    if (te !== undefined) {
      // A static server accepts no request bodies it would have to de-chunk; refuse rather than guess.
      throw new HttpError(cl !== undefined ? 400 : 411, 'chunked request bodies are not accepted');
    }
    if (cl !== undefined) {
      if (!/^\d{1,15}$/.test(cl)) throw new HttpError(400, 'bad Content-Length');
      bodyLength = Number(cl);
    }
    const request: RequestHead = { method: m[1], target: m[2], minor: Number(m[3]), headers, bodyLength };
    this.#discardBody(bodyLength);
    return request;
  }

  #discardBody(length: number): void {
    if (length === 0) return;
    const n = Math.min(length, this.#buffer.length);
    this.#buffer = this.#buffer.subarray(n);
    this.#skip = length - n;
  }
}
