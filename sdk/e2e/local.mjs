// End-to-end test of the SDK alone: starts the capture server (a stand-in
// for the collector), runs e2e/run.mjs against it exactly as the Python
// suite does, and checks what arrived. Needs a build (npm run build) and
// /usr/bin/chromium.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { startServer } from "./server.mjs";

const KEY = "pk_local_e2e";
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const server = await startServer({ key: KEY });
let passed = 0;
let failed = 0;
try {
  const result = await runScript({ FEEDBACK_URL: server.url, FEEDBACK_PUBLIC_KEY: KEY });
  const mine = () => server.events.filter((e) => e.conversation_id === result.conversation_id);
  await waitFor(() => result.expected.every((want) => mine().some((e) => matches(e, want))), 5000);
  const events = mine();
  console.error(`[e2e:local] received ${events.map((e) => e.type).join(", ")}`);

  check("the script printed the conversation and the expected events", () => {
    assert.match(result.conversation_id, /^e2e-conv-/);
    assert.deepEqual(result.expected.map((e) => e.type), ["thumbs", "copy"]);
  });
  for (const want of result.expected) {
    check(`exactly one ${want.type} event with the page's ids`, () => {
      assert.equal(events.filter((e) => matches(e, want)).length, 1, JSON.stringify(events));
    });
  }
  check("no event arrived twice and every event_id is a UUID", () => {
    const ids = events.map((e) => e.event_id);
    assert.equal(new Set(ids).size, ids.length);
    assert.ok(ids.every((id) => UUID.test(id)));
  });
  check("nothing was rejected and only expected types arrived", () => {
    assert.deepEqual(server.rejections, []);
    const allowed = new Set([...result.expected.map((e) => e.type), ...result.may_also_include]);
    assert.deepEqual(events.filter((e) => !allowed.has(e.type)), []);
  });
  check("fetch batches carry the key as a bearer header, beacons as text/plain with api_key", () => {
    assert.ok(server.requests.length > 0);
    for (const r of server.requests) {
      if (r.auth === "header") assert.match(r.contentType, /application\/json/);
      else {
        assert.equal(r.auth, "body");
        assert.match(r.contentType, /^text\/plain/);
        assert.equal(r.body.api_key, KEY);
      }
      assert.equal(typeof r.body.sent_at, "number");
    }
    assert.ok(server.requests.some((r) => r.auth === "body"), "the page-close flush used sendBeacon");
  });
} finally {
  await server.close();
}
console.log(`e2e:local: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);

function check(name, fn) {
  try {
    fn();
    passed++;
    console.log(`ok - ${name}`);
  } catch (error) {
    failed++;
    console.log(`not ok - ${name}\n  ${String(error.message).split("\n").join("\n  ")}`);
  }
}

/** An event matches an expectation when every expected field is equal. */
function matches(event, want) {
  return Object.entries(want).every(([k, v]) => JSON.stringify(event[k]) === JSON.stringify(v));
}

async function waitFor(predicate, ms) {
  const deadline = Date.now() + ms;
  while (!predicate() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
}

function runScript(env) {
  const script = fileURLToPath(new URL("./run.mjs", import.meta.url));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.on("error", reject);
    child.on("close", (code) => {
      if (code !== 0) return reject(new Error(`run.mjs exited ${code}`));
      const lines = out.trim().split("\n");
      try {
        resolve(JSON.parse(lines[lines.length - 1]));
      } catch {
        reject(new Error(`run.mjs printed no JSON: ${out}`));
      }
    });
  });
}
