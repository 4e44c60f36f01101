/**
 * Reader for classic pcap files (libpcap's format): a 24-byte file header, then records
 * of a 16-byte header and the captured bytes. Either byte order, microsecond or
 * nanosecond magic. A record header whose lengths are impossible is followed by a search
 * for the next plausible record, since classic pcap has nothing else to resynchronise on.
 */
import { type CaptureItem, decodeFrame, isSupportedLinkType, problem } from './record.js';

export const PCAP_MAGIC_US = 0xa1b2c3d4;
export const PCAP_MAGIC_NS = 0xa1b23c4d;

const FILE_HEADER_LEN = 24;
const RECORD_HEADER_LEN = 16;
const HDR_SNAPLEN = 16;
const HDR_LINKTYPE = 20;
const REC_TS_SEC = 0;
const REC_TS_FRAC = 4;
const REC_INCL_LEN = 8;
const REC_ORIG_LEN = 12;

// The link-type field's upper bits say whether frames end with an FCS and how long it is.
const LINKTYPE_MASK = 0xffff;
const FCS_PRESENT_BIT = 0x04000000;
const FCS_WORDS_SHIFT = 28;

/**
 * libpcap and Wireshark refuse records longer than this (or the file's snap length,
 * if larger): anything longer is a damaged header, not a packet.
 */
export const MAX_SANE_PACKET = 262144;
/** Original lengths beyond this are taken as damage (GSO super-packets stay far below). */
const MAX_SANE_ORIGINAL = 16 * 1024 * 1024;
/** How far past a damaged record the reader looks for the next good one. */
const RESYNC_WINDOW = 4 * 1024 * 1024;

interface Header {
  le: boolean;
  fracPerSec: number; // 1e6 or 1e9
  limit: number; // longest believable captured length
}

function recordLooksSane(
  dv: DataView,
  o: number,
  h: Header,
  prevSec: number | null,
  size: number,
): boolean {
  if (o + RECORD_HEADER_LEN > size) return false;
  const sec = dv.getUint32(o + REC_TS_SEC, h.le);
  const frac = dv.getUint32(o + REC_TS_FRAC, h.le);
  const incl = dv.getUint32(o + REC_INCL_LEN, h.le);
  const orig = dv.getUint32(o + REC_ORIG_LEN, h.le);
  if (frac >= h.fracPerSec || incl > h.limit || incl > orig || orig > MAX_SANE_ORIGINAL) {
    return false;
  }
  if (prevSec !== null && (sec + 3600 < prevSec || sec > prevSec + 86400)) return false;
  return o + RECORD_HEADER_LEN + incl <= size;
}

/** Finds the next offset after `from` where two records in a row (or one ending the file) look right. */
function resync(dv: DataView, from: number, h: Header, prevSec: number | null): number {
  const size = dv.byteLength;
  const stop = Math.min(size - RECORD_HEADER_LEN, from + RESYNC_WINDOW);
  for (let o = from; o <= stop; o++) {
    if (!recordLooksSane(dv, o, h, prevSec, size)) continue;
    const next = o + RECORD_HEADER_LEN + dv.getUint32(o + REC_INCL_LEN, h.le);
    if (next === size) return o;
    const sec = dv.getUint32(o + REC_TS_SEC, h.le);
    if (recordLooksSane(dv, next, h, sec, size)) return o;
  }
  return -1;
}

/** Reads a classic pcap file whose magic the caller has recognised. */
export function* readPcap(bytes: Uint8Array, le: boolean, nano: boolean): Generator<CaptureItem> {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const size = bytes.byteLength;
  if (size < FILE_HEADER_LEN) {
    yield problem(1, 0, `truncated pcap file header: ${size} of ${FILE_HEADER_LEN} bytes`, true);
    return;
  }
  const snaplen = dv.getUint32(HDR_SNAPLEN, le);
  const linkField = dv.getUint32(HDR_LINKTYPE, le);
  const linkType = linkField & LINKTYPE_MASK;
  const fcsLength = linkField & FCS_PRESENT_BIT ? (linkField >>> FCS_WORDS_SHIFT) * 2 : 0;
  const h: Header = {
    le,
    fracPerSec: nano ? 1e9 : 1e6,
    limit: Math.max(snaplen, MAX_SANE_PACKET),
  };
  const fracToNs = nano ? 1n : 1000n;
  if (!isSupportedLinkType(linkType)) {
    yield problem(1, HDR_LINKTYPE, `unsupported link type ${linkType}: its packets are skipped`);
  }

  let off = FILE_HEADER_LEN;
  let packetNumber = 0;
  let prevSec: number | null = null;
  while (off < size) {
    packetNumber++;
    if (off + RECORD_HEADER_LEN > size) {
      yield problem(
        packetNumber,
        off,
        `truncated record header: ${size - off} of ${RECORD_HEADER_LEN} bytes at the end of the file`,
        true,
      );
      return;
    }
    const sec = dv.getUint32(off + REC_TS_SEC, le);
    const frac = dv.getUint32(off + REC_TS_FRAC, le);
    const incl = dv.getUint32(off + REC_INCL_LEN, le);
    let orig = dv.getUint32(off + REC_ORIG_LEN, le);
    const data = off + RECORD_HEADER_LEN;
    if (incl > h.limit) {
      const next = resync(dv, off + 1, h, prevSec);
      const where =
        next < 0 ? 'no further record could be found' : `reading resumes at offset ${next}`;
      yield problem(
        packetNumber,
        off,
        `captured length ${incl} is larger than the snap length ${snaplen}: ` +
          `damaged record header, ${where}`,
        next < 0,
      );
      if (next < 0) return;
      off = next;
      continue;
    }
    if (data + incl > size) {
      yield problem(
        packetNumber,
        off,
        `truncated record: ${size - data} of ${incl} captured bytes at the end of the file`,
        true,
      );
      return;
    }
    if (orig < incl) {
      yield problem(packetNumber, off, `original length ${orig} is less than captured ${incl}`);
      orig = incl;
    }
    if (frac >= h.fracPerSec) {
      yield problem(
        packetNumber,
        off,
        `timestamp fraction ${frac} is not below ${h.fracPerSec}: time is approximate`,
      );
    }
    yield decodeFrame(bytes, {
      packetNumber,
      tsNs: BigInt(sec) * 1_000_000_000n + BigInt(frac) * fracToNs,
      hasTimestamp: true,
      dataOffset: data,
      capturedLength: incl,
      originalLength: orig,
      linkType,
      fcsLength,
      interfaceIndex: 0,
      section: 0,
      fileOffset: off,
    });
    prevSec = sec;
    off = data + incl;
  }
}
