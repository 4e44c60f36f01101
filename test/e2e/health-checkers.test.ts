/**
 * keepalived's checkers run by the real daemon (`tsvs daemon --keepalived FILE`)
 * against real servers in the lab's namespaces: SSL_GET against nginx with a
 * certificate made by openssl, SMTP_CHECK against an SMTP responder, DNS_CHECK against
 * dnsmasq, UDP_CHECK against a socat echo (and a port nobody listens on), PING_CHECK
 * against a real server and an address nobody has, FILE_CHECK following a file; a real
 * server whose checker cannot run (fwmark) is kept out. Each up, down, and back.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Lab, bg, e2eUnavailable, sh, waitFor, type Daemon } from './harness.js';
import { nativeAvailable } from '../../src/dataplane/native.js';

const skip = e2eUnavailable() ?? (nativeAvailable() ? null : 'native addon not built');

describe('e2e keepalived checkers', { skip: skip ?? false, timeout: 60_000 }, () => {
  let lab: Lab;
  let d: Daemon;
  let smtp: ChildProcess | undefined;
  const SMTP_JS = `require('net').createServer(s=>{s.write('220 rs ESMTP\\r\\n');s.on('data',d=>{d=String(d);if(d.startsWith('HELO'))s.write('250 rs\\r\\n');else if(d.startsWith('QUIT'))s.end('221 bye\\r\\n')})}).listen(25,'0.0.0.0')`;
  const dests = async (port: number, proto = 6): Promise<string[]> =>
    (
      (await d.client.call({ cmd: 'listServices' })).find(
        (s) => s.port === port && s.protocol === proto && s.af === 4,
      )?.dests ?? []
    )
      .map((x) => `${x.addr}:${x.port}/${x.weight}`)
      .sort();
  const flag = (): string => join(lab.dir, 'rs1.state');

  before(async () => {
    lab = Lab.up('e2ekachk');
    const [r1, r2] = [lab.env.rs[0].ip4, lab.env.rs[1].ip4];
    const vip = lab.env.vip4;
    const dir = lab.dir;
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=rs1'].concat([
        '-keyout',
        join(dir, 'rs.key'),
        '-out',
        join(dir, 'rs.crt'),
      ]),
      { stdio: 'ignore' },
    );
    writeFileSync(
      join(dir, 'nginx.conf'),
      `daemon off; pid ${dir}/nginx.pid; error_log ${dir}/nginx.err;
events {}
http { access_log off; client_body_temp_path ${dir}; proxy_temp_path ${dir};
  fastcgi_temp_path ${dir}; uwsgi_temp_path ${dir}; scgi_temp_path ${dir};
  server { listen ${r1}:443 ssl; ssl_certificate ${dir}/rs.crt; ssl_certificate_key ${dir}/rs.key;
    location /health { return 200 "status: healthy\\n"; } } }
`,
    );
    lab.track(bg(lab.ns.rs1, 'nginx', ['-c', join(dir, 'nginx.conf')]));
    smtp = lab.track(bg(lab.ns.rs1, process.execPath, ['-e', SMTP_JS]));
    lab.track(
      bg(lab.ns.rs1, 'dnsmasq', [
        '--no-daemon',
        '--port=53',
        `--listen-address=${r1}`,
        '--bind-interfaces',
        '--no-resolv',
        '--no-hosts',
        '--address=/check.lab/10.9.9.9',
        `--pid-file=${dir}/dnsmasq.pid`,
      ]),
    );
    lab.track(bg(lab.ns.rs1, 'socat', ['UDP4-RECVFROM:9000,fork', 'EXEC:cat']));
    lab.http(1, 8080);
    // counts the director's marked SYNs towards rs2:8080 (TCP_CHECK fwmark 3)
    await sh(lab.ns.director, 'iptables', [
      '-t',
      'mangle',
      '-A',
      'OUTPUT',
      '-p',
      'tcp',
      '--dport',
      '8080',
      '--syn',
      '-m',
      'mark',
      '--mark',
      '3',
      '-j',
      'ACCEPT',
    ]);
    writeFileSync(flag(), '0\n');
    // every probe of the closed UDP port gets its port unreachable (not rate-limited)
    await sh(lab.ns.rs2, 'sysctl', ['-qw', 'net.ipv4.icmp_ratelimit=0']);
    const timers = 'connect_timeout 1 warmup 0 retry 1 delay_before_retry 0.2';
    const conf = `
global_defs { router_id e2e }
SSL { }
track_file rs1_state { file ${flag()} weight 0 }
track_file rs2_load { file ${join(dir, 'rs2.load')} weight 2 }
virtual_server ${vip} 443 {
  delay_loop 0.5
  lvs_sched rr
  lvs_method NAT
  protocol TCP
  real_server ${r1} 443 { SSL_GET { url { path /health regex "healthy" } ${timers} } }
  real_server ${r2} 443 { SSL_GET { url { path /health } ${timers} } }
}
virtual_server ${vip} 25 {
  delay_loop 0.5
  lvs_sched rr
  lvs_method NAT
  protocol TCP
  real_server ${r1} 25 { SMTP_CHECK { helo_name director.lab ${timers} } }
  real_server ${r2} 25 { SMTP_CHECK { ${timers} } }
}
virtual_server ${vip} 53 {
  delay_loop 0.5
  lvs_sched rr
  lvs_method NAT
  protocol UDP
  real_server ${r1} 53 { DNS_CHECK { type A name check.lab ${timers} } }
  real_server ${r2} 53 { DNS_CHECK { ${timers} } }
}
virtual_server ${vip} 9000 {
  delay_loop 0.5
  lvs_sched rr
  lvs_method NAT
  protocol UDP
  real_server ${r1} 9000 { UDP_CHECK { payload 6b 61 require_reply 6b61 ${timers} } }
  real_server ${r2} 9000 { UDP_CHECK { ${timers} } }
}
virtual_server ${vip} 7 {
  delay_loop 0.5
  lvs_sched rr
  lvs_method NAT
  protocol TCP
  real_server ${r1} 7 { PING_CHECK { fwmark 3 ${timers} } }
  real_server ${r2} 7 { PING_CHECK { ${timers} } }
  real_server 10.255.255.254 7 { PING_CHECK { ${timers} } }
}
virtual_server ${lab.env.vip6} 7 {
  delay_loop 0.5
  lvs_sched rr
  lvs_method NAT
  protocol TCP
  real_server ${lab.env.rs[0].ip6} 7 { PING_CHECK { ${timers} } }
  real_server ${lab.env.rs[1].ip6} 7 { UDP_CHECK { connect_port 9 require_reply ${timers} } }
}
virtual_server ${vip} 8 {
  delay_loop 0.5
  lvs_sched rr
  lvs_method NAT
  protocol TCP
  real_server ${r1} 8 { FILE_CHECK { track_file rs1_state } }
  real_server ${r2} 8 {
    TCP_CHECK { fwmark 3 connect_port 8080 ${timers} }
    FILE_CHECK { track_file rs2_load }
  }
  real_server 10.255.255.253 8 { BFD_CHECK { name bfd1 } }
}
`;
    const file = join(dir, 'keepalived.conf');
    writeFileSync(file, conf);
    d = await lab.daemon(['--keepalived', file, '--ignore-config-errors']);
  });

  after(async () => {
    await lab?.down();
  });

  test('each checker takes its live real server in and leaves the dead one out', async () => {
    const [r1, r2] = [lab.env.rs[0].ip4, lab.env.rs[1].ip4];
    const want: [number, number, string[]][] = [
      [443, 6, [`${r1}:443/1`]],
      [25, 6, [`${r1}:25/1`]],
      [53, 17, [`${r1}:53/1`]],
      [9000, 17, [`${r1}:9000/1`]],
      [7, 6, [`${r1}:7/1`, `${r2}:7/1`]],
      [8, 6, [`${r1}:8/1`, `${r2}:8/1`]],
    ];
    // IPv6: the echo through the raw ICMPv6 socket; no reply on a closed port is down
    const v6 = (): Promise<string[]> =>
      d.client
        .call({ cmd: 'listServices' })
        .then((l) =>
          (l.find((x) => x.addr === lab.env.vip6 && x.port === 7)?.dests ?? []).map((x) => x.addr),
        );
    await waitFor(
      'the IPv6 service to hold rs1 only',
      15_000,
      async () => (await v6()).join() === lab.env.rs[0].ip6,
    );
    try {
      await waitFor('every dead real server to leave', 15_000, async () => {
        for (const [port, proto, only] of want)
          if ((await dests(port, proto)).join() !== only.join()) return false;
        return true;
      });
    } catch (e) {
      const now = await Promise.all(want.map(([p, pr]) => dests(p, pr)));
      throw new Error(
        `${(e as Error).message}: ${JSON.stringify(now)} log: ${d.log.slice(-30).join(' | ')}`,
      );
    }
    for (const [port, proto, only] of want) assert.deepEqual(await dests(port, proto), only);
    // the mark is really on the checker's packets
    const m = await sh(lab.ns.director, 'iptables', [
      '-t',
      'mangle',
      '-L',
      'OUTPUT',
      '-v',
      '-n',
      '-x',
    ]);
    const marked = /^\s*(\d+)\s+\d+\s+ACCEPT.*mark match 0x3/m.exec(m.stdout);
    assert.ok(marked && Number(marked[1]) > 0, m.stdout);
    // a checker that cannot run keeps its real server out, with the reason in the log
    assert.ok(
      d.log.some((l) => /BFD_CHECK - BFD bfd1 not configured/.test(l)),
      d.log.join('\n'),
    );
  });

  test('SMTP: the server stops, its real server leaves after the retry, and comes back', async () => {
    const r1 = lab.env.rs[0].ip4;
    smtp?.kill('SIGKILL');
    await waitFor('rs1 to leave port 25', 10_000, async () => (await dests(25)).length === 0);
    smtp = lab.track(bg(lab.ns.rs1, process.execPath, ['-e', SMTP_JS]));
    await waitFor('rs1 to return to port 25', 10_000, async () =>
      (await dests(25)).includes(`${r1}:25/1`),
    );
  });

  test('FILE_CHECK: a non-zero value takes the real server out, 0 brings it back; a weight adds to the real server', async () => {
    const r1 = lab.env.rs[0].ip4;
    writeFileSync(flag(), '1\n');
    await waitFor(
      'rs1 to leave port 8',
      10_000,
      async () => !(await dests(8)).includes(`${r1}:8/1`),
    );
    writeFileSync(flag(), '0\n');
    // a weighted track_file adds value × weight to the real server's weight
    const r2 = lab.env.rs[1].ip4;
    writeFileSync(join(lab.dir, 'rs2.load'), '3\n');
    await waitFor('rs2 to weigh 1 + 3 × 2 on port 8', 10_000, async () =>
      (await dests(8)).includes(`${r2}:8/7`),
    );
    writeFileSync(join(lab.dir, 'rs2.load'), '0\n');
    await waitFor('rs2 back to weight 1', 10_000, async () =>
      (await dests(8)).includes(`${r2}:8/1`),
    );
    await waitFor('rs1 to return to port 8', 10_000, async () =>
      (await dests(8)).includes(`${r1}:8/1`),
    );
  });
});
