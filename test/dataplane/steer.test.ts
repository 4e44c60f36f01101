/**
 * The tc filters of the fast capture path (src/dataplane/steer.ts): which packets are
 * steered into the TUN devices for which services, the exact u32 selectors, the
 * `tc -batch` lines, the interfaces chosen and the device names. The filters
 * themselves run in the kernel in the e2e tests (test/e2e/forwarding.test.ts).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Engine } from '../../src/engine/engine.js';
import {
  STEER_MAX_FILTERS,
  steerBatch,
  steerDevices,
  steerMatches,
  steerNames,
  steerTargets,
} from '../../src/dataplane/steer.js';

const IHL5 = 'match u8 0x45 0xff at 0 match u16 0 0x3fff at 6';

describe('steerMatches', () => {
  it('a NAT TCP service: the VIP:port request and each RIP:port reply', () => {
    const e = new Engine();
    const k = { af: 4 as const, protocol: 6, addr: '10.201.3.100', port: 80 };
    e.addService(k, { scheduler: 'rr' });
    e.addDest(k, { addr: '10.201.2.11', port: 8080, fwd: 'masq' });
    e.addDest(k, { addr: '10.201.2.12', port: 8080, fwd: 'masq' });
    const m = steerMatches(e);
    assert.deepEqual(m.req4, [
      `${IHL5} match ip dst 10.201.3.100/32 match ip protocol 6 0xff match ip dport 80 0xffff`,
    ]);
    assert.deepEqual([...m.rep4].sort(), [
      `${IHL5} match ip src 10.201.2.11/32 match ip protocol 6 0xff match ip sport 8080 0xffff`,
      `${IHL5} match ip src 10.201.2.12/32 match ip protocol 6 0xff match ip sport 8080 0xffff`,
    ]);
    assert.deepEqual(m.req6, []);
    assert.deepEqual(m.rep6, []);
    assert.equal(m.reqOff, undefined);
  });

  it('DR: requests only (replies do not pass the director); UDP and IPv6 selectors', () => {
    const e = new Engine();
    const k = { af: 6 as const, protocol: 17, addr: 'fd00:201:3::100', port: 53 };
    e.addService(k);
    e.addDest(k, { addr: 'fd00:201:2::11', port: 53, fwd: 'droute' });
    const m = steerMatches(e);
    assert.deepEqual(m.req6, [
      'match ip6 dst fd00:201:3::100/128 match ip6 protocol 17 0xff match ip6 dport 53 0xffff',
    ]);
    assert.deepEqual(m.rep6, []);
  });

  it('port 0, FTP and NAT dests on port 0 take every port', () => {
    const e = new Engine();
    const any = { af: 4 as const, protocol: 6, addr: '10.0.0.1', port: 0 };
    e.addService(any, { flags: 1, timeout: 300 });
    e.addDest(any, { addr: '10.0.1.1', port: 0, fwd: 'masq' });
    const ftp = { af: 4 as const, protocol: 6, addr: '10.0.0.2', port: 21 };
    e.addService(ftp);
    e.addDest(ftp, { addr: '10.0.1.2', port: 21, fwd: 'masq' });
    const m = steerMatches(e);
    assert.deepEqual(m.req4, [
      `${IHL5} match ip dst 10.0.0.1/32 match ip protocol 6 0xff`,
      `${IHL5} match ip dst 10.0.0.2/32 match ip protocol 6 0xff`,
    ]);
    assert.deepEqual(m.rep4, [
      `${IHL5} match ip src 10.0.1.1/32 match ip protocol 6 0xff`,
      `${IHL5} match ip src 10.0.1.2/32 match ip protocol 6 0xff`,
    ]);
  });

  it('not steered: services with a tunnel dest; with a fwmark service, no request at all', () => {
    const e = new Engine();
    const t = { af: 4 as const, protocol: 6, addr: '10.0.0.3', port: 80 };
    e.addService(t);
    e.addDest(t, { addr: '10.0.1.3', port: 80, fwd: 'tunnel' });
    assert.deepEqual(steerMatches(e).req4, []);
    const n = { af: 4 as const, protocol: 6, addr: '10.0.0.4', port: 80 };
    e.addService(n);
    e.addDest(n, { addr: '10.0.1.4', port: 80, fwd: 'masq' });
    assert.equal(steerMatches(e).req4.length, 1);
    e.addService({ af: 4, protocol: 6, fwmark: 7 });
    const m = steerMatches(e);
    assert.deepEqual(m.req4, []);
    assert.match(m.reqOff ?? '', /fwmark/);
    // NAT replies are still steered: marks play no part in finding their connection
    assert.equal(m.rep4.length, 1);
  });

  it('two services on the same RIP:port share one reply selector', () => {
    const e = new Engine();
    for (const addr of ['10.0.0.5', '10.0.0.6']) {
      const k = { af: 4 as const, protocol: 6, addr, port: 80 };
      e.addService(k);
      e.addDest(k, { addr: '10.0.1.5', port: 80, fwd: 'masq' });
    }
    assert.equal(steerMatches(e).rep4.length, 1);
  });

  it('more than STEER_MAX_FILTERS selectors: that list is left to the queues', () => {
    const e = new Engine();
    for (let i = 0; i <= STEER_MAX_FILTERS; i++) {
      const k = { af: 4 as const, protocol: 17, addr: `10.9.${i >> 8}.${i & 255}`, port: 53 };
      e.addService(k);
    }
    assert.deepEqual(steerMatches(e).req4, []);
  });
});

describe('steerBatch / steerDevices / steerNames', () => {
  const names = steerNames('e2emas4-director', 7100);

  it('names fit IFNAMSIZ and the priorities follow the queue number', () => {
    assert.equal(names.tunIn, 'tsvsi-e2emas4-d');
    assert.equal(names.tunOut, 'tsvso-e2emas4-d');
    assert.ok(names.tunIn.length <= 15);
    assert.equal(names.pref4, 7100);
    assert.equal(names.pref6, 7101);
    assert.equal(steerNames('a b/c', 1).tunIn, 'tsvsi-a_b_c');
  });

  it('per device: clsact, our priorities replaced, requests to tunIn, replies to tunOut', () => {
    const lines = steerBatch(names, ['eth0'], {
      req4: ['R4'],
      rep4: ['P4'],
      req6: ['R6'],
      rep6: [],
    });
    assert.deepEqual(lines, [
      'qdisc add dev eth0 clsact',
      'filter del dev eth0 ingress pref 7100',
      'filter del dev eth0 ingress pref 7101',
      'filter del dev eth0 ingress pref 7099',
      'filter add dev eth0 ingress pref 7100 protocol ip u32 R4 action mirred egress redirect dev tsvsi-e2emas4-d',
      'filter add dev eth0 ingress pref 7100 protocol ip u32 P4 action mirred egress redirect dev tsvso-e2emas4-d',
      'filter add dev eth0 ingress pref 7101 protocol ipv6 u32 R6 action mirred egress redirect dev tsvsi-e2emas4-d',
    ]);
  });

  it("Ethernet devices: only frames to the interface's own MAC (PACKET_HOST) are steered", () => {
    const links = [
      { ifname: 'eth0', link_type: 'ether', address: '02:AB:cd:00:11:22' },
      { ifname: 'br0', link_type: 'ether', address: '0a:00:00:00:00:01' },
      { ifname: 'p-rs1', link_type: 'ether', master: 'br0', address: '0a:00:00:00:00:02' },
      // no unicast MAC of its own to match: not steered (the queue takes its packets)
      { ifname: 'odd0', link_type: 'ether', address: '01:00:5e:00:00:01' },
      { ifname: 'odd1', link_type: 'ether' },
      { ifname: 'wg0', link_type: 'none' },
    ];
    const { devs, macs } = steerTargets(links, names);
    assert.deepEqual(devs, ['eth0', 'br0', 'wg0']);
    assert.deepEqual(
      [...macs],
      [
        ['eth0', '02:ab:cd:00:11:22'],
        ['br0', '0a:00:00:00:00:01'],
      ],
    );
    const m = { req4: ['R4'], rep4: [], req6: ['R6'], rep6: [], syn4: ['S4'] };
    const lines = steerBatch(names, devs, m, null, macs).filter((l) => l.includes(' u32 '));
    const eth0 = 'match u16 0x02ab 0xffff at -14 match u32 0xcd001122 0xffffffff at -12';
    assert.deepEqual(lines, [
      `filter add dev eth0 ingress pref 7100 protocol ip u32 ${eth0} S4 action mirred egress redirect dev tsvss-e2emas4-d`,
      `filter add dev eth0 ingress pref 7100 protocol ip u32 ${eth0} R4 action mirred egress redirect dev tsvsi-e2emas4-d`,
      `filter add dev eth0 ingress pref 7101 protocol ipv6 u32 ${eth0} R6 action mirred egress redirect dev tsvsi-e2emas4-d`,
      'filter add dev br0 ingress pref 7100 protocol ip u32 match u16 0x0a00 0xffff at -14 match u32 0x00000001 0xffffffff at -12 S4 action mirred egress redirect dev tsvss-e2emas4-d',
      'filter add dev br0 ingress pref 7100 protocol ip u32 match u16 0x0a00 0xffff at -14 match u32 0x00000001 0xffffffff at -12 R4 action mirred egress redirect dev tsvsi-e2emas4-d',
      'filter add dev br0 ingress pref 7101 protocol ipv6 u32 match u16 0x0a00 0xffff at -14 match u32 0x00000001 0xffffffff at -12 R6 action mirred egress redirect dev tsvsi-e2emas4-d',
      // no Ethernet header: every packet is the host's
      'filter add dev wg0 ingress pref 7100 protocol ip u32 S4 action mirred egress redirect dev tsvss-e2emas4-d',
      'filter add dev wg0 ingress pref 7100 protocol ip u32 R4 action mirred egress redirect dev tsvsi-e2emas4-d',
      'filter add dev wg0 ingress pref 7101 protocol ipv6 u32 R6 action mirred egress redirect dev tsvsi-e2emas4-d',
    ]);
  });

  it('devices: not loopback, not enslaved (the bridge is steered), not our TUNs', () => {
    const devs = steerDevices(
      [
        { ifname: 'lo', link_type: 'loopback' },
        { ifname: 'eth0', link_type: 'ether' },
        { ifname: 'br0', link_type: 'ether' },
        { ifname: 'p-rs1', link_type: 'ether', master: 'br0' },
        { ifname: 'wg0', link_type: 'none' },
        { ifname: names.tunIn, link_type: 'none' },
        { ifname: names.tunOut, link_type: 'none' },
      ],
      names,
    );
    assert.deepEqual(devs, ['eth0', 'br0', 'wg0']);
  });
});
