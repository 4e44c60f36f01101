/**
 * The netfilter rules that queue what IPVS would see (spec §1.1): requests for a
 * virtual service before routing, firewall-mark services at INPUT, NAT replies at
 * FORWARD, in (legacy) iptables chains of the mangle table that tsvs owns and names
 * after its instance (`TSVS_<name>_REQ/_REP/_MRK`), with one jump each from the hook.
 *
 * @module
 */
import type { Engine } from '../engine/engine.js';
import type { Dest, Service } from '../engine/service.js';
import { CONN_F_MASQ, CONN_F_TUNNEL, type AddressFamily } from '../engine/constants.js';
import { formatAddr } from '../engine/addr.js';
import { run, runAsync } from '../sys/exec.js';

/** The iptables flavours the chains live in (the kernel's xtables NFQUEUE target). */
export const IPT4 = 'iptables-legacy';
export const IPT6 = 'ip6tables-legacy';

/** iptables-restore input per family for the chains that queue what IPVS would see. */
export interface Ruleset {
  v4: string[];
  v6: string[];
}

/**
 * A virtual service as the capture sees it: `dests` are its real servers and, after
 * them, those of its real servers waiting in the trash that connections still use;
 * `live` is false for a deleted service whose trashed real servers still carry
 * connections (only those are captured for it).
 */
export interface CapturedService {
  svc: Service;
  dests: readonly Dest[];
  live: boolean;
}

/**
 * What the capture must carry: every configured service with its real servers, and
 * every real server in the trash that connections (or templates) still reference, with
 * the service it belonged to. The kernel keeps forwarding the connections of a
 * deleted real server (`expire_nodest_conn` 0: they stay until they expire), so their
 * packets both ways must keep reaching the engine, and their next hop must stay known,
 * until the last one is gone (then the rules are rebuilt without it; see
 * {@link heldDests}).
 */
export function capturedServices(engine: Engine): CapturedService[] {
  const out: CapturedService[] = [];
  const by = new Map<Service, { svc: Service; dests: Dest[]; live: boolean }>();
  for (const s of engine.services) {
    const c = { svc: s, dests: s.dests.slice(), live: true };
    by.set(s, c);
    out.push(c);
  }
  for (const d of heldDests(engine)) {
    let c = by.get(d.svc);
    if (!c) {
      c = { svc: d.svc, dests: [], live: false };
      by.set(d.svc, c);
      out.push(c);
    }
    c.dests.push(d);
  }
  return out;
}

/** Real servers in the trash that connections or templates still reference. */
export function heldDests(engine: Engine): Dest[] {
  return engine.trashDests.filter((d) => d.refcnt > 0);
}

/** Queue numbers for {@link buildRuleset}: GSO queues for TCP, plain ones for the rest. */
export interface QueueNumbers {
  inGso: number;
  outGso: number;
  inPlain: number;
  outPlain: number;
}

/**
 * The rules that queue what IPVS would see for the configured services: requests for
 * a virtual service (and ICMP errors about it) in the REQ chain, NAT replies from real
 * servers in the REP chain. The kernel here has the xtables NFQUEUE target but not
 * nftables' queue expression, so these are (legacy) iptables rules in chains tsvs owns.
 *
 * TCP goes to the GSO queues, except for services with a tunnel real server; UDP,
 * SCTP and ICMP go to the plain queues (see director.ts). Passing two numbers puts
 * everything on those two queues. SCTP services are captured here only: the tc
 * steering fast path (steer.ts) carries TCP and UDP.
 */
export function buildRuleset(
  engine: Engine,
  qin: number | QueueNumbers,
  qout?: number,
  tunnelSources: readonly string[] = [],
): Ruleset {
  const q: QueueNumbers =
    typeof qin === 'number'
      ? { inGso: qin, outGso: qout ?? qin, inPlain: qin, outPlain: qout ?? qin }
      : qin;
  const rs: Ruleset = { v4: [], v6: [] };
  const helperPorts = engine.appPorts(6);
  // no --queue-bypass: while no daemon listens (a restart, a hand-over, a crash) the
  // kernel drops what the rules queue, and the peers retransmit; with the bypass the
  // packets would reach the local stack, where a local VIP answers with a reset
  const to = (n: number): string => `-j NFQUEUE --queue-num ${n}`;
  const icmpTypes = (af: AddressFamily): string[] =>
    af === 4
      ? [
          '-p icmp --icmp-type destination-unreachable',
          '-p icmp --icmp-type source-quench',
          '-p icmp --icmp-type time-exceeded',
        ]
      : [
          '-p ipv6-icmp --icmpv6-type destination-unreachable',
          '-p ipv6-icmp --icmpv6-type packet-too-big',
          '-p ipv6-icmp --icmpv6-type time-exceeded',
          '-p ipv6-icmp --icmpv6-type parameter-problem',
        ];
  // SCTP by name: `--dport`/`--sport` need the protocol's match module (xt_sctp)
  const pn = (p: number): string =>
    p === 6 ? 'tcp' : p === 17 ? 'udp' : p === 132 ? 'sctp' : String(p);
  const add = (af: AddressFamily, rule: string): void => {
    const l = af === 4 ? rs.v4 : rs.v6;
    if (!l.includes(rule)) l.push(rule);
  };
  for (const { svc: s, dests } of capturedServices(engine)) {
    const tunnel = dests.some((d) => d.fwd === CONN_F_TUNNEL);
    const qi = to(s.protocol === 6 && !tunnel ? q.inGso : q.inPlain);
    const qo = to(s.protocol === 6 ? q.outGso : q.outPlain);
    const qiPlain = to(q.inPlain);
    const qoPlain = to(q.outPlain);
    const helper = s.protocol === 6 && helperPorts.includes(s.port);
    if (s.fwmark !== 0) {
      // Marked packets are taken at INPUT, where IPVS sees them: after every mangle
      // PREROUTING rule (the operator's MARK rules) and after routing, which must
      // deliver them locally, as for the kernel. Without GSO: the transmit fallback
      // from INPUT is the raw socket, which cannot send super-packets.
      add(s.af, `MRK -m mark --mark ${s.fwmark} ${qiPlain}`);
    } else {
      const vip = `${formatAddr(s.af, s.addr)}/${s.af === 4 ? 32 : 128}`;
      // port-0 services, the FTP port (its data-port fallback) and helper ports (their
      // passive data connections) take every port of the VIP
      if (s.port === 0 || s.port === 21 || helper)
        add(s.af, `REQ -d ${vip} -p ${pn(s.protocol)} ${qi}`);
      else add(s.af, `REQ -d ${vip} -p ${pn(s.protocol)} --dport ${s.port} ${qi}`);
      for (const t of icmpTypes(s.af)) add(s.af, `REQ -d ${vip} ${t} ${qiPlain}`);
    }
    for (const d of dests) {
      if (d.fwd !== CONN_F_MASQ) continue;
      const rip = `${formatAddr(d.af, d.addr)}/${d.af === 4 ? 32 : 128}`;
      const p = pn(s.protocol);
      // FTP: the data connections (active from port 20, passive from any port) are
      // replies the helper expects too, so all TCP from the real server is queued
      if (d.port === 0 || s.fwmark !== 0 || helper || (s.port === 21 && s.protocol === 6))
        add(d.af, `REP -s ${rip} -p ${p} ${qo}`);
      else add(d.af, `REP -s ${rip} -p ${p} --sport ${d.port} ${qo}`);
      for (const t of icmpTypes(d.af)) add(d.af, `REP -s ${rip} ${t} ${qoPlain}`);
    }
  }
  // ICMP errors about the IPIP packets we send to tunnel real servers come back to
  // the tunnel's source address (§8.1 step 4): the engine relays them to the client
  for (const src of tunnelSources)
    for (const t of icmpTypes(4)) add(4, `REQ -d ${src}/32 ${t} ${to(q.inPlain)}`);
  return rs;
}

/** The chains of one director instance: installs them atomically, removes them. */
export class QueueRules {
  /**
   * @param table  chain name prefix (`TSVS_<name>`)
   * @param skipDev  packets arriving on this device skip the chains (the steering
   *   device the director hands packets back through)
   */
  constructor(
    private readonly netns: string | undefined,
    readonly table: string,
    private readonly skipDev: string,
    private readonly log: (line: string) => void,
  ) {}

  private chains(): [string, string, string][] {
    return [
      [`${this.table}_REQ`, 'PREROUTING', 'REQ'],
      [`${this.table}_REP`, 'FORWARD', 'REP'],
      [`${this.table}_MRK`, 'INPUT', 'MRK'],
    ];
  }

  /** The jump from a hook to one of our chains (packets handed back through the TUN skip it). */
  private jump(chain: string): string[] {
    return ['!', '-i', this.skipDev, '-j', chain];
  }

  /** Remove our chains and the jumps to them (also what a crashed run left behind). */
  remove(quiet: boolean): void {
    this.last = { v4: '', v6: '' };
    this.jumps = { v4: false, v6: false };
    for (const bin of [IPT4, IPT6]) {
      for (const [chain, hook] of this.chains()) {
        for (const args of [
          ['-t', 'mangle', '-D', hook, ...this.jump(chain)],
          ['-t', 'mangle', '-D', hook, '-j', chain],
          ['-t', 'mangle', '-F', chain],
          ['-t', 'mangle', '-X', chain],
        ]) {
          // a crash may have left several jumps: delete until none is left
          for (let i = 0; i < (args[2] === '-D' ? 16 : 1); i++) {
            try {
              run(this.netns, bin, ['-w', ...args]);
            } catch (e) {
              if (!quiet && i === 0 && args[2] !== '-D')
                this.log(`removing rules: ${(e as Error).message}`);
              break;
            }
          }
        }
      }
    }
  }

  /** Chain contents last installed per family (an unchanged set is not installed again). */
  private last = { v4: '', v6: '' };
  /** The jumps to our chains were found or put in place (per family, once per run). */
  private jumps = { v4: false, v6: false };

  /**
   * Replace the rules of our chains with `rs` and add the jumps, per family in one
   * `iptables-restore --noflush` (atomic: one table commit), both families at once.
   * Without blocking: packets keep being read while the commands run (a start that
   * adopted the previous daemon's rules reads from the first moment). The jumps are
   * looked for once per run (`iptables-save`); a set of rules equal to the last one
   * installed (a weight or scheduler change) costs no command at all.
   */
  async install(rs: Ruleset): Promise<void> {
    await Promise.all([this.installFamily('v4', rs.v4), this.installFamily('v6', rs.v6)]);
  }

  private async installFamily(fam: 'v4' | 'v6', rules: string[]): Promise<void> {
    const bin = fam === 'v4' ? IPT4 : IPT6;
    const body: string[] = [];
    for (const [chain] of this.chains()) body.push(`:${chain} - [0:0]`);
    // requests: only what ip_vs_in_hook looks at, PACKET_HOST frames (a frame for the
    // VIP sent to the link's broadcast or a multicast MAC goes to the local stack);
    // replies (ip_vs_out_hook) have no such test
    for (const [chain, hook] of this.chains())
      if (hook !== 'FORWARD') body.push(`-A ${chain} -m pkttype ! --pkt-type unicast -j RETURN`);
    for (const r of rules) {
      const [kind, ...rest] = r.split(' ');
      body.push(`-A ${this.table}_${kind} ${rest.join(' ')}`);
    }
    const text = body.join('\n');
    if (this.jumps[fam] && text === this.last[fam]) return;
    const lines = ['*mangle', ...body];
    if (!this.jumps[fam]) {
      const saved = new Set(
        (await runAsync(this.netns, `${bin}-save`, ['-t', 'mangle']))
          .split('\n')
          .map((l) => l.trim().replace(/\s+/g, ' ')),
      );
      for (const [chain, hook] of this.chains()) {
        const jump = this.jump(chain).join(' ');
        if (!saved.has(`-A ${hook} ${jump}`)) lines.push(`-I ${hook} ${jump}`);
      }
    }
    lines.push('COMMIT', '');
    this.last[fam] = '';
    await runAsync(this.netns, `${bin}-restore`, ['-w', '--noflush'], lines.join('\n'));
    this.jumps[fam] = true;
    this.last[fam] = text;
  }
}
