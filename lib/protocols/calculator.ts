/**
 * The calculator of seed 001, wire-compatible with its C client and server: a request is
 * `struct Oper { int op; int op1; int op2; }` — 12 bytes, three little-endian int32 — and the reply one
 * little-endian int32. Ops: ADD 0, SUB 1, MUL 2, DIV 3, QUIT 4 (QUIT closes without a reply). Frames may
 * arrive split or coalesced; each complete frame is answered in order. Default port 7070.
 *
 * Answers the seed leaves undefined (its server computes them in C: overflow is undefined behaviour,
 * division by zero and INT32_MIN / -1 raise SIGFPE), defined here and never fatal:
 * - ADD, SUB and MUL wrap modulo 2^32 (two's complement), which is what the seed's server returns on x86-64;
 * - DIV truncates toward zero, like C; INT32_MIN / -1 wraps to INT32_MIN;
 * - division by zero replies 0 (the seed's client refuses to send it);
 * - an unknown op replies 0 and the connection stays open (the seed's client sends one after a typo).
 * @module
 */
import type { Protocol, Session, Transport } from './protocol';

export const CALC_PORT = 7070;
export const CalcOp = { ADD: 0, SUB: 1, MUL: 2, DIV: 3, QUIT: 4 } as const;
export const CALC_REQUEST_BYTES = 12;
export const CALC_REPLY_BYTES = 4;

/** The answer to one request (QUIT excluded), by the rules above. */
export function calculate(op: number, op1: number, op2: number): number {
  switch (op) {
    case CalcOp.ADD:
      return (op1 + op2) | 0;
    case CalcOp.SUB:
      return (op1 - op2) | 0;
    case CalcOp.MUL:
      return Math.imul(op1, op2);
    case CalcOp.DIV:
      return op2 === 0 ? 0 : (op1 / op2) | 0;
    default:
      return 0;
  }
}

/** Encodes a request frame. */
export function encodeCalcRequest(op: number, op1: number, op2: number): Buffer {
  const frame = Buffer.allocUnsafe(CALC_REQUEST_BYTES);
  frame.writeInt32LE(op | 0, 0);
  frame.writeInt32LE(op1 | 0, 4);
  frame.writeInt32LE(op2 | 0, 8);
  return frame;
}

/**
 * Reassembles 12-byte frames from arbitrary chunks and calls `onFrame(op, op1, op2)` for each; returns
 * false from `onFrame` to stop (QUIT). Keeps at most 11 bytes between calls.
 */
export class CalcFrameReader {
  readonly #partial = Buffer.alloc(CALC_REQUEST_BYTES);
  #have = 0;
  #stopped = false;

  feed(chunk: Uint8Array, onFrame: (op: number, op1: number, op2: number) => boolean): void {
    let off = 0;
    while (off < chunk.length && !this.#stopped) {
      if (this.#have === 0 && chunk.length - off >= CALC_REQUEST_BYTES) {
        const view = Buffer.from(chunk.buffer, chunk.byteOffset + off, CALC_REQUEST_BYTES);
        off += CALC_REQUEST_BYTES;
        this.#stopped = !onFrame(view.readInt32LE(0), view.readInt32LE(4), view.readInt32LE(8));
        continue;
      }
      const take = Math.min(CALC_REQUEST_BYTES - this.#have, chunk.length - off);
      this.#partial.set(chunk.subarray(off, off + take), this.#have);
      this.#have += take;
      off += take;
      if (this.#have === CALC_REQUEST_BYTES) {
        this.#have = 0;
        const p = this.#partial;
        this.#stopped = !onFrame(p.readInt32LE(0), p.readInt32LE(4), p.readInt32LE(8));
      }
    }
  }

  /** Bytes of an incomplete frame waiting for the rest. */
  get pending(): number {
    return this.#have;
  }
}

/** The calculator protocol. */
export const calculator: Protocol = {
  name: 'calc',
  sample: encodeCalcRequest(CalcOp.ADD, 3, 4),
  open(transport: Transport): Session {
    const reader = new CalcFrameReader();
    // Replies of one chunk go out in one write: a client that pipelines gets one segment, not many.
    let replies = Buffer.allocUnsafe(64 * CALC_REPLY_BYTES);
    return {
      onData(chunk) {
        let n = 0;
        let quit = false;
        reader.feed(chunk, (op, op1, op2) => {
          if (op === CalcOp.QUIT) {
            quit = true;
            return false;
          }
          if ((n + 1) * CALC_REPLY_BYTES > replies.length) {
            const grown = Buffer.allocUnsafe(replies.length * 2);
            replies.copy(grown, 0, 0, n * CALC_REPLY_BYTES);
            replies = grown;
          }
          replies.writeInt32LE(calculate(op, op1, op2), n++ * CALC_REPLY_BYTES);
          return true;
        });
        if (n > 0) transport.write(replies.subarray(0, n * CALC_REPLY_BYTES));
        if (quit) transport.close();
      },
      // A client that half-closes mid-frame gets its complete answers; the fragment is dropped.
      onEnd: () => transport.close(),
    };
  },
};
