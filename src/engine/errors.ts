/**
 * Configuration errors as values with the kernel's errno and ipvsadm's wording
 * (ipvsadm reference §9.3), so every front end prints the same message.
 */

export type IpvsErrno =
  | 'EEXIST'
  | 'ENOENT'
  | 'ESRCH'
  | 'EINVAL'
  | 'ERANGE'
  | 'EPERM'
  | 'ENOMEM'
  | 'EOPNOTSUPP'
  | 'EAFNOSUPPORT'
  | 'ENODEV';

export type IpvsOp =
  | 'add service'
  | 'edit service'
  | 'delete service'
  | 'zero service'
  | 'add dest'
  | 'edit dest'
  | 'delete dest'
  | 'start daemon'
  | 'stop daemon'
  | 'get service'
  | 'set timeout'
  | 'flush'
  | 'zero';

const OP_MESSAGES: [IpvsOp | 'any', IpvsErrno, string][] = [
  ['add service', 'EEXIST', 'Service already exists'],
  ['add service', 'ENOENT', 'Scheduler or persistence engine not found'],
  ['edit service', 'ESRCH', 'No such service'],
  ['edit service', 'ENOENT', 'Scheduler or persistence engine not found'],
  ['delete service', 'ESRCH', 'No such service'],
  ['zero service', 'ESRCH', 'No such service'],
  ['add dest', 'ESRCH', 'Service not defined'],
  ['add dest', 'EEXIST', 'Destination already exists'],
  ['edit dest', 'ESRCH', 'Service not defined'],
  ['edit dest', 'ENOENT', 'No such destination'],
  ['delete dest', 'ESRCH', 'Service not defined'],
  ['delete dest', 'ENOENT', 'No such destination'],
  ['start daemon', 'EEXIST', 'Daemon has already run'],
  ['stop daemon', 'ESRCH', 'No daemon is running'],
  ['get service', 'ESRCH', 'No such service'],
  ['any', 'EPERM', 'Permission denied (you must be root)'],
  ['any', 'EINVAL', 'Invalid operation.  Possibly wrong module version, address not unicast, ...'],
  ['any', 'ENOMEM', 'Memory allocation problem'],
  ['any', 'EOPNOTSUPP', 'Operation not supported with IPv6'],
  ['any', 'EAFNOSUPPORT', 'Operation not supported with specified address family'],
];

const STRERROR: Record<IpvsErrno, string> = {
  EEXIST: 'File exists',
  ENOENT: 'No such file or directory',
  ESRCH: 'No such process',
  EINVAL: 'Invalid argument',
  ERANGE: 'Numerical result out of range',
  EPERM: 'Operation not permitted',
  ENOMEM: 'Cannot allocate memory',
  EOPNOTSUPP: 'Operation not supported',
  EAFNOSUPPORT: 'Address family not supported by protocol',
  ENODEV: 'No such device',
};

/** ipvsadm's message for an errno returned by an operation (§9.3). */
export function ipvsMessage(op: IpvsOp, errno: IpvsErrno): string {
  for (const [o, e, m] of OP_MESSAGES) if (e === errno && (o === op || o === 'any')) return m;
  return STRERROR[errno];
}

/** A configuration change the engine refused; the configuration is unchanged. */
export class IpvsError extends Error {
  readonly errno: IpvsErrno;
  readonly op: IpvsOp;
  /** Extra detail for logs (not part of ipvsadm's message). */
  readonly detail: string;
  constructor(op: IpvsOp, errno: IpvsErrno, detail = '') {
    super(ipvsMessage(op, errno));
    this.name = 'IpvsError';
    this.errno = errno;
    this.op = op;
    this.detail = detail;
  }
}
