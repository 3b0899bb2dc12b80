/** Generated test pictures. */
import sharp from 'sharp';

/**
 * A non-square PNG with no symmetry: red grows left to right, green top to bottom, and blue
 * stripes run diagonally (their slope set by `seed`), so a crop, a squeeze or a mirror changes it.
 */
export async function gradientPicture(width: number, height: number, seed = 0): Promise<Buffer> {
  const raw = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      raw[i] = Math.round((255 * x) / (width - 1));
      raw[i + 1] = Math.round((255 * y) / (height - 1));
      raw[i + 2] = (x * (3 + seed) + 2 * y) % 16 < 8 ? 230 : 20;
    }
  }
  return sharp(raw, { raw: { width, height, channels: 3 } }).png().toBuffer();
}
