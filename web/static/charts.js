// Tiny SVG charts (no library): Charts.bars() and Charts.lines() draw into a <figure> from plain arrays.
"use strict";
const Charts = (() => {
  const NS = "http://www.w3.org/2000/svg";
  const W = 640, H = 250, M = {top: 24, right: 12, bottom: 34, left: 40};
  const PALETTE = ["#0b5cad", "#b3261e", "#1f7a3a", "#9a6700", "#6b3fa0", "#00798c", "#c2185b", "#5b6575"];

  function svg(tag, attrs, ...children) {
    const e = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    return e;
  }

  function nice(x) {                 // the smallest 1, 2 or 5 x 10^n at or above x
    const p = 10 ** Math.floor(Math.log10(x));
    return [1, 2, 5, 10].map((m) => m * p).find((v) => v >= x - 1e-9);
  }

  // Gridline values from 0 up to at least max: whole numbers (counts), at most 4 steps.
  function countTicks(max) {
    const step = Math.max(1, nice(Math.max(max, 1) / 4));
    return [...Array(Math.max(1, Math.ceil(max / step)) + 1).keys()].map((i) => i * step);
  }

  // The plot: gridlines at `ticks` (ascending), x labels (thinned to fit); returns the scales.
  function frame(root, labels, ticks, yUnit) {
    const pw = W - M.left - M.right, ph = H - M.top - M.bottom, yMin = ticks[0], yMax = ticks[ticks.length - 1];
    const y = (v) => M.top + ph - ((v - yMin) / (yMax - yMin)) * ph;
    for (const v of ticks) {
      root.append(svg("line", {x1: M.left, x2: W - M.right, y1: y(v), y2: y(v), stroke: "#d8dde5"}));
      root.append(svg("text", {x: M.left - 6, y: y(v) + 4, "text-anchor": "end", "font-size": 11, fill: "#5b6575"}, v));
    }
    if (yUnit) root.append(svg("text", {x: 4, y: 11, "font-size": 11, fill: "#5b6575"}, yUnit));
    const step = pw / Math.max(labels.length, 1);
    const every = Math.ceil(labels.length / Math.floor(pw / 44));
    labels.forEach((label, i) => {
      if (i % every) return;
      root.append(svg("text", {x: M.left + step * (i + 0.5), y: H - M.bottom + 16, "text-anchor": "middle",
                               "font-size": 11, fill: "#5b6575"}, label));
    });
    return {y, step, x: (i) => M.left + step * (i + 0.5), ph};
  }

  function mount(figure, caption, root, empty) {
    figure.replaceChildren();
    if (empty) { figure.append(Console.el("p", {class: "muted"}, empty)); return; }
    figure.append(root, Console.el("figcaption", {class: "muted"}, caption));
  }

  // bars(figure, {labels, values, caption, unit, tip(i) -> text}): one bar per label.
  function bars(figure, {labels, values, caption, unit, tip}) {
    const root = svg("svg", {viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img", "aria-label": caption});
    const total = values.reduce((a, b) => a + b, 0);
    const f = frame(root, labels, countTicks(Math.max(...values, 0)), unit);
    values.forEach((v, i) => {
      const top = f.y(v);
      root.append(svg("rect", {x: f.x(i) - f.step * 0.4, y: top, width: f.step * 0.8, height: f.y(0) - top,
                               fill: PALETTE[0]}, svg("title", {}, tip ? tip(i) : `${labels[i]}: ${v}`)));
    });
    mount(figure, caption, root, total ? null : "No calls in this period.");
  }

  // lines(figure, {labels, series: [{name, values, legend}], caption, unit, ticks, empty}): one line per series
  // (null values are gaps), a legend when there are several; ticks default to whole-number counts.
  function lines(figure, {labels, series, caption, unit, ticks, empty}) {
    const root = svg("svg", {viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img", "aria-label": caption});
    const all = series.flatMap((s) => s.values.filter((v) => v !== null));
    const f = frame(root, labels, ticks || countTicks(Math.max(...all, 0)), unit);
    series.forEach((s, k) => {
      const color = PALETTE[k % PALETTE.length];
      const pts = s.values.map((v, i) => (v === null ? null : [f.x(i), f.y(v)])).filter(Boolean);
      if (pts.length > 1) root.append(svg("polyline", {points: pts.map((p) => p.join(",")).join(" "), fill: "none",
                                                      stroke: color, "stroke-width": 2}));
      s.values.forEach((v, i) => {
        if (v === null) return;
        root.append(svg("circle", {cx: f.x(i), cy: f.y(v), r: 3, fill: color},
                        svg("title", {}, `${s.name} · ${labels[i]}: ${v}`)));
      });
    });
    mount(figure, caption, root, all.length ? null : (empty || "Nothing in this period."));
    if (all.length && (series.length > 1 || series.some((s) => s.legend))) {
      figure.append(Console.el("ul", {class: "legend"}, series.map((s, k) => Console.el("li", {},
        (() => { const sw = svg("svg", {width: 12, height: 12, "aria-hidden": "true"});
                 sw.append(svg("rect", {width: 12, height: 12, fill: PALETTE[k % PALETTE.length]})); return sw; })(),
        " " + (s.legend || s.name)))));
    }
  }

  return {bars, lines, PALETTE};
})();
