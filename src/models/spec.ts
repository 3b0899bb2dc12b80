/**
 * The one model spec shared by every backbone format: how to turn an image into the
 * model's input tensor, which output to read, and how to pool it into one vector.
 * Defaults are ImageNet's (see docs/models.md).
 */

export type Pooling = 'auto' | 'none' | 'cls' | 'mean' | 'gap' | 'gem';
export type Resample = 'nearest' | 'bilinear' | 'bicubic' | 'lanczos';

export interface ModelSpec {
  /** Backbone file format. */
  format: 'onnx' | 'tfjs';
  /** Graph input to feed; default the first image-shaped input. */
  inputName?: string;
  /** Tensor layout of the image input: NCHW (ONNX default) or NHWC (TensorFlow default). */
  layout: 'nchw' | 'nhwc';
  /** Resize rule applied before cropping. */
  resize: { mode: 'shortest-edge'; shortestEdge: number } | { mode: 'fixed'; height: number; width: number };
  /** Center crop after resizing; null = none. */
  crop: { height: number; width: number } | null;
  /** Resampling filter for the resize. */
  resample: Resample;
  /**
   * Resize implementation: 'pil' reproduces Pillow bit for bit (what Hugging Face processors use;
   * set by preprocessor_config.json); absent = sharp/libvips, faster, within a few levels of it.
   */
  resampler?: 'pil';
  /** Multiply 0..255 pixel values by this first (1/255 default; 1 keeps raw 0..255). */
  rescale: number;
  /** Per-channel mean subtracted after rescaling (RGB order). */
  mean: [number, number, number];
  /** Per-channel std divided by after mean subtraction (RGB order). */
  std: [number, number, number];
  /** Channel order the network expects. */
  channelOrder: 'rgb' | 'bgr';
  /** Channels fed: 3 (absent) or 1 (greyscale, ITU-R 601 luma; mean[0]/std[0] apply). */
  channels?: 1;
  /** Graph output (or tfjs node) to read; default the first output. */
  output?: string;
  /** How to reduce the output to one vector per image. */
  pooling: Pooling;
  /** Exponent for GeM pooling. */
  gemP: number;
  /** Leading special tokens (CLS, registers) excluded by 'mean' pooling of a token sequence. */
  prefixTokens: number;
  /** Several views per image, averaged (src/models/views.ts); absent = one view. */
  views?: ViewSet;
  /**
   * `--crop face`: the largest detected face, its eyes aligned to these positions (fractions of the
   * input: eyes level at eyeY x H, eyeDist x W apart, centred), replaces resize and crop (src/models/face-crop.ts). Absent: no face crop.
   */
  face?: { eyeY: number; eyeDist: number };
}

/** The views of one image (src/models/views.ts): input-size scales (sorted, 1 = the model's size) and whether each is also flipped. */
export interface ViewSet {
  scales: number[];
  flip: boolean;
}

/** ImageNet mean (RGB). */
export const IMAGENET_MEAN: [number, number, number] = [0.485, 0.456, 0.406];
/** ImageNet std (RGB). */
export const IMAGENET_STD: [number, number, number] = [0.229, 0.224, 0.225];

/** Default spec: 256 shortest edge, 224 center crop, bilinear, /255, ImageNet mean/std, RGB, NCHW, auto pooling. */
export function defaultSpec(): ModelSpec {
  return {
    format: 'onnx',
    layout: 'nchw',
    resize: { mode: 'shortest-edge', shortestEdge: 256 },
    crop: { height: 224, width: 224 },
    resample: 'bilinear',
    rescale: 1 / 255,
    mean: [...IMAGENET_MEAN],
    std: [...IMAGENET_STD],
    channelOrder: 'rgb',
    pooling: 'auto',
    gemP: 3,
    prefixTokens: 1,
  };
}

/** The height and width of the tensor a spec produces. */
export function inputSize(spec: ModelSpec): { height: number; width: number } {
  if (spec.crop) return spec.crop;
  if (spec.resize.mode === 'fixed') return { height: spec.resize.height, width: spec.resize.width };
  return { height: spec.resize.shortestEdge, width: spec.resize.shortestEdge };
}

/** Channels of the tensor a spec produces (3, or 1 for greyscale graphs). */
export function inputChannels(spec: Pick<ModelSpec, 'channels'>): 1 | 3 {
  return spec.channels === 1 ? 1 : 3;
}

const RESAMPLE_PIL: Record<number, Resample> = { 0: 'nearest', 1: 'lanczos', 2: 'bilinear', 3: 'bicubic', 4: 'bilinear', 5: 'bicubic' };

type SizeField = number | { shortest_edge?: number; height?: number; width?: number; longest_edge?: number } | undefined;

/**
 * Apply a Hugging Face `preprocessor_config.json` to a spec (resize, crop, resample,
 * rescale, normalise), following the image processors' conventions, crop_pct included.
 */
export function applyPreprocessorConfig(spec: ModelSpec, pp: Record<string, unknown>, file = 'preprocessor_config.json'): ModelSpec {
  const out: ModelSpec = { ...spec };
  const size = pp.size as SizeField;
  const doResize = pp.do_resize !== false;
  if (doResize && size !== undefined) {
    if (typeof size === 'number') out.resize = { mode: 'shortest-edge', shortestEdge: size };
    else if (size.shortest_edge !== undefined) out.resize = { mode: 'shortest-edge', shortestEdge: size.shortest_edge };
    else if (size.height !== undefined && size.width !== undefined) out.resize = { mode: 'fixed', height: size.height, width: size.width };
    else throw new Error(`${file}: unsupported "size" ${JSON.stringify(size)}`);
  }
  const cropPct = typeof pp.crop_pct === 'number' ? pp.crop_pct : undefined;
  const crop = pp.crop_size as SizeField;
  if (pp.do_center_crop === true && crop !== undefined) {
    if (typeof crop === 'number') out.crop = { height: crop, width: crop };
    else if (crop.height !== undefined && crop.width !== undefined) out.crop = { height: crop.height, width: crop.width };
    else if (crop.shortest_edge !== undefined) out.crop = { height: crop.shortest_edge, width: crop.shortest_edge };
  } else if (cropPct !== undefined && out.resize.mode === 'shortest-edge' && out.resize.shortestEdge < 384) {
    // ConvNeXT / ResNet processors: resize to shortest_edge / crop_pct, then center crop to shortest_edge.
    const target = out.resize.shortestEdge;
    out.resize = { mode: 'shortest-edge', shortestEdge: Math.floor(target / cropPct) };
    out.crop = { height: target, width: target };
  } else if (cropPct !== undefined && out.resize.mode === 'shortest-edge' && pp.do_center_crop !== true) {
    // ConvNeXT at 384 and above: warp to a square of shortest_edge, no crop.
    const s = out.resize.shortestEdge;
    out.resize = { mode: 'fixed', height: s, width: s };
    out.crop = null;
  } else if (pp.do_center_crop === false || crop === undefined) {
    out.crop = null;
  }
  if (typeof pp.resample === 'number') out.resample = RESAMPLE_PIL[pp.resample] ?? 'bilinear';
  // HF processors resize through Pillow: reproduce it exactly.
  out.resampler = 'pil';
  if (pp.do_rescale === false) out.rescale = 1;
  else if (typeof pp.rescale_factor === 'number') out.rescale = pp.rescale_factor;
  if (pp.do_normalize === false) {
    out.mean = [0, 0, 0];
    out.std = [1, 1, 1];
  } else {
    if (Array.isArray(pp.image_mean)) out.mean = triple(pp.image_mean, `${file}: image_mean`);
    if (Array.isArray(pp.image_std)) out.std = triple(pp.image_std, `${file}: image_std`);
  }
  return out;
}

function triple(v: unknown[], what: string): [number, number, number] {
  const nums = v.map(Number);
  if (nums.length === 1) return [nums[0], nums[0], nums[0]];
  if (nums.length !== 3 || nums.some((x) => !Number.isFinite(x))) throw new Error(`${what}: expected 3 numbers, got ${JSON.stringify(v)}`);
  return [nums[0], nums[1], nums[2]];
}

/** The fields of a spec that change embeddings, in a stable order, for fingerprints. */
export function canonicalSpec(spec: ModelSpec): string {
  const keys = Object.keys(spec).sort() as (keyof ModelSpec)[];
  return JSON.stringify(keys.map((k) => [k, spec[k]]));
}
