/**
 * Readiness and the VRRP role on /metrics (docs/metrics.md, docs/ha.md): tsvs_ready,
 * tsvs_service_ready with the service's labels, tsvs_sync_learning and tsvs_vrrp_state
 * (1 for the current state, 0 for the others), accepted by `promtool check metrics`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { Engine } from '../../src/engine/engine.js';
import { ControlModel } from '../../src/control/model.js';
import { createMetrics } from '../../src/metrics/prometheus.js';

test('readiness and VRRP families: values, labels, promtool', async () => {
  const m = new ControlModel(new Engine());
  m.addService({ af: 4, protocol: 6, addr: '10.0.3.100', port: 80, scheduler: 'mh' });
  m.addService({ af: 6, protocol: 17, addr: 'fd00::1', port: 53, scheduler: 'rr' });
  const exp = createMetrics(
    {
      model: m,
      ready: () => ({
        ready: true,
        learning: false,
        services: new Map([
          ['TCP 10.0.3.100:80', true],
          ['UDP [fd00::1]:53', false],
        ]),
      }),
      vrrp: () => [
        { type: 'GROUP', name: 'VG_NAT', state: 'MASTER' },
        { type: 'INSTANCE', name: 'VI_1', state: 'FAULT' },
      ],
    },
    { defaultMetrics: false },
  );
  const { body } = await exp.render();
  const r = spawnSync('promtool', ['check', 'metrics'], { input: body, encoding: 'utf8' });
  if (r.error === undefined) assert.equal(r.status, 0, `promtool: ${r.stdout}${r.stderr}`);
  const lines = body.split('\n');
  const has = (l: string): void => assert.ok(lines.includes(l), `missing: ${l}`);
  has('tsvs_ready 1');
  has('tsvs_sync_learning 0');
  has('tsvs_service_ready{family="ipv4",protocol="TCP",address="10.0.3.100",port="80",mark=""} 1');
  has('tsvs_service_ready{family="ipv6",protocol="UDP",address="fd00::1",port="53",mark=""} 0');
  has('tsvs_vrrp_state{type="GROUP",name="VG_NAT",state="MASTER"} 1');
  has('tsvs_vrrp_state{type="GROUP",name="VG_NAT",state="BACKUP"} 0');
  has('tsvs_vrrp_state{type="INSTANCE",name="VI_1",state="FAULT"} 1');
  has('tsvs_vrrp_state{type="INSTANCE",name="VI_1",state="MASTER"} 0');
  // without a daemon behind it (no readiness source) no service is said to be ready
  const bare = await createMetrics({ model: m }, { defaultMetrics: false }).render();
  assert.ok(!/^tsvs_service_ready\{/m.test(bare.body));
});
