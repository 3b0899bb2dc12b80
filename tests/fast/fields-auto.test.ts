/** Automatic fields (src/data/fields/auto.ts) from real image files made with sharp: header, file facts and EXIF date/camera. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { AUTO_FIELDS, autoFields } from '../../src/data/fields/auto.ts';
import { checkFields } from '../../src/data/fields/sidecar.ts';
import { tmpDir } from '../helpers/tmp.ts';

const dir = tmpDir('lookalike-auto-');
const pixels = () => sharp({ create: { width: 12, height: 8, channels: 3, background: { r: 200, g: 10, b: 10 } } });

test('a JPEG with EXIF: label, folder, size, mtime, width, height, format, taken, camera', async () => {
  const rel = 'shoes/red/a.jpg';
  const abs = path.join(dir, rel);
  fs.mkdirSync(path.dirname(abs), { recursive: true });
  await pixels()
    .jpeg()
    .withExif({ IFD0: { Make: 'Canon', Model: 'EOS 5D' }, IFD2: { DateTimeOriginal: '2024:05:01 10:20:30', OffsetTimeOriginal: '+02:00' } })
    .toFile(abs);
  const mtime = new Date('2025-02-03T04:05:06.789Z');
  fs.utimesSync(abs, mtime, mtime);
  const f = await autoFields(abs, rel);
  assert.deepEqual(f, {
    label: 'shoes',
    folder: 'shoes/red',
    size: fs.statSync(abs).size,
    mtime: '2025-02-03T04:05:06.789Z',
    width: 12,
    height: 8,
    format: 'jpeg',
    taken: '2024-05-01T08:20:30.000Z',
    camera: 'Canon EOS 5D',
  });
  // The automatic fields pass the same checks as user fields, with the declared types.
  assert.deepEqual(checkFields(f, AUTO_FIELDS, rel).fields, f);
});

test('EXIF without a zone is UTC; a model that repeats the make is not doubled; orientation swaps width and height', async () => {
  const abs = path.join(dir, 'b.jpg');
  await pixels()
    .jpeg()
    .withMetadata({ orientation: 6 })
    .withExifMerge({ IFD0: { Make: 'NIKON CORPORATION', Model: 'NIKON CORPORATION D850' }, IFD2: { DateTimeOriginal: '2019:12:31 23:59:58' } })
    .toFile(abs);
  const f = await autoFields(abs, 'b.jpg');
  assert.equal(f.taken, '2019-12-31T23:59:58.000Z');
  assert.equal(f.camera, 'NIKON CORPORATION D850');
  assert.equal(f.label, undefined); // at the root: no class folder
  assert.equal(f.folder, '');
  assert.deepEqual([f.width, f.height], [8, 12]);
});

test('a PNG without EXIF has neither taken nor camera', async () => {
  const abs = path.join(dir, 'bags', 'c.png');
  fs.mkdirSync(path.dirname(abs), { recursive: true });
  await pixels().png().toFile(abs);
  const f = await autoFields(abs, 'bags/c.png');
  assert.equal(f.format, 'png');
  assert.equal(f.label, 'bags');
  assert.ok(!('taken' in f) && !('camera' in f), JSON.stringify(f));
  assert.deepEqual(Object.keys(f).sort(), ['folder', 'format', 'height', 'label', 'mtime', 'size', 'width']);
});

test('a file that is not an image is an error naming it', async () => {
  const abs = path.join(dir, 'notes.jpg');
  fs.writeFileSync(abs, 'not an image');
  await assert.rejects(autoFields(abs, 'notes.jpg'), /^Error: notes\.jpg: cannot read the image header/);
});
