/**
 * Replay against the real thing: in the namespace lab, curl goes through the real
 * tsvs daemon (NAT, rr over two real servers) while tcpdump captures the client side
 * and both real servers' side. Replaying the client-side capture with the same rules
 * must produce exactly the packets the real servers received: same addresses, ports,
 * TTL, sequence numbers, options and payload, the same header and TCP checksums.
 *
 * Needs root, the lab (scripts/lab.sh), tcpdump and curl; `npm test` as root installs
 * what is missing. Uses its own namespace prefix so it does not disturb other labs.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { labDown, labUp, type LabEnv } from '../../src/sys/lab.js';
import { readCaptureFile } from '../../src/pcap/pcap.js';
import { IPPROTO_TCP } from '../../src/engine/constants.js';
import { TCP_FLAG_ACK, TCP_FLAG_FIN, TCP_FLAGS, TCP_HLEN } from '../../src/wire/tcp.js';
import { runReplay } from '../../src/replay/cli.js';
import { memoryIo } from './helpers.js';
import { waitFor as waitUntil } from '../helpers/wait.js';
import { l4ChecksumValid, naiveSum } from '../helpers/packets.js';

/**
 * A packet captured on the receiving host may still carry the offload form of its TCP
 * checksum (the folded pseudo-header sum: the director sends with checksum offload and
 * veth delivers it unfinished). Complete exactly such a field; anything else stays, so
 * a wrong checksum still shows as a difference.
 */
function completeOffloaded(p: Uint8Array): Uint8Array {
  if (p[9] !== 6 || l4ChecksumValid(p)) return p;
  const hl = (p[0] & 15) * 4;
  const total = (p[2] << 8) | p[3];
  const l4len = total - hl;
  const pseudo = [...p.subarray(12, 20), 0, 6, l4len >> 8, l4len & 255];
  const field = (p[hl + 16] << 8) | p[hl + 17];
  if (field !== naiveSum(pseudo)) return p;
  const q = p.slice();
  q[hl + 16] = q[hl + 17] = 0;
  const c = 0xffff - naiveSum([...pseudo, ...q.subarray(hl, total)]);
  q[hl + 16] = c >> 8;
  q[hl + 17] = c & 255;
  return q;
}

const PREFIX = 'tsvsrp';
const TSVS = fileURLToPath(new URL('../../src/cli/tsvs.js', import.meta.url));
const TSVSADM = fileURLToPath(new URL('../../src/cli/tsvsadm.js', import.meta.url));
const STEP_MS = 15_000;

function onPath(cmd: string): boolean {
  return (process.env.PATH ?? '')
    .split(delimiter)
    .some((d) => d !== '' && existsSync(join(d, cmd)));
}

const unavailable =
  process.getuid?.() !== 0 ? 'the lab test needs root (network namespaces, tcpdump)' : null;

function run(cmd: string, args: string[], env = process.env): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: STEP_MS, env }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')}: ${err.message} ${stderr}`));
      else resolve(stdout);
    });
  });
}

/** Wait for `fn` within one step's time (the shared poll-with-a-deadline helper). */
function waitFor(what: string, fn: () => Promise<boolean> | boolean): Promise<void> {
  return waitUntil(fn, { timeout: STEP_MS, what });
}

/** tcpdump in a namespace, ready when it says it is listening. */
async function capture(ns: string, iface: string, file: string): Promise<ChildProcess> {
  const p = spawn(
    'ip',
    [
      'netns',
      'exec',
      ns,
      'tcpdump',
      '-n',
      '-U',
      '--immediate-mode',
      '-i',
      iface,
      '-w',
      file,
      'tcp port 80',
    ],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let err = '';
  p.stderr?.setEncoding('utf8').on('data', (d: string) => (err += d));
  await waitFor(`tcpdump on ${ns} ${iface}`, () => {
    if (p.exitCode !== null) throw new Error(`tcpdump exited: ${err}`);
    return err.includes('listening on');
  });
  return p;
}

function stop(p: ChildProcess, signal: NodeJS.Signals = 'SIGINT'): Promise<void> {
  return new Promise((resolve) => {
    if (p.exitCode !== null || p.signalCode !== null) return resolve();
    const t = setTimeout(() => p.kill('SIGKILL'), STEP_MS);
    p.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
    p.kill(signal);
  });
}

/** IP packets of a capture whose source is `src`. */
function packetsFrom(file: string, src: string): Uint8Array[] {
  const out: Uint8Array[] = [];
  const want = src.split('.').map(Number);
  for (const it of readCaptureFile(file)) {
    assert.notEqual(it.kind, 'problem', `${file}: ${it.kind === 'problem' ? it.message : ''}`);
    if (it.kind !== 'packet' || it.ipVersion !== 4) continue;
    const p = it.packet;
    if (want.every((b, i) => p[12 + i] === b)) out.push(p.slice());
  }
  return out;
}

/**
 * Whether every TCP connection of a capture has closed: two FINs for each of `conns`
 * connections, and the ACK that follows the last one. A record still being written
 * reads as a problem: not closed yet.
 */
function closedIn(file: string, conns: number): boolean {
  let fins = 0;
  let ackAfterFin = false;
  for (const it of readCaptureFile(file)) {
    if (it.kind === 'problem') return false;
    if (it.kind !== 'packet' || it.ipVersion !== 4) continue;
    const p = it.packet;
    const l4 = (p[0] & 15) * 4;
    if (p[9] !== IPPROTO_TCP || p.length < l4 + TCP_HLEN) continue;
    const flags = p[l4 + TCP_FLAGS];
    if (flags & TCP_FLAG_FIN) {
      fins++;
      ackAfterFin = false;
    } else if (flags & TCP_FLAG_ACK) {
      ackAfterFin = true;
    }
  }
  return fins >= 2 * conns && ackAfterFin;
}

function hex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}

describe('replay of a lab capture', { skip: unavailable ?? false }, () => {
  let lab: LabEnv;
  let dir: string;
  const children: ChildProcess[] = [];

  before(() => {
    for (const t of ['tcpdump', 'curl']) {
      if (!onPath(t))
        assert.fail(`${t} not installed: run \`npm test\` as root (scripts/test.sh installs it)`);
    }
    dir = mkdtempSync(join(tmpdir(), 'tsvs-replay-lab-'));
    lab = labUp({ prefix: PREFIX });
  });

  after(async () => {
    for (const c of children) await stop(c, 'SIGKILL');
    if (lab) labDown({ prefix: PREFIX });
    if (dir && process.env.KEEP !== '1') rmSync(dir, { recursive: true, force: true });
  });

  it('reproduces the headers the real servers received through the real daemon', async () => {
    const vip = lab.vip4;
    const rules = [
      `-A -t ${vip}:80 -s rr`,
      `-a -t ${vip}:80 -r ${lab.rs[0].ip4}:80 -m -w 1`,
      `-a -t ${vip}:80 -r ${lab.rs[1].ip4}:80 -m -w 1`,
    ];
    for (const [i, ns] of [lab.ns.rs1, lab.ns.rs2].entries()) {
      const code = `require('http').createServer((q,s)=>{s.setHeader('connection','close');s.end('rs${i + 1}\\n')}).listen(80)`;
      children.push(
        spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', code], { stdio: 'ignore' }),
      );
    }
    const sock = join(dir, 'control.sock');
    const env = { ...process.env, TSVS_CONTROL: sock };
    let log = '';
    const daemon = spawn(
      'ip',
      [
        'netns',
        'exec',
        lab.ns.director,
        process.execPath,
        TSVS,
        'daemon',
        '--control',
        sock,
        '--no-state',
        '--name',
        PREFIX,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    children.push(daemon);
    daemon.stderr?.setEncoding('utf8').on('data', (d: string) => (log += d));
    daemon.stdout?.setEncoding('utf8').on('data', (d: string) => (log += d));
    await waitFor('the daemon', () => {
      if (daemon.exitCode !== null) throw new Error(`daemon exited: ${log}`);
      return log.includes('daemon running');
    });
    for (const r of rules) await run(process.execPath, [TSVSADM, ...r.split(' ')], env);
    for (const ns of [lab.ns.rs1, lab.ns.rs2]) {
      await waitFor(`the server in ${ns}`, async () => {
        await run('ip', ['netns', 'exec', ns, 'bash', '-c', 'exec 3<>/dev/tcp/127.0.0.1/80']);
        return true;
      });
    }

    const clientCap = join(dir, 'client.pcap');
    const rsCaps = [join(dir, 'rs1.pcap'), join(dir, 'rs2.pcap')];
    const dumps = [
      await capture(lab.ns.client, 'br0', clientCap),
      await capture(lab.ns.rs1, lab.rs[0].serverIf, rsCaps[0]),
      await capture(lab.ns.rs2, lab.rs[1].serverIf, rsCaps[1]),
    ];
    children.push(...dumps);
    const answers: string[] = [];
    for (let i = 0; i < 2; i++) {
      const body = await run('ip', [
        'netns',
        'exec',
        lab.ns.client,
        'curl',
        '-s',
        '-m',
        '5',
        `http://${vip}/`,
      ]);
      answers.push(body.trim());
    }
    assert.deepEqual(answers.slice().sort(), ['rs1', 'rs2'], `rr through the daemon; log: ${log}`);
    // the last FINs and ACKs reach every capture
    await waitFor('the closes in every capture', () =>
      [clientCap, ...rsCaps].every((f, i) => closedIn(f, i === 0 ? 2 : 1)),
    );
    for (const d of dumps) await stop(d);
    await stop(daemon, 'SIGTERM');

    const conf = join(dir, 'rules');
    writeFileSync(conf, rules.join('\n') + '\n');
    const replayed = join(dir, 'replayed.pcap');
    const io = memoryIo();
    const status = await runReplay(['--config', conf, clientCap, replayed], io);
    assert.equal(status, 0, io.stderr + io.stdout);

    // what the director sent towards each real server, in order, against what it received
    const sent = packetsFrom(replayed, lab.client4);
    assert.ok(sent.length >= 10, `two HTTP exchanges replayed (${sent.length} packets)`);
    for (const [i, rs] of lab.rs.entries()) {
      const got = packetsFrom(rsCaps[i], lab.client4).map(completeOffloaded);
      const mine = sent.filter((p) => p.subarray(16, 20).join('.') === rs.ip4);
      assert.ok(got.length > 0, `${rs.ip4} received packets`);
      for (const p of mine) assert.ok(l4ChecksumValid(p), 'replayed TCP checksums are valid');
      assert.deepEqual(
        mine.map(hex),
        got.map(hex),
        `packets replayed towards ${rs.ip4} equal those it captured`,
      );
    }
  });
});
