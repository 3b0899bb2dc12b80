/** Number field values written as text (CSV cells, filter literals): one rule for both. */

const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** The finite number a decimal text like `10`, `-1.5`, `.5` or `2e3` means, or undefined (hex, `Infinity`, `1_000` and spaces are not numbers). */
export function parseNumber(text: string): number | undefined {
  if (!NUMBER.test(text)) return undefined;
  const n = Number(text);
  return Number.isFinite(n) ? n : undefined;
}
