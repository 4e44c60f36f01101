/**
 * The director: runs the engine on live packets (issue "Real data plane").
 *
 * Capture is a netfilter queue at the kernel's own hook points, so the IPVS contract
 * holds (spec §1.1): client packets for a virtual service are queued before routing
 * (PREROUTING, so the VIP works whether or not it is a local address, and DR/TUN work
 * with IP forwarding off), NAT replies from real servers are queued at FORWARD. The
 * director "steals" requests (verdict DROP) and transmits what the engine produced
 * itself: NAT, tunnel, bypass and ICMP through raw IP sockets (the kernel routes them
 * to the RIP), DR as a link-layer frame to the real server's MAC through a packet
 * socket. Replies are rewritten in place and handed back with the verdict.
 *
 * Everything installed (two iptables chains named after the instance, in the mangle
 * table, jumped to from PREROUTING and FORWARD) is removed on stop, and removed again
 * on the next start after a crash.
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createSocket } from 'node:dgram';
import { Engine, PKT_CSUM_OK, type EngineOptions } from '../engine/engine.js';
import {
  CONN_F_BYPASS,
  CONN_F_DROUTE,
  CONN_F_MASQ,
  CONN_F_TUNNEL,
  type AddressFamily,
} from '../engine/constants.js';
import { formatAddr } from '../engine/addr.js';
import type { Dest } from '../engine/service.js';
import { V_ACCEPT, V_DROP, V_FORWARD, V_LOCAL, V_REPLY } from '../engine/drop.js';

import {
  ETH_P_IP,
  ETH_P_IPV6,
  IPPROTO_RAW,
  META_STRIDE,
  M_ERR,
  M_LEN,
  M_NFQ_ID,
  M_NFQ_INFO_QUEUE,
  M_NFQ_MARK,
  M_OFF,
  M_PKT_MAC_HI,
  M_PKT_MAC_LO,
  M_PKT_PROTO,
  M_RAW_ADDR,
  NF_ACCEPT,
  NF_DROP,
  NFQ_SKB_CSUMNOTREADY,
  loadNative,
  macWords,
  openNfQueue,
  openPacketSocket,
  openRawSocket,
  setVerdict,
  withNetns,
  type Batch,
  type PacketChannel,
} from './native.js';

export interface DirectorOptions {
  /** Instance name: names the iptables chains (`TSVS_<name>_REQ/_REP`); default "main". */
  name?: string;
  /** Network namespace (name under /run/netns) to run in; default: the current one. */
  netns?: string;
  /** Queue numbers for requests and for NAT replies (per network namespace). */
  queueIn?: number;
  queueOut?: number;
  /** Engine to drive (default: a new one). */
  engine?: Engine;
  engineOptions?: EngineOptions;
  /** Log one line (faults, rule changes). */
  log?: (line: string) => void;
}

/** Where a DR frame goes: egress interface and the next hop's MAC. */
interface L2Hop {
  ifindex: number;
  mac: [number, number];
  chan: PacketChannel;
}

const IPT4 = 'iptables-legacy';
const IPT6 = 'ip6tables-legacy';
const RX_BYTES = 4 * 1024 * 1024;
const SPILL_BYTES = 1024 * 1024;
const BATCH_PKTS = 256;
const TICK_MS = 100;

/** Run a command (optionally inside a network namespace) and return stdout. */
export function run(
  netns: string | undefined,
  cmd: string,
  args: string[],
  input?: string,
): string {
  const argv = netns ? ['netns', 'exec', netns, cmd, ...args] : args;
  const bin = netns ? 'ip' : cmd;
  return execFileSync(bin, argv, {
    input,
    encoding: 'utf8',
    stdio: ['pipe', 'pipe', 'pipe'],
    timeout: 10_000,
  });
}

function runAsync(netns: string | undefined, cmd: string, args: string[]): Promise<string> {
  const argv = netns ? ['netns', 'exec', netns, cmd, ...args] : args;
  const bin = netns ? 'ip' : cmd;
  return new Promise((resolve, reject) => {
    execFile(bin, argv, { encoding: 'utf8', timeout: 10_000 }, (err, out) =>
      err ? reject(err) : resolve(out),
    );
  });
}

/** iptables-restore input per family for the chains that queue what IPVS would see. */
export interface Ruleset {
  v4: string[];
  v6: string[];
}

/**
 * The rules that queue what IPVS would see for the configured services: requests for
 * a virtual service (and ICMP errors about it) in the REQ chain, NAT replies from real
 * servers in the REP chain. The kernel here has the xtables NFQUEUE target but not
 * nftables' queue expression, so these are (legacy) iptables rules in chains tsvs owns.
 */
export function buildRuleset(engine: Engine, qin: number, qout: number): Ruleset {
  const rs: Ruleset = { v4: [], v6: [] };
  const qi = `-j NFQUEUE --queue-num ${qin} --queue-bypass`;
  const qo = `-j NFQUEUE --queue-num ${qout} --queue-bypass`;
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
  const pn = (p: number): string => (p === 6 ? 'tcp' : p === 17 ? 'udp' : String(p));
  const add = (af: AddressFamily, rule: string): void => {
    const l = af === 4 ? rs.v4 : rs.v6;
    if (!l.includes(rule)) l.push(rule);
  };
  for (const s of engine.services) {
    if (s.fwmark !== 0) {
      add(s.af, `REQ -m mark --mark ${s.fwmark} ${qi}`);
    } else {
      const vip = `${formatAddr(s.af, s.addr)}/${s.af === 4 ? 32 : 128}`;
      if (s.port === 0 || s.port === 21) add(s.af, `REQ -d ${vip} -p ${pn(s.protocol)} ${qi}`);
      else add(s.af, `REQ -d ${vip} -p ${pn(s.protocol)} --dport ${s.port} ${qi}`);
      for (const t of icmpTypes(s.af)) add(s.af, `REQ -d ${vip} ${t} ${qi}`);
    }
    for (const d of s.dests) {
      if (d.fwd !== CONN_F_MASQ) continue;
      const rip = `${formatAddr(d.af, d.addr)}/${d.af === 4 ? 32 : 128}`;
      const p = pn(s.protocol);
      if (d.port === 0 || s.fwmark !== 0) add(d.af, `REP -s ${rip} -p ${p} ${qo}`);
      else add(d.af, `REP -s ${rip} -p ${p} --sport ${d.port} ${qo}`);
      if (s.port === 21 && s.protocol === 6) add(d.af, `REP -s ${rip} -p tcp --sport 20 ${qo}`);
      for (const t of icmpTypes(d.af)) add(d.af, `REP -s ${rip} ${t} ${qo}`);
    }
  }
  return rs;
}

export class Director {
  readonly engine: Engine;
  readonly name: string;
  readonly netns: string | undefined;
  readonly table: string;
  readonly queueIn: number;
  readonly queueOut: number;
  private readonly log: (line: string) => void;
  private qin!: PacketChannel;
  private qout!: PacketChannel;
  private raw4!: PacketChannel;
  private raw6!: PacketChannel;
  private readonly packetSockets = new Map<number, PacketChannel>();
  /** DR next hops by dest id. */
  private readonly l2 = new Map<number, L2Hop>();
  private readonly tunSrc = new Map<string, Uint32Array>();
  private timer: NodeJS.Timeout | undefined;
  private lastMem = 0;
  private availMem = Number.MAX_SAFE_INTEGER;
  private running = false;
  /** Packets the director could not transmit, by errno text. */
  readonly txErrors = new Map<string, number>();

  // one buffer per direction: reads fill the front, the spill area holds engine
  // output that did not fit in place (tunnel headers, ICMP replies)
  private readonly bufIn = new Uint8Array(RX_BYTES + SPILL_BYTES);
  private readonly bufOut = new Uint8Array(RX_BYTES + SPILL_BYTES);
  private readonly rxIn: Batch;
  private readonly rxOut: Batch;
  private readonly vIn: Batch;
  private readonly vOut: Batch;
  private readonly tx4: Batch;
  private readonly tx6: Batch;
  private readonly txL2: Batch;

  constructor(opts: DirectorOptions = {}) {
    this.name = opts.name ?? 'main';
    this.netns = opts.netns;
    this.table = `TSVS_${this.name.replace(/[^A-Za-z0-9_]/g, '_')}`.slice(0, 24);
    this.queueIn = opts.queueIn ?? 7100;
    this.queueOut = opts.queueOut ?? 7101;
    this.log = opts.log ?? ((l) => process.stderr.write(`tsvs: ${l}\n`));
    this.engine =
      opts.engine ??
      new Engine({
        ...opts.engineOptions,
        tunnelSource: (af, rip) => this.tunSrc.get(formatAddr(af, rip)) ?? null,
      });
    const mk = (buf: Uint8Array): Batch => ({
      buf,
      meta: new Int32Array(BATCH_PKTS * META_STRIDE),
      capacity: BATCH_PKTS,
    });
    this.rxIn = {
      buf: this.bufIn.subarray(0, RX_BYTES),
      meta: new Int32Array(BATCH_PKTS * META_STRIDE),
      capacity: BATCH_PKTS,
    };
    this.rxOut = {
      buf: this.bufOut.subarray(0, RX_BYTES),
      meta: new Int32Array(BATCH_PKTS * META_STRIDE),
      capacity: BATCH_PKTS,
    };
    this.vIn = mk(this.bufIn);
    this.vOut = mk(this.bufOut);
    this.tx4 = mk(this.bufIn);
    this.tx6 = mk(this.bufIn);
    this.txL2 = mk(this.bufIn);
  }

  /** Check that we can run: root, the native addon, iptables. Throws a clear Error. */
  static preflight(): void {
    if (process.getuid && process.getuid() !== 0)
      throw new Error(
        'tsvs daemon must run as root (it installs netfilter rules and opens raw sockets)',
      );
    loadNative();
    for (const bin of [IPT4, IPT6]) {
      try {
        execFileSync(bin, ['--version'], { stdio: 'pipe' });
      } catch {
        throw new Error(`${bin} not found: install the Debian package iptables`);
      }
    }
    if (!existsSync('/proc/net/netfilter') && !existsSync('/proc/sys/net/netfilter'))
      throw new Error('the kernel has no netfilter (NFQUEUE is needed)');
  }

  private inNs<T>(fn: () => T): T {
    return this.netns ? withNetns(this.netns, fn) : fn();
  }

  /** Open the queues and sockets, install the rules, start the timers. */
  async start(): Promise<void> {
    Director.preflight();
    this.removeRules(true);
    this.inNs(() => {
      this.qin = openNfQueue({ queue: this.queueIn, failOpen: false, maxLen: 8192 });
      this.qout = openNfQueue({ queue: this.queueOut, failOpen: false, maxLen: 8192 });
      this.raw4 = openRawSocket({ family: 4, protocol: IPPROTO_RAW, hdrIncl: true });
      this.raw6 = openRawSocket({ family: 6, protocol: IPPROTO_RAW, hdrIncl: true });
    });
    this.raw4.setBuffers(0, 8 * 1024 * 1024);
    this.raw6.setBuffers(0, 8 * 1024 * 1024);
    this.running = true;
    await this.configChanged();
    this.qin.onReadable(
      () => this.drainIn(),
      (e) => this.log(`queue ${this.queueIn}: ${e.message}`),
    );
    this.qout.onReadable(
      () => this.drainOut(),
      (e) => this.log(`queue ${this.queueOut}: ${e.message}`),
    );
    this.timer = setInterval(() => this.tick(), TICK_MS);
    this.timer.unref?.();
  }

  /** Remove rules, close everything. Idempotent. */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.removeRules(true);
    if (!this.running) return;
    this.running = false;
    this.qin.close();
    this.qout.close();
    this.raw4.close();
    this.raw6.close();
    for (const c of this.packetSockets.values()) c.close();
    this.packetSockets.clear();
  }

  private chains(): [string, string, string][] {
    return [
      [`${this.table}_REQ`, 'PREROUTING', 'REQ'],
      [`${this.table}_REP`, 'FORWARD', 'REP'],
    ];
  }

  /** Remove our chains and the jumps to them (also what a crashed run left behind). */
  private removeRules(quiet: boolean): void {
    for (const bin of [IPT4, IPT6]) {
      for (const [chain, hook] of this.chains()) {
        for (const args of [
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

  private installRules(rs: Ruleset): void {
    for (const [bin, rules] of [
      [IPT4 + '-restore', rs.v4],
      [IPT6 + '-restore', rs.v6],
    ] as [string, string[]][]) {
      const lines = ['*mangle'];
      for (const [chain] of this.chains()) lines.push(`:${chain} - [0:0]`);
      for (const r of rules) {
        const [kind, ...rest] = r.split(' ');
        lines.push(`-A ${this.table}_${kind} ${rest.join(' ')}`);
      }
      lines.push('COMMIT', '');
      run(this.netns, bin, ['-w', '--noflush'], lines.join('\n'));
      for (const [chain, hook] of this.chains()) {
        const bin1 = bin.replace('-restore', '');
        try {
          run(this.netns, bin1, ['-w', '-t', 'mangle', '-C', hook, '-j', chain]);
        } catch {
          run(this.netns, bin1, ['-w', '-t', 'mangle', '-I', hook, '-j', chain]);
        }
      }
    }
  }

  /**
   * The configuration changed: resolve what the new dests need (tunnel source
   * addresses, DR next-hop MACs) and replace the rules atomically.
   */
  async configChanged(): Promise<void> {
    if (!this.running) return;
    for (const s of this.engine.services) {
      for (const d of s.dests) {
        if (d.fwd === CONN_F_TUNNEL) await this.resolveTunnelSource(d);
        if (d.fwd === CONN_F_DROUTE) await this.resolveL2(d);
      }
    }
    this.installRules(buildRuleset(this.engine, this.queueIn, this.queueOut));
  }

  private async routeGet(
    af: AddressFamily,
    addr: string,
  ): Promise<{ dev: string; gateway?: string; prefsrc?: string }> {
    const out = await runAsync(this.netns, 'ip', [
      '-j',
      af === 6 ? '-6' : '-4',
      'route',
      'get',
      addr,
    ]);
    const r = (JSON.parse(out) as { dev: string; gateway?: string; prefsrc?: string }[])[0];
    return r;
  }

  private async resolveTunnelSource(d: Dest): Promise<void> {
    const rip = formatAddr(d.af, d.addr);
    if (this.tunSrc.has(rip)) return;
    try {
      const r = await this.routeGet(d.af, rip);
      if (r.prefsrc) {
        const w = new Uint32Array(4);
        if (d.af === 4) {
          const p = r.prefsrc.split('.').map(Number);
          w[0] = ((p[0] << 24) | (p[1] << 16) | (p[2] << 8) | p[3]) >>> 0;
        } else {
          const { parseAddr } = await import('../engine/addr.js');
          w.set(parseAddr(r.prefsrc)!.words);
        }
        this.tunSrc.set(rip, w);
      }
    } catch (e) {
      this.log(`no route to tunnel real server ${rip}: ${(e as Error).message}`);
    }
  }

  /** Find the egress interface and the MAC of a DR real server (probing ARP/ND if needed). */
  private async resolveL2(d: Dest): Promise<void> {
    if (this.l2.has(d.id)) return;
    const rip = formatAddr(d.af, d.addr);
    try {
      const r = await this.routeGet(d.af, rip);
      const hop = r.gateway ?? rip;
      let mac: string | undefined;
      for (let i = 0; i < 30 && !mac; i++) {
        const out = await runAsync(this.netns, 'ip', [
          '-j',
          d.af === 6 ? '-6' : '-4',
          'neigh',
          'show',
          'to',
          hop,
          'dev',
          r.dev,
        ]);
        const n = (JSON.parse(out || '[]') as { lladdr?: string; state?: string[] }[]).find(
          (x) => x.lladdr && !(x.state ?? []).includes('FAILED'),
        );
        mac = n?.lladdr;
        if (!mac) {
          await this.probe(d.af, hop);
          await new Promise((res) => setTimeout(res, 100));
        }
      }
      if (!mac) throw new Error(`no link-layer address for ${hop} on ${r.dev}`);
      const macBytes = Uint8Array.from(mac.split(':').map((x) => parseInt(x, 16)));
      const ifindex = this.inNs(() => loadNative().ifIndex(r.dev));
      let chan = this.packetSockets.get(ifindex);
      if (!chan) {
        chan = this.inNs(() =>
          openPacketSocket({ ifindex, protocol: 0, dgram: true, ifname: r.dev }),
        );
        this.packetSockets.set(ifindex, chan);
      }
      this.l2.set(d.id, { ifindex, mac: macWords(macBytes), chan });
    } catch (e) {
      this.log(`DR real server ${rip} unreachable at layer 2: ${(e as Error).message}`);
    }
  }

  /** Trigger neighbour resolution by sending one UDP datagram to the discard port. */
  private probe(af: AddressFamily, addr: string): Promise<void> {
    if (this.netns)
      return runAsync(this.netns, 'ping', [
        af === 6 ? '-6' : '-4',
        '-c',
        '1',
        '-W',
        '1',
        addr,
      ]).then(
        () => undefined,
        () => undefined,
      );
    return new Promise((resolve) => {
      const s = createSocket(af === 6 ? 'udp6' : 'udp4');
      s.send(Buffer.alloc(0), 9, addr, () => {
        s.close();
        resolve();
      });
    });
  }

  private tick(): void {
    const now = Date.now();
    if (now - this.lastMem >= 1000) {
      this.lastMem = now;
      try {
        const m = /MemAvailable:\s+(\d+) kB/.exec(readFileSync('/proc/meminfo', 'utf8'));
        if (m) this.availMem = Math.floor(Number(m[1]) / 4);
      } catch {
        /* keep the last figure */
      }
    }
    this.engine.tick(now, this.availMem);
  }

  // ---------------------------------------------------------------------------
  // Packet loops: one JS entry per wake-up, many packets per batch

  private drainIn(): void {
    const eng = this.engine;
    const rx = this.rxIn;
    for (let rounds = 0; rounds < 8; rounds++) {
      const n = this.qin.read(rx, BATCH_PKTS);
      if (n <= 0) return;
      const now = Date.now();
      const m = rx.meta;
      const vm = this.vIn.meta;
      let spill = RX_BYTES;
      let n4 = 0;
      let n6 = 0;
      let nl2 = 0;
      for (let i = 0; i < n; i++) {
        const b = i * META_STRIDE;
        const off = m[b + M_OFF];
        const len = m[b + M_LEN];
        const id = m[b + M_NFQ_ID];
        const mark = m[b + M_NFQ_MARK];
        const info = m[b + M_NFQ_INFO_QUEUE] & 0xffff;
        const flags = info & NFQ_SKB_CSUMNOTREADY ? 0 : PKT_CSUM_OK;
        // room to grow: up to the next packet (the bytes between are netlink headers
        // already parsed into meta); headroom: our own message's headers
        const next = i + 1 < n ? m[b + META_STRIDE + M_OFF] : RX_BYTES;
        const head = off - (i > 0 ? m[b - META_STRIDE + M_OFF] + m[b - META_STRIDE + M_LEN] : 0);
        const v = eng.in(this.bufIn, off, len, now, mark >>> 0, flags, next - off, head);
        let verdict = NF_ACCEPT;
        if (v === V_FORWARD || v === V_REPLY) {
          verdict = NF_DROP; // stolen: we transmit it ourselves
          const r = eng.result;
          let o = r.off;
          if (r.buf !== this.bufIn) {
            if (spill + r.len > this.bufIn.length) {
              this.count('spill-full');
              setVerdict(this.vIn, i, this.queueIn, id, NF_DROP);
              continue;
            }
            this.bufIn.set(r.buf.subarray(r.off, r.off + r.len), spill);
            o = spill;
            spill += (r.len + 7) & ~7;
          }
          if (v === V_FORWARD && r.method === CONN_F_DROUTE) {
            const hop = this.l2.get(r.dest);
            if (!hop) {
              this.count('dr-unresolved');
            } else {
              const t = nl2++ * META_STRIDE;
              const tm = this.txL2.meta;
              tm[t + M_OFF] = o;
              tm[t + M_LEN] = r.len;
              tm[t + M_PKT_MAC_HI] = hop.mac[0];
              tm[t + M_PKT_MAC_LO] = hop.mac[1];
              tm[t + M_PKT_PROTO] = r.af === 4 ? ETH_P_IP : ETH_P_IPV6;
              tm[t + 5] = hop.ifindex;
              tm[t + M_ERR] = 0;
            }
          } else if (r.af === 4 && this.bufIn[o] >> 4 === 4) {
            const t = n4++ * META_STRIDE;
            const tm = this.tx4.meta;
            tm[t + M_OFF] = o;
            tm[t + M_LEN] = r.len;
            tm[t + M_RAW_ADDR] = r.nextHop[0] | 0;
            tm[t + M_ERR] = 0;
          } else {
            const t = n6++ * META_STRIDE;
            const tm = this.tx6.meta;
            tm[t + M_OFF] = o;
            tm[t + M_LEN] = r.len;
            for (let k = 0; k < 4; k++) tm[t + M_RAW_ADDR + k] = r.nextHop[k] | 0;
            tm[t + M_ERR] = 0;
          }
        } else if (v === V_DROP) {
          verdict = NF_DROP;
        } else if (v === V_LOCAL || v === V_ACCEPT) {
          verdict = NF_ACCEPT;
        }
        setVerdict(this.vIn, i, this.queueIn, id, verdict);
      }
      void vm;
      if (n4) this.send(this.raw4, this.tx4, n4);
      if (n6) this.send(this.raw6, this.tx6, n6);
      if (nl2) this.sendL2(nl2);
      this.qin.write(this.vIn, n);
      if (n < BATCH_PKTS) return;
    }
  }

  private drainOut(): void {
    const eng = this.engine;
    const rx = this.rxOut;
    for (let rounds = 0; rounds < 8; rounds++) {
      const n = this.qout.read(rx, BATCH_PKTS);
      if (n <= 0) return;
      const now = Date.now();
      const m = rx.meta;
      let spill = RX_BYTES;
      let n4 = 0;
      let n6 = 0;
      for (let i = 0; i < n; i++) {
        const b = i * META_STRIDE;
        const off = m[b + M_OFF];
        const len = m[b + M_LEN];
        const id = m[b + M_NFQ_ID];
        const mark = m[b + M_NFQ_MARK];
        const next = i + 1 < n ? m[b + META_STRIDE + M_OFF] : RX_BYTES;
        const v = eng.out(this.bufOut, off, len, now, mark >>> 0, PKT_CSUM_OK, next - off);
        const r = eng.result;
        if (v === V_FORWARD) {
          setVerdict(this.vOut, i, this.queueOut, id, NF_ACCEPT, r.off, r.len);
        } else if (v === V_REPLY) {
          if (spill + r.len <= this.bufOut.length) {
            this.bufOut.set(r.buf.subarray(r.off, r.off + r.len), spill);
            const tx = r.af === 4 ? this.tx4 : this.tx6;
            const t = (r.af === 4 ? n4++ : n6++) * META_STRIDE;
            tx.meta[t + M_OFF] = spill;
            tx.meta[t + M_LEN] = r.len;
            for (let k = 0; k < (r.af === 4 ? 1 : 4); k++)
              tx.meta[t + M_RAW_ADDR + k] = r.nextHop[k] | 0;
            spill += (r.len + 7) & ~7;
          }
          setVerdict(this.vOut, i, this.queueOut, id, NF_DROP);
        } else {
          setVerdict(this.vOut, i, this.queueOut, id, v === V_DROP ? NF_DROP : NF_ACCEPT);
        }
      }
      if (n4) this.send(this.raw4, { ...this.tx4, buf: this.bufOut }, n4);
      if (n6) this.send(this.raw6, { ...this.tx6, buf: this.bufOut }, n6);
      this.qout.write(this.vOut, n);
      if (n < BATCH_PKTS) return;
    }
  }

  private send(chan: PacketChannel, batch: Batch, count: number): void {
    let done = 0;
    try {
      done = chan.write(batch, count);
    } catch (e) {
      this.count((e as Error).message);
      return;
    }
    if (done < count) this.count('tx-would-block', count - done);
    for (let i = 0; i < done; i++) {
      const err = batch.meta[i * META_STRIDE + M_ERR];
      if (err !== 0) this.count(`tx-errno-${err}`);
    }
  }

  private sendL2(count: number): void {
    // group by interface: frames for one interface go out in one batch
    const tm = this.txL2.meta;
    for (const [ifindex, chan] of this.packetSockets) {
      let k = 0;
      const sub = this.tx6; // reuse as a scratch batch (tx6 was already sent)
      for (let i = 0; i < count; i++) {
        const t = i * META_STRIDE;
        if (tm[t + 5] !== ifindex) continue;
        sub.meta.set(tm.subarray(t, t + META_STRIDE), k * META_STRIDE);
        k++;
      }
      if (k) this.send(chan, sub, k);
    }
  }

  private count(what: string, n = 1): void {
    const before = this.txErrors.get(what) ?? 0;
    this.txErrors.set(what, before + n);
    if (before === 0) this.log(`transmit fault: ${what}`);
  }
}

export { CONN_F_BYPASS, CONN_F_MASQ };
