/**
 * Shared pieces of the replay tests: captures built by hand with PcapWriter from
 * packets made by the independent test builder, and an in-memory ReplayIo.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LINKTYPE_ETHERNET, LINKTYPE_RAW, PcapWriter } from '../../src/dataplane/pcap.js';
import type { ReplayIo } from '../../src/replay/cli.js';
import { buildPacket, type PacketSpec } from '../helpers/packets.js';

/** Capture start: 2024-01-01T00:00:00Z, so times in the trace are plain offsets. */
export const T0_NS = 1_704_067_200_000_000_000n;

export interface Step {
  /** Seconds after T0. */
  at: number;
  pkt: PacketSpec;
}

/** A capture (LINKTYPE_RAW) of the given packets at T0 + at. */
export function rawCapture(steps: readonly Step[]): Uint8Array {
  const w = PcapWriter.toMemory({ linkType: LINKTYPE_RAW });
  for (const s of steps)
    w.write(T0_NS + BigInt(Math.round(s.at * 1e6)) * 1000n, buildPacket(s.pkt));
  return w.bytes();
}

/** The same packets in Ethernet frames (as tcpdump on an interface writes them). */
export function ethernetCapture(steps: readonly Step[]): Uint8Array {
  const w = PcapWriter.toMemory({ linkType: LINKTYPE_ETHERNET });
  for (const s of steps) {
    const ip = buildPacket(s.pkt);
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
