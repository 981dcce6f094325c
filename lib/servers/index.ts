/**
 * Server models: which to pick, and why.
 *
 * Every model runs every protocol (echo, the seed-001 calculator, the seed-004 session service, static
 * HTTP) and shares one life cycle, after Python's socketserver: bind → listen → serve → accept →
 * `verifyRequest` → process → close, with `maxConnections`, `handleError` and a graceful `close()` (or an
 * AbortSignal) that lets replies in flight finish.
 *
 * - **iterative** (seed 000): one client at a time; the rest wait in the backlog. Right for a debugging
 *   aid or a protocol whose clients never overlap; one slow client stalls all.
 * - **forking** (seeds 001, 003): a process per connection — isolation (a crash costs one client) at
 *   the price of a fork per connection (about 1 ms of the parent at 50 MB RSS). Needs `node
 *   --single-threaded`; the CLI re-executes itself with it.
 * - **threading / thread-pool** (seed 002): a worker thread per connection, or N threads each with its own
 *   loop. Parallelism on several cores inside one process; a thread per connection pays a thread start.
 * - **coroutine** (seed 002, gevent): one async function per connection over the event loop — code that
 *   reads as if it blocked, the concurrency of a reactor.
 * - **busy-poll** (seed 002): nonblocking sockets scanned in a loop without a multiplexer; burns a core.
 *   Kept to be measured, not used.
 * - **select / poll / epoll-lt / epoll-et** (seeds 000, 002): one thread, one reactor, another multiplexer.
 *   select stops at fd 1023 and, like poll, costs a scan of every fd per wait; epoll costs per ready fd.
 *   Edge-triggered saves epoll_ctl calls and repeated reports at the price of draining to EAGAIN.
 * - **prefork** (seed 002's conclusion, nginx): N processes, each an epoll reactor, sharing the port
 *   (EPOLLEXCLUSIVE or SO_REUSEPORT). The model for using every core.
 * @module
 */
export * from './reactor';
export * from './multiplexing';
export * from './iterative';
export * from './busy-poll';
export * from './coroutine';
export * from './udp';
export { BlockingTransport, serveBlocking } from './blocking-transport';
export type { BlockingOutcome, BlockingTransportOptions, ServeBlockingOptions } from './blocking-transport';
export { ForkingServer } from './forking';
export type { ForkingServerOptions, ForkingStats } from './forking';
export { PreforkServer } from './prefork';
export type { PreforkServerOptions, PreforkStats, PreforkWorkerStats } from './prefork';
export * from './models';
export * from './threading';
export * from './thread-pool';
