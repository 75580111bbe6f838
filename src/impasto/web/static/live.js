// The live panel: each mode's latest job, followed over server-sent events (progress,
// preview, losses, the result) and shown while its mode is open; its Cancel; the POST that
// starts a job; and the mode switch.
import {
  $, FINISHED, MODES, api, fmtNumber, fmtPass, fmtSeconds, modes, showError, state,
} from "./shared.js";
import { clearInvalid, markInvalid } from "./form.js";
import { remember } from "./memory.js";
import { refreshGallery } from "./gallery.js";

// Each mode's Cancel (Instant mode's pass is over in a second: it has none).
const CANCEL = { image: "cancel", audio: "audio-cancel", video: "video-cancel", photo: "ph-cancel" };

export function title(job) {
  if (job.kind === "audio" && !job.content) return `texture of ${job.style_name}`;
  if (job.kind === "instant") return `${job.content_name} × network ${job.style_name}`;
  if (job.kind === "video" && job.route === "network") return `${job.content_name} × network ${job.style_name}`;
  return `${job.content_name} × ${job.style_name}`;
}

// Shows a mode's setup and, in the live panel, that mode's latest job (or what it will show).
export function setMode(mode) {
  if (!modes[mode] || !modes[mode].available()) return;
  state.mode = mode;
  remember("mode", mode);
  document.body.dataset.mode = mode;
  for (const m of MODES) {
    $(`${m}-setup`).hidden = m !== mode;
    const b = $(`mode-${m}`);
    b.classList.toggle("selected", m === mode);
    b.setAttribute("aria-checked", String(m === mode));
  }
  if (state.shown[mode]) render(state.shown[mode]); else renderIdle(mode);
  if (modes[mode].onShow) modes[mode].onShow();
}

// `job` becomes its mode's latest, shown while that mode is open and followed until it ends.
export function show(job) {
  const kind = job.kind || "image";
  state.shown[kind] = job;
  if (kind === state.mode) render(job);
  if (!FINISHED.includes(job.status)) follow(job);
}

// A job from the gallery (View): its mode opens and shows it.
export function view(job) {
  setMode(job.kind || "image");
  show(job);
}

// A deleted job is no longer its mode's latest.
export function forget(job) {
  const kind = job.kind || "image";
  if (!state.shown[kind] || state.shown[kind].id !== job.id) return;
  state.shown[kind] = null;
  if (kind === state.mode) renderIdle(kind);
}

function follow(job) {
  if (state.streams.has(job.id)) return;
  const es = new EventSource(`/api/jobs/${job.id}/events`);
  state.streams.set(job.id, es);
  const stop = () => { es.close(); state.streams.delete(job.id); };
  es.onmessage = (msg) => {
    const j = JSON.parse(msg.data);
    const kind = j.kind || "image";
    if (!state.shown[kind] || state.shown[kind].id !== j.id) { stop(); return; }  // a newer one
    state.shown[kind] = j;
    if (kind === state.mode) render(j);
    if (FINISHED.includes(j.status)) {
      stop();
      refreshGallery();
    }
  };
  es.addEventListener("gone", () => { stop(); refreshGallery(); });
}

function renderProgress(job) {
  const done = job.status === "done";
  const frac = done ? 1 : job.total_steps ? job.step / job.total_steps : 0;
  const pct = Math.round(frac * 100);
  $("bar").style.width = `${pct}%`;
  $("progress").setAttribute("aria-valuenow", String(pct));
  $("progress").className = `progress ${job.status}`;
  let status = job.status;
  if (job.status === "queued" && job.position !== null) {
    status = job.position === 0 ? "queued (next)" : `queued (${job.position} ahead)`;
  }
  $("stat-status").textContent = status;
  $("stat-status").className = `status-${job.status}`;
}

// The step and scale lines, which each kind reads its own way.
function stepAndScale(job) {
  const done = job.status === "done";
  const step = job.step ? `${job.step} / ${job.total_steps}` : `0 / ${job.total_steps}`;
  if (job.kind === "video") {
    const inner = job.frame_steps && !done ? ` (step ${job.frame_step} / ${job.frame_steps})` : "";
    const at = job.status === "running" && job.frame ? `frame ${job.frame} of ${job.total_steps}` : `${job.step} / ${job.total_steps} frames`;
    return [at + inner, `${job.config.size} px · ${job.route}`];
  }
  if (job.kind === "instant") {
    return [done ? "one pass" : "–", job.config.size ? `${job.config.size} px` : "the photo's size"];
  }
  if (job.kind === "audio") return [step, `${job.config.sample_rate} Hz`];
  // The long side, as the size field says it; while it runs, the pyramid level too.
  const running = job.status === "running" && job.scales && job.size;
  const scale = running
    ? `${Math.max(...job.size)} px · scale ${job.scale + 1} of ${job.scales}`
    : `${job.config.size} px`;
  return [step, scale];
}

function renderStats(job) {
  const done = job.status === "done";
  const instant = job.kind === "instant";
  [$("stat-step").textContent, $("stat-scale").textContent] = stepAndScale(job);
  $("stat-eta").textContent = done
    ? `done in ${instant ? fmtPass(job.seconds) : fmtSeconds(job.seconds)}`
    : job.status === "running" ? fmtSeconds(job.eta) : "–";
  const l = job.losses;
  const tv = job.kind === "audio" ? "" : ` · tv ${fmtNumber(l && l.tv)}`;
  const photo = l && l.photo !== undefined ? ` · photo ${fmtNumber(l.photo)}` : "";  // Luan et al.'s term
  $("stat-losses").textContent = l
    ? `total ${fmtNumber(l.total)} · content ${fmtNumber(l.content)} · style ${fmtNumber(l.style)}${tv}${photo}`
    : instant ? "none: a trained network, no optimisation" : "–";
}

// Sets a media element's source only when it changes (a new src restarts its playback).
function setSource(media, url) {
  if (media.getAttribute("src") !== url) {
    if (url) media.src = url; else media.removeAttribute("src");
  }
  media.hidden = !url;
}

function showPreview(url) {
  if (url && url !== state.previewUrl) $("preview").src = url;
  if (!url) $("preview").removeAttribute("src");
  state.previewUrl = url;
  $("preview").hidden = !url;
  $("placeholder").hidden = !!url;
}

function renderMedia(job) {
  const audio = job.kind === "audio";
  showPreview(job.preview_url);
  $("placeholder").textContent = modes[job.kind || "image"].waiting[1];
  $("preview").alt = audio ? "Spectrograms of the content, the style and the result" : "Live preview of the picture being made";
  setSource($("result-audio"), audio && job.result_url ? job.result_url : null);
  const clipUrl = job.kind === "video" && job.video_url ? job.video_url : null;
  setSource($("result-video"), clipUrl);
  // The finished clip plays in the preview's place.
  document.querySelector(".live .canvas").style.display = clipUrl ? "none" : "";
}

function renderActions(job) {
  const err = $("job-error");
  err.textContent = job.error && job.status !== "done" ? job.error : "";
  err.hidden = !err.textContent;
  const dl = $("download");
  if (job.result_url) {
    dl.href = job.result_url;
    dl.textContent = job.kind === "audio" ? "Download WAV" : job.kind === "video" ? "Download MP4" : "Download PNG";
    dl.hidden = false;
  } else {
    dl.hidden = true;
    dl.removeAttribute("href");
  }
  if (CANCEL[job.kind || "image"]) $(CANCEL[job.kind || "image"]).disabled = FINISHED.includes(job.status);
}

export function render(job) {
  const showing = $("showing");
  showing.textContent = `Job ${job.id.slice(0, 8)}: ${title(job)}`;
  showing.title = `job ${job.id}`;
  showing.dataset.id = job.id;
  renderProgress(job);
  renderStats(job);
  renderMedia(job);
  renderActions(job);
}

// The live panel of a mode with no job yet: what it will show.
function renderIdle(mode) {
  const showing = $("showing");
  [showing.textContent, $("placeholder").textContent] = modes[mode].waiting;
  showing.title = "";
  delete showing.dataset.id;
  $("bar").style.width = "0%";
  $("progress").setAttribute("aria-valuenow", "0");
  $("progress").className = "progress";
  $("stat-status").textContent = "idle";
  $("stat-status").className = "";
  for (const id of ["stat-step", "stat-scale", "stat-eta", "stat-losses"]) $(id).textContent = "–";
  showPreview(null);
  setSource($("result-audio"), null);
  setSource($("result-video"), null);
  document.querySelector(".live .canvas").style.display = "";
  $("job-error").hidden = true;
  $("download").hidden = true;
  $("download").removeAttribute("href");
  if (CANCEL[mode]) $(CANCEL[mode]).disabled = true;
}

export async function cancel(mode) {
  const shown = state.shown[mode];
  if (!shown) return;
  try {
    const job = await api(`/api/jobs/${shown.id}/cancel`, { method: "POST" });
    // The event stream may have shown the end already; never go back to "running".
    const now = state.shown[mode];
    if (now && now.id === job.id && !FINISHED.includes(now.status)) {
      state.shown[mode] = job;
      if (mode === state.mode) render(job);
    }
  } catch (err) {
    showError(err.message);
  }
}

// POST a job, then show it and refresh the gallery. The mode's Start button is off meanwhile;
// a refusal shows in ``errorId``, and the field of ``form`` it names is marked.
export async function submitJob(url, body, startId, errorId, form) {
  $(startId).disabled = true;
  clearInvalid(form);
  try {
    const job = await api(url, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    show(job);
    refreshGallery();
  } catch (err) {
    showError(err.message, errorId);
    markInvalid(form, err.message, errorId);
  } finally {
    $(startId).disabled = false;
  }
}
