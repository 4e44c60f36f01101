/**
 * Link-layer framing of the director's packet-socket sends (src/dataplane/vnet.ts) and
 * the iproute2 JSON parsers behind next-hop resolution (src/dataplane/nexthop.ts).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { L2_HEADROOM, writeL2Header } from '../../src/dataplane/vnet.js';
import { parseMac, parseNeigh, parseRouteGet, usableLladdr } from '../../src/dataplane/nexthop.js';
import { PacketView } from '../../src/wire/packet.js';
import { ACK, buildPacket, naiveSum } from '../helpers/packets.js';

const ETH = Uint8Array.from([1, 2, 3, 4, 5, 6, 0xa, 0xb, 0xc, 0xd, 0xe, 0xf]);

/** The packet at offset 64 of a larger buffer, parsed. */
function place(pkt: Uint8Array): { buf: Uint8Array; pv: PacketView } {
  const buf = new Uint8Array(64 + pkt.length).fill(0xee);
  buf.set(pkt, 64);
  const pv = new PacketView();
  assert.equal(pv.parse(buf, 64, pkt.length), 0);
  return { buf, pv };
}

const le16 = (b: Uint8Array, o: number): number => b[o] | (b[o + 1] << 8);

describe('writeL2Header', () => {
  it('a small packet with a complete checksum: no flags, Ethernet header, IPv4 EtherType', () => {
    const pkt = buildPacket({ src: '10.0.0.1', dst: '10.0.0.2', flags: ACK, payload: 'hello' });
    const { buf, pv } = place(pkt);
    const f = writeL2Header(pv, ETH, false, 1500);
    assert.equal(f, 64 - L2_HEADROOM);
    assert.deepEqual([...buf.subarray(f, f + 10)], [0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    assert.deepEqual([...buf.subarray(f + 10, f + 22)], [...ETH]);
    assert.deepEqual([...buf.subarray(f + 22, f + 24)], [0x08, 0x00]);
    assert.deepEqual([...buf.subarray(64)], [...pkt], 'the packet is untouched');
  });

  it('a partial checksum asks the kernel to finish it (csum_start from the Ethernet header)', () => {
    const pkt = buildPacket({ src: 'fd00::1', dst: 'fd00::2', flags: ACK, payload: 'x' });
    const { buf, pv } = place(pkt);
    const f = writeL2Header(pv, ETH, true, 1500);
    assert.equal(buf[f], 1, 'NEEDS_CSUM');
    assert.equal(buf[f + 1], 0, 'no GSO');
    assert.equal(le16(buf, f + 6), 14 + 40);
    assert.equal(le16(buf, f + 8), 16);
    assert.deepEqual([...buf.subarray(f + 22, f + 24)], [0x86, 0xdd]);
  });

  it('a TCP super-packet longer than the MTU goes out as GSO; a complete checksum is made partial', () => {
    const payload = new Uint8Array(60000).map((_, i) => i * 7);
    const pkt = buildPacket({ src: '10.0.0.1', dst: '10.0.0.2', flags: ACK, payload });
    const { buf, pv } = place(pkt);
    const f = writeL2Header(pv, ETH, false, 1500);
    assert.equal(buf[f], 1, 'NEEDS_CSUM');
    assert.equal(buf[f + 1], 1, 'GSO_TCPV4');
    assert.equal(le16(buf, f + 2), 14 + 20 + 20, 'hdr_len');
    assert.equal(le16(buf, f + 4), 1500 - 20 - 20, 'gso_size');
    assert.equal(le16(buf, f + 6), 14 + 20);
    assert.equal(le16(buf, f + 8), 16);
    // the field now holds the folded pseudo-header sum (addresses, protocol, L4 length)
    const l4len = pkt.length - 20;
    const pseudo = [...pkt.subarray(12, 20), 0, 6, l4len >> 8, l4len & 255];
    const field = (buf[64 + 20 + 16] << 8) | buf[64 + 20 + 17];
    assert.equal(field, naiveSum(pseudo));
  });

  it('IPv6 GSO uses TCPV6 and flags CWR as ECN', () => {
    const payload = new Uint8Array(9000);
    const pkt = buildPacket({ src: 'fd00::1', dst: 'fd00::2', flags: ACK | 0x80, payload });
    const { buf, pv } = place(pkt);
    const f = writeL2Header(pv, ETH, true, 1500);
    assert.equal(buf[f + 1], 4 | 0x80);
    assert.equal(le16(buf, f + 4), 1500 - 40 - 20);
  });

  it('UDP longer than the MTU is not GSO (the segment size is unknown)', () => {
    const pkt = buildPacket({
      src: '10.0.0.1',
      dst: '10.0.0.2',
      proto: 'udp',
      payload: new Uint8Array(3000),
    });
    const { buf, pv } = place(pkt);
    const f = writeL2Header(pv, ETH, true, 1500);
    assert.equal(buf[f + 1], 0);
    assert.equal(buf[f], 1);
    assert.equal(le16(buf, f + 8), 6);
  });
});

describe('next-hop parsers', () => {
  it('route get: device, gateway, local, MTU metric', () => {
    const r = parseRouteGet(
      '[{"dst":"10.9.0.1","gateway":"10.0.0.254","dev":"eth1","prefsrc":"10.0.0.1","metrics":[{"mtu":1400}],"flags":[],"uid":0,"cache":[]}]',
    );
    assert.deepEqual(r, {
      dev: 'eth1',
      gateway: '10.0.0.254',
      prefsrc: '10.0.0.1',
      local: false,
      mtu: 1400,
    });
    const l = parseRouteGet(
      '[{"type":"local","dst":"10.201.3.100","dev":"lo","prefsrc":"10.201.3.100","flags":[],"uid":0,"cache":["local"]}]',
    );
    assert.equal(l?.local, true);
    assert.equal(parseRouteGet('[]'), null);
    assert.equal(parseRouteGet('not json'), null);
  });

  it('neighbours: usable entries only', () => {
    const n = parseNeigh(
      '[{"dst":"10.201.2.11","dev":"br0","lladdr":"52:97:02:6b:1b:d1","state":["REACHABLE"]},' +
        '{"dst":"10.201.2.12","dev":"br0","state":["FAILED"]},' +
        '{"dst":"10.201.2.13","dev":"br0","lladdr":"00:00:00:00:00:01","state":["INCOMPLETE"]}]',
    );
    assert.equal(n.length, 3);
    assert.equal(usableLladdr(n[0]), '52:97:02:6b:1b:d1');
    assert.equal(usableLladdr(n[1]), undefined);
    assert.equal(usableLladdr(n[2]), undefined);
    assert.deepEqual([...parseMac('52:97:02:6b:1b:d1')!], [0x52, 0x97, 2, 0x6b, 0x1b, 0xd1]);
    assert.equal(parseMac('52:97:02'), null);
    assert.equal(parseMac('zz:97:02:6b:1b:d1'), null);
  });
});
