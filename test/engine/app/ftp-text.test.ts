/**
 * The FTP command/reply grammar on its own: the six-number PORT/PASV form and the RFC 2428
 * EPRT/EPSV form, cut text (INCOMPLETE, passed on unchanged) told apart from wrong text
 * (MALFORMED).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  FtpAddrPort,
  INCOMPLETE,
  MALFORMED,
  W_PORT,
  matchWord,
  parseExt,
  parseSix,
  writeDec,
} from '../../../src/engine/app/ftp-text.js';

const enc = new TextEncoder();

function six(s: string): [number, FtpAddrPort] {
  const out = new FtpAddrPort();
  return [parseSix(enc.encode(s), 0, s.length, out), out];
}

function ext(s: string, af: 4 | 6, allowEmpty: boolean): [number, FtpAddrPort] {
  const out = new FtpAddrPort();
  return [parseExt(enc.encode(s), 0, s.length, af, allowEmpty, out), out];
}

test('PORT/PASV numbers: address and port, the index of the terminator', () => {
  const [r, out] = six('10,0,1,2,195,80\r\n');
  assert.equal(r, 15);
  assert.deepEqual(Array.from(out.addr), [0x0a000102, 0, 0, 0]);
  assert.equal(out.hasAddr, true);
  assert.equal(out.port, 195 * 256 + 80);
  assert.equal(six('10,0,1,2,195,80)')[0], 15);
  for (const cut of ['10,0,1,2,195,80', '10,0,1,2,195,', '10,0,1', ''])
    assert.equal(six(cut)[0], INCOMPLETE, cut);
  for (const bad of ['10,0,1,2,195,80,1\r\n', '10,0,1,256,1,1\r\n', '10,0,1,,1,1\r\n', 'a\r\n'])
    assert.equal(six(bad)[0], MALFORMED, bad);
});

test('EPRT/EPSV: any delimiter, the control conn’s family, an empty address only in replies', () => {
  let [r, out] = ext('|1|10.0.1.2|6446|\r\n', 4, false);
  assert.equal(r, 17);
  assert.deepEqual([out.addr[0], out.hasAddr, out.port], [0x0a000102, true, 6446]);
  [r, out] = ext('!2!fd00::2!6446!', 6, false);
  assert.equal(r, 16);
  assert.deepEqual(Array.from(out.addr), [0xfd000000, 0, 0, 2]);
  [r, out] = ext('|||6446|)', 4, true);
  assert.deepEqual([r, out.hasAddr, out.port], [8, false, 6446]);
  assert.equal(ext('|||6446|', 4, false)[0], MALFORMED);
  assert.equal(ext('|2|fd00::2|6446|', 4, false)[0], MALFORMED); // family of the other kind
  assert.equal(ext('|1|10.0.1.2|0|', 4, false)[0], MALFORMED);
  assert.equal(ext('|1|10.0.1.2|65536|', 4, false)[0], MALFORMED);
  assert.equal(ext('|1|010.0.1.2|1|', 4, false)[0], MALFORMED);
  assert.equal(ext('|1|10.0.1.2|64', 4, false)[0], INCOMPLETE);
  assert.equal(ext('|1|10.0', 4, false)[0], INCOMPLETE);
});

test('words match case-insensitively and not when cut; decimals are written without padding', () => {
  assert.equal(matchWord(enc.encode('port 1'), 0, 6, W_PORT), true);
  assert.equal(matchWord(enc.encode('POR'), 0, 3, W_PORT), false);
  const t = new Uint8Array(8);
  const n = writeDec(t, writeDec(t, 0, 0), 65535);
  assert.equal(new TextDecoder().decode(t.subarray(0, n)), '065535');
});
