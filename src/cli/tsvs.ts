#!/usr/bin/env node
/**
 * `tsvs`: the daemon, the lab demo, replay/trace, decap and the procfs/sysctl views.
 * The subcommands, their options and their help are the table in ./help-commands.ts;
 * this file only finds the entry, parses its options and runs it.
 */
import { parseArgs } from 'node:util';
import { findCommand, type CommandSpec } from './help-commands.js';

type ParseOptions = NonNullable<Parameters<typeof parseArgs>[0]>['options'];

function parseOptions(c: CommandSpec): ParseOptions {
  const o: ParseOptions = {};
  for (const x of c.options)
    o[x.long] = {
      type: x.arg ? 'string' : 'boolean',
      ...(x.short ? { short: x.short } : {}),
      ...(x.multiple ? { multiple: true } : {}),
    };
  return o;
}

function wantsHelp(words: string[]): boolean {
  const end = words.indexOf('--');
  return (end < 0 ? words : words.slice(0, end)).some((w) => w === '-h' || w === '--help');
}

async function main(argv: string[]): Promise<number> {
  const cmd = argv[0];
  const out = (s: string): boolean => process.stdout.write(s);
  if (cmd === undefined || cmd === '-h' || cmd === '--help' || cmd === 'help') {
    const render = await import('./help-render.js');
    const about = cmd === 'help' ? argv[1] : undefined;
    if (about !== undefined) {
      const c = findCommand(about);
      if (!c) {
        process.stderr.write(`tsvs: unknown command '${about}'\n${render.mainHelp()}`);
        return 2;
      }
      out(render.commandHelp(c));
      return 0;
    }
    if (cmd === undefined) {
      process.stderr.write(render.mainHelp());
      return 2;
    }
    out(render.mainHelp());
    return 0;
  }
  if (cmd === '--version' || cmd === '-V') {
    const { buildInfo } = await import('../metrics/build.js');
    out(`tsvs ${buildInfo().version}\n`);
    return 0;
  }
  const c = findCommand(cmd);
  if (!c) {
    const { mainHelp } = await import('./help-render.js');
    process.stderr.write(`tsvs: unknown command '${cmd}'\n${mainHelp()}`);
    return 2;
  }
  const raw = argv.slice(1);
  if (wantsHelp(raw)) {
    out((await import('./help-render.js')).commandHelp(c));
    return 0;
  }
  if (c.selfParsed) return c.run({ values: {}, positionals: [], raw });
  let parsed;
  try {
    parsed = parseArgs({ args: raw, options: parseOptions(c), strict: true });
  } catch (e) {
    process.stderr.write(
      `tsvs ${c.name}: ${e instanceof Error ? e.message : String(e)}\nTry 'tsvs ${c.name} --help'.\n`,
    );
    return 2;
  }
  return c.run({ values: parsed.values, positionals: parsed.positionals, raw });
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`tsvs: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 2;
  },
);
