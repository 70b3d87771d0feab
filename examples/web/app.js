// Page logic: hands input to the worker, shows progress, and renders the
// explain report per client (sessions as timelines, verdict and reasons)
// with filters. Log text is attacker-controlled (HELO names, commands), so
// it only ever reaches the DOM through textContent, never innerHTML.
// The report stays in the worker; the page asks it for PAGE clients at a
// time under the current filters, so a report with 100k clients neither
// crosses into nor freezes the main thread.

const PAGE = 100;
// Sessions rendered per client before a "more" button: one busy client can
// have thousands.
const SESSIONS = 10;
const $ = (id) => document.getElementById(id);
const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
let gen = 0;
let shown = 0;

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

function start(job) {
  gen += 1;
  pending = 0;
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
    $('bar').value = 1;
    $('status').textContent = `${data.lines.toLocaleString()} lines in ${data.ms} ms: ` +
      `${data.clients.toLocaleString()} clients, ${data.verdicts.toLocaleString()} finished sessions, ` +
      `${data.suspicious.toLocaleString()} suspicious`;
    const sel = $('f-class');
    const keep = sel.value;
    sel.replaceChildren(el('option', '', 'all'));
    sel.firstChild.value = '';
    for (const k of data.classes) {
      const o = el('option', '', k);
      o.value = k;
      sel.append(o);
    }
    sel.value = data.classes.includes(keep) ? keep : '';
    $('filters').hidden = false;
    applyFilters();
  } else if (data.type === 'page') {
    renderPage(data);
  } else if (data.type === 'error') {
    $('status').replaceChildren(el('span', 'error', `failed: ${data.message}`));
    document.body.dataset.state = 'error';
  }
};

function filters() {
  return {
    suspicious: $('f-suspicious').checked,
    cls: $('f-class').value,
    addr: $('f-address').value.trim().toLowerCase(),
  };
}

// Filtering is a round trip to the worker: body[data-state] says
// 'filtering' until the answer is rendered, then 'done'.
let pending = 0;

function request(offset) {
  pending += 1;
  document.body.dataset.state = 'filtering';
  worker.postMessage({ type: 'view', gen, offset, limit: PAGE, ...filters() });
}

function applyFilters() {
  shown = 0;
  request(0);
}

function showMore() {
  request(shown);
}

function renderPage(data) {
  pending -= 1;
  if (data.offset === 0) {
    $('summary').textContent = `${data.matched.toLocaleString()} of ${data.total.toLocaleString()} clients, ` +
      `${data.sessions.toLocaleString()} sessions`;
    $('results').replaceChildren();
  } else if (data.offset !== shown) {
    if (pending === 0) document.body.dataset.state = 'done';
    return; // an answer to an older request
  }
  const frag = document.createDocumentFragment();
  for (const c of data.clients) frag.append(renderClient(c));
  shown = data.offset + data.clients.length;
  $('results').append(frag);
  $('more').hidden = shown >= data.matched;
  if (!data.matched) $('results').append(el('p', 'pending', 'No client matches these filters.'));
  if (pending === 0) document.body.dataset.state = 'done';
}

function renderClient(c) {
  const card = el('article', c.suspicious ? 'client suspicious' : 'client');
  card.dataset.address = c.address;
  const h = el('h2');
  h.append(el('span', 'mono', c.address));
  if (c.names.length) h.append(el('span', 'names', c.names.join(', ')));
  for (const [k, n] of c.classes) h.append(el('span', 'badge class', n > 1 ? `${k} ×${n}` : k));
  if (c.suspicious) h.append(el('span', 'badge bad', 'SUSPICIOUS'));
  h.append(el('span', 'names', `${c.sessions_total} session${c.sessions_total === 1 ? '' : 's'}`));
  card.append(h);
  // The worker sent the sessions that match the filters (the first few hundred).
  const sessions = c.sessions;
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
  if (c.sessions_matched > sessions.length) {
    card.append(el('p', 'pending',
      `… and ${(c.sessions_matched - sessions.length).toLocaleString()} more matching sessions (narrow the filters to see them)`));
  }
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
