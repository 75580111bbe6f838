// The settings forms, built from the fields a mode's config route lists (a settings class's
// fields: name, kind, default, help, choices), and read back as the JSON its job route takes.
import { $, el, state } from "./shared.js";

function showValue(field, value) {
  if (value === null || value === undefined) return "";
  if (Array.isArray(value)) return value.join(",");
  return String(value);
}

// A number field's bounds: the size's from the mode's limits, others at least 0. Images ("f")
// and Photo ("p") modes share the image limits.
function bound(input, field, prefix) {
  if (field.name === "size" && (prefix === "f" || prefix === "p")) {
    input.min = "16";
    input.max = String(state.config.limits.max_size);
  } else if (field.name === "size" && prefix === "v") {
    input.min = "16";
    input.step = "2";  // H.264 needs even sides
    input.max = String(state.video.limits.max_size);
  } else if (field.name === "size" && prefix === "i") {
    input.min = String(state.instant.limits.min_size);
    input.max = String(state.instant.limits.max_size);
  } else if (field.name === "strength" && (prefix === "i" || prefix === "v")) {
    input.min = "0";  // a share of the network's painting: ApplyConfig refuses the rest
    input.max = "1";
  } else if (field.kind === "int" || field.name.endsWith("weight")) {
    input.min = "0";
  }
  if (field.nullable) input.placeholder = prefix === "i" && field.name === "size" ? "the photo's" : "auto";
}

function makeInput(field, id, prefix, wrap) {
  let input;
  if (field.kind === "choice") {
    input = el("select", { id });
    for (const c of field.choices) input.append(el("option", { value: c }, c));
  } else if (field.kind === "bool") {
    input = el("input", { id, type: "checkbox" });
  } else if (field.kind === "int" || field.kind === "float") {
    input = el("input", { id, type: "number", step: field.kind === "int" ? "1" : "any" });
    bound(input, field, prefix);
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
  return input;
}

// Style strength on a log slider: 1/100 to 100 times the default balance.
function strengthSlider(input, prefix) {
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
  return slider;
}

export function makeField(field, prefix = "f") {
  const wrap = el("div", { class: `field kind-${field.kind}` });
  const id = `${prefix}-${field.name}`;
  const label = el("label", { for: id }, field.label);
  const input = makeInput(field, id, prefix, wrap);
  input.dataset.field = field.name;
  input.name = field.name;
  if (field.help) input.title = field.help;
  wrap.prepend(label);
  wrap.append(input);
  if (field.name === "style_weight") wrap.append(strengthSlider(input, prefix));
  if (field.help) wrap.append(el("small", { class: "help" }, field.help));
  setField(field, field.default, input);
  return wrap;
}

export function setField(field, value, input = null, form = $("settings")) {
  input = input || form.querySelector(`[data-field="${field.name}"]`);
  if (!input) return;
  if (field.kind === "bool") input.checked = !!value;
  else input.value = showValue(field, value);
  const slider = input.parentElement && input.parentElement.querySelector("input[type=range]");
  if (slider) slider.value = String(value > 0 ? Math.log10(value) : slider.min);
}

// The fields `config` holds, set in `form` (Reuse settings).
export function fillForm(fields, config, form) {
  for (const f of fields) {
    if (f.name in config) setField(f, config[f.name], null, form);
  }
}

export function readConfig(fields = state.config.fields, form = $("settings")) {
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

// -- the field a refusal names ---------------------------------------------------------------
// The field of `form` whose name comes first in `message` ("size must be at least 16"; a
// frame's setting as "style_config.steps ..."); null when it names none.
function fieldNamed(form, message) {
  let best = null;
  let at = Infinity;
  for (const input of form.querySelectorAll("[data-field]")) {
    const name = input.dataset.field;
    const nested = input.closest("#video-style-fields") ? "style_config\\." : "";
    const match = new RegExp(`(^|[^\\w.])${nested}${name}\\b`).exec(message);
    if (match && match.index < at) [best, at] = [input, match.index];
  }
  return best;
}

function unmark(input) {
  input.removeAttribute("aria-invalid");
  input.removeAttribute("aria-errormessage");
  input.closest(".field").classList.remove("invalid");
}

export function clearInvalid(form) {
  for (const input of form.querySelectorAll("[aria-invalid]")) unmark(input);
}

// Marks the field a refusal names (aria-invalid, pointing at the message in `errorId`) until
// it is changed.
export function markInvalid(form, message, errorId) {
  const input = fieldNamed(form, message);
  if (!input) return;
  input.setAttribute("aria-invalid", "true");
  input.setAttribute("aria-errormessage", errorId);
  input.closest(".field").classList.add("invalid");
  input.addEventListener("input", () => unmark(input), { once: true });
  input.addEventListener("change", () => unmark(input), { once: true });
}
