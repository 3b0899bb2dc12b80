/** The web page in a real browser (Debian chromium through playwright-core): upload, results, click-through, phone width. */
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { writeClassFolders } from '../../src/data/synthetic.ts';
import { indexFolder } from '../../src/api.ts';
import { startServer, type Server } from '../../src/serve/app.ts';
import { ROOT, SHARED, tmpDir, writeTinyCnn } from '../helpers/tmp.ts';

const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
/** Screenshots land here (gitignored) for a person to look at. */
const ARTEFACTS = path.join(ROOT, 'out', 'test-artefacts');

test('web page: upload an image, see k results with scores, click one and see the next search; phone width', async (t) => {
  if (!fs.existsSync(CHROMIUM)) {
    // CI installs chromium (.ci/run); a machine without it cannot run this test.
    assert.fail(`${CHROMIUM} not found: install Debian's chromium (apt-get install chromium) or set CHROMIUM`);
  }
  const dir = tmpDir('lookalike-page-');
  // Real photos when ../shared is present, else drawn images.
  const shared = path.join(SHARED, 'datasets/ukbench56');
  let gallery = shared;
  if (!fs.existsSync(shared)) {
    t.diagnostic('../shared/datasets/ukbench56 absent: using drawn images');
    gallery = path.join(dir, 'gallery');
    await writeClassFolders(gallery, 6, 4, 0, 96);
  }
  const out = path.join(dir, 'page.lkx');
  await indexFolder(gallery, out, { model: writeTinyCnn(dir) });
  const server: Server = await startServer({ index: out, port: 0, log: () => undefined, watch: false });
  let browser: Browser | undefined;
  try {
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update'] });
    const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => (m.type() === 'error' ? errors.push(m.text()) : undefined));
    await page.goto(server.url + '/');
    await page.waitForFunction(() => /images/.test(document.getElementById('info')!.textContent ?? ''));
    const count = (await server.live.current.count).toLocaleString('en-US');
    assert.match((await page.textContent('#info')) ?? '', new RegExp(`${count} images · 16-d · model tiny-cnn\\.onnx`));
    assert.equal(await page.isVisible('#text-form'), false, 'no text box without a text tower');

    const ids = [...server.live.current.ids].sort();
    const query = path.join(gallery, ids[3]);
    await page.selectOption('#k', '12');
    await page.setInputFiles('#file', query);
    await page.waitForFunction(() => document.querySelectorAll('#results li').length === 12);
    const scores = await page.$$eval('#results .score', (els) => els.map((e) => Number(e.textContent)));
    assert.equal(scores.length, 12);
    assert.ok(scores.every((s, i) => Number.isFinite(s) && (i === 0 || s <= scores[i - 1])), `scores ${scores}`);
    assert.ok(scores[0] > 0.999, 'the uploaded gallery image finds itself first');
    assert.equal(await page.getAttribute('#results li:first-child .id', 'title'), ids[3]);
    assert.match((await page.textContent('#status')) ?? '', /12 results for .* · [\d.]+ ms/);
    await page.waitForFunction(() => [...document.querySelectorAll<HTMLImageElement>('#results img')].every((i) => i.complete && i.naturalWidth > 0));
    fs.mkdirSync(ARTEFACTS, { recursive: true });
    await page.screenshot({ path: path.join(ARTEFACTS, 'serve-page.png'), fullPage: true });

    // Click the third result: the page searches by its id.
    const clicked = (await page.getAttribute('#results li:nth-child(3) .id', 'title'))!;
    await page.click('#results li:nth-child(3) button');
    await page.waitForFunction((id) => (document.getElementById('status')!.textContent ?? '').includes(`results for ${id}`), clicked);
    assert.equal(await page.getAttribute('#results li:first-child .id', 'title'), clicked);
    assert.equal(await page.$$eval('#results li', (l) => l.length), 12);
    assert.match(page.url(), /#id=/);

    // A bad upload shows a one-line error and the page keeps working.
    await page.setInputFiles('#file', { name: 'notes.png', mimeType: 'image/png', buffer: Buffer.from('not really a png') });
    await page.waitForSelector('#error:not([hidden])');
    assert.match((await page.textContent('#error')) ?? '', /not an image/);

    // Phone width: one column for the query, two for results, nothing wider than the screen.
    await page.setViewportSize({ width: 390, height: 844 });
    await page.click('#results li:nth-child(2) button');
    await page.waitForSelector('#error[hidden]', { state: 'attached' });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `page is ${overflow}px wider than a phone`);
    const cols = await page.$$eval('#results li', (l) => new Set(l.slice(0, 4).map((e) => Math.round(e.getBoundingClientRect().left))).size);
    assert.equal(cols, 2);
    await page.screenshot({ path: path.join(ARTEFACTS, 'serve-page-phone.png'), fullPage: false });
    assert.deepEqual(errors.filter((e) => !/Failed to load resource.*(415|4\d\d)/.test(e)), []);
  } finally {
    await browser?.close();
    await server.close();
  }
});
