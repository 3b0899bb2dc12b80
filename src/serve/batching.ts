/**
 * Image embeddings for the server: requests wait in one bounded queue and are embedded in
 * micro-batches (whatever is waiting when the model frees up, up to `batch`), so concurrent
 * uploads share inference calls. Beyond `limit` waiting or running, a request is refused at
 * once with 503 and Retry-After instead of piling up.
 */
import { embedImages, type AnnMode, type Hit, type Index, type Model } from '../api.ts';
import { HttpError } from './limits.ts';

interface Job<I, O> {
  item: I;
  resolve: (v: O) => void;
  reject: (e: Error) => void;
}

/**
 * Requests that arrive while a batch runs wait and go together into the next call of `run`
 * (up to `batch` at a time); `run` returns one result, or an Error, per item.
 */
class MicroBatcher<I, O> {
  private waiting: Job<I, O>[] = [];
  private running = 0;
  private busy = false;

  constructor(
    private readonly run: (items: I[]) => Promise<(O | Error)[]>,
    readonly batch: number,
  ) {}

  /** Items waiting or running. */
  get depth(): number {
    return this.waiting.length + this.running;
  }

  /** Queue one item; resolves with its own result. */
  submit(item: I): Promise<O> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ item, resolve, reject });
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
          const out = await this.run(jobs.map((j) => j.item));
          jobs.forEach((j, i) => {
            const r = out[i];
            if (r instanceof Error) j.reject(r);
            else j.resolve(r);
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

/** A bounded, micro-batching embedding queue over one model. */
/** An embedded image query; `noFace` when the model crops faces (`--crop face`) and none was found (the whole image was embedded). */
export interface EmbeddedQuery {
  vector: Float32Array;
  noFace: boolean;
}

export class EmbedQueue {
  private readonly batcher: MicroBatcher<Buffer, EmbeddedQuery>;

  constructor(
    private readonly model: () => Promise<Model>,
    readonly limit: number,
    readonly batch = 16,
  ) {
    this.batcher = new MicroBatcher((images) => this.embedBatch(images), batch);
  }

  /** Jobs waiting or running. */
  get depth(): number {
    return this.batcher.depth;
  }

  /** Embed one image (already checked); rejects with 503 when the queue is full. */
  embed(bytes: Buffer): Promise<EmbeddedQuery> {
    if (this.depth >= this.limit) return Promise.reject(new HttpError(503, `busy: ${this.depth} image queries waiting; retry shortly`, { 'retry-after': '1' }));
    return this.batcher.submit(bytes);
  }

  private async embedBatch(images: Buffer[]): Promise<(EmbeddedQuery | Error)[]> {
    const model = await this.model();
    const r = await embedImages(model, images.map((bytes, i) => ({ id: String(i), source: bytes })));
    const row = new Map(r.ids.map((id, i) => [id, i]));
    const why = new Map(r.skipped.map((s) => [s.id, s.reason]));
    const noFace = new Set(r.noFace ?? []);
    return images.map((_, i) => {
      const at = row.get(String(i));
      return at === undefined ? new HttpError(422, `cannot decode the image: ${why.get(String(i)) ?? 'unknown error'}`) : { vector: r.vectors.slice(at * r.dim, (at + 1) * r.dim), noFace: noFace.has(String(i)) };
    });
  }
}

interface SearchRequest {
  vector: Float32Array;
  k: number;
  exclude?: string;
  /** ANN search depth for this request (default: the batcher's). */
  ef?: number;
}

/** How a server searches: `--ann`, `--ef` and `--rerank` (passed to Index.searchVectors). */
export interface ServeSearchMode {
  ann?: AnnMode;
  ef?: number;
  rerank?: string;
}

/**
 * Searches arriving together run as one Index.searchVectors over all their query rows (one scoring pass
 * over the gallery instead of one per request); each gets its own top-k back.
 */
export class SearchBatcher {
  private readonly batcher: MicroBatcher<SearchRequest, Hit[]>;

  constructor(
    private readonly index: Index,
    readonly batch = 64,
    readonly mode: ServeSearchMode = {},
  ) {
    this.batcher = new MicroBatcher((reqs) => this.searchBatch(reqs), batch);
  }

  /** Top-k for one query vector, leaving `exclude` out; `ef` overrides the server's ANN depth. */
  search(vector: Float32Array, k: number, exclude?: string, ef?: number): Promise<Hit[]> {
    return this.batcher.submit({ vector, k, exclude, ef });
  }

  private async searchBatch(reqs: SearchRequest[]): Promise<Hit[][]> {
    // One search per distinct ef among the requests that arrived together.
    const out: Hit[][] = new Array(reqs.length);
    const groups = new Map<number | undefined, number[]>();
    reqs.forEach((q, i) => {
      const ef = q.ef ?? this.mode.ef;
      groups.set(ef, [...(groups.get(ef) ?? []), i]);
    });
    for (const [ef, at] of groups) {
      const dim = reqs[at[0]].vector.length;
      const queries = new Float32Array(at.length * dim);
      at.forEach((r, i) => queries.set(reqs[r].vector, i * dim));
      const k = Math.max(...at.map((r) => reqs[r].k));
      const hits = await this.index.searchVectors(queries, { k, exclude: at.map((r) => reqs[r].exclude), ann: this.mode.ann, ef, rerank: this.mode.rerank });
      at.forEach((r, i) => (out[r] = (hits[i] ?? []).slice(0, reqs[r].k)));
    }
    return out;
  }
}
