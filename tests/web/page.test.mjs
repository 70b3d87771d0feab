// Tests of the static page (examples/web) in headless Chromium (Debian's
// /usr/bin/chromium driven by playwright-core; no browser is downloaded):
// upload, paste and drop the bundled sample and check that 72.38.252.2
// shows ehlo_quit_probe with its reasons and timeline; on the day example
// (examples/logs/make_day.rs, $DAY_LOG) check that the overview is the
// CLI's (the same header, the probe ranked first with the CLI's cadence
// line, the blocklist's name, the legitimate-traffic line) and that a click
// shows the probe's detail (its pattern, cadence, verdict with reasons and
// the CLI's conclusion); check the filters; check that a large file is
// processed in the worker with progress while the page stays responsive.
// Saves screenshots under $WEB_TEST_OUT (default target/web-test/).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { serve } from './server.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const webDir = process.env.WEB_DIR || path.join(root, 'examples/web');
const target = process.env.CARGO_TARGET_DIR || path.join(root, 'target');
const out = process.env.WEB_TEST_OUT || path.join(target, 'web-test');
const cli = process.env.POSTFIX_ENRICH_CLI || path.join(target, 'debug', 'postfix-enrich');
const dayLog = process.env.DAY_LOG || path.join(target, 'day.log');
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

/** The CLI's text report (the page dates year-less stamps from today, as the CLI does). */
function cliText(args) {
  const r = spawnSync(cli, ['explain', '--quiet', ...args], { encoding: 'utf8', maxBuffer: 1 << 28 });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.split('\n');
}

async function checkProbe(page) {
  await page.waitForSelector('body[data-state="done"]', { timeout: 30_000 });
  const card = page.locator(`article.client[data-address="${PROBE}"]`);
  await card.waitFor();
  const text = await card.innerText();
  assert.match(text, /ehlo_quit_probe/);
  assert.match(text, /SUSPICIOUS/);
  assert.match(await card.locator('.conclusion').innerText(), /never tried AUTH or MAIL: a capability probe; nothing got in/);
  const reasons = await card.locator('.verdict ul.reasons li').allInnerTexts();
  assert.ok(reasons.length > 0, 'reasons listed');
  // The example timeline shows the commands and replies.
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

// The day example with a blocklist that lists the probe, named by its file.
const listDir = path.join(out, 'lists');
mkdirSync(listDir, { recursive: true });
const openbl = path.join(listDir, 'openbl.txt');
writeFileSync(openbl, readFileSync(path.join(root, 'examples/logs/blocklist-example.txt')));

async function openDay(page) {
  await page.setInputFiles('#f-blocklists', openbl);
  await page.setInputFiles('#file', dayLog);
  await page.waitForSelector('body[data-state="done"]', { timeout: 60_000 });
}

const settled = async (page, click = '#apply') => {
  await page.click(click);
  await page.waitForSelector('body[data-state="done"]', { timeout: 60_000 });
};

test('the day example: the overview is the CLI\'s, the probe first with its cadence and list', async () => {
  const { page, errors } = await open();
  await openDay(page);
  const text = cliText(['--blocklist', `openbl=${openbl}`, dayLog]);
  assert.equal(await page.locator('.report-header').innerText(), text[0]);
  const first = page.locator('ol.ranked > li.client-line').first();
  assert.equal(await first.getAttribute('data-address'), PROBE);
  const second = await first.locator('.second').innerText();
  assert.match(second, /^every 3 min \d+ s ± [\d.]+ s, 480 times, 00:0\d-23:5\d; tried no AUTH, no MAIL/);
  // The line under the probe's in the CLI's overview, word for word.
  const at = text.findIndex((l) => l.trimStart().startsWith(`${PROBE} `));
  assert.ok(at > 0, text.join('\n'));
  assert.match(text[at], /\[listed: openbl\]/);
  assert.equal(second, text[at + 1].trim());
  assert.deepEqual(await first.locator('.badge.list').allInnerTexts(), ['openbl']);
  const legit = text.find((l) => l.startsWith('legitimate traffic: '));
  assert.ok(legit, text.join('\n'));
  assert.equal(await page.locator('.group.legitimate').innerText(), legit);
  assert.equal(await page.locator('ol.ranked > li').count(), text.filter((l) => /^      \S/.test(l)).length);
  await page.screenshot({ path: path.join(out, 'day-overview.png'), fullPage: true });

  // A click shows the detail `explain --client` shows.
  await first.locator('button.line').click();
  const card = first.locator(`article.client[data-address="${PROBE}"]`);
  await card.waitFor();
  const detail = cliText(['--blocklist', `openbl=${openbl}`, '--client', PROBE, dayLog]);
  const line = (prefix) => detail.find((l) => l.trim().startsWith(prefix))?.trim();
  assert.equal(`cadence: ${await card.locator('dd.cadence').innerText()}`, line('cadence: '));
  assert.equal(`tried: ${await card.locator('dd.tried').innerText()}`, line('tried: '));
  assert.equal(await card.locator('.conclusion').innerText(), line('conclusion: '));
  const patterns = await card.locator('.pattern summary').allInnerTexts();
  assert.equal(patterns.length, 1, patterns.join('\n'));
  assert.match(patterns[0], /^480 × EHLO User/);
  assert.equal(patterns[0], line('480 × '));
  assert.ok((await card.locator('.pattern .step').count()) > 3, 'the pattern has its example timeline');
  assert.ok((await card.locator('.verdict ul.reasons li').count()) > 0);
  assert.match(await card.locator('.verdict').first().innerText(), /ehlo_quit_probe \(suspicious, confidence \w+\) ×480/);
  await page.screenshot({ path: path.join(out, 'day-detail.png'), fullPage: true });
  assert.deepEqual(errors, []);
  await page.close();
});

test('filters re-read the input: suspicious only, by class, by client (CIDR), by time', async () => {
  const { page, errors } = await open();
  await openDay(page);
  assert.equal(await page.locator('.group.legitimate').count(), 1);
  await page.check('#f-suspicious');
  await settled(page);
  assert.equal(await page.locator('.group.legitimate').count(), 0);
  assert.equal(await page.locator('.report-header').innerText(), cliText(['--suspicious', dayLog])[0]);
  await page.uncheck('#f-suspicious');
  await page.selectOption('#f-class', 'ehlo_quit_probe');
  await settled(page);
  assert.equal(await page.locator('.report-header').innerText(), cliText(['--class', 'ehlo_quit_probe', dayLog])[0]);
  await page.selectOption('#f-class', '');
  // One client in the filter: the page shows its detail directly, as the CLI's --client does.
  await page.fill('#f-client', '72.38.0.0/16');
  await settled(page);
  assert.equal(await page.locator('article.client').count(), 1);
  assert.equal(await page.locator('article.client').getAttribute('data-address'), PROBE);
  await page.fill('#f-client', '127.0.0.0/8');
  await settled(page);
  assert.equal(await page.locator(`[data-address="${PROBE}"]`).count(), 0);
  await page.fill('#f-client', '');
  // An hour of the day the log covers: the day example takes its date from
  // the recorded corpus, so it moves whenever the corpus is re-recorded.
  const day = JSON.parse(cliText(['--json', dayLog]).join('\n')).first_seen.slice(0, 10);
  await page.fill('#f-since', `${day}T06:00:00`);
  await page.fill('#f-until', `${day}T07:00:00`);
  await settled(page);
  const hour = cliText(['--since', `${day} 06:00`, '--until', `${day}T07:00:00Z`, dayLog]);
  assert.match(hour[0], / [1-9]\d* session\(s\)/, 'the hour has sessions');
  assert.equal(await page.locator('.report-header').innerText(), hour[0]);
  await page.fill('#f-client', 'not an address');
  await page.click('#apply');
  await page.waitForSelector('body[data-state="error"]');
  assert.match(await page.locator('#status').innerText(), /client: not an address or CIDR network/);
  assert.deepEqual(errors, []);
  await page.close();
});

test('a blocklist with bad lines is reported once and does not stop the report', async () => {
  const { page, errors } = await open();
  const bad = path.join(listDir, 'mixed.txt');
  writeFileSync(bad, `${PROBE}\nthis is not an address\n`);
  await page.setInputFiles('#f-blocklists', bad);
  await page.setInputFiles('#file', sample);
  await checkProbe(page);
  const warnings = await page.locator('#warnings .warning').allInnerTexts();
  assert.equal(warnings.length, 1);
  assert.match(warnings[0], /blocklist mixed: 1 entries, 1 line\(s\) skipped as not an address \(first: line 2/);
  assert.deepEqual(await page.locator(`article.client[data-address="${PROBE}"] .badge.list`).allInnerTexts(), ['listed: mixed']);
  assert.deepEqual(errors, []);
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
  // The same report as the CLI's on the same file.
  assert.equal(await page.locator('.report-header').innerText(), cliText([big])[0]);
  assert.ok(await page.locator('ol.ranked > li.client-line').count() > 0);
  await page.screenshot({ path: path.join(out, 'large.png') });
  assert.deepEqual(errors, []);
  await page.close();
});
