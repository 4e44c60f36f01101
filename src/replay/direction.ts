/**
 * Which of the engine's two packet paths a captured packet takes. A capture does not
 * say whether a packet came from a client towards a virtual service (the kernel's
 * `in` handler, spec §1.2) or from a real server back to a client (the `out`
 * handler, §1.3), so replay decides from the configuration first and the connection
 * table second. The rule, in order (docs/replay.md explains it):
 *
 * 1. destination is a virtual service (service lookup of §4.1 on the destination,
 *    with the packet's firewall mark) → in;
 * 2. source is a real server of a NAT service (address and port; port 0 real
 *    servers match any port) → out;
 * 3. source is VIP:vport of a service with a non-NAT real server → out (such a
 *    reply only passes the director when it is the real server's router);
 * 4. the connection table: an in-lookup hit (source is the client of a conn) → in,
 *    else an out-lookup hit (destination is the client of a conn) → out;
 * 5. otherwise → in, where the engine passes it unchanged (ACCEPT) because no
 *    service claims it.
 *
 * ICMP errors are classified by the packet they quote: a quote of a packet the
 * director sent to a client (VIP → client) comes from the client side → in; a quote
 * of a packet sent to a real server (client → RIP) comes from the real-server side
 * → out.
 *
 * Every test is a read-only lookup: classifying never changes the engine.
 */
import type { Engine } from '../engine/engine.js';
import { parseAddr } from '../engine/addr.js';
import { NO_CONN } from '../engine/conn/table.js';
import {
  CONN_F_MASQ,
  IPPROTO_ICMP,
  IPPROTO_ICMPV6,
  type AddressFamily,
} from '../engine/constants.js';
import { PROTOCOLS, protoGet } from '../engine/proto/index.js';
import { Frag, PacketView } from '../wire/packet.js';
import { ICMP_HLEN } from '../wire/icmp.js';

/** The engine path a packet is given to. */
export const DIR_IN = 0;
export const DIR_OUT = 1;

/**
 * A firewall-mark rule standing in for the iptables mangle rule that marks traffic of
 * a fwmark service: packets to `addr` (and `port`, when not -1) carry `mark`.
 */
export interface MarkRule {
  readonly af: AddressFamily;
  readonly addr: Uint32Array;
  /** -1: any port (and packets without ports). */
  readonly port: number;
  readonly mark: number;
}

/**
 * Parses `ADDR[:PORT]=MARK` (IPv6 as `[ADDR]:PORT=MARK` or `ADDR=MARK`); returns an
 * error message for anything else.
 */
export function parseMarkRule(text: string): MarkRule | string {
  const m = /^(?:\[([^\]]+)\]|([^=[\]]+?))(?::(\d+))?=(\d+|0x[0-9a-f]+)$/i.exec(text.trim());
  const bad = `bad mark rule '${text}': expected ADDR[:PORT]=MARK, e.g. 10.0.3.100:80=7`;
  if (!m) return bad;
  let host = m[1] ?? m[2];
  let portText: string | undefined = m[3];
  // a bare IPv6 address: the colons belong to it
  if (m[1] === undefined && portText !== undefined && parseAddr(`${host}:${portText}`)?.af === 6) {
    host = `${host}:${portText}`;
    portText = undefined;
  }
  const a = parseAddr(host);
  if (!a) return bad;
  const port = portText === undefined ? -1 : Number(portText);
  const mark = Number(m[4]);
  if (port > 65535 || !Number.isInteger(mark) || mark <= 0 || mark > 0xffffffff) return bad;
  return { af: a.af, addr: a.words, port, mark };
}

/** Which rule decided; `RULE_TEXT` says it in words (for `--explain`). */
export const Rule = {
  SERVICE: 0,
  NAT_REAL_SERVER: 1,
  VIP_SOURCE: 2,
  CONN_IN: 3,
  CONN_OUT: 4,
  DEFAULT: 5,
  ICMP_CONN_IN: 6,
  ICMP_CONN_OUT: 7,
  ICMP_SERVICE: 8,
  ICMP_NAT_REAL_SERVER: 9,
  MALFORMED: 10,
  FRAGMENT_VIP: 11,
  FRAGMENT_NAT_REAL_SERVER: 12,
} as const;

export const RULE_NAMES: readonly string[] = [
  'service',
  'nat-real-server',
  'vip-source',
  'conn-in',
  'conn-out',
  'default',
  'icmp-conn-in',
  'icmp-conn-out',
  'icmp-service',
  'icmp-nat-real-server',
  'malformed',
  'fragment-vip',
  'fragment-nat-real-server',
];

export const RULE_TEXT: readonly string[] = [
  'client → VIP: the destination is a virtual service',
  'real server → client: the source is a real server of a NAT service',
  'reply: the source is VIP:vport of a service with non-NAT real servers',
  'client → VIP: the source is the client of an existing connection',
  'real server → client: the destination is the client of an existing connection',
  'neither a service nor a connection claims it: given to the in path, which passes it',
  'ICMP error about a packet the director sent to a client',
  'ICMP error about a packet the director sent to a real server',
  'ICMP error quoting a packet from a virtual service',
  'ICMP error quoting a packet sent to a NAT real server',
  'cannot be parsed: given to the in path, which drops it',
  'later fragment to a VIP address',
  'later fragment from a NAT real-server address',
];

const ICMP_DEST_UNREACH = 3;
const ICMP_SOURCE_QUENCH = 4;
const ICMP_TIME_EXCEEDED = 11;
const ICMPV6_ERROR_MAX = 127;

/**
 * A set of (protocol, address, port) endpoints with an exact check behind a numeric
 * hash, so a lookup allocates nothing. Port -1 stands for "any port" (a port-0 real
 * server takes the service's port).
 */
class EndpointSet {
  private readonly byHash = new Map<
    number,
    { af: number; proto: number; a: Uint32Array; port: number }[]
  >();
  private anyPort = false;
  size = 0;

  private static hash(af: number, proto: number, a: ArrayLike<number>, port: number): number {
    let h = Math.imul(a[0] ^ (proto << 16) ^ af, 0x9e3779b1);
    if (af === 6) h = Math.imul(h ^ a[1] ^ a[2] ^ a[3], 0x85ebca6b);
    return (h ^ port) | 0;
  }

  add(af: number, proto: number, a: ArrayLike<number>, port: number): void {
    const p = port === 0 ? -1 : port;
    if (p < 0) this.anyPort = true;
    const h = EndpointSet.hash(af, proto, a, p);
    const l = this.byHash.get(h) ?? [];
    const words = new Uint32Array(4);
    for (let i = 0; i < 4; i++) words[i] = a[i] ?? 0;
    if (l.some((e) => e.af === af && e.proto === proto && e.port === p && sameAddr(af, e.a, words)))
      return;
    l.push({ af, proto, a: words, port: p });
    this.byHash.set(h, l);
    this.size++;
  }

  has(af: number, proto: number, a: Uint32Array, port: number): boolean {
    if (this.size === 0) return false;
    if (this.find(af, proto, a, port)) return true;
    return this.anyPort && this.find(af, proto, a, -1);
  }

  private find(af: number, proto: number, a: Uint32Array, port: number): boolean {
    const l = this.byHash.get(EndpointSet.hash(af, proto, a, port));
    if (!l) return false;
    for (let i = 0; i < l.length; i++) {
      const e = l[i];
      if (e.af === af && e.proto === proto && e.port === port && sameAddr(af, e.a, a)) return true;
    }
    return false;
  }
}

function sameAddr(af: number, a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  return a[0] === b[0] && (af === 4 || (a[1] === b[1] && a[2] === b[2] && a[3] === b[3]));
}

/**
 * Decides the direction of captured packets for one engine. Built from the engine's
 * services when replay starts (the configuration does not change during a replay).
 */
export class DirectionClassifier {
  /** The rule behind the last decision (a {@link Rule} value). */
  rule: number = Rule.DEFAULT;
  /** The firewall mark the last packet got from the mark rules (0: none). */
  mark = 0;
  /** The last packet as parsed by `classify` (for callers that need more of it). */
  readonly view = new PacketView();
  private readonly pv = this.view;
  private readonly epv = new PacketView();
  /** NAT real servers (protocol, RIP, port). */
  private readonly natRs = new EndpointSet();
  /** VIP:vport of services with a non-NAT real server. */
  private readonly vipNonNat = new EndpointSet();
  /** Addresses only (port -1 = any), for later fragments that carry no ports. */
  private readonly vipAddrs = new EndpointSet();
  private readonly natRsAddrs = new EndpointSet();

  constructor(
    private readonly engine: Engine,
    private readonly marks: readonly MarkRule[] = [],
  ) {
    for (const s of engine.services) {
      const protos = s.fwmark !== 0 ? PROTOCOLS.map((pp) => pp.protocol) : [s.protocol];
      if (s.fwmark === 0) this.vipAddrs.add(s.af, 0, s.addr, 0);
      let nonNat = false;
      for (const d of s.dests) {
        if (d.fwd === CONN_F_MASQ) {
          for (const p of protos) this.natRs.add(d.af, p, d.addr, d.port);
          this.natRsAddrs.add(d.af, 0, d.addr, 0);
        } else nonNat = true;
      }
      if (nonNat && s.fwmark === 0) this.vipNonNat.add(s.af, s.protocol, s.addr, s.port);
    }
  }

  /**
   * Direction (DIR_IN or DIR_OUT) of the IP packet at `buf[off .. off+len)`;
   * `this.rule` says why and `this.mark` is the firewall mark it carries.
   */
  classify(buf: Uint8Array, off: number, len: number): number {
    const pv = this.pv;
    this.mark = 0;
    if (pv.parse(buf, off, len) !== 0) return this.decide(DIR_IN, Rule.MALFORMED);
    const af = pv.af as AddressFamily;
    const mark = this.marks.length === 0 ? 0 : (this.mark = this.markOf(pv));
    const proto = pv.proto;
    if (proto === IPPROTO_ICMP || proto === IPPROTO_ICMPV6) return this.icmp(pv, mark);
    if (protoGet(proto) === null) return this.decide(DIR_IN, Rule.DEFAULT);
    if (pv.frag === Frag.LATER) {
      if (this.vipAddrs.has(af, 0, pv.daddr, 0)) return this.decide(DIR_IN, Rule.FRAGMENT_VIP);
      if (this.natRsAddrs.has(af, 0, pv.saddr, 0))
        return this.decide(DIR_OUT, Rule.FRAGMENT_NAT_REAL_SERVER);
      return this.decide(DIR_IN, Rule.DEFAULT);
    }
    const e = this.engine;
    if (e.serviceFind(af, mark, proto, pv.daddr, 0, pv.dport) !== null)
      return this.decide(DIR_IN, Rule.SERVICE);
    if (this.natRs.has(af, proto, pv.saddr, pv.sport))
      return this.decide(DIR_OUT, Rule.NAT_REAL_SERVER);
    if (this.vipNonNat.has(af, proto, pv.saddr, pv.sport))
      return this.decide(DIR_OUT, Rule.VIP_SOURCE);
    const c = e.conns;
    if (c.inLookup(af, proto, pv.saddr, 0, pv.sport, pv.daddr, 0, pv.dport) !== NO_CONN)
      return this.decide(DIR_IN, Rule.CONN_IN);
    if (
      c.noCportCount > 0 &&
      c.inLookup(af, proto, pv.saddr, 0, 0, pv.daddr, 0, pv.dport) !== NO_CONN
    )
      return this.decide(DIR_IN, Rule.CONN_IN);
    if (c.outLookup(af, proto, pv.saddr, 0, pv.sport, pv.daddr, 0, pv.dport) !== NO_CONN)
      return this.decide(DIR_OUT, Rule.CONN_OUT);
    return this.decide(DIR_IN, Rule.DEFAULT);
  }

  private icmp(pv: PacketView, mark: number): number {
    const isError =
      pv.af === 4
        ? pv.icmpType === ICMP_DEST_UNREACH ||
          pv.icmpType === ICMP_SOURCE_QUENCH ||
          pv.icmpType === ICMP_TIME_EXCEEDED
        : pv.icmpType <= ICMPV6_ERROR_MAX;
    if (!isError || pv.frag !== Frag.NONE) return this.decide(DIR_IN, Rule.DEFAULT);
    const start = pv.l4off + ICMP_HLEN;
    const end = pv.l3off + pv.l3len;
    const ev = this.epv;
    if (start >= end || ev.parseEmbedded(pv.buf, start, end - start) !== 0)
      return this.decide(DIR_IN, Rule.DEFAULT);
    if (protoGet(ev.proto) === null) return this.decide(DIR_IN, Rule.DEFAULT);
    const af = ev.af as AddressFamily;
    const c = this.engine.conns;
    // quoted VIP → client: the client is the quote's destination
    if (c.inLookup(af, ev.proto, ev.daddr, 0, ev.dport, ev.saddr, 0, ev.sport) !== NO_CONN)
      return this.decide(DIR_IN, Rule.ICMP_CONN_IN);
    // quoted client → RIP: the client is the quote's source
    if (c.outLookup(af, ev.proto, ev.daddr, 0, ev.dport, ev.saddr, 0, ev.sport) !== NO_CONN)
      return this.decide(DIR_OUT, Rule.ICMP_CONN_OUT);
    if (this.engine.serviceFind(af, mark, ev.proto, ev.saddr, 0, ev.sport) !== null)
      return this.decide(DIR_IN, Rule.ICMP_SERVICE);
    if (this.natRs.has(af, ev.proto, ev.daddr, ev.dport))
      return this.decide(DIR_OUT, Rule.ICMP_NAT_REAL_SERVER);
    return this.decide(DIR_IN, Rule.DEFAULT);
  }

  private markOf(pv: PacketView): number {
    for (const r of this.marks) {
      if (r.af !== pv.af || !sameAddr(r.af, r.addr, pv.daddr)) continue;
      if (r.port < 0 || (pv.hasPorts && r.port === pv.dport)) return r.mark;
    }
    return 0;
  }

  private decide(dir: number, rule: number): number {
    this.rule = rule;
    return dir;
  }
}
