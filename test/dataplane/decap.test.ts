import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { runDecap, type DecapHandle } from '../../src/dataplane/decap.js';
import {
  allocBatch,
  openPacketSocket,
  openRawSocket,
  type PacketChannel,
} from '../../src/dataplane/native.js';
import {
  ETH_P_IP,
  ETH_P_IPV6,
  IPPROTO_RAW,
  M_LEN,
  M_OFF,
  META_STRIDE,
} from '../../src/dataplane/native-meta.js';
import { withNetns } from '../../src/dataplane/native-if.js';
import {
  addNs,
  cleanupNs,
  have,
  ip4,
  ip6,
  ipv4Packet,
  ipv6Packet,
  ipv6UdpPacket,
  killAll,
  sh,
  skipReason,
  spawnIn,
  udpDatagram,
  uniquePrefix,
  withTimeout,
} from './helpers.js';

const skip =
  skipReason() ?? (have('socat') ? undefined : 'socat not installed (scripts/test.sh installs it)');
if (skip) console.log(`# skipping decap tests: ${skip}`);

const DIRECTOR = '10.252.0.1';
const RS = '10.252.0.2';
const CLIENT = '10.252.9.9';
const VIP = '10.252.3.100';
const CLIENT6 = 'fd00:252:9::9';
const VIP6 = 'fd00:252:3::100';

function word(addr: string): number {
  const b = ip4(addr);
  return (b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3] | 0;
}

/** A "director" namespace and a real server namespace joined by a veth (a0 — b0). */
function twoHosts(tag: string): { dir: string; rs: string } {
  const p = uniquePrefix('d');
  const dir = addNs(`${p}${tag}d`);
  const rs = addNs(`${p}${tag}r`);
  sh('ip', ['link', 'add', 'a0', 'netns', dir, 'type', 'veth', 'peer', 'name', 'b0', 'netns', rs]);
  sh('ip', ['-n', dir, 'link', 'set', 'a0', 'up']);
  sh('ip', ['-n', dir, 'addr', 'add', `${DIRECTOR}/24`, 'dev', 'a0']);
  sh('ip', ['-n', dir, 'addr', 'add', `${CLIENT}/32`, 'dev', 'lo']);
  sh('ip', ['-n', dir, 'addr', 'add', `${CLIENT6}/128`, 'dev', 'lo', 'nodad']);
  sh('ip', ['-n', dir, 'addr', 'add', 'fd00:252::1/64', 'dev', 'a0', 'nodad']);
  sh('ip', ['-n', rs, 'link', 'set', 'b0', 'up']);
  sh('ip', ['-n', rs, 'addr', 'add', `${RS}/24`, 'dev', 'b0']);
  sh('ip', ['-n', rs, 'addr', 'add', 'fd00:252::2/64', 'dev', 'b0', 'nodad']);
  sh('ip', ['-n', rs, 'addr', 'add', `${VIP}/32`, 'dev', 'lo']);
  sh('ip', ['-n', rs, 'addr', 'add', `${VIP6}/128`, 'dev', 'lo', 'nodad']);
  sh('ip', ['-n', rs, 'route', 'add', '10.252.9.0/24', 'via', DIRECTOR]);
  sh('ip', ['-n', rs, '-6', 'route', 'add', 'fd00:252:9::/64', 'via', 'fd00:252::1']);
  for (const k of [
    'all.arp_ignore=1',
    'all.arp_announce=2',
    'all.rp_filter=0',
    'default.rp_filter=0',
  ]) {
    sh('ip', ['netns', 'exec', rs, 'sysctl', '-qw', `net.ipv4.conf.${k}`]);
  }
  return { dir, rs };
}

/**
 * Sends `tx` (2 packets) from the director's raw socket every 300 ms until `match`
 * sees a frame on the director's veth; resolves with that frame.
 */
async function exchange(
  dir: string,
  ethertype: number,
  tx: ReturnType<typeof allocBatch>,
  match: (p: Uint8Array) => boolean,
  channels: PacketChannel[],
  outer6 = false,
): Promise<{ pkt: Uint8Array; sent: number }> {
  const raw = withNetns(dir, () =>
    openRawSocket({ family: outer6 ? 6 : 4, protocol: IPPROTO_RAW }),
  );
  channels.push(raw);
  const cap = withNetns(dir, () =>
    openPacketSocket({ ifname: 'a0', protocol: ethertype, dgram: true }),
  );
  channels.push(cap);
  const rx = allocBatch(1 << 20, 32);
  const reply = new Promise<Uint8Array>((resolve) => {
    cap.onReadable(() => {
      const n = cap.read(rx);
      for (let i = 0; i < n; i++) {
        const off = rx.meta[i * META_STRIDE + M_OFF];
        const pkt = rx.buf.slice(off, off + rx.meta[i * META_STRIDE + M_LEN]);
        if (match(pkt)) resolve(pkt);
      }
    });
  });
  // socat may still be starting: resend until the answer comes
  let timer: NodeJS.Timeout | undefined;
  let sent = 0;
  const send = (): void => {
    sent += raw.write(tx, 2);
    timer = setTimeout(send, 300);
  };
  send();
  try {
    const pkt = await withTimeout(
      reply,
      8000,
      'the real server to answer the decapsulated UDP packet',
    );
    return { pkt, sent };
  } finally {
    clearTimeout(timer);
    cap.stopPolling();
  }
}

describe('decap', { skip, timeout: 60_000 }, () => {
  const handles: DecapHandle[] = [];
  const channels: PacketChannel[] = [];
  after(() => {
    for (const c of channels) c.close();
    for (const h of handles) h.close();
    killAll();
    cleanupNs();
  });

  it('delivers the inner packet of an IPIP packet to the real server, whose kernel answers the client directly', async () => {
    const { dir, rs } = twoHosts('4');
    const warnings: string[] = [];
    const decap = runDecap({
      netns: rs,
      allowedSources: [DIRECTOR],
      onWarning: (m) => warnings.push(m),
    });
    handles.push(decap);
    assert.match(sh('ip', ['-n', rs, '-o', 'link', 'show', 'dev', decap.tunName]), /UP/);
    spawnIn(rs, 'socat', ['-T', '10', `UDP4-RECVFROM:7777,bind=${VIP},fork`, 'PIPE']);

    const inner = ipv4Packet(
      CLIENT,
      VIP,
      17,
      udpDatagram(5555, 7777, new TextEncoder().encode('hello-decap')),
    );
    const outer = ipv4Packet(DIRECTOR, RS, 4, inner);
    const spoofed = ipv4Packet('10.252.0.77', RS, 4, inner);
    const tx = allocBatch(4096, 2);
    tx.buf.set(outer, 0);
    tx.buf.set(spoofed, 2048);
    tx.meta.set([0, outer.length, word(RS)], 0);
    tx.meta.set([2048, spoofed.length, word(RS)], META_STRIDE);

    const { pkt, sent } = await exchange(
      dir,
      ETH_P_IP,
      tx,
      (p) => p[9] === 17 && p[16] === 10 && p[19] === 9 && ((p[20] << 8) | p[21]) === 7777,
      channels,
    );
    assert.ok(sent >= 2, 'the raw socket sent both tunnelled packets');
    assert.deepEqual(Array.from(pkt.subarray(12, 16)), ip4(VIP), 'answered from the VIP');
    assert.deepEqual(Array.from(pkt.subarray(16, 20)), ip4(CLIENT), 'straight to the client');
    assert.equal(new TextDecoder().decode(pkt.subarray(28)), 'hello-decap');
    assert.ok(decap.stats.delivered >= 1);
    assert.ok(decap.stats.refused >= 1, 'the packet from an unlisted tunnel source was refused');
    assert.equal(decap.stats.malformed, 0);
    assert.deepEqual(warnings, []);

    const tunName = decap.tunName;
    decap.close();
    decap.close();
    assert.throws(() => sh('ip', ['-n', rs, 'link', 'show', 'dev', tunName]), /does not exist/);
  });

  it('delivers IPv6 carried in IPv4 (protocol 41) the same way', async () => {
    const { dir, rs } = twoHosts('6');
    const decap = runDecap({ netns: rs });
    handles.push(decap);
    spawnIn(rs, 'socat', ['-T', '10', `UDP6-RECVFROM:7777,bind=[${VIP6}],fork`, 'PIPE']);

    const inner = ipv6UdpPacket(
      CLIENT6,
      VIP6,
      udpDatagram(5555, 7777, new TextEncoder().encode('hello-6in4')),
    );
    const outer = ipv4Packet(DIRECTOR, RS, 41, inner);
    const garbage = ipv4Packet(DIRECTOR, RS, 41, new Uint8Array(12)); // too short to be IPv6
    const tx = allocBatch(4096, 2);
    tx.buf.set(outer, 0);
    tx.buf.set(garbage, 2048);
    tx.meta.set([0, outer.length, word(RS)], 0);
    tx.meta.set([2048, garbage.length, word(RS)], META_STRIDE);

    const vip6 = ip6(VIP6);
    const { pkt } = await exchange(
      dir,
      ETH_P_IPV6,
      tx,
      (p) => p[6] === 17 && vip6.every((b, i) => p[8 + i] === b) && ((p[40] << 8) | p[41]) === 7777,
      channels,
    );
    assert.deepEqual(Array.from(pkt.subarray(24, 40)), ip6(CLIENT6), 'straight to the client');
    assert.equal(new TextDecoder().decode(pkt.subarray(48)), 'hello-6in4');
    assert.ok(decap.stats.delivered >= 1);
    assert.ok(decap.stats.malformed >= 1, 'the truncated inner packet was dropped');
  });

  it('delivers IPv4 carried in IPv6 (outer next header 4), checking the IPv6 tunnel source', async () => {
    const { dir, rs } = twoHosts('x');
    const decap = runDecap({ netns: rs, allowedSources: ['fd00:252::1'] });
    handles.push(decap);
    spawnIn(rs, 'socat', ['-T', '10', `UDP4-RECVFROM:7778,bind=${VIP},fork`, 'PIPE']);

    const inner = ipv4Packet(
      CLIENT,
      VIP,
      17,
      udpDatagram(5556, 7778, new TextEncoder().encode('hello-4in6')),
    );
    const outer = ipv6Packet('fd00:252::1', 'fd00:252::2', 4, inner);
    const tx = allocBatch(4096, 2);
    tx.buf.set(outer, 0);
    tx.buf.set(outer, 2048);
    const dst = ip6('fd00:252::2');
    const words = [0, 4, 8, 12].map(
      (i) => (dst[i] << 24) | (dst[i + 1] << 16) | (dst[i + 2] << 8) | dst[i + 3] | 0,
    );
    tx.meta.set([0, outer.length, ...words], 0);
    tx.meta.set([2048, outer.length, ...words], META_STRIDE);

    const { pkt } = await exchange(
      dir,
      ETH_P_IP,
      tx,
      (p) => p[9] === 17 && p[16] === 10 && p[19] === 9 && ((p[20] << 8) | p[21]) === 7778,
      channels,
      true,
    );
    assert.equal(new TextDecoder().decode(pkt.subarray(28)), 'hello-4in6');
    assert.ok(decap.stats.delivered >= 1);
    assert.equal(decap.stats.refused, 0);
  });
});
