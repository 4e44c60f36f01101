/**
 * Steering with several data-plane workers (steer.ts SteerPart, daemon/workers.ts):
 * each worker's filters take the flows whose client port (or, for persistent
 * services, client address) has its number in the low bits — requests by their source,
 * NAT replies by their destination — and the workers' devices and priorities differ.
 * The filters run in the kernel in test/e2e/workers.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Engine } from '../../src/engine/engine.js';
import { steerDevices, steerMatches, steerNames } from '../../src/dataplane/steer.js';
import {
  addressPartitioned,
  partMatch,
  shardSkipDev,
  shardSteerNames,
} from '../../src/dataplane/steer-share.js';

const IHL5 = 'match u8 0x45 0xff at 0 match u16 0 0x3fff at 6';

function engine(): Engine {
  const e = new Engine();
  const k = { af: 4 as const, protocol: 6, addr: '10.201.3.100', port: 80 };
  e.addService(k, { scheduler: 'rr' });
  e.addDest(k, { addr: '10.201.2.11', port: 8080, fwd: 'masq' });
  const k6 = { af: 6 as const, protocol: 17, addr: 'fd00::100', port: 53 };
  e.addService(k6, { scheduler: 'rr' });
  e.addDest(k6, { addr: 'fd00::11', port: 53, fwd: 'masq' });
  return e;
}

describe('steering shares', () => {
  it('requests by source port, NAT replies by destination port (the client port both ways)', () => {
    const m = steerMatches(engine(), { id: 1, count: 2 });
    assert.deepEqual(m.req4, [
      `${IHL5} match ip dst 10.201.3.100/32 match ip protocol 6 0xff match ip dport 80 0xffff match ip sport 1 1`,
    ]);
    assert.deepEqual(m.rep4, [
      `${IHL5} match ip src 10.201.2.11/32 match ip protocol 6 0xff match ip sport 8080 0xffff match ip dport 1 1`,
    ]);
    // the SYN filter is the request filter with the flags byte
    assert.deepEqual(m.syn4, [`${m.req4[0]} match u8 0x02 0x17 at 33`]);
    assert.deepEqual(m.req6, [
      'match ip6 dst fd00::100/128 match ip6 protocol 17 0xff match ip6 dport 53 0xffff match ip6 sport 1 1',
    ]);
    assert.deepEqual(m.rep6, [
      'match ip6 src fd00::11/128 match ip6 protocol 17 0xff match ip6 sport 53 0xffff match ip6 dport 1 1',
    ]);
    // four workers: two low bits
    const m4 = steerMatches(engine(), { id: 2, count: 4 });
    assert.ok(m4.req4[0].endsWith(' match ip sport 2 3'), m4.req4[0]);
    assert.ok(m4.rep4[0].endsWith(' match ip dport 2 3'), m4.rep4[0]);
    // no share: today's filters, unchanged
    assert.ok(!steerMatches(engine()).req4[0].includes('sport'));
  });

  it('persistent services, and services sharing their NAT real servers, by client address', () => {
    const e = engine();
    const p = { af: 4 as const, protocol: 6, addr: '10.201.3.101', port: 443 };
    e.addService(p, { scheduler: 'rr', flags: 1, timeout: 300 });
    e.addDest(p, { addr: '10.201.2.12', port: 443, fwd: 'masq' });
    // shares 10.201.2.12:443 with the persistent service: its replies are the same filter
    const q = { af: 4 as const, protocol: 6, addr: '10.201.3.102', port: 443 };
    e.addService(q, { scheduler: 'rr' });
    e.addDest(q, { addr: '10.201.2.12', port: 443, fwd: 'masq' });
    const by = addressPartitioned(e);
    assert.deepEqual(
      e.services.map((s) => by.has(s)),
      [false, false, true, true],
    );
    const m = steerMatches(e, { id: 1, count: 2 });
    const req = (vip: string): string => m.req4.find((x) => x.includes(`dst ${vip}/`))!;
    assert.ok(req('10.201.3.101').endsWith(' match u32 1 1 at 12'), req('10.201.3.101'));
    assert.ok(req('10.201.3.102').endsWith(' match u32 1 1 at 12'));
    assert.ok(req('10.201.3.100').endsWith(' match ip sport 1 1'));
    const rep = m.rep4.find((x) => x.includes('src 10.201.2.12/'))!;
    assert.ok(rep.endsWith(' match u32 1 1 at 16'), rep);
    assert.equal(partMatch({ id: 3, count: 4 }, 6, true, true), ' match u32 3 3 at 20');
    assert.equal(partMatch({ id: 3, count: 4 }, 6, false, true), ' match u32 3 3 at 36');
  });

  it('worker devices and priorities: distinct, ≤ 15 characters, never steered on', () => {
    const w0 = steerNames('e2e-long-name', 7100);
    const w1 = shardSteerNames('e2e-long-name', 7100, 1);
    const w7 = shardSteerNames('e2e-long-name', 7100, 7);
    assert.deepEqual(
      [w1.tunIn, w1.tunOut, w1.tunSyn],
      ['tsvsi-e2e-lon-1', 'tsvso-e2e-lon-1', 'tsvss-e2e-lon-1'],
    );
    for (const n of [w1, w7])
      for (const d of [n.tunIn, n.tunOut, n.tunSyn]) assert.ok(d.length <= 15);
    const prefs = [w0, w1, w7].flatMap((n) => [n.prefFast, n.pref4, n.pref6]);
    assert.equal(new Set(prefs).size, prefs.length, `distinct: ${prefs.join(' ')}`);
    // every worker's request device skips the queue rules: one iptables pattern
    const skip = shardSkipDev('e2e-long-name').replace('+', '');
    for (const n of [w0, w1, w7]) assert.ok(n.tunIn.startsWith(skip), `${n.tunIn} ${skip}`);
    // worker 0 does not put filters on worker 1's devices (nor the other way round)
    const links = ['eth0', w1.tunIn, w1.tunOut, w0.tunIn, w0.tunSyn].map((ifname) => ({ ifname }));
    assert.deepEqual(steerDevices(links, w0), ['eth0']);
    assert.deepEqual(steerDevices(links, w1), ['eth0']);
  });
});
