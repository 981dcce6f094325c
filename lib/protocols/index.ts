/**
 * Protocols by name. A protocol is a JS object, which cannot cross into a worker thread: models that
 * run protocols on other threads take a {@link ProtocolSpec} — plain data — and rebuild the protocol
 * there with {@link protocolFromSpec}.
 * @module
 */
import { calculator } from './calculator';
import { echo } from './echo';
import { httpStatic } from './http/static';
import type { Protocol } from './protocol';
import { SessionStore, sessionProtocol, type SessionStoreOptions } from './session';

/** The protocols every model runs, as data. */
export type ProtocolSpec =
  | { name: 'echo' }
  | { name: 'calc' }
  | { name: 'session'; store?: SessionStoreOptions }
  | { name: 'http'; root: string; accessLog?: boolean; headerTimeoutMs?: number };

/** The names of the protocols. */
export const PROTOCOL_NAMES = ['echo', 'calc', 'session', 'http'] as const;

/** Builds the protocol a spec names (a session protocol gets a store of its own). */
export function protocolFromSpec(spec: ProtocolSpec): Protocol {
  switch (spec.name) {
    case 'echo':
      return echo;
    case 'calc':
      return calculator;
    case 'session':
      return sessionProtocol(new SessionStore(spec.store));
    case 'http':
      return httpStatic({
        root: spec.root,
        accessLog: spec.accessLog ? (line) => process.stdout.write(line + '\n') : undefined,
        headerTimeoutMs: spec.headerTimeoutMs,
      });
    default:
      throw new TypeError(`unknown protocol ${JSON.stringify(spec)}`);
  }
}
