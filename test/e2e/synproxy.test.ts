/**
 * Under a SYN flood (docs/synproxy.md): a NAT service behind the SYN proxy keeps
 * serving legitimate clients while a flood of SYNs from forged sources hits it, a
 * long-lived connection opened through the proxy before the flood loses nothing, the
 * flood creates no connection, and the daemon's memory after the flood is back
 * within twice what it was before. The flood is bounded in rate and time and stays
 * in this test's own namespaces (a small C flooder built here, bench/peers/synflood.c).
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SVC_F_SYNPROXY } from '../../src/engine/constants.js';
import {
  Lab,
  bg,
  configure,
  e2eUnavailable,
  serversListening,
  sh,
  waitFor,
  type Daemon,
} from './harness.js';

const skip = e2eUnavailable();
const FLOOD_SRC = source('bench/peers/synflood.c');
const LOAD = fileURLToPath(new URL('./synproxy-load.js', import.meta.url));
/** Forged sources of the flood: routed back to the client namespace, which drops them. */
const FLOOD_NET = '10.201.128.0/17';
const FLOOD_PPS = 20_000;
const FLOOD_S = 8;

function source(rel: string): string {
  return fileURLToPath(new URL(`../../../${rel}`, import.meta.url));
}

function rssKb(pid: number): number {
  const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : 0;
}

describe('e2e SYN proxy under a SYN flood', { skip: skip ?? false, timeout: 120_000 }, () => {
  let lab: Lab;
  let d: Daemon;
  let flooder: string;

  before(async () => {
    lab = Lab.up('e2esyn');
    flooder = join(lab.dir, 'synflood');
    execFileSync('cc', ['-O2', '-Wall', '-o', flooder, FLOOD_SRC], { stdio: 'pipe' });
    lab.http(0, 80);
    lab.http(1, 80);
    const echo = "require('net').createServer(s=>s.pipe(s)).listen(7,'::')";
    for (const ns of [lab.ns.rs1, lab.ns.rs2]) lab.track(bg(ns, process.execPath, ['-e', echo]));
    // the director answers the forged sources towards the client, which drops them
    await sh(lab.ns.director, 'ip', ['route', 'add', FLOOD_NET, 'via', lab.env.client4]);
    await serversListening(lab, [80, 7]);
  });

  /** A daemon with the kernel's SYN cookies on or off (TSVS_SYNCOOKIE), the services up. */
  async function start(kernel: boolean): Promise<void> {
    await d?.stop();
    process.env.TSVS_SYNCOOKIE = kernel ? '1' : '0';
    try {
      d = await lab.daemon();
    } finally {
      delete process.env.TSVS_SYNCOOKIE;
    }
    const svc = { af: 4 as const, protocol: 6, addr: lab.env.vip4, scheduler: 'rr' };
    const rs = lab.env.rs.map((r) => r.ip4);
    for (const port of [80, 7])
      await configure(
        d.client,
        { ...svc, port, flags: SVC_F_SYNPROXY },
        rs.map((addr) => ({ addr, port, fwd: 'masq' as const })),
      );
    await waitFor('the service through the proxy', 15_000, async () => {
      const r = await lab.client('curl', ['-s', '-m', '2', `http://${lab.env.vip4}/`]);
      return r.code === 0 && /^rs\d/.test(r.stdout);
    });
    if (kernel)
      await waitFor('the SYN-cookie program on the interfaces', 10_000, async () => {
        if (d.log.some((l) => l.includes('SYN cookies in the kernel off')))
          throw new Error(d.log.join('\n'));
        const f = await sh(lab.ns.director, 'bpftool', ['net', 'show']);
        for (const id of new Set(f.stdout.match(/(?<= id )\d+/g) ?? [])) {
          const p = await sh(null, 'bpftool', ['prog', 'show', 'id', id]);
          if (p.stdout.includes('tsvs_syncookie')) return true;
        }
        return false;
      });
  }

  after(async () => {
    await lab?.down();
  });

  for (const kernel of [true, false])
    test(`legitimate clients are served, established connections lose nothing, memory returns (SYN cookies ${kernel ? 'in the kernel' : 'in the daemon'})`, async () => {
      await start(kernel);
      const pid = d.proc.pid!;
      assert.match(readFileSync(`/proc/${pid}/comm`, 'utf8'), /node/);
      const rssBefore = rssKb(pid);
      const load = lab.client(
        process.execPath,
        [LOAD, lab.env.vip4, '80', '7', '25', String(FLOOD_S + 4)],
        { timeoutMs: 60_000 },
      );
      await new Promise((r) => setTimeout(r, 2000));
      const connsBefore = (await d.client.call({ cmd: 'listConnections' })).length;
      const flood = lab.client(
        flooder,
        [lab.env.vip4, '80', String(FLOOD_PPS), String(FLOOD_S), FLOOD_NET],
        { timeoutMs: 30_000 },
      );
      await new Promise((r) => setTimeout(r, (FLOOD_S / 2) * 1000));
      const connsDuring = (await d.client.call({ cmd: 'listConnections' })).length;
      const rssDuring = rssKb(pid);
      const f = await flood;
      assert.equal(f.code, 0, f.stderr);
      const [sent] = f.stdout.trim().split(' ').map(Number);
      const l = await load;
      assert.equal(l.code, 0, l.stderr);
      const r = JSON.parse(l.stdout) as {
        sent: number;
        ok: number;
        failed: string[];
        latencies: number[];
        echoSent: number;
        echoBack: number;
        echoLongestStallMs: number;
        echoError: string;
      };
      const defense = await d.client.call({ cmd: 'proc', name: 'ip_vs_defense' });
      const fig = (k: string): number => Number(new RegExp(`^${k} (\\d+)`, 'm').exec(defense)?.[1]);
      const lat = r.latencies.sort((a, b) => a - b);
      const p = (q: number): number => Math.round(lat[Math.floor((lat.length - 1) * q)] ?? -1);
      // the figures, for whoever reads the test's output
      console.log(
        `flood ${sent} SYNs in ${FLOOD_S} s; legitimate ${r.ok}/${r.sent} ` +
          `(p50 ${p(0.5)} ms, p99 ${p(0.99)} ms); echo ${r.echoBack}/${r.echoSent}, ` +
          `longest stall ${Math.round(r.echoLongestStallMs)} ms; conns ${connsBefore} → ${connsDuring}; ` +
          `cookies sent ${fig('synproxy_cookies_sent')} (kernel ${fig('synproxy_cookies_sent_kernel')}), valid ${fig('synproxy_cookies_valid')}, failed ${fig('synproxy_cookies_failed')}; ` +
          `RSS ${rssBefore} → ${rssDuring} kB`,
      );
      assert.ok(sent >= FLOOD_PPS * FLOOD_S * 0.8, `the flood ran (${sent} sent)`);
      assert.ok(
        r.ok >= 0.95 * r.sent,
        `legitimate success ${r.ok}/${r.sent}: ${r.failed.join('; ')}`,
      );
      assert.equal(r.echoError, '');
      assert.equal(r.echoBack, r.echoSent, 'nothing lost on the long-lived connection');
      // the flood made no connections: what is there is the legitimate clients'
      assert.ok(connsDuring < 500, `${connsDuring} conns during the flood`);
      assert.ok(fig('synproxy_cookies_sent') >= sent * 0.5, 'the flood was answered with cookies');
      assert.ok(fig('synproxy_cookies_valid') >= r.ok, 'every served client passed the cookie');
      // memory: back within twice what it was before, once the flood is over
      let rssAfter = rssKb(pid);
      await waitFor('the memory to come back', 20_000, async () => {
        rssAfter = rssKb(pid);
        return rssAfter <= 2 * rssBefore;
      }).catch(() => undefined);
      console.log(`RSS after ${rssAfter} kB`);
      assert.ok(rssAfter <= 2 * rssBefore, `RSS ${rssBefore} → ${rssAfter} kB`);
      // which path answered: the kernel's SYN-ACKs are counted apart as well
      const inKernel = fig('synproxy_cookies_sent_kernel');
      if (kernel) assert.ok(inKernel >= sent * 0.5, `${inKernel} SYN-ACKs sent in the kernel`);
      else assert.equal(inKernel, 0);
    });
});
