import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SVC_F_SYNPROXY } from '../../src/engine/constants.js';
import { procText } from '../../src/control/proc.js';
import { createMetrics } from '../../src/metrics/prometheus.js';
import { newModel, tsvsadm } from './helpers.js';

test('--synproxy on -A and -E: shown in the listing and the save, kept by a restore', async () => {
  const m = newModel();
  let r = await tsvsadm(m, ['-A', '-t', '10.0.3.100:80', '-s', 'rr', '--synproxy']);
  assert.equal(r.status, 0, r.err);
  assert.equal(m.engine.services[0].flags & SVC_F_SYNPROXY, SVC_F_SYNPROXY);
  r = await tsvsadm(m, ['-a', '-t', '10.0.3.100:80', '-r', '10.0.2.11:80', '-m']);
  assert.equal(r.status, 0, r.err);
  r = await tsvsadm(m, ['-L', '-n']);
  assert.match(r.out, /TCP {2}10\.0\.3\.100:80 rr synproxy\n/);
  r = await tsvsadm(m, ['-S', '-n']);
  assert.match(r.out, /-A -t 10\.0\.3\.100:80 -s rr --synproxy\n/);
  const saved = r.out;
  // the save restores to the same service
  const m2 = newModel();
  r = await tsvsadm(m2, ['-R'], { stdin: saved });
  assert.equal(r.status, 0, r.err);
  assert.equal((await tsvsadm(m2, ['-S', '-n'])).out, saved);
  // -E without it turns it off, as -E replaces every parameter
  r = await tsvsadm(m, ['-E', '-t', '10.0.3.100:80', '-s', 'rr']);
  assert.equal(r.status, 0, r.err);
  assert.equal(m.engine.services[0].flags & SVC_F_SYNPROXY, 0);
  assert.equal(m.engine.ipvs.spServices, 0);
  r = await tsvsadm(m, ['-E', '-t', '10.0.3.100:80', '-s', 'rr', '--synproxy']);
  assert.equal(m.engine.ipvs.spServices, 1);
});

test('--synproxy is refused where it cannot work, and the configuration stays', async () => {
  const m = newModel();
  const r = await tsvsadm(m, ['-A', '-u', '10.0.3.100:53', '--synproxy']);
  assert.notEqual(r.status, 0);
  assert.match(r.err, /Invalid operation/, 'EINVAL, as ipvsadm prints it');
  assert.equal(m.engine.services.length, 0);
  const d = await tsvsadm(m, ['-a', '-t', '10.0.3.100:80', '-r', '10.0.2.11', '--synproxy']);
  assert.notEqual(d.status, 0, 'not an option of -a');
  // the JSON path takes the flag as a number and the same check
  assert.throws(() =>
    m.addService({ af: 4, protocol: 17, addr: '10.0.3.1', port: 53, flags: SVC_F_SYNPROXY }),
  );
  m.addService({ af: 4, protocol: 6, addr: '10.0.3.1', port: 80, flags: SVC_F_SYNPROXY });
  assert.equal(m.engine.ipvs.spServices, 1);
});

test('ip_vs_defense and /metrics show the proxy, the table and the defences', async () => {
  const m = newModel();
  m.sysctlSet('net.ipv4.vs.conn_max', '5000');
  assert.throws(() => m.sysctlSet('net.ipv4.vs.synproxy', '2'));
  const text = procText(m, 'ip_vs_defense');
  assert.match(text, /^drop_entry 0 idle$/m);
  assert.match(text, /^conn_max 5000$/m);
  assert.match(text, /^synproxy_cookies_sent 0$/m);
  assert.match(text, /^drops_synproxy_bad_cookie 0$/m);
  m.engine.ipvs.sp.counters[0] = 7;
  const metrics = createMetrics({ model: m, captureDrops: () => new Map([['tsvsi-x', 3]]) });
  const { body } = await metrics.render(false);
  assert.match(body, /tsvs_synproxy_total\{event="cookies-sent"\} 7/);
  assert.match(body, /tsvs_connection_table_max 5000/);
  assert.match(body, /tsvs_defense_active\{defense="secure_tcp"\} 0/);
  assert.match(body, /tsvs_capture_dropped_packets_total\{queue="tsvsi-x"\} 3/);
});
