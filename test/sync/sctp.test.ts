/**
 * SCTP conns through the sync daemon's decisions (the kernel's ip_vs_sync_conn_needed
 * and ip_vs_proc_conn): the master sends an association only in ESTABLISHED and the
 * shutdown states and CLOSED (a change out of ESTABLISHED at once), the backup takes
 * SCTP records in any of the 14 states with that state's timeout.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Engine, type ServiceKey } from '../../src/engine/engine.js';
import { applySyncConn } from '../../src/sync/backup.js';
import { master } from './rig.js';
import {
  COOKIE_ACK,
  COOKIE_ECHO,
  DATA,
  INIT,
  INIT_ACK,
  SHUTDOWN,
  SHUTDOWN_ACK,
  sctpPacket,
} from '../engine/sctp-packets.js';

const SVC: ServiceKey = { af: 4, protocol: 132, addr: '10.0.3.100', port: 3868 };

function director(): Engine {
  const e = new Engine();
  e.addService(SVC, { scheduler: 'rr' });
  e.addDest(SVC, { addr: '10.0.2.11', port: 3868, fwd: 'masq' });
  return e;
}

function cin(e: Engine, chunk: number, t: number): void {
  const p = sctpPacket({
    src: '10.0.1.2',
    dst: '10.0.3.100',
    sport: 40000,
    dport: 3868,
    chunks: [chunk],
  });
  e.in(p, 0, p.length, t);
}
function sout(e: Engine, chunk: number, t: number): void {
  const p = sctpPacket({
    src: '10.0.2.11',
    dst: '10.0.1.2',
    sport: 3868,
    dport: 40000,
    chunks: [chunk],
  });
  e.out(p, 0, p.length, t);
}

test('master: SCTP is sent in ESTABLISHED at the threshold, at once when it shuts down', () => {
  const e = director();
  const { records } = master(e);
  cin(e, INIT, 0);
  sout(e, INIT_ACK, 1);
  cin(e, COOKIE_ECHO, 2);
  assert.deepEqual(records(), [], 'INIT1 / C-SENT / C-REPLIED are never sent');
  sout(e, COOKIE_ACK, 3);
  cin(e, DATA, 4); // 3rd input packet, ESTABLISHED
  const r = records();
  assert.equal(r.length, 1);
  assert.equal(r[0].protocol, 132);
  assert.equal(r[0].state, 8, 'ESTABLISHED');
  assert.equal(r[0].timeout, 900);
  cin(e, DATA, 5);
  assert.deepEqual(records(), [], 'the 4th packet sends nothing');
  cin(e, SHUTDOWN, 6); // S-RECEIVED: a change out of ESTABLISHED goes at once
  const s = records();
  assert.equal(s.length, 1);
  assert.equal(s[0].state, 10);
  assert.equal(s[0].timeout, 61);
  sout(e, SHUTDOWN_ACK, 7);
});

test('backup: SCTP records create conns in their state with its timeout; bad states skipped', () => {
  const m = director();
  const { records } = master(m);
  cin(m, INIT, 0);
  sout(m, INIT_ACK, 1);
  cin(m, COOKIE_ECHO, 2);
  sout(m, COOKIE_ACK, 3);
  cin(m, DATA, 4);
  const [rec] = records();
  const b = director();
  assert.equal(applySyncConn(b, rec, 1, 10), 'created');
  const [c] = b.connections();
  assert.equal(c.protocol, 132);
  assert.equal(c.state, 'ESTABLISHED');
  assert.equal(b.services[0].dests[0].activeconns, 1);
  // a v0 record (no timeout): the state's timeout from sctp_timeouts
  const v0 = { ...rec, cport: 40001, timeout: undefined, state: 13 };
  assert.equal(applySyncConn(b, v0, 0, 10), 'created');
  const closed = b.connections().find((x) => x.cport === 40001)!;
  assert.equal(closed.state, 'CLOSED');
  assert.equal(closed.expires, 61);
  assert.equal(applySyncConn(b, { ...rec, cport: 40002, state: 14 }, 1, 10), 'skipped');
});
