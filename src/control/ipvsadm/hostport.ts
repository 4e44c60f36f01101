/**
 * ipvsadm's number and address arguments (reference §5.1): `string_to_number` and the
 * host[:port] parser, with names looked up through a {@link Resolver}.
 */
import { isIPv4 } from 'node:net';
import { IPPROTO_SCTP, IPPROTO_TCP, IPPROTO_UDP } from '../../engine/constants.js';
import { protoName } from '../../engine/spec.js';
import type { Family } from '../model.js';
import { inetAton, isIPv6Literal, type Resolver } from './resolve.js';

const SERVICE_PROTOCOLS: readonly number[] = [IPPROTO_TCP, IPPROTO_UDP, IPPROTO_SCTP];

/** ipvsadm's string_to_number: strtol base 10 over the whole string, in [min, max]. */
export function toNumber(s: string, min: number, max: number): number | null {
  if (!/^[ \t\n\v\f\r]*[+-]?\d+$/.test(s)) return null;
  const n = Number(s.trim());
  if (!Number.isFinite(n) || n < min || n > max) return null;
  return n === 0 ? 0 : n;
}

/**
 * ipvsadm's host[:port] parser (§5.1). Returns null on any failure; `port` is null
 * when the text had none.
 */
export async function parseHostPort(
  text: string,
  protocol: number,
  resolver: Resolver,
): Promise<{ af: Family; addr: string; port: number | null } | null> {
  if (/^\d+$/.test(text)) return null;
  let host: string;
  let portText: string | null = null;
  if (text[0] === '[') {
    const close = text.indexOf(']');
    if (close < 0 || text[close + 1] !== ':') return null;
    host = text.slice(1, close);
    portText = text.slice(close + 2);
    if (isIPv6Literal(host)) {
      const port = portOf(portText, protocol, resolver);
      return port === null ? null : { af: 6, addr: canonical6(host), port };
    }
    // an IPv4 address in brackets is accepted, and its port lost
    const a = inetAton(host);
    return a === null ? null : { af: 4, addr: a, port: 0 };
  }
  if (isIPv6Literal(text)) return { af: 6, addr: canonical6(text), port: null };
  const colon = text.lastIndexOf(':');
  if (colon >= 0) {
    host = text.slice(0, colon);
    portText = text.slice(colon + 1);
  } else host = text;
  let addr = inetAton(host);
  if (addr === null) addr = await resolver.hostByName(host);
  if (addr === null || !isIPv4(addr)) return null;
  if (portText === null) return { af: 4, addr, port: null };
  const port = portOf(portText, protocol, resolver);
  return port === null ? null : { af: 4, addr, port };
}

function portOf(text: string, protocol: number, resolver: Resolver): number | null {
  const n = toNumber(text, 0, 65535);
  if (n !== null) return n;
  if (text === '') return null;
  return resolver.portByService(text, servicesProto(protocol));
}

function canonical6(a: string): string {
  return a.toLowerCase();
}

/**
 * The protocol's name in the services database (`tcp`, `udp`, `sctp`), or null for a
 * protocol that is not a service's (0 while no -t/-u/--sctp-service came yet).
 */
export function servicesProto(protocol: number): string | null {
  return SERVICE_PROTOCOLS.includes(protocol) ? protoName(protocol).toLowerCase() : null;
}
