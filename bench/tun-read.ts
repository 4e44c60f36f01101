/**
 * bench/tun-read — the cost of reading a wake-up's packets from a TUN device: one
 * `read()` per packet (plus the final empty one) against one `io_uring_enter` carrying
 * all the reads (native/tsvs_uring.c), in the same run, interleaved.
 *
 *   node dist/bench/tun-read.js [--rounds N] [--wakeups W]
 *
 * In a network namespace of its own (`tsvsbtr`), a raw IP socket sends K small UDP
 * packets (one `sendmmsg`) routed out through a TUN device, then the TUN is drained the
 * way the director drains it (TunReader: reads until a read comes back short); only
 * the draining is timed. For K = 1, 2, 4, 8, 32 and 128 packets per wake-up it prints
 * the median over rounds (and the best round) of the time per wake-up and per packet with each mechanism,
 * and their ratio. The writes (packets handed to the kernel through the TUN) are timed
 * the same way: K packets written with one `write()` each against one `io_uring_enter`.
 * A script that prints figures, never a test. Needs root.
 */
import { execFileSync } from 'node:child_process';
import {
  allocBatch,
  openRawSocket,
  openTun,
  uringUnavailable,
  type Batch,
  type PacketChannel,
} from '../src/dataplane/native.js';
import {
  IPPROTO_RAW,
  META_STRIDE,
  M_LEN,
  M_OFF,
  M_RAW_ADDR,
} from '../src/dataplane/native-meta.js';
import { withNetns } from '../src/dataplane/native-if.js';

const argv = process.argv.slice(2);
function opt(name: string, def: number): number {
  const i = argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(argv[i + 1]) : NaN;
  return Number.isFinite(v) && v > 0 ? v : def;
}
const ROUNDS = opt('rounds', 5);
const WAKEUPS = opt('wakeups', 2000);
const NS = 'tsvsbtr';
const KS = [1, 2, 4, 8, 32, 128];

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** K IPv4/UDP packets of 60 bytes to 10.77.0.2 in `tx`, ready for the raw socket. */
function fill(tx: Batch, k: number): void {
  const b = tx.buf;
  for (let i = 0; i < k; i++) {
    const o = i * 64;
    b.fill(0, o, o + 60);
    b[o] = 0x45;
    b[o + 3] = 60;
    b[o + 8] = 64;
    b[o + 9] = 17;
    b.set([10, 77, 0, 1], o + 12);
    b.set([10, 77, 0, 2], o + 16);
    b[o + 20] = 0x30;
    b[o + 21] = 0x39;
    b[o + 22] = 0x30;
    b[o + 23] = 0x39;
    b[o + 25] = 40;
    const m = i * META_STRIDE;
    tx.meta[m + M_OFF] = o;
    tx.meta[m + M_LEN] = 60;
    tx.meta[m + M_RAW_ADDR] = (10 << 24) | (77 << 16) | 2;
  }
}

/** Drains the TUN as TunReader does; returns the packets read. */
function drain(tun: PacketChannel, rx: Batch): number {
  let got = 0;
  for (;;) {
    got += tun.read(rx, 256);
    if (!tun.more) return got;
  }
}

function main(): number {
  if (process.getuid && process.getuid() !== 0) {
    console.error('bench/tun-read needs root (network namespace, TUN)');
    return 1;
  }
  execFileSync('ip', ['netns', 'add', NS]);
  try {
    const ip = (...a: string[]): void => {
      execFileSync('ip', ['-n', NS, ...a]);
    };
    const tun = withNetns(NS, () => openTun({ name: 'tsvsbtr0' }));
    ip('link', 'set', 'lo', 'up');
    ip('link', 'set', 'tsvsbtr0', 'up');
    ip('addr', 'add', '10.77.0.1/24', 'dev', 'tsvsbtr0');
    const raw = withNetns(NS, () => openRawSocket({ family: 4, protocol: IPPROTO_RAW }));
    if (!tun.useUring()) {
      console.log(`io_uring unavailable: ${uringUnavailable()}`);
      return 1;
    }
    tun.useUring(false);
    const rx = allocBatch(16 * 1024 * 1024, 256);
    const tx = allocBatch(256 * 64, 256);
    // (the IPv6 chatter of a new device, and a warm-up of both)
    for (const u of [false, true, false, true]) {
      tun.useUring(u);
      drain(tun, rx);
    }
    const readNs = new Map<string, number[]>();
    const writeNs = new Map<string, number[]>();
    for (let round = 0; round < ROUNDS; round++) {
      for (const k of KS) {
        fill(tx, k);
        for (const u of round % 2 ? [true, false] : [false, true]) {
          tun.useUring(u);
          let t = 0n;
          let lost = 0;
          for (let w = 0; w < WAKEUPS; w++) {
            raw.write(tx, k);
            const t0 = process.hrtime.bigint();
            const got = drain(tun, rx);
            t += process.hrtime.bigint() - t0;
            if (got !== k) lost++;
          }
          if (lost > WAKEUPS / 100) console.log(`  (k ${k}: ${lost} wake-ups read ≠ ${k})`);
          const key = `${u ? 'uring' : 'read'} ${k}`;
          (readNs.get(key) ?? readNs.set(key, []).get(key)!).push(Number(t) / WAKEUPS);
          // writes: the same packets into the TUN (the kernel receives them: to a
          // local address that has no socket, dropped after routing)
          const wt0 = process.hrtime.bigint();
          for (let w = 0; w < WAKEUPS; w++) tun.write(tx, k);
          const wt = process.hrtime.bigint() - wt0;
          (writeNs.get(key) ?? writeNs.set(key, []).get(key)!).push(Number(wt) / WAKEUPS);
        }
      }
    }
    console.log(
      `bench/tun-read — ${ROUNDS} rounds × ${WAKEUPS} wake-ups per size, medians (µs); ` +
        `load ${execFileSync('cat', ['/proc/loadavg']).toString().split(' ').slice(0, 3).join(' ')}`,
    );
    console.log(
      '| packets per wake-up | read(): µs per wake-up | io_uring | read ÷ io_uring | write(): µs per batch | io_uring | write ÷ io_uring |',
    );
    console.log('| --- | --- | --- | --- | --- | --- | --- |');
    const json: Record<string, number[]> = {};
    for (const k of KS) {
      // the machine is shared: the median, and the best round (closest to the cost
      // itself) in brackets
      const f = (m: Map<string, number[]>, key: string): [number, number] => [
        median(m.get(key)!) / 1000,
        Math.min(...m.get(key)!) / 1000,
      ];
      const [r, rMin] = f(readNs, `read ${k}`);
      const [u, uMin] = f(readNs, `uring ${k}`);
      const [wr, wrMin] = f(writeNs, `read ${k}`);
      const [wu, wuMin] = f(writeNs, `uring ${k}`);
      console.log(
        `| ${k} (best rounds) | ${rMin.toFixed(2)} | ${uMin.toFixed(2)} | ${(rMin / uMin).toFixed(2)} | ` +
          `${wrMin.toFixed(2)} | ${wuMin.toFixed(2)} | ${(wrMin / wuMin).toFixed(2)} |`,
      );
      console.log(
        `| ${k} | ${r.toFixed(2)} | ${u.toFixed(2)} | ${(r / u).toFixed(2)} | ${wr.toFixed(2)} | ${wu.toFixed(2)} | ${(wr / wu).toFixed(2)} |`,
      );
      json[k] = [r, u, wr, wu].map((x) => Math.round(x * 100) / 100);
    }
    console.log(JSON.stringify(json));
    tun.close();
    raw.close();
    return 0;
  } finally {
    execFileSync('ip', ['netns', 'del', NS]);
  }
}

process.exit(main());
