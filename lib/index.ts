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
export * from './protocols/http/file-cache';
export { contentType, MIME_TYPES } from './protocols/http/mime';
export * from './protocols/index';
export * from './servers/index';
export { runEtVsLt, type EtVsLtOptions, type EtVsLtResults, type EtVsLtRow } from './lab/et-vs-lt';
export { runScaling, type ScalingOptions, type ScalingResults, type ScalingRow } from './lab/scaling';
export { runHerd, type HerdOptions, type HerdResults, type HerdRow } from './lab/herd';
export type { LabProgress, LabReport } from './lab/report';
