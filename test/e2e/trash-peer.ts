/**
 * The two programs of trash.test.ts, run in the lab's namespaces:
 *
 * - `server NAME PORT…`: on every connection, pushes `NAME <n>` every 100 ms (Nagle
 *   off, so each line is its own segment), echoes `echo <line>` for every line the
 *   client sends, and resets the connection after `RESET_MS`;
 * - `client JSON` (`{ host, ports, conns }`): opens `conns` connections to each port,
 *   prints `ready` once every connection has its first line, then on a `removed` line
 *   on stdin notes the time, sends `ping` on every connection, and after `watchMs`
 *   prints one JSON line: per connection its server's name, the lines received after
 *   `removed`, whether `echo ping` came back, how it ended and when (ms after
 *   `removed`).
 */
import { createConnection, createServer, type Socket } from 'node:net';
import { createInterface } from 'node:readline';

const RESET_MS = 3500;

export interface TrashConnReport {
  port: number;
  server: string;
  linesAfter: number;
  echoed: boolean;
  end: string;
  /** When it ended, ms after `removed` (negative: before). */
  endMs: number | null;
}

function server(name: string, ports: number[]): void {
  for (const port of ports)
    createServer((s: Socket) => {
      s.setNoDelay(true);
      s.on('error', () => undefined);
      let n = 0;
      const t = setInterval(() => s.write(`${name} ${n++}\n`), 100);
      const r = setTimeout(() => s.resetAndDestroy(), RESET_MS);
      s.on('close', () => {
        clearInterval(t);
        clearTimeout(r);
      });
      createInterface({ input: s })
        .on('line', (l) => s.write(`echo ${l}\n`))
        .on('error', () => undefined);
    }).listen(port, '::');
}

function client(opts: { host: string; ports: number[]; conns: number; watchMs: number }): void {
  const all: { port: number; s: Socket; rep: TrashConnReport; first: boolean }[] = [];
  let removedAt = 0;
  const ready = (): void => {
    if (all.every((c) => c.first)) process.stdout.write('ready\n');
  };
  for (const port of opts.ports)
    for (let i = 0; i < opts.conns; i++) {
      const s = createConnection({ host: opts.host, port });
      const c = {
        port,
        s,
        first: false,
        rep: {
          port,
          server: '',
          linesAfter: 0,
          echoed: false,
          end: 'open',
          endMs: null as number | null,
        },
      };
      all.push(c);
      const ended = (how: string): void => {
        if (c.rep.end !== 'open') return;
        c.rep.end = how;
        c.rep.endMs = removedAt ? Date.now() - removedAt : -1;
      };
      s.on('error', (e: NodeJS.ErrnoException) => ended(e.code ?? e.message));
      s.on('close', () => ended('closed'));
      const rl = createInterface({ input: s });
      rl.on('error', () => undefined);
      rl.on('line', (l) => {
        if (l === 'echo ping') c.rep.echoed = true;
        else if (!c.first) {
          c.first = true;
          c.rep.server = l.split(' ')[0];
          ready();
        } else if (removedAt) c.rep.linesAfter++;
      });
    }
  createInterface({ input: process.stdin }).on('line', (l) => {
    if (l !== 'removed' || removedAt) return;
    removedAt = Date.now();
    for (const c of all) c.s.write('ping\n');
    setTimeout(() => {
      process.stdout.write(JSON.stringify(all.map((c) => c.rep)) + '\n');
      for (const c of all) c.s.destroy();
      process.exit(0);
    }, opts.watchMs);
  });
}

const [mode, ...rest] = process.argv.slice(2);
if (mode === 'server') server(rest[0], rest.slice(1).map(Number));
else if (mode === 'client') client(JSON.parse(rest[0]) as Parameters<typeof client>[0]);
