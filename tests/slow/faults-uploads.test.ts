/**
 * Decoding is bounded by memory (docs/reliability.md): 32 hostile 100-megapixel uploads (tiny
 * WebP and PNG files) and 4 of 36 megapixels sent in parallel with 1,000 normal searches to a real
 * `lookalike serve` on loopback: every request is answered (413 for the hostile ones) and the
 * server's peak RSS stays under RSS_BOUND_MB. A watchdog kills the server as soon as it passes
 * the bound, so a regression fails fast instead of exhausting the machine.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { classImage } from '../../src/data/synthetic.ts';
import { runCli } from '../helpers/cli.ts';
import { startServeProc } from '../helpers/serve-proc.ts';
import { tinyCnn } from '../../src/models/tiny.ts';
import { tmpDir } from '../helpers/tmp.ts';

/** Peak resident memory the server may reach (VmHWM): its own size (~200 MB with the tiny model) plus one 40-megapixel decoding budget (3 bytes a pixel, and the resampler's buffers). */
const RSS_BOUND_MB = 600;

/** A Hugging Face-layout folder holding the tiny CNN: its preprocessing resizes through the Pillow path, which decodes the whole image (the costly case). */
function writeHfCnn(dir: string): string {
  fs.mkdirSync(path.join(dir, 'onnx'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ model_type: 'mobilenet_v2', hidden_size: 16 }));
  fs.writeFileSync(path.join(dir, 'preprocessor_config.json'), JSON.stringify({ do_resize: true, size: { height: 32, width: 32 }, resample: 2, do_center_crop: false, rescale_factor: 1 / 255, image_mean: [0.5, 0.5, 0.5], image_std: [0.5, 0.5, 0.5] }));
  fs.writeFileSync(path.join(dir, 'onnx', 'model.onnx'), tinyCnn({ seed: 1 }));
  return dir;
}

const solid = (width: number, height: number) => sharp({ create: { width, height, channels: 3, background: { r: 200, g: 40, b: 90 } } });

test('32 hostile 100-megapixel uploads and 1,000 normal searches in parallel: every request answered, peak server RSS under the bound', async () => {
  const dir = tmpDir();
  const model = writeHfCnn(path.join(dir, 'model'));
  const gal = path.join(dir, 'gallery');
  fs.mkdirSync(gal);
  const ids: string[] = [];
  for (let i = 0; i < 12; i++) {
    fs.writeFileSync(path.join(gal, `img-${i}.jpg`), await classImage(i % 4, i));
    ids.push(`img-${i}.jpg`);
  }
  const out = path.join(dir, 'g.lkx');
  const r = await runCli(['index', gal, '--model', model, '--out', out]);
  assert.equal(r.status, 0, r.stderr);
  // Tiny files, huge dimensions (the 260 KB WebP of 100 megapixels), and a few large but allowed ones.
  const webp = await solid(10_000, 10_000).webp({ quality: 10, effort: 0 }).toBuffer();
  const png = await solid(10_000, 10_000).png({ compressionLevel: 9 }).toBuffer();
  const big = await solid(6_000, 6_000).png({ compressionLevel: 9 }).toBuffer();
  const small = await classImage(1, 99);
  assert.ok(webp.length < 400_000 && png.length < 400_000, `${webp.length} ${png.length}`);

  const server = await startServeProc([out, '--no-watch']);
  let peak = 0;
  let over = false;
  const watchdog = setInterval(() => {
    peak = Math.max(peak, server.peakRssMb());
    if (peak > RSS_BOUND_MB && !over) {
      over = true;
      server.proc.kill('SIGKILL');
    }
  }, 50);
  try {
    const post = async (body: Buffer, type: string) => {
      try {
        const res = await fetch(`${server.url}/search?k=3`, { method: 'POST', body: new Uint8Array(body), headers: { 'content-type': type }, signal: AbortSignal.timeout(120_000) });
        await res.arrayBuffer();
        return res.status;
      } catch {
        return 0; // unanswered (or the server was killed by the watchdog)
      }
    };
    const hostile = Promise.all(Array.from({ length: 32 }, (_, i) => post(i % 2 ? webp : png, i % 2 ? 'image/webp' : 'image/png')));
    const large = Promise.all(Array.from({ length: 4 }, () => post(big, 'image/png')));
    // 1,000 normal searches, 16 at a time: half by uploaded image, half by id.
    const normal: number[] = [];
    let next = 0;
    const worker = async () => {
      while (next < 1000) {
        const i = next++;
        if (i % 2) normal.push(await post(small, 'image/jpeg'));
        else {
          const res = await fetch(`${server.url}/search?id=${ids[i % ids.length]}&k=5`, { signal: AbortSignal.timeout(120_000) }).catch(() => undefined);
          await res?.arrayBuffer();
          normal.push(res?.status ?? 0);
        }
      }
    };
    const [h, l] = await Promise.all([hostile, large, ...Array.from({ length: 16 }, worker)]);
    peak = Math.max(peak, server.peakRssMb());
    assert.ok(!over, `peak RSS passed ${RSS_BOUND_MB} MB (killed)`);
    assert.deepEqual(h, Array(32).fill(413), 'every hostile upload is refused from its header');
    for (const s of l) assert.ok(s === 200 || s === 503, `a 36-megapixel upload got ${s}`);
    assert.equal(normal.length, 1000);
    assert.deepEqual([...new Set(normal)], [200], 'every normal search answered 200');
    assert.ok(peak < RSS_BOUND_MB, `peak RSS ${peak} MB`);
    console.log(`# peak server RSS ${peak.toFixed(0)} MB (bound ${RSS_BOUND_MB} MB); 36 MP uploads: ${l.join(' ')}; load ${fs.readFileSync('/proc/loadavg', 'utf8').trim()}`);
  } finally {
    clearInterval(watchdog);
    await server.stop('SIGTERM', 5000);
  }
});
