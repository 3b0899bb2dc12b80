/**
 * Scale-out on a real PostgreSQL server (pg + pg-boss; pglite-socket only with LOOKALIKE_SKIP_REAL_PG=1): `index --enqueue`,
 * three `lookalike worker` processes, one SIGKILLed inside its write transaction and one killed
 * -9 from outside after claiming a job; the store ends with every image exactly once.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import PgBoss from 'pg-boss';
import { writeClassFolders } from '../../src/data/synthetic.ts';
import { listFolder } from '../../src/data/images.ts';
import { otherSessions, startCli, wireKind, wireServer, type PgTestServer } from '../helpers/pg.ts';
import { runCli } from '../helpers/cli.ts';
import { TINY_FLAGS, tmpDir, writeTinyCnn } from '../helpers/tmp.ts';

let server: PgTestServer | undefined;
after(async () => server?.stop());

test(`${wireKind()}: enqueue, 3 workers, kill -9 mid-batch: every image stored exactly once; failures parked; status`, async () => {
  const dir = tmpDir('lookalike-workers-');
  const gallery = path.join(dir, 'gallery');
  await writeClassFolders(gallery, 6, 8, 0);
  const images = listFolder(gallery).images;
  assert.equal(images.length, 48);
  const model = writeTinyCnn(dir);
  const other = path.join(dir, 'other');
  fs.mkdirSync(other);
  const otherModel = writeTinyCnn(other, { seed: 99 });
  server = await wireServer('pg_workers');
  const url = `${server.url}?index=scale`;

  const enq = await runCli(['index', gallery, '--model', model, ...TINY_FLAGS, '--store', url, '--enqueue', '--job-size', '4', '--job-timeout', '3', '--retry-delay', '1', '--json']);
  assert.equal(enq.status, 0, enq.stderr);
  const summary = JSON.parse(enq.stdout);
  assert.equal(summary.queued, 48);
  assert.equal(summary.jobs, 12);

  // A job that cannot succeed is parked with its error (no retries left).
  const boss = new PgBoss({ connectionString: server.url, supervise: false, schedule: false });
  await boss.start();
  await boss.send('lookalike_embed_scale', { v: 99 }, { retryLimit: 0 });
  await boss.stop({ graceful: false, wait: true });

  // A worker with another model's fingerprint refuses to start.
  const wrong = await runCli(['worker', '--store', url, '--model', otherModel, ...TINY_FLAGS, '--until-empty']);
  assert.equal(wrong.status, 1);
  assert.match(wrong.stderr, /fingerprint .* is not the one the index was built with/);

  const worker = (env: Record<string, string> = {}) => startCli(['worker', '--store', url, '--until-empty', '--poll', '0.5'], env);
  const crashing = worker({ LOOKALIKE_CRASH_AT: 'worker:in-transaction#2' }); // SIGKILLs itself inside its 2nd write transaction
  const killed = worker();
  const steady = worker();
  // kill -9 the second worker as soon as it has claimed a job.
  await new Promise<void>((resolve) => {
    const t = setInterval(() => {
      if (/claimed job/.test(killed.stderr()) || killed.child.exitCode !== null) {
        clearInterval(t);
        killed.child.kill('SIGKILL');
        resolve();
      }
    }, 20);
  });
  const [c, k, s] = await Promise.all([crashing.done, killed.done, steady.done]);
  assert.equal(c.signal, 'SIGKILL', c.stderr);
  assert.match(c.stderr, /simulated crash at worker:in-transaction/);
  assert.equal(k.signal, 'SIGKILL');
  assert.equal(s.status, 0, s.stderr);

  // No session is left behind by the workers, the killed ones included (the server ends a dead
  // client's backend when its socket closes). pglite-socket shows no pg_stat_activity.
  if (server.kind === 'postgres') {
    let left = await otherSessions(server);
    for (let i = 0; i < 100 && left.length; i++) {
      await new Promise((r) => setTimeout(r, 50));
      left = await otherSessions(server);
    }
    assert.deepEqual(left, [], 'sessions left after the workers ended');
  }

  // Every image exactly once: the ids are the listing, no duplicates, vectors present.
  const rows = await server.query<{ id: string; n: number }>('SELECT id, count(*)::int AS n FROM lookalike.items_scale GROUP BY id ORDER BY id');
  assert.deepEqual(rows.rows.map((r) => r.id), [...images].sort());
  assert.ok(rows.rows.every((r) => r.n === 1));
  const withHash = await server.query<{ n: number }>('SELECT count(*)::int AS n FROM lookalike.items_scale WHERE sha256 IS NOT NULL AND size > 0');
  assert.equal(withHash.rows[0].n, 48);
  // Workers store the same automatic fields as a local build (issue 20): size, width, label...
  const withFields = await server.query<{ n: number }>(`SELECT count(*)::int AS n FROM lookalike.items_scale WHERE (fields->>'size')::bigint = size AND fields ? 'width' AND fields ? 'format'`);
  assert.equal(withFields.rows[0].n, 48);
  // The job interrupted inside its transaction was retried (pg-boss expiry + retry), not lost.
  const retried = await server.query<{ n: number }>(`SELECT count(*)::int AS n FROM pgboss.job WHERE name = 'lookalike_embed_scale' AND state = 'completed' AND retry_count > 0`);
  assert.ok(retried.rows[0].n >= 1, 'a killed job was retried');

  const st = await runCli(['status', '--store', url, '--json']);
  assert.equal(st.status, 0, st.stderr);
  const status = JSON.parse(st.stdout);
  assert.equal(status.stored, 48);
  assert.equal(status.states.completed, 12);
  assert.equal(status.states.failed, 1);
  assert.equal(status.states.created + status.states.retry + status.states.active, 0);
  assert.match(status.failures[0].error, /bad job data/);
  assert.equal(status.workers.reduce((a: number, w: { images: number }) => a + w.images, 0) >= 48, true);
  const text = await runCli(['status', '--store', url]);
  assert.match(text.stdout, /scale: 48 images stored/);
  assert.match(text.stdout, /12 done, 1 failed/);

  // Re-running the enqueue after a change queues only that change and deletes what vanished.
  fs.rmSync(path.join(gallery, images[0]));
  fs.writeFileSync(path.join(gallery, images[1]), fs.readFileSync(path.join(gallery, images[2])));
  const again = await runCli(['index', gallery, '--model', model, ...TINY_FLAGS, '--store', url, '--enqueue', '--json']);
  assert.equal(again.status, 0, again.stderr);
  const r2 = JSON.parse(again.stdout);
  assert.deepEqual([r2.queued, r2.removed, r2.unchanged], [1, 1, 46]);
});
