// A Transport that records what a sans-IO session does: the protocol contract's own test double (no
// socket is imitated; the protocols never see one). Used by the property-based tests.
import type { Protocol, Session, Transport } from '../../lib/index';

export type Action =
  | { kind: 'write'; data: Buffer }
  | { kind: 'sendFile'; fd: number; offset: number; length: number }
  | { kind: 'end' }
  | { kind: 'close' };

export class Recorder implements Transport {
  readonly actions: Action[] = [];
  closed = false;

  write(data: Uint8Array): void {
    // Copied, as the contract says the transport must: the protocol may reuse its buffer after the call.
    if (!this.closed) this.actions.push({ kind: 'write', data: Buffer.from(data) });
  }

  sendFile(fd: number, offset: number, length: number, onDone?: (error?: Error) => void): void {
    this.actions.push({ kind: 'sendFile', fd, offset, length });
    onDone?.();
  }

  end(): void {
    this.actions.push({ kind: 'end' });
  }

  close(): void {
    this.closed = true;
    this.actions.push({ kind: 'close' });
  }

  /** Every byte written, in order. */
  written(): Buffer {
    return Buffer.concat(this.actions.flatMap((a) => (a.kind === 'write' ? [a.data] : [])));
  }
}

/**
 * Feeds `bytes` to a fresh session of `protocol`, cut at `cuts` (offsets, any order, duplicates allowed),
 * each piece in a buffer the test then scribbles over (as a server's shared read buffer would be);
 * stops at the first close, as a server does.
 */
export function feedInPieces(protocol: Protocol, bytes: Uint8Array, cuts: number[]): Recorder {
  const recorder = new Recorder();
  const session: Session = protocol.open(recorder);
  session.onOpen?.();
  const points = [...new Set(cuts.map((c) => Math.min(Math.max(0, c), bytes.length)))].sort((a, b) => a - b);
  let from = 0;
  for (const to of [...points, bytes.length]) {
    if (recorder.closed) break;
    if (to <= from) continue;
    const piece = Buffer.from(bytes.subarray(from, to));
    session.onData(piece);
    piece.fill(0xee);
    from = to;
  }
  session.onClose?.();
  return recorder;
}
