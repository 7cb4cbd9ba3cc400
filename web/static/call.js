// The call page: redacted recording with a waveform, the transcript word by word in sync, sentiment, metrics,
// the scorecard with QA review forms, and who played or downloaded the recording.
"use strict";
const el = (...args) => Console.el(...args);
const SVG = "http://www.w3.org/2000/svg";
const SEEK_STEP_S = 5;
const WORD_GRACE_S = 0.15;                 // a word stays current this long after its end (short gaps)

const mmss = (s) => {
  if (s === null || s === undefined || !isFinite(s)) return "–";
  const t = Math.max(0, Math.round(s));
  return `${Math.floor(t / 60)}:${String(t % 60).padStart(2, "0")}`;
};
const cssVar = (name, fallback) =>
  getComputedStyle(document.documentElement).getPropertyValue(name).trim() || fallback;
const title = (s) => s === "ivr" ? "IVR" : s ? s[0].toUpperCase() + s.slice(1) : s;
const tag = (text, kind) => el("span", {class: "tag" + (kind ? " " + kind : "")}, text);
const answerTag = (a) => tag(a, a === "yes" ? "good" : a === "no" ? "bad" : "");

const page = {
  id: null, detail: null, player: null, transcript: null,
  words: [], current: null, segments: new Map(), wave: null, waveImages: null, frame: 0,
};

// ---- player and waveform -------------------------------------------------------------------------------------

function seekTo(seconds, play) {
  const p = page.player;
  if (!p || seconds === null || seconds === undefined) return;
  const end = isFinite(p.duration) ? p.duration : (page.wave ? page.wave.duration_s : seconds);
  p.currentTime = Math.min(Math.max(0, seconds), end);
  if (play) p.play().catch(() => {});
  sync();
}

function drawLanes(canvas, wave, alpha) {
  const ctx = canvas.getContext("2d"), w = canvas.width, h = canvas.height, n = wave.channels.length;
  const top = Math.max(1e-6, ...wave.channels.map((c) => Math.max(0, ...c.peaks)));
  const laneH = h / n, dpr = window.devicePixelRatio || 1;
  ctx.clearRect(0, 0, w, h);
  wave.channels.forEach((channel, lane) => {
    const mid = lane * laneH + laneH / 2, count = channel.peaks.length, barW = Math.max(1, w / count);
    ctx.globalAlpha = alpha;
    ctx.fillStyle = cssVar(`--${channel.speaker}`, cssVar("--muted", "#5b6575"));
    channel.peaks.forEach((peak, i) => {
      const half = Math.max(0.5 * dpr, (peak / top) * (laneH / 2 - 3 * dpr));
      ctx.fillRect((i / count) * w, mid - half, barW, 2 * half);
    });
    ctx.globalAlpha = 1;
    ctx.fillStyle = cssVar("--ink", "#1d2430");
    ctx.font = `${11 * dpr}px system-ui, sans-serif`;
    ctx.fillText(title(channel.speaker), 4 * dpr, lane * laneH + 13 * dpr);
    if (lane > 0) { ctx.fillStyle = cssVar("--line", "#d8dde5"); ctx.fillRect(0, lane * laneH, w, dpr); }
  });
}

function layoutWaveform() {
  const canvas = document.getElementById("waveform");
  if (!canvas || !page.wave) return;
  const dpr = window.devicePixelRatio || 1;
  canvas.width = Math.max(1, Math.round(canvas.clientWidth * dpr));
  canvas.height = Math.round(canvas.clientHeight * dpr);
  page.waveImages = [0.35, 1].map((alpha) => {
    const img = document.createElement("canvas");
    img.width = canvas.width; img.height = canvas.height;
    drawLanes(img, page.wave, alpha);
    return img;
  });
  drawWaveform();
}

function drawWaveform() {
  const canvas = document.getElementById("waveform");
  if (!canvas || !page.waveImages) return;
  const ctx = canvas.getContext("2d"), w = canvas.width, h = canvas.height;
  const duration = page.wave.duration_s || page.player.duration || 1;
  const x = Math.round((page.player.currentTime / duration) * w);
  ctx.clearRect(0, 0, w, h);
  ctx.drawImage(page.waveImages[0], 0, 0);
  if (x > 0) ctx.drawImage(page.waveImages[1], 0, 0, x, h, 0, 0, x, h);   // the part already played, brighter
  ctx.fillStyle = cssVar("--bad", "#b3261e");
  ctx.fillRect(Math.min(x, w - 2), 0, 2 * (window.devicePixelRatio || 1), h);
}

async function setUpPlayer() {
  const player = page.player, canvas = document.getElementById("waveform");
  player.addEventListener("timeupdate", sync);
  player.addEventListener("seeked", sync);
  player.addEventListener("play", () => {
    const loop = () => { sync(); if (!player.paused) page.frame = requestAnimationFrame(loop); };
    cancelAnimationFrame(page.frame);
    page.frame = requestAnimationFrame(loop);
    setTimeout(refreshAccessLog, 1000);               // the server logged this playback: show it
  });
  document.getElementById("download").addEventListener("click", () => setTimeout(refreshAccessLog, 1500));
  canvas.addEventListener("click", (ev) => {
    const box = canvas.getBoundingClientRect(), duration = page.wave ? page.wave.duration_s : player.duration;
    if (duration) seekTo(((ev.clientX - box.left) / box.width) * duration, false);
  });
  document.addEventListener("keydown", onKey);
  window.addEventListener("resize", layoutWaveform);
  try {
    page.wave = await Console.api("GET", `/api/calls/${page.id}/waveform`);
    document.getElementById("waveform-legend").textContent =
      page.wave.channels.map((c, i) => `lane ${i + 1}: ${c.speaker}`).join(" · ") + ` · ${mmss(page.wave.duration_s)}`;
    layoutWaveform();
  } catch (e) {
    document.getElementById("waveform-legend").textContent = `Waveform unavailable: ${e.message}`;
  }
}

function onKey(ev) {
  if (ev.altKey || ev.ctrlKey || ev.metaKey || ev.defaultPrevented) return;
  const t = ev.target instanceof Element ? ev.target : document.body;
  if (t.closest("input, select, textarea, [contenteditable]")) return;
  const p = page.player;
  if (ev.key === " " && !t.closest("button, a, audio, .word")) {
    ev.preventDefault();
    if (p.paused) p.play().catch(() => {}); else p.pause();
  } else if ((ev.key === "ArrowLeft" || ev.key === "ArrowRight") && !t.closest("audio")) {
    ev.preventDefault();
    seekTo(p.currentTime + (ev.key === "ArrowLeft" ? -SEEK_STEP_S : SEEK_STEP_S), false);
  }
}

// ---- transcript ----------------------------------------------------------------------------------------------

function textWithTokens(text) {
  return text.split(/(\[[A-Z]+\])/).filter(Boolean)
    .map((part) => /^\[[A-Z]+\]$/.test(part) ? el("span", {class: "redacted"}, part) : part);
}

function wordSpan(text, start, end, redacted, label) {
  return el("span", {class: "word" + (redacted ? " redacted" : ""), "data-start": start ?? null,
                     "data-end": end ?? null, tabindex: "0", role: "button", "aria-label": label || null},
            redacted ? text : textWithTokens(text));
}

function renderTranscript(turns) {
  const box = page.transcript;
  box.replaceChildren();
  page.words = []; page.segments.clear(); page.current = null;
  if (!turns.length) { box.append(el("p", {class: "muted"}, "No transcript.")); return; }
  for (const turn of turns) {
    const words = turn.words.length ? turn.words.map((w) => wordSpan(w.text, w.start_s, w.end_s, w.redacted))
      : [wordSpan(turn.text, turn.start_s, turn.end_s, false, `${turn.speaker} at ${mmss(turn.start_s)}`)];
    const line = el("div", {class: `segment speaker-${turn.speaker}`, "data-seq": turn.seq, tabindex: "-1"},
      el("div", {class: "segment-head"}, el("strong", {}, title(turn.speaker)), " ",
         el("span", {class: "muted"}, mmss(turn.start_s)),
         turn.intent ? el("span", {class: "tag"}, turn.intent) : null),
      el("p", {}, words.flatMap((w, i) => (i ? [" ", w] : [w]))));
    box.append(line);
    page.segments.set(turn.seq, line);
    for (const w of words) {
      if (w.dataset.start !== undefined) page.words.push({el: w, start: +w.dataset.start, end: +w.dataset.end});
    }
  }
  page.words.sort((a, b) => a.start - b.start);
  box.addEventListener("click", onWord);
  box.addEventListener("keydown", (ev) => {
    if ((ev.key === "Enter" || ev.key === " ") && ev.target.closest(".word")) { ev.preventDefault(); onWord(ev); }
  });
}

function onWord(ev) {
  const w = ev.target.closest(".word");
  if (!w || w.dataset.start === undefined) return;
  if (page.player) seekTo(+w.dataset.start, true);
  else markCurrent(page.words.find((x) => x.el === w) || null);
}

function wordAt(t) {
  const words = page.words;
  let lo = 0, hi = words.length - 1, found = -1;
  while (lo <= hi) {                                  // the last word that starts at or before t
    const mid = (lo + hi) >> 1;
    if (words[mid].start <= t) { found = mid; lo = mid + 1; } else hi = mid - 1;
  }
  return found >= 0 && t <= words[found].end + WORD_GRACE_S ? words[found] : null;
}

function keepVisible(node) {
  const box = page.transcript.getBoundingClientRect(), r = node.getBoundingClientRect();
  if (r.top < box.top || r.bottom > box.bottom) page.transcript.scrollTop += r.top - box.top - box.height / 3;
}

function markCurrent(word) {
  if (word === page.current) return;
  if (page.current) page.current.el.classList.remove("current");
  page.current = word;
  if (word) { word.el.classList.add("current"); keepVisible(word.el); }
}

function sync() {
  if (!page.player) return;
  markCurrent(wordAt(page.player.currentTime));
  drawWaveform();
}

function showSegment(seq, start) {
  const seg = page.segments.get(seq);
  if (seg) {
    page.transcript.scrollTop = seg.offsetTop - page.transcript.offsetTop - 12;
    seg.classList.remove("evidence-hit");
    void seg.offsetWidth;                             // restart the highlight animation
    seg.classList.add("evidence-hit");
    seg.focus({preventScroll: true});
  }
  if (page.player && start !== null && start !== undefined) seekTo(start, true);
}

// ---- sentiment, metrics, access log --------------------------------------------------------------------------

function svg(tagName, attrs, ...children) {
  const e = document.createElementNS(SVG, tagName);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  for (const c of children) e.append(c);
  return e;
}

function sentimentSeries(d) {
  const series = {};
  for (const t of d.turns) {
    if (t.sentiment === null || t.sentiment === undefined || t.start_s === null) continue;
    (series[t.speaker] ||= []).push([(t.start_s + (t.end_s ?? t.start_s)) / 2, t.sentiment]);
  }
  if (Object.keys(series).length || !d.duration_s) return series;
  for (const [speaker, s] of Object.entries(d.sentiment)) {   // no per-segment values: the quarters
    series[speaker] = (s.quarters || []).map((q, i) => q === null ? null : [(i + 0.5) * d.duration_s / 4, q])
      .filter(Boolean);
  }
  return series;
}

function renderSentiment(d) {
  const box = document.getElementById("sentiment"), series = sentimentSeries(d);
  const points = Object.values(series).flat();
  if (!points.length) { box.replaceChildren(el("p", {class: "muted"}, "No sentiment for this call.")); return; }
  const W = 600, H = 170, pad = 28, duration = Math.max(d.duration_s || 0, ...points.map((p) => p[0]), 1);
  const top = Math.max(1, ...points.map((p) => Math.abs(p[1])));
  const x = (t) => pad + (t / duration) * (W - 2 * pad), y = (v) => H / 2 - (v / top) * (H / 2 - 14);
  const chart = svg("svg", {class: "chart sentiment", viewBox: `0 0 ${W} ${H}`, role: "img",
                            "aria-label": "Sentiment of each speaker over the call"},
    svg("line", {class: "axis", x1: pad, x2: W - pad, y1: y(0), y2: y(0)}),
    svg("text", {x: 2, y: y(top) + 4}, `+${top.toFixed(1)}`), svg("text", {x: 2, y: y(-top) + 4}, `−${top.toFixed(1)}`),
    svg("text", {x: pad, y: H - 2}, "0:00"), svg("text", {x: W - pad - 24, y: H - 2}, mmss(duration)));
  for (const [speaker, pts] of Object.entries(series)) {
    chart.append(svg("polyline", {class: `line line-${speaker}`,
                                  points: pts.map(([t, v]) => `${x(t).toFixed(1)},${y(v).toFixed(1)}`).join(" ")}));
    for (const [t, v] of pts) {
      chart.append(svg("circle", {class: `dot line-${speaker}`, cx: x(t).toFixed(1), cy: y(v).toFixed(1), r: 3},
                       svg("title", {}, `${speaker} at ${mmss(t)}: ${v.toFixed(2)}`)));
    }
  }
  const rows = Object.entries(d.sentiment).map(([speaker, s]) => el("tr", {},
    el("td", {class: `speaker-${speaker}`}, title(speaker)), el("td", {class: "num"}, Console.fmt(s.overall, 2)),
    el("td", {}, (s.quarters || []).map((q) => Console.fmt(q, 1)).join(" · ")),
    el("td", {class: "num"}, Console.fmt(s.change, 2))));
  box.replaceChildren(chart, el("table", {class: "grid compact"},
    el("thead", {}, el("tr", {}, el("th", {}, "Speaker"), el("th", {class: "num"}, "Overall"),
                      el("th", {}, "By quarter"), el("th", {class: "num"}, "Change"))),
    el("tbody", {}, rows)));
}

function renderMetrics(rows) {
  const box = document.getElementById("metrics");
  if (!rows.length) { box.replaceChildren(el("p", {class: "muted"}, "No metrics yet.")); return; }
  box.replaceChildren(el("table", {class: "grid compact metrics"},
    el("thead", {}, el("tr", {}, el("th", {}, "Metric"), el("th", {class: "num"}, "Value"), el("th", {}, "Unit"))),
    el("tbody", {}, rows.map((m) => el("tr", {}, el("td", {}, m.label), el("td", {class: "num"}, m.value),
                                         el("td", {class: "muted"}, m.unit))))));
}

function renderAccessLog(rows) {
  const box = document.getElementById("access-log");
  if (!rows.length) {
    box.replaceChildren(el("p", {class: "muted"}, "Nobody has played or downloaded this recording yet."));
    return;
  }
  box.replaceChildren(el("table", {class: "grid compact"},
    el("thead", {}, el("tr", {}, el("th", {}, "When"), el("th", {}, "Who"), el("th", {}, "Action"))),
    el("tbody", {}, rows.map((r) => el("tr", {}, el("td", {}, r.at), el("td", {}, r.user), el("td", {}, r.action))))));
}

async function refreshAccessLog() {
  try { renderAccessLog((await Console.api("GET", `/api/calls/${page.id}`)).access_log); } catch (e) { /* keep */ }
}

// ---- scorecard and reviews -----------------------------------------------------------------------------------

function scoreLine(score) {
  const shown = (total, failed) => failed ? `${Console.fmt(total)} (auto-fail)` : Console.fmt(total);
  const before = shown(score.total, score.auto_failed), after = shown(score.qa_total, score.qa_auto_failed);
  return score.reviewed || before !== after ? `Score ${before} → ${after} after review` : `Score ${before}`;
}

function reviewForm(item) {
  const options = ["yes", "no", "na"].map((a) => el("option", {value: a, selected: a === item.current_answer}, a));
  return el("form", {class: "review"},
    el("label", {}, "Answer ", el("select", {name: "answer"}, options)),
    el("label", {class: "grow"}, "Comment ",
       el("textarea", {name: "comment", rows: "1", maxlength: "2000", required: true,
                       placeholder: "Why this answer (required)"})),
    el("button", {type: "submit"}, "Save review"),
    el("p", {class: "error", role: "alert"}));
}

function questionBlock(item) {
  const evidence = (item.evidence || []).map((ev) => el("button",
    {type: "button", class: "secondary evidence", "data-seq": ev.seq, "data-start": ev.start_s ?? null},
    `Evidence ${mmss(ev.start_s)}`));
  return el("article", {class: "question" + (item.reviewed ? " reviewed" : ""), "data-item": item.id},
    el("p", {class: "question-text"}, item.question, item.auto_fail ? [" ", tag("auto-fail", "warn")] : null),
    el("p", {class: "answers"}, "Automated ", answerTag(item.automated_answer), " · Current ",
       answerTag(item.current_answer), item.reviewed ? " (reviewed)" : "",
       ` · ${Console.fmt(item.current_earned, 0)} / ${Console.fmt(item.current_possible, 0)} points`),
    evidence.length ? el("p", {class: "evidence-list"}, evidence) : null,
    reviewForm(item));
}

function renderScore(score, history) {
  const box = document.getElementById("scorecard"), line = document.getElementById("qa-score");
  if (!score) {
    line.textContent = "";
    box.replaceChildren(el("p", {class: "muted"}, "This call has no score yet."));
  } else {
    document.getElementById("scorecard-name").textContent = score.scorecard;
    line.textContent = scoreLine(score);
    line.className = score.qa_auto_failed ? "score bad" : "score";
    const sections = [];
    for (const item of score.items) {
      if (!sections.length || sections[sections.length - 1].name !== item.section) {
        sections.push({name: item.section, items: []});
      }
      sections[sections.length - 1].items.push(item);
    }
    box.replaceChildren(...sections.map((s) => el("section", {class: "score-section"},
      el("h3", {}, s.name || "Questions"), s.items.map(questionBlock))));
  }
  renderHistory(history);
}

function renderHistory(history) {
  const box = document.getElementById("review-history");
  if (!history.length) { box.replaceChildren(el("p", {class: "muted"}, "No reviews yet.")); return; }
  box.replaceChildren(el("table", {class: "grid compact"},
    el("thead", {}, el("tr", {}, ["When", "Who", "Question", "Change", "Comment"].map((h) => el("th", {}, h)))),
    el("tbody", {}, history.slice().reverse().map((h) => el("tr", {}, el("td", {}, h.at), el("td", {}, h.user),
      el("td", {}, h.item), el("td", {}, `${h.previous_answer} → ${h.answer}`), el("td", {}, h.comment))))));
}

async function onReview(ev) {
  ev.preventDefault();
  const form = ev.target, item = form.closest("[data-item]").dataset.item, error = form.querySelector(".error");
  const button = form.querySelector("button[type=submit]");
  error.textContent = "";
  button.disabled = true;
  try {
    const result = await Console.api("POST", `/api/calls/${page.id}/reviews`,
      {item, answer: form.answer.value, comment: form.comment.value});
    renderScore(result.score, result.history);
    const again = document.querySelector(`#scorecard [data-item="${CSS.escape(item)}"] select[name=answer]`);
    if (again) again.focus();
  } catch (e) {
    error.textContent = e.message;
    button.disabled = false;
  }
}

// ---- the page --------------------------------------------------------------------------------------------------

function renderSummary(d) {
  const parts = [`${d.channel} call`, `started ${d.started_at} (${d.zone})`, `duration ${mmss(d.duration_s)}`,
                 `outcome ${d.outcome || "–"}`];
  if (d.transfer_reason) parts.push(`transfer: ${d.transfer_reason}`);
  if (d.ani) parts.push(`from ${d.ani}`);
  const summary = document.getElementById("call-summary");
  summary.replaceChildren(el("span", {}, parts.join(" · "), " ",
    d.analysis.status !== "done" ? tag(`analysis ${d.analysis.status}`, "warn") : null,
    d.complaint.flag ? tag(`complaint: ${d.complaint.subject || "yes"}`, "bad") : null,
    d.topics.length ? ` · Topics: ${d.topics.join(", ")}` : null));
}

document.addEventListener("DOMContentLoaded", async () => {
  const root = document.getElementById("call");
  if (!root) return;
  page.id = root.dataset.callId;
  page.player = document.getElementById("player");
  page.transcript = document.getElementById("transcript");
  let d;
  try {
    d = page.detail = await Console.api("GET", `/api/calls/${page.id}`);
  } catch (e) {
    document.getElementById("call-error").textContent = e.message;
    document.getElementById("call-summary").textContent = "";
    return;
  }
  renderSummary(d);
  renderTranscript(d.turns);
  renderScore(d.score, d.review_history);
  renderSentiment(d);
  renderMetrics(d.metrics_table);
  renderAccessLog(d.access_log);
  document.getElementById("scorecard").addEventListener("submit", onReview);
  document.getElementById("scorecard").addEventListener("click", (ev) => {
    const b = ev.target.closest("button.evidence");
    if (b) showSegment(+b.dataset.seq, b.dataset.start === undefined ? null : +b.dataset.start);
  });
  if (page.player && d.has_recording) await setUpPlayer();
});
