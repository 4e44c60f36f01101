/**
 * The established-flow fast path on /metrics (src/metrics/fastpath.ts,
 * docs/metrics.md): the tsvs_fastpath_* families with their types, HELP and values in
 * the Prometheus text (accepted by `promtool check metrics`) and in OpenMetrics; the
 * state and reason a real director's Fastpath reports when it is disabled, not started
 * or refused; nothing without a fast path behind the source; and the report is taken
 * before the engine's figures, so what the daemon folds there is in the same scrape.
 * (test/e2e/fastpath.test.ts checks the counts with real traffic.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { Engine } from '../../src/engine/engine.js';
import { ControlModel } from '../../src/control/model.js';
import { Director } from '../../src/dataplane/director.js';
import {
  createMetrics,
  fastpathReport,
  FASTPATH_STATES,
  type FastpathReport,
} from '../../src/metrics/prometheus.js';

const COUNTERS = [
  'tsvs_fastpath_flows_inserted_total',
  'tsvs_fastpath_flows_removed_total',
  'tsvs_fastpath_packets_total',
  'tsvs_fastpath_bytes_total',
  'tsvs_fastpath_map_errors_total',
];
const GAUGES = ['tsvs_fastpath_active', 'tsvs_fastpath_info', 'tsvs_fastpath_flows'];

function promtool(body: string): void {
  const r = spawnSync('promtool', ['check', 'metrics'], { input: body, encoding: 'utf8' });
  assert.ifError(r.error);
  assert.equal(r.status, 0, `promtool: ${r.stdout}${r.stderr}`);
}

async function render(
  report: (() => FastpathReport) | undefined,
  openMetrics = false,
): Promise<string> {
  const model = new ControlModel(new Engine());
  const exp = createMetrics({ model, fastpath: report }, { defaultMetrics: false });
  return (await exp.render(openMetrics)).body;
}

/** The value of the one sample `name{labels}` (labels as written, '' none). */
function value(body: string, name: string, labels = ''): number {
  const head = labels ? `${name}{${labels}} ` : `${name} `;
  const l = body.split('\n').filter((x) => x.startsWith(head));
  assert.equal(l.length, 1, `${head} in\n${body}`);
  return Number(l[0].slice(head.length));
}

const LOADED: FastpathReport = {
  state: 'active',
  reason: '',
  inserted: 7,
  removed: 5,
  flows: 2,
  packets: 123456,
  bytes: 98765432,
  errors: 1,
};

test('tsvs_fastpath_* families: types, HELP, values; promtool; OpenMetrics', async () => {
  const body = await render(() => LOADED);
  promtool(body);
  for (const n of COUNTERS) {
    assert.match(body, new RegExp(`^# TYPE ${n} counter$`, 'm'));
    assert.match(body, new RegExp(`^# HELP ${n} \\S.{20,}$`, 'm'));
  }
  for (const n of GAUGES) {
    assert.match(body, new RegExp(`^# TYPE ${n} gauge$`, 'm'));
    assert.match(body, new RegExp(`^# HELP ${n} \\S.{20,}$`, 'm'));
  }
  assert.equal(value(body, 'tsvs_fastpath_active'), 1);
  assert.equal(value(body, 'tsvs_fastpath_info', 'state="active",reason=""'), 1);
  assert.equal(value(body, 'tsvs_fastpath_flows'), 2);
  assert.equal(value(body, 'tsvs_fastpath_flows_inserted_total'), 7);
  assert.equal(value(body, 'tsvs_fastpath_flows_removed_total'), 5);
  assert.equal(value(body, 'tsvs_fastpath_packets_total'), 123456);
  assert.equal(value(body, 'tsvs_fastpath_bytes_total'), 98765432);
  assert.equal(value(body, 'tsvs_fastpath_map_errors_total'), 1);

  // suspended by a defence: loaded but taking no flows
  const sus = await render(() => ({ ...LOADED, state: 'suspended', reason: 'drop_packet' }));
  promtool(sus);
  assert.equal(value(sus, 'tsvs_fastpath_active'), 0);
  assert.equal(value(sus, 'tsvs_fastpath_info', 'state="suspended",reason="drop_packet"'), 1);

  // OpenMetrics: counter families without _total, their samples with it; EOF
  const om = await render(() => LOADED, true);
  for (const n of COUNTERS) {
    const fam = n.slice(0, -'_total'.length);
    assert.match(om, new RegExp(`^# TYPE ${fam} counter$`, 'm'));
    assert.match(om, new RegExp(`^# HELP ${fam} \\S`, 'm'));
  }
  for (const n of GAUGES) assert.match(om, new RegExp(`^# TYPE ${n} gauge$`, 'm'));
  assert.equal(value(om, 'tsvs_fastpath_packets_total'), 123456);
  assert.equal(value(om, 'tsvs_fastpath_bytes_total'), 98765432);
  assert.equal(value(om, 'tsvs_fastpath_flows'), 2);
  assert.equal(value(om, 'tsvs_fastpath_info', 'state="active",reason=""'), 1);
  assert.ok(om.trimEnd().endsWith('# EOF'));
});

test("a real director's fast path: disabled, not started, refused; zero counts", async () => {
  const cases: [Director, string, RegExp][] = [
    [new Director({ name: 'e2efpm-off', fastpath: false }), 'disabled', /--no-fastpath/],
    [new Director({ name: 'e2efpm-new' }), 'stopped', /not started/],
  ];
  // refused: the object cannot be found (what the kernel refusing it leads to as well)
  const refused = new Director({ name: 'e2efpm-ref', log: () => undefined });
  const before = process.env.TSVS_BPF_OBJ;
  process.env.TSVS_BPF_OBJ = '/nonexistent/e2efpm "fastpath".o';
  try {
    assert.equal(await refused.fastpath.load(), false);
  } finally {
    if (before === undefined) delete process.env.TSVS_BPF_OBJ;
    else process.env.TSVS_BPF_OBJ = before;
  }
  cases.push([
    refused,
    'refused',
    /TSVS_BPF_OBJ \/nonexistent\/e2efpm "fastpath"\.o does not exist/,
  ]);
  for (const [d, state, reason] of cases) {
    const r = fastpathReport(d.fastpath);
    assert.equal(r.state, state);
    assert.ok((FASTPATH_STATES as readonly string[]).includes(r.state));
    assert.match(r.reason, reason);
    const body = await render(() => fastpathReport(d.fastpath));
    promtool(body);
    assert.equal(value(body, 'tsvs_fastpath_active'), 0);
    const info = body.split('\n').filter((l) => l.startsWith('tsvs_fastpath_info{'));
    assert.equal(info.length, 1, body);
    assert.ok(info[0].startsWith(`tsvs_fastpath_info{state="${state}",reason="`), info[0]);
    for (const n of [...COUNTERS, 'tsvs_fastpath_flows']) assert.equal(value(body, n), 0, n);
  }
});

test('no fast path behind the source: no tsvs_fastpath_* series', async () => {
  const body = await render(undefined);
  assert.ok(!/^tsvs_fastpath_/m.test(body), body);
});

test('the fast path is read before the engine: what the daemon folds there is in the scrape', async () => {
  const model = new ControlModel(new Engine());
  const t = model.engine.totals;
  // as the daemon's fastpathReport does: fold the kernel's counts, then report them
  const exp = createMetrics(
    {
      model,
      fastpath: () => {
        t.inpkts += 40;
        t.outpkts += 30;
        return { ...LOADED, packets: 70 };
      },
    },
    { defaultMetrics: false },
  );
  const { body } = await exp.render();
  assert.equal(value(body, 'tsvs_fastpath_packets_total'), 70);
  assert.equal(value(body, 'node_ipvs_incoming_packets_total'), 40);
  assert.equal(value(body, 'node_ipvs_outgoing_packets_total'), 30);
  assert.equal(value(body, 'tsvs_packets_total', 'direction="in"'), 40);
});
