/**
 * The control tests' one shared fixture: the services of ipvsadm reference §7, an
 * engine with live connections, a way to run tsvsadm in-process against a model, and
 * golden files.
 */
import { readFileSync } from 'node:fs';
import { Engine } from '../../src/engine/engine.js';
import { ControlModel, type ModelOptions } from '../../src/control/model.js';
import { localApi } from '../../src/control/protocol.js';
import { runIpvsadm, type Api } from '../../src/control/ipvsadm/run.js';
import { tableResolver, type Resolver } from '../../src/control/ipvsadm/resolve.js';
import type { Stats } from '../../src/engine/stats.js';
import { buildPacket, SYN } from '../helpers/packets.js';

export const SERVICES_DB = `# test services database
http		80/tcp		www
http		80/udp
https		443/tcp
domain		53/tcp
domain		53/udp
http-alt	8080/tcp	webcache
sip		5060/udp
`;

export const HOSTS_DB = `127.0.0.1	localhost
10.0.0.100	a-very-long-virtual-service-name.example.com
10.0.0.1	a-really-long-real-server-host.example.com
2001:db8::81	v6-real-server-with-a-long-name.example.com
`;

/** A resolver that knows only the test hosts and services. */
export function testResolver(): Resolver {
  return tableResolver(HOSTS_DB, SERVICES_DB);
}

export function newModel(opts: ModelOptions = {}): ControlModel {
  return new ControlModel(new Engine(), { interfaceExists: (n) => n.startsWith('eth'), ...opts });
}

export interface RunResult {
  status: number;
  out: string;
  err: string;
}

/** Run tsvsadm in-process against `api` (default: the model itself, no socket). */
export async function tsvsadm(
  model: ControlModel | null,
  args: string[],
  opts: { stdin?: string; api?: Api; resolver?: Resolver; argv0?: string } = {},
): Promise<RunResult> {
  let out = '';
  let err = '';
  const api = opts.api ?? (model ? localApi(model) : null);
  const status = await runIpvsadm(args, {
    argv0: opts.argv0 ?? 'ipvsadm',
    resolver: opts.resolver ?? testResolver(),
    connect: () => (api ? Promise.resolve(api) : Promise.reject(new Error('no api'))),
    io: {
      out: (s) => void (out += s),
      err: (s) => void (err += s),
      readStdin: () => Promise.resolve(Buffer.from(opts.stdin ?? '')),
    },
  });
  return { status, out, err };
}

/** Read a golden file of test/fixtures/control. */
export function golden(name: string): string {
  return readFileSync(new URL(`../../../test/fixtures/control/${name}`, import.meta.url), 'utf8');
}

const V4 = { af: 4 as const, addr: '192.168.10.100' };

/** The fixture of ipvsadm reference §7, built through the model. */
export function referenceFixture(model: ControlModel = newModel()): ControlModel {
  const m = model;
  const t80 = { ...V4, protocol: 6, port: 80 };
  const t443 = { ...V4, protocol: 6, port: 443 };
  const u53 = { ...V4, protocol: 17, port: 53 };
  const v6 = { af: 6 as const, protocol: 6, addr: '2001:db8::100', port: 80 };
  const fw = { af: 4 as const, protocol: 6, fwmark: 7 };
  m.addService({ ...t80 });
  m.addDest(t80, { addr: '10.0.0.11', port: 80, fwd: 'masq' });
  m.addDest(t80, {
    addr: '10.0.0.12',
    port: 8080,
    fwd: 'masq',
    weight: 2,
    uThreshold: 200,
    lThreshold: 150,
  });
  m.addService({ ...t443, scheduler: 'rr', flags: 1, timeout: 300, netmask: '255.255.255.0' });
  m.addDest(t443, { addr: '10.0.0.21', port: 443 });
  m.addDest(t443, { addr: '10.0.0.22', port: 443, weight: 0 });
  m.addService({ ...u53, scheduler: 'sh', flags: 0x4 | 0x8 | 0x10 });
  m.addDest(u53, { addr: '10.0.0.31', port: 53, fwd: 'tunnel' });
  m.addDest(u53, {
    addr: '10.0.0.32',
    port: 53,
    fwd: 'tunnel',
    tunType: 1,
    tunPort: 6080,
    tunFlags: 1,
  });
  m.addDest(u53, { addr: '10.0.0.33', port: 53, fwd: 'tunnel', tunType: 2, tunFlags: 0 });
  m.addService({ ...v6, scheduler: 'mh', flags: 0x10 });
  m.addDest(v6, { addr: '2001:db8::11', port: 80, fwd: 'masq' });
  m.addService({ ...fw, scheduler: 'wrr', flags: 1, timeout: 360 });
  m.addDest(fw, { addr: '10.0.0.41', port: 0, weight: 5 });
  // connection counts as the reference shows them
  const e = m.engine;
  const d = (svc: object, addr: string, port: number) => {
    const s = e.findService(svc as Parameters<Engine['findService']>[0])!;
    return e.findDest(s, addr, port)!;
  };
  Object.assign(d(t80, '10.0.0.11', 80), { activeconns: 12, inactconns: 34 });
  Object.assign(d(t80, '10.0.0.12', 8080), { activeconns: 25, inactconns: 60 });
  Object.assign(d(t443, '10.0.0.21', 443), { activeconns: 3, inactconns: 1, persistconns: 2 });
  return m;
}

/** The counters reference §7.4 shows for TCP 192.168.10.100:80 (and /proc's totals). */
export const REF_STATS = {
  conns: 1234567,
  inpkts: 98765432,
  outpkts: 87654321,
  inbytes: 4567890123,
  outbytes: 123456789012,
};

/** The rates reference §7.5 shows for the same service. */
export const REF_RATES = { cps: 12, inpps: 340, outpps: 310, inbps: 45000, outbps: 1250000 };

/** Set counters and estimator averages directly (rates decode as the kernel does). */
export function setStats(
  s: Stats,
  c: Partial<Record<'conns' | 'inpkts' | 'outpkts' | 'inbytes' | 'outbytes', number>>,
  r: Partial<Record<'cps' | 'inpps' | 'outpps' | 'inbps' | 'outbps', number>> = {},
): void {
  Object.assign(s, c);
  const avg = s as unknown as Record<string, number>;
  if (r.cps !== undefined) avg.cpsAvg = r.cps * 1024;
  if (r.inpps !== undefined) avg.inppsAvg = r.inpps * 1024;
  if (r.outpps !== undefined) avg.outppsAvg = r.outpps * 1024;
  if (r.inbps !== undefined) avg.inbpsAvg = r.inbps * 32;
  if (r.outbps !== undefined) avg.outbpsAvg = r.outbps * 32;
}

// ---------------------------------------------------------------------------
// Live connections

export const TCP_SVC = { af: 4 as const, protocol: 6, addr: '10.0.3.100', port: 80 };
export const UDP6_SVC = { af: 6 as const, protocol: 17, addr: '2001:db8:3::100', port: 53 };

/**
 * An engine with live connections made by real packets: a TCP SYN to an IPv4 NAT
 * service and a UDP datagram to an IPv6 one, at engine time 1 s.
 */
export function connFixture(): ControlModel {
  const m = newModel();
  m.addService({ ...TCP_SVC, scheduler: 'rr' });
  m.addDest(TCP_SVC, { addr: '10.0.2.11', port: 8080, fwd: 'masq' });
  m.addService({ ...UDP6_SVC, scheduler: 'rr' });
  m.addDest(UDP6_SVC, { addr: '2001:db8:2::11', port: 53, fwd: 'masq' });
  const e = m.engine;
  e.tick(1000);
  const syn = buildPacket({
    src: '10.0.1.2',
    dst: '10.0.3.100',
    sport: 40000,
    dport: 80,
    flags: SYN,
  });
  e.in(syn, 0, syn.length, 1000);
  const udp = buildPacket({
    src: '2001:db8:1::2',
    dst: '2001:db8:3::100',
    sport: 5353,
    dport: 53,
    proto: 'udp',
    payload: 'q',
  });
  e.in(udp, 0, udp.length, 1000);
  return m;
}
