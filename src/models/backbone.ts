/** The interface every backbone format (ONNX, TensorFlow.js) implements for the embedding pipeline. */
import type { ModelSpec } from './spec.ts';

/** A model output for a batch: flat values and dimensions (first dimension = batch). */
export interface RawOutput {
  data: Float32Array;
  dims: number[];
  /** The output's name in the graph, for errors. */
  name?: string;
}

/** Description of a graph input or output for `models info`. */
export interface TensorInfo {
  name: string;
  shape: (number | string)[];
  type: string;
}

/** A loaded image encoder. */
export interface Backbone {
  /** Display name (file path or preset). */
  name: string;
  /** The resolved spec: preprocessing, output, pooling. */
  spec: ModelSpec;
  /** sha256 of the weights and the canonical spec: equal fingerprints give comparable embeddings. */
  fingerprint: string;
  /** How it runs, in words, when it is worth saying (e.g. "onnxruntime (converted from TF.js)"). */
  engine?: string;
  /** The ONNX file the graph was read from, when there is one (not for converted TF.js models). */
  file?: string;
  /** Graph inputs and outputs. */
  inputs: TensorInfo[];
  outputs: TensorInfo[];
  /** Run one preprocessed batch (n images, spec.layout, all of `size`; default the spec's input size) and return the chosen output. */
  run(pixels: Float32Array, n: number, size?: { height: number; width: number }): Promise<RawOutput>;
  /** Free native resources. */
  dispose(): Promise<void>;
}
