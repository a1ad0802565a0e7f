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

const state = { info: null, models: [], uploads: {}, jobs: {} };

// ---------------------------------------------------------------- messages and requests
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
    if (input.type === "file" || input.type === "checkbox") continue;
    if (input.value === "") continue;
    out[input.name] = input.type === "number" ? Number(input.value) : input.value;
  }
  return out;
}

// ---------------------------------------------------------------- uploads (checked by the server)
async function uploadFile(file) {
  const maxMb = state.info ? state.info.max_upload_mb : Infinity;
  if (file.size > maxMb * 1048576) throw new Error(`${file.name}: ${(file.size / 1048576).toFixed(1)} MB is over the upload limit of ${maxMb} MB`);
  const data = new FormData();
  data.append("file", file, file.name);
  return api("/api/uploads", { method: "POST", body: data });
}

function describeUpload(u) {
  if (u.kind === "midi") return `✓ ${u.name}: MIDI, ${u.notes} notes`;
  if (u.kind === "zip") return `✓ ${u.name}: ${u.files} MIDI files` + (u.skipped && u.skipped.length ? `, ${u.skipped.length} skipped` : "");
  if (u.kind === "audio") return `✓ ${u.name}: audio, ${u.seconds} s at ${u.sample_rate} Hz`;
  return `✓ ${u.name}`;
}

// Wire a file input: upload on change, remember the ids under state.uploads[key], report in statusSel.
function wireUpload(inputSel, statusSel, key) {
  const input = $(inputSel);
  const status = $(statusSel);
  input.addEventListener("change", async () => {
    state.uploads[key] = [];
    status.className = "status";
    if (!input.files.length) { status.textContent = ""; return; }
    status.textContent = "checking…";
    const lines = [];
    let failed = false;
    for (const file of input.files) {
      try {
        const u = await uploadFile(file);
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
  });
}
const uploadIds = (key) => (state.uploads[key] || []).map((u) => u.id);

// ---------------------------------------------------------------- tabs, menus, models
function showTab(name) {
  for (const b of document.querySelectorAll(".tabs button")) b.classList.toggle("active", b.dataset.tab === name);
  for (const s of document.querySelectorAll(".tab")) s.classList.toggle("active", s.id === `tab-${name}`);
  history.replaceState(null, "", `#${name}`);
}

function fillSelect(select, values, selected) {
  select.replaceChildren(...values.map(([value, label]) => el("option", { value, selected: value === selected }, label)));
}

function fillChecks(box, names, checked) {
  box.replaceChildren(...names.map((name) => el("label", { class: "check" },
    el("input", { type: "checkbox", value: name, checked: checked.includes(name) }), name)));
}
const checkedValues = (box) => [...box.querySelectorAll("input:checked")].map((i) => i.value);

async function refreshModels(select = {}) {
  try {
    state.models = (await api("/api/models")).models;
  } catch (err) { showMessage(err.message); return; }
  const melody = state.models.filter((m) => m.kind === "melody");
  const audio = state.models.filter((m) => m.kind === "audio");
  const opts = (list, none) => list.length ? list.map((m) => [m.name, m.bundled ? `${m.name} (shipped)` : m.name]) : [["", none]];
  for (const [sel, list, none, pick] of [
    ["#gen-model", melody, "no melody model yet: train one", select.melody],
    ["#pipe-melody-model", melody, "no melody model yet", select.melody],
    ["#audio-model", audio, "no audio model yet: train one", select.audio],
  ]) {
    const node = $(sel);
    fillSelect(node, opts(list, none), pick || node.value || (list[0] && list[0].name));
  }
  const pipeAudio = $("#pipe-audio-model");
  fillSelect(pipeAudio, [...audio.map((m) => [m.name, m.name]), ["train", "train one on the clip"], ["none", "none: transcribe the clip itself"]],
    select.audio || pipeAudio.value || (audio[0] ? audio[0].name : "train"));
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
    key.addEventListener("click", () => {
      if (primer.value.trim().startsWith("[")) primer.value = "";
      primer.value = (primer.value.trim() + " " + name).trim();
      beep(p);
      clearPrimerUpload();
    });
    kb.append(key);
  }
  kb.style.setProperty("--whites", white);
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
}

// ---------------------------------------------------------------- jobs: poll until finished
function pollJob(id, { progress, status, chart, onDone, cancelBtn }) {
  let since = 0;
  const rows = [];
  state.jobs[id] = true;
  if (cancelBtn) {
    cancelBtn.disabled = false;
    cancelBtn.onclick = async () => {
      cancelBtn.disabled = true;
      try { await api(`/api/jobs/${id}/cancel`, { method: "POST" }); status.textContent = "cancelling…"; }
      catch (err) { showMessage(err.message); }
    };
  }
  const tick = async () => {
    let job;
    try {
      job = await api(`/api/jobs/${id}?since=${since}`);
    } catch (err) {
      status.textContent = err.message;
      status.className = "status error";
      setTimeout(tick, 3000);
      return;
    }
    since = job.log_total;
    rows.push(...job.log);
    if (progress) progress.value = job.progress;
    if (chart && rows.length) drawChart(chart, rows);
    const running = job.status === "queued" || job.status === "running";
    status.textContent = `${job.status}${job.message ? ": " + job.message : ""}`;
    status.className = job.status === "error" ? "status error" : "status";
    if (running) { setTimeout(tick, 700); return; }
    if (cancelBtn) cancelBtn.disabled = true;
    delete state.jobs[id];
    if (job.status === "error") showMessage(job.error || "the job failed");
    onDone(job);
  };
  tick();
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

// ---------------------------------------------------------------- Generate tab
function renderGeneration(result) {
  const box = $("#gen-results");
  const cards = result.outputs.map((o) => {
    const u = o.urls;
    const links = [el("a", { href: u.midi, download: o.files.midi, class: "button midi-link", text: "⬇ MIDI" })];
    for (const a of o.audio) links.push(el("a", { href: a.url, download: o.files[`audio_${a.instrument}`], class: "button", text: `⬇ WAV (${a.instrument})` }));
    const players = o.audio.map((a) => el("figure", { class: "player" }, el("figcaption", { text: a.instrument }),
      el("audio", { controls: true, preload: "metadata", src: a.url, "data-instrument": a.instrument })));
    return el("article", { class: "card result" },
      el("div", { class: "result-head" }, el("h3", { text: o.name }),
        el("span", { class: "meta", text: `${o.notes} notes · ${o.steps} steps · log-likelihood ${o.log_likelihood.toFixed(1)}` }),
        el("div", { class: "links" }, links)),
      players.length ? el("div", { class: "players" }, players) : null,
      u.piano_roll_html ? el("iframe", { class: "roll", src: u.piano_roll_html, title: `piano roll of ${o.name}` }) : null);
  });
  box.replaceChildren(el("p", { class: "summary", text: `${result.outputs.length} melodies from ${result.model}, primer ${result.primer || "(random start note)"}, seed ${result.settings.seed}` }), ...cards);
}

async function onGenerate(ev) {
  ev.preventDefault();
  const form = $("#gen-form");
  const v = formValues(form);
  const primerUpload = uploadIds("primer")[0];
  const body = {
    model: v.model, primer: primerUpload ? "" : ($("#primer").value || ""), primer_upload: primerUpload || null,
    n: v.n, steps: v.steps, temperature: v.temperature, beam_size: v.beam_size, seed: v.seed,
    key: v.key || null, scale: v.scale, instruments: checkedValues($("#gen-instruments")),
  };
  if (!body.model) { showMessage("no melody model yet: train one in the “Train melody model” tab"); return; }
  const btn = $("#generate-btn"), status = $("#gen-status");
  btn.disabled = true;
  status.className = "status";
  status.textContent = "generating…";
  const started = performance.now();
  try {
    const result = await postJSON("/api/generate", body);
    renderGeneration(result);
    status.textContent = `done in ${((performance.now() - started) / 1000).toFixed(1)} s`;
    clearMessage();
  } catch (err) {
    status.textContent = "";
    showMessage(err.message);
  } finally {
    btn.disabled = false;
  }
}

// ---------------------------------------------------------------- Train melody model tab
async function onTrain(ev) {
  ev.preventDefault();
  const v = formValues($("#train-form"));
  const body = { name: v.name, config: v.config, steps: v.steps, batch_size: v.batch_size, seed: v.seed,
    uploads: uploadIds("train"), folder: v.folder || null };
  if (!body.uploads.length && !body.folder) { showMessage("choose MIDI files (or a zip), or type a folder path"); return; }
  const btn = $("#train-btn");
  btn.disabled = true;
  $("#train-result").replaceChildren();
  $("#train-chart").replaceChildren();
  try {
    const { job, model } = await postJSON("/api/melody/train", body);
    $("#train-status").textContent = `training ${model}…`;
    pollJob(job, {
      progress: $("#train-progress"), status: $("#train-status"), chart: $("#train-chart"), cancelBtn: $("#train-cancel"),
      onDone: async (j) => {
        btn.disabled = false;
        if (j.result) {
          const r = j.result;
          $("#train-result").replaceChildren(
            el("p", { class: "ok", text: `Model “${r.model}” is ready (${r.step} steps, ${r.train_melodies} training melodies${r.eval && r.eval.loss ? `, eval loss ${r.eval.loss.toFixed(3)}` : ""}). It is now in the Generate tab.` }),
            r.loss_png ? el("img", { src: r.loss_png, alt: "loss curve", class: "plot" }) : null);
          await refreshModels({ melody: r.model });
        }
      },
    });
  } catch (err) {
    btn.disabled = false;
    showMessage(err.message);
  }
}

// ---------------------------------------------------------------- Audio model tab
async function onAudioTrain(ev) {
  ev.preventDefault();
  const clip = uploadIds("clip")[0];
  if (!clip) { showMessage("choose an audio clip to train on"); return; }
  const body = { ...formValues($("#audio-train-form")), clip_upload: clip };
  const btn = $("#audio-train-btn");
  btn.disabled = true;
  $("#audio-chart").replaceChildren();
  $("#audio-train-result").replaceChildren();
  try {
    const { job, model, cancel_supported } = await postJSON("/api/audio/train", body);
    $("#audio-status").textContent = `training ${model}…`;
    pollJob(job, {
      progress: $("#audio-progress"), status: $("#audio-status"), chart: $("#audio-chart"),
      cancelBtn: cancel_supported ? $("#audio-cancel") : null,
      onDone: async (j) => {
        btn.disabled = false;
        if (j.result) {
          $("#audio-train-result").replaceChildren(el("p", { class: "ok", text: `Audio model “${j.result.model}” is ready.` }),
            j.result.loss_png ? el("img", { src: j.result.loss_png, alt: "loss curve", class: "plot" }) : null);
          await refreshModels({ audio: j.result.model });
        }
      },
    });
  } catch (err) {
    btn.disabled = false;
    showMessage(err.message);
  }
}

async function onAudioGenerate(ev) {
  ev.preventDefault();
  const v = formValues($("#audio-gen-form"));
  const clip = uploadIds("seed")[0] || uploadIds("clip")[0];
  if (!v.model) { showMessage("no audio model yet: train one above"); return; }
  if (!clip) { showMessage("choose a seed clip (or a training clip above)"); return; }
  const btn = $("#audio-gen-btn");
  btn.disabled = true;
  try {
    const { job } = await postJSON("/api/audio/generate", { ...v, clip_upload: clip });
    pollJob(job, {
      status: $("#audio-gen-status"),
      onDone: (j) => {
        btn.disabled = false;
        if (!j.result) return;
        const r = j.result;
        const specs = r.spectrograms || [];
        const items = [el("figure", { class: "audio-out" }, el("figcaption", { text: "seed clip" }),
          el("audio", { controls: true, src: r.seed_url }), specs[0] ? el("img", { src: specs[0], class: "plot", alt: "seed spectrogram" }) : null)];
        r.outputs.forEach((url, i) => items.push(el("figure", { class: "audio-out" },
          el("figcaption", {}, `output ${i + 1} `, el("a", { href: url, download: `output_${i + 1}.wav`, text: "⬇ WAV" })),
          el("audio", { controls: true, src: url }), specs[i + 1] ? el("img", { src: specs[i + 1], class: "plot", alt: `spectrogram ${i + 1}` }) : null)));
        $("#audio-results").replaceChildren(...items);
      },
    });
  } catch (err) {
    btn.disabled = false;
    showMessage(err.message);
  }
}

// ---------------------------------------------------------------- Pipeline tab
async function onPipeline(ev) {
  ev.preventDefault();
  const clip = uploadIds("pipe")[0];
  if (!clip) { showMessage("choose an audio clip for the pipeline"); return; }
  const body = { ...formValues($("#pipe-form")), clip_upload: clip, instruments: checkedValues($("#pipe-instruments")) };
  const btn = $("#pipe-btn");
  btn.disabled = true;
  $("#pipe-gallery").classList.add("hidden");
  try {
    const { job, cancel_supported } = await postJSON("/api/pipeline", body);
    pollJob(job, {
      progress: $("#pipe-progress"), status: $("#pipe-status"), cancelBtn: cancel_supported ? $("#pipe-cancel") : null,
      onDone: (j) => {
        btn.disabled = false;
        if (j.result && j.result.index) {
          const frame = $("#pipe-gallery");
          frame.src = j.result.index;
          frame.classList.remove("hidden");
        }
      },
    });
  } catch (err) {
    btn.disabled = false;
    showMessage(err.message);
  }
}

// ---------------------------------------------------------------- start
async function init() {
  for (const b of document.querySelectorAll(".tabs button")) b.addEventListener("click", () => showTab(b.dataset.tab));
  const first = location.hash.slice(1);
  if (["generate", "train", "audio", "pipeline"].includes(first)) showTab(first);
  buildKeyboard();
  $("#primer").addEventListener("input", clearPrimerUpload);
  wireUpload("#primer-file", "#primer-file-status", "primer");
  wireUpload("#train-files", "#train-files-status", "train");
  wireUpload("#audio-clip", "#audio-clip-status", "clip");
  wireUpload("#audio-seed", "#audio-seed-status", "seed");
  wireUpload("#pipe-clip", "#pipe-clip-status", "pipe");
  $("#gen-form").addEventListener("submit", onGenerate);
  $("#train-form").addEventListener("submit", onTrain);
  $("#audio-train-form").addEventListener("submit", onAudioTrain);
  $("#audio-gen-form").addEventListener("submit", onAudioGenerate);
  $("#pipe-form").addEventListener("submit", onPipeline);
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
  fillSelect($("#train-config"), pair(info.melody_configs), "basic_rnn");
  fillSelect($("#audio-loss"), pair(info.audio_losses.length ? info.audio_losses : ["mse"]), "mse");
  fillSelect($("#audio-opt"), pair(info.audio_optimizers.length ? info.audio_optimizers : ["adam"]), "adam");
  fillChecks($("#gen-instruments"), info.instruments, ["piano"]);
  fillChecks($("#pipe-instruments"), info.instruments, (info.defaults && info.defaults["pipe-form"].instruments) || ["guitar", "music-box", "piano"]);
  for (const [form, values] of Object.entries(info.defaults || {})) {  // the server's defaults, one source
    for (const [name, value] of Object.entries(values)) {
      const input = document.querySelector(`#${form} input[name="${name}"]`);
      if (!input || input.type === "file" || input.type === "checkbox") continue;
      if (value === null) input.placeholder = "model's own";
      else input.value = value;
    }
  }
  if (!info.features.audio_model) {
    $("#audio-missing").classList.remove("hidden");
    for (const b of document.querySelectorAll("#tab-audio button")) b.disabled = true;
  }
  if (!info.features.pipeline) {
    $("#pipeline-missing").classList.remove("hidden");
    $("#pipe-btn").disabled = true;
  }
  await refreshModels();
}

window.addEventListener("error", (ev) => showMessage(`page error: ${ev.message}`));
window.addEventListener("unhandledrejection", (ev) => showMessage(`page error: ${ev.reason && ev.reason.message ? ev.reason.message : ev.reason}`));
init();
