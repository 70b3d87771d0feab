// Tests of the static page (examples/web) in headless Chromium (Debian's
// /usr/bin/chromium driven by playwright-core; no browser is downloaded):
// upload and paste the bundled sample and check that 72.38.252.2 shows
// ehlo_quit_probe with its reasons; check the filters; check that a large
// file is processed in the worker with progress while the page stays
// responsive. Saves screenshots under $WEB_TEST_OUT (default
// target/web-test/).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { serve } from './server.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const webDir = process.env.WEB_DIR || path.join(root, 'examples/web');
const out = process.env.WEB_TEST_OUT || path.join(process.env.CARGO_TARGET_DIR || path.join(root, 'target'), 'web-test');
const sample = path.join(root, 'examples/logs/seed-ehlo-probe.log');
const PROBE = '72.38.252.2';

let server;
let browser;
let base;

before(async () => {
  mkdirSync(out, { recursive: true });
  server = await serve(webDir, 0);
  base = `http://127.0.0.1:${server.address().port}/`;
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});

after(async () => {
  await browser?.close();
  server?.close();
});

async function open() {
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  await page.goto(base);
  return { page, errors };
}

async function checkProbe(page) {
  await page.waitForSelector('body[data-state="done"]', { timeout: 30_000 });
  const card = page.locator(`article.client[data-address="${PROBE}"]`);
  await card.waitFor();
  const text = await card.innerText();
  assert.match(text, /ehlo_quit_probe/);
  assert.match(text, /SUSPICIOUS/);
  const reasons = await card.locator('.verdict ul.reasons li').allInnerTexts();
  assert.ok(reasons.length > 0, 'reasons listed');
  // The timeline shows the commands and replies.
  const steps = await card.locator('.step .x').allInnerTexts();
  assert.ok(steps.some((s) => s.startsWith('EHLO')), steps.join('\n'));
  assert.ok(steps.some((s) => s.startsWith('QUIT')), steps.join('\n'));
  assert.ok(steps.some((s) => /^250[ -]/.test(s)), steps.join('\n'));
  return { text, reasons };
}

test('uploading the sample shows 72.38.252.2 as ehlo_quit_probe with reasons', async () => {
  const { page, errors } = await open();
  await page.setInputFiles('#file', sample);
  const { reasons } = await checkProbe(page);
  await page.screenshot({ path: path.join(out, 'screenshot.png'), fullPage: true });
  writeFileSync(path.join(out, 'reasons.txt'), reasons.join('\n') + '\n');
  assert.deepEqual(errors, []);
  await page.close();
});

test('pasting the sample gives the same result', async () => {
  const { page, errors } = await open();
  await page.fill('#paste', readFileSync(sample, 'utf8'));
  await page.click('#analyse');
  await checkProbe(page);
  assert.deepEqual(errors, []);
  await page.close();
});

test('dropping a file on the page analyses it', async () => {
  const { page, errors } = await open();
  const text = readFileSync(sample, 'utf8');
  await page.evaluate((t) => {
    const dt = new DataTransfer();
    dt.items.add(new File([t], 'mail.log', { type: 'text/plain' }));
    window.dispatchEvent(new DragEvent('dragenter', { dataTransfer: dt }));
    window.dispatchEvent(new DragEvent('drop', { dataTransfer: dt }));
  }, text);
  await checkProbe(page);
  assert.equal(await page.locator('#drop').isHidden(), true);
  assert.deepEqual(errors, []);
  await page.close();
});

test('filters: suspicious only, by class, by address', async () => {
  const { page } = await open();
  await page.setInputFiles('#file', sample);
  await page.waitForSelector('body[data-state="done"]');
  const all = await page.locator('article.client').count();
  // Filtering is a round trip to the worker: wait for its answer each time.
  const settled = () => page.waitForSelector('body[data-state="done"]');
  await page.check('#f-suspicious');
  await settled();
  const sus = page.locator('article.client');
  assert.ok((await sus.count()) >= 1);
  assert.equal(await page.locator('article.client:not(.suspicious)').count(), 0);
  await page.uncheck('#f-suspicious');
  await settled();
  await page.selectOption('#f-class', 'ehlo_quit_probe');
  await settled();
  assert.ok(await page.locator(`article.client[data-address="${PROBE}"]`).count() === 1);
  await page.selectOption('#f-class', '');
  await settled();
  await page.fill('#f-address', '72.38.');
  await settled();
  assert.equal(await page.locator('article.client').count(), 1);
  await page.fill('#f-address', 'no-such-client');
  await settled();
  assert.equal(await page.locator('article.client').count(), 0);
  await page.fill('#f-address', '');
  await settled();
  assert.equal(await page.locator('article.client').count(), Math.min(all, 100));
  await page.close();
});

test('a large file is processed in a worker with progress, the page stays responsive', async () => {
  // ~30 MB (BIG_MB to change): the sample and the corpus repeated with shifted pids so every
  // copy is a new set of sessions.
  const src = [readFileSync(sample, 'utf8')];
  try { src.push(readFileSync(path.join(root, 'tests/corpus/recording/mail.log'), 'utf8')); } catch { /* absent */ }
  const parts = [];
  let size = 0;
  const mb = Number(process.env.BIG_MB || 30);
  for (let i = 0; size < mb << 20; i++) {
    const chunk = src[i % src.length].replace(/\[(\d+)\]:/g, (_, p) => `[${Number(p) + i * 7}]:`);
    parts.push(chunk);
    size += chunk.length;
  }
  const big = path.join(out, 'big.log');
  writeFileSync(big, parts.join(''));
  const { page, errors } = await open();
  await page.setInputFiles('#file', big);
  const progress = new Set();
  // Round trips to the page's main thread while the worker runs; the last
  // one also covers receiving and rendering the report.
  let worstPing = 0;
  let lastPing = 0;
  for (;;) {
    const t0 = Date.now();
    const state = await page.evaluate(() => [document.body.dataset.state, document.getElementById('bar').value]);
    lastPing = Date.now() - t0;
    if (state[0] === 'working') worstPing = Math.max(worstPing, lastPing);
    if (process.env.DEBUG_PAGE) console.log(Date.now() - t0, state);
    progress.add(state[1]);
    if (state[0] !== 'working' && state[0] !== 'filtering') break;
    await page.waitForTimeout(50);
  }
  assert.equal(await page.evaluate(() => document.body.dataset.state), 'done');
  assert.ok(progress.size >= 3, `progress updates seen: ${[...progress]}`);
  assert.ok(worstPing < 1000, `main thread blocked ${worstPing} ms while working`);
  assert.ok(lastPing < 1000, `main thread blocked ${lastPing} ms by the report`);
  assert.match(await page.locator('#status').innerText(), /lines in \d+ ms/);
  assert.ok(await page.locator(`article.client[data-address="${PROBE}"]`).count() === 1);
  await page.screenshot({ path: path.join(out, 'large.png') });
  assert.deepEqual(errors, []);
  await page.close();
});
