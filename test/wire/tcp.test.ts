import { test } from 'node:test';
import assert from 'node:assert/strict';
import { read16, read32 } from '../../src/wire/bytes.js';
import * as tcp from '../../src/wire/tcp.js';
import * as V from './vectors.js';

test('TCP accessors, options and flag strings on a real SYN', () => {
  const p = V.TCP_SYN_V4;
  const o = 20;
  assert.equal(tcp.tcpSport(p, o), 58062);
  assert.equal(tcp.tcpDport(p, o), 80);
  assert.equal(tcp.tcpSeq(p, o), 506968795);
  assert.equal(tcp.tcpAck(p, o), 0);
  assert.equal(tcp.tcpDoff(p, o), 40);
  assert.equal(tcp.tcpFlags(p, o), tcp.TcpFlag.SYN);
  assert.equal(tcp.tcpWindow(p, o), 64240);
  assert.equal(tcp.tcpChecksum(p, o), 0x7378);
  const mss = tcp.tcpOptionFind(p, o, 40, tcp.TCPOPT_MSS);
  assert.equal(mss, 40);
  assert.equal(read16(p, mss + 2), 1460);
  const ws = tcp.tcpOptionFind(p, o, 40, tcp.TCPOPT_WSCALE);
  assert.equal(p[ws + 2], 10);
  const ts = tcp.tcpOptionFind(p, o, 40, tcp.TCPOPT_TIMESTAMP);
  assert.equal(read32(p, ts + 2), 1048890075);
  assert.notEqual(tcp.tcpOptionFind(p, o, 40, tcp.TCPOPT_SACK_PERM), -1);
  assert.equal(tcp.tcpOptionFind(p, o, 40, tcp.TCPOPT_SACK), -1);
  // a malformed option length stops the search instead of running away
  const bad = p.slice();
  bad[41] = 0;
  assert.equal(tcp.tcpOptionFind(bad, o, 40, tcp.TCPOPT_WSCALE), -1);
  assert.equal(tcp.tcpFlagsString(0x02), 'S');
  assert.equal(tcp.tcpFlagsString(0x12), 'S.');
  assert.equal(tcp.tcpFlagsString(0x18), 'P.');
  assert.equal(tcp.tcpFlagsString(0x11), 'F.');
  assert.equal(tcp.tcpFlagsString(0x04), 'R');
  assert.equal(tcp.tcpFlagsString(0xc2), 'SEW');
  assert.equal(tcp.tcpFlagsString(0), 'none');
  assert.deepEqual(
    [
      tcp.TCP_FLAG_FIN,
      tcp.TCP_FLAG_SYN,
      tcp.TCP_FLAG_RST,
      tcp.TCP_FLAG_PSH,
      tcp.TCP_FLAG_ACK,
      tcp.TCP_FLAG_URG,
    ],
    [1, 2, 4, 8, 16, 32],
  );
  const q = p.slice();
  tcp.setTcpSport(q, o, 1);
  tcp.setTcpDport(q, o, 2);
  tcp.setTcpSeq(q, o, 0xffffffff);
  tcp.setTcpAck(q, o, 0x80000000);
  tcp.setTcpFlags(q, o, 0x11);
  tcp.setTcpWindow(q, o, 5);
  tcp.setTcpChecksum(q, o, 6);
  assert.deepEqual(
    [tcp.tcpSport(q, o), tcp.tcpDport(q, o), tcp.tcpSeq(q, o), tcp.tcpAck(q, o)],
    [1, 2, 0xffffffff, 0x80000000],
  );
  assert.deepEqual([tcp.tcpFlags(q, o), tcp.tcpWindow(q, o), tcp.tcpChecksum(q, o)], [0x11, 5, 6]);
});
