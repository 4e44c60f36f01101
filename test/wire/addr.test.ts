/**
 * The byte-level address parsers (the FTP helper's, on PORT/EPRT text) against Node's own
 * (`net.isIPv4/isIPv6` for acceptance, the WHATWG URL parser for the value), on fixed
 * cases and random text.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isIPv4, isIPv6 } from 'node:net';
import {
  formatIpv4,
  formatIpv6,
  parseIpv4,
  parseIpv4Text,
  parseIpv6,
  parseIpv6Text,
} from '../../src/wire/addr.js';
import { rng } from '../helpers/packets.js';

const enc = new TextEncoder();

function v6(s: string): number[] | null {
  const b = enc.encode(`xx${s}yy`);
  const out = new Uint32Array(4);
  const ok = parseIpv6Text(b, 2, 2 + s.length, out, new Uint16Array(8));
  return ok ? [...out] : null;
}

/** Reference value: the URL parser's canonical text, expanded to four words. */
function refV6(s: string): number[] {
  const h = new URL(`http://[${s}]/`).hostname.slice(1, -1);
  const [a, b = ''] = h.split('::');
  const head = a ? a.split(':') : [];
  const tail = b ? b.split(':') : [];
  const g = h.includes('::')
    ? [...head, ...Array<string>(8 - head.length - tail.length).fill('0'), ...tail]
    : head;
  const n = g.map((x) => parseInt(x, 16));
  return [0, 1, 2, 3].map((i) => ((n[2 * i] << 16) | n[2 * i + 1]) >>> 0);
}

test('IPv4 text: dotted quad, 0..255, no leading zeros, nothing around it', () => {
  const b = (s: string): number => parseIpv4Text(enc.encode(s), 0, s.length);
  assert.equal(b('10.0.1.2'), 0x0a000102);
  assert.equal(b('255.255.255.255'), 0xffffffff);
  assert.equal(b('0.0.0.0'), 0);
  for (const bad of [
    '',
    '1.2.3',
    '1.2.3.4.5',
    '256.1.1.1',
    '01.2.3.4',
    '1..2.3',
    '1.2.3.4 ',
    'a.b.c.d',
    '1.2.3.-4',
    '1234.1.1.1',
  ])
    assert.equal(b(bad), -1, bad);
});

test('IPv6 text: fixed cases', () => {
  assert.deepEqual(v6('2001:db8:1::2'), [0x20010db8, 0x00010000, 0, 2]);
  assert.deepEqual(v6('::'), [0, 0, 0, 0]);
  assert.deepEqual(v6('::1'), [0, 0, 0, 1]);
  assert.deepEqual(v6('1::'), [0x00010000, 0, 0, 0]);
  assert.deepEqual(v6('::ffff:10.0.1.2'), [0, 0, 0xffff, 0x0a000102]);
  assert.deepEqual(v6('1:2:3:4:5:6:7:8'), [0x10002, 0x30004, 0x50006, 0x70008]);
  assert.deepEqual(v6('1:2:3:4:5:6:1.2.3.4'), [0x10002, 0x30004, 0x50006, 0x01020304]);
  assert.deepEqual(v6('FFFF::aBcD'), [0xffff0000, 0, 0, 0xabcd]);
  for (const bad of [
    '',
    ':',
    ':::',
    '1:::2',
    '1::2::3',
    '1:2:3:4:5:6:7:8:9',
    '1:2:3:4::5:6:7:8',
    '12345::',
    '1:',
    ':1',
    'g::',
    '::1.2.3',
    '::1.2.3.4.5',
    '1:2:3:4:5:6:7:1.2.3.4',
    '::01.2.3.4',
    'fe80::1%eth0',
    ' ::1',
  ])
    assert.equal(v6(bad), null, bad);
});

test('IPv6 text: random strings agree with Node on acceptance and value', () => {
  const rnd = rng(6);
  const alphabet = '0123456789abcdefABCDEF:::::..g';
  let accepted = 0;
  for (let i = 0; i < 200_000; i++) {
    const n = 1 + Math.floor(rnd() * 24);
    let s = '';
    for (let k = 0; k < n; k++) s += alphabet[Math.floor(rnd() * alphabet.length)];
    const got = v6(s);
    assert.equal(got !== null, isIPv6(s), s);
    if (got) {
      accepted++;
      assert.deepEqual(got, refV6(s), s);
    }
  }
  // also well-formed addresses built on purpose (random text rarely is one)
  for (let i = 0; i < 20_000; i++) {
    const g = Array.from({ length: 8 }, () => Math.floor(rnd() * 0x10000).toString(16));
    if (rnd() < 0.3) {
      const q = Array.from({ length: 4 }, () => Math.floor(rnd() * 256)).join('.');
      g.splice(6, 2, q);
    }
    let s = g.join(':');
    if (rnd() < 0.6) {
      const from = Math.floor(rnd() * 7);
      const len = 1 + Math.floor(rnd() * Math.min(3, g.length - from - 1));
      s = `${g.slice(0, from).join(':')}::${g.slice(from + len).join(':')}`;
    }
    assert.equal(v6(s) !== null, isIPv6(s), s);
    if (isIPv6(s)) assert.deepEqual(v6(s), refV6(s), s);
  }
  assert.ok(accepted > 100, `random cases accepted: ${accepted}`);
});

test('IPv4 text: random strings agree with Node', () => {
  const rnd = rng(4);
  const alphabet = '0123456789....';
  for (let i = 0; i < 100_000; i++) {
    const n = 1 + Math.floor(rnd() * 16);
    let s = '';
    for (let k = 0; k < n; k++) s += alphabet[Math.floor(rnd() * alphabet.length)];
    const w = parseIpv4Text(enc.encode(s), 0, s.length);
    assert.equal(w >= 0, isIPv4(s), s);
    if (w >= 0)
      assert.equal(
        w,
        s.split('.').reduce((acc, x) => acc * 256 + Number(x), 0),
        s,
      );
  }
});

/** Four host-order words from 32 hex digits. */
function words(h: string): Uint32Array {
  const w = new Uint32Array(4);
  for (let i = 0; i < 4; i++) w[i] = parseInt(h.slice(8 * i, 8 * i + 8), 16);
  return w;
}

test('IPv6 is formatted exactly as glibc inet_ntop writes it', () => {
  // [bytes, text]: typed from glibc 2.36 (python3 socket.inet_ntop, Debian 12)
  const cases: [string, string][] = [
    ['00000000000000000000000000000000', '::'],
    ['00000000000000000000000000000001', '::1'],
    ['00010000000000000000000000000000', '1::'],
    ['20010db8000000000000000000000001', '2001:db8::1'],
    // the longest run wins; of equal runs the first; a single zero group stays 0
    ['20010db8000000000001000000000000', '2001:db8:0:0:1::'],
    ['00010000000000010000000000000001', '1:0:0:1::1'],
    ['00010000000000020000000000030004', '1::2:0:0:3:4'],
    ['00010000000200030004000500060007', '1:0:2:3:4:5:6:7'],
    ['00000002000000000000000000000000', '0:2::'],
    ['fe8000000000000000000000abcdef01', 'fe80::abcd:ef01'],
    ['20010db800000000000000000000000a', '2001:db8::a'],
    // IPv4-mapped and IPv4-compatible tails; other prefixes keep hex groups
    ['00000000000000000000ffff0a000001', '::ffff:10.0.0.1'],
    ['00000000000000000000ffff00000000', '::ffff:0.0.0.0'],
    ['00000000000000000000000001020304', '::1.2.3.4'],
    ['00000000000000000000000000010000', '::0.1.0.0'],
    ['0000000000000000ffff000000000001', '::ffff:0:0:1'],
    ['000000000000000000005efe01020304', '::5efe:102:304'],
    ['0064ff9b000000000000000001020304', '64:ff9b::102:304'],
  ];
  for (const [h, text] of cases) {
    assert.equal(formatIpv6(words(h)), text, h);
    // and the words at an offset in a longer array
    assert.equal(formatIpv6(Uint32Array.of(7, ...words(h)), 1), text, h);
    const back = new Uint32Array(4);
    assert.ok(parseIpv6(text, back), text);
    assert.deepEqual(back, words(h), text);
  }
  assert.equal(formatIpv4(0xc0a80a05), '192.168.10.5');
});

test('the string parsers accept what inet_pton accepts and nothing else', () => {
  assert.equal(parseIpv4('10.0.1.2'), 0x0a000102);
  assert.equal(parseIpv4('255.255.255.255'), 0xffffffff);
  for (const bad of ['01.2.3.4', '1.2.3', '1.2.3.4 ', '::1', '', '１.2.3.4', '0x1.2.3.4'])
    assert.equal(parseIpv4(bad), -1, bad);
  const w = new Uint32Array(4);
  assert.ok(parseIpv6('2001:DB8::A', w));
  assert.deepEqual(w, words('20010db800000000000000000000000a'));
  assert.ok(parseIpv6('0000:0000:0000:0000:0000:ffff:255.255.255.255', w)); // 45 characters
  assert.deepEqual(w, words('00000000000000000000ffffffffffff'));
  for (const bad of [
    'fe80::1%eth0',
    '1:2:3:4:5:6:7:8::',
    '::1.2.3.04',
    '10.0.0.1',
    '[::1]',
    '::1 ',
    '0000:0000:0000:0000:0000:ffff:255.255.255.2555',
  ])
    assert.equal(parseIpv6(bad, w), false, bad);
});
