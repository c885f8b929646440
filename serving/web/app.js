/*
 * The reviewer page: sign in, work the queue, confirm or override.
 *
 * Why it is built this way:
 * - Every string from a referral or the service reaches the page as a text node
 *   (textContent, createTextNode) or an attribute value; nothing is ever parsed as HTML.
 *   The CSP (script-src 'self', no inline code) is the second line of defence.
 * - The token lives in sessionStorage (this tab only, gone when it closes) and travels in
 *   the Authorization header of fetch() calls to this origin; never in a URL, never in a
 *   cookie, so no other site can make the browser send it.
 * - Metadata only: the page draws its chart as inline SVG and never loads an image.
 * - A session ends after IDLE_MS without a key press or pointer use (auto-refresh does not
 *   count): the token is dropped from the tab, as on sign-out.
 * - A decision names the score on screen (score_id): if a newer score replaced it, the
 *   service answers 409 and the page shows the new one to be reviewed again.
 */
"use strict";

(() => {
  const KEY_TOKEN = "triage.token";
  const KEY_REVIEWER = "triage.reviewer";
  const REFRESH_MS = 30000;
  const IDLE_MS = 15 * 60 * 1000;
  const DRIFT_MS = 300000;
  const PAGE_SIZE = 200;
  const SHORT_MS = 3 * 86400 * 1000;
  const REASON_MAX = 2000;
  const TIERS = ["immediate", "high", "routine"];
  const VIABILITIES = ["package", "lead", "unactionable"];
  // the reviewer's own urgency assessment (contract §5 v1.1): keys 1/2/3 confirm with it
  const ASSESS_KEYS = { 1: "immediate", 2: "high", 3: "routine" };
  const HEADS = [
    ["urgency", "Urgency"],
    ["viability", "Viability"],
    ["rules", "Safety rules"],
  ];
  const SVG_NS = "http://www.w3.org/2000/svg";

  const state = {
    token: null,
    reviewer: null,
    items: [],
    selectedId: null,
    record: null,
    busy: false,
    timers: [],
    lastActive: Date.now(),
  };

  const $ = (id) => document.getElementById(id);

  // --- building DOM without HTML parsing --------------------------------------------

  function append(node, children) {
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  /** An element; ``attrs`` become attributes (values, never markup), children text nodes. */
  function h(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      node.setAttribute(k, v === true ? "" : String(v));
    }
    return append(node, children);
  }

  function s(tag, attrs, ...children) {
    const node = document.createElementNS(SVG_NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
    return append(node, children);
  }

  // --- formatting -------------------------------------------------------------------

  const dateFormat = new Intl.DateTimeFormat(undefined, {
    year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", hour12: false, timeZoneName: "short",
  });

  function when(iso) {
    if (!iso) return "–";
    const d = new Date(iso);
    return Number.isNaN(d.getTime()) ? String(iso) : dateFormat.format(d);
  }

  /** ``YYYY-MM-DD HH:MM`` in the browser's zone (named in the queue's header). */
  function short(iso) {
    const d = new Date(iso);
    if (!iso || Number.isNaN(d.getTime())) return "–";
    return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())} ${two(d.getHours())}:${two(d.getMinutes())}`;
  }

  const pct = (v) => (typeof v === "number" ? `${(100 * v).toFixed(1)}%` : "–");
  const two = (n) => String(n).padStart(2, "0");

  function duration(ms) {
    const total = Math.floor(Math.abs(ms) / 1000);
    const d = Math.floor(total / 86400);
    const rest = total % 86400;
    return `${d}d ${two(Math.floor(rest / 3600))}:${two(Math.floor((rest % 3600) / 60))}:${two(rest % 60)}`;
  }

  /** Text and class for the time left before ``deadline`` (ISO string or null). */
  function timeLeft(deadline, now) {
    if (!deadline) return { text: "no deadline known", cls: "left muted" };
    const ms = new Date(deadline).getTime() - now;
    if (ms < 0) return { text: `expired ${duration(ms)} ago`, cls: "left expired" };
    return { text: duration(ms), cls: ms < SHORT_MS ? "left short" : "left" };
  }

  const tierBadge = (tier) => h("span", { class: `tier tier-${TIERS.includes(tier) ? tier : "routine"}` }, tier);
  const fixed1 = (x) => (typeof x === "number" ? x.toFixed(1) : "–");

  /** The doubt flag: a high or routine referral whose conformal urgency set holds
   *  "immediate" (the model cannot rule it out at 95 %). Not shown on immediate ones:
   *  their tier already says it. */
  function doubtFlag(score) {
    if (score.cannot_rule_out_immediate !== true || score.tier === "immediate") return null;
    return h("span", {
      class: "tag doubt",
      title: `Urgency set (95 %): ${(score.urgency_set || []).join(", ")}. The model cannot rule out that a child is at risk now.`,
    }, "cannot rule out immediate");
  }
  const topOf = (probs) => Object.entries(probs || {}).sort((a, b) => b[1] - a[1])[0]?.[0];

  function placedBy(score) {
    const tags = (score.safety_rules || []).map((r) => h("span", { class: "tag rule", title: "a safety rule raised the tier" }, `rule: ${r}`));
    if (!tags.length) tags.push(h("span", { class: "tag model" }, "model"));
    if (score.degraded) tags.push(h("span", { class: "tag degraded", title: "no model answered: safety rules alone" }, "degraded"));
    return tags;
  }

  // --- talking to the service -------------------------------------------------------

  /** fetch() with the token; ``{status, body}``. A 401 ends the session. */
  async function call(path, options = {}, token = state.token) {
    // Signed out meanwhile (an idle sign-out while a refresh awaited its first answer):
    // send nothing, and do not replace the sign-out's message with a 401's.
    if (!token) return { status: 401, body: null };
    const headers = { Accept: "application/json", Authorization: `Bearer ${token}` };
    if (options.body !== undefined) headers["Content-Type"] = "application/json";
    let response;
    try {
      response = await fetch(path, {
        method: options.method || "GET",
        headers,
        body: options.body === undefined ? undefined : JSON.stringify(options.body),
        cache: "no-store",
        credentials: "omit",
        redirect: "error",
      });
    } catch (_e) {
      return { status: 0, body: null };
    }
    let body = null;
    try {
      body = await response.json();
    } catch (_e) {
      body = null;
    }
    if (response.status === 401 && options.endOn401 !== false) {
      signOut("The service no longer accepts this token (revoked or expired): sign in again.");
    }
    return { status: response.status, body };
  }

  function describeFailure(status, body) {
    if (status === 0) return "The service cannot be reached.";
    const error = body && typeof body.error === "string" ? body.error : `HTTP ${status}`;
    const details = body && Array.isArray(body.errors)
      ? body.errors.map((e) => `${e.path}: ${e.reason}`).join("; ")
      : "";
    return details ? `${error} (${details})` : error;
  }

  function showError(message) {
    const banner = $("error-banner");
    banner.textContent = message || "";
    banner.hidden = !message;
  }

  // --- sign-in ------------------------------------------------------------------------

  async function onSignIn(event) {
    event.preventDefault();
    const name = $("reviewer-name").value.trim();
    const token = $("token").value.trim();
    const error = $("signin-error");
    error.hidden = true;
    if (!name || !token) {
      error.textContent = "Enter your name and your reviewer token.";
      error.hidden = false;
      return;
    }
    $("signin-button").disabled = true;
    const r = await call("/queue?limit=1", { endOn401: false }, token);
    $("signin-button").disabled = false;
    $("token").value = "";
    if (r.status !== 200) {
      error.textContent = r.status === 401
        ? "The service refused this token (unknown, revoked or mistyped)."
        : r.status === 403
          ? "This token's role may not review referrals: ask an admin for a reviewer token."
          : `Sign-in failed: ${describeFailure(r.status, r.body)}`;
      error.hidden = false;
      return;
    }
    sessionStorage.setItem(KEY_TOKEN, token);
    sessionStorage.setItem(KEY_REVIEWER, name);
    startWork(token, name);
  }

  function startWork(token, name) {
    state.token = token;
    state.reviewer = name;
    $("signin").hidden = true;
    $("work").hidden = false;
    $("sign-out").hidden = false;
    $("who").hidden = false;
    $("who").textContent = `Signed in as ${name}`;
    $("zone").textContent = Intl.DateTimeFormat().resolvedOptions().timeZone || "local time";
    refreshQueue();
    checkStatus();
    state.timers.push(setInterval(() => { if (!state.busy) refreshQueue(); }, REFRESH_MS));
    state.timers.push(setInterval(checkStatus, DRIFT_MS));
    state.timers.push(setInterval(tick, 1000));
    state.lastActive = Date.now();
    state.timers.push(setInterval(checkIdle, 5000));
  }

  function checkIdle() {
    if (state.token && Date.now() - state.lastActive > IDLE_MS) {
      signOut(`Signed out after ${IDLE_MS / 60000} minutes without activity: sign in again.`);
    }
  }

  function signOut(message) {
    sessionStorage.removeItem(KEY_TOKEN);
    sessionStorage.removeItem(KEY_REVIEWER);
    state.timers.forEach(clearInterval);
    Object.assign(state, { token: null, reviewer: null, items: [], selectedId: null, record: null, busy: false, timers: [] });
    $("queue-body").replaceChildren();
    $("detail").replaceChildren();
    $("detail").hidden = true;
    $("detail-empty").hidden = false;
    for (const id of ["work", "sign-out", "who", "model-version", "drift-banner", "degraded-banner"]) $(id).hidden = true;
    showError("");
    $("signin").hidden = false;
    const error = $("signin-error");
    error.textContent = message || "";
    error.hidden = !message;
  }

  // --- service status: degraded mode and drift --------------------------------------

  async function checkStatus() {
    const ready = await call("/readyz");
    const degraded = $("degraded-banner");
    if (ready.status === 200 && ready.body && ready.body.degraded) {
      const why = ready.body.degraded_reason ? ` (${ready.body.degraded_reason})` : "";
      degraded.textContent = `Degraded: no model is answering${why}. The safety rules alone score new referrals; their probabilities are base rates.`;
      degraded.hidden = false;
    } else {
      degraded.hidden = true;
    }
    const drift = await call("/drift");
    const banner = $("drift-banner");
    if (drift.status === 200 && drift.body && drift.body.drift_detected) {
      const flagged = Object.entries(drift.body.flagged || {})
        .map(([signal, names]) => `${signal} (${[].concat(names).join(", ")})`)
        .join("; ");
      const at = drift.body.generated_at ? ` Report of ${when(drift.body.generated_at)}.` : "";
      banner.textContent = `Drift detected in the referral stream: ${flagged || "see the report"}. Scores may be less reliable until the model is reviewed.${at}`;
      banner.hidden = false;
    } else {
      banner.hidden = true; // 404: no report yet; anything else: nothing to say here
    }
  }

  // --- the queue ----------------------------------------------------------------------

  function queuePath() {
    const params = new URLSearchParams({ limit: String(PAGE_SIZE) });
    const tier = $("filter-tier").value;
    const source = $("filter-source").value;
    if (tier) params.set("tier", tier);
    if (source) params.set("source", source);
    return `/queue?${params}`;
  }

  async function refreshQueue() {
    const r = await call(queuePath());
    if (!state.token) return;
    if (r.status !== 200) {
      showError(`The queue could not be loaded: ${describeFailure(r.status, r.body)}`);
      return;
    }
    showError("");
    state.items = Array.isArray(r.body.items) ? r.body.items : [];
    $("model-version").hidden = false;
    $("model-version").textContent = `Model ${r.body.model_version}`;
    const more = state.items.length === PAGE_SIZE ? ` (the first ${PAGE_SIZE})` : "";
    $("queue-status").textContent = `${state.items.length} awaiting${more} · refreshed ${new Date().toLocaleTimeString()}`;
    renderQueue();
  }

  function renderQueue() {
    const scroller = $("queue-scroll");
    const top = scroller.scrollTop;
    $("queue-body").replaceChildren(...state.items.map(queueRow));
    scroller.scrollTop = top;
    $("queue-empty").hidden = state.items.length > 0;
    markSelected(false);
    tick();
  }

  function queueRow(item) {
    const score = item.score || {};
    const left = h("td", {});
    left.dataset.deadline = score.retention_deadline || "";
    const row = h("tr", { tabindex: "-1" },
      h("td", {}, tierBadge(score.tier), " ", doubtFlag(score)),
      h("td", { class: "num now", title: `at scoring: ${fixed1(item.priority)}` }, fixed1(item.priority_now)),
      h("td", { class: "aged" }, item.aged_because || "–"),
      h("td", { class: "nowrap" }, short(item.received_at)),
      left,
      h("td", {}, item.source),
      h("td", {}, item.incident_type || "–"),
      h("td", {}, placedBy(score)),
    );
    row.dataset.referralId = item.referral_id;
    row.addEventListener("click", () => openReferral(item.referral_id));
    return row;
  }

  function markSelected(scroll) {
    for (const row of $("queue-body").children) {
      const selected = row.dataset.referralId === state.selectedId;
      row.classList.toggle("selected", selected);
      if (selected) row.setAttribute("aria-selected", "true");
      else row.removeAttribute("aria-selected");
      if (selected && scroll) row.scrollIntoView({ block: "nearest" });
    }
  }

  /** Countdowns, every second: in the queue and on the open referral. */
  function tick() {
    const now = Date.now();
    for (const cell of document.querySelectorAll("[data-deadline]")) {
      const t = timeLeft(cell.dataset.deadline || null, now);
      if (cell.textContent !== t.text) cell.textContent = t.text;
      cell.className = t.cls;
    }
  }

  function indexOfSelected() {
    return state.items.findIndex((i) => i.referral_id === state.selectedId);
  }

  function step(delta) {
    if (!state.items.length) return;
    const at = indexOfSelected();
    const next = at < 0 ? 0 : Math.min(Math.max(at + delta, 0), state.items.length - 1);
    openReferral(state.items[next].referral_id);
  }

  // --- one referral -------------------------------------------------------------------

  async function openReferral(id) {
    state.selectedId = id;
    markSelected(true);
    const r = await call(`/referrals/${encodeURIComponent(id)}`);
    if (state.selectedId !== id) return; // the reviewer moved on meanwhile
    if (r.status !== 200) {
      showError(`Referral ${id} could not be loaded: ${describeFailure(r.status, r.body)}`);
      return;
    }
    showError("");
    state.record = r.body;
    renderDetail(r.body);
  }

  function renderDetail(record) {
    const ref = record.referral || {};
    const scores = record.scores || [];
    const latest = scores[scores.length - 1] || {};
    const score = latest.score || {};
    const inQueue = state.items.some((i) => i.referral_id === ref.referral_id);
    const detail = $("detail");
    detail.replaceChildren();
    append(detail, [
      h("div", { class: "detail-head" },
        h("h2", {}, "Referral ", h("code", { id: "detail-id" }, ref.referral_id)),
        tierBadge(score.tier),
        doubtFlag(score),
        h("span", {}, "priority ", h("strong", { id: "detail-priority" }, fixed1(score.priority)), " / 100 at scoring"),
        placedBy(score),
      ),
      aged(ref.referral_id),
      score.degraded
        ? h("p", { class: "bad-note" }, "Scored by the safety rules alone (no model was available): the probabilities are base rates, not an estimate for this referral.")
        : null,
      inQueue ? null : h("p", { class: "note" }, "This referral is no longer in the queue: its latest score has a decision."),
      decisionForm(ref, score, inQueue),
      h("h3", {}, "The referral (metadata only)"),
      facts(ref, score),
      h("h3", {}, "Estimates (calibrated probabilities)"),
      estimates(score),
      h("h3", {}, "Safety rules"),
      (score.safety_rules || []).length
        ? h("ul", { id: "detail-rules" }, score.safety_rules.map((name) => h("li", {}, h("strong", {}, name), " raised the tier")))
        : h("p", { class: "muted" }, "No safety rule raised the tier: the model placed it."),
      h("h3", {}, "Why it was ranked here"),
      reasons(score.reasons || []),
      chart(score.reasons || []),
      h("h3", {}, "Related referrals (its case)"),
      related(record, score),
      h("h3", {}, "Decisions so far"),
      decisions(record.decisions || []),
      h("p", { class: "muted" },
        `Model version ${score.model_version}, scored ${when(score.scored_at)}; first recorded ${when(record.first_recorded_at)}; ${scores.length} score(s) on record.`),
    ]);
    $("detail-empty").hidden = true;
    detail.hidden = false;
    tick();
  }

  function facts(ref, score) {
    const incident = ref.incident || {};
    const files = Array.isArray(ref.files) ? ref.files : [];
    const count = (key) => Object.entries(files.reduce((acc, f) => ({ ...acc, [f[key]]: (acc[f[key]] || 0) + 1 }), {}))
      .map(([k, n]) => `${n} ${k}`).join(", ");
    const left = h("td", {});
    left.dataset.deadline = score.retention_deadline || "";
    const rows = [
      ["Received", when(ref.received_at)],
      ["Source", ref.source],
      ["Source's priority code", ref.source_priority ?? "not given"],
      ["Incident type", incident.type],
      ["Platform", incident.platform ?? "not reported"],
      ["Channel", incident.channel],
      ["Incident annotations", (incident.annotations || []).join(", ") || "none"],
      ["Reporter escalated", ref.escalation_reason ? "yes" : "no"],
      ["Files (never shown)", files.length ? `${files.length}: ${count("kind")}; hash match ${count("hash_match")}` : "none"],
      ["Subjects · victims", `${(ref.subjects || []).length} · ${(ref.victims || []).length}`],
      ["Preservation deadline", score.retention_deadline ? when(score.retention_deadline) : "none known for this source"],
    ];
    const body = rows.map(([k, v]) => h("tr", {}, h("th", {}, k), h("td", {}, v)));
    body.push(h("tr", {}, h("th", {}, "Time left to preserve"), left));
    return h("table", { class: "facts", id: "detail-facts" }, h("tbody", {}, body));
  }

  function probabilityCells(probs, order) {
    return order.map((k) => {
      const bar = h("span", {});
      bar.style.width = `${Math.round(100 * (probs?.[k] || 0))}%`;
      return h("td", {}, `${k} `, h("strong", {}, pct(probs?.[k])), h("span", { class: "bar" }, bar));
    });
  }

  function estimates(score) {
    const set = Array.isArray(score.urgency_set) ? score.urgency_set : null;
    return [
      h("table", { class: "probs", id: "detail-probs" }, h("tbody", {},
        h("tr", {}, h("th", {}, "Urgency"), probabilityCells(score.urgency, TIERS)),
        h("tr", {}, h("th", {}, "Viability"), probabilityCells(score.viability, VIABILITIES)),
      )),
      h("p", { id: "detail-urgency-set" },
        "Urgency classes the model cannot rule out (95 % for each class): ",
        h("strong", {}, set === null ? "not given" : set.length ? set.join(", ") : "none"),
        score.cannot_rule_out_immediate === true && score.tier !== "immediate"
          ? ". “Immediate” is among them although the tier is lower: look for signs of risk now."
          : "."),
    ];
  }

  /** Where the referral stands in the queue now, and why it moved since scoring. */
  function aged(id) {
    const item = state.items.find((i) => i.referral_id === id);
    if (!item) return null;
    return h("p", { id: "detail-aged" },
      "Priority now ", h("strong", {}, fixed1(item.priority_now)),
      item.aged_because ? ` (${item.aged_because})` : " (not moved since scoring)");
  }

  function reasons(list) {
    if (!list.length) return h("p", { class: "muted" }, "No reasons were recorded with this score.");
    const out = h("div", { id: "detail-reasons" });
    for (const [head, title] of HEADS) {
      const items = list.filter((r) => r.head === head);
      if (!items.length) continue;
      out.appendChild(h("p", {}, h("strong", {}, title)));
      out.appendChild(h("ol", { class: "reasons" }, items.map((r) =>
        h("li", {}, r.text, " ", h("span", { class: "contrib" }, `(${r.contribution >= 0 ? "+" : ""}${Number(r.contribution).toFixed(2)})`)))));
    }
    const other = list.filter((r) => !HEADS.some(([head]) => head === r.head));
    if (other.length) out.appendChild(h("ol", { class: "reasons" }, other.map((r) => h("li", {}, r.text))));
    return out;
  }

  /** A horizontal bar chart of contributions (log-odds) per head, as inline SVG. */
  function chart(list) {
    const groups = HEADS.slice(0, 2)
      .map(([head, title]) => [head, title, list.filter((r) => r.head === head && Number(r.contribution) !== 0)])
      .filter(([, , rs]) => rs.length);
    if (!groups.length) return null;
    const width = 560, labelW = 270, barW = 280, rowH = 20, titleH = 24, pad = 8;
    const max = Math.max(...groups.flatMap(([, , rs]) => rs.map((r) => Math.abs(r.contribution))));
    const zero = labelW + barW / 2;
    const height = pad * 2 + groups.reduce((n, [, , rs]) => n + titleH + rs.length * rowH, 0) + 18;
    const svg = s("svg", { class: "chart", id: "detail-chart", viewBox: `0 0 ${width} ${height}`, width, height, role: "img", "aria-label": "Contribution of each top reason" });
    let y = pad;
    for (const [, title, rs] of groups) {
      const target = /'([^']*)'\s*$/.exec(rs[0].text || "");
      svg.appendChild(s("text", { x: 4, y: y + 15, class: "title" }, `${title} estimate${target ? ` for '${target[1]}'` : ""}`));
      y += titleH;
      svg.appendChild(s("line", { x1: zero, x2: zero, y1: y - 4, y2: y + rs.length * rowH }));
      for (const r of rs) {
        const c = Number(r.contribution);
        const len = Math.max(1, (Math.abs(c) / max) * (barW / 2 - 30));
        const label = String(r.text || r.feature).replace(/: (raises|lowers) the .*$/, "");
        svg.appendChild(s("text", { x: 4, y: y + 13 }, s("title", {}, r.text), label.length > 44 ? `${label.slice(0, 43)}…` : label));
        svg.appendChild(s("rect", { class: c > 0 ? "up" : "down", x: c > 0 ? zero : zero - len, y: y + 4, width: len, height: rowH - 8 }));
        svg.appendChild(s("text", { x: c > 0 ? zero + len + 4 : zero - len - 4, y: y + 14, "text-anchor": c > 0 ? "start" : "end" }, `${c > 0 ? "+" : ""}${c.toFixed(2)}`));
        y += rowH;
      }
    }
    svg.appendChild(s("text", { x: 4, y: height - 6, class: "muted" }, "contribution (log-odds): red raises the estimate, blue lowers it"));
    return svg;
  }

  function related(record, score) {
    // cases.js fills this from GET /cases/{id}: the referrals that share identifiers
    if (score.case_id) return h("div", { id: "detail-related", "data-case-id": score.case_id }, h("p", { class: "muted" }, "Loading its case…"));
    const list = record.related;
    if (!Array.isArray(list)) return h("p", { class: "muted" }, "Not available: the service's answer does not include related referrals.");
    if (!list.length) return h("p", { class: "muted" }, "None found.");
    return h("table", {}, h("tbody", {},
      h("tr", {}, h("th", {}, "Referral"), h("th", {}, "Received"), h("th", {}, "Shares"), h("th", {}, "Outcome")),
      list.map((x) => h("tr", {}, h("td", {}, h("code", {}, x.referral_id)), h("td", {}, when(x.received_at)),
        h("td", {}, [].concat(x.shared || []).join(", ")), h("td", {}, x.outcome || "not decided then")))));
  }

  function decisions(list) {
    if (!list.length) return h("p", { class: "muted", id: "detail-decisions" }, "None yet.");
    return h("table", { id: "detail-decisions" }, h("tbody", {},
      h("tr", {}, ["When", "Reviewer", "Token", "Decision", "Tier", "Viability", "Assessed", "Reason", "Model"].map((t) => h("th", {}, t))),
      list.map((d) => h("tr", {}, [when(d.decided_at), d.reviewer, d.recorded_by || "–", d.review === "second_blind" ? "blind review" : d.decision, d.tier, d.viability, d.urgency_assessed || "–", d.reason || "–", d.model_version].map((v) => h("td", {}, v))))));
  }

  // --- deciding -----------------------------------------------------------------------

  function options(values, selected) {
    return values.map((v) => h("option", { value: v, selected: v === selected }, v));
  }

  function decisionForm(ref, score, inQueue) {
    const topViability = topOf(score.viability);
    const reason = h("textarea", { id: "override-reason", rows: "3", placeholder: "Why the model's answer is wrong (required)" });
    const counter = h("span", { class: "counter muted" }, `0 / ${REASON_MAX}`);
    reason.addEventListener("input", () => { counter.textContent = `${reason.value.length} / ${REASON_MAX}`; });
    const override = h("form", { id: "override-form", method: "post", novalidate: true, hidden: true },
      h("div", { class: "row" },
        h("label", {}, "Tier ", h("select", { id: "override-tier" }, options(TIERS, score.tier))),
        h("label", {}, "Viability ", h("select", { id: "override-viability" }, options(VIABILITIES, topViability))),
        h("label", {}, "Your assessment ", h("select", { id: "override-assessed" },
          h("option", { value: "" }, "choose…"), options(TIERS, null))),
      ),
      h("label", { for: "override-reason" }, "Reason"),
      reason,
      h("div", { class: "row" },
        h("button", { type: "submit", class: "warn", id: "override-submit" }, "Record override"),
        h("button", { type: "button", id: "override-cancel" }, "Cancel (Esc)"),
        counter,
      ),
    );
    override.addEventListener("submit", (e) => { e.preventDefault(); submitOverride(); });
    override.querySelector("#override-cancel").addEventListener("click", closeOverride);
    const confirmButton = h("button", { type: "button", class: "primary", id: "confirm", disabled: !inQueue }, "Confirm (c)");
    const overrideButton = h("button", { type: "button", id: "override", disabled: !inQueue }, "Override… (o)");
    confirmButton.addEventListener("click", confirm);
    overrideButton.addEventListener("click", openOverride);
    const assess = Object.entries(ASSESS_KEYS).map(([key, urgency]) => {
      const b = h("button", { type: "button", class: "assess", id: `assess-${urgency}`, disabled: !inQueue,
        title: `Confirm the tier and viability, assessing: ${urgency} (${key})` }, `${key} ${urgency}`);
      b.addEventListener("click", () => confirmWith(urgency));
      return b;
    });
    return h("section", { class: "decide", id: "decide" },
      h("div", { class: "row" },
        confirmButton,
        h("span", { class: "outcome" }, `tier ${score.tier}, viability ${topViability}`),
        overrideButton,
      ),
      h("div", { class: "row", id: "assess-row" },
        h("span", {}, "Your own assessment, is a child at risk now? (the tier is a workload band, not this):"),
        assess,
      ),
      override,
      h("p", { id: "decision-error", class: "error", role: "alert", hidden: true }),
      h("p", { id: "decision-status", class: "muted", role: "status" }),
    );
  }

  function decisionError(message) {
    const p = $("decision-error");
    if (!p) return;
    p.textContent = message || "";
    p.hidden = !message;
  }

  function openOverride() {
    const form = $("override-form");
    if (!form || $("override").disabled) return;
    form.hidden = false;
    $("override-tier").focus();
  }

  function closeOverride() {
    const form = $("override-form");
    if (form) form.hidden = true;
    decisionError("");
  }

  function currentScore() {
    const scores = state.record?.scores || [];
    return scores.length ? scores[scores.length - 1].score : null;
  }

  /** ``c``: a confirmation needs the reviewer's own assessment, never a default. */
  function confirm() {
    if (!currentScore() || $("confirm")?.disabled) return;
    decisionError("To confirm, give your own assessment: press 1 (immediate), 2 (high) or 3 (routine).");
    $("assess-row")?.classList.add("asking");
  }

  function confirmWith(urgency) {
    const score = currentScore();
    if (!score || $("confirm")?.disabled) return;
    send({ decision: "confirm", tier: score.tier, viability: topOf(score.viability), urgency_assessed: urgency });
  }

  function submitOverride() {
    const score = currentScore();
    if (!score) return;
    const tier = $("override-tier").value;
    const viability = $("override-viability").value;
    const reason = $("override-reason").value;
    const assessed = $("override-assessed").value;
    if (!reason.trim()) {
      decisionError("An override needs a reason: say why the model's answer is wrong.");
      $("override-reason").focus();
      return;
    }
    if (tier === score.tier && viability === topOf(score.viability)) {
      decisionError("An override changes the tier or the viability; to agree with the model, confirm.");
      return;
    }
    if (!assessed) {
      decisionError("Give your own assessment (is a child at risk now?) with the override.");
      $("override-assessed").focus();
      return;
    }
    send({ decision: "override", tier, viability, reason, urgency_assessed: assessed });
  }

  async function send(choice) {
    if (state.busy || !state.record) return;
    const score = currentScore();
    const id = state.record.referral.referral_id;
    const at = state.items.findIndex((i) => i.referral_id === id);
    const after = at >= 0 ? state.items.slice(at + 1).concat(state.items.slice(0, at).reverse()) : state.items;
    state.busy = true;
    decisionError("");
    for (const b of document.querySelectorAll("#decide button")) b.disabled = true;
    const shown = state.record.scores[state.record.scores.length - 1].id;
    const r = await call("/feedback", {
      method: "POST",
      body: { referral_id: id, score_id: shown, model_version: score.model_version, ...choice },
    });
    state.busy = false;
    if (!state.token) return;
    if (r.status === 409) {
      await openReferral(id);
      decisionError("A newer score replaced the one you saw (shown now): review it and decide again.");
      return;
    }
    if (r.status !== 201 && r.status !== 200) {
      for (const b of document.querySelectorAll("#decide button")) b.disabled = false;
      decisionError(r.status === 422
        ? `The service refused the decision: ${describeFailure(r.status, r.body)}`
        : `The decision was not recorded: ${describeFailure(r.status, r.body)}. Try again.`);
      return;
    }
    await refreshQueue();
    const next = after.find((i) => state.items.some((j) => j.referral_id === i.referral_id)) || state.items[0];
    const told = `Recorded: ${choice.decision} of ${id} (tier ${choice.tier}, viability ${choice.viability}, assessed ${choice.urgency_assessed}).`;
    if (next) {
      await openReferral(next.referral_id);
    } else {
      state.selectedId = null;
      state.record = null;
      $("detail").hidden = true;
      $("detail-empty").hidden = false;
    }
    $("queue-status").textContent = `${told} ${$("queue-status").textContent}`;
  }

  // --- keyboard -----------------------------------------------------------------------

  function onKey(event) {
    if (!state.token || event.ctrlKey || event.metaKey || event.altKey) return;
    if (document.body.dataset.tab === "blind") return; // blind.js has the keys there
    const tag = event.target?.tagName;
    const typing = tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT";
    if (event.key === "Escape") { closeOverride(); return; }
    if (typing) return;
    const actions = {
      c: confirm,
      n: () => step(1),
      j: () => step(1),
      k: () => step(-1),
      o: openOverride,
      r: refreshQueue,
      1: () => confirmWith(ASSESS_KEYS[1]),
      2: () => confirmWith(ASSESS_KEYS[2]),
      3: () => confirmWith(ASSESS_KEYS[3]),
    };
    const action = actions[event.key];
    if (action) {
      event.preventDefault();
      action();
    }
  }

  // --- start --------------------------------------------------------------------------

  function init() {
    $("signin-form").addEventListener("submit", onSignIn);
    $("sign-out").addEventListener("click", () => signOut(""));
    $("refresh").addEventListener("click", refreshQueue);
    $("filter-tier").addEventListener("change", refreshQueue);
    $("filter-source").addEventListener("change", refreshQueue);
    document.addEventListener("keydown", onKey);
    for (const kind of ["keydown", "pointerdown", "pointermove", "wheel"]) {
      document.addEventListener(kind, () => { state.lastActive = Date.now(); }, { passive: true });
    }
    const token = sessionStorage.getItem(KEY_TOKEN);
    const name = sessionStorage.getItem(KEY_REVIEWER);
    if (token && name) startWork(token, name);
    else $("reviewer-name").focus();
  }

  init();
})();
