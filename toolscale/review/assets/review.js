// ToolScale review: a static page over data chunks written by `toolscale review`.
// Chunks are scripts calling ReviewData.receive(name, payload), so the site also opens from file://.
"use strict";

const ReviewData = (() => {
  const loaded = new Map();
  const waiting = new Map();
  function receive(name, payload) {
    loaded.set(name, payload);
    const entry = waiting.get(name);
    if (entry) { waiting.delete(name); entry.resolve(payload); }
  }
  function load(name) {
    if (loaded.has(name)) return Promise.resolve(loaded.get(name));
    if (waiting.has(name)) return waiting.get(name).promise;
    const entry = {};
    entry.promise = new Promise((resolve, reject) => { entry.resolve = resolve; entry.reject = reject; });
    waiting.set(name, entry);
    const script = document.createElement("script");
    script.src = "data/" + name + ".js";
    script.onerror = () => { waiting.delete(name); entry.reject(new Error("cannot load data/" + name + ".js")); };
    document.head.appendChild(script);
    return entry.promise;
  }
  return { receive, load };
})();

const Review = (() => {
  const FACETS = [
    ["domain", "Domain"], ["verdict", "Verdict"], ["split", "Split"], ["difficulty", "Difficulty"], ["kind", "Task kind"],
    ["reason", "Reject reason"], ["tool", "Write tool"], ["preference", "Preference (leaning · stated)"], ["label", "Review"],
  ];
  const PAGE = 100;
  const COLOURS = ["#18794e", "#94a3b8", "#e11d48", "#f97316", "#eab308", "#8b5cf6", "#0ea5e9", "#14b8a6", "#ec4899", "#64748b", "#a16207", "#4f46e5", "#be123c"];
  let summary = null;
  const rows = { id: [], domain: [], kept: [], split: [], difficulty: [], kind: [], reason: [], preference: [], writes: [], rollouts: [], position: [] };
  const values = { domain: [], verdict: ["kept", "rejected"], split: [], difficulty: [], kind: [], reason: [], preference: [], tool: [], label: ["approved", "flagged", "unreviewed"] };
  const byId = new Map();
  const chunkTasks = [];  // tasks per page chunk, per domain
  let text = null;  // search text per row, loaded on first search
  let textLoading = null;
  const state = { filters: {}, query: "", shown: PAGE, matches: [] };
  let labels = [];
  let labelsKey = "toolscale-review-labels";

  // ---- small DOM helpers (every value goes in as text, never as markup) ----
  function h(tag, attributes, ...children) {
    const element = document.createElement(tag);
    for (const [key, value] of Object.entries(attributes || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") element.className = value;
      else if (key.startsWith("on")) element.addEventListener(key.slice(2), value);
      else element.setAttribute(key, value === true ? "" : value);
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      element.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return element;
  }
  const fmt = (n) => (typeof n === "number" ? n.toLocaleString("en-US") : n == null ? "—" : String(n));
  const pct = (x) => (x == null ? "—" : (100 * x).toFixed(1) + " %");
  const json = (value) => (typeof value === "string" ? value : JSON.stringify(value, null, 2));
  const short = (hash) => (hash ? hash.slice(0, 10) : "—");
  function code(list, value) { let i = list.indexOf(value); if (i < 0) { i = list.length; list.push(value); } return i; }

  // ---- labels: an append-only list of verdicts kept in the browser, exported as labels.jsonl ----
  function loadLabels() {
    try { labels = JSON.parse(localStorage.getItem(labelsKey) || "[]"); } catch (error) { labels = []; }
  }
  function latest(taskId) {
    for (let i = labels.length - 1; i >= 0; i--) if (labels[i].task_id === taskId) return labels[i];
    return null;
  }
  function addLabel(taskId, verdict, note) {
    const label = { task_id: taskId, verdict, note, at: new Date().toISOString() };
    labels.push(label);
    try { localStorage.setItem(labelsKey, JSON.stringify(labels)); } catch (error) { /* private mode: kept for this visit */ }
    if (location.protocol.startsWith("http")) {  // `toolscale review serve` appends it to the site's labels.jsonl
      fetch("labels", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(label) }).catch(() => {});
    }
    showLabelCount();
    return label;
  }
  function labelsJsonl() { return labels.map((label) => JSON.stringify(label)).join("\n") + (labels.length ? "\n" : ""); }
  function exportLabels() {
    const blob = new Blob([labelsJsonl()], { type: "application/x-ndjson" });
    const link = h("a", { href: URL.createObjectURL(blob), download: "labels.jsonl" });
    document.body.append(link);
    link.click();
    link.remove();
  }
  function showLabelCount() {
    const tasks = new Map(labels.map((label) => [label.task_id, label.verdict]));
    const flagged = [...tasks.values()].filter((v) => v === "flagged").length;
    document.getElementById("label-count").textContent = tasks.size ? `${tasks.size} reviewed · ${flagged} flagged` : "";
  }

  // ---- the index ----
  async function loadIndex() {
    const domains = Object.keys(summary.domains);
    const chunks = await Promise.all(domains.map((domain) => ReviewData.load("index/" + domain)));
    chunks.forEach((chunk, d) => {
      const c = chunk.columns, v = chunk.values;
      const remap = {};
      for (const column of ["split", "difficulty", "kind", "reason", "preference", "tool"]) remap[column] = (v[column] || []).map((value) => code(values[column], value));
      values.domain.push(chunk.domain);
      chunkTasks.push(chunk.chunk_tasks);
      for (let i = 0; i < c.id.length; i++) {
        byId.set(c.id[i], rows.id.length);
        rows.id.push(c.id[i]); rows.domain.push(d); rows.kept.push(c.kept[i]); rows.position.push(i);
        rows.split.push(remap.split[c.split[i]]); rows.difficulty.push(remap.difficulty[c.difficulty[i]]);
        rows.kind.push(remap.kind[c.kind[i]]); rows.reason.push(remap.reason[c.reason[i]]);
        rows.preference.push(remap.preference[c.preference[i]]);
        rows.writes.push(c.writes[i].map((t) => remap.tool[t])); rows.rollouts.push(c.rollouts[i]);
      }
    });
  }
  function loadText() {
    if (!textLoading) {
      textLoading = Promise.all(Object.keys(summary.domains).map((domain) => ReviewData.load("text/" + domain))).then((parts) => { text = parts.flat(); });
    }
    return textLoading;
  }
  function labelCode(row) {
    const label = latest(rows.id[row]);
    return label ? (label.verdict === "approved" ? 0 : 1) : 2;
  }
  // One pass: a row matching every facet is a result and counts for every facet; a row failing exactly one
  // facet counts for that facet only, so each option's count is what choosing it would give.
  function applyFilters() {
    const f = state.filters, n = rows.id.length;
    const wanted = FACETS.map(([name]) => (f[name] === undefined || f[name] === "" ? -1 : Number(f[name])));
    const counts = FACETS.map(([name]) => new Array(values[name].length).fill(0));
    const query = state.query.trim().toLowerCase();
    const matches = [];
    const labelled = new Map(labels.map((label) => [label.task_id, label.verdict]));
    for (let row = 0; row < n; row++) {
      if (query) {
        const id = rows.id[row];
        if (!(id.toLowerCase().includes(query) || (text && text[row].includes(query)))) continue;
      }
      const verdict = labelled.get(rows.id[row]);
      const own = [rows.domain[row], rows.kept[row] ? 0 : 1, rows.split[row], rows.difficulty[row], rows.kind[row], rows.reason[row], -2, rows.preference[row], verdict === "approved" ? 0 : verdict === "flagged" ? 1 : 2];
      const writes = rows.writes[row];
      let failing = -1, failures = 0;
      for (let k = 0; k < FACETS.length; k++) {
        const w = wanted[k];
        if (w < 0) continue;
        const ok = k === 6 ? writes.includes(w) : own[k] === w;
        if (!ok) { failures++; failing = k; if (failures > 1) break; }
      }
      if (failures > 1) continue;
      const tally = (k) => { if (k === 6) { for (const t of writes) counts[6][t]++; } else counts[k][own[k]]++; };
      if (failures === 0) { matches.push(row); for (let k = 0; k < FACETS.length; k++) tally(k); } else tally(failing);
    }
    state.matches = matches;
    return counts;
  }
  function filterPanel(counts) {
    const panel = h("aside", { class: "filters" }, h("h3", {}, "Filters"));
    panel.append(h("label", { for: "search" }, "Search ids and text"));
    const search = h("input", { type: "search", id: "search", placeholder: "bank-0-00001, refund, frozen…", value: state.query });
    search.addEventListener("input", () => {
      state.query = search.value; state.shown = PAGE;
      if (state.query.trim() && !text) loadText().then(() => refresh(true));
      refresh(true);
    });
    panel.append(search);
    FACETS.forEach(([name, title], k) => {
      if (name === "domain") return;  // the domain pills above the list
      const select = h("select", { id: "filter-" + name, "data-facet": name });
      select.append(h("option", { value: "" }, "any"));
      const order = values[name].map((value, i) => i).sort((a, b) => String(values[name][a]).localeCompare(String(values[name][b])));
      for (const i of order) {
        if (name === "reason" && values[name][i] === "—") continue;
        if (!counts[k][i] && String(state.filters[name]) !== String(i)) continue;
        select.append(h("option", { value: String(i), selected: String(state.filters[name]) === String(i) }, `${values[name][i]} (${fmt(counts[k][i])})`));
      }
      select.addEventListener("change", () => { setFilter(name, select.value); });
      panel.append(h("label", { for: "filter-" + name }, title), select);
    });
    panel.append(h("button", { class: "reset", type: "button", onclick: () => { state.filters = {}; state.query = ""; state.shown = PAGE; refresh(false); } }, "Clear filters"));
    return panel;
  }
  function setFilter(name, value) {
    if (value === "") delete state.filters[name]; else state.filters[name] = value;
    state.shown = PAGE;
    refresh(true);
  }
  function filterHash() {
    const parts = Object.entries(state.filters).map(([name, value]) => `${name}=${encodeURIComponent(values[name][value])}`);
    if (state.query) parts.push("q=" + encodeURIComponent(state.query));
    return parts.length ? "#tasks?" + parts.join("&") : "#";
  }
  function readFilterHash(query) {
    state.filters = {}; state.query = "";
    for (const part of (query || "").split("&")) {
      if (!part) continue;
      const [name, raw] = part.split("=");
      const value = decodeURIComponent(raw || "");
      if (name === "q") state.query = value;
      else if (values[name]) { const i = values[name].indexOf(value); if (i >= 0) state.filters[name] = String(i); }
    }
  }
  function domainPills(counts) {
    const current = state.filters.domain;
    const pills = h("div", { class: "domains", id: "domain-pills" });
    const total = counts[0].reduce((a, b) => a + b, 0);
    pills.append(h("button", { type: "button", class: current === undefined ? "current" : "", onclick: () => setFilter("domain", "") }, `all domains (${fmt(total)})`));
    values.domain.forEach((domain, i) => {
      pills.append(h("button", { type: "button", "data-domain": domain, class: String(current) === String(i) ? "current" : "", onclick: () => setFilter("domain", String(i)) }, `${domain} (${fmt(counts[0][i])})`));
    });
    return pills;
  }
  function taskTable() {
    const table = h("table", { class: "tasks", id: "tasks" });
    table.append(h("thead", {}, h("tr", {}, ["task", "domain", "verdict", "split", "difficulty", "kind", "reason", "write tools", "preference", "rollouts", "review"].map((t) => h("th", {}, t)))));
    const body = h("tbody");
    for (const row of state.matches.slice(0, state.shown)) {
      const id = rows.id[row];
      const label = latest(id);
      const kept = rows.kept[row];
      body.append(h("tr", { "data-task": id, onclick: () => { location.hash = "#task/" + id; } },
        h("td", { class: "id" }, h("a", { class: "task-link", href: "#task/" + id }, id)),
        h("td", {}, values.domain[rows.domain[row]]),
        h("td", {}, h("span", { class: "badge " + (kept ? "kept" : "rejected") }, kept ? "kept" : "rejected")),
        h("td", {}, values.split[rows.split[row]]),
        h("td", {}, values.difficulty[rows.difficulty[row]]),
        h("td", {}, values.kind[rows.kind[row]]),
        h("td", {}, kept ? "" : values.reason[rows.reason[row]]),
        h("td", {}, rows.writes[row].map((t) => h("span", { class: "chip" }, values.tool[t]))),
        h("td", { class: "muted" }, values.preference[rows.preference[row]]),
        h("td", {}, rows.rollouts[row] ? String(rows.rollouts[row]) : ""),
        h("td", {}, label ? h("span", { class: "badge " + label.verdict }, label.verdict) : "")));
    }
    table.append(body);
    return table;
  }
  function overview() {
    const domains = Object.values(summary.domains);
    const sum = (f) => domains.reduce((a, d) => a + (f(d) || 0), 0);
    const kept = sum((d) => d.listed.kept), rejected = sum((d) => d.listed.rejected);
    const generated = sum((d) => d.funnel && d.funnel.generated);
    const review = summary.review || {};
    const cards = h("div", { class: "cards" },
      card(fmt(kept), "kept tasks"), card(fmt(rejected), "rejected candidates"), card(fmt(generated), "candidates generated"),
      card(pct(generated ? kept / generated : null), "kept share"), card(fmt(domains.length), "domains"),
      card(`${fmt(review.approved || 0)} / ${fmt(review.flagged || 0)}`, "approved / flagged (applied)"));
    return h("section", { class: "panel", id: "overview" }, h("h2", {}, "Run ", h("span", { class: "muted" }, `${summary.run} · seed ${summary.seed}`)), cards, funnelStacks(), h("p", { class: "muted" }, h("a", { href: "#summary" }, "Full run summary: difficulty and kind mix, diversity, tool coverage →")));
  }
  function card(figure, what) { return h("div", { class: "card" }, h("div", { class: "figure" }, figure), h("div", { class: "what" }, what)); }
  function funnelStacks() {
    const outcomes = summary.stages.filter((stage) => stage !== "generated");
    const ordered = ["kept", ...outcomes.filter((s) => s !== "kept")];
    const grid = h("div", { class: "bars", id: "funnel-bars" });
    for (const [name, d] of Object.entries(summary.domains)) {
      const generated = d.funnel.generated || 1;
      const stack = h("div", { class: "stack" });
      ordered.forEach((stage, i) => {
        const n = d.funnel[stage] || 0;
        if (n) stack.append(h("div", { title: `${stage}: ${fmt(n)}`, style: `width:${(100 * n) / generated}%;background:${COLOURS[i % COLOURS.length]}` }));
      });
      grid.append(h("span", {}, name), stack, h("span", { class: "n" }, fmt(d.funnel.generated)));
    }
    const legend = h("div", { class: "legend" }, ordered.filter((stage) => Object.values(summary.domains).some((d) => d.funnel[stage])).map((stage) => h("span", {}, h("i", { style: "background:" + COLOURS[ordered.indexOf(stage) % COLOURS.length] }), stage)));
    return h("div", {}, h("div", { class: "muted", style: "margin-bottom:6px" }, "Where every generated candidate went (first failing check)"), grid, legend);
  }
  let listRoot = null;
  function refresh(updateHash) {
    const counts = applyFilters();
    if (updateHash) history.replaceState(null, "", filterHash());
    const app = document.getElementById("app");
    const hadFocus = document.activeElement && document.activeElement.id;
    const main = h("div", {},
      overview(),
      h("section", { class: "panel" },
        h("h2", {}, "Tasks and candidates"),
        domainPills(counts),
        h("div", { class: "result-line" }, h("span", { id: "result-count" }, `${fmt(state.matches.length)} matching`), h("span", {}, text || !state.query ? "" : "searching ids; loading text…")),
        taskTable(),
        state.matches.length > state.shown ? h("button", { class: "more", type: "button", onclick: () => { state.shown += PAGE; refresh(false); } }, `Show ${Math.min(PAGE, state.matches.length - state.shown)} more`) : null));
    const layout = h("div", { class: "layout" }, filterPanel(counts), main);
    app.replaceChildren(layout);
    listRoot = layout;
    if (hadFocus === "search") { const s = document.getElementById("search"); s.focus(); s.setSelectionRange(s.value.length, s.value.length); }
    document.body.dataset.view = "tasks";
  }

  // ---- the run summary ----
  function bars(entries, total) {
    const grid = h("div", { class: "bars" });
    const max = Math.max(1, ...entries.map(([, n]) => n));
    for (const [name, n] of entries) grid.append(h("span", {}, name), h("div", { class: "track" }, h("div", { class: "fill", style: `width:${(100 * n) / max}%` })), h("span", { class: "n" }, total ? pct(n / total) : fmt(n)));
    return grid;
  }
  function summaryView() {
    const app = document.getElementById("app");
    const page = h("div", { class: "task" }, h("div", { class: "task-head" }, h("h1", {}, `Run summary: ${summary.run}`)));
    page.append(h("section", { class: "panel" }, h("h2", {}, "Verification funnel"), funnelStacks(), h("div", { class: "diff-wrap" }, funnelTable()), h("p", {}, h("img", { class: "plot", src: "assets/funnel.png", alt: "funnel plot", onerror: (e) => e.target.remove() }))));
    const grid = h("div", { class: "grid2" });
    for (const [name, d] of Object.entries(summary.domains)) {
      const kept = d.listed.kept;
      const coverage = d.coverage || {};
      grid.append(h("section", { class: "panel" },
        h("h2", {}, name, " ", h("span", { class: "muted" }, `${fmt(kept)} kept · ${fmt(d.listed.rejected)} rejected`), " ", h("a", { href: `policies/${name}.html` }, "policy")),
        h("div", { class: "muted" }, "difficulty"), bars(Object.entries(d.difficulty || {}), kept),
        h("div", { class: "muted", style: "margin-top:8px" }, "task kind"), bars(Object.entries(d.kinds || {}), kept),
        h("div", { class: "muted", style: "margin-top:8px" }, "writes per task"), bars(Object.entries(d.writes_per_task || {}), kept),
        h("div", { class: "muted", style: "margin-top:8px" }, "diversity"),
        h("div", { class: "kv" },
          h("span", { class: "k" }, "multi-write share"), h("span", {}, pct(d.multi_write_share)),
          h("span", { class: "k" }, "distinct action sequences"), h("span", {}, `${fmt(d.diversity.distinct_action_sequences)} (${pct(d.diversity.distinct_sequence_share)} of kept)`),
          h("span", { class: "k" }, "most common sequence"), h("span", {}, pct(d.diversity.most_common_sequence_share) + " of kept")),
        h("div", { class: "muted", style: "margin-top:8px" }, "tool coverage (calls in kept tasks; red: never used)"),
        h("div", {}, ["write", "read"].map((kind) => h("div", {}, h("span", { class: "badge " + kind }, kind), " ",
          ((coverage[kind] || {}).used || []).map((tool) => h("span", { class: "chip", title: `${fmt((d.tool_usage || {})[tool])} calls` }, `${tool} ${fmt((d.tool_usage || {})[tool])}`)),
          ((coverage[kind] || {}).unused || []).map((tool) => h("span", { class: "chip unused" }, tool)))))));
    }
    page.append(grid);
    app.replaceChildren(page);
    document.body.dataset.view = "summary";
  }
  function funnelTable() {
    const table = h("table", { class: "numbers" });
    table.append(h("thead", {}, h("tr", {}, h("th", {}, "domain"), summary.stages.map((s) => h("th", { class: "n" }, s)))));
    const body = h("tbody");
    for (const [name, d] of Object.entries(summary.domains)) body.append(h("tr", {}, h("td", {}, name), summary.stages.map((s) => h("td", { class: "n" }, fmt(d.funnel[s] || 0)))));
    table.append(body);
    return table;
  }

  // ---- a task page ----
  async function taskView(id) {
    const app = document.getElementById("app");
    const row = byId.get(id);
    if (row === undefined) { app.replaceChildren(h("p", { class: "loading" }, `No task ${id} in this run.`)); return; }
    const domain = values.domain[rows.domain[row]];
    const chunk = await ReviewData.load(`tasks/${domain}/${Math.floor(rows.position[row] / chunkTasks[rows.domain[row]])}`);
    const task = chunk.find((t) => t.id === id);
    const at = state.matches.indexOf(row);
    const prev = at > 0 ? rows.id[state.matches[at - 1]] : null, next = at >= 0 && at < state.matches.length - 1 ? rows.id[state.matches[at + 1]] : null;
    const page = h("div", { class: "task", id: "task-page", "data-task": id },
      h("div", { class: "task-head" },
        h("a", { href: filterHash() }, "← tasks"),
        h("h1", {}, id),
        h("span", { class: "badge " + task.verdict }, task.verdict),
        h("span", { class: "badge plain" }, domain), task.split ? h("span", { class: "badge plain" }, task.split) : null,
        h("span", { class: "badge plain" }, task.difficulty), h("span", { class: "badge plain" }, task.kind),
        h("span", { class: "nav" }, prev ? h("a", { href: "#task/" + prev }, "← previous") : null, next ? h("a", { href: "#task/" + next }, "next →") : null)));
    if (task.verdict === "rejected") {
      page.append(h("div", { class: "reject-banner", id: "reject-banner" }, task.reasons.map((r) => h("div", {}, h("b", {}, r.check), ": ", r.detail, r.action_index !== null && r.action_index !== undefined ? ` (step ${r.action_index + 1})` : ""))));
    }
    const left = h("div", {}, reviewBox(task), scenarioPanel(task), checksPanel(task), preferencePanel(task), communicatePanel(task));
    const right = h("div", {}, timelinePanel(task), diffPanel(task), rolloutsPanel(task));
    page.append(h("div", { class: "task-cols" }, left, right));
    app.replaceChildren(page);
    window.scrollTo(0, 0);
    document.body.dataset.view = "task";
  }
  function reviewBox(task) {
    const current = latest(task.id);
    const note = h("textarea", { id: "review-note", placeholder: "Why? (kept with the label)" });
    const status = h("span", { class: "muted", id: "review-status" }, current ? `latest: ${current.verdict}${current.note ? " — " + current.note : ""}` : "not reviewed yet");
    const press = (verdict) => { const label = addLabel(task.id, verdict, note.value.trim()); status.textContent = `latest: ${label.verdict}${label.note ? " — " + label.note : ""}`; approve.classList.toggle("active", verdict === "approved"); flag.classList.toggle("active", verdict === "flagged"); };
    const approve = h("button", { id: "approve", type: "button", class: "approve" + (current && current.verdict === "approved" ? " active" : ""), onclick: () => press("approved") }, "✓ Approve");
    const flag = h("button", { id: "flag", type: "button", class: "flag" + (current && current.verdict === "flagged" ? " active" : ""), onclick: () => press("flagged") }, "⚑ Flag");
    return h("section", { class: "panel review-box" }, h("h2", {}, "Your verdict"), note, h("div", { class: "buttons" }, approve, flag, status),
      h("div", { class: "history" }, "Verdicts stay in this browser until you export them (Export labels, top right) for ", h("code", {}, "toolscale review apply"), "."));
  }
  function scenarioPanel(task) {
    const s = task.scenario || {};
    const list = h("dl", { class: "scenario" });
    const add = (term, value) => { if (value) list.append(h("dt", {}, term), h("dd", {}, value)); };
    add("reason for call", s.reason_for_call); add("known info", s.known_info); add("unknown info", s.unknown_info);
    add("instructions", s.task_instructions); add("persona", task.persona); add("purpose", task.purpose);
    add("preference", task.preference.statement);
    return h("section", { class: "panel", id: "scenario" }, h("h2", {}, "User scenario ", h("a", { href: `policies/${task.domain}.html`, id: "policy-link" }, `${task.domain} policy`)), list);
  }
  function checksPanel(task) {
    const list = h("ul", { class: "checks", id: "checks" });
    for (const c of task.checks || summary.checks.map((check) => ({ check, status: "passed", detail: null }))) {
      const cls = c.status === "not run" ? "not-run" : c.status;
      list.append(h("li", { class: cls, "data-check": c.check }, h("span", { class: "mark" }, c.status === "passed" ? "✓" : c.status === "failed" ? "✗" : "·"), h("span", {}, c.check), c.detail ? h("span", { class: "detail" }, c.detail) : h("span", { class: "muted" }, c.status)));
    }
    return h("section", { class: "panel" }, h("h2", {}, "Checks"), list);
  }
  function preferencePanel(task) {
    const p = task.preference;
    const weights = [["accuracy", p.accuracy], ["cost", p.cost], ["latency", p.latency], ...Object.entries(p.aliases || {})];
    const grid = h("div", { class: "bars" });
    for (const [name, w] of weights) grid.append(h("span", {}, name), h("div", { class: "track" }, h("div", { class: "fill", style: `width:${Math.abs(w) * 100}%;background:${w < 0 ? "#b42318" : "#2f5bea"}` })), h("span", { class: "n" }, w.toFixed(3)));
    const prices = h("table", { class: "numbers" }, h("thead", {}, h("tr", {}, ["alias", "model", "$ in / M", "$ out / M", "s / call"].map((t, i) => h("th", { class: i > 1 ? "n" : "" }, t)))),
      h("tbody", {}, task.pricing.experts.map((e) => h("tr", {}, h("td", {}, e.alias), h("td", {}, e.model), h("td", { class: "n" }, e.input_price_per_million), h("td", { class: "n" }, e.output_price_per_million), h("td", { class: "n" }, e.seconds_per_call)))));
    return h("section", { class: "panel" }, h("h2", {}, "Preference and expert prices"), grid, h("div", { style: "margin-top:10px" }, prices), h("div", { class: "muted", style: "margin-top:6px" }, `tools: ${task.pricing.tool_seconds_per_call} s per call`));
  }
  function communicatePanel(task) {
    if (!task.communicate.length) return null;
    return h("section", { class: "panel", id: "communicate" }, h("h2", {}, "Communicate to the user"),
      h("ul", {}, task.communicate.map((c) => h("li", {}, h("span", { class: "info-found" }, c.info), " ", c.step === null ? h("span", { class: "bad" }, "found in no step") : h("span", { class: "muted" }, `found in step ${c.step + 1}`)))));
  }
  function kv(object) {
    const grid = h("div", { class: "kv" });
    for (const [key, value] of Object.entries(object || {})) grid.append(h("span", { class: "k" }, key), h("span", {}, typeof value === "string" ? value : JSON.stringify(value)));
    return grid;
  }
  function timelinePanel(task) {
    const timeline = h("div", { class: "timeline", id: "timeline" });
    const infoSteps = new Set(task.communicate.map((c) => c.step));
    task.steps.forEach((step, i) => {
      const failing = task.failing_step === i || (!step.ok && task.verdict === "rejected");
      const reasons = task.reasons.filter((r) => r.action_index === i);
      timeline.append(h("div", { class: "step" + (step.write ? " write" : "") + (failing ? " failing" : ""), "data-n": String(i + 1), "data-step": String(i) },
        h("div", { class: "head" }, h("span", { class: "name" }, step.name), h("span", { class: "badge " + (step.write ? "write" : "read") }, step.write ? "write" : "read"),
          step.ok ? null : h("span", { class: "badge rejected" }, "error"), infoSteps.has(i) ? h("span", { class: "badge plain" }, "tells the user") : null,
          h("span", { class: "hash", title: step.state_hash }, "state " + short(step.state_hash))),
        reasons.map((r) => h("div", { class: "fail-reason" }, `✗ ${r.check}: ${r.detail}`)),
        h("div", { class: "section" }, h("div", { class: "label" }, "arguments"), kv(step.arguments)),
        h("div", { class: "section" }, h("div", { class: "label" }, "observation"), h("pre", { class: "observation" + (step.ok ? "" : " error") }, step.ok ? json(step.output) : step.error)),
        Object.keys(step.changes).length ? h("div", { class: "section" }, h("div", { class: "label" }, "rows changed by this step (changed columns)"), diffTables(step.changes, true)) : null));
    });
    return h("section", { class: "panel" }, h("h2", {}, "Gold actions ", h("span", { class: "muted" }, `${task.steps.length} steps, replayed on the task's database`)), timeline);
  }
  // Rows before and after, changed cells marked; `changedOnly` keeps the columns some row changes (a step's view).
  function diffTables(diff, changedOnly) {
    const wrap = h("div", { class: "diff-wrap" });
    for (const [table, changes] of Object.entries(diff)) {
      const differsIn = (change, c) => !change.before || !change.after || JSON.stringify(change.before[c]) !== JSON.stringify(change.after[c]);
      const columns = [];
      for (const change of Object.values(changes)) for (const side of [change.before, change.after]) for (const c of Object.keys(side || {})) if (!columns.includes(c)) columns.push(c);
      if (changedOnly) {
        const changed = columns.filter((c) => Object.values(changes).some((change) => differsIn(change, c)));
        columns.splice(0, columns.length, ...changed);
      }
      const body = h("tbody");
      for (const [key, change] of Object.entries(changes)) {
        const differs = (c) => differsIn(change, c);
        for (const side of ["before", "after"]) {
          const rowValues = change[side];
          body.append(h("tr", { class: side + (rowValues ? "" : " absent") }, h("td", { class: "side" }, side === "before" ? key : ""), h("td", { class: "side" }, side),
            rowValues ? columns.map((c) => h("td", { class: differs(c) ? "changed" : "" }, rowValues[c] === null || rowValues[c] === undefined ? "∅" : typeof rowValues[c] === "string" ? rowValues[c] : JSON.stringify(rowValues[c])))
              : h("td", { colspan: String(columns.length) }, side === "before" ? "(no row: inserted)" : "(deleted)")));
        }
      }
      wrap.append(h("div", { class: "diff-table-name" }, table), h("table", { class: "diff" }, h("thead", {}, h("tr", {}, h("th", {}, "key"), h("th", {}, ""), columns.map((c) => h("th", {}, c)))), body));
    }
    return wrap;
  }
  function diffPanel(task) {
    const tables = Object.keys(task.diff);
    return h("section", { class: "panel", id: "diff" }, h("h2", {}, "State diff ", h("span", { class: "muted" }, tables.length ? `${tables.length} table(s), start → end of the gold actions` : "no rows change")), tables.length ? diffTables(task.diff, false) : null);
  }
  function rolloutsPanel(task) {
    if (!task.rollouts.length) return h("section", { class: "panel muted", id: "rollouts" }, h("h2", {}, "Rollouts"), "No eval or training rollouts of this task were given to ", h("code", {}, "toolscale review --trajectories"), ".");
    const components = [...new Set(task.rollouts.flatMap((r) => Object.keys(r.reward || {})))];
    const detail = h("div", { id: "rollout-detail" });
    const table = h("table", { class: "rollouts numbers" }, h("thead", {}, h("tr", {}, ["policy", "source", "trial", "outcome", ...components.map((c) => `reward: ${c}`), "cost $", "latency s", "calls", "diverged"].map((t) => h("th", {}, t)))));
    const body = h("tbody");
    task.rollouts.forEach((r, i) => {
      const tr = h("tr", { "data-rollout": String(i), onclick: () => { for (const x of body.children) x.classList.remove("selected"); tr.classList.add("selected"); detail.replaceChildren(versus(task, r)); } },
        h("td", {}, r.policy), h("td", {}, r.source + (r.step !== null && r.step !== undefined ? ` @${r.step}` : "")), h("td", {}, r.trial),
        h("td", {}, r.outcome ? h("span", { class: "ok" }, "✓") : h("span", { class: "bad" }, "✗")),
        components.map((c) => h("td", { class: "n" }, r.reward && r.reward[c] !== undefined ? Number(r.reward[c]).toFixed(3) : "")),
        h("td", { class: "n" }, r.cost !== null && r.cost !== undefined ? Number(r.cost).toFixed(5) : ""), h("td", { class: "n" }, r.latency !== null && r.latency !== undefined ? Number(r.latency).toFixed(2) : ""),
        h("td", { class: "n" }, r.tool_calls), h("td", {}, r.divergence ? r.divergence.reason : h("span", { class: "ok" }, "follows gold")));
      body.append(tr);
    });
    table.append(body);
    const panel = h("section", { class: "panel", id: "rollouts" }, h("h2", {}, "Rollouts beside the gold trace ", h("span", { class: "muted" }, `${task.rollouts.length} eval/train rollout(s)`)), h("div", { class: "diff-wrap" }, table), detail);
    body.firstChild.classList.add("selected");
    detail.append(versus(task, task.rollouts[0]));
    return panel;
  }
  function versus(task, rollout) {
    const grid = h("div", { class: "versus" }, h("div", { class: "h" }, "gold"), h("div", { class: "h" }, `${rollout.policy} · ${rollout.source} · trial ${rollout.trial} — ${rollout.reached_gold_state ? "reaches the gold final state" : "ends in another state"}`));
    const call = (name, args) => `${name}(${Object.entries(args || {}).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(", ")})`;
    let g = 0;
    const divergedStep = rollout.divergence ? rollout.divergence.step : undefined;
    for (const step of rollout.steps || []) {
      if (step.name === "call_expert") { grid.append(h("div", { class: "empty" }, ""), h("div", { class: "expert" }, `call_expert → ${step.alias || "?"}`)); continue; }
      const gold = task.steps[g];
      const diverged = divergedStep === step.index;
      const cls = diverged ? "diverged" : "";
      grid.append(h("div", { class: cls }, gold ? `${g + 1}. ${call(gold.name, gold.arguments)}` : h("span", { class: "empty" }, "—")),
        h("div", { class: cls }, `${step.index + 1}. ${call(step.name, step.arguments)}`, step.ok ? "" : h("span", { class: "bad" }, ` ✗ ${step.error || "error"}`), diverged ? h("div", { class: "bad" }, "↳ diverges here: " + rollout.divergence.reason) : null));
      g++;
    }
    for (; g < task.steps.length; g++) grid.append(h("div", {}, `${g + 1}. ${call(task.steps[g].name, task.steps[g].arguments)}`), h("div", { class: "empty" + (g === (rollout.divergence || {}).gold && divergedStep === null ? " diverged" : "") }, g === (rollout.divergence || {}).gold && divergedStep === null ? rollout.divergence.reason : "—"));
    const messages = rollout.messages || [];
    return h("div", { style: "margin-top:10px" }, grid,
      messages.length ? h("details", { style: "margin-top:8px" }, h("summary", {}, `conversation (${messages.length} messages)`), messages.map((m) => h("div", { class: "step" }, h("div", { class: "label muted" }, m.role), h("pre", {}, m.content || ""), (m.tool_calls || []).map((c) => h("pre", { class: "muted" }, `→ ${c.function.name} ${c.function.arguments}`))))) : null);
  }

  // ---- routing ----
  function route() {
    const hash = decodeURIComponent(location.hash.slice(1));
    for (const link of document.querySelectorAll(".bar nav a")) link.classList.toggle("current", (link.dataset.route === "summary") === hash.startsWith("summary") && !hash.startsWith("task/"));
    if (hash.startsWith("task/")) return taskView(hash.slice(5));
    if (hash.startsWith("summary")) return summaryView();
    readFilterHash(hash.startsWith("tasks?") ? hash.slice(6) : "");
    if (state.query && !text) loadText().then(() => refresh(false));
    return refresh(false);
  }
  async function start() {
    summary = await ReviewData.load("summary");
    labelsKey = `toolscale-review-labels/${summary.run}`;
    document.getElementById("run-name").textContent = `${summary.run} · ${fmt(summary.tasks)} tasks`;
    document.getElementById("export-labels").addEventListener("click", exportLabels);
    loadLabels();
    showLabelCount();
    await loadIndex();
    window.addEventListener("hashchange", route);
    await route();
    performance.mark("review-interactive");
    document.body.dataset.ready = "true";
  }
  return { start, labelsJsonl };
})();

document.addEventListener("DOMContentLoaded", () => {
  Review.start().catch((error) => {
    document.getElementById("app").replaceChildren(Object.assign(document.createElement("p"), { className: "loading", textContent: "Cannot show the review: " + error.message }));
  });
});
