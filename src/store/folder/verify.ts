/**
 * `lookalike verify`: re-read every file of a folder store and check it against the manifest:
 * sizes, .npy headers, sha256 checksums, ids (the id files against the sidecars), that every
 * row is unit length (so even a v1 index without checksums is checked for corrupt rows), and the
 * ANN graph's files against ann.json.
 */
import fs from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { readManifest } from './manifest.ts';
import { FolderStore } from './store.ts';
import { MANIFEST } from './names.ts';
import { checkSidecar, readChecked, readCheckedJson } from './segments.ts';
import { decodeIds, MemIds } from './id-list.ts';
import { verifyAnnFiles } from '../ann.ts';

/** The outcome of a verification: problems (one line each, naming the file) and what was checked. */
export interface VerifyReport {
  location: string;
  version: number;
  files: number;
  rows: number;
  problems: string[];
  notes: string[];
}

/** Hash a file and check its rows' norms, streaming whole rows (bounded memory). */
function scanNpy(file: string, dim: number, dataOffset: number, problems: string[]): string {
  const h = createHash('sha256');
  const fd = fs.openSync(file, 'r');
  try {
    const size = fs.fstatSync(fd).size;
    const head = Buffer.alloc(Math.min(dataOffset, size));
    fs.readSync(fd, head, 0, head.length, 0);
    h.update(head);
    const rowBytes = Math.max(4, dim * 4);
    const chunk = Buffer.alloc(Math.max(1, Math.floor((8 << 20) / rowBytes)) * rowBytes);
    let pos = head.length;
    let row = 0;
    let bad = 0;
    let firstBad = -1;
    while (pos < size) {
      const n = fs.readSync(fd, chunk, 0, Math.min(chunk.length, size - pos), pos);
      if (n <= 0) break;
      h.update(chunk.subarray(0, n));
      for (let o = 0; dim > 0 && o + rowBytes <= n; o += rowBytes, row++) {
        let s = 0;
        for (let d = 0; d < dim; d++) {
          const v = chunk.readFloatLE(o + 4 * d);
          s += v * v;
        }
        if (!(s === 0 || Math.abs(Math.sqrt(s) - 1) < 1e-3)) {
          bad++;
          if (firstBad < 0) firstBad = row;
        }
      }
      pos += n;
    }
    if (bad) problems.push(`${file}: ${bad} row(s) are not unit length (first: row ${firstBad}): the file is corrupt`);
  } finally {
    fs.closeSync(fd);
  }
  return h.digest('hex');
}

/** Verify a folder store; never throws for a bad file (it is reported), only for a missing index. */
export async function verifyFolder(location: string): Promise<VerifyReport> {
  const dir = path.resolve(location);
  const report: VerifyReport = { location, version: 0, files: 0, rows: 0, problems: [], notes: [] };
  let m;
  try {
    m = readManifest(dir);
  } catch (e) {
    if (!fs.existsSync(path.join(dir, MANIFEST))) throw e;
    report.problems.push((e as Error).message);
    return report;
  }
  report.version = m.version;
  // Opening checks sizes, headers, sidecar checksums, ids and tombstones.
  try {
    const s = await FolderStore.open(location);
    report.rows = await s.count();
    await s.close();
  } catch (e) {
    report.problems.push((e as Error).message);
  }
  if (m.version === 1) {
    report.notes.push('v1 index: no checksums stored; sizes, headers, ids and row norms checked (any write, or `lookalike compact`, migrates it to v2 with checksums)');
    const npy = path.join(dir, 'embeddings.npy');
    if (fs.existsSync(npy)) {
      const head = Buffer.alloc(4096);
      const fd = fs.openSync(npy, 'r');
      fs.readSync(fd, head, 0, head.length, 0);
      fs.closeSync(fd);
      const off = 10 + head.readUInt16LE(8);
      scanNpy(npy, m.dim, off, report.problems);
      report.files = 1;
    }
    return report;
  }
  for (const seg of m.segments) {
    const file = path.join(dir, seg.npy.file);
    report.files += 2;
    if (!fs.existsSync(file)) {
      report.problems.push(`${file}: missing (the manifest lists it)`);
      continue;
    }
    const size = fs.statSync(file).size;
    if (size !== seg.npy.bytes) {
      report.problems.push(`${file}: ${size} bytes, the manifest says ${seg.npy.bytes} (truncated or changed)`);
      continue;
    }
    const off = size - seg.rows * m.dim * 4;
    const sum = scanNpy(file, m.dim, off, report.problems);
    if (sum !== seg.npy.sha256) report.problems.push(`${file}: checksum mismatch (sha256 ${sum.slice(0, 12)}, manifest ${seg.npy.sha256.slice(0, 12)}): the file is corrupt`);
  }
  for (const seg of m.segments) {
    // Opening reads only the id files; the sidecars (records) are checked here, and against them.
    const sideFile = path.join(dir, seg.ids.file);
    try {
      const side = checkSidecar(readCheckedJson(dir, seg.ids), seg.rows, sideFile);
      new MemIds(side.ids, sideFile, seg.rows);
      if (seg.idx) {
        const idxFile = path.join(dir, seg.idx.file);
        const f = decodeIds(readChecked(dir, seg.idx), idxFile, seg.rows);
        report.files++;
        const r = side.ids.findIndex((id, i) => f.at(i) !== id);
        if (r >= 0) report.problems.push(`${idxFile}: row ${r} holds "${f.at(r)}", the sidecar ${seg.ids.file} says "${side.ids[r]}": the index is inconsistent`);
      }
    } catch (e) {
      report.problems.push((e as Error).message);
    }
  }
  report.problems.push(...verifyAnnFiles(dir));
  report.files += m.tombstones.length;
  report.problems = [...new Set(report.problems)];
  return report;
}
