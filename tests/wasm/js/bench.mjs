// Lines/s of the JS module under Node, for each way of getting results out:
// push() (JSON text + JSON.parse, the default), pushDirect()
// (serde-wasm-bindgen objects), pushJson() (text only) and pushText()
// (bulk, no per-line result: the page's path). Median of 5 runs, each a
// fresh Enricher over the whole file repeated for SECONDS/5.
// Usage: node bench.mjs FILE [SECONDS]   Prints one JSON object.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const target = process.env.CARGO_TARGET_DIR || path.join(root, 'target');
const pfe = createRequire(import.meta.url)(path.join(process.env.PKG_NODE || path.join(target, 'js-pkg', 'node'), 'postfix_enrich_js.js'));

const text = readFileSync(process.argv[2], 'utf8');
const budget = Number(process.argv[3] || 5) / 5;
const lines = text.split('\n');
if (lines.at(-1) === '') lines.pop();

function rate(pass) {
  const runs = [];
  for (let r = 0; r < 5; r++) {
    let n = 0;
    const t0 = performance.now();
    while (n === 0 || performance.now() - t0 < budget * 1000) n += pass();
    runs.push(n / ((performance.now() - t0) / 1000));
  }
  runs.sort((a, b) => a - b);
  return Math.round(runs[2]);
}

let sink = 0;
const perLine = (method) => () => {
  const e = new pfe.Enricher();
  for (const l of lines) sink += e[method](l) ? 1 : 0;
  e.free();
  return lines.length;
};
const result = {
  lines: lines.length,
  push_json_parse: rate(perLine('push')),
  push_serde_wasm_bindgen: rate(perLine('pushDirect')),
  push_json_text: rate(perLine('pushJson')),
  push_text_bulk: rate(() => {
    const e = new pfe.Enricher();
    const n = e.pushText(text);
    e.free();
    return n;
  }),
};
if (sink < 0) console.log(sink);
console.log(JSON.stringify(result));
