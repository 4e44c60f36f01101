/**
 * Mixed-family real servers against ip_vs_genl_set_cmd (found while holding ctl.ts to
 * ip_vs_ctl.c): only tunnels carry the other family, and none is accepted, added or
 * edited, while a sync daemon runs — the sync protocol cannot describe such conns.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IpvsError } from '../../src/engine/errors.js';
import { TCP80, engineWith } from './fixture.js';

const V6 = { addr: '2001:db8:2::11', port: 80 };

const einval = (err: unknown): boolean => err instanceof IpvsError && err.errno === 'EINVAL';

test('an IPv6 tunnel real server of an IPv4 service: accepted without sync, refused with it', () => {
  const e = engineWith({}, TCP80, {});
  assert.throws(() => e.addDest(TCP80, { ...V6, fwd: 'masq' }), einval);
  e.syncMaster = () => {};
  assert.throws(() => e.addDest(TCP80, { ...V6, fwd: 'tunnel' }), einval);
  e.syncMaster = null;
  e.syncBackup = true;
  assert.throws(() => e.addDest(TCP80, { ...V6, fwd: 'tunnel' }), einval);
  e.syncBackup = false;
  e.addDest(TCP80, { ...V6, fwd: 'tunnel' });
  // an edit is refused as well while the daemon runs; a delete is not
  e.syncMaster = () => {};
  assert.throws(() => e.editDest(TCP80, { ...V6, fwd: 'tunnel', weight: 2 }), einval);
  e.delDest(TCP80, V6.addr, V6.port);
  assert.equal(e.services[0].dests.length, 0);
});
