// impasto studio: plain JavaScript modules, no build step. The settings forms are built from
// GET /api/config (StyleConfig's fields), GET /api/audio/config (AudioConfig's, for the
// Audio mode) and GET /api/instant/config (ApplyConfig's and the style networks, for the
// Instant mode) and GET /api/video/config (VideoConfig's, StyleConfig's for each frame, the
// clips and the style networks, for the Video mode) and GET /api/photo/config (StyleConfig's
// with photo mode's defaults, for the Photo mode); progress comes over server-sent events.
// shared.js holds what the modes share (state, the API, one picker); form.js the settings
// forms; live.js the live panel and the mode switch; gallery.js the gallery; memory.js what
// the page keeps across a reload; one module per mode registers itself.
import { $, FINISHED, MODES, api, modes, showError, state } from "./shared.js";
import { refreshGallery } from "./gallery.js";
import { setMode, show } from "./live.js";
import { recall } from "./memory.js";
import "./image.js";
import "./audio.js";
import "./instant.js";
import "./video.js";
import "./photo.js";

const ROUTES = {
  audio: "/api/audio/config", instant: "/api/instant/config", video: "/api/video/config",
  photo: "/api/photo/config",
};
const NAMES = { audio: "Audio", instant: "Instant", video: "Video", photo: "Photo" };

// Each mode's config; a mode whose config cannot be read is greyed (the others still work).
async function loadConfigs() {
  try {
    state.config = await api("/api/config");
  } catch (err) {
    showError(`cannot load the studio's settings: ${err.message}`);
    return false;
  }
  for (const [mode, route] of Object.entries(ROUTES)) {
    try {
      state[mode] = await api(route);
    } catch (err) {
      $(`mode-${mode}`).disabled = true;
      $(`mode-${mode}`).title = `${NAMES[mode]} mode unavailable: ${err.message}`;
    }
  }
  return true;
}

async function init() {
  if (!(await loadConfigs())) return;
  const usable = MODES.filter((m) => modes[m].available());
  for (const m of usable) {
    modes[m].setup();
    modes[m].recall();  // the settings and inputs the page had before a reload
  }
  for (const m of MODES) $(`mode-${m}`).addEventListener("click", () => setMode(m));
  const jobs = (await refreshGallery()) || [];
  // Each mode's latest job in the live panel; a run still going has its inputs and
  // settings put back in its mode's form.
  for (const m of usable) {
    const job = jobs.find((j) => (j.kind || "image") === m);
    if (job) show(job);
    if (job && !FINISHED.includes(job.status)) modes[m].fill(job);
  }
  setMode(usable.includes(recall("mode")) ? recall("mode") : "image");
  document.body.dataset.ready = "1";
}

document.addEventListener("DOMContentLoaded", init);
