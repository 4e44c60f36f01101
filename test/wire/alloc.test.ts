import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PerformanceObserver } from 'node:perf_hooks';
import v8 from 'node:v8';
import vm from 'node:vm';
import {
  csumApplyDiff,
  csumDiff16,
  csumDiff32,
  l4ChecksumOk,
  partialReplace32,
} from '../../src/wire/checksum.js';
import { buildIcmpError } from '../../src/wire/icmp.js';
import { PacketView } from '../../src/wire/packet.js';
import * as V from './vectors.js';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

const PKTS: Uint8Array[] = Object.values(V).filter((v): v is Uint8Array => v instanceof Uint8Array);

/** The per-packet work the engine does with wire/, over every captured vector. */
function work(
  n: number,
  pv: PacketView,
  ev: PacketView,
  out: Uint8Array,
  src: Uint32Array,
): number {
  let x = 0;
  for (let i = 0; i < n; i++) {
    const p = PKTS[i % PKTS.length];
    x ^= pv.parse(p, 0, p.length);
    if (pv.icmpType === 3 || pv.icmpType === 1) {
      x ^= ev.parseEmbedded(p, pv.l4off + 8, pv.l4len - 8);
    }
    if (pv.csumOff >= 0) {
      x ^= l4ChecksumOk(p, pv.af, pv.saddrOff, pv.daddrOff, pv.proto, pv.l4off, pv.l4len) ? 1 : 0;
      // address words passed as int32 (`| 0`): see read32i
      let d = csumDiff32(0, pv.daddr[0] | 0, 0x0a000305);
      d = csumDiff16(d, pv.dport, 8080);
      x ^= csumApplyDiff(0x1234, d) ^ partialReplace32(0x4321, pv.saddr[0] | 0, 0x0a000001);
    }
    if ((i & 7) === 0) x ^= buildIcmpError(out, 0, out.length, p, 0, p.length, pv.af, 3, 3, 0, src);
  }
  return x;
}

test('parsing, checksumming and building ICMP errors allocate nothing per packet', async () => {
  const pv = new PacketView();
  const ev = new PacketView();
  const out = new Uint8Array(1500);
  const src = Uint32Array.of(0x0a000001, 0, 0, 1);
  work(100_000, pv, ev, out, src); // warm up: optimise, fill inline caches
  // best of three measured runs: V8 may still optimise (and put code on the heap) during
  // one, which is no per-packet allocation; one per packet would show in every run
  let gcs = Infinity;
  let grown = Infinity;
  for (let round = 0; round < 3 && gcs + (grown >= 1024 * 1024 ? 1 : 0) > 0; round++) {
    let n = 0;
    const obs = new PerformanceObserver((list) => {
      n += list.getEntries().length;
    });
    obs.observe({ entryTypes: ['gc'] });
    gc();
    await new Promise((r) => setTimeout(r, 10));
    n = 0;
    const before = process.memoryUsage().heapUsed;
    work(500_000, pv, ev, out, src);
    const g = process.memoryUsage().heapUsed - before;
    await new Promise((r) => setTimeout(r, 10));
    obs.disconnect();
    if (n + (g >= 1024 * 1024 ? 1 : 0) < gcs + (grown >= 1024 * 1024 ? 1 : 0)) {
      gcs = n;
      grown = g;
    }
  }
  // One boxed number per packet would be 8 MB and several scavenges; what remains is
  // one-time metadata (feedback, optimised code) that does not grow with the count.
  assert.equal(gcs, 0, `${gcs} garbage collections ran during the loop`);
  assert.ok(grown < 1024 * 1024, `heap grew by ${grown} bytes over 500k packets`);
});
