// Property-based tests of the calculator and session codecs (fast-check): arbitrary frames, split and
// coalesced arbitrarily, never throw and get the same replies as when they arrive in one piece.
import fc from 'fast-check';
import { fuzzRuns, fuzzTimeoutMs } from '../helpers/fuzz';
import { describe, expect, it } from 'vitest';
import * as k from '../../lib/index';
import { feedInPieces } from './recorder';

const RUNS = 300;
const int32 = fc.integer({ min: -0x80000000, max: 0x7fffffff });
const cuts = (max: number) => fc.array(fc.nat({ max }), { maxLength: 12 });

describe('calculator codec', () => {
  const frame = fc.tuple(fc.oneof(fc.integer({ min: -1, max: 6 }), int32), int32, int32);
  it('replies are the same however the frames are cut, and are the defined answers', () => {
    fc.assert(
      fc.property(fc.array(frame, { maxLength: 30 }), fc.uint8Array({ maxLength: 11 }), cuts(400), (frames, tail, at) => {
        const bytes = Buffer.concat([...frames.map(([op, a, b]) => k.encodeCalcRequest(op, a, b)), tail]);
        const whole = feedInPieces(k.calculator, bytes, []);
        const pieces = feedInPieces(k.calculator, bytes, at);
        expect(pieces.written()).toEqual(whole.written());
        expect(pieces.closed).toBe(whole.closed);
        // And the answers are the defined ones: one int32 per frame up to the first QUIT.
        const quit = frames.findIndex(([op]) => op === k.CalcOp.QUIT);
        const answered = quit < 0 ? frames : frames.slice(0, quit);
        const expected = Buffer.alloc(4 * answered.length);
        answered.forEach(([op, a, b], i) => expected.writeInt32LE(k.calculate(op, a, b), 4 * i));
        expect(whole.written()).toEqual(expected);
      }),
      fuzzRuns(RUNS),
    );
  }, fuzzTimeoutMs);
});

describe('session codec', () => {
  const request = fc.record({
    version: fc.oneof({ weight: 8, arbitrary: fc.constant(1) }, { weight: 1, arbitrary: fc.nat({ max: 255 }) }),
    op: fc.oneof({ weight: 8, arbitrary: fc.integer({ min: 0, max: 3 }) }, { weight: 1, arbitrary: fc.nat({ max: 255 }) }),
    flags: fc.nat({ max: 3 }),
    handle: fc.oneof(fc.nat({ max: 3 }), fc.nat({ max: 0xffffffff })),
    requestId: fc.nat({ max: 20 }), // small, so that retries (replays) happen
    value: int32,
  });
  // An OPEN reply carries a random handle: compare replies with it masked.
  const masked = (replies: Buffer): Buffer => {
    const copy = Buffer.from(replies);
    for (let off = 0; off + 16 <= copy.length; off += 16) if (copy[off + 2] === k.SessionOp.OPEN) copy.fill(0, off + 4, off + 8);
    return copy;
  };
  it('replies are the same however the frames are cut', () => {
    fc.assert(
      fc.property(fc.array(request, { maxLength: 30 }), fc.uint8Array({ maxLength: 15 }), cuts(600), (requests, tail, at) => {
        const bytes = Buffer.concat([...requests.map((r) => k.encodeSessionRequest(r)), tail]);
        const fixedClock = { now: () => 1_000_000 };
        const whole = feedInPieces(k.sessionProtocol(new k.SessionStore(fixedClock)), bytes, []);
        const pieces = feedInPieces(k.sessionProtocol(new k.SessionStore(fixedClock)), bytes, at);
        expect(masked(pieces.written())).toEqual(masked(whole.written()));
        expect(pieces.closed).toBe(whole.closed);
        // One 16-byte reply per frame, up to and including the first frame of a bad version (then it closes).
        const bad = requests.findIndex((r) => r.version !== 1);
        expect(whole.written().length).toBe(16 * (bad < 0 ? requests.length : bad + 1));
      }),
      fuzzRuns(RUNS),
    );
  }, fuzzTimeoutMs);
});
