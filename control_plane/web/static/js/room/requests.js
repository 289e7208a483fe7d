// Requests to the edge that wait for their answer: each carries an `id`, the edge's reply (or
// `error`) echoes it as `re`.

import { t } from "../i18n.js";

export class SignalingError extends Error {
  constructor(msg) {
    super(msg.message || msg.code);
    this.code = msg.code;
    this.field = msg.field || "";
  }
}


export class Requests {
  constructor() {
    this.pending = new Map(); // id → {resolve, reject, timer}
    this.nextId = 1;
  }

  /** A promise for the answer to `msg`, sent by `send(msg with its id)`; rejected after `timeout` ms. */
  make(msg, send, timeout) {
    const id = `c${this.nextId++}`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new SignalingError({ code: "timeout", message: t("signaling.timeout", { type: msg.type, seconds: timeout / 1000 }) }));
      }, timeout);
      this.pending.set(id, { resolve, reject, timer });
      send({ ...msg, id });
    });
  }

  /** Settle the request `msg` answers; true when it was an `error` (consumed by the request). */
  settle(msg) {
    if (msg.re === undefined || msg.re === null || !this.pending.has(msg.re)) return false;
    const { resolve, reject, timer } = this.pending.get(msg.re);
    this.pending.delete(msg.re);
    clearTimeout(timer);
    if (msg.type === "error") {
      reject(new SignalingError(msg));
      return true;
    }
    resolve(msg);
    return false;
  }

  /** The connection is over (or the place is new): requests already sent get no answer. */
  fail(keep = new Set()) {
    for (const [id, { reject, timer }] of this.pending) {
      if (keep.has(id)) continue;
      clearTimeout(timer);
      reject(new SignalingError({ code: "closed", message: t("signaling.closed") }));
      this.pending.delete(id);
    }
  }
}
