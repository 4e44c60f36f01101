/**
 * The configuration a replay runs with: an ipvsadm save/restore file (`ipvsadm -S`
 * output: `-A -t 10.0.3.100:80 -s rr`, `-a -t 10.0.3.100:80 -r 10.0.2.11:80 -m -w 1`,
 * `--set 900 120 300` ...), applied to a fresh engine through the control model's
 * ipvsadm front end, so a replay accepts exactly what `tsvsadm -R` accepts and reports
 * the same errors.
 *
 * Differences from `ipvsadm -R`, both for a file that describes a configuration rather
 * than a stream of commands: lines starting with `#` are comments (as the
 * `ipvsadm-restore` wrapper treats them), and the first failing line stops the load
 * with its line number, where `-R` would print the error and carry on.
 */
import { readFileSync } from 'node:fs';
import type { Engine } from '../engine/engine.js';
import { setSetting } from '../engine/settings.js';
import { ControlModel } from '../control/model.js';
import { localApi } from '../control/protocol.js';
import { runIpvsadm } from '../control/ipvsadm/run.js';
import { restoreWords } from '../control/ipvsadm/options.js';
import { systemResolver } from '../control/ipvsadm/resolve.js';

export type ConfigLoad = { ok: true } | { ok: false; message: string };

/** Applies the lines of an ipvsadm save/restore text to `engine`. */
export async function loadConfigText(
  engine: Engine,
  text: string,
  source: string,
): Promise<ConfigLoad> {
  const model = new ControlModel(engine);
  const api = localApi(model);
  const resolver = systemResolver();
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (/^#/.test(line)) continue;
    const words = restoreWords(line);
    if (words.length === 0) continue;
    let err = '';
    const status = await runIpvsadm(words, {
      argv0: 'ipvsadm',
      resolver,
      connect: () => Promise.resolve(api),
      io: {
        out: () => {},
        err: (s) => {
          err += s;
        },
        readStdin: () => Promise.resolve(Buffer.alloc(0)),
      },
    });
    if (status !== 0 || err !== '') {
      const msg = err.trim() || `exit status ${status}`;
      return { ok: false, message: `${source}:${i + 1}: ${msg.split('\n').join(' ')}` };
    }
  }
  return { ok: true };
}

/** Reads and applies an ipvsadm save/restore file. */
export async function loadConfigFile(engine: Engine, path: string): Promise<ConfigLoad> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    return {
      ok: false,
      message: `cannot read ${path}: ${e instanceof Error ? e.message : String(e)}`,
    };
  }
  return loadConfigText(engine, text, path);
}

/**
 * Applies `NAME=VALUE` settings (`net.ipv4.vs.` prefix optional), as `sysctl -w` would.
 */
export function applySysctl(engine: Engine, assignment: string): ConfigLoad {
  const m = /^(?:net\.ipv4\.vs\.)?([a-z_0-9]+)=(.*)$/.exec(assignment.trim());
  if (!m) return { ok: false, message: `bad setting '${assignment}': expected NAME=VALUE` };
  const err = setSetting(engine.settings, m[1], m[2]);
  if (err !== null) return { ok: false, message: `net.ipv4.vs.${m[1]}: ${err}` };
  engine.updateDefense();
  return { ok: true };
}
