/**
 * Cross-modal retrieval recall (the CLIP/COCO protocol): image->text R@K is the share of images
 * with at least one of their captions in the top K captions; text->image R@K is the share of
 * captions whose image is in the top K images. Ties are broken by gallery order (lower index first).
 */

/** Recall figures for both directions, keyed by K. */
export interface CrossModalRecall {
  imageToText: Record<number, number>;
  textToImage: Record<number, number>;
  images: number;
  captions: number;
}

/**
 * R@K from a similarity matrix `sim` (nImages x nCaptions, row-major) and `captionImage`
 * (for each caption, the row of its image). Images without captions are skipped for image->text.
 */
export function crossModalRecall(sim: Float32Array, nImages: number, captionImage: ArrayLike<number>, ks: number[] = [1, 5, 10]): CrossModalRecall {
  const nCap = captionImage.length;
  if (sim.length !== nImages * nCap) throw new Error(`similarity matrix has ${sim.length} values, expected ${nImages} x ${nCap}`);
  for (const k of ks) if (!Number.isInteger(k) || k < 1) throw new RangeError(`k must be a positive integer, got ${k}`);
  const owned: number[][] = Array.from({ length: nImages }, () => []);
  for (let c = 0; c < nCap; c++) {
    const img = captionImage[c];
    if (!Number.isInteger(img) || img < 0 || img >= nImages) throw new Error(`caption ${c}: image row ${img} out of range 0..${nImages - 1}`);
    owned[img].push(c);
  }
  // Rank (0-based) of item j in a row: items scoring higher, plus equal scores earlier in order.
  const rankIn = (score: (j: number) => number, n: number, j: number): number => {
    const s = score(j);
    let r = 0;
    for (let x = 0; x < n; x++) {
      const v = score(x);
      if (v > s || (v === s && x < j)) r++;
    }
    return r;
  };
  const i2t: Record<number, number> = {};
  const t2i: Record<number, number> = {};
  for (const k of ks) {
    i2t[k] = 0;
    t2i[k] = 0;
  }
  let withCaptions = 0;
  for (let i = 0; i < nImages; i++) {
    if (owned[i].length === 0) continue;
    withCaptions++;
    const row = (j: number) => sim[i * nCap + j];
    const best = Math.min(...owned[i].map((c) => rankIn(row, nCap, c)));
    for (const k of ks) if (best < k) i2t[k]++;
  }
  for (let c = 0; c < nCap; c++) {
    const col = (i: number) => sim[i * nCap + c];
    const r = rankIn(col, nImages, captionImage[c]);
    for (const k of ks) if (r < k) t2i[k]++;
  }
  for (const k of ks) {
    i2t[k] = withCaptions ? i2t[k] / withCaptions : 0;
    t2i[k] = nCap ? t2i[k] / nCap : 0;
  }
  return { imageToText: i2t, textToImage: t2i, images: withCaptions, captions: nCap };
}
