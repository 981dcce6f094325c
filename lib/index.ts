/**
 * epollkit: Linux readiness I/O (epoll level- and edge-triggered, poll, select), nonblocking sockets,
 * and a fork that is safe inside Node.
 * @packageDocumentation
 */
export * from './errors';
export * from './sys/index';
export type { SocketAddress, WaitStatus } from './binding';
export * from './loop/index';
export * from './protocols/protocol';
export { echo } from './protocols/echo';
export * from './protocols/calculator';
export * from './protocols/session';
export * from './protocols/http/parser';
export * from './protocols/http/static';
export { contentType, MIME_TYPES } from './protocols/http/mime';
export * from './protocols/index';
export * from './servers/index';
