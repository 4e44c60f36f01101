import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ReplyRoutes, type LinkInfo, type ReplyHop } from '../../src/dataplane/replyroute.js';

// Fixtures as iproute2 6.1 prints them (`ip -j ...`), taken from a network namespace.

const RULES4 =
  '[{"priority":0,"src":"all","table":"local"},{"priority":32766,"src":"all","table":"main"},' +
  '{"priority":32767,"src":"all","table":"default"}]';
const RULES6 =
  '[{"priority":0,"src":"all","table":"local"},{"priority":32766,"src":"all","table":"main"}]';
const RULES4_POLICY =
  '[{"priority":0,"src":"all","table":"local"},{"priority":32764,"src":"all","fwmark":"0x1","table":"101"},' +
  '{"priority":32765,"src":"10.0.0.0","srclen":8,"table":"100"},{"priority":32766,"src":"all","table":"main"},' +
  '{"priority":32767,"src":"all","table":"default"}]';
const RULES6_POLICY =
  '[{"priority":0,"src":"all","table":"local"},' +
  '{"priority":32765,"src":"all","dst":"2001:db8::","dstlen":32,"table":"100"},' +
  '{"priority":32766,"src":"all","table":"main"}]';

const ROUTES4 = JSON.stringify([
  { dst: 'default', gateway: '10.201.1.254', dev: 'eth0', flags: [] },
  { dst: '10.9.9.9', gateway: '10.201.1.3', dev: 'eth0', flags: [] },
  { dst: '10.5.0.0/16', tos: '0x10', gateway: '10.201.1.3', dev: 'eth0', flags: [] },
  {
    dst: '10.6.0.0/16',
    flags: [],
    nexthops: [
      { gateway: '10.201.1.3', dev: 'eth0', weight: 1, flags: [] },
      { gateway: '10.201.1.4', dev: 'eth0', weight: 1, flags: [] },
    ],
  },
  { type: 'blackhole', dst: '10.7.0.0/16', flags: [] },
  {
    dst: '10.8.0.0/16',
    gateway: '10.201.1.3',
    dev: 'eth0',
    metric: 5,
    flags: [],
    metrics: [{ mtu: 1300 }],
  },
  { dst: '10.8.0.0/16', gateway: '10.201.1.4', dev: 'eth0', metric: 10, flags: [] },
  { dst: '10.9.0.0/16', gateway: '10.201.1.4', dev: 'eth0', flags: [], metrics: [{ mtu: 1400 }] },
  { dst: '10.10.0.0/16', dev: 'wg0', scope: 'link', flags: [] },
  { dst: '10.11.0.0/16', gateway: '10.201.1.3', dev: 'eth0', metric: 5, flags: [] },
  { dst: '10.11.0.0/16', gateway: '10.201.1.4', dev: 'eth0', metric: 5, flags: [] },
  { dst: '10.12.0.0/16', gateway: '10.202.0.9', dev: 'eth1', flags: [] },
  { dst: '10.13.0.0/16', via: { family: 'inet6', host: 'fe80::1' }, dev: 'eth0', flags: [] },
  { dst: '10.14.0.0/16', gateway: '10.201.1.3', dev: 'eth0', flags: ['linkdown'] },
  { dst: '10.15.0.0/16', gateway: '10.201.1.3', dev: 'eth9', flags: [] },
  { dst: '10.16.0.0/16', gateway: '10.201.1.3', dev: 'eth0', flags: [], metrics: [{ mtu: 9000 }] },
  {
    dst: '10.201.1.0/24',
    dev: 'eth0',
    protocol: 'kernel',
    scope: 'link',
    prefsrc: '10.201.1.1',
    flags: [],
  },
  {
    dst: '10.202.0.0/16',
    dev: 'eth1',
    protocol: 'kernel',
    scope: 'link',
    prefsrc: '10.202.0.1',
    flags: [],
  },
]);

const ROUTES6 = JSON.stringify([
  {
    dst: '2001:db8::/32',
    gateway: 'fd00:201:1::9',
    dev: 'eth0',
    metric: 1024,
    flags: [],
    pref: 'medium',
  },
  {
    dst: '2001:db9::/32',
    from: 'fd00:201:1::/64',
    gateway: 'fd00:201:1::9',
    dev: 'eth0',
    metric: 1024,
    flags: [],
    pref: 'medium',
  },
  {
    dst: '2001:dba::/48',
    via: { family: 'inet6', host: 'fd00:201:1::9' },
    dev: 'eth0',
    metric: 1024,
    flags: [],
    pref: 'medium',
  },
  {
    dst: '2001:dbb::/48',
    dev: 'eth0',
    metric: 1024,
    flags: [],
    pref: 'medium',
    nexthops: [
      { gateway: 'fd00:201:1::9', dev: 'eth0', weight: 1, flags: [] },
      { gateway: 'fe80::1', dev: 'eth0', weight: 1, flags: [] },
    ],
  },
  {
    dst: 'fd00:201:1::/64',
    dev: 'eth0',
    protocol: 'kernel',
    metric: 256,
    flags: [],
    pref: 'medium',
  },
  { dst: 'fe80::/64', dev: 'eth0', protocol: 'kernel', metric: 256, flags: [], pref: 'medium' },
  { dst: 'fe80::/64', dev: 'eth1', protocol: 'kernel', metric: 256, flags: [], pref: 'medium' },
  {
    dst: 'default',
    gateway: 'fe80::1',
    dev: 'eth0',
    protocol: 'ra',
    metric: 1024,
    expires: 1788,
    flags: [],
    pref: 'medium',
  },
]);

const NEIGH = JSON.stringify([
  { dst: '10.201.1.2', dev: 'eth0', lladdr: '32:c5:99:38:a1:4e', state: ['REACHABLE'] },
  { dst: '10.201.1.254', dev: 'eth0', lladdr: '52:54:00:12:34:fe', state: ['STALE'] },
  { dst: '10.201.1.3', dev: 'eth0', lladdr: '52:54:00:12:34:03', state: ['DELAY'] },
  { dst: '10.201.1.4', dev: 'eth0', lladdr: '52:54:00:12:34:04', state: ['REACHABLE'] },
  { dst: '10.201.1.5', dev: 'eth0', lladdr: '00:11:22:33:44:55', state: ['PERMANENT'] },
  { dst: '10.201.1.7', dev: 'eth0', state: ['INCOMPLETE'] },
  { dst: '10.201.1.8', dev: 'eth0', lladdr: '32:c5:99:38:a1:08', state: ['FAILED'] },
  { dst: '10.201.1.9', dev: 'eth1', lladdr: '32:c5:99:38:a1:09', state: ['REACHABLE'] },
  { dst: '10.201.1.255', dev: 'eth0', lladdr: 'ff:ff:ff:ff:ff:ff', state: ['NOARP'] },
  { dst: '10.201.1.10', dev: 'eth0', lladdr: '00:00:00:00:00:00', state: ['STALE'] },
  { dst: '10.202.0.7', dev: 'eth1', lladdr: '32:c5:99:38:a1:07', state: ['REACHABLE'] },
  { dst: 'fe80::1', dev: 'eth0', lladdr: '02:00:5e:00:00:01', router: null, state: ['STALE'] },
  { dst: 'fd00:201:1::2', dev: 'eth0', lladdr: '32:c5:99:38:a1:62', state: ['REACHABLE'] },
  {
    dst: 'fd00:201:1::9',
    dev: 'eth0',
    lladdr: '52:54:00:12:34:09',
    router: null,
    state: ['PROBE'],
  },
  { dst: 'fd00:201:1::7', dev: 'eth0', state: ['FAILED'] },
  { dst: 'ff02::16', dev: 'eth0', lladdr: '33:33:00:00:00:16', state: ['NOARP'] },
]);

const MAC: Record<string, string> = {
  eth0: '02:00:00:00:00:aa',
  eth1: '02:00:00:00:00:bb',
};

function mac(s: string): Uint8Array {
  return Uint8Array.from(s.split(':').map((x) => parseInt(x, 16)));
}

function links(dev: string): LinkInfo | null {
  if (dev === 'eth0') return { mac: mac(MAC.eth0), mtu: 1500, ether: true };
  if (dev === 'eth1') return { mac: mac(MAC.eth1), mtu: 9000, ether: true };
  if (dev === 'wg0') return { mac: new Uint8Array(6), mtu: 1420, ether: false };
  return null;
}

function v4(s: string): Uint8Array {
  return Uint8Array.from(s.split('.').map(Number));
}

function v6(s: string): Uint8Array {
  const [h, t] = s.includes('::') ? s.split('::') : [s, ''];
  const head = h ? h.split(':') : [];
  const tail = t ? t.split(':') : [];
  const groups = [...head, ...Array<string>(8 - head.length - tail.length).fill('0'), ...tail];
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    const n = parseInt(g, 16);
    out[2 * i] = n >> 8;
    out[2 * i + 1] = n & 0xff;
  });
  return out;
}

function routes(): ReplyRoutes {
  const r = new ReplyRoutes();
  r.setRoutes(4, RULES4, ROUTES4, links);
  r.setRoutes(6, RULES6, ROUTES6, links);
  r.setNeighbours(NEIGH);
  return r;
}

function get(r: ReplyRoutes, addr: string): ReplyHop | null {
  return addr.includes(':') ? r.lookup(6, v6(addr), 0) : r.lookup(4, v4(addr), 0);
}

function fmtMac(b: Uint8Array): string {
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join(':');
}

/** The hop as plain facts: device, destination MAC, source MAC, MTU. */
function facts(h: ReplyHop | null): [string, string, string, number] | null {
  if (!h) return null;
  assert.equal(h.eth.length, 12);
  return [h.dev, fmtMac(h.eth.subarray(0, 6)), fmtMac(h.eth.subarray(6, 12)), h.mtu];
}

describe('ReplyRoutes: IPv4', () => {
  const r = routes();

  it('standard rules: the family is usable', () => {
    assert.equal(r.usable(4), true);
    assert.equal(r.usable(6), true);
  });

  it('default route: the gateway MAC, the device MAC and MTU', () => {
    const h = get(r, '198.51.100.7');
    assert.deepEqual(facts(h), ['eth0', '52:54:00:12:34:fe', MAC.eth0, 1500]);
    assert.equal(h?.tx, null);
  });

  it('on-link client with a neighbour entry: its own MAC', () => {
    assert.deepEqual(facts(get(r, '10.201.1.2')), ['eth0', '32:c5:99:38:a1:4e', MAC.eth0, 1500]);
    assert.deepEqual(facts(get(r, '10.201.1.5')), ['eth0', '00:11:22:33:44:55', MAC.eth0, 1500]);
    assert.deepEqual(facts(get(r, '10.202.0.7')), ['eth1', '32:c5:99:38:a1:07', MAC.eth1, 9000]);
  });

  it('on-link client without a usable neighbour entry: null', () => {
    assert.equal(get(r, '10.201.1.20'), null); // no entry
    assert.equal(get(r, '10.201.1.7'), null); // INCOMPLETE
    assert.equal(get(r, '10.201.1.8'), null); // FAILED
    assert.equal(get(r, '10.201.1.9'), null); // entry on another device
    assert.equal(get(r, '10.201.1.10'), null); // all-zero MAC
    assert.equal(get(r, '10.201.1.255'), null); // broadcast
    assert.equal(get(r, '10.201.1.1'), null); // this host (prefsrc)
  });

  it('gateway without a usable neighbour entry: null', () => {
    assert.equal(get(r, '10.12.1.1'), null);
  });

  it('longest prefix wins: a host route via another gateway', () => {
    assert.deepEqual(facts(get(r, '10.9.9.9')), ['eth0', '52:54:00:12:34:03', MAC.eth0, 1500]);
    assert.deepEqual(facts(get(r, '10.9.9.8')), ['eth0', '52:54:00:12:34:04', MAC.eth0, 1400]);
  });

  it('route mtu metric: applies when smaller than the device MTU', () => {
    assert.equal(get(r, '10.9.1.1')?.mtu, 1400);
    assert.equal(get(r, '10.16.1.1')?.mtu, 1500);
  });

  it('several routes of one prefix: the lowest metric, unless tied', () => {
    assert.deepEqual(facts(get(r, '10.8.1.1')), ['eth0', '52:54:00:12:34:03', MAC.eth0, 1300]);
    assert.equal(get(r, '10.11.1.1'), null);
  });

  it('unusable longest match gives null, with no fallback to the default route', () => {
    assert.equal(get(r, '10.7.1.1'), null); // blackhole
    assert.equal(get(r, '10.6.1.1'), null); // multipath
    assert.equal(get(r, '10.5.1.1'), null); // TOS-specific
    assert.equal(get(r, '10.10.1.1'), null); // non-Ethernet device
    assert.equal(get(r, '10.13.1.1'), null); // IPv6 gateway
    assert.equal(get(r, '10.14.1.1'), null); // link down
    assert.equal(get(r, '10.15.1.1'), null); // unknown device
  });

  it('special destinations: null', () => {
    for (const a of ['127.0.0.1', '224.0.0.1', '239.1.2.3', '255.255.255.255', '0.0.0.0'])
      assert.equal(get(r, a), null, a);
  });

  it('reads the address from a buffer at an offset', () => {
    const pkt = new Uint8Array(20 + 8);
    pkt.set([0x45, 0, 0, 28, 0, 0, 0x40, 0, 64, 17], 0);
    pkt.set(v4('10.201.1.1'), 12);
    pkt.set(v4('10.201.1.2'), 16);
    assert.deepEqual(facts(r.lookup(4, pkt, 16)), ['eth0', '32:c5:99:38:a1:4e', MAC.eth0, 1500]);
    assert.equal(r.lookup(4, pkt, 12), null); // the source: this host
    assert.equal(r.lookup(4, pkt, 26), null); // out of the buffer
  });

  it('the local table: addresses of this host are never answered', () => {
    const x = new ReplyRoutes();
    x.setRoutes(4, RULES4, ROUTES4, links);
    x.setNeighbours(NEIGH);
    assert.notEqual(get(x, '192.0.2.10'), null);
    const local = JSON.stringify([
      {
        type: 'local',
        dst: '10.201.1.1',
        dev: 'eth0',
        protocol: 'kernel',
        scope: 'host',
        prefsrc: '10.201.1.1',
        flags: [],
      },
      {
        type: 'broadcast',
        dst: '10.201.1.255',
        dev: 'eth0',
        protocol: 'kernel',
        scope: 'link',
        prefsrc: '10.201.1.1',
        flags: [],
      },
      { type: 'local', dst: '192.0.2.10', dev: 'lo', scope: 'host', flags: [] },
      { type: 'local', dst: '203.0.113.0/24', dev: 'lo', scope: 'host', flags: [] },
    ]);
    x.setRoutes(4, RULES4, ROUTES4, links, local);
    assert.equal(get(x, '192.0.2.10'), null);
    assert.equal(get(x, '203.0.113.77'), null);
    assert.notEqual(get(x, '192.0.2.11'), null);
    x.setRoutes(4, RULES4, ROUTES4, links, 'not json');
    assert.equal(x.usable(4), false);
  });
});

describe('ReplyRoutes: IPv6', () => {
  const r = routes();

  it('on-link client with a neighbour entry: its own MAC', () => {
    assert.deepEqual(facts(get(r, 'fd00:201:1::2')), ['eth0', '32:c5:99:38:a1:62', MAC.eth0, 1500]);
    assert.equal(get(r, 'fd00:201:1::3'), null); // no entry
    assert.equal(get(r, 'fd00:201:1::7'), null); // FAILED
  });

  it('via a gateway: `gateway` and `via` forms, link-local default router', () => {
    const gw = ['eth0', '52:54:00:12:34:09', MAC.eth0, 1500];
    assert.deepEqual(facts(get(r, '2001:db8::5')), gw);
    assert.deepEqual(facts(get(r, '2001:dba::5')), gw);
    assert.deepEqual(facts(get(r, '2001:4860::8888')), [
      'eth0',
      '02:00:5e:00:00:01',
      MAC.eth0,
      1500,
    ]);
  });

  it('source-specific and multipath longest matches: null', () => {
    assert.equal(get(r, '2001:db9::5'), null);
    assert.equal(get(r, '2001:dbb::5'), null);
  });

  it('special destinations: null', () => {
    for (const a of ['fe80::1', 'ff02::1', 'ff02::16', '::1', '::', '::ffff:a00:1'])
      assert.equal(get(r, a), null, a);
  });

  it('reads the address from a buffer at an offset', () => {
    const pkt = new Uint8Array(40);
    pkt[0] = 0x60;
    pkt.set(v6('fd00:201:1::1'), 8);
    pkt.set(v6('2001:db8::5'), 24);
    assert.equal(r.lookup(6, pkt, 24)?.eth[5], 0x09);
    assert.equal(r.lookup(6, pkt, 25), null); // out of the buffer
  });
});

describe('ReplyRoutes: policy routing and limits', () => {
  it('a policy rule disables the family', () => {
    const r = new ReplyRoutes();
    r.setRoutes(4, RULES4_POLICY, ROUTES4, links);
    r.setRoutes(6, RULES6_POLICY, ROUTES6, links);
    r.setNeighbours(NEIGH);
    assert.equal(r.usable(4), false);
    assert.equal(r.usable(6), false);
    assert.equal(get(r, '198.51.100.7'), null);
    assert.equal(get(r, '10.201.1.2'), null);
    assert.equal(get(r, '2001:db8::5'), null);
    assert.match(r.describe(), /IPv4: disabled: policy routing/);
    assert.match(r.describe(), /IPv6: disabled: policy routing/);
  });

  it('rules with the standard priorities but a selector disable the family', () => {
    const r = new ReplyRoutes();
    const rules = RULES4.replace(
      '"priority":32766,"src":"all"',
      '"priority":32766,"src":"all","iif":"eth1"',
    );
    r.setRoutes(4, rules, ROUTES4, links);
    assert.equal(r.usable(4), false);
  });

  it('no snapshot or an unreadable one: not usable', () => {
    const r = new ReplyRoutes();
    assert.equal(r.usable(4), false);
    assert.equal(r.lookup(4, v4('198.51.100.7'), 0), null);
    r.setRoutes(6, RULES6, '[{"dst":', links);
    assert.equal(r.usable(6), false);
    r.setRoutes(6, 'Error: ...', ROUTES6, links);
    assert.equal(r.usable(6), false);
    assert.match(r.describe(), /IPv6: disabled: unreadable rule list/);
  });

  it('more than 512 routes disable the family', () => {
    const many = (n: number): string =>
      JSON.stringify(
        Array.from({ length: n }, (_, i) => ({
          dst: `10.${i >> 8}.${i & 255}.0/24`,
          gateway: '10.201.1.254',
          dev: 'eth0',
          flags: [],
        })),
      );
    const r = new ReplyRoutes();
    r.setRoutes(4, RULES4, many(512), links);
    assert.equal(r.usable(4), true);
    r.setRoutes(4, RULES4, many(513), links);
    assert.equal(r.usable(4), false);
    assert.match(r.describe(), /513 routes/);
  });
});

describe('ReplyRoutes: hop objects', () => {
  it('the same object on every look-up and across refreshes, with its tx', () => {
    const r = routes();
    const gw = get(r, '198.51.100.7');
    const on = get(r, '10.201.1.2');
    assert.ok(gw && on);
    assert.equal(get(r, '203.0.113.9'), gw);
    assert.equal(get(r, '10.201.1.2'), on);
    const tx = { sock: 'eth0' };
    gw.tx = tx;
    on.tx = tx;
    // Same snapshot again, then new states: the objects and their tx stay.
    r.setNeighbours(NEIGH.replaceAll('"REACHABLE"', '"STALE"'));
    r.setRoutes(4, RULES4, ROUTES4, links);
    assert.equal(get(r, '198.51.100.7'), gw);
    assert.equal(get(r, '10.201.1.2'), on);
    assert.equal(gw.tx, tx);
    // The default gateway's MAC changes: a new hop, which keeps the device's tx.
    r.setNeighbours(NEIGH.replace('52:54:00:12:34:fe', '52:54:00:12:34:ef'));
    const gw2 = get(r, '198.51.100.7');
    assert.notEqual(gw2, gw);
    assert.deepEqual(facts(gw2), ['eth0', '52:54:00:12:34:ef', MAC.eth0, 1500]);
    assert.equal(gw2?.tx, tx);
    assert.equal(get(r, '10.201.1.2'), on);
    // A route MTU change updates the same object.
    r.setRoutes(4, RULES4, ROUTES4.replace('"mtu":1300', '"mtu":1280'), links);
    const m = get(r, '10.8.1.1');
    r.setRoutes(4, RULES4, ROUTES4.replace('"mtu":1300', '"mtu":1200'), links);
    assert.equal(get(r, '10.8.1.1'), m);
    assert.equal(m?.mtu, 1200);
  });

  it('a neighbour gone: null, then a fresh hop when it is back', () => {
    const r = routes();
    assert.notEqual(get(r, '10.201.1.2'), null);
    r.setNeighbours('[]');
    assert.equal(get(r, '10.201.1.2'), null);
    assert.equal(get(r, '198.51.100.7'), null);
    r.setNeighbours('garbage');
    assert.equal(get(r, '10.201.1.2'), null);
    assert.match(r.describe(), /unreadable neighbour list/);
    r.setNeighbours(NEIGH);
    assert.deepEqual(facts(get(r, '10.201.1.2')), ['eth0', '32:c5:99:38:a1:4e', MAC.eth0, 1500]);
  });

  it('describe() summarises both families', () => {
    const r = routes();
    assert.match(r.describe(), /^IPv4: 18 routes .*; IPv6: 8 routes /);
  });
});
