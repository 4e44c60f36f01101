import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildIcmpError } from '../../src/wire/icmp.js';
import { describe } from '../../src/wire/describe.js';
import { PacketView, ParseError, parseErrorName } from '../../src/wire/packet.js';
import { Rng } from './rand.js';
import * as V from './vectors.js';

const CODES = new Set<number>(Object.values(ParseError));
const SEEDS: Uint8Array[] = Object.values(V).filter(
  (v): v is Uint8Array => v instanceof Uint8Array,
);

/** One fuzz input: a buffer and the (off, len) window handed to the parser. */
function makeInput(rng: Rng): [Uint8Array, number, number] {
  const kind = rng.int(4);
  let pkt: Uint8Array;
  if (kind === 0) {
    pkt = rng.bytes(rng.int(160));
    if (pkt.length > 0 && rng.int(2) === 0)
      pkt[0] = (rng.int(2) === 0 ? 0x40 : 0x60) | (pkt[0] & 0x0f);
  } else {
    pkt = SEEDS[rng.int(SEEDS.length)].slice();
    const flips = kind === 1 ? 1 + rng.int(4) : 0;
    for (let i = 0; i < flips && pkt.length > 0; i++) pkt[rng.int(pkt.length)] = rng.u32() & 0xff;
    if (kind === 2) {
      // aim at the fields the parser trusts: lengths, IHL, next headers, data offset
      const spots = [0, 2, 3, 4, 5, 6, 9, 32, 40, 41, 44, 46, 48, 49, 52, 60, 61, 64];
      const s = spots[rng.int(spots.length)];
      if (s < pkt.length) pkt[s] = rng.u32() & 0xff;
    }
    if (kind === 3 || rng.int(3) === 0) pkt = pkt.subarray(0, rng.int(pkt.length + 1));
  }
  const pre = rng.int(3) === 0 ? rng.int(20) : 0;
  const post = rng.int(3) === 0 ? rng.int(20) : 0;
  const buf = new Uint8Array(pre + pkt.length + post);
  for (let i = 0; i < buf.length; i++) buf[i] = rng.u32() & 0xff;
  buf.set(pkt, pre);
  return [buf, pre, pkt.length + (rng.int(4) === 0 ? post : 0)];
}

function checkInvariants(pv: PacketView, off: number, len: number, what: string): void {
  assert.equal(pv.l3off, off, what);
  assert.ok(pv.l3len <= len, what);
  assert.ok(pv.l3len >= pv.ihl, what);
  assert.ok(pv.l4off >= off + pv.ihl, what);
  assert.ok(pv.l4len >= 0, what);
  assert.equal(pv.l4off + pv.l4len, off + pv.l3len, what);
  assert.ok(pv.payloadOff >= pv.l4off && pv.payloadLen >= 0, what);
  assert.equal(pv.payloadOff + pv.payloadLen, off + pv.l3len, what);
  assert.ok(pv.frag === 0 || pv.frag === 1 || pv.frag === 2, what);
  if (pv.csumOff >= 0) {
    assert.ok(pv.csumOff >= pv.l4off && pv.csumOff + 2 <= off + pv.l3len, what);
  }
  if (pv.fragOff >= 0) assert.ok(pv.fragOff >= off + 40 && pv.fragOff + 8 <= pv.l4off, what);
  if (!pv.embedded && pv.proto === 6 && pv.hasPorts) {
    assert.ok(pv.tcpDoff >= 20 && pv.tcpDoff <= pv.l4len, what);
  }
}

test('100,000 random, mutated and truncated packets: parse never throws and always answers OK or a named error', () => {
  const rng = new Rng(0xdecaf);
  const pv = new PacketView();
  const ev = new PacketView();
  const out = new Uint8Array(1400);
  const src = Uint32Array.of(0x0a000001, 0, 0, 1);
  const seen = new Map<string, number>();
  for (let n = 0; n < 100_000; n++) {
    const [buf, off, len] = makeInput(rng);
    const what = `case ${n}`;
    const e = pv.parse(buf, off, len);
    assert.ok(CODES.has(e), what);
    assert.notEqual(parseErrorName(e).startsWith('UNKNOWN'), true, what);
    seen.set(parseErrorName(e), (seen.get(parseErrorName(e)) ?? 0) + 1);
    if (e === 0) {
      checkInvariants(pv, off, len, what);
      pv.l4ChecksumOk();
      if (n % 7 === 0) pv.l4ChecksumFill();
    }
    const ee = ev.parseEmbedded(buf, off, len);
    assert.ok(CODES.has(ee), what);
    if (ee === 0) checkInvariants(ev, off, len, what);
    if (n % 10 === 0) assert.equal(typeof describe(buf, off, len), 'string');
    if (n % 5 === 0) {
      const af = rng.int(2) === 0 ? 4 : 6;
      const cap = rng.int(1400);
      const w = buildIcmpError(out, rng.int(50), cap, buf, off, len, af, 3, 3, 0, src);
      assert.ok(w >= 0 && w <= cap, what);
    }
  }
  // the corpus reaches every outcome, so the assertions above are not vacuous
  for (const name of Object.keys(ParseError)) {
    if (name === 'BAD_BOUNDS') continue;
    assert.ok((seen.get(name) ?? 0) > 0, `never saw ${name}: ${JSON.stringify([...seen])}`);
  }
});
