/**
 * A data-plane worker thread (daemon/workers.ts): a director of its own over its
 * share of the flows, an engine carrying the daemon's configuration (a snapshot at
 * start, then every command the main thread's model applies, in order), answering
 * listings for the main thread.
 *
 * @module
 */
import { parentPort, workerData } from 'node:worker_threads';
import { ControlModel } from '../control/model.js';
import { Director } from '../dataplane/director.js';
import type { FromWorker, ToWorker, WorkerInit } from './workers.js';

const init = workerData as WorkerInit;
const port = parentPort!;
const post = (m: FromWorker): void => port.postMessage(m);
const log = (line: string): void => post({ t: 'log', line });

const director = new Director({
  name: init.name,
  netns: init.netns,
  queueIn: init.queueIn,
  queueOut: init.queueOut,
  steer: init.steer,
  fastpath: false,
  shard: { id: init.id, count: init.count },
  log,
});
const model = new ControlModel(director.engine);
// sync daemons are the main thread's (and refused with several workers)
for (const e of model.applySnapshot({ ...init.snapshot, daemons: [] })) log(`configuration: ${e}`);

// commands are applied at once; the data plane follows, one rebuild per burst
let applying: Promise<void> = Promise.resolve();
let queued = false;
const follow = (): void => {
  if (queued) return;
  queued = true;
  applying = applying.then(async () => {
    await new Promise((r) => setImmediate(r));
    queued = false;
    await director.configChanged().catch((e: Error) => log(`applying: ${e.message}`));
  });
};

const flag = new Int32Array(init.flag);
init.rpc.on('message', (what: 'services' | 'connections') => {
  director.fastpath.check();
  init.rpc.postMessage(what === 'services' ? model.services() : model.connections());
  Atomics.store(flag, 0, 1);
  Atomics.notify(flag, 0);
});

port.on('message', (m: ToWorker) => {
  if (m.t === 'cmd') {
    try {
      (model[m.m] as (...a: unknown[]) => unknown).apply(model, m.args);
    } catch (e) {
      // the main thread's engine took it: a worker that cannot is out of step
      log(`${m.m} refused here but not by the main engine: ${(e as Error).message}`);
    }
    follow();
  } else if (m.t === 'settle') {
    void applying.then(() => post({ t: 'settled', n: m.n }));
  } else if (m.t === 'stop') {
    void applying.then(() => {
      if (m.how === 'clean') director.stop();
      else director.park();
      init.rpc.close();
      post({ t: 'stopped' });
      port.close();
    });
  }
});

director.start().then(
  () => {
    // a worker reads nothing but its steering devices
    if (director.captureDescription.startsWith('tc steering')) post({ t: 'started' });
    else {
      director.stop();
      post({ t: 'failed', why: 'steering is off (tc, cls_u32 or act_mirred missing?)' });
    }
  },
  (e: Error) => {
    director.stop();
    post({ t: 'failed', why: e.message });
  },
);
