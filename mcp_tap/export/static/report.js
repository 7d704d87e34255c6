// Draws the report from the JSON in #report-data. Recorded text is untrusted: it is only
// ever set as textContent or as an attribute value, never parsed as HTML.
(function () {
  "use strict";
  var errors = 0;
  window.addEventListener("error", function () {
    errors += 1;
    document.body.setAttribute("data-errors", String(errors));
  });
  var SVG = "http://www.w3.org/2000/svg";
  var OUTCOMES = ["completed", "tool error", "failed", "cancelled", "abandoned", "unanswered"];
  function outcomeClass(outcome) { return outcome.replace(/ /g, "-"); }

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    for (var key in attrs || {}) node.setAttribute(key, attrs[key]);
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }
  function svg(tag, attrs, text) {
    var node = document.createElementNS(SVG, tag);
    for (var key in attrs || {}) node.setAttribute(key, attrs[key]);
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }
  function secs(t) { return t === null || t === undefined ? "-" : t.toFixed(3) + " s"; }
  function show(value) { return value === null || value === undefined ? "" : JSON.stringify(value); }
  function fmt(n) { return Math.abs(n) >= 1000 || n === Math.round(n) ? String(Math.round(n * 100) / 100) : n.toPrecision(3); }

  function timeline(data) {
    var box = document.getElementById("timeline");
    var legend = document.getElementById("legend");
    OUTCOMES.forEach(function (o) { legend.appendChild(el("span", { "class": outcomeClass(o) }, o)); });
    if (!data.calls.length) { box.appendChild(el("p", { "class": "empty" }, "No JSON-RPC request was recorded.")); return; }
    var span = Math.max(data.duration, 1e-6);
    data.calls.forEach(function (call) {
      var row = el("div", { "class": "tl-row" });
      var name = call.method + (call.target ? " " + call.target : "");
      var label = el("div", { "class": "tl-label" }, "call " + call.call + "  " + name + "  id " + show(call.id));
      var end = call.end === null ? data.duration : call.end;
      var tip = "call " + call.call + ": " + name + " id " + show(call.id) + ": " + call.outcome + ", " + secs(call.start) + " to " +
        (call.end === null ? "(no end)" : secs(call.end)) + (call.session ? ", session " + call.session : "");
      label.setAttribute("title", tip);
      var track = svg("svg", { "class": "tl-track", "role": "img", "aria-label": tip });
      var left = 100 * call.start / span;
      var width = Math.max(0.4, 100 * (end - call.start) / span);
      var bar = svg("rect", { x: left + "%", y: 2, width: Math.min(width, 100 - left) + "%", height: 12, rx: 2,
        "class": "bar " + outcomeClass(call.outcome), "data-outcome": call.outcome });
      bar.appendChild(svg("title", {}, tip));
      track.appendChild(bar);
      row.appendChild(label); row.appendChild(track);
      box.appendChild(row);
    });
    var axis = el("div", { "class": "tl-axis" });
    for (var i = 0; i <= 4; i++) axis.appendChild(el("span", {}, secs(data.duration * i / 4)));
    box.appendChild(axis);
  }

  function chart(stream) {
    var W = 600, H = 220, L = 52, R = 12, T = 12, B = 30;
    var card = el("div", { "class": "chart", "data-token": show(stream.token) });
    var title = stream.method + (stream.target ? " " + stream.target : "") + " - token " + show(stream.token);
    card.appendChild(el("h3", {}, title));
    var pts = stream.points.filter(function (p) { return p.progress !== null; });
    var t0 = stream.start;
    var t1 = Math.max(stream.end === null ? t0 : stream.end, pts.length ? pts[pts.length - 1].t : t0, t0 + 1e-6);
    var top = 0;
    pts.forEach(function (p) { top = Math.max(top, p.progress, p.total === null ? 0 : p.total); });
    top = top > 0 ? top : 1;
    function x(t) { return L + (W - L - R) * (t - t0) / (t1 - t0); }
    function y(v) { return T + (H - T - B) * (1 - v / top); }
    var s = svg("svg", { viewBox: "0 0 " + W + " " + H, "class": "progress-chart", role: "img",
      "aria-label": "progress of token " + show(stream.token) + " against time" });
    s.appendChild(svg("line", { x1: L, y1: y(0), x2: W - R, y2: y(0), "class": "axis" }));
    s.appendChild(svg("line", { x1: L, y1: T, x2: L, y2: y(0), "class": "axis" }));
    s.appendChild(svg("text", { x: L - 6, y: y(top) + 4, "text-anchor": "end" }, fmt(top)));
    s.appendChild(svg("text", { x: L - 6, y: y(0) + 4, "text-anchor": "end" }, "0"));
    s.appendChild(svg("text", { x: L, y: H - 8 }, secs(t0)));
    s.appendChild(svg("text", { x: W - R, y: H - 8, "text-anchor": "end" }, secs(t1)));
    // gaps: a pause much longer than the stream's usual pace
    var steps = [];
    for (var g = 1; g < pts.length; g++) steps.push(pts[g].t - pts[g - 1].t);
    var usual = steps.slice().sort(function (a, b) { return a - b; })[Math.floor(steps.length / 2)] || 0;
    for (g = 1; g < pts.length; g++) {
      var pause = pts[g].t - pts[g - 1].t;
      if (steps.length >= 2 && pause > 3 * usual && pause > 0.05 * (t1 - t0)) {
        var gap = svg("rect", { x: x(pts[g - 1].t), y: T, width: x(pts[g].t) - x(pts[g - 1].t), height: y(0) - T, "class": "gap" });
        gap.appendChild(svg("title", {}, "gap of " + secs(pause)));
        s.appendChild(gap);
      }
    }
    // the total, as a line (it may change: each value holds until the next)
    var totals = stream.points.filter(function (p) { return p.total !== null; });
    if (totals.length) {
      var d = "M" + x(totals[0].t) + " " + y(totals[0].total);
      totals.forEach(function (p) { d += " H" + x(p.t) + " V" + y(p.total); });
      d += " H" + x(t1);
      s.appendChild(svg("path", { d: d, "class": "total" }));
      s.appendChild(svg("text", { x: W - R, y: y(totals[totals.length - 1].total) - 4, "text-anchor": "end" }, "total"));
    }
    if (pts.length) {
      var line = "M" + x(pts[0].t) + " " + y(pts[0].progress);
      pts.forEach(function (p, i) {
        if (i === 0) return;
        // no total: a step per notification, since nothing says how progress grew between them
        line += stream.determinate ? " L" + x(p.t) + " " + y(p.progress) : " H" + x(p.t) + " V" + y(p.progress);
      });
      s.appendChild(svg("path", { d: line, "class": "line" }));
      pts.forEach(function (p) {
        var c = svg("circle", { cx: x(p.t), cy: y(p.progress), r: 3.5, "class": "pt" });
        c.appendChild(svg("title", {}, secs(p.t) + ": " + fmt(p.progress) + (p.total === null ? "" : " / " + fmt(p.total)) + (p.message ? " - " + p.message : "")));
        s.appendChild(c);
      });
    }
    stream.findings.forEach(function (f) {
      var t = Math.min(Math.max(f.t, t0), t1);
      var m = svg("line", { x1: x(t), y1: T, x2: x(t), y2: y(0), "class": "mark " + f.severity, "data-rule": f.rule });
      m.appendChild(svg("title", {}, f.severity + " " + f.rule + ": " + f.detail));
      s.appendChild(m);
    });
    card.appendChild(s);
    var last = pts.length ? pts[pts.length - 1] : null;
    card.appendChild(el("div", { "class": "meta" }, stream.points.length + " notifications, " +
      (stream.determinate ? "with a total" : "no total (indeterminate)") + ", " + stream.outcome +
      (last && last.message ? ", last: " + last.message : "") +
      (stream.findings.length ? ", " + stream.findings.length + " finding(s)" : "")));
    return card;
  }

  function progress(data) {
    var box = document.getElementById("progress");
    if (!data.progress.length) { box.appendChild(el("p", { "class": "empty" }, "No request asked for progress.")); return; }
    var grid = el("div", { "class": "charts" });
    data.progress.forEach(function (stream) { grid.appendChild(chart(stream)); });
    box.appendChild(grid);
  }

  function findings(data) {
    var list = document.getElementById("findings");
    var items = data.findings.map(function (f) { return { t: f.t, sev: f.severity, rule: f.rule, detail: f.detail }; })
      .concat(data.faults.map(function (f) { return { t: f.t, sev: "error", rule: "fault " + f.kind, detail: f.detail }; }))
      .concat((data.warnings || []).map(function (w) { return { t: null, sev: "warning", rule: "recording", detail: w }; }));
    if (!items.length) { list.appendChild(el("li", { "class": "empty sev-info" }, "No findings.")); return; }
    items.forEach(function (f) {
      var li = el("li", { "class": "sev-" + f.sev });
      li.appendChild(el("span", { "class": "sev" }, f.sev));
      li.appendChild(el("span", { "class": "rule" }, f.rule));
      li.appendChild(document.createTextNode(f.detail + (f.t === null ? "" : " (at " + secs(f.t) + ")")));
      list.appendChild(li);
    });
  }

  function messages(data) {
    var body = document.querySelector("#messages tbody");
    var filter = document.getElementById("filter");
    var kind = document.getElementById("kind");
    var shown = document.getElementById("shown");
    var kinds = {};
    data.messages.forEach(function (m) { kinds[m.kind] = true; });
    Object.keys(kinds).sort().forEach(function (k) { kind.appendChild(el("option", { value: k }, k)); });
    var rows = data.messages.map(function (m) {
      var tr = el("tr", { "class": "msg " + m.kind, tabindex: "0", "aria-expanded": "false" });
      [secs(m.t), m.dir, m.kind, m.method || "", show(m.id), m.call === null ? "" : String(m.call), String(m.exchange), m.summary].forEach(function (v) {
        tr.appendChild(el("td", { title: v }, v));
      });
      var detail = el("tr", { "class": "detail", hidden: "" });
      var td = el("td", { colspan: "8" });
      td.appendChild(el("pre", {}, m.text));
      detail.appendChild(td);
      function toggle() {
        var open = detail.hasAttribute("hidden");
        if (open) detail.removeAttribute("hidden"); else detail.setAttribute("hidden", "");
        tr.setAttribute("aria-expanded", String(open));
      }
      tr.addEventListener("click", toggle);
      tr.addEventListener("keydown", function (e) { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); toggle(); } });
      body.appendChild(tr); body.appendChild(detail);
      var hay = [m.dir, m.kind, m.method || "", show(m.id), m.session || "", m.summary, m.text].join(" ").toLowerCase();
      return { m: m, tr: tr, detail: detail, hay: hay };
    });
    function apply() {
      var q = filter.value.trim().toLowerCase();
      var k = kind.value;
      var count = 0;
      rows.forEach(function (r) {
        var ok = (!k || r.m.kind === k) && (!q || r.hay.indexOf(q) >= 0);
        if (ok) { r.tr.removeAttribute("hidden"); count++; } else { r.tr.setAttribute("hidden", ""); r.detail.setAttribute("hidden", ""); }
      });
      var more = (data.left_out && data.left_out.messages) || 0;
      shown.textContent = count + " of " + rows.length + " messages" +
        (more ? " (" + more + " more left out of this page: see --max-rows)" : "");
    }
    filter.addEventListener("input", apply);
    kind.addEventListener("change", apply);
    apply();
  }

  try {
    var data = JSON.parse(document.getElementById("report-data").textContent);
    timeline(data);
    progress(data);
    findings(data);
    messages(data);
    document.body.setAttribute("data-rendered", "1");
  } catch (e) {
    errors += 1;
    document.body.setAttribute("data-errors", String(errors));
    if (window.console) console.error(e);
  }
}());
