/**
 * tsvs replay: the output capture holds what the director would have sent — NAT
 * rewrites in both directions, a full UDP checksum where the client sent none (spec
 * §3), direct routing and tunnelling, the ICMP error built when no real server is
 * available — with the input's timestamps and checksums that verify, both with the
 * independent test checker and with tshark.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { type CaptureRecord, readCaptureFile } from '../../src/pcap/pcap.js';
import { runReplay } from '../../src/replay/cli.js';
import {
  ACK,
  SYN,
  buildPacket,
  ipv4HeaderValid,
  l4ChecksumValid,
  naiveSum,
  parse,
} from '../helpers/packets.js';
import { ethernetCapture, memoryIo, rawCapture, T0_NS, tempDir, type Step } from './helpers.js';
import { CIP, NAT_TCP, RIP1, RIP2, UDP, VIP } from './conversations.js';

const FIXTURES = join(import.meta.dirname, '..', '..', '..', 'test', 'fixtures', 'replay');
const tmp = tempDir('tsvs-replay-');
after(() => tmp.done());

function onPath(cmd: string): boolean {
  return (process.env.PATH ?? '')
    .split(delimiter)
    .some((d) => d !== '' && existsSync(join(d, cmd)));
}

/** tshark's view of a capture: one array of fields per frame. */
function tshark(file: string, fields: string[]): string[][] {
  if (!onPath('tshark')) {
    assert.fail(
      'tshark is not installed: run the tests with `npm test` as root (scripts/test.sh ' +
        'installs it) or `apt-get install -y tshark`',
    );
  }
  const args = ['-r', file, '-o', 'ip.check_checksum:TRUE', '-o', 'tcp.check_checksum:TRUE'];
  args.push('-o', 'udp.check_checksum:TRUE', '-T', 'fields');
  for (const f of fields) args.push('-e', f);
  const r = spawnSync('tshark', args, { encoding: 'utf8', timeout: 20_000 });
  if (r.error) throw r.error;
  assert.equal(r.status, 0, `tshark failed: ${r.stderr}`);
  return r.stdout
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => l.split('\t'));
}

function packets(file: string): CaptureRecord[] {
  const out: CaptureRecord[] = [];
  for (const it of readCaptureFile(file)) {
    assert.equal(it.kind, 'packet', `unexpected ${it.kind} in ${file}`);
    if (it.kind === 'packet') out.push(it);
  }
  return out;
}

async function replay(name: string, conf: string, cap: Uint8Array, ...args: string[]) {
  const input = tmp.file(`${name}.pcap`, cap);
  const output = tmp.file(`${name}.out.pcap`);
  const confFile = conf.includes('\n') ? tmp.file(`${name}.conf`, conf) : join(FIXTURES, conf);
  const io = memoryIo();
  const status = await runReplay(['--config', confFile, ...args, input, output], io);
  return { status, stdout: io.stdout, stderr: io.stderr, output };
}

const ts = (at: number): bigint => T0_NS + BigInt(Math.round(at * 1e6)) * 1000n;

describe('tsvs replay', () => {
  it('writes the NAT-rewritten packets of both directions with the capture times', async () => {
    // Ethernet frames in, as tcpdump on the director's interface would capture them
    const r = await replay('nat', 'nat-tcp.conf', ethernetCapture(NAT_TCP));
    assert.equal(r.status, 0, r.stderr);
    const out = packets(r.output);
    // every packet but the stray ACK (#10, ACCEPT) is sent by the director
    const sent = NAT_TCP.filter((_, i) => i !== 9);
    assert.equal(out.length, sent.length);
    for (let i = 0; i < out.length; i++) {
      const p = parse(out[i].packet);
      const orig = sent[i].pkt;
      assert.equal(out[i].tsNs, ts(sent[i].at), `packet ${i + 1} time`);
      assert.ok(ipv4HeaderValid(out[i].packet), `packet ${i + 1} IPv4 header checksum`);
      assert.ok(l4ChecksumValid(out[i].packet), `packet ${i + 1} TCP checksum`);
      if (orig.dst === VIP) {
        // client → RIP: destination rewritten, TTL decremented (§6.1, §7.6)
        assert.equal(p.src, CIP);
        assert.equal(p.sport, orig.sport);
        assert.equal(p.dst, i === out.length - 1 ? RIP1 : RIP2);
        assert.equal(p.dport, 80);
        assert.equal(p.ttl, 63);
      } else {
        // RIP → client: source becomes VIP:vport, TTL left to the stack (§6.1)
        assert.equal(p.src, VIP);
        assert.equal(p.sport, 80);
        assert.equal(p.dst, CIP);
        assert.equal(p.dport, 40000);
        assert.equal(p.ttl, 64);
      }
      assert.equal(p.seq, orig.seq ?? 1000);
    }
    assert.match(r.stdout, /11 packets: 11 replayed \(8 in, 3 out\)/);
    assert.match(r.stdout, /verdicts: ACCEPT 1, FORWARD 10/);
    assert.match(r.stdout, /10 packets written/);

    const t = tshark(r.output, [
      'ip.src',
      'ip.dst',
      'tcp.srcport',
      'tcp.dstport',
      'ip.checksum.status',
      'tcp.checksum.status',
    ]);
    assert.equal(t.length, sent.length);
    for (const [i, f] of t.entries()) {
      assert.deepEqual(f.slice(4), ['1', '1'], `tshark: checksums of packet ${i + 1} good`);
      assert.equal(f[0], parse(out[i].packet).src);
      assert.equal(f[1], parse(out[i].packet).dst);
    }
  });

  it('fills in a UDP checksum the client left zero and keeps the others valid', async () => {
    const r = await replay('udp', 'udp.conf', rawCapture(UDP));
    assert.equal(r.status, 0, r.stderr);
    const out = packets(r.output);
    assert.equal(out.length, 4);
    for (const o of out) assert.ok(l4ChecksumValid(o.packet));
    const zeroIn = out[2].packet;
    assert.notEqual((zeroIn[26] << 8) | zeroIn[27], 0, 'a checksum was computed (§3)');
    const t = tshark(r.output, ['ip.dst', 'udp.checksum.status', 'ip.checksum.status']);
    assert.deepEqual(
      t.map((f) => f.join(' ')),
      [`${RIP2} 1 1`, `${CIP} 1 1`, `${RIP2} 1 1`, `${RIP1} 1 1`],
    );
  });

  it('sends direct-routing packets unchanged but for the TTL', async () => {
    const conf = `-A -t ${VIP}:80 -s rr\n-a -t ${VIP}:80 -r ${RIP1}:80 -g -w 1\n`;
    const steps: Step[] = [
      { at: 0, pkt: { src: CIP, dst: VIP, sport: 40000, dport: 80, flags: SYN } },
      { at: 0.1, pkt: { src: CIP, dst: VIP, sport: 40000, dport: 80, flags: ACK } },
    ];
    const r = await replay('dr', conf, rawCapture(steps));
    assert.equal(r.status, 0, r.stderr);
    const out = packets(r.output);
    assert.equal(out.length, 2);
    for (const o of out) {
      const p = parse(o.packet);
      assert.deepEqual([p.src, p.sport, p.dst, p.dport, p.ttl], [CIP, 40000, VIP, 80, 63]);
      assert.ok(ipv4HeaderValid(o.packet));
      assert.ok(l4ChecksumValid(o.packet));
    }
  });

  it('encapsulates tunnelled packets in IPIP towards the real server', async () => {
    const conf = `-A -t ${VIP}:80 -s rr\n-a -t ${VIP}:80 -r ${RIP1}:80 -i -w 1\n`;
    const steps: Step[] = [
      { at: 0, pkt: { src: CIP, dst: VIP, sport: 40000, dport: 80, flags: SYN } },
    ];
    const r = await replay('tun', conf, rawCapture(steps), '--tunnel-source', '10.0.2.1');
    assert.equal(r.status, 0, r.stderr);
    const [o] = packets(r.output);
    assert.equal(o.packet[9], 4, 'outer protocol IPIP');
    assert.ok(ipv4HeaderValid(o.packet));
    const outer = parse(o.packet);
    assert.deepEqual([outer.src, outer.dst], ['10.0.2.1', RIP1]);
    const inner = parse(o.packet.subarray(20));
    assert.deepEqual([inner.src, inner.dst, inner.dport, inner.ttl], [CIP, VIP, 80, 63]);
    assert.ok(l4ChecksumValid(o.packet.subarray(20)));
    const t = tshark(r.output, ['ip.proto', 'ip.dst', 'tcp.checksum.status']);
    assert.deepEqual(t[0], ['4,6', `${RIP1},${VIP}`, '1']);
  });

  it('writes the ICMP port unreachable built when no real server is available', async () => {
    const conf = `-A -t ${VIP}:80 -s rr\n-a -t ${VIP}:80 -r ${RIP1}:80 -m -w 0\n`;
    const steps: Step[] = [
      { at: 0, pkt: { src: CIP, dst: VIP, sport: 40000, dport: 80, flags: SYN } },
    ];
    const r = await replay('icmp', conf, rawCapture(steps));
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /verdicts: REPLY 1/);
    assert.match(r.stdout, /drop reasons: no-dest-available 1/);
    const t = tshark(r.output, [
      'ip.src',
      'ip.dst',
      'icmp.type',
      'icmp.code',
      'icmp.checksum.status',
      'ip.checksum.status',
    ]);
    assert.equal(t.length, 1);
    assert.deepEqual(t[0].slice(0, 4), [`${VIP},${CIP}`, `${CIP},${VIP}`, '3', '3']);
    assert.equal(t[0][4], '1');
  });

  it('completes the partial checksums of packets captured on the host that sent them', async () => {
    // TX offload: the sender's capture holds only the pseudo-header sum in the field
    const pkt = buildPacket({ src: CIP, dst: VIP, sport: 40000, dport: 80, flags: SYN });
    const l4len = pkt.length - 20;
    const pseudo = naiveSum([...pkt.subarray(12, 20), 0, 6, l4len >> 8, l4len & 255]);
    pkt[36] = pseudo >> 8;
    pkt[37] = pseudo & 255;
    assert.ok(!l4ChecksumValid(pkt));
    const r = await replay('partial', 'nat-tcp.conf', rawCapture([{ at: 0, pkt }]));
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /1 packets carried a partial \(TX offload\) checksum/);
    const [o] = packets(r.output);
    assert.equal(parse(o.packet).dst, RIP2);
    assert.ok(l4ChecksumValid(o.packet), 'checksum completed as the NIC would');
  });

  it('refuses to overwrite its input and needs a configuration', async () => {
    const input = tmp.file('same.pcap', rawCapture(UDP));
    const io = memoryIo();
    const conf = join(FIXTURES, 'udp.conf');
    assert.equal(await runReplay(['--config', conf, input, input], io), 2);
    assert.match(io.stderr, /must not be IN\.pcap/);
    const io2 = memoryIo();
    assert.equal(await runReplay([input], io2), 2);
    assert.match(io2.stderr, /--config FILE is required/);
    const io3 = memoryIo();
    const bad = tmp.file('bad.conf', `-A -t ${VIP}:80 -s nosuch\n`);
    assert.equal(await runReplay(['--config', bad, input], io3), 2);
    assert.match(io3.stderr, /bad\.conf:1: /);
  });
});
