/**
 * The embedding pipeline's decode workers: worker threads that decode whole batches into tensor
 * buffers handed to them and back by transfer (no copy). onnxruntime-node runs a session on the
 * calling thread (its promise resolves a synchronous run), so decoding done on that thread waits
 * for every batch's inference; in workers it runs while the model does. Started on first use,
 * kept for the process, and unref'd (an idle pool never keeps the process alive).
 */
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import type { ModelSpec } from '../models/spec.ts';
import type { BatchDecode, ImageSource } from './decode-batch.ts';
import type { DecodeReply, DecodeRequest } from './decode-worker.ts';

interface Slot {
  worker: Worker;
  inFlight: number;
}

interface Pending {
  slot: Slot;
  resolve: (r: { buffer: ArrayBuffer } & BatchDecode) => void;
  reject: (e: Error) => void;
}

/** A new decode worker: the built decode-worker.js, or under tsx the .ts source through tsx's loader (which workers do not inherit). */
function newWorker(): Worker {
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./decode-worker.js', import.meta.url));
  const entry = new URL('./decode-worker.ts', import.meta.url).href;
  const tsx = import.meta.resolve('tsx/esm/api');
  return new Worker(`import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); });`, { eval: true });
}

/** A pool of decode workers. */
export class DecodePool {
  private slots: Slot[] = [];
  private pending = new Map<number, Pending>();
  private nextId = 0;

  constructor(readonly size: number) {}

  /** Decode `sources` into `buffer` (transferred to a worker and back); resolves with the buffer and the outcome. */
  decode(sources: ImageSource[], spec: ModelSpec, shrink: boolean, buffer: ArrayBuffer): Promise<{ buffer: ArrayBuffer } & BatchDecode> {
    const slot = this.pick();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { slot, resolve, reject });
      slot.inFlight++;
      if (slot.inFlight === 1) slot.worker.ref();
      const req: DecodeRequest = { id, sources, spec, shrink, buffer };
      slot.worker.postMessage(req, [buffer]);
    });
  }

  /** The least busy worker, starting one while fewer than `size` run. */
  private pick(): Slot {
    const idle = this.slots.find((s) => s.inFlight === 0);
    if (idle) return idle;
    if (this.slots.length < this.size) return this.start();
    return this.slots.reduce((a, b) => (b.inFlight < a.inFlight ? b : a));
  }

  private start(): Slot {
    const worker = newWorker();
    const slot: Slot = { worker, inFlight: 0 };
    worker.unref();
    worker.on('message', (r: DecodeReply) => {
      const p = this.pending.get(r.id);
      if (!p) return;
      this.pending.delete(r.id);
      if (--slot.inFlight === 0) worker.unref();
      if (r.error !== undefined) p.reject(new Error(r.error));
      else p.resolve({ buffer: r.buffer, ok: r.ok!, skipped: r.skipped!, noFace: r.noFace });
    });
    const fail = (e: Error) => {
      // A dead worker: its batches fail, and the next batch starts a new one.
      this.slots = this.slots.filter((s) => s !== slot);
      for (const [id, p] of this.pending) {
        if (p.slot !== slot) continue;
        this.pending.delete(id);
        p.reject(new Error(`decode worker failed: ${e.message}`));
      }
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`exited with code ${code}`)));
    this.slots.push(slot);
    return slot;
  }
}

let shared: DecodePool | undefined;

/** The process's decode pool (`size` workers; the first call's size applies). */
export function decodePool(size = Math.max(1, os.availableParallelism?.() ?? os.cpus().length)): DecodePool {
  shared ??= new DecodePool(size);
  return shared;
}
