// A meeting's recordings, on its page (for those who manage it): state, when, how long, how big,
// each track to download, the manifest, and delete (asks first).

import { get } from "../api.js";
import { confirmDelete } from "../forms.js";
import { formatDateTime, h } from "../dom.js";

/** How often the list is read again while a recording is being written, ms. */
const POLL_MS = 5000;

const STATES = { recording: "Recording", stopped: "Stopped", failed: "Failed" };
const SOURCES = { microphone: "Microphone", camera: "Camera", screen: "Screen" };

export function formatDuration(seconds) {
  const s = Math.round(seconds || 0);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

export function formatBytes(n) {
  if (!n) return "0 B";
  const units = ["B", "kB", "MB", "GB", "TB"];
  const i = Math.min(units.length - 1, Math.floor(Math.log10(n) / 3));
  const value = n / 1000 ** i;
  return `${value >= 100 || i === 0 ? Math.round(value) : value.toFixed(1)} ${units[i]}`;
}

function fileUrl(rec, file) {
  return `/api/v1/recordings/${encodeURIComponent(rec.id)}/files/${encodeURIComponent(file)}`;
}

function tracksTable(rec) {
  if (!rec.tracks.length) return h("p", { class: "muted" }, rec.state === "recording" ? "No tracks written yet." : "No tracks.");
  const parts = rec.segments > 1;
  return h("div", { class: "table-wrap" },
    h("table", { class: "tracks", testid: "recording-tracks" },
      h("thead", {}, h("tr", {},
        h("th", { scope: "col" }, "Participant"), h("th", { scope: "col" }, "Source"),
        parts ? h("th", { scope: "col" }, "Part") : null,
        h("th", { scope: "col" }, "Duration"), h("th", { scope: "col" }, "Size"),
        h("th", { scope: "col" }, h("span", { class: "offscreen" }, "Download")))),
      h("tbody", {}, rec.tracks.map((t) => h("tr", { testid: "recording-track", dataset: { file: t.file, source: t.source } },
        h("td", { testid: "track-name" }, t.participant_name || t.participant_id),
        h("td", { testid: "track-source" }, SOURCES[t.source] || t.source),
        parts ? h("td", {}, String(t.segment)) : null,
        h("td", {}, formatDuration(t.duration_s)),
        h("td", {}, formatBytes(t.bytes)),
        h("td", {}, h("a", {
          href: fileUrl(rec, t.file), download: t.file, testid: "recording-file",
          "aria-label": `Download ${SOURCES[t.source] || t.source} of ${t.participant_name || t.participant_id}`,
        }, "Download")))))));
}

/** Delete with a second click to confirm; `done` runs after the recording is gone. */
function deleteButton(rec, done) {
  return confirmDelete({ url: `/api/v1/recordings/${encodeURIComponent(rec.id)}`,
                         question: "Delete this recording and its files? ", deleted: "Recording deleted", done,
                         testid: "recording-delete", small: true });
}

function item(rec, reload) {
  const started = rec.started_at ? formatDateTime(rec.started_at) : "Not started";
  return h("li", { class: "recording", testid: "recording", dataset: { recordingId: rec.id, state: rec.state } },
    h("div", { class: "recording-head" },
      h("span", { class: ["badge", `badge--rec-${rec.state}`], testid: "recording-state" }, STATES[rec.state] || rec.state),
      h("strong", { testid: "recording-started" }, started),
      h("span", { class: "muted", testid: "recording-size" }, `${formatDuration(rec.duration_s)} · ${formatBytes(rec.bytes)}`)),
    rec.error ? h("p", { class: "form-error", testid: "recording-error" }, rec.error)
      : rec.reason ? h("p", { class: "muted recording-reason" }, rec.reason) : null,
    tracksTable(rec),
    h("div", { class: "actions" },
      rec.manifest_url ? h("a", { class: "btn btn--small", href: rec.manifest_url, download: "manifest.json",
        testid: "recording-manifest" }, "Manifest (JSON)") : null,
      rec.state !== "recording" ? deleteButton(rec, reload) : null));
}

/** The section, loading at once; `stop()` ends its polling (the page's cleanup). */
export function recordingsSection(m) {
  const list = h("ul", { class: "recordings plain", testid: "recordings-list", "aria-busy": "true" });
  const shown = new Map(); // id → {key, el}: an unchanged recording keeps its element (and an open confirmation)
  let timer = null;
  let stopped = false;
  const load = async () => {
    clearTimeout(timer);
    list.setAttribute("aria-busy", "true");
    let found = [];
    try {
      found = await get(`/api/v1/meetings/${encodeURIComponent(m.id)}/recordings`);
    } catch (err) {
      shown.clear();
      list.replaceChildren(h("li", { class: "form-error", testid: "recordings-error" }, err.detail || String(err)));
      return;
    } finally {
      list.setAttribute("aria-busy", "false");
    }
    const items = found.map((rec) => {
      const key = JSON.stringify(rec);
      const old = shown.get(rec.id);
      return old && old.key === key ? old : { id: rec.id, key, el: item(rec, load) };
    });
    shown.clear();
    for (const entry of items) shown.set(entry.id, entry);
    list.replaceChildren(...(items.length ? items.map((e) => e.el)
      : [h("li", { class: "empty muted", testid: "recordings-empty" }, "No recordings of this meeting.")]));
    if (!stopped && found.some((rec) => rec.state === "recording")) timer = setTimeout(load, POLL_MS);
  };
  const el = h("section", { class: "card recordings-card", testid: "recordings", "aria-labelledby": "recordings-title" },
    h("div", { class: "page-head" }, h("h2", { id: "recordings-title" }, "Recordings"),
      h("button", { class: "btn btn--small btn--quiet", type: "button", testid: "recordings-refresh", onclick: () => load() }, "Refresh")),
    list);
  load();
  return {
    el,
    reload: load,
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
