/**
 * NAT checksums: for thousands of seeded random TCP and UDP packets (IPv4 with and
 * without options, IPv6, odd lengths), the checksum after the engine's incremental
 * rewrite equals an independent full recomputation (test/helpers/packets.ts), in both
 * directions; the partial-checksum (offload) case keeps the pseudo-header sum right.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PKT_CSUM_PARTIAL, type ServiceKey } from '../../../src/engine/engine.js';
import { V_FORWARD } from '../../../src/engine/drop.js';
import {
  ACK,
  SYN,
  buildPacket,
  engineWith,
  ipBytes,
  ipv4HeaderValid,
  l4ChecksumValid,
  naiveSum,
  parse,
  rng,
} from '../fixture.js';

function randomAddr(r: () => number, v6: boolean): string {
  if (!v6)
    return `10.${1 + Math.floor(r() * 250)}.${Math.floor(r() * 256)}.${1 + Math.floor(r() * 250)}`;
  const g: string[] = ['fd00'];
  for (let i = 0; i < 7; i++) g.push(Math.floor(r() * 65536).toString(16));
  return g.join(':');
}

function randomBytes(r: () => number, n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = Math.floor(r() * 256);
  return b;
}

for (const v6 of [false, true]) {
  for (const proto of ['tcp', 'udp'] as const) {
    test(`NAT ${v6 ? 'IPv6' : 'IPv4'} ${proto}: 1500 random packets keep valid checksums both ways`, () => {
      const r = rng(v6 ? 61 : 41 + (proto === 'udp' ? 1 : 0));
      for (let i = 0; i < 1500; i++) {
        const vip = randomAddr(r, v6);
        const rip = randomAddr(r, v6);
        const cip = randomAddr(r, v6);
        const vport = 1 + Math.floor(r() * 65534);
        const dport = 1 + Math.floor(r() * 65534);
        const cport = 1024 + Math.floor(r() * 60000);
        const key: ServiceKey = {
          af: v6 ? 6 : 4,
          protocol: proto === 'tcp' ? 6 : 17,
          addr: vip,
          port: vport,
        };
        const e = engineWith(
          { random: r },
          key,
          { scheduler: 'rr' },
          { addr: rip, port: dport, fwd: 'masq' },
        );
        const options =
          !v6 && r() < 0.5
            ? [1, 1, 1, 0, 0x94, 4, 0, 0].slice(0, 4 * (1 + Math.floor(r() * 2)))
            : [];
        const payload = randomBytes(r, Math.floor(r() * 301));
        const noUdpChecksum = proto === 'udp' && !v6 && r() < 0.2;
        const req = buildPacket({
          src: cip,
          dst: vip,
          sport: cport,
          dport: vport,
          proto,
          flags: SYN,
          payload,
          options,
          noUdpChecksum,
        });
        assert.equal(e.in(req, 0, req.length, i), V_FORWARD);
        const pi = parse(req);
        assert.equal(pi.dport, dport);
        assert.ok(l4ChecksumValid(req), `in #${i} L4 checksum`);
        assert.ok(ipv4HeaderValid(req), `in #${i} IPv4 header checksum`);
        const rep = buildPacket({
          src: rip,
          dst: cip,
          sport: dport,
          dport: cport,
          proto,
          flags: SYN | ACK,
          payload: randomBytes(r, Math.floor(r() * 301)),
          noUdpChecksum,
        });
        assert.equal(e.out(rep, 0, rep.length, i + 1), V_FORWARD);
        const po = parse(rep);
        assert.equal(po.sport, vport);
        assert.ok(l4ChecksumValid(rep), `out #${i} L4 checksum`);
        assert.ok(ipv4HeaderValid(rep), `out #${i} IPv4 header checksum`);
      }
    });
  }
}

/** The offload form: the L4 checksum field holds the folded pseudo-header sum. */
function pseudoField(b: Uint8Array): number {
  const v6 = b[0] >> 4 === 6;
  const hl = v6 ? 40 : (b[0] & 15) * 4;
  const total = v6 ? 40 + ((b[4] << 8) | b[5]) : (b[2] << 8) | b[3];
  const proto = v6 ? b[6] : b[9];
  const l4len = total - hl;
  const ps = v6
    ? [...b.subarray(8, 40), 0, 0, l4len >> 8, l4len & 255, 0, 0, 0, proto]
    : [...b.subarray(12, 20), 0, proto, l4len >> 8, l4len & 255];
  return naiveSum(ps);
}

for (const v6 of [false, true]) {
  test(`partial checksum (offload) ${v6 ? 'IPv6' : 'IPv4'}: field stays the pseudo-header sum after NAT`, () => {
    const r = rng(99);
    for (let i = 0; i < 500; i++) {
      const vip = randomAddr(r, v6);
      const rip = randomAddr(r, v6);
      const cip = randomAddr(r, v6);
      const proto = r() < 0.5 ? 'tcp' : 'udp';
      const key: ServiceKey = {
        af: v6 ? 6 : 4,
        protocol: proto === 'tcp' ? 6 : 17,
        addr: vip,
        port: 443,
      };
      const e = engineWith({}, key, { scheduler: 'rr' }, { addr: rip, port: 8443, fwd: 'masq' });
      const pkt = buildPacket({
        src: cip,
        dst: vip,
        sport: 5555,
        dport: 443,
        proto,
        flags: SYN,
        payload: randomBytes(r, 1 + Math.floor(r() * 999)),
      });
      const hl = v6 ? 40 : 20;
      const co = hl + (proto === 'tcp' ? 16 : 6);
      let f = pseudoField(pkt);
      pkt[co] = f >> 8;
      pkt[co + 1] = f & 255;
      assert.equal(e.in(pkt, 0, pkt.length, 0, 0, PKT_CSUM_PARTIAL), V_FORWARD);
      f = (pkt[co] << 8) | pkt[co + 1];
      assert.equal(f, pseudoField(pkt), `#${i}`);
      assert.deepEqual([...pkt.subarray(v6 ? 24 : 16, v6 ? 40 : 20)], ipBytes(rip));
    }
  });
}
