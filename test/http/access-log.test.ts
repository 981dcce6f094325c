// The access log: off by default; with --access-log one Common Log Format line per response on stdout,
// carrying the peer's address — from the reactor and from a forked child alike.
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it } from 'vitest';
import { startCli, type CliServer } from '../servers/cli-server';
import { getHash } from './slow-clients';

let server: CliServer | undefined;

afterEach(async () => {
  await server?.stop();
  server = undefined;
});

/** The next `n` lines the server prints after its banner. */
function nextLines(s: CliServer, n: number): Promise<string[]> {
  const lines: string[] = [];
  const reader = createInterface({ input: s.child.stdout! });
  return new Promise((resolve) => {
    reader.on('line', (line) => {
      lines.push(line);
      if (lines.length === n) {
        reader.close();
        resolve(lines);
      }
    });
  });
}

// host ident authuser [day/Mon/year:hh:mm:ss zone] "request line" status bytes
const CLF = /^127\.0\.0\.1 - - \[\d\d\/[A-Z][a-z]{2}\/\d{4}:\d\d:\d\d:\d\d \+0000\] "GET \/(nope)? HTTP\/1\.1" (200|404) (\d+|-)$/;

describe('access log', () => {
  it.each(['epoll-et', 'forking'])('%s: Common Log Format lines with the peer address', async (model) => {
    server = await startCli(model, 'http', ['--access-log']);
    const lines = nextLines(server, 2);
    expect((await getHash(server.port, '/')).status).toBe(200);
    expect((await getHash(server.port, '/nope')).status).toBe(404);
    const [ok, missing] = await lines;
    expect(ok).toMatch(CLF);
    expect(ok).toMatch(/" 200 \d+$/);
    expect(missing).toMatch(CLF);
    expect(missing).toMatch(/"GET \/nope HTTP\/1\.1" 404 \d+$/);
  });

  it('is off by default', async () => {
    server = await startCli('epoll-et', 'http');
    let printed = '';
    server.child.stdout!.on('data', (c) => (printed += c));
    expect((await getHash(server.port, '/')).status).toBe(200);
    await server.stop();
    expect(printed).toBe('');
  });
});
