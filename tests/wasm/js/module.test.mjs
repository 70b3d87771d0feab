// Tests of the JS module (plugin/js, wasm-bindgen, Node target) with Node's
// built-in runner: its output must equal the native core's on the bundled
// sample and the real-Postfix corpus (when present; a skip says so when
// not): events line for line (objects and the exact NDJSON text), the
// stateless `enrichLine` against `--stateless`, and `sessions()` against
// `explain --sessions --json`. The native side is
// plugin/wasm/examples/native.rs, built from the same core source;
// tests/wasm/test_reference.py checks that it prints exactly what the CLI
// prints. The report (`explain()`) and blocklists are compared with the
// product CLI itself: report.test.mjs.
//
// Env: PKG_NODE (dir of the wasm-bindgen nodejs output), CARGO_TARGET_DIR.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const target = process.env.CARGO_TARGET_DIR || path.join(root, 'target');
const pkgDir = process.env.PKG_NODE || path.join(target, 'js-pkg', 'node');
const native = process.env.NATIVE_REF || path.join(target, 'debug', 'examples', 'native');
const require = createRequire(import.meta.url);
const pfe = require(path.join(pkgDir, 'postfix_enrich_js.js'));

const sample = path.join(root, 'examples/logs/seed-ehlo-probe.log');
const corpus = ['mail.log', 'syslog.log'].map((f) => path.join(root, 'tests/corpus/recording', f));
const inputs = [sample, ...corpus];
// Year-less stamps are dated relative to a reference day (the CLI: today).
// The native reference uses the core's fixed default, 31 December 2026;
// pass the same so the comparison does not depend on the date it runs.
const REF = Date.UTC(2026, 11, 31);

function lines(file) {
  const l = readFileSync(file, 'utf8').split('\n');
  if (l.at(-1) === '') l.pop();
  return l;
}

function run(mode, file) {
  const r = spawnSync(native, [mode, file], { maxBuffer: 1 << 30, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

for (const file of inputs) {
  const name = path.relative(root, file);
  const skip = existsSync(file) ? false : `${name} absent`;

  test(`Enricher.push equals the native events: ${name}`, { skip }, () => {
    const native = run('ndjson', file).split('\n').filter(Boolean);
    const src = lines(file);
    assert.equal(src.length, native.length);
    const objects = new pfe.Enricher(REF);
    const texts = new pfe.Enricher(REF);
    src.forEach((line, i) => {
      assert.deepEqual(objects.push(line), JSON.parse(native[i]), `line ${i + 1}`);
      assert.equal(texts.pushJson(line), native[i], `line ${i + 1}`);
    });
    assert.equal(objects.lines, src.length);
  });

  test(`enrichLine equals the native --stateless events: ${name}`, { skip }, () => {
    const native = run('stateless', file).split('\n').filter(Boolean);
    lines(file).forEach((line, i) => {
      const expected = JSON.parse(native[i]);
      assert.deepEqual(pfe.enrichLine(line, REF), expected, `line ${i + 1}`);
      assert.deepEqual(pfe.enrichLineDirect(line, REF), expected, `line ${i + 1} (serde-wasm-bindgen)`);
      assert.equal(pfe.enrichLineJson(line, REF), native[i], `line ${i + 1} (text)`);
    });
  });

  test(`sessions() equals the native explain --sessions --json: ${name}`, { skip }, () => {
    const native = JSON.parse(run('explain', file));
    const e = new pfe.Enricher({ referenceTime: REF, sessions: true });
    for (const line of lines(file)) e.push(line);
    assert.deepEqual(e.sessions(), native);
    // Bulk input gives the same sessions.
    const bulk = new pfe.Enricher({ referenceTime: REF, sessions: true });
    assert.equal(bulk.pushText(readFileSync(file, 'utf8')), lines(file).length);
    assert.deepEqual(bulk.sessions(), native);
  });
}

test('the probing client of the sample is an ehlo_quit_probe, suspicious', () => {
  const e = new pfe.Enricher({ sessions: true });
  e.pushText(readFileSync(sample, 'utf8'));
  const client = e.sessions().find((c) => c.address === '72.38.252.2');
  assert.ok(client, 'client present');
  assert.equal(client.suspicious, true);
  assert.deepEqual(client.classes, [['ehlo_quit_probe', 1]]);
  assert.ok(client.sessions[0].verdict.reasons.length > 0);
  assert.ok(e.suspicious >= 1);
  assert.throws(() => new pfe.Enricher().sessions(), /sessions: true/);
});

test('year-less stamps are dated relative to the reference time (default now)', () => {
  const line = 'Mar 15 10:00:00 mx postfix/smtpd[1]: connect from a[192.0.2.1]';
  assert.equal(pfe.enrichLine(line, Date.UTC(2031, 5, 1))['@timestamp'], '2031-03-15T10:00:00Z');
  assert.equal(pfe.enrichLine(line, Date.UTC(2031, 1, 1))['@timestamp'], '2030-03-15T10:00:00Z');
  const now = new Date();
  const expected = Date.UTC(now.getUTCFullYear(), 2, 15) > Date.now() + 86400e3 ? now.getUTCFullYear() - 1 : now.getUTCFullYear();
  assert.equal(new pfe.Enricher().push(line)['@timestamp'], `${expected}-03-15T10:00:00Z`);
});

test('hostile input never throws', () => {
  const e = new pfe.Enricher();
  for (const s of ['', '\u0000', '\uFFFD'.repeat(1000), 'x'.repeat(1 << 20), '{"MESSAGE":[1,2', '\ud800']) {
    assert.equal(typeof e.push(s), 'object');
    assert.equal(typeof pfe.enrichLine(s), 'object');
  }
});

test('TypeScript declarations are generated', () => {
  const dts = readFileSync(path.join(pkgDir, 'postfix_enrich_js.d.ts'), 'utf8');
  for (const needle of ['export function enrichLine(line: string, referenceTime?: number | null): Event;',
    'export class Enricher', 'constructor(options: EnricherOptions | number | null);',
    'push(line: string): Event;', 'explain(): Report;', 'sessions(): SessionsReport[];',
    'export function explain(text: string, options: ExplainOptions | null): Report;',
    'export interface ClientReport', 'export interface Overview']) {
    assert.ok(dts.includes(needle), needle);
  }
});
