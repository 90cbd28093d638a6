// The settings page of `hf-spaces ui`: plain DOM, no framework, no build step.
// Every API call carries the session token in a header; a stored token never reaches this page.
"use strict";

const SESSION = document.querySelector('meta[name="hf-spaces-session"]').content;
let state = null; // what GET /api/settings answered
let cards = []; // one per tier: {name, label, guide, el, inputs, token}
let validateTimer = null;

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "text") node.textContent = value;
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children) if (child) node.append(child);
  return node;
}

async function api(method, path, body) {
  const options = { method, headers: { "X-HF-Spaces-Session": SESSION } };
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  const response = await fetch(path, options);
  const data = await response.json();
  if (!response.ok) throw new Error(data.error || `HTTP ${response.status}`);
  return data;
}

function fieldInput(tier, field, value) {
  const id = `${tier}-${field.name.replace(/_/g, "-")}`;
  let input;
  if (field.choices.length) {
    input = el("select", { id, name: field.name });
    for (const choice of field.choices) input.append(el("option", { value: choice, text: choice }));
    input.value = value || field.default;
  } else {
    input = el("input", {
      id, name: field.name, type: field.type === "number" ? "text" : "text",
      inputmode: field.type === "number" ? "decimal" : null,
      placeholder: field.default || null, autocomplete: "off", spellcheck: "false",
    });
    input.value = value;
  }
  input.setAttribute("aria-describedby", `${id}-error ${id}-help`);
  input.addEventListener("input", scheduleValidate);
  input.addEventListener("change", scheduleValidate);
  const row = el("div", { class: "field" },
    el("label", { for: id, text: field.label }), input,
    el("p", { id: `${id}-error`, class: "error", role: "alert" }));
  if (field.help) row.append(el("p", { id: `${id}-help`, class: "help", text: field.help }));
  return { row, input };
}

function renderCard(view) {
  const fieldset = el("fieldset", { class: "tier", id: `tier-${view.name}` });
  const title = view.guide ? `${view.label} (${view.name})` : `${view.name} (custom tier)`;
  fieldset.append(el("legend", { text: title }));
  const card = { name: view.name, guide: view.guide, el: fieldset, inputs: {} };
  const advanced = el("details", {}, el("summary", { text: "Advanced: timeouts, retries, wake timeout" }));
  for (const field of state.fields) {
    const { row, input } = fieldInput(view.name, field, view.values[field.name]);
    card.inputs[field.name] = input;
    if (field.name === "url") {
      const norm = el("p", { class: "normalised", id: `${view.name}-normalised` });
      norm.textContent = view.normalised ? `Normalised: ${view.normalised}` : "";
      row.append(norm);
      card.normalised = norm;
    }
    (field.advanced ? advanced : fieldset).append(row);
  }
  // The token: write-only. The page knows only whether one is stored and where it comes from.
  const tokenId = `${view.name}-token`;
  const token = el("input", {
    id: tokenId, type: "password", autocomplete: "new-password",
    placeholder: view.token_stored ? "stored: leave empty to keep it" : "hf_...",
    "aria-describedby": `${tokenId}-status ${tokenId}-error`,
  });
  const clear = el("input", { type: "checkbox", id: `${tokenId}-clear`, disabled: !view.token_stored });
  const status = el("p", { class: "status", id: `${tokenId}-status` });
  status.textContent = `Token: ${view.token_status || "not set"}`;
  const tokenRow = el("div", { class: "field" },
    el("label", { for: tokenId, text: "Authentication token" }), token,
    el("p", { id: `${tokenId}-error`, class: "error", role: "alert" }), status,
    el("p", { class: "help", text: "Saved in the settings file (mode 0600). Or leave it empty and " +
      "name an environment variable below." }),
    el("p", { class: "help row" }, clear,
      el("label", { for: `${tokenId}-clear`, text: "Clear the stored token" })));
  // the token row goes after the protocol
  fieldset.insertBefore(tokenRow, card.inputs.token_env.closest(".field"));
  card.token = token;
  card.tokenClear = clear;
  card.tokenStatus = status;
  fieldset.append(advanced);
  const testButton = el("button", { type: "button", class: "test", text: "Test Connection" });
  testButton.addEventListener("click", () => testTier(card));
  const buttons = el("p", { class: "row" }, testButton);
  if (!view.guide) {
    const remove = el("button", { type: "button", text: `Remove tier ${view.name}` });
    remove.addEventListener("click", () => {
      cards = cards.filter((c) => c !== card);
      fieldset.remove();
      renderDefaultTier(document.getElementById("default-tier").value);
      scheduleValidate();
    });
    buttons.append(remove);
  }
  card.testButton = testButton;
  card.result = el("div", { class: "result", id: `${view.name}-result`, role: "status", "aria-live": "polite" });
  fieldset.append(buttons, card.result);
  return card;
}

function renderDefaultTier(selected) {
  const select = document.getElementById("default-tier");
  select.replaceChildren();
  for (const card of cards) {
    const label = card.guide ? `${state.tiers.find((t) => t.name === card.name)?.label || card.name}` : card.name;
    select.append(el("option", { value: card.name, text: `${label} (${card.name})` }));
  }
  select.value = cards.some((c) => c.name === selected) ? selected : (cards[0] || {}).name;
}

function render() {
  document.getElementById("file").textContent =
    `File: ${state.path}` + (state.exists ? ` (mode ${state.mode})` : " (not written yet)");
  const notices = document.getElementById("notices");
  notices.replaceChildren();
  if (state.error) notices.append(el("p", { class: "notice", text: state.error }));
  if (state.migrated) {
    notices.append(el("p", { class: "notice", text:
      `This file is in an older format: saving writes version ${state.version} and keeps a .bak copy.` }));
  }
  if (state.overrides.length) {
    notices.append(el("p", { class: "notice", text:
      `The environment overrides the file: ${state.overrides.join(", ")}.` }));
  }
  document.getElementById("enabled").checked = state.enabled;
  const container = document.getElementById("tiers");
  container.replaceChildren();
  cards = state.tiers.map(renderCard);
  for (const card of cards) container.append(card.el);
  renderDefaultTier(state.default_tier);
}

function collect() {
  return {
    enabled: document.getElementById("enabled").checked,
    default_tier: document.getElementById("default-tier").value,
    tiers: cards.map(cardForm),
  };
}

function cardForm(card) {
  const values = {};
  for (const [name, input] of Object.entries(card.inputs)) values[name] = input.value;
  return { name: card.name, values, token_new: card.token.value, token_clear: card.tokenClear.checked };
}

function showErrors(errors, normalised) {
  document.getElementById("form-error").textContent = errors.form || "";
  document.getElementById("default-tier-error").textContent = errors.default_tier || "";
  for (const card of cards) {
    for (const [name, input] of Object.entries(card.inputs)) {
      const message = errors[`tiers.${card.name}.${name}`] || "";
      document.getElementById(`${input.id}-error`).textContent = message;
      input.setAttribute("aria-invalid", message ? "true" : "false");
      if (message && input.closest("details")) input.closest("details").open = true;
    }
    const tokenMessage = errors[`tiers.${card.name}.token`] || "";
    document.getElementById(`${card.token.id}-error`).textContent = tokenMessage;
    if (normalised) {
      const url = normalised[card.name];
      card.normalised.textContent = url ? `Normalised: ${url}` : "";
    }
  }
}

function scheduleValidate() {
  clearTimeout(validateTimer);
  validateTimer = setTimeout(async () => {
    try {
      const answer = await api("POST", "/api/validate", collect());
      showErrors(answer.errors, answer.normalised);
      for (const card of cards) {
        const status = (answer.token_status || {})[card.name];
        if (status) card.tokenStatus.textContent = `Token: ${status}`;
      }
    } catch (err) {
      document.getElementById("form-error").textContent = String(err.message || err);
    }
  }, 250);
}

async function save() {
  const status = document.getElementById("save-status");
  const button = document.getElementById("save");
  button.disabled = true;
  status.textContent = "Saving...";
  try {
    const answer = await api("POST", "/api/save", collect());
    if (answer.ok) {
      state = answer.state;
      render();
      status.textContent = "";
      document.getElementById("notices").prepend(el("p", { class: "notice saved", text: answer.message }));
    } else {
      showErrors(answer.errors, answer.normalised);
      status.textContent = "Not saved: fix the fields marked in red.";
    }
  } catch (err) {
    status.textContent = `Not saved: ${err.message || err}`;
  } finally {
    button.disabled = false;
  }
}

// ---------------------------------------------------------------- Test Connection
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function progressView(card, event, since) {
  const seconds = event.elapsed + (Date.now() - since) / 1000;
  const box = el("div", { class: "progress" });
  const headline = event.reason === "waking"
    ? `Waking up the Space${event.stage ? ` (stage ${event.stage})` : ""}: ${seconds.toFixed(0)}s elapsed` +
      (event.budget !== null ? ` of ${event.budget.toFixed(0)}s (wake_timeout)` : "")
    : event.line;
  box.append(el("p", { class: "headline", text: headline }));
  if (event.budget) {
    const bar = el("progress", { max: String(event.budget), "aria-label": `${card.name}: waking up` });
    bar.value = Math.min(seconds, event.budget);
    box.append(bar);
  }
  if (event.detail) box.append(el("p", { class: "muted", text: `The Space said: ${event.detail}` }));
  return box;
}

function resultView(result) {
  const box = el("div", {});
  const ms = result.latency !== null && result.latency !== undefined
    ? `${(result.latency * 1000).toFixed(0)} ms` : "";
  box.append(el("p", { class: "headline", text: result.ok
    ? `Connection OK: ${result.protocol} protocol, ${ms}`
    : `Connection failed: ${result.error_type}: ${result.error}` }));
  if (!result.ok && result.hint) box.append(el("p", { class: "hint", text: `Hint: ${result.hint}` }));
  const table = el("table", { "aria-label": "checks" });
  for (const check of result.checks) {
    table.append(el("tr", {},
      el("td", { class: `check-${check.status}`, text: check.status.toUpperCase() }),
      el("td", { text: check.name }), el("td", { text: check.detail })));
  }
  box.append(table);
  return box;
}

async function testTier(card) {
  card.testButton.disabled = true;
  card.result.className = "result running";
  card.result.replaceChildren(el("p", { class: "headline", text: "Testing..." }));
  try {
    const started = await api("POST", "/api/test", cardForm(card));
    if (!started.job) {
      showErrors(started.errors, started.normalised);
      card.result.className = "result fail";
      card.result.replaceChildren(el("p", { class: "headline", text: "Not tested: fix the fields marked in red." }));
      return false;
    }
    let seen = 0;
    let since = Date.now();
    for (;;) {
      const job = await api("GET", `/api/test/${started.job}`);
      if (job.events.length !== seen) {
        seen = job.events.length;
        since = Date.now();
      }
      if (job.done) {
        card.result.className = `result ${job.result.ok ? "ok" : "fail"}`;
        card.result.replaceChildren(resultView(job.result));
        return job.result.ok;
      }
      if (seen) {
        card.result.className = "result waiting";
        card.result.replaceChildren(progressView(card, job.events[seen - 1], since));
      }
      await sleep(200);
    }
  } catch (err) {
    card.result.className = "result fail";
    card.result.replaceChildren(el("p", { class: "headline", text: `Test failed: ${err.message || err}` }));
    return false;
  } finally {
    card.testButton.disabled = false;
    loadStats();
  }
}

// ---------------------------------------------------------------- Stats
const STAT_COLUMNS = [
  ["tier", "Tier"], ["variant", "Variant"], ["calls", "Calls"], ["errors", "Errors"],
  ["latency_p50", "p50 ms"], ["latency_p95", "p95 ms"], ["latency_p99", "p99 ms"],
  ["wake_seconds", "Waking s"], ["retries", "Retries"], ["prompt_tokens", "Tokens in"],
  ["completion_tokens", "Tokens out"], ["cache", "Cache hits/misses"],
];

function statCell(row, key) {
  const value = row[key];
  if (key === "variant") return value || "-";
  if (key === "errors") {
    const kinds = Object.entries(value || {}).sort();
    return kinds.length ? kinds.map(([kind, n]) => `${n} ${kind}`).join(", ") : "0";
  }
  if (key.startsWith("latency_")) return value === null ? "-" : (value * 1000).toFixed(0);
  if (key === "wake_seconds") return value.toFixed(1);
  if (key === "cache") return `${row.cache_hits}/${row.cache_misses}`;
  return String(value);
}

function statsTable(rows, label) {
  if (!rows.length) return el("p", { class: "muted", text: "No calls recorded." });
  const table = el("table", { class: "stats", "aria-label": label });
  const head = el("tr", {});
  for (const [, title] of STAT_COLUMNS) head.append(el("th", { scope: "col", text: title }));
  table.append(el("thead", {}, head));
  const body = el("tbody", {});
  for (const row of rows) {
    const tr = el("tr", { "data-tier": row.tier });
    for (const [key] of STAT_COLUMNS) {
      tr.append(el("td", { class: ["tier", "variant", "errors"].includes(key) ? null : "num",
        "data-key": key, text: statCell(row, key) }));
    }
    body.append(tr);
  }
  table.append(body);
  return table;
}

function runView(run) {
  const box = el("div", { class: run.ok ? "run" : "run unreadable" });
  box.append(el("p", { class: "headline", text: run.ok
    ? `${run.output} (${run.modified})` : `${run.file}: ${run.error}` }));
  if (run.ok) {
    if (run.batch_line) box.append(el("p", { class: "batch-line", text: run.batch_line }));
    box.append(statsTable(run.rows, `stats of ${run.output}`));
  }
  return box;
}

async function loadStats() {
  const status = document.getElementById("stats-status");
  try {
    const stats = await api("GET", "/api/stats");
    document.getElementById("stats-session")
      .replaceChildren(statsTable(stats.session.rows, "stats of this page"));
    document.getElementById("stats-folder").textContent =
      `The *.stats.json files hf-spaces batch wrote in ${stats.folder} (newest first).`;
    const runs = document.getElementById("stats-runs");
    runs.replaceChildren(...stats.runs.map(runView));
    if (!stats.runs.length) runs.append(el("p", { class: "muted", text: "No batch runs recorded here." }));
    status.textContent = "";
    document.body.dataset.statsLoaded = String(Number(document.body.dataset.statsLoaded || 0) + 1);
  } catch (err) {
    status.textContent = `Cannot load the stats: ${err.message || err}`;
  }
}

async function testAll() {
  const button = document.getElementById("test-all");
  button.disabled = true;
  const configured = cards.filter((c) => c.inputs.url.value.trim());
  await Promise.all(configured.map(testTier));
  button.disabled = false;
}

function addTier() {
  const input = document.getElementById("new-tier");
  const error = document.getElementById("new-tier-error");
  const name = input.value.trim();
  if (!new RegExp(state.tier_pattern).test(name)) {
    error.textContent = `tier name '${name}' is invalid: use [a-z][a-z0-9_-]*`;
    return;
  }
  if (cards.some((c) => c.name === name)) {
    error.textContent = `tier ${name} is already on the page`;
    return;
  }
  error.textContent = "";
  const values = Object.fromEntries(state.fields.map((f) => [f.name, ""]));
  const card = renderCard({ name, label: name, guide: false, values, token_stored: false,
    normalised: "", token_status: "" });
  cards.push(card);
  document.getElementById("tiers").append(card.el);
  renderDefaultTier(document.getElementById("default-tier").value);
  input.value = "";
  card.inputs.url.focus();
}

async function start() {
  document.getElementById("save").addEventListener("click", save);
  document.getElementById("test-all").addEventListener("click", testAll);
  document.getElementById("add-tier").addEventListener("click", addTier);
  document.getElementById("enabled").addEventListener("change", scheduleValidate);
  document.getElementById("default-tier").addEventListener("change", scheduleValidate);
  document.getElementById("stats-refresh").addEventListener("click", loadStats);
  try {
    state = await api("GET", "/api/settings");
    render();
    await loadStats();
    document.body.dataset.ready = "true";
  } catch (err) {
    document.getElementById("form-error").textContent = `Cannot load the settings: ${err.message || err}`;
  }
}

start();
