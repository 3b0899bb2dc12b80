/**
 * Runs a head's forward and backward passes through onnxruntime (graphs from heads.ts): the
 * matrix products go through ORT's CPU kernels, which measured ~35x faster than a plain
 * tfjs-wasm training loop for the same model (bench/tune.ts).
 */
import type * as ort from 'onnxruntime-node';
import { buildModel } from '../models/onnx-build.ts';
import { createSession } from '../models/ort.ts';
import { ortLib } from '../util/lazy-import.ts';
import { BN_MOMENTUM, backwardGraph, cacheNames, foldedLayers, inferenceGraph, trainForwardGraph, type TrainableHead } from './heads.ts';

/** Results of a training forward pass. */
export interface ForwardResult {
  n: number;
  emb: Float32Array;
  logits?: Float32Array;
  /** Tensors the backward pass needs. */
  cache: Record<string, ort.Tensor>;
}

const t32 = (data: Float32Array, dims: number[]) => new (ortLib().Tensor)('float32', data, dims);

/** ORT sessions for one head: training forward, backward, and evaluation inference. */
export class HeadEngine {
  /** True right after an optimiser step cleared the gradients: the next backward copies instead of adding. */
  gradsZero = true;

  private constructor(
    readonly head: TrainableHead,
    private fwd: ort.InferenceSession,
    private bwd: ort.InferenceSession,
    private inf: ort.InferenceSession,
  ) {}

  /** Build the three graphs and open sessions. */
  static async create(head: TrainableHead): Promise<HeadEngine> {
    const [fwd, bwd, inf] = await Promise.all([
      createSession(buildModel(trainForwardGraph(head)), 'head training graph'),
      createSession(buildModel(backwardGraph(head)), 'head backward graph'),
      createSession(buildModel(inferenceGraph(head, false)), 'head inference graph'),
    ]);
    return new HeadEngine(head, fwd, bwd, inf);
  }

  private paramFeeds(): Record<string, ort.Tensor> {
    const feeds: Record<string, ort.Tensor> = {};
    for (const p of this.head.params) feeds[p.name] = t32(p.data, p.shape);
    return feeds;
  }

  /** Training forward pass of n rows; masks are the dropout masks (already scaled by 1/(1-p)). Updates batch-norm running stats. */
  async forward(x: Float32Array, n: number, masks: Float32Array[]): Promise<ForwardResult> {
    const { spec } = this.head;
    const feeds = this.paramFeeds();
    feeds.x = t32(x, [n, spec.inputDim]);
    masks.forEach((m, i) => (feeds[`mask${i}`] = t32(m, [n, spec.hidden[i]])));
    const out = await this.fwd.run(feeds);
    const cache: Record<string, ort.Tensor> = {};
    for (const name of cacheNames(spec)) cache[name] = out[name];
    cache.x = feeds.x;
    masks.forEach((m, i) => (cache[`mask${i}`] = feeds[`mask${i}`]));
    if (spec.batchNorm) {
      this.head.bn.forEach((st, i) => {
        const mu = out[`mu${i}`].data as Float32Array, v = out[`var${i}`].data as Float32Array;
        const unbias = n > 1 ? n / (n - 1) : 1;
        for (let j = 0; j < mu.length; j++) {
          st.mean[j] = (1 - BN_MOMENTUM) * st.mean[j] + BN_MOMENTUM * mu[j];
          st.variance[j] = (1 - BN_MOMENTUM) * st.variance[j] + BN_MOMENTUM * v[j] * unbias;
        }
      });
    }
    return { n, emb: out.emb.data as Float32Array, logits: out.logits?.data as Float32Array | undefined, cache };
  }

  /** Backward pass: add d loss / d parameter to every parameter's grad. */
  async backward(f: ForwardResult, dEmb: Float32Array, dLogits?: Float32Array): Promise<void> {
    const { spec } = this.head;
    const feeds: Record<string, ort.Tensor> = { ...f.cache, dEmb: t32(dEmb, [f.n, spec.outputDim]) };
    const all = this.paramFeeds();
    for (const name of this.bwd.inputNames) if (!feeds[name] && all[name]) feeds[name] = all[name];
    if (spec.numClasses > 0) {
      if (!dLogits) throw new Error('backward: the head has a classifier but the loss gave no logits gradient');
      feeds.emb = t32(f.emb, [f.n, spec.outputDim]);
      feeds.dLogits = t32(dLogits, [f.n, spec.numClasses]);
    }
    const out = await this.bwd.run(feeds);
    for (const p of this.head.params) {
      const g = out[`d_${p.name}`].data as Float32Array;
      if (this.gradsZero) p.grad.set(g);
      else for (let i = 0; i < g.length; i++) p.grad[i] += g[i];
    }
    this.gradsZero = false;
  }

  /** Inference (running batch-norm stats, no dropout, no classifier) on n rows, in chunks. */
  async embed(x: Float32Array, n: number, chunk = 8192): Promise<Float32Array> {
    const { inputDim, outputDim } = this.head.spec;
    const feeds: Record<string, ort.Tensor> = {};
    foldedLayers(this.head).forEach((l, i) => {
      feeds[`W${i}`] = t32(l.weight, [l.fin, l.fout]);
      feeds[`B${i}`] = t32(l.bias, [l.fout]);
    });
    const out = new Float32Array(n * outputDim);
    for (let s = 0; s < n; s += chunk) {
      const m = Math.min(chunk, n - s);
      feeds.input = t32(x.subarray(s * inputDim, (s + m) * inputDim), [m, inputDim]);
      const r = await this.inf.run(feeds);
      out.set(r.embedding.data as Float32Array, s * outputDim);
    }
    return out;
  }

  /** Release the sessions. */
  async dispose(): Promise<void> {
    await Promise.all([this.fwd.release(), this.bwd.release(), this.inf.release()]);
  }
}
