/**
 * The page as a gallery explorer in a real browser (Debian chromium through playwright-core), at
 * 1280x800 and 390x844: browse, filter with a facet, open the viewer, search from it, like/unlike,
 * upload, the map and a region selection, a duplicate group reviewed and removed, keyboard, and
 * the URL holding the view. Screenshots of each state land in out/test-artefacts/explorer-*.png.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import sharp from 'sharp';
import { writeClassFolders } from '../../src/data/synthetic.ts';
import { indexFolder } from '../../src/api.ts';
import { startServer, type Server } from '../../src/serve/app.ts';
import { ROOT, tmpDir, writeTinyCnn } from '../helpers/tmp.ts';

const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
/** Screenshots land here (gitignored) for a person to look at. */
const ARTEFACTS = path.join(ROOT, 'out', 'test-artefacts');
const TOKEN = 'explorer-test-token-123';

const texts = (page: Page, sel: string) => page.$$eval(sel, (els) => els.map((e) => e.textContent ?? ''));
const count = (page: Page, sel: string) => page.$$eval(sel, (els) => els.length);
const status = async (page: Page) => (await page.textContent('#status')) ?? '';
/** Wait until every image on screen has loaded (those below the fold load lazily). */
const imagesLoaded = (page: Page, sel = '#results img') =>
  page.waitForFunction((s) => [...document.querySelectorAll<HTMLImageElement>(s)].filter((i) => i.getBoundingClientRect().top < window.innerHeight).every((i) => i.complete && i.naturalWidth > 0), sel);

test('explorer page: browse, facet, viewer, search, like/unlike, map selection, duplicates, keyboard; desktop and phone', async () => {
  assert.ok(fs.existsSync(CHROMIUM), `${CHROMIUM} not found: install Debian's chromium (apt-get install chromium) or set CHROMIUM`);
  const dir = tmpDir('lookalike-explorer-');
  const gallery = path.join(dir, 'gallery');
  // 6 classes x 8 drawn images, plus a byte copy and a re-encoded copy of one: a duplicate group of 3.
  await writeClassFolders(gallery, 6, 8, 0, 96);
  fs.rmSync(path.join(gallery, 'labels.csv'));
  fs.copyFileSync(path.join(gallery, 'class01/002.jpg'), path.join(gallery, 'class01/002-copy.jpg'));
  await sharp(path.join(gallery, 'class01/002.jpg')).jpeg({ quality: 70 }).toFile(path.join(gallery, 'class01/002-small.jpg'));
  const out = path.join(dir, 'explorer.lkx');
  await indexFolder(gallery, out, { model: writeTinyCnn(dir) });
  const server: Server = await startServer({ index: out, port: 0, log: () => undefined, watch: false, token: TOKEN });
  fs.mkdirSync(ARTEFACTS, { recursive: true });
  const shot = (page: Page, name: string) => page.screenshot({ path: path.join(ARTEFACTS, `explorer-${name}.png`), fullPage: false });
  let browser: Browser | undefined;
  try {
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update'] });
    for (const [tag, viewport] of [['desktop', { width: 1280, height: 800 }], ['phone', { width: 390, height: 844 }]] as const) {
      const page = await browser.newPage({ viewport });
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      page.on('console', (m) => (m.type() === 'error' ? errors.push(`${m.text()} ${m.location().url}`) : undefined));
      const total = server.live.current.count;

      // 1. Browse: the page opens on the gallery, a label (the class folder) under each thumbnail.
      await page.goto(server.url + '/');
      await page.waitForFunction((n) => document.querySelectorAll('#results li').length === n, total);
      assert.match(await status(page), new RegExp(`^${total} items · `));
      const labels = await texts(page, '#results .label');
      assert.deepEqual([...new Set(labels)].sort(), ['class00', 'class01', 'class02', 'class03', 'class04', 'class05']);
      assert.match((await page.textContent('#no-text')) ?? '', /has no text tower/);
      assert.equal(await page.isVisible('#text-form'), false);
      assert.equal(await page.getAttribute('#results li:first-child img', 'alt'), 'class00: 000.jpg');
      await imagesLoaded(page);
      const overflow = () => page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok((await overflow()) <= 0, `${tag}: page is ${await overflow()}px wider than the window`);
      if (tag === 'phone') assert.equal(await page.$$eval('#results li', (l) => new Set(l.slice(0, 4).map((e) => Math.round(e.getBoundingClientRect().left))).size), 2, 'two columns on a phone');
      await shot(page, `${tag}-1-browse`);

      // 2. Facet: choosing label class03 adds a chip, filters the grid, and goes into the URL.
      if (!(await page.$eval('#facets-box', (d) => (d as HTMLDetailsElement).open))) await page.click('#facets-box summary');
      await page.click('fieldset[data-field="label"] label:has-text("class03") input');
      await page.waitForFunction(() => /^8 items matching the filter/.test(document.getElementById('status')!.textContent ?? ''));
      assert.deepEqual([...new Set(await texts(page, '#results .label'))], ['class03']);
      assert.deepEqual(await texts(page, '#chips .chip > span:first-child'), ['label: class03']);
      assert.match(decodeURIComponent(page.url()), /chips=\[\{"field":"label","values":\["class03"\]\}\]/);
      await imagesLoaded(page);
      await shot(page, `${tag}-2-facet`);

      // 3. Viewer: the full-size original, its fields, its nearest neighbours.
      const first = (await page.getAttribute('#results li:first-child button', 'data-id'))!;
      await page.click('#results li:first-child button');
      await page.waitForSelector('#viewer[open]');
      await page.waitForFunction(() => document.querySelectorAll('#viewer-near li').length === 8);
      await imagesLoaded(page, '#viewer img');
      assert.equal(await page.textContent('#viewer-id'), first);
      assert.equal(await page.$eval('#viewer-img', (i) => (i as HTMLImageElement).naturalWidth), 96, 'the original, not a thumbnail');
      assert.deepEqual(await page.$$eval('#viewer-fields th', (t) => t.map((x) => x.textContent)).then((h) => h.filter((x) => x === 'label' || x === 'width')), ['label', 'width']);
      await shot(page, `${tag}-3-viewer`);

      // 4. Search from the viewer: results for that item, still within the filter.
      await page.click('#v-search');
      await page.waitForFunction((id) => (document.getElementById('status')!.textContent ?? '').includes(`results for ${id}`), first);
      assert.equal(await page.$eval('#viewer', (d) => (d as HTMLDialogElement).open), false);
      assert.equal(await page.getAttribute('#results li:first-child button', 'data-id'), first);
      assert.equal(await page.textContent('#results li:first-child .score'), '1.000');
      assert.match(await status(page), /^8 results for .* matching the filter/);
      assert.deepEqual([...new Set(await texts(page, '#results .label'))], ['class03']);
      await imagesLoaded(page);
      await shot(page, `${tag}-4-search`);

      // 5. More like this / less like this: a like/unlike query; the examples leave the results.
      const liked = (await page.getAttribute('#results li:nth-child(2) button', 'data-id'))!;
      await page.click('#results li:nth-child(2) button');
      await page.waitForSelector('#viewer[open]');
      await page.click('#v-like');
      await page.waitForFunction(() => /1 liked, 0 disliked/.test(document.getElementById('status')!.textContent ?? ''));
      const unliked = (await page.getAttribute('#results li:nth-child(3) button', 'data-id'))!;
      await page.click('#results li:nth-child(3) button');
      await page.waitForSelector('#viewer[open]');
      await page.click('#v-unlike');
      await page.waitForFunction(() => /1 liked, 1 disliked/.test(document.getElementById('status')!.textContent ?? ''));
      const ids = await page.$$eval('#results button.hit', (b) => b.map((x) => (x as HTMLElement).dataset.id));
      assert.ok(!ids.includes(liked) && !ids.includes(unliked), 'examples are not results');
      assert.equal(ids.length, 6);
      assert.deepEqual((await texts(page, '#chips .chip > span:first-child')).slice(1), [`like ${liked.split('/').pop()}`, `unlike ${unliked.split('/').pop()}`]);
      await imagesLoaded(page);
      await shot(page, `${tag}-5-like-unlike`);

      // An uploaded image (the file input, as a drop or paste gives it) finds itself first; the like/unlike examples stay in the URL only for their own query.
      if (tag === 'desktop') {
        await page.setInputFiles('#file', path.join(gallery, 'class03/005.jpg'));
        await page.waitForFunction(() => /results for 005\.jpg/.test(document.getElementById('status')!.textContent ?? ''));
        assert.equal(await page.getAttribute('#results li:first-child button', 'data-id'), 'class03/005.jpg');
        const scores = (await texts(page, '#results .score')).map(Number);
        assert.ok(scores[0] > 0.999 && scores.every((x, i) => i === 0 || x <= scores[i - 1]), `scores ${scores}`);
        // A file that is not an image: a one-line error, and the page keeps working.
        await page.setInputFiles('#file', { name: 'notes.png', mimeType: 'text/plain', buffer: Buffer.from('not really a png') });
        await page.waitForSelector('#error:not([hidden])');
        assert.match((await page.textContent('#error')) ?? '', /notes\.png: not an image/);
        await page.goBack();
        await page.waitForFunction(() => /1 liked, 1 disliked/.test(document.getElementById('status')!.textContent ?? ''));
      }

      // 6. Keyboard: arrows move through the grid, Enter opens, Escape closes.
      await page.focus('#results li:first-child button');
      await page.keyboard.press('ArrowRight');
      const focused = await page.evaluate(() => (document.activeElement as HTMLElement).dataset.id);
      assert.equal(focused, ids[1]);
      await page.keyboard.press('Enter');
      await page.waitForSelector('#viewer[open]');
      assert.equal(await page.textContent('#viewer-id'), ids[1]);
      await page.keyboard.press('Escape');
      await page.waitForSelector('#viewer:not([open])', { state: 'attached' });

      // 7. Map: back home, open the map, hover a point, drag over a region: the grid shows that region.
      await page.click('#home');
      await page.waitForFunction((n) => document.querySelectorAll('#results li').length === n, total);
      await page.click('.tabs button[data-tab="map"]');
      await page.waitForFunction(() => /items · (UMAP|PCA)/.test(document.getElementById('map-status')!.textContent ?? ''));
      assert.equal(await count(page, '#map-legend li'), 6);
      const map = (await (await fetch(server.url + '/map?color=label')).json()) as { ids: string[]; x: number[]; y: number[] };
      const box = (await page.$eval('#map', (c) => (c.scrollIntoView({ block: 'end' }), c.getBoundingClientRect().toJSON()))) as DOMRect;
      const pad = 12;
      const s = Math.min(box.width, box.height) - 2 * pad;
      const screen = (i: number) => [box.x + pad + map.x[i] * s + (box.width - s - 2 * pad) / 2, box.y + pad + (1 - map.y[i]) * s];
      const [hx, hy] = screen(0);
      await page.mouse.move(hx, hy);
      await page.waitForSelector('#map-tip:not([hidden])');
      assert.match((await page.textContent('#map-tip span')) ?? '', new RegExp(`^${map.ids[0]}`));
      await shot(page, `${tag}-6-map`);
      // The part of the map left of a cut in the widest gap between points (so pixel rounding cannot move a point across).
      const xs = [...map.x].sort((a, b) => a - b);
      let at = Math.floor(xs.length / 4);
      for (let i = at; i < (3 * xs.length) / 4; i++) if (xs[i + 1] - xs[i] > xs[at + 1] - xs[at]) at = i;
      const cut = (xs[at] + xs[at + 1]) / 2;
      const inside = map.x.filter((x) => x <= cut).length;
      assert.ok(inside > 0 && inside < total, `${inside} points left of ${cut}`);
      await page.mouse.move(box.x + pad + (box.width - s - 2 * pad) / 2 - 4, box.y + 2);
      await page.mouse.down();
      await page.mouse.move(box.x + pad + (box.width - s - 2 * pad) / 2 + cut * s, box.y + box.height / 2, { steps: 4 });
      await page.mouse.move(box.x + pad + (box.width - s - 2 * pad) / 2 + cut * s, box.y + box.height - 2, { steps: 4 });
      await page.mouse.up();
      await page.waitForFunction(() => /matching the filter/.test(document.getElementById('status')!.textContent ?? ''));
      const selected = await count(page, '#results li');
      assert.equal(selected, inside, 'the grid holds the points in the selected region');
      assert.deepEqual(await texts(page, '#chips .chip > span:first-child'), [`map selection: ${inside} items`]);
      assert.match(page.url(), /box=/);
      await imagesLoaded(page);
      await shot(page, `${tag}-7-map-selection`);
      // The URL holds the view: a fresh page on it shows the same selection.
      const url = page.url();
      const again = await browser.newPage({ viewport });
      await again.goto(url);
      await again.waitForFunction((n) => document.querySelectorAll('#results li').length === n, inside);
      await again.close();

      // 8. Duplicates: the copies of class01/002 form a group at the auto threshold.
      await page.click('#home');
      await page.click('.tabs button[data-tab="dups"]');
      await page.waitForFunction(() => /threshold [\d.]+ \(auto\) · \d+ groups/.test(document.getElementById('dups-status')!.textContent ?? ''));
      const group = await page.$$eval('.dup-group:first-of-type .dup-row .id', (e) => e.map((x) => x.textContent ?? '').sort());
      assert.deepEqual(group, ['class01/002-copy.jpg', 'class01/002-small.jpg', 'class01/002.jpg']);
      assert.match((await page.textContent('.dup-group:first-of-type')) ?? '', /keeper/);
      assert.match((await page.textContent('.dup-group:first-of-type')) ?? '', /KB · 96×96/);
      await page.fill('#threshold', '0.9999');
      await page.click('#dups-form button[type=submit]');
      await page.waitForFunction(() => /threshold 0\.9999 \(given\)/.test(document.getElementById('dups-status')!.textContent ?? ''));
      await imagesLoaded(page, '.dup-group img');
      await shot(page, `${tag}-8-duplicates`);
      if (tag === 'phone') {
        // With the token: the checked copies leave the index; the files stay on disk.
        await page.fill('#threshold', '');
        await page.fill('#token', TOKEN);
        await page.click('#dups-form button[type=submit]');
        await page.waitForFunction(() => /\(auto\)/.test(document.getElementById('dups-status')!.textContent ?? ''));
        const checked = await page.$$eval('.dup-group:first-of-type input[type=checkbox]:checked', (c) => c.map((x) => (x as HTMLElement).dataset.id));
        assert.equal(checked.length, 2);
        await page.click('.dup-group:first-of-type > button');
        await page.waitForFunction(() => /^removed 2 items from the index/.test(document.getElementById('dups-status')!.textContent ?? ''));
        assert.equal(server.live.current.count, total - 2);
        for (const id of checked) assert.ok(fs.existsSync(path.join(gallery, id!)), `${id} still on disk`);
        await shot(page, `${tag}-9-removed`);
      }
      assert.deepEqual(errors, []);
      await page.close();
    }
  } finally {
    await browser?.close();
    await server.close();
  }
});
