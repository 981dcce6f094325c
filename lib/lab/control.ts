/**
 * A lab's server or worker in a process of its own, driven by one-byte commands written to its fd 0 and
 * answered by JSON lines on its fd 1 (see lab-server.ts and herd-worker.ts). Its first line names its
 * port and pid: `listening PORT PID` or `ready PORT PID`.
 * @module
 */
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { createInterface } from 'node:readline';

/** A child process speaking the labs' command protocol. */
export class ControlledProcess {
  readonly child: ChildProcess;
  /** From the first line: the port it serves and its pid (the traced process under strace). */
  port = 0;
  pid = 0;
  readonly #lines: string[] = [];
  readonly #waiters: ((line: string | undefined) => void)[] = [];
  #ended = false;
  readonly #exited: Promise<void>;

  private constructor(argv: string[], extraFds: number[]) {
    const stdio: StdioOptions = ['pipe', 'pipe', 'inherit', ...extraFds];
    this.child = spawn(argv[0], argv.slice(1), { stdio });
    this.#exited = new Promise((resolve) => this.child.once('close', () => resolve()));
    const lines = createInterface({ input: this.child.stdout! });
    lines.on('line', (line) => {
      const waiter = this.#waiters.shift();
      if (waiter) waiter(line);
      else this.#lines.push(line);
    });
    lines.on('close', () => {
      this.#ended = true;
      for (const waiter of this.#waiters.splice(0)) waiter(undefined);
    });
    this.child.stdin!.on('error', () => {}); // a child that has exited: its next line() reports it
  }

  /** Starts `argv` (with `extraFds` as its fds 3, 4...) and waits for its first line. */
  static async start(argv: string[], extraFds: number[] = []): Promise<ControlledProcess> {
    const p = new ControlledProcess(argv, extraFds);
    try {
      const first = await p.line(30_000);
      const m = /^(?:listening|ready) (\d+) (\d+)/.exec(first);
      if (!m) throw new Error(`unexpected first line from ${argv.join(' ')}: ${first}`);
      p.port = Number(m[1]);
      p.pid = Number(m[2]);
      return p;
    } catch (error) {
      await p.kill();
      throw error;
    }
  }

  /** The next line it prints; rejects if it exits first or after `timeoutMs`. */
  line(timeoutMs = 60_000): Promise<string> {
    const queued = this.#lines.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    if (this.#ended) return Promise.reject(new Error(`process ${this.child.pid} exited (${this.child.exitCode})`));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
        reject(new Error(`no answer from process ${this.child.pid} in ${timeoutMs} ms`));
      }, timeoutMs);
      const waiter = (line: string | undefined): void => {
        clearTimeout(timer);
        if (line === undefined) reject(new Error(`process ${this.child.pid} exited (${this.child.exitCode})`));
        else resolve(line);
      };
      this.#waiters.push(waiter);
    });
  }

  /** Sends a one-byte command and returns its JSON answer. */
  async command<T = unknown>(c: string, timeoutMs?: number): Promise<T> {
    this.child.stdin!.write(c);
    return JSON.parse(await this.line(timeoutMs)) as T;
  }

  /** Resolves when the process has exited and its pipes are closed. */
  exited(): Promise<void> {
    return this.#exited;
  }

  /** Sends `command` (one that makes it exit) and waits; SIGKILL if it has not exited after `timeoutMs`. */
  async stop(command: string, timeoutMs = 3000): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return this.#exited;
    this.child.stdin!.end(command);
    const timer = setTimeout(() => void this.kill(), timeoutMs);
    await this.#exited;
    clearTimeout(timer);
  }

  /** SIGKILL unless it has exited; waits for it. */
  async kill(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
    await this.#exited;
  }
}
