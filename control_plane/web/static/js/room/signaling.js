// The edge's signaling protocol over a WebSocket (docs/protocol.md): join, numbered messages,
// requests answered by `re`, pings, and — when the socket drops — reconnect with backoff and
// jitter and resume the same place with the resume token while the edge's grace period lasts.

/** Close codes after which reconnecting cannot help. */
const FINAL = {
  4001: "refused", 4003: "origin", 4004: "no_join", 4010: "kicked", 4011: "ended", 4012: "denied",
  4013: "replaced", 4014: "edge_stopped",
};
const QUIET_REPLIES = new Set(["ok", "pong"]);

export class SignalingError extends Error {
  constructor(msg) {
    super(msg.message || msg.code);
    this.code = msg.code;
    this.field = msg.field || "";
  }
}

export class Signaling {
  constructor({ url, meetingId, token, onMessage, onState, pingEvery = 10000, backoff = [250, 5000] }) {
    const u = new URL(url);
    u.searchParams.set("meeting", meetingId);
    this.url = u.toString();
    this.meetingId = meetingId;
    this.token = token;
    this.onMessage = onMessage;
    this.onState = onState;
    this.pingEvery = pingEvery;
    this.backoff = backoff;
    this.state = "idle";
    this.history = []; // every state the connection went through, in order
    this.ws = null;
    this.lastSeq = 0;
    this.resumeToken = "";
    this.grace = 30;
    this.participantId = "";
    this.pending = new Map();
    this.queue = [];
    this.nextId = 1;
    this.attempts = 0;
    this.droppedAt = 0;
    this.left = false;
    this.rtt = null;
    this.reconnects = 0;
    this.restartMedia = () => false;
    this.onUnreachable = () => {}; // sockets keep failing to open: the edge may be gone
    this.failedOpens = 0;
    this._timer = null;
    this._ping = null;
    this._heard = 0;
  }

  connect() {
    this._setState("connecting");
    this._open();
  }

  _setState(state, detail = "") {
    if (this.state === state && !detail) return;
    this.state = state;
    this.history.push(state);
    this.onState(state, detail);
  }

  _open() {
    const ws = new WebSocket(this.url);
    this.ws = ws;
    ws.onopen = () => {
      ws.ccOpened = true;
      this.failedOpens = 0;
      this._heard = performance.now();
      const resuming = Boolean(this.resumeToken);
      const join = resuming
        ? { type: "join", id: `resume-${this.nextId++}`, resume_token: this.resumeToken, last_seq: this.lastSeq,
          meeting_id: this.meetingId, restart_media: Boolean(this.restartMedia()) }
        : { type: "join", id: `join-${this.nextId++}`, token: this.token, meeting_id: this.meetingId };
      this.joinId = join.id;
      ws.send(JSON.stringify(join));
      clearInterval(this._ping);
      this._ping = setInterval(() => this._keepAlive(ws), this.pingEvery);
    };
    ws.onmessage = (event) => {
      if (ws !== this.ws) return;
      this._heard = performance.now();
      let msg;
      try {
        msg = JSON.parse(event.data);
      } catch {
        return;
      }
      this._receive(msg);
    };
    ws.onclose = (event) => this._closed(ws, event);
  }

  _keepAlive(ws) {
    if (ws !== this.ws || ws.readyState !== WebSocket.OPEN) return;
    if (performance.now() - this._heard > this.pingEvery * 2.5) {
      ws.close(); // nothing heard for too long: treat it as a drop
      return;
    }
    ws.send(JSON.stringify({ type: "ping", id: `ping-${this.nextId++}`, t: performance.now() }));
  }

  _receive(msg) {
    if (msg.seq) {
      if (msg.seq <= this.lastSeq) return; // already seen (a replay overlap)
      this.lastSeq = msg.seq;
    }
    switch (msg.type) {
      case "joined":
      case "lobby_waiting":
        this.participantId = msg.participant_id;
        if (msg.resume_token) this.resumeToken = msg.resume_token;
        if (msg.resume_grace) this.grace = msg.resume_grace;
        this._connected();
        break;
      case "resumed":
        this.reconnects += 1;
        this._connected();
        break;
      case "pong":
        this.rtt = performance.now() - msg.t;
        break;
      case "error":
        if (msg.re && msg.re === this.joinId && String(msg.re).startsWith("resume-")) {
          this._final("lost", msg.message);
          return;
        }
        break;
      default:
    }
    if (msg.re !== undefined && msg.re !== null && this.pending.has(msg.re)) {
      const { resolve, reject, timer } = this.pending.get(msg.re);
      this.pending.delete(msg.re);
      clearTimeout(timer);
      if (msg.type === "error") {
        reject(new SignalingError(msg));
        return;
      }
      resolve(msg);
    }
    if (QUIET_REPLIES.has(msg.type)) return;
    this.onMessage(msg);
  }

  _connected() {
    this.attempts = 0;
    this.droppedAt = 0;
    this._setState("connected");
    const queued = this.queue.splice(0);
    for (const msg of queued) this.send(msg);
  }

  /** Send now when connected, else when the connection is back. */
  send(msg) {
    if (this.state === "connected" && this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(msg));
    else if (!this.left) this.queue.push(msg);
  }

  /** Send a request and wait for the message that answers it (`re`); an `error` rejects. */
  request(msg, timeout = 20000) {
    const id = `c${this.nextId++}`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new SignalingError({ code: "timeout", message: `no answer to ${msg.type} within ${timeout / 1000} s` }));
      }, timeout);
      this.pending.set(id, { resolve, reject, timer });
      this.send({ ...msg, id });
    });
  }

  _closed(ws, event) {
    if (ws !== this.ws) return;
    clearInterval(this._ping);
    if (!ws.ccOpened) this.failedOpens += 1;
    if (this.left) return this._final("left");
    if (FINAL[event.code]) return this._final(FINAL[event.code], event.reason);
    if (!this.droppedAt) this.droppedAt = Date.now();
    const sinceDrop = (Date.now() - this.droppedAt) / 1000;
    if (this.resumeToken && sinceDrop > this.grace) return this._final("lost", "the connection did not come back in time");
    if (!this.resumeToken && this.attempts >= 5) return this._final("unreachable", "the meeting server cannot be reached");
    this._setState(this.resumeToken ? "reconnecting" : "connecting");
    const [base, cap] = this.backoff;
    const ceiling = Math.min(cap, base * 2 ** this.attempts);
    const delay = ceiling / 2 + Math.random() * (ceiling / 2); // exponential backoff, jittered
    this.attempts += 1;
    if (this.failedOpens >= 2) this.onUnreachable(this.failedOpens);
    clearTimeout(this._timer);
    this._timer = setTimeout(() => {
      if (!this.left) this._open();
    }, delay);
  }

  _final(reason, detail = "") {
    clearTimeout(this._timer);
    clearInterval(this._ping);
    for (const { reject, timer } of this.pending.values()) {
      clearTimeout(timer);
      reject(new SignalingError({ code: "closed", message: "the connection closed" }));
    }
    this.pending.clear();
    this.queue = [];
    if (this.state === "closed") return;
    this.state = "closed";
    this.history.push("closed");
    this.closeReason = reason;
    this.onState("closed", reason, detail);
  }

  /** Leave the meeting: the edge tells the others and closes the socket. */
  leave() {
    if (this.left) return;
    this.left = true;
    if (this.ws?.readyState === WebSocket.OPEN) {
      this.ws.send(JSON.stringify({ type: "leave" }));
      setTimeout(() => this.ws.close(), 1000);
    } else {
      this.ws?.close();
      this._final("left");
    }
  }

  /** Close without leaving (the page goes away): the place is kept for the grace period. */
  close() {
    this.left = true;
    clearTimeout(this._timer);
    this.ws?.close();
  }
}
