/**
 * Local forwarding (LOCALNODE, spec §7.5): a real server that is the director itself;
 * the packet is accepted unchanged into the director's own stack, where a server on the
 * VIP answers the client directly.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Lab, configure, e2eUnavailable, httpServer, waitFor, sh, type Daemon } from './harness.js';

const skip = e2eUnavailable();

describe('e2e local forwarding', { skip: skip ?? false, timeout: 90_000 }, () => {
  let lab: Lab;
  let d: Daemon;

  before(async () => {
    lab = Lab.up('e2elocal');
    lab.track(httpServer(lab.ns.director, 'director', 80));
    lab.http(0, 80);
    await waitFor('the director http server', 10_000, async () => {
      const r = await sh(lab.ns.director, 'ss', ['-Hltn', 'sport = :80']);
      return r.stdout.trim() !== '';
    });
    d = await lab.daemon();
  });

  after(async () => {
    await lab?.down();
  });

  test('a local real server is served by the director itself, rr with a NAT one', async () => {
    await configure(
      d.client,
      { af: 4, protocol: 6, addr: lab.env.vip4, port: 80, scheduler: 'rr' },
      [
        { addr: lab.env.director.server4, port: 80, fwd: 'local' },
        { addr: lab.env.rs[0].ip4, port: 80, fwd: 'masq' },
      ],
    );
    const seen: string[] = [];
    for (let i = 0; i < 4; i++) {
      const r = await lab.client('curl', ['-s', '-m', '5', `http://${lab.env.vip4}/`]);
      assert.equal(r.code, 0, r.stderr);
      seen.push(r.stdout.trim());
    }
    assert.deepEqual(seen.slice().sort(), ['director', 'director', 'rs1', 'rs1']);
    const conns = (await d.client.call({ cmd: 'listConnections' })).filter(
      (c) => c.daddr === lab.env.director.server4,
    );
    assert.equal(conns.length, 2);
  });
});
