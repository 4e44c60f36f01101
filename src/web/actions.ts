/**
 * What an operator can do from the dashboard, each one an ipvsadm command through the
 * same control model (`ipvsadm -e` with every other field of the real server kept):
 * drain a real server (weight 0: no new connections, the established ones finish),
 * restore it (its last non-zero weight, the kernel's last_weight), quiesce a whole
 * service (every real server at weight 0) and bring it back. Every action is logged
 * with who asked.
 *
 * @module
 */
import {
  ControlError,
  destConfig,
  serviceIdOf,
  type ControlModel,
  type DestEntry,
  type ServiceEntry,
} from '../control/model.js';
import { destKey, hostPort, lastWeights, serviceLabel } from './sample.js';

/** The actions, by the name the page posts to (`POST /api/action/NAME`). */
export const ACTIONS = ['drain', 'restore', 'quiesce', 'unquiesce'] as const;
export type ActionName = (typeof ACTIONS)[number];

/** What an action is asked to act on: labels as the page shows them. */
export interface ActionRequest {
  /** `TCP 10.0.0.1:80`, `FWM 7`. */
  service: string;
  /** `10.0.0.2:80`, `[2001:db8::2]:80`: for drain and restore. */
  server?: string;
}

/** An action refused: an HTTP status and a message for the operator. */
export class ActionError extends Error {
  override readonly name = 'ActionError';
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Parse a request body; throws {@link ActionError} (400) when it is not one. */
export function parseActionRequest(name: string, body: unknown): ActionRequest {
  if (!(ACTIONS as readonly string[]).includes(name))
    throw new ActionError(404, `no action ${JSON.stringify(name)}`);
  if (body === null || typeof body !== 'object' || Array.isArray(body))
    throw new ActionError(400, 'expected a JSON object');
  const b = body as Record<string, unknown>;
  if (typeof b.service !== 'string' || b.service === '')
    throw new ActionError(400, 'service: expected a service label such as "TCP 10.0.0.1:80"');
  const needsServer = name === 'drain' || name === 'restore';
  if (needsServer && (typeof b.server !== 'string' || b.server === ''))
    throw new ActionError(400, 'server: expected a real server such as "10.0.0.2:80"');
  return needsServer ? { service: b.service, server: b.server as string } : { service: b.service };
}

/** Runs the actions on a model; `log` is told of each one done. */
export class Actions {
  constructor(
    private readonly model: ControlModel,
    private readonly log: (line: string) => void,
  ) {}

  private service(label: string): ServiceEntry {
    const s = this.model.services().find((x) => serviceLabel(x) === label);
    if (!s) throw new ActionError(404, `no virtual service ${label}`);
    return s;
  }

  private dest(s: ServiceEntry, server: string): DestEntry {
    const d = s.dests.find((x) => hostPort(x.addr, x.port) === server);
    if (!d) throw new ActionError(404, `no real server ${server} in ${serviceLabel(s)}`);
    return d;
  }

  /** `ipvsadm -e` with only the weight changed. */
  private setWeight(s: ServiceEntry, d: DestEntry, weight: number): void {
    try {
      this.model.editDest(serviceIdOf(s), { ...destConfig(d), weight });
    } catch (e) {
      const ce = ControlError.from(e);
      throw new ActionError(409, `${ce.message}${ce.detail ? ` (${ce.detail})` : ''}`);
    }
  }

  /**
   * Run `name` for `who` (the peer, for the log). Returns what was done, in words;
   * throws {@link ActionError} having changed nothing when the target is unknown (404)
   * or there is nothing to restore (409). A quiesce or unquiesce that the model refuses
   * part-way reports what it did before.
   */
  run(name: ActionName, req: ActionRequest, who: string): string {
    const s = this.service(req.service);
    const label = serviceLabel(s);
    let done: string;
    switch (name) {
      case 'drain': {
        const d = this.dest(s, req.server ?? '');
        if (d.weight === 0) return `${req.server} of ${label} is already drained`;
        this.setWeight(s, d, 0);
        done = `drained ${req.server} of ${label} (weight ${d.weight} → 0)`;
        break;
      }
      case 'restore': {
        const d = this.dest(s, req.server ?? '');
        if (d.weight > 0) return `${req.server} of ${label} is in service (weight ${d.weight})`;
        const w = lastWeights(this.model.engine).get(destKey(label, d)) ?? 0;
        if (w <= 0)
          throw new ActionError(
            409,
            `${req.server} of ${label} never had a weight above 0: set one with tsvsadm -e`,
          );
        this.setWeight(s, d, w);
        done = `restored ${req.server} of ${label} (weight 0 → ${w})`;
        break;
      }
      case 'quiesce': {
        const changed = s.dests.filter((d) => d.weight > 0);
        for (const d of changed) this.setWeight(s, d, 0);
        done = `quiesced ${label} (${changed.length} real server(s) to weight 0)`;
        break;
      }
      case 'unquiesce': {
        const last = lastWeights(this.model.engine);
        const changed: string[] = [];
        for (const d of s.dests) {
          const w = last.get(destKey(label, d)) ?? 0;
          if (d.weight > 0 || w <= 0) continue;
          this.setWeight(s, d, w);
          changed.push(`${hostPort(d.addr, d.port)} → ${w}`);
        }
        done = `restored ${label} (${changed.length ? changed.join(', ') : 'nothing to restore'})`;
        break;
      }
    }
    this.log(`web: ${done} by ${who}`);
    return done;
  }
}
