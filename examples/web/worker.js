// Web Worker: runs postfix-enrich (the wasm-bindgen module) off the main
// thread so a 100 MB log never freezes the page. Input arrives as pasted
// text or a File; files are read in 4 MiB slices, decoded as a UTF-8 stream
// (a slice may cut a character or a line: the decoder and `carry` join
// them), and each slice's complete lines go to Enricher.pushText. Progress
// is posted after every slice; the explain report is posted at the end.
import init, { Enricher } from './pkg/postfix_enrich_js.js';

const CHUNK = 4 << 20;
const ready = init();
let generation = 0;

async function analyse(job, gen) {
  await ready;
  const enricher = new Enricher();
  const started = performance.now();
  const total = job.file ? job.file.size : job.text.length;
  const progress = (done) =>
    postMessage({ type: 'progress', gen, done, total, lines: enricher.lines, suspicious: enricher.suspicious });
  try {
    if (job.file) {
      const decoder = new TextDecoder('utf-8');
      let carry = '';
      for (let off = 0; off < total; off += CHUNK) {
        if (gen !== generation) return; // superseded by a newer input
        const buf = await job.file.slice(off, off + CHUNK).arrayBuffer();
        const text = carry + decoder.decode(buf, { stream: off + CHUNK < total });
        const cut = text.lastIndexOf('\n') + 1;
        enricher.pushText(text.slice(0, cut));
        carry = text.slice(cut);
        progress(Math.min(off + CHUNK, total));
      }
      if (carry) enricher.pushText(carry);
    } else {
      enricher.pushText(job.text);
    }
    progress(total);
    const report = enricher.explain();
    postMessage({
      type: 'done', gen, report,
      lines: enricher.lines, verdicts: enricher.verdicts, suspicious: enricher.suspicious,
      ms: Math.round(performance.now() - started),
    });
  } catch (e) {
    postMessage({ type: 'error', gen, message: String(e && e.message || e) });
  } finally {
    enricher.free();
  }
}

onmessage = (ev) => {
  generation = ev.data.gen;
  analyse(ev.data, ev.data.gen);
};
