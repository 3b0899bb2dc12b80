/**
 * The one store interface. Every place that reads or writes embeddings (index, search,
 * compete, eval, tune, dedup, serve, workers) goes through a VectorStore, whatever keeps the
 * vectors: a folder of append-only segments (src/store/folder), PGlite or a Postgres server
 * with pgvector (src/store/pg). `openStore` (src/store/open-store.ts) picks the implementation from
 * the location: `postgres://...`, `pglite:DIR`, or a plain folder path.
 *
 * Contract (every implementation, tested by tests/fast/store-contract.test.ts):
 * - Vectors are float32, L2-normalised, `dim` wide; ids are unique non-empty strings.
 * - `write` is atomic and durable: after it resolves, a crash or kill -9 leaves the new state;
 *   a crash before it resolves leaves the previous state. Never a mix.
 * - `scan` yields every live item exactly once, ordered by id (stable, so rankings and
 *   submissions do not depend on the store).
 * - `search` returns exact cosine scores, ties broken by id order; approximate candidates
 *   (HNSW) are re-scored exactly before they are returned. With a `filter` it ranks only the
 *   matching items and returns min(k, matches) results, the same ranking as exact search over
 *   the matches (up to ANN recall).
 * - Fields are typed per store (`fieldSchema`): a value of another type than the field's is an
 *   error at `write`.
 * - A store opened with `{ write: true }` holds the writer lock until `close`; a second writer
 *   fails at once naming the holder; a lock left by a dead process is taken over.
 */
import type { EmbeddingSource } from '../models/compat.ts';
import type { AnnDtype, AnnMode } from './ann-mode.ts';
import type { FieldSchema, Fields, FilterNode } from '../data/field-types.ts';

/** Store-wide metadata, fixed when the store is created (except counts and dates). */
export interface StoreMeta extends EmbeddingSource {
  dim: number;
  /** Absolute path (or URL) of the indexed source, when one folder was indexed. */
  root?: string;
  created: string;
  updated: string;
}

/** Content record of one indexed file, used for incremental updates. */
export interface FileRecord {
  sha256: string;
  size: number;
  /** 'api': added through the API (POST /items, Index.add), not from the indexed folder; a re-index of the folder keeps it. */
  origin?: 'api';
}

/** One item to add or replace. */
export interface StoreItem {
  id: string;
  /** dim floats, L2-normalised. */
  vector: Float32Array;
  file?: FileRecord;
  label?: string;
  domain?: string;
  /** What is known about the item (docs/filters.md); never changes scores. */
  fields?: Fields;
}

/** Everything a store keeps about one item except its vector. */
export interface ItemRecord {
  id: string;
  file?: FileRecord;
  label?: string;
  domain?: string;
  fields: Fields;
}

/** One atomic change: upsert these items, remove these ids. */
export interface StoreChange {
  upsert?: StoreItem[];
  remove?: string[];
}

/** A block of items with their vectors (row-major, ids.length x dim). */
export interface VectorBlock {
  ids: string[];
  vectors: Float32Array;
  dim: number;
}

/** One ranked result. */
export interface Hit {
  rank: number;
  id: string;
  score: number;
  /** The item's fields, when the search asked for them (withFields). */
  fields?: Fields;
}

/** Options for VectorStore.search. */
export interface SearchOptions {
  /** Results per query; implementations clamp it to the store's count. */
  k: number;
  /** Per query, an id to leave out of its results (the query itself), or undefined. */
  exclude?: (string | undefined)[];
  /** Approximate search: 'auto' (by gallery size), 'on' or 'off'. Default 'auto'. */
  ann?: 'auto' | 'on' | 'off';
  /** Search depth of the approximate index (HNSW ef). */
  ef?: number;
  /** Drop hits scoring below this cosine. */
  minScore?: number;
  /** Rank only the items this filter matches (parsed by src/data/filter/parse.ts). */
  filter?: FilterNode;
}

/** What VectorStore.warm keeps in memory. */
export interface WarmOptions {
  /** False: only what every search reads (the folder store's id blocks), not the rows exact searches read (an ANN server). Default true. */
  exact?: boolean;
}

/** Options for VectorStore.prepareAnn. */
export interface PrepareAnnOptions {
  /** Same rule as SearchOptions.ann: prepare only when a search in this mode would use the graph. Default 'auto'. */
  ann?: AnnMode;
  /** Vector storage of the graph when it is built (a saved graph of another dtype is rebuilt). */
  dtype?: AnnDtype;
  /** Told once when a graph is built or brought up to date (a stderr line in the CLI). */
  onNote?: (msg: string) => void;
  /** Query rows of the one search this prepares for ('auto' then weighs both paths: chooseAnn); unset for a long-lived process. */
  queries?: number;
}

/** Options for openStore. */
export interface OpenOptions {
  /** Take the writer lock (index, compact, serve with writes, workers). */
  write?: boolean;
  /** Create the store with this metadata when it does not exist yet. */
  create?: Omit<StoreMeta, 'created' | 'updated'>;
}

/** A store of embeddings; see the contract at the top of this file. */
export interface VectorStore {
  /** Where it lives, as the user wrote it (folder path or URL). */
  readonly location: string;
  /** 'folder', 'pglite' or 'postgres'. */
  readonly kind: string;
  /** Metadata: model, head, dim, dates. */
  meta(): Promise<StoreMeta>;
  /** Number of live items. */
  count(): Promise<number>;
  /** Live ids, sorted. */
  ids(): Promise<string[]>;
  /** Content records by id, for incremental updates. */
  files(): Promise<Map<string, FileRecord>>;
  /** Field name -> type of every field written so far (empty when none). */
  fieldSchema(): Promise<FieldSchema>;
  /** Records (file, label, domain, fields) of these ids, in the order given; an unknown id is an error naming it. */
  items(ids: string[]): Promise<ItemRecord[]>;
  /** Whether each id is live, in the order given (an index lookup; nothing else is read). */
  has(ids: string[]): Promise<boolean[]>;
  /** Live ids matching `filter` (all when undefined), sorted. */
  select(filter?: FilterNode): Promise<string[]>;
  /** Vectors of these ids, in the order given; an unknown id is an error naming it. */
  getVectors(ids: string[]): Promise<Float32Array>;
  /** Every live item, in id order, in blocks of at most `blockRows` rows. */
  scan(blockRows?: number): AsyncIterable<VectorBlock>;
  /** Top-k for each query row (row-major, n x dim). */
  search(queries: Float32Array, opts: SearchOptions): Promise<Hit[][]>;
  /**
   * Optional (stores that keep an approximate index beside their vectors): build, load or bring
   * up to date that index now, when a search with `ann` would use it, so later searches do not
   * pay for it. Resolves true when such an index is in use. Stores whose index the database
   * maintains (pgvector HNSW) leave it out.
   */
  prepareAnn?(opts?: PrepareAnnOptions): Promise<boolean>;
  /**
   * Optional: keep what repeated searches read in memory from now on (a long-lived process: a
   * server), within config.cacheMb; `exact: false` keeps only what every search reads, not the
   * rows of exact searches. Resolves when it is ready. Results do not change.
   */
  warm?(opts?: WarmOptions): Promise<void>;
  /** Apply one change atomically and durably (needs `write: true`). */
  write(change: StoreChange): Promise<void>;
  /** Release the lock and any resources. */
  close(): Promise<void>;
}
