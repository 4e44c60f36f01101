/**
 * The LVS part of a keepalived.conf (spec keepalived-lvs-reference §1–§4): text in,
 * a typed and fully defaulted configuration out, with keepalived's parse-time
 * defaults and load-time validation applied. Nothing here throws on bad input:
 * every problem becomes a warning (the keyword is ignored or a default is used) or
 * an error (the block it makes unusable is skipped), each "line N: text".
 *
 * Every top-level block is recognised (keepalived/keywords.ts): the LVS ones are read
 * (`global_defs`' LVS keywords, `virtual_server_group`, `virtual_server`, `SSL`,
 * `track_file`); keepalived's own (vrrp_instance, vrrp_script, static routes, BFD...)
 * are noted as keepalived's and skipped whole; `include` is refused (no file access).
 *
 * The reader's parts are in `keepalived/`: the lexer and block structure, keyword
 * values, the keyword table, the group, checker, real_server and virtual_server
 * blocks, the load-time checks (`validate.ts`), global_defs, the types, and the
 * conversion to the control model's shapes (`control.ts`).
 *
 * @module
 */
import { buildTree, expand, Problems, type Node } from './keepalived/lexer.js';
import { parseGlobalDefs } from './keepalived/global-defs.js';
import { parseGroup } from './keepalived/group.js';
import {
  refusal,
  ROOT_KEYWORDS,
  SSL_KEYWORDS,
  TRACK_FILE_KEYWORDS,
} from './keepalived/keywords.js';
import { parseVirtualServer, type RawVirtualServer } from './keepalived/virtual-server.js';
import { resolveVirtualServer } from './keepalived/validate.js';
import { noBlock, unknown } from './keepalived/values.js';
import type { KaConfig } from './keepalived/types.js';

export type {
  KaChecker,
  KaConfig,
  KaFifo,
  KaGroup,
  KaGroupEntry,
  KaMethod,
  KaRealServer,
  KaScript,
  KaTunCsum,
  KaTunType,
  KaUnusableChecker,
  KaVirtualServer,
} from './keepalived/types.js';

/** Parses the LVS part of a keepalived.conf. Never throws. */
export function parseKeepalived(text: string): KaConfig {
  const p = new Problems();
  const cfg: KaConfig = {
    virtualServers: [],
    groups: new Map(),
    lvsFlush: false,
    lvsFlushOnStop: 'none',
    rsInitNotifies: false,
    scriptSecurity: false,
    logAllFailures: false,
    trackFiles: new Map(),
    warnings: p.warnings,
    errors: p.errors,
    notes: p.notes,
  };
  const tree = buildTree(String(text), p);
  const raws: RawVirtualServer[] = [];
  for (const n of tree) {
    const kw = n.words[0]?.v;
    if (kw === undefined) continue;
    const info = Object.hasOwn(ROOT_KEYWORDS, kw) ? ROOT_KEYWORDS[kw] : undefined;
    if (!info) {
      unknown(n, p, 'the top level');
      continue;
    }
    const refused = refusal(kw, info);
    if (refused) {
      p.warn(n.line, refused);
      continue;
    }
    if (info.status === 'keepalived') {
      const name = n.words[1]?.v;
      p.note(
        n.line,
        `${kw}${name ? ` ${name}` : ''} is keepalived's own (${info.why ?? ''}): not read by tsvs`,
      );
      continue;
    }
    if (!n.closed) continue; // reported by buildTree; the block is unusable
    switch (kw) {
      case 'global_defs':
        parseGlobalDefs(n, cfg, p);
        break;
      case 'virtual_server_group': {
        const g = parseGroup(n, p);
        if (g && cfg.groups.has(g.name))
          p.warn(n.line, `virtual_server_group ${g.name} defined again, the later one is used`);
        if (g) cfg.groups.set(g.name, g);
        break;
      }
      case 'virtual_server': {
        const raw = parseVirtualServer(n, p);
        if (raw) raws.push(raw);
        break;
      }
      case 'SSL':
        parseSsl(n, cfg, p);
        break;
      case 'track_file':
        parseTrackFile(n, cfg, p);
        break;
    }
  }
  // groups may come after the virtual servers that use them, as in keepalived
  const members = new Map<string, number>();
  for (const raw of raws) {
    const vs = resolveVirtualServer(raw, p, cfg.groups);
    if (!vs) continue;
    if (vs.kind === 'group') {
      const n = members.get(vs.group!) ?? 0;
      vs.groupMember = n;
      members.set(vs.group!, n + 1);
    }
    cfg.virtualServers.push(vs);
  }
  // in file order, whichever pass found them
  for (const list of [p.warnings, p.errors, p.notes]) list.sort((a, b) => lineOf(a) - lineOf(b));
  return cfg;
}

function lineOf(msg: string): number {
  return Number(/^line (\d+):/.exec(msg)?.[1] ?? 0);
}

function parseSsl(n: Node, cfg: KaConfig, p: Problems): void {
  if (cfg.ssl) p.warn(n.line, 'SSL context already specified - replacing');
  const ssl: NonNullable<KaConfig['ssl']> = {};
  for (const s of expand(n.children, new Set(Object.keys(SSL_KEYWORDS)))) {
    const kw = s.words[0]?.v;
    if (kw === undefined) continue;
    if (!Object.hasOwn(SSL_KEYWORDS, kw)) {
      unknown(s, p, 'SSL');
      continue;
    }
    noBlock(s, p);
    const v = s.words[1]?.v;
    if (v === undefined) {
      p.warn(s.line, `SSL ${kw} missing`);
      continue;
    }
    if (kw === 'password' || kw === 'ca' || kw === 'certificate' || kw === 'key') ssl[kw] = v;
  }
  cfg.ssl = ssl;
}

function parseTrackFile(n: Node, cfg: KaConfig, p: Problems): void {
  const name = n.words[1]?.v;
  if (name === undefined) {
    p.warn(n.line, 'track_file without a name, block skipped');
    return;
  }
  let file: string | undefined;
  let weight = 1;
  let reverse = false;
  let init: number | undefined;
  let overwrite = false;
  for (const s of expand(n.children, new Set(Object.keys(TRACK_FILE_KEYWORDS)))) {
    const w = s.words.map((x) => x.v);
    if (!w.length) continue;
    if (!Object.hasOwn(TRACK_FILE_KEYWORDS, w[0])) {
      unknown(s, p, 'track_file');
      continue;
    }
    noBlock(s, p);
    if (w[0] === 'file') {
      if (w[1] === undefined) p.warn(s.line, 'track_file: missing file name');
      else file = w[1];
    } else if (w[0] === 'weight') {
      const m = /^-?\d+$/.test(w[1] ?? '') ? Number(w[1]) : NaN;
      if (!Number.isFinite(m) || m < -254 || m > 254)
        p.warn(s.line, `track_file: weight '${w[1] ?? ''}' must be in [-254, 254], ignored`);
      else weight = m;
      reverse = w[2] === 'reverse';
    } else {
      // init_file [VALUE] [overwrite]
      init = 0;
      for (const x of w.slice(1)) {
        if (x === 'overwrite') overwrite = true;
        else if (/^-?\d+$/.test(x)) init = Number(x);
        else p.warn(s.line, `track_file: init_file: unknown option '${x}', ignored`);
      }
    }
  }
  if (file === undefined) {
    p.warn(n.line, `track_file ${name} has no file, block skipped`);
    return;
  }
  const t = { file, weight, reverse, overwrite, line: n.line };
  cfg.trackFiles.set(name, init === undefined ? t : { ...t, init });
}
