import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import {
  allocBatch,
  loadNative,
  openNfQueue,
  openTun,
  setVerdict,
  sharedUring,
  uringUnavailable,
  type PacketChannel,
} from '../../src/dataplane/native.js';
import {
  M_ERR,
  M_LEN,
  M_NFQ_ID,
  M_NFQ_INFO_QUEUE,
  M_NFQ_PROTO_HOOK,
  M_OFF,
  META_STRIDE,
  NF_ACCEPT,
  NF_DROP,
  NF_INET_LOCAL_IN,
  TUN_READ_GAP,
} from '../../src/dataplane/native-meta.js';
import { interfaceIndex, interfaceMtu, withNetns } from '../../src/dataplane/native-if.js';
import {
  addNs,
  cleanupNs,
  ipv4Packet,
  killAll,
  sh,
  skipReason,
  spawnIn,
  uniquePrefix,
  withTimeout,
} from './helpers.js';

const skip = skipReason();
if (skip) console.log(`# skipping native data-plane tests: ${skip}`);

/** Waits until `pred` has seen a packet, reading batches on each wake-up. */
function collect(
  ch: PacketChannel,
  want: (pkt: Uint8Array) => boolean,
  ms: number,
  what: string,
): Promise<Uint8Array> {
  const batch = allocBatch(1 << 20, 32);
  const p = new Promise<Uint8Array>((resolve) => {
    ch.onReadable(() => {
      const n = ch.read(batch);
      for (let i = 0; i < n; i++) {
        const off = batch.meta[i * META_STRIDE + M_OFF];
        const len = batch.meta[i * META_STRIDE + M_LEN];
        const pkt = batch.buf.slice(off, off + len);
        if (want(pkt)) {
          ch.stopPolling();
          resolve(pkt);
          return;
        }
      }
    });
  });
  return withTimeout(p, ms, what).finally(() => ch.stopPolling());
}

describe('native shim', { skip, timeout: 60_000 }, () => {
  after(() => {
    killAll();
    cleanupNs();
  });

  it('loads and reports interfaces; errors carry the errno name', () => {
    const n = loadNative();
    for (const f of [
      'tunOpen',
      'packetOpen',
      'rawOpen',
      'nfqOpen',
      'readBatch',
      'writeBatch',
      'pollStart',
    ]) {
      assert.equal(typeof (n as unknown as Record<string, unknown>)[f], 'function', f);
    }
    assert.equal(interfaceIndex('lo'), 1);
    assert.ok(interfaceMtu('lo') > 0);
    assert.throws(
      () => interfaceIndex('nosuchif0'),
      (e: Error & { code?: string }) => e.code === 'ENODEV' && /No such device/.test(e.message),
    );
  });

  it('reads, in one batch call, the IPv4 packet the kernel routes into a TUN device', async () => {
    const ns = addNs(`${uniquePrefix('n')}a`);
    const tun = withNetns(ns, () => openTun({ name: 'tsvstun%d' }));
    try {
      assert.match(tun.name, /^tsvstun\d+$/);
      sh('ip', ['-n', ns, 'link', 'set', tun.name, 'up']);
      sh('ip', ['-n', ns, 'addr', 'add', '10.251.0.1/32', 'dev', 'lo']);
      sh('ip', ['-n', ns, 'route', 'add', '10.251.9.0/24', 'dev', tun.name, 'src', '10.251.0.1']);
      const got = collect(tun, (p) => p[0] >> 4 === 4 && p[9] === 1, 5000, 'ICMP echo in the TUN');
      spawnIn(ns, 'ping', ['-c', '3', '-i', '0.2', '-W', '1', '10.251.9.7']);
      const pkt = await got;
      assert.deepEqual(Array.from(pkt.subarray(12, 20)), [10, 251, 0, 1, 10, 251, 9, 7]);
      assert.equal(pkt[20], 8, 'ICMP echo request');
    } finally {
      tun.close();
    }
  });

  it('writes a batch into a TUN device: the kernel answers an echo request written to it', async () => {
    const ns = addNs(`${uniquePrefix('n')}b`);
    const tun = withNetns(ns, () => openTun({ name: 'tsvstun%d' }));
    try {
      sh('ip', ['-n', ns, 'link', 'set', tun.name, 'up']);
      sh('ip', ['-n', ns, 'addr', 'add', '10.251.1.1/24', 'dev', tun.name]);
      sh('ip', ['netns', 'exec', ns, 'sysctl', '-qw', `net.ipv4.conf.${tun.name}.rp_filter=0`]);
      const echo = new Uint8Array(16);
      echo[0] = 8; // echo request, code 0, id/seq below
      echo[4] = 0x42;
      echo[6] = 0x00;
      echo[7] = 0x01;
      const out = allocBatch(1 << 16, 4);
      const pkt = ipv4Packet('10.251.1.2', '10.251.1.1', 1, echo);
      out.buf.set(pkt, 0);
      out.buf.set(pkt, 256);
      out.meta.set([0, pkt.length, 0, 0, 0, 0, 0, -1], 0);
      out.meta.set([256, pkt.length, 0, 0, 0, 0, 0, -1], META_STRIDE);
      const reply = collect(
        tun,
        (p) => p[9] === 1 && p[20] === 0,
        5000,
        'ICMP echo reply from the TUN',
      );
      assert.equal(tun.write(out, 2), 2);
      assert.equal(out.meta[M_ERR], 0);
      const r = await reply;
      assert.deepEqual(Array.from(r.subarray(12, 20)), [10, 251, 1, 1, 10, 251, 1, 2]);
      assert.equal(r[24], 0x42, 'echo id copied');
    } finally {
      tun.close();
    }
  });

  it('io_uring: a batch written into a TUN and its answers read back, many per system call', async (t) => {
    if (sharedUring() === null) return t.skip(`io_uring unavailable: ${uringUnavailable()}`);
    const ns = addNs(`${uniquePrefix('n')}u`);
    const tun = withNetns(ns, () => openTun({ name: 'tsvstun%d' }));
    try {
      assert.equal(tun.useUring(), true);
      assert.equal(tun.uring, true);
      sh('ip', ['-n', ns, 'link', 'set', tun.name, 'up']);
      sh('ip', ['-n', ns, 'addr', 'add', '10.251.2.1/24', 'dev', tun.name]);
      sh('ip', ['netns', 'exec', ns, 'sysctl', '-qw', `net.ipv4.conf.${tun.name}.rp_filter=0`]);
      const rx = allocBatch(4 << 20, 64);
      // the device's own IPv6 chatter, then nothing: an empty read says so
      while (tun.read(rx) > 0 || tun.more);
      assert.equal(tun.read(rx), 0);
      assert.equal(tun.more, false);
      const N = 8;
      const out = allocBatch(1 << 16, N);
      for (let i = 0; i < N; i++) {
        const echo = new Uint8Array(16);
        echo[0] = 8;
        echo[4] = 0x42;
        echo[7] = i;
        const pkt = ipv4Packet('10.251.2.2', '10.251.2.1', 1, echo);
        out.buf.set(pkt, i * 256);
        out.meta.set([i * 256, pkt.length, 0, 0, 0, 0, 0, -1], i * META_STRIDE);
      }
      const seqs: number[] = [];
      const got = new Promise<void>((resolve) => {
        tun.onReadable(() => {
          do {
            const n = tun.read(rx);
            for (let i = 0; i < n; i++) {
              const off = rx.meta[i * META_STRIDE + M_OFF];
              assert.ok(off >= TUN_READ_GAP, 'room in front of every packet');
              const p = rx.buf.subarray(off, off + rx.meta[i * META_STRIDE + M_LEN]);
              if (p[0] >> 4 === 4 && p[9] === 1 && p[20] === 0 && p[24] === 0x42) seqs.push(p[27]);
            }
          } while (tun.more);
          if (seqs.length >= N) resolve();
        });
      });
      assert.equal(tun.write(out, N), N, 'all written in one call');
      for (let i = 0; i < N; i++) assert.equal(out.meta[i * META_STRIDE + M_ERR], 0);
      await withTimeout(got, 5000, 'eight echo replies from the TUN');
      assert.deepEqual(seqs, [0, 1, 2, 3, 4, 5, 6, 7], 'in the order the kernel sent them');
      tun.stopPolling();
      assert.equal(tun.useUring(false), true);
      assert.equal(tun.uring, false);
      assert.equal(tun.read(rx), 0, 'plain read() again');
    } finally {
      tun.close();
    }
  });

  it('queues INPUT packets on a netfilter queue and applies batched verdicts', async () => {
    const ns = addNs(`${uniquePrefix('n')}c`);
    sh('ip', [
      'netns',
      'exec',
      ns,
      'iptables',
      '-A',
      'INPUT',
      '-p',
      'icmp',
      '--icmp-type',
      'echo-request',
      '-j',
      'NFQUEUE',
      '--queue-num',
      '7',
    ]);
    const q = withNetns(ns, () => openNfQueue({ queue: 7, gso: true, failOpen: true }));
    try {
      assert.throws(
        () => withNetns(ns, () => openNfQueue({ queue: 7 })),
        (e: Error & { code?: string }) => e.code === 'EPERM',
        'a queue bound by another socket is refused',
      );
      const batch = allocBatch(1 << 20, 32);
      let seen = 0;
      const hooks: number[] = [];
      const protos: number[] = [];
      const queues: number[] = [];
      const l4: number[] = [];
      const done = new Promise<void>((resolve) => {
        q.onReadable(() => {
          const n = q.read(batch);
          for (let i = 0; i < n; i++) {
            const b = i * META_STRIDE;
            hooks.push(batch.meta[b + M_NFQ_PROTO_HOOK] >>> 16);
            protos.push(batch.meta[b + M_NFQ_PROTO_HOOK] & 0xffff);
            queues.push(batch.meta[b + M_NFQ_INFO_QUEUE] >>> 16);
            l4.push(batch.buf[batch.meta[b + M_OFF] + 9]);
            // accept the first two, drop the third: ping must see exactly two replies
            setVerdict(batch, i, 7, batch.meta[b + M_NFQ_ID], seen < 2 ? NF_ACCEPT : NF_DROP);
            seen++;
          }
          q.write(batch, n);
          if (seen >= 3) resolve();
        });
      });
      const ping = spawnIn(ns, 'ping', ['-c', '3', '-i', '0.2', '-W', '1', '127.0.0.1']);
      let out = '';
      ping.stdout?.on('data', (d: Buffer) => (out += d.toString()));
      const exited = new Promise<number | null>((r) => ping.on('exit', (c) => r(c)));
      await withTimeout(done, 5000, 'three queued echo requests');
      await withTimeout(exited, 5000, 'ping to exit');
      assert.deepEqual(hooks, [NF_INET_LOCAL_IN, NF_INET_LOCAL_IN, NF_INET_LOCAL_IN]);
      assert.deepEqual(protos, [0x0800, 0x0800, 0x0800], 'hardware protocol IPv4');
      assert.deepEqual(queues, [7, 7, 7]);
      assert.deepEqual(l4, [1, 1, 1], 'payload is the IPv4 ICMP packet');
      assert.match(out, /3 packets transmitted, 2 received/);
    } finally {
      q.close();
    }
  });
});
