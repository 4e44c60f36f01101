/**
 * Robustness: 100,000 random, truncated and malformed packets (bad IHL, lengths that
 * lie, fragments, unknown protocols, zero-length TCP headers, ICMP errors quoting
 * garbage) through `in` and `out` never throw; each is either counted under a drop
 * reason, passed through unchanged, or handled as a valid packet.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Engine, type ServiceKey } from '../../src/engine/engine.js';
import { DROP_REASON_NAMES, V_ACCEPT, V_DROP } from '../../src/engine/drop.js';
import { ACK, RIP1, RIP2, SYN, TCP80, addService, buildPacket, rng } from './fixture.js';

function setup(): Engine {
  const e = new Engine({
    random: rng(3),
    settings: { sloppy_tcp: 1, schedule_icmp: 1, nat_icmp_send: 1 },
  });
  const u4: ServiceKey = { af: 4, protocol: 17, addr: '10.0.3.100', port: 53 };
  const k6: ServiceKey = { af: 6, protocol: 6, addr: 'fd00::100', port: 80 };
  // services first, then their real servers, in the order the fuzz seeds expect
  addService(e, TCP80, { scheduler: 'rr' });
  addService(e, u4, { scheduler: 'wlc' });
  addService(e, k6, { scheduler: 'rr' });
  e.addDest(TCP80, { addr: RIP1, port: 80, fwd: 'masq' });
  e.addDest(TCP80, { addr: RIP2, port: 80, fwd: 'droute' });
  e.addDest(u4, { addr: RIP1, port: 53, fwd: 'masq' });
  e.addDest(k6, { addr: 'fd00::11', port: 80, fwd: 'tunnel' });
  return e;
}

function seeds(): Uint8Array[] {
  return [
    buildPacket({ src: '10.0.1.2', dst: '10.0.3.100', dport: 80, flags: SYN }),
    buildPacket({
      src: '10.0.1.2',
      dst: '10.0.3.100',
      dport: 80,
      flags: ACK,
      payload: 'hello',
      options: [1, 1, 1, 0],
    }),
    buildPacket({ src: '10.0.1.2', dst: '10.0.3.100', dport: 53, proto: 'udp', payload: 'q' }),
    buildPacket({ src: 'fd00::2', dst: 'fd00::100', dport: 80, flags: SYN }),
    buildPacket({ src: '10.0.2.11', dst: '10.0.1.2', sport: 80, dport: 40000, flags: SYN | ACK }),
  ];
}

/** An ICMP port unreachable (v4) quoting `inner` (first 28 bytes). */
function icmpAbout(inner: Uint8Array): Uint8Array {
  const q = inner.subarray(0, Math.min(inner.length, 28));
  const b = new Uint8Array(20 + 8 + q.length);
  b[0] = 0x45;
  b[2] = b.length >> 8;
  b[3] = b.length & 255;
  b[8] = 64;
  b[9] = 1;
  b.set([10, 0, 1, 2], 12);
  b.set([10, 0, 3, 100], 16);
  b[20] = 3;
  b[21] = 3;
  b.set(q, 28);
  return b;
}

test('100,000 malformed packets never throw and are each accounted for', () => {
  const e = setup();
  const r = rng(12345);
  const base = seeds();
  base.push(icmpAbout(base[0]));
  let dropsSeen = 0;
  let accepted = 0;
  let handled = 0;
  for (let i = 0; i < 100_000; i++) {
    const src = base[Math.floor(r() * base.length)];
    let pkt: Uint8Array;
    const kind = Math.floor(r() * 8);
    if (kind === 0) {
      pkt = new Uint8Array(Math.floor(r() * 80));
      for (let j = 0; j < pkt.length; j++) pkt[j] = Math.floor(r() * 256);
      if (pkt.length > 0 && r() < 0.7) pkt[0] = r() < 0.5 ? 0x45 : 0x60;
    } else if (kind === 1) {
      pkt = src.slice(0, Math.floor(r() * src.length)); // truncated
    } else {
      pkt = src.slice();
      const flips = 1 + Math.floor(r() * 4);
      for (let j = 0; j < flips; j++) {
        const which = Math.floor(r() * 6);
        if (which === 0)
          pkt[0] = (pkt[0] & 0xf0) | Math.floor(r() * 16); // IHL
        else if (which === 1 && pkt[0] >> 4 === 4) {
          pkt[2] = Math.floor(r() * 256);
          pkt[3] = Math.floor(r() * 256);
        } // total length lies
        else if (which === 2 && pkt[0] >> 4 === 4) {
          pkt[6] = Math.floor(r() * 256);
          pkt[7] = Math.floor(r() * 256);
        } // fragments
        else if (which === 3)
          pkt[pkt[0] >> 4 === 6 ? 6 : 9] = Math.floor(r() * 256); // protocol
        else if (which === 4 && pkt.length > 33)
          pkt[32] = Math.floor(r() * 256) & 0x0f; // TCP data offset 0..
        else pkt[Math.floor(r() * pkt.length)] = Math.floor(r() * 256);
      }
    }
    const copy = pkt.slice();
    const before = e.drops.reduce((a, b) => a + b, 0);
    const v = r() < 0.5 ? e.in(pkt, 0, pkt.length, i) : e.out(pkt, 0, pkt.length, i);
    const after = e.drops.reduce((a, b) => a + b, 0);
    if (v === V_DROP) {
      assert.equal(after, before + 1, `drop #${i} counted`);
      assert.ok(e.result.reason > 0 && e.result.reason < DROP_REASON_NAMES.length);
      dropsSeen++;
    } else if (v === V_ACCEPT && e.result.conn < 0) {
      assert.deepEqual(pkt, copy, `accepted #${i} unchanged`);
      accepted++;
    } else {
      handled++;
    }
    if (i % 5000 === 0) e.tick(i);
  }
  assert.ok(dropsSeen > 1000, `drops ${dropsSeen}`);
  assert.ok(accepted > 1000, `accepted ${accepted}`);
  assert.ok(handled > 100, `handled ${handled}`);
});
