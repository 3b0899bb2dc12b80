/**
 * TF.js graph models (model.json with modelTopology.node) to ONNX: walk back from the requested
 * node, convert each op through the op tables, and end with the node's value in TF's NHWC layout.
 * Ops not in the tables are collected and reported together (the caller falls back to TF.js).
 */
import { buildModel } from '../onnx-build.ts';
import { Emitter, UnsupportedOp, type Value } from './emit.ts';
import type { OpConverter, OpCtx, TfNode } from './context.ts';
import { CONV_OPS } from './ops-conv.ts';
import { MATH_OPS } from './ops-math.ts';
import { SHAPE_OPS } from './ops-shape.ts';
import type { ConstTensor } from './weights.ts';

/** Every TF op the graph conversion covers. */
export const GRAPH_OPS: Record<string, OpConverter> = { ...CONV_OPS, ...MATH_OPS, ...SHAPE_OPS };

/** The result of a conversion: ONNX bytes, or the ops that stopped it. */
export type Conversion = { ok: true; model: Uint8Array; input: string; output: string } | { ok: false; unsupported: string[] };

const bare = (ref: string) => ref.replace(/^\^/, '').replace(/:0$/, '');

/** The nodes the outputs depend on, inputs before users. */
function needed(byName: Map<string, TfNode>, outputs: readonly string[]): TfNode[] {
  const order: TfNode[] = [];
  const seen = new Set<string>();
  const stack: [string, boolean][] = [...outputs].reverse().map((o) => [o, false]);
  while (stack.length) {
    const [name, done] = stack.pop()!;
    const node = byName.get(name);
    if (!node) throw new Error(`no node "${name}" in the graph`);
    if (done) {
      order.push(node);
      continue;
    }
    if (seen.has(name)) continue;
    seen.add(name);
    stack.push([name, true]);
    for (const i of node.input ?? []) if (!i.startsWith('^') && !seen.has(bare(i))) stack.push([bare(i), false]);
  }
  return order;
}

/** Convert the subgraph that computes `output` (or several outputs, e.g. a detector's boxes and scores) from the graph's Placeholder input. */
export function convertGraph(nodes: TfNode[], weights: Map<string, ConstTensor>, output: string | readonly string[]): Conversion {
  const byName = new Map(nodes.map((n) => [n.name, n]));
  const outNames = (typeof output === 'string' ? [output] : output).map(bare);
  const order = needed(byName, outNames);
  const missing = [...new Set(order.filter((n) => n.op !== 'Const' && n.op !== 'Placeholder' && !GRAPH_OPS[n.op]).map((n) => n.op))];
  if (missing.length) return { ok: false, unsupported: missing.sort() };
  const placeholders = order.filter((n) => n.op === 'Placeholder');
  if (placeholders.length !== 1) return { ok: false, unsupported: [`${placeholders.length} graph inputs (one image input expected)`] };
  const e = new Emitter();
  const values = new Map<string, Value>();
  const input = placeholders[0];
  for (const node of order) {
    if (node.op === 'Placeholder') {
      values.set(node.name, { name: node.name, nchw: false });
      continue;
    }
    if (node.op === 'Const') {
      const c = weights.get(node.name);
      if (!c) return { ok: false, unsupported: [`Const ${node.name} without weights`] };
      values.set(node.name, { name: node.name, nchw: false, const: c });
      continue;
    }
    const inputs = (node.input ?? []).filter((i) => !i.startsWith('^'));
    const ctx: OpCtx = {
      e,
      node,
      inputs,
      input(i) {
        const ref = inputs[i];
        if (ref === undefined) throw new UnsupportedOp(node.op, `missing input ${i}`);
        if (/:[1-9]\d*$/.test(ref)) throw new UnsupportedOp(node.op, `reads output ${ref}`);
        return values.get(bare(ref))!;
      },
      constant(i) {
        const v = ctx.input(i);
        if (!v.const) throw new UnsupportedOp(node.op, `input ${i} is not a constant`);
        return v.const;
      },
    };
    try {
      values.set(node.name, GRAPH_OPS[node.op](ctx));
    } catch (err) {
      if (err instanceof UnsupportedOp) return { ok: false, unsupported: [err.message.replace(/^unsupported op /, '')] };
      throw err;
    }
  }
  for (const name of outNames) e.node('Identity', [e.nhwc(values.get(name)!)], undefined, name);
  const live = e.live(outNames);
  const dims = (input.attr?.shape?.shape?.dim ?? []).map((d) => Number(d.size ?? -1));
  const model = buildModel({
    name: 'tfjs-graph',
    inputs: [{ name: input.name, shape: dims.map((d) => (d < 0 ? 'batch' : d)) }],
    outputs: outNames.map((name) => ({ name, shape: null })),
    nodes: live.nodes,
    initializers: live.inits,
    opset: 17,
  });
  return { ok: true, model, input: input.name, output: outNames.join(',') };
}
