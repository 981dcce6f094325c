/**
 * A stateful session service (seed 004): each client has a running total on the server. It shows the
 * seed's ideas on the wire:
 * - **identifying clients** by *endpoint* (ip:port, or the TCP connection) or by a server-issued
 *   *handle*. An endpoint changes when a client rebinds or a NAT remaps it, and its state is lost; a
 *   handle survives that.
 * - **finite state**: a client's state expires after `ttlMs` without a request.
 * - **idempotence**: every request carries an id; a retried request (a lost reply, a duplicated
 *   datagram) is answered from a reply cache, not applied twice.
 *
 * Wire format (little-endian), the same over TCP (frames back to back) and UDP (one frame per datagram):
 * request, 16 bytes: `u8 version=1 | u8 op | u8 flags | u8 0 | u32 handle | u32 requestId | i32 value`;
 * reply, 16 bytes: `u8 version=1 | u8 status | u8 op | u8 0 | u32 handle | u32 requestId | i32 total`.
 * ops: OPEN 0 (issue a handle; reply's handle field), ADD 1 (total += value, wrapping int32), GET 2,
 * CLOSE 3 (forget the state). flags bit 0 (BY_HANDLE): identify the client by `handle`, else by endpoint.
 * status: OK 0, NO_STATE 1 (unknown or expired handle), BAD_REQUEST 2 (bad version or op), REPLAYED 3
 * (OK, answered from the reply cache). A TCP frame with a bad version closes the connection after the reply.
 * @module
 */
import { randomInt } from 'node:crypto';
import type { Protocol, Session, Transport } from './protocol';

export const SESSION_FRAME_BYTES = 16;
export const SessionOp = { OPEN: 0, ADD: 1, GET: 2, CLOSE: 3 } as const;
export const SessionStatus = { OK: 0, NO_STATE: 1, BAD_REQUEST: 2, REPLAYED: 3 } as const;
export const BY_HANDLE = 1;

/** A decoded request. */
export interface SessionRequest {
  version: number;
  op: number;
  flags: number;
  handle: number;
  requestId: number;
  value: number;
}

/** A decoded reply. */
export interface SessionReply {
  status: number;
  op: number;
  handle: number;
  requestId: number;
  total: number;
}

export function encodeSessionRequest(r: Omit<SessionRequest, 'version'> & { version?: number }): Buffer {
  const b = Buffer.alloc(SESSION_FRAME_BYTES);
  b.writeUInt8(r.version ?? 1, 0);
  b.writeUInt8(r.op & 0xff, 1);
  b.writeUInt8(r.flags & 0xff, 2);
  b.writeUInt32LE(r.handle >>> 0, 4);
  b.writeUInt32LE(r.requestId >>> 0, 8);
  b.writeInt32LE(r.value | 0, 12);
  return b;
}

export function decodeSessionRequest(b: Uint8Array, off = 0): SessionRequest {
  const v = Buffer.from(b.buffer, b.byteOffset + off, SESSION_FRAME_BYTES);
  return { version: v[0], op: v[1], flags: v[2], handle: v.readUInt32LE(4), requestId: v.readUInt32LE(8), value: v.readInt32LE(12) };
}

export function encodeSessionReply(r: SessionReply, into = Buffer.alloc(SESSION_FRAME_BYTES), off = 0): Buffer {
  into.writeUInt8(1, off);
  into.writeUInt8(r.status, off + 1);
  into.writeUInt8(r.op & 0xff, off + 2);
  into.writeUInt8(0, off + 3);
  into.writeUInt32LE(r.handle >>> 0, off + 4);
  into.writeUInt32LE(r.requestId >>> 0, off + 8);
  into.writeInt32LE(r.total | 0, off + 12);
  return into;
}

export function decodeSessionReply(b: Uint8Array, off = 0): SessionReply {
  const v = Buffer.from(b.buffer, b.byteOffset + off, SESSION_FRAME_BYTES);
  return { status: v[1], op: v[2], handle: v.readUInt32LE(4), requestId: v.readUInt32LE(8), total: v.readInt32LE(12) };
}

interface ClientState {
  total: number;
  handle: number;
  lastSeen: number;
  /** requestId -> reply, the most recent `replayWindow` of them. */
  replies: Map<number, SessionReply>;
}

/** Options of {@link SessionStore}. */
export interface SessionStoreOptions {
  /** State expires after this long without a request (default 60 s). */
  ttlMs?: number;
  /** Replies remembered per client for retries (default 64). */
  replayWindow?: number;
  /** Clients kept at most; the least recently seen is dropped beyond (default 100,000). */
  maxClients?: number;
  /** Clock in ms (default Date.now); tests move it. */
  now?: () => number;
}

/** The server-wide state: one per server, shared by its connections or datagrams. */
export class SessionStore {
  readonly #byEndpoint = new Map<string, ClientState>();
  readonly #byHandle = new Map<number, ClientState>();
  readonly #ttlMs: number;
  readonly #replayWindow: number;
  readonly #maxClients: number;
  readonly #now: () => number;
  /** Requests answered from the reply cache. */
  replayed = 0;

  constructor(options: SessionStoreOptions = {}) {
    this.#ttlMs = options.ttlMs ?? 60_000;
    this.#replayWindow = options.replayWindow ?? 64;
    this.#maxClients = options.maxClients ?? 100_000;
    this.#now = options.now ?? Date.now;
  }

  /** Live client states. */
  get size(): number {
    return this.#byEndpoint.size + this.#byHandle.size;
  }

  /** Answers one request from the client at `endpoint` (ip:port, or a connection's own id). */
  handle(request: SessionRequest, endpoint: string): SessionReply {
    const { op, requestId } = request;
    const now = this.#now();
    const reply = (status: number, handle: number, total: number): SessionReply => ({ status, op, handle, requestId, total });
    if (request.version !== 1 || op > SessionOp.CLOSE) return reply(SessionStatus.BAD_REQUEST, request.handle, 0);
    const byHandle = (request.flags & BY_HANDLE) !== 0;
    if (op === SessionOp.OPEN) {
      // OPEN is retried like any request: the same endpoint and id get the same handle back.
      const prior = this.#byEndpoint.get(`open:${endpoint}`);
      if (prior && prior.replies.has(requestId)) return this.#replay(prior, requestId);
      const state = this.#create(now, this.#newHandle());
      this.#byHandle.set(state.handle, state);
      const opened = reply(SessionStatus.OK, state.handle, 0);
      const marker: ClientState = { total: 0, handle: state.handle, lastSeen: now, replies: new Map([[requestId, opened]]) };
      this.#byEndpoint.set(`open:${endpoint}`, marker);
      return opened;
    }
    let state = byHandle ? this.#byHandle.get(request.handle) : this.#byEndpoint.get(endpoint);
    if (state && now - state.lastSeen > this.#ttlMs) {
      this.#forget(state, byHandle ? undefined : endpoint);
      state = undefined;
    }
    if (!state) {
      if (byHandle) return reply(SessionStatus.NO_STATE, request.handle, 0);
      state = this.#create(now, 0);
      this.#byEndpoint.set(endpoint, state);
    }
    state.lastSeen = now;
    if (state.replies.has(requestId)) return this.#replay(state, requestId);
    if (op === SessionOp.ADD) state.total = (state.total + request.value) | 0;
    const answer = reply(SessionStatus.OK, state.handle, state.total);
    if (op === SessionOp.CLOSE) this.#forget(state, byHandle ? undefined : endpoint);
    else this.#remember(state, requestId, answer);
    return answer;
  }

  /** Drops every state idle for longer than the TTL; servers call it from a timer. */
  sweep(): number {
    const now = this.#now();
    let dropped = 0;
    for (const map of [this.#byEndpoint, this.#byHandle] as Map<unknown, ClientState>[]) {
      for (const [key, state] of map) {
        if (now - state.lastSeen > this.#ttlMs) {
          map.delete(key);
          dropped++;
        }
      }
    }
    return dropped;
  }

  /** Forgets the endpoint-identified state of `endpoint` (a TCP connection that closed). */
  dropEndpoint(endpoint: string): void {
    this.#byEndpoint.delete(endpoint);
    this.#byEndpoint.delete(`open:${endpoint}`);
  }

  #create(now: number, handle: number): ClientState {
    if (this.size >= this.#maxClients) this.sweep();
    return { total: 0, handle, lastSeen: now, replies: new Map() };
  }

  #newHandle(): number {
    for (;;) {
      const handle = randomInt(1, 0xffffffff);
      if (!this.#byHandle.has(handle)) return handle;
    }
  }

  #replay(state: ClientState, requestId: number): SessionReply {
    this.replayed++;
    return { ...state.replies.get(requestId)!, status: SessionStatus.REPLAYED };
  }

  #remember(state: ClientState, requestId: number, answer: SessionReply): void {
    state.replies.set(requestId, answer);
    if (state.replies.size > this.#replayWindow) state.replies.delete(state.replies.keys().next().value!);
  }

  #forget(state: ClientState, endpoint: string | undefined): void {
    if (endpoint !== undefined) this.#byEndpoint.delete(endpoint);
    if (state.handle) this.#byHandle.delete(state.handle);
  }
}

let connectionIds = 0;

/**
 * The session protocol over a byte stream, with `store` shared by every connection of a server. A TCP
 * client identified by endpoint is its connection: its state ends with it.
 */
export function sessionProtocol(store: SessionStore): Protocol {
  return {
    name: 'session',
    // By endpoint: the state it creates ends with the rehearsal's connection.
    sample: encodeSessionRequest({ op: SessionOp.ADD, flags: 0, handle: 0, requestId: 1, value: 1 }),
    open(transport: Transport): Session {
      const endpoint = `conn:${++connectionIds}`;
      const partial = Buffer.alloc(SESSION_FRAME_BYTES);
      let have = 0;
      const answer = (frame: Uint8Array, off: number): boolean => {
        const request = decodeSessionRequest(frame, off);
        const reply = store.handle(request, endpoint);
        transport.write(encodeSessionReply(reply));
        if (reply.status === SessionStatus.BAD_REQUEST && request.version !== 1) {
          transport.close(); // the stream is out of step: nothing after this can be trusted
          return false;
        }
        return true;
      };
      return {
        onData(chunk) {
          let off = 0;
          if (have > 0) {
            const take = Math.min(SESSION_FRAME_BYTES - have, chunk.length);
            partial.set(chunk.subarray(0, take), have);
            have += take;
            off = take;
            if (have < SESSION_FRAME_BYTES) return;
            have = 0;
            if (!answer(partial, 0)) return;
          }
          for (; chunk.length - off >= SESSION_FRAME_BYTES; off += SESSION_FRAME_BYTES) if (!answer(chunk, off)) return;
          partial.set(chunk.subarray(off), 0);
          have = chunk.length - off;
        },
        onEnd: () => transport.close(),
        onClose: () => store.dropEndpoint(endpoint),
      };
    },
  };
}

/** The session service over datagrams: one request in, one reply out (or null for a runt datagram). */
export function sessionDatagram(store: SessionStore, datagram: Uint8Array, endpoint: string): Buffer | null {
  if (datagram.length !== SESSION_FRAME_BYTES) return null;
  return encodeSessionReply(store.handle(decodeSessionRequest(datagram), endpoint));
}

/** A fresh request id for a client (random start, so restarts do not collide with cached replies). */
export function firstRequestId(): number {
  return randomInt(1, 0x7fffffff);
}
