/**
 * Throwaway measurement of the capture/transmit mechanisms (docs/dataplane.md):
 * a stateless NAT (and DR) forwarder for one VIP:port built directly on the native
 * shim — no engine — run in the lab's director namespace while iperf3 pushes traffic
 * from the client namespace to a real server. Prints one line per mechanism.
 *
 *   node dist/bench/dataplane-capture.js [--seconds N] [--only mode,mode]
 *
 * Modes:
 *   kernel          plain kernel forwarding client → RIP (no NAT, reference)
 *   nfq-raw         NFQUEUE at INPUT (VIP on lo) → rewrite → raw IP socket; replies
 *                   NFQUEUE at FORWARD → rewrite → verdict with payload
 *   nfq-gso-packet  same, queue with NFQA_CFG_F_GSO, requests sent whole through a
 *                   packet socket with the virtio-net header (GSO + partial csum)
 *   tun             policy routing into a TUN, rewrite, write back (no offloads)
 *   tun-vnet        same with IFF_VNET_HDR + TSO/CSUM offloads
 *   dr-packet       DR: NFQUEUE at INPUT, unchanged packet to the RS MAC through a
 *                   packet socket, ip_forward=0 on the director
 * Needs root, iperf3; builds and removes its own lab (prefix tsvsbench).
 */
import { execFileSync, spawn } from 'node:child_process';
import { labDown, labUp, type LabEnv } from '../src/sys/lab.js';
import {
  allocBatch,
  openNfQueue,
  openPacketSocket,
  openRawSocket,
  openTun,
  setVerdict,
  type PacketChannel,
} from '../src/dataplane/native.js';
import {
  ETH_P_IP,
  IPPROTO_RAW,
  M_LEN,
  M_NFQ_ID,
  M_NFQ_INFO_QUEUE,
  M_OFF,
  META_STRIDE,
  NF_ACCEPT,
  NF_DROP,
  NFQ_SKB_CSUMNOTREADY,
  TUN_F_CSUM,
  TUN_F_TSO4,
  TUN_F_TSO6,
} from '../src/dataplane/native-meta.js';
import { interfaceMac, withNetns } from '../src/dataplane/native-if.js';

const PORT = 5201;
const args = process.argv.slice(2);
const seconds = Number(args[args.indexOf('--seconds') + 1] || 5) || 5;
const onlyIdx = args.indexOf('--only');
const only = onlyIdx >= 0 ? args[onlyIdx + 1].split(',') : undefined;

function word(a: string): number {
  const b = a.split('.').map(Number);
  return (b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3] | 0;
}

function sh(ns: string, cmd: string, ...a: string[]): string {
  return execFileSync('ip', ['netns', 'exec', ns, cmd, ...a], {
    encoding: 'utf8',
    timeout: 15_000,
    stdio: 'pipe',
  });
}
function shq(ns: string, cmd: string, ...a: string[]): void {
  try {
    sh(ns, cmd, ...a);
  } catch {
    // best effort
  }
}

// ---------------------------------------------------------------- naive rewrite

function fold(s: number): number {
  s = (s & 0xffff) + (s >>> 16);
  return (s & 0xffff) + (s >>> 16);
}
/** RFC 1624 update of a complemented checksum at `at` for 16-bit word old → neu. */
function csumFull(b: Uint8Array, at: number, old: number, neu: number): void {
  const c = (b[at] << 8) | b[at + 1];
  const r = ~fold((~c & 0xffff) + (~old & 0xffff) + neu) & 0xffff;
  b[at] = r >> 8;
  b[at + 1] = r & 0xff;
}
/** Same for a partial (pseudo-header, uncomplemented) checksum. */
function csumPartial(b: Uint8Array, at: number, old: number, neu: number): void {
  const c = (b[at] << 8) | b[at + 1];
  const r = fold(c + (~old & 0xffff) + neu) & 0xffff;
  b[at] = r >> 8;
  b[at + 1] = r & 0xff;
}

interface Nat {
  vip: number;
  rip: number;
  vport: number;
  rport: number;
}

/**
 * Rewrites an IPv4 TCP/UDP packet at `o`: 'in' VIP:vport → RIP:rport (destination),
 * 'out' RIP:rport → VIP:vport (source). Returns the L4 header length (TCP) or 8
 * (UDP) when rewritten, 0 otherwise.
 */
function rewrite(
  b: Uint8Array,
  o: number,
  len: number,
  nat: Nat,
  dirIn: boolean,
  partial: boolean,
): number {
  if (len < 20 || b[o] >> 4 !== 4) return 0;
  const ihl = (b[o] & 15) * 4;
  const proto = b[o + 9];
  if (proto !== 6 && proto !== 17) return 0;
  const l4 = o + ihl;
  const aOff = dirIn ? 16 : 12;
  const pOff = dirIn ? 2 : 0;
  const addr =
    (b[o + aOff] << 24) | (b[o + aOff + 1] << 16) | (b[o + aOff + 2] << 8) | b[o + aOff + 3] | 0;
  const port = (b[l4 + pOff] << 8) | b[l4 + pOff + 1];
  const [fromA, fromP, toA, toP] = dirIn
    ? [nat.vip, nat.vport, nat.rip, nat.rport]
    : [nat.rip, nat.rport, nat.vip, nat.vport];
  if (addr !== fromA || port !== fromP) return 0;
  const ck = proto === 6 ? l4 + 16 : l4 + 6;
  const udpNoCsum = proto === 17 && b[ck] === 0 && b[ck + 1] === 0;
  for (let i = 0; i < 2; i++) {
    const oldW = i === 0 ? fromA >>> 16 : fromA & 0xffff;
    const newW = i === 0 ? toA >>> 16 : toA & 0xffff;
    b[o + aOff + 2 * i] = newW >> 8;
    b[o + aOff + 2 * i + 1] = newW & 0xff;
    csumFull(b, o + 10, oldW, newW);
    if (!udpNoCsum) (partial ? csumPartial : csumFull)(b, ck, oldW, newW);
  }
  b[l4 + pOff] = toP >> 8;
  b[l4 + pOff + 1] = toP & 0xff;
  if (!udpNoCsum && !partial) csumFull(b, ck, fromP, toP);
  return proto === 6 ? (b[l4 + 12] >> 4) * 4 : 8;
}

/**
 * Recomputes the TCP/UDP checksum of the IPv4 packet at `o` from scratch. Needed for
 * a payload handed back with a netfilter-queue verdict: the kernel then marks the
 * skb CHECKSUM_NONE, so a partial (pseudo-header only) checksum would go out as is.
 */
function completeChecksum(b: Uint8Array, o: number, len: number): void {
  const ihl = (b[o] & 15) * 4;
  const proto = b[o + 9];
  const l4 = o + ihl;
  const l4len = len - ihl;
  const ck = l4 + (proto === 6 ? 16 : 6);
  b[ck] = 0;
  b[ck + 1] = 0;
  let sum = proto + l4len;
  for (let i = 12; i < 20; i += 2) sum += (b[o + i] << 8) | b[o + i + 1];
  const end = l4 + l4len - 1;
  let i = l4;
  for (; i < end; i += 2) sum += (b[i] << 8) | b[i + 1];
  if (i === end) sum += b[i] << 8;
  let c = ~fold(fold(sum)) & 0xffff;
  if (c === 0 && proto === 17) c = 0xffff;
  b[ck] = c >> 8;
  b[ck + 1] = c & 0xff;
}

/** TTL − 1 with the header checksum adjusted (DR). */
function decTtl(b: Uint8Array, o: number): void {
  const old = (b[o + 8] << 8) | b[o + 9];
  b[o + 8]--;
  csumFull(b, o + 10, old, (b[o + 8] << 8) | b[o + 9]);
}

// ---------------------------------------------------------------- forwarders

interface Running {
  close(): void;
  packets: { in: number; out: number; wakeups: number };
}

function nfqForwarder(lab: LabEnv, nat: Nat, mode: 'raw' | 'gso-packet' | 'dr'): Running {
  const ns = lab.ns.director;
  const dr = mode === 'dr';
  const gso = mode !== 'raw';
  const qIn = 10;
  const qOut = 11;
  for (const p of ['tcp', 'udp']) {
    sh(
      ns,
      'iptables',
      '-A',
      'INPUT',
      '-d',
      lab.vip4,
      '-p',
      p,
      '--dport',
      String(PORT),
      '-j',
      'NFQUEUE',
      '--queue-num',
      String(qIn),
    );
    if (!dr)
      sh(
        ns,
        'iptables',
        '-A',
        'FORWARD',
        '-s',
        lab.rs[0].ip4,
        '-p',
        p,
        '--sport',
        String(PORT),
        '-j',
        'NFQUEUE',
        '--queue-num',
        String(qOut),
      );
  }
  shq(ns, 'ping', '-c1', '-W1', lab.rs[0].ip4);
  const lladdr = /lladdr ([0-9a-f:]+)/.exec(sh(ns, 'ip', 'neigh', 'show', lab.rs[0].ip4));
  if (!lladdr) throw new Error(`no neighbour entry for ${lab.rs[0].ip4}`);
  // Ethernet header: RS MAC, our MAC on the server LAN, IPv4
  const eth = new Uint8Array(14);
  eth.set(
    lladdr[1].split(':').map((x) => parseInt(x, 16)),
    0,
  );
  eth.set(
    withNetns(ns, () => interfaceMac(lab.director.serverIf)),
    6,
  );
  eth[12] = ETH_P_IP >> 8;
  eth[13] = ETH_P_IP & 0xff;
  const mtu = 1500;
  const chans: PacketChannel[] = [];
  const stats = { in: 0, out: 0, wakeups: 0 };
  withNetns(ns, () => {
    const qi = openNfQueue({ queue: qIn, gso, failOpen: false, maxLen: 4096 });
    const qo = dr ? undefined : openNfQueue({ queue: qOut, gso, failOpen: false, maxLen: 4096 });
    const tx =
      mode === 'raw'
        ? openRawSocket({ family: 4, protocol: IPPROTO_RAW })
        : openPacketSocket({ ifname: lab.director.serverIf, protocol: 0, vnetHdr: true });
    tx.setBuffers(0, 8 << 20);
    chans.push(qi, tx);
    if (qo) chans.push(qo);
    const rx = allocBatch(8 << 20, 128);
    const out = allocBatch(8 << 20, 128);
    qi.onReadable(() => {
      const n = qi.read(rx);
      let k = 0;
      let outOff = 0;
      for (let i = 0; i < n; i++) {
        const b = i * META_STRIDE;
        const off = rx.meta[b + M_OFF];
        const len = rx.meta[b + M_LEN];
        const partial = (rx.meta[b + M_NFQ_INFO_QUEUE] & NFQ_SKB_CSUMNOTREADY) !== 0;
        const id = rx.meta[b + M_NFQ_ID];
        let l4len = 0;
        if (dr) {
          const ihl = (rx.buf[off] & 15) * 4;
          l4len = rx.buf[off + 9] === 6 ? (rx.buf[off + ihl + 12] >> 4) * 4 : 8;
          decTtl(rx.buf, off);
        } else {
          l4len = rewrite(rx.buf, off, len, nat, true, partial);
        }
        if (l4len === 0) {
          setVerdict(rx, i, qIn, id, NF_ACCEPT);
          continue;
        }
        const o = k * META_STRIDE;
        if (mode === 'raw') {
          out.meta[o + M_OFF] = off;
          out.meta[o + M_LEN] = len;
          out.meta[o + 2] = nat.rip;
          // raw sends from rx.buf directly (no copy)
        } else {
          // virtio_net_hdr + Ethernet header + IP packet
          const ihl = (rx.buf[off] & 15) * 4;
          const h = out.buf;
          h.fill(0, outOff, outOff + 10);
          if (partial) {
            h[outOff] = 1; // VIRTIO_NET_HDR_F_NEEDS_CSUM
            const start = 14 + ihl;
            const csOff = rx.buf[off + 9] === 6 ? 16 : 6;
            h[outOff + 6] = start & 0xff;
            h[outOff + 7] = start >> 8;
            h[outOff + 8] = csOff;
          }
          if (len > mtu && rx.buf[off + 9] === 6) {
            const seg = mtu - ihl - l4len;
            h[outOff + 1] = 1; // VIRTIO_NET_HDR_GSO_TCPV4
            const hl = 14 + ihl + l4len;
            h[outOff + 2] = hl & 0xff;
            h[outOff + 3] = hl >> 8;
            h[outOff + 4] = seg & 0xff;
            h[outOff + 5] = seg >> 8;
          }
          h.set(eth, outOff + 10);
          h.set(rx.buf.subarray(off, off + len), outOff + 24);
          out.meta[o + M_OFF] = outOff;
          out.meta[o + M_LEN] = len + 24;
          outOff = (outOff + len + 24 + 7) & ~7;
        }
        k++;
        setVerdict(rx, i, qIn, id, NF_DROP); // stolen: we sent it ourselves
      }
      if (mode === 'raw') {
        // raw socket writes read from rx.buf: give it rx.buf with out.meta
        tx.write({ buf: rx.buf, meta: out.meta, capacity: out.capacity }, k);
      } else if (k > 0) {
        tx.write(out, k);
      }
      qi.write(rx, n);
      stats.in += n;
      stats.wakeups++;
    });
    if (qo) {
      const rb = allocBatch(8 << 20, 128);
      qo.onReadable(() => {
        const n = qo.read(rb);
        for (let i = 0; i < n; i++) {
          const b = i * META_STRIDE;
          const off = rb.meta[b + M_OFF];
          const len = rb.meta[b + M_LEN];
          const partial = (rb.meta[b + M_NFQ_INFO_QUEUE] & NFQ_SKB_CSUMNOTREADY) !== 0;
          const id = rb.meta[b + M_NFQ_ID];
          const r = rewrite(rb.buf, off, len, nat, false, partial);
          if (r && partial) completeChecksum(rb.buf, off, len);
          setVerdict(rb, i, qOut, id, NF_ACCEPT, off, r ? len : -1);
        }
        qo.write(rb, n);
        stats.out += n;
        stats.wakeups++;
      });
    }
  });
  return {
    packets: stats,
    close(): void {
      for (const c of chans) c.close();
      shq(ns, 'iptables', '-F', 'INPUT');
      shq(ns, 'iptables', '-F', 'FORWARD');
    },
  };
}

function tunForwarder(lab: LabEnv, nat: Nat, vnet: boolean): Running {
  const ns = lab.ns.director;
  const stats = { in: 0, out: 0, wakeups: 0 };
  const tun = withNetns(ns, () =>
    openTun({
      name: 'tsvsfwd%d',
      vnetHdrSize: vnet ? 10 : 0,
      offload: vnet ? TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 : 0,
    }),
  );
  const t = tun.name;
  sh(ns, 'ip', 'addr', 'del', `${lab.vip4}/32`, 'dev', 'lo');
  sh(ns, 'ip', 'link', 'set', t, 'up', 'txqueuelen', '1000');
  sh(ns, 'sysctl', '-qw', `net.ipv4.conf.${t}.rp_filter=0`);
  sh(ns, 'ip', 'rule', 'add', 'pref', '100', 'iif', t, 'lookup', 'main');
  sh(ns, 'ip', 'rule', 'add', 'pref', '110', 'to', lab.vip4, 'lookup', '150');
  sh(
    ns,
    'ip',
    'rule',
    'add',
    'pref',
    '120',
    'from',
    lab.rs[0].ip4,
    'iif',
    lab.director.serverIf,
    'lookup',
    '150',
  );
  sh(ns, 'ip', 'route', 'add', 'default', 'dev', t, 'table', '150');
  const batch = allocBatch(8 << 20, 128);
  const hl = vnet ? 10 : 0;
  tun.onReadable(() => {
    const n = tun.read(batch);
    for (let i = 0; i < n; i++) {
      const b = i * META_STRIDE;
      const off = batch.meta[b + M_OFF];
      const len = batch.meta[b + M_LEN];
      const partial = vnet && (batch.buf[off] & 1) === 1;
      if (!rewrite(batch.buf, off + hl, len - hl, nat, true, partial)) {
        rewrite(batch.buf, off + hl, len - hl, nat, false, partial);
      }
    }
    tun.write(batch, n);
    stats.in += n;
    stats.wakeups++;
  });
  return {
    packets: stats,
    close(): void {
      tun.close();
      for (const pref of ['100', '110', '120']) shq(ns, 'ip', 'rule', 'del', 'pref', pref);
      shq(ns, 'ip', 'route', 'flush', 'table', '150');
      shq(ns, 'ip', 'addr', 'add', `${lab.vip4}/32`, 'dev', 'lo');
    },
  };
}

// ---------------------------------------------------------------- traffic

function run(ns: string, cmd: string, a: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = spawn('ip', ['netns', 'exec', ns, cmd, ...a], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    c.stdout.on('data', (d: Buffer) => (out += d.toString()));
    c.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => c.kill('SIGKILL'), timeoutMs);
    c.on('exit', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`${cmd} exited ${code}: ${err.trim() || out.slice(0, 300)}`));
    });
  });
}

interface IperfJson {
  end?: {
    sum_received?: { bits_per_second?: number };
    sum_sent?: { retransmits?: number };
    sum?: { packets?: number; lost_packets?: number; seconds?: number; bits_per_second?: number };
  };
  error?: string;
}

async function iperf(lab: LabEnv, target: string, bind: string, udp: boolean): Promise<string> {
  // UDP servers pick their reply source by routing unless bound: RIP for NAT, VIP for DR
  const server = spawn(
    'ip',
    ['netns', 'exec', lab.ns.rs1, 'iperf3', '-s', '-1', '-p', String(PORT), '-B', bind],
    { stdio: 'ignore' },
  );
  await new Promise((r) => setTimeout(r, 400));
  try {
    const a = ['-c', target, '-p', String(PORT), '-t', String(seconds), '-J'];
    if (udp) a.push('-u', '-b', '0', '-l', '64');
    const out = await run(lab.ns.client, 'iperf3', a, (seconds + 15) * 1000);
    const j = JSON.parse(out) as IperfJson;
    if (j.error) return `error: ${j.error}`;
    if (udp) {
      const s = j.end?.sum;
      const pps = ((s?.packets ?? 0) - (s?.lost_packets ?? 0)) / (s?.seconds || seconds);
      return `${(pps / 1000).toFixed(0)} kpps delivered (${(((s?.lost_packets ?? 0) / (s?.packets || 1)) * 100).toFixed(0)}% lost)`;
    }
    const bps = j.end?.sum_received?.bits_per_second ?? 0;
    return `${(bps / 1e9).toFixed(2)} Gbit/s, ${j.end?.sum_sent?.retransmits ?? '?'} retransmits`;
  } catch (e) {
    return `failed: ${(e as Error).message.split('\n')[0]}`;
  } finally {
    server.kill('SIGKILL');
  }
}

async function main(): Promise<void> {
  const lab = labUp({ prefix: 'tsvsbench' });
  const nat: Nat = { vip: word(lab.vip4), rip: word(lab.rs[0].ip4), vport: PORT, rport: PORT };
  const modes: Array<[string, () => Running | undefined, string]> = [
    ['kernel', () => undefined, lab.rs[0].ip4],
    ['nfq-raw', () => nfqForwarder(lab, nat, 'raw'), lab.vip4],
    ['nfq-gso-packet', () => nfqForwarder(lab, nat, 'gso-packet'), lab.vip4],
    ['tun', () => tunForwarder(lab, nat, false), lab.vip4],
    ['tun-vnet', () => tunForwarder(lab, nat, true), lab.vip4],
    ['dr-packet', () => nfqForwarder(lab, nat, 'dr'), lab.vip4],
  ];
  try {
    for (const [name, start, target] of modes) {
      if (only && !only.includes(name)) continue;
      if (name === 'dr-packet') sh(lab.ns.director, 'sysctl', '-qw', 'net.ipv4.ip_forward=0');
      const f = start();
      try {
        const bind = name === 'dr-packet' ? lab.vip4 : lab.rs[0].ip4;
        const tcp = await iperf(lab, target, bind, false);
        const udp = await iperf(lab, target, bind, true);
        console.log(
          `${name.padEnd(15)} TCP ${tcp} | UDP 64 B ${udp}${f ? ` | pkts in ${f.packets.in} out ${f.packets.out}, ${((f.packets.in + f.packets.out) / Math.max(1, f.packets.wakeups)).toFixed(1)}/wake-up` : ''}`,
        );
      } finally {
        f?.close();
        sh(lab.ns.director, 'sysctl', '-qw', 'net.ipv4.ip_forward=1');
      }
    }
  } finally {
    labDown({ prefix: 'tsvsbench' });
  }
}

main().catch((e: unknown) => {
  console.error(e);
  labDown({ prefix: 'tsvsbench' });
  process.exit(1);
});
