import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  checkSchedFlags,
  parseSchedFlags,
  schedFlagNames,
} from '../../../src/engine/sched/flags.js';

test('-b names map to the SCHED1..3 bits (0x08, 0x10, 0x20)', () => {
  assert.equal(parseSchedFlags('sh-fallback'), 0x08);
  assert.equal(parseSchedFlags('sh-port'), 0x10);
  assert.equal(parseSchedFlags('mh-fallback'), 0x08);
  assert.equal(parseSchedFlags('mh-port'), 0x10);
  assert.equal(parseSchedFlags('flag-1'), 0x08);
  assert.equal(parseSchedFlags('flag-2'), 0x10);
  assert.equal(parseSchedFlags('flag-3'), 0x20);
  assert.equal(parseSchedFlags('sh-fallback,sh-port'), 0x18);
  assert.equal(parseSchedFlags('flag-1,flag-2,flag-3'), 0x38);
});

test('-b "" is ignored, and empty tokens between commas are skipped', () => {
  assert.equal(parseSchedFlags(''), 0);
  assert.equal(parseSchedFlags('sh-port,,flag-3,'), 0x30);
});

test("unknown names are rejected with ipvsadm's message", () => {
  assert.throws(() => parseSchedFlags('foo'), { message: "invalid scheduler flag `foo'" });
  assert.throws(() => parseSchedFlags('sh-port,bogus'), {
    message: "invalid scheduler flag `bogus'",
  });
  assert.throws(() => parseSchedFlags('SH-PORT'), { message: "invalid scheduler flag `SH-PORT'" });
  // ipvsadm 1.31 crashes on `-b ,`; we reject it
  assert.throws(() => parseSchedFlags(','), { message: "invalid scheduler flag `'" });
});

test('sh-* flags need sh and mh-* flags need mh; flag-N go with anything', () => {
  assert.equal(checkSchedFlags('sh', 'sh-fallback,sh-port'), 0x18);
  assert.equal(checkSchedFlags('mh', 'mh-port'), 0x10);
  assert.equal(checkSchedFlags('wlc', 'flag-1,flag-3'), 0x28);
  assert.equal(checkSchedFlags('sh', 'flag-2'), 0x10);
  assert.throws(() => checkSchedFlags('wlc', 'sh-port'), {
    message: "incompatible scheduler flag `sh-port'",
  });
  assert.throws(() => checkSchedFlags('sh', 'mh-fallback'), {
    message: "incompatible scheduler flag `mh-fallback'",
  });
  assert.throws(() => checkSchedFlags('mh', 'sh-fallback'), {
    message: "incompatible scheduler flag `sh-fallback'",
  });
});

test('the first bad token in order names the error', () => {
  assert.throws(() => checkSchedFlags('rr', 'sh-port,foo'), {
    message: "incompatible scheduler flag `sh-port'",
  });
  assert.throws(() => checkSchedFlags('rr', 'foo,sh-port'), {
    message: "invalid scheduler flag `foo'",
  });
});

test('listing names depend on the scheduler', () => {
  assert.deepEqual(schedFlagNames('sh', 0x18), ['sh-fallback', 'sh-port']);
  assert.deepEqual(schedFlagNames('mh', 0x10), ['mh-port']);
  assert.deepEqual(schedFlagNames('sh', 0x20), []);
  assert.deepEqual(schedFlagNames('rr', 0x38), ['flag-1', 'flag-2', 'flag-3']);
  assert.deepEqual(schedFlagNames('wlc', 0x01), []);
});
