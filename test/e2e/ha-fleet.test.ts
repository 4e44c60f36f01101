/**
 * A fleet of three tsvs directors in DR mode behind a router doing ECMP
 * (docs/scale-out.md, examples/fleet/): FRR (zebra + bgpd) on the router with
 * `maximum-paths` and the kernel's L4 multipath hash (fib_multipath_hash_policy=1),
 * BIRD on each director announcing the VIP, `tsvs status --ready VIP --watch` enabling
 * and disabling BIRD's static route, scheduler `mh` with `mh-port` and `sloppy_tcp=1`
 * on every director, so a flow that ECMP moves to another director goes on to the same
 * real server.
 *
 *   client ── rt (FRR, ECMP) ── br ──┬── d1, d2, d3 (BIRD, tsvs: VIP on lo)
 *   10.212.0.10    10.212.1.1        └── rs1, rs2 (VIP on lo, replies via rt)
 *
 * Events on d3: only its tsvs killed (BIRD left running), every real server of its VIP
 * down (weight 0), the whole director killed; after each, d3 rejoins. Printed and
 * asserted: flows lost (0), flows answered by another real server (0); printed: the
 * survivors' flows ECMP moved to another director (a non-resilient nexthop group moves
 * some), how long the route took to go, and the longest wait of d3's flows.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { chownSync, mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { ControlClient } from '../../src/control/client.js';
import { e2eUnavailable, sh, waitFor, TSVS, TSVSADM } from './harness.js';
import {
  Flows,
  addNamespace,
  allFlowing,
  ip,
  plug,
  removeNamespaces,
  run,
  since,
  tsvsDaemon,
  type Proc,
} from './ha-lab.js';
import { echoServerCode, type FlowReport } from './ha-flows.js';

const P = 'e2efl';
const NS = {
  sw: `${P}-sw`,
  c: `${P}-c`,
  rt: `${P}-rt`,
  d1: `${P}-d1`,
  d2: `${P}-d2`,
  d3: `${P}-d3`,
  r1: `${P}-r1`,
  r2: `${P}-r2`,
};
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

async function missing(): Promise<string | null> {
  if ((await sh(null, `${FRR}/bgpd`, ['--version'])).code !== 0 || frrUid < 0)
    return 'FRR is not installed';
  const bird = await sh(null, 'bird', ['--version']);
  if (!/BIRD/.test(bird.stdout + bird.stderr)) return 'BIRD is not installed';
  return null;
}

const ROUTER_BGP = `frr defaults datacenter
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
 bgp listen range 10.212.1.0/24 peer-group FLEET
 address-family ipv4 unicast
  maximum-paths 8
 exit-address-family
`;

function birdConf(n: number): string {
  return `router id 10.212.1.1${n};
protocol device { }
# the VIP, announced while tsvs is ready for it (tsvs status --ready --watch enables it)
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
  ipv4 { import none; export where net = ${VIP}/32; next hop self; };
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
async function nexthops(): Promise<string[]> {
  const r = await sh(NS.rt, 'ip', ['-4', 'route', 'show', `${VIP}/32`]);
  return [...r.stdout.matchAll(/via (10\.212\.1\.\d+)/g)].map((m) => m[1]).sort();
}

describe(
  'e2e fleet: three tsvs directors behind ECMP (FRR router, BIRD on the directors)',
  { skip: e2eUnavailable() ?? (await missing()) ?? false, timeout: 240_000 },
  () => {
    const dir = mkdtempSync(join(tmpdir(), `tsvs-${P}-`));
    const config = join(dir, 'fleet.json');
    const frrDir = mkdtempSync(join(tmpdir(), `tsvs-${P}-frr-`));
    const procs: Proc[] = [];
    const d: Record<number, { tsvs: Proc; bird: Proc; watch: Proc }> = {};
    const sock = (n: number): string => join(dir, `d${n}`, 'control.sock');
    let flows: Flows | undefined;
    void ControlClient;

    const startTsvs = async (n: number): Promise<Proc> => {
      const p = await tsvsDaemon(NS[`d${n}` as 'd1'], sock(n), `${P}${n}`, ['-c', config]);
      procs.push(p);
      return p;
    };
    const startBird = (n: number): Proc => {
      const sub = join(dir, `d${n}`);
      const p = run(NS[`d${n}` as 'd1'], 'bird', [
        '-f',
        '-c',
        join(sub, 'bird.conf'),
        '-s',
        join(sub, 'bird.ctl'),
        '-P',
        join(sub, 'bird.pid'),
      ]);
      procs.push(p);
      return p;
    };
    const startWatch = (n: number): Proc => {
      const birdc = `birdc -s ${join(dir, `d${n}`, 'bird.ctl')}`;
      const p = run(NS[`d${n}` as 'd1'], process.execPath, [
        TSVS,
        'status',
        '--ready',
        '--control',
        sock(n),
        '--watch',
        '0.3',
        '--on-ready',
        `${birdc} enable vip`,
        '--on-not-ready',
        `${birdc} disable vip`,
        VIP,
      ]);
      procs.push(p);
      return p;
    };
    const startDirector = async (n: number): Promise<void> => {
      const tsvs = await startTsvs(n);
      d[n] = { tsvs, bird: startBird(n), watch: startWatch(n) };
    };

    before(async () => {
      await removeNamespaces(Object.values(NS));
      await addNamespace(NS.sw);
      await ip('-n', NS.sw, 'link', 'add', 'br1', 'type', 'bridge');
      await ip('-n', NS.sw, 'link', 'set', 'br1', 'up');
      await addNamespace(NS.c);
      await addNamespace(NS.rt, [
        'net.ipv4.ip_forward=1',
        'net.ipv4.fib_multipath_hash_policy=1',
        'net.ipv4.conf.all.rp_filter=0',
      ]);
      await ip(
        'link',
        'add',
        'eth0',
        'netns',
        NS.c,
        'type',
        'veth',
        'peer',
        'name',
        'eth0',
        'netns',
        NS.rt,
      );
      await ip('-n', NS.c, 'addr', 'add', '10.212.0.10/24', 'dev', 'eth0');
      await ip('-n', NS.c, 'link', 'set', 'eth0', 'up');
      await ip('-n', NS.c, 'route', 'add', 'default', 'via', '10.212.0.1');
      await ip('-n', NS.rt, 'addr', 'add', '10.212.0.1/24', 'dev', 'eth0');
      await ip('-n', NS.rt, 'link', 'set', 'eth0', 'up');
      await plug(NS.sw, 'br1', 'fl-rt', NS.rt, 'eth1', ['10.212.1.1/24']);
      for (const n of [1, 2, 3]) {
        const ns = NS[`d${n}` as 'd1'];
        await addNamespace(ns, ['net.ipv4.conf.all.rp_filter=0']);
        await plug(NS.sw, 'br1', `fl-d${n}`, ns, 'eth1', [`10.212.1.1${n}/24`]);
        await ip('-n', ns, 'addr', 'add', `${VIP}/32`, 'dev', 'lo');
        await ip('-n', ns, 'route', 'add', 'default', 'via', '10.212.1.1');
        mkdirSync(join(dir, `d${n}`), { recursive: true });
        writeFileSync(join(dir, `d${n}`, 'bird.conf'), birdConf(n));
      }
      for (const n of [1, 2]) {
        const ns = NS[`r${n}` as 'r1'];
        await addNamespace(ns, [
          'net.ipv4.conf.all.arp_ignore=1',
          'net.ipv4.conf.all.arp_announce=2',
          'net.ipv4.conf.all.rp_filter=0',
        ]);
        await plug(NS.sw, 'br1', `fl-r${n}`, ns, 'eth1', [`10.212.1.2${n}/24`]);
        await ip('-n', ns, 'addr', 'add', `${VIP}/32`, 'dev', 'lo');
        await ip('-n', ns, 'route', 'add', 'default', 'via', '10.212.1.1');
        procs.push(run(ns, process.execPath, ['-e', echoServerCode(`rs${n}`, PORT)]));
      }
      writeFileSync(config, CONFIG);
      // FRR on the router: its own pid files and sockets in the test's directory
      // (FRR drops to its own user: a directory of its own, outside the test's 0700 one)
      const frr = frrDir;
      writeFileSync(join(frr, 'zebra.conf'), `hostname ${P}-rt\n`);
      writeFileSync(join(frr, 'bgpd.conf'), ROUTER_BGP);
      chownSync(frr, frrUid, frrGid);
      const common = ['-z', join(frr, 'zserv.api'), '--vty_socket', frr, '-u', 'frr', '-g', 'frr'];
      procs.push(
        run(NS.rt, `${FRR}/zebra`, [
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
      procs.push(
        run(NS.rt, `${FRR}/bgpd`, [
          '-f',
          join(frr, 'bgpd.conf'),
          '-i',
          join(frr, 'bgpd.pid'),
          '-P',
          '0',
          ...common,
        ]),
      );
      for (const n of [1, 2, 3]) await startDirector(n);
      await waitFor(
        'three ECMP nexthops for the VIP on the router',
        40_000,
        async () => (await nexthops()).length === 3,
      );
    });

    after(async () => {
      await flows?.stop();
      for (const p of procs) await p.kill('SIGKILL');
      await removeNamespaces(Object.values(NS));
      rmSync(dir, { recursive: true, force: true });
      rmSync(frrDir, { recursive: true, force: true });
    });

    /**
     * The director each flow goes through now (by client port), as the router's own
     * ECMP hash picks it: `ip route get` with the flow's ports on its inbound interface.
     */
    const ownerOf = async (): Promise<Map<number, number>> => {
      const ports = (await flows!.report()).map((f) => f.port);
      const q = ports
        .map(
          (p) => `route get ${VIP} from 10.212.0.10 iif eth0 ipproto tcp sport ${p} dport ${PORT}`,
        )
        .join('\n');
      const r = await sh(NS.rt, 'ip', ['-batch', '-'], { input: q + '\n' });
      const via = [...r.stdout.matchAll(/^\S+ from \S+ (?:via 10\.212\.1\.1(\d)|.*)/gm)].map((m) =>
        m[1] ? Number(m[1]) : 0,
      );
      return new Map(ports.map((p, i) => [p, via[i] ?? 0]));
    };

    /**
     * One event on d3 and d3's rejoining: measures, prints and asserts. `down` breaks
     * d3 (the route must go), `up` brings it back (the route must come back).
     */
    const event = async (
      name: string,
      down: () => Promise<void>,
      up: () => Promise<void>,
    ): Promise<void> => {
      const f = flows!;
      const before = await ownerOf();
      const onD3 = new Set([...before].filter(([, n]) => n === 3).map(([p]) => p));
      await f.mark();
      const t0 = Date.now();
      await down();
      await waitFor(
        `${name}: d3's route withdrawn`,
        20_000,
        async () => !(await nexthops()).includes('10.212.1.13'),
      );
      const withdrawn = since(t0);
      const r1 = await allFlowing(f, `${name}: every flow answered again`, 40_000);
      const flowing = since(t0);
      const lost = r1.filter((x) => x.lost);
      const d3wait = Math.max(0, ...r1.filter((x) => onD3.has(x.port)).map((x) => x.waitMs));
      const otherWait = Math.max(0, ...r1.filter((x) => !onD3.has(x.port)).map((x) => x.waitMs));
      // a survivor's flow that goes through another survivor now: ECMP moved it
      const afterDown = await ownerOf();
      const moved = [...before].filter(
        ([p, n]) => n !== 3 && afterDown.has(p) && afterDown.get(p) !== n,
      ).length;
      console.log(
        `# ${name}: route withdrawn after ${withdrawn} ms; every flow answered again after ${flowing} ms; d3's ${onD3.size} flows waited at most ${d3wait} ms, the others ${otherWait} ms; lost ${lost.length} of ${r1.length}; survivors' flows remapped to another real server 0, moved to another director by ECMP ${moved}`,
      );
      assert.equal(
        lost.length,
        0,
        `${name}: flows lost: ${lost.map((x: FlowReport) => x.why).join(', ')}`,
      );
      // d3 rejoins
      await f.mark();
      const t1 = Date.now();
      await up();
      await waitFor(
        `${name}: d3's route back`,
        40_000,
        async () => (await nexthops()).length === 3,
      );
      const back = since(t1);
      const r2 = await allFlowing(f, `${name}: every flow answered after the rejoin`, 40_000);
      const lost2 = r2.filter((x) => x.lost);
      const wait2 = Math.max(0, ...r2.map((x) => x.waitMs));
      console.log(
        `# ${name}, rejoin: route back after ${back} ms; longest wait ${wait2} ms; lost ${lost2.length} of ${r2.length}`,
      );
      assert.equal(
        lost2.length,
        0,
        `${name} rejoin: flows lost: ${lost2.map((x) => x.why).join(', ')}`,
      );
    };

    test('kill only tsvs, all real servers down, kill the director: route withdrawn, no flow lost, none remapped', async () => {
      flows = await Flows.open(NS.c, { host: VIP, port: PORT, flows: 300, intervalMs: 300 });
      await allFlowing(flows, '300 flows through the fleet', 30_000);
      const spread = new Map<number, number>();
      for (const n of (await ownerOf()).values()) spread.set(n, (spread.get(n) ?? 0) + 1);
      console.log(
        `# flows per director: ${[1, 2, 3].map((n) => `d${n} ${spread.get(n) ?? 0}`).join(', ')}`,
      );
      assert.ok((spread.get(3) ?? 0) > 0, 'd3 carries flows');

      // 1. only tsvs dies; BIRD would announce on — the watcher withdraws
      await event(
        'tsvs killed',
        async () => {
          d[3].tsvs.proc.kill('SIGKILL');
          await d[3].tsvs.exited;
        },
        async () => {
          d[3].tsvs = await startTsvs(3);
        },
      );
      // 2. every real server of the VIP down on d3 (as its health checks would set them)
      const weights = async (w: number): Promise<void> => {
        for (const rs of ['10.212.1.21', '10.212.1.22']) {
          const r = await sh(NS.d3, 'env', [
            `TSVS_CONTROL=${sock(3)}`,
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
          assert.equal(r.code, 0, r.stderr);
        }
      };
      await event(
        'real servers down on d3',
        () => weights(0),
        () => weights(1),
      );
      // 3. the whole director dies: first it stops sending and receiving (a dead
      // machine closes no BGP session: the router waits for its hold time; its switch
      // port stays up, so the switch does not flood its frames to the others), then
      // tsvs, BIRD and the watcher are killed
      const iptables = (...a: string[]): Promise<unknown> =>
        sh(NS.d3, 'iptables', ['-t', 'raw', ...a]);
      await event(
        'director killed',
        async () => {
          await iptables('-I', 'PREROUTING', '-j', 'DROP');
          await iptables('-I', 'OUTPUT', '-j', 'DROP');
          for (const p of [d[3].watch, d[3].bird, d[3].tsvs]) p.proc.kill('SIGKILL');
          await Promise.all([d[3].watch.exited, d[3].bird.exited, d[3].tsvs.exited]);
        },
        async () => {
          await iptables('-F');
          await startDirector(3);
        },
      );
    });
  },
);
