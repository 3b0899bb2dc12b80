/**
 * The one place shared option values are checked, with the same limits for the CLI, the
 * library, the server and experiment configs. Errors are OptionErrors: their text names the
 * option as the library calls it (`k`, `valFrac`), and a shell renders the same error with its
 * own spelling (`-k`, `--val-frac`, a query parameter) through `render`.
 */

/** An invalid option value. `template` marks option names as {{name}}; `message` shows them plainly. */
export class OptionError extends Error {
  constructor(readonly template: string) {
    super(renderTemplate(template, (name) => name));
    this.name = 'OptionError';
  }
  /** The message with each option name spelled by `spell` (e.g. as a CLI flag). */
  render(spell: (option: string) => string): string {
    return renderTemplate(this.template, spell);
  }
}

function renderTemplate(template: string, spell: (option: string) => string): string {
  return template.replace(/\{\{([A-Za-z][\w.-]*)\}\}/g, (_, name: string) => spell(name));
}

/** True for an OptionError, also one thrown by another copy of this module. */
export function isOptionError(e: unknown): e is OptionError {
  return e instanceof OptionError || (e instanceof Error && e.name === 'OptionError' && typeof (e as OptionError).render === 'function');
}

/** The largest k any search accepts; larger values are a typo, not a request (results are capped at the gallery size anyway). */
export const MAX_K = 1_000_000;

/** The largest HNSW ef a search accepts. */
export const MAX_EF = 1000;

/** Decimal notation only (12, -0.5, 1e9): Number() would also read 0x10, 0b11, 0o7 and Infinity. */
const DECIMAL = /^\s*[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?\s*$/i;

/** A string option value as a number (NaN unless written in decimal). */
function parseDecimal(v: string): number {
  return DECIMAL.test(v) ? Number(v) : NaN;
}

/** A value as a finite number, or an error naming the option. */
export function toNumber(v: string | number, option: string): number {
  const n = typeof v === 'number' ? v : parseDecimal(v);
  if (!Number.isFinite(n)) throw new OptionError(`{{${option}}} ${v}: not a number`);
  return n;
}

/** A value as an integer from min to max, or an error naming the option. */
export function toInteger(v: string | number, option: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  const n = typeof v === 'number' ? v : parseDecimal(v);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new OptionError(`{{${option}}} ${v}: expected an integer ${max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `from ${min} to ${max}`}`);
  }
  return n;
}

/** A result count k: an integer from 1 to MAX_K. */
export function checkK(v: string | number, option = 'k'): number {
  const n = typeof v === 'number' ? v : parseDecimal(v);
  if (!Number.isInteger(n) || n < 1 || n > MAX_K) throw new OptionError(`{{${option}}} ${v}: expected an integer from 1 to ${MAX_K} (results are capped at the gallery size)`);
  return n;
}

/** An HNSW ef: an integer from 1 to MAX_EF. */
export function checkEf(v: string | number, option = 'ef'): number {
  return toInteger(v, option, 1, MAX_EF);
}

/** A cosine cut-off: a number from -1 to 1. */
export function checkMinScore(v: string | number, option = 'minScore'): number {
  const n = toNumber(v, option);
  if (n < -1 || n > 1) throw new OptionError(`{{${option}}} ${v}: expected a cosine from -1 to 1`);
  return n;
}
