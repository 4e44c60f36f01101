/** README's main job: `tsvs demo` builds the lab, balances real requests, tears down. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { e2eUnavailable, sh, TSVS } from './harness.js';

test(
  'tsvs demo answers every request from both real servers in turn and cleans up',
  { skip: e2eUnavailable() ?? false, timeout: 120_000 },
  async () => {
    const r = await sh(null, process.execPath, [TSVS, 'demo', '--prefix', 'e2edemo'], {
      timeoutMs: 110_000,
    });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const answers = [...r.stdout.matchAll(/request \d+: answered by (rs\d)/g)].map((m) => m[1]);
    assert.deepEqual(answers, ['rs2', 'rs1', 'rs2', 'rs1', 'rs2', 'rs1']);
    assert.match(
      r.stdout,
      /TIME_WAIT +10\.201\.1\.2:\d+ +10\.201\.3\.100:80 +10\.201\.2\.1[12]:80/,
    );
    const ns = await sh(null, 'ip', ['netns', 'list']);
    assert.doesNotMatch(ns.stdout, /e2edemo/, 'the lab is gone');
  },
);
