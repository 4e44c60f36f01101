import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Engine } from '../../src/engine/engine.js';
import { steerBatch, steerMatches, steerNames } from '../../src/dataplane/steer.js';

test('SYN-only TCP requests get their own device, matched before the other requests', () => {
  const e = new Engine();
  e.addService({ af: 4, protocol: 6, addr: '10.0.3.100', port: 80 }, { scheduler: 'rr' });
  e.addDest(
    { af: 4, protocol: 6, addr: '10.0.3.100', port: 80 },
    { addr: '10.0.2.11', port: 80, fwd: 'masq' },
  );
  e.addService({ af: 6, protocol: 6, addr: 'fd00::100', port: 443 }, { scheduler: 'rr' });
  e.addService({ af: 4, protocol: 17, addr: '10.0.3.100', port: 53 }, { scheduler: 'rr' });
  const m = steerMatches(e);
  assert.equal(m.syn4!.length, 1, 'TCP only');
  assert.equal(m.syn6!.length, 1);
  assert.ok(m.syn4![0].startsWith(m.req4[0]));
  // flags byte after a 20-byte IPv4 header (offset 33) / the 40-byte IPv6 header (53):
  // SYN set, ACK RST FIN clear
  assert.match(m.syn4![0], /match u8 0x02 0x17 at 33$/);
  assert.match(m.syn6![0], /match u8 0x02 0x17 at 53$/);
  const names = steerNames('e2esyn-dir', 7300);
  assert.equal(names.tunSyn, 'tsvss-e2esyn-di');
  const lines = steerBatch(names, ['eth0'], m);
  const syn = lines.findIndex((l) => l.includes(`redirect dev ${names.tunSyn}`));
  const req = lines.findIndex((l) => l.includes(`redirect dev ${names.tunIn}`));
  assert.ok(syn >= 0 && req > syn, 'the SYN filter comes first in its priority');
  // with requests not steered (a fwmark service), no SYN filter either
  e.addService({ af: 4, protocol: 6, fwmark: 5 }, { scheduler: 'rr' });
  assert.deepEqual(steerMatches(e).syn4, []);
});
