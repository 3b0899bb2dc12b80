/** `lookalike whiten INDEX|--data DIR --out whiten.onnx`: learn PCA-whitening and write it as a head for --head. */
import { Command } from 'commander';
import { addModelOptions, modelSettings, printJson, skipReporter, type ModelFlags } from './flags.ts';
import { printOut } from './io.ts';

interface WhitenFlags extends ModelFlags {
  data?: string;
  labels?: string;
  supervised?: boolean;
  dims?: string;
  shrinkage?: string;
  out: string;
}

/** The `whiten` command. */
export function whitenCommand(): Command {
  const cmd = new Command('whiten')
    .description('learn PCA-whitening (shrinkage, dimensions; supervised from matching pairs with labels) and write it as a head for --head')
    .argument('[index]', 'index built without a head: learn from its vectors')
    .option('--data <dir>', 'or learn from this folder\'s images, embedded with --model')
    .option('--labels <csv>', 'path,label: learn from matching pairs (rows sharing a label)')
    .option('--supervised', 'with --data: labels from class folders (DIR/<class>/...)')
    .option('--dims <n>', 'output dimensions (default: every direction the rows span, at most the input\'s)')
    .option('--shrinkage <s>', 'shrink eigenvalues toward their mean, 0..1 (0 = plain whitening; default 0.1)')
    .requiredOption('-o, --out <file>', 'head file to write (.onnx)')
    .option('--json', 'print the report as JSON');
  addModelOptions(cmd);
  cmd.addHelpText('after', `
The head L2-normalises its input, subtracts the mean and projects onto the whitened directions;
use it with the same model everywhere (index, search, compete, eval, serve). docs/ranking.md.

Example:
  lookalike index ./photos --model mobilenet-v2-imagenet --out photos.lkx
  lookalike whiten photos.lkx --shrinkage 0.1 --out whiten.onnx
  lookalike index ./photos --model mobilenet-v2-imagenet --head whiten.onnx --out photos-w.lkx
  lookalike whiten --data ./train --supervised --model mobilenet-v2-imagenet --dims 256 --out lw.onnx`);
  cmd.action(async (index: string | undefined, o: WhitenFlags) => {
    const api = await import('../api.ts');
    const skips = skipReporter(o.json);
    const { data, labels, supervised, dims, shrinkage, out } = o;
    const r = await api.whiten({ index, data, labels, supervised, dims, shrinkage, out, model: data ? modelSettings(o) : undefined, onSkip: skips.report });
    if (o.json) printJson({ ...r, variances: r.variances.slice(0, 10), skipped: skips.list });
    else printOut(`${out}: ${r.supervised ? 'supervised ' : ''}whitening ${r.inputDim} -> ${r.outputDim} dims from ${r.rows} rows of ${r.source} (model ${r.model}, shrinkage ${r.shrinkage}); use it with --model ${r.model} --head ${out}\n`);
  });
  return cmd;
}
