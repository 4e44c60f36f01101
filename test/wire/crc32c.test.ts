/**
 * CRC32c (wire/crc32c.ts) against the published vectors (RFC 3720 Appendix B.4, the
 * CRC catalogue's check value) and against a plain bit-at-a-time implementation
 * written here from the polynomial alone, over random data, offsets, lengths and
 * piecewise updates.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CRC32C_INIT, crc32c, crc32cUpdate, crc32cZeros } from '../../src/wire/crc32c.js';
import { rng } from '../helpers/packets.js';

/** CRC-32C one bit at a time: reflected 0x1EDC6F41, init and final xor all ones. */
function bitwise(bytes: ArrayLike<number>, start = 0, end = bytes.length): number {
  let crc = 0xffffffff;
  for (let i = start; i < end; i++) {
    crc ^= bytes[i];
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

const hex = (s: string): Uint8Array => Uint8Array.from(s.match(/../g)!.map((h) => parseInt(h, 16)));

test('RFC 3720 B.4 vectors: 32 zeros, 32 ones, ascending, descending, an iSCSI read PDU', () => {
  const cases: [Uint8Array, number][] = [
    [new Uint8Array(32), 0x8a9136aa],
    [new Uint8Array(32).fill(0xff), 0x62a8ab43],
    [Uint8Array.from({ length: 32 }, (_, i) => i), 0x46dd794e],
    [Uint8Array.from({ length: 32 }, (_, i) => 31 - i), 0x113fdb5c],
    [
      hex(
        '01c000000000000000000000000000001400000000000400' +
          '000000140000001828000000000000000200000000000000',
      ),
      0xd9963a56,
    ],
  ];
  for (const [data, want] of cases) {
    assert.equal(crc32c(data), want);
    assert.equal(bitwise(data), want, 'the bitwise reference agrees with the RFC');
  }
});

test('the catalogue check value: CRC-32C of "123456789" is 0xE3069283', () => {
  assert.equal(crc32c(new TextEncoder().encode('123456789')), 0xe3069283);
  assert.equal(crc32c(new Uint8Array(0)), 0);
});

test('slicing-by-8 equals the bitwise CRC at every length 0..100 and offset 0..9', () => {
  const r = rng(7);
  const buf = Uint8Array.from({ length: 128 }, () => Math.floor(r() * 256));
  for (let off = 0; off < 10; off++)
    for (let len = 0; len + off <= 110; len++)
      assert.equal(crc32c(buf, off, len), bitwise(buf, off, off + len), `off ${off} len ${len}`);
});

test('random packets up to 9000 bytes, and the same CRC fed in pieces and with zeros', () => {
  const r = rng(42);
  for (let n = 0; n < 200; n++) {
    const len = Math.floor(r() * 9000);
    const b = Uint8Array.from({ length: len }, () => Math.floor(r() * 256));
    const want = bitwise(b);
    assert.equal(crc32c(b), want);
    const cut = Math.floor(r() * (len + 1));
    const c = crc32cUpdate(crc32cUpdate(CRC32C_INIT, b, 0, cut), b, cut, len - cut);
    assert.equal(~c >>> 0, want, 'two pieces');
    // four bytes taken as zero equal four zero bytes in the data
    if (len >= 12) {
      const z = b.slice();
      z.fill(0, 8, 12);
      let d = crc32cUpdate(CRC32C_INIT, b, 0, 8);
      d = crc32cZeros(d, 4);
      d = crc32cUpdate(d, b, 12, len - 12);
      assert.equal(~d >>> 0, bitwise(z), 'zeros');
    }
  }
});
