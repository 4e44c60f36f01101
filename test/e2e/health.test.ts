/**
 * Health checks run by the real daemon from a keepalived.conf (`tsvs daemon
 * --keepalived FILE`), against real servers in the lab: a real server whose check
 * fails leaves the service (traffic goes to the other one), comes back when its check
 * passes again; with `inhibit_on_failure` it stays at weight 0; below the quorum the
 * sorry server stands in, and quorum_up/quorum_down, notify_down/notify_up and the
 * notify FIFO's lines follow in keepalived's format; a virtual_server_group's addresses
 * each carry traffic; a clean stop (SIGINT; SIGTERM is a planned restart that keeps the table) removes keepalived's services and, with `omega`,
 * sends the down notifications.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { Lab, e2eUnavailable, serversListening, sh, waitFor, type Daemon } from './harness.js';
import type { ServiceEntry } from '../../src/control/model.js';

const skip = e2eUnavailable();

describe(
  'e2e health checks from a keepalived.conf',
  { skip: skip ?? false, timeout: 120_000 },
  () => {
    let lab: Lab;
    let d: Daemon;
    const servers = new Map<string, ChildProcess>();
    const serve = (i: 0 | 1, port: number): void => {
      servers.set(`${i}:${port}`, lab.http(i, port));
    };
    const kill = (i: 0 | 1, port: number): void => {
      servers.get(`${i}:${port}`)?.kill('SIGKILL');
      servers.delete(`${i}:${port}`);
    };
    const service = async (port: number): Promise<ServiceEntry | undefined> =>
      (await d.client.call({ cmd: 'listServices' })).find((s) => s.port === port);
    const dests = async (port: number): Promise<string[]> =>
      ((await service(port))?.dests ?? []).map((x) => `${x.addr}:${x.port}/${x.weight}`).sort();

    before(async () => {
      lab = Lab.up('e2ehealth');
      for (const i of [0, 1] as const) for (const p of [8080, 8082]) serve(i, p);
      serve(0, 8083); // the sorry server
      await serversListening(lab, [8080, 8082]);
      const [r1, r2] = [lab.env.rs[0].ip4, lab.env.rs[1].ip4];
      const note = (what: string) =>
        `"/bin/sh -c 'echo ${what} >> ${join(lab.dir, 'notify.log')}'"`;
      const conf = `
! a keepalived.conf as operators write them
global_defs {
   router_id tsvs_e2e
   lvs_timeouts tcp 7200 tcpfin 120 udp 300
   lvs_notify_fifo ${join(lab.dir, 'fifo')}
   lvs_notify_fifo_script "/bin/sh -c 'cat $0 >> ${join(lab.dir, 'fifo.log')}'"
}
vrrp_instance VI_1 {
    state MASTER
    interface eth0
    virtual_router_id 51
    virtual_ipaddress { ${lab.env.vip4} }
}
virtual_server ${lab.env.vip4} 80 {
    delay_loop 1
    lvs_sched rr
    lvs_method NAT
    protocol TCP
    real_server ${r1} 8080 {
        weight 1
        TCP_CHECK { connect_timeout 1  warmup 0  retry 1  delay_before_retry 0.3 }
    }
    real_server ${r2} 8080 {
        weight 1
        HTTP_GET {
            url { path /  status_code 200 }
            connect_timeout 1
            warmup 0
            retry 1
            delay_before_retry 0.3
        }
    }
}
virtual_server ${lab.env.vip4} 81 {
    delay_loop 1
    lb_algo wrr
    lb_kind NAT
    protocol TCP
    inhibit_on_failure
    real_server ${r2} 8080 {
        weight 3
        TCP_CHECK { connect_timeout 1  warmup 0  retry 0 }
    }
}
virtual_server ${lab.env.vip4} 82 {
    delay_loop 1
    lvs_sched rr
    lvs_method NAT
    protocol TCP
    quorum 2
    omega
    quorum_up ${note('quorum-up')}
    quorum_down ${note('quorum-down')}
    sorry_server ${r1} 8083
    real_server ${r1} 8082 { weight 1  TCP_CHECK { connect_timeout 1  warmup 0  retry 0 } }
    real_server ${r2} 8082 {
        weight 1
        notify_up ${note('rs2-up')}
        notify_down ${note('rs2-down')}
        TCP_CHECK { connect_timeout 1  warmup 0  retry 0 }
    }
}
virtual_server_group WEB {
    ${lab.env.vip4} 84
    ${lab.env.vip4} 85
}
virtual_server group WEB {
    delay_loop 1
    lvs_sched rr
    lvs_method NAT
    protocol TCP
    real_server ${r1} 8080 { TCP_CHECK { connect_timeout 1  warmup 0 } }
}
virtual_server_group WEB6 {
    ${lab.env.vip6} 86
}
virtual_server group WEB6 {
    delay_loop 1
    lvs_sched rr
    lvs_method NAT
    protocol TCP
    real_server ${lab.env.rs[1].ip6} 8080 { TCP_CHECK { connect_timeout 1  warmup 0 } }
}
`;
      const file = join(lab.dir, 'keepalived.conf');
      writeFileSync(file, conf);
      d = await lab.daemon(['--keepalived', file, '--metrics', '127.0.0.1:9102']);
    });

    after(async () => {
      await lab?.down();
    });

    test('the virtual servers are created with every real server that passes its check', async () => {
      const [r1, r2] = [lab.env.rs[0].ip4, lab.env.rs[1].ip4];
      assert.deepEqual(await dests(80), [`${r1}:8080/1`, `${r2}:8080/1`]);
      assert.equal((await service(81))?.scheduler, 'wrr');
      assert.deepEqual(await dests(81), [`${r2}:8080/3`]);
      assert.deepEqual(await dests(82), [`${r1}:8082/1`, `${r2}:8082/1`]);
      const t = await d.client.call({ cmd: 'getTimeouts' });
      assert.deepEqual(t, { tcp: 7200, tcpfin: 120, udp: 300 });
      const seen = new Set<string>();
      for (let i = 0; i < 4; i++)
        seen.add(
          (await lab.client('curl', ['-s', '-m', '5', `http://${lab.env.vip4}/`])).stdout.trim(),
        );
      assert.deepEqual([...seen].sort(), ['rs1', 'rs2']);
    });

    test('a failing real server leaves (or is set to weight 0), and comes back', async () => {
      const [r1, r2] = [lab.env.rs[0].ip4, lab.env.rs[1].ip4];
      kill(1, 8080);
      await waitFor('rs2 to leave service 80', 10_000, async () => (await dests(80)).length === 1);
      assert.deepEqual(await dests(80), [`${r1}:8080/1`]);
      // inhibit_on_failure: still there, weight 0
      await waitFor('rs2 to be quiesced in service 81', 10_000, async () =>
        (await dests(81)).includes(`${r2}:8080/0`),
      );
      for (let i = 0; i < 4; i++) {
        const r = await lab.client('curl', ['-s', '-m', '5', `http://${lab.env.vip4}/`]);
        assert.equal(r.stdout.trim(), 'rs1');
      }
      // the metrics say so too
      const m = await sh(lab.ns.director, 'curl', [
        '-s',
        '-m',
        '5',
        'http://127.0.0.1:9102/metrics',
      ]);
      const up = (server: string): string =>
        m.stdout
          .split('\n')
          .find((l) =>
            l.startsWith(
              `tsvs_health_server_up{family="ipv4",protocol="TCP",address="${lab.env.vip4}",port="80",mark="",server_address="${server}",server_port="8080"}`,
            ),
          ) ?? '';
      assert.match(up(r2), / 0$/);
      assert.match(up(r1), / 1$/);
      assert.ok(
        d.log.some((l) =>
          l.includes(`real server [${r2}]:tcp:8080 of VS [${lab.env.vip4}]:tcp:80 is DOWN`),
        ),
        d.log.join('\n'),
      );
      serve(1, 8080);
      await waitFor('rs2 to come back', 10_000, async () => (await dests(80)).length === 2);
      await waitFor('rs2 weight 3 again in service 81', 10_000, async () =>
        (await dests(81)).includes(`${r2}:8080/3`),
      );
    });

    test('below the quorum the sorry server stands in, and leaves when it is regained', async () => {
      const [r1, r2] = [lab.env.rs[0].ip4, lab.env.rs[1].ip4];
      kill(1, 8082);
      await waitFor('the sorry server', 10_000, async () => {
        const l = await dests(82);
        return l.length === 1 && l[0] === `${r1}:8083/1`;
      });
      serve(1, 8082);
      await waitFor('the real servers back', 10_000, async () => {
        const l = await dests(82);
        return l.length === 2 && l.includes(`${r1}:8082/1`) && l.includes(`${r2}:8082/1`);
      });
      // the scripts ran (two started together may append in either order)
      const log = (): string[] =>
        existsSync(join(lab.dir, 'notify.log'))
          ? readFileSync(join(lab.dir, 'notify.log'), 'utf8').split('\n').filter(Boolean)
          : [];
      await waitFor('the notify scripts', 10_000, async () => log().length >= 5);
      const l = log();
      assert.equal(l[0], 'quorum-up', 'quorum_up at start: the quorum is met');
      assert.deepEqual(l.slice(1, 3).sort(), ['quorum-down', 'rs2-down']);
      assert.deepEqual(l.slice(3, 5).sort(), ['quorum-up', 'rs2-up']);
    });

    test('virtual_server_groups (IPv4 and IPv6): each address of the group is a service that carries traffic', async () => {
      const r1 = lab.env.rs[0].ip4;
      assert.deepEqual(await dests(84), [`${r1}:8080/1`]);
      assert.deepEqual(await dests(85), [`${r1}:8080/1`]);
      for (const port of [84, 85]) {
        const r = await lab.client('curl', ['-s', '-m', '5', `http://${lab.env.vip4}:${port}/`]);
        assert.equal(r.stdout.trim(), 'rs1');
      }
      // an IPv6 group
      assert.deepEqual(await dests(86), [`${lab.env.rs[1].ip6}:8080/1`]);
      const r6 = await lab.client('curl', ['-s', '-g', '-m', '5', `http://[${lab.env.vip6}]:86/`]);
      assert.equal(r6.stdout.trim(), 'rs2');
    });

    test("the notify FIFO got keepalived's lines; a stop removes the services and, with omega, says so", async () => {
      const [r1, r2] = [lab.env.rs[0].ip4, lab.env.rs[1].ip4];
      const vip = lab.env.vip4;
      const fifo = (): string[] =>
        existsSync(join(lab.dir, 'fifo.log'))
          ? readFileSync(join(lab.dir, 'fifo.log'), 'utf8').split('\n').filter(Boolean)
          : [];
      const got = fifo();
      for (const line of [
        `VS [${vip}]:tcp:82 UP`,
        `RS [${r2}]:tcp:8080 [${vip}]:tcp:80 DOWN`,
        `RS [${r2}]:tcp:8080 [${vip}]:tcp:80 UP`,
        `RS [${r2}]:tcp:8082 [${vip}]:tcp:82 DOWN`,
        `VS [${vip}]:tcp:82 DOWN`,
        `RS [${r2}]:tcp:8082 [${vip}]:tcp:82 UP`,
        `VS [${vip}]:tcp:80 UP`,
        `VS [WEB]:0 UP`,
      ])
        assert.ok(got.includes(line), `${line} in ${JSON.stringify(got)}`);
      const n = got.length;
      await d.stop('SIGINT');
      await waitFor(
        'the omega lines',
        10_000,
        async () => fifo().includes(`VS [${vip}]:tcp:82 DOWN`) && fifo().length >= n + 3,
      );
      const after = fifo().slice(n);
      assert.ok(after.includes(`RS [${r1}]:tcp:8082 [${vip}]:tcp:82 DOWN`), JSON.stringify(after));
      assert.ok(after.includes(`VS [${vip}]:tcp:82 DOWN`), JSON.stringify(after));
      assert.ok(!after.some((l) => l.includes(':80 ')), 'no omega on the others: no lines');
      assert.ok(!existsSync(join(lab.dir, 'fifo')), 'the FIFO is removed');
    });
  },
);
