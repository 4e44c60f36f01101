/**
 * The run directory's state belongs to the network namespace it was saved in
 * (`forgetOtherNamespace`): a directory named after a namespace that was deleted and
 * made again under the same name keeps nothing of the old one's connections.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  forgetOtherNamespace,
  JOURNAL_LOG,
  JOURNAL_SNAPSHOT,
  NETNS_FILE,
  STATE_FILE,
} from '../../src/daemon/state.js';

const here = (): string => {
  const st = statSync('/proc/self/ns/net');
  return `${st.dev}:${st.ino}`;
};

test('state saved in another namespace is removed, state of this one kept', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsvs-netns-'));
  try {
    const lines: string[] = [];
    const log = (l: string): void => void lines.push(l);
    const files = [STATE_FILE, JOURNAL_SNAPSHOT, JOURNAL_LOG];
    const fill = (): void => {
      for (const f of files) writeFileSync(join(dir, f), 'x');
    };
    // a first start: nothing recorded yet, nothing removed; this namespace recorded
    fill();
    assert.equal(forgetOtherNamespace(dir, log), false);
    assert.ok(files.every((f) => existsSync(join(dir, f))));
    assert.equal(readFileSync(join(dir, NETNS_FILE), 'utf8').trim(), here());
    // the same namespace again (a restart): kept
    assert.equal(forgetOtherNamespace(dir, log), false);
    assert.ok(files.every((f) => existsSync(join(dir, f))));
    // saved by a namespace that is gone
    writeFileSync(join(dir, NETNS_FILE), '4:4026530000\n');
    assert.equal(forgetOtherNamespace(dir, log), true);
    assert.ok(
      files.every((f) => !existsSync(join(dir, f))),
      'the old state is removed',
    );
    assert.match(lines.join('\n'), /of another network namespace \(4:4026530000/);
    assert.equal(readFileSync(join(dir, NETNS_FILE), 'utf8').trim(), here());
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
