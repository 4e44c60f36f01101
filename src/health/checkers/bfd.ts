/**
 * BFD_CHECK (keepalived's check_bfd.c): the checker is up while the BFD session its
 * `name` names is up, down otherwise; it has no timers, retries or connection options,
 * only `alpha` (start down until the session is seen up).
 *
 * keepalived follows a session of its own BFD process (a `bfd_instance` block of the
 * same file); tsvs has no BFD process and follows the same session in FRR's bfdd
 * instead: the session to the bfd_instance's `neighbor_ip` (from its `source_ip`, when
 * written) that bfdd is configured with. bfdd is asked through its vty socket (`vtysh
 * --vty_socket DIR -d bfdd -c 'show bfd peers json'`; DIR is TSVS_BFD_VTY_DIR, default
 * /var/run/frr), once a second for all BFD checkers together, where keepalived's
 * checker is told at once: a change is seen up to a second later.
 *
 * Fail closed: no vtysh or no bfdd socket when the file is read → the checker is
 * unusable (a configuration error, its real server kept out); bfdd not answering
 * later, or no session to that neighbour in bfdd → down.
 *
 * @module
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { formatAddr, parseAddr } from '../../engine/addr.js';
import type { KaChecker } from '../keepalived/types.js';
import type { CheckResult } from './socket.js';

/** Where bfdd's vty socket (bfdd.vty) is: TSVS_BFD_VTY_DIR, else FRR's default. */
export function bfdVtyDir(): string {
  return process.env.TSVS_BFD_VTY_DIR || '/var/run/frr';
}

/** Why FRR's bfdd cannot be asked (no vtysh, no bfdd socket), or undefined. */
export function bfdSourceMissing(vtyDir: string): string | undefined {
  const path = (process.env.PATH ?? '/usr/bin:/bin').split(delimiter);
  if (!path.some((d) => d !== '' && existsSync(join(d, 'vtysh'))))
    return "FRR's vtysh is not installed";
  const sock = join(vtyDir, 'bfdd.vty');
  if (!existsSync(sock)) return `FRR's bfdd is not running: no ${sock}`;
  return undefined;
}

/** One session as `show bfd peers json` prints it (the fields used here). */
interface BfdPeerJson {
  peer?: string;
  local?: string;
  status?: string;
  multihop?: boolean;
  vrf?: string;
}

/** A listing of bfdd's sessions, shared by the checks of the same second. */
interface Listing {
  at: number;
  peers: Promise<BfdPeerJson[]>;
}

const listings = new Map<string, Listing>();
/** Checks within this many ms share one listing. */
const LISTING_MS = 500;

function listPeers(vtyDir: string): Promise<BfdPeerJson[]> {
  const now = Date.now();
  const l = listings.get(vtyDir);
  if (l && now - l.at < LISTING_MS) return l.peers;
  const peers = new Promise<BfdPeerJson[]>((resolve, reject) => {
    execFile(
      'vtysh',
      ['--vty_socket', vtyDir, '-d', 'bfdd', '-c', 'show bfd peers json'],
      { encoding: 'utf8', timeout: 3000 },
      (err, out, stderr) => {
        if (err) return reject(new Error(`vtysh: ${(stderr || err.message).trim()}`));
        try {
          const v = JSON.parse(out) as unknown;
          resolve(Array.isArray(v) ? (v as BfdPeerJson[]) : []);
        } catch {
          reject(new Error(`vtysh: not JSON: ${out.slice(0, 80)}`));
        }
      },
    );
  });
  listings.set(vtyDir, { at: now, peers });
  return peers;
}

/** The address in inet_ntop form, to compare what bfdd prints with what was written. */
function canon(a: string | undefined): string | undefined {
  if (a === undefined) return undefined;
  const p = parseAddr(a);
  return p ? formatAddr(p.af, p.words) : a;
}

/** Runs one BFD_CHECK: up while bfdd's session to the neighbour is up. */
export async function bfdCheck(c: KaChecker): Promise<CheckResult> {
  const b = c.bfd;
  if (!b) return { ok: false, why: `BFD_CHECK ${c.bfdName ?? ''}: no BFD session` };
  let peers: BfdPeerJson[];
  try {
    peers = await listPeers(b.vtyDir);
  } catch (e) {
    return { ok: false, why: `BFD ${b.name}: bfdd did not answer: ${(e as Error).message}` };
  }
  const peer = canon(b.peer);
  const local = canon(b.local);
  const s = peers.find(
    (x) =>
      canon(x.peer) === peer &&
      (local === undefined || canon(x.local) === local) &&
      (x.vrf === undefined || x.vrf === 'default'),
  );
  if (!s) return { ok: false, why: `BFD ${b.name}: bfdd has no session with ${b.peer}` };
  return s.status === 'up'
    ? { ok: true }
    : { ok: false, why: `BFD ${b.name}: the session with ${b.peer} is ${s.status ?? 'unknown'}` };
}
