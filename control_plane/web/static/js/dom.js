// Tiny DOM helpers: h() builds elements, svg() builds icons, clear() empties a node.
// (Dates, times and numbers are formatted by i18n.js, in the chosen language.)

const SVG_NS = "http://www.w3.org/2000/svg";

function setAttr(el, key, value) {
  if (value === undefined || value === null || value === false) return;
  if (key === "class") el.className = Array.isArray(value) ? value.filter(Boolean).join(" ") : value;
  else if (key === "testid") el.dataset.testid = value;
  else if (key === "dataset") Object.assign(el.dataset, value);
  else if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
  else if (key === "value" || key === "checked" || key === "disabled" || key === "selected") el[key] = value;
  else el.setAttribute(key, value === true ? "" : String(value));
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** h("button", {class: "btn", testid: "x", onclick: fn}, "label", child, [more]) */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) setAttr(el, key, value);
  append(el, children);
  return el;
}

/** An SVG icon from path data (24×24 view box). */
export function svg(paths, { size = 20, title = "" } = {}) {
  const el = document.createElementNS(SVG_NS, "svg");
  el.setAttribute("viewBox", "0 0 24 24");
  el.setAttribute("width", size);
  el.setAttribute("height", size);
  el.setAttribute("aria-hidden", "true");
  el.classList.add("icon");
  for (const d of paths) {
    const p = document.createElementNS(SVG_NS, "path");
    p.setAttribute("d", d);
    el.append(p);
  }
  if (title) {
    const t = document.createElementNS(SVG_NS, "title");
    t.textContent = title;
    el.prepend(t);
  }
  return el;
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

export function mount(el, ...children) {
  clear(el);
  append(el, children);
  return el;
}

/** A short notice at the bottom of the screen. */
export function toast(text, { kind = "info", ms = 4000 } = {}) {
  let box = document.querySelector(".toasts");
  if (!box) {
    box = h("div", { class: "toasts", role: "status", "aria-live": "polite" });
    document.body.append(box);
  }
  const item = h("div", { class: ["toast", `toast--${kind}`], testid: "toast" }, text);
  box.append(item);
  setTimeout(() => item.remove(), ms);
}

export async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    // No clipboard permission (or not a secure context): select it in a temporary field.
    const area = h("textarea", { class: "offscreen", readonly: true }, text);
    document.body.append(area);
    area.select();
    const ok = document.execCommand && document.execCommand("copy");
    area.remove();
    return Boolean(ok);
  }
}
