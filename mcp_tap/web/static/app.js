// mcp-tap's web view. Every recorded text reaches the page through textContent, never as HTML.
"use strict";
const TOKEN = new URLSearchParams(location.search).get("token") || "";
const ROW = 24, PAGE = 100;
const state = { total: 0, all: 0, pages: new Map(), loading: new Set(), filter: {}, selected: 0,
  streams: new Map(), findings: 0, resend: false, dropped: 0 };
const $ = (id) => document.getElementById(id);

function el(tag, text, cls) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (cls) node.className = cls;
  return node;
}
function api(path, params) {
  const q = new URLSearchParams(params || {});
  q.set("token", TOKEN);
  return fetch(`${path}?${q}`).then((r) => r.json());
}

// --- the call list: only the rows in sight exist, fetched a page at a time -----------------
function filterParams() {
  const f = {};
  for (const k of ["method", "tool", "session", "finding", "text"]) {
    const v = $(`f-${k}`).value.trim();
    if (v) f[k] = v;
  }
  return f;
}
const filtered = () => Object.keys(state.filter).length > 0;
// past the cap the oldest calls are gone: a row's place is no longer its number, so ask again
const shifted = () => filtered() || state.dropped > 0;
function showDropped(count) {
  if (!count || count <= state.dropped) return;
  state.dropped = count;
  const note = $("dropped"); note.hidden = false;
  note.textContent = `${count} older calls dropped (--web-max-events)`;
}
function loadPage(page) {
  if (state.pages.has(page) || state.loading.has(page)) return;
  state.loading.add(page);
  const asked = JSON.stringify(state.filter);
  api("api/calls", { ...state.filter, offset: page * PAGE, limit: PAGE }).then((data) => {
    state.loading.delete(page);
    if (asked !== JSON.stringify(state.filter)) return;  // the filter changed meanwhile
    state.pages.set(page, data.rows);
    state.total = data.total; state.all = data.all; showDropped(data.dropped);
    renderList();
  });
}
function rowAt(i) {
  const rows = state.pages.get(Math.floor(i / PAGE));
  return rows ? rows[i % PAGE] : undefined;
}
function renderList() {
  const list = $("list");
  $("spacer").style.height = `${state.total * ROW}px`;
  $("matches").textContent = filtered() ? `${state.total} of ${state.all} calls` : `${state.all} calls`;
  const first = Math.max(0, Math.floor(list.scrollTop / ROW) - 5);
  const last = Math.min(state.total, first + Math.ceil(list.clientHeight / ROW) + 10);
  for (const node of [...list.querySelectorAll(".row")]) node.remove();
  for (let i = first; i < last; i++) {
    const row = rowAt(i);
    if (!row) { loadPage(Math.floor(i / PAGE)); continue; }
    list.appendChild(rowNode(row, i));
  }
}
function rowNode(row, i) {
  const node = el("div", undefined, "row" + (row.n === state.selected ? " selected" : ""));
  node.style.top = `${i * ROW}px`;
  node.dataset.n = row.n;
  const cells = [row.n, row.method, row.tool, row.session.slice(0, 8), row.status,
    row.duration === null ? "…" : row.duration, row.findings || ""];
  cells.forEach((text, k) => node.appendChild(el("span", text,
    k === 4 ? row.status : k === 6 && row.severity ? `sev-${row.severity}` : "")));
  node.addEventListener("click", () => select(row.n));
  return node;
}
function resetList() {
  state.filter = filterParams(); state.pages.clear();
  $("list").scrollTop = 0;
  api("api/calls", { ...state.filter, offset: 0, limit: PAGE }).then((data) => {
    state.pages.set(0, data.rows); state.total = data.total; state.all = data.all;
    showDropped(data.dropped); renderList();
  });
}
let refilter = 0;
function refreshSoon() {  // a live change under a filter: ask again, at most 3 times a second
  if (refilter) return;
  refilter = setTimeout(() => { refilter = 0; const top = $("list").scrollTop; state.pages.clear();
    $("list").scrollTop = top; renderList(); if (!state.total) loadPage(0); }, 300);
}

// --- one call whole -------------------------------------------------------------------------
function tree(value, key) {
  const label = key === undefined ? "" : `${key}: `;
  if (value !== null && typeof value === "object") {
    const box = el("details"); box.open = true;
    const entries = Array.isArray(value) ? value.map((v, i) => [i, v]) : Object.entries(value);
    const sum = el("summary"); sum.appendChild(el("span", label, "key"));
    sum.appendChild(el("span", Array.isArray(value) ? `[${entries.length}]` : `{${entries.length}}`));
    box.appendChild(sum);
    for (const [k, v] of entries) box.appendChild(tree(v, k));
    return box;
  }
  const leaf = el("div", undefined, "leaf");
  leaf.appendChild(el("span", label, "key"));
  leaf.appendChild(el("span", JSON.stringify(value), typeof value === "string" ? "str" : "num"));
  return leaf;
}
function headersTable(title, headers) {
  const table = el("table"); table.appendChild(el("caption", title));
  for (const [name, value] of headers) {
    const tr = el("tr"); tr.appendChild(el("th", name)); tr.appendChild(el("td", value)); table.appendChild(tr);
  }
  return table;
}
function select(n) {
  state.selected = n; renderList();
  api(`api/calls/${n}`).then(showDetail);
}
function showDetail(call) {
  const box = $("detail"); box.replaceChildren();
  const r = call.row;
  box.appendChild(el("h3", `call ${r.n}: ${r.method} ${r.tool} · ${r.status}` +
    (r.duration === null ? "" : ` · ${r.duration} ms`)));
  box.appendChild(el("div", `session ${r.session || "(none)"}`, "meta"));
  if (call.progress.length) {
    box.appendChild(el("h3", "progress"));
    const canvas = el("canvas"); canvas.id = "detail-chart"; canvas.width = 420; canvas.height = 110;
    box.appendChild(canvas); drawChart(canvas, call.progress);
  }
  if (call.resend) box.appendChild(resendPanel(call));
  else box.appendChild(el("div", "resend: this view sends no calls again; resend goes to a live server (proxy --web, stdio --web, or web REC --target URL)", "meta"));
  box.appendChild(el("h3", "messages"));
  for (const m of call.messages) {
    const msg = el("div", undefined, "msg");
    msg.appendChild(el("div", `+${m.at} ms  ${m.way}  ${m.kind} ${m.method || ""}  (exchange ${m.exchange}, ${m.stream})`, "meta"));
    const t = el("div", undefined, "tree"); t.appendChild(tree(m.json)); msg.appendChild(t);
    const raw = el("details"); raw.appendChild(el("summary", "raw")); raw.appendChild(el("pre", m.raw));
    msg.appendChild(raw); box.appendChild(msg);
  }
  box.appendChild(el("h3", "exchanges"));
  for (const x of call.exchanges) {
    if (x.request) box.appendChild(headersTable(`#${x.id} ${x.request.method} ${x.request.target} at ${x.request.time}s`, x.request.headers));
    if (x.response) box.appendChild(headersTable(`#${x.id} ${x.response.status} (${x.response.stream || "no messages"}) at ${x.response.time}s`, x.response.headers));
    if (x.closed) box.appendChild(el("div", `#${x.id} closed: ${x.closed.reason} at ${x.closed.time}s`, "meta"));
  }
  box.appendChild(el("h3", "findings"));
  if (!call.findings.length) box.appendChild(el("div", "none", "hint"));
  for (const f of call.findings) box.appendChild(findingNode(f));
}
function findingNode(f) {
  const node = el("div");
  node.appendChild(el("span", `${f.severity} `, `sev-${f.severity}`));
  node.appendChild(el("strong", f.rule));
  node.appendChild(el("span", ` ${f.detail} `));
  if (f.n) { const a = el("a", `call ${f.n}`); a.href = "#"; a.addEventListener("click", (e) => { e.preventDefault(); select(f.n); }); node.appendChild(a); }
  if (f.spec && /^https:\/\//.test(f.spec)) { const a = el("a", " spec"); a.href = f.spec; a.target = "_blank"; a.rel = "noopener noreferrer"; node.appendChild(a); }
  return node;
}

// --- resend: edit the params, send again, the two answers side by side with the diff --------
function resendPanel(call) {
  const panel = el("div", undefined, "resend");
  panel.appendChild(el("h3", "send again"));
  const text = el("textarea"); text.id = "resend-params"; text.value = JSON.stringify(call.params, null, 2);
  const button = el("button", "Send to the target"); button.id = "resend-btn"; button.type = "button";
  const out = el("div"); out.id = "resend-result";
  button.addEventListener("click", () => {
    let params;
    try { params = JSON.parse(text.value); } catch (e) { out.replaceChildren(el("div", `not JSON: ${e.message}`, "error")); return; }
    out.replaceChildren(el("div", "sending…", "hint"));
    fetch(`api/calls/${call.row.n}/resend?token=${encodeURIComponent(TOKEN)}`, {
      method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ params }),
    }).then((r) => r.json()).then((res) => showResend(out, res));
  });
  panel.append(text, button, out);
  return panel;
}
function showResend(out, res) {
  out.replaceChildren();
  if (res.error) { out.appendChild(el("div", res.error, "error")); return; }
  const side = el("div", undefined, "side");
  const a = el("div"); a.appendChild(el("strong", "recorded")); a.appendChild(el("pre", JSON.stringify(res.recorded, null, 2)));
  const b = el("div"); b.appendChild(el("strong", "received")); const pre = el("pre", JSON.stringify(res.received, null, 2)); pre.id = "resend-received"; b.appendChild(pre);
  side.append(a, b); out.appendChild(side);
  const diff = el("div"); diff.id = "resend-diff";
  diff.appendChild(el("strong", res.changes.length ? `${res.changes.length} differences` : "no differences"));
  for (const c of res.changes) diff.appendChild(el("div", `${c.kind} ${c.path}: ${JSON.stringify(c.recorded)} → ${JSON.stringify(c.received)}`, "change"));
  out.appendChild(diff);
}

// --- progress charts: value against time, the total when known, the rate -------------------
function drawChart(canvas, points) {
  const ctx = canvas.getContext("2d"), w = canvas.width, h = canvas.height, pad = 4;
  canvas.dataset.points = points.length;
  ctx.clearRect(0, 0, w, h);
  if (!points.length) return;
  const t0 = points[0][0], t1 = Math.max(points[points.length - 1][0], t0 + 1e-3);
  const total = points[points.length - 1][2];
  const top = Math.max(total || 0, ...points.map((p) => p[1]), 1e-9);
  const x = (t) => pad + ((t - t0) / (t1 - t0)) * (w - 2 * pad), y = (v) => h - 14 - (v / top) * (h - 20);
  if (total) { ctx.setLineDash([4, 3]); ctx.strokeStyle = "#999"; ctx.beginPath(); ctx.moveTo(pad, y(total)); ctx.lineTo(w - pad, y(total)); ctx.stroke(); ctx.setLineDash([]); }
  ctx.strokeStyle = "#0b57d0"; ctx.lineWidth = 2; ctx.beginPath();
  points.forEach((p, i) => (i ? ctx.lineTo(x(p[0]), y(p[1])) : ctx.moveTo(x(p[0]), y(p[1]))));
  ctx.stroke();
  const last = points[points.length - 1], secs = last[0] - t0;
  const rate = secs > 0 ? ((last[1] - points[0][1]) / secs).toFixed(1) : "–";
  ctx.fillStyle = "#333"; ctx.font = "11px sans-serif";
  ctx.fillText(`${last[1]}${total ? ` / ${total}` : ""}  ·  ${rate}/s`, pad, h - 2);
}
function renderStreams() {
  const box = $("streams"); box.replaceChildren();
  const latest = [...state.streams.values()].sort((a, b) => b.row.n - a.row.n).slice(0, 6);
  for (const s of latest) {
    const card = el("div", undefined, "stream"); card.dataset.n = s.row.n;
    card.appendChild(el("div", `call ${s.row.n} ${s.row.tool || s.row.method}`, "label"));
    const canvas = el("canvas"); canvas.width = 220; canvas.height = 70; card.appendChild(canvas);
    box.appendChild(card); drawChart(canvas, s.points);
  }
}
let drawing = false;
function redrawSoon() {
  if (drawing) return; drawing = true;
  requestAnimationFrame(() => { drawing = false; renderStreams(); renderList();
    const s = state.streams.get(state.selected), c = $("detail-chart"); if (s && c) drawChart(c, s.points); });
}

// --- summary and findings -------------------------------------------------------------------
function loadSummary() {
  api("api/summary").then((data) => {
    const s = data.summary; state.resend = data.resend;
    $("title").textContent = data.title;
    const f = s.findings;
    $("counts").textContent = `${s.calls} calls · ${s.messages} messages · ${s.sessions} sessions · findings: ${f.error || 0} errors, ${f.warning || 0} warnings, ${f.info || 0} info` + (s.closed ? " · ended" : "");
    const table = $("summary"); table.replaceChildren();
    const head = el("tr"); for (const h of ["method", "calls", "errors", "pending", "p50 ms", "max ms"]) head.appendChild(el("th", h));
    table.appendChild(head);
    for (const m of s.methods) { const tr = el("tr"); for (const v of [m.method, m.calls, m.errors, m.pending, m.p50 ?? "", m.max ?? ""]) tr.appendChild(el("td", v)); table.appendChild(tr); }
  });
}
let summaryTimer = 0;
function summarySoon() { if (!summaryTimer) summaryTimer = setTimeout(() => { summaryTimer = 0; loadSummary(); }, 500); }
function addFinding(f) { const li = el("li"); li.appendChild(findingNode(f)); $("findings").appendChild(li); }

// --- live updates ---------------------------------------------------------------------------
function apply(update) {
  if (update.t === "call") {
    const row = update.row;
    if (update.count) state.all = Math.max(state.all, update.count);
    if (shifted()) refreshSoon();
    else {
      state.total = state.all;
      const rows = state.pages.get(Math.floor((row.n - 1) / PAGE));
      if (rows && (row.n - 1) % PAGE <= rows.length) rows[(row.n - 1) % PAGE] = row;
      const s = state.streams.get(row.n); if (s) s.row = row;
    }
    if (row.n === state.selected) api(`api/calls/${row.n}`).then(showDetail);
    summarySoon();
  } else if (update.t === "progress") {
    let s = state.streams.get(update.n);
    if (!s) { s = { row: { n: update.n, method: "", tool: "" }, points: [] }; state.streams.set(update.n, s);
      const rows = state.pages.get(Math.floor((update.n - 1) / PAGE)); const r = rows && rows[(update.n - 1) % PAGE]; if (r) s.row = r; }
    s.points.push(update.p);
  } else if (update.t === "finding") { addFinding(update.finding); summarySoon(); }
  else if (update.t === "dropped") { showDropped(update.dropped); state.all = update.count; refreshSoon(); summarySoon(); }
  else if (update.t === "closed") summarySoon();
}
function connect() {
  const source = new EventSource(`api/events?token=${encodeURIComponent(TOKEN)}`);
  source.onmessage = (e) => { for (const u of JSON.parse(e.data)) apply(u); redrawSoon(); };
  source.addEventListener("skipped", (e) => {
    const notice = $("notice"); notice.hidden = false;
    notice.textContent = `${JSON.parse(e.data)} events skipped, reload`;
  });
}

window.addEventListener("DOMContentLoaded", () => {
  $("list").addEventListener("scroll", renderList);
  $("filters").addEventListener("input", () => { clearTimeout(state.typing); state.typing = setTimeout(resetList, 150); });
  $("filters").addEventListener("submit", (e) => e.preventDefault());
  connect();
  resetList(); loadSummary();
  api("api/findings").then((all) => all.forEach(addFinding));
  api("api/streams").then((all) => { for (const s of all) state.streams.set(s.row.n, { row: s.row, points: s.progress }); renderStreams(); });
});
