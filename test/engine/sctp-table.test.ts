/**
 * Every cell of the SCTP state table (3 direction blocks × 10 chunk events × 14
 * states), typed in below from the kernel's `sctp_states` in ip_vs_proto_sctp.c, each
 * driven through the engine with a real SCTP packet: the next state, the timeout from
 * `sctp_timeouts`, and the real server's activeconns / inactconns after the packet.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Engine } from '../../src/engine/engine.js';
import type { ServiceKey } from '../../src/engine/engine.js';
import { V_FORWARD, V_ACCEPT } from '../../src/engine/drop.js';
import { sctpNextState } from '../../src/engine/proto/sctp.js';
import {
  ABORT,
  COOKIE_ACK,
  COOKIE_ECHO,
  DATA,
  ERROR,
  INIT,
  INIT_ACK,
  SHUTDOWN,
  SHUTDOWN_ACK,
  SHUTDOWN_COMPLETE,
  sctpPacket,
} from './sctp-packets.js';

// The kernel's table, rows = chunk event, columns = current state.
const KERNEL = `
INPUT
        NO  I1  IN  CS  CR  CW  CO  CE  ES  SS  SR  SA  RJ  CL
d       ES  I1  IN  CS  CR  CW  CO  CE  ES  SS  SR  SA  RJ  CL
i       I1  IN  IN  CS  CR  CW  CO  CE  ES  SS  SR  SA  IN  IN
i_a     CW  CW  CW  CS  CR  CO  CO  CE  ES  SS  SR  SA  RJ  CL
c_e     CR  IN  IN  CR  CR  CW  CO  CE  ES  SS  SR  SA  RJ  CL
c_a     ES  I1  IN  CS  CR  CW  CO  ES  ES  SS  SR  SA  RJ  CL
s       SR  I1  IN  CS  CR  CW  CO  CE  SR  SS  SR  SA  RJ  CL
s_a     CL  IN  IN  CS  CR  CW  CO  CE  ES  CL  SR  CL  RJ  CL
s_c     CL  CL  CL  CS  CR  CW  CO  CE  ES  SS  SR  CL  RJ  CL
err     CL  I1  IN  CS  CR  CW  CO  CL  ES  SS  SR  SA  RJ  CL
ab      CL  CL  CL  CL  CL  RJ  CL  CL  CL  CL  CL  CL  CL  CL
OUTPUT
        NO  I1  IN  CS  CR  CW  CO  CE  ES  SS  SR  SA  RJ  CL
d       ES  I1  IN  CS  CR  CW  CO  CE  ES  SS  SR  SA  RJ  CL
i       CW  CW  CW  CW  CW  CW  CW  CW  ES  CW  CW  CW  CW  CW
i_a     CS  CS  CS  CS  CR  CW  CO  CE  ES  SS  SR  SA  RJ  CL
c_e     CE  CE  CE  CE  CE  CE  CE  CE  ES  SS  SR  SA  RJ  CL
c_a     ES  ES  ES  ES  ES  ES  ES  ES  ES  SS  SR  SA  RJ  CL
s       SS  SS  SS  SS  SS  SS  SS  SS  SS  SS  SR  SA  RJ  CL
s_a     SA  SA  SA  SA  SA  CW  CO  CE  ES  SA  SA  SA  RJ  CL
s_c     CL  I1  IN  CS  CR  CW  CO  CE  ES  SS  SR  SA  RJ  CL
err     CL  CL  CL  CL  CL  CW  CO  CE  ES  SS  SR  SA  RJ  CL
ab      CL  RJ  CL  CL  CL  CL  CL  CL  CL  CL  CL  CL  CL  CL
INPUT-ONLY
        NO  I1  IN  CS  CR  CW  CO  CE  ES  SS  SR  SA  RJ  CL
d       ES  I1  IN  CS  CR  ES  CO  CE  ES  SS  SR  SA  RJ  CL
i       I1  IN  IN  IN  IN  IN  CO  CE  ES  SS  SR  SA  IN  IN
i_a     CE  CE  CE  CE  CE  CE  CO  CE  ES  SS  SR  SA  RJ  CL
c_e     ES  ES  ES  ES  ES  ES  CO  CE  ES  SS  SR  SA  RJ  CL
c_a     ES  I1  IN  ES  ES  CW  ES  ES  ES  SS  SR  SA  RJ  CL
s       SR  I1  IN  CS  CR  CW  CO  CE  SR  SS  SR  SA  RJ  CL
s_a     CL  IN  IN  CS  CR  CW  CO  CE  CL  CL  SR  CL  RJ  CL
s_c     CL  CL  CL  CL  CL  CW  CO  CE  ES  SS  CL  CL  RJ  CL
err     CL  I1  IN  CS  CR  CW  CO  CE  ES  SS  SR  SA  RJ  CL
ab      CL  CL  CL  CL  CL  RJ  CL  CL  CL  CL  CL  CL  CL  CL
`;

const ABBR = ['NO', 'I1', 'IN', 'CS', 'CR', 'CW', 'CO', 'CE', 'ES', 'SS', 'SR', 'SA', 'RJ', 'CL'];
/** The names ipvsadm -L -c prints, in the same order. */
const NAMES = [
  'NONE',
  'INIT1',
  'INIT',
  'C-SENT',
  'C-REPLIED',
  'C-WAIT',
  'COOKIE',
  'C-ECHOED',
  'ESTABLISHED',
  'S-SENT',
  'S-RECEIVED',
  'S-ACK-SENT',
  'REJECTED',
  'CLOSED',
];
/** sctp_timeouts, seconds, same order. */
const TIMEOUT_S = [2, 4, 61, 61, 61, 61, 61, 61, 900, 61, 61, 61, 4, 61];
/** A chunk of each event row, in row order. */
const CHUNK = [
  DATA,
  INIT,
  INIT_ACK,
  COOKIE_ECHO,
  COOKIE_ACK,
  SHUTDOWN,
  SHUTDOWN_ACK,
  SHUTDOWN_COMPLETE,
  ERROR,
  ABORT,
];
const BLOCKS = ['INPUT', 'OUTPUT', 'INPUT-ONLY'];

/** [block][event][state] → next state index, from the text above. */
function table(): number[][][] {
  const out: number[][][] = [];
  for (const line of KERNEL.trim().split('\n')) {
    const w = line.trim().split(/\s+/);
    if (w.length === 1) out.push([]);
    else if (w[0] !== 'NO') out[out.length - 1].push(w.slice(1).map((a) => ABBR.indexOf(a)));
  }
  return out;
}

const VIP = '10.0.3.100';
const CIP = '10.0.1.2';
const RIP = '10.0.2.11';
const SVC: ServiceKey = { af: 4, protocol: 132, addr: VIP, port: 3868 };

test('the typed-in table has 420 cells, every one a known state', () => {
  const t = table();
  assert.equal(t.length, 3);
  for (const b of t) {
    assert.equal(b.length, 10);
    for (const row of b) {
      assert.equal(row.length, 14);
      for (const s of row) assert.ok(s >= 0);
    }
  }
});

test('sctpNextState agrees with the kernel table in every cell', () => {
  const t = table();
  for (let b = 0; b < 3; b++)
    for (let ev = 0; ev < 10; ev++)
      for (let s = 0; s < 14; s++)
        assert.equal(
          sctpNextState(b, ev, s),
          t[b][ev][s],
          `${BLOCKS[b]} event ${ev} from ${NAMES[s]}`,
        );
});

for (let b = 0; b < 3; b++) {
  test(`every ${BLOCKS[b]} cell through the engine: state, timeout, active/inactive counters`, () => {
    const t = table();
    // NAT conns see replies (INPUT / OUTPUT); a DR conn has NOOUTPUT (INPUT-ONLY).
    // conn_reuse_mode 0: an INIT on a CLOSED conn reaches the table instead of
    // rescheduling (checked apart in sctp.test.ts)
    const e = new Engine({ settings: { conn_reuse_mode: 0 } });
    e.addService(SVC, { scheduler: 'rr' });
    const d = e.addDest(SVC, { addr: RIP, port: 3868, fwd: b === 2 ? 'droute' : 'masq' });
    let cport = 20000;
    let now = 1000;
    for (let ev = 0; ev < 10; ev++) {
      for (let s = 0; s < 14; s++) {
        const where = `${BLOCKS[b]} ${CHUNK[ev]} from ${NAMES[s]}`;
        cport++;
        now += 10;
        const init = sctpPacket({ src: CIP, dst: VIP, sport: cport, dport: 3868, chunks: [INIT] });
        assert.equal(e.in(init, 0, init.length, now), V_FORWARD, where);
        const id = e.result.conn;
        e.setState(id, s);
        const act = d.activeconns;
        const inact = d.inactconns;
        const p =
          b === 1
            ? sctpPacket({ src: RIP, dst: CIP, sport: 3868, dport: cport, chunks: [CHUNK[ev]] })
            : sctpPacket({ src: CIP, dst: VIP, sport: cport, dport: 3868, chunks: [CHUNK[ev]] });
        const v = b === 1 ? e.out(p, 0, p.length, now + 1) : e.in(p, 0, p.length, now + 1);
        assert.equal(v, V_FORWARD, where);
        assert.notEqual(v, V_ACCEPT);
        const want = t[b][ev][s];
        assert.equal(e.stateName(id), NAMES[want], where);
        assert.equal(e.conns.timeout[id], TIMEOUT_S[want] * 1000, `${where}: timeout`);
        // ESTABLISHED alone counts as active
        const was = s === 8 ? 1 : 0;
        const is = want === 8 ? 1 : 0;
        assert.equal(d.activeconns - act, is - was, `${where}: activeconns`);
        assert.equal(d.inactconns - inact, was - is, `${where}: inactconns`);
        // the conn is armed with that timeout
        assert.equal(e.conns.expires[id], now + 1 + TIMEOUT_S[want] * 1000, `${where}: expires`);
      }
    }
    // every conn expires after its state's timeout, and the counters go back to zero
    e.tick(now + 1_000_000);
    assert.equal(e.connections().length, 0);
    assert.equal(d.activeconns, 0);
    assert.equal(d.inactconns, 0);
  });
}
