/**
 * A generated corpus of bad files for the fault-injection suite (tests/faults-*.test.ts): each
 * bad entry with the reason lookalike must report, beside good images that must be indexed.
 */
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { spawnSync } from 'node:child_process';
import sharp from 'sharp';
import { classImage } from '../../src/data/synthetic.ts';
import { ROOT } from './tmp.ts';

/** A bad entry: its id in a listing of the corpus and a pattern its skip reason must match. */
export interface BadEntry {
  id: string;
  reason: RegExp;
}

/** What writeFaultCorpus made. */
export interface FaultCorpus {
  dir: string;
  /** Ids that must be indexed (valid images, odd names, CMYK, 16-bit, wrong extension). */
  good: string[];
  /** Entries that must be skipped, with their reason. */
  bad: BadEntry[];
  /** True when the unreadable file and folder really are unreadable to the process under test (see unreadableRunner). */
  unreadable: boolean;
}

function crc32(buf: Buffer): number {
  let c = ~0;
  for (const b of buf) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
  }
  return ~c >>> 0;
}

function chunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, crc]);
}

/** A PNG whose header claims width x height (a few bytes of real data): a decompression bomb's shape. */
export function pngHeaderClaiming(width: number, height: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', zlib.deflateSync(Buffer.alloc(64))), chunk('IEND', Buffer.alloc(0))]);
}

/**
 * How to run the CLI so that chmod 000 really blocks reads. As root (CAP_DAC_OVERRIDE) chmod
 * blocks nothing, so the CLI runs as the `nobody` user (uid 65534) when the checkout is readable
 * by it; otherwise (or off POSIX) the unreadable cases cannot be made and `unreadable` is false.
 */
export function unreadableRunner(): { uid?: number; gid?: number; possible: boolean } {
  if (process.platform === 'win32') return { possible: false };
  if (process.getuid?.() !== 0) return { possible: true };
  const probe = spawnSync(process.execPath, [path.join(ROOT, 'bin/lookalike.js'), '--version'], { uid: 65534, gid: 65534, encoding: 'utf8', env: { ...process.env, HOME: '/tmp', TMPDIR: '/tmp' } });
  return probe.status === 0 ? { uid: 65534, gid: 65534, possible: true } : { possible: false };
}

/** Write the corpus into dir (created, world-readable so the `nobody` runner can list it). */
export async function writeFaultCorpus(dir: string, opts: { unreadable?: boolean } = {}): Promise<FaultCorpus> {
  fs.mkdirSync(dir, { recursive: true });
  const good: string[] = [];
  const bad: BadEntry[] = [];
  const put = (rel: string, data: Buffer | string) => {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), data);
  };
  const jpeg = await classImage(0, 1, 64, 'jpeg');
  const png = await classImage(1, 2, 64, 'png');
  // Good images, some with odd names.
  for (const [rel, data] of [
    ['good/a.jpg', jpeg],
    ['good/b.png', png],
    ['good/with space.jpg', await classImage(2, 3)],
    ['good/ünïcödé 画像.jpg', await classImage(3, 4)],
    ['good/new\nline.jpg', await classImage(4, 5)],
    ['good/png-named.jpg', png], // wrong extension, valid content: decoded by content
    ['good/cmyk.jpg', await sharp(jpeg).toColourspace('cmyk').jpeg().toBuffer()],
    ['good/deep16.png', await sharp(png).toColourspace('rgb16').png().toBuffer()],
  ] as const) {
    put(rel, data);
    good.push(rel);
  }
  // Bad files.
  put('bad/zero.jpg', Buffer.alloc(0));
  bad.push({ id: 'bad/zero.jpg', reason: /^empty file \(0 bytes\)$/ });
  put('bad/truncated.jpg', jpeg.subarray(0, Math.floor(jpeg.length / 2)));
  bad.push({ id: 'bad/truncated.jpg', reason: /^truncated or corrupt image/ });
  put('bad/truncated.png', png.subarray(0, Math.floor(png.length / 2)));
  bad.push({ id: 'bad/truncated.png', reason: /^truncated or corrupt image/ });
  put('bad/text.jpg', 'this is not an image\n');
  bad.push({ id: 'bad/text.jpg', reason: /^not an image \(unrecognised content\)/ });
  put('bad/huge.png', pngHeaderClaiming(30000, 30000));
  bad.push({ id: 'bad/huge.png', reason: /^image too large: 30000x30000/ });
  put('bad/data.bin', Buffer.from([1, 2, 3]));
  bad.push({ id: 'bad/data.bin', reason: /^not an image \(unsupported file type \.bin\)/ });
  put('bad/notes.txt', 'metadata files are ignored, not skipped');
  // Links.
  fs.symlinkSync('.', path.join(dir, 'bad/loop'));
  bad.push({ id: 'bad/loop/', reason: /^symlink loop/ });
  fs.symlinkSync('self.jpg', path.join(dir, 'bad/self.jpg'));
  bad.push({ id: 'bad/self.jpg', reason: /^symlink loop/ });
  fs.symlinkSync('missing-target.jpg', path.join(dir, 'bad/dangling.jpg'));
  bad.push({ id: 'bad/dangling.jpg', reason: /^broken symbolic link/ });
  // A symlinked folder outside the corpus is not followed (without --follow-links); a link to a folder inside it is listed once.
  const outside = `${dir}-linked`;
  fs.mkdirSync(outside, { recursive: true });
  fs.writeFileSync(path.join(outside, 'c.jpg'), await classImage(5, 6));
  fs.symlinkSync(outside, path.join(dir, 'linked'));
  bad.push({ id: 'linked/', reason: /^symbolic link leading out of the folder/ });
  fs.symlinkSync('good', path.join(dir, 'good-again'));
  bad.push({ id: 'good-again/', reason: /^symlinked folder already listed as good/ });
  // Unreadable file and folder.
  if (opts.unreadable) {
    put('locked/secret.jpg', await classImage(6, 7));
    put('bad/locked.jpg', await classImage(7, 8));
    fs.chmodSync(path.join(dir, 'locked'), 0o000);
    fs.chmodSync(path.join(dir, 'bad/locked.jpg'), 0o000);
    bad.push({ id: 'locked/', reason: /^folder not readable \(permission denied\)/ });
    bad.push({ id: 'bad/locked.jpg', reason: /^permission denied$/ });
  }
  for (const d of [dir, outside, path.join(dir, 'good'), path.join(dir, 'bad')]) fs.chmodSync(d, 0o755);
  return { dir, good: good.sort(), bad, unreadable: Boolean(opts.unreadable) };
}
