// The Photo mode: a photo given the look of a reference photo and kept a photograph (Luan et
// al. 2017, `impasto photo`), with two optional region maps (the photo's and the reference's,
// the same colour for the same kind of region) and StyleConfig's settings at photo mode's
// defaults.
import { $, Picker, imagePicker, modes, showError, state } from "./shared.js";
import { fillForm, makeField, readConfig, setField } from "./form.js";
import { cancel, submitJob } from "./live.js";
import { keepForm, recall, restore } from "./memory.js";

const pickers = {};
let save = () => {};

// A region map: an image upload like the others, with no samples, and a Remove.
function maskPicker(prefix) {
  const picker = new Picker({
    prefix, media: `${prefix}-chosen`, errorId: "ph-error", upload: "/api/uploads",
    limits: () => state.config.limits, about: (up) => `${up.width}×${up.height}`,
  });
  picker.setup([], null);
  $(`${prefix}-clear`).addEventListener("click", () => picker.clear());
  return picker;
}

async function start(e) {
  e.preventDefault();
  showError("", "ph-error");
  const photo = pickers.photo.value;
  const reference = pickers.reference.value;
  if (!photo || !reference) {
    showError("Pick a photo and a reference photo first.", "ph-error");
    return;
  }
  // The maps go as chosen, one or both: the server says what is wrong with them.
  const body = { photo: photo.ref, reference: reference.ref, config: readConfig(state.photo.fields, $("ph-settings")) };
  if (pickers.cmask.value) body.content_mask = pickers.cmask.value.ref;
  if (pickers.smask.value) body.style_mask = pickers.smask.value.ref;
  await submitJob("/api/photo/jobs", body, "ph-start", "ph-error", $("ph-settings"));
}

function setup() {
  for (const f of state.photo.fields) $(f.main ? "ph-main-fields" : "ph-advanced-fields").append(makeField(f, "p"));
  pickers.photo = imagePicker("ph-photo", "content", "ph-error");
  pickers.reference = imagePicker("ph-reference", "content", "ph-error");
  pickers.cmask = maskPicker("ph-cmask");
  pickers.smask = maskPicker("ph-smask");
  $("ph-settings").addEventListener("submit", start);
  $("ph-cancel").addEventListener("click", () => cancel("photo"));
  $("ph-reset").addEventListener("click", () => {
    for (const f of state.photo.fields) setField(f, f.default, null, $("ph-settings"));
    save();
  });
  save = keepForm($("ph-settings"), "form:photo");
}

function recallAll() {
  restore($("ph-settings"), recall("form:photo"));
  for (const p of Object.values(pickers)) p.recall();
}

function fill(job) {
  fillForm(state.photo.fields, job.config, $("ph-settings"));
  pickers.photo.reuse(job.content, job.content_view_url, job.content_name);
  pickers.reference.reuse(job.style, job.style_view_url, job.style_name);
  // A job without maps clears the ones chosen: its settings are reused as they were.
  for (const [p, which] of [[pickers.cmask, "content_mask"], [pickers.smask, "style_mask"]]) {
    if (job[which]) p.reuse(job[which], job[`${which}_view_url`], job[`${which}_name`]);
    else p.clear();
  }
  save();
}

modes.photo = {
  available: () => !!state.config && !!state.photo,
  setup,
  recall: recallAll,
  fill,
  waiting: ["No job yet: pick a photo and a reference photo and press Start.",
            "The photo takes the reference's look here as it is optimised."],
};
