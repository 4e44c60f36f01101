/**
 * Damaged captures: a truncated file, frames of a link type tsvs cannot read, packets
 * cut by the snap length, and files that are no capture at all. Each is reported with
 * its packet number, what can be replayed is replayed, nothing throws, and the exit
 * status says what happened (0 intact, 1 damaged, 3 unreadable; docs/replay.md).
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { LINKTYPE_RAW, PcapWriter } from '../../src/pcap/pcap.js';
import {
  EXIT_DAMAGED,
  EXIT_OK,
  EXIT_UNREADABLE,
  runReplay,
  runTrace,
} from '../../src/replay/cli.js';
import { buildPacket } from '../helpers/packets.js';
import { memoryIo, rawCapture, T0_NS, tempDir } from './helpers.js';
import { NAT_TCP } from './conversations.js';

const CONF = join(
  import.meta.dirname,
  '..',
  '..',
  '..',
  'test',
  'fixtures',
  'replay',
  'nat-tcp.conf',
);
const tmp = tempDir('tsvs-bad-');
after(() => tmp.done());

async function both(name: string, bytes: Uint8Array | string) {
  const input = tmp.file(`${name}.pcap`, bytes);
  const rio = memoryIo();
  const replayStatus = await runReplay(
    ['--config', CONF, input, tmp.file(`${name}.out.pcap`)],
    rio,
  );
  const tio = memoryIo();
  const traceStatus = await runTrace(['--config', CONF, input], tio);
  const jio = memoryIo();
  const jsonStatus = await runTrace(['--config', CONF, '--json', input], jio);
  const json = jio.stdout
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  return { replayStatus, traceStatus, jsonStatus, replay: rio, trace: tio, json };
}

describe('damaged captures', () => {
  it('replays a truncated file up to the cut and reports the cut record by number', async () => {
    const good = rawCapture(NAT_TCP);
    const r = await both('truncated', good.subarray(0, good.length - 30));
    assert.equal(r.replayStatus, EXIT_DAMAGED);
    assert.equal(r.traceStatus, EXIT_DAMAGED);
    assert.equal(r.jsonStatus, EXIT_DAMAGED);
    assert.match(r.replay.stderr, /packet 11: truncated record/);
    assert.match(r.replay.stdout, /10 packets: 10 replayed/);
    assert.match(r.trace.stdout, /^#11 problem: truncated record/m);
    assert.match(r.trace.stdout, /#10 in {2}TCP 10\.0\.1\.3:40005/);
    const p = r.json.find((o) => o.type === 'problem');
    assert.equal(p?.n, 11);
    const s = r.json.at(-1);
    assert.equal(s?.type, 'summary');
    assert.equal(s?.status, EXIT_DAMAGED);
  });

  it('skips frames of an unknown link type and names the link type', async () => {
    const cap = rawCapture(NAT_TCP);
    new DataView(cap.buffer, cap.byteOffset).setUint32(20, 147, true); // LINKTYPE_USER0
    const r = await both('linktype', cap);
    assert.equal(r.replayStatus, EXIT_DAMAGED);
    assert.equal(r.traceStatus, EXIT_DAMAGED);
    assert.match(r.replay.stderr, /packet 1: unsupported link type 147/);
    assert.match(r.replay.stdout, /0 replayed .* 11 of an unknown link type/);
    assert.match(r.trace.stdout, /#1 skipped: unsupported link type 147/);
    assert.equal(r.json.filter((o) => o.type === 'skipped').length, 11);
  });

  it('does not replay packets cut by the snap length, and says which', async () => {
    const w = PcapWriter.toMemory({ linkType: LINKTYPE_RAW, snaplen: 48 });
    NAT_TCP.forEach((s) =>
      w.write(T0_NS + BigInt(Math.round(s.at * 1e6)) * 1000n, buildPacket(s.pkt)),
    );
    const r = await both('snaplen', w.bytes());
    assert.equal(r.replayStatus, EXIT_DAMAGED);
    // only #4 (request, 58 bytes) and #5 (response, 65 bytes) exceed 48 bytes
    assert.match(
      r.replay.stderr,
      /packet 4: the capture holds 48 bytes of the IP packet, cut by the snap length \(48 of 58 bytes captured\): not replayed/,
    );
    assert.match(r.replay.stderr, /packet 5: .*cut by the snap length \(48 of 65/);
    assert.match(r.replay.stdout, /11 packets: 9 replayed .* 2 cut by the snap length/);
    assert.match(r.trace.stdout, /^#4 problem: .*snap length/m);
    assert.deepEqual(
      r.json.filter((o) => o.type === 'problem').map((o) => o.n),
      [4, 5],
    );
  });

  it('reports a file that is no capture, an empty one and a missing one as unreadable', async () => {
    for (const [name, bytes, msg] of [
      ['junk', 'GET / HTTP/1.1\r\n\r\n', /not a pcap or pcapng file/],
      ['empty', '', /not a capture file: only 0 bytes/],
    ] as const) {
      const r = await both(name, bytes);
      assert.equal(r.replayStatus, EXIT_UNREADABLE, name);
      assert.equal(r.traceStatus, EXIT_UNREADABLE, name);
      assert.match(r.replay.stderr, msg);
      assert.match(r.replay.stderr, /packet 1: /);
    }
    const io = memoryIo();
    assert.equal(await runTrace(['--config', CONF, tmp.file('missing.pcap')], io), EXIT_UNREADABLE);
    assert.match(io.stdout, /^#1 problem: cannot read .*missing\.pcap/m);
  });

  it('replays an intact capture with status 0', async () => {
    const r = await both('intact', rawCapture(NAT_TCP));
    assert.equal(r.replayStatus, EXIT_OK);
    assert.equal(r.traceStatus, EXIT_OK);
    assert.equal(r.replay.stderr, '');
  });
});
