/** The one id order of every store: plain string order (UTF-16 code units). */

/** Compare ids the way every store orders them (UTF-16 code units). */
export function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
