/**
 * A hand-over in two steps (src/daemon/takeover.ts, engine/state.ts StateImport): the
 * bulk imported while the old engine goes on (new conns, traffic, expiries, freed ids
 * taken again by other conns, an FTP session's seq records and data conn), then the
 * delta since, gives exactly what a one-shot import of the old engine's state at the
 * delta's moment gives — the same conns with the same timers, controllers, counters and
 * helper data, and the same behaviour for later packets and timers. And the old
 * daemon's side: `bulk` does not stop the data plane, `begin` after it parks once and
 * answers only the delta, `abort` before `begin` resumes nothing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Engine, type ServiceKey } from '../../src/engine/engine.js';
import { CONN_F_TEMPLATE } from '../../src/engine/constants.js';
import { registerFtp } from '../../src/engine/app/index.js';
import { exportEngineState, importEngineState, StateImport } from '../../src/engine/state.js';
import { StateExport } from '../../src/engine/state-export.js';
import { stateFromWire, stateToWire } from '../../src/daemon/state.js';
import { Handover } from '../../src/daemon/takeover.js';
import { ACK, FIN, PSH, SYN, buildPacket, rng, type PacketSpec } from '../helpers/packets.js';

const VIP = '10.0.3.100';
const K80: ServiceKey = { af: 4, protocol: 6, addr: VIP, port: 80 };
const K443: ServiceKey = { af: 4, protocol: 6, addr: VIP, port: 443 };
const K21: ServiceKey = { af: 4, protocol: 6, addr: VIP, port: 21 };
const RIP_A = '10.0.2.9';

function configured(): Engine {
  const e = new Engine({ random: rng(7), hashSeed: 1234 });
  registerFtp(e);
  e.addService(K80, { scheduler: 'rr' });
  e.addService(K443, { scheduler: 'wlc', flags: 1, timeout: 300 });
  for (const a of [RIP_A, '10.0.2.12', '10.0.2.13']) {
    e.addDest(K80, { addr: a, port: 80, fwd: 'masq' });
    e.addDest(K443, { addr: a, port: 443, fwd: 'masq' });
  }
  e.addService(K21, { scheduler: 'rr' });
  e.addDest(K21, { addr: RIP_A, port: 21, fwd: 'masq' });
  return e;
}

/** One packet into `e`: its verdict and the bytes out. */
function send(e: Engine, dir: 'in' | 'out', p: PacketSpec, now: number): string {
  const raw = buildPacket(p);
  const buf = new Uint8Array(raw.length + 128);
  buf.set(raw, 64);
  const v = dir === 'in' ? e.in(buf, 64, raw.length, now) : e.out(buf, 64, raw.length, now);
  const r = e.result;
  return `${v} ${Buffer.from(r.buf.subarray(r.off, r.off + r.len)).toString('hex')}`;
}

function client(i: number, port: number, flags: number, payload?: string): PacketSpec {
  return {
    src: `10.0.${1 + (i >> 8)}.${i & 255}`,
    dst: VIP,
    sport: 20000 + (i % 30000),
    dport: port,
    flags,
    payload: payload ?? (flags & SYN ? undefined : 'x'),
  };
}

/** `ipvsadm -L -c` with timers, controllers by client side, and the helpers' data. */
function listing(e: Engine): string[] {
  const cs = e.connections();
  const byId = new Map(cs.map((c) => [c.id, c]));
  const ipvs = e.ipvs;
  return cs
    .map((c) => {
      const ct = c.control >= 0 ? byId.get(c.control) : undefined;
      return [
        c.protocol,
        `${c.caddr}:${c.cport}`,
        `${c.vaddr}:${c.vport}`,
        `${c.daddr}:${c.dport}`,
        c.state,
        e.conns.expires[c.id],
        e.conns.armed(c.id),
        c.flags,
        c.inPkts,
        c.nControl,
        ct ? `${ct.caddr}:${ct.cport}` : '-',
        ipvs.appOf.get(c.id)?.name ?? '',
        JSON.stringify(ipvs.appData.get(c.id) ?? null),
        Array.from(ipvs.seqs.get(c.id) ?? []).join(','),
      ].join(' ');
    })
    .sort();
}

function figures(e: Engine): unknown {
  return {
    totals: e.totals.snapshot(),
    count: e.conns.count,
    noCport: e.conns.noCportCount,
    services: e.services.map((s) => ({
      s: s.toString(),
      stats: s.stats.snapshot(),
      dests: s.dests.map((d) => [
        d.toString(),
        d.refcnt,
        d.activeconns,
        d.inactconns,
        d.persistconns,
        d.flags,
        d.stats.snapshot(),
      ]),
    })),
    trash: e.ipvs.trash.map((d) => [d.toString(), d.refcnt]),
    drops: Array.from(e.drops),
  };
}

/** Through the control socket's codec and JSON, as the answer travels. */
function wire(v: Parameters<typeof stateToWire>[0]): unknown {
  return stateFromWire(JSON.parse(JSON.stringify(stateToWire(v))));
}

test('bulk, then the delta with traffic, expiries and reused ids between them, equals a one-shot import', () => {
  const a = configured();
  let t = 5_000_000;
  // conns on 80 (short SYN_RECV timers) and 443 (persistent: templates control them)
  for (let i = 0; i < 3000; i++) send(a, 'in', client(i, i % 3 ? 80 : 443, SYN), (t += 1));
  for (let i = 0; i < 3000; i += 2) send(a, 'in', client(i, i % 3 ? 80 : 443, ACK | PSH), (t += 1));
  // FTP: a control conn with a PASV reply rewritten to the VIP (seq records)
  const ftp = { src: '10.0.1.250', dst: VIP, sport: 33333, dport: 21 };
  let cseq = 1000;
  let sseq = 9000;
  const fin = (flags: number, payload = ''): PacketSpec => {
    const p = { ...ftp, flags, seq: cseq, ack: sseq, payload };
    cseq += payload.length + (flags & (SYN | FIN) ? 1 : 0);
    return p;
  };
  const fout = (flags: number, payload = ''): PacketSpec => {
    const p = {
      src: RIP_A,
      dst: ftp.src,
      sport: 21,
      dport: ftp.sport,
      flags,
      seq: sseq,
      ack: cseq,
      payload,
    };
    sseq += payload.length + (flags & (SYN | FIN) ? 1 : 0);
    return p;
  };
  send(a, 'in', fin(SYN), (t += 1));
  send(a, 'out', fout(SYN | ACK), (t += 1));
  send(a, 'in', fin(ACK), (t += 1));
  send(a, 'in', fin(ACK | PSH, 'PASV\r\n'), (t += 1));
  send(a, 'out', fout(ACK | PSH, `227 Entering Passive Mode (10,0,2,9,195,80).\r\n`), (t += 1));

  // the old daemon: the export in slices with traffic between them, then the bulk
  const x = new StateExport(a);
  a.syncMaster = (id) => x.touched(id);
  let slices = 0;
  while (!x.step(512)) {
    slices++;
    for (let i = 0; i < 40; i++) send(a, 'in', client(3000 + slices * 40 + i, 80, SYN), (t += 1));
  }
  const bulk = x.bulk();
  const b = configured();
  const im = new StateImport(b);
  const s1 = im.bulk(wire(bulk), t);
  assert.equal(s1.conns + s1.templates, bulk.conns.n);

  // between bulk and delta: traffic on old conns, closes, new conns, the SYN_RECV ones
  // expire (their ids freed) and new conns take the ids again; FTP goes on
  for (let i = 1; i < 3000; i += 7) send(a, 'in', client(i, i % 3 ? 80 : 443, ACK | PSH), (t += 1));
  for (let i = 0; i < 3000; i += 10)
    send(a, 'in', client(i, i % 3 ? 80 : 443, FIN | ACK), (t += 1));
  const before = a.conns.count;
  a.tick((t += 70_000));
  assert.ok(a.conns.count < before, 'some conns expired');
  for (let i = 0; i < 500; i++) send(a, 'in', client(9000 + i, i % 2 ? 80 : 443, SYN), (t += 1));
  send(a, 'in', fin(ACK | PSH, 'LIST\r\n'), (t += 1));
  send(a, 'out', fout(ACK | PSH, '150 Here it comes.\r\n'), (t += 1));
  send(
    a,
    'in',
    { src: ftp.src, dst: VIP, sport: 33400, dport: 195 * 256 + 80, flags: SYN },
    (t += 1),
  );

  // the old daemon parks: the delta
  const d = x.delta();
  a.syncMaster = null;
  assert.ok(d.gone.length > 0, 'conns the bulk carried went');
  assert.ok(d.state.conns.n < a.conns.count / 2, `delta ${d.state.conns.n} of ${a.conns.count}`);
  // some ids of the bulk now name other conns (taken again after expiry)
  const bulkIds = new Set(bulk.conns.ids);
  const reused = Array.from(d.state.conns.ids!).filter(
    (id, j) =>
      bulkIds.has(id) && d.state.conns.cport[j] !== bulk.conns.cport[bulk.conns.ids!.indexOf(id)],
  );
  assert.ok(reused.length > 0, 'ids reused between bulk and delta');
  const s2 = im.delta(wire(d), t);
  assert.equal(s2.gone, d.gone.length);
  assert.deepEqual(im.totals(), {
    conns: a.connections().filter((c) => !(a.conns.flags[c.id] & CONN_F_TEMPLATE)).length,
    templates: a.connections().filter((c) => a.conns.flags[c.id] & CONN_F_TEMPLATE).length,
  });

  // the same as a one-shot import at the delta's moment, and as the old engine
  const c = configured();
  importEngineState(c, wire(exportEngineState(a)), t);
  assert.ok(a.ipvs.seqs.size > 0, 'FTP seq records');
  assert.ok(
    listing(a).some((l) => l.includes(':33400 ')),
    'the FTP data conn',
  );
  assert.deepEqual(listing(b), listing(c));
  assert.deepEqual(listing(b), listing(a));
  assert.deepEqual(figures(b), figures(c));
  // and they behave alike from here: packets (lookups, NAT, FTP seq adjust), timers
  for (let i = 1; i < 3000; i += 13) {
    const p = client(i, i % 3 ? 80 : 443, ACK | PSH, `more ${i}`);
    assert.equal(send(b, 'in', p, t + 1), send(c, 'in', p, t + 1));
  }
  const more = fin(ACK | PSH, 'QUIT\r\n');
  assert.equal(send(b, 'in', more, t + 2), send(c, 'in', more, t + 2));
  const reply = fout(ACK | PSH, '221 Bye.\r\n');
  assert.equal(send(b, 'out', reply, t + 3), send(c, 'out', reply, t + 3));
  for (const dt of [1000, 60_000, 400_000]) {
    b.tick(t + dt);
    c.tick(t + dt);
    assert.deepEqual(listing(b), listing(c));
    assert.deepEqual(figures(b), figures(c));
  }
});

test('a delta is refused before a bulk, and a malformed delta is refused', () => {
  const im = new StateImport(configured());
  assert.throws(() => im.delta({}, 0), /before the bulk/);
  const a = configured();
  const x = new StateExport(a);
  while (!x.step());
  im.bulk(wire(x.bulk()), 0);
  assert.throws(() => im.delta({ state: wire(exportEngineState(a)) }, 0), /controlIds|ids/);
});

test('the old daemon: bulk keeps forwarding, begin parks once and answers the delta, abort before begin resumes nothing', async () => {
  const a = configured();
  for (let i = 0; i < 50; i++) send(a, 'in', client(i, 80, SYN), 1000 + i);
  const calls: string[] = [];
  const h = new Handover({
    engine: a,
    park: (keep) => void calls.push(keep ? 'park-keep' : 'park'),
    release: () => void calls.push('release'),
    resume: () => (calls.push('resume'), Promise.resolve()),
    exit: () => void calls.push('exit'),
    log: () => undefined,
    descriptors: () => [],
  });
  const r1 = (await h.takeover('bulk')) as { state: unknown };
  assert.deepEqual(calls, []);
  assert.throws(() => h.takeover('bulk'), /already under way/);
  const b = configured();
  const im = new StateImport(b);
  im.bulk(stateFromWire(JSON.parse(JSON.stringify(r1.state))), 2000);
  for (let i = 50; i < 60; i++) send(a, 'in', client(i, 80, SYN), 2000 + i);
  const r2 = (await h.takeover('begin-keep')) as { delta: unknown; state?: unknown };
  assert.deepEqual(calls, ['park-keep']);
  assert.equal(r2.state, undefined);
  const d = im.delta(stateFromWire(JSON.parse(JSON.stringify(r2.delta))), 2100);
  assert.equal(d.conns, 10);
  assert.deepEqual(listing(b), listing(a));
  h.takeover('abort');
  assert.deepEqual(calls, ['park-keep', 'resume']);

  // given up between bulk and begin: the data plane never stopped, nothing to resume
  await h.takeover('bulk');
  h.takeover('abort');
  assert.deepEqual(calls, ['park-keep', 'resume']);
  // and a plain begin (an older successor) still gets the whole state
  const r3 = (await h.takeover('begin')) as { state: unknown };
  assert.deepEqual(calls, ['park-keep', 'resume', 'park']);
  assert.equal(
    importEngineState(configured(), stateFromWire(JSON.parse(JSON.stringify(r3.state))), 3000)
      .conns,
    60,
  );
  h.takeover('abort');
});
