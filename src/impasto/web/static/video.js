// The Video mode: a clip painted frame by frame, each from the previous result carried by
// the optical flow, by optimisation (a painting) or by a style network; VideoConfig's settings.
import { $, Picker, el, imagePicker, modes, showError, state } from "./shared.js";
import { fillForm, makeField, readConfig } from "./form.js";
import { cancel, submitJob } from "./live.js";
import { keepForm, recall, remember, restore } from "./memory.js";

const pickers = {};
let save = () => {};

// VideoConfig's fields that only one route reads: shown and sent for that route only (the
// optimisation refuses a strength).
const ROUTE_FIELDS = { network: ["deflicker", "strength"], optimisation: ["later_steps", "temporal_weight", "fill"] };

function setRoute(route) {
  $(`route-${route}`).checked = true;
  for (const [r, names] of Object.entries(ROUTE_FIELDS)) {
    for (const n of names) $(`v-${n}`).parentElement.hidden = r !== route;
  }
  $("video-route-optimisation").hidden = route !== "optimisation";
  $("video-route-network").hidden = route !== "network";
  $("video-advanced").hidden = route !== "optimisation";
}

function clipPicker() {
  const picker = new Picker({
    prefix: "clip", media: "clip-chosen", errorId: "video-error", upload: "/api/video/uploads",
    limits: () => state.video.limits,
    about: (up) => `${up.width}×${up.height}, ${up.frames} frames, ${up.seconds.toFixed(1)} s`,
  });
  const l = state.video.limits;
  $("clip-limits").textContent = `at most ${l.max_seconds} s, painted at up to ${l.max_size} px`;
  picker.setup(state.video.clips, (c) => {
    const b = el("button", { type: "button", class: "sample", "data-ref": c.ref, title: c.label, id: `clip-sample-${c.name}` });
    b.append(el("video", { src: c.url, muted: "", preload: "metadata" }), el("span", {}, c.label));
    return b;
  });
  return picker;
}

function renderModels() {
  const select = $("video-model");
  const usable = state.video.models.filter((m) => m.usable);
  select.replaceChildren(...usable.map((m) => el("option", { value: m.ref }, `${m.name} (style ${m.style_name || "?"})`)));
  const empty = $("video-models-empty");
  empty.hidden = usable.length > 0;
  empty.textContent = usable.length ? "" : (state.instant ? state.instant.empty_hint : "No style networks yet.");
}

async function start(e) {
  e.preventDefault();
  showError("", "video-error");
  const clip = pickers.clip.value;
  const route = $("route-network").checked ? "network" : "optimisation";
  const style = pickers.style.value;
  const model = $("video-model").value;
  if (!clip) { showError("Pick a clip first.", "video-error"); return; }
  if (route === "optimisation" && !style) { showError("Pick a style image first.", "video-error"); return; }
  if (route === "network" && !model) { showError("Pick a style network first.", "video-error"); return; }
  const form = $("video-settings");
  const config = readConfig(state.video.fields, form);
  for (const [r, names] of Object.entries(ROUTE_FIELDS)) {
    if (r !== route) for (const n of names) delete config[n];
  }
  const body = { clip: clip.ref, config };
  if (route === "network") body.model = model;
  else { body.style = style.ref; config.style_config = readConfig(state.video.style_fields, form); }
  await submitJob("/api/video/jobs", body, "video-start", "video-error", form);
}

function setup() {
  for (const f of state.video.fields) $("video-fields").append(makeField(f, "v"));
  for (const f of state.video.style_fields) $("video-style-fields").append(makeField(f, "vs"));
  pickers.clip = clipPicker();
  pickers.style = imagePicker("vstyle", "style", "video-error");
  renderModels();
  setRoute("optimisation");
  for (const r of ["optimisation", "network"]) {
    $(`route-${r}`).addEventListener("change", () => { setRoute(r); remember("video:route", r); });
  }
  $("video-settings").addEventListener("submit", start);
  $("video-cancel").addEventListener("click", () => cancel("video"));
  $("video-model").addEventListener("change", () => remember("video:model", $("video-model").value));
  save = keepForm($("video-settings"), "form:video");
}

// A network the list (still) offers, chosen.
function chooseModel(ref) {
  if (![...$("video-model").options].some((o) => o.value === ref)) return;
  $("video-model").value = ref;
  remember("video:model", ref);
}

function recallAll() {
  restore($("video-settings"), recall("form:video"));
  setRoute(recall("video:route") === "network" ? "network" : "optimisation");
  const model = recall("video:model");
  if (model) chooseModel(model);
  pickers.clip.recall();
  pickers.style.recall();
}

function fill(job) {
  const form = $("video-settings");
  fillForm(state.video.fields, job.config, form);
  fillForm(state.video.style_fields, job.config.style_config || {}, form);
  pickers.clip.reuse(job.content, job.content_view_url, job.content_name);
  if (job.route === "network") {
    setRoute("network");
    chooseModel(job.style.replace(/^model:/, ""));
  } else {
    setRoute("optimisation");
    pickers.style.reuse(job.style, job.style_view_url, job.style_name);
  }
  remember("video:route", job.route);
  save();
}

modes.video = {
  available: () => !!state.video,
  setup,
  recall: recallAll,
  fill,
  waiting: ["No job yet: pick a clip and a painting (or a style network) and press Start.",
            "The frame being painted shows here; the finished clip plays here."],
};
