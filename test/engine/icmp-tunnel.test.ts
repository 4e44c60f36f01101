/**
 * ICMP errors about the IPIP packets a director sent to a tunnel real server (spec
 * §8.1 steps 4 and 8): a router between director and real server answers the outer
 * packet (director → RIP, protocol 4); the director finds the conn from the client
 * packet inside, consumes the error and sends the client its own — frag-needed with
 * the IPIP header taken off the MTU (only if the client's packet had DF), any other
 * error with the same type and code.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Engine } from '../../src/engine/engine.js';
import { V_ACCEPT, V_DROP, V_FORWARD, V_REPLY } from '../../src/engine/drop.js';
import {
  CIP,
  DIR,
  RIP1 as RIP,
  SYN,
  ACK,
  TCP80 as K,
  buildPacket,
  bytesToIp,
  engineWith,
  icmpError,
  ip4Header as ip4,
  ipBytes,
  ipv4HeaderValid,
  naiveSum,
} from './fixture.js';

/** The director's tunnel source (10.0.2.1). */
const tunnelSource = (): Uint32Array => Uint32Array.of(0x0a000201, 0, 0, 0);

function setup(): { e: Engine; inner: (df?: boolean) => Uint8Array } {
  const e = engineWith(
    { tunnelSource },
    K,
    { scheduler: 'rr' },
    { addr: RIP, port: 80, fwd: 'tunnel' },
  );
  const syn = buildPacket({ src: CIP, dst: '10.0.3.100', sport: 40000, dport: 80, flags: SYN });
  const buf = new Uint8Array(syn.length + 64);
  buf.set(syn, 64);
  assert.equal(e.in(buf, 64, syn.length, 0), V_FORWARD);
  // the client's packet as the director tunnelled it (a big one with data)
  const inner = (df = true): Uint8Array => {
    const p = buildPacket({
      src: CIP,
      dst: '10.0.3.100',
      sport: 40000,
      dport: 80,
      flags: ACK,
      payload: 'x'.repeat(1400),
      df,
    });
    return p;
  };
  return { e, inner };
}

/** What a router quotes: the outer IPIP header and the first 548 bytes of the inner packet. */
function quotedIpip(inner: Uint8Array): Uint8Array {
  const outer = ip4(DIR, RIP, 4, inner.length);
  const q = new Uint8Array(20 + 548);
  q.set(outer, 0);
  q.set(inner.subarray(0, 548), 20);
  return q;
}

test('frag-needed about a tunnelled packet: the client gets frag-needed for its own packet, MTU − 20', () => {
  const { e, inner } = setup();
  const m = icmpError('10.0.2.254', DIR, 3, 4, 1400, quotedIpip(inner()));
  assert.equal(e.in(m, 0, m.length, 1), V_REPLY);
  const r = e.result;
  const out = r.buf.slice(r.off, r.off + r.len);
  assert.ok(ipv4HeaderValid(out));
  assert.equal(bytesToIp(out, 12, false), '10.0.3.100', 'from the VIP');
  assert.equal(bytesToIp(out, 16, false), CIP, 'to the client');
  assert.equal(out[20], 3);
  assert.equal(out[21], 4);
  assert.equal((out[26] << 8) | out[27], 1380, 'the tunnel overhead taken off');
  assert.equal(naiveSum(out, 20, out.length), 0xffff, 'ICMP checksum');
  // it quotes the client's own packet: client → VIP:80
  assert.equal(bytesToIp(out, 28 + 12, false), CIP);
  assert.equal(bytesToIp(out, 28 + 16, false), '10.0.3.100');
  assert.equal((out[50] << 8) | out[51], 80);
  assert.equal(r.nextHop[0], 0x0a000102, 'sent towards the client');
});

test('other errors are relayed with their type and code; without DF frag-needed is consumed', () => {
  const { e, inner } = setup();
  const t = icmpError('10.0.2.254', DIR, 11, 0, 0, quotedIpip(inner()));
  assert.equal(e.in(t, 0, t.length, 1), V_REPLY);
  assert.equal(e.result.buf[e.result.off + 20], 11);
  const nodf = icmpError('10.0.2.254', DIR, 3, 4, 1400, quotedIpip(inner(false)));
  assert.equal(e.in(nodf, 0, nodf.length, 2), V_DROP);
});

test('not ours: another tunnel endpoint, no conn, or not IPIP → the ordinary path (accepted)', () => {
  const { e, inner } = setup();
  const other = quotedIpip(inner());
  other.set(ipBytes('10.0.2.99'), 16); // outer dst: not a tunnel dest (header checksum aside)
  const a = icmpError('10.0.2.254', DIR, 3, 4, 1400, other);
  assert.equal(e.in(a, 0, a.length, 1), V_ACCEPT);
  const stranger = buildPacket({
    src: '10.0.1.77',
    dst: '10.0.3.100',
    sport: 41000,
    dport: 80,
    flags: ACK,
  });
  const b = icmpError('10.0.2.254', DIR, 3, 4, 1400, quotedIpip(stranger));
  assert.equal(e.in(b, 0, b.length, 1), V_ACCEPT);
});

test('GUE and GRE tunnels: the client packet is found behind their headers too', () => {
  for (const [tunType, tunPort] of [
    [1, 6080],
    [2, 0],
  ] as const) {
    const e = engineWith(
      { tunnelSource },
      K,
      { scheduler: 'rr' },
      { addr: RIP, port: 80, fwd: 'tunnel', tunType, tunPort },
    );
    const syn = buildPacket({ src: CIP, dst: '10.0.3.100', sport: 40000, dport: 80, flags: SYN });
    const sb = new Uint8Array(syn.length + 64);
    sb.set(syn, 64);
    assert.equal(e.in(sb, 64, syn.length, 0), V_FORWARD);
    const inner = buildPacket({
      src: CIP,
      dst: '10.0.3.100',
      sport: 40000,
      dport: 80,
      flags: ACK,
      payload: 'y'.repeat(1400),
    });
    const hdr =
      tunType === 1
        ? Uint8Array.of(0xc0, 0x01, tunPort >> 8, tunPort & 255, 0, 0, 0, 0, 0x00, 0x04, 0, 0) // UDP + GUE
        : Uint8Array.of(0, 0, 0x08, 0x00); // GRE, IPv4
    const body = new Uint8Array(hdr.length + 400);
    body.set(hdr, 0);
    body.set(inner.subarray(0, 400), hdr.length);
    const q = new Uint8Array(20 + body.length);
    q.set(ip4(DIR, RIP, tunType === 1 ? 17 : 47, hdr.length + inner.length), 0);
    q.set(body, 20);
    const m = icmpError('10.0.2.254', DIR, 3, 4, 1400, q);
    assert.equal(e.in(m, 0, m.length, 1), V_REPLY, `tunnel type ${tunType}`);
    const out = e.result.buf.subarray(e.result.off, e.result.off + e.result.len);
    assert.equal(bytesToIp(out, 16, false), CIP);
    assert.equal((out[26] << 8) | out[27], 1380);
    // a GUE header for another port is not ours
    if (tunType === 1) {
      q[20 + 2] = 0x22;
      const m2 = icmpError('10.0.2.254', DIR, 3, 4, 1400, q);
      assert.equal(e.in(m2, 0, m2.length, 2), V_ACCEPT);
    }
  }
});
