// Lines/s of the JS module under Node, for each way of getting results out:
// push() (JSON text + JSON.parse, the default), pushDirect()
// (serde-wasm-bindgen objects), pushJson() (text only) and pushText()
// (bulk, no per-line result: the page's path). Median of 5 interleaved
// rounds, each a fresh Enricher over the whole file repeated for SECONDS/20.
// Usage: node bench.mjs FILE [SECONDS]   Prints one JSON object.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const target = process.env.CARGO_TARGET_DIR || path.join(root, 'target');
const pfe = createRequire(import.meta.url)(path.join(process.env.PKG_NODE || path.join(target, 'js-pkg', 'node'), 'postfix_enrich_js.js'));

const text = readFileSync(process.argv[2], 'utf8');
const budget = Number(process.argv[3] || 5) / 20;
const lines = text.split('\n');
if (lines.at(-1) === '') lines.pop();

// One timed run: passes over the input for `budget` seconds; items/s.
function once(pass) {
  let n = 0;
  const t0 = performance.now();
  while (n === 0 || performance.now() - t0 < budget * 1000) n += pass();
  return n / ((performance.now() - t0) / 1000);
}

let sink = 0;
const perLine = (method) => () => {
  const e = new pfe.Enricher();
  for (const l of lines) sink += e[method](l) ? 1 : 0;
  e.free();
  return lines.length;
};
const methods = {
  push_json_parse: perLine('push'),
  push_serde_wasm_bindgen: perLine('pushDirect'),
  push_json_text: perLine('pushJson'),
  push_text_bulk: () => {
    const e = new pfe.Enricher();
    const n = e.pushText(text);
    e.free();
    return n;
  },
};
// Rounds interleave the methods so that load from other processes on a
// shared machine hits them alike; each figure is the median of 5 rounds.
const runs = Object.fromEntries(Object.keys(methods).map((k) => [k, []]));
for (let r = 0; r < 5; r++) for (const [k, f] of Object.entries(methods)) runs[k].push(once(f));
const median = (v) => Math.round(v.sort((a, b) => a - b)[2]);
const result = { lines: lines.length };
for (const k of Object.keys(methods)) result[k] = median(runs[k]);
if (sink < 0) console.log(sink);
console.log(JSON.stringify(result));
