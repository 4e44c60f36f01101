/**
 * HTTP_GET's url walk as keepalived 2.2's check_http.c paces it (epilog), with the real
 * health manager and checks against a real HTTP responder on loopback: one url per
 * delay_loop; a failing url retried after delay_before_retry, then the server down
 * and only that url checked, every max(delay_before_retry, delay_loop); when it passes
 * the walk starts over and the server comes back at the end of a complete walk.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type AddressInfo } from 'node:net';
import { Engine } from '../../src/engine/engine.js';
import { ControlModel } from '../../src/control/model.js';
import { parseKeepalived } from '../../src/health/keepalived.js';
import { HealthManager } from '../../src/health/manager.js';
import { waitFor as waitForCondition } from '../helpers/wait.js';

const waitFor = (what: string, ms: number, fn: () => Promise<boolean>): Promise<void> =>
  waitForCondition(fn, { timeout: ms, what, interval: 20 });

test('HTTP_GET walks its urls one per delay_loop; a failed url is retried, then watched alone', async () => {
  const log: { path: string; at: number }[] = [];
  const failing = new Set<string>();
  const srv = createServer((s) => {
    let req = '';
    s.on('data', (d: Buffer) => {
      req += d.toString();
      if (!req.endsWith('\r\n\r\n')) return;
      const path = req.split(' ')[1];
      log.push({ path, at: Date.now() });
      s.end(failing.has(path) ? 'HTTP/1.0 500 Bad\r\n\r\nno\n' : 'HTTP/1.0 200 OK\r\n\r\nok\n');
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as AddressInfo).port;
  const cfg = parseKeepalived(`
virtual_server 10.9.9.9 80 {
  lvs_sched rr
  lvs_method NAT
  protocol TCP
  real_server 127.0.0.1 ${port} {
    HTTP_GET {
      url { path /a }
      url { path /b }
      url { path /c }
      connect_timeout 1
      delay_loop 0.4
      retry 1
      delay_before_retry 0.1
      warmup 0
      alpha
    }
  }
}
`);
  assert.deepEqual(cfg.errors, []);
  const model = new ControlModel(new Engine());
  const lines: string[] = [];
  const h = new HealthManager(model, cfg, (l) => lines.push(l));
  const inRotation = (): boolean => model.services().some((s) => s.dests.length > 0);
  const paths = (from = 0, to?: number): string =>
    log
      .slice(from, to)
      .map((x) => x.path)
      .join(' ');
  h.start();
  try {
    await waitFor('the first complete walk', 5000, () => Promise.resolve(inRotation()));
    assert.equal(paths(), '/a /b /c', 'up at the end of the first walk, not before');
    // one url per delay_loop
    for (let i = 1; i < 3; i++) assert.ok(log[i].at - log[i - 1].at >= 350, paths());
    await waitFor('the next walk', 5000, () => Promise.resolve(log.length >= 5));
    assert.equal(paths(3, 5), '/a /b');
    // /b fails: retried once after delay_before_retry, then down; from then on /b alone
    failing.add('/b');
    const mark = log.length;
    await waitFor('down', 5000, () => Promise.resolve(!inRotation()));
    const down = log.length;
    await waitFor('two more checks while down', 5000, () =>
      Promise.resolve(log.length >= down + 2),
    );
    const seen = log.slice(mark).map((x) => x.path);
    const firstB = seen.indexOf('/b');
    assert.ok(firstB >= 0, paths(mark));
    assert.deepEqual(
      seen.slice(firstB),
      seen.slice(firstB).map(() => '/b'),
      paths(mark),
    );
    const bs = log.slice(mark).filter((x) => x.path === '/b');
    assert.ok(
      bs[1].at - bs[0].at < 300,
      `retry after delay_before_retry: ${bs[1].at - bs[0].at} ms`,
    );
    assert.ok(
      bs[2].at - bs[1].at >= 350,
      `down: every max(dbr, delay_loop): ${bs[2].at - bs[1].at} ms`,
    );
    // /b passes again: the walk starts over, the server returns after /a /b /c
    failing.delete('/b');
    const back = log.length;
    await waitFor('up again', 5000, () => Promise.resolve(inRotation()));
    assert.match(paths(back), /^\/b \/a \/b \/c/);
  } finally {
    h.stop();
    srv.close();
  }
});
