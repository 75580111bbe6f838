// The gallery: every job the studio keeps, newest first, each with View, Reuse settings,
// its download and Delete; and the queue's status line.
import { $, FINISHED, api, el, fmtPass, fmtSeconds, modes, showError } from "./shared.js";
import { forget, setMode, title, view } from "./live.js";

function describe(job) {
  const c = job.config;
  const when = new Date(job.created * 1000).toLocaleString();
  if (job.kind === "instant") {
    const parts = [c.size ? `${c.size}px` : "photo's size", "one pass", `colour ${c.preserve_color}`];
    if (job.seconds) parts.push(fmtPass(job.seconds));
    return [...parts, when].join(" · ");
  }
  if (job.kind === "video") {
    const parts = [`${c.size}px video`, `${job.step}/${job.total_steps} frames`, job.route];
    if (job.seconds) parts.push(fmtSeconds(job.seconds));
    return [...parts, when].join(" · ");
  }
  const head = job.kind === "audio" ? `${c.sample_rate / 1000} kHz sound`
    : job.kind === "photo" ? `${c.size}px photo${job.content_mask ? " with region maps" : ""}`
    : `${c.size}px`;
  const parts = [head, `${job.step}/${job.total_steps} steps`, `seed ${c.seed}`];
  if (job.seconds) parts.push(fmtSeconds(job.seconds));
  return [...parts, when].join(" · ");
}

// Reuse settings: the job's mode opens with its inputs and settings in the form.
function reuse(job) {
  const kind = job.kind || "image";
  if (!modes[kind] || !modes[kind].available()) return;
  setMode(kind);
  modes[kind].fill(job);
  window.scrollTo({ top: 0, behavior: "smooth" });
}

function card(job) {
  const node = $("card-template").content.firstElementChild.cloneNode(true);
  node.dataset.id = job.id;
  node.dataset.status = job.status;
  node.classList.add(`status-${job.status}`, `kind-${job.kind || "image"}`);
  const img = node.querySelector(".thumb img");
  if (job.preview_url) {
    img.src = job.preview_url;
    img.alt = job.kind === "audio"
      ? `spectrograms of ${title(job)}`
      : `${job.content_name} in the style of ${job.style_name}`;
  } else {
    img.remove();
    node.querySelector(".thumb").textContent = job.status;
  }
  node.querySelector(".card-title").textContent = title(job);
  const badge = el("span", { class: `badge status-${job.status}` }, job.status);
  node.querySelector(".card-title").append(" ", badge);
  node.querySelector(".card-meta").textContent = describe(job);
  const err = node.querySelector(".card-error");
  if (job.error && job.status !== "done") err.textContent = job.error;
  else err.remove();
  const dl = node.querySelector("a.download");
  if (job.result_url) {
    dl.href = job.result_url;
    if (job.kind === "audio") dl.textContent = "WAV";
    if (job.kind === "video") dl.textContent = "MP4";
  } else dl.remove();
  // Enlarge: the picture 4x through impasto's upscaler (made on the first click, then kept).
  const big = node.querySelector("a.enlarge");
  if (job.result_url && ["image", "photo"].includes(job.kind)) big.href = `/api/jobs/${job.id}/enlarged.png?scale=4`;
  else big.remove();
  cardActions(node, job);
  return node;
}

function cardActions(node, job) {
  node.querySelector(".view").addEventListener("click", () => {
    view(job);
    window.scrollTo({ top: 0, behavior: "smooth" });
  });
  node.querySelector(".reuse").addEventListener("click", () => reuse(job));
  const del = node.querySelector(".delete");
  if (!FINISHED.includes(job.status)) del.remove();
  else del.addEventListener("click", async () => {
    try {
      await api(`/api/jobs/${job.id}`, { method: "DELETE" });
      forget(job);
      refreshGallery();
    } catch (e2) {
      showError(e2.message);
    }
  });
}

// Refreshes can overlap (a Start and the job's own "done" event); only the latest one
// draws, so an answer fetched while the job still ran never overwrites a newer one. Returns
// the jobs drawn (null when another refresh drew, or none could be read).
let galleryGeneration = 0;

export async function refreshGallery() {
  const generation = ++galleryGeneration;
  let data;
  try {
    data = await api("/api/jobs?limit=200");
  } catch (err) {
    if (generation === galleryGeneration) showError(`gallery: ${err.message}`);
    return null;
  }
  if (generation !== galleryGeneration) return null;
  $("gallery").replaceChildren(...data.jobs.map(card));
  $("gallery-empty").hidden = data.jobs.length > 0;
  refreshStatus();
  return data.jobs;
}

async function refreshStatus() {
  try {
    const s = await api("/api/status");
    $("queue-status").textContent =
      `${s.running} running · ${s.queued} waiting · ${s.workers} worker${s.workers === 1 ? "" : "s"}`;
  } catch (_) { /* the status line is a nicety */ }
}
