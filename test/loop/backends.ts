// The four backends every loop test runs over.
import { EpollSelector, PollSelector, SelectSelector, type Selector } from '../../lib/index';

export interface Backend {
  name: string;
  make<T>(): Selector<T>;
}

export const backends: Backend[] = [
  { name: 'epoll-lt', make: () => new EpollSelector({ trigger: 'level' }) },
  { name: 'epoll-et', make: () => new EpollSelector({ trigger: 'edge' }) },
  { name: 'poll', make: () => new PollSelector() },
  { name: 'select', make: () => new SelectSelector() },
];
