/**
 * Save and restore (reference §8): -S then -C then -R gives back the same table, and
 * a restore stream with a bad line behaves as ipvsadm -R does (§8.2).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { golden, newModel, referenceFixture, tsvsadm } from '../helpers.js';
import type { ControlModel } from '../../../src/control/model.js';

function sortedSnapshot(m: ControlModel): unknown {
  const s = m.snapshot();
  return s.services
    .map((svc) => ({
      ...svc,
      dests: svc.dests
        .map((d) => ({ ...d, uThreshold: 0, lThreshold: 0 }))
        .sort((a, b) => (a.addr < b.addr ? -1 : 1)),
    }))
    .sort((a, b) =>
      JSON.stringify([a.fwmark, a.addr, a.port]) < JSON.stringify([b.fwmark, b.addr, b.port])
        ? -1
        : 1,
    );
}

test('-S -n, -C, -R restores the identical table (thresholds are not saved, as in ipvsadm)', async () => {
  const m = referenceFixture();
  const saved = await tsvsadm(m, ['-S', '-n']);
  assert.equal(saved.out, golden('save-n.txt'));
  const before = sortedSnapshot(m);
  assert.deepEqual(await tsvsadm(m, ['-C']), { status: 0, out: '', err: '' });
  assert.deepEqual(m.services(), []);
  const r = await tsvsadm(m, ['-R'], { stdin: saved.out });
  assert.deepEqual(r, { status: 0, out: '', err: '' });
  assert.equal((await tsvsadm(m, ['-S', '-n'])).out, saved.out);
  assert.deepEqual(sortedSnapshot(m), before);
  const t = m.service({ af: 4, protocol: 6, addr: '192.168.10.100', port: 80 });
  assert.ok(t.dests.every((d) => d.uThreshold === 0 && d.lThreshold === 0));
});

test('the save without -n restores too (names resolve back)', async () => {
  const m = referenceFixture();
  const saved = (await tsvsadm(m, ['-S'])).out;
  const fresh = newModel();
  assert.deepEqual(await tsvsadm(fresh, ['-R'], { stdin: saved }), { status: 0, out: '', err: '' });
  assert.equal((await tsvsadm(fresh, ['-S', '-n'])).out, golden('save-n.txt'));
});

test('a validation error ends the restore; earlier lines stay, later ones are not run', async () => {
  const m = newModel();
  const r = await tsvsadm(m, ['-R'], {
    stdin:
      '-A -t 10.0.0.1:80 -s rr\n' +
      '-a -t 10.0.0.1:80 -r 10.0.0.2 -m\n' +
      '-A -t 10.0.0.1:80\n' + // kernel error: printed, restore goes on
      '-a -t 10.0.0.1:80 -r 10.0.0.3 --foo\n' + // popt error: printed, line skipped
      '-a -t 10.0.0.1:80 -r 10.0.0.4 -w 99999\n' + // validation error: the end
      '-a -t 10.0.0.1:80 -r 10.0.0.5\n',
  });
  assert.equal(r.err, 'Service already exists\n--foo: unknown option\nillegal weight specified\n');
  assert.equal(r.status, 2);
  const dests = m.service({ af: 4, protocol: 6, addr: '10.0.0.1', port: 80 }).dests;
  assert.deepEqual(
    dests.map((d) => d.addr),
    ['10.0.0.2'],
  );
});

test('the exit status of -R is that of the last line', async () => {
  let m = newModel();
  let r = await tsvsadm(m, ['-R'], { stdin: '-A -t 10.0.0.1:80\n-A -t 10.0.0.1:80\n' });
  assert.deepEqual(r, { status: 255, out: '', err: 'Service already exists\n' });
  m = newModel();
  r = await tsvsadm(m, ['-R'], {
    stdin: '-A -t 10.0.0.1:80\n-A -t 10.0.0.1:80\n-A -t 10.0.0.2:80',
  });
  assert.deepEqual(r, { status: 0, out: '', err: 'Service already exists\n' });
  assert.equal(m.services().length, 2);
});

test('restore words: "ipvsadm" dropped anywhere, tabs and CR separate, blank lines skipped', async () => {
  const m = newModel();
  const r = await tsvsadm(m, ['-R'], {
    stdin:
      'ipvsadm -A -t 10.0.0.1:80 -s rr\r\n\n   \t\n-a\t-t 10.0.0.1:80 ipvsadm -r 10.0.0.2 -m\r\n',
  });
  assert.deepEqual(r, { status: 0, out: '', err: '' });
  assert.equal(m.service({ af: 4, protocol: 6, addr: '10.0.0.1', port: 80 }).dests.length, 1);
  // "-s ipvsadm" loses its argument: a popt error, and the restore goes on
  const r2 = await tsvsadm(m, ['-R'], {
    stdin: '-A -t 10.0.0.9:80 -s ipvsadm\n-A -t 10.0.0.8:80\n',
  });
  assert.deepEqual(r2, { status: 0, out: '', err: '-s: missing argument\n' });
});

test('no comments in a restore stream: # first gives Try (255) and ends it, # later is unexpected', async () => {
  const m = newModel();
  let r = await tsvsadm(m, ['-R'], { stdin: '# a comment\n-A -t 10.0.0.1:80\n' });
  assert.deepEqual(r, {
    status: 255,
    out: '',
    err: "Try `ipvsadm -h' or 'ipvsadm --help' for more information.\n",
  });
  assert.equal(m.services().length, 0);
  r = await tsvsadm(m, ['-R'], { stdin: '-A -t 10.0.0.1:80 # web\n-A -t 10.0.0.2:80\n' });
  assert.deepEqual(r, { status: 2, out: '', err: 'unexpected argument #\n' });
  assert.equal(m.services().length, 0);
});

test('-R inside a restore stream stops it with Try', async () => {
  const m = newModel();
  const r = await tsvsadm(m, ['-R'], { stdin: '-A -t 10.0.0.1:80\n-R\n-A -t 10.0.0.2:80\n' });
  assert.equal(r.status, 255);
  assert.equal(r.err, "Try `ipvsadm -h' or 'ipvsadm --help' for more information.\n");
  assert.equal(m.services().length, 1);
});

test('other commands work inside a restore stream and see the lines before them', async () => {
  const m = newModel();
  const r = await tsvsadm(m, ['-R'], {
    stdin: '-A -t 10.0.0.1:80 -s rr\n-L -n\n-A -t 10.0.0.2:80\n-L -n -t 10.0.0.2:80\n',
  });
  assert.equal(r.status, 0);
  assert.equal(
    r.out,
    'IP Virtual Server version 1.2.1 (size=4096)\n' +
      'Prot LocalAddress:Port Scheduler Flags\n' +
      '  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n' +
      'TCP  10.0.0.1:80 rr\n' +
      'Prot LocalAddress:Port Scheduler Flags\n' +
      '  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n' +
      'TCP  10.0.0.2:80 wlc\n',
  );
});

test('a listing failure inside a restore ends it with status 1', async () => {
  const m = newModel();
  const r = await tsvsadm(m, ['-R'], {
    stdin: '-A -t 10.0.0.1:80\n-L -t 10.0.0.9:80\n-A -t 10.0.0.2:80\n',
  });
  assert.deepEqual(r, { status: 1, out: '', err: 'No such service\n' });
  assert.equal(m.services().length, 1);
});

test('lines longer than 4095 bytes are split as fgets splits them', async () => {
  const m = newModel();
  const long = '-A -t 10.0.0.1:80' + ' '.repeat(4095 - 17) + '-A -t 10.0.0.2:80\n';
  const r = await tsvsadm(m, ['-R'], { stdin: long });
  assert.deepEqual(r, { status: 0, out: '', err: '' });
  assert.equal(m.services().length, 2);
});
