/**
 * The dashboard in a real browser: Debian's chromium, driven by puppeteer-core, runs in
 * the lab's client namespace and opens the page the real daemon serves on the
 * director's client-LAN address (not localhost, so the token is needed). The page loads
 * with no console error and shows the lab's service, its rates move while curl sends
 * requests through the VIP, a drain clicked on the page is what `tsvsadm -L -n` then
 * lists (through the real control socket), and without the token the page and the API
 * refuse. Screenshots are written to artifacts/web/.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import {
  Lab,
  configure,
  e2eUnavailable,
  serversListening,
  sh,
  waitFor,
  TSVSADM,
  type Daemon,
} from './harness.js';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = fileURLToPath(new URL('../../../artifacts/web/', import.meta.url));
const skip = e2eUnavailable() ?? (existsSync(CHROMIUM) ? null : `no ${CHROMIUM}`);
const PORT = 8088;

describe('e2e dashboard in a headless browser', { skip: skip ?? false, timeout: 120_000 }, () => {
  let lab: Lab;
  let d: Daemon;
  let browser: Browser;
  let token: string;
  let base: string;
  let svc: string;
  let traffic: ChildProcess | undefined;
  const errors: string[] = [];
  const rs = (i: 0 | 1): string => `${lab.env.rs[i].ip4}:80`;

  const adm = async (): Promise<string> => {
    const r = await sh(lab.ns.director, process.execPath, [TSVSADM, '-L', '-n'], {
      env: { ...process.env, TSVS_CONTROL: d.sock },
    });
    assert.equal(r.code, 0, r.stderr);
    return r.stdout;
  };
  /** The weights `tsvsadm -L -n` lists for the two real servers. */
  const listed = async (): Promise<(number | null)[]> => {
    const text = await adm();
    return [rs(0), rs(1)].map((server) => {
      const line = text.split('\n').find((l) => l.includes(`-> ${server} `));
      return line ? Number(line.trim().split(/\s+/)[3]) : null;
    });
  };
  /** Click an action's button; resolves with the daemon's answer (sent once applied). */
  const act = async (page: Page, selector: string): Promise<void> => {
    const action = /data-action="([a-z]+)"/.exec(selector)![1];
    const [res] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith(`/api/action/${action}`), { timeout: 5000 }),
      page.click(selector),
    ]);
    assert.equal(res.status(), 200, await res.text());
  };
  const shot = async (page: Page, name: string): Promise<void> => {
    const path = join(ARTIFACTS, `${name}.png`);
    await page.screenshot({ path, fullPage: true });
    process.stdout.write(`# screenshot: ${path}\n`);
  };
  const watch = (page: Page, into: string[]): void => {
    page.on('console', (m) => {
      if (m.type() === 'error') into.push(`console: ${m.text()} (${m.location().url ?? ''})`);
    });
    page.on('pageerror', (e) => into.push(`page error: ${(e as Error).message}`));
    page.on('requestfailed', (r) => {
      // an event stream cut by the page's own navigation or close is not a failure
      if (!r.url().endsWith('/api/events')) into.push(`request failed: ${r.url()}`);
    });
    page.on('dialog', (dlg) => void dlg.accept());
  };

  before(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    lab = Lab.up('e2eweb');
    lab.http(0, 80);
    lab.http(1, 80);
    await serversListening(lab, [80]);
    const listen = `${lab.env.director.client4}:${PORT}`;
    d = await lab.daemon(['--web', listen]);
    svc = `TCP ${lab.env.vip4}:80`;
    await configure(
      d.client,
      { af: 4, protocol: 6, addr: lab.env.vip4, port: 80, scheduler: 'wrr' },
      [
        { addr: lab.env.rs[0].ip4, port: 80, fwd: 'masq', weight: 2 },
        { addr: lab.env.rs[1].ip4, port: 80, fwd: 'masq', weight: 1 },
      ],
    );
    // the token was generated beside the control socket, for root only
    const file = join(lab.dir, 'web.token');
    assert.equal(statSync(file).mode & 0o777, 0o600);
    token = readFileSync(file, 'utf8').trim();
    assert.ok(d.log.some((l) => l.includes(`dashboard at http://${listen}/`) && l.includes(file)));
    base = `http://${listen}/`;
    // chromium runs in the client namespace; puppeteer talks to it over a pipe
    const wrapper = join(lab.dir, 'chromium-in-client');
    writeFileSync(wrapper, `#!/bin/sh\nexec ip netns exec ${lab.ns.client} ${CHROMIUM} "$@"\n`);
    chmodSync(wrapper, 0o755);
    browser = await puppeteer.launch({
      executablePath: wrapper,
      pipe: true,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run'],
      defaultViewport: { width: 1200, height: 900 },
    });
  });

  after(async () => {
    traffic?.kill('SIGKILL');
    await browser?.close();
    await lab?.down();
  });

  test("the page loads without console errors and shows the lab's service; rates move with traffic", async () => {
    const page = await browser.newPage();
    watch(page, errors);
    // the token in the fragment: the page keeps it for the tab, the server never sees it in a URL
    await page.goto(`${base}#token=${encodeURIComponent(token)}`, { waitUntil: 'load' });
    await page.waitForSelector(`article[data-service="${svc}"] tr[data-server="${rs(1)}"]`, {
      timeout: 10_000,
    });
    assert.equal(await page.evaluate('location.hash'), '');
    const servers = await page.$$eval(`article[data-service="${svc}"] tr[data-server]`, (rows) =>
      rows.map((r) => r.getAttribute('data-server')),
    );
    assert.deepEqual(servers.sort(), [rs(0), rs(1)].sort());
    // requests through the VIP, from the client namespace, while the page watches
    traffic = spawn(
      'ip',
      [
        'netns',
        'exec',
        lab.ns.client,
        'bash',
        '-c',
        `for i in $(seq 400); do curl -s -m 2 -o /dev/null http://${lab.env.vip4}/; sleep 0.02; done`,
      ],
      { stdio: 'ignore' },
    );
    const cps = (): Promise<number> =>
      page.$eval('#t-cps', (e) => parseFloat(e.textContent ?? '') || 0);
    await waitFor('the page to show connections per second', 10_000, async () => (await cps()) > 0);
    await waitFor('both real servers to show a rate', 10_000, async () => {
      const r = await page.$$eval(`article[data-service="${svc}"] tr[data-server]`, (rows) =>
        rows.map((row) => parseFloat(row.children[6].textContent ?? '') || 0),
      );
      return r.length === 2 && r.every((x) => x > 0);
    });
    // the chart was drawn from the live samples
    const points = await page.$eval(
      `article[data-service="${svc}"] .chart canvas`,
      (c) => (c as unknown as { width: number }).width,
    );
    assert.ok(points > 0);
    await shot(page, 'dashboard-traffic');
    // a phone's width: nothing wider than the screen but the scrolling tables
    await page.setViewport({ width: 390, height: 844, deviceScaleFactor: 2 });
    await new Promise((r) => setTimeout(r, 400));
    const overflow = (await page.evaluate(
      'document.documentElement.scrollWidth - document.documentElement.clientWidth',
    )) as number;
    assert.ok(overflow <= 0, `the page is ${overflow}px wider than a phone`);
    // the actions are on the screen, not behind a scroll
    for (const i of [0, 1] as const) {
      const box = await (await page.$(
        `button[data-action="drain"][data-server="${rs(i)}"]`,
      ))!.boundingBox();
      assert.ok(box && box.x >= 0 && box.x + box.width <= 390, JSON.stringify(box));
    }
    await shot(page, 'dashboard-phone');
    await page.setViewport({ width: 1200, height: 900 });
    // the connection table, searched on the daemon
    await page.type('#conn-q', `client=${lab.env.client4} tcp`);
    await page.click('#conn-form button');
    await page.waitForFunction(
      "/^[1-9]\\d* of \\d+ entries match/.test(document.getElementById('conn-summary').textContent)",
      { timeout: 5000 },
    );
    const rows = await page.$$eval('#conn-table tbody tr', (r) =>
      r.map((x) => x.children[1].textContent ?? ''),
    );
    assert.ok(
      rows.length > 0 && rows.every((c) => c.startsWith(`${lab.env.client4}:`)),
      rows.join(),
    );
    assert.deepEqual(errors, []);
    await page.close();
  });

  test('a drain clicked on the page is what tsvsadm -L -n lists; restore gives the weight back', async () => {
    const page = await browser.newPage();
    watch(page, errors);
    await page.goto(`${base}#token=${encodeURIComponent(token)}`, { waitUntil: 'load' });
    const drain = `button[data-action="drain"][data-server="${rs(0)}"]`;
    await page.waitForSelector(drain, { timeout: 10_000 });
    assert.deepEqual(await listed(), [2, 1]);
    await act(page, drain);
    assert.deepEqual(await listed(), [0, 1]);
    assert.ok(
      d.log.some((l) =>
        l.includes(`web: drained ${rs(0)} of ${svc} (weight 2 → 0) by ${lab.env.client4}`),
      ),
      d.log.join('\n'),
    );
    const restore = `button[data-action="restore"][data-server="${rs(0)}"]`;
    await page.waitForSelector(restore, { timeout: 5000 });
    await shot(page, 'dashboard-drained');
    await act(page, restore);
    assert.deepEqual(await listed(), [2, 1]);
    // quiesce the whole service, then bring it back
    await act(page, `button[data-action="quiesce"][data-service="${svc}"]`);
    assert.deepEqual(await listed(), [0, 0]);
    // a new connection now finds no real server: refused, and the page says why
    const refused = await lab.client('curl', ['-s', '-m', '3', `http://${lab.env.vip4}/`]);
    assert.equal(refused.code, 7, `curl: ${refused.code} ${refused.stdout}`);
    await page.waitForFunction(
      `[...document.querySelectorAll('#drop-table tbody tr')].some((r) => r.children[1].textContent === 'no-dest-available')`,
      { timeout: 5000 },
    );
    await shot(page, 'dashboard-quiesced');
    await act(page, `button[data-action="unquiesce"][data-service="${svc}"]`);
    assert.deepEqual(await listed(), [2, 1]);
    assert.deepEqual(errors, []);
    await page.close();
  });

  test('from another machine without the token the page shows nothing and every action is refused', async () => {
    const ctx = await browser.createBrowserContext();
    const page = await ctx.newPage();
    const own: string[] = [];
    watch(page, own);
    await page.goto(base, { waitUntil: 'load' });
    await page.waitForSelector('#token-form:not([hidden])', { timeout: 5000 });
    assert.equal(await page.$$eval('article.service', (a) => a.length), 0);
    await shot(page, 'dashboard-token-needed');
    // the API itself, asked by the page's own origin without the token
    const body = JSON.stringify(JSON.stringify({ service: svc, server: rs(1) }));
    const answers = await page.evaluate(`(async () => {
      const post = (auth) => fetch('/api/action/drain', {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...auth },
        body: ${body},
      });
      return [
        (await fetch('/api/state')).status,
        (await fetch('/api/conns?q=')).status,
        (await post({})).status,
        (await post({ authorization: 'Bearer not-the-token-at-all' })).status,
      ];
    })()`);
    assert.deepEqual(answers, [401, 401, 401, 401]);
    // and from the command line of the client machine
    const r = await sh(lab.ns.client, 'curl', [
      '-s',
      '-o',
      '/dev/null',
      '-w',
      '%{http_code}',
      `${base}api/state`,
    ]);
    assert.equal(r.stdout, '401');
    assert.deepEqual(await listed(), [2, 1]);
    assert.ok(
      d.log.some((l) => l.includes(`web: refused drain from ${lab.env.client4}: no valid token`)),
    );
    // typing the token in opens the page
    await page.type('#token', token);
    await page.click('#token-form button');
    await page.waitForSelector(`article[data-service="${svc}"]`, { timeout: 10_000 });
    // the only errors are the refusals this test asked for (the browser logs each 401)
    assert.deepEqual(
      own.filter((e) => !/status of 401/.test(e)),
      [],
    );
    await ctx.close();
  });
});
