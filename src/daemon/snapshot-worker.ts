/**
 * The crash journal's snapshot writer (daemon/journal.ts), run in a worker thread: it
 * receives an exported engine state (its columns transferred, not copied), encodes,
 * hashes and writes it (daemon/state.ts's file format, atomically) and answers when it
 * is on disk — the slow part of a snapshot, kept off the thread that reads packets.
 *
 * @module
 */
import { parentPort } from 'node:worker_threads';
import type { EngineState } from '../engine/state.js';
import { writeEngineState } from './state.js';

/** One request: write `state` to `path` for journal generation `gen`. */
export interface SnapshotJob {
  seq: number;
  path: string;
  gen: number;
  state: EngineState;
}

/** The answer: done, or why not. */
export interface SnapshotDone {
  seq: number;
  ms: number;
  error?: string;
}

parentPort?.on('message', (job: SnapshotJob) => {
  const t0 = performance.now();
  let error: string | undefined;
  try {
    writeEngineState(job.state, job.path, job.gen);
  } catch (e) {
    error = (e as Error).message;
  }
  const done: SnapshotDone = { seq: job.seq, ms: performance.now() - t0, error };
  parentPort?.postMessage(done);
});
