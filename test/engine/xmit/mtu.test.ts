/**
 * The path-MTU check of every transmitter (issue 13, item 6), held to the kernel's
 * __ip_vs_get_out_rt → ensure_mtu_is_adequate / __mtu_check_toobig_v6: NAT and DR
 * refuse a packet too big for the path to their real server as tunnels do — IPv4
 * with DF gets ICMP frag-needed (whatever pmtu_disc says, which only lets tunnels
 * fragment), IPv6 gets packet-too-big, GSO super-packets pass — with the MTU the
 * data plane's route gives (`Dest.route`), else the engine's `mtu`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { V_DROP, V_FORWARD, V_REPLY } from '../../../src/engine/drop.js';
import { PKT_GSO } from '../../../src/engine/ipvs.js';
import type { Engine, ServiceKey } from '../../../src/engine/engine.js';
import type { DestSpec } from '../../../src/engine/spec.js';
import { CIP, RIP1, SYN, TCP80, VIP, buildPacket, cin, engineWith } from '../fixture.js';

const VIP6 = '2001:db8:3::100';
const CIP6 = '2001:db8:1::2';
const RIP6 = '2001:db8:2::11';
const TCP6: ServiceKey = { af: 6, protocol: 6, addr: VIP6, port: 80 };

/** A SYN carrying `n` payload bytes (TCP Fast Open style), so its size is chosen. */
function big(n: number, extra: Parameters<typeof cin>[1] = {}) {
  return cin(SYN, { payload: new Uint8Array(n), ...extra });
}

/** `in` with flags; the verdict and, for a REPLY, the ICMP type, code and info word. */
function sendIn(
  e: Engine,
  raw: Uint8Array,
  pktFlags = 0,
): { v: number; type: number; code: number; info: number; to: string } {
  const buf = new Uint8Array(raw.length + 64);
  buf.set(raw, 64);
  const v = e.in(buf, 64, raw.length, 0, 0, pktFlags);
  const r = e.result;
  const p = r.buf.subarray(r.off, r.off + r.len);
  if (v !== V_REPLY) return { v, type: -1, code: -1, info: -1, to: '' };
  const l4 = p[0] >> 4 === 4 ? (p[0] & 15) * 4 : 40;
  const info = ((p[l4 + 4] << 24) | (p[l4 + 5] << 16) | (p[l4 + 6] << 8) | p[l4 + 7]) >>> 0;
  const to = p[0] >> 4 === 4 ? `${p[16]}.${p[17]}.${p[18]}.${p[19]}` : 'v6';
  return { v, type: p[l4], code: p[l4 + 1], info: p[0] >> 4 === 4 ? info & 0xffff : info, to };
}

const nat: DestSpec = { addr: RIP1, port: 80, fwd: 'masq' };
const dr: DestSpec = { addr: RIP1, port: 80, fwd: 'droute' };

for (const [name, dest] of [
  ['NAT', nat],
  ['DR', dr],
] as const) {
  test(`${name}: an IPv4 packet with DF over the path MTU gets frag-needed with that MTU`, () => {
    const e = engineWith({}, TCP80, {}, dest);
    // 20 + 20 + 1461 = 1501 bytes against the default 1500
    const r = sendIn(e, buildPacket(big(1461)));
    assert.deepEqual(r, { v: V_REPLY, type: 3, code: 4, info: 1500, to: CIP });
    assert.equal(sendIn(e, buildPacket(big(1460, { sport: 40001 }))).v, V_FORWARD, '1500 fits');
  });

  test(`${name}: without DF the packet goes on (fragmented on the way)`, () => {
    const e = engineWith({}, TCP80, {}, dest);
    assert.equal(sendIn(e, buildPacket(big(1600, { df: false }))).v, V_FORWARD);
  });

  test(`${name}: the data plane's route MTU is the one checked, and pmtu_disc does not matter`, () => {
    const e = engineWith({}, TCP80, {}, dest);
    e.settings.pmtu_disc = 0;
    const d = e.services[0].dests[0];
    d.route = { mtu: 1400 };
    assert.deepEqual(sendIn(e, buildPacket(big(1361))), {
      v: V_REPLY,
      type: 3,
      code: 4,
      info: 1400,
      to: CIP,
    });
    assert.equal(sendIn(e, buildPacket(big(1360, { sport: 40001 }))).v, V_FORWARD);
  });

  test(`${name}: a GSO super-packet is not refused (it is segmented to the MTU)`, () => {
    const e = engineWith({}, TCP80, {}, dest);
    assert.equal(sendIn(e, buildPacket(big(9000)), PKT_GSO).v, V_FORWARD);
  });

  test(`${name}: an IPv6 packet over the path MTU gets packet-too-big`, () => {
    const e = engineWith({}, TCP6, {}, { ...dest, addr: RIP6 });
    const p = buildPacket(big(1441, { src: CIP6, dst: VIP6 })); // 40 + 20 + 1441 = 1501
    const r = sendIn(e, p);
    assert.deepEqual([r.v, r.type, r.code, r.info], [V_REPLY, 2, 0, 1500]);
    const ok = buildPacket(big(1440, { src: CIP6, dst: VIP6, sport: 40001 }));
    assert.equal(sendIn(e, ok).v, V_FORWARD);
  });
}

test('tunnel: the MTU is the route’s less every header the tunnel adds (GUE: 20 + 8 + 4)', () => {
  const e = engineWith({}, TCP80, {}, { ...nat, fwd: 'tunnel', tunType: 1, tunPort: 5555 });
  const r = sendIn(e, buildPacket(big(1429)));
  assert.deepEqual([r.v, r.type, r.code, r.info], [V_REPLY, 3, 4, 1468]);
  assert.equal(sendIn(e, buildPacket(big(1428, { sport: 40001 }))).v, V_FORWARD);
});

test('tunnel: with pmtu_disc 0 an IPv4 packet is fragmented inside the tunnel, not refused', () => {
  const e = engineWith({}, TCP80, {}, { ...nat, fwd: 'tunnel' });
  e.settings.pmtu_disc = 0;
  assert.equal(sendIn(e, buildPacket(big(1600))).v, V_FORWARD);
});

test('tunnel: a route MTU that leaves less than 68 bytes inside drops the packet', () => {
  const e = engineWith({}, TCP80, {}, { ...nat, fwd: 'tunnel' });
  e.services[0].dests[0].route = { mtu: 80 };
  assert.equal(sendIn(e, buildPacket(big(0))).v, V_DROP);
});

test('the frag-needed goes from the VIP to the client and quotes the packet as it was sent on', () => {
  const e = engineWith({}, TCP80, {}, nat);
  const raw = buildPacket(big(1461, { ttl: 64 }));
  const buf = new Uint8Array(raw.length + 64);
  buf.set(raw, 64);
  assert.equal(e.in(buf, 64, raw.length, 0), V_REPLY);
  const r = e.result;
  const p = r.buf.subarray(r.off, r.off + r.len);
  assert.equal(`${p[12]}.${p[13]}.${p[14]}.${p[15]}`, VIP);
  // the quoted header still has the VIP as destination (not yet rewritten), TTL 63
  const q = 20 + 8;
  assert.equal(`${p[q + 16]}.${p[q + 17]}.${p[q + 18]}.${p[q + 19]}`, VIP);
  assert.equal(p[q + 8], 63);
});
