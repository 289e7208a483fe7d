// Runs the web app's end-to-end encryption code (static/js/room/e2ee_frames.js, e2ee.js) in node,
// with node's WebCrypto, and prints what tests/control_plane/test_web_e2ee.py asserts, as JSON.

import { clearBytes, IvSource, open, seal, TAG_BYTES, TRAILER_BYTES } from "../../control_plane/web/static/js/room/e2ee_frames.js";
import { deriveMediaKey, ITERATIONS } from "../../control_plane/web/static/js/room/e2ee.js";

const hex = (bytes) => Buffer.from(bytes).toString("hex");
const frame = (n, first) => Uint8Array.from({ length: n }, (_, i) => (i === 0 ? first : (i * 37) & 0xff));

const started = performance.now();
const mine = await deriveMediaKey("correct horse battery staple", "m1");
const deriveMs = performance.now() - started;
const again = await deriveMediaKey("correct horse battery staple", "m1");
const wrong = await deriveMediaKey("incorrect horse battery staple", "m1");
const elsewhere = await deriveMediaKey("correct horse battery staple", "m2");
const keys = (k) => new Map([[k.keyId, k.key]]);

const out = { iterations: ITERATIONS, deriveMs, keyIds: [mine.keyId, again.keyId], extractable: mine.key.extractable,
  algorithm: mine.key.algorithm, clear: {}, frames: [] };
out.clear = { key: clearBytes({ type: "key" }), delta: clearBytes({ type: "delta" }), audio: clearBytes({}) };

const ivs = new IvSource();
for (const [kind, type, data] of [["video", "key", frame(1200, 0x10)], ["video", "delta", frame(300, 0x31)],
  ["audio", undefined, frame(80, 0x78)], ["video", "delta", frame(2, 0x31)]]) {
  const clear = clearBytes({ type });
  const sealed = await seal(data, clear, mine.key, mine.keyId, ivs);
  const n = Math.min(clear, data.length);
  const tampered = sealed.slice();
  tampered[0] ^= 0x01; // the clear header is authenticated
  const body = sealed.slice();
  body[n + 1] ^= 0x80; // and so is the rest
  out.frames.push({
    kind, type: type || "", length: data.length, sealedLength: sealed.length,
    headerKept: hex(sealed.subarray(0, n)) === hex(data.subarray(0, n)),
    restHidden: hex(sealed.subarray(n, data.length)) !== hex(data.subarray(n)),
    keyIdLast: sealed[sealed.length - 1] === mine.keyId,
    opens: hex((await open(sealed, clear, keys(mine))) || []) === hex(data),
    opensWithTheSamePassphraseAgain: hex((await open(sealed, clear, keys(again))) || []) === hex(data),
    wrongPassphrase: await open(sealed, clear, keys(wrong)),
    wrongPassphraseSameKeyId: await open(sealed, clear, new Map([[mine.keyId, wrong.key]])),
    otherMeeting: await open(sealed, clear, new Map([[mine.keyId, elsewhere.key]])),
    headerTampered: await open(tampered, clear, keys(mine)),
    bodyTampered: await open(body, clear, keys(mine)),
    clearFrame: await open(data, clear, keys(mine)),
  });
}

// The iv: unique per frame of a sender, and two senders do not share their random part.
const one = new IvSource();
const other = new IvSource();
const seen = new Set();
for (let i = 0; i < 5000; i += 1) seen.add(hex(one.next()));
const ivA = one.next();
const ivB = other.next();
out.ivs = { unique: seen.size, counterLast: hex(ivA.subarray(8)), prefixesDiffer: hex(ivA.subarray(0, 8)) !== hex(ivB.subarray(0, 8)) };
out.overhead = TAG_BYTES + TRAILER_BYTES;
console.log(JSON.stringify(out));
