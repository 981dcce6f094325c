// Every test ends with a leak check, as libuv's do: the same open fds as before it, and no zombie children.
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, expect } from 'vitest';
import { openFds, zombieChildren } from '../helpers/proc';

let before: Map<number, string>;

beforeEach(() => {
  before = openFds();
});

afterEach(async () => {
  // Node closes some handles (a child's stdio pipes, a socket after 'close') one loop turn later.
  let leaked: string[] = [];
  for (let attempt = 0; attempt < 20; attempt++) {
    const now = openFds();
    leaked = [...now].filter(([fd, target]) => before.get(fd) !== target).map(([fd, t]) => `${fd} -> ${t}`);
    if (leaked.length === 0 && zombieChildren().length === 0) return;
    await sleep(25);
  }
  expect(leaked, 'fds opened by the test and not closed').toEqual([]);
  expect(zombieChildren(), 'unreaped children').toEqual([]);
});
