/**
 * What the daemon calls to get its control plane: the model over its engine, the
 * saved configuration restored, the control socket served, every change saved.
 *
 * ```ts
 * const ctl = await startDaemonControl(engine);   // $TSVS_CONTROL, $TSVS_STATE
 * ...
 * await ctl.close();
 * ```
 */
import type { Engine } from '../engine/engine.js';
import { controlPath } from './client.js';
import { ControlModel, type ModelOptions } from './model.js';
import { Persister, statePath } from './persist.js';
import { startControlServer, type ControlServer, type ControlServerOptions } from './server.js';

export interface DaemonControlOptions {
  /** Control socket (default {@link controlPath}). */
  path?: string;
  /** Configuration file; null disables persistence (default {@link statePath}). */
  statePath?: string | null;
  model?: ModelOptions;
  /** Told about failed saves and similar background errors. */
  onError?: (e: Error) => void;
  /**
   * Called after a request changed the configuration, with the save; the response
   * waits for both (the daemon passes "the data plane has applied it", so that when
   * an `ipvsadm -a` returns, traffic flows, as with the kernel's IPVS).
   */
  afterChange?: () => Promise<void>;
  /** Commands served by the daemon rather than the model (`reload`). */
  handlers?: ControlServerOptions['handlers'];
  beforeRequest?: ControlServerOptions['beforeRequest'];
}

export interface DaemonControl {
  readonly model: ControlModel;
  readonly server: ControlServer;
  readonly persister: Persister | null;
  /** Items of the saved configuration that could not be restored. */
  readonly loadErrors: string[];
  /** Stop serving, write any pending save. */
  close(): Promise<void>;
}

export async function startDaemonControl(
  engine: Engine,
  opts: DaemonControlOptions = {},
): Promise<DaemonControl> {
  const onError = opts.onError ?? ((e: Error) => process.stderr.write(`tsvs: ${e.message}\n`));
  const model = new ControlModel(engine, opts.model);
  const file = opts.statePath === undefined ? statePath() : opts.statePath;
  let persister: Persister | null = null;
  let loadErrors: string[] = [];
  if (file !== null) {
    persister = new Persister(model, file, onError);
    loadErrors = persister.load().errors;
    persister.start();
  }
  const p = persister;
  const also = opts.afterChange;
  const afterChange =
    p && also
      ? () => Promise.all([p.commit(), also()]).then(() => undefined)
      : p
        ? () => p.commit()
        : also;
  const server = await startControlServer(model, opts.path ?? controlPath(), {
    afterChange,
    onError,
    handlers: opts.handlers,
    beforeRequest: opts.beforeRequest,
  });
  return {
    model,
    server,
    persister,
    loadErrors,
    async close(): Promise<void> {
      await server.close();
      await p?.stop();
    },
  };
}
