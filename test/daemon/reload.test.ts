/**
 * Configuration files as start, reload and `tsvs check` judge them: validated whole
 * first (every problem with file:line), then applied by difference over the running
 * model, which keeps the engine objects (and so the connections, scheduler state and
 * counters) of what did not change. In-process, over a real model and engine.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/daemon/config.js';
import { Configurator, runReloadCommand } from '../../src/daemon/reload.js';
import { startControlServer } from '../../src/control/server.js';
import { runCheck, looksLikeKeepalived } from '../../src/daemon/check.js';
import { lineLogger } from '../../src/daemon/log.js';
import { HealthManager } from '../../src/health/manager.js';
import { encodeConfig } from '../../src/control/persist.js';
import { newModel } from '../control/helpers.js';

const RULES = `# two services
-A -t 10.0.0.1:80 -s wrr
-a -t 10.0.0.1:80 -r 10.0.1.1:80 -m -w 1
-a -t 10.0.0.1:80 -r 10.0.1.2:80 -m -w 2
-A -u 10.0.0.1:53 -s rr
-a -u 10.0.0.1:53 -r 10.0.1.3:53 -m
`;

const KA = `virtual_server 10.0.0.9 80 {
  lb_algo rr
  lb_kind NAT
  protocol TCP
  real_server 10.0.1.1 80 {
    weight 1
  }
}
`;

function files(): { dir: string; write(name: string, text: string): string } {
  const dir = mkdtempSync(join(tmpdir(), 'tsvs-reload-'));
  return {
    dir,
    write(name, text) {
      const p = join(dir, name);
      writeFileSync(p, text);
      return p;
    },
  };
}

function configurator(config?: string, keepalived?: string, ignoreErrors = false) {
  const m = newModel();
  const lines: string[] = [];
  const c = new Configurator({
    model: m,
    sources: { config, keepalived },
    log: lineLogger((l) => lines.push(l)),
    ignoreErrors,
  });
  return { m, c, lines };
}

test('every problem of a rules file, with its line, and nothing applied', async () => {
  const f = files();
  try {
    const p = f.write(
      'bad.rules',
      `${RULES}-a -t 10.0.0.2:80 -r 10.0.1.9:80\n-A -t 10.0.0.3:80 -s nosuch\n-e -t 10.0.0.1:80 -r 10.0.1.1:80 -w -3\n`,
    );
    const l = await loadConfig({ config: p });
    assert.deepEqual(
      l.problems.map((x) => [x.file, x.line]),
      [
        [p, 7],
        [p, 8],
        [p, 9],
      ],
    );
    assert.match(l.problems[0].message, /Service not defined/);
    assert.match(l.problems[1].message, /Scheduler/);
    const { m, c } = configurator(p);
    assert.equal((await c.start()).length, 3, 'a problem at start is fatal');
    assert.equal(m.services().length, 0, 'nothing was applied');
  } finally {
    rmSync(f.dir, { recursive: true, force: true });
  }
});

test('--ignore-config-errors starts with what validated', async () => {
  const f = files();
  try {
    const p = f.write('bad.rules', `${RULES}-A -t 10.0.0.3:80 -s nosuch\n`);
    const { m, c, lines } = configurator(p, undefined, true);
    assert.deepEqual(await c.start(), []);
    assert.equal(m.services().length, 2);
    assert.ok(
      lines.some((l) => l.includes(`${p}:7:`)),
      lines.join('\n'),
    );
  } finally {
    rmSync(f.dir, { recursive: true, force: true });
  }
});

test('reload applies the difference: unchanged objects kept, weight edited in place, server removed', async () => {
  const f = files();
  try {
    const p = f.write('rules', RULES);
    const { m, c } = configurator(p);
    assert.deepEqual(await c.start(), []);
    const svc = m.engine.services.map((s) => s);
    const d1 = svc[0].dests.find((d) => d.weight === 1)!;
    const d2 = svc[0].dests.find((d) => d.weight === 2)!;
    d1.stats.conns = 42; // counters survive a reload that does not touch the server
    // unchanged file: nothing happens
    const gen = m.generation;
    const same = await c.reload();
    assert.deepEqual(same, { ok: true, changes: [], problems: [], warnings: [] });
    assert.equal(m.generation, gen);
    // weight of 10.0.1.2 changed, 10.0.1.1 removed, a server added to UDP
    writeFileSync(
      p,
      RULES.replace('-r 10.0.1.2:80 -m -w 2', '-r 10.0.1.2:80 -m -w 5')
        .replace('-a -t 10.0.0.1:80 -r 10.0.1.1:80 -m -w 1\n', '')
        .concat('-a -u 10.0.0.1:53 -r 10.0.1.4:53 -m\n'),
    );
    const r = await c.reload();
    assert.equal(r.ok, true, r.problems.join('\n'));
    assert.deepEqual(r.changes.sort(), [
      'real server 10.0.1.1:80 of TCP 10.0.0.1:80 deleted',
      'real server 10.0.1.2:80 of TCP 10.0.0.1:80 edited (weight 5)',
      'real server 10.0.1.4:53 of UDP 10.0.0.1:53 added',
    ]);
    assert.deepEqual(m.engine.services, svc, 'the same service objects');
    assert.ok(svc[0].dests.includes(d2) && d2.weight === 5, 'edited in place');
    assert.ok(!svc[0].dests.includes(d1));
    assert.equal(svc[1].dests.length, 2);
  } finally {
    rmSync(f.dir, { recursive: true, force: true });
  }
});

test('a bad file on reload changes nothing and says why; the file wins over run-time changes', async () => {
  const f = files();
  try {
    const p = f.write('rules', RULES);
    const { m, c, lines } = configurator(p);
    await c.start();
    const before = m.snapshot();
    writeFileSync(p, `${RULES}-a -t 10.0.0.1:80 -r 10.0.1.7:80 -x 5 -y 9\n`);
    const r = await c.reload();
    assert.equal(r.ok, false);
    assert.equal(r.problems.length, 1);
    assert.match(r.problems[0], new RegExp(`^${p}:7: `));
    assert.deepEqual(m.snapshot(), before);
    assert.ok(
      lines.some((l) => /reload refused/.test(l)),
      lines.join('\n'),
    );
    // a change made at run time to what the file governs is undone by the next reload
    writeFileSync(p, RULES);
    m.editDest(
      { af: 4, protocol: 6, addr: '10.0.0.1', port: 80 },
      { addr: '10.0.1.1', port: 80, weight: 9 },
    );
    m.addService({ af: 4, protocol: 6, addr: '10.0.0.5', port: 80 });
    const back = await c.reload();
    assert.equal(back.ok, true);
    assert.deepEqual(m.snapshot(), before);
  } finally {
    rmSync(f.dir, { recursive: true, force: true });
  }
});

test('a JSON configuration: problems by item, the whole configuration governed', async () => {
  const f = files();
  try {
    const good = newModel();
    good.addService({ af: 4, protocol: 6, addr: '10.0.0.1', port: 80, scheduler: 'rr' });
    good.setTimeouts({ tcp: 100 });
    const snap = good.snapshot();
    const p = f.write('c.json', encodeConfig(snap));
    const { m, c } = configurator(p);
    assert.deepEqual(await c.start(), []);
    assert.deepEqual(m.snapshot(), snap);
    const bad = f.write(
      'bad.json',
      encodeConfig({ ...snap, timeouts: { tcp: -5, tcpfin: 1, udp: 1 } }),
    );
    const l = await loadConfig({ config: bad });
    assert.equal(l.problems.length, 1);
    assert.match(l.problems[0].message, /^timeouts: /);
    const broken = f.write('broken.json', '{"format":"tsvs-config",\n"version":1,\n"config": {,}}');
    const b = await loadConfig({ config: broken });
    assert.equal(b.problems[0].line, 3, b.problems[0].message);
  } finally {
    rmSync(f.dir, { recursive: true, force: true });
  }
});

test('keepalived.conf: its problems with lines; a service in both files is refused', async () => {
  const f = files();
  try {
    const ka = f.write('keepalived.conf', KA.replace('lb_algo rr', 'lb_algo nosuch'));
    const l = await loadConfig({ keepalived: ka });
    assert.ok(l.problems.length >= 1);
    assert.equal(l.problems[0].file, ka);
    assert.ok(l.problems[0].line !== undefined);
    const rules = f.write('rules', `${RULES}-A -t 10.0.0.9:80 -s rr\n`);
    const ok = f.write('ka2.conf', KA);
    const both = await loadConfig({ config: rules, keepalived: ok });
    assert.equal(both.problems.length, 1);
    assert.match(both.problems[0].message, /also defined in/);
    const fine = await loadConfig({ config: f.write('r2', RULES), keepalived: ok });
    assert.deepEqual(fine.problems, []);
    assert.equal(fine.keepalivedServices.size, 1);
  } finally {
    rmSync(f.dir, { recursive: true, force: true });
  }
});

test('tsvs check: every problem as file:line, exit 0 / 1, kinds told apart', async () => {
  const f = files();
  try {
    const good = f.write('good.rules', RULES);
    const bad = f.write('bad.rules', `${RULES}-A -t 10.0.0.3:80 -s nosuch\n`);
    const ka = f.write('keepalived.conf', KA);
    assert.equal(looksLikeKeepalived(KA), true);
    assert.equal(looksLikeKeepalived(RULES), false);
    let out = '';
    let err = '';
    const io = { out: (t: string) => void (out += t), err: (t: string) => void (err += t) };
    assert.equal(await runCheck([good, ka], {}, io), 0);
    assert.match(out, /good\.rules: configuration valid \(2 service\(s\), 3 real server\(s\)\)/);
    assert.match(out, /keepalived\.conf: configuration valid/);
    assert.equal(await runCheck([good, bad], {}, io), 1);
    assert.match(err, new RegExp(`${bad}:7: Scheduler or persistence engine not found`));
    assert.equal(await runCheck([join(f.dir, 'missing')], {}, io), 1);
    assert.equal(await runCheck([], {}, io), 2);
  } finally {
    rmSync(f.dir, { recursive: true, force: true });
  }
});

test('keepalived.conf on reload: the health checker follows, gone servers leave', async () => {
  const f = files();
  const ka2 = `virtual_server 10.0.0.9 80 {
  lb_algo rr
  lb_kind NAT
  protocol TCP
  real_server 10.0.1.1 80 {
    weight 1
  }
  real_server 10.0.1.2 80 {
    weight 2
  }
}
virtual_server 10.0.0.10 80 {
  lb_algo rr
  lb_kind NAT
  protocol TCP
  real_server 10.0.1.5 80 {
    weight 1
  }
}
`;
  try {
    const p = f.write('keepalived.conf', ka2);
    const m = newModel();
    const managers: HealthManager[] = [];
    const c = new Configurator({
      model: m,
      sources: { keepalived: p },
      log: lineLogger(() => undefined),
      health: (cfg) => {
        const h = new HealthManager(m, cfg);
        managers.push(h);
        return h;
      },
    });
    assert.deepEqual(await c.start(), []);
    c.startHealth();
    const weights = (): string[] =>
      m
        .services()
        .flatMap((s) => s.dests.map((d) => `${s.addr} ${d.addr} ${d.weight}`))
        .sort();
    assert.deepEqual(weights(), [
      '10.0.0.10 10.0.1.5 1',
      '10.0.0.9 10.0.1.1 1',
      '10.0.0.9 10.0.1.2 2',
    ]);
    // 10.0.1.1 leaves, 10.0.1.2 gets weight 7, the second virtual server goes
    writeFileSync(
      p,
      ka2
        .replace(/ {2}real_server 10\.0\.1\.1 80 \{\n {4}weight 1\n {2}\}\n/, '')
        .replace('weight 2', 'weight 7')
        .replace(/virtual_server 10\.0\.0\.10[\s\S]*$/, ''),
    );
    const r = await c.reload();
    assert.equal(r.ok, true, r.problems.join('\n'));
    assert.deepEqual(weights(), ['10.0.0.9 10.0.1.2 7']);
    c.stop();
  } finally {
    rmSync(f.dir, { recursive: true, force: true });
  }
});

test('tsvs reload over the control socket: the changes or the problems, exit 0 / 1 / 2', async () => {
  const f = files();
  try {
    const p = f.write('rules', RULES);
    const { m, c } = configurator(p);
    await c.start();
    const sock = join(f.dir, 'c.sock');
    const srv = await startControlServer(m, sock, { handlers: { reload: () => c.reload() } });
    try {
      let out = '';
      let err = '';
      const io = { out: (t: string) => void (out += t), err: (t: string) => void (err += t) };
      writeFileSync(p, RULES.replace('-w 2', '-w 4'));
      assert.equal(await runReloadCommand(sock, io), 0, err);
      assert.match(out, /real server 10\.0\.1\.2:80 of TCP 10\.0\.0\.1:80 edited \(weight 4\)/);
      assert.match(out, /tsvs reload: 1 change\(s\)/);
      writeFileSync(p, `${RULES}-A -t 10.0.0.3:80 -s nosuch\n`);
      assert.equal(await runReloadCommand(sock, io), 1);
      assert.match(err, new RegExp(`${p}:7: Scheduler`));
      assert.match(err, /refused, nothing changed/);
      assert.equal(await runReloadCommand(join(f.dir, 'none.sock'), io), 2);
    } finally {
      await srv.close();
    }
  } finally {
    rmSync(f.dir, { recursive: true, force: true });
  }
});
