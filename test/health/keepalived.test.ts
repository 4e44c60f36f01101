/**
 * The keepalived.conf reader as a whole (spec keepalived-lvs-reference §6): the worked
 * example parses to exactly the described service.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseKeepalived, type KaVirtualServer } from '../../src/health/keepalived.js';

test('the worked example (§6) parses to exactly the described service', () => {
  const text = `virtual_server 192.168.10.100 80 {
    delay_loop 6
    lvs_sched wlc
    lvs_method NAT
    protocol TCP
    persistence_timeout 300
    quorum 2
    sorry_server 10.0.0.250 80

    real_server 10.0.0.11 80 {
        weight 3
        TCP_CHECK {
            connect_timeout 3
            retry 2
            delay_before_retry 2
        }
    }
    real_server 10.0.0.12 8080 {
        weight 1
        inhibit_on_failure
        HTTP_GET {
            url { path /health status_code 200 }
            connect_timeout 3
        }
    }
}
`;
  const cfg = parseKeepalived(text);
  assert.deepEqual(cfg.warnings, []);
  assert.deepEqual(cfg.errors, []);
  assert.equal(cfg.lvsFlush, false);
  assert.equal(cfg.lvsTimeouts, undefined);
  assert.equal(cfg.syncDaemon, undefined);
  const expected: KaVirtualServer = {
    kind: 'addr',
    af: 4,
    protocol: 6,
    addr: '192.168.10.100',
    port: 80,
    fwmark: 0,
    scheduler: 'wlc',
    method: 'masq',
    persistenceTimeout: 300,
    ops: false,
    schedFlags: [],
    quorum: 2,
    hysteresis: 0,
    sorryServer: { addr: '10.0.0.250', port: 80, method: 'masq' },
    sorryServerInhibit: false,
    inhibitOnFailure: false,
    alpha: false,
    haSuspend: false,
    omega: false,
    delayLoop: 6,
    connectTimeout: 5,
    retry: 1,
    line: 1,
    realServers: [
      {
        addr: '10.0.0.11',
        port: 80,
        weight: 3,
        method: 'masq',
        uThreshold: 0,
        lThreshold: 0,
        inhibitOnFailure: false,
        alpha: false,
        line: 10,
        unusableCheckers: [],
        checkers: [
          {
            type: 'TCP_CHECK',
            connectTimeout: 3,
            retry: 2,
            delayBeforeRetry: 2,
            delayLoop: 6,
            alpha: false,
            urls: [],
            miscDynamic: false,
            line: 12,
          },
        ],
      },
      {
        addr: '10.0.0.12',
        port: 8080,
        weight: 1,
        method: 'masq',
        uThreshold: 0,
        lThreshold: 0,
        inhibitOnFailure: true,
        alpha: false,
        line: 18,
        unusableCheckers: [],
        checkers: [
          {
            type: 'HTTP_GET',
            connectTimeout: 3,
            retry: 1,
            delayBeforeRetry: 3,
            delayLoop: 6,
            alpha: false,
            urls: [{ path: '/health', statusCodes: [[200, 200]] }],
            miscDynamic: false,
            line: 21,
          },
        ],
      },
    ],
  };
  assert.deepEqual(cfg.virtualServers, [expected]);
});
