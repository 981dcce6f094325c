/**
 * `epollkit client echo|calc|session [host] [port]`: line-driven clients for the protocols `epollkit serve`
 * runs. At a terminal they prompt (readline); over a pipe they read lines until end of input, print only
 * answers, and exit 0. Bad input is reported on stderr and the client carries on; a server that cannot be
 * reached or that goes away mid-request is an error (exit code 1).
 * @module
 */
import { once } from 'node:events';
import * as net from 'node:net';
import { createInterface } from 'node:readline';
import { Argument, type Command } from 'commander';
import { CALC_PORT, CALC_REPLY_BYTES, CalcOp, encodeCalcRequest } from '../protocols/calculator';
import {
  BY_HANDLE,
  SESSION_FRAME_BYTES,
  SessionOp,
  SessionStatus,
  decodeSessionReply,
  encodeSessionRequest,
  firstRequestId,
} from '../protocols/session';

/** One connection asked one question at a time: send a request, wait for exactly so many reply bytes. */
class Peer {
  #received = Buffer.alloc(0);
  #waiting: { bytes: number; resolve: (reply: Buffer) => void; reject: (error: Error) => void } | undefined;
  #gone: Error | undefined;

  constructor(readonly socket: net.Socket) {
    socket.on('data', (chunk) => {
      this.#received = Buffer.concat([this.#received, chunk]);
      this.#settle();
    });
    // Kept for the socket's life: a write to a vanished server must become a message, not an uncaught error.
    socket.on('error', (error) => this.#fail(error));
    socket.on('close', () => this.#fail(new Error('the server closed the connection')));
  }

  ask(request: Uint8Array, replyBytes: number): Promise<Buffer> {
    if (this.#gone) return Promise.reject(this.#gone);
    this.socket.write(request);
    return new Promise((resolve, reject) => {
      this.#waiting = { bytes: replyBytes, resolve, reject };
      this.#settle();
    });
  }

  /** Sends `last` (if any), half-closes and waits for the server to close too. */
  async end(last?: Uint8Array): Promise<void> {
    if (this.#gone) return;
    const closed = once(this.socket, 'close');
    if (last) this.socket.end(last);
    else this.socket.end();
    await closed;
  }

  #settle(): void {
    const waiting = this.#waiting;
    if (!waiting || this.#received.length < waiting.bytes) return;
    this.#waiting = undefined;
    waiting.resolve(this.#received.subarray(0, waiting.bytes));
    this.#received = this.#received.subarray(waiting.bytes);
  }

  #fail(error: Error): void {
    this.#gone ??= error;
    const waiting = this.#waiting;
    this.#waiting = undefined;
    waiting?.reject(this.#gone);
  }
}

async function connect(host: string, port: number): Promise<Peer> {
  const socket = net.connect({ host, port });
  try {
    await once(socket, 'connect');
  } catch (error) {
    const { code, message } = error as NodeJS.ErrnoException;
    throw new Error(`cannot connect to ${host}:${port}: ${code ?? message}`);
  }
  socket.setNoDelay(true);
  return new Peer(socket);
}

/** A line handler: `false` ends the session; `prompt` changes the prompt shown next at a terminal. */
interface Shell {
  prompt: string;
  /** Gets each line as typed (echo sends blanks and spaces too; the others trim). */
  onLine(line: string): Promise<boolean | void>;
  /** At end of input (not after `quit`). */
  onEnd(): Promise<void>;
}

/** Feeds stdin's lines to `shell` one at a time, each after the previous one's reply. */
async function runShell(shell: Shell, banner: string): Promise<void> {
  const tty = process.stdin.isTTY === true;
  const lines = createInterface({ input: process.stdin, output: tty ? process.stdout : undefined, terminal: tty });
  if (tty) {
    process.stdout.write(`${banner}\n`);
    lines.setPrompt(shell.prompt);
    lines.prompt();
  }
  let quit = false;
  try {
    for await (const line of lines) {
      if ((await shell.onLine(line)) === false) {
        quit = true;
        break;
      }
      if (tty) {
        lines.setPrompt(shell.prompt);
        lines.prompt();
      }
    }
    if (!quit) await shell.onEnd();
  } finally {
    lines.close();
    process.stdin.destroy(); // stdin is done with, even when `quit` came before its end
  }
}

const complain = (message: string): void => void process.stderr.write(`${message}\n`);

/** Parses `3, 4` (or `3 4`) into two int32 operands, or returns an error message. */
function parseOperands(text: string): [number, number] | string {
  const m = /^([+-]?\d+)\s*(?:,\s*|\s+)([+-]?\d+)$/.exec(text.trim());
  if (!m) return `operands look like "3, 4", not "${text}"`;
  const [a, b] = [Number(m[1]), Number(m[2])];
  if ((a | 0) !== a || (b | 0) !== b) return `operands must be 32-bit integers (-2147483648 to 2147483647)`;
  return [a, b];
}

const CALC_OPS: Record<string, number> = { add: CalcOp.ADD, sub: CalcOp.SUB, mul: CalcOp.MUL, div: CalcOp.DIV };
const CALC_HELP = 'cmd: add sub mul div help quit  (operands: "add 3, 4", or "add" then "3, 4")';

/** Seed 001's interactive client: add, sub, mul, div, help, quit; operands typed as `3, 4`; `result = 7`. */
function calcShell(peer: Peer): Shell {
  let pending: number | undefined; // an op typed alone, waiting for its operands on the next line
  const shell: Shell = {
    prompt: 'calc> ',
    async onLine(typed) {
      const line = typed.trim();
      if (line === '') return;
      // A line that starts with a letter is a command, also in place of awaited operands.
      let op = /^[a-z]/i.test(line) ? undefined : pending;
      let operands = line;
      if (op === undefined) {
        [pending, shell.prompt] = [undefined, 'calc> '];
        const [command, ...rest] = line.split(/\s+/);
        const name = command.toLowerCase();
        if (name === 'help') return void console.log(CALC_HELP);
        if (name === 'quit') {
          await peer.end(encodeCalcRequest(CalcOp.QUIT, 0, 0));
          return false;
        }
        op = CALC_OPS[name];
        if (op === undefined) return complain(`your input is invalid: "${command}" (type help)`);
        if (rest.length === 0) {
          [pending, shell.prompt] = [op, 'op1, op2> '];
          return;
        }
        operands = rest.join(' ');
      }
      const parsed = parseOperands(operands);
      if (typeof parsed === 'string') return complain(parsed);
      // As the seed's client does: a zero divisor is not sent, the operands are asked again.
      const again = op === CalcOp.DIV && parsed[1] === 0;
      pending = again ? op : undefined;
      shell.prompt = again ? 'op1, op2> ' : 'calc> ';
      if (again) return complain('division by zero: please input again');
      const reply = await peer.ask(encodeCalcRequest(op, parsed[0], parsed[1]), CALC_REPLY_BYTES);
      console.log(`result = ${reply.readInt32LE(0)}`);
    },
    onEnd: () => peer.end(encodeCalcRequest(CalcOp.QUIT, 0, 0)),
  };
  return shell;
}

/** Sends each line (with its newline) and prints what comes back. */
function echoShell(peer: Peer): Shell {
  return {
    prompt: 'echo> ',
    async onLine(line) {
      const request = Buffer.from(`${line}\n`);
      process.stdout.write(await peer.ask(request, request.length));
    },
    onEnd: () => peer.end(),
  };
}

const SESSION_HELP =
  'cmd: open, add N, get, close, retry, help, quit\n' +
  '  open   ask for a handle; later requests name it (else the connection is the identity)\n' +
  '  retry  send the last request again, same id: answered from the reply cache, not applied twice';
const STATUS_TEXT: Record<number, string> = {
  [SessionStatus.NO_STATE]: 'no state: unknown or expired handle',
  [SessionStatus.BAD_REQUEST]: 'bad request',
};

/** The seed-004 session service: a running total identified by connection or by handle; retries are idempotent. */
function sessionShell(peer: Peer): Shell {
  let handle = 0;
  let requestId = firstRequestId();
  let last: Buffer | undefined;
  const send = async (request: Buffer): Promise<void> => {
    last = request;
    const reply = decodeSessionReply(await peer.ask(request, SESSION_FRAME_BYTES));
    if (reply.status !== SessionStatus.OK && reply.status !== SessionStatus.REPLAYED) {
      return complain(STATUS_TEXT[reply.status] ?? `status ${reply.status}`);
    }
    const replayed = reply.status === SessionStatus.REPLAYED ? ' (replayed: answered from the reply cache)' : '';
    if (reply.op === SessionOp.OPEN) {
      handle = reply.handle;
      console.log(`handle = ${handle}${replayed}`);
    } else if (reply.op === SessionOp.CLOSE) {
      handle = 0;
      console.log(`closed, total was ${reply.total}`);
    } else {
      console.log(`total = ${reply.total}${replayed}`);
    }
  };
  const request = (op: number, value = 0): Buffer =>
    encodeSessionRequest({ op, flags: handle ? BY_HANDLE : 0, handle, requestId: requestId++ >>> 0, value });
  return {
    prompt: 'session> ',
    async onLine(typed) {
      const line = typed.trim();
      if (line === '') return;
      const [command, ...rest] = line.split(/\s+/);
      switch (command.toLowerCase()) {
        case 'help':
          return void console.log(SESSION_HELP);
        case 'quit':
          await peer.end();
          return false;
        case 'open':
          return send(request(SessionOp.OPEN));
        case 'get':
          return send(request(SessionOp.GET));
        case 'close':
          return send(request(SessionOp.CLOSE));
        case 'retry':
          return last ? send(last) : complain('nothing to retry yet');
        case 'add': {
          const value = Number(rest.join(''));
          if (rest.length !== 1 || (value | 0) !== value) return complain('add takes one 32-bit integer: "add 5"');
          return send(request(SessionOp.ADD, value));
        }
        default:
          return complain(`your input is invalid: "${command}" (type help)`);
      }
    },
    onEnd: () => peer.end(),
  };
}

const CLIENTS = {
  echo: { port: 7000, shell: echoShell, banner: 'each line is sent and its echo printed; Ctrl-D ends' },
  calc: { port: CALC_PORT, shell: calcShell, banner: CALC_HELP },
  session: { port: 7000, shell: sessionShell, banner: SESSION_HELP },
};

function parsePort(value: string): number {
  const port = Number(value);
  if (!/^\d+$/.test(value) || port < 1 || port > 65535) throw new Error(`port must be 1 to 65535, not "${value}"`);
  return port;
}

async function runClient(protocol: keyof typeof CLIENTS, host = '127.0.0.1', portText?: string): Promise<void> {
  // `client calc 7070`, as the seed's client takes its port: a lone number is the port.
  if (portText === undefined && /^\d+$/.test(host)) [host, portText] = ['127.0.0.1', host];
  const { port: defaultPort, shell, banner } = CLIENTS[protocol];
  const port = portText === undefined ? defaultPort : parsePort(portText);
  const peer = await connect(host, port);
  try {
    await runShell(shell(peer), `connected to ${host}:${port}. ${banner}`);
  } finally {
    peer.socket.destroy();
  }
}

/** Adds `epollkit client <protocol> [host] [port]` to `program`. */
export function register(program: Command): void {
  program
    .command('client')
    .description('talk to a server: send stdin lines, print replies (echo; calc: seed 001 commands; session: seed 004)')
    .addArgument(new Argument('<protocol>', 'protocol').choices(Object.keys(CLIENTS)))
    .argument('[host]', 'server address (default 127.0.0.1; a lone number is taken as the port)')
    .argument('[port]', 'port (default: 7070 for calc, else 7000)')
    .action((protocol: keyof typeof CLIENTS, host?: string, port?: string) => runClient(protocol, host, port));
}
