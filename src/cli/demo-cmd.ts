/** `lookalike demo`: the main job end to end on data at hand (the library's runDemo), printed. */
import { Command } from 'commander';
import { lazyProgress, partProgress, printJson } from './flags.ts';
import { printOut, printErr } from './io.ts';

interface DemoFlags {
  data?: string;
  model?: string;
  k: string;
  work?: string;
  json?: boolean;
}

/** The `demo` command. */
export function demoCommand(): Command {
  return new Command('demo')
    .description('main job on bundled/generated data: index a dataset, search it with every image, score it; then a scored competition submission')
    .option('--data <dir>', 'folder with labels.csv (path,label); default ../shared/datasets/ukbench56, else generated images')
    .option('-m, --model <model>', 'model to use; default: mobilenet-v2-imagenet when on LOOKALIKE_MODELS or ../shared/models, else the nsfwjs mobilenet-v2, else a tiny generated ONNX encoder')
    .option('-k, --k <k>', 'neighbours per query', '4')
    .option('--work <dir>', 'where the index and generated files go (default: a temp folder)')
    .option('--json', 'print JSON')
    .addHelpText('after', `
Example:
  lookalike demo
  lookalike demo --data ../shared/datasets/clothing10 --model mobilenet-v2-imagenet
  LOOKALIKE_MODELS=~/models lookalike demo`)
    .action(async (o: DemoFlags) => {
      const api = await import('../api.ts');
      const bar = lazyProgress('embedding', o.json);
      const parts = partProgress(o.json);
      const r = await api
        .runDemo({ data: o.data, model: o.model, k: api.checkK(o.k), work: o.work, log: (s) => (o.json ? undefined : printErr(`${s}\n`)), onProgress: bar.update, compete: parts })
        .finally(() => (bar.end(), parts.end()));
      const { examples, competition, ...summary } = r;
      if (o.json) return printJson({ ...summary, competition });
      for (const e of examples) {
        printOut(`${e.query} [${e.label}]\n`);
        e.hits.forEach((h, i) => printOut(`  ${h.rank}. ${h.score.toFixed(3)} ${h.id} [${e.hitLabels[i]}]\n`));
      }
      const note = r.model_note ? ` (${r.model_note})` : '';
      printOut(`\n${r.data}: ${r.images} images, model ${r.model}${note}\n${r.protocol}, ${r.queries_scored} queries: ` + Object.entries(r.metrics).map(([m, v]) => `${m} ${v.toFixed(3)}`).join('  ') + `\nindex: ${r.index}  (browse it: lookalike serve ${r.index})\n`);
      if (competition) printOut(`\n${competition.dir}: ${competition.queries} queries, model ${competition.model}: weighted top-k ${competition.weighted_topk.toFixed(1)} / 1000, hit@1 ${competition.hit1.toFixed(3)}\nsubmission: ${competition.out}\n`);
    });
}
