/* global document, sessionStorage, location, history, fetch, Node, confirm, URLSearchParams, AbortController, TextDecoderStream, setTimeout, clearTimeout, addEventListener */
// tsvs dashboard: a plain ES module, no build step. It reads the daemon's JSON API,
// follows its server-sent events (through fetch, so the token travels in a header),
// draws the rates with uPlot and builds every element with text nodes only (nothing
// the daemon sends is ever parsed as HTML).
import uPlot from '/static/uplot.js';

const WINDOW_S = 15 * 60;
const METRICS = [
  ['cps', 'new conns/s'],
  ['inpps', 'packets/s in'],
  ['outpps', 'packets/s out'],
  ['inbps', 'bytes/s in'],
  ['outbps', 'bytes/s out'],
  ['active', 'active conns'],
  ['inactive', 'inactive conns'],
];
const COLORS = ['#2a6', '#36c', '#c63', '#939', '#c33', '#088', '#870', '#555'];

const $ = (id) => document.getElementById(id);

// ---------------------------------------------------------------------------
// The token: from the address's fragment (never sent to the server) or typed in,
// kept for this tab only.

let token = sessionStorage.getItem('tsvs-token') ?? '';
{
  const m = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  if (m) {
    token = decodeURIComponent(m[1]);
    sessionStorage.setItem('tsvs-token', token);
    history.replaceState(null, '', location.pathname + location.search);
  }
}

function headers(extra = {}) {
  return token ? { ...extra, authorization: `Bearer ${token}` } : extra;
}

function say(text, kind = 'info') {
  const m = $('message');
  m.textContent = text;
  m.className = kind;
}

async function api(path, init = {}) {
  const res = await fetch(path, { ...init, headers: headers(init.headers ?? {}) });
  let body = null;
  try {
    body = await res.json();
  } catch {
    body = { error: `${res.status} ${res.statusText}` };
  }
  if (res.status === 401) $('token-form').hidden = false;
  if (!res.ok) throw new Error(body?.error ?? `${res.status} ${res.statusText}`);
  return body;
}

// ---------------------------------------------------------------------------
// Formatting

function num(x) {
  if (x === null || x === undefined) return '—';
  if (x >= 1e9) return `${(x / 1e9).toFixed(1)}G`;
  if (x >= 1e6) return `${(x / 1e6).toFixed(1)}M`;
  if (x >= 1e4) return `${(x / 1e3).toFixed(1)}k`;
  return Number.isInteger(x) ? String(x) : x.toFixed(1);
}

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') e.className = v;
    else if (k.startsWith('data-')) e.setAttribute(k, v);
    else e[k] = v;
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

// ---------------------------------------------------------------------------
// Charts

function chartWidth(container) {
  return Math.max(240, container.clientWidth || 600);
}

class Chart {
  constructor(container, labels) {
    this.container = container;
    this.data = [[], ...labels.map(() => [])];
    const series = [
      {},
      ...labels.map((label, i) => ({ label, stroke: COLORS[i % COLORS.length], width: 1.5 })),
    ];
    this.plot = new uPlot(
      {
        width: chartWidth(container),
        height: 170,
        series,
        scales: { x: { time: true } },
        // one line of clock time per tick (uPlot's default adds a date line that
        // collides with itself as the window slides)
        axes: [
          {
            space: 70,
            values: (u, splits) =>
              splits.map((t) =>
                new Date(t * 1000).toLocaleTimeString([], {
                  hour: '2-digit',
                  minute: '2-digit',
                  second: '2-digit',
                }),
              ),
          },
          { size: 56 },
        ],
        legend: { live: false },
        cursor: { drag: { x: false, y: false } },
      },
      this.data,
      container,
    );
  }

  /** Replace the history: `t` in ms, one column per series. */
  load(t, columns) {
    this.data = [t.map((x) => x / 1000), ...columns.map((c) => c.slice())];
    this.plot.setData(this.data);
  }

  push(tMs, values) {
    const t = tMs / 1000;
    const xs = this.data[0];
    if (xs.length && t <= xs[xs.length - 1]) return;
    xs.push(t);
    values.forEach((v, i) => this.data[i + 1].push(v ?? null));
    while (xs.length && xs[0] < t - WINDOW_S) this.data.forEach((col) => col.shift());
    this.plot.setData(this.data);
  }

  resize() {
    this.plot.setSize({ width: chartWidth(this.container), height: 170 });
  }

  destroy() {
    this.plot.destroy();
  }
}

// ---------------------------------------------------------------------------
// Totals

const TOTAL_SERIES = ['cps', 'inpps', 'outpps', 'drops'];
let totalChart = null;

async function loadTotals() {
  const h = await api('/api/history?total=1');
  totalChart.load(
    h.t,
    TOTAL_SERIES.map((k) => h.series[k]),
  );
}

function showTotals(s) {
  for (const k of ['cps', 'inpps', 'outpps', 'inbps', 'outbps', 'drops'])
    $(`t-${k}`).textContent = num(s.totals[k]);
  $('conn-count').textContent = num(s.conns);
  totalChart?.push(
    s.t,
    TOTAL_SERIES.map((k) => s.totals[k]),
  );
}

// ---------------------------------------------------------------------------
// Services: built when the set of services or real servers changes, updated in place
// every second otherwise (so a button does not move under the operator's finger).

let shape = '';
/** key → { chart, metric, dests: [keys], cells } */
const cards = new Map();

function metricOf(d, metric) {
  if (metric === 'active') return d.active;
  if (metric === 'inactive') return d.inactive;
  return d.rates[metric];
}

function actionButton(action, label, service, server) {
  const b = el('button', { type: 'button', 'data-action': action, 'data-service': service });
  if (server) b.setAttribute('data-server', server);
  b.textContent = label;
  b.addEventListener('click', () => act(action, service, server, b));
  return b;
}

async function act(action, service, server, button) {
  const what = server ? `${action} ${server} of ${service}` : `${action} ${service}`;
  if (!confirm(`${what}?`)) return;
  button.disabled = true;
  try {
    const r = await api(`/api/action/${action}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(server ? { service, server } : { service }),
    });
    say(r.message, 'ok');
  } catch (e) {
    say(`${what}: ${e.message}`, 'error');
  } finally {
    button.disabled = false;
  }
}

function buildServices(services) {
  for (const c of cards.values()) c.chart.destroy();
  cards.clear();
  const list = $('service-list');
  list.replaceChildren();
  $('no-services').hidden = services.length > 0;
  for (const s of services) {
    const select = el('select', { 'data-service': s.key, title: 'what the chart shows' });
    for (const [k, label] of METRICS) select.append(el('option', { value: k }, label));
    const card = {
      metric: 'cps',
      dests: s.dests.map((d) => d.key),
      cells: new Map(),
      head: {},
    };
    const rows = s.dests.map((d) => {
      const cells = {
        weight: el('td', { class: 'n' }),
        health: el('td'),
        active: el('td', { class: 'n' }),
        inactive: el('td', { class: 'n wide' }),
        cps: el('td', { class: 'n wide' }),
        inpps: el('td', { class: 'n wide' }),
        outpps: el('td', { class: 'n wide' }),
        act: el('td', { class: 'act' }),
      };
      card.cells.set(d.key, cells);
      return el(
        'tr',
        { 'data-server': d.server },
        el('td', {}, d.server),
        el('td', { class: 'wide' }, d.fwd),
        cells.weight,
        cells.health,
        cells.active,
        cells.inactive,
        cells.cps,
        cells.inpps,
        cells.outpps,
        cells.act,
      );
    });
    card.head = {
      summary: el('span', { class: 'summary' }),
    };
    const chartBox = el('div', { class: 'chart' });
    const section = el(
      'article',
      { class: 'service', 'data-service': s.key },
      el(
        'div',
        { class: 'service-head' },
        el('h3', {}, s.key),
        el('span', { class: 'sched' }, s.scheduler + (s.persistent ? ' persistent' : '')),
        card.head.summary,
        el(
          'span',
          { class: 'act' },
          actionButton('quiesce', 'Quiesce', s.key),
          actionButton('unquiesce', 'Restore all', s.key),
        ),
      ),
      el(
        'div',
        { class: 'scroll' },
        el(
          'table',
          { class: 'dests' },
          el(
            'thead',
            {},
            el(
              'tr',
              {},
              ...[
                'real server',
                'fwd',
                'weight',
                'health',
                'active',
                'inactive',
                'conn/s',
                'pkt/s in',
                'pkt/s out',
                '',
              ].map((h, i) =>
                el(
                  'th',
                  {
                    class:
                      (i >= 2 && i <= 8 && i !== 3 ? 'n' : '') +
                      ([1, 5, 6, 7, 8].includes(i) ? ' wide' : ''),
                  },
                  h,
                ),
              ),
            ),
          ),
          el('tbody', {}, ...rows),
        ),
      ),
      el('div', { class: 'chart-head' }, select),
      chartBox,
    );
    list.append(section);
    card.chart = new Chart(
      chartBox,
      s.dests.map((d) => d.server),
    );
    select.addEventListener('change', () => {
      card.metric = select.value;
      loadServiceHistory(s.key, card).catch((e) => say(e.message, 'error'));
    });
    cards.set(s.key, card);
    loadServiceHistory(s.key, card).catch((e) => say(e.message, 'error'));
  }
}

async function loadServiceHistory(key, card) {
  const q = new URLSearchParams({ metric: card.metric });
  for (const k of card.dests) q.append('key', k);
  const h = await api(`/api/history?${q}`);
  card.chart.load(
    h.t,
    card.dests.map((k) => h.series[k] ?? h.t.map(() => null)),
  );
}

function showServices(state) {
  const now = JSON.stringify(state.services.map((s) => [s.key, s.dests.map((d) => d.key)]));
  if (now !== shape) {
    shape = now;
    buildServices(state.services);
  }
  for (const s of state.services) {
    const card = cards.get(s.key);
    if (!card) continue;
    card.head.summary.textContent = `${num(s.active)} active, ${num(s.inactive)} inactive, ${num(s.rates.cps)} conn/s`;
    for (const d of s.dests) {
      const c = card.cells.get(d.key);
      if (!c) continue;
      c.weight.textContent = String(d.weight);
      c.weight.className = d.weight === 0 ? 'n drained' : 'n';
      c.health.textContent = d.alive === null ? '—' : d.alive ? 'up' : 'down';
      c.health.className = d.alive === null ? '' : d.alive ? 'up' : 'down';
      c.active.textContent = num(d.active);
      c.inactive.textContent = num(d.inactive);
      c.cps.textContent = num(d.rates.cps);
      c.inpps.textContent = num(d.rates.inpps);
      c.outpps.textContent = num(d.rates.outpps);
      const want = d.weight > 0 ? 'drain' : d.lastWeight > 0 ? 'restore' : '';
      const have = c.act.firstChild?.getAttribute('data-action') ?? '';
      if (want !== have)
        c.act.replaceChildren(
          ...(want
            ? [
                actionButton(
                  want,
                  want === 'drain' ? 'Drain' : `Restore (${d.lastWeight})`,
                  s.key,
                  d.server,
                ),
              ]
            : []),
        );
    }
    card.chart.push(
      state.t,
      s.dests.map((d) => metricOf(d, card.metric)),
    );
  }
}

// ---------------------------------------------------------------------------
// Drops and sync

function showDrops(state) {
  const body = $('drop-table').tBodies[0];
  body.replaceChildren(
    ...state.drops.map((d) =>
      el(
        'tr',
        {},
        el('td', {}, d.stage),
        el('td', {}, d.reason),
        el('td', { class: 'n' }, num(d.total)),
        el('td', { class: 'n' }, num(d.rate)),
      ),
    ),
  );
  $('drop-table').hidden = state.drops.length === 0;
  $('no-drops').hidden = state.drops.length > 0;
}

function showSync(state) {
  $('sync-role').textContent = state.sync.length
    ? state.sync.map((s) => s.role).join(' + ')
    : 'none';
  $('vrrp-role').textContent = state.vrrp ?? 'unknown';
  const body = $('sync-table').tBodies[0];
  body.replaceChildren(
    ...state.sync.map((s) =>
      el(
        'tr',
        {},
        el('td', {}, s.role),
        el('td', {}, s.ifname),
        el('td', { class: 'n' }, s.syncId),
        el('td', { class: 'n' }, num(s.datagrams)),
        el('td', { class: 'n' }, num(s.conns)),
      ),
    ),
  );
  $('sync-table').hidden = state.sync.length === 0;
  $('no-sync').hidden = state.sync.length > 0;
}

function showState(state) {
  showTotals(state);
  showServices(state);
  showDrops(state);
  showSync(state);
  $('live').textContent = new Date(state.t).toLocaleTimeString();
  $('live').className = 'on';
}

// ---------------------------------------------------------------------------
// Live updates: server-sent events read through fetch (EventSource cannot send the
// token header), reconnecting after a pause.

let streamAbort = null;

async function follow() {
  streamAbort?.abort();
  const ctl = new AbortController();
  streamAbort = ctl;
  for (;;) {
    try {
      const res = await fetch('/api/events', { headers: headers(), signal: ctl.signal });
      if (res.status === 401) {
        $('token-form').hidden = false;
        $('live').textContent = 'token needed';
        return;
      }
      if (!res.ok || !res.body) throw new Error(`${res.status} ${res.statusText}`);
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buf = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += value;
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          let event = 'message';
          let data = '';
          for (const line of block.split('\n')) {
            if (line.startsWith('event:')) event = line.slice(6).trim();
            else if (line.startsWith('data:')) data += line.slice(5).trimStart();
          }
          if (event === 'state' && data) showState(JSON.parse(data));
        }
      }
    } catch (e) {
      if (ctl.signal.aborted) return;
      say(`live updates: ${e.message}`, 'error');
    }
    if (ctl.signal.aborted) return;
    $('live').textContent = 'reconnecting…';
    $('live').className = 'off';
    await new Promise((r) => setTimeout(r, 2000));
  }
}

// ---------------------------------------------------------------------------
// Connection table: searched and paged by the daemon

const conn = { q: '', after: -1, stack: [], next: null };

async function loadConns() {
  const p = new URLSearchParams({ q: conn.q, after: String(conn.after), limit: '50' });
  try {
    const page = await api(`/api/conns?${p}`);
    $('conn-table').tBodies[0].replaceChildren(
      ...page.rows.map((r) =>
        el(
          'tr',
          {},
          el('td', {}, r.proto),
          el('td', {}, r.client),
          el('td', {}, r.virtual),
          el('td', {}, r.server),
          el('td', {}, r.template ? `${r.state} (template)` : r.state),
          el('td', { class: 'n' }, r.expires),
          el('td', {}, r.origin),
        ),
      ),
    );
    const from = conn.stack.length * 50 + (page.rows.length ? 1 : 0);
    $('conn-summary').textContent =
      `${page.matches} of ${page.size} entries match` +
      (page.rows.length ? `; showing ${from}–${from + page.rows.length - 1}` : '');
    conn.next = page.next;
    $('conn-next').disabled = page.next === null;
    $('conn-prev').disabled = conn.stack.length === 0;
    $('conn-first').disabled = conn.stack.length === 0;
  } catch (e) {
    $('conn-summary').textContent = e.message;
  }
}

$('conn-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  conn.q = $('conn-q').value;
  conn.after = -1;
  conn.stack = [];
  loadConns();
});
$('conn-next').addEventListener('click', () => {
  if (conn.next === null) return;
  conn.stack.push(conn.after);
  conn.after = conn.next;
  loadConns();
});
$('conn-prev').addEventListener('click', () => {
  conn.after = conn.stack.pop() ?? -1;
  loadConns();
});
$('conn-first').addEventListener('click', () => {
  conn.after = -1;
  conn.stack = [];
  loadConns();
});

// ---------------------------------------------------------------------------
// Start

async function start() {
  const session = await api('/api/session');
  if (!session.local && !session.authorized) {
    $('token-form').hidden = false;
    $('live').textContent = 'token needed';
    say('Enter the token (its file is named in the daemon log) to see and act.', 'info');
    return;
  }
  $('token-form').hidden = !!token;
  totalChart ??= new Chart($('total-chart'), ['conn/s', 'pkt/s in', 'pkt/s out', 'drops/s']);
  await loadTotals().catch((e) => say(e.message, 'error'));
  follow();
  loadConns();
}

$('token-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  token = $('token').value.trim();
  $('token').value = '';
  sessionStorage.setItem('tsvs-token', token);
  say('');
  start().catch((e) => say(e.message, 'error'));
});

let resizeTimer = 0;
addEventListener('resize', () => {
  clearTimeout(resizeTimer);
  resizeTimer = setTimeout(() => {
    totalChart?.resize();
    for (const c of cards.values()) c.chart.resize();
  }, 150);
});

start().catch((e) => say(e.message, 'error'));
