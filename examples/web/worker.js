// Web Worker: runs postfix-enrich (the wasm-bindgen module) off the main
// thread so a 100 MB log never freezes the page. Input arrives as pasted
// text or a File; files are read in 4 MiB slices, decoded as a UTF-8 stream
// (a slice may cut a character or a line: the decoder and `carry` join
// them), and each slice's complete lines go to Enricher.pushText. Progress
// is posted after every slice. The result is the core's report (what
// `postfix-enrich explain --json` prints for the same options); only the
// clients the overview shows one by one cross to the page, so a report
// with 100k clients never clogs the main thread (a client filter brings
// any other one forward). The last input is kept so new options (filters, blocklists)
// re-read it without asking the user again.
import init, { Enricher, verdictClasses } from './pkg/postfix_enrich_js.js';

const CHUNK = 4 << 20;
const ready = init();
let generation = 0;
let input = null;

async function analyse(gen, options) {
  await ready;
  let enricher;
  try {
    enricher = new Enricher(options);
  } catch (e) {
    postMessage({ type: 'error', gen, message: String(e && e.message || e) });
    return;
  }
  const started = performance.now();
  const total = input.file ? input.file.size : input.text.length;
  const progress = (done) =>
    postMessage({ type: 'progress', gen, done, total, lines: enricher.lines, suspicious: enricher.suspicious });
  try {
    if (input.file) {
      const decoder = new TextDecoder('utf-8');
      let carry = '';
      for (let off = 0; off < total; off += CHUNK) {
        if (gen !== generation) return; // superseded by a newer input
        const buf = await input.file.slice(off, off + CHUNK).arrayBuffer();
        const text = carry + decoder.decode(buf, { stream: off + CHUNK < total });
        const cut = text.lastIndexOf('\n') + 1;
        enricher.pushText(text.slice(0, cut));
        carry = text.slice(cut);
        progress(Math.min(off + CHUNK, total));
      }
      if (carry) enricher.pushText(carry);
    } else {
      enricher.pushText(input.text);
    }
    progress(total);
    const report = enricher.explain();
    const o = report.overview;
    const shown = o.details ? report.clients.length : o.listed;
    postMessage({
      type: 'done', gen, report: { ...report, clients: report.clients.slice(0, shown) },
      blocklists: enricher.blocklistReport, verdicts: enricher.verdicts,
      ms: Math.round(performance.now() - started),
    });
  } catch (e) {
    postMessage({ type: 'error', gen, message: String(e && e.message || e) });
  } finally {
    enricher.free();
  }
}

onmessage = ({ data }) => {
  generation = data.gen;
  if (data.text !== undefined || data.file) input = { text: data.text, file: data.file };
  if (input) analyse(data.gen, data.options);
};

ready.then(() => postMessage({ type: 'ready', classes: verdictClasses() }));
