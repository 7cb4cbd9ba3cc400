// The Live page: snapshots of the calls in progress arrive over Server-Sent Events (/api/live/stream);
// cards are grouped per endpoint node, updated in place, and removed a few seconds after their call ends.
"use strict";
(() => {
  const ENDED_LINGER_MS = 4000;
  const cards = new Map();          // call id -> {el, key, base, since}
  let source = null, retryTimer = null;

  function clock(seconds) {
    const s = Math.max(0, Math.floor(seconds));
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
    const two = (n) => String(n).padStart(2, "0");
    return h ? `${h}:${two(m)}:${two(r)}` : `${m}:${two(r)}`;
  }

  function status(text, lost) {
    const el = document.getElementById("live-status");
    el.textContent = text;
    el.classList.toggle("lost", Boolean(lost));
  }

  function transcript(call) {
    const list = Console.el("ol", {class: "transcript", "aria-label": "Transcript, newest last"});
    for (const t of call.turns) {
      list.append(Console.el("li", {class: "speaker-" + t.speaker},
        Console.el("span", {class: "at"}, clock(t.at_s)),
        Console.el("span", {class: "who"}, t.speaker === "ivr" ? "IVR" : t.speaker),
        t.text));
    }
    if (!call.turns.length) list.append(Console.el("li", {class: "muted"}, "Nothing said yet."));
    return list;
  }

  function cardBody(call) {
    const top = Console.el("div", {class: "call-top"},
      Console.el("span", {class: "caller"}, call.ani || "Unknown caller"),
      call.stuck ? Console.el("span", {class: "stuck", title: "Going round in circles"}, "Stuck") : null,
      Console.el("span", {class: "ended-note muted"}),
      Console.el("span", {class: "elapsed", title: "Started " + call.started_at}, clock(call.elapsed_s)));
    const meta = Console.el("div", {class: "call-meta"},
      Console.el("span", {}, "State ", Console.el("span", {class: "state"}, call.state || "–")),
      Console.el("span", {}, `${call.no_match} no match · ${call.no_input} no input`),
      Console.el("span", {}, call.channel),
      Console.el("a", {href: `/calls/${call.id}`}, `Call ${call.id}`));
    return [top, meta, transcript(call)];
  }

  function upsert(call, now, rebuilt) {
    const key = JSON.stringify({...call, elapsed_s: 0});
    let card = cards.get(call.id);
    if (!card) {
      card = {el: Console.el("article", {class: "call-card", "data-call-id": call.id}), key: null};
      cards.set(call.id, card);
    }
    card.base = call.elapsed_s;
    card.since = now;
    if (card.key !== key) {
      card.key = key;
      card.el.replaceChildren(...cardBody(call));
      card.el.classList.toggle("call-stuck", call.stuck);
      card.el.setAttribute("aria-label", `${call.ani || "Unknown caller"}${call.stuck ? ", stuck" : ""}`);
      rebuilt.push(card.el.querySelector(".transcript"));
    }
    if (card.ended) {                  // back after all (a refused transfer reopens the call)
      card.el.classList.remove("call-ended");
      card.el.querySelector(".ended-note").textContent = "";
      delete card.ended;
    }
    return card.el;
  }

  function groupFor(node) {
    return Console.el("section", {class: "node-group", "data-node": node},
      Console.el("h2", {}, node, Console.el("span", {class: "tag node-count"})),
      Console.el("div", {class: "node-calls"}));
  }

  function render(snap) {
    const root = document.getElementById("live-calls");
    const now = performance.now();
    const byId = new Map(snap.calls.map((c) => [c.id, c]));
    const groups = new Map([...root.querySelectorAll(".node-group")].map((g) => [g.dataset.node, g]));
    const order = [], rebuilt = [];
    for (const {node, calls} of snap.nodes) {
      const group = groups.get(node) || groupFor(node);
      groups.delete(node);
      const stuck = calls.filter((id) => byId.get(id).stuck).length;
      group.querySelector(".node-count").textContent =
        `${calls.length} call${calls.length === 1 ? "" : "s"}${stuck ? `, ${stuck} stuck` : ""}`;
      const box = group.querySelector(".node-calls");
      for (const id of calls) box.append(upsert(byId.get(id), now, rebuilt));   // append moves: snapshot order
      order.push(group);
    }
    for (const [id, card] of cards) if (!byId.has(id)) ended(id, card);
    for (const group of groups.values()) order.push(group);          // only ended calls left: they fade out
    root.replaceChildren(...order);
    noteIfEmpty(root);
    const stuck = snap.calls.filter((c) => c.stuck).length;
    document.getElementById("live-summary").textContent =
      `${snap.calls.length} call${snap.calls.length === 1 ? "" : "s"} in progress on ${snap.nodes.length} ` +
      `node${snap.nodes.length === 1 ? "" : "s"}${stuck ? `, ${stuck} stuck` : ""}`;
    status(`Live · updated ${snap.at}`, false);
    for (const list of rebuilt) list.scrollTop = list.scrollHeight;   // the newest line in view
  }

  function noteIfEmpty(root) {
    if (!root.querySelector(".call-card")) {
      root.replaceChildren(Console.el("p", {class: "muted"}, "No calls in progress."));
    }
  }

  function ended(id, card) {
    if (card.ended) return;
    card.ended = true;
    card.el.classList.add("call-ended");
    const note = card.el.querySelector(".ended-note");
    if (note) note.textContent = "ended";
    setTimeout(() => {
      if (!card.ended) return;
      const group = card.el.closest(".node-group");
      card.el.remove();
      cards.delete(id);
      if (group && !group.querySelector(".call-card")) group.remove();
      noteIfEmpty(document.getElementById("live-calls"));
    }, ENDED_LINGER_MS);
  }

  function tick() {
    const now = performance.now();
    for (const card of cards.values()) {
      if (card.ended) continue;
      const el = card.el.querySelector(".elapsed");
      if (el) el.textContent = clock(card.base + (now - card.since) / 1000);
    }
  }

  function connect() {
    clearTimeout(retryTimer);
    source = new EventSource(document.getElementById("live-calls").dataset.stream);
    source.addEventListener("snapshot", (ev) => render(JSON.parse(ev.data)));
    source.addEventListener("error", () => {
      status("Connection lost, reconnecting…", true);
      if (source.readyState === EventSource.CLOSED) {   // refused (e.g. signed out): the browser gives up
        source = null;
        retryTimer = setTimeout(async () => {
          try { await Console.api("GET", "/api/me"); } catch (e) { /* 401 goes to the sign-in page */ }
          connect();
        }, 5000);
      }
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    connect();
    setInterval(tick, 250);
    window.addEventListener("pagehide", () => { if (source) source.close(); });
  });
})();
