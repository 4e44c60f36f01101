/**
 * Replay throughput on this machine, printed (never asserted): a generated capture of
 * 1,000,000 packets — 100,000 NAT TCP conversations of 10 packets (handshake,
 * request, two response segments, FIN both ways), one every 10 ms so connections
 * expire while the replay runs — is read, then replayed through the engine without
 * output, then replayed writing out.pcap. The pcap read rate alone is the floor the
 * replay is compared with. The last line is one JSON object for tracking.
 *
 * Run: npx tsc -p . && node dist/bench/replay.js [packets]
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Engine, type ServiceKey } from '../src/engine/engine.js';
import { LINKTYPE_RAW, PcapWriter, readCaptureFile } from '../src/pcap/pcap.js';
import { Replayer } from '../src/replay/replay.js';
import { PacketView } from '../src/wire/packet.js';
import { ipv4HeaderChecksum } from '../src/wire/checksum.js';

const VIP = 0x0a000364; // 10.0.3.100
const RIPS = [0x0a00020b, 0x0a00020c, 0x0a00020d, 0x0a00020e];
const K: ServiceKey = { af: 4, protocol: 6, addr: '10.0.3.100', port: 80 };
const PER_CONV = 10;
const SYN = 0x02;
const ACK = 0x10;
const FIN = 0x01;
const PSH = 0x08;
const T0_NS = 1_704_067_200_000_000_000n;

function engine(): Engine {
  const e = new Engine({ random: () => 0.5 });
  e.addService(K, { scheduler: 'rr' });
  for (const r of RIPS) {
    const a = `${r >>> 24}.${(r >>> 16) & 255}.${(r >>> 8) & 255}.${r & 255}`;
    e.addDest(K, { addr: a, port: 80, fwd: 'masq' });
  }
  return e;
}

const pv = new PacketView();

function packet(
  src: number,
  dst: number,
  sport: number,
  dport: number,
  flags: number,
  seq: number,
  ack: number,
  payload: number,
): Uint8Array {
  const b = new Uint8Array(40 + payload);
  const dv = new DataView(b.buffer);
  b[0] = 0x45;
  dv.setUint16(2, b.length);
  b[6] = 0x40;
  b[8] = 64;
  b[9] = 6;
  dv.setUint32(12, src);
  dv.setUint32(16, dst);
  dv.setUint16(20, sport);
  dv.setUint16(22, dport);
  dv.setUint32(24, seq);
  dv.setUint32(28, ack);
  b[32] = 5 << 4;
  b[33] = flags;
  dv.setUint16(34, 65535);
  for (let i = 40; i < b.length; i++) b[i] = i & 255;
  ipv4HeaderChecksum(b, 0, 20);
  pv.parse(b, 0, b.length);
  pv.l4ChecksumFill();
  return b;
}

/** Writes the generated capture; returns the number of packets. */
function generate(file: string, packets: number): number {
  const conversations = Math.ceil(packets / PER_CONV);
  const w = PcapWriter.toFile(file, { linkType: LINKTYPE_RAW, bufferSize: 1 << 20 });
  if (!w.ok) throw new Error(w.message);
  let n = 0;
  for (let i = 0; i < conversations && n < packets; i++) {
    const cip = (0x0a010000 + (i >>> 14) * 256 + 2) >>> 0; // 10.1.x.2
    const cport = 1024 + (i & 0x3fff);
    // rr starts at the most recently added real server and walks the list in order
    const rip = RIPS[RIPS.length - 1 - (i % RIPS.length)];
    const t = T0_NS + BigInt(i) * 10_000_000n;
    const us = (k: number): bigint => t + BigInt(k) * 100_000n;
    const seq = [
      packet(cip, VIP, cport, 80, SYN, 1, 0, 0),
      packet(rip, cip, 80, cport, SYN | ACK, 9, 2, 0),
      packet(cip, VIP, cport, 80, ACK, 2, 10, 0),
      packet(cip, VIP, cport, 80, PSH | ACK, 2, 10, 100),
      packet(rip, cip, 80, cport, ACK, 10, 102, 400),
      packet(rip, cip, 80, cport, PSH | ACK, 410, 102, 200),
      packet(cip, VIP, cport, 80, ACK, 102, 610, 0),
      packet(cip, VIP, cport, 80, FIN | ACK, 102, 610, 0),
      packet(rip, cip, 80, cport, FIN | ACK, 610, 103, 0),
      packet(cip, VIP, cport, 80, ACK, 103, 611, 0),
    ];
    for (let k = 0; k < seq.length && n < packets; k++, n++) w.writer.write(us(k), seq[k]);
  }
  const err = w.writer.close();
  if (err !== null) throw new Error(err);
  return n;
}

function rate(n: number, ns: bigint): number {
  return n / (Number(ns) / 1e9);
}

function fmt(x: number): string {
  return Math.round(x).toLocaleString('en-US');
}

function main(): void {
  const packets = Number(process.argv[2] ?? 1_000_000);
  const dir = mkdtempSync(join(tmpdir(), 'tsvs-bench-replay-'));
  try {
    const file = join(dir, 'in.pcap');
    const out = join(dir, 'out.pcap');
    let t = process.hrtime.bigint();
    const n = generate(file, packets);
    const genNs = process.hrtime.bigint() - t;
    const mb = statSync(file).size / 1e6;
    console.log(
      `replay bench: ${fmt(n)} packets (${fmt(n / PER_CONV)} NAT TCP conversations, rr over ` +
        `${RIPS.length} real servers), ${mb.toFixed(1)} MB capture, generated in ${(Number(genNs) / 1e9).toFixed(1)} s`,
    );

    // pcap read alone: every item, touching each packet's length
    t = process.hrtime.bigint();
    let seen = 0;
    let bytes = 0;
    for (const it of readCaptureFile(file)) {
      if (it.kind === 'packet') {
        seen++;
        bytes += it.packet.length;
      }
    }
    const readNs = process.hrtime.bigint() - t;
    if (seen !== n) throw new Error(`read ${seen} of ${n} packets`);
    const readRate = rate(n, readNs);
    console.log(
      `pcap read alone:        ${fmt(readRate)} packets/s (${(bytes / 1e6).toFixed(0)} MB of IP)`,
    );

    // replay without output
    let e = engine();
    let rep = new Replayer(e);
    t = process.hrtime.bigint();
    rep.run(readCaptureFile(file));
    const repNs = process.hrtime.bigint() - t;
    const repRate = rate(n, repNs);
    const st = rep.stats;
    console.log(
      `replay, no output:      ${fmt(repRate)} packets/s (${(repRate / readRate).toFixed(2)} of the read rate; ` +
        `FORWARD ${fmt(st.verdicts[2])}, ACCEPT ${fmt(st.verdicts[0])}, ${fmt(e.conns.count)} conns live at the end)`,
    );

    // replay writing out.pcap
    e = engine();
    const w = PcapWriter.toFile(out, { linkType: LINKTYPE_RAW, bufferSize: 1 << 20 });
    if (!w.ok) throw new Error(w.message);
    rep = new Replayer(e, { writer: w.writer });
    t = process.hrtime.bigint();
    rep.run(readCaptureFile(file));
    const err = w.writer.close();
    const outNs = process.hrtime.bigint() - t;
    if (err !== null) throw new Error(err);
    const outRate = rate(n, outNs);
    console.log(
      `replay to out.pcap:     ${fmt(outRate)} packets/s (${fmt(rep.stats.written)} written, ` +
        `${(statSync(out).size / 1e6).toFixed(1)} MB)`,
    );
    console.log(
      JSON.stringify({
        bench: 'replay',
        packets: n,
        readPps: Math.round(readRate),
        replayPps: Math.round(repRate),
        replayWritePps: Math.round(outRate),
      }),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main();
