/** The connection table: one hash for both lookups, NO_CPORT retry, timers, 1,000,000 live conns. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConnTable, NO_CONN } from '../../../src/engine/conn/table.js';
import { CONN_F_MASQ, CONN_F_DROUTE, CONN_F_NO_CPORT } from '../../../src/engine/constants.js';
import { SYN, TCP80, buildPacket, engineWith } from '../fixture.js';

function w(...v: number[]): Uint32Array {
  const a = new Uint32Array(4);
  a.set(v);
  return a;
}

function add(
  t: ConnTable,
  c: number,
  cport: number,
  v: number,
  vport: number,
  d: number,
  dport: number,
  flags: number,
): number {
  const id = t.alloc();
  t.af[id] = 4;
  t.proto[id] = 6;
  t.caddr[id * 4] = c;
  t.vaddr[id * 4] = v;
  t.daddr[id * 4] = d;
  t.cport[id] = cport;
  t.vport[id] = vport;
  t.dport[id] = dport;
  t.flags[id] = flags;
  if (flags & CONN_F_NO_CPORT) t.noCportCount++;
  t.hash(id);
  return id;
}

test('one hash entry serves the in lookup and the out lookup (NAT expects RIP:dport, DR VIP:vport)', () => {
  const t = new ConnTable(16);
  const nat = add(t, 0x0a000102, 40000, 0x0a000364, 80, 0x0a00020b, 8080, CONN_F_MASQ);
  const dr = add(t, 0x0a000103, 40001, 0x0a000364, 80, 0x0a00020c, 80, CONN_F_DROUTE);
  assert.equal(t.inLookup(4, 6, w(0x0a000102), 0, 40000, w(0x0a000364), 0, 80), nat);
  assert.equal(t.outLookup(4, 6, w(0x0a00020b), 0, 8080, w(0x0a000102), 0, 40000), nat);
  assert.equal(t.outLookup(4, 6, w(0x0a000364), 0, 80, w(0x0a000102), 0, 40000), NO_CONN);
  assert.equal(t.outLookup(4, 6, w(0x0a000364), 0, 80, w(0x0a000103), 0, 40001), dr);
  assert.equal(t.outLookup(4, 6, w(0x0a00020c), 0, 80, w(0x0a000103), 0, 40001), NO_CONN);
  // the real-server side is not part of the in key
  assert.equal(t.inLookup(4, 6, w(0x0a000103), 0, 40001, w(0x0a000364), 0, 80), dr);
});

test('a NO_CPORT conn only matches a cport-0 lookup', () => {
  const t = new ConnTable(16);
  const id = add(
    t,
    0x0a000102,
    0,
    0x0a000364,
    30000,
    0x0a00020b,
    30000,
    CONN_F_MASQ | CONN_F_NO_CPORT,
  );
  assert.equal(t.inLookup(4, 6, w(0x0a000102), 0, 5555, w(0x0a000364), 0, 30000), NO_CONN);
  assert.equal(t.inLookup(4, 6, w(0x0a000102), 0, 0, w(0x0a000364), 0, 30000), id);
  assert.equal(t.noCportCount, 1);
});

test('timers: idle timeout re-armed by every packet, earlier expiry moves the conn, far timers wait', () => {
  const t = new ConnTable(16);
  const a = add(t, 1, 1, 2, 2, 3, 3, 0);
  const b = add(t, 4, 4, 2, 2, 3, 3, 0);
  const expired: number[] = [];
  const cb = (id: number): void => {
    expired.push(id);
    t.unhash(id);
    t.free(id);
  };
  t.timeout[a] = 900_000;
  t.arm(a, 0);
  t.timeout[b] = 3_600_000; // beyond one wheel revolution
  t.arm(b, 0);
  t.advance(500_000, cb);
  t.arm(a, 500_000); // a packet: idle again
  t.advance(1_000_000, cb);
  assert.deepEqual(expired, []);
  t.timeout[a] = 10_000; // state change to CLOSE
  t.arm(a, 1_000_000);
  t.advance(1_009_000, cb);
  assert.deepEqual(expired, []);
  t.advance(1_010_100, cb);
  assert.deepEqual(expired, [a]);
  t.advance(3_599_000, cb);
  assert.deepEqual(expired, [a]);
  t.advance(3_600_100, cb);
  assert.deepEqual(expired, [a, b]);
});

test('the engine holds 1,000,000 live connections and still finds each one', () => {
  const e = engineWith(
    { capacity: 1 << 20 },
    TCP80,
    { scheduler: 'rr' },
    { addr: '10.0.2.11', port: 80, fwd: 'masq' },
    { addr: '10.0.2.12', port: 80, fwd: 'masq' },
  );
  const tpl = buildPacket({
    src: '10.1.0.0',
    dst: '10.0.3.100',
    sport: 1024,
    dport: 80,
    flags: SYN,
  });
  const buf = new Uint8Array(tpl.length);
  const N = 1_000_000;
  for (let i = 0; i < N; i++) {
    buf.set(tpl);
    buf[13] = (i >>> 16) & 255;
    buf[14] = (i >>> 8) & 255;
    buf[15] = i & 255;
    e.in(buf, 0, tpl.length, 1000);
  }
  assert.equal(e.conns.count, N);
  const svc = e.findService(TCP80)!;
  assert.equal(svc.dests[0].activeconns + svc.dests[1].activeconns, N);
  for (const i of [0, 1, 65535, 500_000, N - 1]) {
    const id = e.conns.inLookup(4, 6, w((0x0a000000 + i) >>> 0), 0, 1024, w(0x0a000364), 0, 80);
    assert.notEqual(id, NO_CONN, `conn ${i}`);
  }
  e.tick(1000 + 61_000);
  assert.equal(e.conns.count, 0, 'all expired after SYN_RECV timeout');
  assert.equal(svc.dests[0].activeconns + svc.dests[1].activeconns, 0);
});
