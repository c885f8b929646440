/*
 * The blind second review tab (contract §5): referrals drawn for an independent review,
 * judged from the metadata alone.
 *
 * - The service sends this tab nothing the model said (GET /second-review and
 *   GET /second-review/{id}: no tier, priority, probabilities, band, urgency set, rules,
 *   reasons or earlier decisions), so there is nothing to hide here: the page cannot leak
 *   what it never received.
 * - The decision is the reviewer's own: viability chosen, then 1/2/3 records the urgency
 *   assessment (immediate/high/routine) as a POST /feedback with review "second_blind";
 *   the tier sent is that assessment (the blind reviewer never sees the model's tier).
 * - While this tab is open the queue's keys (c, o, n, ...) do nothing (app.js checks
 *   body[data-tab]); the first review is never delayed by a blind one.
 * - Strings go in as text nodes only, as in app.js; the token is the tab's session token.
 */
"use strict";

(() => {
  const KEY_TOKEN = "triage.token";
  const ASSESS = { 1: "immediate", 2: "high", 3: "routine" };
  const VIABILITIES = ["package", "lead", "unactionable"];
  const state = { items: [], selectedId: null, view: null, busy: false };
  const $ = (id) => document.getElementById(id);

  function h(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === false || v === null || v === undefined) continue;
      node.setAttribute(k, v === true ? "" : String(v));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  const when = (iso) => (iso ? new Date(iso).toLocaleString() : "–");

  async function call(path, options = {}) {
    const token = sessionStorage.getItem(KEY_TOKEN);
    const headers = { Accept: "application/json", Authorization: `Bearer ${token}` };
    if (options.body !== undefined) headers["Content-Type"] = "application/json";
    try {
      const r = await fetch(path, {
        method: options.method || "GET",
        headers,
        body: options.body === undefined ? undefined : JSON.stringify(options.body),
        cache: "no-store",
        credentials: "omit",
        redirect: "error",
      });
      let body = null;
      try { body = await r.json(); } catch (_e) { body = null; }
      return { status: r.status, body };
    } catch (_e) {
      return { status: 0, body: null };
    }
  }

  function failure(r) {
    if (r.status === 0) return "The service cannot be reached.";
    const error = r.body && typeof r.body.error === "string" ? r.body.error : `HTTP ${r.status}`;
    const details = r.body && Array.isArray(r.body.errors)
      ? r.body.errors.map((e) => `${e.path}: ${e.reason}`).join("; ") : "";
    return details ? `${error} (${details})` : error;
  }

  function showTab(tab) {
    const blind = tab === "blind";
    document.body.dataset.tab = tab;
    $("tab-queue").setAttribute("aria-selected", String(!blind));
    $("tab-blind").setAttribute("aria-selected", String(blind));
    $("queue-pane").hidden = blind;
    $("detail-pane").hidden = blind;
    $("blind-pane").hidden = !blind;
    if (blind) refresh();
  }

  async function refresh() {
    const r = await call("/second-review");
    if (r.status !== 200) {
      $("blind-empty").hidden = false;
      $("blind-empty").textContent = `The blind review queue could not be loaded: ${failure(r)}`;
      return;
    }
    state.items = r.body.items || [];
    const list = $("blind-list");
    list.replaceChildren(...state.items.map((item) => {
      const li = h("li", { "data-referral-id": item.referral_id, tabindex: "0" },
        h("code", {}, item.referral_id), ` · ${item.source} · ${item.incident_type || "–"} · received ${when(item.received_at)}`);
      li.addEventListener("click", () => open(item.referral_id));
      if (item.referral_id === state.selectedId) li.classList.add("selected");
      return li;
    }));
    $("blind-empty").textContent = "No referral awaits a blind second review.";
    $("blind-empty").hidden = state.items.length > 0;
  }

  async function open(id) {
    state.selectedId = id;
    for (const li of $("blind-list").children) li.classList.toggle("selected", li.dataset.referralId === id);
    const r = await call(`/second-review/${encodeURIComponent(id)}`);
    if (state.selectedId !== id) return;
    const detail = $("blind-detail");
    if (r.status !== 200) {
      detail.replaceChildren(h("p", { class: "error" }, `Referral ${id} could not be loaded: ${failure(r)}`));
      detail.hidden = false;
      return;
    }
    state.view = r.body;
    render(r.body);
  }

  function facts(ref) {
    const incident = ref.incident || {};
    const files = Array.isArray(ref.files) ? ref.files : [];
    const rows = [
      ["Received", when(ref.received_at)],
      ["Source", ref.source],
      ["Source's priority code", ref.source_priority ?? "not given"],
      ["Incident type", incident.type],
      ["Platform", incident.platform ?? "not reported"],
      ["Channel", incident.channel],
      ["Incident annotations", (incident.annotations || []).join(", ") || "none"],
      ["Reporter escalated", ref.escalation_reason ? "yes" : "no"],
      ["Files (never shown)", String(files.length)],
      ["Subjects · victims", `${(ref.subjects || []).length} · ${(ref.victims || []).length}`],
    ];
    return h("table", { class: "facts", id: "blind-facts" },
      h("tbody", {}, rows.map(([k, v]) => h("tr", {}, h("th", {}, k), h("td", {}, v)))));
  }

  function render(view) {
    const ref = view.referral || {};
    const done = view.blind_review_done || !view.second_review;
    const viability = h("select", { id: "blind-viability" }, h("option", { value: "" }, "choose…"),
      VIABILITIES.map((v) => h("option", { value: v }, v)));
    const buttons = Object.entries(ASSESS).map(([key, urgency]) => {
      const b = h("button", { type: "button", class: "assess", id: `blind-${urgency}`, disabled: done }, `${key} ${urgency}`);
      b.addEventListener("click", () => record(urgency));
      return b;
    });
    $("blind-detail").replaceChildren(
      h("h2", {}, "Blind review of ", h("code", { id: "blind-id" }, ref.referral_id)),
      done ? h("p", { class: "note" }, view.second_review ? "Its blind second review is recorded." : "This referral was not drawn for a blind second review.") : null,
      h("section", { class: "decide", id: "blind-decide" },
        h("div", { class: "row" }, h("label", {}, "Viability ", viability)),
        h("div", { class: "row" }, h("span", {}, "Is a child at risk now? Your assessment records the review:"), buttons),
        h("p", { id: "blind-error", class: "error", role: "alert", hidden: true }),
      ),
      h("h3", {}, "The referral (metadata only)"),
      facts(ref),
    );
    $("blind-detail").hidden = false;
  }

  function blindError(message) {
    const p = $("blind-error");
    if (!p) return;
    p.textContent = message || "";
    p.hidden = !message;
  }

  async function record(urgency) {
    const view = state.view;
    if (!view || state.busy || $(`blind-${urgency}`)?.disabled) return;
    const viability = $("blind-viability").value;
    if (!viability) {
      blindError("Choose the viability first, then your assessment.");
      $("blind-viability").focus();
      return;
    }
    state.busy = true;
    const id = view.referral.referral_id;
    const r = await call("/feedback", {
      method: "POST",
      body: {
        referral_id: id, score_id: view.score_id, model_version: view.model_version,
        decision: "confirm", tier: urgency, viability, urgency_assessed: urgency, review: "second_blind",
      },
    });
    state.busy = false;
    if (r.status !== 201 && r.status !== 200) {
      blindError(`The blind review was not recorded: ${failure(r)}`);
      return;
    }
    await refresh();
    const next = state.items[0];
    if (next) await open(next.referral_id);
    else { state.view = null; $("blind-detail").hidden = true; }
    $("blind-empty").hidden = false;
    $("blind-empty").textContent = `Recorded: blind review of ${id} (assessed ${urgency}, viability ${viability}).`;
  }

  function onKey(event) {
    if (document.body.dataset.tab !== "blind" || event.ctrlKey || event.metaKey || event.altKey) return;
    const tag = event.target?.tagName;
    if (tag === "INPUT" || tag === "TEXTAREA") return;
    if (ASSESS[event.key]) {
      event.preventDefault();
      record(ASSESS[event.key]);
    } else if (event.key === "r") {
      event.preventDefault();
      refresh();
    }
  }

  function init() {
    $("tab-queue").addEventListener("click", () => showTab("queue"));
    $("tab-blind").addEventListener("click", () => showTab("blind"));
    document.addEventListener("keydown", onKey);
    document.body.dataset.tab = "queue";
    // signed out (button, idle, revoked token): the next sign-in starts on the queue
    new MutationObserver(() => { if ($("work").hidden) showTab("queue"); })
      .observe($("work"), { attributes: true, attributeFilter: ["hidden"] });
  }

  init();
})();
