/**
 * tsvsadm: ipvsadm's program flow (reference §1) over the JSON control API. Connect
 * first (as ipvsadm talks to the kernel before reading its arguments), parse, run one
 * command, print exactly what ipvsadm prints and return its exit status (§9.1).
 */
import { ControlError, destConfig, serviceIdOf } from '../model.js';
import type { Request, ResultOf } from '../protocol.js';
import { ControlUnavailableError } from '../client.js';
import {
  connAddrs,
  formatConnections,
  formatDaemons,
  formatSave,
  formatServices,
  formatTimeouts,
  prepareNames,
  serviceAddrs,
  sortServices,
  versionLine,
} from './format.js';
import { helpText, VERSION_LINE } from './help.js';
import { parseCommandLine, restoreWords, type ParsedCommand } from './options.js';
import type { Resolver } from './resolve.js';
import type { Info, ServiceId, ServiceSpec } from '../model.js';

/** What tsvsadm needs of the control API (a ControlClient, or a model in-process). */
export interface Api {
  call<R extends Request>(req: R): Promise<ResultOf<R>>;
  close?(): void;
}

export interface IpvsadmIo {
  out(s: string): void;
  err(s: string): void;
  /** All of standard input (for -R). */
  readStdin(): Promise<Buffer>;
}

export interface IpvsadmContext {
  /** argv[0] as ipvsadm would print it in `Try ...` and the usage text. */
  argv0: string;
  resolver: Resolver;
  connect(): Promise<Api>;
  io: IpvsadmIo;
  /** Parse as a line of a restore stream (`-R` refused with Try ...). */
  inRestore?: boolean;
}

/** Commands that change the kernel's state: a refusal prints the message, status 255. */
const CHANGES = new Set([
  'add-service',
  'edit-service',
  'delete-service',
  'flush',
  'add-server',
  'edit-server',
  'delete-server',
  'zero',
  'set',
  'start-daemon',
  'stop-daemon',
]);

/** Lines of a restore stream as fgets with a 4096-byte buffer reads them. */
function restoreLines(input: Buffer): string[] {
  const out: string[] = [];
  let start = 0;
  while (start < input.length) {
    let nl = input.indexOf(10, start);
    if (nl < 0) nl = input.length;
    for (let p = start; ; p += 4095) {
      out.push(input.subarray(p, Math.min(nl, p + 4095)).toString('utf8'));
      if (p + 4095 >= nl) break;
    }
    start = nl + 1;
  }
  return out;
}

function unavailable(e: ControlUnavailableError): string {
  return (
    `Can't initialize ipvs: ${e.message}\n` +
    'Are you sure that the tsvs daemon is running? (TSVS_CONTROL selects its control socket)\n'
  );
}

function serviceId(c: ParsedCommand): ServiceId {
  return serviceIdOf(c.svc);
}

function serviceSpec(c: ParsedCommand): ServiceSpec {
  const s = c.svc;
  return {
    ...serviceId(c),
    scheduler: s.scheduler,
    flags: s.flags,
    timeout: s.timeout,
    netmask: s.netmask,
    pe: s.pe,
  };
}

/** The request of a command that changes state. */
function changeRequest(c: ParsedCommand): Request {
  switch (c.cmd) {
    case 'add-service':
      return { cmd: 'addService', service: serviceSpec(c) };
    case 'edit-service':
      return { cmd: 'editService', service: serviceSpec(c) };
    case 'delete-service':
      return { cmd: 'delService', service: serviceId(c) };
    case 'flush':
      return { cmd: 'flush' };
    case 'add-server':
      return { cmd: 'addDest', service: serviceId(c), dest: destConfig(c.dest) };
    case 'edit-server':
      return { cmd: 'editDest', service: serviceId(c), dest: destConfig(c.dest) };
    case 'delete-server':
      return {
        cmd: 'delDest',
        service: serviceId(c),
        dest: { addr: c.dest.addr, port: c.dest.port },
      };
    case 'zero':
      return c.options.has('service-address')
        ? { cmd: 'zero', service: serviceId(c) }
        : { cmd: 'zero' };
    case 'set':
      return { cmd: 'setTimeouts', timeouts: c.timeouts };
    case 'start-daemon': {
      const d = c.daemon;
      return {
        cmd: 'startDaemon',
        daemon: {
          state: d.state,
          mcastIfn: d.mcastIfn,
          syncId: d.syncId,
          maxLen: d.maxLen,
          ...(d.mcastGroup ? { mcastGroup: d.mcastGroup } : {}),
          mcastPort: d.mcastPort,
          mcastTtl: d.mcastTtl,
        },
      };
    }
    case 'stop-daemon':
      return { cmd: 'stopDaemon', state: c.daemon.state };
    default:
      throw new Error(`not a change: ${c.cmd}`);
  }
}

class Runner {
  private readonly ctx: IpvsadmContext;
  private readonly api: Api;
  private readonly info: Info;

  constructor(ctx: IpvsadmContext, api: Api, info: Info) {
    this.ctx = ctx;
    this.api = api;
    this.info = info;
  }

  /** Print an API failure; a lost daemon is status 2 whatever the command. */
  private failure(e: unknown, status: number, quiet = false): number {
    if (e instanceof ControlUnavailableError) {
      this.ctx.io.err(`${e.message}\n`);
      return 2;
    }
    if (!quiet) this.ctx.io.err(`${e instanceof Error ? e.message : String(e)}\n`);
    return status;
  }

  /** Run one parsed command line; returns the exit status. */
  async run(c: ParsedCommand): Promise<number> {
    if (CHANGES.has(c.cmd)) {
      try {
        await this.api.call(changeRequest(c));
        return 0;
      } catch (e) {
        return this.failure(e, 255);
      }
    }
    if (c.cmd === 'save') return this.save(c);
    if (c.cmd === 'list') return this.list(c);
    if (c.cmd === 'restore') return this.restore();
    return 0;
  }

  private async save(c: ParsedCommand): Promise<number> {
    let list;
    try {
      list = await this.api.call({ cmd: 'listServices' });
    } catch (e) {
      return this.failure(e, 1);
    }
    const sorted = sortServices(list);
    const names = await prepareNames(this.ctx.resolver, c.format.numeric, serviceAddrs(sorted));
    this.ctx.io.out(formatSave(sorted, names));
    return 0;
  }

  private async list(c: ParsedCommand): Promise<number> {
    const f = c.format;
    const io = this.ctx.io;
    if (f.connection) {
      let conns;
      try {
        conns = await this.api.call({ cmd: 'listConnections' });
      } catch (e) {
        if (e instanceof ControlUnavailableError) return this.failure(e, 2);
        io.err('cannot open file /proc/net/ip_vs_conn\n');
        return 1;
      }
      const names = await prepareNames(this.ctx.resolver, f.numeric, connAddrs(conns));
      io.out(formatConnections(conns, f, names));
      return 0;
    }
    if (f.timeout) {
      try {
        io.out(formatTimeouts(await this.api.call({ cmd: 'getTimeouts' })));
        return 0;
      } catch (e) {
        return this.failure(e, 1, true);
      }
    }
    if (f.daemon) {
      try {
        io.out(formatDaemons(await this.api.call({ cmd: 'getDaemons' })));
        return 0;
      } catch (e) {
        return this.failure(e, 1, true);
      }
    }
    let list;
    if (c.options.has('service-address')) {
      try {
        list = [await this.api.call({ cmd: 'getService', service: serviceId(c) })];
      } catch (e) {
        return this.failure(e, 1);
      }
    } else {
      // the version line comes before the services are fetched (§7.1)
      io.out(versionLine(this.info));
      try {
        list = await this.api.call({ cmd: 'listServices' });
      } catch (e) {
        return this.failure(e, 1);
      }
    }
    if (!f.nosort) list = sortServices(list);
    const names = await prepareNames(this.ctx.resolver, f.numeric, serviceAddrs(list));
    io.out(formatServices(list, f, names));
    return 0;
  }

  /**
   * `-R` (§8.2): each line runs as its own command line. Validation errors end the
   * restore; popt and kernel errors are printed and the restore goes on; the status
   * is the last line's. Changes are pipelined (sent without waiting for the previous
   * answer) and their outcomes printed in order; any other command waits for them.
   */
  private async restore(): Promise<number> {
    const { io, resolver, argv0 } = this.ctx;
    const input = await io.readStdin();
    let status = 0;
    let chain: Promise<void> = Promise.resolve();
    let lost: number | null = null;
    for (const line of restoreLines(input)) {
      const words = restoreWords(line);
      if (words.length === 0) continue;
      const p = await parseCommandLine(words, resolver, argv0, true);
      if (p.kind === 'error') {
        await chain;
        if (lost !== null) return lost;
        io.err(`${p.message}\n`);
        if (p.popt) {
          status = p.status;
          continue;
        }
        return p.status;
      }
      if (p.kind === 'help' || p.kind === 'version') {
        await chain;
        if (lost !== null) return lost;
        io.out(p.kind === 'help' ? helpText(argv0) : `${VERSION_LINE}\n`);
        return 0;
      }
      const c = p.command;
      if (CHANGES.has(c.cmd)) {
        const pending = this.api.call(changeRequest(c)).then(
          () => null,
          (e: unknown) => e,
        );
        chain = chain.then(async () => {
          const e = await pending;
          if (lost !== null) return;
          if (e === null) status = 0;
          else {
            status = this.failure(e, 255);
            if (e instanceof ControlUnavailableError) lost = 2;
          }
        });
        continue;
      }
      await chain;
      if (lost !== null) return lost;
      status = await this.run(c);
      if (status !== 0) return status;
    }
    await chain;
    return lost ?? status;
  }
}

/**
 * Run tsvsadm with `args` (argv without argv[0]); resolves with the exit status.
 * Output goes through `ctx.io`.
 */
export async function runIpvsadm(args: readonly string[], ctx: IpvsadmContext): Promise<number> {
  let api: Api;
  let info: Info;
  try {
    api = await ctx.connect();
    info = await api.call({ cmd: 'info' });
  } catch (e) {
    if (e instanceof ControlUnavailableError) {
      ctx.io.err(unavailable(e));
      return 2;
    }
    const msg = e instanceof ControlError || e instanceof Error ? e.message : String(e);
    ctx.io.err(`Can't initialize ipvs: ${msg}\n`);
    return 2;
  }
  try {
    // no arguments at all: the full table with names resolved
    const argv = args.length === 0 ? ['-L'] : args;
    const p = await parseCommandLine(argv, ctx.resolver, ctx.argv0, ctx.inRestore ?? false);
    if (p.kind === 'help') {
      ctx.io.out(helpText(ctx.argv0));
      return 0;
    }
    if (p.kind === 'version') {
      ctx.io.out(`${VERSION_LINE}\n`);
      return 0;
    }
    if (p.kind === 'error') {
      ctx.io.err(`${p.message}\n`);
      return p.status;
    }
    return await new Runner(ctx, api, info).run(p.command);
  } finally {
    api.close?.();
  }
}
