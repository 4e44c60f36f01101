/**
 * tsvsadm's parser and error paths: popt behaviour (§1.1), every client-side message
 * of §9.4 with exit status 2, the daemon-side messages of §9.3 with 255 (changes) or
 * 1 (listings), and what each command sends (§5.4).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { newModel, referenceFixture, tsvsadm } from '../helpers.js';
import type { ControlModel } from '../../../src/control/model.js';

async function expectErr(
  args: string[],
  message: string,
  status: number,
  model: ControlModel = newModel(),
): Promise<void> {
  const r = await tsvsadm(model, args);
  assert.equal(r.err, message + '\n', args.join(' '));
  assert.equal(r.status, status, args.join(' '));
  assert.equal(r.out, '', args.join(' '));
}

const TRY = "Try `ipvsadm -h' or 'ipvsadm --help' for more information.";

test('the first option must be a command; else Try ..., status 255', async () => {
  await expectErr(['-t', '1.2.3.4:80'], TRY, 255);
  await expectErr(['foo'], TRY, 255);
  await expectErr(['--foo'], TRY, 255);
  await expectErr(['-q'], TRY, 255);
  const r = await tsvsadm(newModel(), ['-t', '1.2.3.4:80'], { argv0: '/sbin/ipvsadm' });
  assert.equal(r.err, "Try `/sbin/ipvsadm -h' or '/sbin/ipvsadm --help' for more information.\n");
});

test('popt errors: <option>: <text>, status 255', async () => {
  await expectErr(['-A', '-t'], '-t: missing argument', 255);
  await expectErr(['-L', '--foo'], '--foo: unknown option', 255);
  await expectErr(['-L', '-q'], '-q: unknown option', 255);
  await expectErr(['-Lq'], '-Lq: unknown option', 255);
  await expectErr(['--set', '-1', '2', '3'], '-1: unknown option', 255);
  await expectErr(['-L', '--numeric=1'], '--numeric=1: option does not take an argument', 255);
});

test('-h and -v act at once, only as the first option', async () => {
  const m = newModel();
  let r = await tsvsadm(m, ['-v', '-n', 'foo']);
  assert.deepEqual(r, {
    status: 0,
    out: 'ipvsadm v1.31 2019/12/24 (compiled with popt and IPVS v1.2.1)\n',
    err: '',
  });
  r = await tsvsadm(m, ['--help'], { argv0: 'tsvsadm' });
  assert.equal(r.status, 0);
  assert.ok(
    r.out.startsWith('ipvsadm v1.31 2019/12/24 (compiled with popt and IPVS v1.2.1)\nUsage:\n'),
  );
  assert.ok(r.out.includes('\n  tsvsadm -A|E virtual-service [-s scheduler]'));
  assert.ok(
    r.out.includes(
      '  --sched-flags  -b flags             scheduler flags (comma-separated)\nDaemon Options:\n',
    ),
  );
  assert.ok(r.out.endsWith('  --mcast-ttl ttl                     Multicast TTL (default=1)\n'));
  await expectErr(['-L', '-h'], "invalid option `-h'", 2, m);
  await expectErr(['-L', '-v'], "invalid option `-v'", 2, m);
});

test('every client-side message of §9.4, exit status 2', async () => {
  const cases: [string[], string][] = [
    [['-A', '-t', '1.2.3.4'], 'Zero port specified for non-persistent service'],
    [['-A', '-t', '1.2.3.4:80', '-o'], 'One-Packet Scheduling is only for UDP virtual services'],
    [
      ['-a', '-t', '1.2.3.4:80', '-r', '[2001:db8::1]:80', '-m'],
      'Different address family is allowed only for tunneling servers',
    ],
    [
      ['-a', '-t', '1.2.3.4:80', '-r', '5.6.7.8', '-m', '--tun-type', 'gue'],
      'Tunnel options conflict with forward method',
    ],
    [['-A', '-t', '1234'], 'illegal virtual server address[:port] specified'],
    [['-A', '-t', 'no.such.host.invalid:80'], 'illegal virtual server address[:port] specified'],
    [['-A', '-t', '[2001:db8::1]80'], 'illegal virtual server address[:port] specified'],
    [['-A', '-t', '[2001:db8::1]'], 'illegal virtual server address[:port] specified'],
    [['-A', '-u', '1.2.3.4:https'], 'illegal virtual server address[:port] specified'],
    [['-A', '-t', '1.2.3.4:'], 'illegal virtual server address[:port] specified'],
    [
      ['-a', '-t', '1.2.3.4:80', '-r', 'nowhere.invalid'],
      'illegal real server address[:port] specified',
    ],
    [
      ['-A', '-t', '1.2.3.4:80', '-p', '-M', 'bad.mask.invalid'],
      'illegal virtual server persistent mask specified',
    ],
    [['-A', '-t', '[2001:db8::1]:80', '-p', '-M', '129'], 'illegal ipv6 netmask specified'],
    [['-a', '-t', '1.2.3.4:80', '-r', '5.6.7.8', '-w', '65536'], 'illegal weight specified'],
    [['-a', '-t', '1.2.3.4:80', '-r', '5.6.7.8', '-x', '-1'], 'illegal u_threshold specified'],
    [
      ['-a', '-t', '1.2.3.4:80', '-r', '5.6.7.8', '-y', '2147483648'],
      'illegal l_threshold specified',
    ],
    [['--start-daemon', 'master', '--syncid', '256'], 'illegal syncid specified'],
    [['--start-daemon', 'master', '--mcast-port', '0'], 'illegal mcast-port specified'],
    [['--start-daemon', 'master', '--mcast-ttl', '256'], 'illegal mcast-ttl specified'],
    [['--start-daemon', 'master', '--sync-maxlen', '65508'], 'illegal sync-maxlen specified'],
    [
      ['-a', '-t', '1.2.3.4:80', '-r', '5.6.7.8', '-i', '--tun-type', 'vxlan'],
      'illegal tunnel type specified',
    ],
    [
      ['-a', '-t', '1.2.3.4:80', '-r', '5.6.7.8', '-i', '--tun-port', '0'],
      'illegal tunnel port specified',
    ],
    [['--start-daemon', 'primary'], 'illegal start-daemon parameter specified'],
    [['--stop-daemon', 'primary'], 'illegal start_daemon specified'],
    [['-A', '-t', '1.2.3.4:80', '-p', 'rr'], "invalid timeout value `rr' specified"],
    [['-A', '-t', '1.2.3.4:80', '-p', '2678401'], "invalid timeout value `2678401' specified"],
    [['--set', '10', 'x', '30'], "invalid timeout value `x' specified"],
    [['-A', '-f', '0'], "invalid fwmark value `0' specified"],
    [['-A', '-f', '4294967296'], "invalid fwmark value `4294967296' specified"],
    [['-A', '-t', '1.2.3.4:80', '-b', 'foo'], "invalid scheduler flag `foo'"],
    [['-A', '-t', '1.2.3.4:80', '-b', ','], "invalid scheduler flag `'"],
    [
      ['-A', '-t', '1.2.3.4:80', '-b', 'sh-port', '-s', 'rr'],
      "incompatible scheduler flag `sh-port'",
    ],
    [['-A', '-t', '1.2.3.4:80', '-b', 'mh-port'], "incompatible scheduler flag `mh-port'"],
    [
      ['--start-daemon', 'master', '--mcast-group', '10.0.0.1'],
      "invalid IPv4 mcast-group `10.0.0.1'",
    ],
    [
      ['--start-daemon', 'master', '--mcast-group', '2001:db8::1'],
      "invalid IPv6 mcast-group `2001:db8::1'",
    ],
    [['-L', '-D'], "invalid option `-D'"],
    [['-L', '--delete-service'], "invalid option `--delete-service'"],
    [['-L', 'foo'], 'unexpected argument foo'],
    [['-a', '-t', '1.2.3.4:80', '-r', '5.6.7.8', '#', 'note'], 'unexpected argument #'],
    [['--set', '1', '2', '3', '4'], 'unexpected argument 4'],
    [['--set', '1', '2'], '--set option requires 3 timeout values'],
    [['-A', '-6', '-f', '1'], '-6 used before -f\n'],
    [
      ['-A', '-t', '1.2.3.4:80', '-t', '1.2.3.4:81'],
      "multiple 'service-address' options specified",
    ],
    [['-A', '-t', '1.2.3.4:80', '-f', '1'], "multiple 'service-address' options specified"],
    [
      ['-a', '-t', '1.2.3.4:80', '-r', '5.6.7.8', '-g', '-m'],
      "multiple 'forwarding-method' options specified",
    ],
    [
      ['-A', '-s', 'rr'],
      "You need to supply the 'service-address' option for the 'add-service' command",
    ],
    [
      ['-a', '-t', '1.2.3.4:80'],
      "You need to supply the 'real-server' option for the 'add-server' command",
    ],
    [
      ['-A', '-t', '1.2.3.4:80', '-r', '5.6.7.8'],
      "Illegal 'real-server' option with the 'add-service' command",
    ],
    [['-C', '-n'], "Illegal 'numeric' option with the 'flush' command"],
    [['-R', '-n'], "Illegal 'numeric' option with the 'restore' command"],
    [
      ['-L', '-c', '-t', '1.2.3.4:80'],
      "The option 'service-address' conflicts with the 'connection' option in the 'list' command",
    ],
    [
      ['-L', '--timeout', '--daemon'],
      "The option 'daemon' conflicts with the 'timeout' option in the 'list' command",
    ],
    [
      ['-a', '-t', '1.2.3.4:80', '-r', '5.6.7.8', '-i', '--tun-type', 'gue'],
      "You need to supply the 'tun-port' option for the 'gue' tunnel type",
    ],
    [
      ['-a', '-t', '1.2.3.4:80', '-r', '5.6.7.8', '-i', '--tun-type', 'gre', '--tun-port', '5'],
      "Illegal 'tun-port' option with the 'gre' tunnel type",
    ],
    [
      ['-a', '-t', '1.2.3.4:80', '-r', '5.6.7.8', '-i', '--tun-csum'],
      "Illegal 'tun-csum' option with the 'ipip' tunnel type",
    ],
    [
      ['-a', '-t', '1.2.3.4:80', '-r', '5.6.7.8', '-i', '--tun-type', 'gre', '--tun-remcsum'],
      "Illegal 'tun-remcsum' option with the 'gre' tunnel type",
    ],
    [
      [
        '-a',
        '-t',
        '1.2.3.4:80',
        '-r',
        '5.6.7.8',
        '-i',
        '--tun-type',
        'gue',
        '--tun-port',
        '6080',
        '--tun-remcsum',
        '--tun-csum',
      ],
      "The option 'tun-remcsum' conflicts with the 'tun-csum' option in the 'gue' tunnel type",
    ],
    [['-L', '-c', '--stats'], 'options conflicts in the list command'],
    [['-L', '--daemon', '--persistent-conn'], 'options conflicts in the list command'],
  ];
  for (const [args, msg] of cases) await expectErr(args, msg, 2);
});

test('the command/option table reports the first problem in option order', async () => {
  // netmask (index 5) comes before real-server (index 6)
  await expectErr(
    ['-D', '-t', '1.2.3.4:80', '-r', '5.6.7.8', '-M', '1.2.3.4'],
    "Illegal 'netmask' option with the 'delete-service' command",
    2,
  );
  // a missing required option is found before an illegal later one
  await expectErr(
    ['-d', '--stats'],
    "You need to supply the 'service-address' option for the 'delete-server' command",
    2,
  );
});

test('errors are reported left to right while parsing', async () => {
  await expectErr(
    ['-A', '-t', 'bad', '--foo'],
    'illegal virtual server address[:port] specified',
    2,
  );
  await expectErr(['-A', '--foo', '-t', 'bad'], '--foo: unknown option', 255);
});

test('daemon-side refusals of §9.3: changes exit 255, listings exit 1', async () => {
  const m = referenceFixture();
  const V = '192.168.10.100:80';
  const cases: [string[], string, number][] = [
    [['-A', '-t', V], 'Service already exists', 255],
    [['-A', '-t', '10.9.9.9:80', '-s', 'nosuch'], 'Scheduler or persistence engine not found', 255],
    [
      ['-A', '-t', '10.9.9.9:80', '-p', '--pe', 'nosuch'],
      'Scheduler or persistence engine not found',
      255,
    ],
    [['-E', '-t', '10.9.9.9:80'], 'No such service', 255],
    [['-E', '-t', V, '-s', 'nosuch'], 'Scheduler or persistence engine not found', 255],
    [['-D', '-t', '10.9.9.9:80'], 'No such service', 255],
    [['-Z', '-t', '10.9.9.9:80'], 'No such service', 255],
    [['-a', '-t', '10.9.9.9:80', '-r', '10.0.0.1'], 'Service not defined', 255],
    [['-e', '-t', '10.9.9.9:80', '-r', '10.0.0.1'], 'Service not defined', 255],
    [['-d', '-t', '10.9.9.9:80', '-r', '10.0.0.1'], 'Service not defined', 255],
    [['-a', '-t', V, '-r', '10.0.0.11:80', '-m'], 'Destination already exists', 255],
    [['-e', '-t', V, '-r', '10.0.0.99:80', '-m'], 'No such destination', 255],
    [['-d', '-t', V, '-r', '10.0.0.99:80'], 'No such destination', 255],
    [
      ['-a', '-t', V, '-r', '224.0.0.1:80', '-m'],
      'Invalid operation.  Possibly wrong module version, address not unicast, ...',
      255,
    ],
    [['-a', '-t', V, '-r', '10.0.0.50:80', '-m', '-y', '5'], 'Numerical result out of range', 255],
    [['--start-daemon', 'master', '--mcast-interface', 'nosuch0'], 'No such device', 255],
    [['--stop-daemon', 'master'], 'No daemon is running', 255],
    [['-L', '-t', '10.9.9.9:80'], 'No such service', 1],
  ];
  for (const [args, msg, st] of cases) await expectErr(args, msg, st, m);
  const ok = await tsvsadm(m, ['--start-daemon', 'master']);
  assert.equal(ok.status, 0);
  await expectErr(['--start-daemon', 'master'], 'Daemon has already run', 255, m);
  // mixed-family real servers stop the sync daemon from starting (EINVAL)
  const mixed = newModel();
  mixed.addService({ af: 4, protocol: 6, addr: '10.0.0.1', port: 80 });
  mixed.addDest(
    { af: 4, protocol: 6, addr: '10.0.0.1', port: 80 },
    { addr: '2001:db8::1', port: 80, fwd: 'tunnel' },
  );
  await expectErr(
    ['--start-daemon', 'backup'],
    'Invalid operation.  Possibly wrong module version, address not unicast, ...',
    255,
    mixed,
  );
});

test('a refused command leaves the configuration unchanged', async () => {
  const m = referenceFixture();
  const before = JSON.stringify(m.snapshot());
  for (const args of [
    ['-A', '-t', '192.168.10.100:80', '-s', 'rr'],
    ['-E', '-t', '192.168.10.100:80', '-s', 'nosuch'],
    ['-a', '-t', '192.168.10.100:80', '-r', '10.0.0.11:80', '-m', '-w', '9'],
    ['-e', '-t', '192.168.10.100:80', '-r', '10.0.0.12:8080', '-m', '-x', '1', '-y', '2'],
    ['-e', '-t', '192.168.10.100:80', '-r', '10.0.0.12:8080', '-w', '70000'],
  ]) {
    const r = await tsvsadm(m, args);
    assert.notEqual(r.status, 0);
    assert.equal(JSON.stringify(m.snapshot()), before, args.join(' '));
  }
});

test('what each command sends (§5.4): defaults, fix-ups, replace semantics', async () => {
  const m = newModel();
  const run = async (args: string[]) => {
    const r = await tsvsadm(m, args);
    assert.equal(r.err, '', args.join(' '));
    assert.equal(r.status, 0);
  };
  await run(['-A', '-t', '10.0.0.1:80', '-s', 'rr', '-p']);
  let s = m.service({ af: 4, protocol: 6, addr: '10.0.0.1', port: 80 });
  assert.deepEqual([s.scheduler, s.flags, s.timeout, s.netmask], ['rr', 1, 360, 0xffffffff]);
  // -E replaces every field: back to a plain wlc service
  await run(['-E', '-t', '10.0.0.1:80']);
  s = m.service({ af: 4, protocol: 6, addr: '10.0.0.1', port: 80 });
  assert.deepEqual([s.scheduler, s.flags, s.timeout], ['wlc', 0, 0]);
  // attached values, bundles and '=' forms
  await run(['-At10.0.0.2:80', '-srr', '-p60']);
  await run([
    '--add-service',
    '--tcp-service=10.0.0.3:80',
    '--scheduler=sh',
    '--persistent=61',
    '-b',
    'sh-port,sh-fallback',
    '--pe',
    'sip',
  ]);
  s = m.service({ af: 4, protocol: 6, addr: '10.0.0.2', port: 80 });
  assert.deepEqual([s.scheduler, s.flags, s.timeout], ['rr', 1, 60]);
  s = m.service({ af: 4, protocol: 6, addr: '10.0.0.3', port: 80 });
  assert.deepEqual([s.scheduler, s.flags, s.timeout, s.pe], ['sh', 0x19, 61, 'sip']);
  // -sr gives scheduler "r", which the daemon does not know
  const r = await tsvsadm(m, ['-A', '-t', '10.0.0.4:80', '-sr']);
  assert.equal(r.err, 'Scheduler or persistence engine not found\n');
  // -p followed by an option uses the default timeout
  await run(['-A', '-t', '10.0.0.5:80', '-p', '-s', 'rr']);
  assert.equal(m.service({ af: 4, protocol: 6, addr: '10.0.0.5', port: 80 }).timeout, 360);
  // IPv6 fwmark with prefix
  await run(['-A', '-f', '5', '-6', '-p', '100', '-M', '48']);
  s = m.service({ af: 6, protocol: 6, fwmark: 5 });
  assert.deepEqual([s.af, s.flags, s.timeout, s.netmask], [6, 1, 100, 48]);
  // -M before an IPv6 -t is silently lost (read as IPv4, then reset to 128)
  await run(['-A', '-M', '64', '-t', '[2001:db8::5]:80', '-p']);
  assert.equal(m.service({ af: 6, protocol: 6, addr: '2001:db8::5', port: 80 }).netmask, 128);
  // DR and TUN real servers take the virtual port; -r without port copies it
  await run(['-a', '-t', '10.0.0.1:80', '-r', '192.168.0.2:8080', '-g']);
  await run(['-a', '-t', '10.0.0.1:80', '-r', '192.168.0.3:8080', '-m']);
  await run(['-a', '-t', '10.0.0.1:80', '-r', '192.168.0.4']);
  // -r before -t gets port 0 (masquerading keeps it)
  await run(['-a', '-r', '192.168.0.5', '-m', '-t', '10.0.0.1:80']);
  const dests = m.service({ af: 4, protocol: 6, addr: '10.0.0.1', port: 80 }).dests;
  assert.deepEqual(dests.map((d) => `${d.addr}:${d.port}/${d.fwd}/${d.weight}`).sort(), [
    '192.168.0.2:80/droute/1',
    '192.168.0.3:8080/masq/1',
    '192.168.0.4:80/droute/1',
    '192.168.0.5:0/masq/1',
  ]);
  // -e replaces: weight back to 1, method back to -g
  await run(['-e', '-t', '10.0.0.1:80', '-r', '192.168.0.2', '-w', '7', '-x', '10', '-y', '5']);
  await run(['-e', '-t', '10.0.0.1:80', '-r', '192.168.0.2']);
  const d2 = m
    .service({ af: 4, protocol: 6, addr: '10.0.0.1', port: 80 })
    .dests.find((d) => d.addr === '192.168.0.2')!;
  assert.deepEqual([d2.weight, d2.uThreshold, d2.lThreshold, d2.fwd], [1, 0, 0, 'droute']);
  // -d keeps the typed port (no fix-up)
  const del = await tsvsadm(m, ['-d', '-t', '10.0.0.1:80', '-r', '192.168.0.3:8080']);
  assert.equal(del.status, 0);
  // legacy inet_aton forms and leading zeros
  await run(['-A', '-t', '10.7:080', '-s', 'rr']);
  assert.equal(m.service({ af: 4, protocol: 6, addr: '10.0.0.7', port: 80 }).scheduler, 'rr');
  await run(['-A', '-t', '0x0a000063:http', '-s', 'rr']);
  assert.equal(m.service({ af: 4, protocol: 6, addr: '10.0.0.99', port: 80 }).scheduler, 'rr');
  // [1.2.3.4]:80 is accepted and loses its port; with -p that is allowed
  await run(['-A', '-t', '[10.0.0.77]:80', '-p']);
  assert.equal(m.service({ af: 4, protocol: 6, addr: '10.0.0.77', port: 0 }).port, 0);
  // a tunnel may mix families
  await run([
    '-a',
    '-t',
    '10.0.0.1:80',
    '-r',
    '[2001:db8::9]:80',
    '-i',
    '--tun-type',
    'gue',
    '--tun-port',
    '6080',
  ]);
  const t = m
    .service({ af: 4, protocol: 6, addr: '10.0.0.1', port: 80 })
    .dests.find((d) => d.af === 6)!;
  assert.deepEqual([t.fwd, t.tunType, t.tunPort, t.tunFlags], ['tunnel', 1, 6080, 0]);
  // -Z with and without a service
  await run(['-Z']);
  await run(['-Z', '-t', '10.0.0.1:80']);
  // --set 0 leaves values unchanged
  await run(['--set', '0', '60', '0']);
  assert.deepEqual(m.getTimeouts(), { tcp: 900, tcpfin: 60, udp: 300 });
  // sync daemons (in a fresh model: mixed-family real servers forbid them)
  const m2 = newModel();
  const run2 = async (args: string[]) =>
    assert.deepEqual(await tsvsadm(m2, args), { status: 0, out: '', err: '' });
  await run2([
    '--start-daemon',
    'backup',
    '--mcast-interface',
    'eth1',
    '--syncid',
    '3',
    '--sync-maxlen',
    '1400',
    '--mcast-group',
    'ff02::81',
    '--mcast-port',
    '9000',
    '--mcast-ttl',
    '2',
  ]);
  assert.deepEqual(m2.daemons(), [
    {
      state: 'backup',
      mcastIfn: 'eth1',
      syncId: 3,
      maxLen: 1400,
      mcastGroup: 'ff02::81',
      mcastPort: 9000,
      mcastTtl: 2,
    },
  ]);
  // --stop-daemon with --syncid is accepted
  await run2(['--stop-daemon', 'backup', '--syncid', '3']);
  assert.deepEqual(m2.daemons(), []);
  await run(['-C']);
  assert.deepEqual(m.services(), []);
});
