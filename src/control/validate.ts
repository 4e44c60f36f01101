/**
 * The range checks of every admin argument, done once, here: each function turns a
 * front end's spec (tsvsadm, the JSON API, keepalived.conf, a saved configuration)
 * into what the engine takes, filling in the defaults of `engine/spec.ts`, or throws
 * a {@link ControlError} naming the errno the kernel uses for that argument.
 */
import { isIPv4, isIPv6 } from 'node:net';
import type { DestOptions, ServiceKey, ServiceOptions } from '../engine/engine.js';
import { parseAddr, formatAddr } from '../engine/addr.js';
import {
  IPPROTO_SCTP,
  IPPROTO_TCP,
  IPPROTO_UDP,
  SVC_F_ONEPACKET,
  SVC_F_SYNPROXY,
  SVC_F_PERSISTENT,
  SVC_F_SCHED1,
  SVC_F_SCHED2,
  SVC_F_SCHED3,
  type AddressFamily,
} from '../engine/constants.js';
import type { IpvsOp } from '../engine/errors.js';
import type { Service } from '../engine/service.js';
import { SETTING_NAMES, type Settings } from '../engine/settings.js';
import {
  DEST_DEFAULTS,
  FWD_NAMES,
  MAX_TIMEOUT,
  SERVICE_DEFAULTS,
  defaultNetmask,
  protoName,
  type DestId,
  type DestSpec,
  type ServiceId,
  type ServiceSpec,
} from '../engine/spec.js';
import { ControlError } from './error.js';

const INT_MAX = 2147483647;
const UINT32_MAX = 4294967295;
/** Flag bits user space may set on a service; HASHED is the kernel's own. */
export const SVC_USER_FLAGS =
  SVC_F_PERSISTENT | SVC_F_ONEPACKET | SVC_F_SCHED1 | SVC_F_SCHED2 | SVC_F_SCHED3 | SVC_F_SYNPROXY;

/** The `net.ipv4.vs.` prefix of the sysctl names. */
export const SYSCTL_PREFIX = 'net.ipv4.vs.';

/**
 * `v`, or `def` when `v` is absent. Only `undefined` is absent: a field sent as `null`
 * is kept, and fails its check, rather than quietly taking the default.
 */
function or<T, D>(v: T | undefined, def: D): T | D {
  return v === undefined ? def : v;
}

/** An integer in [lo, hi]. */
export function isInt(v: unknown, lo: number, hi: number): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= lo && v <= hi;
}

/** An IPv4 (224/4) or IPv6 (ff00::/8) multicast address. */
export function isMulticast(a: string): boolean {
  if (isIPv4(a)) return (Number(a.split('.')[0]) & 0xf0) === 0xe0;
  if (isIPv6(a)) return /^ff/i.test(a);
  return false;
}

/** A service id as logs name it: `TCP 10.0.0.1:80`, `TCP [2001:db8::1]:80`, `FWM 7 IPv6`. */
export function describeId(id: ServiceId): string {
  if (id.fwmark) return `FWM ${id.fwmark}${id.af === 6 ? ' IPv6' : ''}`;
  const a = id.af === 6 ? `[${id.addr}]` : id.addr;
  return `${protoName(id.protocol ?? IPPROTO_TCP)} ${a}:${id.port ?? 0}`;
}

/** The engine key of a service id, or EINVAL (missing/ill-formed attributes). */
export function serviceKey(id: ServiceId, op: IpvsOp): ServiceKey {
  if (id === null || typeof id !== 'object')
    throw new ControlError(op, 'EINVAL', undefined, 'no service');
  if (id.af !== 4 && id.af !== 6)
    throw new ControlError(op, 'EAFNOSUPPORT', undefined, `af ${String(id.af)}`);
  const protocol = or(id.protocol, IPPROTO_TCP);
  if (protocol !== IPPROTO_TCP && protocol !== IPPROTO_UDP && protocol !== IPPROTO_SCTP)
    throw new ControlError(op, 'EINVAL', undefined, `protocol ${String(protocol)}`);
  if (id.fwmark !== undefined && id.fwmark !== 0) {
    if (!isInt(id.fwmark, 1, UINT32_MAX))
      throw new ControlError(op, 'EINVAL', undefined, `fwmark ${id.fwmark}`);
    return { af: id.af, protocol, fwmark: id.fwmark };
  }
  const p = typeof id.addr === 'string' ? parseAddr(id.addr) : null;
  if (!p || p.af !== id.af)
    throw new ControlError(op, 'EINVAL', undefined, `address ${String(id.addr)}`);
  const port = or(id.port, 0);
  if (!isInt(port, 0, 65535))
    throw new ControlError(op, 'EINVAL', undefined, `port ${String(port)}`);
  return { af: id.af, protocol, addr: formatAddr(p.af, p.words), port };
}

/** Dotted quad or number → 32-bit IPv4 mask; prefix length for IPv6. */
function netmaskOf(af: AddressFamily, m: number | string | undefined, op: IpvsOp): number {
  if (m === undefined) return defaultNetmask(af);
  if (af === 6) {
    if (!isInt(m, 1, 128))
      throw new ControlError(op, 'EINVAL', undefined, `IPv6 prefix ${String(m)}`);
    return m;
  }
  if (typeof m === 'string') {
    if (!isIPv4(m)) throw new ControlError(op, 'EINVAL', undefined, `netmask ${m}`);
    const p = parseAddr(m)!;
    return p.words[0];
  }
  if (!isInt(m, 0, UINT32_MAX)) throw new ControlError(op, 'EINVAL', undefined, `netmask ${m}`);
  return m;
}

/** A service's parameters with the defaults filled in, or the kernel's errno. */
export function serviceOptions(spec: ServiceSpec, op: IpvsOp): ServiceOptions {
  const scheduler = or(spec.scheduler, SERVICE_DEFAULTS.scheduler);
  if (typeof scheduler !== 'string' || scheduler.length > 15)
    throw new ControlError(op, 'ENOENT', undefined, `scheduler ${String(scheduler)}`);
  const flags = or(spec.flags, SERVICE_DEFAULTS.flags);
  if (!isInt(flags, 0, UINT32_MAX))
    throw new ControlError(op, 'EINVAL', undefined, `flags ${flags}`);
  const persistent = (flags & SVC_F_PERSISTENT) !== 0;
  const timeout = or(spec.timeout, persistent ? SERVICE_DEFAULTS.persistentTimeout : 0);
  if (!isInt(timeout, 0, MAX_TIMEOUT))
    throw new ControlError(op, 'EINVAL', undefined, `timeout ${timeout}`);
  const pe = or(spec.pe, SERVICE_DEFAULTS.pe);
  if (typeof pe !== 'string' || pe.length > 15)
    throw new ControlError(op, 'ENOENT', undefined, `pe ${String(pe)}`);
  const fwmark = or(spec.fwmark, 0);
  const protocol = or(spec.protocol, IPPROTO_TCP);
  if (flags & SVC_F_ONEPACKET && fwmark === 0 && protocol !== IPPROTO_UDP)
    throw new ControlError(op, 'EINVAL', undefined, 'one-packet scheduling is only for UDP');
  if (flags & SVC_F_SYNPROXY && fwmark === 0 && protocol !== IPPROTO_TCP)
    throw new ControlError(op, 'EINVAL', undefined, 'the SYN proxy is only for TCP');
  return {
    scheduler,
    flags: (flags & SVC_USER_FLAGS) >>> 0,
    timeout,
    netmask: netmaskOf(spec.af, spec.netmask, op),
    pe,
  };
}

/** A real server's address (canonical) and port, or EINVAL. */
export function destId(d: DestId, op: IpvsOp): { addr: string; port: number; af: AddressFamily } {
  if (d === null || typeof d !== 'object')
    throw new ControlError(op, 'EINVAL', undefined, 'no dest');
  const p = typeof d.addr === 'string' ? parseAddr(d.addr) : null;
  if (!p) throw new ControlError(op, 'EINVAL', undefined, `address ${String(d.addr)}`);
  if (!isInt(d.port, 0, 65535))
    throw new ControlError(op, 'EINVAL', undefined, `port ${String(d.port)}`);
  return { addr: formatAddr(p.af, p.words), port: d.port, af: p.af };
}

/** A real-server address the kernel accepts: unicast (not 0, multicast or broadcast). */
function unicast(af: AddressFamily, addr: string): boolean {
  const p = parseAddr(addr)!;
  const w = p.words;
  if (af === 4) return w[0] !== 0 && w[0] !== 0xffffffff && w[0] >>> 28 !== 0xe;
  if (w[0] >>> 24 === 0xff) return false;
  return w[0] !== 0 || w[1] !== 0 || w[2] !== 0 || w[3] !== 0;
}

/** A real server of `svc` with the defaults filled in, or the kernel's errno. */
export function destOptions(svc: Service, d: DestSpec, op: IpvsOp): DestOptions {
  const id = destId(d, op);
  const fwd = or(d.fwd, DEST_DEFAULTS.fwd);
  if (!FWD_NAMES.includes(fwd))
    throw new ControlError(op, 'EINVAL', undefined, `method ${String(fwd)}`);
  if (id.af !== svc.af && fwd !== 'tunnel')
    throw new ControlError(
      op,
      'EINVAL',
      undefined,
      'different address family is allowed only for tunnels',
    );
  if (!unicast(id.af, id.addr))
    throw new ControlError(op, 'EINVAL', undefined, `not unicast: ${id.addr}`);
  const weight = or(d.weight, DEST_DEFAULTS.weight);
  if (typeof weight !== 'number' || !Number.isInteger(weight) || weight > INT_MAX)
    throw new ControlError(op, 'EINVAL', undefined, `weight ${String(weight)}`);
  if (weight < 0) throw new ControlError(op, 'ERANGE', undefined, 'negative weight');
  const u = or(d.uThreshold, DEST_DEFAULTS.uThreshold);
  const l = or(d.lThreshold, DEST_DEFAULTS.lThreshold);
  if (!isInt(u, 0, UINT32_MAX) || !isInt(l, 0, UINT32_MAX))
    throw new ControlError(op, 'EINVAL', undefined, 'thresholds');
  if (l > u) throw new ControlError(op, 'ERANGE', undefined, 'lower threshold above the upper one');
  const tunType = or(d.tunType, DEST_DEFAULTS.tunType);
  const tunPort = or(d.tunPort, DEST_DEFAULTS.tunPort);
  const tunFlags = or(d.tunFlags, DEST_DEFAULTS.tunFlags);
  if (!isInt(tunType, 0, 2) || !isInt(tunPort, 0, 65535) || !isInt(tunFlags, 0, 2))
    throw new ControlError(op, 'EINVAL', undefined, 'tunnel parameters');
  if (fwd === 'tunnel' && tunType === 1 && tunPort === 0)
    throw new ControlError(op, 'EINVAL', undefined, 'GUE needs a tunnel port');
  return {
    addr: id.addr,
    port: id.port,
    fwd,
    weight,
    uThreshold: u,
    lThreshold: l,
    tunType,
    tunPort,
    tunFlags,
  };
}

/** A sysctl name (`net.ipv4.vs.x`, `net/ipv4/vs/x` or `x`) as a setting, or ENOENT. */
export function sysctlName(name: string): keyof Settings {
  if (typeof name !== 'string')
    throw new ControlError('sysctl', 'ENOENT', 'No such file or directory');
  let n = name.replace(/\//g, '.');
  if (n.startsWith(SYSCTL_PREFIX)) n = n.slice(SYSCTL_PREFIX.length);
  if (!(SETTING_NAMES as string[]).includes(n))
    throw new ControlError(
      'sysctl',
      'ENOENT',
      'No such file or directory',
      `unknown setting ${name}`,
    );
  return n as keyof Settings;
}
