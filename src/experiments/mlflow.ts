/**
 * A small MLflow tracking client over its REST API (the 2.0 endpoints served by MLflow 1.x and
 * 2.x servers: experiments/get-by-name, experiments/create, runs/create, runs/log-batch,
 * runs/update). Used when MLFLOW_TRACKING_URI is set (an http(s) URL; file: stores are not
 * supported). Only that server is contacted, and only because the user set the variable.
 * Metric and param keys are made MLflow-safe (`mmp@5` -> `mmp_at_5`); params longer than 500
 * characters are cut (the older servers' limit); batches respect the 1000 metrics / 100 params /
 * 100 tags per request limits. Artefacts stay in the run store; their paths go in as tags.
 */
import path from 'node:path';
import type { RunRecord } from './run-records.ts';

/** Key/value pair as MLflow sends them. */
interface KV {
  key: string;
  value: string;
}

/** One metric point. */
interface MetricPoint {
  key: string;
  value: number;
  timestamp: number;
  step: number;
}

/** MLflow-safe key: letters, digits, _ - . space /; `@` becomes `_at_`. */
export function mlflowKey(k: string): string {
  return k.replace(/@/g, '_at_').replace(/[^A-Za-z0-9_\-. /]/g, '_');
}

/** Per-request limits of runs/log-batch. */
export const BATCH_LIMITS = { metrics: 1000, params: 100, tags: 100, total: 1000 };

/** An MLflow tracking server reached over HTTP. */
export class MlflowClient {
  private experiments = new Map<string, string>();

  constructor(
    readonly base: string,
    private headers: Record<string, string> = {},
  ) {}

  private async call<T>(method: 'GET' | 'POST', endpoint: string, body?: unknown, query?: Record<string, string>): Promise<T> {
    const url = new URL(`${this.base.replace(/\/+$/, '')}/api/2.0/mlflow/${endpoint}`);
    for (const [k, v] of Object.entries(query ?? {})) url.searchParams.set(k, v);
    let res: Response;
    try {
      res = await fetch(url, { method, headers: { 'content-type': 'application/json', ...this.headers }, body: body === undefined ? undefined : JSON.stringify(body) });
    } catch (e) {
      throw new Error(`MLflow ${url.origin}: cannot connect (${(e as Error).cause ? String((e as { cause: Error }).cause.message ?? (e as { cause: unknown }).cause) : (e as Error).message})`);
    }
    const text = await res.text();
    let json: Record<string, unknown> = {};
    try {
      json = text ? (JSON.parse(text) as Record<string, unknown>) : {};
    } catch {
      /* non-JSON error page */
    }
    if (!res.ok) {
      const err = new Error(`MLflow ${endpoint}: HTTP ${res.status} ${json.error_code ?? ''} ${json.message ?? text.slice(0, 200)}`.trim()) as Error & { code?: string; status?: number };
      err.code = json.error_code as string | undefined;
      err.status = res.status;
      throw err;
    }
    return json as T;
  }

  /** The id of the named experiment, created when missing. */
  async experimentId(name: string): Promise<string> {
    const known = this.experiments.get(name);
    if (known) return known;
    let id: string;
    try {
      const r = await this.call<{ experiment: { experiment_id: string } }>('GET', 'experiments/get-by-name', undefined, { experiment_name: name });
      id = r.experiment.experiment_id;
    } catch (e) {
      if ((e as { code?: string }).code !== 'RESOURCE_DOES_NOT_EXIST') throw e;
      id = (await this.call<{ experiment_id: string }>('POST', 'experiments/create', { name })).experiment_id;
    }
    this.experiments.set(name, id);
    return id;
  }

  /** Log one lookalike run: create the MLflow run, send params, metrics (final, per epoch with steps, per search trial), tags, then close it. Returns the MLflow run id. */
  async logRun(r: RunRecord, dir: string): Promise<string> {
    const experimentId = await this.experimentId(`lookalike/${r.experiment}`);
    const start = Date.parse(r.started) || Date.now();
    const end = Date.parse(r.finished) || Date.now();
    const tags: KV[] = [
      { key: 'mlflow.runName', value: r.id },
      { key: 'mlflow.source.name', value: r.command.join(' ').slice(0, 500) },
      { key: 'mlflow.source.type', value: 'LOCAL' },
      { key: 'lookalike.status', value: r.status },
      { key: 'lookalike.model', value: r.model.name },
      { key: 'lookalike.dataset', value: r.dataset.name },
      { key: 'lookalike.mode', value: r.mode.name },
      { key: 'lookalike.version', value: r.environment.lookalike.version },
      { key: 'lookalike.run_dir', value: path.resolve(dir) },
      ...(r.environment.lookalike.commit ? [{ key: 'mlflow.source.git.commit', value: r.environment.lookalike.commit }] : []),
      ...Object.entries(r.environment.packages).map(([k, v]) => ({ key: `lookalike.package.${mlflowKey(k)}`, value: v })),
      ...Object.entries(r.artefacts).map(([k, f]) => ({ key: `lookalike.artefact.${mlflowKey(k)}`, value: path.resolve(dir, f) })),
      ...(r.reason ? [{ key: 'lookalike.reason', value: r.reason.slice(0, 5000) }] : []),
    ];
    const created = await this.call<{ run: { info: { run_id: string } } }>('POST', 'runs/create', { experiment_id: experimentId, run_name: r.id, start_time: start, tags: tags.slice(0, 1) });
    const runId = created.run.info.run_id;
    const params: KV[] = Object.entries(r.params).map(([k, v]) => ({ key: mlflowKey(k), value: String(v).slice(0, 500) }));
    const metrics: MetricPoint[] = [];
    for (const [k, v] of Object.entries(r.metrics)) if (Number.isFinite(v)) metrics.push({ key: mlflowKey(k), value: v, timestamp: end, step: 0 });
    const timings = r.timings as Record<string, number | undefined>;
    for (const [k, v] of Object.entries(timings)) if (typeof v === 'number' && Number.isFinite(v)) metrics.push({ key: `timing.${mlflowKey(k)}`, value: v, timestamp: end, step: 0 });
    for (const e of r.epochs ?? []) {
      const ts = start + Math.round(e.seconds * 1000 * e.epoch);
      metrics.push({ key: 'train.loss', value: e.loss, timestamp: ts, step: e.epoch }, { key: 'train.lr', value: e.lr, timestamp: ts, step: e.epoch });
      for (const [k, v] of Object.entries(e.val ?? {})) if (Number.isFinite(v)) metrics.push({ key: `val.${mlflowKey(k)}`, value: v, timestamp: ts, step: e.epoch });
    }
    const cls = (r.extra?.classification ?? {}) as Record<string, number>;
    for (const [k, v] of Object.entries(cls)) if (k !== 'items' && Number.isFinite(v)) metrics.push({ key: `classification.${mlflowKey(k)}`, value: v, timestamp: end, step: 0 });
    // Send in batches within the per-request limits.
    let mi = 0, pi = 0, ti = 1;
    while (mi < metrics.length || pi < params.length || ti < tags.length) {
      const p = params.slice(pi, pi + BATCH_LIMITS.params);
      const t = tags.slice(ti, ti + BATCH_LIMITS.tags);
      const m = metrics.slice(mi, mi + Math.min(BATCH_LIMITS.metrics, BATCH_LIMITS.total - p.length - t.length));
      await this.call('POST', 'runs/log-batch', { run_id: runId, metrics: m, params: p, tags: t });
      (mi += m.length), (pi += p.length), (ti += t.length);
    }
    await this.call('POST', 'runs/update', { run_id: runId, status: r.status === 'failed' ? 'FAILED' : 'FINISHED', end_time: end });
    return runId;
  }
}

/** A client for MLFLOW_TRACKING_URI (with MLFLOW_TRACKING_TOKEN or MLFLOW_TRACKING_USERNAME/PASSWORD), or undefined when unset. */
export function mlflowFromEnv(env: NodeJS.ProcessEnv = process.env): MlflowClient | undefined {
  const uri = env.MLFLOW_TRACKING_URI;
  if (!uri) return undefined;
  if (!/^https?:\/\//.test(uri)) throw new Error(`MLFLOW_TRACKING_URI=${uri}: only http(s) tracking servers are supported (not file: or databricks stores)`);
  const headers: Record<string, string> = {};
  if (env.MLFLOW_TRACKING_TOKEN) headers.authorization = `Bearer ${env.MLFLOW_TRACKING_TOKEN}`;
  else if (env.MLFLOW_TRACKING_USERNAME) headers.authorization = `Basic ${Buffer.from(`${env.MLFLOW_TRACKING_USERNAME}:${env.MLFLOW_TRACKING_PASSWORD ?? ''}`).toString('base64')}`;
  return new MlflowClient(uri, headers);
}
