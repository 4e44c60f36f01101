/**
 * The director: runs the engine on live packets (issue "Real data plane").
 *
 * Over 600 lines: it wires every part (queues, steering, SYN device, fast path,
 * hand-over descriptors), each of which lives in its own file.
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
 * The parts, one file each: ruleset.ts (the queue rules), steer.ts (the tc filters and
 * TUN devices), hops.ts with nexthop.ts and replyroute.ts (next hops of real servers
 * and of replies), xmit.ts (transmit batches and sockets), drain.ts (the queue drain
 * loop, both directions), tun.ts (the TUN reader). This file wires them.
 *
 * Everything installed (the iptables chains named after the instance in the mangle
 * table and their jumps, the tc filters at priorities queueIn/queueIn+1 and the clsact
 * qdiscs they needed, the two persistent TUN devices) is removed by a clean stop
 * ({@link Director.stop}). A restart or hand-over ({@link Director.park}) and a crash
 * leave them in place, failing closed (the queue rules have no bypass, a TUN without a
 * reader drops), and the next start adopts them.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { Engine, type EngineOptions } from '../engine/engine.js';
import { CONN_F_DROUTE, CONN_F_MASQ, CONN_F_TUNNEL } from '../engine/constants.js';
import { formatAddr } from '../engine/addr.js';
import type { Dest } from '../engine/service.js';
import { drainQueue } from './drain.js';
import { Fastpath, type FastpathOff } from './fastpath.js';
import { SynCookies } from './syncookie.js';
import { TunnelDevices } from './tunneldev.js';
import { NEIGH_REFRESH_MS, NextHops, ROUTE_EVERY } from './hops.js';
import {
  loadNative,
  openNfQueue,
  openRawSocket,
  uringUnavailable,
  type PacketChannel,
} from './native.js';
import { IPPROTO_RAW } from './native-meta.js';
import { adoptNfQueue } from './native-fds.js';
import { interfaceIndex, withNetns } from './native-if.js';
import { ReplyRoutes } from './replyroute.js';
import { buildRuleset, capturedServices, heldDests, IPT4, IPT6, QueueRules } from './ruleset.js';
import { Steering, steerNames, type SteerNames } from './steer.js';
import { MAX_SHARDS, shardSkipDev, shardSteerNames, type SteerPart } from './steer-share.js';
import { TunReader } from './tun.js';
import { Transmit, type TxState } from './xmit.js';

export { buildRuleset, type QueueNumbers, type Ruleset } from './ruleset.js';

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
  /**
   * Forward established flows in the kernel (a tc BPF program and a flow map the
   * director fills; fastpath.ts); needs steering. Default on unless the environment
   * says `TSVS_FASTPATH=0`. Falls back to the steering with one log line when the
   * program cannot be built or the kernel refuses it.
   */
  fastpath?: boolean;
  /**
   * One worker of several (daemon/workers.ts): its steering filters take only its share
   * of the flows (steer.ts SteerPart). Worker 0 is the daemon's own director and keeps
   * the netfilter queues; the others (`id` ≥ 1) steer alone, with devices and filter
   * priorities of their own ({@link shardSteerNames}). No fast path with several.
   */
  shard?: SteerPart;
  /**
   * Answer the SYNs of services under the NAT SYN proxy in the kernel (bpf/syncookie.c,
   * syncookie.ts); needs steering. Default on unless the environment says
   * `TSVS_SYNCOOKIE=0`; falls back to the engine's path with one log line.
   */
  kernelCookies?: boolean;
  /** Engine to drive (default: a new one). */
  engine?: Engine;
  engineOptions?: EngineOptions;
  /** Log one line (faults, rule changes). */
  log?: (line: string) => void;
}

/** One netfilter queue and the direction its packets go. */
interface Queue {
  num: number;
  chan: PacketChannel;
  st: TxState;
}

const TICK_MS = 100;
/**
 * A netfilter queue's socket buffer: while nobody reads (a hand-over, a restart with
 * the descriptor store) the kernel holds queued packets as far as it reaches.
 */
const NFQ_RCVBUF = 32 * 1024 * 1024;
/** Batches of SYNs read per wake-up of the SYN device (known flows first). */
const SYN_ROUNDS = 8;
/** Earliest neighbour re-read after a NAT reply found no client-side next hop. */
const REPLY_MISS_REFRESH_MS = 500;

/**
 * Runs an engine on live packets: owns the queues, the steering devices, the rules,
 * the sockets and the next hops (see the module comment), and wires the parts.
 */
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
  private timer: NodeJS.Timeout | undefined;
  private lastMem = 0;
  private lastNeigh = 0;
  private slowTicks = 0;
  private lastReplyRefresh = 0;
  private availMem = Number.MAX_SAFE_INTEGER;
  private running = false;
  private readonly steerWanted: boolean;
  readonly steer: SteerNames;
  /** Link-layer next hops towards clients, for NAT replies sent by the director. */
  readonly replyRoutes = new ReplyRoutes();
  private readonly rules: QueueRules;
  private readonly steering: Steering;
  private readonly hops: NextHops;
  private readonly x: Transmit;
  private readonly tun: TunReader;
  private readonly fpWanted: boolean;
  /** The established-flow fast path (off unless loaded at start). */
  readonly fastpath: Fastpath;
  /** This director's share of the flows when there are several workers (null: all). */
  readonly shard: SteerPart | null;
  /** SYNs of services under the NAT SYN proxy answered in the kernel (syncookie.ts). */
  readonly synCookies: SynCookies;
  private readonly scWanted: boolean;
  /** Trashed dests the capture and next hops were last built with (ruleset.ts heldDests). */
  private held: Dest[] = [];
  /** Descriptors to attach instead of opening (see adoptDescriptors), by name. */
  private readonly adopt = new Map<string, number>();
  private reholding = false;
  /** Configuration changes are applied one after another. */
  private changing: Promise<void> = Promise.resolve();
  /** Tunnel interfaces by ifindex, for `ignore_tunneled` (tunneldev.ts). */
  readonly tunnelDevs: TunnelDevices;

  constructor(opts: DirectorOptions = {}) {
    this.name = opts.name ?? 'main';
    this.netns = opts.netns;
    this.table = `TSVS_${this.name.replace(/[^A-Za-z0-9_]/g, '_')}`.slice(0, 24);
    this.queueIn = opts.queueIn ?? 7100;
    this.queueOut = opts.queueOut ?? 7101;
    const top = Math.max(this.queueIn, this.queueOut);
    this.queueInPlain = opts.queueInPlain ?? top + 1;
    this.queueOutPlain = opts.queueOutPlain ?? top + 2;
    const log = (this.log = opts.log ?? ((l) => process.stderr.write(`tsvs: ${l}\n`)));
    this.steerWanted = opts.steer ?? process.env.TSVS_STEER !== '0';
    this.shard = opts.shard && opts.shard.count > 1 ? opts.shard : null;
    this.steer = this.shard?.id
      ? shardSteerNames(this.name, this.queueIn, this.shard.id)
      : steerNames(this.name, this.queueIn);
    const inNs = <T>(fn: () => T): T => (this.netns ? withNetns(this.netns, fn) : fn());
    this.engine =
      opts.engine ??
      new Engine({
        ...opts.engineOptions,
        tunnelSource: (af, rip) => this.hops.tunSrc.get(formatAddr(af, rip)) ?? null,
      });
    this.x = new Transmit(this.engine, inNs, log);
    this.tun = new TunReader(this.x, this.replyRoutes);
    this.fpWanted = !this.shard && (opts.fastpath ?? process.env.TSVS_FASTPATH !== '0');
    this.fastpath = new Fastpath({
      engine: this.engine,
      x: this.x,
      rr: this.replyRoutes,
      name: this.name,
      netns: this.netns,
      log,
    });
    if (!this.fpWanted)
      this.fastpath.setOff(
        'disabled',
        this.shard ? 'several data-plane workers (--workers)' : '--no-fastpath or TSVS_FASTPATH=0',
      );
    // with several workers an ACK may reach another worker's engine (other keys)
    this.scWanted = !this.shard && (opts.kernelCookies ?? process.env.TSVS_SYNCOOKIE !== '0');
    this.synCookies = new SynCookies({
      engine: this.engine,
      name: this.name,
      netns: this.netns,
      log,
    });
    this.tunnelDevs = new TunnelDevices(this.netns, log);
    // with workers, what any of them hands back skips the queues (`+`: iptables' prefix)
    this.rules = new QueueRules(
      this.netns,
      this.table,
      this.shard ? shardSkipDev(this.name) : this.steer.tunIn,
      log,
    );
    this.steering = new Steering(
      this.steer,
      this.netns,
      inNs,
      log,
      () => this.hops.refreshReplyRoutes(true),
      () => {
        this.x.tunIn = null;
        this.fastOff('no_steering', 'steering turned off after a tc filter failed');
        this.synOff('steering turned off');
      },
    );
    this.steering.part = this.shard;
    this.steering.fastFailed = (why) => {
      log(`fast path off (established flows go through the daemon): ${why}`);
      this.fastOff('refused', why);
    };
    this.steering.synFailed = (why) =>
      this.synCookies.off(`SYN cookies in the kernel off (SYNs go to the daemon): ${why}`);
    this.hops = new NextHops({
      netns: this.netns,
      inNs,
      log,
      running: () => this.running,
      replies: () => this.steering.on,
      l2For: (dev) => this.x.l2For(dev),
      hopByDest: this.x.hopByDest,
      replyRoutes: this.replyRoutes,
    });
  }

  /** Packets the director could not transmit, by errno text. */
  get txErrors(): Map<string, number> {
    return this.x.txErrors;
  }

  /** Packets read from the steering devices (requests, replies), for tests and stats. */
  get steered(): { in: number; out: number } {
    return this.tun.steered;
  }

  /**
   * Packets the kernel dropped before the engine saw them, by queue: the steering TUN
   * devices' tx_dropped (their queue was full) and our netfilter queues' queue_dropped
   * + user_dropped (/proc/net/netfilter/nfnetlink_queue). Read when asked (metrics).
   */
  get captureDrops(): Map<string, number> {
    const out = new Map<string, number>();
    const read = (): void => {
      const devs = new Set([this.steer.tunIn, this.steer.tunOut, this.steer.tunSyn]);
      try {
        // per network namespace (unlike /sys/class/net): iface: rx×8 then tx bytes packets errs drop
        for (const line of readFileSync('/proc/net/dev', 'utf8').split('\n')) {
          const i = line.indexOf(':');
          if (i < 0 || !devs.has(line.slice(0, i).trim())) continue;
          const f = line
            .slice(i + 1)
            .trim()
            .split(/\s+/)
            .map(Number);
          out.set(line.slice(0, i).trim(), f[11] || 0);
        }
        const ours = new Set([this.queueIn, this.queueOut, this.queueInPlain, this.queueOutPlain]);
        for (const line of readFileSync('/proc/net/netfilter/nfnetlink_queue', 'utf8').split(
          '\n',
        )) {
          const f = line.trim().split(/\s+/).map(Number);
          if (f.length >= 7 && ours.has(f[0])) out.set(`nfqueue-${f[0]}`, f[5] + f[6]);
        }
      } catch {
        // a file that is not there (no queue bound yet): nothing counted from it
      }
    };
    if (this.netns) withNetns(this.netns, read);
    else read();
    return out;
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

  /** A worker other than the first: steering alone, the queues are the first's. */
  private get steerOnly(): boolean {
    return this.shard !== null && this.shard.id > 0;
  }

  /**
   * Removes the devices and filters of workers numbered `from` and up that an earlier
   * run with more workers left (a crash, a restart with fewer): their filters would
   * redirect a share of the flows into devices nobody reads.
   */
  removeShards(from: number): void {
    for (let id = Math.max(1, from); id < MAX_SHARDS; id++) {
      const names = shardSteerNames(this.name, this.queueIn, id);
      let there = false;
      try {
        this.inNs(() => interfaceIndex(names.tunIn));
        there = true;
      } catch {
        /* not there */
      }
      if (!there) continue;
      new Steering(
        names,
        this.netns,
        (fn) => this.inNs(fn),
        this.log,
        () => Promise.resolve(),
        () => undefined,
      ).destroy();
    }
  }

  private inNs<T>(fn: () => T): T {
    return this.netns ? withNetns(this.netns, fn) : fn();
  }

  /**
   * Open the queues and sockets, install the rules, start the timers.
   *
   * What an earlier daemon left in place (a restart, a hand-over, a crash: the chains,
   * the tc filters, the persistent TUN devices) is adopted, not removed first: packets
   * keep being dropped until the queues and devices are open here, never handed to the
   * local stack. The rules and filters are then replaced by the current ones.
   *
   * `beforeAttach` runs once the slow preparation (next hops) is done, right before the
   * queues and devices are opened and read: the engine's state must be restored there,
   * so the first packet read already finds its connection. Packets are read from then
   * on, while the rules are being replaced.
   */
  async start(beforeAttach?: () => void | Promise<void>): Promise<void> {
    Director.preflight();
    if (!this.steerOnly) this.removeShards(this.shard?.count ?? 1);
    // filters of an earlier steered run would redirect into devices nobody reads
    if (!this.steerWanted) this.steering.destroy();
    this.running = true;
    let resolved: Awaited<ReturnType<NextHops['update']>>;
    try {
      resolved = await this.resolve();
      // before the first packet asks for its input device (and before a hand-over)
      this.tunnelDevs.refresh();
      await beforeAttach?.();
      this.attach();
    } catch (e) {
      this.running = false;
      throw e;
    }
    // what the capture held (a restart, a hand-over) is read before anything slow
    await new Promise((r) => setImmediate(r));
    // the restored state's trashed real servers with conns keep hops and capture
    if (this.heldChanged()) resolved = await this.resolve();
    if (!this.steering.tunIn) this.fastpath.setOff('no_steering', 'the tc steering is off');
    else if (this.fpWanted && (await this.fastpath.load())) {
      this.steering.fastProg = this.fastpath.progPath;
      this.tun.fp = this.fastpath;
    }
    if (this.scWanted && this.steering.tunIn && (await this.synCookies.load()))
      this.steering.synProg = this.synCookies.wanted ? this.synCookies.progPath : null;
    await this.steering.configure();
    await this.install(resolved);
    this.lastNeigh = Date.now();
    this.timer = setInterval(() => this.tick(), TICK_MS);
    this.timer.unref?.();
  }

  /** Opens the queues, sockets and steering devices and starts reading them. */
  private attach(): void {
    const x = this.x;
    this.inNs(() => {
      const open = (num: number, gso: boolean, st: TxState): void => {
        // a descriptor still bound (hand-over, descriptor store) holds what came meanwhile
        const fd = this.adopt.get(`nfq-${num}`);
        this.adopt.delete(`nfq-${num}`);
        const chan =
          fd !== undefined
            ? adoptNfQueue(fd, num)
            : openNfQueue({ queue: num, gso, failOpen: false, maxLen: 8192, rcvBuf: NFQ_RCVBUF });
        this.queues.push({ num, chan, st });
      };
      try {
        if (!this.steerOnly) {
          open(this.queueIn, true, x.txIn);
          open(this.queueOut, true, x.txOut);
          open(this.queueInPlain, false, x.txIn);
          open(this.queueOutPlain, false, x.txOut);
        }
        x.raw4 = openRawSocket({ family: 4, protocol: IPPROTO_RAW, hdrIncl: true });
        x.raw6 = openRawSocket({ family: 6, protocol: IPPROTO_RAW, hdrIncl: true });
      } catch (e) {
        for (const q of this.queues) q.chan.close();
        this.queues = [];
        throw e;
      }
    });
    x.raw4?.setBuffers(0, 8 * 1024 * 1024);
    x.raw6?.setBuffers(0, 8 * 1024 * 1024);
    if (this.steerWanted) {
      const tin = this.adopt.get(`tun-${this.steer.tunIn}`);
      const tout = this.adopt.get(`tun-${this.steer.tunOut}`);
      const tsyn = this.adopt.get(`tun-${this.steer.tunSyn}`);
      this.steering.open(
        tin !== undefined && tout !== undefined ? { in: tin, out: tout, syn: tsyn } : undefined,
      );
      const { tunIn: si, tunOut: so, tunSyn: ss } = this.steering;
      for (const [k, fd] of [
        [`tun-${this.steer.tunIn}`, tin],
        [`tun-${this.steer.tunOut}`, tout],
        [`tun-${this.steer.tunSyn}`, tsyn],
      ] as const)
        if (fd !== undefined && (si?.fd === fd || so?.fd === fd || ss?.fd === fd))
          this.adopt.delete(k);
    }
    // what was handed over and is not used (another configuration): closed
    for (const fd of this.adopt.values()) loadNative().close(fd);
    this.adopt.clear();
    x.tunIn = this.steering.tunIn;
    for (const q of this.queues) {
      const { num, chan, st } = q;
      chan.onReadable(
        () => drainQueue(x, st, chan, num, this.tunnelDevs),
        (e) => this.log(`queue ${num}: ${e.message}`),
      );
    }
    const { tunIn, tunOut } = this.steering;
    if (tunIn && tunOut) {
      this.steering.watchLinks(() => {
        void this.tunnelDevs.refreshLater();
        void this.applySteering();
      });
      // many TUN reads/writes per system call (docs/dataplane.md, "Batched TUN I/O")
      if (process.env.TSVS_URING !== '0' && !(tunIn.useUring() && tunOut.useUring()))
        this.log(`io_uring unavailable, one read() per packet: ${uringUnavailable()}`);
      tunIn.onReadable(
        () => this.tun.drain(tunIn, x.txIn),
        (e) => this.log(`${this.steer.tunIn}: ${e.message}`),
      );
      tunOut.onReadable(
        () => this.tun.drain(tunOut, x.txOut),
        (e) => this.log(`${this.steer.tunOut}: ${e.message}`),
      );
      const tunSyn = this.steering.tunSyn;
      if (tunSyn)
        tunSyn.onReadable(
          () => {
            // known flows first: a batch of what waits on the other devices before each
            // batch of SYNs, a bounded number of those per wake-up (the rest waits for
            // the next turn of the event loop; what the SYN device's queue cannot hold
            // is dropped there, counted)
            for (let k = 0; k < SYN_ROUNDS; k++) {
              this.tun.drain(tunIn, x.txIn, 1);
              this.tun.drain(tunOut, x.txOut, 1);
              this.tun.drain(tunSyn, x.txIn, 1);
              if (!tunSyn.more) break;
            }
          },
          (e) => this.log(`${this.steer.tunSyn}: ${e.message}`),
        );
    }
  }

  /**
   * The capture's descriptors by name (`nfq-<queue>`, `tun-<device>`): what a successor
   * copies (hand-over) and the service manager keeps across a restart
   * (daemon/fdstore.ts). While one of them stays open, the kernel holds what it
   * captures (a queue up to its length and socket buffer, a TUN device up to its
   * txqueuelen) instead of dropping it. After {@link park}(true): the kept ones.
   */
  descriptors(): { name: string; fd: number }[] {
    if (!this.running) return [...this.adopt].map(([name, fd]) => ({ name, fd }));
    const out = this.queues.map((q) => ({ name: `nfq-${q.num}`, fd: q.chan.fd }));
    const { tunIn, tunOut, tunSyn } = this.steering;
    if (tunIn && tunOut)
      for (const dev of [tunIn, tunOut, tunSyn])
        if (dev) out.push({ name: `tun-${dev.name}`, fd: dev.fd });
    return out;
  }

  /**
   * Descriptors to use instead of opening new ones at the next {@link start} (names as
   * {@link descriptors} gives them); what the start does not use is closed.
   */
  adoptDescriptors(fds: Iterable<{ name: string; fd: number }>): void {
    for (const { name, fd } of fds) {
      const old = this.adopt.get(name);
      if (old !== undefined && old !== fd) loadNative().close(old);
      this.adopt.set(name, fd);
    }
  }

  /** Closes the descriptors {@link park}(true) kept (nobody will read them). */
  releaseKept(): void {
    for (const fd of this.adopt.values()) loadNative().close(fd);
    this.adopt.clear();
  }

  /**
   * The fast path goes off: its flows are folded back and go through the daemon.
   * `unmount` false (park) leaves its file system to the next start, which replaces it.
   */
  private fastOff(state: FastpathOff, reason: string, unmount = true): void {
    this.tun.fp = null;
    this.steering.fastProg = null;
    this.fastpath.unload(unmount);
    this.fastpath.setOff(state, reason);
  }

  /** The kernel SYN cookies go off with the steering (parked, or steering turned off). */
  private synOff(why = ''): void {
    this.steering.synProg = null;
    if (why && this.synCookies.on)
      this.synCookies.off(`SYN cookies in the kernel off (SYNs go to the daemon): ${why}`);
    else this.synCookies.unload();
  }

  /** The kernel SYN-cookie program follows the services it answers (attached while any). */
  private synCookiesFollow(): void {
    if (!this.synCookies.on) return;
    const want = this.synCookies.wanted ? this.synCookies.progPath : null;
    if (want === this.steering.synProg) return;
    this.steering.synProg = want;
    void this.applySteering();
  }

  /** Remove rules and devices, close everything (a clean stop). Idempotent. */
  stop(): void {
    this.park();
    this.releaseKept();
    this.removeRules(true);
    this.steering.destroy();
    // the other workers' devices too (also for `--stop-clean` after a crash)
    if (!this.steerOnly) this.removeShards(1);
    // also what a crashed run left mounted
    this.fastpath.unload();
    this.synCookies.unload();
  }

  /**
   * Stop reading and close everything, but leave the rules, filters and persistent
   * devices in place (a restart or a hand-over; see {@link start}): until the next
   * daemon opens them, the kernel drops what they capture. Idempotent.
   */
  park(keep = false): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (!this.running) return;
    // counts folded into the engine before its state is saved; the program stays
    // attached with an empty map until the next start replaces it
    this.fastOff('stopped', 'parked (stop, restart or hand-over)', false);
    this.synOff();
    this.running = false;
    for (const q of this.queues)
      if (keep) {
        q.chan.stopPolling();
        this.adopt.set(`nfq-${q.num}`, q.chan.fd);
      } else q.chan.close();
    this.queues = [];
    this.steering.close(keep ? (dev) => this.adopt.set(`tun-${dev.name}`, dev.fd) : undefined);
    this.x.tunIn = null;
    this.x.close();
    this.hops.clear();
  }

  /** Remove our filters, chains and the jumps to them (also what a crashed run left behind). */
  private removeRules(quiet: boolean): void {
    this.steering.remove();
    if (!this.steerOnly) this.rules.remove(quiet);
  }

  /**
   * The configuration changed: resolve what the new dests need (tunnel source
   * addresses, link-layer next hops of NAT and DR real servers) and replace the rules
   * atomically.
   */
  configChanged(): Promise<void> {
    // dests removed or quiesced: their flows leave the fast path at once (and next
    // hops changed, once installed)
    this.fastpath.check();
    const p = this.changing.then(async () => {
      if (this.running) {
        this.synCookies.sync();
        this.synCookiesFollow();
        await this.install(await this.resolve());
      }
      this.fastpath.check();
    });
    this.changing = p.catch(() => undefined);
    return p;
  }

  /**
   * A trashed dest's last connection went, or a restored or edited trash holds other
   * dests than the capture was built with: rebuild (control path, from the tick).
   */
  private heldChanged(): boolean {
    const now = heldDests(this.engine);
    return now.length !== this.held.length || now.some((d, i) => d !== this.held[i]);
  }

  /** Next hops and tunnel sources the configured dests need (the slow part of a change). */
  private resolve(): ReturnType<NextHops['update']> {
    const tun: Dest[] = [];
    const l2: Dest[] = [];
    // trashed dests still in use keep their next hop (their conns carry on)
    this.held = heldDests(this.engine);
    for (const s of capturedServices(this.engine))
      for (const d of s.dests) {
        if (d.fwd === CONN_F_TUNNEL) tun.push(d);
        else if (d.fwd === CONN_F_DROUTE || d.fwd === CONN_F_MASQ) l2.push(d);
      }
    return this.hops.update(l2, tun);
  }

  /** Replace the rules and filters with those of the current configuration. */
  private async install({
    tunnelSources,
    nat,
  }: Awaited<ReturnType<NextHops['update']>>): Promise<void> {
    if (!this.running) return;
    if (!this.steerOnly)
      await this.rules.install(
        buildRuleset(
          this.engine,
          {
            inGso: this.queueIn,
            outGso: this.queueOut,
            inPlain: this.queueInPlain,
            outPlain: this.queueOutPlain,
          },
          undefined,
          tunnelSources,
        ),
      );
    await this.applySteering();
    // routes or rules may have changed with the configuration (policy routing...)
    if (this.steering.on) void this.hops.refreshReplyRoutes(true);
    this.hops.resolveNatLater(nat);
  }

  /** For the log: how packets are captured. */
  get captureDescription(): string {
    return this.steering.on
      ? `tc steering into ${this.steer.tunIn}/${this.steer.tunOut} in front of the queues` +
          (this.fastpath.on
            ? ', established TCP and UDP flows forwarded in the kernel (tc BPF)'
            : '')
      : 'netfilter queues only';
  }

  private applySteering(): Promise<void> {
    return this.running ? this.steering.apply(this.engine) : Promise.resolve();
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
      void this.hops.refreshHops();
      this.lastReplyRefresh = now;
      this.tun.replyMiss = false;
      void this.hops.refreshReplyRoutes(withRoutes);
      if (withRoutes) {
        void this.tunnelDevs.refreshLater();
        void this.applySteering();
      }
    } else if (this.tun.replyMiss && now - this.lastReplyRefresh >= REPLY_MISS_REFRESH_MS) {
      // a client the neighbour snapshot did not know: the kernel forwarded its replies
      // (and resolved it); pick its entry up soon rather than at the next refresh
      this.lastReplyRefresh = now;
      this.tun.replyMiss = false;
      void this.hops.refreshReplyRoutes(false);
    }
    this.fastpath.tick(now);
    if (this.synCookies.tick(now)) this.synCookiesFollow();
    this.engine.tick(now, this.availMem);
    if (!this.reholding && this.heldChanged()) {
      this.reholding = true;
      void this.configChanged()
        .catch((e: Error) => this.log(`trashed real servers: ${e.message}`))
        .finally(() => (this.reholding = false));
    }
  }
}
