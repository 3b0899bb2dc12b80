/**
 * The one aggregation layer: per-query metric records -> means. Plain means over scored queries,
 * except the UnED metrics (mmp@5, mr@1): mean within each query domain, then the unweighted mean
 * over domains. Skipped queries (no relevant gallery item) never reach this layer.
 */
import { DOMAIN_METRICS } from './registry.ts';

/** One scored query: its id, its domain (UnED grouping; undefined = one shared domain) and its metrics. */
export interface QueryScore {
  id: string;
  domain?: string;
  metrics: Record<string, number>;
}

/** UnED domain-averaged metrics: output name -> the per-query metric it averages (from the registry). */
export const DOMAIN_MEANS: readonly { name: string; from: string }[] = DOMAIN_METRICS.map((m) => ({ name: m.name, from: m.from! }));

/** Arithmetic mean in input order; NaN for an empty list. */
export function mean(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  let s = 0;
  for (const v of values) s += v;
  return s / values.length;
}

/** UnED mean: mean per domain (first-seen order), then the unweighted mean of those means. */
export function domainMean(values: readonly { domain?: string; value: number }[]): number {
  const groups = new Map<string, number[]>();
  for (const { domain, value } of values) {
    const key = domain ?? '';
    let g = groups.get(key);
    if (!g) groups.set(key, (g = []));
    g.push(value);
  }
  return mean([...groups.values()].map(mean));
}

/** Mean of each named metric over the scores, plus the UnED domain means when their source metric is present (NaN when nothing was scored). */
export function aggregate(scores: readonly QueryScore[], names: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const name of names) {
    out[name] = mean(
      scores.map((s) => {
        const v = s.metrics[name];
        if (v === undefined) throw new Error(`query ${s.id} has no value for metric ${name}`);
        return v;
      }),
    );
  }
  for (const { name, from } of DOMAIN_MEANS) {
    if (scores.length === 0) out[name] = NaN;
    else if (scores.every((s) => s.metrics[from] !== undefined)) {
      out[name] = domainMean(scores.map((s) => ({ domain: s.domain, value: s.metrics[from] })));
    }
  }
  return out;
}

