/**
 * What a sync master sends, through a real engine (spec §12.4): real TCP conversations
 * produce records at the kernel's moments (3rd, 53rd... input packet in ESTABLISHED; at
 * once on FIN_WAIT/CLOSE/TIME_WAIT...; never in SYN states), templates with their conns,
 * and the refresh-period rule when it is set.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CONN_F_INACTIVE } from '../../src/engine/constants.js';
import { ACK, SYN } from '../helpers/packets.js';
import { CIP, VIP, conversation, director, master, send } from './rig.js';

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
