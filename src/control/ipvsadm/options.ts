/**
 * ipvsadm's command line, parsed exactly as ipvsadm 1.31 with libpopt does it
 * (reference §1.1–§5): popt's scanner (bundled short options, attached values, `=` on
 * long options, optional `-p` argument, leftovers), the first option must be a
 * command, options processed left to right (some depend on earlier ones), then the
 * command/option table of §4 and the post-parse checks and fix-ups of §5.2.
 *
 * The result is either a {@link ParsedCommand} or the message and exit status ipvsadm
 * would print and return.
 */
import {
  IPPROTO_SCTP,
  IPPROTO_TCP,
  IPPROTO_UDP,
  SVC_F_ONEPACKET,
  SVC_F_PERSISTENT,
} from '../../engine/constants.js';
import { checkSchedFlags } from '../../engine/sched/flags.js';
import { parseAddr } from '../../engine/addr.js';
import { isIPv4 } from 'node:net';
import type { Family, FwdName, SyncState } from '../model.js';
import { inetAton, isIPv6Literal, type Resolver } from './resolve.js';

/** Internal command names (used in messages). */
export type CmdName =
  | 'add-service'
  | 'edit-service'
  | 'delete-service'
  | 'flush'
  | 'list'
  | 'add-server'
  | 'delete-server'
  | 'edit-server'
  | 'set'
  | 'start-daemon'
  | 'stop-daemon'
  | 'restore'
  | 'save'
  | 'zero';

/** Internal option names, in the order of the table of §4 (index 0..33). */
export const OPT_NAMES = [
  'numeric',
  'connection',
  'service-address',
  'scheduler',
  'persistent',
  'netmask',
  'real-server',
  'forwarding-method',
  'weight',
  'u-threshold',
  'l-threshold',
  'mcast-interface',
  'timeout',
  'daemon',
  'stats',
  'rate',
  'thresholds',
  'persistent-conn',
  'nosort',
  'syncid',
  'exact',
  'ops',
  'pe',
  'sched-flags',
  'mcast-group',
  'mcast-port',
  'mcast-ttl',
  'sync-maxlen',
  'tun-info',
  'tun-type',
  'tun-port',
  'tun-nocsum',
  'tun-csum',
  'tun-remcsum',
] as const;
export type OptName = (typeof OPT_NAMES)[number];

const CMD_ORDER: readonly CmdName[] = [
  'add-service',
  'edit-service',
  'delete-service',
  'flush',
  'list',
  'add-server',
  'delete-server',
  'edit-server',
  'set',
  'start-daemon',
  'stop-daemon',
  'restore',
  'save',
  'zero',
];

/**
 * §4, one string per option in OPT_NAMES order, one character per command in
 * CMD_ORDER order (-A -E -D -C -L -a -d -e --set --start --stop -R -S -Z):
 * `x` rejected, `o` optional, `+` required, `1` at most one of the `1`s.
 */
const TABLE: Readonly<Record<OptName, string>> = {
  numeric: /*        */ 'xxxxoxxxxxxxox',
  connection: /*     */ 'xxxx1xxxxxxxxx',
  'service-address': '+++x1+++xxxxxo',
  scheduler: /*      */ 'ooxxxxxxxxxxxx',
  persistent: /*     */ 'ooxxxxxxxxxxxx',
  netmask: /*        */ 'ooxxxxxxxxxxxx',
  'real-server': /*  */ 'xxxxx+++xxxxxx',
  'forwarding-method': 'xxxxxoxoxxxxxx',
  weight: /*         */ 'xxxxxoxoxxxxxx',
  'u-threshold': /*  */ 'xxxxxoxoxxxxxx',
  'l-threshold': /*  */ 'xxxxxoxoxxxxxx',
  'mcast-interface': 'xxxxxxxxxoxxxx',
  timeout: /*        */ 'xxxx1xxxxxxxxx',
  daemon: /*         */ 'xxxx1xxxxxxxxx',
  stats: /*          */ 'xxxxoxxxxxxxxx',
  rate: /*           */ 'xxxxoxxxxxxxxx',
  thresholds: /*     */ 'xxxxoxxxxxxxxx',
  'persistent-conn': 'xxxxoxxxxxxxxx',
  nosort: /*         */ 'xxxxoxxxxxxxxx',
  syncid: /*         */ 'xxxxoxxxxooxxx',
  exact: /*          */ 'xxxxoxxxxxxxxx',
  ops: /*            */ 'ooxxxxxxxxxxxx',
  pe: /*             */ 'ooxxxxxxxxxxxx',
  'sched-flags': /*  */ 'ooxxxxxxxxxxxx',
  'mcast-group': /*  */ 'xxxxxxxxxoxxxx',
  'mcast-port': /*   */ 'xxxxxxxxxoxxxx',
  'mcast-ttl': /*    */ 'xxxxxxxxxoxxxx',
  'sync-maxlen': /*  */ 'xxxxxxxxxoxxxx',
  'tun-info': /*     */ 'xxxxoxxxxxxxxx',
  'tun-type': /*     */ 'xxxxxoxoxxxxxx',
  'tun-port': /*     */ 'xxxxxoxoxxxxxx',
  'tun-nocsum': /*   */ 'xxxxxoxoxxxxxx',
  'tun-csum': /*     */ 'xxxxxoxoxxxxxx',
  'tun-remcsum': /*  */ 'xxxxxoxoxxxxxx',
};

/** What each tag of the option table does. */
type Tag =
  | CmdName
  | 'help'
  | 'version'
  | 'tcp'
  | 'udp'
  | 'sctp'
  | 'fwmark'
  | 'ipv6'
  | 'scheduler'
  | 'persistent'
  | 'netmask'
  | 'pe'
  | 'sched-flags'
  | 'ops'
  | 'real-server'
  | 'gatewaying'
  | 'ipip'
  | 'masquerading'
  | 'weight'
  | 'u-threshold'
  | 'l-threshold'
  | 'tun-type'
  | 'tun-port'
  | 'tun-nocsum'
  | 'tun-csum'
  | 'tun-remcsum'
  | 'connection'
  | 'timeout'
  | 'daemon'
  | 'stats'
  | 'rate'
  | 'thresholds'
  | 'persistent-conn'
  | 'tun-info'
  | 'nosort'
  | 'sort'
  | 'exact'
  | 'numeric'
  | 'mcast-interface'
  | 'syncid'
  | 'sync-maxlen'
  | 'mcast-group'
  | 'mcast-port'
  | 'mcast-ttl';

type ArgKind = 'none' | 'required' | 'optional';
interface OptDef {
  long: string | null;
  short: string | null;
  arg: ArgKind;
  tag: Tag;
}

const o = (long: string | null, short: string | null, arg: ArgKind, tag: Tag): OptDef => ({
  long,
  short,
  arg,
  tag,
});

/** ipvsadm 1.31's popt table. */
const OPTIONS: readonly OptDef[] = [
  o('add-service', 'A', 'none', 'add-service'),
  o('edit-service', 'E', 'none', 'edit-service'),
  o('delete-service', 'D', 'none', 'delete-service'),
  o('clear', 'C', 'none', 'flush'),
  o('list', 'L', 'none', 'list'),
  o(null, 'l', 'none', 'list'),
  o('zero', 'Z', 'none', 'zero'),
  o('add-server', 'a', 'none', 'add-server'),
  o('edit-server', 'e', 'none', 'edit-server'),
  o('delete-server', 'd', 'none', 'delete-server'),
  o('set', null, 'none', 'set'),
  o('help', 'h', 'none', 'help'),
  o('version', 'v', 'none', 'version'),
  o('restore', 'R', 'none', 'restore'),
  o('save', 'S', 'none', 'save'),
  o('start-daemon', null, 'required', 'start-daemon'),
  o('stop-daemon', null, 'required', 'stop-daemon'),
  o('tcp-service', 't', 'required', 'tcp'),
  o('udp-service', 'u', 'required', 'udp'),
  o('sctp-service', null, 'required', 'sctp'),
  o('fwmark-service', 'f', 'required', 'fwmark'),
  o('scheduler', 's', 'required', 'scheduler'),
  o('persistent', 'p', 'optional', 'persistent'),
  o('netmask', 'M', 'required', 'netmask'),
  o('real-server', 'r', 'required', 'real-server'),
  o('masquerading', 'm', 'none', 'masquerading'),
  o('ipip', 'i', 'none', 'ipip'),
  o('gatewaying', 'g', 'none', 'gatewaying'),
  o('weight', 'w', 'required', 'weight'),
  o('u-threshold', 'x', 'required', 'u-threshold'),
  o('l-threshold', 'y', 'required', 'l-threshold'),
  o('numeric', 'n', 'none', 'numeric'),
  o('connection', 'c', 'none', 'connection'),
  o('mcast-interface', null, 'required', 'mcast-interface'),
  o('syncid', null, 'required', 'syncid'),
  o('sync-maxlen', null, 'required', 'sync-maxlen'),
  o('mcast-group', null, 'required', 'mcast-group'),
  o('mcast-port', null, 'required', 'mcast-port'),
  o('mcast-ttl', null, 'required', 'mcast-ttl'),
  o('timeout', null, 'none', 'timeout'),
  o('daemon', null, 'none', 'daemon'),
  o('stats', null, 'none', 'stats'),
  o('rate', null, 'none', 'rate'),
  o('thresholds', null, 'none', 'thresholds'),
  o('persistent-conn', null, 'none', 'persistent-conn'),
  o('tun-info', null, 'none', 'tun-info'),
  o('nosort', null, 'none', 'nosort'),
  o('sort', null, 'none', 'sort'),
  o('exact', 'X', 'none', 'exact'),
  o('ipv6', '6', 'none', 'ipv6'),
  o('ops', 'o', 'none', 'ops'),
  o('pe', null, 'required', 'pe'),
  o('sched-flags', 'b', 'required', 'sched-flags'),
  o('tun-type', null, 'required', 'tun-type'),
  o('tun-port', null, 'required', 'tun-port'),
  o('tun-nocsum', null, 'none', 'tun-nocsum'),
  o('tun-csum', null, 'none', 'tun-csum'),
  o('tun-remcsum', null, 'none', 'tun-remcsum'),
];

type PoptEvent =
  | { kind: 'opt'; def: OptDef; arg: string | null; word: string }
  | { kind: 'error'; text: string; word: string };

/** popt's option scanner (poptGetNextOpt), for ipvsadm's table. */
export class Popt {
  readonly leftovers: string[] = [];
  private i = 0;
  private chars: string | null = null;
  private word = '';
  private rest = false;
  private readonly args: readonly string[];

  constructor(args: readonly string[]) {
    this.args = args;
  }

  /** The next option, a popt error, or null at the end. */
  next(): PoptEvent | null {
    for (;;) {
      if (this.chars === null) {
        if (this.i >= this.args.length) return null;
        const w = this.args[this.i++];
        this.word = w;
        if (this.rest || w[0] !== '-' || w === '-') {
          this.leftovers.push(w);
          continue;
        }
        if (w === '--') {
          this.rest = true;
          continue;
        }
        if (w[1] === '-') {
          const body = w.slice(2);
          const eq = body.indexOf('=');
          const name = eq >= 0 ? body.slice(0, eq) : body;
          const longArg = eq >= 0 ? body.slice(eq + 1) : null;
          const def = OPTIONS.find((d) => d.long === name);
          if (!def) return { kind: 'error', text: 'unknown option', word: w };
          if (def.arg === 'none') {
            if (longArg !== null)
              return { kind: 'error', text: 'option does not take an argument', word: w };
            return { kind: 'opt', def, arg: null, word: w };
          }
          if (longArg !== null) return { kind: 'opt', def, arg: longArg, word: w };
          return this.takeArg(def);
        }
        this.chars = w.slice(1);
      }
      const c = this.chars[0];
      const def = OPTIONS.find((d) => d.short === c);
      if (!def) {
        this.chars = null;
        return { kind: 'error', text: 'unknown option', word: this.word };
      }
      let rest = this.chars.slice(1);
      if (rest !== '' && rest[0] === '=') rest = rest.slice(1);
      this.chars = rest === '' ? null : rest;
      if (def.arg === 'none') {
        if (this.chars !== null && this.chars[0] === '=') {
          this.chars = null;
          return { kind: 'error', text: 'option does not take an argument', word: this.word };
        }
        return { kind: 'opt', def, arg: null, word: this.word };
      }
      if (this.chars !== null) {
        const a = this.chars[0] === '=' ? this.chars.slice(1) : this.chars;
        this.chars = null;
        return { kind: 'opt', def, arg: a, word: this.word };
      }
      return this.takeArg(def);
    }
  }

  private takeArg(def: OptDef): PoptEvent {
    if (this.i >= this.args.length) {
      if (def.arg === 'optional') return { kind: 'opt', def, arg: null, word: this.word };
      return { kind: 'error', text: 'missing argument', word: this.word };
    }
    const next = this.args[this.i];
    if (def.arg === 'optional' && next[0] === '-')
      return { kind: 'opt', def, arg: null, word: this.word };
    this.i++;
    return { kind: 'opt', def, arg: next, word: this.word };
  }
}

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

export interface ParsedService {
  af: Family;
  protocol: number;
  addr: string;
  port: number;
  fwmark: number;
  scheduler: string;
  flags: number;
  timeout: number;
  netmask: number;
  pe: string;
}

export interface ParsedDest {
  af: Family;
  addr: string;
  port: number;
  fwd: FwdName;
  weight: number;
  uThreshold: number;
  lThreshold: number;
  tunType: number;
  tunPort: number;
  tunFlags: number;
}

export interface ParsedDaemon {
  state: SyncState;
  mcastIfn: string;
  syncId: number;
  maxLen: number;
  mcastGroup: string;
  mcastPort: number;
  mcastTtl: number;
}

export interface ParsedCommand {
  cmd: CmdName;
  /** Options given (by internal name). */
  options: Set<OptName>;
  svc: ParsedService;
  dest: ParsedDest;
  format: ListFormat;
  timeouts: { tcp: number; tcpfin: number; udp: number };
  daemon: ParsedDaemon;
}

export type ParseResult =
  | { kind: 'command'; command: ParsedCommand }
  | { kind: 'help' }
  | { kind: 'version' }
  /** An error: the message (without newline) and ipvsadm's exit status. */
  | { kind: 'error'; message: string; status: number; popt?: boolean };

class Fail {
  constructor(
    readonly message: string,
    readonly status = 2,
  ) {}
}

function fail(message: string): never {
  throw new Fail(message);
}

/** ipvsadm's string_to_number: strtol base 10 over the whole string, in [min, max]. */
export function toNumber(s: string, min: number, max: number): number | null {
  if (!/^[ \t\n\v\f\r]*[+-]?\d+$/.test(s)) return null;
  const n = Number(s.trim());
  if (!Number.isFinite(n) || n < min || n > max) return null;
  return n === 0 ? 0 : n;
}

const PROTO_NAME: Record<number, string> = { 6: 'tcp', 17: 'udp', 132: 'sctp' };

/**
 * ipvsadm's host[:port] parser (§5.1). Returns null on any failure; `port` is null
 * when the text had none.
 */
export async function parseHostPort(
  text: string,
  protocol: number,
  resolver: Resolver,
): Promise<{ af: Family; addr: string; port: number | null } | null> {
  if (/^\d+$/.test(text)) return null;
  let host: string;
  let portText: string | null = null;
  if (text[0] === '[') {
    const close = text.indexOf(']');
    if (close < 0 || text[close + 1] !== ':') return null;
    host = text.slice(1, close);
    portText = text.slice(close + 2);
    if (isIPv6Literal(host)) {
      const port = portOf(portText, protocol, resolver);
      return port === null ? null : { af: 6, addr: canonical6(host), port };
    }
    // an IPv4 address in brackets is accepted, and its port lost
    const a = inetAton(host);
    return a === null ? null : { af: 4, addr: a, port: 0 };
  }
  if (isIPv6Literal(text)) return { af: 6, addr: canonical6(text), port: null };
  const colon = text.lastIndexOf(':');
  if (colon >= 0) {
    host = text.slice(0, colon);
    portText = text.slice(colon + 1);
  } else host = text;
  let addr = inetAton(host);
  if (addr === null) addr = await resolver.hostByName(host);
  if (addr === null || !isIPv4(addr)) return null;
  if (portText === null) return { af: 4, addr, port: null };
  const port = portOf(portText, protocol, resolver);
  return port === null ? null : { af: 4, addr, port };
}

function portOf(text: string, protocol: number, resolver: Resolver): number | null {
  const n = toNumber(text, 0, 65535);
  if (n !== null) return n;
  if (text === '') return null;
  return resolver.portByService(text, PROTO_NAME[protocol] ?? null);
}

function canonical6(a: string): string {
  return a.toLowerCase();
}

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
    scheduler: '',
    flags: 0,
    timeout: 0,
    netmask: 0xffffffff,
    pe: '',
  };
  const dest: ParsedDest = {
    af: 4,
    addr: '0.0.0.0',
    port: 0,
    fwd: 'droute',
    weight: 1,
    uThreshold: 0,
    lThreshold: 0,
    tunType: 0,
    tunPort: 0,
    tunFlags: 0,
  };
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
  const timeouts = { tcp: 0, tcpfin: 0, udp: 0 };
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
          if (r.af === 6) svc.netmask = 128;
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
          svc.netmask = 128;
          break;
        case 'scheduler':
          set('scheduler');
          svc.scheduler = arg.slice(0, 15);
          break;
        case 'persistent':
          set('persistent');
          svc.flags |= SVC_F_PERSISTENT;
          if (ev.arg !== null) {
            const n = toNumber(arg, 1, 2678400);
            if (n === null) fail(`invalid timeout value \`${arg}' specified`);
            svc.timeout = n;
          } else svc.timeout = 360;
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
          if (arg === 'ipip') dest.tunType = 0;
          else if (arg === 'gue') dest.tunType = 1;
          else if (arg === 'gre') dest.tunType = 2;
          else fail('illegal tunnel type specified');
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
        const n = toNumber(a, 0, 2678400);
        if (n === null) fail(`invalid timeout value \`${a}' specified`);
        return n;
      });
      [timeouts.tcp, timeouts.tcpfin, timeouts.udp] = vals;
    }
    if (left.length > 0) fail(`unexpected argument ${left[0]}`);

    if (schedFlags !== null) {
      try {
        svc.flags |= checkSchedFlags(svc.scheduler || 'wlc', schedFlags);
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
      if (svc.scheduler === '') svc.scheduler = 'wlc';
    }
    if (cmd === 'start-daemon' && daemon.mcastIfn === '') daemon.mcastIfn = 'eth0';
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

/** §4: walk the options in table order and report the first problem. */
function checkTable(cmd: CmdName, options: Set<OptName>): void {
  const col = CMD_ORDER.indexOf(cmd);
  let first: OptName | null = null;
  for (const name of OPT_NAMES) {
    const rule = TABLE[name][col];
    if (!options.has(name)) {
      if (rule === '+') fail(`You need to supply the '${name}' option for the '${cmd}' command`);
      continue;
    }
    if (rule === 'x') fail(`Illegal '${name}' option with the '${cmd}' command`);
    if (rule === '1') {
      if (first === null) first = name;
      else
        fail(`The option '${name}' conflicts with the '${first}' option in the '${cmd}' command`);
    }
  }
}

const TUN_OPTS: readonly OptName[] = ['tun-port', 'tun-nocsum', 'tun-csum', 'tun-remcsum'];
/** §3.3 tunnel rules by type (ipip, gue, gre), columns as TUN_OPTS. */
const TUN_TABLE: Readonly<Record<string, string>> = {
  ipip: 'xxxx',
  gue: '+111',
  gre: 'x11x',
};

function checkTunnel(options: Set<OptName>, dest: ParsedDest): void {
  const any = options.has('tun-type') || TUN_OPTS.some((n) => options.has(n));
  if (!any) return;
  if (dest.fwd !== 'tunnel') fail('Tunnel options conflict with forward method');
  const type = ['ipip', 'gue', 'gre'][dest.tunType];
  const row = TUN_TABLE[type];
  let first: OptName | null = null;
  TUN_OPTS.forEach((name, i) => {
    const rule = row[i];
    if (!options.has(name)) {
      if (rule === '+')
        fail(`You need to supply the '${name}' option for the '${type}' tunnel type`);
      return;
    }
    if (rule === 'x') fail(`Illegal '${name}' option with the '${type}' tunnel type`);
    if (rule === '1') {
      if (first === null) first = name;
      else
        fail(
          `The option '${name}' conflicts with the '${first}' option in the '${type}' tunnel type`,
        );
    }
  });
}

/** Words of a restore line (§8.2): split on space, tab, CR; every `ipvsadm` dropped. */
export function restoreWords(line: string): string[] {
  return line.split(/[ \t\r]+/).filter((w) => w !== '' && w !== 'ipvsadm');
}
