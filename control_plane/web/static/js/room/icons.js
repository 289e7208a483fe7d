// Icons for the room's controls (24×24 path data, drawn with currentColor).

import { svg } from "../dom.js";

const SLASH = "M3.3 2.3 2 3.6l18.4 18.4 1.3-1.3z";
const MIC = ["M12 14a3 3 0 0 0 3-3V5a3 3 0 0 0-6 0v6a3 3 0 0 0 3 3z",
  "M17 11a5 5 0 0 1-10 0H5a7 7 0 0 0 6 6.9V21h2v-3.1a7 7 0 0 0 6-6.9z"];
const CAMERA = ["M4 6h11a2 2 0 0 1 2 2v8a2 2 0 0 1-2 2H4a2 2 0 0 1-2-2V8a2 2 0 0 1 2-2z", "M18 10.5 22 7v10l-4-3.5z"];
const LOCK = ["M12 2a5 5 0 0 0-5 5v3H6a1 1 0 0 0-1 1v10a1 1 0 0 0 1 1h12a1 1 0 0 0 1-1V11a1 1 0 0 0-1-1h-1V7a5 5 0 0 0-5-5zM9 10V7a3 3 0 0 1 6 0v3z"];

const PATHS = {
  mic: MIC,
  micOff: [...MIC, SLASH],
  camera: CAMERA,
  cameraOff: [...CAMERA, SLASH],
  screen: ["M3 4h18a1 1 0 0 1 1 1v11a1 1 0 0 1-1 1h-7v2h3v2H7v-2h3v-2H3a1 1 0 0 1-1-1V5a1 1 0 0 1 1-1zm1 2v9h16V6z"],
  chat: ["M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z"],
  rooms: ["M3 3h8v8H3zm2 2v4h4V5z", "M13 3h8v8h-8zm2 2v4h4V5z", "M3 13h8v8H3zm2 2v4h4v-4z", "M13 13h8v8h-8zm2 2v4h4v-4z"],
  people: ["M9 11a4 4 0 1 0 0-8 4 4 0 0 0 0 8z", "M1 21c0-3.9 3.6-7 8-7s8 3.1 8 7z",
    "M17 11a3 3 0 1 0 0-6 3 3 0 0 0 0 6z", "M18.5 13.2c2.6.6 4.5 2.8 4.5 5.8v2h-4.2c0-3.1-1.3-5.8-3.3-7.3.9-.4 2-.6 3-.5z"],
  leave: ["M12 9c-3.4 0-6.6.9-9.4 2.7-.4.3-.6.7-.6 1.2v2.6c0 .7.7 1.2 1.4 1l3.1-1c.5-.2.8-.6.8-1.1V12a12.5 12.5 0 0 1 9.4 0v2.4c0 .5.3.9.8 1.1l3.1 1c.7.2 1.4-.3 1.4-1v-2.6c0-.5-.2-.9-.6-1.2A17 17 0 0 0 12 9z"],
  settings: ["M3 6h11v2H3zm15 0h3v2h-3zM3 16h3v2H3zm7 0h11v2H10z", "M14 4h4v6h-4zM6 14h4v6H6z"],
  end: ["M6 6h12v12H6z"],
  lock: LOCK,
  lockOff: [...LOCK, SLASH],
  record: ["M12 2a10 10 0 1 0 0 20 10 10 0 0 0 0-20zm0 2a8 8 0 1 1 0 16 8 8 0 0 1 0-16z", "M12 7a5 5 0 1 0 0 10 5 5 0 0 0 0-10z"],
  recordStop: ["M12 2a10 10 0 1 0 0 20 10 10 0 0 0 0-20zm0 2a8 8 0 1 1 0 16 8 8 0 0 1 0-16z", "M8.5 8.5h7v7h-7z"],
  info: ["M12 2a10 10 0 1 0 0 20 10 10 0 0 0 0-20zm0 5a1.5 1.5 0 1 1 0 3 1.5 1.5 0 0 1 0-3zm-2 5h3v6h-2v-4h-1z"],
  hand: ["M8 11V5a1.5 1.5 0 0 1 3 0v5h1V3.5a1.5 1.5 0 0 1 3 0V10h1V5.5a1.5 1.5 0 0 1 3 0V15a7 7 0 0 1-7 7h-.5a6.5 6.5 0 0 1-5.3-2.8L2.6 14.5a1.5 1.5 0 0 1 2.3-1.9L7 14.6V11z"],
  react: ["M12 2a10 10 0 1 0 0 20 10 10 0 0 0 0-20zm0 2a8 8 0 1 1 0 16 8 8 0 0 1 0-16z",
    "M8.5 8a1.5 1.5 0 1 0 0 3 1.5 1.5 0 0 0 0-3zm7 0a1.5 1.5 0 1 0 0 3 1.5 1.5 0 0 0 0-3zM7 13.5h10a5 5 0 0 1-10 0z"],
};

/** The reactions the edge takes (`react`), as the page shows them. */
export const REACTIONS = { thumbs_up: "👍", clap: "👏", laugh: "😂", surprised: "😮", heart: "❤️", party: "🎉" };
/** Each reaction's name: its key in the catalogue (i18n/). */
export const REACTION_NAMES = { thumbs_up: "room.reaction.thumbsUp", clap: "room.reaction.clap", laugh: "room.reaction.laugh",
  surprised: "room.reaction.surprised", heart: "room.reaction.heart", party: "room.reaction.party" };

export function icon(name, size = 20) {
  return svg(PATHS[name] || PATHS.info, { size });
}
