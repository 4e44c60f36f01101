/**
 * The dashboard's connection search (src/web/conns.ts): a query of protocol, state,
 * address, prefix and port words, matched on the engine's table without formatting
 * it, and paged with a cursor so that every match is seen once.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Engine } from '../../src/engine/engine.js';
import { ControlModel } from '../../src/control/model.js';
import {
  ConnQueryError,
  parseConnQuery,
  searchConns,
  searchConnsSliced,
} from '../../src/web/conns.js';
import { ACK, SYN, buildPacket, rng } from '../helpers/packets.js';

/** 300 TCP conns (clients 10.0.1.1-3, ports 40000+) to two services, 20 UDP, a few v6. */
function engine(): Engine {
  const m = new ControlModel(new Engine({ random: rng(7) }));
  const web = { af: 4 as const, protocol: 6, addr: '10.0.3.100', port: 80 };
  m.addService({ ...web, scheduler: 'rr' });
  m.addDest(web, { addr: '10.0.2.11', port: 8080, fwd: 'masq', weight: 1 });
  m.addDest(web, { addr: '10.0.2.12', port: 8080, fwd: 'masq', weight: 1 });
  const tls = { af: 4 as const, protocol: 6, addr: '10.0.3.100', port: 443 };
  m.addService({ ...tls, scheduler: 'rr' });
  m.addDest(tls, { addr: '10.0.2.13', port: 443, fwd: 'droute', weight: 1 });
  const dns = { af: 4 as const, protocol: 17, addr: '10.0.3.53', port: 53 };
  m.addService({ ...dns, scheduler: 'rr' });
  m.addDest(dns, { addr: '10.0.2.11', port: 53, fwd: 'masq', weight: 1 });
  const v6 = { af: 6 as const, protocol: 6, addr: 'fd00::100', port: 80 };
  m.addService({ ...v6, scheduler: 'rr' });
  m.addDest(v6, { addr: 'fd00:2::11', port: 80, fwd: 'masq', weight: 1 });
  const e = m.engine;
  let now = 1000;
  for (let i = 0; i < 300; i++) {
    const src = `10.0.1.${1 + (i % 3)}`;
    const p = buildPacket({
      src,
      dst: '10.0.3.100',
      sport: 40000 + i,
      dport: i < 200 ? 80 : 443,
      flags: SYN,
    });
    e.in(p, 0, p.length, now++);
    // the first 100 are established
    if (i < 100) {
      const a = buildPacket({ src, dst: '10.0.3.100', sport: 40000 + i, dport: 80, flags: ACK });
      e.in(a, 0, a.length, now++);
    }
  }
  for (let i = 0; i < 20; i++) {
    const p = buildPacket({
      proto: 'udp',
      src: '10.0.1.9',
      dst: '10.0.3.53',
      sport: 5000 + i,
      dport: 53,
    });
    e.in(p, 0, p.length, now++);
  }
  for (let i = 0; i < 5; i++) {
    const p = buildPacket({
      src: 'fd00:1::5',
      dst: 'fd00::100',
      sport: 6000 + i,
      dport: 80,
      flags: SYN,
    });
    e.in(p, 0, p.length, now++);
  }
  return e;
}

const count = (e: Engine, q: string): number => searchConns(e, parseConnQuery(q)).matches;

test('an empty query matches every entry', () => {
  const e = engine();
  assert.equal(e.conns.count, 325);
  const p = searchConns(e, parseConnQuery(''), -1, 10);
  assert.equal(p.matches, 325);
  assert.equal(p.size, 325);
  assert.equal(p.rows.length, 10);
});

test('protocol, state, address, prefix and port words, all of which must match', () => {
  const e = engine();
  assert.equal(count(e, 'udp'), 20);
  assert.equal(count(e, 'TCP'), 305);
  assert.equal(count(e, 'established'), 100);
  assert.equal(count(e, 'syn_recv'), 205);
  assert.equal(count(e, 'tcp state=SYN_RECV :443'), 100);
  assert.equal(count(e, '10.0.1.2'), 100);
  assert.equal(count(e, '10.0.1.0/24 tcp'), 300);
  assert.equal(count(e, '10.0.1.2:40001'), 1);
  assert.equal(count(e, 'client=10.0.1.2 established'), 33);
  // a real server: every conn it serves, whichever service
  assert.equal(count(e, 'server=10.0.2.11'), 100 + 20);
  assert.equal(count(e, 'server=10.0.2.11 udp'), 20);
  assert.equal(count(e, 'vip=10.0.3.100:443'), 100);
  assert.equal(count(e, 'port=8080'), 200);
  assert.equal(count(e, 'fd00:1::5'), 5);
  assert.equal(count(e, '[fd00::100]:80'), 5);
  assert.equal(count(e, 'fd00::/16'), 5);
  assert.equal(count(e, 'template'), 0);
  assert.equal(count(e, 'local'), 325);
  assert.equal(count(e, 'sync'), 0);
  // the v4 address never matches a v6 conn, nor the reverse
  assert.equal(count(e, '0.0.0.0/0'), 320);
});

test('rows are formatted as ipvsadm -L -c shows them', () => {
  const e = engine();
  const p = searchConns(e, parseConnQuery('10.0.1.2:40001'));
  assert.equal(p.rows.length, 1);
  const r = p.rows[0];
  assert.equal(r.proto, 'TCP');
  assert.equal(r.client, '10.0.1.2:40001');
  assert.equal(r.virtual, '10.0.3.100:80');
  assert.match(r.server, /^10\.0\.2\.1[12]:8080$/);
  assert.equal(r.state, 'ESTABLISHED');
  assert.equal(r.origin, 'LOCAL');
  assert.ok(r.expires > 0);
  const v6 = searchConns(e, parseConnQuery('fd00:1::5'), -1, 1).rows[0];
  assert.equal(v6.client, '[fd00:1::5]:6000');
});

test('pages follow one another with the cursor: every match once, in order', () => {
  const e = engine();
  const q = parseConnQuery('tcp');
  const seen: number[] = [];
  let after = -1;
  let pages = 0;
  for (;;) {
    const p = searchConns(e, q, after, 40);
    assert.equal(p.matches, 305);
    seen.push(...p.rows.map((r) => r.id));
    pages++;
    if (p.next === null) break;
    assert.equal(p.next, p.rows[p.rows.length - 1].id);
    after = p.next;
  }
  assert.equal(pages, Math.ceil(305 / 40));
  assert.equal(seen.length, 305);
  assert.deepEqual(
    seen,
    [...seen].sort((a, b) => a - b),
  );
  assert.equal(new Set(seen).size, 305);
  // a page is never larger than 500 rows
  assert.equal(searchConns(e, q, -1, 100_000).rows.length, 305);
  assert.equal(searchConns(e, parseConnQuery(''), -1, 0).rows.length, 1);
});

test('a page ends exactly at the last match: no empty next page', () => {
  const e = engine();
  const p = searchConns(e, parseConnQuery('udp'), -1, 20);
  assert.equal(p.rows.length, 20);
  assert.equal(p.next, null);
});

test('words that mean nothing are refused with the word named', () => {
  for (const [q, msg] of [
    ['10.0.1.2:99999', /99999 is not a port/],
    ['10.0.0.0/33', /prefix longer than 32/],
    ['colour=red', /unknown key colour/],
    ['proto=icmp', /unknown protocol/],
    ['10.0.1.*', /"10\.0\.1\.\*": not a protocol, state, address or port/],
    ['server=nowhere', /not an address or port/],
  ] as const)
    assert.throws(
      () => parseConnQuery(q),
      (e: unknown) => e instanceof ConnQueryError && msg.test(e.message),
      q,
    );
});

test('a search in slices gives the same page, and lets other work run between slices', async () => {
  const e = engine();
  const q = parseConnQuery('10.0.1.0/24');
  let ran = 0;
  const other = setInterval(() => ran++, 0);
  const sliced = await searchConnsSliced(e, q, 40, 25, 16);
  clearInterval(other);
  assert.deepEqual(sliced, searchConns(e, q, 40, 25));
  assert.equal(sliced.matches, 320);
  assert.ok(ran > 0, 'nothing else ran during the search');
});
