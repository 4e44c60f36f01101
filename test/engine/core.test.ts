/**
 * Whole conversations through the engine, checking state, timeout and counters after
 * every packet (spec §2.3 typical walks, §2.5 counters, §2.11 reuse, §3 UDP, §4.5
 * persistence).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Engine, type ServiceKey } from '../../src/engine/engine.js';
import { V_ACCEPT, V_DROP, V_FORWARD, V_REPLY } from '../../src/engine/drop.js';
import { SVC_F_PERSISTENT } from '../../src/engine/constants.js';
import {
  ACK,
  CIP,
  FIN,
  RIP1,
  RIP2,
  RST,
  SYN,
  TCP80,
  VIP,
  engineWith,
  ipv4HeaderValid,
  l4ChecksumValid,
  parse,
  rng,
  send,
  type PacketSpec,
  cin,
} from './fixture.js';

function engine(fwd: 'masq' | 'droute' | 'tunnel', settings = {}): Engine {
  return engineWith(
    { random: rng(7), settings },
    TCP80,
    { scheduler: 'rr' },
    { addr: RIP1, port: 8080, fwd },
  );
}

function only(e: Engine) {
  const cs = e.connections().filter((c) => !c.template);
  assert.equal(cs.length, 1, 'one connection');
  return cs[0];
}

function dest(e: Engine, addr = RIP1) {
  const svc = e.findService(TCP80)!;
  return e.findDest(svc, addr, 8080)!;
}

const sout = (flags: number, extra: Partial<PacketSpec> = {}): PacketSpec => ({
  src: RIP1,
  dst: CIP,
  sport: 8080,
  dport: 40000,
  flags,
  ...extra,
});

function expectState(
  e: Engine,
  state: string,
  timeoutS: number,
  active: number,
  inact: number,
): void {
  const c = only(e);
  assert.equal(c.state, state);
  assert.equal(c.expires, timeoutS, `timeout ${state}`);
  const d = dest(e);
  assert.equal(d.activeconns, active, `activeconns in ${state}`);
  assert.equal(d.inactconns, inact, `inactconns in ${state}`);
}

test('NAT walk: handshake, data, client FIN first, expiry after TIME_WAIT', () => {
  const e = engine('masq');
  let t = 1000;
  let r = send(e, 'in', cin(SYN), t);
  assert.equal(r.v, V_FORWARD);
  let p = parse(r.pkt);
  assert.equal(p.dst, RIP1);
  assert.equal(p.dport, 8080);
  assert.equal(p.ttl, 63);
  assert.ok(l4ChecksumValid(r.pkt) && ipv4HeaderValid(r.pkt));
  expectState(e, 'SYN_RECV', 60, 1, 0);
  assert.equal(dest(e).stats.conns, 1);

  r = send(e, 'out', sout(SYN | ACK), (t += 10));
  assert.equal(r.v, V_FORWARD);
  p = parse(r.pkt);
  assert.equal(p.src, VIP);
  assert.equal(p.sport, 80);
  assert.ok(l4ChecksumValid(r.pkt) && ipv4HeaderValid(r.pkt));
  expectState(e, 'SYN_RECV', 60, 1, 0);

  send(e, 'in', cin(ACK), (t += 10));
  expectState(e, 'ESTABLISHED', 900, 1, 0);
  send(e, 'in', cin(ACK, { payload: 'GET / HTTP/1.0\r\n\r\n' }), (t += 10));
  expectState(e, 'ESTABLISHED', 900, 1, 0);
  send(e, 'out', sout(ACK, { payload: 'HTTP/1.0 200 OK\r\n\r\n' }), (t += 10));
  expectState(e, 'ESTABLISHED', 900, 1, 0);

  send(e, 'in', cin(FIN | ACK), (t += 10));
  expectState(e, 'CLOSE_WAIT', 60, 0, 1);
  send(e, 'out', sout(FIN | ACK), (t += 10));
  expectState(e, 'TIME_WAIT', 120, 0, 1);
  send(e, 'in', cin(ACK), (t += 10));
  expectState(e, 'TIME_WAIT', 120, 0, 1);

  const d = dest(e);
  assert.equal(d.stats.inpkts, 5);
  assert.equal(d.stats.outpkts, 3);
  assert.equal(e.totals.conns, 1);

  e.tick(t + 119_000);
  assert.equal(e.connections().length, 1, 'still there before 120 s idle');
  e.tick(t + 120_200);
  assert.equal(e.connections().length, 0, 'expired after 120 s idle');
  assert.equal(d.inactconns, 0);
  assert.equal(d.activeconns, 0);
});

test('NAT walk: server closes first (OUTPUT fin from ESTABLISHED → FIN_WAIT)', () => {
  const e = engine('masq');
  let t = 0;
  send(e, 'in', cin(SYN), t);
  send(e, 'out', sout(SYN | ACK), (t += 1));
  send(e, 'in', cin(ACK), (t += 1));
  send(e, 'out', sout(FIN | ACK), (t += 1));
  expectState(e, 'FIN_WAIT', 120, 0, 1);
  send(e, 'in', cin(ACK), (t += 1));
  expectState(e, 'FIN_WAIT', 120, 0, 1);
  send(e, 'in', cin(FIN | ACK), (t += 1));
  expectState(e, 'TIME_WAIT', 120, 0, 1);
});

test('NAT: simultaneous close and RST', () => {
  const e = engine('masq');
  let t = 0;
  send(e, 'in', cin(SYN), t);
  send(e, 'out', sout(SYN | ACK), (t += 1));
  send(e, 'in', cin(ACK), (t += 1));
  send(e, 'in', cin(FIN | ACK), (t += 1)); // ES → CW
  send(e, 'out', sout(FIN | ACK), (t += 1)); // CW → TW
  expectState(e, 'TIME_WAIT', 120, 0, 1);
  const e2 = engine('masq');
  send(e2, 'in', cin(SYN), 0);
  send(e2, 'out', sout(SYN | ACK), 1);
  send(e2, 'in', cin(ACK), 2);
  send(e2, 'in', cin(RST), 3);
  expectState(e2, 'CLOSE', 10, 0, 1);
});

test('a TCP packet with no SYN/FIN/ACK/RST moves the conn to CLOSE', () => {
  const e = engine('masq');
  send(e, 'in', cin(SYN), 0);
  send(e, 'in', cin(0x08), 1);
  expectState(e, 'CLOSE', 10, 0, 1);
});

test('only a SYN without RST schedules; a SYN from port 20 never does', () => {
  const e = engine('masq');
  assert.equal(send(e, 'in', cin(ACK), 0).v, V_ACCEPT);
  assert.equal(send(e, 'in', cin(SYN | RST), 0).v, V_ACCEPT);
  assert.equal(send(e, 'in', cin(SYN, { sport: 20 }), 0).v, V_ACCEPT);
  assert.equal(e.connections().length, 0);
  const s = engine('masq', { sloppy_tcp: 1 });
  assert.equal(send(s, 'in', cin(ACK), 0).v, V_FORWARD);
  expectState(s, 'ESTABLISHED', 900, 1, 0);
});

for (const mode of [0, 1, 2, 3]) {
  test(`SYN to a TIME_WAIT conn with conn_reuse_mode=${mode}`, () => {
    const e = engine('masq', { conn_reuse_mode: mode });
    e.addDest(TCP80, { addr: RIP2, port: 8080, fwd: 'masq' });
    let t = 0;
    send(e, 'in', cin(SYN), t);
    const first = only(e).daddr;
    send(e, 'out', { ...sout(SYN | ACK), src: first }, (t += 1));
    send(e, 'in', cin(ACK), (t += 1));
    send(e, 'in', cin(FIN | ACK), (t += 1));
    send(e, 'out', { ...sout(FIN | ACK), src: first }, (t += 1));
    assert.equal(only(e).state, 'TIME_WAIT');
    const r = send(e, 'in', cin(SYN), (t += 1));
    assert.equal(r.v, V_FORWARD);
    const c = only(e);
    if (mode === 0) {
      // no reuse: the old conn goes TIME_WAIT → SYN_RECV (INPUT syn row) on its dest
      assert.equal(c.daddr, first);
      assert.equal(c.state, 'SYN_RECV');
      assert.equal(e.totals.conns, 1);
    } else {
      // expired and scheduled afresh: rr moves on to the other server
      assert.notEqual(c.daddr, first);
      assert.equal(c.state, 'SYN_RECV');
      assert.equal(e.totals.conns, 2);
    }
  });
}

test('conn_reuse_mode bit 2: SYN to a DR conn in FIN_WAIT is rescheduled', () => {
  const e = engine('droute', { conn_reuse_mode: 2 });
  send(e, 'in', cin(SYN), 0);
  send(e, 'in', cin(ACK), 1);
  send(e, 'in', cin(FIN | ACK), 2);
  assert.equal(only(e).state, 'FIN_WAIT');
  send(e, 'in', cin(SYN), 3);
  assert.equal(only(e).state, 'SYN_RECV');
  assert.equal(e.totals.conns, 2);
});

test('DR walk uses INPUT-ONLY: SYN→SR, ACK→ES, FIN→FW, RST→CL; packet unchanged but TTL', () => {
  const e = engine('droute');
  const r = send(e, 'in', cin(SYN), 0);
  assert.equal(r.v, V_FORWARD);
  const p = parse(r.pkt);
  assert.equal(p.dst, VIP);
  assert.equal(p.dport, 80);
  assert.equal(p.ttl, 63);
  assert.ok(ipv4HeaderValid(r.pkt) && l4ChecksumValid(r.pkt));
  assert.equal(e.result.nextHop[0], 0x0a00020b);
  expectState(e, 'SYN_RECV', 60, 1, 0);
  send(e, 'in', cin(ACK), 1);
  expectState(e, 'ESTABLISHED', 900, 1, 0);
  send(e, 'in', cin(FIN | ACK), 2);
  expectState(e, 'FIN_WAIT', 120, 0, 1);
  send(e, 'in', cin(ACK), 3);
  expectState(e, 'FIN_WAIT', 120, 0, 1);
  send(e, 'in', cin(RST), 4);
  expectState(e, 'CLOSE', 10, 0, 1);
  assert.equal(dest(e).stats.outpkts, 0);
});

test('TUN walk: IPIP encapsulation with a complete outer header', () => {
  const e = new Engine({
    random: rng(1),
    tunnelSource: () => new Uint32Array([0x0a000201, 0, 0, 0]),
  });
  e.addService(TCP80, { scheduler: 'rr' });
  e.addDest(TCP80, { addr: RIP1, port: 8080, fwd: 'tunnel' });
  const r = send(e, 'in', cin(SYN), 0);
  assert.equal(r.v, V_FORWARD);
  const o = r.pkt;
  assert.equal(o[0], 0x45);
  assert.equal(o[9], 4, 'protocol IPIP');
  assert.equal((o[2] << 8) | o[3], o.length);
  assert.equal(o[6] & 0x40, 0x40, 'DF copied from inner with pmtu_disc=1');
  assert.equal(o[8], 63, 'outer TTL = inner TTL after decrement');
  assert.ok(ipv4HeaderValid(o));
  assert.deepEqual([...o.subarray(12, 16)], [10, 0, 2, 1]);
  assert.deepEqual([...o.subarray(16, 20)], [10, 0, 2, 11]);
  const inner = o.subarray(20);
  const p = parse(inner);
  assert.equal(p.dst, VIP);
  assert.ok(ipv4HeaderValid(inner) && l4ChecksumValid(inner));
  expectState(e, 'SYN_RECV', 60, 1, 0);
  send(e, 'in', cin(ACK), 1);
  expectState(e, 'ESTABLISHED', 900, 1, 0);
});

test('secure_tcp=3: NAT conn is ESTABLISHED only after the server speaks after the handshake', () => {
  const e = engine('masq', { secure_tcp: 3 });
  e.tick(0);
  send(e, 'in', cin(SYN), 0);
  expectState(e, 'SYN_RECV', 60, 1, 0);
  send(e, 'out', sout(SYN | ACK), 1);
  expectState(e, 'SYNACK', 120, 1, 0);
  send(e, 'in', cin(ACK), 2);
  expectState(e, 'SYNACK', 120, 1, 0);
  send(e, 'out', sout(ACK, { payload: 'hi' }), 3);
  expectState(e, 'ESTABLISHED', 900, 1, 0);
});

test('secure_tcp=3: DR first SYN goes to SYNACK and repeated SYNs stay there', () => {
  const e = engine('droute', { secure_tcp: 3 });
  e.tick(0);
  send(e, 'in', cin(SYN), 0);
  expectState(e, 'SYNACK', 120, 1, 0);
  send(e, 'in', cin(SYN), 1);
  expectState(e, 'SYNACK', 120, 1, 0);
});

test('secure_tcp=1 switches to the secure table when memory is short, and back', () => {
  const e = engine('droute', { secure_tcp: 1, amemthresh: 1000 });
  e.tick(0, 500);
  assert.equal(e.settings.secure_tcp, 2);
  assert.ok(e.secureTcpActive);
  e.tick(1000, 5000);
  assert.equal(e.settings.secure_tcp, 1);
  assert.ok(!e.secureTcpActive);
});

test('UDP request/response: one state, 300 s, always inactive, expiry', () => {
  const e = new Engine({ random: rng(1) });
  const U53: ServiceKey = { af: 4, protocol: 17, addr: VIP, port: 53 };
  e.addService(U53, { scheduler: 'rr' });
  e.addDest(U53, { addr: RIP1, port: 53, fwd: 'masq' });
  const q = send(
    e,
    'in',
    { src: CIP, dst: VIP, sport: 5353, dport: 53, proto: 'udp', payload: 'query' },
    0,
  );
  assert.equal(q.v, V_FORWARD);
  assert.ok(l4ChecksumValid(q.pkt));
  let c = e.connections()[0];
  assert.equal(c.state, 'UDP');
  assert.equal(c.expires, 300);
  const d = e.findDest(e.findService(U53)!, RIP1, 53)!;
  assert.equal(d.inactconns, 1);
  assert.equal(d.activeconns, 0);
  const a = send(
    e,
    'out',
    { src: RIP1, dst: CIP, sport: 53, dport: 5353, proto: 'udp', payload: 'answer!' },
    100_000,
  );
  assert.equal(a.v, V_FORWARD);
  assert.equal(parse(a.pkt).src, VIP);
  assert.ok(l4ChecksumValid(a.pkt));
  c = e.connections()[0];
  assert.equal(c.expires, 300);
  e.tick(100_000 + 299_000);
  assert.equal(e.connections().length, 1);
  e.tick(100_000 + 300_100);
  assert.equal(e.connections().length, 0);
  assert.equal(d.inactconns, 0);
});

test('UDP with a zero checksum gets a computed checksum after NAT', () => {
  const e = new Engine({ random: rng(1) });
  const U53: ServiceKey = { af: 4, protocol: 17, addr: VIP, port: 53 };
  e.addService(U53, { scheduler: 'rr' });
  e.addDest(U53, { addr: RIP1, port: 5300, fwd: 'masq' });
  const q = send(
    e,
    'in',
    { src: CIP, dst: VIP, sport: 5353, dport: 53, proto: 'udp', payload: 'q', noUdpChecksum: true },
    0,
  );
  const co = 20 + 6;
  assert.notEqual((q.pkt[co] << 8) | q.pkt[co + 1], 0);
  assert.ok(l4ChecksumValid(q.pkt));
});

test('persistence with netmask: two clients in one /24 share a real server until the template expires', () => {
  const e = new Engine({ random: rng(1) });
  e.addService(TCP80, {
    scheduler: 'rr',
    flags: SVC_F_PERSISTENT,
    timeout: 300,
    netmask: 0xffffff00,
  });
  e.addDest(TCP80, { addr: RIP1, port: 8080, fwd: 'masq' });
  e.addDest(TCP80, { addr: RIP2, port: 8080, fwd: 'masq' });
  send(e, 'in', cin(SYN, { src: '10.0.1.2' }), 0);
  send(e, 'in', cin(SYN, { src: '10.0.1.77', sport: 40001 }), 1);
  const conns = e.connections();
  const tpl = conns.filter((c) => c.template);
  assert.equal(tpl.length, 1, 'one template for the /24');
  assert.equal(tpl[0].caddr, '10.0.1.0');
  assert.equal(tpl[0].cport, 0);
  assert.equal(tpl[0].vport, 80);
  assert.equal(tpl[0].nControl, 2);
  const real = conns.filter((c) => !c.template);
  assert.equal(real[0].daddr, real[1].daddr, 'same real server');
  const chosen = real[0].daddr;
  const d = e.findDest(e.findService(TCP80)!, chosen, 8080)!;
  assert.equal(d.persistconns, 1);
  // without a reply the conns die (SYN_RECV 60 s); the template lives 300 s from its last use
  e.tick(70_000);
  assert.equal(e.connections().filter((c) => !c.template).length, 0);
  assert.equal(e.connections().filter((c) => c.template).length, 1);
  send(e, 'in', cin(SYN, { src: '10.0.1.9', sport: 40002 }), 100_000);
  assert.equal(e.connections().filter((c) => !c.template)[0].daddr, chosen, 'template still valid');
  // let everything expire: conns at 160 s, template at 100 + 300 s
  e.tick(401_000);
  assert.equal(e.connections().length, 0);
  assert.equal(d.persistconns, 0);
  // a new client now goes by rr: the next server after the one chosen last
  send(e, 'in', cin(SYN, { src: '10.0.1.2' }), 500_000);
  const after = e.connections().filter((c) => !c.template)[0].daddr;
  assert.notEqual(after, chosen);
});

test('template outlives its timeout in 60 s steps while it controls conns', () => {
  const e = new Engine({ random: rng(1) });
  e.addService(TCP80, { scheduler: 'rr', flags: SVC_F_PERSISTENT, timeout: 10 });
  e.addDest(TCP80, { addr: RIP1, port: 8080, fwd: 'masq' });
  send(e, 'in', cin(SYN), 0);
  send(e, 'out', sout(SYN | ACK), 1);
  send(e, 'in', cin(ACK), 2);
  const tpl = () => e.connections().find((c) => c.template);
  assert.equal(tpl()!.state, 'ASSURED', 'ESTABLISHED assures the template');
  e.tick(11_000);
  assert.ok(tpl(), 'template kept: it controls a conn');
  assert.equal(tpl()!.expires, 60);
});

test('no real server available: ICMP port unreachable to the client', () => {
  const e = new Engine();
  e.addService(TCP80, { scheduler: 'rr' });
  const r = send(e, 'in', cin(SYN), 0);
  assert.equal(r.v, V_REPLY);
  const o = r.pkt;
  assert.equal(o[9], 1);
  assert.equal(o[20], 3);
  assert.equal(o[21], 3);
  assert.deepEqual([...o.subarray(16, 20)], [10, 0, 1, 2]);
});

test('quiesced (weight 0) and deleted dests: expire_nodest_conn=0 drops, =1 reschedules', () => {
  for (const end of [0, 1]) {
    const e = engine('masq', { expire_nodest_conn: end });
    e.addDest(TCP80, { addr: RIP2, port: 8080, fwd: 'masq' });
    send(e, 'in', cin(SYN), 0);
    const first = only(e).daddr;
    send(e, 'out', { ...sout(SYN | ACK), src: first }, 1);
    send(e, 'in', cin(ACK), 2);
    e.delDest(TCP80, first, 8080);
    const r = send(e, 'in', cin(ACK, { payload: 'x' }), 3);
    if (end === 0) {
      assert.equal(r.v, V_DROP);
      assert.equal(e.connections().length, 1);
    } else {
      // the background flush (§2.12) already removed the conn: a non-SYN is not ours
      assert.equal(r.v, V_ACCEPT);
      assert.equal(e.connections().length, 0);
      const s = send(e, 'in', cin(SYN), 4);
      assert.equal(s.v, V_FORWARD);
      assert.notEqual(only(e).daddr, first);
    }
  }
});

test('IPv6 NAT walk with checksums', () => {
  const e = new Engine({ random: rng(1) });
  const K: ServiceKey = { af: 6, protocol: 6, addr: 'fd00:3::100', port: 80 };
  e.addService(K, { scheduler: 'rr' });
  e.addDest(K, { addr: 'fd00:2::11', port: 8080, fwd: 'masq' });
  const c6 = (flags: number): PacketSpec => ({
    src: 'fd00:1::2',
    dst: 'fd00:3::100',
    sport: 40000,
    dport: 80,
    flags,
  });
  const s6 = (flags: number): PacketSpec => ({
    src: 'fd00:2::11',
    dst: 'fd00:1::2',
    sport: 8080,
    dport: 40000,
    flags,
  });
  let r = send(e, 'in', c6(SYN), 0);
  assert.equal(r.v, V_FORWARD);
  assert.equal(parse(r.pkt).dst, 'fd00:2:0:0:0:0:0:11');
  assert.equal(parse(r.pkt).ttl, 63);
  assert.ok(l4ChecksumValid(r.pkt));
  assert.equal(e.connections()[0].state, 'SYN_RECV');
  r = send(e, 'out', s6(SYN | ACK), 1);
  assert.equal(parse(r.pkt).src, 'fd00:3:0:0:0:0:0:100');
  assert.ok(l4ChecksumValid(r.pkt));
  send(e, 'in', c6(ACK), 2);
  assert.equal(e.connections()[0].state, 'ESTABLISHED');
  send(e, 'in', c6(FIN | ACK), 3);
  send(e, 'out', s6(FIN | ACK), 4);
  assert.equal(e.connections()[0].state, 'TIME_WAIT');
});

test('upper threshold sets OVERLOAD; falling below 3/4 clears it', () => {
  const e = new Engine({ random: rng(1) });
  e.addService(TCP80, { scheduler: 'rr' });
  e.addDest(TCP80, { addr: RIP1, port: 8080, fwd: 'masq', uThreshold: 4 });
  for (let i = 0; i < 4; i++) send(e, 'in', cin(SYN, { sport: 41000 + i }), i);
  const d = dest(e);
  assert.ok(d.overloaded);
  assert.equal(send(e, 'in', cin(SYN, { sport: 42000 }), 10).v, V_REPLY);
  // expire them all (SYN_RECV 60 s): total 0 < 3 → cleared
  e.tick(61_000);
  assert.ok(!d.overloaded);
});
