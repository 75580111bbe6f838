// impasto studio: plain JavaScript modules, no build step. The settings forms are built from
// GET /api/config (StyleConfig's fields), GET /api/audio/config (AudioConfig's, for the
// Audio mode) and GET /api/instant/config (ApplyConfig's and the style networks, for the
// Instant mode) and GET /api/video/config (VideoConfig's, StyleConfig's for each frame, the
// clips and the style networks, for the Video mode); progress comes over server-sent events.
// shared.js holds what the modes share (state, the API, one picker); form.js the settings
// forms; live.js the live panel; gallery.js the gallery; one module per mode registers itself.
import { $, MODES, api, modes, setMode, showError, state } from "./shared.js";
import { refreshGallery, reuse } from "./gallery.js";
import { follow } from "./live.js";
import "./image.js";
import "./audio.js";
import "./instant.js";
import "./video.js";

const ROUTES = { audio: "/api/audio/config", instant: "/api/instant/config", video: "/api/video/config" };
const NAMES = { audio: "Audio", instant: "Instant", video: "Video" };

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
  for (const m of MODES) {
    if (modes[m].available()) modes[m].setup();
    $(`mode-${m}`).addEventListener("click", () => setMode(m));
  }
  await refreshGallery();
  // Pick up a run still going (after a reload), with its images and settings in the form.
  const active = [...document.querySelectorAll("#gallery .card")].find(
    (c) => c.dataset.status === "running" || c.dataset.status === "queued");
  if (active) {
    const job = await api(`/api/jobs/${active.dataset.id}`);
    reuse(job, false);
    follow(job);
  }
  document.body.dataset.ready = "1";
}

document.addEventListener("DOMContentLoaded", init);
