// The E2EE worker (a module worker of the room, `e2ee.js`): encrypts every frame this browser sends
// and decrypts every frame it receives, off the page's thread. Frames come either through
// RTCRtpScriptTransform (the `rtctransform` event) or, in browsers that only have the older
// encoded-streams API, as the readable and writable streams the page posts (`streams`).
//
// Each transform's options: `{operation: "encrypt" | "decrypt", id, key, keyId}`. A frame that
// cannot be decrypted is dropped (never shown as noise); the page hears how each receiver fares:
// `{type: "state", id, state: "ok" | "failed", frames, failed}` when that changes, and the
// counts at most once a second while frames flow.

import { clearBytes, IvSource, open, seal } from "./e2ee_frames.js";

/** Failures in a row after which a receiver that decrypted before counts as failing. */
const FAILURES_TO_FAIL = 3;
const REPORT_EVERY_MS = 1000;

const keys = new Map(); // key id → CryptoKey

function reporter(id) {
  const status = { id, state: "", frames: 0, failed: 0, inRow: 0, reported: 0 };
  const report = () => {
    status.reported = Date.now();
    self.postMessage({ type: "state", id, state: status.state, frames: status.frames, failed: status.failed });
  };
  return {
    ok() {
      status.frames += 1;
      status.inRow = 0;
      if (status.state !== "ok") {
        status.state = "ok";
        report();
      } else if (Date.now() - status.reported > REPORT_EVERY_MS) report();
    },
    failed() {
      status.failed += 1;
      status.inRow += 1;
      if (status.state !== "failed" && (status.state === "" || status.inRow >= FAILURES_TO_FAIL)) {
        status.state = "failed";
        report();
      } else if (Date.now() - status.reported > REPORT_EVERY_MS) report();
    },
  };
}

function encrypter({ id, key, keyId }) {
  const ivs = new IvSource();
  const status = reporter(id);
  return new TransformStream({
    async transform(frame, controller) {
      const data = new Uint8Array(frame.data);
      if (!data.length) return controller.enqueue(frame);
      try {
        frame.data = (await seal(data, clearBytes(frame), key, keyId, ivs)).buffer;
      } catch {
        return status.failed(); // never sent in clear
      }
      status.ok();
      controller.enqueue(frame);
    },
  });
}

function decrypter({ id }) {
  const status = reporter(id);
  return new TransformStream({
    async transform(frame, controller) {
      const data = new Uint8Array(frame.data);
      if (!data.length) return controller.enqueue(frame);
      const plain = await open(data, clearBytes(frame), keys);
      if (!plain) return status.failed(); // dropped: not this meeting's key (a wrong passphrase), or not encrypted
      frame.data = plain.buffer;
      status.ok();
      controller.enqueue(frame);
    },
  });
}

function pipe(readable, writable, options) {
  if (options.key) keys.set(options.keyId, options.key);
  const transform = options.operation === "encrypt" ? encrypter(options) : decrypter(options);
  readable.pipeThrough(transform).pipeTo(writable).catch(() => {}); // ends with its connection
}

self.addEventListener("rtctransform", ({ transformer }) => {
  pipe(transformer.readable, transformer.writable, transformer.options);
});

self.addEventListener("message", ({ data }) => {
  if (data?.type === "streams") pipe(data.readable, data.writable, data.options);
});
