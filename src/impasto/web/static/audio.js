// The Audio mode: a content and a style sound (or the style alone: a texture), AudioConfig's
// settings, optimised on their spectrograms.
import { $, Picker, el, modes, showError, state } from "./shared.js";
import { fillForm, makeField, readConfig, setField } from "./form.js";
import { cancel, submitJob } from "./live.js";
import { keepForm, recall, restore } from "./memory.js";

const pickers = {};
let save = () => {};

function soundPicker(role) {
  const prefix = `audio-${role}`;
  const picker = new Picker({
    prefix, media: `${prefix}-player`, mark: "has-sound", errorId: "audio-error",
    upload: "/api/audio/uploads", limits: () => state.audio.limits,
    about: (up) => `${up.seconds.toFixed(1)} s`,
  });
  const sorted = [...state.audio.sounds].sort((a, b) => (b.role === role) - (a.role === role));
  picker.setup(sorted, (s) => el("button", {
    type: "button", class: "sample sound", "data-ref": s.ref, title: s.label,
    id: `${prefix}-sound-${s.name}`,
  }, s.label));
  return picker;
}

function setTexture(on) {
  $("audio-texture").checked = on;
  $("audio-seconds").disabled = !on;
  $("audio-content-picker").classList.toggle("off", on);
}

async function start(e) {
  e.preventDefault();
  showError("", "audio-error");
  const texture = $("audio-texture").checked;
  const content = pickers.content.value;
  const style = pickers.style.value;
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
  await submitJob("/api/audio/jobs", body, "audio-start", "audio-error", $("audio-settings"));
}

function setup() {
  for (const f of state.audio.fields) {
    $(f.main ? "audio-main-fields" : "audio-advanced-fields").append(makeField(f, "a"));
  }
  pickers.content = soundPicker("content");
  pickers.style = soundPicker("style");
  $("audio-settings").addEventListener("submit", start);
  $("audio-cancel").addEventListener("click", () => cancel("audio"));
  $("audio-texture").addEventListener("change", () => setTexture($("audio-texture").checked));
  $("audio-reset").addEventListener("click", () => {
    for (const f of state.audio.fields) setField(f, f.default, null, $("audio-settings"));
    setTexture(false);
    $("audio-seconds").value = "";
    save();
  });
  save = keepForm($("audio-settings"), "form:audio");
}

function recallAll() {
  restore($("audio-settings"), recall("form:audio"));
  setTexture($("audio-texture").checked);
  pickers.content.recall();
  pickers.style.recall();
}

function fill(job) {
  fillForm(state.audio.fields, job.config, $("audio-settings"));
  setTexture(!job.content);
  pickers.content.reuse(job.content, job.content_view_url, job.content_name);
  pickers.style.reuse(job.style, job.style_view_url, job.style_name);
  save();
}

modes.audio = {
  available: () => !!state.audio,
  setup,
  recall: recallAll,
  fill,
  waiting: ["No job yet: pick two sounds and press Start.",
            "The spectrograms (content, style, result) show here when the sound is made."],
};
