// The schedule part of the meeting form: start and end, time zone, and a repeat rule.

import { h } from "../dom.js";
import { check, field } from "../forms.js";
import { t, weekdayName } from "../i18n.js";

const WEEKDAYS = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"];
/** The unit after "every N", by how often: its plural forms in the catalogue. */
const UNITS = { daily: "schedule.unit.daily", weekly: "schedule.unit.weekly", monthly: "schedule.unit.monthly" };

function pad(n) {
  return String(n).padStart(2, "0");
}

/** "YYYY-MM-DDTHH:MM" for a datetime-local input, from a Date in the browser's zone. */
function localInput(date) {
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

function zones() {
  try {
    return Intl.supportedValuesOf("timeZone");
  } catch {
    return ["UTC"];
  }
}

function hide(el, hidden) {
  el.hidden = hidden;
}

/** Build the fieldset; `read()` gives the API's `schedule` (or null), `el` is the node. */
export function scheduleFields(schedule) {
  const start0 = new Date();
  start0.setMinutes(0, 0, 0);
  start0.setHours(start0.getHours() + 1);
  const end0 = new Date(start0.getTime() + 3600 * 1000);
  const rec = schedule?.recurrence || null;

  const scheduled = h("input", { type: "checkbox", checked: Boolean(schedule), testid: "meeting-scheduled" });
  const start = h("input", { type: "datetime-local", required: true, testid: "meeting-start",
    value: schedule ? String(schedule.start).slice(0, 16) : localInput(start0) });
  const end = h("input", { type: "datetime-local", required: true, testid: "meeting-end",
    value: schedule ? String(schedule.end).slice(0, 16) : localInput(end0) });
  const zoneList = h("datalist", { id: "time-zones" }, zones().map((z) => h("option", { value: z })));
  const timeZone = h("input", { list: "time-zones", required: true, testid: "meeting-time-zone", autocomplete: "off",
    value: schedule?.time_zone || Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC" });
  const freq = h("select", { testid: "meeting-repeat" },
    [["", "schedule.noRepeat"], ["daily", "schedule.daily"], ["weekly", "schedule.weekly"], ["monthly", "schedule.monthly"]]
      .map(([v, l]) => h("option", { value: v, selected: (rec?.freq || "") === v }, t(l))));
  const interval = h("input", { type: "number", min: 1, max: 99, value: rec?.interval || 1, testid: "meeting-interval" });
  const days = WEEKDAYS.map((code) => {
    const box = h("input", { type: "checkbox", value: code, checked: Boolean(rec?.weekdays?.includes(code)), testid: `meeting-weekday-${code}` });
    return h("label", { class: "check check--inline" }, box, h("span", { title: weekdayName(code, "long") }, weekdayName(code)));
  });
  const endsKind = rec?.count ? "count" : rec?.until ? "until" : "never";
  const ends = h("select", { testid: "meeting-repeat-ends" },
    [["never", "schedule.endsNever"], ["count", "schedule.endsCount"], ["until", "schedule.endsUntil"]]
      .map(([v, l]) => h("option", { value: v, selected: endsKind === v }, t(l))));
  const count = h("input", { type: "number", min: 1, max: 1000, value: rec?.count || 10, testid: "meeting-count" });
  const until = h("input", { type: "date", value: rec?.until || "", testid: "meeting-until" });

  const weekdaysRow = h("div", { class: "field" }, h("span", { class: "label" }, t("schedule.on")), h("div", { class: "days" }, days),
    h("div", { class: "field-error", dataset: { field: "schedule.recurrence.weekdays" }, testid: "error-schedule.recurrence.weekdays" }));
  const countField = field(t("schedule.times"), count, { name: "schedule.recurrence.count" });
  const untilField = field(t("schedule.until"), until, { name: "schedule.recurrence.until" });
  const unit = h("span", { class: "unit", testid: "meeting-interval-unit" });
  const repeatBox = h("div", { class: "grid2" },
    field(t("schedule.every"), h("div", { class: "with-unit" }, interval, unit), { name: "schedule.recurrence.interval" }),
    field(t("schedule.repeatEnds"), ends, { name: "schedule.recurrence.ends" }), countField, untilField);
  const body = h("div", { class: "stack" },
    h("div", { class: "grid2" },
      field(t("schedule.starts"), start, { name: "schedule.start" }), field(t("schedule.ends"), end, { name: "schedule.end" })),
    field(t("schedule.timeZone"), timeZone, { name: "schedule.time_zone" }), zoneList,
    field(t("schedule.repeat"), freq, { name: "schedule.recurrence.freq" }), repeatBox, weekdaysRow);

  const sync = () => {
    const n = Number(interval.value) || 1;
    unit.textContent = UNITS[freq.value] ? t(UNITS[freq.value], { count: n }) : "";
    hide(body, !scheduled.checked);
    hide(repeatBox, !freq.value);
    hide(weekdaysRow, freq.value !== "weekly");
    hide(countField, ends.value !== "count");
    hide(untilField, ends.value !== "until");
  };
  for (const el of [scheduled, freq, ends]) el.addEventListener("change", sync);
  interval.addEventListener("input", sync);
  sync();

  const el = h("fieldset", { class: "fieldset" }, h("legend", {}, t("schedule.legend")),
    check(t("schedule.scheduleIt"), scheduled, { name: "schedule" }), body);

  function read() {
    if (!scheduled.checked) return null;
    const out = { start: `${start.value}:00`, end: `${end.value}:00`, time_zone: timeZone.value.trim() };
    if (freq.value) {
      const r = { freq: freq.value, interval: Number(interval.value) || 1 };
      if (freq.value === "weekly") r.weekdays = days.map((d) => d.querySelector("input")).filter((i) => i.checked).map((i) => i.value);
      if (ends.value === "count") r.count = Number(count.value);
      if (ends.value === "until") r.until = until.value || null;
      out.recurrence = r;
    }
    return out;
  }
  return { el, read };
}
