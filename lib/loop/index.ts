/**
 * Event loops: the Selector contract and its backends, the EventLoop (blocking or attached to Node's
 * loop), timers, Connection and Listener.
 * @module
 */
export * from './selector';
export * from './epoll-selector';
export * from './poll-selector';
export * from './select-selector';
export * from './timers';
export * from './event-loop';
export * from './connection';
export * from './send-batch';
export * from './listener';
export * from './async-connection';
export * from './busy-poll-selector';
