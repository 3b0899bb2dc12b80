/**
 * The embedding cache: a folder per model fingerprint holding shards, each a pair
 * `<shard>.npy` (float32 [n, dim]) + `<shard>.json` ({model, fingerprint, dim, hashes, skipped,
 * seconds}). Rows are keyed by the sha256 of the image file's bytes, so the same picture under
 * another name or in another dataset is embedded once, and a changed file is embedded again.
 * Shards are only ever added (atomic writes; the .json is written last and is the commit mark, so
 * a crash leaves at most an orphan .npy that readers ignore). Nothing here deletes files.
 * The .json holds the sha256 of its .npy, checked on every read: a shard that fails the check (or
 * does not parse) is not used, is renamed aside (`.corrupt`) and reported, and its images are
 * embedded again.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { decodeNpy, encodeNpy } from '../util/npy.ts';
import { writeFileAtomic } from '../util/atomic.ts';
import { hashFile } from '../util/hash.ts';
import { readJson } from '../util/json.ts';

/** The commit record of one shard. */
export interface ShardMeta {
  format: 'lookalike-embedding-cache';
  version: 1;
  model: string;
  fingerprint: string;
  dim: number;
  /** Content hash of each row's image, in row order. */
  hashes: string[];
  /** Images that could not be decoded: content hash -> reason (not retried). */
  skipped: Record<string, string>;
  /** Seconds spent embedding this shard's images, and how many there were (for images/s). */
  seconds: number;
  images: number;
  created: string;
  /** sha256 of the shard's .npy bytes (shards written before checksums have none and are read unchecked). */
  npySha256?: string;
}

/** A shard that could not be used, and why. */
export interface CorruptShard {
  file: string;
  reason: string;
}

/** Cached rows of one model, looked up by content hash. */
export class EmbeddingCache {
  private rows = new Map<string, Float32Array>();
  private skips = new Map<string, string>();
  /** Embedding seconds and images over every shard (throughput when the cache was filled). */
  seconds = 0;
  images = 0;
  dim = 0;
  /** Shards found corrupt when the cache was opened (renamed aside; their images are embedded again). */
  readonly corrupt: CorruptShard[] = [];

  private constructor(readonly dir: string, readonly fingerprint: string) {}

  /** Open (and read) the cache folder of one model fingerprint under `root`. */
  static open(root: string, fingerprint: string): EmbeddingCache {
    const c = new EmbeddingCache(path.join(root, fingerprint.slice(0, 32)), fingerprint);
    c.load();
    return c;
  }

  private load(): void {
    if (!fs.existsSync(this.dir)) return;
    for (const f of fs.readdirSync(this.dir).sort()) {
      if (!f.endsWith('.json')) continue;
      const metaFile = path.join(this.dir, f);
      const npyFile = metaFile.replace(/\.json$/, '.npy');
      let meta: ShardMeta;
      let m: ReturnType<typeof decodeNpy>;
      try {
        meta = readJson(metaFile) as ShardMeta;
        if (meta.format !== 'lookalike-embedding-cache' || !Array.isArray(meta.hashes)) throw new Error('not a cache shard record');
        if (meta.fingerprint !== this.fingerprint) throw new Error(`${metaFile}: not a cache shard of model fingerprint ${this.fingerprint.slice(0, 12)}`);
        const bytes = fs.readFileSync(npyFile);
        if (meta.npySha256 !== undefined) {
          const sum = createHash('sha256').update(bytes).digest('hex');
          if (sum !== meta.npySha256) throw new Error(`checksum mismatch (sha256 ${sum.slice(0, 12)}, recorded ${meta.npySha256.slice(0, 12)})`);
        }
        m = decodeNpy(bytes, npyFile);
        if (m.rows !== meta.hashes.length || (m.rows > 0 && m.cols !== meta.dim)) throw new Error(`[${m.rows}, ${m.cols}] but the record lists ${meta.hashes.length} rows of ${meta.dim}`);
      } catch (e) {
        // A shard of another model is a misplaced folder, not corruption: say so and stop.
        if (/not a cache shard of model fingerprint/.test((e as Error).message)) throw e;
        this.setAside(metaFile, npyFile, (e as Error).message.split('\n')[0]);
        continue;
      }
      if (this.dim && meta.dim && meta.dim !== this.dim) throw new Error(`${metaFile}: dim ${meta.dim} differs from other shards (${this.dim})`);
      if (meta.dim) this.dim = meta.dim;
      meta.hashes.forEach((h, i) => this.rows.set(h, m.data.subarray(i * meta.dim, (i + 1) * meta.dim)));
      for (const [h, why] of Object.entries(meta.skipped)) this.skips.set(h, why);
      this.seconds += meta.seconds;
      this.images += meta.images;
    }
  }

  /** Rename a bad shard's files aside (`NAME.corrupt`) so it is reported once; nothing is deleted. */
  private setAside(metaFile: string, npyFile: string, reason: string): void {
    for (const f of [metaFile, npyFile]) {
      try {
        if (fs.existsSync(f)) fs.renameSync(f, `${f}.corrupt`);
      } catch {
        // Left in place (a read-only cache): reported again next time, still never used.
      }
    }
    this.corrupt.push({ file: npyFile, reason });
  }

  /** The cached row of a content hash. */
  get(hash: string): Float32Array | undefined {
    return this.rows.get(hash);
  }

  /** Why a content hash could not be embedded, when it could not. */
  skipped(hash: string): string | undefined {
    return this.skips.get(hash);
  }

  /** True when the hash is embedded or known to be undecodable. */
  has(hash: string): boolean {
    return this.rows.has(hash) || this.skips.has(hash);
  }

  /** Number of cached rows. */
  get size(): number {
    return this.rows.size;
  }

  /** Add a shard atomically: .npy first, then the .json commit mark. */
  add(model: string, hashes: string[], vectors: Float32Array, dim: number, skipped: Record<string, string>, seconds: number): void {
    if (vectors.length !== hashes.length * dim) throw new Error(`cache: ${hashes.length} hashes but ${vectors.length / (dim || 1)} rows`);
    if (this.dim && hashes.length && dim !== this.dim) throw new Error(`cache ${this.dir}: dim ${dim} differs from the cached ${this.dim}`);
    const stamp = `${new Date().toISOString().replace(/[:.]/g, '-')}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
    const base = path.join(this.dir, `shard-${stamp}`);
    const npy = encodeNpy(vectors, hashes.length, dim);
    writeFileAtomic(`${base}.npy`, npy);
    const npySha256 = createHash('sha256').update(npy).digest('hex');
    const meta: ShardMeta = { format: 'lookalike-embedding-cache', version: 1, model, fingerprint: this.fingerprint, dim, hashes, skipped, seconds, images: hashes.length + Object.keys(skipped).length, created: new Date().toISOString(), npySha256 };
    writeFileAtomic(`${base}.json`, JSON.stringify(meta) + '\n');
    if (hashes.length) this.dim = dim;
    hashes.forEach((h, i) => this.rows.set(h, vectors.subarray(i * dim, (i + 1) * dim)));
    for (const [h, why] of Object.entries(skipped)) this.skips.set(h, why);
    this.seconds += seconds;
    this.images += meta.images;
  }
}

/** Content hashes (sha256) of files, a few at a time; a missing file is an error naming it. */
export async function hashFiles(files: readonly string[], concurrency = 8): Promise<string[]> {
  const out = new Array<string>(files.length);
  let next = 0;
  const worker = async () => {
    while (next < files.length) {
      const i = next++;
      try {
        out[i] = await hashFile(files[i]);
      } catch (e) {
        throw new Error(`${files[i]}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, files.length) }, worker));
  return out;
}
