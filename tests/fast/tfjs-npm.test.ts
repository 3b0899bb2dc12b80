import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { findPackageDir, resolveNpmFile, resolveNpmPreset } from '../../src/models/npm.ts';
import { PRESETS, findPreset } from '../../src/models/presets.ts';
import { loadBackbone } from '../../src/models/load.ts';
import { embedWithBackbone } from '../../src/embed/pipeline.ts';
import { runCli } from '../helpers/cli.ts';
import { tmpDir, SHARED } from '../helpers/tmp.ts';

test('npm presets: present package resolves to the file inside it, nested roots walk up', () => {
  const root = tmpDir('lookalike-npm-');
  const pkg = path.join(root, 'node_modules', '@scope', 'weights');
  fs.mkdirSync(path.join(pkg, 'models'), { recursive: true });
  fs.writeFileSync(path.join(pkg, 'package.json'), '{"name":"@scope/weights","version":"1.2.3"}');
  fs.writeFileSync(path.join(pkg, 'models', 'net.json'), '{}');
  const nested = path.join(root, 'app', 'src');
  fs.mkdirSync(nested, { recursive: true });
  assert.equal(findPackageDir('@scope/weights', { root: nested }), pkg);
  assert.equal(resolveNpmFile('@scope/weights', 'models/net.json', { root: nested }), path.join(pkg, 'models', 'net.json'));
  assert.throws(() => resolveNpmFile('@scope/weights', 'models/other.json', { root }), /@scope\/weights@1\.2\.3 is installed at .* but has no models\/other\.json; run: npm install @scope\/weights/);
});

test('npm presets: an absent package names the npm install that adds it', () => {
  const empty = tmpDir('lookalike-npm-empty-');
  for (const name of ['mobilenet-v2', 'face-mobileface']) {
    const p = findPreset(name)!;
    assert.equal(p.source.kind, 'npm');
    const pkg = p.source.kind === 'npm' ? p.source.package : '';
    assert.throws(() => resolveNpmPreset(p, { root: empty }), (e: Error) => e.message === `model ${name}: needs the npm package ${pkg}, which is not installed; run: npm install ${pkg}`);
  }
});

test('npm presets: every npm preset resolves in this install and carries a tfjs NHWC spec', () => {
  const npm = PRESETS.filter((p) => p.source.kind === 'npm');
  assert.deepEqual(
    ['mobilenet-v2', 'inception-v3', 'face-mobilefacenet', 'face-mobileface', 'face-res'].filter((n) => !npm.some((p) => p.name === n)),
    [],
  );
  for (const p of npm) {
    const file = resolveNpmPreset(p);
    assert.ok(fs.existsSync(file), file);
    assert.equal(p.spec?.format, 'tfjs');
    assert.equal(p.spec?.layout, 'nhwc');
    assert.ok(p.spec?.output, `${p.name} names the node it reads`);
  }
});

test('face-mobileface preset: same person ranks closer than a different person (att-faces)', async () => {
  const img = (s: string) => path.join(SHARED, 'datasets/att-faces/images', s);
  const bb = await loadBackbone('face-mobileface');
  assert.equal(bb.spec.rescale, 1, 'raw 0..255 input');
  const r = await embedWithBackbone(bb, ['s1/1.jpg', 's1/2.jpg', 's2/1.jpg', 's3/1.jpg'].map((id) => ({ id, source: img(id) })));
  await bb.dispose();
  assert.equal(r.dim, 256);
  const dot = (a: number, b: number) => {
    let s = 0;
    for (let k = 0; k < r.dim; k++) s += r.vectors[a * r.dim + k] * r.vectors[b * r.dim + k];
    return s;
  };
  assert.ok(dot(0, 1) > dot(0, 2) && dot(0, 1) > dot(0, 3), `same ${dot(0, 1)} vs others ${dot(0, 2)}, ${dot(0, 3)}`);
});

test('models info describes an npm TF.js preset: file inside the package, NHWC spec, pooled candidates', async () => {
  const r = (await runCli(['models', 'info', 'mobilenet-v2', '--json']));
  assert.equal(r.status, 0, r.stderr);
  const info = JSON.parse(r.stdout);
  assert.match(info.location, /node_modules\/nsfwjs\//);
  assert.equal(info.spec.layout, 'nhwc');
  assert.equal(info.dim, 1280);
  assert.ok(info.candidates.some((c: { name: string }) => c.name === 'flatten_1'));
});
