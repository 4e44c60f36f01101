/**
 * tsvs trace on an SCTP association (a capture of hand-built packets): the trace line
 * names the first chunk, the states and timeouts follow the kernel's sctp_states and
 * sctp_timeouts, and --explain tells the SCTP table row, the counters and why a chunk
 * other than INIT is not scheduled.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { runTrace } from '../../src/replay/cli.js';
import { memoryIo, rawCapture, tempDir, type Step } from './helpers.js';
import {
  ABORT,
  COOKIE_ACK,
  COOKIE_ECHO,
  DATA,
  INIT,
  INIT_ACK,
  sctpPacket,
} from '../engine/sctp-packets.js';

const VIP = '10.0.3.100';
const CIP = '10.0.1.2';
const RIP = '10.0.2.11';
const tmp = tempDir('tsvs-trace-sctp-');
after(() => tmp.done());

async function trace(steps: readonly Step[], ...args: string[]): Promise<string[]> {
  const conf = tmp.file(
    `sctp${args.join('')}.conf`,
    `-A --sctp-service ${VIP}:3868 -s rr\n-a --sctp-service ${VIP}:3868 -r ${RIP}:13868 -m -w 1\n`,
  );
  const cap = tmp.file(`sctp${args.join('')}.pcap`, rawCapture(steps));
  const io = memoryIo();
  const status = await runTrace(['--config', conf, ...args, cap], io);
  assert.equal(status, 0, io.stderr);
  return io.stdout.split('\n').filter((l) => l !== '');
}

const cin = (at: number, chunk: number, sport = 40000): Step => ({
  at,
  pkt: sctpPacket({ src: CIP, dst: VIP, sport, dport: 3868, chunks: [chunk] }),
});
const sout = (at: number, chunk: number): Step => ({
  at,
  pkt: sctpPacket({ src: RIP, dst: CIP, sport: 13868, dport: 40000, chunks: [chunk] }),
});

const ASSOC = [
  cin(0, INIT),
  sout(0.1, INIT_ACK),
  cin(0.2, COOKIE_ECHO),
  sout(0.3, COOKIE_ACK),
  cin(0.4, DATA),
  cin(1, ABORT, 40001),
];

describe('tsvs trace SCTP', () => {
  it('prints the association with the kernel SCTP states and timeouts', async () => {
    const lines = await trace(ASSOC);
    assert.match(lines[0], /SCTP 10\.0\.1\.2:40000 > 10\.0\.3\.100:3868 \[INIT\].*NONE → INIT1 4s/);
    assert.match(lines[1], /\[INIT_ACK\].*INIT1 → C-SENT 61s/);
    assert.match(lines[2], /\[COOKIE_ECHO\].*C-SENT → C-REPLIED 61s/);
    assert.match(lines[3], /\[COOKIE_ACK\].*C-REPLIED → ESTABLISHED 900s/);
    assert.match(lines[4], /\[DATA\].*ESTABLISHED → ESTABLISHED 900s/);
    assert.match(lines[5], /\[ABORT\].*ACCEPT/);
  });

  it('explains the SCTP table row, the counters and an ABORT that opens nothing', async () => {
    const lines = await trace(ASSOC, '--explain');
    const text = lines.join('\n');
    assert.match(text, /INIT, no connection, service SCTP 10\.0\.3\.100:3868 rr/);
    assert.match(text, /NONE → INIT1 \(INPUT init row of the SCTP table\); timeout 4 s/);
    assert.match(text, /now counted in inactconns of 10\.0\.2\.11:13868/);
    assert.match(
      text,
      /C-REPLIED → ESTABLISHED \(OUTPUT cookie_ack row of the SCTP table\); timeout 900 s/,
    );
    assert.match(text, /now counted in activeconns of 10\.0\.2\.11:13868/);
    assert.match(text, /an SCTP ABORT never creates a connection/);
  });
});
