// The Images mode: a content and a style image, StyleConfig's settings, optimised (Gatys).
import { $, imagePicker, modes, setMode, showError, state } from "./shared.js";
import { fillForm, makeField, readConfig, setField } from "./form.js";
import { cancel, submitJob } from "./live.js";

const pickers = {};

async function start(e) {
  e.preventDefault();
  showError("", "error");
  const content = pickers.content.value;
  const style = pickers.style.value;
  if (!content || !style) {
    showError("Pick a content image and a style image first.", "error");
    return;
  }
  await submitJob("/api/jobs", { content: content.ref, style: style.ref, config: readConfig() }, "start", "error");
}

function setup() {
  for (const f of state.config.fields) $(f.main ? "main-fields" : "advanced-fields").append(makeField(f));
  pickers.content = imagePicker("content", "content", "error");
  pickers.style = imagePicker("style", "style", "error");
  $("settings").addEventListener("submit", start);
  $("cancel").addEventListener("click", cancel);
  $("reset").addEventListener("click", () => {
    for (const f of state.config.fields) setField(f, f.default);
  });
}

function reuse(job) {
  setMode("image");
  fillForm(state.config.fields, job.config, $("settings"));
  pickers.content.reuse(job.content, job.content_view_url, job.content_name);
  pickers.style.reuse(job.style, job.style_view_url, job.style_name);
}

modes.image = {
  available: () => !!state.config,
  setup,
  reuse,
  waiting: ["No job yet: pick two images and press Start.",
            "The picture forms here as it is optimised."],
};
