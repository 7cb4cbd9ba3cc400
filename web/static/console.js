// Shared by every page: the JSON API helper (sends the CSRF token), sign-in and sign-out.
"use strict";
const Console = {
  csrf() { const m = document.querySelector('meta[name="csrf-token"]'); return m ? m.content : ""; },
  async api(method, url, body) {
    const opts = {method, headers: {"Accept": "application/json"}, credentials: "same-origin"};
    if (method !== "GET") opts.headers["X-CSRF-Token"] = Console.csrf();
    if (body !== undefined) { opts.headers["Content-Type"] = "application/json"; opts.body = JSON.stringify(body); }
    const r = await fetch(url, opts);
    const data = r.headers.get("content-type", "").includes("json") ? await r.json() : null;
    if (r.status === 401) { location.href = "/login?next=" + encodeURIComponent(location.pathname + location.search); }
    if (!r.ok) throw new Error((data && data.error) || r.statusText);
    return data;
  },
  el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") e.className = v; else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else if (v !== null && v !== undefined && v !== false) e.setAttribute(k, v === true ? "" : v);
    }
    for (const c of children.flat()) if (c !== null && c !== undefined) e.append(c instanceof Node ? c : String(c));
    return e;
  },
  fmt(value, digits) { return value === null || value === undefined ? "–" : Number(value).toFixed(digits ?? 1); },
};

document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("login");
  if (form) form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const err = document.getElementById("login-error");
    err.textContent = "";
    try {
      const me = await Console.api("POST", "/api/login",
        {username: form.username.value, password: form.password.value});
      location.href = form.dataset.next || me.home;
    } catch (e) { err.textContent = e.message; form.password.value = ""; form.password.focus(); }
  });
  const out = document.getElementById("logout");
  if (out) out.addEventListener("click", async () => {
    try { await Console.api("POST", "/api/logout"); } finally { location.href = "/login"; }
  });
});
