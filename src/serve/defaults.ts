/** The server's default limits (read by `lookalike serve --help` without loading the server). */

/** Default limits. */
export const LIMITS = {
  /** Upload size in bytes (20 MB). */
  uploadBytes: 20 * 1024 * 1024,
  /**
   * Decoded pixels per image (width x height), checked from the header before decoding: 40 MP
   * (a 7,300 x 5,475 photo) is far more than any search model looks at (224 to 518 pixels a side).
   */
  pixels: 40_000_000,
  /** Pixels being decoded at once, all requests together (uploads and thumbnails): the cap on decoding memory (about 12 bytes a pixel). */
  decodePixels: 40_000_000,
  /** Largest gallery file a thumbnail reads. */
  fileBytes: 64 * 1024 * 1024,
  /** Milliseconds a file read may take before the request is answered 503. */
  readTimeoutMs: 10_000,
  /** Milliseconds a shutdown (SIGTERM, close) waits for requests in flight before closing their connections. */
  shutdownMs: 3_000,
  /** Image embeddings running or waiting; beyond it requests get 503 + Retry-After. */
  queue: 256,
  /** Milliseconds a request may take, end to end. */
  requestTimeoutMs: 60_000,
};
