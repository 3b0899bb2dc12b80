/**
 * The `rerank` option, declared once: the registry of methods (one per file in this folder, each
 * declaring its parameters), its text form, and its help. Light: no store or model code, so the
 * library's schema (src/schema.ts) can export it to the shells.
 */
import { OptionError } from '../../util/options.ts';
import type { RerankDef, RerankStep } from './base.ts';
import { AQE } from './aqe.ts';
import { DBA } from './dba.ts';
import { KRECIPROCAL } from './k-reciprocal.ts';

export type { RerankStep } from './base.ts';
/** Every re-ranking method, in the order they combine (gallery, then query, then final list). */
export const RERANK_METHODS: readonly RerankDef[] = [DBA, AQE, KRECIPROCAL];

/** The `rerank` option: its text form (`aqe`, `dba:n=5+aqe:n=3,alpha=2`, `kr:k1=20`) or parsed steps. */
export type RerankOption = string | RerankStep[];

/** One line per method and parameter, for help texts. */
export function rerankHelp(): string {
  return RERANK_METHODS.map((m) => `${m.name}: ${m.help} (${Object.entries(m.params).map(([p, d]) => `${p}=${d.default}`).join(', ')})`).join('; ');
}

/**
 * Parse `METHOD[:PARAM=VALUE,...][+METHOD...]` (or check parsed steps): known methods, each at
 * most once, known parameters within their limits, defaults filled in; sorted into the order
 * they apply (dba, aqe, kr). `none` or '' means no re-ranking.
 */
export function parseRerank(o: RerankOption | undefined): RerankStep[] {
  if (o === undefined) return [];
  const raw: { method: string; params: Record<string, string | number> }[] = typeof o === 'string'
    ? o.trim() === '' || o.trim() === 'none'
      ? []
      : o.split('+').map((part) => {
          const [method, rest] = part.trim().split(':', 2) as [string, string | undefined];
          const params: Record<string, string> = {};
          for (const kv of rest ? rest.split(',') : []) {
            const m = /^\s*([A-Za-z]\w*)\s*=\s*(\S+)\s*$/.exec(kv);
            if (!m) throw new OptionError(`{{rerank}} ${o}: "${kv}" is not PARAM=VALUE (e.g. aqe:n=3,alpha=3)`);
            params[m[1]] = m[2];
          }
          return { method, params };
        })
    : o.map((s) => ({ method: s.method, params: s.params ?? {} }));
  const seen = new Set<string>();
  const steps = raw.map(({ method, params }) => {
    const def = RERANK_METHODS.find((m) => m.name === method);
    if (!def) throw new OptionError(`{{rerank}} ${method}: unknown method (expected ${RERANK_METHODS.map((m) => m.name).join(', ')} or none, joined with +)`);
    if (seen.has(method)) throw new OptionError(`{{rerank}} ${method} is given twice`);
    seen.add(method);
    const values: Record<string, number> = {};
    for (const [p, d] of Object.entries(def.params)) values[p] = d.default;
    for (const [p, v] of Object.entries(params)) {
      const d = def.params[p];
      if (!d) throw new OptionError(`{{rerank}} ${method}: unknown parameter "${p}" (expected ${Object.keys(def.params).join(', ')})`);
      const x = typeof v === 'number' ? v : Number(v);
      if (!Number.isFinite(x) || x < d.min || x > d.max || (d.integer && !Number.isInteger(x))) {
        throw new OptionError(`{{rerank}} ${method}:${p}=${v}: expected ${d.integer ? 'an integer' : 'a number'} from ${d.min} to ${d.max}`);
      }
      values[p] = x;
    }
    return { method: def.name, params: values, stage: def.stage };
  });
  return steps.sort((a, b) => a.stage - b.stage).map(({ method, params }) => ({ method, params }));
}

/** The canonical text of parsed steps (every parameter written), for records and reproduction. */
export function formatRerank(steps: readonly RerankStep[]): string {
  if (!steps.length) return 'none';
  return steps.map((s) => `${s.method}:${Object.entries(s.params).map(([p, v]) => `${p}=${v}`).join(',')}`).join('+');
}

