// The camera is published as simulcast (docs/sfu.md, "Simulcast"): two or three encodings of the
// same picture, lowest first, so the edge can send each subscriber the one its link and its tile
// can take. Layers follow the capture's height, as browsers themselves limit them: a layer under
// 90 lines is not worth its bits. Screen shares stay one encoding (text needs every pixel).

/** rid, downscale and bitrate cap of each layer, lowest first (top: the capture itself). */
const LAYERS = [
  { rid: "q", scaleResolutionDownBy: 4, maxBitrate: 150_000 },
  { rid: "h", scaleResolutionDownBy: 2, maxBitrate: 500_000 },
  { rid: "f", scaleResolutionDownBy: 1, maxBitrate: 1_500_000 },
];

/**
 * The `sendEncodings` for a camera whose frames are `height` lines high: three layers from 540
 * lines up (¼, ½, full), two from 270 (½, full: 320×180 and 640×360 for the usual capture), one
 * below that (no simulcast: `undefined`).
 */
export function cameraEncodings(height) {
  if (!(height >= 270)) return undefined;
  if (height >= 540) return LAYERS.map((l) => ({ ...l }));
  // ½ and full: the lower layer (320×180 for the usual capture) fits a thin link
  return [
    { rid: "q", scaleResolutionDownBy: 2, maxBitrate: 150_000 },
    { rid: "f", scaleResolutionDownBy: 1, maxBitrate: 800_000 },
  ];
}

/** The encodings to publish `track` as `source` with (undefined: one plain encoding). */
export function encodingsFor(source, track) {
  if (source !== "camera" || !track) return undefined;
  const settings = track.getSettings ? track.getSettings() : {};
  return cameraEncodings(settings.height);
}
