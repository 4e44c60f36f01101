/**
 * Sync datagrams (spec §12.2 v1, §12.3 v0): hand-written byte vectors from the spec
 * tables, seeded round trips, encoder limits and every receiver validation rule.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  SyncEncoder,
  decodeSync,
  isSyncV1,
  SYNC_PORT,
  SYNC_GROUP4,
  SYNC_V1_HEADER,
  IP_VS_CONN_F_BACKUP_MASK,
  IP_VS_CONN_F_BACKUP_UPD_MASK,
  type SyncConn,
} from '../../src/sync/message.js';
import {
  CONN_F_DROUTE,
  CONN_F_HASHED,
  CONN_F_IN_SEQ,
  CONN_F_NFCT,
  CONN_F_ONE_PACKET,
  CONN_F_OUT_SEQ,
  CONN_F_TEMPLATE,
  CONN_F_TUNNEL,
} from '../../src/engine/constants.js';
import { Rng } from '../wire/rand.js';

/** Hex (spaces allowed) → bytes. */
function hex(s: string): Uint8Array {
  const t = s.replace(/\s+/g, '');
  assert.equal(t.length % 2, 0, 'even number of hex digits');
  const b = new Uint8Array(t.length / 2);
  for (let i = 0; i < b.length; i++) b[i] = parseInt(t.slice(2 * i, 2 * i + 2), 16);
  return b;
}

function toHex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

function w(...v: number[]): Uint32Array {
  return Uint32Array.from(v);
}

/** A v1 datagram: header per the §12.2 table, records given as hex (padding included). */
function v1(syncId: number, nr: number, body: string): Uint8Array {
  const b = hex(body);
  const size = 8 + b.length;
  const h = hex(
    '00' +
      syncId.toString(16).padStart(2, '0') +
      size.toString(16).padStart(4, '0') +
      nr.toString(16).padStart(2, '0') +
      '010000',
  );
  const out = new Uint8Array(size);
  out.set(h);
  out.set(b, 8);
  return out;
}

// --- Hand-written records (spec §12.2 table) ------------------------------------------

/** IPv4 TCP, DROUTE, ESTABLISHED(1), 192.168.1.10:40000 → 10.0.0.1:80 → 10.0.1.2:8080, 900 s. */
const REC_TCP4 =
  '00 06 0024' + // type IPv4, TCP, ver_size 36
  '00000003' + // flags DROUTE
  '0001 9c40 0050 1f90' + // state, cport, vport, dport
  '00000000 00000384' + // fwmark, timeout 900
  'c0a8010a 0a000001 0a000102'; // caddr, vaddr, daddr
const CONN_TCP4: SyncConn = {
  af: 4,
  protocol: 6,
  flags: CONN_F_DROUTE,
  state: 1,
  cport: 40000,
  vport: 80,
  dport: 8080,
  fwmark: 0,
  timeout: 900,
  caddr: w(0xc0a8010a),
  vaddr: w(0x0a000001),
  daddr: w(0x0a000102),
};

/** PE data "abc" + PE name "sip": 36 + 5 + 5 = 46 bytes (needs 2 bytes of padding after). */
const REC_PE =
  '00 11 002e' +
  '00001003' + // TEMPLATE | DROUTE
  '0000 13c4 13c4 13c4' + // state 0, ports 5060
  '00000000 000000b4' + // fwmark 0, timeout 180
  '0a000009 0a000001 0a000102' +
  '02 03 616263' + // PE_DATA "abc"
  '03 03 736970'; // PE_NAME "sip"
const CONN_PE: SyncConn = {
  af: 4,
  protocol: 17,
  flags: CONN_F_TEMPLATE | CONN_F_DROUTE,
  state: 0,
  cport: 5060,
  vport: 5060,
  dport: 5060,
  fwmark: 0,
  timeout: 180,
  caddr: w(0x0a000009),
  vaddr: w(0x0a000001),
  daddr: w(0x0a000102),
  peData: hex('616263'),
  peName: 'sip',
};

function encodeV1(syncId: number, ...conns: SyncConn[]): Uint8Array {
  const e = new SyncEncoder(1, syncId, 1500);
  for (const c of conns) assert.ok(e.add(c));
  return e.finish();
}

test('constants', () => {
  assert.equal(SYNC_PORT, 8848);
  assert.equal(SYNC_GROUP4, '224.0.0.81');
  assert.equal(SYNC_V1_HEADER, 8);
  assert.equal(IP_VS_CONN_F_BACKUP_MASK, 0x1f87);
  assert.equal(IP_VS_CONN_F_BACKUP_UPD_MASK, 0x0700);
});

test('v1 IPv4 TCP record with timeout', () => {
  const expected = hex('00 07 002c 01 01 0000' + REC_TCP4);
  // HASHED is cleared by the encoder.
  const got = encodeV1(7, { ...CONN_TCP4, flags: CONN_F_DROUTE | CONN_F_HASHED });
  assert.equal(toHex(got), toHex(expected));
  const m = decodeSync(expected);
  assert.deepEqual(m, { version: 1, syncId: 7, conns: [CONN_TCP4], problems: [] });
});

test('v1 IPv6 record', () => {
  const rec =
    '01 11 0048' + // type IPv6, UDP, 72 bytes
    '00010002' + // TUNNEL | NFCT (sent as is; the receiver masks)
    '0000 0035 0035 0035' +
    '00000064 0000012c' + // fwmark 100, timeout 300
    '20010db8 00000000 00000000 00000001' + // 2001:db8::1
    '20010db8 00000000 00000000 00000100' + // 2001:db8::100
    'fd000000 00000000 00000000 00000002'; // fd00::2
  const expected = hex('00 00 0050 01 01 0000' + rec);
  const c: SyncConn = {
    af: 6,
    protocol: 17,
    flags: CONN_F_TUNNEL | CONN_F_NFCT,
    state: 0,
    cport: 53,
    vport: 53,
    dport: 53,
    fwmark: 100,
    timeout: 300,
    caddr: w(0x20010db8, 0, 0, 1),
    vaddr: w(0x20010db8, 0, 0, 0x100),
    daddr: w(0xfd000000, 0, 0, 2),
  };
  assert.equal(toHex(encodeV1(0, c)), toHex(expected));
  assert.deepEqual(decodeSync(expected).conns, [c]);
});

test('v1 record with SEQ_DATA (big-endian)', () => {
  const rec =
    '00 06 003e' + // 36 + 26 = 62
    '00000600' + // IN_SEQ | OUT_SEQ, MASQ
    '0001 9c40 0050 1f90 00000000 00000384 c0a8010a 0a000001 0a000102' +
    '01 18' + // SEQ_DATA, 24
    '11223344 00000010 00000000' + // in_seq
    'aabbccdd fffffff0 00000008'; // out_seq
  const expected = hex('00 01 0046 01 01 0000' + rec); // 8 + 62, no trailing padding
  const c: SyncConn = {
    ...CONN_TCP4,
    flags: CONN_F_IN_SEQ | CONN_F_OUT_SEQ,
    inSeq: { initSeq: 0x11223344, delta: 0x10, previousDelta: 0 },
    outSeq: { initSeq: 0xaabbccdd, delta: 0xfffffff0, previousDelta: 8 },
  };
  assert.equal(toHex(encodeV1(1, c)), toHex(expected));
  assert.deepEqual(decodeSync(expected).conns, [c]);
  // A negative delta is sent as its u32 bits.
  const neg = { ...c, outSeq: { initSeq: 0xaabbccdd, delta: -16, previousDelta: 8 } };
  assert.equal(toHex(encodeV1(1, neg)), toHex(expected));
  // Only OUT_SEQ: the parameter still carries both halves, the missing one as zeros.
  const only: SyncConn = { ...CONN_TCP4, flags: CONN_F_OUT_SEQ, outSeq: c.outSeq };
  const got = decodeSync(encodeV1(1, only)).conns[0];
  assert.deepEqual(got.inSeq, { initSeq: 0, delta: 0, previousDelta: 0 });
  assert.deepEqual(got.outSeq, c.outSeq);
});

test('v1 record with PE_DATA and PE_NAME', () => {
  const expected = hex('00 00 0036 01 01 0000' + REC_PE); // 8 + 46
  assert.equal(toHex(encodeV1(0, CONN_PE)), toHex(expected));
  assert.deepEqual(decodeSync(expected).conns, [CONN_PE]);
});

test('v1 padding: the record after an odd-sized one starts 4-aligned', () => {
  // 8 + 46 + 2 zero bytes of padding + 36 = 92; the second record starts at 56.
  const expected = hex('00 00 005c 02 01 0000' + REC_PE + '0000' + REC_TCP4);
  const e = new SyncEncoder(1, 0, 1500);
  // First fill the reused buffer with a datagram whose bytes 54-55 are non-zero.
  assert.ok(e.add(CONN_TCP4));
  assert.ok(e.add(CONN_TCP4));
  assert.notEqual(e.finish()[54], 0);
  assert.ok(e.empty);
  assert.equal(e.recordSize(CONN_PE), 46);
  assert.ok(e.add(CONN_PE));
  assert.equal(e.recordSize(CONN_TCP4), 2 + 36);
  assert.ok(e.add(CONN_TCP4));
  assert.equal(e.count, 2);
  const got = e.finish();
  assert.equal(toHex(got), toHex(expected));
  assert.equal(toHex(got.subarray(56, 60)), '00060024');
  assert.deepEqual(decodeSync(got).conns, [CONN_PE, CONN_TCP4]);
});

function randomConn(r: Rng, version: 0 | 1): SyncConn {
  const af: 4 | 6 = version === 0 || r.int(2) === 0 ? 4 : 6;
  const words = af === 4 ? 1 : 4;
  const addr = (): Uint32Array => Uint32Array.from({ length: words }, () => r.u32());
  let flags = version === 1 ? r.u32() : r.u32() & 0xffff;
  if (version === 0) flags &= ~CONN_F_ONE_PACKET;
  const c: SyncConn = {
    af,
    protocol: [6, 17, 132, 50][r.int(4)],
    flags,
    state: r.int(0x10000),
    cport: r.int(0x10000),
    vport: r.int(0x10000),
    dport: r.int(0x10000),
    fwmark: version === 1 ? r.u32() : 0,
    caddr: addr(),
    vaddr: addr(),
    daddr: addr(),
  };
  if (version === 1) c.timeout = r.u32();
  if (flags & (CONN_F_IN_SEQ | CONN_F_OUT_SEQ)) {
    c.inSeq = { initSeq: r.u32(), delta: r.u32(), previousDelta: r.u32() };
    c.outSeq = { initSeq: r.u32(), delta: r.u32(), previousDelta: r.u32() };
  }
  if (version === 1 && r.int(3) === 0) c.peData = r.bytes(1 + r.int(255));
  if (version === 1 && r.int(3) === 0) {
    c.peName = String.fromCharCode(...Array.from({ length: 1 + r.int(16) }, () => 97 + r.int(26)));
  }
  return c;
}

for (const version of [1, 0] as const) {
  test(`v${version} round trip of random records`, () => {
    const r = new Rng(0x5eed + version);
    const maxLen = 1472;
    const e = new SyncEncoder(version, 42, maxLen);
    let pending: SyncConn[] = [];
    let datagrams = 0;
    const flush = (): void => {
      const d = e.finish();
      assert.ok(d.length <= maxLen);
      assert.equal(isSyncV1(d), version === 1);
      const m = decodeSync(d, 42);
      assert.deepEqual(m.problems, []);
      assert.equal(m.version, version);
      assert.equal(m.syncId, 42);
      assert.deepEqual(m.conns, pending);
      if (version === 1) {
        // Walk the records: each starts 4-aligned.
        let p = 8;
        for (let i = 0; i < m.conns.length; i++) {
          assert.equal(p % 4, 0);
          p += (((d[p + 2] << 8) | d[p + 3]) + 3) & ~3;
        }
      }
      pending = [];
      datagrams++;
    };
    for (let i = 0; i < 2000; i++) {
      const c = randomConn(r, version);
      const expected = { ...c, flags: (c.flags & ~CONN_F_HASHED) >>> 0 };
      if (!e.add(c)) {
        flush();
        assert.ok(e.add(c));
      }
      pending.push(expected);
    }
    flush();
    assert.ok(datagrams > 10);
  });
}

test('maxLen enforcement', () => {
  const e = new SyncEncoder(1, 0, 8 + 36 + 36);
  assert.ok(e.add(CONN_TCP4));
  assert.ok(e.add(CONN_TCP4));
  assert.equal(e.add(CONN_TCP4), false);
  assert.equal(e.count, 2);
  assert.equal(e.finish().length, 80);
  assert.ok(e.empty);
  assert.ok(e.add(CONN_TCP4));

  // 62-byte records: the second one takes 2 bytes of padding + 62.
  const seq: SyncConn = { ...CONN_TCP4, flags: CONN_F_IN_SEQ };
  const e2 = new SyncEncoder(1, 0, 8 + 64 + 62);
  assert.equal(e2.recordSize(seq), 62);
  assert.ok(e2.add(seq));
  assert.equal(e2.recordSize(seq), 64);
  assert.ok(e2.add(seq));
  assert.equal(e2.add(CONN_TCP4), false);
  assert.equal(e2.finish().length, 134);

  // A limit below header + one record: nothing fits.
  const e3 = new SyncEncoder(1, 0, 40);
  assert.equal(e3.add(CONN_TCP4), false);
  assert.ok(e3.empty);
  assert.equal(e3.finish().length, 8);
});

test('255-record limit', () => {
  for (const version of [0, 1] as const) {
    const e = new SyncEncoder(version, 0, 65535);
    for (let i = 0; i < 255; i++) assert.ok(e.add({ ...CONN_TCP4, cport: i }));
    assert.equal(e.add(CONN_TCP4), false);
    const d = e.finish();
    assert.equal(d[version === 1 ? 4 : 0], 255);
    const m = decodeSync(d);
    assert.equal(m.conns.length, 255);
    assert.equal(m.conns[254].cport, 254);
  }
});

test('v1 encoder refuses PE name > 16 bytes', () => {
  const e = new SyncEncoder(1, 0, 1500);
  assert.equal(e.add({ ...CONN_PE, peName: 'x'.repeat(17) }), false);
  assert.ok(e.add({ ...CONN_PE, peName: 'x'.repeat(16) }));
});

// --- v0 ---------------------------------------------------------------------------------

const V0_TCP4 =
  '00 06 9c40 0050 1f90' + // reserved, TCP, cport, vport, dport
  'c0a8010a 0a000001 0a000102' +
  '0003 0001'; // flags DROUTE, state 1

test('v0 vectors', () => {
  const expected = hex('01 05 001c' + V0_TCP4); // 4 + 24
  const e = new SyncEncoder(0, 5, 1500);
  assert.ok(e.add({ ...CONN_TCP4, flags: CONN_F_DROUTE | CONN_F_HASHED | CONN_F_NFCT }));
  assert.equal(toHex(e.finish()), toHex(expected));
  const noTimeout: SyncConn = { ...CONN_TCP4 };
  delete noTimeout.timeout;
  assert.deepEqual(decodeSync(expected), {
    version: 0,
    syncId: 5,
    conns: [noTimeout],
    problems: [],
  });
});

test('v0 seq options are in the sender host order (little-endian)', () => {
  const rec =
    '00 06 9c40 0050 1f90 c0a8010a 0a000001 0a000102' +
    '0600 0001' + // IN_SEQ | OUT_SEQ
    '44332211 10000000 00000000' + // in_seq, little-endian
    'ddccbbaa f0ffffff 08000000'; // out_seq
  const expected = hex('01 00 0034' + rec); // 4 + 48
  const c: SyncConn = {
    ...CONN_TCP4,
    flags: CONN_F_IN_SEQ | CONN_F_OUT_SEQ,
    inSeq: { initSeq: 0x11223344, delta: 0x10, previousDelta: 0 },
    outSeq: { initSeq: 0xaabbccdd, delta: 0xfffffff0, previousDelta: 8 },
  };
  const e = new SyncEncoder(0, 0, 1500);
  assert.ok(e.add(c));
  assert.equal(toHex(e.finish()), toHex(expected));
  const noTimeout: SyncConn = { ...c };
  delete noTimeout.timeout;
  assert.deepEqual(decodeSync(expected).conns, [noTimeout]);
});

test('v0 refuses IPv6 and ONE_PACKET records', () => {
  const e = new SyncEncoder(0, 0, 1500);
  const c6: SyncConn = {
    ...CONN_TCP4,
    af: 6,
    caddr: w(1, 2, 3, 4),
    vaddr: w(5, 6, 7, 8),
    daddr: w(9, 10, 11, 12),
  };
  assert.equal(e.add(c6), false);
  assert.equal(e.add({ ...CONN_TCP4, protocol: 17, flags: CONN_F_ONE_PACKET }), false);
  assert.ok(e.empty);
  // v1 carries both.
  const e1 = new SyncEncoder(1, 0, 1500);
  assert.ok(e1.add(c6));
  assert.ok(e1.add({ ...CONN_TCP4, protocol: 17, flags: CONN_F_ONE_PACKET }));
});

test('v0 truncated records drop the rest', () => {
  // nr_conns 2, one record present.
  const m = decodeSync(hex('02 00 001c' + V0_TCP4));
  assert.equal(m.conns.length, 1);
  assert.deepEqual(m.problems, ['record 1: truncated record; rest dropped']);
  // Seq flags but no seq options.
  const m2 = decodeSync(hex('01 00 001c' + V0_TCP4.replace('0003 0001', '0400 0001')));
  assert.equal(m2.conns.length, 0);
  assert.deepEqual(m2.problems, ['record 0: truncated seq options; rest dropped']);
});

test('v0/v1 discrimination: v1 iff byte 0 = 0, byte 5 = 1 and bytes 6-7 = 0', () => {
  const good = hex('00 00 002c 01 01 0000' + REC_TCP4);
  assert.equal(decodeSync(good).version, 1);
  for (const [off, val] of [
    [5, 2],
    [6, 1],
    [7, 1],
  ]) {
    const b = good.slice();
    b[off] = val;
    const m = decodeSync(b);
    assert.equal(m.version, 0, `byte ${off} = ${val}`);
    assert.deepEqual(m.conns, [], 'a v0 reader sees nr_conns = byte 0 = 0');
  }
  // byte 0 non-zero → v0 with that many records.
  const v0 = hex('01 00 001c' + V0_TCP4);
  assert.equal(isSyncV1(v0), false);
  assert.equal(decodeSync(v0).conns.length, 1);
  // A v0 header-only datagram shorter than a v1 header.
  assert.deepEqual(decodeSync(hex('00 03 0004')), {
    version: 0,
    syncId: 3,
    conns: [],
    problems: [],
  });
  // v0 happens to look like v1 only with nr_conns = 0: nothing is lost either way.
  assert.deepEqual(decodeSync(hex('00 00 0008 00 01 0000')).conns, []);
});

// --- §12.2 receiver validation -------------------------------------------------------------

/** REC_TCP4 with its ver_size replaced and `extra` bytes appended. */
function tcp4With(extra: string, size = 36 + hex(extra).length, type = '00'): string {
  return (
    type + '06' + size.toString(16).padStart(4, '0') + REC_TCP4.replace(/\s+/g, '').slice(8) + extra
  );
}

test('whole datagram: shorter than 4 bytes or size field != length', () => {
  assert.deepEqual(decodeSync(hex('00 00 00')).problems, ['message too short (3 bytes)']);
  assert.deepEqual(decodeSync(new Uint8Array(0)).conns, []);
  const good = hex('00 07 002c 01 01 0000' + REC_TCP4);
  const longer = new Uint8Array(good.length + 1);
  longer.set(good);
  const m = decodeSync(longer);
  assert.deepEqual(m.conns, []);
  assert.deepEqual(m.problems, ['size field 44 != datagram length 45']);
  const m2 = decodeSync(good.subarray(0, 40));
  assert.deepEqual(m2.conns, []);
  assert.deepEqual(m2.problems, ['size field 44 != datagram length 40']);
});

test('truncated record drops the rest', () => {
  // nr_conns 2 but only one record.
  const m = decodeSync(v1(0, 2, REC_TCP4));
  assert.deepEqual(m.conns, [CONN_TCP4]);
  assert.deepEqual(m.problems, ['record 1: truncated record; rest dropped']);
  // Declared size larger than what is left.
  const m2 = decodeSync(v1(0, 1, tcp4With('', 48)));
  assert.deepEqual(m2.conns, []);
  assert.deepEqual(m2.problems, ['record 0: size 48 exceeds datagram; rest dropped']);
  // Declared size smaller than the fixed part (IPv6 type with a 36-byte record).
  const m3 = decodeSync(v1(0, 2, tcp4With('', 36, '01') + REC_TCP4));
  assert.deepEqual(m3.conns, []);
  assert.deepEqual(m3.problems, ['record 0: size 36 smaller than fixed part 72; rest dropped']);
  // A lone byte after the fixed part: truncated parameter header.
  const m4 = decodeSync(v1(0, 2, tcp4With('02') + '000000' + REC_TCP4));
  assert.deepEqual(m4.conns, []);
  assert.deepEqual(m4.problems, ['record 0: truncated parameter header; rest dropped']);
});

test('non-zero version nibble drops the rest', () => {
  const bad = '00 06 1024' + REC_TCP4.replace(/\s+/g, '').slice(8);
  const m = decodeSync(v1(0, 3, REC_TCP4 + bad + REC_TCP4));
  assert.deepEqual(m.conns, [CONN_TCP4]);
  assert.deepEqual(m.problems, ['record 1: unknown version 1; rest dropped']);
});

test('type byte 2 drops the rest; type 1 (bit 0) is IPv6', () => {
  const m = decodeSync(v1(0, 2, tcp4With('', 36, '02') + REC_TCP4));
  assert.deepEqual(m.conns, []);
  assert.deepEqual(m.problems, ['record 0: unknown type 2; rest dropped']);
});

test('parameter errors drop the rest of the datagram', () => {
  const cases: [string, string][] = [
    ['02 00 0000', 'zero-length parameter 2'],
    ['02 05 aabb', 'parameter 2 overflows record'],
    ['02 01 aa 02 01 bb', 'duplicate parameter 2'],
    ['03 01 61 03 01 62', 'duplicate parameter 3'],
    ['01 04 00000000', 'SEQ_DATA length 4 != 24'],
    ['01 18' + '00'.repeat(24) + '01 18' + '00'.repeat(24), 'duplicate parameter 1'],
    ['03 11' + '61'.repeat(17), 'PE name length 17 > 16'],
  ];
  for (const [params, problem] of cases) {
    let rec = tcp4With(params);
    while (hex(rec).length % 4) rec += '00';
    const m = decodeSync(v1(0, 2, rec + REC_TCP4));
    assert.deepEqual(m.conns, [], params);
    assert.deepEqual(m.problems, [`record 0: ${problem}; rest dropped`], params);
  }
});

test('unknown parameter with the 0x40 flag is skipped, record kept', () => {
  const m = decodeSync(v1(0, 2, tcp4With('47 02 abcd') + REC_TCP4));
  assert.deepEqual(m.problems, []);
  assert.deepEqual(m.conns, [CONN_TCP4, CONN_TCP4]);
  // The flag on a known type still selects that type.
  const m2 = decodeSync(v1(0, 1, tcp4With('43 03 736970')));
  assert.deepEqual(m2.problems, []);
  assert.equal(m2.conns[0].peName, 'sip');
});

test('unknown parameter without the flag skips only that record', () => {
  const m = decodeSync(v1(0, 3, tcp4With('07 02 abcd') + REC_PE + '0000' + REC_TCP4));
  assert.deepEqual(m.problems, ['record 0: unknown parameter type 7; record skipped']);
  assert.deepEqual(m.conns, [CONN_PE, CONN_TCP4]);
});

test('protocol and state are decoded, not checked', () => {
  const rec = REC_TCP4.replace('00 06', '00 fe').replace('0001 9c40', 'ffff 9c40');
  const m = decodeSync(v1(0, 1, rec));
  assert.deepEqual(m.problems, []);
  assert.equal(m.conns[0].protocol, 254);
  assert.equal(m.conns[0].state, 0xffff);
});

test('sync id filtering', () => {
  const d = hex('00 07 002c 01 01 0000' + REC_TCP4);
  assert.equal(decodeSync(d).conns.length, 1);
  assert.equal(decodeSync(d, 0).conns.length, 1);
  assert.equal(decodeSync(d, 7).conns.length, 1);
  const m = decodeSync(d, 8);
  assert.deepEqual(m.conns, []);
  assert.deepEqual(m.problems, ['sync id 7 ignored']);
  // Same for v0.
  const m0 = decodeSync(hex('01 05 001c' + V0_TCP4), 6);
  assert.deepEqual(m0.conns, []);
  assert.deepEqual(m0.problems, ['sync id 5 ignored']);
});
