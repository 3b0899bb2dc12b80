/** How deep leave-one-out and split evaluations rank by default, and the largest gallery ranked in full without being asked. */

/** Galleries up to this size are ranked in full by default. */
export const FULL_DEPTH_LIMIT = 50000;
/** Default ranking depth for larger galleries (at least the largest cut-off). */
export const DEFAULT_DEPTH = 1000;
