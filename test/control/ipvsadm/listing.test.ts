/**
 * tsvsadm listings byte for byte against golden outputs (test/fixtures/control, made
 * by make-goldens.py from the reference's samples and C format strings): every layout
 * of -L, -L -c, --timeout, --daemon, -S, name resolution and cut-offs, sorting.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  connFixture,
  golden,
  newModel,
  REF_RATES,
  REF_STATS,
  referenceFixture,
  setStats,
  tsvsadm,
} from '../helpers.js';
import type { ControlModel, ConnEntry } from '../../../src/control/model.js';
import type { Api } from '../../../src/control/ipvsadm/run.js';
import { localApi, type Request } from '../../../src/control/protocol.js';
import { bigNum, msort } from '../../../src/control/ipvsadm/format.js';

function statsFixture(): ControlModel {
  const m = referenceFixture();
  const e = m.engine;
  const svc = e.findService({ af: 4, protocol: 6, addr: '192.168.10.100', port: 80 })!;
  setStats(svc.stats, REF_STATS, REF_RATES);
  setStats(
    e.findDest(svc, '10.0.0.11', 80)!.stats,
    {
      conns: 617283,
      inpkts: 49382716,
      outpkts: 43827160,
      inbytes: 2283945061,
      outbytes: 61728394506,
    },
    { cps: 6, inpps: 170, outpps: 155, inbps: 22500, outbps: 625000 },
  );
  setStats(
    e.findDest(svc, '10.0.0.12', 8080)!.stats,
    {
      conns: 617284,
      inpkts: 49382716,
      outpkts: 43827161,
      inbytes: 2283945062,
      outbytes: 61728394506,
    },
    { cps: 123456789, inpps: 170, outpps: 155, inbps: 250000000, outbps: 625000 },
  );
  return m;
}

async function ok(m: ControlModel, args: string[]): Promise<string> {
  const r = await tsvsadm(m, args);
  assert.equal(r.err, '');
  assert.equal(r.status, 0);
  return r.out;
}

test('-L -n prints the reference fixture exactly as ipvsadm (§7.1)', async () => {
  assert.equal(await ok(referenceFixture(), ['-L', '-n']), golden('list-n.txt'));
});

test('bundled -Ln and -ln are the same listing', async () => {
  const m = referenceFixture();
  assert.equal(await ok(m, ['-Ln']), golden('list-n.txt'));
  assert.equal(await ok(m, ['-ln']), golden('list-n.txt'));
  assert.equal(await ok(m, ['--list', '--numeric']), golden('list-n.txt'));
});

test('-L -n -t prints one service without the version line (§7.3)', async () => {
  const m = referenceFixture();
  assert.equal(await ok(m, ['-L', '-n', '-t', '192.168.10.100:443']), golden('list-single.txt'));
});

test('a fwmark service is listed on its own with -f', async () => {
  const out = await ok(referenceFixture(), ['-L', '-n', '-f', '7']);
  assert.equal(
    out,
    'Prot LocalAddress:Port Scheduler Flags\n' +
      '  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n' +
      'FWM  7 wrr persistent 360\n' +
      '  -> 10.0.0.41:0                  Route   5      0          0         \n',
  );
});

test('an IPv6 fwmark service needs -6 to be listed and prints " IPv6"', async () => {
  const m = newModel();
  m.addService({ af: 6, protocol: 6, fwmark: 5, flags: 1, timeout: 100, netmask: 48 });
  const r = await tsvsadm(m, ['-L', '-n', '-f', '5']);
  assert.equal(r.status, 1);
  assert.equal(r.err, 'No such service\n');
  assert.match(
    await ok(m, ['-L', '-n', '-f', '5', '-6']),
    /^FWM {2}5 IPv6 wlc persistent 100 mask 48$/m,
  );
});

test('--stats renders counters with K/M/G scaling (§7.4)', async () => {
  assert.equal(await ok(statsFixture(), ['-L', '-n', '--stats']), golden('list-stats.txt'));
});

test('--stats --exact prints counters in full, pushing columns right (§7.4.1)', async () => {
  const out = await ok(statsFixture(), ['-L', '-n', '--stats', '--exact']);
  assert.equal(out, golden('list-stats-exact.txt'));
  assert.ok(
    out.includes(
      'TCP  192.168.10.100:80             1234567 98765432 87654321 4567890123 123456789012\n',
    ),
  );
});

test('--rate never scales real-server CPS/InPPS/OutPPS (§7.5)', async () => {
  assert.equal(await ok(statsFixture(), ['-L', '-n', '--rate']), golden('list-rate.txt'));
});

test('--thresholds, --persistent-conn and --tun-info layouts (§7.6–§7.8)', async () => {
  const m = referenceFixture();
  assert.equal(await ok(m, ['-L', '-n', '--thresholds']), golden('list-thresholds.txt'));
  assert.equal(await ok(m, ['-L', '-n', '--persistent-conn']), golden('list-persistent.txt'));
  assert.equal(await ok(m, ['-L', '-n', '--tun-info']), golden('list-tun.txt'));
});

test('layouts win in the order stats > rate > thresholds > persistent-conn > tun-info', async () => {
  const m = statsFixture();
  assert.equal(await ok(m, ['-L', '-n', '--rate', '--stats']), golden('list-stats.txt'));
  assert.equal(await ok(m, ['-L', '-n', '--tun-info', '--rate']), golden('list-rate.txt'));
  assert.equal(
    await ok(m, ['-L', '-n', '--tun-info', '--persistent-conn', '--thresholds']),
    golden('list-thresholds.txt'),
  );
  assert.equal(
    await ok(m, ['-L', '-n', '--tun-info', '--persistent-conn']),
    golden('list-persistent.txt'),
  );
});

test('big numbers: the uneven K/M/G/T boundaries of §7.4.1', () => {
  const cases: [number, string][] = [
    [99999999, ' 99999999'],
    [100000000, '  100000K'],
    [999999999, '  999999K'],
    [1000000000, '    1000M'],
    [99999999999, '   99999M'],
    [100000000000, '     100G'],
    [99999999999999, '   99999G'],
    [1e14, '     100T'],
  ];
  for (const [v, s] of cases) assert.equal(bigNum(v, false), s, String(v));
  assert.equal(bigNum(12345678, true), ' 12345678');
  assert.equal(bigNum(123456789, true), ' 123456789');
});

test('without -n names come from the hosts database, cut to 33 / 28 characters (§7.2)', async () => {
  const m = newModel();
  const v4 = { af: 4 as const, protocol: 6, addr: '10.0.0.100', port: 80 };
  const v6 = { af: 6 as const, protocol: 6, addr: '2001:db8::80', port: 80 };
  m.addService(v4);
  m.addDest(v4, { addr: '10.0.0.1', port: 80, fwd: 'masq', weight: 3 });
  m.addDest(v4, { addr: '10.0.0.2', port: 8080, fwd: 'masq' });
  m.addService({ ...v6, scheduler: 'mh', flags: 0x18 });
  m.addDest(v6, { addr: '2001:db8::81', port: 80, fwd: 'masq' });
  const e = m.engine;
  const s = e.findService(v4)!;
  Object.assign(e.findDest(s, '10.0.0.1', 80)!, { activeconns: 2, inactconns: 5 });
  Object.assign(e.findDest(s, '10.0.0.2', 8080)!, { activeconns: 3, inactconns: 10 });
  assert.equal(await ok(m, ['-L']), golden('list-names.txt'));
  // no arguments at all means -L with names
  assert.equal(await ok(m, []), golden('list-names.txt'));
});

test('fwmark real-server ports are never named; port 0 prints as 0', async () => {
  const m = newModel();
  const fw = { af: 4 as const, protocol: 6, fwmark: 1 };
  m.addService(fw);
  m.addDest(fw, { addr: '127.0.0.1', port: 80 });
  const out = await ok(m, ['-L']);
  assert.match(out, /^FWM {2}1 wlc\n {2}-> localhost:80 {17}Route/m);
});

test('sorting subtracts 32-bit words as signed: 192.168.1.100 lists before 10.0.0.3 (§7.12)', async () => {
  const m = newModel();
  for (const a of ['10.0.0.3', '192.168.1.100', '10.0.0.1'])
    m.addService({ af: 4, protocol: 6, addr: a, port: 80 });
  m.addService({ af: 4, protocol: 17, addr: '10.0.0.1', port: 80 });
  m.addService({ af: 4, protocol: 6, fwmark: 3 });
  m.addService({ af: 4, protocol: 6, addr: '10.0.0.1', port: 22 });
  const lines = (await ok(m, ['-L', '-n'])).split('\n').filter((l) => /^(TCP|UDP|FWM)/.test(l));
  assert.deepEqual(lines, [
    'TCP  192.168.1.100:80 wlc',
    'TCP  10.0.0.1:22 wlc',
    'TCP  10.0.0.1:80 wlc',
    'TCP  10.0.0.3:80 wlc',
    'UDP  10.0.0.1:80 wlc',
    'FWM  3 wlc',
  ]);
  // --nosort keeps the kernel's dump order: the address table, then the fwmark table,
  // bucket by bucket, bucket = (proto ^ addr ^ port >> 8 ^ port) & 255 (the netns
  // term taken as 0): 10.0.0.1:22 → 6^1^22 = 17, 192.168.1.100:80 → 6^100^80 = 50,
  // UDP 10.0.0.1:80 → 17^1^80 = 64, 10.0.0.3:80 → 6^3^80 = 85, 10.0.0.1:80 → 87
  const raw = (await ok(m, ['-L', '-n', '--nosort']))
    .split('\n')
    .filter((l) => /^(TCP|UDP|FWM)/.test(l));
  assert.deepEqual(raw, [
    'TCP  10.0.0.1:22 wlc',
    'TCP  192.168.1.100:80 wlc',
    'UDP  10.0.0.1:80 wlc',
    'TCP  10.0.0.3:80 wlc',
    'TCP  10.0.0.1:80 wlc',
    'FWM  3 wlc',
  ]);
});

test('--nosort: services of one hash bucket list the most recently added first', async () => {
  const m = newModel();
  // 10.0.0.1, 10.0.1.1 and 10.1.0.1 share the low address byte: one bucket (87)
  for (const a of ['10.0.0.1', '10.0.1.1', '10.1.0.1'])
    m.addService({ af: 4, protocol: 6, addr: a, port: 80 });
  m.addService({ af: 4, protocol: 6, fwmark: 258 }); // 258 & 255 = 2
  m.addService({ af: 4, protocol: 6, fwmark: 2 });
  m.addService({ af: 4, protocol: 6, fwmark: 1 });
  const raw = (await ok(m, ['-L', '-n', '--nosort']))
    .split('\n')
    .filter((l) => /^(TCP|UDP|FWM)/.test(l));
  assert.deepEqual(raw, [
    'TCP  10.1.0.1:80 wlc',
    'TCP  10.0.1.1:80 wlc',
    'TCP  10.0.0.1:80 wlc',
    'FWM  1 wlc',
    'FWM  2 wlc',
    'FWM  258 wlc',
  ]);
});

test('the merge sort matches glibc qsort for a non-transitive comparator', () => {
  // with the signed-difference comparator 0x80000000 "precedes" 0, 0 precedes 1, and
  // 1 precedes 0x80000000: the result depends on the algorithm
  const cmp = (a: number, b: number) => ((a - b) >>> 0) | 0;
  assert.deepEqual(msort([1, 0x80000000, 0], cmp), [1, 0x80000000, 0]);
  assert.deepEqual(msort([3, 1, 2], cmp), [1, 2, 3]);
});

test('fwmarks print unsigned (upstream master after 1.31)', async () => {
  const m = newModel();
  m.addService({ af: 4, protocol: 6, fwmark: 4294967295, scheduler: 'rr' });
  assert.match(await ok(m, ['-L', '-n']), /^FWM {2}4294967295 rr$/m);
  assert.equal(await ok(m, ['-S', '-n']), '-A -f 4294967295 -s rr\n');
});

test('a PE shows in -L only when persistent, in -S always; sh with only flag-3 prints " ()"', async () => {
  const m = newModel();
  m.addService({ af: 4, protocol: 17, addr: '10.1.1.1', port: 5060, pe: 'sip' });
  m.addService({
    af: 4,
    protocol: 17,
    addr: '10.1.1.2',
    port: 5060,
    pe: 'sip',
    flags: 1,
    timeout: 30,
  });
  m.addService({ af: 4, protocol: 6, addr: '10.1.1.3', port: 80, scheduler: 'sh', flags: 0x20 });
  m.addService({ af: 4, protocol: 6, addr: '10.1.1.4', port: 80, scheduler: 'rr', flags: 0x38 });
  const l = await ok(m, ['-L', '-n']);
  assert.match(l, /^UDP {2}10\.1\.1\.1:5060 wlc$/m);
  assert.match(l, /^UDP {2}10\.1\.1\.2:5060 wlc persistent 30 pe sip$/m);
  assert.match(l, /^TCP {2}10\.1\.1\.3:80 sh \(\)$/m);
  assert.match(l, /^TCP {2}10\.1\.1\.4:80 rr \(flag-1,flag-2,flag-3\)$/m);
  assert.equal(
    await ok(m, ['-S', '-n']),
    '-A -t 10.1.1.3:80 -s sh -b \n' +
      '-A -t 10.1.1.4:80 -s rr -b flag-1,flag-2,flag-3\n' +
      '-A -u 10.1.1.1:5060 -s wlc --pe sip\n' +
      '-A -u 10.1.1.2:5060 -s wlc -p 30 --pe sip\n',
  );
});

test('-S -n prints the restore format of §8.1; without -n ports and hosts are named', async () => {
  const m = referenceFixture();
  assert.equal(await ok(m, ['-S', '-n']), golden('save-n.txt'));
  const named = await ok(m, ['-S']);
  assert.match(named, /^-A -t 192\.168\.10\.100:http -s wlc$/m);
  assert.match(named, /^-a -t 192\.168\.10\.100:http -r 10\.0\.0\.12:http-alt -m -w 2$/m);
  assert.match(named, /^-A -u 192\.168\.10\.100:domain -s sh -o -b sh-fallback,sh-port$/m);
  assert.match(named, /^-a -f 7 -r 10\.0\.0\.41:0 -g -w 5$/m);
});

test('-L --timeout and -L --daemon', async () => {
  const m = newModel();
  assert.equal(await ok(m, ['-L', '--timeout']), 'Timeout (tcp tcpfin udp): 900 120 300\n');
  assert.equal(await ok(m, ['-L', '--daemon']), '');
  await ok(m, ['--set', '10', '0', '30']);
  assert.equal(await ok(m, ['-L', '--timeout']), 'Timeout (tcp tcpfin udp): 10 120 30\n');
  await ok(m, ['--start-daemon', 'backup', '--mcast-interface', 'eth1', '--syncid', '10']);
  await ok(m, ['--start-daemon', 'master']);
  assert.equal(
    await ok(m, ['-L', '--daemon']),
    'master sync daemon (mcast=eth0, syncid=0, maxlen=1472, group=224.0.0.81, port=8848, ttl=1)\n' +
      'backup sync daemon (mcast=eth1, syncid=10, maxlen=1472, group=224.0.0.81, port=8848, ttl=1)\n',
  );
});

/** An API that answers listConnections with fixed entries (the §7.9 fixture). */
function connApi(m: ControlModel, conns: ConnEntry[]): Api {
  const local = localApi(m);
  return {
    call<R extends Request>(req: R) {
      if (req.cmd === 'listConnections') return Promise.resolve(conns as never);
      return local.call(req);
    },
  };
}

function conn(p: Partial<ConnEntry>): ConnEntry {
  return {
    id: 0,
    control: -1,
    nControl: 0,
    protocol: 6,
    protoName: 'TCP',
    af: 4,
    caddr: '0.0.0.0',
    cport: 0,
    vaddr: '0.0.0.0',
    vport: 0,
    daf: 4,
    daddr: '0.0.0.0',
    dport: 0,
    state: 'NONE',
    expires: 0,
    flags: 0,
    template: false,
    origin: 'LOCAL',
    peName: '',
    peData: '',
    ...p,
  };
}

const CONNS: ConnEntry[] = [
  conn({
    caddr: '192.168.0.50',
    cport: 54321,
    vaddr: '192.168.1.100',
    vport: 80,
    daddr: '10.0.0.1',
    dport: 8080,
    state: 'ESTABLISHED',
    expires: 897,
  }),
  conn({
    caddr: '192.168.0.51',
    cport: 54322,
    vaddr: '192.168.1.100',
    vport: 80,
    daddr: '10.0.0.2',
    dport: 8080,
    state: 'FIN_WAIT',
    expires: 65,
  }),
  conn({
    protocol: 17,
    protoName: 'UDP',
    caddr: '192.168.0.52',
    cport: 33333,
    vaddr: '192.168.1.100',
    vport: 53,
    daddr: '10.0.0.5',
    dport: 53,
    state: 'UDP',
    expires: 299,
  }),
  conn({
    protocol: 0,
    protoName: 'IP',
    caddr: '192.168.0.50',
    vaddr: '0.0.0.1',
    daddr: '10.0.0.1',
    state: 'NONE',
    expires: 359,
    template: true,
  }),
  conn({
    caddr: '192.168.0.50',
    vaddr: '192.168.1.100',
    vport: 443,
    daddr: '10.0.0.3',
    dport: 443,
    state: 'ASSURED',
    expires: 3599,
    template: true,
  }),
  conn({
    af: 6,
    daf: 6,
    caddr: '2001:db8::1',
    cport: 54321,
    vaddr: '2001:db8::80',
    vport: 80,
    daddr: '2001:db8::a0a0',
    dport: 80,
    state: 'SYN_RECV',
    expires: 59,
  }),
];

test('-L -c -n prints the connection fixture of §7.9', async () => {
  const m = newModel();
  const r = await tsvsadm(m, ['-L', '-c', '-n'], { api: connApi(m, CONNS) });
  assert.equal(r.status, 0);
  assert.equal(r.out, golden('conns.txt'));
});

test('-L -c names TCP/UDP ports but never those of IP (fwmark template) rows', async () => {
  const m = newModel();
  const r = await tsvsadm(m, ['-L', '-c'], {
    api: connApi(m, [
      conn({
        protocol: 0,
        protoName: 'IP',
        caddr: '127.0.0.1',
        cport: 80,
        vaddr: '0.0.0.1',
        vport: 80,
        daddr: '10.0.0.1',
        dport: 80,
        state: 'NONE',
        expires: 7200,
      }),
      conn({
        caddr: '127.0.0.1',
        cport: 80,
        vaddr: '10.0.0.100',
        vport: 443,
        daddr: '10.0.0.1',
        dport: 8080,
        state: 'ESTABLISHED',
        expires: 7200,
      }),
    ]),
  });
  assert.equal(
    r.out.split('\n').slice(2).join('\n'),
    'IP  120:00 NONE        localhost:80       0.0.0.1:80         a-really-long-real-server-host.example.com:80\n' +
      'TCP 120:00 ESTABLISHED localhost:http     a-very-long-virtual-service-name.example.com:https a-really-long-real-server-host.example.com:http-alt\n',
  );
});

test('-L -c --persistent-conn adds the PE columns, misaligned as in ipvsadm', async () => {
  const m = newModel();
  const r = await tsvsadm(m, ['-L', '-c', '-n', '--persistent-conn'], {
    api: connApi(m, [
      conn({
        protocol: 17,
        protoName: 'UDP',
        caddr: '192.168.0.53',
        cport: 5060,
        vaddr: '192.168.1.100',
        vport: 5060,
        daddr: '10.0.0.9',
        dport: 5060,
        state: 'UDP',
        expires: 179,
        peName: 'sip',
        peData: '3a2bc@example',
      }),
      conn({
        caddr: '192.168.0.50',
        cport: 54321,
        vaddr: '192.168.1.100',
        vport: 80,
        daddr: '10.0.0.1',
        dport: 8080,
        state: 'ESTABLISHED',
        expires: 7200,
      }),
    ]),
  });
  assert.equal(r.out, golden('conns-pe.txt'));
});

test('-L -c on a live engine lists the conn a SYN created', async () => {
  const m = connFixture();
  const r = await tsvsadm(m, ['-L', '-c', '-n']);
  assert.equal(
    r.out,
    'IPVS connection entries\n' +
      'pro expire state       source             virtual            destination\n' +
      'TCP 01:00  SYN_RECV    10.0.1.2:40000     10.0.3.100:80      10.0.2.11:8080\n' +
      'UDP 05:00  UDP         [2001:db8:1::2]:5353 [2001:db8:3::100]:53 [2001:db8:2::11]:53\n',
  );
});
