/**
 * `lookalike demo`: the main job end to end on data at hand. Uses ../shared/datasets/ukbench56
 * when present (else images it draws itself), the best model available (a real preset when its
 * package is installed, else a tiny generated ONNX encoder), builds an index, searches it with
 * every image (self excluded), and prints neighbours and hit rates.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { writeClassFolders } from '../data/synthetic.ts';
import { readLabels } from '../data/labels.ts';
import { tinyCnn } from '../models/tiny.ts';
import { loadBackbone } from '../models/load.ts';
import { buildIndex } from '../index/build.ts';
import { searchByIds } from '../index/search.ts';
import { loadIndex } from '../index/store.ts';
import { lazyProgress, printJson } from './options.ts';

interface DemoFlags {
  data?: string;
  model?: string;
  k: string;
  work?: string;
  json?: boolean;
}

/** Shared datasets folder beside the checkout, if present. */
export function sharedDatasets(): string | undefined {
  const here = path.dirname(new URL(import.meta.url).pathname);
  const d = path.resolve(here, '../../../shared/datasets');
  return fs.existsSync(d) ? d : undefined;
}

/** The `demo` command. */
export function demoCommand(): Command {
  return new Command('demo')
    .description('index a dataset, search it with every image and report hit rates (main job on bundled/generated data)')
    .option('--data <dir>', 'folder with labels.csv (path,label); default ../shared/datasets/ukbench56, else generated images')
    .option('-m, --model <model>', 'model to use; default: a tiny generated ONNX encoder')
    .option('-k, --k <k>', 'neighbours per query', '4')
    .option('--work <dir>', 'where the index and generated files go (default: a temp folder)')
    .option('--json', 'print JSON')
    .addHelpText('after', `
Example:
  lookalike demo
  lookalike demo --data ../shared/datasets/clothing10 --model mobilenet-v2`)
    .action(async (o: DemoFlags) => {
      const work = o.work ?? fs.mkdtempSync(path.join(os.tmpdir(), 'lookalike-demo-'));
      fs.mkdirSync(work, { recursive: true });
      let data = o.data ?? (sharedDatasets() ? path.join(sharedDatasets()!, 'ukbench56') : undefined);
      if (!data || !fs.existsSync(path.join(data, 'labels.csv'))) {
        data = path.join(work, 'images');
        if (!o.json) process.stderr.write(`drawing a synthetic dataset into ${data}\n`);
        await writeClassFolders(data, 12, 5, 1, 64);
      }
      let model = o.model;
      if (!model) {
        model = path.join(work, 'tiny-cnn.onnx');
        fs.writeFileSync(model, tinyCnn({ size: 32, channels: 32, dim: 32 }));
      }
      const backbone = await loadBackbone(model, model.endsWith('tiny-cnn.onnx') ? { overrides: { resize: { mode: 'fixed', height: 32, width: 32 }, crop: null } } : {});
      const out = path.join(work, 'gallery.lkx');
      const bar = lazyProgress('embedding', o.json);
      const report = await buildIndex({ folder: data, out, backbone, rebuild: true, onProgress: bar.update });
      bar.end();
      await backbone.dispose();
      const index = loadIndex(out);
      const labels = new Map(readLabels(path.join(data, 'labels.csv')).map((r) => [r.path, r.label]));
      const ids = index.ids.filter((id) => labels.has(id));
      const k = Number(o.k);
      const results = await searchByIds(index, ids, k, true);
      let hit1 = 0;
      let hitK = 0;
      for (const r of results) {
        const rel = r.hits.map((h) => labels.get(h.id) === labels.get(r.query));
        if (rel[0]) hit1++;
        if (rel.some(Boolean)) hitK++;
      }
      const summary = { data, model, index: out, images: report.total, dim: report.dim, skipped: report.skipped.length, [`hit@1`]: hit1 / results.length, [`hit@${k}`]: hitK / results.length };
      if (o.json) return printJson(summary);
      for (const r of results.slice(0, 3)) {
        process.stdout.write(`${r.query} [${labels.get(r.query)}]\n`);
        for (const h of r.hits) process.stdout.write(`  ${h.rank}. ${h.score.toFixed(3)} ${h.id} [${labels.get(h.id)}]\n`);
      }
      process.stdout.write(`\n${data}: ${report.total} images, model ${model}\nhit@1 ${(summary['hit@1'] as number).toFixed(3)}  hit@${k} ${(summary[`hit@${k}`] as number).toFixed(3)} (leave-one-out, self excluded)\nindex: ${out}\n`);
    });
}
