/**
 * The network-namespace lab (client, director, two real servers) used by end-to-end
 * tests, benchmarks and `tsvs demo`. `scripts/lab.sh` is the single source of truth
 * for the topology and the addresses (its header comment draws it); this module runs
 * it and parses the `KEY=VALUE` lines it prints.
 *
 * @module
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** Absolute path of scripts/lab.sh (this module runs from dist/src/sys/). */
export const LAB_SCRIPT = fileURLToPath(new URL('../../../scripts/lab.sh', import.meta.url));

/** Default prefix of the lab's namespace names. */
export const DEFAULT_LAB_PREFIX = 'tsvs';

/** One real server of the lab. */
export interface LabRealServer {
  /** Network namespace name. */
  ns: string;
  /** Address on the server LAN (the RIP). */
  ip4: string;
  ip6: string;
  /** Interface on the server LAN (towards the director). */
  serverIf: string;
  /** Interface on the client LAN (direct return path for DR/TUN replies). */
  clientIf: string;
}

/** Names and addresses of a lab, as printed by `lab.sh env`. */
export interface LabEnv {
  prefix: string;
  ns: { client: string; director: string; rs1: string; rs2: string };
  client4: string;
  client6: string;
  director: {
    /** Interface towards the client LAN. */
    clientIf: string;
    client4: string;
    client6: string;
    /** Interface (a bridge) on the server LAN; real servers are one L2 hop away on it. */
    serverIf: string;
    server4: string;
    server6: string;
  };
  rs: [LabRealServer, LabRealServer];
  vip4: string;
  vip6: string;
  /** Whether the VIPs were put on the director's lo. */
  vipOnDirector: boolean;
}

/** Options of {@link labUp}, {@link labDown} and {@link labEnv}. */
export interface LabOptions {
  /** Prefix of the namespace names (default `tsvs`): `PREFIX-client`, `PREFIX-director`... */
  prefix?: string;
  /** Put the VIPs on the director's lo (default true, the LVS convention). */
  vipOnDirector?: boolean;
  /** Time limit of the script in ms (default 30 s). */
  timeoutMs?: number;
}

function runLab(cmd: 'up' | 'down' | 'env', opts: LabOptions): string {
  const args = [LAB_SCRIPT, cmd, '--prefix', opts.prefix ?? DEFAULT_LAB_PREFIX];
  if (opts.vipOnDirector === false) args.push('--no-vip');
  try {
    return execFileSync('bash', args, {
      encoding: 'utf8',
      timeout: opts.timeoutMs ?? 30_000,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (e) {
    const err = e as Error & { stderr?: string };
    throw new Error(`lab.sh ${cmd} failed: ${err.stderr?.trim() || err.message}`);
  }
}

/** Parses the KEY=VALUE lines of `lab.sh env` / `lab.sh up`. */
export function parseLabEnv(text: string): LabEnv {
  const kv = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (m) kv.set(m[1], m[2]);
  }
  const get = (k: string): string => {
    const v = kv.get(k);
    if (v === undefined) throw new Error(`lab.sh output lacks ${k}`);
    return v;
  };
  const rs = (n: 1 | 2): LabRealServer => ({
    ns: get(`NS_RS${n}`),
    ip4: get(`RS${n}_4`),
    ip6: get(`RS${n}_6`),
    serverIf: get('RS_SERVER_IF'),
    clientIf: get('RS_CLIENT_IF'),
  });
  return {
    prefix: get('PREFIX'),
    ns: {
      client: get('NS_CLIENT'),
      director: get('NS_DIRECTOR'),
      rs1: get('NS_RS1'),
      rs2: get('NS_RS2'),
    },
    client4: get('CLIENT4'),
    client6: get('CLIENT6'),
    director: {
      clientIf: get('DIR_CLIENT_IF'),
      client4: get('DIR_CLIENT4'),
      client6: get('DIR_CLIENT6'),
      serverIf: get('DIR_SERVER_IF'),
      server4: get('DIR_SERVER4'),
      server6: get('DIR_SERVER6'),
    },
    rs: [rs(1), rs(2)],
    vip4: get('VIP4'),
    vip6: get('VIP6'),
    vipOnDirector: get('VIP_ON_DIRECTOR') === '1',
  };
}

/**
 * Builds the lab (root needed), replacing a lab with the same prefix. On failure the
 * partial lab is removed and an Error with the script's message is thrown.
 */
export function labUp(opts: LabOptions = {}): LabEnv {
  return parseLabEnv(runLab('up', opts));
}

/** Removes the lab with this prefix and kills what runs in it; idempotent. */
export function labDown(opts: LabOptions = {}): void {
  runLab('down', opts);
}

/** Names and addresses of the lab with this prefix, without touching anything. */
export function labEnv(opts: LabOptions = {}): LabEnv {
  return parseLabEnv(runLab('env', opts));
}

/** Namespace names of a lab, in the order client, director, rs1, rs2. */
export function labNamespaces(env: LabEnv): string[] {
  return [env.ns.client, env.ns.director, env.ns.rs1, env.ns.rs2];
}
