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
  // following a VRRP instance's state is refused: tsvs does not see VRRP
  assert.equal(cfg.syncDaemon, undefined);
  hasWarning(
    cfg,
    /^line 4: lvs_sync_daemon: following VRRP instance 'VI_1' is not supported by tsvs/,
  );
  assert.equal(cfg.lvsFlush, true);
  assert.equal(cfg.warnings.length, 1);
  assert.deepEqual(cfg.notes, [
    "line 2: global_defs 'router_id' is keepalived's own, not read by tsvs",
  ]);
  assert.deepEqual(cfg.virtualServers, []);

  const cfg2 = parseKeepalived(`global_defs {
  lvs_timeouts udp 30 bogus 5
  lvs_sync_daemon eth0 inst VI_2 ttl 300
  lvs_flush off
}`);
  assert.deepEqual(cfg2.lvsTimeouts, { udp: 30 });
  assert.equal(cfg2.syncDaemon, undefined);
  // keepalived's lvs_flush takes no argument: the keyword alone turns flushing on
  assert.equal(cfg2.lvsFlush, true);
  hasWarning(cfg2, /^line 2: lvs_timeouts: invalid 'bogus 5'/);
  hasWarning(cfg2, /^line 3: lvs_sync_daemon: invalid ttl '300'/);
  const plain = parseKeepalived(
    'global_defs {\n lvs_sync_daemon eth2 id 7 maxlen 1400 port 8848 ttl 2 group 224.0.0.81\n}',
  );
  assert.deepEqual(plain.syncDaemon, {
    ifname: 'eth2',
    syncId: 7,
    maxLen: 1400,
    port: 8848,
    ttl: 2,
    group: '224.0.0.81',
  });
});
