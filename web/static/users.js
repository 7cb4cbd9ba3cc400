// Admin: add a user, unlock, disable, enable.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("new-user");
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      await Console.api("POST", "/api/users", {name: form.name.value, role: form.role.value, password: form.password.value});
      location.reload();
    } catch (e) { document.getElementById("user-error").textContent = e.message; }
  });
  document.getElementById("users").addEventListener("click", async (ev) => {
    const b = ev.target.closest("button[data-action]");
    if (!b) return;
    try { await Console.api("POST", `/api/users/${encodeURIComponent(b.dataset.name)}/${b.dataset.action}`); location.reload(); }
    catch (e) { alert(e.message); }
  });
});
