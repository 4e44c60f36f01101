/**
 * Connection sync through two engines (spec §12.4 master decisions, §12.5 backup):
 * real TCP conversations on a master engine produce records at the kernel's moments
 * (3rd, 53rd... input packet in ESTABLISHED; at once on FIN_WAIT/CLOSE/TIME_WAIT...;
 * never in SYN states), and a backup engine with the same configuration builds the
 * same connections from them, bound to its own dests with the right counters.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Engine, type ServiceKey } from '../../src/engine/engine.js';
import { SVC_F_PERSISTENT, CONN_F_INACTIVE } from '../../src/engine/constants.js';
import { SyncMaster } from '../../src/sync/master.js';
import { applySyncConn } from '../../src/sync/backup.js';
import { decodeSync, type SyncConn } from '../../src/sync/message.js';
import { ACK, FIN, SYN, buildPacket, rng, type PacketSpec } from '../helpers/packets.js';

const VIP = '10.0.3.100';
const CIP = '10.0.1.2';
const RIP1 = '10.0.2.11';
const RIP2 = '10.0.2.12';
const TCP80: ServiceKey = { af: 4, protocol: 6, addr: VIP, port: 80 };

function director(persistent = false, settings = {}): Engine {
  const e = new Engine({ random: rng(3), settings });
  e.addService(
    TCP80,
    persistent ? { scheduler: 'rr', flags: SVC_F_PERSISTENT, timeout: 300 } : { scheduler: 'rr' },
  );
  e.addDest(TCP80, { addr: RIP1, port: 8080, fwd: 'masq' });
  e.addDest(TCP80, { addr: RIP2, port: 8080, fwd: 'masq' });
  return e;
}

function send(e: Engine, dir: 'in' | 'out', p: PacketSpec, now: number): number {
  const raw = buildPacket(p);
  const buf = new Uint8Array(raw.length + 64);
  buf.set(raw, 64);
  return dir === 'in' ? e.in(buf, 64, raw.length, now) : e.out(buf, 64, raw.length, now);
}

/** A master engine whose datagrams are collected (flushed after every packet). */
function master(e: Engine): { m: SyncMaster; records: () => SyncConn[] } {
  const got: Uint8Array[] = [];
  const m = new SyncMaster(e, { syncId: 7, send: (d) => got.push(d) });
  m.attach();
  return {
    m,
    records: () => {
      m.flush();
      const out = got.flatMap((d) => decodeSync(d).conns);
      got.length = 0;
      return out;
    },
  };
}

/** The client's side of a conversation through the director (NAT: RS answers from RIP). */
function conversation(e: Engine, t0: number, cport: number) {
  let t = t0;
  const c = { src: CIP, dst: VIP, sport: cport, dport: 80 };
  const rs = () => {
    const conn = e.connections().find((x) => x.cport === cport && !x.template)!;
    return { src: conn.daddr, dst: CIP, sport: 8080, dport: cport };
  };
  return {
    syn: () => send(e, 'in', { ...c, flags: SYN }, (t += 1)),
    synack: () => send(e, 'out', { ...rs(), flags: SYN | ACK }, (t += 1)),
    ack: (payload = '') => send(e, 'in', { ...c, flags: ACK, payload }, (t += 1)),
    fin: () => send(e, 'in', { ...c, flags: FIN | ACK }, (t += 1)),
    rsFin: () => send(e, 'out', { ...rs(), flags: FIN | ACK }, (t += 1)),
  };
}

test('master: nothing in SYN states; ESTABLISHED at the 3rd input packet, then every 50th', () => {
  const e = director();
  const { records } = master(e);
  const cv = conversation(e, 1000, 40001);
  cv.syn();
  cv.synack();
  assert.deepEqual(records(), [], 'SYN_RECV is never sent');
  cv.ack(); // 2nd input packet: ESTABLISHED, but pkts != threshold... state changed though
  const first = records();
  // entering ESTABLISHED forces nothing by itself (step 3): sent only at pkts == 3
  assert.deepEqual(first, []);
  cv.ack('x'); // 3rd
  const r3 = records();
  assert.equal(r3.length, 1);
  assert.equal(r3[0].state, 1, 'ESTABLISHED');
  assert.equal(r3[0].cport, 40001);
  assert.equal(r3[0].vport, 80);
  assert.equal(r3[0].dport, 8080);
  assert.equal(r3[0].timeout, 900);
  for (let i = 4; i < 53; i++) cv.ack('y');
  assert.deepEqual(records(), [], 'packets 4..52 send nothing');
  cv.ack('z'); // 53rd
  assert.equal(records().length, 1, 'the 53rd packet sends again');
});

test('master: leaving ESTABLISHED (client FIN: CLOSE_WAIT) is sent at once', () => {
  const e = director();
  const { records } = master(e);
  const cv = conversation(e, 1000, 40002);
  cv.syn();
  cv.synack();
  cv.ack();
  cv.ack('a');
  records();
  cv.fin();
  const r = records();
  assert.equal(r.length, 1);
  assert.equal(r[0].state, 7, 'CLOSE_WAIT (IPVS: an input FIN in ESTABLISHED)');
  assert.ok(r[0].flags & CONN_F_INACTIVE, 'inactive once out of ESTABLISHED');
});

test('master: a persistent service sends the template with the conn', () => {
  const e = director(true);
  const { records } = master(e);
  const cv = conversation(e, 1000, 40003);
  cv.syn();
  cv.synack();
  cv.ack();
  cv.ack('b');
  const r = records();
  const tpl = r.filter((x) => x.flags & 0x1000);
  const conn = r.filter((x) => !(x.flags & 0x1000));
  assert.equal(conn.length, 1);
  // templates skip the state filter and the sync_period test (§12.4): the template is
  // considered, and sent, with every input packet of its conns — SYN states included
  assert.equal(tpl.length, 3);
  for (const t of tpl) {
    assert.equal(t.cport, 0);
    assert.equal(t.timeout, 300);
  }
});

test('backup: the same connections, bound to its own dests, counted, expiring on time', () => {
  const m = director();
  const b = director();
  const { records } = master(m);
  for (let i = 0; i < 4; i++) {
    const cv = conversation(m, 1000 + i * 10, 41000 + i);
    cv.syn();
    cv.synack();
    cv.ack();
    cv.ack('c');
  }
  const recs = records();
  assert.equal(recs.length, 4);
  for (const r of recs) assert.equal(applySyncConn(b, r, 1), 'created');
  const mine = (e: Engine) =>
    e
      .connections()
      .map((c) => `${c.caddr}:${c.cport}>${c.vaddr}:${c.vport}>${c.daddr}:${c.dport} ${c.state}`)
      .sort();
  assert.deepEqual(mine(b), mine(m));
  const svc = b.findService(TCP80)!;
  const d1 = b.findDest(svc, RIP1, 8080)!;
  const d2 = b.findDest(svc, RIP2, 8080)!;
  assert.equal(d1.activeconns + d2.activeconns, 4, 'active on the backup too');
  assert.equal(d1.inactconns + d2.inactconns, 0);
  // the conns carry the master's timeout and the SYNC flag
  for (const c of b.connections()) {
    assert.ok(c.flags & 0x20, 'SYNC');
    assert.ok(c.expires > 890 && c.expires <= 900, String(c.expires));
  }
  // an update that turns one inactive moves it between the counters
  const r0 = { ...recs[0], state: 4, flags: recs[0].flags | CONN_F_INACTIVE, timeout: 120 };
  assert.equal(applySyncConn(b, r0, 1), 'updated');
  assert.equal(d1.activeconns + d2.activeconns, 3);
  assert.equal(d1.inactconns + d2.inactconns, 1);
  // the master moved a client to the other server: active record replaces, inactive is stale
  const moved = { ...recs[1], daddr: Uint32Array.of(recs[1].daddr[0] ^ 0x17) };
  assert.equal(applySyncConn(b, { ...moved, flags: moved.flags | CONN_F_INACTIVE }, 1), 'stale');
  const back = recs[1].daddr[0] === 0x0a00020b ? 0x0a00020c : 0x0a00020b;
  assert.equal(applySyncConn(b, { ...recs[1], daddr: Uint32Array.of(back) }, 1), 'replaced');
  // unknown protocol / bad state: skipped
  assert.equal(applySyncConn(b, { ...recs[2], protocol: 132 }, 1), 'skipped');
  assert.equal(applySyncConn(b, { ...recs[2], state: 11 }, 1), 'skipped');
  // they expire on the backup's own clock
  for (let t = 0; t <= 902_000; t += 1000) b.tick(t);
  assert.equal(b.connections().filter((c) => c.state === 'ESTABLISHED').length, 0);
});

test('backup: v0 records take their timeout from the state table; a conn with no dest stays unbound', () => {
  const m = director();
  const b = new Engine();
  b.addService(TCP80, { scheduler: 'rr' }); // no dests yet
  const { records } = master(m);
  const cv = conversation(m, 1000, 42000);
  cv.syn();
  cv.synack();
  cv.ack();
  cv.ack('d');
  const [r] = records();
  const v0 = { ...r, timeout: undefined };
  assert.equal(applySyncConn(b, v0, 0), 'created');
  const c = b.connections()[0];
  assert.equal(c.state, 'ESTABLISHED');
  assert.ok(c.expires > 890, 'ESTABLISHED timeout 900 s');
  // the dest appears: the next update binds it
  b.addDest(TCP80, { addr: RIP1, port: 8080, fwd: 'masq' });
  b.addDest(TCP80, { addr: RIP2, port: 8080, fwd: 'masq' });
  assert.equal(applySyncConn(b, v0, 0), 'updated');
  const svc = b.findService(TCP80)!;
  const bound = b.findDest(svc, RIP1, 8080)!.activeconns + b.findDest(svc, RIP2, 8080)!.activeconns;
  assert.equal(bound, 1);
});

test('backup_only: a director running a backup daemon forwards nothing', () => {
  const e = director(false, { backup_only: 1 });
  const v1 = send(e, 'in', { src: CIP, dst: VIP, sport: 43000, dport: 80, flags: SYN }, 1);
  assert.equal(v1, 2 /* V_FORWARD */, 'no backup daemon: forwarded as usual');
  e.syncBackup = true;
  const v2 = send(e, 'in', { src: CIP, dst: VIP, sport: 43001, dport: 80, flags: SYN }, 2);
  assert.equal(v2, 0 /* V_ACCEPT */);
});

test('master: sync_refresh_period and sync_retries decide instead of the packet count', () => {
  const e = director(false, { sync_refresh_period: 120, sync_retries: 1, sync_threshold: [3, 0] });
  const { records } = master(e);
  const c = { src: CIP, dst: VIP, sport: 44000, dport: 80 };
  const rsFor = () => {
    const conn = e.connections().find((x) => x.cport === 44000)!;
    return { src: conn.daddr, dst: CIP, sport: 8080, dport: 44000 };
  };
  const t0 = 5_000_000;
  send(e, 'in', { ...c, flags: SYN }, t0);
  send(e, 'out', { ...rsFor(), flags: SYN | ACK }, t0 + 1);
  send(e, 'in', { ...c, flags: ACK }, t0 + 2);
  assert.equal(records().length, 1, 'entering ESTABLISHED: the end time moved by > refresh period');
  send(e, 'in', { ...c, flags: ACK, payload: 'a' }, t0 + 1000);
  assert.equal(records().length, 0, 'within refresh/8 of the last send: nothing');
  send(e, 'in', { ...c, flags: ACK, payload: 'b' }, t0 + 16_000);
  assert.equal(records().length, 1, 'after refresh/8: one retry');
  send(e, 'in', { ...c, flags: ACK, payload: 'c' }, t0 + 32_000);
  assert.equal(records().length, 0, 'sync_retries 1: no second retry');
  send(e, 'in', { ...c, flags: ACK, payload: 'd' }, t0 + 16_000 + 130_000);
  assert.equal(records().length, 1, 'the end time moved by more than the refresh period');
});
