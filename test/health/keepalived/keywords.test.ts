/**
 * Every LVS keyword keepalived 2.2 registers is known to the reader and documented with
 * the same status in docs/keepalived.md; a refused keyword is reported with its line,
 * and a block of keepalived's own is noted, never passed over in silence.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  GLOBAL_KEYWORDS,
  ROOT_KEYWORDS,
  RS_KEYWORDS,
  VS_KEYWORDS,
  type KeywordInfo,
} from '../../../src/health/keepalived/keywords.js';
import { parseKeepalived } from '../../../src/health/keepalived.js';

const doc = readFileSync(new URL('../../../../docs/keepalived.md', import.meta.url), 'utf8');

/** keyword → status column, for the table under `### heading`. */
function table(heading: string): Map<string, string> {
  const start = doc.indexOf(`### ${heading}\n`);
  assert.ok(start >= 0, heading);
  const end = doc.indexOf('\n### ', start + 4);
  const out = new Map<string, string>();
  for (const row of doc.slice(start, end < 0 ? undefined : end).split('\n')) {
    const cols = row.split('|').map((c) => c.trim());
    if (cols.length < 4) continue;
    for (const m of cols[1].matchAll(/`([^`]+)`/g)) out.set(m[1], cols[2]);
  }
  return out;
}

const STATUS: Record<KeywordInfo['status'], string> = {
  supported: 'supported',
  refused: 'refused',
  keepalived: "keepalived's own",
};

for (const [heading, kws] of [
  ['Top level', ROOT_KEYWORDS],
  ['global_defs (the LVS part)', GLOBAL_KEYWORDS],
  ['virtual_server', VS_KEYWORDS],
  ['real_server', RS_KEYWORDS],
] as const) {
  test(`docs/keepalived.md: every ${heading} keyword, with its status`, () => {
    const t = table(heading);
    for (const [kw, info] of Object.entries(kws))
      assert.equal(t.get(kw), STATUS[info.status], `${heading}: ${kw}`);
  });
}

test("keepalived 2.2's virtual_server and real_server keywords are all known", () => {
  // check_parser.c's init_check_keywords, v2.2.7
  const vs = `ip_family retry delay_before_retry warmup connect_timeout delay_loop inhibit_on_failure
    lb_algo lvs_sched hashed ops flag-1 flag-2 flag-3 sh-port sh-fallback mh-port mh-fallback
    lb_kind lvs_method persistence_engine persistence_timeout persistence_granularity protocol
    ha_suspend smtp_alert virtualhost snmp_name alpha omega quorum_up quorum_down quorum
    hysteresis weight sorry_server sorry_server_inhibit sorry_server_lvs_method real_server`;
  const rs = `weight lvs_method uthreshold lthreshold inhibit_on_failure notify_up notify_down alpha
    retry delay_before_retry warmup connect_timeout delay_loop smtp_alert virtualhost snmp_name`;
  for (const k of vs.split(/\s+/)) assert.ok(Object.hasOwn(VS_KEYWORDS, k), k);
  for (const k of rs.split(/\s+/)) assert.ok(Object.hasOwn(RS_KEYWORDS, k), k);
});

test('refused keywords are reported with their line; keepalived blocks are noted', () => {
  const cfg = parseKeepalived(`global_defs {
  router_id X
  checker_priority 10
  smtp_alert_checker
}
vrrp_instance VI_1 {
  state MASTER
}
virtual_server 10.0.0.1 80 {
  lvs_sched rr
  lvs_method NAT
  protocol TCP
  smtp_alert
  snmp_name web
  real_server 10.0.1.1 80 {
    smtp_alert off
  }
}
frobnicate {
}`);
  assert.deepEqual(cfg.errors, []);
  assert.deepEqual(cfg.warnings, [
    "line 3: 'checker_priority' is not supported by tsvs (tsvs runs the checks in its daemon, not in a checker process of keepalived's; set its priority and affinity with systemd), ignored",
    "line 4: 'smtp_alert_checker' is not supported by tsvs (tsvs sends no e-mail; use notify scripts or the notify FIFO), ignored",
    "line 13: 'smtp_alert' is not supported by tsvs (tsvs sends no e-mail; use notify scripts or the notify FIFO), ignored",
    "line 14: 'snmp_name' is not supported by tsvs (tsvs has no SNMP agent; its figures are on the Prometheus endpoint), ignored",
    "line 16: 'smtp_alert' is not supported by tsvs (tsvs sends no e-mail; use notify scripts or the notify FIFO), ignored",
    "line 19: unknown keyword 'frobnicate' in the top level (block skipped), ignored",
  ]);
  assert.deepEqual(cfg.notes, [
    "line 2: global_defs 'router_id' is keepalived's own, not read by tsvs",
    "line 6: vrrp_instance VI_1 is keepalived's own (VRRP): not read by tsvs",
  ]);
});
