// What every mode of the studio shares: the page's state, the server's API, messages, number
// formats, and one picker (a drop box, its upload and its samples) that each mode's inputs are.
import { recall, remember } from "./memory.js";

export const state = {
  config: null,          // GET /api/config
  audio: null,           // GET /api/audio/config
  instant: null,         // GET /api/instant/config
  video: null,           // GET /api/video/config
  photo: null,           // GET /api/photo/config
  mode: "image",         // "image", "audio", "instant", "video" or "photo"
  shown: { image: null, audio: null, instant: null, video: null, photo: null },  // each mode's latest job
  streams: new Map(),    // job id -> the EventSource following it
  previewUrl: null,      // the picture the live panel shows
};

// The modes, by name; each module adds its own: available() (its config loaded), setup() (its
// form and pickers), recall() (what a reload keeps), fill(job) (Reuse settings), waiting (the
// panel's two lines while it has no job) and, optionally, onShow(). A new mode also needs its
// name in MODES, its section and button in index.html, and its Cancel in live.js's CANCEL.
export const modes = {};

export const $ = (id) => document.getElementById(id);
export const FINISHED = ["done", "failed", "cancelled"];
export const MODES = ["image", "audio", "instant", "video", "photo"];
const ERROR_BOXES = {
  image: "error", audio: "audio-error", instant: "instant-error", video: "video-error", photo: "ph-error",
};

export async function api(path, options = {}) {
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

export function showError(message, id = null) {
  const box = $(id || ERROR_BOXES[state.mode]);
  box.textContent = message;
  box.hidden = !message;
}

// An upload's error shows at the box the file was dropped on.
export function showDropError(prefix, message) {
  const box = $(`${prefix}-error`);
  box.textContent = message;
  box.hidden = !message;
}

export function fmtNumber(x) {
  if (x === null || x === undefined) return "–";
  if (x === 0) return "0";
  const a = Math.abs(x);
  return a >= 1e4 || a < 1e-2 ? x.toExponential(2) : x.toPrecision(3);
}

export function fmtSeconds(s) {
  if (s === null || s === undefined || !isFinite(s)) return "–";
  s = Math.round(s);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  return m < 60 ? `${m} min ${s % 60} s` : `${Math.floor(m / 60)} h ${m % 60} min`;
}

// A network's pass takes about a second: shown to the hundredth.
export function fmtPass(s) {
  if (s === null || s === undefined || !isFinite(s)) return "–";
  return s < 10 ? `${s.toFixed(2)} s` : fmtSeconds(s);
}

export function el(tag, attrs = {}, text = "") {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text) node.textContent = text;
  return node;
}

// -- one picker --------------------------------------------------------------------------------
// Its elements are `${prefix}-drop`, `-file`, `-name`, `-error` and `-samples`, and `media`
// (the <img>, <audio> or <video> showing the choice); `mark` is the drop box's class once
// something is chosen, `errorId` the mode's message box (cleared by a choice), `upload` the
// route files go to, `limits()` the mode's limits and `about(upload)` what the name adds.
// The choice is remembered across a reload (under the prefix).
export class Picker {
  constructor({ prefix, media, mark = "has-image", errorId, upload, limits, about }) {
    Object.assign(this, { prefix, media, mark, errorId, upload, limits, about });
    this.value = null;  // {ref, url, name}
  }

  choose(input) {
    this.value = input;
    remember(`input:${this.prefix}`, input);
    const media = $(this.media);
    media.src = input.url;
    if (media.tagName === "IMG") media.alt = input.name;
    media.hidden = false;
    $(`${this.prefix}-drop`).classList.add(this.mark);
    $(`${this.prefix}-name`).textContent = input.name;
    for (const b of document.querySelectorAll(`#${this.prefix}-samples button`)) {
      b.classList.toggle("selected", b.dataset.ref === input.ref);
    }
    showDropError(this.prefix, "");
    showError("", this.errorId);
  }

  async send(file) {
    if (!file) return;
    const max = this.limits().max_upload_bytes;
    if (file.size > max) {
      showDropError(this.prefix, `${file.name} is larger than the limit of ${(max / 2 ** 20).toFixed(0)} MB`);
      return;
    }
    const form = new FormData();
    form.append("file", file, file.name);
    const drop = $(`${this.prefix}-drop`);
    drop.classList.add("busy");
    try {
      const up = await api(this.upload, { method: "POST", body: form });
      this.choose({ ref: up.ref, url: up.view_url, name: `${up.name} (${this.about(up)})` });
    } catch (e) {
      showDropError(this.prefix, e.message);
    } finally {
      drop.classList.remove("busy");
    }
  }

  // The drop box's clicks, keys and drops, and a button per sample (`button(sample)` makes it).
  setup(samples, button) {
    const drop = $(`${this.prefix}-drop`);
    const file = $(`${this.prefix}-file`);
    drop.addEventListener("click", () => file.click());
    drop.addEventListener("keydown", (e) => {
      if (e.key === "Enter" || e.key === " ") { e.preventDefault(); file.click(); }
    });
    file.addEventListener("change", () => { this.send(file.files[0]); file.value = ""; });
    drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
    drop.addEventListener("dragleave", () => drop.classList.remove("over"));
    drop.addEventListener("drop", (e) => {
      e.preventDefault();
      drop.classList.remove("over");
      if (e.dataTransfer.files.length) this.send(e.dataTransfer.files[0]);
    });
    const box = $(`${this.prefix}-samples`);
    for (const s of samples) {
      const b = button(s);
      b.addEventListener("click", () => this.choose({ ref: s.ref, url: s.url, name: s.label }));
      box.append(b);
    }
  }

  // Nothing chosen (an optional input's Remove).
  clear() {
    this.value = null;
    remember(`input:${this.prefix}`, null);
    const media = $(this.media);
    media.removeAttribute("src");
    media.hidden = true;
    $(`${this.prefix}-drop`).classList.remove(this.mark);
    $(`${this.prefix}-name`).textContent = "none chosen";
    for (const b of document.querySelectorAll(`#${this.prefix}-samples button`)) b.classList.remove("selected");
    showDropError(this.prefix, "");
  }

  // The input a finished job used, chosen again (Reuse settings, a reload).
  reuse(ref, url, name) {
    if (url) this.choose({ ref, url, name });
  }

  // The choice made before the page was reloaded, if any.
  recall() {
    const input = recall(`input:${this.prefix}`);
    if (input && input.ref && input.url) this.choose(input);
  }
}

// An image picker (/api/uploads) with the bundled samples, those of `want`'s role first.
export function imagePicker(prefix, want, errorId) {
  const picker = new Picker({
    prefix, media: `${prefix}-chosen`, errorId, upload: "/api/uploads",
    limits: () => state.config.limits, about: (up) => `${up.width}×${up.height}`,
  });
  const sorted = [...state.config.samples].sort((a, b) => (b.role === want) - (a.role === want));
  picker.setup(sorted, (s) => {
    const b = el("button", {
      type: "button", class: "sample", "data-ref": s.ref, title: s.label, id: `${prefix}-sample-${s.name}`,
    });
    b.append(el("img", { src: s.url, alt: s.label, loading: "lazy" }), el("span", {}, s.label));
    return b;
  });
  return picker;
}
