/** The server's default limits (read by `lookalike serve --help` without loading the server). */

/** Default limits. */
export const LIMITS = {
  /** Upload size in bytes (20 MB). */
  uploadBytes: 20 * 1024 * 1024,
  /** Decoded pixels per image (width x height), checked from the header before decoding. */
  pixels: 100_000_000,
  /** Image embeddings running or waiting; beyond it requests get 503 + Retry-After. */
  queue: 256,
  /** Milliseconds a request may take, end to end. */
  requestTimeoutMs: 60_000,
};
