/**
 * `tsvs daemon --workers 2` in the lab (NAT TCP and UDP, DR, a persistent service):
 * two data-plane workers, each with its own engine and steering devices (`tsvsi-e2ewk`
 * … for worker 0, `tsvsi-e2ewk-1` … for worker 1), flows shared by the client's port.
 *
 * Clients bind their source ports (curl --local-port): even ports are worker 0's, odd
 * ones worker 1's, so each phase knows which worker must carry it. The devices'
 * counters show which worker read the requests (tc redirects them: TX on `tsvsi-*` and
 * `tsvss-*`, the SYN device) and the NAT replies (TX on `tsvso-*`). The listings,
 * through the control API, must add up both workers' tables and counters. A
 * persistent service is shared out by client address instead: the lab's one client is
 * one worker's whatever its ports, with one template.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  Lab,
  TSVS,
  bg,
  configure,
  e2eUnavailable,
  serversListening,
  sh,
  waitFor,
  type Daemon,
} from './harness.js';
import type { ConnEntry, ServiceEntry, ServiceId } from '../../src/control/model.js';

const skip = e2eUnavailable();
const P = 'e2ewk';
const NAT_PORT = 80;
const DR_PORT = 5003;
const PERSIST_PORT = 8081;
const PERSIST_RPORT = 8082;
const UDP_PORT = 5353;

/** Per worker: requests (SYN device + request device) and NAT replies redirected to it. */
async function perWorker(lab: Lab): Promise<{ in: number; out: number }[]> {
  const r = await sh(lab.ns.director, 'ip', ['-j', '-s', 'link', 'show']);
  const links = JSON.parse(r.stdout) as {
    ifname: string;
    stats64?: { tx?: { packets?: number } };
  }[];
  const tx = (name: string): number => {
    const l = links.find((x) => x.ifname === name);
    assert.ok(l, `device ${name}: ${links.map((x) => x.ifname).join(' ')}`);
    return l.stats64?.tx?.packets ?? 0;
  };
  return ['', '-1'].map((s) => ({
    in: tx(`tsvsi-${P}${s}`) + tx(`tsvss-${P}${s}`),
    out: tx(`tsvso-${P}${s}`),
  }));
}

const delta = (
  a: { in: number; out: number }[],
  b: { in: number; out: number }[],
): { in: number; out: number }[] =>
  a.map((x, i) => ({ in: b[i].in - x.in, out: b[i].out - x.out }));

describe(
  'e2e --workers 2: flows shared by client port, listings merged',
  {
    skip: skip ?? false,
    timeout: 120_000,
  },
  () => {
    let lab: Lab;
    let d: Daemon;
    let nat: ServiceId;
    let dr: ServiceId;
    let nextPort = 41000;

    /** n curls from client ports of one parity (0 or 1); the servers' names seen. */
    const curls = async (n: number, parity: 0 | 1, port = NAT_PORT): Promise<number[]> => {
      const seen = [0, 0];
      const used: number[] = [];
      for (let i = 0; i < n; i++) {
        if ((nextPort & 1) !== parity) nextPort++;
        const lp = nextPort++;
        used.push(lp);
        const r = await lab.client('curl', [
          '-s',
          '-m',
          '5',
          '--local-port',
          String(lp),
          `http://${lab.env.vip4}:${port}/`,
        ]);
        assert.equal(r.code, 0, `curl from port ${lp}: ${r.stderr} ${d.log.slice(-5).join(' | ')}`);
        seen[r.stdout.trim() === 'rs1' ? 0 : 1]++;
      }
      // rr over two real servers in the one worker these ports reach: half each
      assert.deepEqual(seen, [n / 2, n / 2], `${parity ? 'odd' : 'even'} ports: rs1, rs2`);
      return used;
    };

    const service = async (id: ServiceId): Promise<ServiceEntry> =>
      (await d.client.call({ cmd: 'getService', service: id })) as ServiceEntry;
    const conns = async (): Promise<ConnEntry[]> =>
      (await d.client.call({ cmd: 'listConnections' })) as ConnEntry[];

    before(async () => {
      lab = Lab.up(P);
      for (const port of [8080, PERSIST_RPORT, DR_PORT]) {
        lab.http(0, port);
        lab.http(1, port);
      }
      for (const [i, ns] of [lab.ns.rs1, lab.ns.rs2].entries())
        lab.track(
          bg(ns, 'socat', [
            `UDP4-RECVFROM:${UDP_PORT},bind=${lab.env.rs[i].ip4},fork`,
            `SYSTEM:echo rs${i + 1}`,
          ]),
        );
      await serversListening(lab, [8080, PERSIST_RPORT, DR_PORT], [UDP_PORT]);
      d = await lab.daemon(['--workers', '2']);
      assert.ok(
        d.log.some((l) => l.includes('2 data-plane workers')),
        d.log.join('\n'),
      );
      nat = await configure(
        d.client,
        { af: 4, protocol: 6, addr: lab.env.vip4, port: NAT_PORT, scheduler: 'rr' },
        [
          { addr: lab.env.rs[0].ip4, port: 8080, fwd: 'masq' },
          { addr: lab.env.rs[1].ip4, port: 8080, fwd: 'masq' },
        ],
      );
      dr = await configure(
        d.client,
        { af: 4, protocol: 6, addr: lab.env.vip4, port: DR_PORT, scheduler: 'rr' },
        [
          { addr: lab.env.rs[0].ip4, port: DR_PORT, fwd: 'droute' },
          { addr: lab.env.rs[1].ip4, port: DR_PORT, fwd: 'droute' },
        ],
      );
      // next hops resolved, neighbour snapshot filled: the first exchanges may go
      // through the kernel's fallbacks
      await waitFor('a first NAT exchange through each worker', 15_000, async () => {
        for (const parity of [0, 1] as const) {
          const r = await lab.client('curl', [
            '-s',
            '-m',
            '2',
            '--local-port',
            String(40000 + parity + 2 * Math.floor(Math.random() * 400)),
            `http://${lab.env.vip4}/`,
          ]);
          if (r.code !== 0) return false;
        }
        return true;
      });
    });

    after(async () => {
      await lab?.down();
    });

    test('NAT: each worker carries its own flows, both directions, rr within each', async () => {
      await d.client.call({ cmd: 'zero' });
      const s0 = await service(nat);
      assert.equal(s0.stats.conns, 0, 'zeroed in both workers');
      assert.equal(s0.stats.inpkts, 0, 'zeroed in both workers');

      const c0 = await perWorker(lab);
      const even = await curls(10, 0);
      const c1 = await perWorker(lab);
      const odd = await curls(10, 1);
      const c2 = await perWorker(lab);
      const a = delta(c0, c1);
      const b = delta(c1, c2);
      // an HTTP exchange: ≥ 4 packets each way; the other worker sees none of them
      assert.ok(a[0].in >= 40 && a[0].out >= 40, `even ports, worker 0: ${JSON.stringify(a)}`);
      assert.ok(a[1].in === 0 && a[1].out === 0, `even ports, worker 1: ${JSON.stringify(a)}`);
      assert.ok(b[1].in >= 40 && b[1].out >= 40, `odd ports, worker 1: ${JSON.stringify(b)}`);
      assert.ok(b[0].in === 0 && b[0].out === 0, `odd ports, worker 0: ${JSON.stringify(b)}`);

      // merged: the service's counters are both workers' packets
      const s = await service(nat);
      assert.equal(s.stats.conns, 20);
      assert.equal(s.stats.inpkts, a[0].in + b[1].in, JSON.stringify([s.stats, a, b]));
      assert.equal(s.stats.outpkts, a[0].out + b[1].out, JSON.stringify([s.stats, a, b]));
      // rr in each worker: 5 + 5 to each real server
      assert.deepEqual(
        s.dests.map((x) => x.stats.conns),
        [10, 10],
      );
      assert.equal(
        s.dests.reduce((n, x) => n + x.stats.inpkts, 0),
        s.stats.inpkts,
      );

      // the connection listing holds both workers' connections (TIME_WAIT for 2 min)
      const listed = (await conns()).filter((c) => c.vport === NAT_PORT);
      const ports = new Set(listed.map((c) => c.cport));
      for (const p of [...even, ...odd]) assert.ok(ports.has(p), `port ${p} listed`);
      assert.equal(new Set(listed.map((c) => c.id)).size, listed.length, 'distinct ids');
      // the real servers' connection counts are the workers' tables together
      const s2 = await service(nat);
      assert.equal(
        s2.dests.reduce((n, x) => n + x.activeconns + x.inactconns, 0),
        listed.length,
      );
    });

    test('DR: requests of both parities reach their worker, balanced', async () => {
      const c0 = await perWorker(lab);
      const even = await curls(6, 0, DR_PORT);
      const odd = await curls(6, 1, DR_PORT);
      const c1 = await perWorker(lab);
      const x = delta(c0, c1);
      // DR replies go from the real server to the client directly
      assert.ok(x[0].in >= 6 * 4 && x[1].in >= 6 * 4, JSON.stringify(x));
      assert.ok(x[0].out === 0 && x[1].out === 0, JSON.stringify(x));
      const s = await service(dr);
      assert.equal(s.stats.conns, 12);
      assert.equal(s.stats.inpkts, x[0].in + x[1].in, JSON.stringify([s.stats, x]));
      assert.deepEqual(
        s.dests.map((y) => y.stats.conns),
        [6, 6],
      );
      const listed = new Set(
        (await conns()).filter((c) => c.vport === DR_PORT).map((c) => c.cport),
      );
      for (const p of [...even, ...odd]) assert.ok(listed.has(p), `port ${p} listed`);
    });

    test('UDP NAT: datagrams and their replies through the worker of their port', async () => {
      const u = await configure(
        d.client,
        { af: 4, protocol: 17, addr: lab.env.vip4, port: UDP_PORT, scheduler: 'rr' },
        [
          { addr: lab.env.rs[0].ip4, port: UDP_PORT, fwd: 'masq' },
          { addr: lab.env.rs[1].ip4, port: UDP_PORT, fwd: 'masq' },
        ],
      );
      for (const parity of [0, 1] as const) {
        const c0 = await perWorker(lab);
        const seen: string[] = [];
        for (let i = 0; i < 4; i++) {
          if ((nextPort & 1) !== parity) nextPort++;
          const lp = nextPort++;
          const r = await lab.client(
            'socat',
            ['-t', '0.5', '-', `UDP4:${lab.env.vip4}:${UDP_PORT},sourceport=${lp}`],
            { input: 'ping\n', timeoutMs: 5000 },
          );
          seen.push(r.stdout.trim());
        }
        assert.deepEqual(seen.sort(), ['rs1', 'rs1', 'rs2', 'rs2'], `parity ${parity}`);
        const x = delta(c0, await perWorker(lab));
        assert.ok(x[parity].in >= 4 && x[parity].out >= 4, JSON.stringify([parity, x]));
        assert.ok(x[1 - parity].in === 0 && x[1 - parity].out === 0, JSON.stringify([parity, x]));
      }
      const s = await service(u);
      assert.equal(s.stats.conns, 8);
      assert.equal(s.stats.inpkts, 8);
      assert.equal(s.stats.outpkts, 8);
    });

    test('a persistent service: one client, any port, one worker and one template', async () => {
      const p = await configure(
        d.client,
        {
          af: 4,
          protocol: 6,
          addr: lab.env.vip4,
          port: PERSIST_PORT,
          scheduler: 'rr',
          flags: 1,
          timeout: 60,
        },
        [
          { addr: lab.env.rs[0].ip4, port: PERSIST_RPORT, fwd: 'masq' },
          { addr: lab.env.rs[1].ip4, port: PERSIST_RPORT, fwd: 'masq' },
        ],
      );
      const c0 = await perWorker(lab);
      const seen = new Set<string>();
      const ports: number[] = [];
      for (let i = 0; i < 8; i++) {
        const lp = nextPort++; // both parities
        ports.push(lp);
        const r = await lab.client('curl', [
          '-s',
          '-m',
          '5',
          '--local-port',
          String(lp),
          `http://${lab.env.vip4}:${PERSIST_PORT}/`,
        ]);
        assert.equal(r.code, 0, r.stderr);
        seen.add(r.stdout.trim());
      }
      assert.equal(seen.size, 1, `persistence: ${[...seen].join(', ')}`);
      const x = delta(c0, await perWorker(lab));
      // shared by the client's address: the lab's one client is one worker's
      const busy = x.filter((w) => w.in >= 8 * 4 && w.out >= 8 * 4);
      const idle = x.filter((w) => w.in === 0 && w.out === 0);
      assert.ok(busy.length === 1 && idle.length === 1, JSON.stringify(x));
      const listed = (await conns()).filter((c) => c.vport === PERSIST_PORT);
      assert.equal(listed.filter((c) => c.template).length, 1, JSON.stringify(listed));
      for (const lp of ports)
        assert.ok(
          listed.some((c) => c.cport === lp),
          `port ${lp}`,
        );
      assert.equal(
        (await service(p)).stats.conns,
        8,
        'eight connections (a template is not counted)',
      );
    });

    test('connection sync is refused with a clear message, nothing changed', async () => {
      await assert.rejects(
        d.client.call({
          cmd: 'startDaemon',
          daemon: { state: 'master', mcastIfn: 'eth0', syncId: 1 },
        }),
        /connection sync is not available with --workers 2/,
      );
      assert.deepEqual(await d.client.call({ cmd: 'getDaemons' }), []);
    });

    test('what several workers cannot do is refused at start', async () => {
      const start = (args: string[]) =>
        sh(lab.ns.director, process.execPath, [
          TSVS,
          'daemon',
          '--no-state',
          '--control',
          `${lab.dir}/refused.sock`,
          ...args,
        ]);
      let r = await start(['--workers', '3']);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /--workers 3: expected 1, 2, 4 or 8/);
      r = await start(['--workers', '2', '--ftp-ports', '21']);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /--workers 2: not with --ftp-ports/);
      r = await start(['--workers', '2', '--takeover']);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /--workers 2: not with --takeover/);
      // the running daemon's devices and service are untouched
      assert.equal((await service(nat)).dests.length, 2);
    });

    test('configuration commands reach every worker', async () => {
      await d.client.call({
        cmd: 'delDest',
        service: nat,
        dest: { addr: lab.env.rs[1].ip4, port: 8080 },
      });
      for (const parity of [0, 1] as const)
        for (let i = 0; i < 3; i++) {
          const lp = nextPort + 2 * i + ((nextPort + parity) & 1);
          const r = await lab.client('curl', [
            '-s',
            '-m',
            '5',
            '--local-port',
            String(lp),
            `http://${lab.env.vip4}/`,
          ]);
          assert.equal(r.code, 0, r.stderr);
          assert.equal(r.stdout.trim(), 'rs1', `port ${lp}: the deleted real server is not used`);
        }
      nextPort += 20;
    });

    test("a clean stop removes every worker's devices", async () => {
      assert.equal(await d.stop('SIGINT'), 0);
      const r = await sh(lab.ns.director, 'ip', ['-o', 'link', 'show']);
      assert.doesNotMatch(r.stdout, /tsvs[ios]-/);
    });

    test("after a crash, --stop-clean removes every worker's devices and filters", async () => {
      const sock = `${lab.dir}/crash.sock`;
      const d2 = await lab.daemon(['--workers', '2'], sock);
      await configure(
        d2.client,
        { af: 4, protocol: 6, addr: lab.env.vip4, port: NAT_PORT, scheduler: 'rr' },
        [{ addr: lab.env.rs[0].ip4, port: 8080, fwd: 'masq' }],
      );
      assert.equal(await d2.stop('SIGKILL'), null);
      let r = await sh(lab.ns.director, 'ip', ['-o', 'link', 'show']);
      assert.match(r.stdout, new RegExp(`tsvsi-${P}-1`), 'left by the crash');
      r = await sh(lab.ns.director, process.execPath, [
        TSVS,
        'daemon',
        '--stop-clean',
        '--name',
        P,
        '--control',
        sock,
      ]);
      assert.equal(r.code, 0, r.stderr);
      r = await sh(lab.ns.director, 'ip', ['-o', 'link', 'show']);
      assert.doesNotMatch(r.stdout, /tsvs[ios]-/);
      r = await sh(lab.ns.director, 'tc', ['filter', 'show', 'dev', 'eth0', 'ingress']);
      assert.doesNotMatch(r.stdout, /u32|mirred/, r.stdout);
    });
  },
);
