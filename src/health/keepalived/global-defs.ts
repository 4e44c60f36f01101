/**
 * The `lvs_*` keywords of global_defs (spec §4): lvs_flush, lvs_timeouts and
 * lvs_sync_daemon; every other global_defs keyword belongs to other parts of
 * keepalived and is passed over.
 */
import type { KaConfig } from './types.js';
import { expand, type Node, type Problems } from './lexer.js';
import { boolArg, familyOf, INT_MAX, intOf } from './values.js';

const GLOBAL_KEYS = new Set(['lvs_timeouts', 'lvs_sync_daemon', 'lvs_flush']);

export function parseGlobalDefs(n: Node, cfg: KaConfig, p: Problems): void {
  for (const s of expand(n.children, GLOBAL_KEYS)) {
    const w = s.words.map((x) => x.v);
    switch (w[0]) {
      case 'lvs_flush':
        cfg.lvsFlush = boolArg(s, p) ?? cfg.lvsFlush;
        break;
      case 'lvs_timeouts': {
        const t: NonNullable<KaConfig['lvsTimeouts']> = {};
        for (let i = 1; i < w.length; i += 2) {
          const k = w[i].toLowerCase();
          const v = intOf(w[i + 1], 0, INT_MAX);
          if ((k === 'tcp' || k === 'tcpfin' || k === 'udp') && v !== undefined) t[k] = v;
          else p.warn(s.line, `lvs_timeouts: invalid '${w[i]} ${w[i + 1] ?? ''}', ignored`);
        }
        if (Object.keys(t).length) cfg.lvsTimeouts = { ...cfg.lvsTimeouts, ...t };
        else p.warn(s.line, 'lvs_timeouts: no valid timeout, ignored');
        break;
      }
      case 'lvs_sync_daemon':
        parseSyncDaemon(s, w, cfg, p);
        break;
      // every other global_defs keyword belongs to other parts of keepalived
    }
  }
}

function parseSyncDaemon(s: Node, w: string[], cfg: KaConfig, p: Problems): void {
  if (w.length < 2) {
    p.warn(s.line, 'lvs_sync_daemon: missing interface, ignored');
    return;
  }
  const d: NonNullable<KaConfig['syncDaemon']> = { ifname: w[1] };
  const num = (
    k: 'syncId' | 'maxLen' | 'port' | 'ttl',
    i: number,
    min: number,
    max: number,
  ): void => {
    const v = intOf(w[i], min, max);
    if (v === undefined)
      p.warn(s.line, `lvs_sync_daemon: invalid ${w[i - 1]} '${w[i] ?? ''}', ignored`);
    else d[k] = v;
  };
  for (let i = 2; i < w.length; i++) {
    switch (w[i]) {
      case 'inst':
        if (w[i + 1] === undefined) p.warn(s.line, 'lvs_sync_daemon: missing instance name');
        else d.instance = w[i + 1];
        i++;
        break;
      case 'id':
        num('syncId', ++i, 0, 255);
        break;
      case 'maxlen':
        num('maxLen', ++i, 1, 65507);
        break;
      case 'port':
        num('port', ++i, 1, 65535);
        break;
      case 'ttl':
        num('ttl', ++i, 1, 255);
        break;
      case 'group':
        if (w[i + 1] !== undefined && familyOf(w[i + 1])) d.group = w[i + 1];
        else p.warn(s.line, `lvs_sync_daemon: invalid group '${w[i + 1] ?? ''}', ignored`);
        i++;
        break;
      default:
        // the older form names the VRRP instance right after the interface
        if (i === 2) d.instance = w[i];
        else p.warn(s.line, `lvs_sync_daemon: unknown option '${w[i]}', ignored`);
    }
  }
  cfg.syncDaemon = d;
}
