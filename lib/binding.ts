/**
 * The native module: loaded by node-gyp-build (a prebuild from prebuilds/ when one matches this platform
 * and ABI, else build/Release), and described by {@link Native}, the only untyped edge of the package.
 * @module
 */
import * as path from 'node:path';
import nodeGypBuild from 'node-gyp-build';

/** Peer or local address as the addon reports it (the shape of Node's `socket.address()`). */
export interface SocketAddress {
  family: 'IPv4' | 'IPv6' | 'unix';
  address: string;
  /** Absent for AF_UNIX. */
  port?: number;
}

/** What `waitpid` reports for a child that changed state. */
export interface WaitStatus {
  pid: number;
  /** The `_exit`/`exit` status, or null when a signal ended the child. */
  exitCode: number | null;
  /** The signal's name (`'SIGSEGV'`), or null after a normal exit. */
  signal: string | null;
  /** Present (true) for a WUNTRACED report of a stopped child. */
  stopped?: boolean;
}

type ErrorFactory = (message: string, code: string, errno: number, syscall: string) => Error;
type MisuseFactory = (message: string, code: string, kind: 'Error' | 'TypeError' | 'RangeError') => Error;

/** The addon's exports. Constants keep the kernel's spelling. */
export interface Native {
  setErrorFactories(system: ErrorFactory, misuse: MisuseFactory): void;
  readonly errno: Readonly<Record<string, number>>;

  readonly COUNTER_NAMES: readonly string[];
  countersRead(out: Float64Array): void;
  countersReset(): void;
  countersEnable(on?: boolean): boolean;

  epollCreate1(flags?: number): number;
  epollCtl(epfd: number, op: number, fd: number, events?: number, token?: number): void;
  epollWait(epfd: number, events: Int32Array, timeoutMs?: number): number;
  epollWaitRecv(epfd: number, events: Int32Array, timeoutMs: number, prefetch: Uint8Array, buffer: Uint8Array, slot: number): number;
  epollWaitRecvBind(events: Int32Array, prefetch: Uint8Array, buffer: Uint8Array): (epfd: number, timeoutMs: number, slot: number) => number;

  poll(fds: Int32Array, nfds?: number, timeoutMs?: number): number;
  select(
    readFds: Int32Array | null,
    writeFds: Int32Array | null,
    exceptFds: Int32Array | null,
    timeoutMs: number,
    readyCounts: Int32Array,
  ): number;

  socket(domain: number, type: number, protocol?: number): number;
  bind(fd: number, address: string, port?: number): number;
  connect(fd: number, address: string, port?: number): number;
  listen(fd: number, backlog?: number): void;
  accept4(fd: number, flags?: number, peer?: Partial<SocketAddress>): number;
  recv(fd: number, buffer: Uint8Array, offset?: number, length?: number, flags?: number): number;
  send(fd: number, buffer: Uint8Array, offset?: number, length?: number, flags?: number): number;
  recvfrom(fd: number, buffer: Uint8Array, offset?: number, length?: number, peer?: Partial<SocketAddress>): number;
  sendto(fd: number, buffer: Uint8Array, offset: number | undefined, length: number | undefined, address: string, port?: number): number;
  writev(fd: number, buffers: readonly Uint8Array[]): number;
  sendBatch(list: Int32Array, count: number, buffer: Uint8Array): number;
  sendBatchBind(list: Int32Array, buffer: Uint8Array): (count: number) => number;
  sendfile(outFd: number, inFd: number, offset: number, count: number): number;
  shutdown(fd: number, how?: number): void;
  close(fd: number): void;
  setsockopt(fd: number, level: number, name: number, value: number | boolean): void;
  getsockopt(fd: number, level: number, name: number): number;
  getsockname(fd: number): SocketAddress;
  getpeername(fd: number): SocketAddress;
  socketpair(domain?: number, type?: number): [number, number];
  getNonBlocking(fd: number): boolean;
  setNonBlocking(fd: number, on?: boolean): void;
  eventfd(initval?: number, flags?: number): number;
  eventfdRead(fd: number): number;
  eventfdWrite(fd: number, value?: number): number;

  fork(watch?: number): number;
  acceptFork(listenFd: number, watch: number, out: Int32Array, max: number, noDelay?: number): number;
  pidfdSupported(): boolean;
  reapEnded(watch: number, out: Int32Array): number;
  _exit(code?: number): never;
  waitpid(pid: number, options?: number): WaitStatus | null;
  kill(pid: number, signal?: number): void;
  getpid(): number;
  getppid(): number;
  readFull(fd: number, buffer: Uint8Array, offset?: number, length?: number, timeoutMs?: number): number;
  readSome(fd: number, buffer: Uint8Array, offset?: number, length?: number, timeoutMs?: number): number;
  writeAll(fd: number, buffer: Uint8Array, offset?: number, length?: number, timeoutMs?: number): number;

  watchStart(fd: number, callback: (events: number) => void): number;
  watchClose(id: number): void;
  watchRef(id: number, ref: boolean): void;
  ownFd(fd: number, owned?: boolean): void;

  readonly [constant: string]: unknown;
}

/** The package root: lib/ in the sources, dist/ once built; both sit one level below it. */
export const packageRoot: string = path.join(__dirname, '..');

/**
 * The loaded addon, shared by every module of this environment (thread). `EPOLLKIT_NATIVE=/abs/path/epollkit.node`
 * loads that file instead of asking node-gyp-build (scripts/test-asan.sh uses it for the sanitizer build).
 */
export const native: Native = (
  process.env.EPOLLKIT_NATIVE ? require(path.resolve(process.env.EPOLLKIT_NATIVE)) : nodeGypBuild(packageRoot)
) as Native;

/** A kernel constant by name, as a number (throws if the addon does not export it). */
export function constant(name: string): number {
  const value = native[name];
  if (typeof value !== 'number') throw new Error(`epollkit: the addon has no constant ${name}`);
  return value;
}
