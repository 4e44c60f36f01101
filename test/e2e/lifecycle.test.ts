/**
 * Daemon life cycle in the lab: a real server removed while connections are open
 * (new connections go to the other one; established ones follow expire_nodest_conn),
 * and a daemon killed with SIGKILL then started again leaves no duplicate rules and
 * works; SIGTERM removes every rule it installed.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import {
  Lab,
  configure,
  e2eUnavailable,
  serversListening,
  sh,
  bg,
  waitFor,
  type Daemon,
} from './harness.js';
import type { ServiceId } from '../../src/control/model.js';

const skip = e2eUnavailable();

/** Our tc filters (pref 7100/7101) on an interface's ingress, as `tc filter show` lines. */
async function steerFilters(lab: Lab, dev: string): Promise<string[]> {
  const r = await sh(lab.ns.director, 'tc', ['filter', 'show', 'dev', dev, 'ingress']);
  return r.stdout.split('\n').filter((l) => /pref 710[01] u32 .*fh 8[0-9a-f]*::8/.test(l));
}

/** Our rules in the director's mangle table (IPv4, or IPv6 with v6). */
async function mangle(lab: Lab, v6 = false): Promise<string> {
  const r = await sh(lab.ns.director, v6 ? 'ip6tables-legacy-save' : 'iptables-legacy-save', [
    '-t',
    'mangle',
  ]);
  return r.stdout
    .split('\n')
    .filter((l) => l.includes('TSVS'))
    .join('\n');
}

describe('e2e daemon life cycle', { skip: skip ?? false, timeout: 180_000 }, () => {
  let lab: Lab;
  let d: Daemon;
  let svc: ServiceId;
  let url: string;

  before(async () => {
    lab = Lab.up('e2elife');
    url = `http://${lab.env.vip4}/`;
    lab.http(0, 8080);
    lab.http(1, 8080);
    // a TCP echo for a long-lived connection
    for (const ns of [lab.ns.rs1, lab.ns.rs2])
      lab.track(bg(ns, 'socat', ['TCP4-LISTEN:9000,reuseaddr,fork', 'EXEC:cat']));
    await serversListening(lab, [8080, 9000]);
  });

  after(async () => {
    await lab?.down();
  });

  /**
   * True when the client's TCP connection to `peer` has an unacknowledged segment it
   * has retransmitted (`ss -ti`: retrans:CURRENT/TOTAL with CURRENT > 0).
   */
  async function retransmitting(l: Lab, peer: string): Promise<boolean> {
    const r = await sh(l.ns.client, 'ss', ['-tinH', 'dst', peer]);
    const m = /retrans:(\d+)\//.exec(r.stdout);
    return m !== null && Number(m[1]) > 0;
  }

  test('a real server removed while connections are open', async () => {
    d = await lab.daemon();
    const dests = (p: number) => [
      { addr: lab.env.rs[0].ip4, port: p, fwd: 'masq' as const },
      { addr: lab.env.rs[1].ip4, port: p, fwd: 'masq' as const },
    ];
    svc = await configure(
      d.client,
      { af: 4, protocol: 6, addr: lab.env.vip4, port: 80, scheduler: 'rr' },
      dests(8080),
    );
    const echo = await configure(
      d.client,
      { af: 4, protocol: 6, addr: lab.env.vip4, port: 9000, scheduler: 'rr' },
      dests(9000),
    );
    // a long-lived echo connection: write a line every 200 ms, read them back
    const cl = spawn(
      'ip',
      ['netns', 'exec', lab.ns.client, 'socat', '-', `TCP:${lab.env.vip4}:9000`],
      { stdio: ['pipe', 'pipe', 'ignore'] },
    );
    let echoed = '';
    cl.stdout.setEncoding('utf8').on('data', (s: string) => (echoed += s));
    cl.stdin.write('hello\n');
    await waitFor('the echo before the removal', 5000, async () => echoed === 'hello\n');
    assert.equal(echoed, 'hello\n', 'echo works before the removal');
    const conn = (await d.client.call({ cmd: 'listConnections' })).find((c) => c.vport === 9000)!;
    // remove the echo connection's real server
    await d.client.call({ cmd: 'delDest', service: echo, dest: { addr: conn.daddr, port: 9000 } });
    await d.client.call({ cmd: 'delDest', service: svc, dest: { addr: conn.daddr, port: 8080 } });
    const other = conn.daddr === lab.env.rs[0].ip4 ? 'rs2' : 'rs1';
    for (let i = 0; i < 4; i++) {
      const r = await lab.client('curl', ['-s', '-m', '5', url]);
      assert.equal(r.stdout.trim(), other, 'new connections go to the remaining server');
    }
    // expire_nodest_conn=0 (default): packets of the established conn are dropped silently,
    // the conn stays in the table until it times out
    cl.stdin.write('lost\n');
    // the line went out and was not acknowledged: the client's TCP is retransmitting it
    await waitFor('the client to retransmit the dropped line', 10_000, async () =>
      retransmitting(lab, `${lab.env.vip4}:9000`),
    );
    assert.equal(echoed, 'hello\n', 'the established connection no longer gets through');
    const still = (await d.client.call({ cmd: 'listConnections' })).filter((c) => c.vport === 9000);
    assert.equal(still.length, 1);
    assert.equal(still[0].daddr, conn.daddr);
    // with expire_nodest_conn=1 the next packet expires it (and it is not rescheduled: no SYN)
    await d.client.call({ cmd: 'sysctlSet', name: 'net.ipv4.vs.expire_nodest_conn', value: '1' });
    cl.stdin.write('again\n');
    const expired = async (): Promise<boolean> =>
      !(await d.client.call({ cmd: 'listConnections' })).some(
        (c) => c.vport === 9000 && c.daddr === conn.daddr,
      );
    await waitFor('the connection to expire', 10_000, expired);
    const gone = (await d.client.call({ cmd: 'listConnections' })).filter(
      (c) => c.vport === 9000 && c.daddr === conn.daddr,
    );
    assert.equal(gone.length, 0, 'expired by expire_nodest_conn');
    cl.kill();
  });

  test('SIGKILL, then a new daemon: no duplicate rules, traffic flows', async () => {
    const before1 = await mangle(lab);
    assert.match(before1, /-A PREROUTING ! -i tsvsi-e2elife -j TSVS_e2elife_REQ/);
    const clientIf = lab.env.director.clientIf;
    const filters1 = await steerFilters(lab, clientIf);
    assert.ok(filters1.length > 0, 'steering filters on the client-side interface');
    d.proc.kill('SIGKILL');
    await new Promise((r) => d.proc.once('exit', r));
    const left = await mangle(lab);
    assert.match(left, /TSVS_e2elife_REQ/, 'a crash leaves its rules behind');
    const d2 = await lab.daemon();
    await configure(
      d2.client,
      { af: 4, protocol: 6, addr: lab.env.vip4, port: 80, scheduler: 'rr' },
      [
        { addr: lab.env.rs[0].ip4, port: 8080, fwd: 'masq' },
        { addr: lab.env.rs[1].ip4, port: 8080, fwd: 'masq' },
      ],
    );
    const rules = await mangle(lab);
    assert.equal(
      rules.split('\n').filter((l) => l === '-A PREROUTING ! -i tsvsi-e2elife -j TSVS_e2elife_REQ')
        .length,
      1,
      rules,
    );
    assert.equal(
      rules.split('\n').filter((l) => l === '-A FORWARD ! -i tsvsi-e2elife -j TSVS_e2elife_REP')
        .length,
      1,
      rules,
    );
    // the tc filters were replaced, not added twice (one request, one SYN-only request
    // (known flows first: SYNs have their own device) and two reply filters; they follow
    // the rules within a moment)
    let n = 0;
    await waitFor('the steering filters', 5000, async () => {
      n = (await steerFilters(lab, clientIf)).length;
      return n >= 4;
    }).catch(() => undefined);
    assert.equal(n, 4);
    const reqRules = rules
      .split('\n')
      .filter((l) => l.startsWith('-A TSVS_e2elife_REQ') && l.includes('--dport 80'));
    assert.equal(reqRules.length, 1, rules);
    const seen = new Set<string>();
    for (let i = 0; i < 4; i++)
      seen.add((await lab.client('curl', ['-s', '-m', '5', url])).stdout.trim());
    assert.deepEqual([...seen].sort(), ['rs1', 'rs2']);
    assert.equal(await d2.stop('SIGTERM'), 0);
    assert.equal(await mangle(lab), '', 'SIGTERM removes every IPv4 rule');
    assert.equal(await mangle(lab, true), '', 'and every IPv6 rule');
    for (const dev of [clientIf, lab.env.director.serverIf]) {
      const q = await sh(lab.ns.director, 'tc', ['qdisc', 'show', 'dev', dev]);
      assert.doesNotMatch(q.stdout, /clsact/, `the clsact qdisc on ${dev} is gone`);
    }
    const links = await sh(lab.ns.director, 'ip', ['-o', 'link', 'show']);
    assert.doesNotMatch(links.stdout, /tsvs[io]-/, 'the steering devices are gone');
  });

  test('the daemon refuses to start without root privileges, with a clear message', async () => {
    const r = await sh(null, 'setpriv', [
      '--reuid=65534',
      '--regid=65534',
      '--clear-groups',
      process.execPath,
      (await import('./harness.js')).TSVS,
      'daemon',
      '--no-state',
      '--control',
      '/tmp/tsvs-nobody.sock',
    ]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /must run as root/);
  });
});
