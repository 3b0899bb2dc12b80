/**
 * Where `--crop face` becomes a spec field: the flag asks for "this model's face framing"
 * (`faceCrop`), resolved here, once, before a model loads, into `spec.face` (the eye positions,
 * recorded with every index like the rest of the spec, so queries are cropped the same way and the
 * compatibility rule sees it). A preset that crops faces by default stops doing so when a crop is
 * given explicitly (`--crop none`, `--crop 224`, or the full spec an index recorded without a face).
 */
import type { ModelSpec } from './spec.ts';
import { ARCFACE_FRAMING } from './face-align.ts';

/**
 * The framing `--crop face` gives a model: its preset's default face crop, else ArcFace's template
 * (the best framing measured for every face preset, faceres included: docs/faces.md).
 */
export function faceFramingOf(presetSpec: Partial<ModelSpec> | undefined): NonNullable<ModelSpec['face']> {
  return presetSpec?.face ?? ARCFACE_FRAMING;
}

/**
 * Turn `faceCrop` (the flag) into `face` (the spec field) for a model with these preset spec fields,
 * and drop the preset's default face crop when the caller set the crop itself.
 */
export function resolveFaceCrop(presetSpec: Partial<ModelSpec> | undefined, o: Partial<ModelSpec> & { faceCrop?: boolean }): { presetSpec?: Partial<ModelSpec>; overrides: Partial<ModelSpec> } {
  const { faceCrop, ...overrides } = o;
  if (faceCrop) return { presetSpec, overrides: { ...overrides, face: faceFramingOf(presetSpec) } };
  if (presetSpec?.face && overrides.crop !== undefined && overrides.face === undefined) {
    const { face: _, ...rest } = presetSpec;
    return { presetSpec: rest, overrides };
  }
  return { presetSpec, overrides };
}
