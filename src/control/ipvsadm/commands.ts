/**
 * ipvsadm's command/option table (reference §4) and the tunnel-option rules of §3.3:
 * which options each command rejects, allows or needs, checked after parsing in
 * table order so that the first problem named is ipvsadm's.
 */
import { TUN_TYPE_NAMES } from '../../engine/spec.js';
import type { FwdName } from '../model.js';

/** A refused command line: ipvsadm's message and exit status. */
export class Fail {
  constructor(
    readonly message: string,
    readonly status = 2,
  ) {}
}

/** Refuse the command line with ipvsadm's `message` (status 2). */
export function fail(message: string): never {
  throw new Fail(message);
}

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
  'synproxy',
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

/** The commands in the column order of the table of §4. */
export const CMD_ORDER: readonly CmdName[] = [
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
  synproxy: /*       */ 'ooxxxxxxxxxxxx',
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

/** §4: walk the options in table order and report the first problem. */
export function checkTable(cmd: CmdName, options: Set<OptName>): void {
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

export function checkTunnel(options: Set<OptName>, dest: { fwd: FwdName; tunType: number }): void {
  const any = options.has('tun-type') || TUN_OPTS.some((n) => options.has(n));
  if (!any) return;
  if (dest.fwd !== 'tunnel') fail('Tunnel options conflict with forward method');
  const type = TUN_TYPE_NAMES[dest.tunType];
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
