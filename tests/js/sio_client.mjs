// A signaling client on the official Socket.IO client, driven by a Python test.
// Usage: node sio_client.mjs URL AUTH_JSON [OPTIONS_JSON]   (options: extra io() options, e.g. extraHeaders)
// stdin: one JSON command a line — {"emit": <message>} sends a protocol message (an object or a
// JSON string) as the "message" event; {"disconnect": true} closes the connection.
// stdout: one JSON line per thing that happened — {"event": "connect"}, {"event": "connect_error",
// "data": …}, {"event": "message", "data": <the parsed protocol message>}, {"event": "close",
// "data": {code, reason}}, {"event": "disconnect", "reason": …}.
import { io } from "socket.io-client";
import { createInterface } from "node:readline";

const [url, authJson, optionsJson] = process.argv.slice(2);
const auth = authJson ? JSON.parse(authJson) : undefined;
const options = optionsJson ? JSON.parse(optionsJson) : {};
const out = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");

const socket = io(url, { auth, transports: ["websocket"], reconnection: false, timeout: 5000, ...options });
socket.on("connect", () => out({ event: "connect", transport: socket.io.engine.transport.name }));
socket.on("connect_error", (err) => out({ event: "connect_error", message: err.message, data: err.data ?? null }));
socket.on("message", (text) => out({ event: "message", data: typeof text === "string" ? JSON.parse(text) : text }));
socket.on("close", (data) => out({ event: "close", data }));
socket.on("disconnect", (reason) => { out({ event: "disconnect", reason }); setTimeout(() => process.exit(0), 50); });

createInterface({ input: process.stdin }).on("line", (line) => {
  if (!line.trim()) return;
  const cmd = JSON.parse(line);
  if (cmd.emit !== undefined) socket.emit("message", cmd.emit);
  if (cmd.disconnect) socket.disconnect();
}).on("close", () => { socket.disconnect(); process.exit(0); });
