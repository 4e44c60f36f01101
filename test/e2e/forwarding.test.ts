/**
 * The real daemon balances real traffic between network namespaces: NAT, DR and TUN
 * over IPv4 and NAT over IPv6 — many short HTTP requests spread rr over both real
 * servers, a byte-exact 1 MiB transfer each way, a UDP request/response, and the
 * connection table's state walk and counters afterwards.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { statSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import {
  Lab,
  configure,
  e2eUnavailable,
  bg,
  serversListening,
  sh,
  waitFor,
  TSVS,
  type Daemon,
} from './harness.js';
import type { ServiceId } from '../../src/control/model.js';

const skip = e2eUnavailable();

interface Mode {
  name: string;
  fwd: 'masq' | 'droute' | 'tunnel';
  af: 4 | 6;
  forwarding: boolean;
}

const MODES: Mode[] = [
  { name: 'NAT IPv4', fwd: 'masq', af: 4, forwarding: true },
  { name: 'DR IPv4 (director forwarding off)', fwd: 'droute', af: 4, forwarding: false },
  {
    name: 'TUN IPv4 (director forwarding off, user-space decap on the real servers)',
    fwd: 'tunnel',
    af: 4,
    forwarding: false,
  },
  { name: 'NAT IPv6', fwd: 'masq', af: 6, forwarding: true },
];

for (const mode of MODES) {
  describe(`e2e ${mode.name}`, { skip: skip ?? false, timeout: 180_000 }, () => {
    let lab: Lab;
    let d: Daemon;
    let vip: string;
    let url: string;
    const blob = randomBytes(1 << 20);
    const blobHash = createHash('sha256').update(blob).digest('hex');
    const rsAddr = (i: 0 | 1): string => (mode.af === 4 ? lab.env.rs[i].ip4 : lab.env.rs[i].ip6);
    // NAT may change ports; DR/TUN cannot (the real server sees the VIP's port)
    const rport = (p: number): number => (mode.fwd === 'masq' ? p + 1000 : p);
    let http: ServiceId;

    before(async () => {
      lab = Lab.up(`e2e${mode.fwd.slice(0, 3)}${mode.af}`);
      vip = mode.af === 4 ? lab.env.vip4 : lab.env.vip6;
      const host = mode.af === 4 ? vip : `[${vip}]`;
      url = `http://${host}/`;
      const blobFile = join(lab.dir, 'blob');
      writeFileSync(blobFile, blob);
      await sh(lab.ns.director, 'sysctl', [
        '-qw',
        `net.ipv4.ip_forward=${mode.forwarding ? 1 : 0}`,
      ]);
      await sh(lab.ns.director, 'sysctl', [
        '-qw',
        `net.ipv6.conf.all.forwarding=${mode.forwarding ? 1 : 0}`,
      ]);
      for (const i of [0, 1] as const) {
        const ns = i === 0 ? lab.ns.rs1 : lab.ns.rs2;
        lab.http(i, rport(80));
        const bind = mode.af === 6 ? 'TCP6-LISTEN' : 'TCP4-LISTEN';
        lab.track(bg(ns, 'socat', [`${bind}:${rport(5001)},reuseaddr,fork`, 'SYSTEM:sha256sum']));
        lab.track(
          bg(ns, 'socat', [`${bind}:${rport(5002)},reuseaddr,fork`, `OPEN:${blobFile},rdonly`]),
        );
        // a UDP server answers from the address it is bound to: the RIP for NAT (so the
        // reply is routed back through the director), the VIP for DR/TUN (direct return)
        const ubind = mode.af === 6 ? 'UDP6-RECVFROM' : 'UDP4-RECVFROM';
        const uaddr = mode.fwd === 'masq' ? rsAddr(i) : vip;
        const b6 = (a: string): string => (mode.af === 6 ? `[${a}]` : a);
        lab.track(
          bg(ns, 'socat', [
            `${ubind}:${rport(5353)},reuseaddr,fork,bind=${b6(uaddr)}`,
            `SYSTEM:echo rs${i + 1}`,
          ]),
        );
        if (mode.fwd === 'tunnel') lab.track(bg(ns, process.execPath, [TSVS, 'decap']));
      }
      d = await lab.daemon();
      const fwd = mode.fwd;
      const dests = (p: number) => [
        { addr: rsAddr(0), port: rport(p), fwd, weight: 1 },
        { addr: rsAddr(1), port: rport(p), fwd, weight: 1 },
      ];
      http = await configure(
        d.client,
        { af: mode.af, protocol: 6, addr: vip, port: 80, scheduler: 'rr' },
        dests(80),
      );
      await configure(
        d.client,
        { af: mode.af, protocol: 6, addr: vip, port: 5001, scheduler: 'rr' },
        dests(5001),
      );
      await configure(
        d.client,
        { af: mode.af, protocol: 6, addr: vip, port: 5002, scheduler: 'rr' },
        dests(5002),
      );
      await configure(
        d.client,
        { af: mode.af, protocol: 17, addr: vip, port: 5353, scheduler: 'rr' },
        dests(5353),
      );
      await serversListening(lab, [rport(80), rport(5001), rport(5002)], [rport(5353)]);
    });

    after(async () => {
      await lab?.down();
    });

    test('many short HTTP requests are spread rr over both real servers', async () => {
      const seen: string[] = [];
      for (let i = 0; i < 10; i++) {
        const r = await lab.client('curl', ['-s', '-m', '5', url]);
        assert.equal(r.code, 0, `curl #${i}: ${r.stderr} ${d.log.join(' | ')}`);
        seen.push(r.stdout.trim());
      }
      // rr alternates strictly
      for (let i = 1; i < seen.length; i++) assert.notEqual(seen[i], seen[i - 1], seen.join(','));
      assert.equal(seen.filter((s) => s === 'rs1').length, 5);
    });

    test('the connection table shows the spec walk and the counters match', async () => {
      // NAT sees both directions: the close ends in TIME_WAIT; DR/TUN see only the
      // client (INPUT-ONLY table): its FIN leaves the conn in FIN_WAIT
      const want = mode.fwd === 'masq' ? 'TIME_WAIT' : 'FIN_WAIT';
      const list = async () =>
        (await d.client.call({ cmd: 'listConnections' })).filter(
          (c) => c.vport === 80 && !c.template,
        );
      // the last FIN/ACKs through
      await waitFor(`every connection in ${want}`, 5000, async () =>
        (await list()).every((c) => c.state === want),
      );
      const conns = await list();
      assert.equal(conns.length, 10);
      for (const c of conns) assert.equal(c.state, want, JSON.stringify(c));
      const svc = await d.client.call({ cmd: 'getService', service: http });
      const active = svc.dests.reduce((a, x) => a + x.activeconns, 0);
      const inact = svc.dests.reduce((a, x) => a + x.inactconns, 0);
      assert.equal(active, 0);
      assert.equal(inact, 10);
      const conns1 = svc.dests.reduce((a, x) => a + x.stats.conns, 0);
      assert.equal(conns1, 10);
      if (mode.fwd !== 'masq')
        assert.equal(svc.stats.outpkts, 0, 'DR/TUN replies bypass the director');
      else assert.ok(svc.stats.outpkts > 0);
    });

    test('1 MiB from the client arrives byte-exact at a real server', async () => {
      const host = mode.af === 4 ? vip : `[${vip}]`;
      const r = await lab.client('socat', ['-t', '10', '-', `TCP:${host}:5001`], {
        input: blob,
        timeoutMs: 30_000,
      });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.trim().split(/\s+/)[0], blobHash);
    });

    test('1 MiB from a real server arrives byte-exact at the client', async () => {
      const host = mode.af === 4 ? vip : `[${vip}]`;
      const r = await lab.client('socat', ['-u', `TCP:${host}:5002`, '-'], { timeoutMs: 30_000 });
      assert.equal(r.code, 0, r.stderr);
      const got = Buffer.from(r.stdout, 'latin1');
      assert.equal(got.length, blob.length);
      assert.equal(createHash('sha256').update(got).digest('hex'), blobHash);
    });

    if (mode.fwd === 'tunnel') {
      test('ICMP errors about the tunnelled packets come back to the tunnel source: queued', async () => {
        // §8.1 step 4: the engine relays them to the client (engine test icmp-tunnel)
        const r = await sh(lab.ns.director, 'iptables-legacy-save', ['-t', 'mangle']);
        const src = lab.env.director.server4;
        for (const type of ['3', '4', '11'])
          assert.ok(
            r.stdout
              .split('\n')
              .some(
                (l) =>
                  l.includes(`-d ${src}/32 -p icmp -m icmp --icmp-type ${type}`) &&
                  l.includes('NFQUEUE'),
              ),
            `ICMP type ${type} to ${src} queued:\n${r.stdout}`,
          );
      });
      test('tcpdump on the real server sees IPIP: outer director → RIP, inner client → VIP', async () => {
        const pcap = join(lab.dir, 'rs1-ipip.pcap');
        const curls: string[] = [];
        const dump = spawn(
          'ip',
          [
            'netns',
            'exec',
            lab.ns.rs1,
            'tcpdump',
            '-U',
            '-n',
            '-i',
            lab.env.rs[0].serverIf,
            '-c',
            '3',
            '-w',
            pcap,
            'ip proto 4',
          ],
          {
            stdio: ['ignore', 'ignore', 'pipe'],
          },
        );
        // tcpdump says "listening on IF" once the capture runs
        let dumpErr = '';
        dump.stderr.setEncoding('utf8').on('data', (x: string) => (dumpErr += x));
        try {
          await waitFor('tcpdump to start', 5_000, async () => /listening on/.test(dumpErr));
          for (let i = 0; i < 2; i++)
            curls.push((await lab.client('curl', ['-s', '-m', '5', url])).stdout.trim());
        } finally {
          // tcpdump exits after 3 packets; stop it anyway after 5 s
          const t = setTimeout(() => dump.kill('SIGINT'), 5_000);
          if (dump.exitCode === null && dump.signalCode === null)
            await new Promise((r) => dump.once('exit', r));
          clearTimeout(t);
        }
        const t = await sh(null, 'tshark', [
          '-r',
          pcap,
          '-T',
          'fields',
          '-E',
          'separator=|',
          '-e',
          'ip.proto',
          '-e',
          'ip.src',
          '-e',
          'ip.dst',
          '-e',
          'tcp.dstport',
          '-o',
          'ip.check_checksum:TRUE',
          '-e',
          'ip.checksum.status',
        ]);
        assert.equal(t.code, 0, t.stderr);
        const lines = t.stdout
          .trim()
          .split('\n')
          .filter((l) => l !== '');
        assert.ok(
          lines.length > 0,
          `IPIP packets reached rs1 (curl: ${curls}; ${statSync(pcap).size} bytes; ${t.stderr})`,
        );
        for (const l of lines) {
          // tshark prints outer,inner for the nested IP fields
          const [proto, src, dst, dport, status] = l.split('|');
          assert.equal(proto, '4,6', l);
          assert.equal(src, `${lab.env.director.server4},${lab.env.client4}`, l);
          assert.equal(dst, `${lab.env.rs[0].ip4},${vip}`, l);
          assert.equal(dport, '80', l);
          // tshark checksum status: 1 = good
          assert.equal(status, '1,1', `outer and inner header checksums good: ${l}`);
        }
      });
    }

    test('UDP request and response', async () => {
      const host = mode.af === 4 ? vip : `[${vip}]`;
      const answers = new Set<string>();
      for (let i = 0; i < 2; i++) {
        // UDP may lose a datagram: a client retries (same source port, same conn)
        let answer = '';
        for (let attempt = 0; attempt < 3 && answer === ''; attempt++) {
          const r = await lab.client(
            'socat',
            ['-t', '2', '-', `UDP:${host}:5353,sourceport=${41000 + i}`],
            {
              input: 'ping\n',
              timeoutMs: 10_000,
            },
          );
          assert.equal(r.code, 0, r.stderr);
          answer = r.stdout.trim();
        }
        answers.add(answer);
      }
      assert.deepEqual([...answers].sort(), ['rs1', 'rs2']);
      const udp = (await d.client.call({ cmd: 'listConnections' })).filter(
        (c) => c.protocol === 17,
      );
      assert.equal(udp.length, 2);
      for (const c of udp) assert.equal(c.state, 'UDP');
    });

    if (mode.fwd !== 'tunnel')
      test('the traffic took the fast path: tc filters steered it into the TUN devices', async () => {
        const r = await sh(lab.ns.director, 'ip', ['-j', '-s', 'link', 'show']);
        const links = JSON.parse(r.stdout) as {
          ifname: string;
          stats64?: { tx?: { packets?: number } };
        }[];
        const tx = (prefix: string): number =>
          links.find((l) => l.ifname.startsWith(prefix))?.stats64?.tx?.packets ?? -1;
        // a packet redirected into a TUN by tc counts as sent on it
        const steeredIn = tx('tsvsi-');
        const steeredOut = tx('tsvso-');
        // with the established-flow fast path most packets never reach the TUNs (the
        // BPF program forwards them in front of the filters): handshakes and closes do
        const fast = d.log.some((l) => l.includes('forwarded in the kernel'));
        const least = fast ? 5 : 50;
        assert.ok(steeredIn > least, `requests steered: ${steeredIn}`);
        if (mode.fwd === 'masq') assert.ok(steeredOut > least, `replies steered: ${steeredOut}`);
        // the netfilter queues behind the filters saw next to nothing of it: the last
        // packet id of each queue (field 8 of /proc/net/netfilter/nfnetlink_queue)
        const q = await sh(lab.ns.director, 'cat', ['/proc/net/netfilter/nfnetlink_queue']);
        const queued = q.stdout
          .trim()
          .split('\n')
          .map((l) => Number(l.trim().split(/\s+/)[7] ?? 0))
          .reduce((a, b) => a + b, 0);
        assert.ok(queued < steeredIn / (fast ? 2 : 10), `queued ${queued}, steered ${steeredIn}`);
        console.log(`# steered ${steeredIn} requests, ${steeredOut} replies; queued ${queued}`);
        const f = await sh(lab.ns.director, 'tc', [
          'filter',
          'show',
          'dev',
          lab.env.director.clientIf,
          'ingress',
        ]);
        assert.match(f.stdout, /Egress Redirect to device tsvsi-/);
      });
  });
}
