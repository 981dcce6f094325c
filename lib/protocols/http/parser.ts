/**
 * A sans-IO HTTP/1.1 request-head parser (RFC 9112): bytes in, complete request heads out, with the
 * limits a server in front of browsers needs — request line over 8 KiB is 414, header section over
 * 16 KiB or 100 fields is 431, anything malformed is 400 (and the connection closes: after a framing
 * error nothing later on it can be trusted).
 * @module
 */

// Node's global Buffer is an accessor (a call per use in hot code); the module's binding is a plain load.
import { Buffer } from 'node:buffer';

export const MAX_REQUEST_LINE = 8 * 1024;
export const MAX_HEADER_BYTES = 16 * 1024;
export const MAX_HEADER_FIELDS = 100;

/** One parsed request head. Header names are lower-cased; repeated fields are joined with ", ". */
export interface RequestHead {
  method: string;
  target: string;
  /** 0 for HTTP/1.0, 1 for HTTP/1.1. */
  minor: number;
  headers: RequestHeaders;
  /** Body bytes that follow the head (Content-Length), to be skipped. */
  bodyLength: number;
}

/**
 * The header fields of one request, read like a Map (names lower-cased). The fields a server acts on have
 * slots of their own, the others go to a Map made only when one arrives: a Map per request, with a
 * hash per field, was a fifth of the parser's time on a typical GET.
 */
export class RequestHeaders implements Iterable<[string, string]> {
  host: string | undefined = undefined;
  connection: string | undefined = undefined;
  contentLength: string | undefined = undefined;
  transferEncoding: string | undefined = undefined;
  expect: string | undefined = undefined;
  range: string | undefined = undefined;
  ifRange: string | undefined = undefined;
  ifNoneMatch: string | undefined = undefined;
  ifModifiedSince: string | undefined = undefined;
  #other: Map<string, string> | undefined = undefined;

  /** The value of field `name` (lower-case), repeated fields joined with ", ". */
  get(name: string): string | undefined {
    switch (name) {
      case 'host': return this.host;
      case 'connection': return this.connection;
      case 'content-length': return this.contentLength;
      case 'transfer-encoding': return this.transferEncoding;
      case 'expect': return this.expect;
      case 'range': return this.range;
      case 'if-range': return this.ifRange;
      case 'if-none-match': return this.ifNoneMatch;
      case 'if-modified-since': return this.ifModifiedSince;
      default: return this.#other?.get(name);
    }
  }

  has(name: string): boolean {
    return this.get(name) !== undefined;
  }

  /** Adds a field (lower-case name); a repeated one is joined to the earlier value with ", ". */
  add(name: string, value: string): void {
    // One switch that reads and writes the slot: the parser calls this for every field.
    switch (name) {
      case 'host': this.host = joined(this.host, value); break;
      case 'connection': this.connection = joined(this.connection, value); break;
      case 'content-length': this.contentLength = joined(this.contentLength, value); break;
      case 'transfer-encoding': this.transferEncoding = joined(this.transferEncoding, value); break;
      case 'expect': this.expect = joined(this.expect, value); break;
      case 'range': this.range = joined(this.range, value); break;
      case 'if-range': this.ifRange = joined(this.ifRange, value); break;
      case 'if-none-match': this.ifNoneMatch = joined(this.ifNoneMatch, value); break;
      case 'if-modified-since': this.ifModifiedSince = joined(this.ifModifiedSince, value); break;
      default: {
        const other = (this.#other ??= new Map());
        other.set(name, joined(other.get(name), value));
      }
    }
  }

  get size(): number {
    return [...this].length;
  }

  /** The fields as [name, value] pairs: the slotted ones first, then the others in arrival order. */
  *entries(): IterableIterator<[string, string]> {
    for (const name of SLOTTED) {
      const value = this.get(name);
      if (value !== undefined) yield [name, value];
    }
    if (this.#other) yield* this.#other;
  }

  [Symbol.iterator](): IterableIterator<[string, string]> {
    return this.entries();
  }
}

const joined = (prior: string | undefined, value: string): string => (prior === undefined ? value : `${prior}, ${value}`);

const SLOTTED = ['host', 'connection', 'content-length', 'transfer-encoding', 'expect', 'range', 'if-range', 'if-none-match', 'if-modified-since'];

/** A request that cannot be served, with the status to answer it with. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** tchar (RFC 9110 §5.6.2): the bytes of a method or a field name. */
const TCHAR = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") TCHAR[c.charCodeAt(0)] = 1;
/** The bytes of a field value: HTAB, SP, VCHAR, obs-text; never CR, LF, NUL or another control. */
const FIELD_BYTE = new Uint8Array(256);
FIELD_BYTE[9] = 1;
FIELD_BYTE.fill(1, 0x20, 0x7f);
FIELD_BYTE.fill(1, 0x80, 0x100);
const EMPTY = Buffer.alloc(0);
/** The slot of the request target among the recent strings (not a field name: it has a space). */
const TARGET = ' target';
/**
 * Distinct fields whose last string a parser keeps, and the longest string kept: an idle keep-alive
 * connection holds these, so they are bounded (~1 KiB at most, against ~1.1 KiB for the rest of an idle
 * connection), and a hostile client cannot make it hold more.
 */
const MAX_RECENT = 8;
const MAX_RECENT_LENGTH = 128;
const CRLFCRLF = Buffer.from('\r\n\r\n', 'latin1');

// Buffer's own latin1 decoder, without toString's argument checks and encoding lookup (about a third of
// the cost of a short string); present in every Node version epollkit supports.
const latin1 = (Buffer.prototype as unknown as { latin1Slice(start: number, end: number): string }).latin1Slice;

/** Field names browsers and tools send, by length: matched in place, they cost no string allocation. */
const KNOWN_NAMES: string[][] = [];
for (const name of [
  'host', 'connection', 'content-length', 'transfer-encoding', 'expect', 'range', 'if-range', 'if-none-match',
  'if-modified-since', 'user-agent', 'accept', 'accept-encoding', 'accept-language', 'cache-control', 'pragma',
  'cookie', 'referer', 'origin', 'dnt', 'priority', 'upgrade-insecure-requests', 'sec-fetch-site', 'sec-fetch-mode',
  'sec-fetch-dest', 'sec-fetch-user', 'sec-ch-ua', 'sec-ch-ua-mobile', 'sec-ch-ua-platform',
]) {
  (KNOWN_NAMES[name.length] ??= []).push(name);
}

/** The lower-cased field name in `buf[a, b)` (tchar bytes only, as the parser has checked). */
function fieldName(buf: Buffer, a: number, b: number): string {
  const candidates = KNOWN_NAMES[b - a];
  if (candidates !== undefined) {
    next: for (const name of candidates) {
      // ORing in 0x20 lower-cases ASCII letters; among tchar bytes only letters can land on one.
      for (let i = 0; i < name.length; i++) if ((buf[a + i] | 0x20) !== name.charCodeAt(i)) continue next;
      return name;
    }
  }
  return latin1.call(buf, a, b).toLowerCase();
}

/**
 * Feeds bytes; `next()` returns complete heads one at a time (pipelining), or null when more bytes are
 * needed. Throws {@link HttpError} on a request that must be refused.
 *
 * Written for the hot path (a server answers each request in about 6 µs of kernel time, so the parser's
 * share must stay well under one): one pass over the bytes with lookup tables, allocating only the strings
 * of the head it returns — no copy of a chunk that holds whole requests, no regular expressions, no split.
 */
export class RequestParser {
  #buffer: Buffer = EMPTY;
  /** Where the unparsed bytes of #buffer begin. */
  #pos = 0;
  /** How far #buffer is known to hold no end of head (a head arriving in pieces is not parsed again and again). */
  #scanned = 0;
  #borrowed = false;
  #skip = 0;
  /** The strings of the previous request, by field name (and {@link TARGET}), for {@link RequestParser.#string}. */
  #recent: Map<string, string> | undefined = undefined;
  #recentTarget: string | undefined = undefined;
  #recentHost: string | undefined = undefined;

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
    const view = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length);
    if (this.#pos >= this.#buffer.length) {
      this.#buffer = view;
      this.#borrowed = true;
      this.#scanned = 0;
    } else {
      this.#buffer = Buffer.concat([this.#buffer.subarray(this.#pos), view]);
      this.#borrowed = false;
      this.#scanned = Math.max(0, this.#scanned - this.#pos);
    }
    this.#pos = 0;
  }

  /** Copies what remains of a borrowed chunk, so the caller may reuse it. */
  release(): void {
    if (this.#pos >= this.#buffer.length) {
      this.#buffer = EMPTY; // and let go of the caller's chunk
      this.#pos = this.#scanned = 0;
    } else if (this.#borrowed) {
      this.#buffer = Buffer.from(this.#buffer.subarray(this.#pos));
      this.#scanned -= this.#pos;
      this.#pos = 0;
    }
    this.#borrowed = false;
  }

  /** Bytes waiting that do not yet form a complete head. */
  get buffered(): number {
    return this.#buffer.length - this.#pos;
  }

  next(): RequestHead | null {
    const buf = this.#buffer;
    const len = buf.length;
    // Tolerate the empty lines some clients send between pipelined requests (RFC 9112 §2.2).
    let start = this.#pos;
    while (start + 1 < len && buf[start] === 13 && buf[start + 1] === 10) start += 2;
    if (start >= len) return null; // all consumed: the common end of a chunk
    // A head that is arriving in pieces: look for its end (memmem) before parsing it again.
    if (this.#scanned > start && buf.indexOf(CRLFCRLF, Math.max(start, this.#scanned - 3)) < 0) return this.#incomplete(start);

    // One pass over the head. A read past the end gives undefined, which stops every loop; the head is
    // then either incomplete or malformed, and #malformed tells which.
    // method SP request-target SP HTTP/1.x CRLF
    let p = start;
    while (TCHAR[buf[p]] === 1) p++;
    const methodEnd = p;
    if (methodEnd === start || buf[p] !== 32) return this.#malformed(start, 'malformed request line');
    const targetStart = ++p;
    // The previous request's target again (a keep-alive client often repeats it): one comparison, no scan.
    let target = this.#repeated(this.#recentTarget, buf, p, 32);
    if (target !== undefined) p += target.length;
    else {
      while (buf[p] > 32 && buf[p] !== 127) p++;
      if (p === targetStart || buf[p] !== 32) return this.#malformed(start, 'malformed request line');
    }
    const targetEnd = p++;
    const isVersion =
      buf[p] === 72 && buf[p + 1] === 84 && buf[p + 2] === 84 && buf[p + 3] === 80 && buf[p + 4] === 47 &&
      buf[p + 5] === 49 && buf[p + 6] === 46 && (buf[p + 7] === 48 || buf[p + 7] === 49) && buf[p + 8] === 13 && buf[p + 9] === 10;
    if (!isVersion) return this.#malformed(start, 'malformed request line');
    const lineEnd = p + 8;
    if (lineEnd - start > MAX_REQUEST_LINE) throw new HttpError(414, 'request line too long');
    const minor = buf[p + 7] - 48;

    // A new head per request, not one reused: a head kept by a parser between requests is ~170 B more per
    // idle keep-alive connection (the scale test's bound), and a session may be re-entered (a write that
    // drains calls onDrain, which parses the next pipelined request) while it still reads the last head.
    const headers = new RequestHeaders();
    let fields = 0;
    let a = lineEnd + 2;
    while (!(buf[a] === 13 && buf[a + 1] === 10)) {
      // name ":" OWS value OWS CRLF, with no whitespace before the colon, no obsolete line folding and
      // no bare CR or LF anywhere (request smuggling).
      let q = a;
      while (TCHAR[buf[q]] === 1) q++;
      if (q === a || buf[q] !== 58) return this.#malformed(start, 'malformed header field');
      const key = fieldName(buf, a, q++);
      while (buf[q] === 32 || buf[q] === 9) q++;
      const valueStart = q;
      // The value this field had in the previous request, byte for byte and followed by CRLF: those bytes
      // were checked when that string was made. A keep-alive client repeats most of its fields.
      let value = this.#repeated(key === 'host' ? this.#recentHost : this.#recent?.get(key), buf, q, 13);
      if (value !== undefined) q += value.length;
      else {
        while (FIELD_BYTE[buf[q]] === 1) q++;
      }
      if (buf[q] !== 13 || buf[q + 1] !== 10) return this.#malformed(start, 'malformed header value');
      if (++fields > MAX_HEADER_FIELDS) return this.#tooLarge(start, 'too many header fields');
      if (q - lineEnd > MAX_HEADER_BYTES) return this.#tooLarge(start, 'header section too large');
      if (value === undefined) {
        let valueEnd = q;
        while (valueEnd > valueStart && (buf[valueEnd - 1] === 32 || buf[valueEnd - 1] === 9)) valueEnd--;
        value = this.#string(key, buf, valueStart, valueEnd);
      }
      headers.add(key, value);
      a = q + 2;
    }
    this.#pos = this.#scanned = a + 2;
    const method =
      methodEnd - start === 3 && buf[start] === 71 && buf[start + 1] === 69 && buf[start + 2] === 84 ? 'GET' : latin1.call(buf, start, methodEnd);
    if (minor === 1 && headers.host === undefined) throw new HttpError(400, 'HTTP/1.1 request without Host');
    let bodyLength = 0;
    const cl = headers.contentLength;
    if (headers.transferEncoding !== undefined) {
      // A static server accepts no request bodies it would have to de-chunk; refuse rather than guess.
      throw new HttpError(cl !== undefined ? 400 : 411, 'chunked request bodies are not accepted');
    }
    if (cl !== undefined) {
      if (!/^\d{1,15}$/.test(cl)) throw new HttpError(400, 'bad Content-Length');
      bodyLength = Number(cl);
    }
    target ??= this.#string(TARGET, buf, targetStart, targetEnd);
    this.#discardBody(bodyLength);
    return { method, target, minor, headers, bodyLength };
  }

  /**
   * `recent` when `buf` holds exactly its bytes from `a` on, followed by the byte `end`; else undefined.
   * Strings kept as recent are one-byte (latin1) strings of bytes the grammar allowed.
   */
  #repeated(recent: string | undefined, buf: Buffer, a: number, end: number): string | undefined {
    if (recent === undefined || buf[a + recent.length] !== end) return undefined;
    for (let i = 0; i < recent.length; i++) if (recent.charCodeAt(i) !== buf[a + i]) return undefined;
    return recent;
  }

  /**
   * `buf[a, b)` as a string — the string this connection's previous request had under `slot` (a field name,
   * or the target) when the bytes are the same. A keep-alive client repeats itself (Host, User-Agent,
   * Accept… and often the target): comparing the bytes costs a fraction of decoding them, and a reused
   * string keeps its hash, so the file cache's lookup does not compute it again.
   */
  #string(slot: string, buf: Buffer, a: number, b: number): string {
    // The target and Host, in every request, have fields of their own: no lookup for them.
    const recent = slot === TARGET ? this.#recentTarget : slot === 'host' ? this.#recentHost : this.#recent?.get(slot);
    if (recent !== undefined && recent.length === b - a) {
      let i = 0;
      while (i < recent.length && recent.charCodeAt(i) === buf[a + i]) i++;
      if (i === recent.length) return recent;
    }
    const value = latin1.call(buf, a, b);
    if (value.length > MAX_RECENT_LENGTH) return value;
    if (slot === TARGET) this.#recentTarget = value;
    else if (slot === 'host') this.#recentHost = value;
    else if ((this.#recent ??= new Map()).size < MAX_RECENT || this.#recent.has(slot)) this.#recent.set(slot, value);
    return value;
  }

  // No end of head yet: refuse a head that has already outgrown the limits, else wait for more.
  #incomplete(start: number): null {
    const buf = this.#buffer;
    this.#scanned = buf.length;
    const lineEnd = buf.indexOf(10, start);
    if ((lineEnd < 0 ? buf.length - start : lineEnd - start) > MAX_REQUEST_LINE) throw new HttpError(414, 'request line too long');
    if (buf.length - start > MAX_HEADER_BYTES + MAX_REQUEST_LINE) throw new HttpError(431, 'header section too large');
    return null;
  }

  // A byte the grammar does not allow, or the end of the bytes: a head is judged only once it is complete
  // (so the verdict never depends on how the bytes were cut), and an overlong request line is 414 first.
  #malformed(start: number, message: string): null {
    if (this.#buffer.indexOf(CRLFCRLF, start) < 0) return this.#incomplete(start);
    if (this.#buffer.indexOf(13, start) - start > MAX_REQUEST_LINE) throw new HttpError(414, 'request line too long');
    throw new HttpError(400, message);
  }

  #tooLarge(start: number, message: string): null {
    if (this.#buffer.indexOf(CRLFCRLF, start) < 0) return this.#incomplete(start);
    throw new HttpError(431, message);
  }

  #discardBody(length: number): void {
    if (length === 0) return;
    const n = Math.min(length, this.#buffer.length - this.#pos);
    this.#pos += n;
    this.#scanned = this.#pos;
    this.#skip = length - n;
  }
}
