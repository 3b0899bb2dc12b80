/**
 * Compaction: copy the live rows of some segments (in id order) into one new segment, then
 * commit a manifest that lists it instead of them. Full compaction (all segments) also drops
 * every tombstone. Policy: full when dead rows exceed DEAD_SHARE of all rows; otherwise, when
 * there are more than MAX_SEGMENTS, merge the newest run of segments that together are at
 * least as large as the segment before them (size-tiered, so each row is rewritten O(log n) times).
 * Every segment is checked against the manifest's size and sha256 before it is merged: a corrupt
 * one is never rewritten under a new, valid checksum (which would hide the damage from `verify`).
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { SegmentWriter, readRows, type Segment, type Sidecar } from './segments.ts';
import { FileIds } from './id-list.ts';
import { readManifest, type FileRef, type SegmentRef } from './manifest.ts';
import type { FileRecord } from '../types.ts';

/** Segment count above which small segments are merged. */
export const MAX_SEGMENTS = 8;
/** Share of dead rows above which everything is compacted. */
export const DEAD_SHARE = 0.25;

/** Live rows of a segment. */
export function liveRows(s: Segment): number {
  let n = 0;
  for (let i = 0; i < s.rows; i++) n += s.live[i];
  return n;
}

/** Which segments to merge after a write: the index of the first one, or -1 for none. */
export function mergeFrom(segs: Segment[], force = false): number {
  if (segs.length === 0) return -1;
  const total = segs.reduce((a, s) => a + s.rows, 0);
  const live = segs.reduce((a, s) => a + liveRows(s), 0);
  // A full compaction also rewrites a lone segment whose id file is of the first format (read whole at every open).
  if (force) return segs.length === 1 && live === total && !(segs[0].ids instanceof FileIds) ? -1 : 0;
  if (total > 0 && (total - live) / total > DEAD_SHARE) return 0;
  if (segs.length <= MAX_SEGMENTS) return -1;
  // The newest run in which each segment is no larger than all newer ones together.
  let i = segs.length - 1;
  let newer = segs[i].rows;
  while (i > 0 && segs[i - 1].rows <= newer) newer += segs[--i].rows;
  // Sizes already fall geometrically: merge just enough of the newest to get back to the limit.
  return Math.min(i, MAX_SEGMENTS - 1);
}

/** Check a segment's .npy against its manifest entry (size and sha256), reading through its open descriptor; throws naming the file. */
export function checkSegment(seg: Segment, ref: FileRef): void {
  const size = fs.fstatSync(seg.fd).size;
  const h = createHash('sha256');
  const buf = Buffer.alloc(1 << 20);
  for (let at = 0; at < size; ) {
    const n = fs.readSync(seg.fd, buf, 0, Math.min(buf.length, size - at), at);
    if (!n) break;
    h.update(buf.subarray(0, n));
    at += n;
  }
  const sum = h.digest('hex');
  if (size !== ref.bytes || sum !== ref.sha256) {
    throw new Error(
      `${seg.file}: ${size !== ref.bytes ? `${size} bytes, the manifest says ${ref.bytes}` : `checksum mismatch (sha256 ${sum.slice(0, 12)}, manifest ${ref.sha256.slice(0, 12)})`}: the segment is corrupt; compaction refused so that it is not rewritten under a new checksum (run \`lookalike verify\`; restore the index from a copy or rebuild it with \`lookalike index FOLDER --out INDEX --rebuild\`)`,
    );
  }
}

/** The manifest's .npy entries by file name (none for a v1 index, whose single matrix has no checksum). */
function npyRefs(dir: string): Map<string, FileRef> {
  const m = readManifest(dir);
  return new Map(m.version === 2 ? m.segments.map((s) => [s.npy.file, s.npy] as const) : []);
}

/** Stream the live rows of `segs` in id order into a new segment of generation `gen` (each source segment checked first). */
export function mergeSegments(dir: string, segs: Segment[], gen: number, dim: number): SegmentRef {
  const refs = npyRefs(dir);
  for (const seg of segs) {
    const ref = refs.get(path.basename(seg.file));
    if (ref) checkSegment(seg, ref);
  }
  const order: { id: string; s: number; r: number }[] = [];
  segs.forEach((seg, s) => {
    for (let r = 0; r < seg.rows; r++) if (seg.live[r]) order.push({ id: seg.ids.at(r), s, r });
  });
  // One segment in id order is already sorted; several are merged by sorting.
  if (segs.length > 1 || !segs[0]?.ids.sorted) order.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const w = new SegmentWriter(dir, gen, order.length, dim);
  const side: Sidecar = { ids: [], files: [] };
  const hasLabels = segs.some((s) => s.labels);
  const hasDomains = segs.some((s) => s.domains);
  const hasFields = segs.some((s) => s.fields);
  const files = segs.map((s) => s.files);
  if (hasLabels) side.labels = [];
  if (hasDomains) side.domains = [];
  if (hasFields) side.fields = [];
  const block = 4096;
  const buf = new Float32Array(block * dim);
  try {
    for (let i = 0; i < order.length; ) {
      // Copy runs of consecutive rows of one segment with one read each.
      let filled = 0;
      while (filled < block && i < order.length) {
        const { s, r } = order[i];
        let n = 1;
        while (filled + n < block && i + n < order.length && order[i + n].s === s && order[i + n].r === r + n) n++;
        readRows(segs[s], dim, r, n, buf.subarray(filled * dim));
        for (let j = 0; j < n; j++) {
          const o = order[i + j];
          const seg = segs[o.s];
          side.ids.push(o.id);
          side.files.push((files[o.s][o.r] as FileRecord | null) ?? null);
          if (hasLabels) side.labels!.push(seg.labels?.[o.r] ?? null);
          if (hasDomains) side.domains!.push(seg.domains?.[o.r] ?? null);
          if (hasFields) side.fields!.push(seg.fields?.[o.r] ?? null);
        }
        filled += n;
        i += n;
      }
      w.append(buf.subarray(0, filled * dim));
    }
    return w.finish(side);
  } catch (e) {
    w.abort();
    throw e;
  }
}
