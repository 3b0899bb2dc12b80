/** How well a 2-D map keeps classes apart: leave-one-out k-NN accuracy on the points. */

/** Share of points whose k nearest other points (Euclidean, in 2-D) vote for their own label (ties: the nearest voter's label). */
export function mapKnnAccuracy(x: ArrayLike<number>, y: ArrayLike<number>, labels: readonly string[], k = 5): number {
  const n = labels.length;
  if (n < 2) return 0;
  let right = 0;
  const d = new Float64Array(n);
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      d[j] = j === i ? Infinity : (x[i] - x[j]) ** 2 + (y[i] - y[j]) ** 2;
      order[j] = j;
    }
    const near = Array.from(order).sort((a, b) => d[a] - d[b]).slice(0, Math.min(k, n - 1));
    const votes = new Map<string, number>();
    for (const j of near) votes.set(labels[j], (votes.get(labels[j]) ?? 0) + 1);
    let best = labels[near[0]];
    for (const [l, c] of votes) if (c > votes.get(best)!) best = l;
    if (best === labels[i]) right++;
  }
  return right / n;
}

/** The accuracy of always guessing the most common label (the bar a map must clear). */
export function majorityShare(labels: readonly string[]): number {
  const c = new Map<string, number>();
  for (const l of labels) c.set(l, (c.get(l) ?? 0) + 1);
  return labels.length ? Math.max(...c.values()) / labels.length : 0;
}
