/**
 * The kernel's SYN cookies (bpf/syncookie.c) against the engine's: the program is
 * built and loaded as the daemon loads it (SynCookies), run on crafted SYN frames with
 * BPF_PROG_TEST_RUN (`bpftool prog run`), and its SYN-ACK compared byte for byte with
 * the one the engine makes for the same SYN at the same time — the cookie, the
 * options, the headers — except the timestamp value's clock bits (the two clocks are
 * read a moment apart); the checksums are verified independently, and the cookie is
 * checked by the engine's own check.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Engine, V_REPLY } from '../../src/engine/engine.js';
import { SVC_F_SYNPROXY } from '../../src/engine/constants.js';
import { SpCounter } from '../../src/engine/synproxy-state.js';
import { cookieCount } from '../../src/engine/synproxy-cookie.js';
import { SynCookies } from '../../src/dataplane/syncookie.js';
import { steerBatch, steerNames } from '../../src/dataplane/steer.js';
import { addService, engineWith, send } from '../engine/fixture.js';
import {
  ACK,
  SYN,
  buildPacket,
  ipv4HeaderValid,
  l4ChecksumValid,
  rng,
  type PacketSpec,
} from '../helpers/packets.js';

const VIP = '10.0.3.100';
const VIP6 = '2001:db8:3::100';
const CIP = '10.0.1.2';
const CIP6 = '2001:db8:1::2';
const be32 = (v: number) => [(v >>> 24) & 255, (v >>> 16) & 255, (v >>> 8) & 255, v & 255];
const optMss = (m: number) => [2, 4, m >> 8, m & 255];
const optTs = (v: number, e: number) => [1, 1, 8, 10, ...be32(v), ...be32(e)];
const optWs = (s: number) => [1, 3, 3, s];
const optSackOk = [1, 1, 4, 2];
const rd32 = (b: Uint8Array, i: number) =>
  ((b[i] << 24) | (b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3]) >>> 0;

function engine(): Engine {
  const e = engineWith(
    { random: rng(7) },
    { af: 4, protocol: 6, addr: VIP, port: 80 },
    { scheduler: 'rr', flags: SVC_F_SYNPROXY },
    { addr: '10.0.2.11', port: 8080, fwd: 'masq' },
  );
  // not proxied: its SYNs go to the engine
  addService(
    e,
    { af: 4, protocol: 6, addr: VIP, port: 81 },
    { scheduler: 'rr' },
    { addr: '10.0.2.11', port: 8081, fwd: 'masq' },
  );
  // every port of the VIP6, proxied
  addService(
    e,
    { af: 6, protocol: 6, addr: VIP6, port: 0 },
    { scheduler: 'rr', flags: SVC_F_SYNPROXY },
    { addr: '2001:db8:2::11', port: 0, fwd: 'masq' },
  );
  return e;
}

/** Loading BPF programs and BPF_PROG_TEST_RUN need root (as the e2e tests). */
const skip = process.getuid && process.getuid() !== 0 ? 'loading BPF programs needs root' : false;

const e = engine();
const sc = new SynCookies({ engine: e, name: 'e2esb-unit', netns: undefined, log: () => {} });
const dir = mkdtempSync(join(tmpdir(), 'e2esb-'));
after(() => {
  sc.unload();
  rmSync(dir, { recursive: true, force: true });
});

/** The frame around an IP packet: to MAC 0 (the test device's: PACKET_HOST), from 02:..:01. */
function frame(ip: Uint8Array): Uint8Array {
  const f = new Uint8Array(14 + ip.length);
  f.set([2, 0, 0, 0, 0, 1], 6);
  f[12] = ip[0] >> 4 === 6 ? 0x86 : 0x08;
  f[13] = ip[0] >> 4 === 6 ? 0xdd : 0x00;
  f.set(ip, 14);
  return f;
}

/** Runs the program once on `pkt` (an IP packet): its return value and output frame. */
function run(pkt: Uint8Array): { ret: number; out: Uint8Array } {
  const fin = join(dir, 'in');
  const fout = join(dir, 'out');
  writeFileSync(fin, frame(pkt));
  rmSync(fout, { force: true });
  const o = execFileSync(
    'bpftool',
    ['prog', 'run', 'pinned', sc.progPath, 'data_in', fin, 'data_out', fout, 'repeat', '1'],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const m = /Return value: (\d+)/.exec(o);
  assert.ok(m, o);
  return { ret: Number(m[1]) | 0, out: new Uint8Array(readFileSync(fout)) };
}

const TC_ACT_UNSPEC = -1;
const TC_ACT_REDIRECT = 7;

test('the program loads and answers only the proxied services', { skip }, async () => {
  assert.ok(await sc.load(), `the program loads (${sc.reason})`);
  assert.equal(sc.services, 2);
  assert.ok(sc.wanted);
});

/** The kernel's SYN-ACK equals the engine's for this SYN (the clock bits of TSval aside). */
function same(spec: PacketSpec): void {
  const syn = buildPacket(spec);
  for (let attempt = 0; ; attempt++) {
    const t0 = Date.now();
    const k = run(syn);
    const { v, pkt } = send(e, 'in', spec, Date.now());
    const t1 = Date.now();
    if (cookieCount(t0) !== cookieCount(t1) && attempt < 3) continue; // a minute ended between
    assert.equal(k.ret, TC_ACT_REDIRECT);
    assert.equal(v, V_REPLY);
    // Ethernet: the addresses swapped
    assert.deepEqual([...k.out.subarray(0, 6)], [2, 0, 0, 0, 0, 1]);
    assert.deepEqual([...k.out.subarray(6, 12)], [0, 0, 0, 0, 0, 0]);
    const kp = k.out.subarray(14);
    assert.equal(kp.length, pkt.length, 'same length');
    assert.ok(l4ChecksumValid(kp), 'the kernel SYN-ACK: TCP checksum');
    if (kp[0] >> 4 === 4) assert.ok(ipv4HeaderValid(kp), 'the kernel SYN-ACK: IPv4 checksum');
    const l4 = kp[0] >> 4 === 6 ? 40 : 20;
    // the timestamp option, if any: compare its value apart, then mask it and the checksum
    const a = Uint8Array.from(kp);
    const b = Uint8Array.from(pkt);
    for (let p = l4 + 20; p < l4 + ((b[l4 + 12] >> 4) << 2);) {
      if (b[p] === 1) {
        p++;
        continue;
      }
      if (b[p] === 8) {
        const tk = rd32(a, p + 2);
        const te = rd32(b, p + 2);
        assert.equal(tk & 0x3f, te & 0x3f, 'the options encoded in TSval');
        assert.ok(Math.abs(te - tk) < 5000, `TSval from the engine's clock (${tk} vs ${te})`);
        a.fill(0, p + 2, p + 6);
        b.fill(0, p + 2, p + 6);
      }
      p += b[p + 1];
    }
    a.fill(0, l4 + 16, l4 + 18);
    b.fill(0, l4 + 16, l4 + 18);
    assert.deepEqual([...a], [...b], 'the same SYN-ACK, cookie included');
    return;
  }
}

test('IPv4: SYN-ACK and cookie as the engine makes them, for each option set', { skip }, () => {
  const base = { src: CIP, dst: VIP, sport: 40000, dport: 80, flags: SYN };
  const sets: number[][] = [
    [...optMss(1460), ...optSackOk, ...optTs(1000, 0), ...optWs(9)],
    [...optMss(1300), ...optTs(0xfffffff0, 0)],
    [...optMss(1200), ...optSackOk, ...optWs(15)], // no timestamps: no SACK, no scaling
    [...optMss(9000), ...optTs(5, 0), ...optWs(2)],
    [], // no options at all: the default MSS
    [1, 1, 1, 1, ...optWs(3), ...optMss(536), ...optTs(77, 0), ...optSackOk],
  ];
  let seq = 0x10000000;
  for (const tcpOptions of sets) {
    same({ ...base, seq, tcpOptions });
    seq = (seq * 7 + 0x1234567) >>> 0;
  }
  // other ports and addresses: other cookies
  same({ ...base, sport: 1, seq: 0xffffffff, tcpOptions: optMss(1440) });
});

test('IPv6: the same, for a service of every port', { skip }, () => {
  same({
    src: CIP6,
    dst: VIP6,
    sport: 50000,
    dport: 443,
    flags: SYN,
    seq: 0xdeadbeef,
    tcpOptions: [...optMss(1440), ...optSackOk, ...optTs(99, 0), ...optWs(7)],
  });
  same({ src: CIP6, dst: VIP6, sport: 50001, dport: 8443, flags: SYN, seq: 1, tcpOptions: [] });
});

test("the engine accepts the kernel's cookie in the client's ACK", { skip }, () => {
  const syn = buildPacket({
    src: CIP,
    dst: VIP,
    sport: 41000,
    dport: 80,
    flags: SYN,
    seq: 5000,
    tcpOptions: [...optMss(1460), ...optTs(10, 0)],
  });
  const k = run(syn).out.subarray(14);
  const cookie = rd32(k, 24);
  const tsval = rd32(k, 20 + 20 + 4 + 4);
  const valid = e.ipvs.sp.counters[SpCounter.COOKIES_VALID];
  const { v } = send(
    e,
    'in',
    {
      src: CIP,
      dst: VIP,
      sport: 41000,
      dport: 80,
      flags: ACK,
      seq: 5001,
      ack: (cookie + 1) >>> 0,
      tcpOptions: optTs(11, tsval),
    },
    Date.now(),
  );
  assert.equal(e.ipvs.sp.counters[SpCounter.COOKIES_VALID], valid + 1);
  assert.notEqual(v, V_REPLY);
  assert.equal(e.conns.count, 1);
});

test('everything else is left to the next filter', { skip }, () => {
  const spec = (x: Partial<PacketSpec>): Uint8Array =>
    buildPacket({ src: CIP, dst: VIP, sport: 40000, dport: 80, flags: SYN, seq: 1, ...x });
  // not proxied; an ACK; SYN-ACK; a SYN with data; IPv4 options; another VIP
  for (const p of [
    spec({ dport: 81 }),
    spec({ flags: ACK }),
    spec({ flags: SYN | ACK }),
    spec({ payload: 'x' }),
    spec({ options: [1, 1, 1, 0] }),
    spec({ dst: '10.0.3.101' }),
  ])
    assert.equal(run(p).ret, TC_ACT_UNSPEC);
});

test('the SYN-ACKs sent in the kernel are counted as cookies sent', { skip }, () => {
  const before = e.ipvs.sp.counters[SpCounter.COOKIES_SENT_KERNEL];
  const sent = e.ipvs.sp.counters[SpCounter.COOKIES_SENT];
  sc.fold();
  const n = e.ipvs.sp.counters[SpCounter.COOKIES_SENT_KERNEL] - before;
  // the runs above: 7 + 2 + 1 answered (retries of a minute's end aside)
  assert.ok(n >= 10 && n <= 13, `kernel SYN-ACKs folded: ${n}`);
  assert.equal(e.ipvs.sp.counters[SpCounter.COOKIES_SENT] - sent, n);
  assert.equal(e.ipvs.sp.counters[SpCounter.KERNEL_ERRORS], 0);
  // the service leaves the proxy: its SYNs go to the engine
  e.editService({ af: 4, protocol: 6, addr: VIP, port: 80 }, { scheduler: 'rr', flags: 0 });
  sc.sync();
  assert.equal(sc.services, 1);
  assert.equal(
    run(buildPacket({ src: CIP, dst: VIP, sport: 1, dport: 80, flags: SYN, seq: 1 })).ret,
    TC_ACT_UNSPEC,
  );
});

test('steering: the program is attached in the fast path priority, in front of the u32 filters', () => {
  const n = steerNames('e2esb', 7100);
  const lines = steerBatch(
    n,
    ['eth0'],
    { req4: ['match ip dst 10.0.3.100/32'], req6: [], rep4: [], rep6: [] },
    '/run/fp/prog',
    new Map(),
    '/run/sc/prog',
  );
  const at = (s: string): number => lines.findIndex((l) => l.includes(s));
  assert.ok(
    at('object-pinned /run/sc/prog direct-action') > at('filter del dev eth0 ingress pref 7099'),
  );
  assert.match(lines[at('/run/sc/prog')], /ingress pref 7099 protocol all bpf/);
  assert.ok(at('/run/sc/prog') < at(' u32 '));
  // without the fast path's program it is attached alone
  const alone = steerBatch(
    n,
    ['eth0'],
    { req4: [], req6: [], rep4: [], rep6: [] },
    null,
    new Map(),
    '/p',
  );
  assert.equal(alone.filter((l) => l.includes(' bpf ')).length, 1);
});

test(
  'a program the kernel refuses: off, with the reason kept for the metrics and logged',
  { skip },
  async () => {
    const src = join(dir, 'bad.c');
    const obj = join(dir, 'bad.o');
    // reads the packet without a bounds check: the verifier refuses it
    writeFileSync(
      src,
      '#include <linux/bpf.h>\n#include <bpf/bpf_helpers.h>\n' +
        'SEC("tc") int bad(struct __sk_buff *skb) { return *(int *)(long)skb->data; }\n' +
        'char LICENSE[] SEC("license") = "GPL";\n',
    );
    execFileSync(
      'clang',
      [
        '-O2',
        '-target',
        'bpf',
        `-I/usr/include/${process.arch === 'arm64' ? 'aarch64' : 'x86_64'}-linux-gnu`,
        '-c',
        src,
        '-o',
        obj,
      ],
      { stdio: 'pipe' },
    );
    const lines: string[] = [];
    const bad = new SynCookies({
      engine: e,
      name: 'e2esb-bad',
      netns: undefined,
      log: (l) => lines.push(l),
    });
    process.env.TSVS_SYNCOOKIE_OBJ = obj;
    try {
      assert.equal(await bad.load(), false);
    } finally {
      delete process.env.TSVS_SYNCOOKIE_OBJ;
      bad.unload();
    }
    assert.equal(bad.on, false);
    assert.equal(bad.wanted, false);
    assert.equal(
      bad.state.reason,
      'the kernel refused the program: R1 offset is outside of the packet',
    );
    assert.equal(lines.length, 1);
    assert.match(
      lines[0],
      /SYN cookies in the kernel off \(SYNs go to the daemon\): the kernel refused/,
    );
  },
);
