/**
 * Shared helpers of the data-plane tests: root / addon checks, commands with
 * timeouts, namespaces that are always removed, checksums computed independently of
 * src/wire.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { nativeAvailable } from '../../src/dataplane/native.js';

/** Why the data-plane tests cannot run here, or undefined when they can. */
export function skipReason(): string | undefined {
  if (process.platform !== 'linux') return 'data-plane tests need Linux';
  if (process.getuid?.() !== 0)
    return 'data-plane tests need root (network namespaces, TUN, raw sockets)';
  if (!nativeAvailable()) return 'native addon not built (run npm install)';
  return undefined;
}

/** Runs a command synchronously with a timeout; throws with its stderr on failure. */
export function sh(cmd: string, args: string[], timeoutMs = 10_000): string {
  try {
    return execFileSync(cmd, args, {
      timeout: timeoutMs,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (e) {
    const err = e as Error & { stderr?: string };
    throw new Error(`${cmd} ${args.join(' ')}: ${err.stderr?.trim() || err.message}`);
  }
}

/** Like {@link sh} but ignores failures (for clean-up). */
export function shQuiet(cmd: string, args: string[], timeoutMs = 10_000): void {
  try {
    execFileSync(cmd, args, { timeout: timeoutMs, stdio: 'ignore' });
  } catch {
    // clean-up is best effort
  }
}

/** True when a program is on PATH. */
export function have(program: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${program}`], { stdio: 'ignore', timeout: 5000 });
    return true;
  } catch {
    return false;
  }
}

/** A unique short prefix for names of this test run (interface names are ≤ 15 bytes). */
export function uniquePrefix(tag: string): string {
  return `t${tag}${(process.pid % 10000).toString(36)}${Math.floor(Math.random() * 36 * 36).toString(36)}`;
}

/** Namespaces created through {@link addNs}, removed by {@link cleanupNs}. */
const created = new Set<string>();
let exitHook = false;

/** Creates a network namespace with lo up, remembering it for clean-up. */
export function addNs(name: string): string {
  if (!exitHook) {
    // also when a test crashes the process (an exception in a poll callback)
    exitHook = true;
    process.on('exit', () => {
      killAll();
      cleanupNs();
    });
  }
  shQuiet('ip', ['netns', 'del', name]);
  sh('ip', ['netns', 'add', name]);
  created.add(name);
  sh('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
  return name;
}

/** Removes every namespace created by {@link addNs} (and kills what runs in it). */
export function cleanupNs(): void {
  for (const ns of created) {
    try {
      const pids = execFileSync('ip', ['netns', 'pids', ns], {
        encoding: 'utf8',
        timeout: 5000,
      }).split(/\s+/);
      for (const p of pids) if (p) shQuiet('kill', ['-9', p]);
    } catch {
      // namespace already gone
    }
    shQuiet('ip', ['netns', 'del', ns]);
  }
  created.clear();
}

/** Starts a process in a namespace; remembered for {@link killAll}. */
const children = new Set<ChildProcess>();
export function spawnIn(ns: string, cmd: string, args: string[]): ChildProcess {
  const c = spawn('ip', ['netns', 'exec', ns, cmd, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  children.add(c);
  c.on('exit', () => children.delete(c));
  return c;
}

/** Kills every process started with {@link spawnIn}. */
export function killAll(): void {
  for (const c of children) {
    if (c.pid !== undefined && c.exitCode === null) c.kill('SIGKILL');
  }
  children.clear();
}

/** Rejects after `ms` with a message naming what was awaited. */
export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

/** Internet checksum (RFC 1071) of `b[off, off+len)` plus an initial 32-bit sum. */
export function inetChecksum(b: Uint8Array, off: number, len: number, initial = 0): number {
  let sum = initial;
  for (let i = 0; i + 1 < len; i += 2) sum += (b[off + i] << 8) | b[off + i + 1];
  if (len & 1) sum += b[off + len - 1] << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** Parses dotted IPv4 into 4 bytes. */
export function ip4(s: string): number[] {
  return s.split('.').map((x) => Number(x));
}

/**
 * Builds an IPv4 packet around `payload` with a valid header checksum (and a UDP
 * checksum for protocol 17 and ICMP checksum for protocol 1).
 */
export function ipv4Packet(
  src: string,
  dst: string,
  proto: number,
  payload: Uint8Array,
  ttl = 64,
): Uint8Array {
  const p = new Uint8Array(20 + payload.length);
  p[0] = 0x45;
  p[2] = p.length >> 8;
  p[3] = p.length & 0xff;
  p[4] = 0x12;
  p[5] = 0x34;
  p[6] = 0x40; // DF
  p[8] = ttl;
  p[9] = proto;
  p.set(ip4(src), 12);
  p.set(ip4(dst), 16);
  p.set(payload, 20);
  if (proto === 17) {
    const l = payload.length;
    const pseudo = sum16(p, 12, 8) + 17 + l;
    p[26] = 0;
    p[27] = 0;
    let c = inetChecksum(p, 20, l, pseudo);
    if (c === 0) c = 0xffff;
    p[26] = c >> 8;
    p[27] = c & 0xff;
  } else if (proto === 1) {
    p[22] = 0;
    p[23] = 0;
    const c = inetChecksum(p, 20, payload.length);
    p[22] = c >> 8;
    p[23] = c & 0xff;
  }
  const hc = inetChecksum(p, 0, 20);
  p[10] = hc >> 8;
  p[11] = hc & 0xff;
  return p;
}

function sum16(b: Uint8Array, off: number, len: number): number {
  let s = 0;
  for (let i = 0; i < len; i += 2) s += (b[off + i] << 8) | b[off + i + 1];
  return s;
}

/** A UDP header + payload (checksum filled by {@link ipv4Packet}). */
export function udpDatagram(sport: number, dport: number, data: Uint8Array): Uint8Array {
  const u = new Uint8Array(8 + data.length);
  u[0] = sport >> 8;
  u[1] = sport & 0xff;
  u[2] = dport >> 8;
  u[3] = dport & 0xff;
  u[4] = u.length >> 8;
  u[5] = u.length & 0xff;
  u.set(data, 8);
  return u;
}

/** Parses an IPv6 literal (with at most one `::`) into 16 bytes. */
export function ip6(s: string): number[] {
  const [h, t] = s.split('::');
  const head = h ? h.split(':') : [];
  const tail = t ? t.split(':') : [];
  const groups = [...head, ...new Array<string>(8 - head.length - tail.length).fill('0'), ...tail];
  return groups.flatMap((g) => {
    const v = parseInt(g, 16);
    return [v >> 8, v & 0xff];
  });
}

/** Builds an IPv6 packet (no extension headers) around `payload`. */
export function ipv6Packet(
  src: string,
  dst: string,
  nextHeader: number,
  payload: Uint8Array,
  hopLimit = 64,
): Uint8Array {
  const p = new Uint8Array(40 + payload.length);
  p[0] = 0x60;
  p[4] = payload.length >> 8;
  p[5] = payload.length & 0xff;
  p[6] = nextHeader;
  p[7] = hopLimit;
  p.set(ip6(src), 8);
  p.set(ip6(dst), 24);
  p.set(payload, 40);
  return p;
}

/** Builds an IPv6 packet carrying a UDP datagram (checksum filled). */
export function ipv6UdpPacket(
  src: string,
  dst: string,
  udp: Uint8Array,
  hopLimit = 64,
): Uint8Array {
  const p = new Uint8Array(40 + udp.length);
  p[0] = 0x60;
  p[4] = udp.length >> 8;
  p[5] = udp.length & 0xff;
  p[6] = 17;
  p[7] = hopLimit;
  p.set(ip6(src), 8);
  p.set(ip6(dst), 24);
  p.set(udp, 40);
  p[46] = 0;
  p[47] = 0;
  const pseudo = sum16(p, 8, 32) + udp.length + 17;
  let c = inetChecksum(p, 40, udp.length, pseudo);
  if (c === 0) c = 0xffff;
  p[46] = c >> 8;
  p[47] = c & 0xff;
  return p;
}
