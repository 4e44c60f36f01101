/**
 * wire/sctp.ts: the common header accessors, the bounds-checked chunk walk and the
 * CRC32c checksum of a whole packet, checked against packets built by the test's own
 * builder with a bitwise CRC (test/engine/sctp-packets.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as sctp from '../../src/wire/sctp.js';
import { PacketView } from '../../src/wire/packet.js';
import { describe } from '../../src/wire/describe.js';
import {
  ABORT,
  COOKIE_ECHO,
  DATA,
  INIT,
  SACK,
  sctpCrc,
  sctpPacket,
  storedCrc,
} from '../engine/sctp-packets.js';

const base = { src: '10.0.1.2', dst: '10.0.3.100', sport: 40000, dport: 3868, vtag: 0xdeadbeef };

test('common header accessors read and write the fields at their named offsets', () => {
  const p = sctpPacket({ ...base, chunks: [INIT] });
  assert.equal(sctp.sctpSport(p, 20), 40000);
  assert.equal(sctp.sctpDport(p, 20), 3868);
  assert.equal(sctp.sctpVtag(p, 20), 0xdeadbeef);
  assert.equal(sctp.sctpChecksum(p, 20) >>> 0, storedCrc(p, 20));
  sctp.setSctpSport(p, 20, 1);
  sctp.setSctpDport(p, 20, 2);
  assert.deepEqual([...p.subarray(20, 24)], [0, 1, 0, 2]);
  sctp.setSctpChecksum(p, 20, 0x11223344);
  assert.deepEqual([...p.subarray(28, 32)], [0x44, 0x33, 0x22, 0x11], 'little-endian');
});

test('the checksum: computed with the field as zero, verified, filled', () => {
  for (const chunks of [[INIT], [SACK, DATA], [], [COOKIE_ECHO, ABORT]]) {
    const p = sctpPacket({ ...base, chunks });
    const l4len = p.length - 20;
    assert.equal(sctp.sctpComputeChecksum(p, 20, l4len) >>> 0, sctpCrc(p, 20));
    assert.ok(sctp.sctpChecksumOk(p, 20, l4len));
    p[p.length - 1] ^= 0x80;
    assert.ok(!sctp.sctpChecksumOk(p, 20, l4len) || l4len === 12);
    sctp.sctpChecksumFill(p, 20, l4len);
    assert.equal(storedCrc(p, 20), sctpCrc(p, 20));
  }
  const bad = sctpPacket({ ...base, chunks: [DATA], badCrc: true });
  assert.ok(!sctp.sctpChecksumOk(bad, 20, bad.length - 20));
});

test('the chunk walk: types, lengths with padding, and malformed chunks as -1', () => {
  const data = { type: DATA, flags: 3, value: new Uint8Array(13) };
  const p = sctpPacket({ ...base, chunks: [SACK, data, ABORT] });
  const end = p.length;
  let at = 32;
  assert.equal(sctp.sctpChunkType(p, at, end), SACK);
  assert.equal(sctp.sctpChunkLength(p, at), 16);
  at = sctp.sctpNextChunk(p, at, end);
  assert.equal(at, 48);
  assert.equal(sctp.sctpChunkType(p, at, end), DATA);
  assert.equal(sctp.sctpChunkFlags(p, at), 3);
  assert.equal(sctp.sctpChunkLength(p, at), 17);
  at = sctp.sctpNextChunk(p, at, end);
  assert.equal(at, 68, 'padded to 4 bytes');
  assert.equal(sctp.sctpChunkType(p, at, end), ABORT);
  assert.equal(sctp.sctpNextChunk(p, at, end), end);
  assert.equal(sctp.sctpChunkType(p, end, end), -1);
  assert.equal(sctp.sctpChunkCount(p, 20, end - 20), 3);
  // no chunk; a length below 4; a length past the end; a cut header
  assert.equal(sctp.sctpChunkCount(p, 20, 12), -1);
  const zero = sctpPacket({ ...base, chunks: [{ type: DATA, length: 3 }] });
  assert.equal(sctp.sctpNextChunk(zero, 32, zero.length), -1);
  assert.equal(sctp.sctpChunkCount(zero, 20, zero.length - 20), -1);
  const long = sctpPacket({ ...base, chunks: [{ type: DATA, length: 200 }] });
  assert.equal(sctp.sctpNextChunk(long, 32, long.length), -1);
  assert.equal(sctp.sctpNextChunk(p, 32, 34), -1);
  assert.equal(sctp.sctpChunkType(p, 32, 35), -1);
  assert.equal(sctp.sctpChunkName(COOKIE_ECHO), 'COOKIE_ECHO');
  assert.equal(sctp.sctpChunkName(250), 'CHUNK_250');
});

test('PacketView reads SCTP ports and leaves the Internet checksum offset unset', () => {
  const p = sctpPacket({ ...base, chunks: [INIT] });
  const pv = new PacketView();
  assert.equal(pv.parse(p, 0, p.length), 0);
  assert.deepEqual([pv.proto, pv.sport, pv.dport, pv.csumOff], [132, 40000, 3868, -1]);
  assert.equal(pv.payloadOff, 20 + sctp.SCTP_HLEN);
});

test('describe names the chunks of an SCTP packet', () => {
  const d = (chunks: Parameters<typeof sctpPacket>[0]['chunks']): string => {
    const p = sctpPacket({ ...base, chunks });
    return describe(p, 0, p.length);
  };
  assert.equal(d([INIT]), 'SCTP 10.0.1.2:40000 > 10.0.3.100:3868 [INIT] len=20');
  assert.equal(d([SACK, DATA]), 'SCTP 10.0.1.2:40000 > 10.0.3.100:3868 [SACK,DATA] len=40');
  assert.equal(d([]), 'SCTP 10.0.1.2:40000 > 10.0.3.100:3868 [no chunk] len=0');
  assert.equal(d([DATA, DATA, DATA, DATA, DATA]).includes('[DATA,DATA,DATA,DATA,…]'), true);
  assert.equal(d([{ type: COOKIE_ECHO, length: 2 }]).includes('[bad]'), true);
});
