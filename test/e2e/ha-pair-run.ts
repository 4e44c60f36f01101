/**
 * The keepalived VRRP pair lab of test/e2e/ha-pair.test.ts and bench:e2e's `ha` section
 * (docs/ha.md, examples/ha/nat): keepalived 2.2 runs VRRP only (`-P`), a
 * `vrrp_sync_group` holds the client VIP and the real servers' gateway,
 * `tsvs vrrp-notify` switches the sync daemons, and `tsvs status --ready` is the group's
 * track_script (not ready: FAULT, `init_fail`).
 *
 *   NAT: client ── br1 ──┬── d1 (priority 150) ──┬── br2 ── rs1, rs2 (default via 10.211.2.1)
 *        10.211.1.10     └── d2 (priority 100) ──┘
 *        VIP 10.211.1.100 (VI_CLIENT), gateway 10.211.2.1 (VI_SERVERS), sync on br2
 *   DR:  client, d1, d2, rs1, rs2 on br1; VIP 10.211.1.100 (VI_DR, one instance), the
 *        real servers with the VIP on lo answering the client directly; sync on br1
 *
 * One {@link PairLab.round}: long-lived flows through d1; SIGKILL of d1's tsvs and
 * keepalived and its links down (the machine is gone); the flows carry on through d2;
 * more flows are opened through d2; d1 comes back with an empty table and must not take
 * the addresses back before it has learned the table from d2's sync; then it takes them
 * back (preempt) and every flow carries on. The round ends as it began: d1 MASTER.
 */
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { ControlClient } from '../../src/control/client.js';
import type { ReadyResult } from '../../src/control/protocol.js';
import { sh, waitFor, TSVS } from './harness.js';
import {
  HaLab,
  addNamespace,
  allFlowing,
  inNs,
  ip,
  keepalived,
  plug,
  run,
  since,
  type Flows,
  type Proc,
} from './ha-lab.js';
import { echoServerCode, type FlowReport } from './ha-flows.js';

export const PAIR_VIP = '10.211.1.100';
export const PAIR_PORT = 9000;
/** Each director serves /metrics here, in its own namespace. */
export const PAIR_METRICS = 9177;

/** What one round measured. */
export interface PairRound {
  /** Fail-over: ms from the SIGKILL to VRRP MASTER on d2, and to every flow answered again. */
  vrrpMs: number;
  failoverMs: number;
  /** The longest a line of a flow waited for its answer across the fail-over (ms). */
  failoverWaitMs: number;
  failoverLost: FlowReport[];
  flows: number;
  /** Fail-back: ms from d1's restart to its table learned, and to MASTER. */
  learnedMs: number;
  masterMs: number;
  failbackWaitMs: number;
  failbackLost: FlowReport[];
  /** Flows at the fail-back, those opened through d2 included. */
  failbackFlows: number;
  /** Connections d1 held once MASTER again (those it only heard of by sync included). */
  d1Conns: number;
  /** Sync daemons per director at the end. */
  roles: { d1: string[]; d2: string[] };
}

/** What one {@link PairLab.linkRound} measured (the master's link down, then up). */
export interface LinkRound {
  /** ms from the link down to VRRP MASTER on d2, and to every flow answered again. */
  vrrpMs: number;
  failoverMs: number;
  failoverWaitMs: number;
  failoverLost: FlowReport[];
  flows: number;
  /** d1's VRRP role while its link is down (keepalived: FAULT). */
  d1Role: string | null;
  /** Connections d1 held while its link was down (those opened through d2 included). */
  d1ConnsDown: number;
  /** ms from the link up to d1 MASTER again (preempt_delay), the longest wait, flows lost. */
  masterMs: number;
  failbackWaitMs: number;
  failbackLost: FlowReport[];
  failbackFlows: number;
  roles: { d1: string[]; d2: string[] };
}

/** NAT (client VIP + real servers' gateway, a sync group) or DR (one VIP). */
export type PairMode = 'nat' | 'dr';

/** keepalived.conf of one director: the examples/ha shapes, with fast timers. */
function kaConf(prefix: string, me: 1 | 2, sock: string, mode: PairMode): string {
  const tsvs = `${process.execPath} ${TSVS}`;
  const prio = me === 1 ? 150 : 100;
  const head = `global_defs {
  router_id ${prefix}-d${me}
  vrrp_version 3
  script_user root
}
vrrp_script tsvs_ready {
  script "${tsvs} status --ready --quiet --control ${sock}"
  interval 1
  timeout 5
  fall 1
  rise 1
  init_fail
}
`;
  const instance = (name: string, ifn: string, vrid: number, addr: string, extra = ''): string => `
vrrp_instance ${name} {
  state BACKUP
  interface ${ifn}
  virtual_router_id ${vrid}
  priority ${prio}
  advert_int 0.2
  preempt_delay 1
  virtual_ipaddress {
    ${addr} dev ${ifn}
  }${extra}
}
`;
  if (mode === 'dr')
    return (
      head +
      instance(
        'VI_DR',
        'eth1',
        61,
        `${PAIR_VIP}/32`,
        `
  track_script {
    tsvs_ready
  }
  notify "${tsvs} vrrp-notify --control ${sock}"`,
      )
    );
  return (
    head +
    `vrrp_sync_group VG_NAT {
  group {
    VI_CLIENT
    VI_SERVERS
  }
  track_script {
    tsvs_ready
  }
  notify "${tsvs} vrrp-notify --control ${sock}"
}
` +
    instance('VI_CLIENT', 'eth1', 51, `${PAIR_VIP}/24`) +
    instance('VI_SERVERS', 'eth2', 52, '10.211.2.1/24')
  );
}

/** The daemon's readiness answer, or null when it does not answer. */
export async function readyOf(sock: string): Promise<ReadyResult | null> {
  try {
    const c = await ControlClient.connect(sock, 1000);
    try {
      return await c.call({ cmd: 'ready' });
    } finally {
      c.close();
    }
  } catch {
    return null;
  }
}

/** The time (ms since the epoch) of the first tsvs log line matching `re`, or null. */
function logTime(p: Proc, re: RegExp): number | null {
  for (const l of p.log) {
    if (!re.test(l)) continue;
    const m = /"time":"([^"]+)"/.exec(l);
    if (m) return Date.parse(m[1]);
  }
  return null;
}

/** Why keepalived cannot run here, or null. */
export async function keepalivedMissing(): Promise<string | null> {
  const r = await sh(null, 'keepalived', ['--version']);
  return /Keepalived v2/.test(r.stdout + r.stderr) ? null : 'keepalived 2 is not installed';
}

export class PairLab extends HaLab<'sw' | 'c' | 'd1' | 'd2' | 'r1' | 'r2'> {
  readonly sock: Record<1 | 2, string>;
  private readonly rules: string;
  private t1!: Proc;
  private k1!: Proc;
  private k2!: Proc;

  private constructor(
    prefix: string,
    readonly mode: PairMode,
    private readonly syncArgs: string[],
  ) {
    super(prefix, ['sw', 'c', 'd1', 'd2', 'r1', 'r2']);
    this.sock = {
      1: join(this.dir, 'd1', 'control.sock'),
      2: join(this.dir, 'd2', 'control.sock'),
    };
    this.rules = join(this.dir, 'rules');
  }

  /**
   * Builds the lab and starts both directors; resolves once d1 is MASTER and d2 BACKUP.
   * `sync` are tsvs's sync options beyond the interface and id (default: a full pass
   * every 2 s, the learning window from it).
   */
  static async up(
    prefix: string,
    mode: PairMode = 'nat',
    sync: string[] = ['--sync-full-pass', '2'],
  ): Promise<PairLab> {
    return HaLab.start(new PairLab(prefix, mode, sync));
  }

  private startTsvs(me: 1 | 2): Promise<Proc> {
    return this.tsvs(this.ns[`d${me}`], this.sock[me], me, [
      '-c',
      this.rules,
      '--sync-interface',
      this.mode === 'nat' ? 'eth2' : 'eth1',
      '--sync-id',
      '7',
      '--metrics',
      `127.0.0.1:${PAIR_METRICS}`,
      ...this.syncArgs,
    ]);
  }

  private startKa(me: 1 | 2): Proc {
    return this.track(
      keepalived(
        this.ns[`d${me}`],
        join(this.dir, `d${me}`),
        'ka',
        kaConf(this.prefix, me, this.sock[me], this.mode),
      ),
    );
  }

  protected async build(): Promise<void> {
    const NS = this.ns;
    await this.switchWith(NS.sw, ['br1', 'br2']);
    await addNamespace(NS.c);
    await plug(NS.sw, 'br1', 'ha-c', NS.c, 'eth1', ['10.211.1.10/24']);
    for (const me of [1, 2] as const) {
      const ns = NS[`d${me}`];
      await addNamespace(ns, ['net.ipv4.ip_forward=1', 'net.ipv4.conf.all.rp_filter=0']);
      await plug(NS.sw, 'br1', `ha-d${me}a`, ns, 'eth1', [`10.211.1.${me + 1}/24`]);
      await inNs(ns, 'sysctl', '-qw', 'net.ipv4.conf.eth1.rp_filter=0');
      if (this.mode === 'dr') continue;
      await plug(NS.sw, 'br2', `ha-d${me}b`, ns, 'eth2', [`10.211.2.${me + 1}/24`]);
      await inNs(ns, 'sysctl', '-qw', 'net.ipv4.conf.eth2.rp_filter=0');
    }
    // NAT: the real servers behind the gateway; DR: on the clients' LAN, the VIP on lo
    const rip = (n: number): string =>
      this.mode === 'nat' ? `10.211.2.${10 + n}` : `10.211.1.${20 + n}`;
    for (const n of [1, 2] as const) {
      const ns = NS[`r${n}`];
      if (this.mode === 'nat') {
        await addNamespace(ns);
        await plug(NS.sw, 'br2', `ha-r${n}`, ns, 'eth2', [`${rip(n)}/24`]);
        await ip('-n', ns, 'route', 'add', 'default', 'via', '10.211.2.1');
      } else {
        await addNamespace(ns, [
          'net.ipv4.conf.all.arp_ignore=1',
          'net.ipv4.conf.all.arp_announce=2',
          'net.ipv4.conf.all.rp_filter=0',
        ]);
        await plug(NS.sw, 'br1', `ha-r${n}`, ns, 'eth1', [`${rip(n)}/24`]);
        await ip('-n', ns, 'addr', 'add', `${PAIR_VIP}/32`, 'dev', 'lo');
      }
      this.track(run(ns, process.execPath, ['-e', echoServerCode(`rs${n}`, PAIR_PORT)]));
    }
    const svc = `-t ${PAIR_VIP}:${PAIR_PORT}`;
    const fwd = this.mode === 'nat' ? '-m' : '-g';
    writeFileSync(
      this.rules,
      `-A ${svc} -s rr\n-a ${svc} -r ${rip(1)}:${PAIR_PORT} ${fwd} -w 1\n-a ${svc} -r ${rip(2)}:${PAIR_PORT} ${fwd} -w 1\n`,
    );
    this.t1 = await this.startTsvs(1);
    await this.startTsvs(2);
    this.k1 = this.startKa(1);
    this.k2 = this.startKa(2);
    // (generous: on a loaded machine every track_script and notify is a Node start)
    await this.until('d1 to be VRRP MASTER', 60_000, 1, 'MASTER', this.k1);
    await this.until('d2 to be VRRP BACKUP', 40_000, 2, 'BACKUP', this.k2);
  }

  /** Waits for a director's VRRP role; the error says where it stands and what keepalived said. */
  private async until(what: string, ms: number, me: 1 | 2, role: string, ka: Proc): Promise<void> {
    try {
      await waitFor(what, ms, async () => (await readyOf(this.sock[me]))?.vrrp === role);
    } catch (e) {
      const r = await readyOf(this.sock[me]);
      throw new Error(
        `${(e as Error).message}; d${me}: ${JSON.stringify(r)}; keepalived: ${ka.log.slice(-12).join(' | ')}`,
      );
    }
  }

  /** Drops (or lets again) every frame to and from d1 at the switch (nftables, bridge). */
  private async cut(on: boolean): Promise<void> {
    if (!on) {
      await sh(this.ns.sw, 'nft', ['delete', 'table', 'bridge', 'hacut']);
      return;
    }
    const rules = `table bridge hacut {
  chain forward {
    type filter hook forward priority 0; policy accept;
    iifname { "ha-d1a", "ha-d1b" } drop
    oifname { "ha-d1a", "ha-d1b" } drop
  }
}
`;
    const r = await sh(this.ns.sw, 'nft', ['-f', '-'], { input: rules });
    if (r.code !== 0) throw new Error(`nft: ${r.stderr}`);
  }

  /** A director's /metrics text. */
  async metrics(me: 1 | 2): Promise<string> {
    const r = await sh(this.ns[`d${me}`], 'curl', [
      '-sf',
      `http://127.0.0.1:${PAIR_METRICS}/metrics`,
    ]);
    return r.stdout;
  }

  /** The sync daemons running on a director (ipvsadm -L --daemon). */
  async roles(me: 1 | 2): Promise<string[]> {
    const c = await ControlClient.connect(this.sock[me], 2000);
    try {
      return (await c.call({ cmd: 'getDaemons' })).map((d) => d.state);
    } finally {
      c.close();
    }
  }

  /** ESTABLISHED connections of the service a director holds. */
  async conns(me: 1 | 2): Promise<number> {
    const c = await ControlClient.connect(this.sock[me], 2000);
    try {
      return (await c.call({ cmd: 'listConnections' })).filter(
        (x) => x.vport === PAIR_PORT && x.state === 'ESTABLISHED',
      ).length;
    } finally {
      c.close();
    }
  }

  /**
   * One fail-over and fail-back with `n` flows through d1 and `late` more opened
   * through d2. The flows are closed at the end of the round.
   */
  async round(n = 100, late = 20): Promise<PairRound> {
    const NS = this.ns;
    const flows = await this.openFlows(NS.c, { host: PAIR_VIP, port: PAIR_PORT, flows: n });
    try {
      await allFlowing(flows, `${n} flows through d1`, 30_000);
      await waitFor(
        `d2 to hold the ${n} connections (sync)`,
        20_000,
        async () => (await this.conns(2)) >= n,
      );
      // the master machine is gone: nothing goes in or out of its ports any more (they
      // stay up, as a dead machine's switch ports do: the switch keeps its MAC entries
      // and floods nothing to the others), its tsvs and keepalived are killed
      await flows.mark();
      const tKill = Date.now();
      await this.cut(true);
      this.t1.proc.kill('SIGKILL');
      this.k1.proc.kill('SIGKILL');
      await Promise.all([this.t1.exited, this.k1.exited]);
      await this.until('d2 to be MASTER', 20_000, 2, 'MASTER', this.k2);
      const vrrpMs = since(tKill);
      const after1 = await allFlowing(flows, 'the flows through d2', 30_000);
      const failoverMs = since(tKill);
      // flows that only d2 ever saw: d1 can know them from d2's sync alone
      const lateFlows = await this.openFlows(NS.c, {
        host: PAIR_VIP,
        port: PAIR_PORT,
        flows: late,
      });
      await allFlowing(lateFlows, `${late} new flows through d2`, 20_000);
      // d1 comes back: empty table (no state kept), stale VRRP records
      await flows.mark();
      await lateFlows.mark();
      // (the addresses keepalived left there when it was killed go, as at a reboot)
      await ip('-n', NS.d1, 'addr', 'flush', 'dev', 'eth1', 'to', `${PAIR_VIP}/32`);
      if (this.mode === 'nat')
        await ip('-n', NS.d1, 'addr', 'flush', 'dev', 'eth2', 'to', '10.211.2.1/32');
      await this.cut(false);
      const tBack = Date.now();
      this.t1 = await this.startTsvs(1);
      const early = await readyOf(this.sock[1]);
      if (early?.ready !== false || !/learning/.test(early.reason))
        throw new Error(`d1 restarted is not learning: ${JSON.stringify(early)}`);
      this.k1 = this.startKa(1);
      await this.until('d1 to be MASTER again', 60_000, 1, 'MASTER', this.k1);
      const r1 = (await readyOf(this.sock[1]))!;
      const learned = r1.learning.since! + r1.learning.windowMs;
      const masterAt =
        logTime(this.t1, /vrrp: (GROUP VG_NAT|INSTANCE VI_DR) .*→ MASTER/) ?? Date.now();
      const after2 = await this.backThroughD1(flows, lateFlows);
      return {
        vrrpMs,
        failoverMs,
        failoverWaitMs: Math.max(...after1.map((f) => f.waitMs)),
        failoverLost: after1.filter((f) => f.lost),
        flows: after1.length,
        learnedMs: learned - tBack,
        masterMs: masterAt - tBack,
        failbackWaitMs: Math.max(...after2.map((f) => f.waitMs)),
        failbackLost: after2.filter((f) => f.lost),
        failbackFlows: after2.length,
        d1Conns: await this.conns(1),
        roles: { d1: await this.roles(1), d2: await this.roles(2) },
      };
    } finally {
      for (const f of this.flowsets.splice(0)) await f.stop();
    }
  }

  /**
   * After a fail-back: every flow, the first ones and those opened through d2, answers
   * through d1 again (each one's report), and d2 is back to sync backup.
   */
  private async backThroughD1(flows: Flows, lateFlows: Flows): Promise<FlowReport[]> {
    const after = [
      ...(await allFlowing(flows, 'the flows back through d1', 30_000)),
      ...(await allFlowing(lateFlows, 'the late flows through d1', 30_000)),
    ];
    await waitFor(
      'd2 back to sync backup',
      10_000,
      async () => (await this.roles(2)).join() === 'backup',
    );
    return after;
  }

  /**
   * The master's cable pulled: `n` long-lived flows through d1, then d1's `ifname`
   * (eth1: the client side, carrying VRRP and the VIP) set down inside d1 — its switch
   * port loses the carrier too. keepalived on d1 finds the interface down (FAULT: the
   * sync group gives up the real servers' gateway as well) and d2 takes over; the
   * flows carry on through d2 and `late` more are opened through it. tsvs on d1 keeps
   * running: in NAT its sync backup goes on learning over the real servers' side. Then
   * the link comes back and d1 takes the addresses back after preempt_delay; every flow
   * carries on. The round ends as it began: d1 MASTER.
   */
  async linkRound(n = 100, late = 20, ifname = 'eth1'): Promise<LinkRound> {
    const NS = this.ns;
    const flows = await this.openFlows(NS.c, { host: PAIR_VIP, port: PAIR_PORT, flows: n });
    try {
      await allFlowing(flows, `${n} flows through d1`, 30_000);
      await waitFor(
        `d2 to hold the ${n} connections (sync)`,
        20_000,
        async () => (await this.conns(2)) >= n,
      );
      await flows.mark();
      const tDown = Date.now();
      await ip('-n', NS.d1, 'link', 'set', ifname, 'down');
      await this.until('d2 to be MASTER', 20_000, 2, 'MASTER', this.k2);
      const vrrpMs = since(tDown);
      const after1 = await allFlowing(flows, 'the flows through d2', 30_000);
      const failoverMs = since(tDown);
      const d1Role = (await readyOf(this.sock[1]))?.vrrp ?? null;
      const lateFlows = await this.openFlows(NS.c, {
        host: PAIR_VIP,
        port: PAIR_PORT,
        flows: late,
      });
      await allFlowing(lateFlows, `${late} new flows through d2`, 20_000);
      // NAT: d1 hears of them over the real servers' side (its sync backup runs on)
      if (this.mode === 'nat')
        await waitFor(
          `d1 to hold the ${n + late} connections (sync over eth2)`,
          20_000,
          async () => (await this.conns(1)) >= n + late,
        );
      const d1ConnsDown = await this.conns(1);
      await flows.mark();
      await lateFlows.mark();
      const tUp = Date.now();
      await ip('-n', NS.d1, 'link', 'set', ifname, 'up');
      await this.until('d1 to be MASTER again', 30_000, 1, 'MASTER', this.k1);
      const masterMs = since(tUp);
      const after2 = await this.backThroughD1(flows, lateFlows);
      return {
        vrrpMs,
        failoverMs,
        failoverWaitMs: Math.max(...after1.map((f) => f.waitMs)),
        failoverLost: after1.filter((f) => f.lost),
        flows: after1.length,
        d1Role,
        d1ConnsDown,
        masterMs,
        failbackWaitMs: Math.max(...after2.map((f) => f.waitMs)),
        failbackLost: after2.filter((f) => f.lost),
        failbackFlows: after2.length,
        roles: { d1: await this.roles(1), d2: await this.roles(2) },
      };
    } finally {
      for (const f of this.flowsets.splice(0)) await f.stop();
    }
  }
}
