/** Progress lines (count, rate, ETA) on a TTY; silent when piped or with --json. */

/** A progress reporter for a known number of steps. */
export class Progress {
  private start = Date.now();
  private last = 0;
  private done = 0;
  readonly enabled: boolean;

  constructor(
    private label: string,
    private total: number,
    opts: { quiet?: boolean; stream?: NodeJS.WriteStream } = {},
  ) {
    this.stream = opts.stream ?? process.stderr;
    this.enabled = !opts.quiet && Boolean(this.stream.isTTY);
  }
  private stream: NodeJS.WriteStream;

  /** Advance by n and redraw at most ~10 times a second. */
  tick(n = 1): void {
    this.update(this.done + n);
  }

  /** Set the number done and redraw at most ~10 times a second. */
  update(done: number): void {
    this.done = done;
    if (!this.enabled) return;
    const now = Date.now();
    if (now - this.last < 100 && this.done < this.total) return;
    this.last = now;
    this.stream.write(`\r${this.line()}\x1b[K`);
  }

  /** The current status line: label, done/total, rate and ETA. */
  line(): string {
    const secs = Math.max((Date.now() - this.start) / 1000, 1e-3);
    const rate = this.done / secs;
    const eta = rate > 0 ? (this.total - this.done) / rate : 0;
    return `${this.label} ${this.done}/${this.total} ${rate.toFixed(1)}/s ETA ${formatSeconds(eta)}`;
  }

  /** Finish the line. */
  end(): void {
    if (this.enabled) this.stream.write(`\r${this.line()}\x1b[K\n`);
  }
}

/** 75 -> "1m15s". */
export function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return '?';
  if (s < 60) return `${Math.round(s)}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${Math.round(s - m * 60)}s`;
  return `${Math.floor(m / 60)}h${m % 60}m`;
}
