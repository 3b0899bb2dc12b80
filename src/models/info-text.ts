/**
 * `lookalike models info` as text: the description models/info.ts gathers, printed. Apart from
 * it so that the library exports it without loading the model loaders.
 */
import { formatViews } from './views.ts';
import { inputSize } from './spec.ts';
import { presetSource } from './catalog.ts';
import type { ModelInfo } from './info.ts';

const shapeStr = (s: (number | string)[]) => `[${s.join(', ')}]`;

/** Human-readable `models info` text. */
export function formatInfo(i: ModelInfo): string {
  const lines: string[] = [`model:        ${i.model} (${i.kind})`];
  if (i.location !== i.model) lines.push(`location:     ${i.location}`);
  if (i.preset) {
    const p = i.preset;
    lines.push(`preset:       ${p.family}, ${p.source.kind === 'hf' ? `https://huggingface.co/${p.source.repo}` : presetSource(p)}, ${p.dim}-d, text tower: ${p.text ? 'yes' : 'no'}${p.note ? `; ${p.note}` : ''}`);
    lines.push(`input:        ${p.input}`);
    lines.push(`weights:      ${p.weights}; licence ${p.licence}`);
    if (i.fetch) lines.push(`fetch:        ${i.fetch}`);
  }
  if (i.family) lines.push(`family:       ${i.family}${i.modelType ? ` (model_type ${i.modelType})` : ''}`);
  if (!i.available) {
    if (i.preset?.source.kind === 'local') lines.push(`status:       not found on the model search path; looked in ${i.location}; a folder needs ${i.missing?.join(', ')}`);
    else lines.push(`status:       not in the cache; place ${i.missing?.join(', ')} in ${i.location} or run "lookalike models fetch ${i.model}"`);
    return lines.join('\n');
  }
  if (i.engine) lines.push(`engine:       ${i.engine}`);
  lines.push('inputs:');
  for (const t of i.inputs ?? []) lines.push(`  ${t.name}  ${t.type} ${shapeStr(t.shape)}`);
  lines.push('outputs:');
  for (const t of i.outputs ?? []) lines.push(`  ${t.name}  ${t.type} ${shapeStr(t.shape)}${t.name === i.spec?.output ? '   <- embedding' : ''}`);
  if (i.candidates?.length) {
    lines.push('pooling candidates (use --output NODE):');
    for (const t of i.candidates) lines.push(`  ${t.name}  ${shapeStr(t.shape)}`);
  }
  const s = i.spec;
  if (s) {
    const resize = s.resize.mode === 'fixed' ? `${s.resize.height}x${s.resize.width} (fixed)` : `shortest edge ${s.resize.shortestEdge}`;
    lines.push(`preprocess:   resize ${resize} ${s.resample}, crop ${s.face ? `face (eyes level at ${s.face.eyeY} H, ${s.face.eyeDist} W apart)` : s.crop ? `${s.crop.height}x${s.crop.width}` : 'none'}, rescale ${+s.rescale.toFixed(8)}, mean [${s.mean.join(', ')}], std [${s.std.join(', ')}], ${s.channelOrder.toUpperCase()}, ${s.layout.toUpperCase()}`);
    lines.push(`embedding:    output ${s.output ?? i.outputs?.[0]?.name}, pooling ${i.pooling ?? s.pooling}${s.pooling === 'gem' ? ` (p=${s.gemP})` : ''}${i.pooling === 'mean' ? ` (skip ${s.prefixTokens} prefix tokens)` : ''}, dim ${i.dim ?? '?'}`);
    if (s.views) lines.push(`views:        ${formatViews(s.views)} (mean of the views' L2-normalised descriptors)`);
  }
  const img = i.inputs?.find((t) => t.name === (s?.inputName ?? t.name) && t.shape.length === 4);
  if (s && img) {
    const [h, w] = s.layout === 'nhwc' ? [img.shape[1], img.shape[2]] : [img.shape[2], img.shape[3]];
    const size = inputSize(s);
    if ((typeof h === 'number' && h !== size.height) || (typeof w === 'number' && w !== size.width)) {
      lines.push(`warning:      the graph takes ${h}x${w} images but the spec makes ${size.height}x${size.width}; pass --resize/--crop (e.g. --resize ${h}x${w} --crop none)`);
    }
  }
  if (i.fingerprint) lines.push(`fingerprint:  ${i.fingerprint}`);
  if (i.text) {
    lines.push(`text tower:   output ${i.text.output}, ${i.text.padding} padding to ${i.text.maxLength} tokens (pad id ${i.text.padId})`);
    for (const t of i.text.inputs) lines.push(`  in  ${t.name}  ${t.type} ${shapeStr(t.shape)}`);
    for (const t of i.text.outputs) lines.push(`  out ${t.name}  ${t.type} ${shapeStr(t.shape)}`);
  }
  return lines.join('\n');
}

