// tunesmith studio: plain JS over the JSON API (no framework, nothing fetched from the internet).
"use strict";

const $ = (sel, root = document) => root.querySelector(sel);
const el = (tag, attrs = {}, ...children) => {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "text") node.textContent = v;
    else if (k === "class") node.className = v;
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined) node.append(c);
  return node;
};

const state = { info: null, models: [], uploads: {}, polling: {} };
const plural = (n, one, many) => `${n} ${n === 1 ? one : many}`;

// ---------------------------------------------------------------- messages and requests
// One banner for errors; any later success clears it, so an old error never sits above a good result.
function showMessage(text, kind = "error") {
  const box = $("#message");
  box.className = `message ${kind}`;
  box.textContent = text;
  clearTimeout(showMessage.timer);
  if (kind !== "error") showMessage.timer = setTimeout(() => box.classList.add("hidden"), 5000);
}
function clearMessage() { $("#message").className = "message hidden"; }

async function api(path, options = {}) {
  let resp;
  try {
    resp = await fetch(path, options);
  } catch (err) {
    throw new Error(`the studio server did not answer (${err.message}); is it still running?`);
  }
  let body = null;
  try { body = await resp.json(); } catch (_) { body = null; }
  if (!resp.ok) {
    const msg = (body && (body.error || body.detail)) || `${resp.status} ${resp.statusText}`;
    throw new Error(typeof msg === "string" ? msg : JSON.stringify(msg));
  }
  return body;
}
const postJSON = (path, data) => api(path, {
  method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(data),
});

function formValues(form) {
  const out = {};
  for (const input of form.querySelectorAll("input[name], select[name]")) {
    if (input.type === "file") continue;
    if (input.type === "checkbox") { out[input.name] = input.checked; continue; }
    if (input.value === "") continue;
    out[input.name] = input.type === "number" ? Number(input.value) : input.value;
  }
  // a group of checkboxes that share data-list="formats" sends the list of the ticked values
  for (const input of form.querySelectorAll("input[data-list]")) {
    out[input.dataset.list] = out[input.dataset.list] || [];
    if (input.checked) out[input.dataset.list].push(input.value);
  }
  return out;
}

// Every form field takes its default from /api/info (the settings dataclasses): nothing is hard-coded here.
function applyDefaults(defaults) {
  for (const [form, values] of Object.entries(defaults || {})) {
    for (const [name, value] of Object.entries(values)) {
      for (const input of document.querySelectorAll(`#${form} [name="${name}"], #${form} input[data-list="${name}"]`)) {
        if (input.type === "file") continue;
        if (input.dataset.list) input.checked = Array.isArray(value) && value.includes(input.value);
        else if (input.type === "checkbox") input.checked = Boolean(value);
        else if (input.tagName === "SELECT") { if (value !== null && [...input.options].some((o) => o.value === String(value))) input.value = String(value); }
        else if (value === null) input.placeholder = input.placeholder || "model's own";
        else if (!Array.isArray(value)) input.value = value;
      }
    }
  }
}

// ---------------------------------------------------------------- uploads (checked by the server)
async function uploadFile(file, purpose) {
  const maxMb = state.info ? state.info.max_upload_mb : Infinity;
  if (file.size > maxMb * 1048576) throw new Error(`${file.name}: ${(file.size / 1048576).toFixed(1)} MB is over the upload limit of ${maxMb} MB`);
  const data = new FormData();
  data.append("file", file, file.name);
  return api(`/api/uploads?purpose=${purpose}`, { method: "POST", body: data });
}

function describeUpload(u) {
  if (u.kind === "midi") return `✓ ${u.name}: MIDI, ${u.notes} notes`;
  if (u.kind === "score") return `✓ ${u.name}: ${u.format === "abc" ? "ABC" : "MusicXML"} tune, ${u.notes} notes`;
  if (u.kind === "zip") return `✓ ${u.name}: ${u.files} MIDI files` + (u.skipped && u.skipped.length ? `, ${u.skipped.length} skipped` : "");
  if (u.kind === "audio") return `✓ ${u.name}: audio, ${u.seconds} s at ${u.sample_rate} Hz`;
  return `✓ ${u.name}`;
}

// Wire a file input: upload on change (for ``purpose``), remember the ids under state.uploads[key].
function wireUpload(inputSel, statusSel, key, purpose, onChange) {
  const input = $(inputSel);
  const status = $(statusSel);
  input.addEventListener("change", async () => {
    state.uploads[key] = [];
    status.className = "status";
    if (!input.files.length) { status.textContent = ""; if (onChange) onChange(); return; }
    status.textContent = "checking…";
    const lines = [];
    let failed = false;
    for (const file of input.files) {
      try {
        const u = await uploadFile(file, purpose);
        state.uploads[key].push(u);
        lines.push(describeUpload(u));
      } catch (err) {
        failed = true;
        lines.push(`✗ ${err.message}`);
        showMessage(err.message);
      }
    }
    status.textContent = lines.join("\n");
    status.className = failed ? "status error" : "status ok";
    if (!failed) clearMessage();
    saveUploads();
    if (onChange) onChange();
  });
}
const uploadIds = (key) => (state.uploads[key] || []).map((u) => u.id);

// ---------------------------------------------------------------- the forms survive a reload (localStorage)
// Every field of every form (and the uploads already checked by the server) is kept in this browser, so a
// reload, which finds the running job again, also finds the settings it was started with.
const FORMS = ["#gen-form", "#edit-form", "#train-form", "#audio-train-form", "#audio-gen-form", "#pipe-form"];
const UPLOAD_STATUS = { primer: "#primer-file-status", train: "#train-files-status", clip: "#audio-clip-status",
  seed: "#audio-seed-status", pipe: "#pipe-clip-status", tune: "#edit-file-status" };
const store = {
  get(key) { try { return JSON.parse(localStorage.getItem(`tunesmith:${key}`)); } catch (_) { return null; } },
  set(key, value) { try { localStorage.setItem(`tunesmith:${key}`, JSON.stringify(value)); } catch (_) { /* private mode */ } },
};
const fieldKey = (input) => input.name || input.id || (input.type === "checkbox" && input.value ? `check:${input.closest("[id]").id}:${input.value}` : null);

function saveForm(form) {
  const values = {};
  for (const input of form.querySelectorAll("input, select")) {
    const key = fieldKey(input);
    if (!key || input.type === "file") continue;
    values[key] = input.type === "checkbox" ? input.checked : input.value;
  }
  store.set(`form${form.id}`, values);
}

function restoreForms() {
  for (const sel of FORMS) {
    const form = $(sel);
    const values = store.get(`form${form.id}`);
    if (values) {
      for (const input of form.querySelectorAll("input, select")) {
        const key = fieldKey(input);
        if (!key || input.type === "file" || !(key in values)) continue;
        if (input.type === "checkbox") input.checked = Boolean(values[key]);
        else if (input.tagName !== "SELECT" || [...input.options].some((o) => o.value === values[key])) input.value = values[key];
      }
    }
    form.addEventListener("input", () => saveForm(form));
    form.addEventListener("change", () => saveForm(form));
  }
}

function saveUploads() { store.set("uploads", state.uploads); }
function restoreUploads() {
  const saved = store.get("uploads") || {};
  for (const [key, list] of Object.entries(saved)) {
    if (!Array.isArray(list) || !list.length || !UPLOAD_STATUS[key]) continue;
    state.uploads[key] = list;
    const status = $(UPLOAD_STATUS[key]);
    status.className = "status ok";
    status.textContent = list.map((u) => `${describeUpload(u)} (uploaded before the reload)`).join("\n");
  }
}

// ---------------------------------------------------------------- tabs, menus, models
const TABS = ["generate", "edit", "train", "audio", "pipeline", "history"];
function showTab(name, focus = false) {
  for (const b of document.querySelectorAll(".tabs [role=tab]")) {
    const on = b.dataset.tab === name;
    b.classList.toggle("active", on);
    b.setAttribute("aria-selected", on ? "true" : "false");
    b.tabIndex = on ? 0 : -1; // roving tabindex: one Tab stop for the whole tab list
    if (on && focus) b.focus();
  }
  for (const s of document.querySelectorAll(".tab")) s.classList.toggle("active", s.id === `tab-${name}`);
  history.replaceState(null, "", `#${name}`);
  if (name === "history") refreshHistory();
}

// The WAI-ARIA tabs pattern: Left/Right move to the previous/next tab (wrapping), Home/End to the first/last.
function wireTabs() {
  const list = $(".tabs");
  for (const b of list.querySelectorAll("[role=tab]")) b.addEventListener("click", () => showTab(b.dataset.tab));
  list.addEventListener("keydown", (ev) => {
    const tabs = [...list.querySelectorAll("[role=tab]")];
    const at = tabs.indexOf(document.activeElement);
    if (at < 0) return;
    const to = { ArrowRight: at + 1, ArrowLeft: at - 1, Home: 0, End: tabs.length - 1 }[ev.key];
    if (to === undefined) return;
    ev.preventDefault();
    showTab(tabs[(to + tabs.length) % tabs.length].dataset.tab, true);
  });
  $("#skip-generate").addEventListener("click", (ev) => { // the first Tab stop: straight to Generate
    ev.preventDefault();
    showTab("generate");
    $("#generate-btn").focus();
  });
}

function fillSelect(select, values, selected) {
  select.replaceChildren(...values.map(([value, label]) => el("option", { value, selected: value === selected }, label)));
}

function fillChecks(box, names, checked) {
  box.replaceChildren(...names.map((name) => el("label", { class: "check" },
    el("input", { type: "checkbox", value: name, checked: checked.includes(name) }), name)));
}
const checkedValues = (box) => [...box.querySelectorAll("input:checked")].map((i) => i.value);

// The menus keep what the user picked (also across a reload): a newly trained model is listed, never silently selected.
const MODEL_MENUS = ["#gen-model", "#edit-model", "#pipe-melody-model", "#audio-model", "#pipe-audio-model"];
const remembered = (sel) => { try { return localStorage.getItem(`tunesmith${sel}`); } catch (_) { return null; } };
function rememberChoices() {
  for (const sel of MODEL_MENUS) $(sel).addEventListener("change", (ev) => {
    try { localStorage.setItem(`tunesmith${sel}`, ev.target.value); } catch (_) { /* private mode: not remembered */ }
  });
}

async function refreshModels() {
  try {
    state.models = (await api("/api/models")).models;
  } catch (err) { showMessage(err.message); return; }
  const melody = state.models.filter((m) => m.kind === "melody");
  const audio = state.models.filter((m) => m.kind === "audio");
  // Generate also takes a polyphonic model (a melody and its accompaniment); Edit and the pipeline do not
  const generators = state.models.filter((m) => m.kind === "melody" || m.kind === "polyphonic");
  const opts = (list, none) => list.length ? list.map((m) => [m.name, m.name + [m.bundled ? " (shipped)" : "",
    m.kind === "polyphonic" ? " (polyphonic)" : ""].join("")]) : [["", none]];
  const keep = (node, list, fallback) => {
    for (const name of [node.value, remembered(`#${node.id}`)]) if (name && list.some((m) => m.name === name)) return name;
    return fallback;
  };
  for (const [sel, list, none] of [
    ["#gen-model", generators, "no melody model yet: train one"],
    ["#edit-model", melody, "no melody model yet: train one"],
    ["#pipe-melody-model", melody, "no melody model yet"],
    ["#audio-model", audio, "no audio model yet: train one"],
  ]) {
    const node = $(sel);
    fillSelect(node, opts(list, none), keep(node, list, list[0] && list[0].name));
  }
  const pipeAudio = $("#pipe-audio-model");
  const pipeChoice = [pipeAudio.value, remembered("#pipe-audio-model")]
    .find((v) => v === "train" || v === "none" || audio.some((m) => m.name === v)) || (audio[0] ? audio[0].name : "train");
  fillSelect(pipeAudio, [...audio.map((m) => [m.name, m.name]), ["train", "train one on the clip"], ["none", "none: transcribe the clip itself"]],
    pipeChoice);
  const table = $("#model-table");
  table.replaceChildren(el("tr", {}, el("th", { text: "name" }), el("th", { text: "kind" }), el("th", { text: "config" }),
    el("th", { text: "loss curve" })),
  ...state.models.map((m) => el("tr", {}, el("td", { text: m.name + (m.bundled ? " (shipped)" : "") }),
    el("td", { text: m.kind }), el("td", { text: m.config || "" }),
    el("td", {}, m.loss_png ? el("a", { href: m.loss_png, target: "_blank", text: "loss.png" }) : ""))));
  if (!state.models.length) table.append(el("tr", {}, el("td", { colspan: 4, text: "No models yet." })));
}

// ---------------------------------------------------------------- on-screen keyboard
const NOTE_NAMES = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"];
let audioCtx = null;
function beep(pitch) {
  try {
    audioCtx = audioCtx || new (window.AudioContext || window.webkitAudioContext)();
    const osc = audioCtx.createOscillator();
    const gain = audioCtx.createGain();
    osc.type = "triangle";
    osc.frequency.value = 440 * 2 ** ((pitch - 69) / 12);
    gain.gain.setValueAtTime(0.2, audioCtx.currentTime);
    gain.gain.exponentialRampToValueAtTime(0.001, audioCtx.currentTime + 0.5);
    osc.connect(gain).connect(audioCtx.destination);
    osc.start();
    osc.stop(audioCtx.currentTime + 0.5);
  } catch (_) { /* no audio output: the keyboard still types notes */ }
}

function buildKeyboard() {
  const kb = $("#keyboard");
  const primer = $("#primer");
  const low = 60, high = 84; // C4..C6
  let white = 0;
  for (let p = low; p <= high; p++) {
    const name = NOTE_NAMES[p % 12] + (Math.floor(p / 12) - 1);
    const black = name.includes("#");
    const key = el("button", { type: "button", class: black ? "key black" : "key white", "data-note": name, title: name },
      black ? "" : el("span", { text: p % 12 === 0 ? name : NOTE_NAMES[p % 12] }));
    if (black) key.style.left = `calc(${white} * var(--white-w) - var(--black-w) / 2)`;
    else white += 1;
    key.tabIndex = p === low ? 0 : -1; // one Tab stop for the keyboard; arrow keys move between its keys
    key.addEventListener("click", () => {
      if (primer.value.trim().startsWith("[")) primer.value = "";
      primer.value = (primer.value.trim() + " " + name).trim();
      beep(p);
      clearPrimerUpload();
    });
    kb.append(key);
  }
  kb.style.setProperty("--whites", white);
  kb.setAttribute("role", "group");
  kb.addEventListener("keydown", (ev) => {
    const keys = [...kb.querySelectorAll(".key")];
    const at = keys.indexOf(document.activeElement);
    const to = { ArrowRight: at + 1, ArrowLeft: at - 1, Home: 0, End: keys.length - 1 }[ev.key];
    if (at < 0 || to === undefined) return;
    ev.preventDefault();
    const next = keys[Math.max(0, Math.min(keys.length - 1, to))];
    for (const k of keys) k.tabIndex = k === next ? 0 : -1;
    next.focus();
  });
  const add = (tok) => { primer.value = (primer.value.trim() + " " + tok).trim(); };
  $("#kb-hold").addEventListener("click", () => add("_"));
  $("#kb-rest").addEventListener("click", () => add("-"));
  $("#kb-undo").addEventListener("click", () => { primer.value = primer.value.trim().split(/\s+/).slice(0, -1).join(" "); });
  $("#kb-clear").addEventListener("click", () => { primer.value = ""; });
}

function clearPrimerUpload() {
  if (!(state.uploads.primer || []).length) return;
  state.uploads.primer = [];
  $("#primer-file").value = "";
  $("#primer-file-status").textContent = "";
  updatePrimerBars();
}

// ---------------------------------------------------------------- jobs: follow one until it ends
// Every long action is a job on the server, kept in its history: after a reload (or a server restart)
// the page finds running jobs again and follows them, and shows the latest result of each tab.
const VIEWS = {
  generate: { tab: "generate", progress: "#gen-progress", status: "#gen-status", cancel: "#gen-cancel", button: "#generate-btn",
    warnings: "#gen-warnings", show: (j) => renderGeneration(j.result) },
  "melody-train": { tab: "train", progress: "#train-progress", status: "#train-status", chart: "#train-chart", cancel: "#train-cancel",
    button: "#train-btn", warnings: "#train-warnings", show: (j) => showTrainResult(j, "#train-result", "Model") },
  "audio-train": { tab: "audio", progress: "#audio-progress", status: "#audio-status", chart: "#audio-chart", cancel: "#audio-cancel",
    button: "#audio-train-btn", warnings: "#audio-warnings", show: (j) => showTrainResult(j, "#audio-train-result", "Audio model") },
  "audio-generate": { tab: "audio", progress: "#audio-gen-progress", status: "#audio-gen-status", cancel: "#audio-gen-cancel",
    button: "#audio-gen-btn", warnings: "#audio-gen-warnings", show: (j) => renderAudio(j.result) },
  pipeline: { tab: "pipeline", progress: "#pipe-progress", status: "#pipe-status", cancel: "#pipe-cancel", button: "#pipe-btn",
    warnings: "#pipe-warnings", show: (j) => showGallery(j.result) },
  edit: { tab: "edit", progress: "#edit-progress", status: "#edit-status", cancel: "#edit-cancel",
    buttons: ["#edit-infill-btn", "#edit-vary-btn", "#edit-chords-btn"], warnings: "#edit-warnings", show: (j) => renderEdit(j.result) },
};

// What the library warned about (a primer moved by octaves, cut to its last bars...), beside the job's status.
function showWarnings(view, job) {
  const box = $(view.warnings);
  const list = (job && job.warnings) || [];
  box.replaceChildren(...list.map((w) => el("li", { text: w })));
  box.classList.toggle("hidden", !list.length);
}

function follow(jobId, kind) {
  const view = VIEWS[kind];
  if (!view || state.polling[jobId]) return;
  state.polling[jobId] = true;
  const progress = $(view.progress), status = $(view.status), cancelBtn = $(view.cancel);
  const buttons = (view.buttons || [view.button]).map((sel) => $(sel));
  const button = { set disabled(on) { for (const b of buttons) b.disabled = on; } }; // one switch for them all
  const chart = view.chart ? $(view.chart) : null;
  let since = 0;
  const rows = [];
  if (chart) chart.replaceChildren();
  button.disabled = true;
  progress.classList.remove("hidden");
  progress.value = 0;
  cancelBtn.disabled = false;
  cancelBtn.onclick = async () => {
    cancelBtn.disabled = true;
    try { await api(`/api/jobs/${jobId}/cancel`, { method: "POST" }); status.textContent = "cancelling…"; }
    catch (err) { showMessage(err.message); }
  };
  const tick = async () => {
    let job;
    try {
      job = await api(`/api/jobs/${jobId}?since=${since}`);
    } catch (err) {
      status.textContent = err.message;
      status.className = "status error";
      if (/no such job/.test(err.message)) { delete state.polling[jobId]; button.disabled = false; cancelBtn.disabled = true; return; }
      setTimeout(tick, 3000);
      return;
    }
    since = job.log_total;
    rows.push(...job.log);
    progress.value = job.progress;
    showWarnings(view, job);
    if (chart && rows.length) drawChart(chart, rows);
    const running = job.status === "queued" || job.status === "running";
    status.textContent = `${job.status}${job.message ? ": " + job.message : ""}` + (running ? ` (${Math.round(job.progress * 100)} %)` : "");
    status.className = job.status === "error" ? "status error" : "status";
    if (running) { setTimeout(tick, 600); return; }
    delete state.polling[jobId];
    cancelBtn.disabled = true;
    button.disabled = false;
    if (job.status === "error") showMessage(job.error || "the job failed");
    else if (job.status === "done") clearMessage();
    if (job.result) view.show(job);
    if (kind.endsWith("train")) await refreshModels();
    if ($("#tab-history").classList.contains("active")) refreshHistory();
  };
  tick();
}

// After a reload: follow what is still running, and show the latest result of each kind.
async function resumeJobs() {
  let jobs;
  try { jobs = (await api("/api/jobs?limit=200")).jobs; } catch (err) { showMessage(err.message); return; }
  const seen = new Set();
  for (const job of jobs) { // newest first
    if (seen.has(job.kind) || !VIEWS[job.kind]) continue;
    seen.add(job.kind);
    showWarnings(VIEWS[job.kind], job);
    if (job.status === "queued" || job.status === "running") follow(job.id, job.kind);
    else if (job.result) {
      VIEWS[job.kind].show(job);
      const status = $(VIEWS[job.kind].status);
      status.textContent = `${job.status}${job.message ? ": " + job.message : ""} (${new Date(job.created * 1000).toLocaleString()})`;
    } else if (job.status === "interrupted" || job.status === "error") {
      $(VIEWS[job.kind].status).textContent = `${job.status}: ${job.error || job.message}`;
    }
  }
}

const KIND_NAMES = { generate: "generate", edit: "edit a tune", "melody-train": "train melody model", "audio-train": "train audio model",
  "audio-generate": "generate audio", pipeline: "pipeline" };

function jobSummary(job) {
  const p = job.params || {};
  const r = job.result || {};
  if (job.kind === "generate" && p.model_kind === "polyphonic") return `${plural(p.n, "piece", "pieces")} (${p.primer || "empty start"}), ${p.model}, seed ${p.seed}`;
  if (job.kind === "generate") return `${p.n} × (${p.primer || "random start"} + ${p.steps} new steps), ${p.model}, seed ${p.seed}`;
  if (job.kind === "edit") return `${p.edit} of ${p.tune || `chords ${p.progression}`}` + (p.edit === "infill" ? ` bars ${p.bars}` : "") +
    `, ${plural(p.n, "version", "versions")}, ${p.model}, seed ${p.seed}`;
  if (job.kind.endsWith("train")) return `${r.model || p.model}` + (r.step ? `, ${r.step} steps` : "");
  if (job.kind === "audio-generate") return `${p.model}, ${p.seconds} s × ${p.n}`;
  if (job.kind === "pipeline") return `${plural(p.n, "melody", "melodies")}, audio model ${p.audio_model}`;
  return "";
}

async function refreshHistory() {
  let jobs;
  try { jobs = (await api("/api/jobs?limit=200")).jobs; } catch (err) { showMessage(err.message); return; }
  const table = $("#history-table");
  const rows = jobs.map((job) => {
    const open = job.result ? el("button", { type: "button", class: "small", "data-job": job.id, text: "open" }) : null;
    if (open) open.addEventListener("click", async () => {
      const full = await api(`/api/jobs/${job.id}`);
      VIEWS[job.kind].show(full);
      showWarnings(VIEWS[job.kind], full);
      showTab(VIEWS[job.kind].tab);
    });
    const running = job.status === "queued" || job.status === "running";
    return el("tr", { class: `job-${job.status}` },
      el("td", { text: new Date(job.created * 1000).toLocaleString() }),
      el("td", { text: KIND_NAMES[job.kind] || job.kind }),
      el("td", { text: job.status + (running ? ` ${Math.round(job.progress * 100)} %` : "") }),
      el("td", { text: jobSummary(job) + (job.error ? ` — ${job.error}` : job.message ? ` — ${job.message}` : "") }),
      el("td", {}, open));
  });
  table.replaceChildren(el("tr", {}, ...["started", "what", "status", "details", ""].map((t) => el("th", { text: t }))), ...rows);
  if (!jobs.length) table.append(el("tr", {}, el("td", { colspan: 5, text: "Nothing yet." })));
  const info = state.info;
  if (info) $("#history-note").textContent = `The newest ${info.keep_results} results are kept` +
    (info.max_work_mb ? `, within ${info.max_work_mb} MB` : "") + "; older ones are removed (tunesmith web --keep-results / --max-work-mb).";
}

// A small SVG line chart of loss vs step (train and eval), drawn from the job's log rows.
function drawChart(svg, rows) {
  const W = 800, H = 220, L = 50, R = 10, T = 12, B = 28;
  const series = { train: [], eval: [] };
  for (const r of rows) if (typeof r.loss === "number" && typeof r.step === "number") (series[r.split] || series.train).push([r.step, r.loss]);
  const all = [...series.train, ...series.eval];
  if (!all.length) return;
  const xs = all.map((p) => p[0]), ys = all.map((p) => p[1]);
  const x0 = Math.min(...xs), x1 = Math.max(...xs, x0 + 1), y0 = Math.min(...ys), y1 = Math.max(...ys);
  const sx = (x) => L + (x - x0) / (x1 - x0 || 1) * (W - L - R);
  const sy = (y) => T + (1 - (y - y0) / (y1 - y0 || 1)) * (H - T - B);
  const ns = "http://www.w3.org/2000/svg";
  const make = (tag, attrs) => { const n = document.createElementNS(ns, tag); for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, v); return n; };
  const parts = [make("rect", { x: L, y: T, width: W - L - R, height: H - T - B, class: "plot-bg" })];
  for (const [y, anchor] of [[y1, "hanging"], [y0, "auto"]]) {
    const t = make("text", { x: L - 6, y: sy(y), "text-anchor": "end", "dominant-baseline": anchor, class: "axis" });
    t.textContent = y.toFixed(3); parts.push(t);
  }
  for (const [x, anchor] of [[x0, "start"], [x1, "end"]]) {
    const t = make("text", { x: sx(x), y: H - 8, "text-anchor": anchor, class: "axis" });
    t.textContent = `step ${x}`; parts.push(t);
  }
  const legend = make("text", { x: L + 8, y: T + 16, class: "axis" });
  legend.textContent = "loss — train (blue), eval (orange)"; parts.push(legend);
  for (const [split, cls] of [["train", "line-train"], ["eval", "line-eval"]]) {
    const pts = series[split];
    if (!pts.length) continue;
    parts.push(make("polyline", { points: pts.map(([x, y]) => `${sx(x)},${sy(y)}`).join(" "), class: cls }));
    for (const [x, y] of pts.slice(-1)) parts.push(make("circle", { cx: sx(x), cy: sy(y), r: 3, class: cls }));
  }
  svg.replaceChildren(...parts);
}

// ---------------------------------------------------------------- record a phrase with the microphone
// MediaRecorder gives compressed audio (webm/opus); the browser decodes it and the page uploads a plain
// 16-bit WAV, which the server checks and the library transcribes into the primer like any clip.
const MAX_RECORD_SECONDS = 30;

function wavBlob(audio) {
  const channels = audio.numberOfChannels, n = audio.length, rate = audio.sampleRate;
  const mono = new Float32Array(n);
  for (let c = 0; c < channels; c++) {
    const data = audio.getChannelData(c);
    for (let i = 0; i < n; i++) mono[i] += data[i] / channels;
  }
  const view = new DataView(new ArrayBuffer(44 + 2 * n));
  const text = (at, s) => { for (let i = 0; i < s.length; i++) view.setUint8(at + i, s.charCodeAt(i)); };
  text(0, "RIFF"); view.setUint32(4, 36 + 2 * n, true); text(8, "WAVE"); text(12, "fmt ");
  view.setUint32(16, 16, true); view.setUint16(20, 1, true); view.setUint16(22, 1, true); view.setUint32(24, rate, true);
  view.setUint32(28, 2 * rate, true); view.setUint16(32, 2, true); view.setUint16(34, 16, true);
  text(36, "data"); view.setUint32(40, 2 * n, true);
  for (let i = 0; i < n; i++) {
    const x = Math.max(-1, Math.min(1, mono[i]));
    view.setInt16(44 + 2 * i, x < 0 ? x * 0x8000 : x * 0x7fff, true);
  }
  return new Blob([view.buffer], { type: "audio/wav" });
}

async function startRecording() {
  const status = $("#rec-status");
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia || !window.MediaRecorder) {
    showMessage("this browser cannot record here: recording needs the studio opened as localhost (or over https) and a microphone");
    return;
  }
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ audio: true });
  } catch (err) {
    showMessage(`no microphone to record from (${err.message}); allow the microphone for this page and try again`);
    return;
  }
  const chunks = [];
  const recorder = new MediaRecorder(stream);
  const started = performance.now();
  recorder.ondataavailable = (ev) => { if (ev.data.size) chunks.push(ev.data); };
  recorder.onstop = async () => {
    clearInterval(state.recordTimer);
    for (const track of stream.getTracks()) track.stop();
    $("#rec-start").disabled = false;
    $("#rec-stop").disabled = true;
    status.textContent = "checking the recording…";
    try {
      const ctx = new (window.AudioContext || window.webkitAudioContext)();
      const decoded = await ctx.decodeAudioData(await new Blob(chunks, { type: recorder.mimeType }).arrayBuffer());
      ctx.close();
      const wav = wavBlob(decoded);
      const upload = await uploadFile(new File([wav], "recording.wav", { type: "audio/wav" }), "primer");
      state.uploads.primer = [upload];
      $("#primer").value = "";
      $("#primer-file").value = "";
      $("#primer-file-status").className = "status ok";
      $("#primer-file-status").textContent = `${describeUpload(upload)} (recorded)`;
      const player = $("#rec-audio");
      player.src = URL.createObjectURL(wav);
      player.classList.remove("hidden");
      status.textContent = "";
      updatePrimerBars();
      clearMessage();
    } catch (err) {
      status.textContent = "";
      showMessage(err.message);
    }
  };
  recorder.start();
  state.recorder = recorder;
  $("#rec-start").disabled = true;
  $("#rec-stop").disabled = false;
  state.recordTimer = setInterval(() => {
    const seconds = (performance.now() - started) / 1000;
    status.textContent = `recording… ${seconds.toFixed(0)} s`;
    if (seconds >= MAX_RECORD_SECONDS) stopRecording();
  }, 250);
}

function stopRecording() {
  if (state.recorder && state.recorder.state === "recording") state.recorder.stop();
}

// ---------------------------------------------------------------- Generate tab
const LL_HELP = "log-likelihood: how probable the model finds this melody (natural log, summed over its steps). " +
  "Closer to 0 = more typical of what the model learned; compare it only between melodies of the same length.";

function renderGeneration(result) {
  const box = $("#gen-results");
  const polyphonic = result.model_kind === "polyphonic"; // pieces of two parts: counts by part, a PNG roll coloured by part
  const cards = result.outputs.map((o) => {
    const u = o.urls;
    const links = [el("a", { href: u.midi, download: o.files.midi, class: "button midi-link", text: "⬇ MIDI" })];
    for (const a of o.audio) links.push(el("a", { href: a.url, download: o.files[`audio_${a.instrument}`], class: "button", text: `⬇ WAV (${a.instrument})` }));
    if (u.video) links.push(el("a", { href: u.video, download: o.files.video, class: "button", text: "⬇ MP4" }));
    for (const [key, label] of [["abc", "⬇ ABC"], ["musicxml", "⬇ MusicXML"], ["score_svg", "⬇ score (SVG)"]]) {
      if (u[key]) links.push(el("a", { href: u[key], download: o.files[key], class: "button", text: label }));
    }
    if (o.chords) links.push(el("span", { class: "meta", text: `chords: ${o.chords.join(" ")}` }));
    const players = o.audio.map((a) => el("figure", { class: "player" }, el("figcaption", { text: a.instrument }),
      el("audio", { controls: true, preload: "metadata", src: a.url, "data-instrument": a.instrument })));
    return el("article", { class: "card result" },
      el("div", { class: "result-head" }, el("h3", { text: o.name }),
        polyphonic
          ? el("span", { class: "meta", text: `${o.notes} notes (${o.notes_per_part[0]} melody, ${o.notes_per_part[1]} accompaniment) · ${o.bars} bars` })
          : el("span", { class: "meta", title: LL_HELP },
            `${o.notes} notes · ${o.steps} steps · `, el("abbr", { text: "log-likelihood" }), ` ${o.log_likelihood.toFixed(1)}`),
        el("div", { class: "links" }, links)),
      players.length ? el("div", { class: "players" }, players) : null,
      u.video ? el("video", { class: "video", controls: true, preload: "metadata", src: u.video }) : null,
      u.piano_roll_html || u.score_svg ? el("p", { class: "scroll-hint", text: "the piano roll and the score scroll sideways →" }) : null,
      u.piano_roll_html ? el("div", { class: "roll-box", tabindex: 0, role: "region", "aria-label": `piano roll of ${o.name} (scrolls sideways)` },
        fitFrame(el("iframe", { class: "roll", src: u.piano_roll_html, title: `piano roll of ${o.name}` }))) : null,
      polyphonic && u.piano_roll_png ? el("div", { class: "roll-box", tabindex: 0, role: "region", "aria-label": `piano roll of ${o.name} (scrolls sideways)` },
        el("img", { class: "roll-png", src: u.piano_roll_png, alt: `piano roll of ${o.name}: melody red, accompaniment blue` })) : null,
      u.score_svg ? el("div", { class: "roll-box score-box", tabindex: 0, role: "region", "aria-label": `score of ${o.name} (scrolls sideways)` },
        el("img", { class: "score", src: u.score_svg, alt: `score of ${o.name}` })) : null);
  });
  if (polyphonic) { // not offered to the Edit tab: it rewrites melodies, not pieces of two parts
    box.replaceChildren(
      el("p", { class: "summary", text: `${plural(result.outputs.length, "piece", "pieces")} (melody + accompaniment) from ${result.model}: ` +
        `${result.primer ? `primer ${result.primer}` : "an empty start"}, seed ${result.settings.seed}.` }),
      result.note ? el("p", { class: "help note", text: `Note: ${result.note}.` }) : null,
      ...cards);
    return;
  }
  const primer = result.primer ? `primer ${result.primer}` + (result.primer_bars ? ` (last ${result.primer_bars} bar${result.primer_bars > 1 ? "s" : ""})` : "") : "a random start note";
  const made = result.stopped ? `${result.outputs.length} of ${plural(result.n, "melody", "melodies")} (cancelled: the ones written before the stop)`
    : plural(result.outputs.length, "melody", "melodies");
  offerToEdit("generation", result);
  box.replaceChildren(
    el("p", { class: "summary", text: `${made} from ${result.model}: ${primer}, ${result.primer_steps} primer steps + ${result.new_steps} new steps, seed ${result.settings.seed}.` }),
    el("p", { class: "help", text: LL_HELP }),
    ...cards);
}

// The piano roll is a page of its own, as wide as the melody is long: its frame takes that width, and the box
// around it scrolls sideways (on a phone the whole roll is reachable, not its first seconds).
function fitFrame(frame) {
  const fit = () => {
    try {
      const doc = frame.contentDocument;
      const width = Math.max(doc.documentElement.scrollWidth, doc.body ? doc.body.scrollWidth : 0);
      if (width > frame.clientWidth + 2) frame.style.width = `${width + 2}px`;
      const height = doc.documentElement.scrollHeight;
      if (height > frame.clientHeight + 2) frame.style.height = `${height + 2}px`;
    } catch (_) { /* not readable: keep the CSS size */ }
  };
  // the plot is drawn by its script after the page loads: measure again until it has its size
  frame.addEventListener("load", () => { for (const ms of [0, 250, 750, 1500, 3000, 6000]) setTimeout(fit, ms); });
  return frame;
}

function primerIsUpload() { return uploadIds("primer").length > 0; }
function updatePrimerBars() { // "continue from the last N bars" applies to an uploaded tune or clip
  const wrap = $("#gen-primer-bars-field");
  const u = (state.uploads.primer || [])[0];
  wrap.classList.toggle("dim", !u);
  $("#gen-primer-bars").disabled = !u;
}

async function onGenerate(ev) {
  ev.preventDefault();
  const form = $("#gen-form");
  const v = formValues(form);
  const primerUpload = uploadIds("primer")[0];
  const bars = $("#gen-primer-bars").value;
  const body = {
    model: v.model, primer: primerUpload ? "" : ($("#primer").value || ""), primer_upload: primerUpload || null,
    primer_bars: primerUpload && bars ? Number(bars) : null,
    n: v.n, steps: v.steps, temperature: v.temperature, beam_size: v.beam_size, seed: v.seed, qpm: v.qpm || null,
    key: v.key || null, scale: v.scale, instruments: checkedValues($("#gen-instruments")), video: $("#gen-video").checked,
    bars: v.bars || null, form: v.form || "auto", meter: v.meter || null, end_on_tonic: v.end_on_tonic,
    top_k: v.top_k || null, top_p: v.top_p || null, min_p: v.min_p || null, chords: v.chords, formats: v.formats,
  };
  if (!body.model) { showMessage("no melody model yet: train one in the “Train melody model” tab"); return; }
  const status = $("#gen-status");
  status.className = "status";
  status.textContent = "starting…";
  try {
    const { job } = await postJSON("/api/generate", body);
    clearMessage();
    follow(job, "generate");
  } catch (err) {
    status.textContent = "";
    showMessage(err.message);
  }
}


// ---------------------------------------------------------------- Edit tab
// A tune is a strip of bars (press bars to choose them; the Bars field follows, and the other way round). The
// versions come back side by side, each bar marked rewritten (orange) or kept note for note (grey).
const SVG_NS = "http://www.w3.org/2000/svg";
state.edit = { roll: null, sources: {} };

function parseBars(text) { // "3,7-8" -> Set {3, 7, 8}; anything unreadable is left to the server to explain
  const out = new Set();
  for (const part of text.replace(/\s+/g, "").split(",")) {
    const m = part.match(/^(\d+)(?:-(\d+))?$/);
    if (!m) continue;
    for (let b = Number(m[1]); b <= Number(m[2] || m[1]) && b - Number(m[1]) < 1000; b++) out.add(b);
  }
  return out;
}
function barsText(set) { // Set {3, 7, 8} -> "3,7-8"
  const spans = [];
  for (const b of [...set].sort((a, c) => a - c)) {
    const last = spans[spans.length - 1];
    if (last && last[1] === b - 1) last[1] = b; else spans.push([b, b]);
  }
  return spans.map(([a, c]) => (a === c ? `${a}` : `${a}-${c}`)).join(",");
}

// One bar's notes as a small piano roll (SVG), pitches scaled to the tune's range.
function barSvg(roll, bar, lo, hi) {
  const spb = roll.steps_per_bar, W = 60, H = 44;
  const svg = document.createElementNS(SVG_NS, "svg");
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  svg.setAttribute("preserveAspectRatio", "none");
  svg.setAttribute("aria-hidden", "true");
  const row = H / (hi - lo + 1);
  for (const [pitch, start, end] of roll.notes) {
    const a = Math.max(start, bar * spb), b = Math.min(end, (bar + 1) * spb);
    if (b <= a) continue;
    const r = document.createElementNS(SVG_NS, "rect");
    r.setAttribute("x", ((a - bar * spb) / spb) * W + 0.5);
    r.setAttribute("width", Math.max(1, ((b - a) / spb) * W - 1));
    r.setAttribute("y", (hi - pitch) * row);
    r.setAttribute("height", Math.max(1.5, row));
    svg.append(r);
  }
  return svg;
}

// The bars of a roll: buttons to choose (``pick``: the chosen set, ``onPick``) or marked cells (``rewritten``).
function barStrip(roll, { pick = null, onPick = null, rewritten = null, chords = null, range = null } = {}) {
  const [lo, hi] = range || pitchRange([roll]);
  const cells = [];
  for (let b = 0; b < roll.bars; b++) {
    const n = b + 1;
    const cell = pick
      ? el("button", { type: "button", class: "bar", "data-bar": n, "aria-pressed": String(pick.has(n)), title: `bar ${n}` })
      : el("div", { class: `bar ${rewritten && rewritten.has(n) ? "new" : "kept"}`, "data-bar": n,
        title: `bar ${n}: ${rewritten && rewritten.has(n) ? "rewritten" : "kept"}` });
    if (chords) cell.append(el("span", { class: "bar-chord", text: chords[b] || "" }));
    cell.append(barSvg(roll, b, lo, hi), el("span", { class: "bar-no", text: String(n) }));
    if (pick) cell.addEventListener("click", () => onPick(n));
    cells.push(cell);
  }
  return cells;
}

function pitchRange(rolls) { // one pitch scale for rolls shown side by side
  const pitches = rolls.flatMap((r) => r.notes.map((n) => n[0]));
  return pitches.length ? [Math.min(...pitches), Math.max(...pitches)] : [60, 72];
}

function drawEditTune() {
  const box = $("#edit-tune");
  const roll = state.edit.roll;
  if (!roll) { box.replaceChildren(); return; }
  const chosen = parseBars($("#edit-bars").value);
  box.replaceChildren(...barStrip(roll, { pick: chosen, onPick: (n) => {
    const now = parseBars($("#edit-bars").value);
    if (now.has(n)) now.delete(n); else now.add(n);
    $("#edit-bars").value = barsText(now);
    saveForm($("#edit-form"));
    drawEditTune();
    const again = $(`#edit-tune [data-bar="${n}"]`);
    if (again) again.focus();
  } }));
}

function editSource() { // what the request names as the tune: an upload, a melody of an earlier job, or nothing
  const value = $("#edit-source").value;
  if (value === "upload") { const id = uploadIds("tune")[0]; return id ? { tune_upload: id } : {}; }
  const [job, name] = value.split(":");
  return job && name ? { tune_job: job, tune_name: name } : {};
}

// The melodies of the last generation and of the last edit are tunes to edit (so edits can follow edits).
function offerToEdit(what, result) {
  if (!result || !result.job || !result.outputs) return;
  state.edit.sources[what] = result;
  const select = $("#edit-source");
  const keep = store.get("edit-source") || select.value; // the choice made before a reload, once its job is back
  const items = [["upload", "an uploaded tune (MIDI, ABC, MusicXML)"]];
  for (const [kind, r] of Object.entries(state.edit.sources)) {
    for (const o of r.outputs) items.push([`${r.job}:${o.name}`, `${o.name} of the last ${kind}`]);
  }
  fillSelect(select, items, items.some(([v]) => v === keep) ? keep : "upload");
  updateEditSource(false);
}

async function loadEditTune() {
  const source = editSource();
  state.edit.roll = null;
  drawEditTune();
  if (!source.tune_upload && !source.tune_job) return;
  const query = new URLSearchParams({ ...source, model: $("#edit-model").value || "default" });
  if (source.tune_job) { query.set("job", source.tune_job); query.set("name", source.tune_name); query.delete("tune_job"); query.delete("tune_name"); }
  if (source.tune_upload) { query.set("upload", source.tune_upload); query.delete("tune_upload"); }
  try {
    state.edit.roll = await api(`/api/edit/tune?${query}`);
    drawEditTune();
  } catch (err) { showMessage(err.message); }
}

function updateEditSource(load = true) {
  const upload = $("#edit-source").value === "upload";
  $("#edit-file-field").classList.toggle("hidden", !upload);
  $("#edit-file-status").classList.toggle("hidden", !upload);
  if (load) loadEditTune();
}

async function onEdit(kind) {
  const v = formValues($("#edit-form"));
  const source = editSource();
  if (!v.model) { showMessage("no melody model yet: train one in the “Train melody model” tab"); return; }
  if (kind !== "over-chords" && !source.tune_upload && !source.tune_job) {
    showMessage("choose a tune: upload a MIDI, ABC or MusicXML tune, or pick a melody of the last generation");
    return;
  }
  if (kind === "infill" && !(v.bars || "").trim()) { showMessage("choose the bars to rewrite: press them on the tune's bars, or type 5-6"); return; }
  const ownChords = v.own_chords && (source.tune_upload || source.tune_job);
  if (kind === "over-chords" && !(v.progression || "").trim() && !ownChords) {
    showMessage("type a chord progression, one chord a bar: C G Am F (or tick “use the tune's own chords”)");
    return;
  }
  const body = { ...v, ...source, edit: kind, instruments: checkedValues($("#edit-instruments")), plot: false,
    bars: v.bars || "", progression: v.progression || "", key: v.key || null };
  if (kind === "over-chords" && !ownChords) { delete body.tune_upload; delete body.tune_job; delete body.tune_name; }
  const status = $("#edit-status");
  status.className = "status";
  status.textContent = "starting…";
  try {
    const { job } = await postJSON("/api/edit", body);
    clearMessage();
    follow(job, "edit");
  } catch (err) {
    status.textContent = "";
    showMessage(err.message);
  }
}

function renderEdit(result) {
  const box = $("#edit-results");
  if (!result || !result.outputs) return;
  offerToEdit("edit", result);
  const did = { infill: "rewritten bars", vary: "variations", "over-chords": "melodies over chords" }[result.edit] || result.edit;
  const cards = [];
  const range = pitchRange([result.tune_roll, ...result.outputs.map((o) => o.roll)].filter(Boolean));
  if (result.tune_roll) {
    cards.push(el("article", { class: "card result original" },
      el("div", { class: "result-head" }, el("h3", { text: "original" }), el("span", { class: "meta", text: result.tune })),
      el("div", { class: "bar-strip" }, barStrip(result.tune_roll, { rewritten: new Set(), range }))));
  }
  for (const o of result.outputs) {
    const u = o.urls;
    const rewritten = new Set(result.edit === "over-chords" ? Array.from({ length: o.roll.bars }, (_, i) => i + 1) : o.infilled || []);
    const links = [el("a", { href: u.midi, download: o.files.midi, class: "button midi-link", text: "⬇ MIDI" })];
    for (const a of o.audio) links.push(el("a", { href: a.url, download: o.files[`audio_${a.instrument}`], class: "button", text: `⬇ WAV (${a.instrument})` }));
    for (const [key, label] of [["abc", "⬇ ABC"], ["musicxml", "⬇ MusicXML"], ["score_svg", "⬇ score"]]) {
      if (u[key]) links.push(el("a", { href: u[key], download: o.files[key], class: "button", text: label }));
    }
    const what = result.edit === "vary" ? `${o.strength}, bars ${barsText(new Set(o.infilled))} rewritten`
      : result.edit === "infill" ? `bars ${barsText(new Set(o.infilled))} rewritten` : `${o.bars} bars`;
    cards.push(el("article", { class: "card result version", "data-name": o.name },
      el("div", { class: "result-head" }, el("h3", { text: o.name }), el("span", { class: "meta", text: `${o.notes} notes · ${what}` })),
      el("div", { class: "bar-strip" }, barStrip(o.roll, { rewritten, chords: o.roll.chords, range })),
      o.chords ? el("p", { class: "meta chords", text: `chords: ${o.chords.join(" ")}` }) : null,
      ...o.audio.map((a) => el("audio", { controls: true, preload: "metadata", src: a.url, "data-instrument": a.instrument })),
      el("div", { class: "links" }, links)));
  }
  box.replaceChildren(
    el("p", { class: "summary", text: `${plural(result.outputs.length, "version", "versions")}: ${did}` +
      (result.tune ? ` of ${result.tune}` : "") + `, ${result.model}, seed ${result.seed}.` }),
    el("p", { class: "legend" }, el("span", { class: "swatch new" }), " rewritten  ", el("span", { class: "swatch kept" }), " kept note for note"),
    el("div", { class: "edit-grid" }, cards));
}

function wireEdit() {
  wireUpload("#edit-file", "#edit-file-status", "tune", "tune", loadEditTune);
  $("#edit-source").addEventListener("change", () => { store.set("edit-source", $("#edit-source").value); updateEditSource(); });
  $("#edit-model").addEventListener("change", loadEditTune);
  $("#edit-bars").addEventListener("input", drawEditTune);
  $("#edit-form").addEventListener("submit", (ev) => { ev.preventDefault(); onEdit("infill"); });
  $("#edit-vary-btn").addEventListener("click", () => onEdit("vary"));
  $("#edit-chords-btn").addEventListener("click", () => onEdit("over-chords"));
}

// ---------------------------------------------------------------- Train melody model tab
function showTrainResult(job, boxSel, what) {
  const r = job.result;
  const stopped = job.status === "cancelled" ? " (stopped early)" : "";
  const ev = r.eval && typeof r.eval.loss === "number" ? `, eval loss ${r.eval.loss.toFixed(3)}` : "";
  const melodies = r.train_melodies ? `, ${r.train_melodies} training melodies` : "";
  $(boxSel).replaceChildren(
    el("p", { class: "ok", text: `${what} “${r.model}” is ready${stopped}: ${r.step} steps${melodies}${ev}. Pick it in the model menus to use it.` }),
    r.loss_png ? el("img", { src: r.loss_png, alt: "loss curve", class: "plot" }) : null);
}

async function onTrain(ev) {
  ev.preventDefault();
  const v = formValues($("#train-form"));
  const body = { name: v.name, config: v.config, steps: v.steps, batch_size: v.batch_size, seed: v.seed,
    uploads: uploadIds("train"), folder: v.folder || null };
  if (!body.uploads.length && !body.folder) {
    showMessage(state.info && state.info.data_root ? "choose MIDI files (or a zip), or type a folder inside the data folder" : "choose MIDI files (or a zip)");
    return;
  }
  $("#train-result").replaceChildren();
  try {
    const { job, model } = await postJSON("/api/melody/train", body);
    clearMessage();
    $("#train-status").textContent = `training ${model}…`;
    follow(job, "melody-train");
  } catch (err) {
    showMessage(err.message);
  }
}

// ---------------------------------------------------------------- Audio model tab
async function onAudioTrain(ev) {
  ev.preventDefault();
  const clip = uploadIds("clip")[0];
  if (!clip) { showMessage("choose an audio clip to train on"); return; }
  const body = { ...formValues($("#audio-train-form")), clip_upload: clip };
  $("#audio-train-result").replaceChildren();
  try {
    const { job, model } = await postJSON("/api/audio/train", body);
    clearMessage();
    $("#audio-status").textContent = `training ${model}…`;
    follow(job, "audio-train");
  } catch (err) {
    showMessage(err.message);
  }
}

function renderAudio(r) {
  const specs = r.spectrograms || [];
  const items = [el("figure", { class: "audio-out" }, el("figcaption", { text: "seed clip" }),
    el("audio", { controls: true, src: r.seed_url }), specs[0] ? el("img", { src: specs[0], class: "plot", alt: "seed spectrogram" }) : null)];
  r.outputs.forEach((url, i) => items.push(el("figure", { class: "audio-out" },
    el("figcaption", {}, `output ${i + 1} `, el("a", { href: url, download: `output_${i + 1}.wav`, text: "⬇ WAV" })),
    el("audio", { controls: true, src: url }), specs[i + 1] ? el("img", { src: specs[i + 1], class: "plot", alt: `spectrogram ${i + 1}` }) : null)));
  $("#audio-results").replaceChildren(...items);
}

async function onAudioGenerate(ev) {
  ev.preventDefault();
  const v = formValues($("#audio-gen-form"));
  const clip = uploadIds("seed")[0] || uploadIds("clip")[0];
  if (!v.model) { showMessage("no audio model yet: train one above"); return; }
  if (!clip) { showMessage("choose a seed clip (or a training clip above)"); return; }
  try {
    const { job } = await postJSON("/api/audio/generate", { ...v, clip_upload: clip });
    clearMessage();
    follow(job, "audio-generate");
  } catch (err) {
    showMessage(err.message);
  }
}

// ---------------------------------------------------------------- Pipeline tab
function showGallery(result) {
  if (!result || !result.index) return;
  const frame = $("#pipe-gallery");
  frame.src = result.index;
  frame.classList.remove("hidden");
}

async function onPipeline(ev) {
  ev.preventDefault();
  const clip = uploadIds("pipe")[0];
  if (!clip) { showMessage("choose an audio clip for the pipeline"); return; }
  const body = { ...formValues($("#pipe-form")), clip_upload: clip, instruments: checkedValues($("#pipe-instruments")) };
  if (!body.instruments.length) { showMessage("tick at least one instrument under “Render with”: the pipeline renders every melody"); return; }
  $("#pipe-gallery").classList.add("hidden");
  try {
    const { job } = await postJSON("/api/pipeline", body);
    clearMessage();
    follow(job, "pipeline");
  } catch (err) {
    showMessage(err.message);
  }
}

// ---------------------------------------------------------------- start
// One block of generation options (bars, form, meter, top-k/p, tonic ending, chords, notation) for both forms.
function buildShapeBlocks() {
  const template = $("#shape-template");
  for (const box of document.querySelectorAll("[data-shape]")) {
    const prefix = box.dataset.shape;
    box.innerHTML = template.innerHTML.replaceAll("PREFIX-", `${prefix}-`);
  }
}

async function init() {
  buildShapeBlocks();  // before the forms are restored or filled
  wireTabs();
  const first = location.hash.slice(1);
  if (TABS.includes(first)) showTab(first);
  buildKeyboard();
  $("#primer").addEventListener("input", clearPrimerUpload);
  wireUpload("#primer-file", "#primer-file-status", "primer", "primer", updatePrimerBars);
  wireUpload("#train-files", "#train-files-status", "train", "training");
  wireUpload("#audio-clip", "#audio-clip-status", "clip", "clip");
  wireUpload("#audio-seed", "#audio-seed-status", "seed", "clip");
  wireUpload("#pipe-clip", "#pipe-clip-status", "pipe", "clip");
  $("#gen-form").addEventListener("submit", onGenerate);
  $("#train-form").addEventListener("submit", onTrain);
  $("#audio-train-form").addEventListener("submit", onAudioTrain);
  $("#audio-gen-form").addEventListener("submit", onAudioGenerate);
  $("#pipe-form").addEventListener("submit", onPipeline);
  fillSelect($("#edit-source"), [["upload", "an uploaded tune (MIDI, ABC, MusicXML)"]], "upload");
  wireEdit();
  $("#history-refresh").addEventListener("click", refreshHistory);
  $("#rec-start").addEventListener("click", startRecording);
  $("#rec-stop").addEventListener("click", stopRecording);
  rememberChoices();
  updatePrimerBars();
  try {
    state.info = await api("/api/info");
  } catch (err) {
    showMessage(err.message);
    return;
  }
  const info = state.info;
  const pair = (xs) => xs.map((x) => [x, x]);
  fillSelect($("#gen-key"), [["", "any"], ...pair(NOTE_NAMES)], "");
  fillSelect($("#gen-scale"), pair(info.scales), "major");
  fillSelect($("#pipe-key"), [["", "any"], ...pair(NOTE_NAMES)], "");
  fillSelect($("#edit-key"), [["", "any"], ...pair(NOTE_NAMES)], "");
  fillSelect($("#edit-scale"), pair(info.scales), "major");
  fillSelect($("#edit-strength"), pair(info.edit_strengths), info.defaults["edit-form"].strength);
  fillChecks($("#edit-instruments"), info.instruments, ["piano"]);
  fillSelect($("#pipe-scale"), pair(info.scales), "major");
  fillSelect($("#train-config"), pair(info.melody_configs), info.defaults["train-form"].config);
  fillSelect($("#audio-loss"), pair(info.audio_losses), "mse");
  fillSelect($("#audio-opt"), pair(info.audio_optimizers), "adam");
  fillChecks($("#gen-instruments"), info.instruments, ["piano"]);
  fillChecks($("#pipe-instruments"), info.instruments, (info.defaults && info.defaults["pipe-form"].instruments) || ["guitar", "music-box", "piano"]);
  applyDefaults(info.defaults);  // the server's defaults, one source
  const folder = $("#train-folder");
  if (info.data_root) {
    folder.placeholder = `a folder inside ${info.data_root}, e.g. irish/reels`;
    $("#train-folder-help").textContent = `folders inside the data folder “${info.data_root}” (tunesmith web --data-root); nothing outside it is read`;
  } else {
    folder.disabled = true;
    folder.placeholder = "off: start the studio with --data-root DIR";
    $("#train-folder-field").classList.add("dim");
  }
  restoreForms();
  restoreUploads();
  updatePrimerBars();
  await refreshModels();
  await resumeJobs();
  updateEditSource();  // the tune chosen before a reload (an upload or a melody of the last generation) is drawn again
  document.body.dataset.ready = "1";
}

window.addEventListener("error", (ev) => showMessage(`page error: ${ev.message}`));
window.addEventListener("unhandledrejection", (ev) => showMessage(`page error: ${ev.reason && ev.reason.message ? ev.reason.message : ev.reason}`));
init();
