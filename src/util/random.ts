/** Seeded pseudo-random numbers (mulberry32), so generated data and runs are repeatable. */

/** A function returning uniform floats in [0, 1) from a 32-bit seed (the same stream as `new Rng(seed ^ 0x9e3779b9)`). */
export function rng(seed: number): () => number {
  const r = new Rng((seed >>> 0) ^ 0x9e3779b9);
  return () => r.next();
}

/** Standard normal samples from a uniform generator (Box-Muller). */
export function gaussian(u: () => number): () => number {
  return () => Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u());
}

/** Seeded uniform, normal and integer draws. */
export class Rng {
  private s: number;
  private spare: number | undefined;

  constructor(seed: number) {
    this.s = (seed >>> 0) ^ 0x9e3779b9;
  }

  /** Uniform in [0, 1). */
  next(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Standard normal (Box-Muller). */
  normal(): number {
    if (this.spare !== undefined) {
      const v = this.spare;
      this.spare = undefined;
      return v;
    }
    let u = 0;
    while (u === 0) u = this.next();
    const v = this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /** Shuffle an array in place (Fisher-Yates) and return it. */
  shuffle<T extends { length: number; [i: number]: unknown }>(a: T): T {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = a[i];
      a[i] = a[j];
      a[j] = t;
    }
    return a;
  }
}
