/**
 * The long-lived flows of the HA and fleet tests (and bench:e2e's `ha` section), run
 * in the client namespace as its own process: `node ha-flows.js CONFIG-JSON`. It opens
 * `flows` TCP connections to the VIP, each sending a numbered line every `intervalMs`
 * and reading the real server's answer (`NAME SEQ`, see {@link echoServerCode}). It
 * reads commands on stdin, one per line, and answers each with one JSON line:
 *
 * - `report`: per flow its local port, the real server that answers, whether it is
 *   lost (reset, closed, errored, or answered by another real server) and the longest
 *   time a line waited for its answer since the last `mark` (a line still unanswered
 *   counts up to now);
 * - `mark`: starts a new measuring period (longest waits back to 0);
 * - `stop`: closes every flow and exits.
 *
 * A line is only sent once the previous one was answered, so a flow that lost its path
 * waits with one line outstanding — TCP retransmits it — and its wait is the time the
 * path was broken, as the client's TCP experienced it.
 *
 * @module
 */
import { connect, type Socket } from 'node:net';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';

export interface FlowsConfig {
  host: string;
  port: number;
  flows: number;
  intervalMs?: number;
}

export interface FlowReport {
  port: number;
  server: string;
  lost: boolean;
  why: string;
  /** Longest wait of a line for its answer since the last mark (ms). */
  waitMs: number;
  answered: number;
}

/** The real servers' program: answers each line `SEQ` with `NAME SEQ`. */
export function echoServerCode(name: string, port: number): string {
  return `require('net').createServer((s)=>{let b='';s.setNoDelay(true);s.on('error',()=>{});s.on('data',(d)=>{b+=d;let i;while((i=b.indexOf('\\n'))>=0){const l=b.slice(0,i);b=b.slice(i+1);s.write(${JSON.stringify(name)}+' '+l+'\\n')}})}).listen(${port},'::')`;
}

interface Flow {
  sock: Socket;
  port: number;
  server: string;
  lost: boolean;
  why: string;
  seq: number;
  sentAt: number;
  waiting: boolean;
  maxWait: number;
  answered: number;
  buf: string;
}

async function main(): Promise<void> {
  const cfg = JSON.parse(process.argv[2]) as FlowsConfig;
  const interval = cfg.intervalMs ?? 200;
  const flows: Flow[] = [];
  const open = (): Promise<Flow> =>
    new Promise((resolve, reject) => {
      const sock = connect({ host: cfg.host, port: cfg.port });
      sock.setNoDelay(true);
      const f: Flow = {
        sock,
        port: 0,
        server: '',
        lost: false,
        why: '',
        seq: 0,
        sentAt: 0,
        waiting: false,
        maxWait: 0,
        answered: 0,
        buf: '',
      };
      const t = setTimeout(() => reject(new Error('connect timed out')), 5000);
      sock.once('connect', () => {
        clearTimeout(t);
        f.port = sock.localPort ?? 0;
        resolve(f);
      });
      sock.setEncoding('utf8');
      sock.on('data', (d: string) => {
        f.buf += d;
        let i;
        while ((i = f.buf.indexOf('\n')) >= 0) {
          const [name, seq] = f.buf.slice(0, i).split(' ');
          f.buf = f.buf.slice(i + 1);
          if (f.server === '') f.server = name;
          else if (name !== f.server && !f.lost) {
            f.lost = true;
            f.why = `answered by ${name} after ${f.server}`;
          }
          if (Number(seq) === f.seq && f.waiting) {
            f.waiting = false;
            f.answered++;
            f.maxWait = Math.max(f.maxWait, Date.now() - f.sentAt);
          }
        }
      });
      const gone = (why: string): void => {
        if (!f.lost) {
          f.lost = true;
          f.why = why;
        }
      };
      sock.on('error', (e: NodeJS.ErrnoException) => gone(e.code ?? e.message));
      sock.on('close', () => gone('closed'));
    });
  for (let i = 0; i < cfg.flows; i++) flows.push(await open());
  const tick = setInterval(() => {
    const now = Date.now();
    for (const f of flows) {
      if (f.lost || f.waiting) continue;
      f.seq++;
      f.waiting = true;
      f.sentAt = now;
      f.sock.write(`${f.seq}\n`);
    }
  }, interval);
  const report = (): FlowReport[] => {
    const now = Date.now();
    return flows.map((f) => ({
      port: f.port,
      server: f.server,
      lost: f.lost,
      why: f.why,
      waitMs: Math.max(f.maxWait, f.waiting ? now - f.sentAt : 0),
      answered: f.answered,
    }));
  };
  process.stdout.write(JSON.stringify({ opened: flows.length }) + '\n');
  for await (const line of createInterface({ input: process.stdin })) {
    const cmd = line.trim();
    if (cmd === 'report') process.stdout.write(JSON.stringify(report()) + '\n');
    else if (cmd === 'mark') {
      for (const f of flows) f.maxWait = 0;
      process.stdout.write('{"marked":true}\n');
    } else if (cmd === 'stop') break;
  }
  clearInterval(tick);
  for (const f of flows) f.sock.destroy();
  process.stdout.write('{"stopped":true}\n');
}

// run only as the program (`node ha-flows.js CONFIG`), not when imported for its helpers
// nor when the test runner, which runs every file under dist/test, starts it bare
if (
  process.argv[1] &&
  process.argv[2] !== undefined &&
  import.meta.url === pathToFileURL(process.argv[1]).href
) {
  main().catch((e: unknown) => {
    process.stdout.write(JSON.stringify({ error: (e as Error).message }) + '\n');
    process.exit(1);
  });
}
