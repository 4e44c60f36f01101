/**
 * Real packets, captured with tcpdump on a veth pair between two network namespaces
 * (10.0.0.2/fd00::2 client, 10.0.0.1/fd00::1 server, TX checksum offload off so the
 * checksums on the wire are final), by test/wire/capture-vectors.sh. Each is the IP
 * packet without the Ethernet header, as hex.
 */

/** Decode a hex string (whitespace ignored) into bytes. */
export function hex(s: string): Uint8Array {
  const t = s.replace(/\s+/g, '');
  const out = new Uint8Array(t.length >> 1);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(t.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/**
 * IPv4 TCP SYN from a Linux 6.x client (curl): 10.0.0.2:58062 > 10.0.0.1:80, seq 506968795,
 * options mss 1460, sackOK, TS val 1048890075 ecr 0, nop, wscale 10; DF, TTL 64, id 0x3fe0.
 */
export const TCP_SYN_V4 = hex(
  '4500003c3fe040004006e6d90a0000020a000001e2ce00501e37badb00000000a002faf073780000' +
    '020405b40402080a3e84cadb000000000103030a',
);

/**
 * IPv4 TCP SYN-ACK from the server: 10.0.0.1:80 > 10.0.0.2:58062, seq 472493872,
 * ack 506968796, id 0 (Linux sends SYN-ACKs with IP id 0 and DF).
 */
export const TCP_SYNACK_V4 = hex(
  '4500003c00004000400626ba0a0000010a0000020050e2ce1c29af301e37badca012fe8801b60000' +
    '020405b40402080a201c82a33e84cadb0103030a',
);

/**
 * IPv4 TCP [P.] carrying 72 bytes "GET / HTTP/1.1\r\nHost: 10.0.0.1 ...":
 * 10.0.0.2:58062 > 10.0.0.1:80 seq 506968796 ack 472493873, TS option, total length 124.
 */
export const TCP_GET_V4 = hex(
  '4500007c3fe240004006e6970a0000020a000001e2ce00501e37badc1c29af318018003f58b30000' +
    '0101080a3e84cadb201c82a3474554202f20485454502f312e310d0a486f73743a2031302e302e30' +
    '2e310d0a557365722d4167656e743a206375726c2f372e38382e310d0a4163636570743a202a2f2a' +
    '0d0a0d0a',
);

/**
 * IPv6 TCP SYN: [fd00::2]:51410 > [fd00::1]:80, seq 3809301624, flow label 0xede7,
 * hop limit 64, options mss 1440, sackOK, TS, nop, wscale 10.
 */
export const TCP_SYN_V6 = hex(
  '6000ede700280640fd000000000000000000000000000002fd000000000000000000000000000001' +
    'c8d20050e30d547800000000a002fd20b3a50000020405a00402080a7dc71ed6000000000103030a',
);

/**
 * IPv4 UDP DNS query from dig 9.18: 10.0.0.2:42793 > 10.0.0.1:53, "A? example.com." with
 * EDNS0 OPT (UDP size 1232, cookie); 52 bytes of DNS payload, no DF.
 */
export const UDP_DNS_V4 = hex(
  '4500005048ec000040111daf0a0000020a000001a7290035003ce69b0eb501200001000000000001' +
    '076578616d706c6503636f6d000001000100002904d000000000000c000a0008777450db1113a0bb',
);

/**
 * IPv4 ICMP destination unreachable / port unreachable from 10.0.0.1 to 10.0.0.2 (TOS
 * 0xc0, as Linux sends errors) quoting the whole UDP DNS query UDP_DNS_V4 (80 bytes).
 */
export const ICMP_PORT_UNREACH_V4 = hex(
  '45c0006c9f2100004001c6ad0a0000010a0000020303114d000000004500005048ec000040111daf' +
    '0a0000020a000001a7290035003ce69b0eb501200001000000000001076578616d706c6503636f6d' +
    '000001000100002904d000000000000c000a0008777450db1113a0bb',
);

/**
 * IPv6 UDP DNS query from dig: [fd00::2]:57334 > [fd00::1]:53, "AAAA? example.com.".
 */
export const UDP_DNS_V6 = hex(
  '60020a9b003c1140fd000000000000000000000000000002fd000000000000000000000000000001' +
    'dff60035003c1b776fab01200001000000000001076578616d706c6503636f6d00001c0001000029' +
    '04d000000000000c000a0008443c9f10445782d9',
);

/**
 * ICMPv6 destination unreachable / port unreachable (type 1 code 4) from fd00::1 to
 * fd00::2 quoting the IPv6 DNS query UDP_DNS_V6 (100 bytes).
 */
export const ICMPV6_PORT_UNREACH = hex(
  '600c78b5006c3a40fd000000000000000000000000000001fd000000000000000000000000000002' +
    '010488840000000060020a9b003c1140fd000000000000000000000000000002fd00000000000000' +
    '0000000000000001dff60035003c1b776fab01200001000000000001076578616d706c6503636f6d' +
    '00001c000100002904d000000000000c000a0008443c9f10445782d9',
);

/**
 * IPv4 ICMP echo request with IP options (ping -R: NOP + record route, 40 bytes of
 * options, IHL 15): 10.0.0.2 > 10.0.0.1, id 5492 seq 1, 64 bytes of ICMP.
 */
export const ICMP_ECHO_RR_V4 = hex(
  '4f00007c4f11400040019b5c0a0000020a000001010727080a000002000000000000000000000000' +
    '000000000000000000000000000000000000000008005b08157400017048076b0000000043fc0d00' +
    '00000000101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f30313233' +
    '34353637',
);

/**
 * IPv4 first fragment (MF set, offset 0) of a 308-byte ICMP echo request (route MTU 296):
 * 10.0.0.2 > 10.0.0.1, id 20242, total length 292.
 */
export const ICMP_FRAG_FIRST_V4 = hex(
  '450001244f1220004001f6c40a0000020a0000010800f7e2157600017048076b000000000d0d0e00' +
    '00000000101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f30313233' +
    '3435363738393a3b3c3d3e3f404142434445464748494a4b4c4d4e4f505152535455565758595a5b' +
    '5c5d5e5f606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f80818283' +
    '8485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9fa0a1a2a3a4a5a6a7a8a9aaab' +
    'acadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebfc0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3' +
    'd4d5d6d7d8d9dadbdcdddedfe0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7f8f9fafb' +
    'fcfdfeff0001020304050607',
);

/**
 * IPv4 last fragment (offset 272, MF clear) of the same echo request, total length 56.
 */
export const ICMP_FRAG_LAST_V4 = hex(
  '450000384f1200224001178f0a0000020a00000108090a0b0c0d0e0f101112131415161718191a1b' +
    '1c1d1e1f202122232425262728292a2b',
);

/**
 * IPv6 first fragment (fragment header, offset 0, M set) of a 1258-byte ICMPv6 echo
 * request over a 1280-byte MTU: fd00::2 > fd00::1, 1280 bytes.
 */
export const ICMPV6_FRAG_FIRST = hex(
  '6000679404d82c40fd000000000000000000000000000002fd000000000000000000000000000001' +
    '3a000001e28631b4800034b6157900017048076b0000000046210e00000000001011121314151617' +
    '18191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f' +
    '404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f6061626364656667' +
    '68696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f808182838485868788898a8b8c8d8e8f' +
    '909192939495969798999a9b9c9d9e9fa0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7' +
    'b8b9babbbcbdbebfc0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedf' +
    'e0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7f8f9fafbfcfdfeff0001020304050607' +
    '08090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f' +
    '303132333435363738393a3b3c3d3e3f404142434445464748494a4b4c4d4e4f5051525354555657' +
    '58595a5b5c5d5e5f606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f' +
    '808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9fa0a1a2a3a4a5a6a7' +
    'a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebfc0c1c2c3c4c5c6c7c8c9cacbcccdcecf' +
    'd0d1d2d3d4d5d6d7d8d9dadbdcdddedfe0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7' +
    'f8f9fafbfcfdfeff000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f' +
    '202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f4041424344454647' +
    '48494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f606162636465666768696a6b6c6d6e6f' +
    '707172737475767778797a7b7c7d7e7f808182838485868788898a8b8c8d8e8f9091929394959697' +
    '98999a9b9c9d9e9fa0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf' +
    'c0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedfe0e1e2e3e4e5e6e7' +
    'e8e9eaebecedeeeff0f1f2f3f4f5f6f7f8f9fafbfcfdfeff000102030405060708090a0b0c0d0e0f' +
    '101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f3031323334353637' +
    '38393a3b3c3d3e3f404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f' +
    '606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f8081828384858687' +
    '88898a8b8c8d8e8f909192939495969798999a9b9c9d9e9fa0a1a2a3a4a5a6a7a8a9aaabacadaeaf' +
    'b0b1b2b3b4b5b6b7b8b9babbbcbdbebfc0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7' +
    'd8d9dadbdcdddedfe0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7f8f9fafbfcfdfeff' +
    '000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f2021222324252627' +
    '28292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f404142434445464748494a4b4c4d4e4f' +
    '505152535455565758595a5b5c5d5e5f606162636465666768696a6b6c6d6e6f7071727374757677' +
    '78797a7b7c7d7e7f808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f' +
    'a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebfc0c1c2c3c4c5c6c7',
);

/**
 * IPv6 last fragment (offset 1232, M clear) of the same echo request, 74 bytes.
 */
export const ICMPV6_FRAG_LAST = hex(
  '6000679400222c40fd000000000000000000000000000002fd000000000000000000000000000001' +
    '3a0004d0e28631b4c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedfe0e1',
);

/**
 * IPv6 UDP with a hop-by-hop options header (PadN, 8 bytes) and a destination options
 * header (PadN, 16 bytes) set via IPV6_HOPOPTS/IPV6_DSTOPTS: [fd00::2]:59051 >
 * [fd00::1]:9999, payload "hello-ext".
 */
export const UDP_HBH_DST_V6 = hex(
  '6006ec5e00290040fd000000000000000000000000000002fd000000000000000000000000000001' +
    '3c000104000000001101010c000000000000000000000000e6ab270f0011da9468656c6c6f2d6578' +
    '74',
);

/**
 * IPv4 UDP sent with SO_NO_CHECK, so the checksum field is 0 ("none"):
 * 10.0.0.2:36050 > 10.0.0.1:9998, payload "no-checksum".
 */
export const UDP_NOCSUM_V4 = hex(
  '4500002729f1000040113cd30a0000020a0000018cd2270e001300006e6f2d636865636b73756d',
);

/**
 * IPv4 ICMP port unreachable quoting UDP_NOCSUM_V4 (a 39-byte datagram, quoted whole).
 */
export const ICMP_PORT_UNREACH_SHORT_V4 = hex(
  '45c000439f3a00004001c6bd0a0000010a000002030300f0000000004500002729f1000040113cd3' +
    '0a0000020a0000018cd2270e001300006e6f2d636865636b73756d',
);

/**
 * IPv4 TCP SYN captured on loopback, where the kernel leaves the checksum to (virtual)
 * offload: the field holds the folded, non-complemented pseudo-header sum (0xfe30)
 * — a real CHECKSUM_PARTIAL packet. 127.0.0.1:39344 > 127.0.0.1:8080.
 */
export const TCP_SYN_PARTIAL_V4 = hex(
  '4500003c402440004006fc957f0000017f00000199b01f906dae969d00000000a002ffd7fe300000' +
    '0204ffd70402080ab6f429f4000000000103030a',
);
