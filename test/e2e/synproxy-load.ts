/**
 * The legitimate side of the SYN-flood test (synproxy.test.ts), run in the client
 * namespace: new HTTP connections at a steady rate (each must connect and answer
 * within its timeout) and one long-lived connection exchanging a line every 50 ms
 * with an echo server. Prints one JSON line: successes, latencies, echo losses and
 * the longest stall of the long-lived connection.
 *
 *   node synproxy-load.js VIP HTTP_PORT ECHO_PORT RATE SECONDS
 */
import { request } from 'node:http';
import { connect } from 'node:net';

const [vip, httpPort, echoPort, rate, seconds] = process.argv.slice(2);
const RATE = Number(rate);
const MS = Number(seconds) * 1000;
const TIMEOUT_MS = 3000;

interface Out {
  sent: number;
  ok: number;
  failed: string[];
  latencies: number[];
  echoSent: number;
  echoBack: number;
  echoLongestStallMs: number;
  echoError: string;
}
const out: Out = {
  sent: 0,
  ok: 0,
  failed: [],
  latencies: [],
  echoSent: 0,
  echoBack: 0,
  echoLongestStallMs: 0,
  echoError: '',
};

function oneRequest(): Promise<void> {
  const t0 = performance.now();
  out.sent++;
  return new Promise((resolve) => {
    let done = false;
    const finish = (err: string | null): void => {
      if (done) return;
      done = true;
      if (err === null) {
        out.ok++;
        out.latencies.push(performance.now() - t0);
      } else if (out.failed.length < 20) out.failed.push(err);
      resolve();
    };
    const req = request(
      { host: vip, port: Number(httpPort), path: '/', agent: false, timeout: TIMEOUT_MS },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => finish(/^rs\d/.test(body) ? null : `body ${body}`));
        res.on('error', (e) => finish(e.message));
      },
    );
    req.on('timeout', () => {
      req.destroy();
      finish('timeout');
    });
    req.on('error', (e) => finish(e.message));
    req.end();
    setTimeout(() => {
      req.destroy();
      finish('deadline');
    }, TIMEOUT_MS + 500);
  });
}

async function echo(until: number): Promise<void> {
  const s = connect({ host: vip, port: Number(echoPort) });
  s.setNoDelay(true);
  let buf = '';
  let last = performance.now();
  await new Promise<void>((resolve, reject) => {
    s.once('connect', () => resolve());
    s.once('error', reject);
  });
  last = performance.now();
  s.setEncoding('utf8');
  s.on('data', (d: string) => {
    buf += d;
    let i: number;
    while ((i = buf.indexOf('\n')) >= 0) {
      buf = buf.slice(i + 1);
      out.echoBack++;
      const t = performance.now();
      if (t - last > out.echoLongestStallMs) out.echoLongestStallMs = t - last;
      last = t;
    }
  });
  s.on('error', (e) => (out.echoError = e.message));
  while (performance.now() < until) {
    s.write(`ping ${out.echoSent++}\n`);
    await new Promise((r) => setTimeout(r, 50));
  }
  // the last answers
  const t = performance.now();
  while (out.echoBack < out.echoSent && performance.now() - t < 3000)
    await new Promise((r) => setTimeout(r, 20));
  s.end();
}

async function main(): Promise<void> {
  const start = performance.now();
  const until = start + MS;
  const e = echo(until).catch((err: Error) => void (out.echoError = err.message));
  const pending: Promise<void>[] = [];
  for (let k = 0; performance.now() < until; k++) {
    const due = start + (k * 1000) / RATE;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    pending.push(oneRequest());
  }
  await Promise.all(pending);
  await e;
  process.stdout.write(JSON.stringify(out) + '\n');
}

void main();
