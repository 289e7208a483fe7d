// Where the room connects, and in which order it tries again when its edge goes away
// (docs/regions.md, Failover): the same edge after a random 0–1 s (resume), then the join answer's
// alternates in the order the control plane listed them — the same order for everyone in the
// meeting, so they all land on the same edge —, waiting 0.5 s · 2ⁿ (at most 5 s) ±50 % between
// attempts. After a full round the room asks the control plane for a new token and edge.

/** Waits before each attempt, in ms: a random 0–1 s first, then `base · 2ⁿ` (≤ `cap`) ±50 %. */
export function* reconnectDelays(base = 500, cap = 5000, random = Math.random) {
  yield random() * 1000;
  for (let n = 0; ; n += 1) yield Math.min(base * 2 ** n, cap) * (0.5 + random());
}

function ref(edgeId, url, via) {
  return { edge_id: edgeId, url, via };
}

export class EdgePlan {
  /** `join`: the control plane's join answer (`token`, `edge_id`, `edge_url`, `alternates`). */
  constructor(join) {
    this.token = join.token;
    this.edge = ref(join.edge_id, join.edge_url, "first"); // where the room is (or goes first)
    this.alternates = (join.alternates || []).map((a) => ref(a.edge_id, a.url, "alternate"));
    this.round = [];
    this.delays = reconnectDelays();
    this.tokenRefused = false;
  }

  /** The connection dropped: start over from the same edge, with short waits again. */
  restart() {
    this.delays = reconnectDelays();
    this._fill("same");
  }

  _fill(via) {
    this.round = [{ ...this.edge, via }, ...this.alternates.filter((a) => a.edge_id !== this.edge.edge_id)];
  }

  /** The next edge to try and the wait before it; null when the round is over. */
  next() {
    const edge = this.round.shift();
    return edge ? { edge, delay: this.delays.next().value } : null;
  }

  /** An edge refused the token (expired, say): only the control plane can help, so ask it now. */
  tokenRefusedHere() {
    this.round = [];
    this.tokenRefused = true;
  }

  /**
   * A new round after one failed: with the control plane's new answer when there is one (a fresh
   * token; its edge and alternates). Somewhere new to go, or a new token for an edge that only
   * refused the old one, starts again from a short wait.
   */
  newRound(join) {
    if (join) {
      const tried = [this.edge, ...this.alternates].some((e) => e.edge_id === join.edge_id);
      this.token = join.token;
      this.edge = ref(join.edge_id, join.edge_url, "control_plane");
      this.alternates = (join.alternates || []).map((a) => ref(a.edge_id, a.url, "alternate"));
      if (!tried || this.tokenRefused) this.delays = reconnectDelays();
      this.tokenRefused = false;
    }
    this._fill(join ? "control_plane" : "same");
  }

  /** The room is in on `edge`: the next drop starts from there. */
  arrived(edge) {
    this.edge = edge;
  }
}
