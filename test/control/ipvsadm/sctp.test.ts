/**
 * SCTP services through tsvsadm as ipvsadm 1.31 has them: `--sctp-service` (no short
 * letter), listed as `SCTP` (one space), saved as `--sctp-service` and restored, the
 * connection listing with the kernel's SCTP state names, /proc/net/ip_vs, and `--set`
 * leaving SCTP's timeouts alone.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { newModel, tsvsadm } from '../helpers.js';
import type { ControlModel } from '../../../src/control/model.js';
import { procIpVs, procIpVsConn } from '../../../src/control/proc.js';
import { sctpPacket, INIT, INIT_ACK, COOKIE_ECHO, COOKIE_ACK } from '../../engine/sctp-packets.js';

async function ok(m: ControlModel, args: string[], stdin?: string): Promise<string> {
  const r = await tsvsadm(m, args, { stdin });
  assert.equal(r.err, '', args.join(' '));
  assert.equal(r.status, 0, args.join(' '));
  return r.out;
}

const HEAD =
  'IP Virtual Server version 1.2.1 (size=4096)\n' +
  'Prot LocalAddress:Port Scheduler Flags\n' +
  '  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n';

async function sctpModel(): Promise<ControlModel> {
  const m = newModel();
  await ok(m, ['-A', '--sctp-service', '10.0.3.100:3868', '-s', 'rr']);
  await ok(m, ['-a', '--sctp-service', '10.0.3.100:3868', '-r', '10.0.2.11:13868', '-m']);
  await ok(m, ['-a', '--sctp-service=10.0.3.100:3868', '-r', '10.0.2.12', '-g', '-w', '3']);
  await ok(m, ['-A', '--sctp-service', '[2001:db8::100]:3868', '-s', 'wlc', '-p', '60']);
  await ok(m, ['-A', '-t', '10.0.3.100:3868']);
  return m;
}

test('-A/-a --sctp-service, listed as SCTP after TCP of the same address and port', async () => {
  const m = await sctpModel();
  assert.equal(
    await ok(m, ['-L', '-n']),
    HEAD +
      'TCP  10.0.3.100:3868 wlc\n' +
      'SCTP 10.0.3.100:3868 rr\n' +
      '  -> 10.0.2.11:13868              Masq    1      0          0         \n' +
      '  -> 10.0.2.12:3868               Route   3      0          0         \n' +
      'SCTP [2001:db8::100]:3868 wlc persistent 60\n',
  );
  assert.equal(
    await ok(m, ['-L', '-n', '--sctp-service', '10.0.3.100:3868']),
    'Prot LocalAddress:Port Scheduler Flags\n' +
      '  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n' +
      'SCTP 10.0.3.100:3868 rr\n' +
      '  -> 10.0.2.11:13868              Masq    1      0          0         \n' +
      '  -> 10.0.2.12:3868               Route   3      0          0         \n',
  );
});

test('-S saves --sctp-service and -R restores the same table', async () => {
  const m = await sctpModel();
  const saved = await ok(m, ['-S', '-n']);
  assert.equal(
    saved,
    '-A -t 10.0.3.100:3868 -s wlc\n' +
      '-A --sctp-service 10.0.3.100:3868 -s rr\n' +
      '-a --sctp-service 10.0.3.100:3868 -r 10.0.2.11:13868 -m -w 1\n' +
      '-a --sctp-service 10.0.3.100:3868 -r 10.0.2.12:3868 -g -w 3\n' +
      '-A --sctp-service [2001:db8::100]:3868 -s wlc -p 60\n',
  );
  const list = await ok(m, ['-L', '-n']);
  await ok(m, ['-C']);
  assert.equal(await ok(m, ['-L', '-n']), HEAD);
  await ok(m, ['-R'], saved);
  assert.equal(await ok(m, ['-L', '-n']), list);
  assert.equal(await ok(m, ['-S', '-n']), saved);
});

test('-D and -E by --sctp-service; a TCP service of the same address is another service', async () => {
  const m = await sctpModel();
  await ok(m, ['-E', '--sctp-service', '10.0.3.100:3868', '-s', 'sh']);
  assert.match(await ok(m, ['-L', '-n']), /SCTP 10\.0\.3\.100:3868 sh\n/);
  await ok(m, ['-D', '--sctp-service', '10.0.3.100:3868']);
  const l = await ok(m, ['-L', '-n']);
  assert.match(l, /TCP {2}10\.0\.3\.100:3868 wlc/);
  assert.doesNotMatch(l, /SCTP 10\.0\.3\.100/);
  const r = await tsvsadm(m, ['-D', '--sctp-service', '10.0.3.100:3868']);
  assert.equal(r.status, 255);
  assert.match(r.err, /No such service/);
});

test('connections list the kernel SCTP state names; /proc/net/ip_vs(_conn) as the kernel', async () => {
  const m = await sctpModel();
  await ok(m, ['-d', '--sctp-service', '10.0.3.100:3868', '-r', '10.0.2.12:3868']);
  const e = m.engine;
  const send = (dir: 'in' | 'out', chunk: number, t: number): void => {
    const p =
      dir === 'in'
        ? sctpPacket({
            src: '10.0.1.2',
            dst: '10.0.3.100',
            sport: 40000,
            dport: 3868,
            chunks: [chunk],
          })
        : sctpPacket({
            src: '10.0.2.11',
            dst: '10.0.1.2',
            sport: 13868,
            dport: 40000,
            chunks: [chunk],
          });
    if (dir === 'in') e.in(p, 0, p.length, t);
    else e.out(p, 0, p.length, t);
  };
  send('in', INIT, 1000);
  send('out', INIT_ACK, 1000);
  assert.equal(
    await ok(m, ['-L', '-n', '-c']),
    'IPVS connection entries\n' +
      'pro expire state       source             virtual            destination\n' +
      'SCTP 01:01  C-SENT      10.0.1.2:40000     10.0.3.100:3868    10.0.2.11:13868\n',
  );
  send('in', COOKIE_ECHO, 1000);
  send('out', COOKIE_ACK, 1000);
  assert.match(await ok(m, ['-L', '-n', '-c']), /SCTP 15:00 {2}ESTABLISHED 10\.0\.1\.2:40000/);
  assert.match(
    await ok(m, ['-L', '-n']),
    /SCTP 10\.0\.3\.100:3868 rr\n {2}-> 10\.0\.2\.11:13868 {14}Masq {4}1 {6}1 {10}0/,
  );
  assert.match(
    procIpVs(m),
    /\nSCTP {2}0A000364:0F1C rr {2}\n {2}-> 0A00020B:362C {6}Masq {4}1 {6}1 {10}0/,
  );
  assert.match(
    procIpVsConn(m),
    /\nSCTP 0A000102 9C40 0A000364 0F1C 0A00020B 362C ESTABLISHED {5}900\n/,
  );
});

test('--set changes TCP and UDP only; SCTP conns keep sctp_timeouts', async () => {
  const m = await sctpModel();
  await ok(m, ['--set', '7', '8', '9']);
  assert.equal(await ok(m, ['-L', '--timeout']), 'Timeout (tcp tcpfin udp): 7 8 9\n');
  const p = sctpPacket({
    src: '10.0.1.2',
    dst: '10.0.3.100',
    sport: 1,
    dport: 3868,
    chunks: [INIT],
  });
  m.engine.in(p, 0, p.length, 0);
  const id = m.engine.result.conn;
  assert.equal(m.engine.conns.timeout[id], 4000, 'INIT1: 4 s');
});
