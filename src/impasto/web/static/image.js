// The Images mode: a content and a style image, StyleConfig's settings, optimised (Gatys).
import { $, imagePicker, modes, showError, state } from "./shared.js";
import { fillForm, makeField, readConfig, setField } from "./form.js";
import { cancel, submitJob } from "./live.js";
import { keepForm, recall, restore } from "./memory.js";

const pickers = {};
let save = () => {};

async function start(e) {
  e.preventDefault();
  showError("", "error");
  const content = pickers.content.value;
  const style = pickers.style.value;
  if (!content || !style) {
    showError("Pick a content image and a style image first.", "error");
    return;
  }
  const body = { content: content.ref, style: style.ref, config: readConfig() };
  await submitJob("/api/jobs", body, "start", "error", $("settings"));
}

function setup() {
  for (const f of state.config.fields) $(f.main ? "main-fields" : "advanced-fields").append(makeField(f));
  pickers.content = imagePicker("content", "content", "error");
  pickers.style = imagePicker("style", "style", "error");
  $("settings").addEventListener("submit", start);
  $("cancel").addEventListener("click", () => cancel("image"));
  $("reset").addEventListener("click", () => {
    for (const f of state.config.fields) setField(f, f.default);
    save();
  });
  save = keepForm($("settings"), "form:image");
}

// The settings and images of the page before its reload.
function recallAll() {
  restore($("settings"), recall("form:image"));
  pickers.content.recall();
  pickers.style.recall();
}

function fill(job) {
  fillForm(state.config.fields, job.config, $("settings"));
  pickers.content.reuse(job.content, job.content_view_url, job.content_name);
  pickers.style.reuse(job.style, job.style_view_url, job.style_name);
  save();
}

modes.image = {
  available: () => !!state.config,
  setup,
  recall: recallAll,
  fill,
  waiting: ["No job yet: pick two images and press Start.",
            "The picture forms here as it is optimised."],
};
