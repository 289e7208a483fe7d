// End-to-end encryption of encoded media frames (docs/security.md, End-to-end encryption): what
// the E2EE worker does to each frame, one frame at a time, in order.
//
// A sealed frame is
//
//   clear header │ AES-GCM(key, iv, header as additional data) of the rest, with its 16-byte tag │ iv (12) │ key id (1)
//
// The clear header is what the edge and the receiving browser's depacketizer read: a VP8 key
// frame's first 10 bytes (frame tag, start code, size: RFC 6386 §9.1), a VP8 delta frame's first 3
// (frame tag), an audio frame's first byte (Opus TOC). It is authenticated, not hidden. The iv is
// unique per frame under a key: 8 random bytes chosen per sender (per transform) and a 32-bit
// counter of the frames that sender sealed (a new random part when the counter wraps).

export const IV_BYTES = 12;
export const TAG_BYTES = 16;
/** What a sealed frame carries besides the clear header and the encrypted payload. */
export const TRAILER_BYTES = IV_BYTES + 1;

/** How many leading bytes of a frame stay in clear: VP8 key frames 10, VP8 delta frames 3, audio 1. */
export function clearBytes(frame) {
  if (frame.type === "key") return 10;
  if (frame.type === "delta") return 3;
  return 1;
}

/** Unique ivs for one sender: a random 8-byte prefix and a big-endian frame counter. */
export class IvSource {
  constructor() {
    this.iv = new Uint8Array(IV_BYTES);
    this.view = new DataView(this.iv.buffer);
    this.counter = 0;
    crypto.getRandomValues(this.iv.subarray(0, 8));
  }

  next() {
    if (this.counter > 0xffffffff) {
      crypto.getRandomValues(this.iv.subarray(0, 8));
      this.counter = 0;
    }
    this.view.setUint32(8, this.counter);
    this.counter += 1;
    return this.iv.slice();
  }
}

/** Seal *data* (the encoded frame's bytes) with *key*, keeping *clear* bytes in clear. */
export async function seal(data, clear, key, keyId, ivs) {
  const n = Math.min(clear, data.length);
  const iv = ivs.next();
  const header = data.subarray(0, n);
  const sealed = new Uint8Array(await crypto.subtle.encrypt(
    { name: "AES-GCM", iv, additionalData: header, tagLength: TAG_BYTES * 8 }, key, data.subarray(n)));
  const out = new Uint8Array(n + sealed.length + TRAILER_BYTES);
  out.set(header, 0);
  out.set(sealed, n);
  out.set(iv, n + sealed.length);
  out[out.length - 1] = keyId;
  return out;
}

/**
 * Open a sealed frame with the key its key id names in *keys* (Map key id → CryptoKey): the
 * original bytes, or null when it cannot be (no such key, too short, or the authentication fails:
 * another key, or altered on the way).
 */
export async function open(data, clear, keys) {
  const n = Math.min(clear, data.length - TAG_BYTES - TRAILER_BYTES); // a frame shorter than its header kept it all
  if (n < 0) return null;
  const key = keys.get(data[data.length - 1]);
  if (!key) return null;
  const ivAt = data.length - TRAILER_BYTES;
  try {
    const plain = new Uint8Array(await crypto.subtle.decrypt(
      { name: "AES-GCM", iv: data.subarray(ivAt, ivAt + IV_BYTES), additionalData: data.subarray(0, n), tagLength: TAG_BYTES * 8 },
      key, data.subarray(n, ivAt)));
    const out = new Uint8Array(n + plain.length);
    out.set(data.subarray(0, n), 0);
    out.set(plain, n);
    return out;
  } catch {
    return null;
  }
}
