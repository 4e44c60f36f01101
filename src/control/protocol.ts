/**
 * The JSON control API: one request and one response per command, as newline-delimited
 * JSON over a Unix stream socket (default `/run/tsvs/control.sock`, overridden by
 * `TSVS_CONTROL`).
 *
 * A request is one line holding a JSON object with a `cmd` and the command's fields,
 * plus an optional `id` that the response echoes:
 *
 * ```
 * → {"id":1,"cmd":"addService","service":{"af":4,"protocol":6,"addr":"10.0.0.1","port":80,"scheduler":"rr"}}
 * ← {"id":1,"ok":true,"result":null}
 * → {"id":2,"cmd":"addService","service":{"af":4,"protocol":6,"addr":"10.0.0.1","port":80}}
 * ← {"id":2,"ok":false,"error":{"errno":"EEXIST","op":"add service","message":"Service already exists","detail":""}}
 * ```
 *
 * Responses come back in request order, so a client may send several requests before
 * reading (tsvsadm -R does). A response to a command that changed the configuration is
 * sent only once the change is saved (when the daemon persists its configuration).
 * Errors carry the kernel's errno name, the operation and ipvsadm's message for them
 * (ipvsadm reference §9.3); a refused command changed nothing.
 */
import type {
  ConfigSnapshot,
  ConnEntry,
  DaemonEntry,
  DaemonSpec,
  DestId,
  DestSpec,
  Info,
  ServiceEntry,
  ServiceId,
  ServiceSpec,
  SyncState,
  SysctlEntry,
  Timeouts,
} from './model.js';
import { ControlError, type ControlModel } from './model.js';
import { procText } from './proc.js';

/** Every request of the API, by command. */
export type Request =
  /** Version and connection-table size (ipvsadm's first call). */
  | { cmd: 'info' }
  /** ipvsadm -A. */
  | { cmd: 'addService'; service: ServiceSpec }
  /** ipvsadm -E (replaces every field). */
  | { cmd: 'editService'; service: ServiceSpec }
  /** ipvsadm -D. */
  | { cmd: 'delService'; service: ServiceId }
  /** ipvsadm -C. */
  | { cmd: 'flush' }
  /** ipvsadm -a. */
  | { cmd: 'addDest'; service: ServiceId; dest: DestSpec }
  /** ipvsadm -e (replaces every field). */
  | { cmd: 'editDest'; service: ServiceId; dest: DestSpec }
  /** ipvsadm -d. */
  | { cmd: 'delDest'; service: ServiceId; dest: DestId }
  /** ipvsadm -Z [service]. */
  | { cmd: 'zero'; service?: ServiceId }
  /** ipvsadm --set (0 or absent leaves a value unchanged). */
  | { cmd: 'setTimeouts'; timeouts: Partial<Timeouts> }
  /** ipvsadm -L --timeout. */
  | { cmd: 'getTimeouts' }
  /** ipvsadm --start-daemon. */
  | { cmd: 'startDaemon'; daemon: DaemonSpec }
  /** ipvsadm --stop-daemon. */
  | { cmd: 'stopDaemon'; state: SyncState }
  /** ipvsadm -L --daemon. */
  | { cmd: 'getDaemons' }
  /** Every service with its real servers, counters and rates. */
  | { cmd: 'listServices' }
  /** One service (ESRCH "No such service" when missing). */
  | { cmd: 'getService'; service: ServiceId }
  /** The connection table (ipvsadm -L -c). */
  | { cmd: 'listConnections' }
  /** net.ipv4.vs.* settings: one, or all when `name` is absent. */
  | { cmd: 'sysctlGet'; name?: string }
  /** Write one setting, e.g. `{"name":"net.ipv4.vs.secure_tcp","value":"1"}`. */
  | { cmd: 'sysctlSet'; name: string; value: string }
  /** Kernel-format text of /proc/net/ip_vs, ip_vs_stats, ip_vs_conn, ip_vs_conn_sync. */
  | { cmd: 'proc'; name: string }
  /** The whole configuration as persisted. */
  | { cmd: 'getConfig' }
  /**
   * Re-read the daemon's configuration files and apply the difference (as SIGHUP
   * does); served by the daemon, not the model.
   */
  | { cmd: 'reload' }
  /**
   * Hand-over to a new daemon (`tsvs daemon --takeover`, daemon/takeover.ts): `begin`
   * stops the data plane and answers the engine's state (`begin-keep`: keeping the
   * capture's descriptors open for the successor to copy, `release` closes them),
   * `done` (the successor runs) makes this daemon exit, `abort` makes it resume.
   */
  | { cmd: 'takeover'; phase: 'bulk' | 'begin' | 'begin-keep' | 'release' | 'done' | 'abort' }
  /**
   * Readiness (`tsvs status --ready [VIP[:PORT]]`, docs/ha.md): data plane running,
   * configuration loaded, not learning the table from sync, and with `vip` every
   * matching service has an available real server. Served by the daemon.
   */
  | { cmd: 'ready'; vip?: string }
  /**
   * A VRRP state change from keepalived (`tsvs vrrp-notify`): recorded, exported and,
   * with `--sync-interface`, followed by the sync daemons. Served by the daemon.
   */
  | {
      cmd: 'vrrpNotify';
      type: 'INSTANCE' | 'GROUP';
      name: string;
      state: string;
      priority?: number | null;
    }
  /** Stop the daemon; `clean` removes rules, devices and saved state (`--stop-clean`). */
  | { cmd: 'stop'; clean?: boolean };

export type Command = Request['cmd'];

/** The `result` of each command's successful response. */
export interface Results {
  info: Info;
  addService: null;
  editService: null;
  delService: null;
  flush: null;
  addDest: null;
  editDest: null;
  delDest: null;
  zero: null;
  setTimeouts: null;
  getTimeouts: Timeouts;
  startDaemon: null;
  stopDaemon: null;
  getDaemons: DaemonEntry[];
  listServices: ServiceEntry[];
  getService: ServiceEntry;
  listConnections: ConnEntry[];
  sysctlGet: SysctlEntry[];
  sysctlSet: SysctlEntry;
  proc: string;
  getConfig: ConfigSnapshot;
  reload: ReloadResult;
  takeover: unknown;
  ready: ReadyResult;
  vrrpNotify: { role: string | null };
  stop: null;
}

/** The answer to `ready`: the verdict, the first reason against it, and every check. */
export interface ReadyResult {
  ready: boolean;
  /** `ready`, or the first reason it is not (one line). */
  reason: string;
  /** Every reason it is not ready (empty when ready). */
  reasons: string[];
  dataPlane: boolean;
  configured: boolean;
  /** Learning the table from sync: whether, since when, and ms left. */
  learning: { learning: boolean; since: number | null; remainingMs: number; windowMs: number };
  /** keepalived's role as last notified, or null. */
  vrrp: string | null;
  /** With a VIP: each matching service and its available real servers. */
  services?: { service: string; available: number; servers: number }[];
}

/** What a reload did: every change made, or every problem found (then nothing changed). */
export interface ReloadResult {
  ok: boolean;
  /** One line per change applied (empty when the files had not changed). */
  changes: string[];
  /** Every problem, `file:line: message` (empty when ok). */
  problems: string[];
  /** Non-fatal remarks (`file:line: warning: ...`). */
  warnings: string[];
}

export type ResultOf<R extends Request> = Results[R['cmd']];

/** The error part of a failed response. */
export interface WireError {
  /** Kernel errno name: EEXIST, ESRCH, ENOENT, EINVAL, ERANGE, ENODEV, ... */
  errno: string;
  /** Operation, as ipvsadm names it in §9.3 ("add service", "edit dest", ...). */
  op: string;
  /** ipvsadm's message for (op, errno). */
  message: string;
  /** Extra detail for logs; not part of ipvsadm's output. */
  detail: string;
}

export type Response =
  | { id?: number | string; ok: true; result: unknown }
  | { id?: number | string; ok: false; error: WireError };

export const COMMANDS: readonly Command[] = [
  'info',
  'addService',
  'editService',
  'delService',
  'flush',
  'addDest',
  'editDest',
  'delDest',
  'zero',
  'setTimeouts',
  'getTimeouts',
  'startDaemon',
  'stopDaemon',
  'getDaemons',
  'listServices',
  'getService',
  'listConnections',
  'sysctlGet',
  'sysctlSet',
  'proc',
  'getConfig',
  'reload',
  'takeover',
  'ready',
  'vrrpNotify',
  'stop',
];

/** Longest request line a server accepts (bytes). */
export const MAX_LINE = 1 << 20;

function field<T>(req: Record<string, unknown>, name: string): T {
  if (!(name in req)) throw new ControlError('request', 'EINVAL', undefined, `missing '${name}'`);
  // null is not "absent": a required field given as null is refused, never defaulted
  if (req[name] === null)
    throw new ControlError('request', 'EINVAL', undefined, `'${name}' is null`);
  return req[name] as T;
}

/**
 * Run one decoded request against the model and return its result. Throws
 * {@link ControlError} for a refused or malformed request.
 */
export function dispatch(model: ControlModel, raw: unknown): unknown {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw))
    throw new ControlError('request', 'EINVAL', undefined, 'request is not an object');
  const req = raw as Record<string, unknown>;
  const cmd = req.cmd;
  try {
    switch (cmd) {
      case 'info':
        return model.info();
      case 'addService':
        model.addService(field(req, 'service'));
        return null;
      case 'editService':
        model.editService(field(req, 'service'));
        return null;
      case 'delService':
        model.delService(field(req, 'service'));
        return null;
      case 'flush':
        model.flush();
        return null;
      case 'addDest':
        model.addDest(field(req, 'service'), field(req, 'dest'));
        return null;
      case 'editDest':
        model.editDest(field(req, 'service'), field(req, 'dest'));
        return null;
      case 'delDest':
        model.delDest(field(req, 'service'), field(req, 'dest'));
        return null;
      case 'zero':
        model.zero(
          req.service === undefined || req.service === null ? undefined : field(req, 'service'),
        );
        return null;
      case 'setTimeouts':
        model.setTimeouts(field(req, 'timeouts'));
        return null;
      case 'getTimeouts':
        return model.getTimeouts();
      case 'startDaemon':
        model.startDaemon(field(req, 'daemon'));
        return null;
      case 'stopDaemon':
        model.stopDaemon(field(req, 'state'));
        return null;
      case 'getDaemons':
        return model.daemons();
      case 'listServices':
        return model.services();
      case 'getService':
        return model.service(field(req, 'service'));
      case 'listConnections':
        return model.connections();
      case 'sysctlGet':
        return model.sysctlGet(req.name === undefined ? undefined : field(req, 'name'));
      case 'sysctlSet':
        return model.sysctlSet(field(req, 'name'), field(req, 'value'));
      case 'proc':
        return procText(model, field(req, 'name'));
      case 'getConfig':
        return model.snapshot();
      case 'reload':
        throw new ControlError('request', 'EINVAL', undefined, 'reload is served by the daemon');
      case 'takeover':
        return model.lifecycle().takeover(String(field(req, 'phase')));
      case 'ready':
      case 'vrrpNotify':
        throw new ControlError('request', 'EINVAL', undefined, `${cmd} is served by the daemon`);
      case 'stop':
        model.lifecycle().stop(req.clean === true);
        return null;
      default:
        throw new ControlError('request', 'EINVAL', undefined, `unknown command '${String(cmd)}'`);
    }
  } catch (e) {
    throw ControlError.from(e);
  }
}

/** Encode a response line (with its newline). */
export function encodeResponse(
  id: number | string | undefined,
  result: unknown,
  err?: ControlError,
): string {
  const r: Response = err
    ? {
        ...(id !== undefined ? { id } : {}),
        ok: false,
        error: { errno: err.errno, op: err.op, message: err.message, detail: err.detail },
      }
    : { ...(id !== undefined ? { id } : {}), ok: true, result: result ?? null };
  return JSON.stringify(r) + '\n';
}

/**
 * The API served in-process by a model (no socket): what the daemon's own front ends
 * and tests use. Results are the same objects a socket client would decode.
 */
export function localApi(model: ControlModel): {
  call<R extends Request>(req: R): Promise<ResultOf<R>>;
} {
  return {
    call<R extends Request>(req: R): Promise<ResultOf<R>> {
      try {
        return Promise.resolve(dispatch(model, req) as ResultOf<R>);
      } catch (e) {
        return Promise.reject(ControlError.from(e));
      }
    },
  };
}
