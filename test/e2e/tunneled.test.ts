/**
 * ignore_tunneled through the real data plane (issue 13, item 6).
 *
 * The kernel marks a packet tunnelled when its outer packet had a protocol IPVS does
 * not handle (IPIP, GRE, SIT, ip6tnl, VTI: src/dataplane/tunneldev.ts); an inner packet
 * of a UDP tunnel (VXLAN, Geneve, FOU) is not marked, since its outer packet went
 * through IPVS's UDP handler. This machine's kernel has no ipip, gre, sit, ip6tnl,
 * geneve or ESP (`ip link add type ipip` → "Unknown device type"; CONFIG_INET_ESP
 * unset): VXLAN is its only tunnel. So this file shows, with a real VXLAN between the
 * client and the director and the real daemon:
 * - the director reads the interface kinds of its namespace as the kernel would class
 *   them (every interface here plain, the VXLAN device included);
 * - with ignore_tunneled 0 and 1 alike, a request that arrives decapsulated from the
 *   VXLAN is balanced, as the kernel does (a kernel tunnel device would make it pass to
 *   the director's own stack with 1: the engine test test/engine/tunneled.test.ts).
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Lab, configure, e2eUnavailable, sh, waitFor, type Daemon } from './harness.js';
import { DEV_PLAIN, TunnelDevices, type TunnelLinkJson } from '../../src/dataplane/tunneldev.js';

const skip = e2eUnavailable();
const VX = 'e2etun-vx';
const CLIENT_VX = '10.250.42.1';
const DIR_VX = '10.250.42.2';

describe('e2e ignore_tunneled', { skip: skip ?? false, timeout: 90_000 }, () => {
  let lab: Lab;
  let d: Daemon;

  before(async () => {
    lab = Lab.up('e2etun');
    lab.http(0, 80);
    await waitFor('rs1 listening', 10_000, async () => {
      const r = await sh(lab.ns.rs1, 'ss', ['-Hltn', 'sport = :80']);
      return r.stdout.trim() !== '';
    });
    const env = lab.env;
    // a VXLAN between the client and the director over the client LAN; the client
    // reaches the VIP through it
    for (const [ns, local, remote, addr] of [
      [env.ns.client, env.client4, env.director.client4, CLIENT_VX],
      [env.ns.director, env.director.client4, env.client4, DIR_VX],
    ]) {
      const r = await sh(ns, 'ip', [
        'link',
        'add',
        VX,
        'type',
        'vxlan',
        'id',
        '42',
        'dstport',
        '4789',
        'local',
        local,
        'remote',
        remote,
      ]);
      assert.equal(r.code, 0, r.stderr);
      await sh(ns, 'ip', ['addr', 'add', `${addr}/30`, 'dev', VX]);
      await sh(ns, 'ip', ['link', 'set', VX, 'up']);
    }
    await sh(env.ns.client, 'ip', ['route', 'add', `${env.vip4}/32`, 'via', DIR_VX]);
    d = await lab.daemon();
    await configure(d.client, { af: 4, protocol: 6, addr: env.vip4, port: 80, scheduler: 'rr' }, [
      { addr: env.rs[0].ip4, port: 80, fwd: 'masq' },
    ]);
  });

  after(async () => {
    await lab?.down();
  });

  test('the interfaces of the namespace, as the kernel classes their packets', async () => {
    const r = await sh(lab.ns.director, 'ip', ['-d', '-j', 'link', 'show']);
    assert.equal(r.code, 0, r.stderr);
    const links = JSON.parse(r.stdout) as TunnelLinkJson[];
    const vx = links.find((l) => l.ifname === VX);
    assert.equal(vx?.linkinfo?.info_kind, 'vxlan');
    const t = new TunnelDevices(undefined, undefined, () => links);
    for (const l of links) {
      assert.equal(t.tunnelled(l.ifindex!), false, `${l.ifname} is not a tunnel for IPVS`);
      assert.equal(t.state[l.ifindex!], DEV_PLAIN);
    }
  });

  for (const value of ['0', '1']) {
    test(`ignore_tunneled=${value}: a request decapsulated from VXLAN is balanced`, async () => {
      await d.client.call({ cmd: 'sysctlSet', name: 'net.ipv4.vs.ignore_tunneled', value });
      const fromVx = async (): Promise<number> =>
        (await d.client.call({ cmd: 'listConnections' })).filter((c) => c.caddr === CLIENT_VX)
          .length;
      const before = await fromVx();
      const r = await lab.client('curl', ['-s', '-m', '5', `http://${lab.env.vip4}/`]);
      assert.equal(r.code, 0, r.stderr + d.log.join('\n'));
      assert.equal(r.stdout.trim(), 'rs1');
      assert.equal(await fromVx(), before + 1, 'one more connection from the VXLAN side');
    });
  }
});
