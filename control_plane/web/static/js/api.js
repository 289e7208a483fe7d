// The control plane's JSON API: CSRF token on every non-GET request, errors as ApiError.

import { t } from "./i18n.js";

const SAFE = new Set(["GET", "HEAD", "OPTIONS"]);
let csrfToken = null;

export function setCsrf(token) {
  csrfToken = token || null;
}

/** An error answer: status, detail, and the request fields at fault ({field, message}). */
export class ApiError extends Error {
  constructor(status, body) {
    super(body?.detail || t("error.requestFailed", { status: String(status) }));
    this.status = status;
    this.code = body?.error || "";
    this.detail = body?.detail || this.message;
    this.fields = Array.isArray(body?.fields) ? body.fields : [];
  }

  /** The message for one field (a nested field counts for its parent too), or "". */
  fieldMessage(name) {
    const hit = this.fields.find((f) => f.field === name || f.field.startsWith(name + "."));
    return hit ? hit.message : "";
  }
}

async function send(method, path, body) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (!SAFE.has(method) && csrfToken) headers["X-CSRF-Token"] = csrfToken;
  let res;
  try {
    res = await fetch(path, {
      method, headers, credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (err) {
    throw new ApiError(0, { error: "network", detail: t("error.network", { detail: err.message }) });
  }
  if (res.status === 204) return { res, data: null };
  const type = res.headers.get("content-type") || "";
  const data = type.includes("json") ? await res.json().catch(() => null) : await res.text();
  return { res, data };
}

export async function api(method, path, body) {
  let { res, data } = await send(method, path, body);
  if (res.status === 403 && !SAFE.has(method) && /CSRF/.test(data?.detail || "")) {
    // The session's token changed (signed in elsewhere, or a reload): fetch it again, once.
    const me = await send("GET", "/api/v1/auth/me");
    if (me.res.ok) {
      setCsrf(me.data.csrf_token);
      ({ res, data } = await send(method, path, body));
    }
  }
  if (!res.ok) throw new ApiError(res.status, typeof data === "object" && data ? data : { detail: String(data || res.statusText) });
  return data;
}

export const get = (path) => api("GET", path);
export const post = (path, body) => api("POST", path, body === undefined ? {} : body);
export const patch = (path, body) => api("PATCH", path, body);
export const del = (path) => api("DELETE", path);
