/**
 * `tsvs replay` and `tsvs trace`: run a capture through the engine with a
 * configuration, write what the director would have sent (replay) or say what it
 * decided for every packet (trace). docs/replay.md is the manual.
 *
 * Exit status: 0 the capture was replayed and was intact; 1 it was replayed but it
 * was damaged (truncated file, unknown link type, packets cut by the snap length —
 * each reported with its packet number and skipped); 2 usage or configuration error,
 * nothing replayed; 3 the capture cannot be read at all, or the output cannot be
 * written.
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Engine } from '../engine/engine.js';
import { DROP_REASON_NAMES, VERDICT_NAMES } from '../engine/drop.js';
import { CONN_F_TEMPLATE } from '../engine/constants.js';
import { parseAddr } from '../engine/addr.js';
import { LINKTYPE_RAW, PcapWriter, readCaptureFile } from '../pcap/pcap.js';
import { applySysctl, loadConfigFile } from './config.js';
import { type MarkRule, parseMarkRule } from './direction.js';
import { Replayer, type ReplayStats } from './replay.js';
import { Tracer } from './trace.js';

export const EXIT_OK = 0;
export const EXIT_DAMAGED = 1;
export const EXIT_USAGE = 2;
export const EXIT_UNREADABLE = 3;

/** Where the commands write; the default is the process's stdout and stderr. */
export interface ReplayIo {
  out(s: string): void;
  err(s: string): void;
  /** Resolves when the output may take more (back-pressure of a pipe). */
  drain(): Promise<void>;
  /** Resolves when everything written has been handed to the OS. */
  end(): Promise<void>;
  /** True once the reader went away (EPIPE): the run stops early. */
  readonly closed?: boolean;
}

const USAGE_REPLAY = `Usage: tsvs replay --config FILE [options] IN.pcap [OUT.pcap]

Runs the packets of IN.pcap (pcap or pcapng; Ethernet, raw IP, Linux cooked ...)
through the IPVS engine at their capture times and writes what the director would
have sent — rewritten, encapsulated, or the ICMP it built — to OUT.pcap (raw IP,
same timestamps). Prints a summary: packets, verdicts, drop reasons.

Options:
  -c, --config FILE        configuration in ipvsadm save/restore format (ipvsadm -S);
                           lines starting with # are comments
      --sysctl NAME=VALUE  set net.ipv4.vs.NAME first (e.g. sloppy_tcp=1); repeatable
      --mark ADDR[:PORT]=MARK
                           packets to ADDR[:PORT] carry firewall mark MARK (stands in
                           for the iptables rule of a fwmark service); repeatable
      --drain              after the last packet, run the clock on until every
                           connection and template has expired
      --accepted           also write packets the director passes unchanged
      --tunnel-source ADDR outer source address of tunnelled packets (default
                           0.0.0.0 / ::, the director's address is not in the capture)
      --seed N             seed of the random source of schedulers (default 1)
  -q, --quiet              no summary
  -h, --help

Exit status: 0 done; 1 done, but the capture is damaged (reported with packet
numbers); 2 usage or configuration error; 3 capture unreadable or output unwritable.
`;

const USAGE_TRACE = `Usage: tsvs trace --config FILE [options] IN.pcap

Runs IN.pcap through the IPVS engine as \`tsvs replay\` does and prints one line per
packet: time, path (in/out), packet, the connection matched or created (service,
scheduler, real server, method), state before → after and the timeout armed, the
rewrite, and the verdict or drop reason; plus a line for every expiry.

Options:
  -c, --config FILE        configuration in ipvsadm save/restore format (ipvsadm -S)
      --sysctl NAME=VALUE  set net.ipv4.vs.NAME first; repeatable
      --mark ADDR[:PORT]=MARK
                           firewall mark for packets to ADDR[:PORT]; repeatable
      --drain              after the last packet, run the clock on until every
                           connection and template has expired
      --tunnel-source ADDR outer source address of tunnelled packets
      --json               one JSON object per line
      --explain            add the spec's reasoning for the first packets of each
                           connection, every state change and every drop
      --seed N             seed of the random source of schedulers (default 1)
  -q, --quiet              no summary on stderr
  -h, --help

Exit status as for tsvs replay.
`;

interface Common {
  config: string;
  tunnelSource: { af: 4 | 6; words: Uint32Array } | null;
  sysctl: string[];
  marks: MarkRule[];
  drain: boolean;
  seed: number;
  quiet: boolean;
  positionals: string[];
  values: Record<string, string | boolean | string[] | undefined>;
}

function parseCommon(
  argv: string[],
  extra: Record<string, { type: 'boolean' | 'string' }>,
  io: ReplayIo,
  cmd: string,
  usage: string,
): Common | number {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        config: { type: 'string', short: 'c' },
        sysctl: { type: 'string', multiple: true },
        mark: { type: 'string', multiple: true },
        drain: { type: 'boolean' },
        seed: { type: 'string' },
        'tunnel-source': { type: 'string' },
        quiet: { type: 'boolean', short: 'q' },
        help: { type: 'boolean', short: 'h' },
        ...extra,
      },
    });
  } catch (e) {
    io.err(`tsvs ${cmd}: ${e instanceof Error ? e.message : String(e)}\n${usage}`);
    return EXIT_USAGE;
  }
  const v = parsed.values as Common['values'];
  if (v.help) {
    io.out(usage);
    return EXIT_OK;
  }
  if (typeof v.config !== 'string') {
    io.err(`tsvs ${cmd}: --config FILE is required\n${usage}`);
    return EXIT_USAGE;
  }
  const marks: MarkRule[] = [];
  for (const m of (v.mark as string[] | undefined) ?? []) {
    const r = parseMarkRule(m);
    if (typeof r === 'string') {
      io.err(`tsvs ${cmd}: ${r}\n`);
      return EXIT_USAGE;
    }
    marks.push(r);
  }
  const seedText = typeof v.seed === 'string' ? v.seed : '1';
  const seed = Number(seedText);
  if (!/^\d+$/.test(seedText) || !Number.isSafeInteger(seed)) {
    io.err(`tsvs ${cmd}: bad --seed '${seedText}'\n`);
    return EXIT_USAGE;
  }
  let tunnelSource: Common['tunnelSource'] = null;
  if (typeof v['tunnel-source'] === 'string') {
    tunnelSource = parseAddr(v['tunnel-source']);
    if (tunnelSource === null) {
      io.err(`tsvs ${cmd}: bad --tunnel-source '${v['tunnel-source']}'\n`);
      return EXIT_USAGE;
    }
  }
  return {
    config: v.config,
    tunnelSource,
    sysctl: (v.sysctl as string[] | undefined) ?? [],
    marks,
    drain: v.drain === true,
    seed,
    quiet: v.quiet === true,
    positionals: parsed.positionals,
    values: v,
  };
}

/** A small deterministic random source (mulberry32), so a replay repeats exactly. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function makeEngine(c: Common, io: ReplayIo, cmd: string): Promise<Engine | number> {
  const ts = c.tunnelSource;
  const engine = new Engine({
    random: seededRandom(c.seed),
    tunnelSource: ts === null ? undefined : (af) => (af === ts.af ? ts.words : null),
  });
  for (const s of c.sysctl) {
    const r = applySysctl(engine, s);
    if (!r.ok) {
      io.err(`tsvs ${cmd}: ${r.message}\n`);
      return EXIT_USAGE;
    }
  }
  const r = await loadConfigFile(engine, c.config);
  if (!r.ok) {
    io.err(`tsvs ${cmd}: ${r.message}\n`);
    return EXIT_USAGE;
  }
  if (engine.services.length === 0) {
    io.err(`tsvs ${cmd}: warning: ${c.config} defines no virtual service\n`);
  }
  return engine;
}

/** Items between checks of the output's back-pressure. */
const DRAIN_EVERY = 1024;

async function runLoop(
  rep: Replayer,
  path: string,
  drain: boolean,
  io: ReplayIo,
  onProblem: ((m: string) => void) | null,
): Promise<void> {
  let k = 0;
  let seen = 0;
  for (const item of readCaptureFile(path)) {
    rep.item(item);
    if (onProblem !== null) {
      const p = rep.stats.problems;
      while (seen < p.length) onProblem(p[seen++]);
    }
    if (++k === DRAIN_EVERY) {
      k = 0;
      await io.drain();
      if (io.closed === true) return;
    }
  }
  if (drain) rep.drain();
}

function exitStatus(st: ReplayStats): number {
  if (st.fatal && st.records === 0) return EXIT_UNREADABLE;
  return st.damaged ? EXIT_DAMAGED : EXIT_OK;
}

/** The summary of a replay as text lines. */
export function summaryText(
  file: string,
  st: ReplayStats,
  engine: Engine,
  drops0: Float64Array,
  conns0: number,
  outFile: string | null,
): string {
  const lines: string[] = [];
  const replayed = st.in + st.out;
  lines.push(
    `${file}: ${st.records} packet${st.records === 1 ? '' : 's'}: ${replayed} replayed (${st.in} in, ${st.out} out), ` +
      `${st.nonIp} not IP, ${st.truncated} cut by the snap length, ${st.unknownLinkType} of an unknown link type`,
  );
  const verdicts: string[] = [];
  for (let v = 0; v < st.verdicts.length; v++) {
    if (st.verdicts[v] > 0) verdicts.push(`${VERDICT_NAMES[v]} ${st.verdicts[v]}`);
  }
  lines.push(`verdicts: ${verdicts.length > 0 ? verdicts.join(', ') : 'none'}`);
  const reasons = reasonCounts(engine, drops0);
  lines.push(
    `drop reasons: ${
      reasons.length > 0 ? reasons.map(([n, c]) => `${n} ${c}`).join(', ') : 'none'
    }`,
  );
  const { live, templates } = liveConns(engine);
  lines.push(
    `connections: ${engine.totals.conns - conns0} created, ${live} live at the end` +
      (templates > 0 ? ` (and ${templates} template${templates === 1 ? '' : 's'})` : ''),
  );
  if (st.partialChecksums > 0) {
    lines.push(
      `${st.partialChecksums} packets carried a partial (TX offload) checksum: completed on output`,
    );
  }
  if (st.timeBackwards > 0) {
    lines.push(`time went backwards at ${st.timeBackwards} packets: replayed at the previous time`);
  }
  if (outFile !== null) lines.push(`${outFile}: ${st.written} packets written`);
  if (st.problems.length > 0) {
    lines.push(`capture problems: ${st.problems.length}`);
    for (const p of st.problems.slice(0, 20)) lines.push(`  ${p}`);
    if (st.problems.length > 20) lines.push(`  ... and ${st.problems.length - 20} more`);
  }
  return lines.join('\n') + '\n';
}

function reasonCounts(engine: Engine, drops0: Float64Array): [string, number][] {
  const out: [string, number][] = [];
  for (let i = 1; i < engine.drops.length; i++) {
    const n = engine.drops[i] - drops0[i];
    if (n > 0) out.push([DROP_REASON_NAMES[i], n]);
  }
  return out;
}

function liveConns(engine: Engine): { live: number; templates: number } {
  let templates = 0;
  const c = engine.conns;
  for (const id of c.ids()) if (c.flags[id] & CONN_F_TEMPLATE) templates++;
  return { live: c.count - templates, templates };
}

function summaryObject(
  file: string,
  st: ReplayStats,
  engine: Engine,
  drops0: Float64Array,
  conns0: number,
): Record<string, unknown> {
  const verdicts: Record<string, number> = {};
  for (let v = 0; v < st.verdicts.length; v++) verdicts[VERDICT_NAMES[v]] = st.verdicts[v];
  const { live, templates } = liveConns(engine);
  return {
    type: 'summary',
    file,
    packets: st.records,
    in: st.in,
    out: st.out,
    notIp: st.nonIp,
    truncated: st.truncated,
    unknownLinkType: st.unknownLinkType,
    fileProblems: st.fileProblems,
    partialChecksums: st.partialChecksums,
    verdicts,
    reasons: Object.fromEntries(reasonCounts(engine, drops0)),
    connections: { created: engine.totals.conns - conns0, live, templates },
    problems: st.problems,
    status: exitStatus(st),
  };
}

/**
 * Output through process.stdout/stderr, gathered into chunks, honouring back-pressure.
 * When the reader goes away (`tsvs trace ... | head`) output stops quietly.
 */
export function processIo(): ReplayIo {
  const stdout = process.stdout;
  let buf: string[] = [];
  let size = 0;
  let closed = false;
  stdout.on('error', () => {
    closed = true;
  });
  const flush = (): void => {
    if (size === 0) return;
    if (!closed) stdout.write(buf.join(''));
    buf = [];
    size = 0;
  };
  const settled = (): Promise<void> =>
    new Promise((res) => {
      const done = (): void => {
        stdout.off('drain', done);
        stdout.off('close', done);
        stdout.off('error', done);
        res();
      };
      stdout.once('drain', done);
      stdout.once('close', done);
      stdout.once('error', done);
    });
  return {
    get closed() {
      return closed;
    },
    out(s) {
      buf.push(s);
      size += s.length;
      if (size >= 65536) flush();
    },
    err(s) {
      flush();
      process.stderr.write(s);
    },
    drain() {
      flush();
      if (closed || !stdout.writableNeedDrain) return Promise.resolve();
      return settled();
    },
    end() {
      flush();
      if (closed) return Promise.resolve();
      return new Promise((res) => {
        stdout.write('', () => res());
      });
    },
  };
}

/**
 * `tsvs replay --config FILE IN.pcap [OUT.pcap]`; resolves with the exit status.
 * `io` defaults to the process's stdout and stderr.
 */
export async function runReplay(argv: string[], io: ReplayIo = processIo()): Promise<number> {
  const c = parseCommon(argv, { accepted: { type: 'boolean' } }, io, 'replay', USAGE_REPLAY);
  if (typeof c === 'number') return finish(io, c);
  if (c.values.help) return finish(io, EXIT_OK);
  if (c.positionals.length < 1 || c.positionals.length > 2) {
    io.err(`tsvs replay: expected IN.pcap [OUT.pcap]\n${USAGE_REPLAY}`);
    return finish(io, EXIT_USAGE);
  }
  const [inFile, outFile = null] = c.positionals;
  if (outFile !== null && resolve(outFile) === resolve(inFile)) {
    io.err('tsvs replay: OUT.pcap must not be IN.pcap\n');
    return finish(io, EXIT_USAGE);
  }
  const engine = await makeEngine(c, io, 'replay');
  if (typeof engine === 'number') return finish(io, engine);
  let writer: PcapWriter | null = null;
  if (outFile !== null) {
    const w = PcapWriter.toFile(outFile, { linkType: LINKTYPE_RAW });
    if (!w.ok) {
      io.err(`tsvs replay: ${w.message}\n`);
      return finish(io, EXIT_UNREADABLE);
    }
    writer = w.writer;
  }
  const drops0 = engine.drops.slice();
  const conns0 = engine.totals.conns;
  const rep = new Replayer(engine, {
    marks: c.marks,
    writer,
    writeAccepted: c.values.accepted === true,
  });
  await runLoop(rep, inFile, c.drain, io, (m) => io.err(`tsvs replay: ${inFile}: ${m}\n`));
  const werr = writer?.close() ?? null;
  if (!c.quiet) io.out(summaryText(inFile, rep.stats, engine, drops0, conns0, outFile));
  if (werr !== null) {
    io.err(`tsvs replay: writing ${outFile}: ${werr}\n`);
    return finish(io, EXIT_UNREADABLE);
  }
  return finish(io, exitStatus(rep.stats));
}

/**
 * `tsvs trace --config FILE [--json] [--explain] IN.pcap`; resolves with the exit
 * status. `io` defaults to the process's stdout and stderr.
 */
export async function runTrace(argv: string[], io: ReplayIo = processIo()): Promise<number> {
  const c = parseCommon(
    argv,
    { json: { type: 'boolean' }, explain: { type: 'boolean' } },
    io,
    'trace',
    USAGE_TRACE,
  );
  if (typeof c === 'number') return finish(io, c);
  if (c.values.help) return finish(io, EXIT_OK);
  if (c.positionals.length !== 1) {
    io.err(`tsvs trace: expected one capture file\n${USAGE_TRACE}`);
    return finish(io, EXIT_USAGE);
  }
  const [inFile] = c.positionals;
  const engine = await makeEngine(c, io, 'trace');
  if (typeof engine === 'number') return finish(io, engine);
  const json = c.values.json === true;
  const tracer = new Tracer(engine, (line) => io.out(line), {
    json,
    explain: c.values.explain === true,
  });
  const drops0 = engine.drops.slice();
  const conns0 = engine.totals.conns;
  const rep = new Replayer(engine, { marks: c.marks, observer: tracer });
  await runLoop(rep, inFile, c.drain, io, null);
  tracer.finish();
  tracer.detach();
  if (json) io.out(JSON.stringify(summaryObject(inFile, rep.stats, engine, drops0, conns0)) + '\n');
  else if (!c.quiet) io.err(summaryText(inFile, rep.stats, engine, drops0, conns0, null));
  return finish(io, exitStatus(rep.stats));
}

async function finish(io: ReplayIo, status: number): Promise<number> {
  await io.end();
  return status;
}
