/**
 * epollkit: Linux readiness I/O (epoll level- and edge-triggered, poll, select), nonblocking sockets,
 * and a fork that is safe inside Node.
 * @packageDocumentation
 */
export * from './errors';
export * from './sys/index';
export type { SocketAddress, WaitStatus } from './binding';
