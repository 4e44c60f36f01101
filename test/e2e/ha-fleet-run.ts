/**
 * The fleet lab of test/e2e/ha-fleet.test.ts and bench:e2e's `ha` section
 * (docs/scale-out.md, examples/fleet/): three tsvs directors in DR mode behind a router
 * doing ECMP — FRR (zebra + bgpd) with `maximum-paths` and the kernel's L4 multipath
 * hash of the 5-tuple (fib_multipath_hash_policy=3) and BFD — BIRD on each director announcing the VIP,
 * `tsvs status --ready VIP --watch` enabling and disabling BIRD's static route, and
 * scheduler `mh` with `mh-port` and `sloppy_tcp=1` on every director, so a flow that ECMP
 * moves to another director goes on to the same real server.
 *
 *   client ── rt (FRR, ECMP) ── br ──┬── d1, d2, d3 (BIRD, tsvs: VIP on lo)
 *   10.212.0.10    10.212.1.1        └── rs1, rs2 (VIP on lo, replies via rt)
 *
 * {@link FleetLab.event} breaks d3 one way (only its tsvs killed, every real server of its
 * VIP down, the whole director dead) and brings it back, measuring both.
 */
import { join } from 'node:path';
import { chownSync, mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { sh, waitFor, TSVS, TSVSADM } from './harness.js';
import {
  HaLab,
  addNamespace,
  allFlowing,
  ip,
  plug,
  run,
  since,
  type Flows,
  type Proc,
} from './ha-lab.js';
import { echoServerCode, type FlowReport } from './ha-flows.js';

const VIP = '10.212.9.100';
const PORT = 9000;
const FRR = '/usr/lib/frr';

function idOf(flag: '-u' | '-g'): number {
  try {
    return Number(execFileSync('id', [flag, 'frr'], { encoding: 'utf8' }).trim());
  } catch {
    return -1;
  }
}
const frrUid = idOf('-u');
const frrGid = idOf('-g');

/** Why FRR or BIRD cannot run here, or null. */
export async function fleetMissing(): Promise<string | null> {
  if ((await sh(null, `${FRR}/bgpd`, ['--version'])).code !== 0 || frrUid < 0)
    return 'FRR is not installed';
  const bird = await sh(null, 'bird', ['--version']);
  if (!/BIRD/.test(bird.stdout + bird.stderr)) return 'BIRD is not installed';
  return null;
}

/** How the lab's routing detects a dead director. */
export interface FleetOptions {
  /**
   * BFD between the router (FRR bfdd) and the directors (BIRD's bfd protocol), 100 ms
   * intervals × 3: a dead director's session, and its route, go in about 0.3 s instead
   * of the BGP hold time (3 s). Default true (examples/fleet).
   */
  bfd?: boolean;
}

/** FRR bfdd's configuration on the router: the profile the BGP peer group uses. */
const ROUTER_BFD = `bfd
 profile fleet
  detect-multiplier 3
  receive-interval 100
  transmit-interval 100
 exit
exit
`;

function routerBgp(P: string, bfd: boolean): string {
  return `frr defaults datacenter
hostname ${P}-rt
log stdout
router bgp 65000
 bgp router-id 10.212.1.1
 no bgp ebgp-requires-policy
 no bgp network import-check
 neighbor FLEET peer-group
 neighbor FLEET remote-as 65010
 neighbor FLEET timers 1 3
 neighbor FLEET timers connect 1
 neighbor FLEET advertisement-interval 0
${bfd ? ' neighbor FLEET bfd\n neighbor FLEET bfd profile fleet\n' : ''} bgp listen range 10.212.1.0/24 peer-group FLEET
 address-family ipv4 unicast
  maximum-paths 8
 exit-address-family
`;
}

function birdConf(n: number, bfd: boolean): string {
  return `router id 10.212.1.1${n};
protocol device { }
${bfd ? 'protocol bfd {\n  interface "eth1" { interval 100 ms; multiplier 3; };\n}\n' : ''}# the VIP, announced while tsvs is ready for it (tsvs status --ready --watch enables it)
protocol static vip {
  disabled;
  ipv4;
  route ${VIP}/32 blackhole;
}
protocol bgp up {
  local 10.212.1.1${n} as 65010;
  neighbor 10.212.1.1 as 65000;
  hold time 3;
  keepalive time 1;
  connect retry time 1;
${bfd ? '  bfd on;\n' : ''}  ipv4 { import none; export where net = ${VIP}/32; next hop self; };
}
`;
}

/** The fleet's tsvs configuration: the same on every director. */
const CONFIG = JSON.stringify({
  format: 'tsvs-config',
  version: 1,
  config: {
    services: [
      {
        af: 4,
        protocol: 6,
        addr: VIP,
        port: PORT,
        fwmark: 0,
        scheduler: 'mh',
        flags: 0x10, // mh-port
        timeout: 0,
        netmask: 4294967295,
        pe: '',
        dests: ['10.212.1.21', '10.212.1.22'].map((addr) => ({
          addr,
          port: PORT,
          fwd: 'droute',
          weight: 1,
          uThreshold: 0,
          lThreshold: 0,
          tunType: 0,
          tunPort: 0,
          tunFlags: 0,
        })),
      },
    ],
    timeouts: { tcp: 900, tcpfin: 120, udp: 300 },
    sysctl: { sloppy_tcp: '1' },
    daemons: [],
  },
});

/** The nexthops of the VIP's route in the router's kernel table. */
async function nexthops(rt: string): Promise<string[]> {
  const r = await sh(rt, 'ip', ['-4', 'route', 'show', `${VIP}/32`]);
  return [...r.stdout.matchAll(/via (10\.212\.1\.\d+)/g)].map((m) => m[1]).sort();
}

/** What one event on d3 (and d3's rejoining) measured. */
export interface FleetEvent {
  name: string;
  /** ms from the event to d3's route gone from the router, and to every flow answered again. */
  withdrawnMs: number;
  flowingMs: number;
  /** Flows through d3 before the event, and the longest a line of theirs waited (ms). */
  d3Flows: number;
  d3WaitMs: number;
  /** The longest a line of the other flows waited (ms). */
  otherWaitMs: number;
  lost: FlowReport[];
  flows: number;
  /** Survivors' flows that ECMP moved to another survivor. */
  moved: number;
  /** Rejoin: ms until the route is back, the longest wait, the flows lost. */
  backMs: number;
  rejoinWaitMs: number;
  rejoinLost: FlowReport[];
}

/** The events {@link FleetLab.event} knows. */
export type FleetEventKind = 'tsvs killed' | 'real servers down' | 'director killed';

export class FleetLab extends HaLab<'sw' | 'c' | 'rt' | 'd1' | 'd2' | 'd3' | 'r1' | 'r2'> {
  private readonly config: string;
  private readonly frrDir: string;
  private readonly d: Record<number, { tsvs: Proc; bird: Proc; watch: Proc }> = {};
  flows: Flows | undefined;

  private constructor(
    prefix: string,
    readonly bfd: boolean,
  ) {
    super(prefix, ['sw', 'c', 'rt', 'd1', 'd2', 'd3', 'r1', 'r2']);
    this.config = join(this.dir, 'fleet.json');
    // FRR drops to its own user: a directory of its own, outside the 0700 one
    this.frrDir = mkdtempSync(join(tmpdir(), `tsvs-${prefix}-frr-`));
    this.extraDirs.push(this.frrDir);
  }

  /** Builds the lab; resolves once the router has the three directors as ECMP nexthops. */
  static async up(prefix: string, opts: FleetOptions = {}): Promise<FleetLab> {
    return HaLab.start(new FleetLab(prefix, opts.bfd ?? true));
  }

  sock(n: number): string {
    return join(this.dir, `d${n}`, 'control.sock');
  }

  private startTsvs(n: number): Promise<Proc> {
    return this.tsvs(this.ns[`d${n}` as 'd1'], this.sock(n), n, ['-c', this.config]);
  }

  private startBird(n: number): Proc {
    const sub = join(this.dir, `d${n}`);
    const p = run(this.ns[`d${n}` as 'd1'], 'bird', [
      '-f',
      '-c',
      join(sub, 'bird.conf'),
      '-s',
      join(sub, 'bird.ctl'),
      '-P',
      join(sub, 'bird.pid'),
    ]);
    return this.track(p);
  }

  /** `tsvs status --ready VIP --watch`: enables BIRD's static VIP route while ready. */
  private startWatch(n: number): Proc {
    const birdc = `birdc -s ${join(this.dir, `d${n}`, 'bird.ctl')}`;
    const p = run(this.ns[`d${n}` as 'd1'], process.execPath, [
      TSVS,
      'status',
      '--ready',
      '--control',
      this.sock(n),
      '--watch',
      '0.3',
      '--on-ready',
      `${birdc} enable vip`,
      '--on-not-ready',
      `${birdc} disable vip`,
      VIP,
    ]);
    return this.track(p);
  }

  private async startDirector(n: number): Promise<void> {
    const tsvs = await this.startTsvs(n);
    this.d[n] = { tsvs, bird: this.startBird(n), watch: this.startWatch(n) };
  }

  protected async build(): Promise<void> {
    await this.switchWith(this.ns.sw, ['br1']);
    await addNamespace(this.ns.c);
    await addNamespace(this.ns.rt, [
      'net.ipv4.ip_forward=1',
      // the 5-tuple of the packet (policy 3, fields 0x37), as a hardware router hashes:
      // policy 1 uses an L4 hash the packet already carries — between namespaces the
      // client socket's own, which TCP draws anew at every retransmission timeout, so
      // a flow would change director at each one (docs/scale-out.md)
      'net.ipv4.fib_multipath_hash_policy=3',
      'net.ipv4.fib_multipath_hash_fields=0x0037',
      'net.ipv4.conf.all.rp_filter=0',
    ]);
    await ip(
      'link',
      'add',
      'eth0',
      'netns',
      this.ns.c,
      'type',
      'veth',
      'peer',
      'name',
      'eth0',
      'netns',
      this.ns.rt,
    );
    await ip('-n', this.ns.c, 'addr', 'add', '10.212.0.10/24', 'dev', 'eth0');
    await ip('-n', this.ns.c, 'link', 'set', 'eth0', 'up');
    await ip('-n', this.ns.c, 'route', 'add', 'default', 'via', '10.212.0.1');
    await ip('-n', this.ns.rt, 'addr', 'add', '10.212.0.1/24', 'dev', 'eth0');
    await ip('-n', this.ns.rt, 'link', 'set', 'eth0', 'up');
    await plug(this.ns.sw, 'br1', 'fl-rt', this.ns.rt, 'eth1', ['10.212.1.1/24']);
    for (const n of [1, 2, 3]) {
      const ns = this.ns[`d${n}` as 'd1'];
      await addNamespace(ns, ['net.ipv4.conf.all.rp_filter=0']);
      await plug(this.ns.sw, 'br1', `fl-d${n}`, ns, 'eth1', [`10.212.1.1${n}/24`]);
      await ip('-n', ns, 'addr', 'add', `${VIP}/32`, 'dev', 'lo');
      await ip('-n', ns, 'route', 'add', 'default', 'via', '10.212.1.1');
      mkdirSync(join(this.dir, `d${n}`), { recursive: true });
      writeFileSync(join(this.dir, `d${n}`, 'bird.conf'), birdConf(n, this.bfd));
    }
    for (const n of [1, 2]) {
      const ns = this.ns[`r${n}` as 'r1'];
      await addNamespace(ns, [
        'net.ipv4.conf.all.arp_ignore=1',
        'net.ipv4.conf.all.arp_announce=2',
        'net.ipv4.conf.all.rp_filter=0',
      ]);
      await plug(this.ns.sw, 'br1', `fl-r${n}`, ns, 'eth1', [`10.212.1.2${n}/24`]);
      await ip('-n', ns, 'addr', 'add', `${VIP}/32`, 'dev', 'lo');
      await ip('-n', ns, 'route', 'add', 'default', 'via', '10.212.1.1');
      this.track(run(ns, process.execPath, ['-e', echoServerCode(`rs${n}`, PORT)]));
    }
    writeFileSync(this.config, CONFIG);
    // FRR on the router: its own pid files and sockets in the test's directory
    // (FRR drops to its own user: a directory of its own, outside the test's 0700 one)
    const frr = this.frrDir;
    writeFileSync(join(frr, 'zebra.conf'), `hostname ${this.prefix}-rt\n`);
    writeFileSync(join(frr, 'bgpd.conf'), routerBgp(this.prefix, this.bfd));
    writeFileSync(join(frr, 'bfdd.conf'), ROUTER_BFD);
    chownSync(frr, frrUid, frrGid);
    const common = ['-z', join(frr, 'zserv.api'), '--vty_socket', frr, '-u', 'frr', '-g', 'frr'];
    this.track(
      run(this.ns.rt, `${FRR}/zebra`, [
        '-f',
        join(frr, 'zebra.conf'),
        '-i',
        join(frr, 'zebra.pid'),
        '-P',
        '0',
        ...common,
      ]),
    );
    await waitFor(
      'zebra to listen',
      10_000,
      async () => (await sh(null, 'test', ['-S', join(frr, 'zserv.api')])).code === 0,
    );
    if (this.bfd)
      this.track(
        run(this.ns.rt, `${FRR}/bfdd`, [
          '-f',
          join(frr, 'bfdd.conf'),
          '-i',
          join(frr, 'bfdd.pid'),
          '--bfdctl',
          join(frr, 'bfdd.sock'),
          '-P',
          '0',
          ...common,
        ]),
      );
    this.track(
      run(this.ns.rt, `${FRR}/bgpd`, [
        '-f',
        join(frr, 'bgpd.conf'),
        '-i',
        join(frr, 'bgpd.pid'),
        '-P',
        '0',
        ...common,
      ]),
    );
    for (const n of [1, 2, 3]) await this.startDirector(n);
    await waitFor(
      'three ECMP nexthops for the VIP on the router',
      40_000,
      async () => (await nexthops(this.ns.rt)).length === 3,
    );
  }

  /** Opens the long-lived flows; returns how many go through each director. */
  async open(n = 300): Promise<Map<number, number>> {
    this.flows = await this.openFlows(this.ns.c, {
      host: VIP,
      port: PORT,
      flows: n,
      intervalMs: 300,
    });
    await allFlowing(this.flows, `${n} flows through the fleet`, 30_000);
    const spread = new Map<number, number>();
    for (const d of (await this.ownerOf()).values()) spread.set(d, (spread.get(d) ?? 0) + 1);
    return spread;
  }

  /**
   * The director each flow goes through now (by client port), as the router's own
   * ECMP hash picks it: `ip route get` with the flow's ports on its inbound interface.
   */
  async ownerOf(): Promise<Map<number, number>> {
    const ports = (await this.flows!.report()).map((f) => f.port);
    const q = ports
      .map((p) => `route get ${VIP} from 10.212.0.10 iif eth0 ipproto tcp sport ${p} dport ${PORT}`)
      .join('\n');
    const r = await sh(this.ns.rt, 'ip', ['-batch', '-'], { input: q + '\n' });
    const via = [...r.stdout.matchAll(/^\S+ from \S+ (?:via 10\.212\.1\.1(\d)|.*)/gm)].map((m) =>
      m[1] ? Number(m[1]) : 0,
    );
    return new Map(ports.map((p, i) => [p, via[i] ?? 0]));
  }

  /** Sets the weight of both real servers on d3 (as its health checks would). */
  private async weights(w: number): Promise<void> {
    for (const rs of ['10.212.1.21', '10.212.1.22']) {
      const r = await sh(this.ns.d3, 'env', [
        `TSVS_CONTROL=${this.sock(3)}`,
        process.execPath,
        TSVSADM,
        '-e',
        '-t',
        `${VIP}:${PORT}`,
        '-r',
        `${rs}:${PORT}`,
        '-g',
        '-w',
        String(w),
      ]);
      if (r.code !== 0) throw new Error(`tsvsadm -e: ${r.stderr}`);
    }
  }

  /**
   * Drops (or lets again) every frame to and from d3 at the switch (nftables, bridge):
   * a dead machine. Not at d3 itself: its tc programs (steering, the fast path) run
   * before netfilter and outlive tsvs, so a d3 that only dropped in iptables would go
   * on forwarding established flows.
   */
  private async cut(on: boolean): Promise<void> {
    if (!on) {
      await sh(this.ns.sw, 'nft', ['delete', 'table', 'bridge', 'flcut']);
      return;
    }
    const rules = `table bridge flcut {
  chain forward {
    type filter hook forward priority 0; policy accept;
    iifname "fl-d3" drop
    oifname "fl-d3" drop
  }
}
`;
    const r = await sh(this.ns.sw, 'nft', ['-f', '-'], { input: rules });
    if (r.code !== 0) throw new Error(`nft: ${r.stderr}`);
  }

  /** Whether the router's BFD session with `peer` is up (FRR: `show bfd peers`). */
  async bfdUp(peer: string): Promise<boolean> {
    const r = await sh(this.ns.rt, 'vtysh', [
      '--vty_socket',
      this.frrDir,
      '-c',
      'show bfd peers json',
    ]);
    try {
      const peers = JSON.parse(r.stdout) as { peer?: string; status?: string }[];
      return peers.some((p) => p.peer === peer && p.status === 'up');
    } catch {
      return false;
    }
  }

  /** Breaks d3 as `kind` says, then brings it back; measures both. */
  async event(kind: FleetEventKind): Promise<FleetEvent> {
    const d3 = this.d[3];
    const steps: Record<FleetEventKind, [() => Promise<void>, () => Promise<void>]> = {
      // only tsvs dies; BIRD would announce on — the watcher withdraws
      'tsvs killed': [
        async () => {
          d3.tsvs.proc.kill('SIGKILL');
          await d3.tsvs.exited;
        },
        async () => {
          d3.tsvs = await this.startTsvs(3);
        },
      ],
      // every real server of the VIP down on d3
      'real servers down': [() => this.weights(0), () => this.weights(1)],
      // the whole director dies: first it stops sending and receiving (a dead machine
      // closes no BGP session: the router waits for its hold time; its switch port stays
      // up, so the switch floods nothing to the others), then tsvs, BIRD, the watcher
      'director killed': [
        async () => {
          await this.cut(true);
          for (const p of [d3.watch, d3.bird, d3.tsvs]) p.proc.kill('SIGKILL');
          await Promise.all([d3.watch.exited, d3.bird.exited, d3.tsvs.exited]);
        },
        async () => {
          await this.cut(false);
          await this.startDirector(3);
        },
      ],
    };
    const [down, up] = steps[kind];
    // a dead director is found by BFD once its session is up: after a rejoin that takes
    // a few seconds (a BFD session that is not up sends once a second, RFC 5880 6.8.3)
    if (kind === 'director killed' && this.bfd)
      await waitFor("the router's BFD session with d3 up", 30_000, () => this.bfdUp('10.212.1.13'));
    const f = this.flows!;
    const before = await this.ownerOf();
    const onD3 = new Set([...before].filter(([, n]) => n === 3).map(([p]) => p));
    await f.mark();
    const t0 = Date.now();
    await down();
    await waitFor(
      `${kind}: d3's route withdrawn`,
      20_000,
      async () => !(await nexthops(this.ns.rt)).includes('10.212.1.13'),
    );
    const withdrawnMs = since(t0);
    const r1 = await allFlowing(f, `${kind}: every flow answered again`, 40_000);
    const flowingMs = since(t0);
    // a survivor's flow that goes through another survivor now: ECMP moved it
    const after = await this.ownerOf();
    const moved = [...before].filter(
      ([p, n]) => n !== 3 && after.has(p) && after.get(p) !== n,
    ).length;
    await f.mark();
    const t1 = Date.now();
    await up();
    await waitFor(
      `${kind}: d3's route back`,
      40_000,
      async () => (await nexthops(this.ns.rt)).length === 3,
    );
    const backMs = since(t1);
    const r2 = await allFlowing(f, `${kind}: every flow answered after the rejoin`, 40_000);
    return {
      name: kind,
      withdrawnMs,
      flowingMs,
      d3Flows: onD3.size,
      d3WaitMs: Math.max(0, ...r1.filter((x) => onD3.has(x.port)).map((x) => x.waitMs)),
      otherWaitMs: Math.max(0, ...r1.filter((x) => !onD3.has(x.port)).map((x) => x.waitMs)),
      lost: r1.filter((x) => x.lost),
      flows: r1.length,
      moved,
      backMs,
      rejoinWaitMs: Math.max(0, ...r2.map((x) => x.waitMs)),
      rejoinLost: r2.filter((x) => x.lost),
    };
  }
}
