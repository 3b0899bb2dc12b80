/** `lookalike models list|info|fetch`: named presets, model descriptions, Hub downloads. */
import { Command } from 'commander';
import { addModelOptions, printJson, type ModelFlags } from './flags.ts';
import { printOut, printErr } from './io.ts';

/** The `models` command with its subcommands. */
export function modelsCommand(): Command {
  const cmd = new Command('models').description('list presets, describe a model, download a preset or Hub model into the cache');
  cmd.addHelpText('after', `
Example:
  lookalike models list
  lookalike models info clip-vit-b32
  lookalike models info ./my-model.onnx --json
  lookalike models fetch clip-vit-b32 --dtype quantized`);

  cmd
    .command('list')
    .description('named presets of every kind: family, input, embedding size, licence, source, and whether the files are on this machine now')
    .option('--json', 'print as JSON (with weights origin, location and how to fetch)')
    .addHelpText('after', `
Example:
  lookalike models list
  LOOKALIKE_MODELS=../shared/models lookalike models list --json
"available" is yes when the files are on this machine: npm presets when the package is installed,
Hub presets in the cache or on the model search path, path: presets on LOOKALIKE_MODELS or in
~/.cache/lookalike/models.`)
    .action(async (o: { json?: boolean }) => {
      const api = await import('../api.ts');
      const rows = api.listModels();
      if (o.json) return printJson(rows);
      const head = ['name', 'family', 'input', 'dim', 'text', 'licence', 'source', 'available'];
      const table = rows.map((r) => [r.name, r.family, r.input, String(r.dim), r.text ? 'yes' : 'no', r.licence, r.source, r.available ? 'yes' : 'no']);
      const w = head.map((h, i) => Math.max(h.length, ...table.map((t) => t[i].length)));
      const line = (cells: string[]) => cells.map((c, i) => c.padEnd(w[i])).join('  ').trimEnd();
      printOut([line(head), ...table.map(line)].join('\n') + '\n');
    });

  const info = new Command('info')
    .description('inputs, outputs, shapes, preprocessing, output/pooling and fingerprint of a model')
    .argument('<model>', '.onnx file, Hugging Face folder, preset name or Hub id (never downloads)')
    .option('--json', 'print as JSON');
  addModelOptions(info);
  info.addHelpText('after', `
Example:
  lookalike models info ./clip-vit-base-patch32
  lookalike models info model.onnx --output last_hidden_state --pooling mean`);
  info.action(async (model: string, o: ModelFlags) => {
    const api = await import('../api.ts');
    const i = await api.modelInfo(model, { overrides: api.specOverrides(o), dtype: o.dtype, feature: o.feature, runtime: api.runtimeOf(o) });
    if (o.json) printJson(i);
    else printOut(api.formatInfo(i) + '\n');
  });
  cmd.addCommand(info);

  cmd
    .command('fetch')
    .description('download a preset or Hub model (config, preprocessor, tokenizer, ONNX towers) into the cache')
    .argument('<id>', 'preset name or Hugging Face id (owner/name)')
    .option('--dtype <dtype>', 'weight variant: fp32, fp16, quantized, int8, uint8, q4', 'fp32')
    .option('--no-text', 'skip the text tower')
    .addHelpText('after', `
Example:
  lookalike models fetch clip-vit-b32
  lookalike models fetch Xenova/dinov2-small --dtype quantized
Files go to $LOOKALIKE_CACHE/hub/<owner>/<name> (default ~/.cache/lookalike).`)
    .action(async (id: string, o: { dtype: string; text: boolean }) => {
      const api = await import('../api.ts');
      const dir = await api.fetchModel(id, { dtype: o.dtype, text: o.text, log: (l) => printErr(`${l}\n`) });
      printOut(`${dir}\n`);
    });
  return cmd;
}
