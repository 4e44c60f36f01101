/**
 * The protocol registry (proto/index.ts): ops objects by number and by name, all of
 * one shape (the core's `pp.*` loads stay monomorphic), each with a per-state timeout
 * table.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  PROTOCOLS,
  defaultTimeoutTables,
  protoByName,
  protoGet,
  sctpProtocol,
  tcpProtocol,
  udpProtocol,
} from '../../../src/engine/proto/index.js';

test('TCP, UDP and SCTP are found by number and by name; nothing else is IPVS traffic', () => {
  assert.equal(protoGet(6), tcpProtocol);
  assert.equal(protoGet(17), udpProtocol);
  assert.equal(protoGet(132), sctpProtocol);
  assert.equal(protoGet(1), null);
  assert.equal(protoGet(33), null);
  assert.equal(protoByName('tcp'), tcpProtocol);
  assert.equal(protoByName('UDP'), udpProtocol);
  assert.equal(protoByName('sctp'), sctpProtocol);
  assert.equal(protoByName('dccp'), null);
});

test('every ops object has the same members in the same order', () => {
  const keys = Object.keys(PROTOCOLS[0]);
  for (const pp of PROTOCOLS) assert.deepEqual(Object.keys(pp), keys, pp.name);
});

test('timeouts are one per-state table per protocol, in ms, with the kernel defaults', () => {
  const t = defaultTimeoutTables();
  assert.equal(t[6].length, tcpProtocol.numStates);
  assert.equal(t[6][1], 900_000, 'ESTABLISHED');
  assert.equal(t[6][4], 120_000, 'FIN_WAIT');
  assert.equal(t[17].length, udpProtocol.numStates);
  assert.deepEqual([...t[17]], [300_000]);
  assert.equal(t[132].length, sctpProtocol.numStates);
  // sctp_timeouts: NONE 2 s, INIT1 and REJECTED 4 s, ESTABLISHED 15 min, the rest 61 s
  assert.deepEqual(
    [...t[132]].map((ms) => ms / 1000),
    [2, 4, 61, 61, 61, 61, 61, 61, 900, 61, 61, 61, 4, 61],
  );
  assert.equal(t[1].length, 0);
});
