/** Packet views and checksums: everything under wire/ in one import. */
export * from './bytes.js';
export * from './checksum.js';
export * from './ipv4.js';
export * from './ipv6.js';
export * from './tcp.js';
export * from './udp.js';
export * from './sctp.js';
export * from './crc32c.js';
export * from './icmp.js';
export * from './packet.js';
export * from './describe.js';
export * from './ip.js';
export * from './gre.js';
export * from './gue.js';
export * from './addr.js';
export * from './ipproto.js';
