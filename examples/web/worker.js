// Web Worker: runs postfix-enrich (the wasm-bindgen module) off the main
// thread so a 100 MB log never freezes the page. Input arrives as pasted
// text or a File; files are read in 4 MiB slices, decoded as a UTF-8 stream
// (a slice may cut a character or a line: the decoder and `carry` join
// them), and each slice's complete lines go to Enricher.pushText. Progress
// is posted after every slice. The explain report stays here: the page asks
// for filtered pages of it, so a 100 MB log's report is never cloned into
// the main thread at once (that alone blocked the page for seconds).
import init, { Enricher } from './pkg/postfix_enrich_js.js';

const CHUNK = 4 << 20;
const SESSIONS_SENT = 200;
const ready = init();
let generation = 0;
// The finished report and the last filtered view of it.
let report = [];
let view = { key: null, clients: [], sessions: 0 };

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
    report = enricher.explain();
    view = { key: null, clients: [], sessions: 0 };
    const classes = new Set();
    for (const c of report) for (const [k] of c.classes) classes.add(k);
    postMessage({
      type: 'done', gen, clients: report.length, classes: [...classes].sort(),
      lines: enricher.lines, verdicts: enricher.verdicts, suspicious: enricher.suspicious,
      ms: Math.round(performance.now() - started),
    });
  } catch (e) {
    postMessage({ type: 'error', gen, message: String(e && e.message || e) });
  } finally {
    enricher.free();
  }
}

/// A page of the report under the page's filters.
function page({ gen, suspicious, cls, addr, offset, limit }) {
  const key = JSON.stringify([suspicious, cls, addr]);
  if (view.key !== key) {
    const clients = report.filter((c) =>
      (!suspicious || c.suspicious) &&
      (!cls || c.classes.some(([k]) => k === cls)) &&
      (!addr || c.address.toLowerCase().includes(addr) || c.names.some((n) => n.toLowerCase().includes(addr))));
    view = { key, clients, sessions: clients.reduce((n, c) => n + c.sessions.length, 0) };
  }
  // Only the sessions the page may show cross over: those matching the
  // filters, at most SESSIONS_SENT per client (a busy address has thousands).
  const clients = view.clients.slice(offset, offset + limit).map((c) => {
    const matching = c.sessions.filter((s) =>
      (!cls || s.verdict?.class === cls) && (!suspicious || s.verdict?.suspicious));
    return { ...c, sessions: matching.slice(0, SESSIONS_SENT), sessions_matched: matching.length, sessions_total: c.sessions.length };
  });
  postMessage({
    type: 'page', gen, offset, matched: view.clients.length, total: report.length, sessions: view.sessions, clients,
  });
}

onmessage = (ev) => {
  if (ev.data.type === 'view') {
    if (ev.data.gen === generation) page(ev.data);
    return;
  }
  generation = ev.data.gen;
  report = [];
  analyse(ev.data, ev.data.gen);
};
