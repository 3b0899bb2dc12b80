/** A worker over a Postgres store's queue (`lookalike worker`) and the queue's status (`lookalike status`). */
import { openModelForIndex } from '../models/open-model.ts';
import { modelChoice, type ModelSettings } from '../models/settings.ts';
import { openPgStore } from '../store/pg/store.ts';
import { toInteger, toNumber } from '../util/options.ts';
import { queueStatus, runWorker, workerName, type QueueStatus, type WorkerOptions } from './job-queue.ts';

/** Options of work. */
export interface WorkOptions extends Pick<WorkerOptions, 'untilEmpty' | 'onJob' | 'onClaim' | 'stop'> {
  /** Checked against the store's model: a worker refuses to write vectors of another fingerprint. */
  model?: ModelSettings;
  /** Jobs processed at once in this process (default 1). */
  concurrency?: number;
  /** Seconds between polls of an empty queue (default 2). */
  pollSeconds?: number;
  /** Told once the model is loaded: this worker's name and the store's model. */
  onStart?: (e: { worker: string; model: string; fingerprint: string; concurrency: number }) => void;
}

/** What a worker did before it stopped. */
export interface WorkReport {
  worker: string;
  jobs: number;
  images: number;
  failed: number;
  seconds: number;
}

/** Claim embedding jobs from the store's queue and write their vectors until stopped (or, with untilEmpty, until the queue is empty). */
export async function work(location: string, o: WorkOptions = {}): Promise<WorkReport> {
  const concurrency = toInteger(o.concurrency ?? 1, 'concurrency', 1);
  const pollSeconds = o.pollSeconds === undefined ? undefined : toNumber(o.pollSeconds, 'pollSeconds');
  const store = await openPgStore(location, { max: concurrency + 2 });
  try {
    const meta = await store.meta();
    const { backbone, head } = await openModelForIndex(meta, modelChoice(o.model ?? {}), `worker for ${store.index}`);
    const t0 = performance.now();
    try {
      o.onStart?.({ worker: workerName(), model: meta.model.name, fingerprint: meta.model.fingerprint, concurrency });
      const totals = await runWorker(store, { backbone, head, concurrency, untilEmpty: o.untilEmpty, pollSeconds, stop: o.stop, onClaim: o.onClaim, onJob: o.onJob });
      return { worker: workerName(), ...totals, seconds: (performance.now() - t0) / 1000 };
    } finally {
      await backbone.dispose();
      await head?.dispose();
    }
  } finally {
    await store.close();
  }
}

/** The queue of a Postgres store: jobs by state, recent failures, throughput per worker. */
export async function workStatus(location: string): Promise<QueueStatus & { index: string }> {
  const store = await openPgStore(location);
  try {
    return { ...(await queueStatus(store)), index: store.index };
  } finally {
    await store.close();
  }
}
