/**
 * The library's declarations: option schemas, choices, limits and defaults, with no model,
 * store or server code behind them, so a shell can build its flags and help from them without
 * loading anything heavy (`lookalike --help` reads only this file). Everything here is also
 * what src/api.ts checks against.
 */
export { TUNE_OPTIONS, TUNE_DEFAULTS, TUNE_OPTION_NAMES, DISTILL_DEFAULTS, type TuneOption, type TuneValues } from './tune/tune-options.ts';
export { LOSS_NAMES } from './tune/losses/index.ts';
export { ANN_AUTO_MIN, ANN_DEFAULT_EF, type AnnMode, type AnnDtype } from './store/ann-mode.ts';
export { DEFAULT_DEPTH, FULL_DEPTH_LIMIT } from './eval/depth.ts';
export { RERANK_METHODS, parseRerank, formatRerank, rerankHelp, type RerankOption, type RerankStep } from './index/rerank/options.ts';
export { metricsHelp, checkMetricNames } from './metrics/registry.ts';
export { parseKs } from './metrics/evaluate.ts';
export { OptionError, isOptionError, MAX_K, MAX_EF, checkK, checkEf, checkMinScore, toInteger, toNumber } from './util/options.ts';
export { didYouMean } from './util/text.ts';
export { config } from './util/config.ts';
export { Progress, formatSeconds } from './util/progress.ts';
export { escapeControls } from './util/terminal.ts';
export type { ModelSettings } from './models/settings.ts';
export { VIEWS_HELP, parseViews, formatViews, type ViewSet } from './models/views.ts';
