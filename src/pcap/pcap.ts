/**
 * Capture files for `tsvs replay` and `tsvs trace`: read pcap and pcapng captures into
 * IP packets with their capture times, and write classic pcap files.
 *
 * Reading never throws on bad input: damage is reported as a {@link CaptureProblem} in
 * the stream, at the packet number where it was found, and reading goes on wherever the
 * format allows it. Packets are views into the file's buffer, so a whole capture is held
 * in memory once and nothing is copied per packet.
 */
import { readFileSync } from 'node:fs';
import { PCAP_MAGIC_NS, PCAP_MAGIC_US, readPcap } from './classic.js';
import { BT_SHB, readPcapng } from './ng.js';
import { type CaptureItem, problem } from './record.js';

export {
  type CaptureFrameInfo,
  type CaptureItem,
  type CaptureProblem,
  type CaptureRecord,
  type CaptureSkipped,
  isSupportedLinkType,
  LINKTYPE_ETHERNET,
  LINKTYPE_IPV4,
  LINKTYPE_IPV6,
  LINKTYPE_LINUX_SLL,
  LINKTYPE_LINUX_SLL2,
  LINKTYPE_LOOP,
  LINKTYPE_NULL,
  LINKTYPE_RAW,
  nsToMs,
} from './record.js';
export { PCAP_MAGIC_NS, PCAP_MAGIC_US } from './classic.js';
export {
  type PcapResolution,
  PcapMemoryWriter,
  PcapWriter,
  type PcapWriterOpen,
  type PcapWriterOptions,
} from './writer.js';

const GZIP_MAGIC_0 = 0x1f;
const GZIP_MAGIC_1 = 0x8b;

function hexBytes(b: Uint8Array, n: number): string {
  return Array.from(b.subarray(0, n), (x) => x.toString(16).padStart(2, '0')).join(' ');
}

function* readChecked(bytes: Uint8Array): Generator<CaptureItem> {
  if (bytes.byteLength < 4) {
    yield problem(1, 0, `not a capture file: only ${bytes.byteLength} bytes`, true);
    return;
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magicLe = dv.getUint32(0, true);
  const magicBe = dv.getUint32(0, false);
  if (magicBe === BT_SHB) yield* readPcapng(bytes);
  else if (magicLe === PCAP_MAGIC_US) yield* readPcap(bytes, true, false);
  else if (magicBe === PCAP_MAGIC_US) yield* readPcap(bytes, false, false);
  else if (magicLe === PCAP_MAGIC_NS) yield* readPcap(bytes, true, true);
  else if (magicBe === PCAP_MAGIC_NS) yield* readPcap(bytes, false, true);
  else if (bytes[0] === GZIP_MAGIC_0 && bytes[1] === GZIP_MAGIC_1) {
    yield problem(1, 0, 'not a capture file: it is gzip-compressed (gunzip it first)', true);
  } else {
    yield problem(1, 0, `not a pcap or pcapng file: it starts with ${hexBytes(bytes, 4)}`, true);
  }
}

/**
 * Reads a capture held in memory, pcap or pcapng, lazily and in file order. Yields an
 * item per packet record (an IP packet, or a frame skipped with its reason) and a
 * problem wherever the file is damaged. Never throws.
 */
export function* readCapture(bytes: Uint8Array): Generator<CaptureItem, void, undefined> {
  let last = 0;
  try {
    for (const item of readChecked(bytes)) {
      last = item.packetNumber;
      yield item;
    }
  } catch (err) {
    // The readers check every length before reading; this is a last line of defence so
    // a reader bug shows up as a problem in the output rather than a crash of a replay.
    yield problem(last, 0, `internal error while reading the capture: ${String(err)}`, true);
  }
}

/**
 * Reads a capture file (whole, into memory) and yields its items as {@link readCapture}
 * does. A file that cannot be read yields one fatal problem. Never throws.
 */
export function* readCaptureFile(path: string): Generator<CaptureItem, void, undefined> {
  let bytes: Uint8Array;
  try {
    const buf = readFileSync(path);
    // a plain Uint8Array view, so packets are the same type whatever the source
    bytes = new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    yield problem(1, 0, `cannot read ${path}: ${msg}`, true);
    return;
  }
  yield* readCapture(bytes);
}
