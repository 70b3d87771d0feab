// Page logic: hands input to the worker, shows progress, and renders the
// explain report per client (sessions as timelines, verdict and reasons)
// with filters. Log text is attacker-controlled (HELO names, commands), so
// it only ever reaches the DOM through textContent, never innerHTML.
// Rendering is paged (PAGE clients at a time) so a report with 100k
// clients does not freeze the main thread.

const PAGE = 100;
// Sessions rendered per client before a "more" button: one busy client can
// have thousands.
const SESSIONS = 10;
const $ = (id) => document.getElementById(id);
const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
let gen = 0;
let report = [];
let shown = 0;
let filtered = [];

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

function start(job) {
  gen += 1;
  $('progress').hidden = false;
  $('bar').removeAttribute('value');
  $('status').textContent = 'starting…';
  $('results').replaceChildren();
  $('filters').hidden = true;
  $('more').hidden = true;
  document.body.dataset.state = 'working';
  worker.postMessage({ ...job, gen });
}

const mib = (n) => (n / 1048576).toFixed(1);

worker.onmessage = ({ data }) => {
  if (data.gen !== gen) return;
  if (data.type === 'progress') {
    $('bar').value = data.total ? data.done / data.total : 1;
    $('status').textContent = `${data.lines.toLocaleString()} lines` +
      (data.total > 1048576 ? `, ${mib(data.done)} / ${mib(data.total)} MiB` : '') +
      ` — ${data.suspicious.toLocaleString()} suspicious sessions so far`;
  } else if (data.type === 'done') {
    report = data.report;
    $('bar').value = 1;
    $('status').textContent = `${data.lines.toLocaleString()} lines in ${data.ms} ms: ` +
      `${report.length.toLocaleString()} clients, ${data.verdicts.toLocaleString()} finished sessions, ` +
      `${data.suspicious.toLocaleString()} suspicious`;
    const classes = new Set();
    for (const c of report) for (const [k] of c.classes) classes.add(k);
    const sel = $('f-class');
    const keep = sel.value;
    sel.replaceChildren(el('option', '', 'all'));
    sel.firstChild.value = '';
    for (const k of [...classes].sort()) {
      const o = el('option', '', k);
      o.value = k;
      sel.append(o);
    }
    sel.value = classes.has(keep) ? keep : '';
    $('filters').hidden = false;
    document.body.dataset.state = 'done';
    applyFilters();
  } else if (data.type === 'error') {
    $('status').replaceChildren(el('span', 'error', `failed: ${data.message}`));
    document.body.dataset.state = 'error';
  }
};

function applyFilters() {
  const suspicious = $('f-suspicious').checked;
  const cls = $('f-class').value;
  const addr = $('f-address').value.trim().toLowerCase();
  filtered = report.filter((c) =>
    (!suspicious || c.suspicious) &&
    (!cls || c.classes.some(([k]) => k === cls)) &&
    (!addr || c.address.toLowerCase().includes(addr) || c.names.some((n) => n.toLowerCase().includes(addr))));
  const sessions = filtered.reduce((n, c) => n + c.sessions.length, 0);
  $('summary').textContent = `${filtered.length.toLocaleString()} of ${report.length.toLocaleString()} clients, ` +
    `${sessions.toLocaleString()} sessions`;
  $('results').replaceChildren();
  shown = 0;
  showMore();
}

function showMore() {
  const frag = document.createDocumentFragment();
  const cls = $('f-class').value;
  const suspicious = $('f-suspicious').checked;
  for (const c of filtered.slice(shown, shown + PAGE)) frag.append(renderClient(c, cls, suspicious));
  shown = Math.min(shown + PAGE, filtered.length);
  $('results').append(frag);
  $('more').hidden = shown >= filtered.length;
  if (!filtered.length) $('results').append(el('p', 'pending', 'No client matches these filters.'));
}

function renderClient(c, cls, suspiciousOnly) {
  const card = el('article', c.suspicious ? 'client suspicious' : 'client');
  card.dataset.address = c.address;
  const h = el('h2');
  h.append(el('span', 'mono', c.address));
  if (c.names.length) h.append(el('span', 'names', c.names.join(', ')));
  for (const [k, n] of c.classes) h.append(el('span', 'badge class', n > 1 ? `${k} ×${n}` : k));
  if (c.suspicious) h.append(el('span', 'badge bad', 'SUSPICIOUS'));
  h.append(el('span', 'names', `${c.sessions.length} session${c.sessions.length === 1 ? '' : 's'}`));
  card.append(h);
  // With a class or suspicious filter, show the sessions that matched it.
  const sessions = c.sessions.filter((s) =>
    (!cls || s.verdict?.class === cls) && (!suspiciousOnly || s.verdict?.suspicious));
  let done = 0;
  const more = el('button', 'more-sessions');
  const page = (n) => {
    const frag = document.createDocumentFragment();
    for (const s of sessions.slice(done, done + n)) frag.append(renderSession(s));
    done = Math.min(done + n, sessions.length);
    more.before(frag);
    more.textContent = `show more sessions (${(sessions.length - done).toLocaleString()} not shown)`;
    more.hidden = done >= sessions.length;
  };
  more.type = 'button';
  more.onclick = () => page(SESSIONS * 5);
  card.append(more);
  page(SESSIONS);
  return card;
}

function renderSession(s) {
  const box = el('section', 'session');
  box.dataset.session = s.session_id;
  box.append(el('div', 'head', `session ${s.session_id} · ${s.daemon ?? '?'}[${s.pid ?? '?'}] · ${s.start ?? ''}`));
  const tl = el('div', 'timeline');
  for (const st of s.steps) {
    const row = el('div', 'step' + (st.arrow === '<' ? ' c2s' : st.arrow === '>' ? ' s2c' : ''));
    row.append(el('span', 't', st.time ? st.time.slice(11, 19) : ''),
      el('span', 'a', st.arrow === '<' ? '→' : st.arrow === '>' ? '←' : '·'),
      el('span', 'x', st.text));
    row.title = st.arrow === '<' ? 'client → server' : st.arrow === '>' ? 'server → client' : st.kind;
    tl.append(row);
  }
  if (s.steps_omitted) tl.append(el('div', 'pending', `… ${s.steps_omitted} more steps`));
  box.append(tl);
  const v = s.verdict;
  if (!v) {
    box.append(el('div', 'pending', 'session not finished in this log'));
    return box;
  }
  const vd = el('div', v.suspicious ? 'verdict bad' : 'verdict');
  const line = el('div');
  line.append('verdict: ', el('span', 'cls', v.class),
    ` (${v.suspicious ? 'suspicious' : 'not suspicious'}, confidence ${v.confidence}, from ${v.evidence})`);
  vd.append(line);
  const ul = el('ul', 'reasons');
  for (const r of v.reasons) ul.append(el('li', '', r));
  vd.append(ul);
  if (v.flags?.length) vd.append(el('div', 'flags', `flags: ${v.flags.join(', ')}`));
  box.append(vd);
  return box;
}

$('analyse').onclick = () => start({ text: $('paste').value });
$('file').onchange = (e) => { if (e.target.files[0]) start({ file: e.target.files[0] }); };
$('more').querySelector('button').onclick = showMore;
for (const id of ['f-suspicious', 'f-class']) $(id).onchange = applyFilters;
$('f-address').oninput = applyFilters;

let depth = 0;
addEventListener('dragenter', (e) => { e.preventDefault(); depth += 1; $('drop').hidden = false; });
addEventListener('dragleave', () => { depth -= 1; if (depth <= 0) { depth = 0; $('drop').hidden = true; } });
addEventListener('dragover', (e) => e.preventDefault());
addEventListener('drop', (e) => {
  e.preventDefault();
  depth = 0;
  $('drop').hidden = true;
  const f = e.dataTransfer?.files?.[0];
  if (f) start({ file: f });
});
document.body.dataset.state = 'idle';
