// Sending bodies: small files from the in-memory cache (one send), large ones with sendfile(2) (never read
// into memory), and a cached file revalidated by size and mtime. The addon's per-thread syscall counters
// tell which way a body went (the server runs on this thread's loop).
import { mkdtempSync, rmSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import * as k from '../../lib/index';
import { getHash, sha256 } from './slow-clients';

let loop: k.EventLoop;
let server: k.ReactorServer | undefined;
let root: string;

beforeEach(() => {
  root = mkdtempSync(path.join(os.tmpdir(), 'epollkit-cache-'));
  loop = new k.EventLoop({ selector: new k.EpollSelector({ trigger: 'edge' }) }).attach();
});

afterEach(async () => {
  await server?.close();
  server = undefined;
  loop.close();
  rmSync(root, { recursive: true, force: true });
});

const serve = (cache?: k.FileCacheOptions) => (server = new k.ReactorServer({ loop, protocol: k.httpStatic({ root, cache }) })).port;

describe('file cache and sendfile', () => {
  it(`sends a file up to ${k.DEFAULT_MAX_CACHED_FILE_BYTES} bytes from memory, a larger one with sendfile`, async () => {
    const small = Buffer.alloc(k.DEFAULT_MAX_CACHED_FILE_BYTES, 's');
    const large = Buffer.alloc(k.DEFAULT_MAX_CACHED_FILE_BYTES + 1, 'l');
    writeFileSync(path.join(root, 'small.txt'), small);
    writeFileSync(path.join(root, 'large.txt'), large);
    const port = serve();
    k.resetCounters();
    for (let i = 0; i < 3; i++) expect(await getHash(port, '/small.txt')).toEqual({ status: 200, sha256: sha256(small) });
    expect(k.readCounters().sendfile).toBe(0);
    for (let i = 0; i < 3; i++) expect(await getHash(port, '/large.txt')).toEqual({ status: 200, sha256: sha256(large) });
    expect(k.readCounters().sendfileBytes).toBe(3 * large.length);
  });

  it('maxFileBytes 0 sends everything with sendfile', async () => {
    writeFileSync(path.join(root, 'a.txt'), 'tiny');
    const port = serve({ maxFileBytes: 0 });
    k.resetCounters();
    expect(await getHash(port, '/a.txt')).toEqual({ status: 200, sha256: sha256('tiny') });
    expect(k.readCounters().sendfileBytes).toBe(4);
  });

  it('revalidates by size and mtime: a changed file is served new, a deleted one is 404', async () => {
    const file = path.join(root, 'page.html');
    writeFileSync(file, 'one');
    utimesSync(file, 1_000_000, 1_000_000);
    const port = serve({ validMs: 0 });
    expect(await getHash(port, '/page.html')).toEqual({ status: 200, sha256: sha256('one') });
    writeFileSync(file, 'two');
    utimesSync(file, 2_000_000, 2_000_000); // same size: only the mtime tells
    expect(await getHash(port, '/page.html')).toEqual({ status: 200, sha256: sha256('two') });
    writeFileSync(file, 'three, longer');
    expect(await getHash(port, '/page.html')).toEqual({ status: 200, sha256: sha256('three, longer') });
    unlinkSync(file);
    expect((await getHash(port, '/page.html')).status).toBe(404);
  });

  it('a large file that grows between requests is sent whole, as its fstat says (within the validity window)', async () => {
    const file = path.join(root, 'app.log');
    const first = Buffer.alloc(k.DEFAULT_MAX_CACHED_FILE_BYTES + 100, 'a');
    writeFileSync(file, first);
    const port = serve({ validMs: 60_000 });
    expect(await getHash(port, '/app.log')).toEqual({ status: 200, sha256: sha256(first) });
    const grown = Buffer.concat([first, Buffer.alloc(5000, 'b')]);
    writeFileSync(file, grown);
    expect(await getHash(port, '/app.log')).toEqual({ status: 200, sha256: sha256(grown) });
  });

  it('a query string names the same cached file', async () => {
    writeFileSync(path.join(root, 'style.css'), 'body{}');
    const port = serve();
    expect(await getHash(port, '/style.css?v=1')).toEqual({ status: 200, sha256: sha256('body{}') });
    expect(await getHash(port, '/style.css?v=2#x')).toEqual({ status: 200, sha256: sha256('body{}') });
  });
});
