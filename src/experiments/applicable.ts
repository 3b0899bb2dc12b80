/**
 * Which cells of an experiment cannot apply by design, decided from the config alone: the runner
 * records them as not applicable, and the library exports the check without loading the runner.
 */
import { textTowerMissing } from '../models/text-encoder.ts';
import type { RunPlan } from './experiment-config.ts';

/** Why a cell cannot apply by design (checked before anything is embedded), or undefined. */
export function notApplicable(p: RunPlan): string | undefined {
  const captions = [p.dataset, p.trainDataset].find((x) => x?.protocol === 'captions');
  if (!captions) return undefined;
  if (p.mode.kind !== 'frozen') return `${p.mode.kind} mode: the captions protocol of ${captions.name} has no labels to tune on (only frozen applies)`;
  const why = textTowerMissing(p.model.model, p.model.flags.dtype);
  return why ? `${why}; image<->text retrieval needs a text-image model folder (onnx/text_model.onnx + tokenizer.json: CLIP, SigLIP)` : undefined;
}
