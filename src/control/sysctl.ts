/**
 * The `net.ipv4.vs.*` settings by their kernel names (kernel spec §13), read and
 * written through the control model with the kernel's ranges (engine settings.ts),
 * as `tsvs sysctl` (src/cli/sysctl.ts) shows them to the operator, talking to the daemon
 * like sysctl(8) talks to /proc/sys:
 *
 * ```
 * tsvs sysctl -a                          every net.ipv4.vs.* setting
 * tsvs sysctl net.ipv4.vs.secure_tcp      one (also net/ipv4/vs/secure_tcp)
 * tsvs sysctl -n net.ipv4.vs.secure_tcp   value only
 * tsvs sysctl -w net.ipv4.vs.secure_tcp=1 write (-w is optional when '=' is given)
 * ```
 */
import { ControlError, type ControlModel, type SysctlEntry } from './model.js';

/** Read settings: all of them, or those named. */
export function sysctlGet(model: ControlModel, names?: string[]): SysctlEntry[] {
  if (!names || names.length === 0) return model.sysctlGet();
  return names.flatMap((n) => model.sysctlGet(n));
}

/** Write `name=value` assignments in order; stops at the first refused one. */
export function sysctlSet(model: ControlModel, assignments: string[]): SysctlEntry[] {
  return assignments.map((a) => {
    const eq = a.indexOf('=');
    if (eq < 0) throw new ControlError('sysctl', 'EINVAL', `"${a}" must be of the form name=value`);
    return model.sysctlSet(a.slice(0, eq).trim(), a.slice(eq + 1).trim());
  });
}
