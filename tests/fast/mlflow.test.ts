/**
 * The MLflow REST client against a local stand-in server on loopback (MLflow itself cannot run
 * here). The stand-in checks each request the way an MLflow 2.x tracking server does: method,
 * path, required fields, key syntax, types, and the log-batch limits.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { MlflowClient, mlflowFromEnv, mlflowKey } from '../../src/experiments/mlflow.ts';
import type { RunRecord } from '../../src/experiments/run-records.ts';

interface Call {
  method: string;
  path: string;
  body: Record<string, unknown>;
}

const KEY = /^[A-Za-z0-9_\-. /]+$/;

function standIn(): Promise<{ url: string; calls: Call[]; close: () => Promise<void> }> {
  const calls: Call[] = [];
  const experiments = new Map<string, string>();
  const runs = new Map<string, { status: string; params: Map<string, string>; metrics: unknown[]; tags: Map<string, string> }>();
  const server = http.createServer((req, res) => {
    let text = '';
    req.on('data', (c) => (text += c));
    req.on('end', () => {
      const url = new URL(req.url!, 'http://x');
      const body = text ? (JSON.parse(text) as Record<string, unknown>) : {};
      calls.push({ method: req.method!, path: url.pathname, body });
      const send = (status: number, obj: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(obj));
      };
      const bad = (msg: string) => send(400, { error_code: 'INVALID_PARAMETER_VALUE', message: msg });
      const route = `${req.method} ${url.pathname}`;
      if (route === 'GET /api/2.0/mlflow/experiments/get-by-name') {
        const name = url.searchParams.get('experiment_name');
        if (!name) return bad('experiment_name missing');
        const id = experiments.get(name);
        return id ? send(200, { experiment: { experiment_id: id, name } }) : send(404, { error_code: 'RESOURCE_DOES_NOT_EXIST', message: `Could not find experiment with name '${name}'` });
      }
      if (route === 'POST /api/2.0/mlflow/experiments/create') {
        if (typeof body.name !== 'string' || !body.name) return bad('name missing');
        const id = String(experiments.size + 1);
        experiments.set(body.name, id);
        return send(200, { experiment_id: id });
      }
      if (route === 'POST /api/2.0/mlflow/runs/create') {
        if (typeof body.experiment_id !== 'string' || !experiments.has([...experiments].find(([, v]) => v === body.experiment_id)?.[0] ?? '')) return bad('unknown experiment_id');
        if (typeof body.start_time !== 'number') return bad('start_time must be an integer (ms)');
        const id = `run${runs.size + 1}`;
        runs.set(id, { status: 'RUNNING', params: new Map(), metrics: [], tags: new Map((body.tags as { key: string; value: string }[]).map((t) => [t.key, t.value])) });
        return send(200, { run: { info: { run_id: id, experiment_id: body.experiment_id, status: 'RUNNING' } } });
      }
      if (route === 'POST /api/2.0/mlflow/runs/log-batch') {
        const run = runs.get(body.run_id as string);
        if (!run) return bad('unknown run_id');
        const metrics = (body.metrics ?? []) as { key: string; value: number; timestamp: number; step: number }[];
        const params = (body.params ?? []) as { key: string; value: string }[];
        const tags = (body.tags ?? []) as { key: string; value: string }[];
        if (metrics.length > 1000 || params.length > 100 || tags.length > 100 || metrics.length + params.length + tags.length > 1000) return bad('batch over the limits');
        for (const m of metrics) {
          if (!KEY.test(m.key)) return bad(`invalid metric name ${m.key}`);
          if (typeof m.value !== 'number' || !Number.isInteger(m.timestamp) || !Number.isInteger(m.step)) return bad(`metric ${m.key}: value number, timestamp and step integers`);
        }
        for (const p of params) {
          if (!KEY.test(p.key)) return bad(`invalid param name ${p.key}`);
          if (typeof p.value !== 'string' || p.value.length > 500) return bad(`param ${p.key}: string value up to 500 characters`);
          if (run.params.has(p.key) && run.params.get(p.key) !== p.value) return bad(`param ${p.key} changed`);
          run.params.set(p.key, p.value);
        }
        for (const t of tags) run.tags.set(t.key, t.value);
        run.metrics.push(...metrics);
        return send(200, {});
      }
      if (route === 'POST /api/2.0/mlflow/runs/update') {
        const run = runs.get(body.run_id as string);
        if (!run) return bad('unknown run_id');
        if (!['FINISHED', 'FAILED', 'KILLED', 'RUNNING'].includes(body.status as string)) return bad('bad status');
        run.status = body.status as string;
        return send(200, { run_info: { run_id: body.run_id, status: run.status } });
      }
      send(404, { error_code: 'ENDPOINT_NOT_FOUND', message: route });
    });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve({ url: `http://127.0.0.1:${port}`, calls, close: () => new Promise((r) => server.close(() => r())) });
    }),
  );
}

function record(id: string, epochs: number): RunRecord {
  return {
    format: 'lookalike-run',
    version: 1,
    id,
    experiment: 'bench',
    status: 'finished',
    model: { name: 'm', ref: '/m.onnx' },
    dataset: { name: 'd', path: '/d', protocol: 'leave-one-out' },
    mode: { name: 'tune', kind: 'tune' },
    params: Object.fromEntries(Array.from({ length: 130 }, (_, i) => [`tune.p${i}`, i])),
    params_hash: 'x',
    metrics: { 'mmp@5': 0.5, 'mr@1': 0.75, 'precision@10': 0.25, weighted_topk: 812.5, nan: NaN },
    epochs: Array.from({ length: epochs }, (_, i) => ({ epoch: i + 1, loss: 1 / (i + 1), lr: 1e-3, seconds: 0.5, val: { 'mmp@5': 0.4 + i / 1000, 'precision@1': 0.5 } })),
    timings: { total_seconds: 3, peak_rss_mb: 200, embed_images_per_s: 100 },
    counts: { queries: 10, gallery: 10 },
    command: ['lookalike', 'experiment', 'x.yaml'],
    cwd: '/',
    environment: { lookalike: { version: '0.1.0', commit: 'abc' }, node: 'v20', packages: { 'onnxruntime-node': '1.30.0' }, platform: 'linux x64', cpus: 2, cpu_model: 'x', memory_gb: 8 },
    artefacts: { head: 'head.onnx' },
    started: '2026-01-01T00:00:00.000Z',
    finished: '2026-01-01T00:01:00.000Z',
  };
}

test('MLflow client: experiment by name (created once), runs/create, log-batch within limits, runs/update', async () => {
  const s = await standIn();
  try {
    const c = new MlflowClient(s.url);
    const id1 = await c.logRun(record('a', 400), '/tmp/a');
    const id2 = await c.logRun(record('b', 2), '/tmp/b');
    assert.deepEqual([id1, id2], ['run1', 'run2']);
    const paths = s.calls.map((x) => `${x.method} ${x.path}`);
    // The experiment is looked up (404), created, then reused from memory.
    assert.equal(paths.filter((p) => p.endsWith('experiments/get-by-name')).length, 1);
    assert.equal(paths.filter((p) => p.endsWith('experiments/create')).length, 1);
    const batches = s.calls.filter((x) => x.path.endsWith('log-batch') && x.body.run_id === 'run1');
    // 130 params need 2 batches; 400 epochs x 4 points + finals need 2+.
    assert.ok(batches.length >= 2);
    const metrics = batches.flatMap((b) => b.body.metrics as { key: string; step: number }[]);
    assert.ok(metrics.some((m) => m.key === 'mmp_at_5' && m.step === 0));
    assert.equal(metrics.filter((m) => m.key === 'val.mmp_at_5').length, 400);
    assert.deepEqual(metrics.filter((m) => m.key === 'val.mmp_at_5').map((m) => m.step).slice(0, 3), [1, 2, 3]);
    assert.ok(!metrics.some((m) => m.key === 'nan'), 'NaN metrics are not sent');
    const tags = batches.flatMap((b) => b.body.tags as { key: string; value: string }[]);
    assert.ok(tags.some((t) => t.key === 'lookalike.artefact.head' && t.value === '/tmp/a/head.onnx'));
    assert.ok(tags.some((t) => t.key === 'mlflow.source.git.commit' && t.value === 'abc'));
    const update = s.calls.find((x) => x.path.endsWith('runs/update') && x.body.run_id === 'run1')!;
    assert.equal(update.body.status, 'FINISHED');
    // Server errors surface with the endpoint and MLflow's error code.
    await assert.rejects(new MlflowClient(s.url + '/nope').experimentId('x'), /experiments\/get-by-name: HTTP 404 ENDPOINT_NOT_FOUND/);
  } finally {
    await s.close();
  }
  await assert.rejects(new MlflowClient('http://127.0.0.1:9').experimentId('x'), /MLflow http:\/\/127\.0\.0\.1:9: cannot connect/);
});

test('MLflow keys and environment', () => {
  assert.equal(mlflowKey('mmp@5'), 'mmp_at_5');
  assert.equal(mlflowKey('map@r'), 'map_at_r');
  assert.equal(mlflowKey('a:b'), 'a_b');
  assert.equal(mlflowFromEnv({}), undefined);
  assert.throws(() => mlflowFromEnv({ MLFLOW_TRACKING_URI: 'file:///tmp/mlruns' }), /only http\(s\)/);
  assert.equal(mlflowFromEnv({ MLFLOW_TRACKING_URI: 'http://localhost:5000' })?.base, 'http://localhost:5000');
});
