// The dashboard: fetches /api/dashboard?days=N and /api/dashboard/movers, fills the KPI tiles, charts and tables.
"use strict";
(() => {
  const pct = (v) => (v === null ? "–" : `${(v * 100).toFixed(1)}%`);
  const KPI = {
    calls: (k) => k.calls,
    containment: (k) => pct(k.containment),
    completion: (k) => pct(k.completion),
    zero_out: (k) => pct(k.zero_out),
    avg_qa_score: (k) => Console.fmt(k.avg_qa_score, 1),
    avg_caller_sentiment: (k) => (k.avg_caller_sentiment === null ? "–"
      : (k.avg_caller_sentiment > 0 ? "+" : "") + Console.fmt(k.avg_caller_sentiment, 2)),
    complaints: (k) => k.complaints,
  };
  const KPI_DETAIL = {   // the counts behind each rate, as a tooltip
    containment: (k) => `${k.contained_calls} of ${k.ended_self_service_calls} ended IVR calls`,
    completion: (k) => `${k.task_done_calls} of ${k.self_service_calls} IVR calls`,
    zero_out: (k) => `${k.zero_out_calls} of ${k.self_service_calls} IVR calls`,
  };
  const short = (day) => day.slice(5);   // "2026-11-29" -> "11-29"

  function fill(d) {
    for (const el of document.querySelectorAll("[data-kpi]")) {
      const name = el.dataset.kpi;
      el.textContent = KPI[name](d.kpis);
      if (KPI_DETAIL[name]) el.title = KPI_DETAIL[name](d.kpis);
    }
    const p = d.period, plural = p.days === 1 ? "" : "s";
    document.getElementById("period").textContent =
      `Calls that started from ${p.first_day} to ${p.last_day} (${p.days} day${plural}), days and hours in ${p.zone}.`;
    const hours = [...Array(24).keys()].map((h) => String(h).padStart(2, "0"));
    Charts.bars(document.getElementById("chart-hours"), {labels: hours, values: d.per_hour, unit: "calls",
      caption: `Calls by the hour of day they started (${d.kpis.calls} in all).`,
      tip: (i) => `${hours[i]}:00–${hours[i]}:59: ${d.per_hour[i]} calls`});
    const days = d.per_day.map((x) => short(x.day));
    Charts.lines(document.getElementById("chart-days"), {labels: days, unit: "calls", empty: "No calls in this period.",
      series: [{name: "calls", values: d.per_day.map((x) => x.calls)}], caption: "Calls per day."});
    trend("chart-topics", d.topic_trends, "No topics found in this period.");
    trend("chart-complaints", d.complaint_trends, "No complaints in this period.");
    const body = document.getElementById("intents");
    body.replaceChildren(...(d.top_intents.length ? d.top_intents.map((r) =>
      Console.el("tr", {}, Console.el("td", {}, r.intent), Console.el("td", {class: "num"}, r.calls)))
      : [Console.el("tr", {}, Console.el("td", {colspan: 2, class: "muted"}, "No intents in this period."))]));
    fillOffers(d.offers);
  }

  function fillOffers(o) {
    const h = o.to_help, path = (x) => (x.calls ? `${x.turns} turns, ${x.seconds} s (${x.calls} calls)` : "no calls");
    document.getElementById("offers-summary").textContent = o.offered
      ? `${o.offered} offer${o.offered === 1 ? "" : "s"}, ${o.accepted} accepted (${pct(o.acceptance)}), ${o.turned_off} turned offers off. ` +
        `To help via an offer: ${path(h.offer)}; via the menu: ${path(h.menu)}.` +
        (h.saved ? ` Saved per accepted offer: ${h.saved.turns} turns, ${h.saved.seconds} s.` : "")
      : "No offers in this period.";
    const body = document.getElementById("offers");
    body.replaceChildren(...(o.by_reason.length ? o.by_reason.map((r) => Console.el("tr", {},
      Console.el("td", {}, r.reason.replaceAll("_", " ")), Console.el("td", {class: "num"}, r.offered),
      Console.el("td", {class: "num"}, r.accepted), Console.el("td", {class: "num"}, r.declined),
      Console.el("td", {class: "num"}, pct(r.acceptance))))
      : [Console.el("tr", {}, Console.el("td", {colspan: 5, class: "muted"}, "No offers in this period."))]));
  }

  function trend(id, t, empty) {
    Charts.lines(document.getElementById(id), {labels: t.days.map(short), unit: "calls", empty,
      caption: `Calls per day for each of ${t.series.length} topic${t.series.length === 1 ? "" : "s"}; ` +
        "the legend gives each topic's total.",
      series: t.series.map((s) => ({name: s.topic, values: s.counts,
                                    legend: `${s.topic}${s.kind === "phrase" ? " (phrase)" : ""}: ${s.total}`}))});
  }

  function fillMovers(m) {
    document.getElementById("movers-note").textContent = m.error ? m.error
      : `${m.calls} calls with topics in the last 7 days, ${m.previous_calls} in the 7 before; ` +
        `computed ${m.computed_at}.`;
    const body = document.getElementById("movers");
    const change = (r) => (r.change === null ? "new" : `${r.change > 0 ? "+" : ""}${Math.round(r.change * 100)}%`);
    body.replaceChildren(...(m.risers.length ? m.risers.map((r) => Console.el("tr", {},
      Console.el("td", {title: r.members.join(", ")}, r.topic), Console.el("td", {}, r.kind),
      Console.el("td", {class: "num"}, r.count), Console.el("td", {class: "num"}, r.previous),
      Console.el("td", {class: "num change-up"}, change(r))))
      : [Console.el("tr", {}, Console.el("td", {colspan: 5, class: "muted"}, "No topic rose this week."))]));
  }

  document.addEventListener("DOMContentLoaded", async () => {
    const root = document.getElementById("dashboard");
    if (!root) return;
    const err = document.getElementById("dash-error");
    try { fill(await Console.api("GET", `/api/dashboard?days=${encodeURIComponent(root.dataset.days)}`)); }
    catch (e) { err.textContent = `Could not load the dashboard: ${e.message}`; }
    try { fillMovers(await Console.api("GET", "/api/dashboard/movers")); }
    catch (e) { err.textContent = `Could not load the movers: ${e.message}`; }
  });
})();
