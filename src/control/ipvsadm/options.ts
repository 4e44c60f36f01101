/**
 * ipvsadm's command line, parsed exactly as ipvsadm 1.31 with libpopt does it
 * (reference §1.1–§5): popt's scanner (`popt.ts`), the first option must be a
 * command, options processed left to right (some depend on earlier ones), then the
 * command/option table of §4 (`commands.ts`) and the post-parse checks and fix-ups
 * of §5.2.
 *
 * The result is either a {@link ParsedCommand} or the message and exit status ipvsadm
 * would print and return. Only ipvsadm's own client-side checks are made here (their
 * messages are ipvsadm's); the range checks of the kernel happen once, in the model.
 */
import {
  IPPROTO_SCTP,
  IPPROTO_TCP,
  IPPROTO_UDP,
  SVC_F_ONEPACKET,
  SVC_F_SYNPROXY,
  SVC_F_PERSISTENT,
} from '../../engine/constants.js';
import { checkSchedFlags } from '../../engine/sched/flags.js';
import { parseAddr } from '../../engine/addr.js';
import {
  DEST_DEFAULTS,
  MAX_TIMEOUT,
  SERVICE_DEFAULTS,
  TUN_TYPE_NAMES,
  defaultNetmask,
  type Timeouts,
} from '../../engine/spec.js';
import { isIPv4 } from 'node:net';
import { DAEMON_DEFAULTS } from '../daemons.js';
import type { DaemonSpec, DestConfig, Family, ServiceConfig } from '../model.js';
import {
  CMD_ORDER,
  checkTable,
  checkTunnel,
  Fail,
  fail,
  type CmdName,
  type OptName,
} from './commands.js';
import { parseHostPort, toNumber } from './hostport.js';
import { Popt } from './popt.js';
import { inetAton, isIPv6Literal, type Resolver } from './resolve.js';

/** The list layouts and switches of `-L`. */
export interface ListFormat {
  numeric: boolean;
  stats: boolean;
  rate: boolean;
  thresholds: boolean;
  persistentConn: boolean;
  tunInfo: boolean;
  nosort: boolean;
  exact: boolean;
  connection: boolean;
  timeout: boolean;
  daemon: boolean;
}

/** The service of a command line, every field filled in (ipvsadm's defaults). */
export type ParsedService = ServiceConfig;

/** The real server of a command line, every field filled in, with its family. */
export type ParsedDest = DestConfig & { af: Family };

/** `--start-daemon`'s parameters as given (0 or '' where not given). */
export type ParsedDaemon = Required<DaemonSpec>;

export interface ParsedCommand {
  cmd: CmdName;
  /** Options given (by internal name). */
  options: Set<OptName>;
  svc: ParsedService;
  dest: ParsedDest;
  format: ListFormat;
  timeouts: Timeouts;
  daemon: ParsedDaemon;
}

export type ParseResult =
  | { kind: 'command'; command: ParsedCommand }
  | { kind: 'help' }
  | { kind: 'version' }
  /** An error: the message (without newline) and ipvsadm's exit status. */
  | { kind: 'error'; message: string; status: number; popt?: boolean };

function isMulticast4(a: string): boolean {
  return isIPv4(a) && (Number(a.split('.')[0]) & 0xf0) === 0xe0;
}

function isMulticast6(a: string): boolean {
  return isIPv6Literal(a) && /^ff/i.test(a);
}

/**
 * Parse one ipvsadm command line (without argv[0]). `inRestore` marks a line of an
 * `-R` stream, where `-R` itself is refused.
 */
export async function parseCommandLine(
  args: readonly string[],
  resolver: Resolver,
  argv0: string,
  inRestore = false,
): Promise<ParseResult> {
  const tryHelp = {
    kind: 'error' as const,
    message: `Try \`${argv0} -h' or '${argv0} --help' for more information.`,
    status: 255,
  };
  const popt = new Popt(args);
  const first = popt.next();
  if (first === null || first.kind === 'error') return tryHelp;
  const t = first.def.tag;
  if (t === 'help') return { kind: 'help' };
  if (t === 'version') return { kind: 'version' };
  if (!CMD_ORDER.includes(t as CmdName)) return tryHelp;
  const cmd = t as CmdName;
  if (cmd === 'restore' && inRestore) return tryHelp;

  const options = new Set<OptName>();
  const svc: ParsedService = {
    af: 4,
    protocol: 0,
    addr: '0.0.0.0',
    port: 0,
    fwmark: 0,
    // '' until -s gives one: -b checks against the scheduler given, else the default
    scheduler: '',
    flags: SERVICE_DEFAULTS.flags,
    timeout: 0,
    netmask: defaultNetmask(4),
    pe: SERVICE_DEFAULTS.pe,
  };
  const dest: ParsedDest = { af: 4, addr: '0.0.0.0', port: 0, ...DEST_DEFAULTS };
  const format: ListFormat = {
    numeric: false,
    stats: false,
    rate: false,
    thresholds: false,
    persistentConn: false,
    tunInfo: false,
    nosort: false,
    exact: false,
    connection: false,
    timeout: false,
    daemon: false,
  };
  const daemon: ParsedDaemon = {
    state: 'master',
    mcastIfn: '',
    syncId: 0,
    maxLen: 0,
    mcastGroup: '',
    mcastPort: 0,
    mcastTtl: 0,
  };
  const timeouts: Timeouts = { tcp: 0, tcpfin: 0, udp: 0 };
  let schedFlags: string | null = null;

  const set = (name: OptName): void => {
    if (options.has(name)) fail(`multiple '${name}' options specified`);
    options.add(name);
  };

  try {
    if (cmd === 'start-daemon' || cmd === 'stop-daemon') {
      const a = first.arg ?? '';
      if (a === 'master' || a === 'backup') daemon.state = a;
      else
        fail(
          cmd === 'start-daemon'
            ? 'illegal start-daemon parameter specified'
            : 'illegal start_daemon specified',
        );
    }

    for (let ev = popt.next(); ev !== null; ev = popt.next()) {
      if (ev.kind === 'error')
        return { kind: 'error', message: `${ev.word}: ${ev.text}`, status: 255, popt: true };
      const arg = ev.arg ?? '';
      switch (ev.def.tag) {
        case 'tcp':
        case 'udp':
        case 'sctp': {
          set('service-address');
          svc.protocol =
            ev.def.tag === 'tcp' ? IPPROTO_TCP : ev.def.tag === 'udp' ? IPPROTO_UDP : IPPROTO_SCTP;
          const r = await parseHostPort(arg, svc.protocol, resolver);
          if (!r) fail('illegal virtual server address[:port] specified');
          svc.af = r.af;
          svc.addr = r.addr;
          svc.port = r.port ?? 0;
          if (r.af === 6) svc.netmask = defaultNetmask(6);
          break;
        }
        case 'fwmark': {
          set('service-address');
          const n = /^\+?\d+$/.test(arg) ? Number(arg) : NaN;
          if (!(n >= 1 && n <= 0xffffffff)) fail(`invalid fwmark value \`${arg}' specified`);
          svc.fwmark = n;
          svc.af = 4;
          svc.protocol = IPPROTO_TCP;
          break;
        }
        case 'ipv6':
          if (svc.fwmark === 0) fail('-6 used before -f\n');
          svc.af = 6;
          svc.netmask = defaultNetmask(6);
          break;
        case 'scheduler':
          set('scheduler');
          svc.scheduler = arg.slice(0, 15);
          break;
        case 'persistent':
          set('persistent');
          svc.flags |= SVC_F_PERSISTENT;
          if (ev.arg !== null) {
            const n = toNumber(arg, 1, MAX_TIMEOUT);
            if (n === null) fail(`invalid timeout value \`${arg}' specified`);
            svc.timeout = n;
          } else svc.timeout = SERVICE_DEFAULTS.persistentTimeout;
          break;
        case 'netmask': {
          set('netmask');
          if (svc.af === 6) {
            const n = toNumber(arg, 1, 128);
            if (n === null) fail('illegal ipv6 netmask specified');
            svc.netmask = n;
          } else {
            let m = inetAton(arg);
            if (m === null) m = await resolver.hostByName(arg);
            if (m === null) fail('illegal virtual server persistent mask specified');
            svc.netmask = parseAddr(m)!.words[0];
          }
          break;
        }
        case 'pe':
          set('pe');
          svc.pe = arg.slice(0, 16);
          break;
        case 'sched-flags':
          set('sched-flags');
          schedFlags = arg;
          break;
        case 'ops':
          set('ops');
          svc.flags |= SVC_F_ONEPACKET;
          break;
        case 'synproxy':
          set('synproxy');
          svc.flags |= SVC_F_SYNPROXY;
          break;
        case 'real-server': {
          set('real-server');
          const r = await parseHostPort(arg, svc.protocol, resolver);
          if (!r) fail('illegal real server address[:port] specified');
          dest.af = r.af;
          dest.addr = r.addr;
          dest.port = r.port ?? svc.port;
          break;
        }
        case 'gatewaying':
        case 'ipip':
        case 'masquerading':
          set('forwarding-method');
          dest.fwd =
            ev.def.tag === 'gatewaying' ? 'droute' : ev.def.tag === 'ipip' ? 'tunnel' : 'masq';
          break;
        case 'weight': {
          set('weight');
          const n = toNumber(arg, 0, 65535);
          if (n === null) fail('illegal weight specified');
          dest.weight = n;
          break;
        }
        case 'u-threshold': {
          set('u-threshold');
          const n = toNumber(arg, 0, 2147483647);
          if (n === null) fail('illegal u_threshold specified');
          dest.uThreshold = n;
          break;
        }
        case 'l-threshold': {
          set('l-threshold');
          const n = toNumber(arg, 0, 2147483647);
          if (n === null) fail('illegal l_threshold specified');
          dest.lThreshold = n;
          break;
        }
        case 'tun-type':
          set('tun-type');
          dest.tunType = (TUN_TYPE_NAMES as readonly string[]).indexOf(arg);
          if (dest.tunType < 0) fail('illegal tunnel type specified');
          break;
        case 'tun-port': {
          set('tun-port');
          const n = toNumber(arg, 1, 65535);
          if (n === null) fail('illegal tunnel port specified');
          dest.tunPort = n;
          break;
        }
        case 'tun-nocsum':
          set('tun-nocsum');
          dest.tunFlags = 0;
          break;
        case 'tun-csum':
          set('tun-csum');
          dest.tunFlags = 1;
          break;
        case 'tun-remcsum':
          set('tun-remcsum');
          dest.tunFlags = 2;
          break;
        case 'connection':
          set('connection');
          format.connection = true;
          break;
        case 'timeout':
          set('timeout');
          format.timeout = true;
          break;
        case 'daemon':
          set('daemon');
          format.daemon = true;
          break;
        case 'stats':
          set('stats');
          format.stats = true;
          break;
        case 'rate':
          set('rate');
          format.rate = true;
          break;
        case 'thresholds':
          set('thresholds');
          format.thresholds = true;
          break;
        case 'persistent-conn':
          set('persistent-conn');
          format.persistentConn = true;
          break;
        case 'tun-info':
          set('tun-info');
          format.tunInfo = true;
          break;
        case 'nosort':
          set('nosort');
          format.nosort = true;
          break;
        case 'sort':
          break;
        case 'exact':
          set('exact');
          format.exact = true;
          break;
        case 'numeric':
          set('numeric');
          format.numeric = true;
          break;
        case 'mcast-interface':
          set('mcast-interface');
          daemon.mcastIfn = arg.slice(0, 15);
          break;
        case 'syncid': {
          set('syncid');
          const n = toNumber(arg, 0, 255);
          if (n === null) fail('illegal syncid specified');
          daemon.syncId = n;
          break;
        }
        case 'sync-maxlen': {
          set('sync-maxlen');
          const n = toNumber(arg, 1, 65507);
          if (n === null) fail('illegal sync-maxlen specified');
          daemon.maxLen = n;
          break;
        }
        case 'mcast-group':
          set('mcast-group');
          if (arg.includes(':')) {
            if (!isMulticast6(arg)) fail(`invalid IPv6 mcast-group \`${arg}'`);
          } else if (!isMulticast4(arg)) fail(`invalid IPv4 mcast-group \`${arg}'`);
          daemon.mcastGroup = arg;
          break;
        case 'mcast-port': {
          set('mcast-port');
          const n = toNumber(arg, 1, 65535);
          if (n === null) fail('illegal mcast-port specified');
          daemon.mcastPort = n;
          break;
        }
        case 'mcast-ttl': {
          set('mcast-ttl');
          const n = toNumber(arg, 1, 255);
          if (n === null) fail('illegal mcast-ttl specified');
          daemon.mcastTtl = n;
          break;
        }
        default:
          // a second command, -h or -v after the first option
          fail(`invalid option \`${ev.word}'`);
      }
    }

    const left = popt.leftovers;
    if (cmd === 'set') {
      if (left.length < 3) fail('--set option requires 3 timeout values');
      const vals = left.splice(0, 3).map((a) => {
        const n = toNumber(a, 0, MAX_TIMEOUT);
        if (n === null) fail(`invalid timeout value \`${a}' specified`);
        return n;
      });
      [timeouts.tcp, timeouts.tcpfin, timeouts.udp] = vals;
    }
    if (left.length > 0) fail(`unexpected argument ${left[0]}`);

    if (schedFlags !== null) {
      try {
        svc.flags |= checkSchedFlags(svc.scheduler || SERVICE_DEFAULTS.scheduler, schedFlags);
      } catch (e) {
        fail(e instanceof Error ? e.message : String(e));
      }
    }

    checkTable(cmd, options);

    if (cmd === 'add-service' || cmd === 'edit-service') {
      if (svc.fwmark === 0 && svc.port === 0 && !(svc.flags & SVC_F_PERSISTENT))
        fail('Zero port specified for non-persistent service');
      if (svc.flags & SVC_F_ONEPACKET && svc.fwmark === 0 && svc.protocol !== IPPROTO_UDP)
        fail('One-Packet Scheduling is only for UDP virtual services');
      if (svc.scheduler === '') svc.scheduler = SERVICE_DEFAULTS.scheduler;
    }
    if (cmd === 'start-daemon' && daemon.mcastIfn === '')
      daemon.mcastIfn = DAEMON_DEFAULTS.mcastIfn;
    if (cmd === 'add-server' || cmd === 'edit-server') {
      if (svc.fwmark === 0 && (dest.fwd === 'droute' || dest.fwd === 'tunnel'))
        dest.port = svc.port;
      if (dest.af !== svc.af && dest.fwd !== 'tunnel')
        fail('Different address family is allowed only for tunneling servers');
      checkTunnel(options, dest);
    }
    if (cmd === 'list') {
      const f = format;
      if (
        ((f.connection || f.timeout || f.daemon) && (f.stats || f.rate || f.thresholds)) ||
        ((f.timeout || f.daemon) && f.persistentConn)
      )
        fail('options conflicts in the list command');
    }
  } catch (e) {
    if (e instanceof Fail) return { kind: 'error', message: e.message, status: e.status };
    throw e;
  }
  return { kind: 'command', command: { cmd, options, svc, dest, format, timeouts, daemon } };
}

/** Words of a restore line (§8.2): split on space, tab, CR; every `ipvsadm` dropped. */
export function restoreWords(line: string): string[] {
  return line.split(/[ \t\r]+/).filter((w) => w !== '' && w !== 'ipvsadm');
}
