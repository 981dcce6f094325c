// The seed-001 calculator: reference vectors, framing across any split, and interoperation both ways
// with the seed's own C client and C server.
import { spawn, spawnSync } from 'node:child_process';
import { randomInt } from 'node:crypto';
import * as net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import * as k from '../../lib/index';
import { freePort } from '../../lib/lab/echo-bench';
import { buildC } from '../../lib/lab/tools';
import { CalcFrameReader, CalcOp, calculate, calculator, encodeCalcRequest } from '../../lib/protocols/calculator';

const INT_MIN = -2147483648;
const INT_MAX = 2147483647;

describe('calculate', () => {
  it.each([
    [CalcOp.ADD, 3, 4, 7],
    [CalcOp.SUB, 3, 4, -1],
    [CalcOp.MUL, -6, 7, -42],
    [CalcOp.DIV, 7, 2, 3],
    [CalcOp.DIV, -7, 2, -3], // truncation toward zero, as in C
    [CalcOp.ADD, INT_MAX, 1, INT_MIN], // wraps
    [CalcOp.SUB, INT_MIN, 1, INT_MAX],
    [CalcOp.MUL, 65536, 65536, 0],
    [CalcOp.MUL, INT_MAX, 2, -2],
    [CalcOp.DIV, INT_MIN, -1, INT_MIN], // SIGFPE in C; wraps here
    [CalcOp.DIV, 5, 0, 0], // defined: 0
    [99, 1, 2, 0], // unknown op: 0
  ])('op %i (%i, %i) = %i', (op, a, b, want) => {
    expect(calculate(op, a, b)).toBe(want);
  });
});

describe('CalcFrameReader', () => {
  it('reassembles frames from any split and coalescing', () => {
    for (let trial = 0; trial < 200; trial++) {
      const frames = Array.from({ length: randomInt(1, 20) }, () => [randomInt(0, 4), randomInt(-1000, 1000), randomInt(-1000, 1000)]);
      const wire = Buffer.concat(frames.map(([op, a, b]) => encodeCalcRequest(op, a, b)));
      const reader = new CalcFrameReader();
      const seen: number[][] = [];
      for (let off = 0; off < wire.length; ) {
        const n = randomInt(1, 30);
        reader.feed(wire.subarray(off, off + n), (op, a, b) => (seen.push([op, a, b]), true));
        off += n;
      }
      expect(seen).toEqual(frames);
      expect(reader.pending).toBe(0);
    }
  });
});

const loops: k.EventLoop[] = [];
afterEach(() => {
  for (const loop of loops.splice(0)) loop.close();
});

describe('interoperation with seed 001', () => {
  it('the seed C client, over a pipe, against the epollkit calculator server', async () => {
    const loop = new k.EventLoop().attach();
    loops.push(loop);
    const server = new k.ReactorServer({ loop, protocol: calculator });
    const client = buildC('seed001/client');
    const output = await new Promise<string>((resolve, reject) => {
      const child = spawn(client, [String(server.port)], { stdio: ['pipe', 'pipe', 'inherit'] });
      let out = '';
      child.stdout.on('data', (c) => (out += c));
      child.on('close', () => resolve(out));
      child.on('error', reject);
      child.stdin.end('add\n3, 4\nsub\n10, 15\nmul\n-6, 7\ndiv\n9, 0\n9, 2\nhelp\nadd\n2147483647, 1\nquit\n');
    });
    const results = [...output.matchAll(/result = (-?\d+)/g)].map((m) => Number(m[1]));
    expect(results).toEqual([7, -5, -42, 4, INT_MIN]);
    server.close();
  });

  it('the epollkit codec as client against the seed C server', async () => {
    const serverExe = buildC('seed001/server');
    const port = await freePort();
    const child = spawn(serverExe, [String(port)], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      await new Promise((resolve, reject) => {
        child.stdout!.once('data', resolve);
        child.once('exit', (code) => reject(new Error(`seed server exited with ${code}`)));
      });
      const requests = [
        [CalcOp.ADD, 3, 4],
        [CalcOp.MUL, INT_MAX, 2],
        [CalcOp.DIV, INT_MIN, -1],
        [CalcOp.DIV, 1, 0],
        [7, 1, 1],
      ];
      const replies = await new Promise<Buffer>((resolve, reject) => {
        const chunks: Buffer[] = [];
        const s = net.connect(port, '127.0.0.1', () => {
          // Coalesced on purpose: five requests in one segment, then QUIT.
          s.write(Buffer.concat([...requests.map(([o, a, b]) => encodeCalcRequest(o, a, b)), encodeCalcRequest(CalcOp.QUIT, 0, 0)]));
        });
        s.on('data', (c) => chunks.push(c));
        s.on('close', () => resolve(Buffer.concat(chunks)));
        s.on('error', reject);
      });
      const got = Array.from({ length: replies.length / 4 }, (_, i) => replies.readInt32LE(4 * i));
      expect(got).toEqual(requests.map(([o, a, b]) => calculate(o, a, b)));
    } finally {
      child.kill('SIGKILL');
      await new Promise((resolve) => child.once('exit', resolve));
    }
  });
});
