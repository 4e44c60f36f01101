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

/**
 * The protocol's name as the kernel's `ip_vs_proto_name` gives it (ipvsadm listings,
 * /proc, logs): IP, TCP, UDP, SCTP, ICMP, ICMPv6, otherwise `IP_<n>`.
 */
export function ipProtoName(p: number): string {
  switch (p) {
    case IPPROTO_IP:
      return 'IP';
    case IPPROTO_TCP:
      return 'TCP';
    case IPPROTO_UDP:
      return 'UDP';
    case IPPROTO_SCTP:
      return 'SCTP';
    case IPPROTO_ICMP:
      return 'ICMP';
    case IPPROTO_ICMPV6:
      return 'ICMPv6';
    default:
      return `IP_${p}`;
  }
}
