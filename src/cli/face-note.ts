/** The stderr line for `--crop face` images with no face found (docs/faces.md). */

/** "N image(s) with no face found, embedded from the whole image: a, b, ..." (every name, one line). */
export function noFaceLine(ids: readonly string[]): string {
  return `--crop face: ${ids.length} image(s) with no face found, embedded from the whole image: ${ids.join(', ')}\n`;
}
