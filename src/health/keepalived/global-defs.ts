/**
 * The LVS keywords of global_defs (spec §4, keepalived's global_parser.c): lvs_flush,
 * lvs_flush_on_stop, lvs_timeouts, lvs_sync_daemon, the notify FIFOs, rs_init_notifies,
 * checker_log_all_failures and the script user and security; the refused ones are
 * reported (keywords.ts), and every other global_defs keyword belongs to keepalived
 * itself (VRRP, e-mail, its processes) and is noted as such.
 */
import type { KaConfig, KaFifo, KaScript } from './types.js';
import { expand, type Node, type Problems } from './lexer.js';
import { GLOBAL_KEYWORDS, refusal } from './keywords.js';
import { familyOf, INT_MAX, intOf, noBlock, scriptArg } from './values.js';

const GLOBAL_KEYS = new Set(Object.keys(GLOBAL_KEYWORDS));

export function parseGlobalDefs(n: Node, cfg: KaConfig, p: Problems): void {
  // keepalived allows a FIFO's script before the FIFO: keep it until the FIFO comes
  const pending: Partial<Record<'notifyFifo' | 'lvsNotifyFifo', KaScript>> = {};
  for (const s of expand(n.children, GLOBAL_KEYS)) {
    const w = s.words.map((x) => x.v);
    if (!w.length) continue;
    const info = GLOBAL_KEYWORDS[w[0]];
    if (!Object.hasOwn(GLOBAL_KEYWORDS, w[0])) {
      p.note(s.line, `global_defs '${w[0]}' is keepalived's own, not read by tsvs`);
      continue;
    }
    const refused = refusal(w[0], info);
    if (refused) {
      p.warn(s.line, refused);
      continue;
    }
    noBlock(s, p);
    switch (w[0]) {
      case 'lvs_flush':
        // keepalived takes no argument: the keyword alone turns it on
        cfg.lvsFlush = true;
        break;
      case 'lvs_flush_on_stop':
      case 'lvs_flush_onstop':
        if (w.length === 1) cfg.lvsFlushOnStop = 'full';
        else if (w[1] === 'VS') cfg.lvsFlushOnStop = 'vs';
        else p.warn(s.line, `Unknown lvs_flush_on_stop type ${w[1]}, ignored`);
        break;
      case 'lvs_notify_fifo':
      case 'notify_fifo': {
        const key = w[0] === 'notify_fifo' ? 'notifyFifo' : 'lvsNotifyFifo';
        if (w.length < 2) p.warn(s.line, `No ${w[0].replace('fifo', '')}fifo name specified`);
        else if (cfg[key]) p.warn(s.line, `${w[0]} already specified - ignoring ${w[1]}`);
        else {
          const f: KaFifo = { path: w[1], line: s.line };
          if (w[2]) f.user = w[2];
          if (w[3]) f.group = w[3];
          cfg[key] = f;
        }
        break;
      }
      case 'lvs_notify_fifo_script':
      case 'notify_fifo_script': {
        const key = w[0] === 'notify_fifo_script' ? 'notifyFifo' : 'lvsNotifyFifo';
        const f = cfg[key];
        const sc = scriptArg(s, p);
        if (!sc) break;
        // keepalived allows the script before the FIFO; keep it until the FIFO comes
        if (f) f.script = sc;
        else pending[key] = sc;
        break;
      }
      case 'rs_init_notifies':
        cfg.rsInitNotifies = true;
        break;
      case 'checker_log_all_failures':
        cfg.logAllFailures = w[1] === undefined || !/^(off|false|no)$/i.test(w[1]);
        break;
      case 'script_user':
        if (w.length < 2) p.warn(s.line, 'script_user: missing user, ignored');
        else cfg.scriptUser = w[2] ? { user: w[1], group: w[2] } : { user: w[1] };
        break;
      case 'enable_script_security':
        cfg.scriptSecurity = true;
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
    }
  }
  for (const key of ['notifyFifo', 'lvsNotifyFifo'] as const) {
    const sc = pending[key];
    const f = cfg[key];
    if (sc && f) f.script = sc;
    else if (sc) p.warn(sc.line, 'notify FIFO script without its FIFO, ignored');
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
  if (d.instance !== undefined) {
    // keepalived switches master/backup with that VRRP instance's state, which tsvs
    // does not see: refuse rather than run a sync role that may be the wrong one
    p.warn(
      s.line,
      `lvs_sync_daemon: following VRRP instance '${d.instance}' is not supported by tsvs (it does not see VRRP states); start the sync daemons with 'tsvsadm --start-daemon' from the instance's notify scripts, ignored`,
    );
    return;
  }
  cfg.syncDaemon = d;
}
