/**
 * The scheduler "none" (ip_vs_add_service / ip_vs_edit_service bind no scheduler for
 * it; ip_vs_schedule then finds no dest and ip_vs_leave answers), found while holding
 * ctl.ts to ip_vs_ctl.c. Listings show "none", as ip_vs_copy_service does.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { V_FORWARD, V_REPLY } from '../../src/engine/drop.js';
import { IpvsError } from '../../src/engine/errors.js';
import { RIP1, SYN, TCP80, cin, engineWith, send } from './fixture.js';

const A = { addr: RIP1, port: 80, fwd: 'masq' as const };

test('scheduler "none": accepted, no conn scheduled (port unreachable), rr again after an edit', () => {
  const e = engineWith({}, TCP80, { scheduler: 'none' }, A);
  const svc = e.services[0];
  assert.equal(svc.schedName, 'none');
  assert.equal(svc.scheduler, null);
  assert.equal(send(e, 'in', cin(SYN), 0).v, V_REPLY);
  assert.equal(e.connections().length, 0);
  e.editService(TCP80, { scheduler: 'rr' });
  assert.equal(send(e, 'in', cin(SYN), 1).v, V_FORWARD);
  e.editService(TCP80, { scheduler: 'none' });
  assert.equal(svc.scheduler, null);
  assert.equal(send(e, 'in', cin(SYN, { sport: 40001 }), 2).v, V_REPLY);
});

test('an unknown scheduler is still ENOENT', () => {
  const e = engineWith({}, TCP80, {});
  assert.throws(
    () => e.editService(TCP80, { scheduler: 'nosuch' }),
    (err: unknown) => err instanceof IpvsError && err.errno === 'ENOENT',
  );
});
