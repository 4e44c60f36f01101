/**
 * The director: runs the engine on live packets (issue "Real data plane").
 *
 * Capture has two layers (docs/dataplane.md has the measurements behind both):
 *
 * - **Steering (the fast path)**: tc u32 filters on every interface's ingress redirect
 *   (act_mirred) requests to a virtual service and NAT replies from a real server into
 *   two TUN devices with the virtio-net header (`tsvsi-<name>`, `tsvso-<name>`; see
 *   steer.ts). No netlink message per packet and no verdict: 1.2x new connections and
 *   1.3x kept-alive requests per second over the queue alone, bulk alike. What the
 *   engine leaves to the kernel (no connection, local delivery, NAT to a next hop not
 *   resolved yet, a reply whose client-side next hop is unknown) is written back into
 *   `tsvsi-<name>`, which the kernel receives as from an interface (it has a link-local
 *   address, loose rp_filter and accept_local for that; our queue rules skip it).
 * - **The netfilter queue** at the kernel's own hook points stays behind the filters as
 *   the complete capture (spec §1.1): client packets for a virtual service queued
 *   before routing (PREROUTING, so the VIP works whether or not it is a local address,
 *   and DR/TUN work with IP forwarding off), firewall-mark services at INPUT, NAT
 *   replies at FORWARD. It carries what the filters leave: IPv4 with options or
 *   fragmented, IPv6 with extension headers, ICMP, fwmark services (and every request
 *   while one exists: the operator's MARK rules run after tc), services with a tunnel
 *   real server, and everything when tc, cls_u32 or act_mirred is missing or
 *   `--no-steer` is given. Requests are "stolen" (verdict DROP) and transmitted here;
 *   replies are rewritten in place and handed back with the verdict.
 *
 * Bulk speed comes from GSO:
 *
 * - The TUN devices take TSO/checksum offloads and the TCP queues NFQA_CFG_F_GSO: a
 *   64 KB super-packet (and its pending, CHECKSUM_PARTIAL checksum) reaches user space
 *   whole, is rewritten once, and NAT and DR requests leave whole through a SOCK_RAW
 *   packet socket with the virtio-net header on the egress interface (Ethernet header
 *   written here: the interface's MAC, the next hop's MAC from the kernel's neighbour
 *   table, resolved on configuration changes and refreshed every few seconds). Steered
 *   NAT replies leave the same way towards the client-side next hop (ReplyRoutes, a
 *   routing and neighbour snapshot), with the TTL step forwarding would take.
 * - A reply handed back through the queue's verdict with a replaced payload loses the
 *   kernel's checksum state (CHECKSUM_NONE), so it gets its L4 checksum computed in
 *   full here when it was partial or a GSO super-packet (≈ 14 µs per 64 KB).
 * - UDP, ICMP, and every service with a tunnel (TUN) real server are queued on
 *   separate queues without F_GSO: the kernel segments and finishes checksums before
 *   queueing. UDP GSO super-packets could not be re-segmented faithfully (their
 *   segment size is the sender's choice and the queue does not report it), and an
 *   IPIP-wrapped super-packet cannot be described by the virtio-net header; tunnelled
 *   packets leave through the raw IP socket, MTU-sized.
 * - Bypass and engine-built ICMP errors go through raw IP sockets (the kernel routes
 *   them), with partial checksums completed first.
 *
 * Everything installed (the iptables chains named after the instance in the mangle
 * table and their jumps, the tc filters at priorities queueIn/queueIn+1 and the clsact
 * qdiscs they needed, the two TUN devices) is removed on stop, and removed again on the
 * next start after a crash.
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createSocket } from 'node:dgram';
import {
  Engine,
  PKT_CSUM_OK,
  PKT_CSUM_PARTIAL,
  PKT_GSO,
  type EngineOptions,
} from '../engine/engine.js';
import {
  CONN_F_BYPASS,
  CONN_F_DROUTE,
  CONN_F_MASQ,
  CONN_F_TUNNEL,
  type AddressFamily,
} from '../engine/constants.js';
import { formatAddr, parseAddr } from '../engine/addr.js';
import type { Dest } from '../engine/service.js';
import { V_DROP, V_FORWARD, V_REPLY } from '../engine/drop.js';
import { PacketView } from '../wire/packet.js';
import { ipv4HeaderChecksum, l4ChecksumFill, l4PartialFill } from '../wire/checksum.js';
import {
  IPPROTO_RAW,
  META_STRIDE,
  M_ERR,
  M_LEN,
  M_NFQ_ID,
  M_NFQ_INFO_QUEUE,
  M_NFQ_MARK,
  M_NFQ_PROTO_HOOK,
  NF_INET_LOCAL_IN,
  M_OFF,
  M_RAW_ADDR,
  NF_ACCEPT,
  NF_DROP,
  NFQ_SKB_CSUMNOTREADY,
  NFQ_SKB_CSUM_NOTVERIFIED,
  NFQ_SKB_GSO,
  loadNative,
  openNfQueue,
  openPacketSocket,
  openRawSocket,
  openTun,
  setVerdict,
  TUN_F_CSUM,
  TUN_F_TSO4,
  TUN_F_TSO6,
  TUN_F_TSO_ECN,
  withNetns,
  type Batch,
  type PacketChannel,
} from './native.js';
import { parseMac, parseNeigh, parseRouteGet, usableLladdr, type RouteInfo } from './nexthop.js';
import {
  L2_HEADROOM,
  VNET_F_NEEDS_CSUM,
  VNET_HDR_BYTES,
  writeL2Header,
  writeVnetHeader,
} from './vnet.js';
import { ReplyRoutes, type ReplyHop } from './replyroute.js';
import {
  steerBatch,
  steerDevices,
  steerMatches,
  steerNames,
  type LinkJson,
  type SteerNames,
} from './steer.js';

export interface DirectorOptions {
  /** Instance name: names the iptables chains (`TSVS_<name>_REQ/_REP`); default "main". */
  name?: string;
  /** Network namespace (name under /run/netns) to run in; default: the current one. */
  netns?: string;
  /** Queue numbers for TCP requests and TCP NAT replies (queued with GSO). */
  queueIn?: number;
  queueOut?: number;
  /**
   * Queue numbers for everything else (UDP, ICMP, tunnel services), queued without
   * GSO; default: the two numbers after the larger of queueIn and queueOut.
   */
  queueInPlain?: number;
  queueOutPlain?: number;
  /**
   * Steer requests and NAT replies into TUN devices with tc filters (the fast path,
   * in front of the queues); default on unless the environment says `TSVS_STEER=0`.
   * Falls back to the queues alone when tc, cls_u32 or act_mirred is missing.
   */
  steer?: boolean;
  /** Engine to drive (default: a new one). */
  engine?: Engine;
  engineOptions?: EngineOptions;
  /** Log one line (faults, rule changes). */
  log?: (line: string) => void;
}

/** One packet socket (per egress interface) and the frames queued for it in a batch. */
interface L2Tx {
  ifindex: number;
  dev: string;
  chan: PacketChannel;
  /** Frames to send, offsets into the request buffer. */
  batch: Batch;
  n: number;
  /** Frames to send from the reply buffer (NAT replies sent to the client side). */
  batchOut: Batch;
  nOut: number;
}

/** Where NAT/DR packets for one real server address go at layer 2. */
interface L2Hop {
  af: AddressFamily;
  /** The real server's address (normalised text). */
  rip: string;
  /** Route to it; null until looked up. */
  route: RouteInfo | null;
  /** Neighbour whose MAC the frame is sent to: the gateway or the RIP itself. */
  neighbour: string;
  /** Egress MTU (route metric or the device's). */
  mtu: number;
  /** Destination then source MAC (12 bytes); valid when `ready`. */
  eth: Uint8Array;
  ready: boolean;
  tx: L2Tx | null;
  /** Some dest uses it for DR (no kernel fallback). */
  dr: boolean;
}

/** An address as text in one canonical form (iproute2 and formatAddr may differ). */
function normAddr(text: string): string {
  const a = parseAddr(text);
  return a ? formatAddr(a.af, a.words) : text;
}

const IPT4 = 'iptables-legacy';
const IPT6 = 'ip6tables-legacy';
/** Receive area per direction: each queue read reserves a whole 64 KB slot. */
const RX_BYTES = 16 * 1024 * 1024;
const SPILL_BYTES = 1024 * 1024;
const BATCH_PKTS = 256;
const TICK_MS = 100;
/** virtio_net_hdr flag: the checksum was verified (CHECKSUM_UNNECESSARY). */
const VNET_F_DATA_VALID = 2;
/** Neighbour refresh period; routes are looked up again every ROUTE_EVERY refreshes. */
const NEIGH_REFRESH_MS = 5000;
const ROUTE_EVERY = 6;
/** Earliest neighbour re-read after a NAT reply found no client-side next hop. */
const REPLY_MISS_REFRESH_MS = 500;

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

function runAsync(
  netns: string | undefined,
  cmd: string,
  args: string[],
  input?: string,
): Promise<string> {
  const argv = netns ? ['netns', 'exec', netns, cmd, ...args] : args;
  const bin = netns ? 'ip' : cmd;
  return new Promise((resolve, reject) => {
    const child = execFile(bin, argv, { encoding: 'utf8', timeout: 10_000 }, (err, out) =>
      err ? reject(Object.assign(err, { stdout: out })) : resolve(out),
    );
    if (input !== undefined) child.stdin?.end(input);
  });
}

/** IPv4 TTL − 1 with the header checksum updated incrementally (RFC 1624). */
function decTtl4(buf: Uint8Array, o: number): void {
  buf[o + 8]--;
  // the TTL is the high byte of its 16-bit word: the sum drops by 0x0100
  let c = ((buf[o + 10] << 8) | buf[o + 11]) + 0x0100;
  c = (c & 0xffff) + (c >>> 16);
  buf[o + 10] = c >>> 8;
  buf[o + 11] = c & 0xff;
}

/** Like {@link run}, ignoring failure (best-effort clean-up). */
function runQuiet(netns: string | undefined, cmd: string, args: string[]): void {
  try {
    run(netns, cmd, args);
  } catch {
    /* best effort */
  }
}

/**
 * Runs `CMD -force -batch -` with these lines and reports which lines failed (from
 * "Command failed -:N"; 0-based), without throwing on them.
 */
function runBatch(
  netns: string | undefined,
  cmd: string,
  lines: string[],
): Promise<{ stderr: string; failedLines: number[] }> {
  const argv = netns
    ? ['netns', 'exec', netns, cmd, '-force', '-batch', '-']
    : ['-force', '-batch', '-'];
  const bin = netns ? 'ip' : cmd;
  return new Promise((resolve) => {
    const child = execFile(bin, argv, { encoding: 'utf8', timeout: 30_000 }, (_err, _out, err) => {
      const failedLines: number[] = [];
      for (const m of (err ?? '').matchAll(/Command failed [^:\n]*:(\d+)/g))
        failedLines.push(Number(m[1]) - 1);
      resolve({ stderr: err ?? '', failedLines });
    });
    child.stdin?.end(lines.join('\n') + '\n');
  });
}

/** Address given to the steering TUN, so the reverse-path check can pass (see openSteering). */
const STEER_ADDR = '169.254.253.253';

/** iptables-restore input per family for the chains that queue what IPVS would see. */
export interface Ruleset {
  v4: string[];
  v6: string[];
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
 * TCP goes to the GSO queues, except for services with a tunnel real server; UDP and
 * ICMP go to the plain queues (see the module comment). Passing two numbers puts
 * everything on those two queues.
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
  const to = (n: number): string => `-j NFQUEUE --queue-num ${n} --queue-bypass`;
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
    const tunnel = s.dests.some((d) => d.fwd === CONN_F_TUNNEL);
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
    for (const d of s.dests) {
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

/**
 * One direction's transmit state while a batch is handled: the buffer the batch was
 * read into (its front) and engine output moved out of the way (its spill area), and
 * the sends queued so far.
 */
interface TxState {
  buf: Uint8Array;
  /** NAT replies (engine `out`) rather than requests. */
  reply: boolean;
  /** Next free byte of the spill area. */
  spill: number;
  /** End of the bytes claimed by earlier packets of the batch. */
  low: number;
  /** Sends queued for the raw IPv4 / IPv6 sockets, and packets for the kernel (tunIn). */
  n4: number;
  n6: number;
  nk: number;
  tx4: Batch;
  tx6: Batch;
  k: Batch;
}

/** One netfilter queue and how its packets are handled. */
interface Queue {
  num: number;
  chan: PacketChannel;
  /** Requests (engine `in`) or replies (engine `out`). */
  request: boolean;
}

export class Director {
  readonly engine: Engine;
  readonly name: string;
  readonly netns: string | undefined;
  readonly table: string;
  readonly queueIn: number;
  readonly queueOut: number;
  readonly queueInPlain: number;
  readonly queueOutPlain: number;
  private readonly log: (line: string) => void;
  private queues: Queue[] = [];
  private raw4!: PacketChannel;
  private raw6!: PacketChannel;
  /** Packet sockets with the virtio-net header, one per egress interface. */
  private readonly l2tx: L2Tx[] = [];
  /** Link-layer next hops by dest id (NAT and DR real servers). */
  private readonly hopByDest = new Map<number, L2Hop>();
  /** The same hops by family/RIP text (dests with the same address share one). */
  private readonly hopByRip = new Map<string, L2Hop>();
  private readonly tunSrc = new Map<string, Uint32Array>();
  /** NAT next hops still to be resolved (in the background). */
  private readonly natPending = new Set<L2Hop>();
  private natResolving = false;
  private timer: NodeJS.Timeout | undefined;
  /** `ip monitor link`: interfaces that appear get the steering filters at once. */
  private linkMonitor: ChildProcess | null = null;
  private linkChange: NodeJS.Timeout | undefined;
  private lastMem = 0;
  private lastNeigh = 0;
  private refreshes = 0;
  private slowTicks = 0;
  /** A NAT reply found no client-side next hop since the last neighbour refresh. */
  private replyMiss = false;
  private lastReplyRefresh = 0;
  private replyRefreshing = false;
  private replyRoutesAgain = false;
  private refreshing = false;
  private availMem = Number.MAX_SAFE_INTEGER;
  private running = false;
  /** Packets the director could not transmit, by errno text. */
  readonly txErrors = new Map<string, number>();

  // steering (tc filters into two TUN devices; see steer.ts)
  private readonly steerWanted: boolean;
  readonly steer: SteerNames;
  private tunIn: PacketChannel | null = null;
  private tunOut: PacketChannel | null = null;
  /** The filters are in place (false: the queues capture alone). */
  private steering = false;
  /** Interfaces the filters were last put on, and what they matched (for change detection). */
  private steerApplied = '';
  private readonly rxTunIn: Batch;
  private readonly rxTunOut: Batch;
  /** Link-layer next hops towards clients, for NAT replies sent by the director. */
  readonly replyRoutes = new ReplyRoutes();
  /** Packets read from the steering devices (requests, replies), for tests and stats. */
  readonly steered = { in: 0, out: 0 };

  // one buffer per direction (its queues are drained one after the other): reads fill
  // the front, the spill area holds engine output that did not fit in place (tunnel
  // headers, ICMP replies) and frames moved to make room for the link-layer header
  private readonly bufIn = new Uint8Array(RX_BYTES + SPILL_BYTES);
  private readonly bufOut = new Uint8Array(RX_BYTES + SPILL_BYTES);
  private readonly rxIn: Batch;
  private readonly rxOut: Batch;
  private readonly vIn: Batch;
  private readonly vOut: Batch;
  /** Per-direction transmit state of the batch being handled. */
  private readonly txIn: TxState;
  private readonly txOut: TxState;
  /** Re-parses engine output for link-layer framing and checksum completion. */
  private readonly pv = new PacketView();

  constructor(opts: DirectorOptions = {}) {
    this.name = opts.name ?? 'main';
    this.netns = opts.netns;
    this.table = `TSVS_${this.name.replace(/[^A-Za-z0-9_]/g, '_')}`.slice(0, 24);
    this.queueIn = opts.queueIn ?? 7100;
    this.queueOut = opts.queueOut ?? 7101;
    const top = Math.max(this.queueIn, this.queueOut);
    this.queueInPlain = opts.queueInPlain ?? top + 1;
    this.queueOutPlain = opts.queueOutPlain ?? top + 2;
    this.log = opts.log ?? ((l) => process.stderr.write(`tsvs: ${l}\n`));
    this.steerWanted = opts.steer ?? process.env.TSVS_STEER !== '0';
    this.steer = steerNames(this.name, this.queueIn);
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
    this.rxIn = mk(this.bufIn.subarray(0, RX_BYTES));
    this.rxOut = mk(this.bufOut.subarray(0, RX_BYTES));
    this.vIn = mk(this.bufIn);
    this.vOut = mk(this.bufOut);
    const tx = (buf: Uint8Array, reply: boolean): TxState => ({
      buf,
      reply,
      spill: RX_BYTES,
      low: 0,
      n4: 0,
      n6: 0,
      nk: 0,
      tx4: mk(buf),
      tx6: mk(buf),
      k: mk(buf),
    });
    this.txIn = tx(this.bufIn, false);
    this.txOut = tx(this.bufOut, true);
    // (the shim leaves TUN_READ_GAP bytes in front of each packet read from a TUN)
    this.rxTunIn = mk(this.bufIn.subarray(0, RX_BYTES));
    this.rxTunOut = mk(this.bufOut.subarray(0, RX_BYTES));
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
      const open = (num: number, gso: boolean, request: boolean): void => {
        const chan = openNfQueue({ queue: num, gso, failOpen: false, maxLen: 8192 });
        this.queues.push({ num, chan, request });
      };
      try {
        open(this.queueIn, true, true);
        open(this.queueOut, true, false);
        open(this.queueInPlain, false, true);
        open(this.queueOutPlain, false, false);
        this.raw4 = openRawSocket({ family: 4, protocol: IPPROTO_RAW, hdrIncl: true });
        this.raw6 = openRawSocket({ family: 6, protocol: IPPROTO_RAW, hdrIncl: true });
      } catch (e) {
        for (const q of this.queues) q.chan.close();
        this.queues = [];
        throw e;
      }
    });
    this.raw4.setBuffers(0, 8 * 1024 * 1024);
    this.raw6.setBuffers(0, 8 * 1024 * 1024);
    if (this.steerWanted) this.openSteering();
    this.running = true;
    await this.configChanged();
    for (const q of this.queues) {
      const drain = q.request ? () => this.drainIn(q) : () => this.drainOut(q);
      q.chan.onReadable(drain, (e) => this.log(`queue ${q.num}: ${e.message}`));
    }
    if (this.tunIn && this.tunOut) {
      this.watchLinks();
      const tin = this.tunIn;
      const tout = this.tunOut;
      tin.onReadable(
        () => this.drainTun(tin, this.txIn),
        (e) => this.log(`${this.steer.tunIn}: ${e.message}`),
      );
      tout.onReadable(
        () => this.drainTun(tout, this.txOut),
        (e) => this.log(`${this.steer.tunOut}: ${e.message}`),
      );
    }
    this.lastNeigh = Date.now();
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
    for (const q of this.queues) q.chan.close();
    this.queues = [];
    this.linkMonitor?.kill();
    this.linkMonitor = null;
    if (this.linkChange) clearTimeout(this.linkChange);
    this.tunIn?.close();
    this.tunOut?.close();
    this.tunIn = this.tunOut = null;
    this.steering = false;
    this.steerApplied = '';
    this.raw4.close();
    this.raw6.close();
    for (const t of this.l2tx) t.chan.close();
    this.l2tx.length = 0;
    this.hopByDest.clear();
    this.hopByRip.clear();
    this.natPending.clear();
  }

  private chains(): [string, string, string][] {
    return [
      [`${this.table}_REQ`, 'PREROUTING', 'REQ'],
      [`${this.table}_REP`, 'FORWARD', 'REP'],
      [`${this.table}_MRK`, 'INPUT', 'MRK'],
    ];
  }

  /** The jump from a hook to one of our chains (packets handed back through the TUN skip it). */
  private jump(chain: string): string[] {
    return ['!', '-i', this.steer.tunIn, '-j', chain];
  }

  /** Remove our chains and the jumps to them (also what a crashed run left behind). */
  private removeRules(quiet: boolean): void {
    this.removeSteering();
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
          run(this.netns, bin1, ['-w', '-t', 'mangle', '-C', hook, ...this.jump(chain)]);
        } catch {
          run(this.netns, bin1, ['-w', '-t', 'mangle', '-I', hook, ...this.jump(chain)]);
        }
      }
    }
  }

  /**
   * The configuration changed: resolve what the new dests need (tunnel source
   * addresses, link-layer next hops of NAT and DR real servers) and replace the rules
   * atomically.
   */
  async configChanged(): Promise<void> {
    if (!this.running) return;
    const tun: Dest[] = [];
    const dr: L2Hop[] = [];
    const nat: L2Hop[] = [];
    const live = new Map<number, L2Hop>();
    for (const s of this.engine.services) {
      for (const d of s.dests) {
        if (d.fwd === CONN_F_TUNNEL) tun.push(d);
        else if (d.fwd === CONN_F_DROUTE || d.fwd === CONN_F_MASQ) {
          const hop = this.hopOf(d);
          live.set(d.id, hop);
          if (!hop.ready) (d.fwd === CONN_F_DROUTE ? dr : nat).push(hop);
        }
      }
    }
    await this.resolveTunnelSources(tun);
    // DR has no other way out: resolve before its rules exist
    if (dr.length) await this.resolveHops(dr, 30, true);
    this.hopByDest.clear();
    for (const [id, hop] of live) this.hopByDest.set(id, hop);
    const used = new Set(live.values());
    for (const [k, h] of this.hopByRip) if (!used.has(h)) this.hopByRip.delete(k);
    const tunnelSources = new Set<string>();
    for (const d of tun) {
      const w = d.af === 4 ? this.tunSrc.get(formatAddr(d.af, d.addr)) : undefined;
      if (w) tunnelSources.add(formatAddr(4, w));
    }
    this.installRules(
      buildRuleset(
        this.engine,
        {
          inGso: this.queueIn,
          outGso: this.queueOut,
          inPlain: this.queueInPlain,
          outPlain: this.queueOutPlain,
        },
        undefined,
        [...tunnelSources],
      ),
    );
    await this.applySteering();
    // routes or rules may have changed with the configuration (policy routing...)
    if (this.steering) void this.refreshReplyRoutes(true);
    // NAT goes through the kernel until its next hop is resolved, so that resolution
    // (which may wait for ARP/ND) runs behind the rules, not before them
    for (const h of nat) this.natPending.add(h);
    if (this.natPending.size > 0 && !this.natResolving) void this.resolveNat();
  }

  // ---------------------------------------------------------------------------
  // Steering: tc filters on every interface's ingress redirect requests and NAT
  // replies into two TUN devices (steer.ts); the queue rules stay behind them.

  /** For the log: how packets are captured. */
  get captureDescription(): string {
    return this.steering
      ? `tc steering into ${this.steer.tunIn}/${this.steer.tunOut} in front of the queues`
      : 'netfilter queues only';
  }

  /**
   * Follows interfaces appearing and going (`ip -o monitor link`, in our namespace): a
   * new interface gets the filters within 200 ms instead of at the next 30-s check.
   */
  private watchLinks(): void {
    const argv = this.netns
      ? ['netns', 'exec', this.netns, 'ip', '-o', 'monitor', 'link']
      : ['-o', 'monitor', 'link'];
    let child: ChildProcess;
    try {
      child = spawn('ip', argv, { stdio: ['ignore', 'pipe', 'ignore'] });
    } catch {
      return; // the periodic check still runs
    }
    child.on('error', () => undefined);
    child.stdout?.on('data', () => {
      if (this.linkChange) return;
      this.linkChange = setTimeout(() => {
        this.linkChange = undefined;
        void this.applySteering();
      }, 200);
    });
    child.unref();
    (child.stdout as { unref?: () => void } | null)?.unref?.();
    this.linkMonitor = child;
  }

  /** Opens and configures the two steering TUN devices; on failure steering stays off. */
  private openSteering(): void {
    const n = this.steer;
    const offload = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN;
    try {
      this.inNs(() => {
        this.tunIn = openTun({ name: n.tunIn, vnetHdrSize: VNET_HDR_BYTES, offload });
        this.tunOut = openTun({ name: n.tunOut, vnetHdrSize: VNET_HDR_BYTES, offload });
      });
      // Packets handed back through tunIn come "from" it: an address of its own lets
      // the loose reverse-path check (rp_filter 2) pass even when conf/all asks for
      // strict, and accept_local lets NAT replies whose source is now a local VIP in.
      run(
        this.netns,
        'ip',
        ['-batch', '-'],
        [
          `link set ${n.tunIn} up`,
          `link set ${n.tunOut} up`,
          `addr replace ${STEER_ADDR}/32 dev ${n.tunIn}`,
          '',
        ].join('\n'),
      );
      for (const [k, v] of [
        [`net.ipv4.conf.${n.tunIn}.rp_filter`, '2'],
        [`net.ipv4.conf.${n.tunIn}.accept_local`, '1'],
      ])
        run(this.netns, 'sysctl', ['-qw', `${k}=${v}`]);
      for (const dev of [n.tunIn, n.tunOut])
        runQuiet(this.netns, 'tc', ['qdisc', 'replace', 'dev', dev, 'root', 'noqueue']);
    } catch (e) {
      this.log(`steering off (the queues capture alone): ${(e as Error).message}`);
      this.tunIn?.close();
      this.tunOut?.close();
      this.tunIn = this.tunOut = null;
    }
  }

  /**
   * Puts the filters for the current services on every interface (again when the
   * services or the interfaces changed). A filter that cannot be added (no cls_u32 or
   * act_mirred) turns steering off: the queues then capture everything.
   */
  private async applySteering(): Promise<void> {
    if (!this.tunIn || !this.tunOut || !this.running) return;
    const m = steerMatches(this.engine);
    let links: LinkJson[];
    try {
      links = JSON.parse(await runAsync(this.netns, 'ip', ['-j', 'link', 'show'])) as LinkJson[];
    } catch (e) {
      this.log(`steering: ip link show: ${(e as Error).message}`);
      return;
    }
    const devs = steerDevices(links, this.steer);
    const key = JSON.stringify([devs, m]);
    if (key === this.steerApplied) return;
    const lines = steerBatch(this.steer, devs, m);
    const r = await runBatch(this.netns, 'tc', lines);
    const failed = r.failedLines.filter((i) => lines[i]?.startsWith('filter add'));
    if (failed.length) {
      this.log(
        `steering off (the queues capture alone): tc ${lines[failed[0]]}: ${r.stderr.trim().split('\n')[0]}`,
      );
      this.removeSteering();
      this.tunIn.close();
      this.tunOut.close();
      this.tunIn = this.tunOut = null;
      this.steering = false;
      this.steerApplied = '';
      return;
    }
    if (!this.steering) {
      this.steering = true;
      await this.refreshReplyRoutes(true);
    }
    if (m.reqOff && !this.steerApplied.includes(m.reqOff))
      this.log(`steering replies only: ${m.reqOff}`);
    this.steerApplied = key;
  }

  /**
   * Removes our filters from every interface, and the clsact qdisc where nothing else
   * is left in it (also what a crashed run left behind). Synchronous: start and stop.
   */
  private removeSteering(): void {
    let links: LinkJson[] = [];
    try {
      links = JSON.parse(run(this.netns, 'ip', ['-j', 'link', 'show'])) as LinkJson[];
    } catch {
      return;
    }
    const n = this.steer;
    for (const l of links) {
      const dev = l.ifname;
      if (!dev || l.link_type === 'loopback') continue;
      let shown: string;
      try {
        shown = run(this.netns, 'tc', ['-j', 'filter', 'show', 'dev', dev, 'ingress']);
      } catch {
        continue; // no clsact/ingress qdisc: nothing of ours
      }
      const prefs = new Set(
        (JSON.parse(shown || '[]') as { pref?: number }[]).map((f) => f.pref ?? -1),
      );
      for (const pref of [n.pref4, n.pref6])
        if (prefs.has(pref))
          runQuiet(this.netns, 'tc', [
            'filter',
            'del',
            'dev',
            dev,
            'ingress',
            'pref',
            String(pref),
          ]);
      prefs.delete(n.pref4);
      prefs.delete(n.pref6);
      if (prefs.size > 0) continue;
      let egress = '[]';
      try {
        egress = run(this.netns, 'tc', ['-j', 'filter', 'show', 'dev', dev, 'egress']);
      } catch {
        /* none */
      }
      if ((JSON.parse(egress || '[]') as unknown[]).length === 0)
        runQuiet(this.netns, 'tc', ['qdisc', 'del', 'dev', dev, 'clsact']);
    }
  }

  /** Routes, rules, links and neighbours for {@link ReplyRoutes} (control path). */
  private async refreshReplyRoutes(withRoutes: boolean): Promise<void> {
    if (!this.steering) return;
    if (this.replyRefreshing) {
      // one at a time; a route refresh asked for meanwhile runs after this one
      if (withRoutes) this.replyRoutesAgain = true;
      return;
    }
    this.replyRefreshing = true;
    try {
      if (withRoutes) {
        const links = JSON.parse(await runAsync(this.netns, 'ip', ['-j', 'link', 'show'])) as {
          ifname?: string;
          address?: string;
          mtu?: number;
          link_type?: string;
        }[];
        const info = (dev: string): { mac: Uint8Array; mtu: number; ether: boolean } | null => {
          const l = links.find((x) => x.ifname === dev);
          const mac = l?.address ? parseMac(l.address) : null;
          if (!l || !mac) return null;
          return { mac, mtu: l.mtu ?? 1500, ether: l.link_type === 'ether' };
        };
        for (const af of [4, 6] as const) {
          const fam = af === 4 ? '-4' : '-6';
          const rules = await runAsync(this.netns, 'ip', ['-j', fam, 'rule', 'show']);
          const routes = await runAsync(this.netns, 'ip', [
            '-j',
            fam,
            'route',
            'show',
            'table',
            'main',
          ]);
          // the local table: replies to one of our own addresses never leave by L2
          const local = await runAsync(this.netns, 'ip', [
            '-j',
            fam,
            'route',
            'show',
            'table',
            'local',
          ]);
          this.replyRoutes.setRoutes(af, rules, routes, info, local);
        }
      }
      this.replyRoutes.setNeighbours(await runAsync(this.netns, 'ip', ['-j', 'neigh', 'show']));
    } catch (e) {
      this.log(`reply next hops: ${(e as Error).message}`);
    } finally {
      this.replyRefreshing = false;
    }
    if (this.replyRoutesAgain) {
      this.replyRoutesAgain = false;
      await this.refreshReplyRoutes(true);
    }
  }

  /** The hop of a NAT/DR dest: shared by dests with the same address, created unresolved. */
  private hopOf(d: Dest): L2Hop {
    const rip = formatAddr(d.af, d.addr);
    const key = `${d.af}/${rip}`;
    let hop = this.hopByRip.get(key);
    if (!hop) {
      hop = {
        af: d.af,
        rip,
        route: null,
        neighbour: rip,
        mtu: 1500,
        eth: new Uint8Array(12),
        ready: false,
        tx: null,
        dr: false,
      };
      this.hopByRip.set(key, hop);
    }
    if (d.fwd === CONN_F_DROUTE) hop.dr = true;
    return hop;
  }

  /** Resolves pending NAT next hops in the background, in batches. */
  private async resolveNat(): Promise<void> {
    this.natResolving = true;
    try {
      while (this.running && this.natPending.size > 0) {
        const hops = [...this.natPending].filter(
          (h) => this.hopByRip.get(`${h.af}/${h.rip}`) === h,
        );
        this.natPending.clear();
        if (hops.length) await this.resolveHops(hops, 30, true);
      }
    } finally {
      this.natResolving = false;
    }
  }

  /**
   * `ip route get` for many addresses in one `ip -batch` process; the answers are
   * keyed by the normalised destination address.
   */
  private async routesOf(addrs: string[]): Promise<Map<string, RouteInfo>> {
    const out = new Map<string, RouteInfo>();
    if (addrs.length === 0) return out;
    const input = addrs.map((a) => `route get ${a}`).join('\n') + '\n';
    const text = await runAsync(this.netns, 'ip', ['-j', '-force', '-batch', '-'], input).catch(
      (e: Error & { stdout?: string }) => e.stdout ?? '',
    );
    for (const line of text.split('\n')) {
      if (!line.startsWith('[')) continue;
      const r = parseRouteGet(line);
      const dst = (JSON.parse(line) as { dst?: string }[])[0]?.dst;
      if (r && dst) out.set(normAddr(dst), r);
    }
    return out;
  }

  private async resolveTunnelSources(dests: Dest[]): Promise<void> {
    const todo = [...new Set(dests.map((d) => formatAddr(d.af, d.addr)))].filter(
      (a) => !this.tunSrc.has(a),
    );
    if (todo.length === 0) return;
    const routes = await this.routesOf(todo);
    for (const rip of todo) {
      const r = routes.get(normAddr(rip));
      const a = r?.prefsrc ? parseAddr(r.prefsrc) : null;
      if (a) this.tunSrc.set(rip, Uint32Array.from(a.words));
      else this.log(`no route (or no source address) to tunnel real server ${rip}`);
    }
  }

  /** The packet socket for an egress interface (opened on first use). */
  private l2For(dev: string): L2Tx {
    const ifindex = this.inNs(() => loadNative().ifIndex(dev));
    let t = this.l2tx.find((x) => x.ifindex === ifindex);
    if (!t) {
      const chan = this.inNs(() =>
        openPacketSocket({ ifindex, protocol: 0, vnetHdr: true, ifname: dev }),
      );
      chan.setBuffers(0, 8 * 1024 * 1024);
      t = {
        ifindex,
        dev,
        chan,
        batch: {
          buf: this.bufIn,
          meta: new Int32Array(BATCH_PKTS * META_STRIDE),
          capacity: BATCH_PKTS,
        },
        n: 0,
        batchOut: {
          buf: this.bufOut,
          meta: new Int32Array(BATCH_PKTS * META_STRIDE),
          capacity: BATCH_PKTS,
        },
        nOut: 0,
      };
      this.l2tx.push(t);
    }
    return t;
  }

  /**
   * Applies a route to a hop: egress device, MTU, packet socket, source MAC. A
   * changed route makes the hop wait for its (new) neighbour; a local RIP or an egress
   * device without Ethernet framing (`ether` false: tun, wireguard, ...) never gets a
   * hop: NAT then goes through the kernel.
   */
  private applyRoute(hop: L2Hop, route: RouteInfo, ether: boolean): void {
    const old = hop.route;
    const same =
      old !== null &&
      old.dev === route.dev &&
      old.gateway === route.gateway &&
      old.local === route.local;
    hop.route = route;
    if (!same) {
      if (old)
        this.log(`route to ${hop.rip} changed: dev ${route.dev} via ${route.gateway ?? '-'}`);
      else if (!route.local && !ether)
        this.log(
          `real server ${hop.rip}: ${route.dev} has no Ethernet framing, the kernel forwards to it`,
        );
      hop.neighbour = route.gateway ? normAddr(route.gateway) : hop.rip;
      hop.ready = false;
      hop.tx = null;
    }
    if (route.local || !ether) {
      hop.ready = false;
      hop.tx = null;
      return;
    }
    try {
      const devMtu = this.inNs(() => loadNative().ifMtu(route.dev));
      hop.mtu = route.mtu > 0 && route.mtu < devMtu ? route.mtu : devMtu;
      if (!same || hop.tx === null) {
        hop.eth.set(this.inNs(() => loadNative().ifHwAddr(route.dev)).subarray(0, 6), 6);
        hop.tx = this.l2For(route.dev);
      }
    } catch (e) {
      hop.ready = false;
      hop.tx = null;
      this.log(`real server ${hop.rip}: egress ${route.dev}: ${(e as Error).message}`);
    }
  }

  /** Link types by interface name (`ip -j link show`), e.g. "ether", "none", "loopback". */
  private async linkTypes(): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    try {
      const text = await runAsync(this.netns, 'ip', ['-j', 'link', 'show']);
      for (const l of JSON.parse(text) as { ifname?: string; link_type?: string }[])
        if (l.ifname) out.set(l.ifname, l.link_type ?? '');
    } catch (e) {
      this.log(`ip link show: ${(e as Error).message}`);
    }
    return out;
  }

  /**
   * Route, egress interface, MTU and next-hop MAC of NAT/DR real servers, all at once:
   * one `ip -batch` for the routes, one `ip neigh show` per try, probes (ARP/ND) for
   * what is missing, up to `tries` rounds 100 ms apart. A MAC learnt before is kept
   * when its entry is gone (our frames bypass the kernel's neighbour code, so entries
   * age out), and the neighbour is probed again. A local RIP never gets a hop: NAT
   * then goes through the kernel, DR counts a fault.
   */
  private async resolveHops(hops: L2Hop[], tries: number, withRoutes: boolean): Promise<void> {
    try {
      if (withRoutes || hops.some((h) => !h.route)) {
        const routes = await this.routesOf(hops.map((h) => h.rip));
        const links = await this.linkTypes();
        for (const h of hops) {
          const r = routes.get(normAddr(h.rip));
          if (r) this.applyRoute(h, r, (links.get(r.dev) ?? 'ether') === 'ether');
          else if (!h.route) this.log(`no route to real server ${h.rip}`);
        }
      }
      let missing: L2Hop[] = [];
      for (let i = 0; i < tries && this.running; i++) {
        const neigh = new Map<string, string>();
        for (const n of parseNeigh(await runAsync(this.netns, 'ip', ['-j', 'neigh', 'show']))) {
          const mac = usableLladdr(n);
          if (mac) neigh.set(`${normAddr(n.dst)}%${n.dev}`, mac);
        }
        missing = [];
        for (const h of hops) {
          if (!h.route || h.route.local || !h.tx) continue;
          const mac = neigh.get(`${h.neighbour}%${h.route.dev}`);
          const b = mac ? parseMac(mac) : null;
          if (b) {
            let same = h.ready;
            for (let k = 0; k < 6; k++) if (h.eth[k] !== b[k]) same = false;
            if (!same) {
              if (h.ready) this.log(`${h.neighbour} on ${h.route.dev} is now at ${mac}`);
              h.eth.set(b, 0);
            }
            h.ready = true;
          } else {
            missing.push(h);
          }
        }
        if (missing.length === 0) break;
        for (const h of missing) void this.probe(h.af, h.neighbour);
        if (i + 1 < tries) await new Promise((res) => setTimeout(res, 100));
      }
      if (tries > 1)
        for (const h of missing)
          if (!h.ready)
            this.log(
              `${h.dr ? 'DR' : 'NAT'} real server ${h.rip}: no link-layer address for ${h.neighbour} on ${h.route?.dev}` +
                (h.dr ? '' : ' (the kernel forwards its packets until it resolves)'),
            );
    } catch (e) {
      this.log(`resolving next hops: ${(e as Error).message}`);
    }
  }

  /**
   * Periodic refresh (control path): neighbour MACs every few seconds, routes every
   * ROUTE_EVERY refreshes; missing neighbours are probed.
   */
  private async refreshHops(): Promise<void> {
    if (this.refreshing || this.hopByRip.size === 0) return;
    this.refreshing = true;
    try {
      const withRoutes = this.refreshes++ % ROUTE_EVERY === ROUTE_EVERY - 1;
      await this.resolveHops([...this.hopByRip.values()], 1, withRoutes);
    } finally {
      this.refreshing = false;
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
      s.on('error', () => {
        s.close();
        resolve();
      });
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
    if (now - this.lastNeigh >= NEIGH_REFRESH_MS) {
      this.lastNeigh = now;
      const withRoutes = this.slowTicks++ % ROUTE_EVERY === ROUTE_EVERY - 1;
      void this.refreshHops();
      this.lastReplyRefresh = now;
      this.replyMiss = false;
      void this.refreshReplyRoutes(withRoutes);
      if (withRoutes) void this.applySteering();
    } else if (this.replyMiss && now - this.lastReplyRefresh >= REPLY_MISS_REFRESH_MS) {
      // a client the neighbour snapshot did not know: the kernel forwarded its replies
      // (and resolved it); pick its entry up soon rather than at the next refresh
      this.lastReplyRefresh = now;
      this.replyMiss = false;
      void this.refreshReplyRoutes(false);
    }
    this.engine.tick(now, this.availMem);
  }

  // ---------------------------------------------------------------------------
  // Packet loops: one JS entry per wake-up, many packets per batch

  /** Completes the L4 checksum of the IP packet at `buf[off..off+len)` (TCP/UDP). */
  private completeChecksum(buf: Uint8Array, off: number, len: number): void {
    const pv = this.pv;
    if (pv.parse(buf, off, len) !== 0 || pv.frag !== 0 || pv.csumOff < 0) return;
    if (pv.proto !== 6 && pv.proto !== 17) return;
    l4ChecksumFill(buf, pv.af, pv.saddrOff, pv.daddrOff, pv.proto, pv.l4off, pv.l4len);
  }

  /**
   * Prepares an engine-rewritten request for the kernel's own forwarding: undoes the
   * engine's TTL / hop-limit decrement (ip_forward takes it) and, when the checksum was
   * partial or the packet is a GSO super-packet, completes the L4 checksum (a replaced
   * payload loses the kernel's checksum state).
   */
  private kernelRoutes(buf: Uint8Array, o: number, len: number, full: boolean): void {
    if (buf[o] >> 4 === 4) {
      if (buf[o + 8] < 255) {
        buf[o + 8]++;
        ipv4HeaderChecksum(buf, o, (buf[o] & 15) * 4);
      }
    } else if (buf[o + 7] < 255) {
      buf[o + 7]++;
    }
    if (full) this.completeChecksum(buf, o, len);
  }

  /** Starts a batch in one direction's buffer. */
  private static begin(st: TxState): void {
    st.spill = RX_BYTES;
    st.low = 0;
    st.n4 = 0;
    st.n6 = 0;
    st.nk = 0;
  }

  /**
   * Where the engine's output for the packet read at `st.buf[off..off+len)` can be
   * framed: in place when there are {@link L2_HEADROOM} free bytes in front of it (above
   * what earlier packets of the batch claimed), else copied to the spill area. Returns
   * the offset of the IP packet, or -1 when the spill area is full (counted).
   */
  private place(st: TxState, off: number, len: number): number {
    const r = this.engine.result;
    const buf = st.buf;
    const o = r.off;
    const rlen = r.len;
    if (r.buf === buf && o - st.low >= L2_HEADROOM) {
      st.low = o + rlen > off + len ? o + rlen : off + len;
      return o;
    }
    if (off + len > st.low) st.low = off + len;
    const at = st.spill + L2_HEADROOM;
    if (at + rlen > buf.length) {
      this.count('spill-full');
      return -1;
    }
    if (r.buf === buf) buf.copyWithin(at, o, o + rlen);
    else buf.set(r.buf.subarray(o, o + rlen), at);
    st.spill = (at + rlen + 7) & ~7;
    return at;
  }

  /** The packet at `st.buf[off..off+len)` stays where it is (nothing framed in front). */
  private static keep(st: TxState, off: number, len: number): void {
    if (off + len > st.low) st.low = off + len;
  }

  /** Queues the IP packet at `st.buf[at..at+len)` for a raw IP socket to `r.nextHop`. */
  private queueRaw(st: TxState, at: number, len: number): void {
    const r = this.engine.result;
    const v4 = r.af === 4 && st.buf[at] >> 4 === 4;
    const tm = (v4 ? st.tx4 : st.tx6).meta;
    const t = (v4 ? st.n4++ : st.n6++) * META_STRIDE;
    tm[t + M_OFF] = at;
    tm[t + M_LEN] = len;
    for (let k = 0; k < (v4 ? 1 : 4); k++) tm[t + M_RAW_ADDR + k] = r.nextHop[k] | 0;
    tm[t + M_ERR] = 0;
  }

  /** Frames the parsed packet (`this.pv`) for `eth` and queues it on `t`. */
  private queueL2(
    st: TxState,
    t: L2Tx,
    eth: Uint8Array,
    partial: boolean,
    mtu: number,
    len: number,
  ): void {
    const f = writeL2Header(this.pv, eth, partial, mtu);
    const b = st.reply ? t.batchOut : t.batch;
    const k = (st.reply ? t.nOut++ : t.n++) * META_STRIDE;
    b.meta[k + M_OFF] = f;
    b.meta[k + M_LEN] = len + L2_HEADROOM;
    b.meta[k + M_ERR] = 0;
  }

  /**
   * Transmits an engine result for a request (V_FORWARD or V_REPLY) placed at
   * `st.buf[at..at+len)`: NAT and DR to the real server's MAC through its packet
   * socket, tunnel/bypass/ICMP through the raw sockets. Returns true when it is NAT to
   * a next hop not resolved yet (or a local RIP) and the kernel should route it, which
   * only the caller can arrange (`kernelOk`); without that it goes to the raw socket.
   */
  private sendRequest(
    st: TxState,
    v: number,
    at: number,
    len: number,
    partial: boolean,
    gso: boolean,
    kernelOk: boolean,
  ): boolean {
    const r = this.engine.result;
    const method = r.method;
    if (v === V_FORWARD && (method === CONN_F_MASQ || method === CONN_F_DROUTE)) {
      const hop = this.hopByDest.get(r.dest);
      if (hop !== undefined && hop.ready && hop.tx !== null) {
        if (this.pv.parse(st.buf, at, len) === 0)
          this.queueL2(st, hop.tx, hop.eth, partial, hop.mtu, len);
        return false;
      }
      // DR: nothing else can carry it (the VIP would route back to us)
      if (method === CONN_F_DROUTE) {
        this.count('dr-unresolved');
        return false;
      }
      if (kernelOk) return true;
    } else if (v === V_FORWARD && method === CONN_F_TUNNEL && (partial || gso)) {
      // a TCP service whose capture predates its tunnel dest: cannot be described
      this.count('tunnel-gso');
      return false;
    }
    if (partial && v === V_FORWARD) this.completeChecksum(st.buf, at, len);
    this.queueRaw(st, at, len);
    return false;
  }

  /** Copies an engine-built ICMP error (V_REPLY of `out`) to the spill area for a raw socket. */
  private sendIcmpReply(st: TxState): void {
    const r = this.engine.result;
    if (st.spill + r.len > st.buf.length) {
      this.count('spill-full');
      return;
    }
    st.buf.set(r.buf.subarray(r.off, r.off + r.len), st.spill);
    this.queueRaw(st, st.spill, r.len);
    st.spill += (r.len + 7) & ~7;
  }

  /** Sends what a batch queued: raw sockets, packet sockets, packets for the kernel. */
  private flush(st: TxState): void {
    if (st.n4) this.send(this.raw4, st.tx4, st.n4);
    if (st.n6) this.send(this.raw6, st.tx6, st.n6);
    const l2 = this.l2tx;
    for (let k = 0; k < l2.length; k++) {
      const t = l2[k];
      if (st.reply) {
        if (t.nOut > 0) this.send(t.chan, t.batchOut, t.nOut);
        t.nOut = 0;
      } else {
        if (t.n > 0) this.send(t.chan, t.batch, t.n);
        t.n = 0;
      }
    }
    if (st.nk && this.tunIn) this.send(this.tunIn, st.k, st.nk);
  }

  /** Engine flags of a queued packet from the queue's skb info. */
  private static nfqFlags(info: number): number {
    return (
      ((info & NFQ_SKB_CSUMNOTREADY) !== 0
        ? PKT_CSUM_PARTIAL
        : (info & NFQ_SKB_CSUM_NOTVERIFIED) !== 0
          ? 0
          : PKT_CSUM_OK) | ((info & NFQ_SKB_GSO) !== 0 ? PKT_GSO : 0)
    );
  }

  /** Engine flags of a packet read from a TUN from its virtio-net header flags and GSO type. */
  private static vnetFlags(vflags: number, gsoType: number): number {
    return (
      ((vflags & VNET_F_NEEDS_CSUM) !== 0
        ? PKT_CSUM_PARTIAL
        : (vflags & VNET_F_DATA_VALID) !== 0
          ? PKT_CSUM_OK
          : 0) | (gsoType !== 0 ? PKT_GSO : 0)
    );
  }

  /** Requests from a netfilter queue: the engine's `in`, a verdict for each. */
  private drainIn(q: Queue): void {
    const eng = this.engine;
    const st = this.txIn;
    const rx = this.rxIn;
    const buf = st.buf;
    const qnum = q.num;
    for (let rounds = 0; rounds < 8; rounds++) {
      const n = q.chan.read(rx, BATCH_PKTS);
      if (n <= 0) return;
      const now = Date.now();
      const m = rx.meta;
      Director.begin(st);
      for (let i = 0; i < n; i++) {
        const b = i * META_STRIDE;
        const off = m[b + M_OFF];
        const len = m[b + M_LEN];
        const id = m[b + M_NFQ_ID];
        const flags = Director.nfqFlags(m[b + M_NFQ_INFO_QUEUE] & 0xffff);
        // taken at INPUT (fwmark services): already routed, so a verdict cannot hand a
        // rewritten packet back for routing
        const routed = m[b + M_NFQ_PROTO_HOOK] >>> 16 === NF_INET_LOCAL_IN;
        const partial = (flags & PKT_CSUM_PARTIAL) !== 0;
        const gso = (flags & PKT_GSO) !== 0;
        // room to grow: up to the next packet (the bytes between are netlink headers
        // already parsed into meta); headroom: down to what earlier packets claimed,
        // less the link-layer header written in front of the result
        const next = i + 1 < n ? m[b + META_STRIDE + M_OFF] : RX_BYTES;
        const head = off - st.low - L2_HEADROOM;
        const mark = m[b + M_NFQ_MARK] >>> 0;
        const v = eng.in(buf, off, len, now, mark, flags, next - off, head > 0 ? head : 0);
        if (v === V_FORWARD || v === V_REPLY) {
          const at = this.place(st, off, len);
          const rlen = eng.result.len;
          if (at >= 0 && this.sendRequest(st, v, at, rlen, partial, gso, !routed)) {
            // NAT without a link-layer next hop: hand the rewritten packet back before
            // routing, so the kernel routes it to the RIP (NAT runs with forwarding on),
            // resolves the neighbour and segments a super-packet
            this.kernelRoutes(buf, at, rlen, partial || gso);
            setVerdict(this.vIn, i, qnum, id, NF_ACCEPT, at, rlen);
          } else {
            setVerdict(this.vIn, i, qnum, id, NF_DROP); // stolen: sent by us (or dropped)
          }
        } else {
          Director.keep(st, off, len);
          setVerdict(this.vIn, i, qnum, id, v === V_DROP ? NF_DROP : NF_ACCEPT);
        }
      }
      this.flush(st);
      q.chan.write(this.vIn, n);
      if (n < BATCH_PKTS) return;
    }
  }

  /** NAT replies from a netfilter queue: rewritten in place and handed back with the verdict. */
  private drainOut(q: Queue): void {
    const eng = this.engine;
    const st = this.txOut;
    const rx = this.rxOut;
    const buf = st.buf;
    const qnum = q.num;
    for (let rounds = 0; rounds < 8; rounds++) {
      const n = q.chan.read(rx, BATCH_PKTS);
      if (n <= 0) return;
      const now = Date.now();
      const m = rx.meta;
      Director.begin(st);
      for (let i = 0; i < n; i++) {
        const b = i * META_STRIDE;
        const off = m[b + M_OFF];
        const len = m[b + M_LEN];
        const id = m[b + M_NFQ_ID];
        const flags = Director.nfqFlags(m[b + M_NFQ_INFO_QUEUE] & 0xffff);
        const next = i + 1 < n ? m[b + META_STRIDE + M_OFF] : RX_BYTES;
        const v = eng.out(buf, off, len, now, m[b + M_NFQ_MARK] >>> 0, flags, next - off);
        const r = eng.result;
        if (v === V_FORWARD) {
          // a replaced payload leaves the kernel with CHECKSUM_NONE: the checksum
          // must be complete (for a super-packet, over all of it)
          if ((flags & (PKT_CSUM_PARTIAL | PKT_GSO)) !== 0)
            this.completeChecksum(r.buf, r.off, r.len);
          setVerdict(this.vOut, i, qnum, id, NF_ACCEPT, r.off, r.len);
        } else if (v === V_REPLY) {
          this.sendIcmpReply(st);
          setVerdict(this.vOut, i, qnum, id, NF_DROP);
        } else {
          setVerdict(this.vOut, i, qnum, id, v === V_DROP ? NF_DROP : NF_ACCEPT);
        }
      }
      this.flush(st);
      q.chan.write(this.vOut, n);
      if (n < BATCH_PKTS) return;
    }
  }

  /**
   * Writes a virtio-net header for the IP packet at `buf[o..o+len)` into the 10 bytes
   * in front of it, for handing it back to the kernel through the TUN: the pending
   * checksum (partial) and the super-packet's GSO type and segment size as read.
   */
  private tunHeader(
    buf: Uint8Array,
    o: number,
    len: number,
    partial: boolean,
    gsoType: number,
    gsoSize: number,
  ): boolean {
    const pv = this.pv;
    if (pv.parse(buf, o, len) !== 0) return false;
    const h = o - VNET_HDR_BYTES;
    const l4 = (pv.proto === 6 || pv.proto === 17) && pv.frag === 0 && pv.csumOff >= 0;
    if (gsoType !== 0 && !partial) {
      if (!l4) return false;
      l4PartialFill(buf, pv.af, pv.saddrOff, pv.daddrOff, pv.proto, pv.l4off, pv.l4len);
      partial = true;
    }
    const cs = l4 && partial ? pv.l4off - o : 0;
    const co = l4 && partial ? pv.csumOff - pv.l4off : 0;
    const hl = gsoType !== 0 ? pv.l4off - o + pv.tcpDoff : 0;
    writeVnetHeader(buf, h, l4 && partial ? VNET_F_NEEDS_CSUM : 0, gsoType, hl, gsoSize, cs, co);
    return true;
  }

  /** Queues `st.buf[from..to)` (virtio-net header + IP packet) for the kernel through tunIn. */
  private static toKernel(st: TxState, from: number, to: number): void {
    const t = st.nk++ * META_STRIDE;
    st.k.meta[t + M_OFF] = from;
    st.k.meta[t + M_LEN] = to - from;
    st.k.meta[t + M_ERR] = 0;
  }

  /**
   * Packets steered into a TUN, one direction: `in` for requests (the same decisions
   * as {@link drainIn}, without a verdict), `out` for NAT replies, which the director
   * sends to the client-side next hop ({@link ReplyRoutes}) with the forwarding step
   * the kernel would take (TTL / hop limit − 1). What is left to the kernel — no
   * connection, local delivery, NAT to a next hop not resolved yet, a reply whose next
   * hop is unknown or whose TTL runs out (the kernel sends time-exceeded) — is written
   * into tunIn, which the kernel receives as from an interface (our queue rules skip
   * it); accepted packets go as they came, their virtio-net header still in front.
   */
  private drainTun(chan: PacketChannel, st: TxState): void {
    const eng = this.engine;
    const rx = st.reply ? this.rxTunOut : this.rxTunIn;
    const buf = st.buf;
    const rr = this.replyRoutes;
    for (let rounds = 0; rounds < 8; rounds++) {
      const n = chan.read(rx, BATCH_PKTS);
      if (n <= 0) return;
      if (st.reply) this.steered.out += n;
      else this.steered.in += n;
      const now = Date.now();
      const m = rx.meta;
      Director.begin(st);
      for (let i = 0; i < n; i++) {
        const b = i * META_STRIDE;
        const h = m[b + M_OFF];
        const off = h + VNET_HDR_BYTES;
        const len = m[b + M_LEN] - VNET_HDR_BYTES;
        if (len < 20) {
          this.count('tun-short');
          continue;
        }
        const gsoType = buf[h + 1];
        const gsoSize = buf[h + 4] | (buf[h + 5] << 8);
        const flags = Director.vnetFlags(buf[h], gsoType);
        const partial = (flags & PKT_CSUM_PARTIAL) !== 0;
        const next = i + 1 < n ? m[b + META_STRIDE + M_OFF] : RX_BYTES;
        let v: number;
        if (st.reply) {
          v = eng.out(buf, off, len, now, 0, flags, next - off);
        } else {
          const head = off - st.low - L2_HEADROOM;
          v = eng.in(buf, off, len, now, 0, flags, next - off, head > 0 ? head : 0);
        }
        if (v === V_REPLY && st.reply) {
          this.sendIcmpReply(st);
          Director.keep(st, off, len);
        } else if (v === V_FORWARD || v === V_REPLY) {
          const at = this.place(st, off, len);
          if (at < 0) continue;
          const rlen = eng.result.len;
          if (!st.reply) {
            if (!this.sendRequest(st, v, at, rlen, partial, gsoType !== 0, true)) continue;
            // NAT to a next hop not resolved yet: the kernel routes it, and its
            // forwarding takes the TTL step the engine took
            this.kernelRoutes(buf, at, rlen, false);
          } else {
            const v6 = buf[at] >> 4 === 6;
            const hop: ReplyHop | null = rr.lookup(v6 ? 6 : 4, buf, at + (v6 ? 24 : 16));
            const ttl = v6 ? buf[at + 7] : buf[at + 8];
            if (hop === null) {
              if (rr.usable(v6 ? 6 : 4)) this.replyMiss = true;
            } else if (ttl > 1 && this.pv.parse(buf, at, rlen) === 0) {
              let t = hop.tx as L2Tx | null;
              if (t === null) t = hop.tx = this.l2ForQuiet(hop.dev);
              if (t !== null) {
                // the forwarding step ip_forward would have taken before FORWARD
                if (v6) buf[at + 7] = ttl - 1;
                else decTtl4(buf, at);
                this.queueL2(st, t, hop.eth, partial, hop.mtu, rlen);
                continue;
              }
            }
          }
          if (this.tunHeader(buf, at, rlen, partial, gsoType, gsoSize))
            Director.toKernel(st, at - VNET_HDR_BYTES, at + rlen);
        } else {
          if (v !== V_DROP) Director.toKernel(st, h, off + len);
          Director.keep(st, off, len);
        }
      }
      this.flush(st);
      if (n < BATCH_PKTS) return;
    }
  }

  /** {@link l2For}, or null (counted) when the interface cannot be opened. */
  private l2ForQuiet(dev: string): L2Tx | null {
    try {
      return this.l2For(dev);
    } catch (e) {
      this.count(`l2 ${dev}: ${(e as Error).message}`);
      return null;
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

  private count(what: string, n = 1): void {
    const before = this.txErrors.get(what) ?? 0;
    this.txErrors.set(what, before + n);
    if (before === 0) this.log(`transmit fault: ${what}`);
  }
}

export { CONN_F_BYPASS, CONN_F_MASQ };
