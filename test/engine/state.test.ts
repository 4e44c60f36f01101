/**
 * The engine's state, saved and restored (src/engine/state.ts): an engine restored
 * from another one's state in the middle of its traffic behaves from then on exactly
 * like the engine that never stopped — the same verdicts and bytes for every packet
 * (scheduler choices, persistence, NAT, the FTP helper's seq adjustment), the same
 * `ipvsadm -L -c` listing with the same timers, the same counters and rate estimates
 * — and a state that does not validate is refused without changing anything.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Engine, type ServiceKey } from '../../src/engine/engine.js';
import { V_FORWARD } from '../../src/engine/drop.js';
import { registerFtp } from '../../src/engine/app/index.js';
import {
  exportEngineState,
  importEngineState,
  StateError,
  StateExport,
  type EngineState,
} from '../../src/engine/state.js';
import {
  ACK,
  FIN,
  PSH,
  SYN,
  buildPacket,
  parse,
  rng,
  type PacketSpec,
} from '../helpers/packets.js';

const VIP = '10.0.3.100';
const RIP_A = '10.0.2.9'; // shorter than the VIP in an FTP 227 reply: the payload shrinks
const RIP_B = '10.0.2.12';
const RIP_C = '10.0.2.13';

const K80: ServiceKey = { af: 4, protocol: 6, addr: VIP, port: 80 };
const K443: ServiceKey = { af: 4, protocol: 6, addr: VIP, port: 443 };
const K53: ServiceKey = { af: 4, protocol: 17, addr: VIP, port: 53 };
const K8080: ServiceKey = { af: 4, protocol: 6, addr: VIP, port: 8080 };
const K9090: ServiceKey = { af: 4, protocol: 6, addr: VIP, port: 9090 };
const K7000: ServiceKey = { af: 4, protocol: 6, addr: VIP, port: 7000 };
const K21: ServiceKey = { af: 4, protocol: 6, addr: VIP, port: 21 };

/** The same configuration every time (what the control model restores at start). */
function configured(): Engine {
  const e = new Engine({ random: rng(7), hashSeed: 1234 });
  registerFtp(e);
  const dests = (k: ServiceKey, port: number, weights = [1, 1, 1]): void => {
    [RIP_A, RIP_B, RIP_C].forEach((a, i) =>
      e.addDest(k, { addr: a, port, fwd: 'masq', weight: weights[i] }),
    );
  };
  e.addService(K80, { scheduler: 'rr' });
  dests(K80, 80);
  e.addService(K443, { scheduler: 'wlc', flags: 1, timeout: 300 });
  dests(K443, 443);
  e.addService(K53, { scheduler: 'wrr' });
  dests(K53, 53, [3, 2, 1]);
  e.addService(K8080, { scheduler: 'lblc' });
  dests(K8080, 8080);
  e.addService(K9090, { scheduler: 'mh' });
  dests(K9090, 9090);
  e.addService(K7000, { scheduler: 'twos' });
  dests(K7000, 7000);
  e.addService(K21, { scheduler: 'rr' });
  e.addDest(K21, { addr: RIP_A, port: 21, fwd: 'masq' });
  return e;
}

/** One packet through both engines: the same verdict and the same bytes out. */
function both(a: Engine, b: Engine | null, dir: 'in' | 'out', p: PacketSpec, now: number) {
  const run = (e: Engine): { v: number; out: Uint8Array } => {
    const raw = buildPacket(p);
    const buf = new Uint8Array(raw.length + 128);
    buf.set(raw, 64);
    const v = dir === 'in' ? e.in(buf, 64, raw.length, now) : e.out(buf, 64, raw.length, now);
    const r = e.result;
    return { v, out: r.buf.slice(r.off, r.off + r.len) };
  };
  const ra = run(a);
  if (b) {
    const rb = run(b);
    assert.equal(rb.v, ra.v, `verdict of ${dir} ${p.src}:${p.sport} → ${p.dst}:${p.dport}`);
    if (ra.v === V_FORWARD)
      assert.deepEqual(rb.out, ra.out, `bytes of ${dir} ${p.src}:${p.sport} → ${p.dst}:${p.dport}`);
  }
  return ra;
}

/** A client conversation on a TCP service: handshake, data, maybe FIN. */
class Flow {
  cseq = 1000;
  sseq = 9000;
  rip = '';
  rport = 0;
  constructor(
    readonly cip: string,
    readonly cport: number,
    readonly vport: number,
    readonly proto: 'tcp' | 'udp' = 'tcp',
  ) {}
  in(flags: number, payload = ''): PacketSpec {
    const p: PacketSpec = {
      src: this.cip,
      dst: VIP,
      sport: this.cport,
      dport: this.vport,
      proto: this.proto,
      flags,
      seq: this.cseq,
      ack: this.sseq,
      payload,
    };
    this.cseq += payload.length + (flags & (SYN | FIN) ? 1 : 0);
    return p;
  }
  out(flags: number, payload = '', seq = this.sseq): PacketSpec {
    const p: PacketSpec = {
      src: this.rip,
      dst: this.cip,
      sport: this.rport,
      dport: this.cport,
      proto: this.proto,
      flags,
      seq,
      ack: this.cseq,
      payload,
    };
    if (seq === this.sseq) this.sseq += payload.length + (flags & (SYN | FIN) ? 1 : 0);
    return p;
  }
}

interface Pair {
  a: Engine;
  b: Engine | null;
}

/** Opens a flow on both engines; learns the real server from the first packet. */
function open(pair: Pair, f: Flow, now: number): void {
  const r = both(
    pair.a,
    pair.b,
    'in',
    f.in(f.proto === 'tcp' ? SYN : 0, f.proto === 'udp' ? 'q' : ''),
    now,
  );
  assert.equal(r.v, V_FORWARD);
  const p = parse(r.out);
  f.rip = p.dst;
  f.rport = p.dport;
  if (f.proto === 'tcp') {
    both(pair.a, pair.b, 'out', f.out(SYN | ACK), now + 1);
    both(pair.a, pair.b, 'in', f.in(ACK), now + 2);
  }
}

/** The listing as `ipvsadm -L -c` shows it, with the controller named by its client side. */
function listing(e: Engine): string[] {
  const cs = e.connections();
  const byId = new Map(cs.map((c) => [c.id, c]));
  return cs
    .map((c) => {
      const ct = c.control >= 0 ? byId.get(c.control) : undefined;
      const exp = e.conns.expires[c.id];
      return [
        c.protocol,
        `${c.caddr}:${c.cport}`,
        `${c.vaddr}:${c.vport}`,
        `${c.daddr}:${c.dport}`,
        c.state,
        c.expires,
        exp,
        c.flags,
        c.inPkts,
        c.nControl,
        ct ? `${ct.caddr}:${ct.cport}` : '-',
      ].join(' ');
    })
    .sort();
}

function figures(e: Engine): unknown {
  return {
    totals: [e.totals.snapshot(), e.totals.rates()],
    services: e.services.map((s) => ({
      s: s.toString(),
      stats: [s.stats.snapshot(), s.stats.rates()],
      dests: s.dests.map((d) => [
        d.toString(),
        d.activeconns,
        d.inactconns,
        d.persistconns,
        d.flags,
        d.stats.snapshot(),
        d.stats.rates(),
      ]),
    })),
    drops: Array.from(e.drops),
  };
}

/** The first part of the traffic: many conns on every service, an FTP session with a rewritten reply. */
function firstPart(pair: Pair, t: number): { flows: Flow[]; ftp: Flow; t: number } {
  const flows: Flow[] = [];
  for (let i = 0; i < 12; i++) {
    for (const port of [80, 443, 8080, 9090, 7000]) {
      const f = new Flow(`10.0.1.${2 + (i % 5)}`, 40000 + i * 10 + (port % 7), port);
      open(pair, f, (t += 3));
      flows.push(f);
    }
    const u = new Flow(`10.0.1.${20 + i}`, 5000 + i, 53, 'udp');
    open(pair, u, (t += 3));
    flows.push(u);
  }
  // some data and some closes
  for (const [i, f] of flows.entries()) {
    if (f.proto !== 'tcp') continue;
    both(pair.a, pair.b, 'in', f.in(ACK | PSH, `GET /${i}\r\n`), (t += 1));
    both(pair.a, pair.b, 'out', f.out(ACK | PSH, `200 ${i}\r\n`), (t += 1));
    if (i % 4 === 0) both(pair.a, pair.b, 'in', f.in(FIN | ACK), (t += 1));
  }
  // FTP: control conn, a PASV reply rewritten to the VIP (shorter: seq adjust)
  const ftp = new Flow('10.0.1.50', 33333, 21);
  open(pair, ftp, (t += 1));
  both(pair.a, pair.b, 'in', ftp.in(ACK | PSH, 'PASV\r\n'), (t += 1));
  const reply = `227 Entering Passive Mode (${RIP_A.replaceAll('.', ',')},195,80).\r\n`;
  const r = both(pair.a, pair.b, 'out', ftp.out(ACK | PSH, reply), (t += 1));
  assert.match(new TextDecoder().decode(parse(r.out).payload), /10,0,3,100,195,80/);
  return { flows, ftp, t };
}

/** The second part: traffic on the old conns, new conns, the FTP data conn, time passing. */
function secondPart(pair: Pair, p: { flows: Flow[]; ftp: Flow; t: number }): number {
  let t = p.t;
  for (const [i, f] of p.flows.entries()) {
    if (f.proto === 'tcp') {
      both(pair.a, pair.b, 'in', f.in(ACK | PSH, `more ${i}\r\n`), (t += 1));
      both(pair.a, pair.b, 'out', f.out(ACK | PSH, `ok ${i}\r\n`), (t += 1));
    } else both(pair.a, pair.b, 'in', f.in(0, 'again'), (t += 1));
  }
  // new conns: the schedulers continue where they were (rr cursor, wrr weights, lblc cache,
  // twos' random state, persistence templates)
  for (let i = 0; i < 10; i++)
    for (const port of [80, 443, 8080, 9090, 7000]) {
      const f = new Flow(`10.0.1.${2 + (i % 7)}`, 50000 + i * 10 + (port % 7), port);
      open(pair, f, (t += 2));
    }
  for (let i = 0; i < 6; i++)
    open(pair, new Flow(`10.0.1.${40 + i}`, 6000 + i, 53, 'udp'), (t += 2));
  // FTP: the seq adjustment keeps both directions straight; the passive data conn is used
  both(pair.a, pair.b, 'in', p.ftp.in(ACK | PSH, 'LIST\r\n'), (t += 1));
  both(pair.a, pair.b, 'out', p.ftp.out(ACK | PSH, '150 Here it comes.\r\n'), (t += 1));
  const data = new Flow('10.0.1.50', 33400, 195 * 256 + 80);
  open(pair, data, (t += 1));
  both(pair.a, pair.b, 'in', p.ftp.in(ACK), (t += 1));
  return t;
}

test('an engine restored mid-traffic continues exactly like the one that never stopped', () => {
  const a = configured();
  const ref = configured();
  const t0 = 1_000_000;
  // both run the first part; `a` is then saved and restored into `b`
  const p1 = firstPart({ a, b: ref }, t0);
  a.tick(p1.t + 2500); // an estimator step and the defence update
  ref.tick(p1.t + 2500);
  const saved = structuredClone(exportEngineState(a)) as EngineState;
  const b = configured();
  const sum = importEngineState(b, saved, p1.t + 2500);
  assert.equal(sum.schedFresh.length, 0, sum.schedFresh.join('; '));
  assert.equal(sum.conns + sum.templates, a.conns.count);
  assert.ok(sum.templates > 0, 'persistence templates were saved');
  assert.deepEqual(listing(b), listing(a), 'the listing right after the restore');
  assert.deepEqual(figures(b), figures(a), 'the counters right after the restore');
  // the restored engine and the reference take every later packet the same way
  const t1 = secondPart({ a: ref, b }, { ...p1, t: p1.t + 2500 });
  assert.deepEqual(listing(b), listing(ref));
  assert.deepEqual(figures(b), figures(ref));
  // timers: the same conns expire at the same time, estimators move in step
  for (const dt of [5_000, 70_000, 130_000, 400_000, 1_000_000]) {
    ref.tick(t1 + dt);
    b.tick(t1 + dt);
    assert.deepEqual(listing(b), listing(ref), `after ${dt} ms`);
    assert.deepEqual(figures(b), figures(ref), `counters after ${dt} ms`);
  }
  assert.equal(b.conns.count, ref.conns.count);
});

test('a real server the configuration no longer has keeps its conns in the trash', () => {
  const a = configured();
  const p = firstPart({ a, b: null }, 5000);
  const saved = structuredClone(exportEngineState(a)) as EngineState;
  const b = configured();
  b.delService(K8080);
  b.delDest(K80, RIP_B, 80);
  // the trash starts empty in this engine: the deleted ones had no conns
  (b.ipvs.trash as unknown[]).length = 0;
  const sum = importEngineState(b, saved, p.t);
  assert.equal(sum.servicesGone, 1);
  assert.equal(sum.destsGone, 4, "lblc's three and rr's second real server");
  assert.deepEqual(
    listing(b).map((l) => l.split(' ').slice(0, 5).join(' ')),
    listing(a).map((l) => l.split(' ').slice(0, 5).join(' ')),
  );
  assert.ok(
    sum.schedFresh.some((s) => s.includes('80')),
    'rr starts fresh: its list changed',
  );
  // the conns of a trashed real server are treated as in the engine where it was deleted
  a.delService(K8080);
  a.delDest(K80, RIP_B, 80);
  const f = p.flows.find((x) => x.vport === 80 && x.rip === RIP_B && x.proto === 'tcp');
  assert.ok(f);
  both(a, b, 'in', f.in(ACK | PSH, 'x'), p.t + 10);
  assert.deepEqual(listing(b), listing(a));
});

test('a state that does not validate is refused and changes nothing', () => {
  const a = configured();
  const p = firstPart({ a, b: null }, 5000);
  const good = exportEngineState(a);
  const bad: [string, (s: EngineState) => unknown, RegExp][] = [
    ['another format', (s) => ({ ...s, format: 'x' }), /format/],
    ['another version', (s) => ({ ...s, version: 99 }), /version 99/],
    ['not an object', () => 'hello', /not an object/],
    [
      'a column too short',
      (s) => ({ ...s, conns: { ...s.conns, cport: s.conns.cport.slice(1) } }),
      /conns\.cport/,
    ],
    [
      'a dest not saved',
      (s) => {
        const d = s.conns.dest.slice();
        d[0] = 999;
        return { ...s, conns: { ...s.conns, dest: d } };
      },
      /real server #999/,
    ],
    [
      'a control loop',
      (s) => {
        const c = s.conns.control.slice();
        c[0] = 1;
        c[1] = 0;
        return { ...s, conns: { ...s.conns, control: c } };
      },
      /loop/,
    ],
    [
      'a state out of range',
      (s) => {
        const st = s.conns.state.slice();
        const i = s.conns.proto.indexOf(6);
        st[i] = 200;
        const f = s.conns.flags.slice();
        f[i] &= ~0x1000;
        return { ...s, conns: { ...s.conns, state: st, flags: f } };
      },
      /not a state of/,
    ],
    ['a missing section', (s) => ({ ...s, defense: undefined }), /defense/],
  ];
  for (const [what, mangle, msg] of bad) {
    const b = configured();
    const before = figures(b);
    assert.throws(
      () => importEngineState(b, mangle(good), p.t),
      (e: unknown) => {
        assert.ok(e instanceof StateError, what);
        assert.match((e as Error).message, msg, what);
        return true;
      },
    );
    assert.equal(b.conns.count, 0, `${what}: no conn restored`);
    assert.deepEqual(figures(b), before, `${what}: nothing changed`);
  }
  // an engine that already has conns is not overwritten
  assert.throws(() => importEngineState(a, good, p.t), /already has/);
});

test('an export in slices, with traffic, expiries and reused ids between them, gives the state of its end', () => {
  const a = configured();
  const syn = (e: Engine, i: number, port: number, flags: number, now: number): void => {
    const raw = buildPacket({
      src: `10.0.${1 + (i >> 8)}.${i & 255}`,
      dst: VIP,
      sport: 20000 + (i % 30000),
      dport: port,
      flags,
      payload: flags & SYN ? undefined : 'x',
    });
    const buf = new Uint8Array(raw.length + 128);
    buf.set(raw, 64);
    e.in(buf, 64, raw.length, now);
  };
  let t = 5_000_000;
  // conns on 80 (NAT, short SYN_RECV timer) and 443 (persistent: templates, controllers)
  for (let i = 0; i < 3000; i++) syn(a, i, i % 3 ? 80 : 443, SYN, (t += 1));
  for (let i = 0; i < 3000; i += 2) syn(a, i, i % 3 ? 80 : 443, ACK | PSH, (t += 1));
  const x = new StateExport(a);
  // the per-connection events (what the daemon wires from sync/hook.ts)
  a.syncMaster = (id) => x.touched(id);
  let slices = 0;
  for (;;) {
    const done = x.step(512);
    slices++;
    // between slices: new conns, established ones, and the SYN_RECV ones expire (their
    // ids go back to the free list and are taken again by new conns)
    for (let i = 0; i < 40; i++) syn(a, 3000 + slices * 40 + i, 80, SYN, (t += 1));
    for (let i = 1; i < 3000; i += 97) syn(a, i, i % 3 ? 80 : 443, ACK | PSH, (t += 1));
    if (slices === 3) a.tick((t += 70_000));
    if (done) break;
  }
  assert.ok(slices > 3, `${slices} slices`);
  a.syncMaster = null;
  const sliced = x.finish();
  const whole = exportEngineState(a);
  assert.equal(sliced.conns.n, whole.conns.n);
  const b = configured();
  const c = configured();
  importEngineState(b, sliced, t);
  importEngineState(c, whole, t);
  assert.deepEqual(listing(b), listing(a));
  assert.deepEqual(listing(b), listing(c));
  assert.deepEqual(figures(b), figures(c));
  // the SYN proxy's cookie secrets go along: a cookie one engine sent is valid in the next
  assert.deepEqual(b.ipvs.sp.keys.save(), a.ipvs.sp.keys.save());
});
