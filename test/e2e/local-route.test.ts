/**
 * A DR real server whose address is the director's own (issue 13, item 7): as current
 * kernels do, the configured method stays (listed Route) and the packet goes to the
 * director's own stack, where a server on the VIP answers the client.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Lab, configure, e2eUnavailable, httpServer, waitFor, sh, type Daemon } from './harness.js';

const skip = e2eUnavailable();

describe('e2e DR to a local real server', { skip: skip ?? false, timeout: 90_000 }, () => {
  let lab: Lab;
  let d: Daemon;

  before(async () => {
    lab = Lab.up('e2elocdr');
    lab.track(httpServer(lab.ns.director, 'director', 80));
    await waitFor('the director http server', 10_000, async () => {
      const r = await sh(lab.ns.director, 'ss', ['-Hltn', 'sport = :80']);
      return r.stdout.trim() !== '';
    });
    d = await lab.daemon();
  });

  after(async () => {
    await lab?.down();
  });

  test('DR to the director itself is served locally and listed Route', async () => {
    await configure(
      d.client,
      { af: 4, protocol: 6, addr: lab.env.vip4, port: 80, scheduler: 'rr' },
      [{ addr: lab.env.director.server4, port: 80, fwd: 'droute' }],
    );
    for (let i = 0; i < 2; i++) {
      const r = await lab.client('curl', ['-s', '-m', '5', `http://${lab.env.vip4}/`]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.trim(), 'director');
    }
    const [svc] = await d.client.call({ cmd: 'listServices' });
    assert.equal(svc.dests[0].fwd, 'droute');
    assert.ok(svc.dests[0].inactconns + svc.dests[0].activeconns >= 1);
  });
});
