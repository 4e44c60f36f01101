import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { runDecap, type DecapHandle } from '../../src/dataplane/decap.js';
import {
  allocBatch,
  ETH_P_IP,
  IPPROTO_RAW,
  M_LEN,
  M_OFF,
  META_STRIDE,
  openPacketSocket,
  openRawSocket,
  withNetns,
  type PacketChannel,
} from '../../src/dataplane/native.js';
import {
  addNs,
  cleanupNs,
  have,
  ip4,
  ipv4Packet,
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

function word(addr: string): number {
  const b = ip4(addr);
  return (b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3] | 0;
}

describe('decap', { skip }, () => {
  let decap: DecapHandle | undefined;
  const channels: PacketChannel[] = [];
  after(() => {
    for (const c of channels) c.close();
    decap?.close();
    killAll();
    cleanupNs();
  });

  it('delivers the inner packet of an IPIP packet to the real server, whose kernel answers the client directly', async () => {
    const p = uniquePrefix('d');
    const dir = addNs(`${p}dir`);
    const rs = addNs(`${p}rs`);
    sh('ip', [
      'link',
      'add',
      'a0',
      'netns',
      dir,
      'type',
      'veth',
      'peer',
      'name',
      'b0',
      'netns',
      rs,
    ]);
    sh('ip', ['-n', dir, 'link', 'set', 'a0', 'up']);
    sh('ip', ['-n', dir, 'addr', 'add', `${DIRECTOR}/24`, 'dev', 'a0']);
    sh('ip', ['-n', dir, 'addr', 'add', `${CLIENT}/32`, 'dev', 'lo']);
    sh('ip', ['-n', rs, 'link', 'set', 'b0', 'up']);
    sh('ip', ['-n', rs, 'addr', 'add', `${RS}/24`, 'dev', 'b0']);
    sh('ip', ['-n', rs, 'addr', 'add', `${VIP}/32`, 'dev', 'lo']);
    sh('ip', ['-n', rs, 'route', 'add', '10.252.9.0/24', 'via', DIRECTOR]);
    for (const k of [
      'all.arp_ignore=1',
      'all.arp_announce=2',
      'all.rp_filter=0',
      'default.rp_filter=0',
    ]) {
      sh('ip', ['netns', 'exec', rs, 'sysctl', '-qw', `net.ipv4.conf.${k}`]);
    }

    const warnings: string[] = [];
    decap = runDecap({ netns: rs, allowedSources: [DIRECTOR], onWarning: (m) => warnings.push(m) });
    assert.match(sh('ip', ['-n', rs, '-o', 'link', 'show', 'dev', decap.tunName]), /UP/);

    spawnIn(rs, 'socat', ['-T', '10', 'UDP4-RECVFROM:7777,bind=' + VIP + ',fork', 'PIPE']);

    // the "director" sends with a raw socket; the reply is watched on its veth
    const raw = withNetns(dir, () => openRawSocket({ family: 4, protocol: IPPROTO_RAW }));
    channels.push(raw);
    const cap = withNetns(dir, () =>
      openPacketSocket({ ifname: 'a0', protocol: ETH_P_IP, dgram: true }),
    );
    channels.push(cap);

    const payload = new TextEncoder().encode('hello-decap');
    const inner = ipv4Packet(CLIENT, VIP, 17, udpDatagram(5555, 7777, payload));
    const outer = ipv4Packet(DIRECTOR, RS, 4, inner);
    const spoofed = ipv4Packet('10.252.0.77', RS, 4, inner);
    const tx = allocBatch(4096, 2);
    tx.buf.set(outer, 0);
    tx.buf.set(spoofed, 2048);
    tx.meta.set([0, outer.length, word(RS)], 0);
    tx.meta.set([2048, spoofed.length, word(RS)], META_STRIDE);

    const rx = allocBatch(1 << 20, 32);
    const reply = new Promise<Uint8Array>((resolve) => {
      cap.onReadable(() => {
        const n = cap.read(rx);
        for (let i = 0; i < n; i++) {
          const off = rx.meta[i * META_STRIDE + M_OFF];
          const pkt = rx.buf.slice(off, off + rx.meta[i * META_STRIDE + M_LEN]);
          if (
            pkt[9] === 17 &&
            pkt[16] === 10 &&
            pkt[19] === 9 &&
            ((pkt[20] << 8) | pkt[21]) === 7777
          )
            resolve(pkt);
        }
      });
    });
    // socat may still be starting: resend until the answer comes
    let timer: NodeJS.Timeout | undefined;
    const send = (): void => {
      assert.equal(raw.write(tx, 2), 2);
      timer = setTimeout(send, 300);
    };
    send();
    let pkt: Uint8Array;
    try {
      pkt = await withTimeout(reply, 8000, 'the real server to answer the decapsulated UDP packet');
    } finally {
      clearTimeout(timer);
      cap.stopPolling();
    }
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
});
