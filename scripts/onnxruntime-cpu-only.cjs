// `preinstall` of the installed package: keep onnxruntime-node's postinstall from downloading.
//
// onnxruntime-node ships its CPU binaries for every platform inside its npm tarball. Its
// postinstall (script/install.js) downloads only the CUDA/TensorRT provider libraries that
// install-metadata.js lists for the platform (linux/x64: from api.nuget.org), and it fails the
// whole `npm install` when that host cannot be reached. It skips the download when it is told
// to (ONNXRUNTIME_NODE_INSTALL or the npm config onnxruntime-node-install, set by the user) or
// when the listed files already exist. A dependency cannot pass config to a sibling, but npm
// (7 and later) runs every package's preinstall before any postinstall, so this script writes
// a small marker file in place of each missing provider library; onnxruntime-node then finds
// its list complete and downloads nothing. lookalike runs on the CPU; `--device cuda` spots the
// markers and says how to get the real libraries:
//   ONNXRUNTIME_NODE_INSTALL=cuda12 npm rebuild onnxruntime-node
// An explicit choice (ONNXRUNTIME_NODE_INSTALL / onnxruntime-node-install, or the older
// *_CUDA forms) is left to onnxruntime-node. Nothing here fails an install.
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const MARKER = 'lookalike-retrieval: placeholder for an onnxruntime-node CUDA provider library that was not downloaded\n';

function main() {
  const flags = ['ONNXRUNTIME_NODE_INSTALL', 'npm_config_onnxruntime_node_install', 'ONNXRUNTIME_NODE_INSTALL_CUDA', 'npm_config_onnxruntime_node_install_cuda'];
  if (flags.some((f) => process.env[f])) return;
  let dir;
  try {
    dir = path.dirname(require.resolve('onnxruntime-node/package.json', { paths: [path.join(__dirname, '..')] }));
  } catch {
    return; // not installed (yet): nothing to do
  }
  const meta = require(path.join(dir, 'script', 'install-metadata.js'));
  const platform = `${os.platform()}/${os.arch()}`;
  const bin = path.join(dir, 'bin', 'napi-v6', platform);
  if (!fs.existsSync(bin)) return;
  for (const name of meta.requirements?.[platform] ?? []) {
    for (const file of Object.keys(meta.manifests?.[`${platform}:${name}`] ?? {})) {
      const f = path.join(bin, file);
      if (!fs.existsSync(f)) fs.writeFileSync(f, MARKER);
    }
  }
}

try {
  main();
} catch (e) {
  process.stderr.write(`lookalike-retrieval preinstall: ${e && e.message} (onnxruntime-node may try to download its CUDA provider; set ONNXRUNTIME_NODE_INSTALL=skip to stop it)\n`);
}
