/**
 * The typed raw layer: one module per kernel facility, 1:1 with native/, no state and no policy.
 * @module
 */
export * from './epoll';
export * from './poll';
export * from './select';
export * from './socket';
export * from './process';
export * from './watch';
export * from './counters';
