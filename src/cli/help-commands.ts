/**
 * Over 600 lines: one table of every subcommand and option, kept whole on purpose.
 *
 * The `tsvs` subcommands as one table: each entry's options, operands and texts are
 * the single source of `tsvs CMD --help`, the tsvs(8) man page and the bash
 * completion (scripts/man.mjs writes both from here), and its `run` does the work,
 * importing the code it needs only when called — so `tsvs --help` loads nothing else.
 *
 * Adding a subcommand is adding an entry; adding an option is adding a row to
 * `options` and reading it in `run`.
 *
 * @module
 */

import { SETTING_NAMES } from '../engine/settings.js';

/** What completion offers for an option's argument or an operand. */
export type Completion =
  'file' | 'dir' | 'none' | 'netns' | 'interface' | 'hostport' | readonly string[];

/** One option of a subcommand. */
export interface OptionSpec {
  /** Long name without the dashes. */
  long: string;
  short?: string;
  /** Placeholder of its argument; absent for a switch. */
  arg?: string;
  /** May be given more than once. */
  multiple?: boolean;
  /** One paragraph (wrapped when printed). */
  help: string;
  complete?: Completion;
}

/** The parsed command line handed to `run`. */
export interface CommandArgs {
  values: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
  /** The words after the subcommand, as given (for commands that parse their own). */
  raw: string[];
}

/** One subcommand. */
export interface CommandSpec {
  name: string;
  /** One line, for the command list. */
  summary: string;
  /** What follows `tsvs NAME` in the usage line. */
  synopsis: string;
  /** Paragraphs, separated by blank lines. */
  description: string;
  options: readonly OptionSpec[];
  /** Completion of the words that are not options, by position (the last repeats). */
  operands?: readonly Completion[];
  /** Needs root. */
  root?: boolean;
  /**
   * The command parses its own words (`raw`): `options` documents them, and tsvs
   * checks nothing but `-h`/`--help`.
   */
  selfParsed?: boolean;
  run(a: CommandArgs): Promise<number>;
}

function str(v: CommandArgs['values'][string]): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

function num(v: CommandArgs['values'][string]): number | undefined {
  return typeof v === 'string' ? Number(v) : undefined;
}

/** SECONDS (decimals allowed) as milliseconds. */
function seconds(v: CommandArgs['values'][string]): number | undefined {
  return typeof v === 'string' ? Math.round(Number(v) * 1000) : undefined;
}

const CONFIG = {
  long: 'config',
  short: 'c',
  arg: 'FILE',
  help: 'Configuration in ipvsadm save/restore format (ipvsadm -S); lines starting with # are comments.',
  complete: 'file',
} as const;

const REPLAY_COMMON: OptionSpec[] = [
  CONFIG,
  {
    long: 'sysctl',
    arg: 'NAME=VALUE',
    multiple: true,
    help: 'Set net.ipv4.vs.NAME first (e.g. sloppy_tcp=1); repeatable.',
  },
  {
    long: 'mark',
    arg: 'ADDR[:PORT]=MARK',
    multiple: true,
    help: 'Packets to ADDR[:PORT] carry firewall mark MARK (stands in for the iptables rule of a fwmark service); repeatable.',
  },
  {
    long: 'drain',
    help: 'After the last packet, run the clock on until every connection and template has expired.',
  },
  {
    long: 'tunnel-source',
    arg: 'ADDR',
    help: "Outer source address of tunnelled packets (default 0.0.0.0 / ::, the director's address is not in the capture).",
  },
  { long: 'seed', arg: 'N', help: 'Seed of the random source of schedulers (default 1).' },
];

const PROC_NAMES = [
  'ip_vs',
  'ip_vs_stats',
  'ip_vs_conn',
  'ip_vs_conn_sync',
  'ip_vs_defense',
] as const;

/** Every subcommand, in the order `tsvs --help` lists them. */
export const COMMANDS: readonly CommandSpec[] = [
  {
    name: 'daemon',
    summary: 'run the director in the foreground',
    synopsis: '[options]',
    root: true,
    description: `Runs the director: applies the configuration, serves the control socket that tsvsadm, tsvs proc and tsvs sysctl talk to, captures the packets of the virtual services with netfilter queues (and, for established flows, tc filters steering into TUN devices) and forwards them by NAT, direct routing or tunnelling. On SIGINT or SIGTERM it removes everything it installed and saves the configuration.

The configuration file holds ipvsadm rules (ipvsadm -S format) or a tsvs JSON configuration. Every change is saved, and restored at the next start, in /var/lib/tsvs/config.json (per named network namespace /var/lib/tsvs/netns/NAME/config.json; $TSVS_STATE or --state FILE choose another file, --no-state none).`,
    options: [
      {
        long: 'config',
        short: 'c',
        arg: 'FILE',
        help: 'Apply FILE at start: ipvsadm rules (ipvsadm -S format) or a tsvs JSON configuration.',
        complete: 'file',
      },
      {
        long: 'control',
        arg: 'PATH',
        help: 'Control socket (default $TSVS_CONTROL or /run/tsvs/control.sock; per named netns /run/tsvs/netns/NAME/control.sock).',
        complete: 'file',
      },
      {
        long: 'state',
        arg: 'FILE',
        help: 'Where the configuration is saved and restored from (default $TSVS_STATE or /var/lib/tsvs/config.json).',
        complete: 'file',
      },
      { long: 'no-state', help: 'Neither restore nor save the configuration.' },
      {
        long: 'name',
        arg: 'NAME',
        help: 'Instance name of the netfilter chains (default: the netns name, or main).',
      },
      {
        long: 'queue-in',
        arg: 'N',
        help: 'Netfilter queue number for requests (default 7100; the queues of the plain path take the next free numbers).',
      },
      {
        long: 'queue-out',
        arg: 'N',
        help: 'Netfilter queue number for NAT replies (default 7101).',
      },
      {
        long: 'ftp-ports',
        arg: 'P[,P]...',
        help: 'Control ports of the FTP helper for NAT services (default 21, at most 8; 0 turns it off).',
      },
      {
        long: 'no-steer',
        help: 'Capture with the netfilter queues alone, without the tc filters and TUN devices of the fast path (also TSVS_STEER=0).',
      },
      {
        long: 'workers',
        arg: 'N|auto',
        help: "Data-plane workers, one thread each with its own engine and steering devices, flows shared by the client's port (1, 2, 4 or 8; auto: as many as the cores; default 1). Not with --takeover, FTP or connection sync; no in-kernel fast path (docs/dataplane.md).",
      },
      {
        long: 'no-fastpath',
        help: 'Do not forward established TCP flows in the kernel (the tc BPF program and flow map); every packet goes through the daemon (also TSVS_FASTPATH=0).',
      },
      {
        long: 'metrics',
        arg: '[HOST:]PORT',
        help: "Serve Prometheus metrics at http://HOST:PORT/metrics (node_exporter's node_ipvs_* and tsvs_* families; OpenMetrics when asked). A bare port listens on 127.0.0.1.",
        complete: 'hostport',
      },
      {
        long: 'keepalived',
        arg: 'FILE',
        help: 'Create the virtual servers of a keepalived.conf and run their health checks (TCP_CHECK, HTTP_GET, MISC_CHECK) as keepalived would.',
        complete: 'file',
      },
      {
        long: 'web',
        arg: '[HOST:]PORT',
        help: 'Serve the live dashboard (docs/dashboard.md); a bare port listens on 127.0.0.1. Its actions, and any access not from this machine, need the token of --web-token-file.',
        complete: 'hostport',
      },
      {
        long: 'web-token-file',
        arg: 'FILE',
        help: "The dashboard's token (generated with mode 0600 when missing; default web.token beside the control socket).",
        complete: 'file',
      },
      {
        long: 'check',
        help: 'Only check the --config and --keepalived files as start and reload would: every problem as file:line, exit 0 valid / 1 not.',
      },
      {
        long: 'ignore-config-errors',
        help: 'Start even when a configuration file has problems (by default they are fatal). SIGHUP re-reads the files and applies the difference.',
      },
      {
        long: 'takeover',
        help: "Take over from the running daemon (its state over the control socket, then its capture and transmit) with only the hand-over's gap.",
      },
      {
        long: 'no-journal',
        help: 'Keep no crash journal (a restart after a crash then starts with an empty connection table).',
      },
      {
        long: 'run-dir',
        arg: 'DIR',
        help: "Where the saved engine state and the crash journal live (default: the control socket's directory).",
        complete: 'file',
      },
      {
        long: 'sync-interface',
        arg: 'IF',
        help: "Connection sync follows keepalived's VRRP role on IF (docs/ha.md): the daemon starts as a sync backup, learning its table, and tsvs vrrp-notify (or --vrrp-notify-fifo) switches it to master and back, as keepalived's lvs_sync_daemon switches the kernel's.",
        complete: 'interface',
      },
      { long: 'sync-id', arg: 'N', help: 'Sync id of those daemons (default 0).' },
      {
        long: 'sync-follow',
        arg: 'NAME',
        help: 'Only this vrrp_instance or vrrp_sync_group drives the sync role (default: the groups notified, else the instances; master while one is MASTER).',
      },
      {
        long: 'sync-full-pass',
        arg: 'SECONDS',
        help: "A sync master sends its whole table once every SECONDS (default 10; 0: only on packets, as the kernel), so that a restarted backup learns idle connections too. A tsvs addition; the records are the kernel's.",
      },
      {
        long: 'sync-learn',
        arg: 'SECONDS',
        help: 'After its first sync backup daemon starts, the director is not ready for SECONDS while it learns its table (default: the full pass + 3).',
      },
      {
        long: 'vrrp-notify-fifo',
        arg: 'FIFO',
        help: "Read keepalived's vrrp_notify_fifo (made when missing) for the VRRP role, instead of or beside tsvs vrrp-notify.",
        complete: 'file',
      },
      {
        long: 'stop-clean',
        help: 'Stop the running daemon removing everything it installed (SIGINT does the same); with none running, remove what the last one left. SIGTERM instead saves the connection table and leaves capture in place, failing closed, until the next start restores it (docs/operations-state.md).',
      },
    ],
    async run({ values: v }) {
      const ftp = str(v['ftp-ports']);
      if (v.check) {
        const { checkSources } = await import('../daemon/check.js');
        if (!v.config && !v.keepalived) {
          process.stderr.write('tsvs daemon --check: no --config or --keepalived file to check\n');
          return 0;
        }
        return (await checkSources({ config: str(v.config), keepalived: str(v.keepalived) }))
          ? 0
          : 1;
      }
      const { runDaemon, defaultPaths } = await import('../daemon/daemon.js');
      let workers: number | undefined;
      if (str(v.workers) !== undefined) {
        const { parseWorkers } = await import('../daemon/workers.js');
        const w = parseWorkers(str(v.workers)!);
        if (typeof w === 'string') {
          process.stderr.write(`tsvs daemon: ${w}\n`);
          return 2;
        }
        workers = w;
      }
      if (v['stop-clean']) {
        const { stopClean } = await import('../daemon/state.js');
        const { dirname } = await import('node:path');
        const { currentNetnsName } = await import('../sys/netns.js');
        const control = str(v.control) ?? defaultPaths().control;
        return stopClean({
          control,
          name: str(v.name) ?? (currentNetnsName() || 'main'),
          queueIn: num(v['queue-in']),
          queueOut: num(v['queue-out']),
          runDir: str(v['run-dir']) ?? dirname(control),
          log: (l) => process.stderr.write(`tsvs: ${l}\n`),
        });
      }
      return runDaemon({
        config: str(v.config),
        control: str(v.control),
        state: v['no-state'] ? null : str(v.state),
        name: str(v.name),
        queueIn: num(v['queue-in']),
        queueOut: num(v['queue-out']),
        ftpPorts: ftp === undefined ? undefined : ftp.split(',').map((p) => Number(p.trim())),
        steer: v['no-steer'] ? false : undefined,
        fastpath: v['no-fastpath'] ? false : undefined,
        workers,
        metrics: str(v.metrics),
        keepalived: str(v.keepalived),
        web: str(v.web),
        webTokenFile: str(v['web-token-file']),
        ignoreConfigErrors: v['ignore-config-errors'] === true,
        takeover: v.takeover === true,
        syncInterface: str(v['sync-interface']),
        syncId: num(v['sync-id']),
        syncFollow: str(v['sync-follow']),
        syncFullPassMs: seconds(v['sync-full-pass']),
        syncLearnMs: seconds(v['sync-learn']),
        vrrpNotifyFifo: str(v['vrrp-notify-fifo']),
        journal: v['no-journal'] ? false : undefined,
        runDir: str(v['run-dir']),
      });
    },
  },
  {
    name: 'check',
    summary: 'check configuration files as start and reload would',
    synopsis: '[--config FILE] [--keepalived FILE] [FILE]...',
    selfParsed: true,
    description:
      'Reads ipvsadm rules files, tsvs JSON configurations and keepalived.conf files (a FILE is told apart by its content) exactly as the daemon does at start and on reload, and prints every problem as file:line: reason. Exit status 0 when every file is valid, 1 when one is not, 2 when no file is given.',
    options: [
      {
        long: 'config',
        arg: 'FILE',
        help: 'A rules or JSON configuration file.',
        complete: 'file',
      },
      { long: 'keepalived', arg: 'FILE', help: 'A keepalived.conf.', complete: 'file' },
    ],
    operands: ['file'],
    async run({ raw }) {
      const { parseArgs } = await import('node:util');
      const { values, positionals } = parseArgs({
        args: raw,
        allowPositionals: true,
        options: { config: { type: 'string' }, keepalived: { type: 'string' } },
      });
      const { runCheck } = await import('../daemon/check.js');
      return runCheck(positionals, { config: values.config, keepalived: values.keepalived });
    },
  },
  {
    name: 'reload',
    summary: 'make the daemon re-read its files and apply the difference',
    synopsis: '[--control PATH]',
    description:
      'Asks the running daemon (as SIGHUP does) to re-read the configuration files it was started with, validate them whole and apply only the difference; prints the changes, or the problems (file:line) when nothing was changed. Answered once the data plane carries the result.',
    options: [{ long: 'control', arg: 'PATH', help: 'The control socket.', complete: 'file' }],
    async run({ values: v }) {
      const { runReloadCommand } = await import('../daemon/reload.js');
      return runReloadCommand(str(v.control));
    },
  },
  {
    name: 'status',
    summary: "say whether the director is ready (for keepalived's track_script and BGP checks)",
    synopsis:
      '[--ready] [--json] [--quiet] [--control PATH] [--watch SECONDS --on-ready CMD --on-not-ready CMD] [VIP[:PORT]]',
    selfParsed: true,
    description: `Asks the running daemon whether it is ready (docs/ha.md): its data plane runs, its configuration is loaded, and it is not learning its connection table from sync; with VIP (ADDR, ADDR:PORT or [IPv6]:PORT) also that every virtual service of that address (and port) has a real server with weight above 0 that its health checks find alive. A daemon that does not answer is not ready.

With --ready: exit status 0 ready, 1 not ready, 2 usage; one line, "ready" on stdout or "not ready: REASON" on stderr — what keepalived's track_script and a BGP speaker's check run. Without: the whole report (readiness, learning, VRRP role), exit status as with --ready.

With --watch: asks every SECONDS and runs (with /bin/sh -c) the --on-ready or --on-not-ready command at the start and whenever the verdict changes, again at the next interval when it failed — e.g. birdc enable/disable of the static protocol that announces the VIP by BGP (examples/fleet/). Runs until SIGINT or SIGTERM.`,
    options: [
      { long: 'ready', help: 'Only the verdict: one line and the exit status.' },
      { long: 'json', help: "The daemon's whole answer as JSON." },
      { long: 'quiet', short: 'q', help: 'No output, only the exit status.' },
      { long: 'control', arg: 'PATH', help: 'The control socket.', complete: 'file' },
      { long: 'watch', arg: 'SECONDS', help: 'Ask again every SECONDS (decimals allowed).' },
      {
        long: 'on-ready',
        arg: 'CMD',
        help: 'With --watch: the command to run on becoming ready.',
      },
      {
        long: 'on-not-ready',
        arg: 'CMD',
        help: 'With --watch: the command to run on becoming not ready (also when the daemon does not answer).',
      },
    ],
    operands: ['none'],
    async run({ raw }) {
      const { parseArgs } = await import('node:util');
      let parsed;
      try {
        parsed = parseArgs({
          args: raw,
          allowPositionals: true,
          options: {
            ready: { type: 'boolean' },
            json: { type: 'boolean' },
            quiet: { type: 'boolean', short: 'q' },
            control: { type: 'string' },
            watch: { type: 'string' },
            'on-ready': { type: 'string' },
            'on-not-ready': { type: 'string' },
          },
        });
      } catch (e) {
        process.stderr.write(`tsvs status: ${(e as Error).message}\n`);
        return 2;
      }
      const { values: v, positionals: p } = parsed;
      if (p.length > 1) {
        process.stderr.write('tsvs status: at most one VIP\n');
        return 2;
      }
      const { runReadyCommand, runStatusCommand, runReadyWatch } =
        await import('../daemon/ready.js');
      if (v.watch !== undefined) {
        const ms = Math.round(Number(v.watch) * 1000);
        if (!Number.isFinite(ms) || ms < 100) {
          process.stderr.write('tsvs status: --watch SECONDS: at least 0.1\n');
          return 2;
        }
        return runReadyWatch({
          control: v.control,
          vip: p[0],
          intervalMs: ms,
          onReady: v['on-ready'],
          onNotReady: v['on-not-ready'],
        });
      }
      const o = { control: v.control, vip: p[0], json: v.json, quiet: v.quiet };
      return v.ready || v.json || v.quiet ? runReadyCommand(o) : runStatusCommand(o);
    },
  },
  {
    name: 'vrrp-notify',
    summary: "keepalived's notify script: tell the daemon the VRRP state",
    synopsis: '[--control PATH] INSTANCE|GROUP NAME MASTER|BACKUP|FAULT|STOP [PRIORITY]',
    selfParsed: true,
    description: `Run by keepalived as a vrrp_instance's or vrrp_sync_group's notify script (notify "/usr/bin/tsvs vrrp-notify"; keepalived appends the type, name, state and priority). Records the state beside the control socket, so a daemon that starts later knows it, and tells the running daemon: it exports the role (metrics, dashboard) and, started with --sync-interface, switches the sync daemons — master on MASTER, backup otherwise (docs/ha.md).

Exit status 0 once recorded (also when the daemon does not answer: it reads the record at its start), 2 on bad arguments.`,
    options: [{ long: 'control', arg: 'PATH', help: 'The control socket.', complete: 'file' }],
    operands: [['INSTANCE', 'GROUP'], 'none', ['MASTER', 'BACKUP', 'FAULT', 'STOP'], 'none'],
    async run({ raw }) {
      const { parseArgs } = await import('node:util');
      let parsed;
      try {
        parsed = parseArgs({
          args: raw,
          allowPositionals: true,
          options: { control: { type: 'string' } },
        });
      } catch (e) {
        process.stderr.write(`tsvs vrrp-notify: ${(e as Error).message}\n`);
        return 2;
      }
      const { runVrrpNotifyCommand } = await import('../daemon/vrrp.js');
      return runVrrpNotifyCommand(parsed.positionals, { control: parsed.values.control });
    },
  },
  {
    name: 'demo',
    summary: 'bring up a lab and balance HTTP over two real servers',
    synopsis: '[--requests N] [--prefix NAME]',
    root: true,
    description:
      'Builds a lab of network namespaces (a client, the director, two real servers running HTTP), starts the real daemon in it, adds a round-robin service with tsvsadm, sends requests, prints who answered and the connection table, and tears everything down.',
    options: [
      { long: 'requests', arg: 'N', help: 'How many requests to send (default 6).' },
      {
        long: 'prefix',
        arg: 'NAME',
        help: 'Prefix of the namespaces and devices of the lab (default tsvsdemo).',
      },
    ],
    async run({ values: v }) {
      const { runDemo } = await import('./demo.js');
      return runDemo({ requests: num(v.requests), prefix: str(v.prefix) });
    },
  },
  {
    name: 'decap',
    summary: 'user-space IPIP decapsulator for real servers',
    synopsis: '[--netns NS] [--allow ADDR]... [--tun NAME]',
    root: true,
    description:
      "Receives IPIP (and IPv6-in-IPv6) packets on raw sockets and delivers the inner packets through a TUN device, so a real server of a tunnelling service works on hosts without the ipip module; the real server then replies directly to the client, as with the kernel's tunl0. Runs until SIGINT or SIGTERM.",
    options: [
      {
        long: 'netns',
        arg: 'NS',
        help: 'Network namespace to work in (a name under /run/netns, or a path).',
        complete: 'netns',
      },
      {
        long: 'allow',
        arg: 'ADDR',
        multiple: true,
        help: 'Accept tunnelled packets only from ADDR (a director); repeatable. Default: from anyone.',
      },
      {
        long: 'tun',
        arg: 'NAME',
        help: 'Name of the TUN device; %d is replaced by a number (default tsvsdecap%d).',
      },
    ],
    async run({ values: v }) {
      const { runDecap } = await import('../dataplane/decap.js');
      const h = runDecap({
        netns: str(v.netns),
        allowedSources: Array.isArray(v.allow) ? v.allow : undefined,
        tunName: str(v.tun),
        onWarning: (m) => process.stderr.write(`tsvs decap: ${m}\n`),
      });
      process.stderr.write(`tsvs decap: delivering decapsulated packets through ${h.tunName}\n`);
      return new Promise<number>((resolve) => {
        const stop = (): void => {
          h.close();
          resolve(0);
        };
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
    },
  },
  {
    name: 'replay',
    summary: 'run a capture through the engine, write what the director sends',
    synopsis: '--config FILE [options] IN.pcap [OUT.pcap]',
    selfParsed: true,
    description: `Runs the packets of IN.pcap (pcap or pcapng; Ethernet, raw IP, Linux cooked ...) through the IPVS engine at their capture times and writes what the director would have sent — rewritten, encapsulated, or the ICMP it built — to OUT.pcap (raw IP, same timestamps). Prints a summary: packets, verdicts, drop reasons.

Exit status: 0 done; 1 done, but the capture is damaged (reported with packet numbers); 2 usage or configuration error; 3 capture unreadable or output unwritable.`,
    options: [
      ...REPLAY_COMMON,
      { long: 'accepted', help: 'Also write packets the director passes unchanged.' },
      { long: 'quiet', short: 'q', help: 'No summary.' },
    ],
    operands: ['file', 'file'],
    async run({ raw }) {
      return (await import('../replay/cli.js')).runReplay(raw);
    },
  },
  {
    name: 'trace',
    summary: 'explain, packet by packet, what the engine does with a capture',
    synopsis: '--config FILE [options] IN.pcap',
    selfParsed: true,
    description: `Runs IN.pcap through the IPVS engine as tsvs replay does and prints one line per packet: time, path (in/out), packet, the connection matched or created (service, scheduler, real server, method), state before and after and the timeout armed, the rewrite, and the verdict or drop reason; plus a line for every expiry.

Exit status as for tsvs replay.`,
    options: [
      ...REPLAY_COMMON,
      { long: 'json', help: 'One JSON object per line.' },
      {
        long: 'explain',
        help: "Add the spec's reasoning for the first packets of each connection, every state change and every drop.",
      },
      { long: 'quiet', short: 'q', help: 'No summary on stderr.' },
    ],
    operands: ['file'],
    async run({ raw }) {
      return (await import('../replay/cli.js')).runTrace(raw);
    },
  },
  {
    name: 'proc',
    summary: "print one of the kernel's /proc/net/ip_vs* views, from the daemon",
    synopsis: PROC_NAMES.join('|'),
    selfParsed: true,
    description:
      'Prints /proc/net/NAME as the kernel would, byte for byte, for the running daemon (control socket: $TSVS_CONTROL, default /run/tsvs/control.sock): ip_vs (services and real servers), ip_vs_stats (totals and rates), ip_vs_conn and ip_vs_conn_sync (the connection table); and ip_vs_defense, which the kernel does not have: the state of the defences, the size of the connection table and conn_max, and the counters and drops of the SYN proxy. Tools that read these files (node_exporter, monitoring scripts) can read them from here.',
    options: [],
    operands: [PROC_NAMES],
    async run({ raw }) {
      return (await import('./proc.js')).runProc(raw);
    },
  },
  {
    name: 'sysctl',
    summary: 'read or set the net.ipv4.vs.* settings of the daemon',
    synopsis: '[-n] [-a | NAME... | [-w] NAME=VALUE...]',
    selfParsed: true,
    description:
      "Reads or writes the daemon's net.ipv4.vs.* settings as sysctl(8) does the kernel's: with no NAME (or -a) every setting, one per line. Two are tsvs's own, with no kernel sysctl: synproxy (1 puts every TCP service behind the SYN proxy, as --synproxy does for one service; default 0) and conn_max (the most entries the connection table may hold, 0 = no limit as in the kernel).",
    options: [
      { long: 'values', short: 'n', help: 'Print values only.' },
      { long: 'all', short: 'a', help: 'Every setting.' },
      { long: 'write', short: 'w', help: 'Set NAME=VALUE.' },
    ],
    operands: [SETTING_NAMES.map((n) => `net.ipv4.vs.${n}`)],
    async run({ raw }) {
      return (await import('./sysctl.js')).runSysctl(raw);
    },
  },
];

/** The environment the commands read (for help and the man page). */
export const ENVIRONMENT: readonly [string, string][] = [
  [
    'TSVS_CONTROL',
    'Control socket of the daemon (default /run/tsvs/control.sock; in a named network namespace /run/tsvs/netns/NAME/control.sock).',
  ],
  ['TSVS_STATE', "The daemon's saved configuration (default /var/lib/tsvs/config.json)."],
  ['TSVS_STEER', '0 turns the fast path (tc steering into TUN devices) off, as --no-steer does.'],
  ['TSVS_FASTPATH', '0 turns the in-kernel forwarding of established flows off (--no-fastpath).'],
];

/** The entry of a subcommand, or undefined. */
export function findCommand(name: string): CommandSpec | undefined {
  return COMMANDS.find((c) => c.name === name);
}
