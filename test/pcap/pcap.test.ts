/**
 * Capture files: the reader against captures made for real by tcpdump and dumpcap on
 * loopback (checked against what tshark reads from the same files and against the
 * datagrams this test sent), against hand-built files for every format variant and
 * link layer (each also checked with tshark, so the hand-built bytes are known good),
 * against damaged files (a problem at the right packet number, never an exception),
 * and the writer through a round trip and through tshark.
 *
 * The live captures need root, tcpdump and tshark (scripts/test.sh installs them).
 * KEEP=1 in the environment keeps the capture files in the temporary directories.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import {
  type CaptureItem,
  type CaptureProblem,
  type CaptureRecord,
  type CaptureSkipped,
  LINKTYPE_ETHERNET,
  LINKTYPE_IPV4,
  LINKTYPE_IPV6,
  LINKTYPE_LINUX_SLL,
  LINKTYPE_LINUX_SLL2,
  LINKTYPE_LOOP,
  LINKTYPE_NULL,
  LINKTYPE_RAW,
  PcapWriter,
  readCapture,
  readCaptureFile,
} from '../../src/pcap/pcap.js';
import { formatAddr } from '../../src/engine/addr.js';
import { waitFor } from '../helpers/wait.js';

// ---------------------------------------------------------------------------------------
// Tools

const CHILD_TIMEOUT_MS = 20_000;

function onPath(cmd: string): boolean {
  return (process.env.PATH ?? '')
    .split(delimiter)
    .some((dir) => dir !== '' && existsSync(join(dir, cmd)));
}

/** Fails with a message saying how to get the tool, rather than skipping silently. */
function requireTools(...cmds: string[]): void {
  const missing = cmds.filter((c) => !onPath(c));
  if (missing.length > 0) {
    assert.fail(
      `${missing.join(', ')} not installed: run the tests with \`npm test\` as root ` +
        '(scripts/test.sh installs them) or `apt-get install -y tcpdump tshark`',
    );
  }
}

function requireRoot(): void {
  if (process.getuid?.() !== 0) {
    assert.fail('live captures on loopback need root: run the tests as root (`sudo npm test`)');
  }
}

function run(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { timeout: CHILD_TIMEOUT_MS, encoding: 'utf8' });
  if (r.error) throw r.error;
  if (r.status !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} exited ${r.status ?? r.signal}: ${r.stderr}`);
  }
  return r.stdout;
}

interface TsharkFrame {
  number: number;
  len: number;
  capLen: number;
  tsNs: bigint;
  interfaceId: number;
  /** IPv4 total length or IPv6 40 + payload length; -1 when tshark found no IP. */
  ipLen: number;
  ipSrc: string;
}

function epochToNs(text: string): bigint {
  const [sec, frac = ''] = text.split('.');
  return BigInt(sec) * 1_000_000_000n + BigInt(frac.padEnd(9, '0').slice(0, 9));
}

/** What tshark reads from a capture: the independent view the reader is checked against. */
function tshark(file: string): TsharkFrame[] {
  const fields = [
    'frame.number',
    'frame.len',
    'frame.cap_len',
    'frame.time_epoch',
    'frame.interface_id',
    'ip.len',
    'ipv6.plen',
    'ip.src',
    'ipv6.src',
  ];
  const out = run('tshark', [
    '-n',
    '-r',
    file,
    '-T',
    'fields',
    '-E',
    'separator=/t',
    '-E',
    'occurrence=f',
    ...fields.flatMap((f) => ['-e', f]),
  ]);
  return out
    .split('\n')
    .filter((l) => l !== '')
    .map((line) => {
      const [num, len, cap, time, ifid, ipLen, plen, src4, src6] = line.split('\t');
      let ip = -1;
      if (ipLen) ip = Number(ipLen);
      else if (plen) ip = 40 + Number(plen);
      return {
        number: Number(num),
        len: Number(len),
        capLen: Number(cap),
        tsNs: epochToNs(time),
        interfaceId: ifid ? Number(ifid) : 0,
        ipLen: ip,
        ipSrc: src4 || src6 || '',
      };
    });
}

// ---------------------------------------------------------------------------------------
// Reading helpers

/** A file as a plain Uint8Array (not a Buffer), as readCaptureFile holds it. */
function readBytes(path: string): Uint8Array {
  const b = readFileSync(path);
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

function items(bytes: Uint8Array): CaptureItem[] {
  return [...readCapture(bytes)];
}
function packetsOf(list: CaptureItem[]): CaptureRecord[] {
  return list.filter((i): i is CaptureRecord => i.kind === 'packet');
}
function skippedOf(list: CaptureItem[]): CaptureSkipped[] {
  return list.filter((i): i is CaptureSkipped => i.kind === 'skipped');
}
function problemsOf(list: CaptureItem[]): CaptureProblem[] {
  return list.filter((i): i is CaptureProblem => i.kind === 'problem');
}

/** The source address as tshark prints it. */
function ipSource(p: CaptureRecord): string {
  const b = p.packet;
  if (p.ipVersion === 4) return `${b[12]}.${b[13]}.${b[14]}.${b[15]}`;
  const words = new Uint32Array(4);
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  for (let i = 0; i < 4; i++) words[i] = dv.getUint32(8 + 4 * i);
  return formatAddr(6, words);
}

/** The UDP payload of an IP packet to `port`, or null. */
function udpPayloadTo(ip: Uint8Array, port: number): Uint8Array | null {
  let udp: number;
  if (ip[0] >> 4 === 4) {
    if (ip[9] !== 17) return null;
    udp = (ip[0] & 15) * 4;
  } else {
    if (ip[6] !== 17) return null;
    udp = 40;
  }
  if (((ip[udp + 2] << 8) | ip[udp + 3]) !== port) return null;
  const len = (ip[udp + 4] << 8) | ip[udp + 5];
  return ip.subarray(udp + 8, udp + len);
}

/** Asserts that the reader sees exactly the frames tshark sees in `file`. */
function assertMatchesTshark(file: string, list: CaptureItem[]): void {
  const frames = tshark(file);
  const records = list.filter((i) => i.kind !== 'problem');
  assert.deepEqual(problemsOf(list), [], `${file}: no problems`);
  assert.equal(records.length, frames.length, `${file}: frame count`);
  for (let i = 0; i < frames.length; i++) {
    const f = frames[i];
    const r = records[i];
    const at = `${file} frame ${f.number}`;
    assert.equal(r.packetNumber, f.number, `${at}: number`);
    assert.equal(r.originalLength, f.len, `${at}: original length`);
    assert.equal(r.capturedLength, f.capLen, `${at}: captured length`);
    assert.equal(r.tsNs, f.tsNs, `${at}: time`);
    assert.equal(r.interfaceIndex, f.interfaceId, `${at}: interface`);
    if (r.kind === 'packet' && f.ipLen >= 0) {
      assert.equal(r.packet.length, Math.min(f.ipLen, r.packet.length), `${at}: IP length`);
      if (!r.truncated) assert.equal(r.packet.length, f.ipLen, `${at}: whole IP packet`);
      assert.equal(ipSource(r), f.ipSrc, `${at}: IP source`);
    }
    if (r.kind === 'skipped') assert.equal(f.ipLen, -1, `${at}: tshark sees IP in a skipped frame`);
  }
}

// ---------------------------------------------------------------------------------------
// Building files by hand

/** Byte builder with a fixed byte order. */
class Bytes {
  private readonly parts: number[] = [];
  constructor(private readonly le: boolean) {}
  u8(v: number): this {
    this.parts.push(v & 0xff);
    return this;
  }
  u16(v: number): this {
    const b = [(v >>> 8) & 0xff, v & 0xff];
    this.parts.push(...(this.le ? b.reverse() : b));
    return this;
  }
  u32(v: number): this {
    const b = [(v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff];
    this.parts.push(...(this.le ? b.reverse() : b));
    return this;
  }
  u64(v: bigint): this {
    const hi = Number((v >> 32n) & 0xffffffffn);
    const lo = Number(v & 0xffffffffn);
    return this.le ? this.u32(lo).u32(hi) : this.u32(hi).u32(lo);
  }
  raw(b: ArrayLike<number>): this {
    for (let i = 0; i < b.length; i++) this.parts.push(b[i]);
    return this;
  }
  pad4(): this {
    while (this.parts.length % 4 !== 0) this.parts.push(0);
    return this;
  }
  get length(): number {
    return this.parts.length;
  }
  out(): Uint8Array {
    return Uint8Array.from(this.parts);
  }
}

function concat(...arrays: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(arrays.reduce((n, a) => n + a.length, 0));
  let at = 0;
  for (const a of arrays) {
    out.set(a, at);
    at += a.length;
  }
  return out;
}

function checksum(b: Uint8Array, start: number, end: number): number {
  let sum = 0;
  for (let i = start; i < end; i += 2) sum += (b[i] << 8) | (i + 1 < end ? b[i + 1] : 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** IPv4/UDP from 192.0.2.1 to 198.51.100.1 (documentation addresses) with `n` payload bytes. */
function ipv4Udp(n: number, fill = 0x41, src = [192, 0, 2, 1]): Uint8Array {
  const total = 28 + n;
  const b = new Bytes(false)
    .u8(0x45)
    .u8(0)
    .u16(total)
    .u16(0x1234)
    .u16(0x4000)
    .u8(64)
    .u8(17)
    .u16(0)
    .raw(src)
    .raw([198, 51, 100, 1])
    .u16(40000)
    .u16(53)
    .u16(8 + n)
    .u16(0)
    .raw(new Uint8Array(n).fill(fill))
    .out();
  const c = checksum(b, 0, 20);
  b[10] = c >> 8;
  b[11] = c & 0xff;
  return b;
}

/** IPv6/UDP from 2001:db8::1 to 2001:db8::2 with `n` payload bytes. */
function ipv6Udp(n: number): Uint8Array {
  return new Bytes(false)
    .u32(0x60000000)
    .u16(8 + n)
    .u8(17)
    .u8(64)
    .raw([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1])
    .raw([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2])
    .u16(40000)
    .u16(53)
    .u16(8 + n)
    .u16(0)
    .raw(new Uint8Array(n).fill(0x42))
    .out();
}

const MAC_A = [0x02, 0, 0, 0, 0, 0x0a];
const MAC_B = [0x02, 0, 0, 0, 0, 0x0b];

/** An Ethernet frame: `tags` are [tpid, vid] pairs, padded to the 60-byte minimum. */
function ether(type: number, payload: Uint8Array, tags: Array<[number, number]> = []): Uint8Array {
  const b = new Bytes(false).raw(MAC_A).raw(MAC_B);
  for (const [tpid, vid] of tags) b.u16(tpid).u16(vid);
  b.u16(type).raw(payload);
  while (b.length < 60) b.u8(0);
  return b.out();
}

function arpRequest(): Uint8Array {
  return new Bytes(false)
    .u16(1)
    .u16(0x0800)
    .u8(6)
    .u8(4)
    .u16(1)
    .raw(MAC_A)
    .raw([192, 0, 2, 1])
    .raw([0, 0, 0, 0, 0, 0])
    .raw([192, 0, 2, 2])
    .out();
}

interface PcapRec {
  tsNs: bigint;
  data: Uint8Array;
  orig?: number;
  /** Overrides the captured-length field (for damaged records). */
  incl?: number;
}

function pcapFile(
  opts: { le?: boolean; nano?: boolean; linkType: number; snaplen?: number },
  recs: PcapRec[],
): Uint8Array {
  const le = opts.le ?? true;
  const nano = opts.nano ?? false;
  const b = new Bytes(le)
    .u32(nano ? 0xa1b23c4d : 0xa1b2c3d4)
    .u16(2)
    .u16(4)
    .u32(0)
    .u32(0)
    .u32(opts.snaplen ?? 262144)
    .u32(opts.linkType);
  for (const r of recs) {
    const sec = r.tsNs / 1_000_000_000n;
    const frac = r.tsNs % 1_000_000_000n;
    b.u32(Number(sec))
      .u32(Number(nano ? frac : frac / 1000n))
      .u32(r.incl ?? r.data.length)
      .u32(r.orig ?? r.data.length)
      .raw(r.data);
  }
  return b.out();
}

function block(le: boolean, type: number, body: (b: Bytes) => void): Uint8Array {
  const inner = new Bytes(le);
  body(inner);
  inner.pad4();
  const len = 12 + inner.length;
  return new Bytes(le).u32(type).u32(len).raw(inner.out()).u32(len).out();
}

function shb(le: boolean): Uint8Array {
  return block(le, 0x0a0d0d0a, (b) => b.u32(0x1a2b3c4d).u16(1).u16(0).u64(0xffffffffffffffffn));
}

function idb(
  le: boolean,
  linkType: number,
  opts: { snaplen?: number; tsresol?: number; tsoffset?: bigint; name?: string } = {},
): Uint8Array {
  return block(le, 1, (b) => {
    b.u16(linkType)
      .u16(0)
      .u32(opts.snaplen ?? 0);
    if (opts.name !== undefined) {
      const name = new TextEncoder().encode(opts.name);
      b.u16(2).u16(name.length).raw(name).pad4();
    }
    if (opts.tsresol !== undefined) b.u16(9).u16(1).u8(opts.tsresol).pad4();
    if (opts.tsoffset !== undefined) b.u16(14).u16(8).u64(opts.tsoffset);
    if (opts.name !== undefined || opts.tsresol !== undefined || opts.tsoffset !== undefined) {
      b.u16(0).u16(0);
    }
  });
}

function epb(le: boolean, ifid: number, ts: bigint, data: Uint8Array, orig?: number): Uint8Array {
  return block(le, 6, (b) =>
    b
      .u32(ifid)
      .u32(Number(ts >> 32n))
      .u32(Number(ts & 0xffffffffn))
      .u32(data.length)
      .u32(orig ?? data.length)
      .raw(data),
  );
}

function pb(le: boolean, ifid: number, ts: bigint, data: Uint8Array): Uint8Array {
  return block(le, 2, (b) =>
    b
      .u16(ifid)
      .u16(0)
      .u32(Number(ts >> 32n))
      .u32(Number(ts & 0xffffffffn))
      .u32(data.length)
      .u32(data.length)
      .raw(data),
  );
}

function spb(le: boolean, data: Uint8Array): Uint8Array {
  return block(le, 3, (b) => b.u32(data.length).raw(data));
}

const T0 = 1_700_000_000_123_456_789n; // an arbitrary time with all nanosecond digits set

let scratch = '';
function scratchFile(name: string, bytes: Uint8Array): string {
  if (scratch === '') scratch = mkdtempSync(join(tmpdir(), 'tsvs-pcap-'));
  const path = join(scratch, name);
  writeFileSync(path, bytes);
  return path;
}
after(() => {
  if (scratch !== '' && !process.env.KEEP) rmSync(scratch, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------
// Live captures

interface Capturer {
  file: string;
  cmd: string;
  args: string[];
  /** stderr text that says the capture is running. */
  ready: RegExp;
}

function startCapture(c: Capturer): Promise<{ stop: () => Promise<void> }> {
  return new Promise((resolve, reject) => {
    const child = spawn(c.cmd, c.args, {
      stdio: ['ignore', 'ignore', 'pipe'],
      timeout: CHILD_TIMEOUT_MS,
    });
    let stderr = '';
    let ready = false;
    const exited = new Promise<void>((done, fail) => {
      child.on('exit', (code, signal) => {
        if (!ready) reject(new Error(`${c.cmd} exited before capturing: ${stderr}`));
        if (code === 0 || signal === 'SIGINT') done();
        else
          fail(new Error(`${c.cmd} ${c.args.join(' ')} ended with ${code ?? signal}: ${stderr}`));
      });
    });
    exited.catch(() => {}); // observed through stop()
    child.on('error', reject);
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      stderr += chunk;
      if (!ready && c.ready.test(stderr)) {
        ready = true;
        resolve({
          stop: async () => {
            child.kill('SIGINT');
            await exited;
          },
        });
      }
    });
  });
}

function bindUdp(type: 'udp4' | 'udp6', host: string, port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = createSocket(type);
    s.once('error', reject);
    s.bind(port, host, () => resolve(s));
  });
}

/** UDP datagrams this test sends: [family, payload]. Sizes cross the 60-byte snap length. */
const SENT: Array<[4 | 6, Uint8Array]> = [
  [4, new Uint8Array(1).fill(1)],
  [6, new Uint8Array(20).fill(2)],
  [4, new Uint8Array(100).fill(3)],
  [4, new Uint8Array(1400).fill(4)],
  [6, new Uint8Array(2000).fill(5)],
  [4, new Uint8Array(3000).fill(6)],
];

async function sendTraffic(port: number): Promise<void> {
  const rx4 = await bindUdp('udp4', '127.0.0.1', port);
  const rx6 = await bindUdp('udp6', '::1', port);
  const received: Buffer[] = [];
  const onMessage = (m: Buffer): void => {
    received.push(m);
  };
  rx4.on('message', onMessage);
  rx6.on('message', onMessage);
  const tx4 = createSocket('udp4');
  const tx6 = createSocket('udp6');
  try {
    for (const [family, payload] of SENT) {
      const want = received.length + 1;
      if (family === 4) tx4.send(payload, port, '127.0.0.1');
      else tx6.send(payload, port, '::1');
      await waitFor(() => received.length >= want, {
        timeout: 1000,
        interval: 5,
        what: 'loopback to deliver the datagram',
      }).catch(() => undefined); // the assertion below says what went wrong
      assert.equal(received.length, want, 'loopback delivered the datagram');
    }
    // one TCP conversation, for variety of sizes and flags (checked through tshark only)
    const server = createServer((s) => s.on('data', () => {}).on('end', () => s.end()));
    await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
    await new Promise<void>((resolve, reject) => {
      const c = connect(port, '127.0.0.1', () => c.end(new Uint8Array(5000).fill(7)));
      c.on('data', () => {});
      c.on('error', reject);
      c.on('close', () => resolve());
    });
    await new Promise<void>((r) => server.close(() => r()));
  } finally {
    for (const s of [rx4, rx6, tx4, tx6]) s.close();
  }
}

/**
 * True when the capture file at `path` (being written) holds more packets than the
 * datagrams sent (they and at least one TCP segment) on each of its `interfaces`.
 */
function holdsTraffic(path: string, interfaces: number): boolean {
  if (!existsSync(path)) return false;
  const packets = packetsOf([...readCaptureFile(path)]);
  for (let i = 0; i < interfaces; i++)
    if (packets.filter((p) => p.interfaceIndex === i).length <= SENT.length) return false;
  return true;
}

describe('captures made by tcpdump and dumpcap on loopback', { timeout: 120_000 }, () => {
  let dir = '';
  let port = 0;
  const file = (name: string): string => join(dir, name);

  before(async () => {
    requireTools('tcpdump', 'tshark', 'dumpcap');
    requireRoot();
    dir = mkdtempSync(join(tmpdir(), 'tsvs-pcap-live-'));
    port = 20000 + Math.floor(Math.random() * 12000); // below the ephemeral range
    const filter = `port ${port}`;
    const tcpdumpReady = /listening on/;
    const capturers: Capturer[] = [
      { file: 'lo-us.pcap', cmd: 'tcpdump', args: ['-i', 'lo'], ready: tcpdumpReady },
      {
        file: 'lo-ns.pcap',
        cmd: 'tcpdump',
        args: ['-i', 'lo', '--time-stamp-precision', 'nano'],
        ready: tcpdumpReady,
      },
      { file: 'lo-cut.pcap', cmd: 'tcpdump', args: ['-i', 'lo', '-s', '60'], ready: tcpdumpReady },
      { file: 'any.pcap', cmd: 'tcpdump', args: ['-i', 'any'], ready: tcpdumpReady },
      {
        file: 'any-sll.pcap',
        cmd: 'tcpdump',
        args: ['-i', 'any', '-y', 'LINUX_SLL'],
        ready: tcpdumpReady,
      },
      // dumpcap says "File:" once its interfaces are open and the file is created
      {
        file: 'multi.pcapng',
        cmd: 'dumpcap',
        args: ['-q', '-n', '-i', 'lo', '-i', 'any'],
        ready: /File:/,
      },
    ];
    for (const c of capturers) {
      // --immediate-mode: without it packets wait in the kernel ring for up to a second
      // and are lost when tcpdump is interrupted
      if (c.cmd === 'tcpdump') {
        c.args.push('--immediate-mode', '-U', '-Z', 'root', '-w', file(c.file), filter);
      } else c.args.push('-f', filter, '-w', file(c.file));
    }
    const started = await Promise.allSettled(capturers.map(startCapture));
    const running = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) {
      await Promise.all(running.map((r) => r.stop()));
      throw failed.reason;
    }
    // (each capturer said it is running: startCapture waits for that)
    try {
      await sendTraffic(port);
      // the capturers write every packet as it comes (-U; dumpcap by default): wait
      // until each file holds the datagrams and some of the TCP conversation, on each
      // of its interfaces
      await waitFor(
        () => capturers.every((c) => holdsTraffic(file(c.file), c.file === 'multi.pcapng' ? 2 : 1)),
        {
          timeout: 10_000,
          what: 'every capture file to hold the traffic sent',
        },
      );
    } finally {
      await Promise.all(running.map((r) => r.stop()));
    }
    // pcapng written by tshark from a classic file: microsecond IDB without if_tsresol
    run('tshark', ['-r', file('lo-us.pcap'), '-F', 'pcapng', '-w', file('lo-us.pcapng')]);
    // and with if_tsresol 9, from the nanosecond file
    run('tshark', ['-r', file('lo-ns.pcap'), '-F', 'pcapng', '-w', file('lo-ns.pcapng')]);
  });
  after(() => {
    if (dir !== '' && !process.env.KEEP) rmSync(dir, { recursive: true, force: true });
  });

  /** The payloads of the datagrams this test sent, as found in the capture. */
  function sentPayloads(list: CaptureItem[], interfaceIndex = 0): Uint8Array[] {
    return packetsOf(list)
      .filter((p) => p.interfaceIndex === interfaceIndex)
      .map((p) => udpPayloadTo(p.packet, port))
      .filter((p): p is Uint8Array => p !== null);
  }
  const expected = SENT.map(([, p]) => p);

  const cases: Array<[string, number[]]> = [
    ['lo-us.pcap', [LINKTYPE_ETHERNET]],
    ['lo-ns.pcap', [LINKTYPE_ETHERNET]],
    ['any.pcap', [LINKTYPE_LINUX_SLL2]],
    ['any-sll.pcap', [LINKTYPE_LINUX_SLL]],
    ['lo-us.pcapng', [LINKTYPE_ETHERNET]],
    ['lo-ns.pcapng', [LINKTYPE_ETHERNET]],
  ];
  for (const [name, linkTypes] of cases) {
    it(`reads ${name} as tshark does, with every datagram sent`, () => {
      const bytes = readBytes(file(name));
      const list = items(bytes);
      assertMatchesTshark(file(name), list);
      assert.deepEqual(skippedOf(list), []);
      const packets = packetsOf(list);
      assert.ok(packets.length > SENT.length, `UDP and TCP packets: ${packets.length}`);
      for (const p of packets) {
        assert.ok(linkTypes.includes(p.linkType), `link type ${p.linkType}`);
        assert.equal(p.truncated, false);
        assert.equal(p.packet.buffer, bytes.buffer, 'a view of the file buffer, no copy');
      }
      assert.deepEqual(sentPayloads(list), expected);
    });
  }

  it('keeps nanoseconds from a nanosecond capture and microseconds from a microsecond one', () => {
    const us = packetsOf([...readCaptureFile(file('lo-us.pcap'))]);
    const ns = packetsOf([...readCaptureFile(file('lo-ns.pcap'))]);
    assert.ok(us.every((p) => p.tsNs % 1000n === 0n));
    assert.ok(
      ns.some((p) => p.tsNs % 1000n !== 0n),
      'some time has sub-microsecond digits',
    );
    for (const p of ns) {
      assert.ok(Math.abs(p.tsMs - Number(p.tsNs) / 1e6) < 0.001, 'tsMs agrees with tsNs');
      assert.ok(Math.abs(p.tsMs - Date.now()) < 3_600_000, 'captured within the hour');
    }
  });

  it('reads the two interfaces and link types of a dumpcap pcapng as tshark does', () => {
    const list = [...readCaptureFile(file('multi.pcapng'))];
    assertMatchesTshark(file('multi.pcapng'), list);
    const packets = packetsOf(list);
    const byIface = new Map<number, Set<number>>();
    for (const p of packets) {
      const s = byIface.get(p.interfaceIndex) ?? new Set<number>();
      s.add(p.linkType);
      byIface.set(p.interfaceIndex, s);
    }
    assert.deepEqual([...(byIface.get(0) ?? [])], [LINKTYPE_ETHERNET], 'lo is Ethernet');
    const any = [...(byIface.get(1) ?? [])];
    assert.equal(any.length, 1);
    assert.ok(
      any[0] === LINKTYPE_LINUX_SLL || any[0] === LINKTYPE_LINUX_SLL2,
      `any is cooked: ${any[0]}`,
    );
    assert.deepEqual(sentPayloads(list, 0), expected, 'every datagram on lo');
    assert.deepEqual(sentPayloads(list, 1), expected, 'every datagram on any');
  });

  it('marks the packets a 60-byte snap length cut as truncated, and only those', () => {
    const list = [...readCaptureFile(file('lo-cut.pcap'))];
    assertMatchesTshark(file('lo-cut.pcap'), list);
    const packets = packetsOf(list);
    const cut = packets.filter((p) => p.truncated);
    assert.ok(cut.length >= 4, 'the larger datagrams and TCP data were cut');
    for (const p of packets) {
      // libpcap's ring may cut a little short of the snap length (58 bytes here)
      assert.ok(p.capturedLength <= 60);
      assert.equal(p.truncated, p.originalLength > p.capturedLength, `packet ${p.packetNumber}`);
      if (p.truncated) {
        assert.equal(p.packet.length, p.capturedLength - 14, 'the IP view ends at the capture');
      }
    }
  });

  it('reads several pcapng sections one after the other, numbering packets on', () => {
    const a = readBytes(file('multi.pcapng'));
    const b = readBytes(file('lo-ns.pcapng'));
    const path = join(dir, 'sections.pcapng');
    writeFileSync(path, concat(a, b));
    const list = [...readCaptureFile(path)];
    assertMatchesTshark(path, list);
    const packets = packetsOf(list);
    const first = packetsOf([...readCaptureFile(file('multi.pcapng'))]).length;
    assert.ok(packets.slice(0, first).every((p) => p.section === 0));
    assert.ok(packets.slice(first).every((p) => p.section === 1 && p.interfaceIndex === 0));
    assert.equal(packets[first].packetNumber, first + 1);
  });

  it('reads a real capture rewritten big-endian as tshark does', () => {
    // classic pcap and pcapng, both rebuilt in the other byte order from what was read
    const src = packetsOf([...readCaptureFile(file('lo-ns.pcap'))]);
    const bePcap = pcapFile(
      { le: false, nano: true, linkType: LINKTYPE_ETHERNET },
      src.map((p) => ({ tsNs: p.tsNs, data: p.frame, orig: p.originalLength })),
    );
    const bePcapng = concat(
      shb(false),
      idb(false, LINKTYPE_ETHERNET, { tsresol: 9, name: 'lo' }),
      ...src.map((p) => epb(false, 0, p.tsNs, p.frame, p.originalLength)),
    );
    for (const [name, bytes] of [
      ['be.pcap', bePcap],
      ['be.pcapng', bePcapng],
    ] as const) {
      const path = join(dir, name);
      writeFileSync(path, bytes);
      const list = [...readCaptureFile(path)];
      assertMatchesTshark(path, list);
      assert.deepEqual(sentPayloads(list), expected);
    }
  });

  it('writes what it read into a pcap that tshark reads with the same times and packets', () => {
    for (const resolution of ['ns', 'us'] as const) {
      const src = packetsOf([...readCaptureFile(file('lo-ns.pcap'))]);
      const path = join(dir, `rewritten-${resolution}.pcap`);
      const opened = PcapWriter.toFile(path, { resolution, bufferSize: 4096 });
      assert.ok(opened.ok);
      for (const p of src) assert.equal(opened.writer.write(p.tsNs, p.packet), true);
      assert.equal(opened.writer.close(), null);
      const frames = tshark(path);
      assert.equal(frames.length, src.length);
      frames.forEach((f, i) => {
        const want = resolution === 'ns' ? src[i].tsNs : (src[i].tsNs / 1000n) * 1000n;
        assert.equal(f.tsNs, want);
        assert.equal(f.len, src[i].packet.length);
        assert.equal(f.ipLen, src[i].packet.length);
        assert.equal(f.ipSrc, ipSource(src[i]));
      });
      const back = packetsOf([...readCaptureFile(path)]);
      assert.deepEqual(
        back.map((p) => p.packet),
        src.map((p) => p.packet),
      );
      assert.ok(back.every((p) => p.linkType === LINKTYPE_RAW));
    }
  });

  it('never throws on a real capture with bytes damaged at random', () => {
    let seed = 0x2545f491;
    const rnd = (n: number): number => {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return (seed >>> 0) % n;
    };
    for (const name of ['lo-ns.pcap', 'multi.pcapng']) {
      const good = readBytes(file(name));
      for (let round = 0; round < 400; round++) {
        const bad = Uint8Array.from(good);
        for (let k = 1 + rnd(4); k > 0; k--) bad[rnd(bad.length)] = rnd(256);
        const list = items(round % 3 === 0 ? bad.subarray(0, rnd(bad.length)) : bad);
        for (const p of problemsOf(list)) assert.doesNotMatch(p.message, /internal error/);
        assert.ok(problemsOf(list).filter((p) => p.fatal).length <= 1);
      }
    }
  });
});

// ---------------------------------------------------------------------------------------
// Link layers and format variants, hand-built and checked with tshark

describe('link layers', () => {
  it('finds IP behind Ethernet, 802.1Q and 802.1ad tags, and trims Ethernet padding', () => {
    requireTools('tshark');
    const small = ipv4Udp(2); // 30 bytes: padded to a 60-byte frame
    const recs: PcapRec[] = [
      { tsNs: T0, data: ether(0x0800, small) },
      { tsNs: T0 + 1n, data: ether(0x0800, ipv4Udp(10), [[0x8100, 100]]) },
      {
        tsNs: T0 + 2n,
        data: ether(0x86dd, ipv6Udp(10), [
          [0x88a8, 200],
          [0x8100, 300],
        ]),
      },
      { tsNs: T0 + 3n, data: ether(0x0806, arpRequest()) },
    ];
    const bytes = pcapFile({ nano: true, linkType: LINKTYPE_ETHERNET }, recs);
    const list = items(bytes);
    assertMatchesTshark(scratchFile('vlan.pcap', bytes), list);
    const [p1, p2, p3] = packetsOf(list);
    assert.equal(p1.packet.length, small.length, 'padding is not part of the IP packet');
    assert.deepEqual(p1.packet, small);
    assert.equal(p1.frame.length, 60);
    assert.deepEqual(p2.packet, ipv4Udp(10));
    assert.equal(p3.ipVersion, 6);
    assert.deepEqual(p3.packet, ipv6Udp(10));
    const [arp] = skippedOf(list);
    assert.equal(arp.packetNumber, 4);
    assert.equal(arp.reason, 'ethertype 0x0806 (ARP)');
    assert.equal(arp.tsNs, T0 + 3n);
  });

  it('reads raw IP (101, 228, 229) and BSD loopback (0, 108) frames as tshark does', () => {
    requireTools('tshark');
    const v4 = ipv4Udp(5);
    const v6 = ipv6Udp(5);
    const cases: Array<[string, number, Uint8Array[], number[]]> = [
      ['raw.pcap', LINKTYPE_RAW, [v4, v6], [4, 6]],
      ['ipv4.pcap', LINKTYPE_IPV4, [v4], [4]],
      ['ipv6.pcap', LINKTYPE_IPV6, [v6], [6]],
      [
        'null.pcap',
        LINKTYPE_NULL,
        [
          concat(new Bytes(true).u32(2).out(), v4),
          concat(new Bytes(true).u32(28).out(), v6), // FreeBSD AF_INET6
          concat(new Bytes(false).u32(30).out(), v6), // written big-endian, Darwin AF_INET6
        ],
        [4, 6, 6],
      ],
      [
        'loop.pcap',
        LINKTYPE_LOOP,
        [concat(new Bytes(false).u32(2).out(), v4), concat(new Bytes(false).u32(24).out(), v6)],
        [4, 6],
      ],
    ];
    for (const [name, linkType, frames, versions] of cases) {
      const bytes = pcapFile(
        { linkType },
        frames.map((data, i) => ({ tsNs: T0 + BigInt(i) * 1000n, data })),
      );
      const list = items(bytes);
      assertMatchesTshark(scratchFile(name, bytes), list);
      const packets = packetsOf(list);
      assert.deepEqual(
        packets.map((p) => p.ipVersion),
        versions,
        name,
      );
      packets.forEach((p) => assert.deepEqual(p.packet, p.ipVersion === 4 ? v4 : v6, name));
    }
  });

  it('skips a raw frame that is not IP, with the reason', () => {
    const bytes = pcapFile({ linkType: LINKTYPE_RAW }, [
      { tsNs: T0, data: Uint8Array.from([0x50, 0, 0, 0]) },
      { tsNs: T0, data: new Uint8Array(0) },
      { tsNs: T0, data: ipv4Udp(1) },
    ]);
    const list = items(bytes);
    assert.deepEqual(
      list.map((i) => (i.kind === 'skipped' ? i.reason : i.kind)),
      ['IP version 5', 'empty frame', 'packet'],
    );
  });

  it('finds IP behind Linux cooked headers, v1 with a VLAN tag and v2', () => {
    requireTools('tshark');
    const v4 = ipv4Udp(8);
    const sll = (proto: number, payload: Uint8Array): Uint8Array =>
      new Bytes(false).u16(0).u16(1).u16(6).raw(MAC_A).u16(0).u16(proto).raw(payload).out();
    const sll2 = (proto: number, payload: Uint8Array): Uint8Array =>
      new Bytes(false)
        .u16(proto)
        .u16(0)
        .u32(3)
        .u16(1)
        .u8(4)
        .u8(6)
        .raw(MAC_B)
        .u16(0)
        .raw(payload)
        .out();
    const tagged = concat(new Bytes(false).u16(42).u16(0x0800).out(), v4);
    const v1 = pcapFile({ linkType: LINKTYPE_LINUX_SLL }, [
      { tsNs: T0, data: sll(0x0800, v4) },
      { tsNs: T0, data: sll(0x8100, tagged) },
      { tsNs: T0, data: sll(0x0806, arpRequest()) },
    ]);
    const v2 = pcapFile({ linkType: LINKTYPE_LINUX_SLL2 }, [
      { tsNs: T0, data: sll2(0x86dd, ipv6Udp(3)) },
      { tsNs: T0, data: sll2(0x8100, tagged) },
      { tsNs: T0, data: sll2(0x0806, arpRequest()) },
    ]);
    for (const [name, bytes] of [
      ['sll.pcap', v1],
      ['sll2.pcap', v2],
    ] as const) {
      const list = items(bytes);
      assertMatchesTshark(scratchFile(name, bytes), list);
      assert.equal(packetsOf(list).length, 2);
      assert.deepEqual(packetsOf(list)[1].packet, v4, `${name}: behind the VLAN tag`);
      assert.match(skippedOf(list)[0].reason, /0x0806 \(ARP\)/);
    }
  });
});

describe('pcapng blocks', () => {
  it('reads EPB, SPB and obsolete PB, skips other blocks, and honours if_tsresol and if_tsoffset', () => {
    requireTools('tshark');
    const le = true;
    const unknownBlock = block(le, 0x12345678, (b) => b.u32(0xdeadbeef));
    // Wireshark numbers a custom block as a frame, so the packets after it number on from it
    const customBlock = block(le, 0x00000bad, (b) => b.u32(32473).u32(1));
    const isb = block(le, 5, (b) => b.u32(0).u32(0).u32(0));
    const dsb = block(le, 0x0a, (b) => b.u32(0x544c534b).u32(4).u32(0x61626364));
    const bytes = concat(
      shb(le),
      idb(le, LINKTYPE_RAW, { snaplen: 65535 }), // 0: microseconds by default
      idb(le, LINKTYPE_ETHERNET, { tsresol: 3 }), // 1: milliseconds
      idb(le, LINKTYPE_RAW, { tsresol: 0x80 | 10 }), // 2: 1/1024 s
      idb(le, LINKTYPE_RAW, { tsresol: 9, tsoffset: 100n }), // 3: ns, 100 s later
      epb(le, 0, 1_700_000_000_123_456n, ipv4Udp(1)),
      unknownBlock,
      dsb,
      epb(le, 1, 1_700_000_000_123n, ether(0x0800, ipv4Udp(2))),
      customBlock,
      epb(le, 2, 1_700_000_000n * 1024n + 512n, ipv4Udp(3)),
      epb(le, 3, T0, ipv6Udp(4)),
      spb(le, ipv4Udp(5)),
      pb(le, 0, 1_700_000_001_000_000n, ipv4Udp(6)),
      isb,
    );
    const list = items(bytes);
    assert.deepEqual(problemsOf(list), []);
    const packets = packetsOf(list);
    assert.deepEqual(
      packets.map((p) => [p.packetNumber, p.interfaceIndex, p.tsNs, p.hasTimestamp]),
      [
        [1, 0, 1_700_000_000_123_456_000n, true],
        [2, 1, 1_700_000_000_123_000_000n, true],
        [4, 2, 1_700_000_000_500_000_000n, true],
        [5, 3, T0 + 100_000_000_000n, true],
        [6, 0, T0 + 100_000_000_000n, false], // SPB: no time of its own
        [7, 0, 1_700_000_001_000_000_000n, true],
      ],
    );
    assert.deepEqual(
      packets.map((p) => udpPayloadTo(p.packet, 53)?.length),
      [1, 2, 3, 4, 5, 6],
    );
    // tshark agrees on numbers, lengths, and the time of everything that has one
    const frames = tshark(scratchFile('blocks.pcapng', bytes));
    assert.equal(frames.length, 7);
    for (const p of packets) {
      const f = frames[p.packetNumber - 1];
      assert.equal(f.number, p.packetNumber);
      assert.equal(f.len, p.originalLength, `frame ${f.number} length`);
      if (p.hasTimestamp) assert.equal(f.tsNs, p.tsNs, `frame ${f.number} time`);
    }
  });

  it('starts afresh at each section, whatever its byte order', () => {
    requireTools('tshark');
    const bytes = concat(
      shb(true),
      idb(true, LINKTYPE_RAW, { tsresol: 9 }),
      epb(true, 0, T0, ipv4Udp(1)),
      shb(false),
      idb(false, LINKTYPE_ETHERNET, { tsresol: 9 }),
      epb(false, 0, T0 + 5n, ether(0x0800, ipv4Udp(2))),
    );
    const list = items(bytes);
    assertMatchesTshark(scratchFile('sections.pcapng', bytes), list);
    assert.deepEqual(
      packetsOf(list).map((p) => [p.packetNumber, p.section, p.linkType, p.tsNs]),
      [
        [1, 0, LINKTYPE_RAW, T0],
        [2, 1, LINKTYPE_ETHERNET, T0 + 5n],
      ],
    );
  });
});

// ---------------------------------------------------------------------------------------
// Damaged input: a problem at the right packet number, reading on where it can

function summary(list: CaptureItem[]): string[] {
  return list.map((i) =>
    i.kind === 'problem'
      ? `problem ${i.packetNumber}${i.fatal ? ' fatal' : ''}`
      : `${i.kind} ${i.packetNumber}`,
  );
}

const FOUR = [ipv4Udp(10, 1), ipv4Udp(20, 2), ipv4Udp(30, 3), ipv4Udp(40, 4)];
const fourPcap = (): Uint8Array =>
  pcapFile(
    { linkType: LINKTYPE_RAW },
    FOUR.map((data, i) => ({ tsNs: T0 + BigInt(i) * 1_000_000n, data })),
  );
const fourPcapng = (): Uint8Array =>
  concat(
    shb(true),
    idb(true, LINKTYPE_RAW),
    ...FOUR.map((data, i) => epb(true, 0, 1_700_000_000_000_000n + BigInt(i), data)),
  );

describe('damaged captures', () => {
  it('reports a file that is not a capture, without throwing', () => {
    const cases: Array<[Uint8Array, RegExp]> = [
      [new Uint8Array(0), /only 0 bytes/],
      [Uint8Array.from([0xd4, 0xc3, 0xb2]), /only 3 bytes/],
      [new TextEncoder().encode('GET / HTTP/1.1\r\n'), /not a pcap or pcapng file: .*47 45 54 20/],
      [Uint8Array.from([0x1f, 0x8b, 8, 0, 0, 0]), /gzip/],
    ];
    for (const [bytes, message] of cases) {
      const list = items(bytes);
      assert.deepEqual(summary(list), ['problem 1 fatal']);
      assert.match((list[0] as CaptureProblem).message, message);
    }
    const missing = [...readCaptureFile('/nonexistent/capture.pcap')];
    assert.deepEqual(summary(missing), ['problem 1 fatal']);
    assert.match((missing[0] as CaptureProblem).message, /cannot read .*ENOENT/);
  });

  it('reports a truncated file header', () => {
    const list = items(fourPcap().subarray(0, 20));
    assert.deepEqual(summary(list), ['problem 1 fatal']);
    assert.match((list[0] as CaptureProblem).message, /truncated pcap file header: 20 of 24/);
    const ng = items(fourPcapng().subarray(0, 10));
    assert.deepEqual(summary(ng), ['problem 1 fatal']);
  });

  it('reports a record cut short at the end of the file at its packet number', () => {
    const whole = fourPcap();
    const start4 = whole.length - (16 + FOUR[3].length);
    for (const cutAt of [start4 + 7, start4 + 16 + 5]) {
      const list = items(whole.subarray(0, cutAt));
      assert.deepEqual(summary(list), ['packet 1', 'packet 2', 'packet 3', 'problem 4 fatal']);
      assert.match((list[3] as CaptureProblem).message, /truncated record/);
    }
    const ng = fourPcapng();
    const list = items(ng.subarray(0, ng.length - 10));
    assert.deepEqual(summary(list), ['packet 1', 'packet 2', 'packet 3', 'problem 4 fatal']);
    assert.match((list[3] as CaptureProblem).message, /runs past the end of the file/);
  });

  it('yields every whole packet before the cut, wherever a file is cut', () => {
    for (const whole of [fourPcap(), fourPcapng()]) {
      const full = packetsOf(items(whole));
      for (let cut = 0; cut <= whole.length; cut++) {
        const list = items(whole.subarray(0, cut));
        const packets = packetsOf(list);
        assert.deepEqual(
          packets.map((p) => p.packet),
          full.slice(0, packets.length).map((p) => p.packet),
        );
        const problems = problemsOf(list);
        assert.ok(problems.length <= 1 && problems.every((p) => p.fatal), `cut at ${cut}`);
        if (problems.length === 1) assert.equal(problems[0].packetNumber, packets.length + 1);
      }
    }
  });

  it('skips a pcap record with an absurd length and finds the next record', () => {
    const whole = fourPcap();
    const rec2 = 24 + 16 + FOUR[0].length;
    new DataView(whole.buffer).setUint32(rec2 + 8, 0x7fffffff, true);
    const list = items(whole);
    assert.deepEqual(summary(list), ['packet 1', 'problem 2', 'packet 3', 'packet 4']);
    assert.match((list[1] as CaptureProblem).message, /captured length 2147483647 .*resumes/);
    assert.deepEqual(packetsOf(list)[1].packet, FOUR[2]);
  });

  it('skips a pcapng block with an absurd length and finds the next block', () => {
    const whole = fourPcapng();
    const shbLen = shb(true).length;
    const idbLen = idb(true, LINKTYPE_RAW).length;
    const epb2 = shbLen + idbLen + epb(true, 0, 0n, FOUR[0]).length;
    new DataView(whole.buffer).setUint32(epb2 + 4, 0x7ffffff0, true);
    const list = items(whole);
    assert.deepEqual(summary(list), ['packet 1', 'problem 2', 'packet 3', 'packet 4']);
    assert.match((list[1] as CaptureProblem).message, /runs past the end.*resumes/);
    new DataView(whole.buffer).setUint32(epb2 + 4, 13, true);
    const odd = items(whole);
    assert.deepEqual(summary(odd), ['packet 1', 'problem 2', 'packet 3', 'packet 4']);
    assert.match((odd[1] as CaptureProblem).message, /bad block length 13/);
  });

  it('reports an unknown link type once and skips its packets', () => {
    const USER0 = 147;
    const list = items(
      pcapFile({ linkType: USER0 }, [
        { tsNs: T0, data: ipv4Udp(1) },
        { tsNs: T0, data: ipv4Udp(2) },
      ]),
    );
    assert.deepEqual(summary(list), ['problem 1', 'skipped 1', 'skipped 2']);
    assert.match((list[0] as CaptureProblem).message, /unsupported link type 147/);
    assert.equal((list[1] as CaptureSkipped).reason, 'unsupported link type 147');
    const ng = items(
      concat(
        shb(true),
        idb(true, LINKTYPE_RAW),
        idb(true, USER0),
        epb(true, 1, 0n, ipv4Udp(1)),
        epb(true, 0, 0n, ipv4Udp(2)),
        epb(true, 7, 0n, ipv4Udp(3)),
      ),
    );
    assert.deepEqual(summary(ng), ['problem 1', 'skipped 1', 'packet 2', 'problem 3']);
    assert.match((ng[0] as CaptureProblem).message, /interface 1: unsupported link type 147/);
    assert.match((ng[3] as CaptureProblem).message, /interface 7, which was not described/);
  });

  it('marks a packet cut by the snap length as truncated at its packet number', () => {
    const big = ipv4Udp(200);
    const list = items(
      pcapFile({ linkType: LINKTYPE_RAW, snaplen: 64 }, [
        { tsNs: T0, data: ipv4Udp(5) },
        { tsNs: T0, data: big.subarray(0, 64), orig: big.length },
        // whole by the record's lengths, but the IP header claims more than is there
        { tsNs: T0, data: big.subarray(0, 100) },
        { tsNs: T0, data: big.subarray(0, 12), orig: big.length },
      ]),
    );
    assert.deepEqual(
      packetsOf(list).map((p) => [p.packetNumber, p.truncated, p.packet.length]),
      [
        [1, false, 33],
        [2, true, 64],
        [3, true, 100],
        [4, true, 12],
      ],
    );
  });

  it('reports captured bytes longer than the original and keeps the packet', () => {
    const list = items(
      pcapFile({ linkType: LINKTYPE_RAW }, [{ tsNs: T0, data: ipv4Udp(5), orig: 10 }]),
    );
    assert.deepEqual(summary(list), ['problem 1', 'packet 1']);
    assert.equal(packetsOf(list)[0].originalLength, 33);
  });
});

// ---------------------------------------------------------------------------------------
// Writer

describe('PcapWriter', () => {
  it('round-trips packets through memory with ns and us resolution', () => {
    const packets = [ipv4Udp(1), ipv6Udp(2), ipv4Udp(3000)];
    for (const resolution of ['ns', 'us'] as const) {
      const w = PcapWriter.toMemory({ resolution, bufferSize: 1024 });
      packets.forEach((p, i) => w.write(T0 + BigInt(i), p));
      assert.equal(w.packets, 3);
      const list = items(w.bytes());
      assert.equal(w.close(), null);
      assert.deepEqual(problemsOf(list), []);
      const back = packetsOf(list);
      assert.deepEqual(
        back.map((p) => p.packet),
        packets,
      );
      assert.deepEqual(
        back.map((p) => p.tsNs),
        packets.map((_, i) => (resolution === 'ns' ? T0 + BigInt(i) : (T0 / 1000n) * 1000n)),
      );
    }
  });

  it('writes a slice of a larger buffer, cuts at the snap length and keeps the original length', () => {
    const pkt = ipv4Udp(100);
    const buf = concat(new Uint8Array(7), pkt, new Uint8Array(9));
    const w = PcapWriter.toMemory({ snaplen: 50 });
    w.write(T0, buf, 7, pkt.length);
    w.write(T0, pkt, 0, 40, 1500);
    const [a, b] = packetsOf(items(w.bytes()));
    assert.equal(a.capturedLength, 50);
    assert.equal(a.originalLength, pkt.length);
    assert.deepEqual(a.packet, pkt.subarray(0, 50));
    assert.equal(a.truncated, true);
    assert.equal(b.originalLength, 1500);
    assert.equal(b.capturedLength, 40);
  });

  it('writes Ethernet frames that tshark reads, and raw IP in a file tshark reads', () => {
    requireTools('tshark');
    const frames = [ether(0x0800, ipv4Udp(4)), ether(0x86dd, ipv6Udp(6))];
    const eth = PcapWriter.toMemory({ linkType: LINKTYPE_ETHERNET });
    frames.forEach((f, i) => eth.write(T0 + BigInt(i) * 1_000_000_000n, f));
    const bytes = eth.bytes();
    assertMatchesTshark(scratchFile('writer-eth.pcap', bytes), items(bytes));

    const path = join(scratch, 'writer-raw.pcap');
    const opened = PcapWriter.toFile(path, { bufferSize: 64 });
    assert.ok(opened.ok);
    // larger than the buffer, so it goes past it
    const raw = [ipv4Udp(10), ipv4Udp(500), ipv6Udp(20)];
    raw.forEach((p, i) => opened.writer.write(T0 + BigInt(i), p));
    assert.equal(opened.writer.close(), null);
    assert.equal(opened.writer.close(), null, 'closing twice is harmless');
    const list = [...readCaptureFile(path)];
    assertMatchesTshark(path, list);
    assert.deepEqual(
      packetsOf(list).map((p) => p.packet),
      raw,
    );
    assert.throws(() => opened.writer.write(T0, raw[0]), /write after close/);
  });

  it('reports a file it cannot open as a value, and rejects impossible arguments', () => {
    const r = PcapWriter.toFile('/nonexistent-dir/out.pcap');
    assert.equal(r.ok, false);
    if (!r.ok) assert.match(r.message, /cannot write \/nonexistent-dir\/out.pcap: .*ENOENT/);
    const w = PcapWriter.toMemory();
    assert.throws(() => w.write(-1n, ipv4Udp(1)), RangeError);
    assert.throws(() => w.write(1n << 64n, ipv4Udp(1)), RangeError);
    assert.throws(() => w.write(0n, ipv4Udp(1), 10, 100), RangeError);
    assert.equal(w.packets, 0);
  });

  it('stops at the first write error and returns it from close', () => {
    if (!existsSync('/dev/full')) return; // Linux only
    const opened = PcapWriter.toFile('/dev/full', { bufferSize: 64 });
    assert.ok(opened.ok);
    const w = opened.writer;
    let accepted = 0;
    for (let i = 0; i < 10; i++) if (w.write(T0, ipv4Udp(100))) accepted++;
    assert.ok(accepted < 10);
    assert.match(w.error ?? '', /ENOSPC/);
    assert.match(w.close() ?? '', /ENOSPC/);
  });
});
