/**
 * Application helpers (spec §9): the FTP helper and a one-call registration.
 */
import type { Engine } from '../engine.js';
import { createFtpHelper, type FtpHelper } from './ftp.js';

export {
  FTP_ACTIVE,
  FTP_EPRT,
  FTP_EPSV,
  FTP_MAX_PORTS,
  FTP_PASV,
  FtpHelper,
  createFtpHelper,
  type FtpCounters,
} from './ftp.js';
export { APP_DROP, APP_MANGLED, APP_OK, type AppHelper } from './types.js';

/**
 * Create an FTP helper for `ports` (default [21]) and register it with `engine`. Only
 * conns created afterwards are bound to it (binding happens at conn creation, and only
 * for NAT conns whose vport is one of the ports), so register before traffic flows.
 */
export function registerFtp(engine: Engine, ports: readonly number[] = [21]): FtpHelper {
  const h = createFtpHelper(ports);
  engine.registerApp(h);
  return h;
}
