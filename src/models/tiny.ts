/**
 * Tiny ONNX image encoders with seeded random weights, generated with the builder: the
 * project's own models for demos and tests when no pretrained weights are present.
 */
import { buildModel, type InitDef, type NodeDef } from './onnx-build.ts';
import { gaussian, rng } from '../util/random.ts';

function weights(n: number, scale: number, seed: number): Float32Array {
  const g = gaussian(rng(seed));
  return Float32Array.from({ length: n }, () => g() * scale);
}

/** Options for the tiny encoders. */
export interface TinyOptions {
  /** Input height = width (default 32). */
  size?: number;
  /** Feature channels / token width (default 16). */
  channels?: number;
  /** Output embedding size of the CNN's linear layer (default 16). */
  dim?: number;
  seed?: number;
}

/**
 * conv3x3 -> ReLU -> global average pool -> linear: input `pixel_values` [N,3,S,S], output
 * `embedding` [N,dim]; with `spatial: true` the output is the feature map `last_hidden_state` [N,C,S,S].
 * `nhwc: true` takes [N,S,S,inChannels] (transposed inside); `inChannels: 1` takes greyscale;
 * `anySize: true` takes any height and width.
 */
export function tinyCnn(o: TinyOptions & { spatial?: boolean; nhwc?: boolean; inChannels?: 1 | 3; anySize?: boolean } = {}): Uint8Array {
  const S = o.size ?? 32;
  const C = o.channels ?? 16;
  const D = o.dim ?? 16;
  const K = o.inChannels ?? 3;
  const seed = o.seed ?? 1;
  // anySize: symbolic height and width, so images keep their own size (--crop none).
  const [H, W]: (number | string)[] = o.anySize ? ['height', 'width'] : [S, S];
  const input = { name: 'pixel_values', shape: o.nhwc ? ['batch', H, W, K] : ['batch', K, H, W] };
  const nodes: NodeDef[] = [
    ...(o.nhwc ? [{ op: 'Transpose', inputs: ['pixel_values'], outputs: ['nchw'], attrs: { perm: [0, 3, 1, 2] } }] : []),
    { op: 'Conv', inputs: [o.nhwc ? 'nchw' : 'pixel_values', 'conv_w', 'conv_b'], outputs: ['conv'], attrs: { kernel_shape: [3, 3], pads: [1, 1, 1, 1] } },
    { op: 'Relu', inputs: ['conv'], outputs: [o.spatial ? 'last_hidden_state' : 'relu'] },
  ];
  const inits: InitDef[] = [
    { name: 'conv_w', dims: [C, K, 3, 3], data: weights(C * K * 9, 0.4, seed) },
    { name: 'conv_b', dims: [C], data: weights(C, 0.1, seed + 1) },
  ];
  if (o.spatial) {
    return buildModel({ name: 'tiny-cnn-spatial', inputs: [input], outputs: [{ name: 'last_hidden_state', shape: ['batch', C, H, W] }], nodes, initializers: inits });
  }
  nodes.push(
    { op: 'GlobalAveragePool', inputs: ['relu'], outputs: ['gap'] },
    { op: 'Flatten', inputs: ['gap'], outputs: ['flat'] },
    { op: 'Gemm', inputs: ['flat', 'fc_w', 'fc_b'], outputs: ['embedding'], attrs: { transB: 1 } },
  );
  inits.push({ name: 'fc_w', dims: [D, C], data: weights(D * C, 1 / Math.sqrt(C), seed + 2) }, { name: 'fc_b', dims: [D], data: new Float32Array(D) });
  return buildModel({ name: 'tiny-cnn', inputs: [input], outputs: [{ name: 'embedding', shape: ['batch', D] }], nodes, initializers: inits });
}

/**
 * A ViT-shaped encoder: patchify conv (patch 8) -> tokens, a CLS token (mean of patches plus a
 * learned bias) prepended: input `pixel_values` [N,3,S,S], output `last_hidden_state` [N,1+P,C].
 */
export function tinyVit(o: TinyOptions & { patch?: number } = {}): Uint8Array {
  const S = o.size ?? 32;
  const C = o.channels ?? 16;
  const P = o.patch ?? 8;
  const seed = o.seed ?? 3;
  const T = (S / P) * (S / P);
  return buildModel({
    name: 'tiny-vit',
    inputs: [{ name: 'pixel_values', shape: ['batch', 3, S, S] }],
    outputs: [{ name: 'last_hidden_state', shape: ['batch', T + 1, C] }],
    nodes: [
      { op: 'Conv', inputs: ['pixel_values', 'patch_w', 'patch_b'], outputs: ['patches'], attrs: { kernel_shape: [P, P], strides: [P, P] } },
      { op: 'Reshape', inputs: ['patches', 'tok_shape'], outputs: ['flat'] },
      { op: 'Transpose', inputs: ['flat'], outputs: ['tokens'], attrs: { perm: [0, 2, 1] } },
      { op: 'ReduceMean', inputs: ['tokens'], outputs: ['mean'], attrs: { axes: [1], keepdims: 1 } },
      { op: 'Add', inputs: ['mean', 'cls_bias'], outputs: ['cls'] },
      { op: 'Concat', inputs: ['cls', 'tokens'], outputs: ['last_hidden_state'], attrs: { axis: 1 } },
    ],
    initializers: [
      { name: 'patch_w', dims: [C, 3, P, P], data: weights(C * 3 * P * P, 0.1, seed) },
      { name: 'patch_b', dims: [C], data: weights(C, 0.1, seed + 1) },
      { name: 'tok_shape', dims: [3], data: [0, C, -1], type: 'int64' },
      { name: 'cls_bias', dims: [1, 1, C], data: weights(C, 0.5, seed + 2) },
    ],
  });
}

/**
 * A small four-stage conv net (stride-2 3x3 convs 3-32-64-128-256, GAP, linear to `dim`) at
 * `size` x `size`: about 0.37 GFLOP per 224 image (x width^2 with a wider net), for benchmarks.
 */
export function smallConvNet(o: { size?: number; dim?: number; seed?: number; width?: number } = {}): Uint8Array {
  const S = o.size ?? 224;
  const D = o.dim ?? 512;
  const seed = o.seed ?? 5;
  const m = o.width ?? 1;
  const widths = [3, 32 * m, 64 * m, 128 * m, 256 * m];
  const nodes: NodeDef[] = [];
  const inits: InitDef[] = [];
  let x = 'pixel_values';
  for (let i = 1; i < widths.length; i++) {
    const [cin, cout] = [widths[i - 1], widths[i]];
    inits.push({ name: `w${i}`, dims: [cout, cin, 3, 3], data: weights(cout * cin * 9, Math.sqrt(2 / (cin * 9)), seed + i) }, { name: `b${i}`, dims: [cout], data: new Float32Array(cout) });
    nodes.push({ op: 'Conv', inputs: [x, `w${i}`, `b${i}`], outputs: [`c${i}`], attrs: { kernel_shape: [3, 3], pads: [1, 1, 1, 1], strides: [2, 2] } }, { op: 'Relu', inputs: [`c${i}`], outputs: [`r${i}`] });
    x = `r${i}`;
  }
  nodes.push({ op: 'GlobalAveragePool', inputs: [x], outputs: ['gap'] }, { op: 'Flatten', inputs: ['gap'], outputs: ['flat'] }, { op: 'Gemm', inputs: ['flat', 'fc_w'], outputs: ['embedding'], attrs: { transB: 1 } });
  const last = widths[widths.length - 1];
  inits.push({ name: 'fc_w', dims: [D, last], data: weights(D * last, 1 / Math.sqrt(last), seed + 9) });
  return buildModel({ name: 'small-convnet', inputs: [{ name: 'pixel_values', shape: ['batch', 3, S, S] }], outputs: [{ name: 'embedding', shape: ['batch', D] }], nodes, initializers: inits });
}
