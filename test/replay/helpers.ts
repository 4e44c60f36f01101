/**
 * Shared pieces of the replay tests: captures built by hand with PcapWriter from
 * packets made by the independent test builder, and an in-memory ReplayIo.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LINKTYPE_ETHERNET, LINKTYPE_RAW, PcapWriter } from '../../src/pcap/pcap.js';
import type { ReplayIo } from '../../src/replay/cli.js';
import { buildPacket, ipBytes, naiveSum, type PacketSpec } from '../helpers/packets.js';

/** Capture start: 2024-01-01T00:00:00Z, so times in the trace are plain offsets. */
export const T0_NS = 1_704_067_200_000_000_000n;

export interface Step {
  /** Seconds after T0. */
  at: number;
  /** A packet for the test builder, or the bytes of one built by hand. */
  pkt: PacketSpec | Uint8Array;
}

/** A step built by the test builder (its fields can be read back). */
export interface SpecStep extends Step {
  pkt: PacketSpec;
}

function bytesOf(p: PacketSpec | Uint8Array): Uint8Array {
  return p instanceof Uint8Array ? p : buildPacket(p);
}

/**
 * An IPv4 ICMP error from `src` to `dst` quoting the first 28 bytes of `quoted`
 * (IP header and 8 bytes of L4), with a correct ICMP checksum.
 */
export function icmpError(
  src: string,
  dst: string,
  type: number,
  code: number,
  quoted: Uint8Array,
): Uint8Array {
  const q = quoted.subarray(0, 28);
  const b = new Uint8Array(20 + 8 + q.length);
  b[0] = 0x45;
  b[2] = b.length >> 8;
  b[3] = b.length & 255;
  b[8] = 64;
  b[9] = 1;
  b.set(ipBytes(src), 12);
  b.set(ipBytes(dst), 16);
  const h = 0xffff - naiveSum(b, 0, 20);
  b[10] = h >> 8;
  b[11] = h & 255;
  b[20] = type;
  b[21] = code;
  b.set(q, 28);
  const c = 0xffff - naiveSum(b, 20, b.length);
  b[22] = c >> 8;
  b[23] = c & 255;
  return b;
}

/** A capture (LINKTYPE_RAW) of the given packets at T0 + at. */
export function rawCapture(steps: readonly Step[]): Uint8Array {
  const w = PcapWriter.toMemory({ linkType: LINKTYPE_RAW });
  for (const s of steps) w.write(T0_NS + BigInt(Math.round(s.at * 1e6)) * 1000n, bytesOf(s.pkt));
  return w.bytes();
}

/** The same packets in Ethernet frames (as tcpdump on an interface writes them). */
export function ethernetCapture(steps: readonly Step[]): Uint8Array {
  const w = PcapWriter.toMemory({ linkType: LINKTYPE_ETHERNET });
  for (const s of steps) {
    const ip = bytesOf(s.pkt);
    const f = new Uint8Array(14 + ip.length);
    f.set([2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1], 0);
    f[12] = ip[0] >> 4 === 6 ? 0x86 : 0x08;
    f[13] = ip[0] >> 4 === 6 ? 0xdd : 0x00;
    f.set(ip, 14);
    w.write(T0_NS + BigInt(Math.round(s.at * 1e6)) * 1000n, f);
  }
  return w.bytes();
}

/** A temporary directory, removed by `done()` unless KEEP=1. */
export function tempDir(prefix: string): {
  dir: string;
  file(name: string, data?: Uint8Array | string): string;
  done(): void;
} {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return {
    dir,
    file(name, data) {
      const p = join(dir, name);
      if (data !== undefined) writeFileSync(p, data);
      return p;
    },
    done() {
      if (process.env.KEEP !== '1') rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** ReplayIo that keeps what is written. */
export function memoryIo(): ReplayIo & { stdout: string; stderr: string } {
  const io = {
    stdout: '',
    stderr: '',
    out(s: string) {
      io.stdout += s;
    },
    err(s: string) {
      io.stderr += s;
    },
    drain: () => Promise.resolve(),
    end: () => Promise.resolve(),
  };
  return io;
}
