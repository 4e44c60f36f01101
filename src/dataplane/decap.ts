/**
 * `tsvs decap`: a user-space IPIP decapsulator for real servers of TUN services on
 * hosts without the `ipip` (or `sit`/`ip6_tunnel`) module.
 *
 * It receives tunnelled packets on raw sockets — IPv4 outer with protocol 4 (IPv4
 * inner) or 41 (IPv6 inner), and optionally the same over IPv6 outer — strips the
 * outer header and writes the inner packet into a TUN device. The kernel then sees
 * the client→VIP packet arrive on that device, delivers it to the local socket (the
 * VIP must be a local address, usually on `lo` with arp_ignore=1/arp_announce=2) and
 * replies directly to the client, as with the kernel's tunl0.
 *
 * The batch is rewritten in place: one read per wake-up fills the shared buffer, the
 * metadata is pointed past the outer headers, and one batched write hands every
 * inner packet to the TUN. No allocation per packet.
 *
 * @module
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { read16 } from '../wire/bytes.js';
import { csumReplace16 } from '../wire/checksum.js';
import {
  IPV4_HLEN,
  IPV4_VER_IHL,
  ipv4Checksum,
  ipv4Ihl,
  ipv4TotalLength,
  ipv4Tos,
  ipv4Version,
  setIpv4Checksum,
  setIpv4Tos,
} from '../wire/ipv4.js';
import {
  IPV6_HLEN,
  ipv6PayloadLength,
  ipv6TrafficClass,
  setIpv6TrafficClass,
} from '../wire/ipv6.js';
import { allocBatch, openRawSocket, openTun, type Batch, type PacketChannel } from './native.js';
import {
  IPPROTO_IPIP,
  IPPROTO_IPV6,
  M_ERR,
  M_LEN,
  M_OFF,
  M_RAW_ADDR,
  META_STRIDE,
} from './native-meta.js';
import { withNetns } from './native-if.js';

/** Options of {@link runDecap}. */
export interface DecapOptions {
  /**
   * Network namespace (name under /run/netns or a path) to work in; default: the
   * current one. The TUN device and the sockets are created there.
   */
  netns?: string;
  /** TUN device name; `%d` is replaced by the kernel (default `tsvsdecap%d`). */
  tunName?: string;
  /** Also accept tunnels over IPv6 outer headers (default true). */
  ipv6Outer?: boolean;
  /**
   * Accept tunnelled packets only from these outer source addresses (the
   * directors); default: from anyone. Without it any host that can reach this one
   * can inject packets with arbitrary inner source addresses, as with tunl0.
   */
  allowedSources?: string[];
  /**
   * Bring the TUN device up and set its rp_filter to 0 (default true). Strict
   * reverse-path filtering would drop the inner packets, whose client source is
   * routed via another interface.
   */
  configure?: boolean;
  /** Packets per batch (default 64). */
  batchSize?: number;
  /** Called for warnings (e.g. net.ipv4.conf.all.rp_filter=1) and poll errors. */
  onWarning?: (message: string) => void;
}

/** Counters of a running decapsulator. */
export interface DecapStats {
  /** Tunnelled packets read from the raw sockets. */
  received: number;
  /** Inner packets written to the TUN device. */
  delivered: number;
  /** Malformed outer/inner packets, or inner ECN not-ECT under an outer CE (RFC 6040). */
  malformed: number;
  /** Packets from a source not in {@link DecapOptions.allowedSources}. */
  refused: number;
  /** Inner packets the TUN device did not take (would block, or refused). */
  writeErrors: number;
}

/** A running decapsulator. */
export interface DecapHandle {
  /** Name of the TUN device the inner packets are delivered through. */
  readonly tunName: string;
  /** Live counters. */
  readonly stats: Readonly<DecapStats>;
  /** Stops reading, closes the sockets and removes the TUN device; idempotent. */
  close(): void;
}

/** Parses an IPv4 or IPv6 literal into 4 or 16 bytes; throws on anything else. */
function parseAddr(s: string): Uint8Array {
  if (/^\d+\.\d+\.\d+\.\d+$/.test(s)) {
    const parts = s.split('.').map(Number);
    if (parts.some((p) => p > 255)) throw new Error(`decap: bad IPv4 address ${s}`);
    return Uint8Array.from(parts);
  }
  const halves = s.split('::');
  if (halves.length > 2 || !/^[0-9a-fA-F:]+$/.test(s)) throw new Error(`decap: bad address ${s}`);
  const head = halves[0] ? halves[0].split(':') : [];
  const tail = halves.length === 2 && halves[1] ? halves[1].split(':') : [];
  const fill = 8 - head.length - tail.length;
  if (fill < 0 || (halves.length === 1 && fill !== 0))
    throw new Error(`decap: bad IPv6 address ${s}`);
  const groups = [...head, ...new Array<string>(fill).fill('0'), ...tail];
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    const v = parseInt(g, 16);
    out[2 * i] = v >> 8;
    out[2 * i + 1] = v & 0xff;
  });
  return out;
}

/** Big-endian 32-bit words of an address, as the shim reports sources in metadata. */
function addrWords(b: Uint8Array): number[] {
  const w: number[] = [];
  for (let i = 0; i < b.length; i += 4)
    w.push((b[i] << 24) | (b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3] | 0);
  return w;
}

const ECN_MASK = 3;
const ECN_CE = 3;

/**
 * Applies RFC 6040 decapsulation to an inner packet at `off`: outer CE marks an
 * ECN-capable inner packet CE; an outer CE over a not-ECT inner packet means drop.
 * Returns false to drop.
 */
function ecnDecapsulate(buf: Uint8Array, off: number, outerEcn: number): boolean {
  if (outerEcn !== ECN_CE) return true;
  if (ipv4Version(buf, off) === 4) {
    const tos = ipv4Tos(buf, off);
    const inner = tos & ECN_MASK;
    if (inner === 0) return false;
    if (inner === ECN_CE) return true;
    // set CE (0b11) in the TOS byte and adjust the header checksum (RFC 1624)
    const oldWord = read16(buf, off + IPV4_VER_IHL);
    setIpv4Tos(buf, off, tos | ECN_CE);
    const check = csumReplace16(ipv4Checksum(buf, off), oldWord, read16(buf, off + IPV4_VER_IHL));
    setIpv4Checksum(buf, off, check);
    return true;
  }
  const tc = ipv6TrafficClass(buf, off);
  if ((tc & ECN_MASK) === 0) return false;
  setIpv6TrafficClass(buf, off, tc | ECN_CE);
  return true;
}

/** Reads a sysctl of the current thread's namespace, or undefined. */
function readSysctl(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/**
 * Starts a decapsulator. Throws (after undoing what it opened) when the TUN device
 * or a socket cannot be created, e.g. without CAP_NET_ADMIN / CAP_NET_RAW.
 */
export function runDecap(opts: DecapOptions = {}): DecapHandle {
  const warn = opts.onWarning ?? (() => undefined);
  const inNs = <T>(fn: () => T): T => (opts.netns ? withNetns(opts.netns, fn) : fn());
  const batchSize = opts.batchSize ?? 64;
  const stats: DecapStats = { received: 0, delivered: 0, malformed: 0, refused: 0, writeErrors: 0 };

  const allowed4 = new Set<number>();
  const list6: number[] = [];
  for (const a of opts.allowedSources ?? []) {
    const b = parseAddr(a);
    if (b.length === 4) allowed4.add(addrWords(b)[0]);
    else list6.push(...addrWords(b));
  }
  // IPv6 sources as 4 words each, compared word by word (no string per packet)
  const allowed6 = Int32Array.from(list6);
  const isAllowed6 = (m: Int32Array, b: number): boolean => {
    for (let j = 0; j < allowed6.length; j += 4) {
      if (
        allowed6[j] === m[b + 2] &&
        allowed6[j + 1] === m[b + 3] &&
        allowed6[j + 2] === m[b + 4] &&
        allowed6[j + 3] === m[b + 5]
      )
        return true;
    }
    return false;
  };
  const filter = (opts.allowedSources?.length ?? 0) > 0;

  const channels: PacketChannel[] = [];
  let tun: PacketChannel | undefined;
  const closeAll = (): void => {
    for (const c of channels) c.close();
    channels.length = 0;
    tun?.close();
  };

  try {
    tun = inNs(() => openTun({ name: opts.tunName ?? 'tsvsdecap%d' }));
    const tunName = tun.name;
    if (opts.configure !== false) {
      const ipArgs = opts.netns ? ['-n', opts.netns] : [];
      execFileSync('ip', [...ipArgs, 'link', 'set', 'dev', tunName, 'up'], {
        timeout: 10_000,
        stdio: 'pipe',
      });
      inNs(() => {
        // /proc/sys/net follows the namespace of the thread that opens it
        writeFileSync(`/proc/sys/net/ipv4/conf/${tunName}/rp_filter`, '0');
        if (readSysctl('/proc/sys/net/ipv4/conf/all/rp_filter') === '1') {
          warn(
            `decap: net.ipv4.conf.all.rp_filter=1 (strict) will drop inner packets arriving on ${tunName}; ` +
              'set it to 0 or 2',
          );
        }
      });
    }
    inNs(() => {
      channels.push(openRawSocket({ family: 4, protocol: IPPROTO_IPIP }));
      channels.push(openRawSocket({ family: 4, protocol: IPPROTO_IPV6 }));
      if (opts.ipv6Outer !== false) {
        channels.push(openRawSocket({ family: 6, protocol: IPPROTO_IPIP }));
        channels.push(openRawSocket({ family: 6, protocol: IPPROTO_IPV6 }));
      }
    });
  } catch (e) {
    closeAll();
    throw e;
  }

  const out: PacketChannel = tun;
  const batch: Batch = allocBatch(batchSize * 2048 + 65536 * 2, batchSize);
  const meta = batch.meta;
  const buf = batch.buf;

  const drain = (ch: PacketChannel, outer6: boolean, innerVersion: number): void => {
    // bounded: at most 16 batches per wake-up, then let the loop breathe
    for (let round = 0; round < 16; round++) {
      const n = ch.read(batch);
      if (n === 0) return;
      stats.received += n;
      let k = 0;
      for (let i = 0; i < n; i++) {
        const b = i * META_STRIDE;
        let off = meta[b + M_OFF];
        let len = meta[b + M_LEN];
        if (filter) {
          const ok = outer6 ? isAllowed6(meta, b) : allowed4.has(meta[b + M_RAW_ADDR]);
          if (!ok) {
            stats.refused++;
            continue;
          }
        }
        let outerEcn = 0;
        if (!outer6) {
          // IPv4 raw sockets return the outer header; IPv6 ones start at the payload
          if (len < IPV4_HLEN || ipv4Version(buf, off) !== 4) {
            stats.malformed++;
            continue;
          }
          const ihl = ipv4Ihl(buf, off);
          const total = ipv4TotalLength(buf, off);
          if (ihl < IPV4_HLEN || total < ihl || total > len) {
            stats.malformed++;
            continue;
          }
          outerEcn = ipv4Tos(buf, off) & ECN_MASK;
          off += ihl;
          len = total - ihl;
        }
        const minLen = innerVersion === 4 ? IPV4_HLEN : IPV6_HLEN;
        // (the version nibble is in the same place in both headers)
        if (len < minLen || ipv4Version(buf, off) !== innerVersion) {
          stats.malformed++;
          continue;
        }
        const innerTotal =
          innerVersion === 4 ? ipv4TotalLength(buf, off) : IPV6_HLEN + ipv6PayloadLength(buf, off);
        if (innerTotal > len || innerTotal < minLen) {
          stats.malformed++;
          continue;
        }
        if (!ecnDecapsulate(buf, off, outerEcn)) {
          stats.malformed++;
          continue;
        }
        const d = k * META_STRIDE;
        meta[d + M_OFF] = off;
        meta[d + M_LEN] = innerTotal;
        k++;
      }
      if (k > 0) {
        const w = out.write(batch, k);
        for (let j = 0; j < w; j++) {
          if (meta[j * META_STRIDE + M_ERR] !== 0) stats.writeErrors++;
          else stats.delivered++;
        }
        stats.writeErrors += k - w;
      }
      if (n < batchSize) return;
    }
  };

  const kinds: Array<[boolean, number]> = [
    [false, 4],
    [false, 6],
    [true, 4],
    [true, 6],
  ];
  channels.forEach((ch, i) => {
    const [outer6, innerVersion] = kinds[i];
    ch.onReadable(
      () => drain(ch, outer6, innerVersion),
      (err) => warn(`decap: ${err.message}`),
    );
  });

  let closed = false;
  return {
    tunName: out.name,
    stats,
    close(): void {
      if (closed) return;
      closed = true;
      closeAll();
    },
  };
}
