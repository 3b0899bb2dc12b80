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

const hf = (name: string, family: string, repo: string, dim: number, pooling: Pooling, text: boolean, note?: string, spec?: Partial<ModelSpec>): Preset => ({
  name,
  family,
  source: { kind: 'hf', repo },
  dim,
  pooling,
  text,
  ...(spec ? { spec } : {}),
  ...(note ? { note } : {}),
});

// Hugging Face ONNX exports (Transformers.js layout: onnx/{vision_model,text_model,model}[_dtype].onnx).
// The folder's config.json and preprocessor_config.json decide preprocessing and outputs (src/models/hf.ts).
PRESETS.push(
  hf('clip-vit-b32', 'clip', 'Xenova/clip-vit-base-patch32', 512, 'none', true, 'image_embeds (projected); --feature pre-projection gives the 768-d feature'),
  hf('clip-vit-b16', 'clip', 'Xenova/clip-vit-base-patch16', 512, 'none', true, 'image_embeds (projected); --feature pre-projection gives the 768-d feature'),
  hf('clip-vit-l14', 'clip', 'Xenova/clip-vit-large-patch14', 768, 'none', true, 'image_embeds (projected); --feature pre-projection gives the 1024-d feature'),
  hf('siglip-base', 'siglip', 'Xenova/siglip-base-patch16-224', 768, 'none', true, 'pooler_output (attention-pool head); text padded to 64 tokens'),
  hf('mobileclip-s0', 'clip', 'Xenova/mobileclip_s0', 512, 'none', true, 'image_embeds; preprocessing from its preprocessor_config.json'),
  hf('dinov2-small', 'dinov2', 'Xenova/dinov2-small', 384, 'cls', false, 'CLS token of last_hidden_state'),
  hf('dinov2-base', 'dinov2', 'Xenova/dinov2-base', 768, 'cls', false, 'CLS token of last_hidden_state'),
  hf('vit-base', 'vit', 'Xenova/vit-base-patch16-224-in21k', 768, 'cls', false, 'ImageNet-21k ViT-B/16, CLS token of last_hidden_state'),
  hf('resnet50', 'cnn', 'Xenova/resnet-50', 1000, 'none', false, 'ImageNet classifier export: embeds the 1000 logits (a ResNetModel export with pooler_output gives 2048-d)'),
  hf('convnext-base', 'cnn', 'Xenova/convnext-base-224', 1000, 'none', false, 'ImageNet classifier export: embeds the 1000 logits'),
  hf('efficientnet-b0', 'cnn', 'Xenova/efficientnet-b0', 1280, 'gap', false, 'repository id not verified offline; GAP of last_hidden_state, else pooler_output or logits'),
  hf('swin-tiny', 'swin', 'Xenova/swin-tiny-patch4-window7-224', 1000, 'none', false, 'ImageNet classifier export: embeds the 1000 logits'),
);

/** The preset with this name, or undefined. */
export function findPreset(name: string): Preset | undefined {
  return PRESETS.find((p) => p.name === name);
}
