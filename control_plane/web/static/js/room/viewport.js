// What this page shows, told to the edge as a `view` message: each remote video tile on screen
// with its size in device pixels, and the ones that are not (scrolled or squeezed out of sight, on
// another page of people, or the whole tab hidden). The edge then sends each shown track the smallest layer that covers its
// tile and nothing for hidden ones. Sent when the grid, a tile's size, what is on screen or the
// tab's visibility changes (at most every REPORT_MS), and only when it says something new.

const REPORT_MS = 250;

export class ViewReporter {
  /** `grid`: the Grid (its `tiles` map); `send(msg)`: sends a view message to the edge. */
  constructor(grid, send) {
    this.grid = grid;
    this.send = send;
    this.onScreen = new Map(); // tile element → intersecting the viewport
    this.observed = new Set();
    this.last = "";
    this.timer = null;
    this.io = new IntersectionObserver((entries) => {
      for (const e of entries) this.onScreen.set(e.target, e.isIntersecting);
      this.schedule();
    });
    this.ro = new ResizeObserver(() => this.schedule());
    this.onVisibility = () => this.schedule();
    document.addEventListener("visibilitychange", this.onVisibility);
  }

  /** The grid changed: watch its tiles. */
  update() {
    const now = new Set([...this.grid.tiles.values()].map((t) => t.el));
    for (const el of this.observed) {
      if (!now.has(el)) {
        this.io.unobserve(el);
        this.ro.unobserve(el);
        this.onScreen.delete(el);
        this.observed.delete(el);
      }
    }
    for (const el of now) {
      if (!this.observed.has(el)) {
        this.io.observe(el);
        this.ro.observe(el);
        this.observed.add(el);
      }
    }
    this.schedule();
  }

  /** A new connection or place: the edge knows no view, so the next one is sent even if unchanged. */
  reset() {
    this.last = "";
    this.schedule();
  }

  schedule() {
    if (this.timer === null) this.timer = setTimeout(() => { this.timer = null; this.report(); }, REPORT_MS);
  }

  /** The view as the page shows it now. */
  current() {
    const dpr = window.devicePixelRatio || 1;
    const away = document.visibilityState === "hidden";
    const tracks = [];
    const hidden = [];
    for (const tile of this.grid.tiles.values()) {
      const d = tile.el.dataset;
      if (d.local === "true" || !d.trackId) continue;
      if (away || d.offPage === "true" || this.onScreen.get(tile.el) === false) {
        hidden.push(d.trackId);
      } else {
        const r = tile.el.getBoundingClientRect();
        tracks.push({ track_id: d.trackId, width: Math.round(r.width * dpr), height: Math.round(r.height * dpr) });
      }
    }
    return { tracks, hidden };
  }

  report() {
    const view = this.current();
    const key = JSON.stringify(view);
    if (key === this.last) return;
    if (this.send({ type: "view", ...view })) this.last = key;
  }

  close() {
    clearTimeout(this.timer);
    this.io.disconnect();
    this.ro.disconnect();
    document.removeEventListener("visibilitychange", this.onVisibility);
  }
}
