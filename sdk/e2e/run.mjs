// Drives the demo chat in headless Chromium like a user would, then prints
// (one JSON line on stdout) which events the collector should now hold.
//
//   FEEDBACK_URL=http://127.0.0.1:8080 FEEDBACK_PUBLIC_KEY=pk_... node e2e/run.mjs
//
// Env: FEEDBACK_URL, FEEDBACK_PUBLIC_KEY (required); FEEDBACK_CONVERSATION
// (default e2e-conv-<uuid>); CHROMIUM_PATH (default /usr/bin/chromium);
// FEEDBACK_E2E_TIMEOUT_MS (default 30000). Logs go to stderr. Exit 0 = the
// page did what the output says; a non-zero exit prints no JSON.
import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve as resolvePath } from "node:path";
import { pathToFileURL } from "node:url";
import { chromium } from "playwright-core";

const ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

export async function run({
  url = process.env.FEEDBACK_URL,
  publicKey = process.env.FEEDBACK_PUBLIC_KEY,
  conversationId = process.env.FEEDBACK_CONVERSATION || `e2e-conv-${randomUUID()}`,
  executablePath = process.env.CHROMIUM_PATH || "/usr/bin/chromium",
  timeout = Number(process.env.FEEDBACK_E2E_TIMEOUT_MS || 30_000),
} = {}) {
  if (!url || !publicKey) throw new Error("FEEDBACK_URL and FEEDBACK_PUBLIC_KEY are required");
  const profile = await mkdtemp(join(tmpdir(), "feedback-e2e-"));
  const browser = await chromium.launchPersistentContext(profile, { executablePath, headless: true, args: ARGS, timeout });
  try {
    const page = browser.pages()[0] ?? (await browser.newPage());
    page.setDefaultTimeout(timeout);
    page.on("console", (msg) => log(`page console.${msg.type()}: ${msg.text()}`));
    page.on("pageerror", (error) => log(`page error: ${error.message}`));

    const demo = new URL("/demo/", url);
    demo.searchParams.set("key", publicKey);
    demo.searchParams.set("conversation", conversationId);
    log(`opening ${demo}`);
    await page.goto(demo.href);

    const answer = page.locator('.message.assistant[data-state="complete"]').first();
    await answer.waitFor();
    const ids = await answer.evaluate((el) => ({ ...el.dataset }));
    const shownConversation = (await page.locator("#conversation-id").textContent())?.trim();
    if (shownConversation !== conversationId || ids.conversationId !== conversationId) {
      throw new Error(`page shows conversation ${shownConversation}, expected ${conversationId}`);
    }

    // 👎, then the reason chip.
    const widget = page.getByRole("group", { name: "Rate this response" }).first();
    await widget.getByRole("button", { name: "Bad response" }).click();
    await widget.locator('[data-reason="hallucinated"]').click();
    const pressed = await widget.getByRole("button", { name: "Bad response" }).getAttribute("aria-pressed");
    if (pressed !== "true") throw new Error("👎 is not pressed after the click");

    // Select the first sentence of the answer and copy it with the keyboard.
    const copiedChars = await copySelection(page, answer);

    const errors = await page.evaluate(() => (window.feedbackDemo?.errors ?? []).map((e) => `${e.kind}: ${e.message}`));
    errors.forEach((e) => log(`sdk reported ${e}`));

    // Leave: pagehide commits the pending rating and beacons the queue.
    const closed = new Promise((resolve) => page.once("close", resolve));
    await page.close({ runBeforeUnload: true });
    await closed;
    await new Promise((resolve) => setTimeout(resolve, 1000)); // let the beacon go out
    const expect = { conversation_id: conversationId, trace_id: ids.traceId, message_id: ids.messageId };
    return {
      conversation_id: conversationId,
      trace_id: ids.traceId,
      message_id: ids.messageId,
      expected: [
        { type: "thumbs", value: "down", reasons: ["hallucinated"], ...expect },
        { type: "copy", copied_chars: copiedChars, ...expect },
      ],
      may_also_include: ["dwell"],
    };
  } finally {
    await browser.close().catch(() => {});
    await rm(profile, { recursive: true, force: true }).catch(() => {});
  }
}

/** Selects the answer's first sentence, presses Ctrl+C and checks the page saw a copy. */
async function copySelection(page, answer) {
  const selected = await answer.evaluate((el) => {
    const text = el.firstChild;
    const end = text.textContent.indexOf(".") + 1;
    const range = document.createRange();
    range.setStart(text, 0);
    range.setEnd(text, end);
    const selection = getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    window.__e2eCopies = 0;
    document.addEventListener("copy", () => window.__e2eCopies++);
    return selection.toString();
  });
  await page.keyboard.press("Control+C");
  await page.waitForFunction(() => window.__e2eCopies > 0, null, { timeout: 5000 });
  return [...selected].length;
}

function log(message) {
  process.stderr.write(`[e2e] ${message}\n`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolvePath(process.argv[1])).href) {
  try {
    const result = await run();
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } catch (error) {
    log(`failed: ${error?.stack ?? error}`);
    process.exit(1);
  }
}
