// A tiny history router: route("/meetings/:id", page) and navigate(path).
// A page is `(root, params, query) => cleanup?`; the cleanup runs before the next page.

const routes = [];
let root = null;
let cleanup = null;
let notFound = null;

export function route(pattern, page) {
  const names = [];
  const source = pattern.replace(/:(\w+)/g, (_, name) => {
    names.push(name);
    return "([^/]+)";
  });
  routes.push({ re: new RegExp(`^${source}/?$`), names, page });
}

export function fallback(page) {
  notFound = page;
}

export function navigate(path, { replace = false } = {}) {
  if (replace) history.replaceState(null, "", path);
  else history.pushState(null, "", path);
  render();
}

export function currentPath() {
  return location.pathname + location.search;
}

export async function render() {
  if (typeof cleanup === "function") {
    try {
      cleanup();
    } catch (err) {
      console.error(err);
    }
  }
  cleanup = null;
  const path = location.pathname;
  const query = new URLSearchParams(location.search);
  for (const { re, names, page } of routes) {
    const match = re.exec(path);
    if (match) {
      const params = Object.fromEntries(names.map((n, i) => [n, decodeURIComponent(match[i + 1])]));
      cleanup = await page(root, params, query);
      return;
    }
  }
  if (notFound) cleanup = await notFound(root, {}, query);
}

function onClick(event) {
  if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey) return;
  const a = event.target.closest("a[href]");
  if (!a || a.target || a.hasAttribute("download") || a.dataset.external !== undefined) return;
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin || url.pathname.startsWith("/api/")) return;
  event.preventDefault();
  navigate(url.pathname + url.search);
}

export function start(element) {
  root = element;
  window.addEventListener("popstate", render);
  document.addEventListener("click", onClick);
  return render();
}
