/**
 * `lookalike index SRC --store postgres://... --enqueue`: queue the source for workers instead
 * of embedding here. The model is loaded once to learn its dimension and fingerprint, which
 * the store records; workers embed with that model and refuse any other.
 */
import path from 'node:path';
import type { Command } from 'commander';
import { embedImages } from '../embed/pipeline.ts';
import { enqueue, listSource } from '../jobs/queue.ts';
import { openPgStore } from '../store/pg/store.ts';
import type { EmbeddingSource } from '../models/compat.ts';
import { openModel, parseInteger, printJson, skipReporter, type ModelFlags } from './options.ts';

const fingerprint = (s: EmbeddingSource) => `${s.model.fingerprint}+head:${s.head?.fingerprint ?? 'none'}`;

/** Flags of index --enqueue. */
export interface EnqueueFlags extends ModelFlags {
  enqueue?: boolean;
  jobSize?: string;
  jobTimeout?: string;
  retries?: string;
  retryDelay?: string;
}

/** Add --enqueue and its tuning flags to the index command. */
export function addEnqueueOptions(cmd: Command): Command {
  return cmd
    .option('--enqueue', 'with a postgres:// store: queue the images as jobs for `lookalike worker` instead of embedding here (SRC: a folder all workers mount, or a CSV with a path column)')
    .option('--job-size <n>', 'images per queued job (default 64)')
    .option('--job-timeout <s>', 'seconds a job may run before it is retried on another worker (default 600)')
    .option('--retries <n>', 'retries (with backoff) before a job is parked as failed (default 5)')
    .option('--retry-delay <s>', 'seconds before the first retry, doubling after (default 5)');
}

/** Run index --enqueue: create or check the store, queue new/changed images, delete vanished ones. */
export async function runEnqueue(source: string, location: string, o: EnqueueFlags): Promise<void> {
  const skips = skipReporter(o.json);
  const { backbone, head } = await openModel(o);
  const now: EmbeddingSource = { model: { name: backbone.name, fingerprint: backbone.fingerprint, spec: backbone.spec } };
  if (head) now.head = { file: path.resolve(head.file), fingerprint: head.fingerprint };
  // One image tells the dimension (and proves the model runs) before anything is created.
  let dim = 0;
  for (const it of listSource(source)) {
    const r = await embedImages(backbone, [{ id: it.id, source: it.path }], { head });
    if (r.ids.length) {
      dim = r.dim;
      break;
    }
  }
  await backbone.dispose();
  await head?.dispose();
  if (!dim) throw new Error(`${source}: no image could be embedded`);
  const store = await openPgStore(location, { write: true, create: { ...now, dim, root: path.resolve(source) } });
  try {
    const meta = await store.meta();
    if (fingerprint(meta) !== fingerprint(now)) {
      throw new Error(`${location}: the store holds embeddings of ${meta.model.name} (${meta.model.fingerprint.slice(0, 12)}${meta.head ? ` + head ${meta.head.fingerprint.slice(0, 12)}` : ''}), not of ${now.model.name} (${now.model.fingerprint.slice(0, 12)}${now.head ? ` + head ${now.head.fingerprint.slice(0, 12)}` : ''}); use the same --model/--head or another ?index=NAME`);
    }
    if (meta.dim !== dim) throw new Error(`${location}: the store is ${meta.dim}-d, the model gives ${dim}-d`);
    const r = await enqueue(store, {
      source,
      jobSize: o.jobSize ? parseInteger(o.jobSize, '--job-size', 1) : undefined,
      jobTimeout: o.jobTimeout ? parseInteger(o.jobTimeout, '--job-timeout', 1) : undefined,
      retries: o.retries ? parseInteger(o.retries, '--retries', 0) : undefined,
      retryDelay: o.retryDelay ? parseInteger(o.retryDelay, '--retry-delay', 0) : undefined,
      onSkip: skips.report,
    });
    if (o.json) printJson({ store: store.location.replace(/:[^:@/]*@/, ':***@'), ...r, removed: r.removed.length, removed_ids: r.removed });
    else process.stdout.write(`${store.index}: ${r.listed} listed, ${r.queued} queued in ${r.jobs} jobs on ${r.queue}, ${r.unchanged} unchanged, ${r.removed.length} removed, ${r.skipped.length} skipped; run \`lookalike worker --store ...\` on each machine, \`lookalike status --store ...\` to follow\n`);
    if (o.strict && r.skipped.length) throw new Error(`--strict: ${r.skipped.length} file(s) skipped`);
  } finally {
    await store.close();
  }
}
