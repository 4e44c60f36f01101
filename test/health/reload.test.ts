/**
 * HealthManager.reload: keepalived's SIGHUP (clear_diff_services, migrate_checkers,
 * init_services). An unchanged checker keeps its state (a failed server is not re-added
 * on reload), real and virtual servers that changed are edited in place, gone ones are
 * removed and new ones added as at start, a group's entries are diffed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseKeepalived } from '../../src/health/keepalived.js';
import { lab, run, withClock } from './helpers.js';

const CHK = (port = 80) =>
  `TCP_CHECK { warmup 0 retry 1 delay_before_retry 1 connect_port ${port} }`;
const conf = (
  rs: string,
  extra = '',
  sched = 'rr',
  head = '10.0.0.1 80',
) => `virtual_server ${head} {
  delay_loop 10
  lvs_sched ${sched}
  lvs_method NAT
  protocol TCP
${extra}
${rs}
}`;

test('unchanged checkers keep their state: a failed server is not re-added, an alive one not touched', () =>
  withClock(async () => {
    const rs = `real_server 10.0.1.1 80 { ${CHK()} }\nreal_server 10.0.1.2 80 { ${CHK()} }`;
    const s = lab(conf(rs));
    s.results.set('10.0.1.1:80', [{ ok: false }]);
    s.h.start();
    await run(200);
    assert.deepEqual(s.dests(), ['10.0.1.2:80/1']);
    const before = s.model.generation;
    s.h.reload(parseKeepalived(conf(rs.replace(/retry 1/g, 'retry 2'))));
    assert.deepEqual(s.dests(), ['10.0.1.2:80/1'], 'the failed one stays out');
    assert.equal(s.model.generation, before, 'nothing was changed in IPVS');
    await run(10_000);
    assert.deepEqual(s.dests(), ['10.0.1.2:80/1'], 'and its checker is still down');
    s.results.set('10.0.1.1:80', [{ ok: true }]);
    await run(10_000);
    assert.deepEqual(s.dests(), ['10.0.1.1:80/1', '10.0.1.2:80/1']);
    s.h.stop();
  }));

test('real servers: gone ones removed, new ones added, a changed weight or method edited in place', () =>
  withClock(async () => {
    const s = lab(
      conf(`real_server 10.0.1.1 80 { weight 1 ${CHK()} }
real_server 10.0.1.2 80 { ${CHK()} }
real_server 10.0.1.3 80 { ${CHK()} }`),
    );
    s.h.start();
    await run(200);
    s.h.reload(
      parseKeepalived(
        conf(`real_server 10.0.1.1 80 { weight 5 ${CHK()} }
real_server 10.0.1.3 80 { uthreshold 100 ${CHK()} }
real_server 10.0.1.4 80 { ${CHK()} }
real_server 10.0.1.5 80 { alpha ${CHK()} }`),
      ),
    );
    assert.deepEqual(s.save(), [
      '-A -t 10.0.0.1:80 -s rr',
      '-a -t 10.0.0.1:80 -r 10.0.1.1:80 -m -w 5',
      '-a -t 10.0.0.1:80 -r 10.0.1.3:80 -m -w 1',
      '-a -t 10.0.0.1:80 -r 10.0.1.4:80 -m -w 1',
    ]);
    assert.equal(s.model.services()[0].dests.find((d) => d.addr === '10.0.1.3')?.uThreshold, 100);
    await run(1000);
    assert.ok(s.dests().includes('10.0.1.5:80/1'), 'the new alpha server after its first success');
    s.h.stop();
  }));

test('virtual servers: a changed scheduler is edited in place (real servers kept), a gone one removed, a new one added', () =>
  withClock(async () => {
    const a = conf(`real_server 10.0.1.1 80 { ${CHK()} }`);
    const b = conf(`real_server 10.0.2.1 80 { ${CHK()} }`, '', 'rr', '10.0.0.2 80');
    const s = lab(`${a}\n${b}`);
    s.h.start();
    await run(200);
    const c = conf(`real_server 10.0.3.1 80 { ${CHK()} }`, '', 'rr', '10.0.0.3 80');
    s.h.reload(
      parseKeepalived(
        `${conf(`real_server 10.0.1.1 80 { ${CHK()} }`, 'persistence_timeout 30', 'wlc')}\n${c}`,
      ),
    );
    assert.deepEqual(s.save(), [
      '-A -t 10.0.0.1:80 -s wlc -p 30',
      '-A -t 10.0.0.3:80 -s rr',
      '-a -t 10.0.0.1:80 -r 10.0.1.1:80 -m -w 1',
      '-a -t 10.0.0.3:80 -r 10.0.3.1:80 -m -w 1',
    ]);
    assert.ok(s.logs.some((l) => /Removing Virtual Server \[10\.0\.0\.2\]:tcp:80/.test(l)));
    s.h.stop();
  }));

test('a changed checker starts afresh; the real server keeps its place until that checker says otherwise', () =>
  withClock(async () => {
    const s = lab(conf(`real_server 10.0.1.1 80 { ${CHK(80)} }`));
    s.h.start();
    await run(200);
    s.results.set('10.0.1.1:80', [{ ok: false }]);
    s.h.reload(parseKeepalived(conf(`real_server 10.0.1.1 80 { ${CHK(81)} }`)));
    assert.deepEqual(s.dests(), ['10.0.1.1:80/1']);
    await run(200);
    assert.deepEqual(s.dests(), [], 'the new checker has no retries left at first, as at start');
    s.h.stop();
  }));

test('virtual_server_group on reload: new addresses get the alive real servers, gone ones are deleted', () =>
  withClock(async () => {
    const group = (entries: string) => `virtual_server_group G {\n${entries}\n}`;
    const vs = conf(
      `real_server 10.0.1.1 8080 { ${CHK(8080)} }\nreal_server 10.0.1.2 8080 { ${CHK(8080)} }`,
      '',
      'rr',
      'group G',
    );
    const s = lab(`${group('10.0.0.1 80\n10.0.0.2 80')}\n${vs}`);
    s.results.set('10.0.1.2:8080', [{ ok: false }]);
    s.h.start();
    await run(200);
    s.h.reload(parseKeepalived(`${group('10.0.0.2 80\n10.0.0.3 80')}\n${vs}`));
    assert.deepEqual(s.save(), [
      '-A -t 10.0.0.2:80 -s rr',
      '-A -t 10.0.0.3:80 -s rr',
      '-a -t 10.0.0.2:80 -r 10.0.1.1:8080 -m -w 1',
      '-a -t 10.0.0.3:80 -r 10.0.1.1:8080 -m -w 1',
    ]);
    assert.ok(!s.logs.some((l) => /already exists|File exists/.test(l)), s.logs.join('\n'));
    // the failed one comes back on every address, the new one included
    s.results.set('10.0.1.2:8080', [{ ok: true }]);
    await run(10_000);
    assert.deepEqual(s.dests(), [
      '10.0.1.1:8080/1',
      '10.0.1.1:8080/1',
      '10.0.1.2:8080/1',
      '10.0.1.2:8080/1',
    ]);
    s.h.stop();
  }));

test('lvs_timeouts: set at start, changed by a reload, and put back when a reload removes them', () =>
  withClock(async () => {
    const t = (v: string) => `global_defs {\n  lvs_timeouts ${v}\n}\n`;
    const vs = conf(`real_server 10.0.1.1 80 { ${CHK()} }`);
    const s = lab(t('tcp 100 tcpfin 10 udp 20') + vs);
    const before = s.model.getTimeouts();
    s.h.start();
    assert.deepEqual(s.model.getTimeouts(), { tcp: 100, tcpfin: 10, udp: 20 });
    s.h.reload(parseKeepalived(t('tcp 200') + vs));
    assert.equal(s.model.getTimeouts().tcp, 200);
    s.h.reload(parseKeepalived(vs));
    assert.deepEqual(s.model.getTimeouts(), before);
    s.h.stop();
  }));
