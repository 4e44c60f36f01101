/**
 * Reader for pcapng files: a sequence of sections, each a Section Header Block (which
 * fixes the byte order) followed by Interface Description Blocks and packet blocks
 * (Enhanced, Simple, and the obsolete Packet Block). Other block types are skipped.
 * Every block carries its length at both ends, so after a damaged length the reader
 * can find the next block whose two lengths agree and carry on from there.
 */
import { type CaptureItem, decodeFrame, isSupportedLinkType, problem } from './record.js';

export const BT_SHB = 0x0a0d0d0a;
const BT_IDB = 0x00000001;
const BT_PB = 0x00000002; // obsolete Packet Block
const BT_SPB = 0x00000003;
const BT_NRB = 0x00000004;
const BT_ISB = 0x00000005;
const BT_EPB = 0x00000006;
const BT_JOURNAL = 0x00000009; // systemd journal export
const BT_DSB = 0x0000000a;
const BT_CUSTOM = 0x00000bad;
const BT_CUSTOM_NOCOPY = 0x40000bad;
const KNOWN_BLOCKS: readonly number[] = [
  BT_SHB,
  BT_IDB,
  BT_PB,
  BT_SPB,
  BT_NRB,
  BT_ISB,
  BT_EPB,
  BT_JOURNAL,
  BT_DSB,
  BT_CUSTOM,
  BT_CUSTOM_NOCOPY,
];

const BYTE_ORDER_MAGIC = 0x1a2b3c4d;
const BLOCK_MIN_LEN = 12; // type, length, trailing length
const BLOCK_BODY = 8;
const SHB_MIN_LEN = 28;
const SHB_MAJOR = 12;
const IDB_MIN_LEN = 20;
const EPB_MIN_LEN = 32;
const PB_MIN_LEN = 32;
const SPB_MIN_LEN = 16;

const OPT_END = 0;
const IF_FCSLEN = 13;
const IF_TSRESOL = 9;
const IF_TSOFFSET = 14;
const DEFAULT_TSRESOL = 6; // microseconds

interface Iface {
  linkType: number;
  snaplen: number;
  /** Timestamp units to nanoseconds: ns = ts * mul / div. */
  mul: bigint;
  div: bigint;
  offsetNs: bigint;
  fcsLength: number;
}

function tsUnits(resol: number): { mul: bigint; div: bigint } {
  const exp = resol & 0x7f;
  if (resol & 0x80) return { mul: 1_000_000_000n, div: 1n << BigInt(exp) };
  if (exp <= 9) return { mul: 10n ** BigInt(9 - exp), div: 1n };
  return { mul: 1n, div: 10n ** BigInt(exp - 9) };
}

function align4(n: number): number {
  return (n + 3) & ~3;
}

/** Reads a pcapng file; the caller has seen the Section Header Block type at offset 0. */
export function* readPcapng(bytes: Uint8Array): Generator<CaptureItem> {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const size = bytes.byteLength;
  let le = true;
  let section = -1;
  let ifaces: Iface[] = [];
  let packetNumber = 0;
  let lastTsNs = 0n;

  /** A block starting at o whose leading and trailing lengths agree and fit in the file. */
  const blockLength = (o: number, littleEndian: boolean): number => {
    if (o + BLOCK_MIN_LEN > size) return -1;
    const len = dv.getUint32(o + 4, littleEndian);
    if (len < BLOCK_MIN_LEN || len % 4 !== 0 || o + len > size) return -1;
    return dv.getUint32(o + len - 4, littleEndian) === len ? len : -1;
  };
  const shbOrder = (o: number): boolean | null => {
    if (o + BLOCK_MIN_LEN > size) return null;
    if (dv.getUint32(o + BLOCK_BODY, true) === BYTE_ORDER_MAGIC) return true;
    if (dv.getUint32(o + BLOCK_BODY, false) === BYTE_ORDER_MAGIC) return false;
    return null;
  };
  const resync = (from: number): number => {
    for (let o = from; o + BLOCK_MIN_LEN <= size; o += 4) {
      const t = dv.getUint32(o, le);
      if (t === BT_SHB) {
        const order = shbOrder(o);
        if (order !== null && blockLength(o, order) > 0) return o;
      } else if (KNOWN_BLOCKS.includes(t) && blockLength(o, le) > 0) {
        return o;
      }
    }
    return -1;
  };

  let off = 0;
  while (off < size) {
    if (off + BLOCK_MIN_LEN > size) {
      yield problem(
        packetNumber + 1,
        off,
        `truncated block header: ${size - off} bytes left at the end of the file`,
        true,
      );
      return;
    }
    const type = dv.getUint32(off, le);
    if (type === BT_SHB) {
      const order = shbOrder(off);
      if (order === null) {
        yield problem(packetNumber + 1, off, 'section header with no byte-order magic', true);
        return;
      }
      le = order;
    }
    const isPacketBlock = type === BT_EPB || type === BT_SPB || type === BT_PB;
    // Wireshark numbers these records as frames too; counting them keeps packet numbers
    // equal to its frame numbers, though they yield nothing here.
    const isOtherRecord = type === BT_JOURNAL || type === BT_CUSTOM || type === BT_CUSTOM_NOCOPY;
    // a packet block is packet `number`; any other block reports the next packet's number
    const number = packetNumber + 1;
    const len = blockLength(off, le);
    if (len < 0) {
      const stated = dv.getUint32(off + 4, le);
      if (isPacketBlock || isOtherRecord) packetNumber++;
      let what: string;
      if (stated < BLOCK_MIN_LEN || stated % 4 !== 0) what = `bad block length ${stated}`;
      else if (off + stated > size) {
        what = `block of ${stated} bytes runs past the end of the file (${size - off} left)`;
      } else what = `block length ${stated} does not match its trailing copy`;
      const next = resync(off + 4);
      const where = next < 0 ? 'nothing after it can be read' : `reading resumes at offset ${next}`;
      yield problem(number, off, `${what}: ${where}`, next < 0);
      if (next < 0) return;
      off = next;
      continue;
    }
    const body = off + BLOCK_BODY;
    const bodyEnd = off + len - 4;

    switch (type) {
      case BT_SHB: {
        if (len < SHB_MIN_LEN) {
          yield problem(number, off, `section header block too short (${len} bytes)`);
          break;
        }
        section++;
        ifaces = [];
        const major = dv.getUint16(off + SHB_MAJOR, le);
        if (major !== 1) {
          yield problem(number, off, `pcapng version ${major} is not supported`, true);
          return;
        }
        break;
      }
      case BT_IDB: {
        if (len < IDB_MIN_LEN) {
          yield problem(number, off, `interface description block too short (${len} bytes)`);
          // keep interface numbering right: later packets name interfaces by position
          ifaces.push({
            linkType: -1,
            snaplen: 0,
            mul: 1000n,
            div: 1n,
            offsetNs: 0n,
            fcsLength: 0,
          });
          break;
        }
        const linkType = dv.getUint16(body, le);
        const snaplen = dv.getUint32(body + 4, le);
        let resol = DEFAULT_TSRESOL;
        let offsetNs = 0n;
        let fcsLength = 0;
        for (let o = body + 8; o + 4 <= bodyEnd;) {
          const code = dv.getUint16(o, le);
          const olen = dv.getUint16(o + 2, le);
          const v = o + 4;
          if (code === OPT_END || v + olen > bodyEnd) break;
          if (code === IF_TSRESOL && olen >= 1) resol = bytes[v];
          else if (code === IF_TSOFFSET && olen >= 8)
            offsetNs = dv.getBigInt64(v, le) * 1_000_000_000n;
          else if (code === IF_FCSLEN && olen >= 1) fcsLength = bytes[v];
          o = v + align4(olen);
        }
        if (!isSupportedLinkType(linkType)) {
          yield problem(
            number,
            off,
            `interface ${ifaces.length}: unsupported link type ${linkType}: its packets are skipped`,
          );
        }
        ifaces.push({ linkType, snaplen, ...tsUnits(resol), offsetNs, fcsLength });
        break;
      }
      case BT_EPB:
      case BT_PB: {
        packetNumber++;
        const epb = type === BT_EPB;
        if (len < (epb ? EPB_MIN_LEN : PB_MIN_LEN)) {
          yield problem(number, off, `packet block too short (${len} bytes)`);
          break;
        }
        const ifIndex = epb ? dv.getUint32(body, le) : dv.getUint16(body, le);
        const tsHigh = dv.getUint32(body + 4, le);
        const tsLow = dv.getUint32(body + 8, le);
        const incl = dv.getUint32(body + 12, le);
        let orig = dv.getUint32(body + 16, le);
        const data = body + 20;
        if (data + incl > bodyEnd) {
          yield problem(
            number,
            off,
            `captured length ${incl} does not fit in its ${len}-byte block: packet skipped`,
          );
          break;
        }
        const iface = ifaces[ifIndex];
        if (iface === undefined) {
          yield problem(number, off, `packet names interface ${ifIndex}, which was not described`);
          break;
        }
        if (orig < incl) {
          yield problem(number, off, `original length ${orig} is less than captured ${incl}`);
          orig = incl;
        }
        const ts = (BigInt(tsHigh) << 32n) | BigInt(tsLow);
        lastTsNs = (ts * iface.mul) / iface.div + iface.offsetNs;
        yield decodeFrame(bytes, {
          packetNumber,
          tsNs: lastTsNs,
          hasTimestamp: true,
          dataOffset: data,
          capturedLength: incl,
          originalLength: orig,
          linkType: iface.linkType,
          fcsLength: iface.fcsLength,
          interfaceIndex: ifIndex,
          section,
          fileOffset: off,
        });
        break;
      }
      case BT_SPB: {
        packetNumber++;
        const iface = ifaces[0];
        if (iface === undefined) {
          yield problem(number, off, 'simple packet block before any interface was described');
          break;
        }
        if (len < SPB_MIN_LEN) {
          yield problem(number, off, `simple packet block too short (${len} bytes)`);
          break;
        }
        const orig = dv.getUint32(body, le);
        const room = bodyEnd - (body + 4);
        let incl = Math.min(orig, room);
        if (iface.snaplen > 0) incl = Math.min(incl, iface.snaplen);
        yield decodeFrame(bytes, {
          packetNumber,
          tsNs: lastTsNs,
          hasTimestamp: false,
          dataOffset: body + 4,
          capturedLength: incl,
          originalLength: orig,
          linkType: iface.linkType,
          fcsLength: iface.fcsLength,
          interfaceIndex: 0,
          section,
          fileOffset: off,
        });
        break;
      }
      default:
        if (isOtherRecord) packetNumber++;
        break; // statistics, name resolution, secrets, journal, custom and unknown blocks
    }
    off += len;
  }
}
