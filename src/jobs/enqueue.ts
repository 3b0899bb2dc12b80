/**
 * Queue a source for workers instead of embedding here (`index SRC --store postgres://...
 * --enqueue`). The model is loaded once to learn its dimension and fingerprint, which the store
 * records; workers embed with that model and refuse any other.
 */
import path from 'node:path';
import { embedWithBackbone, type Skipped } from '../embed/pipeline.ts';
import { describeEmbedding, sameEmbedding, type EmbeddingSource } from '../models/compat.ts';
import { openModel } from '../models/open-model.ts';
import { modelChoice, type ModelSettings } from '../models/settings.ts';
import { openPgStore } from '../store/pg/store.ts';
import { redact } from '../store/pg/location.ts';
import { OptionError } from '../util/options.ts';
import { enqueue, listSource, type EnqueueReport } from './job-queue.ts';

/** Options of enqueueFolder. */
export interface EnqueueFolderOptions {
  /** The model (and head) the workers will embed with. */
  model: ModelSettings;
  /** Images per job (default 64). */
  jobSize?: number;
  /** Seconds a claimed job may run before it is retried elsewhere (default 600). */
  jobTimeout?: number;
  /** Retries before a job is parked as failed (default 5). */
  retries?: number;
  /** Seconds before the first retry, doubling after (default 5). */
  retryDelay?: number;
  /** Fail (after queueing what could be read) when any file was skipped. */
  strict?: boolean;
  onSkip?: (s: Skipped) => void;
}

/** What enqueueFolder did, with the store it queued on (credentials hidden). */
export interface EnqueueFolderReport extends EnqueueReport {
  store: string;
  index: string;
}

/** Create or check the Postgres store, queue new and changed images of `source` as jobs, delete vanished ones. */
export async function enqueueFolder(source: string, location: string, o: EnqueueFolderOptions): Promise<EnqueueFolderReport> {
  const { backbone, head } = await openModel(modelChoice(o.model));
  const now: EmbeddingSource = { model: { name: backbone.name, fingerprint: backbone.fingerprint, spec: backbone.spec } };
  if (head) now.head = { file: path.resolve(head.file), fingerprint: head.fingerprint };
  // One image tells the dimension (and proves the model runs) before anything is created.
  let dim = 0;
  try {
    for (const it of listSource(source)) {
      const r = await embedWithBackbone(backbone, [{ id: it.id, source: it.path }], { head });
      if (r.ids.length) {
        dim = r.dim;
        break;
      }
    }
  } finally {
    await backbone.dispose();
    await head?.dispose();
  }
  if (!dim) throw new Error(`${source}: no image could be embedded`);
  const store = await openPgStore(location, { write: true, create: { ...now, dim, root: path.resolve(source) } });
  try {
    const meta = await store.meta();
    if (!sameEmbedding(meta, now)) {
      throw new OptionError(`${location}: the store holds embeddings of ${describeEmbedding(meta)}, not of ${describeEmbedding(now)}; use the same {{model}} and {{head}}, or another ?index=NAME`);
    }
    if (meta.dim !== dim) throw new Error(`${location}: the store is ${meta.dim}-d, the model gives ${dim}-d`);
    const skipped: Skipped[] = [];
    const r = await enqueue(store, {
      source,
      jobSize: o.jobSize,
      jobTimeout: o.jobTimeout,
      retries: o.retries,
      retryDelay: o.retryDelay,
      onSkip: (s) => {
        skipped.push(s);
        o.onSkip?.(s);
      },
    });
    if (o.strict && skipped.length) throw new OptionError(`{{strict}}: ${skipped.length} file(s) skipped`);
    return { ...r, store: redact(store.location), index: store.index };
  } finally {
    await store.close();
  }
}
