// Raw-socket clients for the HTTP tests: a slowloris, and a plain GET whose body is checked by hash.
import { createHash } from 'node:crypto';
import * as http from 'node:http';
import * as net from 'node:net';

/** How a slowloris connection ended: the bytes it got back, and whether the server ended or reset it. */
export interface SlowlorisOutcome {
  received: string;
  how: 'end' | 'reset';
  bytesSent: number;
}

/**
 * Opens a request head and never finishes it: one more header byte every `intervalMs`, for as long as the
 * server keeps the connection. Resolves when the server closes it; `signal` stops it (and rejects).
 */
export function slowloris(port: number, intervalMs: number, signal: AbortSignal): Promise<SlowlorisOutcome> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    let received = '';
    let bytesSent = 0;
    let timer: NodeJS.Timeout | undefined;
    const drip = (): void => {
      if (s.destroyed || !s.writable) return;
      s.write(bytesSent === 0 ? 'GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ' : 'a');
      bytesSent++;
      timer = setTimeout(drip, intervalMs);
    };
    const finish = (how: 'end' | 'reset'): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      s.destroy();
      resolve({ received, how, bytesSent });
    };
    const onAbort = (): void => {
      clearTimeout(timer);
      s.destroy();
      reject(new Error(`the server kept the slowloris connection (${bytesSent} writes)`));
    };
    signal.addEventListener('abort', onAbort, { once: true });
    s.on('connect', drip);
    s.on('data', (c) => (received += c.toString('latin1')));
    s.on('end', () => finish('end'));
    s.on('error', () => finish('reset'));
  });
}

/** GET `path` on a fresh connection; resolves with the status and the body's sha256. */
export function getHash(port: number, path: string): Promise<{ status: number; sha256: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
        const hash = createHash('sha256');
        res.on('data', (c) => hash.update(c));
        res.on('end', () => resolve({ status: res.statusCode!, sha256: hash.digest('hex') }));
      })
      .on('error', reject);
  });
}

/** sha256 of bytes, hex. */
export function sha256(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}
