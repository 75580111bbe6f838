// The Instant mode: a trained style network (Johnson et al. 2016) paints a photo in one pass,
// with ApplyConfig's settings.
import { $, api, el, imagePicker, modes, showError, state } from "./shared.js";
import { fillForm, makeField, readConfig } from "./form.js";
import { submitJob } from "./live.js";
import { keepForm, recall, remember, restore } from "./memory.js";

let model = null;  // the chosen network's ref
let photo = null;  // the photo's picker
let save = () => {};

function modelButton(m) {
  const b = el("button", {
    type: "button", class: "model", role: "radio", "data-ref": m.ref,
    "aria-checked": String(m.ref === model),
  });
  b.classList.toggle("selected", m.ref === model);
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
  b.addEventListener("click", () => { selectModel(m.ref); remember("instant:model", m.ref); });
  return b;
}

function renderModels() {
  const models = state.instant.models;
  const empty = $("instant-models-empty");
  empty.hidden = models.length > 0;
  empty.textContent = models.length ? "" : state.instant.empty_hint;
  if (!models.some((m) => m.ref === model && m.usable)) selectModel(null);
  $("instant-models").replaceChildren(...models.map(modelButton));
}

function selectModel(ref) {
  model = ref;
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

async function start(e) {
  e.preventDefault();
  showError("", "instant-error");
  if (!model || !photo.value) {
    showError(model ? "Pick a photo first." : "Pick a style network first.", "instant-error");
    return;
  }
  const config = readConfig(state.instant.fields, $("instant-settings"));
  const body = { model, photo: photo.value.ref, config };
  await submitJob("/api/instant/jobs", body, "instant-start", "instant-error", $("instant-settings"));
}

function setup() {
  // A handful of fields: all in view.
  for (const f of state.instant.fields) $("instant-fields").append(makeField(f, "i"));
  photo = imagePicker("photo", "content", "instant-error");
  renderModels();
  $("instant-settings").addEventListener("submit", start);
  save = keepForm($("instant-settings"), "form:instant");
}

// A network that is (still) listed and usable, chosen.
function chooseModel(ref) {
  if (!state.instant.models.some((m) => m.ref === ref && m.usable)) return;
  selectModel(ref);
  remember("instant:model", ref);
}

function recallAll() {
  restore($("instant-settings"), recall("form:instant"));
  const ref = recall("instant:model");
  if (ref) chooseModel(ref);
  photo.recall();
}

function fill(job) {
  fillForm(state.instant.fields, job.config, $("instant-settings"));
  chooseModel(job.style.replace(/^model:/, ""));
  photo.reuse(job.content, job.content_view_url, job.content_name);
  save();
}

modes.instant = {
  available: () => !!state.instant,
  setup,
  recall: recallAll,
  fill,
  onShow: refreshModels,
  waiting: ["No job yet: pick a style network and a photo and press Paint.",
            "The painted photo shows here, in about a second."],
};
