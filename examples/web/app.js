// Page logic: hands input and options to the worker, shows progress, and
// renders the report the worker returns (the core's report model, the JSON
// `postfix-enrich explain --json` prints) as HTML: the overview laid out as
// `report.overview` says (so the CLI's text and this page show the same
// clients in the same order and groups), and a client's detail on click.
// Nothing is computed here that the report does not hold: this file only
// words it, in the CLI's words (plugin/core/src/report/text.rs). Log text
// is attacker-controlled (HELO names, commands), so it only ever reaches
// the DOM through textContent, never innerHTML.

const $ = (id) => document.getElementById(id);
const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
let gen = 0;
// Blocklists read from the chosen files: { name: text }.
let lists = {};
let haveInput = false;

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

// ---- wording, as text.rs words it ----

/** `3 min 0 s`, `45 s`, `2 h 5 min`, `0.4 s` (cadence.rs human_duration). */
function duration(seconds) {
  const s = Math.max(0, seconds);
  if (s < 10 && !Number.isInteger(s)) return `${s.toFixed(1)} s`;
  const t = Math.round(s);
  if (t < 60) return `${t} s`;
  if (t < 3600) return `${Math.floor(t / 60)} min ${t % 60} s`;
  if (t < 86400) return `${Math.floor(t / 3600)} h ${Math.floor(t / 60) % 60} min`;
  return `${Math.floor(t / 86400)} d ${Math.floor(t / 3600) % 24} h`;
}

function clock(t, withDate) {
  if (!t) return '?';
  return withDate ? `${t.slice(5, 10)} ${t.slice(11, 16)}` : t.slice(11, 16);
}

function span(first, last) {
  const d = first?.slice(0, 10) !== last?.slice(0, 10);
  return `${clock(first, d)}-${clock(last, d)}`;
}

function cadenceText(c) {
  const r = c.cadence;
  if (!r) return null;
  const when = span(c.first_seen, c.last_seen);
  if (r.kind === 'regular') {
    return `every ${duration(r.period_seconds)} ± ${duration(r.jitter_seconds)}, ${c.sessions} times, ${when}`;
  }
  return `in ${r.bursts} bursts (${duration(r.within_seconds)} between sessions, bursts ${duration(r.apart_seconds)} apart), ` +
    `${c.sessions} times, ${when}`;
}

const classesText = (c) => c.classes.map((k) => `${k.class}×${k.count}`).join(' ');

function triedText(c) {
  const t = c.tried;
  const parts = [];
  if (t.auth_attempts > 0) {
    const users = t.user_names.length ? ` as ${t.user_names.join(', ')}${t.user_names_more ? ', ...' : ''}` : '';
    parts.push(`AUTH ×${t.auth_attempts}${users}`);
  }
  if (t.mail > 0) parts.push(`MAIL ×${t.mail}`);
  if (t.rcpt > 0 || t.rcpt_rejected > 0) parts.push(`RCPT ×${Math.max(t.rcpt, t.rcpt_rejected)} (${t.rcpt_rejected} refused)`);
  if (t.relay_targets.length) parts.push(`relay to ${t.relay_targets.join(', ')}`);
  if (!parts.length) return `no AUTH, no MAIL${c.helo_names.length ? ` (HELO ${c.helo_names.join(', ')})` : ''}`;
  return parts.join(', ');
}

function gotText(c) {
  const m = c.got.messages_accepted;
  const a = c.got.auth_successes;
  if (!m && !a) return 'nothing';
  return [m && `${m} message(s) accepted`, a && `${a} AUTH success(es)`].filter(Boolean).join(', ');
}

function groupText(g) {
  const shown = g.classes.slice(0, 5).map((k) => `${k.class} ×${k.count}`);
  return `${g.clients} client(s), ${g.sessions} session(s)${shown.length ? ': ' : ''}${shown.join(', ')}` +
    (g.classes.length > 5 ? ', ...' : '');
}

function headerText(r) {
  const pct = r.sessions ? Math.floor((r.suspicious_sessions * 100) / r.sessions) : 0;
  const when = r.first_seen && r.last_seen
    ? `${r.first_seen.slice(0, 19).replace('T', ' ')} to ${r.last_seen.slice(0, 19).replace('T', ' ')} ` +
      `(${duration(r.span_seconds ?? 0)}), `
    : '';
  const unfinished = r.unfinished_sessions ? `, ${r.unfinished_sessions} without a verdict` : '';
  return `${when}${r.lines} lines: ${r.sessions} session(s) from ${r.client_count} client(s), ` +
    `${r.suspicious_sessions} suspicious (${pct}%)${unfinished}`;
}

// ---- rendering ----

function renderReport(r) {
  const out = $('report');
  out.replaceChildren(el('p', 'report-header', headerText(r)));
  if (!r.clients.length && !r.sessions) {
    out.append(el('p', 'pending', 'no sessions'));
    return;
  }
  const o = r.overview;
  if (o.details) {
    for (const c of r.clients) out.append(renderDetail(c));
    return;
  }
  if (o.listed || o.more_suspicious) {
    out.append(el('h2', 'section', 'suspicious clients, worst first'));
    const ol = el('ol', 'ranked');
    for (const c of r.clients.slice(0, o.listed)) ol.append(renderLine(c));
    out.append(ol);
    if (o.more_suspicious) out.append(el('p', 'group more', `and ${groupText(o.more_suspicious)}`));
  }
  const g = o.legitimate;
  if (g) {
    out.append(el('p', 'group legitimate', `legitimate traffic: ${groupText(g)}; ` +
      `${g.messages_accepted} message(s) accepted, ${g.auth_successes} AUTH success(es)`));
  }
  if (o.other) out.append(el('p', 'group other', `other clients: ${groupText(o.other)}`));
  if (r.clients_not_kept) {
    out.append(el('p', 'group', `${r.clients_not_kept} more client(s) with ${r.sessions_not_kept} session(s) ` +
      'counted but not detailed (client cap)'));
  }
  out.append(el('p', 'hint', 'Click a client for its session patterns, cadence and verdict; ' +
    'the client filter above brings any other client forward.'));
}

/** A ranked client: the overview's two lines; a click opens its detail below it. */
function renderLine(c) {
  const li = el('li', 'client-line' + (c.suspicious ? ' suspicious' : ''));
  li.dataset.address = c.address;
  const first = el('div', 'first');
  first.append(el('span', 'mono addr', c.address));
  if (c.names.length) first.append(el('span', 'names', c.names[0]));
  for (const b of c.blocklists) first.append(el('span', 'badge list', b));
  first.append(el('span', 'sessions', `${c.sessions} session(s), ${classesText(c)}`));
  const second = el('div', 'second',
    `${cadenceText(c) ?? span(c.first_seen, c.last_seen)}; tried ${triedText(c)}; got ${gotText(c)}`);
  const head = el('button', 'line');
  head.type = 'button';
  head.append(first, second);
  head.onclick = () => {
    const open = li.querySelector('article.client');
    if (open) open.remove();
    else li.append(renderDetail(c));
    li.classList.toggle('open', !open);
  };
  li.append(head);
  return li;
}

/** One client in detail, as `explain --client ADDR` shows it. */
function renderDetail(c) {
  const card = el('article', c.suspicious ? 'client suspicious' : 'client');
  card.dataset.address = c.address;
  const h = el('h2');
  h.append(el('span', 'mono', c.address));
  if (c.names.length) h.append(el('span', 'names', c.names.join(', ')));
  for (const b of c.blocklists) h.append(el('span', 'badge list', `listed: ${b}`));
  h.append(el('span', 'names', `${c.sessions} session(s)`));
  for (const k of c.classes) h.append(el('span', 'badge class', `${k.class} ×${k.count}`));
  if (c.suspicious) h.append(el('span', 'badge bad', 'SUSPICIOUS'));
  card.append(h);
  const facts = el('dl', 'facts');
  const fact = (k, v) => facts.append(el('dt', '', k), el('dd', k, v));
  fact('seen', span(c.first_seen, c.last_seen));
  const cad = cadenceText(c);
  if (cad) fact('cadence', cad);
  fact('tried', triedText(c));
  fact('got', gotText(c));
  if (c.unfinished_sessions) fact('unfinished', `${c.unfinished_sessions} session(s) without a verdict (not finished in this input)`);
  card.append(facts);
  const pats = el('section', 'patterns');
  pats.append(el('h3', '', 'patterns'));
  for (const p of c.patterns) {
    const box = el('details', 'pattern');
    box.open = p === c.patterns[0];
    box.append(el('summary', 'mono', `${p.count} × ${p.pattern}`));
    // The report keeps examples within a budget, for the most frequent patterns.
    box.append(p.example ? renderSession(p.example)
      : el('p', 'pending', 'no example kept: too many patterns in the input; examples go to the most frequent'));
    pats.append(box);
  }
  if (c.other_pattern_sessions) pats.append(el('p', 'pending', `and ${c.other_pattern_sessions} session(s) of other patterns`));
  card.append(pats);
  for (const v of c.verdicts) card.append(renderVerdict(v));
  card.append(el('p', 'conclusion', `conclusion: ${c.conclusion}`));
  return card;
}

function renderSession(s) {
  const box = el('section', 'session');
  box.dataset.session = s.session_id;
  box.append(el('div', 'head', `example: session ${s.session_id} · ${s.daemon ?? '?'}[${s.pid ?? '?'}] · ${s.start ?? ''}`));
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
  return box;
}

function renderVerdict({ count, verdict: v }) {
  const vd = el('div', v.suspicious ? 'verdict bad' : 'verdict');
  const line = el('div');
  line.append('verdict: ', el('span', 'cls', v.class),
    ` (${v.suspicious ? 'suspicious' : 'not suspicious'}, confidence ${v.confidence}) ×${count}`);
  vd.append(line);
  const ul = el('ul', 'reasons');
  for (const r of v.reasons) ul.append(el('li', '', r));
  vd.append(ul);
  if (v.flags?.length) vd.append(el('div', 'flags', `flags: ${v.flags.join(', ')}`));
  return vd;
}

// ---- input, options, worker ----

function options() {
  const o = {};
  if (Object.keys(lists).length) o.blocklists = lists;
  const client = $('f-client').value.split(/[\s,]+/).filter(Boolean);
  if (client.length) o.client = client;
  if ($('f-suspicious').checked) o.suspicious = true;
  if ($('f-class').value) o.class = $('f-class').value;
  // datetime-local gives `2026-06-19T08:00[:00]`: the CLI's --since format, read as UTC.
  if ($('f-since').value) o.since = $('f-since').value;
  if ($('f-until').value) o.until = $('f-until').value;
  return o;
}

function start(job) {
  gen += 1;
  $('progress').hidden = false;
  $('bar').removeAttribute('value');
  $('status').textContent = 'starting…';
  $('warnings').replaceChildren();
  $('report').replaceChildren();
  document.body.dataset.state = 'working';
  worker.postMessage({ ...job, options: options(), gen });
}

const mib = (n) => (n / 1048576).toFixed(1);

worker.onmessage = ({ data }) => {
  if (data.type === 'ready') {
    for (const k of data.classes) {
      const o = el('option', '', k);
      o.value = k;
      $('f-class').append(o);
    }
    return;
  }
  if (data.gen !== gen) return;
  if (data.type === 'progress') {
    $('bar').value = data.total ? data.done / data.total : 1;
    $('status').textContent = `${data.lines.toLocaleString()} lines` +
      (data.total > 1048576 ? `, ${mib(data.done)} / ${mib(data.total)} MiB` : '') +
      ` — ${data.suspicious.toLocaleString()} suspicious sessions so far`;
  } else if (data.type === 'done') {
    const r = data.report;
    $('bar').value = 1;
    $('status').textContent = `${r.lines.toLocaleString()} lines in ${data.ms} ms: ` +
      `${r.client_count.toLocaleString()} clients, ${r.sessions.toLocaleString()} sessions, ` +
      `${r.suspicious_sessions.toLocaleString()} suspicious`;
    for (const l of data.blocklists) {
      $('warnings').append(el('p', l.bad_lines ? 'warning' : 'note', l.message));
    }
    renderReport(r);
    document.body.dataset.state = 'done';
  } else if (data.type === 'error') {
    $('status').replaceChildren(el('span', 'error', `failed: ${data.message}`));
    document.body.dataset.state = 'error';
  }
};

function analyse(job) {
  haveInput = true;
  $('apply').disabled = false;
  start(job);
}

$('analyse').onclick = () => analyse({ text: $('paste').value });
$('file').onchange = (e) => { if (e.target.files[0]) analyse({ file: e.target.files[0] }); };
// New options re-read the last input (the worker keeps it).
$('apply').onclick = () => { if (haveInput) start({}); };
$('f-client').onkeydown = (e) => { if (e.key === 'Enter') $('apply').click(); };
$('f-blocklists').onchange = async (e) => {
  lists = {};
  for (const f of e.target.files) lists[f.name.replace(/\.[^.]*$/, '')] = await f.text();
  $('lists').textContent = Object.keys(lists).join(', ');
  if (haveInput) start({});
};

let depth = 0;
addEventListener('dragenter', (e) => { e.preventDefault(); depth += 1; $('drop').hidden = false; });
addEventListener('dragleave', () => { depth -= 1; if (depth <= 0) { depth = 0; $('drop').hidden = true; } });
addEventListener('dragover', (e) => e.preventDefault());
addEventListener('drop', (e) => {
  e.preventDefault();
  depth = 0;
  $('drop').hidden = true;
  const f = e.dataTransfer?.files?.[0];
  if (f) analyse({ file: f });
});
document.body.dataset.state = 'idle';
