// The attached loop inside a worker thread, and a worker that ends without closing it.
import * as net from 'node:net';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';

const dist = path.resolve(__dirname, '../../dist/index.js');

function startWorker(source: string): Worker {
  return new Worker(source, { eval: true, workerData: { dist } });
}

function once<T>(worker: Worker, event: string): Promise<T> {
  return new Promise((resolve, reject) => {
    worker.once(event, resolve);
    if (event !== 'error') worker.once('error', reject);
  });
}

function echoOnce(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.end(text));
    let got = '';
    socket.on('data', (c) => (got += c));
    socket.on('close', () => resolve(got));
    socket.on('error', reject);
  });
}

const serveInWorker = `
  const { parentPort, workerData } = require('node:worker_threads');
  const k = require(workerData.dist);
  const loop = new k.EventLoop().attach();
  const server = new k.ReactorServer({ loop, protocol: k.echo });
  parentPort.postMessage(server.port);
  parentPort.on('message', (m) => {
    if (m === 'close') { loop.close(); parentPort.close(); }
    if (m === 'exit') process.exit(0);
  });
`;

describe('attached loop in a worker thread', () => {
  it('serves from the worker and closes cleanly', async () => {
    const worker = startWorker(serveInWorker);
    const port = await once<number>(worker, 'message');
    expect(await echoOnce(port, 'from the main thread')).toBe('from the main thread');
    worker.postMessage('close');
    expect(await once<number>(worker, 'exit')).toBe(0);
  });

  it('survives a worker that exits with its loop open', async () => {
    const worker = startWorker(serveInWorker);
    const port = await once<number>(worker, 'message');
    expect(await echoOnce(port, 'x')).toBe('x');
    worker.postMessage('exit');
    expect(await once<number>(worker, 'exit')).toBe(0);
    // The listener went with the worker's environment: the port refuses now.
    await expect(echoOnce(port, 'y')).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });

  it('survives terminate() of a worker blocked in nothing but its attached loop', async () => {
    const worker = startWorker(serveInWorker);
    await once<number>(worker, 'message');
    expect(await worker.terminate()).toBe(1);
  });
});
