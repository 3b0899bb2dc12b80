/**
 * What a graph's image input shape says about feeding it: the layout (NCHW or NHWC), the channel
 * count (1 or 3), and a fixed height and width when the graph has one. Used for bare .onnx files,
 * folders without a preprocessor_config.json and bare TF.js models, whenever flags do not say otherwise.
 */
import type { TensorInfo } from './backbone.ts';
import type { ModelSpec } from './spec.ts';

/** Layout, channels and fixed size read from a 4-D image input shape (dims may be symbolic). */
export interface InputShapeInfo {
  layout: 'nchw' | 'nhwc';
  channels: 1 | 3;
  /** Fixed spatial size, when both dims are numbers. */
  size?: { height: number; width: number };
}

const fixed = (d: number | string | undefined): number | undefined => (typeof d === 'number' && d > 0 ? d : undefined);

/** Read layout, channels and size from a [N,C,H,W] or [N,H,W,C] shape; undefined when the shape is not 4-D. */
export function readInputShape(shape: (number | string)[]): InputShapeInfo | undefined {
  if (shape.length !== 4) return undefined;
  const c1 = fixed(shape[1]);
  const c3 = fixed(shape[3]);
  // Channels last when the last dim is a channel count and the second is not.
  const nhwc = (c3 === 3 || c3 === 1) && c1 !== 3 && c1 !== 1;
  const channels = (nhwc ? c3 : c1) === 1 ? 1 : 3;
  const [h, w] = nhwc ? [fixed(shape[1]), fixed(shape[2])] : [fixed(shape[2]), fixed(shape[3])];
  return { layout: nhwc ? 'nhwc' : 'nchw', channels, ...(h && w ? { size: { height: h, width: w } } : {}) };
}

/**
 * Spec fields implied by a graph's image input, given the flags already set: layout and channels
 * unless flags set the layout; for a fixed size (and no --resize/--crop), resize the shortest edge
 * to size/0.875 and center crop to the size, the ImageNet convention (256 -> 224).
 */
export function specFromInput(input: TensorInfo | undefined, overrides: Partial<ModelSpec> = {}): Partial<ModelSpec> {
  const info = input ? readInputShape(input.shape) : undefined;
  if (!info) return {};
  const out: Partial<ModelSpec> = {};
  if (overrides.layout === undefined) out.layout = info.layout;
  if (info.channels === 1) out.channels = 1;
  if (info.size && overrides.resize === undefined && overrides.crop === undefined) {
    const { height, width } = info.size;
    out.resize = { mode: 'shortest-edge', shortestEdge: Math.floor(Math.max(height, width) / 0.875) };
    out.crop = { height, width };
  }
  return out;
}

/** The first 4-D float input (the image), else the first input. */
export function imageInput(inputs: TensorInfo[], name?: string): TensorInfo | undefined {
  if (name) return inputs.find((i) => i.name === name);
  return inputs.find((i) => i.shape.length === 4 && /float/.test(i.type)) ?? inputs[0];
}
