/**
 * tsvs trace on the other paths of the engine: direct routing (INPUT-ONLY, replies
 * clearing NOOUTPUT), connection reuse, fwmark services with --mark, one-packet
 * scheduling, ICMP errors, --drain and the --explain and --json forms. Expected
 * states and timeouts come from the spec's tables (§2.1, §2.3, §2.11, §3, §4.6).
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { runTrace } from '../../src/replay/cli.js';
import { ACK, FIN, SYN, buildPacket } from '../helpers/packets.js';
import { icmpError, memoryIo, rawCapture, tempDir, type Step } from './helpers.js';
import { CIP, NAT_TCP, RIP1, RIP2, VIP } from './conversations.js';

const FIXTURES = join(import.meta.dirname, '..', '..', '..', 'test', 'fixtures', 'replay');
const tmp = tempDir('tsvs-trace-paths-');
after(() => tmp.done());
let n = 0;

async function trace(conf: string, steps: readonly Step[], ...args: string[]) {
  n++;
  const confFile = conf.includes('\n') ? tmp.file(`c${n}.conf`, conf) : join(FIXTURES, conf);
  const cap = tmp.file(`c${n}.pcap`, rawCapture(steps));
  const io = memoryIo();
  const status = await runTrace(['--config', confFile, ...args, cap], io);
  assert.equal(status, 0, io.stderr);
  return io.stdout.split('\n').filter((l) => l !== '');
}

const syn = (at: number, sport = 40000): Step => ({
  at,
  pkt: { src: CIP, dst: VIP, sport, dport: 80, flags: SYN },
});
const ack = (at: number, sport = 40000): Step => ({
  at,
  pkt: { src: CIP, dst: VIP, sport, dport: 80, flags: ACK },
});
const fin = (at: number, sport = 40000): Step => ({
  at,
  pkt: { src: CIP, dst: VIP, sport, dport: 80, flags: FIN | ACK },
});

describe('tsvs trace paths', () => {
  it('follows a direct-routing conn through the INPUT-ONLY table', async () => {
    const conf = `-A -t ${VIP}:80 -s rr\n-a -t ${VIP}:80 -r ${RIP1}:80 -g -w 1\n`;
    const lines = await trace(conf, [syn(0), ack(0.1), fin(1), ack(1.1)], '--explain');
    // typical DR walk (§2.3): SYN NO→SR; ACK SR→ES; client FIN ES→FW; ACK stays FW (120 s)
    assert.match(
      lines[0],
      /conn 0 new: TCP 10\.0\.3\.100:80 rr → 10\.0\.2\.11:80 Route {2}NONE → SYN_RECV 60s {2}DR to 10\.0\.2\.11 {2}FORWARD$/,
    );
    assert.match(lines[1], /INPUT-ONLY syn row/);
    assert.match(lines[2], /SYN_RECV → ESTABLISHED 900s/);
    assert.match(lines[4], /ESTABLISHED → FIN_WAIT 120s/);
    assert.match(lines[5], /INPUT-ONLY fin row/);
    assert.match(lines[6], /FIN_WAIT → FIN_WAIT 120s/);
  });

  it('takes a DR reply from VIP:vport on the out path, where it clears NOOUTPUT', async () => {
    const conf = `-A -t ${VIP}:80 -s rr\n-a -t ${VIP}:80 -r ${RIP1}:80 -g -w 1\n`;
    const reply: Step = {
      at: 0.05,
      pkt: { src: VIP, dst: CIP, sport: 80, dport: 40000, flags: SYN | ACK },
    };
    const lines = await trace(conf, [syn(0), reply, ack(0.1)], '--explain');
    // OUTPUT syn row from SR: SR (§2.3); the packet passes unchanged (§1.3)
    assert.match(
      lines[2],
      /^0\.050000 #2 out TCP 10\.0\.3\.100:80 > 10\.0\.1\.2:40000 \[S\.\] {2}conn 0 {2}SYN_RECV → SYN_RECV 60s {2}ACCEPT$/,
    );
    assert.match(lines[3], /OUTPUT syn row, NOOUTPUT cleared/);
    // after the reply the conn uses the INPUT block, not INPUT-ONLY
    assert.match(lines[5], /INPUT ack row/);
  });

  it('reuses a TIME_WAIT conn for a new SYN and shows the old one expire', async () => {
    const out: Step = {
      at: 1.05,
      pkt: { src: RIP2, dst: CIP, sport: 80, dport: 40000, flags: FIN | ACK },
    };
    const lines = await trace('nat-tcp.conf', [syn(0), ack(0.1), fin(1), out, ack(1.1), syn(5)]);
    assert.match(lines[4], /TIME_WAIT → TIME_WAIT 120s/);
    // §2.11: conn_reuse_mode=1, TIME_WAIT → expire the old conn, schedule afresh (rr: RIP1)
    assert.match(
      lines[5],
      /^5\.000000 #6 in {2}TCP .* \[S\] {2}conn 0 new: .* rr → 10\.0\.2\.11:80 Masq {2}NONE → SYN_RECV 60s/,
    );
    assert.match(
      lines[6],
      /^5\.000000 expire conn 0 TCP 10\.0\.1\.2:40000 → 10\.0\.3\.100:80 → 10\.0\.2\.12:80 TIME_WAIT idle 120s \(during #6\)$/,
    );
  });

  it('schedules a fwmark service only for packets the --mark rule marks', async () => {
    const conf = `-A -f 7 -s rr\n-a -f 7 -r ${RIP1}:0 -m -w 1\n`;
    const marked = await trace(conf, [syn(0)], '--mark', `${VIP}:80=7`);
    assert.match(
      marked[0],
      /mark 7 {2}conn 0 new: FWM 7 rr → 10\.0\.2\.11:0 Masq {2}NONE → SYN_RECV 60s {2}DNAT → 10\.0\.2\.11:80 {2}FORWARD$/,
    );
    const unmarked = await trace(conf, [syn(0)]);
    assert.match(unmarked[0], /no conn \(no service for 10\.0\.3\.100:80\) {2}ACCEPT$/);
  });

  it('releases one-packet conns right after their packet', async () => {
    const conf = `-A -u ${VIP}:53 -s rr -o\n-a -u ${VIP}:53 -r ${RIP1}:53 -m -w 1\n`;
    const q: Step = {
      at: 0,
      pkt: { proto: 'udp', src: CIP, dst: VIP, sport: 5000, dport: 53, payload: 'q' },
    };
    const lines = await trace(conf, [q, { ...q, at: 1 }]);
    assert.match(
      lines[0],
      /conn 0 new: UDP 10\.0\.3\.100:53 rr → 10\.0\.2\.11:53 Masq {2}UDP → UDP 0s {2}DNAT → 10\.0\.2\.11:53 {2}FORWARD$/,
    );
    assert.match(
      lines[1],
      /^0\.000000 expire conn 0 UDP .* one-packet conn released \(during #1\)$/,
    );
    assert.match(lines[2], /#2 in {2}UDP .* conn 0 new:/);
  });

  it('gives an ICMP error about a VIP → client packet to the in path of its conn', async () => {
    const synack = buildPacket({ src: VIP, dst: CIP, sport: 80, dport: 40000, flags: SYN | ACK });
    const err: Step = { at: 0.5, pkt: icmpError(CIP, VIP, 3, 4, synack) };
    const lines = await trace('nat-tcp.conf', [syn(0), err], '--json');
    const o = JSON.parse(lines[1]) as Record<string, unknown>;
    assert.equal(o.dir, 'in');
    assert.equal(o.rule, 'icmp-conn-in');
    assert.equal(o.conn, 0);
    assert.equal(o.verdict, 'FORWARD');
    // §8.1 NAT: the outer destination becomes the real server
    assert.equal(o.rewrite, `DNAT → ${RIP2}`);
  });

  it('runs the clock on with --drain until the last conn has expired', async () => {
    const lines = await trace('nat-tcp.conf', NAT_TCP.slice(0, 9), '--drain');
    assert.equal(
      lines.at(-1),
      '121.002000 expire conn 0 TCP 10.0.1.2:40000 → 10.0.3.100:80 → 10.0.2.12:80 TIME_WAIT idle 120s',
    );
  });

  it('traces IPv6 NAT with bracketed endpoints and expires it on --drain', async () => {
    const conf =
      '-A -t [fd00:3::100]:80 -s rr\n-a -t [fd00:3::100]:80 -r [fd00:2::11]:8080 -m -w 1\n';
    const c = 'fd00:1::2';
    const lines = await trace(
      conf,
      [
        { at: 0, pkt: { src: c, dst: 'fd00:3::100', sport: 40000, dport: 80, flags: SYN } },
        {
          at: 0.1,
          pkt: { src: 'fd00:2::11', dst: c, sport: 8080, dport: 40000, flags: SYN | ACK },
        },
        { at: 0.2, pkt: { src: c, dst: 'fd00:3::100', sport: 40000, dport: 80, flags: ACK } },
      ],
      '--drain',
    );
    assert.deepEqual(lines, [
      '0.000000 #1 in  TCP [fd00:1::2]:40000 > [fd00:3::100]:80 [S]  conn 0 new: TCP [fd00:3::100]:80 rr → [fd00:2::11]:8080 Masq  NONE → SYN_RECV 60s  DNAT → [fd00:2::11]:8080  FORWARD',
      '0.100000 #2 out TCP [fd00:2::11]:8080 > [fd00:1::2]:40000 [S.]  conn 0  SYN_RECV → SYN_RECV 60s  SNAT → [fd00:3::100]:80  FORWARD',
      '0.200000 #3 in  TCP [fd00:1::2]:40000 > [fd00:3::100]:80 [.]  conn 0  SYN_RECV → ESTABLISHED 900s  DNAT → [fd00:2::11]:8080  FORWARD',
      '900.200000 expire conn 0 TCP [fd00:1::2]:40000 → [fd00:3::100]:80 → [fd00:2::11]:8080 ESTABLISHED idle 900s',
    ]);
  });

  it('explains the first packet of a connection in the words of the spec', async () => {
    const lines = await trace('nat-tcp.conf', NAT_TCP.slice(0, 3), '--explain');
    assert.equal(
      lines[1],
      '    SYN, no connection, service TCP 10.0.3.100:80 rr → real server 10.0.2.12:80 (Masq); ' +
        'NONE → SYN_RECV (INPUT syn row, §2.2–2.3); timeout 60 s (§2.1); ' +
        'now counted in activeconns of 10.0.2.12:80 (§2.5); ' +
        'NAT: destination rewritten to 10.0.2.12:80, TTL − 1, checksums updated (§6, §7.2)',
    );
    assert.match(lines[3], /SYN_RECV → SYN_RECV \(OUTPUT syn row/);
    assert.match(lines[5], /SYN_RECV → ESTABLISHED \(INPUT ack row.*timeout 900 s/);
  });

  it('writes one JSON object per packet and expiry, and a summary last', async () => {
    const lines = await trace('nat-tcp.conf', NAT_TCP, '--json');
    const objs = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(
      objs.map((o) => o.type),
      [...Array(9).fill('packet'), 'expire', 'packet', 'packet', 'summary'],
    );
    assert.deepEqual(objs[0].state, ['NONE', 'SYN_RECV']);
    assert.equal(objs[0].timeout, 60);
    assert.equal(objs[0].scheduler, 'rr');
    assert.equal(objs[0].realServer, `${RIP2}:80`);
    assert.equal(objs[9].idle, 120);
    assert.equal(objs[9].t, 121.002);
    assert.deepEqual((objs[12].verdicts as Record<string, number>).FORWARD, 10);
  });
});
