/** What every re-ranking method declares: its name, when it runs, its parameters with their limits, and its cost. */

/** One numeric parameter of a method: default, meaning and accepted range. */
export interface RerankParamDef {
  default: number;
  help: string;
  min: number;
  max: number;
  integer?: boolean;
}

/**
 * A re-ranking method. `stage` fixes the order methods combine in, whatever order they are
 * written: the gallery is augmented first (dba), then queries are expanded against it (aqe),
 * then the final list is re-ranked (kr).
 */
export interface RerankDef {
  name: 'dba' | 'aqe' | 'kr';
  stage: 0 | 1 | 2;
  help: string;
  /** Cost and limits, in words, for help and docs/ranking.md. */
  cost: string;
  params: Record<string, RerankParamDef>;
}

/** One parsed method with every parameter it declares filled in. */
export interface RerankStep {
  method: RerankDef['name'];
  params: Record<string, number>;
}

/** The weight a neighbour of similarity `s` gets in αQE and DBA: max(s, 0)^α (a negative similarity adds nothing). */
export function neighbourWeight(s: number, alpha: number): number {
  return s > 0 ? Math.pow(s, alpha) : 0;
}
