/**
 * The static responder's memory of files: what it knows of each served file (size, mtime, validators,
 * type) and, for small files, their bytes. `epollkit bench http --sizes` measured why (figures in the
 * README): for small files one send(2) of a prebuilt response from memory costs a fraction of
 * open + fstat + send + sendfile + close; from about 64 KiB on the copy into the socket dominates and
 * sendfile, which never brings the file into the process, wins. A large file is never read into memory.
 *
 * An entry is trusted for `validMs` (default 1 s, nginx's open_file_cache_valid idea) and then revalidated
 * by the caller with fstat: same size and mtime keep the bytes, anything else reloads them. The cache is
 * bounded in entries and bytes and evicts the oldest entry first.
 * @module
 */
import { readSync, type Stats } from 'node:fs';

/** What the responder knows of one file. */
export interface FileMeta {
  /** The real path below the root. */
  path: string;
  size: number;
  mtimeMs: number;
  etag: string;
  /** The Last-Modified value. */
  lastModified: string;
  contentType: string;
}

/** A cached file. `body` is its content when it is small enough, else undefined (send it with sendfile). */
export interface CachedFile extends FileMeta {
  body: Buffer | undefined;
  /** When it was last checked against the file system (Date.now()). */
  checkedAt: number;
  /** Status line and headers of a plain 200 keep-alive reply followed by the body, Date patched in place. */
  reply: Buffer | undefined;
  /** Offset of the Date value in `reply`, and the second it holds. */
  dateOffset: number;
  dateSecond: number;
}

/** Options of {@link FileCache}. */
export interface FileCacheOptions {
  /** Files up to this size are kept in memory and sent with send(2); larger ones with sendfile(2). */
  maxFileBytes?: number;
  /** Bytes of file content kept at most (default 16 MiB). */
  maxBytes?: number;
  /** Entries kept at most (default 1024). */
  maxEntries?: number;
  /** How long an entry is trusted before it is checked again with fstat (default 1000 ms; 0: every request). */
  validMs?: number;
}

/**
 * Files up to this size are served from memory: `epollkit bench http --sizes` measured memory 1.3-3.5x
 * sendfile per server-CPU-second from 612 B to 64 KiB, and sendfile ahead from 128 KiB on (1.7x at 128 KiB).
 */
export const DEFAULT_MAX_CACHED_FILE_BYTES = 64 * 1024;

/** Request target (without query and fragment) → file. */
export class FileCache {
  readonly maxFileBytes: number;
  readonly validMs: number;
  readonly #maxBytes: number;
  readonly #maxEntries: number;
  readonly #entries = new Map<string, CachedFile>();
  #bytes = 0;

  constructor(options: FileCacheOptions = {}) {
    this.maxFileBytes = options.maxFileBytes ?? DEFAULT_MAX_CACHED_FILE_BYTES;
    this.validMs = options.validMs ?? 1000;
    this.#maxBytes = options.maxBytes ?? 16 * 1024 * 1024;
    this.#maxEntries = options.maxEntries ?? 1024;
  }

  /** The entry for `key` if it was checked less than `validMs` ago (`now` from Date.now(), which the Date header needs anyway). */
  fresh(key: string, now: number): CachedFile | undefined {
    const entry = this.#entries.get(key);
    // A wall clock stepped back must not keep an entry fresh for longer than validMs.
    return entry !== undefined && now - entry.checkedAt < this.validMs && now >= entry.checkedAt ? entry : undefined;
  }

  /**
   * Records `key` → the file open as `fd` (stat `st`), reusing the cached bytes when size and mtime are
   * unchanged and reading them (small files only) otherwise. The caller keeps and closes `fd`.
   */
  update(key: string, meta: FileMeta, fd: number, st: Stats, now: number): CachedFile {
    const prior = this.#entries.get(key);
    if (prior !== undefined && prior.path === meta.path && prior.size === st.size && prior.mtimeMs === st.mtimeMs) {
      prior.checkedAt = now;
      return prior;
    }
    if (prior !== undefined) this.#drop(key, prior);
    let body: Buffer | undefined;
    if (st.size <= this.maxFileBytes) {
      body = Buffer.allocUnsafe(st.size);
      let n = 0;
      for (let r = 1; n < st.size && r > 0; n += r) r = readSync(fd, body, n, st.size - n, n);
      // A file truncated while we read is served as what we read; the next revalidation corrects it.
      if (n < st.size) body = body.subarray(0, n);
    }
    const entry: CachedFile = { ...meta, size: body?.length ?? meta.size, body, checkedAt: now, reply: undefined, dateOffset: 0, dateSecond: -1 };
    if (this.#entries.size >= this.#maxEntries) this.#evictOne();
    while (body !== undefined && this.#bytes + body.length > this.#maxBytes && this.#entries.size > 0) this.#evictOne();
    // A body the byte budget cannot hold is still known (validators, type), just not kept.
    if (body !== undefined && body.length > this.#maxBytes) entry.body = undefined;
    this.#bytes += entry.body?.length ?? 0;
    this.#entries.set(key, entry);
    return entry;
  }

  /** Forgets `key` (its file vanished or became something else). */
  delete(key: string): void {
    const entry = this.#entries.get(key);
    if (entry !== undefined) this.#drop(key, entry);
  }

  get size(): number {
    return this.#entries.size;
  }

  #evictOne(): void {
    const first = this.#entries.entries().next();
    if (!first.done) this.#drop(first.value[0], first.value[1]);
  }

  #drop(key: string, entry: CachedFile): void {
    this.#entries.delete(key);
    this.#bytes -= entry.body?.length ?? 0;
  }
}
