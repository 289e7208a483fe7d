// Who is signed in (GET /api/v1/auth/me), and signing in and out.

import { ApiError, get, post, setCsrf } from "./api.js";

export const session = { account: null };

const listeners = new Set();
export function onSessionChange(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

function set(answer) {
  session.account = answer ? answer.account : null;
  setCsrf(answer ? answer.csrf_token : null);
  for (const fn of listeners) fn(session.account);
}

export async function loadSession() {
  try {
    set(await get("/api/v1/auth/me"));
  } catch (err) {
    if (!(err instanceof ApiError) || err.status !== 401) throw err;
    set(null);
  }
  return session.account;
}

export async function signIn(username, password) {
  set(await post("/api/v1/auth/login", { username, password, method: "auto" }));
  return session.account;
}

export async function register(fields) {
  set(await post("/api/v1/auth/register", fields));
  return session.account;
}

export async function signOut() {
  try {
    await post("/api/v1/auth/logout");
  } finally {
    set(null);
  }
}

const RANK = { guest: 0, member: 1, host: 2, admin: 3 };
export function atLeast(role) {
  return session.account !== null && RANK[session.account.role] >= RANK[role];
}
