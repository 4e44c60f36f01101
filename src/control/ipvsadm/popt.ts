/**
 * popt's option scanner (poptGetNextOpt) over ipvsadm 1.31's option table: bundled
 * short options, attached values, `=` on long options, the optional `-p` argument and
 * leftovers, with popt's own error texts.
 */
import type { CmdName } from './commands.js';

/** What each tag of the option table does. */
export type Tag =
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
  | 'synproxy'
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
export interface OptDef {
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
  o('synproxy', null, 'none', 'synproxy'),
  o('pe', null, 'required', 'pe'),
  o('sched-flags', 'b', 'required', 'sched-flags'),
  o('tun-type', null, 'required', 'tun-type'),
  o('tun-port', null, 'required', 'tun-port'),
  o('tun-nocsum', null, 'none', 'tun-nocsum'),
  o('tun-csum', null, 'none', 'tun-csum'),
  o('tun-remcsum', null, 'none', 'tun-remcsum'),
];

/** One step of the scanner: an option with its argument, or a popt error. */
export type PoptEvent =
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
