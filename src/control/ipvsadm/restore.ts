/**
 * A file of ipvsadm rules (the `ipvsadm-save` / `ipvsadm -S` format, optionally with
 * a leading `ipvsadm` on each line) applied to a model: the config-file front end of
 * the daemon, and the configuration of `tsvs replay`/`trace`.
 *
 * Lines run as `ipvsadm-restore` runs them (reference §8.2, §8.3): lines starting with
 * `#` are dropped, every other line is one ipvsadm command line; a refused change or a
 * popt error is reported and the next line runs; a validation error (or a line that
 * does not start with a command) stops the file there, as it stops `ipvsadm -R`. The
 * table is not flushed first: the caller decides.
 */
import type { ControlModel } from '../model.js';
import { localApi } from '../protocol.js';
import { restoreWords } from './options.js';
import { systemResolver, type Resolver } from './resolve.js';
import { runIpvsadm } from './run.js';

/** A line that did not apply: its number (from 1) and ipvsadm's message for it. */
export interface RuleProblem {
  line: number;
  message: string;
}

/** How {@link applyRules} reads a file. */
export interface RuleOptions {
  resolver?: Resolver;
  /** Stop at the first line that does not apply (a configuration, not a stream). */
  stopAtFirstProblem?: boolean;
}

/**
 * Apply `text` to `model`, line by line; resolves with the lines that did not apply
 * (empty when every line applied).
 */
export async function applyRules(
  model: ControlModel,
  text: string,
  opts: RuleOptions = {},
): Promise<RuleProblem[]> {
  const api = localApi(model);
  const resolver = opts.resolver ?? systemResolver();
  const problems: RuleProblem[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (line.startsWith('#')) continue;
    const words = restoreWords(line);
    if (words.length === 0) continue;
    let err = '';
    const status = await runIpvsadm(words, {
      argv0: 'ipvsadm',
      resolver,
      inRestore: true,
      connect: () => Promise.resolve(api),
      io: {
        out: () => {},
        err: (s) => void (err += s),
        readStdin: () => Promise.resolve(Buffer.alloc(0)),
      },
    });
    const msg = err.trim().split('\n').filter(Boolean).join(' ');
    if (msg !== '' || status !== 0) {
      problems.push({ line: i + 1, message: msg || `exit status ${status}` });
      if (opts.stopAtFirstProblem) break;
    }
    const stops = status !== 0 && (status !== 255 || msg.startsWith('Try `'));
    if (stops) {
      const rest = lines.slice(i + 1).some((l) => !l.startsWith('#') && restoreWords(l).length > 0);
      if (rest) problems.push({ line: i + 1, message: 'the lines after it were not applied' });
      break;
    }
  }
  return problems;
}

/**
 * Apply `text` to `model` as `ipvsadm-restore` would; resolves with the problems, each
 * as `line <n>: <ipvsadm's message>` (empty when every line applied).
 */
export async function restoreRules(
  model: ControlModel,
  text: string,
  resolver: Resolver = systemResolver(),
): Promise<string[]> {
  const problems = await applyRules(model, text, { resolver });
  return problems.map((p) => `line ${p.line}: ${p.message}`);
}
