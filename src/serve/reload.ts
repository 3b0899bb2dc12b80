/**
 * The served index, swapped atomically on reload. Each request takes a lease on the current
 * generation (index + model + embedding queue) and returns it when done; a reload opens the new
 * generation first, swaps it in, and closes the old one only when its last lease is returned,
 * so requests in flight finish on the index they started with. An index whose own model is not on
 * this machine is still served: everything but image and text queries (which answer 503 naming it). A rebuilt index is noticed by
 * polling manifest.json's stat (follows the path across a --rebuild folder swap) or POST /reload.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Index, loadModelForIndex, Model, openIndex, type AnnDtype, type Runtime, type StoreMeta } from '../api.ts';
import { EmbedQueue, SearchBatcher, type ServeSearchMode } from './batching.ts';
import { HttpError } from './limits.ts';

/** How the server picks its model: flags, or the index's own. */
export interface ModelFlagsForServe {
  model?: string;
  head?: string;
  runtime?: Runtime;
  /** `--ann`, `--ef` for every search; `--ann-dtype` for a graph built when a generation opens. */
  search?: ServeSearchMode & { annDtype?: AnnDtype };
}

/** One opened version of the index with what serves it. */
export interface Generation {
  index: Index;
  meta: StoreMeta;
  /** The image model; undefined when the index's model is not on this machine (see `missing`). */
  model?: Model;
  /** Why image and text queries cannot be answered (the index's model could not be loaded), else undefined. */
  missing?: string;
  queue: EmbedQueue;
  /** Concurrent searches batched into one store.search. */
  searches: SearchBatcher;
  count: number;
  text: boolean;
  /** 1 for the first open, +1 per reload. */
  number: number;
  opened: string;
}

interface Held {
  gen: Generation;
  leases: number;
  retired: boolean;
}

/** A shared model with a user count: closed when the last generation using it is closed. */
interface SharedModel {
  model: Model;
  users: number;
}

/** The live index of a server. */
export class LiveIndex {
  private held!: Held;
  private models = new Map<Model, SharedModel>();
  private chain: Promise<unknown> = Promise.resolve();
  private watching?: string;
  private lastStat?: string;
  private count = 0;

  private constructor(
    readonly location: string,
    private readonly flags: ModelFlagsForServe,
    private readonly queueLimit: number,
    private readonly log: (line: string) => void,
  ) {}

  /** Open the index and its model. */
  static async open(location: string, flags: ModelFlagsForServe, queueLimit: number, log: (line: string) => void): Promise<LiveIndex> {
    const live = new LiveIndex(location, flags, queueLimit, log);
    live.held = { gen: await live.openGeneration(undefined), leases: 0, retired: false };
    live.lastStat = live.manifestStat();
    return live;
  }

  /** The current generation (for reads that need no lease, like /info). */
  get current(): Generation {
    return this.held.gen;
  }

  /** Run `fn` on the current generation, holding it open until `fn` settles. */
  async use<T>(fn: (g: Generation) => Promise<T>): Promise<T> {
    const h = this.held;
    h.leases++;
    try {
      return await fn(h.gen);
    } finally {
      h.leases--;
      if (h.retired && h.leases === 0) await this.closeGeneration(h.gen);
    }
  }

  /** Reopen the index from storage and swap it in; one reload at a time. Returns the new generation number. */
  reload(reason: string): Promise<number> {
    const run = this.chain.then(async () => {
      const old = this.held;
      const gen = await this.openGeneration(old.gen);
      this.held = { gen, leases: 0, retired: false };
      this.lastStat = this.manifestStat();
      old.retired = true;
      if (old.leases === 0) await this.closeGeneration(old.gen);
      this.log(`reloaded ${this.location} (${reason}): ${gen.count} items, generation ${gen.number}`);
      return gen.number;
    });
    this.chain = run.catch(() => undefined);
    return run;
  }

  /** Poll manifest.json (folder stores) and reload when it changes. */
  watch(intervalMs = 500): void {
    const file = this.manifestFile();
    if (!file) return;
    this.watching = file;
    fs.watchFile(file, { interval: intervalMs, persistent: false }, () => {
      const now = this.manifestStat();
      if (now === this.lastStat || now === undefined) return;
      this.lastStat = now;
      this.reload('index changed on disk').catch((e) => this.log(`reload failed, still serving generation ${this.held.gen.number}: ${(e as Error).message}`));
    });
  }

  /** Stop watching and close everything (after in-flight requests). */
  async close(): Promise<void> {
    if (this.watching) fs.unwatchFile(this.watching);
    await this.chain;
    this.held.retired = true;
    if (this.held.leases === 0) await this.closeGeneration(this.held.gen);
  }

  private manifestFile(): string | undefined {
    if (/^[a-z][a-z0-9+.-]*:/i.test(this.location) && !/^[a-z]:[\\/]/i.test(this.location)) return undefined;
    return path.join(path.resolve(this.location), 'manifest.json');
  }

  private manifestStat(): string | undefined {
    const f = this.manifestFile();
    if (!f) return undefined;
    const st = fs.statSync(f, { throwIfNoEntry: false });
    return st ? `${st.ino}:${st.size}:${st.mtimeMs}` : undefined;
  }

  private async openGeneration(prev: Generation | undefined): Promise<Generation> {
    const probe = await openIndex(this.location);
    const meta = probe.meta;
    await probe.close();
    // Keep the model when the index still comes from the same model and head.
    let model: Model | undefined;
    let missing: string | undefined;
    if (prev?.model && prev.model.matches(meta)) model = prev.model;
    else {
      try {
        model = await loadModelForIndex(meta, this.flags.model, { head: this.flags.head, runtime: this.flags.runtime }, this.location);
      } catch (e) {
        // A model named by --model must load; the index's own model may be absent: everything
        // that needs no model is still served.
        if (this.flags.model !== undefined) throw e;
        missing = `image and text queries need the index's model ${meta.model.name}, which cannot be loaded here; restart serve with --model PATH to a copy of it (${(e as Error).message})`;
        this.log(`model ${meta.model.name} not available: serving searches by id and vector, filters, browsing and thumbnails; image and text queries answer 503 (${(e as Error).message})`);
      }
    }
    if (model) {
      const shared = this.models.get(model) ?? { model, users: 0 };
      shared.users++;
      this.models.set(model, shared);
    }
    let index: Index | undefined;
    try {
      // Without a model, openIndex gets none, so a text query never tries to load the missing one.
      index = await openIndex(this.location, { model, runtime: this.flags.runtime });
      const mode = this.flags.search ?? {};
      // The ANN graph is loaded (or built and saved) now, not by the first query.
      await index.prepareAnn({ ann: mode.ann, annDtype: mode.annDtype, onNote: this.log });
      // Exact searches (every one with --ann off; filtered or small ones otherwise) read memory,
      // not disk; with --ann on only what every search reads (the id blocks) is read now.
      await index.warm({ exact: mode.ann !== 'on' });
      const text = model ? await index.hasText() : false;
      const embedModel = async () => {
        if (!model) throw new HttpError(503, missing!);
        return model;
      };
      return { index, meta: index.meta, model, missing, queue: new EmbedQueue(embedModel, this.queueLimit, this.flags.runtime?.batchSize ?? 16), searches: new SearchBatcher(index, 64, { ann: mode.ann, ef: mode.ef, rerank: mode.rerank }), count: await index.count(), text, number: ++this.count, opened: new Date().toISOString() };
    } catch (e) {
      await index?.close().catch(() => undefined);
      if (model) await this.releaseModel(model);
      throw e;
    }
  }

  private async closeGeneration(g: Generation): Promise<void> {
    await g.index.close();
    if (g.model) await this.releaseModel(g.model);
  }

  private async releaseModel(model: Model): Promise<void> {
    const s = this.models.get(model);
    if (!s) return;
    if (--s.users > 0) return;
    this.models.delete(model);
    await model.close();
  }
}
