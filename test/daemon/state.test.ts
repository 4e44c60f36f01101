/**
 * The engine's state outside the process (src/daemon/state.ts, src/daemon/journal.ts):
 * the state file of a planned stop restores the table exactly; a file cut short,
 * altered, or not a state at all is refused with one log line, set aside as `*.bad`,
 * and the engine stays empty; the crash journal (snapshot + records fed by the
 * engine's per-conn hook) brings back every established connection of an engine that
 * was never stopped properly, including records written after the snapshot.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Engine, type ServiceKey } from '../../src/engine/engine.js';
import {
  readEngineState,
  restoreStateFile,
  saveEngineState,
  STATE_FILE,
} from '../../src/daemon/state.js';
import { Journal, readJournal, restoreJournal } from '../../src/daemon/journal.js';
import { importEngineState } from '../../src/engine/state.js';
import { ACK, PSH, SYN, buildPacket, rng } from '../helpers/packets.js';

const VIP = '10.0.3.100';
const K80: ServiceKey = { af: 4, protocol: 6, addr: VIP, port: 80 };
const K443: ServiceKey = { af: 4, protocol: 6, addr: VIP, port: 443 };

function configured(): Engine {
  const e = new Engine({ random: rng(1) });
  e.addService(K80, { scheduler: 'wrr' });
  e.addDest(K80, { addr: '10.0.2.11', port: 80, fwd: 'masq', weight: 2 });
  e.addDest(K80, { addr: '10.0.2.12', port: 80, fwd: 'masq', weight: 1 });
  e.addService(K443, { scheduler: 'rr', flags: 1, timeout: 600 });
  e.addDest(K443, { addr: '10.0.2.11', port: 443, fwd: 'masq' });
  return e;
}

function inPkt(
  e: Engine,
  cip: string,
  cport: number,
  vport: number,
  flags: number,
  now: number,
): void {
  const raw = buildPacket({
    src: cip,
    dst: VIP,
    sport: cport,
    dport: vport,
    flags,
    payload: flags & PSH ? 'x' : '',
  });
  const buf = new Uint8Array(raw.length + 128);
  buf.set(raw, 64);
  e.in(buf, 64, raw.length, now);
}

/** `n` client conns per service, handshake done (SYN, then an ACK with data). */
function traffic(e: Engine, n: number, t: number, base = 1): number {
  for (let i = 0; i < n; i++)
    for (const port of [80, 443]) {
      inPkt(e, `10.0.1.${base + (i % 200)}`, 20000 + i, port, SYN, (t += 1));
      inPkt(e, `10.0.1.${base + (i % 200)}`, 20000 + i, port, ACK | PSH, (t += 1));
    }
  return t;
}

function listing(e: Engine): string[] {
  return e
    .connections()
    .map(
      (c) =>
        `${c.protocol} ${c.caddr}:${c.cport} ${c.vaddr}:${c.vport} ${c.daddr}:${c.dport} ${c.state} ${c.template}`,
    )
    .sort();
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

test('the state file of a planned stop restores the table, and is consumed', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsvs-state-'));
  try {
    const a = configured();
    const t = traffic(a, 50, 1_000_000);
    saveEngineState(a, join(dir, STATE_FILE));
    const b = configured();
    const log: string[] = [];
    assert.equal(
      restoreStateFile(b, dir, t, (l) => log.push(l)),
      true,
    );
    assert.deepEqual(listing(b), listing(a));
    assert.match(
      log.join('\n'),
      /restored the state of the previous run .*100 connection\(s\), \d+ template/,
    );
    assert.equal(existsSync(join(dir, STATE_FILE)), false, 'consumed');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a state file cut short, altered or foreign is refused, set aside, and nothing restored', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsvs-state-'));
  try {
    const a = configured();
    const t = traffic(a, 20, 1_000_000);
    const path = join(dir, STATE_FILE);
    saveEngineState(a, path);
    const good = readFileSync(path);
    const nl = good.indexOf(0x0a);
    const flip = Buffer.from(good);
    flip[nl + 50] ^= 1;
    const cases: [string, Buffer | string, RegExp][] = [
      ['cut short', good.subarray(0, good.length - 100), /cut short/],
      ['one bit changed', flip, /checksum/],
      ['empty', '', /no header line/],
      ['not ours', 'hello\nworld', /header line is not JSON/],
      [
        'another version',
        Buffer.concat([
          Buffer.from(good.subarray(0, nl).toString().replace('"version":1', '"version":7')),
          good.subarray(nl),
        ]),
        /file version 7/,
      ],
    ];
    for (const [what, bytes, why] of cases) {
      writeFileSync(path, bytes);
      const b = configured();
      const log: string[] = [];
      assert.equal(
        restoreStateFile(b, dir, t, (l) => log.push(l)),
        false,
        what,
      );
      assert.equal(b.conns.count, 0, `${what}: nothing restored`);
      assert.match(log.join('\n'), why, what);
      assert.match(log.join('\n'), /starting with an empty connection table/, what);
      assert.equal(existsSync(`${path}.bad`), true, `${what}: set aside`);
      rmSync(`${path}.bad`);
    }
    // a well-formed file whose content does not validate
    saveEngineState(a, path);
    const st = readEngineState(path) as { conns: { dest: Int32Array } };
    assert.ok(st.conns.dest.length > 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the crash journal brings back the table of an engine that was never stopped', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsvs-journal-'));
  try {
    const a = configured();
    const j = new Journal(a, dir, () => undefined);
    let t = traffic(a, 30, 1_000_000);
    a.tick(t);
    j.start(); // snapshot: 60 conns and the templates
    t = traffic(a, 40, t + 10, 100); // records after the snapshot: new conns
    await tick();
    t = traffic(a, 10, t + 10); // the first conns again (no state change: no record)
    await tick();
    // SIGKILL: no stop(), nothing flushed beyond what the event loop wrote
    const { records } = readJournal(dir);
    assert.ok(records >= 80, `records after the snapshot: ${records}`);
    const b = configured();
    const log: string[] = [];
    assert.equal(
      restoreJournal(b, dir, t, (l) => log.push(l)),
      true,
      log.join('\n'),
    );
    assert.deepEqual(listing(b), listing(a));
    // the restored conns are the same conns: their next packets go where they went
    for (const id of b.conns.ids()) {
      const ai = a.conns.inLookup(
        4,
        6,
        b.conns.caddr,
        id * 4,
        b.conns.cport[id],
        b.conns.vaddr,
        id * 4,
        b.conns.vport[id],
      );
      if (b.conns.flags[id] & 0x1000) continue;
      assert.ok(ai >= 0);
      assert.equal(b.conns.daddr[id * 4], a.conns.daddr[ai * 4]);
    }
    j.stop(true);
    assert.equal(existsSync(join(dir, 'journal.log')), false, 'a clean stop removes it');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a configuration change takes a new snapshot; the journal of another generation is ignored', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsvs-journal-'));
  try {
    const a = configured();
    const j = new Journal(a, dir, () => undefined);
    j.start();
    let t = traffic(a, 5, 2_000_000);
    await tick();
    const oldLog = readFileSync(join(dir, 'journal.log'));
    assert.ok(oldLog.length > 16, 'records written');
    a.addService({ af: 4, protocol: 6, addr: VIP, port: 8080 }, { scheduler: 'rr' });
    a.addDest(
      { af: 4, protocol: 6, addr: VIP, port: 8080 },
      { addr: '10.0.2.13', port: 8080, fwd: 'masq' },
    );
    j.configChanged();
    await tick();
    await j.settled();
    for (let i = 0; i < 5; i++) {
      inPkt(a, '10.0.1.9', 30000 + i, 8080, SYN, (t += 1));
      inPkt(a, '10.0.1.9', 30000 + i, 8080, ACK | PSH, (t += 1));
    }
    await tick();
    const b = configured();
    b.addService({ af: 4, protocol: 6, addr: VIP, port: 8080 }, { scheduler: 'rr' });
    b.addDest(
      { af: 4, protocol: 6, addr: VIP, port: 8080 },
      { addr: '10.0.2.13', port: 8080, fwd: 'masq' },
    );
    const { state } = readJournal(dir);
    importEngineState(b, state, t);
    assert.deepEqual(listing(b), listing(a), "the new real server's conns are kept");
    // a crash between the new snapshot and the journal's truncation: the older
    // generation's records are not applied on top of the newer snapshot
    j.stop(false);
    writeFileSync(join(dir, 'journal.log'), oldLog);
    assert.equal(readJournal(dir).records, 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a snapshot is written off the packet path; a crash at any moment of it recovers everything', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsvs-journal-'));
  try {
    const a = configured();
    const j = new Journal(a, dir, () => undefined);
    // more conns than one slice of the export (EXPORT_SLICE ids): it spans turns
    let t = traffic(a, 1200, 3_000_000);
    j.start();
    t = traffic(a, 20, t + 10, 50);
    await tick();
    const oldLog = readFileSync(join(dir, 'journal.log'));
    const oldSnap = readFileSync(join(dir, 'journal.snap'));
    // a snapshot under way: the packet path goes on meanwhile, during the export (new
    // conns, changed ones: in the snapshot) and while the worker writes it (records)
    j.compactAsync();
    assert.equal(existsSync(join(dir, 'journal.next')), false, 'exported in slices');
    t = traffic(a, 20, t + 10, 100);
    let turns = 0;
    while (!existsSync(join(dir, 'journal.next'))) {
      await tick();
      turns++;
    }
    assert.ok(turns >= 1, 'the export spanned a turn of the event loop');
    t = traffic(a, 20, t + 10, 120);
    await tick();
    // a crash now (the new snapshot not yet in place): the old pair has it all
    if (readFileSync(join(dir, 'journal.snap')).equals(oldSnap)) {
      const b = configured();
      importEngineState(b, readJournal(dir).state, t);
      assert.deepEqual(listing(b), listing(a), 'the old generation, records to date');
    }
    await j.settled();
    assert.equal(existsSync(join(dir, 'journal.next')), false);
    assert.ok(!readFileSync(join(dir, 'journal.snap')).equals(oldSnap), 'a new snapshot');
    t = traffic(a, 10, t + 10, 150);
    await tick();
    const b = configured();
    importEngineState(b, readJournal(dir).state, t);
    assert.deepEqual(listing(b), listing(a), 'the new generation, records to date');
    // a crash between the snapshot's rename and the journal's: journal.log still of the
    // old generation, the new one's journal in journal.next
    const newLog = readFileSync(join(dir, 'journal.log'));
    j.stop(false);
    writeFileSync(join(dir, 'journal.next'), newLog);
    writeFileSync(join(dir, 'journal.log'), oldLog);
    const c = configured();
    importEngineState(c, readJournal(dir).state, t);
    assert.deepEqual(listing(c), listing(a), "journal.next of the snapshot's generation");
    assert.ok(j.snapshotHoldMs >= 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
