/**
 * The server's decoding budget: every decode (an uploaded query or item, a thumbnail) first
 * takes its pixel count (width x height from the header) from one budget and returns it when
 * done, so the pixels being decoded at once, and with them peak memory, stay under the budget
 * whatever arrives in parallel. Decodes beyond the budget wait their turn in order; beyond
 * `maxWaiting` waiting they are refused with 503 + Retry-After.
 */
import { HttpError } from './limits.ts';

interface Waiter {
  pixels: number;
  go: () => void;
}

/** A counting semaphore over pixels. */
export class PixelBudget {
  private used = 0;
  private waiting: Waiter[] = [];

  constructor(
    readonly budget: number,
    readonly maxWaiting: number,
  ) {}

  /** Pixels being decoded now. */
  get inUse(): number {
    return this.used;
  }

  /** Run `fn` once `pixels` fit in the budget (an image larger than the whole budget runs alone). */
  async run<T>(pixels: number, fn: () => Promise<T>): Promise<T> {
    const need = Math.min(Math.max(1, pixels), this.budget);
    if (this.used + need > this.budget || this.waiting.length) {
      if (this.waiting.length >= this.maxWaiting) throw new HttpError(503, `busy: ${this.waiting.length} images waiting to be decoded; retry shortly`, { 'retry-after': '1' });
      await new Promise<void>((go) => this.waiting.push({ pixels: need, go }));
    } else this.used += need;
    try {
      return await fn();
    } finally {
      this.used -= need;
      this.wake();
    }
  }

  /** Start waiters in arrival order while they fit. */
  private wake(): void {
    while (this.waiting.length && this.used + this.waiting[0].pixels <= this.budget) {
      const w = this.waiting.shift()!;
      this.used += w.pixels;
      w.go();
    }
  }
}
