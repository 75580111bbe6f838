// impasto studio: plain JavaScript, no build step. The settings forms are built from
// GET /api/config (StyleConfig's fields), GET /api/audio/config (AudioConfig's, for the
// Audio mode) and GET /api/instant/config (ApplyConfig's and the style networks, for the
// Instant mode) and GET /api/video/config (VideoConfig's, StyleConfig's for each frame, the
// clips and the style networks, for the Video mode); progress comes over server-sent events.
"use strict";

const state = {
  config: null,          // GET /api/config
  audio: null,           // GET /api/audio/config
  instant: null,         // GET /api/instant/config
  video: null,           // GET /api/video/config
  mode: "image",         // "image", "audio", "instant" or "video"
  inputs: { content: null, style: null, photo: null, vstyle: null, clip: null },  // {ref, url, name}
  model: null,           // the Instant mode's network: its ref
  sounds: { content: null, style: null },  // the Audio mode's inputs, the same shape
  job: null,             // the job shown in the live panel
  events: null,          // its EventSource
  previewUrl: null,
};

const $ = (id) => document.getElementById(id);
const FINISHED = ["done", "failed", "cancelled"];
const MODES = ["image", "audio", "instant", "video"];
const ERROR_BOXES = { image: "error", audio: "audio-error", instant: "instant-error", video: "video-error" };

// -- helpers ---------------------------------------------------------------------------------
async function api(path, options = {}) {
  const res = await fetch(path, options);
  let body = null;
  const type = res.headers.get("content-type") || "";
  if (type.includes("application/json")) body = await res.json();
  if (!res.ok) {
    const msg = body && body.error ? body.error : `${res.status} ${res.statusText}`;
    throw new Error(msg);
  }
  return body;
}

function showError(message, id = null) {
  const box = $(id || ERROR_BOXES[state.mode]);
  box.textContent = message;
  box.hidden = !message;
}

// An upload's error shows at the box the file was dropped on.
function showDropError(role, message) {
  const box = $(`${role}-error`);
  box.textContent = message;
  box.hidden = !message;
}

function fmtNumber(x) {
  if (x === null || x === undefined) return "–";
  if (x === 0) return "0";
  const a = Math.abs(x);
  return a >= 1e4 || a < 1e-2 ? x.toExponential(2) : x.toPrecision(3);
}

function fmtSeconds(s) {
  if (s === null || s === undefined || !isFinite(s)) return "–";
  s = Math.round(s);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  return m < 60 ? `${m} min ${s % 60} s` : `${Math.floor(m / 60)} h ${m % 60} min`;
}

// A network's pass takes about a second: shown to the hundredth.
function fmtPass(s) {
  if (s === null || s === undefined || !isFinite(s)) return "–";
  return s < 10 ? `${s.toFixed(2)} s` : fmtSeconds(s);
}

function el(tag, attrs = {}, text = "") {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text) node.textContent = text;
  return node;
}

// -- inputs ----------------------------------------------------------------------------------
function choose(role, input) {
  state.inputs[role] = input;
  const img = $(`${role}-chosen`);
  img.src = input.url;
  img.alt = input.name;
  img.hidden = false;
  $(`${role}-drop`).classList.add("has-image");
  $(`${role}-name`).textContent = input.name;
  for (const b of document.querySelectorAll(`#${role}-samples button`)) {
    b.classList.toggle("selected", b.dataset.ref === input.ref);
  }
  showDropError(role, "");
  showError("");
}

async function upload(role, file) {
  if (!file) return;
  const limits = state.config.limits;
  if (file.size > limits.max_upload_bytes) {
    showDropError(role, `${file.name} is larger than the limit of ${(limits.max_upload_bytes / 2 ** 20).toFixed(0)} MB`);
    return;
  }
  const form = new FormData();
  form.append("file", file, file.name);
  const drop = $(`${role}-drop`);
  drop.classList.add("busy");
  try {
    const up = await api("/api/uploads", { method: "POST", body: form });
    choose(role, { ref: up.ref, url: up.view_url, name: `${up.name} (${up.width}×${up.height})` });
  } catch (e) {
    showDropError(role, e.message);
  } finally {
    drop.classList.remove("busy");
  }
}

function setupPicker(role) {
  const drop = $(`${role}-drop`);
  const file = $(`${role}-file`);
  drop.addEventListener("click", () => file.click());
  drop.addEventListener("keydown", (e) => {
    if (e.key === "Enter" || e.key === " ") { e.preventDefault(); file.click(); }
  });
  file.addEventListener("change", () => { upload(role, file.files[0]); file.value = ""; });
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    if (e.dataTransfer.files.length) upload(role, e.dataTransfer.files[0]);
  });
  const box = $(`${role}-samples`);
  const samples = state.config.samples;
  // Suggested samples first, the others after (the Instant mode's photo: the content ones).
  const want = role === "photo" ? "content" : role === "vstyle" ? "style" : role;
  const sorted = [...samples].sort((a, b) => (b.role === want) - (a.role === want));
  for (const s of sorted) {
    const b = el("button", {
      type: "button", class: "sample", "data-ref": s.ref, title: s.label,
      id: `${role}-sample-${s.name}`,
    });
    const img = el("img", { src: s.url, alt: s.label, loading: "lazy" });
    b.append(img, el("span", {}, s.label));
    b.addEventListener("click", () => choose(role, { ref: s.ref, url: s.url, name: s.label }));
    box.append(b);
  }
}

// -- Audio mode: sounds ----------------------------------------------------------------------
function chooseSound(role, input) {
  state.sounds[role] = input;
  const player = $(`audio-${role}-player`);
  player.src = input.url;
  player.hidden = false;
  $(`audio-${role}-drop`).classList.add("has-sound");
  $(`audio-${role}-name`).textContent = input.name;
  for (const b of document.querySelectorAll(`#audio-${role}-samples button`)) {
    b.classList.toggle("selected", b.dataset.ref === input.ref);
  }
  showDropError(`audio-${role}`, "");
  showError("", "audio-error");
}

async function uploadSound(role, file) {
  if (!file) return;
  const limits = state.audio.limits;
  if (file.size > limits.max_upload_bytes) {
    showDropError(`audio-${role}`, `${file.name} is larger than the limit of ${(limits.max_upload_bytes / 2 ** 20).toFixed(0)} MB`);
    return;
  }
  const form = new FormData();
  form.append("file", file, file.name);
  const drop = $(`audio-${role}-drop`);
  drop.classList.add("busy");
  try {
    const up = await api("/api/audio/uploads", { method: "POST", body: form });
    chooseSound(role, { ref: up.ref, url: up.view_url, name: `${up.name} (${up.seconds.toFixed(1)} s)` });
  } catch (e) {
    showDropError(`audio-${role}`, e.message);
  } finally {
    drop.classList.remove("busy");
  }
}

function setupSoundPicker(role) {
  const drop = $(`audio-${role}-drop`);
  const file = $(`audio-${role}-file`);
  drop.addEventListener("click", () => file.click());
  drop.addEventListener("keydown", (e) => {
    if (e.key === "Enter" || e.key === " ") { e.preventDefault(); file.click(); }
  });
  file.addEventListener("change", () => { uploadSound(role, file.files[0]); file.value = ""; });
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    if (e.dataTransfer.files.length) uploadSound(role, e.dataTransfer.files[0]);
  });
  const box = $(`audio-${role}-samples`);
  const sorted = [...state.audio.sounds].sort((a, b) => (b.role === role) - (a.role === role));
  for (const s of sorted) {
    const b = el("button", {
      type: "button", class: "sample sound", "data-ref": s.ref, title: s.label,
      id: `audio-${role}-sound-${s.name}`,
    }, s.label);
    b.addEventListener("click", () => chooseSound(role, { ref: s.ref, url: s.url, name: s.label }));
    box.append(b);
  }
}

function setTexture(on) {
  $("audio-texture").checked = on;
  $("audio-seconds").disabled = !on;
  $("audio-content-picker").classList.toggle("off", on);
}

const WAITING = {
  image: ["No job yet: pick two images and press Start.",
          "The picture forms here as it is optimised."],
  audio: ["No job yet: pick two sounds and press Start.",
          "The spectrograms (content, style, result) show here when the sound is made."],
  instant: ["No job yet: pick a style network and a photo and press Paint.",
            "The painted photo shows here, in about a second."],
  video: ["No job yet: pick a clip and a painting (or a style network) and press Start.",
          "The frame being painted shows here; the finished clip plays here."],
};

function setMode(mode) {
  if (mode === "audio" && !state.audio) return;
  if (mode === "instant" && !state.instant) return;
  if (mode === "video" && !state.video) return;
  state.mode = mode;
  document.body.dataset.mode = mode;
  for (const m of MODES) {
    $(`${m}-setup`).hidden = m !== mode;
    const b = $(`mode-${m}`);
    b.classList.toggle("selected", m === mode);
    b.setAttribute("aria-checked", String(m === mode));
  }
  if (!$("showing").dataset.id) {  // no job shown yet: say what this mode will show
    [$("showing").textContent, $("placeholder").textContent] = WAITING[mode];
  }
  if (mode === "instant") refreshModels();
}

// -- Instant mode: the style networks -----------------------------------------------------------
function renderModels() {
  const box = $("instant-models");
  box.replaceChildren();
  const models = state.instant.models;
  const empty = $("instant-models-empty");
  empty.hidden = models.length > 0;
  empty.textContent = models.length ? "" : state.instant.empty_hint;
  if (!models.some((m) => m.ref === state.model && m.usable)) selectModel(null);
  for (const m of models) {
    const b = el("button", {
      type: "button", class: "model", role: "radio", "data-ref": m.ref,
      "aria-checked": String(m.ref === state.model),
    });
    b.classList.toggle("selected", m.ref === state.model);
    const where = m.bundled ? "bundled" : "yours";
    const about = m.usable
      ? `style ${m.style_name || "?"} · ${where} · ${m.format}` + (m.width ? ` · width ${m.width}, ${m.blocks} block${m.blocks === 1 ? "" : "s"}` : "")
      : `${where} · ${m.file}`;
    b.append(el("span", { class: "model-name" }, m.name), el("span", { class: "model-about" }, about));
    if (!m.usable) {
      b.disabled = true;
      b.title = m.problem;
      b.append(el("span", { class: "model-problem" }, m.problem));
    }
    b.addEventListener("click", () => selectModel(m.ref));
    box.append(b);
  }
}

function selectModel(ref) {
  state.model = ref;
  const m = ref && state.instant.models.find((x) => x.ref === ref);
  $("instant-model-name").textContent = m ? `${m.name}: the style of ${m.style_name || "?"}` : "none chosen";
  for (const b of document.querySelectorAll("#instant-models .model")) {
    b.classList.toggle("selected", b.dataset.ref === ref);
    b.setAttribute("aria-checked", String(b.dataset.ref === ref));
  }
  if (ref) showError("", "instant-error");
}

// The list is read again each time the mode is shown: a network trained meanwhile appears.
async function refreshModels() {
  try {
    state.instant = await api("/api/instant/config");
  } catch (err) {
    showError(`cannot list the style networks: ${err.message}`, "instant-error");
    return;
  }
  renderModels();
}

// -- Video mode: the clip, the route, the style networks ---------------------------------------
function chooseClip(input) {
  state.inputs.clip = input;
  const v = $("clip-chosen");
  v.src = input.url;
  v.hidden = false;
  $("clip-drop").classList.add("has-image");
  $("clip-name").textContent = input.name;
  for (const b of document.querySelectorAll("#clip-samples button")) {
    b.classList.toggle("selected", b.dataset.ref === input.ref);
  }
  showDropError("clip", "");
  showError("", "video-error");
}

async function uploadClip(file) {
  if (!file) return;
  const limits = state.video.limits;
  if (file.size > limits.max_upload_bytes) {
    showDropError("clip", `${file.name} is larger than the limit of ${(limits.max_upload_bytes / 2 ** 20).toFixed(0)} MB`);
    return;
  }
  const form = new FormData();
  form.append("file", file, file.name);
  const drop = $("clip-drop");
  drop.classList.add("busy");
  try {
    const up = await api("/api/video/uploads", { method: "POST", body: form });
    const about = `${up.width}×${up.height}, ${up.frames} frames, ${up.seconds.toFixed(1)} s`;
    chooseClip({ ref: up.ref, url: up.view_url, name: `${up.name} (${about})` });
  } catch (e) {
    showDropError("clip", e.message);
  } finally {
    drop.classList.remove("busy");
  }
}

function setupClipPicker() {
  const drop = $("clip-drop");
  const file = $("clip-file");
  drop.addEventListener("click", () => file.click());
  drop.addEventListener("keydown", (e) => {
    if (e.key === "Enter" || e.key === " ") { e.preventDefault(); file.click(); }
  });
  file.addEventListener("change", () => { uploadClip(file.files[0]); file.value = ""; });
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    if (e.dataTransfer.files.length) uploadClip(e.dataTransfer.files[0]);
  });
  const l = state.video.limits;
  $("clip-limits").textContent = `at most ${l.max_seconds} s, painted at up to ${l.max_size} px`;
  for (const c of state.video.clips) {
    const b = el("button", { type: "button", class: "sample", "data-ref": c.ref, title: c.label, id: `clip-sample-${c.name}` });
    b.append(el("video", { src: c.url, muted: "", preload: "metadata" }), el("span", {}, c.label));
    b.addEventListener("click", () => chooseClip({ ref: c.ref, url: c.url, name: c.label }));
    $("clip-samples").append(b);
  }
}

// VideoConfig's fields that only one route reads: shown for that route only.
const ROUTE_FIELDS = { network: ["deflicker"], optimisation: ["later_steps", "temporal_weight", "fill"] };

function setRoute(route) {
  $(`route-${route}`).checked = true;
  for (const [r, names] of Object.entries(ROUTE_FIELDS)) {
    for (const n of names) $(`v-${n}`).parentElement.hidden = r !== route;
  }
  $("video-route-optimisation").hidden = route !== "optimisation";
  $("video-route-network").hidden = route !== "network";
  $("video-advanced").hidden = route !== "optimisation";
}

function renderVideoModels() {
  const select = $("video-model");
  const usable = state.video.models.filter((m) => m.usable);
  select.replaceChildren(...usable.map((m) => el("option", { value: m.ref }, `${m.name} (style ${m.style_name || "?"})`)));
  const empty = $("video-models-empty");
  empty.hidden = usable.length > 0;
  empty.textContent = usable.length ? "" : (state.instant ? state.instant.empty_hint : "No style networks yet.");
}

async function startVideo(e) {
  e.preventDefault();
  showError("", "video-error");
  const clip = state.inputs.clip;
  const route = $("route-network").checked ? "network" : "optimisation";
  const style = state.inputs.vstyle;
  const model = $("video-model").value;
  if (!clip) { showError("Pick a clip first.", "video-error"); return; }
  if (route === "optimisation" && !style) { showError("Pick a style image first.", "video-error"); return; }
  if (route === "network" && !model) { showError("Pick a style network first.", "video-error"); return; }
  const form = $("video-settings");
  const config = readConfig(state.video.fields, form);
  const body = { clip: clip.ref, config };
  if (route === "network") body.model = model;
  else { body.style = style.ref; config.style_config = readConfig(state.video.style_fields, form); }
  await submitJob("/api/video/jobs", body, "video-start", "video-error");
}

function setupVideo() {
  for (const f of state.video.fields) $("video-fields").append(makeField(f, "v"));
  for (const f of state.video.style_fields) $("video-style-fields").append(makeField(f, "vs"));
  setupClipPicker();
  setupPicker("vstyle");
  renderVideoModels();
  setRoute("optimisation");
  for (const r of ["optimisation", "network"]) $(`route-${r}`).addEventListener("change", () => setRoute(r));
  $("video-settings").addEventListener("submit", startVideo);
  $("video-cancel").addEventListener("click", cancel);
  $("mode-video").addEventListener("click", () => setMode("video"));
}

// -- the settings form, from StyleConfig's fields -------------------------------------------
function showValue(field, value) {
  if (value === null || value === undefined) return "";
  if (Array.isArray(value)) return value.join(",");
  return String(value);
}

function makeField(field, prefix = "f") {
  const wrap = el("div", { class: `field kind-${field.kind}` });
  const id = `${prefix}-${field.name}`;
  const label = el("label", { for: id }, field.label);
  let input;
  if (field.kind === "choice") {
    input = el("select", { id });
    for (const c of field.choices) input.append(el("option", { value: c }, c));
  } else if (field.kind === "bool") {
    input = el("input", { id, type: "checkbox" });
  } else if (field.kind === "int" || field.kind === "float") {
    input = el("input", { id, type: "number", step: field.kind === "int" ? "1" : "any" });
    if (field.name === "size" && prefix === "f") {
      input.min = "16";
      input.max = String(state.config.limits.max_size);
    } else if (field.name === "size" && prefix === "v") {
      input.min = "16";
      input.step = "2";  // H.264 needs even sides
      input.max = String(state.video.limits.max_size);
    } else if (field.name === "size" && prefix === "i") {
      input.min = String(state.instant.limits.min_size);
      input.max = String(state.instant.limits.max_size);
    } else if (field.kind === "int" || field.name.endsWith("weight")) {
      input.min = "0";
    }
    if (field.nullable) input.placeholder = prefix === "i" && field.name === "size" ? "the photo's" : "auto";
  } else {
    input = el("input", { id, type: "text", spellcheck: "false" });
    if (field.nullable) input.placeholder = "auto";
    if (field.choices && field.item === "layer") {
      const listId = `${id}-list`;
      const dl = el("datalist", { id: listId });
      for (const c of [...Object.keys(field.presets || {}), ...field.choices]) {
        dl.append(el("option", { value: c }));
      }
      wrap.append(dl);
      input.setAttribute("list", listId);
    }
  }
  input.dataset.field = field.name;
  input.name = field.name;
  if (field.help) input.title = field.help;
  wrap.prepend(label);
  wrap.append(input);
  if (field.name === "style_weight") {
    // Style strength on a log slider: 1/100 to 100 times the default balance.
    const slider = el("input", {
      type: "range", min: "-2", max: "2", step: "0.1",
      id: prefix === "f" ? "style-strength" : `${prefix}-style-strength`,
      "aria-label": "Style strength (log scale)",
    });
    const sync = () => { input.value = String(+(10 ** +slider.value).toPrecision(3)); };
    slider.addEventListener("input", sync);
    input.addEventListener("input", () => {
      const v = parseFloat(input.value);
      if (v > 0) slider.value = String(Math.log10(v));
    });
    wrap.append(slider);
  }
  if (field.help) wrap.append(el("small", { class: "help" }, field.help));
  setField(field, field.default, input);
  return wrap;
}

function setField(field, value, input = null, form = $("settings")) {
  input = input || form.querySelector(`[data-field="${field.name}"]`);
  if (!input) return;
  if (field.kind === "bool") input.checked = !!value;
  else input.value = showValue(field, value);
  const slider = input.parentElement && input.parentElement.querySelector("input[type=range]");
  if (slider) slider.value = String(value > 0 ? Math.log10(value) : slider.min);
}

function buildForm() {
  const main = $("main-fields");
  const adv = $("advanced-fields");
  for (const f of state.config.fields) (f.main ? main : adv).append(makeField(f));
  if (state.instant) {  // a handful of fields: all in view
    for (const f of state.instant.fields) $("instant-fields").append(makeField(f, "i"));
  }
  if (!state.audio) return;
  const amain = $("audio-main-fields");
  const aadv = $("audio-advanced-fields");
  for (const f of state.audio.fields) (f.main ? amain : aadv).append(makeField(f, "a"));
}

function readConfig(fields = state.config.fields, form = $("settings")) {
  // Values go to the server as typed; StyleConfig parses lists ("100,60,30", layer presets)
  // and names a bad value in its error, which the page shows.
  const out = {};
  for (const f of fields) {
    const input = form.querySelector(`[data-field="${f.name}"]`);
    if (f.kind === "bool") { out[f.name] = input.checked; continue; }
    const raw = input.value.trim();
    if (raw === "") {
      if (f.nullable) out[f.name] = null;
      continue;  // left empty: the default applies
    }
    if (f.kind === "int") out[f.name] = /^-?\d+$/.test(raw) ? parseInt(raw, 10) : raw;
    else if (f.kind === "float") out[f.name] = isNaN(Number(raw)) ? raw : Number(raw);
    else out[f.name] = raw;
  }
  return out;
}

// -- jobs ------------------------------------------------------------------------------------
// POST a job, then follow it and refresh the gallery. The mode's Start button is off
// meanwhile, and a refusal shows in ``errorId`` (null: the shown mode's error box).
async function submitJob(url, body, startId, errorId = null) {
  $(startId).disabled = true;
  try {
    const job = await api(url, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    follow(job);
    refreshGallery();
  } catch (err) {
    showError(err.message, errorId);
  } finally {
    $(startId).disabled = false;
  }
}

async function start(e) {
  e.preventDefault();
  showError("");
  const { content, style } = state.inputs;
  if (!content || !style) {
    showError("Pick a content image and a style image first.");
    return;
  }
  await submitJob("/api/jobs", { content: content.ref, style: style.ref, config: readConfig() }, "start");
}

async function startAudio(e) {
  e.preventDefault();
  showError("", "audio-error");
  const texture = $("audio-texture").checked;
  const { content, style } = state.sounds;
  if ((!texture && !content) || !style) {
    showError(texture ? "Pick a style sound first." : "Pick a content sound and a style sound first.", "audio-error");
    return;
  }
  const body = { style: style.ref, config: readConfig(state.audio.fields, $("audio-settings")) };
  if (texture) {
    const raw = $("audio-seconds").value.trim();
    if (raw !== "") body.seconds = isNaN(Number(raw)) ? raw : Number(raw);
  } else {
    body.content = content.ref;
  }
  await submitJob("/api/audio/jobs", body, "audio-start", "audio-error");
}

async function startInstant(e) {
  e.preventDefault();
  showError("", "instant-error");
  const photo = state.inputs.photo;
  if (!state.model || !photo) {
    showError(state.model ? "Pick a photo first." : "Pick a style network first.", "instant-error");
    return;
  }
  const config = readConfig(state.instant.fields, $("instant-settings"));
  await submitJob("/api/instant/jobs", { model: state.model, photo: photo.ref, config }, "instant-start", "instant-error");
}

function title(job) {
  if (job.kind === "audio" && !job.content) return `texture of ${job.style_name}`;
  if (job.kind === "instant") return `${job.content_name} × network ${job.style_name}`;
  if (job.kind === "video" && job.route === "network") return `${job.content_name} × network ${job.style_name}`;
  return `${job.content_name} × ${job.style_name}`;
}

function follow(job) {
  if (state.events) state.events.close();
  state.events = null;
  state.job = job;
  state.previewUrl = null;
  render(job);
  if (FINISHED.includes(job.status)) return;
  const es = new EventSource(`/api/jobs/${job.id}/events`);
  state.events = es;
  es.onmessage = (msg) => {
    const j = JSON.parse(msg.data);
    if (!state.job || j.id !== state.job.id) return;
    state.job = j;
    render(j);
    if (FINISHED.includes(j.status)) {
      es.close();
      if (state.events === es) state.events = null;
      refreshGallery();
    }
  };
  es.addEventListener("gone", () => { es.close(); refreshGallery(); });
}

function render(job) {
  const showing = $("showing");
  const audio = job.kind === "audio";
  const instant = job.kind === "instant";
  const video = job.kind === "video";
  showing.textContent = `Job ${job.id.slice(0, 8)}: ${title(job)}`;
  showing.title = `job ${job.id}`;
  showing.dataset.id = job.id;
  const done = job.status === "done";
  const frac = done ? 1 : job.total_steps ? job.step / job.total_steps : 0;
  const pct = Math.round(frac * 100);
  $("bar").style.width = `${pct}%`;
  $("progress").setAttribute("aria-valuenow", String(pct));
  $("progress").className = `progress ${job.status}`;
  let status = job.status;
  if (job.status === "queued" && job.position !== null) {
    status = job.position === 0 ? "queued (next)" : `queued (${job.position} ahead)`;
  }
  $("stat-status").textContent = status;
  $("stat-status").className = `status-${job.status}`;
  $("stat-step").textContent = job.step ? `${job.step} / ${job.total_steps}` : `0 / ${job.total_steps}`;
  if (video) {
    const inner = job.frame_steps && !done ? ` (step ${job.frame_step} / ${job.frame_steps})` : "";
    const at = job.status === "running" && job.frame ? `frame ${job.frame} of ${job.total_steps}` : `${job.step} / ${job.total_steps} frames`;
    $("stat-step").textContent = at + inner;
    $("stat-scale").textContent = `${job.config.size} px · ${job.route}`;
  } else if (instant) {
    $("stat-step").textContent = done ? "one pass" : "–";
    $("stat-scale").textContent = job.config.size ? `${job.config.size} px` : "the photo's size";
  } else if (audio) {
    $("stat-scale").textContent = `${job.config.sample_rate} Hz`;
  } else {
    $("stat-scale").textContent = job.scales
      ? `${job.scale + 1} of ${job.scales}` + (job.size ? ` (${job.size[1]}×${job.size[0]})` : "")
      : done ? `${job.config.size} px` : "–";
  }
  $("stat-eta").textContent = done
    ? `done in ${instant ? fmtPass(job.seconds) : fmtSeconds(job.seconds)}`
    : job.status === "running" ? fmtSeconds(job.eta) : "–";
  const l = job.losses;
  const tv = audio ? "" : ` · tv ${fmtNumber(l && l.tv)}`;
  $("stat-losses").textContent = l
    ? `total ${fmtNumber(l.total)} · content ${fmtNumber(l.content)} · style ${fmtNumber(l.style)}${tv}`
    : instant ? "none: a trained network, no optimisation" : "–";
  if (job.preview_url && job.preview_url !== state.previewUrl) {
    state.previewUrl = job.preview_url;
    $("preview").src = job.preview_url;
    $("preview").hidden = false;
    $("placeholder").hidden = true;
  } else if (!job.preview_url && !state.previewUrl) {
    $("preview").hidden = true;
    $("placeholder").hidden = false;
  }
  $("placeholder").textContent = WAITING[job.kind || "image"][1];
  $("preview").alt = audio ? "Spectrograms of the content, the style and the result" : "Live preview of the picture being made";
  const player = $("result-audio");
  const soundUrl = audio && job.result_url ? job.result_url : null;
  if (player.getAttribute("src") !== soundUrl) {
    if (soundUrl) player.src = soundUrl; else player.removeAttribute("src");
  }
  player.hidden = !soundUrl;
  const screen = $("result-video");
  const clipUrl = video && job.video_url ? job.video_url : null;
  if (screen.getAttribute("src") !== clipUrl) {
    if (clipUrl) screen.src = clipUrl; else screen.removeAttribute("src");
  }
  screen.hidden = !clipUrl;
  // The finished clip plays in the preview's place.
  document.querySelector(".live .canvas").style.display = clipUrl ? "none" : "";
  const err = $("job-error");
  err.textContent = job.error && job.status !== "done" ? job.error : "";
  err.hidden = !err.textContent;
  const dl = $("download");
  if (job.result_url) {
    dl.href = job.result_url;
    dl.textContent = audio ? "Download WAV" : video ? "Download MP4" : "Download PNG";
    dl.hidden = false;
  } else {
    dl.hidden = true;
    dl.removeAttribute("href");
  }
  // Either mode's Cancel stops the job shown, whichever kind it is.
  $("cancel").disabled = FINISHED.includes(job.status);
  $("audio-cancel").disabled = FINISHED.includes(job.status);
  $("video-cancel").disabled = FINISHED.includes(job.status);
}

async function cancel() {
  if (!state.job) return;
  try {
    const job = await api(`/api/jobs/${state.job.id}/cancel`, { method: "POST" });
    // The event stream may have shown the end already; never go back to "running".
    if (state.job && state.job.id === job.id && !FINISHED.includes(state.job.status)) {
      state.job = job;
      render(job);
    }
  } catch (err) {
    showError(err.message);
  }
}

// -- gallery ---------------------------------------------------------------------------------
function describe(job) {
  const c = job.config;
  if (job.kind === "instant") {
    const parts = [c.size ? `${c.size}px` : "photo's size", "one pass", `colour ${c.preserve_color}`];
    if (job.seconds) parts.push(fmtPass(job.seconds));
    parts.push(new Date(job.created * 1000).toLocaleString());
    return parts.join(" · ");
  }
  if (job.kind === "video") {
    const parts = [`${c.size}px video`, `${job.step}/${job.total_steps} frames`, job.route];
    if (job.seconds) parts.push(fmtSeconds(job.seconds));
    parts.push(new Date(job.created * 1000).toLocaleString());
    return parts.join(" · ");
  }
  const head = job.kind === "audio" ? `${c.sample_rate / 1000} kHz sound` : `${c.size}px`;
  const parts = [head, `${job.step}/${job.total_steps} steps`, `seed ${c.seed}`];
  if (job.seconds) parts.push(fmtSeconds(job.seconds));
  parts.push(new Date(job.created * 1000).toLocaleString());
  return parts.join(" · ");
}

// Refreshes can overlap (a Start and the job's own "done" event); only the latest one
// draws, so an answer fetched while the job still ran never overwrites a newer one.
let galleryGeneration = 0;

async function refreshGallery() {
  const generation = ++galleryGeneration;
  let data;
  try {
    data = await api("/api/jobs?limit=200");
  } catch (err) {
    if (generation === galleryGeneration) showError(`gallery: ${err.message}`);
    return;
  }
  if (generation !== galleryGeneration) return;
  const grid = $("gallery");
  grid.replaceChildren();
  const tpl = $("card-template");
  for (const job of data.jobs) {
    const card = tpl.content.firstElementChild.cloneNode(true);
    card.dataset.id = job.id;
    card.dataset.status = job.status;
    card.classList.add(`status-${job.status}`, `kind-${job.kind || "image"}`);
    const img = card.querySelector(".thumb img");
    if (job.preview_url) {
      img.src = job.preview_url;
      img.alt = job.kind === "audio"
        ? `spectrograms of ${title(job)}`
        : `${job.content_name} in the style of ${job.style_name}`;
    } else {
      img.remove();
      card.querySelector(".thumb").textContent = job.status;
    }
    card.querySelector(".card-title").textContent = title(job);
    const badge = el("span", { class: `badge status-${job.status}` }, job.status);
    card.querySelector(".card-title").append(" ", badge);
    card.querySelector(".card-meta").textContent = describe(job);
    const err = card.querySelector(".card-error");
    if (job.error && job.status !== "done") err.textContent = job.error;
    else err.remove();
    const dl = card.querySelector("a.download");
    if (job.result_url) {
      dl.href = job.result_url;
      if (job.kind === "audio") dl.textContent = "WAV";
      if (job.kind === "video") dl.textContent = "MP4";
    } else dl.remove();
    card.querySelector(".view").addEventListener("click", () => {
      follow(job);
      window.scrollTo({ top: 0, behavior: "smooth" });
    });
    card.querySelector(".reuse").addEventListener("click", () => reuse(job));
    const del = card.querySelector(".delete");
    if (!FINISHED.includes(job.status)) del.remove();
    else del.addEventListener("click", async () => {
      try {
        await api(`/api/jobs/${job.id}`, { method: "DELETE" });
        refreshGallery();
      } catch (e2) {
        showError(e2.message);
      }
    });
    grid.append(card);
  }
  $("gallery-empty").hidden = data.jobs.length > 0;
  refreshStatus();
}

function reuse(job, scroll = true) {
  if (job.kind === "audio") {
    reuseAudio(job);
  } else if (job.kind === "instant") {
    reuseInstant(job);
  } else if (job.kind === "video") {
    reuseVideo(job);
  } else {
    reuseImage(job);
  }
  if (scroll) window.scrollTo({ top: 0, behavior: "smooth" });
}

function reuseAudio(job) {
  if (!state.audio) return;
  setMode("audio");
  const form = $("audio-settings");
  for (const f of state.audio.fields) {
    if (f.name in job.config) setField(f, job.config[f.name], null, form);
  }
  setTexture(!job.content);
  if (job.content_view_url) chooseSound("content", { ref: job.content, url: job.content_view_url, name: job.content_name });
  if (job.style_view_url) chooseSound("style", { ref: job.style, url: job.style_view_url, name: job.style_name });
}

function reuseInstant(job) {
  if (!state.instant) return;
  setMode("instant");
  const form = $("instant-settings");
  for (const f of state.instant.fields) {
    if (f.name in job.config) setField(f, job.config[f.name], null, form);
  }
  const ref = job.style.replace(/^model:/, "");
  if (state.instant.models.some((m) => m.ref === ref && m.usable)) selectModel(ref);
  if (job.content_view_url) choose("photo", { ref: job.content, url: job.content_view_url, name: job.content_name });
}

function reuseVideo(job) {
  if (!state.video) return;
  setMode("video");
  const form = $("video-settings");
  for (const f of state.video.fields) {
    if (f.name in job.config) setField(f, job.config[f.name], null, form);
  }
  const sc = job.config.style_config || {};
  for (const f of state.video.style_fields) {
    if (f.name in sc) setField(f, sc[f.name], null, form);
  }
  if (job.content_view_url) chooseClip({ ref: job.content, url: job.content_view_url, name: job.content_name });
  if (job.route === "network") {
    setRoute("network");
    $("video-model").value = job.style.replace(/^model:/, "");
  } else {
    setRoute("optimisation");
    if (job.style_view_url) choose("vstyle", { ref: job.style, url: job.style_view_url, name: job.style_name });
  }
}

function reuseImage(job) {
  setMode("image");
  for (const f of state.config.fields) {
    if (f.name in job.config) setField(f, job.config[f.name]);
  }
  if (job.content_view_url) choose("content", { ref: job.content, url: job.content_view_url, name: job.content_name });
  if (job.style_view_url) choose("style", { ref: job.style, url: job.style_view_url, name: job.style_name });
}

async function refreshStatus() {
  try {
    const s = await api("/api/status");
    $("queue-status").textContent =
      `${s.running} running · ${s.queued} waiting · ${s.workers} worker${s.workers === 1 ? "" : "s"}`;
  } catch (_) { /* the status line is a nicety */ }
}

// -- start -----------------------------------------------------------------------------------
async function init() {
  try {
    state.config = await api("/api/config");
  } catch (err) {
    showError(`cannot load the studio's settings: ${err.message}`);
    return;
  }
  try {
    state.audio = await api("/api/audio/config");
  } catch (err) {
    $("mode-audio").disabled = true;  // the image mode still works
    $("mode-audio").title = `Audio mode unavailable: ${err.message}`;
  }
  try {
    state.instant = await api("/api/instant/config");
  } catch (err) {
    $("mode-instant").disabled = true;
    $("mode-instant").title = `Instant mode unavailable: ${err.message}`;
  }
  try {
    state.video = await api("/api/video/config");
  } catch (err) {
    $("mode-video").disabled = true;
    $("mode-video").title = `Video mode unavailable: ${err.message}`;
  }
  buildForm();
  if (state.video) setupVideo();
  setupPicker("content");
  setupPicker("style");
  $("settings").addEventListener("submit", start);
  $("cancel").addEventListener("click", cancel);
  $("reset").addEventListener("click", () => {
    for (const f of state.config.fields) setField(f, f.default);
  });
  $("mode-image").addEventListener("click", () => setMode("image"));
  $("mode-audio").addEventListener("click", () => setMode("audio"));
  $("mode-instant").addEventListener("click", () => setMode("instant"));
  if (state.instant) {
    setupPicker("photo");
    renderModels();
    $("instant-settings").addEventListener("submit", startInstant);
  }
  if (state.audio) {
    setupSoundPicker("content");
    setupSoundPicker("style");
    $("audio-settings").addEventListener("submit", startAudio);
    $("audio-cancel").addEventListener("click", cancel);
    $("audio-texture").addEventListener("change", () => setTexture($("audio-texture").checked));
    $("audio-reset").addEventListener("click", () => {
      for (const f of state.audio.fields) setField(f, f.default, null, $("audio-settings"));
      setTexture(false);
      $("audio-seconds").value = "";
    });
  }
  await refreshGallery();
  // Pick up a run still going (after a reload), with its images and settings in the form.
  const active = [...document.querySelectorAll("#gallery .card")].find(
    (c) => c.dataset.status === "running" || c.dataset.status === "queued");
  if (active) {
    const job = await api(`/api/jobs/${active.dataset.id}`);
    reuse(job, false);
    follow(job);
  }
  document.body.dataset.ready = "1";
}

document.addEventListener("DOMContentLoaded", init);
