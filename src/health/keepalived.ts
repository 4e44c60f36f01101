/**
 * The LVS part of a keepalived.conf (spec keepalived-lvs-reference §1–§4): text in,
 * a typed and fully defaulted configuration out, with keepalived's parse-time
 * defaults and load-time validation applied. Nothing here throws on bad input:
 * every problem becomes a warning (the keyword is ignored or a default is used) or
 * an error (the block it makes unusable is skipped), each "line N: text".
 *
 * Every top-level block is recognised (keepalived/keywords.ts): the LVS ones are read
 * (`global_defs`' LVS keywords, `virtual_server_group`, `virtual_server`; `SSL` and
 * `track_file` are the checker parser's); keepalived's own (vrrp_instance, vrrp_script, static routes, BFD...)
 * are noted as keepalived's and skipped whole; `include` is refused (no file access).
 *
 * The reader's parts are in `keepalived/`: the lexer and block structure, keyword
 * values, the keyword table, the group, checker, real_server and virtual_server
 * blocks, the load-time checks (`validate.ts`), global_defs, the types, and the
 * conversion to the control model's shapes (`control.ts`).
 *
 * @module
 */
import { buildTree, Problems } from './keepalived/lexer.js';
import { parseGlobalDefs } from './keepalived/global-defs.js';
import { parseGroup } from './keepalived/group.js';
import { refusal, ROOT_KEYWORDS } from './keepalived/keywords.js';
import { parseVirtualServer, type RawVirtualServer } from './keepalived/virtual-server.js';
import { resolveVirtualServer } from './keepalived/validate.js';
import { unknown } from './keepalived/values.js';
import type { KaConfig } from './keepalived/types.js';
import { applyCheckerGlobals } from './keepalived/checker.js';

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
      // SSL and track_file are the checkers' (client TLS for SSL_GET, files for FILE_CHECK):
      // the checker parser reads them
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
  applyCheckerGlobals(tree, cfg, p);
  // in file order, whichever pass found them
  for (const list of [p.warnings, p.errors, p.notes]) list.sort((a, b) => lineOf(a) - lineOf(b));
  return cfg;
}

function lineOf(msg: string): number {
  return Number(/^line (\d+):/.exec(msg)?.[1] ?? 0);
}
