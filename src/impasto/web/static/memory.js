// What the page remembers across a reload (the browser's local storage): the open mode, each
// mode's settings and its chosen inputs. Nothing here is sent to the server.
const KEY = "impasto-studio";

function read() {
  try {
    return JSON.parse(localStorage.getItem(KEY)) || {};
  } catch (_) {
    return {};  // storage off or damaged: the page starts as new
  }
}

const memory = read();

export function remember(name, value) {
  memory[name] = value;
  try {
    localStorage.setItem(KEY, JSON.stringify(memory));
  } catch (_) { /* storage full or off: the page still works, it just forgets */ }
}

export function recall(name) {
  return memory[name];
}

// A form's inputs and selects (those with an id), by id: text as typed, boxes as checked.
export function snapshot(form) {
  const out = {};
  for (const node of form.querySelectorAll("input[id], select[id]")) {
    if (node.type === "file") continue;
    out[node.id] = node.type === "checkbox" || node.type === "radio" ? node.checked : node.value;
  }
  return out;
}

export function restore(form, values) {
  for (const [id, value] of Object.entries(values || {})) {
    const node = form.querySelector(`#${CSS.escape(id)}`);
    if (!node) continue;  // a field the server no longer lists
    if (typeof value === "boolean") node.checked = value;
    else node.value = value;
  }
}

// Remembers `form` under `name` at each change (and now).
export function keepForm(form, name) {
  const save = () => remember(name, snapshot(form));
  form.addEventListener("input", save);
  form.addEventListener("change", save);
  return save;
}
