/**
 * A refused admin command as every front end reports it: the kernel's errno name, the
 * operation and ipvsadm's message for that pair (ipvsadm reference §9.3).
 */
import { IpvsError, ipvsMessage, type IpvsErrno, type IpvsOp } from '../engine/errors.js';

/** Operation names for errors that are not IPVS netlink operations. */
export type ControlOp = IpvsOp | 'get services' | 'get daemon' | 'sysctl' | 'proc' | 'request';

/**
 * A refused command: the kernel's errno name, the operation, ipvsadm's message for
 * that pair (reference §9.3) and an optional detail for logs and API users.
 */
export class ControlError extends Error {
  readonly errno: string;
  readonly op: ControlOp;
  readonly detail: string;
  constructor(op: ControlOp, errno: string, message?: string, detail = '') {
    super(message ?? ipvsMessage(op as IpvsOp, errno as IpvsErrno));
    this.name = 'ControlError';
    this.op = op;
    this.errno = errno;
    this.detail = detail;
  }

  static from(e: unknown): ControlError {
    if (e instanceof ControlError) return e;
    if (e instanceof IpvsError) return new ControlError(e.op, e.errno, e.message, e.detail);
    const msg = e instanceof Error ? e.message : String(e);
    return new ControlError('request', 'EINVAL', msg, msg);
  }
}

/**
 * Run `fn`, turning what it throws into a {@link ControlError}; with `op`, an error
 * that is neither ours nor the engine's becomes EINVAL of that operation.
 */
export function guard<T>(fn: () => T, op?: ControlOp): T {
  try {
    return fn();
  } catch (e) {
    if (op && !(e instanceof ControlError) && !(e instanceof IpvsError))
      throw new ControlError(op, 'EINVAL', undefined, e instanceof Error ? e.message : String(e));
    throw ControlError.from(e);
  }
}
