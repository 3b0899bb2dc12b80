// `npm run build` (also run by `prepare` on install): compile src/ to dist/ (JavaScript +
// .d.ts, relative .ts imports rewritten to .js), copy the web page's static files, and stamp
// the build so bin/lookalike.js knows dist/ is current.
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = path.join(root, 'dist');
const started = new Date();
fs.rmSync(dist, { recursive: true, force: true });
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const r = spawnSync(process.execPath, [tsc, '-p', path.join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
if (r.status !== 0) process.exit(r.status ?? 1);
const page = path.join(root, 'src/serve/page');
if (fs.existsSync(page)) fs.cpSync(page, path.join(dist, 'serve/page'), { recursive: true });
// The stamp carries the time the build started: a source edited during the build counts as newer.
const stamp = path.join(dist, '.built');
fs.writeFileSync(stamp, started.toISOString() + '\n');
fs.utimesSync(stamp, started, started);
