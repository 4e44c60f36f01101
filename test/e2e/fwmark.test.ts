/**
 * Firewall-mark services as IPVS runs them: the operator's mangle rule marks the
 * packets and routing delivers them locally; the director takes them at INPUT, after
 * every PREROUTING rule (so a MARK rule added after the daemon started still counts).
 * And the cache bypass (spec §2.10): a fwmark service with no real server available
 * and cache_bypass=1 forwards the packet to its original destination.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Lab, configure, e2eUnavailable, serversListening, sh, type Daemon } from './harness.js';

const skip = e2eUnavailable();

describe('e2e fwmark services and cache bypass', { skip: skip ?? false, timeout: 120_000 }, () => {
  let lab: Lab;
  let d: Daemon;
  const VIP2 = '10.201.3.200';

  before(async () => {
    lab = Lab.up('e2efwm');
    lab.http(0, 8080);
    lab.http(1, 8080);
    await serversListening(lab, [8080]);
    d = await lab.daemon();
    const dir = lab.ns.director;
    // the second VIP is local on the director, as keepalived would put it
    await sh(dir, 'ip', ['addr', 'add', `${VIP2}/32`, 'dev', 'lo']);
    // MARK rules added after the daemon, i.e. after its PREROUTING jump
    await sh(dir, 'iptables-legacy', [
      '-t',
      'mangle',
      '-A',
      'PREROUTING',
      '-d',
      VIP2,
      '-p',
      'tcp',
      '--dport',
      '80',
      '-j',
      'MARK',
      '--set-mark',
      '5',
    ]);
    await sh(dir, 'iptables-legacy', [
      '-t',
      'mangle',
      '-A',
      'PREROUTING',
      '-d',
      lab.env.rs[1].ip4,
      '-p',
      'tcp',
      '--dport',
      '8080',
      '-j',
      'MARK',
      '--set-mark',
      '7',
    ]);
    // a transparent cache's routing: marked packets are delivered locally
    await sh(dir, 'ip', ['rule', 'add', 'fwmark', '7', 'lookup', '107']);
    await sh(dir, 'ip', ['route', 'add', 'local', '0.0.0.0/0', 'dev', 'lo', 'table', '107']);
  });

  after(async () => {
    await lab?.down();
  });

  test('a fwmark NAT service balances the marked traffic rr', async () => {
    await configure(d.client, { af: 4, protocol: 6, fwmark: 5, scheduler: 'rr' }, [
      { addr: lab.env.rs[0].ip4, port: 8080, fwd: 'masq' },
      { addr: lab.env.rs[1].ip4, port: 8080, fwd: 'masq' },
    ]);
    const seen: string[] = [];
    for (let i = 0; i < 4; i++) {
      const r = await lab.client('curl', ['-s', '-m', '5', `http://${VIP2}/`]);
      assert.equal(r.code, 0, r.stderr + d.log.join('\n'));
      seen.push(r.stdout.trim());
    }
    assert.deepEqual(seen.slice().sort(), ['rs1', 'rs1', 'rs2', 'rs2']);
    const conns = (await d.client.call({ cmd: 'listConnections' })).filter((c) => c.vaddr === VIP2);
    assert.equal(conns.length, 4);
  });

  test('cache bypass: no real server, cache_bypass=1 → the packet goes to its original destination', async () => {
    await d.client.call({ cmd: 'sysctlSet', name: 'net.ipv4.vs.cache_bypass', value: '1' });
    await configure(d.client, { af: 4, protocol: 6, fwmark: 7, scheduler: 'rr' }, []);
    const r = await lab.client('curl', ['-s', '-m', '5', `http://${lab.env.rs[1].ip4}:8080/`]);
    assert.equal(r.code, 0, r.stderr + d.log.join('\n'));
    assert.equal(r.stdout.trim(), 'rs2');
    const bypass = (await d.client.call({ cmd: 'listConnections' })).filter(
      (c) => c.vaddr === lab.env.rs[1].ip4 && (c.flags & 7) === 4,
    );
    assert.equal(bypass.length, 1, 'one BYPASS connection');
    assert.equal(bypass[0].daddr, '0.0.0.0');
  });

  test('without cache_bypass the same packet is answered with port unreachable', async () => {
    await d.client.call({ cmd: 'sysctlSet', name: 'net.ipv4.vs.cache_bypass', value: '0' });
    const r = await lab.client('curl', ['-s', '-m', '5', `http://${lab.env.rs[1].ip4}:8080/`]);
    assert.equal(r.code, 7, 'curl: connection refused (ICMP port unreachable)');
  });
});
