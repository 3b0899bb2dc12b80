/** The approximate-search settings every search front door shares (no graph code here, so help text and schemas can read them cheaply). */

/** When to use the graph: 'auto' (gallery of at least ANN_AUTO_MIN items), 'on', 'off'. */
export type AnnMode = 'auto' | 'on' | 'off';
/** How the graph stores vectors (the float vectors in the store are unaffected). */
export type AnnDtype = 'f32' | 'f16' | 'i8';

/** 'auto' turns the graph (folder store) or the HNSW index (pgvector) on from this many live items (chosen from `npm run bench:ann`; docs/index-format.md). */
export const ANN_AUTO_MIN = 50_000;
/** Default search depth (HNSW ef): recall@10 >= 0.95 on the bench's data sets. */
export const ANN_DEFAULT_EF = 64;
