/**
 * A real server whose address is one of the director's (issue 13, item 7), as current
 * kernels treat it: the method stays the configured one (listed Masq/Route/Tunnel,
 * never rewritten to Local since 2.6.37), and the transmitter, finding the route local,
 * hands DR and tunnel packets to the local stack unchanged (ip_vs_send_or_cont with
 * local=1: NF_ACCEPT, no TTL decrement) and NAT packets after the rewrite. The data
 * plane tells the engine through `Dest.route.local`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CONN_F_DROUTE, CONN_F_TUNNEL } from '../../../src/engine/constants.js';
import { V_FORWARD, V_LOCAL } from '../../../src/engine/drop.js';
import type { DestSpec } from '../../../src/engine/spec.js';
import { RIP1, SYN, TCP80, VIP, buildPacket, cin, engineWith } from '../fixture.js';

function sendIn(e: ReturnType<typeof engineWith>, raw: Uint8Array): { v: number; out: Uint8Array } {
  const buf = new Uint8Array(raw.length + 64);
  buf.set(raw, 64);
  const v = e.in(buf, 64, raw.length, 0);
  const r = e.result;
  return { v, out: r.buf.slice(r.off, r.off + r.len) };
}

for (const fwd of ['droute', 'tunnel'] as const) {
  test(`${fwd} to a local RIP: delivered locally, unchanged (TTL kept), the method kept`, () => {
    const dest: DestSpec = { addr: RIP1, port: 80, fwd };
    const e = engineWith({}, TCP80, {}, dest);
    const d = e.services[0].dests[0];
    d.route = { mtu: 1500, local: true };
    const raw = buildPacket(cin(SYN, { ttl: 64 }));
    const r = sendIn(e, raw);
    assert.equal(r.v, V_LOCAL);
    assert.deepEqual(r.out, raw);
    assert.equal(e.connections().length, 1, 'the conn is made and counted as usual');
    assert.equal(d.fwd, fwd === 'droute' ? CONN_F_DROUTE : CONN_F_TUNNEL);
    // not local: forwarded as configured
    d.route = { mtu: 1500, local: false };
    assert.equal(sendIn(e, buildPacket(cin(SYN, { sport: 40001 }))).v, V_FORWARD);
  });
}

test('NAT to a local RIP is rewritten and goes on (the local stack receives it for the RIP)', () => {
  const e = engineWith({}, TCP80, {}, { addr: RIP1, port: 8080, fwd: 'masq' });
  e.services[0].dests[0].route = { mtu: 1000, local: true };
  // TTL 1 and bigger than the route's MTU: neither is checked for local delivery
  const r = sendIn(e, buildPacket(cin(SYN, { ttl: 1, payload: new Uint8Array(1200) })));
  assert.equal(r.v, V_FORWARD);
  assert.equal(r.out[8], 1, 'TTL kept');
  assert.equal(`${r.out[16]}.${r.out[17]}.${r.out[18]}.${r.out[19]}`, RIP1);
  assert.notEqual(`${r.out[16]}.${r.out[17]}.${r.out[18]}.${r.out[19]}`, VIP);
});
