/**
 * The daemon's data-plane workers (src/daemon/workers.ts): `--workers` parsing, and
 * the merge of the workers' listings into the main engine's — counters, rates and
 * connection counts added service by service and real server by real server,
 * connections of every worker with distinct ids. Two real engines carry real packets
 * here; test/e2e/workers.test.ts runs the whole daemon.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ControlModel } from '../../src/control/model.js';
import {
  mergeConnections,
  mergeServices,
  parseWorkers,
  workersRefused,
} from '../../src/daemon/workers.js';
import { Engine } from '../../src/engine/engine.js';
import { buildPacket } from '../helpers/packets.js';

describe('--workers', () => {
  it('1, 2, 4, 8 or auto (the largest power of two ≤ the cores)', () => {
    assert.equal(parseWorkers('1'), 1);
    assert.equal(parseWorkers('2'), 2);
    assert.equal(parseWorkers('8'), 8);
    assert.equal(parseWorkers('auto', 2), 2);
    assert.equal(parseWorkers('auto', 6), 4);
    assert.equal(parseWorkers('auto', 64), 8);
    assert.equal(parseWorkers('auto', 1), 1);
    for (const bad of ['0', '3', '16', '-2', '2.0', 'two', ''])
      assert.match(String(parseWorkers(bad)), /^--workers .*: expected 1, 2, 4 or 8/);
  });
});

describe('what several workers refuse', () => {
  it('takeover, FTP, connection sync, no steering; nothing with one worker', () => {
    assert.equal(workersRefused(1, { takeover: true, ftpPorts: [21] }), null);
    assert.equal(workersRefused(2, {}), null);
    assert.equal(workersRefused(2, { ftpPorts: [0] }), null, '--ftp-ports 0: the helper off');
    assert.match(workersRefused(2, { takeover: true })!, /^--workers 2: not with --takeover;/);
    assert.match(workersRefused(4, { ftpPorts: [21, 2121] })!, /not with --ftp-ports \(an FTP/);
    assert.match(workersRefused(2, { syncInterface: 'eth0' })!, /--sync-interface/);
    assert.match(workersRefused(2, { steer: false })!, /--no-steer/);
  });
});

describe('merged listings', () => {
  const svc = { af: 4 as const, protocol: 6, addr: '10.9.0.1', port: 80 };
  const setup = (): { e: Engine; m: ControlModel } => {
    const e = new Engine();
    const m = new ControlModel(e);
    m.addService({ ...svc, scheduler: 'rr' });
    m.addDest(svc, { addr: '10.9.1.1', port: 80, fwd: 'masq' });
    m.addDest(svc, { addr: '10.9.1.2', port: 80, fwd: 'masq' });
    return { e, m };
  };
  /** A SYN from the client port `cport` through engine e. */
  const syn = (e: Engine, cport: number): void => {
    const b = buildPacket({
      src: '10.9.2.1',
      dst: '10.9.0.1',
      sport: cport,
      dport: 80,
      flags: 0x02,
    });
    e.in(b, 0, b.length, 1000);
  };

  it('counters and connection counts add up; connections keep distinct ids', () => {
    const a = setup();
    const b = setup();
    syn(a.e, 1000);
    syn(a.e, 1002);
    syn(b.e, 1001);
    const merged = mergeServices(a.m.services(), [b.m.services()]);
    assert.equal(merged.length, 1);
    const s = merged[0];
    assert.equal(s.stats.conns, 3);
    assert.equal(s.stats.inpkts, 3);
    assert.equal(
      s.stats.inbytes,
      a.m.services()[0].stats.inbytes + b.m.services()[0].stats.inbytes,
    );
    // rr in each engine: a sent one to each server, b its first to the first
    const byAddr = new Map(s.dests.map((d) => [d.addr, d]));
    const conns = (addr: string): number => byAddr.get(addr)!.stats.conns;
    assert.equal(conns('10.9.1.1') + conns('10.9.1.2'), 3);
    assert.equal(
      s.dests.reduce((n, d) => n + d.activeconns + d.inactconns, 0),
      3,
    );
    // the inputs are not changed
    assert.equal(a.m.services()[0].stats.conns, 2);
    const c = mergeConnections(a.m.connections(), [b.m.connections()]);
    assert.deepEqual(c.map((x) => x.cport).sort(), [1000, 1001, 1002]);
    assert.equal(new Set(c.map((x) => x.id)).size, 3);
  });

  it('the model adds the shards to every listing (services, one service, connections)', () => {
    const a = setup();
    const b = setup();
    syn(b.e, 1001);
    const m = new ControlModel(a.e, {
      shards: {
        services: (own) => mergeServices(own, [b.m.services()]),
        connections: (own) => mergeConnections(own, [b.m.connections()]),
      },
    });
    assert.equal(m.services()[0].stats.conns, 1);
    assert.equal(m.service(svc).stats.conns, 1);
    assert.equal(m.connections().length, 1);
  });

  it('every command the model applies is told, with its arguments, in order', () => {
    const told: [string, unknown[]][] = [];
    const m = new ControlModel(new Engine(), { applied: (c, a) => told.push([c, a]) });
    m.addService({ ...svc, scheduler: 'wrr' });
    m.addDest(svc, { addr: '10.9.1.1', port: 80, fwd: 'masq' });
    m.zero();
    m.sysctlSet('net.ipv4.vs.expire_nodest_conn', '1');
    assert.throws(() => m.addService({ ...svc, scheduler: 'wrr' }), /exists/);
    m.delService(svc);
    // a replica applying the same commands has the same configuration
    const r = new ControlModel(new Engine());
    for (const [c, a] of told) (r[c as 'zero'] as (...x: unknown[]) => unknown).apply(r, a);
    assert.deepEqual(
      told.map(([c]) => c),
      ['addService', 'addDest', 'zero', 'sysctlSet', 'delService'],
    );
    assert.deepEqual(r.snapshot(), m.snapshot());
  });
});
