/** Tuned heads: an ONNX graph from `lookalike tune` mapping pooled embeddings [N, D] to [N, D']. */
import { createSession } from './ort.ts';
import type { Runtime } from './runtime.ts';
import { hashFile } from '../util/hash.ts';
import { ortLib } from '../util/lazy-import.ts';

/** A loaded head. */
export interface Head {
  file: string;
  fingerprint: string;
  inputDim: number | undefined;
  /** Apply the head to n rows of dim floats. */
  apply(data: Float32Array, n: number, dim: number): Promise<{ data: Float32Array; dim: number }>;
  dispose(): Promise<void>;
}

/** Load a head file written by `lookalike tune`. */
export async function loadHead(file: string, runtime?: Runtime): Promise<Head> {
  const session = await createSession(file, `head ${file}`, runtime);
  const fingerprint = await hashFile(file);
  const meta = session.inputMetadata?.[0] as { isTensor?: boolean; shape?: readonly (number | string)[] } | undefined;
  const d = meta?.isTensor ? meta.shape?.[1] : undefined;
  const inputDim = typeof d === 'number' ? d : undefined;
  return {
    file,
    fingerprint,
    inputDim,
    async apply(data, n, dim) {
      if (inputDim !== undefined && dim !== inputDim) throw new Error(`head ${file} expects ${inputDim}-d embeddings, the model gives ${dim}-d`);
      const out = await session.run({ [session.inputNames[0]]: new (ortLib().Tensor)('float32', data, [n, dim]) }, [session.outputNames[0]]);
      const t = out[session.outputNames[0]];
      return { data: t.data as Float32Array, dim: t.dims[1] as number };
    },
    async dispose() {
      await session.release();
    },
  };
}
