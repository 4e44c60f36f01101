/**
 * Tunnel packets (GRE, GUE) as hex, IP header first. The kernel of the test machines has
 * neither `ip_gre` nor `fou`, so these are not from capture-vectors.sh: where each one
 * comes from is said beside it.
 */
import { hex } from './vectors.js';

/**
 * The inner packet of GRE_V4: ICMP echo request 172.16.1.1 > 172.16.2.1, id 4724, seq 1,
 * 84 bytes (Linux ping: DF, TTL 64, id 0x0488).
 */
export const ICMP_ECHO_INNER_V4 = hex(
  '45000054048840004001dafeac100101ac100201080082c412740001c892a35400000000380c000000000000' +
    '101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f3031323334353637',
);

/**
 * A real GREv0 packet sent by a Linux `ip link add … type gre` tunnel, captured with
 * tcpdump (published with gopacket's GRE decoder test, layers/gre_test.go, Ethernet header
 * removed): "IP 192.168.1.1 > 192.168.1.2: GREv0, length 88: IP 172.16.1.1 > 172.16.2.1:
 * ICMP echo request, id 4724, seq 1". Outer id 0x843c, DF, TTL 64; GRE without checksum,
 * key or sequence number, protocol 0x0800.
 */
export const GRE_V4 = hex('4500006c843c4000402f32d3c0a80101c0a80102' + '00000800');
export const GRE_V4_PACKET = concat(GRE_V4, ICMP_ECHO_INNER_V4);

/**
 * A GRE header with the checksum present (RFC 2784 §2.5) in front of an ICMP echo request
 * 1.1.1.1 > 2.2.2.2 (id 2, seq 0, TTL 255, IP id 10, 72 bytes of payload): the bytes of
 * gopacket's GRE checksum test case, whose expected checksum 0x77ff was computed by that
 * independent implementation. GRE header and payload, no outer IP header.
 */
export const GRE_CSUM_SEGMENT = hex(
  '8000080077ff0000' +
    '45000064000a0000ff01b58901010101020202020800bfd400020000000000000003be70' +
    'abcd'.repeat(32),
);

/**
 * GRE header with key and sequence number (RFC 2890 §2: K and S bits, key 0x0000abcd,
 * sequence number 7) carrying IPv6, typed from the RFC's layout; and the same with the
 * checksum too (C, K and S; checksum field left zero).
 */
export const GRE_KEY_SEQ = hex('300086dd0000abcd00000007');
export const GRE_CSUM_KEY_SEQ = hex('b00086dd000000000000abcd00000007');

/**
 * The packet of GRE_V4 sent through a GUE tunnel instead, typed from
 * draft-ietf-intarea-gue §3.1 the way Linux's fou sends `encap gue encap-dport 5555`
 * (variant 0, C 0, Hlen 0, proto 4, flags 0; UDP checksum 0, none, as fou over IPv4
 * by default): outer 192.168.1.1 > 192.168.1.2, id 0x843c, DF, TTL 64, proto 17, UDP
 * 51580 > 5555 length 96; the IPv4 header checksum is the one of these bytes.
 */
export const GUE_V4 = hex(
  '45000074843c4000401132e9c0a80101c0a80102' + 'c97c15b300600000' + '00040000',
);
export const GUE_V4_PACKET = concat(GUE_V4, ICMP_ECHO_INNER_V4);

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}
