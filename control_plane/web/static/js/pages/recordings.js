// A meeting's recordings, on its page (for those who manage it): state, when, how long, how big,
// each track to download, the manifest, and delete (asks first).

import { get } from "../api.js";
import { confirmDelete } from "../forms.js";
import { h } from "../dom.js";
import { formatDateTime, formatNumber, t } from "../i18n.js";

/** How often the list is read again while a recording is being written, ms. */
const POLL_MS = 5000;

const STATES = { recording: "recordings.state.recording", stopped: "recordings.state.stopped", failed: "recordings.state.failed" };
const SOURCES = { microphone: "recordings.source.microphone", camera: "recordings.source.camera", screen: "recordings.source.screen" };

const label = (table, value) => (table[value] ? t(table[value]) : value);

export function formatDuration(seconds) {
  const s = Math.round(seconds || 0);
  if (s < 60) return t("duration.seconds", { s });
  if (s < 3600) return t("duration.minutes", { min: Math.floor(s / 60), s: s % 60 });
  return t("duration.hours", { h: Math.floor(s / 3600), min: Math.floor((s % 3600) / 60) });
}

/** A size in bytes with a decimal unit (kB, MB, …: symbols in every language), the number in the language's way. */
export function formatBytes(n) {
  if (!n) return `${formatNumber(0)} B`;
  const units = ["B", "kB", "MB", "GB", "TB"];
  const i = Math.min(units.length - 1, Math.floor(Math.log10(n) / 3));
  const value = n / 1000 ** i;
  const digits = value >= 100 || i === 0 ? 0 : 1;
  return `${formatNumber(value, { minimumFractionDigits: digits, maximumFractionDigits: digits })} ${units[i]}`;
}

function fileUrl(rec, file) {
  return `/api/v1/recordings/${encodeURIComponent(rec.id)}/files/${encodeURIComponent(file)}`;
}

function tracksTable(rec) {
  if (!rec.tracks.length) return h("p", { class: "muted" }, rec.state === "recording" ? t("recordings.noTracksYet") : t("recordings.noTracks"));
  const parts = rec.segments > 1;
  return h("div", { class: "table-wrap" },
    h("table", { class: "tracks", testid: "recording-tracks" },
      h("thead", {}, h("tr", {},
        h("th", { scope: "col" }, t("recordings.col.participant")), h("th", { scope: "col" }, t("recordings.col.source")),
        parts ? h("th", { scope: "col" }, t("recordings.col.part")) : null,
        h("th", { scope: "col" }, t("recordings.col.duration")), h("th", { scope: "col" }, t("recordings.col.size")),
        h("th", { scope: "col" }, h("span", { class: "offscreen" }, t("recordings.download"))))),
      h("tbody", {}, rec.tracks.map((tr) => h("tr", { testid: "recording-track", dataset: { file: tr.file, source: tr.source } },
        h("td", { testid: "track-name" }, tr.participant_name || tr.participant_id),
        h("td", { testid: "track-source" }, label(SOURCES, tr.source)),
        parts ? h("td", {}, formatNumber(tr.segment)) : null,
        h("td", {}, formatDuration(tr.duration_s)),
        h("td", {}, formatBytes(tr.bytes)),
        h("td", {}, h("a", {
          href: fileUrl(rec, tr.file), download: tr.file, testid: "recording-file",
          "aria-label": t("recordings.downloadOf", { source: label(SOURCES, tr.source), name: tr.participant_name || tr.participant_id }),
        }, t("recordings.download"))))))));
}

/** Delete with a second click to confirm; `done` runs after the recording is gone. */
function deleteButton(rec, done) {
  return confirmDelete({ url: `/api/v1/recordings/${encodeURIComponent(rec.id)}`,
                         question: `${t("recordings.deleteQuestion")} `, deleted: t("recordings.deleted"), done,
                         testid: "recording-delete", small: true });
}

function item(rec, reload) {
  const started = rec.started_at ? formatDateTime(rec.started_at) : t("recordings.notStarted");
  return h("li", { class: "recording", testid: "recording", dataset: { recordingId: rec.id, state: rec.state } },
    h("div", { class: "recording-head" },
      h("span", { class: ["badge", `badge--rec-${rec.state}`], testid: "recording-state" }, label(STATES, rec.state)),
      h("strong", { testid: "recording-started" }, started),
      h("span", { class: "muted", testid: "recording-size" }, `${formatDuration(rec.duration_s)} · ${formatBytes(rec.bytes)}`)),
    rec.error ? h("p", { class: "form-error", testid: "recording-error" }, rec.error)
      : rec.reason ? h("p", { class: "muted recording-reason" }, rec.reason) : null,
    tracksTable(rec),
    h("div", { class: "actions" },
      rec.manifest_url ? h("a", { class: "btn btn--small", href: rec.manifest_url, download: "manifest.json",
        testid: "recording-manifest" }, t("recordings.manifest")) : null,
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
      : [h("li", { class: "empty muted", testid: "recordings-empty" }, t("recordings.none"))]));
    if (!stopped && found.some((rec) => rec.state === "recording")) timer = setTimeout(load, POLL_MS);
  };
  const el = h("section", { class: "card recordings-card", testid: "recordings", "aria-labelledby": "recordings-title" },
    h("div", { class: "page-head" }, h("h2", { id: "recordings-title" }, t("recordings.title")),
      h("button", { class: "btn btn--small btn--quiet", type: "button", testid: "recordings-refresh", onclick: () => load() }, t("recordings.refresh"))),
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
