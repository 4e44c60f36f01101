/**
 * `tsvs daemon`: the program, and the only module that knows all the parts (nothing
 * but the CLI imports it). It wires the control model and socket, the data plane
 * (the Director), connection sync, health checks and metrics around one engine: it
 * applies the configuration file, serves the control socket (every front end goes
 * through the control model), runs the engine on live packets through the Director,
 * and on SIGTERM keeps its state and capture for the next start (daemon/state.ts; on
 * SIGINT it removes everything it installed) and saves the configuration.
 *
 * Several daemons in different network namespaces do not collide: the netfilter
 * chains and queues are per namespace, and the default socket and state paths get the
 * namespace's name (`/run/tsvs/netns/NAME/control.sock`, `/var/lib/tsvs/netns/NAME/…`).
 */
import { createLogger, lineLogger } from './log.js';
import { listenFds, Notifier } from './notify.js';
import { Configurator, runReload } from './reload.js';
import { renameSync } from 'node:fs';
import { Director } from '../dataplane/director.js';
import { copyDescriptor } from '../dataplane/native-fds.js';
import { SyncDaemons } from '../sync/daemon.js';
import { HealthManager } from '../health/manager.js';
import type { Server } from 'node:http';
import { currentNetnsName } from '../sys/netns.js';
import { Engine } from '../engine/engine.js';
import { startDaemonControl, type DaemonControl } from '../control/daemon.js';
import { statePath } from '../control/persist.js';
import { controlPath } from '../control/client.js';
import { registerFtp } from '../engine/app/index.js';
// the dashboard and the metrics exporter are loaded when asked for: a restart's
// successor reads what the capture held before it loads what it does not need
import type { WebServer } from '../web/server.js';
import { dirname, join } from 'node:path';
import { restoreStateFile, shutdown, type StopHow } from './state.js';
import { Journal, restoreJournal } from './journal.js';
import { Handover, Successor } from './takeover.js';
import { takeHeldDescriptors } from './fdhold.js';
import { Phases, wallAt } from './phases.js';
import { loadNative } from '../dataplane/native.js';
import {
  evaluateReadiness,
  parseVipTarget,
  serviceReadiness,
  type ReadinessSources,
} from './ready.js';
import {
  VrrpFifo,
  VrrpTracker,
  parseVrrpNotifyArgs,
  readVrrpEvents,
  vrrpStateDir,
} from './vrrp.js';
import { ControlError } from '../control/model.js';
import { Workers, workersListings, workersRefused } from './workers.js';

export interface DaemonArgs {
  /** Configuration file: ipvsadm rules (`ipvsadm -S` format) or a tsvs JSON config. */
  config?: string;
  /** Control socket path. */
  control?: string;
  /** State file (null: do not persist). */
  state?: string | null;
  /** Instance name for the netfilter chains. */
  name?: string;
  queueIn?: number;
  queueOut?: number;
  /**
   * Control ports of the FTP helper for NAT services (the kernel's `ip_vs_ftp ports=`);
   * default [21]. At most 8; 0 entries are skipped, so [0] turns the helper off.
   */
  ftpPorts?: readonly number[];
  /** Fast-path steering (tc filters into TUN devices); default on unless TSVS_STEER=0. */
  steer?: boolean;
  /** Established flows forwarded in the kernel (tc BPF); default on unless TSVS_FASTPATH=0. */
  fastpath?: boolean;
  /** Serve Prometheus metrics at http://HOST:PORT/metrics (`[::1]:9101`, `9101` = 127.0.0.1). */
  metrics?: string;
  /** keepalived.conf whose virtual servers are created and health-checked by the daemon. */
  keepalived?: string;
  /** Serve the dashboard at http://HOST:PORT/ (`8080` = 127.0.0.1:8080). */
  web?: string;
  /** The dashboard's token (default: generated as web.token beside the control socket). */
  webTokenFile?: string;
  /** Start even when a configuration file has problems (default: they are fatal). */
  ignoreConfigErrors?: boolean;
  /**
   * Where the run-time state lives (the state a SIGTERM saves, the crash-recovery
   * journal); default the control socket's directory; null (and `state: null`) keeps
   * nothing: SIGTERM then removes everything, as SIGINT does.
   */
  runDir?: string | null;
  /** Keep the crash-recovery journal (default on when there is a run directory). */
  journal?: boolean;
  /** Take over from the daemon running on the control socket (daemon/takeover.ts). */
  takeover?: boolean;
  /**
   * The sync daemons follow the VRRP role on this interface (docs/ha.md): the daemon
   * starts as a sync backup and keepalived's notifications switch master/backup.
   */
  syncInterface?: string;
  /** Sync id of those daemons (default 0). */
  syncId?: number;
  /** Only this VRRP instance or group drives the sync role. */
  syncFollow?: string;
  /** Period of the sync master's full pass over its table in ms (0: none). */
  syncFullPassMs?: number;
  /** How long a (re)started director learns its table from sync, ms. */
  syncLearnMs?: number;
  /** Read keepalived's vrrp_notify_fifo here. */
  vrrpNotifyFifo?: string;
  /** Data-plane workers (daemon/workers.ts; default 1: the daemon's thread alone). */
  workers?: number;
  log?: (line: string) => void;
}

/** Default paths for this network namespace (env overrides win). */
export function defaultPaths(env: NodeJS.ProcessEnv = process.env): {
  control: string;
  state: string;
} {
  return { control: controlPath(env), state: statePath(env) };
}

function describe(engine: Engine): string {
  const n = engine.services.length;
  const d = engine.services.reduce((a, s) => a + s.dests.length, 0);
  const svcs = engine.services
    .slice(0, 4)
    .map((s) => s.toString())
    .join(', ');
  return `${n} service(s), ${d} real server(s)${n ? `: ${svcs}${n > 4 ? ', …' : ''}` : ''}`;
}

/** `PORT`, `HOST:PORT` or `[IPv6]:PORT` (a bare port listens on 127.0.0.1). */
export function parseHostPort(text: string): { host: string; port: number } | null {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s]+)):(\d+)$/.exec(text) ?? /^()()(\d+)$/.exec(text);
  if (!m) return null;
  const port = Number(m[3]);
  if (!Number.isInteger(port) || port < 1 || port > 65535) return null;
  return { host: m[1] || m[2] || '127.0.0.1', port };
}

/** Run until SIGINT/SIGTERM. Returns the exit status. */
export async function runDaemon(args: DaemonArgs = {}): Promise<number> {
  const phases = new Phases();
  phases.mark('main');
  const logger = args.log ? lineLogger(args.log) : createLogger();
  const log = logger.line;
  const notifier = new Notifier({ onError: (e) => logger.warn(e.message) });
  // the capture's descriptors the service manager kept across a restart (FDSTORE)
  const inherited = listenFds();
  // SIGHUP's default would end the process: from the first moment it means "reload"
  let reload: (() => Promise<unknown>) | null = null;
  let hupDuringStart = false;
  const onHup = (): void => void (reload ? reload() : (hupDuringStart = true));
  process.on('SIGHUP', onHup);
  try {
    Director.preflight();
  } catch (e) {
    log((e as Error).message);
    return 1;
  }
  phases.mark('native');
  const paths = defaultPaths();
  const control = args.control ?? paths.control;
  const state = args.state === undefined ? paths.state : args.state;
  const ns = currentNetnsName();
  const runDir = args.runDir !== undefined ? args.runDir : state === null ? null : dirname(control);
  const nWorkers = args.workers ?? 1;
  const refused = workersRefused(nWorkers, args);
  if (refused) {
    log(refused);
    return 1;
  }
  let workers: Workers | null = null;
  const director = new Director({
    shard: nWorkers > 1 ? { id: 0, count: nWorkers } : undefined,
    name: args.name ?? (ns ? ns : 'main'),
    queueIn: args.queueIn,
    queueOut: args.queueOut,
    steer: args.steer,
    fastpath: args.fastpath,
    log,
  });
  const engine = director.engine;
  // connection sync between directors (ipvsadm --start-daemon), spec §12
  const sync = new SyncDaemons(engine, log, {
    fullPassMs: args.syncFullPassMs,
    learnMs: args.syncLearnMs,
  });
  // readiness (daemon/ready.ts): data plane running, configuration applied, not learning
  let dataPlane = false;
  let configured = false;
  let vrrp: VrrpTracker | null = null;
  let fifo: VrrpFifo | null = null;
  // bound at conn creation, so before any traffic (as loading ip_vs_ftp does)
  try {
    const ftp = registerFtp(engine, nWorkers > 1 ? [] : (args.ftpPorts ?? [21]));
    if (ftp.ports.length) log(`FTP helper on port(s) ${ftp.ports.join(', ')}`);
  } catch (e) {
    log((e as Error).message);
    return 1;
  }
  // Changes are applied to the data plane one after another (a burst coalesces into one
  // rule rebuild per wake-up); a request that changed something is answered once the
  // apply chain, with whatever joined it meanwhile, is done — during the start (the
  // control socket answers from before the capture is installed) only after it.
  let dataPlaneStarted!: () => void;
  let applying = new Promise<void>((r) => (dataPlaneStarted = r));
  const applied = async (): Promise<void> => {
    for (let p = applying; ; p = applying) if ((await p, p === applying)) return;
  };
  let queued = false;
  let ctl: DaemonControl;
  // SIGHUP and `tsvs reload`: answered once the data plane carries the result
  const reloadNow = (): ReturnType<typeof runReload> =>
    runReload({ configurator, notifier, settle: () => settle() });
  const settle = async (): Promise<void> => {
    await applied();
    await ctl.persister?.commit();
  };
  let stopAs: (how: StopHow, why: string) => void = () => undefined;
  let journal: Journal | null = null;
  const handover = new Handover({
    engine,
    park: (keep) => {
      dataPlane = false;
      director.park(keep);
      journal?.stop(false);
    },
    release: () => director.releaseKept(),
    descriptors: () => director.descriptors(),
    resume: () =>
      director
        .start(() => startJournal())
        .then(() => {
          dataPlane = true;
        }),
    exit: () => stopAs('handed', 'hand-over'),
    log,
  });
  const startJournal = (): void => {
    if (runDir === null || args.journal === false) return;
    journal = new Journal(engine, runDir, log);
    journal.start();
  };
  // its own name: a daemon that was a successor itself unlinks the name it was started
  // with (libuv unlinks a listening socket's path on close) when it exits
  const tempControl = `${control}.takeover.${process.pid}`;
  try {
    ctl = await startDaemonControl(engine, {
      path: args.takeover ? tempControl : control,
      statePath: state,
      onError: (e) => logger.error(e.message),
      // answered when the data plane and the sync sockets carry the change
      afterChange: () =>
        Promise.all([applied(), sync.settled(), workers?.settled()]).then(() => undefined),
      model: {
        sync: {
          start: (d) => {
            if (nWorkers > 1)
              throw new ControlError(
                'start daemon',
                'EOPNOTSUPP',
                `connection sync is not available with --workers ${nWorkers}`,
              );
            sync.start(d);
          },
          stop: (s) => sync.stop(s),
        },
        applied: (cmd, a) => workers?.command(cmd, a),
        shards: nWorkers > 1 ? workersListings(() => workers) : undefined,
        lifecycle: {
          takeover: (phase) => handover.takeover(phase),
          stop: (clean) => setImmediate(() => stopAs(clean ? 'clean' : 'park', 'stop request')),
        },
      },
      // what the kernel forwarded for established flows is in the answer
      beforeRequest: () => director.fastpath.check(),
      handlers: {
        // answered once the state is exported (in slices, while still forwarding)
        takeover: (req) => Promise.resolve(handover.takeover(String(req.phase))),
        reload: () =>
          reload ? reloadNow() : Promise.reject(new Error('the daemon is still starting')),
        ready: (req) => {
          const vip = req.vip;
          if (vip === undefined || vip === null)
            return Promise.resolve(evaluateReadiness(readiness));
          const t = parseVipTarget(String(vip));
          if (typeof t === 'string')
            return Promise.reject(new ControlError('request', 'EINVAL', undefined, t));
          return Promise.resolve(evaluateReadiness(readiness, t));
        },
        vrrpNotify: (req) => {
          const e = parseVrrpNotifyArgs([
            String(req.type),
            String(req.name),
            String(req.state),
            ...(typeof req.priority === 'number' ? [String(req.priority)] : []),
          ]);
          if (typeof e === 'string')
            return Promise.reject(new ControlError('request', 'EINVAL', undefined, e));
          if (!vrrp) return Promise.reject(new Error('the daemon is still starting'));
          vrrp.apply(e);
          return Promise.resolve({ role: vrrp.role() });
        },
      },
    });
  } catch (e) {
    log(`cannot serve the control socket ${control}: ${(e as Error).message}`);
    return 1;
  }
  phases.mark('control');
  // A start that fails undoes what it had started, last first: each part pushes its
  // undo once it runs (one path for every failure; a stop once running is stopAs's).
  const undo: (() => void | Promise<void>)[] = [() => ctl.close()];
  const failStart = async (why?: string): Promise<number> => {
    if (why !== undefined) log(why);
    dataPlaneStarted();
    for (const u of undo.reverse()) await u();
    return 1;
  };
  for (const p of ctl.loadErrors) logger.error(`saved configuration: ${p}`);
  // the health checks of --keepalived (made when the configuration is applied)
  let health: HealthManager | undefined;
  const readiness: ReadinessSources = {
    model: ctl.model,
    phase: () => ({ dataPlane, configured, syncProblem: vrrp?.problem }),
    learning: () => sync.learning(),
    vrrp: () => vrrp?.role() ?? null,
    health: () => health?.status(),
  };
  // the files are validated whole, then applied by difference over the saved state
  const configurator = new Configurator({
    model: ctl.model,
    sources: { config: args.config, keepalived: args.keepalived },
    log: logger,
    ignoreErrors: args.ignoreConfigErrors,
    health: (cfg) => (health = new HealthManager(ctl.model, cfg, log)),
  });
  const problems = await configurator.start();
  phases.mark('config');
  if (problems.length) {
    logger.error(
      `not starting: ${problems.length} configuration problem(s) (--ignore-config-errors starts anyway)`,
    );
    return failStart();
  }
  // the state of the previous run (a planned stop's file, else the crash journal, or
  // the running daemon's on --takeover) is restored before the first packet is read
  let successor: Successor | null = null;
  // when the old daemon stopped reading (a hand-over), for the log
  let parkedAt = NaN;
  try {
    // nothing to take over from (not running, or crashed): start like any start
    if (args.takeover)
      successor = await Successor.connect(control).catch((e: Error) => {
        log(`--takeover: ${e.message}; starting on its own`);
        return null;
      });
    if (inherited.length) {
      director.adoptDescriptors(inherited);
      log(
        `the service manager kept ${inherited.length} capture descriptor(s): ${inherited.map((f) => f.name).join(', ')}`,
      );
    } else if (!successor && runDir !== null) {
      // a planned stop without a service manager left them with a holder (fdhold.ts)
      const held = takeHeldDescriptors(runDir, copyDescriptor, (fd) => loadNative().close(fd), log);
      if (held.length) {
        director.adoptDescriptors(held);
        log(
          `took ${held.length} held capture descriptor(s) over: ${held.map((f) => f.name).join(', ')}`,
        );
      }
    }
    await director.start(async () => {
      phases.mark('hops');
      const now = Date.now();
      if (successor) {
        const s = await successor.receive(engine, () => Date.now(), copyDescriptor);
        director.adoptDescriptors(s.fds);
        parkedAt = s.parkedAt;
        log(
          `hand-over: took ${s.conns} connection(s), ${s.templates} template(s) and ${s.fds.length} capture descriptor(s) over in ${s.ms} ms` +
            ` (old daemon: export ${s.exportMs} ms; here: ` +
            (Number.isFinite(s.bulkMs)
              ? `bulk import ${s.bulkMs} ms while it forwarded, delta of ${s.delta} conn(s) imported in ${s.importMs} ms)`
              : `import ${s.importMs} ms)`) +
            (s.why ? ` (copying descriptors: ${s.why})` : ''),
        );
      } else if (runDir !== null && !restoreStateFile(engine, runDir, now, log))
        restoreJournal(engine, runDir, now, log);
      phases.mark('state');
      // attached right after this returns: the first packets are read in the next turn
      setImmediate(() => phases.mark('reading'));
      startJournal();
    });
    phases.mark('rules');
    if (successor) await successor.confirm(tempControl);
    else if (args.takeover) renameSync(tempControl, control);
    if (nWorkers > 1) {
      workers = await Workers.start(
        {
          count: nWorkers,
          name: director.name,
          netns: director.netns,
          queueIn: args.queueIn,
          queueOut: args.queueOut,
          steer: args.steer,
          snapshot: ctl.model.snapshot(),
        },
        log,
      );
      log(`${nWorkers} data-plane workers, flows shared by the client's port`);
    }
    dataPlane = true;
  } catch (e) {
    log(`cannot start the data plane: ${(e as Error).message}`);
    await workers?.stop('clean');
    if (successor) {
      director.park();
      await successor.abort();
    } else director.stop();
    return failStart();
  }
  undo.push(() => director.stop());
  // keepalived's VRRP role; with --sync-interface the sync daemons follow it, and a
  // director that knows of no MASTER rejoins as backup and learns its table
  vrrp = new VrrpTracker({
    model: ctl.model,
    sync: args.syncInterface
      ? { mcastIfn: args.syncInterface, syncId: args.syncId, follow: args.syncFollow }
      : undefined,
    log,
  });
  vrrp.start(readVrrpEvents(vrrpStateDir(dirname(control))));
  if (args.vrrpNotifyFifo) {
    try {
      const t = vrrp;
      fifo = new VrrpFifo(args.vrrpNotifyFifo, (e) => t.apply(e), log);
      fifo.start();
      log(`vrrp: reading keepalived's notify FIFO ${args.vrrpNotifyFifo}`);
    } catch (e) {
      return failStart(`--vrrp-notify-fifo: ${(e as Error).message}`);
    }
  }
  let metrics: Server | undefined;
  if (args.metrics) {
    const at = parseHostPort(args.metrics);
    if (!at) {
      return failStart(`--metrics ${args.metrics}: expected PORT, HOST:PORT or [IPv6]:PORT`);
    }
    try {
      const { createMetrics, fastpathReport, serveMetrics } =
        await import('../metrics/prometheus.js');
      const model = ctl.model;
      const exporter = createMetrics({
        model,
        txErrors: () => director.txErrors,
        steered: () => director.steered,
        fastpath: () => fastpathReport(director.fastpath),
        captureDrops: () => director.captureDrops,
        synCookies: () => director.synCookies.state,
        sync: () => sync.all(),
        health: () => health?.status(),
        ready: () => ({
          ready: evaluateReadiness(readiness).ready,
          learning: sync.learning().learning,
          services: serviceReadiness(readiness),
        }),
        vrrp: () => vrrp?.list() ?? [],
      });
      metrics = await serveMetrics(at.host, at.port, exporter);
      log(
        `metrics at http://${at.host.includes(':') ? `[${at.host}]` : at.host}:${at.port}/metrics`,
      );
    } catch (e) {
      return failStart(`cannot serve metrics on ${args.metrics}: ${(e as Error).message}`);
    }
  }
  const queueApply = (): void => {
    if (queued) return;
    queued = true;
    applying = applying.then(async () => {
      await new Promise((r) => setImmediate(r));
      queued = false;
      try {
        journal?.configChanged();
        await director.configChanged();
        log(`configuration changed: ${describe(engine)}`);
      } catch (e) {
        log(`applying the configuration: ${(e as Error).message}`);
      }
    });
  };
  ctl.model.onChange(queueApply);
  queueApply(); // what changed while the data plane started
  dataPlaneStarted();
  if (metrics) {
    const m = metrics;
    undo.push(() => void m.close());
  }
  // after the data plane follows the model: the checker's changes reach it
  configurator.startHealth();
  undo.push(() => configurator.stop());
  reload = reloadNow;
  if (hupDuringStart) void reload();
  let web: WebServer | undefined;
  if (args.web) {
    try {
      const { startDashboard } = await import('../web/server.js');
      web = await startDashboard({
        listen: args.web,
        tokenFile: args.webTokenFile ?? join(dirname(control), 'web.token'),
        model: ctl.model,
        log,
        afterChange: applied,
        extra: {
          health: () => health?.status() ?? [],
          sync: () => sync.all(),
          txErrors: () => director.txErrors,
          vrrp: () => vrrp?.role() ?? null,
          captureDrops: () => director.captureDrops,
        },
      });
    } catch (e) {
      return failStart((e as Error).message);
    }
  }
  phases.mark('running');
  const dark = Number.isFinite(parkedAt) ? wallAt(phases.at('reading')) - parkedAt : NaN;
  // ready once the data plane carries the configuration (rules and devices in place)
  await applied();
  // kept by the service manager across a restart: the capture holds packets meanwhile
  const stored = director.descriptors();
  notifier.storeFds(stored);
  configured = true;
  log(
    `start-up phases (ms since the process started, +since the previous): ${phases.describe()}` +
      (Number.isFinite(dark)
        ? `; packets not read for ${dark.toFixed(0)} ms (old daemon stopped reading → this one read)`
        : ''),
  );
  log(
    `daemon running${ns ? ` in netns ${ns}` : ''}: control ${control}, queues ${director.queueIn}/${director.queueOut}, ${director.captureDescription}, ${describe(engine)}`,
  );
  await notifier.ready(`running: ${describe(engine)}`);
  notifier.startWatchdog();
  return new Promise<number>((resolve) => {
    let stopping = false;
    stopAs = (how: StopHow, why: string): void => {
      if (stopping) return;
      stopping = true;
      dataPlane = false;
      fifo?.stop();
      log(
        `${why}: stopping${how === 'park' && runDir !== null ? ' (state kept for the next start)' : ''}`,
      );
      shutdown(
        {
          engine,
          director,
          journal,
          runDir,
          // under a service manager its descriptor store keeps them
          holdDescriptors: !notifier.enabled,
          stopSides: () => {
            void notifier.stopping();
            // keepalived's own stop (lvs_flush_on_stop, omega) only when really stopping;
            // a restart or hand-over keeps what the checkers installed
            if (how === 'clean') {
              configurator.stop();
              notifier.removeFds(stored.map((f) => f.name));
            } else health?.stop();
            metrics?.close();
            void web?.close();
            sync.stopAll();
            void workers?.stop(how === 'clean' ? 'clean' : 'park');
          },
          log,
        },
        how,
      );
      void applying
        .then(() => ctl.close())
        .then(
          () => resolve(0),
          () => resolve(0),
        )
        .then(() => {
          // everything is saved and closed: a next-hop lookup still in flight must not
          // delay the exit (a restart's successor starts when this process is gone)
          setTimeout(() => process.exit(0), 50).unref();
        });
    };
    // SIGTERM (systemd's stop and restart) keeps state and capture; SIGINT removes all
    process.once('SIGINT', () => stopAs('clean', 'SIGINT'));
    process.once('SIGTERM', () => stopAs('park', 'SIGTERM'));
  });
}
