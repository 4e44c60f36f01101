/**
 * The `lvs_*` keywords of global_defs (spec §4).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseKeepalived } from '../../../src/health/keepalived.js';
import { hasWarning } from './helpers.js';

test('global_defs: lvs_timeouts, lvs_sync_daemon, lvs_flush', () => {
  const cfg = parseKeepalived(`global_defs {
  router_id X
  lvs_timeouts tcp 7200 tcpfin 120 udp 300
  lvs_sync_daemon eth1 VI_1 id 5 maxlen 1400 port 8848 ttl 2 group 224.0.0.81
  lvs_flush
}`);
  assert.deepEqual(cfg.lvsTimeouts, { tcp: 7200, tcpfin: 120, udp: 300 });
  assert.deepEqual(cfg.syncDaemon, {
    ifname: 'eth1',
    instance: 'VI_1',
    syncId: 5,
    maxLen: 1400,
    port: 8848,
    ttl: 2,
    group: '224.0.0.81',
  });
  assert.equal(cfg.lvsFlush, true);
  assert.deepEqual(cfg.warnings, []);
  assert.deepEqual(cfg.virtualServers, []);

  const cfg2 = parseKeepalived(`global_defs {
  lvs_timeouts udp 30 bogus 5
  lvs_sync_daemon eth0 inst VI_2 ttl 300
  lvs_flush off
}`);
  assert.deepEqual(cfg2.lvsTimeouts, { udp: 30 });
  assert.deepEqual(cfg2.syncDaemon, { ifname: 'eth0', instance: 'VI_2' });
  assert.equal(cfg2.lvsFlush, false);
  hasWarning(cfg2, /^line 2: lvs_timeouts: invalid 'bogus 5'/);
  hasWarning(cfg2, /^line 3: lvs_sync_daemon: invalid ttl '300'/);
  const plain = parseKeepalived('global_defs {\n lvs_sync_daemon eth2\n}');
  assert.deepEqual(plain.syncDaemon, { ifname: 'eth2' });
});
