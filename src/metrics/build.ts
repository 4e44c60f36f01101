/**
 * What this build of tsvs is: its version (package.json's) and the Node.js running
 * it. `tsvs --version`, `tsvsadm --version` and `tsvs_build_info` all read it here,
 * so the three never disagree.
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The build's identity. */
export interface BuildInfo {
  /** tsvs's version (package.json). */
  version: string;
  /** The Node.js version running it (`process.version` without the v). */
  node: string;
  /** V8's version. */
  v8: string;
}

let cached: BuildInfo | undefined;

/**
 * Reads the nearest package.json named `tsvs` above this file: dist/src/metrics/ in a
 * build, the package root when installed, the bundle's directory's parent for a
 * one-file build. `0.0.0-unknown` when none is found (never throws).
 */
export function buildInfo(): BuildInfo {
  if (cached) return cached;
  let version = '0.0.0-unknown';
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === 'tsvs' && typeof pkg.version === 'string') {
        version = pkg.version;
        break;
      }
    } catch {
      // not here: look one level up
    }
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  cached = { version, node: process.versions.node, v8: process.versions.v8 };
  return cached;
}
