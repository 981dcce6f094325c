// A real browser: headless Chromium (Debian's `chromium`, driven by playwright-core) loads the example site
// from `epollkit serve --model epoll-et --protocol http` and every resource — page, CSS, image, second
// page — arrives with 200 and the file's bytes. Fails, never skips, when Chromium is missing.
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { afterEach, describe, expect, it } from 'vitest';
import { htmlRoot, startCli, type CliServer } from '../servers/cli-server';
import { sha256 } from './slow-clients';

const executablePath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
let server: CliServer | undefined;
let browser: Browser | undefined;

afterEach(async () => {
  await browser?.close();
  await server?.stop();
  browser = undefined;
  server = undefined;
});

describe('headless Chromium', () => {
  it('loads the example site: every resource arrives with 200 and the right bytes', async () => {
    expect(existsSync(executablePath), `Chromium is needed at ${executablePath} (apt-get install chromium, or set CHROMIUM_PATH)`).toBe(true);
    server = await startCli('epoll-et', 'http');
    const base = `http://127.0.0.1:${server.port}`;
    // Chromium's sandbox cannot start as root. The browser is a peer, not under test: it starts without the
    // ASan run's LD_PRELOAD of libasan (which hangs it), while the server keeps it.
    const { LD_PRELOAD: _preload, ...env } = process.env;
    browser = await chromium.launch({ executablePath, env, args: process.getuid?.() === 0 ? ['--no-sandbox'] : [] });
    const page = await browser.newPage();
    // No browser cache: every resource must come from the server, so a 304 or a cached copy cannot hide one.
    await (await page.context().newCDPSession(page)).send('Network.setCacheDisabled', { cacheDisabled: true });
    const seen = new Map<string, { status: number; sha256: string }>();
    const failed: string[] = [];
    const bodies: Promise<void>[] = [];
    page.on('requestfailed', (r) => failed.push(`${r.url()}: ${r.failure()?.errorText}`));
    page.on('response', (r) => {
      const got = r.body().catch(() => Buffer.alloc(0));
      bodies.push(got.then((body) => void seen.set(new URL(r.url()).pathname, { status: r.status(), sha256: sha256(body) })));
    });
    const file = (p: string) => sha256(readFileSync(path.join(htmlRoot, p)));

    const first = await page.goto(`${base}/`, { waitUntil: 'load' });
    expect(first?.status()).toBe(200);
    expect(await page.title()).toMatch(/epollkit/);
    // The image decoded and the stylesheet applied: the browser accepted both.
    expect(await page.evaluate(() => (document.querySelector('header img') as HTMLImageElement).naturalWidth)).toBeGreaterThan(0);
    expect(await page.evaluate(() => document.styleSheets.length)).toBeGreaterThan(0);

    await Promise.all([page.waitForURL(`${base}/docs/`, { waitUntil: 'load' }), page.click('a[href="/docs/"]')]);
    await Promise.all([page.waitForURL(`${base}/docs/models.html`, { waitUntil: 'load' }), page.click('a[href="models.html"]')]);
    await page.waitForLoadState('networkidle');
    await Promise.all(bodies);

    expect(failed).toEqual([]);
    for (const [p, f] of [['/', 'index.html'], ['/style.css', 'style.css'], ['/img/logo.svg', 'img/logo.svg'], ['/docs/', 'docs/index.html'], ['/docs/models.html', 'docs/models.html']]) {
      expect(seen.get(p), p).toEqual({ status: 200, sha256: file(f) });
    }
    for (const [p, r] of seen) expect(r.status, p).toBe(200);
  });
});
