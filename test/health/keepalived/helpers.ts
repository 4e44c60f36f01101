/**
 * Shared by the keepalived.conf reader's tests: one service of a text, a service block
 * with scheduler, method and protocol written, and a warning matcher.
 */
import assert from 'node:assert/strict';
import {
  parseKeepalived,
  type KaConfig,
  type KaVirtualServer,
} from '../../../src/health/keepalived.js';

/** The one service of `text` (asserting there is exactly one). */
export function one(text: string): { vs: KaVirtualServer; cfg: KaConfig } {
  const cfg = parseKeepalived(text);
  assert.equal(cfg.virtualServers.length, 1, JSON.stringify(cfg, null, 1));
  return { vs: cfg.virtualServers[0], cfg };
}

/** A service header and body with a scheduler, method and protocol (no default warnings). */
export function svc(body: string, head = '10.0.0.1 80'): string {
  return `virtual_server ${head} {\n lvs_sched rr\n lvs_method NAT\n protocol TCP\n${body}\n}\n`;
}

/** Asserts that some warning of `cfg` matches `re`. */
export function hasWarning(cfg: KaConfig, re: RegExp): void {
  assert.ok(
    cfg.warnings.some((w) => re.test(w)),
    `no warning ${re}: ${JSON.stringify(cfg.warnings)}`,
  );
}
