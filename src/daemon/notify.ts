/**
 * systemd's notification protocol (sd_notify(3)) for `Type=notify` and `WatchdogSec=`:
 * `READY=1` once the rules and devices are in place, `RELOADING=1` … `READY=1` around
 * a reload, `STOPPING=1` at stop, `STATUS=` for `systemctl status`, and `WATCHDOG=1`
 * every half `WATCHDOG_USEC` while the event loop turns.
 *
 * The protocol is a datagram on the Unix socket named by `NOTIFY_SOCKET`. Node has no
 * Unix datagram sockets and the native shim has none either (it opens TUN, packet,
 * raw and netlink sockets only; rebuilding it for this is not worth a new C path), so
 * the messages are sent by systemd's own `systemd-notify`, a child of the daemon. A
 * child's message is attributed to the service only with `NotifyAccess=all` (the unit
 * sets it); `systemd-notify` (since systemd 246) waits until the manager has read the
 * message, so it is not lost when the child exits first, and `--pid` names the daemon
 * as the main process with the readiness message.
 *
 * The descriptor store (`FDSTORE=1`, with `FileDescriptorStoreMax=` in the unit) keeps
 * the capture's descriptors across a restart, so the kernel holds what is captured
 * while no daemon runs instead of dropping it (docs/operations-state.md). Those
 * messages carry descriptors (SCM_RIGHTS), which `systemd-notify` (before 254) cannot
 * send: the native shim sends them. The next start finds them in `LISTEN_FDS` /
 * `LISTEN_FDNAMES` ({@link listenFds}).
 */
import { execFile } from 'node:child_process';
import { sendDescriptors } from '../dataplane/native-fds.js';

export interface NotifierOptions {
  /** Environment to read NOTIFY_SOCKET / WATCHDOG_USEC / WATCHDOG_PID from. */
  env?: NodeJS.ProcessEnv;
  /** The `systemd-notify` program (tests may name another path). */
  program?: string;
  /** Told when a message could not be sent. */
  onError?: (e: Error) => void;
}

/** Sends notifications to the service manager; does nothing without `NOTIFY_SOCKET`. */
export class Notifier {
  /** Whether a service manager listens (NOTIFY_SOCKET set). */
  readonly enabled: boolean;
  /** The watchdog period asked for (µs), 0 when none. */
  readonly watchdogUsec: number;
  private readonly env: NodeJS.ProcessEnv;
  private readonly program: string;
  private readonly onError: (e: Error) => void;
  private timer: NodeJS.Timeout | undefined;
  private pinging = false;
  /** Messages sent (for logs and tests). */
  sent = 0;

  constructor(opts: NotifierOptions = {}) {
    this.env = opts.env ?? process.env;
    this.program = opts.program ?? 'systemd-notify';
    this.onError = opts.onError ?? (() => undefined);
    this.enabled = (this.env.NOTIFY_SOCKET ?? '') !== '';
    const usec = Number(this.env.WATCHDOG_USEC ?? 0);
    const pid = this.env.WATCHDOG_PID;
    // WATCHDOG_PID names the process the watchdog is for; another one's is not ours
    this.watchdogUsec =
      this.enabled && Number.isFinite(usec) && usec > 0 && (!pid || Number(pid) === process.pid)
        ? usec
        : 0;
  }

  /** Send `VAR=VALUE` assignments; resolves when the manager has the message. */
  send(vars: string[], extra: string[] = []): Promise<void> {
    if (!this.enabled) return Promise.resolve();
    return new Promise((resolve) => {
      execFile(
        this.program,
        [...extra, ...vars],
        { env: { ...this.env }, timeout: 10_000 },
        (err, _out, stderr) => {
          if (err)
            this.onError(new Error(`sd_notify ${vars.join(' ')}: ${stderr.trim() || err.message}`));
          else this.sent++;
          resolve();
        },
      );
    });
  }

  /** Startup is complete: rules and devices are in place. */
  ready(status: string): Promise<void> {
    return this.send(['READY=1', `STATUS=${status}`], [`--pid=${process.pid}`]);
  }

  /** A reload begins. */
  reloading(): Promise<void> {
    return this.send(['RELOADING=1', 'STATUS=reloading']);
  }

  /** A reload ended (with its outcome as status). */
  reloaded(status: string): Promise<void> {
    return this.send(['READY=1', `STATUS=${status}`]);
  }

  /** Shutdown begins. */
  stopping(): Promise<void> {
    this.stopWatchdog();
    return this.send(['STOPPING=1', 'STATUS=stopping']);
  }

  /**
   * Ping the watchdog every half period while `alive()` holds (default: always, so
   * what the watchdog catches is an event loop that no longer turns).
   */
  startWatchdog(alive: () => boolean = () => true): void {
    if (!this.watchdogUsec || this.timer) return;
    const every = Math.max(1, Math.floor(this.watchdogUsec / 2000));
    const ping = (): void => {
      if (this.pinging || !alive()) return;
      this.pinging = true;
      void this.send(['WATCHDOG=1']).finally(() => (this.pinging = false));
    };
    ping();
    this.timer = setInterval(ping, every);
    this.timer.unref();
  }

  /**
   * Hands descriptors to the service manager's store, one message per name
   * (`FDSTORE=1`, `FDNAME=`, `FDPOLL=0`: a queue socket or TUN device becoming readable
   * is no reason to drop it). A descriptor already stored is stored once. Returns how
   * many were sent.
   */
  storeFds(fds: readonly { name: string; fd: number }[]): number {
    if (!this.enabled) return 0;
    let n = 0;
    for (const { name, fd } of fds)
      try {
        sendDescriptors(this.socketPath(), `FDSTORE=1\nFDNAME=${name}\nFDPOLL=0\n`, [fd]);
        n++;
      } catch (e) {
        this.onError(new Error(`sd_notify FDSTORE=1 FDNAME=${name}: ${(e as Error).message}`));
      }
    this.sent += n;
    return n;
  }

  /** Asks the service manager to close stored descriptors (a clean stop). */
  removeFds(names: readonly string[]): void {
    if (!this.enabled) return;
    for (const name of names)
      try {
        sendDescriptors(this.socketPath(), `FDSTOREREMOVE=1\nFDNAME=${name}\n`, []);
        this.sent++;
      } catch (e) {
        this.onError(
          new Error(`sd_notify FDSTOREREMOVE=1 FDNAME=${name}: ${(e as Error).message}`),
        );
      }
  }

  private socketPath(): string {
    return this.env.NOTIFY_SOCKET ?? '';
  }

  stopWatchdog(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}

/**
 * The descriptors the service manager passed (sd_listen_fds(3)): `LISTEN_FDS`
 * descriptors from 3 on, named by `LISTEN_FDNAMES`, when `LISTEN_PID` is this process.
 * The variables are removed from `env` (children must not take them for theirs).
 */
export function listenFds(env: NodeJS.ProcessEnv = process.env): { name: string; fd: number }[] {
  const pid = Number(env.LISTEN_PID);
  const n = Number(env.LISTEN_FDS);
  const names = (env.LISTEN_FDNAMES ?? '').split(':');
  delete env.LISTEN_PID;
  delete env.LISTEN_FDS;
  delete env.LISTEN_FDNAMES;
  if (pid !== process.pid || !Number.isInteger(n) || n <= 0 || n > 1024) return [];
  const out: { name: string; fd: number }[] = [];
  for (let i = 0; i < n; i++) out.push({ name: names[i] || 'unknown', fd: 3 + i });
  return out;
}
