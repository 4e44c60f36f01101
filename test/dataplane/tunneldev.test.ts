/**
 * Which interface kinds deliver packets the kernel's IPVS calls tunnelled
 * (tunneldev.ts). The listings are shaped as iproute2 prints `ip -d -j link show`
 * (`linkinfo.info_kind`, and an `encap` object only for FOU/GUE/other encapsulation):
 * this machine's kernel cannot create ipip/gre/sit/ip6tnl devices to list them for
 * real; test/e2e/tunneled.test.ts lists the real VXLAN, veth and bridge devices.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DEV_PLAIN,
  DEV_TUNNEL,
  DEV_UNKNOWN,
  TunnelDevices,
  isTunnelLink,
  type TunnelLinkJson,
} from '../../src/dataplane/tunneldev.js';
import { steerDevices, steerNames } from '../../src/dataplane/steer.js';

const link = (ifindex: number, kind?: string, encap?: { type: string | null }): TunnelLinkJson => ({
  ifindex,
  ifname: `if${ifindex}`,
  ...(kind ? { linkinfo: { info_kind: kind, info_data: encap ? { encap } : {} } } : {}),
});

test('IP-protocol tunnels are tunnelled; UDP tunnels and plain devices are not', () => {
  for (const k of [
    'ipip',
    'sit',
    'gre',
    'gretap',
    'ip6tnl',
    'ip6gre',
    'ip6gretap',
    'erspan',
    'vti',
    'vti6',
  ])
    assert.equal(isTunnelLink(link(3, k)), true, k);
  for (const k of [
    'vxlan',
    'geneve',
    'bareudp',
    'wireguard',
    'veth',
    'bridge',
    'bond',
    'vlan',
    'tun',
    'dummy',
  ])
    assert.equal(isTunnelLink(link(3, k)), false, k);
  assert.equal(isTunnelLink(link(1)), false, 'no linkinfo (loopback, a physical NIC)');
  // FOU/GUE put the tunnel in UDP: IPVS's UDP handler saw the outer packet
  assert.equal(isTunnelLink(link(3, 'ipip', { type: 'fou' })), false);
  assert.equal(isTunnelLink(link(3, 'gre', { type: 'gue' })), false);
  assert.equal(isTunnelLink(link(3, 'ip6tnl', { type: null })), false, 'another encapsulation');
});

test('the table by ifindex: a listing, an unknown ifindex refreshed once, then plain', () => {
  let listing: TunnelLinkJson[] = [link(1), link(2, 'veth'), link(5, 'ipip')];
  let calls = 0;
  const t = new TunnelDevices(undefined, undefined, () => {
    calls++;
    return listing;
  });
  t.refresh();
  assert.equal(t.tunnelled(5), true);
  assert.equal(t.tunnelled(2), false);
  assert.equal(t.tunnelled(0), false, 'no input device (locally generated)');
  assert.equal(calls, 1);
  // a device that appeared since: found by the refresh an unknown ifindex triggers
  listing = [...listing, link(130, 'gre')];
  assert.equal(t.state.length > 130 ? t.state[130] : DEV_UNKNOWN, DEV_UNKNOWN);
  assert.equal(t.tunnelled(130), true);
  assert.equal(t.state[130], DEV_TUNNEL);
  assert.equal(calls, 2);
  // an ifindex nobody lists: one refresh, then taken as plain (no refresh per packet)
  assert.equal(t.tunnelled(77), false);
  assert.equal(t.tunnelled(77), false);
  assert.equal(calls, 3);
  assert.equal(t.state[77], DEV_PLAIN);
  // a failing listing keeps the table
  const bad = new TunnelDevices(
    undefined,
    () => undefined,
    () => {
      throw new Error('ip: not found');
    },
  );
  assert.equal(bad.tunnelled(4), false);
});

test('steering leaves tunnel devices to the queue, whose indev tells the engine', () => {
  const names = steerNames('t', 7100);
  const devs = steerDevices(
    [
      { ...link(2, 'veth'), ifname: 'eth0' },
      { ...link(3, 'ipip'), ifname: 'tun0' },
      { ...link(4, 'vxlan'), ifname: 'vx0' },
      { ...link(5, 'gre', { type: 'fou' }), ifname: 'gfou' },
    ],
    names,
  );
  assert.deepEqual(devs, ['eth0', 'vx0', 'gfou']);
});
