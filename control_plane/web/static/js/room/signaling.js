// The edge's signaling protocol over a WebSocket (docs/protocol.md): join, numbered messages,
// requests answered by `re`, pings — and when the socket drops, reconnect: resume the same place
// on the same edge while its grace period lasts, else join afresh with the join token (valid on
// the alternates too) on the same or another edge of the plan (edges.js), asking the room for a
// new join answer after each full round.

import { t } from "../i18n.js";
import { EdgePlan } from "./edges.js";
import { Requests } from "./requests.js";

/** Close codes after which reconnecting cannot help. */
const FINAL = {
  4001: "refused", 4003: "origin", 4004: "no_join", 4010: "kicked", 4011: "ended", 4012: "denied",
  4013: "replaced", 4014: "edge_stopped",
};
/** …except while coming back: a refused token or a silent edge means "try elsewhere". */
const RETRY_WHEN_BACK = new Set([4001, 4004]);
const QUIET_REPLIES = new Set(["ok", "pong"]);
/** Messages about the old place's peer connections: meaningless on a new place. */
const STALE_ON_REJOIN = new Set(["ice", "offer", "answer"]);

export class Signaling {
  /** `join`: the control plane's join answer (token, edge, alternates, meeting id). */
  constructor({ join, onMessage, onState, pingEvery = 10000, attemptTimeout = 8000, giveUp = [20000, 120000] }) {
    this.plan = new EdgePlan(join);
    this.meetingId = join.meeting_id;
    this.onMessage = onMessage;
    this.onState = onState;
    this.pingEvery = pingEvery;
    this.attemptTimeout = attemptTimeout;
    this.giveUp = giveUp; // ms of trying before giving up: never in yet, been in
    this.state = "idle";
    this.history = []; // every state the connection went through, in order
    this.ws = null;
    this.edge = null; // the edge the room is in: {edge_id, url, via}
    this.edges = []; // every arrival: {edge_id, via (first, same, alternate, control_plane), how, at}
    this.lastSeq = 0;
    this.resumeToken = "";
    this.resumeEdge = "";
    this.participantId = "";
    this.everIn = false;
    this.requests = new Requests();
    this.queue = [];
    this.nextId = 1;
    this.droppedAt = 0;
    this.left = false;
    this.rtt = null;
    this.reconnects = 0; // resumes
    this.rejoins = 0; // fresh joins after having been in (another edge, or the same one that forgot us)
    this.restartMedia = () => false;
    this.onRoundOver = async () => null; // every edge of the plan failed: a new join answer, or null
    this._timer = null;
    this._ping = null;
    this._heard = 0;
  }

  connect() {
    this._setState("connecting");
    this._open(this.plan.edge);
  }

  _setState(state, detail = "") {
    if (this.state === state && !detail) return;
    this.state = state;
    this.history.push(state);
    this.onState(state, detail);
  }

  _open(target) {
    const url = new URL(target.url);
    url.searchParams.set("meeting", this.meetingId);
    const ws = new WebSocket(url.toString());
    ws.ccTarget = target;
    this.ws = ws;
    const deadline = setTimeout(() => {
      if (ws === this.ws && !ws.ccIn) ws.close(); // no answer in time: count it as a failed attempt
    }, this.attemptTimeout);
    ws.onopen = () => {
      if (ws !== this.ws) return;
      ws.ccOpened = true;
      this._heard = performance.now();
      if (this.resumeToken && this.resumeEdge === target.edge_id) {
        this._sendJoin(ws, "resume", { resume_token: this.resumeToken, last_seq: this.lastSeq,
          restart_media: Boolean(this.restartMedia()) });
      } else {
        this._sendJoin(ws, "join", { token: this.plan.token });
      }
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
    ws.onclose = (event) => {
      clearTimeout(deadline);
      this._closed(ws, event);
    };
  }

  _sendJoin(ws, kind, fields) {
    const join = { type: "join", id: `${kind}-${this.nextId++}`, meeting_id: this.meetingId, ...fields };
    this.joinId = join.id;
    this.joinKind = kind;
    ws.send(JSON.stringify(join));
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
    const answersJoin = msg.re !== undefined && msg.re !== null && msg.re === this.joinId;
    const fresh = answersJoin && this.joinKind === "join" && (msg.type === "joined" || msg.type === "lobby_waiting");
    if (fresh) this.lastSeq = 0; // a place of its own: the edge numbers its messages from 1
    if (msg.seq) {
      if (msg.seq <= this.lastSeq) return; // already seen (a replay overlap)
      this.lastSeq = msg.seq;
    }
    switch (msg.type) {
      case "joined":
      case "lobby_waiting":
        this.participantId = msg.participant_id;
        if (msg.resume_token) this.resumeToken = msg.resume_token;
        if (fresh) this._arrived(this.everIn ? "rejoined" : "joined");
        this._connected();
        break;
      case "resumed":
        this.reconnects += 1;
        this._arrived("resumed");
        this._connected();
        break;
      case "pong":
        this.rtt = performance.now() - msg.t;
        break;
      case "error":
        if (answersJoin && this._joinRefused(msg)) return;
        break;
      default:
    }
    if (this.requests.settle(msg)) return;
    if (QUIET_REPLIES.has(msg.type)) return;
    this.onMessage(msg);
  }

  /** A `join` was refused; true when handled here (the room hears only a first join's refusal). */
  _joinRefused(msg) {
    const ws = this.ws;
    if (this.joinKind === "resume" && msg.code === "resume_failed") {
      this._sendJoin(ws, "join", { token: this.plan.token }); // the edge does not know us (any more)
      return true;
    }
    if (msg.code === "meeting_ended") {
      this._final("ended", msg.message);
      return true;
    }
    if (!this.everIn) return false;
    // Coming back and refused here (a stopping edge, a token it does not take): try elsewhere;
    // a refused token means a new one from the control plane.
    if (msg.field === "token") this.plan.tokenRefusedHere();
    if (ws.readyState === WebSocket.OPEN) ws.close();
    return true;
  }

  /** In on the edge of the socket: where, how (joined, resumed, rejoined) and by which way. */
  _arrived(how) {
    const target = this.ws.ccTarget;
    this.ws.ccIn = true;
    this.resumeEdge = target.edge_id;
    if (how === "rejoined") {
      this.rejoins += 1;
      this.queue = this.queue.filter((m) => !STALE_ON_REJOIN.has(m.type));
      this.requests.fail(new Set(this.queue.map((m) => m.id))); // what is still queued goes to the new place
    }
    this.everIn = true;
    this.edge = { ...target };
    this.plan.arrived(this.edge);
    this.edges.push({ edge_id: target.edge_id, via: target.via, how, at: performance.now() });
  }

  _connected() {
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
    return this.requests.make(msg, (m) => this.send(m), timeout);
  }

  _closed(ws, event) {
    if (ws !== this.ws || this.state === "closed") return;
    clearInterval(this._ping);
    if (this.left) return this._final("left");
    const retry = this.everIn && RETRY_WHEN_BACK.has(event.code);
    if (FINAL[event.code] && !retry) return this._final(FINAL[event.code], event.reason);
    if (retry && event.code === 4001) this.plan.tokenRefusedHere();
    const now = Date.now();
    if (!this.droppedAt) {
      this.droppedAt = now;
      this.plan.restart();
    }
    if (now - this.droppedAt > this.giveUp[this.everIn ? 1 : 0]) {
      return this._final(this.everIn ? "lost" : "unreachable",
        this.everIn ? t("signaling.notBack") : t("signaling.unreachable"));
    }
    this._setState(this.everIn ? "reconnecting" : "connecting");
    this._next();
  }

  /** Wait, then try the next edge of the plan; after a full round, ask for a new join answer first. */
  async _next() {
    let step = this.plan.next();
    if (!step) {
      let join = null;
      try {
        join = await this.onRoundOver();
      } catch {
        join = null; // the control plane cannot help (yet): another round on what we know
      }
      if (this.left || this.state === "closed") return;
      this.plan.newRound(join);
      step = this.plan.next();
    }
    clearTimeout(this._timer);
    this._timer = setTimeout(() => {
      if (!this.left && this.state !== "closed") this._open(step.edge);
    }, step.delay);
  }

  _final(reason, detail = "") {
    clearTimeout(this._timer);
    clearInterval(this._ping);
    this.requests.fail();
    this.queue = [];
    if (this.state === "closed") return;
    if (!this.left) this.ws?.close(); // e.g. a join refused on a socket the edge keeps open
    this.state = "closed";
    this.history.push("closed");
    this.closeReason = reason;
    this.onState("closed", reason, detail);
  }

  /** Leave the meeting: the edge tells the others and closes the socket. */
  leave() {
    if (this.left) return;
    this.left = true;
    clearTimeout(this._timer);
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
