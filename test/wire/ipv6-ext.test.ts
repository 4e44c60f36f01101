import { test } from 'node:test';
import assert from 'node:assert/strict';
import { read16 } from '../../src/wire/bytes.js';
import { Frag, PacketView, ParseError, parseErrorName } from '../../src/wire/packet.js';
import { UDP_DNS_V6 } from './vectors.js';

/** An extension header: its next-header type and its bytes (byte 0 is overwritten). */
interface Ext {
  type: number;
  bytes: number[];
}

/** Hop-by-hop / destination options / routing: (n8+1)*8 bytes, Pad1 options (zeros). */
function opts(type: number, n8 = 0): Ext {
  const b = new Array<number>((n8 + 1) * 8).fill(0);
  b[1] = n8;
  return { type, bytes: b };
}
/** Routing header type 4 (segment routing) with segments left 0 and one address. */
function routing(): Ext {
  const b = new Array<number>(24).fill(0);
  b[1] = 2;
  b[2] = 4;
  return { type: 43, bytes: b };
}
function frag(offsetBytes: number, more: boolean, id = 0x12345678): Ext {
  const w = offsetBytes | (more ? 1 : 0);
  return {
    type: 44,
    bytes: [0, 0, w >>> 8, w & 0xff, id >>> 24, (id >>> 16) & 0xff, (id >>> 8) & 0xff, id & 0xff],
  };
}
/** Authentication header with a 12-byte ICV: 24 bytes, length field (24/4)-2 = 4. */
function ah(): Ext {
  const b = new Array<number>(24).fill(0xa5);
  b[1] = 4;
  b[2] = b[3] = 0;
  return { type: 51, bytes: b };
}

/**
 * The real IPv6 DNS query with `exts` inserted between the fixed header and UDP; the
 * last header's next header is `last` (17 unless told).
 */
function chain(exts: Ext[], last = 17, tail?: number[]): Uint8Array {
  const l4 = tail ?? Array.from(UDP_DNS_V6.subarray(40));
  const body: number[] = [];
  for (let i = 0; i < exts.length; i++) {
    const b = exts[i].bytes.slice();
    b[0] = i + 1 < exts.length ? exts[i + 1].type : last;
    body.push(...b);
  }
  body.push(...l4);
  const p = new Uint8Array(40 + body.length);
  p.set(UDP_DNS_V6.subarray(0, 40));
  p[4] = body.length >>> 8;
  p[5] = body.length & 0xff;
  p[6] = exts.length ? exts[0].type : last;
  p.set(body, 40);
  return p;
}

const pv = new PacketView();

function ok(p: Uint8Array): PacketView {
  const e = pv.parse(p, 0, p.length);
  assert.equal(parseErrorName(e), 'OK');
  return pv;
}

test('a chain of hop-by-hop, destination, routing, atomic fragment, AH and destination headers walks to UDP', () => {
  const exts = [opts(0, 1), opts(60), routing(), frag(0, false), ah(), opts(60, 2)];
  const p = chain(exts);
  const v = ok(p);
  const extLen = 16 + 8 + 24 + 8 + 24 + 24;
  assert.equal(v.proto, 17);
  assert.equal(v.l4off, 40 + extLen);
  assert.equal(v.l4len, 60);
  assert.equal(v.frag, Frag.NONE); // atomic fragment: offset 0, M clear
  assert.equal(v.fragOff, 40 + 16 + 8 + 24);
  assert.equal(v.sport, 57334);
  assert.equal(v.dport, 53);
  assert.equal(read16(p, v.csumOff), read16(UDP_DNS_V6, 46));
  // the pseudo-header uses the upper-layer length, so the original checksum still holds
  assert.ok(v.l4ChecksumOk());
});

test('a first fragment header keeps parsing into UDP', () => {
  const v = ok(chain([frag(0, true)]));
  assert.equal(v.frag, Frag.FIRST);
  assert.equal(v.fragOff, 40);
  assert.equal(v.l4off, 48);
  assert.equal(v.sport, 57334);
});

test('after a later fragment header nothing is parsed: the bytes are fragment payload', () => {
  // the "payload" would be a malformed hop-by-hop header if it were walked
  const v = ok(chain([opts(60), frag(1232, true)], 0, [0xff, 0xff, 0xff]));
  assert.equal(v.frag, Frag.LATER);
  assert.equal(v.fragOff, 48);
  assert.equal(v.proto, 0);
  assert.equal(v.l4off, 56);
  assert.equal(v.l4len, 3);
  assert.equal(v.hasPorts, false);
});

test('ESP and No Next Header end the walk', () => {
  let v = ok(chain([opts(0)], 50, [1, 2, 3, 4, 5, 6, 7, 8, 9]));
  assert.equal(v.proto, 50);
  assert.equal(v.l4off, 48);
  assert.equal(v.l4len, 9);
  v = ok(chain([opts(60)], 59, []));
  assert.equal(v.proto, 59);
  assert.equal(v.l4len, 0);
  v = ok(chain([], 59, [0xaa]));
  assert.equal(v.proto, 59);
  assert.equal(v.l4off, 40);
});

test('AH length is counted in 4-byte units', () => {
  const v = ok(chain([ah()]));
  assert.equal(v.l4off, 64);
});

test('a hundred destination options headers are walked (the walk is bounded by the length, not a count)', () => {
  const exts: Ext[] = [];
  for (let i = 0; i < 100; i++) exts.push(opts(60));
  const v = ok(chain(exts));
  assert.equal(v.l4off, 840);
  assert.equal(v.dport, 53);
});

test('malformed chains are BAD_EXT_HEADER', () => {
  const bad: [string, Uint8Array][] = [
    ['hop-by-hop after another header', chain([opts(60), opts(0)])],
    ['two fragment headers', chain([frag(0, true), frag(0, true)])],
    [
      'header length past the payload',
      chain([{ type: 60, bytes: [0, 20, 0, 0, 0, 0, 0, 0] }], 17, []),
    ],
    ['one byte of header left', chain([], 60, [17])],
    ['fragment header cut', chain([], 44, [17, 0, 0, 0])],
    ['AH length past the payload', chain([], 51, [17, 200, 0, 0, 0, 0, 0, 0])],
  ];
  for (const [what, p] of bad) {
    assert.equal(parseErrorName(pv.parse(p, 0, p.length)), 'BAD_EXT_HEADER', what);
  }
});

test('in an ICMPv6 quote a cut extension header is a short quote (TRUNCATED_L3), not a malformed packet', () => {
  const p = chain([opts(0, 1), opts(60)]);
  const e = new PacketView();
  assert.equal(e.parseEmbedded(p, 0, 50), ParseError.TRUNCATED_L3);
  assert.equal(e.parseEmbedded(p, 0, 66), ParseError.TRUNCATED_L4);
  assert.equal(e.parseEmbedded(p, 0, 68), 0);
  assert.equal(e.sport, 57334);
  assert.equal(e.ipLen, p.length);
  assert.equal(e.l3len, 68);
});
