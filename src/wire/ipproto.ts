/**
 * IP protocol numbers (IANA "Assigned Internet Protocol Numbers") of the headers wire/
 * parses, writes or names: the IPv4 protocol / IPv6 next-header values.
 */
/** IP itself (fwmark templates carry protocol 0). */
export const IPPROTO_IP = 0;
export const IPPROTO_ICMP = 1;
/** IPv4 in IP (IPIP tunnels, and GUE's proto for an IPv4 payload). */
export const IPPROTO_IPIP = 4;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;
/** IPv6 in IP. */
export const IPPROTO_IPV6 = 41;
export const IPPROTO_GRE = 47;
export const IPPROTO_ICMPV6 = 58;
export const IPPROTO_SCTP = 132;
