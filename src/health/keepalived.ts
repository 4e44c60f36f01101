/**
 * The LVS part of a keepalived.conf (spec keepalived-lvs-reference §1–§4): text in,
 * a typed and fully defaulted configuration out, with keepalived's parse-time
 * defaults and load-time validation applied. Nothing here throws on bad input:
 * every problem becomes a warning (the keyword is ignored or a default is used) or
 * an error (the block it makes unusable is skipped), each "line N: text".
 *
 * Only `virtual_server` blocks and the `lvs_*` keywords of `global_defs` are read;
 * every other top-level block (vrrp_instance, vrrp_script, static routes, ...) is
 * skipped whole. `include` is not followed (no file access).
 *
 * The reader's parts are in `keepalived/`: the lexer and block structure, keyword
 * values, the checker, real_server and virtual_server blocks, the load-time checks
 * (`validate.ts`), global_defs, the types, and the conversion to the control model's
 * shapes (`control.ts`).
 *
 * @module
 */
import { buildTree, Problems } from './keepalived/lexer.js';
import { parseGlobalDefs } from './keepalived/global-defs.js';
import { parseVirtualServer } from './keepalived/virtual-server.js';
import { resolveVirtualServer } from './keepalived/validate.js';
import type { KaConfig } from './keepalived/types.js';
import { applyCheckerGlobals } from './keepalived/checker.js';

export type {
  KaChecker,
  KaConfig,
  KaMethod,
  KaRealServer,
  KaTunCsum,
  KaTunType,
  KaVirtualServer,
} from './keepalived/types.js';

/** Parses the LVS part of a keepalived.conf. Never throws. */
export function parseKeepalived(text: string): KaConfig {
  const p = new Problems();
  const cfg: KaConfig = {
    virtualServers: [],
    lvsFlush: false,
    warnings: p.warnings,
    errors: p.errors,
  };
  const tree = buildTree(String(text), p);
  for (const n of tree) {
    const kw = n.words[0]?.v;
    if (kw === 'include') {
      p.warn(n.line, 'include not supported');
      continue;
    }
    if (kw !== 'global_defs' && kw !== 'virtual_server') continue;
    if (!n.closed) continue; // reported by buildTree; the block is unusable
    if (kw === 'global_defs') parseGlobalDefs(n, cfg, p);
    else {
      const raw = parseVirtualServer(n, p);
      const vs = raw && resolveVirtualServer(raw, p);
      if (vs) cfg.virtualServers.push(vs);
    }
  }
  applyCheckerGlobals(tree, cfg, p);
  return cfg;
}
