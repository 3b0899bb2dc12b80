/** Experiments on a captions dataset: image<->text R@K equal to `eval --captions`; not-applicable cells for models without a text tower and for tuning modes; the report shows them. */
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { tinyCnn } from '../../src/models/tiny.ts';
import { readExperimentConfig } from '../../src/experiments/experiment-config.ts';
import { runExperiment } from '../../src/experiments/runner.ts';
import { readRuns } from '../../src/experiments/run-records.ts';
import { buildReport } from '../../src/experiments/report.ts';
import { runCaptionEval } from '../../src/embed/text-queries.ts';
import { solidPng, writeClipFolder } from '../fixtures/hf.ts';
import { spawnSync } from 'node:child_process';
import { ROOT, tmpDir } from '../helpers/tmp.ts';

test('captions protocol: R@K equal eval --captions; n/a for a model without a text tower and for tuning modes', async () => {
  const dir = tmpDir('lookalike-exp-cap-');
  const clip = writeClipFolder(path.join(dir, 'clip')).dir;
  fs.writeFileSync(path.join(dir, 'tiny.onnx'), tinyCnn());
  const coco = path.join(dir, 'coco');
  fs.mkdirSync(path.join(coco, 'images'), { recursive: true });
  await solidPng(path.join(coco, 'images/r.png'), [230, 20, 20]);
  await solidPng(path.join(coco, 'images/r2.png'), [200, 60, 40]);
  await solidPng(path.join(coco, 'images/g.png'), [20, 230, 20], 50, 30);
  await solidPng(path.join(coco, 'images/b.png'), [20, 20, 230]);
  await solidPng(path.join(coco, 'images/p.png'), [150, 30, 200]);
  // Ambiguous captions (two red images, "a dress", a purple one) so R@1 is below 1 and the numbers say something.
  fs.writeFileSync(
    path.join(coco, 'captions.csv'),
    'path,caption\nimages/r.png,a red dress\nimages/r2.png,red\nimages/g.png,green car\nimages/b.png,"blue, blue dog"\nimages/p.png,a red and blue dress\nimages/p.png,a dress\nimages/r.png,photo of a red dog\n',
  );
  fs.writeFileSync(
    path.join(dir, 'exp.yaml'),
    `name: cap
store: runs
cache: cache
ks: [1, 2, 5]
models:
  - {name: clip, model: clip}
  - {name: tiny, model: tiny.onnx, flags: {resize: 32x32, crop: none}}
datasets:
  - {name: coco, path: coco, protocol: captions}
modes:
  - frozen
  - {name: tune-ce, kind: tune, loss: cross-entropy, epochs: 2}
  - projection
`,
  );
  // The dry run already says which cells cannot apply, and why.
  const dry = spawnSync(process.execPath, [path.join(ROOT, 'bin/lookalike.js'), 'experiment', path.join(dir, 'exp.yaml'), '--dry-run'], { encoding: 'utf8' });
  assert.equal(dry.status, 0, dry.stderr);
  assert.match(dry.stdout, /cap: 6 runs \(0 finished, 6 to run\)/);
  assert.match(dry.stdout, /clip__coco__frozen\n/);
  assert.match(dry.stdout, /tiny__coco__frozen {2}\(n\/a: .*tiny\.onnx is a single file with no text tower/);
  assert.match(dry.stdout, /clip__coco__tune-ce {2}\(n\/a: tune mode: the captions protocol of coco has no labels to tune on/);
  const c = readExperimentConfig(path.join(dir, 'exp.yaml'));
  assert.equal(c.datasets[0].captions, path.join(coco, 'captions.csv'));
  const r = await runExperiment(c, { quiet: true });
  assert.equal(r.ran, 6);
  // Only the CLIP-like model's images were embedded: the tiny CNN's cell is n/a before any embedding.
  assert.equal(r.embeddedNow, 5);
  const runs = readRuns(path.join(dir, 'runs'));
  const byId = new Map(runs.map((x) => [x.id, x]));
  const frozen = byId.get('clip__coco__frozen')!;
  assert.equal(frozen.status, 'finished', frozen.reason);
  const ref = await runCaptionEval(undefined, { captions: path.join(coco, 'captions.csv'), model: clip, ks: [1, 2, 5] });
  for (const k of [1, 2, 5]) {
    assert.equal(frozen.metrics[`i2t_r@${k}`], ref.imageToText[k], `i2t_r@${k}`);
    assert.equal(frozen.metrics[`t2i_r@${k}`], ref.textToImage[k], `t2i_r@${k}`);
  }
  assert.ok(frozen.metrics['t2i_r@1'] < 1 && frozen.metrics['t2i_r@5'] === 1, JSON.stringify(frozen.metrics));
  assert.equal(frozen.counts.queries, 7);
  assert.ok(fs.existsSync(path.join(dir, 'runs/cap/clip__coco__frozen/captions.json')));
  const tiny = byId.get('tiny__coco__frozen')!;
  assert.equal(tiny.status, 'not-applicable');
  assert.match(tiny.reason!, /tiny\.onnx is a single file with no text tower.*needs a text-image model/);
  for (const id of ['clip__coco__tune-ce', 'clip__coco__projection', 'tiny__coco__tune-ce']) {
    assert.equal(byId.get(id)!.status, 'not-applicable', id);
    assert.match(byId.get(id)!.reason!, /the captions protocol of coco has no labels to tune on/);
  }
  // Re-running does nothing: not-applicable cells count as done.
  const again = await runExperiment(readExperimentConfig(path.join(dir, 'exp.yaml')), { quiet: true });
  assert.equal(again.ran, 0);
  assert.equal(again.embeddedNow, 0);
  // The report adds the caption tables and shows n/a cells with their reason.
  const rep = await buildReport(runs, { store: path.join(dir, 'runs') });
  // One table per dataset, every metric a column (issue 21's report).
  assert.match(rep.markdown, /## coco\n\n\| model \| mode \| i2t_r@1 \| t2i_r@1 \|/);
  assert.match(rep.markdown, /\| tiny \| frozen \| n\/a \|/);
  assert.match(rep.markdown, /5 not applicable \(n\/a\)/);
  assert.match(rep.html, /<td class="na" title="[^"]*no text tower[^"]*">n\/a<\/td>/);
  assert.match(rep.markdown, new RegExp(`\\| clip \\| frozen \\| \\*\\*${frozen.metrics['i2t_r@1'].toFixed(4)}\\*\\* \\|`));
});
