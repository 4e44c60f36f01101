/**
 * Name resolution as ipvsadm does it (reference §5.1, §6): `inet_aton` for IPv4
 * literals (legacy forms included), `gethostbyname` for host names (IPv4 only),
 * `gethostbyaddr` for printing addresses, and the services database
 * (`getservbyname` / `getservbyport`) for ports.
 *
 * The {@link Resolver} interface lets tests inject their own hosts and services;
 * {@link systemResolver} uses the C library through Node (`dns.lookup`,
 * `dns.lookupService`, so /etc/hosts and NSS apply) and reads /etc/services.
 */
import { lookup, lookupService } from 'node:dns';
import { readFileSync } from 'node:fs';
import { formatIpv6, parseIpv4, parseIpv6 } from '../../wire/addr.js';
import type { Family } from '../model.js';

export interface Resolver {
  /** `gethostbyaddr`: the host's name, or null. */
  hostByAddr(af: Family, addr: string): Promise<string | null>;
  /** `gethostbyname`: the first IPv4 address of a name, or null. */
  hostByName(name: string): Promise<string | null>;
  /** `getservbyport`: the service name of a port for a protocol ('tcp', 'udp', 'sctp'). */
  serviceByPort(port: number, proto: string): string | null;
  /** `getservbyname`: the port of a service name; `proto` null matches any protocol. */
  portByService(name: string, proto: string | null): number | null;
}

/** The services database: first entry wins, as getservby* return it. */
export class ServicesDb {
  private readonly byPort = new Map<string, string>();
  private readonly byName = new Map<string, number>();
  private readonly byNameAny = new Map<string, number>();

  constructor(text: string) {
    for (const raw of text.split('\n')) {
      const line = raw.replace(/#.*/, '').trim();
      if (line === '') continue;
      const f = line.split(/\s+/);
      const m = /^(\d+)\/(\w+)$/.exec(f[1] ?? '');
      if (!m) continue;
      const port = Number(m[1]);
      const proto = m[2].toLowerCase();
      const names = [f[0], ...f.slice(2)];
      const pk = `${port}/${proto}`;
      if (!this.byPort.has(pk)) this.byPort.set(pk, f[0]);
      for (const n of names) {
        if (!this.byName.has(`${n}/${proto}`)) this.byName.set(`${n}/${proto}`, port);
        if (!this.byNameAny.has(n)) this.byNameAny.set(n, port);
      }
    }
  }

  name(port: number, proto: string): string | null {
    return this.byPort.get(`${port}/${proto}`) ?? null;
  }

  port(name: string, proto: string | null): number | null {
    return (
      (proto === null ? this.byNameAny.get(name) : this.byName.get(`${name}/${proto}`)) ?? null
    );
  }
}

/** A hosts file: address → first name, name → first IPv4 address. */
export class HostsDb {
  private readonly names = new Map<string, string>();
  private readonly addrs = new Map<string, string>();

  constructor(text: string) {
    for (const raw of text.split('\n')) {
      const f = raw.replace(/#.*/, '').trim().split(/\s+/);
      if (f.length < 2 || f[0] === '') continue;
      const a = canonical(f[0]);
      if (a === null) continue;
      if (!this.names.has(a)) this.names.set(a, f[1]);
      if (isIPv4(a)) for (const n of f.slice(1)) if (!this.addrs.has(n)) this.addrs.set(n, a);
    }
  }

  name(addr: string): string | null {
    const a = canonical(addr);
    return a === null ? null : (this.names.get(a) ?? null);
  }

  addr(name: string): string | null {
    return this.addrs.get(name) ?? null;
  }
}

/**
 * The wire parsers, not node:net's isIPv4/isIPv6: those compile Node's large address
 * regular expressions on first use, 5–8 ms of every tsvsadm call (docs/cli.md).
 */
function isIPv4(a: string): boolean {
  return parseIpv4(a) >= 0;
}

const words6 = new Uint32Array(4);

function canonical(a: string): string | null {
  if (isIPv4(a)) return a;
  return parseIpv6(a, words6) ? formatIpv6(words6) : null;
}

/** A resolver over fixed hosts and services texts (tests, or hosts-file-only setups). */
export function tableResolver(hostsText: string, servicesText: string): Resolver {
  const hosts = new HostsDb(hostsText);
  const services = new ServicesDb(servicesText);
  return {
    hostByAddr: (_af, addr) => Promise.resolve(hosts.name(addr)),
    hostByName: (name) => Promise.resolve(hosts.addr(name)),
    serviceByPort: (port, proto) => services.name(port, proto),
    portByService: (name, proto) => services.port(name, proto),
  };
}

let systemServices: ServicesDb | null = null;

function services(): ServicesDb {
  if (!systemServices) {
    let text = '';
    try {
      text = readFileSync('/etc/services', 'utf8');
    } catch {
      // no services database: every port prints numerically
    }
    systemServices = new ServicesDb(text);
  }
  return systemServices;
}

/** The host's resolver: NSS through Node's libuv calls, /etc/services for ports. */
export function systemResolver(): Resolver {
  return {
    hostByAddr: (_af, addr) =>
      new Promise((resolve) => {
        lookupService(addr, 0, (err, host) => resolve(err || !host || host === addr ? null : host));
      }),
    hostByName: (name) =>
      new Promise((resolve) => {
        lookup(name, { family: 4 }, (err, address) => resolve(err ? null : address));
      }),
    serviceByPort: (port, proto) => services().name(port, proto),
    portByService: (name, proto) => services().port(name, proto),
  };
}

/** One inet_aton part: decimal, octal (leading 0) or hex (0x), as strtoul reads it. */
function atonPart(s: string): number | null {
  let m: RegExpExecArray | null;
  if ((m = /^0[xX]([0-9a-fA-F]*)$/.exec(s))) return m[1] === '' ? 0 : parseInt(m[1], 16);
  if (/^0[0-7]*$/.test(s)) return parseInt(s, 8);
  if (/^[1-9]\d*$/.test(s)) return parseInt(s, 10);
  return null;
}

/**
 * `inet_aton`: `a.b.c.d`, and the legacy `a`, `a.b`, `a.b.c` forms with decimal, octal
 * or hex parts; text after the first whitespace is ignored. Returns the dotted quad,
 * or null.
 */
export function inetAton(text: string): string | null {
  const s = text.split(/[ \t\n\v\f\r]/)[0];
  if (s === '' || !/^[0-9]/.test(s)) return null;
  const parts = s.split('.');
  if (parts.length > 4) return null;
  const v: number[] = [];
  for (const p of parts) {
    const n = atonPart(p);
    if (n === null || n > 0xffffffff) return null;
    v.push(n);
  }
  let w: number;
  const last = v[v.length - 1];
  switch (v.length) {
    case 1:
      w = last;
      break;
    case 2:
      if (v[0] > 255 || last > 0xffffff) return null;
      w = v[0] * 2 ** 24 + last;
      break;
    case 3:
      if (v[0] > 255 || v[1] > 255 || last > 0xffff) return null;
      w = v[0] * 2 ** 24 + v[1] * 2 ** 16 + last;
      break;
    default:
      if (v.some((x) => x > 255)) return null;
      w = v[0] * 2 ** 24 + v[1] * 2 ** 16 + v[2] * 2 ** 8 + v[3];
  }
  return `${Math.floor(w / 2 ** 24) & 255}.${(w >>> 16) & 255}.${(w >>> 8) & 255}.${w & 255}`;
}

/** `inet_pton(AF_INET6)`: a strict IPv6 literal (no zone index). */
export function isIPv6Literal(s: string): boolean {
  return parseIpv6(s, words6);
}
