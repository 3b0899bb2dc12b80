/**
 * Named model presets: where a model's files come from (a Hugging Face repository of
 * ONNX exports, or files inside an installed npm package) and its defaults.
 */
import type { ModelSpec, Pooling } from './spec.ts';

/** Where a preset's files live. */
export type PresetSource =
  | { kind: 'hf'; repo: string }
  | { kind: 'npm'; package: string; file: string };

/** A named model. */
export interface Preset {
  name: string;
  family: string;
  source: PresetSource;
  /** Embedding size of the default output. */
  dim: number;
  pooling: Pooling;
  /** True when the model has a text tower (CLIP family). */
  text: boolean;
  /** Spec fields this preset sets (preprocessing, output node, layout...). */
  spec?: Partial<ModelSpec>;
  note?: string;
}

/** Every preset lookalike knows, in the order `models list` shows them. */
export const PRESETS: Preset[] = [];

/** The preset with this name, or undefined. */
export function findPreset(name: string): Preset | undefined {
  return PRESETS.find((p) => p.name === name);
}
