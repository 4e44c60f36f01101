/**
 * The configuration a replay runs with: an ipvsadm save/restore file (`ipvsadm -S`
 * output: `-A -t 10.0.3.100:80 -s rr`, `-a -t 10.0.3.100:80 -r 10.0.2.11:80 -m -w 1`,
 * `--set 900 120 300` ...), applied to a fresh engine through the same restore code as
 * the daemon's configuration file (`control/ipvsadm/restore.ts`), so a replay accepts
 * exactly what `tsvsadm -R` accepts and reports the same errors.
 *
 * One difference from `ipvsadm -R`, for a file that describes a configuration rather
 * than a stream of commands: the first failing line stops the load with its line
 * number, where `-R` would print the error and carry on. Lines starting with `#` are
 * comments, as the `ipvsadm-restore` wrapper treats them.
 */
import { readFileSync } from 'node:fs';
import type { Engine } from '../engine/engine.js';
import { setSetting } from '../engine/settings.js';
import { ControlModel } from '../control/model.js';
import { applyRules } from '../control/ipvsadm/restore.js';

export type ConfigLoad = { ok: true } | { ok: false; message: string };

/** Applies the lines of an ipvsadm save/restore text to `engine`. */
export async function loadConfigText(
  engine: Engine,
  text: string,
  source: string,
): Promise<ConfigLoad> {
  const [first] = await applyRules(new ControlModel(engine), text, { stopAtFirstProblem: true });
  if (first === undefined) return { ok: true };
  return { ok: false, message: `${source}:${first.line}: ${first.message}` };
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
