// The JS module against the product CLI itself (not a reference build):
// - `explain(text, options)` and `Enricher.explain()` give the report the
//   CLI's `explain --json` prints (one report model in the core: the CLI
//   renders it as text, the page as HTML), on the bundled sample, the day
//   example (examples/logs/make_day.rs, written by tests/wasm/build.sh to
//   $CARGO_TARGET_DIR/day.log) and the recorded corpus, with and without
//   the filters (client CIDR, suspicious, class, since/until) and with
//   blocklists;
// - blocklists given as text give the events the CLI gives with
//   `--blocklist NAME=PATH` (`threat.enrichments`), and a list's bad lines
//   are counted and reported as the CLI reports them, never fatal;
// - the message record (`postfix.message`, on the last line of each queue
//   id) is the CLI's for every message of the RFC 3164 recording.
//
// Env: PKG_NODE, CARGO_TARGET_DIR, POSTFIX_ENRICH_CLI, DAY_LOG.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const target = process.env.CARGO_TARGET_DIR || path.join(root, 'target');
const pkgDir = process.env.PKG_NODE || path.join(target, 'js-pkg', 'node');
const cli = process.env.POSTFIX_ENRICH_CLI || path.join(target, 'debug', 'postfix-enrich');
const dayLog = process.env.DAY_LOG || path.join(target, 'day.log');
const require = createRequire(import.meta.url);
const pfe = require(path.join(pkgDir, 'postfix_enrich_js.js'));

const sample = path.join(root, 'examples/logs/seed-ehlo-probe.log');
const corpus = path.join(root, 'tests/corpus/recording');
const rfc3164 = path.join(corpus, 'syslog-3164.log');
// The CLI dates year-less stamps from today; --year 2026 and this reference
// day (31 December 2026) both put every stamp of the inputs in 2026.
const REF = Date.UTC(2026, 11, 31);
const PROBE = '72.38.252.2';

function runCli(args) {
  const r = spawnSync(cli, [...args, '--year', '2026'], { maxBuffer: 1 << 30, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r;
}

function skipUnless(file) {
  return existsSync(file) ? false : `${path.relative(root, file)} absent`;
}

function ndjson(text) {
  return text.split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

// A list in the formats the CLI reads: an OpenBL address, a FireHOL/DROP
// network with a trailing comment, IPv6, comments of both kinds, and two
// lines that are not addresses (counted, never fatal).
const tmp = mkdtempSync(path.join(os.tmpdir(), 'pfe-js-'));
const LISTS = {
  openbl: `# OpenBL\n${PROBE}\n198.51.100.23\nnot-an-address here\n`,
  drop: '; Spamhaus DROP\n72.38.0.0/16 ; SBL000001\n2001:db8::/32\n127.0.0.0/8 # the corpus clients\n999.1.1.1\n',
};
const listArgs = Object.entries(LISTS).flatMap(([name, text]) => {
  const file = path.join(tmp, `${name}.txt`);
  writeFileSync(file, text);
  return ['--blocklist', `${name}=${file}`];
});

// The day the day example covers (it takes its date from the recorded
// corpus, which moves when the corpus is re-recorded), for a time filter
// that selects sessions rather than none.
const day = existsSync(dayLog)
  ? JSON.parse(runCli(['explain', '--json', '--quiet', dayLog]).stdout).first_seen.slice(0, 10)
  : '2026-01-01';
const inputs = [sample, dayLog, path.join(corpus, 'mail.log')];
const filters = [
  [{}, []],
  [{ blocklists: LISTS }, listArgs],
  [{ client: '72.38.252.0/24' }, ['--client', '72.38.252.0/24']],
  [{ client: [PROBE, '127.0.0.0/8'] }, ['--client', PROBE, '--client', '127.0.0.0/8']],
  [{ suspicious: true }, ['--suspicious']],
  [{ class: 'ehlo_quit_probe' }, ['--class', 'ehlo_quit_probe']],
  [{ since: `${day} 06:00`, until: `${day}T18:00:00Z` }, ['--since', `${day} 06:00`, '--until', `${day}T18:00:00Z`]],
];

for (const file of inputs) {
  const name = path.relative(root, file);
  const skip = skipUnless(file);
  test(`explain(text, options) equals the CLI's explain --json: ${name}`, { skip }, () => {
    const text = readFileSync(file, 'utf8');
    for (const [options, args] of filters) {
      const expected = JSON.parse(runCli(['explain', '--json', '--quiet', ...args, file]).stdout);
      const got = pfe.explain(text, { ...options, referenceTime: REF });
      assert.deepEqual(got, expected, JSON.stringify(options));
    }
  });
}

test('the day example: the probe leads the overview with its 3-minute cadence, listed, with one pattern', { skip: skipUnless(dayLog) }, () => {
  const r = pfe.explain(readFileSync(dayLog, 'utf8'), { referenceTime: REF, blocklists: LISTS });
  assert.equal(r.overview.details, false);
  const probe = r.clients[0];
  assert.equal(probe.address, PROBE);
  assert.equal(probe.sessions, 480);
  assert.equal(probe.cadence.kind, 'regular');
  assert.ok(Math.abs(probe.cadence.period_seconds - 180) < 2, JSON.stringify(probe.cadence));
  assert.deepEqual(probe.blocklists, ['openbl', 'drop']);
  assert.equal(probe.patterns[0].count, 480);
  assert.ok(r.overview.listed >= 1);
  assert.ok(r.overview.legitimate.clients >= 1);
});

test('Enricher.explain() streamed in chunks equals explain(text) and the CLI', { skip: skipUnless(dayLog) }, () => {
  const text = readFileSync(dayLog, 'utf8');
  const e = new pfe.Enricher({ referenceTime: REF, blocklists: LISTS, suspicious: true });
  // Complete lines per chunk, as the page's worker sends them.
  const all = text.split('\n');
  for (let i = 0; i < all.length; i += 997) e.pushText(all.slice(i, i + 997).filter(Boolean).join('\n') + '\n');
  const expected = JSON.parse(runCli(['explain', '--json', '--quiet', '--suspicious', ...listArgs, dayLog]).stdout);
  assert.deepEqual(e.explain(), expected);
  assert.equal(e.explainJson(), JSON.stringify(expected));
});

test('events of listed clients carry threat.enrichments as the CLI --blocklist NDJSON', () => {
  for (const file of [sample, path.join(corpus, 'mail.log')].filter(existsSync)) {
    const expected = runCli([...listArgs, '--quiet', file]).stdout.split('\n').filter(Boolean);
    const e = new pfe.Enricher({ referenceTime: REF, blocklists: LISTS });
    const src = readFileSync(file, 'utf8').split('\n');
    if (src.at(-1) === '') src.pop();
    assert.equal(src.length, expected.length);
    src.forEach((line, i) => assert.equal(e.pushJson(line), expected[i], `${file} line ${i + 1}`));
    const listed = ndjson(expected.join('\n')).filter((ev) => ev.threat);
    assert.ok(listed.length > 0, 'some events are of listed clients');
    for (const ev of listed) {
      for (const x of ev.threat.enrichments) assert.equal(x.indicator.ip, ev.client.ip);
    }
  }
});

test('bad blocklist lines are counted and reported once, as the CLI reports them', () => {
  const r = runCli([...listArgs, sample]);
  const stderr = r.stderr.split('\n').filter((l) => l.startsWith('postfix-enrich: blocklist'));
  const e = new pfe.Enricher({ blocklists: LISTS });
  const loads = e.blocklistReport;
  assert.deepEqual(loads.map((l) => `postfix-enrich: ${l.message}`), stderr);
  assert.deepEqual(loads.map((l) => [l.name, l.entries, l.bad_lines]), [['openbl', 2, 1], ['drop', 3, 1]]);
  assert.deepEqual(loads[0].first_bad, { line: 4, text: 'not-an-address here' });
  const warnings = [];
  pfe.explain('', { blocklists: { ...LISTS, clean: '192.0.2.1\n' }, onWarning: (m) => warnings.push(m) });
  assert.deepEqual(warnings, loads.map((l) => l.message));
  // No list, or a list given as something other than text: no lists, or a clear error.
  assert.deepEqual(new pfe.Enricher({}).blocklistReport, []);
  assert.throws(() => new pfe.Enricher({ blocklists: { x: 42 } }), /blocklists\.x: expected a string/);
});

test('options the CLI would refuse are clear errors', () => {
  assert.throws(() => pfe.explain('', { client: 'mx.example' }), /client: not an address or CIDR network/);
  assert.throws(() => pfe.explain('', { class: 'nope' }), /class: unknown class "nope"; one of: /);
  assert.throws(() => pfe.explain('', { since: 'yesterday' }), /since: expected a time like/);
  // A number or a Date is milliseconds since the epoch.
  const text = readFileSync(sample, 'utf8');
  const first = pfe.explain(text, { referenceTime: REF }).clients[0].first_seen;
  assert.ok(first, 'the sample has a session start');
  const t = Date.parse(first);
  assert.equal(pfe.explain(text, { referenceTime: REF, since: t + 1000 }).sessions, 0);
  assert.equal(pfe.explain(text, { referenceTime: REF, since: new Date(t) }).sessions, 1);
});

test('the message record of every message of the RFC 3164 recording equals the CLI\'s', { skip: skipUnless(rfc3164) }, () => {
  const expected = ndjson(runCli(['--quiet', rfc3164]).stdout);
  const e = new pfe.Enricher(REF);
  const src = readFileSync(rfc3164, 'utf8').split('\n');
  if (src.at(-1) === '') src.pop();
  assert.equal(src.length, expected.length);
  const records = [];
  src.forEach((line, i) => {
    const ev = e.push(line);
    assert.deepEqual(ev.postfix.message, expected[i].postfix.message, `line ${i + 1}`);
    if (ev.postfix.message) records.push(ev);
  });
  // One record per message, on its closing (removed) line, for its queue id.
  const removed = expected.filter((ev) => ev.postfix.event === 'removed');
  assert.ok(removed.length > 0, 'the recording removes messages');
  assert.equal(records.length, removed.length);
  for (const ev of records) {
    assert.equal(ev.postfix.event, 'removed', ev.message);
    assert.equal(ev.postfix.message.queue_id, ev.postfix.queue_id, ev.message);
  }
  assert.equal(new Set(records.map((ev) => ev.postfix.queue_id)).size, records.length);
});
