"""What ``bench/network.py`` reads in the browsers and how it turns it into figures: page scripts that
sample ``getStats()`` every 0.1 s (a subscriber's inbound video, the publisher's outbound layers)
into ``window.__bench.samples``, and the arithmetic over a window of those samples. Times are
milliseconds since the epoch (``performance.timeOrigin + performance.now()``), one clock for all
the pages on this machine. Nothing here is part of the product."""

from __future__ import annotations

from collections import Counter
from typing import Any

SUBSCRIBER_SAMPLER = """() => {
  if (window.__bench) return;
  const bench = { samples: [], frames() { const s = bench.samples[bench.samples.length - 1]; return s ? s.framesDecoded : 0; } };
  window.__bench = bench;
  setInterval(async () => {
    const pc = window.__cc && window.__cc.subscribePc;
    if (!pc) return;
    const stats = await pc.getStats();
    const t = performance.timeOrigin + performance.now();
    let video = null, audioBytes = 0;
    stats.forEach((s) => {
      if (s.type !== "inbound-rtp") return;
      if (s.kind === "audio") audioBytes += s.bytesReceived || 0;
      else if (!video || (s.framesDecoded || 0) > (video.framesDecoded || 0)) video = s;
    });
    if (!video) return;
    bench.samples.push({ t, audioBytes, ssrc: video.ssrc, framesDecoded: video.framesDecoded || 0,
      freezeCount: video.freezeCount || 0, totalFreezesDuration: video.totalFreezesDuration || 0,
      bytesReceived: video.bytesReceived || 0, frameWidth: video.frameWidth || 0, frameHeight: video.frameHeight || 0,
      packetsLost: video.packetsLost || 0, nackCount: video.nackCount || 0, pliCount: video.pliCount || 0,
      firCount: video.firCount || 0, framesDropped: video.framesDropped || 0 });
  }, 100);
}"""

PUBLISHER_SAMPLER = """() => {
  if (window.__bench) return;
  const bench = { samples: [], frames() { return 0; } };
  window.__bench = bench;
  setInterval(async () => {
    const pc = window.__cc && window.__cc.publishPc;
    if (!pc) return;
    const stats = await pc.getStats();
    const t = performance.timeOrigin + performance.now();
    const layers = [];
    stats.forEach((s) => {
      if (s.type !== "outbound-rtp" || s.kind !== "video") return;
      layers.push({ rid: s.rid || "", ssrc: s.ssrc, frameWidth: s.frameWidth || 0, frameHeight: s.frameHeight || 0,
        framesEncoded: s.framesEncoded || 0, bytesSent: s.bytesSent || 0, targetBitrate: s.targetBitrate || 0,
        qualityLimitationReason: s.qualityLimitationReason || "", active: s.active !== false });
    });
    bench.samples.push({ t, layers });
  }, 500);
}"""


def _window(samples: list[dict[str, Any]], start: float, end: float) -> list[dict[str, Any]]:
    """The samples in [start, end], preceded by the last one before *start* (the baseline)."""
    before = [s for s in samples if s["t"] < start]
    inside = [s for s in samples if start <= s["t"] <= end]
    return before[-1:] + inside


def _gain(samples: list[dict[str, Any]], key: str) -> float:
    """How much a counter grew over the samples (a counter that restarts is followed from its restart)."""
    return sum(max(0.0, b[key] - a[key]) for a, b in zip(samples, samples[1:]))


def publisher_layers(samples: list[dict[str, Any]], start: float, end: float) -> list[dict[str, Any]]:
    """The publisher's video layers during the window, lowest resolution first: rid, size, frames
    per second and kb/s sent, and why the encoder limited itself (if it did)."""
    samples = _window(samples, start, end)
    if len(samples) < 2:
        return []
    dt = (samples[-1]["t"] - samples[0]["t"]) / 1000
    by_ssrc: dict[int, list[dict[str, Any]]] = {}
    for sample in samples:
        for layer in sample["layers"]:
            by_ssrc.setdefault(layer["ssrc"], []).append(layer)
    out = []
    for series in by_ssrc.values():
        heights = Counter((x["frameWidth"], x["frameHeight"]) for x in series if x["frameHeight"])
        (width, height), _ = heights.most_common(1)[0] if heights else ((0, 0), 0)
        out.append({"rid": series[-1]["rid"], "width": width, "height": height,
                    "fps": round(_gain(series, "framesEncoded") / dt, 1),
                    "kbps": round(_gain(series, "bytesSent") * 8 / dt / 1000, 1),
                    "target_kbps": round(series[-1]["targetBitrate"] / 1000, 1),
                    "quality_limitation": series[-1]["qualityLimitationReason"]})
    return sorted(out, key=lambda x: (x["height"], x["rid"]))


def layer_of(height: int, layers: list[dict[str, Any]]) -> int | None:
    """The index of the publisher's layer whose height is nearest *height*."""
    if not height:
        return None
    if not layers:
        return 0
    return min(range(len(layers)), key=lambda i: abs(layers[i]["height"] - height))


def summarise(samples: list[dict[str, Any]], start: float, end: float,
              layers: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    """One subscriber's figures over the window (see ``definitions`` in ``bench/network.py``) and
    the details behind them."""
    samples = _window(samples, start, end)
    if len(samples) < 2:
        return ({"fps": 0.0, "max_freeze_s": round((end - start) / 1000, 2), "freeze_count": 0, "kbps": 0.0,
                 "layer": None}, {"samples": len(samples)})
    dt = (samples[-1]["t"] - samples[0]["t"]) / 1000
    frames = _gain(samples, "framesDecoded")
    # freezes as getStats counts them (a freeze is counted when it ends)
    reported, freezes = 0.0, 0
    for a, b in zip(samples, samples[1:]):
        n = b["freezeCount"] - a["freezeCount"]
        if n > 0:
            freezes += n
            reported = max(reported, (b["totalFreezesDuration"] - a["totalFreezesDuration"]) / n)
    # the longest time with no new decoded frame (a lower bound at 0.1 s sampling), open stalls too
    gap, last = 0.0, samples[0]["t"]
    for a, b in zip(samples, samples[1:]):
        if b["framesDecoded"] > a["framesDecoded"] or b["framesDecoded"] < a["framesDecoded"]:
            gap = max(gap, a["t"] - last)
            last = b["t"]
    gap = max(gap, samples[-1]["t"] - last) / 1000
    decoding = [b for a, b in zip(samples, samples[1:]) if b["framesDecoded"] > a["framesDecoded"]]
    sizes = Counter((s["frameWidth"], s["frameHeight"]) for s in decoding if s["frameHeight"])
    (width, height), _ = sizes.most_common(1)[0] if sizes else ((0, 0), 0)
    figures = {
        "fps": round(frames / dt, 1),
        "max_freeze_s": round(max(reported, gap), 2),
        "freeze_count": int(freezes),
        "kbps": round(_gain(samples, "bytesReceived") * 8 / dt / 1000, 1),
        "layer": layer_of(height, layers),
    }
    details = {
        "width": width, "height": height,
        "sizes": {f"{w}x{h}": round(n / max(1, len(decoding)), 2) for (w, h), n in sizes.most_common()},
        "getstats_max_freeze_s": round(reported, 2), "max_gap_s": round(gap, 2),
        "freeze_total_s": round(_gain(samples, "totalFreezesDuration"), 2),
        "audio_kbps": round(_gain(samples, "audioBytes") * 8 / dt / 1000, 1),
        **{k: int(_gain(samples, key)) for k, key in (("packets_lost", "packetsLost"), ("nacks", "nackCount"),
                                                      ("plis", "pliCount"), ("firs", "firCount"),
                                                      ("frames_dropped", "framesDropped"))},
        "samples": len(samples),
    }
    return figures, details
