/**
 * Image embeddings for the server: requests wait in one bounded queue and are embedded in
 * micro-batches (whatever is waiting when the model frees up, up to `batch`), so concurrent
 * uploads share inference calls. Beyond `limit` waiting or running, a request is refused at
 * once with 503 and Retry-After instead of piling up.
 */
import { embedImages, type Hit, type Model, type VectorStore } from '../api.ts';
import { HttpError } from './limits.ts';

interface Job {
  bytes: Buffer;
  resolve: (v: Float32Array) => void;
  reject: (e: Error) => void;
}

/** A bounded, micro-batching embedding queue over one model. */
export class EmbedQueue {
  private waiting: Job[] = [];
  private running = 0;
  private busy = false;

  constructor(
    private readonly model: () => Promise<Model>,
    readonly limit: number,
    readonly batch = 16,
  ) {}

  /** Jobs waiting or running. */
  get depth(): number {
    return this.waiting.length + this.running;
  }

  /** Embed one image (already checked); rejects with 503 when the queue is full. */
  embed(bytes: Buffer): Promise<Float32Array> {
    if (this.depth >= this.limit) return Promise.reject(new HttpError(503, `busy: ${this.depth} image queries waiting; retry shortly`, { 'retry-after': '1' }));
    return new Promise((resolve, reject) => {
      this.waiting.push({ bytes, resolve, reject });
      void this.pump();
    });
  }

  private async pump(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      while (this.waiting.length) {
        const jobs = this.waiting.splice(0, this.batch);
        this.running = jobs.length;
        try {
          const model = await this.model();
          const r = await embedImages(model, jobs.map((j, i) => ({ id: String(i), source: j.bytes })));
          const row = new Map(r.ids.map((id, i) => [id, i]));
          const why = new Map(r.skipped.map((s) => [s.id, s.reason]));
          jobs.forEach((j, i) => {
            const at = row.get(String(i));
            if (at === undefined) j.reject(new HttpError(422, `cannot decode the image: ${why.get(String(i)) ?? 'unknown error'}`));
            else j.resolve(r.vectors.slice(at * r.dim, (at + 1) * r.dim));
          });
        } catch (e) {
          for (const j of jobs) j.reject(e as Error);
        } finally {
          this.running = 0;
        }
      }
    } finally {
      this.busy = false;
    }
  }
}

interface SearchJob {
  vector: Float32Array;
  k: number;
  exclude?: string;
  resolve: (hits: Hit[]) => void;
  reject: (e: Error) => void;
}

/**
 * Searches arriving together run as one store.search over all their query rows (one scoring pass
 * over the gallery instead of one per request); each gets its own top-k back.
 */
export class SearchBatcher {
  private waiting: SearchJob[] = [];
  private busy = false;

  constructor(
    private readonly store: VectorStore,
    readonly batch = 64,
  ) {}

  /** Top-k for one query vector, leaving `exclude` out. */
  search(vector: Float32Array, k: number, exclude?: string): Promise<Hit[]> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ vector, k, exclude, resolve, reject });
      void this.pump();
    });
  }

  private async pump(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      while (this.waiting.length) {
        const jobs = this.waiting.splice(0, this.batch);
        try {
          const dim = jobs[0].vector.length;
          const queries = new Float32Array(jobs.length * dim);
          jobs.forEach((j, i) => queries.set(j.vector, i * dim));
          const k = Math.max(...jobs.map((j) => j.k));
          const hits = await this.store.search(queries, { k, exclude: jobs.map((j) => j.exclude) });
          jobs.forEach((j, i) => j.resolve((hits[i] ?? []).slice(0, j.k)));
        } catch (e) {
          for (const j of jobs) j.reject(e as Error);
        }
      }
    } finally {
      this.busy = false;
    }
  }
}
