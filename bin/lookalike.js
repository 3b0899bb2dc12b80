#!/usr/bin/env node
// Entry point. Runs the compiled JavaScript in dist/ (built by `npm run build`, which `prepare`
// runs on install) with no runtime transpiler. In a development checkout where src/ is newer
// than the last build (or dist/ is absent), registers tsx and runs the TypeScript sources. An
// installed package has no src/ and always runs dist/ (tsx is only a devDependency).
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = new URL('../', import.meta.url);
const stamp = new URL('dist/.built', root);
const src = fileURLToPath(new URL('src/', root));

/** True when dist/ holds a build at least as new as every file under src/ (or there is no src/). */
function distIsFresh() {
  let built;
  try {
    built = fs.statSync(stamp).mtimeMs;
  } catch {
    return false;
  }
  if (!fs.existsSync(src)) return true;
  for (const f of fs.readdirSync(src, { recursive: true })) {
    if (fs.statSync(src + f).mtimeMs > built) return false;
  }
  return true;
}

let main;
if (!fs.existsSync(src) || (process.env.LOOKALIKE_TSX !== '1' && distIsFresh())) {
  ({ main } = await import('../dist/cli/main.js'));
} else {
  const { register } = await import('tsx/esm/api');
  register();
  ({ main } = await import('../src/cli/main.ts'));
}
await main(process.argv);
