/*
 * Cases on the reviewer page (issue 14): the open cases above the queue, the case view
 * (members, what links them, the proposed route with its evidence) with one package
 * decision for the whole case, and the related referrals (the same case) on the
 * referral view. Separate from app.js, which it only reads through the DOM:
 * - the token is the one app.js keeps in sessionStorage for this tab;
 * - the referral view renders an empty #detail-related[data-case-id]; this file fills it;
 * - while the case view is shown, app.js's one-key shortcuts (c, o, n, j, k) are held
 *   back so that no key acts on a referral that is not on screen.
 * As in app.js, every string reaches the page as a text node or an attribute value.
 */
"use strict";

(() => {
  const KEY_TOKEN = "triage.token";
  const VIABILITIES = ["package", "lead", "unactionable"];
  const $ = (id) => document.getElementById(id);
  let shown = null; // the case on screen (the answer of GET /cases/{id})

  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) if (v !== null && v !== undefined) el.setAttribute(k, String(v));
    for (const c of children.flat()) {
      if (c === null || c === undefined || c === false) continue;
      el.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return el;
  }

  async function call(path, options = {}) {
    const token = sessionStorage.getItem(KEY_TOKEN);
    if (!token) return { status: 401, body: null };
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
    const details = r.body && Array.isArray(r.body.errors) ? r.body.errors.map((e) => `${e.path}: ${e.reason}`) : [];
    return [error, ...details].join("; ");
  }

  const fixed1 = (x) => (typeof x === "number" ? x.toFixed(1) : "–");
  const when = (iso) => (iso ? new Date(iso).toLocaleString() : "–");
  const kinds = (list) => (list || []).map((b) => `${b.kind} (${b.n_referrals})`).join(", ") || "–";

  // --- the list of open cases, above the queue -----------------------------------------

  async function refreshCases() {
    const r = await call("/cases?limit=20");
    const body = $("cases-body");
    if (r.status !== 200) { $("cases-status").textContent = failure(r); return; }
    body.replaceChildren(...r.body.items.map((c) => {
      const row = h("tr", { tabindex: "-1", "data-case-id": c.case_id },
        h("td", {}, c.tier || "–"),
        h("td", { class: "num" }, fixed1(c.priority_now)),
        h("td", {}, `${c.referral_ids.length} (${c.awaiting} awaiting)`),
        h("td", {}, c.reasons[0] || ""),
        h("td", {}, c.route.destination));
      row.addEventListener("click", () => openCase(c.case_id));
      return row;
    }));
    $("cases-status").textContent = `${r.body.total} open case(s)`;
  }

  // --- the case view ------------------------------------------------------------------

  async function openCase(id) {
    const r = await call(`/cases/${encodeURIComponent(id)}`);
    if (r.status !== 200) { $("cases-status").textContent = `Case ${id}: ${failure(r)}`; return; }
    shown = r.body;
    renderCase(r.body);
  }

  function renderCase(c) {
    const view = $("case-detail");
    view.replaceChildren(
      h("div", { class: "detail-head" },
        h("h2", {}, "Case ", h("code", { id: "case-id" }, c.case_id)),
        h("span", {}, "priority now ", h("strong", {}, fixed1(c.priority_now))),
        h("button", { type: "button", id: "case-close" }, "Back to the referral")),
      h("ul", { id: "case-reasons" }, c.reasons.map((x) => h("li", {}, x))),
      h("p", {}, "Opened ", when(c.opened_at), " · linked by ", h("span", { id: "case-linked-by" }, kinds(c.linked_by))),
      h("h3", {}, "Proposed route (a proposal: confirm or change it)"),
      h("p", { id: "case-route" }, h("strong", {}, c.route.destination), ` · ${c.route.level} · confidence ${c.route.confidence.toFixed(2)}`),
      h("ul", { id: "case-evidence" }, (c.route.evidence || []).map((x) => h("li", {}, x))),
      h("h3", {}, "Members"),
      h("table", { id: "case-members" }, h("tbody", {},
        h("tr", {}, ["Referral", "Received", "Platform", "Tier", "Priority now", "State", "Own route"].map((t) => h("th", {}, t))),
        c.members.map((m) => h("tr", { "data-referral-id": m.referral_id },
          h("td", {}, h("code", {}, m.referral_id)), h("td", {}, when(m.received_at)), h("td", {}, m.platform),
          h("td", {}, m.tier), h("td", { class: "num" }, fixed1(m.priority_now)),
          h("td", { class: "state" }, m.awaiting ? "awaiting" : "decided"),
          h("td", {}, m.route ? m.route.destination : "–"))))),
      packageForm(c),
    );
    $("case-close").addEventListener("click", closeCase);
    $("detail").hidden = true;
    $("detail-empty").hidden = true;
    view.hidden = false;
  }

  function packageForm(c) {
    const form = h("form", { id: "package-form", class: "card" },
      h("h3", {}, `Package decision for all ${c.referral_ids.length} members`),
      h("label", {}, "Viability ",
        h("select", { id: "package-viability" }, VIABILITIES.map((v) => h("option", { value: v }, v)))),
      h("label", {}, h("input", { type: "radio", name: "package-route", value: "confirm", checked: "" }), " confirm the route"),
      h("label", {}, h("input", { type: "radio", name: "package-route", value: "change" }), " change it to ",
        h("input", { id: "package-destination", maxlength: "128", spellcheck: "false" })),
      h("label", {}, "Reason (required to change the route) ",
        h("textarea", { id: "package-reason", maxlength: "1500", rows: "2" })),
      h("button", { type: "submit", class: "primary", id: "package-submit" }, "Record the package decision"),
      h("p", { id: "package-result", role: "status" }));
    form.addEventListener("submit", (e) => { e.preventDefault(); sendPackage(); });
    return form;
  }

  async function sendPackage() {
    if (!shown) return;
    const change = document.querySelector('input[name="package-route"]:checked')?.value === "change";
    const body = {
      referral_ids: shown.referral_ids,
      viability: $("package-viability").value,
      route: change ? "change" : "confirm",
    };
    if (change) body.destination = $("package-destination").value.trim();
    const reason = $("package-reason").value.trim();
    if (reason) body.reason = reason;
    $("package-submit").disabled = true;
    const r = await call(`/cases/${encodeURIComponent(shown.case_id)}/decision`, { method: "POST", body });
    $("package-submit").disabled = false;
    if (r.status === 201 || r.status === 200) {
      const n = r.body.decisions.length;
      const again = r.body.created ? "" : " (already recorded)";
      await openCase(shown.case_id);
      $("package-result").textContent = `Recorded: ${n} decisions, route ${r.body.route}${again}.`;
      refreshCases();
    } else {
      $("package-result").textContent = failure(r);
    }
  }

  function closeCase() {
    shown = null;
    $("case-detail").hidden = true;
    if ($("detail").childElementCount) $("detail").hidden = false;
    else $("detail-empty").hidden = false;
  }

  // --- the related referrals on the referral view --------------------------------------

  async function fillRelated(slot) {
    slot.dataset.filled = "1";
    const id = slot.dataset.caseId;
    const self = $("detail-id")?.textContent;
    const r = await call(`/cases/${encodeURIComponent(id)}`);
    if (r.status !== 200) { slot.replaceChildren(h("p", { class: "muted" }, failure(r))); return; }
    const others = r.body.members.filter((m) => m.referral_id !== self);
    const open = h("button", { type: "button", class: "case-open" }, `Open the case (${r.body.referral_ids.length} referrals)`);
    open.addEventListener("click", () => openCase(r.body.case_id));
    slot.replaceChildren(
      others.length
        ? h("table", {}, h("tbody", {},
          h("tr", {}, ["Referral", "Received", "Platform", "State"].map((t) => h("th", {}, t))),
          others.map((m) => h("tr", {}, h("td", {}, h("code", {}, m.referral_id)), h("td", {}, when(m.received_at)),
            h("td", {}, m.platform), h("td", {}, m.awaiting ? "awaiting" : "decided")))))
        : h("p", { class: "muted" }, "None: no other referral shares its identifiers."),
      h("p", { class: "muted" }, "Linked by: ", kinds(r.body.linked_by), " · ", r.body.reasons.join(" · ")),
      others.length ? open : null);
  }

  function watchDetail() {
    new MutationObserver(() => {
      const slot = document.querySelector("#detail-related[data-case-id]:not([data-filled])");
      if (slot) fillRelated(slot);
      if (!$("detail").hidden && !$("case-detail").hidden) closeCase();
    }).observe($("detail"), { childList: true, attributes: true, attributeFilter: ["hidden"] });
  }

  function init() {
    const pane = $("queue-pane");
    const list = h("div", { id: "cases-pane" },
      h("div", { class: "toolbar" }, h("strong", {}, "Open cases"),
        h("button", { type: "button", id: "cases-refresh" }, "Refresh cases"),
        h("span", { id: "cases-status", class: "muted", "aria-live": "polite" })),
      h("table", { id: "cases" }, h("thead", {}, h("tr", {},
        ["Tier", "Priority now", "Referrals", "Why grouped", "Route"].map((t) => h("th", {}, t)))),
      h("tbody", { id: "cases-body" })));
    pane.insertBefore(list, pane.firstChild);
    $("detail-pane").appendChild(h("article", { id: "case-detail", hidden: "" }));
    $("cases-refresh").addEventListener("click", refreshCases);
    // app.js's one-key shortcuts act on the referral: not while a case is on screen
    window.addEventListener("keydown", (e) => {
      if (!$("case-detail").hidden && "conjk".includes(e.key) && e.key.length === 1) e.stopImmediatePropagation();
    }, true);
    watchDetail();
    new MutationObserver(() => { if (!$("work").hidden) refreshCases(); })
      .observe($("work"), { attributes: true, attributeFilter: ["hidden"] });
    if (!$("work").hidden) refreshCases();
  }

  init();
})();
