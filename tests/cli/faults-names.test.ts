/**
 * Careless names and numbers (docs/reliability.md): escape sequences in file names reach the
 * terminal escaped, a name that is not UTF-8 is skipped with that reason (not "file not found"),
 * and option numbers must be decimal (`-k 0x10` is refused, not read as 16).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { classImage } from '../../src/data/synthetic.ts';
import { checkK, toInteger, toNumber } from '../../src/util/options.ts';
import { runCli } from '../helpers/cli.ts';
import { tmpDir, TINY_FLAGS, writeTinyCnn } from '../helpers/tmp.ts';

test('file names with escape sequences are printed escaped; a name that is not UTF-8 is skipped with that reason', { skip: process.platform !== 'linux' }, async () => {
  const dir = tmpDir();
  const model = writeTinyCnn(dir);
  const gal = path.join(dir, 'gallery');
  fs.mkdirSync(gal);
  fs.writeFileSync(path.join(gal, 'plain.jpg'), await classImage(0, 1));
  const evil = '\x1b]0;pwned\x07\x1b[31mred\x1b[0m\r.jpg';
  fs.writeFileSync(path.join(gal, evil), await classImage(1, 2));
  fs.writeFileSync(path.join(gal, '\x1b[2Jbad.bin'), 'x');
  // Latin-1 "café.jpg": byte 0xE9 alone is not UTF-8.
  fs.writeFileSync(Buffer.concat([Buffer.from(gal + '/caf'), Buffer.from([0xe9]), Buffer.from('.jpg')]), await classImage(2, 3));
  const r = await runCli(['index', gal, '--model', model, ...TINY_FLAGS, '--out', path.join(dir, 'g.lkx')]);
  assert.equal(r.status, 0, r.stderr);
  const printed = r.stdout + r.stderr;
  assert.ok(!/[\x00-\x08\x0b-\x1f\x7f]/.test(printed), `raw control characters reached the terminal: ${JSON.stringify(printed)}`);
  assert.ok(r.stdout.includes('+ \\x1b]0;pwned\\x07\\x1b[31mred\\x1b[0m\\x0d.jpg'), r.stdout);
  assert.ok(r.stderr.includes('\\x1b[2Jbad.bin'), r.stderr);
  assert.match(r.stderr, /caf\uFFFD\.jpg: file name is not valid UTF-8/);
  assert.ok(!/file not found/.test(r.stderr), r.stderr);
  assert.match(r.stdout, /2 images/);
});

test('option numbers are decimal: -k 0x10, 0b1, 0o7 and Infinity are refused naming the option', async () => {
  for (const v of ['0x10', '0b1', '0o7', 'Infinity', ' ']) {
    assert.throws(() => checkK(v), /^OptionError: k .*: expected an integer from 1 to 1000000/, v);
    assert.throws(() => toInteger(v, 'batch', 1), /^OptionError: batch /, v);
  }
  assert.throws(() => toNumber('0x10', 'valFrac'), /^OptionError: valFrac 0x10: not a number/);
  assert.equal(checkK('16'), 16);
  assert.equal(checkK('1e3'), 1000);
  assert.equal(toNumber('-0.25', 'x'), -0.25);
  const r = await runCli(['search', '--store', 'nothing.lkx', '--id', 'x', '-k', '0x10']);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /-k 0x10: expected an integer from 1 to 1000000/);
});
