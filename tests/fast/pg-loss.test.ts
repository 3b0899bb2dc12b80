/** A lost Postgres connection leaves the store as one error that says so, whichever statement it hit; a commit of unknown outcome is never repeated. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isConnectionLoss, lostError, retryOnLoss } from '../../src/store/pg/db.ts';

const adminShutdown = () => Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' });

test('lostError: one line with the advice, kept once converted, and says when a commit may have happened', async () => {
  const e = lostError(adminShutdown(), 'postgres://db');
  assert.match(e.message, /^postgres:\/\/db: lost the connection to the Postgres server \(terminating connection due to administrator command\); .*Nothing of the interrupted transaction was committed; run the command again/);
  assert.equal(e.message.split('\n').length, 1);
  assert.ok(isConnectionLoss(e), 'a converted error is still a loss (retried by retryOnLoss)');
  assert.equal(lostError(e, 'elsewhere'), e, 'not wrapped twice');
  const unknown = lostError(Object.assign(adminShutdown(), { commitUnknown: true }), 'postgres://db');
  assert.match(unknown.message, /lost the connection to the Postgres server .*whether that change was committed is unknown/);
  assert.doesNotMatch(unknown.message, /Nothing of the interrupted transaction/);
});

test('retryOnLoss: a loss is retried, a commit of unknown outcome is not (one converted error), other errors pass through', async () => {
  let calls = 0;
  assert.equal(await retryOnLoss('w', async () => (calls++ ? 'ok' : Promise.reject(adminShutdown()))), 'ok');
  assert.equal(calls, 2);
  calls = 0;
  await assert.rejects(
    retryOnLoss('w', async () => {
      calls++;
      throw Object.assign(adminShutdown(), { commitUnknown: true });
    }),
    (e: Error & { code?: string }) => e.code === 'LOOKALIKE_PG_LOST' && /committed is unknown/.test(e.message),
  );
  assert.equal(calls, 1, 'never repeated');
  await assert.rejects(retryOnLoss('w', async () => Promise.reject(new Error('syntax error at or near "SELEC"'))), /^Error: syntax error/);
});
