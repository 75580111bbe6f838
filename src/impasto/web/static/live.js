// The live panel: the job shown, followed over server-sent events (progress, preview, losses,
// the result), its Cancel, and the POST that starts a job.
import {
  $, FINISHED, api, fmtNumber, fmtPass, fmtSeconds, modes, showError, state,
} from "./shared.js";
import { refreshGallery } from "./gallery.js";

export function title(job) {
  if (job.kind === "audio" && !job.content) return `texture of ${job.style_name}`;
  if (job.kind === "instant") return `${job.content_name} × network ${job.style_name}`;
  if (job.kind === "video" && job.route === "network") return `${job.content_name} × network ${job.style_name}`;
  return `${job.content_name} × ${job.style_name}`;
}

export function follow(job) {
  if (state.events) state.events.close();
  state.events = null;
  state.job = job;
  state.previewUrl = null;
  render(job);
  if (FINISHED.includes(job.status)) return;
  const es = new EventSource(`/api/jobs/${job.id}/events`);
  state.events = es;
  es.onmessage = (msg) => {
    const j = JSON.parse(msg.data);
    if (!state.job || j.id !== state.job.id) return;
    state.job = j;
    render(j);
    if (FINISHED.includes(j.status)) {
      es.close();
      if (state.events === es) state.events = null;
      refreshGallery();
    }
  };
  es.addEventListener("gone", () => { es.close(); refreshGallery(); });
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
  const scale = job.scales
    ? `${job.scale + 1} of ${job.scales}` + (job.size ? ` (${job.size[1]}×${job.size[0]})` : "")
    : done ? `${job.config.size} px` : "–";
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
  $("stat-losses").textContent = l
    ? `total ${fmtNumber(l.total)} · content ${fmtNumber(l.content)} · style ${fmtNumber(l.style)}${tv}`
    : instant ? "none: a trained network, no optimisation" : "–";
}

// Sets a media element's source only when it changes (a new src restarts its playback).
function setSource(media, url) {
  if (media.getAttribute("src") !== url) {
    if (url) media.src = url; else media.removeAttribute("src");
  }
  media.hidden = !url;
}

function renderMedia(job) {
  const audio = job.kind === "audio";
  if (job.preview_url && job.preview_url !== state.previewUrl) {
    state.previewUrl = job.preview_url;
    $("preview").src = job.preview_url;
    $("preview").hidden = false;
    $("placeholder").hidden = true;
  } else if (!job.preview_url && !state.previewUrl) {
    $("preview").hidden = true;
    $("placeholder").hidden = false;
  }
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
  // Every mode's Cancel stops the job shown, whichever kind it is.
  for (const id of ["cancel", "audio-cancel", "video-cancel"]) $(id).disabled = FINISHED.includes(job.status);
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

export async function cancel() {
  if (!state.job) return;
  try {
    const job = await api(`/api/jobs/${state.job.id}/cancel`, { method: "POST" });
    // The event stream may have shown the end already; never go back to "running".
    if (state.job && state.job.id === job.id && !FINISHED.includes(state.job.status)) {
      state.job = job;
      render(job);
    }
  } catch (err) {
    showError(err.message);
  }
}

// POST a job, then follow it and refresh the gallery. The mode's Start button is off
// meanwhile, and a refusal shows in ``errorId`` (null: the shown mode's error box).
export async function submitJob(url, body, startId, errorId = null) {
  $(startId).disabled = true;
  try {
    const job = await api(url, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    follow(job);
    refreshGallery();
  } catch (err) {
    showError(err.message, errorId);
  } finally {
    $(startId).disabled = false;
  }
}
