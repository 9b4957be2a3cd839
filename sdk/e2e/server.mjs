// A stand-in for the collector, for testing the SDK alone: serves demo/ at
// /demo/ and dist/ at /sdk/ (as the collector does), and records every
// POST /v1/events, answering like the collector: 202 {"accepted", "rejected"}.
//
//   node e2e/server.mjs [--port 8080] [--key pk_local]
import { readFile } from "node:fs/promises";
import { createServer } from "node:http";
import { extname, join, normalize, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const MOUNTS = { "/demo/": join(ROOT, "demo"), "/sdk/": join(ROOT, "dist") };
const TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".map": "application/json",
  ".css": "text/css",
};
const TYPES_OF_EVENTS = new Set(["thumbs", "rating", "comment", "edit", "copy", "regenerate", "rephrase", "abandon", "dwell"]);

/**
 * Starts the server; resolves to { url, requests, events, rejections, close }.
 * `requests` holds one entry per POST: { contentType, auth, body }; `events`
 * the accepted events; `rejections` the 202's per-item rejections.
 */
export async function startServer({ port = 0, host = "127.0.0.1", key } = {}) {
  const requests = [];
  const events = [];
  const rejections = [];
  const server = createServer((req, res) => {
    handle(req, res).catch((error) => send(res, 500, { error: String(error) }));
  });

  async function handle(req, res) {
    const url = new URL(req.url, "http://local");
    if (req.method === "POST" && url.pathname === "/v1/events") return collect(req, res);
    if (req.method === "GET") return serveFile(url.pathname, res);
    return send(res, 405, { error: "method not allowed" });
  }

  async function collect(req, res) {
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    let body;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
    } catch {
      return send(res, 400, { error: "body is not JSON" });
    }
    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? "")?.[1];
    const auth = bearer ? "header" : body?.api_key ? "body" : "none";
    if (key && (bearer ?? body?.api_key) !== key) return send(res, 401, { error: "unknown key" });
    const items = Array.isArray(body?.events) ? body.events : [body];
    requests.push({ contentType: req.headers["content-type"] ?? "", auth, body });
    const rejected = [];
    items.forEach((item, index) => {
      const errors = validate(item);
      if (errors.length) rejected.push({ index, event_id: item?.event_id, errors });
      else events.push(item);
    });
    rejections.push(...rejected);
    send(res, 202, { accepted: items.length - rejected.length, rejected });
  }

  await new Promise((resolve) => server.listen(port, host, resolve));
  const address = server.address();
  return {
    url: `http://${host}:${address.port}`,
    requests,
    events,
    rejections,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

/** The EVENT rules of docs/contract.md §4 that a client can get wrong. */
function validate(e) {
  const errors = [];
  if (typeof e !== "object" || e === null) return ["event: not an object"];
  if (typeof e.event_id !== "string" || !/^[0-9a-f-]{36}$/i.test(e.event_id)) errors.push("event_id: not a UUID");
  if (!TYPES_OF_EVENTS.has(e.type)) errors.push("type: unknown");
  if (!Number.isInteger(e.timestamp) && typeof e.timestamp !== "string") errors.push("timestamp: required");
  for (const field of e.type === "abandon" ? ["conversation_id"] : ["conversation_id", "trace_id", "message_id"]) {
    if (typeof e[field] !== "string" || !e[field] || e[field].length > 128) errors.push(`${field}: required`);
  }
  if (e.type === "thumbs" && !["up", "down", "none"].includes(e.value)) errors.push("value: up, down or none");
  return errors;
}

async function serveFile(pathname, res) {
  const mount = Object.keys(MOUNTS).find((prefix) => pathname.startsWith(prefix));
  if (!mount) return send(res, 404, { error: "not found" });
  const base = MOUNTS[mount];
  const rel = decodeURIComponent(pathname.slice(mount.length)) || "index.html";
  const file = normalize(join(base, rel));
  if (!file.startsWith(base + sep)) return send(res, 404, { error: "not found" });
  try {
    const data = await readFile(file);
    res.writeHead(200, { "Content-Type": TYPES[extname(file)] ?? "application/octet-stream", "Cache-Control": "no-store" });
    res.end(data);
  } catch {
    send(res, 404, { error: "not found" });
  }
}

function send(res, status, body) {
  res.writeHead(status, { "Content-Type": "application/json" });
  res.end(JSON.stringify(body));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { port: { type: "string", default: "8080" }, key: { type: "string" } } });
  const server = await startServer({ port: Number(values.port), key: values.key });
  const shown = values.key ?? "pk_anything";
  console.error(`serving ${server.url}/demo/?key=${shown} — events are printed below`);
  const seen = new Set();
  setInterval(() => {
    for (const e of server.events) if (!seen.has(e.event_id) && seen.add(e.event_id)) console.log(JSON.stringify(e));
  }, 500);
}
