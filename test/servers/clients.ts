// Real clients for each protocol: each resolves to true when every byte that came back is right.
import { createHash, randomBytes, randomInt } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import * as k from '../../lib/index';

function exchange(port: number, send: (s: net.Socket) => void): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const s = net.connect(port, '127.0.0.1', () => send(s));
    s.on('data', (c) => chunks.push(c));
    s.on('close', () => resolve(Buffer.concat(chunks)));
    s.on('error', reject);
    s.setTimeout(20_000, () => s.destroy(new Error('client timed out')));
  });
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

export async function echoClient(port: number): Promise<boolean> {
  const data = randomBytes(64 * 1024);
  return sha(await exchange(port, (s) => s.end(data))) === sha(data);
}

export async function calcClient(port: number): Promise<boolean> {
  const requests = Array.from({ length: 100 }, () => [randomInt(0, 5) === 4 ? 0 : randomInt(0, 4), randomInt(-1e9, 1e9), randomInt(-1000, 1000)]);
  const wire = Buffer.concat([...requests.map(([o, a, b]) => k.encodeCalcRequest(o, a, b)), k.encodeCalcRequest(k.CalcOp.QUIT, 0, 0)]);
  const reply = await exchange(port, async (s) => {
    // Split at awkward places so frames straddle reads.
    for (let off = 0; off < wire.length; off += 100) s.write(wire.subarray(off, off + 100));
  });
  const want = Buffer.alloc(4 * requests.length);
  requests.forEach(([o, a, b], i) => want.writeInt32LE(k.calculate(o, a, b), 4 * i));
  return reply.equals(want);
}

export async function sessionClient(port: number): Promise<boolean> {
  const values = Array.from({ length: 50 }, () => randomInt(-1000, 1000));
  const frames = values.map((value, i) => k.encodeSessionRequest({ op: k.SessionOp.ADD, flags: 0, handle: 0, requestId: i + 1, value }));
  // The last request is sent twice: the retry must be answered from the cache, not added again.
  frames.push(frames[frames.length - 1]);
  const reply = await exchange(port, (s) => s.end(Buffer.concat(frames)));
  if (reply.length !== 16 * frames.length) return false;
  let total = 0;
  for (let i = 0; i < values.length; i++) {
    total = (total + values[i]) | 0;
    if (k.decodeSessionReply(reply, 16 * i).total !== total) return false;
  }
  const retry = k.decodeSessionReply(reply, 16 * values.length);
  return retry.status === k.SessionStatus.REPLAYED && retry.total === total;
}

export function httpClient(root: string): (port: number) => Promise<boolean> {
  const files = ['/', '/style.css', '/img/logo.svg', '/docs/models.html'];
  return async (port) => {
    const file = files[randomInt(0, files.length)];
    const body = readFileSync(path.join(root, file === '/' ? 'index.html' : file));
    const reply = await exchange(port, (s) => s.write(`GET ${file} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n`));
    const split = reply.indexOf('\r\n\r\n');
    return reply.subarray(0, 15).toString() === 'HTTP/1.1 200 OK' && reply.subarray(split + 4).equals(body);
  };
}

/** Runs `count` clients, `concurrency` at a time; returns how many failed. */
export async function runClients(count: number, concurrency: number, client: () => Promise<boolean>): Promise<number> {
  let next = 0;
  let failed = 0;
  const lane = async (): Promise<void> => {
    while (next < count) {
      next++;
      if (!(await client().catch(() => false))) failed++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
  return failed;
}
