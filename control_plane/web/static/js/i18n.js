// Languages: every text the web app shows comes from a catalogue (`i18n/en.js`, `i18n/de.js`)
// through t(key, params). The language is the browser's first supported one (navigator.languages)
// unless chosen with the header's switch (remembered in localStorage); English otherwise. Numbers,
// dates and times are formatted by Intl in that language (with the browser's region when it has
// one for it, e.g. en-GB).

import de from "./i18n/de.js";
import en from "./i18n/en.js";

/** The catalogues by language code; English is the fallback for a key another one lacks. */
export const CATALOGUES = { en, de };
/** Each language in its own name, for the switch. */
export const LANGUAGES = { en: "English", de: "Deutsch" }; // i18n-ok: each language in its own name
export const DEFAULT_LANGUAGE = "en";
const STORAGE_KEY = "cc.language";

let current = DEFAULT_LANGUAGE;
const plurals = new Map(); // locale → Intl.PluralRules
const listeners = new Set();

/** The supported language of a BCP 47 tag ("de-AT" → "de"), or null. */
export function supported(tag) {
  const code = String(tag || "").toLowerCase().split(/[-_]/)[0];
  return Object.hasOwn(CATALOGUES, code) ? code : null;
}

/** The first of the browser's languages that the web app has (English when none). */
export function browserLanguage(list = navigator.languages || [navigator.language]) {
  for (const tag of list) {
    const code = supported(tag);
    if (code) return code;
  }
  return DEFAULT_LANGUAGE;
}

/** The language chosen with the switch in this browser, or null. */
export function storedLanguage() {
  try {
    return supported(localStorage.getItem(STORAGE_KEY));
  } catch {
    return null; // storage off: the browser's language
  }
}

export function language() {
  return current;
}

/** The locale for Intl: the browser's own tag for the chosen language (e.g. en-GB), else its code. */
export function locale() {
  const tags = (typeof navigator !== "undefined" && navigator.languages) || [];
  return tags.find((tag) => supported(tag) === current) || current;
}

function apply(code) {
  current = code;
  if (typeof document !== "undefined") document.documentElement.lang = code;
}

/** Take the stored choice, else the browser's language; sets `<html lang>`. */
export function initLanguage() {
  apply(storedLanguage() || browserLanguage());
  return current;
}

/** Switch to *code* and remember it in this browser; listeners (the router's redraw) run. */
export function setLanguage(code) {
  const next = supported(code) || DEFAULT_LANGUAGE;
  try {
    localStorage.setItem(STORAGE_KEY, next);
  } catch {
    // storage off: the choice holds for this page only
  }
  if (next === current) return;
  apply(next);
  for (const fn of listeners) fn(next);
}

export function onLanguageChange(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

function pluralRules() {
  const loc = locale();
  if (!plurals.has(loc)) plurals.set(loc, new Intl.PluralRules(loc));
  return plurals.get(loc);
}

function show(value) {
  return typeof value === "number" ? formatNumber(value) : String(value ?? "");
}

/**
 * The text of *key* in the current language, with `{name}` placeholders filled from *params*
 * (numbers formatted for the language). An entry of plural forms ({one, other, …}) is chosen by
 * `params.count` with Intl.PluralRules.
 */
export function t(key, params = {}) {
  let entry = CATALOGUES[current][key] ?? en[key];
  if (entry === undefined) {
    console.warn(`no text for "${key}"`);
    return key;
  }
  if (typeof entry === "object") entry = entry[pluralRules().select(Number(params.count))] ?? entry.other;
  return entry.replace(/\{(\w+)\}/g, (whole, name) => (Object.hasOwn(params, name) ? show(params[name]) : whole));
}

/** Like t(), as parts for h(): a parameter that is a DOM node (e.g. a bold name) is put in as itself. */
export function tParts(key, params = {}) {
  const marked = Object.fromEntries(Object.entries(params).map(([k, v]) => [k, v instanceof Node ? `\u0000${k}\u0000` : v]));
  return t(key, marked).split(/\u0000(\w+)\u0000/).map((part, i) => (i % 2 ? params[part] : part)).filter((p) => p !== "");
}

export function formatNumber(value, options = {}) {
  return new Intl.NumberFormat(locale(), options).format(value);
}

function asDate(value) {
  if (value instanceof Date) return value;
  return typeof value === "number" ? new Date(value * 1000) : new Date(value);
}

/** A date and time (medium date, short time by default), in *timeZone* when given. */
export function formatDateTime(value, timeZone, options = { dateStyle: "medium", timeStyle: "short" }) {
  const date = asDate(value);
  try {
    return new Intl.DateTimeFormat(locale(), { ...options, timeZone }).format(date);
  } catch {
    return new Intl.DateTimeFormat(locale(), options).format(date); // an unknown time zone
  }
}

export function formatTime(value, timeZone) {
  return formatDateTime(value, timeZone, { timeStyle: "short" });
}

/** A calendar date ("2025-03-01", as the API writes one) in the language's way. */
export function formatDate(value) {
  const date = typeof value === "string" && /^\d{4}-\d{2}-\d{2}$/.test(value) ? new Date(`${value}T12:00:00`) : asDate(value);
  return new Intl.DateTimeFormat(locale(), { dateStyle: "medium" }).format(date);
}

const WEEKDAY_CODES = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"];

/** A weekday's name from its RFC 5545 code (MO … SU), short by default. */
export function weekdayName(code, width = "short") {
  const i = WEEKDAY_CODES.indexOf(code);
  if (i < 0) return code;
  return new Intl.DateTimeFormat(locale(), { weekday: width, timeZone: "UTC" }).format(new Date(Date.UTC(2024, 0, 1 + i)));
}

/** "A, B and C" in the language's way. */
export function formatList(items, type = "conjunction") {
  return new Intl.ListFormat(locale(), { style: "long", type }).format(items.map(String));
}
