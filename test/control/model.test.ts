/**
 * The control model on its own: errors as values with the kernel's errno and
 * ipvsadm's wording, nothing changed on refusal, replace semantics, daemons, sysctl,
 * the JSON dispatch, and the /proc views (golden files from make-goldens.py).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ControlError, type ControlModel } from '../../src/control/model.js';
import { dispatch } from '../../src/control/protocol.js';
import {
  procIpVs,
  procIpVsConn,
  procIpVsConnSync,
  procIpVsStats,
  procText,
  kernelHz,
  fullIPv6,
} from '../../src/control/proc.js';
import { sysctlGet, sysctlSet } from '../../src/control/sysctl.js';
import {
  connFixture,
  golden,
  newModel,
  REF_RATES,
  REF_STATS,
  referenceFixture,
  setStats,
} from './helpers.js';

const T80 = { af: 4 as const, protocol: 6, addr: '10.0.0.1', port: 80 };

function refused(fn: () => void, errno: string, message: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof ControlError, String(e));
    assert.equal(e.errno, errno);
    assert.equal(e.message, message);
    return true;
  });
}

function unchanged(m: ControlModel, fn: () => void): void {
  const before = JSON.stringify(m.snapshot());
  const gen = m.generation;
  assert.throws(fn);
  assert.equal(JSON.stringify(m.snapshot()), before);
  assert.equal(m.generation, gen);
}

test('service commands refuse with errno and message, changing nothing', () => {
  const m = newModel();
  m.addService({ ...T80, scheduler: 'rr' });
  refused(() => m.addService(T80), 'EEXIST', 'Service already exists');
  refused(
    () => m.addService({ ...T80, port: 81, scheduler: 'nosuch' }),
    'ENOENT',
    'Scheduler or persistence engine not found',
  );
  refused(() => m.editService({ ...T80, port: 81 }), 'ESRCH', 'No such service');
  refused(() => m.delService({ ...T80, port: 81 }), 'ESRCH', 'No such service');
  refused(() => m.zero({ ...T80, port: 81 }), 'ESRCH', 'No such service');
  refused(() => m.service({ ...T80, port: 81 }), 'ESRCH', 'No such service');
  refused(
    () =>
      m.addService({ af: 6, protocol: 6, addr: '2001:db8::1', port: 80, flags: 1, netmask: 129 }),
    'EINVAL',
    'Invalid operation.  Possibly wrong module version, address not unicast, ...',
  );
  refused(
    () => m.addService({ af: 5 as 4, protocol: 6, addr: '10.0.0.9', port: 80 }),
    'EAFNOSUPPORT',
    'Operation not supported with specified address family',
  );
  refused(
    () => m.addService({ ...T80, protocol: 1 }),
    'EINVAL',
    'Invalid operation.  Possibly wrong module version, address not unicast, ...',
  );
  refused(
    () => m.addService({ ...T80, port: 82, flags: 4 }),
    'EINVAL',
    'Invalid operation.  Possibly wrong module version, address not unicast, ...',
  );
  // a fwmark service is found only with its protocol (the kernel answers ESRCH otherwise)
  m.addService({ af: 4, protocol: 6, fwmark: 9 });
  refused(() => m.delService({ af: 4, protocol: 17, fwmark: 9 }), 'ESRCH', 'No such service');
  unchanged(m, () => m.editService({ ...T80, scheduler: 'nosuch' }));
  unchanged(m, () => m.addService(T80));
  assert.equal(m.service(T80).scheduler, 'rr');
});

test('real-server commands refuse with errno and message, changing nothing', () => {
  const m = newModel();
  m.addService(T80);
  m.addDest(T80, { addr: '10.0.1.1', port: 80, fwd: 'masq', weight: 3 });
  refused(
    () => m.addDest({ ...T80, port: 81 }, { addr: '10.0.1.1', port: 80 }),
    'ESRCH',
    'Service not defined',
  );
  refused(
    () => m.editDest({ ...T80, port: 81 }, { addr: '10.0.1.1', port: 80 }),
    'ESRCH',
    'Service not defined',
  );
  refused(
    () => m.delDest({ ...T80, port: 81 }, { addr: '10.0.1.1', port: 80 }),
    'ESRCH',
    'Service not defined',
  );
  refused(
    () => m.addDest(T80, { addr: '10.0.1.1', port: 80 }),
    'EEXIST',
    'Destination already exists',
  );
  refused(() => m.editDest(T80, { addr: '10.0.1.2', port: 80 }), 'ENOENT', 'No such destination');
  refused(() => m.delDest(T80, { addr: '10.0.1.2', port: 80 }), 'ENOENT', 'No such destination');
  refused(
    () => m.addDest(T80, { addr: '10.0.1.3', port: 80, weight: -1 }),
    'ERANGE',
    'Numerical result out of range',
  );
  refused(
    () => m.addDest(T80, { addr: '10.0.1.3', port: 80, lThreshold: 5 }),
    'ERANGE',
    'Numerical result out of range',
  );
  for (const bad of ['255.255.255.255', '0.0.0.0', '239.1.1.1'])
    refused(
      () => m.addDest(T80, { addr: bad, port: 80 }),
      'EINVAL',
      'Invalid operation.  Possibly wrong module version, address not unicast, ...',
    );
  refused(
    () => m.addDest(T80, { addr: '2001:db8::1', port: 80, fwd: 'masq' }),
    'EINVAL',
    'Invalid operation.  Possibly wrong module version, address not unicast, ...',
  );
  refused(
    () => m.addDest(T80, { addr: '10.0.1.4', port: 80, fwd: 'tunnel', tunType: 1 }),
    'EINVAL',
    'Invalid operation.  Possibly wrong module version, address not unicast, ...',
  );
  unchanged(m, () => m.editDest(T80, { addr: '10.0.1.1', port: 80, uThreshold: 1, lThreshold: 2 }));
  unchanged(m, () => m.addDest(T80, { addr: '10.0.1.1', port: 80 }));
  assert.equal(m.service(T80).dests[0].weight, 3);
  // edit replaces every field
  m.editDest(T80, { addr: '10.0.1.1', port: 80 });
  assert.deepEqual(
    (({ fwd, weight, uThreshold, lThreshold }) => ({ fwd, weight, uThreshold, lThreshold }))(
      m.service(T80).dests[0],
    ),
    { fwd: 'droute', weight: 1, uThreshold: 0, lThreshold: 0 },
  );
});

test('sync daemon state: start, refuse twice, stop, refuse when stopped; hooks may refuse', () => {
  const seen: string[] = [];
  const m = newModel({
    sync: {
      start: (d) => {
        if (d.syncId === 13) throw new Error('unlucky');
        seen.push(`start ${d.state} ${d.mcastIfn}`);
      },
      stop: (s) => void seen.push(`stop ${s}`),
    },
  });
  m.startDaemon({ state: 'backup', mcastIfn: 'eth1', syncId: 10 });
  m.startDaemon({ state: 'master' });
  refused(() => m.startDaemon({ state: 'master' }), 'EEXIST', 'Daemon has already run');
  refused(
    () => m.startDaemon({ state: 'backup', mcastIfn: 'lo9' }),
    'EEXIST',
    'Daemon has already run',
  );
  assert.deepEqual(
    m.daemons().map((d) => d.state),
    ['master', 'backup'],
  );
  m.stopDaemon('master');
  refused(() => m.stopDaemon('master'), 'ESRCH', 'No daemon is running');
  refused(() => m.startDaemon({ state: 'master', mcastIfn: 'wlan0' }), 'ENODEV', 'No such device');
  unchanged(m, () => m.startDaemon({ state: 'master', syncId: 13 }));
  assert.deepEqual(seen, ['start backup eth1', 'start master eth0', 'stop master']);
});

test('sysctl by kernel name with the kernel ranges; defence settings take effect', () => {
  const m = newModel();
  assert.deepEqual(sysctlGet(m, ['net.ipv4.vs.secure_tcp']), [
    { name: 'net.ipv4.vs.secure_tcp', value: '0' },
  ]);
  assert.deepEqual(sysctlSet(m, ['net.ipv4.vs.secure_tcp=3']), [
    { name: 'net.ipv4.vs.secure_tcp', value: '3' },
  ]);
  assert.equal(m.engine.secureTcpActive, true);
  assert.deepEqual(m.sysctlGet('net/ipv4/vs/sync_threshold'), [
    { name: 'net.ipv4.vs.sync_threshold', value: '3\t50' },
  ]);
  m.sysctlSet('sync_threshold', '10 100');
  refused(() => m.sysctlSet('net.ipv4.vs.secure_tcp', '4'), 'EINVAL', 'Invalid argument');
  refused(() => m.sysctlSet('net.ipv4.vs.sync_ports', '3'), 'EINVAL', 'Invalid argument');
  refused(() => m.sysctlSet('net.ipv4.vs.est_nice', '20'), 'EINVAL', 'Invalid argument');
  refused(() => m.sysctlSet('net.ipv4.vs.nosuch', '1'), 'ENOENT', 'No such file or directory');
  refused(() => m.sysctlGet('net.ipv4.vs.nosuch'), 'ENOENT', 'No such file or directory');
  assert.equal(m.sysctlGet('secure_tcp')[0].value, '3');
  const all = sysctlGet(m);
  assert.ok(all.length > 25);
  assert.ok(all.every((e) => e.name.startsWith('net.ipv4.vs.')));
  assert.deepEqual(m.snapshot().sysctl, { secure_tcp: '3', sync_threshold: '10\t100' });
});

test('JSON dispatch: malformed requests are EINVAL, never a crash', () => {
  const m = newModel();
  for (const req of [
    null,
    5,
    [],
    {},
    { cmd: 'nosuch' },
    { cmd: 'addService' },
    { cmd: 'addDest', service: T80 },
    { cmd: 'addService', service: { af: 4, addr: 7 } },
    { cmd: 'setTimeouts', timeouts: null },
    { cmd: 'startDaemon', daemon: { state: 'other' } },
  ])
    assert.throws(
      () => dispatch(m, req),
      (e: unknown) => e instanceof ControlError && e.errno.startsWith('E'),
      JSON.stringify(req),
    );
  assert.deepEqual(m.snapshot().services, []);
  assert.equal(
    dispatch(m, { cmd: 'addService', service: { af: 4, addr: '10.0.0.1', port: 80 } }),
    null,
  );
  assert.equal((dispatch(m, { cmd: 'listServices' }) as unknown[]).length, 1);
  assert.deepEqual(dispatch(m, { cmd: 'info' }), {
    versionCode: 0x010201,
    version: '1.2.1',
    connTabSize: 4096,
  });
});

test('/proc/net/ip_vs of the reference fixture (kernel format, jiffies, ntohl quirk)', () => {
  const m = referenceFixture();
  assert.equal(procIpVs(m, 250), golden('proc-ip_vs.txt'));
  assert.equal(procText(m, '/proc/net/ip_vs'), procIpVs(m, kernelHz()));
  // an IPv6 persistent service shows its prefix byte-swapped
  const v6 = newModel();
  v6.addService({
    af: 6,
    protocol: 17,
    addr: '2001:db8::1',
    port: 53,
    flags: 1 | 4,
    timeout: 10,
    netmask: 64,
  });
  assert.equal(
    procIpVs(v6).split('\n')[3],
    'UDP  [2001:0db8:0000:0000:0000:0000:0000:0001]:0035 wlc persistent 2500 40000000',
  );
  assert.throws(
    () => procText(m, 'ip_vs_nosuch'),
    (e: unknown) => e instanceof ControlError && e.errno === 'ENOENT',
  );
});

test('/proc/net/ip_vs_stats shows totals and rates in hex', () => {
  const m = newModel();
  setStats(m.engine.totals, REF_STATS, REF_RATES);
  assert.equal(procIpVsStats(m), golden('proc-ip_vs_stats.txt'));
});

test('/proc/net/ip_vs_conn and ip_vs_conn_sync list live conns in the kernel format', () => {
  const m = connFixture();
  const v6 = (a: string) => fullIPv6(a);
  assert.equal(v6('2001:db8:1::2'), '2001:0db8:0001:0000:0000:0000:0000:0002');
  assert.equal(
    procIpVsConn(m),
    'Pro FromIP   FPrt ToIP     TPrt DestIP   DPrt State       Expires PEName PEData\n' +
      'TCP 0A000102 9C40 0A000364 0050 0A00020B 1F90 SYN_RECV         60\n' +
      `UDP ${v6('2001:db8:1::2')} 14E9 ${v6('2001:db8:3::100')} 0035 ${v6('2001:db8:2::11')} 0035 UDP             300\n`,
  );
  assert.equal(
    procIpVsConnSync(m),
    'Pro FromIP   FPrt ToIP     TPrt DestIP   DPrt State       Origin Expires\n' +
      'TCP 0A000102 9C40 0A000364 0050 0A00020B 1F90 SYN_RECV    LOCAL       60\n' +
      `UDP ${v6('2001:db8:1::2')} 14E9 ${v6('2001:db8:3::100')} 0035 ${v6('2001:db8:2::11')} 0035 UDP         LOCAL      300\n`,
  );
  // a second later the expiry counts down (rounded down, as jiffies / HZ)
  m.engine.tick(2500);
  assert.match(procIpVsConn(m), /SYN_RECV {9}58\n/);
});

test('snapshot and applySnapshot round-trip the whole configuration', () => {
  const m = referenceFixture();
  m.setTimeouts({ tcp: 100, tcpfin: 20, udp: 30 });
  m.sysctlSet('expire_nodest_conn', '1');
  m.startDaemon({ state: 'master', mcastIfn: 'eth3', syncId: 4 });
  const snap = m.snapshot();
  const copy = newModel();
  assert.deepEqual(copy.applySnapshot(JSON.parse(JSON.stringify(snap))), []);
  assert.deepEqual(copy.snapshot(), snap);
  // dest list order (which breaks scheduler ties) is kept
  assert.deepEqual(
    copy
      .service({ af: 4, protocol: 17, addr: '192.168.10.100', port: 53 })
      .dests.map((d) => d.addr),
    ['10.0.0.33', '10.0.0.32', '10.0.0.31'],
  );
  // refused items are reported and skipped
  const errs = copy.applySnapshot(snap);
  assert.ok(
    errs.length > 0 && errs.every((e) => /already|Daemon has already run/.test(e)),
    errs.join('\n'),
  );
});
